"""Can plain DBSCAN on what MIRO + DBSCAN left as noise rescue the clusters the network missed?

The fifteenth and seventeenth sessions found that where MIRO + DBSCAN loses
ARI-dagger to plain DBSCAN (blinking 6, simulated 7 with blinking), the
localisations it misses are ones the network did not move at all: whole
sparse clusters, or the ends of ellipses. No DBSCAN choice on the collapsed
points can bring them back. This probe tries a second stage on the original
coordinates: plain DBSCAN (``eps2``, ``min_samples2``) on the localisations
the first stage labelled noise only; its clusters are added with new ids.

For each scenario and seed it fits ``MIROClusterer`` with its defaults
(deterministic: the quality table's model) and prints, on the test FOVs:

* MIRO + DBSCAN as fitted (the table's labels);
* plain DBSCAN as ``quality.py`` runs it;
* the rescue with (``eps2``, ``min_samples2``) chosen on the training FOVs by
  the estimator's own score (mean of ARI-dagger, JI_c and AMI), "none" being a
  candidate (a rule a user could run);
* the best rescue on the test FOVs themselves by the same score (a bound,
  not a method).

The grid is plain DBSCAN's in ``quality.py`` (MIRO's eps fractions of the
connectivity radius, ``min_samples`` up to the median training cluster size).

    OMP_NUM_THREADS=1 python benchmarks/noise_rescue.py sim7b MB-S6 --seeds 0 --n-test 10
"""

import sys
import time
from pathlib import Path

import numpy as np
from sklearn.cluster import DBSCAN

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(1, str(Path(__file__).resolve().parent))
import quality  # noqa: E402

from sklearn_miro.clustering import cluster_fov, stack_fov_labels  # noqa: E402
from sklearn_miro.estimators import collapse_repeatedly  # noqa: E402
from sklearn_miro.metrics import ari_dagger_ji_c_ami  # noqa: E402


def first_stage(miro, X, g):
    """MIRO + DBSCAN labels of every FOV (as ``predict``), per FOV."""
    out = []
    for f in np.unique(g):
        m = g == f
        moved = collapse_repeatedly(miro.transformer_, X[m], miro.collapse_passes_)
        out.append(cluster_fov(miro.clusterer_, moved))
    return out


def rescue(X_fov, labels, eps, min_samples):
    """``labels`` with plain DBSCAN's clusters of its noise localisations added under new ids."""
    noise = labels < 0
    if eps is None or noise.sum() < min_samples:
        return labels
    extra = DBSCAN(eps=eps, min_samples=min_samples).fit_predict(X_fov[noise])
    out = labels.copy()
    found = extra >= 0
    out[np.flatnonzero(noise)[found]] = extra[found] + labels.max() + 1
    return out


def candidates(data, radius):
    eps_grid, ms_grid = quality.dbscan_grid(data["train"], radius)
    return [(None, None)] + [(float(e), int(m)) for e in eps_grid for m in ms_grid]


def choice_scores(X, y, g, first, cands):
    """Estimator's score (mean over FOVs) of every rescue candidate."""
    fovs = [(X[g == f], y[g == f]) for f in np.unique(g)]
    return np.array([np.mean([ari_dagger_ji_c_ami(Xf, yf, rescue(Xf, lab, e, m))
                              for (Xf, yf), lab in zip(fovs, first)]) for e, m in cands])


def stack(g, per_fov):
    """One label vector (ids unique across FOVs) from per-FOV labels in ``np.unique(g)`` order."""
    return stack_fov_labels([np.flatnonzero(g == f) for f in np.unique(g)], per_fov, len(g))


def run(name, seed, n_test):
    data, miro, fit_cpu = quality.fit_default_clusterer(name, seed, n_test)
    radius = miro.transformer_.connectivity_radius_
    cands = candidates(data, radius)
    Xtr, ytr, gtr = data["train"]
    Xte, yte, gte = data["test"]
    cpu = time.process_time()
    train_first = first_stage(miro, Xtr, gtr)
    train_scores = choice_scores(Xtr, ytr, gtr, train_first, cands)
    pick = int(np.argmax(train_scores))  # argmax keeps the first of ties: "none"
    test_first = first_stage(miro, Xte, gte)
    test_scores = choice_scores(Xte, yte, gte, test_first, cands)
    best = int(np.argmax(test_scores))
    fovs = [Xte[gte == f] for f in np.unique(gte)]

    def scores(i):
        e, m = cands[i]
        return quality.mean_scores(Xte, yte, gte, stack(gte, [rescue(Xf, lab, e, m)
                                                                for Xf, lab in zip(fovs, test_first)]))

    params = data["dbscan"]
    if params == "tuned":
        params = quality.tuned_dbscan(data["train"], radius)
    plain = stack(gte, [DBSCAN(**params).fit_predict(Xf) for Xf in fovs])
    result = {
        "scenario": name, "seed": seed, "n_test": len(fovs), "fit_cpu_min": fit_cpu / 60,
        "miro": scores(0), "plain_dbscan": {**quality.mean_scores(Xte, yte, gte, plain), "params": params},
        "rescue_pick": {**scores(pick), "eps2": cands[pick][0], "min_samples2": cands[pick][1],
                        "train_score": float(train_scores[pick]), "train_score_none": float(train_scores[0])},
        "rescue_test_best": {**scores(best), "eps2": cands[best][0], "min_samples2": cands[best][1],
                             "test_score": float(test_scores[best]), "test_score_none": float(test_scores[0])},
        "probe_cpu_s": time.process_time() - cpu,
    }
    return result


def report(r):
    name, seed = r["scenario"], r["seed"]
    for key in ("miro", "plain_dbscan", "rescue_pick", "rescue_test_best"):
        s = r[key]
        extra = f" eps2 {s['eps2']} ms2 {s['min_samples2']}" if "eps2" in s else ""
        print(f"{name} seed {seed} {key:17s}: ARI† {s['ari_dagger']:.3f} JI_c {s['ji_c']:.3f} "
              f"RMSRE_N {s['rmsre_n']:.3f}{extra}", flush=True)
    print(f"  train score none {r['rescue_pick']['train_score_none']:.4f} "
          f"pick {r['rescue_pick']['train_score']:.4f}; test none "
          f"{r['rescue_test_best']['test_score_none']:.4f} best {r['rescue_test_best']['test_score']:.4f}; "
          f"fit {r['fit_cpu_min']:.1f} CPU-min, probe {r['probe_cpu_s']:.0f} CPU-s", flush=True)


def main():
    quality.run_probe(__doc__, run, report)


if __name__ == "__main__":
    main()
