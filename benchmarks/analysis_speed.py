"""Speed of sklearn_miro.analysis.cluster_table (issue 15 target: 10^6
localisations in 10^4 clusters in under 5 s).

Simulates Gaussian nanoclusters (sigma 10-40 nm, Poisson sizes around the
requested mean) plus uniform background in several FOVs, then times
``cluster_table`` and ``fov_summary``; for comparison it also times the hull
step done the obvious way (``scipy.spatial.ConvexHull`` called once per
cluster) and checks that both give the same areas.

    OMP_NUM_THREADS=1 python benchmarks/analysis_speed.py
    python benchmarks/analysis_speed.py --n-localizations 100000 --n-clusters 100000

Reports wall time and CPU time (time.process_time) of the best of --repeat runs.
"""

import argparse
import os
import platform
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from scipy.spatial import ConvexHull  # noqa: E402

from sklearn_miro.analysis import cluster_table, convex_hulls, fov_summary  # noqa: E402


def simulate(n_localizations, n_clusters, n_fovs, background_fraction, seed):
    rng = np.random.default_rng(seed)
    n_clustered = int(round(n_localizations * (1 - background_fraction)))
    sizes = rng.poisson(n_clustered / n_clusters, n_clusters).clip(1)
    sizes = np.round(sizes * n_clustered / sizes.sum()).astype(np.int64).clip(1)
    labels = np.repeat(np.arange(n_clusters), sizes)
    fov_of_cluster = rng.integers(0, n_fovs, n_clusters)
    fov_size = 1000.0 * np.sqrt(n_clusters / n_fovs)  # about 1 cluster per um^2
    centers = rng.uniform(0, fov_size, (n_clusters, 2))
    sigma = rng.uniform(10, 40, n_clusters)
    X = centers[labels] + rng.standard_normal((labels.size, 2)) * sigma[labels, None]
    groups = fov_of_cluster[labels]
    n_background = max(n_localizations - labels.size, 0)
    X = np.vstack([X, rng.uniform(0, fov_size, (n_background, 2))])
    labels = np.concatenate([labels, np.full(n_background, -1)])
    groups = np.concatenate([groups, rng.integers(0, n_fovs, n_background)])
    order = rng.permutation(labels.size)
    return X[order], labels[order], groups[order]


def timed(function, repeat):
    best = None
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        result = function()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        if best is None or wall < best[0]:
            best = (wall, cpu)
    return result, best


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-localizations", type=int, default=1_000_000)
    parser.add_argument("--n-clusters", type=int, default=10_000)
    parser.add_argument("--n-fovs", type=int, default=10)
    parser.add_argument("--background-fraction", type=float, default=0.2)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-scipy", action="store_true", help="skip the per-cluster scipy loop")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    X, labels, groups = simulate(
        args.n_localizations, args.n_clusters, args.n_fovs, args.background_fraction, args.seed
    )
    print(
        f"{platform.processor() or platform.machine()}, numpy {np.__version__}, "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}"
    )
    print(
        f"{X.shape[0]} localisations, {args.n_clusters} clusters, {args.n_fovs} FOVs, "
        f"{(labels >= 0).sum()} clustered"
    )
    table, (wall, cpu) = timed(lambda: cluster_table(X, labels, groups), args.repeat)
    print(f"cluster_table: wall {wall:.3f} s, CPU {cpu:.3f} s ({len(table)} rows)")
    _, (wall_s, cpu_s) = timed(lambda: fov_summary(X, labels, groups, table=table), args.repeat)
    print(f"fov_summary (given the table): wall {wall_s:.3f} s, CPU {cpu_s:.3f} s")

    mask = labels >= 0
    points, index = X[mask], labels[mask]
    (area, _, _), (wall_h, cpu_h) = timed(lambda: convex_hulls(points, index), args.repeat)
    print(f"convex_hulls alone (vectorised): wall {wall_h:.3f} s, CPU {cpu_h:.3f} s")
    if not args.skip_scipy:
        def per_cluster():
            order = np.argsort(index, kind="stable")
            bounds = np.flatnonzero(np.diff(index[order])) + 1
            return np.array(
                [ConvexHull(points[m]).volume if m.size >= 3 else 0.0 for m in np.split(order, bounds)]
            )

        reference, (wall_r, cpu_r) = timed(per_cluster, 1)
        same = np.allclose(area, reference, rtol=1e-9, atol=1e-6)
        print(
            f"scipy ConvexHull per cluster (loop): wall {wall_r:.3f} s, CPU {cpu_r:.3f} s; "
            f"same areas: {same}"
        )


if __name__ == "__main__":
    main()
