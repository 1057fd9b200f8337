"""Tests of sklearn_miro.provenance: the record of a fitted estimator and its Methods paragraph."""

import copy
import doctest
import importlib
import json
import sys
import warnings
from pathlib import Path

import joblib
import numpy as np
import pytest
import sklearn
import torch
from sklearn.cluster import DBSCAN, KMeans
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

import sklearn_miro
from sklearn_miro import (
    MIROClusterer,
    MIROShapeClassifier,
    MIROTransformer,
    MultiscaleMIROClusterer,
    methods_text,
    provenance_record,
)
from sklearn_miro.datasets import make_gaussian_clusters, make_multishape, make_npc
from sklearn_miro.estimators import MultiscaleMIROTransformer
from sklearn_miro.provenance import PROVENANCE_FORMAT

# The test suite's tiny training settings (tests/test_estimators.py).
TINY = dict(hidden_size=8, n_steps=3, n_augmented=6, max_epochs=1, batch_size=3, validation_fraction=0.0,
            verbose=0)


def tiny(**kwargs):
    return MIROTransformer(**{**TINY, "random_state": 0, **kwargs})


def json_round_trip(record):
    """The record through JSON (NaN refused), which must give it back unchanged."""
    text = json.dumps(record, allow_nan=False)
    back = json.loads(text)
    assert back == record
    return back


@pytest.fixture(scope="module")
def zero_shot_data():
    X, y, fov = make_gaussian_clusters(2, n_clusters=10, random_state=0)[:3]
    return X, y, fov


@pytest.fixture(scope="module")
def zero_shot(zero_shot_data):
    X, _, fov = zero_shot_data
    return MIROClusterer(MIROTransformer.pretrained(verbose=0)).fit(X, groups=fov)


@pytest.fixture(scope="module")
def data():
    X, y, fov = make_gaussian_clusters(n_fovs=3, n_clusters=4, n_localizations=15, fov_size=500,
                                       random_state=0)
    return X, y, fov


@pytest.fixture(scope="module")
def fine_tuned(data):
    # Fine-tuned from "nanoclusters" (hidden size 64) with the tiny schedule; every
    # choice of the clusterer made on the labels (eps, min_samples, passes, DBSCAN*,
    # trimming).
    X, y, fov = data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return MIROClusterer(tiny(hidden_size=64, init="nanoclusters")).fit(X, y, groups=fov)


@pytest.fixture(scope="module")
def scratch(data):
    X, y, fov = data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return tiny().fit(X, y, groups=fov)


# ----------------------------------------------------------------- zero-shot


def test_zero_shot_record_is_json_and_holds_the_fitted_values(zero_shot):
    record = json_round_trip(provenance_record(zero_shot))
    assert record["format"] == PROVENANCE_FORMAT
    assert record["kind"] == "clusterer"
    versions = record["versions"]
    assert versions["sklearn_miro"] == sklearn_miro.__version__
    assert versions["torch"] == torch.__version__
    assert versions["scikit-learn"] == sklearn.__version__
    assert versions["numpy"] == np.__version__
    assert versions["python"] == ".".join(map(str, sys.version_info[:3]))

    assert record["estimator"]["class"] == "sklearn_miro.MIROClusterer"
    # Only the non-default parameters; the transformer as a nested record.
    params = record["estimator"]["parameters"]
    assert set(params) == {"transformer"}
    assert params["transformer"]["class"] == "sklearn_miro.MIROTransformer"
    assert params["transformer"]["parameters"]["init"] == "nanoclusters-long"

    network = record["network"]
    assert network["origin"] == "pretrained"
    assert network["pretrained_model"] == zero_shot.transformer_.pretrained_ == "nanoclusters-long"
    assert network["hidden_size"] == zero_shot.transformer_.hidden_size_
    assert network["n_steps"] == zero_shot.transformer_.n_steps_
    card = zero_shot.transformer_.model_card_
    assert network["zero_shot_units"]["connectivity_radius_in_mean_spacings"] == card["radius_in_spacings"]
    assert network["zero_shot_units"]["cluster_radius_source"] == "estimated per FOV"
    assert network["model_card"]["label_free_rule"]["eps_in_cluster_radii"] == card["dbscan"]["eps_in_radii"]
    assert network["model_card"]["training_runs"][0]["optimisation_steps"] == \
        card["training"]["optimisation_steps_done"]

    clustering = record["clustering"]
    assert clustering["label_free"] is zero_shot.label_free_ is True
    assert clustering["algorithm"] == "DBSCAN" and zero_shot.border_points_ == "cluster"
    assert clustering["eps"] == zero_shot.eps_
    assert clustering["min_samples"] == zero_shot.min_samples_
    assert clustering["collapse_passes"] == zero_shot.collapse_passes_ == 2
    assert clustering["outlier_radius"] is None and zero_shot.outlier_radius_ is None
    assert clustering["cluster_radius"] == zero_shot.cluster_radius_
    np.testing.assert_array_equal(clustering["cluster_radius_per_fov"], zero_shot.cluster_radii_)
    np.testing.assert_array_equal(clustering["min_samples_per_fov"], zero_shot.min_samples_per_fov_)
    # eps of every FOV: the card's multiple of its cluster radius; eps_ is their median.
    eps = np.asarray(clustering["eps_per_fov"])
    np.testing.assert_allclose(eps, card["dbscan"]["eps_in_radii"] * zero_shot.cluster_radii_)
    assert np.median(eps) == pytest.approx(zero_shot.eps_)
    assert clustering["choices"] == {
        "eps": "label-free rule", "min_samples": "label-free rule", "collapse_passes": "label-free rule",
        "border_points": "default without labels", "outlier_radius": "default without labels",
    }
    assert clustering["search"] is None
    assert clustering["min_samples_rule"]["factor"] == card["dbscan"]["min_samples_rule"]["factor"]


def test_zero_shot_methods_text(zero_shot):
    text = methods_text(zero_shot)
    assert text.startswith("Clusters were identified with MIRO (Pineda et al., Nat. Commun. 16, 9693 (2025)) "
                           f"as implemented in sklearn_miro {sklearn_miro.__version__} (")
    assert f"PyTorch {torch.__version__}" in text and f"scikit-learn {sklearn.__version__}" in text
    assert "'nanoclusters-long'" in text and "simulated localisations only" in text
    assert "without retraining" in text and "No labels were used" in text
    assert "applied twice" in text
    radii = zero_shot.cluster_radii_
    assert (f"median {np.median(radii):.1f}, range {radii.min():.1f}-{radii.max():.1f} in the units of "
            "the coordinates") in text
    eps = 0.5125 * radii
    assert f"eps = 0.5125 R (median {np.median(eps):.1f}, range {eps.min():.1f}-{eps.max():.1f})" in text
    ms = zero_shot.min_samples_per_fov_
    assert f"min_samples = {ms.min()}-{ms.max()} per field of view" in text
    assert "DBSCAN*" not in text and "Mahalanobis" not in text
    # The same text from the record, also after JSON.
    record = provenance_record(zero_shot)
    assert methods_text(record) == text
    assert methods_text(json.loads(json.dumps(record))) == text


def test_record_round_trips_through_joblib(zero_shot, fine_tuned, tmp_path):
    for name, estimator in (("zero_shot", zero_shot), ("fine_tuned", fine_tuned)):
        path = tmp_path / f"{name}.joblib"
        joblib.dump(estimator, path)
        loaded = joblib.load(path)
        assert provenance_record(loaded) == provenance_record(estimator)
        assert methods_text(loaded) == methods_text(estimator)
        # The record itself pickles too.
        record = provenance_record(estimator)
        joblib.dump(record, tmp_path / f"{name}_record.joblib")
        assert joblib.load(tmp_path / f"{name}_record.joblib") == record


def test_a_given_cluster_radius_is_recorded_as_given(zero_shot_data):
    X, _, fov = zero_shot_data
    clu = MIROClusterer(MIROTransformer.pretrained(cluster_radius=30.0, verbose=0), collapse_passes=1,
                        min_samples=5).fit(X, groups=fov)
    record = json_round_trip(provenance_record(clu))
    assert record["network"]["zero_shot_units"]["cluster_radius"] == 30.0
    assert record["clustering"]["cluster_radius_per_fov"] == [30.0, 30.0]
    assert record["clustering"]["choices"]["min_samples"] == "given"
    assert record["clustering"]["choices"]["collapse_passes"] == "given"
    assert record["clustering"]["min_samples_per_fov"] == [5, 5]
    text = methods_text(clu)
    assert "given as 30.0 in the units of the coordinates" in text
    assert "applied once" in text and "min_samples = 5 (as set)" in text


# ------------------------------------------------------------------ trained


def test_fine_tuned_record_holds_the_training_and_the_search(fine_tuned):
    record = json_round_trip(provenance_record(fine_tuned))
    transformer = fine_tuned.transformer_
    network = record["network"]
    assert network["origin"] == "fine-tuned"
    assert network["started_from"] == transformer.model_.started_from == "nanoclusters"
    assert network["pretrained_model"] is None
    assert network["hidden_size"] == transformer.hidden_size_ == 64
    assert network["n_steps"] == transformer.n_steps_ == 3
    assert network["connectivity_radius"] == transformer.connectivity_radius_
    assert network["length_scale"] == transformer.length_scale_
    assert network["length_units"] == "units of X"
    training = network["training"]
    assert training["n_fovs"] == transformer.model_.n_fovs == 3
    assert training["n_epochs"] == transformer.n_epochs_
    assert training["best_epoch"] == transformer.best_epoch_
    assert training["training_seconds"] == transformer.training_time_
    assert training["n_augmented"] == transformer.n_augmented_
    assert training["training_compression"] == transformer.training_compression_
    assert training["training_relative_loss"] == transformer.training_relative_loss_
    assert training["precision"] == transformer.training_precision_
    assert training["device"] == transformer.device_
    assert training["random_state"] == 0

    clustering = record["clustering"]
    assert clustering["label_free"] is False
    assert clustering["algorithm"] == ("DBSCAN*" if fine_tuned.border_points_ == "background" else "DBSCAN")
    assert clustering["eps"] == fine_tuned.eps_ and clustering["min_samples"] == fine_tuned.min_samples_
    assert clustering["collapse_passes"] == fine_tuned.collapse_passes_
    assert clustering["outlier_radius"] == fine_tuned.outlier_radius_
    assert set(clustering["choices"].values()) == {"labelled search"}
    assert clustering["transformer_trained_by_fit"] is True
    assert clustering["n_labelled_fovs"] == 3
    search = clustering["search"]
    assert search["best_score"] == pytest.approx(np.nanmax(fine_tuned.tuning_scores_))
    np.testing.assert_allclose(search["eps_grid"], fine_tuned.eps_grid_)
    np.testing.assert_array_equal(search["min_samples_grid"], fine_tuned.min_samples_grid_)
    assert search["collapse_pass_scores"] == {str(k): v for k, v in fine_tuned.collapse_pass_scores_.items()}
    assert search["border_point_scores"] == fine_tuned.border_point_scores_
    assert [entry["outlier_radius"] for entry in search["outlier_radius_scores"]] == \
        list(fine_tuned.outlier_radius_scores_)


def test_fine_tuned_methods_text(fine_tuned):
    text = methods_text(fine_tuned)
    transformer = fine_tuned.transformer_
    assert "was fine-tuned from the pretrained network 'nanoclusters'" in text
    assert "on 3 labelled fields of view" in text
    assert f"{transformer.n_augmented_} synthetic training fields of view" in text
    assert f"for {transformer.n_epochs_} epoch" in text
    assert "hidden size 64 with 3 message-passing steps" in text
    assert f"eps = {float(f'{fine_tuned.eps_:.3g}'):g}" in text
    assert f"min_samples = {fine_tuned.min_samples_}" in text
    assert "maximising the mean of ARI†, JI_c and AMI" in text
    assert f"best {float(f'{np.nanmax(fine_tuned.tuning_scores_):.3g}'):g}" in text
    assert "the 3 labelled fields of view the network was trained on" in text
    passes = {1: "once", 2: "twice"}[fine_tuned.collapse_passes_]
    assert f"applied {passes} to each field of view (chosen on the labelled fields of view)" in text
    if fine_tuned.border_points_ == "background":
        assert "DBSCAN* (DBSCAN with border points left as background" in text
    if fine_tuned.outlier_radius_ is None:
        assert "was tried with the same score and not kept" in text
    else:
        assert f"farther than {fine_tuned.outlier_radius_:g} from the mean of their cluster" in text


def test_given_parameters_and_frozen_transformer(data, scratch):
    X, y, fov = data
    clu = MIROClusterer(FrozenEstimator(scratch), eps=20.0, min_samples=3, collapse_passes=2,
                        border_points="background", outlier_radius=3.0).fit(X, groups=fov)
    record = json_round_trip(provenance_record(clu))
    assert record["network"]["origin"] == "trained from random weights"
    assert record["network"]["frozen"] is True
    assert record["network"]["started_from"] is None
    assert record["estimator"]["parameters"]["transformer"]["frozen"] is True
    assert record["estimator"]["parameters"]["eps"] == 20.0
    clustering = record["clustering"]
    assert set(clustering["choices"].values()) == {"given"}
    assert clustering["algorithm"] == "DBSCAN*"
    assert clustering["outlier_radius"] == 3.0 and clustering["collapse_passes"] == 2
    assert clustering["transformer_trained_by_fit"] is False and clustering["n_labelled_fovs"] is None
    assert clustering["search"] is None
    text = methods_text(clu)
    assert "trained from random weights on 3 labelled fields of view" in text
    assert "applied twice to each field of view (as set), each pass on the previous pass's output" in text
    assert ("DBSCAN* (DBSCAN with border points left as background; eps = 20 in the units of the coordinates "
            "(as set), min_samples = 3 (as set))") in text
    assert "farther than 3 from the mean of their cluster" in text
    assert "chosen" not in text


def test_pretrained_with_labels_chooses_on_the_labelled_fovs(data):
    X, y, fov = data
    clu = MIROClusterer(MIROTransformer.pretrained(verbose=0), eps=30.0, collapse_passes=1,
                        border_points="cluster", outlier_radius=None).fit(X, y, groups=fov)
    record = json_round_trip(provenance_record(clu))
    assert record["network"]["origin"] == "pretrained"
    clustering = record["clustering"]
    assert clustering["label_free"] is False
    assert clustering["choices"]["min_samples"] == "labelled search"
    assert clustering["choices"]["eps"] == "given"
    assert clustering["min_samples"] == clu.min_samples_
    assert clustering["search"]["best_score"] == pytest.approx(np.nanmax(clu.tuning_scores_))
    text = methods_text(clu)
    assert "'nanoclusters-long'" in text and "without retraining" in text
    assert "The choice of min_samples was made on the labelled fields of view given to fit" in text
    assert "eps = 30 in the units of the coordinates (as set)" in text


def test_custom_clusterer(data, scratch):
    X, _, fov = data
    clu = MIROClusterer(FrozenEstimator(scratch), clusterer=KMeans(n_clusters=4, n_init=1, random_state=0),
                        outlier_radius=3.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # KMeans labels from 0, which cluster_table_ warns about
        clu.fit(X, groups=fov)
    record = json_round_trip(provenance_record(clu))
    clustering = record["clustering"]
    assert clustering["algorithm"] == "sklearn.cluster.KMeans"
    assert clustering["clusterer"]["parameters"] == {"n_clusters": 4, "n_init": 1, "random_state": 0}
    assert "eps" not in clustering
    # Trimming applies after any clusterer.
    assert clustering["outlier_radius"] == 3.0 and clustering["choices"]["outlier_radius"] == "given"
    text = methods_text(clu)
    assert "KMeans(n_clusters=4, n_init=1, random_state=0)" in text
    assert "farther than 3 from the mean of their cluster" in text


# ------------------------------------------------- transformers and pipelines


def test_transformer_alone(scratch):
    record = json_round_trip(provenance_record(scratch))
    assert record["kind"] == "transformer"
    assert record["network"]["training"]["n_fovs"] == scratch.n_fovs_
    assert "clustering" not in record
    text = methods_text(scratch)
    assert text.startswith("Localisations were moved towards the centres of their clusters with MIRO")
    assert "MIROTransformer.transform returned the moved coordinates." in text
    pretrained = json_round_trip(provenance_record(MIROTransformer.pretrained("nanoclusters")))
    assert pretrained["network"]["pretrained_model"] == "nanoclusters"
    # A frozen transformer is described as the transformer it holds.
    frozen = provenance_record(FrozenEstimator(scratch))
    assert frozen["network"] == provenance_record(scratch)["network"]


def test_pipeline_records_every_step(data, scratch):
    X, _, fov = data
    pipe = Pipeline([("scale", StandardScaler()), ("miro", FrozenEstimator(scratch)),
                     ("dbscan", DBSCAN(eps=20, min_samples=3))])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the scaler changes the units on purpose
        pipe.fit_predict(X[fov == 0])
    record = json_round_trip(provenance_record(pipe))
    assert record["kind"] == "pipeline"
    assert record["estimator"]["class"] == "sklearn.pipeline.Pipeline"
    assert [step["name"] for step in record["steps"]] == ["scale", "miro", "dbscan"]
    scale, miro, dbscan = record["steps"]
    assert scale["class"] == "sklearn.preprocessing.StandardScaler"
    assert miro["kind"] == "transformer" and miro["frozen"] is True
    assert miro["network"]["connectivity_radius"] == scratch.connectivity_radius_
    assert dbscan["class"] == "sklearn.cluster.DBSCAN"
    assert dbscan["eps"] == 20 and dbscan["min_samples"] == 3
    text = methods_text(pipe)
    assert "The coordinates were first transformed by StandardScaler() (step 'scale'" in text
    assert "DBSCAN (eps = 20, min_samples = 3) was then applied to the moved coordinates" in text


# ----------------------------------------------------------- other estimators


def test_multiscale_clusterer():
    X, Y, fov = make_npc(n_fovs=3, n_structures=2, n_localizations=(4, 10), fov_size=400, random_state=0)
    transformer = MultiscaleMIROTransformer(**{**TINY, "n_steps": 4}, random_state=0,
                                            scale_names=("corners", "rings"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ms = MultiscaleMIROClusterer(transformer, eps=(15.0, "auto"), min_samples=(3, 10),
                                     border_points="cluster").fit(X, Y, groups=fov)
    record = json_round_trip(provenance_record(ms))
    assert record["kind"] == "multiscale_clusterer"
    assert record["network"]["scales"]["names"] == ["corners", "rings"]
    assert record["network"]["scales"]["readout_steps"] == list(ms.transformer_.scale_steps_)
    corners, rings = record["clustering"]["scales"]
    assert corners["eps"] == ms.eps_[0] == 15.0 and corners["choices"]["eps"] == "given"
    assert rings["eps"] == ms.eps_[1] and rings["choices"]["eps"] == "labelled search"
    assert rings["min_samples"] == 10 and rings["choices"]["min_samples"] == "given"
    text = methods_text(ms)
    assert "2 scales (corners, rings)" in text
    assert "corners: DBSCAN with eps = 15 in the units of the coordinates (as set), min_samples = 3 (as set)" \
        in text
    assert "mean of ARI† and JI_c" in text
    assert provenance_record(ms.transformer_)["kind"] == "multiscale_transformer"


def test_shape_classifier():
    X, y, fov, shape = make_multishape(
        ("spot", "ellipse"), n_fovs=3, n_clusters=3,
        shape_params={"spot": {"n_localizations": 20}, "ellipse": {"n_localizations": 20}},
        fov_size=600, background_fraction=0.1, random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = MIROShapeClassifier(**TINY, eps=30.0, min_samples=4, border_points="cluster",
                                  cluster_classes="vote", random_state=0).fit(X, shape, clusters=y, groups=fov)
    record = json_round_trip(provenance_record(clf))
    assert record["kind"] == "shape_classifier"
    assert record["classes"]["classes"] == list(clf.classes_)
    assert record["classes"]["background_class"] == clf.background_class_
    assert record["clustering"]["eps"] == clf.eps_ and record["clustering"]["min_samples"] == clf.min_samples_
    assert record["network"]["n_outputs"] == 2 + len(clf.classes_)
    text = methods_text(clf)
    assert "predicted the class of every localisation (background, ellipse, spot)" in text
    assert "most frequent class" in text


# ------------------------------------------------------------------ refusals


@pytest.mark.parametrize("make", [
    lambda: MIROClusterer(),
    lambda: MIROTransformer(),
    lambda: FrozenEstimator(MIROTransformer()),
    lambda: MultiscaleMIROClusterer(),
    lambda: MIROShapeClassifier(),
])
def test_unfitted_estimators_raise_not_fitted(make):
    with pytest.raises(NotFittedError, match="provenance_record\\(\\) describes a fitted estimator.*not fitted yet"):
        provenance_record(make())
    with pytest.raises(NotFittedError):
        methods_text(make())


def test_unfitted_pipeline_raises_not_fitted(scratch):
    with pytest.raises(NotFittedError, match="step 'miro'"):
        provenance_record(Pipeline([("miro", tiny()), ("dbscan", DBSCAN())]))
    with pytest.raises(NotFittedError, match="Pipeline is not fitted"):
        provenance_record(Pipeline([("miro", FrozenEstimator(scratch)), ("dbscan", DBSCAN())]))


@pytest.mark.parametrize("obj", [DBSCAN(), "MIROClusterer", None, Pipeline([("dbscan", DBSCAN())])])
def test_other_objects_raise_type_error(obj):
    with pytest.raises(TypeError, match="accepts a fitted sklearn_miro estimator"):
        provenance_record(obj)


def test_a_search_points_to_its_best_estimator():
    search = GridSearchCV(MIROClusterer(), {"eps": [1.0]})
    search.best_estimator_ = None
    with pytest.raises(TypeError, match="best_estimator_"):
        provenance_record(search)


def test_methods_text_refuses_other_dicts():
    with pytest.raises(ValueError, match="record of provenance_record"):
        methods_text({"eps": 1.0})


# ------------------------------------------------------------ robustness


def test_older_pickles_without_some_attributes(zero_shot, fine_tuned):
    # Attributes added in later versions may be missing from older pickles.
    old = copy.deepcopy(fine_tuned)
    for name in ("border_points_", "border_point_scores_", "outlier_radius_", "outlier_radius_scores_",
                 "collapse_pass_scores_"):
        old.__dict__.pop(name)
    record = json_round_trip(provenance_record(old))
    assert record["clustering"]["border_points"] is None
    assert record["clustering"]["algorithm"] == "DBSCAN"
    assert isinstance(methods_text(old), str)
    old_zero = copy.deepcopy(zero_shot)
    for name in ("cluster_radii_", "min_samples_per_fov_", "cluster_radius_"):
        old_zero.__dict__.pop(name)
    record = json_round_trip(provenance_record(old_zero))
    assert record["clustering"]["cluster_radius_per_fov"] is None
    assert "eps = 0.5125 R" in methods_text(old_zero)


def test_objects_in_parameters_become_repr(data, scratch):
    X, _, fov = data
    transformer = MIROTransformer.pretrained(verbose=0).set_params(random_state=np.random.RandomState(0))
    record = json_round_trip(provenance_record(transformer))
    assert record["estimator"]["parameters"]["random_state"].startswith("RandomState")


def test_nan_becomes_none(fine_tuned):
    record = provenance_record(fine_tuned)
    # central_fraction is NaN unless n_steps="auto" chose the depth (here n_steps=3).
    assert np.isnan(fine_tuned.transformer_.central_fraction_)
    assert record["network"]["training"]["central_fraction"] is None


# ----------------------------------------------------------- the exports


def test_package_exports_the_functions():
    module = importlib.import_module("sklearn_miro.provenance")
    assert provenance_record is module.provenance_record and methods_text is module.methods_text
    assert sklearn_miro.provenance_record is module.provenance_record
    assert {"provenance_record", "methods_text"} <= set(sklearn_miro.__all__)


def test_docstring_examples():
    module = importlib.import_module("sklearn_miro.provenance")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 8 and result.failed == 0


def test_the_documented_example_runs(tmp_path, monkeypatch):
    # doc/provenance.md's first code block, as a user would paste it (a rename once left it
    # importing a name that no longer existed).
    text = (Path(__file__).resolve().parents[1] / "doc" / "provenance.md").read_text()
    code = text.split("```python\n", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "doc/provenance.md", "exec"), {"__name__": "__doc_example__"})
    record = json.loads((tmp_path / "clusters_provenance.json").read_text())
    assert record["format"] == PROVENANCE_FORMAT
