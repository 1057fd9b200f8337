"""Where MIRO + DBSCAN loses against plain DBSCAN, by the size of the true clusters.

For a saved transformer (``quality.py ROW --save-models DIR``), the clusterer's choice after
the network is rerun on the training FOVs with the network frozen (the choice is
deterministic, so these are the quality table's clusters), and plain DBSCAN runs with the
parameters the row uses (the benchmark's for GT/MB rows, tuned on the training FOVs for the
simulated ones). Every true cluster of the test FOVs is then put in the narrow or the wide half
(split at the median RMS radius) and described, per method, by the mean over clusters of:

* ``background``: the share of its localisations left as noise;
* ``main``: the share in its main predicted cluster (the one holding most of them);
* ``split``: whether at least two predicted clusters hold 20 % of it each;
* ``merged``: whether its main predicted cluster also holds 20 % of another true cluster;
* ``purity``: the share of the main predicted cluster's localisations that are its own.

    OMP_NUM_THREADS=1 python benchmarks/cluster_width_split.py sim7b DIR/sim7b_seed0_default.joblib

Written for the fortieth session's question (where simulated 7 with blinking loses ARI†).
"""

import argparse
import sys
import warnings
from pathlib import Path

import joblib
import numpy as np
from sklearn.cluster import DBSCAN
from sklearn.frozen import FrozenEstimator

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(1, str(Path(__file__).resolve().parent))
import quality  # noqa: E402

from sklearn_miro import MIROClusterer  # noqa: E402
from sklearn_miro.metrics import ari_dagger  # noqa: E402

SHARE = 0.2


def describe(y_true, y_pred, X):
    """One row per true cluster: (RMS radius, size, background, main, split, merged, purity)."""
    rows = []
    for k in np.unique(y_true[y_true >= 0]):
        mine = y_true == k
        rms = np.sqrt(((X[mine] - X[mine].mean(axis=0)) ** 2).sum(axis=1).mean())
        predicted = y_pred[mine]
        ids, counts = np.unique(predicted[predicted >= 0], return_counts=True)
        main = ids[np.argmax(counts)] if len(ids) else -1
        merged, purity = False, np.nan
        if main >= 0:
            in_main = y_pred == main
            others, shared = np.unique(y_true[in_main & (y_true >= 0) & ~mine], return_counts=True)
            sizes = np.array([np.sum(y_true == o) for o in others])
            merged = bool(np.any(shared >= SHARE * sizes)) if len(others) else False
            purity = float(np.mean(y_true[in_main] == k))
        rows.append((rms, mine.sum(), np.mean(predicted < 0), counts.max() / mine.sum() if len(ids) else 0.0,
                     np.sum(counts >= SHARE * mine.sum()) >= 2, merged, purity))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenario")
    parser.add_argument("model", help="joblib file of a fitted MIROTransformer (quality.py --save-models)")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=RuntimeWarning)
    data = quality.load_scenario(args.scenario)
    (Xtr, ytr, gtr), (X, y, g) = data["train"], data["test"]
    clusterer = MIROClusterer(FrozenEstimator(joblib.load(args.model))).fit(Xtr, ytr, groups=gtr)
    params = data["dbscan"]
    if params == "tuned":
        params = quality.tuned_dbscan(data["train"], clusterer.transformer_.connectivity_radius_)
    print(f"MIRO: eps {clusterer.eps_:.1f}, min_samples {clusterer.min_samples_}; "
          f"DBSCAN: eps {params['eps']:.1f}, min_samples {params['min_samples']}")
    rows, scores = {"MIRO": [], "DBSCAN": []}, {"MIRO": [], "DBSCAN": []}
    for f in np.unique(g):
        P, truth = X[g == f], y[g == f]
        for method, labels in (("MIRO", clusterer.predict(P)),
                               ("DBSCAN", DBSCAN(eps=params["eps"], min_samples=params["min_samples"]).fit_predict(P))):
            rows[method] += describe(truth, labels, P)
            scores[method].append(ari_dagger(truth, labels, variant="reference"))
    print("| method | half | clusters | RMS radius | localisations | background | main | split | merged | purity |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for method, table in rows.items():
        table = np.array(table, dtype=float)
        median = np.median(table[:, 0])
        for half, keep in (("narrow", table[:, 0] < median), ("wide", table[:, 0] >= median)):
            t = table[keep]
            print(f"| {method} (ARI† {np.mean(scores[method]):.3f}) | {half} | {len(t)} | {t[:, 0].mean():.0f} | "
                  f"{t[:, 1].mean():.0f} | {t[:, 2].mean():.3f} | {t[:, 3].mean():.3f} | {t[:, 4].mean():.3f} | "
                  f"{t[:, 5].mean():.3f} | {np.nanmean(t[:, 6]):.3f} |", flush=True)


if __name__ == "__main__":
    main()
