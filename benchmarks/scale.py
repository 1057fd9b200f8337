"""MIRO at 10^4-10^7 localisations per FOV, and many FOVs in parallel.

Two measurements, each size in its own subprocess so that its peak resident set
size (``ru_maxrss``) is its own:

* **one large FOV** (``--sizes``): tiled copies of the real FGFR1 FOVs
  (``../shared/data/fgfr1``, each copy shifted next to the previous one, so the
  density is the real one) and simulated Gaussian nanoclusters at the density
  of the benchmark's scenario 5. Times the stages of tiled inference with the
  given model (:func:`sklearn_miro.tiling.tiled_network_outputs`: graph =
  per-tile Delaunay and edges, features = per-feature-tile Laplacian
  eigenvectors, network = message passing on the tiles with their halo) and the
  clustering (:func:`sklearn_miro.grid_dbscan.grid_dbscan`), wall and CPU
  seconds, peak RSS;
* **many FOVs** (``--fovs``): ``MIROClusterer.predict`` on a list of real FGFR1
  FOVs with ``n_jobs=1`` and ``n_jobs=2``; FOVs per second.

Writes a markdown table (``--output``). The model is a pickled
``MIROClusterer`` (its transformer, eps and min_samples are used); without
``--model`` a freshly initialised network of the default size is timed (the
cost does not depend on the weights, the clustering's does a little).

    OMP_NUM_THREADS=1 python benchmarks/scale.py --model model.joblib \\
        --sizes 10000 100000 1000000 --threads 2 --output benchmarks/results/scale.md
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import platform
import resource
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
FGFR1 = os.path.join(HERE, "..", "..", "shared", "data", "fgfr1")


def fgfr1_fovs():
    import pandas as pd

    fovs = []
    for path in sorted(glob.glob(os.path.join(FGFR1, "*.csv"))):
        table = pd.read_csv(path)
        X = table[["x", "y"]].to_numpy(dtype=np.float64)
        fovs.append(X - X.min(axis=0))
    if not fovs:
        raise SystemExit(f"no FGFR1 CSV files under {FGFR1}")
    return fovs


def fgfr1_copies(n):
    """About n localisations: copies of the real FOVs side by side on a square grid."""
    fovs = fgfr1_fovs()
    side = max(float(np.ptp(f, axis=0).max()) for f in fovs)
    per_copy = np.mean([len(f) for f in fovs])
    n_copies = int(np.ceil(n / per_copy))
    columns = int(np.ceil(np.sqrt(n_copies)))
    parts = [fovs[k % len(fovs)] + side * np.array([k % columns, k // columns]) for k in range(n_copies)]
    return np.concatenate(parts)[:n]


def simulated(n, seed=0):
    """About n localisations: 15-localisation Gaussian clusters (half of them) at scenario-5 density."""
    from sklearn_miro.datasets import make_gaussian_clusters

    side = float(np.sqrt(n / 3000.0) * 2000.0)
    X, _, _ = make_gaussian_clusters(
        n_clusters=max(1, int(round(n * 0.5 / 15))), n_localizations=15, fov_size=side,
        random_state=seed,
    )
    return X


def load_model(path):
    """(transformer, eps, min_samples) from a pickled MIROClusterer, or an untrained default."""
    if path:
        import joblib

        clusterer = joblib.load(path)
        transformer = getattr(clusterer.transformer_, "estimator", clusterer.transformer_)
        return transformer, clusterer.eps_, clusterer.min_samples_, clusterer
    import torch
    from sklearn.frozen import FrozenEstimator

    from sklearn_miro import MIROClusterer, MIROTransformer
    from sklearn_miro.model import FittedMIRO
    from sklearn_miro.network import MIRONetwork

    transformer = MIROTransformer(verbose=0)
    torch.manual_seed(0)
    transformer.model_ = FittedMIRO(
        network=MIRONetwork(transformer.hidden_size).eval(), n_steps=15,
        connectivity_radius=150.0, length_scale=15.0, augmentation_fov_size=600.0,
    )
    transformer.n_features_in_ = 2
    clusterer = MIROClusterer(FrozenEstimator(transformer), eps=15.0, min_samples=5)
    clusterer.fit(fgfr1_fovs()[0])
    return transformer, 15.0, 5, clusterer


def one_fov(source, n, model, threads, tile_size):
    import torch

    from sklearn_miro.grid_dbscan import grid_dbscan
    from sklearn_miro.tiling import tiled_network_outputs

    torch.set_num_threads(threads)
    X = fgfr1_copies(n) if source == "fgfr1" else simulated(n)
    transformer, eps, min_samples, _ = load_model(model)
    timings = {}
    wall, cpu = time.perf_counter(), time.process_time()
    out = tiled_network_outputs(
        transformer.network_, X,
        connectivity_radius=transformer.connectivity_radius_,
        length_scale=transformer.length_scale_,
        steps=[transformer.model_.n_steps - 1],
        tile_size=tile_size,
        feature_tile_size=transformer.model_.feature_tile_size(),
        normalization=transformer.model_.eigenvector_normalization,
        timings=timings,
    )
    collapsed = X - out[0, :, :2] * transformer.length_scale_
    w, c = time.perf_counter(), time.process_time()
    labels, _ = grid_dbscan(collapsed, eps, min_samples)
    timings["clustering"] = [time.perf_counter() - w, time.process_time() - c]
    timings["total"] = [time.perf_counter() - wall, time.process_time() - cpu]
    return dict(
        source=source, n=int(X.shape[0]), threads=threads, timings=timings,
        n_clusters=int(labels.max() + 1),
        peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
    )


WARM_CALLS = 3


def many_fovs(n_fovs, model, n_jobs, backend):
    """Time ``predict`` on ``n_fovs`` FOVs 1 + ``WARM_CALLS`` times with the same workers.

    The first call ("cold") includes starting the worker processes (each
    imports torch); the next ones ("warm", their median reported) reuse them,
    as a notebook's next call or a long study does.
    """
    import torch

    torch.set_num_threads(1)
    fovs = fgfr1_fovs()
    X = np.concatenate([fovs[k % len(fovs)] for k in range(n_fovs)])
    groups = np.repeat(np.arange(n_fovs), [len(fovs[k % len(fovs)]) for k in range(n_fovs)])
    _, _, _, clusterer = load_model(model)
    clusterer.set_params(n_jobs=n_jobs)

    def timed_calls():
        walls = []
        for _ in range(1 + WARM_CALLS):
            wall = time.perf_counter()
            clusterer.predict(X, groups=groups)
            walls.append(time.perf_counter() - wall)
        return walls

    cpu = time.process_time()
    if backend.startswith("dask"):
        import dask
        import joblib
        from distributed import Client, LocalCluster

        from sklearn_miro.parallel import DASK_WORKER_CONFIG

        # Process workers, one thread each, n_jobs=-1 (every worker of the
        # cluster, the documented idiom); the cluster's start is not timed.
        # "dask" uses the package's recommended worker configuration,
        # "dask-default" Dask's own (glibc's malloc trimmed at 64 KiB).
        clusterer.set_params(n_jobs=-1)
        config = DASK_WORKER_CONFIG if backend == "dask" else {}
        with dask.config.set(config), \
                LocalCluster(n_workers=n_jobs, threads_per_worker=1, processes=True,
                             dashboard_address=None) as cluster, \
                Client(cluster), joblib.parallel_backend("dask"):
            cpu = time.process_time()
            walls = timed_calls()
    else:
        walls = timed_calls()
    warm = float(np.median(walls[1:]))
    return dict(n_fovs=n_fovs, n_jobs=n_jobs, backend=backend, wall=walls[0], warm_wall=warm,
                warm_walls=walls[1:], cpu_parent=time.process_time() - cpu, fovs_per_s=n_fovs / warm,
                peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0)


def run_child(args):
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
    proc = subprocess.run([sys.executable, __file__, "--child", json.dumps(args)],
                          capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        return dict(args, error=proc.stderr.strip().splitlines()[-1] if proc.stderr else "failed",
                    peak_rss_mb=resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=None, help="pickled MIROClusterer (joblib)")
    parser.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--sources", nargs="+", default=["fgfr1", "sim"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--tile-size", type=float, default=None)
    parser.add_argument("--fovs", type=int, default=0, help="FOVs for the n_jobs measurement")
    parser.add_argument("--dask", action="store_true", help="also time the Dask backend")
    parser.add_argument("--output", default=None)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        task = json.loads(args.child)
        if task["kind"] == "fov":
            result = one_fov(task["source"], task["n"], task["model"], task["threads"], task["tile_size"])
        else:
            result = many_fovs(task["n_fovs"], task["model"], task["n_jobs"], task["backend"])
        print(json.dumps(result))
        return

    lines = [
        "# MIRO at scale (`benchmarks/scale.py`)",
        "",
        f"Command: `{' '.join(['python'] + sys.argv)}`  ",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, shared with other jobs while it ran; "
        f"torch threads {args.threads}; load average at start {os.getloadavg()[0]:.1f}.  ",
        f"Model: {args.model or 'untrained network of the default size'}. GPU: not measured.",
        "",
        "| source | localisations | graph wall/CPU s | features wall/CPU s | network wall/CPU s "
        "| clustering wall/CPU s | total wall/CPU s | CPU us per loc. | peak RSS MB | clusters |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for source in args.sources:
        for n in args.sizes:
            r = run_child(dict(kind="fov", source=source, n=n, model=args.model,
                               threads=args.threads, tile_size=args.tile_size))
            print(json.dumps(r), flush=True)
            if "error" in r:
                lines.append(f"| {source} | {n:,} | failed: {r['error']} | | | | | | "
                             f"{r['peak_rss_mb']:.0f} | |")
                continue
            t = r["timings"]
            cell = lambda k: f"{t[k][0]:.1f} / {t[k][1]:.1f}" if k in t else "-"  # noqa: E731
            lines.append(
                f"| {source} | {r['n']:,} | {cell('graph')} | {cell('features')} | {cell('network')} "
                f"| {cell('clustering')} | {cell('total')} | {1e6 * t['total'][1] / r['n']:.1f} "
                f"| {r['peak_rss_mb']:.0f} | {r['n_clusters']:,} |"
            )
    if args.fovs:
        lines += ["", f"{args.fovs} real FGFR1 FOVs through `MIROClusterer.predict` (transform + "
                  "DBSCAN per FOV), 1 torch thread per worker; each configuration calls `predict` "
                  f"{1 + WARM_CALLS} times: the first call (cold) starts the workers, the others "
                  "(warm, median given) reuse them. Dask: `n_jobs=-1` on a `LocalCluster` of 1 or 2 "
                  "process workers (with 1, `map_fovs` runs the FOVs in the calling process); "
                  "`dask` with `DASK_WORKER_CONFIG`, `dask-default` with Dask's own settings:", "",
                  "| backend | n_jobs (Dask: workers) | cold wall s | warm wall s | FOVs/s (warm) | speed-up cold | "
                  "speed-up warm |", "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
        backends = ["loky"] + (["dask", "dask-default"] if args.dask else [])
        for backend in backends:
            base = None
            for n_jobs in (1, 2):
                r = run_child(dict(kind="fovs", n_fovs=args.fovs, model=args.model,
                                   n_jobs=n_jobs, backend=backend))
                print(json.dumps(r), flush=True)
                if "error" in r:
                    lines.append(f"| {backend} | {n_jobs} | failed: {r['error']} | | | | |")
                    continue
                base = base or (r["wall"], r["warm_wall"])
                lines.append(f"| {backend} | {n_jobs} | {r['wall']:.1f} | {r['warm_wall']:.1f} "
                             f"| {r['fovs_per_s']:.2f} | {base[0] / r['wall']:.2f} "
                             f"| {base[1] / r['warm_wall']:.2f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.output:
        with open(args.output, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
