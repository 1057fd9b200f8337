"""Tests of the fitted-model object (sklearn_miro.model) and of its place in the estimators."""

import pickle
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.base import clone
import torch

from sklearn_miro import MIROTransformer
from sklearn_miro.datasets import make_gaussian_clusters
from sklearn_miro.model import STATE_VERSION_KEY, FittedMIRO

DATA = Path(__file__).parent / "data"

# The tiny fit whose output was recorded with the code before the fitted-model
# refactor (commit 47e1cb6), by running exactly this fit and printing
# transform(X, groups=fov)[:4], its sum and the fitted radius, length scale and
# loss curve. The same seed must give the same numbers after the refactor.
# crop_features=False: the numbers were recorded with whole-FOV eigenvector
# features, the inference of the time (training does not depend on it).
GOLDEN_PARAMS = dict(
    hidden_size=8, n_steps=3, n_augmented=6, max_epochs=1, batch_size=3,
    validation_fraction=0.0, verbose=0, random_state=0, crop_features=False,
    # The golden numbers are float32 arithmetic; "auto" would train this
    # from-scratch fit in bfloat16 on CPUs that have it natively.
    precision="float32",
)
# Re-recorded once since (thirty-second session): the crop (the median FOV
# side, 433 nm) is 28 nm taller than the second FOV, and that strip of the
# crops built on it now gets the FOV's background mirrored instead of none
# (augmentation._mirror_tiled). Radius and length scale did not change.
GOLDEN_HEAD = np.array(
    [
        [272.717209111367, 123.07554288404937],
        [19.947121435774335, 32.029027650074454],
        [311.4552252788892, 134.34503620642383],
        [385.656484828593, 62.96747539772266],
    ]
)
GOLDEN_SUM = 61153.24425734709
# What the network saved at commit 47e1cb6 (trained before the mirrored
# background) gives; its training is that of the earlier golden numbers.
SAVED_HEAD = np.array(
    [
        [272.44754803169394, 123.14374325189578],
        [19.479917783081156, 32.26819170378404],
        [310.99023648541447, 134.3910045765416],
        [385.47484177381295, 63.04164675697177],
    ]
)
GOLDEN_RADIUS = 178.59874942998084
GOLDEN_LENGTH_SCALE = 12.896892500437998
GOLDEN_LOSS = [7.718628718867683]


@pytest.fixture(scope="module")
def data():
    return make_gaussian_clusters(
        n_fovs=2, n_clusters=3, n_localizations=12, fov_size=400, random_state=0
    )


@pytest.fixture(scope="module")
def fitted(data):
    X, y, fov = data
    return MIROTransformer(**GOLDEN_PARAMS).fit(X, y, groups=fov)


def test_fixed_seed_fit_gives_the_numbers_of_the_code_before_the_refactor(data, fitted):
    X, _, fov = data
    Xt = fitted.transform(X, groups=fov)
    # Training is the same computation, so the fitted radius, length scale
    # and loss agree to rounding (below). Inference has since fused the
    # network's constant edge term into one (H, 3) map (a float32
    # re-association), so the collapsed coordinates agree to float32 rounding
    # of the displacements: 1e-5 nm on displacements of a few nm.
    np.testing.assert_allclose(Xt[:4], GOLDEN_HEAD, rtol=0, atol=1e-5)
    assert Xt.sum() == pytest.approx(GOLDEN_SUM, abs=1e-4)
    assert fitted.connectivity_radius_ == pytest.approx(GOLDEN_RADIUS, rel=1e-12)
    assert fitted.length_scale_ == pytest.approx(GOLDEN_LENGTH_SCALE, rel=1e-12)
    np.testing.assert_allclose(fitted.loss_curve_, GOLDEN_LOSS, rtol=1e-6)


def test_fitted_attributes_are_read_only_views_of_the_model(fitted):
    assert isinstance(fitted.model_, FittedMIRO)
    assert fitted.network_ is fitted.model_.network
    assert fitted.connectivity_radius_ == fitted.model_.connectivity_radius
    assert fitted.n_fovs_ == 2 and fitted.model_.n_steps == 3
    with pytest.raises(AttributeError):
        fitted.network_ = None
    assert not hasattr(MIROTransformer(), "network_")


def test_n_steps_changed_after_fit_does_not_change_inference(data, fitted):
    X, _, fov = data
    before = fitted.transform(X, groups=fov)
    changed = pickle.loads(pickle.dumps(fitted)).set_params(n_steps=10)
    np.testing.assert_array_equal(changed.transform(X, groups=fov), before)
    with pytest.raises(ValueError, match="n_steps=3"):
        changed.transform(X, groups=fov, step=5)


def test_pickle_names_the_version_and_round_trips(data, fitted):
    X, _, fov = data
    state = fitted.model_.__getstate__()
    assert isinstance(state[STATE_VERSION_KEY], str)
    assert set(state["network"]) == {"config", "weights"}  # no torch objects in the file
    loaded = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(loaded.transform(X, groups=fov), fitted.transform(X, groups=fov))
    assert joblib.hash(fitted) == joblib.hash(loaded)


@pytest.mark.parametrize("normalization, expected", [(None, "localization_spacing"), ("minmax", None)])
def test_a_model_pickled_before_input_spacing_gets_it_where_it_is_known(fitted, normalization, expected):
    # Without normalisation the training spacing was in the units of X already;
    # a normalised model's is unknown (NaN: its units check cannot run).
    assert fitted.model_.input_spacing == fitted.model_.localization_spacing
    state = fitted.model_.__getstate__()
    del state["input_spacing"]
    state["fov_normalization"] = normalization
    old = FittedMIRO.__new__(FittedMIRO)
    old.__setstate__(state)
    if expected is None:
        assert np.isnan(old.input_spacing)
    else:
        assert old.input_spacing == getattr(fitted.model_, expected)


def test_estimator_saved_before_the_refactor_still_loads(data):
    # Written by joblib.dump of the GOLDEN_PARAMS fit with the code of commit
    # 47e1cb6 (network and 13 fitted attributes on the estimator itself).
    X, _, fov = data
    old = joblib.load(DATA / "miro_transformer_pre_refactor.joblib")
    assert isinstance(old.model_, FittedMIRO)
    assert old.connectivity_radius_ == pytest.approx(GOLDEN_RADIUS, rel=1e-12)
    Xt = old.transform(X, groups=fov)
    np.testing.assert_allclose(Xt[:4], SAVED_HEAD, rtol=0, atol=1e-5)  # float32 rounding, as above
    # Parameters added since get the values that reproduce how it was trained.
    params = old.get_params()
    assert (params["init"], params["warm_start"], params["cluster_radius"]) == (None, False, None)
    assert clone(old).get_params()["hidden_size"] == params["hidden_size"]


def test_unreadable_old_state_names_the_version():
    state = {"_network_state": {"config": {}, "weights": {}}, "n_steps": 3}
    with pytest.raises(ValueError, match="sklearn_miro 0.1.0 before the fitted-model refactor"):
        MIROTransformer().__setstate__(state)


def test_collapse_reports_isolated_localisations(fitted):
    # Two far-apart points: no edge shorter than the radius, so nothing moves.
    X = np.array([[0.0, 0.0], [1e5, 1e5], [2e5, 0.0]])
    out = fitted.model_.collapse(X, [np.arange(3)], [0, 2], torch.device("cpu"))
    assert out.moved.shape == (2, 3, 2) and out.outputs.shape == (2, 3, 2)
    assert not out.connected.any()
    np.testing.assert_array_equal(out.moved[1], X)


def test_training_runs_under_deterministic_cpu_kernels(monkeypatch):
    # Two fits with the same random_state diverged with two torch threads
    # (sklearn_miro.network.reproducible_training); training now runs with
    # deterministic kernels on the CPU, and the user's setting comes back after.
    import sklearn_miro.model as model_module

    seen = []
    original = model_module.fit_network

    def recording(*args, **kwargs):
        seen.append(torch.are_deterministic_algorithms_enabled())
        return original(*args, **kwargs)

    monkeypatch.setattr(model_module, "fit_network", recording)
    X, y, fov = make_gaussian_clusters(n_fovs=1, n_clusters=4, n_background=20, fov_size=600.0, random_state=0)
    assert not torch.are_deterministic_algorithms_enabled()
    MIROTransformer(hidden_size=8, n_steps=2, n_augmented=2, max_epochs=1, batch_size=2,
                    validation_fraction=0.0, verbose=0, random_state=0).fit(X, y)
    assert seen == [True]
    assert not torch.are_deterministic_algorithms_enabled()


def test_reproducible_training_leaves_other_devices_and_user_settings_alone():
    from sklearn_miro.network import reproducible_training

    with reproducible_training("cuda"):
        assert not torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        with reproducible_training("cpu"):
            assert torch.are_deterministic_algorithms_enabled()
        assert torch.are_deterministic_algorithms_enabled()  # the user's choice stays
    finally:
        torch.use_deterministic_algorithms(False)


def test_training_compression_is_measured_in_the_units_of_x_with_reference_normalisation():
    # "reference" maps outputs to the authors' clustering space, not to X's
    # units: the compression once mixed the two (2447 at a 1e5-nm offset).
    import warnings

    X, y, _ = make_gaussian_clusters(n_fovs=1, n_clusters=5, n_localizations=15, fov_size=800.0,
                                     random_state=0)
    params = dict(hidden_size=8, n_steps=3, n_augmented=6, max_epochs=1, batch_size=2, verbose=0,
                  init=None, connectivity_radius=0.2, length_scale="radius",
                  fov_normalization="reference", augmentation={"fov_size": None}, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        near = MIROTransformer(**params).fit(X, y)
        far = MIROTransformer(**params).fit(X + 1e5, y)
    assert near.training_compression_ == pytest.approx(far.training_compression_, rel=1e-6)
    # the same value as measured by hand on transform's output mapped back to X's units
    from sklearn_miro.diagnostics import cluster_compression

    low, high = X.min(axis=0), X.max(axis=0)
    moved = near.transform(X) / high * (high - low) + low
    assert near.training_compression_ == pytest.approx(cluster_compression(X, moved, y)["compression"])


def test_a_training_config_with_a_number_of_steps_trains_one_scale():
    from sklearn_miro.augmentation import AugmentationOptions
    from sklearn_miro.model import TrainingConfig, train_model

    X, y, _ = make_gaussian_clusters(n_fovs=1, n_clusters=5, n_localizations=15, fov_size=800.0,
                                     random_state=0)
    config = TrainingConfig(hidden_size=8, n_steps=3, n_augmented=4, max_epochs=1, batch_size=2,
                            augmentation=AugmentationOptions(fov_size=400.0))
    model = train_model(X, y[:, None], None, [np.arange(len(X))], config)
    assert model.n_steps == 3 and list(model.step_scales) == [0, 0, 0]
