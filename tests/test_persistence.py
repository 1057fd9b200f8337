"""The safe model format: save_model / load_model (issue 16)."""

import json
import warnings
import zipfile

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator

from sklearn_miro import MIROShapeClassifier, MIROTransformer, load_model, save_model
from sklearn_miro.datasets import make_gaussian_clusters, make_multishape
from sklearn_miro.persistence import is_model_file

TINY = dict(hidden_size=8, n_steps=2, n_augmented=10, max_epochs=1, verbose=0, device="cpu")


def test_transformer_round_trip_is_exact_and_never_pickles(tmp_path):
    X, y, fov = make_gaussian_clusters(n_fovs=2, n_clusters=4, n_localizations=15, random_state=0)
    miro = MIROTransformer(**TINY, random_state=np.random.RandomState(3)).fit(X, y, groups=fov)
    path = save_model(miro, tmp_path / "m.miro")
    assert is_model_file(path)
    with zipfile.ZipFile(path) as archive:
        assert sorted(archive.namelist()) == ["arrays.npz", "model.json"]
        document = json.loads(archive.read("model.json"))
    assert document["estimator"]["__object__"] == "MIROTransformer"
    loaded = load_model(path)
    np.testing.assert_array_equal(loaded.transform(X, groups=fov), miro.transform(X, groups=fov))
    assert loaded.get_params()["hidden_size"] == 8
    assert loaded.localization_spacing_ == miro.localization_spacing_
    clone(loaded)  # parameters survive, including a RandomState


def test_unfitted_estimator_and_overwrite(tmp_path):
    path = save_model(MIROTransformer(hidden_size=5), tmp_path / "u.miro")
    assert load_model(path).hidden_size == 5
    with pytest.raises(FileExistsError, match="already exists"):
        save_model(MIROTransformer(), path, overwrite=False)


def test_shape_classifier_round_trip(tmp_path):
    X, y, fov, shape = make_multishape(("spot", "ellipse"), n_fovs=1, n_clusters=(3, 4), random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = MIROShapeClassifier(**TINY, random_state=0).fit(X, shape, clusters=y, groups=fov)
        loaded = load_model(save_model(clf, tmp_path / "c.miro"))
        np.testing.assert_array_equal(loaded.predict(X, groups=fov), clf.predict(X, groups=fov))
    np.testing.assert_array_equal(loaded.classes_, clf.classes_)


def test_clusterer_round_trip_keeps_its_cluster_table(tmp_path):
    import pandas as pd

    from sklearn_miro import MIROClusterer

    X, y, fov = make_gaussian_clusters(n_fovs=2, n_clusters=4, n_localizations=15, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a tiny fit warns that it moved nothing
        clusterer = MIROClusterer(MIROTransformer(**TINY, random_state=0)).fit(X, y, groups=fov)
    loaded = load_model(save_model(clusterer, tmp_path / "c.miro"))
    pd.testing.assert_frame_equal(loaded.cluster_table_, clusterer.cluster_table_)
    assert loaded.cluster_table_.attrs == clusterer.cluster_table_.attrs
    np.testing.assert_array_equal(loaded.predict(X, groups=fov), clusterer.predict(X, groups=fov))
    # With DBSCAN* after the collapse (border points left as background).
    star = clone(clusterer).set_params(transformer=FrozenEstimator(clusterer.transformer_),
                                       border_points="background").fit(X, y, groups=fov)
    loaded = load_model(save_model(star, tmp_path / "star.miro"))
    assert type(loaded.clusterer_) is type(star.clusterer_) and loaded.border_points_ == "background"
    np.testing.assert_array_equal(loaded.predict(X, groups=fov), star.labels_)


def test_shape_classifier_with_descriptor_classes_round_trip(tmp_path):
    """The learned cluster-class model (scaler + logistic regression) is stored without pickle."""
    X, y, fov, shape = make_multishape(("spot", "ellipse"), n_fovs=3, n_clusters=8, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = MIROShapeClassifier(**TINY, eps=30.0, min_samples=4, cluster_classes="descriptors",
                                  random_state=0).fit(X, shape, clusters=y, groups=fov)
        loaded = load_model(save_model(clf, tmp_path / "d.miro"))
        assert loaded.cluster_classes_ == "descriptors"
        for a, b in zip(loaded.predict_clusters(X, groups=fov), clf.predict_clusters(X, groups=fov)):
            np.testing.assert_array_equal(a, b)


def test_a_pretrained_model_and_its_label_free_clusterer_round_trip(tmp_path):
    from sklearn_miro import MIROClusterer

    X, _, _ = make_gaussian_clusters(n_fovs=1, n_clusters=6, n_localizations=15, fov_size=800.0, random_state=0)
    miro = MIROTransformer.pretrained("nanoclusters", cluster_radius=25.0)
    loaded = load_model(save_model(miro, tmp_path / "p.miro"))
    assert loaded.model_.name == "nanoclusters" and loaded.model_card_ == miro.model_card_
    np.testing.assert_array_equal(loaded.transform(X), miro.transform(X))
    clusterer = MIROClusterer(MIROTransformer.pretrained("nanoclusters")).fit(X)
    loaded = load_model(save_model(clusterer, tmp_path / "c.miro"))
    assert loaded.label_free_ and loaded.cluster_radius_ == clusterer.cluster_radius_
    np.testing.assert_array_equal(loaded.predict(X), clusterer.labels_)


def _rewrite(source, target, edit):
    """Copy a model file with its JSON document edited by ``edit``."""
    with zipfile.ZipFile(source) as archive:
        document = json.loads(archive.read("model.json"))
        raw = archive.read("arrays.npz")
    edit(document)
    with zipfile.ZipFile(target, "w") as archive:
        archive.writestr("model.json", json.dumps(document))
        archive.writestr("arrays.npz", raw)
    return target


def test_damaged_files_give_a_clear_error_not_a_torch_one(tmp_path):
    from sklearn.cluster import DBSCAN

    from sklearn_miro.network import MIRONetwork

    holder = DBSCAN()
    holder.net_ = MIRONetwork(hidden_size=8)
    path = save_model(holder, tmp_path / "n.miro")

    def wider(document):  # weights no longer match the stored configuration
        document["estimator"]["state"]["__dict__"]["net_"]["__network__"]["config"]["__dict__"][
            "hidden_size"] = 16

    with pytest.raises(ValueError, match="damaged or incompatible .*RuntimeError"):
        load_model(_rewrite(path, tmp_path / "wider.miro", wider))
    with pytest.raises(ValueError, match="format_version is '1', not an integer"):
        load_model(_rewrite(path, tmp_path / "v.miro", lambda d: d.update(format_version="1")))


def test_numpy_bools_and_a_fitted_hdbscan_round_trip(tmp_path):
    from sklearn.cluster import HDBSCAN

    X, _, _ = make_gaussian_clusters(n_fovs=1, n_clusters=4, n_localizations=15, fov_size=500.0, random_state=0)
    fitted = HDBSCAN(copy=True).fit(X)
    fitted.flag_ = np.bool_(True)
    loaded = load_model(save_model(fitted, tmp_path / "h.miro"))
    assert loaded.flag_ is True
    np.testing.assert_array_equal(loaded.labels_, fitted.labels_)
    # its single-linkage tree (a structured array) survives, so its methods work
    np.testing.assert_array_equal(loaded.dbscan_clustering(20.0), fitted.dbscan_clustering(20.0))


def test_damaged_truncated_and_misplaced_files(tmp_path):
    import io

    path = save_model(MIROTransformer(hidden_size=5), tmp_path / "u.miro")
    raw = path.read_bytes()
    # Cut short: named as such, not as "a zip archive without a model".
    cut = tmp_path / "cut.miro"
    cut.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match="damaged or truncated zip archive"):
        load_model(cut)
    # Arrays holding Python objects: numpy's advice to unpickle them is not passed on.
    objects = tmp_path / "objects.miro"
    buffer = io.BytesIO()
    np.save(buffer, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(objects, "w") as target:
        target.writestr("model.json", source.read("model.json"))
        npz = io.BytesIO()
        with zipfile.ZipFile(npz, "w") as inner:
            inner.writestr("a.npy", buffer.getvalue())
        target.writestr("arrays.npz", npz.getvalue())
    with pytest.raises(ValueError, match="damaged sklearn_miro model file: its arrays hold Python objects") as info:
        load_model(objects)
    assert "pickle" not in str(info.value)
    # A JSON document nested beyond the parser's recursion limit: ValueError, not RecursionError.
    deep = tmp_path / "deep.miro"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(deep, "w") as target:
        target.writestr("model.json", "[" * 100_000 + "]" * 100_000)
        target.writestr("arrays.npz", source.read("arrays.npz"))
    with pytest.raises(ValueError, match="nested too deeply|damaged"):
        load_model(deep)
    # A localisation table given as the output by mistake is not overwritten.
    table = tmp_path / "fov.csv"
    table.write_text("x,y\n1,2\n")
    with pytest.raises(FileExistsError, match="is not a sklearn_miro model file .*not overwritten"):
        save_model(MIROTransformer(), table)
    assert table.read_text() == "x,y\n1,2\n"
    save_model(MIROTransformer(hidden_size=6), path)  # a model file is overwritten as before
    assert load_model(path).hidden_size == 6
