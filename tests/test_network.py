import numpy as np
import pytest
import torch

from sklearn_miro.graph import build_graph
from sklearn_miro.network import MIRONetwork, naive_forward


def _graph_tensors(seed=0, n=150, radius=30.0):
    rng = np.random.default_rng(seed)
    graph = build_graph(rng.uniform(0, 200, (n, 2)), radius)
    return (
        torch.from_numpy(graph.node_attr),
        torch.from_numpy(graph.edge_index),
        torch.from_numpy(graph.edge_attr),
    )


def test_parameter_count_matches_the_paper():
    assert sum(p.numel() for p in MIRONetwork(256, 2).parameters()) == 528_386
    # The multishape checkpoint: 2 displacement outputs + 3 class logits.
    assert sum(p.numel() for p in MIRONetwork(256, 5).parameters()) == 529_157


def test_layer_shapes_follow_the_reference():
    shapes = {k: tuple(v.shape) for k, v in MIRONetwork(256, 2).state_dict().items()}
    assert shapes == {
        "node_encoder.weight": (256, 5),
        "node_encoder.bias": (256,),
        "edge_encoder.weight": (256, 3),
        "edge_encoder.bias": (256,),
        "node_dense.weight": (256, 512),
        "node_dense.bias": (256,),
        "edge_dense.weight": (256, 512),
        "edge_dense.bias": (256,),
        "message.weight": (256, 768),
        "message.bias": (256,),
        "update.weight": (256, 256),
        "update.bias": (256,),
        "head.weight": (2, 256),
        "head.bias": (2,),
    }


@pytest.mark.parametrize("hidden", [8, 64])
def test_efficient_forward_equals_naive_formulation(hidden):
    torch.manual_seed(0)
    network = MIRONetwork(hidden, 5)
    inputs = _graph_tensors()
    with torch.no_grad():
        fast = network(*inputs, 12)
        naive = naive_forward(network, *inputs, 12)
    assert fast.shape == (12, inputs[0].shape[0], 5)
    scale = naive.abs().max()
    torch.testing.assert_close(fast, naive, atol=1e-5 * float(scale), rtol=1e-4)


def test_efficient_gradients_equal_naive_gradients():
    torch.manual_seed(1)
    network = MIRONetwork(16, 2)
    inputs = _graph_tensors(seed=3)
    target = torch.randn(inputs[0].shape[0], 2)
    grads = []
    for forward in (network.forward, lambda *a: naive_forward(network, *a)):
        loss = (forward(*inputs, 6) - target).abs().mean()
        grads.append(torch.autograd.grad(loss, list(network.parameters())))
    for fast, naive in zip(*grads):
        torch.testing.assert_close(fast, naive, atol=1e-6, rtol=1e-4)


def test_steps_are_causal():
    torch.manual_seed(0)
    network = MIRONetwork(16, 2)
    inputs = _graph_tensors()
    with torch.no_grad():
        long = network(*inputs, 10)
        short = network(*inputs, 4)
    torch.testing.assert_close(long[:4], short)


def test_messages_are_summed_at_the_target():
    # A star: three leaves -> centre, only directed edges into node 0. The
    # leaves receive nothing, so their state is that of an isolated node.
    torch.manual_seed(0)
    network = MIRONetwork(8, 2)
    node_attr = torch.rand(4, 5)
    edge_index = torch.tensor([[1, 2, 3], [0, 0, 0]])
    edge_attr = torch.rand(3, 3)
    with torch.no_grad():
        out = network(node_attr, edge_index, edge_attr, 1)[0]
        isolated = network.head(torch.relu(network.update.bias))
    torch.testing.assert_close(out[1:], isolated.expand(3, 2))
    assert not torch.allclose(out[0], isolated)


def test_graph_without_edges():
    network = MIRONetwork(8, 2)
    with torch.no_grad():
        out = network(torch.rand(3, 5), torch.zeros((2, 0), dtype=torch.long), torch.zeros(0, 3), 3)
    assert out.shape == (3, 3, 2)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("edge_block", [None, 7, 64])
def test_inference_buffers_give_the_training_path_outputs(edge_block, monkeypatch):
    # Without autograd the steps write into buffers allocated once; the
    # outputs must be the same numbers as the autograd path, with and without
    # the per-step active sets that tiled inference uses, whether a step's
    # edges are one block or many (a last block shorter than the others).
    if edge_block is not None:
        monkeypatch.setattr("sklearn_miro.network.EDGE_BLOCK", edge_block)
    torch.manual_seed(2)
    network = MIRONetwork(16, 2)
    node_attr, edge_index, edge_attr = _graph_tensors(seed=3, n=200)
    n = node_attr.shape[0]
    # Shrinking active sets: edges sorted so that the first e_k have both
    # ends among the first n_k nodes (n_k non-increasing).
    key = edge_index.max(dim=0).values
    order = torch.argsort(key, stable=True)
    edge_index, edge_attr, key = edge_index[:, order], edge_attr[order], key[order]
    n_k = [n, n, 150, 150, 100, 100]
    e_k = [int((key < k).sum()) for k in n_k]
    for active in (None, list(zip(n_k, e_k))):
        with torch.enable_grad():
            training = network(node_attr, edge_index, edge_attr, 6, active=active).detach()
        with torch.inference_mode():
            inference = network(node_attr, edge_index, edge_attr, 6, active=active)
        # Float32 rounding only: the inference path evaluates the constant
        # edge term through one fused (H, 3) map, block by block, and the BLAS
        # may sum a short block's products in another order.
        torch.testing.assert_close(inference, training, rtol=1e-5, atol=1e-6)
        assert training.abs().sum() > 0


def test_bfloat16_training_pass_stays_close_to_float32():
    # The forward pass fit_network runs with precision="bfloat16": autocast
    # products (8-bit mantissa, float32 accumulation) must not change what the
    # network computes beyond bfloat16 rounding, and gradients must flow.
    from sklearn_miro.training import native_bfloat16, training_autocast

    torch.manual_seed(0)
    network = MIRONetwork(32, 4)
    inputs = _graph_tensors(seed=2)
    exact = network(*inputs, 6)
    with training_autocast("cpu", "bfloat16"):
        low = network(*inputs, 6)
        assert torch.is_autocast_enabled("cpu")
    # the head runs in float32 even under autocast (class logits need the mantissa)
    assert low.dtype == torch.float32
    scale = float(exact.detach().abs().max())
    torch.testing.assert_close(low.float(), exact, atol=0.03 * scale, rtol=0.03)
    low.float().abs().mean().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in network.parameters())
    with training_autocast("cpu", "float32"):  # a no-op
        assert network(*inputs, 6).dtype == torch.float32
    assert isinstance(native_bfloat16("cpu"), bool)
    assert native_bfloat16("meta") is False


def test_fit_network_rejects_an_unknown_precision():
    from sklearn_miro.training import fit_network

    with pytest.raises(ValueError, match="precision must be one of"):
        fit_network(MIRONetwork(8, 2), [], n_steps=2, step_scales=[0, 0], alpha=0.0,
                    distance_scale=1.0, precision="float16")


def _toy_training_graphs(n_graphs, seed=0):
    from sklearn_miro.augmentation import TrainingGraph

    rng = np.random.default_rng(seed)
    graphs = []
    for _ in range(n_graphs):
        points = rng.uniform(0, 200, (60, 2))
        graph = build_graph(points, 30.0)
        positions = torch.from_numpy(points / 30.0).float()
        graphs.append(TrainingGraph(
            node_attr=torch.from_numpy(graph.node_attr), edge_index=torch.from_numpy(graph.edge_index),
            edge_attr=torch.from_numpy(graph.edge_attr), positions=positions,
            # Every point is asked to move to the FOV's centre.
            targets=torch.full((1, len(points), 2), 100.0 / 30.0), classes=torch.zeros(len(points), dtype=torch.long)))
    return graphs


def _fit_toy(average_window, validation=True):
    from sklearn_miro.training import fit_network

    torch.manual_seed(0)
    network = MIRONetwork(8, 2)
    initial = {k: v.clone() for k, v in network.state_dict().items()}
    history = fit_network(network, _toy_training_graphs(8), n_steps=2, step_scales=[0, 0], alpha=0.0,
                          distance_scale=1.0, learning_rate=1e-2, max_epochs=3, batch_size=2,
                          validation_graphs=_toy_training_graphs(2, seed=1) if validation else (),
                          rng=np.random.default_rng(0), average_window=average_window)
    return initial, network.state_dict(), history


@pytest.mark.parametrize("validation", [True, False])
def test_the_moving_average_is_what_is_validated_and_kept(validation):
    initial, iterate, history = _fit_toy(None, validation)
    assert not all(torch.allclose(initial[k], iterate[k]) for k in initial)  # the iterates move
    # A window of ~1e9 steps: the average stays at the initial weights, so
    # they are what comes back, and (validated on them) every epoch scores alike.
    initial, averaged, history = _fit_toy(1e9, validation)
    for k in initial:
        torch.testing.assert_close(averaged[k], initial[k], atol=1e-6, rtol=0)
    if validation:
        assert len(history.validation_loss) == 3
        assert np.ptp(history.validation_loss) < 1e-6
    # A window of a tenth of the steps lies between the two.
    _, windowed, _ = _fit_toy(0.1, validation)
    assert not all(torch.allclose(windowed[k], iterate[k]) for k in initial)
    assert not all(torch.allclose(windowed[k], initial[k]) for k in initial)
