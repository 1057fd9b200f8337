"""MIROClusterer: MIRO followed by DBSCAN (or any clusterer), per field of view."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin, clone
from sklearn.cluster import DBSCAN
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from .._validation import (
    check_cluster_labels,
    check_coordinates,
    check_groups,
    check_positive,
    split_by_group,
)
from ._transformer import MIROTransformer

__all__ = ["MIROClusterer", "tune_dbscan"]


# Candidate DBSCAN parameters for eps="auto" / min_samples="auto": eps as a
# fraction of the connectivity radius (collapsed clusters are much tighter than
# the graph's edges), min_samples up to the typical training cluster size.
_EPS_FRACTIONS = np.geomspace(0.01, 1.0, 18)
_MIN_SAMPLES_GRID = np.array([2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25, 30, 40, 50, 60, 80, 100, 130, 160, 200])


def _tuning_score(X, labels_true, labels_pred):
    """Mean of ARI-dagger (membership) and JI_c (cluster detection).

    ARI-dagger alone rewards splitting the background into many tiny "pure"
    clusters (a two-point background cluster has a perfect index); JI_c
    counts those as false positives.
    """
    from ..metrics import ari_dagger, jaccard_cluster_index

    return 0.5 * (
        ari_dagger(labels_true, labels_pred) + jaccard_cluster_index(X, labels_true, labels_pred)
    )


def tune_dbscan(fovs, eps_grid, min_samples_grid):
    """Grid search of DBSCAN parameters on labelled, collapsed FOVs.

    Parameters
    ----------
    fovs : list of (X, X_collapsed, labels_true)
    eps_grid, min_samples_grid : array-like

    Returns
    -------
    best : (eps, min_samples, score)
    scores : ndarray of shape (len(eps_grid), len(min_samples_grid))
        Mean :func:`_tuning_score` over FOVs.
    """
    from sklearn.neighbors import radius_neighbors_graph

    scores = np.zeros((len(eps_grid), len(min_samples_grid)))
    for i, eps in enumerate(eps_grid):
        # One neighbourhood graph per eps, shared by every min_samples.
        graphs = [radius_neighbors_graph(Xc, eps, mode="distance") for _, Xc, _ in fovs]
        for j, min_samples in enumerate(min_samples_grid):
            dbscan = DBSCAN(eps=eps, min_samples=int(min_samples), metric="precomputed")
            scores[i, j] = np.mean(
                [_tuning_score(X, y, dbscan.fit_predict(g)) for g, (X, _, y) in zip(graphs, fovs)]
            )
    i, j = np.unravel_index(np.argmax(scores), scores.shape)
    return (float(eps_grid[i]), int(min_samples_grid[j]), float(scores[i, j])), scores


def _is_fitted(estimator):
    try:
        check_is_fitted(estimator)
    except NotFittedError:
        return False
    except TypeError:
        return False
    return True


def _offset_labels(labels, offset):
    """Shift non-noise labels by ``offset`` so labels stay unique across FOVs."""
    labels = np.asarray(labels).astype(np.int64, copy=True)
    labels[labels >= 0] += offset
    return labels


def _cluster_per_fov(fov_indices, points, clusterer, n):
    """``clone(clusterer).fit_predict`` on every FOV on its own; labels unique across FOVs."""
    labels = np.full(n, -1, dtype=np.int64)
    offset = 0
    for idx, pts in zip(fov_indices, points):
        fov_labels = np.asarray(clone(clusterer).fit_predict(pts))
        labels[idx] = _offset_labels(fov_labels, offset)
        if (fov_labels >= 0).any():
            offset += int(fov_labels.max()) + 1
    return labels


def _choose_dbscan_parameters(X_fovs, collapsed, labels_fovs, radius, eps, min_samples):
    """DBSCAN parameters chosen on labelled collapsed FOVs (``"auto"`` entries).

    ``eps`` among 18 geometric fractions (1 %-100 %) of the connectivity
    radius, ``min_samples`` from 2 up to the median cluster size; the mean of
    ARI-dagger and JI_c over the FOVs is maximised. A value other than
    ``"auto"`` is used as the only candidate.

    Returns
    -------
    eps, min_samples, scores, eps_grid, min_samples_grid
    """
    eps_grid = _EPS_FRACTIONS * radius if _is_auto(eps) else np.array([float(eps)])
    if _is_auto(min_samples):
        labels = np.concatenate(labels_fovs)
        sizes = np.unique(labels[labels >= 0], return_counts=True)[1]
        typical = max(2, int(np.median(sizes))) if len(sizes) else 2
        ms_grid = _MIN_SAMPLES_GRID[_MIN_SAMPLES_GRID <= typical]
        if len(ms_grid) == 0:
            ms_grid = _MIN_SAMPLES_GRID[:1]
    else:
        ms_grid = np.array([int(min_samples)])
    fovs = list(zip(X_fovs, collapsed, labels_fovs))
    (best_eps, best_ms, _), scores = tune_dbscan(fovs, eps_grid, ms_grid)
    return best_eps, best_ms, scores, eps_grid, ms_grid


def _is_auto(value):
    return isinstance(value, str) and value == "auto"


class MIROClusterer(ClusterMixin, BaseEstimator):
    """MIRO followed by DBSCAN (or any scikit-learn clusterer), per field of view.

    ``fit`` trains the MIRO transformer on labelled FOVs (unless an already
    fitted transformer is given), chooses the DBSCAN parameters on the
    collapsed training FOVs when asked to (``eps="auto"``), and clusters the
    training FOVs; ``predict`` collapses and clusters new FOVs. Every FOV is
    clustered on its own, because FOVs share one coordinate range.

    Parameters
    ----------
    transformer : MIROTransformer or None, default=None
        The MIRO transformer. ``None`` uses ``MIROTransformer()``; set its
        hyper-parameters with ``transformer=MIROTransformer(...)`` or
        ``set_params(transformer__n_steps=...)``. An already fitted transformer,
        for example one wrapped in :class:`sklearn.frozen.FrozenEstimator`, is
        used as is and never retrained, so changing ``eps`` or
        ``min_samples`` (also inside ``GridSearchCV``) costs only the
        clustering. Pass ``clone(transformer)`` to retrain one.
    eps : float or "auto", default="auto"
        DBSCAN radius in the units of X, applied to the collapsed coordinates.
        ``"auto"`` chooses it on the labelled training FOVs (see Notes); with
        a pretrained transformer (:meth:`MIROTransformer.pretrained`) and no
        labels, it is the model's label-free rule, per FOV: a fixed multiple
        of the FOV's cluster length scale.
    min_samples : int or "auto", default="auto"
        DBSCAN ``min_samples``; ``"auto"`` as for ``eps``.
    clusterer : estimator, default=None
        Any scikit-learn clusterer with ``fit_predict``, used instead of
        DBSCAN; it is cloned for every FOV. ``eps`` and ``min_samples`` are then
        ignored.

    Attributes
    ----------
    transformer_ : MIROTransformer or FrozenEstimator
        The fitted transformer used.
    clusterer_ : estimator
        Unfitted template of the clusterer applied to every FOV.
    eps_, min_samples_ : float, int
        DBSCAN parameters used (``None`` with a custom ``clusterer``).
    tuning_scores_ : ndarray of shape (n_eps, n_min_samples) or None
        Training score of every candidate when parameters were chosen
        automatically; the candidates are ``eps_grid_`` and
        ``min_samples_grid_``.
    labels_ : ndarray of shape (n_localizations,)
        Cluster labels of the training data, -1 for background; unique across
        FOVs.
    label_free_ : bool
        True when ``fit`` got no labels and a pretrained transformer: every
        FOV (in ``fit`` and ``predict``) gets its own cluster length scale and
        ``eps``; ``eps_`` is then the median over the ``fit`` FOVs.
    cluster_radius_, cluster_radii_ : float, ndarray or None
        Label-free mode: median and per-FOV cluster length scale (RMS
        radius, units of X) used in ``fit``; None otherwise.
    n_features_in_ : int
        Always 2.

    Notes
    -----
    With ``eps="auto"`` or ``min_samples="auto"`` the parameters maximise, over
    the training FOVs, the mean of ARI-dagger and JI_c (ARI-dagger alone
    rewards cutting the background into many tiny clusters). Candidates: 18
    values of ``eps`` from 1 % to 100 % of the connectivity radius
    (geometric), and ``min_samples`` from 2 up to the median training cluster
    size. This needs the labels ``y``; the training FOVs were also used to
    train the network, so the choice is slightly optimistic.

    Examples
    --------
    >>> from sklearn_miro import MIROClusterer, MIROTransformer
    >>> clu = MIROClusterer(MIROTransformer(random_state=0))  # doctest: +SKIP
    >>> clu.fit(X_train, y_train, groups=fov_train)  # doctest: +SKIP
    >>> labels = clu.predict(X_new, groups=fov_new)  # doctest: +SKIP
    """

    __metadata_request__fit = {"groups": True}
    __metadata_request__predict = {"groups": True}

    def __init__(self, transformer=None, *, eps="auto", min_samples="auto", clusterer=None):
        self.transformer = transformer
        self.eps = eps
        self.min_samples = min_samples
        self.clusterer = clusterer

    def _check_dbscan_params(self):
        if not (isinstance(self.eps, str) and self.eps == "auto"):
            check_positive(self.eps, "eps")
        if not (isinstance(self.min_samples, str) and self.min_samples == "auto"):
            check_positive(self.min_samples, "min_samples", integer=True)

    def fit(self, X, y=None, groups=None):
        """Train the transformer (if needed) and cluster the training FOVs.

        Parameters
        ----------
        X : array-like of shape (n_localizations, 2) or DataFrame
        y : array-like of shape (n_localizations,), optional
            Cluster labels (-1 = background). Needed to train the transformer
            and to choose ``eps="auto"``/``min_samples="auto"``.
        groups : array-like of shape (n_localizations,), optional
            FOV id of every localisation.

        Returns
        -------
        self : MIROClusterer
        """
        if self.clusterer is not None and not hasattr(self.clusterer, "fit_predict"):
            raise ValueError(
                "clusterer must be a scikit-learn clusterer with a fit_predict method; "
                f"got {self.clusterer!r}."
            )
        if self.clusterer is None:
            self._check_dbscan_params()
        X = check_coordinates(X, estimator=self, reset=True, min_points=2)
        groups = check_groups(groups, X.shape[0])
        auto = self.clusterer is None and "auto" in (str(self.eps), str(self.min_samples))
        labels = None
        if y is not None:
            labels = check_cluster_labels(y, X.shape[0], name="y", require_cluster=auto)
        transformer = MIROTransformer() if self.transformer is None else self.transformer
        if _is_fitted(transformer):
            self.transformer_ = transformer
        else:
            if labels is None:
                raise ValueError(
                    "MIROClusterer requires y to be passed, but the target y is None: it needs "
                    "the cluster labels (-1 = background) to train its MIRO transformer, or an "
                    "already fitted transformer (e.g. transformer=FrozenEstimator(fitted_miro))."
                )
            self.transformer_ = clone(transformer).fit(X, labels, groups=groups)

        fov_indices = [idx for _, idx in split_by_group(groups, X.shape[0])]
        self.tuning_scores_ = None
        self.label_free_ = self.clusterer is None and labels is None and _is_pretrained(self.transformer_)
        if self.label_free_:
            self.labels_ = self._cluster_label_free(X, fov_indices, record=True)
            return self
        self.cluster_radius_ = self.cluster_radii_ = None
        collapsed = [self._transform_fov(X[idx]) for idx in fov_indices]
        if self.clusterer is not None:
            self.eps_ = self.min_samples_ = None
            self.clusterer_ = clone(self.clusterer)
        else:
            self.eps_, self.min_samples_ = self.eps, self.min_samples
            if auto:
                if labels is None:
                    raise ValueError(
                        "eps='auto' and min_samples='auto' choose the DBSCAN parameters on "
                        "labelled FOVs: pass y, or give eps and min_samples explicitly."
                    )
                self._tune(X, labels, fov_indices, collapsed)
            self.clusterer_ = DBSCAN(eps=self.eps_, min_samples=self.min_samples_)
        self.labels_ = self._cluster_collapsed(fov_indices, collapsed, X.shape[0])
        return self

    def _cluster_label_free(self, X, fov_indices, record=False):
        """Collapse and cluster every FOV with the pretrained model's label-free rule.

        Per FOV: the cluster length scale ``R`` (given to the transformer, or
        estimated on the FOV), ``eps = eps_in_radii x R`` and the rule's
        ``min_samples`` (the model card's ``dbscan`` entry), unless ``eps`` or
        ``min_samples`` are given.
        """
        inner = _inner(self.transformer_)
        rule = inner.model_card_["dbscan"]
        labels = np.full(X.shape[0], -1, dtype=np.int64)
        radii, eps_used, offset = [], [], 0
        min_samples = int(rule["min_samples"]) if _is_auto(self.min_samples) else int(self.min_samples)
        for idx in fov_indices:
            moved, radius = inner.collapse_fov(X[idx])
            if _is_auto(self.eps):
                eps = float(rule["eps_in_radii"]) * radius if np.isfinite(radius) else np.nan
            else:
                eps = float(self.eps)
            radii.append(radius)
            eps_used.append(eps)
            if not np.isfinite(eps) or len(idx) < 2:
                continue  # fewer than 3 localisations: nothing to cluster
            fov_labels = DBSCAN(eps=eps, min_samples=min_samples).fit_predict(moved)
            labels[idx] = _offset_labels(fov_labels, offset)
            if (fov_labels >= 0).any():
                offset += int(fov_labels.max()) + 1
        if record:
            self.cluster_radii_ = np.array(radii)
            self.cluster_radius_ = float(np.nanmedian(radii)) if np.isfinite(radii).any() else np.nan
            self.eps_ = float(np.nanmedian(eps_used)) if np.isfinite(eps_used).any() else np.nan
            self.min_samples_ = min_samples
            self.clusterer_ = DBSCAN(eps=self.eps_, min_samples=min_samples)
        return labels

    def _tune(self, X, labels, fov_indices, collapsed):
        eps, min_samples, scores, eps_grid, ms_grid = _choose_dbscan_parameters(
            [X[idx] for idx in fov_indices],
            collapsed,
            [labels[idx] for idx in fov_indices],
            _transformer_radius(self.transformer_),
            self.eps,
            self.min_samples,
        )
        self.eps_, self.min_samples_ = eps, min_samples
        self.tuning_scores_ = scores
        self.eps_grid_, self.min_samples_grid_ = eps_grid, ms_grid

    def _transform_fov(self, X_fov):
        return self.transformer_.transform(X_fov)

    def _cluster_collapsed(self, fov_indices, collapsed, n):
        return _cluster_per_fov(fov_indices, collapsed, self.clusterer_, n)

    def predict(self, X, groups=None):
        """Cluster new FOVs.

        Parameters
        ----------
        X : array-like of shape (n_localizations, 2) or DataFrame
        groups : array-like of shape (n_localizations,), optional
            FOV id of every localisation; each FOV is collapsed and clustered
            on its own.

        Returns
        -------
        labels : ndarray of shape (n_localizations,)
            -1 for background; cluster ids are unique across FOVs.
        """
        check_is_fitted(self, "labels_")
        X = check_coordinates(X, estimator=self, reset=False, min_points=1)
        groups = check_groups(groups, X.shape[0])
        fov_indices = [idx for _, idx in split_by_group(groups, X.shape[0])]
        if getattr(self, "label_free_", False):
            return self._cluster_label_free(X, fov_indices)
        if groups is None:
            collapsed = [self.transformer_.transform(X)]
        else:
            collapsed = [self._transform_fov(X[idx]) for idx in fov_indices]
        return self._cluster_collapsed(fov_indices, collapsed, X.shape[0])

    def fit_predict(self, X, y=None, groups=None):
        """Fit and return the labels of the training data (``labels_``)."""
        return self.fit(X, y, groups=groups).labels_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        return tags


def _inner(transformer):
    """The MIRO transformer inside a possible wrapper (e.g. FrozenEstimator)."""
    return getattr(transformer, "estimator", transformer)


def _is_pretrained(transformer):
    """Whether a fitted transformer is a pretrained model used zero-shot (scale-free)."""
    return getattr(_inner(transformer), "pretrained_", None) is not None


def _transformer_radius(transformer):
    """Connectivity radius of a (possibly wrapped) fitted MIRO transformer."""
    inner = getattr(transformer, "estimator", transformer)
    radius = getattr(inner, "connectivity_radius_", None)
    if radius is None:
        raise ValueError(
            "eps='auto' needs a MIRO transformer (its connectivity radius sets the scale of "
            f"the candidates); got {type(inner).__name__}. Pass eps explicitly."
        )
    return float(radius)
