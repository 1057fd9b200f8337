"""scikit-learn estimators: :class:`MIROTransformer` and :class:`MIROClusterer`.

``MIROTransformer`` learns, from a few labelled fields of view (FOVs), to move
every localisation of a cluster onto the cluster's centre while leaving
background localisations in place; ``transform`` returns the moved
("collapsed") coordinates in the units of the input. ``MIROClusterer`` chains
it with DBSCAN (or any scikit-learn clusterer), clustering every FOV on its own.

FOVs of an experiment usually share one coordinate range (every image starts at
0 nm), so they must never be processed as one point cloud: pass the FOV id of
every localisation as ``groups``.
"""

from __future__ import annotations

import copy
import numbers
import time
import warnings

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClusterMixin, OneToOneFeatureMixin, TransformerMixin, clone
from sklearn.cluster import DBSCAN
from sklearn.exceptions import NotFittedError
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from ._validation import (
    check_cluster_labels,
    check_coordinates,
    check_groups,
    check_positive,
    split_by_group,
)
from .graph import build_graph, default_connectivity_radius
from .network import MIRONetwork
from .training import (
    AugmentationOptions,
    default_length_scale,
    fit_network,
    make_training_graphs,
    prepare_training_set,
)

__all__ = ["MIROTransformer", "MIROClusterer", "resolve_device"]


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


def _progress(total, desc, verbose):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, disable=not verbose, leave=verbose >= 2 or None,
                dynamic_ncols=True)


_FOV_NORMALIZATIONS = (None, "minmax", "reference")


def _to_model_space(X, fov_normalization):
    """Coordinates the network sees, and the map from them back to output units.

    ``None``: the coordinates as given. ``"minmax"`` and ``"reference"``: each
    axis of the FOV scaled to [0, 1] with its minimum and maximum, as the
    reference implementation does (the aspect ratio is not kept). The inverse
    map of ``"minmax"`` returns to the units of X; that of ``"reference"``
    multiplies by the per-axis maximum of X and adds nothing, which is the
    space in which the authors tuned their DBSCAN ``eps`` (MIRO-REFERENCE.md
    §3.3): roughly nm, scaled by ``max / (max - min)`` and shifted.
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


def _median_fov_stats(X, groups):
    """Median side length and localisation density of the FOVs."""
    sides, densities = [], []
    for _, idx in split_by_group(groups, X.shape[0]):
        pts = X[idx]
        extent = pts.max(axis=0) - pts.min(axis=0)
        sides.append(extent.mean())
        area = np.prod(extent)
        if area > 0:
            densities.append(len(idx) / area)
    side = float(np.median(sides))
    density = float(np.median(densities)) if densities else np.nan
    return side, density


class _BaseMIRO(BaseEstimator):
    """Training and inference machinery shared by the MIRO estimators.

    Subclasses define how labels are validated (``_validate_targets``) and
    which outputs are produced (``_n_outputs``, ``_step_scales``).
    """

    # groups is metadata of fit/transform: request it by default so that it
    # is routed when scikit-learn's metadata routing is enabled.
    __metadata_request__fit = {"groups": True}

    def __init__(
        self,
        *,
        hidden_size=64,
        n_steps=15,
        connectivity_radius="auto",
        length_scale="auto",
        eigenvector_normalization="rms",
        fov_normalization=None,
        alpha=10.0,
        learning_rate=1e-3,
        lr_schedule="cosine",
        max_epochs=20,
        n_augmented=1000,
        batch_size=8,
        augmentation=None,
        validation_fraction=0.1,
        n_iter_no_change=None,
        device="auto",
        random_state=None,
        verbose=1,
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

    # ---- hooks for subclasses -------------------------------------------
    _n_scales = 1
    beta = 0.0

    def _validate_targets(self, y, n_samples, **kwargs):
        """Return (labels of shape (n, n_scales), classes or None)."""
        labels = check_cluster_labels(y, n_samples, name="y")
        return labels[:, None], None

    def _n_outputs(self):
        return 2

    def _step_scales(self):
        return np.zeros(self.n_steps, dtype=np.int64)

    # ---- validation ---------------------------------------------------------
    def _validate_params(self):
        check_positive(self.hidden_size, "hidden_size", integer=True)
        check_positive(self.n_steps, "n_steps", integer=True)
        if not (isinstance(self.connectivity_radius, str) and self.connectivity_radius == "auto"):
            check_positive(self.connectivity_radius, "connectivity_radius")
        if not (isinstance(self.length_scale, str) and self.length_scale in ("auto", "radius")):
            check_positive(self.length_scale, "length_scale")
        if self.eigenvector_normalization not in ("rms", "unit"):
            raise ValueError(
                "eigenvector_normalization must be 'rms' or 'unit'; "
                f"got {self.eigenvector_normalization!r}."
            )
        if self.fov_normalization not in _FOV_NORMALIZATIONS:
            raise ValueError(
                "fov_normalization must be None, 'minmax' or 'reference'; "
                f"got {self.fov_normalization!r}."
            )
        check_positive(self.alpha, "alpha", allow_zero=True)
        check_positive(self.learning_rate, "learning_rate")
        if self.lr_schedule not in ("constant", "cosine"):
            raise ValueError(
                f"lr_schedule must be 'constant' or 'cosine'; got {self.lr_schedule!r}."
            )
        check_positive(self.max_epochs, "max_epochs", integer=True)
        check_positive(self.n_augmented, "n_augmented", integer=True)
        check_positive(self.batch_size, "batch_size", integer=True)
        if not (
            isinstance(self.validation_fraction, numbers.Real)
            and 0 <= self.validation_fraction < 1
        ):
            raise ValueError(
                f"validation_fraction must be in [0, 1); got {self.validation_fraction!r}."
            )
        check_positive(self.n_iter_no_change, "n_iter_no_change", integer=True, allow_none=True)
        if isinstance(self.verbose, bool) or not isinstance(self.verbose, numbers.Integral):
            raise ValueError(f"verbose must be an integer (0 silences the progress bar); got {self.verbose!r}.")
        return AugmentationOptions.from_dict(self.augmentation)

    # ---- fitting ------------------------------------------------------------
    def _fit(self, X, y, groups, **target_kwargs):
        options = self._validate_params()
        device = resolve_device(self.device)
        X = check_coordinates(X, estimator=self, reset=True, min_points=2)
        groups = check_groups(groups, X.shape[0])
        labels, classes = self._validate_targets(y, X.shape[0], **target_kwargs)
        # Density in the user's units: used to detect stacked FOVs later.
        _, density = _median_fov_stats(X, groups)
        if self.fov_normalization is not None:
            # Train in the space the network will see at transform time.
            X = X.copy()
            for _, idx in split_by_group(groups, X.shape[0]):
                X[idx] = _to_model_space(X[idx], self.fov_normalization)[0]

        if isinstance(self.connectivity_radius, str):
            radius = default_connectivity_radius(X, groups)
        else:
            radius = float(self.connectivity_radius)
        side, _ = _median_fov_stats(X, groups)

        seed = int(check_random_state(self.random_state).randint(0, 2**31 - 1))
        rng = np.random.default_rng(seed)
        training_set = prepare_training_set(X, labels, groups, classes)
        if self.length_scale == "radius":
            unit = radius
        elif self.length_scale == "auto":
            unit = default_length_scale(training_set) or radius
        else:
            unit = float(self.length_scale)
        self.connectivity_radius_ = radius
        self.length_scale_ = unit
        n_validation = (
            max(1, int(round(self.validation_fraction * self.n_augmented)))
            if self.validation_fraction > 0
            else 0
        )
        started = time.perf_counter()
        with _progress(self.n_augmented + n_validation, "MIRO: building training graphs",
                       self.verbose) as bar:
            graphs = make_training_graphs(
                training_set,
                self.n_augmented + n_validation,
                radius,
                options,
                rng,
                length_scale=unit,
                normalization=self.eigenvector_normalization,
                progress=bar,
            )
        train_graphs, validation_graphs = graphs[: self.n_augmented], graphs[self.n_augmented :]

        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            torch.manual_seed(seed)
            network = MIRONetwork(self.hidden_size, self._n_outputs())
        n_batches = -(-len(train_graphs) // self.batch_size) * self.max_epochs
        with _progress(n_batches, "MIRO: training", self.verbose) as bar:
            history = fit_network(
                network,
                train_graphs,
                n_steps=self.n_steps,
                step_scales=self._step_scales(),
                alpha=float(self.alpha),
                # The distance term is measured in units of the FOV side, as in
                # the reference where every FOV is normalised to [0, 1]; this
                # keeps alpha on the paper's scale.
                distance_scale=unit / side,
                beta=float(self.beta),
                learning_rate=float(self.learning_rate),
                lr_schedule=self.lr_schedule,
                max_epochs=self.max_epochs,
                batch_size=self.batch_size,
                validation_graphs=validation_graphs,
                n_iter_no_change=self.n_iter_no_change,
                device=device,
                rng=rng,
                progress=bar,
            )
        # Fitted models always live on the CPU, so that a model trained on a
        # GPU pickles and loads on machines without one.
        self.network_ = network.cpu().eval()
        self.distance_unit_ = side
        self.fov_density_ = density
        self.n_fovs_ = len(split_by_group(groups, X.shape[0]))
        self.loss_curve_ = list(history.train_loss)
        self.validation_loss_curve_ = list(history.validation_loss)
        self.n_epochs_ = history.n_epochs
        self.best_epoch_ = history.best_epoch
        self.training_time_ = time.perf_counter() - started
        self.device_ = str(device)
        return self

    # ---- inference ---------------------------------------------------------
    def _check_stacking(self, X, groups):
        """Warn when X looks like several FOVs passed without groups."""
        if groups is not None or not np.isfinite(self.fov_density_) or X.shape[0] < 50:
            return
        extent = X.max(axis=0) - X.min(axis=0)
        area = np.prod(extent)
        if area <= 0:
            return
        ratio = (X.shape[0] / area) / self.fov_density_
        if ratio > 1.8:
            warnings.warn(
                f"X has {ratio:.1f} times the localisation density of the training FOVs. "
                "If it holds several fields of view stacked together, pass groups= (the FOV "
                "id of every localisation) so that each FOV is processed on its own; "
                "otherwise their points are mixed into one graph.",
                UserWarning,
                stacklevel=3,
            )

    def _network_outputs(self, X, groups, steps):
        """Network outputs of the requested steps and collapsed positions, per FOV.

        Returns
        -------
        outputs : ndarray of shape (len(steps), n, n_outputs)
            Raw outputs (displacements in units of ``length_scale_``, in the
            model's coordinate space); 0 for isolated localisations.
        moved : ndarray of shape (len(steps), n, 2)
            Collapsed coordinates, mapped back from the model's space (see
            ``fov_normalization``).
        """
        device = resolve_device(self.device)
        network = self._inference_network(device)
        n = X.shape[0]
        outputs = np.zeros((len(steps), n, self.network_.n_outputs))
        moved = np.empty((len(steps), n, 2))
        last = max(steps) + 1
        with torch.inference_mode():
            for _, idx in split_by_group(groups, n):
                positions, back = _to_model_space(X[idx], self.fov_normalization)
                graph = build_graph(
                    positions,
                    self.connectivity_radius_,
                    length_scale=self.length_scale_,
                    normalization=self.eigenvector_normalization,
                )
                if graph.n_edges:
                    out = network(
                        torch.from_numpy(graph.node_attr).to(device),
                        torch.from_numpy(graph.edge_index).to(device),
                        torch.from_numpy(graph.edge_attr).to(device),
                        last,
                    )
                    out = out[list(steps)].double().cpu().numpy()
                    # Isolated localisations (no neighbour closer than the
                    # radius) carry no information about a cluster: unmoved.
                    has_edge = np.zeros(len(idx), dtype=bool)
                    has_edge[graph.edge_index[1]] = True
                    out[:, ~has_edge] = 0.0
                    outputs[:, idx] = out
                moved[:, idx] = back(positions[None] - outputs[:, idx, :2] * self.length_scale_)
        return outputs, moved

    def _inference_network(self, device):
        """The fitted network on ``device``.

        The fitted ``network_`` always stays on the CPU (so the estimator
        pickles the same everywhere and is never mutated by inference); a copy
        on another device is cached outside the pickled state.
        """
        if device.type == "cpu":
            return self.network_
        cache = self.__dict__.get("_device_network")
        if cache is None or cache[0] != device or cache[1] is not self.network_:
            moved = copy.deepcopy(self.network_).to(device).eval()
            cache = (device, self.network_, moved)
            self.__dict__["_device_network"] = cache
        return cache[2]

    def __getstate__(self):
        # The network is pickled as its configuration and numpy weights: the
        # file then loads with any torch build and device, and the pickle of a
        # model is deterministic (joblib.hash, deepcopy).
        # (BaseEstimator returns the live __dict__: copy before editing.)
        state = dict(super().__getstate__())
        state.pop("_device_network", None)
        network = state.pop("network_", None)
        if network is not None:
            state["_network_state"] = {
                "config": network.config(),
                "weights": {k: v.detach().cpu().numpy() for k, v in network.state_dict().items()},
            }
        return state

    def __setstate__(self, state):
        state = dict(state)
        saved = state.pop("_network_state", None)
        super().__setstate__(state)
        if saved is not None:
            network = MIRONetwork(**saved["config"])
            network.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in saved["weights"].items()})
            self.network_ = network.eval()

    def _collapse(self, X, groups, steps):
        """Collapsed coordinates (len(steps), n, 2) and raw outputs."""
        outputs, moved = self._network_outputs(X, groups, steps)
        return moved, outputs

    def _resolve_step(self, step):
        if step is None:
            return self.n_steps - 1
        if isinstance(step, bool) or not isinstance(step, numbers.Integral) or not (
            -self.n_steps <= step < self.n_steps
        ):
            raise ValueError(
                f"step must be an integer in [{-self.n_steps}, {self.n_steps - 1}] "
                f"(the model has n_steps={self.n_steps}); got {step!r}."
            )
        return int(step) % self.n_steps

    def _prepare_predict_input(self, X, groups):
        check_is_fitted(self, "network_")
        X = check_coordinates(X, estimator=self, reset=False, min_points=1)
        groups = check_groups(groups, X.shape[0])
        self._check_stacking(X, groups)
        return X, groups

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        tags.input_tags.two_d_array = True
        return tags


class MIROTransformer(OneToOneFeatureMixin, TransformerMixin, _BaseMIRO):
    """Collapse the clusters of SMLM point clouds onto their centres with MIRO.

    MIRO (Pineda et al., Nat. Commun. 16, 9693, 2025) is a recurrent graph
    neural network that predicts, for every localisation, the displacement to
    the centre of its cluster (zero for background). It is trained few-shot:
    ``fit`` cuts the labelled clusters out of a few fields of view (FOVs),
    builds ``n_augmented`` synthetic FOVs from them (random rotations,
    reflections, localisation dropout and addition, jitter, random placement,
    background), and trains the network on those. ``transform`` returns the
    moved coordinates, in which clusters are compact and well separated, ready
    for DBSCAN.

    Parameters
    ----------
    hidden_size : int, default=64
        Width of the hidden node and edge representations (the paper uses 256;
        64 trains about 10 times faster on a CPU at a small cost in quality,
        paper Table S8).
    n_steps : int, default=15
        Number of recurrent message-passing steps ``K``: the receptive field,
        in graph hops. Clusters larger than ``n_steps`` hops need more steps.
    connectivity_radius : float or "auto", default="auto"
        Delaunay edges at least this long are dropped; in the units of X
        (usually nm). ``"auto"``: 8 times the mean localisation spacing
        ``sqrt(FOV area / n)`` of the training FOVs (median over FOVs), see
        :func:`sklearn_miro.graph.default_connectivity_radius`. The value used
        is ``connectivity_radius_``.
    length_scale : float, "auto" or "radius", default="auto"
        Length unit of the network's edge features and displacement outputs.
        ``"radius"``: the connectivity radius, as in the reference
        implementation. ``"auto"``: 0.4 times the median root-mean-square
        radius of the training clusters, which makes the targets of order 1;
        training then leaves the trivial "move nothing" solution several times
        sooner (see ``benchmarks/README.md``). The value used is
        ``length_scale_``.
    eigenvector_normalization : {"rms", "unit"}, default="rms"
        Scale of the Laplacian eigenvector node features: ``"unit"`` (unit
        norm over the graph, the reference's choice) makes them shrink like
        ``1/sqrt(n)`` with the size of the FOV; ``"rms"`` keeps them of order 1,
        so a model trained on small synthetic FOVs sees the same feature scale
        on large real ones.
    fov_normalization : {None, "minmax", "reference"}, default=None
        ``None``: work in the units of X. ``"minmax"``: scale each axis of
        every FOV to [0, 1] (by its minimum and maximum) before building the
        graph, as the reference implementation does, and map the output back
        to the units of X; ``connectivity_radius`` is then in those
        normalised units. ``"reference"``: as ``"minmax"``, but ``transform``
        returns the reference's clustering space (normalised output times the
        per-axis maximum of the FOV), in which the authors' published DBSCAN
        ``eps`` values apply. Used by
        :func:`sklearn_miro.load_reference_checkpoint`.
    alpha : float, default=10.0
        Weight of the distance-preservation term of the loss (paper Eq. 6).
        Distances are measured in units of the training FOVs' side length, as
        in the reference implementation where FOVs are normalised to [0, 1].
    learning_rate : float, default=1e-3
        Adam learning rate.
    lr_schedule : {"cosine", "constant"}, default="cosine"
        ``"cosine"`` decays the learning rate to 5 % over the training.
    max_epochs : int, default=20
        Passes over the synthetic training FOVs.
    n_augmented : int, default=1000
        Number of synthetic training FOVs (graphs).
    batch_size : int, default=8
        Graphs per optimisation step.
    augmentation : dict or None, default=None
        Options of the synthetic FOVs, see
        :class:`sklearn_miro.training.AugmentationOptions` (for example
        ``{"fov_size": 1000, "background": "uniform"}``).
    validation_fraction : float, default=0.1
        Extra synthetic FOVs, as a fraction of ``n_augmented``, held out to
        keep the weights of the best epoch. 0 disables it.
    n_iter_no_change : int or None, default=None
        Stop early when the validation loss has not improved for this many
        epochs.
    device : {"auto", "cpu", "cuda"} or torch.device, default="auto"
        Where to train and run the network: ``"auto"`` uses CUDA when
        available. The fitted network is stored on the CPU, so a model
        trained on a GPU loads and runs on a CPU-only machine.
    random_state : int, RandomState instance or None, default=None
        Seeds the augmentation, the initial weights and the shuffling: the
        same value gives the same model on the CPU.
    verbose : int, default=1
        0: silent; 1: progress bars while training.

    Attributes
    ----------
    network_ : MIRONetwork
        The trained network (on the CPU).
    connectivity_radius_ : float
        Connectivity radius used, in the units of X.
    distance_unit_ : float
        Median side of the training FOVs (the unit of the distance loss).
    fov_density_ : float
        Median localisation density of the training FOVs, used to warn when
        several FOVs are passed without ``groups``.
    n_fovs_ : int
        Number of training FOVs.
    loss_curve_, validation_loss_curve_ : list of float
        Mean loss per epoch.
    n_epochs_, best_epoch_ : int
        Epochs run and the (0-based) epoch whose weights were kept.
    training_time_ : float
        Seconds spent building the training graphs and training.
    device_ : str
        Device used for training.
    n_features_in_ : int
        Always 2.
    feature_names_in_ : ndarray of str
        Column names of X when it was a DataFrame.

    See Also
    --------
    MIROClusterer : MIROTransformer followed by DBSCAN, per FOV.

    Examples
    --------
    >>> from sklearn_miro import MIROTransformer
    >>> from sklearn_miro.datasets import make_benchmark_scenario
    >>> X, y, fov = make_benchmark_scenario(6, n_fovs=3, random_state=0)
    >>> miro = MIROTransformer(random_state=0, verbose=0).fit(X, y, groups=fov)  # doctest: +SKIP
    >>> X_collapsed = miro.transform(X_new)  # doctest: +SKIP
    """

    def fit(self, X, y, groups=None):
        """Train MIRO on labelled FOVs.

        Parameters
        ----------
        X : array-like of shape (n_localizations, 2) or DataFrame
            Coordinates (usually nm). A DataFrame is reduced to its x and y columns.
        y : array-like of shape (n_localizations,)
            Integer cluster label of every localisation, -1 for background
            (scikit-learn's noise convention). At least one cluster is needed.
        groups : array-like of shape (n_localizations,), optional
            FOV id of every localisation; absent means one FOV.

        Returns
        -------
        self : MIROTransformer
        """
        return self._fit(X, y, groups)

    def transform(self, X, groups=None, step=None):
        """Move every localisation towards the centre of its cluster.

        Parameters
        ----------
        X : array-like of shape (n_localizations, 2) or DataFrame
            Coordinates in the units used for training.
        groups : array-like of shape (n_localizations,), optional
            FOV id of every localisation: each FOV is processed as its own graph.
        step : int, optional
            Recurrent step whose prediction is used (default: the last one).

        Returns
        -------
        X_collapsed : ndarray of shape (n_localizations, 2)
            Collapsed coordinates in the units of X. Localisations without any
            neighbour closer than the connectivity radius are not moved.
        """
        X, groups = self._prepare_predict_input(X, groups)
        moved, _ = self._collapse(X, groups, [self._resolve_step(step)])
        return moved[0]

    def fit_transform(self, X, y=None, groups=None):
        """Fit, then transform the training data (each FOV on its own).

        When several FOVs are given, the output of each FOV keeps its own
        coordinates, so the FOVs overlap: a clusterer applied to the stacked
        output (for example DBSCAN as the next step of a Pipeline) mixes them.
        :class:`MIROClusterer` clusters each FOV separately.
        """
        self.fit(X, y, groups=groups)
        Xt = self.transform(X, groups=groups)
        if self.n_fovs_ > 1:
            warnings.warn(
                f"fit_transform got {self.n_fovs_} FOVs; their collapsed coordinates share one "
                "coordinate range, so a clusterer fitted on this output (e.g. DBSCAN after "
                "MIROTransformer in a Pipeline) sees the FOVs on top of each other. Use "
                "MIROClusterer, which clusters every FOV on its own.",
                UserWarning,
                stacklevel=2,
            )
        return Xt


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
    from .metrics import ari_dagger, jaccard_cluster_index

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
        ``"auto"`` chooses it on the labelled training FOVs (see Notes).
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
        collapsed = [self._transform_fov(X[idx]) for idx in fov_indices]
        self.tuning_scores_ = None
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

    def _tune(self, X, labels, fov_indices, collapsed):
        radius = _transformer_radius(self.transformer_)
        eps_grid = (
            _EPS_FRACTIONS * radius if self.eps == "auto" else np.array([float(self.eps)])
        )
        if self.min_samples == "auto":
            sizes = np.bincount(labels[labels >= 0])
            typical = max(2, int(np.median(sizes[sizes > 0])))
            ms_grid = _MIN_SAMPLES_GRID[_MIN_SAMPLES_GRID <= typical]
            if len(ms_grid) == 0:
                ms_grid = _MIN_SAMPLES_GRID[:1]
        else:
            ms_grid = np.array([int(self.min_samples)])
        fovs = [(X[idx], c, labels[idx]) for idx, c in zip(fov_indices, collapsed)]
        (eps, min_samples, _), scores = tune_dbscan(fovs, eps_grid, ms_grid)
        self.eps_, self.min_samples_ = eps, min_samples
        self.tuning_scores_ = scores
        self.eps_grid_, self.min_samples_grid_ = eps_grid, ms_grid

    def _transform_fov(self, X_fov):
        return self.transformer_.transform(X_fov)

    def _cluster_collapsed(self, fov_indices, collapsed, n):
        labels = np.full(n, -1, dtype=np.int64)
        offset = 0
        for idx, points in zip(fov_indices, collapsed):
            fov_labels = np.asarray(clone(self.clusterer_).fit_predict(points))
            labels[idx] = _offset_labels(fov_labels, offset)
            if (fov_labels >= 0).any():
                offset += int(fov_labels.max()) + 1
        return labels

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
