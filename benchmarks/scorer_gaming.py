"""Why ARI-dagger alone misleads a DBSCAN grid search, measured on benchmark FOVs.

Grid-searches plain DBSCAN (eps x min_samples) on the reference's training FOVs
of a benchmark scenario and prints the parameters each score picks, with
ARI-dagger, JI_c and the number of predicted clusters on the test FOVs.

    python benchmarks/scorer_gaming.py blinking/scenario_2 --n-test 10
"""

import argparse
from pathlib import Path

import numpy as np
from sklearn.cluster import DBSCAN

from sklearn_miro.io import load_benchmark
from sklearn_miro.metrics import ami, ari_dagger, jaccard_cluster_index

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "nieves2023"


def scores(bench, fovs, eps, ms):
    out = []
    for f in fovs:
        idx = bench.groups == f
        X, y = bench.X[idx], bench.y[idx]
        pred = DBSCAN(eps=eps, min_samples=ms).fit_predict(X)
        out.append((ari_dagger(y, pred), jaccard_cluster_index(X, y, pred), ami(y, pred),
                    len(np.unique(pred[pred >= 0])), len(np.unique(y[y >= 0]))))
    return np.mean(out, axis=0)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("scenario", nargs="?", default="blinking/scenario_2")
    parser.add_argument("--n-test", type=int, default=10)
    args = parser.parse_args()
    bench = load_benchmark(DATA / args.scenario)
    train = list(bench.train_fov_numbers)
    test = list(bench.test_fov_numbers)[: args.n_test]
    grid = [(eps, ms) for eps in (10, 15, 20, 30, 40, 50, 60, 80) for ms in (2, 3, 4, 6, 8, 12, 16, 24, 35, 50)]
    table = np.array([scores(bench, train, eps, ms) for eps, ms in grid])
    picks = {
        "ARI-dagger": int(np.argmax(table[:, 0])),
        "JI_c": int(np.argmax(table[:, 1])),
        "mean of ARI-dagger and JI_c (`ari_dagger_ji_c`)": int(np.argmax(table[:, :2].mean(axis=1))),
        "mean of ARI-dagger, JI_c and AMI (`miro_scorer`)": int(np.argmax(table[:, :3].mean(axis=1))),
    }
    print(f"{args.scenario}: grid search on training FOVs {train}, scored on {len(test)} test FOVs")
    print("| chosen by | eps | min_samples | ARI-dagger (test) | JI_c (test) | clusters found / true |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, i in picks.items():
        eps, ms = grid[i]
        a, j, _, n_pred, n_true = scores(bench, test, eps, ms)
        print(f"| {name} | {eps} | {ms} | {a:.3f} | {j:.3f} | {n_pred:.0f} / {n_true:.0f} |")


if __name__ == "__main__":
    main()
