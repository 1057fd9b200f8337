"""Bad and odd inputs across the public API, the file readers and the CLI (issue 16).

One row per case: what is called, the exception or warning expected, and words
its message must contain. Every error must be specific (what was wrong, what
was expected), never a numpy/pandas/torch message from deep inside; every
silent wrong result of the issue is now an error or a warning. Plus property
tests: translation equivariance at stage offsets up to 1e9 nm, and the
"different units" warning.

One tiny model is fitted per module (hidden size 8, 2 steps, 20 synthetic
FOVs, 1 epoch), so the whole file runs in seconds.
"""

from __future__ import annotations

import json
import warnings
import zipfile
from dataclasses import dataclass
from typing import Callable

import joblib
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.decomposition import PCA
from sklearn.preprocessing import StandardScaler

from sklearn_miro import MIROClusterer, MIROTransformer
from sklearn_miro.cli import main
from sklearn_miro.datasets import make_gaussian_clusters
from sklearn_miro.diagnostics import MoveNothingWarning
from sklearn_miro.graph import build_graph
from sklearn_miro.io import load_benchmark, read_localizations, write_labels
from sklearn_miro.persistence import load_model, save_model

TINY = dict(hidden_size=8, n_steps=2, n_augmented=20, max_epochs=1, verbose=0, random_state=0,
            device="cpu")


# --------------------------------------------------------------------------- fixtures


class Context:
    """Data, fitted models and files shared by every case of the module."""


@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    c = Context()
    c.X, c.y, c.fov = make_gaussian_clusters(
        n_fovs=2, n_clusters=6, n_localizations=20, fov_size=1000, random_state=0
    )
    c.X0 = c.X[c.fov == 0]
    c.miro = MIROTransformer(**TINY).fit(c.X, c.y, groups=c.fov)
    c.clusterer = MIROClusterer(FrozenEstimator(c.miro)).fit(c.X, c.y, groups=c.fov)
    c.dir = tmp_path_factory.mktemp("bad_inputs")
    d = c.dir
    c.model = save_model(c.clusterer, d / "model.miro")
    joblib.dump(c.clusterer, d / "model.joblib")
    labels = np.where(c.y[c.fov == 0] >= 0, c.y[c.fov == 0] + 1, 0)  # the benchmark's 0 = background
    c.csv = d / "fov.csv"
    pd.DataFrame({"x": c.X0[:, 0], "y": c.X0[:, 1], "index": labels}).to_csv(c.csv, index=False)
    c.um_csv = d / "fov_um.csv"
    pd.DataFrame({"x": c.X0[:, 0] / 1000, "y": c.X0[:, 1] / 1000}).to_csv(c.um_csv, index=False)
    c.str_csv = d / "strings.csv"
    pd.DataFrame({"x": c.X0[:, 0], "y": c.X0[:, 1],
                  "index": np.where(labels > 0, "spot", "bg")}).to_csv(c.str_csv, index=False)
    files = {
        "empty.csv": b"",
        "header_only.csv": b"x,y,frame\n",
        "extra_field_first.csv": b"x,y,index\n1,2,3,4\n5,6,7,8\n",
        "extra_field_later.csv": b"x,y,index\n1,2,3\n5,6,7,8\n",
        "duplicate.csv": b"x,y,x\n1,2,3\n",
        "json.csv": b'{"x": [1, 2], "y": [3, 4]}',
        "binary.csv": bytes(range(256)) * 4,
        "no_xy.csv": b"a,b,c\n1,2,3\n",
        "text_x.csv": b"x,y\n1,2\nabc,4\n",
        "nan_x.csv": b"x,y\n1,2\nnan,4\n",
        "pixels.csv": b"x [px],y [px]\n1,2\n",
        "no_header.csv": b"1.0,2.0\n3.0,4.0\n",
    }
    c.files = {}
    for name, content in files.items():
        (d / name).write_bytes(content)
        c.files[name] = d / name
    (d / "a_folder").mkdir()
    (d / "nometa" / "scenario_x").mkdir(parents=True)
    for k in range(1, 6):
        pd.DataFrame({"x": c.X0[:, 0], "y": c.X0[:, 1], "index": labels}).to_csv(
            d / "nometa" / "scenario_x" / f"fov_{k}.csv", index=False)
    tampered = d / "tampered.miro"
    with zipfile.ZipFile(c.model) as src, zipfile.ZipFile(tampered, "w") as dst:
        document = json.loads(src.read("model.json"))
        document["estimator"]["__object__"] = "posix.system"
        dst.writestr("model.json", json.dumps(document))
        dst.writestr("arrays.npz", src.read("arrays.npz"))
    c.tampered = tampered
    return c


def _fit(**kwargs):
    return lambda c, X, y, groups=None: MIROTransformer(**{**TINY, **kwargs}).fit(X, y, groups=groups)


def _one_point_fov(c):
    X = np.vstack([c.X0, [[5000.0, 5000.0]]])
    y = np.concatenate([c.y[c.fov == 0], [0]])
    groups = np.concatenate([np.zeros(len(c.X0)), [1]])
    return MIROTransformer(**TINY).fit(X, y, groups=groups)


def _flat_fov(c):
    flat = np.column_stack([np.linspace(0, 100, 30), np.full(30, 7.0)])
    X = np.vstack([c.X0, flat])
    y = np.concatenate([c.y[c.fov == 0], np.zeros(30, dtype=int)])
    groups = np.concatenate([np.zeros(len(c.X0)), np.ones(30)])
    return MIROTransformer(**TINY).fit(X, y, groups=groups)


def _with_nan(X, row=3):
    X = X.astype(float).copy()
    X[row, 1] = np.nan
    return X


def _cli(*args):
    """Run the CLI in-process; return (exit status, stderr) via pytest's capsys-free capture."""
    import contextlib
    import io

    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        code = main([str(a) for a in args])
    return code, err.getvalue()


# --------------------------------------------------------------------------- the table


@dataclass
class Case:
    id: str
    call: Callable
    expected: type
    words: tuple


CASES = [
    # ---- coordinates
    Case("nan-coordinates-fit", lambda c: MIROTransformer(**TINY).fit(_with_nan(c.X), c.y),
         ValueError, ("NaN", "row 3")),
    Case("nan-coordinates-transform", lambda c: c.miro.transform(_with_nan(c.X0)),
         ValueError, ("NaN", "row 3")),
    Case("inf-coordinates", lambda c: c.miro.transform(np.where(np.arange(len(c.X0))[:, None] == 0, np.inf, c.X0)),
         ValueError, ("infinite", "row 0")),
    # What MIRO expects, as MIROClusterer.fit_predict says it, not scikit-learn's
    # "X has 3 features, but MIROTransformer is expecting 2 features as input".
    Case("three-columns", lambda c: c.miro.transform(np.ones((5, 3))), ValueError,
         ("shape (n_localizations, 2)", "(x, y) coordinate pair", "n_features = 3", "in 2-D", "X[:, :2]")),
    Case("three-columns-clusterer", lambda c: c.clusterer.predict(np.ones((5, 3))), ValueError,
         ("shape (n_localizations, 2)", "n_features = 3", "in 2-D")),
    Case("four-columns-fit", lambda c: MIROTransformer(**TINY).fit(np.ones((5, 4)), np.zeros(5, int)), ValueError,
         ("shape (n_localizations, 2)", "n_features = 4")),
    # Not scikit-learn's "Expected 2D array ... Reshape your data using array.reshape(-1, 1)",
    # whose (n, 1) array would be refused too.
    Case("one-d-transform", lambda c: c.miro.transform(np.ones(6)), ValueError,
         ("shape (n_localizations, 2)", "x and y coordinates", "shape (6,)")),
    Case("scalar-fit", lambda c: MIROTransformer(**TINY).fit(3.0, np.zeros(1, int)), ValueError,
         ("shape (n_localizations, 2)", "shape ()")),
    Case("three-d-clusterer", lambda c: c.clusterer.predict(np.ones((4, 2, 2))), ValueError,
         ("shape (n_localizations, 2)", "shape (4, 2, 2)")),
    # Not scikit-learn's "Found array with 0 sample(s) ... required by MIROTransformer".
    Case("empty-fit", lambda c: MIROTransformer(**TINY).fit(np.empty((0, 2)), np.empty(0, int)), ValueError,
         ("X has 0 localisation(s)", "at least 2 are needed", "shape (n_localizations, 2)", "x and y coordinates")),
    Case("empty-transform", lambda c: c.miro.transform(np.empty((0, 2))), ValueError,
         ("X has 0 localisation(s)", "at least 1 are needed", "shape (n_localizations, 2)")),
    Case("empty-clusterer-fit", lambda c: MIROClusterer(FrozenEstimator(c.miro), eps=10, min_samples=3).fit(np.empty((0, 2))),
         ValueError, ("X has 0 localisation(s)", "at least 2 are needed", "shape (n_localizations, 2)")),
    Case("empty-pretrained-clusterer", lambda c: MIROClusterer(MIROTransformer.pretrained(verbose=0)).fit_predict(np.empty((0, 2))),
         ValueError, ("X has 0 localisation(s)", "at least 2 are needed")),
    # A z column beside x and y: clustered in 2-D, and said so.
    Case("z-column-transform", lambda c: c.miro.transform(pd.DataFrame({"x": c.X0[:, 0], "y": c.X0[:, 1], "z": 0.0})),
         UserWarning, ("z coordinate column 'z'", "2-D", "z is ignored", "slice in z", "project")),
    Case("z-column-clusterer-fit", lambda c: MIROClusterer(FrozenEstimator(c.miro), eps=10, min_samples=3).fit(
        pd.DataFrame({"x [nm]": c.X0[:, 0], "y [nm]": c.X0[:, 1], "Z [nm]": 0.0})),
         UserWarning, ("z coordinate column 'Z [nm]'", "z is ignored")),
    # Non-numeric coordinates: a TypeError (scikit-learn's convention, its check_dtype_object)
    # that is a ValueError too (test_non_numeric_coordinates_are_a_type_and_a_value_error).
    Case("string-coordinates", lambda c: c.miro.transform([["a", "b"], ["c", "d"]]), TypeError, ("numeric",)),
    Case("text-in-object-coordinates-fit",
         lambda c: MIROTransformer(**TINY).fit(np.where(np.arange(len(c.X))[:, None] == 2, "abc", c.X.astype(object)),
                                               c.y),
         TypeError, ("numeric", "'abc'")),
    Case("dict-in-object-coordinates-fit",  # check_dtype_object's case, with its message
         lambda c: MIROTransformer(**TINY).fit(np.where(np.arange(len(c.X))[:, None] == 0, {"foo": "bar"},
                                                        c.X.astype(object)), c.y),
         TypeError, ("numeric coordinates", "argument must be a string or a real number")),
    Case("text-column-predict",
         lambda c: c.clusterer.predict(pd.DataFrame({"x": c.X0[:, 0].astype(str), "y": c.X0[:, 1]}).assign(
             x=lambda d: d["x"].where(d.index != 1, "1,5"))),
         TypeError, ("numeric", "'1,5'")),
    Case("dataframe-without-xy", lambda c: c.miro.transform(pd.DataFrame({"a": [1.0], "b": [2.0], "c": [3.0]})),
         ValueError, ("'x' and 'y'",)),
    # ---- labels and groups
    Case("y-none", lambda c: MIROTransformer(**TINY).fit(c.X, None), ValueError, ("requires y",)),
    Case("y-length", lambda c: MIROTransformer(**TINY).fit(c.X, c.y[:-1]), ValueError, ("same length",)),
    Case("y-strings", lambda c: MIROTransformer(**TINY).fit(c.X, c.y.astype(str).astype(object) + "a"),
         ValueError, ("integer",)),
    Case("y-with-none", lambda c: MIROTransformer(**TINY).fit(c.X, np.where(np.arange(len(c.y)) == 5, None, c.y)),
         ValueError, ("None", "position 5")),
    Case("y-fractional", lambda c: MIROTransformer(**TINY).fit(c.X, c.y + 0.5), ValueError, ("integer",)),
    Case("y-all-background", lambda c: MIROTransformer(**TINY).fit(c.X, np.full(len(c.X), -1)),
         ValueError, ("no cluster",)),
    Case("groups-with-none", lambda c: MIROTransformer(**TINY).fit(
        c.X, c.y, groups=np.where(np.arange(len(c.X)) == 7, None, c.fov)), ValueError, ("groups", "None", "position 7")),
    Case("groups-length", lambda c: MIROTransformer(**TINY).fit(c.X, c.y, groups=c.fov[:-1]),
         ValueError, ("groups", "same length")),
    Case("groups-nan", lambda c: c.miro.transform(c.X, groups=np.where(np.arange(len(c.X)) == 2, np.nan, 0.0)),
         ValueError, ("groups", "NaN")),
    Case("labels-zero-is-background", lambda c: MIROTransformer(**TINY).fit(c.X0, np.where(c.y[c.fov == 0] >= 0, c.y[c.fov == 0] + 1, 0)),
         UserWarning, ("label 0", "background", "-1")),
    # ---- training FOVs
    Case("one-point-training-fov", _one_point_fov, ValueError, ("field of view", "1 localisation(s)")),
    Case("zero-area-training-fov", _flat_fov, ValueError, ("field of view", "zero area")),
    Case("radius-far-below-spacing", lambda c: MIROTransformer(**{**TINY, "connectivity_radius": 0.01}).fit(c.X, c.y, groups=c.fov),
         ValueError, ("connectivity_radius", "neighbour")),
    # ---- parameters
    Case("random-state-too-large", lambda c: MIROTransformer(**{**TINY, "random_state": 2**40}).fit(c.X, c.y),
         ValueError, ("random_state", "4294967295")),
    Case("random-state-negative", lambda c: MIROTransformer(**{**TINY, "random_state": -3}).fit(c.X, c.y),
         ValueError, ("random_state",)),
    Case("random-state-string", lambda c: MIROTransformer(**{**TINY, "random_state": "abc"}).fit(c.X, c.y),
         ValueError, ("random_state",)),
    Case("hidden-size-zero", lambda c: MIROTransformer(**{**TINY, "hidden_size": 0}).fit(c.X, c.y),
         ValueError, ("hidden_size",)),
    Case("n-steps-float", lambda c: MIROTransformer(**{**TINY, "n_steps": 1.5}).fit(c.X, c.y),
         ValueError, ("n_steps",)),
    Case("device-unknown", lambda c: MIROTransformer(**{**TINY, "device": "tpu"}).fit(c.X, c.y),
         ValueError, ("device",)),
    Case("step-out-of-range", lambda c: c.miro.transform(c.X0, step=5), ValueError, ("step",)),
    Case("not-fitted", lambda c: MIROTransformer().transform(c.X0), NotFittedError, ("not fitted",)),
    Case("non-miro-transformer", lambda c: MIROClusterer(StandardScaler(), eps=10, min_samples=3).fit(c.X, c.y),
         TypeError, ("MIRO transformer", "StandardScaler")),
    Case("clusterer-without-fit-predict", lambda c: MIROClusterer(FrozenEstimator(c.miro), clusterer=object()).fit(c.X0),
         ValueError, ("fit_predict",)),
    Case("eps-negative", lambda c: MIROClusterer(FrozenEstimator(c.miro), eps=-1.0, min_samples=3).fit(c.X0),
         ValueError, ("eps",)),
    # ---- units: the fitted model knows its training spacing
    Case("units-micrometres", lambda c: c.miro.transform(c.X0 / 1000), UserWarning,
         ("different units", "µm", "1000")),
    Case("units-metres", lambda c: c.miro.transform(c.X0 * 1e-9), UserWarning, ("different units", "1e9")),
    Case("units-picometres", lambda c: c.miro.transform(c.X0 * 1000), UserWarning, ("different units", "divide")),
    Case("units-clusterer-predict", lambda c: c.clusterer.predict(c.X0 / 1000), UserWarning, ("different units",)),
    # ---- files
    Case("read-missing", lambda c: read_localizations(c.dir / "nope.csv"), FileNotFoundError, ("not found",)),
    Case("read-directory", lambda c: read_localizations(c.dir / "a_folder"), ValueError, ("directory",)),
    Case("read-empty", lambda c: read_localizations(c.files["empty.csv"]), ValueError, ("empty",)),
    Case("read-header-only", lambda c: read_localizations(c.files["header_only.csv"]), ValueError, ("no localisations",)),
    Case("read-extra-field-first-row", lambda c: read_localizations(c.files["extra_field_first.csv"]),
         ValueError, ("data row 1", "more fields", "3 column names")),
    Case("read-extra-field-later-row", lambda c: read_localizations(c.files["extra_field_later.csv"]),
         ValueError, ("line 3", "4 fields", "3 column names")),
    Case("read-duplicate-columns", lambda c: read_localizations(c.files["duplicate.csv"]), ValueError, ("duplicate", "'x'")),
    Case("read-json", lambda c: read_localizations(c.files["json.csv"]), ValueError, ("not a localisation table", "JSON")),
    Case("read-binary", lambda c: read_localizations(c.files["binary.csv"]), ValueError, ("not a localisation table", "binary")),
    Case("read-pickled-model", lambda c: read_localizations(c.dir / "model.joblib"), ValueError,
         ("not a localisation table", "joblib")),
    Case("read-miro-model", lambda c: read_localizations(c.model), ValueError, ("not a localisation table", ".miro")),
    Case("read-no-xy", lambda c: read_localizations(c.files["no_xy.csv"]), ValueError, ("no 'x'", "Columns found")),
    Case("read-text-in-x", lambda c: read_localizations(c.files["text_x.csv"]), ValueError, ("'abc'", "row 2")),
    Case("read-nan-x", lambda c: read_localizations(c.files["nan_x.csv"]), ValueError, ("column 'x'", "row 2")),
    Case("read-pixels-without-size", lambda c: read_localizations(c.files["pixels.csv"]), ValueError, ("pixel_size",)),
    Case("read-no-header", lambda c: read_localizations(c.files["no_header.csv"]), ValueError, ("no header",)),
    Case("read-unknown-unit", lambda c: read_localizations(c.csv, coordinate_unit="furlong"), ValueError,
         ("'furlong'", "'nm'", "'um'", "'px'")),
    Case("write-onto-directory", lambda c: write_labels(c.dir / "a_folder", c.X0, np.zeros(len(c.X0), int)),
         IsADirectoryError, ("directory",)),
    Case("write-missing-folder", lambda c: write_labels(c.dir / "no" / "out.csv", c.X0, np.zeros(len(c.X0), int)),
         FileNotFoundError, ("does not exist",)),
    Case("benchmark-missing-folder", lambda c: load_benchmark(c.dir / "nothing"), FileNotFoundError, ("not found",)),
    Case("benchmark-without-metadata", lambda c: load_benchmark(c.dir / "nometa" / "scenario_x"), UserWarning,
         ("first 3 FOV", "training_indices=")),
    Case("benchmark-bad-indices", lambda c: load_benchmark(c.dir / "nometa" / "scenario_x", training_indices=[9]),
         ValueError, ("1-based positions in 1..5",)),
    # ---- model files
    Case("load-model-csv", lambda c: load_model(c.csv), ValueError, ("not a sklearn_miro model", "text file")),
    Case("load-model-pickle", lambda c: load_model(c.dir / "model.joblib"), ValueError, ("pickle", "trust")),
    Case("load-model-missing", lambda c: load_model(c.dir / "nope.miro"), FileNotFoundError, ("not found",)),
    Case("load-model-foreign-class", lambda c: load_model(c.tampered), ValueError, ("posix.system", "refusing")),
    Case("save-model-custom-object", lambda c: save_model(MIROClusterer(clusterer=PCA()), c.dir / "x.miro"),
         TypeError, ("PCA", "cannot store")),
    Case("save-model-onto-directory", lambda c: save_model(c.clusterer, c.dir / "a_folder"), IsADirectoryError, ("directory",)),
]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input(case, ctx):
    if issubclass(case.expected, Warning):
        with pytest.warns(case.expected) as record:
            case.call(ctx)
        messages = " | ".join(str(w.message) for w in record if issubclass(w.category, case.expected))
    else:
        with pytest.raises(case.expected) as info:
            case.call(ctx)
        messages = str(info.value)
    for word in case.words:
        assert word in messages, f"{word!r} not in {messages!r}"


def test_non_numeric_coordinates_are_a_type_and_a_value_error(ctx):
    # TypeError by scikit-learn's convention; ValueError as before, so that
    # callers catching either keep working.
    with pytest.raises(TypeError) as info:
        ctx.miro.transform(ctx.X0.astype(str).astype(object) + "nm")
    assert isinstance(info.value, ValueError)
    assert str(info.value).startswith("X must hold numeric (x, y) coordinates; found non-numeric values")


# ---- the CLI: exit status 2, one line on stderr, never a traceback
CLI_CASES = [
    ("string-labels", lambda c: ("train", c.str_csv, "-o", c.dir / "s.miro", "-q"), ("'spot'", "integers")),
    ("background-abc", lambda c: ("train", c.csv, "--background", "abc", "-o", c.dir / "b.miro"), ("--background", "'abc'")),
    ("train-bad-option", lambda c: ("train", c.csv, "--radius", "-5", "-o", c.dir / "new" / "m.miro"),
     ("'connectivity_radius'", "-5")),
    ("train-radius-isolates-everything", lambda c: ("train", c.csv, "--radius", "0.001", "-o", c.dir / "r.miro"),
     ("connectivity_radius=0.001", "neighbour")),
    ("train-output-is-directory", lambda c: ("train", c.csv, "-o", c.dir / "a_folder"), ("directory",)),
    ("train-output-exists", lambda c: ("train", c.csv, "-o", c.model), ("already exists", "--force")),
    ("train-output-not-creatable", lambda c: ("train", c.csv, "-o", c.csv / "sub" / "m.miro"), ("is a file",)),
    ("train-missing-input", lambda c: ("train", c.dir / "nope.csv", "-o", c.dir / "n.miro"), ("not found",)),
    ("train-model-as-input", lambda c: ("train", c.model, "-o", c.dir / "n.miro"), ("not a localisation table",)),
    ("cluster-swapped-arguments", lambda c: ("cluster", c.csv, c.model), ("text file", "order of the arguments")),
    ("cluster-missing-model", lambda c: ("cluster", c.dir / "nope.miro", c.csv), ("Model file not found",)),
    ("cluster-output-is-directory", lambda c: ("cluster", c.model, c.csv, "-o", c.dir / "a_folder"), ("directory",)),
    ("cluster-output-dir-is-file", lambda c: ("cluster", c.model, c.csv, "--output-dir", c.csv), ("is a file",)),
    ("cluster-input-missing", lambda c: ("cluster", c.model, c.dir / "nope.csv", "-o", c.dir / "o.csv"), ("not found",)),
    ("cluster-foreign-class", lambda c: ("cluster", c.tampered, c.csv, "-o", c.dir / "o.csv"), ("refusing",)),
]


@pytest.mark.parametrize("make_args, words", [c[1:] for c in CLI_CASES], ids=[c[0] for c in CLI_CASES])
def test_cli_bad_input(make_args, words, ctx):
    code, err = _cli(*make_args(ctx))
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "error:" in lines[0] and "Traceback" not in err, err
    for word in words:
        assert word in err, f"{word!r} not in {err!r}"


def test_cli_checks_options_before_creating_folders(ctx, tmp_path):
    code, _ = _cli("train", ctx.csv, "--n-steps", "0", "-o", tmp_path / "new" / "m.miro")
    assert code == 2 and not (tmp_path / "new").exists()


def test_cli_refuses_to_overwrite_outputs_before_clustering(ctx, tmp_path):
    out = tmp_path / "out.csv"
    out.write_text("keep me")
    code, err = _cli("cluster", ctx.model, ctx.csv, "-o", out)
    assert code == 2 and "--force" in err and out.read_text() == "keep me"
    code, _ = _cli("cluster", ctx.model, ctx.csv, "-o", out, "--force")
    assert code == 0
    written = pd.read_csv(out)
    # The file's own columns keep their names and order; the predicted labels
    # are a new column after them.
    assert list(written.columns) == ["x", "y", "index", "cluster"]


def test_cli_joblib_model_is_accepted_with_a_trust_warning(ctx, tmp_path):
    code, err = _cli("cluster", ctx.dir / "model.joblib", ctx.csv, "-o", tmp_path / "o.csv")
    assert code == 0 and "warning:" in err and "arbitrary code" in err


def test_cli_warns_about_units(ctx, tmp_path):
    code, err = _cli("cluster", ctx.model, ctx.um_csv, "-o", tmp_path / "o.csv")
    assert code == 0 and "different units" in err and "1000" in err
    # the units explain the density: stacking is not blamed
    assert "stacked" not in err


def test_cli_debug_shows_the_traceback(ctx):
    with pytest.raises(Exception, match="Model file not found"):
        main(["cluster", "--debug", str(ctx.dir / "nope.miro"), str(ctx.csv)])


def test_cli_train_help_shows_defaults_and_time(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = capsys.readouterr().out
    assert "(default: auto = 64, or 96" in out and "minutes" in out
    # The schedule depends on the start: both values are shown.
    help_text = " ".join(out.split())
    assert "auto = 800 when starting from pretrained weights" in help_text
    assert "--precision" in help_text
    assert "fewer for crops of more than 300 localisations; else 2000" in help_text


# --------------------------------------------------------------------------- correct handling


def test_trailing_delimiters_and_utf16_are_read(tmp_path):
    trailing = tmp_path / "t.csv"
    trailing.write_text("x,y,index\n1,2,3,\n5,6,7,\n")
    df = read_localizations(trailing)
    np.testing.assert_array_equal(df["x"], [1, 5])
    np.testing.assert_array_equal(df["label"], [3, 7])
    for encoding in ("utf-16", "utf-16-le", "utf-32"):
        path = tmp_path / f"{encoding}.csv"
        path.write_text("x,y\n1.5,2.5\n", encoding=encoding)
        np.testing.assert_array_equal(read_localizations(path)[["x", "y"]].to_numpy(), [[1.5, 2.5]])


def test_model_file_round_trip(ctx):
    loaded = load_model(ctx.model)
    np.testing.assert_array_equal(loaded.predict(ctx.X, groups=ctx.fov), ctx.clusterer.predict(ctx.X, groups=ctx.fov))


def test_dataframes_never_warn_about_feature_names(ctx):
    df = pd.DataFrame({"x": ctx.X0[:, 0], "y": ctx.X0[:, 1]})
    labels = ctx.y[ctx.fov == 0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # A tiny fit rightly says it moved nothing; that is not what is tested.
        warnings.simplefilter("ignore", MoveNothingWarning)
        fitted_on_df = MIROTransformer(**TINY).fit(df, labels)
        fitted_on_df.transform(ctx.X0)
        fitted_on_df.transform(df)
        ctx.miro.transform(df)
        MIROClusterer(FrozenEstimator(ctx.miro), eps=10, min_samples=3).fit(df).predict(ctx.X0)


@pytest.mark.parametrize("z_name", ["z", "Z", "z [nm]", "z_nm", "z (nm)", "znm", "z_position"])
def test_a_z_column_is_named_once_at_the_users_line(z_name, ctx):
    df = pd.DataFrame({"x": ctx.X0[:, 0], "y": ctx.X0[:, 1], z_name: np.linspace(-300, 300, len(ctx.X0))})
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        moved = ctx.miro.transform(df)
    z_warnings = [w for w in record if "z coordinate column" in str(w.message)]
    assert len(z_warnings) == 1, [str(w.message) for w in record]
    assert issubclass(z_warnings[0].category, UserWarning) and z_warnings[0].filename == __file__
    assert f"X has a z coordinate column {z_name!r}" in str(z_warnings[0].message)
    np.testing.assert_array_equal(moved, ctx.miro.transform(ctx.X0))  # x and y only, as before


def test_a_z_column_in_a_pipeline_warns_once(ctx):
    from sklearn.cluster import DBSCAN
    from sklearn.pipeline import Pipeline

    df = pd.DataFrame({"x": ctx.X0[:, 0], "y": ctx.X0[:, 1], "z": 0.0})
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        Pipeline([("miro", MIROTransformer.pretrained(verbose=0)), ("dbscan", DBSCAN())]).fit_predict(df)
    assert sum("z coordinate column" in str(w.message) for w in record) == 1
    # predict_table clusters and tabulates: X is read (and named) once.
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        ctx.clusterer.predict_table(df)
    assert sum("z coordinate column" in str(w.message) for w in record) == 1


def test_no_z_warning_without_a_z_column(ctx):
    # Other columns, a z uncertainty, or two columns that are the coordinates: silent.
    frames = [
        pd.DataFrame({"x": ctx.X0[:, 0], "y": ctx.X0[:, 1], "frame": 1, "uncertainty_z": 5.0, "sz": 1.0}),
        pd.DataFrame({"u": ctx.X0[:, 0], "z": ctx.X0[:, 1]}),  # two columns: they are (x, y)
    ]
    for df in frames:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            ctx.miro.transform(df)


def test_a_z_column_read_from_a_file_is_named_in_python_and_on_the_command_line(ctx, tmp_path):
    path = tmp_path / "fov_3d.csv"
    pd.DataFrame({"x [nm]": ctx.X0[:, 0], "y [nm]": ctx.X0[:, 1], "z [nm]": 0.0,
                  "index": np.where(ctx.y[ctx.fov == 0] >= 0, ctx.y[ctx.fov == 0] + 1, 0)}).to_csv(path, index=False)
    df = read_localizations(path)
    assert "z" in df.columns
    with pytest.warns(UserWarning, match="X has a z coordinate column 'z': MIRO clusters in 2-D") as record:
        ctx.clusterer.predict(df)
    assert any(w.filename == __file__ for w in record if "z coordinate" in str(w.message))
    code, err = _cli("cluster", ctx.model, path, "-o", tmp_path / "out.csv")
    assert code == 0, err
    assert f"warning: {path} has a z coordinate column 'z [nm]': MIRO clusters in 2-D" in err
    assert err.count("z coordinate column") == 1
    code, err = _cli("cluster", "--pretrained", "nanoclusters", path, "-o", tmp_path / "zero_shot.csv", "-q")
    assert code == 0 and err.count("z coordinate column 'z [nm]'") == 1, err
    code, err = _cli("train", path, "-o", tmp_path / "m.miro", "-q", "--hidden-size", "8", "--n-steps", "2",
                     "--n-augmented", "2", "--max-epochs", "1")
    assert code == 0 and err.count("z coordinate column 'z [nm]'") == 1, err


def test_set_params_after_fit_does_not_change_inference(ctx):
    miro = MIROTransformer(**TINY).fit(ctx.X0, ctx.y[ctx.fov == 0])
    before = miro.transform(ctx.X0)
    miro.set_params(n_steps=10)
    np.testing.assert_array_equal(miro.transform(ctx.X0), before)


def test_units_are_not_blamed_on_stacking(ctx):
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        ctx.miro.transform(ctx.X0 / 1000)
    messages = [str(w.message) for w in record]
    assert any("different units" in m for m in messages)
    assert not any("stacked" in m for m in messages)


def test_stacked_fovs_still_warn(ctx):
    stacked = np.vstack([ctx.X[ctx.fov == k] for k in (0, 1)] * 2)
    with pytest.warns(UserWarning, match="groups="):
        ctx.miro.transform(stacked)


# --------------------------------------------------------------------------- properties

OFFSETS = st.tuples(
    st.floats(-1e9, 1e9, allow_nan=False), st.floats(-1e9, 1e9, allow_nan=False)
)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(offset=OFFSETS, seed=st.integers(0, 2**16))
def test_graph_is_translation_invariant_at_large_offsets(offset, seed):
    X = np.random.default_rng(seed).uniform(0, 2000, (300, 2))
    base, shifted = build_graph(X, 150.0), build_graph(X + np.array(offset), 150.0)
    np.testing.assert_array_equal(shifted.edge_index, base.edge_index)
    np.testing.assert_allclose(shifted.edge_attr, base.edge_attr, atol=1e-5)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(offset=OFFSETS)
def test_transform_and_labels_are_translation_equivariant_at_large_offsets(offset, ctx):
    offset = np.array(offset)
    moved = ctx.miro.transform(ctx.X0 + offset)
    np.testing.assert_allclose(moved - offset, ctx.miro.transform(ctx.X0), rtol=0, atol=1e-3)
    np.testing.assert_array_equal(ctx.clusterer.predict(ctx.X0 + offset), ctx.clusterer.predict(ctx.X0))


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(exponent=st.floats(-10, 10).filter(lambda e: abs(e) > 1.1))
def test_unit_mismatch_warns(exponent, ctx):
    with pytest.warns(UserWarning, match="different units"):
        ctx.miro.transform(ctx.X0 * 10.0**exponent)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(scale=st.floats(0.5, 2.0))
def test_same_units_do_not_warn(scale, ctx):
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        ctx.miro.transform(ctx.X0 * scale)
    assert not any("different units" in str(w.message) for w in record)


@pytest.fixture(scope="module", params=["minmax", "reference"])
def normalised(request, ctx):
    """A tiny model that scales every FOV to [0, 1] before its graph, and its clusterer."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MoveNothingWarning)
        miro = MIROTransformer(**{**TINY, "n_augmented": 4}, fov_normalization=request.param).fit(
            ctx.X, ctx.y, groups=ctx.fov)
        clusterer = MIROClusterer(FrozenEstimator(miro), eps=30.0, min_samples=3).fit(ctx.X, ctx.y, groups=ctx.fov)
    return miro, clusterer


def test_a_normalised_model_sees_a_change_of_units(normalised, ctx):
    # Normalised coordinates are the same in nm and in µm: the network's output follows
    # the units, but the clusterer's eps (30 nm) would swallow a µm FOV whole.
    miro, clusterer = normalised
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        np.testing.assert_allclose(miro.transform(ctx.X0 / 1000), miro.transform(ctx.X0) / 1000, rtol=1e-6)
    for call in (lambda: miro.transform(ctx.X0 / 1000), lambda: clusterer.predict(ctx.X0 / 1000)):
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            call()
        messages = [str(w.message) for w in record]
        assert any("different units" in m and "µm" in m for m in messages), messages
        assert not any("times the localisation density" in m for m in messages), messages  # not "stacked FOVs"
        assert all(w.filename == __file__ for w in record)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        miro.transform(ctx.X0)
        clusterer.predict(ctx.X0)


def test_a_normalised_model_tells_a_larger_field_from_other_units(normalised, ctx):
    # 12 x 12 copies of a training FOV side by side: the same units and density, but
    # 12 times the side, so 12 times the spacing the network sees after scaling to [0, 1].
    miro, _ = normalised
    side = np.ptp(ctx.X0, axis=0).max() + 1.0
    field = np.concatenate([ctx.X0 + side * np.array([i, j]) for i in range(12) for j in range(12)])
    with pytest.warns(UserWarning, match="localisations per side than the training FOVs") as record:
        miro.transform(field, groups=np.zeros(len(field)))
    assert not any("different units" in str(w.message) for w in record)
