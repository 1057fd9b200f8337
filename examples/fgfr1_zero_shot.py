"""Zero-shot MIRO on real, unlabelled FGFR1 data, next to DBSCAN with a label-free rule.

The 10 FOVs in ``../shared/data/fgfr1`` are dSTORM localisations of FGFR1 (AF647) in MCF7
cells, 2 x 2 um each, with no ground truth. No model is trained here: the pretrained network
shipped with the package (``MIROTransformer.pretrained()``, the ``nanoclusters-long`` model,
trained on simulations only) collapses every FOV, with the cluster length scale estimated from
the FOV itself, and ``MIROClusterer`` applies the model's label-free DBSCAN rule. Plain DBSCAN gets the
standard label-free rule: eps at the knee of the sorted 4-nearest-neighbour distances,
``min_samples = 5``.

Prints, per FOV, the number of clusters and the median cluster size (localisations) and
RMS radius of each method, and saves a side-by-side figure of the first FOVs.

    python examples/fgfr1_zero_shot.py [--output-dir DIR] [--n-fovs 10] [--n-plot 3] [--model nanoclusters-long]

Needs ../shared beside the project, or $SKLEARN_MIRO_SHARED (skips with a message
otherwise). About 15 CPU-seconds for the ten FOVs.
"""

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.cluster import DBSCAN

from sklearn_miro import MIROClusterer, MIROTransformer
from sklearn_miro.io import read_localizations
from sklearn_miro.pretrained import ZERO_SHOT_MODEL, cluster_rms_radius, kdistance_eps

# The paper's data: ../shared beside the project, or $SKLEARN_MIRO_SHARED.
SHARED = Path(os.environ.get("SKLEARN_MIRO_SHARED", Path(__file__).resolve().parents[1].parent / "shared"))


def summary(X, labels):
    found = labels[labels >= 0]
    sizes = np.bincount(np.unique(found, return_inverse=True)[1]) if len(found) else np.array([])
    return dict(
        n_clusters=len(sizes),
        median_size=float(np.median(sizes)) if len(sizes) else float("nan"),
        clustered=float(np.mean(labels >= 0)),
        rms_radius=cluster_rms_radius(X, labels),
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output-dir", default=".")
    parser.add_argument("--n-fovs", type=int, default=10)
    parser.add_argument("--n-plot", type=int, default=3, help="FOVs shown in the figure")
    parser.add_argument("--model", default=ZERO_SHOT_MODEL,
                        help="pretrained model (sklearn_miro.pretrained.available_models())")
    args = parser.parse_args()
    folder = SHARED / "data" / "fgfr1"
    files = sorted(folder.glob("*.csv"), key=lambda p: int(p.stem.rsplit("_", 1)[1]))[: args.n_fovs]
    if not files:
        print(f"Skipping: this example needs the FGFR1 data at {folder}.")
        return 0

    miro = MIROTransformer.pretrained(args.model, verbose=0)
    rows, shown = [], []
    for path in files:
        X = read_localizations(path)[["x", "y"]].to_numpy()
        started = time.perf_counter()
        clusterer = MIROClusterer(miro)
        labels_miro = clusterer.fit_predict(X)
        seconds = time.perf_counter() - started
        eps = kdistance_eps(X, 4)
        labels_dbscan = DBSCAN(eps=eps, min_samples=5).fit_predict(X)
        m, d = summary(X, labels_miro), summary(X, labels_dbscan)
        rows.append((path.stem, len(X), clusterer.cluster_radius_, clusterer.eps_, m, eps, d, seconds))
        if len(shown) < args.n_plot:
            # The collapse DBSCAN ran on: the clusterer's passes of the network.
            shown.append((path.stem, X, labels_miro, labels_dbscan, miro.transform(X, passes=clusterer.collapse_passes_)))

    print("FOV                    n  | MIRO zero-shot: R (nm)  eps  clusters  median size  RMS radius  clustered"
          " | DBSCAN knee: eps  clusters  median size  RMS radius  clustered | MIRO s")
    for name, n, radius, eps_m, m, eps_d, d, seconds in rows:
        print(f"{name:<20} {n:>5}  | {radius:>20.1f} {eps_m:>5.1f} {m['n_clusters']:>9} {m['median_size']:>12.0f} "
              f"{m['rms_radius']:>11.1f} {m['clustered']:>10.0%} | {eps_d:>15.1f} {d['n_clusters']:>9} "
              f"{d['median_size']:>12.0f} {d['rms_radius']:>11.1f} {d['clustered']:>10.0%} | {seconds:>6.2f}")
    totals = {k: sum(r[4]["n_clusters"] if k == "miro" else r[6]["n_clusters"] for r in rows) for k in ("miro", "dbscan")}
    print(f"Total clusters over {len(rows)} FOVs: zero-shot MIRO {totals['miro']}, DBSCAN (knee rule) {totals['dbscan']}.")

    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("No figure: matplotlib is not installed.")
        return 0
    fig, axes = plt.subplots(len(shown), 3, figsize=(13, 4.3 * len(shown)), squeeze=False)
    for row, (name, X, lm, ld, Xc) in zip(axes, shown):
        for ax, (title, pts, labels) in zip(row, [
            (f"{name}: DBSCAN, knee rule ({summary(X, ld)['n_clusters']} clusters)", X, ld),
            (f"zero-shot MIRO + DBSCAN ({summary(X, lm)['n_clusters']} clusters)", X, lm),
            ("MIRO's collapsed localisations", Xc, lm),
        ]):
            background = labels < 0
            ax.scatter(pts[background, 0], pts[background, 1], s=1, c="0.8", rasterized=True)
            ax.scatter(pts[~background, 0], pts[~background, 1], s=2, c=labels[~background] % 20,
                       cmap="tab20", vmin=0, vmax=19, rasterized=True)
            ax.set_title(title, fontsize=9)
            ax.set_aspect("equal")
            ax.set_xticks([])
            ax.set_yticks([])
    fig.tight_layout()
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    png = out / "fgfr1_zero_shot.png"
    fig.savefig(png, dpi=110)
    print(f"Saved {png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
