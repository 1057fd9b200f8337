"""Zero-shot inference on a mosaic of benchmark FOVs: tiled vs whole, and the feature-tile side.

The pretrained model runs FOVs of more than 50,000 localisations tile by tile
(``sklearn_miro.tiling``), with Laplacian eigenvector features per square of
``FEATURE_TILE_SPACINGS`` mean spacings. This script checks that choice where
the answer is known: the first test FOVs of a benchmark scenario are laid side
by side into one mosaic FOV (each shifted by the benchmark's FOV side, so the
density is unchanged), clustered zero-shot as one FOV (tiled, whatever its
size, with owned tiles of one FOV's side), and every original FOV
of the mosaic is scored on its own labels. Reference: the same FOVs clustered
one by one (each small enough to run whole). The cluster radius and
``min_samples`` are fixed to the medians of the per-FOV label-free estimates,
so that only the inference differs.

    OMP_NUM_THREADS=1 python benchmarks/zero_shot_tiling.py GT-S2 MB-S2 GT-S6 --n-fovs 25
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import quality
import sklearn_miro.pretrained as pretrained_models
from sklearn_miro import MIROClusterer, MIROTransformer
from sklearn_miro.metrics import clustering_report


def score(X, y, g, labels):
    rows = [clustering_report(X[g == f], y[g == f], labels[g == f], variant="reference")
            for f in np.unique(g)]
    return (float(np.mean([r["ari_dagger"].iloc[0] for r in rows])),
            float(np.mean([r["ji_c"].iloc[0] for r in rows])))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("scenarios", nargs="+")
    parser.add_argument("--n-fovs", type=int, default=25)
    parser.add_argument("--spacings", type=float, nargs="+", default=[14.0, 30.0, 45.0, 70.0])
    args = parser.parse_args()
    model = MIROTransformer.pretrained("nanoclusters").model_
    for name in args.scenarios:
        X, y, g = quality.load_scenario(name, n_test=args.n_fovs)["test"]
        fovs = np.unique(g)
        # The benchmark's FOV side (2 um; a few localisations stray past it).
        side = float(np.round(np.median([np.ptp(X[g == f], axis=0).max() for f in fovs]), -2))
        columns = int(np.ceil(np.sqrt(len(fovs))))
        mosaic = X.copy()
        for k, f in enumerate(fovs):
            offset = side * np.array([k % columns, k // columns])
            mosaic[g == f] = X[g == f] - X[g == f].min(axis=0) + offset
        fits = [model.pair_correlation_fit(X[g == f]) for f in fovs]
        radius = float(np.nanmedian([fit.radius for fit in fits]))
        min_samples = int(np.median([model.dbscan_min_samples(X[g == f], fit=fit)
                                     for f, fit in zip(fovs, fits)]))

        def clusterer(tile_size="auto"):
            transformer = MIROTransformer.pretrained("nanoclusters", cluster_radius=radius)
            # Whole-FOV features for the untiled rows, as this comparison was designed
            # (crop_features=True, the default since the sixteenth session, would give
            # the untiled rows the tiles' features).
            transformer.set_params(tile_size=tile_size, crop_features=False)
            return MIROClusterer(transformer, min_samples=min_samples)

        start = time.process_time()
        per_fov = np.full(len(X), -1)
        for f in fovs:
            labels = clusterer().fit_predict(X[g == f])
            per_fov[g == f] = np.where(labels >= 0, labels + 100000 * f, -1)
        rows = [("each FOV whole (reference)", score(X, y, g, per_fov), time.process_time() - start)]
        start = time.process_time()
        whole = clusterer(None).fit_predict(mosaic)
        rows.append(("mosaic whole", score(X, y, g, whole), time.process_time() - start))
        default = pretrained_models.FEATURE_TILE_SPACINGS
        for spacings in args.spacings:
            pretrained_models.FEATURE_TILE_SPACINGS = spacings
            start = time.process_time()
            # Tiled whatever the mosaic's size (owned tiles of one FOV's side).
            labels = clusterer(side).fit_predict(mosaic)
            rows.append((f"mosaic tiled, feature tiles {spacings:g} spacings", score(X, y, g, labels),
                         time.process_time() - start))
        pretrained_models.FEATURE_TILE_SPACINGS = default
        print(f"\n{name}: {len(fovs)} test FOVs, {len(X):,} localisations, mosaic {columns} x "
              f"{int(np.ceil(len(fovs) / columns))} FOVs of {side:g} nm; radius {radius:.1f} nm, "
              f"min_samples {min_samples}")
        print("| inference | ARI-dagger | JI_c | CPU s |\n| --- | ---: | ---: | ---: |")
        for label, (ari, ji), cpu in rows:
            print(f"| {label} | {ari:.3f} | {ji:.3f} | {cpu:.1f} |")


if __name__ == "__main__":
    main()
