"""Loading the MIRO authors' checkpoints (sklearn_miro.reference).

The reference's state-dict keys and the computation they take part in are
written out here from the authors' implementation (not taken from the module under
test), so that a wrong key mapping or a wrong coordinate handling shows up as
different numbers. Tests on the real checkpoints use ``../shared`` and are
skipped without it.
"""

import numpy as np
import pytest
import torch
from scipy.spatial import Delaunay
from sklearn.cluster import DBSCAN

from sklearn_miro import load_reference_checkpoint
from sklearn_miro.graph import build_graph
from sklearn_miro.metrics import clustering_report
from sklearn_miro.network import MIRONetwork

# The authors' state-dict key prefix -> role in the forward pass below.
SPEC_KEYS = {
    "model.encoder.0.blocks.0.layer": "W1 node encoder",
    "model.encoder.1.blocks.0.layer": "W2 edge encoder",
    "model.backbone.layer.0.0.blocks.0.layer": "W3 node dense",
    "model.backbone.layer.0.1.blocks.0.layer": "W4 edge dense",
    "model.backbone.layer.1.blocks.0.transform.layer": "W5 message",
    "model.backbone.layer.1.blocks.0.update.blocks.0.layer": "W6 update",
    "model.backbone.head.blocks.0.layer": "W7 head",
}
# The same roles in MIRONetwork's attribute names (network.py's docstring).
ROLE_TO_MODULE = {
    "W1 node encoder": "node_encoder",
    "W2 edge encoder": "edge_encoder",
    "W3 node dense": "node_dense",
    "W4 edge dense": "edge_dense",
    "W5 message": "message",
    "W6 update": "update",
    "W7 head": "head",
}


def reference_state_from(network):
    """A MIRONetwork's weights under the reference's key names."""
    state = {}
    for prefix, role in SPEC_KEYS.items():
        module = getattr(network, ROLE_TO_MODULE[role])
        state[f"{prefix}.weight"] = module.weight.detach().clone()
        state[f"{prefix}.bias"] = module.bias.detach().clone()
    return state


def random_reference_state(hidden=8, n_outputs=2, seed=0):
    """Random tensors of the reference's shapes (§2.3), keyed by the reference names."""
    gen = torch.Generator().manual_seed(seed)
    shapes = {
        "model.encoder.0.blocks.0.layer": (hidden, 5),
        "model.encoder.1.blocks.0.layer": (hidden, 3),
        "model.backbone.layer.0.0.blocks.0.layer": (hidden, 2 * hidden),
        "model.backbone.layer.0.1.blocks.0.layer": (hidden, 2 * hidden),
        "model.backbone.layer.1.blocks.0.transform.layer": (hidden, 3 * hidden),
        "model.backbone.layer.1.blocks.0.update.blocks.0.layer": (hidden, hidden),
        "model.backbone.head.blocks.0.layer": (n_outputs, hidden),
    }
    state = {}
    for prefix, shape in shapes.items():
        bound = 1.0 / np.sqrt(shape[1])
        state[f"{prefix}.weight"] = (torch.rand(shape, generator=gen) * 2 - 1) * bound
        state[f"{prefix}.bias"] = (torch.rand(shape[0], generator=gen) * 2 - 1) * bound
    return state


def literal_reference_forward(state, node_attr, edge_index, edge_attr, n_steps):
    """The authors' forward pass, written with their key names, float64."""
    def lin(prefix, x):
        return x @ state[f"{prefix}.weight"].double().t() + state[f"{prefix}.bias"].double()

    z = torch.as_tensor(node_attr, dtype=torch.float64)
    a = torch.as_tensor(edge_attr, dtype=torch.float64)
    src, tgt = torch.as_tensor(edge_index[0]), torch.as_tensor(edge_index[1])
    v = lin("model.encoder.0.blocks.0.layer", z)
    eta = lin("model.encoder.1.blocks.0.layer", a)
    h = torch.zeros_like(v)
    g = torch.zeros_like(eta)
    outputs = []
    for _ in range(n_steps):
        h_hat = lin("model.backbone.layer.0.0.blocks.0.layer", torch.cat([h, v], 1))
        g_hat = lin("model.backbone.layer.0.1.blocks.0.layer", torch.cat([g, eta], 1))
        g = torch.relu(lin("model.backbone.layer.1.blocks.0.transform.layer",
                           torch.cat([h_hat[src], h_hat[tgt], g_hat], 1)))
        m = torch.zeros_like(h).index_add_(0, tgt, g)
        h = torch.relu(lin("model.backbone.layer.1.blocks.0.update.blocks.0.layer", m))
        outputs.append(lin("model.backbone.head.blocks.0.layer", h))
    return torch.stack(outputs)


def spec_graph(positions, radius):
    """Graph of §1.2-1.3 built independently: Delaunay edges < r, [dx, dy, d]/r, |PE|."""
    tri = Delaunay(positions).simplices
    pairs = np.concatenate([tri[:, [0, 2]], tri[:, [0, 1]], tri[:, [1, 2]]])
    d = np.linalg.norm(positions[pairs[:, 0]] - positions[pairs[:, 1]], axis=1)
    pairs = pairs[d < radius]
    edges = np.unique(np.concatenate([pairs, pairs[:, ::-1]]), axis=0)  # sorted (src, tgt)
    delta = positions[edges[:, 0]] - positions[edges[:, 1]]
    edge_attr = np.column_stack([delta, np.linalg.norm(delta, axis=1)]) / radius
    n = len(positions)
    adjacency = np.zeros((n, n))
    adjacency[edges[:, 0], edges[:, 1]] = 1.0
    degree = adjacency.sum(1)
    assert np.all(degree > 0), "the test graph must have no isolated node"
    inv = 1.0 / np.sqrt(degree)
    laplacian = np.eye(n) - inv[:, None] * adjacency * inv[None, :]
    values, vectors = np.linalg.eigh(laplacian)
    assert values[1] > 1e-8 and np.all(np.diff(values[:7]) > 1e-6), (
        "connected graph with distinct low eigenvalues needed for a well-defined |PE|")
    return np.abs(vectors[:, 1:6]), edges.T, edge_attr


def reference_pipeline(X, state, radius, n_steps):
    """The reference's inference on one FOV (§1.1, §3.2, §3.3): clustering space and nm."""
    low, high = X.min(0), X.max(0)
    p = (X - low) / (high - low)
    node_attr, edge_index, edge_attr = spec_graph(p, radius)
    y = literal_reference_forward(state, node_attr, edge_index, edge_attr, n_steps)[-1].numpy()
    q = p - y * radius
    return q * high, q * (high - low) + low


def save(tmp_path, obj, name="ckpt.pt"):
    path = tmp_path / name
    torch.save(obj, path)
    return path


# ----------------------------------------------------------- no shared data


def test_round_trip_gives_exactly_the_outputs_of_the_weights_put_in(tmp_path):
    torch.manual_seed(3)
    original = MIRONetwork(16, 2).eval()
    path = save(tmp_path, reference_state_from(original))
    model = load_reference_checkpoint(path, n_steps=6, connectivity_radius=0.2, device="cpu")
    rng = np.random.default_rng(0)
    graph = build_graph(rng.uniform(0, 1, (120, 2)), 0.2)
    inputs = (torch.from_numpy(graph.node_attr), torch.from_numpy(graph.edge_index),
              torch.from_numpy(graph.edge_attr))
    with torch.no_grad():
        expected = original(*inputs, 6)
        got = model.network_(*inputs, 6)
    assert torch.equal(got, expected)
    assert model.network_.hidden_size == 16 and model.n_steps == 6
    assert model.connectivity_radius_ == 0.2 and model.length_scale_ == 0.2


def test_key_mapping_follows_the_reference_computation(tmp_path):
    # Random weights under the reference's names: if any two layers were
    # mapped onto the wrong modules, the outputs would differ.
    state = random_reference_state(hidden=8, seed=1)
    path = save(tmp_path, state)
    model = load_reference_checkpoint(path, n_steps=5, connectivity_radius=0.2, device="cpu")
    rng = np.random.default_rng(1)
    graph = build_graph(rng.uniform(0, 1, (90, 2)), 0.25)
    with torch.no_grad():
        got = model.network_(torch.from_numpy(graph.node_attr),
                             torch.from_numpy(graph.edge_index),
                             torch.from_numpy(graph.edge_attr), 5).double()
    expected = literal_reference_forward(state, graph.node_attr, graph.edge_index,
                                         graph.edge_attr, 5)
    assert got.shape == (5, 90, 2)
    # float32 network vs float64 literal computation.
    np.testing.assert_allclose(got.numpy(), expected.numpy(), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("output", ["reference", "nm"])
def test_transform_reproduces_the_reference_coordinate_handling(tmp_path, output):
    # An anisotropic FOV that does not start at 0: the per-axis min-max
    # normalisation and the "times max" scaling of the clustering space matter.
    state = random_reference_state(hidden=8, seed=2)
    path = save(tmp_path, state)
    rng = np.random.default_rng(2)
    X = rng.uniform(0, 1, (150, 2)) * [1800.0, 2300.0] + [-150.0, 40.0]
    model = load_reference_checkpoint(path, n_steps=4, connectivity_radius=0.3, output=output,
                                      device="cpu")
    reference_space, nm = reference_pipeline(X, state, 0.3, 4)
    expected = reference_space if output == "reference" else nm
    got = model.transform(X)
    # float32 network: agreement to ~1e-6 of the FOV size (2000 nm).
    np.testing.assert_allclose(got, expected, rtol=0, atol=5e-3)
    assert np.abs(got - X).max() > 1.0  # the random network does move points


def test_unknown_and_missing_keys_are_named(tmp_path):
    state = random_reference_state()
    state["model.backbone.extra.weight"] = torch.zeros(3)
    del state["model.backbone.head.blocks.0.layer.bias"]
    path = save(tmp_path, state)
    with pytest.raises(ValueError) as info:
        load_reference_checkpoint(path, n_steps=3, connectivity_radius=0.2)
    message = str(info.value)
    assert "model.backbone.extra.weight" in message and "unknown" in message
    assert "model.backbone.head.blocks.0.layer.bias" in message and "missing" in message


def test_a_lightning_style_checkpoint_is_rejected_with_its_keys(tmp_path):
    path = save(tmp_path, {"state_dict": random_reference_state(), "epoch": 3})
    with pytest.raises(ValueError, match="unknown keys.*epoch.*state_dict"):
        load_reference_checkpoint(path, n_steps=3, connectivity_radius=0.2)


@pytest.mark.parametrize(
    "key, shape",
    [
        ("model.backbone.layer.1.blocks.0.transform.layer.weight", (8, 20)),
        ("model.encoder.0.blocks.0.layer.weight", (8, 4)),  # 4 node features: not our graph
        ("model.encoder.1.blocks.0.layer.bias", (9,)),
    ],
)
def test_shape_mismatches_are_named(tmp_path, key, shape):
    state = random_reference_state(hidden=8)
    state[key] = torch.zeros(shape)
    path = save(tmp_path, state)
    with pytest.raises(ValueError) as info:
        load_reference_checkpoint(path, n_steps=3, connectivity_radius=0.2)
    assert key in str(info.value)
    assert str(tuple(shape)) in str(info.value)


def test_non_tensor_and_non_finite_entries_are_named(tmp_path):
    state = random_reference_state()
    state["model.encoder.1.blocks.0.layer.bias"] = [0.0] * 8
    with pytest.raises(ValueError, match=r"model\.encoder\.1\.blocks\.0\.layer\.bias is not a tensor"):
        load_reference_checkpoint(save(tmp_path, state), n_steps=3, connectivity_radius=0.2)
    state = random_reference_state()
    state["model.backbone.head.blocks.0.layer.weight"][0, 0] = float("nan")
    with pytest.raises(ValueError, match=r"non-finite.*model\.backbone\.head\.blocks\.0\.layer\.weight"):
        load_reference_checkpoint(save(tmp_path, state, "nan.pt"), n_steps=3,
                                  connectivity_radius=0.2)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing_here.pt"):
        load_reference_checkpoint(tmp_path / "nothing_here.pt", n_steps=3,
                                  connectivity_radius=0.2)


def test_files_that_are_not_checkpoints(tmp_path):
    text = tmp_path / "notes.pt"
    text.write_text("x,y,index\n1,2,0\n")
    with pytest.raises(ValueError, match="Could not read .*notes.pt as a PyTorch checkpoint"):
        load_reference_checkpoint(text, n_steps=3, connectivity_radius=0.2)
    tensor = save(tmp_path, torch.zeros(3), "tensor.pt")
    with pytest.raises(ValueError, match="does not hold a state dict.*Tensor"):
        load_reference_checkpoint(tensor, n_steps=3, connectivity_radius=0.2)


def test_a_classification_head_is_not_a_displacement_checkpoint(tmp_path):
    path = save(tmp_path, random_reference_state(n_outputs=5))
    with pytest.raises(ValueError, match="5 outputs per node"):
        load_reference_checkpoint(path, kind="miro", n_steps=3, connectivity_radius=0.2)


@pytest.mark.parametrize("kwargs, match", [
    (dict(n_steps=0, connectivity_radius=0.2), "n_steps"),
    (dict(n_steps=3, connectivity_radius=-1.0), "connectivity_radius"),
    (dict(n_steps=3, connectivity_radius=0.2, output="pixels"), "output"),
])
def test_invalid_arguments(tmp_path, kwargs, match):
    path = save(tmp_path, random_reference_state())
    with pytest.raises(ValueError, match=match):
        load_reference_checkpoint(path, **kwargs)


# ------------------------------------------------------------ shared data


@pytest.fixture(scope="module")
def scenario_6(shared_dir):
    from sklearn_miro.io import load_benchmark

    bench = load_benchmark(shared_dir / "data" / "nieves2023" / "ground_truth" / "scenario_6",
                           metadata=shared_dir / "reference" / "benchmark_metadata.json")
    entry = bench.metadata
    path = shared_dir / "reference" / "checkpoints" / "benchmark_scenario_6.pt"
    return bench, entry, path


def test_checkpoint_matches_an_independent_reference_pipeline(scenario_6):
    # A 700 x 1000 nm window of the first test FOV keeps the literal (slow)
    # forward cheap; both pipelines see the same input.
    bench, entry, path = scenario_6
    fov = bench.test_fov_numbers[0]
    X, y = bench.X[bench.groups == fov], bench.y[bench.groups == fov]
    window = (X[:, 0] < 700) & (X[:, 1] < 1000)
    X, y = X[window], y[window]
    radius, n_steps = entry["builder_kwargs"]["connectivity_radius"], entry["recurrent_iterations"]
    state = torch.load(path, map_location="cpu", weights_only=True)
    model = load_reference_checkpoint(path, n_steps=n_steps, connectivity_radius=radius,
                                      device="cpu")
    expected, _ = reference_pipeline(X, state, radius, n_steps)
    got = model.transform(X)
    assert len(X) > 200
    # Differences come only from float32 arithmetic (and eigenvector solvers):
    # well below 0.01 nm, against MIRO eps = 16.
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-2)
    # The checkpoint moves clustered localisations and leaves background ones
    # nearly in place (unmoved = normalised input times the maximum).
    moved = np.linalg.norm(got - X.max(0) * (X - X.min(0)) / np.ptp(X, 0), axis=1)
    assert np.median(moved[y >= 0]) > 10 * np.median(moved[y < 0])


def test_scenario_6_checkpoint_on_two_test_fovs(scenario_6):
    bench, entry, path = scenario_6
    model = load_reference_checkpoint(path, n_steps=entry["recurrent_iterations"],
                                      connectivity_radius=entry["builder_kwargs"]["connectivity_radius"],
                                      device="cpu")
    fovs = bench.test_fov_numbers[:2]
    for fov in fovs:
        members = bench.groups == fov
        X, y = bench.X[members], bench.y[members]
        miro = DBSCAN(**entry["MIRO_DBSCAN_params"]).fit_predict(model.transform(X))
        plain = DBSCAN(**entry["DBSCAN_params"]).fit_predict(X)
        ours = clustering_report(X, y, miro, variant="reference").iloc[0]
        baseline = clustering_report(X, y, plain, variant="reference").iloc[0]
        # Paper Table S3, MIRO on scenario 6 (mean ± std over 47 FOVs):
        # ARI† 0.72 ± 0.03, IoU 0.67 ± 0.03, JI_c 0.95 ± 0.04, RMSRE_N 0.22 ± 0.09.
        # A single FOV lies within 3 standard deviations.
        assert abs(ours["ari_dagger"] - 0.72) <= 3 * 0.03
        assert abs(ours["iou"] - 0.67) <= 3 * 0.03
        assert abs(ours["ji_c"] - 0.95) <= 3 * 0.04
        assert abs(ours["rmsre_n"] - 0.22) <= 3 * 0.09
        # ... and MIRO beats plain DBSCAN on the cluster-level scores, as in the paper.
        assert ours["ji_c"] > baseline["ji_c"]
        assert ours["rmsre_n"] < baseline["rmsre_n"]
        assert ours["ari_dagger"] > baseline["ari_dagger"]


def test_clusterer_eps_candidates_in_the_units_of_x_for_a_checkpoint(tmp_path):
    # A checkpoint's connectivity radius (0.2) is in the [0, 1] FOV space; the
    # collapsed points are in nm, so eps="auto" must search in nm.
    from sklearn.frozen import FrozenEstimator

    from sklearn_miro import MIROClusterer
    from sklearn_miro.datasets import make_gaussian_clusters

    path = save(tmp_path, random_reference_state(hidden=8, seed=1))
    model = load_reference_checkpoint(path, n_steps=2, connectivity_radius=0.2, device="cpu")
    X, y, _ = make_gaussian_clusters(n_fovs=1, n_clusters=5, n_localizations=20, fov_size=1000.0,
                                     random_state=0)
    clusterer = MIROClusterer(FrozenEstimator(model), collapse_passes=1, border_points="cluster",
                              outlier_radius=None).fit(X, y)
    assert clusterer.eps_grid_.max() == pytest.approx(0.2 * X.max(axis=0).max())


def test_a_radius_in_nm_is_refused(tmp_path):
    # The authors' radii are normalised (0.2 of a FOV scaled to [0, 1]); 400 (nm)
    # loaded and then moved points thousands of nm.
    path = save(tmp_path, random_reference_state())
    with pytest.raises(ValueError, match=r"connectivity_radius must be in the authors' normalised units"):
        load_reference_checkpoint(path, n_steps=3, connectivity_radius=400)
    assert load_reference_checkpoint(path, n_steps=3, connectivity_radius=0.2) is not None
