"""Tests of sklearn_miro.plotting (skipped when matplotlib is missing)."""

import numpy as np
import pandas as pd
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

from matplotlib.colors import to_rgba  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from sklearn_miro.datasets import (  # noqa: E402
    make_cluster_pairs,
    make_gaussian_clusters,
    make_multishape,
    make_npc,
    make_rings,
)
from sklearn_miro.plotting import (  # noqa: E402
    BACKGROUND_COLOR,
    cluster_colors,
    plot_clusters,
    plot_density_map,
    plot_displacements,
    plot_metrics,
)


@pytest.fixture(autouse=True)
def no_pyplot(monkeypatch):
    """The functions must neither show figures nor leave pyplot figures behind."""
    import matplotlib.pyplot as plt

    def forbidden(*args, **kwargs):
        raise AssertionError("plt.show() must not be called")

    monkeypatch.setattr(plt, "show", forbidden)
    before = plt.get_fignums()
    yield
    assert plt.get_fignums() == before


@pytest.fixture(scope="module")
def rings():
    return make_rings(n_fovs=1, n_clusters=5, n_localizations=30, fov_size=2000.0, random_state=0)


def saved_png(fig, path):
    fig.savefig(path, dpi=40)
    data = path.read_bytes()
    return data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 1000


def test_plot_clusters_single_panel(rings, tmp_path):
    X, y, _ = rings
    fig = plot_clusters(X, y, title="rings")
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    ax = fig.axes[0]
    assert ax.get_title() == "rings" and ax.get_xlabel() == "x (nm)"
    assert ax.get_aspect() == 1.0
    # Background first (underneath) and grey; then every clustered point.
    background, clusters = ax.collections
    assert background.get_zorder() < clusters.get_zorder()
    assert len(background.get_offsets()) == np.sum(y == -1)
    assert len(clusters.get_offsets()) == np.sum(y >= 0)
    np.testing.assert_allclose(background.get_facecolors()[0], to_rgba(BACKGROUND_COLOR))
    assert saved_png(fig, tmp_path / "rings.png")


def test_side_by_side_panels(rings, tmp_path):
    X, y, _ = rings
    noisy = np.where(np.arange(len(y)) % 7 == 0, -1, y)
    fig = plot_clusters(X, {"DBSCAN": noisy, "MIRO": y, "ground truth": y})
    assert [ax.get_title() for ax in fig.axes] == ["DBSCAN", "MIRO", "ground truth"]
    assert saved_png(fig, tmp_path / "panels.png")
    fig = plot_clusters(X, [y, noisy])
    assert len(fig.axes) == 2


def test_shape_classes_get_a_legend(tmp_path):
    X, y, _, shape = make_multishape(("spot", "ring"), n_clusters=3, random_state=1)
    fig = plot_clusters(X, shape)
    legend = fig.axes[0].get_legend()
    assert sorted(t.get_text() for t in legend.get_texts()) == ["background", "ring", "spot"]
    assert saved_png(fig, tmp_path / "shapes.png")


def test_many_clusters_get_many_colours_and_never_grey():
    labels = np.r_[np.arange(200), -1]
    colors = cluster_colors(labels)
    clustered = colors[:-1]
    assert len({tuple(c) for c in clustered[:50]}) == 50  # 50 first clusters all distinct
    grey = np.abs(clustered[:, :3].max(axis=1) - clustered[:, :3].min(axis=1)) < 0.08
    assert not grey.any()
    np.testing.assert_allclose(colors[-1], to_rgba(BACKGROUND_COLOR))


def test_draws_into_given_axes(rings):
    X, y, _ = rings
    fig = Figure()
    axes = fig.subplots(1, 2)
    assert plot_clusters(X, {"a": y, "b": y}, ax=axes) is fig
    with pytest.raises(ValueError, match="holds 1 Axes but 2 panel"):
        plot_clusters(X, {"a": y, "b": y}, ax=axes[0])


def test_plot_clusters_errors(rings):
    X, y, _ = rings
    with pytest.raises(ValueError, match=r"has \d+ labels but X has \d+ localisations.*one label per localisation"):
        plot_clusters(X, y[:-1])
    with pytest.raises(ValueError, match="empty dict"):
        plot_clusters(X, {})
    with pytest.raises(ValueError, match="shape"):
        plot_clusters(np.zeros((5, 3)), None)
    with pytest.raises(ValueError, match="non-integer"):
        plot_clusters(X, y + 0.5)


def test_plot_displacements(rings, tmp_path):
    X, y, _ = rings
    centers = np.array([X[y == k].mean(axis=0) for k in range(y.max() + 1)])
    X_collapsed = np.where((y >= 0)[:, None], centers[np.maximum(y, 0)], X)
    before = X.copy()
    fig = plot_displacements(X, X_collapsed, y, max_arrows=40)
    np.testing.assert_array_equal(X, before)
    quiver = [c for c in fig.axes[0].collections if isinstance(c, matplotlib.quiver.Quiver)]
    assert len(quiver) == 1 and quiver[0].N == 40
    fig = plot_displacements(X, X_collapsed, min_displacement=1e-9)
    quiver = [c for c in fig.axes[0].collections if isinstance(c, matplotlib.quiver.Quiver)][0]
    assert quiver.N == np.sum(y >= 0)  # background does not move: no arrow
    assert saved_png(fig, tmp_path / "disp.png")
    with pytest.raises(ValueError, match="X_collapsed must have the shape"):
        plot_displacements(X, X_collapsed[:-1])
    with pytest.raises(ValueError, match="max_arrows"):
        plot_displacements(X, X_collapsed, max_arrows=-1)


@pytest.fixture
def metric_tables():
    rng = np.random.default_rng(0)
    return {
        "MIRO": pd.DataFrame({"ARI": rng.uniform(0.7, 0.9, 47), "IoU": rng.uniform(0.6, 0.8, 47), "fov": np.arange(47)}),
        "DBSCAN": pd.DataFrame({"ARI": rng.uniform(0.6, 0.8, 47), "IoU": rng.uniform(0.5, 0.7, 47), "fov": np.arange(47)}),
    }


def test_plot_metrics(metric_tables, tmp_path):
    fig = plot_metrics(metric_tables, metrics=["ARI", "IoU"])
    assert len(fig.axes) == 2 and [ax.get_title() for ax in fig.axes] == ["ARI", "IoU"]
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["MIRO", "DBSCAN"]
    # One point per FOV and method over the boxes.
    points = [c for c in fig.axes[0].collections if len(c.get_offsets()) == 47]
    assert len(points) == 2
    assert saved_png(fig, tmp_path / "metrics.png")
    # Default: every shared numeric column; long format with a 'method' column.
    assert len(plot_metrics(metric_tables).axes) == 3
    long = pd.concat([t.assign(method=m) for m, t in metric_tables.items()])
    assert len(plot_metrics(long, metrics="ARI").axes) == 1


def test_missing_matplotlib_says_what_to_install(rings, monkeypatch):
    import sys

    X, y, _ = rings
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)  # makes the import fail
    with pytest.raises(ImportError, match=r"pip install sklearn-miro\[plot\]"):
        plot_clusters(X, y)


def test_plot_metrics_defaults_to_the_paper_figure_metrics():
    rng = np.random.default_rng(1)
    columns = ["ari_dagger", "iou", "ji_c", "rmsre_n", "rmse_xy", "ami", "ari_c", "ari", "n_matched"]
    report = pd.DataFrame(rng.random((5, len(columns))), columns=columns)
    fig = plot_metrics({"MIRO": report, "DBSCAN": report * 0.9})
    assert [ax.get_title() for ax in fig.axes] == ["ARI$^\\dagger$", "IoU", "JI$_c$", "RMSRE$_N$"]
    # Without the full set, counts are left out.
    fig = plot_metrics({"MIRO": report[["ari", "ami", "n_matched"]]})
    assert [ax.get_title() for ax in fig.axes] == ["ARI", "AMI"]


def test_plot_metrics_errors(metric_tables):
    with pytest.raises(ValueError, match="non-empty dict"):
        plot_metrics({})
    with pytest.raises(ValueError, match=r"no column\(s\) \['JI_c'\]"):
        plot_metrics(metric_tables, metrics=["ARI", "JI_c"])
    with pytest.raises(ValueError, match="'method' column"):
        plot_metrics(metric_tables["MIRO"])
    with pytest.raises(ValueError, match="not numeric"):
        plot_metrics({"a": pd.DataFrame({"ARI": ["high"]})}, metrics=["ARI"])


def _class_colours(ax):
    """{legend label: RGBA} of a class panel's scatter collections."""
    return {c.get_label(): tuple(np.round(c.get_facecolor()[0], 6)) for c in ax.collections if c.get_label()}


def test_a_class_keeps_its_colour_in_every_panel_and_figure():
    X = np.array([[0, 0], [1, 1], [2, 2], [3, 3.0]])
    truth = np.array(["background", "ellipse", "spot", "spot"])
    predicted = np.array(["background", "spot", "spot", "spot"])  # no ellipse here
    fig = plot_clusters(X, {"truth": truth, "predicted": predicted})
    a, b = (_class_colours(ax) for ax in fig.axes)
    assert a["spot"] == b["spot"] and a["ellipse"] != a["spot"]
    # Across figures: the classifier's classes_ fix the order.
    classes = ["background", "ellipse", "spot"]
    alone = _class_colours(plot_clusters(X, predicted, classes=classes).axes[0])
    assert alone["spot"] == a["spot"]
    with pytest.raises(ValueError, match=r"class\(es\) \['ring'\] that classes="):
        plot_clusters(X, np.array(["ring"] * 4), classes=classes)


def test_labels_per_scale_give_one_panel_per_scale(rings):
    X, y, _ = rings
    fig = plot_clusters(X, np.column_stack([y, np.where(y >= 0, 0, -1)]))
    assert [ax.get_title() for ax in fig.axes] == ["scale 0", "scale 1"]
    with pytest.raises(ValueError, match=r"labels\[1\] has"):
        plot_clusters(X, [y, y[:-1]])
    with pytest.raises(ValueError, match="ncols must be a positive integer"):
        plot_metrics({"a": pd.DataFrame({"ARI": [0.5]})}, metrics=["ARI"], ncols=0)


def test_zero_as_background_is_named_once(rings):
    X, y, _ = rings
    shifted = np.where(y == -1, 0, y + 1)  # the benchmark files' convention
    with pytest.warns(UserWarning, match="uses label 0 for") as record:
        plot_clusters(X, {"a": shifted, "b": shifted})
    assert len([w for w in record if "uses label 0" in str(w.message)]) == 1
    assert record[0].filename == __file__
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        plot_clusters(X, y)
        plot_clusters(X, shifted, background_label=0)


def test_zero_spread_like_background_is_named_even_when_outnumbered():
    # NPC-like rings: the background (relabelled 0, as in the benchmark's files) holds
    # fewer localisations than the largest ring; it is spread over the whole FOV.
    X, y_scales, _ = make_npc(random_state=0)
    rings = y_scales[:, 1]
    shifted = np.where(rings == -1, 0, rings + 1)
    assert (shifted == 0).sum() < np.bincount(shifted[shifted > 0]).max()
    with pytest.warns(UserWarning, match=r"uses label 0 for \d+ of \d+ localisations, spread like "
                      r"background: .* nm.*pass background_label=0 or np\.where\(labels == 0, -1, labels\)"):
        plot_clusters(X, shifted)
    # Checked in every panel, and the panel is named.
    with pytest.warns(UserWarning, match="labels \\(panel 'truth'\\) has no -1"):
        plot_clusters(X, {"clusters": rings, "truth": shifted})


def test_labels_without_background_are_not_taken_for_zero_background():
    import warnings

    pairs = make_cluster_pairs(distance=2.0, random_state=1)
    one_pair = make_cluster_pairs(n_pairs=1, random_state=1)
    X, y, _ = make_gaussian_clusters(random_state=0)
    kept = y >= 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for X_, y_, _ in (pairs, one_pair, (X[kept], y[kept], None)):
            assert (y_ == 0).any() and not (y_ == -1).any()
            plot_clusters(X_, y_)
        # Integer classes without background: 0 is as spread as the other class.
        X_s, _, _, shape = make_multishape(random_state=0)
        in_cluster = shape != "background"
        plot_clusters(X_s[in_cluster], np.unique(shape[in_cluster], return_inverse=True)[1])
    # Whichever cluster is numbered 0.
    from sklearn_miro._validation import zero_background_evidence

    for k in np.unique(y[kept]):
        assert zero_background_evidence(X[kept], np.where(y[kept] == k, 0, y[kept] + 1)) is None


def test_density_map_image_is_bounded_for_a_huge_fov():
    # A 120 um FOV at the default 20 nm would be a 6000 x 6000 image (~2.5 GB
    # while rendering); the pixel is coarsened to 3 x 20 nm instead.
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 120_000, (10_000, 2))
    X[:2] = [[0, 0], [120_000, 60_000]]  # spans exactly 120 x 120 um / 120 x 60 um
    X[2] = [60_000, 120_000]
    fig = plot_density_map(X)
    image = fig.axes[0].images[0]
    counts = image.get_array()
    assert counts.shape == (2000, 2000)  # 120 um / 60 nm
    assert max(counts.shape) <= 2048
    assert counts.dtype == np.int32
    assert counts.sum() == len(X)
    x0, x1, y0, y1 = image.get_extent()
    assert np.isclose((x1 - x0) / counts.shape[1], 60.0)
    assert np.isclose((y1 - y0) / counts.shape[0], 60.0)
    label = fig.axes[1].get_ylabel()
    assert "per 60 nm pixel" in label and "coarsened" in label
    # The counts are those of a direct 60 nm histogram.
    expected, _, _ = np.histogram2d(X[:, 1], X[:, 0], bins=2000, range=[[0, 120_000], [0, 120_000]])
    np.testing.assert_array_equal(counts, expected)
    # A smaller cap gives a coarser, still complete image.
    small = plot_density_map(X, max_image_size=500).axes[0].images[0].get_array()
    assert small.shape == (500, 500) and small.sum() == len(X)


def test_density_map_keeps_the_pixel_size_of_a_small_fov():
    rng = np.random.default_rng(1)
    X = rng.uniform(0, 10_000, (5_000, 2))
    fig = plot_density_map(X, pixel_size=20.0)
    counts = fig.axes[0].images[0].get_array()
    assert max(counts.shape) == 500 and counts.sum() == len(X)
    label = fig.axes[1].get_ylabel()
    assert label == "localisations per 20 nm pixel"
    with pytest.raises(ValueError, match="max_image_size"):
        plot_density_map(X, max_image_size=0)
    with pytest.raises(ValueError, match="pixel_size"):
        plot_density_map(X, pixel_size=5e-324)
