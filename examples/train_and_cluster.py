"""Train MIRO on three labelled benchmark FOVs and cluster new ones.

The workflow of a scientist with a few annotated fields of view (FOVs), on
ground-truth scenario 6 of the benchmark of Nieves et al. (elliptical
clusters): train MIROTransformer on them, collapse a new FOV and cluster it
with DBSCAN in a scikit-learn Pipeline, wrap the trained transformer in a
MIROClusterer without retraining it, save that with joblib (a pickle, fine
for your own files; to share a model use sklearn_miro.save_model, whose
.miro files load without unpickling), then score MIRO and plain DBSCAN on
held-out FOVs. (``tests/test_acceptance.py`` runs the core issue's
acceptance snippet itself.)

    python examples/train_and_cluster.py [--output-dir DIR] [--n-test 10]

Needs ../shared (the benchmark data) beside the project, or
$SKLEARN_MIRO_SHARED. Training with the default settings takes about 3
CPU-minutes (5 minutes on one thread of a busy 2-core machine).
"""

import argparse
import os
import sys
from pathlib import Path

import joblib
import numpy as np
from sklearn.cluster import DBSCAN
from sklearn.frozen import FrozenEstimator
from sklearn.pipeline import Pipeline

from sklearn_miro import MIROClusterer, MIROTransformer
from sklearn_miro.io import load_benchmark
from sklearn_miro.metrics import clustering_report

# The paper's data: ../shared beside the project, or $SKLEARN_MIRO_SHARED.
SHARED = Path(os.environ.get("SKLEARN_MIRO_SHARED", Path(__file__).resolve().parents[1].parent / "shared"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output-dir", default=".")
    parser.add_argument("--n-test", type=int, default=10, help="test FOVs to score")
    args = parser.parse_args()
    folder = SHARED / "data" / "nieves2023" / "ground_truth" / "scenario_6"
    if not folder.is_dir():
        sys.exit(f"This example needs the benchmark data at {folder}.")
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)

    bench = load_benchmark(folder)
    train = bench.train_mask
    # X, y, fov: the 3 training FOVs (benchmark index 0 mapped to -1); X_test: one test FOV
    X, y, fov = bench.X[train], bench.y[train], bench.groups[train]
    X_test = bench.X[bench.groups == bench.test_fov_numbers[0]]

    miro = MIROTransformer(random_state=0).fit(X, y, groups=fov)  # each FOV its own graph
    Xc = miro.transform(X_test)                     # shape (n, 2), nm
    # The drop-in scikit-learn form, one FOV at a time; FrozenEstimator: fit retrains nothing.
    # (Pipeline([("miro", MIROTransformer()), ("dbscan", DBSCAN(...))]).fit_predict(X, y) trains
    # inside the Pipeline; on several FOVs at once DBSCAN would see them on top of each other.)
    labels = Pipeline([("miro", FrozenEstimator(miro)), ("dbscan", DBSCAN(eps=16, min_samples=10))]).fit_predict(X_test)
    # MIROClusterer clusters every FOV on its own; with a frozen transformer it trains nothing.
    clu = MIROClusterer(transformer=FrozenEstimator(miro), eps=16, min_samples=10).fit(X, y, groups=fov)
    joblib.dump(clu, out / "m.joblib")
    assert (joblib.load(out / "m.joblib").predict(X_test) == clu.predict(X_test)).all()
    print(f"trained in {miro.training_time_:.0f} s; transform output {Xc.shape}; "
          f"{len(np.unique(labels[labels >= 0]))} clusters in the test FOV with eps=16, min_samples=10; "
          f"saved {out / 'm.joblib'}")

    # Scores on held-out FOVs: MIRO with DBSCAN parameters chosen on the
    # training FOVs, and plain DBSCAN with the benchmark's parameters.
    tuned = MIROClusterer(FrozenEstimator(miro)).fit(X, y, groups=fov)
    test_fovs = bench.test_fov_numbers[: args.n_test]
    mask = np.isin(bench.groups, test_fovs)
    Xt, yt, gt = bench.X[mask], bench.y[mask], bench.groups[mask]
    labels_dbscan = np.empty(len(Xt), dtype=int)
    for g in test_fovs:  # every FOV clustered on its own
        labels_dbscan[gt == g] = DBSCAN(eps=30, min_samples=6).fit_predict(Xt[gt == g])  # paper Table S1
    reports = {
        # The choices made on the training FOVs: DBSCAN's parameters, the
        # number of collapse passes, DBSCAN or DBSCAN* (border points as
        # background), and the Mahalanobis radius the clusters are trimmed to.
        f"MIRO (eps={tuned.eps_:.1f}, min_samples={tuned.min_samples_}, {tuned.collapse_passes_} pass(es), "
        f"{'DBSCAN*' if tuned.border_points_ == 'background' else 'DBSCAN'}, "
        f"{'untrimmed' if tuned.outlier_radius_ is None else f'trimmed at {tuned.outlier_radius_:g}'})": clustering_report(
            Xt, yt, tuned.predict(Xt, groups=gt), groups=gt
        ),
        "DBSCAN (eps=30, min_samples=6)": clustering_report(Xt, yt, labels_dbscan, groups=gt),
    }
    columns = ["ari_dagger", "iou", "ji_c", "rmsre_n"]
    print(f"\nmean over {len(test_fovs)} test FOVs:")
    width = max(map(len, reports)) + 2  # the MIRO label grew with every choice it reports
    for name, report in reports.items():
        print(f"  {name:<{width}}" + "  ".join(f"{c}={report[c].mean():.3f}" for c in columns))


if __name__ == "__main__":
    main()
