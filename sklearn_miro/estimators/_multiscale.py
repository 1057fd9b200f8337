"""Multiscale MIRO: one network that collapses clusters at several nested scales.

Paper, "MIRO loss function" and Fig. 5: the recurrent steps ``[0, k* - 1]``
are supervised with the displacements towards the centres of the **fine**
clusters (e.g. the corners of nuclear pore complexes) and the steps
``[k*, K - 1]`` with those towards the centres of the **coarse** clusters (the
whole pores). A single forward pass then gives both: in the paper the
prediction of step ``k* - 1`` collapses the corners, that of step ``K - 1``
the rings. Here each fine scale is read, by default, at the step of its range
where its labelled training clusters are most collapsed
(``readout_steps="auto"``, :func:`sklearn_miro.model.readout_steps`).

:class:`MultiscaleMIROTransformer` is the network; :class:`MultiscaleMIROClusterer`
adds one DBSCAN per scale and per field of view (FOV), and reports which fine
cluster lies in which coarse one (:func:`nesting_report`).
"""

from __future__ import annotations

import contextvars
import numbers
import warnings

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin, _fit_context, clone
from sklearn.utils._param_validation import HasMethods, StrOptions
from sklearn.utils._set_output import _get_output_config
from sklearn.utils.validation import check_is_fitted

from ..analysis import multiscale_cluster_table
from ..clustering import (
    choose_dbscan_parameters_rules,
    cluster_per_fov,
    dbscan_template,
    fov_area_weights,
    inner_transformer,
    is_auto,
    is_fitted,
)
from .._validation import (
    caller_stacklevel,
    check_cluster_labels,
    check_coordinates,
    check_groups,
    check_positive,
    split_by_group,
)
from ..model import readout_steps
from ._base import (
    AUTO_BORDER_POINTS,
    MULTISCALE_N_STEPS,
    NETWORK_DEFAULTS,
    BaseMIRO,
    NestedTransformerParamsMixin,
    check_transformer_kind,
    radius_in_units_of_x,
    search_border_rules,
)

__all__ = [
    "MultiscaleMIROClusterer",
    "MultiscaleMIROTransformer",
    "DEPRECATED_CLUSTERER_ARGUMENTS",
    "nesting_report",
    "resolve_cutoffs",
    "scale_attributes",
    "step_supervision",
]

# (id of the transformer, scale) whose single-scale output set_output's wrapper
# is about to name; per thread and per context, never stored on the estimator.
_NAMED_SCALE = contextvars.ContextVar("sklearn_miro_named_scale", default=(None, None))


# --------------------------------------------------------------------------
# Validation helpers
# --------------------------------------------------------------------------


def resolve_cutoffs(k_star, n_steps, n_scales):
    """Steps at which each scale after the first starts supervising.

    Returns a list of ``n_scales - 1`` strictly increasing integers in
    ``[1, n_steps - 1]``.
    """
    if isinstance(k_star, str):
        if k_star != "auto":
            raise ValueError(f"k_star must be 'auto', an integer or a sequence of integers; got {k_star!r}.")
        cutoffs = [int(round(n_steps * (s + 1) / n_scales)) for s in range(n_scales - 1)]
    elif isinstance(k_star, numbers.Integral) and not isinstance(k_star, bool):
        cutoffs = [int(k_star)]
    else:
        try:
            cutoffs = list(k_star)
        except TypeError:
            raise ValueError(
                f"k_star must be 'auto', an integer or a sequence of integers; got {k_star!r}."
            ) from None
        if not all(isinstance(c, numbers.Integral) and not isinstance(c, bool) for c in cutoffs):
            raise ValueError(f"k_star must hold integers; got {k_star!r}.")
        cutoffs = [int(c) for c in cutoffs]
    if len(cutoffs) != n_scales - 1:
        raise ValueError(
            f"k_star gives {len(cutoffs)} cutoff(s) but y has {n_scales} scales: one cutoff is "
            f"needed between consecutive scales ({n_scales - 1})."
        )
    bounds_ok = all(1 <= c <= n_steps - 1 for c in cutoffs)
    increasing = all(a < b for a, b in zip(cutoffs, cutoffs[1:]))
    if not (bounds_ok and increasing):
        raise ValueError(
            f"k_star must be strictly increasing integers in [1, n_steps - 1] = [1, {n_steps - 1}] "
            f"(steps 0..k*-1 are supervised by the finer scale); got {k_star!r}."
        )
    return cutoffs


def step_supervision(cutoffs, n_steps):
    """Scale (label column) supervising each recurrent step: the number of cutoffs <= step."""
    return np.searchsorted(np.asarray(cutoffs), np.arange(n_steps), side="right").astype(np.int64)


def scale_attributes(cutoffs, names, n_steps):
    """The fitted scale attributes of a multiscale transformer.

    Returns
    -------
    dict
        ``n_scales_``, ``k_star_``, ``scale_names_`` and ``scale_steps_`` (the
        step read out for each scale: ``k* - 1`` for every scale but the
        coarsest, ``n_steps - 1`` for the coarsest; ``fit`` with
        ``readout_steps="auto"`` replaces the former by the steps
        :func:`sklearn_miro.model.readout_steps` chooses).
    """
    return {
        "n_scales_": len(cutoffs) + 1,
        "k_star_": [int(c) for c in cutoffs],
        "scale_names_": tuple(names),
        "scale_steps_": np.array([c - 1 for c in cutoffs] + [n_steps - 1], dtype=np.int64),
    }


def _resolve_scale_names(scale_names, n_scales, name="scale_names"):
    if scale_names is None:
        return tuple(f"scale{s}" for s in range(n_scales))
    if isinstance(scale_names, str):
        raise ValueError(f"{name} must be a sequence of strings, one per scale; got {scale_names!r}.")
    names = tuple(scale_names)
    if len(names) != n_scales or not all(isinstance(s, str) for s in names):
        raise ValueError(
            f"{name} must hold one string per scale ({n_scales}), finest first; got {scale_names!r}."
        )
    if len(set(names)) != len(names):
        raise ValueError(f"{name} must be distinct; got {scale_names!r}.")
    return names


def _scale_index(scale, names):
    """Index of ``scale`` (a name or an integer, negative from the end)."""
    n = len(names)
    if isinstance(scale, str):
        if scale not in names:
            raise ValueError(f"Unknown scale {scale!r}; the scales are {list(names)}.")
        return names.index(scale)
    if isinstance(scale, numbers.Integral) and not isinstance(scale, bool) and -n <= scale < n:
        return int(scale) % n
    raise ValueError(
        f"scale must be a scale name among {list(names)} or an integer in [{-n}, {n - 1}]; "
        f"got {scale!r}."
    )


# --------------------------------------------------------------------------
# Nesting
# --------------------------------------------------------------------------


def nesting_report(labels_fine, labels_coarse, *, background=-1):
    """Which coarse cluster every fine cluster lies in.

    Each fine cluster is assigned the coarse label held by most of its
    localisations (ties go to the smaller label, so to ``background`` when
    it is among the tied). Labels must be unique across FOVs, as the
    estimators of this package return them.

    Parameters
    ----------
    labels_fine, labels_coarse : array-like of shape (n_localizations,)
        Cluster labels at the fine and at the coarse scale.
    background : int, default=-1
        Label of non-clustered localisations at both scales.

    Returns
    -------
    report : pandas.DataFrame
        One row per fine cluster (index ``fine``, sorted), with columns

        - ``coarse``: the majority coarse label (``background`` if most of its
          localisations are not in any coarse cluster);
        - ``n_localizations``: size of the fine cluster;
        - ``n_in_coarse``: how many of them have that coarse label;
        - ``fraction``: ``n_in_coarse / n_localizations``;
        - ``n_coarse_labels``: number of distinct coarse labels (background
          included) among its localisations; 1 means perfectly nested.

    Examples
    --------
    >>> from sklearn_miro.estimators import nesting_report
    >>> nesting_report([0, 0, 1, 1, 2, -1], [5, 5, 5, 7, 7, -1])["coarse"].to_dict()
    {0: 5, 1: 5, 2: 7}
    """
    fine = np.asarray(labels_fine)
    coarse = np.asarray(labels_coarse)
    if fine.ndim != 1 or coarse.ndim != 1 or fine.shape != coarse.shape:
        raise ValueError(
            "labels_fine and labels_coarse must be 1-D arrays of the same length; got shapes "
            f"{fine.shape} and {coarse.shape}."
        )
    columns = ["coarse", "n_localizations", "n_in_coarse", "fraction", "n_coarse_labels"]
    inside = fine != background
    if not inside.any():
        empty = pd.DataFrame({c: pd.Series(dtype=float if c == "fraction" else np.int64) for c in columns})
        empty.index = pd.Index([], name="fine", dtype=fine.dtype)
        return empty
    pairs, counts = np.unique(np.stack([fine[inside], coarse[inside]], axis=1), axis=0, return_counts=True)
    # Rows sorted by (fine, coarse): within a fine label, a stable sort by
    # decreasing count keeps the smaller coarse label first among ties.
    order = np.lexsort((pairs[:, 1], -counts, pairs[:, 0]))
    pairs, counts = pairs[order], counts[order]
    fine_ids, first, n_labels = np.unique(pairs[:, 0], return_index=True, return_counts=True)
    sizes = np.add.reduceat(counts, first)
    report = pd.DataFrame(
        {
            "coarse": pairs[first, 1],
            "n_localizations": sizes.astype(np.int64),
            "n_in_coarse": counts[first].astype(np.int64),
            "fraction": counts[first] / sizes,
            "n_coarse_labels": n_labels.astype(np.int64),
        },
        index=pd.Index(fine_ids, name="fine"),
    )
    return report


# --------------------------------------------------------------------------
# DBSCAN parameters per scale
# --------------------------------------------------------------------------


def _per_scale(value, name, n_scales=None, integer=False):
    """``value`` as a list with one entry per scale ("auto" broadcasts)."""
    if is_auto(value):
        return None if n_scales is None else ["auto"] * n_scales
    if isinstance(value, (str, numbers.Number)) or not hasattr(value, "__len__"):
        kind = "integers" if integer else "numbers"
        raise ValueError(
            f"{name} must be 'auto' or a sequence with one value per scale (finest first; "
            f"{kind} or 'auto'); got {value!r}."
        )
    values = list(value)
    for v in values:
        if not is_auto(v):
            check_positive(v, f"every entry of {name}", integer=integer)
    if n_scales is not None and len(values) != n_scales:
        raise ValueError(
            f"{name} has {len(values)} value(s) but the model has {n_scales} scales; give one "
            "per scale, finest first."
        )
    return values


# --------------------------------------------------------------------------
# Transformer
# --------------------------------------------------------------------------

# Arguments of MultiscaleMIROClusterer that configure its transformer: they
# are deprecated there (pass transformer=MultiscaleMIROTransformer(...)).
# (tile_size, crop_features, n_jobs, precision, compile and readout_steps, added after
# the deprecation, are set on the transformer only.)
DEPRECATED_CLUSTERER_ARGUMENTS = (
    "k_star",
    *(name for name in NETWORK_DEFAULTS
      if name not in ("tile_size", "crop_features", "n_jobs", "precision", "compile")),
)

_D = NETWORK_DEFAULTS


class MultiscaleMIROTransformer(TransformerMixin, BaseMIRO):
    """MIRO trained to collapse nested clusters at several scales in one forward pass.

    The recurrent steps are split between the scales (paper, "MIRO loss
    function"): with two scales, steps ``0 .. k*-1`` learn the displacements
    towards the centres of the fine clusters (e.g. NPC corners) and steps
    ``k* .. K-1`` those towards the centres of the coarse clusters (whole
    NPCs). ``transform`` reads the fine scale at one of its steps (by default
    the one where the labelled fine clusters are most collapsed; the paper's
    ``k* - 1`` with ``readout_steps="cutoff"``) and the coarse one at step
    ``K - 1``, from a single forward pass. More scales work the same way with
    one cutoff between consecutive scales.

    Training is :class:`MIROTransformer`'s: the synthetic training FOVs are
    built from whole coarse clusters (each carrying the labels of its finer
    clusters), so the nesting of the scales is kept by the augmentation.

    Parameters
    ----------
    k_star : int, sequence of int or "auto", default="auto"
        First step supervised by the next (coarser) scale. With two scales an
        integer ``k*`` in ``[1, n_steps - 1]``; with more scales one
        strictly increasing cutoff per pair of consecutive scales. ``"auto"``
        splits the steps evenly (``k* = n_steps / 2`` for two scales: the
        reference's 10 of 20 steps, the paper's 15 of 30). The cutoffs used
        are ``k_star_``.
    readout_steps : {"auto", "cutoff"}, default="auto"
        The step ``transform`` reads each scale but the coarsest from.
        ``"cutoff"``: the last step of the scale's range (``k* - 1``), as in
        the paper. ``"auto"``: the step of that range where the scale's
        labelled training clusters are most collapsed, measured after
        training on the training FOVs
        (:func:`sklearn_miro.model.readout_steps`): one recurrent network runs
        every step, and it may start moving points towards the coarser centres
        before the fine range ends. On the simulated NPC (issue 11's quality
        table, 3 seeds) the corners are most collapsed at step 4 of 0-9 and
        spread apart again by step 9; read at step 4 they beat plain DBSCAN
        on ARI-dagger, JI_c and RMSRE_N (means over the seeds), read at step
        9 they lose on JI_c (``doc/method.md``). The coarsest scale is always
        read at the last step. The steps used are ``scale_steps_``.
    scale_names : sequence of str or None, default=None
        Names of the scales, finest first (e.g. ``("corners", "rings")``),
        accepted by ``transform(scale=...)``; ``None`` names them ``"scale0"``,
        ``"scale1"``, ...
    hidden_size, n_steps, connectivity_radius, length_scale, \
eigenvector_normalization, fov_normalization, alpha, learning_rate, \
lr_schedule, max_epochs, n_augmented, batch_size, augmentation, \
validation_fraction, n_iter_no_change, device, random_state, verbose, \
tile_size, crop_features, n_jobs, precision, compile
        As for :class:`MIROTransformer`, except that ``n_steps`` defaults to
        20 (the authors' multiscale model; Table S7 uses 30). With
        ``length_scale="auto"`` the unit comes from the coarsest clusters.
        There is no pretrained multiscale model: training starts from random
        weights, so the schedule parameters left at ``"auto"`` take
        ``FROM_SCRATCH_SCHEDULE``.

    Attributes
    ----------
    n_scales_ : int
        Number of scales seen in ``fit`` (columns of y).
    k_star_ : list of int
        Cutoffs used.
    scale_steps_ : ndarray of shape (n_scales_,)
        The (0-based) recurrent step read out for each scale (see
        ``readout_steps``); ``n_steps - 1`` for the coarsest.
    step_compression_ : ndarray of shape (n_scales_, n_steps)
        Compression of each scale's labelled training clusters at every
        recurrent step (:func:`sklearn_miro.diagnostics.cluster_compression`:
        median distance to the cluster centroid after the step over before;
        1 = not moved towards it, 0 = collapsed onto it), measured on the
        training FOVs after training. ``readout_steps="auto"`` reads each
        fine scale at its lowest value within the scale's steps. All NaN for
        the authors' checkpoint (:func:`sklearn_miro.load_reference_checkpoint`),
        which comes without labelled FOVs.
    scale_names_ : tuple of str
        Names of the scales.
    network_, connectivity_radius_, length_scale_, distance_unit_, \
fov_density_, n_fovs_, loss_curve_, validation_loss_curve_, n_epochs_, \
best_epoch_, training_time_, training_compression_, training_relative_loss_, \
started_from_, thinned_background_, retry_relative_loss_, retry_compression_, \
training_precision_, training_compiled_, \
device_, n_features_in_, feature_names_in_
        As for :class:`MIROTransformer`.

    See Also
    --------
    MultiscaleMIROClusterer : this transformer followed by one DBSCAN per scale.

    Examples
    --------
    >>> from sklearn_miro.estimators import MultiscaleMIROTransformer
    >>> from sklearn_miro.datasets import make_npc
    >>> X, Y, fov = make_npc(n_fovs=4, random_state=0)
    >>> ms = MultiscaleMIROTransformer(scale_names=("corners", "rings"), random_state=0)
    >>> ms.fit(X, Y, groups=fov)  # doctest: +SKIP
    >>> rings = ms.transform(X_new, scale="rings")  # doctest: +SKIP
    """

    # k_star and scale_names are checked against y in fit (their messages name the scales).
    # groups is metadata of transform too: requested so that a Pipeline's fit_transform
    # (fit and transform) routes it consistently when metadata routing is on.
    __metadata_request__transform = {"groups": True}

    _parameter_constraints: dict = {
        **BaseMIRO._parameter_constraints,
        "k_star": "no_validation",
        "readout_steps": [StrOptions({"auto", "cutoff"})],
        "scale_names": "no_validation",
    }

    def __init__(
        self,
        *,
        k_star="auto",
        readout_steps="auto",
        scale_names=None,
        hidden_size=_D["hidden_size"],
        n_steps=MULTISCALE_N_STEPS,
        connectivity_radius=_D["connectivity_radius"],
        length_scale=_D["length_scale"],
        eigenvector_normalization=_D["eigenvector_normalization"],
        fov_normalization=_D["fov_normalization"],
        alpha=_D["alpha"],
        learning_rate=_D["learning_rate"],
        lr_schedule=_D["lr_schedule"],
        max_epochs=_D["max_epochs"],
        n_augmented=_D["n_augmented"],
        batch_size=_D["batch_size"],
        augmentation=_D["augmentation"],
        validation_fraction=_D["validation_fraction"],
        n_iter_no_change=_D["n_iter_no_change"],
        device=_D["device"],
        random_state=_D["random_state"],
        verbose=_D["verbose"],
        tile_size=_D["tile_size"],
        crop_features=_D["crop_features"],
        n_jobs=_D["n_jobs"],
        precision=_D["precision"],
        compile=_D["compile"],
    ):
        super().__init__(
            hidden_size=hidden_size,
            n_steps=n_steps,
            connectivity_radius=connectivity_radius,
            length_scale=length_scale,
            eigenvector_normalization=eigenvector_normalization,
            fov_normalization=fov_normalization,
            alpha=alpha,
            learning_rate=learning_rate,
            lr_schedule=lr_schedule,
            max_epochs=max_epochs,
            n_augmented=n_augmented,
            batch_size=batch_size,
            augmentation=augmentation,
            validation_fraction=validation_fraction,
            n_iter_no_change=n_iter_no_change,
            device=device,
            random_state=random_state,
            verbose=verbose,
            tile_size=tile_size,
            crop_features=crop_features,
            n_jobs=n_jobs,
            precision=precision,
            compile=compile,
        )
        self.k_star = k_star
        self.readout_steps = readout_steps
        self.scale_names = scale_names

    def __setstate__(self, state):
        # Transformers fitted before readout_steps existed read every fine
        # scale at its cutoff step (their scale_steps_ say so); unfitted ones
        # take the current default.
        state = dict(state)
        state.setdefault("readout_steps", "cutoff" if "model_" in state else "auto")
        super().__setstate__(state)

    # ---- public API -----------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, groups=None):
        """Train on FOVs labelled at every scale.

        Parameters
        ----------
        X : array-like of shape (n_localizations, 2) or DataFrame
            Coordinates (usually nm).
        y : array-like of shape (n_localizations, n_scales)
            Cluster label of every localisation at every scale, finest scale
            first (column 0: e.g. NPC corners, column 1: whole NPCs); -1 means
            "not in a cluster at this scale". Every scale needs at least one
            cluster.
        groups : array-like of shape (n_localizations,), optional
            FOV id of every localisation; absent means one FOV.

        Returns
        -------
        self : MultiscaleMIROTransformer
        """
        options = self._augmentation_options()
        X, groups, fov_indices = self._validate_fit_input(X, groups)
        labels = check_cluster_labels(y, X.shape[0], name="y", per_scale=True)
        n_scales = labels.shape[1]
        cutoffs = resolve_cutoffs(self.k_star, self.n_steps, n_scales)
        names = _resolve_scale_names(self.scale_names, n_scales)
        config = self._training_config(options, step_scales=step_supervision(cutoffs, self.n_steps))
        # The move-nothing check measures the scale that supervises the last step.
        self._fit_model(X, labels, groups, fov_indices, config, scale_name=names[int(config.step_scales[-1])])
        attributes = scale_attributes(cutoffs, names, self.n_steps)
        # One forward pass of every step over the labelled FOVs, FOV by FOV,
        # measures how far each scale's clusters are collapsed at each step.
        every_step = list(range(self.n_steps))
        steps, self.step_compression_ = readout_steps(
            X, lambda idx: self._collapse(X[idx], [np.arange(len(idx))], every_step).moved,
            labels, fov_indices, cutoffs, self.n_steps,
        )
        if self.readout_steps == "auto":
            attributes["scale_steps_"] = steps
        for name, value in attributes.items():
            setattr(self, name, value)
        return self

    def scale_index(self, scale):
        """Index of a scale given by name or (possibly negative) integer."""
        check_is_fitted(self, "model_")
        return _scale_index(scale, self.scale_names_)

    def transform(self, X, groups=None, scale=None):
        """Collapsed coordinates at every scale, or at one, from one forward pass.

        Parameters
        ----------
        X : array-like of shape (n_localizations, 2) or DataFrame
            Coordinates in the units used for training.
        groups : array-like of shape (n_localizations,), optional
            FOV id of every localisation: each FOV is processed as its own graph.
        scale : str, int or None, default=None
            A scale name (``scale_names_``) or index: return only that scale.

        Returns
        -------
        X_collapsed : ndarray of shape (n_localizations, 2 * n_scales_) or (n_localizations, 2)
            With ``scale=None``, the (x, y) collapsed at each scale side by
            side, finest first (``[x_0, y_0, x_1, y_1, ...]``; see
            :meth:`get_feature_names_out`); otherwise the (x, y) of that scale.
        """
        X, _, fov_indices = self._prepare_predict_input(X, groups)
        if scale is not None:
            s = _scale_index(scale, self.scale_names_)
            moved = self._collapse(X, fov_indices, [int(self.scale_steps_[s])]).moved[0]
            if _get_output_config("transform", self)["dense"] != "default":
                # set_output's wrapper names the columns with get_feature_names_out
                # right after this returns, in this thread: it names this scale's
                # two columns. Set last, so that an error leaves nothing behind.
                _NAMED_SCALE.set((id(self), s))
            return moved
        moved = self._collapse(X, fov_indices, [int(k) for k in self.scale_steps_]).moved
        return np.concatenate(list(moved), axis=1)

    def transform_scales(self, X, groups=None):
        """Collapsed coordinates of every scale as a dict ``{scale name: (n, 2) array}``."""
        X, _, fov_indices = self._prepare_predict_input(X, groups)
        moved = self._collapse(X, fov_indices, [int(k) for k in self.scale_steps_]).moved
        return dict(zip(self.scale_names_, moved))

    def fit_transform(self, X, y=None, groups=None):
        """Fit, then transform the training data (every scale; each FOV on its own)."""
        return self.fit(X, y, groups=groups).transform(X, groups=groups)

    def get_feature_names_out(self, input_features=None):
        """Names of the columns of ``transform(X)``: ``"<scale>_x", "<scale>_y"`` per scale.

        Under ``set_output(transform="pandas")`` (or polars), ``transform(X,
        scale=s)`` returns the two columns of scale ``s`` named this way.
        """
        check_is_fitted(self, "model_")
        owner, selected = _NAMED_SCALE.get()
        if owner == id(self):
            _NAMED_SCALE.set((None, None))
        else:
            selected = None
        names = self.scale_names_ if selected is None else (self.scale_names_[selected],)
        return np.array([f"{name}_{axis}" for name in names for axis in ("x", "y")], dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


# --------------------------------------------------------------------------
# Clusterer
# --------------------------------------------------------------------------


class MultiscaleMIROClusterer(ClusterMixin, NestedTransformerParamsMixin, BaseEstimator):
    """Multiscale MIRO followed by one DBSCAN per scale, per field of view.

    ``fit`` trains the :class:`MultiscaleMIROTransformer` given as
    ``transformer`` (unless it is already fitted), chooses the DBSCAN
    parameters of each scale on the collapsed training FOVs when asked to
    (``"auto"``), and clusters the training FOVs at every scale; ``predict``
    does the same on new FOVs. Every FOV is processed on its own. The nesting
    of the scales (which corner lies in which ring) is given by
    :meth:`nesting_report`. Configured like :class:`MIROClusterer`: the
    network's hyper-parameters belong to the transformer.

    Parameters
    ----------
    transformer : MultiscaleMIROTransformer or None, default=None
        The multiscale transformer; ``None`` uses
        ``MultiscaleMIROTransformer(scale_names=scale_names)``. A fitted one
        (e.g. wrapped in :class:`sklearn.frozen.FrozenEstimator`, or loaded
        with :func:`sklearn_miro.load_reference_checkpoint`) is used as is; an
        unfitted one is cloned and trained. Set its hyper-parameters with
        ``transformer=MultiscaleMIROTransformer(...)``, then
        ``set_params(transformer__n_steps=...)`` works too (not while
        ``transformer`` is None).
    eps : "auto" or sequence, default="auto"
        DBSCAN radius of each scale, finest first, in the units of X, applied
        to the coordinates collapsed at that scale; an entry (or the whole
        parameter) ``"auto"`` chooses it on the labelled training FOVs (see
        Notes). E.g. ``(35.2, 56.96)`` (paper Table S2, simulated multiscale).
    min_samples : "auto" or sequence, default="auto"
        DBSCAN ``min_samples`` of each scale, finest first; ``"auto"`` as for ``eps``.
    border_points : {"auto", "cluster", "background"}, default="auto"
        Where DBSCAN's border points go at every scale: ``"cluster"`` is
        DBSCAN, ``"background"`` DBSCAN*
        (:class:`~sklearn_miro.grid_dbscan.DBSCANStar`). ``"auto"`` searches
        both on the labelled training FOVs, scale by scale, and keeps the
        better score (a tie, or no labels, gives DBSCAN), as
        :class:`MIROClusterer` does.
    scale_names : sequence of str or None, default=None
        Names of the scales in :meth:`predict`, :meth:`labels_of` and
        :meth:`nesting_report`; ``None`` takes those of the transformer.
    k_star, hidden_size, n_steps, connectivity_radius, length_scale, \
eigenvector_normalization, fov_normalization, alpha, learning_rate, \
lr_schedule, max_epochs, n_augmented, batch_size, augmentation, \
validation_fraction, n_iter_no_change, device, random_state, verbose
        Deprecated (FutureWarning): the transformer's hyper-parameters, used
        to build it when ``transformer`` is None. Pass
        ``transformer=MultiscaleMIROTransformer(...)`` instead.

    Attributes
    ----------
    transformer_ : MultiscaleMIROTransformer or FrozenEstimator
        The fitted transformer used.
    n_scales_ : int
    scale_names_ : tuple of str
    eps_, min_samples_ : list
        DBSCAN parameters used at each scale, finest first.
    border_points_ : list of {"cluster", "background"}
        The border-point rule of each scale (DBSCAN or DBSCAN*).
    border_point_scores_ : list
        Per scale, the best training score of each rule (a dict) when
        ``border_points="auto"`` compared them, else None.
    tuning_scores_ : list
        Per scale, the training score of every candidate (an array of shape
        (len(eps_grid_[s]), len(min_samples_grid_[s]))) when that scale was
        tuned, else None; ``eps_grid_`` and ``min_samples_grid_`` hold the
        candidates.
    labels_ : ndarray of shape (n_localizations, n_scales_)
        Cluster labels of the training data at every scale, finest first; -1
        for background; unique across FOVs within each scale.
    cluster_table_ : pandas.DataFrame
        One row per training cluster and scale, with the parent cluster at the
        next coarser scale (:func:`sklearn_miro.analysis.multiscale_cluster_table`);
        :meth:`predict_table` gives it for new FOVs.
    n_features_in_ : int
        Always 2.

    Notes
    -----
    ``"auto"`` DBSCAN parameters are chosen per scale exactly as
    :class:`MIROClusterer` chooses them: 18 values of ``eps`` from 1 % to
    100 % of the connectivity radius (geometric) and ``min_samples`` from 2
    up to the median training cluster size of that scale, maximising the mean
    of ARI-dagger and JI_c over the training FOVs (with that scale's labels);
    with ``border_points="auto"`` the search runs for DBSCAN and for DBSCAN*
    at every scale, and the better score wins. The transformer's ``n_jobs``
    scores the candidates in parallel, and its ``verbose`` shows a progress
    bar.

    Examples
    --------
    >>> from sklearn_miro import MultiscaleMIROClusterer
    >>> from sklearn_miro.datasets import make_npc
    >>> X, Y, fov = make_npc(n_fovs=4, random_state=0)
    >>> from sklearn_miro.estimators import MultiscaleMIROTransformer
    >>> ms = MultiscaleMIROClusterer(
    ...     MultiscaleMIROTransformer(scale_names=("corners", "rings"), random_state=0),
    ...     eps=(20.0, 30.0), min_samples=(5, 20))
    >>> ms.fit(X, Y, groups=fov)  # doctest: +SKIP
    >>> labels = ms.predict(X_new)  # doctest: +SKIP
    >>> rings = ms.predict(X_new, scale="rings")  # doctest: +SKIP
    >>> ms.nesting_report()  # doctest: +SKIP
    """

    __metadata_request__fit = {"groups": True}
    __metadata_request__predict = {"groups": True}

    # eps, min_samples and scale_names are checked per scale in fit; the
    # deprecated arguments by the transformer they build.
    _default_transformer = "MultiscaleMIROTransformer"

    _parameter_constraints: dict = {
        "transformer": [HasMethods(["fit", "transform"]), None],
        "eps": "no_validation",
        "min_samples": "no_validation",
        "border_points": [StrOptions({"auto", "cluster", "background"})],
        "scale_names": "no_validation",
        **{name: "no_validation" for name in DEPRECATED_CLUSTERER_ARGUMENTS},
    }

    def __init__(
        self,
        transformer=None,
        *,
        eps="auto",
        min_samples="auto",
        border_points="auto",
        scale_names=None,
        k_star="deprecated",
        hidden_size="deprecated",
        n_steps="deprecated",
        connectivity_radius="deprecated",
        length_scale="deprecated",
        eigenvector_normalization="deprecated",
        fov_normalization="deprecated",
        alpha="deprecated",
        learning_rate="deprecated",
        lr_schedule="deprecated",
        max_epochs="deprecated",
        n_augmented="deprecated",
        batch_size="deprecated",
        augmentation="deprecated",
        validation_fraction="deprecated",
        n_iter_no_change="deprecated",
        device="deprecated",
        random_state="deprecated",
        verbose="deprecated",
    ):
        self.transformer = transformer
        self.eps = eps
        self.min_samples = min_samples
        self.border_points = border_points
        self.scale_names = scale_names
        self.k_star = k_star
        self.hidden_size = hidden_size
        self.n_steps = n_steps
        self.connectivity_radius = connectivity_radius
        self.length_scale = length_scale
        self.eigenvector_normalization = eigenvector_normalization
        self.fov_normalization = fov_normalization
        self.alpha = alpha
        self.learning_rate = learning_rate
        self.lr_schedule = lr_schedule
        self.max_epochs = max_epochs
        self.n_augmented = n_augmented
        self.batch_size = batch_size
        self.augmentation = augmentation
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def _transformer_template(self):
        """The transformer to use: ``transformer``, or one built from the deprecated arguments."""
        legacy = {
            k: getattr(self, k)
            for k in DEPRECATED_CLUSTERER_ARGUMENTS
            if not (isinstance(getattr(self, k), str) and getattr(self, k) == "deprecated")
        }
        if legacy:
            ignored = " They are ignored because transformer is given." if self.transformer is not None else ""
            warnings.warn(
                f"Passing the transformer's hyper-parameters ({', '.join(sorted(legacy))}) to "
                "MultiscaleMIROClusterer is deprecated and will stop working in a future "
                "version: pass transformer=MultiscaleMIROTransformer(...) instead, as for "
                "MIROClusterer." + ignored,
                FutureWarning,
                stacklevel=caller_stacklevel(),
            )
        if self.transformer is not None:
            return self.transformer
        return MultiscaleMIROTransformer(scale_names=self.scale_names, **legacy)

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None, groups=None):
        """Train the transformer (if needed) and cluster the training FOVs at every scale.

        Parameters
        ----------
        X : array-like of shape (n_localizations, 2) or DataFrame
        y : array-like of shape (n_localizations, n_scales), optional
            Cluster labels at every scale, finest first (-1 = background at
            that scale). Needed to train the transformer and for ``"auto"``
            DBSCAN parameters.
        groups : array-like of shape (n_localizations,), optional
            FOV id of every localisation.

        Returns
        -------
        self : MultiscaleMIROClusterer
        """
        _per_scale(self.eps, "eps")
        _per_scale(self.min_samples, "min_samples", integer=True)
        X = check_coordinates(X, estimator=self, reset=True, min_points=2, groups=groups)
        groups = check_groups(groups, X.shape[0])
        labels = None if y is None else check_cluster_labels(y, X.shape[0], name="y", per_scale=True)
        self.transformer_ = self._fitted_transformer(X, labels, groups)
        inner = inner_transformer(self.transformer_)
        n_scales = int(inner.n_scales_)
        if labels is not None and labels.shape[1] != n_scales:
            raise ValueError(
                f"y has {labels.shape[1]} scales but the transformer was trained on {n_scales}."
            )
        self.n_scales_ = n_scales
        self.scale_names_ = (
            _resolve_scale_names(self.scale_names, n_scales)
            if self.scale_names is not None
            else tuple(inner.scale_names_)
        )
        fov_indices = [idx for _, idx in split_by_group(groups, X.shape[0])]
        collapsed = self._collapse_fovs(X, fov_indices, groups is not None)
        self._choose_dbscan(X, labels, fov_indices, collapsed)
        self.labels_ = self._cluster(fov_indices, collapsed, X.shape[0])
        self.cluster_table_ = multiscale_cluster_table(
            X, self.labels_, groups, scale_names=self.scale_names_, check_units=False
        )
        return self

    def _fitted_transformer(self, X, labels, groups):
        template = self._transformer_template()
        check_transformer_kind(template, MultiscaleMIROTransformer, "a MultiscaleMIROTransformer",
                               "MIROTransformer", "MIROClusterer")
        if is_fitted(template):
            return template
        if labels is None:
            raise ValueError(
                "MultiscaleMIROClusterer requires y to be passed, but the target y is None: "
                "it needs the cluster labels at every scale, an array of shape "
                "(n_localizations, n_scales), to train its transformer, or an already "
                "fitted transformer (transformer=FrozenEstimator(fitted))."
            )
        return clone(template).fit(X, labels, groups=groups)

    def _choose_dbscan(self, X, labels, fov_indices, collapsed):
        """DBSCAN parameters and border-point rule of every scale (chosen on the training FOVs when "auto")."""
        eps = _per_scale(self.eps, "eps", self.n_scales_)
        min_samples = _per_scale(self.min_samples, "min_samples", self.n_scales_, integer=True)
        self.eps_, self.min_samples_, self.border_points_, self.border_point_scores_ = [], [], [], []
        self.tuning_scores_, self.eps_grid_, self.min_samples_grid_ = [], [], []
        # The transformer's n_jobs and verbose also serve the search.
        inner = inner_transformer(self.transformer_)
        radius = radius_in_units_of_x(inner.model_, X, fov_indices)
        compare = self.border_points == "auto" and labels is not None
        options = AUTO_BORDER_POINTS if compare else (
            "cluster" if self.border_points == "auto" else self.border_points,)
        X_fovs = [X[idx] for idx in fov_indices]  # the same labelled FOVs for every scale
        fov_weights = fov_area_weights(X_fovs)
        for s in range(self.n_scales_):
            if is_auto(eps[s]) or is_auto(min_samples[s]) or compare:
                if labels is None:
                    raise ValueError(
                        "eps='auto' and min_samples='auto' choose the DBSCAN parameters on "
                        "labelled FOVs: pass y, or give eps and min_samples of every scale."
                    )
                memo = {}  # a labelling met by both rules is scored once
                rule, (e, m, scores, e_grid, m_grid), rule_scores = search_border_rules(
                    lambda core_only_options, bar: choose_dbscan_parameters_rules(
                        X_fovs,
                        [c[s] for c in collapsed],
                        [labels[idx, s] for idx in fov_indices],
                        radius,
                        eps[s],
                        min_samples[s],
                        n_jobs=getattr(inner, "n_jobs", None),
                        progress=bar,
                        core_only_options=core_only_options,
                        memo=memo,
                        fov_weights=fov_weights,
                    ),
                    options,
                    f"MIRO: choosing the parameters of {{dbscan}} ({self.scale_names_[s]})",
                    getattr(inner, "verbose", 0),
                )
                self.border_point_scores_.append(rule_scores if compare else None)
            else:
                rule = options[0]
                e, m, scores, e_grid, m_grid = float(eps[s]), int(min_samples[s]), None, None, None
                self.border_point_scores_.append(None)
            self.eps_.append(e)
            self.min_samples_.append(m)
            self.border_points_.append(rule)
            self.tuning_scores_.append(scores)
            self.eps_grid_.append(e_grid)
            self.min_samples_grid_.append(m_grid)

    def _collapse_fovs(self, X, fov_indices, groups_given):
        """(n_scales, n_fov, 2) collapsed coordinates of every FOV of validated X."""
        miro = inner_transformer(self.transformer_)
        moved = miro.collapse_fovs(X, fov_indices, [int(k) for k in miro.scale_steps_],
                                   groups_given=groups_given).moved
        return [moved[:, idx] for idx in fov_indices]

    def _cluster(self, fov_indices, collapsed, n):
        return np.stack(
            [
                cluster_per_fov(
                    fov_indices, [c[s] for c in collapsed],
                    dbscan_template(self.eps_[s], self.min_samples_[s],
                                    core_only=self.border_points_[s] == "background"), n,
                )
                for s in range(self.n_scales_)
            ],
            axis=1,
        )

    def __setstate__(self, state):
        # Clusterers pickled before border_points existed cluster with DBSCAN, as they did.
        state = dict(state)
        state.setdefault("border_points", "cluster")
        if "eps_" in state:
            state.setdefault("border_points_", ["cluster"] * len(state["eps_"]))
            state.setdefault("border_point_scores_", [None] * len(state["eps_"]))
        super().__setstate__(state)

    def scale_index(self, scale):
        """Index of a scale given by name (``scale_names_``) or integer."""
        check_is_fitted(self, "labels_")
        return _scale_index(scale, self.scale_names_)

    def predict(self, X, groups=None, scale=None):
        """Cluster new FOVs at every scale (or at one).

        Parameters
        ----------
        X : array-like of shape (n_localizations, 2) or DataFrame
        groups : array-like of shape (n_localizations,), optional
            FOV id of every localisation; each FOV is collapsed and clustered
            on its own.
        scale : str, int or None, default=None
            Return only this scale (a name of ``scale_names_`` or an index).

        Returns
        -------
        labels : ndarray of shape (n_localizations, n_scales_) or (n_localizations,)
            -1 for background; cluster ids are unique across FOVs.
        """
        check_is_fitted(self, "labels_")
        X = check_coordinates(X, estimator=self, reset=False, min_points=1, groups=groups)
        groups = check_groups(groups, X.shape[0])
        selected = None if scale is None else _scale_index(scale, self.scale_names_)
        fov_indices = [idx for _, idx in split_by_group(groups, X.shape[0])]
        # Each FOV on its own (the transformer warns when one looks like stacked FOVs).
        collapsed = self._collapse_fovs(X, fov_indices, groups is not None)
        labels = self._cluster(fov_indices, collapsed, X.shape[0])
        return labels if selected is None else labels[:, selected]

    def fit_predict(self, X, y=None, groups=None):
        """Fit and return the labels of the training data at every scale (``labels_``)."""
        return self.fit(X, y, groups=groups).labels_

    def predict_table(self, X, groups=None):
        """Cluster new FOVs at every scale and return one row per cluster and scale.

        :meth:`predict` followed by
        :func:`sklearn_miro.analysis.multiscale_cluster_table`: a ``scale``
        column (``scale_names_``), and for every scale but the coarsest the
        cluster of the next coarser scale holding each cluster
        (``parent_label``) and how many clusters that one holds
        (``n_in_parent``, e.g. corners per pore). ``cluster_table_`` is the
        same table for the training FOVs.

        Parameters
        ----------
        X : array-like of shape (n_localizations, 2) or DataFrame
        groups : array-like of shape (n_localizations,), optional

        Returns
        -------
        table : pandas.DataFrame
        """
        labels = self.predict(X, groups=groups)
        return multiscale_cluster_table(X, labels, groups, scale_names=self.scale_names_, check_units=False)

    def labels_of(self, scale):
        """Training labels (``labels_``) of one scale, by name or index."""
        check_is_fitted(self, "labels_")
        return self.labels_[:, self.scale_index(scale)]

    def nesting_report(self, labels=None, *, fine=0, coarse=-1):
        """Which coarse cluster every fine cluster lies in (majority vote).

        Parameters
        ----------
        labels : ndarray of shape (n_localizations, n_scales_), default=None
            Labels from :meth:`predict`; ``None`` uses the training labels ``labels_``.
        fine, coarse : str or int, default=0 and -1
            The two scales compared (names or indices); by default the finest
            and the coarsest.

        Returns
        -------
        report : pandas.DataFrame
            See :func:`nesting_report`: one row per fine cluster with its
            majority coarse cluster and counts.
        """
        check_is_fitted(self, "labels_")
        labels = self.labels_ if labels is None else np.asarray(labels)
        if labels.ndim != 2 or labels.shape[1] != self.n_scales_:
            raise ValueError(
                f"labels must have shape (n_localizations, {self.n_scales_}) as returned by "
                f"predict; got {labels.shape}."
            )
        i, j = self.scale_index(fine), self.scale_index(coarse)
        if i == j:
            warnings.warn("fine and coarse are the same scale: every cluster nests in itself.",
                          UserWarning, stacklevel=caller_stacklevel())
        return nesting_report(labels[:, i], labels[:, j])

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        tags.target_tags.multi_output = True
        return tags
