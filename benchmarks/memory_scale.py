"""Peak memory and CPU time of cluster_table / fov_summary and of the IoU's raster, before and after.

"Before" is the package at a git revision (default 29cad10, the last commit
before the blocked passes and the banded raster), loaded from ``git show``
beside the working tree's modules; "after" is the working tree. Both get the
same inputs, and the script checks that their outputs are identical
(``pandas.testing.assert_frame_equal`` with exact floats; equal pixel counts).

Peak memory is tracemalloc's peak over the call (numpy and pandas report their
allocations to it), with the input already built: it counts the validated
copies the functions make of their input (about 32 bytes per localisation for
X, labels and groups) and every temporary. CPU is time.process_time, the
minimum of --repeat runs without tracemalloc.

    OMP_NUM_THREADS=1 python benchmarks/memory_scale.py
    OMP_NUM_THREADS=1 python benchmarks/memory_scale.py --only table --n 3000000
    OMP_NUM_THREADS=1 python benchmarks/memory_scale.py --only iou --before-all

The IoU case "90 um FOV" took 18 GB before (measured once, in the forty-sixth
session); its "before" runs only with --before-all.
"""

import argparse
import importlib.util
import os
import subprocess
import sys
import time
import tracemalloc
import warnings
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import sklearn_miro  # noqa: E402
from sklearn_miro import analysis  # noqa: E402
from sklearn_miro.metrics import core  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from analysis_speed import simulate  # noqa: E402


def load_at(revision, path, name):
    """The module at ``path`` as of git ``revision``, as ``sklearn_miro.<name>`` (relative imports work)."""
    source = subprocess.run(["git", "show", f"{revision}:{path}"], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout
    module_name = f"{sklearn_miro.__name__}.{name}"
    spec = importlib.util.spec_from_loader(module_name, loader=None)
    module = importlib.util.module_from_spec(spec)
    module.__package__ = sklearn_miro.__name__
    sys.modules[module_name] = module
    exec(compile(source, f"{revision}:{path}", "exec"), module.__dict__)
    return module


def peak_and_cpu(function, repeat):
    """(result, tracemalloc peak in bytes, min CPU seconds over ``repeat`` untraced runs)."""
    tracemalloc.start()
    try:
        result = function()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    cpu = []
    for _ in range(repeat):
        start = time.process_time()
        function()
        cpu.append(time.process_time() - start)
    return result, peak, min(cpu)


def same(a, b):
    if isinstance(a, pd.DataFrame):
        pd.testing.assert_frame_equal(a, b, check_exact=True)
    else:
        assert a[1:] == b[1:] and (a[0] == b[0] or (np.isnan(a[0]) and np.isnan(b[0]))), (a, b)
    return "identical"


def table_cases(n, seed):
    X, labels, groups = simulate(n, n // 100, 10, 0.2, seed)
    coarse = np.where(labels >= 0, labels // 8, -1)  # eight fine clusters per coarse one
    one = np.where(labels >= 0, 0, -1)  # every clustered localisation in one cluster
    return [
        ("cluster_table, 10 FOVs", lambda m: m.cluster_table(X, labels, groups)),
        ("cluster_table, groups=None", lambda m: m.cluster_table(X, labels)),
        ("cluster_table, one cluster", lambda m: m.cluster_table(X, one, groups)),
        ("cluster_table + parent_labels", lambda m: m.cluster_table(X, labels, groups, parent_labels=coarse)),
        ("multiscale_cluster_table, 2 scales",
         lambda m: m.multiscale_cluster_table(X, np.column_stack([labels, coarse]), groups)),
        ("fov_summary (hull areas)", lambda m: m.fov_summary(X, labels, groups)),
        ("fov_summary, table given",
         lambda m, table=analysis.cluster_table(X, labels, groups): m.fov_summary(X, labels, groups, table=table)),
    ], n


def iou_cases(seed):
    rng = np.random.default_rng(seed)
    n, k = 100_000, 2_000
    centres = rng.uniform(0, 3000.0, (k, 2))
    y = rng.integers(0, k, n)
    X = centres[y] + rng.normal(0, 30, (n, 2))
    lost = np.where(rng.random(n) < 0.1, -1, y)
    cases = [
        ("ordinary: 10 % lost to background", X, y, lost, True),
        ("one cluster covering the FOV", X, y, np.zeros(n, int), True),
        ("random labels, 1,000 clusters", X, y, rng.integers(0, 1_000, n), True),
        ("random labels, 10,000 clusters", X, y, rng.integers(0, 10_000, n), True),
        ("random labels, 1,000, FOV at 1e9 nm", X + 1e9, y, rng.integers(0, 1_000, n), True),
        ("random labels, 1,000, 90 um FOV", X * 30, y, rng.integers(0, 1_000, n), False),
    ]
    return cases, n


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--revision", default="29cad10", help="git revision of 'before'")
    parser.add_argument("--n", type=int, default=1_000_000, help="localisations of the table cases")
    parser.add_argument("--only", choices=["table", "iou"], default=None)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--before-all", action="store_true", help="also run the 18 GB 'before' IoU case")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    print(f"numpy {np.__version__}, pandas {pd.__version__}, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}, "
          f"before = {args.revision}, after = working tree")
    warnings.simplefilter("ignore")
    if args.only in (None, "table"):
        before = load_at(args.revision, "sklearn_miro/analysis.py", "_analysis_before")
        cases, n = table_cases(args.n, args.seed)
        print(f"\n{n:,} localisations (20 % background) in {n // 100:,} clusters; peak in bytes per "
              "localisation (MB), CPU s")
        print(f"{'case':38s} {'before':>20s} {'after':>20s}  outputs")
        for name, call in cases:
            old, old_peak, old_cpu = peak_and_cpu(lambda: call(before), args.repeat)
            new, new_peak, new_cpu = peak_and_cpu(lambda: call(analysis), args.repeat)
            print(f"{name:38s} {old_peak / n:6.0f} ({old_peak / 1e6:5.0f}) {old_cpu:5.2f}s "
                  f"{new_peak / n:6.0f} ({new_peak / 1e6:5.0f}) {new_cpu:5.2f}s  {same(old, new)}", flush=True)
            del old, new
    if args.only in (None, "iou"):
        before = load_at(args.revision, "sklearn_miro/metrics/core.py", "_core_before")
        cases, n = iou_cases(args.seed)
        print(f"\nhull_union_iou, {n:,} localisations in 2,000 true clusters on 3 um; peak MB, CPU s")
        print(f"{'prediction':38s} {'before':>15s} {'after':>15s}  pixels")
        for name, X, y, pred, run_before in cases:
            true, guess = core.encode_labels(y, -1), core.encode_labels(pred, -1)
            new, new_peak, new_cpu = peak_and_cpu(lambda: core.hull_union_iou(X, true, guess), 1)
            if run_before or args.before_all:
                old, old_peak, old_cpu = peak_and_cpu(lambda: before.hull_union_iou(X, true, guess), 1)
                old_text, check = f"{old_peak / 1e6:7.0f} {old_cpu:6.2f}s", same(old, new)
            else:
                old_text, check = f"{'(18 GB) --before-all':>15s}", "not compared"
            print(f"{name:38s} {old_text} {new_peak / 1e6:7.0f} {new_cpu:6.2f}s  {check}", flush=True)


if __name__ == "__main__":
    main()
