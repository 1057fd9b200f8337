"""Load the MIRO authors' pretrained checkpoints into sklearn_miro estimators.

The reference implementation (DeepTrackAI/MIRO, built on deeplay) saves plain
PyTorch state dicts with 14 tensors whose names follow deeplay's module tree
(encoders, processor, head, each an MLP of linear layers). :func:`load_reference_checkpoint` maps every one of
them onto :class:`~sklearn_miro.network.MIRONetwork` and returns a fitted
estimator that reproduces the reference's inference:

* every FOV is min-max normalised per axis to [0, 1] (``fov_normalization``),
  the graph is built there with the checkpoint's connectivity radius (in those
  normalised units) and the edge features and outputs are in units of that
  radius (``length_scale="radius"``);
* node features are unit-norm Laplacian eigenvectors
  (``eigenvector_normalization="unit"``);
* ``transform`` returns either the reference's clustering space
  (``output="reference"``: normalised collapsed coordinates times the FOV's
  per-axis maximum, where the published DBSCAN ``eps`` values apply) or nm
  (``output="nm"``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .graph import N_EIGENVECTORS
from .model import FittedMIRO
from .network import MIRONetwork

__all__ = ["REFERENCE_KEY_MAP", "load_reference_checkpoint"]

# deeplay module path in the reference checkpoints -> our module name.
REFERENCE_KEY_MAP = {
    "model.encoder.0.blocks.0.layer": "node_encoder",
    "model.encoder.1.blocks.0.layer": "edge_encoder",
    "model.backbone.layer.0.0.blocks.0.layer": "node_dense",
    "model.backbone.layer.0.1.blocks.0.layer": "edge_dense",
    "model.backbone.layer.1.blocks.0.transform.layer": "message",
    "model.backbone.layer.1.blocks.0.update.blocks.0.layer": "update",
    "model.backbone.head.blocks.0.layer": "head",
}


# Edge features of the reference graphs: [dx, dy, distance] / r.
N_EDGE_FEATURES = 3
# our parameter name -> the reference's key, for error messages.
_REFERENCE_NAMES = {
    f"{name}.{p}": f"{prefix}.{p}"
    for prefix, name in REFERENCE_KEY_MAP.items()
    for p in ("weight", "bias")
}


def _leading_dim(tensor):
    """First dimension of a tensor, or None for a scalar."""
    return int(tensor.shape[0]) if tensor.dim() >= 1 else None


def _convert_state_dict(state, path):
    """Reference state dict -> MIRONetwork state dict, with exact checks."""
    if not isinstance(state, dict):
        raise ValueError(
            f"{path} does not hold a state dict (a mapping of tensor names to tensors); "
            f"got {type(state).__name__}."
        )
    expected = {f"{prefix}.{p}" for prefix in REFERENCE_KEY_MAP for p in ("weight", "bias")}
    missing = sorted(expected - set(state))
    unknown = sorted((k for k in state if k not in expected), key=str)
    if missing or unknown:
        parts = []
        if missing:
            parts.append(f"missing keys {missing}")
        if unknown:
            parts.append(f"unknown keys {unknown}")
        raise ValueError(
            f"{path} is not a MIRO reference checkpoint: " + "; ".join(parts) + "."
        )
    converted = {}
    for prefix, name in REFERENCE_KEY_MAP.items():
        for p in ("weight", "bias"):
            tensor = state[f"{prefix}.{p}"]
            if not isinstance(tensor, torch.Tensor):
                raise ValueError(f"{path}: {prefix}.{p} is not a tensor.")
            converted[f"{name}.{p}"] = tensor.detach().to("cpu", torch.float32)
    not_finite = [_REFERENCE_NAMES[k] for k, v in converted.items() if not torch.isfinite(v).all()]
    if not_finite:
        raise ValueError(f"{path}: non-finite (NaN or infinite) values in {not_finite}.")
    # The hidden size and the number of outputs are read from the update and
    # head layers; the input widths are fixed by the graph features (5
    # Laplacian eigenvectors, 3 edge columns), so a checkpoint with other
    # widths cannot run on our graphs and is reported as a shape mismatch.
    hidden = _leading_dim(converted["update.weight"]) or _leading_dim(converted["update.bias"])
    n_outputs = _leading_dim(converted["head.weight"]) or _leading_dim(converted["head.bias"])
    if not hidden or not n_outputs:
        raise ValueError(
            f"{path}: cannot read the hidden size and the number of outputs from "
            f"{_REFERENCE_NAMES['update.weight']} {tuple(converted['update.weight'].shape)} and "
            f"{_REFERENCE_NAMES['head.weight']} {tuple(converted['head.weight'].shape)}."
        )
    network = MIRONetwork(hidden, n_outputs, N_EIGENVECTORS, N_EDGE_FEATURES)
    wanted = {k: tuple(v.shape) for k, v in network.state_dict().items()}
    mismatched = [
        f"{_REFERENCE_NAMES[k]}: checkpoint {tuple(v.shape)}, expected {wanted[k]}"
        for k, v in converted.items()
        if tuple(v.shape) != wanted[k]
    ]
    if mismatched:
        raise ValueError(
            f"{path}: tensor shapes do not fit a MIRO network with hidden size {hidden}, "
            f"{n_outputs} outputs, {N_EIGENVECTORS} node and {N_EDGE_FEATURES} edge features: "
            f"{mismatched}."
        )
    network.load_state_dict(converted)
    return network.eval()


def load_reference_checkpoint(
    path,
    *,
    n_steps,
    connectivity_radius,
    kind=None,
    output="reference",
    device="auto",
):
    """Load a checkpoint of the MIRO authors as a fitted sklearn_miro estimator.

    Parameters
    ----------
    path : str or path-like
        A ``.pt`` state dict saved by the reference implementation (e.g.
        ``benchmark_scenario_6.pt``). Loaded with ``weights_only=True``.
    n_steps : int
        Recurrent steps, exactly as the reference metadata gives them
        (``recurrent_iterations``); not stored in the files.
    connectivity_radius : float
        Radius in the reference's normalised units (FOVs scaled to [0, 1]),
        exactly as the metadata gives it (e.g. 0.2).
    kind : {None, "miro", "multiscale", "multishape"}, default=None
        ``None`` infers it from the head: 2 outputs -> "miro", more ->
        "multishape". The multiscale checkpoint has the same tensors as a
        benchmark one: pass ``kind="multiscale"``. For "multiscale" and
        "multishape" (the authors use ``n_steps=20, connectivity_radius=0.2``)
        the radius is in the reference's unit of those models, nm / 2000
        (those models skip the per-FOV min-max normalisation), and the returned
        estimator works in nm: ``output`` makes no difference there.
    output : {"reference", "nm"}, default="reference"
        Space of ``transform``'s output: ``"reference"`` is the authors'
        clustering space, in which the metadata's MIRO ``eps`` values apply;
        ``"nm"`` maps the collapsed points back to the input's units exactly.
    device : str, default="auto"
        Device for inference.

    Returns
    -------
    MIROTransformer, MultiscaleMIROTransformer or MIROShapeClassifier
        Fitted; it takes coordinates in nm (one FOV, or several with
        ``groups``).

        - "miro": a :class:`~sklearn_miro.MIROTransformer`;
        - "multiscale": a :class:`~sklearn_miro.estimators.MultiscaleMIROTransformer`
          with ``k_star=10`` and scales ``("corners", "rings")`` (read at steps
          10 and 20); wrap it in ``MultiscaleMIROClusterer(transformer=...,
          eps=(4, 30), min_samples=(4, 16))``, the authors' values for
          experimental NPC data (Table S2);
        - "multishape": a :class:`~sklearn_miro.MIROShapeClassifier` with
          classes ``["background", "ellipse", "spot"]`` (the checkpoint's
          background, elliptical and circular outputs) and DBSCAN
          ``eps_=26`` nm, ``min_samples_=5`` for :meth:`predict_clusters`.

    Raises
    ------
    ValueError
        For a file that is not a MIRO checkpoint: unknown or missing keys and
        shape mismatches are named.
    """
    from .estimators import MIROTransformer

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Checkpoint not found: {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ValueError(
            f"Could not read {path} as a PyTorch checkpoint ({type(exc).__name__}: {exc}); "
            "give the .pt file of one of the authors' trained networks."
        ) from exc
    network = _convert_state_dict(state, path)
    if kind is None:
        kind = "miro" if network.n_outputs == 2 else "multishape"
    if kind not in ("miro", "multiscale", "multishape"):
        raise ValueError(f"kind must be None, 'miro', 'multiscale' or 'multishape'; got {kind!r}.")
    if output not in ("reference", "nm"):
        raise ValueError(f"output must be 'reference' or 'nm'; got {output!r}.")
    try:
        radius_value = float(connectivity_radius)
    except (TypeError, ValueError):
        radius_value = float("nan")
    if not (np.isfinite(radius_value) and 0 < radius_value < 1):
        # The authors' radii are in normalised units (a FOV scaled to [0, 1], or nm / 2000):
        # a radius in nm (e.g. 400) loads and then moves points thousands of nm.
        unit = ("the FOV scaled to [0, 1]: a radius in nm divided by the FOV side" if kind == "miro"
                else f"nm / {REFERENCE_LENGTH_UNIT_NM:g}")
        raise ValueError(
            f"connectivity_radius must be in the authors' normalised units ({unit}), a number "
            f"between 0 and 1 such as 0.2; got {connectivity_radius!r}."
        )
    if kind == "multiscale":
        return _load_multiscale(network, n_steps, connectivity_radius, path, device)
    if kind == "multishape":
        return _load_multishape(network, n_steps, connectivity_radius, path, device)
    if kind == "miro" and network.n_outputs != 2:
        raise ValueError(
            f"{path.name} has {network.n_outputs} outputs per node; a MIRO displacement "
            "checkpoint has 2."
        )
    estimator = MIROTransformer(
        hidden_size=network.hidden_size,
        n_steps=n_steps,
        connectivity_radius=connectivity_radius,
        length_scale="radius",
        eigenvector_normalization="unit",
        fov_normalization="reference" if output == "reference" else "minmax",
        device=device,
        verbose=0,
        crop_features=False,  # the authors' inference: features of the whole FOV
    )
    return _with_model(estimator, network, connectivity_radius, path)


# The multiscale and multishape models work on positions in nm / 2000, with no
# min-max normalisation (the authors' NPC and multishape tutorials divide the
# positions by 2000): their radius and DBSCAN eps are in that unit.
REFERENCE_LENGTH_UNIT_NM = 2000.0
# Multiscale (NPC) tutorial: k* = 10 (cutoff_iterations), readout at steps 10
# and 20; DBSCAN eps/min_samples of the corners and of the rings (Table S2,
# "experimental"), in nm.
_MULTISCALE_K_STAR = 10
_MULTISCALE_DBSCAN = {"eps": (4.0, 30.0), "min_samples": (4, 16)}
# Multishape: head columns 2..4 are background, circular and elliptical
# (the authors' order), i.e. the "background", "spot" and "ellipse" classes of
# sklearn_miro.datasets.make_multishape; validation DBSCAN eps 0.013 (x 2000 nm
# = 26 nm, Table S2) and min_samples 5.
_MULTISHAPE_CLASSES = ("background", "spot", "ellipse")
_MULTISHAPE_DBSCAN = {"eps": 0.013 * REFERENCE_LENGTH_UNIT_NM, "min_samples": 5}


def _load_multiscale(network, n_steps, connectivity_radius, path, device):
    """The multiscale (NPC) checkpoint as a fitted MultiscaleMIROTransformer, in nm.

    The reference builds the graph on nm / 2000 with radius r and collapses
    with ``p - y r``, then multiplies by 2000 (``scaling``) before DBSCAN. In
    nm this is the graph with radius ``2000 r`` and displacements in units of
    ``2000 r``: the same computation, so ``output="reference"`` and ``"nm"``
    coincide.
    """
    from .estimators import MultiscaleMIROTransformer
    from .estimators._multiscale import resolve_cutoffs, scale_attributes, step_supervision

    if network.n_outputs != 2:
        raise ValueError(
            f"{path.name} has {network.n_outputs} outputs per node; the multiscale checkpoint "
            "has 2 (both scales come from the same head, at different steps)."
        )
    cutoffs = resolve_cutoffs(_MULTISCALE_K_STAR, n_steps, 2)
    radius = float(connectivity_radius) * REFERENCE_LENGTH_UNIT_NM
    estimator = MultiscaleMIROTransformer(
        k_star=_MULTISCALE_K_STAR,
        readout_steps="cutoff",  # no labelled FOVs to choose on: the authors' k* - 1
        scale_names=("corners", "rings"),
        hidden_size=network.hidden_size,
        n_steps=n_steps,
        connectivity_radius=radius,
        length_scale=radius,
        eigenvector_normalization="unit",
        fov_normalization=None,
        device=device,
        verbose=0,
        crop_features=False,  # the authors' inference: features of the whole FOV
    )
    _with_model(estimator, network, radius, path, step_scales=step_supervision(cutoffs, n_steps))
    for name, value in scale_attributes(cutoffs, ("corners", "rings"), n_steps).items():
        setattr(estimator, name, value)
    estimator.step_compression_ = np.full((2, n_steps), np.nan)  # no labelled FOVs were measured
    return estimator


def _load_multishape(network, n_steps, connectivity_radius, path, device):
    """The multishape checkpoint as a fitted MIROShapeClassifier, in nm."""
    from .estimators import MIROShapeClassifier
    from .estimators._shape import class_attributes

    n_classes = network.n_outputs - 2
    if n_classes != len(_MULTISHAPE_CLASSES):
        raise ValueError(
            f"{path.name} has {n_classes} class outputs; the reference multishape checkpoint "
            f"has {len(_MULTISHAPE_CLASSES)} ({', '.join(_MULTISHAPE_CLASSES)})."
        )
    radius = float(connectivity_radius) * REFERENCE_LENGTH_UNIT_NM
    estimator = MIROShapeClassifier(
        beta=0.1,
        eps=_MULTISHAPE_DBSCAN["eps"],
        min_samples=_MULTISHAPE_DBSCAN["min_samples"],
        border_points="cluster",  # the authors cluster with DBSCAN and take the vote
        cluster_classes="vote",
        hidden_size=network.hidden_size,
        n_steps=n_steps,
        connectivity_radius=radius,
        length_scale=radius,
        eigenvector_normalization="unit",
        fov_normalization=None,
        device=device,
        verbose=0,
        crop_features=False,  # the authors' inference: features of the whole FOV
    )
    _with_model(estimator, network, radius, path)
    for name, value in class_attributes(_MULTISHAPE_CLASSES, "background").items():
        setattr(estimator, name, value)
    estimator.eps_ = float(_MULTISHAPE_DBSCAN["eps"])
    estimator.min_samples_ = int(_MULTISHAPE_DBSCAN["min_samples"])
    estimator.border_points_, estimator.border_point_scores_ = "cluster", None
    estimator.cluster_classes_, estimator.cluster_classifier_ = "vote", None
    estimator.cluster_class_scores_ = None
    return estimator


def _with_model(estimator, network, connectivity_radius, path, step_scales=None):
    """Give ``estimator`` the fitted model of a network read from a file.

    The network takes the same :class:`~sklearn_miro.model.FittedMIRO` as a
    trained one: length unit = connectivity radius, no training history.
    """
    estimator._validate_params()
    estimator.model_ = FittedMIRO(
        network=network,
        n_steps=int(estimator.n_steps),
        connectivity_radius=float(connectivity_radius),
        length_scale=float(connectivity_radius),
        eigenvector_normalization=estimator.eigenvector_normalization,
        fov_normalization=estimator.fov_normalization,
        step_scales=step_scales,
        device=f"checkpoint {Path(path).name}",
    )
    estimator.n_features_in_ = 2
    return estimator
