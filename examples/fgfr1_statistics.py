"""MIRO vs DBSCAN cluster statistics on the real FGFR1 dSTORM FOVs.

The paper's integrin panel (Fig. 4c-e) compares the clusters MIRO and DBSCAN
find in a real cell: cluster radius, localisations per cluster and distance
between neighbouring clusters. This example does the same on the ten FGFR1
fields of view (MCF7 cells, Alexa Fluor 647, 2 x 2 um each) in
``../shared/data/fgfr1``:

1. reads the ten files (x, y in nm, frame, uncertainty) and estimates the
   localisation precision with NeNA (the files have frames);
2. trains a small MIRO model on simulated nanoclusters (the paper's integrin
   training recipe: Gaussian clusters of 25-40 nm std with geometric sizes of
   mean 25, here on 2 x 2 um FOVs with the FGFR1 FOVs' density) and lets it
   choose its DBSCAN parameters on those simulated FOVs; plain DBSCAN gets its
   parameters from the same simulated FOVs (best adjusted Rand index over a
   grid), so both are tuned on the same labelled data;
3. clusters every FGFR1 FOV with both, and writes the per-cluster tables, the
   per-FOV summaries and the figures.

    python examples/fgfr1_statistics.py [--output-dir DIR] [--seed 0]

It takes about 3 CPU-minutes (5 minutes on one thread of a busy 2-core machine, 3 of them
training). Without ../shared (or $SKLEARN_MIRO_SHARED) it says so and exits without doing
anything.
"""

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

# The paper's data: ../shared beside the project, or $SKLEARN_MIRO_SHARED.
SHARED = Path(os.environ.get("SKLEARN_MIRO_SHARED", Path(__file__).resolve().parents[1].parent / "shared"))
FOLDER = SHARED / "data" / "fgfr1"

# A small model: trains in a few minutes on a CPU.
SMALL_MODEL = dict(
    hidden_size=32, n_steps=10, n_augmented=600, max_epochs=5, batch_size=1, learning_rate=1e-3
)


def read_fovs():
    from sklearn_miro.io import read_localizations

    files = sorted(FOLDER.glob("*.csv"), key=lambda p: int(p.stem.rsplit("_", 1)[-1]))
    tables = [read_localizations(path) for path in files]
    X = np.concatenate([t[["x", "y"]].to_numpy() for t in tables])
    frames = np.concatenate([t["frame"].to_numpy() for t in tables])
    uncertainty = np.concatenate([t["uncertainty"].to_numpy() for t in tables])
    groups = np.concatenate([np.full(len(t), k + 1) for k, t in enumerate(tables)])
    return files, X, frames, uncertainty, groups


def simulate_training(n_localizations_per_fov, seed):
    from sklearn_miro.datasets import make_gaussian_clusters

    # Integrin recipe of the paper (std 25-40 nm, geometric sizes of mean 25),
    # on FOVs as large and as dense as the FGFR1 ones; 20 % background is our
    # choice (the paper used 4 % for integrins).
    n_clusters = int(round(0.8 * n_localizations_per_fov / 25))
    return make_gaussian_clusters(
        4,
        n_clusters=n_clusters,
        n_localizations=lambda rng, n: rng.geometric(1 / 25, n),
        cluster_std=(25.0, 40.0),
        background_fraction=0.2,
        fov_size=2000.0,
        random_state=seed,
    )


def tune_plain_dbscan(X, y, fov):
    """eps, min_samples of plain DBSCAN with the best mean ARI on labelled FOVs."""
    from sklearn.cluster import DBSCAN
    from sklearn.metrics import adjusted_rand_score

    best = (-np.inf, None, None)
    for eps in np.linspace(10, 120, 23):
        for min_samples in (3, 4, 5, 6, 8, 10, 12, 15):
            score = np.mean([
                adjusted_rand_score(y[fov == k], DBSCAN(eps=eps, min_samples=min_samples).fit_predict(X[fov == k]))
                for k in np.unique(fov)
            ])  # fmt: skip
            if score > best[0]:
                best = (score, float(eps), min_samples)
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output-dir", default="fgfr1_statistics")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if not FOLDER.is_dir():
        print(f"Skipped: this example needs the FGFR1 data at {FOLDER} (../shared is absent).")
        return 0

    import matplotlib

    matplotlib.use("Agg")
    from sklearn.cluster import DBSCAN

    from sklearn_miro import MIROClusterer, MIROTransformer
    from sklearn_miro.analysis import cluster_table, fov_summary
    from sklearn_miro.parameters import nena
    from sklearn_miro.plotting import plot_cluster_statistics, plot_clusters, plot_density_map, plot_nena

    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()

    files, X, frames, uncertainty, groups = read_fovs()
    print(f"{len(files)} FGFR1 FOVs, {len(X)} localisations ({len(X) // len(files)} per FOV on average)")
    precision = nena(X, frames, groups)
    print(
        f"NeNA precision {precision.precision:.1f} +- {precision.precision_error:.1f} nm "
        f"from {precision.n_pairs} next-frame pairs; the files' median uncertainty is "
        f"{np.median(uncertainty):.1f} nm"
    )
    plot_nena(precision).savefig(out / "nena.png", dpi=120)

    X_sim, y_sim, fov_sim = simulate_training(len(X) // len(files), args.seed)
    print(f"Training MIRO on {len(np.unique(fov_sim))} simulated FOVs ({len(X_sim)} localisations) ...")
    miro = MIROClusterer(MIROTransformer(**SMALL_MODEL, random_state=args.seed)).fit(
        X_sim, y_sim, groups=fov_sim
    )
    print(
        f"  trained in {miro.transformer_.training_time_:.0f} s; DBSCAN after MIRO: "
        f"eps = {miro.eps_:.1f} nm, min_samples = {miro.min_samples_}"
    )
    score, eps, min_samples = tune_plain_dbscan(X_sim, y_sim, fov_sim)
    print(f"Plain DBSCAN tuned on the same simulated FOVs: eps = {eps:.1f} nm, min_samples = {min_samples} (ARI {score:.3f})")

    labels = {
        "MIRO": miro.predict(X, groups=groups),
        "DBSCAN": np.concatenate([
            DBSCAN(eps=eps, min_samples=min_samples).fit_predict(X[groups == g]) for g in np.unique(groups)
        ]),  # fmt: skip
    }
    tables = {name: cluster_table(X, lab, groups) for name, lab in labels.items()}
    summaries = {name: fov_summary(X, lab, groups, area="bbox", table=tables[name]) for name, lab in labels.items()}
    for name in labels:
        tables[name].to_csv(out / f"clusters_{name.lower()}.csv", index=False)
        summaries[name].to_csv(out / f"fovs_{name.lower()}.csv", index=False)

    rows = {}
    for name, table in tables.items():
        summary = summaries[name]
        rows[name] = {
            "clusters": len(table),
            "clusters per um^2": summary["cluster_density_per_um2"].mean(),
            "fraction clustered": summary["fraction_clustered"].mean(),
            "median radius of gyration (nm)": table["radius_of_gyration"].median(),
            "median localisations per cluster": table["n_localizations"].median(),
            "median NN distance (nm)": table["nn_distance"].median(),
            "median hull area (nm^2)": table["hull_area"].median(),
        }
    comparison = pd.DataFrame(rows)
    comparison.to_csv(out / "comparison.csv")
    print("\nAll ten FOVs (FOV means for densities and fractions):")
    print(comparison.to_string(float_format=lambda v: f"{v:.4g}"))

    fig = plot_cluster_statistics(tables, panel_size=3.6)
    fig.suptitle("FGFR1 (10 FOVs): MIRO vs DBSCAN, as the paper's Fig. 4c-e")
    fig.savefig(out / "statistics.png", dpi=120)
    densest = int(summaries["MIRO"].sort_values("n_localizations").iloc[-1]["fov"])
    in_fov = groups == densest
    fig = plot_clusters(
        X[in_fov], {name: lab[in_fov] for name, lab in labels.items()}, title=f"FOV {densest}"
    )
    fig.savefig(out / f"fov{densest}_clusters.png", dpi=120)
    plot_density_map(X, groups, fov=densest, pixel_size=20.0, title=f"FOV {densest}").savefig(
        out / f"fov{densest}_density.png", dpi=120
    )
    print(f"\nTables and figures in {out}/; done in {time.perf_counter() - started:.0f} s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
