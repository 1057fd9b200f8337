"""Cost of the graph stages against N: Delaunay, edge filtering, eigenvector features.

Uniform random points at the density of the benchmark's scenario 5 (3,000 per
2 x 2 um), radius 150 nm. CPU seconds (one thread) and CPU us per point:

* ``delaunay``: ``scipy.spatial.Delaunay`` on the whole cloud (one call);
* ``tiled edges``: :func:`sklearn_miro.tiling.tiled_edges` (per-tile Delaunay
  with a 4-radius margin, the edges a tile owns);
* ``whole-FOV features``: Laplacian eigenvectors of the whole graph (one
  giant component: sparse shift-invert), only up to ``--max-global``;
* ``feature tiles``: eigenvectors per 600 nm feature tile
  (:func:`sklearn_miro.tiling.tile_eigenvector_features`).

    OMP_NUM_THREADS=1 python benchmarks/graph_scale.py --sizes 10000 100000 1000000
"""

import argparse
import time

import numpy as np
from scipy.spatial import Delaunay

from sklearn_miro.graph import laplacian_eigenvector_features
from sklearn_miro.tiling import SquareTiles, tile_eigenvector_features, tiled_edges


def cpu(fn, *args, **kwargs):
    start = time.process_time()
    out = fn(*args, **kwargs)
    return out, time.process_time() - start


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--max-global", type=int, default=100_000)
    args = parser.parse_args()
    print("| N | Delaunay | tiled edges | whole-FOV features | feature tiles (600 nm) |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    for n in args.sizes:
        rng = np.random.default_rng(0)
        side = np.sqrt(n / 3000.0) * 2000.0
        X = rng.uniform(0, side, (n, 2))
        _, t_del = cpu(Delaunay, X)
        tiles = SquareTiles.from_points(X, max(side / 8, 5000.0))
        edges, t_edges = cpu(tiled_edges, X, 150.0, tiles)
        edge_index = np.concatenate([edges, edges[::-1]], axis=1)
        if n <= args.max_global:
            _, t_glob = cpu(laplacian_eigenvector_features, n, edge_index, normalization="rms")
            glob = f"{t_glob:.1f} s ({1e6 * t_glob / n:.0f} us)"
        else:
            glob = "not run"
        _, t_tile = cpu(tile_eigenvector_features, X, edge_index, 600.0)
        print(f"| {n:,} | {t_del:.1f} s ({1e6 * t_del / n:.1f} us) | {t_edges:.1f} s ({1e6 * t_edges / n:.1f} us) "
              f"| {glob} | {t_tile:.1f} s ({1e6 * t_tile / n:.1f} us) |", flush=True)


if __name__ == "__main__":
    main()
