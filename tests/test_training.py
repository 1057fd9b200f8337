"""Tests of sklearn_miro.training: augmentation options, training-set statistics, loss."""

import numpy as np
import pytest

from sklearn_miro.datasets import make_benchmark_scenario
from sklearn_miro.augmentation import central_fraction
from sklearn_miro.training import (
    AugmentationOptions,
    default_fov_size,
    default_length_scale,
    prepare_training_set,
    synthesize_fov,
)


@pytest.fixture(scope="module")
def training_set():
    X, y, fov = make_benchmark_scenario(6, n_fovs=2, random_state=0)
    return prepare_training_set(X, y, fov), X, y, fov


def test_augmentation_options_validate_fov_size():
    assert AugmentationOptions.from_dict(None).fov_size == "auto"
    assert AugmentationOptions.from_dict({"fov_size": 500.0}).fov_size == 500.0
    assert AugmentationOptions.from_dict({"fov_size": None}).fov_size is None
    with pytest.raises(ValueError, match="fov_size.*'auto'"):
        AugmentationOptions.from_dict({"fov_size": "big"})
    with pytest.raises(ValueError, match="fov_size"):
        AugmentationOptions.from_dict({"fov_size": -1.0})
    with pytest.raises(ValueError, match="Unknown augmentation option"):
        AugmentationOptions.from_dict({"fov": 500.0})


def test_default_fov_size_holds_the_requested_number_of_localisations(training_set):
    ts, X, y, fov = training_set
    per_fov = np.bincount(np.unique(fov, return_inverse=True)[1])
    density = np.median(per_fov) / 2000.0**2  # the scenario's FOVs are 2000 nm wide
    side = default_fov_size(ts, density, n_localizations=200, min_cluster_radii=0)
    assert side == pytest.approx(np.sqrt(200 / density))
    # never smaller than min_cluster_radii radii of the larger clusters
    # (the 90th percentile, so that the widest clusters fit whole) ...
    rms = ts.unit_rms[np.diff(ts.unit_bounds) >= 2]
    assert default_fov_size(ts, density, n_localizations=1) == pytest.approx(10 * np.percentile(rms, 90))
    assert default_fov_size(ts, density, n_localizations=1, radius_percentile=50) == pytest.approx(
        10 * np.median(rms))
    # ... never larger than the training FOVs, and the full FOV without a density
    full = np.median(ts.fov_extent.mean(axis=1))
    assert default_fov_size(ts, density, n_localizations=10**9) == pytest.approx(full)
    assert default_fov_size(ts, np.nan) == pytest.approx(full)


def test_synthetic_fov_of_auto_size_has_about_that_many_localisations(training_set):
    ts, X, y, fov = training_set
    density = len(X) / 2 / 2000.0**2
    side = default_fov_size(ts, density)
    options = AugmentationOptions.from_dict({"fov_size": side})
    rng = np.random.default_rng(0)
    counts = [len(synthesize_fov(ts, options, rng)[0]) for _ in range(200)]
    expected = max(200, density * side**2)
    assert 0.7 * expected < np.mean(counts) < 1.3 * expected


def test_default_length_scale_is_a_fraction_of_the_cluster_radius(training_set):
    ts = training_set[0]
    rms = np.median(ts.unit_rms[np.diff(ts.unit_bounds) >= 2])
    assert default_length_scale(ts) == pytest.approx(0.4 * rms)
    assert default_length_scale(ts, factor=1.0) == pytest.approx(rms)


def test_default_fov_size_holds_the_widest_clusters_whole():
    # Two populations: 15 tight clusters of 25 nm and 5 wide ones of 100 nm.
    # A crop of 10 median radii (about 10 x 25 nm) would cut the wide clusters
    # in pieces; the rule spans 10 radii of the wide ones.
    from sklearn_miro.datasets import make_gaussian_clusters

    X, y, fov = make_gaussian_clusters(
        3, populations=[dict(n_clusters=15, cluster_std=25), dict(n_clusters=5, cluster_std=100)],
        n_localizations=30, random_state=0)
    ts = prepare_training_set(X, y, fov)
    rms = ts.unit_rms[np.diff(ts.unit_bounds) >= 2]
    wide = rms[rms > 2 * np.median(rms)]
    assert len(wide) >= 10
    density = 1e-2  # dense: 200 localisations fit in 141 nm, so the radius rule decides
    side = default_fov_size(ts, density)
    assert side >= 10 * np.median(wide)
    assert default_fov_size(ts, density, radius_percentile=50) < 0.5 * side


def test_central_fraction_tells_rings_from_blobs():
    # A 2D Gaussian of std sigma has RMS radius sqrt(2) sigma, and a fraction
    # 1 - exp(-r^2 / (2 sigma^2)) = 1 - exp(-1/4) = 0.221 of it within half
    # that radius (r = sigma / sqrt(2)) of its centre; a ring has nothing there.
    from sklearn_miro.datasets import make_gaussian_clusters, make_rings

    X, y, fov = make_gaussian_clusters(2, n_clusters=30, n_localizations=60, random_state=0)
    assert central_fraction(prepare_training_set(X, y, fov)) == pytest.approx(1 - np.exp(-0.25), abs=0.04)
    X, y = make_rings(1, n_clusters=(20, 20), random_state=0)[:2]
    assert central_fraction(prepare_training_set(X, y)) < 0.02
    # Clusters under min_size localisations are left out: none left is NaN.
    assert np.isnan(central_fraction(prepare_training_set(X, y), min_size=1000))


def test_background_fills_crops_larger_than_their_template():
    # One narrow FOV (2000 x 500 nm): an 816-nm crop is taller than the FOV,
    # and its background once stopped at 500 nm while clusters went on.
    from sklearn_miro.datasets import make_gaussian_clusters

    X, y, _ = make_gaussian_clusters(n_fovs=1, n_clusters=10, n_localizations=15, n_background=600,
                                     fov_size=2000.0, random_state=0)
    X = X * [1.0, 0.25]  # squeeze the FOV to 2000 x 500 nm
    ts = prepare_training_set(X, y)
    side = 816.0
    options = AugmentationOptions.from_dict({"fov_size": side, "background_count_range": (1.0, 1.0)})
    rng = np.random.default_rng(1)
    above, below = 0, 0
    for _ in range(20):
        positions, _, _, labels = synthesize_fov(ts, options, rng)
        background = positions[labels[:, 0] == -1]
        assert background[:, 1].max() > 0.9 * side
        above += np.sum(background[:, 1] > side / 2)
        below += np.sum(background[:, 1] <= side / 2)
    # the same density in both halves (mirrored copies of the template's 500 nm)
    assert 0.8 < above / below < 1.25


def test_synthesize_fov_needs_a_resolved_crop_size(training_set):
    ts = training_set[0]
    with pytest.raises(ValueError, match="fov_size='auto' must be resolved"):
        synthesize_fov(ts, AugmentationOptions(), np.random.default_rng(0))


def test_a_small_labelled_fov_does_not_crowd_the_crops():
    # Two whole FOVs and a 90-nm crop around one cluster: drawn as often as the
    # others, the small FOV gave crops 20 times denser than planned.
    X, y, fov = make_benchmark_scenario(2, n_fovs=2, random_state=0)
    first = y[fov == 0]
    cluster = X[fov == 0][first == first[first >= 0][0]]
    small = np.concatenate([cluster, cluster.mean(0) + [[30, 30], [-30, 25], [20, -35.0]]])
    Xa = np.concatenate([X, small])
    ya = np.r_[y, np.zeros(len(cluster), int), -np.ones(3, int)]
    ts = prepare_training_set(Xa, ya, np.r_[fov, np.full(len(small), 2)])
    options = AugmentationOptions(fov_size=1171.6)
    rng = np.random.default_rng(0)
    sizes = [len(synthesize_fov(ts, options, rng)[0]) for _ in range(30)]
    assert max(sizes) < 600


def test_budget_cut_crops_get_more_epochs_with_the_square_of_the_cut_when_fine_tuning():
    from sklearn_miro.model import TrainingConfig, budgeted_max_epochs

    fine_tuning = TrainingConfig(max_epochs=3, n_augmented=800, budget_max_epochs=18)
    assert budgeted_max_epochs(fine_tuning, 800, 800) == 3  # no cut
    assert budgeted_max_epochs(fine_tuning, 800, 1594) == 3  # more than requested: no cut
    assert budgeted_max_epochs(fine_tuning, 800, 790) == 3  # 3.08 rounds to 3
    assert budgeted_max_epochs(fine_tuning, 800, 695) == 4  # cut 1.15: 3.97
    assert budgeted_max_epochs(fine_tuning, 800, 382) == 13  # cut 2.09: 13.2
    assert budgeted_max_epochs(fine_tuning, 800, 150) == 18  # cut 5.33: 85, capped
    assert budgeted_max_epochs(TrainingConfig(max_epochs=12), 2000, 929) == 12  # not set: unchanged


def test_only_the_automatic_fine_tuning_schedule_grows_its_epochs_and_averages():
    from sklearn_miro import MIROTransformer

    options = AugmentationOptions()
    fine = MIROTransformer()._training_config(options, fine_tuning=True)
    assert (fine.budget_max_epochs, fine.average_window) == (18, 0.1)
    scratch = MIROTransformer()._training_config(options, fine_tuning=False)
    assert (scratch.budget_max_epochs, scratch.average_window) == (None, None)
    assert MIROTransformer(max_epochs=4)._training_config(options, fine_tuning=True).budget_max_epochs is None
    assert MIROTransformer(n_augmented=100)._training_config(options, fine_tuning=True).budget_max_epochs is None


def test_clusters_can_be_kept_inside_the_crop(training_set, monkeypatch):
    # The inner_clusters experiment (benchmarks/quality.py): wide clusters of scenario 6
    # stick out of 850-nm crops (3.4 % of their localisations) unless their centres keep
    # 2.5 RMS radii from the edge; the draws are the same, so are the crops' contents.
    import sklearn_miro.augmentation as augmentation

    ts, _, _, _ = training_set
    side = 850.0
    options = AugmentationOptions.from_dict({"fov_size": side})

    def crops(edge):
        monkeypatch.setattr(augmentation, "CLUSTER_EDGE_RMS", edge)
        rng = np.random.default_rng(0)
        return [synthesize_fov(ts, options, rng) for _ in range(60)]

    def outside(result):
        clustered = np.concatenate([p[lab[:, 0] >= 0] for p, _, _, lab in result])
        return np.mean(np.any((clustered < 0) | (clustered > side), axis=1))

    default, inner = crops(None), crops(2.5)
    assert outside(default) > 0.01 and outside(inner) < 0.001
    for (p0, d0, _, l0), (p1, d1, _, l1) in zip(default, inner):
        np.testing.assert_array_equal(l0, l1)  # the same clusters and localisations...
        np.testing.assert_allclose(d0, d1, atol=1e-9)  # ...with the same shapes, only moved


def test_no_exact_copies_in_synthetic_crops_without_jitter(training_set):
    # Addition copies are jittered; with jitter=0 they would sit exactly on their
    # originals (zero-length graph edges, which inference never shows the network).
    ts = training_set[0]
    rng = np.random.default_rng(0)
    unjittered = AugmentationOptions.from_dict({"fov_size": 600.0, "jitter": 0.0, "addition": 1.0})
    jittered = AugmentationOptions.from_dict({"fov_size": 600.0, "jitter": 0.1, "addition": 1.0})
    n_clustered = {"unjittered": 0, "jittered": 0}
    for _ in range(20):
        positions, _, _, labels = synthesize_fov(ts, unjittered, rng)
        clustered = positions[labels[:, 0] >= 0]
        assert len(np.unique(clustered, axis=0)) == len(clustered)
        n_clustered["unjittered"] += len(clustered)
        positions, _, _, labels = synthesize_fov(ts, jittered, rng)
        n_clustered["jittered"] += int(np.sum(labels[:, 0] >= 0))
    # the copies are really left out (addition=1 adds about half as many again)
    assert n_clustered["jittered"] > 1.2 * n_clustered["unjittered"]


def test_no_copies_of_a_cluster_of_one_location():
    # The jitter is a fraction of the cluster's RMS radius: a cluster of one
    # location (radius 0) would get its addition copies exactly on it.
    from sklearn_miro.datasets import make_gaussian_clusters

    X, y, fov = make_gaussian_clusters(n_fovs=2, n_clusters=6, n_localizations=15, fov_size=1000.0,
                                       random_state=0)
    singles = np.random.default_rng(0).uniform(0, 1000, (20, 2))
    X, y, fov = np.r_[X, singles], np.r_[y, 100 + np.arange(20)], np.r_[fov, np.zeros(20, int)]
    ts = prepare_training_set(X, y, fov)
    assert np.sum(ts.unit_rms == 0) == 20
    options = AugmentationOptions.from_dict({"fov_size": 600.0, "jitter": 0.1, "addition": 1.0})
    rng = np.random.default_rng(0)
    for _ in range(30):
        positions, _, _, labels = synthesize_fov(ts, options, rng)
        clustered = positions[labels[:, 0] >= 0]
        assert len(np.unique(clustered, axis=0)) == len(clustered)
