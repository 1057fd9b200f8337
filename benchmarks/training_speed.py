"""CPU time of a training step: float32 against bfloat16, uncompiled against compiled.

Builds the synthetic training crops of a from-scratch fit the way the
estimators do (``sklearn_miro.augmentation``: C-shapes + rings, 3 labelled
FOVs of ``datasets.make_multishape``, crops of about 280 localisations, the
automatic radius and length unit) and times ``training.fit_network`` on them
with the shape classifier's from-scratch network (hidden 64, 20 recurrent
steps, 2 + 3 outputs, batches of 8 crops, the class cross-entropy on), once
per precision and per ``compile`` (``torch.compile``, where a C++ compiler
is found), alternating, ``--repeats`` times after a warm-up round. Reports
CPU seconds (``time.process_time`` plus the finished child processes: the C++
compiler) and wall seconds per optimisation step, their ratio to uncompiled
float32, measured in one run, and what the first compiled round cost beyond
its steps (the compile, from an empty cache: a fresh one per run, one
compile thread). Run it with one torch thread:

    OMP_NUM_THREADS=1 python benchmarks/training_speed.py [--batches 10] [--repeats 3]

Also reports whether this CPU has native bfloat16 (``training.native_bfloat16``):
without it bfloat16 is emulated, which is expected to be slower.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
# First, before torch is imported: quality.py sets up the compiling it measures (in this
# process, into an empty cache removed at exit) and gives the CPU time that counts it.
from quality import fit_cpu_seconds  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from sklearn_miro.augmentation import (  # noqa: E402
    AugmentationOptions,
    default_fov_size,
    default_length_scale,
    make_training_graphs,
    prepare_training_set,
)
from sklearn_miro.datasets import make_multishape  # noqa: E402
from sklearn_miro.graph import default_connectivity_radius  # noqa: E402
from sklearn_miro.model import fov_statistics  # noqa: E402
from sklearn_miro.network import MIRONetwork  # noqa: E402
from sklearn_miro.training import PRECISIONS, compiler_available, fit_network, native_bfloat16  # noqa: E402


def training_crops(n_graphs, seed=0):
    """Synthetic crops of the from-scratch C-shapes + rings fit, and the network's output count."""
    X, y, groups, classes = make_multishape(("c_shape", "ring"), n_fovs=3, random_state=0)
    codes = np.unique(classes, return_inverse=True)[1]
    fovs = [np.flatnonzero(groups == g) for g in np.unique(groups)]
    training_set = prepare_training_set(X, y, groups, codes, fov_indices=fovs)
    side, density = fov_statistics(X, fovs)  # what train_model uses
    options = AugmentationOptions(fov_size=default_fov_size(training_set, density))
    radius = default_connectivity_radius(X, fov_indices=fovs)
    unit = default_length_scale(training_set) or radius
    graphs = make_training_graphs(training_set, n_graphs, radius, options, np.random.default_rng(seed),
                                  length_scale=unit, normalization="rms")
    # distance_scale as train_model passes it: the radius over the FOVs' median side
    return graphs, 2 + len(np.unique(codes)), radius / side


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, default=10, help="optimisation steps per timing")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=20, help="recurrent steps")
    args = parser.parse_args()
    batch_size = 8
    graphs, n_outputs, distance_scale = training_crops(args.batches * batch_size)
    nodes = np.mean([g.n_nodes for g in graphs])
    settings = [(p, c) for c in ((False, True) if compiler_available() else (False,)) for p in PRECISIONS]
    cpu = {s: [] for s in settings}
    wall = {s: [] for s in settings}
    for _ in range(args.repeats + 1):  # the first round warms up (and compiles)
        for precision, compiled in settings:
            torch.manual_seed(0)
            network = MIRONetwork(64, n_outputs)
            c0, w0 = fit_cpu_seconds(), time.perf_counter()
            fit_network(network, graphs, n_steps=args.steps, step_scales=np.zeros(args.steps, dtype=np.int64),
                        alpha=10.0, distance_scale=distance_scale, beta=0.1, max_epochs=1,
                        batch_size=batch_size, rng=np.random.default_rng(0), precision=precision,
                        compile=compiled)
            cpu[precision, compiled].append((fit_cpu_seconds() - c0) / args.batches)
            wall[precision, compiled].append((time.perf_counter() - w0) / args.batches)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), "
          f"native bfloat16: {native_bfloat16('cpu')}, C++ compiler: {compiler_available()}; "
          f"batches of {batch_size} crops of {nodes:.0f} localisations, hidden 64, "
          f"{args.steps} steps; median of {args.repeats}\n")
    print("| precision | compiled | CPU s / step | wall s / step | CPU time vs uncompiled float32 "
          "| first round's extra CPU s (compile) |")
    print("| --- | --- | --- | --- | --- | --- |")
    base = statistics.median(cpu["float32", False][1:])
    for setting in settings:
        c, w = statistics.median(cpu[setting][1:]), statistics.median(wall[setting][1:])
        extra = (cpu[setting][0] - c) * args.batches
        print(f"| {setting[0]} | {'yes' if setting[1] else 'no'} | {c:.3f} | {w:.3f} | {c / base:.2f} "
              f"| {extra:.1f} |")


if __name__ == "__main__":
    main()
