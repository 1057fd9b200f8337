"""A pretrained model stays pretrained through clone: grid searches, pipelines and
cross-validation use it as it is, never train it (user review, issue 1).

Only one test trains (a fine-tune of 4 synthetic FOVs, one epoch); every other
test fails if the training function is called at all.
"""

import io
import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
import sklearn
import torch
from sklearn.base import clone
from sklearn.cluster import DBSCAN
from sklearn.model_selection import GridSearchCV, GroupKFold, cross_validate
from sklearn.pipeline import Pipeline

import sklearn_miro.estimators._base as estimator_base
from sklearn_miro import MIROClusterer, MIROTransformer
from sklearn_miro.datasets import make_gaussian_clusters
from sklearn_miro.metrics import miro_scorer
from sklearn_miro.persistence import load_model, save_model
from sklearn_miro.pretrained import ZERO_SHOT_MODEL, load_pretrained


@pytest.fixture(scope="module")
def data():
    X, y, fov = make_gaussian_clusters(3, n_clusters=5, fov_size=600.0, random_state=0)[:3]
    return X, y, fov


@pytest.fixture
def no_training(monkeypatch):
    """Fail the test if any MIRO network is trained."""
    calls = []

    def refuse(*args, **kwargs):
        calls.append(args)
        raise AssertionError("a MIRO network was trained")

    monkeypatch.setattr(estimator_base, "train_model", refuse)
    return calls


def _same_weights(network, name):
    shipped, _ = load_pretrained(name)
    got = network.state_dict()
    return all(torch.equal(got[key], value) for key, value in shipped.state_dict().items())


@pytest.mark.parametrize("name", [ZERO_SHOT_MODEL, "nanoclusters"])
def test_clone_of_a_pretrained_model_is_the_same_pretrained_model(name, data, no_training):
    X, _, fov = data
    # Parameters set after pretrained() are kept, as clone keeps any parameter.
    pre = MIROTransformer.pretrained(name, verbose=0).set_params(cluster_radius=30.0, tile_size=None)
    fresh = clone(pre)
    assert fresh is not pre and fresh.model_ is not pre.model_
    assert fresh.pretrained_ == name and fresh.n_features_in_ == 2
    assert fresh.get_params() == pre.get_params()
    assert fresh.cluster_radius == 30.0 and fresh.tile_size is None and fresh.init == name
    assert _same_weights(fresh.network_, name)
    assert fresh.network_.head.weight.data_ptr() != pre.network_.head.weight.data_ptr()
    np.testing.assert_array_equal(fresh.transform(X, groups=fov), pre.transform(X, groups=fov))
    # ... and so on, clone after clone, and inside a meta-estimator.
    assert clone(fresh).pretrained_ == name
    assert clone(MIROClusterer(pre)).transformer.pretrained_ == name


@pytest.mark.parametrize("change", [dict(max_epochs=1), dict(hidden_size=16), dict(n_steps=5),
                                    dict(init="nanoclusters"), dict(learning_rate=1e-4)])
def test_a_changed_network_or_training_setting_is_trained_not_ignored(change, data):
    # A grid over these on a pretrained model must train each candidate, not keep the
    # shipped weights under another setting (hidden_size 16 on a 64-wide network).
    pre = MIROTransformer.pretrained(verbose=0).set_params(**change)
    fresh = clone(pre)
    assert not hasattr(fresh, "model_")
    assert all(getattr(fresh, key) == value for key, value in change.items())
    with pytest.raises(ValueError, match="requires y"):
        fresh.fit(data[0])  # an ordinary unfitted transformer, not a pretrained one
    # Settings that zero-shot use reads, or ignores, keep it pretrained.
    kept = clone(MIROTransformer.pretrained(verbose=0).set_params(
        random_state=0, n_jobs=2, device="cpu", crop_features=False, verbose=1))
    assert kept.pretrained_ == ZERO_SHOT_MODEL


def test_a_clone_does_not_carry_what_fit_saw(data, no_training):
    X, _, _ = data
    pre = MIROTransformer.pretrained(verbose=0).fit(pd.DataFrame(X, columns=["x", "y"]))
    assert list(pre.feature_names_in_) == ["x", "y"]
    fresh = clone(pre)
    assert not hasattr(fresh, "feature_names_in_") and fresh.pretrained_ == ZERO_SHOT_MODEL


def test_grid_search_tunes_dbscan_on_a_pretrained_model_without_training(data, no_training):
    X, y, fov = data
    pre = MIROTransformer.pretrained(verbose=0)
    clusterer = MIROClusterer(pre, collapse_passes=1, border_points="cluster", outlier_radius=None)
    with sklearn.config_context(enable_metadata_routing=True):
        search = GridSearchCV(clusterer, {"eps": [10.0, 25.0], "min_samples": [3, 5]}, scoring=miro_scorer,
                              cv=GroupKFold(3)).fit(X, y, groups=fov)
    assert not no_training
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    best = search.best_estimator_.transformer_
    # The pretrained model the user chose, with its shipped weights: not a fine-tuned one.
    assert best.pretrained_ == ZERO_SHOT_MODEL and _same_weights(best.network_, ZERO_SHOT_MODEL)
    assert not hasattr(best, "started_from_") or best.started_from_ is None
    assert pre.pretrained_ == ZERO_SHOT_MODEL and _same_weights(pre.network_, ZERO_SHOT_MODEL)


def test_cross_validate_keeps_the_pretrained_model(data, no_training):
    X, y, fov = data
    clusterer = MIROClusterer(MIROTransformer.pretrained(verbose=0), eps=20.0, min_samples=4,
                              collapse_passes=1, border_points="cluster", outlier_radius=None)
    with sklearn.config_context(enable_metadata_routing=True):
        result = cross_validate(clusterer, X, y, scoring=miro_scorer, cv=GroupKFold(3),
                                params={"groups": fov}, return_estimator=True)
    assert all(est.transformer_.pretrained_ == ZERO_SHOT_MODEL for est in result["estimator"])


def test_a_pipeline_with_a_pretrained_model_and_dbscan_runs_zero_shot(data, no_training):
    X, _, fov = data
    X0 = X[fov == 0]
    pre = MIROTransformer.pretrained(verbose=0)
    dbscan = DBSCAN(eps=20.0, min_samples=4)
    expected_collapse = MIROTransformer.pretrained(verbose=0).transform(X0)
    pipe = Pipeline([("miro", pre), ("dbscan", dbscan)])
    labels = pipe.fit_predict(X0)  # no y: nothing to fine-tune on
    # The zero-shot collapse (length scale estimated on the FOV), then DBSCAN on it.
    np.testing.assert_array_equal(pipe[:-1].transform(X0), expected_collapse)
    np.testing.assert_array_equal(labels, clone(dbscan).fit_predict(expected_collapse))
    assert pre.pretrained_ == ZERO_SHOT_MODEL and _same_weights(pre.network_, ZERO_SHOT_MODEL)
    # A clone of the pipeline (what cross_validate fits) gives the same labels.
    np.testing.assert_array_equal(clone(pipe).fit_predict(X0), labels)
    # Several FOVs stacked in one output still get fit_transform's warning.
    with pytest.warns(UserWarning, match="fit_transform got 3 FOVs"):
        Pipeline([("miro", MIROTransformer.pretrained(verbose=0)), ("dbscan", dbscan)]).fit_predict(
            X, miro__groups=fov)


def test_fit_without_labels_checks_x_and_keeps_the_model(data, no_training):
    X, _, _ = data
    pre = MIROTransformer.pretrained(verbose=0)
    before = pre.transform(X)
    assert pre.fit(X) is pre and pre.fit(X, None) is pre
    np.testing.assert_array_equal(pre.transform(X), before)
    with pytest.raises(ValueError, match=r"shape \(n_localizations, 2\)"):
        pre.fit(np.ones((5, 3)))
    # An ordinary transformer still needs labels.
    with pytest.raises(ValueError, match="requires y"):
        MIROTransformer(verbose=0).fit(X)


def test_fit_with_labels_fine_tunes_and_then_clones_unfitted(data):
    X, y, fov = data
    tiny = dict(n_augmented=4, max_epochs=1, batch_size=2, validation_fraction=0.0, random_state=0,
                device="cpu")
    pre = MIROTransformer.pretrained("nanoclusters", verbose=0).set_params(**tiny)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a 4-FOV fine-tune may move little; not what is tested
        pre.fit(X, y, groups=fov)
    assert pre.pretrained_ is None and pre.started_from_ == "nanoclusters"
    assert not _same_weights(pre.network_, "nanoclusters")  # fine-tuned
    fresh = clone(pre)
    assert not hasattr(fresh, "model_") and fresh.init == "nanoclusters"
    assert fresh.get_params() == pre.get_params()


@pytest.mark.parametrize("round_trip", ["joblib", "miro", "pickled-before-the-flag"])
def test_a_saved_pretrained_model_keeps_the_clone_behaviour(round_trip, data, tmp_path, no_training):
    X, _, _ = data
    pre = MIROTransformer.pretrained("nanoclusters", cluster_radius=35.0, verbose=0)
    if round_trip == "joblib":
        buffer = io.BytesIO()
        joblib.dump(pre, buffer)
        buffer.seek(0)
        again = joblib.load(buffer)
    elif round_trip == "miro":
        again = load_model(save_model(pre, tmp_path / "pre.miro"))
    else:
        # A pretrained model pickled before the flag existed: its model_ says what it is.
        state = pre.__getstate__()
        del state["_pretrained_as_shipped"]
        again = MIROTransformer.__new__(MIROTransformer)
        again.__setstate__(state)
    fresh = clone(again)
    assert fresh.pretrained_ == "nanoclusters" and fresh.cluster_radius == 35.0
    np.testing.assert_array_equal(fresh.transform(X), pre.transform(X))


def test_a_pretrained_model_names_its_outputs_x_and_y(data, no_training):
    X, _, fov = data
    df = pd.DataFrame({"x [nm]": X[:, 0], "y [nm]": X[:, 1]})
    pre = MIROTransformer.pretrained(verbose=0)
    assert list(pre.get_feature_names_out()) == ["x", "y"]
    out = pre.set_output(transform="pandas").transform(df, groups=fov)
    assert list(out.columns) == ["x", "y"]
    np.testing.assert_array_equal(out.to_numpy(), MIROTransformer.pretrained(verbose=0).transform(X, groups=fov))
    assert list(pre.get_feature_names_out(["a", "b"])) == ["a", "b"]
    # In a Pipeline with pandas output: fit records the DataFrame's coordinate names.
    pipe = Pipeline([("miro", MIROTransformer.pretrained(verbose=0))]).set_output(transform="pandas")
    out = pipe.fit_transform(df[fov == 0])
    assert list(out.columns) == ["x", "y"] and list(pipe[0].feature_names_in_) == ["x", "y"]
