"""Tests of MIROTransformer and MIROClusterer (tiny models, tiny point clouds)."""

import copy
import pickle
import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
import sklearn
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.cluster import DBSCAN
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import GridSearchCV, GroupKFold
from sklearn.pipeline import Pipeline

from sklearn_miro import MIROClusterer, MIROTransformer
from sklearn_miro.datasets import make_gaussian_clusters
from sklearn_miro.domain import UnitMismatchWarning
from sklearn_miro.estimators import collapse_repeatedly, resolve_device
from sklearn_miro.grid_dbscan import DBSCANStar

from _transformers import MovesNothing, fitted_as

TINY = dict(
    hidden_size=8,
    n_steps=3,
    n_augmented=6,
    max_epochs=1,
    batch_size=3,
    validation_fraction=0.0,
    verbose=0,
)


def tiny(**kwargs):
    return MIROTransformer(**{**TINY, "random_state": 0, **kwargs})


@pytest.fixture(scope="module")
def data():
    X, y, fov = make_gaussian_clusters(
        n_fovs=3, n_clusters=4, n_localizations=15, fov_size=500, random_state=0
    )
    return X, y, fov


@pytest.fixture(scope="module")
def fitted(data):
    X, y, fov = data
    return tiny().fit(X, y, groups=fov)


# ------------------------------------------------------------- transformer


def test_transform_returns_collapsed_coordinates_in_input_units(data, fitted):
    X, y, fov = data
    Xc = fitted.transform(X[fov == 0])
    assert Xc.shape == (np.sum(fov == 0), 2)
    assert Xc.dtype == np.float64
    # Displacements are of the size of the clusters, not of the FOV.
    assert np.median(np.linalg.norm(Xc - X[fov == 0], axis=1)) < 200
    assert fitted.n_features_in_ == 2
    assert fitted.connectivity_radius_ > 0 and fitted.length_scale_ > 0
    assert fitted.n_fovs_ == 3
    assert len(fitted.loss_curve_) == fitted.n_epochs_ == 1


def test_groups_process_each_fov_on_its_own(data, fitted):
    X, y, fov = data
    together = fitted.transform(X, groups=fov)
    for k in range(3):
        np.testing.assert_allclose(together[fov == k], fitted.transform(X[fov == k]), atol=1e-9)


def test_step_selects_an_intermediate_prediction(data, fitted):
    X, _, fov = data
    first = fitted.transform(X[fov == 0], step=0)
    last = fitted.transform(X[fov == 0], step=-1)
    assert not np.allclose(first, last)
    np.testing.assert_allclose(last, fitted.transform(X[fov == 0]))
    with pytest.raises(ValueError, match="step must be an integer"):
        fitted.transform(X[fov == 0], step=3)


def test_input_is_never_modified(data):
    X, y, fov = data
    X0, y0, fov0 = X.copy(), y.copy(), fov.copy()
    model = tiny().fit(X, y, groups=fov)
    model.transform(X, groups=fov)
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(y, y0)
    np.testing.assert_array_equal(fov, fov0)


def test_dataframe_input_uses_its_x_y_columns(data):
    X, y, fov = data
    thunderstorm = pd.DataFrame({"frame": np.arange(len(X)), "x [nm]": X[:, 0], "y [nm]": X[:, 1]})
    model = tiny().fit(thunderstorm, y, groups=fov)
    np.testing.assert_array_equal(model.feature_names_in_, ["x", "y"])
    benchmark = pd.DataFrame({"x": X[:, 0], "y": X[:, 1], "index": y})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        from_df = model.transform(benchmark[fov == 0])
    np.testing.assert_allclose(from_df, tiny().fit(X, y, groups=fov).transform(X[fov == 0]))
    with pytest.raises(ValueError, match="Could not find the coordinate columns"):
        model.transform(pd.DataFrame({"a": [1.0], "b": [2.0], "c": [3.0]}))


def test_output_feature_names_are_the_inputs_coordinate_names(data, fitted):
    # The output is the moved x and y: named as the input's coordinates when it
    # had names (scikit-learn's OneToOneFeatureMixin), x0 and x1 otherwise.
    X, y, fov = data
    np.testing.assert_array_equal(fitted.get_feature_names_out(), ["x0", "x1"])
    thunderstorm = pd.DataFrame({"x [nm]": X[:, 0], "y [nm]": X[:, 1], "frame": 1})
    model = tiny().fit(thunderstorm, y, groups=fov)
    np.testing.assert_array_equal(model.get_feature_names_out(), ["x", "y"])
    out = model.set_output(transform="pandas").transform(thunderstorm[fov == 0])
    assert list(out.columns) == ["x", "y"]
    np.testing.assert_array_equal(out.index, np.flatnonzero(fov == 0))
    # A pretrained model fitted on no DataFrame names them x and y too.
    pretrained = MIROTransformer.pretrained(verbose=0).set_output(transform="pandas")
    np.testing.assert_array_equal(pretrained.get_feature_names_out(), ["x", "y"])
    assert list(pretrained.transform(thunderstorm[fov == 0]).columns) == ["x", "y"]


def test_isolated_and_single_localisations_are_not_moved(fitted):
    X = np.array([[0.0, 0.0], [1e6, 1e6]])
    np.testing.assert_array_equal(fitted.transform(X), X)
    np.testing.assert_array_equal(fitted.transform(X[:1]), X[:1])


def test_same_random_state_gives_the_same_model(data):
    X, y, fov = data
    a = tiny(random_state=3).fit(X, y, groups=fov)
    b = tiny(random_state=3).fit(X, y, groups=fov)
    c = tiny(random_state=4).fit(X, y, groups=fov)
    for (name, pa), pb in zip(a.network_.state_dict().items(), b.network_.state_dict().values()):
        assert torch.equal(pa, pb), name
    np.testing.assert_array_equal(a.transform(X[fov == 1]), b.transform(X[fov == 1]))
    assert not np.allclose(a.transform(X[fov == 1]), c.transform(X[fov == 1]))


def test_random_state_does_not_touch_global_rng_state(data):
    X, y, fov = data
    torch.manual_seed(123)
    np.random.seed(123)
    expected_torch, expected_np = torch.rand(1), np.random.rand()
    torch.manual_seed(123)
    np.random.seed(123)
    tiny().fit(X, y, groups=fov)
    assert torch.equal(torch.rand(1), expected_torch)
    assert np.random.rand() == expected_np


def test_fitted_model_pickles_and_lives_on_the_cpu(data, fitted, tmp_path):
    X, _, fov = data
    assert all(p.device.type == "cpu" for p in fitted.network_.parameters())
    path = tmp_path / "miro.joblib"
    joblib.dump(fitted, path)
    loaded = joblib.load(path)
    np.testing.assert_array_equal(loaded.transform(X[fov == 2]), fitted.transform(X[fov == 2]))
    again = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(again.transform(X[fov == 2]), fitted.transform(X[fov == 2]))


def test_progress_bar_follows_verbose(data, capsys):
    X, y, fov = data
    tiny(verbose=1).fit(X, y, groups=fov)
    assert "MIRO: training" in capsys.readouterr().err
    tiny(verbose=0).fit(X, y, groups=fov)
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""


def test_validation_fraction_keeps_the_best_epoch(data):
    X, y, fov = data
    model = tiny(validation_fraction=0.5, max_epochs=3).fit(X, y, groups=fov)
    assert len(model.validation_loss_curve_) == 3
    assert model.best_epoch_ == int(np.argmin(model.validation_loss_curve_))


def test_stacked_fovs_without_groups_warn(data, fitted):
    X, _, fov = data
    stacked = np.concatenate([X[fov == 0]] * 4)
    with pytest.warns(UserWarning, match="pass groups=") as record:
        fitted.transform(stacked)
    assert [w.filename for w in record if "pass groups=" in str(w.message)] == [__file__]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fitted.transform(X[fov == 0])


def _density_ratio(model, X):
    """X's localisations per bounding-box area over the training FOVs' median density."""
    return X.shape[0] / np.prod(np.ptp(X, axis=0)) / model.fov_density_


@pytest.mark.parametrize("k, stack", [
    # Copies of one training FOV: bounding boxes coincide, the density is k times the FOV's.
    (2, lambda X, fov: np.concatenate([X[fov == 1]] * 2)),
    (3, lambda X, fov: np.concatenate([X[fov == 1]] * 3)),
    # Four other FOVs of the training data's kind: their union's box is larger than each.
    (4, lambda X, fov: make_gaussian_clusters(n_fovs=4, n_clusters=4, n_localizations=15, fov_size=500,
                                              random_state=20)[0]),
])
def test_stacked_fovs_warn(data, fitted, k, stack):
    X, _, fov = data
    stacked = stack(X, fov)
    assert _density_ratio(fitted, stacked) > 1.8
    with pytest.warns(UserWarning, match=f"X has {_density_ratio(fitted, stacked):.1f} times the localisation "
                                         "density of the training FOVs"):
        fitted.transform(stacked)


def test_a_somewhat_denser_fov_is_not_taken_for_stacked_fovs(data, fitted):
    # 1.5 times the clusters (and background) of the training FOVs on the same area:
    # within what FOVs of one sample differ (0.65-1.69 times their median for FGFR1).
    denser, _, _ = make_gaussian_clusters(n_fovs=1, n_clusters=6, n_localizations=15, fov_size=500,
                                          random_state=10)
    assert 1.2 < _density_ratio(fitted, denser) < 1.75
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fitted.transform(denser)


def test_a_fov_twice_as_dense_gets_both_causes_named(data, fitted):
    # As dense as two stacked FOVs: the density cannot tell them apart, so the
    # message names both (and a FOV twice as dense as training deserves a check).
    denser, _, _ = make_gaussian_clusters(n_fovs=1, n_clusters=8, n_localizations=15, fov_size=500,
                                          random_state=10)
    assert 1.8 < _density_ratio(fitted, denser) < 2.2
    with pytest.warns(UserWarning, match="pass groups=.*If it is one FOV, it is denser"):
        fitted.transform(denser)


def test_device_resolution():
    assert resolve_device("cpu") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            resolve_device("cuda")
    with pytest.raises(ValueError, match="device must be"):
        resolve_device("tpu")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_trained_model_runs_on_cpu(data):
    X, y, fov = data
    model = tiny(device="cuda").fit(X, y, groups=fov)
    assert model.device_.startswith("cuda")
    assert all(p.device.type == "cpu" for p in model.network_.parameters())
    on_gpu = model.transform(X[fov == 0])
    cpu = clone(model).set_params(device="cpu")
    cpu.__dict__.update({k: v for k, v in model.__dict__.items() if k.endswith("_")})
    np.testing.assert_allclose(cpu.transform(X[fov == 0]), on_gpu, atol=1e-3)


# ------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    "X, message",
    [
        (np.array([[0.0, np.nan], [1.0, 1.0], [2.0, 2.0]]), "NaN"),
        (np.array([[0.0, np.inf], [1.0, 1.0], [2.0, 2.0]]), "infinity"),
        (np.zeros((3, 3)), "shape \\(n_localizations, 2\\)"),
        (np.zeros((3,)), "shape \\(n_localizations, 2\\).*shape \\(3,\\)"),
        (np.zeros((1, 2)), "at least 2"),
        (np.empty((0, 2)), "0 sample"),
    ],
)
def test_bad_coordinates_are_rejected(X, message):
    with pytest.raises(ValueError, match=message):
        tiny().fit(X, np.zeros(len(X), dtype=int))


def test_bad_labels_and_groups_are_rejected(data):
    X, y, fov = data
    with pytest.raises(ValueError, match="same length"):
        tiny().fit(X, y[:-1])
    with pytest.raises(ValueError, match="no cluster"):
        tiny().fit(X, np.full(len(X), -1))
    with pytest.raises(ValueError, match="integer cluster labels"):
        tiny().fit(X, X[:, 0])
    with pytest.raises(ValueError, match="requires y to be passed"):
        tiny().fit(X, None)
    with pytest.raises(ValueError, match="groups has"):
        tiny().fit(X, y, groups=fov[:-1])


@pytest.mark.parametrize(
    "params, message",
    [
        (dict(hidden_size=0), r"'hidden_size' parameter .* must be an int in the range \[1, inf\)"),
        (dict(n_steps=2.5), r"'n_steps' parameter .* must be an int"),
        (dict(connectivity_radius=-1.0), r"'connectivity_radius' parameter .* range \(0.0, inf\)"),
        (dict(connectivity_radius=np.inf), r"'connectivity_radius' parameter .* Got inf instead"),
        (dict(length_scale="big"), r"'length_scale' parameter .* must be a float .* Got 'big'"),
        (dict(alpha=-1), r"'alpha' parameter .* range \[0.0, inf\)"),
        (dict(learning_rate=0), r"'learning_rate' parameter .* range \(0.0, inf\)"),
        (dict(lr_schedule="step"), "lr_schedule"),
        (dict(validation_fraction=1.0), "validation_fraction"),
        (dict(device="tpu"), "device must be"),
        (dict(augmentation={"rotation": True}), "Unknown augmentation option"),
        (dict(augmentation={"dropout": 1.5}), "dropout"),
        (dict(eigenvector_normalization="l2"), "eigenvector_normalization"),
        (dict(verbose="yes"), "verbose"),
    ],
)
def test_bad_parameters_are_rejected_at_fit(data, params, message):
    X, y, fov = data
    model = tiny(**params)  # constructing never validates
    with pytest.raises(ValueError, match=message):
        model.fit(X, y, groups=fov)


def test_unfitted_transform_raises(data):
    with pytest.raises(NotFittedError):
        tiny().transform(data[0])
    with pytest.raises(NotFittedError):
        MIROClusterer().predict(data[0])


def test_transform_checks_the_number_of_features(fitted):
    with pytest.raises(ValueError, match="shape \\(n_localizations, 2\\)|features"):
        fitted.transform(np.zeros((5, 3)))


# --------------------------------------------------------------- properties


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), data=st.data())
def test_permuting_a_fov_permutes_the_output(fitted, seed, data):
    rng = np.random.default_rng(seed)
    X = rng.uniform(0, 300, (60, 2))
    perm = np.array(data.draw(st.permutations(range(60))))
    np.testing.assert_allclose(fitted.transform(X[perm]), fitted.transform(X)[perm], atol=1e-3)


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    shift=st.tuples(st.floats(-5e4, 5e4), st.floats(-5e4, 5e4)),
)
def test_translating_a_fov_translates_the_output(fitted, seed, shift):
    rng = np.random.default_rng(seed)
    X = rng.uniform(0, 300, (60, 2))
    shift = np.array(shift)
    np.testing.assert_allclose(fitted.transform(X + shift), fitted.transform(X) + shift, atol=1e-3)


@settings(max_examples=5, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_same_random_state_same_model_property(data, seed):
    X, y, fov = data
    a = tiny(random_state=seed, n_augmented=3).fit(X, y, groups=fov)
    b = tiny(random_state=seed, n_augmented=3).fit(X, y, groups=fov)
    np.testing.assert_array_equal(a.transform(X[fov == 0]), b.transform(X[fov == 0]))


# ---------------------------------------------------------------- clusterer


def test_clusterer_trains_and_predicts_per_fov(data):
    X, y, fov = data
    clu = MIROClusterer(tiny(), eps=20.0, min_samples=3).fit(X, y, groups=fov)
    assert clu.labels_.shape == (len(X),)
    assert clu.eps_ == 20.0 and clu.min_samples_ == 3
    labels = clu.predict(X, groups=fov)
    np.testing.assert_array_equal(labels, clu.labels_)
    # Cluster ids are unique across FOVs.
    for k in range(3):
        for j in range(k + 1, 3):
            shared = set(labels[(fov == k) & (labels >= 0)]) & set(labels[(fov == j) & (labels >= 0)])
            assert not shared
    # One FOV on its own gives the same partition as inside the batch.
    alone = clu.predict(X[fov == 1])
    inside = labels[fov == 1]
    assert sklearn.metrics.adjusted_rand_score(alone, inside) == 1.0


def test_clusterer_chooses_dbscan_parameters_on_training_fovs(data):
    X, y, fov = data
    clu = MIROClusterer(tiny()).fit(X, y, groups=fov)
    assert clu.eps_ in clu.eps_grid_ and clu.min_samples_ in clu.min_samples_grid_
    i = list(clu.eps_grid_).index(clu.eps_)
    j = list(clu.min_samples_grid_).index(clu.min_samples_)
    assert clu.tuning_scores_[i, j] == clu.tuning_scores_.max()
    # min_samples candidates stop at the median training cluster size (15).
    assert clu.min_samples_grid_.max() <= 15


def test_dbscan_search_shows_a_progress_bar_when_the_transformer_is_verbose(data, fitted, capsys):
    X, y, fov = data
    talkative = copy.deepcopy(fitted).set_params(verbose=1)
    sequential = MIROClusterer(FrozenEstimator(talkative)).fit(X, y, groups=fov)
    err = capsys.readouterr().err
    assert "MIRO: choosing the parameters of DBSCAN and DBSCAN* (1 pass)" in err
    assert "MIRO: choosing the parameters of DBSCAN and DBSCAN* (2 passes)" in err
    MIROClusterer(FrozenEstimator(fitted)).fit(X, y, groups=fov)  # verbose=0: silent
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""
    # Parallel scoring advances the bar from this process only; the same choice either way.
    parallel = MIROClusterer(FrozenEstimator(talkative), n_jobs=2).fit(X, y, groups=fov)
    assert "MIRO: choosing the parameters of DBSCAN" in capsys.readouterr().err
    np.testing.assert_array_equal(parallel.tuning_scores_, sequential.tuning_scores_)
    # The bar is drawn once its total is known: no "0it" line first, and none at
    # all when eps and min_samples are given (one candidate per rule and pass).
    assert ": 0it [" not in err  # tqdm's line for a bar without a total
    MIROClusterer(FrozenEstimator(talkative), eps=30.0, min_samples=5).fit(X, y, groups=fov)
    assert "choosing the parameters" not in capsys.readouterr().err


def test_frozen_transformer_is_used_as_is(data, fitted):
    X, y, fov = data
    weights = {k: v.clone() for k, v in fitted.network_.state_dict().items()}
    clu = MIROClusterer(FrozenEstimator(fitted), eps=20.0, min_samples=3).fit(X, y, groups=fov)
    assert clu.transformer_.estimator is fitted
    for k, v in fitted.network_.state_dict().items():
        assert torch.equal(v, weights[k])
    # Cloning a clusterer with a frozen transformer keeps the trained network.
    assert clone(clu).transformer.estimator is fitted
    # Without y, a fitted transformer still works when eps is given.
    MIROClusterer(FrozenEstimator(fitted), eps=20.0, min_samples=3).fit(X, groups=fov)


def test_plain_fitted_transformer_is_not_retrained(data, fitted):
    X, y, fov = data
    clu = MIROClusterer(fitted, eps=20.0, min_samples=3).fit(X, y, groups=fov)
    assert clu.transformer_ is fitted


def test_second_collapse_pass_is_the_transformer_applied_to_its_own_output(data, fitted):
    X, y, fov = data
    clu = MIROClusterer(FrozenEstimator(fitted), collapse_passes=2, eps=20.0, min_samples=3)
    clu.fit(X, y, groups=fov)
    assert clu.collapse_passes_ == 2 and clu.collapse_pass_scores_ is None
    new = X[fov == 1]
    twice = fitted.transform(fitted.transform(new))
    expected = DBSCAN(eps=20.0, min_samples=3).fit_predict(twice)
    np.testing.assert_array_equal(clu.predict(new), expected)
    # The training labels come from the same two passes.
    np.testing.assert_array_equal(clu.predict(X, groups=fov), clu.labels_)


class _TightCollapse(MIROTransformer):
    """The fitted test transformer, every pass's output shrunk 50x towards its mean: a tight collapse."""

    def _collapse(self, X, fov_indices, steps):
        collapsed = super()._collapse(X, fov_indices, steps)
        centre = collapsed.moved.mean(axis=1, keepdims=True)
        return collapsed._replace(moved=centre + (collapsed.moved - centre) / 50.0)


def _tight(fitted):
    return fitted_as(_TightCollapse, fitted)


def test_only_the_users_coordinates_get_the_units_check(data, fitted):
    # A second pass sees localisations the first one brought together: their
    # spacing is far below the training data's on purpose, and must not be
    # reported as coordinates in other units (it was, on two-pass fits).
    X, y, fov = data
    tight = _tight(fitted)
    once = tight.transform(X[fov == 1])
    with pytest.warns(UnitMismatchWarning, match="different units"):
        twice = tight.transform(once)  # what the second pass used to do
    with pytest.warns(UnitMismatchWarning):
        collapse_repeatedly(fitted, X[fov == 1] / 50.0, 2)  # the user's coordinates: checked
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnitMismatchWarning)
        np.testing.assert_array_equal(collapse_repeatedly(tight, X[fov == 1], 2), twice)
        for passes in (2, "auto"):  # "auto" scores an extra pass on its own output
            clu = MIROClusterer(FrozenEstimator(tight), collapse_passes=passes).fit(X, y, groups=fov)
            clu.predict(X, groups=fov)


def test_skipping_the_units_check_stays_in_its_thread(data, fitted):
    # The skip is a context variable, not a warnings filter: FOVs predicted in
    # threads (joblib's threading backend, Dask workers) neither leak it nor
    # lose a check that belongs to another thread.
    from joblib import parallel_config

    X, y, fov = data
    clu = MIROClusterer(FrozenEstimator(_tight(fitted)), collapse_passes=2, eps=0.5, min_samples=3, n_jobs=2)
    clu.fit(X, groups=fov)
    with warnings.catch_warnings(), parallel_config(backend="threading"):
        warnings.simplefilter("error", UnitMismatchWarning)
        clu.predict(X, groups=fov)
    with pytest.warns(UnitMismatchWarning):
        fitted.transform(X[fov == 1] / 50.0)


def test_auto_collapse_passes_keeps_the_better_training_score(data, fitted):
    X, y, fov = data
    clu = MIROClusterer(FrozenEstimator(fitted), collapse_passes="auto").fit(X, y, groups=fov)
    scores = clu.collapse_pass_scores_
    assert set(scores) == {1, 2}
    assert clu.collapse_passes_ == (2 if scores[2] > scores[1] else 1)
    assert np.max(clu.tuning_scores_) == scores[clu.collapse_passes_]
    # The same choice as fitting with that number of passes given.
    fixed = MIROClusterer(FrozenEstimator(fitted), collapse_passes=clu.collapse_passes_).fit(X, y, groups=fov)
    assert (fixed.eps_, fixed.min_samples_) == (clu.eps_, clu.min_samples_)
    np.testing.assert_array_equal(fixed.labels_, clu.labels_)
    # Without labels there is nothing to choose with: one pass.
    unlabelled = MIROClusterer(FrozenEstimator(fitted), collapse_passes="auto", eps=20.0, min_samples=3)
    assert unlabelled.fit(X, groups=fov).collapse_passes_ == 1


def _unmoved(fitted):
    return fitted_as(MovesNothing, fitted)


def test_border_points_background_is_dbscan_star_on_the_collapsed_fovs(data, fitted):
    X, y, fov = data
    clu = MIROClusterer(FrozenEstimator(fitted), collapse_passes=1, eps=20.0, min_samples=5,
                        border_points="background").fit(X, y, groups=fov)
    # Given, not chosen: no scores.
    assert clu.border_points_ == "background" and clu.border_point_scores_ is None
    assert isinstance(clu.clusterer_, DBSCANStar)
    new = X[fov == 1]
    star = DBSCANStar(eps=20.0, min_samples=5).fit(fitted.transform(new))
    np.testing.assert_array_equal(clu.predict(new), star.labels_)
    border = np.ones(len(new), dtype=bool)
    border[star.core_sample_indices_] = False
    assert np.all(star.labels_[border] == -1)
    np.testing.assert_array_equal(clu.predict(X, groups=fov), clu.labels_)


def test_dbscan_star_keeps_a_stray_next_to_a_collapsed_cluster_out_of_it(fitted):
    # What a collapse can leave: each cluster is two tight blobs of 8, 3 nm
    # apart, and one background localisation 1.5 nm from a blob, sideways.
    # With eps = 3.15 nm, DBSCAN needs to join the blobs, and then absorbs the
    # stray (9 neighbours: a core point for min_samples <= 9, a border point
    # above) for every min_samples; DBSCAN* leaves it out for min_samples 10
    # to 16 (the blob points have 16 or 17 neighbours). With labels, "auto"
    # must see that and choose DBSCAN*.
    rng = np.random.default_rng(0)
    X, y, fov, stray = [], [], [], []
    for f in range(2):
        for k, c in enumerate(rng.uniform(100, 900, (5, 2))):
            X += [c + rng.normal(0, 0.05, (8, 2)), c + [3.0, 0.0] + rng.normal(0, 0.05, (8, 2)),
                  c[None] + [[0.0, 1.5]]]
            y += [np.full(16, k), [-1]]
            stray += [np.zeros(16, bool), [True]]
        X.append(rng.uniform(0, 1000, (30, 2)))
        y.append(np.full(30, -1))
        stray.append(np.zeros(30, bool))
        fov += [f] * (5 * 17 + 30)
    X, y, fov, stray = np.concatenate(X), np.concatenate(y), np.array(fov), np.concatenate(stray)
    unmoved = FrozenEstimator(_unmoved(fitted))
    labels = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnitMismatchWarning)  # far denser than the training data
        for rule in ("cluster", "background", "auto"):
            # No trimming: it would let the stray go as well, whatever the border rule.
            clu = MIROClusterer(unmoved, collapse_passes=1, eps=3.15, border_points=rule, outlier_radius=None)
            labels[rule] = clu.fit_predict(X, y, groups=fov)
    assert np.all(labels["cluster"][stray] >= 0) and np.all(labels["cluster"][y >= 0] >= 0)
    np.testing.assert_array_equal(labels["background"] >= 0, y >= 0)
    assert clu.border_points_ == "background"  # the "auto" fit
    assert clu.border_point_scores_["background"] > clu.border_point_scores_["cluster"]
    np.testing.assert_array_equal(labels["auto"], labels["background"])


def test_auto_border_points_keeps_the_better_training_score(data, fitted):
    X, y, fov = data
    clu = MIROClusterer(FrozenEstimator(fitted)).fit(X, y, groups=fov)
    scores = clu.border_point_scores_
    assert set(scores) == {"cluster", "background"}
    assert clu.border_points_ == ("background" if scores["background"] > scores["cluster"] else "cluster")
    assert np.max(clu.tuning_scores_) == max(scores.values()) == max(clu.collapse_pass_scores_.values())
    # The same choice as fitting with that rule (and number of passes) given.
    fixed = MIROClusterer(FrozenEstimator(fitted), collapse_passes=clu.collapse_passes_,
                          border_points=clu.border_points_).fit(X, y, groups=fov)
    assert (fixed.eps_, fixed.min_samples_) == (clu.eps_, clu.min_samples_)
    np.testing.assert_array_equal(fixed.labels_, clu.labels_)
    # Without labels, or with another clusterer, there is nothing to choose: DBSCAN.
    unlabelled = MIROClusterer(FrozenEstimator(fitted), eps=20.0, min_samples=3).fit(X, groups=fov)
    assert unlabelled.border_points_ == "cluster" and type(unlabelled.clusterer_) is DBSCAN


def test_clusterers_pickled_before_border_points_keep_dbscan(data, fitted):
    X, y, fov = data
    clu = MIROClusterer(FrozenEstimator(fitted), eps=20.0, min_samples=3, border_points="cluster")
    clu.fit(X, y, groups=fov)
    state = dict(clu.__getstate__())
    for name in ("border_points", "border_points_", "border_point_scores_"):
        state.pop(name)
    old = MIROClusterer.__new__(MIROClusterer)
    old.__setstate__(state)
    assert old.border_points == old.border_points_ == "cluster" and old.border_point_scores_ is None
    np.testing.assert_array_equal(old.predict(X, groups=fov), clu.labels_)


def test_bad_border_points_is_rejected(data, fitted):
    X, y, fov = data
    with pytest.raises(ValueError, match="'border_points' parameter of MIROClusterer"):
        MIROClusterer(FrozenEstimator(fitted), border_points="noise").fit(X, y, groups=fov)


def test_bad_collapse_passes_is_rejected(data, fitted):
    X, y, fov = data
    with pytest.raises(ValueError, match="'collapse_passes' parameter of MIROClusterer"):
        MIROClusterer(FrozenEstimator(fitted), collapse_passes=0).fit(X, y, groups=fov)


def test_custom_clusterer(data, fitted):
    from sklearn.cluster import AgglomerativeClustering

    X, y, fov = data
    clu = MIROClusterer(fitted, clusterer=AgglomerativeClustering(n_clusters=4)).fit(
        X, y, groups=fov
    )
    assert clu.eps_ is None
    assert set(np.unique(clu.labels_)) == set(range(12))


def test_clusterer_errors(data, fitted):
    X, y, fov = data
    with pytest.raises(ValueError, match="requires y to be passed"):
        MIROClusterer(tiny(), eps=10.0, min_samples=3).fit(X)
    with pytest.raises(ValueError, match="eps='auto'"):
        MIROClusterer(FrozenEstimator(fitted)).fit(X, groups=fov)
    with pytest.raises(ValueError, match=r"'eps' parameter of MIROClusterer must be a float in the range \(0.0, inf\)"):
        MIROClusterer(fitted, eps=0.0).fit(X, y)
    with pytest.raises(ValueError, match="fit_predict"):
        MIROClusterer(fitted, clusterer="dbscan").fit(X, y)


def test_clusterer_joblib_round_trip(data, fitted, tmp_path):
    X, y, fov = data
    clu = MIROClusterer(FrozenEstimator(fitted), eps=20.0, min_samples=3).fit(X, y, groups=fov)
    joblib.dump(clu, tmp_path / "m.joblib")
    loaded = joblib.load(tmp_path / "m.joblib")
    assert (loaded.predict(X, groups=fov) == clu.predict(X, groups=fov)).all()


@pytest.mark.parametrize("params", [{}, {"eps": 20.0}, {"min_samples": 3}, {"eps": 20.0, "min_samples": 3,
                                                                          "collapse_passes": "auto"}])
def test_clusterer_hash_survives_a_pickle_round_trip(data, fitted, params):
    # With one eps candidate, tuning_scores_ (1, n_min_samples) was a view of the
    # search's scores of both border-point rules: strides (2 rows, 1 element),
    # which joblib.hash hashes and pickle does not keep.
    X, y, fov = data
    clu = MIROClusterer(FrozenEstimator(fitted), **params).fit(X, y, groups=fov)
    again = pickle.loads(pickle.dumps(clu))
    assert joblib.hash(again) == joblib.hash(clu)
    assert clu.tuning_scores_.base is None  # its own memory, not a view of the search's table


# ------------------------------------------------------- sklearn integration


def test_pipeline_with_dbscan(data, fitted):
    X, y, fov = data
    labels = Pipeline(
        [("miro", FrozenEstimator(fitted)), ("dbscan", DBSCAN(eps=20, min_samples=3))]
    ).fit_predict(X[fov == 0])
    assert labels.shape == (np.sum(fov == 0),)
    pipe = Pipeline([("miro", tiny()), ("dbscan", DBSCAN(eps=20, min_samples=3))])
    with pytest.warns(UserWarning, match="MIROClusterer"):
        train_labels = pipe.fit_predict(X, y, miro__groups=fov)
    assert train_labels.shape == (len(X),)


def test_grid_search_over_eps_with_frozen_transformer(data, fitted):
    from sklearn_miro.metrics import ari_dagger_scorer

    X, y, fov = data
    clu = MIROClusterer(FrozenEstimator(fitted))
    with sklearn.config_context(enable_metadata_routing=True):
        search = GridSearchCV(
            clu, {"eps": [10.0, 30.0], "min_samples": [3, 5]}, scoring=ari_dagger_scorer,
            cv=GroupKFold(3),
        ).fit(X, y, groups=fov)
    assert search.best_params_["eps"] in (10.0, 30.0)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    # The network was never retrained.
    assert search.best_estimator_.transformer_.estimator is fitted


def test_get_set_params_and_clone():
    model = MIROTransformer(hidden_size=32, n_steps=4)
    assert model.get_params()["hidden_size"] == 32
    model.set_params(n_steps=7)
    assert clone(model).n_steps == 7
    clu = MIROClusterer(model, eps=5.0)
    assert clu.get_params()["transformer__n_steps"] == 7
    clu.set_params(transformer__hidden_size=16)
    assert clu.transformer.hidden_size == 16
    assert repr(MIROTransformer()) == "MIROTransformer()"


def test_a_refit_with_given_dbscan_parameters_leaves_no_stale_grid(data, fitted):
    X, y, fov = data
    clusterer = MIROClusterer(FrozenEstimator(fitted)).fit(X, y, groups=fov)
    assert clusterer.eps_grid_ is not None and clusterer.tuning_scores_ is not None
    clusterer.set_params(eps=20.0, min_samples=4, collapse_passes=1, border_points="cluster",
                         outlier_radius=None).fit(X, y, groups=fov)
    assert clusterer.eps_grid_ is None and clusterer.min_samples_grid_ is None
    assert clusterer.tuning_scores_ is None and (clusterer.eps_, clusterer.min_samples_) == (20.0, 4)


def test_clusterers_do_not_suspect_stacking_when_groups_are_given(data):
    # Denser FOVs than the training ones, each given as its own group: the
    # transformer alone is silent, and so must the clusterer be.
    X, y, fov = data
    clusterer = MIROClusterer(tiny(), eps=20.0, min_samples=3, collapse_passes=2,
                              border_points="cluster", outlier_radius=None).fit(X, y, groups=fov)
    Xn, _, gn = make_gaussian_clusters(n_fovs=2, n_clusters=12, n_localizations=15, n_background=150,
                                       fov_size=500.0, random_state=5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clusterer.transformer_.transform(Xn, groups=gn)
        clusterer.predict(Xn, groups=gn)
        MIROClusterer(FrozenEstimator(clusterer.transformer_), eps=20.0, min_samples=3,
                      border_points="cluster", outlier_radius=None).fit(Xn, groups=gn)
    # without groups, the same data stacked together still warns
    with pytest.warns(UserWarning, match="pass groups="):
        clusterer.predict(np.concatenate([Xn[gn == 0]] * 4))


def test_a_tile_size_in_the_wrong_units_is_refused_before_allocating(data):
    from sklearn_miro.tiling import SquareTiles

    X, _, fov = data
    with pytest.raises(ValueError, match=r"tile_size=0.001 cuts a FOV .* into .* tiles"):
        SquareTiles.from_points(X[fov == 0], 1e-3)


def test_pipeline_routes_groups_through_fit_transform_with_metadata_routing(data):
    # MIROTransformer requests groups in fit and transform alike: a Pipeline's
    # fit_transform could not combine a request in fit with none in transform.
    import sklearn
    from sklearn.cluster import DBSCAN
    from sklearn.pipeline import Pipeline

    X, y, fov = data
    with sklearn.config_context(enable_metadata_routing=True):
        pipe = Pipeline([("miro", tiny()), ("dbscan", DBSCAN(eps=20.0, min_samples=4))])
        labels = pipe.fit_predict(X, y, groups=fov)
    assert labels.shape == (len(X),)
    assert tiny().get_metadata_routing().transform.requests["groups"] is True


def test_early_stopping_without_validation_crops_says_it_is_ignored(data):
    X, y, fov = data
    with pytest.warns(UserWarning, match="n_iter_no_change=1 is ignored with validation_fraction=0"):
        tiny(n_iter_no_change=1, validation_fraction=0.0).fit(X, y, groups=fov)


def test_nested_transformer_params_need_a_transformer():
    from sklearn_miro import MultiscaleMIROClusterer

    # The default transformer=None is built at fit: there is nothing to set parameters on.
    for clusterer in (MIROClusterer(), MultiscaleMIROClusterer()):
        with pytest.raises(ValueError, match=r"Cannot set transformer__n_steps: transformer is None"):
            clusterer.set_params(transformer__n_steps=5)
    clusterer = MIROClusterer().set_params(transformer=tiny(), transformer__n_steps=5)
    assert clusterer.transformer.n_steps == 5
    assert MIROClusterer(tiny()).set_params(transformer__n_steps=4).transformer.n_steps == 4


def test_warm_start_inside_the_clusterer_is_said_to_do_nothing(data):
    X, y, fov = data
    clusterer = MIROClusterer(tiny(warm_start=True), eps=20.0, min_samples=3)
    with pytest.warns(UserWarning, match="warm_start=True, but MIROClusterer trains a fresh clone") as record:
        clusterer.fit(X, y, groups=fov)
    assert any(w.filename == __file__ for w in record)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        MIROClusterer(tiny(), eps=20.0, min_samples=3).fit(X, y, groups=fov)
    assert not [w for w in record if "warm_start" in str(w.message)]
