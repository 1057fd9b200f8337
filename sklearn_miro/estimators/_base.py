"""Shared shell of the MIRO estimators: parameters, validation, and delegation to the fitted model."""

from __future__ import annotations

import numbers
import warnings
from dataclasses import replace
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator
from torch.torch_version import TorchVersion
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from .._validation import (
    caller_stacklevel,
    check_coordinates,
    check_groups,
    check_random_state,
    check_training_fovs,
    split_by_group,
)
from ..domain import (STACKING_DENSITY_RATIO, UnitMismatchWarning, domain_checks_enabled, localization_spacing,
                      normalised_spacing_message, unit_mismatch_message)
from ..augmentation import CROP_LOCALIZATIONS, AugmentationOptions
from ..clustering import fov_median, inner_transformer
from ..diagnostics import check_move_nothing
from ..model import (
    DEFAULT_N_STEPS,
    DeferredProgressBar,
    PRECISIONS,
    FittedMIRO,
    TrainingConfig,
    to_model_space,
    native_bfloat16,
    compiler_available,
    length_in_output_units,
    network_from_state,
    train_model,
)

__all__ = [
    "AUTO_BORDER_POINTS",
    "NestedTransformerParamsMixin",
    "FINE_TUNING_SCHEDULE",
    "FROM_SCRATCH_SCHEDULE",
    "MULTISCALE_N_STEPS",
    "NETWORK_DEFAULTS",
    "search_border_rules",
    "BaseMIRO",
    "fitted_property",
    "resolve_device",
    "upgrade_pre_model_state",
]

#: Where ``border_points="auto"`` may put DBSCAN's border points: in their
#: cluster (DBSCAN) or in the background (DBSCAN*); DBSCAN wins a tie.
AUTO_BORDER_POINTS = ("cluster", "background")


def search_border_rules(search, rules, desc, verbose):
    """DBSCAN's parameters searched for every border-point rule; the best score wins.

    The estimators' ``border_points="auto"`` choice. ``search(core_only_options,
    progress)`` runs
    :func:`~sklearn_miro.clustering.choose_dbscan_parameters_rules` with one
    ``core_only`` flag per rule (``True`` for DBSCAN*) and returns its list of
    results: both rules are scored on the same DBSCAN runs. ``desc`` is the
    progress bar's text, ``{dbscan}`` standing for "DBSCAN", "DBSCAN*" or
    both. A tie goes to the earlier rule of ``rules`` (DBSCAN first).

    Returns
    -------
    rule : str
        The winning rule.
    result : tuple
        Its search's ``(eps, min_samples, scores, eps_grid, min_samples_grid)``.
    best_scores : dict
        The best score of every rule.
    """
    rules = tuple(rules)
    names = " and ".join("DBSCAN*" if rule == "background" else "DBSCAN" for rule in rules)
    with DeferredProgressBar(desc.format(dbscan=names), verbose) as bar:
        results = search(tuple(rule == "background" for rule in rules), bar)
    found = dict(zip(rules, results))
    best_scores = {rule: float(np.max(result[2])) for rule, result in found.items()}
    winner = max(best_scores, key=best_scores.get)  # max() keeps the first of equal scores
    return winner, found[winner], best_scores


# The network and training hyper-parameters shared by every MIRO estimator,
# with their defaults (one place: every estimator signature reads them here).
NETWORK_DEFAULTS = {
    "hidden_size": 64,
    # MIROTransformer's own default is "auto" (this depth, or a deeper one for
    # hollow clusters when fine-tuning: model.resolve_depth).
    "n_steps": DEFAULT_N_STEPS,
    "connectivity_radius": "auto",
    "length_scale": "auto",
    "eigenvector_normalization": "rms",
    "fov_normalization": None,
    "alpha": 10.0,
    "learning_rate": "auto",
    "lr_schedule": "cosine",
    "max_epochs": "auto",
    "n_augmented": "auto",
    "batch_size": "auto",
    "augmentation": None,
    "validation_fraction": 0.1,
    "n_iter_no_change": None,
    "device": "auto",
    "random_state": None,
    "verbose": 1,
    "tile_size": "auto",
    "crop_features": True,
    "n_jobs": None,
    "precision": "auto",
    "compile": "auto",
}
# What the four schedule parameters mean when left at "auto": training from
# random weights needs many synthetic FOVs and epochs to leave the "move
# nothing" solution; starting from trained weights (a pretrained model or
# warm_start) needs a short, gentle pass that adapts them without undoing them
# (measured per scenario in benchmarks/README.md, "Fine-tuning schedule").
FROM_SCRATCH_SCHEDULE = {"learning_rate": 1e-3, "max_epochs": 12, "n_augmented": 2000, "batch_size": 8}
# 800 synthetic FOVs rather than 400 (seventh session, 22 scenarios x 3 seeds,
# benchmarks/README.md): 0.6-1.0 instead of 0.3-0.5 CPU-minutes per fit; ground
# truth 2, 5 and 6 reach the paper's row, blinking 2 and simulated 9 fall just
# short of it (a trade with a small net gain).
# compile="auto" compiles fits scheduled for at least this many optimisation
# steps (see BaseMIRO._training_compile; the from-scratch schedule has 3,000).
AUTO_COMPILE_MIN_STEPS = 2000
FINE_TUNING_SCHEDULE = {"learning_rate": 3e-4, "max_epochs": 3, "n_augmented": 800, "batch_size": 2}
# The automatic n_augmented (fine-tuning and from scratch) is for crops of up
# to this many localisations; larger crops get proportionally fewer
# (sklearn_miro.augmentation.budgeted_n_augmented). The crop rule aims at
# CROP_LOCALIZATIONS (200) and lands at 197-283 on the benchmark's sparse and
# medium-density scenarios and two of the shape mixtures, which this leaves as
# they were; crops grow far beyond it only where they must span 10 radii of the
# larger clusters of dense or blinking data (324-1,194 measured when the rule
# used the median radius; up to about 3,500 on simulated 9 with blinking with
# the 90th percentile; about 650 on the simulated NPC).
AUTO_CROP_LOCALIZATIONS = int(1.5 * CROP_LOCALIZATIONS)
# When the budget cuts a fine-tuning fit's crops, its epochs grow with the
# square of the cut, up to this factor times the schedule's
# (sklearn_miro.model.budgeted_max_epochs: 18 epochs), and every fine-tuning
# fit validates and keeps a moving average of its weights over this fraction
# of its steps (benchmarks/README.md, thirty-second, thirty-third and
# thirty-fifth sessions): blinking 6's network collapses its training clusters
# to 0.43 of their size instead of 0.51 with 9 epochs instead of 3, and to
# 0.42 with 18.
BUDGET_EPOCH_FACTOR = 6
FINE_TUNING_AVERAGE_WINDOW = 0.1
# The authors' multiscale and multishape models use K = 20 recurrent steps.
MULTISCALE_N_STEPS = 20


def resolve_device(device):
    """Turn ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:1"`` or a torch.device into a torch.device.

    ``"auto"`` picks CUDA when available, else the CPU. Asking for CUDA on a
    machine without it raises a ValueError that says so.
    """
    if isinstance(device, torch.device):
        requested = device
    elif isinstance(device, str):
        if device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        try:
            requested = torch.device(device)
        except RuntimeError as exc:
            raise ValueError(
                f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N'; got {device!r}."
            ) from exc
    else:
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N'; got {device!r}.")
    if requested.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} but CUDA is not available to this torch build "
            f"({torch.__version__}). Use device='auto' or 'cpu', or install a CUDA build of "
            "torch (see the README)."
        )
    if requested.type not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N'; got {device!r}.")
    return requested


class BaseMIRO(BaseEstimator):
    """Training and inference machinery shared by the MIRO estimators.

    The trained network and everything inference needs live in one fitted
    attribute, ``model_`` (a :class:`sklearn_miro.model.FittedMIRO`); the
    other fitted attributes (``network_``, ``connectivity_radius_``, ...) are
    read-only views of it. Subclasses turn their targets into label columns
    and a training configuration (:meth:`_training_config`).
    """

    # groups is metadata of fit/transform: request it by default so that it
    # is routed when scikit-learn's metadata routing is enabled.
    __metadata_request__fit = {"groups": True}

    def __init__(
        self,
        *,
        hidden_size=NETWORK_DEFAULTS["hidden_size"],
        n_steps=NETWORK_DEFAULTS["n_steps"],
        connectivity_radius=NETWORK_DEFAULTS["connectivity_radius"],
        length_scale=NETWORK_DEFAULTS["length_scale"],
        eigenvector_normalization=NETWORK_DEFAULTS["eigenvector_normalization"],
        fov_normalization=NETWORK_DEFAULTS["fov_normalization"],
        alpha=NETWORK_DEFAULTS["alpha"],
        learning_rate=NETWORK_DEFAULTS["learning_rate"],
        lr_schedule=NETWORK_DEFAULTS["lr_schedule"],
        max_epochs=NETWORK_DEFAULTS["max_epochs"],
        n_augmented=NETWORK_DEFAULTS["n_augmented"],
        batch_size=NETWORK_DEFAULTS["batch_size"],
        augmentation=NETWORK_DEFAULTS["augmentation"],
        validation_fraction=NETWORK_DEFAULTS["validation_fraction"],
        n_iter_no_change=NETWORK_DEFAULTS["n_iter_no_change"],
        device=NETWORK_DEFAULTS["device"],
        random_state=NETWORK_DEFAULTS["random_state"],
        verbose=NETWORK_DEFAULTS["verbose"],
        tile_size=NETWORK_DEFAULTS["tile_size"],
        crop_features=NETWORK_DEFAULTS["crop_features"],
        n_jobs=NETWORK_DEFAULTS["n_jobs"],
        precision=NETWORK_DEFAULTS["precision"],
        compile=NETWORK_DEFAULTS["compile"],
    ):
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
        self.tile_size = tile_size
        self.crop_features = crop_features
        self.n_jobs = n_jobs
        self.precision = precision
        self.compile = compile

    # ---- validation ---------------------------------------------------------
    # Checked by scikit-learn (``_validate_params``, run by ``@_fit_context``
    # on fit) with uniform messages; the open intervals reject infinity.
    _parameter_constraints: dict = {
        "hidden_size": [Interval(Integral, 1, None, closed="left")],
        "n_steps": [Interval(Integral, 1, None, closed="left")],
        "connectivity_radius": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "length_scale": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto", "radius"})],
        "eigenvector_normalization": [StrOptions({"rms", "unit"})],
        "fov_normalization": [StrOptions({"minmax", "reference"}), None],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "lr_schedule": [StrOptions({"constant", "cosine"})],
        "max_epochs": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "n_augmented": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "batch_size": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "augmentation": [dict, AugmentationOptions, None],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left"), None],
        "device": [str, torch.device],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "tile_size": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"}), None],
        "crop_features": ["boolean"],
        "n_jobs": [Integral, None],
        "precision": [StrOptions({"auto", *PRECISIONS})],
        "compile": ["boolean", StrOptions({"auto"})],
    }

    def _augmentation_options(self):
        """The checked :class:`AugmentationOptions` of ``augmentation``."""
        return AugmentationOptions.from_dict(self.augmentation)

    # ---- fitting ------------------------------------------------------------
    def training_schedule(self, fine_tuning=False):
        """Learning rate, epochs, synthetic FOVs and batch size that ``fit`` uses.

        Parameters left at ``"auto"`` take the values of
        :data:`FINE_TUNING_SCHEDULE` when training starts from trained weights
        (``fine_tuning=True``), else those of :data:`FROM_SCRATCH_SCHEDULE`.

        Returns
        -------
        dict
            ``learning_rate``, ``max_epochs``, ``n_augmented``, ``batch_size``.
        """
        defaults = FINE_TUNING_SCHEDULE if fine_tuning else FROM_SCRATCH_SCHEDULE
        return {
            name: default if getattr(self, name) == "auto" else getattr(self, name)
            for name, default in defaults.items()
        }

    def _training_config(self, options, n_outputs=2, step_scales=None, beta=0.0, fine_tuning=False,
                         n_steps=None, hidden_size=None, training_note=""):
        """The :class:`~sklearn_miro.model.TrainingConfig` of these parameters.

        ``n_steps`` replaces the parameter (``"auto"``: resolved by the training
        core on the labelled clusters, with one scale), and so does
        ``hidden_size`` (resolved by the caller).
        """
        schedule = self.training_schedule(fine_tuning)
        if self.n_iter_no_change is not None and self.validation_fraction == 0:
            # Early stopping watches the held-out synthetic crops: there are none.
            warnings.warn(
                f"n_iter_no_change={self.n_iter_no_change} is ignored with validation_fraction=0 "
                "(early stopping watches the loss on held-out synthetic crops); set "
                "validation_fraction > 0 to stop early.",
                UserWarning,
                stacklevel=caller_stacklevel(),
            )
        n_steps = self.n_steps if n_steps is None else n_steps
        hidden_size = self.hidden_size if hidden_size is None else hidden_size
        if hidden_size == "auto":  # MIROTransformer's, when no rule chose another width
            hidden_size = NETWORK_DEFAULTS["hidden_size"]
        device = resolve_device(self.device)
        seed = int(check_random_state(self.random_state, legacy=True).randint(0, 2**31 - 1))
        return TrainingConfig(
            hidden_size=int(hidden_size),
            n_steps=n_steps,
            connectivity_radius=self.connectivity_radius,
            length_scale=self.length_scale,
            eigenvector_normalization=self.eigenvector_normalization,
            fov_normalization=self.fov_normalization,
            alpha=self.alpha,
            beta=beta,
            lr_schedule=self.lr_schedule,
            augmentation=options,
            **schedule,
            validation_fraction=self.validation_fraction,
            n_iter_no_change=self.n_iter_no_change,
            device=device,
            seed=seed,
            verbose=self.verbose,
            n_outputs=n_outputs,
            step_scales=(tuple(step_scales) if step_scales is not None
                         else () if n_steps == "auto" else tuple(np.zeros(n_steps, dtype=np.int64))),
            # With the automatic schedule, the same number of training
            # localisations whatever the crops hold.
            localization_budget=AUTO_CROP_LOCALIZATIONS if self.n_augmented == "auto" else None,
            # Fine-tuning keeps about its number of optimisation steps when the
            # budget cuts the crops; only the automatic schedule, so that a
            # user's max_epochs or n_augmented is what runs.
            budget_max_epochs=(BUDGET_EPOCH_FACTOR * schedule["max_epochs"]
                               if fine_tuning and self.n_augmented == "auto" and self.max_epochs == "auto"
                               else None),
            average_window=FINE_TUNING_AVERAGE_WINDOW if fine_tuning else None,
            crop_features=self.crop_features,
            precision=self._training_precision(device, fine_tuning),
            compile=self._training_compile(device, fine_tuning, schedule),
            training_note=training_note,
        )

    def _training_precision(self, device, fine_tuning):
        """``precision`` resolved: ``"auto"`` is bfloat16 for from-scratch fits where it is native.

        Why only from scratch: those fits take 10-17 CPU-minutes (shape
        mixtures, the NPC) and bfloat16 products cut their CPU time to 0.70-0.93
        at the same scores (``doc/method.md``); a fine-tuning fit takes about
        a minute and keeps float32, so that its results stay those recorded.
        Why only where native: emulated bfloat16 is expected to be slower than
        float32 (not measured: the project's machines have it natively).
        GPUs keep float32 (not measured).
        """
        if self.precision != "auto":
            return self.precision
        if not fine_tuning and device.type == "cpu" and native_bfloat16(device):
            return "bfloat16"
        return "float32"

    def _training_compile(self, device, fine_tuning, schedule):
        """``compile`` resolved: ``"auto"`` compiles long from-scratch fits on a CPU with a C++ compiler.

        Why only long fits from scratch: compiling costs 40-60 CPU-seconds the
        first time on a machine (tracing plus the C++ compiler) and saved 0.08
        s of each bfloat16 step of a shape mixture's training (0.04 s in
        float32), which repays it after 500-800 steps (1,100-1,600 in
        float32): a from-scratch fit is scheduled 3,000 (the shape mixtures,
        the NPC), a fine-tuning fit takes about a minute in all. GPUs are left
        uncompiled (not measured), and torch before 2.6 (not measured: earlier
        versions compile every new network again).
        """
        if self.compile != "auto":
            return bool(self.compile)
        n_batches = -(-int(schedule["n_augmented"]) // int(schedule["batch_size"])) * int(schedule["max_epochs"])
        return (not fine_tuning and n_batches >= AUTO_COMPILE_MIN_STEPS and device.type == "cpu"
                and TorchVersion(torch.__version__) >= (2, 6) and compiler_available())

    def _validate_fit_input(self, X, groups):
        """Validated coordinates, groups and the row indices of every FOV."""
        # Checked before training, not when the fitted model is first applied.
        self._check_tile_size(self.fov_normalization)
        X = check_coordinates(X, estimator=self, reset=True, min_points=2, groups=groups)
        groups = check_groups(groups, X.shape[0])
        fovs = split_by_group(groups, X.shape[0])  # once per fit, passed down
        check_training_fovs(X, groups, fovs)
        return X, groups, [idx for _, idx in fovs]

    def _fit_model(self, X, labels, groups, fov_indices, config, classes=None, initial_state=None,
                   started_from=None, scale_name=None):
        model = train_model(X, labels, groups, fov_indices, config, classes, initial_state)
        self.model_ = replace(model, started_from=started_from)
        check_move_nothing(self.model_.training_compression, self.model_.training_relative_loss,
                           started_from=started_from,
                           retried=not np.isnan(self.model_.retry_relative_loss),  # kept or not
                           can_start_pretrained="init" in self.get_params(deep=False),
                           scale_name=scale_name, one_fov=groups is None)
        return self

    # ---- inference ---------------------------------------------------------
    def _check_tile_size(self, fov_normalization):
        """A numeric tile_size (in the units of X) cannot tile a normalised model's space."""
        if self.tile_size is not None and not isinstance(self.tile_size, str) and fov_normalization is not None:
            raise ValueError(
                "A numeric tile_size needs fov_normalization=None (tiles are squares in the "
                "units of X); use tile_size='auto' or None with a normalised model."
            )

    def _collapse(self, X, fov_indices, steps):
        """:meth:`FittedMIRO.collapse` of validated X, on this estimator's device."""
        tile_size = self.tile_size
        if tile_size is not None and not isinstance(tile_size, str):
            # tile_size is in the units of X; tiles live in the network's space.
            self._check_tile_size(self.model_.fov_normalization)
            tile_size = float(tile_size)
        return self.model_.collapse(X, fov_indices, steps, resolve_device(self.device),
                                    tile_size=tile_size, crop_features=self.crop_features,
                                    n_jobs=self.n_jobs, verbose=self.verbose)

    def collapse_fovs(self, X, fov_indices, steps=None, *, groups_given=False):
        """Collapse coordinates that the caller has validated already, FOV by FOV.

        The internal path of :class:`MIROClusterer` and
        :class:`MultiscaleMIROClusterer`: they validate X and groups once per
        call and use this instead of calling :meth:`transform` (which would
        validate again) on every FOV. Warns, like :meth:`transform` on each FOV,
        when a FOV's localisation spacing is far from the training data's or a
        FOV looks like several stacked FOVs.

        Parameters
        ----------
        X : ndarray of shape (n, 2)
            Output of :func:`sklearn_miro._validation.check_coordinates`.
        fov_indices : list of ndarray
            Row indices of every FOV.
        steps : list of int, optional
            Recurrent steps whose outputs are returned (default: the last).
        groups_given : bool, default=False
            Whether the FOVs come from the user's ``groups``: then none is
            suspected of being several stacked FOVs (the units are still
            checked).

        Returns
        -------
        sklearn_miro.model.Collapsed
            ``moved`` has shape ``(len(steps), n, 2)``.
        """
        check_is_fitted(self, "model_")
        for idx in fov_indices:
            fov = np.arange(len(idx))
            self._check_domain(X[idx], np.zeros(len(idx)) if groups_given else None, [fov])
        steps = [self.model_.n_steps - 1] if steps is None else steps
        return self._collapse(X, fov_indices, steps)

    def __setstate__(self, state):
        state = dict(state)
        if "_network_state" in state:
            state = upgrade_pre_model_state(state)
        # Models pickled before tiling and n_jobs existed get their defaults.
        state.setdefault("tile_size", NETWORK_DEFAULTS["tile_size"])
        state.setdefault("n_jobs", NETWORK_DEFAULTS["n_jobs"])
        # Training precision does not change a fitted model's inference.
        state.setdefault("precision", NETWORK_DEFAULTS["precision"])
        state.setdefault("compile", NETWORK_DEFAULTS["compile"])
        # Models pickled before crop_features existed keep whole-FOV features,
        # so that they reproduce the results they gave.
        state.setdefault("crop_features", False)
        super().__setstate__(state)

    # ---- inference ---------------------------------------------------------
    def _check_domain(self, X, groups, fov_indices):
        """Warn when X does not look like the training data (units, then stacking).

        Skipped inside :func:`sklearn_miro.domain.skip_domain_checks`.
        """
        if not domain_checks_enabled():
            return
        # Different units also change the density: then stacking is not to blame.
        if not self._check_units(X, groups, fov_indices):
            self._check_stacking(X, groups)

    def _check_units(self, X, groups, fov_indices):
        """Warn when X's localisation spacing is far from the training data's; True if so.

        The median nearest-neighbour distance of X, in its own units, is
        compared with the training data's in the units it was fitted on
        (``model_.input_spacing``): more than
        :data:`~sklearn_miro.domain.UNIT_MISMATCH_FACTOR` times off, X is
        taken to be in other units. This is done on the raw coordinates for
        every model, so that a model with ``fov_normalization`` sees a change
        of units too (normalised coordinates are the same in nm and in µm).
        Such a model's spacing in the normalised space is then compared as
        well (``model_.localization_spacing``,
        :func:`~sklearn_miro.domain.normalised_spacing_message`): a mismatch
        there means FOVs of another number of localisations per side than
        the training ones, which no change of units explains.
        """
        model = self.model_
        normalization = getattr(model, "fov_normalization", None)
        raw_training = getattr(model, "input_spacing", np.nan)
        if normalization is None and not np.isfinite(raw_training):
            raw_training = getattr(model, "localization_spacing", np.nan)  # the same without normalisation
        message = None
        if np.isfinite(raw_training):
            spacing = localization_spacing(X, fov_indices)
            message = unit_mismatch_message(spacing, raw_training)
            if message is not None and groups is None and raw_training / 30 < spacing < raw_training:
                message += (
                    " (Stacking many fields of view without groups= also shrinks the spacing, "
                    "by the square root of their number: pass groups= if that is the case.)"
                )
        if message is None and normalization is not None:
            training = getattr(model, "localization_spacing", np.nan)
            if np.isfinite(training):
                X = X.copy()
                for idx in fov_indices:
                    X[idx] = to_model_space(X[idx], normalization)[0]
                message = normalised_spacing_message(localization_spacing(X, fov_indices), training,
                                                     normalization)
        if message is None:
            return False
        warnings.warn(message, UnitMismatchWarning, stacklevel=caller_stacklevel())
        return True

    def _check_stacking(self, X, groups):
        """Warn when X looks like several FOVs passed without groups.

        The statistic is X's localisation density (localisations per area of
        its bounding box) over the training FOVs' median density
        (``fov_density``); ``k`` FOVs like the training ones stacked on one
        coordinate range have about ``k`` times it. The warning fires above
        :data:`~sklearn_miro.domain.STACKING_DENSITY_RATIO` (1.8): two or
        more stacked FOVs of the training density are reported, FOVs of one
        sample rarely differ that much (0.65 to 1.69 times their median for
        the ten shared FGFR1 FOVs). One FOV twice as dense as the training
        data cannot be told from two stacked FOVs: the message names both
        causes. Given ``groups``, or fewer than 50 localisations, nothing is
        checked.
        """
        if groups is not None or not np.isfinite(self.model_.fov_density) or X.shape[0] < 50:
            return
        extent = X.max(axis=0) - X.min(axis=0)
        area = np.prod(extent)
        if area <= 0:
            return
        ratio = (X.shape[0] / area) / self.model_.fov_density
        if ratio > STACKING_DENSITY_RATIO:
            warnings.warn(
                f"X has {ratio:.1f} times the localisation density of the training FOVs. "
                "If it holds several fields of view stacked together, pass groups= (the FOV "
                "id of every localisation) so that each FOV is processed on its own; "
                "otherwise their points are mixed into one graph. If it is one FOV, it is "
                "denser than the data the model was trained on (more clusters, more "
                "background or multiple blinking), and its results deserve a check.",
                UserWarning,
                stacklevel=caller_stacklevel(),
            )

    def _resolve_step(self, step):
        n_steps = self.model_.n_steps
        if step is None:
            return n_steps - 1
        if isinstance(step, bool) or not isinstance(step, numbers.Integral) or not (
            -n_steps <= step < n_steps
        ):
            raise ValueError(
                f"step must be an integer in [{-n_steps}, {n_steps - 1}] "
                f"(the model has n_steps={n_steps}); got {step!r}."
            )
        return int(step) % n_steps

    def _prepare_predict_input(self, X, groups):
        """Validated X, groups and FOV row indices (coordinates checked once per call)."""
        check_is_fitted(self, "model_")
        X = check_coordinates(X, estimator=self, reset=False, min_points=1, groups=groups)
        groups = check_groups(groups, X.shape[0])
        fov_indices = [idx for _, idx in split_by_group(groups, X.shape[0])]
        self._check_domain(X, groups, fov_indices)
        return X, groups, fov_indices

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        tags.input_tags.two_d_array = True
        return tags


def fitted_property(name, doc=None):
    """A read-only fitted attribute ``<name>_`` read from ``model_.<name>``."""

    def get(self):
        try:
            model = self.__dict__["model_"]
        except KeyError:
            raise AttributeError(
                f"{type(self).__name__!r} object has no attribute '{name}_' (it is set by fit)."
            ) from None
        return getattr(model, name)

    return property(get, doc=doc or f"``model_.{name}`` (read-only).")


for _name in (
    "network", "connectivity_radius", "length_scale", "distance_unit", "fov_density",
    "localization_spacing", "n_fovs", "n_steps", "central_fraction",
    "augmentation_fov_size", "n_augmented", "loss_curve", "validation_loss_curve", "n_epochs", "best_epoch",
    "training_time", "training_compression", "training_relative_loss", "started_from",
    "training_precision", "training_compiled", "thinned_background", "retry_relative_loss", "retry_compression",
):
    setattr(BaseMIRO, f"{_name}_", fitted_property(_name))
del _name
# device_ is the device the model was trained on (or the checkpoint it came from).
BaseMIRO.device_ = fitted_property("device")

# Fitted attributes of estimators pickled before the model_ object existed
# (sklearn_miro 0.1.0 before the refactor of issue 12), and their FittedMIRO names.
_LEGACY_ATTRIBUTES = {
    "connectivity_radius_": "connectivity_radius", "length_scale_": "length_scale",
    "distance_unit_": "distance_unit", "fov_density_": "fov_density", "n_fovs_": "n_fovs",
    "augmentation_fov_size_": "augmentation_fov_size", "loss_curve_": "loss_curve",
    "validation_loss_curve_": "validation_loss_curve", "n_epochs_": "n_epochs",
    "best_epoch_": "best_epoch", "training_time_": "training_time", "device_": "device",
}


def upgrade_pre_model_state(state):
    """The pickled state of an estimator saved before ``model_`` existed, upgraded.

    Such files (sklearn_miro 0.1.0 before the fitted-model refactor) store the
    network under ``_network_state`` and every fitted attribute on the
    estimator; they are turned into one :class:`FittedMIRO`.
    """
    state = dict(state)
    try:
        network = network_from_state(state.pop("_network_state"))
        values = {new: state.pop(old) for old, new in _LEGACY_ATTRIBUTES.items() if old in state}
        n_steps = int(state["n_steps"])
        step_scales = np.zeros(n_steps, dtype=np.int64)
        if "k_star_" in state:
            step_scales = np.searchsorted(
                np.asarray(state["k_star_"]), np.arange(n_steps), side="right"
            ).astype(np.int64)
        if "_class_columns_" in state:
            state["class_columns_"] = state.pop("_class_columns_")
        state["model_"] = FittedMIRO(
            network=network,
            n_steps=n_steps,
            eigenvector_normalization=state["eigenvector_normalization"],
            fov_normalization=state["fov_normalization"],
            step_scales=step_scales,
            **values,
        )
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise ValueError(
            "This file holds a MIRO estimator saved by sklearn_miro 0.1.0 before the fitted-model "
            f"refactor, and it could not be upgraded ({exc!r}); refit it or load it with that "
            "version."
        ) from exc
    return state


def radius_in_units_of_x(model, X, fov_indices):
    """A fitted model's connectivity radius in the units of X, for the eps candidates.

    Without normalisation the radius is already in the units of X. With
    ``"minmax"`` or ``"reference"`` (the authors' checkpoints) it is in the
    network's [0, 1] FOV space while the collapsed points are in the units of
    X: the median over the labelled FOVs of its length there (weighted by area
    where their areas differ more than 2 times, :func:`~sklearn_miro.clustering.fov_median`).
    """
    radius, normalization = model.connectivity_radius, model.fov_normalization
    if normalization is None:
        return float(radius)
    return fov_median([length_in_output_units(X[idx], radius, normalization) for idx in fov_indices],
                      [X[idx] for idx in fov_indices])


class NestedTransformerParamsMixin:
    """``set_params`` that refuses ``transformer__<name>`` with the fix while ``transformer`` is None.

    For the clusterers whose default transformer (named by ``_default_transformer``) is only
    built at fit.
    """

    _default_transformer = "MIROTransformer"

    def set_params(self, **params):
        """Set the parameters of this estimator, and of its transformer with ``transformer__<name>``.

        Parameters
        ----------
        **params : dict
            Estimator parameters. ``transformer__<name>`` needs a transformer
            (not the default None): pass ``transformer=`` in the same call or
            before.

        Returns
        -------
        self : estimator instance
        """
        # scikit-learn's set_params would fail on None.set_params with an AttributeError.
        nested = sorted(key for key in params if key.startswith("transformer__"))
        if nested and params.get("transformer", self.transformer) is None:
            default = self._default_transformer
            raise ValueError(
                f"Cannot set {', '.join(nested)}: transformer is None (the default {default}() is only "
                f"built at fit). Pass a transformer whose parameters can be set, e.g. "
                f"{type(self).__name__}(transformer={default}()) or "
                f"set_params(transformer={default}(), {nested[0]}=...)."
            )
        return super().set_params(**params)


def check_transformer_kind(transformer, kind, described, other_kind, other_clusterer):
    """Raise a TypeError unless ``transformer`` (possibly frozen) is a ``kind``.

    ``described`` names what is expected in the message; when the transformer
    is the other kind (class name ``other_kind``), the message points to
    ``other_clusterer``, the clusterer made for it.
    """
    inner = inner_transformer(transformer)
    if not isinstance(inner, kind):
        hint = f" (for a {other_kind} use {other_clusterer})" if type(inner).__name__ == other_kind else ""
        # Show what a wrapper wraps, down to the first object that wraps nothing.
        chain, current = [type(transformer).__name__], transformer
        while inner_transformer(current) is not current and len(chain) < 5:
            current = inner_transformer(current)
            chain.append(type(current).__name__)
        got = "(".join(chain) + ")" * (len(chain) - 1)
        if len(chain) > 2 and isinstance(current, kind):
            hint = ": wrap the transformer once, not twice"
        raise TypeError(
            f"transformer must be {described}, or one wrapped in sklearn.frozen.FrozenEstimator, "
            f"or None; got {got}{hint}."
        )
