"""Read localisation files and the benchmark, write labels back.

Reads a real dSTORM field of view (FGFR1, ThunderSTORM-like columns), loads a
whole benchmark scenario with its training/test split (timing it), writes the
ground-truth labels of one FOV to CSV and reads them back, and draws
``read_files.png``.

Needs the shared paper data at ``../shared`` beside the project (or at
``$SKLEARN_MIRO_SHARED``).

Usage::

    python examples/read_files.py [OUTPUT_DIR]
"""

import argparse
import os
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from sklearn_miro.io import load_benchmark, read_localizations, write_labels  # noqa: E402
from sklearn_miro.plotting import plot_clusters  # noqa: E402

SHARED = Path(os.environ.get("SKLEARN_MIRO_SHARED", Path(__file__).resolve().parents[1].parent / "shared"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output_dir", nargs="?", default=".", help="where to write the PNG and CSV")
    args = parser.parse_args()
    output_dir = Path(args.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    if not (SHARED / "data" / "nieves2023").is_dir():
        sys.exit(
            f"This example needs the shared paper data, not found at {SHARED}. "
            "Set SKLEARN_MIRO_SHARED to its location."
        )

    # 1. A real dSTORM acquisition: columns x, y, frame, uncertainty.
    fgfr1 = read_localizations(SHARED / "data" / "fgfr1" / "FGFR1_MCF7_AF647_1.csv")
    print(f"FGFR1 FOV: {len(fgfr1)} localisations, columns {list(fgfr1.columns)}")
    print(f"  units: {fgfr1.attrs['units']}")
    print(f"  median uncertainty {fgfr1['uncertainty'].median():.1f} nm, frames 1-{fgfr1['frame'].max()}")

    # 2. A whole benchmark scenario, with the reference's 1-based split.
    start = time.perf_counter()
    bench = load_benchmark(SHARED / "data" / "nieves2023" / "blinking" / "scenario_5")
    elapsed = time.perf_counter() - start
    print(f"\n{bench.DESCR}")
    print(f"  loaded {len(bench.filenames)} FOVs, {bench.X.shape[0]} localisations in {elapsed:.2f} s")
    print(f"  training localisations: {bench.train_mask.sum()}, test: {bench.test_mask.sum()}")

    scenario_2 = load_benchmark(SHARED / "data" / "nieves2023" / "ground_truth" / "scenario_2", fov_numbers=[1])
    print(
        f"\nScenario 2 (ambiguous order): training FOVs {scenario_2.train_fov_numbers} by FOV number, "
        f"{scenario_2.alternative_train_fov_numbers} by file name; strict_test_mask excludes both."
    )

    # 3. Write the ground truth of the first training FOV and read it back.
    first = bench.groups == bench.train_fov_numbers[0]
    path = write_labels(output_dir / "benchmark_fov_labels.csv", bench.X[first], bench.y[first])
    back = read_localizations(path)
    assert np.array_equal(back["label"].to_numpy(), bench.y[first])
    print(f"\nWrote and re-read {path} ({len(back)} rows, columns {list(back.columns)})")

    fig = Figure(figsize=(10, 5), layout="constrained")
    axes = fig.subplots(1, 2)
    plot_clusters(fgfr1, ax=axes[0], title="FGFR1 dSTORM (unlabelled)")
    plot_clusters(
        bench.X[first], bench.y[first], ax=axes[1],
        title=f"Blinking scenario 5, FOV {bench.train_fov_numbers[0]} (ground truth)",
    )  # fmt: skip
    out = output_dir / "read_files.png"
    fig.savefig(out, dpi=90)
    print(f"Wrote {out}")


if __name__ == "__main__":
    main()
