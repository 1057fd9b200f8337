"""Tiled inference: MIRO on fields of view of any size, at a cost linear in N.

A whole-cell acquisition holds 10^5-10^7 localisations. Building one graph for
all of them and running the network on it costs more than linear time (the
Laplacian eigen-solve of one giant component) and memory proportional to the
whole field (the network's hidden states, ``n_edges x hidden_size`` floats per
step). Tiled inference splits the field of view (FOV) into square tiles and
keeps every stage local:

1. **Edges.** Each tile is triangulated together with a margin of its
   neighbours' points (``delaunay_margin``, default one connectivity radius);
   an edge shorter than the radius is taken from the tile that owns its
   lower-indexed endpoint. Every Delaunay edge of the whole FOV is among the
   tile's, and a tile edge that is not one of the whole FOV's is found and
   removed (one of its empty circles is shown to reach no point outside the
   triangulated box, or the points of wider rings narrow its empty circles
   to none), so
   the edges are exactly the whole-FOV triangulation's. One exception is
   inherent to Delaunay triangulations: where four or more points share an
   empty circle (lattices, coarsely rounded coordinates) several
   triangulations of that circle's points are equally Delaunay and each
   Qhull call picks its own, so the tiled and the whole-FOV edges differ
   there, and two tiles may keep both diagonals of a square or neither.
   Measured on a half-filled 10 nm lattice of 50,000 points (radius 25 nm):
   7,522 of 139,507 edges differ from the whole FOV's; exact checks of 300
   of the edges on shared circles found each a Delaunay edge, in both
   results. On uniform points rounded to 1 nm no square lost both
   diagonals.
2. **Node features.** The Laplacian eigenvectors are computed per *feature
   tile* (``feature_tile_size``): edges between two feature tiles are left out
   of the eigen-problem only, so every component is at most a feature tile and
   the eigen-solves cost O(N). The estimators use the side of the synthetic
   training FOVs, so the features describe a graph of the size the network was
   trained on (about 200 localisations by default) instead of a whole cell.
   ``feature_tile_size=None`` keeps whole-FOV features (the untiled result, at
   the untiled cost).
3. **Message passing.** The network runs on the graph of each tile grown by a
   halo. After ``T`` recurrent steps a node's output depends only on nodes at
   most ``T`` hops away, and every hop is shorter than the connectivity radius
   ``r``, so with ``halo = T * r`` (the default) the outputs of the points a
   tile owns are exactly those of the whole graph. Only the owned points'
   outputs are kept (owner: the tile containing the point, without halo), and
   every point has exactly one owner. Peak memory is that of the largest tile.
   Small tiles are concatenated into one network call (graphs side by side,
   edge indices offset) up to ``max_batch_nodes`` nodes.
4. **Only what the owned points need.** The geometric halo is a guarantee,
   not the need: a typical hop is a fraction of ``r``. The hop distance of
   every halo node to the tile's own nodes is counted (a breadth-first search
   on the tile's graph); nodes more than ``T`` hops away are dropped, and a
   node ``h`` hops away is updated only in the first ``T - h`` steps. The
   outputs are unchanged; the work is what the owned points' ``T``-hop
   neighbourhoods cost (measured in ``benchmarks/results/scale.md``). By
   default the tiles are also *sized* on that kept halo, measured on a few
   probe tiles (:func:`hop_halo_width`), so that a tile holds about the node
   budget and the halo's share of the work is smaller.

So, for fixed features, tiling is exact; what changes the result is the choice
of features (step 2), which is what ``feature_tile_size`` controls.

Tile assignment is vectorised (one floor division and one sort); the loops run
over tiles, never over points or edges.
"""

from __future__ import annotations

import contextlib
import math
import numbers
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace

import joblib
import numpy as np
import torch
from scipy import sparse
from scipy.sparse import csgraph
from threadpoolctl import threadpool_limits

from ._validation import check_coordinates, check_positive, is_integer_scalar
from .graph import (
    N_EIGENVECTORS,
    build_graph,
    delaunay_edge_pencils,
    distinct_locations,
    edge_frame,
    laplacian_eigenvector_features,
    sort_edges,
)
from .parallel import torch_threads

__all__ = [
    "TILING_THRESHOLD",
    "SquareTiles",
    "default_tile_size",
    "fov_network_outputs",
    "hop_halo_width",
    "resolve_tile_size",
    "tile_eigenvector_features",
    "tiled_edges",
    "tiled_network_outputs",
]

# FOVs with more localisations than this are tiled when tile_size="auto".
TILING_THRESHOLD = 50_000
# Nodes (owned + halo) aimed at per tile by default_tile_size: bounds the
# network's working memory (about 1 GB with hidden_size=64) and the
# triangulation's.
DEFAULT_TILE_NODES = 2**17
# Points (owned + Delaunay margin) aimed at per triangulation tile. Qhull's cost
# per point grows with the cloud (uniform points, one thread: 4.2 us at 10^4,
# 7.5 at 8 x 10^4), so small tiles pay off once the margin is small: with the
# 1-radius margin, 10^6 localisations (one thread, three runs each) were
# triangulated in 3.7-4.2 CPU-s (FGFR1) and 3.9-5.0 (simulated) with tiles of
# 6,000 points, 4.2-4.4 and 4.0-5.3 with 12,000, 5.7-6.9 and 4.5-8.4 with
# 25,000 (same edges).
TRIANGULATION_TILE_NODES = 6_000
# Default Delaunay margin of a triangulation tile, in connectivity radii: the
# least that holds every edge of the tile's points. The edges do not depend on
# it (tiled_edges proves or removes every edge near the margin); the cost does:
# with a 4-radius margin and 25,000-point tiles (the earlier default, not
# exact) 10^6 simulated localisations took 7.3 CPU-s, twice as long.
DELAUNAY_MARGIN_RADII = 1.0
# Whole (untiled) FOVs smaller than this run on one torch and one BLAS thread:
# extra threads only spin on so small a graph. Transform of real FGFR1 FOVs on
# the idle 2-core machine, one thread against two: 3,000 localisations 85 vs
# 107 ms; 10,000: 347-364 vs 306-316 ms; 20,000: 751-759 vs 595 ms.
SINGLE_THREAD_MAX_LOCALIZATIONS = 5_000
# Larger FOVs get their eigenvector features one chunk of whole feature tiles
# at a time (bounds the eigen-solver's working memory): a chunk holds whole
# tiles, so up to this many localisations plus one tile's.
FEATURE_CHUNK_NODES = 2**20


@dataclass(frozen=True)
class SquareTiles:
    """A square grid over a point cloud, with the points sorted by tile.

    Tile ``(i, j)`` covers ``[origin + (i, j) * tile_size, origin + (i + 1, j + 1) * tile_size)``
    and has the flat id ``i * shape[1] + j``.

    Attributes
    ----------
    origin : ndarray of shape (2,)
    tile_size : float
    shape : tuple of int
        Tiles along x and y.
    tile_of : ndarray of shape (n_points,), int64
        Flat id of the tile that owns each point.
    order : ndarray of shape (n_points,), int64
        Point indices sorted by tile (stable).
    bounds : ndarray of shape (n_tiles + 1,), int64
        ``order[bounds[t]:bounds[t + 1]]`` are the points of tile ``t``.
    """

    origin: np.ndarray
    tile_size: float
    shape: tuple
    tile_of: np.ndarray
    order: np.ndarray
    bounds: np.ndarray

    @classmethod
    def from_points(cls, X, tile_size, origin=None):
        """Grid of ``tile_size`` squares starting at ``origin`` (default: the lower-left corner of X)."""
        X = np.asarray(X, dtype=np.float64)
        tile_size = float(tile_size)
        origin = X.min(axis=0) if origin is None else np.asarray(origin, dtype=np.float64)
        # Float indices until the number of tiles is known to be sane: the
        # cast to int64 is undefined beyond its range (a tile_size far too
        # small for the FOV).
        # A tile_size tiny enough (1e-320) makes the quotient overflow to inf:
        # reported as too many tiles below, not as int(inf)'s OverflowError.
        with np.errstate(over="ignore"):
            cell = np.floor((X - origin) / tile_size)
        if cell.size and cell.min() < 0:
            raise ValueError("origin must be at or below the smallest coordinate of X.")
        finite = bool(np.isfinite(cell).all())
        shape = tuple(int(v) for v in (cell.max(axis=0) + 1)) if cell.size and finite else (0, 0)
        n_tiles = shape[0] * shape[1]
        if not finite or n_tiles > max(10 * X.shape[0], 10**6):
            # The grid is dense (one bound per tile): a tile_size in the wrong
            # units (um for nm data) would allocate gigabytes before failing.
            extent = np.ptp(X, axis=0)
            how_many = f"{n_tiles:,}" if finite else "more than 10^308"
            raise ValueError(
                f"tile_size={tile_size:g} cuts a FOV of {extent[0]:.4g} x {extent[1]:.4g} into "
                f"{how_many} tiles for {X.shape[0]:,} localisations; tile_size is a length in the "
                "units of X (nm for SMLM data), and tiles of thousands of localisations work best."
            )
        cell = cell.astype(np.int64)
        tile_of = cell[:, 0] * (shape[1] if shape[1] else 1) + cell[:, 1]
        order = np.argsort(tile_of, kind="stable")
        bounds = np.searchsorted(tile_of[order], np.arange(shape[0] * shape[1] + 1))
        return cls(origin, tile_size, shape, tile_of, order, bounds)

    @property
    def n_tiles(self):
        return self.shape[0] * self.shape[1]

    def non_empty(self):
        """Flat ids of the tiles that own at least one point."""
        return np.flatnonzero(np.diff(self.bounds))

    def owned(self, tile):
        """Indices of the points that tile ``tile`` owns (in increasing order)."""
        return self.order[self.bounds[tile] : self.bounds[tile + 1]]

    def box(self, tile, pad):
        """Lower and upper corners of tile ``tile`` grown by ``pad`` on every side."""
        i, j = divmod(int(tile), self.shape[1])
        low = self.origin + np.array([i, j]) * self.tile_size - pad
        high = self.origin + np.array([i + 1, j + 1]) * self.tile_size + pad
        return low, high

    def around(self, X, tile, pad):
        """Sorted indices of the points in tile ``tile`` grown by ``pad`` on every side.

        Only the tiles within ``ceil(pad / tile_size)`` rows and columns are
        looked at (each a contiguous slice of ``order``), then the grown box is
        applied exactly (closed on every side).
        """
        nx, ny = self.shape
        i, j = divmod(int(tile), ny)
        m = int(math.ceil(pad / self.tile_size)) if pad > 0 else 0
        j0, j1 = max(j - m, 0), min(j + m, ny - 1)
        slices = [
            self.order[self.bounds[c * ny + j0] : self.bounds[c * ny + j1 + 1]]
            for c in range(max(i - m, 0), min(i + m, nx - 1) + 1)
        ]
        idx = np.concatenate(slices)
        low, high = self.box(tile, pad)
        points = X[idx]
        # The tile's own points are always in: a point just outside its
        # tile's box by float rounding (floor division vs comparison) must not
        # be lost when the pad is 0.
        x, y = points[:, 0], points[:, 1]
        inside = ((x >= low[0]) & (x <= high[0]) & (y >= low[1]) & (y <= high[1])) | (
            self.tile_of[idx] == tile
        )
        return np.sort(idx[inside])


def default_tile_size(X, halo, *, target_nodes=DEFAULT_TILE_NODES):
    """Side of the owned part of a tile so that a tile with its halo holds about ``target_nodes`` points.

    The density is the FOV's mean (localisations over bounding-box area). The
    side is at least ``2 * halo`` (then a tile with its halo has at most 4
    times the points it owns) and at least 1/1000 of the FOV's larger side (at
    most a million tiles).
    """
    X = np.asarray(X, dtype=np.float64)
    extent = np.ptp(X, axis=0)
    area = float(np.prod(np.maximum(extent, 1e-12 * max(extent.max(), 1.0))))
    density = X.shape[0] / area
    grown_side = math.sqrt(target_nodes / density)
    side = max(grown_side - 2.0 * halo, 2.0 * halo, float(extent.max()) / 1000.0)
    return float(side)


def hop_halo_width(X, halo, indptr, target, n_steps, *, target_nodes=DEFAULT_TILE_NODES,
                   local_of=None, n_probes=3):
    """Width of the halo the owned points' ``n_steps``-hop neighbourhoods actually reach.

    The geometric halo (``n_steps`` connectivity radii) bounds how far messages
    travel, but a typical hop is a fraction of the radius, and the hop search
    of :func:`tiled_network_outputs` drops every node farther than
    ``n_steps`` hops. Sizing tiles on the geometric halo therefore leaves
    them far below the node budget (10^6 FGFR1 localisations, 2 threads:
    54,000 nodes kept per tile for a budget of 98,000), and the halo's share
    of the work larger than it needs to be. Here the kept halo is measured
    on up to ``n_probes`` interior tiles of the geometric sizing, or of the
    largest side that leaves an interior tile (at the quartiles of their
    point counts): a tile of side ``s`` that keeps ``K``
    of the nodes for ``O`` owned ones has a halo of width
    ``s (sqrt(K / O) - 1) / 2`` at its own density. The widest probe is
    returned, at most ``halo``; ``halo`` itself when no tile of at least
    ``halo`` lies with its whole halo inside the FOV's bounding box (small
    FOVs).

    Parameters
    ----------
    X : ndarray of shape (n, 2)
    halo : float
        The geometric halo (exact for the message passing).
    indptr, target : ndarray
        The directed graph in CSR form (edges sorted by source).
    n_steps : int
    target_nodes : int
        Node budget of a tile with its halo (as for :func:`default_tile_size`).
    local_of : ndarray of shape (n,), optional
        Scratch array filled with -1 (left so on return).
    n_probes : int, default=3

    Returns
    -------
    width : float
    """
    X = np.asarray(X, dtype=np.float64)
    if halo <= 0:
        return float(halo)
    extent = np.ptp(X, axis=0)
    # The width hardly depends on the probe's side, so on FOVs too small for
    # an interior tile of the geometric sizing (10^5 localisations) the
    # probes are smaller: the largest side that leaves one, at least the halo.
    side = min(default_tile_size(X, halo, target_nodes=target_nodes), (float(extent.min()) - halo) / 2.0)
    if side < halo:
        return float(halo)
    tiles = SquareTiles.from_points(X, side)
    i, j = np.divmod(np.arange(tiles.n_tiles), max(tiles.shape[1], 1))
    counts = np.diff(tiles.bounds)
    low_ok = (np.minimum(i, j) * side) >= halo
    high_ok = ((i + 1) * side + halo <= extent[0]) & ((j + 1) * side + halo <= extent[1])
    interior = np.flatnonzero(low_ok & high_ok & (counts > 0))
    if not interior.size:
        return float(halo)
    by_count = interior[np.argsort(counts[interior], kind="stable")]
    picks = np.unique(by_count[np.floor(np.linspace(0.25, 0.75, n_probes) * (by_count.size - 1)).astype(int)])
    if local_of is None:
        local_of = np.full(X.shape[0], -1, dtype=np.int64)
    widths = []
    for tile in picks:
        owned = tiles.owned(tile)
        kept = _needed_subgraph(tiles.around(X, tile, halo), owned, indptr, target, local_of, n_steps)[0]
        widths.append(side * (math.sqrt(kept.size / owned.size) - 1.0) / 2.0)
    return float(min(max(widths), halo))


def tiled_edges(X, connectivity_radius, tiles, *, delaunay_margin=None, n_threads=1):
    """Delaunay edges shorter than the radius, triangulated tile by tile: exactly the whole FOV's.

    Each tile is triangulated with the points within ``delaunay_margin`` of
    it. Every edge of the whole FOV's triangulation is an edge of this
    smaller one (an empty circle stays empty in a subset); the converse can
    fail near the margin, where a point outside it would have split a
    triangle. So an edge is kept once one of its empty circles (see
    :func:`sklearn_miro.graph.delaunay_edge_pencils`) is shown to hold no
    point outside the margin: when the smallest of them lies inside the
    triangulated box (always for an edge whose diametral circle is empty,
    since the margin is at least the radius), or else after the points of a
    ring twice as wide have narrowed the range of empty circles, ring after
    ring. An edge whose range becomes empty was not a Delaunay edge.

    Parameters
    ----------
    X : ndarray of shape (n, 2)
    connectivity_radius : float
    tiles : SquareTiles
    delaunay_margin : float, optional
        Points of the neighbouring tiles within this distance of a tile are
        triangulated with it; at least the connectivity radius (edges are
        shorter). Default: ``DELAUNAY_MARGIN_RADII`` radii. It changes the
        cost, not the edges.
    n_threads : int, default=1
        Tiles triangulated at once (Qhull releases the GIL).

    Returns
    -------
    edges : ndarray of shape (2, n_edges), int64
        Each undirected edge once, ``edges[0] < edges[1]``, sorted.
    """
    r = float(connectivity_radius)
    margin = _delaunay_margin(r, delaunay_margin)
    if X.shape[0] == 0:
        return np.empty((2, 0), dtype=np.int64)
    lowest, highest = X.min(axis=0), X.max(axis=0)
    # Work on the points sorted by tile: a tile and its margin are then a few
    # contiguous runs of memory instead of scattered rows (gathering them in
    # the caller's order took 0.4 of 4.4 CPU-s at 10^6 localisations). The
    # numbering only decides which tile takes an edge, so the edges are the
    # same; they are mapped back at the end.
    # Coordinates relative to the tile grid's origin keep the circle tests
    # precise on stage coordinates of 10^8 nm.
    by_tile = tiles.order
    X = X[by_tile] - tiles.origin
    lowest, highest = lowest - tiles.origin, highest - tiles.origin
    tiles = SquareTiles(np.zeros(2), tiles.tile_size, tiles.shape, tiles.tile_of[by_tile],
                        np.arange(X.shape[0]), tiles.bounds)

    def tile_edges(tile):
        ext = tiles.around(X, tile, margin)
        ext_points = X[ext]
        local, t_low, t_high = delaunay_edge_pencils(ext_points)
        # ext is sorted, so local u < v stays u < v in global numbering.
        u, v = ext[local[0]], ext[local[1]]
        owned = tiles.tile_of[u] == tile
        u, v, t_low, t_high = u[owned], v[owned], t_low[owned], t_high[owned]
        midpoint, normal, half = edge_frame(X, u, v)
        short = half < r / 2
        u, v, midpoint, normal, half = u[short], v[short], midpoint[short], normal[short], half[short]
        t_low, t_high = t_low[short], t_high[short]
        removed = np.zeros(u.size, dtype=bool)
        unknown = np.flatnonzero(np.isnan(t_low) | np.isnan(t_high))
        if unknown.size:
            # Near-flat triangles gave no reliable range: bound these edges'
            # circles by the tile's own points directly (ends excluded).
            unbounded = np.full(unknown.size, np.inf)
            t_low[unknown], t_high[unknown], removed[unknown] = _narrow_pencils(
                ext_points, midpoint[unknown], normal[unknown], half[unknown], -unbounded, unbounded,
                point_ids=ext, ends=(u[unknown], v[unknown]),
            )
        pad, seen = margin, ext
        while True:
            low, high = tiles.box(tile, pad)
            if np.all(low <= lowest) and np.all(high >= highest):
                break  # every point has been seen
            with np.errstate(invalid="ignore"):
                t = np.clip(0.0, t_low, t_high)  # the smallest empty circle
                radius = np.sqrt(half * half + t * t)
                cx = midpoint[:, 0] + t * normal[:, 0]
                cy = midpoint[:, 1] + t * normal[:, 1]
                # Copies of one location (length 0) are always joined.
                proven = _misses_unseen(cx, cy, radius, low, high, lowest, highest) | (half == 0)
            open_ = np.flatnonzero(~proven & ~removed)
            if open_.size == 0:
                break
            pad *= 2.0
            grown = tiles.around(X, tile, pad)
            ring = X[grown[~np.isin(grown, seen, assume_unique=True)]]
            seen = grown
            t_low[open_], t_high[open_], removed[open_] = _narrow_pencils(
                ring, midpoint[open_], normal[open_], half[open_], t_low[open_], t_high[open_]
            )
        return np.stack([u[~removed], v[~removed]])

    parts = _map_threads(tile_edges, tiles.non_empty(), n_threads)
    edges = by_tile[np.concatenate(parts, axis=1)]
    return sort_edges(edges.min(axis=0), edges.max(axis=0), X.shape[0])


def _misses_unseen(cx, cy, radius, low, high, lowest, highest):
    """Whether each open disc misses the FOV's bounding box outside the closed box ``[low, high]``.

    The part of the bounding box outside the box is covered by up to four
    slabs (left, right, below, above); a disc misses a slab when its centre
    is at least ``radius`` from it. Testing against the bounding box, not
    the plane, proves the huge circles of edges along the FOV's border
    (a hull edge of near-collinear points) without searching every ring.
    """
    misses = np.ones(cx.shape, dtype=bool)
    slabs = [
        ((lowest[0], lowest[1]), (low[0], highest[1])),
        ((high[0], lowest[1]), (highest[0], highest[1])),
        ((lowest[0], lowest[1]), (highest[0], low[1])),
        ((lowest[0], high[1]), (highest[0], highest[1])),
    ]
    for (x0, y0), (x1, y1) in slabs:
        if x0 >= x1 or y0 >= y1:
            continue  # the box reaches past the bounding box on that side
        dx = np.maximum(np.maximum(x0 - cx, 0.0), cx - x1)
        dy = np.maximum(np.maximum(y0 - cy, 0.0), cy - y1)
        misses &= dx * dx + dy * dy >= radius * radius
    return misses


def _narrow_pencils(points, midpoint, normal, half, t_low, t_high, *, point_ids=None, ends=None,
                    chunk=2**22):
    """Narrow each edge's range of empty circles so that they also avoid ``points``.

    The circle of centre ``midpoint + t * normal`` through the edge's ends
    contains a point w iff ``2 t a > b``, with ``a = normal . (w - midpoint)``
    and ``b = |w - midpoint|^2 - half^2``: a bound on t from above (a > 0) or
    below (a < 0); a point strictly between the ends (a = 0, b < 0) is in
    every circle. Edges are taken in chunks of at most ``chunk`` pairs. With
    ``point_ids`` (the points' ids) and ``ends`` (each edge's two end ids),
    an edge's own ends are left out (rounding would make them bound it).

    Returns
    -------
    t_low, t_high : ndarray
        The narrowed ranges (an unknown, NaN, range stays unknown).
    removed : ndarray of bool
        Edges left without any empty circle: not Delaunay edges. Four or more
        points on one circle make two triangulations equally Delaunay; a
        range that closes only to rounding (relative 1e-9) keeps its edge, so
        that one of the two stays.
    """
    t_low, t_high = t_low.copy(), t_high.copy()
    inside = np.zeros(t_low.size, dtype=bool)
    step = max(1, chunk // max(points.shape[0], 1))
    for start in range(0, t_low.size if points.shape[0] else 0, step):
        sl = slice(start, start + step)
        dx = points[None, :, 0] - midpoint[sl, 0, None]
        dy = points[None, :, 1] - midpoint[sl, 1, None]
        a = dx * normal[sl, 0, None] + dy * normal[sl, 1, None]
        b = dx * dx + dy * dy - half[sl, None] ** 2
        if ends is not None:
            own = (point_ids[None, :] == ends[0][sl, None]) | (point_ids[None, :] == ends[1][sl, None])
            a[own], b[own] = 0.0, 0.0
        with np.errstate(divide="ignore", invalid="ignore"):
            bound = b / (2.0 * a)
        # np.minimum keeps an unknown (NaN) range unknown.
        t_high[sl] = np.minimum(t_high[sl], np.where(a > 0, bound, np.inf).min(axis=1))
        t_low[sl] = np.maximum(t_low[sl], np.where(a < 0, bound, -np.inf).max(axis=1))
        inside[sl] = ((a == 0) & (b < 0)).any(axis=1)
    with np.errstate(invalid="ignore"):
        slack = 1e-9 * (half + np.abs(np.where(np.isfinite(t_low), t_low, 0.0))
                        + np.abs(np.where(np.isfinite(t_high), t_high, 0.0)))
        removed = inside | (t_low > t_high + slack)
    return t_low, t_high, removed


def _delaunay_margin(radius, delaunay_margin):
    """The triangulation margin: ``delaunay_margin`` checked, or the default for ``radius``."""
    if delaunay_margin is None:
        return DELAUNAY_MARGIN_RADII * float(radius)
    if isinstance(delaunay_margin, bool) or not isinstance(delaunay_margin, numbers.Real):
        raise ValueError(f"delaunay_margin must be a number of nm; got {delaunay_margin!r}.")
    margin = float(delaunay_margin)
    if not margin >= float(radius):
        raise ValueError(
            f"delaunay_margin must be at least the connectivity radius ({float(radius)!r}): an "
            f"edge reaches that far out of its tile; got {delaunay_margin!r}."
        )
    return margin


def _resolve_threads(n_threads):
    """None: torch's thread count; negative: counted from the CPUs (-1 all, -2 all but one)."""
    if n_threads is None:
        return torch.get_num_threads()
    if is_integer_scalar(n_threads) and n_threads < 0:
        return max(1, joblib.cpu_count() + 1 + int(n_threads))
    return int(check_positive(n_threads, "n_threads", integer=True))


def _map_threads(function, items, n_threads):
    """``[function(item) for item in items]``, on ``n_threads`` threads when more than one."""
    items = list(items)
    if n_threads <= 1 or len(items) <= 1:
        return [function(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(n_threads, len(items))) as pool:
        return list(pool.map(function, items))


def _directed(edges, n_nodes):
    """Both directions of undirected edges between ``n_nodes`` nodes, sorted by (source, target)."""
    return sort_edges(np.concatenate([edges[0], edges[1]]), np.concatenate([edges[1], edges[0]]), n_nodes)


def tile_eigenvector_features(X, edge_index, feature_tile_size, *, origin=None,
                              n_eigenvectors=N_EIGENVECTORS, normalization="rms"):
    """Laplacian eigenvector features computed per square feature tile.

    Edges whose endpoints lie in different feature tiles are left out of the
    eigen-problem (not out of the graph), so each connected component lies in
    one feature tile; see :func:`sklearn_miro.graph.laplacian_eigenvector_features`.

    Parameters
    ----------
    X : ndarray of shape (n, 2)
    edge_index : ndarray of shape (2, n_edges)
        Directed edges, both directions present.
    feature_tile_size : float or None
        Side of the feature tiles; None: no split (whole-graph features).
    origin : array-like of shape (2,), optional
        Corner of the feature-tile grid; default: the lower-left corner of X.

    Returns
    -------
    features : ndarray of shape (n, n_eigenvectors), float64
    """
    X = np.asarray(X, dtype=np.float64)
    n = X.shape[0]
    if feature_tile_size is not None:
        check_positive(feature_tile_size, "feature_tile_size")
    if feature_tile_size is None or not edge_index.shape[1]:
        return laplacian_eigenvector_features(n, edge_index, n_eigenvectors, normalization=normalization)
    # Whole feature tiles in chunks of about FEATURE_CHUNK_NODES localisations
    # (one chunk below that), solved one chunk at a time, so that the solver's
    # working arrays (several per edge) are a chunk's, not the FOV's. Not
    # threaded: scipy's LAPACK and ARPACK wrappers hold the GIL (measured: the
    # same 6.5 s wall for 300,000 localisations on one or two threads).
    origin = X.min(axis=0) if origin is None else np.asarray(origin, dtype=np.float64)
    # Tiles are told apart by their (column, row) indices kept as floats and
    # sorted by column, then row (the order of the tile ids before). A linear
    # id, column * n_rows + row, overflowed int64 when feature_tile_size was
    # tiny for the FOV's extent (n_columns * n_rows > 2^63), and casting the
    # indices to int64 is undefined beyond it; +0.0 makes -0.0 equal to 0.0.
    cell = np.floor((X - origin) / float(feature_tile_size)) + 0.0
    by_cell = np.lexsort((cell[:, 1], cell[:, 0]))
    sorted_cell = cell[by_cell]
    new_cell = np.r_[True, np.any(sorted_cell[1:] != sorted_cell[:-1], axis=1)]
    cell_of_node = np.empty(n, dtype=np.int64)
    cell_of_node[by_cell] = np.cumsum(new_cell) - 1
    cell_sizes = np.diff(np.r_[np.flatnonzero(new_cell), n])
    before = np.cumsum(cell_sizes) - cell_sizes  # nodes in the cells before each cell
    chunk_of_node = (before // FEATURE_CHUNK_NODES)[cell_of_node]
    source, target = edge_index
    inside = cell_of_node[source] == cell_of_node[target]
    source, target = source[inside], target[inside]
    edge_order = np.argsort(chunk_of_node[source], kind="stable")
    source, target = source[edge_order], target[edge_order]
    node_order = np.argsort(chunk_of_node, kind="stable")
    n_chunks = int(chunk_of_node.max()) + 1
    node_bounds = np.searchsorted(chunk_of_node[node_order], np.arange(n_chunks + 1))
    edge_bounds = np.searchsorted(chunk_of_node[source], np.arange(n_chunks + 1))
    local_of = np.empty(n, dtype=np.int64)
    features = np.zeros((n, n_eigenvectors))
    for c in range(n_chunks):
        nodes = node_order[node_bounds[c] : node_bounds[c + 1]]
        local_of[nodes] = np.arange(nodes.size)
        lo, hi = edge_bounds[c], edge_bounds[c + 1]
        edges = np.stack([local_of[source[lo:hi]], local_of[target[lo:hi]]])
        features[nodes] = laplacian_eigenvector_features(nodes.size, edges, n_eigenvectors,
                                                         normalization=normalization)
    return features


def _tile_subgraph(nodes, indptr, target, local_of):
    """Edges among ``nodes`` (sorted global ids), in local numbering; vectorised."""
    local_of[nodes] = np.arange(nodes.size)
    counts = indptr[nodes + 1] - indptr[nodes]
    starts = np.repeat(indptr[nodes] - np.cumsum(counts) + counts, counts)
    edge_ids = np.arange(counts.sum()) + starts
    local_target = local_of[target[edge_ids]]
    local_source = np.repeat(np.arange(nodes.size), counts)
    local_of[nodes] = -1
    keep = local_target >= 0
    return edge_ids[keep], local_source[keep], local_target[keep]


def _hop_depth(n_nodes, src, tgt, owned_local, max_hops):
    """Hops from every node to the nearest of ``owned_local``, along the messages' direction.

    A node's state reaches a target through each of its out-edges, so the
    search runs from the owned nodes backwards (target to source). Nodes more
    than ``max_hops`` hops away get ``inf``.
    """
    graph = sparse.csr_matrix((np.ones(src.size), (tgt, src)), shape=(n_nodes, n_nodes))
    return csgraph.dijkstra(graph, indices=owned_local, min_only=True, unweighted=True,
                            limit=max_hops + 0.5)


def _needed_subgraph(nodes, owned, indptr, target, local_of, n_steps):
    """The part of a tile's graph that its owned nodes' outputs depend on.

    Returns the kept nodes (global ids, sorted), their hop depths, the kept
    edges' global ids and their local source/target indices, and the owned
    nodes' local indices.
    """
    edge_ids, ls, lt = _tile_subgraph(nodes, indptr, target, local_of)
    owned_local = np.searchsorted(nodes, owned)
    hops = _hop_depth(nodes.size, ls, lt, owned_local, n_steps)
    keep = hops <= n_steps
    new_index = np.cumsum(keep) - 1
    keep_edge = keep[ls] & keep[lt]
    return (nodes[keep], hops[keep], edge_ids[keep_edge], new_index[ls[keep_edge]],
            new_index[lt[keep_edge]], new_index[owned_local])


def _shrinking_halo(hops, src, tgt, n_steps):
    """Node/edge orders and per-step active prefixes for :meth:`MIRONetwork.forward`.

    The state at step ``k`` (0-based) of a node ``h`` hops from the owned
    nodes reaches them by the last step only if ``h <= n_steps - 1 - k``.
    Nodes sorted by ``h`` make the needed ones a prefix at every step, and
    edges sorted by their target's rank make the edges into needed nodes a
    prefix; the sources of those edges are at most one hop further, so among
    the previous step's active nodes.
    """
    order = np.argsort(hops, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    src, tgt = rank[src], rank[tgt]
    edge_order = np.argsort(tgt, kind="stable")
    src, tgt = src[edge_order], tgt[edge_order]
    sorted_hops = hops[order]
    n_active = np.searchsorted(sorted_hops, n_steps - 1 - np.arange(n_steps) + 0.5, side="left")
    e_active = np.searchsorted(tgt, n_active, side="left")
    active = list(zip(n_active.tolist(), e_active.tolist()))
    return order, rank, src, tgt, edge_order, active


def tiled_network_outputs(
    network,
    X,
    *,
    connectivity_radius,
    length_scale,
    steps,
    tile_size=None,
    halo=None,
    feature_tile_size=None,
    normalization="rms",
    delaunay_margin=None,
    max_batch_nodes=DEFAULT_TILE_NODES,
    device="cpu",
    timings=None,
    return_connected=False,
    n_threads=None,
    progress=None,
):
    """Network outputs of one FOV, computed tile by tile.

    Parameters
    ----------
    network : MIRONetwork
    X : array-like of shape (n, 2)
        Coordinates in the network's space (the units ``connectivity_radius``
        is in).
    connectivity_radius, length_scale : float
        As in :func:`sklearn_miro.graph.build_graph`.
    steps : sequence of int
        Recurrent steps (0-based, each >= 0, at least one) whose outputs are
        returned.
    tile_size : float, optional
        Side of the owned part of a tile; default :func:`default_tile_size`
        on the halo width measured by :func:`hop_halo_width`.
    halo : float, optional
        Width of the halo; default ``(max(steps) + 1) * connectivity_radius``,
        which makes the message passing exact for the owned points.
    feature_tile_size : float or None
        See :func:`tile_eigenvector_features`.
    normalization : {"rms", "unit"}
        Eigenvector scaling.
    delaunay_margin : float, optional
        See :func:`tiled_edges`.
    max_batch_nodes : int
        Tiles are concatenated into one network call up to this many nodes
        (all calls running at once together, see ``n_threads``).
    device : str or torch.device
    timings : dict, optional
        If given, wall and CPU seconds of each stage are added to it under the
        keys ``"graph"``, ``"features"`` and ``"network"`` (each a pair
        ``[wall, cpu]``), for profiling.
    return_connected : bool, default=False
        Also return which localisations have a neighbour closer than the radius.
    n_threads : int, optional
        Threads for the triangulation and, on the CPU, tile batches run by
        the network at once (each on one torch thread, with ``3 / (n_threads
        + 2)`` of the default tile's nodes, so memory grows little); default
        ``torch.get_num_threads()``, the network's own (1 inside the parallel
        FOV workers of :func:`sklearn_miro.parallel.map_fovs`). Negative
        values count from the number of CPUs as ``n_jobs`` does (-1: all of
        them). The result does not depend on it.
    progress : tqdm-like, optional
        A progress bar over the FOV's localisations (the caller sets its
        total): its postfix names the stage, and it advances by each tile
        batch's owned localisations as the batch is done. It stays at 0
        through the triangulation and eigenvector stages; its clock is
        restarted (``progress.reset(total=progress.total)``, if it has
        ``reset``) when the network stage starts, so that its rate and ETA are
        the network's.

    Returns
    -------
    outputs : ndarray of shape (len(steps), n, n_outputs), float64
        0 for localisations without any neighbour closer than the radius.
    connected : ndarray of shape (n,), bool
        Only with ``return_connected=True``.
    """
    X = check_coordinates(X, min_points=1)
    r = float(check_positive(connectivity_radius, "connectivity_radius"))
    unit = float(check_positive(length_scale, "length_scale"))
    steps = _check_steps(steps)
    n_steps = max(steps) + 1
    halo = n_steps * r if halo is None else float(check_positive(halo, "halo", allow_zero=True))
    check_positive(max_batch_nodes, "max_batch_nodes", integer=True)
    n_threads = _resolve_threads(n_threads)
    # n_threads batches run at once on the CPU, so each gets a smaller share
    # of the node budget: 3 / (n_threads + 2) of it. Measured on 10^6 FGFR1
    # localisations with 2 threads (peak RSS, network CPU), tiles then sized
    # on the geometric halo: full-size tiles 1.99 GB, 31.9 s (1.39 GB one at
    # a time); 3/4 see benchmarks/results/scale.md; 2/3 1.64-1.71 GB,
    # 34.5-35.6 s; 1/2 1.46 GB, 37.9 s (more halo per owned localisation).
    # Sized on the kept halo (hop_halo_width), 3/4 holds about 75,000 nodes
    # per tile instead of 54,000: 1.76 GB instead of 1.39-1.46.
    in_flight = n_threads if torch.device(device).type == "cpu" else 1
    target_nodes = max(3 * DEFAULT_TILE_NODES // (in_flight + 2), 1)
    if tile_size is not None:
        check_positive(tile_size, "tile_size")
    if feature_tile_size is not None:
        check_positive(feature_tile_size, "feature_tile_size")
    max_batch_nodes = max(3 * int(max_batch_nodes) // (in_flight + 2), 1)
    n = X.shape[0]
    outputs = np.zeros((len(steps), n, network.n_outputs))
    clock = _Clock(timings)
    stage = _stage_reporter(progress)
    stage("triangulating")
    origin = X.min(axis=0)
    margin = _delaunay_margin(r, delaunay_margin)
    edge_tiles = SquareTiles.from_points(
        X, default_tile_size(X, margin, target_nodes=TRIANGULATION_TILE_NODES), origin=origin
    )
    edges = tiled_edges(X, r, edge_tiles, delaunay_margin=margin, n_threads=n_threads)
    if edges.shape[1] == 0:
        clock.lap("graph")
        return (outputs, np.zeros(n, dtype=bool)) if return_connected else outputs
    edge_index = _directed(edges, n)
    del edges
    clock.lap("graph")
    stage("eigenvectors")
    # The eigen-problems are small (a feature tile each): BLAS threads only
    # spin on them, and under load they cost many times the work (10^5 FGFR1
    # localisations on the shared 2-core machine: 0.7-0.8 CPU-s on one BLAS
    # thread, 2.1-38 with two).
    with threadpool_limits(limits=1, user_api="blas"):
        node_attr = tile_eigenvector_features(
            X, edge_index, feature_tile_size, origin=origin, normalization=normalization,
        ).astype(np.float32)
    clock.lap("features")
    stage("network")
    source, target = edge_index
    degree = np.bincount(source, minlength=n)
    indptr = np.concatenate([[0], np.cumsum(degree)])
    local_of = np.full(n, -1, dtype=np.int64)
    if tile_size is None:
        # Sized on the halo the hop search keeps, not on the geometric bound:
        # see hop_halo_width.
        reach = hop_halo_width(X, halo, indptr, target, n_steps, target_nodes=target_nodes,
                               local_of=local_of)
        tile_size = default_tile_size(X, reach, target_nodes=target_nodes)
    tiles = SquareTiles.from_points(X, tile_size, origin=origin)

    def flush(batch):
        node_parts, src_parts, tgt_parts, attr_parts, owned_parts, owned_local = [], [], [], [], [], []
        hop_parts = []
        offset = 0
        for nodes, hops, edge_ids, ls, lt, owned, owned_index in batch:
            node_parts.append(nodes)
            src_parts.append(ls + offset)
            tgt_parts.append(lt + offset)
            delta = X[source[edge_ids]] - X[target[edge_ids]]
            attr_parts.append(
                (np.column_stack([delta, np.sqrt((delta**2).sum(axis=1))]) / unit).astype(np.float32)
            )
            owned_parts.append(owned)
            owned_local.append(owned_index + offset)
            hop_parts.append(hops)
            offset += nodes.size
        nodes = np.concatenate(node_parts)
        src, tgt = np.concatenate(src_parts), np.concatenate(tgt_parts)
        attr = np.concatenate(attr_parts)
        # Order the nodes by their hop depth, and the edges by their target's
        # place: the nodes needed at a step are then a prefix, and so are the
        # edges.
        order, rank, src, tgt, edge_order, active = _shrinking_halo(
            np.concatenate(hop_parts), src, tgt, n_steps
        )
        with torch.inference_mode():
            out = network(
                torch.from_numpy(node_attr[nodes[order]]).to(device),
                torch.from_numpy(np.stack([src, tgt])).to(device),
                torch.from_numpy(attr[edge_order]).to(device),
                n_steps,
                active=active,
            )
            out = out[steps].double().cpu().numpy()
        # Every localisation has one owner tile: batches write disjoint rows.
        outputs[:, np.concatenate(owned_parts)] = out[:, rank[np.concatenate(owned_local)]]

    def batches():
        batch, batch_nodes = [], 0
        for tile in tiles.non_empty():
            owned = tiles.owned(tile)
            if not degree[owned].any():
                continue
            # local_of is a scratch array of _needed_subgraph: batches are
            # built one after another in this generator, never concurrently.
            nodes, hops, edge_ids, ls, lt, owned_index = _needed_subgraph(
                tiles.around(X, tile, halo), owned, indptr, target, local_of, n_steps
            )
            if batch and batch_nodes + nodes.size > max_batch_nodes:
                yield batch
                batch, batch_nodes = [], 0
            batch.append((nodes, hops, edge_ids, ls, lt, owned, owned_index))
            batch_nodes += nodes.size
        if batch:
            yield batch

    def done(batch):
        # Only connected owned localisations: the isolated ones are counted below.
        progress.update(sum(int(np.count_nonzero(degree[owned])) for _, _, _, _, _, owned, _ in batch))

    _run_batches(flush, batches(), n_threads, device, None if progress is None else done)
    if progress is not None:
        # Localisations without a neighbour are counted here, not with their
        # tile (whose batch may not exist: a tile of isolated points is skipped).
        progress.update(int(np.count_nonzero(degree == 0)))
    outputs[:, degree == 0] = 0.0
    clock.lap("network")
    return (outputs, degree > 0) if return_connected else outputs


def _stage_reporter(progress):
    """A function naming the current stage in ``progress``'s postfix (a no-op without one).

    The bar advances only in the network stage, so at its start the bar's
    clock is restarted (``reset``, when ``progress`` has one and has not
    advanced): otherwise its rate and ETA would count the triangulation and
    eigenvector stages (about 30 s of a 100 s pass at 10^6 localisations) as
    time spent on no localisation, and the first ETA would be several times
    too long.
    """
    if progress is None:
        return lambda name: None

    def stage(name):
        if name == "network" and hasattr(progress, "reset") and not getattr(progress, "n", 0):
            progress.reset(total=getattr(progress, "total", None))
        progress.set_postfix_str(name, refresh=True)

    return stage


def _run_batches(flush, batches, n_threads, device, done=None):
    """``flush(batch)`` for every batch; on the CPU, ``n_threads`` batches at once.

    ``done(batch)``, if given, is called in the calling thread after each
    batch has been flushed.

    Each batch then runs the network on one torch thread: the network's
    operations on a tile (gathers and scatters of ``n_edges x hidden`` floats)
    gain little from intra-op threads, which spin while they wait, and lose
    badly when other processes share the cores. Measured on 10^5 FGFR1
    localisations on the shared 2-core machine: 2.8 CPU-s for the network on
    one thread, 6.0-23.0 with two intra-op threads. At most ``n_threads``
    batches are in flight, so memory stays that of ``n_threads`` tiles.
    """
    done = done or (lambda batch: None)
    if n_threads <= 1 or torch.device(device).type != "cpu":
        for batch in batches:
            flush(batch)
            done(batch)
        return

    def flush_on_one_thread(batch):
        # The thread count belongs to the calling thread (OpenMP builds of
        # torch): each worker sets, and restores, its own.
        with torch_threads(1):
            flush(batch)

    with ThreadPoolExecutor(max_workers=n_threads) as pool:
        pending = {}
        for batch in batches:
            pending[pool.submit(flush_on_one_thread, batch)] = batch
            if len(pending) >= n_threads:
                # The next batch goes to whichever thread is free first (tiles
                # differ in cost: those on the FOV's border have less halo).
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    future.result()
                    done(pending.pop(future))
        for future in list(pending):
            future.result()
            done(pending.pop(future))


@contextlib.contextmanager
def _single_thread_below(limit, n, device):
    """One torch and one BLAS thread while a CPU FOV of ``n < limit`` localisations is processed.

    The caller's thread counts are restored afterwards.
    """
    if n >= limit or torch.device(device).type != "cpu":
        yield
        return
    with torch_threads(1), threadpool_limits(limits=1, user_api="blas"):
        yield


class _Clock:
    """Accumulates wall and CPU seconds per stage into a user's dict."""

    def __init__(self, timings):
        self.timings = timings
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def lap(self, name):
        if self.timings is None:
            return
        wall, cpu = time.perf_counter(), time.process_time()
        total = self.timings.setdefault(name, [0.0, 0.0])
        total[0] += wall - self.wall
        total[1] += cpu - self.cpu
        self.wall, self.cpu = wall, cpu


def _check_steps(steps):
    """``steps`` as a list of int: a non-empty sequence of 0-based recurrent steps.

    Parameters
    ----------
    steps : sequence of int
        Each an integer >= 0 (Python or NumPy integers; not bools or floats).

    Returns
    -------
    steps : list of int

    Raises
    ------
    ValueError
        If ``steps`` is not a sequence, is empty, or holds anything but
        integers >= 0.
    """
    if isinstance(steps, (str, bytes)) or not np.iterable(steps):
        raise ValueError(
            "steps must be a sequence of recurrent steps (0-based integers), e.g. [n_steps - 1]; "
            f"got {steps!r}."
        )
    steps = list(steps)
    if not steps:
        raise ValueError("steps is empty: give at least one recurrent step (0-based) to return.")
    for s in steps:
        if not is_integer_scalar(s) or s < 0:
            raise ValueError(
                f"steps must hold recurrent steps as integers >= 0 (0-based); got {s!r} in {steps!r}."
            )
    return [int(s) for s in steps]


def resolve_tile_size(tile_size, n_localizations):
    """Whether (and with which owned side) to tile a FOV.

    Parameters
    ----------
    tile_size : "auto", None or float
        ``"auto"``: tile FOVs with more than :data:`TILING_THRESHOLD`
        localisations, with tiles sized as :func:`tiled_network_outputs`
        does by default; ``None``: never tile;
        a number: always tile, with that side.
    n_localizations : int

    Returns
    -------
    use_tiles : bool
    side : float or None
        None means the default sizing of :func:`tiled_network_outputs`.
    """
    if tile_size is None:
        return False, None
    if isinstance(tile_size, str):
        if tile_size != "auto":
            raise ValueError(f"tile_size must be 'auto', None or a positive number; got {tile_size!r}.")
        return n_localizations > TILING_THRESHOLD, None
    return True, float(check_positive(tile_size, "tile_size"))


def fov_network_outputs(
    network,
    positions,
    *,
    connectivity_radius,
    length_scale,
    steps,
    normalization="rms",
    tile_size="auto",
    feature_tile_size=None,
    crop_features=False,
    device="cpu",
    return_connected=False,
    progress=None,
):
    """Network outputs of one FOV, whole or tiled (the estimators' inference core).

    Parameters
    ----------
    network : MIRONetwork
    positions : array-like of shape (n, 2)
        Coordinates in the network's space.
    connectivity_radius, length_scale : float
    steps : sequence of int
        Recurrent steps (0-based, each >= 0, at least one) whose outputs are
        returned.
    normalization : {"rms", "unit"}
    tile_size : "auto", None or float
        See :func:`resolve_tile_size`.
    feature_tile_size : float or None
        Side of the eigenvector tiles (:func:`tile_eigenvector_features`) of a
        tiled FOV; None: features of the whole graph (the tiled path then has
        no cost bound on its eigen-solves).
    crop_features : bool, default=False
        Use ``feature_tile_size`` on an untiled FOV too (then tiled and untiled
        outputs agree); False: an untiled FOV gets its whole graph's features.
    device : str or torch.device
    return_connected : bool, default=False
        Also return which localisations have a neighbour closer than the radius.
    progress : tqdm-like, optional
        Passed to :func:`tiled_network_outputs` when the FOV is tiled.

    Returns
    -------
    outputs : ndarray of shape (len(steps), n, n_outputs), float64
        0 for localisations without a neighbour closer than the radius. Exact
        copies of one location are one node of the graph and share its
        outputs (a location and its copies alone are not connected).
    connected : ndarray of shape (n,), bool
        Only with ``return_connected=True``.
    """
    # Checked here, not only by tiled_network_outputs: the untiled path
    # hands them to build_graph and torch, whose errors do not say what was
    # wrong (a list has no .shape; an empty or negative step fails in max()
    # or torch.zeros).
    positions = check_coordinates(positions, min_points=1, name="positions")
    steps = _check_steps(steps)
    n = positions.shape[0]
    first, inverse = distinct_locations(positions)
    if first.size < n:
        # Exact copies of a localisation (a file read twice, coordinates rounded
        # to a grid) would enter the graph as extra nodes, joined to each other by
        # zero-length edges and to every neighbour of their location: a graph no
        # network was trained on. With every localisation of a FOV tripled, the
        # pretrained network moved points millions of nm. The network sees each
        # location once, and every copy gets its location's outputs.
        result = fov_network_outputs(
            network, positions[first], connectivity_radius=connectivity_radius,
            length_scale=length_scale, steps=steps, normalization=normalization,
            tile_size=tile_size, feature_tile_size=feature_tile_size, crop_features=crop_features,
            device=device, return_connected=return_connected, progress=progress,
        )
        if return_connected:
            return result[0][:, inverse], result[1][inverse]
        return result[:, inverse]
    use_tiles, side = resolve_tile_size(tile_size, n)
    if use_tiles:
        return tiled_network_outputs(
            network, positions, connectivity_radius=connectivity_radius,
            length_scale=length_scale, steps=steps, tile_size=side,
            feature_tile_size=feature_tile_size, normalization=normalization, device=device,
            return_connected=return_connected, progress=progress,
        )
    outputs = np.zeros((len(steps), n, network.n_outputs))
    if not crop_features:
        feature_tile_size = None
    with _single_thread_below(SINGLE_THREAD_MAX_LOCALIZATIONS, n, device):
        # With feature tiles the whole graph's eigenvectors are not needed.
        graph = build_graph(positions, connectivity_radius, length_scale=length_scale,
                            normalization=normalization,
                            n_eigenvectors=N_EIGENVECTORS if feature_tile_size is None else 0)
        if feature_tile_size is not None:
            with threadpool_limits(limits=1, user_api="blas"):
                node_attr = tile_eigenvector_features(
                    positions, graph.edge_index, feature_tile_size, normalization=normalization,
                ).astype(np.float32)
            graph = replace(graph, node_attr=node_attr)
        if graph.n_edges:
            with torch.inference_mode():
                out = network(
                    torch.from_numpy(graph.node_attr).to(device),
                    torch.from_numpy(graph.edge_index).to(device),
                    torch.from_numpy(graph.edge_attr).to(device),
                    max(steps) + 1,
                )
            outputs = out[steps].double().cpu().numpy()
    # Isolated localisations carry no information about a cluster: unmoved.
    connected = np.bincount(graph.edge_index[1], minlength=n) > 0
    outputs[:, ~connected] = 0.0
    return (outputs, connected) if return_connected else outputs
