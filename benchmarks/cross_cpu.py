"""The quality table's rows refitted on another machine, against the table.

Fits with ``precision="float32"`` are bit-identical on machines with the same
CPU model only: another CPU's BLAS sums float32 products in another order, and
the fits drift apart from the first epoch (``doc/method.md``, "Reproducible").
This script reads rows refitted elsewhere (``quality.py ROWS --seeds 0 1 2
--tag TAG --output-dir DIR``) and prints, per row, the table's mean ± std over
seeds beside the refit's, the CPU minutes of the fit and of the DBSCAN search,
and whether the refit meets issue 11's target by the summary's own rule
(``quality.target_misses``).

Usage::

    python benchmarks/cross_cpu.py --dir benchmarks/results/experiments/cross_cpu --tag amd

Rows with no refit in ``--dir`` are left out; a row with fewer than 3 seeds
there is marked with its number of seeds.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import quality  # noqa: E402

TABLE = Path(__file__).resolve().parent / "results" / "quality"
METRICS = quality.TARGET_METRICS


def load(directory, name, tag, seeds):
    """The result JSONs of ``name`` under ``tag`` in ``directory``, for the seeds found."""
    found = []
    for seed in seeds:
        path = Path(directory) / f"{name}_seed{seed}_{tag}.json"
        if path.exists():
            found.append(json.loads(path.read_text()))
    return found


def cells(results):
    """``mean ± std`` of ARI† / JI_c / RMSRE_N over the results."""
    parts = []
    for key in METRICS:
        values = np.array([r["metrics"][key]["MIRO"] for r in results])
        spread = f" ± {values.std(ddof=1):.3f}" if len(values) > 1 else ""
        parts.append(f"{values.mean():.3f}{spread}")
    return " / ".join(parts)


def cpu_model(results):
    models = sorted({r.get("cpu_model", "?") for r in results})
    return ", ".join(models)


def verdict(name, results):
    """"yes", or "no (...)" with issue 11's misses by the summary's rule."""
    misses = quality.target_misses(name, results)
    return "yes" if not misses else "no (" + ", ".join(misses) + ")"


def mean_of(results, key):
    """The mean of a per-result figure (one decimal), "-" when no result has it."""
    values = [r[key] for r in results if r.get(key) is not None]
    return f"{np.mean(values):.1f}" if values else "-"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", required=True, help="where the refits' JSON files are")
    parser.add_argument("--tag", required=True, help="the refits' tag (quality.py --tag)")
    parser.add_argument("--table-tag", default="default", help="the table's tag (default: default)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args(argv)
    names = [n for n in quality.ALL
             if n not in quality.MIXTURES and n not in quality.NPC
             and load(args.dir, n, args.tag, args.seeds)]
    if not names:
        parser.error(f"no refit tagged {args.tag!r} in {args.dir}")
    print("| scenario | seeds | the table | the refit | DBSCAN | CPU min / fit, table -> refit "
          "| DBSCAN search CPU-s, table -> refit | target met: table / refit |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    models = set()
    for name in names:
        refit = load(args.dir, name, args.tag, args.seeds)
        table = load(TABLE, name, args.table_tag, args.seeds)
        models.update([cpu_model(refit), cpu_model(table)])
        dbscan = " / ".join(f"{np.mean([r['metrics'][k]['DBSCAN'] for r in refit]):.3f}" for k in METRICS)
        print(f"| {name} | {len(refit)} | {cells(table)} | {cells(refit)} | {dbscan} | "
              f"{mean_of(table, 'fit_cpu_min')} -> {mean_of(refit, 'fit_cpu_min')} | "
              f"{mean_of(table, 'dbscan_tuning_cpu_s')} -> {mean_of(refit, 'dbscan_tuning_cpu_s')} | "
              f"{verdict(name, table)} / {verdict(name, refit)} |")
    print(f"\nCPU models: {'; '.join(sorted(models))}")


if __name__ == "__main__":
    main()
