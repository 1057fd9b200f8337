"""DBSCAN in bounded memory, with exactly scikit-learn's labels.

MIRO collapses every cluster onto its centre: a cluster of ``m`` localisations
becomes a blob much smaller than DBSCAN's ``eps``, so each of its points has
``m`` neighbours. :class:`sklearn.cluster.DBSCAN` stores every neighbourhood
(``sum m^2`` indices over the clusters), which on a million collapsed
localisations takes gigabytes (``benchmarks/results/scale.md``).

:func:`grid_dbscan` gives the same result without storing neighbourhoods. It
puts the points on a grid of square cells of side ``eps / sqrt(2)``, so that
any two points of one cell are closer than ``eps``:

* **core points**: every point of a cell holding at least ``min_samples``
  points is a core point, with no distance computed; the points of the other
  cells have their neighbours *counted* (``scipy.spatial.cKDTree``,
  ``return_length=True``), which needs no memory per neighbour;
* **clusters**: the core points of one cell are all connected; two cells (at
  most two cells apart on each axis) are connected when some pair of their core
  points is within ``eps``. The bounding boxes of the two cells' core points
  decide most pairs at once (all pairs within ``eps``: connected; none:
  not); only the undecided cell pairs compare points, in chunks. The connected
  components of the cell graph are the clusters
  (``scipy.sparse.csgraph.connected_components``);
* **border points** (non-core points within ``eps`` of a core point) get the
  cluster that scikit-learn gives them: its DBSCAN visits the core points in
  index order and numbers the clusters in the order of their lowest-index core
  point; a border point reachable from several clusters goes to the first one
  visited, i.e. the lowest cluster number. This is reproduced exactly, so the
  labels are identical to scikit-learn's, numbering included. Bounding boxes
  decide most (border point, core cell) pairs; the others are one k-d tree
  search each (a nearest core point within ``eps``), not a pass over the
  cell's core points.

Neighbourhoods are closed (``distance <= eps``) and distances are compared as
squared sums (``dx^2 + dy^2 <= eps^2``), as scikit-learn's tree searches
compare single points; a pair at a distance that rounds differently in two
floating-point evaluations (a measure-zero event on real data) is the only
possible difference. One such tie: scikit-learn's k-d tree may accept a whole
node by comparing the ``sqrt`` of its largest squared distance with ``eps``,
so a pair at ``d^2 = eps^2`` plus one ulp can be neighbours there (depending
on how the tree splits the points), never here: at such exact ties the labels
can differ from scikit-learn's.

Memory is O(n) plus chunks of at most ``chunk_size`` candidate pairs or
neighbour indices; the grid holds only non-empty cells, so coordinates far from
the origin cost nothing. Where one grid would be too wide for exact cell
indices (``eps`` tiny for the coordinates' extent), the points are first split
into groups more than ``eps`` apart, each on its own grid, so the labels stay
scikit-learn's at any ratio of extent to ``eps`` as long as ``eps**2`` is a
normal float (``eps`` above about ``1.5e-154``). Below that the squared
distances underflow (to 0 or to subnormals), so scikit-learn calls points far
more than ``eps`` apart neighbours (``0 <= 0``), and the groups, split at gaps
wider than ``eps``, do not: the labels can differ.

:class:`DBSCANStar` is DBSCAN* (Campello, Moulavi and Sander 2013): the same
core points and clusters, with every border point left as noise
(:func:`drop_border_points`). After MIRO a cluster's members sit in a dense
core, and a background localisation that stayed in place within ``eps`` of it
would otherwise join it as a border point.
"""

from __future__ import annotations

import numbers

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree
from sklearn.base import BaseEstimator, ClusterMixin, _fit_context
from sklearn.utils._param_validation import Interval

from ._validation import check_coordinates, check_positive

__all__ = ["DBSCANStar", "GridDBSCAN", "drop_border_points", "grid_dbscan", "neighbour_counts"]

_SAFETY = 1e-9  # relative margin of the cell-size and bounding-box shortcuts
# Neighbouring cells examined for cluster links: half of the 5 x 5 block
# (the other half is the same pairs seen from the other side).
_HALF_OFFSETS = np.array(
    [(dx, dy) for dx in range(-2, 3) for dy in range(-2, 3) if (dx, dy) > (0, 0)]
)
# Cells a point may have neighbours in: the whole 5 x 5 block.
_ALL_OFFSETS = np.array([(dx, dy) for dx in range(-2, 3) for dy in range(-2, 3)])
# Cells (or border points) whose neighbours are looked up at once: at most
# 25 x this many candidate pairs are held. With 16,384 the peak memory on 10^6
# collapsed localisations is that of the former one-offset-at-a-time loop
# (305 MB, benchmarks/dbscan_memory.py; 331 MB with 65,536).
_KEY_BLOCK = 16_384
# Largest extent, in cells, of one grid over the whole point cloud. Below it
# the cell of a point, ``floor((x - min) / side)``, is off by at most
# 4 * 2^21 * 2^-53 < 1e-9 cells from the exact quotient (the subtraction and
# the division each round by a relative 2^-53), so that the _SAFETY margin
# of the cell side covers it; the cell keys also stay far from int64's
# range. Wider clouds (tiny eps, far-apart points) are first split into
# groups separated by more than eps, each with its own grid (_cell_keys).
_MAX_GRID_CELLS = 2**21
# A point is compared with a cell of at most this many points pair by pair;
# larger cells (collapsed clusters) are searched with k-d trees
# (_CellSearch). Comparing every border point with every core point of a
# cell held those O(k * m) pairs at once: 8,000 border points about eps from
# a collapsed cluster of 8,000 took 3 GB and 44 CPU-s; with the trees 8 MB
# and 0.1 CPU-s (scikit-learn: 2-3 CPU-s).
_TREE_CELL = 64
# A cell next to a dense one is counted on the grid (_count_neighbours) when
# the points of the cells wholly within eps of it, which a k-d tree counts
# one by one for each of its points (about 2 ns a point), outweigh the
# grid's extra work: this many points, plus _GRID_MASS_PER_CUT per cell that
# the ball of a point cuts (a k-d tree search of that cell each, about 1 us),
# plus the points of those cells. Measured (CPU-s, one k-d tree count for
# every point -> this rule): blobs of m points (sd 0.01) each ringed by 8
# cells of 64 points that every blob point's ball cuts, eps 10: m = 1,000:
# 0.64 -> 0.65; 3,000: 2.0 -> 2.0; 8,000: 1.8 -> 1.9 (the grid alone: 1.7);
# 10,000: 3.0 -> 2.1; 20,000: 2.6 -> 1.4. With 256 per cut cell, and the cut
# cells compared pair by pair (about 60 ns a pair), m = 3,000 took 9.6 s.
# Clusters of 10,000 to 50,000 (sd 0 to 3) with rings at eps: 1.7 to 3.3 ->
# 0.6 to 2.2. One collapsed blob of 80,000 points: 2.9 -> 0.01.
_GRID_MASS = 256
_GRID_MASS_PER_CUT = 1024


def _cell_keys(X, eps, side):
    """Grid cell of every point, as a linear key in which neighbouring cells are a fixed step apart.

    Cell ``(cx, cy)`` (of side ``side``) has the key ``base + (cx + 2) * width
    + cy + 2``, so the cell ``(cx + dx, cy + dy)`` of the same grid, for
    ``|dx|, |dy| <= 2``, has the key plus ``dx * width + dy``, always inside
    the grid's own key range. A cloud at most :data:`_MAX_GRID_CELLS` cells
    wide is one grid (``base = 0``). A wider one (``eps`` tiny for the
    coordinates' extent, where one grid's keys would overflow int64 and the
    float cell indices lose precision) is split into groups that no pair
    within ``eps`` straddles: runs of the points sorted by x with no gap
    wider than ``eps``, each split the same way along y. A group of ``k``
    points then spans at most ``n * eps`` along x and ``k * eps`` along y,
    and gets its own grid, from its own lower-left corner, at its own
    ``base``.

    Parameters
    ----------
    X : ndarray of shape (n, 2)
    eps : float
    side : float
        Side of the cells (at most ``eps / sqrt(2)``).

    Returns
    -------
    key : ndarray of shape (n,), int64
    width : ndarray of shape (n,), int64
        Key step between two columns of cells of the point's grid.
    cell : ndarray of shape (n, 2), int64
        Cell indices within the point's grid.
    """
    n = X.shape[0]
    low = X.min(axis=0)
    if np.all((X.max(axis=0) - low) / side <= _MAX_GRID_CELLS):
        cell = np.floor((X - low) / side).astype(np.int64)
        width = int(cell[:, 1].max()) + 5  # room for offsets of +-2 without wrapping
        return (cell[:, 0] + 2) * width + (cell[:, 1] + 2), np.full(n, width, dtype=np.int64), cell
    # A gap wider than eps (with a margin far above rounding) separates
    # points that are not neighbours: their squared distance exceeds eps^2.
    gap = eps * (1.0 + 1e-6)
    by_x = np.argsort(X[:, 0], kind="stable")
    island = np.empty(n, dtype=np.int64)
    island[by_x] = np.cumsum(np.r_[False, np.diff(X[by_x, 0]) > gap])
    by_y = np.lexsort((X[:, 1], island))
    new = np.r_[True, (np.diff(X[by_y, 1]) > gap) | (np.diff(island[by_y]) != 0)]
    starts = np.flatnonzero(new)
    group = np.empty(n, dtype=np.int64)
    group[by_y] = np.cumsum(new) - 1
    sorted_points = X[by_y]
    group_low = np.column_stack([np.minimum.reduceat(sorted_points[:, a], starts) for a in (0, 1)])
    cell = np.floor((X - group_low[group]) / side).astype(np.int64)
    rows = np.maximum.reduceat(cell[by_y, 0], starts) + 5
    width = np.maximum.reduceat(cell[by_y, 1], starts) + 5
    size = rows * width
    if float(np.sum(size, dtype=np.float64)) >= 2.0**62:
        # About 10 n^2 cells at worst: only reached with about 10^9 points.
        raise ValueError(
            f"Too many grid cells for {n:,} points at eps={eps!r}: the cell keys would overflow "
            "64-bit integers. Cluster fewer points at once."
        )
    base = np.cumsum(size) - size
    key = base[group] + (cell[:, 0] + 2) * width[group] + (cell[:, 1] + 2)
    return key, width[group], cell


class _Grid:
    """Points sorted into square cells of side ``eps / sqrt(2)`` (minus a margin).

    Any two points of one cell are closer than ``eps``; a point's neighbours
    within ``eps`` all lie in the 5 x 5 block of cells around its own.

    Attributes
    ----------
    order : ndarray of shape (n,)
        Point indices sorted by cell (stable).
    cell_of : ndarray of shape (n,)
        Cell (index into the arrays below) of every point.
    keys, width, first, count : ndarray of shape (n_cells,)
        Sorted cell keys, their key step between columns, the position in
        ``order`` of their first point, and their number of points.
    residue : ndarray of shape (n_cells,)
        ``(cx mod 5) * 5 + cy mod 5``: different for any two cells of one
        5 x 5 block (see :class:`_CellSearch`).
    """

    def __init__(self, X, eps):
        n = X.shape[0]
        side = eps / np.sqrt(2.0) * (1.0 - _SAFETY)
        key, width, cell = _cell_keys(X, eps, side)
        self.order = np.argsort(key, kind="stable")
        self.keys, self.first, inverse = np.unique(key[self.order], return_index=True, return_inverse=True)
        self.cell_of = np.empty(n, dtype=np.int64)
        self.cell_of[self.order] = inverse
        self.count = np.diff(np.r_[self.first, n])
        first_point = self.order[self.first]
        self.width = width[first_point]
        self.residue = (cell[first_point, 0] % 5) * 5 + cell[first_point, 1] % 5


def _segments(start, count):
    """Indices of the concatenated segments and the segment of each."""
    which = np.repeat(np.arange(start.size), count)
    idx = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count) + start[which]
    return idx, which


def _segment_chunks(start, count, size):
    """:func:`_segments` at most ``size`` indices at a time (a segment may be split between chunks)."""
    ends = np.cumsum(count)
    total = int(ends[-1]) if ends.size else 0
    for lo in range(0, total, size):
        position = np.arange(lo, min(lo + size, total))
        which = np.searchsorted(ends, position, side="right")
        yield position - (ends[which] - count[which]) + start[which], which


def _segment_means(points, start, count):
    idx, which = _segments(start, count)
    return np.column_stack(
        [np.bincount(which, weights=points[idx, a], minlength=start.size) / count for a in (0, 1)]
    )


def _segment_argmin(points, start, count, query):
    """Per segment, the index of the point nearest to ``query[segment]``."""
    idx, which = _segments(start, count)
    d2 = ((points[idx] - query[which]) ** 2).sum(axis=1)
    order = np.lexsort((d2, which))
    first = np.r_[0, np.cumsum(count)[:-1]]
    return idx[order[first]]


def _brute_counts(query, points, start, count, eps2, chunk_size):
    """Per pair ``k``: the points of ``points[start[k]:start[k] + count[k]]`` within eps of ``query[k]``.

    Pairs are expanded in consecutive runs of at most ``chunk_size`` point
    pairs plus one pair's (the callers' segments are small).
    """
    hits = np.zeros(query.shape[0], dtype=np.int64)
    if query.shape[0] == 0:
        return hits
    group = (np.cumsum(count) - 1) // chunk_size
    bounds = np.flatnonzero(np.r_[True, group[1:] != group[:-1], True])
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        idx, which = _segments(start[lo:hi], count[lo:hi])
        close = ((points[idx] - query[lo:hi][which]) ** 2).sum(axis=1) <= eps2
        hits[lo:hi] = np.bincount(which, weights=close, minlength=hi - lo)
    return hits


class _CellSearch:
    """Exact tests of single points against whole cells: how many (or whether any) cell points are within eps.

    The pairs given are those that bounding boxes could not decide. A cell of
    at most :data:`_TREE_CELL` points (unless ``tree_cells`` says otherwise)
    is compared point by point, in chunks of at most ``chunk_size`` point
    pairs. The larger cells (collapsed clusters), or those of
    ``tree_cells``, are searched with k-d trees, so that a query costs a tree
    search instead of a pass over the cell: one tree per residue class of
    the cells (:class:`_Grid`), 25 in all. Two cells of one class are at
    least 5 columns or rows apart (or in different groups of
    :func:`_cell_keys`, more than ``eps`` apart), so a query point, within
    two columns and rows of its cell, is more than ``eps`` from every other
    cell of the class: the tree finds only the cell's own points, at their
    2-D squared distance, as the point-by-point comparison does. (One tree
    over all the large cells, with the class as a third coordinate, was 5
    times slower: 7.0 against 1.3 CPU-s for 570,000 searches.)

    Parameters
    ----------
    points : ndarray of shape (n, 2)
        Points sorted by cell.
    first, count, residue : ndarray of shape (n_cells,)
    eps : float
    chunk_size : int
    tree_cells : ndarray of shape (n_cells,), bool, optional
        The cells searched with k-d trees (default: those of more than
        :data:`_TREE_CELL` points).
    """

    def __init__(self, points, first, count, residue, eps, chunk_size, tree_cells=None):
        self.points, self.first, self.count, self.residue = points, first, count, residue
        self.eps, self.eps2, self.chunk_size = eps, eps * eps, chunk_size
        self.tree_cells = count > _TREE_CELL if tree_cells is None else tree_cells
        self._trees = {}

    def _by_tree(self, cell):
        """The tree-searched cells among ``cell``: (k-d tree, positions in ``cell``) per residue class."""
        big = np.flatnonzero(self.tree_cells[cell])
        residue = self.residue[cell[big]]
        for r in np.unique(residue):  # at most 25 classes
            if r not in self._trees:
                cells = np.flatnonzero(self.tree_cells & (self.residue == r))
                self._trees[r] = cKDTree(self.points[_segments(self.first[cells], self.count[cells])[0]])
            yield self._trees[r], big[residue == r]

    def _brute(self, query, cell):
        s = np.flatnonzero(~self.tree_cells[cell])
        hits = _brute_counts(query[s], self.points, self.first[cell[s]], self.count[cell[s]],
                             self.eps2, self.chunk_size)
        return s, hits

    def count_close(self, query, cell):
        """Points of ``cell[k]`` within eps of ``query[k]`` (closed), for every k."""
        hits = np.zeros(query.shape[0], dtype=np.int64)
        s, brute = self._brute(query, cell)
        hits[s] = brute
        for tree, k in self._by_tree(cell):
            hits[k] = tree.query_ball_point(query[k], self.eps, return_length=True)
        return hits

    def any_close(self, query, cell):
        """Whether some point of ``cell[k]`` is within eps of ``query[k]`` (closed), for every k."""
        found = np.zeros(query.shape[0], dtype=bool)
        s, hits = self._brute(query, cell)
        found[s] = hits > 0
        for tree, k in self._by_tree(cell):
            _, nearest = tree.query(query[k], k=1, distance_upper_bound=self.eps * (1 + _SAFETY))
            ok = nearest < tree.n
            # The nearest point decides; confirmed with the squared-sum
            # comparison used everywhere else.
            close = ((tree.data[nearest[ok]] - query[k[ok]]) ** 2).sum(axis=1) <= self.eps2
            found[k[ok][close]] = True
        return found


def _pairs_within(points_a, a_start, a_count, points_b, b_start, b_count, eps2, chunk_size):
    """For each group pair (A, B), whether some point of A is within eps of some point of B.

    ``points_a[a_start[k]:a_start[k] + a_count[k]]`` are the points of A,
    ``points_b[b_start[k]:b_start[k] + b_count[k]]`` those of B. Pairs are
    expanded in chunks of at most about ``2 * chunk_size`` point pairs; a
    single group pair larger than ``chunk_size`` is answered with a k-d tree.
    """
    result = np.zeros(a_start.size, dtype=bool)
    n_pairs = a_count * b_count
    # Linear-cost sufficient test first: the point of A nearest to the centre
    # of B, and the point of B nearest to that one. Collapsed clusters that
    # straddle a cell border are linked here without comparing all pairs.
    big = np.flatnonzero(n_pairs > 64)
    if big.size:
        centre_b = _segment_means(points_b, b_start[big], b_count[big])
        a_best = _segment_argmin(points_a, a_start[big], a_count[big], centre_b)
        b_best = _segment_argmin(points_b, b_start[big], b_count[big], points_a[a_best])
        result[big] = ((points_a[a_best] - points_b[b_best]) ** 2).sum(axis=1) <= eps2
    n_pairs = np.where(result, 0, n_pairs)
    heavy = n_pairs > chunk_size
    for k in np.flatnonzero(heavy):
        a = points_a[a_start[k] : a_start[k] + a_count[k]]
        b = points_b[b_start[k] : b_start[k] + b_count[k]]
        tree = cKDTree(b)
        dist, nearest = tree.query(a, k=1, distance_upper_bound=np.sqrt(eps2) * (1 + _SAFETY))
        close = np.isfinite(dist)
        # Confirm with the squared-sum comparison used everywhere else.
        result[k] = bool((((a[close] - b[nearest[close]]) ** 2).sum(axis=1) <= eps2).any())
    light = np.flatnonzero(~heavy & ~result)
    if light.size == 0:
        return result
    group = (np.cumsum(n_pairs[light]) - 1) // chunk_size
    bounds = np.flatnonzero(np.r_[True, group[1:] != group[:-1], True])
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        ks = light[lo:hi]
        counts = n_pairs[ks]
        which = np.repeat(np.arange(ks.size), counts)
        offset = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        nb = b_count[ks][which]
        ia = a_start[ks][which] + offset // nb
        ib = b_start[ks][which] + offset % nb
        hit = ((points_a[ia] - points_b[ib]) ** 2).sum(axis=1) <= eps2
        result[ks] = np.bincount(which, weights=hit, minlength=ks.size) > 0
    return result


def _box_distances(low_a, high_a, low_b, high_b):
    """Squared smallest and largest distances between points of two boxes."""
    gap = np.maximum(0.0, np.maximum(low_b - high_a, low_a - high_b))
    span = np.maximum(high_b - low_a, high_a - low_b)
    return (gap**2).sum(axis=1), (span**2).sum(axis=1)


def _offset_pairs(keys, cell_keys, offsets, width):
    """All pairs (i, j) with ``cell_keys[j] == keys[i] + offset`` for some offset (dx, dy).

    ``width[i]`` is the key step between columns of cell ``keys[i]``'s grid.
    """
    shift = offsets[:, 0, None] * width[None, :] + offsets[:, 1, None]
    target = (keys[None, :] + shift).ravel()
    pos = np.minimum(np.searchsorted(cell_keys, target), cell_keys.size - 1)
    found = np.flatnonzero(cell_keys[pos] == target)
    return found % keys.size, pos[found]


def _count_neighbours(grid, points, eps, chunk_size):
    """Points within ``eps`` of every point, in the order of ``grid.order`` (``points = X[grid.order]``).

    Counting neighbour by neighbour, as a k-d tree does, costs ``m^2`` on a
    collapsed cluster of ``m`` points (80,000 points in one blob: 2.9
    CPU-s). So the cells around a dense one (more than :data:`_TREE_CELL`
    points) are counted on the grid where that pays (see
    :data:`_GRID_MASS`): a neighbouring cell whose bounding box lies within
    ``eps`` of the whole box of a cell adds its count to all of that cell's
    points at once, with no distance computed; one whose box is farther than
    ``eps`` adds nothing; the cells that the boxes leave undecided are
    decided point by point the same way, and only those that the ball of a
    point cuts are searched, each with the k-d tree of its residue class
    (:class:`_CellSearch`, small cells included). The other points have
    few candidates and are counted by a k-d tree, as before (10^6 uniform
    points with about 5 neighbours each: 2.2 CPU-s with the tree, 4.5 on the
    grid).
    """
    n, eps2 = points.shape[0], eps * eps
    n_cells = grid.keys.size
    dense = np.flatnonzero(grid.count > _TREE_CELL)
    near = np.zeros(n_cells, dtype=bool)
    for start in range(0, dense.size, _KEY_BLOCK):
        block = dense[start:start + _KEY_BLOCK]
        near[_offset_pairs(grid.keys[block], grid.keys, _ALL_OFFSETS, grid.width[block])[1]] = True
    near = np.flatnonzero(near)
    on_grid = np.zeros(n_cells, dtype=bool)
    counts = np.empty(n, dtype=np.int64)
    if near.size:
        low = np.column_stack([np.minimum.reduceat(points[:, a], grid.first) for a in (0, 1)])
        high = np.column_stack([np.maximum.reduceat(points[:, a], grid.first) for a in (0, 1)])
        per_cell = np.zeros(near.size, dtype=np.int64)
        cut_a, cut_b = [], []
        for start in range(0, near.size, _KEY_BLOCK):
            block = near[start:start + _KEY_BLOCK]
            a, b = _offset_pairs(grid.keys[block], grid.keys, _ALL_OFFSETS, grid.width[block])
            min_d2, max_d2 = _box_distances(low[block[a]], high[block[a]], low[b], high[b])
            # The own cell is tested like the others (its points are within
            # eps of each other by a margin of 1e-9 only): never assumed.
            full = max_d2 <= eps2 * (1 - _SAFETY)
            per_cell[start:start + block.size] = np.bincount(
                a[full], weights=grid.count[b[full]], minlength=block.size
            ).astype(np.int64)
            cut = ~full & (min_d2 <= eps2 * (1 + _SAFETY))
            cut_a.append(block[a[cut]])
            cut_b.append(b[cut])
        cut_a, cut_b = np.concatenate(cut_a), np.concatenate(cut_b)
        cut_of = np.searchsorted(near, cut_a)
        n_cut = np.bincount(cut_of, minlength=near.size)
        cut_mass = np.bincount(cut_of, weights=grid.count[cut_b], minlength=near.size)
        on_grid[near[per_cell >= _GRID_MASS + _GRID_MASS_PER_CUT * n_cut + cut_mass]] = True
        keep = on_grid[cut_a]
        cut_a, cut_b = cut_a[keep], cut_b[keep]
        grid_cells = np.flatnonzero(on_grid)
        grid_points, _ = _segments(grid.first[grid_cells], grid.count[grid_cells])
        counts[grid_points] = np.repeat(per_cell[on_grid[near]], grid.count[grid_cells])
    tree_points, _ = _segments(grid.first[~on_grid], grid.count[~on_grid])
    if tree_points.size:
        # Queries in cell order: consecutive queries visit the same tree nodes.
        tree = cKDTree(points)
        for start in range(0, tree_points.size, 100_000):
            chunk = tree_points[start:start + 100_000]
            counts[chunk] = tree.query_ball_point(points[chunk], eps, return_length=True)
    if not on_grid.any():
        return counts
    # Every cut cell is searched with the k-d trees (small ones too: a tree
    # counts about 2 ns a point, comparing pair by pair about 60 ns a pair).
    searched = np.zeros(n_cells, dtype=bool)
    searched[cut_b] = True
    search = _CellSearch(points, grid.first, grid.count, grid.residue, eps, chunk_size, searched)
    # The cut cell pairs, point by point: (point of cell a, cell b), a block
    # of pairs at a time (the cell of a collapsed cluster is split).
    for idx, which in _segment_chunks(grid.first[cut_a], grid.count[cut_a], 25 * _KEY_BLOCK):
        cell = cut_b[which]
        p = points[idx]
        min_d2, max_d2 = _box_distances(p, p, low[cell], high[cell])
        full = max_d2 <= eps2 * (1 - _SAFETY)
        add = np.where(full, grid.count[cell], 0)
        cut = np.flatnonzero(~full & (min_d2 <= eps2 * (1 + _SAFETY)))
        if cut.size:
            add[cut] = search.count_close(p[cut], cell[cut])
        np.add.at(counts, idx, add)
    return counts


def neighbour_counts(X, eps, *, chunk_size=2_000_000):
    """Points within ``eps`` of every point (closed ball, the point included).

    What :func:`grid_dbscan` counts to find core points, for every point at
    once: pass it as ``grid_dbscan(..., neighbour_counts=...)`` when DBSCAN runs
    on the same points and ``eps`` with several ``min_samples`` (a grid
    search), so that the counting is done once.

    The points are put on :func:`grid_dbscan`'s grid. Around collapsed
    clusters a neighbouring cell wholly within ``eps`` of a point (or of a
    whole cell) is counted at once, so a cluster of ``m`` points costs
    O(m), not the O(m^2) of counting neighbour by neighbour; points with
    few candidates are counted by a k-d tree. Distances are compared as
    squared sums (``dx^2 + dy^2 <= eps^2``), as :class:`scipy.spatial.cKDTree`
    does and as scikit-learn's tree searches do for single points (they may
    accept a whole node at ``d^2 = eps^2`` plus one ulp; see the module
    notes). Exact while ``eps**2`` is a normal float. O(n) memory plus
    chunks of at most ``chunk_size`` point pairs.

    Parameters
    ----------
    X : array-like of shape (n_points, 2)
    eps : float
    chunk_size : int, default=2,000,000
        Candidate point pairs held at once.

    Returns
    -------
    counts : ndarray of shape (n_points,), int64
    """
    X = check_coordinates(X, min_points=1)
    eps = float(check_positive(eps, "eps"))
    chunk_size = int(check_positive(chunk_size, "chunk_size", integer=True))
    grid = _Grid(X, eps)
    counts = np.empty(X.shape[0], dtype=np.int64)
    counts[grid.order] = _count_neighbours(grid, X[grid.order], eps, chunk_size)
    return counts


def grid_dbscan(X, eps, min_samples, *, chunk_size=2_000_000, neighbour_counts=None):
    """DBSCAN labels and core points, identical to :class:`sklearn.cluster.DBSCAN`, in O(n) memory.

    Parameters
    ----------
    X : array-like of shape (n_points, 2)
    eps : float
        Neighbourhood radius (closed: ``distance <= eps``).
    min_samples : int
        Neighbours (the point included) that make a core point.
    chunk_size : int, default=2,000,000
        Candidate point pairs or neighbour indices held at once.
    neighbour_counts : array-like of shape (n_points,), optional
        The output of :func:`neighbour_counts` for these ``X`` and ``eps``;
        when given, no neighbour is counted here (a grid search over
        ``min_samples`` counts once per ``eps``).

    Returns
    -------
    labels : ndarray of shape (n_points,), int64
        -1 for noise; clusters numbered as scikit-learn numbers them.
    core_sample_indices : ndarray of int64
        Sorted indices of the core points.
    """
    X = check_coordinates(X, min_points=1)
    eps = float(check_positive(eps, "eps"))
    min_samples = int(check_positive(min_samples, "min_samples", integer=True))
    chunk_size = int(check_positive(chunk_size, "chunk_size", integer=True))
    n = X.shape[0]
    if neighbour_counts is not None:
        neighbour_counts = np.asarray(neighbour_counts)
        if neighbour_counts.shape != (n,):
            raise ValueError(
                f"neighbour_counts must hold one count per point ({n}); got shape "
                f"{neighbour_counts.shape}."
            )
    eps2 = eps * eps
    grid = _Grid(X, eps)
    order, cell_of, cell_count = grid.order, grid.cell_of, grid.count

    # ---- core points ------------------------------------------------------
    if neighbour_counts is not None:
        # Counted beforehand for every point; the cell shortcut below agrees
        # with them (a cell's points are all within eps of each other).
        is_core = neighbour_counts >= min_samples
    else:
        is_core = cell_count[cell_of] >= min_samples
        # Queries in cell order: consecutive queries visit the same tree nodes and
        # grid cells, which keeps them in cache (10^6 collapsed localisations:
        # the neighbour counting and cell lookups took 2.1 s in index order).
        candidates = order[~is_core[order]]
        if candidates.size and min_samples > 1:
            tree = cKDTree(X)
            counts = np.concatenate([
                tree.query_ball_point(X[candidates[i:i + 100_000]], eps, return_length=True)
                for i in range(0, candidates.size, 100_000)
            ])
            is_core[candidates] = counts >= min_samples
        elif min_samples <= 1:
            is_core[:] = True
    core = np.flatnonzero(is_core)
    labels = np.full(n, -1, dtype=np.int64)
    if core.size == 0:
        return labels, core

    # ---- clusters: connected components of the core cells ------------------
    core_sorted = order[is_core[order]]  # core points grouped by cell
    core_cell = cell_of[core_sorted]
    core_cells, core_first = np.unique(core_cell, return_index=True)
    core_count = np.diff(np.r_[core_first, core_sorted.size])
    points = X[core_sorted]
    box_low = np.column_stack([np.minimum.reduceat(points[:, a], core_first) for a in (0, 1)])
    box_high = np.column_stack([np.maximum.reduceat(points[:, a], core_first) for a in (0, 1)])
    core_keys, core_width = grid.keys[core_cells], grid.width[core_cells]
    # The neighbouring pairs of core cells, all offsets of a block of cells at
    # once (each pair is decided on its own; one call per offset spent most of
    # a small FOV's time in call overhead, 12 offsets x every DBSCAN of a grid
    # search).
    rows, cols = [], []
    for start in range(0, core_keys.size, _KEY_BLOCK):
        stop = start + _KEY_BLOCK
        a, b = _offset_pairs(core_keys[start:stop], core_keys, _HALF_OFFSETS, core_width[start:stop])
        a += start
        min_d2, max_d2 = _box_distances(box_low[a], box_high[a], box_low[b], box_high[b])
        linked = max_d2 <= eps2 * (1 - _SAFETY)
        u = np.flatnonzero(~linked & (min_d2 <= eps2 * (1 + _SAFETY)))
        if u.size:
            linked[u] = _pairs_within(points, core_first[a[u]], core_count[a[u]],
                                      points, core_first[b[u]], core_count[b[u]], eps2, chunk_size)
        rows.append(a[linked])
        cols.append(b[linked])
    rows, cols = np.concatenate(rows), np.concatenate(cols)
    m = core_cells.size
    graph = sp.csr_matrix((np.ones(rows.size), (rows, cols)), shape=(m, m))
    n_clusters, component = connected_components(graph, directed=False)
    # scikit-learn numbers clusters by their lowest-index core point.
    point_component = np.repeat(component, core_count)
    seed = np.full(n_clusters, n, dtype=np.int64)
    np.minimum.at(seed, point_component, core_sorted)
    rank = np.empty(n_clusters, dtype=np.int64)
    rank[np.argsort(seed, kind="stable")] = np.arange(n_clusters)
    cell_label = rank[component]
    labels[core_sorted] = cell_label[np.repeat(np.arange(m), core_count)]

    # ---- border points: the lowest-numbered cluster within eps -------------
    # All core points of a cell share a label, so a non-core point only needs
    # to know which core cells (within two cells) hold a core point within
    # eps of it: decided by bounding boxes where possible, else by
    # _CellSearch, one test per (point, cell) pair (a k-d tree search for
    # the cells of collapsed clusters, not a pass over their points).
    others = order[~is_core[order]]  # in cell order, as the candidates above
    if others.size:
        other_points = X[others]
        other_cell = cell_of[others]
        search = _CellSearch(points, core_first, core_count, grid.residue[core_cells], eps, chunk_size)
        best = np.full(others.size, n_clusters, dtype=np.int64)
        for start in range(0, others.size, _KEY_BLOCK):
            block = other_cell[start:start + _KEY_BLOCK]
            a, b = _offset_pairs(grid.keys[block], core_keys, _ALL_OFFSETS, grid.width[block])
            a += start
            p = other_points[a]
            min_d2, max_d2 = _box_distances(p, p, box_low[b], box_high[b])
            linked = max_d2 <= eps2 * (1 - _SAFETY)
            np.minimum.at(best, a[linked], cell_label[b[linked]])
            u = np.flatnonzero(~linked & (min_d2 <= eps2 * (1 + _SAFETY)))
            # Only a cluster numbered below the best one already reached can
            # change the label: the other undecided pairs need no test.
            u = u[cell_label[b[u]] < best[a[u]]]
            if u.size:
                hit = u[search.any_close(p[u], b[u])]
                np.minimum.at(best, a[hit], cell_label[b[hit]])
        border = best < n_clusters
        labels[others[border]] = best[border]
    return labels, core


class GridDBSCAN(ClusterMixin, BaseEstimator):
    """DBSCAN with scikit-learn's labels in bounded memory (see :func:`grid_dbscan`).

    A drop-in replacement for ``sklearn.cluster.DBSCAN(eps, min_samples)``
    with the Euclidean metric on 2-D points, for inputs whose neighbourhoods
    are too large to store (collapsed clusters).

    Parameters
    ----------
    eps : float, default=0.5
    min_samples : int, default=5
    chunk_size : int, default=2,000,000
        Candidate point pairs or neighbour indices held at once.

    Attributes
    ----------
    labels_ : ndarray of shape (n_samples,)
    core_sample_indices_ : ndarray of int64
    components_ : ndarray of shape (n_core_samples, 2)
    n_features_in_ : int
    """

    def __init__(self, eps=0.5, min_samples=5, *, chunk_size=2_000_000):
        self.eps = eps
        self.min_samples = min_samples
        self.chunk_size = chunk_size

    def fit(self, X, y=None):
        """Cluster X (2-D coordinates)."""
        if not isinstance(self.eps, numbers.Real):
            raise ValueError(f"eps must be a positive number; got {self.eps!r}.")
        X = check_coordinates(X, estimator=self, reset=True, min_points=1)
        self.labels_, self.core_sample_indices_ = grid_dbscan(
            X, self.eps, self.min_samples, chunk_size=self.chunk_size
        )
        self.components_ = X[self.core_sample_indices_].copy()
        return self

    def fit_predict(self, X, y=None):
        """Cluster X and return ``labels_``."""
        return self.fit(X).labels_


def drop_border_points(labels, core_sample_indices):
    """DBSCAN labels with every non-core (border) point made noise: DBSCAN*'s labels.

    Every DBSCAN cluster holds at least one core point, so the cluster
    numbers stay the same and contiguous.

    Parameters
    ----------
    labels : ndarray of shape (n_points,)
    core_sample_indices : ndarray of int

    Returns
    -------
    labels : ndarray of shape (n_points,), int64
        A new array; ``labels`` is not modified.
    """
    labels = np.asarray(labels)
    core_only = np.full(labels.shape, -1, dtype=np.int64)
    core_only[core_sample_indices] = labels[core_sample_indices]
    return core_only


class DBSCANStar(GridDBSCAN):
    """DBSCAN* on 2-D points: DBSCAN whose border points are noise.

    The core points and clusters are those of
    ``sklearn.cluster.DBSCAN(eps, min_samples)``, computed in bounded memory
    as :class:`GridDBSCAN` computes them; a point that is not a core point is
    noise even when it lies within ``eps`` of one (Campello, Moulavi and
    Sander, 2013). ``MIROClusterer`` uses it after the collapse when its
    ``border_points="background"`` (or ``"auto"`` chooses it).

    Parameters
    ----------
    eps : float, default=0.5
        Neighbourhood radius (closed), in the units of X.
    min_samples : int, default=5
        Neighbours (the point included) that make a core point.
    chunk_size : int, default=2,000,000
        Candidate point pairs or neighbour indices held at once.

    Attributes
    ----------
    labels_ : ndarray of shape (n_samples,)
        Cluster of every point, -1 for noise (border points included).
    core_sample_indices_ : ndarray of int64
    components_ : ndarray of shape (n_core_samples, 2)
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_miro.grid_dbscan import DBSCANStar
    >>> X = np.array([[0.0, 0.0], [0.0, 0.1], [0.1, 0.0], [0.1, 0.1], [1.0, 0.0]])
    >>> DBSCANStar(eps=1.0, min_samples=5).fit_predict(X)  # DBSCAN gives [0 0 0 0 0]
    array([ 0, -1,  0,  0, -1])
    """

    _parameter_constraints: dict = {
        "eps": [Interval(numbers.Real, 0, None, closed="neither")],
        "min_samples": [Interval(numbers.Integral, 1, None, closed="left")],
        "chunk_size": [Interval(numbers.Integral, 1, None, closed="left")],
    }

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Cluster X (2-D coordinates).

        Parameters
        ----------
        X : array-like of shape (n_samples, 2)
        y : None
            Ignored.

        Returns
        -------
        self : DBSCANStar
        """
        super().fit(X)
        self.labels_ = drop_border_points(self.labels_, self.core_sample_indices_)
        return self
