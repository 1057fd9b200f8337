"""Per-cluster and per-FOV statistics of a clustering.

* :func:`cluster_table` turns localisations and their cluster labels into a
  :class:`pandas.DataFrame` with one row per cluster: size, centroid, radius of
  gyration, convex hull, density, principal axes, distance to the nearest
  other cluster, and (when given) shape class and the coarse cluster holding
  each fine one.
* :func:`fov_summary` gives one row per field of view: area, number and
  density of clusters, fraction of localisations in clusters, median cluster
  statistics.
* :func:`convex_hulls` computes the convex hull of every cluster at once
  (vectorised over all clusters; used by :func:`cluster_table`).

Coordinates are taken to be in nm (the package's convention): lengths are in
nm, hull areas in nm^2 and densities per um^2 (``1 um^2 = 10^6 nm^2``).
Everything is vectorised over localisations and clusters (no Python loop per
cluster); the only loops are over fields of view, for the nearest-cluster
search, and over blocks of 65,536 localisations, which keep the temporaries
small (a table's peak memory is about 50 bytes per localisation, the
validated copies of the input included).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from ._validation import (
    caller_stacklevel,
    check_coordinates,
    check_groups,
    dense_codes,
    integer_labels,
    is_integer_scalar,
    warn_if_zero_is_background,
)

__all__ = [
    "CLUSTER_TABLE_UNITS",
    "cluster_table",
    "convex_hulls",
    "fov_summary",
    "multiscale_cluster_table",
]

NM2_PER_UM2 = 1.0e6

#: Unit of every column of :func:`cluster_table` (also in ``table.attrs["units"]``).
CLUSTER_TABLE_UNITS = {
    "fov": "",
    "label": "",
    "n_localizations": "count",
    "centroid_x": "nm",
    "centroid_y": "nm",
    "radius_of_gyration": "nm",
    "hull_area": "nm^2",
    "hull_perimeter": "nm",
    "density_per_um2": "localisations/um^2",
    "major_std": "nm",
    "minor_std": "nm",
    "eccentricity": "",
    "orientation": "rad",
    "radial_spread": "",
    "arc_resultant": "",
    "nn_distance": "nm",
    "shape": "",
    "parent_label": "",
    "n_in_parent": "count",
    "scale": "",
}


# --------------------------------------------------------------------------- #
# Input handling
# --------------------------------------------------------------------------- #
def _check_labels_2d(labels, n, name):
    """(fine labels (n,), parent labels (n,) or None) from (n,) or (n, 2) labels."""
    arr = np.asarray(labels)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim not in (1, 2) or (arr.ndim == 2 and arr.shape[1] != 2):
        raise ValueError(
            f"{name} must have shape (n_localizations,) or, for two-scale labels, "
            f"(n_localizations, 2) with the fine scale first; got shape {arr.shape}."
        )
    if arr.shape[0] != n:
        raise ValueError(
            f"{name} has {arr.shape[0]} rows but X has {n} localisations; they must match."
        )
    arr = integer_labels(arr, name=name)
    if arr.ndim == 2:
        return arr[:, 0], arr[:, 1]
    return arr, None


def _warn_if_zero_is_background(X, labels, groups):
    """Warn when label 0 is spread like background in some FOV and no label is -1
    (:func:`~sklearn_miro._validation.warn_if_zero_is_background`). The FOVs are
    looked at one by one: pooled, labels that restart in every FOV (each label
    then spans the FOVs, as spread as the background) or FOVs far apart in
    coordinates (background confined to some of them) would hide the background."""
    warn_if_zero_is_background(
        labels, "labels", X=X, units="nm", groups=groups,
        advice="0 is tabulated as an ordinary cluster. If label 0 marks background (as in the "
               "benchmark's files), pass background=0 or np.where(labels == 0, -1, labels).",
    )


def _check_background(background):
    """The background label as a Python int; raise for anything else.

    A background of None, a string or 0.5 would match no label and silently
    turn every localisation into a cluster member.
    """
    if not is_integer_scalar(background):
        raise TypeError(
            f"background must be an integer cluster label (e.g. -1, or 0 for the "
            f"benchmark's files); got {type(background).__name__} {background!r}."
        )
    background = int(background)
    limits = np.iinfo(np.int64)
    if not limits.min <= background <= limits.max:
        raise ValueError(
            f"background must fit in a 64-bit integer ({limits.min}..{limits.max}); "
            f"got {background}."
        )
    return background


def _check_cluster_index(X, cluster_index, n_clusters):
    """Validated (X, cluster index, n_clusters) of :func:`convex_hulls`."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"X must have shape (n_localizations, 2); got shape {X.shape}.")
    index = np.asarray(cluster_index)
    if index.ndim != 1 or index.shape[0] != X.shape[0]:
        raise ValueError(
            f"cluster_index must have shape ({X.shape[0]},), the cluster of every row of X; "
            f"got shape {index.shape}."
        )
    if index.dtype.kind == "f":
        whole = np.isfinite(index) & (index == np.round(index))
        if not whole.all():
            bad = index[~whole][0].item()
            raise ValueError(
                f"cluster_index must hold integer cluster indices in 0..n_clusters-1; got the "
                f"non-integer value {bad!r}."
            )
    elif index.dtype.kind not in "iu":
        raise ValueError(
            f"cluster_index must hold integer cluster indices in 0..n_clusters-1; got dtype "
            f"{index.dtype}."
        )
    if index.size and index.min() < 0:
        raise ValueError(
            f"cluster_index must hold cluster indices in 0..n_clusters-1; got the negative "
            f"value {index.min().item()} (drop the background localisations first)."
        )
    if index.size and index.max() > np.iinfo(np.int64).max:
        raise ValueError(
            f"cluster_index holds {index.max().item()}, which does not fit in a 64-bit integer."
        )
    index = index.astype(np.int64)
    largest = int(index.max()) if index.size else -1
    if n_clusters is None:
        return X, index, largest + 1
    if not is_integer_scalar(n_clusters):
        raise TypeError(
            f"n_clusters must be an integer or None; got {type(n_clusters).__name__} "
            f"{n_clusters!r}."
        )
    n_clusters = int(n_clusters)
    if n_clusters <= largest:
        raise ValueError(
            f"n_clusters={n_clusters} but cluster_index holds the index {largest}; n_clusters "
            f"must be larger than every index (at least {largest + 1})."
        )
    return X, index, n_clusters


def _fov_codes(groups, n):
    """(FOV values, code of every localisation in 0..n_fovs-1)."""
    if groups is None:
        return np.zeros(1, dtype=np.int64), np.zeros(n, dtype=np.int64)
    return dense_codes(groups)


def _sorted_clusters(arrays, n_fovs, background):
    """The clustered localisations in (FOV, label) order, and the clusters they form.

    One stable sort gives the clusters (the former ``np.unique`` of the labels,
    then of the (FOV, label) keys, sorted twice) and the order every later step
    reads the localisations in: a cluster's localisations are contiguous and
    keep their input order, so ``np.bincount`` adds them up in the same order
    as on the unsorted data, to the same bits.

    Parameters
    ----------
    arrays : list
        ``[labels, fov_codes]``: int64 labels of shape (n,) and the FOV code of
        every localisation (None for a single FOV). The list is emptied, so
        that arrays the caller holds no other reference to are freed before
        the sort.
    n_fovs : int
    background : int

    Returns
    -------
    rows : ndarray of shape (m,)
        Positions of the clustered localisations, sorted by (FOV, label),
        input order within a cluster.
    starts : ndarray of shape (k,)
        Position in ``rows`` of every cluster's first localisation.
    pair_fov, pair_label : int64 ndarrays of shape (k,)
        FOV code and label of every cluster, sorted by (FOV, label).
    """
    labels, fov_codes = arrays
    arrays.clear()
    rows = np.flatnonzero(labels != background)
    if rows.size == 0:
        empty = np.empty(0, dtype=np.int64)
        return rows, np.empty(0, dtype=np.intp), empty, empty
    key = labels[rows]
    del labels
    several = fov_codes is not None and n_fovs > 1
    low = int(key.min())
    span = int(key.max()) - low + 1
    if span * (n_fovs if several else 1) <= np.iinfo(np.int64).max:
        # One int64 key, fov * span + (label - lowest label): it fits, so it
        # orders like (FOV, label), and one stable argsort does.
        key -= low
        fov = fov_codes[rows] if several else None
        del fov_codes
        if several:
            fov *= span
            key += fov
        del fov
        order = np.argsort(key, kind="stable")
        key = key[order]
        rows = rows[order]
        del order
        new = np.empty(key.size, dtype=bool)
        new[0] = True
        np.not_equal(key[1:], key[:-1], out=new[1:])
        starts = np.flatnonzero(new)
        first = key[starts]
        return rows, starts, first // span, first % span + low
    # Labels spread over most of int64 (the key would overflow): sort by both.
    fov = fov_codes[rows] if several else np.zeros(rows.size, dtype=np.int64)
    del fov_codes
    order = np.lexsort((key, fov))
    key, fov, rows = key[order], fov[order], rows[order]
    del order
    new = np.empty(key.size, dtype=bool)
    new[0] = True
    new[1:] = (key[1:] != key[:-1]) | (fov[1:] != fov[:-1])
    starts = np.flatnonzero(new)
    return rows, starts, fov[starts], key[starts]


#: Localisations per block in the passes over all of them (moments, the hull
#: filter): their temporaries are a few arrays of this length, not of the
#: input's (the former whole-array passes took about 160 bytes per
#: localisation beyond the input; ``benchmarks/memory_scale.py``).
_BLOCK_ROWS = 1 << 16


def _row_blocks(cluster):
    """Blocks of rows of data sorted by cluster: ``(lo, hi, c0, local)`` each.

    ``local`` is ``[0, *(cluster[lo:hi] - c0)]``, the clusters of the block's
    rows counted from its first cluster ``c0``, after a slot for
    :func:`_carry_bincount`.
    """
    size = max(int(_BLOCK_ROWS), 1)
    m = cluster.size
    for lo in range(0, m, size):
        hi = min(lo + size, m)
        c0 = int(cluster[lo])
        local = np.empty(hi - lo + 1, dtype=np.intp)
        local[0] = 0
        np.subtract(cluster[lo:hi], c0, out=local[1:])
        yield lo, hi, c0, local


def _carry_bincount(total, c0, local, weights):
    """Add a block's ``weights`` to the per-cluster sums ``total``, as one bincount over all rows would.

    ``np.bincount`` adds the weights of a cluster one after the other, from 0.
    The block's first cluster may have begun in the previous block: its sum so
    far, ``total[c0]``, goes in front of the block's weights (the slot of
    ``local``), so the additions continue in the same order and give the sum
    of one ``np.bincount`` over every row, to the last bit.
    """
    w = np.empty(local.size)
    w[0] = total[c0]
    w[1:] = weights
    part = np.bincount(local, weights=w)
    total[c0 : c0 + part.size] = part


# --------------------------------------------------------------------------- #
# Convex hulls of all clusters at once
# --------------------------------------------------------------------------- #
_DIRECTIONS = np.array(
    [[np.cos(t), np.sin(t)] for t in np.arange(8) * np.pi / 4]
)  # 8 directions, counter-clockwise


def _projections(points, cluster, centers, lo, hi):
    """``(points[lo:hi] - centers[cluster[lo:hi]]) @ _DIRECTIONS.T``, rows ``lo:hi`` of one product over all rows.

    Every product has ``_BLOCK_ROWS`` rows (a short last block is extended
    backwards, the extra rows dropped), or all of them when there are fewer,
    as the former single product had: never a small product of a few rows,
    which a BLAS may compute with another kernel, rounding otherwise (one
    row would even be a matrix-vector product).
    """
    first = max(min(lo, cluster.size - int(_BLOCK_ROWS)), 0)
    rel = points[first:hi] - np.take(centers, cluster[first:hi], axis=0)
    return (rel @ _DIRECTIONS.T)[lo - first :]


def _outside_extreme_polygon(points, cluster, centers, n_clusters):
    """Mask of the points not strictly inside their cluster's extreme octagon.

    ``points`` are sorted by ``cluster``; positions relative to the cluster's
    centroid ``centers[cluster]`` are projected on 8 directions and, per
    cluster and direction, the point of largest projection is found; the
    octagon through these points (in angular order, as the directions are)
    lies inside the hull, so a point strictly inside it is no hull vertex.
    Three passes over blocks of ``_BLOCK_ROWS`` rows (largest projections;
    the last point reaching them; the test against the octagon's edges), so
    that no (n, 8) array is formed.
    """
    n = cluster.size
    best = np.full((n_clusters, 8), -np.inf)
    for lo, hi, _, _ in _row_blocks(cluster):
        block = cluster[lo:hi]
        starts = _group_starts(block)
        present = block[starts]
        best[present] = np.maximum(
            best[present], np.maximum.reduceat(_projections(points, cluster, centers, lo, hi), starts, axis=0)
        )
    owner = np.full((n_clusters, 8), -1, dtype=np.intp)
    for lo, hi, _, _ in _row_blocks(cluster):
        block = cluster[lo:hi]
        rows, directions = np.nonzero(_projections(points, cluster, centers, lo, hi) == np.take(best, block, axis=0))
        owner[block[rows], directions] = rows + lo  # the last point reaching the max
    known = owner >= 0
    vertices = np.zeros((8, 2, n_clusters))  # direction, axis, cluster
    d, c = np.nonzero(known.T)
    vertices[d, :, c] = points[owner[c, d]] - centers[c]
    edges = np.roll(vertices, -1, axis=0) - vertices
    flat_edge = (edges[:, 0] == 0) & (edges[:, 1] == 0)
    outside = np.empty(n, dtype=bool)
    for lo, hi, _, _ in _row_blocks(cluster):
        block = cluster[lo:hi]
        runs = _group_starts(block)
        present, lengths = block[runs], np.diff(np.r_[runs, hi - lo])
        rel = points[lo:hi] - np.take(centers, block, axis=0)
        rel_x, rel_y = rel[:, 0], rel[:, 1]
        inside = np.ones(hi - lo, dtype=bool)
        for d in range(8):  # one test per edge of the octagon
            start_x, start_y = (np.repeat(vertices[d, a, present], lengths) for a in (0, 1))
            edge_x, edge_y = (np.repeat(edges[d, a, present], lengths) for a in (0, 1))
            cross = edge_x * (rel_y - start_y) - edge_y * (rel_x - start_x)
            # A degenerate edge (both ends the same point) proves nothing.
            inside &= (cross > 0) | np.repeat(flat_edge[d, present], lengths)
        np.logical_not(inside, out=outside[lo:hi])
    # The octagon's vertices themselves are always candidates.
    outside[owner[known]] = True
    return outside


def _group_starts(sorted_ids):
    """First index of each run of equal values in a sorted array."""
    if sorted_ids.size == 0:
        return np.empty(0, dtype=np.intp)
    return np.flatnonzero(np.r_[True, sorted_ids[1:] != sorted_ids[:-1]])


def convex_hulls(X, cluster_index, n_clusters=None):
    """Area and perimeter of the convex hull of every cluster, vectorised.

    The points of every cluster are sorted by their angle around the cluster's
    centroid, which lies strictly inside the hull, giving a star-shaped polygon
    per cluster. Every vertex that is not a strictly convex corner of its
    polygon lies in the triangle formed by the centroid and its two
    neighbours, hence is not a hull vertex; all such vertices of all clusters
    are removed at once, and this is repeated until every polygon is convex:
    the polygons are then the hulls. Each pass is a handful of array
    operations on the remaining points (the first pass removes most of them),
    so the cost is that of one sort of all localisations. The passes over all
    localisations run in blocks, so memory beyond the input is a few bytes
    per localisation (plus the points left after a filter, usually few).

    Parameters
    ----------
    X : ndarray of shape (n, 2)
        Coordinates of the clustered localisations.
    cluster_index : ndarray of shape (n,)
        Cluster of every localisation, integers in ``0..n_clusters-1``.
    n_clusters : int, default=None
        Number of clusters (``cluster_index.max() + 1`` when None).

    Returns
    -------
    area : ndarray of shape (n_clusters,)
        Hull areas (0 for clusters of one or two localisations or collinear
        ones).
    perimeter : ndarray of shape (n_clusters,)
        Hull perimeters. A collinear cluster's hull is a segment of length
        ``L``, whose perimeter is ``2 L`` (the boundary goes there and back);
        a single localisation has perimeter 0.
    n_vertices : ndarray of shape (n_clusters,)
        Number of hull vertices.

    Raises
    ------
    ValueError
        If ``X`` is not of shape (n, 2), ``cluster_index`` is not one
        integer per row of ``X`` (floats must be whole numbers), holds a
        negative value, or ``n_clusters`` is not larger than its largest value.
    TypeError
        If ``n_clusters`` is neither None nor an integer.
    """
    X, index, n_clusters = _check_cluster_index(X, cluster_index, n_clusters)
    order = np.argsort(index, kind="stable")
    cluster = index[order]
    del index
    points = np.take(X, order, axis=0)
    del X, order
    return _sorted_hulls(points, cluster, n_clusters)


def _sorted_hulls(points, cluster, n_clusters, centers=None):
    """:func:`convex_hulls` of validated ``points`` sorted by ``cluster`` (stable).

    ``centers`` must be the clusters' centroids (``cluster_table`` has them
    already): the angular sort needs a point strictly inside every hull, which
    a centroid is and an arbitrary point is not. Every cluster's hull depends
    on its own points only, and the sums over a cluster are formed in its
    points' order, so the blocks change no bit of the result.
    """
    area = np.zeros(n_clusters)
    perimeter = np.zeros(n_clusters)
    n_vertices = np.zeros(n_clusters, dtype=np.int64)
    if cluster.size == 0:
        return area, perimeter, n_vertices
    counts = np.bincount(cluster, minlength=n_clusters)
    if centers is None:
        sums = np.zeros((2, n_clusters))
        for lo, hi, c0, local in _row_blocks(cluster):
            for a in (0, 1):
                _carry_bincount(sums[a], c0, local, points[lo:hi, a])
        centers = np.column_stack([sums[0], sums[1]]) / np.maximum(counts, 1)[:, None]

    # Degenerate clusters (fewer than 3 points, or all points on a line):
    # the hull is a segment. Detected from the second moments.
    moments = np.zeros((3, n_clusters))  # sxx, syy, sxy about the centroid
    for lo, hi, c0, local in _row_blocks(cluster):
        rel = points[lo:hi] - np.take(centers, cluster[lo:hi], axis=0)
        _carry_bincount(moments[0], c0, local, rel[:, 0] ** 2)
        _carry_bincount(moments[1], c0, local, rel[:, 1] ** 2)
        _carry_bincount(moments[2], c0, local, rel[:, 0] * rel[:, 1])
    sxx, syy, sxy = moments
    determinant = sxx * syy - sxy**2
    trace = sxx + syy
    flat = (counts < 3) | (determinant <= 1e-12 * trace**2)

    # Akl-Toussaint filter: the points of a cluster that are extreme in 8
    # directions span a convex polygon inside the hull; points strictly inside
    # it are not hull vertices and are dropped before sorting.
    candidates = _outside_extreme_polygon(points, cluster, centers, n_clusters)
    candidates &= ~flat[cluster]
    candidates = np.flatnonzero(candidates)
    # The star polygons, a few blocks of whole clusters at a time.
    for lo, hi in _cluster_blocks(cluster[candidates]):
        _add_star_hulls(points, cluster, centers, candidates[lo:hi], area, perimeter, n_vertices)

    if flat.any():
        # Segment hulls: length along the main axis of the points.
        theta = 0.5 * np.arctan2(2 * sxy, sxx - syy)
        top = np.full(n_clusters, -np.inf)
        bottom = np.full(n_clusters, np.inf)
        for lo, hi, _, _ in _row_blocks(cluster):
            block = cluster[lo:hi]
            chosen = np.flatnonzero(flat[block])
            if chosen.size == 0:
                continue
            index = block[chosen]
            rel = np.take(points, lo + chosen, axis=0) - np.take(centers, index, axis=0)
            along = rel[:, 0] * np.cos(theta[index]) + rel[:, 1] * np.sin(theta[index])
            np.maximum.at(top, index, along)
            np.minimum.at(bottom, index, along)
        length = np.where(counts > 0, top - bottom, 0.0)
        area[flat] = 0.0
        perimeter[flat] = 2.0 * length[flat]
        n_vertices[flat] = np.where(length[flat] > 0, 2, np.minimum(counts[flat], 1))
    return area, perimeter, n_vertices


def _cluster_blocks(sorted_cluster):
    """(lo, hi) blocks of about ``_BLOCK_ROWS`` rows that split no cluster (sorted ids)."""
    n = sorted_cluster.size
    if n == 0:
        return []
    firsts = _group_starts(sorted_cluster)
    at = np.searchsorted(firsts, np.arange(max(int(_BLOCK_ROWS), 1), n, max(int(_BLOCK_ROWS), 1)))
    cuts = firsts[at[at < firsts.size]]
    bounds = np.unique(np.r_[0, cuts, n])
    return list(zip(bounds[:-1].tolist(), bounds[1:].tolist()))


def _add_star_hulls(points, cluster, centers, candidates, area, perimeter, n_vertices):
    """Reduce the star polygons of the ``candidates`` (whole clusters) to hulls; add their area,
    perimeter and vertex count to the clusters' entries."""
    index = cluster[candidates]
    rel = np.take(points, candidates, axis=0) - np.take(centers, index, axis=0)
    radius2 = np.einsum("ij,ij->i", rel, rel)
    angle = np.arctan2(rel[:, 1], rel[:, 0])
    # Sort by (cluster, angle, farthest first) and keep, for equal angles
    # (duplicates, points on a ray from the centroid), the farthest point.
    order = np.lexsort((-radius2, angle, index))
    del radius2
    same_ray = np.zeros(order.size, dtype=bool)
    same_ray[1:] = (index[order][1:] == index[order][:-1]) & (angle[order][1:] == angle[order][:-1])
    idx = order[~same_ray]
    cid = index[idx]
    px, py = rel[idx, 0], rel[idx, 1]
    del rel, angle, order, same_ray

    while idx.size:
        n = cid.size
        start = np.ones(n, dtype=bool)
        start[1:] = cid[1:] != cid[:-1]
        end = np.ones(n, dtype=bool)
        end[:-1] = start[1:]
        first = np.flatnonzero(start)
        last = np.flatnonzero(end)
        seg = np.cumsum(start) - 1
        size = (last - first + 1)[seg]
        position = np.arange(n)
        prev = np.where(start, last[seg], position - 1)
        nxt = np.where(end, first[seg], position + 1)
        cross = (px - px[prev]) * (py[nxt] - py) - (py - py[prev]) * (px[nxt] - px)
        remove = (cross <= 0) & (size > 3)
        if not remove.any():
            break
        # Never shrink a polygon below 3 vertices in one pass.
        keep = ~remove
        remaining = np.bincount(seg, weights=keep, minlength=first.size)
        too_few = remaining[seg] < 3
        if too_few.any():
            # Keep the three most convex vertices of such polygons.
            keep |= too_few & (cross > 0)
        if keep.all():
            break
        px, py, cid, idx = px[keep], py[keep], cid[keep], idx[keep]

    if idx.size:
        n = cid.size
        start = np.ones(n, dtype=bool)
        start[1:] = cid[1:] != cid[:-1]
        end = np.ones(n, dtype=bool)
        end[:-1] = start[1:]
        seg = np.cumsum(start) - 1
        first = np.flatnonzero(start)
        nxt = np.where(end, first[seg], np.arange(n) + 1)
        low = int(cid[0])
        size = int(cid[-1]) - low + 1
        area[low : low + size] += 0.5 * np.bincount(cid - low, weights=px * py[nxt] - px[nxt] * py, minlength=size)
        perimeter[low : low + size] += np.bincount(
            cid - low, weights=np.hypot(px[nxt] - px, py[nxt] - py), minlength=size
        )
        n_vertices[low : low + size] += np.bincount(cid - low, minlength=size)


# --------------------------------------------------------------------------- #
# Per-cluster table
# --------------------------------------------------------------------------- #
def _mode_per_cluster(cluster, values, n_clusters):
    """Most frequent value of ``values`` in every cluster.

    Ties go to the smallest value (in ``np.unique`` order); a cluster with no
    localisation gets the smallest value.

    Parameters
    ----------
    cluster : ndarray of shape (n,)
        Cluster of every localisation, integers in ``0..n_clusters-1``.
    values : ndarray of shape (n,)
        Value (shape class, coarse label, ...) of every localisation.
    n_clusters : int
        Number of clusters.

    Returns
    -------
    mode : ndarray of shape (n_clusters,)
    """
    values = np.asarray(values)
    if values.size and values.dtype.kind in "iu":
        low, high = int(values.min()), int(values.max())
        span = high - low + 1
        if high <= np.iinfo(np.int64).max and n_clusters * span <= np.iinfo(np.int64).max:
            # Integers (coarse labels): the key is (cluster, value - lowest value),
            # which orders as (cluster, np.unique code) does, without
            # np.unique(values, return_inverse=True) (a sort, its permutation
            # and the inverse: some 40 bytes per localisation).
            key = values.astype(np.int64)
            key -= low
            key += cluster.astype(np.int64, copy=False) * span
            best = _most_frequent_codes(key, span, n_clusters)
            return (best + low).astype(values.dtype, copy=False)
    uniques, codes = np.unique(values, return_inverse=True)
    span = uniques.size
    # Only the (cluster, value) pairs that occur are counted: a dense
    # n_clusters x n_values table grows with the product (4000 pores of 8
    # corners each would need more than a GB).
    key = cluster.astype(np.int64) * span + codes.ravel().astype(np.int64)
    if key.size == 0:
        return uniques[:0]
    return uniques[_most_frequent_codes(key, span, n_clusters)]


def _most_frequent_codes(key, span, n_clusters):
    """Per cluster, the code occurring most often in ``key = cluster * span + code``
    (the smallest code among ties; 0 for a cluster absent from ``key``)."""
    pairs, counts = np.unique(key, return_counts=True)
    pair_cluster, pair_code = pairs // span, pairs % span
    # Per cluster, largest count first and, among equal counts, smallest code.
    order = np.lexsort((pair_code, -counts, pair_cluster))
    first = order[np.r_[True, pair_cluster[order][1:] != pair_cluster[order][:-1]]]
    best = np.zeros(n_clusters, dtype=np.int64)
    best[pair_cluster[first]] = pair_code[first]
    return best


def _nearest_cluster_distance(centers, fov):
    """Distance from every centroid to the nearest other centroid in its FOV."""
    distance = np.full(fov.size, np.nan)
    if fov.size == 0:
        return distance
    order = np.argsort(fov, kind="stable")
    bounds = np.flatnonzero(np.diff(fov[order])) + 1
    for members in np.split(order, bounds):  # one iteration per FOV
        if members.size < 2:
            continue
        d, _ = cKDTree(centers[members]).query(centers[members], k=2)
        distance[members] = d[:, 1]
    return distance


def _cluster_moments(points, cluster, starts, sizes):
    """Centroids, second moments and radial statistics of clusters of sorted points.

    ``points`` (m, 2) are sorted by ``cluster`` (0..k-1, every cluster present,
    its points in input order), ``starts`` and ``sizes`` give each cluster's
    rows. Two passes over blocks of rows; every sum is :func:`np.bincount`'s,
    continued across blocks by :func:`_carry_bincount`.

    Moments are taken about one member of each cluster (its last): the mean
    offset from it is exactly 0 for localisations at one position (sum / n of
    the raw coordinates does not round back to them, which gave such a
    cluster eccentricity 1 instead of NaN), and large stage offsets cost no
    digits.

    Returns
    -------
    centers : (k, 2) centroids
    sxx, syy, sxy : (k,) population (co)variances
    radial_spread, arc_resultant : (k,) see :func:`cluster_table`
    """
    k = sizes.size
    m = cluster.size
    divisor = np.maximum(sizes, 1)
    reference = points[np.r_[starts[1:], m] - 1] if k else np.zeros((0, 2))
    offset_sums = np.zeros((2, k))
    for lo, hi, c0, local in _row_blocks(cluster):
        offsets = points[lo:hi] - np.take(reference, cluster[lo:hi], axis=0)
        _carry_bincount(offset_sums[0], c0, local, offsets[:, 0])
        _carry_bincount(offset_sums[1], c0, local, offsets[:, 1])
    mean_offset = np.column_stack([offset_sums[0], offset_sums[1]]) / divisor[:, None]
    centers = reference + mean_offset
    # rel_x^2, rel_y^2, rel_x rel_y, r, r^2 and the unit vector rel / r.
    sums = np.zeros((7, k))
    for lo, hi, c0, local in _row_blocks(cluster):
        block = cluster[lo:hi]
        rel = points[lo:hi] - np.take(reference, block, axis=0)
        rel -= np.take(mean_offset, block, axis=0)
        _carry_bincount(sums[0], c0, local, rel[:, 0] ** 2)
        _carry_bincount(sums[1], c0, local, rel[:, 1] ** 2)
        _carry_bincount(sums[2], c0, local, rel[:, 0] * rel[:, 1])
        r = np.hypot(rel[:, 0], rel[:, 1])
        _carry_bincount(sums[3], c0, local, r)
        _carry_bincount(sums[4], c0, local, r**2)
        # A localisation on the centroid has no direction: it adds nothing to the resultant.
        with np.errstate(invalid="ignore", divide="ignore"):
            unit = np.where(r[:, None] > 0, rel / r[:, None], 0.0)
        _carry_bincount(sums[5], c0, local, unit[:, 0])
        _carry_bincount(sums[6], c0, local, unit[:, 1])
    sxx, syy, sxy = sums[0] / divisor, sums[1] / divisor, sums[2] / divisor
    r_mean = sums[3] / divisor
    r_var = np.maximum(sums[4] / divisor - r_mean**2, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        spread = np.where((sizes > 1) & (r_mean > 0), np.sqrt(r_var) / r_mean, np.nan)
    resultant = np.hypot(sums[5], sums[6]) / divisor
    return centers, sxx, syy, sxy, spread, resultant


def cluster_table(
    X,
    labels,
    groups=None,
    *,
    shapes=None,
    parent_labels=None,
    background=-1,
    check_units=True,
):
    """One row of statistics per cluster.

    Parameters
    ----------
    X : array-like of shape (n_localizations, 2) or DataFrame
        Coordinates in nm (a DataFrame is reduced to its x/y columns).
    labels : array-like of shape (n_localizations,) or (n_localizations, 2)
        Integer cluster labels, ``background`` for localisations in no
        cluster. Labels may restart in every FOV: a cluster is a (FOV, label)
        pair. Two-scale labels (column 0 fine, column 1 coarse, as returned by
        :func:`~sklearn_miro.datasets.make_npc` or the multiscale clusterer)
        give one row per fine cluster, with the coarse scale as
        ``parent_labels``.
    groups : array-like of shape (n_localizations,), default=None
        FOV id of every localisation; None means a single FOV (``fov`` 0).
    shapes : array-like of shape (n_localizations,), default=None
        Shape class of every localisation (e.g. from
        :class:`~sklearn_miro.MIROShapeClassifier`); the table gets a ``shape``
        column with the most frequent class of each cluster.
    parent_labels : array-like of shape (n_localizations,), default=None
        Labels of a coarser clustering (e.g. pores when ``labels`` are
        corners). Adds ``parent_label``, the coarse cluster holding most of
        each fine cluster's localisations (``background`` if most are in no
        coarse cluster), and ``n_in_parent``, the number of fine clusters in
        that coarse cluster (0 for fine clusters outside any).
    background : int, default=-1
        Label of localisations in no cluster.
    check_units : bool, default=True
        Warn when the clusters' median radius of gyration is under 1 (no SMLM
        cluster is a nanometre across: the coordinates are likely um or
        pixels). The estimators, which work in the units of ``X``, build their
        tables with False.

    Returns
    -------
    table : pandas.DataFrame
        One row per cluster, sorted by FOV then label, with columns

        - ``fov``, ``label``: the cluster's FOV and label.
        - ``n_localizations``: number of localisations ``n``.
        - ``centroid_x``, ``centroid_y``: mean position ``c`` (nm).
        - ``radius_of_gyration``: ``sqrt(mean |p - c|^2)`` (nm).
        - ``hull_area`` (nm^2), ``hull_perimeter`` (nm): convex hull of the
          cluster's localisations (0 area for fewer than 3 or collinear
          localisations; see :func:`convex_hulls`).
        - ``density_per_um2``: ``n / hull_area`` in localisations per um^2
          (NaN when the hull area is 0).
        - ``major_std``, ``minor_std``: square roots of the eigenvalues of the
          covariance matrix (population, 1/n) of the positions: standard
          deviations along the principal axes (nm);
          ``radius_of_gyration^2 = major_std^2 + minor_std^2``.
        - ``eccentricity``: ``sqrt(1 - minor_std^2 / major_std^2)`` of the
          covariance ellipse, 0 for an isotropic cluster, 1 for a segment
          (NaN for a cluster of no extent: one localisation, or several at
          the same position).
        - ``orientation``: angle of the major axis from the x axis, radians in
          (-pi/2, pi/2], counter-clockwise with y pointing up (with image rows
          counted downwards, as in a camera frame, the sign flips); arbitrary
          for an isotropic cluster (eccentricity near 0), 0 for one localisation.
        - ``radial_spread``: standard deviation over mean of the distances
          ``|p - c|``: about 0.52 for a 2D Gaussian spot, small for a thin
          ring (0.2 for a ring of radius 250 nm whose localisations lie a
          standard deviation of 50 nm from it; 0.06 for a uniform annulus 50 nm
          wide); NaN for a
          cluster of no extent (as ``eccentricity``).
        - ``arc_resultant``: length of the mean unit vector ``(p - c) / |p - c|``,
          0 when the localisations surround their centroid evenly (spot,
          ring), larger for an open arc such as a C-shape.
        - ``nn_distance``: distance from the centroid to the nearest other
          cluster centroid of the same FOV (nm; NaN for a FOV with a single
          cluster).
        - ``shape`` (with ``shapes``), ``parent_label`` and ``n_in_parent``
          (with two-scale labels or ``parent_labels``).

        ``table.attrs["units"]`` maps columns to units.

    Raises
    ------
    ValueError
        For coordinates that are not (n, 2) finite numbers, labels, groups,
        shapes or parent labels of the wrong length or type.
    TypeError
        If ``background`` is not an integer.

    Notes
    -----
    Moments use ``np.bincount`` on the localisations sorted by cluster (two
    passes: centroids, then centred second moments, which avoids the
    cancellation of ``E[x^2] - E[x]^2`` far from the origin), in blocks of
    65,536 localisations whose sums carry over from block to block in the
    order of one bincount. Hulls use :func:`convex_hulls`. The cost is one
    sort of the localisations: 10^6 localisations in 10^4 clusters take about
    half a second on one CPU core and peak at about 50 MB, 32 of them the
    validated copies of ``X``, labels and groups (``benchmarks/memory_scale.py``).
    """
    return _cluster_table(X, labels, groups, shapes=shapes, parent_labels=parent_labels,
                          background=background, warn_zero=True, check_units=check_units)


def _cluster_table(X, labels, groups, *, shapes, parent_labels, background, warn_zero, check_units):
    """:func:`cluster_table`; ``warn_zero``: say when labels look like 0 = background
    (:func:`fov_summary` says it once itself, for its caller's line).

    Memory: the validated copies of the input (``X``, labels, ``groups``), one
    sort of the clustered localisations, and their coordinates in that order;
    every pass over them runs in blocks of ``_BLOCK_ROWS`` rows, and each
    array is dropped once used (``benchmarks/memory_scale.py``).
    """
    background = _check_background(background)
    X = check_coordinates(X, name="X", groups=groups)
    n = X.shape[0]
    fine, coarse = _check_labels_2d(labels, n, "labels")
    if parent_labels is not None:
        if coarse is not None:
            raise ValueError(
                "labels already has two scales (its column 1 is the parent scale); "
                "do not also pass parent_labels."
            )
        parent = np.asarray(parent_labels)
        if parent.ndim != 1 or parent.shape[0] != n:
            raise ValueError(
                f"parent_labels must have shape ({n},), one coarse label per "
                f"localisation; got shape {parent.shape}."
            )
        coarse = integer_labels(parent, name="parent_labels")
    groups = check_groups(groups, n)
    if shapes is not None:
        shapes = np.asarray(shapes)
        if shapes.ndim != 1 or shapes.shape[0] != n:
            raise ValueError(
                f"shapes must have shape ({n},), one shape class per localisation; "
                f"got shape {shapes.shape}."
            )
    if background == -1 and warn_zero:
        # Label files such as the benchmark's mark background with 0: kept as they
        # are, the background would be tabulated as one huge cluster.
        _warn_if_zero_is_background(X, fine, groups)

    if groups is None:
        fov_values, fov_codes = np.zeros(1, dtype=np.int64), None
    else:
        fov_values, fov_codes = _fov_codes(groups, n)
    del groups
    # The arrays go over in a list, which the callee empties: each is freed once used.
    arrays = [X, fine, coarse, shapes, fov_codes]
    del X, fine, coarse, shapes, fov_codes
    return _table_of_arrays(arrays, fov_values, background=background, check_units=check_units)


def _table_of_arrays(arrays, fov_values, *, background, check_units):
    """:func:`cluster_table` of validated arrays ``[X, fine, coarse, shapes, fov_codes]``
    (``coarse``, ``shapes`` and ``fov_codes`` may be None; ``fov_codes`` index
    ``fov_values``). The list is emptied, so that an array the caller holds no
    other reference to is freed as soon as it has been used."""
    X, fine, coarse, shapes, fov_codes = arrays
    arrays.clear()
    labels_and_fovs = [fine, fov_codes]
    del fine, fov_codes
    rows, starts, pair_fov, pair_label = _sorted_clusters(labels_and_fovs, fov_values.size, background)
    k = pair_label.size
    sizes = np.diff(np.r_[starts, rows.size]).astype(np.int64)
    cluster = np.repeat(np.arange(k, dtype=np.intp), sizes)
    # The optional columns first, while the rows are at hand.
    columns_after = {}
    if shapes is not None:
        columns_after["shape"] = _mode_per_cluster(cluster, shapes[rows], k) if k else shapes[:0]
    if coarse is not None:
        parent = _mode_per_cluster(cluster, coarse[rows], k) if k else coarse[:0]
        inside = parent != background
        n_in_parent = np.zeros(k, dtype=np.int64)
        if inside.any():
            parent_values, parent_codes = np.unique(parent[inside], return_inverse=True)
            key = pair_fov[inside] * parent_values.size + parent_codes.ravel().astype(np.int64)
            _, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
            n_in_parent[inside] = counts[inverse.ravel()]
        columns_after["parent_label"] = parent
        columns_after["n_in_parent"] = n_in_parent
    del shapes, coarse
    points = np.take(X, rows, axis=0)  # (m, 2), sorted by cluster
    del X, rows

    centers, sxx, syy, sxy, radial_spread, arc_resultant = _cluster_moments(points, cluster, starts, sizes)
    half_trace = 0.5 * (sxx + syy)
    root = np.sqrt((0.5 * (sxx - syy)) ** 2 + sxy**2)
    major = half_trace + root
    minor = np.maximum(half_trace - root, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        eccentricity = np.sqrt(np.clip(1.0 - minor / major, 0.0, 1.0))
    orientation = 0.5 * np.arctan2(2 * sxy, sxx - syy)
    orientation = np.where(orientation <= -np.pi / 2, orientation + np.pi, orientation)

    area, perimeter, _ = _sorted_hulls(points, cluster, k, centers)
    del points, cluster
    with np.errstate(invalid="ignore", divide="ignore"):
        density = np.where(area > 0, sizes / area * NM2_PER_UM2, np.nan)

    columns = {
        "fov": fov_values[pair_fov] if k else fov_values[:0],
        "label": pair_label,
        "n_localizations": sizes,
        "centroid_x": centers[:, 0],
        "centroid_y": centers[:, 1],
        "radius_of_gyration": np.sqrt(sxx + syy),
        "hull_area": area,
        "hull_perimeter": perimeter,
        "density_per_um2": density,
        "major_std": np.sqrt(major),
        "minor_std": np.sqrt(minor),
        "eccentricity": eccentricity,
        "orientation": orientation,
        "radial_spread": radial_spread,
        "arc_resultant": arc_resultant,
        "nn_distance": _nearest_cluster_distance(centers, pair_fov),
        **columns_after,
    }
    table = pd.DataFrame(columns)
    table.attrs["units"] = {c: CLUSTER_TABLE_UNITS[c] for c in table.columns}
    if check_units:
        _warn_if_not_nm(table["radius_of_gyration"])
    return table


#: A median cluster radius of gyration under this many coordinate units says
#: the coordinates are not nm: no SMLM cluster is a nanometre across (the
#: localisation precision alone is several nm).
SUB_NM_RADIUS = 1.0


def _warn_if_not_nm(radii):
    """Warn when the clusters' median radius of gyration is under a nanometre (um or pixels).

    The tables are labelled in nm; a DataFrame with um headers is refused by
    :func:`~sklearn_miro._validation.select_xy`, an array in um is caught here.
    """
    radii = np.asarray(radii, dtype=float)
    radii = radii[np.isfinite(radii) & (radii > 0)]
    if len(radii) and np.median(radii) < SUB_NM_RADIUS:
        warnings.warn(
            f"The clusters' median radius of gyration is {np.median(radii):.3g}, far below a nanometre: "
            "the coordinates look like um (or pixels), while the table's columns are in nm. "
            "Convert them to nm first (x 1000 for um, x the pixel size for pixels).",
            UserWarning,
            stacklevel=caller_stacklevel(),
        )


def multiscale_cluster_table(X, labels, groups=None, *, scale_names=None, background=-1, check_units=True):
    """Cluster tables of every scale of a multiscale clustering, stacked.

    Parameters
    ----------
    X : array-like of shape (n_localizations, 2) or DataFrame
    labels : array-like of shape (n_localizations, n_scales)
        One column per scale, finest first (as the multiscale clusterer's
        ``labels_``).
    groups : array-like of shape (n_localizations,), default=None
    scale_names : sequence of str, default=None
        Name of every scale (``"scale_0"``, ... when None).
    background : int, default=-1
    check_units : bool, default=True
        As in :func:`cluster_table`, checked once, on the coarsest scale.

    Returns
    -------
    table : pandas.DataFrame
        The :func:`cluster_table` of every scale, one after the other, with a
        first column ``scale``. Every scale but the coarsest has
        ``parent_label`` and ``n_in_parent`` from the next coarser scale (for
        NPCs: the pore holding each corner and the corners per pore); the
        coarsest has ``parent_label = background`` and ``n_in_parent = 0``.
    """
    background = _check_background(background)
    arr = np.asarray(labels)
    if arr.ndim != 2:
        raise ValueError(
            f"labels must have shape (n_localizations, n_scales), finest scale first; "
            f"got shape {arr.shape}."
        )
    n_scales = arr.shape[1]
    names = [f"scale_{k}" for k in range(n_scales)] if scale_names is None else list(scale_names)
    if len(names) != n_scales:
        raise ValueError(f"scale_names has {len(names)} names for {n_scales} scales.")
    tables = []
    for k in range(n_scales):
        if k + 1 < n_scales:
            table = cluster_table(
                X, arr[:, k], groups, parent_labels=arr[:, k + 1], background=background, check_units=False
            )
        else:
            table = cluster_table(X, arr[:, k], groups, background=background, check_units=check_units)
            table["parent_label"] = np.full(len(table), background, dtype=np.int64)
            table["n_in_parent"] = np.zeros(len(table), dtype=np.int64)
        table.insert(0, "scale", names[k])
        tables.append(table)
    out = pd.concat(tables, ignore_index=True)
    out.attrs["units"] = {c: CLUSTER_TABLE_UNITS[c] for c in out.columns}
    return out


# --------------------------------------------------------------------------- #
# Per-FOV summary
# --------------------------------------------------------------------------- #
def _fov_areas(X, fov_codes, n_fovs, how):
    """Area (nm^2) of every FOV: bounding box or convex hull of its localisations."""
    if how == "bbox":
        low = np.full((n_fovs, 2), np.inf)
        high = np.full((n_fovs, 2), -np.inf)
        np.minimum.at(low, fov_codes, X)
        np.maximum.at(high, fov_codes, X)
        return np.prod(high - low, axis=1)
    # One qhull call per FOV (a loop over FOVs, not clusters): faster than the
    # batched hulls for a few large point sets.
    from scipy.spatial import ConvexHull, QhullError

    area = np.zeros(n_fovs)
    order = np.argsort(fov_codes, kind="stable")
    bounds = np.flatnonzero(np.diff(fov_codes[order])) + 1
    for members in np.split(order, bounds):
        if members.size < 3:
            continue
        try:
            area[fov_codes[members[0]]] = ConvexHull(X[members]).volume
        except QhullError:  # collinear or duplicate points: no area
            pass
    return area


def _table_fov_codes(table, fov_values, clustered, pairs=None):
    """Each row's FOV index in ``fov_values``; raise when ``table`` is not of this data.

    A :func:`cluster_table` passed to :func:`fov_summary` must have been computed
    with the same labels, ``groups`` and ``background``: otherwise its clusters
    would be counted in the wrong FOVs, or disagree with the clustered
    localisations. ``pairs``, (sizes, FOV codes, labels) of the labels' clusters
    (:func:`_sorted_clusters`), adds a check of every cluster's FOV, label and
    size; None checks the totals per FOV only.
    """
    for column in ("fov", "n_localizations"):
        if column not in getattr(table, "columns", ()):
            raise ValueError(f"table must be a cluster_table of the same data; it has no {column!r} column.")
    fov = table["fov"].to_numpy()
    codes = np.searchsorted(fov_values, fov)
    known = (codes < fov_values.size) & (fov_values[np.minimum(codes, fov_values.size - 1)] == fov)
    if not known.all():
        raise ValueError(
            f"table has clusters in FOV(s) {sorted(set(fov[~known].tolist()))[:5]} that groups does not "
            "have: pass the groups the table was computed with (or omit table)."
        )
    codes = codes.astype(np.int64)
    per_fov = np.bincount(codes, weights=table["n_localizations"].to_numpy(), minlength=fov_values.size)
    if not np.array_equal(per_fov, clustered):
        bad = int(np.flatnonzero(per_fov != clustered)[0])
        raise ValueError(
            f"table does not match labels: in FOV {fov_values[bad]!r} its clusters hold "
            f"{int(per_fov[bad])} localisations, labels {int(clustered[bad])}. Compute the table "
            "with the same labels, groups and background (or omit table)."
        )
    if pairs is not None and "label" in table.columns:
        # The same totals per FOV can hide other clusters (two merged, one split):
        # compare every (FOV, label, size) row, in any order of the table's rows.
        sizes, pair_fov, pair_label = pairs
        ours = pd.DataFrame({"fov": pair_fov, "label": pair_label, "n": sizes})
        theirs = pd.DataFrame({"fov": codes, "label": table["label"].to_numpy(),
                               "n": table["n_localizations"].to_numpy()})
        ours, theirs = (frame.sort_values(["fov", "label"], kind="stable").reset_index(drop=True)
                        for frame in (ours, theirs))
        same = len(ours) == len(theirs) and bool(
            (ours["fov"].to_numpy() == theirs["fov"].to_numpy()).all()
            and (ours["n"].to_numpy() == theirs["n"].to_numpy()).all()
            and (ours["label"].astype(str).to_numpy() == theirs["label"].astype(str).to_numpy()).all())
        if not same:
            raise ValueError(
                f"table does not match labels: it lists {len(theirs)} clusters, labels hold {len(ours)}, "
                "or their labels or sizes differ. Compute the table with the same labels, groups and "
                "background (or omit table)."
            )
    return codes


def fov_summary(X, labels, groups=None, *, area="hull", table=None, background=-1):
    """One row of statistics per field of view.

    Parameters
    ----------
    X : array-like of shape (n_localizations, 2) or DataFrame
        Coordinates in nm.
    labels : array-like of shape (n_localizations,) or (n_localizations, 2)
        Cluster labels (for two-scale labels, the fine scale, column 0, is
        summarised).
    groups : array-like of shape (n_localizations,), default=None
        FOV ids; None means one FOV (``fov`` 0).
    area : {"hull", "bbox"}, default="hull"
        How the FOV's area is measured: the convex hull of all its
        localisations (clustered and background; suits a cell that does not
        fill the camera frame), or their axis-aligned bounding box (suits
        simulations and FOVs filled with localisations).
    table : DataFrame, default=None
        The :func:`cluster_table` of the same data, when already computed.
    background : int, default=-1
        Label of localisations in no cluster.

    Returns
    -------
    summary : pandas.DataFrame
        One row per FOV (sorted by FOV id) with ``fov``,
        ``n_localizations``, ``n_clustered``, ``fraction_clustered``,
        ``n_clusters``, ``area_um2``, ``localization_density_per_um2``,
        ``cluster_density_per_um2`` (clusters per um^2; both NaN for a FOV of
        zero area, e.g. two localisations with ``area="hull"``), and the medians over
        the FOV's clusters of ``n_localizations``, ``radius_of_gyration``,
        ``hull_area`` and ``nn_distance`` (``median_...`` columns; NaN for a
        FOV without cluster). ``median_hull_area`` counts the 0 area of
        clusters of one or two localisations or collinear ones, whose
        ``density_per_um2`` is NaN in the table.

    Raises
    ------
    ValueError
        For a ``table`` that is not the :func:`cluster_table` of the same
        labels, groups and background.
    """
    if area not in ("hull", "bbox"):
        raise ValueError(f"area must be 'hull' or 'bbox'; got {area!r}.")
    background = _check_background(background)
    X = check_coordinates(X, name="X", groups=groups)
    n = X.shape[0]
    fine, _ = _check_labels_2d(labels, n, "labels")
    groups = check_groups(groups, n)
    given = table is not None
    if background == -1 and not given:
        # A given table comes from cluster_table, which has already said it.
        _warn_if_zero_is_background(X, fine, groups)
    fov_values, fov_codes = _fov_codes(groups, n)
    del groups
    n_fovs = fov_values.size
    if not given:
        table = _table_of_arrays([X, fine, None, None, fov_codes], fov_values, background=background,
                                 check_units=True)
    counts = np.bincount(fov_codes, minlength=n_fovs)
    clustered = np.bincount(fov_codes, weights=fine != background, minlength=n_fovs)
    area_um2 = _fov_areas(X, fov_codes, n_fovs, area) / NM2_PER_UM2
    # Only a table the caller passed can disagree with the labels cluster by cluster.
    pairs = None
    if given:
        rows, starts, pair_fov, pair_label = _sorted_clusters([fine, fov_codes], n_fovs, background)
        pairs = (np.diff(np.r_[starts, rows.size]), pair_fov, pair_label)
        del rows
    table_fov = _table_fov_codes(table, fov_values, clustered, pairs)
    n_clusters = np.bincount(table_fov, minlength=n_fovs)
    with np.errstate(invalid="ignore", divide="ignore"):
        summary = pd.DataFrame(
            {
                "fov": fov_values,
                "n_localizations": counts,
                "n_clustered": clustered.astype(np.int64),
                "fraction_clustered": clustered / counts,
                "n_clusters": n_clusters,
                "area_um2": area_um2,
                "localization_density_per_um2": np.where(area_um2 > 0, counts / area_um2, np.nan),
                "cluster_density_per_um2": np.where(area_um2 > 0, n_clusters / area_um2, np.nan),
            }
        )
    stats = ["n_localizations", "radius_of_gyration", "hull_area", "nn_distance"]
    medians = table.assign(_fov=table_fov).groupby("_fov")[stats].median()
    for column in stats:
        values = np.full(n_fovs, np.nan)
        values[medians.index.to_numpy(dtype=np.int64)] = medians[column].to_numpy()
        summary[f"median_{column}"] = values
    summary.attrs["area"] = area
    summary.attrs["units"] = {
        "area_um2": "um^2",
        "localization_density_per_um2": "localisations/um^2",
        "cluster_density_per_um2": "clusters/um^2",
        "median_radius_of_gyration": "nm",
        "median_hull_area": "nm^2",
        "median_nn_distance": "nm",
    }
    return summary
