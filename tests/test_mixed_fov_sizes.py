"""Labelled FOVs of very different sizes: a whole FOV and small boxes around single clusters.

Statistics over FOVs (density, spacing, side, crop templates, the mean scores
of the choices after the network) weight FOVs by area when their areas differ
by more than ``graph.AREA_WEIGHT_RATIO``, and stay plain medians / means
otherwise (the benchmark's FOVs, so no recorded fit changes).
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.cluster import DBSCAN

from sklearn_miro.augmentation import default_fov_size, prepare_training_set
from sklearn_miro.clustering import fov_area_weights, tune_dbscan
from sklearn_miro.datasets import make_benchmark_scenario
from sklearn_miro.graph import AREA_WEIGHT_RATIO, area_weights, default_connectivity_radius, weighted_median
from sklearn_miro.metrics import ari_dagger_ji_c_ami
from sklearn_miro.model import fov_statistics


@pytest.fixture(scope="module")
def mixed():
    """FOV 0 whole; boxes (2 RMS radii of margin) around 4 clusters of each of FOVs 1 and 2."""
    X, y, g = make_benchmark_scenario(2, n_fovs=3, random_state=0)
    parts = [(X[g == 0], y[g == 0])]
    for f in (1, 2):
        Xf, yf = X[g == f], y[g == f]
        for label in np.unique(yf[yf >= 0])[:4]:
            members = Xf[yf == label]
            rms = np.sqrt(((members - members.mean(0)) ** 2).sum(1).mean())
            box = np.all((Xf >= members.min(0) - 2 * rms) & (Xf <= members.max(0) + 2 * rms), axis=1)
            parts.append((Xf[box], yf[box]))
    Xm = np.concatenate([p[0] for p in parts])
    groups = np.concatenate([np.full(len(p[0]), i) for i, p in enumerate(parts)])
    ym = np.concatenate([p[1] for p in parts])
    ym = np.where(ym >= 0, ym + 1000 * groups, -1)
    fovs = [np.flatnonzero(groups == i) for i in range(len(parts))]
    return Xm, ym, fovs, X[g == 0], y[g == 0]


def test_area_weights_only_for_very_different_sizes():
    assert area_weights([1.0, 1.5, AREA_WEIGHT_RATIO]) is None
    assert area_weights([5.0]) is None
    assert area_weights([1.0, -1.0, 4.0]) is None and area_weights([1.0, np.nan, 4.0]) is None
    np.testing.assert_allclose(area_weights([1.0, 3.0]), [0.25, 0.75])
    # A flat FOV weighs nothing and does not make similar FOVs "different".
    assert area_weights([1.0, 1.5, 0.0]) is None and area_weights([1.0, 1.5, 1e-305]) is None
    np.testing.assert_allclose(area_weights([1.0, 0.0, 4.0]), [0.2, 0.0, 0.8])


@settings(max_examples=200, deadline=None)
@given(values=st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=20), data=st.data())
def test_weighted_median_properties(values, data):
    weights = np.array(data.draw(st.lists(st.floats(0.01, 100), min_size=len(values), max_size=len(values))))
    m = weighted_median(values, weights)
    assert min(values) <= m <= max(values) and m in values
    # At least half of the weight lies at or below it, and at or above it (up to the
    # function's relative tolerance at exact ties).
    values = np.array(values)
    assert weights[values <= m].sum() >= 0.5 * weights.sum() * (1 - 1e-9)
    assert weights[values >= m].sum() >= 0.5 * weights.sum() * (1 - 1e-9)
    # Scaling the weights changes nothing.
    assert weighted_median(values, 7.0 * weights) == m
    assert weighted_median(values, None) == np.median(values)


def test_statistics_of_mixed_sizes_describe_the_whole_fov(mixed):
    Xm, ym, fovs, X0, y0 = mixed
    whole = [np.arange(len(X0))]
    side, density = fov_statistics(Xm, fovs)
    whole_side, whole_density = fov_statistics(X0, whole)
    # A median over the 9 FOVs described the 8 boxes: side 153 nm, density 6.5 x the whole FOV's.
    assert side == whole_side
    assert whole_density <= density <= 1.5 * whole_density
    radius = default_connectivity_radius(Xm, fov_indices=fovs)
    assert 0.8 * default_connectivity_radius(X0) <= radius <= default_connectivity_radius(X0)
    crop = default_fov_size(prepare_training_set(Xm, ym, fov_indices=fovs), density)
    whole_crop = default_fov_size(prepare_training_set(X0, y0), whole_density)
    assert 0.8 * whole_crop <= crop <= whole_crop


def test_fovs_of_similar_size_keep_plain_medians():
    X, y, g = make_benchmark_scenario(2, n_fovs=3, random_state=0)
    fovs = [np.flatnonzero(g == f) for f in range(3)]
    spacing = [np.sqrt(np.prod(np.ptp(X[i], axis=0)) / len(i)) for i in fovs]
    assert default_connectivity_radius(X, fov_indices=fovs) == 3.5 * np.median(spacing)
    densities = [len(i) / np.prod(np.ptp(X[i], axis=0)) for i in fovs]
    assert fov_statistics(X, fovs)[1] == np.median(densities)
    assert fov_area_weights([X[i] for i in fovs]) is None


def test_the_dbscan_search_weights_fovs_by_area(mixed):
    Xm, ym, fovs, _, _ = mixed
    data = [(Xm[i], Xm[i], ym[i]) for i in fovs]
    weights = fov_area_weights([Xm[i] for i in fovs])
    assert weights is not None and weights[0] > 0.8  # the whole FOV
    (eps, ms, best), scores = tune_dbscan(data, [20.0, 40.0], [2, 8], score=ari_dagger_ji_c_ami,
                                          fov_weights=weights)
    for a, e in enumerate([20.0, 40.0]):
        for b, m in enumerate([2, 8]):
            per_fov = [ari_dagger_ji_c_ami(X, y, DBSCAN(eps=e, min_samples=m).fit_predict(X)) for X, _, y in data]
            assert scores[a, b] == pytest.approx(np.average(per_fov, weights=weights))
    assert best == scores.max()


def test_fov_median_weights_like_the_search(mixed):
    from sklearn_miro.clustering import fov_median

    Xm, _, fovs, _, _ = mixed
    X_fovs = [Xm[i] for i in fovs]
    values = np.arange(len(fovs), dtype=float)  # FOV 0, the whole one, has the smallest value
    assert fov_median(values, X_fovs) == 0.0  # its area outweighs the eight boxes
    similar = X_fovs[1:3]
    assert fov_median([1.0, 3.0], similar) == np.median([1.0, 3.0])
    assert fov_median([np.nan, 3.0], similar) == 3.0
    assert np.isnan(fov_median([np.nan, np.nan], similar))
