"""Graph representation of a field of view (FOV) of localisations.

MIRO works on a graph whose nodes are localisations and whose edges are the
Delaunay edges shorter than a connectivity radius ``r`` (paper, "MIRO graph
representation"; and the authors' implementation, which builds it the same way):

* **edges** are kept when their length is strictly below ``r`` and are stored
  in both directions, sorted by (source, target);
* **edge features** are ``[x_s - x_t, y_s - y_t, |p_s - p_t|] / r`` (source
  minus target, all three columns divided by ``r``), so they are dimensionless
  whatever the user's units;
* **node features** are the absolute values of the 5 eigenvectors of the
  symmetric normalised Laplacian ``I - D^-1/2 A D^-1/2`` with the smallest
  non-trivial eigenvalues.

Everything is computed in the user's units (nm): ``r`` is a length in the same
units as the coordinates.

**Translation.** The graph is built from coordinates relative to the FOV's own
lower-left corner (the per-axis minimum), never from the absolute values:
microscope stage coordinates can be 10^8-10^9 nm, where the triangulation
loses precision (Qhull drops edges) if it works on absolute numbers. The
edges and features of ``X + c`` are therefore those of ``X`` for any offset
``c`` up to the float64 rounding of ``X + c`` itself (about 1e-7 nm at 1e9 nm).

Degenerate inputs are handled explicitly rather than producing arbitrary
numbers (the reference code has no special handling, see §1.4 there):

* **Duplicate points** (exactly equal coordinates) are triangulated once; every
  copy receives the edges of that location, and the copies are joined to each
  other by zero-length edges, so all copies are equivalent nodes.
* **Collinear points** (and clouds of 2 points), for which no triangulation
  exists, are joined along the line to their neighbours in order, which is the
  one-dimensional Delaunay graph.
* **Several connected components**: the Laplacian eigenvectors are computed
  for each component on its own. On a connected graph this is exactly the
  usual computation; on a disconnected one it avoids the degenerate null space
  whose basis would otherwise be arbitrary.
* **Degenerate eigenvalues** (symmetric structures) make single eigenvectors
  arbitrary within their eigenspace. Within a group of (numerically) equal
  eigenvalues every node gets the basis-independent value
  ``sqrt(sum_j U_ij^2 / m)`` in each of the ``m`` columns; for a simple
  eigenvalue this is exactly ``|U_i|``.
* **Small components** with fewer than 6 nodes have fewer than 5 non-trivial
  eigenvectors: the missing columns are 0. Isolated nodes (no neighbour closer
  than ``r``) have all-zero node features and no edges; MIRO then predicts the
  same displacement for all of them, so choose ``r`` large enough that
  clusters are connected.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components
from scipy.linalg import eigh as scipy_eigh
from scipy.sparse.linalg import ArpackError, eigsh
from scipy.spatial import Delaunay, QhullError

from ._validation import check_coordinates, check_positive

__all__ = [
    "AREA_WEIGHT_RATIO",
    "Graph",
    "area_weights",
    "build_graph",
    "default_connectivity_radius",
    "delaunay_edge_pencils",
    "delaunay_edges",
    "edge_frame",
    "laplacian_eigenvector_features",
    "relative_coordinates",
    "sort_edges",
    "weighted_median",
]

N_EIGENVECTORS = 5
# Components up to this size are solved with a dense, batched eigh; larger ones
# with sparse shift-invert Lanczos.
_DENSE_MAX_NODES = 256
# From this size on, dense components are solved one by one for their lowest
# eigenpairs only (faster than the batched full decomposition).
_SUBSET_MIN_NODES = 64
# Eigenvalues closer than this are treated as one degenerate eigenspace.
_DEGENERACY_TOL = 1e-6
# Components up to this size are solved densely when Lanczos cannot give their
# lowest eigenpairs (about 0.5 GB of float64 at the limit).
_DENSE_FALLBACK_MAX_NODES = 8_000


@dataclass
class Graph:
    """A field of view as MIRO sees it.

    Attributes
    ----------
    positions : ndarray of shape (n_nodes, 2), float64
        Coordinates in the user's units.
    edge_index : ndarray of shape (2, n_edges), int64
        Directed edges (row 0 = source, row 1 = target), both directions of
        every undirected edge, sorted by (source, target).
    edge_attr : ndarray of shape (n_edges, 3), float32
        ``[dx, dy, distance] / length_scale`` with ``dx = x_source - x_target``.
    node_attr : ndarray of shape (n_nodes, n_eigenvectors), float32
        Absolute Laplacian eigenvector features.
    connectivity_radius : float
        The radius ``r`` used, in the units of ``positions``.
    length_scale : float
        Length unit of the edge features (by default ``r``).
    """

    positions: np.ndarray
    edge_index: np.ndarray
    edge_attr: np.ndarray
    node_attr: np.ndarray
    connectivity_radius: float
    length_scale: float

    @property
    def n_nodes(self):
        return self.positions.shape[0]

    @property
    def n_edges(self):
        return self.edge_index.shape[1]

    def to_pyg(self):
        """Return the graph as a ``torch_geometric.data.Data`` object.

        ``x`` holds the node features, ``edge_index``/``edge_attr`` the edges and
        ``position`` the coordinates, the attribute names of the reference code.
        """
        import torch
        from torch_geometric.data import Data

        return Data(
            x=torch.from_numpy(self.node_attr),
            edge_index=torch.from_numpy(self.edge_index),
            edge_attr=torch.from_numpy(self.edge_attr),
            position=torch.from_numpy(self.positions),
        )


def relative_coordinates(X):
    """Coordinates relative to the FOV's lower-left corner, and that corner.

    Parameters
    ----------
    X : ndarray of shape (n, 2)

    Returns
    -------
    relative : ndarray of shape (n, 2), float64
        ``X - origin``: a new array with the same geometry, of the size of the
        FOV's extent whatever the absolute position.
    origin : ndarray of shape (2,)
        The per-axis minimum of ``X`` (zeros for an empty array).
    """
    X = np.asarray(X, dtype=np.float64)
    if X.shape[0] == 0:
        return X.copy(), np.zeros(X.shape[1] if X.ndim == 2 else 2)
    origin = X.min(axis=0)
    return X - origin, origin


def _chain_edges(points):
    """Edges between consecutive points along the principal axis (1-D Delaunay)."""
    centred = points - points.mean(axis=0)
    # The principal direction of a (near-)collinear set; for 2 points it is the
    # segment itself.
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    order = np.argsort(centred @ vt[0], kind="stable")
    return np.stack([order[:-1], order[1:]])


def _unique_edges_of_triangulation(points, pencils=False):
    """Undirected Delaunay edges (u < v) of distinct points.

    With ``pencils``, also each edge's range of empty circles (see
    :func:`delaunay_edge_pencils`) as ``(t_low, t_high)``.
    """
    n = points.shape[0]
    if n < 2:
        return _no_edges(pencils)
    if n == 2:
        edges = np.array([[0], [1]], dtype=np.int64)
        return (edges, np.array([-np.inf]), np.array([np.inf])) if pencils else edges
    try:
        tri = Delaunay(points)
    except QhullError:
        # Qhull refuses flat input: the points are collinear (to its precision).
        # A circle through two consecutive points of a line meets the line
        # only between them, so every circle through them is empty.
        edges = _unique_pairs(np.sort(_chain_edges(points), axis=0), n)
        if not pencils:
            return edges
        unbounded = np.full(edges.shape[1], np.inf)
        return edges, -unbounded, unbounded
    if pencils:
        return _triangulation_pencils(points, tri)
    indptr, indices = tri.vertex_neighbor_vertices
    source = np.repeat(np.arange(n), np.diff(indptr))
    if not len(tri.coplanar):
        # The neighbour lists are symmetric: every edge is listed from both
        # ends, so keeping source < target lists it once, and sorting the
        # keys replaces a hash-based unique (3 of the 24 CPU-s of the tiled
        # triangulation of 10^6 FGFR1 localisations).
        upper = source < indices
        return sort_edges(source[upper], indices[upper], n)
    edges = np.stack([source, indices])
    # Qhull leaves out points it considers coplanar (numerically coincident
    # with a vertex): join each to its nearest vertex.
    edges = np.concatenate([edges, _coplanar_joins(tri)], axis=1)
    edges = np.sort(edges, axis=0)
    edges = edges[:, edges[0] != edges[1]]
    return _unique_pairs(edges, n)


def _no_edges(pencils):
    """The empty result of :func:`delaunay_edges` (with ``pencils``, of :func:`delaunay_edge_pencils`)."""
    edges = np.empty((2, 0), dtype=np.int64)
    return (edges, np.empty(0), np.empty(0)) if pencils else edges


def _coplanar_joins(tri):
    """(point, nearest vertex) for the points Qhull left out as coincident with a vertex."""
    return np.stack([tri.coplanar[:, 0], tri.coplanar[:, 2]]).astype(np.int64)


def edge_frame(points, u, v):
    """Midpoints, unit normals and half-lengths of the edges ``u -> v``.

    Parameters
    ----------
    points : ndarray of shape (n, 2)
    u, v : ndarray of int
        Edge ends.

    Returns
    -------
    midpoint : ndarray of shape (n_edges, 2)
    normal : ndarray of shape (n_edges, 2)
        ``perp(points[v] - points[u]) / |points[v] - points[u]|`` with
        ``perp(x, y) = (-y, x)``; NaN for edges of length 0.
    half : ndarray of shape (n_edges,)
        Half the edge's length.
    """
    pu, pv = points[u], points[v]
    dx, dy = pv[:, 0] - pu[:, 0], pv[:, 1] - pu[:, 1]
    length = np.sqrt(dx * dx + dy * dy)
    normal = np.empty_like(pu)
    with np.errstate(invalid="ignore", divide="ignore"):
        normal[:, 0] = -dy / length
        normal[:, 1] = dx / length
    return (pu + pv) * 0.5, normal, length * 0.5


def _triangulation_pencils(points, tri):
    """Edges of a Qhull triangulation with the range of their empty circles.

    The circles through u and v have their centres on the bisector,
    ``midpoint + t * normal``. Moving the centre towards a triangle's third
    vertex, the circle first contains it beyond the triangle's circumcentre,
    so each of the edge's (one or two) triangles bounds ``t`` on its side;
    the circles between the bounds are empty of every point (they lie inside
    the union of the two triangles' empty circumcircles). Each edge is taken
    once, from the lower-numbered of its triangles (Qhull's neighbour table),
    so no sort of half-edges is needed; component-wise arithmetic on 1-D
    arrays keeps it a fraction of Qhull's own time.
    """
    n = points.shape[0]
    simplices = tri.simplices.astype(np.int64)
    neighbours = tri.neighbors.astype(np.int64)
    px, py = np.ascontiguousarray(points[:, 0]), np.ascontiguousarray(points[:, 1])
    # Circumcentres, computed relative to one vertex for precision.
    ax, ay = px[simplices[:, 0]], py[simplices[:, 0]]
    bx, by = px[simplices[:, 1]] - ax, py[simplices[:, 1]] - ay
    cx, cy = px[simplices[:, 2]] - ax, py[simplices[:, 2]] - ay
    det = 2.0 * (bx * cy - by * cx)
    bb, cc = bx * bx + by * by, cx * cx + cy * cy
    with np.errstate(invalid="ignore", divide="ignore"):
        ox = ax + (cy * bb - by * cc) / det
        oy = ay + (bx * cc - cx * bb) / det
        # A near-flat triangle's circumcentre is lost to rounding (on noise-free
        # collinear points the ranges came out inverted, e.g. [1.3e16, 2892]):
        # sine of the angle at the first vertex below 1e-6 (a flat triangle
        # has a near-zero angle there whichever vertex is flat).
        flat = ~(np.abs(det) >= 2e-6 * np.sqrt(bb * cc))
    # Edge k of a triangle is opposite its vertex k and shared with neighbour k.
    triangle = np.arange(simplices.shape[0])
    parts = []
    for k in range(3):
        twin = neighbours[:, k]
        once = (twin < 0) | (triangle < twin)
        parts.append((triangle[once], twin[once], simplices[once, (k + 1) % 3],
                      simplices[once, (k + 2) % 3], simplices[once, k]))
    own, twin, a, b, opposite = (np.concatenate(column) for column in zip(*parts))
    u, v = np.minimum(a, b), np.maximum(a, b)
    midpoint, normal, _ = edge_frame(points, u, v)
    mx, my = midpoint[:, 0], midpoint[:, 1]
    nx, ny = normal[:, 0], normal[:, 1]
    with np.errstate(invalid="ignore"):
        t_own = nx * (ox[own] - mx) + ny * (oy[own] - my)
        shared = twin >= 0
        twin_ = np.where(shared, twin, 0)
        t_twin = np.where(shared, nx * (ox[twin_] - mx) + ny * (oy[twin_] - my), np.nan)
    side = nx * (px[opposite] - mx) + ny * (py[opposite] - my)
    # The twin's third vertex lies on the other side of the edge; without a
    # twin (convex hull) that side is unbounded.
    t_high = np.where(side > 0, t_own, np.where(shared, t_twin, np.inf))
    t_low = np.where(side < 0, t_own, np.where(shared, t_twin, -np.inf))
    # A flat triangle (third vertex on the edge's line) or an unusable
    # circumcentre bounds nothing reliably: NaN marks the range as unknown.
    unknown = (~np.isfinite(t_own) | ~(side != 0) | flat[own]
               | (shared & (~np.isfinite(t_twin) | flat[twin_])))
    t_high[unknown] = np.nan
    t_low[unknown] = np.nan
    keys = u * n + v
    order = np.argsort(keys)
    keys = keys[order]
    edges = np.stack([keys // n, keys % n])
    t_low, t_high = t_low[order], t_high[order]
    if len(tri.coplanar):
        joins = np.sort(_coplanar_joins(tri), axis=0)
        joins = joins[:, joins[0] != joins[1]]
        # A point coincident with its vertex to Qhull's precision: every
        # circle through the pair is taken as empty, as the whole-FOV
        # triangulation takes the join itself.
        unbounded = np.full(joins.shape[1], np.inf)
        edges = np.concatenate([edges, joins], axis=1)
        t_low, t_high = np.r_[t_low, -unbounded], np.r_[t_high, unbounded]
        keys, first_of = np.unique(edges[0] * n + edges[1], return_index=True)
        edges, t_low, t_high = edges[:, first_of], t_low[first_of], t_high[first_of]
    return edges, t_low, t_high


def sort_edges(source, target, n_nodes):
    """Edges sorted by (source, target), as one int64 array of shape (2, m).

    One sort of the 1-D keys ``source * n_nodes + target`` (node ids must be
    below ``n_nodes``): several times faster than ``np.lexsort`` on two
    columns for millions of edges. Duplicate pairs are kept.
    """
    n_nodes = max(int(n_nodes), 1)
    keys = np.sort(np.asarray(source, dtype=np.int64) * n_nodes + np.asarray(target, dtype=np.int64))
    return np.stack([keys // n_nodes, keys % n_nodes])


def _unique_pairs(edges, n):
    """Distinct columns of a (2, m) array of node ids < n, sorted (one 1-D unique of int64 keys)."""
    keys = np.unique(edges[0].astype(np.int64) * n + edges[1])
    return np.stack([keys // n, keys % n]).astype(np.int64)


def distinct_locations(X):
    """The distinct locations of ``X``, in order of first appearance.

    Returns ``(first, inverse)``: ``X[first]`` are the distinct rows of ``X``
    (``first`` increasing) and ``X[first][inverse]`` is ``X``. One lexsort,
    faster than ``np.unique(X, axis=0)``.
    """
    X = np.asarray(X)
    _, first, inverse = _unique_points(X)
    # Groups are numbered lexicographically; renumber them by first appearance.
    rank = np.empty(first.size, dtype=np.int64)
    order = np.argsort(first, kind="stable")
    rank[order] = np.arange(first.size)
    return first[order], rank[inverse]


def _unique_points(X):
    """``np.unique(X, axis=0, return_index=True, return_inverse=True)`` via one lexsort."""
    order = np.lexsort((X[:, 1], X[:, 0]))
    ordered = X[order]
    new_group = np.r_[True, np.any(ordered[1:] != ordered[:-1], axis=1)]
    group = np.cumsum(new_group) - 1
    inverse = np.empty(X.shape[0], dtype=np.int64)
    inverse[order] = group
    first = order[new_group]
    return ordered[new_group], first, inverse


def _expand_to_copies(u, v, starts, counts, order, *, strict_upper=False):
    """All pairs (copy of u, copy of v) for every pair (u, v), vectorised.

    ``order[starts[k]:starts[k] + counts[k]]`` are the original indices of the
    copies of unique point ``k``. With ``strict_upper`` only pairs whose local
    copy indices satisfy ``a < b`` are kept (used for u == v).
    """
    cu, cv = counts[u], counts[v]
    n_pairs = cu * cv
    pair_edge = np.repeat(np.arange(len(u)), n_pairs)
    offsets = np.cumsum(n_pairs) - n_pairs
    local = np.arange(n_pairs.sum()) - np.repeat(offsets, n_pairs)
    a_local = local // cv[pair_edge]
    b_local = local % cv[pair_edge]
    if strict_upper:
        keep = a_local < b_local
        pair_edge, a_local, b_local = pair_edge[keep], a_local[keep], b_local[keep]
    a = order[starts[u][pair_edge] + a_local]
    b = order[starts[v][pair_edge] + b_local]
    return np.stack([a, b]), pair_edge


def delaunay_edges(X):
    """Undirected Delaunay edges of a point cloud, robust to degeneracies.

    Parameters
    ----------
    X : ndarray of shape (n_points, 2)
        Coordinates.

    Returns
    -------
    edges : ndarray of shape (2, n_edges), int64
        Each undirected edge once, with ``edges[0] < edges[1]``. Exact
        duplicates are triangulated once; every copy is joined to the
        neighbours of its location and to the other copies. Collinear clouds
        (and 2-point clouds) are joined consecutively along their line.
    """
    return _delaunay(X, pencils=False)


def delaunay_edge_pencils(X):
    """Delaunay edges with, for each, the centres of its empty circles.

    An edge (u, v) is a Delaunay edge because some circle through u and v
    holds no other point. Those circles have their centres on the bisector of
    u and v, at ``(X[u] + X[v]) / 2 + t * n`` with
    ``n = perp(X[v] - X[u]) / |X[v] - X[u]|`` and ``perp(x, y) = (-y, x)``;
    the empty ones are those with ``t_low <= t <= t_high``, bounded by the
    circumcentres of the edge's two triangles (an infinite bound on the
    convex hull). Knowing them lets a caller that triangulated only part of
    a larger cloud decide which edges the rest of the cloud cannot remove
    (:func:`sklearn_miro.tiling.tiled_edges`).

    Parameters
    ----------
    X : ndarray of shape (n_points, 2)

    Returns
    -------
    edges : ndarray of shape (2, n_edges), int64
        As :func:`delaunay_edges`, in the same order.
    t_low, t_high : ndarray of shape (n_edges,)
        The range of empty circles. NaN where a (near-)flat triangle leaves
        it unknown; infinite for collinear clouds (every circle through two
        consecutive points is empty) and for copies of one point.
    """
    return _delaunay(X, pencils=True)


def _delaunay(X, pencils):
    X = np.asarray(X, dtype=np.float64)
    n = X.shape[0]
    if n < 2:
        return _no_edges(pencils)
    # Triangulate relative to the FOV: Qhull loses edges on large absolute
    # coordinates (stage positions of 1e8 nm and more).
    X, _ = relative_coordinates(X)
    unique, first, inverse = _unique_points(X)
    if unique.shape[0] == n:
        # Fast path, no duplicates: triangulate in the caller's order so that
        # the result does not depend on np.unique's lexicographic reordering.
        return _unique_edges_of_triangulation(X, pencils)
    result = _unique_edges_of_triangulation(unique, pencils)
    unique_edges = result[0] if pencils else result
    counts = np.bincount(inverse, minlength=unique.shape[0])
    order = np.argsort(inverse, kind="stable")
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    between, pair_edge = _expand_to_copies(unique_edges[0], unique_edges[1], starts, counts, order)
    dup = np.flatnonzero(counts > 1)
    within, _ = _expand_to_copies(dup, dup, starts, counts, order, strict_upper=True)
    edges = np.concatenate([between, within], axis=1)
    if not pencils:
        return _unique_pairs(np.sort(edges, axis=0), n)
    # A copy pair is oriented as its unique edge; putting the lower index
    # first reverses the normal, which mirrors the range of t.
    unbounded = np.full(within.shape[1], np.inf)
    t_low = np.r_[result[1][pair_edge], -unbounded]
    t_high = np.r_[result[2][pair_edge], unbounded]
    flip = edges[0] > edges[1]
    t_low, t_high = np.where(flip, -t_high, t_low), np.where(flip, -t_low, t_high)
    edges = np.sort(edges, axis=0)
    # Every pair occurs once (copies of distinct locations, or of one).
    order = np.argsort(edges[0] * n + edges[1])
    return edges[:, order], t_low[order], t_high[order]


def _symmetric_normalised_laplacian_blocks(n_nodes, edge_index):
    """Degree-normalised adjacency weights ``1/sqrt(d_i d_j)`` of every edge."""
    degree = np.bincount(edge_index[1], minlength=n_nodes).astype(np.float64)
    inv_sqrt = np.zeros(n_nodes)
    nz = degree > 0
    inv_sqrt[nz] = 1.0 / np.sqrt(degree[nz])
    return inv_sqrt[edge_index[0]] * inv_sqrt[edge_index[1]]


def _invariant_features(eigenvalues, eigenvectors, k):
    """Basis-independent |eigenvector| features of the first ``k`` columns.

    Batched over components: ``eigenvalues`` (b, m) sorted ascending and
    ``eigenvectors`` (b, n, m), both without the trivial pair. Columns whose
    eigenvalues form a degenerate group share the root-mean-square of the
    group's squared entries, which does not depend on the arbitrary basis of a
    degenerate eigenspace; for a simple eigenvalue it is ``|U_ij|``.

    Returns
    -------
    features : ndarray of shape (b, n, k); columns beyond ``m`` are 0.
    """
    b, n, m = eigenvectors.shape
    out = np.zeros((b, n, k))
    kk = min(k, m)
    if kk == 0:
        return out
    # A new group starts wherever the gap to the previous eigenvalue is larger
    # than the tolerance.
    gaps = np.diff(eigenvalues, axis=1) > _DEGENERACY_TOL * np.maximum(1.0, np.abs(eigenvalues[:, 1:]))
    group = np.concatenate([np.zeros((b, 1), dtype=np.int64), np.cumsum(gaps, axis=1)], axis=1)
    one_hot = (group[:, :, None] == np.arange(m)[None, None, :]).astype(np.float64)  # (b, m, g)
    sums = np.matmul(eigenvectors**2, one_hot)  # (b, n, g)
    sizes = one_hot.sum(axis=1)  # (b, g)
    g = group[:, :kk]
    group_sums = np.take_along_axis(sums, np.broadcast_to(g[:, None, :], (b, n, kk)), axis=2)
    group_sizes = np.take_along_axis(sizes, g, axis=1)
    out[:, :, :kk] = np.sqrt(group_sums / group_sizes[:, None, :])
    return out


def _dense_component_features(local_src, local_tgt, slot, weights, n_comp, size, k):
    """Features of ``n_comp`` components of equal ``size``.

    ``slot``/``local_src``/``local_tgt`` give, for every edge of these
    components, the component (0..n_comp-1) and the endpoints' positions in it.
    Small components are solved with one batched ``eigh``; from
    ``_SUBSET_MIN_NODES`` nodes on, each component is solved on its own for its
    lowest eigenpairs only (LAPACK ``syevr``), about twice as fast as the full
    decomposition; the per-call overhead (microseconds) is negligible next to
    the milliseconds of LAPACK work. Memory is bounded by chunks of at most
    ``4e6`` doubles.

    Returns
    -------
    features : ndarray of shape (n_comp, size, k)
    """
    out = np.zeros((n_comp, size, k))
    chunk = max(1, int(4e6 // (size * size)))
    idx = np.arange(size)
    # Edges are sorted by component: each chunk's edges are one slice.
    edge_bounds = np.searchsorted(slot, np.arange(0, n_comp + chunk, chunk))
    for i, start in enumerate(range(0, n_comp, chunk)):
        stop = min(start + chunk, n_comp)
        lo, hi = edge_bounds[i], edge_bounds[i + 1]
        lap = np.zeros((stop - start, size, size))
        lap[:, idx, idx] = 1.0
        lap[slot[lo:hi] - start, local_src[lo:hi], local_tgt[lo:hi]] -= weights[lo:hi]
        if size < _SUBSET_MIN_NODES:
            values, vectors = np.linalg.eigh(lap)
            # Column 0 is the trivial eigenvector of each connected component.
            out[start:stop] = _invariant_features(values[:, 1:], vectors[:, :, 1:], k)
        else:
            # The trivial pair, k more and a few extra so that a degenerate
            # group straddling the k-th column is seen whole; the window is
            # widened while the group reaches its last column (many copies of
            # one point make groups of any size).
            for j, matrix in enumerate(lap):
                n_eig = min(k + 5, size)
                while True:
                    values, vectors = scipy_eigh(
                        matrix, subset_by_index=[0, n_eig - 1], driver="evr", check_finite=False,
                    )
                    if n_eig == size or not _group_reaches_window_end(values, k):
                        break
                    n_eig = min(2 * n_eig, size)
                out[start + j] = _invariant_features(values[None, 1:], vectors[None, :, 1:], k)[0]
    return out


def _group_reaches_window_end(values, k):
    """Whether eigenvalue ``k`` (0 = trivial) is degenerate with the last one computed."""
    if len(values) <= k + 1:
        return False
    return values[-1] - values[k] <= _DEGENERACY_TOL * max(1.0, abs(values[k]))


def _sparse_component_features(rows, cols, weights, size, k):
    """Features of one large component, by shift-invert Lanczos.

    ``rows``/``cols`` are the component's edges in local node numbering.
    """
    lap = sp.csc_matrix(
        (np.concatenate([-weights, np.ones(size)]),
         (np.concatenate([rows, np.arange(size)]), np.concatenate([cols, np.arange(size)]))),
        shape=(size, size),
    )
    # A few extra eigenpairs so that a degenerate group straddling the k-th
    # column is seen whole; more while the group reaches the last one, and a
    # dense solve when that would be most of the spectrum or when Lanczos
    # does not converge (thousands of copies of one point do both).
    n_eig = min(k + 4, size - 1)
    # Deterministic start vector: results do not depend on global RNG state.
    v0 = np.random.default_rng(size).uniform(0.5, 1.5, size)
    while True:
        if n_eig > size // 4:
            values, vectors = _dense_component_eigenpairs(lap, size)
            break
        try:
            # Shift-invert converges in tens of iterations on these graphs; the
            # cap bounds the time a degenerate spectrum takes to fail.
            values, vectors = eigsh(lap, k=n_eig, sigma=-1e-3, which="LM", v0=v0, maxiter=2000)
        except ArpackError:  # includes ArpackNoConvergence
            values, vectors = _dense_component_eigenpairs(lap, size)
            break
        order = np.argsort(values, kind="stable")
        values, vectors = values[order], vectors[:, order]
        if not _group_reaches_window_end(values, k):
            break
        if size <= _DENSE_FALLBACK_MAX_NODES or n_eig >= 64:
            # Dense when affordable; past 64 pairs, Lanczos would only grow
            # slower and larger before the same error.
            values, vectors = _dense_component_eigenpairs(lap, size)
            break
        n_eig = 2 * n_eig
    return _invariant_features(values[None, 1:], vectors[None, :, 1:], k)[0]


def _dense_component_eigenpairs(lap, size):
    """Every eigenpair of one component's Laplacian, when Lanczos cannot give the few needed."""
    if size > _DENSE_FALLBACK_MAX_NODES:
        raise ValueError(
            f"The graph has a connected component of {size:,} localisations whose Laplacian "
            "eigenvectors could not be computed (the Lanczos solver did not converge, or the "
            "lowest eigenvalues are all equal: typically thousands of copies of one point). "
            "Remove exact duplicate localisations, or use crop_features=True (the default), "
            "which computes the features on squares of the training crops' size."
        )
    return np.linalg.eigh(lap.toarray())


def laplacian_eigenvector_features(n_nodes, edge_index, k=N_EIGENVECTORS, *, normalization="unit"):
    """Absolute eigenvectors of the symmetric normalised Laplacian, per component.

    Parameters
    ----------
    n_nodes : int
        Number of nodes.
    edge_index : ndarray of shape (2, n_edges)
        Directed edges, both directions present (symmetric graph).
    k : int, default=5
        Number of non-trivial eigenvectors.
    normalization : {"unit", "rms"}, default="unit"
        ``"unit"``: eigenvectors have unit L2 norm over their component, as in
        the reference implementation (entries then shrink like
        ``1/sqrt(component size)``). ``"rms"``: multiplied by
        ``sqrt(component size)`` so that entries are O(1) whatever the size of
        the field of view.

    Returns
    -------
    features : ndarray of shape (n_nodes, k), float64
        Non-negative. Isolated nodes get zeros; see the module docstring for
        disconnected graphs and degenerate eigenvalues.
    """
    if normalization not in ("unit", "rms"):
        raise ValueError(f"normalization must be 'unit' or 'rms'; got {normalization!r}.")
    features = np.zeros((n_nodes, k))
    if n_nodes == 0 or k == 0 or edge_index.shape[1] == 0:
        return features
    weights = _symmetric_normalised_laplacian_blocks(n_nodes, edge_index)
    adjacency = sp.csr_matrix(
        (np.ones(edge_index.shape[1]), (edge_index[0], edge_index[1])), shape=(n_nodes, n_nodes)
    )
    n_comp, comp = connected_components(adjacency, directed=False)
    sizes = np.bincount(comp, minlength=n_comp)
    # Nodes ordered by (component size, component): the components of one size
    # are one contiguous block, each component a contiguous run. ``position``
    # is a node's place in that order; edges sorted by their source's position
    # follow the same blocks. Everything below costs O(n_nodes + n_edges) plus
    # the eigen-solves, whatever the number of components.
    node_order = np.lexsort((comp, sizes[comp]))
    position = np.empty(n_nodes, dtype=np.int64)
    position[node_order] = np.arange(n_nodes)
    comp_sorted = comp[node_order]
    first = np.empty(n_comp, dtype=np.int64)
    new_run = np.flatnonzero(np.r_[True, comp_sorted[1:] != comp_sorted[:-1]])
    first[comp_sorted[new_run]] = new_run
    local = position - first[comp]
    edge_order = np.argsort(position[edge_index[0]], kind="stable")
    src, tgt = edge_index[0][edge_order], edge_index[1][edge_order]
    edge_weights = weights[edge_order]
    edge_position = position[src]
    sorted_sizes = sizes[comp_sorted]
    for size in np.unique(sizes):
        if size < 2:
            continue  # isolated nodes keep zero features
        block_start = int(np.searchsorted(sorted_sizes, size, side="left"))
        block_stop = int(np.searchsorted(sorted_sizes, size, side="right"))
        nodes = node_order[block_start:block_stop]
        if size <= _DENSE_MAX_NODES:
            lo, hi = np.searchsorted(edge_position, [block_start, block_stop])
            slot = (edge_position[lo:hi] - block_start) // size
            block = _dense_component_features(
                local[src[lo:hi]], local[tgt[lo:hi]], slot, edge_weights[lo:hi],
                len(nodes) // size, size, k,
            )
            features[nodes] = block.reshape(-1, k)
        else:
            for c, run in enumerate(nodes.reshape(-1, size)):
                first_position = block_start + c * size
                lo, hi = np.searchsorted(edge_position, [first_position, first_position + size])
                features[run] = _sparse_component_features(
                    local[src[lo:hi]], local[tgt[lo:hi]], edge_weights[lo:hi], size, k
                )
        if normalization == "rms":
            features[nodes] *= np.sqrt(size)
    return features


#: Labelled FOVs whose areas differ by more than this factor are weighted by
#: their area in every statistic taken over FOVs (density, spacing, side, the
#: crop templates drawn); closer areas count alike (a median, a uniform draw).
AREA_WEIGHT_RATIO = 2.0


def area_weights(areas, ratio=AREA_WEIGHT_RATIO):
    """Weights of FOVs in statistics over FOVs: None (alike) or proportional to area.

    Users often label one whole FOV and a few small regions around single
    clusters. A median over FOVs then describes the small regions (nearly all
    cluster, dense), not the data: measured on simulated scenario 2, one
    whole FOV and eight boxes around clusters gave crops of 153 nm instead of
    1,179 nm and a connectivity radius of 114 nm instead of 292 nm. Weighting
    by area makes each statistic what a localisation drawn from the pooled
    training data would see. FOVs of similar size (the benchmark's) keep
    plain medians, so their fits do not change.

    Parameters
    ----------
    areas : array-like of shape (n_fovs,)
    ratio : float, default=AREA_WEIGHT_RATIO

    Returns
    -------
    weights : ndarray of shape (n_fovs,) summing to 1, or None
        None when an area is negative or not finite, fewer than two FOVs
        span an area, or the largest area is at most ``ratio`` times the
        smallest of those. A flat FOV (an area under ``1e-12`` times the
        largest: all its localisations on a line) gets weight 0 and does not
        decide whether the others differ.
    """
    areas = np.asarray(areas, dtype=np.float64).reshape(-1)
    if areas.size < 2 or not np.all(np.isfinite(areas)) or np.any(areas < 0):
        return None
    spanning = areas > 1e-12 * areas.max()
    if spanning.sum() < 2 or areas[spanning].max() <= ratio * areas[spanning].min():
        return None
    weights = np.where(spanning, areas, 0.0)
    return weights / weights.sum()


def weighted_median(values, weights):
    """The median of ``values`` with non-negative ``weights`` (the plain median when weights is None).

    The smallest value at which the cumulative weight reaches half the total;
    NaN when a value is NaN, as :func:`numpy.median`.
    """
    values = np.asarray(values, dtype=np.float64)
    if weights is None or np.isnan(values).any():
        return float(np.median(values))
    weights = np.asarray(weights, dtype=np.float64)
    if weights.shape != values.shape or not np.all(np.isfinite(weights)) or np.any(weights < 0) \
            or weights.sum() <= 0:
        raise ValueError("weights must be finite, non-negative, not all zero, one per value; "
                         f"got {weights!r} for {values.size} values.")
    order = np.argsort(values, kind="stable")
    cumulative = np.cumsum(weights[order])
    # A relative tolerance: where the cumulative weight reaches exactly half (a tie between
    # two values), rounding must not decide, e.g. when the weights are scaled.
    return float(values[order][np.searchsorted(cumulative, 0.5 * cumulative[-1] * (1 - 1e-9))])


def default_connectivity_radius(X, groups=None, factor=3.5, *, fov_indices=None):
    """Data-driven connectivity radius, in the units of ``X``.

    ``factor`` times the mean inter-localisation spacing ``sqrt(area / n)`` of a
    field of view, where ``area`` is the area of its bounding box; the median
    over FOVs when ``groups`` is given, or, where their areas differ more
    than :data:`AREA_WEIGHT_RATIO` times, the spacing of the pooled
    localisations ``sqrt(total area / total n)``. For the benchmark of Nieves et al.
    (2000 x 2000 nm FOVs) this gives about 170 nm for 2,000 localisations per
    FOV and 80 nm for 8,000. The MIRO authors chose 400 and 200 nm by hand for
    those; measured on ground-truth scenario 6, a radius of about 3 spacings
    (150 nm) trained faster and scored better than 8 spacings (380 nm): the
    recurrent steps carry information further than one edge anyway, and
    fewer, shorter edges make every step cheaper (``benchmarks/README.md``).

    Parameters
    ----------
    X : array-like of shape (n, 2)
    groups : array-like of shape (n,), optional
        FOV id of each localisation.
    factor : float, default=3.5
    fov_indices : list of ndarray, optional
        Row indices of every FOV when the caller has them already (then
        ``groups`` is not split again).

    Returns
    -------
    radius : float
    """
    from ._validation import split_by_group

    X = np.asarray(X, dtype=np.float64)
    if fov_indices is None:
        fov_indices = [idx for _, idx in split_by_group(groups, X.shape[0])]
    areas, counts = [], []
    for idx in fov_indices:
        pts = X[idx]
        if pts.shape[0] < 2:
            continue
        extent = pts.max(axis=0) - pts.min(axis=0)
        # A degenerate (collinear) FOV has zero area: fall back to its length.
        area = extent[0] * extent[1] if np.all(extent > 0) else max(extent.max(), 0.0) ** 2
        if area > 0:
            areas.append(area)
            counts.append(pts.shape[0])
    if not areas:
        raise ValueError(
            "Cannot derive a connectivity radius: every field of view has fewer than 2 "
            "distinct localisations. Pass connectivity_radius explicitly."
        )
    areas, counts = np.array(areas), np.array(counts)
    if area_weights(areas) is None:
        return float(factor * np.median(np.sqrt(areas / counts)))
    # FOVs of very different sizes: the spacing of the pooled localisations.
    return float(factor * np.sqrt(areas.sum() / counts.sum()))


def build_graph(
    X, connectivity_radius, *, length_scale=None, n_eigenvectors=N_EIGENVECTORS, normalization="unit"
):
    """Build the MIRO graph of one field of view.

    Parameters
    ----------
    X : array-like of shape (n_localizations, 2)
        Coordinates of one FOV, in any length unit (usually nm).
    connectivity_radius : float
        Delaunay edges with length ``>= connectivity_radius`` are dropped. Same
        units as ``X``.
    length_scale : float, optional
        Length unit of the edge features (``[dx, dy, distance] / length_scale``).
        Defaults to ``connectivity_radius``, as in the reference implementation.
    n_eigenvectors : int, default=5
        Number of Laplacian eigenvector node features.
    normalization : {"unit", "rms"}, default="unit"
        Scaling of the eigenvector features, see
        :func:`laplacian_eigenvector_features`.

    Returns
    -------
    Graph
        See the module docstring for how degenerate inputs are treated.
    """
    X = check_coordinates(X, min_points=1)
    r = float(check_positive(connectivity_radius, "connectivity_radius"))
    unit = r if length_scale is None else float(check_positive(length_scale, "length_scale"))
    if normalization not in ("unit", "rms"):
        raise ValueError(f"normalization must be 'unit' or 'rms'; got {normalization!r}.")
    # Differences of relative coordinates: exact, whatever the FOV's offset.
    relative, _ = relative_coordinates(X)
    edges = delaunay_edges(relative)
    delta = relative[edges[0]] - relative[edges[1]]
    dist = np.sqrt((delta**2).sum(axis=1))
    keep = dist < r
    edges, delta, dist = edges[:, keep], delta[keep], dist[keep]
    # Both directions; the reverse edge has the opposite displacement.
    source = np.concatenate([edges[0], edges[1]])
    target = np.concatenate([edges[1], edges[0]])
    attr = np.concatenate(
        [np.column_stack([delta, dist]), np.column_stack([-delta, dist])], axis=0
    )
    order = np.argsort(source.astype(np.int64) * max(X.shape[0], 1) + target, kind="stable")
    edge_index = np.stack([source[order], target[order]]).astype(np.int64)
    edge_attr = (attr[order] / unit).astype(np.float32)
    node_attr = laplacian_eigenvector_features(
        X.shape[0], edge_index, n_eigenvectors, normalization=normalization
    ).astype(np.float32)
    return Graph(
        positions=X,
        edge_index=edge_index,
        edge_attr=edge_attr,
        node_attr=node_attr,
        connectivity_radius=r,
        length_scale=unit,
    )
