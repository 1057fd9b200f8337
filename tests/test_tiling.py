"""Tiled inference: exactness of the halo, ownership, per-feature-tile eigenvectors."""

import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse
from scipy.sparse import csgraph

import sklearn_miro.tiling as tiling
from sklearn_miro.graph import build_graph, delaunay_edges, laplacian_eigenvector_features
from sklearn_miro.network import MIRONetwork
from sklearn_miro.tiling import (
    SquareTiles,
    default_tile_size,
    hop_halo_width,
    tile_eigenvector_features,
    tiled_edges,
    tiled_network_outputs,
)


@pytest.fixture
def cloud():
    rng = np.random.default_rng(0)
    background = rng.uniform(0, 1500, (800, 2))
    centres = rng.uniform(0, 1500, (25, 2))
    clusters = np.repeat(centres, 20, axis=0) + rng.normal(0, 25, (500, 2))
    return np.concatenate([background, clusters])


@pytest.fixture
def network():
    torch.manual_seed(0)
    return MIRONetwork(hidden_size=8).eval()


def _untiled(network, X, radius, unit, n_steps):
    graph = build_graph(X, radius, length_scale=unit, normalization="rms")
    with torch.inference_mode():
        out = network(torch.from_numpy(graph.node_attr), torch.from_numpy(graph.edge_index),
                      torch.from_numpy(graph.edge_attr), n_steps).double().numpy()
    isolated = np.bincount(graph.edge_index[1], minlength=len(X)) == 0
    out[:, isolated] = 0
    return out


def test_every_point_is_owned_by_exactly_one_tile(cloud):
    tiles = SquareTiles.from_points(cloud, 300.0)
    owned = np.concatenate([tiles.owned(t) for t in tiles.non_empty()])
    np.testing.assert_array_equal(np.sort(owned), np.arange(len(cloud)))
    for t in tiles.non_empty():
        i, j = divmod(t, tiles.shape[1])
        cell = np.floor((cloud[tiles.owned(t)] - tiles.origin) / 300.0)
        assert np.all(cell == [i, j])


def test_tile_with_halo_holds_every_point_within_the_halo(cloud):
    tiles = SquareTiles.from_points(cloud, 300.0)
    for t in tiles.non_empty()[::7]:
        i, j = divmod(t, tiles.shape[1])
        low = tiles.origin + np.array([i, j]) * 300.0 - 450.0
        high = low + 300.0 + 900.0
        expected = np.flatnonzero(np.all((cloud >= low) & (cloud <= high), axis=1))
        np.testing.assert_array_equal(tiles.around(cloud, t, 450.0), expected)


def test_tiled_edges_are_the_whole_fov_edges(cloud):
    radius = 120.0
    tiles = SquareTiles.from_points(cloud, 250.0)
    edges = tiled_edges(cloud, radius, tiles)
    full = delaunay_edges(cloud)
    full = full[:, np.linalg.norm(cloud[full[0]] - cloud[full[1]], axis=1) < radius]
    full = full[:, np.lexsort((full[1], full[0]))]
    np.testing.assert_array_equal(edges, full)


@pytest.mark.parametrize("tile_size, max_batch_nodes", [(250.0, 1), (250.0, 10**6), (700.0, 5000)])
def test_halo_of_n_steps_radii_makes_tiling_exact(cloud, network, tile_size, max_batch_nodes):
    # With whole-FOV features, tiling changes nothing for the owned points.
    radius, unit, steps = 110.0, 20.0, [1, 3]
    expected = _untiled(network, cloud, radius, unit, 4)[steps]
    out = tiled_network_outputs(network, cloud, connectivity_radius=radius, length_scale=unit,
                                steps=steps, tile_size=tile_size, feature_tile_size=None,
                                max_batch_nodes=max_batch_nodes)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)


def test_a_too_small_halo_is_not_exact(cloud, network):
    radius, unit = 110.0, 20.0
    expected = _untiled(network, cloud, radius, unit, 4)[[3]]
    out = tiled_network_outputs(network, cloud, connectivity_radius=radius, length_scale=unit,
                                steps=[3], tile_size=250.0, halo=radius, feature_tile_size=None)
    assert np.abs(out - expected).max() > 1e-3


def test_feature_tiles_are_eigenvectors_of_each_tile_alone(cloud):
    graph = build_graph(cloud, 110.0)
    size = 500.0
    features = tile_eigenvector_features(cloud, graph.edge_index, size, normalization="rms")
    cell = np.floor((cloud - cloud.min(axis=0)) / size)
    for key in ([0, 0], [2, 1], [3, 3]):
        members = np.flatnonzero(np.all(cell == key, axis=1))
        local = np.full(len(cloud), -1)
        local[members] = np.arange(members.size)
        e = graph.edge_index
        inside = (local[e[0]] >= 0) & (local[e[1]] >= 0)
        alone = laplacian_eigenvector_features(members.size, local[e[:, inside]], normalization="rms")
        np.testing.assert_allclose(features[members], alone, atol=1e-6)


def test_whole_fov_path_with_feature_tiles_equals_the_tiled_path(cloud, network):
    # crop_features=True applies the feature tiles to an untiled FOV too: with
    # the same features, tiling the message passing changes nothing.
    kwargs = dict(connectivity_radius=110.0, length_scale=20.0, steps=[1, 3], feature_tile_size=600.0)
    whole = tiling.fov_network_outputs(network, cloud, tile_size=None, crop_features=True, **kwargs)
    tiled = tiling.fov_network_outputs(network, cloud, tile_size=300.0, **kwargs)
    np.testing.assert_allclose(whole, tiled, rtol=1e-5, atol=1e-6)
    # ... and the features are the tiles', not the whole graph's, which an
    # untiled FOV gets without crop_features.
    untiled = tiling.fov_network_outputs(network, cloud, tile_size=None, **kwargs)
    assert np.abs(untiled - whole).max() > 1e-3


def test_tiled_outputs_do_not_depend_on_where_the_fov_sits(cloud, network):
    kwargs = dict(connectivity_radius=110.0, length_scale=20.0, steps=[3], tile_size=400.0,
                  feature_tile_size=600.0)
    here = tiled_network_outputs(network, cloud, **kwargs)
    far = tiled_network_outputs(network, cloud + 1e6, **kwargs)
    np.testing.assert_allclose(here, far, atol=1e-4)


def test_isolated_points_get_zero_output(network):
    X = np.array([[0.0, 0.0], [1e4, 0.0], [1e4, 5.0], [1e4, 9.0]])
    out = tiled_network_outputs(network, X, connectivity_radius=10.0, length_scale=1.0,
                                steps=[0], tile_size=100.0, feature_tile_size=None)
    assert np.all(out[:, 0] == 0)
    assert np.any(out[:, 1:] != 0)


def test_default_tile_size_aims_at_the_node_budget(cloud):
    side = default_tile_size(cloud, 100.0, target_nodes=1000)
    density = len(cloud) / np.prod(np.ptp(cloud, axis=0))
    assert side == pytest.approx(max(np.sqrt(1000 / density) - 200.0, 200.0))


def test_bad_tiling_parameters_are_rejected(cloud, network):
    for bad in (dict(tile_size=-1.0), dict(feature_tile_size=0.0), dict(halo=-5.0)):
        with pytest.raises(ValueError):
            tiled_network_outputs(network, cloud, connectivity_radius=100.0, length_scale=1.0,
                                  steps=[0], **bad)


class _CountingNetwork(torch.nn.Module):
    """Wraps a network and counts the node updates of every call."""

    def __init__(self, network):
        super().__init__()
        self.network = network
        self.n_outputs = network.n_outputs
        self.node_updates = 0

    def forward(self, node_attr, edge_index, edge_attr, n_steps, *, active=None):
        self.node_updates += sum(n for n, _ in active)
        return self.network(node_attr, edge_index, edge_attr, n_steps, active=active)


def test_halo_nodes_are_updated_only_while_their_hops_can_reach_the_tile(cloud, network):
    # The geometric halo (n_steps radii) is only a guarantee: a node h hops
    # from a tile is needed in the first n_steps - h steps. Count the node
    # updates against that geometric bound and against the hop count itself.
    radius, unit, n_steps, tile_size = 110.0, 20.0, 6, 300.0
    counting = _CountingNetwork(network)
    tiled_network_outputs(counting, cloud, connectivity_radius=radius, length_scale=unit,
                          steps=[n_steps - 1], tile_size=tile_size, feature_tile_size=None,
                          max_batch_nodes=10**9)
    tiles = SquareTiles.from_points(cloud, tile_size)
    edges = delaunay_edges(cloud)
    edges = edges[:, np.linalg.norm(cloud[edges[0]] - cloud[edges[1]], axis=1) < radius]
    adjacency = np.zeros((len(cloud), len(cloud)), dtype=bool)
    adjacency[edges[0], edges[1]] = adjacency[edges[1], edges[0]] = True
    geometric = by_hops = 0
    for tile in tiles.non_empty():
        owned = tiles.owned(tile)
        low = tiles.origin + np.array(divmod(int(tile), tiles.shape[1])) * tile_size
        gap = np.maximum(0.0, np.maximum(low - cloud, cloud - (low + tile_size)))
        distance = np.sqrt((gap**2).sum(axis=1))
        reached = np.zeros(len(cloud), dtype=bool)
        reached[owned] = True
        for k in range(n_steps):
            # Step k updates the nodes at most n_steps - 1 - k hops away.
            hops_allowed = n_steps - 1 - k
            frontier = reached.copy()
            for _ in range(hops_allowed):
                frontier |= adjacency[frontier].any(axis=0)
            by_hops += frontier.sum()
            geometric += (distance < hops_allowed * radius).sum()
        if not adjacency[owned].any():
            by_hops -= n_steps * owned.size  # tiles without edges are skipped
    assert counting.node_updates == by_hops
    assert counting.node_updates < 0.6 * geometric


def test_threads_do_not_change_the_outputs(cloud, network):
    kwargs = dict(connectivity_radius=110.0, length_scale=20.0, steps=[3], tile_size=400.0,
                  feature_tile_size=300.0)
    one = tiled_network_outputs(network, cloud, n_threads=1, **kwargs)
    two = tiled_network_outputs(network, cloud, n_threads=2, **kwargs)
    np.testing.assert_array_equal(one, two)
    # n_jobs's convention: -1 is every CPU.
    np.testing.assert_array_equal(one, tiled_network_outputs(network, cloud, n_threads=-1, **kwargs))
    # Small batches: several run on the thread pool at once, each on one torch
    # thread; the caller's torch thread count is restored.
    threads = torch.get_num_threads()
    small = dict(kwargs, max_batch_nodes=60)
    serial = tiled_network_outputs(network, cloud, n_threads=1, **small)
    np.testing.assert_array_equal(serial, tiled_network_outputs(network, cloud, n_threads=3, **small))
    # Other batches, other float32 rounding in the network's matrix products.
    np.testing.assert_allclose(serial, one, atol=1e-6)
    assert torch.get_num_threads() == threads
    tiles = SquareTiles.from_points(cloud, 300.0)
    np.testing.assert_array_equal(tiled_edges(cloud, 110.0, tiles, n_threads=3),
                                  tiled_edges(cloud, 110.0, tiles))


def test_small_fovs_run_on_one_thread_and_restore_the_callers(cloud, network, monkeypatch):
    kwargs = dict(connectivity_radius=110.0, length_scale=20.0, steps=[3], tile_size=None)
    seen = []
    forward = type(network).forward

    def spy(self, *args, **kw):
        seen.append(torch.get_num_threads())
        return forward(self, *args, **kw)

    monkeypatch.setattr(type(network), "forward", spy)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        small = tiling.fov_network_outputs(network, cloud, **kwargs)
        assert seen == [1] and torch.get_num_threads() == 2
        monkeypatch.setattr(tiling, "SINGLE_THREAD_MAX_LOCALIZATIONS", 1)
        np.testing.assert_allclose(tiling.fov_network_outputs(network, cloud, **kwargs), small, atol=1e-6)
        assert seen == [1, 2]
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("bad", [0, 1.5, "two"])
def test_thread_count_is_checked(cloud, network, bad):
    with pytest.raises((TypeError, ValueError), match="n_threads"):
        tiled_network_outputs(network, cloud, connectivity_radius=110.0, length_scale=20.0,
                              steps=[0], n_threads=bad)


def test_feature_tiles_in_chunks_equal_all_at_once(cloud, monkeypatch):
    edges = tiled_edges(cloud, 110.0, SquareTiles.from_points(cloud, 400.0))
    directed = np.concatenate([edges, edges[::-1]], axis=1)
    expected = tile_eigenvector_features(cloud, directed, 300.0)
    monkeypatch.setattr(tiling, "FEATURE_CHUNK_NODES", 150)  # several chunks of whole tiles
    np.testing.assert_array_equal(tile_eigenvector_features(cloud, directed, 300.0), expected)


def test_points_on_a_tile_border_by_rounding_are_kept_without_halo(network):
    # x = 0.1 + k * 0.1 (+/- 1 ulp) puts points where floor division and the
    # tile box disagree by rounding; with halo 0 a tile must still hold them.
    k = np.arange(40)
    x = np.nextafter(0.1 + k * 0.1, np.where(k % 2, np.inf, -np.inf))
    X = np.column_stack([x, np.random.default_rng(0).uniform(0, 4, k.size)])
    tiles = SquareTiles.from_points(X, 0.1)
    for tile in tiles.non_empty():
        assert np.isin(tiles.owned(tile), tiles.around(X, tile, 0.0)).all()
    out = tiled_network_outputs(network, X, connectivity_radius=0.5, length_scale=0.2, steps=[0],
                                tile_size=0.1, halo=0.0)
    assert np.isfinite(out).all()


def _csr(X, radius):
    edge_index = build_graph(X, radius).edge_index
    degree = np.bincount(edge_index[0], minlength=len(X))
    return np.concatenate([[0], np.cumsum(degree)]), edge_index[1]


def _within_hops(indptr, target, owned, n_steps):
    """Nodes at most n_steps hops from the owned ones (an independent breadth-first search)."""
    n = indptr.size - 1
    graph = sparse.csr_matrix((np.ones(target.size), target, indptr), shape=(n, n))
    hops = csgraph.dijkstra(graph, indices=owned, min_only=True, unweighted=True, limit=n_steps + 0.5)
    return np.flatnonzero(hops <= n_steps)


def _centre_tile(tiles):
    return (tiles.shape[0] // 2) * tiles.shape[1] + tiles.shape[1] // 2


def test_hop_halo_width_sizes_tiles_to_the_node_budget():
    # 6 steps of 150 nm is a 900 nm geometric halo; Delaunay hops between
    # uniform points ~50 nm apart are much shorter than the radius, so the
    # kept halo is narrower, and a tile sized on the measured width keeps
    # about the budgeted nodes.
    rng = np.random.default_rng(1)
    X = rng.uniform(0, 12000, (60000, 2))
    indptr, target = _csr(X, 150.0)
    budget, n_steps, halo = 6000, 6, 900.0
    width = hop_halo_width(X, halo, indptr, target, n_steps, target_nodes=budget)
    assert 0 < width < 0.5 * halo
    side = default_tile_size(X, width, target_nodes=budget)
    tiles = SquareTiles.from_points(X, side)
    kept = _within_hops(indptr, target, tiles.owned(_centre_tile(tiles)), n_steps)
    assert 0.8 * budget < kept.size < 1.25 * budget
    # The geometric sizing keeps far fewer than the budget: the reason for the probe.
    geometric = SquareTiles.from_points(X, default_tile_size(X, halo, target_nodes=budget))
    kept_geometric = _within_hops(indptr, target, geometric.owned(_centre_tile(geometric)), n_steps)
    assert kept_geometric.size < 0.6 * budget


def test_hop_halo_width_is_the_halo_without_an_interior_tile(cloud):
    # 1,500 nm wide: a tile of at least 600 nm with a 600 nm halo on every
    # side does not fit inside.
    indptr, target = _csr(cloud, 150.0)
    assert hop_halo_width(cloud, 600.0, indptr, target, 4, target_nodes=10**6) == 600.0
    assert hop_halo_width(cloud, 0.0, indptr, target, 4) == 0.0


def test_default_tiles_sized_on_the_hop_halo_stay_exact(network, monkeypatch):
    # A small node budget so that this 6,000-point cloud has interior tiles
    # and the probe sets the tile size; whole-FOV features isolate the tiling.
    rng = np.random.default_rng(2)
    centres = rng.uniform(0, 6000, (150, 2))
    cloud = np.concatenate([rng.uniform(0, 6000, (3000, 2)),
                            np.repeat(centres, 20, axis=0) + rng.normal(0, 25, (3000, 2))])
    monkeypatch.setattr(tiling, "DEFAULT_TILE_NODES", 2000)
    radius, unit, steps = 110.0, 20.0, [1, 3]
    calls = []
    real = tiling.hop_halo_width
    monkeypatch.setattr(tiling, "hop_halo_width", lambda *a, **k: calls.append(real(*a, **k)) or calls[-1])
    out = tiled_network_outputs(network, cloud, connectivity_radius=radius, length_scale=unit, steps=steps,
                                feature_tile_size=None, n_threads=1)
    assert len(calls) == 1 and 0 < calls[0] < 4 * radius
    np.testing.assert_allclose(out, _untiled(network, cloud, radius, unit, 4)[steps], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("margin", [-1.0, 0.0, 109.0])
def test_tiled_edges_reject_a_margin_below_the_radius(cloud, margin):
    tiles = SquareTiles.from_points(cloud, 300.0)
    with pytest.raises(ValueError, match="delaunay_margin must be at least the connectivity radius"):
        tiled_edges(cloud, 110.0, tiles, delaunay_margin=margin)


def _short_whole_fov_edges(X, radius):
    full = delaunay_edges(X)
    return full[:, np.linalg.norm(X[full[0]] - X[full[1]], axis=1) < radius]


def test_a_tile_edge_that_a_point_beyond_the_margin_breaks_is_removed():
    # u-v is 40 nm long and w sits 1 nm off its middle, so the only empty
    # circles through u and v are huge ones bulging downwards; z, 150 nm
    # below and outside the tile's 50 nm margin, lies in all of them. The
    # tile alone triangulates u-v; the whole FOV does not.
    u, v, w, z = (90.0, 50.0), (130.0, 50.0), (110.0, 51.0), (110.0, -100.0)
    corners = [(-400.0, -400.0), (-400.0, 600.0), (600.0, -400.0), (600.0, 600.0)]
    X = np.array([u, v, w, z] + corners)
    tiles = SquareTiles.from_points(X, 100.0, origin=np.array([-400.0, -400.0]))
    tile = tiles.tile_of[0]
    ext = tiles.around(X, tile, 50.0)
    assert 3 not in ext  # z is beyond the margin
    local = ext[delaunay_edges(X[ext])]
    assert ((local[0] == 0) & (local[1] == 1)).any()  # the tile alone has u-v
    whole = _short_whole_fov_edges(X, 50.0)
    assert not ((whole[0] == 0) & (whole[1] == 1)).any()
    np.testing.assert_array_equal(tiled_edges(X, 50.0, tiles, delaunay_margin=50.0), whole)


def _empty_circle_range(X, edges):
    """Brute force, independent of Qhull: the circles through each edge's ends that hold no other point.

    Circles through u and v have centres ``m + t n`` on the bisector; point w
    is strictly inside iff ``2 t (n . (w - m)) > |w - m|^2 - |uv|^2 / 4``,
    so every point bounds t from one side. Returns the range ``(low, high)``
    of empty circles and a rounding slack (relative 1e-9).
    """
    u, v = edges
    m = (X[u] + X[v]) / 2
    d = X[v] - X[u]
    half2 = (d**2).sum(axis=1) / 4
    n = np.column_stack([-d[:, 1], d[:, 0]]) / np.sqrt(4 * half2)[:, None]
    offset = X[None, :, :] - m[:, None, :]
    a = (offset * n[:, None, :]).sum(axis=2)
    b = (offset**2).sum(axis=2) - half2[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        bound = b / (2 * a)
    high = np.where(a > 1e-12, bound, np.inf).min(axis=1)
    low = np.where(a < -1e-12, bound, -np.inf).max(axis=1)
    finite = lambda t: np.abs(np.where(np.isfinite(t), t, 0.0))  # noqa: E731
    return low, high, 1e-9 * (np.sqrt(half2) + finite(low) + finite(high))


def test_noise_free_filaments_keep_every_needed_edge():
    # Points exactly on lines make near-flat triangles whose circumcentres
    # are lost to rounding; their edges are bounded by the tile's points
    # instead (the first version dropped 18 needed edges here).
    rng = np.random.default_rng(3)
    lines = []
    for _ in range(4):
        centre, angle = rng.uniform(0, 4000, 2), rng.uniform(0, np.pi)
        lines.append(centre + rng.uniform(-1500, 1500, 500)[:, None] * np.array([np.cos(angle), np.sin(angle)]))
    X = np.concatenate(lines)
    edges = tiled_edges(X, 60.0, SquareTiles.from_points(X, 800.0))
    low, high, slack = _empty_circle_range(X, edges)
    assert (low <= high + slack).all()
    whole = _short_whole_fov_edges(X, 60.0)
    low, high, slack = _empty_circle_range(X, whole)
    needed = whole[:, low < high - slack]
    assert np.isin(needed[0] * len(X) + needed[1], edges[0] * len(X) + edges[1]).all()


def test_a_circle_that_leaves_the_box_only_where_the_fov_has_no_points_is_proven():
    low, high = np.array([0.0, 0.0]), np.array([10.0, 10.0])
    lowest, highest = np.array([-100.0, 0.0]), np.array([10.0, 10.0])
    # Reaches x = 95, far past the box, but right of x = 10 there is no FOV.
    assert tiling._misses_unseen(np.array([50.0]), np.array([5.0]), np.array([45.0]),
                                 low, high, lowest, highest).all()
    # Reaches into the unseen strip left of the box.
    assert not tiling._misses_unseen(np.array([-20.0]), np.array([5.0]), np.array([15.0]),
                                     low, high, lowest, highest).any()


def test_copies_of_a_location_are_joined_without_ring_checks(cloud, monkeypatch):
    # Rounded coordinates give many exact copies; their zero-length edges
    # need no proof (a first version sent them through every ring: 156
    # instead of 4.6 CPU-s on 10^6 FGFR1 localisations rounded to 1 nm).
    X = np.concatenate([cloud, cloud[::3]])
    checked = []
    real = tiling._narrow_pencils

    def spy(points, midpoint, normal, half, *args, **kwargs):
        checked.append(half.copy())
        return real(points, midpoint, normal, half, *args, **kwargs)

    monkeypatch.setattr(tiling, "_narrow_pencils", spy)
    tiles = SquareTiles.from_points(X, 200.0)
    edges = tiled_edges(X, 110.0, tiles)
    np.testing.assert_array_equal(edges, _short_whole_fov_edges(X, 110.0))
    assert all((half > 0).all() for half in checked)


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    n_background=st.integers(0, 300),
    n_clusters=st.integers(0, 12),
    tile_fraction=st.floats(0.05, 1.2),
    margin_radii=st.floats(1.0, 3.0),
    rounded=st.booleans(),
)
def test_tiled_edges_are_the_whole_fovs_with_any_margin(seed, n_background, n_clusters, tile_fraction,
                                                 margin_radii, rounded):
    # Sparse background, tight clusters and (rounded) duplicates: wide empty
    # circles cross the margins, so proofs, rings and removals all occur.
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0, 2000, (n_clusters, 2))
    X = np.concatenate([
        rng.uniform(0, 2000, (n_background, 2)),
        np.repeat(centres, 15, axis=0) + rng.normal(0, 20, (15 * n_clusters, 2)),
        rng.uniform(0, 2000, (3, 2)),
    ])
    if rounded:
        X = np.round(X / 10.0) * 10.0
    radius = 150.0
    tiles = SquareTiles.from_points(X, tile_fraction * 2000.0)
    edges = tiled_edges(X, radius, tiles, delaunay_margin=margin_radii * radius)
    whole = _short_whole_fov_edges(X, radius)
    if not rounded:
        np.testing.assert_array_equal(edges, whole)
        return
    # On a 10 nm grid four points often share a circle: either diagonal of
    # such a square is a Delaunay edge, Qhull picks one per call, so two tiles
    # may pick different ones. Every tiled edge must still be a Delaunay edge
    # (some circle through its ends is empty), and every edge that the whole
    # FOV needs (its empty circles are not a single, shared one) must be there.
    distinct = edges[:, np.any(X[edges[0]] != X[edges[1]], axis=1)]
    low, high, slack = _empty_circle_range(X, distinct)
    assert (low <= high + slack).all()
    whole = whole[:, np.any(X[whole[0]] != X[whole[1]], axis=1)]
    low, high, slack = _empty_circle_range(X, whole)
    needed = whole[:, low < high - slack]
    tiled_keys = edges[0] * len(X) + edges[1]
    assert np.isin(needed[0] * len(X) + needed[1], tiled_keys).all()


class _RecordingProgress:
    """The part of tqdm's interface that tiled inference uses."""

    def __init__(self):
        self.stages, self.done = [], 0

    def set_postfix_str(self, text, refresh=True):
        self.stages.append(text)

    def update(self, n):
        self.done += n


@pytest.mark.parametrize("n_threads", [1, 2])
def test_progress_names_the_stages_and_counts_every_localisation(cloud, network, n_threads):
    progress = _RecordingProgress()
    # Far away: a tile with a connected pair and an isolated point, and a
    # tile with only an isolated point (no batch); each point counted once.
    X = np.concatenate([cloud, [[1e5, 1e5], [1e5 + 50, 1e5], [1e5 + 150, 1e5 + 150], [2e5, 2e5]]])
    tiled_network_outputs(network, X, connectivity_radius=110.0, length_scale=20.0, steps=[3],
                          tile_size=300.0, feature_tile_size=600.0, n_threads=n_threads,
                          progress=progress)
    assert progress.stages == ["triangulating", "eigenvectors", "network"]
    assert progress.done == len(X)



class _ClockedProgress(_RecordingProgress):
    """A tqdm-like bar with ``n``, ``total`` and ``reset``, recording the order of calls."""

    def __init__(self, total):
        super().__init__()
        self.n, self.total, self.events = 0, total, []

    def set_postfix_str(self, text, refresh=True):
        super().set_postfix_str(text, refresh)
        self.events.append(text)

    def reset(self, total=None):
        self.events.append(("reset", total, self.n))
        self.n = 0
        if total is not None:
            self.total = total

    def update(self, n):
        super().update(n)
        self.n += n
        if not self.events or self.events[-1] != "update":
            self.events.append("update")


def test_progress_clock_restarts_when_the_network_stage_starts(cloud, network):
    # The bar advances only in the network stage: its clock (tqdm's reset)
    # restarts there, so that the triangulation and eigenvectors do not count
    # in its rate and ETA; its total is kept.
    progress = _ClockedProgress(total=len(cloud))
    tiled_network_outputs(network, cloud, connectivity_radius=110.0, length_scale=20.0, steps=[3],
                          tile_size=300.0, feature_tile_size=600.0, progress=progress)
    assert progress.events == ["triangulating", "eigenvectors", ("reset", len(cloud), 0), "network", "update"]
    assert progress.n == progress.total == len(cloud)


def test_progress_clock_restart_with_a_real_tqdm_bar(cloud, network):
    import io
    import time

    from tqdm import tqdm

    with tqdm(total=len(cloud), file=io.StringIO(), mininterval=0) as bar:
        before = time.time()
        tiled_network_outputs(network, cloud, connectivity_radius=110.0, length_scale=20.0, steps=[3],
                              tile_size=300.0, feature_tile_size=600.0, progress=bar)
        assert bar.n == bar.total == len(cloud)
        assert bar.start_t >= before  # restarted in the run, after the graph stages
        assert bar.postfix == "network"


# ------------------------------------------------ tile ids at any extent / tile size


def _with_and_without(edges, dropped):
    both = lambda e: np.concatenate([np.array(e).T, np.array(e).T[::-1]], axis=1)
    return both(edges), both([e for e in edges if e not in dropped])


def test_feature_tiles_far_apart_are_never_merged():
    # The linear tile id column * n_rows + row overflowed int64: with 2^32
    # rows, tile (2^32, 0) had the id of tile (0, 0), so an edge between them
    # stayed in the eigen-problem.
    w = 2.0**32
    X = np.array([[0.5, 0.5], [0.6, 0.5], [w + 0.5, 0.5], [w + 0.6, 0.5], [0.5, w - 0.5], [0.6, w - 0.5]])
    with_cross, without = _with_and_without([(0, 1), (2, 3), (4, 5), (0, 2)], dropped=[(0, 2)])
    np.testing.assert_allclose(tile_eigenvector_features(X, with_cross, 1.0),
                               tile_eigenvector_features(X, without, 1.0))


def test_feature_tiles_tiny_for_the_extent():
    # extent / feature_tile_size = 1e19: tile indices beyond int64, whose
    # cast was undefined ("invalid value encountered in cast").
    X = np.array([[0.0, 0.0], [1e-13, 0.0], [1e7, 1e7], [1e7, 1e7 + 1e-9]])
    with_cross, without = _with_and_without([(0, 1), (2, 3), (0, 2)], dropped=[(0, 2)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        features = tile_eigenvector_features(X, with_cross, 1e-12)
    np.testing.assert_allclose(features, tile_eigenvector_features(X, without, 1e-12))


def test_feature_tiles_keep_their_order():
    # Tiles are numbered column by column, then row by row, as with the
    # former integer ids: the feature chunks hold the same tiles.
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 1000, (3000, 2))
    graph = build_graph(X, 60.0)
    cell = np.floor((X - X.min(axis=0)) / 250.0).astype(np.int64)
    tile_id = cell[:, 0] * (cell[:, 1].max() + 1) + cell[:, 1]
    inside = tile_id[graph.edge_index[0]] == tile_id[graph.edge_index[1]]
    expected = laplacian_eigenvector_features(len(X), graph.edge_index[:, inside], normalization="rms")
    np.testing.assert_allclose(tile_eigenvector_features(X, graph.edge_index, 250.0), expected, atol=1e-8)


def test_square_tiles_far_too_small_are_a_clear_error():
    X = np.array([[0.0, 0.0], [1e7, 1e7]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match="tile_size=1e-12 cuts a FOV"):
            SquareTiles.from_points(X, 1e-12)


@pytest.mark.parametrize("tile_size", [1e-320, 5e-324, 1e-310])
def test_square_tiles_so_small_that_the_tile_indices_overflow_are_the_same_clear_error(tile_size):
    # (X - origin) / tile_size overflows to inf: the same ValueError, not
    # int(inf)'s OverflowError.
    X = np.array([[0.0, 0.0], [1.0, 1.0], [1e7, 3.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match="cuts a FOV .* into more than 10\\^308 tiles"):
            SquareTiles.from_points(X, tile_size)


# -------------------------------------------------- fov_network_outputs input


_FOV_KWARGS = dict(connectivity_radius=100.0, length_scale=20.0)


@pytest.mark.parametrize("tile_size", [None, 400.0])
def test_fov_network_outputs_accept_a_list_of_positions(cloud, network, tile_size):
    expected = tiling.fov_network_outputs(network, cloud, steps=[0, 2], tile_size=tile_size, **_FOV_KWARGS)
    got = tiling.fov_network_outputs(network, cloud.tolist(), steps=(np.int64(0), 2), tile_size=tile_size,
                                     **_FOV_KWARGS)
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("tile_size", [None, 400.0])
@pytest.mark.parametrize("positions, match", [
    (np.zeros((5, 3)), "positions must have shape"),
    (np.zeros((0, 2)), "0 sample"),
    (np.array([[0.0, 0.0], [np.nan, 1.0]]), "positions contains NaN"),
])
def test_fov_network_outputs_reject_bad_positions(network, tile_size, positions, match):
    with pytest.raises(ValueError, match=match):
        tiling.fov_network_outputs(network, positions, steps=[0], tile_size=tile_size, **_FOV_KWARGS)


@pytest.mark.parametrize("call", ["untiled", "tiled", "tiled_network_outputs"])
@pytest.mark.parametrize("steps, match", [
    ([], "steps is empty"),
    ([-3], "integers >= 0"),
    ([0, -1], "integers >= 0"),
    ([1.0], "integers >= 0"),
    ([True], "integers >= 0"),
    (3, "steps must be a sequence"),
    ("0", "steps must be a sequence"),
])
def test_fov_network_outputs_reject_bad_steps(cloud, network, call, steps, match):
    if call == "tiled_network_outputs":
        run = lambda: tiled_network_outputs(network, cloud, steps=steps, tile_size=400.0, **_FOV_KWARGS)
    else:
        tile_size = None if call == "untiled" else 400.0
        run = lambda: tiling.fov_network_outputs(network, cloud, steps=steps, tile_size=tile_size, **_FOV_KWARGS)
    with pytest.raises(ValueError, match=match):
        run()


def test_copies_of_a_location_are_one_node(cloud, network):
    # Exact copies would be extra graph nodes on zero-length edges, a graph the
    # network never saw; they get their location's outputs instead, whole or tiled.
    kwargs = dict(connectivity_radius=110.0, length_scale=20.0, steps=[1, 3], feature_tile_size=600.0)
    rng = np.random.default_rng(3)
    extra = rng.choice(len(cloud), 40, replace=False)
    doubled = np.concatenate([cloud, cloud[extra]])
    for tile_size in (None, 300.0):
        alone, connected = tiling.fov_network_outputs(network, cloud, tile_size=tile_size, return_connected=True,
                                                      **kwargs)
        with_copies, connected_copies = tiling.fov_network_outputs(
            network, doubled, tile_size=tile_size, return_connected=True, **kwargs)
        np.testing.assert_array_equal(with_copies[:, : len(cloud)], alone)
        np.testing.assert_array_equal(with_copies[:, len(cloud):], alone[:, extra])
        np.testing.assert_array_equal(connected_copies, np.r_[connected, connected[extra]])
