"""Every warning the package gives points at the user's line, whatever the path.

A warning's ``filename`` / ``lineno`` is the line that Python shows and that
``warnings.filterwarnings(..., module=...)`` matches: it must be the caller's
line (here, a line of this file), not one inside sklearn_miro, scikit-learn
or joblib, whether the call is direct or goes through a Pipeline,
cross_validate, GridSearchCV (n_jobs=1), another public function of the
package or the estimator's fit calling the package's helpers
(:func:`sklearn_miro._validation.caller_stacklevel`).

Each case below triggers one warning through the public API on tiny data and
checks that every recorded warning of that kind, and every warning of a
category of the package (MoveNothingWarning, MultipleFOVWarning, ...), points
at this file.
"""

import functools
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.cluster import DBSCAN
from sklearn.exceptions import DataConversionWarning, UndefinedMetricWarning
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import GridSearchCV, GroupKFold, KFold, cross_validate
from sklearn.pipeline import Pipeline

import sklearn_miro.training as training
from sklearn_miro import (
    MIROClusterer,
    MIROShapeClassifier,
    MIROTransformer,
    MultiscaleMIROClusterer,
    MultiscaleMIROTransformer,
)
from sklearn_miro.analysis import cluster_table, fov_summary, multiscale_cluster_table
from sklearn_miro.datasets import make_gaussian_clusters, make_multishape, make_npc
from sklearn_miro.diagnostics import MoveNothingWarning, check_move_nothing
from sklearn_miro.domain import UnitMismatchWarning
from sklearn_miro.io import ShadowedLabelsWarning, load_benchmark, write_labels_as_source
from sklearn_miro.metrics import (
    MultipleFOVWarning,
    clustering_report,
    get_scorer,
    jaccard_cluster_index,
    make_clustering_scorer,
)
from sklearn_miro.model import merge_copies
from sklearn_miro.training import TrainingCompileWarning

TINY = dict(hidden_size=8, n_steps=3, n_augmented=6, max_epochs=1, batch_size=3, validation_fraction=0.0,
            verbose=0, random_state=0)
SHAPE_TINY = dict(TINY, eps=30.0, min_samples=4, border_points="cluster", cluster_classes="vote")
MULTISCALE_TINY = dict(TINY, n_steps=4, scale_names=("corners", "rings"))


def tiny(**params):
    return MIROTransformer(**{**TINY, **params})


def zero_background(y):
    """The benchmark files' convention: 0 = background, clusters from 1."""
    return np.where(y == -1, 0, y + 1)


def blob_fov(rng, n_clusters=6, n_per_cluster=30, sigma=12.0, n_background=150, size=2000.0):
    """One FOV of Gaussian blobs (labels 0, 1, ...) over a uniform background."""
    centres = np.empty((0, 2))
    while len(centres) < n_clusters:
        candidate = rng.uniform(0.05 * size, 0.95 * size, 2)
        if np.all(np.hypot(*(centres - candidate).T) > 0.5 * size / np.sqrt(n_clusters)):
            centres = np.vstack([centres, candidate])
    points = [rng.normal(c, sigma, (n_per_cluster, 2)) for c in centres] + [rng.uniform(0, size, (n_background, 2))]
    labels = [np.full(n_per_cluster, k) for k in range(n_clusters)] + [np.full(n_background, -1)]
    return np.concatenate(points), np.concatenate(labels)


class Context:
    """Tiny data and models, each made on first use (a selected case builds only what it needs)."""

    @functools.cached_property
    def data(self):
        return make_gaussian_clusters(n_fovs=3, n_clusters=4, n_localizations=15, fov_size=500, random_state=0)

    @functools.cached_property
    def one_fov(self):
        X, y, fov = self.data
        return X[fov == 0], y[fov == 0]

    @functools.cached_property
    def fitted(self):
        X, y, fov = self.data
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return tiny().fit(X, y, groups=fov)

    def frozen_clusterer(self):
        return MIROClusterer(FrozenEstimator(self.fitted), eps=20.0, min_samples=3)

    @functools.cached_property
    def stacked(self):
        """Four FOVs in one array, labels restarting at 0 in each, and their ids."""
        rng = np.random.default_rng(0)
        parts = [blob_fov(rng) for _ in range(4)]
        groups = np.repeat(np.arange(4), [len(p[1]) for p in parts])
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]), groups

    @functools.cached_property
    def shapes(self):
        return make_multishape(
            ("spot", "ellipse"), n_fovs=3, n_clusters=3, fov_size=600, background_fraction=0.1, random_state=0,
            shape_params={"spot": {"n_localizations": 20}, "ellipse": {"n_localizations": 20}},
        )

    @functools.cached_property
    def npc(self):
        return make_npc(n_fovs=3, n_structures=2, n_localizations=(4, 10), fov_size=400, random_state=0)

    @functools.cached_property
    def multiscale_fitted(self):
        X, Y, fov = self.npc
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return MultiscaleMIROTransformer(**MULTISCALE_TINY).fit(X, Y, groups=fov)

    @functools.cached_property
    def multiscale_clusterer(self):
        X, Y, fov = self.npc
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return MultiscaleMIROClusterer(FrozenEstimator(self.multiscale_fitted), eps=(15.0, 40.0),
                                           min_samples=(3, 10), border_points="cluster").fit(X, Y, groups=fov)


@pytest.fixture(scope="module")
def ctx():
    return Context()


# ---------------------------------------------------------------- analysis, plotting


def analysis_cluster_table(ctx, tmp_path, monkeypatch):
    X, y = ctx.one_fov
    cluster_table(X, zero_background(y))


def analysis_multiscale_cluster_table(ctx, tmp_path, monkeypatch):
    # Through another public function (which calls cluster_table).
    X, y = ctx.one_fov
    multiscale_cluster_table(X, np.column_stack([zero_background(y), zero_background(y)]))


def analysis_fov_summary(ctx, tmp_path, monkeypatch):
    X, y, fov = ctx.data
    fov_summary(X, zero_background(y), fov)


def analysis_in_micrometres(ctx, tmp_path, monkeypatch):
    X, y, fov = ctx.data
    cluster_table(X / 1000, y, fov)


def analysis_frame_with_fov_column(ctx, tmp_path, monkeypatch):
    X, y, fov = ctx.data
    cluster_table(pd.DataFrame({"x": X[:, 0], "y": X[:, 1], "fov": fov}), y)


def plotting_zero_background(ctx, tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    X, y = ctx.one_fov
    from sklearn_miro.plotting import plot_clusters

    plot_clusters(X, {"a": zero_background(y), "b": zero_background(y)})


# --------------------------------------------------------------------------- metrics


def metrics_report_of_stacked_fovs(ctx, tmp_path, monkeypatch):
    X, y, _ = ctx.stacked
    clustering_report(X, y, y)


def metrics_scorer_of_stacked_fovs(ctx, tmp_path, monkeypatch):
    X, y, _ = ctx.stacked
    make_clustering_scorer("ari_dagger")(DBSCAN(eps=25, min_samples=4), X, y)


def metrics_scorer_of_stacked_fovs_in_cross_validate(ctx, tmp_path, monkeypatch):
    X, y, _ = ctx.stacked
    cross_validate(DBSCAN(eps=25, min_samples=4), X, y, scoring=make_clustering_scorer("ari_dagger"), cv=2)


def metrics_scorer_of_stacked_fovs_in_grid_search(ctx, tmp_path, monkeypatch):
    X, y, groups = ctx.stacked  # groups reach the splitter only (no metadata routing)
    GridSearchCV(DBSCAN(min_samples=4), {"eps": [25]}, scoring=get_scorer("ari_dagger"), cv=GroupKFold(2),
                 n_jobs=1).fit(X, y, groups=groups)


def metrics_noise_scored_as_a_cluster(ctx, tmp_path, monkeypatch):
    X = np.array([[0, 0], [1, 0], [50, 50], [51, 50], [200, 0.0]])
    jaccard_cluster_index(X, np.array([1, 1, 2, 2, 0]), np.array([0, 0, 1, 1, -1]), background=0)


def metrics_background_named_bg(ctx, tmp_path, monkeypatch):
    X = np.array([[0, 0], [1, 0], [0, 1], [50, 50], [51, 50], [50, 51], [90, 10], [95, 80.0]])
    truth = np.array(["a", "a", "a", "b", "b", "b", "bg", "bg"])
    jaccard_cluster_index(X, truth, np.array([0, 0, 0, 1, 1, 1, -1, -1]))


def metrics_undefined_on_a_fov_without_clusters(ctx, tmp_path, monkeypatch):
    X, y, groups = ctx.stacked
    y = np.where(groups == 1, -1, y)
    get_scorer("ari_c")(DBSCAN(eps=25, min_samples=4), X, y, groups=groups)


# -------------------------------------------------------------------------------- io


def io_benchmark_without_metadata(ctx, tmp_path, monkeypatch):
    folder = tmp_path / "data" / "ground_truth" / "scenario_4"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for number in range(1, 5):
        index = np.r_[np.repeat(np.arange(1, number + 1), 2), [0, 0, 0]]
        pd.DataFrame({"x": rng.uniform(0, 2000, index.size), "y": rng.uniform(0, 2000, index.size),
                      "index": index}).to_csv(folder / f"sim_MoleculeList_{number}.csv", index=False)
    load_benchmark(folder)


def io_labels_shadowed_in_text(ctx, tmp_path, monkeypatch):
    source = tmp_path / "fov_1.csv"
    source.write_text("x,y,index\n0,0,0\n10,0,0\n20,0,3\n30,0,3\n")
    write_labels_as_source(tmp_path / "fov_1_miro.csv", source, [5, 5, 6, -1])


def io_labels_shadowed_in_picasso_hdf5(ctx, tmp_path, monkeypatch):
    h5py = pytest.importorskip("h5py")
    yaml = pytest.importorskip("yaml")
    rng = np.random.default_rng(0)
    locs = np.zeros(20, dtype=[("frame", "u4"), ("x", "f4"), ("y", "f4"), ("group", "i4")])
    locs["frame"] = np.arange(20) // 5
    locs["x"], locs["y"] = rng.uniform(1, 30, 20), rng.uniform(1, 30, 20)
    path = tmp_path / "movie_locs.hdf5"
    with h5py.File(path, "w") as handle:
        handle.create_dataset("locs", data=locs)
    info = [{"Byte Order": "<", "Data Type": "uint16", "File": "movie.ome.tif", "Frames": 4, "Height": 32,
             "Width": 32}, {"Generated by": "Picasso Localize", "Pixelsize": 130}]
    with open(path.with_suffix(".yaml"), "w") as handle:
        yaml.safe_dump_all(info, handle, default_flow_style=False)
    write_labels_as_source(tmp_path / "out.hdf5", path, np.zeros(20, dtype=int), label_name="miro")


# -------------------------------------------------------------------------- datasets


def datasets_fov_without_clusters(ctx, tmp_path, monkeypatch):
    make_gaussian_clusters(1, n_clusters=0, random_state=0)


# ------------------------------------------------------------ training (in fit, helpers)


def fit_zero_background(ctx, tmp_path, monkeypatch):
    X, y, fov = ctx.data
    tiny().fit(X, zero_background(y), groups=fov)


def fit_zero_background_frozen_clusterer(ctx, tmp_path, monkeypatch):
    X, y, fov = ctx.data
    ctx.frozen_clusterer().fit(X, zero_background(y), groups=fov)


def fit_zero_background_in_pipeline(ctx, tmp_path, monkeypatch):
    X, y = ctx.one_fov
    Pipeline([("miro", ctx.frozen_clusterer())]).fit(X, zero_background(y))


def fit_zero_background_in_cross_validate(ctx, tmp_path, monkeypatch):
    X, y = ctx.one_fov
    cross_validate(ctx.frozen_clusterer(), X, zero_background(y), cv=KFold(2),
                   scoring=make_clustering_scorer("ari_dagger", background=0), n_jobs=None)


def fit_zero_background_in_grid_search(ctx, tmp_path, monkeypatch):
    X, y = ctx.one_fov
    GridSearchCV(ctx.frozen_clusterer(), {"eps": [20.0, 30.0]}, cv=KFold(2), n_jobs=1,
                 scoring=make_clustering_scorer("ari_dagger", background=0)).fit(X, zero_background(y))


def fit_n_iter_no_change(ctx, tmp_path, monkeypatch):
    X, y, fov = ctx.data
    tiny(n_iter_no_change=1).fit(X, y, groups=fov)


def fit_n_iter_no_change_in_pipeline(ctx, tmp_path, monkeypatch):
    X, y = ctx.one_fov
    Pipeline([("miro", tiny(n_iter_no_change=1))]).fit(X, y)


def fit_n_iter_no_change_in_cross_validate(ctx, tmp_path, monkeypatch):
    X, y = ctx.one_fov
    cross_validate(MIROClusterer(tiny(n_iter_no_change=1), eps=20.0, min_samples=3), X, y, cv=KFold(2),
                   scoring=make_clustering_scorer("ari_dagger"), n_jobs=None)


def fit_n_iter_no_change_in_grid_search(ctx, tmp_path, monkeypatch):
    X, y = ctx.one_fov
    GridSearchCV(MIROClusterer(tiny(n_iter_no_change=1), min_samples=3), {"eps": [20.0]}, cv=KFold(2),
                 n_jobs=1, scoring=make_clustering_scorer("ari_dagger")).fit(X, y)


def fit_move_nothing(ctx, tmp_path, monkeypatch):
    X, y, fov = ctx.data
    tiny(init=None).fit(X, y, groups=fov)


def fit_move_nothing_in_clusterer(ctx, tmp_path, monkeypatch):
    X, y, fov = ctx.data
    MIROClusterer(tiny(init=None), eps=20.0, min_samples=3).fit(X, y, groups=fov)


def move_nothing_direct(ctx, tmp_path, monkeypatch):
    check_move_nothing(0.99, 0.6)


def move_nothing_direct_with_a_stacklevel(ctx, tmp_path, monkeypatch):
    check_move_nothing(0.99, 0.6, stacklevel=1)  # an int still counts from the caller


def fit_merges_copies(ctx, tmp_path, monkeypatch):
    X, y, fov = ctx.data
    tiny().fit(np.repeat(X, 2, axis=0), np.repeat(y, 2), groups=np.repeat(fov, 2))


def fit_merges_copies_in_clusterer(ctx, tmp_path, monkeypatch):
    X, y, fov = ctx.data
    MIROClusterer(tiny(), eps=20.0, min_samples=3).fit(np.repeat(X, 2, axis=0), np.repeat(y, 2),
                                                      groups=np.repeat(fov, 2))


def fit_merges_copies_shape_classifier(ctx, tmp_path, monkeypatch):
    # merge_copies from the training core rather than from MIROTransformer.fit.
    X, y, fov, shape = ctx.shapes
    MIROShapeClassifier(**SHAPE_TINY).fit(np.repeat(X, 2, axis=0), np.repeat(shape, 2), clusters=np.repeat(y, 2),
                                          groups=np.repeat(fov, 2))


def merge_copies_direct(ctx, tmp_path, monkeypatch):
    X, y = ctx.one_fov
    merge_copies(np.r_[X, X[:5]], np.r_[y, y[:5]][:, None], None, [np.arange(len(X) + 5)])


def fit_without_a_cluster_of_two(ctx, tmp_path, monkeypatch):
    X, _ = ctx.one_fov
    tiny().fit(X, np.arange(len(X)))


def fit_short_connectivity_radius(ctx, tmp_path, monkeypatch):
    X, y, fov = ctx.data
    tiny(connectivity_radius=8.0).fit(X, y, groups=fov)


def _refuse_to_compile(module, **kwargs):
    raise RuntimeError("torch.compile is not supported on Python 3.99+")


def _compile_to_a_failing_forward(module, **kwargs):
    def run(*args):
        raise RuntimeError("InvalidCxxCompiler: no working C++ compiler found")

    return run


def fit_compile_refused(ctx, tmp_path, monkeypatch):
    monkeypatch.setattr(training, "_COMPILE_FAILURE", None)
    monkeypatch.setattr(torch, "compile", _refuse_to_compile)
    X, y, fov = ctx.data
    tiny(compile=True).fit(X, y, groups=fov)


def fit_compiled_step_fails(ctx, tmp_path, monkeypatch):
    monkeypatch.setattr(training, "_COMPILE_FAILURE", None)
    monkeypatch.setattr(torch, "compile", _compile_to_a_failing_forward)
    X, y, fov = ctx.data
    tiny(compile=True).fit(X, y, groups=fov)


def fit_compile_failed_earlier(ctx, tmp_path, monkeypatch):
    monkeypatch.setattr(training, "_COMPILE_FAILURE", "RuntimeError: an earlier failure")
    X, y, fov = ctx.data
    tiny(compile=True).fit(X, y, groups=fov)


def fit_transform_of_several_fovs(ctx, tmp_path, monkeypatch):
    X, y, fov = ctx.data
    tiny().fit_transform(X, y, groups=fov)


def fit_warm_start_in_clusterer(ctx, tmp_path, monkeypatch):
    X, y, fov = ctx.data
    MIROClusterer(tiny(warm_start=True), eps=20.0, min_samples=3).fit(X, y, groups=fov)


def shape_classifier_column_vector_y(ctx, tmp_path, monkeypatch):
    X, y, fov, shape = ctx.shapes
    MIROShapeClassifier(**SHAPE_TINY).fit(X, shape[:, None], clusters=y, groups=fov)


def multiscale_deprecated_arguments(ctx, tmp_path, monkeypatch):
    X, Y, fov = ctx.npc
    MultiscaleMIROClusterer(FrozenEstimator(ctx.multiscale_fitted), hidden_size=3, eps=(15.0, 40.0),
                            min_samples=(3, 10)).fit(X, Y, groups=fov)


def multiscale_nesting_report_of_one_scale(ctx, tmp_path, monkeypatch):
    ctx.multiscale_clusterer.nesting_report(fine="rings", coarse="rings")


# ------------------------------------------------------------------------- inference


def transform_in_micrometres(ctx, tmp_path, monkeypatch):
    X, _ = ctx.one_fov
    ctx.fitted.transform(X / 1000)


def transform_stacked_fovs(ctx, tmp_path, monkeypatch):
    X, _ = ctx.one_fov
    ctx.fitted.transform(np.concatenate([X] * 4))


def transform_frame_with_fov_column(ctx, tmp_path, monkeypatch):
    X, _, fov = ctx.data
    ctx.fitted.transform(pd.DataFrame({"x": X[:, 0], "y": X[:, 1], "fov": fov}))


def blinking_model_without_blinking(ctx, tmp_path, monkeypatch):
    from sklearn_miro.datasets import make_benchmark_scenario
    from sklearn_miro.pretrained import BLINKING_ZERO_SHOT_MODEL

    X, _, _ = make_benchmark_scenario(2, random_state=0, fov_size=800.0, n_clusters=4)
    MIROClusterer(MIROTransformer.pretrained(BLINKING_ZERO_SHOT_MODEL)).fit_predict(X)


CASES = [
    # (case, category, fragment of the message)
    (analysis_cluster_table, UserWarning, "uses label 0 for"),
    (analysis_multiscale_cluster_table, UserWarning, "uses label 0 for"),
    (analysis_fov_summary, UserWarning, "uses label 0 for"),
    (analysis_in_micrometres, UserWarning, "far below a nanometre"),
    (analysis_frame_with_fov_column, UserWarning, "but groups was not given"),
    (plotting_zero_background, UserWarning, "uses label 0 for"),
    (metrics_report_of_stacked_fovs, MultipleFOVWarning, "stacked together"),
    (metrics_scorer_of_stacked_fovs, MultipleFOVWarning, "stacked together"),
    (metrics_scorer_of_stacked_fovs_in_cross_validate, MultipleFOVWarning, "stacked together"),
    (metrics_scorer_of_stacked_fovs_in_grid_search, MultipleFOVWarning, "stacked together"),
    (metrics_noise_scored_as_a_cluster, UserWarning, "labels_pred holds -1"),
    (metrics_background_named_bg, UserWarning, "which reads as background"),
    (metrics_undefined_on_a_fov_without_clusters, UndefinedMetricWarning, "undefined on 1 of 4 FOVs"),
    (io_benchmark_without_metadata, UserWarning, "No training_indices given"),
    (io_labels_shadowed_in_text, ShadowedLabelsWarning, "column 'index'"),
    (io_labels_shadowed_in_picasso_hdf5, ShadowedLabelsWarning, "column 'group'"),
    (datasets_fov_without_clusters, UserWarning, "drew no cluster"),
    (fit_zero_background, UserWarning, "uses label 0 for"),
    (fit_zero_background_frozen_clusterer, UserWarning, "uses label 0 for"),
    (fit_zero_background_in_pipeline, UserWarning, "uses label 0 for"),
    (fit_zero_background_in_cross_validate, UserWarning, "uses label 0 for"),
    (fit_zero_background_in_grid_search, UserWarning, "uses label 0 for"),
    (fit_n_iter_no_change, UserWarning, "n_iter_no_change=1 is ignored"),
    (fit_n_iter_no_change_in_pipeline, UserWarning, "n_iter_no_change=1 is ignored"),
    (fit_n_iter_no_change_in_cross_validate, UserWarning, "n_iter_no_change=1 is ignored"),
    (fit_n_iter_no_change_in_grid_search, UserWarning, "n_iter_no_change=1 is ignored"),
    (fit_move_nothing, MoveNothingWarning, "move nothing"),
    (fit_move_nothing_in_clusterer, MoveNothingWarning, "move nothing"),
    (move_nothing_direct, MoveNothingWarning, "move nothing"),
    (move_nothing_direct_with_a_stacklevel, MoveNothingWarning, "move nothing"),
    (fit_merges_copies, UserWarning, "exact copies"),
    (fit_merges_copies_in_clusterer, UserWarning, "exact copies"),
    (fit_merges_copies_shape_classifier, UserWarning, "exact copies"),
    (merge_copies_direct, UserWarning, "exact copies"),
    (fit_without_a_cluster_of_two, UserWarning, "No labelled cluster has two"),
    (fit_short_connectivity_radius, UserWarning, "is short for these data"),
    (fit_compile_refused, TrainingCompileWarning, "not supported on Python"),
    (fit_compiled_step_fails, TrainingCompileWarning, "InvalidCxxCompiler"),
    (fit_compile_failed_earlier, TrainingCompileWarning, "failed earlier in this process"),
    (fit_transform_of_several_fovs, UserWarning, "fit_transform got 3 FOVs"),
    (fit_warm_start_in_clusterer, UserWarning, "warm_start=True, but MIROClusterer"),
    (shape_classifier_column_vector_y, DataConversionWarning, "column-vector y"),
    (multiscale_deprecated_arguments, FutureWarning, "ignored because transformer is given"),
    (multiscale_nesting_report_of_one_scale, UserWarning, "same scale"),
    (transform_in_micrometres, UnitMismatchWarning, "different units"),
    (transform_stacked_fovs, UserWarning, "times the localisation density"),
    (transform_frame_with_fov_column, UserWarning, "but groups was not given"),
    (blinking_model_without_blinking, UserWarning, "trained on data with multiple blinking only"),
]


@pytest.mark.parametrize("case, category, fragment", [pytest.param(*c, id=c[0].__name__) for c in CASES])
def test_the_warning_points_at_the_callers_line(ctx, tmp_path, monkeypatch, case, category, fragment):
    ctx.data  # made outside the recording: only the case's own warnings are looked at
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        case(ctx, tmp_path, monkeypatch)
    wanted = [w for w in record if issubclass(w.category, category) and fragment in str(w.message)]
    assert wanted, f"no {category.__name__} with {fragment!r}; got {[str(w.message)[:80] for w in record]}"
    # Also every other warning of the package's own categories (e.g. MoveNothingWarning after a tiny fit).
    ours = [w for w in record if w.category.__module__.startswith("sklearn_miro")]
    where = {(w.filename, w.lineno, str(w.message)[:60]) for w in wanted + ours if w.filename != __file__}
    assert not where, where
