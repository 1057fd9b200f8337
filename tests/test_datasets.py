"""Tests of sklearn_miro.datasets: recipes of the paper and invariants."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import least_squares

from sklearn_miro.datasets import (
    SHAPES,
    add_blinking,
    make_benchmark_scenario,
    make_c_shapes,
    make_cluster_pairs,
    make_ellipses,
    make_gaussian_clusters,
    make_multiscale_rings,
    make_multishape,
    make_npc,
    make_rings,
)


def fit_circle(points):
    """Geometric least-squares circle fit, started from the algebraic (Kasa) fit."""
    A = np.column_stack((2 * points, np.ones(len(points))))
    (a, b, c), *_ = np.linalg.lstsq(A, (points**2).sum(axis=1), rcond=None)
    start = np.array([a, b, np.sqrt(c + a * a + b * b)])
    fit = least_squares(lambda p: np.hypot(*(points - p[:2]).T) - p[2], start)
    return fit.x[:2], fit.x[2]


def clusters_per_fov(y, fov):
    return np.array([np.unique(y[(fov == f) & (y >= 0)]).size for f in np.unique(fov)])


def check_labels(y):
    """Labels are -1 or exactly 0..k-1 (no gaps); returns k."""
    clustered = np.unique(y[y >= 0])
    assert set(np.unique(y)) <= {-1} | set(clustered.tolist())
    np.testing.assert_array_equal(clustered, np.arange(clustered.size))
    return clustered.size


# --------------------------------------------------------------------------- #
# Acceptance signatures
# --------------------------------------------------------------------------- #
def test_acceptance_signatures():
    X, y, fov = make_rings(n_fovs=3, random_state=0)
    assert X.shape == (y.shape[0], 2) and X.dtype == np.float64
    assert set(np.unique(fov)) == {0, 1, 2}
    X, y_scales, fov = make_npc(n_fovs=2, random_state=0)
    assert y_scales.shape == (X.shape[0], 2)
    X, y, fov, shape = make_multishape(("spot", "ellipse"), n_fovs=2, random_state=0)
    assert set(np.unique(shape)) == {"spot", "ellipse", "background"}


# --------------------------------------------------------------------------- #
# Statistics against the paper's recipes
# --------------------------------------------------------------------------- #
def test_rings_follow_the_paper_recipe():
    X, y, fov = make_rings(n_fovs=2, random_state=1)
    counts = clusters_per_fov(y, fov)
    assert np.all((counts >= 60) & (counts <= 70))
    sizes = np.bincount(y[y >= 0])
    assert sizes.min() >= 60 and sizes.max() <= 80
    assert abs(sizes.mean() - 70) < 2.5
    for f in range(2):
        assert abs(np.mean(y[fov == f] == -1) - 0.07) < 0.001
    radii, spreads = [], []
    for k in range(0, y.max() + 1, 3):
        points = X[y == k]
        center, radius = fit_circle(points)
        radii.append(radius)
        spreads.append(np.hypot(*(points - center).T).std())
    assert abs(np.mean(radii) - 250) < 8
    assert abs(np.mean(spreads) - 50) < 5


def test_c_shapes_follow_the_paper_recipe():
    X, y, fov = make_c_shapes(n_fovs=2, random_state=2)
    counts = clusters_per_fov(y, fov)
    assert np.all((counts >= 30) & (counts <= 60))
    sizes = np.bincount(y[y >= 0])
    assert sizes.min() >= 30 and sizes.max() <= 60
    assert abs(sizes.mean() - 45) < 3
    for f in range(2):
        assert abs(np.mean(y[fov == f] == -1) - 0.06) < 0.001
    radii, gaps = [], []
    for k in range(y.max() + 1):
        points = X[y == k]
        center, radius = fit_circle(points)
        radii.append(radius)
        # A semicircle leaves an empty arc of about pi around its fitted centre.
        angles = np.sort(np.arctan2(*(points - center).T[::-1]))
        gaps.append(np.max(np.diff(np.r_[angles, angles[0] + 2 * np.pi])))
    assert abs(np.median(radii) - 250) < 10
    assert np.median(gaps) > 0.8 * np.pi


def test_npc_follows_the_paper_recipe():
    X, y_scales, fov = make_npc(n_fovs=20, random_state=3)
    corners, rings = y_scales[:, 0], y_scales[:, 1]
    # Background is -1 at both scales, and only there.
    np.testing.assert_array_equal(corners == -1, rings == -1)
    for f in range(20):
        assert abs(np.mean(corners[fov == f] == -1) - 0.03) < 0.003
    n_structures = clusters_per_fov(rings, fov)
    assert np.all((n_structures >= 5) & (n_structures <= 9))
    # Every corner lies in one ring; at most 8 corners per ring.
    ring_of_corner = {}
    for c, r in zip(corners[corners >= 0], rings[corners >= 0]):
        assert ring_of_corner.setdefault(c, r) == r
    assert np.bincount(list(ring_of_corner.values())).max() <= 8
    sizes = np.bincount(corners[corners >= 0])
    assert sizes.max() <= 80
    assert abs(sizes.mean() - 40.5) < 3  # uniform 0..80, empty corners vanish
    # Corner centres sit about r = 50 nm from the ring centre.
    distances = []
    for r in np.unique(rings[rings >= 0]):
        in_ring = rings == r
        center = X[in_ring].mean(axis=0)
        for c in np.unique(corners[in_ring]):
            distances.append(np.hypot(*(X[corners == c].mean(axis=0) - center)))
    assert 45 < np.median(distances) < 62


def test_multiscale_rings_follow_the_paper_recipe():
    X, y_scales, fov = make_multiscale_rings(n_fovs=2, random_state=4)
    spots, rings = y_scales[:, 0], y_scales[:, 1]
    n_rings = clusters_per_fov(rings, fov)
    assert np.all((n_rings >= 40) & (n_rings <= 60))
    spots_per_ring = np.array([np.unique(spots[rings == r]).size for r in range(rings.max() + 1)])
    assert spots_per_ring.min() >= 5 and spots_per_ring.max() <= 9
    sizes = np.bincount(spots[spots >= 0])
    assert sizes.min() >= 6 and sizes.max() <= 30
    assert abs(np.mean(rings == -1) - 0.015) < 0.002
    # Spot spread: pooled within-spot standard deviation per axis ~ 15 nm.
    centers = np.array([X[spots == s].mean(axis=0) for s in range(spots.max() + 1)])
    residuals = X[spots >= 0] - centers[spots[spots >= 0]]
    dof = 2 * (np.sum(spots >= 0) - (spots.max() + 1))
    assert abs(np.sqrt(np.sum(residuals**2) / dof) - 15) < 1.0


@pytest.mark.parametrize(
    "scenario, sizes, background",
    [(2, {15: 20}, 300), (3, {15: 20}, 1200), (4, {5: 20}, 300), (5, {15: 100}, 1500),
     (6, {50: 20}, 1000), (8, {5: 10, 15: 10}, 200), (9, {15: 10, 135: 10}, 1500)],
)  # fmt: skip
def test_benchmark_scenarios_have_the_paper_counts(scenario, sizes, background):
    X, y, fov = make_benchmark_scenario(scenario, n_fovs=2, random_state=5)
    for f in range(2):
        in_fov = fov == f
        cluster_sizes = np.bincount(y[in_fov & (y >= 0)])
        cluster_sizes = cluster_sizes[cluster_sizes > 0]
        assert dict(zip(*np.unique(cluster_sizes, return_counts=True))) == sizes
        assert np.sum(y[in_fov] == -1) == background


def test_benchmark_cluster_widths():
    # Scenario 5: isotropic, 25 nm per axis (pooled, unbiased).
    X, y, _ = make_benchmark_scenario(5, n_fovs=2, random_state=6)
    centers = np.array([X[y == k].mean(axis=0) for k in range(y.max() + 1)])
    residuals = X[y >= 0] - centers[y[y >= 0]]
    assert abs(np.sqrt(np.sum(residuals**2) / (2 * (np.sum(y >= 0) - len(centers)))) - 25) < 1
    # Scenario 6: elongated, about 77 x 14 nm.
    X, y, _ = make_ellipses(n_fovs=3, random_state=6)
    major, minor = [], []
    for k in range(y.max() + 1):
        eigenvalues = np.linalg.eigvalsh(np.cov(X[y == k].T))
        minor.append(np.sqrt(eigenvalues[0]))
        major.append(np.sqrt(eigenvalues[1]))
    assert abs(np.median(major) - 77) < 6 and abs(np.median(minor) - 14) < 2


def test_scenario_10_background_rises_to_the_right():
    X, y, _ = make_benchmark_scenario(10, n_fovs=5, random_state=7)
    x_background = X[y == -1, 0]
    # Density proportional to x: mean at 2/3 of the FOV; uniform would be 1/2.
    assert abs(x_background.mean() / 2000 - 2 / 3) < 0.03
    X, y, _ = make_benchmark_scenario(2, n_fovs=5, random_state=7)
    assert abs(X[y == -1, 0].mean() / 2000 - 0.5) < 0.03


def test_blinking_statistics():
    rng = np.random.default_rng(8)
    molecules = rng.uniform(0, 1e6, size=(20000, 2))
    X, molecule = add_blinking(
        molecules, np.arange(20000), localization_precision=10.0, random_state=8
    )
    counts = np.bincount(molecule, minlength=20000)
    assert abs(counts.mean() - 4.0) < 0.1
    assert abs(np.mean(counts == 0) - 0.2) < 0.015  # geometric on {0, 1, ...}
    np.testing.assert_allclose((X - molecules[molecule]).std(), 10.0, rtol=0.03)
    # Default precision: gamma-distributed sigma, rms sqrt(13.5^2 + 4^2).
    X, molecule = add_blinking(molecules, np.arange(20000), random_state=9)
    np.testing.assert_allclose((X - molecules[molecule]).std(), np.hypot(13.5, 4.0), rtol=0.03)


def test_blinking_simulation_matches_benchmark_sizes():
    X, y, fov = make_benchmark_scenario(5, blinking=True, n_fovs=3, random_state=10)
    per_fov = np.bincount(fov)
    # ~3000 molecules x 4 localisations, minus the ones cropped at the edges
    # (the benchmark's blinking FOVs hold ~11,700 localisations).
    assert np.all((per_fov > 11000) & (per_fov < 12500))
    assert np.all((X >= 0) & (X <= 2000))
    assert abs(np.mean(y == -1) - 0.5) < 0.03


def test_cluster_pairs_distance_and_sizes():
    X, y, fov, pair = make_cluster_pairs(
        n_fovs=3, distance=4.0, n_pairs=10, return_pairs=True, random_state=11
    )
    assert y.max() + 1 == 60 and pair.max() + 1 == 30
    centers = np.array([X[y == k].mean(axis=0) for k in range(60)])
    # Clusters 2k and 2k + 1 form pair k, 4 sigma = 100 nm apart.
    np.testing.assert_array_equal(pair[y >= 0], y[y >= 0] // 2)
    distances = np.hypot(*(centers[0::2] - centers[1::2]).T)
    assert abs(np.median(distances) - 100) < 15
    sizes = np.bincount(y)
    assert sizes.min() >= 1 and 60 < sizes.mean() < 125  # geometric, mean 90


def test_margin_keeps_clusters_inside_and_default_spills():
    X, y, _ = make_rings(n_fovs=1, n_clusters=60, margin=310.0, random_state=12)
    assert np.all((X[y >= 0] > 0) & (X[y >= 0] < 6400))
    X, y, _ = make_rings(n_fovs=1, n_clusters=60, random_state=12)
    assert np.any((X[y >= 0] < 0) | (X[y >= 0] > 6400))
    assert np.all((X[y == -1] >= 0) & (X[y == -1] <= 6400))


def test_min_center_distance_is_respected():
    X, y, _ = make_rings(
        n_fovs=1, n_clusters=30, min_center_distance=700.0, radial_std=1e-9, random_state=13
    )
    centers = np.array([fit_circle(X[y == k])[0] for k in range(30)])
    d = np.hypot(*(centers[:, None] - centers[None]).transpose(2, 0, 1))
    assert d[np.triu_indices(30, 1)].min() >= 699


def test_tiny_configuration_is_cheap_and_exact():
    X, y, fov = make_gaussian_clusters(
        2, n_clusters=3, n_localizations=4, n_background=5, fov_size=300.0, random_state=0
    )
    assert X.shape == (2 * (3 * 4 + 5), 2)
    assert y.max() == 5 and np.sum(y == -1) == 10


def test_populations_and_callable_counts():
    X, y, _ = make_gaussian_clusters(
        1,
        populations=[{"n_clusters": 2, "n_localizations": 3}, {"n_clusters": 4, "n_localizations": 7}],
        n_background=0,
        random_state=0,
    )
    assert sorted(np.bincount(y).tolist()) == [3, 3, 7, 7, 7, 7]
    X, y, _ = make_gaussian_clusters(
        1, n_clusters=50, n_localizations=lambda rng, n: rng.geometric(1 / 25, n), random_state=0
    )
    assert 15 < np.bincount(y[y >= 0]).mean() < 35


# --------------------------------------------------------------------------- #
# Invariants on every simulator (hypothesis, tiny configurations)
# --------------------------------------------------------------------------- #
def _as_tuple(result):
    X, y, fov = result[:3]
    shape = result[3] if len(result) == 4 else None
    return X, y, fov, shape


SIMULATORS = {
    "gaussian": lambda n, seed: make_gaussian_clusters(
        n, n_clusters=(0, 4), n_localizations=(1, 6), cluster_std=(10.0, 40.0), n_background=4,
        fov_size=400.0, random_state=seed,
    ),
    "benchmark_8_blinking": lambda n, seed: make_benchmark_scenario(8, blinking=True, n_fovs=n, random_state=seed),
    "ellipses": lambda n, seed: make_ellipses(n, n_clusters=3, n_localizations=(2, 8), fov_size=500.0, random_state=seed),
    "rings": lambda n, seed: make_rings(n, n_clusters=(1, 4), n_localizations=(3, 9), fov_size=800.0, random_state=seed),
    "c_shapes": lambda n, seed: make_c_shapes(n, n_clusters=(1, 4), blinking=True, crop=True, fov_size=800.0, random_state=seed),
    "multishape": lambda n, seed: make_multishape(
        ("c-shape", "ring", "spot", "ellipse"), n, n_clusters=(0, 3), fov_size=1500.0, random_state=seed
    ),
    "multishape_blinking": lambda n, seed: make_multishape(
        ("spot", "ellipse"), n, n_clusters=2, blinking={"mean_blinks": 1.0}, random_state=seed
    ),
    "npc": lambda n, seed: make_npc(n, n_structures=(0, 3), n_localizations=(0, 6), random_state=seed),
    "npc_blinking": lambda n, seed: make_npc(n, n_structures=2, blinking=True, crop=True, random_state=seed),
    "multiscale_rings": lambda n, seed: make_multiscale_rings(n, n_rings=(1, 5), random_state=seed),
    "pairs": lambda n, seed: make_cluster_pairs(n, n_pairs=(1, 3), background_fraction=0.2, random_state=seed),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(SIMULATORS))
@settings(max_examples=8, deadline=None)
@given(n_fovs=st.integers(1, 3), seed=st.integers(0, 2**32 - 1))
def test_simulator_invariants(name, n_fovs, seed):
    simulate = SIMULATORS[name]
    X, y, fov, shape = _as_tuple(simulate(n_fovs, seed))
    X2, y2, fov2, shape2 = _as_tuple(simulate(n_fovs, seed))
    # Same seed, same data.
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    np.testing.assert_array_equal(fov, fov2)
    n = X.shape[0]
    assert X.dtype == np.float64 and X.shape == (n, 2) and np.all(np.isfinite(X))
    assert y.dtype == np.int64 and y.shape[0] == n
    assert fov.dtype == np.int64 and set(np.unique(fov)) <= set(range(n_fovs))
    assert np.all(np.diff(fov) >= 0)  # FOVs are contiguous and in order
    for level in (y[:, None] if y.ndim == 1 else y).T:
        check_labels(level)
        # A cluster lives in exactly one FOV.
        clustered = level >= 0
        for k in np.unique(level[clustered]):
            assert np.unique(fov[level == k]).size == 1
        # Clusters are numbered in FOV order.
        first_fov = [fov[np.flatnonzero(level == k)[0]] for k in np.unique(level[clustered])]
        assert np.all(np.diff(first_fov) >= 0)
    if y.ndim == 2:
        # Background is the same at every scale; fine clusters nest in coarse ones.
        assert np.all((y[:, 0] == -1) == (y[:, 1] == -1))
        for k in np.unique(y[y[:, 0] >= 0, 0]):
            assert np.unique(y[y[:, 0] == k, 1]).size == 1
    if shape is not None:
        np.testing.assert_array_equal(shape, shape2)
        assert set(np.unique(shape)) <= set(SHAPES) | {"background"}
        np.testing.assert_array_equal(shape == "background", y == -1)
        for k in np.unique(y[y >= 0]):
            assert np.unique(shape[y == k]).size == 1


def test_different_seeds_give_different_data():
    assert not np.array_equal(make_rings(n_clusters=3, random_state=0)[0], make_rings(n_clusters=3, random_state=1)[0])


def test_generator_and_randomstate_are_accepted():
    a = make_npc(random_state=np.random.default_rng(3))[0]
    b = make_npc(random_state=np.random.default_rng(3))[0]
    np.testing.assert_array_equal(a, b)
    c = make_npc(random_state=np.random.RandomState(3))[0]
    d = make_npc(random_state=np.random.RandomState(3))[0]
    np.testing.assert_array_equal(c, d)


def test_add_blinking_does_not_modify_input_and_repeats_arrays():
    X = np.array([[0.0, 0.0], [100.0, 100.0], [500.0, 0.0]])
    labels = np.array([[0, 0], [1, 0], [-1, -1]])
    shapes = np.array(["spot", "spot", "background"])
    X_before = X.copy()
    Xb, yb, sb = add_blinking(X, labels, shapes, mean_blinks=20.0, localization_precision=1.0, random_state=0)
    np.testing.assert_array_equal(X, X_before)
    assert yb.shape == (Xb.shape[0], 2) and sb.shape == (Xb.shape[0],)
    # Every localisation stays near its own molecule (precision 1 nm).
    nearest = np.argmin(np.hypot(*(Xb[:, None] - X[None]).transpose(2, 0, 1)), axis=1)
    np.testing.assert_array_equal(labels[nearest], yb)
    np.testing.assert_array_equal(shapes[nearest], sb)
    assert isinstance(add_blinking(X, random_state=0), np.ndarray)


# --------------------------------------------------------------------------- #
# Errors
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: make_benchmark_scenario(1), "scenario must be one of"),
        (lambda: make_rings(background_fraction=1.0), "background_fraction"),
        (lambda: make_rings(n_clusters=(5, 2)), "low <= high"),
        (lambda: make_rings(n_fovs=0), "n_fovs"),
        (lambda: make_multishape(("spot", "triangle")), "Unknown shape 'triangle'"),
        (lambda: make_multishape(("spot",), shape_params={"spot": {"radius": 3}}), "Unknown parameter"),
        (lambda: make_multishape(("spot",), shape_params={"ring": {}}), "not among the shapes"),
        (lambda: make_ellipses(aspect_ratio=0.5), "aspect_ratio"),
        (lambda: make_rings(n_clusters=50, fov_size=1000, min_center_distance=500), "cannot fit"),
        (lambda: make_rings(margin=4000), "margin"),
        (lambda: make_rings(blinking={"precision": 3}), "Unknown blinking option"),
        (lambda: make_rings(random_state="seed"), "random_state"),
        (lambda: make_gaussian_clusters(populations=[{"width": 3}]), "unknown key"),
        (lambda: add_blinking(np.zeros((3, 2)), np.zeros(2)), "must match"),
        (lambda: add_blinking(np.zeros((3, 2)), distribution="binomial"), "distribution"),
    ],
)
def test_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_blinking_options_given_as_an_empty_dict_crop_like_true():
    X_true, _, _ = make_benchmark_scenario(2, n_fovs=1, blinking=True, random_state=0)
    X_dict, _, _ = make_benchmark_scenario(2, n_fovs=1, blinking={}, random_state=0)
    np.testing.assert_array_equal(X_dict, X_true)
    assert X_dict.min() >= 0 and X_dict.max() <= 2000


def test_multishape_refuses_counts_for_shapes_not_drawn():
    with pytest.raises(ValueError, match=r"entries for shape\(s\) \['ring'\] that are not in shapes"):
        make_multishape(("spot",), n_clusters={"spot": 2, "ring": 5}, random_state=0)


def test_impossible_centre_spacing_fails_at_once():
    import time

    start = time.process_time()
    with pytest.raises(ValueError, match="cannot fit in a 2000.0 nm FOV"):
        make_gaussian_clusters(n_clusters=300, min_center_distance=150.0, random_state=0)
    assert time.process_time() - start < 1.0  # it used to give up after 6.5 CPU-s of tries


def test_scenario_overrides_that_the_populations_hide_are_refused():
    with pytest.raises(ValueError, match=r"Scenario 7 sets \['n_clusters'\] per population"):
        make_benchmark_scenario(7, n_clusters=5)
    with pytest.raises(ValueError, match=r"Scenario 8 sets \['n_localizations'\] per population"):
        make_benchmark_scenario(8, n_localizations=30)
    # A value the populations do not set still applies to both.
    X, y, _ = make_benchmark_scenario(7, n_localizations=30, random_state=0)
    assert np.bincount(y[y >= 0]).min() == 30


def test_a_fov_without_clusters_says_it_is_empty():
    with pytest.warns(UserWarning, match="drew no cluster, so it gets no background"):
        X, _, _ = make_gaussian_clusters(1, n_clusters=0, random_state=0)
    assert X.shape == (0, 2)
    X, y, _ = make_gaussian_clusters(1, n_clusters=0, n_background=50, random_state=0)
    assert X.shape == (50, 2) and np.all(y == -1)
    with pytest.raises(ValueError, match="background_gradient must be a number in"):
        make_gaussian_clusters(background_gradient="0.5")
