"""Plain-DBSCAN baseline on the benchmark of Nieves et al. (2023), scored like the MIRO paper.

For ground-truth scenarios 6 and 8 (by default) this script

1. loads the 50 FOVs with :func:`sklearn_miro.io.load_benchmark`, which orders
   the files by FOV number and splits off the reference's 3 training FOVs
   (``training_indices`` of ``benchmark_metadata.json``), leaving 47 test FOVs;
2. runs DBSCAN with the metadata's plain-DBSCAN parameters (``DBSCAN_params``)
   on every test FOV on its own;
3. scores every FOV with :func:`sklearn_miro.metrics.clustering_report`, with
   the paper's definitions (``variant="paper"``) and with the authors' code
   (``variant="reference"``, which is what the published tables report), and
   prints mean +- standard deviation over the FOVs as a markdown table, next to
   the DBSCAN rows of the paper's Supplementary Table S3;
4. times ``clustering_report`` on one blinking scenario-5 FOV (~11,800
   localisations, 100 clusters).

Usage::

    python benchmarks/dbscan_baseline.py [--shared PATH] [--scenarios 6 8] [--repeats 7]

``--shared`` defaults to ``$SKLEARN_MIRO_SHARED`` or ``../shared`` beside the
repository. The run takes a few seconds on one CPU core.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd
import sklearn
from sklearn.cluster import DBSCAN

from sklearn_miro.io import load_benchmark
from sklearn_miro.metrics import REPORT_COLUMNS, clustering_report

# DBSCAN rows of Supplementary Table S3 (Pineda et al., Nat. Commun. 16, 9693, 2025):
# mean +- standard deviation over 47 FOVs, in the order of REPORT_COLUMNS.
PAPER_TABLE_S3_DBSCAN = {
    6: ["0.66 ± 0.03", "0.57 ± 0.03", "0.67 ± 0.07", "0.5 ± 0.2", "4.6 ± 0.7",
        "0.73 ± 0.02", "0.66 ± 0.07", "0.73 ± 0.02"],
    8: ["0.81 ± 0.04", "0.65 ± 0.06", "0.80 ± 0.11", "0.3 ± 0.2", "2.6 ± 0.3",
        "0.83 ± 0.03", "0.90 ± 0.07", "0.80 ± 0.04"],
}
HEADERS = ["ARI†", "IoU", "JI_c", "RMSRE_N", "RMSE_x,y", "AMI", "ARI_c", "ARI"]


def default_shared_dir():
    env = os.environ.get("SKLEARN_MIRO_SHARED")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[1].parent / "shared"


def dbscan_per_fov(X, groups, params):
    """DBSCAN on every FOV on its own (FOVs share one coordinate range)."""
    labels = np.empty(len(X), dtype=np.int64)
    for fov in np.unique(groups):
        members = groups == fov
        labels[members] = DBSCAN(**params).fit_predict(X[members])
    return labels


def test_split(bench):
    """Localisations, labels and FOV ids of the 47 test FOVs."""
    mask = bench.test_mask
    return bench.X[mask], bench.y[mask], bench.groups[mask]


def mean_std(values):
    """'mean ± std' with the sample standard deviation (ddof=1) over FOVs."""
    values = np.asarray(values, dtype=float)
    values = values[~np.isnan(values)]
    return f"{values.mean():.3f} ± {values.std(ddof=1):.3f}"


def score_scenario(folder):
    bench = load_benchmark(folder)
    params = bench.metadata["DBSCAN_params"]
    X, y, groups = test_split(bench)
    labels = dbscan_per_fov(X, groups, params)
    reports = {
        variant: clustering_report(X, y, labels, groups, variant=variant)
        for variant in ("paper", "reference")
    }
    return bench, params, reports


def markdown_table(rows):
    lines = ["| scenario | source | " + " | ".join(HEADERS) + " |",
             "|---|---|" + "---|" * len(HEADERS)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def time_report(shared, repeats):
    folder = shared / "data" / "nieves2023" / "blinking" / "scenario_5"
    bench = load_benchmark(folder)
    first_test_fov = bench.test_fov_numbers[0]
    fov = load_benchmark(folder, fov_numbers=[first_test_fov])
    params = bench.metadata["DBSCAN_params"]
    start = time.perf_counter()
    labels = DBSCAN(**params).fit_predict(fov.X)
    dbscan_seconds = time.perf_counter() - start
    timings = {}
    for variant in ("paper", "reference"):
        clustering_report(fov.X, fov.y, labels, variant=variant)  # warm-up
        runs = []
        for _ in range(repeats):
            start = time.perf_counter()
            clustering_report(fov.X, fov.y, labels, variant=variant)
            runs.append(time.perf_counter() - start)
        timings[variant] = runs
    n_clusters = len(np.unique(fov.y[fov.y != -1]))
    return fov.filenames[0], len(fov.X), n_clusters, params, dbscan_seconds, timings


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=default_shared_dir(),
                        help="the shared folder with data/nieves2023 (default: %(default)s)")
    parser.add_argument("--scenarios", type=int, nargs="+", default=[6, 8],
                        help="ground-truth scenarios to score (default: 6 8)")
    parser.add_argument("--repeats", type=int, default=7,
                        help="timing repeats of clustering_report (default: 7)")
    args = parser.parse_args(argv)

    print(f"python {platform.python_version()}, scikit-learn {sklearn.__version__}, "
          f"numpy {np.__version__}, pandas {pd.__version__}, {platform.machine()}")
    rows = []
    for scenario in args.scenarios:
        folder = args.shared / "data" / "nieves2023" / "ground_truth" / f"scenario_{scenario}"
        bench, params, reports = score_scenario(folder)
        n_fovs = reports["paper"].shape[0]
        print(f"\nGT-S{scenario}: DBSCAN eps={params['eps']}, min_samples="
              f"{params['min_samples']} on {n_fovs} test FOVs (training FOVs "
              f"{bench.train_fov_numbers} left out)")
        for variant, report in reports.items():
            rows.append([f"GT-S{scenario}", f"ours, {variant} definitions"]
                        + [mean_std(report[column]) for column in REPORT_COLUMNS])
            n_nan = int(report[list(REPORT_COLUMNS)].isna().sum().sum())
            if n_nan:
                print(f"  {variant}: {n_nan} undefined (NaN) values left out of the means")
        if scenario in PAPER_TABLE_S3_DBSCAN:
            rows.append([f"GT-S{scenario}", "paper, Table S3"] + PAPER_TABLE_S3_DBSCAN[scenario])
    print()
    print(markdown_table(rows))
    print("\nRMSE_x,y: 'paper' is Eq. 12, sqrt(mean d^2) in nm; 'reference' and Table S3 are "
          "sqrt(mean d) (sqrt(nm)). std: sample standard deviation over FOVs (ddof=1).")

    name, n_points, n_clusters, params, dbscan_seconds, timings = time_report(
        args.shared, args.repeats)
    print(f"\nclustering_report on blinking/scenario_5/{name}: {n_points} localisations, "
          f"{n_clusters} true clusters, DBSCAN {params} took {dbscan_seconds * 1e3:.0f} ms")
    for variant, runs in timings.items():
        runs = np.array(runs) * 1e3
        print(f"  variant={variant}: median {np.median(runs):.1f} ms, min {runs.min():.1f} ms, "
              f"max {runs.max():.1f} ms over {len(runs)} runs")


if __name__ == "__main__":
    main()
