"""Would HDBSCAN after a fine-tuned MIRO beat the DBSCAN that ``MIROClusterer`` chooses?

DBSCAN cuts the collapsed points at one density; clusters the network leaves
half-collapsed and touching (blinking 5 merges 100 true clusters into 82) might
be split by HDBSCAN's density hierarchy. For a row of ``quality.py``, the default
fit of a seed (deterministic, so the quality table's model) is kept; HDBSCAN
(scikit-learn's) is searched on the training FOVs over one or two passes of the
network, ``min_cluster_size``, ``min_samples`` and the "eom" / "leaf" selection,
scored as the estimator scores (the mean of ARI-dagger, JI_c and AMI, after the
fitted trimming radius), and compared with the fitted DBSCAN's score on the same
FOVs. Both are then scored on the test FOVs. A choice between the two would take
HDBSCAN only where its training score is higher.

    OMP_NUM_THREADS=1 python benchmarks/hdbscan_after_miro.py MB-S5 MB-S6 --seeds 0
    HDB_MIN_SAMPLES=20,30,50,80,120,160 HDB_MIN_CLUSTER_SIZES=4,6,10,20,40 \
        OMP_NUM_THREADS=1 python benchmarks/hdbscan_after_miro.py MB-S5 --seeds 0 --output F.json

The JSON of ``--output`` keeps every candidate's training score (``grid_scores``).
"""

import itertools
import os
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.cluster import HDBSCAN

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(1, str(Path(__file__).resolve().parent))
import quality  # noqa: E402

from sklearn_miro.clustering import stack_fov_labels, trim_clusters  # noqa: E402
from sklearn_miro.estimators import collapse_repeatedly  # noqa: E402
from sklearn_miro.metrics import ari_dagger_ji_c_ami  # noqa: E402


def grid_from_env(name, default):
    """A grid given as comma-separated integers in the environment variable ``name``, or ``default``."""
    value = os.environ.get(name)
    return tuple(int(v) for v in value.split(",")) if value else default


# HDB_MIN_CLUSTER_SIZES / HDB_MIN_SAMPLES replace the grids (the wide grid's
# best min_samples on blinking 5 was its edge, 50).
MIN_CLUSTER_SIZES = grid_from_env("HDB_MIN_CLUSTER_SIZES",
                                  (3, 4, 5, 6, 8, 10, 12, 15, 20, 25, 30, 40, 50, 70, 100, 150, 200))
MIN_SAMPLES = grid_from_env("HDB_MIN_SAMPLES", (1, 2, 3, 5, 8, 12, 20, 30, 50))
SELECTION = ("eom", "leaf")


def hdbscan_labels(points, min_cluster_size, min_samples, selection):
    if len(points) < 2:
        return np.full(len(points), -1)
    return HDBSCAN(min_cluster_size=min_cluster_size, min_samples=min_samples,
                   cluster_selection_method=selection, copy=True).fit_predict(points)


def split(X, y, groups):
    return [np.flatnonzero(groups == g) for g in np.unique(groups)]


def run(name, seed, n_test):
    data, fitted, fit_cpu = quality.fit_default_clusterer(name, seed, n_test)
    Xtr, ytr, gtr = data["train"]
    Xte, yte, gte = data["test"]
    radius = fitted.outlier_radius_
    train = split(Xtr, ytr, gtr)
    # predict trims with the fitted radius already.
    dbscan_train = float(np.mean([ari_dagger_ji_c_ami(Xtr[i], ytr[i], fitted.predict(Xtr[i])) for i in train]))
    cpu = time.process_time()
    best_score, best, grid_scores = -np.inf, None, []
    for passes in (1, 2):
        collapsed = [collapse_repeatedly(fitted.transformer_, Xtr[i], passes) for i in train]
        for params in itertools.product(MIN_CLUSTER_SIZES, MIN_SAMPLES, SELECTION):
            score = float(np.mean([ari_dagger_ji_c_ami(Xtr[i], ytr[i], trim_clusters(Xtr[i], hdbscan_labels(P, *params), radius))
                                   for i, P in zip(train, collapsed)]))
            grid_scores.append([passes, *params, score])
            if score > best_score:
                best_score, best = score, (passes, *params)
    search_cpu = time.process_time() - cpu
    passes, *params = best
    test = split(Xte, yte, gte)
    labels = stack_fov_labels(test, [hdbscan_labels(collapse_repeatedly(fitted.transformer_, Xte[i], passes), *params)
                                     for i in test], len(Xte))
    return {"scenario": name, "seed": seed, "fit_cpu_s": fit_cpu, "search_cpu_s": search_cpu,
            "dbscan": {"train_score": dbscan_train, "passes": int(fitted.collapse_passes_), "eps": float(fitted.eps_),
                       "min_samples": int(fitted.min_samples_),
                       **quality.probe_test_scores(fitted, Xte, yte, gte)[0]},
            "hdbscan": {"train_score": best_score, "passes": int(passes), "min_cluster_size": int(params[0]),
                        "min_samples": int(params[1]), "selection": params[2],
                        **quality.mean_scores(Xte, yte, gte, trim_clusters(Xte, labels, radius))},
            # every candidate's training score: (passes, min_cluster_size, min_samples, selection, score)
            "grid_scores": grid_scores}


def report(result):
    print(f"{result['scenario']} seed {result['seed']} (fit {result['fit_cpu_s'] / 60:.2f} CPU-min, "
          f"HDBSCAN search {result['search_cpu_s'] / 60:.2f} CPU-min)")
    for method in ("dbscan", "hdbscan"):
        v = result[method]
        choice = {k: v[k] for k in v if k not in ("train_score", "ari_dagger", "ji_c", "rmsre_n")}
        print(f"  {method:8s} training score {v['train_score']:.3f} {choice}: test ARI† {v['ari_dagger']:.3f} "
              f"JI_c {v['ji_c']:.3f} RMSRE_N {v['rmsre_n']:.3f}", flush=True)


if __name__ == "__main__":
    quality.run_probe(__doc__, run, report)
