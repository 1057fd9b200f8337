"""How the clusters were obtained: a machine-readable record and a Methods paragraph.

Scientists who publish cluster statistics must say in their Methods section
exactly how the clusters were found, and should keep a record beside their
results. :func:`provenance_record` reads a *fitted* sklearn_miro estimator and returns
a JSON-serialisable dict (package versions, the estimator's class and
non-default parameters, the network and where it came from, the DBSCAN
parameters and how they were chosen); :func:`methods_text` turns that record
into a paragraph ready to paste into a Methods section.

Only public attributes of the estimators are read (``model_``, ``eps_``,
``cluster_radii_``, ...), each with ``getattr(..., None)`` so that estimators
pickled by earlier versions, which lack some of them, are described as far as
they can be. See ``doc/provenance.md``.
"""

from __future__ import annotations

import importlib
import math
import numbers
import platform
import sys
from importlib import metadata

import numpy as np
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

__all__ = ["CITATION", "PROVENANCE_FORMAT", "methods_text", "provenance_record"]

#: Name and version of the record's layout (the ``"format"`` entry).
PROVENANCE_FORMAT = "sklearn_miro.provenance/1"
#: The MIRO paper, as cited in :func:`methods_text`.
CITATION = "Pineda et al., Nat. Commun. 16, 9693 (2025)"

# The class of each accepted estimator, its kind in the record, and the fitted
# attribute that says it was fitted.
_KINDS = {
    "MIROTransformer": ("transformer", "model_"),
    "MIROClusterer": ("clusterer", "labels_"),
    "MultiscaleMIROTransformer": ("multiscale_transformer", "model_"),
    "MultiscaleMIROClusterer": ("multiscale_clusterer", "labels_"),
    "MIROShapeClassifier": ("shape_classifier", "model_"),
}
_ACCEPTED = (
    "a fitted sklearn_miro estimator (MIROTransformer, MIROClusterer, MultiscaleMIROTransformer, "
    "MultiscaleMIROClusterer or MIROShapeClassifier), one wrapped in sklearn.frozen.FrozenEstimator, "
    "or a fitted sklearn.pipeline.Pipeline with one of them among its steps"
)


# --------------------------------------------------------------------------
# The record
# --------------------------------------------------------------------------


def provenance_record(estimator):
    """A JSON-serialisable record of how a fitted sklearn_miro estimator clusters.

    The record holds plain ``str``, ``int``, ``float``, ``bool``, ``None``,
    lists and dicts only (NaN and infinity become None), so that
    ``json.dump(provenance_record(clu), file)`` keeps it beside the results.

    Parameters
    ----------
    estimator : estimator
        A fitted :class:`~sklearn_miro.MIROClusterer`,
        :class:`~sklearn_miro.MIROTransformer`,
        :class:`~sklearn_miro.MultiscaleMIROClusterer`,
        :class:`~sklearn_miro.MultiscaleMIROTransformer` or
        :class:`~sklearn_miro.MIROShapeClassifier`; one of these wrapped in
        :class:`sklearn.frozen.FrozenEstimator`; or a fitted
        :class:`sklearn.pipeline.Pipeline` with one of them among its steps.

    Returns
    -------
    record : dict
        ``format``
            ``"sklearn_miro.provenance/1"``.
        ``versions``
            sklearn_miro, torch, scikit-learn, numpy, scipy and Python, as
            installed where ``provenance_record`` runs.
        ``kind``
            ``"clusterer"``, ``"transformer"``, ``"multiscale_clusterer"``,
            ``"multiscale_transformer"``, ``"shape_classifier"`` or
            ``"pipeline"``.
        ``estimator``
            ``class`` and ``parameters``: the parameters that differ from a
            fresh instance's (an estimator parameter, such as a clusterer's
            transformer, as a nested ``class`` / ``parameters`` dict; other
            objects by their ``repr``).
        ``network``
            The transformer-level facts: ``origin`` (``"pretrained"``,
            ``"fine-tuned"``, ``"trained from random weights"``,
            ``"warm start"`` or ``"reference checkpoint"``), the pretrained
            model's name and card (zero-shot units, DBSCAN rule) or the
            training facts (labelled FOVs, synthetic FOVs, epochs, best epoch,
            seconds, connectivity radius and length unit, compression,
            relative loss, precision, device), hidden size and steps.
        ``clustering``
            For the clusterers and the shape classifier: the algorithm
            (DBSCAN, DBSCAN* or a custom clusterer), ``eps``,
            ``min_samples`` (per FOV in label-free mode), the passes of the
            network, the trimming radius, and ``choices``: how each was set
            (``"given"``, ``"labelled search"``, ``"label-free rule"`` or
            ``"default without labels"``), with the search's candidates and
            scores in ``search``.
        ``steps``
            For a Pipeline: one record per step (``name`` and, for a MIRO
            step, the entries above; for DBSCAN, ``eps`` and
            ``min_samples``).

    Raises
    ------
    TypeError
        When ``estimator`` is not one of the accepted kinds.
    sklearn.exceptions.NotFittedError
        When it is not fitted.

    See Also
    --------
    methods_text : The record as a paragraph for a Methods section.

    Examples
    --------
    >>> import json
    >>> from sklearn_miro import MIROClusterer, MIROTransformer, provenance_record
    >>> from sklearn_miro.datasets import make_gaussian_clusters
    >>> X, y, fov = make_gaussian_clusters(2, n_clusters=10, random_state=0)[:3]
    >>> clu = MIROClusterer(MIROTransformer.pretrained(verbose=0)).fit(X, groups=fov)
    >>> record = provenance_record(clu)
    >>> record["network"]["pretrained_model"]
    'nanoclusters-long'
    >>> record["clustering"]["min_samples_per_fov"]
    [6, 7]
    >>> text = json.dumps(record)  # keep it beside the results
    """
    estimator = _unwrap(estimator)
    _check_accepted(estimator)
    _check_fitted(estimator)
    record = {"format": PROVENANCE_FORMAT, "versions": _versions()}
    record.update(_describe(estimator))
    return record


def _miro_classes():
    # Lazily: the estimators import torch.
    estimators = importlib.import_module(f"{__package__}.estimators")
    return {name: getattr(estimators, name) for name in _KINDS}


def _unwrap(estimator):
    """The estimator inside a FrozenEstimator (any depth), else itself."""
    seen = 0
    while isinstance(estimator, FrozenEstimator) and seen < 10:
        estimator = estimator.estimator
        seen += 1
    return estimator


def _miro_kind(estimator):
    """The record kind of a (unwrapped) MIRO estimator, else None."""
    for name, cls in _miro_classes().items():
        if isinstance(estimator, cls):
            return _KINDS[name][0]
    return None


def _fitted_attribute(estimator):
    for name, cls in _miro_classes().items():
        if isinstance(estimator, cls):
            return _KINDS[name][1]
    return None


def _check_accepted(estimator):
    if _miro_kind(estimator) is not None:
        return
    if isinstance(estimator, Pipeline):
        if any(_miro_kind(_unwrap(step)) is not None for _, step in estimator.steps
               if step is not None and step != "passthrough"):
            return
        raise TypeError(
            f"provenance_record() accepts {_ACCEPTED}; got a Pipeline whose steps "
            f"({', '.join(type(step).__name__ for _, step in estimator.steps)}) include no sklearn_miro "
            "estimator."
        )
    hint = ""
    if hasattr(estimator, "best_estimator_"):
        hint = " (for a search such as GridSearchCV, pass its best_estimator_)"
    raise TypeError(f"provenance_record() accepts {_ACCEPTED}; got {type(estimator).__name__}{hint}.")


def _check_fitted(estimator):
    """Raise NotFittedError, naming the estimator, unless it (and its MIRO steps) are fitted."""
    if isinstance(estimator, Pipeline):
        for name, step in estimator.steps:
            inner = _unwrap(step)
            if _miro_kind(inner) is not None:
                _check_fitted_miro(inner, f"the Pipeline's step {name!r} ({type(inner).__name__})")
        try:
            check_is_fitted(estimator)
        except NotFittedError as exc:
            raise NotFittedError(
                "provenance_record() describes a fitted estimator, and this Pipeline is not fitted yet: "
                "call its fit (or fit_predict) first."
            ) from exc
        return
    _check_fitted_miro(estimator, type(estimator).__name__)


def _check_fitted_miro(estimator, what):
    try:
        check_is_fitted(estimator, _fitted_attribute(estimator))
    except NotFittedError as exc:
        pretrained = " (or use MIROTransformer.pretrained())" if what == "MIROTransformer" else ""
        raise NotFittedError(
            f"provenance_record() describes a fitted estimator, and {what} is not fitted yet: call its "
            f"fit first{pretrained}. Only a fitted estimator knows the network, eps and "
            "min_samples that produced its clusters."
        ) from exc


def _versions():
    package = importlib.import_module(__package__)
    versions = {"sklearn_miro": package.__version__}
    for key, module, dist in (("torch", "torch", "torch"), ("scikit-learn", "sklearn", "scikit-learn"),
                              ("numpy", "numpy", "numpy"), ("scipy", "scipy", "scipy")):
        version = getattr(sys.modules.get(module), "__version__", None)
        if version is None:
            try:
                version = metadata.version(dist)
            except metadata.PackageNotFoundError:
                version = None
        versions[key] = None if version is None else str(version)
    versions["python"] = platform.python_version()
    return versions


def _describe(estimator):
    """Everything but the format and versions: kind, estimator, network, clustering or steps."""
    if isinstance(estimator, Pipeline):
        return {
            "kind": "pipeline",
            "estimator": {"class": _class_name(estimator),
                          "parameters": _parameters(estimator, skip=("steps",))},
            "steps": [_step_record(name, step) for name, step in estimator.steps],
        }
    kind = _miro_kind(estimator)
    record = {"kind": kind, "estimator": {"class": _class_name(estimator), "parameters": _parameters(estimator)}}
    if kind == "clusterer":
        transformer = getattr(estimator, "transformer_", None)
        record["network"] = _network(transformer)
        record["clustering"] = _clusterer_clustering(estimator, record["network"])
    elif kind == "multiscale_clusterer":
        record["network"] = _network(getattr(estimator, "transformer_", None))
        record["clustering"] = _multiscale_clustering(estimator)
    elif kind == "shape_classifier":
        record["network"] = _network(estimator)
        record["classes"] = _shape_classes(estimator)
        record["clustering"] = _shape_clustering(estimator)
    else:
        record["network"] = _network(estimator)
    return record


def _step_record(name, step):
    if step is None or step == "passthrough":
        return {"name": name, "class": None, "passthrough": True}
    inner = _unwrap(step)
    if _miro_kind(inner) is not None:
        return {"name": name, "frozen": inner is not step, **_describe(inner)}
    record = {"name": name, "class": _class_name(inner), "parameters": _parameters(inner)}
    if hasattr(inner, "eps") and hasattr(inner, "min_samples"):  # DBSCAN and its kin
        record["eps"] = _jsonable(inner.eps)
        record["min_samples"] = _jsonable(inner.min_samples)
    return record


# ---- parameters -----------------------------------------------------------


def _class_name(obj):
    """``sklearn_miro.MIROClusterer``, ``sklearn.cluster.DBSCAN``: the public path of a class."""
    cls = type(obj)
    parts = cls.__module__.split(".")
    public = []
    for part in parts:
        if part.startswith("_"):
            break
        public.append(part)
    if public and public[0] == __package__:
        package = importlib.import_module(__package__)
        if cls.__name__ in getattr(package, "__all__", ()):
            public = [__package__]
    return ".".join(public + [cls.__name__])


def _is_estimator(value):
    return hasattr(value, "get_params") and not isinstance(value, type)


def _parameters(estimator, skip=()):
    """Parameters that differ from a fresh instance's (all of them where none can be made)."""
    params = estimator.get_params(deep=False)
    try:
        defaults = type(estimator)().get_params(deep=False)
    except Exception:  # a required argument (FrozenEstimator, Pipeline): keep everything
        defaults = {}
    out = {}
    for name in sorted(params):
        if name in skip:
            continue
        value = params[name]
        if name in defaults and _same(value, defaults[name]):
            continue
        out[name] = _jsonable(value)
    return out


def _same(a, b):
    if a is b:
        return True
    if _is_estimator(a) or _is_estimator(b):
        return False
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    try:
        equal = a == b
        if isinstance(equal, (bool, np.bool_)):
            return bool(equal) and isinstance(a, str) == isinstance(b, str)
        return bool(np.array_equal(a, b))
    except Exception:
        return repr(a) == repr(b)


def _jsonable(value):
    """``value`` as plain JSON types: NaN and infinity -> None, arrays -> lists, objects -> repr."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        value = float(value)
        return value if math.isfinite(value) else None
    if isinstance(value, np.ndarray):
        return [_jsonable(v) for v in value.tolist()]
    if isinstance(value, dict):
        return {k if isinstance(k, str) else str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if _is_estimator(value):
        inner = _unwrap(value)
        described = {"class": _class_name(inner), "parameters": _parameters(inner)}
        if inner is not value:
            described["frozen"] = True
        return described
    return repr(value)


def _get(obj, name):
    """``obj.name``, or None when absent, not fitted (or obj is None)."""
    if obj is None:
        return None
    try:
        return getattr(obj, name, None)
    except Exception:  # a property that cannot answer (e.g. model_card_ of a trained model)
        return None


def _number(value):
    return _jsonable(value) if isinstance(value, (numbers.Real, np.generic)) or value is None else None


# ---- the network ----------------------------------------------------------


def _network(transformer):
    """The transformer-level facts of a (possibly frozen) fitted MIRO estimator."""
    outer = transformer
    inner = _unwrap(transformer)
    if inner is None:
        return None
    model = _get(inner, "model_")
    pretrained = _get(inner, "pretrained_")
    started_from = _get(model, "started_from")
    device = _get(inner, "device_")
    checkpoint = device[len("checkpoint "):] if isinstance(device, str) and device.startswith("checkpoint ") else None
    if pretrained:
        origin = "pretrained"
    elif checkpoint:
        origin = "reference checkpoint"
    elif started_from == "warm_start":
        origin = "warm start"
    elif started_from:
        origin = "fine-tuned"
    else:
        origin = "trained from random weights"
    network = _get(inner, "network_")
    record = {
        "class": _class_name(inner),
        "frozen": inner is not outer,
        "origin": origin,
        "pretrained_model": pretrained,
        "started_from": started_from,
        "checkpoint": checkpoint,
        "hidden_size": _number(_get(network, "hidden_size")),
        "n_steps": _number(_get(model, "n_steps")),
        "n_outputs": _number(_get(network, "n_outputs")),
        "eigenvector_normalization": _get(model, "eigenvector_normalization"),
        "fov_normalization": _get(model, "fov_normalization"),
        "crop_features": _jsonable(_get(inner, "crop_features")),
        "tile_size": _jsonable(_get(inner, "tile_size")),
    }
    if pretrained:
        card = _get(inner, "model_card_") or {}
        dbscan = card.get("dbscan", {})
        training = card.get("training", {})
        rule = dbscan.get("min_samples_rule")
        record["zero_shot_units"] = {
            "connectivity_radius_in_mean_spacings": _number(card.get("radius_in_spacings")),
            "length_unit_in_cluster_radii": _number(card.get("unit_in_cluster_radii")),
            "cluster_radius": _number(_get(inner, "cluster_radius")),
            "cluster_radius_source": "given" if _get(inner, "cluster_radius") is not None else "estimated per FOV",
        }
        record["model_card"] = {
            "name": card.get("name", pretrained),
            "trained_on": "simulations only",
            "family": training.get("family"),
            "training_script": training.get("script"),
            "seed": _number(training.get("seed")),
            "optimisation_steps": _number(training.get("optimisation_steps_done")),
            "training_runs": _training_runs(training),
            "training_wall_seconds": _number(training.get("wall_seconds")),
            "training_torch": training.get("torch"),
            "label_free_rule": {
                "eps_in_cluster_radii": _number(dbscan.get("eps_in_radii")),
                "min_samples": _number(dbscan.get("min_samples")),
                "collapse_passes": _number(dbscan.get("collapse_passes", 1)),
                "min_samples_rule": None if rule is None else {
                    key: _jsonable(rule.get(key))
                    for key in ("count", "factor", "floor", "fallback_below", "tile_radii", "reach")
                },
            },
        }
        return _scales(inner, record)
    normalised = record["fov_normalization"] is not None
    record["length_units"] = ("the FOV scaled to [0, 1] per axis" if normalised else "units of X")
    record["connectivity_radius"] = _number(_get(inner, "connectivity_radius_"))
    record["length_scale"] = _number(_get(inner, "length_scale_"))
    if origin != "reference checkpoint":
        random_state = _get(inner, "random_state")
        validation = [v for v in (_get(model, "validation_loss_curve") or []) if np.isfinite(v)]
        losses = _get(model, "loss_curve") or []
        record["training"] = {
            "n_fovs": _number(_get(model, "n_fovs")),
            "n_augmented": _number(_get(model, "n_augmented")),
            "n_epochs": _number(_get(model, "n_epochs")),
            "best_epoch": _number(_get(model, "best_epoch")),
            "training_seconds": _number(_get(model, "training_time")),
            "final_training_loss": _number(losses[-1]) if len(losses) else None,
            "best_validation_loss": _number(min(validation)) if validation else None,
            "training_compression": _number(_get(model, "training_compression")),
            "training_relative_loss": _number(_get(model, "training_relative_loss")),
            "thinned_background": _number(_get(model, "thinned_background")),
            "retry_relative_loss": _number(_get(model, "retry_relative_loss")),
            "retry_compression": _number(_get(model, "retry_compression")),
            "central_fraction": _number(_get(model, "central_fraction")),
            "precision": _get(model, "training_precision"),
            "compiled": _jsonable(_get(model, "training_compiled")),
            "device": None if device is None else str(device),
            "random_state": _jsonable(random_state) if isinstance(random_state, numbers.Integral) else None,
            "augmentation": _jsonable(_get(inner, "augmentation")),
            "augmentation_fov_size": _number(_get(model, "augmentation_fov_size")),
            "distance_unit": _number(_get(model, "distance_unit")),
            "localization_spacing": _number(_get(model, "localization_spacing")),
        }
    return _scales(inner, record)


def _training_runs(training):
    """The chain of training runs of a card (this one first, then those it continued from)."""
    runs, run = [], training
    while isinstance(run, dict) and len(runs) < 20:
        runs.append({"seed": _number(run.get("seed")),
                     "optimisation_steps": _number(run.get("optimisation_steps_done")),
                     "stage_one": run.get("stage_one") is not None})
        run = run.get("continued_from")
    return runs


def _scales(inner, record):
    """The scales of a multiscale transformer, added to its network record."""
    n_scales = _get(inner, "n_scales_")
    if n_scales is not None:
        record["scales"] = {
            "n_scales": _number(n_scales),
            "names": _jsonable(list(_get(inner, "scale_names_") or [])),
            "k_star": _jsonable(_get(inner, "k_star_")),
            "readout_steps": _jsonable(_get(inner, "scale_steps_")),
        }
    return record


# ---- the clustering -------------------------------------------------------


def _algorithm(border_points):
    return "DBSCAN*" if border_points == "background" else "DBSCAN"


def _clusterer_clustering(clu, network):
    label_free = bool(_get(clu, "label_free_"))
    custom = _get(clu, "clusterer") is not None
    searched = _get(clu, "tuning_scores_") is not None
    border_points = _get(clu, "border_points_")
    params = {name: _get(clu, name) for name in ("eps", "min_samples", "collapse_passes", "border_points",
                                                   "outlier_radius")}
    trained_by_fit = (_get(clu, "transformer") is None
                      or _get(clu, "transformer_") is not _get(clu, "transformer"))

    def how(name, searched_here, auto_rule):
        if params[name] != "auto":
            return "given"
        if searched_here:
            return "labelled search"
        return auto_rule

    without_labels = "label-free rule" if label_free else "default without labels"
    if custom:
        choices = {"collapse_passes": how("collapse_passes", False, "default without labels"),
                   "outlier_radius": how("outlier_radius", False, "default without labels")}
    else:
        choices = {
            "eps": how("eps", searched, "label-free rule" if label_free else None),
            "min_samples": how("min_samples", searched, "label-free rule" if label_free else None),
            "collapse_passes": how("collapse_passes", _get(clu, "collapse_pass_scores_") is not None,
                                   without_labels),
            "border_points": how("border_points", _get(clu, "border_point_scores_") is not None,
                                 "default without labels"),
            "outlier_radius": how("outlier_radius", _get(clu, "outlier_radius_scores_") is not None,
                                  "default without labels"),
        }
    record = {
        "algorithm": _class_name(_get(clu, "clusterer_")) if custom else _algorithm(border_points),
        "label_free": label_free,
        "per_fov": True,
        "border_points": border_points,
        "eps": _number(_get(clu, "eps_")),
        "min_samples": _number(_get(clu, "min_samples_")),
        "collapse_passes": _number(_get(clu, "collapse_passes_")),
        "outlier_radius": _number(_get(clu, "outlier_radius_")),
        "choices": choices,
        "transformer_trained_by_fit": bool(trained_by_fit),
        "n_labelled_fovs": (network or {}).get("training", {}).get("n_fovs") if trained_by_fit else None,
    }
    if custom:
        record["clusterer"] = _jsonable(_get(clu, "clusterer_"))
        for name in ("eps", "min_samples", "border_points"):
            record.pop(name)
    if label_free:
        radii = _get(clu, "cluster_radii_")
        per_fov_ms = _get(clu, "min_samples_per_fov_")
        rule = ((network or {}).get("model_card") or {}).get("label_free_rule", {})
        eps_in_radii = rule.get("eps_in_cluster_radii")
        radii = None if radii is None else np.asarray(radii, dtype=float)
        if radii is not None and params["eps"] == "auto" and eps_in_radii is not None:
            per_fov_eps = eps_in_radii * radii
        elif radii is not None:
            per_fov_eps = np.full(len(radii), float(params["eps"]))
        else:
            per_fov_eps = None
        record.update({
            "cluster_radius": _number(_get(clu, "cluster_radius_")),
            "cluster_radius_source": (network or {}).get("zero_shot_units", {}).get("cluster_radius_source"),
            "cluster_radius_per_fov": _jsonable(radii),
            "eps_in_cluster_radii": eps_in_radii if params["eps"] == "auto" else None,
            "eps_per_fov": _jsonable(per_fov_eps),
            "min_samples_per_fov": _jsonable(per_fov_ms),
            "min_samples_rule": rule.get("min_samples_rule") if params["min_samples"] == "auto" else None,
        })
    if searched:
        scores = np.asarray(_get(clu, "tuning_scores_"), dtype=float)
        outlier_scores = _get(clu, "outlier_radius_scores_")
        best = float(np.nanmax(scores)) if np.isfinite(scores).any() else None
        final = best
        if outlier_scores:
            final = outlier_scores.get(_get(clu, "outlier_radius_"), best)
        record["search"] = {
            "score": "mean of ARI-dagger, JI_c and AMI over the labelled FOVs (weighted by area where "
                     "their areas differ more than 2 times)",
            "best_score": _number(best),
            "training_score": _number(final),
            "eps_grid": _jsonable(_get(clu, "eps_grid_")),
            "min_samples_grid": _jsonable(_get(clu, "min_samples_grid_")),
            "collapse_pass_scores": _jsonable(_get(clu, "collapse_pass_scores_")),
            "border_point_scores": _jsonable(_get(clu, "border_point_scores_")),
            "outlier_radius_scores": None if not outlier_scores else [
                {"outlier_radius": _number(radius), "score": _number(score)}
                for radius, score in outlier_scores.items()
            ],
        }
    else:
        record["search"] = None
    return record


def _multiscale_clustering(clu):
    names = list(_get(clu, "scale_names_") or [])
    eps, min_samples = _get(clu, "eps_") or [], _get(clu, "min_samples_") or []
    border = _get(clu, "border_points_") or []
    tuning = _get(clu, "tuning_scores_") or [None] * len(eps)
    border_scores = _get(clu, "border_point_scores_") or [None] * len(eps)
    scales = []
    for s in range(len(eps)):
        scores = tuning[s] if s < len(tuning) else None
        best = None
        if scores is not None and np.isfinite(np.asarray(scores, dtype=float)).any():
            best = float(np.nanmax(np.asarray(scores, dtype=float)))
        searched = scores is not None
        scales.append({
            "scale": names[s] if s < len(names) else f"scale{s}",
            "choices": {name: ("given" if not _is_auto(_scale_value(_get(clu, name), s))
                               else "labelled search" if searched else None)
                        for name in ("eps", "min_samples")},
            "algorithm": _algorithm(border[s] if s < len(border) else None),
            "eps": _number(eps[s]),
            "min_samples": _number(min_samples[s]),
            "border_points": border[s] if s < len(border) else None,
            "choice": "labelled search" if scores is not None else "given",
            "best_score": _number(best),
            "border_point_scores": _jsonable(border_scores[s] if s < len(border_scores) else None),
        })
    return {
        "per_fov": True,
        "score": "mean of ARI-dagger and JI_c over the labelled FOVs, per scale",
        "scales": scales,
    }


def _is_auto(value):
    return isinstance(value, str) and value == "auto"


def _scale_value(param, s):
    """The value of a per-scale parameter (``"auto"`` or one entry per scale) at scale ``s``."""
    if isinstance(param, str) or param is None:
        return param
    try:
        return param[s]
    except (IndexError, TypeError, KeyError):
        return None


def _shape_classes(clf):
    return {
        "classes": _jsonable(list(_get(clf, "classes_") if _get(clf, "classes_") is not None else [])),
        "background_class": _jsonable(_get(clf, "background_class_")),
        "beta": _number(_get(clf, "beta")),
    }


def _shape_clustering(clf):
    scores = _get(clf, "tuning_scores_")
    best = None
    if scores is not None and np.isfinite(np.asarray(scores, dtype=float)).any():
        best = float(np.nanmax(np.asarray(scores, dtype=float)))
    border_points = _get(clf, "border_points_")
    searched = scores is not None
    return {
        "choices": {name: ("given" if not _is_auto(_get(clf, name)) else "labelled search" if searched else None)
                    for name in ("eps", "min_samples", "border_points")},
        "algorithm": _algorithm(border_points),
        "per_fov": True,
        "border_points": border_points,
        "eps": _number(_get(clf, "eps_")),
        "min_samples": _number(_get(clf, "min_samples_")),
        "choice": "labelled search" if scores is not None else "given",
        "score": "mean of ARI-dagger, JI_c and the macro F1 of the cluster classes over the labelled FOVs",
        "best_score": _number(best),
        "border_point_scores": _jsonable(_get(clf, "border_point_scores_")),
        "cluster_classes": _get(clf, "cluster_classes_"),
        "cluster_class_scores": _jsonable(_get(clf, "cluster_class_scores_")),
    }


# --------------------------------------------------------------------------
# The Methods paragraph
# --------------------------------------------------------------------------


def methods_text(estimator):
    """A paragraph for a Methods section: how the clusters were obtained.

    Built from :func:`provenance_record`'s record, so every number in it is a fitted
    fact or a parameter of the estimator (lengths in the units of the
    coordinates, numbers to 3 significant digits). Cite the versions it names.

    Parameters
    ----------
    estimator : estimator or dict
        What :func:`provenance_record` accepts, or a record it returned (for example
        read back from a JSON file).

    Returns
    -------
    text : str
        One paragraph.

    Raises
    ------
    TypeError, sklearn.exceptions.NotFittedError
        As :func:`provenance_record`; a dict that is not such a record raises a
        ValueError.

    See Also
    --------
    provenance_record : The machine-readable record.

    Examples
    --------
    >>> from sklearn_miro import MIROClusterer, MIROTransformer, methods_text
    >>> from sklearn_miro.datasets import make_gaussian_clusters
    >>> X, y, fov = make_gaussian_clusters(2, n_clusters=10, random_state=0)[:3]
    >>> clu = MIROClusterer(MIROTransformer.pretrained(verbose=0)).fit(X, groups=fov)
    >>> print(methods_text(clu))  # doctest: +ELLIPSIS
    Clusters were identified with MIRO (Pineda et al., Nat. Commun. 16, 9693 (2025)) ...
    """
    record = estimator if isinstance(estimator, dict) else provenance_record(estimator)
    if record.get("format") != PROVENANCE_FORMAT:
        raise ValueError(
            f"methods_text() needs an estimator or a record of provenance_record() (format "
            f"{PROVENANCE_FORMAT!r}); got a dict with format {record.get('format')!r}."
        )
    kind = record["kind"]
    opening = "Localisations were moved towards the centres of their clusters" if kind in (
        "transformer", "multiscale_transformer") else "Clusters were identified"
    sentences = [f"{opening} with MIRO ({CITATION}) as implemented in {_versions_text(record['versions'])}."]
    if kind == "pipeline":
        sentences += _pipeline_sentences(record)
    else:
        sentences += _estimator_sentences(record)
    return " ".join(s for s in sentences if s)


def _estimator_sentences(record):
    kind = record["kind"]
    network = record.get("network") or {}
    clustering = record.get("clustering") or {}
    sentences = _network_sentences(network, clustering if kind == "clusterer" else None)
    if kind == "clusterer":
        sentences += _clusterer_sentences(clustering, network)
    elif kind == "multiscale_clusterer":
        sentences += _multiscale_sentences(clustering)
    elif kind == "shape_classifier":
        sentences += _shape_sentences(record.get("classes") or {}, clustering)
    elif kind in ("transformer", "multiscale_transformer"):
        sentences.append(f"{record['estimator']['class'].rsplit('.', 1)[-1]}.transform returned the moved "
                         "coordinates.")
    return sentences


def _pipeline_sentences(record):
    sentences, seen_miro = [], False
    for step in record["steps"]:
        if step.get("passthrough"):
            continue
        if "kind" in step:
            sentences += _estimator_sentences(step)
            seen_miro = True
            continue
        name = step["class"].rsplit(".", 1)[-1]
        if "eps" in step:
            what = f"{name} (eps = {_exact(step['eps'])}, min_samples = {_exact(step['min_samples'])})"
        else:
            what = _call_text(step["class"], step.get("parameters") or {})
        if seen_miro:
            sentences.append(f"{what} was then applied to the moved coordinates (step {step['name']!r} "
                             "of a scikit-learn Pipeline).")
        else:
            sentences.append(f"The coordinates were first transformed by {what} (step {step['name']!r} "
                             "of a scikit-learn Pipeline).")
    return sentences


def _versions_text(versions):
    extra = [f"{label} {versions[key]}" for key, label in (("python", "Python"), ("torch", "PyTorch"),
                                                           ("scikit-learn", "scikit-learn"),
                                                           ("numpy", "NumPy"), ("scipy", "SciPy"))
             if versions.get(key)]
    text = f"sklearn_miro {versions.get('sklearn_miro')}"
    return f"{text} ({', '.join(extra)})" if extra else text


def _network_sentences(network, clustering):
    if not network:
        return []
    origin = network.get("origin")
    shape = _shape_phrase(network)
    if origin == "pretrained":
        units = network.get("zero_shot_units") or {}
        sentences = [
            f"The pretrained network '{network['pretrained_model']}' shipped with sklearn_miro "
            f"({shape}, trained with the package on simulated localisations only) was used without "
            "retraining."
        ]
        radius = "R being the field of view's cluster radius (the typical root-mean-square radius of a cluster)"
        if units.get("cluster_radius_source") == "given":
            radius += f", given as {_num(units.get('cluster_radius'))} in the units of the coordinates"
        else:
            radius += (", estimated without labels from the field of view's pair-correlation function (or, "
                       "where that showed no clustering, by iterating the network's collapse, DBSCAN and a "
                       "measurement of the clusters to a fixed point)")
            per_fov = (clustering or {}).get("cluster_radius_per_fov")
            if per_fov:
                radius += f"; {_spread(per_fov)} in the units of the coordinates"
        sentences.append(
            "Each field of view was processed on its own, as the graph of its Delaunay edges shorter than "
            f"{_exact(units.get('connectivity_radius_in_mean_spacings'))} times its mean localisation spacing "
            "(the square root of its bounding-box area per localisation), with lengths in units of "
            f"{_exact(units.get('length_unit_in_cluster_radii'))} R, {radius}."
        )
        return sentences
    if origin == "reference checkpoint":
        sentences = [f"The network ({shape}) was the MIRO authors' published checkpoint "
                     f"'{network.get('checkpoint')}', loaded with sklearn_miro.load_reference_checkpoint."]
        sentences.append(_units_sentence(network))
        return sentences
    training = network.get("training") or {}
    n_fovs = training.get("n_fovs")
    on = f" on {_count(n_fovs, 'labelled field of view', 'labelled fields of view')}" if n_fovs else ""
    if origin == "fine-tuned":
        start = (f"fine-tuned from the pretrained network '{network.get('started_from')}' shipped with "
                 "sklearn_miro (trained on simulated localisations only)")
    elif origin == "warm start":
        start = "trained further from its previous weights (warm start)"
    else:
        start = "trained from random weights"
    sentences = [f"The network, {shape}, was {start}{on}."]
    details = []
    if training.get("n_augmented"):
        built = (f"from the labelled clusters, {_int(training['n_augmented'])} synthetic training fields of "
                 "view were built")
        if training.get("augmentation") is None:
            built += (" (clusters randomly rotated, reflected, thinned, added to, jittered and placed, with "
                      "background)")
        else:
            built += " (with the augmentation options of the record)"
        details.append(built)
    if training.get("n_epochs"):
        run = f"the network was trained on them for {_count(training['n_epochs'], 'epoch', 'epochs')}"
        where = []
        if training.get("training_seconds") is not None:
            where.append(f"{_num(training['training_seconds'])} s")
        if training.get("device"):
            where.append(f"on {_device_text(training['device'])}")
        if training.get("precision"):
            where.append(f"{training['precision']} arithmetic")
        if training.get("random_state") is not None:
            where.append(f"random_state = {training['random_state']}")
        if where:
            run += f" ({', '.join(where)})"
        details.append(run)
    if details:
        text = "; ".join(details)
        sentences.append(text[0].upper() + text[1:] + ".")
    sentences.append(_units_sentence(network))
    compression, relative = training.get("training_compression"), training.get("training_relative_loss")
    if compression is not None:
        text = (f"After training, the median distance of the labelled training clusters' localisations to "
                f"their cluster centre was {_num(compression)} times its value before the collapse")
        if relative is not None:
            text += f" (training loss {_num(relative)} times that of moving no localisation)"
        sentences.append(text + ".")
    if training.get("thinned_background") is not None:
        sentences.append("The network kept was trained a second time on synthetic fields of view with thinned "
                         "background, the first training having ended near moving nothing.")
    return sentences


def _shape_phrase(network):
    parts = ["a recurrent graph neural network"]
    if network.get("hidden_size") is not None:
        parts.append(f"of hidden size {network['hidden_size']}")
    if network.get("n_steps") is not None:
        parts.append(f"with {_count(network['n_steps'], 'message-passing step', 'message-passing steps')}")
    scales = network.get("scales")
    if scales and scales.get("n_scales"):
        names = ", ".join(scales.get("names") or [])
        parts.append(f"and {_count(scales['n_scales'], 'scale', 'scales')}" + (f" ({names})" if names else ""))
    return " ".join(parts)


def _units_sentence(network):
    radius, unit = network.get("connectivity_radius"), network.get("length_scale")
    if radius is None and unit is None:
        return ""
    if network.get("fov_normalization") is not None:
        space = "in each field of view scaled to [0, 1] per axis"
    else:
        space = "in the units of the coordinates"
    return (f"Its graphs kept the Delaunay edges shorter than {_num(radius)}, and its displacements were in "
            f"units of {_num(unit)} (both {space}).")


def _passes_text(n):
    if n is None:
        return "once"
    n = int(n)
    return {1: "once", 2: "twice"}.get(n, f"{n} times")


def _clusterer_sentences(clustering, network):
    choices = clustering.get("choices") or {}
    passes = clustering.get("collapse_passes")
    how_passes = {"given": "as set", "label-free rule": "the model card's label-free rule",
                  "labelled search": "chosen on the labelled fields of view"}.get(choices.get("collapse_passes"))
    passes_text = f"the network was applied {_passes_text(passes)} to each field of view"
    if how_passes:
        passes_text += f" ({how_passes})"
    if passes and int(passes) > 1:
        passes_text += ", each pass on the previous pass's output"
        if (network or {}).get("origin") == "pretrained":
            passes_text += " and in the first pass's units (its R and mean spacing)"
        elif (network or {}).get("fov_normalization") is not None:
            passes_text += " scaled to [0, 1] per axis again"
    if "clusterer" in clustering:
        call = clustering["clusterer"] or {}
        what = _call_text(call.get("class", clustering.get("algorithm")), call.get("parameters") or {})
        return [f"{passes_text[0].upper()}{passes_text[1:]}, and its moved localisations were clustered with "
                f"{what}, each field of view on its own.", _trimming_sentence(clustering, choices)]
    sentences = []
    if clustering.get("label_free"):
        sentences.append(f"No labels were used: {passes_text}.")
        eps = (f"eps = {_exact(clustering['eps_in_cluster_radii'])} R"
               + (f" ({_spread(clustering['eps_per_fov'])})" if clustering.get("eps_per_fov") else "")
               if clustering.get("eps_in_cluster_radii") is not None
               else f"eps = {_exact(clustering.get('eps'))} in the units of the coordinates (as set)")
        per_fov = clustering.get("min_samples_per_fov") or []
        if choices.get("min_samples") == "label-free rule":
            values = [int(v) for v in per_fov if v is not None]
            if values and min(values) != max(values):
                ms = f"min_samples = {min(values)}-{max(values)} per field of view"
            elif values:
                ms = f"min_samples = {values[0]} in every field of view"
            else:
                ms = "min_samples per field of view"
            ms += ", set by the model card's label-free rule"
            rule = clustering.get("min_samples_rule")
            if rule:
                ms += (f" (from the field of view's neighbours in excess of a uniform scatter within "
                       f"{_exact(rule.get('reach'))} R, or, where it has none, from the card's value raised "
                       "with multiple blinking)")
            else:
                ms += " (the card's value, raised where the pair correlation shows multiple blinking)"
        else:
            ms = f"min_samples = {_exact(clustering.get('min_samples'))} (as set)"
        name = ("DBSCAN* (DBSCAN with border points left as background)"
                if clustering.get("algorithm") == "DBSCAN*" else "DBSCAN")
        sentences.append(f"{name} then clustered the moved localisations of each field of view on its own, "
                         f"with {eps} and {ms}.")
    else:
        values = _values_text(clustering, choices)
        sentences.append(f"{passes_text[0].upper()}{passes_text[1:]}, and {_algorithm_call(clustering, values)} "
                         "clustered the moved localisations of each field of view on its own.")
        search = clustering.get("search")
        if search:
            sentences.append(_search_sentence(clustering, search, choices))
    sentences.append(_trimming_sentence(clustering, choices))
    return sentences


def _algorithm_call(clustering, values):
    """``DBSCAN (eps = ..., min_samples = ...)``, or DBSCAN* with what it is."""
    if clustering.get("algorithm") == "DBSCAN*":
        return f"DBSCAN* (DBSCAN with border points left as background; {', '.join(values)})"
    return f"DBSCAN ({', '.join(values)})"


def _search_sentence(clustering, search, choices):
    labels = {"eps": "eps", "min_samples": "min_samples", "collapse_passes": "the number of passes",
              "border_points": "DBSCAN against DBSCAN*"}
    chosen = [name for name in labels if choices.get(name) == "labelled search"]
    n = clustering.get("n_labelled_fovs")
    where = f"the {_int(n)} labelled fields of view" if n else "the labelled fields of view given to fit"
    if clustering.get("transformer_trained_by_fit") and n:
        where += " the network was trained on"
    candidates = []
    eps_grid, ms_grid = search.get("eps_grid") or [], search.get("min_samples_grid") or []
    if choices.get("eps") == "labelled search" and eps_grid:
        candidates.append(f"{len(eps_grid)} eps values from {_num(min(eps_grid))} to {_num(max(eps_grid))} "
                          "(geometric)")
    if choices.get("min_samples") == "labelled search" and ms_grid:
        candidates.append(f"{len(ms_grid)} min_samples values from {_int(min(ms_grid))} to {_int(max(ms_grid))}")
    if choices.get("collapse_passes") == "labelled search" and search.get("collapse_pass_scores"):
        candidates.append(f"{_or_list(sorted(search['collapse_pass_scores'], key=int))} passes")
    if choices.get("border_points") == "labelled search":
        candidates.append("both DBSCAN and DBSCAN*")
    subject = _and_list([labels[name] for name in chosen])
    if not subject:
        return ""
    text = (f"The choice of {subject} was made on {where} by maximising the mean of ARI†, JI_c and AMI "
            "(averaged over those fields of view")
    if search.get("best_score") is not None:
        text += f"; best {_num(search['best_score'])}"
    text += ")"
    if candidates:
        text += f", among {_and_list(candidates)}"
    return text + "."


def _trimming_sentence(clustering, choices):
    radius = clustering.get("outlier_radius")
    how = choices.get("outlier_radius")
    search = clustering.get("search") or {}
    tried = [entry["outlier_radius"] for entry in (search.get("outlier_radius_scores") or [])
             if entry.get("outlier_radius") is not None]
    if radius is None:
        if how == "labelled search" and tried:
            return (f"Trimming the clusters at a Mahalanobis radius of {_or_list([_exact(r) for r in tried])} was "
                    "tried with the same score and not kept.")
        return ""
    text = (f"Localisations farther than {_exact(radius)} from the mean of their cluster, in the cluster's own "
            "Mahalanobis distance on the original coordinates, were then returned to the background")
    if how == "labelled search":
        options = _and_list(["none"] + [_exact(r) for r in tried])
        text += f" (radius chosen with the same score among {options}"
        if search.get("training_score") is not None:
            text += f"; {_num(search['training_score'])} after trimming"
        text += ")"
    return text + "."


def _values_text(clustering, choices):
    """``eps = ...`` and ``min_samples = ...``, the given ones marked "as set"."""
    given = " (as set)"
    eps, min_samples = clustering.get("eps"), clustering.get("min_samples")
    if choices.get("eps") == "given":
        eps_text = f"eps = {_exact(eps)} in the units of the coordinates{given}"
    else:
        eps_text = f"eps = {_num(eps)} in the units of the coordinates"
    if choices.get("min_samples") == "given":
        ms_text = f"min_samples = {_exact(min_samples)}{given}"
    else:
        ms_text = f"min_samples = {_int(min_samples)}"
    return [eps_text, ms_text]


def _multiscale_sentences(clustering):
    parts = []
    for scale in clustering.get("scales") or []:
        values = ", ".join(_values_text(scale, scale.get("choices") or {}))
        parts.append(f"{scale['scale']}: {scale['algorithm']} with {values}")
    if not parts:
        return []
    text = ("At every scale the moved localisations of each field of view were clustered on their own ("
            + "; ".join(parts) + ")")
    if any(scale.get("choice") == "labelled search" for scale in clustering["scales"]):
        text += ("; the parameters not set were chosen on the labelled fields of view by maximising the mean "
                 "of ARI† and JI_c (averaged over those fields of view)")
    return [text + "."]


def _shape_sentences(classes, clustering):
    names = [str(c) for c in classes.get("classes") or []]
    sentences = []
    if names:
        text = f"The network also predicted the class of every localisation ({', '.join(names)})"
        if classes.get("beta") is not None:
            text += f", with the cross-entropy weighted by beta = {_exact(classes['beta'])} in the loss"
        sentences.append(text + ".")
    how = ("chosen on the labelled fields of view by maximising the mean of ARI†, JI_c and the macro F1 of "
           "the cluster classes (averaged over those fields of view)")
    values = _values_text(clustering, clustering.get("choices") or {})
    sentences.append(f"{_algorithm_call(clustering, values)} clustered the moved localisations of each field of "
                     "view on its own.")
    if clustering.get("choice") == "labelled search":
        sentences.append(f"Parameters not set were {how}.")
    if clustering.get("cluster_classes") == "descriptors":
        sentences.append("Each cluster got its class from a logistic regression over its geometry and the "
                         "network's votes, trained on the training clusters.")
    elif clustering.get("cluster_classes") == "vote":
        sentences.append("Each cluster got the most frequent class predicted for its localisations.")
    return sentences


# ---- number formatting ----------------------------------------------------


def _num(value):
    """A length or score to 3 significant digits, without exponent where reasonable."""
    if value is None:
        return "n/a"
    value = float(value)
    if not math.isfinite(value):
        return "n/a"
    if value == 0:
        return "0"
    rounded = float(f"{value:.3g}")
    magnitude = math.floor(math.log10(abs(rounded)))
    if magnitude >= 6 or magnitude <= -5:
        return f"{rounded:.3g}"
    return f"{rounded:.{max(0, 2 - magnitude)}f}"


def _exact(value):
    """A rule's constant (e.g. 0.5125, 3.5) as written on the model card."""
    return "n/a" if value is None else f"{float(value):g}"


def _int(value):
    return "n/a" if value is None else f"{int(value):,}"


def _count(n, one, many):
    return f"{_int(n)} {one if int(n) == 1 else many}"


def _spread(values):
    finite = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    if not finite:
        return "not available"
    if len(finite) == 1:
        return _num(finite[0])
    low, high = min(finite), max(finite)
    if _num(low) == _num(high):
        return f"{_num(low)} in every field of view"
    return f"median {_num(float(np.median(finite)))}, range {_num(low)}-{_num(high)}"


def _and_list(items):
    items = [str(i) for i in items]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _or_list(items):
    items = [str(i) for i in items]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " or " + items[-1]


def _device_text(device):
    if device.startswith("cuda"):
        return "a GPU (" + device + ")"
    if device == "cpu":
        return "the CPU"
    return device


def _call_text(class_name, parameters):
    name = str(class_name).rsplit(".", 1)[-1]
    args = ", ".join(f"{key}={value!r}" if isinstance(value, str) else f"{key}={value}"
                     for key, value in parameters.items() if not isinstance(value, dict))
    return f"{name}({args})"
