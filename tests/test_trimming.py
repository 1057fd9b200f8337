"""Trimming clusters to a Mahalanobis radius: the function and MIROClusterer(outlier_radius=...)."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.frozen import FrozenEstimator

from sklearn_miro import MIROClusterer, MIROTransformer
from sklearn_miro.clustering import AUTO_OUTLIER_RADII, cluster_mahalanobis, trim_clusters
from sklearn_miro.datasets import make_gaussian_clusters
from sklearn_miro.diagnostics import MoveNothingWarning
from sklearn_miro.domain import UnitMismatchWarning

from _transformers import MovesNothing, fitted_as


def _clusters(seed, n_clusters=4, size=30):
    """Elongated Gaussian clusters (random axes and orientation) and a little background."""
    rng = np.random.default_rng(seed)
    X, y = [], []
    for k in range(n_clusters):
        axes = rng.uniform(5, 40, 2)
        theta = rng.uniform(0, np.pi)
        rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
        X.append(rng.uniform(0, 2000, 2) + (rng.normal(size=(size, 2)) * axes) @ rot.T)
        y.append(np.full(size, k))
    X.append(rng.uniform(0, 2000, (20, 2)))
    y.append(np.full(20, -1))
    return np.concatenate(X), np.concatenate(y)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), angle=st.floats(0, 2 * np.pi), scale=st.floats(1e-3, 1e3),
       shift=st.floats(-1e5, 1e5))
def test_mahalanobis_distance_ignores_translation_rotation_and_units(seed, angle, scale, shift):
    X, y = _clusters(seed)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    moved = scale * X @ rot.T + shift
    before, after = cluster_mahalanobis(X, y), cluster_mahalanobis(moved, y)
    np.testing.assert_array_equal(np.isnan(before), y < 0)
    np.testing.assert_allclose(after, before, rtol=1e-6, atol=1e-6)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), size=st.integers(2, 40), radius=st.floats(1.5, 5.0))
def test_trimming_never_empties_a_cluster_and_spares_small_ones(seed, size, radius):
    X, y = _clusters(seed, size=size)
    trimmed = trim_clusters(X, y, radius)
    # Only clustered localisations can leave; every cluster keeps some.
    assert np.all(trimmed[y < 0] == -1)
    assert set(np.unique(trimmed[trimmed >= 0])) == set(np.unique(y[y >= 0]))
    kept = trimmed >= 0
    np.testing.assert_array_equal(trimmed[kept], y[kept])
    # No localisation of a cluster of n can be farther than sqrt(n - 1) (its leverage is at most 1).
    if np.sqrt(size - 1) < radius - 1e-6:  # a margin for rounding at the bound
        np.testing.assert_array_equal(trimmed, y)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_trimming_is_the_same_whatever_the_cluster_ids(seed):
    X, y = _clusters(seed)
    perm = np.random.default_rng(seed).permutation(y.max() + 1)
    relabelled = np.where(y >= 0, perm[np.maximum(y, 0)] + 7, -1)
    order = np.random.default_rng(seed + 1).permutation(len(y))
    a = trim_clusters(X, y, 2.5) >= 0
    b = trim_clusters(X[order], relabelled[order], 2.5) >= 0
    np.testing.assert_array_equal(b, a[order])


def test_trimming_lets_a_stray_beside_an_elongated_cluster_go_and_keeps_its_ends():
    rng = np.random.default_rng(0)
    # An ellipse 10 times longer than wide, along x; its ends reach 3 sd.
    ellipse = rng.normal(size=(200, 2)) * [50.0, 5.0]
    ends = np.array([[150.0, 0.0], [-150.0, 0.0]])
    stray = np.array([[0.0, 30.0]])  # 30 nm to the side: inside the ellipse's length, 6 sd off its width
    X = np.concatenate([ellipse, ends, stray])
    y = np.zeros(len(X), dtype=int)
    d = cluster_mahalanobis(X, y)
    assert d[-1] > 5.0 and np.all(d[200:202] < 3.5)
    trimmed = trim_clusters(X, y, 3.5)
    assert trimmed[-1] == -1 and np.all(trimmed[200:202] == 0)


def test_trimming_leaves_singular_clusters_and_its_input_alone():
    X = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0], [30.0, 0.0], [5.0, 5.0]])
    y = np.array([0, 0, 0, 0, -1])  # a cluster on a line has no second axis
    before = y.copy()
    assert np.all(np.isnan(cluster_mahalanobis(X, y)))
    np.testing.assert_array_equal(trim_clusters(X, y, 1.5), y)
    np.testing.assert_array_equal(y, before)
    out = trim_clusters(X, y, None)
    assert out is not y
    np.testing.assert_array_equal(out, y)
    assert np.all(np.isnan(cluster_mahalanobis(X, np.full(5, -1))))


# --------------------------------------------------------------- estimator


@pytest.fixture(scope="module")
def fitted():
    X, y, fov = make_gaussian_clusters(n_fovs=2, n_clusters=3, n_localizations=15, fov_size=500, random_state=0)
    with warnings.catch_warnings():
        # A two-step network trained on 4 crops moves little; the tests that need a network
        # that moves nothing replace its transform anyway.
        warnings.simplefilter("ignore", MoveNothingWarning)
        return MIROTransformer(hidden_size=8, n_steps=2, n_augmented=4, max_epochs=1, batch_size=2,
                               validation_fraction=0.0, verbose=0, random_state=0).fit(X, y, groups=fov)


def _unmoved(fitted):
    return FrozenEstimator(fitted_as(MovesNothing, fitted))


def _absorbing_fovs():
    """Elongated clusters, each with a background localisation beside it that DBSCAN absorbs.

    Each cluster is a dense row of 40 localisations 100 nm long (spacing
    2.5 nm, 0.5 nm of scatter across); the stray sits 4 nm to its side, so
    DBSCAN with eps = 5 nm takes it in. Its Mahalanobis distance is about 5
    (the row's spread across is 0.8 nm with the stray in it); the row's
    ends are at 1.7.
    """
    rng = np.random.default_rng(1)
    X, y, fov, stray = [], [], [], []
    for f in range(2):
        for k, c in enumerate(rng.uniform(200, 1800, (4, 2))):
            row = np.column_stack([np.linspace(-50, 50, 40), rng.normal(0, 0.5, 40)])
            X += [c + row, c + [[0.0, 4.0]]]
            y += [np.full(40, k), [-1]]
            stray += [np.zeros(40, bool), [True]]
        X.append(rng.uniform(0, 2000, (40, 2)))
        y.append(np.full(40, -1))
        stray.append(np.zeros(40, bool))
        fov += [f] * (4 * 41 + 40)
    return np.concatenate(X), np.concatenate(y), np.array(fov), np.concatenate(stray)


def _fit(transformer, X, y, fov, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnitMismatchWarning)  # far denser than the training data
        return MIROClusterer(transformer, collapse_passes=1, eps=5.0, min_samples=3, **params).fit(X, y, groups=fov)


def test_auto_outlier_radius_lets_absorbed_strays_go(fitted):
    X, y, fov, stray = _absorbing_fovs()
    plain = _fit(_unmoved(fitted), X, y, fov, border_points="cluster", outlier_radius=None)
    assert np.all(plain.labels_[stray] >= 0) and np.all(plain.labels_[y >= 0] >= 0)
    assert plain.outlier_radius_ is None and plain.outlier_radius_scores_ is None
    auto = _fit(_unmoved(fitted), X, y, fov, border_points="cluster")
    scores = auto.outlier_radius_scores_
    assert set(scores) == set(AUTO_OUTLIER_RADII)
    assert auto.outlier_radius_ is not None and scores[auto.outlier_radius_] > scores[None]
    np.testing.assert_array_equal(auto.labels_ >= 0, y >= 0)  # strays out, every member kept
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnitMismatchWarning)
        np.testing.assert_array_equal(auto.predict(X, groups=fov), auto.labels_)
    # The same labels as a fit given that radius, which scores nothing.
    given_radius = _fit(_unmoved(fitted), X, y, fov, border_points="cluster", outlier_radius=auto.outlier_radius_)
    np.testing.assert_array_equal(given_radius.labels_, auto.labels_)
    assert given_radius.outlier_radius_scores_ is None


def test_auto_outlier_radius_keeps_every_localisation_on_a_tie(fitted):
    # Round clusters with nothing beside them: no radius changes the score.
    X, y, fov = make_gaussian_clusters(n_fovs=2, n_clusters=3, n_localizations=8, fov_size=500, random_state=3)
    clu = _fit(FrozenEstimator(fitted), X, y, fov)
    scores = clu.outlier_radius_scores_
    if all(scores[r] == scores[None] for r in scores):
        assert clu.outlier_radius_ is None
    assert scores[clu.outlier_radius_] == max(scores.values())


def test_outlier_radius_without_labels_or_with_another_clusterer_is_off(fitted):
    from sklearn.cluster import AgglomerativeClustering

    X, y, fov, _ = _absorbing_fovs()
    unlabelled = _fit(_unmoved(fitted), X, None, fov)
    assert unlabelled.outlier_radius_ is None and unlabelled.outlier_radius_scores_ is None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnitMismatchWarning)
        other = MIROClusterer(_unmoved(fitted), clusterer=AgglomerativeClustering(n_clusters=5)).fit(
            X, y, groups=fov)
    assert other.outlier_radius_ is None and np.all(other.labels_ >= 0)


def test_clusterers_pickled_before_outlier_radius_do_not_trim(fitted):
    X, y, fov, stray = _absorbing_fovs()
    clu = _fit(_unmoved(fitted), X, y, fov, border_points="cluster", outlier_radius=None)
    state = dict(clu.__getstate__())
    for name in ("outlier_radius", "outlier_radius_", "outlier_radius_scores_"):
        state.pop(name)
    old = MIROClusterer.__new__(MIROClusterer)
    old.__setstate__(state)
    assert old.outlier_radius is None and old.outlier_radius_ is None and old.outlier_radius_scores_ is None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnitMismatchWarning)
        np.testing.assert_array_equal(old.predict(X, groups=fov), clu.labels_)


@pytest.mark.parametrize("bad", [0.0, -1.0, "tight"])
def test_bad_outlier_radius_is_rejected(fitted, bad):
    X, y, fov, _ = _absorbing_fovs()
    with pytest.raises(ValueError, match="'outlier_radius' parameter of MIROClusterer"):
        _fit(_unmoved(fitted), X, y, fov, outlier_radius=bad)
