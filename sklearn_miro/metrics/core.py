"""Vectorised building blocks of :mod:`sklearn_miro.metrics`.

Nothing here is public API. The helpers encode labels, build the sparse
contingency table, compute per-cluster statistics, pair clusters, rasterise
unions of convex hulls and diagnose stacked fields of view. None of them loops
over localisations or clusters in Python: even the convex hulls of all
clusters are built at once (a vectorised quickhull, see :func:`cluster_hulls`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_matrix
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree
from scipy.special import gammaln
from scipy.spatial.distance import cdist

# --------------------------------------------------------------------------- labels


@dataclass(frozen=True)
class EncodedLabels:
    """Labels mapped to codes ``0..n_classes-1`` (sorted order of the values)."""

    codes: np.ndarray
    classes: np.ndarray
    background_code: int  # -1 when the background label does not occur

    @property
    def n_classes(self):
        return len(self.classes)

    def cluster_mask(self):
        """True for every localisation that is not background."""
        if self.background_code < 0:
            return np.ones(self.codes.shape[0], dtype=bool)
        return self.codes != self.background_code


def encode_labels(labels, background, *, name="labels"):
    """Encode validated labels with ``np.unique(..., return_inverse=True)``."""
    try:
        classes, codes = np.unique(labels, return_inverse=True)
    except TypeError as exc:
        raise ValueError(
            f"{name} mixes label types that cannot be compared ({exc}); use one type, "
            "e.g. all integers or all strings."
        ) from exc
    if (classes.dtype.kind in "UO" and isinstance(background, (int, np.integer))
            and not isinstance(background, bool) and str(background) in set(map(str, classes))):
        # Labels read as text ('-1') would silently lose their background.
        raise ValueError(
            f"{name} holds the text {str(background)!r} but background is the number {background!r}; "
            f"convert the labels to integers (e.g. labels.astype(int)) or pass background={str(background)!r}."
        )
    return EncodedLabels(
        codes=codes.reshape(-1).astype(np.intp, copy=False),
        classes=classes,
        background_code=_find_background(classes, background),
    )


def _find_background(classes, background):
    """Code of ``background`` among ``classes``, -1 when absent or incomparable."""
    if background is None:
        return -1
    try:
        hits = np.asarray(classes == background)
    except (TypeError, ValueError):
        return -1
    if hits.shape != classes.shape:  # comparison of incompatible types gave a scalar
        return -1
    found = np.flatnonzero(hits)
    return int(found[0]) if found.size else -1


# ------------------------------------------------------------------ pair counting


def comb2(counts):
    """Number of unordered pairs, ``m (m - 1) / 2``, as float64."""
    counts = np.asarray(counts, dtype=np.float64)
    return counts * (counts - 1.0) / 2.0


@dataclass(frozen=True)
class Contingency:
    """Sparse contingency table of two encodings (COO triplets, duplicates summed)."""

    rows: np.ndarray
    cols: np.ndarray
    counts: np.ndarray
    row_sums: np.ndarray
    col_sums: np.ndarray

    @property
    def n_samples(self):
        return int(self.row_sums.sum())

    def is_identical_partition(self):
        """True when the two partitions agree up to a renaming of the labels."""
        nonempty_rows = np.count_nonzero(self.row_sums)
        nonempty_cols = np.count_nonzero(self.col_sums)
        return self.counts.size == nonempty_rows == nonempty_cols


def contingency(codes_true, n_true, codes_pred, n_pred):
    """Contingency table via ``scipy.sparse.coo_matrix`` (duplicates summed)."""
    table = coo_matrix(
        (np.ones(codes_true.shape[0], dtype=np.int64), (codes_true, codes_pred)),
        shape=(n_true, n_pred),
    )
    table.sum_duplicates()
    return Contingency(
        rows=table.row.astype(np.intp),
        cols=table.col.astype(np.intp),
        counts=table.data.astype(np.int64),
        row_sums=np.bincount(codes_true, minlength=n_true),
        col_sums=np.bincount(codes_pred, minlength=n_pred),
    )


def adjusted_rand_from_table(table):
    """ARI of Hubert and Arabie from a contingency table (sklearn's conventions)."""
    n = table.n_samples
    if n < 2:
        return 1.0
    sum_pairs = comb2(table.counts).sum()
    pairs_true = comb2(table.row_sums).sum()
    pairs_pred = comb2(table.col_sums).sum()
    total = comb2(n)
    expected = pairs_true * pairs_pred / total
    maximum = 0.5 * (pairs_true + pairs_pred)
    if maximum == expected:  # both partitions trivial and identical (one cluster / singletons)
        return 1.0
    return float((sum_pairs - expected) / (maximum - expected))


def adjusted_wallace_terms(table):
    """Per-row (``AW_i``) and per-column (``AV_j``) adjusted Wallace indices.

    Rows or columns with fewer than two localisations have no pair, so their
    index is undefined; they are left out of the returned arrays. When one
    partition is a single cluster holding every localisation, the other side's
    indices are 0/0; they are returned as zeros (no information).
    """
    n = table.n_samples
    total = comb2(n)
    pairs_in_cells = comb2(table.counts)
    row_pair_sums = np.bincount(table.rows, weights=pairs_in_cells, minlength=len(table.row_sums))
    col_pair_sums = np.bincount(table.cols, weights=pairs_in_cells, minlength=len(table.col_sums))
    row_pairs = comb2(table.row_sums)
    col_pairs = comb2(table.col_sums)
    pairs_true = row_pairs.sum()
    pairs_pred = col_pairs.sum()

    def _terms(own_pair_sums, own_pairs, other_total):
        defined = own_pairs > 0
        if total == other_total:  # the other partition is one single cluster
            return np.zeros(np.count_nonzero(defined))
        numerator = total * own_pair_sums[defined] - own_pairs[defined] * other_total
        return numerator / (own_pairs[defined] * (total - other_total))

    return (
        _terms(row_pair_sums, row_pairs, pairs_pred),
        _terms(col_pair_sums, col_pairs, pairs_true),
    )


# -------------------------------------------------------------- cluster geometry


@dataclass(frozen=True)
class ClusterTable:
    """Per-cluster statistics of one labelling (background excluded)."""

    codes: np.ndarray  # label codes of the clusters, sorted
    sizes: np.ndarray
    centroids: np.ndarray  # (k, 2)
    extents: np.ndarray  # (k, 2): bounding-box side lengths (max - min per axis)

    @property
    def n_clusters(self):
        return len(self.codes)


def cluster_table(coords, encoded):
    """Sizes, centroids and bounding-box extents of every non-background cluster."""
    mask = encoded.cluster_mask()
    codes = encoded.codes[mask]
    points = coords[mask]
    n_classes = encoded.n_classes
    sizes_all = np.bincount(codes, minlength=n_classes)
    present = np.flatnonzero(sizes_all)
    if encoded.background_code >= 0:
        present = present[present != encoded.background_code]
    if present.size == 0:
        empty = np.empty((0, 2))
        return ClusterTable(np.empty(0, np.intp), np.empty(0, np.int64), empty, empty)
    sizes = sizes_all[present]
    centroids = np.column_stack(
        [np.bincount(codes, weights=points[:, axis], minlength=n_classes)[present]
         for axis in (0, 1)]
    ) / sizes[:, None]
    order = np.argsort(codes, kind="stable")
    sorted_points = points[order]
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    extents = np.maximum.reduceat(sorted_points, starts, axis=0) - np.minimum.reduceat(
        sorted_points, starts, axis=0
    )
    return ClusterTable(present.astype(np.intp), sizes.astype(np.int64), centroids, extents)


@dataclass(frozen=True)
class ClusterMatching:
    """True-positive pairs between ground-truth and predicted clusters."""

    n_true: int
    n_pred: int
    true_index: np.ndarray  # rows into the ground-truth ClusterTable
    pred_index: np.ndarray  # rows into the predicted ClusterTable
    distances: np.ndarray  # centroid distances of the pairs (nm)
    true_sizes: np.ndarray  # sizes of the paired ground-truth clusters
    pred_sizes: np.ndarray  # sizes of the paired predicted clusters

    @property
    def n_matched(self):
        return len(self.true_index)


MATCHING_METHODS = ("centroid", "reference")


def centroid_matching(true_centroids, pred_centroids, row_thresholds):
    """The paper's cluster pairing, solved per connected component of the allowed pairs.

    A pair (true ``i``, predicted ``j``) is allowed when the centroid distance
    is at most ``row_thresholds[i]``. Among all assignments, the number of
    allowed pairs is maximised, then their total distance minimised; only
    allowed pairs are returned. Candidate pairs come from a k-d tree; each
    connected component of the allowed bipartite graph is an independent
    assignment problem (a single pair is taken as is, larger components are
    solved with :func:`scipy.optimize.linear_sum_assignment`), so the cost
    grows with the clusters, not with their product.

    Returns
    -------
    rows, cols : ndarray of intp
        Paired indices, sorted by row.
    """
    n_true, n_pred = len(true_centroids), len(pred_centroids)
    empty = np.empty(0, np.intp)
    if n_true == 0 or n_pred == 0:
        return empty, empty
    neighbours = cKDTree(pred_centroids).query_ball_point(
        true_centroids, r=np.maximum(row_thresholds, 0.0) * (1 + 1e-9)
    )
    lengths = np.fromiter((len(v) for v in neighbours), np.int64, n_true)
    if lengths.sum() == 0:
        return empty, empty
    rows = np.repeat(np.arange(n_true), lengths)
    cols = np.concatenate([np.asarray(v, dtype=np.intp) for v in neighbours if v])
    distances = np.sqrt(((true_centroids[rows] - pred_centroids[cols]) ** 2).sum(axis=1))
    allowed = distances <= row_thresholds[rows]
    rows, cols, distances = rows[allowed], cols[allowed], distances[allowed]
    if rows.size == 0:
        return empty, empty
    graph = csr_matrix((np.ones(rows.size), (rows, n_true + cols)),
                       shape=(n_true + n_pred, n_true + n_pred))
    _, component = connected_components(graph, directed=False)
    edge_component = component[rows]
    single = np.bincount(edge_component)[edge_component] == 1
    out_rows, out_cols = [rows[single]], [cols[single]]
    multi = np.flatnonzero(~single)
    if multi.size:
        order = multi[np.argsort(edge_component[multi], kind="stable")]
        sorted_component = edge_component[order]
        starts = np.flatnonzero(np.r_[True, sorted_component[1:] != sorted_component[:-1]])
        for lo, hi in zip(starts, np.r_[starts[1:], order.size]):  # loop over components
            idx = order[lo:hi]
            r_ids, r_local = np.unique(rows[idx], return_inverse=True)
            c_ids, c_local = np.unique(cols[idx], return_inverse=True)
            forbidden = (min(r_ids.size, c_ids.size) + 1) * (distances[idx].max() + 1.0)
            cost = np.full((r_ids.size, c_ids.size), forbidden)
            cost[r_local, c_local] = distances[idx]
            ok = np.zeros(cost.shape, dtype=bool)
            ok[r_local, c_local] = True
            r, c = linear_sum_assignment(cost)
            keep = ok[r, c]
            out_rows.append(r_ids[r[keep]])
            out_cols.append(c_ids[c[keep]])
    rows, cols = np.concatenate(out_rows), np.concatenate(out_cols)
    order = np.argsort(rows, kind="stable")
    return rows[order].astype(np.intp), cols[order].astype(np.intp)


def _geometric_order(table):
    """Order of a table's clusters by centroid, then extent, then size: not by label value."""
    return np.lexsort((table.sizes, table.extents[:, 1], table.extents[:, 0],
                       table.centroids[:, 1], table.centroids[:, 0]))


def _reordered(table, order):
    return ClusterTable(table.codes[order], table.sizes[order], table.centroids[order], table.extents[order])


def match_cluster_tables(truth, pred, *, matching="centroid", threshold=None):
    """Pair ground-truth and predicted clusters with the Hungarian algorithm.

    ``threshold=None`` gives every ground-truth cluster its own threshold, half
    the mean side of its bounding box (the reference's rule); a number is one
    global threshold in the units of the coordinates.

    Ties between assignments (clusters with the same centroid, for instance)
    are broken by the clusters' geometry, not by their label values, so that
    relabelling changes no metric: the assignment is solved on the clusters
    sorted by centroid, extent and size, and the indices are mapped back.
    Clusters equal in all of these give the same metric values whichever is
    paired.
    """
    true_order, pred_order = _geometric_order(truth), _geometric_order(pred)
    pairs = _match_in_given_order(_reordered(truth, true_order), _reordered(pred, pred_order),
                                  matching, threshold)
    rows, cols = true_order[pairs.true_index], pred_order[pairs.pred_index]
    by_row = np.argsort(rows, kind="stable")
    return ClusterMatching(
        n_true=pairs.n_true, n_pred=pairs.n_pred, true_index=rows[by_row], pred_index=cols[by_row],
        distances=pairs.distances[by_row], true_sizes=pairs.true_sizes[by_row],
        pred_sizes=pairs.pred_sizes[by_row],
    )


def _match_in_given_order(truth, pred, matching, threshold):
    """:func:`match_cluster_tables` on the tables' own order (ties go to the lower index)."""
    n_true, n_pred = truth.n_clusters, pred.n_clusters
    empty = np.empty(0, np.intp)
    if n_true == 0 or n_pred == 0:
        return ClusterMatching(n_true, n_pred, empty, empty, np.empty(0), empty, empty)
    if threshold is None:
        row_thresholds = truth.extents.mean(axis=1) / 2.0
    else:
        row_thresholds = np.full(n_true, float(threshold))

    if matching == "centroid":
        # Paper: pairs farther apart than the threshold can never be true
        # positives; the assignment maximises the number of allowed pairs
        # first and minimises their total distance second. Both are sums over
        # the connected components of the "allowed" bipartite graph, so each
        # component is solved on its own (cost linear in the clusters).
        rows, cols = centroid_matching(truth.centroids, pred.centroids, row_thresholds)
        distances = np.sqrt(((truth.centroids[rows] - pred.centroids[cols]) ** 2).sum(axis=1))
        return ClusterMatching(
            n_true=n_true, n_pred=n_pred, true_index=rows, pred_index=cols,
            distances=distances, true_sizes=truth.sizes[rows], pred_sizes=pred.sizes[cols],
        )
    distances = cdist(truth.centroids, pred.centroids)
    allowed = distances <= row_thresholds[:, None]
    if matching == "reference":
        # Authors' code: 0.9 * masked centroid distance + 0.1 * L1 distance
        # between bounding-box extents; masked entries are 1e9; a pair is kept
        # when its masked distance is below the largest row threshold. The
        # pairs beyond the threshold enter the optimum through their extent
        # term, so this one is solved on the full (quadratic) cost matrix.
        masked = np.where(allowed, distances, 1e9)
        extent_cost = cdist(truth.extents, pred.extents, metric="cityblock")
        rows, cols = linear_sum_assignment(0.9 * masked + 0.1 * extent_cost)
        keep = masked[rows, cols] < row_thresholds.max()
    else:  # validated by the public functions; kept as a guard for internal callers
        raise ValueError(f"matching must be one of {MATCHING_METHODS}; got {matching!r}.")
    rows, cols = rows[keep], cols[keep]
    return ClusterMatching(
        n_true=n_true,
        n_pred=n_pred,
        true_index=rows,
        pred_index=cols,
        distances=distances[rows, cols],
        true_sizes=truth.sizes[rows],
        pred_sizes=pred.sizes[cols],
    )


# ------------------------------------------------------------ hull rasterisation


def reference_grid_size(coords):
    """Samples per axis of the benchmark's IoU raster.

    The reference uses ``ceil(max(max x, max y) / 100) * 100 + 400`` samples over
    the bounding box of all localisations (about 1 nm per sample for a 2 um
    FOV). That rule assumes FOVs near the origin: elsewhere it gives a grid
    that grows with the coordinates (a FOV at 10^9 nm could not be
    allocated). So it is used as it is where every coordinate is >= 0 and the
    largest is at most twice the larger side of the bounding box (a FOV near
    the origin, as the benchmark's are); otherwise the larger side of the
    bounding box replaces the largest coordinate, which gives the same grid
    for a FOV starting at 0 and does not depend on where the FOV sits.
    """
    coords = np.asarray(coords, dtype=float)
    side = float(np.ptp(coords, axis=0).max())
    largest = side
    if coords.min() >= 0:
        largest_coordinate = float(coords.max())
        if largest_coordinate <= 2.0 * side:
            largest = max(largest_coordinate, side)
    return int(np.ceil(largest / 100.0) * 100 + 400)


@dataclass(frozen=True)
class ConvexHulls:
    """Convex hulls of several clusters, stored flat.

    ``vertices[offsets[i]:offsets[i + 1]]`` are the vertices of hull ``i``
    (counter-clockwise, starting at its leftmost vertex, the lowest of
    those), ``codes[i]`` the label code of its cluster (ascending).
    """

    vertices: np.ndarray  # (n_vertices, 2) float64, input coordinates
    sizes: np.ndarray  # (n_hulls,) vertices per hull, each >= 3
    codes: np.ndarray  # (n_hulls,) label code of each hull's cluster

    def __len__(self):
        return len(self.sizes)

    @property
    def offsets(self):
        return np.r_[0, np.cumsum(self.sizes)]


def _cross(ax, ay, bx, by, px, py):
    """Twice the signed area of (a, b, p): negative when p is right of a -> b.

    Differences are taken from ``a`` (one rounding each) before the products,
    so the error is a few ulps of ``|b - a| |p - a|`` whatever the offset of
    the coordinates; :func:`_collinearity_tolerance` is larger than that.
    """
    return (bx - ax) * (py - ay) - (by - ay) * (px - ax)


# Qhull (scipy's ConvexHull) treats a point as on a line when it is within a
# few times its round-off bound DISTround = eps * (2.02 * max(|x| + |y|) +
# max(|x|, |y|)) of it (2-D, maxima over the points passed to it). Measured on
# scipy 1.17: a point near a hull edge is dropped below 3.4-4.2 DISTround, a
# triangle is "flat" (QhullError) below 2.5-3.3 DISTround.
_QHULL_COLLINEAR_FACTOR = 3.8


def _collinearity_tolerance(px, py, starts):
    """Distance below which a point counts as on a line, per cluster.

    Mimics Qhull's own tolerance (see ``_QHULL_COLLINEAR_FACTOR``), so that a
    cluster Qhull finds flat (e.g. points on a line with rounded coordinates)
    gets no hull here either. It also exceeds the rounding error of
    :func:`_cross` divided by the edge length (at most about 8 eps max(|x|,
    |y|)), so a point found outside an edge is outside in exact arithmetic.
    """
    ax, ay = np.abs(px), np.abs(py)
    max_abs = np.maximum.reduceat(np.maximum(ax, ay), starts)
    max_sum_abs = np.maximum.reduceat(ax + ay, starts)
    dist_round = np.finfo(np.float64).eps * (2.02 * max_sum_abs + max_abs)
    return _QHULL_COLLINEAR_FACTOR * dist_round


def _group_starts(sorted_ids):
    """First index of each run of equal values in a sorted integer array."""
    return np.flatnonzero(np.r_[True, sorted_ids[1:] != sorted_ids[:-1]])


def cluster_hulls(coords, encoded):
    """Vertices (counter-clockwise) of the convex hull of every cluster with an area.

    The same hulls as calling scipy's ``ConvexHull`` (Qhull) on every cluster:
    clusters with fewer than three localisations, or whose localisations are
    collinear or coincide, have no two-dimensional hull and contribute no
    pixel; vertices are the hull's corners only, duplicates and points on an
    edge are left out. "On a line" means within Qhull's own tolerance
    (:func:`_collinearity_tolerance`, a few 1e-15 of the largest coordinate),
    so points on a line whose coordinates were rounded are collinear too.
    Qhull's own test is not a closed formula: a cluster within a few of these
    tolerances of flat (a sliver 2e-12 wide on a 1,000-wide FOV), or points
    closer than that to each other or to an edge, can be decided otherwise
    than by Qhull, which can move a whole grid row or column of pixels in
    :func:`hull_union_iou`. A review found 2 such FOVs among 2,500 built to
    be near-degenerate, and none in data rounded to 0.1 nm.

    All clusters are processed at once by a vectorised quickhull:

    1. Per cluster, ``P`` = leftmost and ``Q`` = rightmost localisation (the
       lexicographic min and max of ``(x, y)``, by group reductions), both
       hull vertices. The points right of ``P -> Q`` (farther than the
       tolerance) form the subproblem of the lower chain, those left of it
       (right of ``Q -> P``) that of the upper chain; a cluster where both
       are empty is collinear or coincident and has no hull.
    2. A subproblem ``(a, b)`` holds the points right of ``a -> b``. In one
       round, every subproblem of every cluster takes its point ``f``
       farthest right of ``a -> b`` (group minimum of the cross products;
       among points as far as that, which lie on one parallel to ``a -> b``,
       the one farthest along ``a -> b``, so that ``f`` is a corner and not a
       point inside an edge) and splits into ``(a, f)`` and ``(f, b)``,
       keeping only the points right of the new edges. Points in the
       triangle ``a, f, b`` or on its sides (collinear or duplicate points)
       are dropped for good, so the candidate arrays only shrink.
    3. Every round turns each live subproblem into a vertex, so the number of
       rounds is at most the largest number of vertices of one hull chain;
       in practice it is the quickhull recursion depth, about log2 of the
       largest hull's vertex count (16 for a ring of 10^4 localisations all
       on the hull, 24 for 10^6). A round costs in proportion to the
       candidates still alive, which fall fast: the first round drops the
       inside of each cluster's quadrilateral ``P, f_lower, Q, f_upper``.
    4. The vertices are put in counter-clockwise order by one sort: per
       cluster ``P``, the lower chain by ascending ``(x, y)``, ``Q``, the
       upper chain by descending ``(x, y)`` (the order of Andrew's monotone
       chain, strictly monotone along a strictly convex chain).

    Memory is linear in the number of localisations, and nothing loops over
    clusters or points in Python. The start of each cycle differs from
    Qhull's, which changes nothing downstream: :func:`hull_row_intervals`
    uses the directed edges, the same for every start.

    Parameters
    ----------
    coords : ndarray of shape (n_localizations, 2)
        Coordinates (float64; :func:`hull_union_iou` passes them relative to
        the FOV's minimum, as the scipy loop got them).
    encoded : EncodedLabels
        Labels; the background belongs to no hull.

    Returns
    -------
    ConvexHulls
        One hull per cluster with an area, in the order of the label codes.
    """
    coords = np.asarray(coords, dtype=np.float64)
    codes = encoded.codes
    keep = encoded.cluster_mask()
    sizes = np.bincount(codes[keep], minlength=encoded.n_classes)
    keep &= sizes[codes] >= 3
    order = np.flatnonzero(keep)[np.argsort(codes[keep], kind="stable")]
    px, py = coords[order, 0], coords[order, 1]
    point_cluster_code = codes[order]
    if px.size == 0:
        return _empty_hulls()

    # Group reductions over the points sorted by cluster (clusters numbered 0..k-1).
    starts = _group_starts(point_cluster_code)
    cluster_code = point_cluster_code[starts]
    group = np.repeat(np.arange(starts.size), np.diff(np.r_[starts, px.size]))
    x_min = np.minimum.reduceat(px, starts)
    x_max = np.maximum.reduceat(px, starts)
    p_x, q_x = x_min, x_max
    p_y = np.minimum.reduceat(np.where(px == x_min[group], py, np.inf), starts)
    q_y = np.maximum.reduceat(np.where(px == x_max[group], py, -np.inf), starts)
    tolerance = _collinearity_tolerance(px, py, starts)

    # Two subproblems per cluster: lower chain P -> Q (ids 0..k-1) and upper
    # chain Q -> P (ids k..2k-1), holding the points right of them by more
    # than the tolerance (margin = tolerance * edge length, as cross products
    # are distances times the edge length).
    cross = _cross(p_x[group], p_y[group], q_x[group], q_y[group], px, py)
    margin = (tolerance * np.hypot(q_x - p_x, q_y - p_y))[group]
    lower, upper = np.flatnonzero(cross < -margin), np.flatnonzero(cross > margin)
    n_clusters = starts.size
    candidate = np.r_[lower, upper]
    cand_cross = np.r_[cross[lower], -cross[upper]]  # right of a -> b is negative
    child = np.r_[group[lower], group[upper] + n_clusters]
    child_ax, child_ay = np.r_[p_x, q_x], np.r_[p_y, q_y]
    child_bx, child_by = np.r_[q_x, p_x], np.r_[q_y, p_y]
    child_group = np.r_[np.arange(n_clusters), np.arange(n_clusters)]
    child_chain = np.repeat(np.array([0, 1], np.int8), n_clusters)

    found_point, found_group, found_chain = [], [], []
    # Each round gives every live subproblem a new vertex of its chain, so the
    # loop runs at most (largest chain vertex count) times; in practice about
    # log2 of it (see the docstring).
    while candidate.size:
        # `child` is sorted (see below): number its runs 0..m-1, drop empty subproblems.
        run_starts = _group_starts(child)
        live = child[run_starts]
        sub_ax, sub_ay = child_ax[live], child_ay[live]
        sub_bx, sub_by = child_bx[live], child_by[live]
        sub_group, sub_chain = child_group[live], child_chain[live]
        s = np.repeat(np.arange(live.size), np.diff(np.r_[run_starts, child.size]))
        sub_margin = tolerance[sub_group] * np.hypot(sub_bx - sub_ax, sub_by - sub_ay)

        # f: farthest right of a -> b. Points as far as f up to the tolerance lie
        # on one line parallel to a -> b, and only its ends are corners: take
        # the one farthest along a -> b (the lowest index among exact ties).
        farthest = np.minimum.reduceat(cand_cross, run_starts)
        tied = np.flatnonzero(cand_cross <= (farthest + sub_margin)[s])
        t_sub, t_point = s[tied], candidate[tied]
        along = ((px[t_point] - sub_ax[t_sub]) * (sub_bx - sub_ax)[t_sub]
                 + (py[t_point] - sub_ay[t_sub]) * (sub_by - sub_ay)[t_sub])
        t_starts = _group_starts(t_sub)
        furthest_along = np.maximum.reduceat(along, t_starts)
        best = np.flatnonzero(along == furthest_along[t_sub])
        f_point = t_point[best[_group_starts(t_sub[best])]]  # one per live subproblem
        found_point.append(f_point)
        found_group.append(sub_group)
        found_chain.append(sub_chain)
        fx, fy = px[f_point], py[f_point]

        cx, cy = px[candidate], py[candidate]
        cross_af = _cross(sub_ax[s], sub_ay[s], fx[s], fy[s], cx, cy)
        cross_fb = _cross(fx[s], fy[s], sub_bx[s], sub_by[s], cx, cy)
        margin_af = tolerance[sub_group] * np.hypot(fx - sub_ax, fy - sub_ay)
        margin_fb = tolerance[sub_group] * np.hypot(sub_bx - fx, sub_by - fy)
        # f itself gives exactly 0 in both (identical products), so it leaves;
        # so do points in the triangle (a, f, b) or within the tolerance of its sides.
        to_left = cross_af < -margin_af[s]
        to_right = (cross_fb < -margin_fb[s]) & ~to_left  # exclusive even under round-off
        # Children (a, f) get ids 0..m-1 and (f, b) ids m..2m-1: concatenating
        # the two selections, each in subproblem order, keeps `child` sorted
        # without a sort.
        candidate = np.r_[candidate[to_left], candidate[to_right]]
        cand_cross = np.r_[cross_af[to_left], cross_fb[to_right]]
        child = np.r_[s[to_left], s[to_right] + live.size]
        child_ax, child_ay = np.r_[sub_ax, fx], np.r_[sub_ay, fy]
        child_bx, child_by = np.r_[fx, sub_bx], np.r_[fy, sub_by]
        child_group = np.r_[sub_group, sub_group]
        child_chain = np.r_[sub_chain, sub_chain]

    if not found_point:  # every cluster collinear or coincident
        return _empty_hulls()
    f_point = np.concatenate(found_point)
    f_group = np.concatenate(found_group)
    f_chain = np.concatenate(found_chain)
    has_hull = np.zeros(n_clusters, dtype=bool)
    has_hull[f_group] = True
    hull_groups = np.flatnonzero(has_hull)

    # Counter-clockwise order: P, lower chain by ascending (x, y), Q, upper
    # chain by descending (x, y). part: 0 = P, 1 = lower, 2 = Q, 3 = upper.
    n_hulls = hull_groups.size
    vx = np.r_[p_x[hull_groups], q_x[hull_groups], px[f_point]]
    vy = np.r_[p_y[hull_groups], q_y[hull_groups], py[f_point]]
    v_group = np.r_[hull_groups, hull_groups, f_group]
    part = np.r_[np.zeros(n_hulls, np.int8), np.full(n_hulls, 2, np.int8),
                 (1 + 2 * f_chain).astype(np.int8)]
    direction = np.where(part == 3, -1.0, 1.0)
    ccw = np.lexsort((direction * vy, direction * vx, part, v_group))
    vertices = np.stack([vx[ccw], vy[ccw]], axis=1)
    hull_sizes = np.bincount(v_group, minlength=n_clusters)[hull_groups]
    return ConvexHulls(vertices=vertices, sizes=hull_sizes, codes=cluster_code[hull_groups])


def _empty_hulls():
    return ConvexHulls(vertices=np.empty((0, 2)), sizes=np.empty(0, np.intp),
                       codes=np.empty(0, np.intp))


def hull_row_intervals(hulls, origin, spacing, n_pixels, band=None):
    """Pixel intervals covered by each hull, one per (hull, grid row).

    ``hulls`` is a :class:`ConvexHulls` (counter-clockwise vertices).

    The grid has ``n_pixels`` samples per axis at ``origin + k * spacing``
    (exactly the points of ``numpy.linspace`` over the bounding box). A sample
    belongs to a hull when it lies in the closed polygon. Because a convex
    polygon cuts every row in one segment, it suffices to intersect each
    polygon edge with the rows it spans and take, per (hull, row), the smallest
    and largest crossing (unbuffered min / max, no sort): the work grows with
    the number of rows a hull spans, not with the number of pixels of its
    bounding box.

    ``band``, a half-open range ``(first, stop)`` of grid rows, restricts the
    intervals to those rows (None: all); each interval is the same whatever
    the range, as every (edge, row) crossing is computed on its own.

    Returns
    -------
    starts, ends : int64 arrays
        Half-open intervals on the flattened grid (row-major, with a one-sample
        gap between rows so that intervals of different rows never touch).
    """
    edges = _hull_edges(hulls, origin, spacing, n_pixels)
    return _edge_row_intervals(edges, origin, spacing, n_pixels, (0, n_pixels) if band is None else band)


def _hull_edges(hulls, origin, spacing, n_pixels):
    """The hulls' non-horizontal edges and the grid rows each one crosses.

    Returns ``(x0, y0, x1, y1, hull_ids, first_row, rows_per_edge)``: edges in
    hull order, the first row each crosses and how many (0 for an edge
    between two rows or outside the grid).
    """
    if len(hulls) == 0:
        empty = np.empty(0)
        none = np.empty(0, np.int64)
        return empty, empty, empty, empty, none, none, none
    offsets = hulls.offsets
    # Edge i runs from vertex i to the next vertex of the same hull (the last
    # vertex of a hull closes the polygon back to its first).
    next_vertex = np.arange(1, offsets[-1] + 1)
    next_vertex[offsets[1:] - 1] = offsets[:-1]
    start_vertices = hulls.vertices
    end_vertices = hulls.vertices[next_vertex]
    hull_ids = np.repeat(np.arange(len(hulls)), hulls.sizes)

    x0, y0 = start_vertices[:, 0], start_vertices[:, 1]
    x1, y1 = end_vertices[:, 0], end_vertices[:, 1]
    not_horizontal = y0 != y1  # horizontal edges add nothing the adjacent edges miss
    x0, y0, x1, y1, hull_ids = (a[not_horizontal] for a in (x0, y0, x1, y1, hull_ids))

    y_low = (np.minimum(y0, y1) - origin[1]) / spacing[1]
    y_high = (np.maximum(y0, y1) - origin[1]) / spacing[1]
    first_row = np.clip(np.ceil(y_low), 0, n_pixels - 1).astype(np.int64)
    last_row = np.clip(np.floor(y_high), 0, n_pixels - 1).astype(np.int64)
    rows_per_edge = np.maximum(last_row - first_row + 1, 0)
    rows_per_edge[np.ceil(y_low) > n_pixels - 1] = 0
    rows_per_edge[np.floor(y_high) < 0] = 0
    return x0, y0, x1, y1, hull_ids, first_row, rows_per_edge


def _edge_row_intervals(edges, origin, spacing, n_pixels, band):
    """:func:`hull_row_intervals` of :func:`_hull_edges`, in the grid rows ``band = (first, stop)``."""
    x0, y0, x1, y1, hull_ids, first_row, rows_per_edge = edges
    band_first, band_stop = band
    first = np.maximum(first_row, band_first)
    count = np.minimum(first_row + rows_per_edge, band_stop) - first
    crossing = np.flatnonzero(count > 0)  # the edges crossing rows of the band, in hull order
    if crossing.size == 0:  # every hull lies between two pixel rows: it covers no pixel
        return np.empty(0, np.int64), np.empty(0, np.int64)
    x0, y0, x1, y1, hull_ids = (a[crossing] for a in (x0, y0, x1, y1, hull_ids))
    first_row, rows_per_edge = first[crossing], count[crossing]

    edge_of_crossing = np.repeat(np.arange(len(first_row)), rows_per_edge)
    offsets = np.arange(edge_of_crossing.size) - np.repeat(
        np.cumsum(rows_per_edge) - rows_per_edge, rows_per_edge
    )
    rows = first_row[edge_of_crossing] + offsets
    del offsets
    row_y = origin[1] + rows * spacing[1]
    e = edge_of_crossing
    fraction = (row_y - y0[e]) / (y1[e] - y0[e])
    del row_y
    crossing_x = x0[e] + fraction * (x1[e] - x0[e])
    del fraction

    # Smallest and largest crossing per (hull, row), without sorting the
    # crossings: they come grouped by hull (edges are in hull order), and the
    # rows a convex hull crosses are contiguous, so (hull, row) maps to the
    # dense index base[hull] + row - first row of the hull, in (hull, row)
    # order. Unbuffered min / max there give exactly the extreme crossings.
    hull_of_crossing = hull_ids[e]
    del e, edge_of_crossing
    run_starts = _group_starts(hull_of_crossing)
    run = np.repeat(np.arange(run_starts.size), np.diff(np.r_[run_starts, hull_of_crossing.size]))
    del hull_of_crossing
    row_min = np.minimum.reduceat(rows, run_starts)
    span = np.maximum.reduceat(rows, run_starts) - row_min + 1
    base = np.cumsum(span) - span
    dense = base[run] + rows - row_min[run]
    del run, rows
    x_left = np.full(int(span.sum()), np.inf)
    x_right = np.full(x_left.size, -np.inf)
    np.minimum.at(x_left, dense, crossing_x)
    np.maximum.at(x_right, dense, crossing_x)
    del dense, crossing_x
    rows = np.repeat(row_min - base, span) + np.arange(x_left.size)
    crossed = np.isfinite(x_left)  # always, for a convex hull; kept as a guard
    x_left, x_right, rows = x_left[crossed], x_right[crossed], rows[crossed]

    first_col = np.maximum(np.ceil((x_left - origin[0]) / spacing[0]), 0)
    last_col = np.minimum(np.floor((x_right - origin[0]) / spacing[0]), n_pixels - 1)
    nonempty = last_col >= first_col
    row_stride = n_pixels + 1
    starts = rows[nonempty] * row_stride + first_col[nonempty].astype(np.int64)
    ends = rows[nonempty] * row_stride + last_col[nonempty].astype(np.int64) + 1
    return starts, ends


#: Crossings of hull edges with grid rows that :func:`hull_union_iou` handles
#: at once (some 100 bytes each): past that, the grid is cut into bands of
#: rows. A prediction of many clusters spread over the whole FOV (random
#: labels, say) crosses every row with every hull: 10^4 of them on a 2,400-row
#: grid made 5 * 10^7 crossings, 5.5 GB at once (benchmarks/memory_scale.py).
_IOU_BAND_CROSSINGS = 1 << 20


def _row_bands(edge_sets, n_pixels):
    """Half-open ranges of grid rows holding about ``_IOU_BAND_CROSSINGS`` crossings each.

    ``edge_sets`` are :func:`_hull_edges` results. A band holds at most the
    budget plus the crossings of one row, and the budget is at least the
    number of edges, so a band costs no more than the edges themselves
    (memory grows with the input, not with the grid) and the bands repeat the
    per-edge work a bounded number of times.
    """
    first = np.concatenate([edges[5] for edges in edge_sets])
    count = np.concatenate([edges[6] for edges in edge_sets])
    total = int(count.sum())
    budget = max(int(_IOU_BAND_CROSSINGS), first.size, 1)
    if total <= budget:
        return [(0, n_pixels)]
    live = count > 0
    first, stop = first[live], first[live] + count[live]
    # The crossings per row change only at the edges' first rows and stops.
    bounds, where = np.unique(np.r_[first, stop], return_inverse=True)
    change = np.zeros(bounds.size, dtype=np.int64)
    np.add.at(change, where.ravel(), np.r_[np.ones(first.size, np.int64), -np.ones(stop.size, np.int64)])
    density = np.cumsum(change)[:-1]  # crossings per row in [bounds[i], bounds[i + 1])
    before = np.r_[0, np.cumsum(density * np.diff(bounds))]  # crossings above bounds[i]
    targets = np.arange(budget, total, budget, dtype=np.int64)
    segment = np.searchsorted(before, targets, side="right") - 1
    cuts = bounds[segment] + (targets - before[segment]) // density[segment]
    cuts = np.unique(cuts[(cuts > 0) & (cuts < n_pixels)]).tolist()
    return list(zip([0, *cuts], [*cuts, n_pixels]))


def union_length(starts, ends):
    """Total length of the union of half-open integer intervals (sort and sweep)."""
    if starts.size == 0:
        return 0
    order = np.argsort(starts, kind="stable")
    starts, ends = starts[order], ends[order]
    reach = np.maximum.accumulate(ends)
    opens_block = np.r_[True, starts[1:] > reach[:-1]]
    block_firsts = np.flatnonzero(opens_block)
    block_ends = np.maximum.reduceat(ends, block_firsts)
    return int((block_ends - starts[block_firsts]).sum())


def hull_union_iou(coords, encoded_true, encoded_pred, n_pixels=None):
    """IoU of the rasterised unions of ground-truth and predicted cluster hulls.

    Returns ``(iou, pixels_true, pixels_pred, pixels_union)``; ``iou`` is NaN
    when both unions are empty (the caller decides the convention).

    The work grows with the (hull edge, grid row) crossings, which a
    pathological prediction makes many: clusters spread over the whole FOV
    (random labels, say) each cross every row. Past ``_IOU_BAND_CROSSINGS``
    of them the grid is handled in bands of rows, so that memory stays near
    that budget (about 50 MB) whatever the crossings: the same pixel counts,
    as no interval spans two rows.
    """
    # Everything relative to the FOV's own bounding box: the grid, and so the
    # result, does not depend on where the FOV sits.
    coords = coords - coords.min(axis=0)
    hulls_true = cluster_hulls(coords, encoded_true)
    hulls_pred = cluster_hulls(coords, encoded_pred)
    if len(hulls_true) == 0 and len(hulls_pred) == 0:
        return np.nan, 0, 0, 0
    if n_pixels is None:
        # The coordinates start at 0 here, so this is the reference's rule for a
        # FOV whose corner is at the origin: ceil(side / 100) * 100 + 400. The
        # reference applies it to the raw largest coordinate; on the benchmark's
        # FOVs, which do not start exactly at 0, its grid differs by -300 to +100
        # samples and the IoU by at most 3e-4 per FOV (ground truth 6),
        # while this one is the same wherever the FOV sits.
        n_pixels = reference_grid_size(coords)
    origin = coords.min(axis=0)
    spacing = np.ptp(coords, axis=0) / (n_pixels - 1)
    edges_true = _hull_edges(hulls_true, origin, spacing, n_pixels)
    edges_pred = _hull_edges(hulls_pred, origin, spacing, n_pixels)
    del coords, hulls_true, hulls_pred
    # Rows never share an interval, so the pixel counts are sums over bands of
    # rows, computed one band at a time (one band, all rows, unless the hulls
    # cross more than _IOU_BAND_CROSSINGS (row, edge) pairs).
    area_true = area_pred = area_union = 0
    for band in _row_bands((edges_true, edges_pred), n_pixels):
        starts_true, ends_true = _edge_row_intervals(edges_true, origin, spacing, n_pixels, band)
        starts_pred, ends_pred = _edge_row_intervals(edges_pred, origin, spacing, n_pixels, band)
        area_true += union_length(starts_true, ends_true)
        area_pred += union_length(starts_pred, ends_pred)
        area_union += union_length(np.r_[starts_true, starts_pred], np.r_[ends_true, ends_pred])
        del starts_true, ends_true, starts_pred, ends_pred
    if area_union == 0:
        return np.nan, area_true, area_pred, area_union
    intersection = area_true + area_pred - area_union
    return intersection / area_union, area_true, area_pred, area_union


# ------------------------------------------------------- stacked-FOV diagnosis


@dataclass(frozen=True)
class StackDiagnosis:
    """Outcome of :func:`diagnose_stacked_fovs`."""

    n_assessed: int
    n_spread: int
    spread_labels: np.ndarray  # a few example labels, for the message

    @property
    def suspicious(self):
        return self.n_assessed > 0 and self.n_spread > 0.5 * self.n_assessed


def diagnose_stacked_fovs(coords, encoded, *, min_size=3):
    """Look for ground-truth clusters that are not denser than the field.

    A cluster is a spot where localisations are denser than on average. For
    each ground-truth label with at least ``min_size`` localisations we compare
    its density, ``n / (pi R^2)`` with ``R`` the root-mean-square distance of
    its localisations to their centroid, with the density of the whole input
    (all localisations over their bounding-box area). A label whose density
    contrast is below 1 is spread over the field rather than concentrated.

    When FOVs whose labels restart at 1 are concatenated, each label gathers
    one cluster from every FOV, scattered over the shared coordinate range, and
    almost every label becomes "spread". The input is flagged when more than
    half of the assessed labels are spread. On the shipped benchmark (five
    scenarios, with and without blinking), at most 5 % of the labels of any of
    the 500 single FOVs are spread, and at least 75 % in every one of the 490
    pairs of consecutive FOVs.

    Labels that are unique across FOVs do not split when FOVs are stacked; only
    the density contrast remains, which drops by the number of FOVs, so only
    large stacks are caught then (see doc/metrics.md).
    """
    mask = encoded.cluster_mask()
    codes = encoded.codes[mask]
    points = coords[mask]
    none = StackDiagnosis(0, 0, np.empty(0))
    field_area = float(np.prod(np.ptp(coords, axis=0)))
    if codes.size == 0 or field_area <= 0:
        return none
    n_classes = encoded.n_classes
    sizes = np.bincount(codes, minlength=n_classes).astype(np.float64)
    assessed = sizes >= min_size
    if encoded.background_code >= 0:
        assessed[encoded.background_code] = False
    if not assessed.any():
        return none
    with np.errstate(invalid="ignore", divide="ignore"):
        centroids = np.column_stack(
            [np.bincount(codes, weights=points[:, a], minlength=n_classes) / sizes for a in (0, 1)]
        )
        squared_radius = (
            np.bincount(
                codes,
                weights=((points - centroids[codes]) ** 2).sum(axis=1),
                minlength=n_classes,
            )
            / sizes
        )
        cluster_density = sizes / (np.pi * squared_radius)  # inf for coincident points
    field_density = coords.shape[0] / field_area
    spread = assessed & (cluster_density < field_density)
    return StackDiagnosis(
        n_assessed=int(assessed.sum()),
        n_spread=int(spread.sum()),
        spread_labels=encoded.classes[np.flatnonzero(spread)[:5]],
    )


# ------------------------------------------------------- adjusted mutual info


# Expected-mutual-information terms of (n, true size, predicted size) triples
# already computed, reused by later labellings of the same FOV: a DBSCAN grid
# search scores thousands of labellings of one FOV whose true sizes never
# change and whose predicted sizes mostly recur. Cleared when it would exceed
# _EMI_CACHE_MAX entries (about 200 bytes each: 25 MiB), in each process.
_EMI_PAIR_CACHE: dict = {}
_EMI_CACHE_MAX = 2**17


_LOG_FACTORIALS = np.zeros(1)
# Tables up to this length are kept (32 MiB, in each process); beyond, the
# log-factorials are evaluated term by term.
_LOG_FACTORIALS_KEPT = 2**22


def _log_factorials(n):
    """``log(k!)`` for k = 0..n, the values of ``gammaln(k + 1)``, as a lookup table; None beyond.

    Looking the terms' nine log-factorials up instead of evaluating gammaln
    on each made a cold expected mutual information several times cheaper.
    Past ``_LOG_FACTORIALS_KEPT`` localisations a table would be rebuilt by
    every call that meets a new pair of sizes (0.1-0.2 s at 5 million):
    None, and the caller evaluates gammaln where needed.
    """
    global _LOG_FACTORIALS
    if _LOG_FACTORIALS.size > n:
        return _LOG_FACTORIALS
    if n + 1 > _LOG_FACTORIALS_KEPT:
        return None
    _LOG_FACTORIALS = gammaln(np.arange(min(max(n + 1, 2 * _LOG_FACTORIALS.size), _LOG_FACTORIALS_KEPT),
                                        dtype=np.float64) + 1)
    return _LOG_FACTORIALS


def _emi_pair_terms(n, a, b, chunk_size):
    """For each pair of sizes ``(a[k], b[k])``, its term of the expected mutual information.

    The sum over every possible overlap ``nij`` of ``nij / n log(n nij / (a b))``
    weighted by its hypergeometric probability; evaluated in chunks of at
    most ``chunk_size`` overlaps.
    """
    low = np.maximum(1, a + b - n)
    n_terms = np.maximum(np.minimum(a, b) - low + 1, 0)
    out = np.zeros(a.size)
    if n_terms.sum() == 0:
        return out
    group = (np.cumsum(n_terms) - 1) // chunk_size
    bounds = np.flatnonzero(np.r_[True, group[1:] != group[:-1], True])
    table = _log_factorials(n)
    # The same values either way: gammaln(k + 1) of the integers k.
    log_factorial = (table.__getitem__ if table is not None
                     else (lambda k: gammaln(np.asarray(k, dtype=np.float64) + 1)))
    log_n_factorial = log_factorial(n)
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        counts = n_terms[lo:hi]
        pair = np.repeat(np.arange(lo, hi), counts)
        nij = (np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts) + low[pair])
        ai, bj = a[pair], b[pair]
        # log(k!) looked up for the integers k (the same values as gammaln(k + 1)).
        log_probability = (
            log_factorial(ai) + log_factorial(bj) + log_factorial(n - ai) + log_factorial(n - bj)
            - log_n_factorial - log_factorial(nij) - log_factorial(ai - nij) - log_factorial(bj - nij)
            - log_factorial(n - ai - bj + nij)
        )
        nij, ai, bj = nij.astype(np.float64), ai.astype(np.float64), bj.astype(np.float64)
        term = nij / n * (np.log(n * nij) - np.log(ai) - np.log(bj)) * np.exp(log_probability)
        # Chunks hold whole pairs (a pair with more terms than chunk_size is
        # a chunk of its own), so a pair's sum does not depend on the chunks.
        out[lo:hi] = np.bincount(pair - lo, weights=term, minlength=hi - lo)
    return out


def expected_mutual_information(row_sums, col_sums, *, chunk_size=4_000_000):
    """Expected mutual information of two labellings with these cluster sizes.

    The hypergeometric expectation of Vinh et al. (2010), the quantity
    :func:`sklearn.metrics.adjusted_mutual_info_score` subtracts. It depends
    only on the multisets of cluster sizes, so the sum runs over pairs of
    *distinct* sizes (weighted by how often each occurs) instead of pairs of
    clusters: a 10^6-localisation FOV with 30,000 clusters of a few hundred
    distinct sizes costs milliseconds instead of 10^9 cluster pairs. Each
    pair's term is kept (per number of localisations) and reused by later
    calls: in a DBSCAN grid search on one FOV the true sizes never change and
    most predicted sizes recur: over the 360 labellings of blinking 6's
    first training FOV, scikit-learn's expectation (with its contingency
    table) took 5.5 ms per labelling, this one about 1 ms from an empty cache
    (``benchmarks/README.md``, thirty-fourth session). Terms are evaluated in
    chunks of at most ``chunk_size``. Agrees with scikit-learn's to rounding
    (another order of the additions).
    """
    row_sums = np.asarray(row_sums, dtype=np.int64)
    col_sums = np.asarray(col_sums, dtype=np.int64)
    n = int(row_sums.sum())
    a_values, a_counts = np.unique(row_sums[row_sums > 0], return_counts=True)
    b_values, b_counts = np.unique(col_sums[col_sums > 0], return_counts=True)
    a = np.repeat(a_values, b_values.size)
    b = np.tile(b_values, a_values.size)
    weight = (np.repeat(a_counts, b_values.size) * np.tile(b_counts, a_values.size)).astype(np.float64)
    terms = np.empty(a.size)
    missing = []
    for k, key in enumerate(zip(a.tolist(), b.tolist())):
        value = _EMI_PAIR_CACHE.get((n, *key))
        if value is None:
            missing.append(k)
        else:
            terms[k] = value
    if missing:
        missing = np.asarray(missing, dtype=np.intp)
        computed = _emi_pair_terms(n, a[missing], b[missing], chunk_size)
        terms[missing] = computed
        # A call with more new pairs than the cache holds stores none (and
        # does not evict the other FOVs' terms).
        if len(missing) <= _EMI_CACHE_MAX:
            if len(_EMI_PAIR_CACHE) + len(missing) > _EMI_CACHE_MAX:
                _EMI_PAIR_CACHE.clear()
            _EMI_PAIR_CACHE.update(zip(zip([n] * len(missing), a[missing].tolist(), b[missing].tolist()),
                                       computed.tolist()))
    return float(np.dot(terms, weight))


def _entropy(counts):
    counts = counts[counts > 0].astype(np.float64)
    total = counts.sum()
    return float(-np.sum(counts / total * (np.log(counts) - np.log(total))))


def adjusted_mutual_information(codes_true, n_true, codes_pred, n_pred, average_method="arithmetic",
                                 table=None):
    """Adjusted mutual information, scikit-learn's formula at a cost linear in the clusters.

    :func:`sklearn.metrics.adjusted_mutual_info_score`'s limit cases (one
    cluster on both sides: 1; on one side only: 0) and formula, with the
    expectation of :func:`expected_mutual_information` (over pairs of distinct
    cluster sizes, each pair's term kept for later calls) instead of
    scikit-learn's loop over every pair of clusters, which took minutes for
    tens of thousands of clusters and most of a DBSCAN grid search's scoring
    on small ones. Agrees with scikit-learn's to rounding (the additions run
    in another order: differences of 1e-13 or less up to 10^4 localisations,
    about 1e-11 at 10^5). ``table``, when given, is
    :func:`contingency` of the codes. From 4 million localisations on, a
    table of at most 10^6 pairs of clusters goes to scikit-learn, faster
    there.
    """
    if table is None:
        table = contingency(codes_true, n_true, codes_pred, n_pred)
    row_sums, col_sums = table.row_sums, table.col_sums
    k_true, k_pred = int((row_sums > 0).sum()), int((col_sums > 0).sum())
    if k_true == k_pred and k_true <= 1:
        return 1.0
    if k_true == 1 or k_pred == 1:
        return 0.0
    if table.n_samples >= _LOG_FACTORIALS_KEPT and k_true * k_pred <= 10**6:
        # Past the kept log-factorial table (4 million localisations), with
        # few clusters, scikit-learn's loop over the pairs of clusters beats
        # gammaln term by term (5 million localisations, 3 x 4 clusters:
        # about 0.8 s against 1.1-1.5 s). Its parameter validation (a
        # signature inspection) is skipped: the codes are checked vectors.
        from sklearn import config_context
        from sklearn.metrics import adjusted_mutual_info_score

        with config_context(skip_parameter_validation=True):
            return float(adjusted_mutual_info_score(codes_true, codes_pred, average_method=average_method))
    n = float(table.n_samples)
    counts = table.counts.astype(np.float64)
    mi = float(np.sum(counts / n * (np.log(counts) + np.log(n)
                                   - np.log(row_sums[table.rows].astype(np.float64))
                                   - np.log(col_sums[table.cols].astype(np.float64)))))
    mi = max(mi, 0.0)
    emi = expected_mutual_information(row_sums, col_sums)
    h_true, h_pred = _entropy(row_sums), _entropy(col_sums)
    normalizer = {
        "arithmetic": (h_true + h_pred) / 2.0,
        "geometric": np.sqrt(h_true * h_pred),
        "min": min(h_true, h_pred),
        "max": max(h_true, h_pred),
    }[average_method]
    tiny = np.finfo(np.float64).eps
    denominator = normalizer - emi
    denominator = min(denominator, -tiny) if denominator < 0 else max(denominator, tiny)
    numerator = mi - emi
    numerator = min(numerator, -tiny) if numerator < 0 else max(numerator, tiny)
    return float(numerator / denominator)
