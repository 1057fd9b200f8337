"""Choosing DBSCAN after MIRO on FOVs the network was not trained on (cross-fitting).

``MIROClusterer`` chooses its DBSCAN parameters, passes, border-point rule and
trimming radius on the labelled FOVs the network was fine-tuned on. There the
network collapses better than on new FOVs (training against test compression:
0.196 / 0.227 on simulated 10 with blinking), so the choice may suit a
tighter collapse than the test FOVs get. This probe asks whether a choice
made on collapses of FOVs the network has not seen does better:

* the default fit (the quality table's model) and its test scores;
* for every training FOV k, a transformer fitted with the same defaults and
  seed on the other training FOVs collapses FOV k (1 and 2 passes);
* the same choice as ``MIROClusterer.fit`` (each number of passes and border
  rule gets its eps / min_samples search with the estimator's score, a tie
  goes to fewer passes and to DBSCAN; then the trimming radius) made on
  those held-out collapses;
* that choice applied to the default fit's network on the test FOVs.

    OMP_NUM_THREADS=1 python benchmarks/crossfit_choice.py MB-S6 sim10b --seeds 0 --output out.json

Needs at least 2 training FOVs (not the single-shot rows, whose training FOVs
are copies of one cluster). The held-out fits cost one fine-tuning each.
"""

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(1, str(Path(__file__).resolve().parent))
import quality  # noqa: E402

from sklearn_miro import MIROTransformer  # noqa: E402
from sklearn_miro.clustering import (  # noqa: E402
    AUTO_OUTLIER_RADII, choose_dbscan_parameters, dbscan_template, stack_fov_labels, transformer_radius,
    trim_clusters,
)
from sklearn_miro.estimators import collapse_repeatedly  # noqa: E402
from sklearn_miro.metrics import ari_dagger_ji_c_ami  # noqa: E402


def choose(X_fovs, y_fovs, collapsed_by_passes, radius):
    """``MIROClusterer``'s choice on given collapses: passes, border rule, eps, min_samples, radius."""
    best = None
    for passes, collapsed in collapsed_by_passes.items():
        for core_only in (False, True):
            eps, ms, scores, _, _ = choose_dbscan_parameters(
                X_fovs, collapsed, y_fovs, radius, "auto", "auto", score=ari_dagger_ji_c_ami, core_only=core_only)
            score = float(np.max(scores))
            # strict > keeps the first of equal scores: fewer passes, then DBSCAN
            if best is None or score > best["score"]:
                best = dict(passes=passes, core_only=core_only, eps=float(eps), min_samples=int(ms), score=score)
    clusterer = dbscan_template(best["eps"], best["min_samples"], core_only=best["core_only"])
    labels = [clusterer.fit_predict(c) for c in collapsed_by_passes[best["passes"]]]
    radius_scores = {
        r: float(np.mean([ari_dagger_ji_c_ami(X, y, trim_clusters(X, lab, r))
                          for X, y, lab in zip(X_fovs, y_fovs, labels)]))
        for r in AUTO_OUTLIER_RADII
    }
    best["outlier_radius"] = max(radius_scores, key=radius_scores.get)
    return best


def collapsed_once_and_twice(transformer, X_fov):
    """``{1: one pass, 2: two passes}`` of ``transformer`` on one FOV (the second on the first's output)."""
    once = collapse_repeatedly(transformer, X_fov, 1)
    return {1: once, 2: collapse_repeatedly(transformer, once, 1, collapsed=True)}


def test_scores(transformer, choice, Xte, yte, gte):
    clusterer = dbscan_template(choice["eps"], choice["min_samples"], core_only=choice["core_only"])
    fov_indices = [np.flatnonzero(gte == f) for f in np.unique(gte)]
    fov_labels = [
        trim_clusters(Xte[idx], clusterer.fit_predict(collapse_repeatedly(transformer, Xte[idx], choice["passes"])),
                      choice["outlier_radius"])
        for idx in fov_indices
    ]
    return quality.mean_scores(Xte, yte, gte, stack_fov_labels(fov_indices, fov_labels, len(Xte)))


def run(name, seed, n_test):
    data, miro, fit_cpu = quality.fit_default_clusterer(name, seed, n_test)
    Xtr, ytr, gtr = data["train"]
    Xte, yte, gte = data["test"]
    default_choice = dict(passes=miro.collapse_passes_, core_only=miro.border_points_ == "background",
                          eps=float(miro.eps_), min_samples=int(miro.min_samples_),
                          outlier_radius=miro.outlier_radius_)
    default = quality.mean_scores(Xte, yte, gte, miro.predict(Xte, groups=gte))
    fovs = np.unique(gtr)
    if len(fovs) < 2:
        raise ValueError(f"{name}: cross-fitting needs at least 2 training FOVs")
    cpu = time.process_time()
    X_fovs, y_fovs, held = [], [], {1: [], 2: []}
    for f in fovs:
        rest = gtr != f
        t = MIROTransformer(random_state=seed, verbose=0).fit(Xtr[rest], ytr[rest], groups=gtr[rest])
        X_fovs.append(Xtr[gtr == f])
        y_fovs.append(ytr[gtr == f])
        for passes, moved in collapsed_once_and_twice(t, X_fovs[-1]).items():
            held[passes].append(moved)
    held_fit_cpu = time.process_time() - cpu
    crossfit_choice = choose(X_fovs, y_fovs, held, transformer_radius(miro.transformer_))
    crossfit = test_scores(miro.transformer_, crossfit_choice, Xte, yte, gte)
    # The same choice code on the training collapses of the full network: it must give the default.
    own_fovs = [collapsed_once_and_twice(miro.transformer_, X) for X in X_fovs]
    own = {p: [fov[p] for fov in own_fovs] for p in (1, 2)}
    own_choice = choose(X_fovs, y_fovs, own, transformer_radius(miro.transformer_))
    return dict(scenario=name, seed=seed, n_test=len(np.unique(gte)), fit_cpu_min=fit_cpu / 60,
                held_out_fits_cpu_min=held_fit_cpu / 60, default_choice=default_choice, default=default,
                own_choice_check=own_choice, crossfit_choice=crossfit_choice, crossfit=crossfit,
                plain_dbscan_rule=str(data["dbscan"]))


def fmt(s):
    return f"{s['ari_dagger']:.3f} / {s['ji_c']:.3f} / {s['rmsre_n']:.3f}"


def fmt_choice(c):
    return (f"{c['passes']}p {'DBSCAN*' if c['core_only'] else 'DBSCAN'} eps {c['eps']:.1f} ms {c['min_samples']} "
            f"r {c['outlier_radius']}")


def report(r):
    print(f"| {r['scenario']} | {r['seed']} | {fmt_choice(r['default_choice'])}: {fmt(r['default'])} "
          f"| {fmt_choice(r['crossfit_choice'])}: {fmt(r['crossfit'])} | check {fmt_choice(r['own_choice_check'])} "
          f"| {r['fit_cpu_min']:.1f} + {r['held_out_fits_cpu_min']:.1f} CPU min |", flush=True)


if __name__ == "__main__":
    quality.run_probe(__doc__, run, report)
