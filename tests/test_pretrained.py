"""The pretrained model shipped with the package: loading, units, zero-shot use, fine-tuning."""

import time
import warnings
from importlib import resources

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.cluster import DBSCAN
from sklearn.metrics import adjusted_rand_score

from sklearn_miro import MIROClusterer, MIROTransformer
from sklearn_miro.cli import main
from sklearn_miro.datasets import make_gaussian_clusters
from sklearn_miro.augmentation import AugmentationOptions, budgeted_n_augmented
from sklearn_miro.estimators import FINE_TUNING_SCHEDULE, collapse_repeatedly
from sklearn_miro.datasets import make_benchmark_scenario
from sklearn_miro.metrics import ari_dagger, jaccard_cluster_index
from sklearn_miro.pretrained import (
    BLINKING_ZERO_SHOT_MODEL,
    FINE_TUNING_MODEL,
    ZERO_SHOT_MODEL,
    PretrainedMIRO,
    RADIUS_IN_SPACINGS,
    available_models,
    cluster_rms_radius,
    collapse_fov,
    fov_spacing,
    kdistance_eps,
    load_pretrained,
    model_info,
)


@pytest.fixture(scope="module")
def fov():
    X, y, _ = make_benchmark_scenario(2, random_state=0, fov_size=800.0, n_clusters=4)
    return X, y


def test_the_nanocluster_model_ships_small_and_loads_fast():
    assert "nanoclusters" in available_models()
    files = resources.files("sklearn_miro.pretrained")
    total = sum(len(files.joinpath(f"{n}.pt").read_bytes()) for n in available_models())
    assert total < 10 * 2**20
    started = time.perf_counter()
    network, info = load_pretrained("nanoclusters")
    elapsed = time.perf_counter() - started
    assert elapsed < 5.0  # < 1 s measured when the CPU is not shared; see doc/pretrained.md
    assert not network.training
    assert info["network"]["hidden_size"] == network.hidden_size
    assert {"eps_in_radii", "min_samples"} <= set(info["dbscan"])
    # Reproducible from seeds: the last training stage's and the one it continued from.
    assert info["training"]["seed"] == 1 and info["training"]["wall_seconds"] > 0
    assert info["training"]["continued_from"]["seed"] == 0


@pytest.mark.parametrize("name", available_models())
def test_every_shipped_model_loads_with_its_card_and_finds_the_clusters(name, fov):
    # The zero-shot model (nanoclusters-long) ships beside the fine-tuning starts
    # (nanoclusters; elongated, for elongated clusters); each needs its own card,
    # rule and weights to be usable.
    started = time.perf_counter()
    network, info = load_pretrained(name)
    assert time.perf_counter() - started < 5.0
    assert info["name"] == name and not network.training
    assert {"eps_in_radii", "min_samples", "radius_correction"} <= set(info["dbscan"])
    assert info["training"]["wall_seconds"] > 0 and info["training"]["cpu_seconds"] > 0
    # Zero-shot on a small simulated FOV of clusters of the model's family
    # (round for the nanocluster models, scenario 6's ellipses for the elongated
    # one: 4 clusters, all found; scenario 2 with multiple blinking for the
    # blinking one: 8 clusters, at least 7 found with at most one false cluster;
    # nanoclusters-long: JI_c 0.5 on this FOV), members mostly right.
    X, y = fov
    expected_jaccard = 1.0
    if info["training"].get("family") == "elongated":
        X, y, _ = make_benchmark_scenario(6, random_state=0, fov_size=1000.0, n_clusters=4)
    elif info["training"].get("family") == "blinking":
        X, y, _ = make_benchmark_scenario(2, random_state=0, fov_size=1400.0, n_clusters=8, blinking=True)
        expected_jaccard = 7 / 9  # 7 of 8 matched, one false cluster: JI_c = 7 / (7 + 1 + 1)
    labels = MIROClusterer(MIROTransformer.pretrained(name)).fit_predict(X)
    assert jaccard_cluster_index(X, y, labels) >= expected_jaccard
    assert ari_dagger(y, labels) > 0.7


def test_the_blinking_model_warns_on_data_without_blinking(fov):
    # Trained on blinking data only, it finds almost none of the clusters of
    # data without blinking (doc/pretrained.md): the user hears of it.
    assert BLINKING_ZERO_SHOT_MODEL in available_models()
    X, _ = fov
    with pytest.warns(UserWarning, match=r"trained on data with multiple blinking only.*1 of 1 FOV"):
        MIROClusterer(MIROTransformer.pretrained(BLINKING_ZERO_SHOT_MODEL)).fit_predict(X)
    blinking, _, groups = make_benchmark_scenario(2, random_state=0, fov_size=1400.0, n_clusters=8,
                                                  blinking=True, n_fovs=2)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*multiple blinking only")
        MIROClusterer(MIROTransformer.pretrained(BLINKING_ZERO_SHOT_MODEL)).fit(blinking, groups=groups)
        # The other models are not concerned.
        MIROClusterer(MIROTransformer.pretrained(ZERO_SHOT_MODEL)).fit_predict(X)


@pytest.mark.parametrize("name", available_models())
def test_weights_are_a_plain_state_dict(name):
    path = resources.files("sklearn_miro.pretrained").joinpath(f"{name}.pt")
    with resources.as_file(path) as p:
        state = torch.load(p, weights_only=True)
    assert all(isinstance(v, torch.Tensor) for v in state.values())


def test_unknown_model_names_are_refused():
    with pytest.raises(ValueError, match="Unknown pretrained model 'nope'"):
        load_pretrained("nope")
    with pytest.raises(ValueError, match="Unknown pretrained model"):
        model_info(3)
    with pytest.raises(ValueError, match="init must be .auto., None or the name"):
        MIROTransformer(init="nope", verbose=0).fit(np.random.rand(20, 2), np.r_[np.zeros(10), -np.ones(10)])


def test_fov_spacing_is_per_fov():
    X = np.array([[0, 0], [10, 0], [0, 10], [10, 10], [0, 0], [20, 0], [0, 20], [20, 20.0]])
    s = fov_spacing(X, groups=np.repeat([0, 1], 4))
    assert np.allclose(s, np.repeat([5.0, 10.0], 4))
    with pytest.raises(ValueError, match="at least 2 distinct localisations"):
        fov_spacing(np.ones((3, 2)))


def test_kdistance_knee_separates_dense_clumps_from_sparse_points(rng):
    clumps = np.repeat(rng.uniform(0, 1000, (20, 2)), 10, axis=0) + rng.normal(0, 1.0, (200, 2))
    sparse = rng.uniform(0, 1000, (50, 2))
    eps = kdistance_eps(np.vstack([clumps, sparse]), 4)
    assert 1.0 < eps < 50.0
    with pytest.raises(ValueError, match="more than k=4"):
        kdistance_eps(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="k must be a positive integer"):
        kdistance_eps(clumps, 0)


def test_cluster_rms_radius(rng):
    X = np.array([[0, 0], [2, 0], [10, 10], [10, 14], [50, 50.0]])
    assert cluster_rms_radius(X, np.array([0, 0, 1, 1, -1])) == pytest.approx(1.5)
    assert np.isnan(cluster_rms_radius(X, -np.ones(5)))


def test_collapse_fov_leaves_isolated_points(fov):
    X, _ = fov
    network, info = load_pretrained("nanoclusters")
    far = np.array([[1e5, 1e5]])
    Xf = np.vstack([X, far])
    moved = collapse_fov(network, Xf, info["n_steps"], 40.0)
    assert moved.shape == Xf.shape and np.isfinite(moved).all()
    assert np.array_equal(moved[-1], far[0])
    # The connectivity radius follows the FOV's spacing: scaling X scales the output.
    moved2 = collapse_fov(network, 3 * Xf, info["n_steps"], 120.0)
    assert np.allclose(moved2, 3 * moved, atol=1e-6 * np.abs(moved).max())
    assert RADIUS_IN_SPACINGS == 3.5


def test_several_steps_come_from_one_network_run(fov, monkeypatch):
    import sklearn_miro.pretrained as pretrained

    X, _ = fov
    network, info = load_pretrained("nanoclusters")
    one_by_one = [collapse_fov(network, X, info["n_steps"], 40.0, step=t) for t in (2, 5)]
    runs = []
    real = pretrained.fov_network_outputs
    monkeypatch.setattr(pretrained, "fov_network_outputs", lambda *a, **k: runs.append(1) or real(*a, **k))
    together = collapse_fov(network, X, info["n_steps"], 40.0, steps=[2, 5])
    assert len(runs) == 1 and together.shape == (2,) + X.shape
    np.testing.assert_allclose(together, np.stack(one_by_one), rtol=1e-6, atol=1e-6)


def test_zero_shot_default_is_the_longer_trained_model_and_fit_keeps_the_fine_tuning_start():
    # Zero-shot users get the model that clusters best without labels; fit's
    # default start stays the one that fine-tunes best (doc/pretrained.md).
    zero_shot = MIROTransformer.pretrained()
    assert zero_shot.pretrained_ == ZERO_SHOT_MODEL == "nanoclusters-long"
    assert zero_shot.init == ZERO_SHOT_MODEL
    # fit's default init="auto" resolves to the fine-tuning start.
    assert MIROTransformer().init == "auto"
    assert MIROTransformer()._pretrained_start() == FINE_TUNING_MODEL == "nanoclusters"


def test_pretrained_transformer_is_fitted_and_clones_to_itself(fov):
    X, _ = fov
    miro = MIROTransformer.pretrained("nanoclusters", cluster_radius=35.0)
    assert miro.pretrained_ == "nanoclusters"
    Xt = miro.transform(X)
    assert Xt.shape == X.shape and not np.shares_memory(Xt, X)
    moved, radius = miro.collapse_fov(X)
    assert radius == 35.0 and np.allclose(moved, Xt)
    # clone keeps a pretrained model pretrained (GridSearchCV, cross_validate and
    # Pipeline use it as it is: tests/test_pretrained_clone.py); its parameters
    # say how a fit with labels fine-tunes it.
    fresh = clone(miro)
    assert fresh.init == "nanoclusters" and fresh.cluster_radius == 35.0
    assert fresh.pretrained_ == "nanoclusters" and np.array_equal(fresh.transform(X), Xt)
    # The unfitted fine-tuner is MIROTransformer(init=name), as before.
    assert not hasattr(MIROTransformer(init="nanoclusters"), "network_")
    with pytest.raises(ValueError, match="cluster_radius"):
        MIROTransformer.pretrained("nanoclusters", cluster_radius=-1.0)


def test_zero_shot_clusterer_collapses_as_often_as_the_card_says(fov):
    X, _ = fov
    # The zero-shot default clusters after two passes of its network (its card), the
    # other shipped models after one; an integer overrides the card.
    assert PretrainedMIRO.load(ZERO_SHOT_MODEL).collapse_passes == 2
    assert PretrainedMIRO.load("nanoclusters").collapse_passes == 1
    once = MIROClusterer(MIROTransformer.pretrained("nanoclusters", cluster_radius=35.0)).fit(X)
    assert once.collapse_passes_ == 1
    miro = MIROTransformer.pretrained(cluster_radius=35.0)
    default = MIROClusterer(miro).fit(X)
    assert default.collapse_passes_ == 2
    assert MIROClusterer(miro, collapse_passes=1).fit(X).collapse_passes_ == 1
    # The second pass runs on the first one's output in the first one's units (same radius
    # and the FOV's own mean spacing, not the collapsed points'): the labels are DBSCAN's on
    # the network applied twice that way.
    model = PretrainedMIRO.load(ZERO_SHOT_MODEL)
    spacing = float(fov_spacing(X)[0])
    crop = miro.crop_features
    twice = collapse_fov(model.network, X, model.n_steps, 35.0, spacing=spacing, crop_features=crop)
    twice = collapse_fov(model.network, twice, model.n_steps, 35.0, spacing=spacing, crop_features=crop)
    moved, radius = model.collapse_fov(X, 35.0, passes=2, crop_features=crop)
    assert radius == 35.0 and np.allclose(moved, twice)
    assert not np.allclose(moved, model.collapse_fov(X, 35.0, crop_features=crop)[0])
    eps_in_radii, _ = model.dbscan_rule
    expected = DBSCAN(eps=eps_in_radii * 35.0, min_samples=default.min_samples_).fit_predict(twice)
    assert adjusted_rand_score(expected, default.labels_) == 1.0
    np.testing.assert_array_equal(default.predict(X), default.labels_)
    # Steps apply to the last pass; the earlier ones hand on their last step.
    steps = model.collapse_fov(X, 35.0, passes=2, steps=[3, model.n_steps - 1], crop_features=crop)[0]
    assert steps.shape == (2,) + X.shape and np.allclose(steps[1], twice)
    assert not np.allclose(steps[0], twice)


def test_later_passes_keep_the_first_ones_units(fov):
    X, y = fov
    # With R estimated on the FOV, a pass on collapsed points must not estimate it again:
    # there it would be a fraction of the clusters' size.
    miro = MIROTransformer.pretrained()
    model = miro.model_
    first, radius = model.collapse_fov(X, crop_features=miro.crop_features)
    again_estimated, radius_again = model.collapse_fov(first, crop_features=miro.crop_features)
    assert radius_again < 0.5 * radius  # what transform(transform(X)) used to do
    twice = miro.transform(X, passes=2)
    np.testing.assert_allclose(twice, model.collapse_fov(X, passes=2, crop_features=miro.crop_features)[0])
    assert not np.allclose(twice, again_estimated)
    # Two FOVs: each keeps its own units.
    X2 = np.vstack([X, X + 5_000.0])
    groups = np.repeat([0, 1], len(X))
    both = miro.transform(X2, groups=groups, passes=2)
    np.testing.assert_allclose(both[: len(X)], twice)
    np.testing.assert_allclose(both[len(X):], twice + 5_000.0, atol=1e-6)
    # The labelled path's passes (chosen or given) are the same collapse.
    given = MIROClusterer(miro, collapse_passes=2, eps=10.0, min_samples=3, border_points="cluster",
                          outlier_radius=None).fit(X, y)
    np.testing.assert_array_equal(given.labels_, DBSCAN(eps=10.0, min_samples=3).fit_predict(twice))
    np.testing.assert_array_equal(given.predict(X), given.labels_)
    with pytest.raises(ValueError, match="original coordinates"):
        collapse_repeatedly(miro, first, 1, collapsed=True)
    for bad in (0, 1.5, True):
        with pytest.raises(ValueError, match="passes must be an integer >= 1"):
            miro.transform(X, passes=bad)


def test_zero_shot_clusterer_can_leave_border_points_out(fov):
    X, _ = fov
    miro = MIROTransformer.pretrained("nanoclusters", cluster_radius=35.0)
    dbscan = MIROClusterer(miro).fit(X)
    star = MIROClusterer(miro, border_points="background").fit(X)
    assert dbscan.border_points_ == "cluster" and star.border_points_ == "background"
    assert (star.eps_, star.min_samples_) == (dbscan.eps_, dbscan.min_samples_)
    # DBSCAN*: DBSCAN's clusters without their border points, nothing else.
    clustered = star.labels_ >= 0
    assert clustered.sum() <= (dbscan.labels_ >= 0).sum()
    assert np.all(dbscan.labels_[clustered] >= 0)
    np.testing.assert_array_equal(star.predict(X), star.labels_)


def test_zero_shot_clusterer_needs_no_labels(fov):
    X, y = fov
    clusterer = MIROClusterer(MIROTransformer.pretrained("nanoclusters"))
    labels = clusterer.fit_predict(X)
    assert clusterer.label_free_
    assert labels.shape == (len(X),) and labels.min() >= -1
    assert np.isfinite(clusterer.cluster_radius_) and clusterer.cluster_radius_ > 0
    rule = clusterer.transformer_.model_card_["dbscan"]
    assert clusterer.eps_ == pytest.approx(rule["eps_in_radii"] * clusterer.cluster_radius_)
    assert clusterer.min_samples_ == rule["min_samples"]
    # Without labels nothing is trimmed, and the training clusters have their table.
    assert clusterer.outlier_radius_ is None and clusterer.outlier_radius_scores_ is None
    assert len(clusterer.cluster_table_) == len(np.unique(labels[labels >= 0]))
    # predict re-estimates per FOV: the same FOV gets the same labels.
    assert np.array_equal(clusterer.predict(X), labels)
    # Two FOVs at once: labels unique across FOVs, one radius per FOV.
    groups = np.repeat([0, 1], [len(X), len(X)])
    both = clusterer.fit_predict(np.vstack([X, X + 5000]), groups=groups)
    assert clusterer.cluster_radii_.shape == (2,)
    n = int(labels.max()) + 1
    assert np.array_equal(both[: len(X)], labels)
    assert np.array_equal(both[len(X):][labels >= 0], labels[labels >= 0] + n)


def test_a_given_cluster_radius_and_eps_are_used(fov):
    X, _ = fov
    clusterer = MIROClusterer(MIROTransformer.pretrained("nanoclusters", cluster_radius=30.0),
                              eps=12.0, min_samples=3).fit(X)
    assert clusterer.cluster_radius_ == 30.0 and clusterer.eps_ == 12.0 and clusterer.min_samples_ == 3


def test_a_pretrained_transformer_with_labels_chooses_dbscan_on_them(fov):
    # Labelled FOVs and a pretrained model: no training, the DBSCAN choice is made
    # on the labels, with eps candidates scaled by the FOVs' own connectivity radius.
    X, y = fov
    miro = MIROTransformer.pretrained("nanoclusters", cluster_radius=35.0)
    chosen = MIROClusterer(miro).fit(X, y)
    assert not chosen.label_free_
    radius = miro.model_.fov_connectivity_radius(X)
    assert radius == pytest.approx(3.5 * np.sqrt(np.prod(np.ptp(X, axis=0)) / len(X)))
    assert chosen.eps_grid_.max() == pytest.approx(radius) and chosen.eps_ in chosen.eps_grid_
    assert chosen.collapse_passes_ in (1, 2)
    # The choice is the best candidate of the grid on the labelled FOV.
    i = list(chosen.eps_grid_).index(chosen.eps_)
    j = list(chosen.min_samples_grid_).index(chosen.min_samples_)
    assert chosen.tuning_scores_[i, j] == pytest.approx(np.max(chosen.tuning_scores_))
    given = MIROClusterer(miro, eps=20.0, min_samples=5).fit(X, y)
    assert (given.eps_, given.min_samples_) == (20.0, 5)


def _tiny(**params):
    return dict(n_augmented=4, max_epochs=1, batch_size=2, validation_fraction=0.0, verbose=0,
                random_state=0, device="cpu", **params)


def test_init_starts_from_the_pretrained_weights(fov):
    X, y = fov
    reference, _ = load_pretrained("nanoclusters")
    # A learning rate of ~0 keeps the starting point: the pretrained weights.
    tuned = MIROTransformer(init="nanoclusters", **_tiny(learning_rate=1e-12)).fit(X, y)
    for name, value in reference.state_dict().items():
        assert torch.allclose(tuned.network_.state_dict()[name], value, atol=1e-6)
    assert tuned.pretrained_ is None and tuned.connectivity_radius_ > 0
    assert tuned.started_from_ == "nanoclusters"
    scratch = MIROTransformer(init=None, **_tiny(learning_rate=1e-12)).fit(X, y)
    assert not torch.allclose(scratch.network_.head.weight, reference.head.weight)
    assert scratch.started_from_ is None


def test_fine_tuning_on_large_crops_uses_fewer_of_them():
    X, y, _ = make_benchmark_scenario(5, blinking=True, random_state=0, fov_size=1000.0, n_clusters=6)
    # Whole FOVs as crops: many more localisations than the 300 per crop that the
    # automatic n_augmented allows (300), so proportionally fewer crops.
    params = dict(_tiny(learning_rate=1e-12), n_augmented="auto", augmentation={"fov_size": None})
    tuned = MIROTransformer(init="nanoclusters", **params).fit(X, y)
    extent = X.max(axis=0) - X.min(axis=0)
    per_crop = len(X) / np.prod(extent) * np.mean(extent) ** 2  # about len(X)
    assert per_crop > 400
    schedule = FINE_TUNING_SCHEDULE["n_augmented"]
    assert tuned.n_augmented_ == budgeted_n_augmented(schedule, per_crop, 300, minimum=2) < schedule
    # A number given by the user is used as it is.
    assert MIROTransformer(init="nanoclusters", **_tiny()).fit(X, y).n_augmented_ == 4


def test_automatic_schedule_budgets_localizations_from_scratch_too():
    # The same localisation budget applies to the from-scratch schedule (the
    # fine-tuning test above shows what the budget does to n_augmented_).
    options = AugmentationOptions.from_dict(None)
    scratch = MIROTransformer(init=None, n_augmented="auto")._training_config(options)
    assert scratch.n_augmented == 2000 and scratch.localization_budget == 300
    tuned = MIROTransformer(n_augmented="auto")._training_config(options, fine_tuning=True)
    assert tuned.n_augmented == FINE_TUNING_SCHEDULE["n_augmented"] == 800
    assert tuned.localization_budget == 300
    assert MIROTransformer(n_augmented=50)._training_config(options).localization_budget is None


def test_budgeted_n_augmented():
    assert budgeted_n_augmented(400, 150, 200) == 400  # small crops: the schedule's number
    assert budgeted_n_augmented(400, 1200, 200) == 67  # 6 times larger: a sixth, rounded up
    assert budgeted_n_augmented(400, float("nan"), 200) == 400
    assert budgeted_n_augmented(10, 1e6, 200, minimum=2) == 2


def test_init_auto_fine_tunes_the_pretrained_model_when_its_settings_match(fov):
    X, y = fov
    reference, _ = load_pretrained("nanoclusters")
    auto = MIROTransformer(**_tiny(learning_rate=1e-12)).fit(X, y)
    assert auto.init == "auto" and auto.started_from_ == "nanoclusters"
    assert torch.allclose(auto.network_.head.weight, reference.head.weight, atol=1e-6)
    # Settings the pretrained network was not trained with: random weights.
    for other in (dict(hidden_size=16), dict(n_steps=5), dict(length_scale="radius"),
                  dict(connectivity_radius=150.0), dict(fov_normalization="minmax")):
        assert MIROTransformer(**other)._pretrained_start() is None, other
    small = MIROTransformer(hidden_size=16, n_steps=5, **_tiny()).fit(X, y)
    assert small.started_from_ is None


def _rings(random_state=0):
    from sklearn_miro.datasets import make_rings

    X, y = make_rings(1, n_clusters=(8, 8), radius=150.0, radial_std=20.0, fov_size=2000.0,
                      random_state=random_state)[:2]
    return X, y


def test_n_steps_auto_goes_deeper_for_hollow_clusters_when_fine_tuning(fov, capsys):
    # Rings: a ring's localisations must cross its empty interior to a centre
    # none of them marks; the rule gives them 25 steps and, with the automatic
    # schedule, twice the synthetic FOVs. Gaussian clusters keep 15.
    X, y = fov
    blobs = MIROTransformer(**_tiny()).fit(X, y)
    assert blobs.n_steps == "auto" and blobs.n_steps_ == 15 and blobs.model_.n_steps == 15
    assert np.isnan(blobs.central_fraction_)  # clusters of 15: too small to measure, not hollow
    Xg, yg, _ = make_gaussian_clusters(1, n_clusters=8, n_localizations=60, random_state=0)
    large = MIROTransformer(**_tiny()).fit(Xg, yg)
    assert large.n_steps_ == 15 and 0.1 < large.central_fraction_ < 0.35
    Xr, yr = _rings()
    rings = MIROTransformer(**{**_tiny(), "verbose": 1}).fit(Xr, yr)
    assert "MIRO: training (25 steps: hollow clusters)" in capsys.readouterr().err
    assert rings.started_from_ == "nanoclusters"
    assert rings.n_steps_ == 25 and rings.central_fraction_ < 0.05
    assert rings.n_augmented_ == 4  # an explicit n_augmented is kept
    assert rings.transform(Xr).shape == Xr.shape
    # An explicit depth is kept, and the fraction is then not measured.
    fixed = MIROTransformer(n_steps=15, **_tiny()).fit(Xr, yr)
    assert fixed.n_steps_ == 15 and np.isnan(fixed.central_fraction_)
    # A warm start keeps its network's depth, whatever the new labels.
    warm = MIROTransformer(warm_start=True, **_tiny()).fit(X, y)
    assert warm.n_steps_ == 15
    assert warm.fit(Xr, yr).started_from_ == "warm_start" and warm.n_steps_ == 15
    # A pretrained() estimator fine-tunes with the rule too.
    tuned = MIROTransformer.pretrained("nanoclusters").set_params(**_tiny()).fit(Xr, yr)
    assert tuned.started_from_ == "nanoclusters" and tuned.n_steps_ == 25
    # From random weights the rule was never measured: 15 steps.
    with warnings.catch_warnings():  # one step from random weights moves nothing
        warnings.simplefilter("ignore")
        scratch = MIROTransformer(init=None, **_tiny()).fit(Xr, yr)
    assert scratch.started_from_ is None and scratch.n_steps_ == 15


def test_n_steps_auto_doubles_the_automatic_schedule_for_hollow_clusters():
    from sklearn_miro.augmentation import prepare_training_set
    from sklearn_miro.model import TrainingConfig, resolve_depth

    Xr, yr = _rings()
    rings = prepare_training_set(Xr, yr)
    automatic = TrainingConfig(n_steps="auto", n_augmented=800, localization_budget=300)
    resolved, fraction = resolve_depth(automatic, rings)
    assert fraction < 0.05
    assert resolved.n_steps == 25 and resolved.n_augmented == 1600 and resolved.step_scales == (0,) * 25
    assert resolved.localization_budget == 750
    # A number of FOVs given by the user (no budget) is kept.
    given = TrainingConfig(n_steps="auto", n_augmented=800, localization_budget=None)
    assert resolve_depth(given, rings)[0].n_augmented == 800
    # Gaussian clusters: 15 steps, the schedule unchanged.
    X, y, _ = make_gaussian_clusters(1, n_clusters=20, n_localizations=60, random_state=0)
    resolved, fraction = resolve_depth(automatic, prepare_training_set(X, y))
    assert fraction > 0.1 and resolved.n_steps == 15 and resolved.n_augmented == 800
    # Clusters under 30 localisations are not measured: a single-shot fit sees
    # one small cluster copied, and one cluster of 15 can lack a centre by chance.
    from sklearn_miro.datasets import make_rings

    Xs, ys = make_rings(1, n_clusters=(8, 8), n_localizations=15, radius=150.0, radial_std=20.0,
                        fov_size=2000.0, random_state=0)[:2]
    small = prepare_training_set(Xs, ys)
    from sklearn_miro.augmentation import central_fraction

    assert central_fraction(small) < 0.05  # hollow by the measure...
    resolved, fraction = resolve_depth(automatic, small)
    assert np.isnan(fraction) and resolved.n_steps == 15  # ... but too small to trust
    # A number of steps is not touched, and the fraction is not measured.
    fixed, fraction = resolve_depth(TrainingConfig(n_steps=7), rings)
    assert fixed.n_steps == 7 and np.isnan(fraction)


def test_an_explicit_pretrained_start_may_run_more_recurrent_steps(fov):
    # The weights are shared by every step: the 15-step model fine-tunes at another depth.
    X, y = fov
    reference, info = load_pretrained("nanoclusters")
    assert MIROTransformer(n_steps=25)._pretrained_start() is None  # "auto" keeps to the card
    deeper = MIROTransformer(init="nanoclusters", n_steps=info["n_steps"] + 2,
                             **_tiny(learning_rate=1e-12)).fit(X, y)
    assert deeper.started_from_ == "nanoclusters" and deeper.model_.n_steps == info["n_steps"] + 2
    assert torch.allclose(deeper.network_.head.weight, reference.head.weight, atol=1e-6)
    assert deeper.transform(X).shape == X.shape


def test_auto_schedule_is_short_when_fine_tuning_and_explicit_values_win():
    from sklearn_miro.estimators import FINE_TUNING_SCHEDULE, FROM_SCRATCH_SCHEDULE

    miro = MIROTransformer()
    assert miro.training_schedule(fine_tuning=True) == FINE_TUNING_SCHEDULE
    assert miro.training_schedule(fine_tuning=False) == FROM_SCRATCH_SCHEDULE
    # Synthetic FOVs seen: fine-tuning at most a tenth of training from scratch.
    assert FINE_TUNING_SCHEDULE["n_augmented"] * FINE_TUNING_SCHEDULE["max_epochs"] <= (
        FROM_SCRATCH_SCHEDULE["n_augmented"] * FROM_SCRATCH_SCHEDULE["max_epochs"] / 10)
    explicit = MIROTransformer(max_epochs=7, learning_rate=0.01)
    assert explicit.training_schedule(fine_tuning=True) == {
        **FINE_TUNING_SCHEDULE, "max_epochs": 7, "learning_rate": 0.01}


def test_warm_start_continues_from_the_current_network(fov):
    X, y = fov
    miro = MIROTransformer(**_tiny()).fit(X, y)
    before = {k: v.clone() for k, v in miro.network_.state_dict().items()}
    miro.set_params(warm_start=True, learning_rate=1e-12).fit(X, y)
    for name, value in before.items():
        assert torch.allclose(miro.network_.state_dict()[name], value, atol=1e-6)


def test_init_checks_the_architecture(fov):
    X, y = fov
    with pytest.raises(ValueError, match="hidden_size=32 but the pretrained model 'nanoclusters'"):
        MIROTransformer(init="nanoclusters", hidden_size=32, **_tiny()).fit(X, y)
    with pytest.raises(ValueError, match="warm_start"):
        MIROTransformer(warm_start="yes", **_tiny()).fit(X, y)


def test_cli_clusters_with_a_pretrained_model(fov, tmp_path, capsys):
    X, _ = fov
    path = tmp_path / "fov.csv"
    pd.DataFrame({"x": X[:, 0], "y": X[:, 1]}).to_csv(path, index=False)
    assert main(["cluster", "--pretrained", "nanoclusters", str(path), "--output-dir", str(tmp_path)]) == 0
    out = pd.read_csv(tmp_path / "fov_clusters.csv")
    assert len(out) == len(X)
    printed = capsys.readouterr().out
    assert "cluster radius" in printed and "min_samples" in printed
    assert "1 pass(es) of the network" in printed  # nanoclusters' card: one pass
    assert main(["cluster", "--pretrained", "nope", str(path)]) == 2
    assert "Unknown pretrained model" in capsys.readouterr().err
    assert main(["cluster", str(path)]) == 2
    assert "give a model file" in capsys.readouterr().err
    # The blinking model on data without blinking: the CLI user is told too.
    assert main(["cluster", "--pretrained", BLINKING_ZERO_SHOT_MODEL, str(path), "--output-dir", str(tmp_path),
                 "--force"]) == 0
    assert "trained on data with multiple blinking only" in capsys.readouterr().err


def test_a_fov_column_is_used_by_the_cli_and_named_in_python(tmp_path, capsys):
    # Several FOVs in one table (as write_labels writes them): clustered as one
    # FOV they merge, silently (a review: ARI-dagger 0.41 against 0.64 on five
    # simulated FOVs of scenario 6).
    from sklearn_miro.io import write_labels

    X, y, fov = make_benchmark_scenario(2, n_fovs=3, random_state=0)
    path = tmp_path / "three.csv"
    write_labels(path, X, y, groups=fov, label_name="truth")
    per_fov = MIROClusterer(MIROTransformer.pretrained(verbose=0)).fit_predict(X, groups=fov)
    assert main(["cluster", "--pretrained", "nanoclusters-long", str(path), "--output-dir", str(tmp_path)]) == 0
    assert "3 fields of view, from the column 'fov'" in capsys.readouterr().out
    written = pd.read_csv(tmp_path / "three_clusters.csv")
    assert adjusted_rand_score(written["cluster"], per_fov) == 1.0
    table = pd.read_csv(tmp_path / "three_clusters_table.csv")
    assert sorted(table["fov"].unique()) == ["three:0", "three:1", "three:2"]
    # stats reads the column too: one summary row per FOV.
    assert main(["stats", str(tmp_path / "three_clusters.csv"), "--label-column", "cluster",
                 "--output-dir", str(tmp_path)]) == 0
    summary = pd.read_csv(tmp_path / "three_clusters_fov_summary.csv")
    assert len(summary) == 3
    # In Python, a DataFrame's FOV column is not read as groups, but named.
    df = pd.DataFrame({"x": X[:, 0], "y": X[:, 1], "fov": fov})
    with pytest.warns(UserWarning, match=r"column 'fov' with 3 field-of-view ids, but groups was not given") as w:
        MIROClusterer(MIROTransformer.pretrained(verbose=0)).fit(df)
    assert any(r.filename == __file__ for r in w)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        MIROClusterer(MIROTransformer.pretrained(verbose=0)).fit(df, groups=df["fov"])


def test_cluster_radius_estimate_stays_in_its_bounds(fov):
    from sklearn_miro.pretrained import estimate_cluster_radius

    X, _ = fov
    network, info = load_pretrained("nanoclusters")
    rule = info["dbscan"]
    s = fov_spacing(X)[0]
    radius, history = estimate_cluster_radius(
        network, X, info["n_steps"], rule["eps_in_radii"], rule["min_samples"],
        correction=rule["radius_correction"],
    )
    assert history[0] == pytest.approx(s) and radius == history[-1]
    assert 0.1 * s <= radius <= 10 * s
    assert 1 <= len(history) <= 7
    # A given start is used as the first value.
    _, history = estimate_cluster_radius(network, X, info["n_steps"], rule["eps_in_radii"],
                                         rule["min_samples"], initial=50.0, n_iter=1)
    assert history[0] == 50.0 and len(history) <= 2


def test_a_pretrained_transformer_pickles(fov):
    import pickle

    X, _ = fov
    miro = MIROTransformer.pretrained("nanoclusters", cluster_radius=35.0)
    again = pickle.loads(pickle.dumps(miro))
    assert again.pretrained_ == "nanoclusters"
    assert np.allclose(again.transform(X), miro.transform(X))


def test_label_free_min_samples_rises_with_blinking_only():
    # A single molecule's blink group must not pass for a cluster: with
    # multiple blinking min_samples is at least twice the localisations of a
    # molecule; without, it is the model card's value.
    from sklearn_miro.datasets import make_gaussian_clusters
    from sklearn_miro.pretrained import REPEAT_FACTOR, PretrainedMIRO

    model = PretrainedMIRO.load("nanoclusters")
    card_min_samples = model.dbscan_rule[1]
    plain, _, _ = make_gaussian_clusters(1, n_clusters=30, cluster_std=30.0, n_localizations=20,
                                         fov_size=3000.0, random_state=0)
    assert model.dbscan_min_samples(plain) == card_min_samples
    blinking, _, _ = make_gaussian_clusters(
        1, n_clusters=30, cluster_std=30.0, n_localizations=20, fov_size=3000.0,
        blinking=dict(mean_blinks=4.0, localization_precision=(12.0, 4.0)), random_state=0)
    # About 4 localisations per molecule: min_samples about 2 x 4.
    assert REPEAT_FACTOR * 3 <= model.dbscan_min_samples(blinking) <= REPEAT_FACTOR * 8


def test_zero_shot_min_samples_follows_the_extra_neighbours_not_one_blob():
    # The zero-shot model's card sizes min_samples on the typical localisation's
    # extra neighbours: larger clusters, a larger min_samples; one blob among
    # small clusters does not set it; no clustering, the card's fixed value.
    from sklearn_miro.datasets import make_gaussian_clusters
    from sklearn_miro.parameters import tiled_excess_neighbours
    from sklearn_miro.pretrained import ZERO_SHOT_MODEL, PretrainedMIRO

    model = PretrainedMIRO.load(ZERO_SHOT_MODEL)
    rule = model.card["dbscan"]["min_samples_rule"]
    values = []
    for size in (10, 40):
        X, _, _ = make_gaussian_clusters(1, n_clusters=30, cluster_std=30.0, n_localizations=size,
                                         fov_size=3000.0, random_state=0)
        fit = model.pair_correlation_fit(X)
        count = tiled_excess_neighbours(X, fit.radius, tile_radii=rule["tile_radii"], reach=rule["reach"])
        values.append(model.dbscan_min_samples(X))
        assert values[-1] == max(rule["floor"], round(rule["factor"] * (1 + count)))
    assert values[1] > 2 * values[0]
    small, _, _ = make_gaussian_clusters(1, n_clusters=100, cluster_std=25.0, n_localizations=10,
                                         fov_size=6000.0, random_state=1)
    blob = np.random.default_rng(2).normal([1500.0, 1500.0], 40.0, (600, 2))
    with_blob = np.vstack([small, blob])
    pair_rule = rule["factor"] * (1 + model.pair_correlation_fit(with_blob).excess_neighbours)
    assert model.dbscan_min_samples(with_blob) <= 10 < pair_rule / 5
    uniform = np.random.default_rng(0).uniform(0, 3000.0, (1500, 2))
    assert model.dbscan_min_samples(uniform) == model.dbscan_rule[1]


def test_zero_shot_min_samples_falls_back_to_the_blink_repeats():
    # A FOV only a few cluster radii wide: the tiled count (no edge correction) is
    # negative, so min_samples comes from the blink repeats, as before the count.
    from sklearn_miro.datasets import make_gaussian_clusters
    from sklearn_miro.parameters import tiled_excess_neighbours
    from sklearn_miro.pretrained import REPEAT_FACTOR, ZERO_SHOT_MODEL, PretrainedMIRO

    model = PretrainedMIRO.load(ZERO_SHOT_MODEL)
    X, _, _ = make_gaussian_clusters(1, n_clusters=3, cluster_std=30.0, n_localizations=20, fov_size=300.0,
                                     background_fraction=0.5, random_state=0,
                                     blinking=dict(mean_blinks=4.0, localization_precision=(12.0, 4.0)))
    fit = model.pair_correlation_fit(X)
    assert tiled_excess_neighbours(X, fit.radius) <= 0 < fit.repeat_neighbours
    expected = max(model.dbscan_rule[1], int(np.ceil(REPEAT_FACTOR * (1 + fit.repeat_neighbours))))
    assert model.dbscan_min_samples(X) == expected > model.dbscan_rule[1]


def test_zero_shot_min_samples_blink_floor_of_a_card():
    # A card may ask for the blink-repeat value as a floor (measured, not set in a
    # shipped card): on a blinking FOV whose tiled count gives less, that floor wins.
    import copy
    import dataclasses

    from sklearn_miro.datasets import make_gaussian_clusters
    from sklearn_miro.pretrained import ZERO_SHOT_MODEL, PretrainedMIRO

    model = PretrainedMIRO.load(ZERO_SHOT_MODEL)
    card = copy.deepcopy(model.card)
    card["dbscan"]["min_samples_rule"]["blink_floor"] = True
    floored = dataclasses.replace(model, card=card)
    X, _, _ = make_gaussian_clusters(1, n_clusters=3, cluster_std=30.0, n_localizations=20, fov_size=600.0,
                                     background_fraction=0.5, random_state=2,
                                     blinking=dict(mean_blinks=4.0, localization_precision=(12.0, 4.0)))
    fit = model.pair_correlation_fit(X)
    blink_repeat = model.blink_repeat_min_samples(fit)
    assert model.dbscan_min_samples(X, fit=fit) < blink_repeat
    assert floored.dbscan_min_samples(X, fit=fit) == blink_repeat


def test_cli_shows_progress_on_a_tiled_file_unless_quiet(tmp_path, capsys):
    # Just over the tiling threshold (50,000 localisations): the one size of
    # file on which the bar appears.
    X, _, _ = make_gaussian_clusters(n_clusters=700, n_localizations=40, fov_size=12000.0,
                                     background_fraction=0.45, random_state=0)
    assert len(X) > 50_000
    path = tmp_path / "big.csv"
    pd.DataFrame({"x": X[:, 0], "y": X[:, 1]}).to_csv(path, index=False)
    args = ["cluster", "--pretrained", "nanoclusters", str(path), "--output-dir", str(tmp_path)]
    assert main(args) == 0
    assert "MIRO: tiled inference" in capsys.readouterr().err
    assert main([*args, "--force", "--quiet"]) == 0
    assert "MIRO: tiled inference" not in capsys.readouterr().err


def test_zero_shot_crop_features_make_tiled_and_whole_fov_inference_equal(monkeypatch):
    import sklearn_miro.pretrained as pretrained_models

    # 3,200 localisations over 3,000 nm: squares of 45 mean spacings (2,400 nm) split the FOV.
    X, _, _ = make_gaussian_clusters(n_clusters=40, n_localizations=80, fov_size=3000.0, random_state=1)
    miro = MIROTransformer.pretrained("nanoclusters", cluster_radius=30.0)
    whole = miro.set_params(tile_size=None).transform(X)
    tiled = miro.set_params(tile_size=400.0).transform(X)
    np.testing.assert_allclose(tiled, whole, atol=1e-3)
    whole_graph = miro.set_params(tile_size=None, crop_features=False).transform(X)
    assert np.abs(whole_graph - whole).max() > 1e-3
    # The label-free clusterer passes the setting on to the network run.
    seen = []
    original = pretrained_models.collapse_fov

    def spy(*args, crop_features=False, **kwargs):
        seen.append(crop_features)
        return original(*args, crop_features=crop_features, **kwargs)

    monkeypatch.setattr(pretrained_models, "collapse_fov", spy)
    for flag in (True, False):
        seen.clear()
        labels = MIROClusterer(MIROTransformer.pretrained("nanoclusters", cluster_radius=30.0)
                               .set_params(crop_features=flag)).fit_predict(X)
        assert seen and set(seen) == {flag}
        assert len(set(labels)) > 1


def test_zero_shot_tiling_is_exact_when_feature_tiles_cover_the_fov(monkeypatch):
    import sklearn_miro.pretrained as pretrained_models

    X, _, _ = make_gaussian_clusters(n_clusters=40, n_localizations=20, fov_size=3000.0, random_state=1)
    miro = MIROTransformer.pretrained("nanoclusters", cluster_radius=30.0)
    monkeypatch.setattr(pretrained_models, "FEATURE_TILE_SPACINGS", 1e6)
    whole = miro.set_params(tile_size=None).transform(X)
    tiled = miro.set_params(tile_size=400.0).transform(X)
    np.testing.assert_allclose(tiled, whole, atol=1e-3)
    assert np.abs(whole - X).max() > 1.0  # the network moved something



def test_a_cluster_radius_set_after_pretrained_is_checked_by_name(fov):
    X, _ = fov
    miro = MIROTransformer.pretrained("nanoclusters").set_params(cluster_radius=-30.0)
    with pytest.raises(ValueError, match="'cluster_radius' parameter of MIROTransformer must be"):
        miro.transform(X)
    with pytest.raises(ValueError, match="'cluster_radius' parameter of MIROTransformer must be"):
        miro.collapse_fov(X)
    with pytest.raises(ValueError, match="'cluster_radius' parameter of MIROTransformer must be"):
        MIROClusterer(miro).fit(X)


def test_copies_of_localisations_do_not_throw_the_zero_shot_network_off(fov):
    # Exact copies (a file read twice, rounded coordinates) used to enter the graph
    # as extra nodes on zero-length edges: with every localisation tripled, the
    # network moved points millions of nm. Each location is now one node.
    X, y = fov
    miro = MIROTransformer.pretrained(verbose=0)
    side = float(np.ptp(X, axis=0).max())
    for copies in (2, 3):
        Z = np.repeat(X, copies, axis=0)
        moved = miro.transform(Z)
        assert np.linalg.norm(moved - Z, axis=1).max() < 0.1 * side
        # Copies of one location move together.
        np.testing.assert_array_equal(moved[::copies], moved[copies - 1::copies])
        labels = MIROClusterer(miro).fit_predict(Z)
        assert adjusted_rand_score(np.repeat(y, copies), labels) > 0.7


def test_pass_counts_are_checked_everywhere(fov):
    X, y = fov
    miro = MIROTransformer.pretrained(verbose=0)
    for bad in (0, -2, 2.0, True):
        with pytest.raises(ValueError, match="passes must be an integer >= 1"):
            miro.model_.collapse_fov(X, passes=bad)
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError, match="n_passes must be an integer >= 0"):
            collapse_repeatedly(miro, X, bad)
    with pytest.raises(ValueError, match="collapse_passes must be an integer >= 1 or 'auto'; got True"):
        MIROClusterer(miro, collapse_passes=True).fit(X)


def test_cli_names_a_file_too_small_for_zero_shot(fov, tmp_path, capsys):
    X, _ = fov
    good, tiny = tmp_path / "good.csv", tmp_path / "tiny.csv"
    pd.DataFrame({"x": X[:, 0], "y": X[:, 1]}).to_csv(good, index=False)
    pd.DataFrame({"x": [1.0], "y": [2.0]}).to_csv(tiny, index=False)
    args = ["cluster", "--pretrained", "nanoclusters", str(good), str(tiny), "--output-dir", str(tmp_path / "out")]
    (tmp_path / "out").mkdir()
    assert main(args) == 2
    assert "tiny.csv has 1 localisation(s)" in capsys.readouterr().err
    # Checked before any clustering: nothing written for the good file either.
    assert not (tmp_path / "out" / "good_clusters.csv").exists()


def test_labelled_copies_are_merged_before_training(fov):
    # Exact copies in the labelled data would train on graphs inference never
    # shows the network (measured: doubling every localisation took the test
    # clusters' compression from 0.25 to 0.62). Merged, a doubled FOV trains
    # the very network the FOV itself does.
    X, y = fov
    clean = MIROTransformer(**_tiny()).fit(X, y)
    with pytest.warns(UserWarning, match=f"{len(X)} of {2 * len(X)} labelled localisations are exact copies"):
        doubled = MIROTransformer(**_tiny()).fit(np.repeat(X, 2, axis=0), np.repeat(y, 2))
    for name, value in clean.network_.state_dict().items():
        assert torch.equal(doubled.network_.state_dict()[name], value)
    # A copy labelled as a cluster wins over a copy labelled background; the input is untouched.
    Xc = np.r_[X, X[:5]]
    yc = np.r_[np.full(len(X), -1), y[:5]]
    yc_before = yc.copy()
    from sklearn_miro.model import merge_copies
    merged = merge_copies(Xc, yc[:, None], None, [np.arange(len(Xc))], warn=False)
    assert merged[0].shape == X.shape
    for k in range(5):
        row = np.flatnonzero(np.all(merged[0] == X[k], axis=1))
        assert row.size == 1 and merged[1][row[0], 0] == y[k]
    np.testing.assert_array_equal(yc, yc_before)


def test_labels_without_a_cluster_of_two_are_flagged(fov):
    X, _ = fov
    singletons = np.arange(len(X))  # one label per localisation: nothing to learn
    with pytest.warns(UserWarning, match="No labelled cluster has two or more localisations"):
        MIROTransformer(**_tiny()).fit(X, singletons)


def test_warm_start_hidden_size_message_names_warm_start(fov):
    X, y = fov
    miro = MIROTransformer(**_tiny()).fit(X, y)
    with pytest.raises(ValueError, match="or warm_start=False"):
        miro.set_params(warm_start=True, hidden_size=miro.network_.hidden_size * 2, init=None).fit(X, y)


def test_the_tiled_inference_bar_says_which_pass(fov, capsys):
    X, _ = fov
    model = MIROTransformer.pretrained("nanoclusters-long").model_
    model.collapse_fov(X, tile_size=300.0, verbose=1, passes=2)
    err = capsys.readouterr().err
    assert "MIRO: tiled inference (pass 1 of 2)" in err and "MIRO: tiled inference (pass 2 of 2)" in err


def test_cli_zero_shot_warns_on_coordinates_that_look_like_um(fov, tmp_path, capsys):
    # Zero-shot clusters in any unit, but its cluster table is written in nm.
    X, _ = fov
    path = tmp_path / "in_um.csv"
    pd.DataFrame({"x": X[:, 0] / 1000, "y": X[:, 1] / 1000}).to_csv(path, index=False)
    assert main(["cluster", "--pretrained", "nanoclusters", str(path), "--output-dir", str(tmp_path)]) == 0
    assert "coordinates look like um" in capsys.readouterr().err
    nm = tmp_path / "in_nm.csv"
    pd.DataFrame({"x": X[:, 0], "y": X[:, 1]}).to_csv(nm, index=False)
    assert main(["cluster", "--pretrained", "nanoclusters", str(nm), "--output-dir", str(tmp_path)]) == 0
    assert "look like um" not in capsys.readouterr().err
