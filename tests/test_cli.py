"""The sklearn-miro command line, on tiny data and tiny models."""

import argparse
import warnings
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest

from sklearn_miro.cli import CommandError, main
from sklearn_miro.io import ShadowedLabelsWarning
from sklearn_miro.datasets import make_gaussian_clusters

TINY = ["--hidden-size", "8", "--n-steps", "2", "--max-epochs", "1", "--n-augmented", "4", "-q"]


@pytest.fixture(scope="module")
def labelled_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fovs")
    X, y, fov = make_gaussian_clusters(
        n_fovs=2, n_clusters=4, n_localizations=15, fov_size=500, random_state=0
    )
    paths = []
    for k in range(2):
        # The benchmark's layout: 0 = background, ids restart in every file.
        labels = y[fov == k]
        labels = np.where(labels >= 0, labels - labels[labels >= 0].min() + 1, 0)
        path = folder / f"fov_{k}.csv"
        pd.DataFrame({"x": X[fov == k, 0], "y": X[fov == k, 1], "index": labels}).to_csv(
            path, index=False
        )
        paths.append(path)
    return paths


@pytest.fixture(scope="module")
def model_path(labelled_files, tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "model.joblib"
    assert main(["train", *map(str, labelled_files), "-o", str(path), *TINY]) == 0
    return path


def test_train_writes_a_fitted_clusterer(model_path, capsys):
    model = joblib.load(model_path)
    assert model.labels_.shape[0] > 0
    assert model.eps_ > 0 and model.min_samples_ >= 2


def test_train_passes_the_training_precision(labelled_files, tmp_path):
    out = tmp_path / "m.joblib"
    assert main(["train", *map(str, labelled_files), "-o", str(out), *TINY, "--precision", "float32"]) == 0
    assert joblib.load(out).transformer_.training_precision_ == "float32"
    with pytest.raises(SystemExit):  # argparse: not one of the choices
        main(["train", *map(str, labelled_files), "-o", str(out), *TINY, "--precision", "half"])


def test_train_passes_compile(labelled_files, tmp_path, monkeypatch):
    import torch

    calls = []
    # A stand-in compiler that returns the network itself: the option reaches training.
    monkeypatch.setattr(torch, "compile", lambda module, **kwargs: calls.append(kwargs) or module)
    out = tmp_path / "m.joblib"
    assert main(["train", *map(str, labelled_files), "-o", str(out), *TINY, "--compile", "yes"]) == 0
    assert joblib.load(out).transformer_.training_compiled_ and calls == [{"dynamic": True}]
    out = tmp_path / "m2.joblib"
    assert main(["train", *map(str, labelled_files), "-o", str(out), *TINY, "--compile", "no"]) == 0
    assert not joblib.load(out).transformer_.training_compiled_ and len(calls) == 1
    with pytest.raises(SystemExit):  # argparse: not one of the choices
        main(["train", *map(str, labelled_files), "-o", str(out), *TINY, "--compile", "maybe"])


def test_train_reports_the_background_label(labelled_files, tmp_path, capsys):
    out = tmp_path / "m.joblib"
    main(["train", *map(str, labelled_files), "-o", str(out), *TINY])
    printed = capsys.readouterr().out
    assert "Treating label 0 as background" in printed
    # The choices made on the training FOVs are reported, border points included.
    rule = ("border points left as background (DBSCAN*)" if joblib.load(out).border_points_ == "background"
            else "border points in their clusters (DBSCAN)")
    assert rule in printed
    # ... and whether the clusters are trimmed.
    radius = joblib.load(out).outlier_radius_
    assert ("clusters not trimmed" if radius is None
            else f"localisations beyond {radius:g} Mahalanobis radii of their cluster left as background") in printed


def test_cluster_writes_a_cluster_column(model_path, labelled_files, tmp_path):
    out = tmp_path / "clusters.csv"
    with warnings.catch_warnings():
        # The input's "index" would be read first by read_localizations; the
        # CLI (whose stats reads "cluster") keeps that Python advice to itself.
        warnings.simplefilter("error", ShadowedLabelsWarning)
        assert main(["cluster", str(model_path), str(labelled_files[0]), "-o", str(out)]) == 0
    df = pd.read_csv(out)
    # the input's own columns, untouched, then the labels
    original = pd.read_csv(labelled_files[0])
    assert list(df.columns) == ["x", "y", "index", "cluster"]
    pd.testing.assert_frame_equal(df[original.columns], original)
    assert df["cluster"].min() >= -1
    # and the per-cluster table of the new labels
    table = pd.read_csv(tmp_path / "clusters_table.csv")
    assert len(table) == len(np.unique(df["cluster"][df["cluster"] >= 0]))
    assert table["n_localizations"].sum() == (df["cluster"] >= 0).sum()


def test_cluster_runs_a_model_trained_on_a_gpu_where_device_says(model_path, labelled_files, tmp_path):
    # A model trained with 'train --device cuda' keeps device="cuda"; clustering
    # with it on a machine without CUDA follows --device (default auto).
    model = joblib.load(model_path)
    model.transformer_.set_params(device="cuda")
    gpu_model = tmp_path / "gpu_model.joblib"
    joblib.dump(model, gpu_model)
    reference = tmp_path / "reference.csv"
    assert main(["cluster", str(model_path), str(labelled_files[0]), "-o", str(reference), "-q",
                 "--device", "cpu"]) == 0
    out = tmp_path / "clusters.csv"
    assert main(["cluster", str(gpu_model), str(labelled_files[0]), "-o", str(out), "-q", "--device", "cpu"]) == 0
    np.testing.assert_array_equal(pd.read_csv(out)["cluster"], pd.read_csv(reference)["cluster"])
    # The default, --device auto, runs wherever torch can (CUDA if present, else the CPU).
    assert main(["cluster", str(gpu_model), str(labelled_files[0]), "-o", str(tmp_path / "auto.csv"), "-q"]) == 0
    assert len(pd.read_csv(tmp_path / "auto.csv")) == len(pd.read_csv(reference))


def test_cluster_several_files_into_a_folder(model_path, labelled_files, tmp_path):
    assert main(["cluster", str(model_path), *map(str, labelled_files),
                 "--output-dir", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.glob("*_clusters.csv")) == [
        "fov_0_clusters.csv", "fov_1_clusters.csv"]
    assert sorted(p.name for p in tmp_path.glob("*_clusters_table.csv")) == [
        "fov_0_clusters_table.csv", "fov_1_clusters_table.csv"]


def test_stats_writes_table_and_summary(labelled_files, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    png = tmp_path / "hist.png"
    assert main(["stats", *map(str, labelled_files), "--output-dir", str(tmp_path),
                 "--histogram", str(png), "--area", "bbox"]) == 0
    out = capsys.readouterr().out
    assert "Treating label 0 as background" in out
    table = pd.read_csv(tmp_path / "fov_0_cluster_table.csv")
    summary = pd.read_csv(tmp_path / "fov_0_fov_summary.csv")
    assert summary["fov"].tolist() == ["fov_0", "fov_1"]
    for k, path in enumerate(labelled_files):
        original = pd.read_csv(path)
        rows = table[table.fov == f"fov_{k}"]
        counts = original["index"][original["index"] > 0].value_counts().sort_index()
        np.testing.assert_array_equal(rows["label"], counts.index)
        np.testing.assert_array_equal(rows["n_localizations"], counts.to_numpy())
        assert summary["n_clusters"][k] == len(counts)
    assert png.stat().st_size > 0


def test_stats_errors(labelled_files, tmp_path, capsys):
    assert main(["stats", str(labelled_files[0]), "--label-column", "cluster_id"]) == 2
    assert "no label column 'cluster_id'" in capsys.readouterr().err
    bad = tmp_path / "bad.csv"
    bad.write_text("x,y,cluster\n1,2,a\n")
    assert main(["stats", str(bad)]) == 2
    assert "cluster ids must be integers" in capsys.readouterr().err


def test_errors_are_one_line_messages(model_path, labelled_files, tmp_path, capsys):
    assert main(["cluster", str(tmp_path / "nope.joblib"), str(labelled_files[0])]) == 2
    assert "Model file not found" in capsys.readouterr().err
    assert main(["train", str(labelled_files[0]), "--label-column", "cluster_id", *TINY]) == 2
    assert "no label column 'cluster_id'" in capsys.readouterr().err
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    assert main(["cluster", str(model_path), str(bad)]) == 2
    assert "error" in capsys.readouterr().err
    not_a_model = tmp_path / "x.joblib"
    joblib.dump({"a": 1}, not_a_model)
    assert main(["cluster", str(not_a_model), str(labelled_files[0])]) == 2
    assert "not a MIROClusterer" in capsys.readouterr().err


def test_demo_runs_and_saves_a_png(tmp_path, capsys):
    code = main(["demo", "--output-dir", str(tmp_path), "--max-epochs", "1",
                 "--n-augmented", "16"])
    assert code == 0
    out = capsys.readouterr().out
    assert "MIRO + DBSCAN" in out and "ARI-dagger" in out
    assert (tmp_path / "sklearn_miro_demo.png").stat().st_size > 10_000
    # A second run keeps the first figure unless --force, and says so before training.
    assert main(["demo", "--output-dir", str(tmp_path), "--max-epochs", "1", "--n-augmented", "16"]) == 2
    assert "already exists; pass --force" in capsys.readouterr().err


def test_train_says_how_many_recurrent_steps_and_why(tmp_path, capsys):
    # Rings fine-tuned from the pretrained model: the default --n-steps auto
    # goes to 25 steps, and the summary line says so and why.
    from sklearn_miro.datasets import make_rings

    X, y, _ = make_rings(1, n_clusters=(8, 8), radius=150.0, radial_std=20.0, fov_size=2000.0,
                         random_state=0)
    path = tmp_path / "rings.csv"
    pd.DataFrame({"x": X[:, 0], "y": X[:, 1], "index": np.where(y >= 0, y + 1, 0)}).to_csv(path, index=False)
    assert main(["train", str(path), "-o", str(tmp_path / "m.miro"), "--max-epochs", "1",
                 "--n-augmented", "2", "-q"]) == 0
    out = capsys.readouterr().out
    assert "25 recurrent steps: hollow clusters, 0% of their localisations near their centres" in out
    assert "trained from the pretrained model 'nanoclusters' in" in out
    assert main(["train", str(path), "-o", str(tmp_path / "m15.miro"), "--max-epochs", "1",
                 "--n-augmented", "2", "--n-steps", "15", "-q"]) == 0
    assert "15 recurrent steps;" in capsys.readouterr().out
    with pytest.raises(SystemExit):  # argparse
        main(["train", str(path), "-o", str(tmp_path / "bad.miro"), "--n-steps", "deep"])
    assert "--n-steps: expected 'auto' or an integer; got 'deep'" in capsys.readouterr().err


def test_stats_keeps_files_of_the_same_name_apart(labelled_files, tmp_path, capsys):
    # day1/cell.csv and day2/cell.csv are two FOVs, not one.
    copies = []
    for day, source in zip(("day1", "day2"), labelled_files):
        (tmp_path / day).mkdir()
        copies.append(tmp_path / day / "cell.csv")
        copies[-1].write_text(source.read_text())
    assert main(["stats", *map(str, copies), "--output-dir", str(tmp_path / "out")]) == 0
    summary = pd.read_csv(tmp_path / "out" / "cell_fov_summary.csv")
    assert summary["fov"].tolist() == [str(copies[0].with_suffix("")), str(copies[1].with_suffix(""))]
    for k, source in enumerate(labelled_files):
        index = pd.read_csv(source)["index"]
        assert summary["n_clusters"][k] == index[index > 0].nunique()
    # every output is checked before any work, and kept unless --force
    assert main(["stats", *map(str, copies), "--output-dir", str(tmp_path / "out")]) == 2
    assert "pass --force" in capsys.readouterr().err
    assert main(["stats", *map(str, copies), "--output-dir", str(tmp_path / "out"), "-f"]) == 0
    # the same name with another suffix in one folder: two FOVs, named with their suffix
    other = copies[0].with_suffix(".tsv")
    pd.read_csv(copies[0]).to_csv(other, sep="\t", index=False)
    assert main(["stats", str(copies[0]), str(other), "--output-dir", str(tmp_path / "out2")]) == 0
    summary = pd.read_csv(tmp_path / "out2" / "cell_fov_summary.csv")
    assert summary["fov"].tolist() == [str(copies[0]), str(other)]
    assert main(["stats", str(copies[0]), str(copies[0]), "--output-dir", str(tmp_path / "o3")]) == 2
    assert "given twice" in capsys.readouterr().err


def test_stats_after_cluster_reads_the_new_column(model_path, labelled_files, tmp_path, capsys):
    # The benchmark file keeps its "index" column and gains "cluster":
    # stats must report MIRO's clusters, not the ground truth's.
    out = tmp_path / "clustered.csv"
    assert main(["cluster", str(model_path), str(labelled_files[0]), "-o", str(out)]) == 0
    capsys.readouterr()
    assert main(["stats", str(out), "--output-dir", str(tmp_path)]) == 0
    assert "column 'cluster'" in capsys.readouterr().out
    table = pd.read_csv(tmp_path / "clustered_cluster_table.csv")
    written = pd.read_csv(out)["cluster"]
    counts = written[written >= 0].value_counts().sort_index()
    np.testing.assert_array_equal(table["label"], counts.index)
    np.testing.assert_array_equal(table["n_localizations"], counts.to_numpy())
    # two label-like columns, neither written by `cluster`: ambiguous
    both = tmp_path / "both.csv"
    frame = pd.read_csv(labelled_files[0])
    frame.assign(group=frame["index"] % 2).to_csv(both, index=False)
    assert main(["stats", str(both), "--output-dir", str(tmp_path)]) == 2
    assert "several label columns (['index', 'group'])" in capsys.readouterr().err
    assert main(["stats", str(both), "--output-dir", str(tmp_path), "--label-column", "group"]) == 0


def test_pixel_coordinates_on_the_command_line(model_path, labelled_files, tmp_path, capsys):
    frame = pd.read_csv(labelled_files[0])
    pixels = tmp_path / "px.csv"
    pd.DataFrame({"x [px]": frame["x"] / 100, "y [px]": frame["y"] / 100, "index": frame["index"]}).to_csv(
        pixels, index=False)
    assert main(["stats", str(pixels), "--output-dir", str(tmp_path)]) == 2
    assert "pass --pixel-size (nm per pixel)" in capsys.readouterr().err
    assert main(["stats", str(pixels), "--output-dir", str(tmp_path), "--pixel-size", "100"]) == 0
    nm = pd.read_csv(tmp_path / "px_cluster_table.csv")
    assert main(["stats", str(labelled_files[0]), "--output-dir", str(tmp_path)]) == 0
    reference = pd.read_csv(tmp_path / "fov_0_cluster_table.csv")
    np.testing.assert_allclose(nm["radius_of_gyration"], reference["radius_of_gyration"], rtol=1e-9)
    assert main(["cluster", str(model_path), str(pixels), "--pixel-size", "100", "-o",
                 str(tmp_path / "px_clusters.csv")]) == 0
    unitless = tmp_path / "unitless.csv"
    pd.DataFrame({"x": frame["x"] / 100, "y": frame["y"] / 100}).to_csv(unitless, index=False)
    assert main(["cluster", str(model_path), str(unitless), "--coordinate-unit", "px",
                 "--pixel-size", "100", "-o", str(tmp_path / "u.csv")]) == 0
    np.testing.assert_array_equal(pd.read_csv(tmp_path / "u.csv")["cluster"],
                                  pd.read_csv(tmp_path / "px_clusters.csv")["cluster"])


def test_cluster_refuses_a_label_name_the_input_has_in_another_case(model_path, labelled_files, tmp_path, capsys):
    frame = pd.read_csv(labelled_files[0])
    source = tmp_path / "upper.csv"
    frame.rename(columns={"index": "Cluster"}).to_csv(source, index=False)
    assert main(["cluster", str(model_path), str(source), "-o", str(tmp_path / "o.csv")]) == 2
    err = capsys.readouterr().err
    assert "already has a column named 'Cluster'; pass --label-name" in err
    assert not (tmp_path / "o.csv").exists()


def test_stats_keeps_picasso_group_zero(tmp_path, capsys):
    # Picasso's clustered files keep only clustered localisations, numbered from
    # group 0: "auto" used to take 0 for background and drop a real cluster.
    rng = np.random.default_rng(0)
    centres = np.repeat([[100.0, 100.0], [600.0, 600.0], [1100.0, 200.0]], 20, axis=0)
    path = tmp_path / "picasso_like.csv"
    pd.DataFrame({"x": centres[:, 0] + rng.normal(0, 10, 60), "y": centres[:, 1] + rng.normal(0, 10, 60),
                  "group": np.repeat([0, 1, 2], 20)}).to_csv(path, index=False)
    assert main(["stats", str(path), "--output-dir", str(tmp_path / "st")]) == 0
    out = capsys.readouterr().out
    assert "every localisation is in a cluster" in out and "3 clusters" in out
    assert main(["stats", str(path), "--output-dir", str(tmp_path / "st0"), "--background", "0"]) == 0
    assert "2 clusters" in capsys.readouterr().out


def test_library_advice_is_given_in_command_line_flags(capsys):
    # Warnings raised by the library name Python keywords; on the command line
    # they name the flags instead (and drop advice no flag can follow).
    import warnings

    from sklearn_miro.cli import _show_warning
    from sklearn_miro.diagnostics import MoveNothingWarning, check_move_nothing

    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        check_move_nothing(0.99, 0.6)
    _show_warning(record[0].message, MoveNothingWarning, "", 0)
    err = capsys.readouterr().err
    assert "--init nanoclusters" in err and "--n-augmented or --max-epochs" in err
    assert "init='" not in err and "batch_size" not in err and "length_scale" not in err


def test_train_reads_a_fov_column_like_cluster_and_stats(labelled_files, tmp_path, capsys):
    # Both labelled FOVs in one file with a 'fov' column (ids restart per FOV): trained as two
    # FOVs, the same as from two files, not as one FOV whose clusters of equal ids merge.
    frames = [pd.read_csv(p).assign(fov=k) for k, p in enumerate(labelled_files)]
    together = tmp_path / "both.csv"
    pd.concat(frames).to_csv(together, index=False)
    one, two = tmp_path / "one.miro", tmp_path / "two.miro"
    assert main(["train", str(together), "-o", str(one), *TINY]) == 0
    out = capsys.readouterr().out
    assert "2 fields of view, from the column 'fov'" in out and "2 FOV(s)" in out
    assert main(["train", *map(str, labelled_files), "-o", str(two), *TINY]) == 0
    from sklearn_miro import load_model

    a, b = load_model(one), load_model(two)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    # A 'fov' column with a missing value is not read as FOV ids, and that is said.
    frames[1].loc[frames[1].index[0], "fov"] = np.nan
    pd.concat(frames).to_csv(together, index=False)
    assert main(["stats", str(together), "--output-dir", str(tmp_path), "--force"]) == 0
    assert "has missing values, so it is not read as FOV ids" in capsys.readouterr().out


def test_stats_shows_the_first_and_last_fovs_of_many(tmp_path, capsys):
    # 30 FOVs in one file: the terminal gets 20 rows (in the ids' numeric order,
    # not as text: many:2 before many:10) and an elision line, the summary file all 30.
    X, y, fov = make_gaussian_clusters(n_fovs=30, n_clusters=2, n_localizations=10, n_background=10,
                                       fov_size=500.0, random_state=0)
    path = tmp_path / "many.csv"
    pd.DataFrame({"x": X[:, 0], "y": X[:, 1], "cluster": y, "fov": fov}).to_csv(path, index=False)
    assert main(["stats", str(path), "--output-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "... 10 more FOVs (all 30 in" in out
    shown = [line for line in out.splitlines() if line.strip().startswith("many:")]
    assert len(shown) == 20 and shown[0].split()[0] == "many:0" and shown[-1].split()[0] == "many:29"
    summary = pd.read_csv(tmp_path / "many_fov_summary.csv")
    assert summary["fov"].tolist() == [f"many:{k}" for k in range(30)]


def test_stats_decides_the_background_file_by_file(tmp_path, capsys):
    # a.csv marks background with -1, b.csv with 0: b's background must not become a cluster.
    square = np.array([[0, 0], [10, 0], [0, 10], [10, 10.0]])
    a = pd.DataFrame({"x": np.r_[square[:, 0], 500, 900], "y": np.r_[square[:, 1], 700, 100],
                      "cluster": [1, 1, 1, 1, -1, -1]})
    b = pd.DataFrame({"x": np.r_[square[:, 0] + 50, 400, 800, 100], "y": np.r_[square[:, 1], 900, 50, 600],
                      "cluster": [1, 1, 1, 1, 0, 0, 0]})
    a.to_csv(tmp_path / "a.csv", index=False)
    b.to_csv(tmp_path / "b.csv", index=False)
    assert main(["stats", str(tmp_path / "a.csv"), str(tmp_path / "b.csv"), "--output-dir", str(tmp_path)]) == 0
    assert "Treating label 0 as background in 1 file(s) without -1" in capsys.readouterr().out
    summary = pd.read_csv(tmp_path / "a_fov_summary.csv").set_index("fov")
    assert summary.loc["b", "n_clusters"] == 1
    assert summary.loc["b", "fraction_clustered"] == pytest.approx(4 / 7)
    assert summary.loc["a", "n_clusters"] == 1


# ------------------------------------------------- cluster: one file at a time


def _record_cli_io(monkeypatch, model_class):
    """Record the reader's calls, clustering and writing, with the tables alive at each."""
    import gc
    import weakref

    import sklearn_miro.io as sio

    events, tables = [], []
    read, write = sio.read_localizations, sio.write_labels_as_source

    def live():
        gc.collect()
        return sum(ref() is not None for ref in tables)

    def reading(path, **kwargs):
        df = read(path, **kwargs)
        tables.append(weakref.ref(df))
        events.append(("read", Path(path).name))
        return df

    def writing(target, source, *args, **kwargs):
        events.append(("write", Path(source).name, live()))
        return write(target, source, *args, **kwargs)

    def clustering(method):
        def run(self, X, *args, **kwargs):
            events.append(("cluster", len(X), live()))
            return method(self, X, *args, **kwargs)

        return run

    monkeypatch.setattr(sio, "read_localizations", reading)
    monkeypatch.setattr(sio, "write_labels_as_source", writing)
    for name in ("predict", "fit_predict"):
        monkeypatch.setattr(model_class, name, clustering(getattr(model_class, name)))
    return events


def _assert_streamed(events, files):
    """One checking read per file, then read, cluster, write file by file, at most
    the current file's table alive (the count is the last item of an event)."""
    names = [p.name for p in files]
    sizes = [len(pd.read_csv(p)) for p in files]
    assert [event[:2] for event in events] == [("read", name) for name in names] + [
        event for name, n in zip(names, sizes) for event in (("read", name), ("cluster", n), ("write", name))
    ]  # fmt: skip
    assert all(event[-1] <= 1 for event in events if event[0] != "read")


@pytest.fixture(scope="module")
def three_files(labelled_files, tmp_path_factory):
    folder = tmp_path_factory.mktemp("three")
    paths = []
    for k, source in enumerate([*labelled_files, labelled_files[0]]):
        # Different sizes, so that the events say which file is clustered.
        df = pd.read_csv(source).iloc[: 60 - 10 * k]
        paths.append(folder / f"part_{k}.csv")
        df.to_csv(paths[-1], index=False)
    return paths


def test_cluster_checks_every_file_then_streams_them(model_path, three_files, tmp_path, monkeypatch):
    # Memory must not grow with the number of files (users pass hundreds):
    # every file is read once to check it before any clustering (a bad file
    # fails before any work), then read, clustered and written one at a time,
    # no earlier table alive when the next is clustered.
    events = _record_cli_io(monkeypatch, type(joblib.load(model_path)))
    assert main(["cluster", str(model_path), *map(str, three_files), "--output-dir", str(tmp_path), "-q"]) == 0
    _assert_streamed(events, three_files)


def test_cluster_outputs_do_not_depend_on_the_other_files(model_path, three_files, tmp_path, capsys):
    together, alone = tmp_path / "together", tmp_path / "alone"
    assert main(["cluster", str(model_path), *map(str, three_files), "--output-dir", str(together)]) == 0
    printed = capsys.readouterr().out.splitlines()
    lines = []
    for path in three_files:
        assert main(["cluster", str(model_path), str(path), "--output-dir", str(alone)]) == 0
        lines += capsys.readouterr().out.splitlines()
    assert printed == [line.replace(str(alone), str(together)) for line in lines]
    written = sorted(p.name for p in together.iterdir())
    assert len(written) == 2 * len(three_files) and written == sorted(p.name for p in alone.iterdir())
    for name in written:
        assert (together / name).read_bytes() == (alone / name).read_bytes(), name


def test_cluster_writes_nothing_when_a_later_file_is_bad(model_path, three_files, tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("x,y\n1,2\n3,abc\n")
    out = tmp_path / "out"
    assert main(["cluster", str(model_path), *map(str, three_files[:2]), str(bad), "--output-dir", str(out)]) == 2
    assert "column 'y' has the non-numeric value 'abc'" in capsys.readouterr().err
    assert not any(out.glob("*_clusters*"))
    # The same for a label-column clash in the last file.
    clash = tmp_path / "clash.csv"
    pd.read_csv(three_files[0]).assign(cluster=0).to_csv(clash, index=False)
    assert main(["cluster", str(model_path), str(three_files[0]), str(clash), "--output-dir", str(out)]) == 2
    assert "already has a column named 'cluster'" in capsys.readouterr().err
    assert not any(out.glob("*_clusters*"))


def test_zero_shot_fits_file_by_file_and_streams(three_files, tmp_path, monkeypatch, capsys):
    # --pretrained fits every file on its own (its own cluster radius, eps and
    # min_samples): streamed like a saved model, each file's output that of
    # the file alone.
    from sklearn_miro.estimators import MIROClusterer

    together, alone = tmp_path / "together", tmp_path / "alone"
    files = three_files[:2]
    assert main(["cluster", "--pretrained", "nanoclusters", *map(str, files), "--output-dir", str(alone), "-q"]) == 0
    for path in files:  # also file by file: the outputs must be the same
        assert main(["cluster", "--pretrained", "nanoclusters", str(path), "--output-dir", str(together),
                     "-q"]) == 0
    capsys.readouterr()
    for name in sorted(p.name for p in alone.iterdir()):
        assert (together / name).read_bytes() == (alone / name).read_bytes(), name
    events = _record_cli_io(monkeypatch, MIROClusterer)
    assert main(["cluster", "--pretrained", "nanoclusters", *map(str, files), "--output-dir",
                 str(tmp_path / "again"), "-q"]) == 0
    _assert_streamed(events, files)


def test_train_numbers_fovs_file_by_file_as_text(tmp_path):
    # FOV ids are numbered per file in order of appearance, compared as text
    # (as the one string per localisation they replaced did: 0.0 and -0.0 are
    # two FOVs, 2 and 2.0 in a float column one), files never sharing a number.
    from sklearn_miro.cli import _read_labelled

    rng = np.random.default_rng(0)
    specs = [[0.0, -0.0, 0.0, 2.0, 2], ["b", "a", "b", "c", "a"], None]
    paths = []
    for k, fov in enumerate(specs):
        df = pd.DataFrame({"x": rng.uniform(0, 100, 5), "y": rng.uniform(0, 100, 5), "index": [0, 1, 1, 2, 0]})
        if fov is not None:
            df["fov"] = fov
        paths.append(tmp_path / f"f{k}.csv")
        df.to_csv(paths[-1], index=False)
    args = argparse.Namespace(pixel_size=None, coordinate_unit=None, fov_column="fov")
    with pytest.raises(CommandError, match="no FOV column 'fov'"):
        _read_labelled(paths, None, "auto", args)
    args.fov_column = None
    _, labels, groups = _read_labelled(paths, None, "auto", args)
    assert groups.dtype == np.intp
    assert groups.tolist() == [0, 1, 0, 2, 2, 3, 4, 3, 5, 4, 6, 6, 6, 6, 6]
    assert labels.tolist()[:5] == [-1, 1 + 1 * 3, 1 + 0 * 3, 2 + 2 * 3, -1]  # ids + FOV x (max id + 1)


# ------------------------------------------------- review: FOV names, check order, CLI wording


def test_cluster_tables_name_fovs_as_stats_does(model_path, labelled_files, tmp_path, capsys):
    # Tables of several `cluster` runs are concatenated: every cluster's fov must say
    # which file (and which FOV of a file with a FOV column) it is from, as in stats'
    # table, not 0 for every file.
    for path in labelled_files:  # one run per file
        assert main(["cluster", str(model_path), str(path), "--output-dir", str(tmp_path / "c"), "-q"]) == 0
    tables = pd.concat([pd.read_csv(tmp_path / "c" / f"{p.stem}_clusters_table.csv") for p in labelled_files])
    assert tables["fov"].unique().tolist() == ["fov_0", "fov_1"]
    assert main(["stats", *map(str, labelled_files), "--output-dir", str(tmp_path / "s")]) == 0
    stats_names = pd.read_csv(tmp_path / "s" / "fov_0_cluster_table.csv")["fov"].unique().tolist()
    assert stats_names == ["fov_0", "fov_1"]
    # A file holding both FOVs (a FOV column): "name:id", as stats names them, with a
    # saved model and zero-shot (whose table comes from the fit).
    frames = [pd.read_csv(p).assign(field=k + 1) for k, p in enumerate(labelled_files)]
    both = tmp_path / "both.csv"
    pd.concat(frames).to_csv(both, index=False)
    assert main(["stats", str(both), "--fov-column", "field", "--output-dir", str(tmp_path / "s")]) == 0
    expected = pd.read_csv(tmp_path / "s" / "both_cluster_table.csv")["fov"].unique().tolist()
    assert expected == ["both:1", "both:2"]
    assert main(["cluster", str(model_path), str(both), "--fov-column", "field", "-o",
                 str(tmp_path / "m.csv"), "-q"]) == 0
    assert pd.read_csv(tmp_path / "m_table.csv")["fov"].unique().tolist() == expected
    assert main(["cluster", "--pretrained", "nanoclusters", str(both), "--fov-column", "field", "-o",
                 str(tmp_path / "z.csv"), "-q"]) == 0
    assert set(pd.read_csv(tmp_path / "z_table.csv")["fov"]) <= set(expected)
    # The labelled copy keeps the input's own FOV column as it is.
    assert pd.read_csv(tmp_path / "m.csv")["field"].tolist() == pd.read_csv(both)["field"].tolist()


def test_input_errors_come_before_existing_outputs(model_path, labelled_files, tmp_path, capsys):
    # stats: the outputs exist, the label column does not: the column is the error.
    out = tmp_path / "s"
    assert main(["stats", str(labelled_files[0]), "--output-dir", str(out)]) == 0
    before = (out / "fov_0_cluster_table.csv").read_bytes()
    capsys.readouterr()
    assert main(["stats", str(labelled_files[0]), "--output-dir", str(out), "--label-column", "foo"]) == 2
    err = capsys.readouterr().err
    assert "no label column 'foo'" in err and "already exists" not in err
    assert (out / "fov_0_cluster_table.csv").read_bytes() == before
    # ... and the outputs are still checked before any work
    assert main(["stats", str(labelled_files[0]), "--output-dir", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err
    # cluster: the first file's outputs exist; a later file is bad, or lacks --fov-column.
    c = tmp_path / "c"
    assert main(["cluster", str(model_path), str(labelled_files[0]), "--output-dir", str(c), "-q"]) == 0
    capsys.readouterr()
    bad = tmp_path / "bad.csv"
    bad.write_text("x,y\n1,2\n3,abc\n")
    assert main(["cluster", str(model_path), str(labelled_files[0]), str(bad), "--output-dir", str(c)]) == 2
    err = capsys.readouterr().err
    assert "non-numeric value 'abc'" in err and "already exists" not in err
    frame = pd.read_csv(labelled_files[1])
    with_fov = tmp_path / "with_fov.csv"
    frame.assign(field=0).to_csv(with_fov, index=False)
    assert main(["cluster", str(model_path), str(with_fov), str(labelled_files[0]), "--fov-column", "field",
                 "--output-dir", str(c)]) == 2
    err = capsys.readouterr().err
    assert "no FOV column 'field'" in err and "already exists" not in err
    assert not (c / "with_fov_clusters.csv").exists()  # nothing written: checked before any work
    # train: the model file exists, the label column does not.
    kept = model_path.read_bytes()
    assert main(["train", *map(str, labelled_files), "-o", str(model_path), "--label-column", "foo", *TINY]) == 2
    err = capsys.readouterr().err
    assert "no label column 'foo'" in err and "already exists" not in err
    assert model_path.read_bytes() == kept


def test_library_warnings_give_command_line_options(model_path, labelled_files, tmp_path, capsys):
    # Three FOVs stacked in one file without a FOV column: the density warning's
    # advice is --fov-column, not Python's groups=.
    X, _, fov = make_gaussian_clusters(n_fovs=3, n_clusters=4, n_localizations=15, fov_size=500,
                                       random_state=5)
    stacked = tmp_path / "stacked.csv"
    pd.DataFrame({"x": X[:, 0], "y": X[:, 1], "field": fov}).to_csv(stacked, index=False)
    assert main(["cluster", str(model_path), str(stacked), "-o", str(tmp_path / "a.csv"), "-q"]) == 0
    err = capsys.readouterr().err
    assert "times the localisation density" in err and "pass --fov-column NAME" in err
    assert "groups=" not in err and "X has" not in err
    assert main(["cluster", str(model_path), str(stacked), "--fov-column", "field", "-o",
                 str(tmp_path / "b.csv"), "-q"]) == 0
    assert "localisation density" not in capsys.readouterr().err
    # Background numbered 0 tabulated as a cluster (--background -1): --background 0.
    assert main(["stats", str(labelled_files[0]), "--background", "-1", "--output-dir", str(tmp_path)]) == 0
    err = capsys.readouterr().err
    assert "pass --background 0" in err and "np.where" not in err and "background=0" not in err
    # The other Python advice the library gives, as the commands show it.
    from sklearn_miro.cli import _cli_advice

    assert _cli_advice("y has no -1 (background) label and uses label 0 for 5 of 9 localisations; 0 is "
                       "treated as an ordinary cluster. If label 0 marks background (as in the "
                       "benchmark's files), pass np.where(y == 0, -1, y).").endswith("pass --background 0.")
    assert "--fov-column" in _cli_advice("If X holds several fields of view sharing one coordinate range, "
                                         "pass their ids as groups=: stacked, they look like one crowded FOV.")
    assert "without --fov-column" in _cli_advice("a much larger field, or several FOVs stacked without groups=")
    assert "--compile no" in _cli_advice("Pass compile=False to skip the attempt.")
    assert "--coordinate-unit um" in _cli_advice("Convert them to nm first (x 1000 for um, x the pixel size "
                                                 "for pixels).")


def test_auto_background_notes_a_compact_label_zero(labelled_files, tmp_path, capsys):
    # Labels 0-3 of four compact clusters, no background: auto still takes 0 for
    # background (the benchmark's convention), and says it may be a cluster.
    X, y, _ = make_gaussian_clusters(n_fovs=1, n_clusters=4, n_localizations=15, n_background=0,
                                     fov_size=500, random_state=1)
    compact = tmp_path / "compact.csv"
    pd.DataFrame({"x": X[:, 0], "y": X[:, 1], "label": y}).to_csv(compact, index=False)
    assert main(["stats", str(compact), "--output-dir", str(tmp_path / "a")]) == 0
    captured = capsys.readouterr()
    assert "Treating label 0 as background" in captured.out and "3 clusters" in captured.out
    assert f"in {compact} it is as compact as the other clusters" in captured.err
    assert "pass --background -1" in captured.err
    # Background numbered 0 (spread over the FOV): no note.
    assert main(["stats", *map(str, labelled_files), "--output-dir", str(tmp_path / "b")]) == 0
    assert "as compact" not in capsys.readouterr().err
    # Files decided one by one (one with -1): only the compact file is named.
    minus = tmp_path / "minus.csv"
    pd.read_csv(labelled_files[0]).assign(index=lambda d: d["index"].replace(0, -1)).to_csv(minus, index=False)
    assert main(["stats", str(minus), str(compact), "--output-dir", str(tmp_path / "c")]) == 0
    err = capsys.readouterr().err
    assert str(compact) in err and str(minus) not in err
    # train reads its labels the same way.
    from sklearn_miro.cli import _read_labelled

    args = argparse.Namespace(pixel_size=None, coordinate_unit=None, fov_column=None)
    _read_labelled([labelled_files[0], compact], None, "auto", args)
    err = capsys.readouterr().err
    assert f"in {compact} it is as compact" in err and str(labelled_files[0]) not in err
    _read_labelled([compact], None, "-1", args)  # an explicit choice: nothing to say
    assert "as compact" not in capsys.readouterr().err
