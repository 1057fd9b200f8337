"""Shared machinery of the MIRO estimators: devices, coordinate spaces, training and inference."""

from __future__ import annotations

import copy
import numbers
import time
import warnings
from dataclasses import replace

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from .._validation import (
    check_cluster_labels,
    check_coordinates,
    check_groups,
    check_positive,
    split_by_group,
)
from ..graph import build_graph, default_connectivity_radius
from ..network import MIRONetwork
from ..training import (
    AugmentationOptions,
    default_fov_size,
    default_length_scale,
    fit_network,
    make_training_graphs,
    prepare_training_set,
)

__all__ = ["resolve_device"]


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
        max_epochs=12,
        n_augmented=2000,
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
    def _fit(self, X, y, groups, initial_state=None, **target_kwargs):
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
        if options.fov_size == "auto":
            # Density in the space the network is trained in.
            _, model_density = _median_fov_stats(X, groups)
            options = replace(options, fov_size=default_fov_size(training_set, model_density))
        self.augmentation_fov_size_ = (
            float(options.fov_size) if options.fov_size is not None else None
        )
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
        if initial_state is not None:
            # Fine-tuning / warm start: same architecture, given weights.
            network.load_state_dict(initial_state)
        n_batches = -(-len(train_graphs) // self.batch_size) * self.max_epochs
        with _progress(n_batches, "MIRO: training", self.verbose) as bar:
            history = fit_network(
                network,
                train_graphs,
                n_steps=self.n_steps,
                step_scales=self._step_scales(),
                alpha=float(self.alpha),
                # Both loss terms are computed in units of length_scale. The
                # reference measures displacements in units of r and edge
                # lengths in units of the FOV side (FOVs normalised to [0, 1]),
                # i.e. the distance term weighs alpha * r / side relative to
                # the displacement term; keep that ratio so that alpha has the
                # paper's meaning whatever length unit the network uses.
                distance_scale=radius / side,
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
