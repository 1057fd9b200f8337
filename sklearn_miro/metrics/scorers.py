"""Scorer objects of :mod:`sklearn_miro.metrics` (private; use ``metrics.get_scorer``).

A clustering scorer differs from scikit-learn's ``make_scorer`` in three ways:

* it obtains labels even from estimators without ``predict`` (a bare DBSCAN, or
  a Pipeline ending in one) by clustering the test data afresh;
* it clusters and scores every field of view (FOV) on its own and averages,
  because FOVs share one coordinate range and must never be clustered
  together;
* it asks for ``groups`` (the FOV ids) through scikit-learn's metadata routing.
"""

from __future__ import annotations

import inspect
import numbers
import warnings

import numpy as np
from sklearn import get_config
from sklearn.base import clone
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.pipeline import Pipeline
from sklearn.utils import _safe_indexing
from sklearn.utils.metadata_routing import MetadataRequest

from . import core
from .._validation import caller_stacklevel, check_coordinates, check_groups, check_label_vector, split_by_group

__all__ = ["ClusteringScorer", "MultipleFOVWarning", "warn_if_stacked_fovs"]

PREDICTION_METHODS = ("auto", "predict", "fit_predict")


def _mean_over_fovs(name, values, fov_ids, has_clusters):
    """Mean over FOVs; a FOV without true clusters whose score is undefined is left out.

    Some metrics have no value on a FOV whose ground truth holds no cluster
    (ARI_c, RMSRE_N, the compression index: NaN). That is a property of the
    data, the same for every candidate a grid search compares, so such a FOV
    is left out of the mean, with a warning, rather than making every
    candidate's score NaN. Any other NaN (e.g. RMSRE_N of a clustering that
    found no cluster) is kept: it ranks that candidate last.
    """
    values = np.asarray(values, dtype=float)
    skipped = np.isnan(values) & ~np.asarray(has_clusters, dtype=bool)
    if skipped.any():
        # .item(): FOV 3, not np.int64(3).
        ids = [fov_id.item() if isinstance(fov_id, np.generic) else fov_id
               for fov_id, skip in zip(fov_ids, skipped) if skip]
        shown = ", ".join(repr(i) for i in ids[:5]) + (", ..." if len(ids) > 5 else "")
        kept = int((~skipped).sum())
        rest = ("the score is NaN" if skipped.all()
                else f"the score is the mean over the other {kept} FOV{'s' if kept > 1 else ''}")
        warnings.warn(
            f"{name} is undefined on {int(skipped.sum())} of {len(values)} FOVs whose ground "
            f"truth holds no cluster ({'no groups given' if ids == [None] else 'FOV ' + shown}); {rest}.",
            UndefinedMetricWarning,
            stacklevel=caller_stacklevel(),
        )
        if skipped.all():
            return float("nan")
    return float(np.mean(values[~skipped]))


class MultipleFOVWarning(UserWarning):
    """Several fields of view seem to have been passed together without ``groups``.

    Raised as a warning by :func:`sklearn_miro.metrics.clustering_report` and by
    the clustering scorers. Turn it into an error with
    ``warnings.simplefilter("error", MultipleFOVWarning)``.
    """


def warn_if_stacked_fovs(coords, labels_true, background, *, stacklevel=None, context=""):
    """Warn (:class:`MultipleFOVWarning`) when ``labels_true`` look like stacked FOVs.

    See :func:`sklearn_miro.metrics.core.diagnose_stacked_fovs` for the rule.
    Returns True when it warned. ``stacklevel``: passed to :func:`warnings.warn`
    as is; None (the default) points the warning at the first line outside
    sklearn_miro, scikit-learn and joblib (the user's call of the metric, the
    scorer, cross_validate or the search).
    """
    encoded = core.encode_labels(labels_true, background, name="labels_true")
    diagnosis = core.diagnose_stacked_fovs(coords, encoded)
    if not diagnosis.suspicious:
        return False
    examples = ", ".join(repr(v) for v in diagnosis.spread_labels.tolist())
    warnings.warn(
        f"{context}the input looks like several fields of view (FOVs) stacked together "
        f"without `groups`: {diagnosis.n_spread} of {diagnosis.n_assessed} ground-truth "
        f"cluster labels (e.g. {examples}) are spread over the field instead of "
        "forming one dense spot, which is what happens when FOVs whose labels restart "
        "at 1 are concatenated. FOVs share one coordinate range, so clustering or "
        "scoring them together mixes unrelated clusters and the scores are wrong. Pass "
        "the FOV id of every localisation as `groups` (inside GridSearchCV or "
        "cross_validate: enable metadata routing with "
        "sklearn.set_config(enable_metadata_routing=True) and pass groups to fit; "
        "see doc/metrics.md). If the labels are not cluster instances of a single FOV "
        "(e.g. class labels), the cluster-level metrics do not apply either.",
        MultipleFOVWarning,
        stacklevel=caller_stacklevel() if stacklevel is None else stacklevel,
    )
    return True


def _accepts_groups(method):
    try:
        return "groups" in inspect.signature(method).parameters
    except (TypeError, ValueError):  # builtins or C extensions without a signature
        return False


class ClusteringScorer:
    """Score an estimator's clustering of test data, FOV by FOV.

    Instances are created by :func:`sklearn_miro.metrics.make_clustering_scorer`
    (or taken from :func:`sklearn_miro.metrics.get_scorer`); they are callables
    ``scorer(estimator, X, y_true, groups=None)`` returning a float, or a dict
    of floats when several metrics were requested.

    Parameters
    ----------
    metrics : dict
        ``{result_name: (function, sign, kind)}``. ``kind`` is ``"labels"`` for
        ``function(X, labels_true, labels_pred, **kwargs)`` and ``"collapse"``
        for ``function(X, X_collapsed, labels_true, **kwargs)``.
    method : {"auto", "predict", "fit_predict"}
        How labels are obtained (see :func:`make_clustering_scorer`).
    metric_kwargs : dict
        Keyword arguments for each function, ``{result_name: {...}}``.
    background : hashable
        Background label of ``y_true`` (and of the predictions).
    return_dict : bool
        Return ``{result_name: score}`` instead of a float.
    """

    def __init__(self, metrics, *, method="auto", metric_kwargs=None, background=-1,
                 return_dict=False):
        if method not in PREDICTION_METHODS:
            raise ValueError(f"method must be one of {PREDICTION_METHODS}; got {method!r}.")
        self._metrics = dict(metrics)
        self._method = method
        self._metric_kwargs = {name: dict((metric_kwargs or {}).get(name, {})) for name in metrics}
        self._background = background
        self._return_dict = return_dict
        self._groups_request = True

    # ------------------------------------------------------------------ routing
    def get_metadata_routing(self):
        """Metadata this scorer consumes: ``groups`` in ``score`` (requested by default).

        Returns
        -------
        routing : sklearn.utils.metadata_routing.MetadataRequest
        """
        request = MetadataRequest(owner=self)
        request.score.add_request(param="groups", alias=self._groups_request)
        return request

    def set_score_request(self, *, groups=True):
        """Choose whether ``groups`` should be routed to this scorer.

        Only meaningful with ``sklearn.set_config(enable_metadata_routing=True)``.
        The scorers of :mod:`sklearn_miro.metrics` request ``groups`` already;
        use ``groups=False`` to stop it, or a string to route metadata of another
        name. Modifies the scorer in place: start from ``get_scorer(name)``,
        which returns a fresh copy, rather than from the shared module-level
        objects.

        Parameters
        ----------
        groups : bool, None or str, default=True

        Returns
        -------
        self : ClusteringScorer
        """
        if not get_config()["enable_metadata_routing"]:
            raise RuntimeError(
                "set_score_request is only available when metadata routing is enabled: "
                "sklearn.set_config(enable_metadata_routing=True)."
            )
        if not (groups is None or isinstance(groups, (bool, str))):
            raise ValueError(f"groups must be True, False, None or a string; got {groups!r}.")
        self._groups_request = groups
        return self

    def _routing_repr(self):
        return repr(self)

    def __repr__(self):
        names = list(self._metrics)
        shown = names[0] if len(names) == 1 and not self._return_dict else names
        return f"make_clustering_scorer({shown!r}, method={self._method!r})"

    # ----------------------------------------------------------------- scoring
    def __call__(self, estimator, X, y_true, *, groups=None):
        """Cluster ``X`` with ``estimator`` FOV by FOV and score against ``y_true``.

        Parameters
        ----------
        estimator : estimator
            Fitted estimator, Pipeline or clusterer (see :func:`make_clustering_scorer`).
        X : array-like of shape (n_localizations, 2) or DataFrame
            Test localisations; the estimator receives them unchanged.
        y_true : array-like of shape (n_localizations,)
            Ground-truth cluster labels.
        groups : array-like of shape (n_localizations,), default=None
            FOV id of every localisation. ``None`` means one FOV; a
            :class:`MultipleFOVWarning` is raised when the labels look like
            several.

        Returns
        -------
        score : float or dict
            Mean over FOVs (errors are negated so that greater is better).
        """
        coords = check_coordinates(X, name="X", groups=groups)
        n = coords.shape[0]
        if y_true is None:
            raise ValueError(
                "This scorer compares the clustering with ground-truth labels: y is "
                "required (pass y to fit / cross_validate)."
            )
        # Named y, as the user passed them (to cross_validate, GridSearchCV.fit
        # or the scorer): a text '-1' beside a numeric background is refused under
        # that name, not as the metrics' labels_true. Only text labels with a
        # numeric background can be refused, so only they pay for the encoding.
        labels_true = check_label_vector(y_true, n, name="y")
        if (labels_true.dtype.kind in "UO" and isinstance(self._background, numbers.Integral)
                and not isinstance(self._background, bool)):
            core.encode_labels(labels_true, self._background, name="y")
        groups = check_groups(groups, n)
        if groups is None:
            warn_if_stacked_fovs(
                coords, labels_true, self._background,
                context="Scoring without `groups`: ",
            )
        fovs = split_by_group(groups, n)
        per_fov = {name: [] for name in self._metrics}
        fov_ids, has_clusters = [], []
        for fov_id, index, output in self._outputs_per_fov(estimator, X, n, groups, fovs):
            fov_ids.append(fov_id)
            has_clusters.append(bool(np.any(labels_true[index] != self._background)))
            for name, (function, sign, kind) in self._metrics.items():
                kwargs = self._metric_kwargs[name]
                if kind == "collapse":
                    value = function(coords[index], output, labels_true[index], **kwargs)
                else:
                    value = function(coords[index], labels_true[index], output, **kwargs)
                per_fov[name].append(sign * value)
        scores = {name: _mean_over_fovs(name, values, fov_ids, has_clusters) for name, values in per_fov.items()}
        if self._return_dict:
            return scores
        return next(iter(scores.values()))

    # ------------------------------------------------------- label production
    def _needs_collapse(self):
        return any(kind == "collapse" for _, _, kind in self._metrics.values())

    def _outputs_per_fov(self, estimator, X, n, groups, fovs):
        """Yield ``(fov_id, index, output)`` with output = labels or collapsed points."""
        if self._needs_collapse():
            for fov_id, index in fovs:
                yield fov_id, index, self._collapse(estimator, _safe_indexing(X, index), index.size)
            return
        method = self._resolve_method(estimator)
        if method == "predict" and groups is not None and _accepts_groups(estimator.predict):
            # The estimator handles FOVs itself: one call with the FOV ids.
            labels = self._check_output(estimator.predict(X, groups=groups), n, "predict")
            for fov_id, index in fovs:
                yield fov_id, index, labels[index]
            return
        for fov_id, index in fovs:
            X_fov = _safe_indexing(X, index) if groups is not None else X
            yield fov_id, index, self._labels_of(estimator, X_fov, index.size, method)

    def _resolve_method(self, estimator):
        if self._method == "predict":
            if not hasattr(estimator, "predict"):
                raise TypeError(
                    f"method='predict' but {type(estimator).__name__} has no predict method."
                )
            return "predict"
        if self._method == "auto" and hasattr(estimator, "predict"):
            return "predict"
        final = estimator.steps[-1][1] if isinstance(estimator, Pipeline) else estimator
        if not hasattr(final, "fit_predict"):
            raise TypeError(
                f"Cannot obtain cluster labels from {type(estimator).__name__}: it has neither "
                "predict nor fit_predict (nor is it a Pipeline ending in a clusterer)."
            )
        return "fit_predict"

    def _labels_of(self, estimator, X_fov, n_fov, method):
        if method == "predict":
            return self._check_output(estimator.predict(X_fov), n_fov, "predict")
        if isinstance(estimator, Pipeline):
            # Re-use the fitted preprocessing (e.g. a trained MIRO transformer)
            # and re-run only the final clusterer on this FOV.
            if len(estimator.steps) > 1:
                X_fov = estimator[:-1].transform(X_fov)
            clusterer = clone(estimator.steps[-1][1])
        else:
            clusterer = clone(estimator)
        return self._check_output(clusterer.fit_predict(X_fov), n_fov, "fit_predict")

    def _collapse(self, estimator, X_fov, n_fov):
        passes = 1
        if hasattr(estimator, "transform"):
            transformer = estimator
        elif isinstance(estimator, Pipeline) and len(estimator.steps) > 1:
            transformer = estimator[:-1]
        elif hasattr(getattr(estimator, "transformer_", None), "transform"):
            # A fitted MIROClusterer: score the collapse it clusters, all its passes.
            transformer = estimator.transformer_
            passes = getattr(estimator, "collapse_passes_", 1)
        else:
            raise TypeError(
                f"The compression index needs collapsed coordinates, but "
                f"{type(estimator).__name__} has no transform method (nor is it a "
                "Pipeline with a transformer before its final step)."
            )
        moved = transformer.transform(X_fov) if passes == 1 else transformer.transform(X_fov, passes=passes)
        collapsed = check_coordinates(moved, name="transformed X")
        if collapsed.shape[0] != n_fov:
            raise ValueError(
                f"transform returned {collapsed.shape[0]} points for {n_fov} localisations."
            )
        return collapsed

    @staticmethod
    def _check_output(labels, n_expected, method):
        labels = np.asarray(labels)
        if labels.ndim != 1 or labels.shape[0] != n_expected:
            raise ValueError(
                f"{method} returned labels of shape {labels.shape}; expected "
                f"({n_expected},), one label per localisation."
            )
        return labels
