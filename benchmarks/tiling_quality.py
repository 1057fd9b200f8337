"""Does tiled inference change MIRO's results? Tiled vs whole-FOV inference, same model.

1. Benchmark FOVs (``../shared/data/nieves2023``, the test FOVs of a scenario):
   each FOV clustered after whole-FOV inference and after tiled inference with
   tiles much smaller than the FOV (``--tile-size``, default 500 nm, so every
   2 um FOV is cut into 16 tiles, each run with the exact ``n_steps x radius``
   halo, and eigenvector features per feature tile of the training crops'
   size). Scores of both (``clustering_report``, means over FOVs) and the
   agreement of the two labellings (ARI).
2. A 100k-localisation FOV made of tiled copies of the real FGFR1 FOVs: labels
   of whole-FOV and tiled inference (default tiles), ARI between them.

The model is a pickled ``MIROClusterer`` (``--model``); its eps/min_samples
are used for DBSCAN.

    OMP_NUM_THREADS=1 python benchmarks/tiling_quality.py --model model.joblib \\
        --scenario ground_truth/scenario_6 --output benchmarks/results/tiling_quality.md
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import joblib
import numpy as np
import torch
from sklearn.cluster import DBSCAN
from sklearn.metrics import adjusted_rand_score

from sklearn_miro.grid_dbscan import grid_dbscan
from sklearn_miro.io import load_benchmark
from sklearn_miro.metrics import clustering_report
from sklearn_miro.tiling import fov_network_outputs

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from scale import fgfr1_copies  # noqa: E402

SHARED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared")


WHOLE_FEATURES = "whole"


def collapse(transformer, X, tile_size, feature_tile_size=None):
    """Collapsed X; ``feature_tile_size`` None: the model's feature tiles, ``WHOLE_FEATURES``: none."""
    if feature_tile_size == WHOLE_FEATURES:
        feature_tile_size = None
    elif feature_tile_size is None:
        feature_tile_size = transformer.model_.feature_tile_size()
    out = fov_network_outputs(
        transformer.network_, X,
        connectivity_radius=transformer.connectivity_radius_,
        length_scale=transformer.length_scale_,
        steps=[transformer.model_.n_steps - 1],
        normalization=transformer.model_.eigenvector_normalization,
        tile_size=tile_size,
        feature_tile_size=feature_tile_size,
    )
    return X - out[0, :, :2] * transformer.length_scale_


def checkpoint_in_nm(args):
    """An authors' checkpoint run in nm instead of on FOVs normalised to [0, 1].

    The authors trained on 2 um FOVs scaled to [0, 1] (radius 0.2, edge
    features and outputs in units of the radius, unit-norm eigenvectors). In
    nm the same network sees the same inputs with radius = length unit =
    0.2 x 2000 nm, up to the FOV's aspect ratio; tiles are then squares in nm
    and the feature tiles have the side of its training FOVs.
    """
    from dataclasses import replace

    from sklearn_miro import load_reference_checkpoint

    miro = load_reference_checkpoint(args.checkpoint, n_steps=args.n_steps,
                                     connectivity_radius=args.radius_nm / args.fov_side_nm,
                                     device="cpu")
    miro.model_ = replace(miro.model_, fov_normalization=None, connectivity_radius=args.radius_nm,
                          length_scale=args.radius_nm, augmentation_fov_size=args.fov_side_nm,
                          distance_unit=args.fov_side_nm)
    return miro


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=None, help="pickled MIROClusterer")
    parser.add_argument("--checkpoint", default=None,
                        help="an authors' checkpoint, run in nm (see checkpoint_in_nm)")
    parser.add_argument("--radius-nm", type=float, default=400.0)
    parser.add_argument("--n-steps", type=int, default=15)
    parser.add_argument("--fov-side-nm", type=float, default=2000.0,
                        help="side of the checkpoint's training FOVs: its feature tiles")
    parser.add_argument("--bench-feature-tile", type=float, default=None,
                        help="feature-tile side for the benchmark FOVs (default: the model's)")
    parser.add_argument("--eps", type=float, default=16.0)
    parser.add_argument("--min-samples", type=int, default=10)
    parser.add_argument("--scenario", default="ground_truth/scenario_6")
    parser.add_argument("--tile-size", type=float, default=500.0)
    parser.add_argument("--n-fovs", type=int, default=None, help="first N test FOVs only")
    parser.add_argument("--big", type=int, default=100_000,
                        help="localisations of the FGFR1 FOV (0: skip); tiled automatically above "
                             "50,000, else with tiles of 4 x --tile-size")
    parser.add_argument("--output", default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.checkpoint:
        transformer = checkpoint_in_nm(args)
        eps, min_samples = args.eps, args.min_samples
        model_name = args.checkpoint
    else:
        clusterer = joblib.load(args.model)
        transformer = getattr(clusterer.transformer_, "estimator", clusterer.transformer_)
        eps, min_samples = clusterer.eps_, clusterer.min_samples_
        model_name = args.model
    if transformer.model_.fov_normalization is not None:
        raise SystemExit("this comparison needs a model working in the units of X (fov_normalization=None)")
    bench = load_benchmark(os.path.join(SHARED, "data", "nieves2023", args.scenario))
    test_fovs = np.unique(bench.groups[bench.test_mask])[: args.n_fovs]
    # "tiled, whole features": tiled message passing on whole-FOV eigenvector
    # features, which isolates what the feature tiles change from the tiling.
    modes = {"whole": (None, WHOLE_FEATURES), "tiled": (args.tile_size, args.bench_feature_tile),
             "tiled, whole features": (args.tile_size, WHOLE_FEATURES)}
    labels = {mode: [] for mode in modes}
    X_all, y_all, g_all = [], [], []
    agreement = {mode: [] for mode in modes if mode != "whole"}
    seconds = dict.fromkeys(modes, 0.0)
    for fov in test_fovs:
        X = bench.X[bench.groups == fov]
        for mode, (tile, feature_tile) in modes.items():
            start = time.process_time()
            collapsed = collapse(transformer, X, tile, feature_tile)
            labels[mode].append(DBSCAN(eps=eps, min_samples=min_samples).fit_predict(collapsed))
            seconds[mode] += time.process_time() - start
        for mode in agreement:
            agreement[mode].append(adjusted_rand_score(labels["whole"][-1], labels[mode][-1]))
        X_all.append(X)
        y_all.append(bench.y[bench.groups == fov])
        g_all.append(np.full(len(X), fov))
    X_all, y_all, g_all = (np.concatenate(a) for a in (X_all, y_all, g_all))
    reports = {
        mode: clustering_report(X_all, y_all, np.concatenate(_offset(labels[mode])), groups=g_all).mean()
        for mode in labels
    }
    columns = ["ari_dagger", "iou", "ji_c", "rmsre_n", "rmse_xy", "ami", "ari_c", "ari"]
    lines = [
        "# Tiled vs whole-FOV inference (`benchmarks/tiling_quality.py`)",
        "",
        f"Command: `{' '.join(['python'] + sys.argv)}`  ",
        f"Model: {model_name} (connectivity radius {transformer.connectivity_radius_:.1f} nm, "
        f"n_steps {transformer.model_.n_steps}, feature tiles {transformer.model_.feature_tile_size():.0f} nm, "
        f"DBSCAN eps {eps:.2f}, min_samples {min_samples}).",
        "",
        f"## {args.scenario}: {len(test_fovs)} test FOVs, tiles of {args.tile_size:.0f} nm, feature tiles "
        f"{args.bench_feature_tile or transformer.model_.feature_tile_size():.0f} nm "
        f"(halo n_steps x radius = {transformer.model_.n_steps * transformer.connectivity_radius_:.0f} nm)",
        "",
        "| inference | " + " | ".join(columns) + " | CPU s |",
        "| --- | " + " | ".join(["---:"] * (len(columns) + 1)) + " |",
    ]
    for mode in labels:
        lines.append(f"| {mode} | " + " | ".join(f"{reports[mode][c]:.3f}" for c in columns)
                     + f" | {seconds[mode]:.1f} |")
    lines.append("")
    for mode, values in agreement.items():
        lines.append(f"ARI between the whole-FOV and the {mode} labellings, per FOV: mean "
                     f"{np.mean(values):.4f}, min {np.min(values):.4f}.  ")
    if args.big:
        X = fgfr1_copies(args.big)
        tile = "auto" if args.big > 50_000 else 4 * args.tile_size
        big_modes = {"whole": (None, WHOLE_FEATURES), "tiled": (tile, None),
                     "tiled, whole features": (tile, WHOLE_FEATURES)}
        lines += ["", f"## {X.shape[0]:,}-localisation FOV (tiled copies of the real FGFR1 FOVs)", "",
                  "| inference | ARI with whole | clusters | noise fraction | wall s | CPU s |",
                  "| --- | ---: | ---: | ---: | ---: | ---: |"]
        whole = None
        for mode, (tile_size, feature_tile) in big_modes.items():
            start, cpu = time.perf_counter(), time.process_time()
            collapsed = collapse(transformer, X, tile_size, feature_tile)
            found = grid_dbscan(collapsed, eps, min_samples)[0]
            wall, cpu = time.perf_counter() - start, time.process_time() - cpu
            whole = found if whole is None else whole
            lines.append(f"| {mode} | {adjusted_rand_score(whole, found):.4f} | {found.max() + 1} "
                         f"| {np.mean(found < 0):.3f} | {wall:.0f} | {cpu:.0f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.output:
        with open(args.output, "w") as f:
            f.write(text)


def _offset(label_list):
    out, offset = [], 0
    for lab in label_list:
        lab = lab.copy()
        lab[lab >= 0] += offset
        out.append(lab)
        if (lab >= 0).any():
            offset = lab.max() + 1
    return out


if __name__ == "__main__":
    main()
