"""Bounded-memory DBSCAN: the same core points and labels as scikit-learn's."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
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
