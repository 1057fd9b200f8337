"""Metrics that scale: translation invariance, sparse matching, AMI beyond scikit-learn's reach."""

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist
from sklearn.metrics import adjusted_mutual_info_score
from sklearn.metrics.cluster import contingency_matrix

from sklearn_miro.metrics import clustering_report, iou
from sklearn_miro.metrics.core import centroid_matching, expected_mutual_information


def _fov(rng, n_clusters=40, side=3000.0):
    centres = rng.uniform(0, side, (n_clusters, 2))
    X = np.concatenate([np.repeat(centres, 25, axis=0) + rng.normal(0, 30, (25 * n_clusters, 2)),
                        rng.uniform(0, side, (500, 2))])
    y = np.r_[np.repeat(np.arange(n_clusters), 25), -np.ones(500, dtype=int)]
    pred = y.copy()
    flip = rng.random(y.size) < 0.1
    pred[flip] = rng.integers(-1, n_clusters, flip.sum())
    # exactly representable after a shift by 2^30: multiples of 1/64 nm
    return np.round(X * 64) / 64, y, pred


def test_a_fov_far_from_the_origin_gives_the_same_report():
    X, y, pred = _fov(np.random.default_rng(0))
    here = clustering_report(X, y, pred, X_collapsed=X * 0.5)
    far = clustering_report(X + 2.0**30, y, pred, X_collapsed=X * 0.5 + 2.0**30)
    np.testing.assert_allclose(far.to_numpy(float), here.to_numpy(float), rtol=1e-12, atol=1e-12)


def test_iou_at_a_billion_nanometres_is_cheap_and_unchanged():
    X, y, pred = _fov(np.random.default_rng(1))
    assert iou(X + 2.0**30, y, pred) == iou(X, y, pred)


def test_report_in_parallel_equals_the_sequential_one():
    rng = np.random.default_rng(2)
    parts = [_fov(rng, n_clusters=10, side=1000.0) for _ in range(4)]
    X = np.concatenate([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    pred = np.concatenate([p[2] for p in parts])
    groups = np.repeat(np.arange(4), [len(p[0]) for p in parts])
    sequential = clustering_report(X, y, pred, groups=groups)
    parallel = clustering_report(X, y, pred, groups=groups, n_jobs=2)
    np.testing.assert_array_equal(parallel.to_numpy(float), sequential.to_numpy(float))


@pytest.mark.parametrize("seed", range(15))
def test_component_wise_matching_is_the_full_assignment(seed):
    rng = np.random.default_rng(seed)
    n_true, n_pred = rng.integers(1, 60, 2)
    true_c = rng.uniform(0, 400, (n_true, 2))
    k = min(n_true, n_pred) // 2
    pred_c = np.concatenate([true_c[:k] + rng.normal(0, 12, (k, 2)),
                             rng.uniform(0, 400, (n_pred - k, 2))])
    thresholds = rng.uniform(5, 40, n_true)
    distances = cdist(true_c, pred_c)
    allowed = distances <= thresholds[:, None]
    forbidden = (min(n_true, n_pred) + 1) * ((distances[allowed].max() if allowed.any() else 0) + 1)
    r, c = linear_sum_assignment(np.where(allowed, distances, forbidden))
    keep = allowed[r, c]
    rows, cols = centroid_matching(true_c, pred_c, thresholds)
    assert rows.size == keep.sum()  # as many true positives
    assert distances[rows, cols].sum() == pytest.approx(distances[r[keep], c[keep]].sum(), abs=1e-9)
    assert np.all(distances[rows, cols] <= thresholds[rows])


@pytest.mark.parametrize("seed", range(6))
def test_matching_with_many_small_components_is_the_full_assignment(seed):
    # Over-split predictions (two or three predicted centroids near each true
    # one) give many components of several pairs, each solved on its own with
    # its clusters renumbered in one vectorised pass: the same number of true
    # positives and total distance as one assignment over everything.
    rng = np.random.default_rng(seed)
    true_c = np.stack(np.meshgrid(np.arange(8), np.arange(8)), -1).reshape(-1, 2) * 100.0
    copies = rng.integers(1, 4, len(true_c))
    pred_c = np.repeat(true_c, copies, axis=0) + rng.normal(0, 8, (copies.sum(), 2))
    pred_c = pred_c[rng.permutation(len(pred_c))]
    thresholds = rng.uniform(10, 30, len(true_c))
    distances = cdist(true_c, pred_c)
    allowed = distances <= thresholds[:, None]
    forbidden = (len(true_c) + 1) * (distances[allowed].max() + 1)
    r, c = linear_sum_assignment(np.where(allowed, distances, forbidden))
    keep = allowed[r, c]
    rows, cols = centroid_matching(true_c, pred_c, thresholds)
    assert rows.size == keep.sum() and np.all(np.diff(rows) > 0) and len(set(cols)) == cols.size
    assert distances[rows, cols].sum() == pytest.approx(distances[r[keep], c[keep]].sum(), abs=1e-9)


@pytest.mark.parametrize("seed", range(10))
def test_grouped_expected_mutual_information_is_scikit_learns(seed):
    from sklearn.metrics.cluster._expected_mutual_info_fast import expected_mutual_information as emi

    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 3000))
    a = rng.integers(0, rng.integers(1, 80), n)
    b = rng.integers(0, rng.integers(1, 80), n)
    table = contingency_matrix(a, b, sparse=True)
    expected = emi(table, n)
    ours = expected_mutual_information(np.asarray(table.sum(axis=1)).ravel(),
                                       np.asarray(table.sum(axis=0)).ravel())
    assert ours == pytest.approx(expected, rel=1e-10, abs=1e-12)


@pytest.mark.parametrize("seed", range(6))
def test_expected_mutual_information_is_the_same_cached_chunked_or_fresh(seed, monkeypatch):
    # Each pair of sizes' term is kept for later calls (a DBSCAN grid search
    # scores thousands of labellings of one FOV): a warm cache, small chunks
    # and a cache cleared when full all give the value computed from nothing,
    # to the last bit, and scikit-learn's to rounding.
    from sklearn.metrics.cluster._expected_mutual_info_fast import expected_mutual_information as emi

    from sklearn_miro.metrics import core

    rng = np.random.default_rng(seed)
    n = int(rng.integers(50, 2000))
    truth = rng.integers(0, rng.integers(2, 40), n)
    sums = []
    for _ in range(5):
        pred = rng.integers(0, rng.integers(2, 40), n)
        table = contingency_matrix(truth, pred, sparse=True)
        sums.append((np.asarray(table.sum(axis=1)).ravel(), np.asarray(table.sum(axis=0)).ravel(),
                     emi(table, n)))
    core._EMI_PAIR_CACHE.clear()
    fresh = []
    for rows, cols, _ in sums:
        core._EMI_PAIR_CACHE.clear()
        fresh.append(expected_mutual_information(rows, cols))
    warm = [expected_mutual_information(rows, cols) for rows, cols, _ in sums]
    core._EMI_PAIR_CACHE.clear()
    chunked = [expected_mutual_information(rows, cols, chunk_size=7) for rows, cols, _ in sums]
    monkeypatch.setattr(core, "_EMI_CACHE_MAX", 30)
    core._EMI_PAIR_CACHE.clear()
    capped = [expected_mutual_information(rows, cols) for rows, cols, _ in sums]
    assert len(core._EMI_PAIR_CACHE) <= 30
    # Past the kept log-factorial table, gammaln term by term: the same values.
    monkeypatch.setattr(core, "_LOG_FACTORIALS_KEPT", 16)
    monkeypatch.setattr(core, "_LOG_FACTORIALS", np.zeros(1))
    core._EMI_PAIR_CACHE.clear()
    untabled = [expected_mutual_information(rows, cols) for rows, cols, _ in sums]
    assert core._LOG_FACTORIALS.size <= 16
    np.testing.assert_array_equal(warm, fresh)
    np.testing.assert_array_equal(capped, fresh)
    np.testing.assert_array_equal(untabled, fresh)
    np.testing.assert_array_equal(chunked, fresh)
    np.testing.assert_allclose(fresh, [e for _, _, e in sums], rtol=1e-10, atol=1e-12)


def test_ami_with_thousands_of_clusters_agrees_with_scikit_learn():
    from sklearn_miro.metrics import ami

    rng = np.random.default_rng(0)
    true = np.repeat(np.arange(1500), 4)
    pred = np.where(rng.random(true.size) < 0.2, rng.integers(0, 1500, true.size), true)
    assert ami(true, pred) == pytest.approx(adjusted_mutual_info_score(true, pred), abs=1e-9)


def test_iou_of_a_prediction_spread_over_the_fov_has_bounded_memory(monkeypatch):
    # A random labelling makes every predicted hull span the whole FOV: the
    # (edge, grid row) crossings grow with hulls x rows (10^4 such clusters of
    # 10^5 localisations once took 5.5 GB at once). They are now handled one
    # band of rows at a time: the same pixels, a peak set by the band budget.
    import tracemalloc

    from sklearn_miro.metrics import core

    rng = np.random.default_rng(3)
    X, y, _ = _fov(rng, n_clusters=40, side=1500.0)
    pred = rng.integers(0, 300, y.size)
    true, guess = core.encode_labels(y, -1), core.encode_labels(pred, -1)
    peaks, results = [], []
    for budget in (10**9, 2**14):
        monkeypatch.setattr(core, "_IOU_BAND_CROSSINGS", budget)
        tracemalloc.start()
        try:
            results.append(core.hull_union_iou(X, true, guess))
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
    assert results[0] == results[1]
    assert peaks[1] < peaks[0] / 4, peaks
