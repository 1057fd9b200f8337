"""Estimators at scale: tile_size, n_jobs and the Dask backend."""

from dataclasses import replace

import joblib
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator

from sklearn_miro import MIROClusterer, MIROTransformer
from sklearn_miro.datasets import make_gaussian_clusters

TINY = dict(hidden_size=8, n_steps=3, n_augmented=6, max_epochs=1, batch_size=3,
            validation_fraction=0.0, verbose=0, random_state=0)


@pytest.fixture(scope="module")
def data():
    return make_gaussian_clusters(n_fovs=4, n_clusters=5, n_localizations=15, fov_size=600,
                                  random_state=0)


@pytest.fixture(scope="module")
def fitted(data):
    X, y, fov = data
    return MIROTransformer(**TINY).fit(X, y, groups=fov)


def test_new_parameters_have_sklearn_defaults():
    params = MIROTransformer().get_params()
    assert params["tile_size"] == "auto" and params["n_jobs"] is None and params["crop_features"] is True
    assert MIROClusterer().get_params()["n_jobs"] is None
    assert clone(MIROTransformer(tile_size=500.0, n_jobs=2)).get_params()["tile_size"] == 500.0


def test_small_fovs_are_not_tiled_by_default(data, fitted, monkeypatch):
    import sklearn_miro.tiling as tiling

    def no_tiling(*args, **kwargs):
        raise AssertionError("a small FOV was tiled")

    monkeypatch.setattr(tiling, "tiled_network_outputs", no_tiling)
    X, _, fov = data
    whole = clone(fitted).set_params(tile_size=None)
    whole.model_ = fitted.model_
    np.testing.assert_array_equal(fitted.transform(X, groups=fov), whole.transform(X, groups=fov))


def test_tiling_is_exact_when_the_feature_tiles_cover_the_fov(data, fitted):
    # Feature tiles at least as large as the FOV: the features are the whole
    # FOV's, so tiles with the n_steps x radius halo change nothing.
    X, _, fov = data
    X0 = X[fov == 0]
    model = replace(fitted.model_, augmentation_fov_size=10 * np.ptp(X0, axis=0).max())
    tiled = clone(fitted).set_params(tile_size=100.0)
    tiled.model_ = model
    whole = clone(fitted).set_params(tile_size=None)
    whole.model_ = model
    np.testing.assert_allclose(tiled.transform(X0), whole.transform(X0), atol=1e-5)


def test_crop_features_make_tiled_and_whole_fov_inference_equal(data, fitted):
    # The default computes the eigenvector features per training-crop square
    # on every FOV, as tiled inference must: the tile size then changes nothing.
    X, _, fov = data
    X0 = X[fov == 0]
    model = replace(fitted.model_, augmentation_fov_size=200.0)
    outputs = {}
    for crop_features in (True, False):
        for tile_size in (None, 150.0):
            estimator = clone(fitted).set_params(tile_size=tile_size, crop_features=crop_features)
            estimator.model_ = model
            outputs[crop_features, tile_size] = estimator.transform(X0)
    np.testing.assert_allclose(outputs[True, None], outputs[True, 150.0], atol=1e-5)
    np.testing.assert_allclose(outputs[False, 150.0], outputs[True, 150.0], atol=1e-5)
    # Without them, a FOV that is not tiled gets its whole graph's features.
    assert np.abs(outputs[False, None] - outputs[True, None]).max() > 1e-3


def test_a_model_trained_on_whole_fovs_keeps_whole_fov_features(data, fitted):
    X, _, fov = data
    X0 = X[fov == 0]
    # Squares of 200 (the median training FOV side) would split this FOV, so
    # applying them would change the output.
    model = replace(fitted.model_, augmentation_fov_size=None, distance_unit=200.0)
    outputs = []
    for crop_features in (True, False):
        estimator = clone(fitted).set_params(tile_size=None, crop_features=crop_features)
        estimator.model_ = model
        outputs.append(estimator.transform(X0))
    np.testing.assert_array_equal(outputs[0], outputs[1])


def test_training_diagnostics_use_the_estimators_features(data):
    X, y, fov = data
    compression = {flag: MIROTransformer(**TINY, crop_features=flag).fit(X, y, groups=fov).training_compression_
                   for flag in (True, False)}
    assert compression[True] != compression[False]


def test_models_pickled_before_crop_features_keep_whole_fov_features(data, fitted):
    X, _, fov = data
    state = dict(fitted.__getstate__())
    state.pop("crop_features")
    old = MIROTransformer.__new__(MIROTransformer)
    old.__setstate__(state)
    assert old.crop_features is False
    whole = clone(fitted).set_params(crop_features=False)
    whole.model_ = fitted.model_
    np.testing.assert_array_equal(old.transform(X[fov == 0]), whole.transform(X[fov == 0]))


def test_tiled_transform_runs_with_small_feature_tiles(data, fitted):
    X, _, fov = data
    tiled = clone(fitted).set_params(tile_size=150.0)
    tiled.model_ = replace(fitted.model_, augmentation_fov_size=200.0)
    out = tiled.transform(X[fov == 1])
    assert out.shape == (np.sum(fov == 1), 2) and np.all(np.isfinite(out))


def test_transform_with_two_jobs_equals_one_job(data, fitted):
    X, _, fov = data
    parallel = clone(fitted).set_params(n_jobs=2)
    parallel.model_ = fitted.model_
    np.testing.assert_array_equal(parallel.transform(X, groups=fov), fitted.transform(X, groups=fov))


def test_clusterer_predict_with_two_jobs_equals_one_job(data, fitted):
    X, y, fov = data
    clusterer = MIROClusterer(FrozenEstimator(fitted), eps=10.0, min_samples=3).fit(X, y, groups=fov)
    sequential = clusterer.predict(X, groups=fov)
    np.testing.assert_array_equal(clusterer.set_params(n_jobs=2).predict(X, groups=fov), sequential)


def test_clusterer_dbscan_choice_with_two_jobs_equals_one_job(data, fitted):
    # fit scores the eps candidates in parallel with n_jobs: the same grid of
    # scores, so the same choice.
    X, y, fov = data
    sequential = MIROClusterer(FrozenEstimator(fitted)).fit(X, y, groups=fov)
    parallel = MIROClusterer(FrozenEstimator(fitted), n_jobs=2).fit(X, y, groups=fov)
    np.testing.assert_array_equal(parallel.tuning_scores_, sequential.tuning_scores_)
    assert (parallel.eps_, parallel.min_samples_, parallel.collapse_passes_) == (
        sequential.eps_, sequential.min_samples_, sequential.collapse_passes_)


def test_clusterer_predict_on_a_dask_cluster(data, fitted):
    distributed = pytest.importorskip("distributed", reason="the [dask] extra is not installed")
    X, y, fov = data
    clusterer = MIROClusterer(FrozenEstimator(fitted), eps=10.0, min_samples=3).fit(X, y, groups=fov)
    expected = clusterer.predict(X, groups=fov)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, distributed.Client(cluster):
        with joblib.parallel_config(backend="dask"):
            labels = clusterer.predict(X, groups=fov)
    np.testing.assert_array_equal(labels, expected)


def test_invalid_tile_size_is_rejected(data):
    X, y, fov = data
    with pytest.raises(ValueError, match="tile_size"):
        MIROTransformer(**{**TINY, "tile_size": -3.0}).fit(X, y, groups=fov)
    with pytest.raises(ValueError, match="tile_size"):
        MIROTransformer(**{**TINY, "tile_size": "big"}).fit(X, y, groups=fov)


def test_models_pickled_before_tiling_load_with_the_defaults(data, fitted):
    X, _, fov = data
    state = dict(fitted.__getstate__())  # the live __dict__ otherwise
    state.pop("tile_size")
    state.pop("n_jobs")
    old = MIROTransformer.__new__(MIROTransformer)
    old.__setstate__(state)
    assert old.tile_size == "auto" and old.n_jobs is None
    np.testing.assert_array_equal(old.transform(X[fov == 0]), fitted.transform(X[fov == 0]))


def test_tiled_fovs_show_a_progress_bar_when_verbose(data, fitted, capsys):
    X, _, fov = data
    X0 = X[fov == 0]
    for verbose, shown in ((1, True), (0, False)):
        tiled = clone(fitted).set_params(tile_size=150.0, verbose=verbose)
        tiled.model_ = fitted.model_
        tiled.transform(X0)
        assert ("MIRO: tiled inference" in capsys.readouterr().err) is shown
    # Untiled FOVs get none, even when verbose.
    whole = clone(fitted).set_params(tile_size=None, verbose=1)
    whole.model_ = fitted.model_
    whole.transform(X0)
    assert "MIRO" not in capsys.readouterr().err


def test_zero_shot_clustering_of_many_fovs_uses_n_jobs_and_shows_progress(data, capsys, monkeypatch):
    from sklearn_miro.estimators import _clusterer

    X, _, fov = data
    asked = []
    original = _clusterer.map_fovs
    monkeypatch.setattr(_clusterer, "map_fovs",
                        lambda f, args, n_jobs=None, **kw: asked.append((f.__name__, n_jobs))
                        or original(f, args, n_jobs, **kw))
    miro = MIROTransformer.pretrained("nanoclusters", cluster_radius=20.0, verbose=0)
    sequential = MIROClusterer(miro).fit_predict(X, groups=fov)
    capsys.readouterr()
    parallel = MIROClusterer(miro, n_jobs=2)
    np.testing.assert_array_equal(parallel.fit_predict(X, groups=fov), sequential)
    np.testing.assert_array_equal(parallel.predict(X, groups=fov), sequential)
    assert ("label_free_fov", 2) in asked  # the per-FOV work went to map_fovs with n_jobs
    assert "MIRO" not in capsys.readouterr().err  # verbose=0: silent
    shown = MIROClusterer(MIROTransformer.pretrained("nanoclusters", cluster_radius=20.0))
    np.testing.assert_array_equal(shown.fit_predict(X, groups=fov), sequential)
    assert "MIRO: clustering FOVs (zero-shot)" in capsys.readouterr().err


def test_zero_shot_dbscan_of_a_large_fov_runs_in_bounded_memory(monkeypatch):
    # Above GRID_DBSCAN_MIN_POINTS the per-FOV DBSCAN of zero-shot clustering
    # goes through grid_dbscan (same labels as scikit-learn's DBSCAN).
    from sklearn.cluster import DBSCAN

    from sklearn_miro import clustering

    rng = np.random.default_rng(0)
    centres = rng.uniform(0, 5000, (40, 2))
    points = np.repeat(centres, 300, axis=0) + rng.normal(scale=3.0, size=(12000, 2))
    expected = DBSCAN(eps=5.0, min_samples=10).fit_predict(points)
    calls = []
    original = clustering.grid_dbscan
    monkeypatch.setattr(clustering, "grid_dbscan", lambda *a, **k: calls.append(1) or original(*a, **k))
    labels = clustering.dbscan_per_fov_scaled([np.arange(len(points))], [points], [5.0], 10, len(points))
    assert calls == [1]
    assert np.array_equal(labels, expected)
