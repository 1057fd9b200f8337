"""Pretrained MIRO networks shipped with the package, and their scale-free units.

The networks here were trained by ``benchmarks/train_pretrained.py`` on
simulations only (:mod:`sklearn_miro.datasets`), never on the benchmark files.
They are scale-free; two lengths, one per FOV, fix the units:

* the mean localisation spacing ``s = sqrt(bounding-box area / n)``, computed
  from the data without labels: the graph keeps Delaunay edges shorter than
  ``RADIUS_IN_SPACINGS * s``;
* the cluster length scale ``R``, the typical root-mean-square radius of a
  cluster (for a round Gaussian cluster of standard deviation ``sigma`` per
  axis, ``R = sqrt(2) * sigma``): edge features and displacement outputs are in
  units of ``UNIT_IN_CLUSTER_RADII * R``. ``R`` is the one physical input. The
  user gives it in nm, or it is estimated from the FOV's pair-correlation
  function (:func:`sklearn_miro.parameters.pair_correlation_radius`; where the
  FOV shows no clustering, by :func:`estimate_cluster_radius`, a fixed point
  of collapse, cluster, measure).
  The network was trained with ``R`` off by a log-normal factor (about 25 %),
  so it tolerates an approximate value.

Weights are stored as a plain ``state_dict`` (tensors only) and loaded with
``torch.load(weights_only=True)``; the settings of the training run (seed,
data, wall and CPU time) are in the JSON file next to them, ``<name>.json``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources

import numpy as np
import torch

from .._validation import check_coordinates, check_pass_count, split_by_group
from ..parameters import pair_correlation_fit, tiled_excess_neighbours
from ..model import Collapsed, network_from_state, network_state, tiled_inference_progress
from ..network import MIRONetwork
from ..tiling import fov_network_outputs

__all__ = [
    "PretrainedMIRO",
    "FINE_TUNING_MODEL",
    "ELONGATED_FINE_TUNING_MODEL",
    "BLINKING_ZERO_SHOT_MODEL",
    "RADIUS_IN_SPACINGS",
    "REPEAT_FACTOR",
    "collapse_fov",
    "cluster_fov",
    "cluster_rms_radius",
    "estimate_cluster_radius",
    "UNIT_IN_CLUSTER_RADII",
    "ZERO_SHOT_MODEL",
    "available_models",
    "fov_spacing",
    "kdistance_eps",
    "load_pretrained",
    "model_info",
]

#: The nanocluster models' roles: the longer-trained network clusters better
#: without labels; the shorter-trained one is the better start for fine-tuning
#: (doc/pretrained.md, measured on the benchmark and the quality table).
ZERO_SHOT_MODEL = "nanoclusters-long"
FINE_TUNING_MODEL = "nanoclusters"
#: The fine-tuning start for elongated labelled clusters whose crops are too
#: large for a fit from random weights (``sklearn_miro.model.elongated_start``):
#: the same network settings, trained on elongated simulations only.
ELONGATED_FINE_TUNING_MODEL = "elongated"
#: A zero-shot model the user chooses for data with multiple blinking (every
#: molecule localised several times): trained on blinking simulations only. It
#: found more of the true clusters than ``ZERO_SHOT_MODEL`` with its earlier
#: blink-repeat min_samples on three of the benchmark's five blinking scenarios;
#: ``ZERO_SHOT_MODEL`` with the tiled min_samples and two passes of its card does as
#: well (better on both metrics on three, a trade on two), and this model
#: finds almost none of the clusters of data without blinking
#: (doc/pretrained.md). Nothing chooses it automatically: no label-free test of
#: blinking measured so far tells blinking from elongated or hollow clusters.
BLINKING_ZERO_SHOT_MODEL = "blinking"

#: Connectivity radius of the pretrained models, in mean localisation spacings.
RADIUS_IN_SPACINGS = 3.5
#: The label-free DBSCAN's min_samples is at least this many times the mean
#: number of localisations of one molecule (1 + the pair-correlation fit's
#: ``repeat_neighbours``), so that the blink group of a single background
#: molecule is not a cluster. Chosen on 40 simulated FOVs of the training
#: family (mean of ARI-dagger and JI_c; factors 0, 1, 1.5, 2 and 3 tried):
#: without blinking 0.687 -> 0.719, with blinking 0.479 -> 0.541 (factor 0 is
#: the card's fixed min_samples; factor 3: 0.717 and 0.545).
REPEAT_FACTOR = 2.0
#: Length unit of the pretrained models' edge features and outputs, as a
#: fraction of the cluster length scale (the typical RMS radius of a cluster).
UNIT_IN_CLUSTER_RADII = 0.4
#: Side of the eigenvector feature tiles of zero-shot inference (every FOV with
#: the estimators' default ``crop_features=True``, else only FOVs above the
#: tiling threshold), in mean localisation spacings: a tile then holds about
#: FEATURE_TILE_SPACINGS**2 localisations.
FEATURE_TILE_SPACINGS = 45.0


def fov_spacing(X, groups=None):
    """Mean localisation spacing ``sqrt(bounding-box area / n)`` of every FOV.

    Parameters
    ----------
    X : array-like of shape (n, 2)
    groups : array-like of shape (n,), optional
        FOV id of every localisation; absent means one FOV.

    Returns
    -------
    spacing : ndarray of shape (n,)
        The spacing of the FOV of every localisation, in the units of X.

    Raises
    ------
    ValueError
        When a FOV has fewer than 2 localisations or all of them on one point.
    """
    X = check_coordinates(X, min_points=1)
    spacing = np.empty(X.shape[0])
    for fov, idx in split_by_group(groups, X.shape[0]):
        pts = X[idx]
        extent = pts.max(axis=0) - pts.min(axis=0)
        # A collinear FOV has zero area: fall back to its length squared.
        area = extent[0] * extent[1] if np.all(extent > 0) else float(extent.max()) ** 2
        if pts.shape[0] < 2 or area <= 0:
            raise ValueError(
                f"FOV {fov!r} has {pts.shape[0]} localisation(s) spanning no area; a mean "
                "localisation spacing needs at least 2 distinct localisations per FOV."
            )
        spacing[idx] = np.sqrt(area / pts.shape[0])
    return spacing


def kdistance_eps(X, k=4):
    """DBSCAN ``eps`` from the knee of the sorted k-distance curve (label-free).

    The standard rule of Ester et al. (1996) for DBSCAN without labels: sort
    every point's distance to its ``k``-th nearest neighbour, and take the
    distance at the knee of that curve, here the point farthest from the
    chord joining the curve's ends (both axes scaled to [0, 1], the "kneedle"
    construction). Use it with ``min_samples = k + 1`` (the point itself plus
    ``k`` neighbours; ``k = 4`` is the rule's choice in 2-D).

    Parameters
    ----------
    X : array-like of shape (n, 2)
    k : int, default=4

    Returns
    -------
    eps : float
        In the units of X; 0 when the curve is flat (all k-distances equal),
        in which case no knee exists.
    """
    from sklearn.neighbors import NearestNeighbors

    X = check_coordinates(X, min_points=1)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer; got {k!r}.")
    if X.shape[0] <= k:
        raise ValueError(
            f"kdistance_eps needs more than k={k} localisations; got {X.shape[0]}."
        )
    distances = NearestNeighbors(n_neighbors=k + 1).fit(X).kneighbors(X)[0][:, k]
    curve = np.sort(distances)
    span = curve[-1] - curve[0]
    if span <= 0:
        return float(curve[0])
    x = np.linspace(0.0, 1.0, len(curve))
    y = (curve - curve[0]) / span
    # Distance below the chord y = x of the normalised, convex curve.
    return float(curve[np.argmax(x - y)])


def collapse_fov(network, X, n_steps, cluster_radius, spacing=None, step=None, *,
                 steps=None, tile_size="auto", progress=None, crop_features=False):
    """Collapse one FOV with a pretrained network, in its scale-free units.

    Parameters
    ----------
    network : MIRONetwork
    X : ndarray of shape (n, 2)
        One FOV, in nm (or any unit).
    n_steps : int
        Recurrent steps of the model (its card's ``n_steps``).
    cluster_radius : float
        Cluster length scale ``R`` (RMS radius) in the units of X.
    spacing : float, optional
        Mean localisation spacing; computed from X when None.
    step : int, optional
        Step whose output is used (default: the last).
    steps : sequence of int, optional
        Several steps from one run of the network, instead of ``step``.
    tile_size : "auto", None or float, default="auto"
        As for :func:`sklearn_miro.tiling.fov_network_outputs`: FOVs of more
        than 50,000 localisations are run tile by tile (cost linear in their
        size), with eigenvector features per square of
        ``FEATURE_TILE_SPACINGS`` mean spacings; smaller FOVs whole (their
        features too, unless ``crop_features``).
    progress : tqdm-like, optional
        Progress over the localisations of a tiled FOV.
    crop_features : bool, default=False
        Eigenvector features per feature tile on untiled FOVs too.

    Returns
    -------
    X_collapsed : ndarray of shape (n, 2), or (len(steps), n, 2) with ``steps``
        Localisations without a neighbour closer than the connectivity radius
        are not moved.
    """
    X = np.asarray(X, dtype=np.float64)
    s = float(fov_spacing(X)[0]) if spacing is None else float(spacing)
    unit = UNIT_IN_CLUSTER_RADII * float(cluster_radius)
    wanted = [n_steps - 1 if step is None else int(step)] if steps is None else [int(t) for t in steps]
    outputs = fov_network_outputs(
        network, X, connectivity_radius=RADIUS_IN_SPACINGS * s, length_scale=unit,
        steps=wanted, normalization="rms", tile_size=tile_size,
        feature_tile_size=FEATURE_TILE_SPACINGS * s, crop_features=crop_features, progress=progress,
    )
    moved = X[None] - outputs[:, :, :2] * unit
    return moved if steps is not None else moved[0]


def cluster_fov(X_collapsed, cluster_radius, eps_in_radii, min_samples):
    """DBSCAN on collapsed points with ``eps = eps_in_radii * cluster_radius``."""
    from sklearn.cluster import DBSCAN

    return DBSCAN(eps=eps_in_radii * cluster_radius, min_samples=int(min_samples)).fit_predict(
        X_collapsed
    )


def cluster_rms_radius(X, labels):
    """Median RMS radius of the clusters (>= 2 localisations) of ``labels``; nan if none."""
    X = np.asarray(X, dtype=np.float64)
    labels = np.asarray(labels)
    clustered = labels >= 0
    if not clustered.any():
        return float("nan")
    _, codes = np.unique(labels[clustered], return_inverse=True)
    counts = np.bincount(codes)
    pts = X[clustered]
    centroids = np.stack([np.bincount(codes, weights=pts[:, d]) / counts for d in range(2)], axis=1)
    sq = ((pts - centroids[codes]) ** 2).sum(axis=1)
    rms = np.sqrt(np.bincount(codes, weights=sq) / counts)[counts >= 2]
    return float(np.median(rms)) if len(rms) else float("nan")


def estimate_cluster_radius(network, X, n_steps, eps_in_radii, min_samples, *, correction=1.0,
                            initial=None, n_iter=6, spacing=None, tile_size="auto", crop_features=False):
    """Label-free estimate of the cluster length scale ``R`` of one FOV (fixed point).

    Starting from ``initial`` (default: the FOV's mean spacing ``s``), repeat:
    collapse with the current ``R``, cluster the collapsed points with the
    model's DBSCAN rule (``eps = eps_in_radii x R``, ``min_samples``), measure
    the median RMS radius of the found clusters on the original localisations,
    multiply it by ``correction`` (DBSCAN keeps the dense core of a cluster,
    so the measured radius is smaller than the true one: the model card's
    factor is the median ratio true / measured at the true ``R`` on simulated
    FOVs), and move ``R`` half-way there (geometric mean). Stops after
    ``n_iter`` steps or when ``R`` changes by less than 2 %; ``R`` is kept
    within ``[0.1 s, 10 s]``. When no cluster is found the last value is kept.
    ``tile_size`` and ``crop_features`` are passed to :func:`collapse_fov`.

    Returns
    -------
    radius : float
    history : list of float
        The successive values, starting with the initial one.
    """
    X = np.asarray(X, dtype=np.float64)
    s = float(fov_spacing(X)[0]) if spacing is None else float(spacing)
    radius = s if initial is None else float(initial)
    history = [radius]
    for _ in range(n_iter):
        moved = collapse_fov(network, X, n_steps, radius, spacing=s, tile_size=tile_size,
                             crop_features=crop_features)
        labels = cluster_fov(moved, radius, eps_in_radii, min_samples)
        measured = cluster_rms_radius(X, labels) * correction
        if not np.isfinite(measured) or measured <= 0:
            break
        new = float(np.clip(np.sqrt(radius * measured), 0.1 * s, 10 * s))
        history.append(new)
        converged = abs(new / radius - 1) < 0.02
        radius = new
        if converged:
            break
    return radius, history


def _spans_nothing(X):
    """Fewer than 3 localisations, or all on one point: no units can be set."""
    return X.shape[0] < 3 or bool(np.all(X.max(axis=0) - X.min(axis=0) <= 0))


@dataclass
class PretrainedMIRO:
    """A pretrained network used zero-shot: units set per FOV.

    Plays the role of :class:`sklearn_miro.model.FittedMIRO` for an estimator
    returned by ``MIROTransformer.pretrained``: :meth:`collapse` processes
    every FOV in its own units (connectivity radius ``RADIUS_IN_SPACINGS``
    mean spacings; length unit ``UNIT_IN_CLUSTER_RADII`` x the cluster length
    scale, given or estimated per FOV with the card's DBSCAN rule).
    ``connectivity_radius`` and ``length_scale`` are None (they differ per
    FOV); the training statistics are those of the card.
    """

    network: MIRONetwork
    n_steps: int
    name: str
    card: dict
    connectivity_radius: None = None
    length_scale: None = None
    eigenvector_normalization: str = "rms"
    fov_normalization: None = None
    step_scales: np.ndarray | None = None
    distance_unit: float = float("nan")
    fov_density: float = float("nan")
    n_fovs: int = 0
    augmentation_fov_size: None = None
    loss_curve: list = field(default_factory=list)
    validation_loss_curve: list = field(default_factory=list)
    n_epochs: int = 0
    best_epoch: int = -1
    training_time: float = 0.0
    device: str = "cpu"

    def __post_init__(self):
        if self.step_scales is None:
            self.step_scales = np.zeros(self.n_steps, dtype=np.int64)

    @classmethod
    def load(cls, name):
        """The shipped model ``name`` (see :func:`available_models`)."""
        network, card = load_pretrained(name)
        training = card.get("training", {})
        history = training.get("history", [])
        return cls(
            network=network,
            n_steps=int(card["n_steps"]),
            name=name,
            card=card,
            loss_curve=[h["train_loss"] for h in history],
            validation_loss_curve=[h["validation_loss"] for h in history],
            training_time=float(training.get("wall_seconds", 0.0)),
            device=f"pretrained:{name}",
        )

    @property
    def n_outputs(self):
        return self.network.n_outputs

    @property
    def trained_on_blinking(self):
        """Whether every simulation the network was trained on had multiple blinking."""
        return self.card.get("training", {}).get("family") == "blinking"

    @property
    def dbscan_rule(self):
        """(eps in cluster radii, min_samples) of the card."""
        rule = self.card["dbscan"]
        return float(rule["eps_in_radii"]), int(rule["min_samples"])

    @property
    def collapse_passes(self):
        """How many passes of the network the label-free rule clusters after (the card's; 1 if absent).

        A second pass, on the first one's output and in its units, tightens
        the clusters the first left loose; where the card asks for it, it was
        measured on data no rule of the model was fitted on.
        """
        return int(self.card["dbscan"].get("collapse_passes", 1))

    def pair_correlation_fit(self, X):
        """The pair-correlation fit of one validated FOV that the label-free units use.

        :func:`sklearn_miro.parameters.pair_correlation_fit` at the FOV's mean
        spacing; None for a FOV of fewer than 3 localisations or no extent.
        Pass it to :meth:`collapse_fov` and :meth:`dbscan_min_samples` so that
        the two share one fit.
        """
        if _spans_nothing(X):
            return None
        return pair_correlation_fit(X, spacing=float(fov_spacing(X)[0]))

    def fov_connectivity_radius(self, X):
        """The connectivity radius one validated FOV is collapsed with (``RADIUS_IN_SPACINGS``
        mean spacings); NaN for a FOV of fewer than 3 localisations or no extent (left unmoved)."""
        if _spans_nothing(X):
            return float("nan")
        return RADIUS_IN_SPACINGS * float(fov_spacing(X)[0])

    def dbscan_min_samples(self, X, *, fit=None):
        """The label-free ``min_samples`` for one FOV.

        Where the card has a ``min_samples_rule`` (``nanoclusters-long``, the
        zero-shot model): ``max(2, round(factor x (1 + n)))``, ``n`` the FOV's
        extra neighbours per localisation
        (:func:`sklearn_miro.parameters.tiled_excess_neighbours` at the pair
        correlation's cluster radius), ``factor`` fitted on simulations of the
        model's training family (``benchmarks/min_samples_predictors.py``):
        larger and more crowded clusters, and blinking, all raise the density
        a collapsed cluster has and background clumps lack. Where ``n <= 0``
        (few sparse clusters in much background, or a FOV only a few radii
        wide) and for the other models: the card's ``min_samples``, raised to
        ``REPEAT_FACTOR`` times the mean number of localisations of one
        molecule that the FOV's pair correlation shows (multiple blinking,
        :func:`sklearn_miro.parameters.pair_correlation_fit`). ``fit``: the
        FOV's :meth:`pair_correlation_fit`, if already computed.
        """
        if fit is None:
            fit = self.pair_correlation_fit(X)
        blink_repeat = self.blink_repeat_min_samples(fit)
        count_rule = self.card["dbscan"].get("min_samples_rule")
        if fit is not None and count_rule is not None and np.isfinite(fit.radius):
            count = tiled_excess_neighbours(X, fit.radius, tile_radii=float(count_rule["tile_radii"]),
                                            reach=float(count_rule["reach"]))
            # At most `fallback_below` extra neighbours (few sparse clusters in much
            # background, or a FOV only a few radii wide): no count to size min_samples
            # on, so the blink-repeat rule (measured better there than the card's fixed
            # value).
            if count > float(count_rule.get("fallback_below", 0.0)):
                value = max(int(count_rule.get("floor", 2)),
                            int(round(float(count_rule["factor"]) * (1.0 + count))))
                if count_rule.get("blink_floor", False) and fit.repeat_neighbours > 0:
                    # A single molecule's blink group must not pass for a cluster.
                    value = max(value, blink_repeat)
                return value
        return blink_repeat

    def blink_repeat_min_samples(self, fit):
        """The blink-repeat ``min_samples``: the card's, raised with multiple blinking.

        ``max(card's min_samples, ceil(REPEAT_FACTOR x (1 + fit.repeat_neighbours)))``
        where the FOV's :meth:`pair_correlation_fit` ``fit`` shows repeated
        localisations of one molecule, the card's value otherwise (and for
        ``fit=None``). The whole label-free rule of the models without a
        ``min_samples_rule``, and the fallback of those with one
        (:meth:`dbscan_min_samples`). ``REPEAT_FACTOR`` is read at call time.
        """
        rule_min_samples = self.dbscan_rule[1]
        if fit is None or fit.repeat_neighbours <= 0:
            return rule_min_samples
        return max(rule_min_samples, int(np.ceil(REPEAT_FACTOR * (1.0 + fit.repeat_neighbours))))

    def collapse_fov(self, X, cluster_radius=None, *, steps=None, fit=None, verbose=0,
                     tile_size="auto", crop_features=False, passes=1):
        """Collapse one validated FOV; returns (moved, cluster radius used).

        ``steps``: several steps from one network run (``moved`` then has
        shape ``(len(steps), n, 2)``; default: the last step only). ``fit``: the FOV's
        :meth:`pair_correlation_fit`, if already computed (used when
        ``cluster_radius`` is None). ``verbose``: positive for a progress bar
        when the FOV is tiled. ``tile_size``, ``crop_features``: as for
        :func:`collapse_fov` (the estimator's parameters). ``passes``: how many
        times the network runs, each run on the last one's output, all in the
        units of the first: its cluster radius and the FOV's mean spacing (a
        radius estimated again on collapsed points would be a fraction of the
        clusters' size); every pass but the last hands on its last step, and
        ``steps`` applies to the last.
        """
        passes = check_pass_count(passes, "passes", 1, "runs of the network")
        if _spans_nothing(X):
            unmoved = X.copy() if steps is None else np.repeat(X[None], len(steps), axis=0)
            return unmoved, float("nan")
        spacing = float(fov_spacing(X)[0])
        if cluster_radius is None:
            radius = (fit if fit is not None else self.pair_correlation_fit(X)).radius
            if not np.isfinite(radius):
                # No clustering in the pair correlation: the network's own
                # (weaker) estimate still gives a length to work in.
                eps, min_samples = self.dbscan_rule
                radius, _ = estimate_cluster_radius(
                    self.network, X, self.n_steps, eps, min_samples, spacing=spacing,
                    correction=float(self.card["dbscan"].get("radius_correction", 1.0)),
                    tile_size=tile_size, crop_features=crop_features,
                )
        else:
            radius = float(cluster_radius)
        moved = X
        for done in range(passes):
            note = f" (pass {done + 1} of {passes})" if passes > 1 else ""
            with tiled_inference_progress(tile_size, X.shape[0], verbose, note) as bar:
                moved = collapse_fov(self.network, moved, self.n_steps, radius, spacing=spacing,
                                     steps=steps if done == passes - 1 else None, tile_size=tile_size,
                                     progress=bar, crop_features=crop_features)
        return moved, radius

    def collapse(self, X, fov_indices, steps, device=None, cluster_radius=None, verbose=0,
                 tile_size="auto", crop_features=False, passes=1):
        """Like :meth:`sklearn_miro.model.FittedMIRO.collapse`, units per FOV (CPU).

        ``passes``: runs of the network per FOV, as for :meth:`collapse_fov`.

        Returns
        -------
        Collapsed
            ``connected`` is True everywhere (isolated localisations are
            returned unmoved by :func:`collapse_fov`).
        radii : ndarray of shape (len(fov_indices),)
            Cluster length scale used for every FOV.
        """
        n = X.shape[0]
        moved = np.empty((len(steps), n, 2))
        radii = np.full(len(fov_indices), np.nan)
        for k, idx in enumerate(fov_indices):
            # All steps from one network run and one length-scale estimate.
            moved[:, idx], radii[k] = self.collapse_fov(X[idx], cluster_radius, steps=steps,
                                                        verbose=verbose, tile_size=tile_size,
                                                        crop_features=crop_features, passes=passes)
        outputs = np.zeros((len(steps), n, self.n_outputs))
        return Collapsed(moved, outputs, np.ones(n, dtype=bool)), radii

    def __getstate__(self):
        state = dict(self.__dict__)
        state["network"] = network_state(self.network)
        return state

    def __setstate__(self, state):
        state = dict(state)
        state["network"] = network_from_state(state["network"])
        self.__dict__.update(state)


def available_models():
    """Names of the pretrained models shipped with the package."""
    files = resources.files(__name__)
    return sorted(p.name[: -len(".pt")] for p in files.iterdir() if p.name.endswith(".pt"))


def _check_name(name):
    names = available_models()
    if not isinstance(name, str) or name not in names:
        raise ValueError(f"Unknown pretrained model {name!r}; available: {names}.")


def model_info(name):
    """Training settings and measured figures of a pretrained model (its JSON card)."""
    _check_name(name)
    return json.loads(resources.files(__name__).joinpath(f"{name}.json").read_text())


def load_pretrained(name):
    """Load a pretrained network.

    Parameters
    ----------
    name : str
        One of :func:`available_models` (e.g. ``"nanoclusters"``).

    Returns
    -------
    network : MIRONetwork
        On the CPU, in eval mode.
    info : dict
        The model card (settings of the training run, ``n_steps``, units).
    """
    info = model_info(name)
    with resources.as_file(resources.files(__name__).joinpath(f"{name}.pt")) as path:
        state = torch.load(path, map_location="cpu", weights_only=True)
    network = MIRONetwork(**info["network"])
    network.load_state_dict(state)
    return network.eval(), info
