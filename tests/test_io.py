"""Tests of sklearn_miro.io: file formats, errors, the benchmark loader."""

import json
import sys
import time
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sklearn_miro.io import load_benchmark, read_localizations, write_labels


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- #
# read_localizations: formats
# --------------------------------------------------------------------------- #
def test_reads_thunderstorm_csv(tmp_path):
    path = write(
        tmp_path / "ts.csv",
        '"id","frame","x [nm]","y [nm]","sigma [nm]","intensity [photon]","offset [photon]",'
        '"bkgstd [photon]","uncertainty_xy [nm]"\n'
        "1,1,100.5,200.25,120.0,900.0,10.0,3.5,8.2\n"
        "2,3,110.0,190.0,118.0,1000.0,11.0,3.1,7.9\n",
    )
    df = read_localizations(path)
    assert list(df.columns[:2]) == ["x", "y"]
    assert {"frame", "uncertainty", "intensity", "sigma", "offset", "background_std", "id"} <= set(df.columns)
    np.testing.assert_allclose(df["x"], [100.5, 110.0])
    np.testing.assert_allclose(df["uncertainty"], [8.2, 7.9])
    assert df["frame"].dtype.kind == "i"
    assert df.attrs["units"]["x"] == "nm" and df.attrs["units"]["intensity"] == "photon"
    assert df.attrs["original_columns"]["uncertainty"] == "uncertainty_xy [nm]"


def test_reads_benchmark_layout_and_keeps_label_values(tmp_path):
    path = write(tmp_path / "b.csv", '"x","y","index"\n1.5,2.5,0\n3.0,4.0,7\n')
    df = read_localizations(path)
    assert list(df.columns) == ["x", "y", "label"]
    np.testing.assert_array_equal(df["label"], [0, 7])  # raw values: 0 stays 0


def test_reads_tsv_with_upper_case_columns(tmp_path):
    path = write(tmp_path / "g.tsv", "X\tY\tPhotons\tCluster\n1\t2\t300\t-1\n4\t5\t250\t3\n")
    df = read_localizations(path)
    assert list(df.columns) == ["x", "y", "intensity", "label"]
    np.testing.assert_allclose(df[["x", "y"]].to_numpy(), [[1, 2], [4, 5]])


def test_reads_smap_like_and_semicolon_files(tmp_path):
    smap = write(tmp_path / "smap.csv", "frame,xnm,ynm,locprecnm,phot\n1,10,20,5,400\n2,30,40,6,500\n")
    df = read_localizations(smap)
    assert list(df.columns) == ["x", "y", "frame", "uncertainty", "intensity"]
    np.testing.assert_allclose(df["y"], [20, 40])
    semi = write(tmp_path / "semi.csv", "x;y;frame\n1,5;2;1\n3;4;2\n")
    # A semicolon file whose values contain commas would need decimal=","; here
    # the delimiter alone is checked: "1,5" is not a number and is reported.
    with pytest.raises(ValueError, match=r"column 'x' has the non-numeric value '1,5' at data row 1"):
        read_localizations(semi)
    semi = write(tmp_path / "semi2.csv", "x;y;frame\n1.5;2;1\n3;4;2\n")
    np.testing.assert_allclose(read_localizations(semi)["x"], [1.5, 3])


def test_whitespace_separated_file(tmp_path):
    path = write(tmp_path / "w.txt", "x y frame\n1.0 2.0 1\n3.0 4.0 2\n")
    np.testing.assert_allclose(read_localizations(path)["y"], [2.0, 4.0])


def test_units_are_converted_to_nm(tmp_path):
    microns = write(tmp_path / "um.csv", "x [µm],y [µm]\n1.5,2\n")
    df = read_localizations(microns)
    np.testing.assert_allclose(df[["x", "y"]].to_numpy(), [[1500, 2000]])
    assert df.attrs["units"]["x"] == "nm"
    pixels = write(tmp_path / "px.csv", "x [px],y [px],uncertainty [px]\n2,3,0.1\n")
    with pytest.raises(ValueError, match="pixel_size"):
        read_localizations(pixels)
    df = read_localizations(pixels, pixel_size=100.0)
    np.testing.assert_allclose(df[["x", "y", "uncertainty"]].to_numpy(), [[200, 300, 10]])
    plain = write(tmp_path / "plain.csv", "x,y\n2,3\n")
    np.testing.assert_allclose(read_localizations(plain, coordinate_unit="px", pixel_size=160)["x"], [320])


def test_explicit_column_mapping(tmp_path):
    path = write(tmp_path / "nikon.csv", "X,Y,Xc,Yc\n1,2,1.5,2.5\n")
    df = read_localizations(path, columns={"x": "Xc", "y": "Yc"})
    np.testing.assert_allclose(df[["x", "y"]].to_numpy(), [[1.5, 2.5]])
    assert {"X", "Y"} <= set(df.columns)  # the raw columns are kept by name


def test_reads_picasso_hdf5(tmp_path):
    h5py = pytest.importorskip("h5py")
    names = ["frame", "x", "y", "photons", "lpx", "lpy", "group"]
    dtype = list(zip(names, ["u4", "f4", "f4", "f4", "f4", "f4", "i4"]))
    rows = [(0, 10.0, 20.0, 500.0, 0.1, 0.2, 3), (1, 11.0, 21.0, 400.0, 0.1, 0.1, 4)]
    locs = np.array(rows, dtype=dtype)
    path = tmp_path / "locs.hdf5"
    with h5py.File(path, "w") as handle:
        handle.create_dataset("locs", data=locs)
    with pytest.raises(ValueError, match="pixel_size"):
        read_localizations(path)
    df = read_localizations(path, pixel_size=130.0)
    np.testing.assert_allclose(df["x"], [1300.0, 1430.0])
    np.testing.assert_allclose(df["uncertainty_y"], [26.0, 13.0], rtol=1e-6)
    np.testing.assert_array_equal(df["label"], [3, 4])
    np.testing.assert_allclose(df["intensity"], [500.0, 400.0])  # photons are not lengths
    with pytest.raises(ValueError, match="no dataset 'picks'"):
        read_localizations(path, pixel_size=130.0, hdf5_key="picks")


def test_hdf5_without_h5py_says_what_to_install(tmp_path, monkeypatch):
    path = tmp_path / "locs.hdf5"
    path.write_bytes(b"not really hdf5")
    monkeypatch.setitem(sys.modules, "h5py", None)  # makes `import h5py` fail
    with pytest.raises(ImportError, match=r"pip install sklearn-miro\[hdf5\]"):
        read_localizations(path, pixel_size=100.0)


# --------------------------------------------------------------------------- #
# read_localizations: errors
# --------------------------------------------------------------------------- #
def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        read_localizations(tmp_path / "nope.csv")


def test_directory(tmp_path):
    with pytest.raises(ValueError, match="is a directory"):
        read_localizations(tmp_path)


@pytest.mark.parametrize(
    "content, message",
    [
        ("", "is empty"),
        ("\n\n", "is empty"),
        ("x,y,frame\n", "has a header .* but no localisations"),
        ("a,b,c\n1,2,3\n", r"no 'x' and no 'y' coordinate column. Columns found: \['a', 'b', 'c'\]"),
        ("x,z\n1,2\n", r"no 'y' coordinate column. Columns found: \['x', 'z'\]"),
        ("x,y\n1,2\n3,abc\n", r"column 'y' has the non-numeric value 'abc' at data row 2 \(line 3"),
        ("x,y\n1,2\n,4\n", r"column 'x' has a missing value at data row 2"),
        ("x,y,frame\n1,2,1\n3,4,two\n", r"column 'frame' has the non-numeric value 'two' at data row 2"),
        ("1.0,2.0\n3.0,4.0\n", "has no header row"),
        # A first data row with repeated numbers is still no header (not "duplicate column name").
        ("1,1,100.5,200.5\n2,1,101.5,201.5\n", "has no header row"),
    ],
)
def test_read_errors(tmp_path, content, message):
    path = write(tmp_path / "bad.csv", content)
    with pytest.raises(ValueError, match=message) as info:
        read_localizations(path)
    assert "bad.csv" in str(info.value)


def test_binary_file(tmp_path):
    path = tmp_path / "image.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    with pytest.raises(ValueError, match="binary"):
        read_localizations(path)


def test_bad_column_mapping(tmp_path):
    path = write(tmp_path / "c.csv", "a,b\n1,2\n")
    with pytest.raises(ValueError, match=r"'Xc', which is not a column .* \['a', 'b'\]"):
        read_localizations(path, columns={"x": "Xc", "y": "b"})


def test_column_mapping_accepts_spellings_and_rejects_unknown_keys(tmp_path):
    path = write(tmp_path / "c.csv", "Xc,Yc,cid,prec\n0,1,4,3.5\n10,2,5,4.5\n")
    # "cluster" and "precision" are spellings of label and uncertainty: their
    # columns were once dropped without a word.
    df = read_localizations(path, columns={"x": "Xc", "y": "Yc", "cluster": "cid", "precision": "prec"})
    assert list(df.columns) == ["x", "y", "uncertainty", "label"]
    assert df["label"].tolist() == [4, 5] and df["uncertainty"].tolist() == [3.5, 4.5]
    assert df.attrs["original_columns"]["label"] == "cid"
    with pytest.raises(ValueError, match=r"key 'colour'.*accepted names: \['x', 'y', 'z', 'frame'"):
        read_localizations(path, columns={"x": "Xc", "y": "Yc", "colour": "cid"})
    with pytest.raises(ValueError, match="maps both 'label' and 'cluster' to the output column 'label'"):
        read_localizations(path, columns={"x": "Xc", "y": "Yc", "label": "cid", "cluster": "prec"})
    with pytest.raises(ValueError, match="column 'cid' to both 'label' and 'frame'"):
        read_localizations(path, columns={"x": "Xc", "y": "Yc", "label": "cid", "frame": "cid"})


# --------------------------------------------------------------------------- #
# write_labels
# --------------------------------------------------------------------------- #
def test_write_labels_round_trip(tmp_path):
    X = np.array([[1.25, 2.5], [3.0, 4.0], [5.0, 6.0]])
    labels = np.array([0, -1, 0])
    before = X.copy()
    shapes = ["spot", "background", "spot"]
    path = write_labels(
        tmp_path / "out.csv", X, labels, groups=[0, 0, 1], extra_columns={"shape": shapes}
    )
    np.testing.assert_array_equal(X, before)
    raw = pd.read_csv(path)
    assert list(raw.columns) == ["x", "y", "fov", "cluster", "shape"]
    df = read_localizations(path)
    np.testing.assert_allclose(df[["x", "y"]].to_numpy(), X)
    np.testing.assert_array_equal(df["label"], labels)
    np.testing.assert_array_equal(df["shape"], ["spot", "background", "spot"])


@settings(max_examples=15, deadline=None)
@given(
    X=arrays(
        np.float64,
        st.tuples(st.integers(1, 30), st.just(2)),
        elements=st.floats(-1e6, 1e6, allow_nan=False),
    ),
    seed=st.integers(0, 1000),
)
def test_write_read_round_trip_is_exact(tmp_path_factory, X, seed):
    labels = np.random.default_rng(seed).integers(-1, 5, size=X.shape[0])
    path = write_labels(tmp_path_factory.mktemp("rt") / "rt.csv", X, labels)
    df = read_localizations(path)
    np.testing.assert_array_equal(df[["x", "y"]].to_numpy(), X)
    np.testing.assert_array_equal(df["label"].to_numpy(), labels)


def test_write_two_scale_labels(tmp_path):
    X = np.zeros((2, 2))
    path = write_labels(tmp_path / "npc.csv", X, np.array([[0, 0], [-1, -1]]), label_name=["corner", "ring"])
    assert list(pd.read_csv(path).columns) == ["x", "y", "corner", "ring"]
    path = write_labels(tmp_path / "npc2.csv", X, np.array([[0, 0], [-1, -1]]))
    assert list(pd.read_csv(path).columns) == ["x", "y", "cluster_0", "cluster_1"]


def test_two_scale_labels_read_back_as_documented(tmp_path):
    X = np.array([[1.5, 2.5], [3.5, 4.5]])
    path = write_labels(tmp_path / "npc.csv", X, np.array([[0, 1], [0, -1]]))
    # The scales keep their own names (no "label" column, as the docstring
    # once claimed); one of them is selected as the labels with columns=.
    df = read_localizations(path)
    assert "label" not in df.columns
    assert df["cluster_0"].tolist() == [0, 0] and df["cluster_1"].tolist() == [1, -1]
    df = read_localizations(path, columns={"label": "cluster_1"})
    assert df["label"].tolist() == [1, -1] and df["cluster_0"].tolist() == [0, 0]
    doc = " ".join(write_labels.__doc__.split())
    assert "reads it back with the labels in a ``label`` column" not in doc
    assert 'columns={"label": "cluster_0"}' in doc


@pytest.mark.parametrize(
    "kwargs, clash",
    [
        ({"label_name": "x"}, "'x'"),
        ({"label_name": "Y"}, "'y'"),
        ({"label_name": "FOV", "groups": [0, 1]}, "'fov'"),
        ({"label_name": ["corner", "X"], "labels": [[0, 0], [1, 1]]}, "'x'"),
        ({"label_name": ["ring", "Ring"], "labels": [[0, 0], [1, 1]]}, "'ring'"),
        ({"extra_columns": {"Cluster": [1, 2]}}, "'cluster'"),
    ],
)
def test_write_labels_never_overwrites_a_column(tmp_path, kwargs, clash):
    X = np.array([[1.5, 2.5], [3.5, 4.5]])
    kwargs = {"labels": [7, 8], **kwargs}
    labels = kwargs.pop("labels")
    # label_name="x" once replaced the x coordinates by the labels.
    with pytest.raises(ValueError, match=f"clashes with the output's column {clash}"):
        write_labels(tmp_path / "w.csv", X, labels, **kwargs)
    assert not (tmp_path / "w.csv").exists()


def test_write_labels_errors(tmp_path):
    with pytest.raises(ValueError, match="same length"):
        write_labels(tmp_path / "a.csv", np.zeros((3, 2)), [0, 1])
    with pytest.raises(FileNotFoundError, match="does not exist"):
        write_labels(tmp_path / "missing" / "a.csv", np.zeros((2, 2)), [0, 1])
    with pytest.raises(ValueError, match="extra column 'z' has 1 values"):
        write_labels(tmp_path / "a.csv", np.zeros((2, 2)), [0, 1], extra_columns={"z": [1]})


# --------------------------------------------------------------------------- #
# load_benchmark on a synthetic folder (no shared data needed)
# --------------------------------------------------------------------------- #
def make_fake_benchmark(root, pattern="sim_MoleculeList_{}.csv", n_files=6, kind="ground_truth", scenario=4):
    folder = root / "data" / kind / f"scenario_{scenario}"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for number in range(1, n_files + 1):
        # FOV `number` holds `number` clusters of 2 points (ids 1..number) and 3 background points.
        index = np.r_[np.repeat(np.arange(1, number + 1), 2), [0, 0, 0]]
        x = rng.uniform(0, 2000, index.size) + number * 1e4
        frame = pd.DataFrame({"x": x, "y": rng.uniform(0, 2000, index.size), "index": index})
        frame.to_csv(folder / pattern.format(number), index=False)
    return folder


def test_load_benchmark_layout_and_split(tmp_path):
    folder = make_fake_benchmark(tmp_path)
    reference = tmp_path / "reference"
    reference.mkdir()
    (reference / "benchmark_metadata.json").write_text(
        json.dumps({"Ground Truth - Scenario 4": {"training_indices": [5, 2, 3]}})
    )
    bench = load_benchmark(folder)
    assert bench.scenario == "Ground Truth - Scenario 4"
    assert bench.filenames[:2] == ["sim_MoleculeList_1.csv", "sim_MoleculeList_2.csv"]
    np.testing.assert_array_equal(bench.fov_numbers, np.arange(1, 7))
    assert bench.X.shape == (sum(2 * n + 3 for n in range(1, 7)), 2)
    # Background 0 -> -1; clusters unique across FOVs, 1 + 2 + ... + 6 = 21.
    np.testing.assert_array_equal(bench.y == -1, bench.original_index == 0)
    assert set(np.unique(bench.y)) == set(range(-1, 21))
    for k in range(21):
        assert np.unique(bench.groups[bench.y == k]).size == 1
    # Numbered in the order of (file position, file id): the codes of np.unique over the pairs.
    clustered = bench.original_index != 0
    pairs = np.column_stack([bench.groups[clustered], bench.original_index[clustered]])
    np.testing.assert_array_equal(bench.y[clustered], np.unique(pairs, axis=0, return_inverse=True)[1].ravel())
    # Each FOV's points are where its file put them (x offset = FOV number * 1e4).
    np.testing.assert_array_equal(bench.groups, (bench.X[:, 0] // 1e4).astype(int))
    assert bench.train_fov_numbers == [5, 2, 3] and bench.test_fov_numbers == [1, 4, 6]
    np.testing.assert_array_equal(bench.train_mask, np.isin(bench.groups, [2, 3, 5]))
    np.testing.assert_array_equal(bench.test_mask, ~bench.train_mask)
    assert bench.alternative_train_fov_numbers is None
    np.testing.assert_array_equal(bench.strict_test_mask, bench.test_mask)


def test_load_benchmark_orders_by_last_integer_and_takes_explicit_indices(tmp_path):
    pattern = "normal_50single_MoleculeList_{}.csv"
    folder = make_fake_benchmark(tmp_path, pattern=pattern, n_files=12, scenario=2)
    bench = load_benchmark(folder, training_indices=[10, 1, 12])
    assert bench.train_fov_numbers == [10, 1, 12]
    # The first integer (50) is constant: the reference order was ambiguous;
    # lexicographically (1, 10, 11, 12, 2, ..., 9) the 10th, 1st and 12th
    # names are FOVs 7, 1 and 9.
    names = sorted(f"normal_50single_MoleculeList_{n}.csv" for n in range(1, 13))
    expected = [int(names[i - 1].split("_")[-1][:-4]) for i in (10, 1, 12)]
    assert bench.alternative_train_fov_numbers == expected == [7, 1, 9]
    np.testing.assert_array_equal(bench.strict_test_mask, ~np.isin(bench.groups, [10, 1, 12, 7, 9]))
    lexicographic = load_benchmark(folder, training_indices=[10, 1, 12], file_order="lexicographic")
    assert lexicographic.train_fov_numbers == [7, 1, 9]


def test_load_benchmark_subset_and_no_split(tmp_path):
    folder = make_fake_benchmark(tmp_path)
    # No metadata anywhere: the documented default split (first 3 FOVs), with a warning.
    with pytest.warns(UserWarning, match=r"first 3 FOV\(s\).*\[1, 2, 3\]"):
        bench = load_benchmark(folder, fov_numbers=[4, 2])
    np.testing.assert_array_equal(bench.fov_numbers, [2, 4])
    assert set(np.unique(bench.groups)) == {2, 4}
    assert bench.training_indices == [1, 2, 3] and bench.train_fov_numbers == [1, 2, 3]
    np.testing.assert_array_equal(bench.train_mask, bench.groups == 2)
    np.testing.assert_array_equal(bench.test_mask, bench.groups == 4)
    bench = load_benchmark(folder, metadata={"training_indices": [1, 2, 3]}, fov_numbers=[1, 6])
    np.testing.assert_array_equal(np.unique(bench.groups[bench.train_mask]), [1])


def test_explicit_indices_win_over_metadata(tmp_path):
    folder = make_fake_benchmark(tmp_path)
    entry = {"training_indices": [1, 2, 3], "recurrent_iterations": 12}
    bench = load_benchmark(folder, training_indices=[4, 5, 6], metadata=entry)
    assert bench.train_fov_numbers == [4, 5, 6]
    assert bench.metadata["recurrent_iterations"] == 12


def test_load_benchmark_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        load_benchmark(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no .csv file"):
        load_benchmark(tmp_path / "empty")
    folder = make_fake_benchmark(tmp_path)
    with pytest.raises(ValueError, match="1-based positions in 1..6"):
        load_benchmark(folder, training_indices=[0, 1, 2])
    with pytest.raises(ValueError, match=r"FOV number\(s\) \[9\]"):
        load_benchmark(folder, fov_numbers=[9])
    with pytest.raises(ValueError, match="no entry 'Ground Truth - Scenario 4'"):
        load_benchmark(folder, metadata={"Ground Truth - Scenario 5": {"training_indices": [1, 2, 3]}})
    (folder / "sim_MoleculeList_01.csv").write_text("x,y,index\n1,2,0\n")
    with pytest.raises(ValueError, match="same FOV number 1"):
        load_benchmark(folder)


# --------------------------------------------------------------------------- #
# The shared data
# --------------------------------------------------------------------------- #
@pytest.mark.shared
def test_acceptance_reads_shared_files(shared_dir):
    df = read_localizations(shared_dir / "data" / "fgfr1" / "FGFR1_MCF7_AF647_1.csv")
    assert list(df.columns) == ["x", "y", "frame", "uncertainty"]
    assert len(df) == 2563 and df.attrs["units"]["uncertainty"] == "nm"
    bench = load_benchmark(shared_dir / "data" / "nieves2023" / "blinking" / "scenario_8")
    assert bench.scenario == "Multiple Blinking - Scenario 8"
    assert bench.train_fov_numbers == [49, 16, 34] and len(bench.test_fov_numbers) == 47


@pytest.mark.shared
def test_load_blinking_scenario_5_is_fast_and_complete(shared_dir):
    start = time.perf_counter()
    bench = load_benchmark(shared_dir / "data" / "nieves2023" / "blinking" / "scenario_5")
    elapsed = time.perf_counter() - start
    assert elapsed < 10  # ~0.3 s measured; generous for a busy shared machine
    assert len(bench.filenames) == 50 and bench.X.shape[0] > 500_000
    assert bench.train_fov_numbers == [25, 27, 32]
    assert abs(np.mean(bench.y == -1) - 0.5) < 0.02
    assert bench.y.max() + 1 == 50 * 100  # 100 clusters per FOV, unique ids
    assert bench.alternative_train_fov_numbers is None


@pytest.mark.shared
def test_scenario_2_ambiguity_matches_the_reference(shared_dir):
    # The authors list their files in lexicographic order, which maps GT-S2 [32, 19, 46]
    # to FOVs [38, 26, 50] and MB-S2 [23, 36, 35] to [3, 41, 40].
    root = shared_dir / "data" / "nieves2023"
    gt = load_benchmark(root / "ground_truth" / "scenario_2", fov_numbers=[1])
    assert gt.train_fov_numbers == [32, 19, 46]
    assert gt.alternative_train_fov_numbers == [38, 26, 50]
    mb = load_benchmark(root / "blinking" / "scenario_2", file_order="lexicographic", fov_numbers=[1])
    assert mb.train_fov_numbers == [3, 41, 40]
    assert mb.alternative_train_fov_numbers == [23, 36, 35]


def test_load_benchmark_refuses_negative_cluster_ids(tmp_path):
    # The benchmark format marks background with 0; a folder using -1 for it
    # once had its "-1" points merged into another FOV's cluster.
    folder = tmp_path / "data" / "ground_truth" / "scenario_4"
    folder.mkdir(parents=True)
    pd.DataFrame({"x": [0.0, 1, 2], "y": [0.0, 1, 2], "index": [1, 2, 2]}).to_csv(
        folder / "fov_1.csv", index=False)
    pd.DataFrame({"x": [5.0, 6, 7], "y": [5.0, 6, 7], "index": [-1, 0, 1]}).to_csv(
        folder / "fov_2.csv", index=False)
    with pytest.raises(ValueError, match=r"fov_2.csv: the 'index' column holds negative ids"):
        load_benchmark(folder, training_indices=[1])


def test_load_benchmark_ids_stay_distinct_across_fovs(tmp_path):
    # Ids near 2**62 in three FOVs: the key position * (max id + 1) + id
    # once overflowed int64 and merged clusters of different FOVs.
    folder = tmp_path / "data" / "ground_truth" / "scenario_4"
    folder.mkdir(parents=True)
    for number, ids in ((1, [1, 1, 2**62, 0]), (2, [1, 2**62, 0]), (3, [2**62, 5])):
        pd.DataFrame({"x": np.arange(len(ids), dtype=float), "y": np.arange(len(ids), dtype=float),
                      "index": ids}).to_csv(folder / f"fov_{number}.csv", index=False)
    bench = load_benchmark(folder, training_indices=[1])
    np.testing.assert_array_equal(bench.y, [0, 0, 1, -1, 2, 3, -1, 5, 4])


def test_a_decimal_comma_is_named(tmp_path):
    path = tmp_path / "comma.csv"
    path.write_text("x;y\n1,5;2,5\n3,0;4,0\n")
    with pytest.raises(ValueError, match="non-numeric value '1,5' .* It looks like a decimal comma"):
        read_localizations(path)


# --------------------------------------------------------------------------- #
# read_localizations: what each layout reads as, pinned exactly (values,
# dtypes, attrs), around the reader's shortcuts: skipinitialspace only where a
# field may start with a space, no copies of numeric columns before the
# DataFrame gathers them, the header found without splitting the whole head.
# --------------------------------------------------------------------------- #
def _expected(columns, units, original):
    df = pd.DataFrame(columns)
    df.attrs.update(units=units, original_columns=original)
    return df


THUNDERSTORM_TEXT = (
    '"id","frame","x [nm]","y [nm]","sigma [nm]","intensity [photon]","offset [photon]",'
    '"bkgstd [photon]","uncertainty [nm]"\n'
    "1,1,1200.5,3400.25,130.1,2500.0,100.0,12.5,9.8\n"
    "2,3,1210.0,3390.0,128.0,2400.0,99.0,12.0,10.1\n"
)
THUNDERSTORM_FRAME = _expected(
    {
        "x": [1200.5, 1210.0], "y": [3400.25, 3390.0], "frame": np.array([1, 3], dtype=np.int64),
        "uncertainty": [9.8, 10.1], "intensity": [2500.0, 2400.0], "background_std": [12.5, 12.0],
        "offset": [100.0, 99.0], "sigma": [130.1, 128.0], "id": np.array([1, 2], dtype=np.int64),
    },
    {"x": "nm", "y": "nm", "frame": "frame", "uncertainty": "nm", "intensity": "photon",
     "background_std": "photon", "offset": "photon", "sigma": "nm"},
    {"x": "x [nm]", "y": "y [nm]", "frame": "frame", "uncertainty": "uncertainty [nm]",
     "intensity": "intensity [photon]", "background_std": "bkgstd [photon]", "offset": "offset [photon]",
     "sigma": "sigma [nm]"},
)  # fmt: skip
BENCHMARK_FRAME = _expected(
    {"x": [1.5, 3.0], "y": [2.25, 4.0], "label": np.array([0, 7], dtype=np.int64)},
    {"x": "nm", "y": "nm"}, {"x": "x", "y": "y", "label": "index"},
)
TEXT_FRAME = _expected(
    {"x": [1.0, 3.0], "y": [2.0, 4.0], "name": pd.array(["a b", "  c"], dtype=pd.StringDtype(na_value=np.nan))},
    {"x": "nm", "y": "nm"}, {"x": "x", "y": "y"},
)


@pytest.mark.parametrize(
    "text, kwargs, expected",
    [
        ("x,y,index\n1.5,2.25,0\n3,4.0,7\n", {}, BENCHMARK_FRAME),
        ("x, y, index\n1.5, 2.25, 0\n 3, 4.0,7\n", {}, BENCHMARK_FRAME),  # spaces after delimiters
        ("\ufeffx;y;index\r\n1.5;2.25;0\r\n3;4.0;7\r\n", {}, BENCHMARK_FRAME),  # BOM, CRLF
        ("\n" * 3000 + "x,y,index\n1.5,2.25,0\n3,4.0,7\n", {}, BENCHMARK_FRAME),  # header after 3 KB of blank lines
        (THUNDERSTORM_TEXT, {}, THUNDERSTORM_FRAME),
        (THUNDERSTORM_TEXT.replace("\n", "\r\n"), {}, THUNDERSTORM_FRAME),
        # Text: a space at the start of a field is dropped, inside quotes kept.
        ('x,y,name\n1,2, a b\n3,4,"  c"\n', {}, TEXT_FRAME),
        ('x\ty\tname\n1\t2\t a b\n3\t4\t"  c"\n', {}, TEXT_FRAME),
        ('x,y,name\n1,2,a b\n3,4,"  c"\n', {}, TEXT_FRAME),
    ],
)
def test_layouts_read_exactly(tmp_path, text, kwargs, expected):
    path = write(tmp_path / "layout.csv", text)
    df = read_localizations(path, **kwargs)
    expected = expected.copy()
    expected.attrs["source"] = str(path)
    pd.testing.assert_frame_equal(df, expected, check_exact=True)
    assert df.attrs == expected.attrs
    # The DataFrame holds its own consolidated blocks, as pd.DataFrame(dict) makes them.
    assert df._mgr.nblocks == len({str(t) for t in df.dtypes})


def test_a_space_after_the_first_megabyte_is_still_dropped(tmp_path):
    # Whether a field may start with a space is decided by scanning the file
    # in 1 MiB pieces: a space in the last line only must still be seen.
    n = 120_000
    path = write(tmp_path / "big.csv", "x,y,name\n" + "1.5,2.5,a\n" * n + "3.5,4.5, b\n")
    assert path.stat().st_size > 2**20
    df = read_localizations(path)
    assert len(df) == n + 1 and df["name"].iloc[-1] == "b" and df["name"].iloc[0] == "a"
    assert df["x"].dtype == np.float64 and df["x"].iloc[-1] == 3.5


def test_delimiter_found_in_a_header_longer_than_a_kilobyte(tmp_path):
    name = "n" * 1500
    path = write(tmp_path / "long.csv", f"{name};x;y\n1;2;3\n4;5;6\n")
    df = read_localizations(path)
    assert list(df.columns) == ["x", "y", name]
    np.testing.assert_array_equal(df["x"], [2.0, 5.0])


@pytest.mark.parametrize("n_control, binary", [(1, False), (30, True)])
def test_control_characters_decide_text_or_binary(tmp_path, n_control, binary):
    path = tmp_path / "c.csv"
    path.write_bytes(b"x,y,note\n" + b"1,2,a\n" * 300 + b"3,4," + b"\x01" * n_control + b"\n")
    if binary:
        with pytest.raises(ValueError, match="binary data"):
            read_localizations(path)
    else:
        assert read_localizations(path)["note"].iloc[-1] == "\x01"


def test_overflowing_unit_conversion_is_reported_without_a_numpy_warning(tmp_path):
    path = write(tmp_path / "px.csv", "x [px],y [px],sigma [px]\n1e308,2,1e308\n3,4,5\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning from the multiplication
        with pytest.raises(ValueError, match="non-finite value at data row 1"):
            read_localizations(path, pixel_size=160)
        df = read_localizations(write(tmp_path / "s.csv", "x [px],y [px],sigma [px]\n1,2,1e308\n"), pixel_size=160)
    assert np.isinf(df["sigma"].iloc[0])
