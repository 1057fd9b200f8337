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
  labels are identical to scikit-learn's, numbering included.

Neighbourhoods are closed (``distance <= eps``) and distances are compared as
squared sums, as in scikit-learn's tree searches; a pair at a distance that
rounds differently in two floating-point evaluations (a measure-zero event on
real data) is the only possible difference.

Memory is O(n) plus chunks of at most ``chunk_size`` candidate pairs or
neighbour indices; the grid holds only non-empty cells, so coordinates far from
the origin cost nothing.

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
# Core cells a border point may reach: the whole 5 x 5 block.
_ALL_OFFSETS = np.array([(dx, dy) for dx in range(-2, 3) for dy in range(-2, 3)])
# Cells (or border points) whose neighbours are looked up at once: at most
# 25 x this many candidate pairs are held. With 16,384 the peak memory on 10^6
# collapsed localisations is that of the former one-offset-at-a-time loop
# (305 MB, benchmarks/dbscan_memory.py; 331 MB with 65,536).
_KEY_BLOCK = 16_384


def _segments(start, count):
    """Indices of the concatenated segments and the segment of each."""
    which = np.repeat(np.arange(start.size), count)
    idx = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count) + start[which]
    return idx, which


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
    """All pairs (i, j) with ``cell_keys[j] == keys[i] + offset`` for some offset (dx, dy)."""
    shift = offsets[:, 0] * width + offsets[:, 1]
    target = (keys[None, :] + shift[:, None]).ravel()
    pos = np.minimum(np.searchsorted(cell_keys, target), cell_keys.size - 1)
    found = np.flatnonzero(cell_keys[pos] == target)
    return found % keys.size, pos[found]


def neighbour_counts(X, eps):
    """Points within ``eps`` of every point (closed ball, the point included).

    What :func:`grid_dbscan` counts to find core points, for every point at
    once: pass it as ``grid_dbscan(..., neighbour_counts=...)`` when DBSCAN runs
    on the same points and ``eps`` with several ``min_samples`` (a grid
    search), so that the counting is done once. O(n) memory.

    Parameters
    ----------
    X : array-like of shape (n_points, 2)
    eps : float

    Returns
    -------
    counts : ndarray of shape (n_points,), int64
    """
    X = check_coordinates(X, min_points=1)
    eps = float(check_positive(eps, "eps"))
    # Queries in the order of a coarse grid keep the tree walk in cache, as
    # in grid_dbscan.
    side = max(eps, 1e-12)
    cell = np.floor((X - X.min(axis=0)) / side).astype(np.int64)
    order = np.lexsort((cell[:, 1], cell[:, 0]))
    tree = cKDTree(X)
    counts = np.empty(X.shape[0], dtype=np.int64)
    for i in range(0, order.size, 100_000):
        chunk = order[i:i + 100_000]
        counts[chunk] = tree.query_ball_point(X[chunk], eps, return_length=True)
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
    side = eps / np.sqrt(2.0) * (1.0 - _SAFETY)
    # Shift to the bounding box first: cell indices stay small wherever X sits.
    cell = np.floor((X - X.min(axis=0)) / side).astype(np.int64)
    width = int(cell[:, 1].max()) + 5  # room for offsets of +-2 without wrapping
    key = (cell[:, 0] + 2) * width + (cell[:, 1] + 2)
    order = np.argsort(key, kind="stable")
    cell_keys, first, point_cell_sorted = np.unique(key[order], return_index=True, return_inverse=True)
    cell_of = np.empty(n, dtype=np.int64)
    cell_of[order] = point_cell_sorted
    cell_count = np.diff(np.r_[first, n])

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
    core_keys = cell_keys[core_cells]
    # The neighbouring pairs of core cells, all offsets of a block of cells at
    # once (each pair is decided on its own; one call per offset spent most of
    # a small FOV's time in call overhead, 12 offsets x every DBSCAN of a grid
    # search).
    rows, cols = [], []
    for start in range(0, core_keys.size, _KEY_BLOCK):
        a, b = _offset_pairs(core_keys[start:start + _KEY_BLOCK], core_keys, _HALF_OFFSETS, width)
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
    # eps of it: decided by bounding boxes where possible, else by distances.
    others = order[~is_core[order]]  # in cell order, as the candidates above
    if others.size:
        other_points = X[others]
        other_keys = key[others]
        best = np.full(others.size, n_clusters, dtype=np.int64)
        for start in range(0, others.size, _KEY_BLOCK):
            a, b = _offset_pairs(other_keys[start:start + _KEY_BLOCK], core_keys, _ALL_OFFSETS, width)
            a += start
            p = other_points[a]
            min_d2, max_d2 = _box_distances(p, p, box_low[b], box_high[b])
            linked = max_d2 <= eps2 * (1 - _SAFETY)
            u = np.flatnonzero(~linked & (min_d2 <= eps2 * (1 + _SAFETY)))
            if u.size:
                linked[u] = _pairs_within(other_points, a[u], np.ones(u.size, dtype=np.int64), points,
                                          core_first[b[u]], core_count[b[u]], eps2, chunk_size)
            np.minimum.at(best, a[linked], cell_label[b[linked]])
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
