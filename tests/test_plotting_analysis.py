"""Plots of cluster statistics, density maps and parameter helpers (Agg backend)."""

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

from matplotlib.figure import Figure  # noqa: E402

from sklearn_miro.analysis import cluster_table  # noqa: E402
from sklearn_miro.datasets import (  # noqa: E402
    add_blinking,
    blink_frames,
    make_gaussian_clusters,
)
from sklearn_miro.parameters import nena, suggest_eps  # noqa: E402
from sklearn_miro.plotting import (  # noqa: E402
    plot_cluster_statistics,
    plot_density_map,
    plot_k_distance,
    plot_nena,
)


@pytest.fixture(scope="module")
def data():
    return make_gaussian_clusters(2, n_clusters=15, n_localizations=(10, 40), random_state=0)


def test_cluster_statistics_overlay(data, tmp_path):
    X, labels, fov = data
    truth = cluster_table(X, labels, fov)
    merged = cluster_table(X, np.where(labels >= 0, labels // 2, -1), fov)
    fig = plot_cluster_statistics({"truth": truth, "merged": merged})
    assert isinstance(fig, Figure) and len(fig.axes) == 3
    for axis in fig.axes:
        assert len(axis.patches) == 2  # one step histogram per table
        texts = [t.get_text() for t in axis.get_legend().get_texts()]
        assert texts[0].startswith("truth: median") and texts[1].startswith("merged:")
    heights = fig.axes[1].patches[0].get_path().vertices
    assert np.all(np.isfinite(heights))
    fig.savefig(tmp_path / "stats.png")
    with pytest.raises(ValueError, match="has no column"):
        plot_cluster_statistics(truth, columns=["radius"])
    single = plot_cluster_statistics(truth, columns="hull_area", density=False)
    counts = single.axes[0].patches[0].get_path().vertices[:, 1]
    assert counts.max() <= len(truth)


def test_density_map_counts(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 100_000, (1_000_000, 2))
    groups = np.repeat([0, 1], 500_000)
    fig = plot_density_map(X, groups, fov=1, pixel_size=100.0)
    image = fig.axes[0].images[0].get_array()
    assert image.sum() == 500_000
    assert image.shape == (1000, 1000)
    fig.savefig(tmp_path / "map.png")
    with pytest.raises(ValueError, match="No localisation has FOV id"):
        plot_density_map(X, groups, fov=7)
    with pytest.raises(ValueError, match="pixel_size"):
        plot_density_map(X, pixel_size=0)


def test_parameter_plots(data):
    X, labels, fov = data
    fig = plot_k_distance(suggest_eps(X, 5, fov))
    assert "eps" in fig.axes[0].get_legend().get_texts()[0].get_text()
    Xb, molecule = add_blinking(X, np.arange(len(X)), random_state=0, localization_precision=10)
    result = nena(Xb, blink_frames(molecule, random_state=0))
    fig = plot_nena(result)
    texts = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert any(t.startswith("fit: precision") for t in texts)
