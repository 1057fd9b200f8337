"""Tests of sklearn_miro.analysis (per-cluster and per-FOV statistics)."""

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial import ConvexHull

from sklearn_miro.analysis import cluster_table, convex_hulls, fov_summary, multiscale_cluster_table
from sklearn_miro.datasets import make_gaussian_clusters, make_multishape, make_npc


def _truth_by_loop(X, labels, groups):
    """Counts, centroids and radii of gyration, one cluster at a time."""
    rows = {}
    for fov in np.unique(groups):
        for label in np.unique(labels[(groups == fov) & (labels >= 0)]):
            points = X[(groups == fov) & (labels == label)]
            center = points.mean(axis=0)
            radius = np.sqrt(np.mean(np.sum((points - center) ** 2, axis=1)))
            rows[(fov, label)] = (len(points), center, radius, points)
    return rows


def test_table_matches_true_labels_on_simulated_fovs():
    X, labels, fov = make_gaussian_clusters(
        3, n_clusters=(5, 12), n_localizations=(5, 40), random_state=0
    )
    table = cluster_table(X, labels, fov)
    truth = _truth_by_loop(X, labels, fov)
    assert len(table) == len(truth)
    for row in table.itertuples():
        n, center, radius, points = truth[(row.fov, row.label)]
        assert row.n_localizations == n
        np.testing.assert_allclose([row.centroid_x, row.centroid_y], center, rtol=0, atol=1e-9)
        assert row.radius_of_gyration == pytest.approx(radius, rel=1e-10)
        if n >= 3:
            hull = ConvexHull(points)
            assert row.hull_area == pytest.approx(hull.volume, rel=1e-9)
            assert row.hull_perimeter == pytest.approx(hull.area, rel=1e-9)
            assert row.density_per_um2 == pytest.approx(n / hull.volume * 1e6, rel=1e-9)
        # principal axes: eigen-decomposition of the population covariance
        eigen = np.linalg.eigvalsh(np.cov(points.T, bias=True)) if n > 1 else np.zeros(2)
        assert row.major_std == pytest.approx(np.sqrt(eigen[1]), rel=1e-7, abs=1e-9)
        assert row.minor_std == pytest.approx(np.sqrt(max(eigen[0], 0)), rel=1e-6, abs=1e-6)


def test_labels_restarting_per_fov_are_distinct_clusters():
    X = np.array([[0, 0], [1, 0], [0, 1], [100, 100], [101, 100], [100, 101.0]])
    labels = np.array([0, 0, 0, 0, 0, 0])
    table = cluster_table(X, labels, groups=["a", "a", "a", "b", "b", "b"])
    assert table["fov"].tolist() == ["a", "b"]
    assert table["n_localizations"].tolist() == [3, 3]
    assert table["hull_area"].tolist() == pytest.approx([0.5, 0.5])
    assert table["nn_distance"].isna().all()  # one cluster per FOV


def test_nearest_cluster_distance_and_orientation():
    rng = np.random.default_rng(1)
    centers = np.array([[0.0, 0.0], [300.0, 0.0], [0.0, 1000.0]])
    # elongated along y: orientation pi/2
    points = rng.standard_normal((300, 2)) * [5.0, 40.0]
    X = np.vstack([c + points[i * 100 : (i + 1) * 100] for i, c in enumerate(centers)])
    labels = np.repeat([1, 2, 3], 100)
    table = cluster_table(X, labels)
    expected = [300, 300, 1000]
    centroids = table[["centroid_x", "centroid_y"]].to_numpy()
    own = np.linalg.norm(centroids[:, None] - centroids[None], axis=2)
    np.fill_diagonal(own, np.inf)
    np.testing.assert_allclose(table["nn_distance"], own.min(axis=1))
    assert table["nn_distance"].to_numpy() == pytest.approx(expected, rel=0.1)
    assert np.all(np.abs(np.abs(table["orientation"]) - np.pi / 2) < 0.1)
    assert np.all(table["eccentricity"] > 0.95)


def test_shapes_and_multiscale_columns():
    X, labels, fov = make_npc(2, n_structures=3, n_localizations=(20, 40), random_state=0)
    table = cluster_table(X, labels, fov)
    assert {"parent_label", "n_in_parent"} <= set(table.columns)
    # every corner lies in a pore of 8 corners (non-empty ones only)
    truth = pd.DataFrame({"fov": fov, "fine": labels[:, 0], "coarse": labels[:, 1]})
    truth = truth[truth.fine >= 0].drop_duplicates()
    per_pore = truth.groupby(["fov", "coarse"]).fine.nunique()
    merged = table.merge(truth, left_on=["fov", "label"], right_on=["fov", "fine"])
    assert (merged.parent_label == merged.coarse).all()
    expected = per_pore.loc[list(zip(merged.fov, merged.coarse))].to_numpy()
    np.testing.assert_array_equal(merged.n_in_parent.to_numpy(), expected)
    # same result with explicit parent labels
    again = cluster_table(X, labels[:, 0], fov, parent_labels=labels[:, 1])
    pd.testing.assert_frame_equal(table, again)

    X, labels, fov, shapes = make_multishape(("spot", "ring"), 1, random_state=0)
    table = cluster_table(X, labels, fov, shapes=shapes)
    for row in table.itertuples():
        assert row.shape == pd.Series(shapes[labels == row.label]).mode()[0]


def test_degenerate_clusters():
    X = np.array([[0, 0], [5, 0], [5, 5], [1, 1], [2, 2], [3, 3], [7, 7.0]])
    labels = np.array([1, 1, 1, 2, 2, 2, 3])
    table = cluster_table(X, labels)
    assert table["hull_area"].tolist() == pytest.approx([12.5, 0, 0])
    assert table["hull_perimeter"].tolist() == pytest.approx([10 + 50**0.5, 4 * 2**0.5, 0])
    assert np.isnan(table["density_per_um2"][1]) and np.isnan(table["density_per_um2"][2])
    assert table["radius_of_gyration"][2] == 0
    # no cluster at all: an empty table with the columns
    empty = cluster_table(X, np.full(7, -1))
    assert len(empty) == 0 and "radius_of_gyration" in empty.columns


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_clusters=st.integers(1, 8),
    grid=st.booleans(),
)
def test_convex_hulls_match_scipy(seed, n_clusters, grid):
    rng = np.random.default_rng(seed)
    sizes = rng.integers(3, 40, n_clusters)
    index = np.repeat(np.arange(n_clusters), sizes)
    X = rng.standard_normal((index.size, 2)) * rng.uniform(0.5, 50, (n_clusters, 2))[index]
    X += rng.uniform(-1e4, 1e4, (n_clusters, 2))[index]
    if grid:  # duplicates and collinear points
        X = np.round(X / 7) * 7
    area, perimeter, _ = convex_hulls(X, index)
    for c in range(n_clusters):
        points = X[index == c]
        try:
            hull = ConvexHull(points)
        except Exception:  # qhull refuses flat sets: area 0
            assert area[c] == pytest.approx(0, abs=1e-6)
            continue
        assert area[c] == pytest.approx(hull.volume, rel=1e-9)
        assert perimeter[c] == pytest.approx(hull.area, rel=1e-9)


def test_inputs_not_modified_and_errors():
    X, labels, fov = make_gaussian_clusters(1, n_clusters=4, random_state=2)
    X0, labels0 = X.copy(), labels.copy()
    cluster_table(X, labels, fov)
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(labels, labels0)
    with pytest.raises(ValueError, match="labels has 3 rows"):
        cluster_table(X, labels[:3])
    with pytest.raises(ValueError, match="integer cluster labels"):
        cluster_table(X, labels + 0.5)
    with pytest.raises(ValueError, match="shapes must have shape"):
        cluster_table(X, labels, shapes=["spot"])
    with pytest.raises(ValueError, match="do not also pass parent_labels"):
        cluster_table(X, np.column_stack([labels, labels]), parent_labels=labels)
    with pytest.raises(ValueError, match="area must be"):
        fov_summary(X, labels, area="circle")


def test_fov_summary():
    X, labels, fov = make_gaussian_clusters(
        2, n_clusters=10, n_localizations=20, background_fraction=0.5, random_state=3
    )
    summary = fov_summary(X, labels, fov, area="bbox")
    table = cluster_table(X, labels, fov)
    assert summary["fov"].tolist() == [0, 1]
    for row in summary.itertuples():
        in_fov = fov == row.fov
        assert row.n_localizations == in_fov.sum()
        assert row.fraction_clustered == pytest.approx(np.mean(labels[in_fov] >= 0))
        assert row.n_clusters == 10
        extent = X[in_fov].max(axis=0) - X[in_fov].min(axis=0)
        assert row.area_um2 == pytest.approx(np.prod(extent) / 1e6)
        assert row.cluster_density_per_um2 == pytest.approx(10 / row.area_um2)
        assert row.median_radius_of_gyration == pytest.approx(
            table.loc[table.fov == row.fov, "radius_of_gyration"].median()
        )
    hull = fov_summary(X, labels, fov)
    assert np.all(hull["area_um2"] <= summary["area_um2"] + 1e-12)
    assert hull["area_um2"][0] == pytest.approx(ConvexHull(X[fov == 0]).volume / 1e6)


def test_multiscale_cluster_table():
    from sklearn_miro.analysis import multiscale_cluster_table

    X, labels, fov = make_npc(1, n_structures=3, n_localizations=(20, 40), random_state=1)
    table = multiscale_cluster_table(X, labels, fov, scale_names=["corner", "pore"])
    corners = table[table.scale == "corner"].drop(columns="scale").reset_index(drop=True)
    pd.testing.assert_frame_equal(corners, cluster_table(X, labels, fov), check_like=True)
    pores = table[table.scale == "pore"]
    assert len(pores) == len(np.unique(labels[labels[:, 1] >= 0, 1]))
    assert (pores.parent_label == -1).all() and (pores.n_in_parent == 0).all()
    with pytest.raises(ValueError, match="scale_names has 1 names"):
        multiscale_cluster_table(X, labels, scale_names=["corner"])


def test_radial_spread_and_arc_resultant_tell_spots_rings_and_arcs_apart():
    rng = np.random.default_rng(3)
    n = 4000
    spot = rng.standard_normal((n, 2)) * 25.0
    angle = rng.uniform(0, 2 * np.pi, n)
    ring = 250.0 * np.column_stack([np.cos(angle), np.sin(angle)]) + rng.standard_normal((n, 2)) * 5.0
    half = angle / 2  # a half circle: an open arc
    arc = 250.0 * np.column_stack([np.cos(half), np.sin(half)])
    X = np.vstack([spot, ring + 2000.0, arc + 4000.0])
    table = cluster_table(X, np.repeat([1, 2, 3], n))
    spread, resultant = table["radial_spread"].to_numpy(), table["arc_resultant"].to_numpy()
    # Rayleigh distribution: std / mean = sqrt(4 / pi - 1) = 0.523.
    assert spread[0] == pytest.approx(np.sqrt(4 / np.pi - 1), abs=0.02)
    assert spread[1] < 0.05 and resultant[0] < 0.05 and resultant[1] < 0.05
    # The half circle's centroid sits 2R/pi inside the arc, so the directions
    # to its localisations do not cancel (0.17 for a thin half circle).
    assert resultant[2] > 0.15 and spread[2] > 3 * spread[1]
    # Both are invariant under translation and scaling of the units.
    moved = cluster_table(3.0 * X + 1e4, np.repeat([1, 2, 3], n))
    np.testing.assert_allclose(moved["radial_spread"], spread, rtol=1e-9)
    np.testing.assert_allclose(moved["arc_resultant"], resultant, rtol=1e-9)
    single = cluster_table(np.zeros((1, 2)), np.zeros(1, dtype=int))
    assert np.isnan(single["radial_spread"][0]) and single["arc_resultant"][0] == 0.0


@pytest.mark.parametrize("labels", [[1, 1, 1, 2**62, 2**62, 2**62], [-(2**62)] * 3 + [2**62] * 3])
def test_cluster_table_with_extreme_label_values(labels):
    # The (FOV, label) key once overflowed int64 for labels near 2**62 and put
    # a cluster in the wrong FOV under a label that does not exist.
    X = np.array([[0, 0], [1, 0], [0, 1], [10, 10], [11, 10], [10, 11.0]])
    table = cluster_table(X, np.array(labels, dtype=np.int64), groups=[0, 0, 0, 1, 1, 1])
    assert table["fov"].tolist() == [0, 1]
    assert table["label"].tolist() == [labels[0], labels[3]]
    np.testing.assert_allclose(table[["centroid_x", "centroid_y"]].to_numpy(), [[1 / 3, 1 / 3], [31 / 3, 31 / 3]])


# --------------------------------------------------------------------------- #
# Regressions: mode per cluster, argument validation
# --------------------------------------------------------------------------- #
def _dense_mode(cluster, values, n_clusters):
    """The former rule: a dense (cluster x value) count table, argmax per row."""
    uniques, codes = np.unique(values, return_inverse=True)
    counts = np.bincount(cluster * uniques.size + codes.ravel(), minlength=n_clusters * uniques.size)
    return uniques[counts.reshape(n_clusters, uniques.size).argmax(axis=1)]


@pytest.mark.parametrize("seed", range(5))
def test_mode_per_cluster_matches_the_dense_rule(seed):
    from sklearn_miro.analysis import _mode_per_cluster

    rng = np.random.default_rng(seed)
    n_clusters = int(rng.integers(1, 40))
    # Few values per cluster, so that ties are frequent; every cluster present.
    cluster = np.r_[np.arange(n_clusters), rng.integers(0, n_clusters, 300)]
    for values in (rng.integers(-1, 4, cluster.size), rng.choice(["ring", "spot", "arc"], cluster.size)):
        np.testing.assert_array_equal(
            _mode_per_cluster(cluster, values, n_clusters), _dense_mode(cluster, values, n_clusters)
        )


def test_mode_per_cluster_memory_grows_with_the_pairs_that_occur():
    from sklearn_miro.analysis import _mode_per_cluster

    # 300 000 fine clusters in 300 000 coarse ones: the former dense table had
    # 9e10 entries (720 GB) and failed to allocate.
    k = 300_000
    cluster = np.repeat(np.arange(k), 2)
    values = np.repeat(np.arange(k)[::-1], 2)
    np.testing.assert_array_equal(_mode_per_cluster(cluster, values, k), np.arange(k)[::-1])


def test_convex_hulls_validates_cluster_index():
    X = np.array([[0, 0], [10, 0], [10, 10], [0, 10.0]])
    with pytest.raises(ValueError, match="non-integer value 0.5"):
        convex_hulls(X, np.array([0.5, 0, 0, 0]))
    with pytest.raises(ValueError, match="negative value -1"):
        convex_hulls(X, np.array([-1, 0, 0, 0]))
    with pytest.raises(ValueError, match=r"n_clusters=2 but cluster_index holds the index 3.*at least 4"):
        convex_hulls(X, np.array([0, 0, 3, 3]), 2)
    with pytest.raises(ValueError, match=r"cluster_index must have shape \(4,\)"):
        convex_hulls(X, np.array([0, 0, 0]))
    with pytest.raises(ValueError, match="dtype <U1"):
        convex_hulls(X, np.array(["a", "a", "b", "b"]))
    # whole-number floats are indices
    area, _, _ = convex_hulls(X, np.zeros(4))
    assert area.tolist() == [100.0]


@pytest.mark.parametrize("background", [None, "x", 0.5, True])
def test_background_must_be_an_integer(background):
    X = np.array([[0, 0], [10, 0], [10, 10], [0, 10.0]])
    labels = np.array([-1, -1, 0, 0])
    with pytest.raises(TypeError, match="background must be an integer"):
        cluster_table(X, labels, background=background)
    with pytest.raises(TypeError, match="background must be an integer"):
        fov_summary(X, labels, background=background)
    with pytest.raises(TypeError, match="background must be an integer"):
        multiscale_cluster_table(X, np.column_stack([labels, labels]), background=background)
    # numpy integers are integers
    assert cluster_table(X, labels, background=np.int64(-1))["label"].tolist() == [0]


def test_uint64_labels_beyond_int64_are_an_error_not_background():
    X = np.array([[0, 0], [10, 0], [10, 10], [0, 10.0]])
    # 2**64 - 1 once wrapped to -1 and the 3-point cluster became background.
    labels = np.array([2**64 - 1] * 3 + [3], dtype=np.uint64)
    with pytest.raises(ValueError, match="18446744073709551615, which does not fit in a 64-bit"):
        cluster_table(X, labels)
    with pytest.raises(ValueError, match="does not fit in a 64-bit"):
        cluster_table(X, np.array([1e19, 1e19, 1.0, 1.0]))
    table = cluster_table(X, np.array([2**63 - 1] * 3 + [3], dtype=np.uint64))
    assert table["label"].tolist() == [3, 2**63 - 1]
    assert table["n_localizations"].tolist() == [1, 3]


def test_benchmark_labels_with_zero_as_background_are_flagged():
    # The benchmark's files mark background with 0; tabulated as they are, the
    # background would become one huge cluster without a word.
    X = np.array([[0.0, 0.0], [5000.0, 5000.0], [10.0, 10.0], [12.0, 10.0], [11.0, 12.0]])
    labels = np.array([0, 0, 1, 1, 1])
    with pytest.warns(UserWarning, match="labels has no -1 .*label 0 for 2 of 5"):
        cluster_table(X, labels)
    with pytest.warns(UserWarning, match="labels has no -1") as record:
        fov_summary(X, labels)
    assert len(record) == 1  # said once, not again by the table fov_summary computes
    # Given the table (as `sklearn-miro stats` does), cluster_table has said it already.
    with pytest.warns(UserWarning, match="labels has no -1") as record:
        table = cluster_table(X, labels)
        fov_summary(X, labels, table=table)
    assert len(record) == 1
    # With -1 present, or with background=0 given, nothing is said.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cluster_table(X, np.where(labels == 0, -1, labels))
        cluster_table(X, labels, background=0)


def test_fov_summary_refuses_a_table_of_other_data():
    X, y, g = make_gaussian_clusters(3, n_clusters=4, n_localizations=10, fov_size=600.0, random_state=0)
    table = cluster_table(X, y, g)
    np.testing.assert_array_equal(fov_summary(X, y, g, table=table)["n_clusters"],
                                  fov_summary(X, y, g)["n_clusters"])
    with pytest.raises(ValueError, match="table does not match labels"):
        fov_summary(X, y, g, table=cluster_table(X, y))  # computed without groups
    with pytest.raises(ValueError, match=r"table has clusters in FOV\(s\) \[10"):
        fov_summary(X, y, g, table=cluster_table(X, y, g + 10))
    with pytest.raises(ValueError, match="table does not match labels"):
        fov_summary(X, y, g, table=cluster_table(X, np.where(y == 0, -1, y), g))


def test_coordinate_columns_in_another_unit_are_refused():
    labels = [0, 0, 0]
    with pytest.raises(ValueError, match=r"are in 'um'; sklearn_miro works in nm"):
        cluster_table(pd.DataFrame({"x [um]": [0, 0.1, 0], "y [um]": [0, 0, 0.1]}), labels)
    with pytest.raises(ValueError, match=r"coordinate column 'x' but no y column"):
        cluster_table(pd.DataFrame({"x": [0, 100, 0], "frame": [1, 2, 3]}), labels)
    # Two columns of neutral names are still (x, y).
    table = cluster_table(pd.DataFrame({"a": [0, 100, 0], "b": [0, 0, 100]}), labels)
    assert table["centroid_x"].iloc[0] == pytest.approx(100 / 3)


def test_coordinates_in_um_are_named_not_tabulated_as_nm():
    # A review: cluster_table(X / 1000, ...) gave radii of 0.034 "nm" and 3.3e9 clusters per um^2.
    from sklearn_miro.datasets import make_benchmark_scenario

    X, y, fov = make_benchmark_scenario(2, n_fovs=2, random_state=0)
    with pytest.warns(UserWarning, match="median radius of gyration is 0.0331, far below a nanometre") as record:
        cluster_table(X / 1000, y, fov)
    assert record[0].filename == __file__
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cluster_table(X, y, fov)


def _old_fov_codes(groups, n):
    """The np.unique numbering that _fov_codes replaced (pd.factorize is ~10x faster on strings)."""
    uniques, codes = np.unique(groups, return_inverse=True)
    return uniques, codes.astype(np.int64).ravel()


@pytest.mark.parametrize(
    "groups",
    [
        np.array([3, -1, 3, 7, -1, 0], dtype=np.int64),
        np.array([2, 1, 2], dtype=np.int32),
        np.array([2.5, -1.0, 2.5, 1e300, 0.0]),
        np.array(["b", "a", "c", "a", "B", "é", ""]),
        np.array(["b", "a", "c", "a", "B", "é", ""], dtype=object),
        np.array(["cell_10.csv", "cell_2.csv", "cell_10.csv", "cell_1.csv"], dtype=object),
        np.array([b"y", b"x", b"y"]),
        np.array([5, 2**70, -3, 5], dtype=object),  # Python ints beyond int64
        np.array([True, False, True]),
        np.array(["only"] * 4, dtype=object),
    ],
    ids=["int64", "int32", "float", "unicode", "object-str", "file-names", "bytes", "object-int", "bool", "one"],
)
def test_fov_codes_match_np_unique(groups):
    from sklearn_miro._validation import check_groups
    from sklearn_miro.analysis import _fov_codes

    groups = check_groups(groups, len(groups))
    uniques, codes = _fov_codes(groups, len(groups))
    old_uniques, old_codes = _old_fov_codes(groups, len(groups))
    assert uniques.dtype == old_uniques.dtype
    assert uniques.tolist() == old_uniques.tolist()
    assert codes.dtype == np.int64
    np.testing.assert_array_equal(codes, old_codes)


def test_string_fov_ids_give_the_same_tables_as_before(monkeypatch):
    import sklearn_miro.analysis as analysis

    X, labels, fov = make_gaussian_clusters(4, n_clusters=(3, 6), n_localizations=(5, 20), random_state=1)
    names = np.array(["fov_b.csv", "fov_a.csv", "FOV_c.csv", "fov_10.csv"])
    for groups in (names[fov], names.astype(object)[fov]):
        table, summary = cluster_table(X, labels, groups), fov_summary(X, labels, groups)
        with monkeypatch.context() as m:
            m.setattr(analysis, "_fov_codes", _old_fov_codes)
            old_table, old_summary = cluster_table(X, labels, groups), fov_summary(X, labels, groups)
        pd.testing.assert_frame_equal(table, old_table)
        pd.testing.assert_frame_equal(summary, old_summary)
        assert summary["fov"].tolist() == sorted(names.tolist())


@pytest.mark.parametrize(
    "groups, message",
    [
        (np.array(["a", None, "b"], dtype=object), "None or NaN .* at position 1"),
        (np.array(["a", "b", float("nan")], dtype=object), "None or NaN .* at position 2"),
        (np.array([1.0, float("inf")], dtype=object), "None or NaN .* at position 1"),
        (np.array([1, "a"], dtype=object), "mixes FOV ids"),
        (np.array(["a", np.str_("a")], dtype=object), "mixes FOV ids"),
    ],
)
def test_check_groups_rejects_missing_and_mixed_object_ids(groups, message):
    from sklearn_miro._validation import check_groups

    with pytest.raises(ValueError, match=message):
        check_groups(groups, len(groups))


@pytest.mark.parametrize("position", [(0.0, 0.0), (0.1, 0.3), (54321.7, 38025.19)])
def test_localisations_at_one_position_have_no_shape(position):
    # sum / n of the raw coordinates does not round back to them: such a cluster once got
    # eccentricity 1, radial spread 0 and arc resultant 1 instead of its documented values.
    table = cluster_table(np.array([position] * 3), np.zeros(3, int), check_units=False)
    row = table.iloc[0]
    assert row["radius_of_gyration"] == 0.0
    assert np.isnan(row["eccentricity"]) and np.isnan(row["radial_spread"])
    assert row["arc_resultant"] == 0.0
    assert (row["centroid_x"], row["centroid_y"]) == position


def test_fov_summary_refuses_a_table_of_other_clusters_with_the_same_totals():
    square = np.array([[0, 0], [10, 0], [0, 10], [10, 10.0]])
    X = np.vstack([square, square + 100, square + 300])
    y = np.repeat([1, 2, 3], 4)
    merged = cluster_table(X, np.repeat([1, 1, 3], 4))  # 12 clustered localisations, like y
    with pytest.raises(ValueError, match="table does not match labels"):
        fov_summary(X, y, table=merged)
    # the right table is accepted in any row order
    shuffled = cluster_table(X, y).sample(frac=1, random_state=0)
    assert fov_summary(X, y, table=shuffled)["n_clusters"].tolist() == [3]


# --------------------------------------------------------------------------- #
# Memory: the blocked passes give the former whole-array tables bit for bit
# --------------------------------------------------------------------------- #
# The former implementation (two np.unique for the clusters, every per-
# localisation quantity as a whole array, an (n, 8) projection array for the
# hull filter: about 160 bytes per localisation beyond the input), kept here
# as the reference of the blocked one.
_FORMER_DIRECTIONS = np.array([[np.cos(t), np.sin(t)] for t in np.arange(8) * np.pi / 4])


def _former_outside_extreme_polygon(rel, index):
    n = rel.shape[0]
    if n == 0:
        return np.zeros(0, dtype=bool)
    order = np.argsort(index, kind="stable")
    sorted_index = index[order]
    starts = np.flatnonzero(np.r_[True, sorted_index[1:] != sorted_index[:-1]])
    counts = np.diff(np.r_[starts, n])
    points = rel[order]
    projection = points @ _FORMER_DIRECTIONS.T
    best = np.maximum.reduceat(projection, starts, axis=0)
    rows, directions = np.nonzero(projection == np.repeat(best, counts, axis=0))
    segment = np.repeat(np.arange(starts.size), counts)
    owner = np.empty((starts.size, 8), dtype=np.int64)
    owner[segment[rows], directions] = rows
    vertices = points[owner]
    inside = np.ones(n, dtype=bool)
    for d in range(8):
        start = np.repeat(vertices[:, d], counts, axis=0)
        edge = np.repeat(vertices[:, (d + 1) % 8] - vertices[:, d], counts, axis=0)
        cross = edge[:, 0] * (points[:, 1] - start[:, 1]) - edge[:, 1] * (points[:, 0] - start[:, 0])
        inside &= (cross > 0) | ((edge[:, 0] == 0) & (edge[:, 1] == 0))
    inside[owner.ravel()] = False
    outside = np.empty(n, dtype=bool)
    outside[order] = ~inside
    return outside


def _former_hulls(X, index, n_clusters, centers=None):
    area, perimeter = np.zeros(n_clusters), np.zeros(n_clusters)
    n_vertices = np.zeros(n_clusters, dtype=np.int64)
    if index.size == 0:
        return area, perimeter, n_vertices
    counts = np.bincount(index, minlength=n_clusters)
    if centers is None:
        centers = np.column_stack(
            [np.bincount(index, weights=X[:, a], minlength=n_clusters) for a in (0, 1)]
        ) / np.maximum(counts, 1)[:, None]
    rel = X - centers[index]
    radius2 = np.einsum("ij,ij->i", rel, rel)
    angle = np.arctan2(rel[:, 1], rel[:, 0])
    sxx = np.bincount(index, weights=rel[:, 0] ** 2, minlength=n_clusters)
    syy = np.bincount(index, weights=rel[:, 1] ** 2, minlength=n_clusters)
    sxy = np.bincount(index, weights=rel[:, 0] * rel[:, 1], minlength=n_clusters)
    flat = (counts < 3) | (sxx * syy - sxy**2 <= 1e-12 * (sxx + syy) ** 2)
    candidates = np.flatnonzero(_former_outside_extreme_polygon(rel, index) & ~flat[index])
    order = candidates[np.lexsort((-radius2[candidates], angle[candidates], index[candidates]))]
    keep = ~flat[index[order]]
    same_ray = np.zeros(order.size, dtype=bool)
    same_ray[1:] = (index[order][1:] == index[order][:-1]) & (angle[order][1:] == angle[order][:-1])
    keep &= ~same_ray
    idx = order[keep]
    cid = index[idx]
    px, py = rel[idx, 0], rel[idx, 1]
    while idx.size:
        n = cid.size
        start = np.ones(n, dtype=bool)
        start[1:] = cid[1:] != cid[:-1]
        end = np.ones(n, dtype=bool)
        end[:-1] = start[1:]
        first, last = np.flatnonzero(start), np.flatnonzero(end)
        seg = np.cumsum(start) - 1
        size = (last - first + 1)[seg]
        position = np.arange(n)
        prev = np.where(start, last[seg], position - 1)
        nxt = np.where(end, first[seg], position + 1)
        cross = (px - px[prev]) * (py[nxt] - py) - (py - py[prev]) * (px[nxt] - px)
        remove = (cross <= 0) & (size > 3)
        if not remove.any():
            break
        keep = ~remove
        too_few = np.bincount(seg, weights=keep, minlength=first.size)[seg] < 3
        if too_few.any():
            keep |= too_few & (cross > 0)
        if keep.all():
            break
        px, py, cid, idx = px[keep], py[keep], cid[keep], idx[keep]
    if idx.size:
        n = cid.size
        start = np.ones(n, dtype=bool)
        start[1:] = cid[1:] != cid[:-1]
        end = np.ones(n, dtype=bool)
        end[:-1] = start[1:]
        seg = np.cumsum(start) - 1
        nxt = np.where(end, np.flatnonzero(start)[seg], np.arange(n) + 1)
        area += 0.5 * np.bincount(cid, weights=px * py[nxt] - px[nxt] * py, minlength=n_clusters)
        perimeter += np.bincount(cid, weights=np.hypot(px[nxt] - px, py[nxt] - py), minlength=n_clusters)
        n_vertices += np.bincount(cid, minlength=n_clusters)
    if flat.any():
        theta = 0.5 * np.arctan2(2 * sxy, sxx - syy)
        along = rel[:, 0] * np.cos(theta[index]) + rel[:, 1] * np.sin(theta[index])
        top, bottom = np.full(n_clusters, -np.inf), np.full(n_clusters, np.inf)
        np.maximum.at(top, index, along)
        np.minimum.at(bottom, index, along)
        length = np.where(counts > 0, top - bottom, 0.0)
        area[flat] = 0.0
        perimeter[flat] = 2.0 * length[flat]
        n_vertices[flat] = np.where(length[flat] > 0, 2, np.minimum(counts[flat], 1))
    return area, perimeter, n_vertices


def _former_mode(cluster, values, n_clusters):
    uniques, codes = np.unique(values, return_inverse=True)
    span = uniques.size
    key = cluster.astype(np.int64) * span + codes.ravel().astype(np.int64)
    if key.size == 0:
        return uniques[:0]
    pairs, counts = np.unique(key, return_counts=True)
    pair_cluster, pair_code = pairs // span, pairs % span
    order = np.lexsort((pair_code, -counts, pair_cluster))
    first = order[np.r_[True, pair_cluster[order][1:] != pair_cluster[order][:-1]]]
    best = np.zeros(n_clusters, dtype=np.int64)
    best[pair_cluster[first]] = pair_code[first]
    return uniques[best]


def _former_cluster_table(X, fine, groups=None, *, shapes=None, coarse=None, background=-1):
    """The former cluster_table on validated arrays (float64 X, int64 labels)."""
    from scipy.spatial import cKDTree

    from sklearn_miro.analysis import CLUSTER_TABLE_UNITS

    if groups is None:
        fov_values, fov_codes = np.zeros(1, dtype=np.int64), np.zeros(len(X), dtype=np.int64)
    else:
        fov_values, fov_codes = np.unique(np.asarray(groups), return_inverse=True)
    mask = fine != background
    lab, fov = fine[mask], fov_codes[mask].ravel()
    if lab.size:
        label_values, label_codes = np.unique(lab, return_inverse=True)
        span = label_values.size
        uniq, cluster = np.unique(fov * span + label_codes.ravel(), return_inverse=True)
        cluster, pair_fov, pair_label = cluster.ravel(), uniq // span, label_values[uniq % span]
    else:
        cluster = pair_fov = pair_label = np.empty(0, dtype=np.int64)
    k = pair_label.size
    points = X[mask]
    sizes = np.bincount(cluster, minlength=k).astype(np.int64)
    reference = np.zeros((k, 2))
    reference[cluster] = points
    offsets = points - reference[cluster]
    mean_offset = np.column_stack(
        [np.bincount(cluster, weights=offsets[:, a], minlength=k) for a in (0, 1)]
    ) / np.maximum(sizes, 1)[:, None]
    centers = reference + mean_offset
    rel = offsets - mean_offset[cluster]
    sxx = np.bincount(cluster, weights=rel[:, 0] ** 2, minlength=k) / np.maximum(sizes, 1)
    syy = np.bincount(cluster, weights=rel[:, 1] ** 2, minlength=k) / np.maximum(sizes, 1)
    sxy = np.bincount(cluster, weights=rel[:, 0] * rel[:, 1], minlength=k) / np.maximum(sizes, 1)
    half_trace = 0.5 * (sxx + syy)
    root = np.sqrt((0.5 * (sxx - syy)) ** 2 + sxy**2)
    major, minor = half_trace + root, np.maximum(half_trace - root, 0.0)
    n = np.maximum(sizes, 1)
    r = np.hypot(rel[:, 0], rel[:, 1])
    r_mean = np.bincount(cluster, weights=r, minlength=k) / n
    r_var = np.maximum(np.bincount(cluster, weights=r**2, minlength=k) / n - r_mean**2, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        eccentricity = np.sqrt(np.clip(1.0 - minor / major, 0.0, 1.0))
        unit = np.where(r[:, None] > 0, rel / r[:, None], 0.0)
        spread = np.where((sizes > 1) & (r_mean > 0), np.sqrt(r_var) / r_mean, np.nan)
    resultant = np.hypot(np.bincount(cluster, weights=unit[:, 0], minlength=k),
                         np.bincount(cluster, weights=unit[:, 1], minlength=k)) / n
    orientation = 0.5 * np.arctan2(2 * sxy, sxx - syy)
    orientation = np.where(orientation <= -np.pi / 2, orientation + np.pi, orientation)
    area, perimeter, _ = _former_hulls(points, cluster, k, centers)
    with np.errstate(invalid="ignore", divide="ignore"):
        density = np.where(area > 0, sizes / area * 1e6, np.nan)
    nn = np.full(k, np.nan)
    for f in np.unique(pair_fov):
        members = np.flatnonzero(pair_fov == f)
        if members.size > 1:
            nn[members] = cKDTree(centers[members]).query(centers[members], k=2)[0][:, 1]
    columns = {
        "fov": fov_values[pair_fov] if k else fov_values[:0], "label": pair_label, "n_localizations": sizes,
        "centroid_x": centers[:, 0], "centroid_y": centers[:, 1], "radius_of_gyration": np.sqrt(sxx + syy),
        "hull_area": area, "hull_perimeter": perimeter, "density_per_um2": density,
        "major_std": np.sqrt(major), "minor_std": np.sqrt(minor), "eccentricity": eccentricity,
        "orientation": orientation, "radial_spread": spread, "arc_resultant": resultant, "nn_distance": nn,
    }
    if shapes is not None:
        columns["shape"] = _former_mode(cluster, shapes[mask], k) if k else shapes[:0]
    if coarse is not None:
        parent = _former_mode(cluster, coarse[mask], k) if k else coarse[:0]
        inside = parent != background
        n_in_parent = np.zeros(k, dtype=np.int64)
        if inside.any():
            parent_values, parent_codes = np.unique(parent[inside], return_inverse=True)
            key = pair_fov[inside] * parent_values.size + parent_codes.ravel().astype(np.int64)
            _, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
            n_in_parent[inside] = counts[inverse.ravel()]
        columns["parent_label"], columns["n_in_parent"] = parent, n_in_parent
    table = pd.DataFrame(columns)
    table.attrs["units"] = {c: CLUSTER_TABLE_UNITS[c] for c in table.columns}
    return table


def _awkward_data(seed, kind, n, n_fovs, background):
    """Localisations with background, singletons, duplicates, identical points, several FOVs."""
    rng = np.random.default_rng(seed)
    k = int(rng.integers(1, 25))
    labels = rng.integers(0, k, n)
    if kind == "singletons":  # many clusters of one or two localisations
        labels = rng.integers(0, max(n, 1), n)
    labels = np.where(rng.random(n) < rng.uniform(0, 0.6), background, labels + (background == 0))
    if kind == "no cluster":
        labels[:] = background
    centres = rng.uniform(0, 4000, (max(n, 1) + k, 2))
    X = centres[labels % centres.shape[0]] + rng.normal(0, rng.uniform(0.5, 60), (n, 2))
    if kind == "grid":  # duplicates and collinear points
        X = np.round(X / 20) * 20
    elif kind == "identical" and n:  # half the localisations at one position
        X[: n // 2] = X[0]
    elif kind == "far":  # a stage offset of a billion nanometres
        X = X + rng.uniform(-1e9, 1e9, 2)
    groups = None if n_fovs == 0 else rng.integers(0, n_fovs, n) * 3 - 2
    parent = np.where(rng.random(n) < 0.3, background, rng.integers(1, 5, n))
    shapes = rng.choice(["arc", "ring", "spot"], n)
    return X, labels, groups, parent, shapes


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    kind=st.sampled_from(["blobs", "singletons", "grid", "identical", "far", "no cluster"]),
    n=st.integers(1, 300),
    n_fovs=st.integers(0, 4),
    background=st.sampled_from([-1, 0]),
    block=st.sampled_from([2, 3, 7, 64, None]),
)
def test_blocked_cluster_table_equals_the_former_whole_array_one(seed, kind, n, n_fovs, background, block):
    # Blocks of a few rows split clusters, so the sums carried from block to
    # block (and the octagon filter's three passes) are exercised everywhere.
    import sklearn_miro.analysis as analysis

    X, labels, groups, parent, shapes = _awkward_data(seed, kind, n, n_fovs, background)
    saved = analysis._BLOCK_ROWS
    analysis._BLOCK_ROWS = saved if block is None else block
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # sub-nm radii, label 0 not background
            table = cluster_table(X, labels, groups, shapes=shapes, parent_labels=parent, background=background)
            plain = cluster_table(X, labels, groups, background=background)
            summary = fov_summary(X, labels, groups, background=background)
            hulls = convex_hulls(X, labels % 11)
    finally:
        analysis._BLOCK_ROWS = saved
    former = _former_cluster_table(X, labels, groups, shapes=shapes, coarse=parent, background=background)
    pd.testing.assert_frame_equal(table, former, check_exact=True)
    pd.testing.assert_frame_equal(plain, former.iloc[:, :16], check_exact=True)
    # fov_summary's own table, and the former table passed in, give one summary.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pd.testing.assert_frame_equal(
            summary, fov_summary(X, labels, groups, background=background, table=former.iloc[:, :16]),
            check_exact=True)
    for got, want in zip(hulls, _former_hulls(X, (labels % 11).astype(np.int64), 11)):
        np.testing.assert_array_equal(got, want[: got.size])


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    dtype=st.sampled_from([np.int64, np.int32, np.int16, np.uint8, np.uint64]),
    spread=st.sampled_from([1, 5, 1000, 2**40]),
)
def test_integer_fov_codes_are_np_uniques(seed, dtype, spread):
    from sklearn_miro.analysis import _fov_codes

    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 200))
    info = np.iinfo(dtype)
    low = max(info.min, -spread)
    high = min(info.max, spread)
    groups = rng.integers(low, high, n, endpoint=True, dtype=np.int64).astype(dtype)
    uniques, codes = _fov_codes(groups, n)
    want_uniques, want_codes = np.unique(groups, return_inverse=True)
    assert uniques.dtype == want_uniques.dtype and codes.dtype == np.int64
    np.testing.assert_array_equal(uniques, want_uniques)
    np.testing.assert_array_equal(codes, want_codes)


def test_cluster_table_peak_memory_is_a_few_dozen_bytes_per_localisation():
    # The former implementation peaked at about 250 bytes per localisation
    # (10^6 in 10^4 clusters, 10 FOVs), 32 of them the validated copies of X,
    # labels and groups; the blocked one at about 48 (benchmarks/memory_scale.py).
    import tracemalloc

    rng = np.random.default_rng(0)
    n, k = 200_000, 2_000
    labels = np.where(rng.random(n) < 0.2, -1, rng.integers(0, k, n))
    X = rng.uniform(0, 30_000, (k, 2))[labels % k] + rng.normal(0, 20, (n, 2))
    groups = rng.integers(0, 5, n)
    tracemalloc.start()
    try:
        cluster_table(X, labels, groups)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 110 * n, f"{peak / n:.0f} bytes per localisation"
