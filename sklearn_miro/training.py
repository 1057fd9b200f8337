"""Few-shot training of MIRO: the loss and the optimisation loop.

The synthetic training FOVs come from :mod:`sklearn_miro.augmentation` (their
names are re-exported here). The loss is paper Eqs. 4-6 averaged over all
recurrent steps: an L1 displacement term plus ``alpha`` times an L1 term on the
lengths of the graph's edges after moving the points, with an optional
cross-entropy term (Eq. 7) for shape classes; each step of the recurrence is
supervised with the targets of one scale (``step_scales``). Differences from
the reference code are documented on :func:`miro_loss`.
"""

from __future__ import annotations

import contextlib
import copy
import math
import os
import shutil
import sys
import time
import warnings
from dataclasses import dataclass, field, fields

import numpy as np
import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from .augmentation import (
    AugmentationOptions,
    TrainingGraph,
    TrainingSet,
    default_fov_size,
    default_length_scale,
    make_training_graphs,
    prepare_training_set,
    synthesize_fov,
)
from ._validation import caller_stacklevel

__all__ = [
    "AugmentationOptions",
    "TrainingGraph",
    "TrainingHistory",
    "TrainingSet",
    "collate",
    "default_fov_size",
    "default_length_scale",
    "fit_network",
    "make_training_graphs",
    "miro_loss",
    "native_bfloat16",
    "PRECISIONS",
    "TrainingCompileWarning",
    "compiler_available",
    "training_autocast",
    "prepare_training_set",
    "synthesize_fov",
]

def collate(graphs, device):
    """Concatenate graphs into one disconnected batch graph on ``device``."""
    offsets = np.cumsum([0] + [g.n_nodes for g in graphs[:-1]])
    batch = TrainingGraph(
        node_attr=torch.cat([g.node_attr for g in graphs]),
        edge_index=torch.cat([g.edge_index + int(o) for g, o in zip(graphs, offsets)], dim=1),
        edge_attr=torch.cat([g.edge_attr for g in graphs]),
        positions=torch.cat([g.positions for g in graphs]),
        targets=torch.cat([g.targets for g in graphs], dim=1),
        classes=torch.cat([g.classes for g in graphs]),
    )
    if device.type != "cpu":
        for f in fields(batch):
            setattr(batch, f.name, getattr(batch, f.name).to(device, non_blocking=True))
    return batch


# --------------------------------------------------------------------------
# Loss
# --------------------------------------------------------------------------


def miro_loss(outputs, batch, step_scales, alpha, distance_scale, beta=0.0):
    """MIRO loss averaged over recurrent steps (paper Eqs. 4-7).

    Parameters
    ----------
    outputs : Tensor of shape (n_steps, N, 2 + n_classes)
        Network outputs; columns 0-1 are displacements in units of the length scale.
    batch : TrainingGraph
    step_scales : LongTensor of shape (n_steps,)
        Which scale's targets supervise each step (all 0 with one scale).
    alpha : float
        Weight of the distance-preservation term.
    distance_scale : float
        Factor converting lengths in units of the length scale into the units
        the distance term is measured in (``length_scale / distance_unit``; see
        the estimator).
    beta : float, default=0.0
        Weight of the cross-entropy term on columns 2+ (shape classes).

    Returns
    -------
    loss : scalar Tensor

    Notes
    -----
    * The displacement term is the mean absolute error over all coordinates
      (``L1Loss`` with mean reduction), as in the reference.
    * The distance term compares edge lengths after moving the points by the
      predicted and by the true displacements, over the directed edges, with
      ``moved = position - displacement`` (targets point from the centre to
      the point).
    """
    displacement = outputs[..., :2]
    targets = batch.targets[step_scales]  # (T, N, 2)
    loss = (displacement - targets).abs().mean(dim=(1, 2))
    if alpha:
        src, tgt = batch.edge_index[0], batch.edge_index[1]
        moved_pred = batch.positions.unsqueeze(0) - displacement
        moved_true = batch.positions.unsqueeze(0) - targets
        len_pred = torch.linalg.vector_norm(moved_pred[:, src] - moved_pred[:, tgt], dim=-1)
        len_true = torch.linalg.vector_norm(moved_true[:, src] - moved_true[:, tgt], dim=-1)
        if len_pred.shape[1] > 0:
            loss = loss + alpha * distance_scale * (len_pred - len_true).abs().mean(dim=1)
    if beta and outputs.shape[-1] > 2:
        logits = outputs[..., 2:]
        n_steps, n_nodes, n_classes = logits.shape
        ce = torch.nn.functional.cross_entropy(
            logits.reshape(-1, n_classes), batch.classes.repeat(n_steps), reduction="none"
        ).reshape(n_steps, n_nodes).mean(dim=1)
        loss = loss + beta * ce
    return loss.mean()


# --------------------------------------------------------------------------
# Optimisation loop
# --------------------------------------------------------------------------


@dataclass
class TrainingHistory:
    """What happened during training."""

    train_loss: list = field(default_factory=list)
    validation_loss: list = field(default_factory=list)
    best_epoch: int = -1
    n_epochs: int = 0
    seconds: float = 0.0
    #: Whether the training passes ran compiled to the end (``compile=True`` and no failure).
    compiled: bool = False


def _evaluate(network, batches, n_steps, step_scales, alpha, distance_scale, beta):
    network.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for batch in batches:
            out = network(batch.node_attr, batch.edge_index, batch.edge_attr, n_steps)
            total += float(miro_loss(out, batch, step_scales, alpha, distance_scale, beta)) * batch.n_nodes
            count += batch.n_nodes
    network.train()
    return total / max(count, 1)


#: The values of ``precision`` (:func:`fit_network`).
PRECISIONS = ("float32", "bfloat16")


def native_bfloat16(device):
    """Whether ``device`` multiplies bfloat16 matrices natively (fast).

    On a CPU: the AVX512-BF16 or AMX instructions (recent AMD EPYC/Ryzen and
    Intel Xeon); elsewhere bfloat16 products are emulated, which is expected
    to be slower than float32 (not measured). On CUDA: compute capability 8.0
    or more. Never raises: an unknown answer is False.
    """
    device = torch.device(device)
    try:
        if device.type == "cuda":
            return bool(torch.cuda.is_bf16_supported(including_emulation=False))
        if device.type == "cpu":
            checks = [getattr(torch.cpu, name, None)
                      for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
            return any(bool(check()) for check in checks if check is not None)
    except Exception:  # a torch without these probes: assume no native support
        return False
    return False


def training_autocast(device, precision):
    """The autocast context of one training forward pass (a no-op for float32).

    Why bfloat16 and not float16: the same exponent range as float32, so no
    loss scaling is needed, and CPUs have it. Autocast runs the matrix
    products in bfloat16 with float32 accumulation; the element-wise
    operations (gathers, sums over edges, ReLU) follow their inputs.
    """
    device = torch.device(device)
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bfloat16")


class TrainingCompileWarning(UserWarning):
    """``torch.compile`` could not compile the training passes; training went on uncompiled."""


def compiler_available():
    """Whether a C++ compiler that ``torch.compile`` can use on the CPU is on the PATH.

    Inductor, the compiler behind ``torch.compile``, writes C++ kernels and
    builds them with the compiler named by the ``CXX`` environment variable,
    else ``g++``/``c++``/``clang++`` (``cl`` on Windows). A machine without one
    cannot compile; :func:`fit_network` also falls back to uncompiled
    training when compiling fails for any other reason.
    """
    names = [os.environ["CXX"]] if os.environ.get("CXX") else []
    names += ["cl"] if sys.platform == "win32" else ["g++", "c++", "clang++"]
    return any(shutil.which(name.split()[0]) for name in names)


#: Why torch.compile failed earlier in this process, or None: later fits skip the attempt.
_COMPILE_FAILURE = None


class _TrainingPasses:
    """A training step's forward and backward passes, through ``torch.compile`` until it fails.

    Why compile: a training step's element-wise work on the ``(E, H)`` edge
    arrays (two gathers, their sums and the ReLU, and their gradients) costs
    more than its matrix products on a CPU; the compiler fuses most of it into
    a few loops. Measured on a spots + rings training batch (8 crops, 2,400
    localisations, 13,600 edges, hidden size 64, 20 steps, bfloat16, one
    thread): about 155 against about 230 ms per step (152-166 and 220-238
    over several runs), for about 20 CPU-seconds of
    tracing in the process and 36 more in the C++ compiler the first time on
    a machine (``doc/method.md``). Only the training passes are compiled:
    validation and inference run without autograd on the blocked path of
    :meth:`MIRONetwork.forward`.

    ``dynamic=True``: every batch has its own numbers of nodes and edges;
    with static shapes each new size would be compiled again.
    """

    def __init__(self, network, compile):
        self.network = network
        self.compiled = None
        if compile and _COMPILE_FAILURE is not None:
            self._warn(f"it failed earlier in this process ({_COMPILE_FAILURE})")
        elif compile:
            try:
                self.compiled = torch.compile(network, dynamic=True)
            except Exception as error:  # e.g. a Python version torch cannot compile on
                self._fail(_describe_failure(error))

    def step(self, run):
        """``run(forward)``: one batch's forward and backward passes; its result is returned.

        The backward pass is compiled too, and may fail on its own: on any
        failure of the compiled step, the step runs again uncompiled (the
        optimiser has not stepped yet, and ``run`` zeroes the gradients before
        its backward pass, so nothing a pass that died part-way left in them
        remains). Errors of the inputs or the network itself are raised again
        by the uncompiled run, and then the compiler is not blamed: later
        fits in the process still compile.
        """
        if self.compiled is None:
            return run(self.network)
        try:
            # Past torch's limit of recompiles, a compiled function would
            # run uncompiled without a word; here it raises, and so warns.
            with _fail_on_recompile_limit():
                return run(self.compiled)
        except FloatingPointError:  # the loss itself diverged: not the compiler's doing
            raise
        except Exception as error:  # no compiler, unsupported platform, compiler bug
            failure = _describe_failure(error)
        # The rerun is outside the except block: an error of the step itself is then
        # raised on its own, not chained to the compiler's, and the failed compiled
        # pass's frames and tensors are released first.
        self.compiled = None
        result = run(self.network)
        self._fail(failure)
        return result

    def _fail(self, failure):
        """Remember why compiling failed (:func:`_describe_failure`), for the rest of the process, and warn.

        The warning points at the first line outside sklearn_miro, scikit-learn
        and joblib (the user's call of fit).
        """
        global _COMPILE_FAILURE
        _COMPILE_FAILURE = failure
        self._warn(failure)

    @staticmethod
    def _warn(reason):
        warnings.warn(
            f"torch.compile could not compile the training passes ({reason}); training goes on "
            "uncompiled, which is slower on a CPU but gives the same model up to rounding. Pass "
            "compile=False to skip the attempt.",
            TrainingCompileWarning,
            stacklevel=caller_stacklevel(),
        )


def _describe_failure(error):
    """``"Type: first line of the message"`` of a compile failure, at most 200 characters of message."""
    message = str(error).strip().splitlines()[0][:200] if str(error).strip() else "no message"
    return f"{type(error).__name__}: {message}"


@contextlib.contextmanager
def _fail_on_recompile_limit():
    """Make torch.compile raise, rather than fall back silently, past its recompile limit."""
    config = getattr(getattr(torch, "_dynamo", None), "config", None)
    if config is None or not hasattr(config, "fail_on_recompile_limit_hit"):
        yield
        return
    with config.patch(fail_on_recompile_limit_hit=True):
        yield


def _moving_average(network, window, total_steps):
    """An exponential moving average of ``network``'s weights, or None without ``window``.

    Started from the current (initial) weights, so that the average of the
    first steps leans on where the fit began rather than on one noisy step.
    """
    if window is None:
        return None
    decay = 1.0 - 1.0 / max(float(window) * total_steps, 10.0)
    averaged = AveragedModel(network, multi_avg_fn=get_ema_multi_avg_fn(decay))
    averaged.update_parameters(network)  # the first call copies: the initial weights
    return averaged


def fit_network(
    network,
    graphs,
    *,
    n_steps,
    step_scales,
    alpha,
    distance_scale,
    beta=0.0,
    learning_rate=1e-3,
    lr_schedule="cosine",
    max_epochs=10,
    batch_size=4,
    validation_graphs=(),
    n_iter_no_change=None,
    device=torch.device("cpu"),
    rng=None,
    progress=None,
    precision="float32",
    compile=False,
    average_window=None,
):
    """Train ``network`` in place with Adam on ``graphs``.

    Parameters
    ----------
    network : MIRONetwork
    graphs : list of TrainingGraph
    n_steps : int
    step_scales : sequence of int, length n_steps
    alpha, distance_scale, beta : float
        Loss weights, see :func:`miro_loss`.
    learning_rate : float
    lr_schedule : {"constant", "cosine"}
        ``"cosine"`` decays the learning rate to 5 % of its initial value over
        ``max_epochs`` (one cosine half-period, updated every batch).
    max_epochs : int
    batch_size : int
        Graphs per optimisation step.
    validation_graphs : list of TrainingGraph
        Held-out graphs; the weights of the epoch with the lowest validation
        loss are kept.
    n_iter_no_change : int or None
        Stop when the validation loss has not improved for this many epochs.
    device : torch.device
    rng : numpy.random.Generator
        Shuffles the graphs every epoch.
    progress : tqdm-like or None
        Advanced by one per batch; shows the running loss.
    precision : {"float32", "bfloat16"}, default="float32"
        ``"bfloat16"``: the training forward pass runs under bfloat16
        autocast (matrix products in bfloat16, accumulated in float32; see
        :func:`training_autocast`); weights, optimiser, loss and the
        validation passes stay float32.
    compile : bool, default=False
        Run the training forward and backward passes through
        ``torch.compile`` (see :class:`_TrainingPasses`); if compiling fails,
        warn (:class:`TrainingCompileWarning`) and train uncompiled.
    average_window : float or None, default=None
        When set, the weights validated and returned are an exponential
        moving average of the Adam iterates (``torch.optim.swa_utils``) whose
        window spans this fraction of all optimisation steps (decay
        ``1 - 1 / max(average_window * steps, 10)``), started from the initial
        weights; ``None`` keeps the iterates themselves.

    Returns
    -------
    TrainingHistory
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}; got {precision!r}.")
    rng = np.random.default_rng() if rng is None else rng
    network.to(device)
    network.train()
    step_scales_t = torch.as_tensor(np.asarray(step_scales), dtype=torch.long, device=device)
    optimiser = torch.optim.Adam(network.parameters(), lr=learning_rate)
    n_batches = math.ceil(len(graphs) / batch_size)
    total_batches = n_batches * max_epochs
    if lr_schedule == "cosine":
        floor = 0.05

        def lr_at(i):
            return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * i / max(total_batches, 1)))
    else:

        def lr_at(i):
            return 1.0

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimiser, lr_at)
    val_batches = [
        collate(list(validation_graphs[i : i + batch_size]), device)
        for i in range(0, len(validation_graphs), batch_size)
    ]
    passes = _TrainingPasses(network, compile)
    if passes.compiled is not None and progress is not None and hasattr(progress, "set_postfix_str"):
        # The first batch waits for the compiler: say why the bar stands still.
        progress.set_postfix_str("compiling the training passes (about a CPU-minute)", refresh=True)
    history = TrainingHistory()
    best_state, best_loss, since_best = None, np.inf, 0
    averaged = _moving_average(network, average_window, total_batches)
    # The network whose weights are validated and kept.
    kept = network if averaged is None else averaged.module
    started = time.perf_counter()
    for epoch in range(max_epochs):
        order = rng.permutation(len(graphs))
        running, seen = 0.0, 0
        for b in range(n_batches):
            batch = collate([graphs[i] for i in order[b * batch_size : (b + 1) * batch_size]], device)

            def forward_backward(forward):
                with training_autocast(device, precision):
                    out = forward(batch.node_attr, batch.edge_index, batch.edge_attr, n_steps)
                # float32 under autocast too: the network's head runs in float32.
                loss = miro_loss(out, batch, step_scales_t, alpha, distance_scale, beta)
                if not torch.isfinite(loss):
                    raise FloatingPointError(
                        f"The training loss became {float(loss.detach())} at epoch {epoch + 1}; "
                        "lower learning_rate."
                    )
                optimiser.zero_grad(set_to_none=True)
                loss.backward()
                return loss

            loss = passes.step(forward_backward)
            optimiser.step()
            scheduler.step()
            if averaged is not None:
                averaged.update_parameters(network)
            running += loss.item() * batch.n_nodes
            seen += batch.n_nodes
            if progress is not None:
                progress.update(1)
                progress.set_postfix(epoch=epoch + 1, loss=f"{running / seen:.4f}", refresh=False)
        history.train_loss.append(running / max(seen, 1))
        history.n_epochs = epoch + 1
        if val_batches:
            val = _evaluate(kept, val_batches, n_steps, step_scales_t, alpha, distance_scale, beta)
            history.validation_loss.append(val)
            if val < best_loss:
                best_loss, since_best, history.best_epoch = val, 0, epoch
                best_state = copy.deepcopy(kept.state_dict())
            else:
                since_best += 1
            if n_iter_no_change is not None and since_best >= n_iter_no_change:
                break
    if best_state is not None:
        network.load_state_dict(best_state)
    else:
        if averaged is not None:
            network.load_state_dict(averaged.module.state_dict())
        history.best_epoch = history.n_epochs - 1
    network.eval()
    history.compiled = passes.compiled is not None
    history.seconds = time.perf_counter() - started
    return history
