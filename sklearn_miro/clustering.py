"""Clustering of collapsed coordinates, one field of view (FOV) at a time.

FOVs share one coordinate range, so every FOV is clustered on its own
(:func:`cluster_per_fov`) and the labels are offset to stay unique across FOVs.
When the DBSCAN parameters are ``"auto"``, :func:`choose_dbscan_parameters`
searches the grids :data:`EPS_FRACTIONS` (times the connectivity radius) and
:data:`MIN_SAMPLES_GRID` on labelled collapsed FOVs. Used by every estimator,
the command line and the benchmarks.
"""

from __future__ import annotations

import hashlib
from functools import partial
from numbers import Integral, Real

import numpy as np
from sklearn.base import clone
from sklearn.cluster import DBSCAN
from sklearn.exceptions import NotFittedError
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from .graph import area_weights, weighted_median
from .grid_dbscan import DBSCANStar, drop_border_points, grid_dbscan, neighbour_counts
from .parallel import map_fovs, runs_in_this_process

__all__ = [
    "ami_score",
    "dbscan_per_fov_scaled",
    "EPS_CONSTRAINTS",
    "EPS_FRACTIONS",
    "MIN_SAMPLES_CONSTRAINTS",
    "MIN_SAMPLES_GRID",
    "GRID_DBSCAN_MIN_POINTS",
    "choose_dbscan_parameters",
    "choose_dbscan_parameters_rules",
    "AUTO_OUTLIER_RADII",
    "cluster_fov",
    "cluster_mahalanobis",
    "cluster_per_fov",
    "dbscan_per_fov",
    "dbscan_template",
    "fov_area_weights",
    "fov_median",
    "is_auto",
    "inner_transformer",
    "is_fitted",
    "offset_labels",
    "stack_fov_labels",
    "transformer_radius",
    "trim_clusters",
    "tune_dbscan",
    "tune_dbscan_rules",
    "tuning_score",
]


# scikit-learn parameter constraints of a DBSCAN eps / min_samples that may be "auto".
EPS_CONSTRAINTS = [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})]
MIN_SAMPLES_CONSTRAINTS = [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})]

# Candidate DBSCAN parameters for eps="auto" / min_samples="auto": eps as a
# fraction of the connectivity radius (collapsed clusters are much tighter than
# the graph's edges), min_samples up to the typical training cluster size.
EPS_FRACTIONS = np.geomspace(0.01, 1.0, 18)
MIN_SAMPLES_GRID = np.array([2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25, 30, 40, 50, 60, 80, 100, 130, 160, 200])


def tuning_score(X, labels_true, labels_pred):
    """Mean of ARI-dagger (membership) and JI_c (cluster detection).

    ARI-dagger alone rewards splitting the background into many tiny "pure"
    clusters (a two-point background cluster has a perfect index); JI_c
    counts those as false positives.
    """
    from .metrics import ari_dagger_ji_c

    return ari_dagger_ji_c(X, labels_true, labels_pred)


def tune_dbscan(fovs, eps_grid, min_samples_grid, extra_scores=None, score=None, n_jobs=None,
                progress=None, *, core_only=False, memo=None, fov_weights=None):
    """Grid search of DBSCAN parameters on labelled, collapsed FOVs.

    Parameters
    ----------
    fovs : list of (X, X_collapsed, labels_true)
    eps_grid, min_samples_grid : array-like
    extra_scores : list of callable, optional
        One per FOV, ``labels_pred -> float`` in [0, 1]; when given, a FOV's
        score is the mean of ARI-dagger, JI_c and this score (the shape
        classifier adds the F1 of its cluster classes).
    score : callable, optional
        ``(X, labels_true, labels_pred) -> float``, the FOV's score in place
        of :func:`tuning_score` (``extra_scores`` are then added to it in the
        same way).
    n_jobs : int or None, default=None
        The ``eps`` candidates are scored in parallel (joblib, scikit-learn's
        convention); the scores do not depend on it.
    progress : tqdm-like, optional
        Advanced by one per ``eps`` candidate scored (all at once when the
        candidates are scored in other processes).
    core_only : bool, default=False
        Score DBSCAN* (border points left as background,
        :func:`~sklearn_miro.grid_dbscan.drop_border_points`) instead of DBSCAN.
    memo : dict, optional
        Scores of labellings already scored, keyed by FOV and labels; pass
        the same dict to searches over the same ``fovs`` (other collapses,
        DBSCAN and DBSCAN*) so that a labelling met again is not rescored.
    fov_weights : array-like of shape (len(fovs),), optional
        Weights of the FOVs in the mean score (None: equal weights). The
        estimators pass :func:`fov_area_weights`.

    Returns
    -------
    best : (eps, min_samples, score)
    scores : ndarray of shape (len(eps_grid), len(min_samples_grid))
        Mean score over FOVs (weighted by ``fov_weights``).

    See Also
    --------
    tune_dbscan_rules : DBSCAN and DBSCAN* scored from the same DBSCAN runs.
    """
    return tune_dbscan_rules(fovs, eps_grid, min_samples_grid, extra_scores, score, n_jobs, progress,
                             core_only_options=(bool(core_only),), memo=memo, fov_weights=fov_weights)[0]


def tune_dbscan_rules(fovs, eps_grid, min_samples_grid, extra_scores=None, score=None, n_jobs=None,
                      progress=None, *, core_only_options=(False, True), memo=None, fov_weights=None):
    """:func:`tune_dbscan` for several border-point rules, from one DBSCAN run per candidate.

    DBSCAN* keeps DBSCAN's core points and clusters and only leaves the
    border points out, so both rules are scored on the labels of one
    :func:`~sklearn_miro.grid_dbscan.grid_dbscan` run per FOV and candidate:
    the same scores as one :func:`tune_dbscan` search per rule, at about half
    the clustering work (the estimators' ``border_points="auto"``).

    Parameters
    ----------
    fovs, eps_grid, min_samples_grid, extra_scores, score, n_jobs, memo, fov_weights
        As in :func:`tune_dbscan`.
    progress : tqdm-like, optional
        Advanced by one per ``eps`` candidate (all rules at once).
    core_only_options : sequence of bool, default=(False, True)
        The rules to score: ``False`` DBSCAN, ``True`` DBSCAN*.

    Returns
    -------
    results : list of (best, scores)
        One :func:`tune_dbscan` result per entry of ``core_only_options``.
    """
    core_only_options = _check_core_only_options(core_only_options)
    extra_scores = extra_scores or [None] * len(fovs)
    score = tuning_score if score is None else score
    # Neighbouring candidates often give one FOV the same labels (about one
    # in ten on blinking 6): each distinct labelling is scored once (in each
    # worker, when the rows are scored in parallel).
    # The score depends on the FOV's labels only, not on the collapsed
    # coordinates: a memo is valid across collapses and DBSCAN variants.
    memo = {} if memo is None else memo
    # The ground truth of each FOV validated and encoded once, not once per labelling.
    scorers = [_fov_scorer(score, X, y) for X, _, y in fovs]
    # A progress bar can only be advanced from this process.
    row_progress = progress if runs_in_this_process(n_jobs) else None
    rows = map_fovs(
        _score_eps_row,
        [(eps, fovs, min_samples_grid, extra_scores, scorers, memo, row_progress, core_only_options,
          fov_weights) for eps in eps_grid],
        n_jobs,
    )
    if progress is not None and row_progress is None:
        progress.update(len(rows))
    # rows: one (n_rules, n_min_samples) array per eps.
    all_scores = np.array(rows, dtype=np.float64).reshape(len(eps_grid), len(core_only_options),
                                                          len(min_samples_grid))
    results = []
    for r in range(len(core_only_options)):
        # A copy, not np.ascontiguousarray: with one eps (or one min_samples)
        # the slice counts as C-contiguous and would be kept as a view whose
        # strides still step over the other rules; pickle rebuilds it with
        # the usual strides, and joblib.hash (which hashes the strides) of a
        # fitted estimator would change across a pickle round trip.
        scores = all_scores[:, r, :].copy()
        i, j = np.unravel_index(np.argmax(scores), scores.shape)
        results.append(((float(eps_grid[i]), int(min_samples_grid[j]), float(scores[i, j])), scores))
    return results


def _check_core_only_options(core_only_options):
    """``core_only_options`` as a tuple of bools: a non-empty sequence of True / False."""
    options = tuple(core_only_options) if np.iterable(core_only_options) else None
    if not options or not all(isinstance(c, (bool, np.bool_)) for c in options):
        raise ValueError(
            "core_only_options must be a non-empty sequence of booleans, one per border-point "
            f"rule to score (False: DBSCAN, True: DBSCAN*), e.g. (False, True); got {core_only_options!r}."
        )
    return tuple(bool(c) for c in options)


def _fov_scorer(score, X, labels_true):
    """``labels_pred -> score(X, labels_true, labels_pred)`` for one FOV.

    The package's two search scores get a :class:`~sklearn_miro.metrics.FOVScorer`
    (the same values; the ground truth prepared once), any other score is
    called as it is.
    """
    from .metrics import FOVScorer, ari_dagger_ji_c, ari_dagger_ji_c_ami

    metric = {ari_dagger_ji_c_ami: "ari_dagger_ji_c_ami", ari_dagger_ji_c: "ari_dagger_ji_c",
              tuning_score: "ari_dagger_ji_c"}.get(score)
    if metric is not None:
        return FOVScorer(X, labels_true, metric=metric)
    return partial(score, X, labels_true)


def _score_eps_row(eps, fovs, min_samples_grid, extra_scores, scorers, memo, progress=None,
                   core_only_options=(False,), fov_weights=None):
    """Mean score over the FOVs of DBSCAN(eps, m) for every m of ``min_samples_grid``, per rule.

    Returns an array of shape ``(len(core_only_options), len(min_samples_grid))``:
    DBSCAN where the option is False, DBSCAN* (the same run's border points
    as background) where it is True.
    """
    # grid_dbscan gives scikit-learn's DBSCAN labels; on collapsed FOVs it is
    # about 4 times faster than DBSCAN on a precomputed neighbourhood graph
    # shared by every min_samples, whose per-row sorting and splitting took
    # most of a fit's tuning (measured on the 3 training FOVs of blinking
    # scenario 6: 12.5 vs 3.2 CPU-s for 126 fits, identical labels). The
    # neighbour counts that decide the core points depend on eps only: counted
    # once for every min_samples.
    counts = [neighbour_counts(Xc, eps) for _, Xc, _ in fovs]
    row = np.empty((len(core_only_options), len(min_samples_grid)))
    for j, min_samples in enumerate(min_samples_grid):
        fov_scores = [[] for _ in core_only_options]
        for k, ((_, Xc, _), c, extra, scorer) in enumerate(zip(fovs, counts, extra_scores, scorers)):
            labels, core = grid_dbscan(Xc, eps, int(min_samples), neighbour_counts=c)
            for r, core_only in enumerate(core_only_options):
                rule_labels = drop_border_points(labels, core) if core_only else labels
                key = (k, hashlib.blake2b(rule_labels.tobytes(), digest_size=16).digest())
                if key not in memo:
                    memo[key] = _fov_score(scorer, rule_labels, extra)
                fov_scores[r].append(memo[key])
        for r in range(len(core_only_options)):
            row[r, j] = np.average(fov_scores[r], weights=fov_weights)
    if progress is not None:
        progress.update(1)
    return row


def _fov_score(scorer, labels_pred, extra):
    base = scorer(labels_pred)
    if extra is None:
        return base
    return (2.0 * base + extra(labels_pred)) / 3.0


def ami_score(labels_true):
    """``labels_pred -> AMI(labels_true, labels_pred)``: an extra score for :func:`tune_dbscan`.

    The background is an ordinary cluster (as in the paper's tables).
    """
    from .metrics import ami

    return lambda labels_pred: ami(labels_true, labels_pred)


def fov_area_weights(X_fovs):
    """Weights of labelled FOVs in the mean scores of the choices after the network.

    None (every FOV alike) unless their bounding-box areas differ by more
    than :data:`~sklearn_miro.graph.AREA_WEIGHT_RATIO`; then proportional to
    area (:func:`~sklearn_miro.graph.area_weights`). A whole labelled FOV and
    eight small boxes around single clusters would otherwise let the boxes,
    where almost nothing is background, choose the parameters: measured on
    simulated scenario 2, ``min_samples`` 2, and JI_c 0.77 on whole test FOVs.
    """
    areas = [float(np.prod(np.ptp(np.asarray(X, dtype=np.float64), axis=0))) if len(X) else 0.0
             for X in X_fovs]
    return area_weights(areas)


def fov_median(values, X_fovs):
    """Median over labelled FOVs of one value per FOV, weighted as :func:`fov_area_weights` says.

    NaN values (a FOV that spans no area) are left out; NaN when none is left.
    """
    values = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(values)
    if not finite.any():
        return float("nan")
    weights = fov_area_weights(X_fovs)
    if weights is None or weights[finite].sum() <= 0:
        return float(np.median(values[finite]))
    return weighted_median(values[finite], weights[finite])


def is_fitted(estimator):
    try:
        check_is_fitted(estimator)
    except NotFittedError:
        return False
    except TypeError:
        return False
    return True


def offset_labels(labels, offset):
    """Shift non-noise labels by ``offset`` so labels stay unique across FOVs."""
    labels = np.asarray(labels).astype(np.int64, copy=True)
    labels[labels >= 0] += offset
    return labels


# FOVs with more localisations than this are clustered by grid_dbscan (same
# labels as DBSCAN, bounded memory) when the clusterer is a plain DBSCAN.
GRID_DBSCAN_MIN_POINTS = 10_000


def cluster_fov(clusterer, points):
    """``clone(clusterer).fit_predict(points)``, in bounded memory for a large DBSCAN.

    A :class:`sklearn.cluster.DBSCAN` with the Euclidean metric on more than
    :data:`GRID_DBSCAN_MIN_POINTS` points is run as
    :func:`sklearn_miro.grid_dbscan.grid_dbscan`, which gives the same labels
    without storing every neighbourhood (collapsed clusters make those huge).
    """
    if (
        type(clusterer) is DBSCAN
        and clusterer.metric == "euclidean"
        and clusterer.metric_params is None
        and clusterer.p in (None, 2)
        and len(points) > GRID_DBSCAN_MIN_POINTS
    ):
        return grid_dbscan(points, clusterer.eps, clusterer.min_samples)[0]
    points = np.asarray(points)
    if getattr(clusterer, "metric", None) == "euclidean" and points.ndim == 2 and len(points):
        # No Euclidean distance changes with a translation, and scikit-learn's
        # brute-force distances (|x|^2 - 2 x.y + |y|^2, used for a few points)
        # lose every digit at stage coordinates (1e8 nm): relative to the FOV.
        points = points - points.min(axis=0)
    return np.asarray(clone(clusterer).fit_predict(points))


def stack_fov_labels(fov_indices, fov_labels, n):
    """One label vector from per-FOV labels, shifted so that ids are unique across FOVs."""
    labels = np.full(n, -1, dtype=np.int64)
    offset = 0
    for idx, lab in zip(fov_indices, fov_labels):
        labels[idx] = offset_labels(lab, offset)
        if (lab >= 0).any():
            offset += int(lab.max()) + 1
    return labels


#: Mahalanobis radii that ``outlier_radius="auto"`` chooses from, in the order
#: a tie is broken: no trimming first, then from the least trimming to the most.
#: 2.0 was measured as well and lowered ARI-dagger on every scenario tried
#: (``benchmarks/README.md``, twenty-third session).
AUTO_OUTLIER_RADII = (None, 3.5, 3.0, 2.5)


def cluster_mahalanobis(X, labels):
    """Mahalanobis distance of every localisation from the mean of its cluster.

    Each cluster's mean and covariance (maximum likelihood) are computed from
    its own localisations in ``X``, for all clusters at once. The distance
    is invariant to translation, rotation and a change of units of ``X``.

    Parameters
    ----------
    X : ndarray of shape (n_localizations, 2)
        Original (not collapsed) coordinates.
    labels : ndarray of shape (n_localizations,)
        Cluster labels, -1 for background.

    Returns
    -------
    distance : ndarray of shape (n_localizations,)
        NaN for background and for clusters whose covariance is singular
        (one localisation, or all on a line).
    """
    X = np.asarray(X, dtype=np.float64)
    labels = np.asarray(labels)
    distance = np.full(labels.shape[0], np.nan)
    member = labels >= 0
    if not member.any():
        return distance
    _, cluster = np.unique(labels[member], return_inverse=True)
    size = np.bincount(cluster).astype(np.float64)
    points = X[member]
    mean = np.stack([np.bincount(cluster, weights=points[:, d]) for d in (0, 1)], axis=1) / size[:, None]
    dx, dy = (points - mean[cluster]).T
    sxx = np.bincount(cluster, weights=dx * dx) / size
    syy = np.bincount(cluster, weights=dy * dy) / size
    sxy = np.bincount(cluster, weights=dx * dy) / size
    det = sxx * syy - sxy * sxy
    # A relative threshold: a cluster on a line (or a single point) has no
    # second axis to measure distances along.
    regular = det > 1e-12 * (sxx + syy) ** 2
    squared = np.full(points.shape[0], np.nan)
    ok = regular[cluster]
    c = cluster[ok]
    squared[ok] = (syy[c] * dx[ok] ** 2 - 2.0 * sxy[c] * dx[ok] * dy[ok] + sxx[c] * dy[ok] ** 2) / det[c]
    distance[member] = np.sqrt(np.maximum(squared, 0.0))
    return distance


def trim_clusters(X, labels, radius):
    """Labels with every localisation farther than ``radius`` from its cluster made background.

    The distance is :func:`cluster_mahalanobis`: in units of the cluster's own
    spread along each of its axes, so an elongated cluster keeps its ends
    while a background localisation beside it goes. Since the squared
    distances of a cluster's ``n`` localisations average 2, and none can
    exceed ``n - 1`` (the leverage bound), a radius of at least 1.5 never
    empties a cluster, and clusters of 7 localisations or fewer are left whole at
    radius 2.5 or more. The covariance is the cluster's as clustered (with
    whatever background it absorbed), computed once: iterating it would
    shrink it below the true spread and trim members.

    Parameters
    ----------
    X : ndarray of shape (n_localizations, 2)
        Original (not collapsed) coordinates.
    labels : ndarray of shape (n_localizations,)
        Cluster labels, -1 for background.
    radius : float or None
        Mahalanobis radius; None returns the labels unchanged.

    Returns
    -------
    labels : ndarray of shape (n_localizations,)
        A new array; cluster ids are not renumbered.
    """
    labels = np.array(labels, dtype=np.int64, copy=True)
    if radius is None:
        return labels
    distance = cluster_mahalanobis(X, labels)
    labels[distance > radius] = -1  # NaN (background, singular clusters) compares False
    return labels


def cluster_per_fov(fov_indices, points, clusterer, n, n_jobs=None):
    """:func:`cluster_fov` on every FOV on its own; labels unique across FOVs."""
    fov_labels = map_fovs(cluster_fov, [(clusterer, pts) for pts in points], n_jobs)
    return stack_fov_labels(fov_indices, fov_labels, n)


def choose_dbscan_parameters(
    X_fovs, collapsed, labels_fovs, radius, eps, min_samples, extra_scores=None, score=None,
    n_jobs=None, progress=None, *, core_only=False, memo=None, fov_weights=None,
):
    """DBSCAN parameters chosen on labelled collapsed FOVs (``"auto"`` entries).

    ``eps`` among 18 geometric fractions (1 %-100 %) of the connectivity
    radius, ``min_samples`` from 2 up to the median cluster size; the mean of
    ARI-dagger and JI_c over the FOVs (or ``score``, and of ``extra_scores``;
    see :func:`tune_dbscan`, which also takes ``n_jobs``, ``progress``,
    ``core_only``, ``memo`` and ``fov_weights``) is maximised. A value other than ``"auto"``
    is used as the only candidate.

    Returns
    -------
    eps, min_samples, scores, eps_grid, min_samples_grid

    See Also
    --------
    choose_dbscan_parameters_rules : the same for DBSCAN and DBSCAN* at once.
    """
    return choose_dbscan_parameters_rules(
        X_fovs, collapsed, labels_fovs, radius, eps, min_samples, extra_scores, score, n_jobs, progress,
        core_only_options=(bool(core_only),), memo=memo, fov_weights=fov_weights,
    )[0]


def choose_dbscan_parameters_rules(
    X_fovs, collapsed, labels_fovs, radius, eps, min_samples, extra_scores=None, score=None,
    n_jobs=None, progress=None, *, core_only_options=(False, True), memo=None, fov_weights=None,
):
    """:func:`choose_dbscan_parameters` for several border-point rules (:func:`tune_dbscan_rules`).

    Parameters
    ----------
    X_fovs, collapsed, labels_fovs : list of ndarray
        Per FOV: the localisations, their collapsed positions and their
        cluster labels (-1 background).
    radius : float
        The length ``eps="auto"``'s candidates are fractions of.
    eps, min_samples : float, int or "auto"
        As in :func:`choose_dbscan_parameters`.
    extra_scores, score, n_jobs, progress, memo, fov_weights
        As in :func:`tune_dbscan`.
    core_only_options : sequence of bool, default=(False, True)
        The rules to score: ``False`` DBSCAN, ``True`` DBSCAN*.

    Returns
    -------
    results : list of (eps, min_samples, scores, eps_grid, min_samples_grid)
        One :func:`choose_dbscan_parameters` result per entry of
        ``core_only_options`` (``False``: DBSCAN, ``True``: DBSCAN*), the
        same values as one search per rule.
    """
    eps_grid = EPS_FRACTIONS * radius if is_auto(eps) else np.array([float(eps)])
    if is_auto(min_samples):
        # Sizes per FOV: labels that restart in every FOV must not pool the
        # clusters of several FOVs into one.
        sizes = np.concatenate(
            [np.unique(np.asarray(lab)[np.asarray(lab) >= 0], return_counts=True)[1] for lab in labels_fovs]
            or [np.empty(0, dtype=np.int64)]
        )
        typical = max(2, int(np.median(sizes))) if len(sizes) else 2
        ms_grid = MIN_SAMPLES_GRID[MIN_SAMPLES_GRID <= typical]
        if len(ms_grid) == 0:
            ms_grid = MIN_SAMPLES_GRID[:1].copy()  # not a view of the module's grid
    else:
        ms_grid = np.array([int(min_samples)])
    fovs = list(zip(X_fovs, collapsed, labels_fovs))
    if progress is not None:  # one step per eps candidate
        progress.reset(total=len(eps_grid))
    results = tune_dbscan_rules(fovs, eps_grid, ms_grid, extra_scores, score, n_jobs, progress,
                                core_only_options=core_only_options, memo=memo, fov_weights=fov_weights)
    return [(best_eps, best_ms, scores, eps_grid, ms_grid) for (best_eps, best_ms, _), scores in results]


def is_auto(value):
    return isinstance(value, str) and value == "auto"


def dbscan_per_fov(fov_indices, points, eps, min_samples, n):
    """DBSCAN on every FOV on its own; labels unique across FOVs."""
    return cluster_per_fov(fov_indices, points, DBSCAN(eps=eps, min_samples=min_samples), n)


def dbscan_template(eps, min_samples, core_only=False):
    """``DBSCAN(eps, min_samples)``, or :class:`~sklearn_miro.grid_dbscan.DBSCANStar` when ``core_only``."""
    return (DBSCANStar if core_only else DBSCAN)(eps=eps, min_samples=min_samples)


def inner_transformer(transformer):
    """The transformer inside a wrapper such as :class:`sklearn.frozen.FrozenEstimator`, else itself."""
    return getattr(transformer, "estimator", transformer)


def transformer_radius(transformer):
    """Connectivity radius of a (possibly wrapped) fitted MIRO transformer."""
    inner = inner_transformer(transformer)
    radius = getattr(inner, "connectivity_radius_", None)
    if radius is None:
        raise ValueError(
            "eps='auto' needs a MIRO transformer (its connectivity radius sets the scale of "
            f"the candidates); got {type(inner).__name__}. Pass eps explicitly."
        )
    return float(radius)


def dbscan_per_fov_scaled(fov_indices, points, eps, min_samples, n, *, core_only=False):
    """DBSCAN on every FOV with its own ``eps`` (sequence, one per FOV); labels unique across FOVs.

    ``min_samples`` is one value or one per FOV. FOVs whose ``eps`` is not
    finite (no length scale could be set) stay background. ``core_only``
    runs DBSCAN* (:class:`~sklearn_miro.grid_dbscan.DBSCANStar`) instead.
    """
    labels = np.full(n, -1, dtype=np.int64)
    offset = 0
    fov_min_samples = np.broadcast_to(np.asarray(min_samples), (len(fov_indices),))
    for idx, pts, fov_eps, fov_ms in zip(fov_indices, points, eps, fov_min_samples):
        if not np.isfinite(fov_eps) or len(idx) == 0:
            continue
        # cluster_fov: bounded memory on large FOVs (collapsed clusters make
        # scikit-learn's neighbourhoods grow with the square of their size).
        fov_labels = cluster_fov(dbscan_template(float(fov_eps), int(fov_ms), core_only), pts)
        labels[idx] = offset_labels(fov_labels, offset)
        if (fov_labels >= 0).any():
            offset += int(fov_labels.max()) + 1
    return labels
