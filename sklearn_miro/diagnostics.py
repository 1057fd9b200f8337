"""Did training learn anything? Figures that tell a useful network from "move nothing".

Under MIRO's L1 loss, predicting a zero displacement for every localisation
("move nothing") is a strong attractor: about half of the localisations are
background with a zero target, and a network that cannot yet tell clusters
from background lowers the loss most by staying still. A network stuck there
makes MIRO + DBSCAN plain DBSCAN, silently. Two figures detect it:

* **compression** (:func:`cluster_compression`): on labelled FOVs, the median
  distance of the clustered localisations to their cluster's centre after the
  collapse divided by the same median before it. 1 means the clusters were
  not collapsed at all; a useful network gives well below 1 (0.1-0.5 on the
  benchmark scenarios).
* **relative loss** (:func:`zero_displacement_loss`): the training loss of
  the network divided by the loss of predicting zero everywhere, on the same
  graphs. Close to 1 means the network does no better than standing still.

:func:`check_move_nothing` turns the compression into a
:class:`MoveNothingWarning`, with both numbers and what to try. Only the
compression decides by default: it measures what "move nothing" means for the
user (the labelled clusters are left as they were), while a relative loss
near 1 also comes with networks that do collapse the clusters and beat DBSCAN.
On blinking scenario 5 the fine-tuned networks of three seeds had relative
losses of 0.90-0.91 but compressed the training clusters to 0.56-0.58 of their
size, and MIRO + DBSCAN beat plain DBSCAN on ARI-dagger, JI_c and RMSRE_N;
every stalled fit we measured had a compression of 1.00.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from ._validation import caller_stacklevel

__all__ = [
    "COMPRESSION_THRESHOLD",
    "MoveNothingWarning",
    "check_move_nothing",
    "cluster_compression",
    "distances_to_centres",
    "zero_displacement_loss",
]

#: Compression (median distance to the cluster centre after / before the
#: collapse) at or above which a fitted network counts as "moving nothing".
COMPRESSION_THRESHOLD = 0.8


class MoveNothingWarning(UserWarning):
    """Training ended near the trivial solution that moves no localisation.

    MIRO followed by DBSCAN is then plain DBSCAN. Raised by
    :func:`check_move_nothing` (called at the end of every MIRO fit) with the
    measured compression of the training clusters and the loss relative to
    the "move nothing" loss.
    """


def distances_to_centres(X, X_moved, labels, groups=None, *, background=-1):
    """Distances of the clustered localisations to their cluster's centre, before and after a collapse.

    The centre of a cluster (a (FOV, label) pair) is the centroid of its
    positions *before* the collapse.

    Parameters
    ----------
    X : ndarray of shape (n, 2)
    X_moved : ndarray of shape (n, 2) or (n_steps, n, 2)
        The positions after the collapse, or after each of several steps.
    labels : ndarray of shape (n,)
    groups : ndarray of shape (n,), optional
    background : int, default=-1

    Returns
    -------
    before : ndarray of shape (m,)
        For the m clustered localisations.
    after : ndarray of shape (m,) or (n_steps, m)
    """
    X = np.asarray(X, dtype=np.float64)
    X_moved = np.asarray(X_moved, dtype=np.float64)
    labels = np.asarray(labels)
    if X.ndim != 2 or X.shape[1] != 2 or X_moved.shape[-2:] != X.shape or len(labels) != len(X):
        raise ValueError(
            "X must have shape (n, 2), X_moved (n, 2) or (n_steps, n, 2) and labels (n,); got "
            f"{X.shape}, {X_moved.shape} and {labels.shape}."
        )
    groups = np.zeros(len(X), dtype=np.int64) if groups is None else np.asarray(groups)
    if len(groups) != len(X):
        raise ValueError(f"groups must have one entry per localisation ({len(X)}); got {len(groups)}.")
    clustered = labels != background
    if not clustered.any():
        return np.empty(0), np.empty(X_moved.shape[:-2] + (0,))
    keys = np.stack([np.unique(groups, return_inverse=True)[1].reshape(-1),
                     np.unique(labels, return_inverse=True)[1].reshape(-1)], axis=1)[clustered]
    _, cluster = np.unique(keys, axis=0, return_inverse=True)
    cluster = cluster.reshape(-1)
    counts = np.bincount(cluster)
    pts = X[clustered]
    centres = np.stack([np.bincount(cluster, weights=pts[:, d]) / counts for d in range(2)], axis=1)[cluster]
    before = np.linalg.norm(pts - centres, axis=1)
    after = np.linalg.norm(X_moved[..., clustered, :] - centres, axis=-1)
    return before, after


def cluster_compression(X, X_moved, labels, groups=None, *, background=-1):
    """How much a collapse shrinks labelled clusters.

    Parameters
    ----------
    X : ndarray of shape (n, 2)
        Coordinates before the collapse.
    X_moved : ndarray of shape (n, 2)
        The same localisations after it (e.g. ``MIROTransformer.transform``).
    labels : ndarray of shape (n,)
        True cluster labels, ``background`` for unclustered localisations.
    groups : ndarray of shape (n,), optional
        FOV id of every localisation: a cluster is a (FOV, label) pair.
    background : int, default=-1

    Returns
    -------
    dict
        ``"before"``, ``"after"``: median distance of the clustered
        localisations to the centroid of their cluster (the centroid of the
        positions *before* the collapse), in the units of X;
        ``"compression"``: ``after / before`` (1 = not collapsed, 0 = every
        cluster collapsed onto its centre; NaN without a cluster of at least
        two distinct points); ``"background_shift"``: median distance moved by
        the background localisations divided by ``before`` (NaN without
        background).
    """
    X = np.asarray(X, dtype=np.float64)
    X_moved = np.asarray(X_moved, dtype=np.float64)
    labels = np.asarray(labels)
    if X.shape != X_moved.shape or X.ndim != 2 or X.shape[1] != 2 or len(labels) != len(X):
        raise ValueError(
            "X and X_moved must both have shape (n, 2) and labels shape (n,); got "
            f"{X.shape}, {X_moved.shape} and {labels.shape}."
        )
    before_d, after_d = distances_to_centres(X, X_moved, labels, groups, background=background)
    clustered = labels != background
    result = {"before": np.nan, "after": np.nan, "compression": np.nan, "background_shift": np.nan}
    if clustered.any():
        before, after = float(np.median(before_d)), float(np.median(after_d))
        result.update(before=before, after=after)
        if before > 0:
            result["compression"] = after / before
    if (~clustered).any() and np.isfinite(result["before"]) and result["before"] > 0:
        shift = np.linalg.norm(X_moved[~clustered] - X[~clustered], axis=1)
        result["background_shift"] = float(np.median(shift)) / result["before"]
    return result


def zero_displacement_loss(batches, loss_fn, n_steps, n_outputs=2):
    """Loss of the "move nothing" prediction, node-weighted over batches.

    Parameters
    ----------
    batches : iterable of TrainingGraph
        Batches of training or validation graphs (see
        :func:`sklearn_miro.training.collate`).
    loss_fn : callable
        ``loss_fn(outputs, batch)`` returning the scalar loss for network
        outputs of shape ``(n_steps, N, n_outputs)``, e.g.
        ``lambda out, b: miro_loss(out, b, step_scales, alpha, distance_scale)``
        (:func:`sklearn_miro.training.miro_loss`); it is called with all
        outputs zero.
    n_steps : int
        Recurrent steps of the network.
    n_outputs : int, default=2
        Output columns (2 displacements, plus class logits for shapes).

    Returns
    -------
    float
        Mean loss per node (the weighting of the validation loss in
        :func:`sklearn_miro.training.fit_network`).
    """
    total, count = 0.0, 0
    with torch.no_grad():
        for batch in batches:
            zeros = torch.zeros((n_steps, batch.n_nodes, n_outputs), dtype=batch.positions.dtype,
                                device=batch.positions.device)
            total += float(loss_fn(zeros, batch)) * batch.n_nodes
            count += batch.n_nodes
    return total / max(count, 1)


def check_move_nothing(compression, relative_loss, *, compression_threshold=COMPRESSION_THRESHOLD,
                       relative_loss_threshold=None, started_from=None, retried=False, stacklevel=None,
                       can_start_pretrained=True, scale_name=None, one_fov=False):
    """Warn with :class:`MoveNothingWarning` when a fit ended near "move nothing".

    Parameters
    ----------
    compression : float
        :func:`cluster_compression`'s ``"compression"`` on the training FOVs.
    relative_loss : float
        Final (best) loss divided by the zero-displacement loss; reported in
        the message.
    compression_threshold : float, default=COMPRESSION_THRESHOLD
        The fit is flagged when the compression is at or above it.
    relative_loss_threshold : float or None, default=None
        When given, a relative loss at or above it flags the fit too. None
        (the default): the relative loss alone never does, because it is
        also high for networks that collapse the clusters well enough to
        beat DBSCAN (module docstring).
    started_from : str or None, default=None
        What training started from (``FittedMIRO.started_from``): None (random
        weights) adds the advice to start from the pretrained model.
    retried : bool, default=False
        Whether a second training on thinned background was tried
        (``FittedMIRO.retry_relative_loss`` is not NaN), kept or not: either
        way the network still moves nothing, and the message says so.
    stacklevel : int or None, default=None
        None: the warning points at the first line outside sklearn_miro,
        scikit-learn and joblib (the line that called fit, through a Pipeline
        or a search too). An int counts from the caller of this function (1:
        the line that called it).
    can_start_pretrained : bool, default=True
        Whether the estimator can start from a pretrained model (has ``init``):
        the advice to do so is given only then.
    scale_name : str or None, default=None
        The scale whose clusters the compression was measured on (the
        coarsest, for a multiscale model), named in the message.
    one_fov : bool, default=False
        Whether the fit was given no ``groups``: the message then says that
        several FOVs stacked on one coordinate range must be told apart.

    Returns
    -------
    bool
        True when the warning was issued.
    """
    stuck_compression = np.isfinite(compression) and compression >= compression_threshold
    stuck_loss = (relative_loss_threshold is not None and np.isfinite(relative_loss)
                  and relative_loss >= relative_loss_threshold)
    if not (stuck_compression or stuck_loss):
        return False
    advice = (
        "Start from the pretrained weights (init='auto' with the default network settings, "
        "or init='nanoclusters'), which leaves this solution where random weights do not; or "
        if started_from is None and can_start_pretrained
        else "Try "
    )
    which = f"the clusters of scale {scale_name!r}" if scale_name is not None else "the clusters"
    stacked = ("If X holds several fields of view sharing one coordinate range, pass their ids "
               "as groups=: stacked, they look like one crowded FOV. " if one_fov else "")
    warnings.warn(
        "MIRO training ended near the trivial 'move nothing' solution: on the training FOVs "
        f"{which} were compressed to {compression:.2f} of their size (median distance "
        "to the cluster centre after / before; 1 = unchanged) and the loss is "
        f"{relative_loss:.2f} x the loss of moving nothing. MIRO + DBSCAN will behave like "
        "plain DBSCAN. "
        + ("A second training on crops with thinned background did not leave it either. "
           if retried else "")
        + stacked
        + f"{advice}more optimisation steps (a smaller batch_size or a larger "
        "n_augmented / max_epochs), more labelled clusters, or a smaller length_scale "
        "(about 0.4 x the RMS radius of the smallest clusters).",
        MoveNothingWarning,
        stacklevel=caller_stacklevel() if stacklevel is None else stacklevel + 1,
    )
    return True
