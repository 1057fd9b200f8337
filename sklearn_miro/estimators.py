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

        if isinstance(self.connectivity_radius, str):
            radius = default_connectivity_radius(X, groups)
        else:
            radius = float(self.connectivity_radius)
        side, density = _median_fov_stats(X, groups)

        seed = int(check_random_state(self.random_state).randint(0, 2**31 - 1))
        rng = np.random.default_rng(seed)
        training_set = prepare_training_set(X, labels, groups, classes)
        n_validation = (
            max(1, int(round(self.validation_fraction * self.n_augmented)))
            if self.validation_fraction > 0
            else 0
        )
        started = time.perf_counter()
        with _progress(self.n_augmented + n_validation, "MIRO: building training graphs",
                       self.verbose) as bar:
            graphs = make_training_graphs(
                training_set, self.n_augmented + n_validation, radius, options, rng, progress=bar
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
        self.connectivity_radius_ = radius
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
        if ratio > 2.5:
            warnings.warn(
                f"X has {ratio:.1f} times the localisation density of the training FOVs. "
                "If it holds several fields of view stacked together, pass groups= (the FOV "
                "id of every localisation) so that each FOV is processed on its own; "
                "otherwise their points are mixed into one graph.",
                UserWarning,
                stacklevel=3,
            )

    def _network_outputs(self, X, groups, steps):
        """Raw outputs of the requested steps for every FOV.

        Returns an array of shape (len(steps), n, n_outputs) in network units
        (displacements in units of the connectivity radius) and a boolean mask
        of localisations without any neighbour (isolated nodes).
        """
        device = resolve_device(self.device)
        n = X.shape[0]
        outputs = np.zeros((len(steps), n, self.network_.n_outputs))
        isolated = np.zeros(n, dtype=bool)
        last = max(steps) + 1
        network = self.network_.to(device)
        try:
            with torch.inference_mode():
                for _, idx in split_by_group(groups, n):
                    graph = build_graph(X[idx], self.connectivity_radius_)
                    has_edge = np.zeros(len(idx), dtype=bool)
                    has_edge[graph.edge_index[1]] = True
                    isolated[idx] = ~has_edge
                    if graph.n_edges == 0:
                        continue
                    out = network(
                        torch.from_numpy(graph.node_attr).to(device),
                        torch.from_numpy(graph.edge_index).to(device),
                        torch.from_numpy(graph.edge_attr).to(device),
                        last,
                    )
                    outputs[:, idx] = out[list(steps)].double().cpu().numpy()
        finally:
            self.network_ = network.cpu()
        return outputs, isolated

    def _collapse(self, X, groups, steps):
        """Collapsed coordinates (len(steps), n, 2) in the units of X.

        Isolated localisations (no neighbour closer than the connectivity
        radius, including single-localisation FOVs) carry no information about
        a cluster and are returned unmoved.
        """
        outputs, isolated = self._network_outputs(X, groups, steps)
        moved = X[None] - outputs[..., :2] * self.connectivity_radius_
        moved[:, isolated] = X[isolated]
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
    fitted transformer is given), then clusters the collapsed training FOVs;
    ``predict`` collapses and clusters new FOVs. Every FOV is clustered on its
    own, because FOVs share one coordinate range.

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
    eps : float, default=None
        DBSCAN radius in the units of X, applied to the collapsed coordinates.
        Required unless ``clusterer`` is given.
    min_samples : int, default=5
        DBSCAN ``min_samples``.
    clusterer : estimator, default=None
        Any scikit-learn clusterer with ``fit_predict``, used instead of
        ``DBSCAN(eps, min_samples)``; it is cloned for every FOV.

    Attributes
    ----------
    transformer_ : MIROTransformer or FrozenEstimator
        The fitted transformer used.
    clusterer_ : estimator
        Unfitted template of the clusterer applied to every FOV.
    labels_ : ndarray of shape (n_localizations,)
        Cluster labels of the training data, -1 for background; unique across
        FOVs.
    n_features_in_ : int
        Always 2.
    """

    __metadata_request__fit = {"groups": True}
    __metadata_request__predict = {"groups": True}

    def __init__(self, transformer=None, *, eps=None, min_samples=5, clusterer=None):
        self.transformer = transformer
        self.eps = eps
        self.min_samples = min_samples
        self.clusterer = clusterer

    def _make_clusterer(self):
        if self.clusterer is not None:
            if not hasattr(self.clusterer, "fit_predict"):
                raise ValueError(
                    "clusterer must be a scikit-learn clusterer with a fit_predict method; "
                    f"got {self.clusterer!r}."
                )
            return clone(self.clusterer)
        if self.eps is None:
            raise ValueError(
                "eps is required: the DBSCAN radius applied to the collapsed coordinates, in "
                "the units of X (or pass clusterer=...)."
            )
        check_positive(self.eps, "eps")
        check_positive(self.min_samples, "min_samples", integer=True)
        return DBSCAN(eps=self.eps, min_samples=self.min_samples)

    def fit(self, X, y=None, groups=None):
        """Train the transformer (if needed) and cluster the training FOVs.

        Parameters
        ----------
        X : array-like of shape (n_localizations, 2) or DataFrame
        y : array-like of shape (n_localizations,), optional
            Cluster labels (-1 = background), needed unless the transformer is
            already fitted.
        groups : array-like of shape (n_localizations,), optional
            FOV id of every localisation.

        Returns
        -------
        self : MIROClusterer
        """
        self.clusterer_ = self._make_clusterer()
        X = check_coordinates(X, estimator=self, reset=True, min_points=1)
        groups = check_groups(groups, X.shape[0])
        transformer = MIROTransformer() if self.transformer is None else self.transformer
        if _is_fitted(transformer):
            self.transformer_ = transformer
        else:
            if y is None:
                raise ValueError(
                    "MIROClusterer needs the cluster labels y (-1 = background) to train its "
                    "MIRO transformer, or an already fitted transformer "
                    "(e.g. transformer=FrozenEstimator(fitted_miro))."
                )
            self.transformer_ = clone(transformer).fit(X, y, groups=groups)
        self.labels_ = self._cluster(X, groups)
        return self

    def _transform_fov(self, X_fov):
        return self.transformer_.transform(X_fov)

    def _cluster(self, X, groups):
        labels = np.full(X.shape[0], -1, dtype=np.int64)
        offset = 0
        for _, idx in split_by_group(groups, X.shape[0]):
            collapsed = self._transform_fov(X[idx])
            fov_labels = np.asarray(clone(self.clusterer_).fit_predict(collapsed))
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
        return self._cluster(X, groups)

    def fit_predict(self, X, y=None, groups=None):
        """Fit and return the labels of the training data (``labels_``)."""
        return self.fit(X, y, groups=groups).labels_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        return tags
