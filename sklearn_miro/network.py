"""The MIRO recurrent message-passing network.

The computation is exactly the authors' implementation's, so that the authors' checkpoints load into it. With
node features ``z`` (Laplacian eigenvectors), edge features ``a`` and hidden
size ``H``:

* encoders, applied once, linear **without** activation:
  ``v = W1 z + b1`` and ``eta = W2 a + b2``;
* hidden states start at zero: ``h^0 = 0`` (nodes), ``g^0 = 0`` (edges);
* for ``k = 1..K``, with the same weights at every step:

  - ``h~ = W3 [h^{k-1} | v] + b3`` and ``g~ = W4 [g^{k-1} | eta] + b4``
    (linear, hidden state first);
  - message, the new edge state: ``g^k = ReLU(W5 [h~_source | h~_target | g~] + b5)``;
  - aggregation at the **target** node: ``m = sum over incoming edges of g^k``;
  - update from the aggregate only: ``h^k = ReLU(W6 m + b6)``;
  - head: ``y^k = W7 h^k + b7``, one output per step.

Where the paper's text differs (ReLU after the encoders, no per-step dense
layers, aggregation index order), the code above is what the checkpoints need:
their weights only reproduce the published results with it.

Efficient evaluation
--------------------
Everything between the hidden states and the message's ReLU is linear, so the
forward pass is re-associated without changing the function:

* the parts that act on the encoded inputs (``W3`` on ``v``, ``W4`` on ``eta``
  and what ``W5`` makes of them) are computed **once**, not at every step;
* ``W5 [h~_s | h~_t | g~]`` is split by blocks: the node projections
  ``(W5_s W3_h) h`` and ``(W5_t W3_h) h`` are computed per **node** and then
  gathered onto the edges, instead of multiplying a gathered ``(E, 3H)``
  concatenation per edge; the edge part is a single ``(E, H) x (H, H)``
  product with the fused matrix ``W5_e W4_g``;
* at step 1 the hidden states are zero, so their products are skipped;
* the constant edge part of the message, ``W5_e (W4_e eta + b4) + b5``, is
  affine in the raw edge features ``a``, so its matrices are fused into one
  ``(H, 3)`` map; without autograd it is evaluated per block of edges at every
  step instead of being stored as an ``(E, H)`` array.

Per step this costs one ``E x H x H`` and two ``N x H x H`` products instead of
``E x 3H x H + E x 2H x H + N x 2H x H``, and no concatenation copies.
:func:`naive_forward` keeps the literal formulation for tests and timing.
"""

from __future__ import annotations

from contextlib import contextmanager

import torch
from torch import nn

__all__ = ["EDGE_BLOCK", "MIRONetwork", "naive_forward", "reproducible_training"]

#: Edges processed together in one block of a step without autograd (see
#: :meth:`MIRONetwork._edge_step_blocked`): 8192 x 64 float32 is 2 MiB per
#: array, small enough to stay in cache with its gathers.
EDGE_BLOCK = 8192


class MIRONetwork(nn.Module):
    """Recurrent graph network predicting a displacement per node and step.

    Parameters
    ----------
    hidden_size : int, default=256
        Width ``H`` of every hidden representation.
    n_outputs : int, default=2
        Outputs per node and step: 2 for a displacement (in units of the
        connectivity radius), plus one logit per class for shape classification.
    n_node_features : int, default=5
        Number of node features (Laplacian eigenvectors).
    n_edge_features : int, default=3
        Number of edge features (dx, dy, distance).

    Notes
    -----
    With ``hidden_size=256`` and 2 outputs the network has 528,386 parameters,
    the figure of the paper and of the reference checkpoints.
    """

    def __init__(self, hidden_size=256, n_outputs=2, n_node_features=5, n_edge_features=3):
        super().__init__()
        h = hidden_size
        self.hidden_size = hidden_size
        self.n_outputs = n_outputs
        self.n_node_features = n_node_features
        self.n_edge_features = n_edge_features
        self.node_encoder = nn.Linear(n_node_features, h)  # W1
        self.edge_encoder = nn.Linear(n_edge_features, h)  # W2
        self.node_dense = nn.Linear(2 * h, h)  # W3 on [hidden | encoded]
        self.edge_dense = nn.Linear(2 * h, h)  # W4 on [hidden | encoded]
        self.message = nn.Linear(3 * h, h)  # W5 on [source | target | edge]
        self.update = nn.Linear(h, h)  # W6 on the summed messages
        self.head = nn.Linear(h, n_outputs)  # W7

    def config(self):
        """Constructor arguments, to rebuild the network from a state dict."""
        return dict(
            hidden_size=self.hidden_size,
            n_outputs=self.n_outputs,
            n_node_features=self.n_node_features,
            n_edge_features=self.n_edge_features,
        )

    def forward(self, node_attr, edge_index, edge_attr, n_steps, *, active=None):
        """Run ``n_steps`` recurrent steps.

        Parameters
        ----------
        node_attr : Tensor of shape (n_nodes, n_node_features)
        edge_index : LongTensor of shape (2, n_edges)
            Row 0 source, row 1 target; messages are summed at the target.
        edge_attr : Tensor of shape (n_edges, n_edge_features)
        n_steps : int
            Number of recurrent steps ``K``.
        active : sequence of (int, int), optional
            ``(n_nodes_k, n_edges_k)`` for every step ``k``: only the first
            ``n_nodes_k`` nodes and the first ``n_edges_k`` edges are updated
            at step ``k``; both sequences must be non-increasing, the targets of
            the active edges of step ``k`` among its active nodes, and their
            sources among the active nodes of step ``k - 1`` (any node at step
            0). Used by tiled inference, where the halo nodes far from a
            tile's own nodes are needed only in the first steps
            (:mod:`sklearn_miro.tiling`). Outputs of inactive nodes are 0.
            None: every node and edge at every step.

        Returns
        -------
        outputs : Tensor of shape (n_steps, n_nodes, n_outputs)
            The prediction of every step. Outputs of step ``k`` do not depend
            on ``n_steps`` (the recurrence is causal).
        """
        h_size = self.hidden_size
        n_nodes = node_attr.shape[0]
        source, target = edge_index[0], edge_index[1]

        w3_hidden, w3_encoded = self.node_dense.weight.split(h_size, dim=1)
        w4_hidden, w4_encoded = self.edge_dense.weight.split(h_size, dim=1)
        w5_source, w5_target, w5_edge = self.message.weight.split(h_size, dim=1)

        # --- computed once: everything that depends only on the inputs ------
        encoded_nodes = self.node_encoder(node_attr)
        node_const = torch.addmm(self.node_dense.bias, encoded_nodes, w3_encoded.t())  # (N, H)
        # Message pre-activation = P_s[source] + P_t[target] + Q_e.
        source_const = node_const @ w5_source.t()  # (N, H)
        target_const = node_const @ w5_target.t()  # (N, H)
        # Needed no further (without autograd this frees two (N, H) arrays).
        del encoded_nodes, node_const
        # Fused matrices acting on the hidden states.
        source_from_hidden = w5_source @ w3_hidden  # (H, H)
        target_from_hidden = w5_target @ w3_hidden  # (H, H)
        edge_from_hidden = w5_edge @ w4_hidden  # (H, H)

        n_edges = edge_attr.shape[0]
        if active is None:
            active = [(n_nodes, n_edges)] * n_steps
        update_weight = self.update.weight.t()
        if torch.is_grad_enabled():
            step_edges = self._edge_step_autograd
            buffers = None
            # Training keeps the unfused order of operations, so that fits
            # stay bit-identical to those recorded in benchmarks/results.
            edge_const = torch.addmm(self.edge_dense.bias, self.edge_encoder(edge_attr), w4_encoded.t())
            edge_term = torch.addmm(self.message.bias, edge_const, w5_edge.t())  # (E, H)
            del edge_const
        else:
            # Q_e is affine in the raw edge features (encoder, W4's encoded
            # block and W5's edge block are all linear): Q_e = A a + c. It is
            # recomputed block by block from the (E, F_e) features at every
            # step (an E x F_e x H product, against the step's E x H x H): one
            # (E, H) array fewer in memory, and none of the three (E, H)
            # temporaries the encoders would need at the start.
            step_edges = self._edge_step_blocked
            edge_term_weight = w5_edge @ w4_encoded @ self.edge_encoder.weight  # A: (H, F_e)
            edge_term_bias = self.message.bias + w5_edge @ (w4_encoded @ self.edge_encoder.bias
                                                             + self.edge_dense.bias)  # c: (H,)
            edge_term = (edge_attr, edge_term_weight.t(), edge_term_bias)
            # Without autograd every step writes into buffers allocated once:
            # on large graphs a fresh (E, H) tensor per operation is mostly
            # page faults (measured on a 100,000-node graph, 600,000 edges,
            # hidden 64, one thread: a gather into a new tensor took 200 ms,
            # into a reused one 68 ms).
            buffers = {name: source_const.new_empty((n_nodes, h_size))
                       for name in ("source_part", "target_part", "aggregated", "node_state")}
            buffers["edge_state"] = source_const.new_empty((n_edges, h_size))
            block = min(EDGE_BLOCK, max(n_edges, 1))
            buffers["block"] = source_const.new_empty((block, h_size))
            buffers["gathered"] = source_const.new_empty((block, h_size))

        def out(name, rows):
            """The first ``rows`` rows of a buffer (a contiguous ``out=`` view), or None."""
            return None if buffers is None else buffers[name][:rows]

        def first(tensor, rows):
            """``tensor[:rows]``, or ``tensor`` itself when that is all of it.

            Why: under autograd every slice adds a backward node that
            allocates a zero tensor of the full size and copies the gradient
            into it; in training (no ``active``) all slices are full.
            """
            return tensor if rows == tensor.shape[0] else tensor[:rows]

        # In training (autograd, every node active) the step outputs are
        # stacked at the end rather than written into slices of one tensor,
        # which would add a copy-slices backward node per step. With the
        # full slices skipped above: 0.90 times the CPU time of a training
        # step (hidden 64, 20 steps, 8 crops of 280 localisations, one
        # thread; benchmarks/README.md, eighteenth session).
        stack = buffers is None and all(int(n) == n_nodes for n, _ in active)
        outputs = [] if stack else torch.zeros((n_steps, n_nodes, self.n_outputs),
                                               dtype=self.head.weight.dtype, device=node_attr.device)
        node_state = edge_state = None
        for step in range(n_steps):
            n_k, e_k = (int(v) for v in active[step])
            if step == 0:
                # h^0 = g^0 = 0: only the constant parts remain.
                source_part, target_part = source_const, first(target_const, n_k)
            else:
                n_prev = node_state.shape[0]
                source_part = torch.addmm(first(source_const, n_prev), node_state, source_from_hidden.t(),
                                          out=out("source_part", n_prev))
                target_part = torch.addmm(first(target_const, n_k), first(node_state, n_k),
                                          target_from_hidden.t(), out=out("target_part", n_k))
            aggregated = (source_const.new_zeros((n_k, h_size)) if buffers is None
                          else out("aggregated", n_k).zero_())
            edge_state = step_edges(
                first(source, e_k), first(target, e_k), edge_term,
                None if step == 0 else first(edge_state, e_k), edge_from_hidden.t(),
                source_part, target_part, aggregated, buffers,
            )
            node_state = torch.relu_(torch.addmm(self.update.bias, aggregated, update_weight,
                                                 out=out("node_state", n_k)))
            if stack:
                outputs.append(self._read_out(node_state))
            else:
                outputs[step, :n_k] = self._read_out(node_state)
        return torch.stack(outputs) if stack else outputs

    def _read_out(self, node_state):
        """The head ``W7 h``, always in float32.

        Under bfloat16 autocast (mixed-precision training) the head would
        return bfloat16, whose 8-bit mantissa cannot tell apart class logits
        within about 0.4 % of each other; the head is a tiny product
        (``N x H x n_outputs``), so it runs in float32 on float32 states.
        Without autocast this is ``self.head(node_state)``.
        """
        device_type = node_state.device.type
        if not torch.is_autocast_enabled(device_type):
            return self.head(node_state)
        with torch.autocast(device_type, enabled=False):
            return self.head(node_state.float())

    @staticmethod
    def _edge_step_autograd(source, target, edge_term, edge_state, edge_weight,
                            source_part, target_part, aggregated, buffers):
        """One step's edges with autograd: a new ``(E, H)`` state, summed into ``aggregated``.

        ``edge_term`` is the ``(E_all, H)`` edge part of the message; the
        first ``E = source.shape[0]`` rows are used.
        """
        if edge_term.shape[0] != source.shape[0]:
            edge_term = edge_term[: source.shape[0]]
        pre = edge_term.clone() if edge_state is None else torch.addmm(edge_term, edge_state, edge_weight)
        # In place: the gathered terms are added into the tensor returned by
        # addmm/clone, not into new (E, H) ones.
        pre.add_(torch.index_select(source_part, 0, source))
        pre.add_(torch.index_select(target_part, 0, target))
        new_state = torch.relu_(pre)
        aggregated.index_add_(0, target, new_state)
        return new_state

    @staticmethod
    def _edge_step_blocked(source, target, edge_term, edge_state, edge_weight,
                           source_part, target_part, aggregated, buffers):
        """One step's edges without autograd, ``EDGE_BLOCK`` edges at a time.

        An edge's new state depends only on its own previous state and on the
        node projections, so the step runs block by block: each block's
        product, gathers, ReLU and sum stay in the CPU cache instead of
        streaming five ``(E, H)`` arrays through memory, and the new state
        overwrites the old one in place (one ``(E, H)`` buffer instead of
        three). ``edge_term`` is ``(edge_attr, weight_t, bias)``: the edge
        part of the message is computed per block from the raw edge features.
        The same function as the autograd path; the numbers agree to float32
        rounding (the fused edge map and the BLAS's block-wise sums change the
        order of the additions).
        """
        edge_attr, term_weight, term_bias = edge_term
        state = buffers["edge_state"]
        n_edges = source.shape[0]
        for start in range(0, n_edges, EDGE_BLOCK):
            stop = min(start + EDGE_BLOCK, n_edges)
            rows = stop - start
            block = buffers["block"][:rows]
            torch.addmm(term_bias, edge_attr[start:stop], term_weight, out=block)
            if edge_state is not None:
                block.addmm_(edge_state[start:stop], edge_weight)
            gathered = buffers["gathered"][:rows]
            block.add_(torch.index_select(source_part, 0, source[start:stop], out=gathered))
            block.add_(torch.index_select(target_part, 0, target[start:stop], out=gathered))
            torch.relu_(block)
            state[start:stop].copy_(block)
            aggregated.index_add_(0, target[start:stop], block)
        return state[:n_edges]


def naive_forward(network, node_attr, edge_index, edge_attr, n_steps):
    """The literal per-edge-concatenation formulation of :class:`MIRONetwork`.

    Recomputes the dense layers on ``[hidden | encoded]`` at every step and
    applies the message layer to the gathered ``(E, 3H)`` concatenation, the
    way the reference implementation is written. Used to verify the efficient
    :meth:`MIRONetwork.forward` and to time it; not used for fitting.

    Returns
    -------
    outputs : Tensor of shape (n_steps, n_nodes, n_outputs)
    """
    h_size = network.hidden_size
    n_nodes, n_edges = node_attr.shape[0], edge_attr.shape[0]
    source, target = edge_index[0], edge_index[1]
    encoded_nodes = network.node_encoder(node_attr)
    encoded_edges = network.edge_encoder(edge_attr)
    node_state = encoded_nodes.new_zeros((n_nodes, h_size))
    edge_state = encoded_edges.new_zeros((n_edges, h_size))
    outputs = []
    for _ in range(n_steps):
        node_hat = network.node_dense(torch.cat([node_state, encoded_nodes], dim=1))
        edge_hat = network.edge_dense(torch.cat([edge_state, encoded_edges], dim=1))
        messages = torch.cat([node_hat[source], node_hat[target], edge_hat], dim=1)
        edge_state = torch.relu(network.message(messages))
        aggregated = edge_state.new_zeros((n_nodes, h_size)).index_add_(0, target, edge_state)
        node_state = torch.relu(network.update(aggregated))
        outputs.append(network.head(node_state))
    return torch.stack(outputs)


@contextmanager
def reproducible_training(device):
    """Deterministic torch kernels on the CPU while the block runs, then the previous setting.

    Why: with two or more torch threads, two fits with the same
    ``random_state`` on the same data diverged (losses differed in the fourth
    digit from the first epoch; weights by up to 0.02 after the default
    fine-tuning on ground-truth scenario 6), so ``random_state`` was not
    honoured. Under ``torch.use_deterministic_algorithms(True)`` the two fits
    are bit-identical, and equal to a one-thread fit, for about 12 % more fit
    time (23.7 s against 21.0 s wall on that fit). Inference was measured to be
    deterministic without it and is left alone. On a GPU nothing changes:
    there the flag would also require ``CUBLAS_WORKSPACE_CONFIG``.
    """
    if torch.device(device).type != "cpu" or torch.are_deterministic_algorithms_enabled():
        yield
        return
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(False)
