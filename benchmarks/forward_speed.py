"""Forward pass of MIRO's network: efficient vs the naive per-edge formulation.

Times, in one run and on the same graph, :meth:`MIRONetwork.forward` (constant
parts once per pass, node-level projections gathered onto edges) against
:func:`naive_forward` (concatenate, then a dense layer per edge, at every
step), at hidden size 256 and 15 recurrent steps on a ground-truth scenario-6
FOV (2,000 localisations), the paper's setting. Also times graph
construction. Prints a markdown table.

    python benchmarks/forward_speed.py [--repeats 5] [--hidden 256] [--steps 15]

Needs ../shared (the benchmark data); falls back to a simulated scenario-6
FOV when it is absent.
"""

import argparse
import statistics
import time
from pathlib import Path

import torch

from sklearn_miro.graph import build_graph
from sklearn_miro.network import MIRONetwork, naive_forward

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def load_fov():
    folder = SHARED / "data" / "nieves2023" / "ground_truth" / "scenario_6"
    if folder.is_dir():
        from sklearn_miro.io import load_benchmark

        bench = load_benchmark(folder)
        first_test = bench.test_fov_numbers[0]
        return bench.X[bench.groups == first_test], f"benchmark GT scenario 6, FOV {first_test}"
    from sklearn_miro.datasets import make_benchmark_scenario

    X, _, _ = make_benchmark_scenario(6, random_state=0)
    return X, "simulated scenario 6 (../shared absent)"


def timed(fn, repeats):
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--steps", type=int, default=15)
    args = parser.parse_args()

    X, source = load_fov()
    # The reference's radius for this scenario is 0.2 of the FOV: 400 nm.
    graph_time, _ = timed(lambda: build_graph(X, 400.0), args.repeats)
    graph = build_graph(X, 400.0)
    inputs = (
        torch.from_numpy(graph.node_attr),
        torch.from_numpy(graph.edge_index),
        torch.from_numpy(graph.edge_attr),
    )
    torch.manual_seed(0)
    network = MIRONetwork(args.hidden, 2).eval()
    with torch.inference_mode():
        fast_out = network(*inputs, args.steps)
        naive_out = naive_forward(network, *inputs, args.steps)
        max_diff = float((fast_out - naive_out).abs().max())
        fast, fast_all = timed(lambda: network(*inputs, args.steps), args.repeats)
        naive, naive_all = timed(lambda: naive_forward(network, *inputs, args.steps), args.repeats)
    n_params = sum(p.numel() for p in network.parameters())
    print(f"# MIRO forward pass ({source})\n")
    print(f"- {graph.n_nodes} nodes, {graph.n_edges} directed edges, hidden {args.hidden}, "
          f"{args.steps} steps, {n_params:,} parameters, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads")
    print(f"- largest difference between the two outputs: {max_diff:.2e}\n")
    print("| | median s (of %d) | all runs (s) |" % args.repeats)
    print("| --- | --- | --- |")
    print(f"| graph construction (Delaunay + Laplacian PE) | {graph_time:.3f} | |")
    print(f"| naive per-edge concatenation | {naive:.3f} | {', '.join(f'{t:.3f}' for t in naive_all)} |")
    print(f"| sklearn_miro MIRONetwork.forward | {fast:.3f} | {', '.join(f'{t:.3f}' for t in fast_all)} |")
    print(f"\nspeed-up (naive / ours, same run): **{naive / fast:.1f}x**")


if __name__ == "__main__":
    main()
