"""The fitted MIRO model: a plain value object, trained by :func:`train_model`.

A :class:`FittedMIRO` holds everything inference needs (the network, the
length units, the FOV normalisation, the number of recurrent steps and the
training statistics); :meth:`FittedMIRO.collapse` moves the localisations of
every field of view (FOV) towards their cluster centres. The estimators of
:mod:`sklearn_miro.estimators` validate their inputs, build a
:class:`TrainingConfig` from their parameters, and hold the trained model as
their one fitted attribute ``model_``; :func:`sklearn_miro.load_reference_checkpoint`
builds the same object from a published checkpoint.
"""

from __future__ import annotations

import contextlib
import copy
import importlib
import time
import warnings
from dataclasses import dataclass, field, replace
from typing import NamedTuple

import numpy as np
import torch

from .augmentation import (
    AugmentationOptions,
    budgeted_n_augmented,
    central_fraction,
    default_fov_size,
    default_length_scale,
    make_training_graphs,
    median_axis_ratio,
    prepare_training_set,
)
from ._validation import caller_stacklevel
from .domain import check_connectivity, localization_spacing
from .graph import area_weights, default_connectivity_radius, distinct_locations, weighted_median
from .network import MIRONetwork, reproducible_training
from .diagnostics import (
    COMPRESSION_THRESHOLD,
    cluster_compression,
    distances_to_centres,
    zero_displacement_loss,
)
from .parallel import map_fovs, progress_bar, runs_in_this_process
from .tiling import fov_network_outputs, resolve_tile_size
from .training import PRECISIONS, collate, compiler_available, fit_network, miro_loss, native_bfloat16

__all__ = [
    "collapse_fov",
    "FOV_NORMALIZATIONS",
    "PRECISIONS",
    "STATE_VERSION_KEY",
    "Collapsed",
    "FittedMIRO",
    "TrainingConfig",
    "fov_statistics",
    "network_from_state",
    "native_bfloat16",
    "compiler_available",
    "network_state",
    "readout_steps",
    "tiled_inference_progress",
    "to_model_space",
    "budgeted_max_epochs",
    "ELONGATED_AXIS_RATIO",
    "ELONGATED_HIDDEN_SIZE",
    "ELONGATED_MAX_CROP_LOCALIZATIONS",
    "ElongatedStart",
    "elongated_start",
    "train_model",
    "training_diagnostics",
]

FOV_NORMALIZATIONS = (None, "minmax", "reference")
# Key of the package version in the pickled state of a FittedMIRO.
STATE_VERSION_KEY = "__sklearn_miro_version__"


# --------------------------------------------------------------------------
# Coordinate spaces and FOV statistics
# --------------------------------------------------------------------------


def to_model_space(X, fov_normalization):
    """Coordinates the network sees, and the map from them back to output units.

    ``None``: the coordinates as given. ``"minmax"`` and ``"reference"``: each
    axis of the FOV scaled to [0, 1] with its minimum and maximum (the aspect
    ratio is not kept), as the authors' code does. The inverse map of
    ``"minmax"`` returns to the units of X; that of ``"reference"`` multiplies
    by the per-axis maximum of X and adds nothing: the space in which the
    authors tuned their DBSCAN ``eps`` (roughly nm, scaled by
    ``max / (max - min)`` and shifted).
    """
    if fov_normalization is None:
        return X, lambda Q: Q
    low = X.min(axis=0)
    extent = X.max(axis=0) - low
    extent = np.where(extent > 0, extent, 1.0)  # a flat axis stays as it is
    positions = (X - low) / extent
    if fov_normalization == "minmax":
        return positions, lambda Q: Q * extent + low
    high = X.max(axis=0)
    return positions, lambda Q: Q * high


def length_in_output_units(X_fov, length, fov_normalization):
    """A length of the model's coordinate space in the units ``transform`` returns.

    The identity without normalisation. With ``"minmax"`` and ``"reference"``
    the network's space is the FOV scaled to [0, 1] per axis, and its outputs
    are mapped back by the FOV's extent (``"minmax"``) or per-axis maximum
    (``"reference"``, see :func:`to_model_space`); the larger axis factor is
    used.
    """
    if fov_normalization is None:
        return float(length)
    X_fov = np.asarray(X_fov, dtype=float)
    if fov_normalization == "minmax":
        factor = np.ptp(X_fov, axis=0).max()
    else:
        factor = X_fov.max(axis=0).max()
    return float(length) * float(factor)


def fov_statistics(X, fov_indices):
    """Median side length and median localisation density of the FOVs.

    FOVs whose areas differ by more than
    :data:`~sklearn_miro.graph.AREA_WEIGHT_RATIO` (a whole FOV and small
    regions around single clusters) are weighted by area
    (:func:`~sklearn_miro.graph.area_weights`): the area-weighted median side
    and the density of the pooled localisations.

    Parameters
    ----------
    X : ndarray of shape (n, 2)
    fov_indices : list of ndarray
        Row indices of every FOV.

    Returns
    -------
    side, density : float
        ``density`` is NaN when every FOV is flat (zero area).
    """
    sides, areas, counts = [], [], []
    for idx in fov_indices:
        pts = X[idx]
        extent = pts.max(axis=0) - pts.min(axis=0)
        sides.append(extent.mean())
        areas.append(np.prod(extent))
        counts.append(len(idx))
    sides, areas, counts = np.array(sides), np.array(areas), np.array(counts)
    positive = areas > 0
    weights = area_weights(areas)  # None for FOVs of similar size: plain medians
    side = weighted_median(sides, weights)
    if not positive.any():
        return side, np.nan
    if weights is None:
        return side, float(np.median(counts[positive] / areas[positive]))
    # FOVs of very different sizes: the density of the pooled localisations
    # (of the FOVs that span an area).
    spanning = weights > 0
    return side, float(counts[spanning].sum() / areas[spanning].sum())


class DeferredProgressBar:
    """A progress bar drawn only once its total is known (its first ``reset(total=...)``).

    The DBSCAN search learns its number of steps (eps candidates) only when it
    starts: a bar opened before would print a "0it" line, and a search with
    nothing to search (eps and min_samples given) would leave an empty bar.
    A total of one step (eps given) draws no bar. Supports what the searches
    use: ``reset``, ``update``, ``close`` and ``with``.
    """

    def __init__(self, desc, verbose):
        self._desc, self._verbose, self._bar = desc, verbose, None

    def reset(self, total=None):
        if self._bar is None:
            if total is not None and total <= 1:
                return  # one candidate (eps given): nothing worth a bar
            self._bar = progress_bar(total, self._desc, self._verbose)
        else:
            self._bar.reset(total=total)

    def update(self, n=1):
        if self._bar is not None:
            self._bar.update(n)

    def close(self):
        if self._bar is not None:
            self._bar.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


@contextlib.contextmanager
def tiled_inference_progress(tile_size, n_localizations, verbose, note=""):
    """The progress bar of one FOV's inference: a tqdm bar, or None.

    Only a FOV that ``tile_size`` tiles (:func:`sklearn_miro.tiling.resolve_tile_size`)
    gets one, and only when ``verbose`` is positive: small FOVs take a
    fraction of a second, and a bar each would flood a grid search's output.
    ``note`` is appended to the bar's text (e.g. which pass of several).
    """
    tiled, _ = resolve_tile_size(tile_size, n_localizations)
    if not (tiled and verbose):
        yield None
        return
    with progress_bar(n_localizations, f"MIRO: tiled inference{note}", verbose) as bar:
        yield bar


# --------------------------------------------------------------------------
# Network (de)serialisation
# --------------------------------------------------------------------------


def network_state(network):
    """A torch-free, deterministic description of a network: config and numpy weights."""
    return {
        "config": network.config(),
        "weights": {k: v.detach().cpu().numpy() for k, v in network.state_dict().items()},
    }


def network_from_state(state):
    """The network (on the CPU, in eval mode) described by :func:`network_state`."""
    network = MIRONetwork(**state["config"])
    network.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in state["weights"].items()})
    return network.eval()


# --------------------------------------------------------------------------
# The fitted model
# --------------------------------------------------------------------------


class Collapsed(NamedTuple):
    """Result of :meth:`FittedMIRO.collapse`.

    moved : ndarray of shape (n_read_steps, n, 2)
        Collapsed coordinates, in the output units of the FOV normalisation.
    outputs : ndarray of shape (n_read_steps, n, n_outputs)
        Raw network outputs (displacements in units of ``length_scale``, in
        the model's coordinate space, then class logits); 0 for isolated
        localisations.
    connected : ndarray of shape (n,) of bool
        Whether the localisation has at least one graph neighbour (isolated
        ones are never moved).
    """

    moved: np.ndarray
    outputs: np.ndarray
    connected: np.ndarray


@dataclass
class FittedMIRO:
    """A trained MIRO network and everything needed to apply it.

    Attributes
    ----------
    network : MIRONetwork
        The trained network, on the CPU.
    n_steps : int
        Recurrent steps the network was trained with.
    connectivity_radius, length_scale : float
        Graph radius and unit of the edge features and displacements, in the
        model's coordinate space.
    eigenvector_normalization : {"rms", "unit"}
    fov_normalization : {None, "minmax", "reference"}
    step_scales : ndarray of shape (n_steps,)
        Scale (label column) supervising each recurrent step.
    distance_unit : float
        Median side of the training FOVs (unit of the distance loss; weighted by
        area where their areas differ more than 2 times).
    fov_density : float
        Median localisation density of the training FOVs, in the user's units (of
        the pooled localisations where their areas differ more than 2 times).
    localization_spacing : float
        Median nearest-neighbour distance of the training localisations (median
        over FOVs), in the model's space; new data far from it get a
        "different units" warning (:mod:`sklearn_miro.domain`). NaN when unknown
        (published checkpoints).
    input_spacing : float
        The same in the user's units, before ``fov_normalization``: the units
        check of a normalised model compares new data's raw spacing with it
        (normalised coordinates are the same in nm and in µm). Equal to
        ``localization_spacing`` without normalisation; NaN when unknown
        (published checkpoints, normalised models fitted before it existed).
    n_fovs : int
    augmentation_fov_size : float or None
    n_augmented : int or None
        Synthetic training FOVs used (after ``localization_budget``); None for
        a model loaded from a checkpoint.
    loss_curve, validation_loss_curve : list of float
    n_epochs, best_epoch : int
    training_time : float
    device : str
        Where it was trained (or the checkpoint it came from).
    training_compression, training_relative_loss : float
        The "move nothing" diagnostics of the fit (see :func:`training_diagnostics`);
        NaN for a model loaded from a checkpoint.
    started_from : str or None
        The weights training started from: the name of a pretrained model,
        ``"warm_start"`` (the estimator's previous network) or None (random).
    training_precision : str
        ``"float32"`` or ``"bfloat16"``: the precision of the training forward
        passes (:func:`sklearn_miro.training.fit_network`); inference always
        runs in float32.
    training_compiled : bool
        Whether the training passes ran through ``torch.compile`` to the end of
        the fit (asked for, and no failure; a failed compile warns and trains
        the rest of the fit uncompiled).
    central_fraction : float
        With ``n_steps="auto"``: the labelled clusters' central fraction that
        chose the depth (:func:`resolve_depth`); NaN otherwise.
    thinned_background : float or None
        When the network kept was trained again on crops with thinned background
        (the first fit moved nothing, see :func:`train_model`): the lower end
        of the background keep fraction, :func:`thinned_background_keep`; None
        otherwise.
    retry_relative_loss, retry_compression : float
        The relative loss (on the first fit's validation crops) and the
        training compression of that second network, whether or not it was
        kept; NaN when there was none (the loss is inf when the second
        training diverged).
    """

    network: MIRONetwork
    n_steps: int
    connectivity_radius: float
    length_scale: float
    eigenvector_normalization: str = "rms"
    fov_normalization: str | None = None
    step_scales: np.ndarray | None = None
    distance_unit: float = 1.0
    fov_density: float = np.nan
    localization_spacing: float = np.nan
    input_spacing: float = np.nan
    n_fovs: int = 0
    augmentation_fov_size: float | None = None
    n_augmented: int | None = None
    loss_curve: list = field(default_factory=list)
    validation_loss_curve: list = field(default_factory=list)
    n_epochs: int = 0
    best_epoch: int = -1
    training_time: float = 0.0
    device: str = "cpu"
    training_compression: float = np.nan
    training_relative_loss: float = np.nan
    started_from: str | None = None
    training_precision: str = "float32"
    training_compiled: bool = False
    central_fraction: float = np.nan
    thinned_background: float | None = None
    retry_relative_loss: float = np.nan
    retry_compression: float = np.nan

    def __post_init__(self):
        if self.step_scales is None:
            self.step_scales = np.zeros(self.n_steps, dtype=np.int64)

    @property
    def n_outputs(self):
        return self.network.n_outputs

    # ---- inference ---------------------------------------------------------
    def network_on(self, device):
        """The network on ``device``; a copy off the CPU is cached outside the pickled state."""
        if device.type == "cpu":
            return self.network
        cache = self.__dict__.get("_device_network")
        if cache is None or cache[0] != device or cache[1] is not self.network:
            cache = (device, self.network, copy.deepcopy(self.network).to(device).eval())
            self.__dict__["_device_network"] = cache
        return cache[2]

    def feature_tile_size(self):
        """Side of the eigenvector tiles of tiled inference, in the network's space.

        The side of the synthetic training FOVs, so that tiled features describe
        a graph of the size the network was trained on; the median side of the
        training FOVs when training used whole FOVs.
        """
        if self.augmentation_fov_size is not None:
            return float(self.augmentation_fov_size)
        return float(self.distance_unit)

    def collapse(self, X, fov_indices, steps, device, *, tile_size=None, crop_features=False, n_jobs=None,
                 verbose=0):
        """Move every localisation of every FOV towards its cluster centre.

        Parameters
        ----------
        X : ndarray of shape (n, 2)
            Validated coordinates, in the user's units.
        fov_indices : list of ndarray
            Row indices of every FOV; each FOV is its own graph.
        steps : list of int
            Recurrent steps (0-based) whose outputs are returned.
        device : torch.device
        tile_size : "auto", None or float, default=None
            Tiled inference of large FOVs, see
            :func:`sklearn_miro.tiling.resolve_tile_size` (in the network's
            space). None: every FOV whole.
        crop_features : bool, default=False
            Eigenvector features per square of the training crops' side
            (:meth:`feature_tile_size`) on every FOV; False: only on tiled
            FOVs, whole-FOV features on the others.
        n_jobs : int or None, default=None
            FOVs in parallel (:func:`sklearn_miro.parallel.map_fovs`).
        verbose : int, default=0
            Positive: a progress bar over the localisations of every tiled
            FOV (not inside parallel workers, whose bars would interleave).

        Returns
        -------
        Collapsed
        """
        n = X.shape[0]
        outputs = np.zeros((len(steps), n, self.n_outputs))
        moved = np.empty((len(steps), n, 2))
        connected = np.zeros(n, dtype=bool)
        steps = list(steps)
        verbose = verbose if runs_in_this_process(n_jobs) else 0
        results = map_fovs(
            collapse_fov, [(self, X[idx], steps, device, tile_size, verbose, crop_features)
                           for idx in fov_indices], n_jobs
        )
        for idx, (fov_outputs, fov_moved, fov_connected) in zip(fov_indices, results):
            outputs[:, idx] = fov_outputs
            moved[:, idx] = fov_moved
            connected[idx] = fov_connected
        return Collapsed(moved, outputs, connected)

    # ---- pickling ------------------------------------------------------------
    def __getstate__(self):
        # The network is stored as its configuration and numpy weights: the
        # file loads with any torch build and device, and pickles are
        # deterministic (joblib.hash, deepcopy).
        state = {k: v for k, v in self.__dict__.items() if k != "_device_network"}
        state["network"] = network_state(self.network)
        state[STATE_VERSION_KEY] = importlib.import_module(__package__).__version__
        return state

    def __setstate__(self, state):
        state = dict(state)
        state.pop(STATE_VERSION_KEY, None)
        state.setdefault("started_from", None)  # models saved before fine-tuning existed
        state.setdefault("training_precision", "float32")  # saved before bfloat16 training
        state.setdefault("training_compiled", False)  # saved before compiled training
        state.setdefault("central_fraction", np.nan)  # saved before n_steps="auto"
        state.setdefault("thinned_background", None)  # saved before the thinned-background retry
        state.setdefault("retry_relative_loss", np.nan)
        state.setdefault("retry_compression", np.nan)
        # Saved before input_spacing: without normalisation it is localization_spacing.
        state.setdefault("input_spacing", state.get("localization_spacing", np.nan)
                         if state.get("fov_normalization") is None else np.nan)
        state["network"] = network_from_state(state["network"])
        self.__dict__.update(state)


def collapse_fov(model, X_fov, steps, device, tile_size=None, verbose=0, crop_features=False):
    """Outputs, collapsed coordinates and connected mask of one FOV (see :meth:`FittedMIRO.collapse`).

    The eigenvector features are computed on feature tiles of the training
    crops' side (:meth:`FittedMIRO.feature_tile_size`) when the FOV is tiled,
    or when ``crop_features`` is true and the network was trained on crops;
    else on the whole FOV's graph.
    """
    positions, back = to_model_space(X_fov, model.fov_normalization)
    with tiled_inference_progress(tile_size, positions.shape[0], verbose) as bar:
        outputs, connected = fov_network_outputs(
            model.network_on(device),
            positions,
            connectivity_radius=model.connectivity_radius,
            length_scale=model.length_scale,
            steps=steps,
            normalization=model.eigenvector_normalization,
            tile_size=tile_size,
            feature_tile_size=model.feature_tile_size(),
            # A model trained on whole FOVs (no crops) saw whole-FOV features.
            crop_features=crop_features and model.augmentation_fov_size is not None,
            device=device,
            return_connected=True,
            progress=bar,
        )
    moved = back(positions[None] - outputs[:, :, :2] * model.length_scale)
    return outputs, moved, connected


# --------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainingConfig:
    """Every setting of :func:`train_model` (the estimators' parameters, resolved).

    ``connectivity_radius`` and ``length_scale`` may still be ``"auto"`` (and
    ``length_scale`` ``"radius"``); ``beta`` weighs the class cross-entropy
    (0 for the estimators without a class head); ``n_outputs`` is 2 plus the
    number of classes; ``step_scales`` gives the label column supervising each
    recurrent step (all zeros for one scale). ``localization_budget``, when
    set, caps ``n_augmented`` so that the synthetic FOVs hold about that many
    localisations in all (:func:`~sklearn_miro.augmentation.budgeted_n_augmented`);
    then, with ``budget_max_epochs`` set, ``max_epochs`` grows with the
    square of the cut, up to that many (:func:`budgeted_max_epochs`).
    ``average_window``, when set, keeps a moving average of the weights over
    that fraction of the optimisation steps (:func:`~sklearn_miro.training.fit_network`).
    ``crop_features`` is the inference the training diagnostics use
    (:meth:`FittedMIRO.collapse`). ``n_steps="auto"`` is resolved on the
    labelled clusters by :func:`resolve_depth` (then ``step_scales`` may be
    empty: one scale).
    """

    hidden_size: int = 64
    n_steps: object = 15
    connectivity_radius: object = "auto"
    length_scale: object = "auto"
    eigenvector_normalization: str = "rms"
    fov_normalization: str | None = None
    alpha: float = 10.0
    beta: float = 0.0
    learning_rate: float = 1e-3
    lr_schedule: str = "cosine"
    max_epochs: int = 12
    n_augmented: int = 2000
    batch_size: int = 8
    augmentation: AugmentationOptions = field(default_factory=AugmentationOptions)
    validation_fraction: float = 0.1
    n_iter_no_change: int | None = None
    device: torch.device = torch.device("cpu")
    seed: int = 0
    verbose: int = 0
    n_outputs: int = 2
    step_scales: tuple = ()
    localization_budget: int | None = None
    budget_max_epochs: int | None = None
    average_window: float | None = None
    crop_features: bool = True
    precision: str = "float32"
    compile: bool = False
    # Said on the training bar after its description (why this fit trains as it does).
    training_note: str = ""

    @property
    def n_validation(self):
        """Extra synthetic FOVs held out for validation."""
        if self.validation_fraction <= 0:
            return 0
        return max(1, int(round(self.validation_fraction * self.n_augmented)))


def _normalised(X, fov_indices, fov_normalization):
    """X in the model's coordinate space (a copy when normalised)."""
    if fov_normalization is None:
        return X
    X = X.copy()
    for idx in fov_indices:
        X[idx] = to_model_space(X[idx], fov_normalization)[0]
    return X


def _resolve_units(config, X, fov_indices, training_set):
    """Connectivity radius and length scale, in the model's space."""
    if isinstance(config.connectivity_radius, str):
        radius = default_connectivity_radius(X, fov_indices=fov_indices)
    else:
        radius = float(config.connectivity_radius)
    if config.length_scale == "radius":
        unit = radius
    elif config.length_scale == "auto":
        unit = default_length_scale(training_set) or radius
    else:
        unit = float(config.length_scale)
    return radius, unit


#: Recurrent steps of ``n_steps="auto"`` (those of the pretrained models)...
DEFAULT_N_STEPS = 15
#: ... and for hollow labelled clusters, whose localisations must travel across
#: an empty interior to a centre none of them marks (rings).
HOLLOW_N_STEPS = 25
#: Labelled clusters count as hollow when the median cluster has fewer of its
#: localisations than this within half its RMS radius of its centroid
#: (:func:`~sklearn_miro.augmentation.central_fraction`): a quarter of a
#: Gaussian cluster's 0.22.
HOLLOW_CENTRAL_FRACTION = 0.05
#: Only labelled clusters of at least this many localisations are measured: a
#: Gaussian cluster of n localisations has none within half its RMS radius of
#: its centre with probability 0.78^n (2.4 % for 15, 0.06 % for 30), and a
#: single-shot fit sees one cluster copied, whose fraction decides alone (the
#: 15-localisation cluster of single-shot scenario 5 has none there).
HOLLOW_MIN_LOCALIZATIONS = 30
#: For hollow clusters, an automatic schedule's localisation budget per
#: synthetic FOV is this many times larger (750 instead of 300 localisations
#: per crop): they need the optimisation steps of twice the FOVs, not only the
#: localisations (rings, crops of about 730 localisations: 658 crops, what
#: the 300 budget leaves of 1,600, gave JI_c 0.966-0.978 on three seeds, 1,600
#: crops 0.984 on each). Denser crops are still cut, to at most 1,600 x 750
#: localisations per epoch.
HOLLOW_BUDGET_FACTOR = 2.5


def is_hollow(fraction):
    """Whether labelled clusters of this central fraction are hollow (NaN, not measured: no).

    The one test :func:`resolve_depth`, the training bar and the CLI share.
    """
    return bool(fraction < HOLLOW_CENTRAL_FRACTION)


#: Labelled clusters count as elongated when their median axis ratio
#: (:func:`~sklearn_miro.augmentation.median_axis_ratio`) is at least this...
ELONGATED_AXIS_RATIO = 3.0
#: ... and then, with small enough crops, the estimators' automatic start is a
#: network of this width trained from random weights (:func:`elongated_start`).
ELONGATED_HIDDEN_SIZE = 96
#: Small enough: at most this many localisations per synthetic crop. The
#: from-scratch schedule's 2,000 crops then keep their number, and its cost,
#: which grows with the localisations it trains on (7.5-10.1 CPU-minutes for
#: crops of 200-211 in bfloat16 on an AMD EPYC with native bfloat16, 11.3 for
#: one fit run beside other jobs; 24.3 in float32 on an AVX2-only AMD EPYC,
#: one thread of a loaded 2-core machine), stays about 12 CPU-minutes or
#: under in bfloat16, where 300 would allow about 14-15, the edge of issue
#: 11's budget.
ELONGATED_MAX_CROP_LOCALIZATIONS = 250


class ElongatedStart(NamedTuple):
    """What :func:`elongated_start` measured, and its answer.

    ``elongated``: the labelled clusters' median axis ratio is at least
    :data:`ELONGATED_AXIS_RATIO`; ``random_weights``: elongated, and the crops
    small enough for a fit from random weights at :data:`ELONGATED_HIDDEN_SIZE`
    (otherwise an elongated fit fine-tunes the pretrained elongated model).
    """

    elongated: bool
    random_weights: bool
    axis_ratio: float
    crop_localizations: float


def _resolved_crops(options, training_set, side, model_density):
    """``options`` with ``fov_size="auto"`` resolved, and the localisations one crop is expected to hold."""
    if options.fov_size == "auto":
        options = replace(options, fov_size=default_fov_size(training_set, model_density))
    crop_side = side if options.fov_size is None else float(options.fov_size)
    return options, float(model_density * crop_side**2)


def elongated_start(X, labels, fov_indices, *, augmentation, fov_normalization=None,
                    max_crop_localizations=ELONGATED_MAX_CROP_LOCALIZATIONS):
    """Which automatic start suits the labelled clusters' elongation.

    The clusters are elongated when their median axis ratio is at least
    :data:`ELONGATED_AXIS_RATIO`. Then, when a synthetic crop holds at most
    ``max_crop_localizations`` localisations, the estimators train a network
    of hidden size :data:`ELONGATED_HIDDEN_SIZE` from random weights (the
    from-scratch schedule keeps all its crops and its cost stays bounded);
    with larger crops they fine-tune the pretrained elongated model
    (``sklearn_miro.pretrained.ELONGATED_FINE_TUNING_MODEL``) instead of the
    one trained on round and mildly elliptical clusters.

    Why: fine-tuning the round-cluster network for about a minute leaves
    elongated clusters short of the paper's rows. Measured (3 seeds, all
    test FOVs, ``benchmarks/README.md``, thirty-seventh to thirty-ninth
    sessions):

    * random weights at hidden size 96 (about ten CPU-minutes instead of
      one on a CPU with native bfloat16, about 25 in float32 on one
      without): on single-shot scenario 6 (axis ratio 7.0, crops of 211
      localisations) ARI-dagger / JI_c / RMSRE_N 0.718 / 0.950 / 0.226
      instead of 0.677 / 0.921 / 0.271 fine-tuned on the same CPU, inside the
      paper's band, where fine-tuning the elongated model gave 0.705 / 0.939
      / 0.273 (seed 0). On round clusters (single-shot 5 and four other
      single-shot scenarios) the wider random start lowered ARI-dagger, hence
      the axis-ratio test;
    * where the crops are larger the localisation budget cuts them, which
      costs the random start optimisation steps it needs and CPU time it
      cannot spare: on blinking scenario 6 (3.8, 1,601 localisations, cut to
      375 crops) it ended at "move nothing", on ground truth 6 (5.5, 345,
      1,737 crops) it took 14-15 CPU-minutes. Fine-tuning the elongated model
      costs what fine-tuning the round-cluster one does.

    Parameters
    ----------
    X : ndarray of shape (n, 2)
        Validated coordinates.
    labels : ndarray of shape (n, n_scales)
    fov_indices : list of ndarray
    augmentation : AugmentationOptions
    fov_normalization : str or None, default=None
    max_crop_localizations : float, default=ELONGATED_MAX_CROP_LOCALIZATIONS

    Returns
    -------
    ElongatedStart
    """
    X = _normalised(X, fov_indices, fov_normalization)
    side, model_density = fov_statistics(X, fov_indices)
    training_set = prepare_training_set(X, labels, fov_indices=fov_indices)
    ratio = median_axis_ratio(training_set)
    _, crop = _resolved_crops(augmentation, training_set, side, model_density)
    elongated = bool(ratio >= ELONGATED_AXIS_RATIO)  # NaN: not elongated
    return ElongatedStart(elongated, bool(elongated and crop <= max_crop_localizations), ratio, crop)


def budgeted_max_epochs(config, requested, budgeted):
    """Epochs when the localisation budget cuts ``requested`` synthetic FOVs to ``budgeted``.

    The budget gives dense data fewer, larger crops, and every crop is one
    optimisation step. With ``budget_max_epochs`` set (the estimators'
    fine-tuning schedule), the epochs grow with the square of the cut
    ``c = requested / budgeted``: ``round(max_epochs * c**2)``, up to
    ``budget_max_epochs``. The fit then takes ``c`` times the schedule's
    steps, each on a crop ``c`` times as large; uncut fits keep
    ``max_epochs``, and so do fits cut by a factor under 1.08 (``3 c**2``
    rounds to 3).
    Why: every fine-tuning fit still improves its validation loss at its last
    epoch, and the dense and blinking data whose crops are cut gain the most
    from more steps. Measured (3 seeds, all test FOVs, ``benchmarks/README.md``,
    thirty-second, thirty-third and thirty-fifth sessions): on blinking
    scenario 6, 9 epochs instead of 3 collapse the training clusters to 0.43 of
    their size instead of 0.51, and 18 instead of 9 to 0.42 (ARI-dagger 0.649
    against 0.639 on the same CPU); on blinking scenario 5, 13 epochs instead
    of 6 raise JI_c from 0.653 to 0.663.
    """
    if config.budget_max_epochs is None or budgeted >= requested:
        return config.max_epochs
    cut = requested / max(budgeted, 1)
    grown = int(round(config.max_epochs * cut**2))
    return int(max(config.max_epochs, min(config.budget_max_epochs, grown)))


def resolve_depth(config, training_set):
    """``config`` with ``n_steps="auto"`` resolved on the labelled clusters.

    :data:`DEFAULT_N_STEPS`, or :data:`HOLLOW_N_STEPS` when the clusters are
    hollow (:data:`HOLLOW_CENTRAL_FRACTION`, over the clusters of at least
    :data:`HOLLOW_MIN_LOCALIZATIONS` localisations); then an automatic schedule
    (``localization_budget`` set) also trains on twice the synthetic FOVs,
    with a localisation budget :data:`HOLLOW_BUDGET_FACTOR` times larger.
    Measured when fine-tuning the pretrained model on rings (the rings of
    issue 11's quality table, 3 seeds): more steps and more FOVs were both
    needed to reach the paper's Table 1 band (``doc/method.md``). A config
    whose ``n_steps`` is a number is returned unchanged, but for empty
    ``step_scales`` (one scale: every step supervised by it). Returns
    ``(config, central_fraction)``; the fraction is NaN when not measured.
    """
    if config.n_steps != "auto":
        # One scale unless the caller says which scale supervises each step.
        if not config.step_scales:
            config = replace(config, step_scales=tuple(np.zeros(int(config.n_steps), dtype=np.int64)))
        elif len(config.step_scales) != int(config.n_steps):
            raise ValueError(
                f"step_scales has {len(config.step_scales)} entries for n_steps={config.n_steps}."
            )
        return config, float("nan")
    fraction = central_fraction(training_set, min_size=HOLLOW_MIN_LOCALIZATIONS)
    hollow = is_hollow(fraction)  # NaN (no cluster large enough) is not hollow
    n_steps = HOLLOW_N_STEPS if hollow else DEFAULT_N_STEPS
    n_augmented, budget = config.n_augmented, config.localization_budget
    if hollow and budget is not None:
        n_augmented, budget = 2 * n_augmented, int(HOLLOW_BUDGET_FACTOR * budget)
    step_scales = config.step_scales or tuple(np.zeros(n_steps, dtype=np.int64))
    if len(step_scales) != n_steps:
        raise ValueError(f"step_scales has {len(step_scales)} entries for n_steps={n_steps}.")
    return replace(config, n_steps=n_steps, n_augmented=int(n_augmented), localization_budget=budget,
                   step_scales=step_scales), fraction


def readout_steps(X, collapse_fov, labels, fov_indices, cutoffs, n_steps):
    """The recurrent step each scale of a multiscale model is read from, chosen on labelled FOVs.

    Steps ``[c_{s-1}, c_s - 1]`` (``c_{-1} = 0``) learn scale ``s`` of ``len(cutoffs) + 1``
    scales (the paper's multiscale loss). Every scale but the coarsest is read
    at the step of its own range where its labelled clusters are most
    collapsed (lowest compression, as :func:`~sklearn_miro.diagnostics.cluster_compression`
    measures it over all FOVs; a tie goes to the later step), the coarsest at
    the last step.

    Why not always ``c_s - 1``, as the paper does: one recurrent network runs
    every step, and a network trained from scratch may start to move towards
    the coarser centres before its fine range ends. On the NPC of issue 11's
    quality table the corners collapse most at step 4 of 0-9 (compression
    0.80-0.83 of the training corners over 3 seeds) and are spread apart again
    by step 9 (1.41-1.49, worse than not moving); DBSCAN on step 4 beats plain
    DBSCAN on the corners, DBSCAN on step 9 does not (``doc/method.md``).

    Parameters
    ----------
    X : ndarray of shape (n, 2)
        Labelled coordinates before the collapse.
    collapse_fov : callable
        ``collapse_fov(idx)`` returns the output of every recurrent step for
        the rows ``idx`` of one FOV, shape ``(n_steps, len(idx), 2)``. Called
        once per FOV, so that only one FOV's steps are held at a time.
    labels : ndarray of shape (n, n_scales)
        Cluster labels at every scale (-1 = background).
    fov_indices : list of ndarray
        Row indices of every FOV (a cluster is a (FOV, label) pair).
    cutoffs : list of int
        The first step of every scale after the finest (``k_star_``).
    n_steps : int

    Returns
    -------
    steps : ndarray of shape (n_scales,)
        The step read out for every scale.
    compression : ndarray of shape (n_scales, n_steps)
        Compression of every scale's clusters at every step (NaN where a scale
        has no cluster of two distinct points).
    """
    n_scales = len(cutoffs) + 1
    before = [[] for _ in range(n_scales)]
    after = [[] for _ in range(n_scales)]
    for idx in fov_indices:
        moved = np.asarray(collapse_fov(idx))
        for s in range(n_scales):
            b, a = distances_to_centres(X[idx], moved, labels[idx, s])
            before[s].append(b)
            after[s].append(a.astype(np.float32))  # (n_steps, m): all steps of one FOV's clusters
    compression = np.full((n_scales, n_steps), np.nan)
    for s in range(n_scales):
        b = np.concatenate(before[s])
        median_before = np.median(b) if len(b) else 0.0
        if median_before > 0:
            compression[s] = np.median(np.concatenate(after[s], axis=1), axis=1) / median_before
    bounds = [0, *[int(c) for c in cutoffs], n_steps]
    steps = np.array([bound - 1 for bound in bounds[1:]], dtype=np.int64)
    for s in range(n_scales - 1):
        window = compression[s, bounds[s]:bounds[s + 1]]
        if np.isfinite(window).any():
            # argmin over the reversed window: a tie goes to the later step.
            steps[s] = bounds[s + 1] - 1 - int(np.nanargmin(window[::-1]))
    return steps, compression


def _training_graphs(config, training_set, options, radius, unit, rng, *, validation=True,
                     desc="MIRO: building training graphs"):
    """Synthetic training and validation graphs (no validation graphs with ``validation=False``)."""
    total = config.n_augmented + (config.n_validation if validation else 0)
    with progress_bar(total, desc, config.verbose) as bar:
        graphs = make_training_graphs(
            training_set, total, radius, options, rng,
            length_scale=unit, normalization=config.eigenvector_normalization, progress=bar,
        )  # fmt: skip
    return graphs[: config.n_augmented], graphs[config.n_augmented :]


def _new_network(config):
    """The untrained network, its weights drawn from ``config.seed``."""
    device = config.device
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(config.seed)
        return MIRONetwork(config.hidden_size, config.n_outputs)


def merge_copies(X, labels, groups, fov_indices, classes=None, *, warn=True, stacklevel=None):
    """Labelled FOVs with the exact copies of a location within a FOV merged into one row.

    Exact copies (a file read twice, coordinates rounded to a grid) would train
    the network on graphs whose copies are extra nodes on zero-length edges,
    which inference never shows it (each location is one node there, see
    :func:`sklearn_miro.tiling.fov_network_outputs`), and would make the
    data look denser than its distinct locations: measured with every
    localisation of the training FOVs doubled, the test clusters' compression
    went from 0.24-0.26 to 0.61-0.63 (1 = nothing moved), tripled to 0.91-0.99.
    Of a location's copies the first one labelled as a cluster (``labels``
    column 0 not -1) is kept, else the first one.

    Returns ``(X, labels, groups, fov_indices, classes)``, the inputs
    themselves when there is no copy; otherwise new arrays (the inputs are not
    modified) and, with ``warn``, a ``UserWarning`` saying how many rows were
    merged. ``stacklevel``: passed to :func:`warnings.warn` as is; None (the
    default) points the warning at the first line outside sklearn_miro,
    scikit-learn and joblib (the line that called fit, through a Pipeline or
    a search too).
    """
    keep = np.ones(X.shape[0], dtype=bool)
    for idx in fov_indices:
        first, inverse = distinct_locations(X[idx])
        if first.size == idx.size:
            continue
        # Sorted by location, then clustered before background, then row order:
        # the first row of every location is the one kept.
        order = np.lexsort((np.arange(idx.size), labels[idx, 0] == -1, inverse))
        chosen = order[np.r_[True, inverse[order][1:] != inverse[order][:-1]]]
        keep[idx] = False
        keep[idx[chosen]] = True
    n_merged = int((~keep).sum())
    if n_merged == 0:
        return X, labels, groups, fov_indices, classes
    if warn:
        warnings.warn(
            f"{n_merged} of {X.shape[0]} labelled localisations are exact copies of another one "
            "in the same FOV (same x and y); the network is trained on each location once, as "
            "it sees them at inference. If the file was read or concatenated twice, remove the "
            "copies (e.g. with pandas' drop_duplicates) before fitting.",
            UserWarning,
            stacklevel=caller_stacklevel() if stacklevel is None else stacklevel,
        )
    position = np.cumsum(keep) - 1
    fov_indices = [position[idx[keep[idx]]] for idx in fov_indices]
    return (X[keep], labels[keep], None if groups is None else groups[keep], fov_indices,
            None if classes is None else classes[keep])


def _warn_without_clusters_to_learn(labels, fov_indices):
    """Warn when no labelled cluster has two localisations: every target is 0.

    A cluster of one localisation is already at its centre, so such labels
    (e.g. one label per localisation) ask the network to move nothing, and the
    training diagnostics, measured on clusters, are NaN: without this, the fit
    would end without a word.
    """
    for idx in fov_indices:
        clustered = labels[idx, 0][labels[idx, 0] != -1]
        if clustered.size and np.unique(clustered, return_counts=True)[1].max() >= 2:
            return
    warnings.warn(
        "No labelled cluster has two or more localisations (in any FOV): every localisation is "
        "already at its cluster's centre, so MIRO has nothing to learn and will move nothing. "
        "Check the labels: -1 marks background, and all localisations of one cluster share "
        "one label.",
        UserWarning,
        stacklevel=caller_stacklevel(),
    )


def train_model(X, labels, groups, fov_indices, config, classes=None, initial_state=None):
    """Train MIRO on labelled FOVs.

    Parameters
    ----------
    X : ndarray of shape (n, 2)
        Validated coordinates (not modified).
    labels : ndarray of shape (n, n_scales)
        Cluster labels per scale, -1 for background.
    groups : ndarray of shape (n,) or None
        FOV id of every localisation.
    fov_indices : list of ndarray
        Row indices of every FOV (``split_by_group(groups, n)``).
    config : TrainingConfig
    classes : ndarray of shape (n,) of int or None
        Class code of every localisation (shape classifier), else None.
    initial_state : dict or None
        A state_dict of the same architecture to start from (fine-tuning,
        warm start) instead of weights drawn from ``config.seed``.

    Returns
    -------
    FittedMIRO
    """
    X, labels, groups, fov_indices, classes = merge_copies(X, labels, groups, fov_indices, classes)
    _warn_without_clusters_to_learn(labels, fov_indices)
    # Density in the user's units: used to detect stacked FOVs later.
    _, density = fov_statistics(X, fov_indices)
    X_input = X
    X = _normalised(X, fov_indices, config.fov_normalization)
    side, model_density = fov_statistics(X, fov_indices)
    rng = np.random.default_rng(config.seed)
    training_set = prepare_training_set(X, labels, groups, classes, fov_indices=fov_indices)
    config, fraction = resolve_depth(config, training_set)
    options, crop_localizations = _resolved_crops(config.augmentation, training_set, side, model_density)
    if config.localization_budget is not None:
        budgeted = budgeted_n_augmented(config.n_augmented, crop_localizations,
                                        config.localization_budget, minimum=config.batch_size)
        config = replace(config, n_augmented=budgeted,
                         max_epochs=budgeted_max_epochs(config, config.n_augmented, budgeted))
    radius, unit = _resolve_units(config, X, fov_indices, training_set)
    # Before any graph is built: a radius that leaves the localisations
    # isolated trains on graphs without edges.
    check_connectivity(X, fov_indices, radius)
    # In the model's space (the graphs the network sees) and in the user's
    # units (normalised coordinates do not show the units), to check new data.
    spacing = localization_spacing(X, fov_indices)
    input_spacing = spacing if config.fov_normalization is None else localization_spacing(X_input, fov_indices)
    started = time.perf_counter()
    train_graphs, validation_graphs = _training_graphs(config, training_set, options, radius, unit, rng)
    # The depth rule can make a fit several times longer: the bar says why.
    desc = "MIRO: training"
    if is_hollow(fraction):
        desc += f" ({config.n_steps} steps: hollow clusters)"
    if config.training_note:
        desc += f" ({config.training_note})"
    network, history = _train_network(config, train_graphs, validation_graphs, initial_state, rng,
                                      distance_scale=radius / side, desc=desc)
    training_time = time.perf_counter() - started
    # Fitted models always live on the CPU, so that a model trained on a GPU
    # pickles and loads on machines without one.
    model = FittedMIRO(
        network=network.cpu().eval(),
        n_steps=int(config.n_steps),
        connectivity_radius=radius,
        length_scale=unit,
        eigenvector_normalization=config.eigenvector_normalization,
        fov_normalization=config.fov_normalization,
        step_scales=np.asarray(config.step_scales, dtype=np.int64),
        distance_unit=side,
        fov_density=density,
        localization_spacing=spacing,
        input_spacing=input_spacing,
        n_fovs=len(fov_indices),
        augmentation_fov_size=float(options.fov_size) if options.fov_size is not None else None,
        n_augmented=int(config.n_augmented),
        loss_curve=list(history.train_loss),
        validation_loss_curve=list(history.validation_loss),
        n_epochs=history.n_epochs,
        best_epoch=history.best_epoch,
        training_time=training_time,
        device=str(config.device),
        training_precision=config.precision,
        training_compiled=bool(history.compiled),
        central_fraction=fraction,
    )
    compression, relative = training_diagnostics(
        model, X_input, labels, fov_indices, validation_graphs or train_graphs, config,
        distance_scale=radius / side,
    )
    model = replace(model, training_compression=compression, training_relative_loss=relative)
    keep = thinned_background_keep(training_set)
    low, high = options.background_count_range
    if not (options.retry_thinned_background and validation_graphs and keep < min(low, 1.0)
            and compression >= COMPRESSION_THRESHOLD):
        return model
    # The fit ended near "move nothing" on data where background outnumbers the
    # clustered localisations (c / b under the background range's lower end).
    # Train again, from the same start, on crops with less background, and keep
    # that network if it does better than the first on the same validation
    # crops, which keep the full background.
    started = time.perf_counter()
    thinned = replace(options, background_count_range=(keep, max(high, keep)))
    retry_graphs, _ = _training_graphs(
        config, training_set, thinned, radius, unit, rng, validation=False,
        desc="MIRO: building training graphs again (thinned background)")
    try:
        network, history = _train_network(
            config, retry_graphs, validation_graphs, initial_state, rng, distance_scale=radius / side,
            desc=f"{desc} again, background thinned to {keep:.2f} (the first fit moved nothing)")
    except FloatingPointError:
        # The first network is valid; a diverging second training must not
        # turn a fit that warns into one that fails.
        training_time += time.perf_counter() - started
        return replace(model, retry_relative_loss=float("inf"), training_time=training_time)
    training_time += time.perf_counter() - started
    retried = replace(model, network=network.cpu().eval(), loss_curve=list(history.train_loss),
                      validation_loss_curve=list(history.validation_loss), n_epochs=history.n_epochs,
                      best_epoch=history.best_epoch, training_time=training_time,
                      thinned_background=keep)
    compression2, relative2 = training_diagnostics(
        retried, X_input, labels, fov_indices, validation_graphs, config, distance_scale=radius / side)
    figures = dict(retry_relative_loss=relative2, retry_compression=compression2)
    if relative2 < relative:
        return replace(retried, training_compression=compression2, training_relative_loss=relative2,
                       **figures)
    return replace(model, training_time=training_time, **figures)


def thinned_background_keep(training_set):
    """Background keep fraction of the retry after a fit that moved nothing.

    The number of clustered localisations of the training FOVs over the number
    of background ones (1 when clusters are the majority), pooled over the
    FOVs. The retry's crops keep a fraction ``U(keep, 1)`` of their background
    (``background="training"``), or draw uniform background at ``U(keep, high)``
    times the training density (``"uniform"``); it runs only when ``keep`` is
    below the lower end of ``background_count_range``, i.e. when it thins.

    Why: the displacement term is a mean absolute error, whose minimiser for a
    localisation is the median of what the network believes about it; where
    most localisations are background and a small cluster looks like a
    background molecule's repeated localisations (blinking), standing still is
    a strong optimum. Thinning the background towards as many background as
    clustered localisations lets the network learn to move clusters first.
    """
    clustered = len(training_set.unit_points)
    background = sum(len(b) for b in training_set.backgrounds)
    if background == 0:
        return 1.0
    return float(min(1.0, clustered / background))


def _train_network(config, train_graphs, validation_graphs, initial_state, rng, *, distance_scale,
                   desc):
    """A network trained by :func:`~sklearn_miro.training.fit_network` with ``config``."""
    network = _new_network(config)
    if initial_state is not None:
        network.load_state_dict(initial_state)
    n_batches = -(-len(train_graphs) // config.batch_size) * config.max_epochs
    with progress_bar(n_batches, desc, config.verbose) as bar, reproducible_training(config.device):
        history = fit_network(
            network,
            train_graphs,
            n_steps=config.n_steps,
            step_scales=np.asarray(config.step_scales, dtype=np.int64),
            alpha=float(config.alpha),
            # Both loss terms are computed in units of length_scale. The
            # authors measure displacements in units of r and edge lengths in
            # units of the FOV side (FOVs normalised to [0, 1]), i.e. the
            # distance term weighs alpha * r / side relative to the
            # displacement term; keep that ratio so that alpha has the
            # paper's meaning whatever length unit the network uses.
            distance_scale=distance_scale,
            beta=float(config.beta),
            learning_rate=float(config.learning_rate),
            lr_schedule=config.lr_schedule,
            max_epochs=config.max_epochs,
            batch_size=config.batch_size,
            validation_graphs=validation_graphs,
            n_iter_no_change=config.n_iter_no_change,
            device=config.device,
            rng=rng,
            progress=bar,
            precision=config.precision,
            compile=config.compile,
            average_window=config.average_window,
        )
    return network, history


def training_diagnostics(model, X, labels, fov_indices, graphs, config, *, distance_scale,
                         max_graphs=200):
    """How far a fit got from the trivial "move nothing" solution.

    Parameters
    ----------
    model : FittedMIRO
    X : ndarray of shape (n, 2)
        The training coordinates, in the user's units.
    labels : ndarray of shape (n, n_scales)
    fov_indices : list of ndarray
    graphs : list of TrainingGraph
        Graphs the final loss was measured on (the validation graphs, or the
        training graphs when there are none).
    config : TrainingConfig
    distance_scale : float
        Weight factor of the distance term used in training.
    max_graphs : int, default=200
        At most this many graphs are used for the zero-displacement loss.

    Returns
    -------
    compression : float
        :func:`sklearn_miro.diagnostics.cluster_compression` of the training
        clusters (labels of the scale supervising the last step) by the
        network's last step; 1 = not collapsed.
    relative_loss : float
        Best validation loss (last training loss without validation graphs)
        divided by the loss of predicting zero everywhere on the same graphs.
    """
    last = model.n_steps - 1
    scale = int(model.step_scales[last])
    # With the features the estimator's transform will use. "reference" maps
    # the output to the authors' clustering space, not back to the units of X:
    # "minmax" gives the same network input mapped back to X's units, where
    # the compression must be measured.
    measured = replace(model, fov_normalization="minmax") if model.fov_normalization == "reference" else model
    moved = measured.collapse(X, fov_indices, [last], torch.device("cpu"),
                              crop_features=config.crop_features).moved[0]
    groups = np.zeros(len(X), dtype=np.int64)
    for k, idx in enumerate(fov_indices):
        groups[idx] = k
    compression = cluster_compression(X, moved, labels[:, scale], groups)["compression"]
    graphs = list(graphs)[:max_graphs]
    batches = [collate(graphs[i : i + config.batch_size], torch.device("cpu"))
               for i in range(0, len(graphs), config.batch_size)]
    step_scales = torch.as_tensor(np.asarray(model.step_scales, dtype=np.int64))

    def loss(outputs, batch):
        return miro_loss(outputs, batch, step_scales, float(config.alpha), distance_scale,
                         float(config.beta))

    zero = zero_displacement_loss(batches, loss, model.n_steps, model.n_outputs)
    final = min(model.validation_loss_curve) if model.validation_loss_curve else (
        model.loss_curve[-1] if model.loss_curve else np.nan)
    relative = float(final / zero) if zero > 0 else float("nan")
    return float(compression), relative
