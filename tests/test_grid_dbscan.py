"""Bounded-memory DBSCAN: the same core points and labels as scikit-learn's."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial import cKDTree
from sklearn.base import clone
from sklearn.cluster import DBSCAN

import sklearn_miro.grid_dbscan as grid_dbscan_module
from sklearn_miro.grid_dbscan import DBSCANStar, GridDBSCAN, drop_border_points, grid_dbscan, neighbour_counts


def _cloud(kind, rng, n):
    if kind == "uniform":
        return rng.uniform(0, 100, (n, 2))
    if kind == "collapsed":  # tight blobs, like MIRO's output
        centres = rng.uniform(0, 300, (max(1, n // 40), 2))
        blobs = centres[rng.integers(0, len(centres), n)] + rng.normal(0, 0.5, (n, 2))
        return np.concatenate([blobs, rng.uniform(0, 300, (n // 5, 2))])
    return np.round(rng.uniform(0, 15, (n, 2)))  # integer grid: many pairs at exactly eps


@pytest.mark.parametrize("kind", ["uniform", "collapsed", "grid"])
@pytest.mark.parametrize("seed", range(12))
def test_same_core_points_and_labels_as_sklearn(kind, seed):
    rng = np.random.default_rng(seed)
    X = _cloud(kind, rng, int(rng.integers(2, 500)))
    eps = float(rng.choice([0.7, 1.0, 2.0, 3.0, 6.0]))
    min_samples = int(rng.integers(1, 15))
    chunk_size = int(rng.choice([7, 500, 2_000_000]))  # exercise the chunked and k-d tree paths
    expected = DBSCAN(eps=eps, min_samples=min_samples).fit(X)
    labels, core = grid_dbscan(X, eps, min_samples, chunk_size=chunk_size)
    np.testing.assert_array_equal(core, expected.core_sample_indices_)
    np.testing.assert_array_equal(labels, expected.labels_)


def test_far_from_the_origin_gives_the_same_labels():
    rng = np.random.default_rng(1)
    X = np.round(_cloud("collapsed", rng, 400) * 64) / 64  # exactly representable after the shift
    np.testing.assert_array_equal(grid_dbscan(X + 2.0**30, 2.0, 5)[0], grid_dbscan(X, 2.0, 5)[0])


def test_border_point_goes_to_the_first_cluster_like_sklearn():
    # Point 10 is within eps of both clusters' core points but is not core itself.
    left = np.column_stack([np.zeros(5), np.arange(5) * 0.1])
    right = np.column_stack([np.full(5, 2.0), np.arange(5) * 0.1])
    X = np.concatenate([right, left, [[1.0, 0.2]]])
    expected = DBSCAN(eps=1.0, min_samples=5).fit_predict(X)
    assert expected[10] == 0  # the cluster seeded first (lowest index) wins
    np.testing.assert_array_equal(grid_dbscan(X, 1.0, 5)[0], expected)


def test_estimator_api():
    rng = np.random.default_rng(0)
    X = _cloud("collapsed", rng, 300)
    est = GridDBSCAN(eps=2.0, min_samples=4)
    labels = clone(est).fit_predict(X)
    ref = DBSCAN(eps=2.0, min_samples=4).fit(X)
    np.testing.assert_array_equal(labels, ref.labels_)
    fitted = est.fit(X)
    np.testing.assert_array_equal(fitted.components_, ref.components_)
    assert fitted.n_features_in_ == 2


def test_bad_parameters_are_rejected():
    with pytest.raises(ValueError, match="eps"):
        grid_dbscan(np.zeros((3, 2)), -1.0, 2)
    with pytest.raises(ValueError, match="min_samples"):
        grid_dbscan(np.zeros((3, 2)), 1.0, 0)


@pytest.mark.parametrize("kind", ["uniform", "collapsed", "grid"])
@pytest.mark.parametrize("seed", range(4))
def test_precomputed_neighbour_counts_give_the_same_dbscan(kind, seed):
    # A grid search counts neighbours once per eps and reuses them for every
    # min_samples: the labels must be scikit-learn's for each of them.
    rng = np.random.default_rng(100 + seed)
    X = _cloud(kind, rng, int(rng.integers(50, 500)))
    eps = float(rng.choice([0.7, 1.0, 3.0]))
    counts = neighbour_counts(X, eps)
    brute = (((X[:, None, :] - X[None, :, :]) ** 2).sum(axis=-1) <= eps * eps).sum(axis=1)
    np.testing.assert_array_equal(counts, brute)
    for min_samples in (1, 2, 5, 12, 40):
        expected = DBSCAN(eps=eps, min_samples=min_samples).fit(X)
        labels, core = grid_dbscan(X, eps, min_samples, neighbour_counts=counts)
        np.testing.assert_array_equal(core, expected.core_sample_indices_)
        np.testing.assert_array_equal(labels, expected.labels_)


def test_neighbour_lookups_in_several_blocks_give_the_same_labels(monkeypatch):
    # Cells and border points are paired with their neighbouring core cells in
    # blocks; blocks smaller than the data must not change anything.
    rng = np.random.default_rng(7)
    X = _cloud("collapsed", rng, 800)
    expected = DBSCAN(eps=2.0, min_samples=4).fit_predict(X)
    monkeypatch.setattr(grid_dbscan_module, "_KEY_BLOCK", 3)
    np.testing.assert_array_equal(grid_dbscan(X, 2.0, 4)[0], expected)


def test_neighbour_counts_of_the_wrong_length_are_rejected():
    with pytest.raises(ValueError, match="one count per point"):
        grid_dbscan(np.zeros((3, 2)), 1.0, 2, neighbour_counts=np.ones(4))


# ------------------------------------------------------------------ DBSCAN*


@pytest.mark.parametrize("kind", ["uniform", "collapsed", "grid"])
@pytest.mark.parametrize("seed", range(6))
def test_dbscan_star_is_dbscan_with_border_points_as_noise(kind, seed):
    rng = np.random.default_rng(100 + seed)
    X = _cloud(kind, rng, int(rng.integers(2, 400)))
    eps, min_samples = float(rng.choice([1.0, 2.0, 6.0])), int(rng.integers(2, 12))
    reference = DBSCAN(eps=eps, min_samples=min_samples).fit(X)
    star = DBSCANStar(eps=eps, min_samples=min_samples).fit(X)
    core = np.zeros(len(X), dtype=bool)
    core[reference.core_sample_indices_] = True
    np.testing.assert_array_equal(star.core_sample_indices_, reference.core_sample_indices_)
    # Core points keep DBSCAN's cluster (numbering included); every other point is noise.
    np.testing.assert_array_equal(star.labels_[core], reference.labels_[core])
    assert np.all(star.labels_[~core] == -1)
    # No cluster disappears: each has a core point.
    assert set(star.labels_[star.labels_ >= 0]) == set(reference.labels_[reference.labels_ >= 0])


def test_dbscan_star_drops_exactly_the_border_point():
    # Four points within 0.15 of each other and a fifth 1.0 from the first
    # only. With min_samples=5 only (0, 0) is a core point: DBSCAN gives its
    # four neighbours to its cluster as border points, DBSCAN* leaves them noise.
    X = np.array([[0.0, 0.0], [0.0, 0.1], [0.1, 0.0], [0.1, 0.1], [-1.0, 0.0]])
    assert list(DBSCAN(eps=1.0, min_samples=5).fit_predict(X)) == [0, 0, 0, 0, 0]
    labels = DBSCANStar(eps=1.0, min_samples=5).fit_predict(X)
    assert list(labels) == [0, -1, -1, -1, -1]
    assert list(DBSCANStar(eps=1.0, min_samples=4).fit_predict(X)) == [0, 0, 0, 0, -1]


def test_drop_border_points_leaves_its_input_alone():
    labels = np.array([0, 0, 1, 1, -1])
    out = drop_border_points(labels, np.array([0, 2]))
    np.testing.assert_array_equal(out, [0, -1, 1, -1, -1])
    np.testing.assert_array_equal(labels, [0, 0, 1, 1, -1])


def test_dbscan_star_estimator_api():
    X = _cloud("collapsed", np.random.default_rng(3), 200)
    est = DBSCANStar(eps=2.0, min_samples=4)
    np.testing.assert_array_equal(clone(est).fit_predict(X), est.fit(X).labels_)
    assert est.components_.shape == (len(est.core_sample_indices_), 2)
    with pytest.raises(ValueError, match="'eps' parameter of DBSCANStar"):
        DBSCANStar(eps=-1.0).fit(X)
    with pytest.raises(ValueError, match="'min_samples' parameter of DBSCANStar"):
        DBSCANStar(min_samples=0).fit(X)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    n=st.integers(2, 200),
    eps=st.sampled_from([0.5, 1.0, 2.0, 4.0]),
    min_samples=st.integers(1, 10),
)
def test_dbscan_star_partition_does_not_depend_on_the_order_of_the_points(seed, n, eps, min_samples):
    # Core points and their connected components do not depend on the order;
    # only DBSCAN's border points do (first cluster visited). DBSCAN* has none.
    rng = np.random.default_rng(seed)
    X = np.round(rng.uniform(0, 20, (n, 2)), 1)  # ties at exactly eps included
    order = rng.permutation(n)
    labels = DBSCANStar(eps=eps, min_samples=min_samples).fit_predict(X)
    permuted = DBSCANStar(eps=eps, min_samples=min_samples).fit_predict(X[order])
    np.testing.assert_array_equal(permuted < 0, labels[order] < 0)
    # The same clusters: one-to-one between the two numberings.
    pairs = np.unique(np.column_stack([labels[order], permuted])[permuted >= 0], axis=0)
    assert len(np.unique(pairs[:, 0])) == len(np.unique(pairs[:, 1])) == len(pairs)


def test_min_samples_grid_counts_cluster_sizes_per_fov():
    # Labels that restart in every FOV must not pool two FOVs' clusters into
    # one twice as large (the grid once reached 10 for clusters of 5).
    from sklearn_miro.clustering import choose_dbscan_parameters

    rng = np.random.default_rng(0)
    fovs, restarting = [], []
    for _ in range(2):
        centres = rng.uniform(0, 1000, (10, 2))
        fovs.append(np.repeat(centres, 5, axis=0) + rng.normal(scale=5, size=(50, 2)))
        restarting.append(np.repeat(np.arange(10), 5))
    unique = [restarting[0], restarting[1] + 10]
    grid_restarting = choose_dbscan_parameters(fovs, fovs, restarting, 50.0, 20.0, "auto")[4]
    grid_unique = choose_dbscan_parameters(fovs, fovs, unique, 50.0, 20.0, "auto")[4]
    np.testing.assert_array_equal(grid_restarting, grid_unique)
    assert grid_unique.max() <= 5



def test_one_search_for_both_border_rules_scores_as_one_search_per_rule():
    # DBSCAN and DBSCAN* are scored on the same DBSCAN runs: the same grids,
    # to the last bit, as a separate search per rule (with or without a
    # shared memo of scored labellings), and the two rules do differ here.
    from sklearn_miro.clustering import choose_dbscan_parameters, choose_dbscan_parameters_rules, tune_dbscan_rules
    from sklearn_miro.metrics import ari_dagger_ji_c_ami

    rng = np.random.default_rng(1)
    X_fovs, labels = [], []
    for _ in range(2):
        centres = rng.uniform(0, 1000, (8, 2))
        spread = rng.uniform(3, 12, (8, 1))
        clustered = np.repeat(centres, 12, axis=0) + rng.normal(size=(96, 2)) * np.repeat(spread, 12, axis=0)
        X_fovs.append(np.vstack([clustered, rng.uniform(0, 1000, (60, 2))]))
        labels.append(np.r_[np.repeat(np.arange(8), 12), np.full(60, -1)])
    collapsed = [X * 0.5 for X in X_fovs]
    args = (X_fovs, collapsed, labels, 80.0, "auto", "auto")
    both = choose_dbscan_parameters_rules(*args, score=ari_dagger_ji_c_ami, core_only_options=(False, True))
    memo = {}
    for core_only, result in zip((False, True), both):
        for shared in (None, memo):
            alone = choose_dbscan_parameters(*args, score=ari_dagger_ji_c_ami, core_only=core_only, memo=shared)
            assert alone[:2] == result[:2]
            for a, b in zip(alone[2:], result[2:]):
                np.testing.assert_array_equal(a, b)
    assert not np.array_equal(both[0][2], both[1][2])
    # The rules are keyword-only booleans: a positional extra_scores list or
    # rule names must not be read as flags.
    for bad in ((), ("cluster", "background"), True, (0, 1)):
        with pytest.raises(ValueError, match="core_only_options must be a non-empty sequence of booleans"):
            choose_dbscan_parameters_rules(*args, core_only_options=bad)
    with pytest.raises(TypeError):
        tune_dbscan_rules(list(zip(X_fovs, collapsed, labels)), [10.0], [3], None, None, None, None, (False,))


def test_search_scores_with_a_prepared_truth_as_with_the_score_function():
    # The search prepares each FOV's ground truth once (metrics.FOVScorer) for
    # the package's two scores; any other score is called as it is. The grids
    # equal those of calling the functions themselves on every labelling.
    from sklearn_miro.clustering import tune_dbscan, tuning_score
    from sklearn_miro.metrics import ari_dagger_ji_c, ari_dagger_ji_c_ami

    rng = np.random.default_rng(3)
    fovs = []
    for _ in range(2):
        centres = rng.uniform(0, 800, (6, 2))
        X = np.vstack([np.repeat(centres, 10, axis=0) + rng.normal(0, 8, (60, 2)),
                       rng.uniform(0, 800, (40, 2))])
        fovs.append((X, X * 0.6, np.r_[np.repeat(np.arange(6), 10), np.full(40, -1)]))
    eps_grid, ms_grid = np.geomspace(2.0, 60.0, 6), np.array([2, 4, 8])
    for score, function in ((ari_dagger_ji_c_ami, ari_dagger_ji_c_ami), (tuning_score, ari_dagger_ji_c)):
        prepared = tune_dbscan(fovs, eps_grid, ms_grid, score=score)
        called = tune_dbscan(fovs, eps_grid, ms_grid, score=lambda X, t, p, f=function: f(X, t, p))
        assert prepared[0] == called[0]
        np.testing.assert_array_equal(prepared[1], called[1])
        assert np.ptp(prepared[1]) > 0.1  # the grid does discriminate


# ------------------------------------------- grid keys at any extent / eps


def _cell_centre(i, eps=1.0):
    side = eps / np.sqrt(2.0) * (1.0 - 1e-9)  # grid_dbscan's cell side
    return (i + 0.5) * side


def test_far_apart_cells_are_never_merged():
    # With one grid over the cloud, cell (2^32, 0) had the key of cell (0, 0)
    # modulo 2^64 once a point set the grid's width to 2^32: the two pairs,
    # 3e9 apart, became one cluster of 4.
    c = _cell_centre
    X = np.array([
        [c(0), c(0)], [c(0) + 0.01, c(0)],
        [c(2**32), c(0)], [c(2**32) + 0.01, c(0)],
        [c(0), c(2**32 - 5)],
    ])
    expected = DBSCAN(eps=1.0, min_samples=3).fit(X)
    labels, core = grid_dbscan(X, 1.0, 3)
    np.testing.assert_array_equal(labels, expected.labels_)
    np.testing.assert_array_equal(core, expected.core_sample_indices_)
    np.testing.assert_array_equal(neighbour_counts(X, 1.0), [2, 2, 2, 2, 1])


@pytest.mark.parametrize("extent", [1e6, 1e9, 1e12, 1e15])
def test_clusters_far_apart_get_sklearns_labels(extent):
    rng = np.random.default_rng(0)
    X = np.vstack([rng.uniform(0, 3, (20, 2)), rng.uniform(0, 3, (20, 2)) + [extent, extent],
                   [[0, extent]], [[extent, 0]]])
    expected = DBSCAN(eps=1.0, min_samples=3).fit(X)
    labels, core = grid_dbscan(X, 1.0, 3)
    np.testing.assert_array_equal(labels, expected.labels_)
    np.testing.assert_array_equal(core, expected.core_sample_indices_)


def test_eps_tiny_for_the_extent_gives_sklearns_labels():
    # extent / eps = 1e19: cell indices beyond int64 (their cast was
    # undefined: "invalid value encountered in cast").
    rng = np.random.default_rng(0)
    X = np.vstack([rng.uniform(0, 1, (30, 2)), [[1e7, 1e7]]])
    X = np.vstack([X, X[:10] + 1e-13])  # 10 pairs of points 1e-13 apart
    eps = 1e-12
    expected = DBSCAN(eps=eps, min_samples=2).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        labels, core = grid_dbscan(X, eps, 2)
        counts = neighbour_counts(X, eps)
    assert labels.max() + 1 == 10
    np.testing.assert_array_equal(labels, expected.labels_)
    np.testing.assert_array_equal(core, expected.core_sample_indices_)
    np.testing.assert_array_equal(counts, np.r_[np.full(10, 2), np.ones(21), np.full(10, 2)])


@pytest.mark.parametrize("kind", ["uniform", "collapsed", "grid"])
@pytest.mark.parametrize("seed", range(4))
def test_grids_per_group_give_the_same_labels_and_counts(kind, seed, monkeypatch):
    # Clouds too wide for one grid are split into groups more than eps apart,
    # each on its own grid: forced here on ordinary clouds.
    monkeypatch.setattr(grid_dbscan_module, "_MAX_GRID_CELLS", 0)
    rng = np.random.default_rng(200 + seed)
    X = _cloud(kind, rng, int(rng.integers(2, 500)))
    eps = float(rng.choice([0.7, 1.0, 2.0, 6.0]))
    min_samples = int(rng.integers(1, 12))
    expected = DBSCAN(eps=eps, min_samples=min_samples).fit(X)
    labels, core = grid_dbscan(X, eps, min_samples, chunk_size=int(rng.choice([7, 2_000_000])))
    np.testing.assert_array_equal(core, expected.core_sample_indices_)
    np.testing.assert_array_equal(labels, expected.labels_)
    np.testing.assert_array_equal(neighbour_counts(X, eps), cKDTree(X).query_ball_point(X, eps, return_length=True))


# ------------------------------------------------------------- border points


def _blob_and_ring(m, k, seed=0):
    """m points inside one grid cell and k points about eps = 1 from them (on both sides)."""
    rng = np.random.default_rng(seed)
    blob = rng.uniform(-0.15, 0.15, (m, 2))
    angle = rng.uniform(0, 2 * np.pi, k)
    radius = rng.uniform(0.95, 1.2, k)
    return np.vstack([blob, np.c_[np.cos(angle), np.sin(angle)] * radius[:, None]])


def test_border_points_of_a_collapsed_cluster_are_not_compared_with_all_its_points(monkeypatch):
    # Every ring point is a border point whose box test against the blob's
    # cell is undecided. Each (point, cell) pair once expanded the whole cell,
    # k * m point pairs at once whatever chunk_size (8,000 + 8,000: 3 GB):
    # now a k-d tree search each.
    m = k = 600
    X = _blob_and_ring(m, k)
    expanded = []
    segments = grid_dbscan_module._segments
    monkeypatch.setattr(grid_dbscan_module, "_segments",
                        lambda start, count: expanded.append(int(count.sum())) or segments(start, count))
    labels, core = grid_dbscan(X, 1.0, m, chunk_size=1000)
    expected = DBSCAN(eps=1.0, min_samples=m).fit(X)
    np.testing.assert_array_equal(labels, expected.labels_)
    np.testing.assert_array_equal(core, expected.core_sample_indices_)
    assert 0 < (labels[m:] == 0).sum() < k  # both sides of the ring's eps are exercised
    # Linear in the points (the cluster links expand each core cell for at
    # most 12 neighbouring cells), not k * m = 360,000.
    assert max(expanded, default=0) <= 12 * len(X)


def test_border_points_compared_pair_by_pair_respect_chunk_size(monkeypatch):
    # Small core cells are compared point by point, chunk_size point pairs
    # (plus at most one cell's) at a time.
    rng = np.random.default_rng(5)
    X = _cloud("uniform", rng, 3000)
    chunk_size = 20
    expanded = []
    segments = grid_dbscan_module._segments
    monkeypatch.setattr(grid_dbscan_module, "_segments",
                        lambda start, count: expanded.append(int(count.sum())) or segments(start, count))
    labels, core = grid_dbscan(X, 3.0, 8, chunk_size=chunk_size)
    expected = DBSCAN(eps=3.0, min_samples=8).fit(X)
    np.testing.assert_array_equal(labels, expected.labels_)
    np.testing.assert_array_equal(core, expected.core_sample_indices_)
    assert len(expanded) > 10
    assert max(expanded) <= chunk_size + grid_dbscan_module._TREE_CELL


@pytest.mark.parametrize("tree_cell", [0, 64, 10**9])
def test_border_points_reaching_several_collapsed_clusters_go_to_the_first(tree_cell, monkeypatch):
    # Border points within eps of two or three collapsed clusters, decided by
    # k-d tree searches (tree_cell=0), pairwise (10**9) or both.
    monkeypatch.setattr(grid_dbscan_module, "_TREE_CELL", tree_cell)
    rng = np.random.default_rng(11)
    centres = np.array([[0.0, 0.0], [1.9, 0.0], [0.95, 1.6], [6.0, 6.0]])
    blobs = np.repeat(centres, 150, axis=0) + rng.normal(0, 0.05, (600, 2))
    between = rng.uniform(-1.0, 3.0, (400, 2))
    X = np.vstack([between[:200], blobs, between[200:]])
    expected = DBSCAN(eps=1.0, min_samples=100).fit(X)
    labels, core = grid_dbscan(X, 1.0, 100, chunk_size=500)
    np.testing.assert_array_equal(core, expected.core_sample_indices_)
    np.testing.assert_array_equal(labels, expected.labels_)


# --------------------------------------------------------- neighbour counts


def _counts_reference(X, eps):
    """The counts neighbour_counts gave before its grid shortcut: a k-d tree's."""
    return cKDTree(X).query_ball_point(X, eps, return_length=True)


def _counting_cloud(kind, rng):
    n = int(rng.integers(1, 1500))
    if kind == "lattice":  # many pairs at exactly eps (1, sqrt(2), 2 ...)
        return np.round(rng.uniform(0, 12, (n, 2)))
    if kind == "quarter lattice":
        return np.round(rng.uniform(-4, 4, (n, 2)) * 4) / 4
    if kind == "duplicates":
        base = np.round(rng.uniform(0, 6, (max(1, n // 10), 2)), 1)
        return base[rng.integers(0, len(base), n)]
    centres = rng.uniform(0, 20, (max(1, n // 200), 2))  # collapsed clusters of ~200
    spread = rng.choice([0.0, 1e-3, 0.05, 0.3, 1.0])
    blobs = centres[rng.integers(0, len(centres), n)] + rng.normal(0, 1, (n, 2)) * spread
    return np.vstack([blobs, np.round(rng.uniform(0, 20, (n // 4, 2)), 1)])


@pytest.mark.parametrize("forced", ["default", "all on the grid, trees", "all on the grid, mixed"])
@pytest.mark.parametrize("kind", ["lattice", "quarter lattice", "duplicates", "collapsed"])
@pytest.mark.parametrize("seed", range(5))
def test_neighbour_counts_equal_a_kd_trees(forced, kind, seed, monkeypatch):
    # The grid shortcut (whole cells counted at once) must not change a single
    # count, ties at exactly eps and duplicates included.
    if forced != "default":
        monkeypatch.setattr(grid_dbscan_module, "_GRID_MASS", -(10**12))
        monkeypatch.setattr(grid_dbscan_module, "_TREE_CELL", 0 if forced.endswith("trees") else 3)
    rng = np.random.default_rng(1000 * seed + len(kind) + len(forced))
    X = _counting_cloud(kind, rng)
    eps = float(rng.choice([0.25, 0.5, 1.0, np.sqrt(2.0), 2.0, 1 / np.sqrt(2.0)]))
    counts = neighbour_counts(X, eps, chunk_size=int(rng.choice([5, 2_000_000])))
    np.testing.assert_array_equal(counts, _counts_reference(X, eps))
    brute = (((X[:, None, :] - X[None, :, :]) ** 2).sum(axis=-1) <= eps * eps).sum(axis=1)
    np.testing.assert_array_equal(counts, brute)
    for min_samples in (2, 30, 200):
        expected = DBSCAN(eps=eps, min_samples=min_samples).fit(X)
        labels, core = grid_dbscan(X, eps, min_samples, neighbour_counts=counts)
        np.testing.assert_array_equal(core, expected.core_sample_indices_)
        np.testing.assert_array_equal(labels, expected.labels_)


def test_cells_cut_next_to_a_collapsed_cluster_are_searched_with_trees(monkeypatch):
    # A collapsed blob ringed by small cells that every blob point's ball
    # cuts: the ring cells are searched with k-d trees, not compared pair by
    # pair (about 60 ns a pair: 3-5 times slower than one k-d tree count).
    compared = []
    brute = grid_dbscan_module._brute_counts
    monkeypatch.setattr(grid_dbscan_module, "_brute_counts",
                        lambda query, *args: compared.append(len(query)) or brute(query, *args))
    searched = []
    count_close = grid_dbscan_module._CellSearch.count_close
    monkeypatch.setattr(grid_dbscan_module._CellSearch, "count_close",
                        lambda self, query, cell: searched.append(len(query)) or count_close(self, query, cell))
    eps = 10.0
    side = eps / np.sqrt(2.0)
    rng = np.random.default_rng(3)
    corner = np.array([side, side]) * 3
    parts = [corner + side / 2 + rng.normal(0, 0.01, (12_000, 2))]
    for dx in (-1, 0, 1):
        for dy in (-1, 0, 1):
            if dx or dy:
                parts.append(corner + np.array([dx, dy]) * side + rng.uniform(0.02, 0.98, (30, 2)) * side)
    X = np.vstack(parts)
    counts = neighbour_counts(X, eps)
    np.testing.assert_array_equal(counts, _counts_reference(X, eps))
    assert counts[:12_000].max() < len(X)  # the ring is cut
    assert sum(searched) >= 12_000 and sum(compared) == 0  # blob on the grid, ring by trees


def test_a_collapsed_cluster_is_counted_without_visiting_its_neighbours(monkeypatch):
    # A k-d tree counts each of m points' m neighbours one by one (80,000
    # points: 2.9 CPU-s); on the grid the cell is counted once.
    monkeypatch.setattr(grid_dbscan_module, "cKDTree", None)  # any tree would fail
    X = np.random.default_rng(0).normal(0, 1e-3, (20_000, 2))
    np.testing.assert_array_equal(neighbour_counts(X, 0.5), np.full(20_000, 20_000))


def test_small_fovs_at_stage_coordinates_cluster_as_the_search_scored_them():
    # FOVs too small for grid_dbscan go to scikit-learn's DBSCAN, whose brute-force
    # distances lose every digit at 1e8 nm; relative to the FOV they do not.
    from sklearn_miro.clustering import cluster_fov

    X = 1e8 + np.array([[4, 4.5], [2, 4], [5.5, 2.5], [3.5, 5], [1, 3.5], [3.5, 5.5], [4, 9]])
    np.testing.assert_array_equal(cluster_fov(DBSCAN(eps=0.1, min_samples=3), X),
                                  grid_dbscan(X, 0.1, 3)[0])
    assert np.all(cluster_fov(DBSCAN(eps=0.1, min_samples=3), X) == -1)
