"""Tests of sklearn_miro.parameters against simulations with known truth."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.cluster import DBSCAN
from sklearn.metrics import adjusted_rand_score

from sklearn_miro.datasets import (
    add_blinking,
    blink_frames,
    make_benchmark_scenario,
    make_gaussian_clusters,
)
from sklearn_miro.parameters import (
    k_distance,
    nena,
    pair_correlation,
    pair_correlation_fit,
    pair_correlation_radius,
    ripley_h,
    ripley_k,
    suggest_eps,
    tiled_excess_neighbours,
)


def _blinked(precision, seed):
    molecules, _, fov = make_gaussian_clusters(
        3, n_clusters=30, n_localizations=20, cluster_std=40, random_state=seed
    )
    X, molecule, fov = add_blinking(
        molecules, np.arange(len(molecules)), fov, localization_precision=precision,
        random_state=seed,
    )
    return X, blink_frames(molecule, n_frames=5000, random_state=seed), fov


@pytest.mark.parametrize("precision, seed", [(8.0, 0), (15.0, 1), (30.0, 2)])
def test_nena_recovers_simulated_precision_within_10_percent(precision, seed):
    X, frames, fov = _blinked(precision, seed)
    result = nena(X, frames, fov)
    assert result.precision == pytest.approx(precision, rel=0.10)
    assert result.n_pairs > 1000


def test_nena_needs_frames():
    X, frames, fov = _blinked(10.0, 0)
    with pytest.raises(ValueError, match="NeNA needs the frame number"):
        nena(X, None)
    with pytest.raises(ValueError, match="frames must have shape"):
        nena(X, frames[:5])
    with pytest.raises(ValueError, match="integer frame numbers"):
        nena(X, frames + 0.5)
    with pytest.raises(ValueError, match="only 0 localisation pairs"):
        nena(X, frames * 2)  # no two localisations in consecutive frames


def test_blink_frames_consecutive():
    molecule = np.array([3, 3, 1, 3, 1, 7])
    frames = blink_frames(molecule, n_frames=10, random_state=0)
    for m in np.unique(molecule):
        f = frames[molecule == m]
        assert np.array_equal(f, f[0] + np.arange(f.size))
        assert 0 <= f.min() and f.max() < 10
    with pytest.raises(ValueError, match="more than n_frames"):
        blink_frames(molecule, n_frames=2)


def _thomas(rng, side, kappa, mean_children, sigma):
    """Thomas process in [0, side]^2: Poisson parents, Gaussian children."""
    pad = 5 * sigma
    n_parents = rng.poisson(kappa * (side + 2 * pad) ** 2)
    parents = rng.uniform(-pad, side + pad, (n_parents, 2))
    children = rng.poisson(mean_children, n_parents)
    X = np.repeat(parents, children, axis=0) + rng.normal(0, sigma, (children.sum(), 2))
    return X[np.all((X >= 0) & (X <= side), axis=1)]


def test_ripley_k_matches_thomas_process():
    rng = np.random.default_rng(0)
    kappa, sigma, side = 2e-6, 30.0, 20000.0
    X = _thomas(rng, side, kappa, 10, sigma)
    radii = np.array([25.0, 50.0, 100.0, 200.0, 400.0])
    K = ripley_k(X, radii, window=(0, side, 0, side))
    truth = np.pi * radii**2 + (1 - np.exp(-(radii**2) / (4 * sigma**2))) / kappa
    np.testing.assert_allclose(K, truth, rtol=0.05)
    H = ripley_h(X, radii, window=(0, side, 0, side))
    np.testing.assert_allclose(H, np.sqrt(truth / np.pi) - radii, rtol=0.05)


def test_ripley_h_zero_for_random_points_and_edge_correction():
    rng = np.random.default_rng(1)
    X = rng.uniform(0, 10000, (5000, 2))
    radii = np.array([100.0, 200.0, 500.0])
    H = ripley_h(X, radii, window=(0, 1e4, 0, 1e4))
    assert np.all(np.abs(H) < 0.02 * radii)
    # Without correction the neighbours outside the window are missed.
    H_none = ripley_h(X, radii, window=(0, 1e4, 0, 1e4), edge_correction="none")
    assert np.all(H_none < H)
    assert H_none[-1] < H[-1] - 0.015 * radii[-1]
    # order of the radii does not matter
    np.testing.assert_allclose(ripley_h(X, radii[::-1], window=(0, 1e4, 0, 1e4)), H[::-1])
    with pytest.raises(ValueError, match="outside window"):
        ripley_k(X, radii, window=(0, 10, 0, 10))
    with pytest.raises(ValueError, match="radii must be"):
        ripley_k(X, [-1.0])


def test_k_distance_per_fov():
    X = np.array([[0, 0], [1, 0], [3, 0], [0, 0], [10, 0], [30, 0.0]])
    d = k_distance(X, k=1, groups=[0, 0, 0, 1, 1, 1])
    np.testing.assert_allclose(d, [1, 1, 2, 10, 10, 20])


def test_suggest_eps_on_simulated_benchmark():
    scores = {"csr": [], "knee": []}
    for scenario in (2, 5, 8):
        X, labels, _ = make_benchmark_scenario(scenario, random_state=0)
        for method in scores:
            result = suggest_eps(X, 5, method=method)
            assert result.k == 4
            pred = DBSCAN(eps=result.eps, min_samples=5).fit_predict(X)
            scores[method].append(adjusted_rand_score(labels, pred))
    # The CSR rule gives usable clusterings; the knee is documented to fail
    # with uniform background: both measured here.
    assert np.mean(scores["csr"]) > 0.5
    assert np.mean(scores["csr"]) > np.mean(scores["knee"])
    with pytest.raises(ValueError, match="method must be"):
        suggest_eps(X, 5, method="elbow")


def test_knee_on_curve_with_little_background():
    rng = np.random.default_rng(2)
    X, labels, _ = make_gaussian_clusters(
        1, n_clusters=40, n_localizations=30, cluster_std=15, n_background=20,
        fov_size=5000, min_center_distance=300, random_state=rng,
    )
    result = suggest_eps(X, 5, method="knee")
    pred = DBSCAN(eps=result.eps, min_samples=5).fit_predict(X)
    assert adjusted_rand_score(labels, pred) > 0.9


# --- pair correlation -------------------------------------------------------


def _median_rms_radius(X, y):
    clustered = y >= 0
    _, codes = np.unique(y[clustered], return_inverse=True)
    counts = np.bincount(codes)
    centres = np.stack([np.bincount(codes, X[clustered, d]) / counts for d in range(2)], axis=1)
    squared = ((X[clustered] - centres[codes]) ** 2).sum(axis=1)
    return float(np.median(np.sqrt(np.bincount(codes, squared) / counts)))


def test_pair_correlation_of_uniform_points_is_one():
    # The exact edge correction of the bounding box: no bias towards the edge.
    X = np.random.default_rng(0).uniform(0, [4000, 1500], (20_000, 2))
    g, pairs, expected = pair_correlation(X, np.linspace(20, 1400, 24))
    assert pairs.sum() > 1e6
    np.testing.assert_allclose(g, 1.0, atol=0.03)
    np.testing.assert_allclose(g, pairs / expected)


def test_pair_correlation_rejects_rings_beyond_the_fov():
    X = np.random.default_rng(0).uniform(0, [4000, 1500], (500, 2))
    with pytest.raises(ValueError, match="shorter side of the FOV's bounding box"):
        pair_correlation(X, [10.0, 2000.0])
    with pytest.raises(ValueError, match="increasing"):
        pair_correlation(X, [10.0, 5.0])
    with pytest.raises(ValueError, match="finite"):
        pair_correlation(X, [1.0, np.nan, 3.0])


@pytest.mark.parametrize("blinking", [False, True], ids=["no blinking", "blinking"])
@pytest.mark.parametrize("cluster_std", [10.0, 30.0])
def test_pair_correlation_radius_finds_the_cluster_radius(cluster_std, blinking):
    # Blinking adds a narrow term (repeated localisations of one molecule)
    # that must not be taken for the clusters.
    blinks = dict(mean_blinks=4.0, localization_precision=(12.0, 4.0)) if blinking else False
    X, y, _ = make_gaussian_clusters(1, n_clusters=30, cluster_std=cluster_std, n_localizations=20,
                                     fov_size=3000.0, blinking=blinks, random_state=0)
    truth = _median_rms_radius(X, y)
    assert pair_correlation_radius(X) == pytest.approx(truth, rel=0.2)


@pytest.mark.parametrize("n", [20, 100, 5000])
def test_pair_correlation_radius_is_nan_without_clusters(n):
    # Small FOVs too: a few chance pairs at short range are not clustering.
    for seed in range(5):
        X = np.random.default_rng(seed).uniform(0, 1000, (n, 2))
        assert np.isnan(pair_correlation_radius(X))


@pytest.mark.parametrize("n_localizations", [15, 60])
def test_pair_correlation_fit_counts_the_extra_neighbours(n_localizations):
    # About (cluster size - 1) x the clustered fraction: what the fortieth
    # session's zero-shot min_samples probe builds on.
    X, y, _ = make_gaussian_clusters(1, n_clusters=20, cluster_std=30.0, n_localizations=n_localizations,
                                     fov_size=3000.0, random_state=0)
    expected = (n_localizations - 1) * np.mean(y >= 0)
    assert pair_correlation_fit(X).excess_neighbours == pytest.approx(expected, rel=0.2)
    uniform = np.random.default_rng(0).uniform(0, 3000.0, size=(1500, 2))
    assert pair_correlation_fit(uniform).excess_neighbours == 0.0


@pytest.mark.parametrize("n_localizations", [15, 60])
def test_tiled_excess_neighbours_counts_like_the_pair_correlation(n_localizations):
    X, y, _ = make_gaussian_clusters(1, n_clusters=20, cluster_std=30.0, n_localizations=n_localizations,
                                     fov_size=3000.0, random_state=0)
    expected = (n_localizations - 1) * np.mean(y >= 0)
    assert tiled_excess_neighbours(X, pair_correlation_fit(X).radius) == pytest.approx(expected, rel=0.3)
    uniform = np.random.default_rng(0).uniform(0, 3000.0, size=(1500, 2))
    assert abs(tiled_excess_neighbours(uniform, 40.0)) < 1.0


def _small_clusters_and_a_blob(blob_size):
    X, _, _ = make_gaussian_clusters(1, n_clusters=100, cluster_std=25.0, n_localizations=10,
                                     fov_size=6000.0, random_state=1)
    blob = np.random.default_rng(2).normal([1500.0, 1500.0], 40.0, (blob_size, 2))
    return X, np.vstack([X, blob])


def test_tiled_excess_neighbours_is_not_set_by_one_blob():
    # The real FGFR1 FOV that made the pair count unusable for min_samples: one
    # blob of a quarter of the localisations among a hundred clusters of ten.
    # Its pairs outnumber all the others, so the pair count rises thirtyfold;
    # the tiled count stays where the small clusters put it.
    small, with_blob = _small_clusters_and_a_blob(600)
    pair_small, pair_blob = pair_correlation_fit(small), pair_correlation_fit(with_blob)
    assert pair_blob.excess_neighbours > 10 * pair_small.excess_neighbours
    typical = tiled_excess_neighbours(small, pair_small.radius)
    assert 2.0 < typical < 10.0
    assert tiled_excess_neighbours(with_blob, pair_blob.radius) == pytest.approx(typical, rel=0.5)


def test_tiled_excess_neighbours_subsamples_large_fovs():
    _, X = _small_clusters_and_a_blob(600)
    radius = pair_correlation_fit(X).radius
    full = tiled_excess_neighbours(X, radius)
    assert tiled_excess_neighbours(X, radius, max_points=1500) == pytest.approx(full, rel=0.25)
    assert tiled_excess_neighbours(X, radius, max_points=1500, random_state=3) != \
        tiled_excess_neighbours(X, radius, max_points=1500, random_state=4)


@settings(max_examples=10, deadline=None)
@given(scale=st.floats(0.01, 100.0), shift=st.floats(-1e6, 1e6), seed=st.integers(0, 2**31 - 1))
def test_tiled_excess_neighbours_follows_units_order_and_translation(scale, shift, seed):
    X, _, _ = make_gaussian_clusters(1, n_clusters=20, cluster_std=25.0, n_localizations=15,
                                     fov_size=2000.0, random_state=0)
    order = np.random.default_rng(seed).permutation(len(X))
    reference = tiled_excess_neighbours(X, 40.0)
    moved = X[order] * scale + shift
    assert tiled_excess_neighbours(moved, 40.0 * scale) == pytest.approx(reference, rel=1e-6, abs=1e-6)


@pytest.mark.parametrize("radius", [0.0, -3.0, float("nan"), "40"])
def test_tiled_excess_neighbours_rejects_a_bad_radius(radius):
    X = np.random.default_rng(0).uniform(0, 1000.0, (50, 2))
    with pytest.raises(ValueError, match="radius must be"):
        tiled_excess_neighbours(X, radius)


@pytest.mark.parametrize("option, value, message", [
    ("max_points", 0, "max_points must be > 0"),
    ("max_points", 1.5, "max_points must be an integer"),
    ("random_state", -1, "random_state must be a non-negative int"),
    ("random_state", "seed", "random_state must be None"),
    ("tile_radii", -1.0, "tile_radii must be > 0"),
])
def test_tiled_excess_neighbours_rejects_bad_options(option, value, message):
    X = np.random.default_rng(0).uniform(0, 1000.0, (50, 2))
    with pytest.raises(ValueError, match=message):
        tiled_excess_neighbours(X, 20.0, **{option: value})


def test_tiled_excess_neighbours_on_degenerate_fovs():
    # No area, no density: 0 (no clustering to size anything on).
    assert tiled_excess_neighbours(np.zeros((5, 2)), 10.0) == 0.0
    assert tiled_excess_neighbours(np.c_[np.arange(10.0), np.zeros(10)], 10.0) == 0.0
    assert tiled_excess_neighbours(np.array([[1.0, 2.0]]), 10.0) == 0.0
    # A radius tiny against the FOV: one tile per localisation at most, not one per
    # empty tile (10^16 of them here), and no clustering seen.
    X = np.random.default_rng(0).uniform(0, 1e6, (2000, 2))
    assert abs(tiled_excess_neighbours(X, 1e-3)) < 1e-6


def test_tiled_excess_neighbours_leaves_its_input_alone():
    X = np.random.default_rng(0).uniform(0, 1000.0, (200, 2))
    before = X.copy()
    tiled_excess_neighbours(X, 20.0)
    assert np.array_equal(X, before)


@settings(max_examples=10, deadline=None)
@given(scale=st.floats(0.01, 100.0), shift=st.floats(-1e6, 1e6))
def test_pair_correlation_radius_follows_units_and_translation(scale, shift):
    X, _, _ = make_gaussian_clusters(1, n_clusters=20, cluster_std=25.0, n_localizations=15,
                                     fov_size=2000.0, random_state=3)
    reference = pair_correlation_radius(X)
    assert pair_correlation_radius(X * scale + shift) == pytest.approx(reference * scale, rel=1e-4)


def test_csr_eps_keeps_one_slot_per_fov():
    X, _, fov = make_gaussian_clusters(n_fovs=2, n_clusters=3, n_localizations=10, random_state=0)
    X = np.vstack([X, [[0.0, 0.0], [5.0, 5.0]]])
    groups = np.concatenate([np.where(fov == 0, "a", "b"), ["c", "c"]])
    result = suggest_eps(X, 5, groups)
    assert result.eps_per_fov.shape == (3,) and np.isnan(result.eps_per_fov[2])
    alone = [suggest_eps(X[groups == g], 5).eps for g in ("a", "b")]
    np.testing.assert_allclose(result.eps_per_fov[:2], alone)
    assert result.eps == pytest.approx(np.median(alone))


def test_subsampled_estimates_do_not_depend_on_the_row_order():
    # Above max_points the estimates subsample; by row index the subsample (and
    # with it the zero-shot radius, eps and collapse) changed with the rows' order.
    from sklearn_miro.datasets import make_gaussian_clusters
    from sklearn_miro.parameters import tiled_excess_neighbours

    X, _, _ = make_gaussian_clusters(1, n_clusters=30, n_localizations=40, random_state=0)
    shuffled = X[np.random.default_rng(1).permutation(len(X))]
    assert len(X) > 600
    a, b = pair_correlation_fit(X, max_points=600), pair_correlation_fit(shuffled, max_points=600)
    assert a.radius == b.radius and a.repeat_neighbours == b.repeat_neighbours
    assert tiled_excess_neighbours(X, 30.0, max_points=600) == tiled_excess_neighbours(shuffled, 30.0,
                                                                                      max_points=600)
