"""Tests of MultiscaleMIROTransformer, MultiscaleMIROClusterer and nesting_report.

Tiny models on tiny NPC-like point clouds: these test the API and the
bookkeeping (which step supervises which scale, which step is read out for
which scale, labels per scale and per FOV), not clustering quality, which
``benchmarks/multiscale_and_shapes.py`` measures.
"""

import copy
import pickle

import joblib
import numpy as np
import torch
import pandas as pd
import pytest
import sklearn
from _estimator_checks import (
    CHECK_TINY,
    TRANSFORMER_CHECKS_NEEDING_2D,
    ExpectedFailure,
    expected_failures,
    run_check,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.utils.estimator_checks import parametrize_with_checks

import sklearn_miro.model as model_module
from sklearn_miro import MultiscaleMIROClusterer
from sklearn_miro.datasets import make_npc
from sklearn_miro.estimators import MultiscaleMIROTransformer, nesting_report
from sklearn_miro.estimators._multiscale import DEPRECATED_CLUSTERER_ARGUMENTS

TINY = dict(
    hidden_size=8,
    n_steps=4,
    n_augmented=6,
    max_epochs=1,
    batch_size=3,
    validation_fraction=0.0,
    verbose=0,
)
NAMES = ("corners", "rings")


def tiny(**kwargs):
    return MultiscaleMIROTransformer(**{**TINY, "random_state": 0, "scale_names": NAMES, **kwargs})


def tiny_clusterer(**kwargs):
    """The clusterer of a tiny transformer; transformer hyper-parameters go to the transformer."""
    network = {k: kwargs.pop(k) for k in list(kwargs) if k in DEPRECATED_CLUSTERER_ARGUMENTS}
    params = {"eps": (15.0, 40.0), "min_samples": (3, 10), "border_points": "cluster", **kwargs}
    return MultiscaleMIROClusterer(tiny(**network), **params)


@pytest.fixture(scope="module")
def data():
    X, Y, fov = make_npc(
        n_fovs=3, n_structures=2, n_localizations=(4, 10), fov_size=400, random_state=0
    )
    return X, Y, fov


@pytest.fixture(scope="module")
def fitted(data):
    X, Y, fov = data
    return tiny().fit(X, Y, groups=fov)


@pytest.fixture(scope="module")
def fitted_clusterer(data):
    X, Y, fov = data
    return tiny_clusterer().fit(X, Y, groups=fov)


# ------------------------------------------------------------- transformer


def test_transform_returns_every_scale_side_by_side(data, fitted):
    X, Y, fov = data
    Xt = fitted.transform(X, groups=fov)
    assert Xt.shape == (len(X), 4)
    assert fitted.n_scales_ == 2 and fitted.scale_names_ == NAMES
    np.testing.assert_array_equal(
        fitted.get_feature_names_out(), ["corners_x", "corners_y", "rings_x", "rings_y"]
    )
    # One scale, by name or by index, is the matching pair of columns.
    for s, name in enumerate(NAMES):
        np.testing.assert_allclose(fitted.transform(X, groups=fov, scale=name), Xt[:, 2 * s : 2 * s + 2])
        np.testing.assert_allclose(fitted.transform(X, groups=fov, scale=s - 2), Xt[:, 2 * s : 2 * s + 2])
    scales = fitted.transform_scales(X, groups=fov)
    assert list(scales) == list(NAMES)
    np.testing.assert_allclose(scales["rings"], Xt[:, 2:])


def test_scales_are_read_where_most_collapsed_and_at_the_last_step(data, fitted):
    # n_steps=4, k_star="auto" -> k* = 2: steps 0, 1 learn corners, 2, 3 rings.
    assert fitted.k_star_ == [2]
    np.testing.assert_array_equal(fitted.model_.step_scales, [0, 0, 1, 1])
    # readout_steps="auto": the corners at the step of 0-1 where the training
    # corners are most collapsed (a tie to the later), the rings at the last.
    assert fitted.step_compression_.shape == (2, 4)
    corners = fitted.step_compression_[0, :2]
    assert fitted.scale_steps_[0] == (0 if corners[0] < corners[1] else 1)
    assert fitted.scale_steps_[1] == 3
    # The compression is measured on the training FOVs after training.
    X, Y, fov = data
    from sklearn_miro.diagnostics import cluster_compression

    step = int(fitted.scale_steps_[0])
    moved = fitted.model_.collapse(X, [np.flatnonzero(fov == f) for f in np.unique(fov)], [step],
                                   torch.device("cpu"), crop_features=fitted.crop_features).moved[0]
    assert fitted.step_compression_[0, step] == pytest.approx(
        cluster_compression(X, moved, Y[:, 0], fov)["compression"])


def test_readout_steps_cutoff_reads_the_paper_steps(data, fitted):
    X, Y, fov = data
    cutoff = tiny(readout_steps="cutoff").fit(X, Y, groups=fov)
    np.testing.assert_array_equal(cutoff.scale_steps_, [1, 3])
    # The same network (same seed): only the step read out differs.
    np.testing.assert_allclose(cutoff.step_compression_, fitted.step_compression_)
    np.testing.assert_allclose(cutoff.transform(X, groups=fov, scale="rings"),
                               fitted.transform(X, groups=fov, scale="rings"))


def test_readout_steps_rule():
    from sklearn_miro.model import readout_steps

    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 2)) * 10 + np.repeat([[0, 0], [100, 0]], 20, axis=0)
    fine = np.repeat([0, 1], 20)
    labels = np.column_stack([fine, np.zeros(40, dtype=int)])
    centres = np.repeat([X[:20].mean(0), X[20:].mean(0)], 20, axis=0)
    # Step k moves every point a fraction f_k of the way to its fine centre.
    fractions = [0.2, 0.9, 0.5, 0.1, 0.3, 0.6]
    moved = np.stack([X + f * (centres - X) for f in fractions])

    def choose(labels, cutoffs, fovs=(np.arange(40),)):
        return readout_steps(X, lambda idx: moved[:, idx], labels, list(fovs), cutoffs, len(fractions))

    steps, compression = choose(labels, [4])
    np.testing.assert_allclose(compression[0], [1 - f for f in fractions], rtol=1e-6)
    np.testing.assert_array_equal(steps, [1, 5])  # fine: best of steps 0-3; coarse: the last
    # Two FOVs sharing label ids: clusters are (FOV, label) pairs, and the
    # compression is the median over all FOVs (here the same as one FOV).
    two_fovs = np.column_stack([np.tile(np.repeat([0, 1], 10), 2), np.zeros(40, dtype=int)])
    per_fov = choose(two_fovs, [4], fovs=(np.arange(20), np.arange(20, 40)))[1]
    from sklearn_miro.diagnostics import cluster_compression

    groups = np.repeat([0, 1], 20)
    expected = [cluster_compression(X, moved[k], two_fovs[:, 0], groups)["compression"] for k in range(6)]
    np.testing.assert_allclose(per_fov[0], expected, rtol=1e-6)
    # A tie goes to the later step; three scales read each fine one within its own range.
    moved[3] = moved[1]
    assert choose(labels, [4])[0][0] == 3
    labels3 = np.column_stack([fine, fine, np.zeros(40, dtype=int)])
    np.testing.assert_array_equal(choose(labels3, [2, 4])[0], [1, 3, 5])
    # A scale without a cluster of two points is read at its cutoff.
    no_cluster = np.column_stack([np.full(40, -1), np.zeros(40, dtype=int)])
    steps, compression = choose(no_cluster, [4])
    np.testing.assert_array_equal(steps, [3, 5])
    assert np.isnan(compression[0]).all()


def test_a_numeric_tile_size_with_normalised_coordinates_fails_before_training(data, monkeypatch):
    X, Y, fov = data
    monkeypatch.setattr(model_module, "fit_network", lambda *a, **k: pytest.fail("trained"))
    with pytest.raises(ValueError, match="numeric tile_size needs fov_normalization=None"):
        tiny(tile_size=500.0, fov_normalization="minmax").fit(X, Y, groups=fov)


def test_save_model_round_trip_keeps_the_readout(data, fitted, tmp_path):
    from sklearn_miro import load_model, save_model

    X, _, fov = data
    save_model(fitted, tmp_path / "ms.miro")
    loaded = load_model(tmp_path / "ms.miro")
    np.testing.assert_array_equal(loaded.scale_steps_, fitted.scale_steps_)
    np.testing.assert_array_equal(loaded.step_compression_, fitted.step_compression_)
    assert loaded.get_params()["readout_steps"] == "auto"
    np.testing.assert_allclose(loaded.transform(X, groups=fov), fitted.transform(X, groups=fov))


def test_transformers_pickled_before_readout_steps_keep_the_cutoff(fitted):
    state = fitted.__getstate__()
    state.pop("readout_steps")
    old = MultiscaleMIROTransformer.__new__(MultiscaleMIROTransformer)
    old.__setstate__(state)
    assert old.get_params()["readout_steps"] == "cutoff"
    # An unfitted one takes the current default.
    state = tiny().__getstate__()
    state.pop("readout_steps")
    unfitted = MultiscaleMIROTransformer.__new__(MultiscaleMIROTransformer)
    unfitted.__setstate__(state)
    assert unfitted.get_params()["readout_steps"] == "auto"


def test_readout_steps_are_those_of_one_forward_pass(data, fitted):
    X, _, fov = data
    Xf = X[fov == 0]
    moved = fitted.model_.collapse(Xf, [np.arange(len(Xf))], list(range(fitted.n_steps)), torch.device("cpu"),
                                   crop_features=fitted.crop_features).moved
    Xt = fitted.transform(Xf)
    np.testing.assert_allclose(Xt[:, :2], moved[fitted.scale_steps_[0]])
    np.testing.assert_allclose(Xt[:, 2:], moved[3])
    # The two scales are different predictions.
    assert not np.allclose(Xt[:, :2], Xt[:, 2:])


def test_training_supervises_each_step_with_its_scale(data, monkeypatch):
    X, Y, fov = data
    seen = {}
    original = model_module.fit_network

    def spy(network, graphs, **kwargs):
        seen["step_scales"] = np.asarray(kwargs["step_scales"]).copy()
        seen["targets"] = graphs[0].targets.shape
        return original(network, graphs, **kwargs)

    monkeypatch.setattr(model_module, "fit_network", spy)
    tiny(n_steps=6, k_star=4).fit(X, Y, groups=fov)
    np.testing.assert_array_equal(seen["step_scales"], [0, 0, 0, 0, 1, 1])
    assert seen["targets"][0] == 2  # one target per scale and node


@pytest.mark.parametrize(
    "k_star, n_steps, expected",
    [("auto", 20, [10]), ("auto", 30, [15]), (3, 8, [3]), (1, 2, [1]), ([5], 8, [5])],
)
def test_k_star_resolution(data, k_star, n_steps, expected):
    X, Y, fov = data
    model = tiny(k_star=k_star, n_steps=n_steps, n_augmented=2, readout_steps="cutoff").fit(X, Y, groups=fov)
    assert model.k_star_ == expected
    steps = model.model_.step_scales
    assert (steps[: expected[0]] == 0).all() and (steps[expected[0] :] == 1).all()
    np.testing.assert_array_equal(model.scale_steps_, [expected[0] - 1, n_steps - 1])


def test_three_scales_with_two_cutoffs(data):
    X, Y, fov = data
    # A third, coarser scale: all structures of a FOV together.
    Y3 = np.column_stack([Y, np.where(Y[:, 1] >= 0, fov, -1)])
    model = tiny(n_steps=6, k_star=(2, 4), scale_names=None, readout_steps="cutoff").fit(X, Y3, groups=fov)
    assert model.n_scales_ == 3 and model.scale_names_ == ("scale0", "scale1", "scale2")
    np.testing.assert_array_equal(model.model_.step_scales, [0, 0, 1, 1, 2, 2])
    np.testing.assert_array_equal(model.scale_steps_, [1, 3, 5])
    assert model.transform(X, groups=fov).shape == (len(X), 6)
    auto = tiny(n_steps=9, scale_names=None, n_augmented=2).fit(X, Y3, groups=fov)
    assert auto.k_star_ == [3, 6]


@pytest.mark.parametrize(
    "k_star, message",
    [
        (0, "strictly increasing integers in \\[1, n_steps - 1\\]"),
        (4, "strictly increasing integers in \\[1, n_steps - 1\\]"),
        ((2, 3), "gives 2 cutoff\\(s\\) but y has 2 scales"),
        ("half", "k_star must be 'auto'"),
        (2.5, "k_star must be 'auto'"),
        ((2.0,), "k_star must hold integers"),
    ],
)
def test_bad_k_star_is_rejected_at_fit(data, k_star, message):
    X, Y, fov = data
    model = tiny(k_star=k_star)  # constructing never validates
    with pytest.raises(ValueError, match=message):
        model.fit(X, Y, groups=fov)


def test_decreasing_cutoffs_are_rejected(data):
    X, Y, fov = data
    Y3 = np.column_stack([Y, Y[:, 1]])
    with pytest.raises(ValueError, match="strictly increasing"):
        tiny(n_steps=6, k_star=(4, 2), scale_names=None).fit(X, Y3, groups=fov)


@pytest.mark.parametrize(
    "y_fn, message",
    [
        (lambda Y: Y[:, 0], "must be a 2-D array of shape \\(n_localizations, n_scales\\)"),
        (lambda Y: Y[:, :1], "n_scales >= 2"),
        (lambda Y: Y[:-1], "same length"),
        (lambda Y: np.column_stack([Y[:, 0], np.full(len(Y), -1)]), "no cluster at scale\\(s\\) \\[1\\]"),
        (lambda Y: Y + 0.5, "integer cluster labels"),
        (lambda Y: Y.astype(str), "integer cluster labels"),
        (lambda Y: None, "requires y to be passed"),
    ],
)
def test_bad_labels_are_rejected(data, y_fn, message):
    X, Y, fov = data
    with pytest.raises(ValueError, match=message):
        tiny().fit(X, y_fn(Y), groups=fov)


def test_bad_scale_names_and_scales(data, fitted):
    X, Y, fov = data
    with pytest.raises(ValueError, match="one string per scale"):
        tiny(scale_names=("corners",)).fit(X, Y, groups=fov)
    with pytest.raises(ValueError, match="distinct"):
        tiny(scale_names=("a", "a")).fit(X, Y, groups=fov)
    with pytest.raises(ValueError, match="sequence of strings"):
        tiny(scale_names="ab").fit(X, Y, groups=fov)
    with pytest.raises(ValueError, match="Unknown scale 'pores'"):
        fitted.transform(X, scale="pores")
    with pytest.raises(ValueError, match="integer in \\[-2, 1\\]"):
        fitted.transform(X, scale=2)


def test_unfitted_transform_raises(data):
    with pytest.raises(NotFittedError):
        tiny().transform(data[0])
    with pytest.raises(NotFittedError):
        tiny_clusterer().predict(data[0])


def test_same_random_state_gives_the_same_model(data):
    X, Y, fov = data
    a = tiny(random_state=3).fit(X, Y, groups=fov)
    b = tiny(random_state=3).fit(X, Y, groups=fov)
    c = tiny(random_state=4).fit(X, Y, groups=fov)
    np.testing.assert_array_equal(a.transform(X, groups=fov), b.transform(X, groups=fov))
    assert not np.allclose(a.transform(X, groups=fov), c.transform(X, groups=fov))


@settings(max_examples=4, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_same_random_state_same_model_property(data, seed):
    X, Y, fov = data
    a = tiny(random_state=seed, n_augmented=3).fit(X, Y, groups=fov)
    b = tiny(random_state=seed, n_augmented=3).fit(X, Y, groups=fov)
    np.testing.assert_array_equal(a.transform(X[fov == 0]), b.transform(X[fov == 0]))


def test_input_is_never_modified(data):
    X, Y, fov = data
    X0, Y0, fov0 = X.copy(), Y.copy(), fov.copy()
    clu = tiny_clusterer().fit(X, Y, groups=fov)
    clu.predict(X, groups=fov)
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(Y, Y0)
    np.testing.assert_array_equal(fov, fov0)


def test_transformer_joblib_round_trip(data, fitted, tmp_path):
    X, _, fov = data
    joblib.dump(fitted, tmp_path / "ms.joblib")
    loaded = joblib.load(tmp_path / "ms.joblib")
    np.testing.assert_array_equal(loaded.transform(X, groups=fov), fitted.transform(X, groups=fov))
    assert loaded.scale_names_ == NAMES and loaded.k_star_ == fitted.k_star_
    again = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(again.transform(X, scale="rings"), fitted.transform(X, scale="rings"))


def test_fit_transform_matches_fit_then_transform(data):
    X, Y, fov = data
    a = tiny().fit_transform(X, Y, groups=fov)
    b = tiny().fit(X, Y, groups=fov).transform(X, groups=fov)
    np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------- clusterer


def test_acceptance_api(data):
    """The issue's acceptance snippet, with a tiny network."""
    X, Y, fov = make_npc(n_fovs=4, random_state=0)
    X_new, _, fov_new = make_npc(n_fovs=1, random_state=1)
    ms = MultiscaleMIROClusterer(
        MultiscaleMIROTransformer(**{**TINY, "n_augmented": 3}, random_state=0),
        eps=(20.0, 40.0), min_samples=(4, 10),
    ).fit(X, Y, groups=fov)
    labels = ms.predict(X_new)
    assert labels.shape == (len(X_new), 2)
    assert ms.labels_.shape == (len(X), 2)


def test_clusterer_labels_every_scale_per_fov(data, fitted_clusterer):
    X, Y, fov = data
    clu = fitted_clusterer
    assert clu.labels_.shape == (len(X), 2)
    assert clu.n_scales_ == 2 and clu.scale_names_ == NAMES
    assert clu.eps_ == [15.0, 40.0] and clu.min_samples_ == [3, 10]
    np.testing.assert_array_equal(clu.predict(X, groups=fov), clu.labels_)
    np.testing.assert_array_equal(clu.predict(X, groups=fov, scale="rings"), clu.labels_[:, 1])
    np.testing.assert_array_equal(clu.predict(X, groups=fov, scale=0), clu.labels_[:, 0])
    np.testing.assert_array_equal(clu.labels_of("corners"), clu.labels_[:, 0])
    np.testing.assert_array_equal(clu.labels_of(-1), clu.labels_[:, 1])
    for s in range(2):
        labels = clu.labels_[:, s]
        per_fov = [set(labels[(fov == k) & (labels >= 0)]) for k in range(3)]
        assert not (per_fov[0] & per_fov[1] or per_fov[0] & per_fov[2] or per_fov[1] & per_fov[2])
    # One FOV alone gives the same partition as inside the batch.
    alone = clu.predict(X[fov == 1])
    for s in range(2):
        assert sklearn.metrics.adjusted_rand_score(alone[:, s], clu.labels_[fov == 1, s]) == 1.0


def test_clusterer_applies_dbscan_to_each_scale(data, fitted_clusterer):
    from sklearn.cluster import DBSCAN

    X, _, fov = data
    clu = fitted_clusterer
    Xt = clu.transformer_.transform(X[fov == 2])
    for s in range(2):
        expected = DBSCAN(eps=clu.eps_[s], min_samples=clu.min_samples_[s]).fit_predict(Xt[:, 2 * s : 2 * s + 2])
        got = clu.predict(X[fov == 2], scale=s)
        assert sklearn.metrics.adjusted_rand_score(expected, got) == 1.0
        np.testing.assert_array_equal(expected == -1, got == -1)


def test_clusterer_chooses_dbscan_parameters_per_scale(data):
    X, Y, fov = data
    clu = tiny_clusterer(eps=("auto", 40.0), min_samples="auto").fit(X, Y, groups=fov)
    assert clu.eps_[1] == 40.0
    assert clu.eps_[0] in clu.eps_grid_[0] and clu.min_samples_[0] in clu.min_samples_grid_[0]
    i = list(clu.eps_grid_[0]).index(clu.eps_[0])
    j = list(clu.min_samples_grid_[0]).index(clu.min_samples_[0])
    assert clu.tuning_scores_[0][i, j] == clu.tuning_scores_[0].max()
    # min_samples candidates stop at the median cluster size of each scale.
    for s in range(2):
        sizes = np.unique(Y[Y[:, s] >= 0, s], return_counts=True)[1]
        assert clu.min_samples_grid_[s].max() <= max(2, int(np.median(sizes)))
    np.testing.assert_array_equal(clu.eps_grid_[1], [40.0])


def test_transformer_n_jobs_scores_the_dbscan_candidates_in_parallel(data, fitted):
    X, Y, fov = data
    params = {"eps": ("auto", 40.0), "min_samples": "auto"}
    sequential = MultiscaleMIROClusterer(FrozenEstimator(fitted), **params).fit(X, Y, groups=fov)
    parallel_transformer = copy.deepcopy(fitted).set_params(n_jobs=2)  # fitted, n_jobs=2
    parallel = MultiscaleMIROClusterer(FrozenEstimator(parallel_transformer), **params).fit(X, Y, groups=fov)
    np.testing.assert_array_equal(parallel.tuning_scores_[0], sequential.tuning_scores_[0])
    assert parallel.eps_ == sequential.eps_ and parallel.min_samples_ == sequential.min_samples_


def test_verbose_transformer_shows_the_dbscan_search_per_scale(data, fitted, capsys):
    X, Y, fov = data
    talkative = copy.deepcopy(fitted).set_params(verbose=1)
    clu = MultiscaleMIROClusterer(FrozenEstimator(talkative), eps=("auto", 40.0),
                                  min_samples=("auto", 10), border_points="cluster").fit(X, Y, groups=fov)
    err = capsys.readouterr().err
    assert f"MIRO: choosing the parameters of DBSCAN ({clu.scale_names_[0]})" in err
    assert f"({clu.scale_names_[1]})" not in err  # that scale's parameters were given


def test_border_points_per_scale(data, fitted):
    """DBSCAN* on request; "auto" keeps the better training score of each scale (a tie: DBSCAN)."""
    from sklearn_miro.grid_dbscan import DBSCANStar

    X, Y, fov = data
    star = MultiscaleMIROClusterer(FrozenEstimator(fitted), eps=(15.0, 40.0), min_samples=(3, 10),
                                   border_points="background").fit(X, Y, groups=fov)
    assert star.border_points_ == ["background", "background"]
    assert star.border_point_scores_ == [None, None]
    Xt = fitted.transform(X[fov == 2])
    for s in range(2):
        expected = DBSCANStar(eps=star.eps_[s], min_samples=star.min_samples_[s]).fit_predict(
            Xt[:, 2 * s : 2 * s + 2])
        got = star.predict(X[fov == 2], scale=s)
        assert sklearn.metrics.adjusted_rand_score(expected, got) == 1.0
        np.testing.assert_array_equal(expected == -1, got == -1)
    auto = MultiscaleMIROClusterer(FrozenEstimator(fitted), eps=("auto", 40.0), min_samples="auto").fit(
        X, Y, groups=fov)
    for s in range(2):
        scores = auto.border_point_scores_[s]
        assert set(scores) == {"cluster", "background"}
        assert scores[auto.border_points_[s]] == max(scores.values()) == auto.tuning_scores_[s].max()
        if scores["cluster"] == scores["background"]:
            assert auto.border_points_[s] == "cluster"
        same = MultiscaleMIROClusterer(FrozenEstimator(fitted), eps=("auto", 40.0), min_samples="auto",
                                       border_points=auto.border_points_[s]).fit(X, Y, groups=fov)
        assert (same.eps_[s], same.min_samples_[s]) == (auto.eps_[s], auto.min_samples_[s])
    # Without labels "auto" is DBSCAN; a model pickled before border_points loads as DBSCAN.
    unlabelled = MultiscaleMIROClusterer(FrozenEstimator(fitted), eps=(15.0, 40.0),
                                         min_samples=(3, 10)).fit(X, groups=fov)
    assert unlabelled.border_points_ == ["cluster", "cluster"]
    state = dict(star.__getstate__())
    for name in ("border_points", "border_points_", "border_point_scores_"):
        state.pop(name)
    old = MultiscaleMIROClusterer.__new__(MultiscaleMIROClusterer)
    old.__setstate__(state)
    assert old.border_points_ == ["cluster", "cluster"]
    np.testing.assert_array_equal(old.predict(X, groups=fov), unlabelled.labels_)
    with pytest.raises(ValueError, match="border_points"):
        MultiscaleMIROClusterer(FrozenEstimator(fitted), border_points="both").fit(X, Y, groups=fov)


def test_frozen_transformer_is_used_as_is(data, fitted):
    X, Y, fov = data
    clu = MultiscaleMIROClusterer(transformer=FrozenEstimator(fitted), eps=(15.0, 40.0),
                                  min_samples=(3, 10)).fit(X, groups=fov)
    assert clu.transformer_.estimator is fitted
    assert clu.scale_names_ == NAMES  # taken from the transformer
    plain = MultiscaleMIROClusterer(transformer=fitted, eps=(15.0, 40.0), min_samples=(3, 10),
                                    scale_names=("c", "r")).fit(X, Y, groups=fov)
    assert plain.transformer_ is fitted and plain.scale_names_ == ("c", "r")
    np.testing.assert_array_equal(plain.labels_, clu.labels_)
    with pytest.raises(ValueError, match="eps='auto'"):
        MultiscaleMIROClusterer(transformer=fitted).fit(X, groups=fov)
    with pytest.raises(ValueError, match="y has 3 scales but the transformer was trained on 2"):
        MultiscaleMIROClusterer(transformer=fitted, eps=(1.0, 2.0, 3.0),
                                min_samples=(2, 2, 2)).fit(X, np.column_stack([Y, Y[:, 1]]))


def test_unfitted_transformer_is_cloned_and_trained(data):
    X, Y, fov = data
    template = tiny(hidden_size=6)
    clu = MultiscaleMIROClusterer(transformer=template, eps=(15.0, 40.0), min_samples=(3, 10)).fit(
        X, Y, groups=fov
    )
    assert clu.transformer_ is not template and clu.transformer_.network_.hidden_size == 6
    assert not hasattr(template, "network_")


@pytest.mark.parametrize(
    "params, message",
    [
        (dict(eps=20.0), "eps must be 'auto' or a sequence with one value per scale"),
        (dict(eps=(20.0,)), "eps has 1 value\\(s\\) but the model has 2 scales"),
        (dict(eps=(20.0, -1.0)), "every entry of eps must be > 0"),
        (dict(min_samples=(3, 2.5)), "every entry of min_samples must be an integer"),
        (dict(min_samples=5), "min_samples must be 'auto' or a sequence"),
        (dict(scale_names=("a", "b", "c")), "one string per scale"),
        (dict(hidden_size=0), r"'hidden_size' parameter of MultiscaleMIROTransformer .* range \[1, inf\)"),
        (dict(k_star=9), "strictly increasing"),
    ],
)
def test_clusterer_bad_parameters(data, params, message):
    X, Y, fov = data
    with pytest.raises(ValueError, match=message):
        tiny_clusterer(**params).fit(X, Y, groups=fov)


def test_clusterer_requires_labels_to_train(data):
    X, _, fov = data
    with pytest.raises(ValueError, match="requires y to be passed"):
        tiny_clusterer().fit(X, groups=fov)


def test_old_per_network_arguments_are_deprecated_but_still_reach_the_transformer(data):
    X, Y, fov = data
    clu = MultiscaleMIROClusterer(eps=(15.0, 40.0), min_samples=(3, 10), scale_names=NAMES,
                                  k_star=3, random_state=0, **{**TINY, "n_steps": 5})
    with pytest.warns(FutureWarning, match="transformer=MultiscaleMIROTransformer"):
        clu.fit(X, Y, groups=fov)
    params = clu.transformer_.get_params()
    assert params["k_star"] == 3 and params["n_steps"] == 5 and params["random_state"] == 0
    assert params["scale_names"] == NAMES and clu.transformer_.k_star_ == [3]
    # Every hyper-parameter of the transformer but scale_names has a deprecated twin
    # (tile_size, crop_features, n_jobs, precision, compile and readout_steps came after the
    # deprecation: transformer only).
    late = {"scale_names", "tile_size", "crop_features", "n_jobs", "precision", "compile", "readout_steps"}
    assert set(MultiscaleMIROTransformer().get_params()) - late == set(
        DEPRECATED_CLUSTERER_ARGUMENTS
    )
    with pytest.warns(FutureWarning, match="ignored because transformer is given"):
        MultiscaleMIROClusterer(tiny(), hidden_size=3, eps=(15.0, 40.0), min_samples=(3, 10)).fit(
            X, Y, groups=fov
        )


def test_clusterer_takes_a_transformer_like_miro_clusterer():
    clu = MultiscaleMIROClusterer(MultiscaleMIROTransformer(hidden_size=12), eps=(10.0, 30.0),
                                  min_samples=(4, 16))
    clu.set_params(transformer__random_state=2)
    copy = clone(clu)
    assert copy.transformer.hidden_size == 12 and copy.transformer.random_state == 2
    assert copy.eps == (10.0, 30.0)
    assert repr(MultiscaleMIROClusterer()) == "MultiscaleMIROClusterer()"
    assert repr(MultiscaleMIROTransformer()) == "MultiscaleMIROTransformer()"


def test_clusterer_hyper_parameters_live_on_the_transformer(data):
    X, Y, fov = data
    fitted = tiny_clusterer(hidden_size=5).fit(X, Y, groups=fov)
    assert fitted.transformer_.network_.hidden_size == 5


def test_clusterer_same_random_state_same_labels(data, fitted_clusterer):
    X, Y, fov = data
    again = tiny_clusterer().fit(X, Y, groups=fov)
    np.testing.assert_array_equal(again.labels_, fitted_clusterer.labels_)


def test_clusterer_joblib_round_trip(data, fitted_clusterer, tmp_path):
    X, _, fov = data
    joblib.dump(fitted_clusterer, tmp_path / "msc.joblib")
    loaded = joblib.load(tmp_path / "msc.joblib")
    np.testing.assert_array_equal(loaded.predict(X, groups=fov), fitted_clusterer.predict(X, groups=fov))
    pd.testing.assert_frame_equal(loaded.nesting_report(), fitted_clusterer.nesting_report())


def test_fit_predict_returns_training_labels(data, fitted_clusterer):
    X, Y, fov = data
    np.testing.assert_array_equal(tiny_clusterer().fit_predict(X, Y, groups=fov), fitted_clusterer.labels_)


# ------------------------------------------------------------------ nesting


def test_nesting_report_example():
    report = nesting_report([0, 0, 0, 1, 1, 2, 2, -1], [5, 5, -1, 5, 7, 7, 7, 7])
    assert list(report.index) == [0, 1, 2]
    assert report.loc[0, "coarse"] == 5 and report.loc[0, "n_in_coarse"] == 2
    assert report.loc[0, "n_localizations"] == 3 and report.loc[0, "n_coarse_labels"] == 2
    # A tie (one localisation in 5, one in 7) goes to the smaller label.
    assert report.loc[1, "coarse"] == 5 and report.loc[1, "fraction"] == 0.5
    assert report.loc[2, "coarse"] == 7 and report.loc[2, "fraction"] == 1.0


def test_nesting_report_of_the_simulator_is_exact(data):
    X, Y, fov = data
    report = nesting_report(Y[:, 0], Y[:, 1])
    assert (report["fraction"] == 1.0).all() and (report["n_coarse_labels"] == 1).all()
    for corner, row in report.iterrows():
        assert set(Y[Y[:, 0] == corner, 1]) == {row["coarse"]}


def test_nesting_report_without_fine_clusters():
    report = nesting_report([-1, -1], [0, 1])
    assert len(report) == 0
    assert list(report.columns) == ["coarse", "n_localizations", "n_in_coarse", "fraction", "n_coarse_labels"]
    with pytest.raises(ValueError, match="same length"):
        nesting_report([0, 1], [0])


def test_clusterer_nesting_report(data, fitted_clusterer):
    X, Y, fov = data
    clu = fitted_clusterer
    report = clu.nesting_report()
    fine = clu.labels_[:, 0]
    assert list(report.index) == sorted(set(fine[fine >= 0]))
    pd.testing.assert_frame_equal(report, nesting_report(clu.labels_[:, 0], clu.labels_[:, 1]))
    predicted = clu.predict(X, groups=fov)
    pd.testing.assert_frame_equal(
        clu.nesting_report(predicted, fine="corners", coarse="rings"), report
    )
    with pytest.warns(UserWarning, match="same scale"):
        clu.nesting_report(fine=1, coarse="rings")
    with pytest.raises(ValueError, match="shape \\(n_localizations, 2\\)"):
        clu.nesting_report(predicted[:, 0])


labels_strategy = st.lists(st.tuples(st.integers(-1, 5), st.integers(-1, 4)), min_size=1, max_size=60)


@settings(max_examples=60, deadline=None)
@given(pairs=labels_strategy)
def test_nesting_report_is_consistent_with_the_counts(pairs):
    fine, coarse = (np.array(v) for v in zip(*pairs))
    report = nesting_report(fine, coarse)
    assert set(report.index) == set(fine[fine >= 0])
    assert report["n_localizations"].sum() == np.sum(fine >= 0)
    for f, row in report.iterrows():
        members = coarse[fine == f]
        values, counts = np.unique(members, return_counts=True)
        assert row["n_localizations"] == len(members)
        assert row["n_coarse_labels"] == len(values)
        # The majority label, the smallest one among ties.
        assert row["n_in_coarse"] == counts.max()
        assert row["coarse"] == values[counts == counts.max()].min()
        assert row["fraction"] == pytest.approx(counts.max() / len(members))
        assert row["fraction"] >= 1 / row["n_coarse_labels"]


@settings(max_examples=40, deadline=None)
@given(
    fine=st.lists(st.integers(-1, 8), min_size=1, max_size=50),
    mapping=st.lists(st.integers(-1, 3), min_size=9, max_size=9),
    seed=st.integers(0, 2**32 - 1),
)
def test_nested_labels_are_reported_exactly(fine, mapping, seed):
    fine = np.array(fine)
    coarse = np.where(fine >= 0, np.array(mapping)[np.maximum(fine, 0)], -1)
    report = nesting_report(fine, coarse)
    assert (report["fraction"] == 1.0).all() and (report["n_coarse_labels"] == 1).all()
    for f, row in report.iterrows():
        assert row["coarse"] == mapping[f]
    # The report does not depend on the order of the localisations.
    perm = np.random.default_rng(seed).permutation(len(fine))
    pd.testing.assert_frame_equal(nesting_report(fine[perm], coarse[perm]), report)


# ------------------------------------------------------ scikit-learn checks

NEEDS_SCALES = ExpectedFailure(
    "fits with a 1-D y; multiscale MIRO needs labels of shape (n_localizations, n_scales) "
    "(the same property is tested on NPC-like data in tests/test_multiscale.py)",
    ValueError,
    r"y must be a 2-D array of shape \(n_localizations, n_scales\) with n_scales >= 2",
)
FAILURES = expected_failures(
    {
        **{
            name: NEEDS_SCALES
            for name in [
                "check_estimators_overwrite_params",
                "check_estimators_fit_returns_self",
                "check_readonly_memmap_input",
                "check_fit_idempotent",
                "check_fit_check_is_fitted",
                "check_n_features_in",
            ]
        },
        "check_clustering": ExpectedFailure(
            "fits without y: an untrained multiscale MIRO needs labels at every scale",
            ValueError,
            r"MultiscaleMIROClusterer requires y to be passed",
        ),
    },
    *TRANSFORMER_CHECKS_NEEDING_2D,
)


@parametrize_with_checks(
    [
        MultiscaleMIROTransformer(**CHECK_TINY),
        MultiscaleMIROClusterer(MultiscaleMIROTransformer(**CHECK_TINY), eps=(0.5, 1.0), min_samples=(2, 2)),
    ],
)
def test_sklearn_compatible_estimator(estimator, check):
    run_check(estimator, check, FAILURES)


# ------------------------------------------------ the authors' checkpoint


def _save_as_reference_checkpoint(network, path):
    """Save a MIRONetwork under the reference's key names."""
    import torch

    from sklearn_miro.reference import REFERENCE_KEY_MAP

    state = {}
    for prefix, name in REFERENCE_KEY_MAP.items():
        module = getattr(network, name)
        state[f"{prefix}.weight"] = module.weight.detach().clone()
        state[f"{prefix}.bias"] = module.bias.detach().clone()
    torch.save(state, path)


def _reference_collapse(network, X, radius, steps):
    """The authors' multiscale inference, written out:
    positions nm / 2000, graph with radius r there, ``p - y r``, times 2000."""
    import torch

    from sklearn_miro.graph import build_graph

    positions = X / 2000.0
    graph = build_graph(positions, radius, normalization="unit")
    with torch.no_grad():
        out = network(torch.from_numpy(graph.node_attr), torch.from_numpy(graph.edge_index),
                      torch.from_numpy(graph.edge_attr), max(steps) + 1).double().numpy()
    return [(positions - out[k, :, :2] * radius) * 2000.0 for k in steps]


def test_reference_multiscale_loader_reproduces_the_reference_inference(data, tmp_path):
    import torch

    from sklearn_miro import load_reference_checkpoint
    from sklearn_miro.network import MIRONetwork

    torch.manual_seed(0)
    network = MIRONetwork(hidden_size=8, n_outputs=2)
    _save_as_reference_checkpoint(network, tmp_path / "ms.pt")
    model = load_reference_checkpoint(tmp_path / "ms.pt", kind="multiscale", n_steps=20,
                                      connectivity_radius=0.2)
    assert isinstance(model, MultiscaleMIROTransformer)
    assert model.k_star_ == [10] and model.scale_names_ == ("corners", "rings")
    np.testing.assert_array_equal(model.scale_steps_, [9, 19])
    assert model.readout_steps == "cutoff" and np.isnan(model.step_compression_).all()
    assert model.connectivity_radius_ == model.length_scale_ == 400.0  # 0.2 x 2000 nm
    X, _, fov = data
    Xf = X[fov == 0]
    corners, rings = _reference_collapse(network, Xf, 0.2, [9, 19])
    np.testing.assert_allclose(model.transform(Xf, scale="corners"), corners, atol=1e-3)
    np.testing.assert_allclose(model.transform(Xf, scale="rings"), rings, atol=1e-3)
    # Both output spaces are nm for this model.
    other = load_reference_checkpoint(tmp_path / "ms.pt", kind="multiscale", n_steps=20,
                                      connectivity_radius=0.2, output="nm")
    np.testing.assert_array_equal(other.transform(Xf), model.transform(Xf))
    # It plugs into the clusterer as a frozen, fitted transformer.
    clu = MultiscaleMIROClusterer(transformer=FrozenEstimator(model), eps=(4.0, 30.0),
                                  min_samples=(4, 16)).fit(X, groups=fov)
    assert clu.labels_.shape == (len(X), 2) and clu.scale_names_ == ("corners", "rings")
    joblib.dump(model, tmp_path / "ms.joblib")
    np.testing.assert_array_equal(joblib.load(tmp_path / "ms.joblib").transform(Xf), model.transform(Xf))


def test_reference_multiscale_loader_errors(tmp_path):
    import torch

    from sklearn_miro import load_reference_checkpoint
    from sklearn_miro.network import MIRONetwork

    _save_as_reference_checkpoint(MIRONetwork(hidden_size=4, n_outputs=2), tmp_path / "ms.pt")
    with pytest.raises(ValueError, match="strictly increasing integers in \\[1, n_steps - 1\\]"):
        load_reference_checkpoint(tmp_path / "ms.pt", kind="multiscale", n_steps=10,
                                  connectivity_radius=0.2)
    torch.manual_seed(0)
    _save_as_reference_checkpoint(MIRONetwork(hidden_size=4, n_outputs=5), tmp_path / "wide.pt")
    with pytest.raises(ValueError, match="has 5 outputs per node; the multiscale checkpoint has 2"):
        load_reference_checkpoint(tmp_path / "wide.pt", kind="multiscale", n_steps=20,
                                  connectivity_radius=0.2)


def test_authors_multiscale_checkpoint_clusters_simulated_pores(shared_dir):
    """The authors' NPC model (T = 20, k* = 10, r = 0.2) on simulated NPC FOVs.

    With the authors' DBSCAN parameters for experimental NPC data (Table S2),
    the rings come out well: a wrong length unit or readout step would not.
    """
    from sklearn_miro import load_reference_checkpoint
    from sklearn_miro.metrics import ari_dagger

    path = shared_dir / "reference" / "checkpoints" / "multiscale_npc.pt"
    model = load_reference_checkpoint(path, kind="multiscale", n_steps=20, connectivity_radius=0.2)
    X, Y, fov = make_npc(n_fovs=1, random_state=5)
    clu = MultiscaleMIROClusterer(transformer=FrozenEstimator(model), eps=(4.0, 30.0),
                                  min_samples=(4, 16)).fit(X)
    rings = ari_dagger(Y[:, 1], clu.labels_of("rings"))
    plain_dbscan_rings = ari_dagger(Y[:, 1], DBSCAN_labels(X, 30.0, 16))
    assert rings > 0.75
    assert rings > plain_dbscan_rings
    # The corners: collapsed at step 10, clustered with eps 4 nm.
    corners = ari_dagger(Y[:, 0], clu.labels_of("corners"))
    assert corners > 0.3


def DBSCAN_labels(X, eps, min_samples):
    from sklearn.cluster import DBSCAN

    return DBSCAN(eps=eps, min_samples=min_samples).fit_predict(X)


def test_pandas_output_names_one_scale_and_every_scale(data, fitted):
    X, _, fov = data
    model = copy.deepcopy(fitted).set_output(transform="pandas")
    one = model.transform(X, groups=fov, scale="rings")
    assert list(one.columns) == ["rings_x", "rings_y"]
    np.testing.assert_array_equal(one.to_numpy(), fitted.transform(X, groups=fov, scale="rings"))
    every = model.transform(X, groups=fov)
    assert list(every.columns) == ["corners_x", "corners_y", "rings_x", "rings_y"]
    assert list(model.get_feature_names_out()) == list(every.columns)  # nothing left behind
    scales = model.transform_scales(X, groups=fov)
    np.testing.assert_array_equal(scales["rings"], one.to_numpy())
    with sklearn.config_context(transform_output="pandas"):
        np.testing.assert_array_equal(fitted.transform_scales(X, groups=fov)["corners"],
                                      every.to_numpy()[:, :2])
    # A failed single-scale call leaves nothing behind for the next one.
    with pytest.raises(ValueError, match="tile_size"):
        model.set_params(tile_size=1e-3).transform(X, groups=fov, scale="rings")
    model.set_params(tile_size="auto")
    assert list(model.transform(X, groups=fov).columns) == list(every.columns)
    assert list(model.get_feature_names_out()) == list(every.columns)


def test_pandas_output_of_one_and_every_scale_from_two_threads(data, fitted):
    from concurrent.futures import ThreadPoolExecutor

    X, _, fov = data
    model = copy.deepcopy(fitted).set_output(transform="pandas")
    calls = [{"scale": "rings"}, {}] * 4
    with ThreadPoolExecutor(2) as pool:
        outputs = list(pool.map(lambda kw: model.transform(X, groups=fov, **kw), calls))
    for kw, out in zip(calls, outputs):
        assert out.shape[1] == (2 if kw else 4)


def test_eps_candidates_in_the_units_of_x_with_fov_normalization(data):
    X, Y, fov = data
    model = tiny(fov_normalization="minmax").fit(X, Y, groups=fov)
    clusterer = MultiscaleMIROClusterer(FrozenEstimator(model), eps="auto", min_samples=(3, 3),
                                        border_points="cluster").fit(X, Y, groups=fov)
    radius = model.connectivity_radius_ * np.median([np.ptp(X[fov == f], axis=0).max() for f in range(3)])
    for grid in clusterer.eps_grid_:
        assert grid.max() == pytest.approx(radius)


def test_the_clusterers_refuse_the_other_kind_of_transformer(data, fitted):
    from sklearn_miro import MIROClusterer, MIROTransformer

    X, Y, fov = data
    with pytest.raises(TypeError, match="must be a MIRO transformer \\(MIROTransformer.*use MultiscaleMIROClusterer"):
        MIROClusterer(FrozenEstimator(fitted), eps=20.0, min_samples=3).fit(X, Y[:, 1], groups=fov)
    single = MIROTransformer(hidden_size=8, n_steps=2, n_augmented=4, max_epochs=1, random_state=0)
    with pytest.raises(TypeError, match="must be a MultiscaleMIROTransformer, .*use MIROClusterer"):
        MultiscaleMIROClusterer(single, eps=(10.0, 40.0), min_samples=(3, 3)).fit(X, Y, groups=fov)
    # Frozen twice: the message shows the nesting and says what to do.
    with pytest.raises(TypeError, match=r"got FrozenEstimator\(FrozenEstimator\(MultiscaleMIROTransformer\)\): "
                                        "wrap the transformer once, not twice"):
        MultiscaleMIROClusterer(FrozenEstimator(FrozenEstimator(fitted)), eps=(10.0, 40.0),
                                min_samples=(3, 3)).fit(X, Y, groups=fov)


def test_labels_of_before_fit_says_not_fitted():
    from sklearn.exceptions import NotFittedError

    from sklearn_miro import MultiscaleMIROClusterer

    with pytest.raises(NotFittedError):
        MultiscaleMIROClusterer().labels_of(0)
