"""The three plots of sklearn_miro.plotting on simulated data.

Simulates FOVs of benchmark scenario 8 with blinking, clusters them with
DBSCAN (the benchmark's parameters), and compares with DBSCAN run after an
*idealised* collapse that moves every clustered localisation 90 % of the way
to its true cluster centre: a stand-in for what a trained MIRO model does,
so that this example needs no training. Writes

* ``clusters.png``: DBSCAN | collapsed + DBSCAN | ground truth (paper Fig. 2);
* ``displacements.png``: original and collapsed localisations with arrows;
* ``metrics.png``: per-FOV box plots of the paper's metrics (ARI-dagger, IoU,
  JI_c, RMSRE_N) for both methods, from ``sklearn_miro.metrics.clustering_report``.

Usage::

    python examples/plot_clusters.py [OUTPUT_DIR] [--n-fovs N]
"""

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
from sklearn.cluster import DBSCAN  # noqa: E402

from sklearn_miro.datasets import make_benchmark_scenario  # noqa: E402
from sklearn_miro.metrics import clustering_report  # noqa: E402
from sklearn_miro.plotting import plot_clusters, plot_displacements, plot_metrics  # noqa: E402


def idealised_collapse(X, y, fraction=0.9):
    """Move clustered points `fraction` of the way to their cluster's centroid."""
    clustered = y >= 0
    ids, member = np.unique(y[clustered], return_inverse=True)
    sums = np.zeros((ids.size, 2))
    np.add.at(sums, member, X[clustered])
    centers = sums / np.bincount(member)[:, None]
    moved = X.copy()
    moved[clustered] += fraction * (centers[member] - X[clustered])
    return moved


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output_dir", nargs="?", default=".", help="where to write the PNGs")
    parser.add_argument("--n-fovs", type=int, default=10)
    args = parser.parse_args()
    output_dir = Path(args.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)

    X, y, fov = make_benchmark_scenario(8, blinking=True, n_fovs=args.n_fovs, random_state=0)
    predictions = {"DBSCAN": np.empty_like(y), "collapsed + DBSCAN": np.empty_like(y)}
    for f in range(args.n_fovs):
        in_fov = fov == f
        X_fov, y_fov = X[in_fov], y[in_fov]
        X_collapsed = idealised_collapse(X_fov, y_fov)
        # Paper Table S1, scenario 8 with blinking: DBSCAN eps 50 nm, minPts 27;
        # after MIRO eps 20, minPts 30.
        plain = DBSCAN(eps=50, min_samples=27).fit_predict(X_fov)
        collapsed = DBSCAN(eps=20, min_samples=30).fit_predict(X_collapsed)
        predictions["DBSCAN"][in_fov] = plain
        predictions["collapsed + DBSCAN"][in_fov] = collapsed
        if f == 0:
            first = (X_fov, y_fov, X_collapsed, plain, collapsed)

    X_fov, y_fov, X_collapsed, plain, collapsed = first
    fig = plot_clusters(X_fov, {"DBSCAN": plain, "collapsed + DBSCAN": collapsed, "ground truth": y_fov})
    fig.savefig(output_dir / "clusters.png", dpi=90)
    fig = plot_displacements(X_fov, X_collapsed, y_fov, title="Idealised collapse (stand-in for MIRO)")
    fig.savefig(output_dir / "displacements.png", dpi=90)
    # One row per FOV, one column per metric (labels are compared within FOVs).
    tables = {name: clustering_report(X, y, labels, groups=fov) for name, labels in predictions.items()}
    fig = plot_metrics(tables, title=f"Scenario 8 with blinking, {args.n_fovs} simulated FOVs")
    fig.savefig(output_dir / "metrics.png", dpi=90)
    for name, table in tables.items():
        means = table[["ari_dagger", "iou", "ji_c", "rmsre_n"]].mean()
        print(f"{name:<20} " + "  ".join(f"{k} {v:.3f}" for k, v in means.items()))
    print(f"Wrote clusters.png, displacements.png and metrics.png to {output_dir}")


if __name__ == "__main__":
    main()
