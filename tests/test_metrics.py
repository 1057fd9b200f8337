"""Tests of sklearn_miro.metrics: definitions, paper examples, edge cases, scorers."""

import contextlib
import time
import warnings

import numpy as np
import pandas as pd
import pytest
import sklearn
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.spatial import ConvexHull, Delaunay
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin
from sklearn.cluster import DBSCAN
from sklearn.metrics import adjusted_mutual_info_score, adjusted_rand_score
from sklearn.model_selection import GridSearchCV, GroupKFold, cross_val_score, cross_validate
from sklearn.pipeline import make_pipeline

from sklearn_miro import metrics
from sklearn_miro.metrics import (
    MultipleFOVWarning,
    ami,
    ari,
    ari_c,
    ari_dagger,
    ari_dagger_ji_c,
    ari_dagger_ji_c_ami,
    ari_dagger_scorer,
    clustering_report,
    compression_index,
    get_scorer,
    iou,
    jaccard_cluster_index,
    make_clustering_scorer,
    rmse_xy,
    rmsre_n,
)

LABEL_METRICS = [ari, ami, ari_c, ari_dagger]


# --------------------------------------------------------------------------- helpers


def circle(center, radius, n, phase=0.0):
    """``n`` points evenly spaced on a circle: their centroid is exactly ``center``."""
    angles = phase + 2 * np.pi * np.arange(n) / n
    return np.column_stack([center[0] + radius * np.cos(angles),
                            center[1] + radius * np.sin(angles)])


def blob_fov(rng, n_clusters=6, n_per_cluster=30, sigma=12.0, n_background=150,
             size=2000.0, first_label=0):
    """One synthetic FOV: Gaussian blobs at random places plus uniform background."""
    min_separation = 0.5 * size / np.sqrt(n_clusters)
    centres = np.empty((0, 2))
    while len(centres) < n_clusters:  # random positions, kept apart from each other
        candidate = rng.uniform(0.05 * size, 0.95 * size, 2)
        if np.all(np.hypot(*(centres - candidate).T) > min_separation):
            centres = np.vstack([centres, candidate])
    points = [rng.normal(c, sigma, (n_per_cluster, 2)) for c in centres]
    labels = [np.full(n_per_cluster, first_label + k) for k in range(n_clusters)]
    points.append(rng.uniform(0, size, (n_background, 2)))
    labels.append(np.full(n_background, -1))
    order = rng.permutation(n_clusters * n_per_cluster + n_background)
    return np.concatenate(points)[order], np.concatenate(labels)[order]


def stacked_fovs(rng, n_fovs=6, **kwargs):
    """Several FOVs in one array; labels restart at 0 in each FOV, as in the benchmark."""
    parts = [blob_fov(rng, **kwargs) for _ in range(n_fovs)]
    X = np.concatenate([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    groups = np.repeat(np.arange(n_fovs) + 100, [len(p[1]) for p in parts])
    return X, y, groups


def per_fov_dbscan(X, groups, **params):
    labels = np.empty(len(X), dtype=np.int64)
    for fov in np.unique(groups):
        members = groups == fov
        labels[members] = DBSCAN(**params).fit_predict(X[members])
    return labels


def toy_example(method):
    """Coordinates and labels realising the confusion matrices of paper Tables 2 and 3.

    Ground-truth cluster k (1..20) sits at its own grid point 200 nm from the
    others. Method A: each predicted cluster holds 45 of its 50 true
    localisations plus 10 background ones; 5 true localisations are predicted
    as background. Method B: clusters 1-10 keep 41 (+5 background), 9 go to
    background; clusters 11-20 are split in a 21-localisation part (+5
    background) and a 20-localisation part, 9 go to background. Method
    "B-swapped" is B with the 20-localisation part at the cluster centre
    instead of the 21-localisation one.
    """
    points, true, pred = [], [], []

    def add(xy, t, p):
        points.append(np.atleast_2d(xy))
        true.extend([t] * len(points[-1]))
        pred.extend([p] * len(points[-1]))

    centres = [(200.0 * (1 + (k - 1) % 5), 200.0 * (1 + (k - 1) // 5)) for k in range(1, 21)]
    rng = np.random.default_rng(7)
    if method == "A":
        for k, c in enumerate(centres, start=1):
            ring = circle(c, 10, 50)
            dropped = np.arange(0, 50, 10)  # a regular pentagon: the rest keeps centroid c
            add(np.delete(ring, dropped, axis=0), k, k)
            add(ring[dropped], k, -1)
            add(circle(c, 5, 10), -1, k)
        add(rng.uniform([1500, 1500], [2000, 2000], (800, 2)), -1, -1)
    else:
        next_label = 11
        for k, c in enumerate(centres, start=1):
            if k <= 10:
                ring = circle(c, 10, 50)
                add(ring[9:], k, k)
                add(ring[:9], k, -1)
                add(circle(c, 2, 5), -1, k)
                continue
            # 21 + 20 + 9 true localisations with centroid exactly c: one part at
            # c, one at c + (8, 0), the 9 missed ones at c - (8 * n_offset / 9, 0).
            # The 5 background localisations join the 21-localisation part.
            at_centre, off_centre = (21, 20) if method == "B" else (20, 21)
            label_of = {21: next_label, 20: next_label + 1}
            add(circle(c, 3, at_centre), k, label_of[at_centre])
            add(circle((c[0] + 8.0, c[1]), 2, off_centre), k, label_of[off_centre])
            add(circle((c[0] - 8.0 * off_centre / 9.0, c[1]), 1, 9), k, -1)
            bg_centre = c if at_centre == 21 else (c[0] + 8.0, c[1])
            add(circle(bg_centre, 1.5, 5), -1, next_label)
            next_label += 2
        add(rng.uniform([1500, 1500], [2000, 2000], (900, 2)), -1, -1)
    return np.concatenate(points), np.array(true), np.array(pred)


@contextlib.contextmanager
def no_stack_warning():
    """Context in which a MultipleFOVWarning fails the test."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", MultipleFOVWarning)
        yield


# ----------------------------------------------------------- hand-computed values


def test_ari_hand_example():
    # contingency [[2, 0, 0], [0, 1, 1]]: sum C(n_ij) = 1, P = 2, Q = 1, N = 6
    # ARI = (1 - 2/6) / (3/2 - 2/6) = 4/7
    assert ari([0, 0, 1, 1], [0, 0, 1, 2]) == pytest.approx(4 / 7)


def test_ari_dagger_hand_example():
    # true A A A A B B, pred X X X Y Y Y: N = 15, P = 7, Q = 6
    # AW_A = (15*3 - 6*6) / (6*9) = 1/6, AW_B = (15*1 - 1*6) / (1*9) = 1  -> mean 7/12
    # AV_X = (15*3 - 3*7) / (3*8) = 1,   AV_Y = (15*1 - 3*7) / (3*8) = -1/4 -> mean 3/8
    # ARI-dagger = 2 (7/12)(3/8) / (7/12 + 3/8) = 21/46, while ARI = 1.2/3.7 = 12/37
    true = ["A"] * 4 + ["B"] * 2
    pred = ["X"] * 3 + ["Y"] * 3
    assert ari_dagger(true, pred) == pytest.approx(21 / 46)
    assert ari_dagger(true, pred, variant="reference") == pytest.approx(21 / 46)
    assert ari(true, pred) == pytest.approx(12 / 37)


def test_ari_dagger_reference_drops_exact_zero_terms():
    # true A A A A B B B, pred Z Z Z Z X X Y: N = 21, P = 9, Q = 7
    # AW_A = (21*6 - 6*7) / (6*14) = 1, AW_B = (21*1 - 3*7) / (3*14) = 0 exactly
    # AV_X = (21*1 - 1*9) / (1*12) = 1, AV_Z = (21*6 - 6*9) / (6*12) = 1 (Y has one point)
    # paper: mean(1, 0) = 1/2 -> 2 (1/2)(1) / (3/2) = 2/3; reference drops the 0 -> 1
    true = np.array([0, 0, 0, 0, 1, 1, 1])
    pred = np.array([9, 9, 9, 9, 4, 4, 5])
    assert ari_dagger(true, pred) == pytest.approx(2 / 3)
    assert ari_dagger(true, pred, variant="reference") == pytest.approx(1.0)


def test_ari_dagger_opposite_sign_means_give_zero():
    # contingency [[1, 1, 0], [1, 0, 0], [2, 0, 2]]: row means -1/4 (terms -1/2 and
    # exactly 0), column mean 3/8. Their harmonic mean would be -1.5: the paper
    # variant returns 0; the reference drops the 0 term, mean -1/2, sum < 0 -> 0.
    true = np.array([0, 0, 1, 2, 2, 2, 2])
    pred = np.array([0, 1, 0, 0, 0, 2, 2])
    assert ari_dagger(true, pred) == 0.0
    assert ari_dagger(true, pred, variant="reference") == 0.0


def test_ari_c_ignores_background_of_the_ground_truth():
    # Clustered localisations: true [0, 0, 1, 1], pred [7, 7, 8, -1] -> ARI 4/7
    # (predicted background stays one cluster). The ground-truth background
    # localisations, whatever their predicted labels, do not count.
    true = np.array([-1, -1, 0, 0, 1, 1])
    pred = np.array([5, -1, 7, 7, 8, -1])
    assert ari_c(true, pred) == pytest.approx(4 / 7)
    pred_other_background = np.array([8, 7, 7, 7, 8, -1])
    assert ari_c(true, pred_other_background) == pytest.approx(4 / 7)


def test_ami_hand_example():
    # Independent partitions of 4 items with sizes (2, 2) and (2, 2): MI = 0.
    # Under the hypergeometric model the table is [[2,0],[0,2]] or [[0,2],[2,0]]
    # (probability 1/6 each, MI = ln 2) or [[1,1],[1,1]] (4/6, MI = 0):
    # E[MI] = ln2 / 3, H = ln 2, AMI = (0 - ln2/3) / (ln2 - ln2/3) = -1/2.
    assert ami([0, 0, 1, 1], [0, 1, 0, 1]) == pytest.approx(-0.5)


def test_ami_rejects_an_unknown_average():
    with pytest.raises(ValueError, match="average_method must be one of"):
        ami([0, 0, 1, 1], [0, 1, 0, 1], average_method="median")


def draw_small_fov(data, n_pred=1):
    """Coordinates, true labels and ``n_pred`` predicted labellings of a small FOV (hypothesis)."""
    n = data.draw(st.integers(4, 40))
    X = np.array(data.draw(st.lists(st.tuples(st.floats(0, 500), st.floats(0, 500)),
                                    min_size=n, max_size=n)))
    true = data.draw(st.lists(st.integers(-1, 4), min_size=n, max_size=n))
    preds = [data.draw(st.lists(st.integers(-1, 5), min_size=n, max_size=n)) for _ in range(n_pred)]
    return X, true, preds


@given(fov=st.data())
@settings(max_examples=40, deadline=None)
def test_combined_scores_are_exactly_the_means_of_their_terms(fov):
    # The combined scores share one encoding of the labellings between their
    # terms (DBSCAN grid searches call them thousands of times); the value
    # must be the mean of the separate metrics to the last bit.
    X, true, (pred,) = draw_small_fov(fov)
    for variant in ("paper", "reference"):
        pair = 0.5 * (ari_dagger(true, pred, variant=variant)
                      + jaccard_cluster_index(X, true, pred, variant=variant))
        assert ari_dagger_ji_c(X, true, pred, variant=variant) == pair
        assert ari_dagger_ji_c_ami(X, true, pred, variant=variant) == (2.0 * pair + ami(true, pred)) / 3.0


@given(fov=st.data())
@settings(max_examples=40, deadline=None)
def test_fov_scorer_is_the_combined_score_for_every_labelling(fov):
    # FOVScorer prepares the ground truth once and scores many labellings
    # against it (a DBSCAN search): each value is the function's, to the last bit.
    X, true, preds = draw_small_fov(fov, n_pred=3)
    for variant in ("paper", "reference"):
        both = metrics.FOVScorer(X, true, variant=variant)
        pair = metrics.FOVScorer(X, true, metric="ari_dagger_ji_c", variant=variant)
        for pred in preds:
            assert both(pred) == ari_dagger_ji_c_ami(X, true, pred, variant=variant)
            assert pair(pred) == ari_dagger_ji_c(X, true, pred, variant=variant)


def test_fov_scorer_rejects_bad_input_with_the_functions_messages():
    X = np.array([[0.0, 0.0], [1.0, 0.0], [50.0, 50.0], [51.0, 50.0]])
    true = np.array([0, 0, 1, -1])
    with pytest.raises(ValueError, match="metric must be one of"):
        metrics.FOVScorer(X, true, metric="ari")
    with pytest.raises(ValueError, match="labels_true"):
        metrics.FOVScorer(X, true[:3])
    scorer = metrics.FOVScorer(X, true)
    with pytest.raises(ValueError, match="labels_pred") as found:
        scorer(np.array([0, 0, 1]))
    with pytest.raises(ValueError) as direct:
        ari_dagger_ji_c_ami(X, true, np.array([0, 0, 1]))
    assert str(found.value) == str(direct.value)
    labels = np.array([0, 0, 1, 1])
    before = labels.copy()
    scorer(labels)
    np.testing.assert_array_equal(labels, before)  # nothing the user passed is modified
    with pytest.raises(AttributeError):  # what it computes is fixed at construction
        scorer.metric = "ari_dagger_ji_c"


def cluster_level_example():
    """Three true clusters, three predicted: two matches, one miss, one false positive.

    True cluster 1: square of side 20 at (0, 0), 4 points (threshold 10 nm).
    True cluster 2: square of side 20 at (100, 0), 4 points.
    True cluster 3: square of side 20 at (300, 300): missed.
    Predicted cluster "a": true cluster 1 shifted by (3, 0), 5 points (4 + 1 at its centre).
    Predicted cluster "b": true cluster 2 shifted by (0, 4), 3 points (a triangle
    whose centroid is shifted by (0, 4)).
    Predicted cluster "c": far from everything: false positive.
    """
    square = np.array([[-10, -10], [10, -10], [10, 10], [-10, 10]], dtype=float)
    X, true, pred = [], [], []

    def add(points, t, p):
        X.append(points)
        true.extend([t] * len(points))
        pred.extend([p] * len(points))

    add(square, "t1", "noise")
    add(square + [3, 0], "noise", "a")
    add([[3.0, 0.0]], "noise", "a")
    add(square + [100, 0], "t2", "noise")
    add(np.array([[-12, -2], [12, -2], [0, 16]], dtype=float) + [100, 0], "noise", "b")
    add(square + [300, 300], "t3", "noise")
    add(np.array([[600, 50], [610, 50], [605, 60]], dtype=float), "noise", "c")
    return np.concatenate(X), np.array(true), np.array(pred)


def test_cluster_level_metrics_hand_example():
    X, true, pred = cluster_level_example()
    kw = dict(background="noise")
    # TP = 2, FP = 1 (c), FN = 1 (t3)
    assert jaccard_cluster_index(X, true, pred, **kw) == pytest.approx(2 / 4)
    # sizes 4 -> 5 and 4 -> 3: relative errors 0.25 and -0.25
    assert rmsre_n(X, true, pred, **kw) == pytest.approx(0.25)
    # centroid errors 3 and 4 nm: Eq. 12 sqrt((9 + 16) / 2); reference sqrt((3 + 4) / 2)
    assert rmse_xy(X, true, pred, **kw) == pytest.approx(np.sqrt(12.5))
    assert rmse_xy(X, true, pred, variant="reference", **kw) == pytest.approx(np.sqrt(3.5))
    # a global threshold of 3.5 nm keeps only the 3-nm pair
    assert jaccard_cluster_index(X, true, pred, threshold=3.5, **kw) == pytest.approx(1 / 5)
    assert rmse_xy(X, true, pred, threshold=3.5, **kw) == pytest.approx(3.0)


def test_reference_matching_weighs_bounding_box_extents():
    # One true cluster (square of side 20, threshold 10). Candidate "near": centroid
    # 1 nm away, extent 1 x 0 (L1 extent difference 39). Candidate "same": centroid
    # 2 nm away, same extent. Centroid matching picks "near"; the reference cost
    # 0.9 D + 0.1 E is 4.8 for "near" and 1.8 for "same".
    square = np.array([[-10, -10], [10, -10], [10, 10], [-10, 10]], dtype=float)
    X = np.concatenate([square, [[0.5, 0], [1.5, 0], [1.0, 0]], square + [2, 0]])
    true = np.array([1] * 4 + [-1] * 7)
    pred = np.array([-1] * 4 + [1] * 3 + [2] * 4)
    assert rmse_xy(X, true, pred) == pytest.approx(1.0)
    assert rmsre_n(X, true, pred) == pytest.approx(0.25)  # 3 localisations for 4
    assert rmse_xy(X, true, pred, matching="reference") == pytest.approx(2.0)
    assert rmse_xy(X, true, pred, variant="reference") == pytest.approx(np.sqrt(2.0))
    assert rmsre_n(X, true, pred, variant="reference") == pytest.approx(0.0)
    for variant in ("paper", "reference"):
        assert jaccard_cluster_index(X, true, pred, variant=variant) == pytest.approx(0.5)


def test_iou_hand_example():
    # Squares [0,10]x[0,10] (true) and [5,15]x[0,10] (pred) on a 31 x 31 grid over
    # [0,15]x[0,10]: x samples every 0.5 nm. True covers columns 0..20, pred
    # 10..30, both all 31 rows: IoU = 11 / 31 (continuous value 1/3).
    X = np.array([[0, 0], [10, 0], [10, 10], [0, 10], [5, 0], [15, 0], [15, 10], [5, 10]],
                 dtype=float)
    true = np.array([1, 1, 1, 1, -1, -1, -1, -1])
    pred = np.array([-1, -1, -1, -1, 3, 3, 3, 3])
    assert iou(X, true, pred, n_pixels=31) == pytest.approx(11 / 31)
    assert iou(X, true, pred) == pytest.approx(1 / 3, abs=2e-3)  # reference grid: 500 samples
    assert iou(X, true, true, n_pixels=31) == 1.0


def test_iou_of_hulls_between_pixel_rows_is_zero_not_an_error():
    # Predicted clusters of two and three nearly coincident points (what DBSCAN
    # with a tiny eps finds): their hulls lie between two rows of the raster
    # and cover no sample. This raised an IndexError.
    X = np.array([[0, 0], [10, 0], [10, 10], [0, 10],
                  [2.0, 3.1], [2.2, 3.2], [6.0, 7.1], [6.3, 7.2], [6.1, 7.3]])
    true = np.array([1, 1, 1, 1, -1, -1, -1, -1, -1])
    pred = np.array([-1, -1, -1, -1, 4, 4, 5, 5, 5])
    assert iou(X, true, pred, n_pixels=11) == 0.0


def test_compression_index_hand_example():
    # Cluster 1: four points 10 nm from their centroid, moved to 2.5 nm: 1 - 10/40 = 0.75.
    # Cluster 2: not moved: 0. Background moves do not count. Mean: 0.375.
    ring = circle((0, 0), 10, 4)
    X = np.concatenate([ring, ring + 100, [[500.0, 500.0]]])
    moved = np.concatenate([ring / 4, ring + 100, [[0.0, 0.0]]])
    labels = np.array([0] * 4 + [1] * 4 + [-1])
    assert compression_index(X, moved, labels) == pytest.approx(0.375)
    assert compression_index(X, X, labels) == pytest.approx(0.0)


# ------------------------------------------------------------- paper toy example


@pytest.mark.parametrize(
    "method, expected",
    [
        ("A", dict(ari=0.62, ari_dagger=0.67, ami=0.70, ari_c=0.80, ji_c=1.0, rmsre_n=0.10)),
        ("B", dict(ari=0.65, ari_dagger=0.47, ami=0.67, ari_c=0.46, ji_c=0.67, rmsre_n=0.34)),
    ],
)
def test_paper_toy_example_tables_2_and_3(method, expected):
    X, true, pred = toy_example(method)
    # the constructed labels realise the published confusion matrices
    table = pd.crosstab(true, pred)
    if method == "A":
        assert table.loc[-1, -1] == 800 and (table.loc[-1].drop(-1) == 10).all()
        assert (table.loc[1:, -1] == 5).all() and (np.diag(table.loc[1:, 1:]) == 45).all()
    else:
        assert table.loc[-1, -1] == 900 and table.loc[-1].drop(-1).sum() == 100
        assert (table.loc[1:, -1] == 9).all() and table.shape == (21, 31)
    for variant in ("paper", "reference"):
        report = clustering_report(X, true, pred, variant=variant).iloc[0]
        for name, value in expected.items():
            assert round(report[name], 2) == pytest.approx(value), (variant, name)


def test_toy_example_b_rmsre_depends_on_which_half_is_paired():
    # RMSRE_N = 0.34 needs each split cluster to pair with its 26-localisation half
    # (21 true + 5 background): sqrt((10 * 0.08^2 + 10 * 0.48^2) / 20) = 0.344.
    # Pairing the 20-localisation half instead gives sqrt((10*0.08^2 + 10*0.6^2)/20).
    X, true, pred = toy_example("B")
    assert rmsre_n(X, true, pred) == pytest.approx(np.sqrt((10 * 0.08**2 + 10 * 0.48**2) / 20))
    X, true, pred = toy_example("B-swapped")
    assert rmsre_n(X, true, pred) == pytest.approx(np.sqrt((10 * 0.08**2 + 10 * 0.6**2) / 20))
    assert round(rmsre_n(X, true, pred), 2) == 0.43


# ---------------------------------------------------- agreement and invariances

labels_strategy = st.lists(st.integers(-1, 5), min_size=2, max_size=40)


@given(data=st.data())
@settings(max_examples=60, deadline=None)
def test_ari_and_ami_agree_with_scikit_learn(data):
    true = data.draw(labels_strategy)
    pred = data.draw(st.lists(st.integers(-1, 7), min_size=len(true), max_size=len(true)))
    assert ari(true, pred) == pytest.approx(adjusted_rand_score(true, pred), abs=1e-12)
    assert ami(true, pred) == pytest.approx(adjusted_mutual_info_score(true, pred), abs=1e-12)


@st.composite
def labelled_fov(draw):
    n = draw(st.integers(4, 50))
    coords = draw(st.lists(st.tuples(st.floats(0, 800), st.floats(0, 800)),
                           min_size=n, max_size=n))
    true = draw(st.lists(st.integers(-1, 4), min_size=n, max_size=n))
    pred = draw(st.lists(st.integers(-1, 5), min_size=n, max_size=n))
    return np.array(coords, dtype=float), np.array(true), np.array(pred)


def relabel(labels, rng, keep_background=True):
    """Apply a random injective map to label values (the background stays -1)."""
    values = np.unique(labels)
    targets = rng.choice(np.arange(-1000, 1000), size=len(values), replace=False)
    if keep_background:
        targets = np.where(values == -1, -1, np.where(targets == -1, 5000, targets))
    mapping = dict(zip(values.tolist(), targets.tolist()))
    return np.array([mapping[v] for v in labels.tolist()])


@pytest.mark.parametrize("variant", ["paper", "reference"])
def test_pairing_ties_are_broken_by_geometry_not_by_label_values(variant):
    # Found by hypothesis: four coincident localisations, one true cluster,
    # predicted as a cluster of 3 and a cluster of 1 with the same centroid.
    # Both pairs are equally close; which one is paired must not depend on
    # which predicted cluster has the smaller label.
    X = np.zeros((4, 2))
    truth = np.zeros(4, dtype=int)
    first = rmsre_n(X, truth, np.array([0, 0, 0, 1]), variant=variant)
    second = rmsre_n(X, truth, np.array([1, 1, 1, 0]), variant=variant)
    assert first == pytest.approx(second, abs=1e-12)


@given(fov=labelled_fov(), seed=st.integers(0, 2**32 - 1))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_relabelling_changes_no_metric(fov, seed):
    X, true, pred = fov
    rng = np.random.default_rng(seed)
    groups = np.zeros(len(X))  # one FOV, stated explicitly
    for variant in ("paper", "reference"):
        before = clustering_report(X, true, pred, groups, variant=variant)
        after = clustering_report(X, relabel(true, rng), relabel(pred, rng), groups,
                                  variant=variant)
        pd.testing.assert_frame_equal(before, after, rtol=1e-10)
    # label-only metrics treat the background as an ordinary cluster: any permutation
    for metric in (ari, ami, ari_dagger):
        permuted = metric(relabel(true, rng, False), relabel(pred, rng, False))
        assert permuted == pytest.approx(metric(true, pred), abs=1e-12)


@given(fov=labelled_fov())
@settings(max_examples=40, deadline=None)
def test_symmetric_metrics_ignore_which_side_is_true(fov):
    X, true, pred = fov
    for metric in (ari, ami):
        assert metric(true, pred) == pytest.approx(metric(pred, true), abs=1e-12)
    for variant in ("paper", "reference"):
        assert ari_dagger(true, pred, variant=variant) == pytest.approx(
            ari_dagger(pred, true, variant=variant), abs=1e-12)
    assert iou(X, true, pred) == pytest.approx(iou(X, pred, true), abs=1e-12)
    # with one global threshold the centroid matching is symmetric as well
    assert jaccard_cluster_index(X, true, pred, threshold=50.0) == pytest.approx(
        jaccard_cluster_index(X, pred, true, threshold=50.0))


def test_string_and_non_contiguous_labels_give_the_same_report(rng):
    X, y = blob_fov(rng)
    pred = per_fov_dbscan(X, np.zeros(len(X)), eps=25, min_samples=4)
    reference = clustering_report(X, y, pred)
    as_strings = clustering_report(
        X, np.where(y == -1, "bg", np.char.add("gt", y.astype(str))),
        np.where(pred == -1, "bg", np.char.add("c", pred.astype(str))), background="bg")
    sparse_ints = clustering_report(X, np.where(y == -1, -1, y * 97 + 13),
                                    np.where(pred == -1, -1, pred * 1000 + 7))
    pd.testing.assert_frame_equal(reference, as_strings)
    pd.testing.assert_frame_equal(reference, sparse_ints)
    # benchmark convention: 0 is background
    as_zero = clustering_report(X, y + 1, pred + 1, background=0)
    pd.testing.assert_frame_equal(reference, as_zero)


# ------------------------------------------------------------------ IoU raster


def brute_force_masks(X, hull_groups, n_pixels, use_delaunay):
    """Boolean raster of the union of the hulls, testing every pixel (slow, tiny grids)."""
    xs = np.linspace(X[:, 0].min(), X[:, 0].max(), n_pixels)
    ys = np.linspace(X[:, 1].min(), X[:, 1].max(), n_pixels)
    gx, gy = np.meshgrid(xs, ys)
    pixels = np.column_stack([gx.ravel(), gy.ravel()])
    mask = np.zeros(len(pixels), dtype=bool)
    for points in hull_groups:
        hull = ConvexHull(points)
        if use_delaunay:  # the reference's test
            mask |= Delaunay(points[hull.vertices]).find_simplex(pixels) >= 0
        else:  # closed half-planes of the hull's facets
            normals, offsets = hull.equations[:, :2], hull.equations[:, 2]
            mask |= np.all(pixels @ normals.T + offsets <= 1e-12, axis=1)
    return mask


@pytest.mark.parametrize("seed", range(4))
def test_iou_raster_matches_pixelwise_hull_tests(seed):
    rng = np.random.default_rng(seed)
    n_clusters = 5
    centres = rng.uniform(0, 300, (n_clusters, 2))
    X = np.concatenate([rng.normal(c, rng.uniform(5, 40), (12, 2)) for c in centres])
    true = np.repeat(np.arange(n_clusters), 12)
    pred = np.where(rng.random(len(X)) < 0.2, -1, rng.integers(0, 3, len(X)))
    expected = {}
    for use_delaunay in (False, True):
        masks = [
            brute_force_masks(X, [X[labels == k] for k in np.unique(labels) if k != -1
                                  and (labels == k).sum() >= 3], 157, use_delaunay)
            for labels in (true, pred)
        ]
        expected[use_delaunay] = (masks[0] & masks[1]).sum() / (masks[0] | masks[1]).sum()
    assert expected[False] == expected[True]
    assert iou(X, true, pred, n_pixels=157) == pytest.approx(expected[True], abs=1e-12)


# ------------------------------------------------------------------- edge cases


def test_everything_background():
    X = np.random.default_rng(1).uniform(0, 100, (30, 2))
    labels = -np.ones(30, dtype=int)
    row = clustering_report(X, labels, labels).iloc[0]
    assert row["ari"] == 1.0 and row["ami"] == 1.0 and row["ari_dagger"] == 1.0
    assert row["ji_c"] == 1.0 and row["iou"] == 1.0
    assert np.isnan(row["ari_c"]) and np.isnan(row["rmsre_n"]) and np.isnan(row["rmse_xy"])
    assert ari_dagger(labels, labels, variant="reference") == 0.0
    assert row["n_true_clusters"] == 0 and row["n_pred_clusters"] == 0


def test_single_cluster_everywhere():
    X = np.random.default_rng(2).normal(0, 10, (25, 2))
    labels = np.full(25, 4)
    row = clustering_report(X, labels, labels).iloc[0]
    for name in ("ari", "ari_dagger", "ami", "ari_c", "ji_c", "iou"):
        assert row[name] == 1.0, name
    assert row["rmsre_n"] == 0.0 and row["rmse_xy"] == 0.0


def test_no_predicted_cluster_does_not_crash(rng):
    X, y = blob_fov(rng)
    nothing = -np.ones(len(y), dtype=int)
    paper = clustering_report(X, y, nothing).iloc[0]
    assert paper["ji_c"] == 0.0 and paper["iou"] == 0.0 and paper["n_matched"] == 0
    assert np.isnan(paper["rmsre_n"]) and np.isnan(paper["rmse_xy"])
    assert paper["ari_c"] == 0.0  # all clustered localisations in one predicted "cluster"
    reference = clustering_report(X, y, nothing, variant="reference").iloc[0]
    assert reference["rmsre_n"] == 0.0 and reference["rmse_xy"] == 0.0
    assert reference["ji_c"] == 0.0


def test_tiny_and_collinear_clusters_have_no_area():
    X = np.array([[0, 0], [1, 1], [2, 2], [3, 3],  # collinear cluster 0
                  [50, 50], [51, 50],  # two-point cluster 1
                  [80, 80],  # one-point cluster 2
                  [20, 70], [40, 70], [30, 90]], dtype=float)  # triangle cluster 3
    labels = np.array([0, 0, 0, 0, 1, 1, 2, 3, 3, 3])
    only_triangle = np.where(labels == 3, 3, -1)
    assert iou(X, labels, only_triangle) == 1.0  # degenerate hulls add no pixel
    collinear_only = np.where(labels == 0, 0, -1)
    assert iou(X, labels, collinear_only) == 0.0  # the triangle is missed
    assert iou(X, collinear_only, np.where(labels == 1, 1, -1)) == 1.0  # no area either side
    row = clustering_report(X, labels, labels).iloc[0]
    assert row["ji_c"] == 1.0 and row["rmse_xy"] == 0.0 and row["n_true_clusters"] == 4


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: ari([0, 1, np.nan], [0, 1, 1]), "NaN"),
        (lambda: ari([0, 1, 1], [0, 1]), "same length"),
        (lambda: ari([[0, 1], [1, 0]], [0, 1]), "1-D"),
        (lambda: ari([], []), "empty"),
        (lambda: ari([0, None, 1], [0, 1, 1]), "missing"),
        (lambda: ari(np.array([1, "a", 2], dtype=object), [0, 1, 1]), "mixes"),
        (lambda: ari_dagger([0, 1], [0, 1], variant="published"), "variant"),
        (lambda: iou([[0, 0], [1, np.inf]], [0, 0], [0, 0]), "infinity"),
        (lambda: iou([[0, 0, 0], [1, 1, 1]], [0, 0], [0, 0]), "shape"),
        (lambda: iou([[0, 0], [1, 1]], [0, 0, 0], [0, 0, 0]), "same length"),
        (lambda: iou([[0, 0], [1, 1]], [0, 0], [0, 0], n_pixels=1), "n_pixels"),
        (lambda: rmse_xy([[0, 0], [1, 1]], [0, 0], [0, 0], threshold=-1), "threshold"),
        (lambda: rmse_xy([[0, 0], [1, 1]], [0, 0], [0, 0], matching="nearest"), "matching"),
        (lambda: compression_index([[0, 0], [1, 1]], [[0, 0]], [0, 0]), "shape"),
        (lambda: clustering_report([[0, 0], [1, 1]], [0, 0], [0, 0], groups=[1]), "groups"),
    ],
)
def test_invalid_input_raises_clear_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_inputs_are_not_modified(rng):
    X, y = blob_fov(rng)
    pred = y.copy()
    pred[:10] = -1
    copies = [X.copy(), y.copy(), pred.copy()]
    clustering_report(X, y, pred, X_collapsed=X * 0.5)
    for original, copy in zip((X, y, pred), copies):
        np.testing.assert_array_equal(original, copy)


def test_dataframe_coordinates_are_accepted(rng):
    X, y = blob_fov(rng)
    frame = pd.DataFrame({"frame": np.arange(len(X)), "x [nm]": X[:, 0], "y [nm]": X[:, 1]})
    pd.testing.assert_frame_equal(clustering_report(frame, y, y), clustering_report(X, y, y))


def test_report_on_a_12000_point_fov_with_100_clusters_is_fast():
    rng = np.random.default_rng(3)
    X, y = blob_fov(rng, n_clusters=100, n_per_cluster=60, sigma=15, n_background=6000)
    pred = DBSCAN(eps=20, min_samples=8).fit_predict(X)
    assert len(X) == 12000
    clustering_report(X, y, pred)  # warm-up (imports, caches)
    start = time.process_time()  # CPU time: robust to other jobs on the machine
    report = clustering_report(X, y, pred)
    elapsed = time.process_time() - start
    assert elapsed < 1.0, f"clustering_report took {elapsed:.3f} CPU-s"
    assert report["n_true_clusters"].iloc[0] == 100 and report["ji_c"].iloc[0] > 0.9


# ------------------------------------------------------------ stacked FOV warning


def test_stacked_fovs_without_groups_warn(rng):
    X, y, groups = stacked_fovs(rng, n_fovs=2)
    pred = per_fov_dbscan(X, groups, eps=25, min_samples=4)
    with pytest.warns(MultipleFOVWarning, match="groups"):
        clustering_report(X, y, pred)
    with no_stack_warning():
        per_fov = clustering_report(X, y, pred, groups=groups)
        single = clustering_report(X[groups == 100], y[groups == 100], pred[groups == 100])
    assert list(per_fov.index) == [100, 101]
    pd.testing.assert_series_equal(per_fov.iloc[0], single.iloc[0], check_names=False)


def test_single_benchmark_fovs_do_not_warn(shared_dir):
    root = shared_dir / "data" / "nieves2023"
    folders = sorted(p for kind in ("ground_truth", "blinking") for p in (root / kind).iterdir())
    assert len(folders) == 10
    for folder in folders:
        table = pd.read_csv(sorted(folder.glob("*.csv"))[0])
        X = table[["x", "y"]].to_numpy()
        with no_stack_warning():
            clustering_report(X, table["index"].to_numpy(), table["index"].to_numpy(),
                              background=0)
        # ... while two FOVs of the same scenario, labels restarting at 1, do
        second = pd.read_csv(sorted(folder.glob("*.csv"))[1])
        both = pd.concat([table, second])
        with pytest.warns(MultipleFOVWarning):
            clustering_report(both[["x", "y"]], both["index"], both["index"], background=0)


# ------------------------------------------------------------------------- scorers


def test_grid_search_with_routing_scores_each_fov(rng):
    X, y, groups = stacked_fovs(rng, n_fovs=6)
    grid = {"eps": [5, 25], "min_samples": [4]}
    with sklearn.config_context(enable_metadata_routing=True), no_stack_warning():
        search = GridSearchCV(DBSCAN(), grid, scoring=ari_dagger_scorer, cv=GroupKFold(3))
        search.fit(X, y, groups=groups)
    assert search.best_params_ == {"eps": 25, "min_samples": 4}
    # the first split's score is the mean over its test FOVs, each clustered alone
    train, test = next(GroupKFold(3).split(X, y, groups))
    pred = per_fov_dbscan(X[test], groups[test], eps=25, min_samples=4)
    expected = np.mean([ari_dagger(y[test][groups[test] == g], pred[groups[test] == g])
                        for g in np.unique(groups[test])])
    assert search.cv_results_["split0_test_score"][1] == pytest.approx(expected)


def test_grid_search_without_routing_warns_loudly(rng):
    X, y, groups = stacked_fovs(rng, n_fovs=6)
    search = GridSearchCV(DBSCAN(min_samples=4), {"eps": [25]}, scoring=ari_dagger_scorer,
                          cv=GroupKFold(3))
    with pytest.warns(MultipleFOVWarning, match="metadata routing"):
        search.fit(X, y, groups=groups)  # groups reach the splitter only


def test_cross_validate_with_routing_and_multimetric_scorer(rng):
    X, y, groups = stacked_fovs(rng, n_fovs=4)
    scorer = make_clustering_scorer(["ari_dagger", "jaccard_cluster", "neg_rmsre_n"])
    with sklearn.config_context(enable_metadata_routing=True), no_stack_warning():
        results = cross_validate(DBSCAN(eps=25, min_samples=4), X, y, scoring=scorer,
                                 cv=GroupKFold(2), params={"groups": groups})
        single = cross_val_score(DBSCAN(eps=25, min_samples=4), X, y,
                                 scoring=get_scorer("ari_dagger"), cv=GroupKFold(2),
                                 params={"groups": groups})
    np.testing.assert_allclose(results["test_ari_dagger"], single)
    pred = per_fov_dbscan(X, groups, eps=25, min_samples=4)
    report = clustering_report(X, y, pred, groups)
    _, test = list(GroupKFold(2).split(X, y, groups))[0]
    fovs = np.unique(groups[test])
    assert results["test_jaccard_cluster"][0] == pytest.approx(report.loc[fovs, "ji_c"].mean())
    assert results["test_neg_rmsre_n"][0] == pytest.approx(-report.loc[fovs, "rmsre_n"].mean())


def test_dict_of_scorers_is_routed_to_each_scorer(rng):
    X, y, groups = stacked_fovs(rng, n_fovs=4)
    scoring = {"ari_dagger": ari_dagger_scorer, "iou": metrics.iou_scorer}
    combined = make_clustering_scorer(["ari_dagger", "iou"])
    with sklearn.config_context(enable_metadata_routing=True), no_stack_warning():
        separate = cross_validate(DBSCAN(eps=25, min_samples=4), X, y, scoring=scoring,
                                  cv=GroupKFold(2), params={"groups": groups})
        together = cross_validate(DBSCAN(eps=25, min_samples=4), X, y, scoring=combined,
                                  cv=GroupKFold(2), params={"groups": groups})
    for name in scoring:
        np.testing.assert_allclose(separate[f"test_{name}"], together[f"test_{name}"])


class ScaleByTrainingSpread(TransformerMixin, BaseEstimator):
    """Divides coordinates by a scale learnt in fit; counts its fits."""

    n_fits = 0

    def fit(self, X, y=None):
        type(self).n_fits += 1
        self.scale_ = float(np.std(X))
        return self

    def transform(self, X):
        return np.asarray(X) / self.scale_


def test_pipeline_ending_in_dbscan_reuses_fitted_steps(rng):
    X, y, groups = stacked_fovs(rng, n_fovs=3)
    pipe = make_pipeline(ScaleByTrainingSpread(), DBSCAN(min_samples=4))
    pipe.fit(X[groups != 100])
    scale = pipe[0].scale_
    pipe.set_params(dbscan__eps=25 / scale)
    fits_before = ScaleByTrainingSpread.n_fits
    test = groups == 100
    score = ari_dagger_scorer(pipe, X[test], y[test], groups=groups[test])
    assert ScaleByTrainingSpread.n_fits == fits_before  # transformer not refitted
    labels = DBSCAN(eps=25 / scale, min_samples=4).fit_predict(X[test] / scale)
    expected = ari_dagger(y[test], labels)
    assert score == pytest.approx(expected)


class PredictRecorder(ClusterMixin, BaseEstimator):
    """Labels every localisation by the FOV it was given with; records the calls."""

    def fit(self, X, y=None, groups=None):
        return self

    def predict(self, X, groups=None):
        self.calls_ = getattr(self, "calls_", []) + [(len(X), groups)]
        return DBSCAN(eps=25, min_samples=4).fit_predict(X) if groups is None else \
            per_fov_dbscan(np.asarray(X), groups, eps=25, min_samples=4)


class PredictWithoutGroups(PredictRecorder):
    def predict(self, X):
        return super().predict(X)


def test_estimators_with_predict(rng):
    X, y, groups = stacked_fovs(rng, n_fovs=3)
    expected = clustering_report(X, y, per_fov_dbscan(X, groups, eps=25, min_samples=4),
                                 groups)["ari_dagger"].mean()
    with_groups = PredictRecorder().fit(X)
    assert ari_dagger_scorer(with_groups, X, y, groups=groups) == pytest.approx(expected)
    assert len(with_groups.calls_) == 1
    np.testing.assert_array_equal(with_groups.calls_[0][1], groups)
    without = PredictWithoutGroups().fit(X)
    assert ari_dagger_scorer(without, X, y, groups=groups) == pytest.approx(expected)
    assert [n for n, _ in without.calls_] == [np.sum(groups == g) for g in (100, 101, 102)]


def test_scorer_signs_names_and_copies(rng):
    X, y = blob_fov(rng)
    estimator = DBSCAN(eps=25, min_samples=4)
    pred = estimator.fit_predict(X)
    assert get_scorer("neg_rmsre_n")(estimator, X, y) == pytest.approx(-rmsre_n(X, y, pred))
    assert get_scorer("ji_c")(estimator, X, y) == pytest.approx(jaccard_cluster_index(X, y, pred))
    reference = make_clustering_scorer("neg_rmse_xy", variant="reference")
    assert reference(estimator, X, y) == pytest.approx(-rmse_xy(X, y, pred, variant="reference"))
    assert get_scorer("iou") is not get_scorer("iou")
    assert sorted(metrics.get_scorer_names()) == sorted(
        ["ari", "ami", "ari_dagger", "ari_c", "jaccard_cluster", "iou", "neg_rmsre_n",
         "neg_rmse_xy", "compression_index", "ari_dagger_ji_c", "ari_dagger_ji_c_ami"])
    with pytest.raises(ValueError, match="neg_rmsre_n"):
        get_scorer("rmsre_n")
    with pytest.raises(TypeError, match="accepts"):
        make_clustering_scorer("ari", threshold=3)
    with pytest.raises(ValueError, match="y is required|ground-truth"):
        get_scorer("ari")(estimator, X, None)


def test_set_score_request_controls_routing(rng):
    X, y, groups = stacked_fovs(rng, n_fovs=4)
    with pytest.raises(RuntimeError, match="metadata routing"):
        get_scorer("ari_dagger").set_score_request(groups=False)
    with sklearn.config_context(enable_metadata_routing=True):
        scorer = get_scorer("ari_dagger").set_score_request(groups=False)
        search = GridSearchCV(DBSCAN(min_samples=4), {"eps": [25]}, scoring=scorer,
                              cv=GroupKFold(2))
        with pytest.warns(MultipleFOVWarning):
            search.fit(X, y, groups=groups)
        # the module-level scorer still requests groups
        with no_stack_warning():
            GridSearchCV(DBSCAN(min_samples=4), {"eps": [25]}, scoring=ari_dagger_scorer,
                         cv=GroupKFold(2)).fit(X, y, groups=groups)


class ShrinkTowardsLabelCentres(TransformerMixin, BaseEstimator):
    """Moves every localisation halfway to the nearest of the given centres."""

    def __init__(self, centres=None):
        self.centres = centres

    def fit(self, X, y=None):
        self.n_features_in_ = np.asarray(X).shape[1]
        return self

    def transform(self, X):
        X = np.asarray(X)
        nearest = np.argmin(((X[:, None] - self.centres[None]) ** 2).sum(-1), axis=1)
        return X + 0.5 * (self.centres[nearest] - X)


def test_compression_index_scorer():
    ring = circle((0, 0), 10, 8)
    X = np.concatenate([ring, ring + 200])
    y = np.repeat([0, 1], 8)
    shrink = ShrinkTowardsLabelCentres(np.array([[0.0, 0.0], [200.0, 200.0]]))
    assert metrics.compression_index_scorer(shrink, X, y) == pytest.approx(0.5)
    pipe = make_pipeline(shrink, DBSCAN()).fit(X)
    assert get_scorer("compression_index")(pipe, X, y) == pytest.approx(0.5)
    with pytest.raises(TypeError, match="transform"):
        metrics.compression_index_scorer(DBSCAN(), X, y)

    # A clusterer holding its fitted transformer (like MIROClusterer) is scored
    # on that transformer's collapse.
    class ClustererWithTransformer(ClusterMixin, BaseEstimator):
        def fit(self, X, y=None):
            self.transformer_ = shrink
            self.labels_ = DBSCAN().fit_predict(shrink.transform(X))
            return self

        def predict(self, X):
            return DBSCAN().fit_predict(self.transformer_.transform(X))

    fitted = ClustererWithTransformer().fit(X)
    assert metrics.compression_index_scorer(fitted, X, y) == pytest.approx(0.5)


# ---------------------------------------------------------------- acceptance (S8)


def test_acceptance_snippet_on_scenario_8(shared_dir):
    from sklearn_miro.io import load_benchmark

    bench = load_benchmark(shared_dir / "data" / "nieves2023" / "ground_truth" / "scenario_8")
    X, y, fov = bench.X, bench.y, bench.groups
    with sklearn.config_context(enable_metadata_routing=True), no_stack_warning():
        search = GridSearchCV(DBSCAN(), {"eps": [30, 40, 50], "min_samples": [3, 4, 5]},
                              scoring=ari_dagger_scorer, cv=GroupKFold(3))
        search.fit(X, y, groups=fov)
        report = clustering_report(X, y, DBSCAN(eps=50, min_samples=4).fit_predict(X),
                                   groups=fov)
    assert search.best_params_["eps"] in (30, 40, 50)
    assert search.best_params_["min_samples"] in (3, 4, 5)
    # per-FOV scoring inside the search: close to the paper's DBSCAN on S8 (ARI-dagger 0.81)
    assert 0.7 < search.best_score_ <= 1.0
    assert len(report) == 50 and report["n_true_clusters"].mean() == 20
    # The snippet's last line clusters the 50 stacked FOVs *together* (they share
    # one 2 um coordinate range): at 50x the density, DBSCAN merges each FOV
    # into one cluster, and the report says so. Clustering FOV by FOV is right.
    assert report["n_pred_clusters"].max() == 1 and report["ari_dagger"].max() == 0.0
    per_fov = np.empty(len(X), dtype=np.int64)
    for number in np.unique(fov):
        members = fov == number
        per_fov[members] = DBSCAN(eps=50, min_samples=4).fit_predict(X[members])
    means = clustering_report(X, y, per_fov, groups=fov).mean()
    assert means["ari_dagger"] == pytest.approx(0.81, abs=0.05)  # Table S3, DBSCAN, S8
    assert means["iou"] == pytest.approx(0.65, abs=0.05)


def test_iou_grid_follows_the_reference_rule_near_the_origin():
    from sklearn_miro.metrics.core import reference_grid_size

    # A FOV from 67 to 2036 nm: the reference's ceil(2036 / 100) * 100 + 400.
    coords = np.array([[67.0, 80.0], [2036.0, 1500.0]])
    assert reference_grid_size(coords) == 2500
    # The same FOV shifted to negative coordinates or far from the origin: the
    # bounding box's side (1969 nm) instead, whatever the offset.
    assert reference_grid_size(coords - 5000.0) == 2400
    assert reference_grid_size(coords + 1e9) == 2400


def test_ami_keeps_scikit_learns_limit_cases():
    from sklearn_miro.metrics import core

    codes_true = np.arange(12) % 4
    one = np.zeros(12, dtype=np.int64)
    for method in ("arithmetic", "geometric", "min", "max"):
        expected = adjusted_mutual_info_score(codes_true, one, average_method=method)
        assert core.adjusted_mutual_information(codes_true, 4, one, 1, method) == expected == 0.0
        assert core.adjusted_mutual_information(one, 1, one, 1, method) == 1.0


def test_background_other_than_minus_one_warns_when_the_prediction_has_noise():
    # background applies to both labellings: with background=0 for benchmark-style
    # truth, DBSCAN's noise (-1) would be scored as a cluster, silently.
    X = np.array([[0, 0], [1, 0], [50, 50], [51, 50], [200, 0.0]])
    truth = np.array([1, 1, 2, 2, 0])  # 0 = background, as in the benchmark files
    dbscan_like = np.array([0, 0, 1, 1, -1])
    with pytest.warns(UserWarning, match=r"labels_pred holds -1 .* background=0"):
        value = jaccard_cluster_index(X, truth, dbscan_like, background=0)
    assert value < 1.0  # what the warning is about: the same clusters, not scored as such
    assert jaccard_cluster_index(X, np.where(truth == 0, -1, truth), dbscan_like) == 1.0


def test_named_background_labels_are_not_scored_as_clusters_silently():
    X = np.array([[0, 0], [1, 0], [0, 1], [50, 50], [51, 50], [50, 51], [90, 10], [95, 80.0]])
    truth = np.array(["a", "a", "a", "b", "b", "b", "bg", "bg"])
    dbscan_like = np.array([0, 0, 0, 1, 1, 1, -1, -1])
    # A text background with DBSCAN's -1 in the prediction.
    with pytest.warns(UserWarning, match=r"labels_pred holds -1 .* background='bg'"):
        assert jaccard_cluster_index(X, truth, dbscan_like, background="bg") < 1.0
    # 'bg' with the default background=-1: scored as a cluster unless said.
    with pytest.warns(UserWarning, match=r"labels_true holds 'bg', which reads as background"):
        assert jaccard_cluster_index(X, truth, dbscan_like) < 1.0
    # Mapped as the warnings advise: a perfect score, no warning.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert jaccard_cluster_index(X, np.where(truth == "bg", "-1", truth), dbscan_like.astype(str),
                                     background="-1") == 1.0
        assert ari_dagger(truth, np.array(["x", "x", "x", "y", "y", "y", "bg", "bg"]), background="bg") == 1.0


def test_text_labels_with_a_numeric_background_are_refused():
    # Labels read from a file as text keep '-1', which the number -1 does not match.
    with pytest.raises(ValueError, match=r"holds the text '-1' but background is the number -1"):
        ari_dagger(np.array(["-1", "1", "1", "2"]), np.array([-1, 1, 1, 2]))
    assert ari_dagger(np.array(["-1", "1", "1", "2"]), np.array(["-1", "1", "1", "2"]), background="-1") == 1.0


@pytest.mark.parametrize("groups", [None, np.array([0, 0, 0, 1, 1, 1])])
def test_a_scorer_names_y_when_its_text_labels_hold_minus_one(groups):
    # The scorer's user passed y (to cross_validate or the scorer), not labels_true.
    X = np.array([[0.0, 0.0], [1.0, 0.0], [50.0, 50.0], [0.0, 0.0], [1.0, 0.0], [50.0, 50.0]])
    y = np.array(["1", "1", "-1", "1", "1", "-1"])
    with pytest.raises(ValueError, match=r"^y holds the text '-1' but background is the number -1"):
        get_scorer("ari_dagger")(DBSCAN(eps=5, min_samples=2), X, y, groups=groups)


def test_clustering_report_shows_progress_over_fovs_when_asked(capsys):
    from sklearn_miro.datasets import make_gaussian_clusters

    X, y, fov = make_gaussian_clusters(n_fovs=3, n_clusters=3, n_localizations=10, n_background=10,
                                       fov_size=500.0, random_state=0)
    quiet = clustering_report(X, y, y, groups=fov)
    assert "clustering_report" not in capsys.readouterr().err
    shown = clustering_report(X, y, y, groups=fov, verbose=1)
    assert "clustering_report: FOVs" in capsys.readouterr().err
    pd.testing.assert_frame_equal(quiet, shown)
    with pytest.raises(ValueError, match="verbose must be an integer >= 0"):
        clustering_report(X, y, y, groups=fov, verbose=-1)
