"""Tests of MIROShapeClassifier (tiny models on tiny mixtures of shapes).

These test the API and the bookkeeping (classes, probabilities, the mode per
cluster, routing, persistence), not the quality of the classification, which
``benchmarks/multiscale_and_shapes.py`` measures.
"""

import pickle
import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
import sklearn
from _estimator_checks import CHECK_TINY as BASE_CHECK_TINY
from _estimator_checks import ExpectedFailure, expected_failures, run_check
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.cluster import DBSCAN
from sklearn.exceptions import DataConversionWarning, NotFittedError
from sklearn.metrics import f1_score
from sklearn.model_selection import GroupKFold, cross_validate
from sklearn.utils.estimator_checks import parametrize_with_checks

import sklearn_miro.model as model_module
from sklearn_miro import MIROShapeClassifier
from sklearn_miro.datasets import make_multishape
from sklearn_miro.estimators import mode_per_cluster

TINY = dict(
    hidden_size=8,
    n_steps=3,
    n_augmented=6,
    max_epochs=1,
    batch_size=3,
    validation_fraction=0.0,
    verbose=0,
    eps=30.0,
    min_samples=4,
    # The paper's clustering and class vote; the learned alternatives have
    # their own tests below.
    border_points="cluster",
    cluster_classes="vote",
)


def tiny(**kwargs):
    return MIROShapeClassifier(**{**TINY, "random_state": 0, **kwargs})


@pytest.fixture(scope="module")
def data():
    X, y, fov, shape = make_multishape(
        ("spot", "ellipse"), n_fovs=3, n_clusters=3, shape_params={"spot": {"n_localizations": 20},
                                                                   "ellipse": {"n_localizations": 20}},
        fov_size=600, background_fraction=0.1, random_state=0,
    )
    return X, y, fov, shape


@pytest.fixture(scope="module")
def fitted(data):
    X, y, fov, shape = data
    return tiny().fit(X, shape, clusters=y, groups=fov)


def test_classes_and_predictions(data, fitted):
    X, y, fov, shape = data
    np.testing.assert_array_equal(fitted.classes_, ["background", "ellipse", "spot"])
    assert fitted.background_class_ == "background"
    assert fitted.network_.n_outputs == 2 + 3
    proba = fitted.predict_proba(X, groups=fov)
    assert proba.shape == (len(X), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert (proba >= 0).all()
    pred = fitted.predict(X, groups=fov)
    assert pred.shape == (len(X),) and set(pred) <= set(fitted.classes_)
    np.testing.assert_array_equal(pred, fitted.classes_[proba.argmax(axis=1)])
    assert fitted.score(X, shape, groups=fov) == pytest.approx(np.mean(pred == shape))
    # F1 via scikit-learn, as in the paper's Table S8.
    f1 = f1_score(shape, pred, average="macro")
    assert 0.0 <= f1 <= 1.0


def test_integer_classes_work_too(data):
    X, y, fov, shape = data
    codes = np.unique(shape, return_inverse=True)[1] * 10
    model = tiny().fit(X, codes, clusters=y, groups=fov)
    np.testing.assert_array_equal(model.classes_, [0, 10, 20])
    assert model.background_class_ == 0
    assert set(model.predict(X, groups=fov)) <= {0, 10, 20}


def test_column_vector_classes_warn_as_scikit_learn_classifiers_do(data, fitted):
    X, y, fov, shape = data
    with pytest.warns(DataConversionWarning, match="column-vector y") as record:
        model = tiny().fit(X, shape[:, None], clusters=y, groups=fov)
    # Reported at the caller's line, not inside the package.
    assert all(w.filename == __file__ for w in record if w.category is DataConversionWarning)
    np.testing.assert_array_equal(model.classes_, fitted.classes_)
    np.testing.assert_array_equal(model.predict(X, groups=fov), fitted.predict(X, groups=fov))


def test_class_head_is_trained_with_beta(data, monkeypatch):
    X, y, fov, shape = data
    seen = {}
    original = model_module.fit_network

    def spy(network, graphs, **kwargs):
        seen["beta"] = kwargs["beta"]
        seen["classes"] = set(np.unique(np.concatenate([g.classes.numpy() for g in graphs])))
        return original(network, graphs, **kwargs)

    monkeypatch.setattr(model_module, "fit_network", spy)
    tiny(beta=0.25).fit(X, shape, clusters=y, groups=fov)
    assert seen["beta"] == 0.25
    # Class codes of the training graphs index classes_ (0, 1, 2).
    assert seen["classes"] <= {0, 1, 2} and len(seen["classes"]) >= 2


def test_predict_clusters_gives_each_cluster_the_mode(data, fitted):
    X, y, fov, shape = data
    labels, classes = fitted.predict_clusters(X, groups=fov)
    assert labels.shape == classes.shape == (len(X),)
    assert set(classes) <= set(fitted.classes_)
    pred = fitted.predict(X, groups=fov)
    for label in np.unique(labels[labels >= 0]):
        members = labels == label
        assert len(set(classes[members])) == 1
        values, counts = np.unique(pred[members], return_counts=True)
        winners = values[counts == counts.max()]
        # Ties go to the first class of classes_ (sorted).
        assert classes[members][0] == sorted(winners)[0]
    assert (classes[labels == -1] == fitted.background_class_).all()
    # The clustering is DBSCAN on the collapsed coordinates of every FOV.
    for k in range(3):
        expected = DBSCAN(eps=fitted.eps_, min_samples=fitted.min_samples_).fit_predict(
            fitted.collapse(X[fov == k])
        )
        assert sklearn.metrics.adjusted_rand_score(expected, labels[fov == k]) == 1.0
        np.testing.assert_array_equal(expected == -1, labels[fov == k] == -1)
    # Labels are unique across FOVs.
    sets = [set(labels[(fov == k) & (labels >= 0)]) for k in range(3)]
    assert not (sets[0] & sets[1] or sets[0] & sets[2] or sets[1] & sets[2])
    per_cluster = pd.Series(classes).groupby(labels).nunique()
    assert (per_cluster[per_cluster.index >= 0] == 1).all()


def test_groups_process_each_fov_on_its_own(data, fitted):
    X, y, fov, shape = data
    together = fitted.predict_proba(X, groups=fov)
    for k in range(3):
        np.testing.assert_allclose(together[fov == k], fitted.predict_proba(X[fov == k]), atol=1e-9)


def test_isolated_localisations_are_background(fitted):
    X = np.array([[0.0, 0.0], [1e6, 1e6]])
    assert (fitted.predict(X) == "background").all()
    np.testing.assert_array_equal(fitted.predict_proba(X[:1]), [[1.0, 0.0, 0.0]])
    labels, classes = fitted.predict_clusters(X)
    assert (labels == -1).all() and (classes == "background").all()


def test_auto_dbscan_parameters_are_chosen_on_training_fovs(data):
    X, y, fov, shape = data
    model = tiny(eps="auto", min_samples="auto").fit(X, shape, clusters=y, groups=fov)
    assert model.eps_ in model.eps_grid_ and model.min_samples_ in model.min_samples_grid_
    i = list(model.eps_grid_).index(model.eps_)
    j = list(model.min_samples_grid_).index(model.min_samples_)
    assert model.tuning_scores_[i, j] == model.tuning_scores_.max()
    assert model.min_samples_grid_.max() <= 20  # the median training cluster size
    fixed = tiny().fit(X, shape, clusters=y, groups=fov)
    assert fixed.tuning_scores_ is None and (fixed.eps_, fixed.min_samples_) == (30.0, 4)
    # n_jobs scores the candidates in parallel (the class-F1 scores travel to
    # the workers): the same grid of scores.
    parallel = tiny(eps="auto", min_samples="auto", n_jobs=2).fit(X, shape, clusters=y, groups=fov)
    np.testing.assert_array_equal(parallel.tuning_scores_, model.tuning_scores_)


def test_auto_dbscan_score_includes_the_f1_of_the_cluster_classes(data):
    """The tuning score of the chosen candidate is mean(ARI-dagger, JI_c, F1) over the FOVs."""
    from sklearn_miro.metrics import ari_dagger, jaccard_cluster_index

    X, y, fov, shape = data
    model = tiny(eps="auto", min_samples="auto").fit(X, shape, clusters=y, groups=fov)
    expected = []
    for f in np.unique(fov):
        idx = fov == f
        labels, classes = model.predict_clusters(X[idx])
        f1 = f1_score(shape[idx], classes, average="macro")
        expected.append(
            (ari_dagger(y[idx], labels) + jaccard_cluster_index(X[idx], y[idx], labels) + f1) / 3
        )
    assert model.tuning_scores_.max() == pytest.approx(np.mean(expected), abs=1e-9)


def test_training_without_background(data):
    X, y, fov, shape = data
    inside = y >= 0
    model = tiny().fit(X[inside], shape[inside], clusters=y[inside], groups=fov[inside])
    assert model.background_class_ is None
    np.testing.assert_array_equal(model.classes_, ["ellipse", "spot"])
    labels, classes = model.predict_clusters(X[inside], groups=fov[inside])
    pred = model.predict(X[inside], groups=fov[inside])
    # Without a background class, unclustered localisations keep their own class.
    np.testing.assert_array_equal(classes[labels == -1], pred[labels == -1])
    proba = model.predict_proba(np.array([[0.0, 0.0], [1e6, 1e6]]))
    np.testing.assert_allclose(proba, 0.5)


def test_same_random_state_gives_the_same_model(data):
    X, y, fov, shape = data
    a = tiny(random_state=3).fit(X, shape, clusters=y, groups=fov)
    b = tiny(random_state=3).fit(X, shape, clusters=y, groups=fov)
    c = tiny(random_state=4).fit(X, shape, clusters=y, groups=fov)
    np.testing.assert_array_equal(a.predict_proba(X, groups=fov), b.predict_proba(X, groups=fov))
    assert not np.allclose(a.predict_proba(X, groups=fov), c.predict_proba(X, groups=fov))


@settings(max_examples=4, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_same_random_state_same_model_property(data, seed):
    X, y, fov, shape = data
    a = tiny(random_state=seed, n_augmented=3).fit(X, shape, clusters=y, groups=fov)
    b = tiny(random_state=seed, n_augmented=3).fit(X, shape, clusters=y, groups=fov)
    np.testing.assert_array_equal(a.predict_proba(X[fov == 0]), b.predict_proba(X[fov == 0]))


def test_input_is_never_modified(data):
    X, y, fov, shape = data
    copies = [a.copy() for a in (X, y, fov, shape)]
    model = tiny().fit(X, shape, clusters=y, groups=fov)
    model.predict_clusters(X, groups=fov)
    for original, copy in zip((X, y, fov, shape), copies):
        np.testing.assert_array_equal(original, copy)


def test_joblib_round_trip(data, fitted, tmp_path):
    X, y, fov, shape = data
    joblib.dump(fitted, tmp_path / "shape.joblib")
    loaded = joblib.load(tmp_path / "shape.joblib")
    np.testing.assert_array_equal(loaded.predict_proba(X, groups=fov), fitted.predict_proba(X, groups=fov))
    np.testing.assert_array_equal(loaded.classes_, fitted.classes_)
    for a, b in zip(loaded.predict_clusters(X, groups=fov), fitted.predict_clusters(X, groups=fov)):
        np.testing.assert_array_equal(a, b)
    again = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(again.predict(X, groups=fov), fitted.predict(X, groups=fov))
    # The same content hashes the same after a round trip (joblib.Memory caching relies on it).
    assert joblib.hash(loaded) == joblib.hash(fitted)
    assert joblib.hash(again) == joblib.hash(fitted)


@pytest.mark.filterwarnings("ignore::sklearn_miro.diagnostics.MoveNothingWarning")  # a tiny fit; only the hash matters
def test_joblib_hash_survives_pickling_with_a_binary_cluster_classifier(data):
    # Two shape classes give a binary LogisticRegression, whose coef_ scikit-learn keeps as a
    # broadcast view (strides (0, 8)); pickling rebuilt it with ordinary strides, so
    # joblib.hash (and joblib.Memory's caching) of a loaded classifier differed.
    X, y, fov, shape = data
    clf = tiny(cluster_classes="descriptors").fit(X, shape, clusters=y, groups=fov)
    assert len(clf.cluster_classifier_[-1].classes_) == 2
    assert joblib.hash(pickle.loads(pickle.dumps(clf))) == joblib.hash(clf)


# ------------------------------------------------------------------ errors


def test_clusters_are_required(data):
    X, y, fov, shape = data
    with pytest.raises(ValueError, match="needs the cluster label of every localisation"):
        tiny().fit(X, shape, groups=fov)


@pytest.mark.parametrize(
    "args, message",
    [
        (lambda X, y, s: (X, None, y), "requires y to be passed"),
        (lambda X, y, s: (X, s[:-1], y), "y has .* classes but X has"),
        (lambda X, y, s: (X, s, y[:-1]), "clusters has .* labels but X has"),
        (lambda X, y, s: (X, np.column_stack([s, s]), y), "1-D array with the class"),
        (lambda X, y, s: (X, np.full(len(X), "spot"), y), "single class"),
        (lambda X, y, s: (X, X[:, 0], y), "Unknown label type"),
        (lambda X, y, s: (X, s, y + 0.5), "integer cluster labels"),
        (lambda X, y, s: (X, s, np.full(len(X), -1)), "no cluster"),
        (lambda X, y, s: (X[:, :1], s, y), "2D array|shape \\(n_localizations, 2\\)"),
    ],
)
def test_bad_targets_are_rejected(data, args, message):
    X, y, fov, shape = data
    X_, shape_, clusters_ = args(X, y, shape)
    with pytest.raises(ValueError, match=message):
        tiny().fit(X_, shape_, clusters=clusters_)


@pytest.mark.parametrize(
    "params, message",
    [
        (dict(beta=-0.1), r"'beta' parameter .* range \[0.0, inf\)"),
        (dict(eps=0.0), r"'eps' parameter .* range \(0.0, inf\)"),
        (dict(min_samples=1.5), r"'min_samples' parameter .* must be an int"),
        (dict(n_steps=0), r"'n_steps' parameter .* range \[1, inf\)"),
    ],
)
def test_bad_parameters_are_rejected_at_fit(data, params, message):
    X, y, fov, shape = data
    model = tiny(**params)
    with pytest.raises(ValueError, match=message):
        model.fit(X, shape, clusters=y, groups=fov)


def test_unfitted_estimator_raises(data):
    X = data[0]
    for method in ("predict", "predict_proba", "predict_clusters", "collapse"):
        with pytest.raises(NotFittedError):
            getattr(tiny(), method)(X)


def test_unknown_class_strings_in_score_are_counted_wrong(data, fitted):
    X, y, fov, shape = data
    renamed = np.where(shape == "spot", "disk", shape)  # a class the model never saw
    assert fitted.score(X, renamed, groups=fov) <= np.mean(renamed != "disk")


def test_predict_checks_the_number_of_features(fitted):
    with pytest.raises(ValueError, match="shape \\(n_localizations, 2\\)|features"):
        fitted.predict(np.zeros((5, 3)))


# ----------------------------------------------------- scikit-learn plumbing


def test_metadata_routing_passes_clusters_and_groups(data):
    X, y, fov, shape = data
    with sklearn.config_context(enable_metadata_routing=True):
        result = cross_validate(
            tiny(), X, shape, cv=GroupKFold(3),
            params={"clusters": y, "groups": fov},
        )  # fmt: skip
    assert len(result["test_score"]) == 3
    assert np.all((result["test_score"] >= 0) & (result["test_score"] <= 1))


def test_metadata_requests_are_set_by_default():
    routing = tiny().get_metadata_routing()
    assert routing.fit.requests == {"clusters": True, "groups": True}
    assert routing.predict.requests == {"groups": True}
    assert routing.score.requests["groups"] is True


def test_get_set_params_and_clone():
    model = MIROShapeClassifier(beta=0.05, hidden_size=32, random_state=1)
    assert model.get_params()["beta"] == 0.05
    model.set_params(n_steps=7, eps=12.0)
    copy = clone(model)
    assert copy.n_steps == 7 and copy.eps == 12.0 and copy.random_state == 1
    assert repr(MIROShapeClassifier()) == "MIROShapeClassifier()"


# --------------------------------------------------------------- properties


@settings(max_examples=50, deadline=None)
@given(
    labels=st.lists(st.integers(-1, 4), min_size=1, max_size=60),
    data=st.data(),
)
def test_mode_per_cluster_properties(labels, data):
    labels = np.array(labels)
    codes = np.array(data.draw(st.lists(st.integers(0, 2), min_size=len(labels), max_size=len(labels))))
    refined = mode_per_cluster(labels, codes, 3)
    np.testing.assert_array_equal(refined[labels == -1], codes[labels == -1])
    for label in np.unique(labels[labels >= 0]):
        members = labels == label
        counts = np.bincount(codes[members], minlength=3)
        assert (refined[members] == np.flatnonzero(counts == counts.max())[0]).all()
    # Idempotent: the refined classes are already constant per cluster.
    np.testing.assert_array_equal(mode_per_cluster(labels, refined, 3), refined)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), data=st.data())
def test_permuting_a_fov_permutes_the_probabilities(fitted, seed, data):
    rng = np.random.default_rng(seed)
    X = rng.uniform(0, 400, (50, 2))
    perm = np.array(data.draw(st.permutations(range(50))))
    np.testing.assert_allclose(fitted.predict_proba(X[perm]), fitted.predict_proba(X)[perm], atol=1e-5)


# ------------------------------------------------------ scikit-learn checks

CHECK_TINY = {**BASE_CHECK_TINY, "eps": 0.5, "min_samples": 2}
NEEDS_CLUSTERS = ExpectedFailure(
    "fits without clusters=: the shape classifier is trained on labelled clusters as well as "
    "classes (fit and prediction are tested with clusters in tests/test_shape.py)",
    ValueError,
    r"MIROShapeClassifier.fit needs the cluster label of every localisation .* as clusters=",
)
FAILURES = expected_failures(
    {
        name: NEEDS_CLUSTERS
        for name in [
            "check_estimators_overwrite_params",
            "check_estimators_fit_returns_self",
            "check_readonly_memmap_input",
            "check_classifier_data_not_an_array",
            "check_classifiers_classes",
            "check_classifiers_train",
            "check_fit_idempotent",
            "check_fit_check_is_fitted",
            "check_n_features_in",
        ]
    },
    # also fed n_features != 2 (classifier-only checks)
    "check_supervised_y_2d",
    "check_classifiers_one_label",
    "check_classifiers_regression_target",
)


@parametrize_with_checks([MIROShapeClassifier(**CHECK_TINY)])
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


def test_reference_multishape_loader_reproduces_the_reference_inference(data, tmp_path):
    """cMIRO as the authors run it: positions nm / 2000, r = 0.2, T = 20; outputs
    0-1 the displacement, 2-4 the logits of background, circular, elliptical."""
    import torch

    from sklearn_miro import load_reference_checkpoint
    from sklearn_miro.graph import build_graph
    from sklearn_miro.network import MIRONetwork

    torch.manual_seed(0)
    network = MIRONetwork(hidden_size=8, n_outputs=5)
    _save_as_reference_checkpoint(network, tmp_path / "shape.pt")
    model = load_reference_checkpoint(tmp_path / "shape.pt", n_steps=20, connectivity_radius=0.2)
    assert isinstance(model, MIROShapeClassifier)  # inferred from the 5 outputs
    np.testing.assert_array_equal(model.classes_, ["background", "ellipse", "spot"])
    assert model.background_class_ == "background"
    assert (model.eps_, model.min_samples_) == (26.0, 5)  # 0.013 x 2000 nm (Table S2)
    X, y, fov, shape = data
    Xf = X[fov == 0]
    positions = Xf / 2000.0
    graph = build_graph(positions, 0.2, normalization="unit")
    with torch.no_grad():
        out = network(torch.from_numpy(graph.node_attr), torch.from_numpy(graph.edge_index),
                      torch.from_numpy(graph.edge_attr), 20)[-1].double().numpy()
    logits = out[:, 2:]
    expected = np.exp(logits - logits.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    # classes_ is sorted: background (column 0), ellipse (column 2), spot (column 1).
    np.testing.assert_allclose(model.predict_proba(Xf), expected[:, [0, 2, 1]], atol=1e-5)
    names = np.array(["background", "spot", "ellipse"])
    np.testing.assert_array_equal(model.predict(Xf), names[logits.argmax(axis=1)])
    np.testing.assert_allclose(model.collapse(Xf), (positions - out[:, :2] * 0.2) * 2000.0, atol=1e-3)
    labels, classes = model.predict_clusters(Xf)
    expected_labels = DBSCAN(eps=26.0, min_samples=5).fit_predict((positions - out[:, :2] * 0.2) * 2000.0)
    assert sklearn.metrics.adjusted_rand_score(expected_labels, labels) == 1.0


def test_reference_multishape_loader_errors(tmp_path):
    from sklearn_miro import load_reference_checkpoint
    from sklearn_miro.network import MIRONetwork

    _save_as_reference_checkpoint(MIRONetwork(hidden_size=4, n_outputs=4), tmp_path / "c2.pt")
    with pytest.raises(ValueError, match="has 2 class outputs; the reference multishape checkpoint has 3"):
        load_reference_checkpoint(tmp_path / "c2.pt", n_steps=20, connectivity_radius=0.2)


def test_authors_multishape_checkpoint_on_simulated_spots_and_ellipses(shared_dir):
    """The authors' multishape model on simulated spots + ellipses (nm).

    The clustering (DBSCAN 26 nm / 5 on the collapsed points) and the
    background and ellipse classes come out right, which a wrong length unit
    or a wrong order of the class columns would break. (The authors' spots
    evidently differ from our simulated ones: many are called ellipses.)
    """
    from sklearn.metrics import recall_score

    from sklearn_miro import load_reference_checkpoint
    from sklearn_miro.metrics import ari_dagger

    path = shared_dir / "reference" / "checkpoints" / "multishape.pt"
    model = load_reference_checkpoint(path, n_steps=20, connectivity_radius=0.2)
    X, y, fov, shape = make_multishape(("spot", "ellipse"), n_fovs=1, random_state=5)
    labels, _ = model.predict_clusters(X)
    assert ari_dagger(y, labels) > 0.8
    recall = recall_score(shape, model.predict(X), labels=["background", "ellipse"], average=None)
    assert recall[0] > 0.6 and recall[1] > 0.7


# ---- border points (DBSCAN / DBSCAN*) and learned cluster classes -----------------
@pytest.fixture(scope="module")
def many_clusters():
    """Enough clusters (8 per FOV) for the cluster-class model to learn from."""
    def draw(n_fovs, seed):
        return make_multishape(("spot", "ellipse"), n_fovs=n_fovs, n_clusters=8, random_state=seed)
    return draw(3, 0), draw(4, 1)


def test_descriptor_classes_learn_what_an_untrained_vote_cannot(many_clusters):
    """A tiny network's per-localisation classes are close to chance; the ellipses'
    geometry (77 x 14 nm against 25 nm spots) is not: the learned cluster classes
    must score a clearly higher F1 on new FOVs, with the same clusters."""
    (X, y, fov, shape), (Xt, yt, ft, st_) = many_clusters
    common = dict(eps=30.0, min_samples=4, border_points="cluster")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        vote = tiny(**common).fit(X, shape, clusters=y, groups=fov)
        learned = tiny(**common, cluster_classes="auto").fit(X, shape, clusters=y, groups=fov)
    assert vote.cluster_classes_ == "vote" and vote.cluster_classifier_ is None
    assert vote.cluster_class_scores_ is None
    # "auto" chose the model because it was more accurate on held-out training FOVs.
    assert learned.cluster_classes_ == "descriptors"
    scores = learned.cluster_class_scores_
    assert scores["descriptors"] > scores["vote"]
    labels_v, classes_v = vote.predict_clusters(Xt, groups=ft)
    labels_l, classes_l = learned.predict_clusters(Xt, groups=ft)
    f1_vote = f1_score(st_, classes_v, average="macro")
    f1_learned = f1_score(st_, classes_l, average="macro")
    assert f1_learned > f1_vote + 0.1, (f1_vote, f1_learned)
    # Same network and DBSCAN: the clusters differ only where a cluster was
    # classified as background and dissolved.
    kept = labels_l >= 0
    np.testing.assert_array_equal(labels_l[kept], labels_v[kept])
    assert (classes_l[~kept] == "background").all()
    per_cluster = pd.Series(classes_l[kept]).groupby(labels_l[kept]).nunique()
    assert (per_cluster == 1).all()


def test_cluster_classes_auto_needs_enough_clusters_per_class(data, monkeypatch):
    import sklearn_miro.estimators._shape as shape_module

    X, y, fov, shape = data
    found = tiny(cluster_classes="auto").fit(X, shape, clusters=y, groups=fov)
    labels, _ = found.predict_clusters(X, groups=fov)
    n_found = len(np.unique(labels[labels >= 0]))
    # More training clusters required than DBSCAN finds: the vote.
    monkeypatch.setattr(shape_module, "MIN_CLUSTERS_PER_CLASS", n_found + 1)
    model = tiny(cluster_classes="auto").fit(X, shape, clusters=y, groups=fov)
    assert model.cluster_classes_ == "vote" and model.cluster_classifier_ is None
    forced = tiny(cluster_classes="descriptors").fit(X, shape, clusters=y, groups=fov)
    assert forced.cluster_classes_ == "descriptors" and forced.cluster_class_scores_ is None
    # One training FOV: no FOV to hold out, so "auto" keeps the vote.
    monkeypatch.setattr(shape_module, "MIN_CLUSTERS_PER_CLASS", 1)
    one = fov == 0
    single = tiny(cluster_classes="auto").fit(X[one], shape[one], clusters=y[one], groups=fov[one])
    assert single.cluster_classes_ == "vote"


def test_cluster_classes_auto_keeps_the_vote_when_it_is_as_accurate(many_clusters, monkeypatch):
    """The comparison itself: the held-out model must beat the vote strictly."""
    import sklearn_miro.estimators._shape as shape_module

    (X, y, fov, shape), _ = many_clusters
    # A held-out model that always answers what the vote answers: a tie.
    calls = {}

    def as_the_vote(features, targets, fovs):
        calls["n"] = len(targets)
        n_classes = (features.shape[1] - len(shape_module.CLUSTER_DESCRIPTORS)) // 2
        return features[:, len(shape_module.CLUSTER_DESCRIPTORS):][:, :n_classes].argmax(axis=1)

    monkeypatch.setattr(shape_module, "_leave_one_fov_out", as_the_vote)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tie = tiny(cluster_classes="auto").fit(X, shape, clusters=y, groups=fov)
    scores = tie.cluster_class_scores_
    assert calls["n"] > 0 and scores["descriptors"] == pytest.approx(scores["vote"])
    assert tie.cluster_classes_ == "vote" and tie.cluster_classifier_ is None
    one_class = np.where(shape == "background", "background", "spot")
    with pytest.raises(ValueError, match="at least 2"):
        tiny(cluster_classes="descriptors", border_points="cluster").fit(
            X[y >= 0], one_class[y >= 0], clusters=y[y >= 0], groups=fov[y >= 0])


def test_a_cluster_classified_as_background_is_dissolved(many_clusters):
    (X, y, fov, shape), _ = many_clusters
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = tiny(cluster_classes="descriptors").fit(X, shape, clusters=y, groups=fov)

    class AlwaysBackground:
        def predict(self, features):
            return np.full(len(features), list(model.classes_).index("background"))

    before, _ = model.predict_clusters(X[fov == 0])
    assert (before >= 0).any()
    model.cluster_classifier_ = AlwaysBackground()
    labels, classes = model.predict_clusters(X[fov == 0])
    assert (labels == -1).all() and (classes == "background").all()


def test_border_points_background_is_dbscan_star_on_the_collapsed_fovs(data):
    from sklearn_miro.grid_dbscan import DBSCANStar

    X, y, fov, shape = data
    model = tiny(border_points="background").fit(X, shape, clusters=y, groups=fov)
    assert model.border_points_ == "background" and model.border_point_scores_ is None
    labels, _ = model.predict_clusters(X, groups=fov)
    for k in range(3):
        expected = DBSCANStar(eps=model.eps_, min_samples=model.min_samples_).fit_predict(
            model.collapse(X[fov == k]))
        assert sklearn.metrics.adjusted_rand_score(expected, labels[fov == k]) == 1.0
        np.testing.assert_array_equal(expected == -1, labels[fov == k] == -1)


def test_border_points_auto_keeps_the_better_training_score(data):
    X, y, fov, shape = data
    auto = tiny(border_points="auto", eps="auto", min_samples="auto").fit(X, shape, clusters=y, groups=fov)
    scores = auto.border_point_scores_
    assert set(scores) == {"cluster", "background"}
    assert scores[auto.border_points_] == max(scores.values()) == auto.tuning_scores_.max()
    if scores["cluster"] == scores["background"]:
        assert auto.border_points_ == "cluster"  # a tie goes to DBSCAN
    same = tiny(border_points=auto.border_points_, eps="auto", min_samples="auto").fit(
        X, shape, clusters=y, groups=fov)
    assert (same.eps_, same.min_samples_) == (auto.eps_, auto.min_samples_)
    np.testing.assert_array_equal(same.tuning_scores_, auto.tuning_scores_)
    for name, message in (("border_points", "border_points"), ("cluster_classes", "cluster_classes")):
        with pytest.raises(ValueError, match=message):
            tiny(**{name: "sometimes"}).fit(X, shape, clusters=y, groups=fov)


def test_classifiers_pickled_before_border_points_keep_dbscan_and_the_vote(data, fitted):
    X, y, fov, shape = data
    state = dict(fitted.__getstate__())  # a copy: object.__getstate__ returns __dict__ itself
    for name in ("border_points", "border_points_", "cluster_classes", "cluster_classes_",
                 "cluster_classifier_", "border_point_scores_"):
        state.pop(name)
    old = MIROShapeClassifier.__new__(MIROShapeClassifier)
    old.__setstate__(state)
    assert (old.border_points_, old.cluster_classes_, old.cluster_classifier_) == ("cluster", "vote", None)
    for a, b in zip(old.predict_clusters(X, groups=fov), fitted.predict_clusters(X, groups=fov)):
        np.testing.assert_array_equal(a, b)


def test_an_unfitted_classifier_stays_unfitted_through_a_pickle():
    import pickle

    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    loaded = pickle.loads(pickle.dumps(MIROShapeClassifier(border_points="background")))
    assert loaded.border_points == "background"
    with pytest.raises(NotFittedError):
        check_is_fitted(loaded)


def test_eps_candidates_in_the_units_of_x_with_fov_normalization(data):
    X, y, fov, shape = data
    model = tiny(eps="auto", min_samples="auto", fov_normalization="minmax").fit(
        X, shape, clusters=y, groups=fov)
    radius = model.model_.connectivity_radius * np.median(
        [np.ptp(X[fov == f], axis=0).max() for f in np.unique(fov)])
    assert model.eps_grid_.max() == pytest.approx(radius)
