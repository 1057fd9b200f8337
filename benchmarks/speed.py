"""Inference and training cost of MIRO against the number of localizations.

For simulated FOVs of 1k to 100k localizations (Gaussian nanoclusters at a fixed
density, so bigger FOVs are bigger areas), measures

* graph construction time (Delaunay + Laplacian eigenvectors),
* inference time per FOV (graph + forward pass of a trained-size network),
* training time per epoch over graphs of that size (forward + backward + Adam),
* peak memory of inference and of training (CPU: how much the process's peak
  resident set size grows, so sizes are run from small to large; GPU:
  ``torch.cuda.max_memory_allocated``),

and prints a markdown table. Works without ../shared.

    python benchmarks/speed.py [--sizes 1000 3000 10000 30000 100000] [--hidden 64]
                               [--steps 15] [--device cpu]
"""

import argparse
import gc
import resource
import time

import numpy as np
import torch

from sklearn_miro.datasets import make_gaussian_clusters
from sklearn_miro.graph import build_graph
from sklearn_miro.network import MIRONetwork
from sklearn_miro.training import TrainingGraph, collate, miro_loss


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def simulated_fov(n, seed=0):
    """About n localizations: 50 % in 15-localization clusters, 1 per 2000 nm^2 density."""
    side = float(np.sqrt(n / 3000.0) * 2000.0)  # benchmark scenario 5 density
    n_clusters = max(1, int(round(n * 0.5 / 15)))
    X, y, _ = make_gaussian_clusters(
        n_clusters=n_clusters, n_localizations=15, fov_size=side, random_state=seed
    )
    return X, y


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 3000, 10000, 30000, 100000])
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--steps", type=int, default=15)
    parser.add_argument("--radius", type=float, default=150.0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--train-graphs", type=int, default=4, help="graphs per timed epoch")
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.manual_seed(0)
    network = MIRONetwork(args.hidden, 2).to(device)
    optimiser = torch.optim.Adam(network.parameters(), lr=1e-4)

    print(f"# MIRO speed: hidden {args.hidden}, {args.steps} steps, radius {args.radius} nm, "
          f"device {device}, torch {torch.__version__}, {torch.get_num_threads()} threads\n")
    print("| localizations | edges | graph (s) | inference per FOV (s) | training per epoch of "
          f"{args.train_graphs} graphs (s) | peak memory, inference (MB) | peak memory, training step (MB) |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for n in args.sizes:
        X, y = simulated_fov(n)
        start = time.perf_counter()
        graph = build_graph(X, args.radius)
        graph_s = time.perf_counter() - start
        tensors = [torch.from_numpy(a).to(device) for a in (graph.node_attr, graph.edge_index, graph.edge_attr)]

        gc.collect()
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
            torch.cuda.synchronize()
        rss_before = peak_rss_mb()
        with torch.inference_mode():
            network(*tensors, args.steps)  # warm-up
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            build_graph(X, args.radius)
            network(*tensors, args.steps)
            if device.type == "cuda":
                torch.cuda.synchronize()
            infer_s = time.perf_counter() - start
        infer_mem = (torch.cuda.max_memory_allocated() / 2**20 if device.type == "cuda"
                     else peak_rss_mb() - rss_before)

        sample = TrainingGraph(
            node_attr=tensors[0], edge_index=tensors[1], edge_attr=tensors[2],
            positions=torch.from_numpy((X / args.radius).astype(np.float32)).to(device),
            targets=torch.zeros((1, len(X), 2), device=device),
            classes=torch.zeros(len(X), dtype=torch.long, device=device),
        )
        batch = collate([sample], device)
        scales = torch.zeros(args.steps, dtype=torch.long, device=device)
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        rss_before = peak_rss_mb()
        start = time.perf_counter()
        for _ in range(args.train_graphs):
            out = network(batch.node_attr, batch.edge_index, batch.edge_attr, args.steps)
            loss = miro_loss(out, batch, scales, 10.0, 0.1)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        train_s = time.perf_counter() - start
        train_mem = (torch.cuda.max_memory_allocated() / 2**20 if device.type == "cuda"
                     else peak_rss_mb() - rss_before)
        print(f"| {len(X):,} | {graph.n_edges:,} | {graph_s:.3f} | {infer_s:.3f} | {train_s:.2f} | "
              f"{infer_mem:.0f} | {train_mem:.0f} |", flush=True)


if __name__ == "__main__":
    main()
