"""Cluster tables of fitted estimators (cluster_table_, predict_table)."""

import joblib
import numpy as np
import pandas as pd
from sklearn.base import clone

from sklearn_miro import MIROClusterer, MIROShapeClassifier, MIROTransformer, MultiscaleMIROClusterer
from sklearn_miro.analysis import cluster_table, multiscale_cluster_table
from sklearn_miro.datasets import make_gaussian_clusters, make_multishape, make_npc
from sklearn_miro.estimators import MultiscaleMIROTransformer

TINY = dict(
    hidden_size=8, n_steps=3, n_augmented=6, max_epochs=1, batch_size=3,
    validation_fraction=0.0, verbose=0, random_state=0,
)  # fmt: skip


def test_miro_clusterer_tables(tmp_path):
    X, y, fov = make_gaussian_clusters(3, n_clusters=4, n_localizations=15, fov_size=500, random_state=0)
    clu = MIROClusterer(MIROTransformer(**TINY), eps=20.0, min_samples=3).fit(X, y, groups=fov)
    pd.testing.assert_frame_equal(clu.cluster_table_, cluster_table(X, clu.labels_, fov))
    assert clu.cluster_table_["n_localizations"].sum() == np.sum(clu.labels_ >= 0)
    table = clu.predict_table(X[fov == 0])
    pd.testing.assert_frame_equal(table, cluster_table(X[fov == 0], clu.predict(X[fov == 0])))
    # new FOVs with their ids
    groups = np.where(fov[fov > 0] == 1, "a", "b")
    table = clu.predict_table(X[fov > 0], groups=groups)
    assert set(table["fov"]) <= {"a", "b"}
    # survives pickling and clone drops it
    path = tmp_path / "m.joblib"
    joblib.dump(clu, path)
    pd.testing.assert_frame_equal(joblib.load(path).cluster_table_, clu.cluster_table_)
    assert not hasattr(clone(clu), "cluster_table_")


def test_multiscale_tables():
    X, Y, fov = make_npc(n_fovs=2, n_structures=2, n_localizations=(4, 10), fov_size=400, random_state=0)
    transformer = MultiscaleMIROTransformer(**{**TINY, "n_steps": 4}, scale_names=("corners", "rings"))
    clu = MultiscaleMIROClusterer(transformer, eps=(15.0, 40.0), min_samples=(3, 10)).fit(X, Y, groups=fov)
    expected = multiscale_cluster_table(X, clu.labels_, fov, scale_names=("corners", "rings"))
    pd.testing.assert_frame_equal(clu.cluster_table_, expected)
    assert set(clu.cluster_table_["scale"]) <= {"corners", "rings"}
    table = clu.predict_table(X, groups=fov)
    assert {"scale", "parent_label", "n_in_parent"} <= set(table.columns)
    pd.testing.assert_frame_equal(
        table, multiscale_cluster_table(X, clu.predict(X, groups=fov), fov, scale_names=("corners", "rings"))
    )


def test_shape_classifier_table():
    X, y, fov, shape = make_multishape(
        ("spot", "ellipse"), n_fovs=2, n_clusters=3, fov_size=600, background_fraction=0.1,
        shape_params={"spot": {"n_localizations": 20}, "ellipse": {"n_localizations": 20}},
        random_state=0,
    )  # fmt: skip
    model = MIROShapeClassifier(**TINY, eps=30.0, min_samples=4).fit(X, shape, clusters=y, groups=fov)
    table = model.predict_table(X, groups=fov)
    labels, classes = model.predict_clusters(X, groups=fov)
    pd.testing.assert_frame_equal(table, cluster_table(X, labels, fov, shapes=classes))
    assert set(table["shape"]) <= set(model.classes_)
