"""The vectorised convex hulls of the IoU equal the former scipy loop, bit for bit.

``reference_*`` below are copies of the implementation that called scipy's
``ConvexHull`` once per cluster (kept here only as the reference). The new
:func:`sklearn_miro.metrics.core.cluster_hulls` must give the same vertices
(as points, up to the starting vertex of the counter-clockwise cycle) and
:func:`~sklearn_miro.metrics.core.hull_union_iou` the same pixel counts and
IoU.

Property tests draw integer coordinates (optionally scaled by a power of two
and shifted): every orientation is then exact and every point off a line is
far from it, so the expected hull is unambiguous. Floating-point data far
from degenerate (Gaussian blobs, rings) are covered by seeded examples.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.spatial import ConvexHull, QhullError

from sklearn_miro.metrics import core, iou


# ------------------------------------------------------------------ reference


def reference_cluster_hulls(coords, encoded):
    """The former ``cluster_hulls``: scipy's ConvexHull once per cluster."""
    mask = encoded.cluster_mask()
    codes = encoded.codes[mask]
    points = coords[mask]
    sizes = np.bincount(codes, minlength=encoded.n_classes)
    order = np.argsort(codes, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(sizes)])
    hulls = []
    for code in np.flatnonzero(sizes >= 3):
        member_points = points[order[bounds[code] : bounds[code + 1]]]
        try:
            hull = ConvexHull(member_points)
        except QhullError:  # collinear or coincident points: zero area
            continue
        if hull.volume > 0:  # in 2-D, `volume` is the area
            hulls.append(member_points[hull.vertices])
    return hulls


def reference_hull_row_intervals(hulls, origin, spacing, n_pixels):
    """The former ``hull_row_intervals`` (list of vertex arrays)."""
    if not hulls:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    vertex_counts = np.array([len(h) for h in hulls])
    start_vertices = np.concatenate(hulls)
    end_vertices = np.concatenate([np.roll(h, -1, axis=0) for h in hulls])
    hull_ids = np.repeat(np.arange(len(hulls)), vertex_counts)

    x0, y0 = start_vertices[:, 0], start_vertices[:, 1]
    x1, y1 = end_vertices[:, 0], end_vertices[:, 1]
    not_horizontal = y0 != y1
    x0, y0, x1, y1, hull_ids = (a[not_horizontal] for a in (x0, y0, x1, y1, hull_ids))

    y_low = (np.minimum(y0, y1) - origin[1]) / spacing[1]
    y_high = (np.maximum(y0, y1) - origin[1]) / spacing[1]
    first_row = np.clip(np.ceil(y_low), 0, n_pixels - 1).astype(np.int64)
    last_row = np.clip(np.floor(y_high), 0, n_pixels - 1).astype(np.int64)
    rows_per_edge = np.maximum(last_row - first_row + 1, 0)
    rows_per_edge[np.ceil(y_low) > n_pixels - 1] = 0
    rows_per_edge[np.floor(y_high) < 0] = 0

    edge_of_crossing = np.repeat(np.arange(len(first_row)), rows_per_edge)
    offsets = np.arange(edge_of_crossing.size) - np.repeat(
        np.cumsum(rows_per_edge) - rows_per_edge, rows_per_edge
    )
    rows = first_row[edge_of_crossing] + offsets
    row_y = origin[1] + rows * spacing[1]
    e = edge_of_crossing
    fraction = (row_y - y0[e]) / (y1[e] - y0[e])
    crossing_x = x0[e] + fraction * (x1[e] - x0[e])

    key = hull_ids[e].astype(np.int64) * n_pixels + rows
    if key.size == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    order = np.lexsort((crossing_x, key))
    key, crossing_x = key[order], crossing_x[order]
    group_starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    group_ends = np.r_[group_starts[1:], key.size] - 1
    x_left, x_right = crossing_x[group_starts], crossing_x[group_ends]
    rows = key[group_starts] % n_pixels

    first_col = np.maximum(np.ceil((x_left - origin[0]) / spacing[0]), 0)
    last_col = np.minimum(np.floor((x_right - origin[0]) / spacing[0]), n_pixels - 1)
    nonempty = last_col >= first_col
    row_stride = n_pixels + 1
    starts = rows[nonempty] * row_stride + first_col[nonempty].astype(np.int64)
    ends = rows[nonempty] * row_stride + last_col[nonempty].astype(np.int64) + 1
    return starts, ends


def reference_hull_union_iou(coords, encoded_true, encoded_pred, n_pixels=None):
    """The former ``hull_union_iou`` (``union_length`` and the grid rule are unchanged)."""
    coords = coords - coords.min(axis=0)
    hulls_true = reference_cluster_hulls(coords, encoded_true)
    hulls_pred = reference_cluster_hulls(coords, encoded_pred)
    if not hulls_true and not hulls_pred:
        return np.nan, 0, 0, 0
    if n_pixels is None:
        n_pixels = core.reference_grid_size(coords)
    origin = coords.min(axis=0)
    spacing = np.ptp(coords, axis=0) / (n_pixels - 1)
    starts_true, ends_true = reference_hull_row_intervals(hulls_true, origin, spacing, n_pixels)
    starts_pred, ends_pred = reference_hull_row_intervals(hulls_pred, origin, spacing, n_pixels)
    area_true = core.union_length(starts_true, ends_true)
    area_pred = core.union_length(starts_pred, ends_pred)
    area_union = core.union_length(np.r_[starts_true, starts_pred], np.r_[ends_true, ends_pred])
    if area_union == 0:
        return np.nan, area_true, area_pred, area_union
    intersection = area_true + area_pred - area_union
    return intersection / area_union, area_true, area_pred, area_union


# -------------------------------------------------------------------- helpers


def _split(hulls):
    offsets = hulls.offsets
    return [hulls.vertices[offsets[i] : offsets[i + 1]] for i in range(len(hulls))]


def _signed_area(vertices):
    x, y = vertices[:, 0], vertices[:, 1]
    return 0.5 * np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y)


def _same_cycle(a, b):
    """True when ``b`` is ``a`` with another starting vertex (same orientation)."""
    if a.shape != b.shape:
        return False
    starts = np.flatnonzero((b == a[0]).all(axis=1))
    return any(np.array_equal(np.roll(b, -int(k), axis=0), a) for k in starts)


def assert_same_hulls(coords, labels, background=-1):
    encoded = core.encode_labels(np.asarray(labels), background)
    expected = reference_cluster_hulls(coords, encoded)
    got = core.cluster_hulls(coords, encoded)
    assert len(got) == len(expected)
    got_vertices = _split(got)
    for want, have in zip(expected, got_vertices):
        assert set(map(tuple, have)) == set(map(tuple, want))
        assert _same_cycle(want, have), (want, have)
        assert _signed_area(have) > 0  # counter-clockwise
    # hull i belongs to the i-th cluster with an area, in code order
    assert np.all(np.diff(got.codes) > 0)
    return got


def assert_same_intervals(coords, encoded, n_pixels):
    """The row intervals of every hull, not only their union, are unchanged."""
    coords = coords - coords.min(axis=0)
    origin, spacing = coords.min(axis=0), np.ptp(coords, axis=0) / (n_pixels - 1)
    want = reference_hull_row_intervals(reference_cluster_hulls(coords, encoded), origin, spacing, n_pixels)
    got = core.hull_row_intervals(core.cluster_hulls(coords, encoded), origin, spacing, n_pixels)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])


def assert_same_pixels(coords, labels_true, labels_pred, n_pixels=None):
    true = core.encode_labels(np.asarray(labels_true), -1)
    pred = core.encode_labels(np.asarray(labels_pred), -1)
    grid = core.reference_grid_size(coords - coords.min(axis=0)) if n_pixels is None else n_pixels
    if np.ptp(coords, axis=0).min() > 0:  # a flat FOV has no grid (and no hull)
        assert_same_intervals(coords, true, grid)
        assert_same_intervals(coords, pred, grid)
    want = reference_hull_union_iou(coords, true, pred, n_pixels)
    got = core.hull_union_iou(coords, true, pred, n_pixels)
    assert got[1:] == want[1:]
    assert (np.isnan(got[0]) and np.isnan(want[0])) or got[0] == want[0]
    return got


# ----------------------------------------------------------- property tests


@st.composite
def integer_fovs(draw):
    """Clusters of many kinds on an integer lattice, plus background (label -1).

    Kinds: random points in a box (with duplicates), points on a segment
    (collinear, including vertical and horizontal ones), one point repeated,
    1-3 points, points on a parabola (every point a hull vertex) and lattice
    points of a circle (many hull vertices, symmetric ties). Hypothesis draws
    the structure (kinds, sizes, boxes, directions, scale, shift); the
    coordinates come from a generator seeded by hypothesis, which keeps an
    example cheap to draw.
    """
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n_clusters = draw(st.integers(1, 12))
    points = []
    for _ in range(n_clusters):
        kind = draw(st.sampled_from(["box", "box", "segment", "coincident", "tiny", "parabola", "circle"]))
        if kind == "box":
            # small boxes give collinear hull points and ties in distance
            side = st.one_of(st.integers(0, 4), st.integers(0, 40))
            w, h = draw(side), draw(side)
            pts = rng.integers(0, [w + 1, h + 1], (draw(st.integers(3, 40)), 2))
        elif kind == "segment":
            direction = [draw(st.integers(-6, 6)), draw(st.integers(-6, 6))]
            pts = np.outer(rng.integers(0, 31, draw(st.integers(3, 20))), direction)
        elif kind == "coincident":
            pts = np.zeros((draw(st.integers(3, 6)), 2), int)
        elif kind == "tiny":
            pts = rng.integers(0, 21, (draw(st.integers(1, 3)), 2))
        elif kind == "parabola":
            xs = rng.integers(-25, 26, draw(st.integers(3, 40)))
            pts = np.c_[xs, xs * xs]
        else:  # lattice points of x^2 + y^2 = r^2: 12 to 60 of them for these radii
            r = draw(st.sampled_from([5, 25, 65, 325]))
            g = np.arange(-r, r + 1)
            gx, gy = np.meshgrid(g, g)
            on = gx**2 + gy**2 == r * r
            pts = np.c_[gx[on], gy[on]]
            pts = pts[rng.random(len(pts)) < draw(st.sampled_from([0.3, 0.7, 1.0]))]
        if len(pts) and draw(st.booleans()):  # duplicate some points
            pts = np.r_[pts, pts[: rng.integers(1, len(pts) + 1)]]
        points.append(pts.reshape(-1, 2) + rng.integers(0, 3001, 2))
    sizes = [len(p) for p in points]
    background = rng.integers(0, 3101, (draw(st.integers(0, 10)), 2))
    X = np.concatenate(points + [background]).astype(float)
    y = np.r_[np.repeat(np.arange(n_clusters), sizes), np.full(len(background), -1)]
    # exact transforms: a power-of-two scale and a shift that keeps integers exact
    X = X * 2.0 ** draw(st.integers(-4, 4)) + draw(st.sampled_from([0.0, 0.5, 1024.0, 2.0**20]))
    order = rng.permutation(len(y))
    return X[order], y[order]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(integer_fovs())
def test_hull_vertices_equal_scipy(fov):
    X, y = fov
    assert_same_hulls(X, y)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(integer_fovs(), st.integers(0, 2**32 - 1), st.sampled_from([None, 17, 64, 257]))
def test_pixel_counts_and_iou_equal_the_scipy_loop(fov, seed, n_pixels):
    X, y = fov
    rng = np.random.default_rng(seed)
    # a prediction: some points lost to background, some clusters merged
    pred = np.where(rng.random(y.size) < 0.2, -1, y)
    pred = np.where(pred >= 0, pred // 2, -1)
    assert_same_pixels(X, y, pred, n_pixels)
    assert_same_pixels(X, pred, y, n_pixels)


# ----------------------------------------------------------- seeded examples


def _blobs(rng, n_clusters, sizes=(10, 100), side=5000.0):
    """Gaussian blobs, elongated blobs and noisy rings with background (float data)."""
    size = rng.integers(sizes[0], sizes[1] + 1, n_clusters)
    cid = np.repeat(np.arange(n_clusters), size)
    kind = rng.integers(0, 3, n_clusters)[cid]
    sigma = rng.uniform(5, 30, n_clusters)[cid]
    local = rng.normal(size=(cid.size, 2)) * sigma[:, None]
    local[kind == 1, 0] *= 5
    phi = rng.uniform(0, 2 * np.pi, cid.size)
    ring = np.c_[np.cos(phi), np.sin(phi)] * (3 * sigma + rng.normal(0, 2, cid.size))[:, None]
    local[kind == 2] = ring[kind == 2]
    centres = rng.uniform(200, side - 200, (n_clusters, 2))
    X = np.r_[centres[cid] + local, rng.uniform(0, side, (cid.size // 5, 2))]
    y = np.r_[cid, -np.ones(cid.size // 5, int)]
    pred = np.where(rng.random(y.size) < 0.1, -1, y)
    pred = np.where((pred >= 0) & (pred % 7 == 1), pred - 1, pred)
    return X, y, pred


@pytest.mark.parametrize("seed", range(3))
def test_random_float_fovs(seed):
    X, y, pred = _blobs(np.random.default_rng(seed), 200, side=3000.0)
    assert_same_hulls(X - X.min(axis=0), y)
    assert_same_hulls(X - X.min(axis=0), pred)
    assert_same_pixels(X, y, pred)
    assert iou(X, y, pred) == reference_hull_union_iou(
        X, core.encode_labels(y, -1), core.encode_labels(pred, -1))[0]


def test_huge_clusters_and_dense_rings():
    rng = np.random.default_rng(7)
    X_small, y_small, _ = _blobs(rng, 50)
    gauss = rng.normal(0, 150, (20_000, 2)) + 2500
    phi = rng.uniform(0, 2 * np.pi, 6_000)
    ring = 1000 + 400 * np.c_[np.cos(phi), np.sin(phi)]
    ellipse = np.c_[rng.normal(0, 300, 8_000), rng.normal(0, 20, 8_000)] + [3500, 4000]
    X = np.r_[X_small, gauss, ring, ellipse]
    y = np.r_[y_small, np.full(20_000, 100), np.full(6_000, 101), np.full(8_000, 102)]
    hulls = assert_same_hulls(X, y)
    assert hulls.sizes.max() == 6_000  # every ring point is a vertex
    pred = np.where(rng.random(y.size) < 0.05, -1, y)
    assert_same_pixels(X, y, pred)


def test_many_points_on_a_circle_and_a_regular_polygon():
    phi = np.arange(4096) * (2 * np.pi / 4096)  # symmetric: exact ties in distance
    regular = 600 + 500 * np.c_[np.cos(phi), np.sin(phi)]
    square = np.array([[0, 0], [2, 0], [2, 2], [0, 2], [1, 0], [2, 1], [1, 2], [0, 1], [1, 1]], float)
    X = np.r_[regular, square * 50 + 1500]
    y = np.r_[np.zeros(4096, int), np.ones(9, int)]
    hulls = assert_same_hulls(X, y)
    assert list(hulls.sizes) == [4096, 4]  # edge midpoints of the square are no vertices
    assert_same_pixels(X, y, np.where(np.arange(y.size) % 3 == 0, -1, y))


def test_degenerate_clusters_have_no_hull():
    rng = np.random.default_rng(3)
    t = rng.uniform(0, 80, (50, 12))
    # points on lines with rounded coordinates: Qhull finds them flat, so must we
    slope, x0, y0 = rng.normal(size=(50, 1)), rng.uniform(0, 4000, (50, 1)), rng.uniform(0, 4000, (50, 1))
    lines = np.c_[(x0 + t).ravel(), (y0 + slope * t).ravel()]
    vertical = np.c_[np.full(12, 77.7), rng.uniform(0, 50, 12)]
    coincident = np.tile([[12.3, 45.6]], (5, 1))
    pair = np.array([[1.0, 2.0], [3.0, 4.0]])
    X = np.r_[lines, vertical, coincident, pair]
    y = np.r_[np.repeat(np.arange(50), 12), np.full(12, 50), np.full(5, 51), np.full(2, 52)]
    assert len(assert_same_hulls(X, y)) == 0
    assert len(core.cluster_hulls(X, core.encode_labels(np.full(y.size, -1), -1))) == 0
    # no area on either side: NaN from the core, 1.0 from the public function
    assert np.isnan(assert_same_pixels(X, y, y)[0])
    assert iou(X, y, y) == 1.0


def test_three_point_clusters_and_duplicates():
    rng = np.random.default_rng(11)
    # small triangles and clusters (the raster's cost grows with the rows a hull spans)
    triangles = rng.uniform(0, 3000, (400, 1, 2)) + rng.uniform(0, 40, (400, 3, 2))
    triangles = triangles.reshape(-1, 2)
    y_tri = np.repeat(np.arange(400), 3)
    blobs = rng.uniform(0, 3000, (100, 1, 2)) + rng.uniform(0, 40, (100, 5, 2))
    doubled = np.repeat(blobs.reshape(-1, 2), 3, axis=0)  # every point thrice
    y_dbl = 400 + np.repeat(np.arange(100), 15)
    X = np.r_[triangles, doubled]
    y = np.r_[y_tri, y_dbl]
    hulls = assert_same_hulls(X, y)
    assert np.all(hulls.sizes[:400] == 3)
    assert_same_pixels(X, y, np.where(y % 4 == 0, -1, y))


def test_string_labels_and_background_absent():
    rng = np.random.default_rng(5)
    X, y, pred = _blobs(rng, 40)
    names = np.array([f"c{k}" for k in range(y.max() + 1)] + ["noise"])
    assert_same_hulls(X, names[y], background="noise")
    assert_same_hulls(X, np.where(y < 0, 0, y), background=-1)  # no background at all


def test_clusters_on_a_small_lattice():
    # many collinear hull points and exact ties in distance to a chord: only
    # the ends of a straight run of points are vertices
    rng = np.random.default_rng(13)
    X = rng.integers(0, 4, (1000 * 10, 2)) + np.repeat(rng.integers(0, 3000, (1000, 2)), 10, axis=0)
    y = np.repeat(np.arange(1000), 10)
    assert_same_hulls(X.astype(float), y)
    assert_same_hulls(X * 0.1, y)  # the same, rounded


# ------------------------------------------------- bands of rows (memory bound)


def _spread_prediction(rng, n, n_clusters):
    """A pathological prediction: clusters drawn at random, each spread over the whole FOV."""
    return rng.integers(0, n_clusters, n)


@pytest.mark.parametrize("budget", [1, 37, 1000, 50_000])
@pytest.mark.parametrize("seed", range(3))
def test_pixel_counts_in_bands_of_rows_equal_the_whole_grid(seed, budget, monkeypatch):
    # Every hull of a random labelling spans the whole FOV, so the crossings
    # (edge, grid row) grow with hulls x rows; hull_union_iou then works one
    # band of rows at a time. Rows never share an interval, so the pixel
    # counts are the same integers, band by band or all at once.
    rng = np.random.default_rng(seed)
    X, y, _ = _blobs(rng, 60, side=1500.0)
    pred = _spread_prediction(rng, y.size, 40)
    true, guess = core.encode_labels(y, -1), core.encode_labels(pred, -1)
    whole = reference_hull_union_iou(X, true, guess)
    monkeypatch.setattr(core, "_IOU_BAND_CROSSINGS", budget)
    for n_pixels in (None, 97):
        got = core.hull_union_iou(X, true, guess, n_pixels)
        want = whole if n_pixels is None else reference_hull_union_iou(X, true, guess, n_pixels)
        assert got[1:] == want[1:] and got[0] == want[0]
    assert iou(X, y, pred) == whole[0]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(integer_fovs(), st.integers(0, 2**32 - 1), st.sampled_from([None, 17, 257]), st.integers(1, 400))
def test_banded_pixel_counts_on_awkward_hulls(fov, seed, n_pixels, budget):
    X, y = fov
    rng = np.random.default_rng(seed)
    pred = np.where(rng.random(y.size) < 0.3, -1, rng.integers(0, 4, y.size))
    true, guess = core.encode_labels(y, -1), core.encode_labels(pred, -1)
    want = reference_hull_union_iou(X, true, guess, n_pixels)
    saved = core._IOU_BAND_CROSSINGS
    core._IOU_BAND_CROSSINGS = budget
    try:
        got = core.hull_union_iou(X, true, guess, n_pixels)
    finally:
        core._IOU_BAND_CROSSINGS = saved
    assert got[1:] == want[1:]
    assert (np.isnan(got[0]) and np.isnan(want[0])) or got[0] == want[0]


@pytest.mark.parametrize("budget", [1, 100, 5_000])
def test_row_bands_cover_the_grid_and_hold_the_budget(budget, monkeypatch):
    rng = np.random.default_rng(4)
    X, y, _ = _blobs(rng, 30, side=2000.0)
    coords = X - X.min(axis=0)
    n_pixels = core.reference_grid_size(coords)
    origin, spacing = coords.min(axis=0), np.ptp(coords, axis=0) / (n_pixels - 1)
    edge_sets = [core._hull_edges(core.cluster_hulls(coords, core.encode_labels(labels, -1)), origin, spacing,
                                  n_pixels) for labels in (y, _spread_prediction(rng, y.size, 25))]
    monkeypatch.setattr(core, "_IOU_BAND_CROSSINGS", budget)
    bands = core._row_bands(edge_sets, n_pixels)
    assert bands[0][0] == 0 and bands[-1][1] == n_pixels
    assert all(a < b for a, b in bands) and all(b == c for (_, b), (c, _) in zip(bands, bands[1:]))
    # crossings per row, and per band: at most the budget (at least the edges) plus one row's
    per_row = np.zeros(n_pixels + 1, np.int64)
    for edges in edge_sets:
        first, count = edges[5], edges[6]
        np.add.at(per_row, first[count > 0], 1)
        np.add.at(per_row, (first + count)[count > 0], -1)
    per_row = np.cumsum(per_row)[:-1]
    limit = max(budget, sum(edges[5].size for edges in edge_sets)) + per_row.max()
    assert max(per_row[a:b].sum() for a, b in bands) <= limit
    assert len(bands) > 1 or per_row.sum() <= max(budget, sum(edges[5].size for edges in edge_sets))
    # the intervals of a band are those of the whole grid in its rows
    hulls = core.cluster_hulls(coords, core.encode_labels(y, -1))
    starts, ends = core.hull_row_intervals(hulls, origin, spacing, n_pixels)
    pieces = [core.hull_row_intervals(hulls, origin, spacing, n_pixels, band) for band in bands]
    np.testing.assert_array_equal(np.sort(np.concatenate([p[0] for p in pieces])), np.sort(starts))
    np.testing.assert_array_equal(np.sort(np.concatenate([p[1] for p in pieces])), np.sort(ends))
