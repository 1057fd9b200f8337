"""Clustering metrics of the MIRO paper, as functions and as scikit-learn scorers.

The metrics follow Pineda et al., *Enhanced spatial clustering of
single-molecule localizations with graph neural networks*, Nat. Commun. 16,
9693 (2025), sections "Metrics for performance evaluation" and "Comparison of
ARI-like metrics". Where the authors' code computes a metric differently from
the paper's equations, the paper's definition is the default and the code's
behaviour is available with ``variant="reference"`` so that the published
tables (Supplementary Tables S3 and S4) can be reproduced. ``doc/metrics.md``
lists every formula and every difference.

Conventions
-----------
* ``X`` holds the (x, y) coordinates of the localisations, in nm, shape
  ``(n_localizations, 2)``; a DataFrame with ``x``/``y`` columns works too.
* Labels may be integers (contiguous or not) or strings. The ``background``
  label (default -1, scikit-learn's noise label, e.g. DBSCAN's output) marks
  localisations that belong to no cluster, in the ground truth and in the
  prediction alike. The benchmark files use 0 for background: map it to -1
  when loading (``np.where(y == 0, -1, y)``). ``background=0`` applies to the
  prediction too, which suits only predictions that mark background with 0
  (DBSCAN's noise is -1 and its first cluster 0): the metrics warn when the
  prediction holds -1 but ``background`` is another label.
* Every metric scores **one field of view (FOV)**. :func:`clustering_report`
  and the scorers take ``groups`` (the FOV id of every localisation), score each
  FOV on its own and average, as the paper does.
"""

from __future__ import annotations

import inspect
import numbers
import warnings
from functools import cached_property

import numpy as np
import pandas as pd

from . import core
from .scorers import ClusteringScorer, MultipleFOVWarning, warn_if_stacked_fovs
from ..parallel import map_fovs, progress_bar
from .._validation import (
    caller_stacklevel,
    check_coordinates,
    check_groups,
    check_label_vector,
    check_positive,
    split_by_group,
)

__all__ = [
    "FOVScorer",
    "REPORT_COLUMNS",
    "MultipleFOVWarning",
    "ami",
    "ami_scorer",
    "ari",
    "ari_c",
    "ari_c_scorer",
    "ari_dagger",
    "ari_dagger_scorer",
    "ari_dagger_ji_c",
    "ari_dagger_ji_c_ami",
    "miro_scorer",
    "ari_scorer",
    "clustering_report",
    "compression_index",
    "compression_index_scorer",
    "get_scorer",
    "get_scorer_names",
    "iou",
    "iou_scorer",
    "jaccard_cluster_index",
    "jaccard_cluster_scorer",
    "make_clustering_scorer",
    "neg_rmse_xy_scorer",
    "neg_rmsre_n_scorer",
    "rmse_xy",
    "rmsre_n",
]

VARIANTS = ("paper", "reference")
AVERAGE_METHODS = ("arithmetic", "geometric", "min", "max")  # of the entropies, in AMI

# --------------------------------------------------------------------- checks


def _check_variant(variant):
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}; got {variant!r}.")
    return variant


def _resolve_matching(variant, matching):
    _check_variant(variant)
    if matching is None:
        return "centroid" if variant == "paper" else "reference"
    if matching not in core.MATCHING_METHODS:
        raise ValueError(
            f"matching must be one of {core.MATCHING_METHODS} or None; got {matching!r}."
        )
    return matching


def _check_threshold(threshold):
    return check_positive(threshold, "threshold", allow_zero=True, allow_none=True)


def _check_n_pixels(n_pixels):
    if n_pixels is None:
        return None
    if isinstance(n_pixels, bool) or not isinstance(n_pixels, numbers.Integral) or n_pixels < 2:
        raise ValueError(f"n_pixels must be an integer >= 2 or None; got {n_pixels!r}.")
    return int(n_pixels)


def _check_pair(labels_true, labels_pred, X=None):
    """Validate coordinates (optional) and both label vectors; fresh arrays."""
    coords = None
    if X is not None:
        coords = check_coordinates(X, name="X")
    n = None if coords is None else coords.shape[0]
    labels_true = check_label_vector(labels_true, n, name="labels_true")
    labels_pred = check_label_vector(
        labels_pred, labels_true.shape[0], name="labels_pred", against="labels_true"
    )
    return coords, labels_true, labels_pred


class _Truth:
    """The ground-truth side of a FOV's evaluations: its coordinates, encoding and cluster table.

    Built once per FOV where many labellings are scored against the same truth
    (:class:`FOVScorer`); :class:`_Evaluation` builds its own otherwise.
    """

    def __init__(self, labels_true, background, coords=None):
        # Relative to the FOV's own corner: every coordinate metric is then
        # translation invariant, also in floating point, wherever the FOV sits.
        self.coords = None if coords is None or coords.shape[0] == 0 else coords - coords.min(axis=0)
        self.encoded = core.encode_labels(labels_true, background, name="labels_true")

    @cached_property
    def clusters(self):
        return core.cluster_table(self.coords, self.encoded)


#: Names that read as "no cluster" (compared lower-cased), for the missing-background warning.
_BACKGROUND_NAMES = frozenset({"-1", "bg", "background", "noise", "none", "unclustered", "outlier", "outliers"})


def _warn_if_noise_is_scored_as_a_cluster(pred, background):
    """Warn when the prediction holds -1 (scikit-learn's noise) but background is another label.

    ``background`` applies to both labellings; with ``background=0`` (or
    ``"bg"``) for benchmark-style ground truth, DBSCAN's noise (-1) would be
    scored as a cluster and its cluster 0 as background, silently.
    """
    if _same_label(background, -1) or pred.classes.dtype.kind not in "iuf":
        return
    if np.any(pred.classes == -1):
        if isinstance(background, numbers.Number):
            fix = ("If only the ground truth uses that label for background, map it to -1 "
                   f"(np.where(labels_true == {background!r}, -1, labels_true)) and keep background=-1.")
        else:  # text labels: bring the prediction's noise to the ground truth's name instead
            fix = ("Map the prediction's noise to that label: "
                   f"np.where(labels_pred == -1, {background!r}, labels_pred.astype(str)).")
        warnings.warn(
            f"labels_pred holds -1 (scikit-learn's noise label, e.g. DBSCAN's) but background={background!r}: "
            f"-1 is scored as a cluster and {background!r} as background in the prediction too. {fix}",
            UserWarning,
            stacklevel=caller_stacklevel(),
        )


def _same_label(a, b):
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False


def _warn_if_background_is_missing(true, pred, background):
    """Warn when a labelling lacks ``background`` but holds a label named like it.

    Labels such as ``"bg"`` or ``"noise"`` with the default ``background=-1``
    would be scored as one large cluster, without a word.
    """
    for side, encoded in (("labels_true", true), ("labels_pred", pred)):
        if encoded.background_code >= 0 or encoded.classes.dtype.kind in "biuf":
            continue  # numbers are never named like background (a text '-1' is refused earlier)
        named = [c for c in encoded.classes.tolist()
                 if not _same_label(c, -1) and str(c).strip().lower() in _BACKGROUND_NAMES]
        if named:
            warnings.warn(
                f"{side} holds {named[0]!r}, which reads as background, but not background={background!r}: "
                f"{named[0]!r} is scored as a cluster. Pass background={named[0]!r} "
                "if it marks the localisations in no cluster.",
                UserWarning,
                stacklevel=caller_stacklevel(),
            )
            return


class _Evaluation:
    """All metrics of one FOV, sharing the encodings, tables and matchings."""

    def __init__(self, labels_true, labels_pred, background, coords=None, *, truth=None):
        self.truth = _Truth(labels_true, background, coords) if truth is None else truth
        self.coords = self.truth.coords
        self.true = self.truth.encoded
        self.pred = core.encode_labels(labels_pred, background, name="labels_pred")
        _warn_if_noise_is_scored_as_a_cluster(self.pred, background)
        _warn_if_background_is_missing(self.true, self.pred, background)
        self._matchings = {}

    @cached_property
    def table(self):
        return core.contingency(self.true.codes, self.true.n_classes,
                                self.pred.codes, self.pred.n_classes)

    @property
    def clusters_true(self):
        return self.truth.clusters

    @cached_property
    def clusters_pred(self):
        return core.cluster_table(self.coords, self.pred)

    def matching(self, method, threshold):
        key = (method, threshold)
        if key not in self._matchings:
            self._matchings[key] = core.match_cluster_tables(
                self.clusters_true, self.clusters_pred, matching=method, threshold=threshold
            )
        return self._matchings[key]

    # -------------------------------------------------------------- metrics
    def ari(self):
        return core.adjusted_rand_from_table(self.table)

    def ari_dagger(self, variant):
        table = self.table
        if variant == "paper" and table.is_identical_partition():
            return 1.0
        row_terms, col_terms = core.adjusted_wallace_terms(table)
        if variant == "reference":
            # The authors' code averages only the non-zero terms and takes the
            # harmonic mean whenever the two means add up to a positive number.
            row_terms = row_terms[row_terms != 0]
            col_terms = col_terms[col_terms != 0]
            if row_terms.size == 0 or col_terms.size == 0:
                return 0.0
            mean_rows, mean_cols = row_terms.mean(), col_terms.mean()
            if mean_rows + mean_cols <= 0:
                return 0.0
            return float(2.0 * mean_rows * mean_cols / (mean_rows + mean_cols))
        if row_terms.size == 0 or col_terms.size == 0:
            return 0.0
        mean_rows, mean_cols = row_terms.mean(), col_terms.mean()
        if mean_rows * mean_cols <= 0:
            # A harmonic mean of numbers of opposite signs is unbounded nonsense.
            return 0.0
        return float(2.0 * mean_rows * mean_cols / (mean_rows + mean_cols))

    def ari_c(self):
        clustered = self.true.cluster_mask()
        if not clustered.any():
            return np.nan
        table = core.contingency(self.true.codes[clustered], self.true.n_classes,
                                 self.pred.codes[clustered], self.pred.n_classes)
        return core.adjusted_rand_from_table(table)

    def ami(self, average_method):
        return core.adjusted_mutual_information(self.true.codes, self.true.n_classes,
                                                self.pred.codes, self.pred.n_classes,
                                                average_method, table=self.table)

    def ji_c(self, method, threshold):
        match = self.matching(method, threshold)
        n_fp = match.n_pred - match.n_matched
        n_fn = match.n_true - match.n_matched
        denominator = match.n_matched + n_fp + n_fn
        if denominator == 0:  # no cluster on either side: nothing missed, nothing invented
            return 1.0
        return match.n_matched / denominator

    def rmsre_n(self, method, threshold, variant):
        match = self.matching(method, threshold)
        if match.n_matched == 0:
            return 0.0 if variant == "reference" else np.nan
        relative = (match.pred_sizes - match.true_sizes) / match.true_sizes
        return float(np.sqrt(np.mean(relative**2)))

    def rmse_xy(self, method, threshold, variant):
        match = self.matching(method, threshold)
        if match.n_matched == 0:
            return 0.0 if variant == "reference" else np.nan
        if variant == "reference":
            return float(np.sqrt(np.mean(match.distances)))
        return float(np.sqrt(np.mean(match.distances**2)))

    def iou(self, n_pixels):
        value = core.hull_union_iou(self.coords, self.true, self.pred, n_pixels)[0]
        return 1.0 if np.isnan(value) else float(value)


# ------------------------------------------------------------ label metrics


def ari(labels_true, labels_pred, *, background=-1):
    r"""Adjusted Rand index (ARI) over all localisations.

    .. math::

        \mathrm{ARI} = \frac{\sum_{ij}\binom{n_{ij}}{2} - PQ/N}{\tfrac12(P+Q) - PQ/N},
        \quad P = \sum_i \binom{a_i}{2},\ Q = \sum_j \binom{b_j}{2},\ N = \binom{n}{2},

    with :math:`n_{ij}` the contingency table of the two labellings and
    :math:`a_i`, :math:`b_j` its row and column sums. The background is one
    ordinary cluster on each side, as in the paper and the reference code, so
    the value equals :func:`sklearn.metrics.adjusted_rand_score`.

    Parameters
    ----------
    labels_true, labels_pred : array-like of shape (n_localizations,)
        Ground-truth and predicted cluster labels (integers or strings).
    background : hashable, default=-1
        Background label. Accepted for a uniform signature; it does not change
        the ARI, which treats the background as an ordinary cluster.

    Returns
    -------
    float
        1 for identical partitions, about 0 for chance agreement, can be negative.

    References
    ----------
    Hubert, L. & Arabie, P. Comparing partitions. J. Classif. 2, 193-218 (1985).
    """
    _, labels_true, labels_pred = _check_pair(labels_true, labels_pred)
    return _Evaluation(labels_true, labels_pred, background).ari()


def ari_dagger(labels_true, labels_pred, *, background=-1, variant="paper"):
    r"""Robust adjusted Rand index :math:`\mathrm{ARI}^\dagger` (Warrens & van der Hoef).

    The ARI is the harmonic mean of two adjusted Wallace indices, each a
    *weighted* mean (weights quadratic in cluster size) of per-cluster indices.
    :math:`\mathrm{ARI}^\dagger` uses *ordinary* means instead, so that the large
    background cluster does not dominate:

    .. math::

        AW_i = \frac{N \sum_j \binom{n_{ij}}{2} - \binom{a_i}{2} Q}
                    {\binom{a_i}{2}\,(N - Q)},\qquad
        AV_j = \frac{N \sum_i \binom{n_{ij}}{2} - \binom{b_j}{2} P}
                    {\binom{b_j}{2}\,(N - P)},

    .. math::

        \mathrm{ARI}^\dagger = \frac{2\, \bar{A} \bar{V}}{\bar{A} + \bar{V}},\quad
        \bar{A} = \operatorname{mean}_i AW_i,\ \bar{V} = \operatorname{mean}_j AV_j,

    with the notation of :func:`ari`. Rows and columns with fewer than two
    localisations have no pair and no index; they are left out of the means.
    The background is an ordinary cluster on both sides. The harmonic mean is
    taken when :math:`\bar{A}` and :math:`\bar{V}` have the same sign (both
    negative gives a negative value, as the ARI can be); the result is 0 when
    their signs differ, when one of them is 0 or when one side has no defined
    index. (Unlike the weighted Wallace indices behind the ARI, which always
    share a sign, the ordinary means can have opposite signs, and their
    harmonic mean is then unbounded, e.g. -1.5.)

    Parameters
    ----------
    labels_true, labels_pred : array-like of shape (n_localizations,)
        Ground-truth and predicted cluster labels.
    background : hashable, default=-1
        Accepted for a uniform signature; the background is an ordinary cluster.
    variant : {"paper", "reference"}, default="paper"
        ``"paper"``: ordinary means over all defined indices, and 1 for two
        identical partitions. ``"reference"``: as the authors' code, which
        also drops every index that is exactly 0 before averaging, returns the
        harmonic mean whenever :math:`\bar{A} + \bar{V} > 0` (0 otherwise),
        and returns 0 for identical partitions without any pair structure
        (e.g. everything background on both sides).

    Returns
    -------
    float

    References
    ----------
    Warrens, M. J. & van der Hoef, H. Understanding the adjusted Rand index and
    other partition comparison indices based on counting object pairs.
    J. Classif. 39, 487-509 (2022). Pineda et al., Nat. Commun. 16, 9693 (2025),
    "Comparison of ARI-like metrics".
    """
    _check_variant(variant)
    _, labels_true, labels_pred = _check_pair(labels_true, labels_pred)
    return _Evaluation(labels_true, labels_pred, background).ari_dagger(variant)


def ari_c(labels_true, labels_pred, *, background=-1):
    r"""ARI restricted to the localisations that are clustered in the ground truth.

    .. math::

        \mathrm{ARI}_c = \mathrm{ARI}\big(y_{\text{true}}[S],\ y_{\text{pred}}[S]\big),
        \quad S = \{i : y_{\text{true},i} \ne \text{background}\}.

    Predicted labels are used as they are, so localisations predicted as
    background inside true clusters form one cluster of their own; ground-truth
    background localisations that the prediction puts into clusters are
    ignored (the metric's known blind spot, see the paper). Paper and reference
    code agree.

    Parameters
    ----------
    labels_true, labels_pred : array-like of shape (n_localizations,)
    background : hashable, default=-1
        Ground-truth label of non-clustered localisations.

    Returns
    -------
    float
        NaN when the ground truth has no clustered localisation.

    References
    ----------
    Saavedra, L. A. et al. Nanoscale 16, 15308-15318 (2024); Pineda et al.,
    Nat. Commun. 16, 9693 (2025).
    """
    _, labels_true, labels_pred = _check_pair(labels_true, labels_pred)
    return _Evaluation(labels_true, labels_pred, background).ari_c()


def ami(labels_true, labels_pred, *, background=-1, average_method="arithmetic"):
    r"""Adjusted mutual information over all localisations.

    .. math::

        \mathrm{AMI} = \frac{I(U, V) - E[I(U, V)]}{\operatorname{avg}(H(U), H(V)) - E[I(U, V)]}

    with :math:`I` the mutual information, :math:`H` the entropy and the
    expectation taken under the hypergeometric model of random labellings with
    the observed cluster sizes. The background is an ordinary cluster and the
    average is arithmetic, as in the paper's tables (scikit-learn's default);
    the value equals :func:`sklearn.metrics.adjusted_mutual_info_score` to
    rounding (about 1e-12: the expectation is summed over pairs of distinct
    cluster sizes, in another order, and reused across calls on the same
    FOV, which makes a DBSCAN grid search's AMI several times cheaper).

    Parameters
    ----------
    labels_true, labels_pred : array-like of shape (n_localizations,)
    background : hashable, default=-1
        Accepted for a uniform signature; the background is an ordinary cluster.
    average_method : {"arithmetic", "geometric", "min", "max"}, default="arithmetic"

    Returns
    -------
    float

    References
    ----------
    Vinh, N. X., Epps, J. & Bailey, J. J. Mach. Learn. Res. 11, 2837-2854 (2010);
    Romano, S. et al. J. Mach. Learn. Res. 17, 1-32 (2016).
    """
    if average_method not in AVERAGE_METHODS:
        raise ValueError(f"average_method must be one of {AVERAGE_METHODS}; got {average_method!r}.")
    _, labels_true, labels_pred = _check_pair(labels_true, labels_pred)
    return _Evaluation(labels_true, labels_pred, background).ami(average_method)


# ---------------------------------------------------------- cluster metrics

_MATCHING_DOC = """
    X : array-like of shape (n_localizations, 2) or DataFrame
        Coordinates (nm), shared by both labellings.
    labels_true, labels_pred : array-like of shape (n_localizations,)
        Ground-truth and predicted cluster labels.
    background : hashable, default=-1
        Label of non-clustered localisations on both sides; background
        localisations belong to no cluster.
    variant : {"paper", "reference"}, default="paper"
        The paper's definition or the authors' code. Selects the matching when
        ``matching`` is None and, where the two differ, the formula and the
        value returned when no pair is found (see Returns).
    matching : {"centroid", "reference"} or None, default=None
        How clusters are paired. ``"centroid"`` (paper): the Hungarian algorithm
        on centroid distances, where only pairs whose distance is at most the
        threshold are allowed; it maximises the number of allowed pairs, then
        minimises their total distance. ``"reference"`` (authors' code): the
        Hungarian algorithm on ``0.9 * D + 0.1 * E``, with ``D`` the centroid
        distance set to 1e9 beyond the threshold and ``E`` the L1 distance
        between the bounding-box side lengths; pairs beyond the threshold (or
        not below the largest threshold) are dropped. None follows ``variant``.
    threshold : float or None, default=None
        Largest centroid distance :math:`\\xi` (nm) of a true positive. The
        paper does not give its value; None uses the reference code's rule:
        each ground-truth cluster gets half the mean side of its bounding box,
        :math:`\\xi_k = (\\Delta x_k + \\Delta y_k) / 4`.
"""


def _cluster_metric_doc(func):
    func.__doc__ = func.__doc__.replace("    {matching_parameters}\n", _MATCHING_DOC.lstrip("\n"))
    return func


@_cluster_metric_doc
def jaccard_cluster_index(X, labels_true, labels_pred, *, background=-1, variant="paper",
                          matching=None, threshold=None):
    r"""Jaccard index of cluster detection, :math:`\mathrm{JI}_c` (paper Eq. 10).

    Ground-truth and predicted clusters are paired (see ``matching``); a pair
    is a true positive (TP), an unpaired predicted cluster a false positive
    (FP) and an unpaired ground-truth cluster a false negative (FN):

    .. math::

        \mathrm{JI}_c = \frac{\mathrm{TP}}{\mathrm{TP} + \mathrm{FP} + \mathrm{FN}}.

    Parameters
    ----------
    {matching_parameters}

    Returns
    -------
    float
        In [0, 1]. 1 when neither labelling has a cluster; 0 when only one
        of them has.

    Notes
    -----
    Clusters are the non-background labels; a one-localisation cluster has a
    zero-size bounding box, so with ``threshold=None`` it only matches a
    predicted cluster with exactly the same centroid. The reference code
    crashes when the prediction has no cluster; here JI_c is then 0.

    References
    ----------
    Pineda et al., Nat. Commun. 16, 9693 (2025), Eq. 10; pairing with the
    Hungarian algorithm as in Chenouard, N. et al. Nat. Methods 11, 281-289 (2014).
    """
    method = _resolve_matching(variant, matching)
    threshold = _check_threshold(threshold)
    coords, labels_true, labels_pred = _check_pair(labels_true, labels_pred, X)
    return _Evaluation(labels_true, labels_pred, background, coords).ji_c(method, threshold)


@_cluster_metric_doc
def rmsre_n(X, labels_true, labels_pred, *, background=-1, variant="paper", matching=None,
            threshold=None):
    r"""Root-mean-square relative error in localisations per cluster (paper Eq. 11).

    Over the :math:`N_{TP}` paired clusters (see :func:`jaccard_cluster_index`),

    .. math::

        \mathrm{RMSRE}_N = \sqrt{\frac{1}{N_{TP}} \sum_{i \in TP}
        \left(\frac{\hat N_i - N_i}{N_i}\right)^2},

    with :math:`N_i` the size of the ground-truth cluster and :math:`\hat N_i`
    that of its predicted partner (all its localisations, including ground-truth
    background ones). Paper and reference code use the same formula; they may
    pair clusters differently.

    Parameters
    ----------
    {matching_parameters}

    Returns
    -------
    float
        Lower is better. Without any pair: NaN with ``variant="paper"``
        (undefined), 0 with ``variant="reference"`` (what the authors' code
        returns; note that it flatters a method that finds nothing).

    References
    ----------
    Pineda et al., Nat. Commun. 16, 9693 (2025), Eq. 11.
    """
    method = _resolve_matching(variant, matching)
    threshold = _check_threshold(threshold)
    coords, labels_true, labels_pred = _check_pair(labels_true, labels_pred, X)
    return _Evaluation(labels_true, labels_pred, background, coords).rmsre_n(
        method, threshold, variant
    )


@_cluster_metric_doc
def rmse_xy(X, labels_true, labels_pred, *, background=-1, variant="paper", matching=None,
            threshold=None):
    r"""Error of the cluster centroids, :math:`\mathrm{RMSE}_{x,y}` (paper Eq. 12).

    Over the :math:`N_{TP}` paired clusters, with :math:`d_i` the distance
    between the centroids of the ground-truth cluster and of its partner,
    ``variant="paper"`` gives Eq. 12,

    .. math::

        \mathrm{RMSE}_{x,y} = \sqrt{\frac{1}{N_{TP}} \sum_{i \in TP} d_i^2}
        \quad\text{(nm)},

    and ``variant="reference"`` what the authors' code computes and the
    published tables report, the square root of the mean *unsquared* distance,
    :math:`\sqrt{\operatorname{mean}_i d_i}` (unit :math:`\sqrt{\mathrm{nm}}`;
    Table S3's 3.6 for MIRO on scenario 6 is a mean distance of about 13 nm).

    Parameters
    ----------
    {matching_parameters}

    Returns
    -------
    float
        Lower is better. Without any pair: NaN (paper) or 0 (reference).

    References
    ----------
    Pineda et al., Nat. Commun. 16, 9693 (2025), Eq. 12.
    """
    method = _resolve_matching(variant, matching)
    threshold = _check_threshold(threshold)
    coords, labels_true, labels_pred = _check_pair(labels_true, labels_pred, X)
    return _Evaluation(labels_true, labels_pred, background, coords).rmse_xy(
        method, threshold, variant
    )


def iou(X, labels_true, labels_pred, *, background=-1, n_pixels=None):
    r"""Intersection over union of the areas covered by the clusters' convex hulls.

    As in the benchmark of Nieves et al. and the authors' code, the area of a
    labelling is the union of the filled convex hulls of its clusters,
    rasterised on a grid of ``n_pixels`` x ``n_pixels`` samples spanning the
    bounding box of all localisations (``numpy.linspace`` on each axis; a
    sample counts when it lies inside or on a hull):

    .. math::

        \mathrm{IoU} = \frac{|A_{\text{true}} \cap A_{\text{pred}}|}
                            {|A_{\text{true}} \cup A_{\text{pred}}|},
        \qquad A = \bigcup_{\text{clusters } c} \operatorname{hull}(c).

    This compares the two *unions*; it is not a per-cluster matched IoU.

    Parameters
    ----------
    X : array-like of shape (n_localizations, 2) or DataFrame
        Coordinates (nm).
    labels_true, labels_pred : array-like of shape (n_localizations,)
    background : hashable, default=-1
        Background localisations belong to no hull.
    n_pixels : int or None, default=None
        Samples per axis. None uses ``ceil(side / 100) * 100 + 400``, ``side``
        the larger side of the FOV's bounding box (about 1 nm per sample on a
        2 um benchmark FOV): the reference's rule,
        ``ceil(max(x_max, y_max) / 100) * 100 + 400``, for a FOV whose corner
        is at the origin, and the same wherever the FOV sits. On the
        benchmark's FOVs, which do not start exactly at 0, the reference's
        grid differs by up to 300 samples; the IoU by at most 3e-4 per FOV.

    Returns
    -------
    float
        In [0, 1]. 1 when neither labelling covers any area, 0 when only one does.

    Notes
    -----
    A cluster with fewer than three localisations, or whose localisations are
    collinear, has no area and is skipped (the reference code drops clusters of
    fewer than three points and crashes on collinear ones). Each hull is
    evaluated row by row: a convex polygon cuts every pixel row in one segment,
    so the cost grows with the number of rows a hull spans rather than with the
    pixels of its bounding box; the pixel set is the same as testing every
    pixel against the hull's half-planes.

    References
    ----------
    Nieves, D. J. et al. A framework for evaluating the performance of SMLM
    cluster analysis algorithms. Nat. Methods 20, 259-267 (2023).
    """
    n_pixels = _check_n_pixels(n_pixels)
    coords, labels_true, labels_pred = _check_pair(labels_true, labels_pred, X)
    return _Evaluation(labels_true, labels_pred, background, coords).iou(n_pixels)


def compression_index(X, X_collapsed, labels_true, *, background=-1):
    r"""How far moved localisations have contracted onto their cluster centres (paper Eq. 8).

    .. math::

        \mathrm{CI} = \frac{1}{N_c} \sum_{l} \left(1 -
        \frac{\sum_{i \in C_l} \lVert x_i + \Delta x_i - \mu_l \rVert}
             {\sum_{i \in C_l} \lVert x_i - \mu_l \rVert}\right),

    with :math:`C_l` the ground-truth clusters (background excluded),
    :math:`\mu_l` the centroid of the *original* positions of cluster
    :math:`l` and :math:`x_i + \Delta x_i` the moved (collapsed) positions.
    1 means every localisation reached its centre, 0 no contraction, negative
    values expansion.

    Parameters
    ----------
    X : array-like of shape (n_localizations, 2) or DataFrame
        Original coordinates.
    X_collapsed : array-like of shape (n_localizations, 2) or DataFrame
        The same localisations after displacement (e.g. MIRO's output).
    labels_true : array-like of shape (n_localizations,)
        Ground-truth cluster labels.
    background : hashable, default=-1

    Returns
    -------
    float
        NaN when no cluster has a non-zero spread (e.g. no cluster, or only
        single-localisation clusters), which are left out of the mean.

    References
    ----------
    Pineda et al., Nat. Commun. 16, 9693 (2025), Eq. 8.
    """
    coords = check_coordinates(X, name="X")
    collapsed = check_coordinates(X_collapsed, name="X_collapsed")
    if collapsed.shape != coords.shape:
        raise ValueError(
            f"X_collapsed has shape {collapsed.shape} but X has shape {coords.shape}; "
            "they must describe the same localisations."
        )
    labels_true = check_label_vector(labels_true, coords.shape[0], name="labels_true")
    encoded = core.encode_labels(labels_true, background, name="labels_true")
    if coords.shape[0]:
        # Relative to the FOV's corner: the same value wherever the FOV sits.
        corner = coords.min(axis=0)
        coords, collapsed = coords - corner, collapsed - corner
    clustered = encoded.cluster_mask()
    codes = encoded.codes[clustered]
    if codes.size == 0:
        return np.nan
    n_classes = encoded.n_classes
    sizes = np.bincount(codes, minlength=n_classes)
    present = sizes > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        centroids = np.column_stack(
            [np.bincount(codes, weights=coords[clustered, a], minlength=n_classes) / sizes
             for a in (0, 1)]
        )
    before = np.linalg.norm(coords[clustered] - centroids[codes], axis=1)
    after = np.linalg.norm(collapsed[clustered] - centroids[codes], axis=1)
    spread_before = np.bincount(codes, weights=before, minlength=n_classes)
    spread_after = np.bincount(codes, weights=after, minlength=n_classes)
    defined = present & (spread_before > 0)
    if not defined.any():
        return np.nan
    return float(np.mean(1.0 - spread_after[defined] / spread_before[defined]))


# ------------------------------------------------------------------- report

REPORT_COLUMNS = ("ari_dagger", "iou", "ji_c", "rmsre_n", "rmse_xy", "ami", "ari_c", "ari")


def _report_row(fov_coords, fov_true, fov_pred, fov_collapsed, background, variant, method,
                threshold, n_pixels):
    """One row of :func:`clustering_report` (module level, so that joblib can ship it)."""
    evaluation = _Evaluation(fov_true, fov_pred, background, fov_coords)
    row = {
        "ari_dagger": evaluation.ari_dagger(variant),
        "iou": evaluation.iou(n_pixels),
        "ji_c": evaluation.ji_c(method, threshold),
        "rmsre_n": evaluation.rmsre_n(method, threshold, variant),
        "rmse_xy": evaluation.rmse_xy(method, threshold, variant),
        "ami": evaluation.ami("arithmetic"),
        "ari_c": evaluation.ari_c(),
        "ari": evaluation.ari(),
    }
    if fov_collapsed is not None:
        row["compression_index"] = compression_index(
            fov_coords, fov_collapsed, fov_true, background=background
        )
    match = evaluation.matching(method, threshold)
    row.update(
        n_localizations=fov_coords.shape[0],
        n_true_clusters=match.n_true,
        n_pred_clusters=match.n_pred,
        n_matched=match.n_matched,
    )
    return row


def clustering_report(X, labels_true, labels_pred, groups=None, *, X_collapsed=None,
                      background=-1, variant="paper", matching=None, threshold=None,
                      n_pixels=None, n_jobs=None, verbose=0):
    """Every metric of the paper, one row per field of view.

    Parameters
    ----------
    X : array-like of shape (n_localizations, 2) or DataFrame
        Coordinates (nm).
    labels_true, labels_pred : array-like of shape (n_localizations,)
        Ground-truth and predicted labels. ``labels_pred`` of several FOVs must
        come from clustering each FOV on its own.
    groups : array-like of shape (n_localizations,), default=None
        FOV id of every localisation; None means a single FOV. Without groups, a
        :class:`MultipleFOVWarning` is raised when the ground truth looks like
        several stacked FOVs (see ``doc/metrics.md``).
    X_collapsed : array-like of shape (n_localizations, 2), default=None
        Moved coordinates (e.g. MIRO's output); adds a ``compression_index`` column.
    background : hashable, default=-1
        Label of non-clustered localisations in both labellings.
    variant : {"paper", "reference"}, default="paper"
        ``"paper"``: the paper's equations. ``"reference"``: the authors' code
        (ARI-dagger dropping exactly-zero terms, Hungarian pairing on
        ``0.9 D + 0.1 E``, RMSE as ``sqrt(mean distance)``, 0 when nothing is
        paired), which is what Supplementary Tables S3 and S4 report.
    matching : {"centroid", "reference"} or None, default=None
        Overrides the pairing chosen by ``variant`` (see :func:`jaccard_cluster_index`).
    threshold : float or None, default=None
        Pairing threshold (nm); None: half the mean bounding-box side of each
        ground-truth cluster (reference rule).
    n_pixels : int or None, default=None
        IoU raster size (see :func:`iou`).
    n_jobs : int or None, default=None
        FOVs scored in parallel with joblib (scikit-learn's convention: None is
        1 unless inside a :func:`joblib.parallel_config` context, which also
        selects the backend, e.g. Dask). Every metric costs what the clusters
        cost, wherever the FOV sits (coordinates are taken relative to each
        FOV's bounding box).
    verbose : int, default=0
        1 or more shows a progress bar over the FOVs (on stderr; about 30
        CPU-seconds for 1,000 FOVs of 10,000 localisations), advanced as each
        FOV is scored, or once at the end when they are scored in parallel.

    Returns
    -------
    report : pandas.DataFrame
        Index: FOV id (``"fov"``, 0 for a single FOV), in order of first
        appearance. Columns, in the order of the paper's tables:
        ``ari_dagger, iou, ji_c, rmsre_n, rmse_xy, ami, ari_c, ari``, then
        ``compression_index`` (if ``X_collapsed`` is given) and the counts
        ``n_localizations, n_true_clusters, n_pred_clusters, n_matched``.
        ``report.mean()`` gives the averages over FOVs that the paper reports
        (NaN entries are skipped by pandas; see each metric for when they occur).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_miro.metrics import clustering_report
    >>> X = np.array([[0, 0], [1, 0], [0, 1], [50, 50], [51, 50], [50, 51], [90, 10]])
    >>> y = np.array([1, 1, 1, 2, 2, 2, -1])
    >>> report = clustering_report(X, y, y)
    >>> report[["ari_dagger", "ji_c", "iou"]].round(3).to_dict("records")
    [{'ari_dagger': 1.0, 'ji_c': 1.0, 'iou': 1.0}]
    """
    method = _resolve_matching(variant, matching)
    threshold = _check_threshold(threshold)
    n_pixels = _check_n_pixels(n_pixels)
    if isinstance(verbose, bool) or not isinstance(verbose, numbers.Integral) or verbose < 0:
        raise ValueError(f"verbose must be an integer >= 0; got {verbose!r}.")
    coords, labels_true, labels_pred = _check_pair(labels_true, labels_pred, X)
    n = coords.shape[0]
    collapsed = None
    if X_collapsed is not None:
        collapsed = check_coordinates(X_collapsed, name="X_collapsed")
        if collapsed.shape != coords.shape:
            raise ValueError(
                f"X_collapsed has shape {collapsed.shape} but X has shape {coords.shape}."
            )
    groups = check_groups(groups, n)
    if groups is None:
        warn_if_stacked_fovs(coords, labels_true, background,
                             context="clustering_report without `groups`: ")
    fovs = split_by_group(groups, n)
    with progress_bar(len(fovs), "clustering_report: FOVs", verbose) as bar:
        rows = map_fovs(
            _report_row,
            [(coords[members], labels_true[members], labels_pred[members],
              None if collapsed is None else collapsed[members],
              background, variant, method, threshold, n_pixels) for _, members in fovs],
            n_jobs=n_jobs,
            progress=bar,
        )
    index = [0 if fov_id is None else fov_id for fov_id, _ in fovs]
    return pd.DataFrame(rows, index=pd.Index(index, name="fov"))


# ------------------------------------------------------------------ scorers


class _WithoutCoordinates:
    """``function(labels_true, labels_pred, **kw)`` with the scorer's signature ``(X, labels_true, labels_pred)``.

    A module-level class rather than a closure, so that scorers built on
    it pickle (a fitted GridSearchCV is saved with its scorer).
    """

    def __init__(self, function):
        self.__wrapped__ = function
        self.__name__ = function.__name__

    def __call__(self, X, labels_true, labels_pred, **kwargs):
        return self.__wrapped__(labels_true, labels_pred, **kwargs)


def ari_dagger_ji_c(X, labels_true, labels_pred, *, background=-1, variant="paper",
                    matching=None, threshold=None):
    """Mean of ARI-dagger and JI_c.

    ARI-dagger alone rewards splitting the background into many small "pure"
    clusters (each contributes a perfect pair index) and can prefer a
    clustering that finds five times too many clusters; JI_c alone ignores
    which localisations a cluster holds. Their mean needs both right;
    :func:`ari_dagger_ji_c_ami` adds AMI and is the recommended score
    (:data:`miro_scorer`). ``MIROShapeClassifier`` tunes DBSCAN with this
    mean and F1, ``MultiscaleMIROClusterer`` with this mean.

    Parameters
    ----------
    X : array-like of shape (n_localizations, 2) or DataFrame
    labels_true, labels_pred : array-like of shape (n_localizations,)
    background : hashable, default=-1
    variant, matching, threshold
        As in :func:`ari_dagger` and :func:`jaccard_cluster_index`.

    Returns
    -------
    float
        ``(ari_dagger + jaccard_cluster_index) / 2``: at most 1, negative
        only where ARI-dagger is (worse than chance).
    """
    return FOVScorer(X, labels_true, metric="ari_dagger_ji_c", background=background, variant=variant,
                     matching=matching, threshold=threshold)(labels_pred)


def _ari_dagger_ji_c(evaluation, variant, method, threshold):
    # One encoding of both labellings serves both terms: a DBSCAN grid search
    # scores thousands of labellings (MIROClusterer.fit).
    return 0.5 * (evaluation.ari_dagger(variant) + evaluation.ji_c(method, threshold))


def ari_dagger_ji_c_ami(X, labels_true, labels_pred, *, background=-1, variant="paper",
                        matching=None, threshold=None):
    """Mean of ARI-dagger, JI_c and AMI: the score ``MIROClusterer`` tunes DBSCAN with.

    :func:`ari_dagger_ji_c` can still trade one term against the other: a
    clustering that detects the clusters (JI_c) but leaves part of their
    localisations out, or that keeps pure pieces (ARI-dagger). AMI weighs
    every localisation, background included, and penalises both. Choosing
    MIRO's DBSCAN parameters with this mean met issue 11's target on 10 of 20
    benchmark and simulated scenarios for one seed, against 7 with
    :func:`ari_dagger_ji_c` and 5 with plain ARI
    (``benchmarks/dbscan_rule_scan.py``), and on 8 against 7 over 3 seeds.
    It is the recommended score for grid searches (:data:`miro_scorer`).

    Parameters
    ----------
    X, labels_true, labels_pred, background, variant, matching, threshold
        As in :func:`ari_dagger_ji_c` (AMI takes no variant).

    Returns
    -------
    float
        ``(ari_dagger + jaccard_cluster_index + ami) / 3``.
    """
    return FOVScorer(X, labels_true, background=background, variant=variant, matching=matching,
                     threshold=threshold)(labels_pred)


class FOVScorer:
    """One FOV's ground truth, ready to score many predicted labellings against it.

    ``FOVScorer(X, labels_true)(labels_pred)`` is
    ``ari_dagger_ji_c_ami(X, labels_true, labels_pred)`` (which is computed this
    way), to the last bit; the
    coordinates and ``labels_true`` are validated, encoded and summarised
    (cluster sizes, centroids, extents) once instead of at every call. For
    loops over candidate labellings of the same FOVs, such as the DBSCAN
    search of ``MIROClusterer.fit``, which it made 0.84-0.86 times as long on
    blinking scenarios 5 and 6 (``benchmarks/README.md``, thirty-fifth
    session). It is not a scikit-learn scorer (those
    take an estimator and data: :data:`miro_scorer`, :func:`get_scorer`).

    Parameters
    ----------
    X : array-like or DataFrame of shape (n_localizations, 2)
        Coordinates of the FOV's localisations, in nm (a DataFrame: its ``x``
        and ``y`` columns).
    labels_true : array-like of shape (n_localizations,)
        Ground-truth labels (``background`` for localisations in no cluster).
    metric : {"ari_dagger_ji_c_ami", "ari_dagger_ji_c"}, default="ari_dagger_ji_c_ami"
        The score: :func:`ari_dagger_ji_c_ami` or :func:`ari_dagger_ji_c`.
    background, variant, matching, threshold
        As in :func:`ari_dagger_ji_c_ami`. Invalid values raise here, not at
        the first call.

    Attributes
    ----------
    metric : str
        The score computed (read-only).
    variant : str
        The metrics' variant (read-only).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_miro.metrics import FOVScorer, ari_dagger_ji_c_ami
    >>> X = np.array([[0.0, 0.0], [1.0, 0.0], [50.0, 50.0], [51.0, 50.0], [200.0, 10.0]])
    >>> y = np.array([0, 0, 1, 1, -1])
    >>> score = FOVScorer(X, y)
    >>> pred = np.array([0, 0, 1, 1, 1])
    >>> score(pred) == ari_dagger_ji_c_ami(X, y, pred)
    True
    """

    METRICS = ("ari_dagger_ji_c_ami", "ari_dagger_ji_c")

    def __init__(self, X, labels_true, *, metric="ari_dagger_ji_c_ami", background=-1, variant="paper",
                 matching=None, threshold=None):
        if metric not in self.METRICS:
            raise ValueError(f"metric must be one of {self.METRICS}; got {metric!r}.")
        self._metric = metric
        self._variant = variant
        # The checks of ari_dagger and jaccard_cluster_index, in their order (the
        # ground truth's here, once; labels_pred's at every call).
        self._method = _resolve_matching(variant, matching)
        self._threshold = _check_threshold(threshold)
        coords = check_coordinates(X, name="X")
        labels_true = check_label_vector(labels_true, coords.shape[0], name="labels_true")
        self._n = labels_true.shape[0]
        self._background = background
        self._truth = _Truth(labels_true, background, coords)

    @property
    def metric(self):
        return self._metric

    @property
    def variant(self):
        return self._variant

    def __call__(self, labels_pred):
        """Score one predicted labelling.

        Parameters
        ----------
        labels_pred : array-like of shape (n_localizations,)
            Predicted labels of the FOV's localisations (``background`` for
            none), in the order of ``X``.

        Returns
        -------
        float
            The value of :attr:`metric`: at most 1, negative only where
            ARI-dagger is (worse than chance).
        """
        labels_pred = check_label_vector(labels_pred, self._n, name="labels_pred", against="labels_true")
        evaluation = _Evaluation(None, labels_pred, self._background, truth=self._truth)
        pair = _ari_dagger_ji_c(evaluation, self._variant, self._method, self._threshold)
        if self._metric == "ari_dagger_ji_c":
            return pair
        return (2.0 * pair + evaluation.ami("arithmetic")) / 3.0


# scorer name -> (metric function, sign, kind)
_SCORER_METRICS = {
    "ari_dagger_ji_c_ami": (ari_dagger_ji_c_ami, 1, "labels"),
    "ari_dagger_ji_c": (ari_dagger_ji_c, 1, "labels"),
    "ari": (_WithoutCoordinates(ari), 1, "labels"),
    "ari_dagger": (_WithoutCoordinates(ari_dagger), 1, "labels"),
    "ari_c": (_WithoutCoordinates(ari_c), 1, "labels"),
    "ami": (_WithoutCoordinates(ami), 1, "labels"),
    "jaccard_cluster": (jaccard_cluster_index, 1, "labels"),
    "iou": (iou, 1, "labels"),
    "neg_rmsre_n": (rmsre_n, -1, "labels"),
    "neg_rmse_xy": (rmse_xy, -1, "labels"),
    "compression_index": (compression_index, 1, "collapse"),
}
_SCORER_ALIASES = {"ji_c": "jaccard_cluster", "jaccard_cluster_index": "jaccard_cluster",
                   "miro": "ari_dagger_ji_c_ami"}


def get_scorer_names():
    """Names accepted by :func:`get_scorer` and :func:`make_clustering_scorer`.

    Returns
    -------
    list of str
    """
    return sorted(_SCORER_METRICS)


def _canonical_name(name):
    if not isinstance(name, str):
        raise ValueError(f"Metric names must be strings; got {name!r}.")
    name = _SCORER_ALIASES.get(name, name)
    if name not in _SCORER_METRICS:
        hint = ""
        if name in ("rmsre_n", "rmse_xy"):
            hint = f" Errors are negated so that greater is better: use 'neg_{name}'."
        raise ValueError(
            f"{name!r} is not a sklearn_miro clustering scorer.{hint} Valid names: "
            f"{get_scorer_names()} (scikit-learn's own scorers are in "
            "sklearn.metrics.get_scorer)."
        )
    return name


def make_clustering_scorer(metric, *, method="auto", background=-1, **metric_kwargs):
    """Build a scorer that clusters test data FOV by FOV and scores it.

    Use the result as ``scoring=`` in :class:`~sklearn.model_selection.GridSearchCV`,
    :func:`~sklearn.model_selection.cross_validate` and friends, or call it as
    ``scorer(estimator, X, y, groups=fov)``.

    Labels for the test data are obtained as follows (``method="auto"``):

    * an estimator with ``predict`` is asked to predict; when its ``predict``
      accepts ``groups`` and the FOV ids are known, it gets them in one call,
      otherwise it is called once per FOV;
    * a :class:`~sklearn.pipeline.Pipeline` ending in a clusterer without
      ``predict`` (e.g. DBSCAN): each FOV is transformed by the fitted steps
      ``pipe[:-1]`` (a fitted MIRO transformer is *not* refitted) and a clone
      of the final clusterer is run with ``fit_predict``;
    * any other clusterer (e.g. a bare ``DBSCAN()``): a clone runs
      ``fit_predict`` on each FOV.

    ``method="fit_predict"`` forces the last two behaviours also for
    estimators that have ``predict`` (e.g. ``KMeans``, whose ``predict`` would
    reuse centres fitted on the training FOVs); ``method="predict"`` forces
    ``predict``.

    Parameters
    ----------
    metric : str or list of str
        One of :func:`get_scorer_names` (aliases: ``"ji_c"``), or a list of
        them; a list gives a scorer returning ``{name: score}`` from one
        clustering per FOV (use it with ``refit="<name>"`` in GridSearchCV).
    method : {"auto", "predict", "fit_predict"}, default="auto"
    background : hashable, default=-1
        Background label of ``y`` and of the predictions.
    **metric_kwargs
        Passed to every metric function that accepts them, e.g.
        ``variant="reference"``, ``threshold=20``, ``n_pixels=1000``.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y, *, groups=None)``; the mean over FOVs of the
        metric (negated for ``neg_*`` errors). The scorer requests ``groups``
        through metadata routing (see ``set_score_request``).

    Examples
    --------
    >>> from sklearn_miro.metrics import make_clustering_scorer
    >>> scorer = make_clustering_scorer(["ari_dagger", "jaccard_cluster"], variant="reference")
    >>> scorer
    make_clustering_scorer(['ari_dagger', 'jaccard_cluster'], method='auto')
    """
    names = [metric] if isinstance(metric, str) else list(metric)
    if not names:
        raise ValueError("metric must name at least one metric.")
    names = [_canonical_name(name) for name in names]
    if len(set(names)) != len(names):
        raise ValueError(f"metric lists a name twice: {names}.")
    metrics = {name: _SCORER_METRICS[name] for name in names}
    if "compression_index" in metrics and len(metrics) > 1:
        raise ValueError(
            "compression_index scores the transformed coordinates, not cluster labels; "
            "build its scorer separately from the clustering metrics."
        )
    kwargs_per_metric = {}
    used = set()
    for name, (function, _, _) in metrics.items():
        accepted = inspect.signature(getattr(function, "__wrapped__", function)).parameters
        kwargs_per_metric[name] = {"background": background}
        for key, value in metric_kwargs.items():
            if key in accepted:
                kwargs_per_metric[name][key] = value
                used.add(key)
    unused = sorted(set(metric_kwargs) - used)
    if unused:
        raise TypeError(f"No requested metric ({names}) accepts the keyword(s) {unused}.")
    # Fail now, not inside a grid search, on an invalid variant or threshold.
    if "variant" in metric_kwargs:
        _check_variant(metric_kwargs["variant"])
    if "matching" in metric_kwargs:
        _resolve_matching(metric_kwargs.get("variant", "paper"), metric_kwargs["matching"])
    if "threshold" in metric_kwargs:
        _check_threshold(metric_kwargs["threshold"])
    if "n_pixels" in metric_kwargs:
        _check_n_pixels(metric_kwargs["n_pixels"])
    return ClusteringScorer(
        metrics,
        method=method,
        metric_kwargs=kwargs_per_metric,
        background=background,
        return_dict=not isinstance(metric, str),
    )


def get_scorer(scoring):
    """A fresh scorer for one of our names (a callable is returned unchanged).

    Parameters
    ----------
    scoring : str or callable
        One of :func:`get_scorer_names`: ``"ari_dagger_ji_c_ami"`` (alias
        ``"miro"``, the recommended one), ``"ari_dagger_ji_c"``, ``"ari"``, ``"ami"``, ``"ari_dagger"``,
        ``"ari_c"``, ``"jaccard_cluster"`` (alias ``"ji_c"``), ``"iou"``,
        ``"neg_rmsre_n"``, ``"neg_rmse_xy"``, ``"compression_index"``.

    Returns
    -------
    scorer : callable
        A new object each time, so that ``set_score_request`` on it leaves the
        module-level scorers untouched.
    """
    if callable(scoring):
        return scoring
    return make_clustering_scorer(_canonical_name(scoring))


ari_scorer = make_clustering_scorer("ari")
ari_dagger_scorer = make_clustering_scorer("ari_dagger")
ari_c_scorer = make_clustering_scorer("ari_c")
ami_scorer = make_clustering_scorer("ami")
jaccard_cluster_scorer = make_clustering_scorer("jaccard_cluster")
iou_scorer = make_clustering_scorer("iou")
neg_rmsre_n_scorer = make_clustering_scorer("neg_rmsre_n")
neg_rmse_xy_scorer = make_clustering_scorer("neg_rmse_xy")
compression_index_scorer = make_clustering_scorer("compression_index")
#: The recommended scorer for GridSearchCV: mean of ARI-dagger, JI_c and AMI
#: over FOVs (:func:`ari_dagger_ji_c_ami`), the score ``MIROClusterer`` tunes
#: DBSCAN with.
miro_scorer = make_clustering_scorer("ari_dagger_ji_c_ami")
