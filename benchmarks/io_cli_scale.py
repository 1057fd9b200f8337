"""CLI streaming and reader speed: `sklearn-miro cluster`'s peak memory against the number of
input files, and `read_localizations`' CPU time against `pandas.read_csv` (no `../shared`).

``reader``: CPU time (``time.process_time``, all threads: pandas reads large files with
several) of ``read_localizations`` on a CSV of ``--rows`` localisations in the benchmark's
``x,y,index`` layout and in ThunderSTORM's (quoted headers with units, 9 columns), as a ratio
to ``pandas.read_csv`` of the same file timed in the same process, the two interleaved,
``--repeats`` times each (medians). With ``--baseline REV`` the reader of that git revision
(``git archive``) is timed too, in processes alternating with the working tree's, and the
two DataFrames are compared (values, dtypes, ``attrs``). ``--max-threads 1`` times pandas'
serial reader (this environment's pandas reads large files with several threads).

``cli``: peak memory (the child process's maximum RSS) of ``sklearn-miro cluster`` on F files
of ``--rows`` localisations each (``make_gaussian_clusters``: 1,000 clusters of 25 and as many
background localisations over 20 x 20 um per 50,000), for every F in ``--files``, each run in
its own process; the model is a tiny one trained here on two small files (its clustering is
not the point), or ``--pretrained NAME`` (zero-shot, much slower). With ``--baseline REV``
the same commands run the CLI of that revision, and every output file is compared byte for
byte with the working tree's. ``--tracemalloc`` also reports the peak of what tracemalloc
traces in the child (NumPy arrays included, torch's tensors not): the tables held, without
the allocator's noise in the RSS (a few tens of MiB over the first files).

    OMP_NUM_THREADS=1 python benchmarks/io_cli_scale.py reader --baseline HEAD
    OMP_NUM_THREADS=1 python benchmarks/io_cli_scale.py cli --files 1 5 20 40 --baseline HEAD
    OMP_NUM_THREADS=1 python benchmarks/io_cli_scale.py cli --files 1 20 --baseline HEAD --tracemalloc
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------- files


def write_reader_files(folder, n_rows, seed=0):
    """The two layouts of the reader benchmark, ``n_rows`` localisations each."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(0, 40_000, (n_rows, 2))
    bench = Path(folder) / "benchmark_layout.csv"
    pd.DataFrame({"x": X[:, 0], "y": X[:, 1], "index": rng.integers(0, 500, n_rows)}).to_csv(bench, index=False)
    thunderstorm = Path(folder) / "thunderstorm_layout.csv"
    table = pd.DataFrame({
        "id": np.arange(1, n_rows + 1), "frame": rng.integers(1, 20_000, n_rows),
        "x [nm]": X[:, 0].round(1), "y [nm]": X[:, 1].round(1),
        "sigma [nm]": rng.uniform(80, 200, n_rows).round(3),
        "intensity [photon]": rng.uniform(100, 5000, n_rows).round(1),
        "offset [photon]": rng.uniform(0, 50, n_rows).round(2),
        "bkgstd [photon]": rng.uniform(1, 20, n_rows).round(3),
        "uncertainty [nm]": rng.uniform(2, 30, n_rows).round(3),
    })  # fmt: skip
    body = table.to_csv(index=False).split("\n", 1)[1]
    # ThunderSTORM quotes its column names.
    thunderstorm.write_text(",".join(f'"{c}"' for c in table.columns) + "\n" + body)
    return [bench, thunderstorm]


def write_cli_files(folder, n_files, n_rows, seed=0):
    """``n_files`` FOV files in the benchmark's layout (0 = background), ``n_rows`` each."""
    from sklearn_miro.datasets import make_gaussian_clusters

    n_clusters = max(1, n_rows // 50)
    paths = []
    for k in range(n_files):
        X, y, _ = make_gaussian_clusters(
            n_clusters=n_clusters, n_localizations=25, n_background=n_rows - 25 * n_clusters,
            fov_size=20_000.0 * np.sqrt(n_rows / 50_000), random_state=seed + k,
        )
        path = Path(folder) / f"fov_{k:03d}.csv"
        pd.DataFrame({"x": X[:, 0], "y": X[:, 1], "index": y + 1}).to_csv(path, index=False)
        paths.append(path)
    return paths


def baseline_tree(revision, folder):
    """The package as it is at a git revision, extracted under ``folder``."""
    Path(folder).mkdir(parents=True, exist_ok=True)
    archive = Path(folder) / "baseline.tar"
    with open(archive, "wb") as handle:
        subprocess.run(["git", "archive", revision, "sklearn_miro"], cwd=ROOT, stdout=handle, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(folder, filter="data")
    return Path(folder)


def child(args, package_root):
    """Run this script's hidden child command with ``package_root`` first on the path."""
    env = dict(os.environ)
    if package_root is not None:
        env["PYTHONPATH"] = f"{package_root}{os.pathsep}{env.get('PYTHONPATH', '')}"
    done = subprocess.run([sys.executable, __file__, *args], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"child {args} failed:\n{done.stdout}\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------- reader


def reader_child(path, repeats):
    """Interleaved CPU times of pandas.read_csv and read_localizations, and the frame's digest."""
    import sklearn_miro
    from sklearn_miro.io import read_localizations

    if os.environ.get("IO_CLI_SCALE_MAX_THREADS"):
        # This pandas reads large CSV files with several threads; 1 is the serial reader.
        pd.set_option("mode.max_threads", int(os.environ["IO_CLI_SCALE_MAX_THREADS"]))
    times = {"pandas": [], "reader": []}
    for _ in range(repeats):
        for name, read in (("pandas", pd.read_csv), ("reader", read_localizations)):
            start = time.process_time()
            df = read(path)
            times[name].append(time.process_time() - start)
            if name == "reader":
                digest = {
                    "values": int(pd.util.hash_pandas_object(df, index=True).sum() % 2**63),
                    "dtypes": [str(t) for t in df.dtypes], "columns": [str(c) for c in df.columns],
                    "attrs": json.dumps(df.attrs, sort_keys=True, default=str),
                }  # fmt: skip
            del df
    print(json.dumps({"package": sklearn_miro.__file__, "times": times, "digest": digest}))


def run_reader(args):
    with tempfile.TemporaryDirectory() as folder:
        versions = {"working tree": None}
        if args.baseline:
            versions = {f"baseline {args.baseline}": baseline_tree(args.baseline, folder), **versions}
        results = {}
        for path in write_reader_files(folder, args.rows):
            times = {v: {"pandas": [], "reader": []} for v in versions}
            digests = {}
            for _ in range(args.processes):  # versions alternate: the machine's load drifts
                for version, root in versions.items():
                    out = child(["_reader_child", str(path), str(args.repeats)], root)
                    for name in ("pandas", "reader"):
                        times[version][name] += out["times"][name]
                    digests[version] = out["digest"]
            print(f"{path.name} ({args.rows} rows, {path.stat().st_size / 1e6:.0f} MB):")
            for version, t in times.items():
                pandas_cpu, reader_cpu = np.median(t["pandas"]), np.median(t["reader"])
                ratio = np.median(np.array(t["reader"]) / np.array(t["pandas"]))
                print(f"  {version:>22}: pandas.read_csv {pandas_cpu:.3f} CPU-s, read_localizations "
                      f"{reader_cpu:.3f} CPU-s, ratio {reader_cpu / pandas_cpu:.2f} (median of paired "
                      f"ratios {ratio:.2f}, {len(t['pandas'])} pairs)")
                results.setdefault(path.name, {})[version] = {
                    "pandas_cpu_s": float(pandas_cpu), "reader_cpu_s": float(reader_cpu),
                    "ratio": float(reader_cpu / pandas_cpu), "paired_ratio": float(ratio),
                }  # fmt: skip
            if len(digests) > 1:
                same = len({json.dumps(d, sort_keys=True) for d in digests.values()}) == 1
                print(f"  identical DataFrames: {same}")
                results[path.name]["identical"] = same
    return results


# ----------------------------------------------------------------- cli


def cli_child(argv):
    """``sklearn-miro`` with ``argv``; its CPU time and the process's maximum RSS."""
    import resource

    import sklearn_miro
    from sklearn_miro.cli import main

    traced = os.environ.get("IO_CLI_SCALE_TRACEMALLOC") == "1"
    if traced:
        # NumPy's arrays (the tables) are traced; torch's CPU tensors are not.
        # The modules the command imports are imported first, untraced.
        import tracemalloc

        import sklearn_miro.estimators  # noqa: F401  (torch, scikit-learn, ...)

        tracemalloc.start()
    wall, cpu = time.perf_counter(), time.process_time()
    code = main(argv)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    result = {"package": sklearn_miro.__file__, "rc": code, "cpu_s": cpu, "wall_s": wall, "max_rss_mib": peak}
    if traced:
        result["traced_peak_mib"] = tracemalloc.get_traced_memory()[1] / 2**20
    print(json.dumps(result))


def run_cli(args):
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        versions = {"working tree": None}
        if args.baseline:
            versions = {f"baseline {args.baseline}": baseline_tree(args.baseline, folder / "base"), **versions}
        (folder / "in").mkdir()
        paths = write_cli_files(folder / "in", max(args.files), args.rows)
        if args.pretrained:
            model = ["--pretrained", args.pretrained, "-q"]
        else:
            train = write_cli_files(folder, 2, 500, seed=10_000)
            model_path = folder / "tiny.miro"
            child(["_cli_child", "train", *map(str, train), "-o", str(model_path), "--hidden-size", "8",
                   "--n-steps", "2", "--max-epochs", "1", "--n-augmented", "4", "-q"], None)
            model = [str(model_path)]
        results = {}
        for n_files in args.files:
            outputs = {}
            for version, root in versions.items():
                out_dir = folder / f"out_{n_files}_{len(outputs)}"
                out = child(["_cli_child", "cluster", *model, *map(str, paths[:n_files]),
                             "--output-dir", str(out_dir)], root)
                outputs[version] = out_dir
                traced = f", traced peak {out['traced_peak_mib']:.1f} MiB" if "traced_peak_mib" in out else ""
                print(f"{n_files:>4} file(s) of {args.rows} localisations, {version:>22}: max RSS "
                      f"{out['max_rss_mib']:.0f} MiB{traced}, {out['cpu_s']:.1f} CPU-s, {out['wall_s']:.1f} s "
                      f"wall (exit {out['rc']})", flush=True)
                results.setdefault(str(n_files), {})[version] = out
            if len(outputs) > 1:
                first, second = outputs.values()
                names = sorted(p.name for p in first.iterdir())
                same = names == sorted(p.name for p in second.iterdir()) and all(
                    filecmp.cmp(first / name, second / name, shallow=False) for name in names
                )
                print(f"       identical outputs ({len(names)} files): {same}", flush=True)
                results[str(n_files)]["identical"] = same
    return results


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "_reader_child":
        return reader_child(sys.argv[2], int(sys.argv[3]))
    if len(sys.argv) > 1 and sys.argv[1] == "_cli_child":
        return cli_child(sys.argv[2:])
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", default=None, help="also write the results to this file")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    reader = sub.add_parser("reader", parents=[common])
    reader.add_argument("--rows", type=int, default=1_000_000)
    reader.add_argument("--repeats", type=int, default=5, help="pairs of reads per process")
    reader.add_argument("--processes", type=int, default=3, help="processes per version")
    reader.add_argument("--baseline", default=None, metavar="REV")
    reader.add_argument("--max-threads", type=int, default=None,
                        help="pandas' mode.max_threads in the timed processes (1: serial read_csv), where "
                             "the installed pandas has it")
    cli = sub.add_parser("cli", parents=[common])
    cli.add_argument("--files", type=int, nargs="+", default=[1, 20])
    cli.add_argument("--rows", type=int, default=50_000)
    cli.add_argument("--pretrained", default=None, metavar="NAME")
    cli.add_argument("--baseline", default=None, metavar="REV")
    cli.add_argument("--tracemalloc", action="store_true",
                     help="also the peak of the memory tracemalloc traces (NumPy arrays included, "
                          "torch tensors not): the tables held, without the allocator's noise")
    args = parser.parse_args()
    if getattr(args, "max_threads", None):
        os.environ["IO_CLI_SCALE_MAX_THREADS"] = str(args.max_threads)
    if getattr(args, "tracemalloc", False):
        os.environ["IO_CLI_SCALE_TRACEMALLOC"] = "1"  # read by the children
    results = run_reader(args) if args.what == "reader" else run_cli(args)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=str))


if __name__ == "__main__":
    main()
