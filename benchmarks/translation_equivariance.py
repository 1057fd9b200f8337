"""Translation equivariance at microscope-stage offsets (issue 16).

Fits a small MIROTransformer on simulated FOVs of benchmark scenario 6, then
measures, on a held-out FOV, max |transform(X + c) - transform(X) - c| and
whether MIROClusterer's labels change, for offsets c from 1e3 to 1e9 nm
(both axes, both signs), and the number of graph edges at each offset.

    OMP_NUM_THREADS=1 python benchmarks/translation_equivariance.py
"""

import time

import numpy as np
import torch

from sklearn_miro import MIROClusterer, MIROTransformer
from sklearn_miro.datasets import make_benchmark_scenario
from sklearn_miro.graph import build_graph


def main():
    torch.set_num_threads(1)
    started, cpu = time.perf_counter(), time.process_time()
    X, y, fov = make_benchmark_scenario(6, n_fovs=3, random_state=0)
    train = fov < 2
    miro = MIROTransformer(hidden_size=16, n_steps=4, n_augmented=100, max_epochs=2, verbose=0,
                           random_state=0, device="cpu").fit(X[train], y[train], groups=fov[train])
    clusterer = MIROClusterer(miro).fit(X[train], y[train], groups=fov[train])
    X_test = X[fov == 2]
    base = miro.transform(X_test)
    base_labels = clusterer.predict(X_test)
    edges = build_graph(X_test, miro.connectivity_radius_).n_edges
    print(f"held-out FOV: {len(X_test)} localisations, {edges} directed edges at offset 0")
    print("| offset (nm) | max abs error (nm) | edges | labels unchanged |")
    print("| --- | --- | --- | --- |")
    worst = 0.0
    for magnitude in (1e3, 1e6, 1e8, 1e9):
        for offset in (np.array([magnitude, magnitude]), np.array([-magnitude, 0.5 * magnitude])):
            moved = miro.transform(X_test + offset)
            error = float(np.abs(moved - base - offset).max())
            worst = max(worst, error) if magnitude == 1e9 else worst
            same = bool(np.array_equal(clusterer.predict(X_test + offset), base_labels))
            n_edges = build_graph(X_test + offset, miro.connectivity_radius_).n_edges
            print(f"| {offset.tolist()} | {error:.3g} | {n_edges} | {same} |")
    print(f"max |transform(X + 1e9) - transform(X) - 1e9| = {worst:.3g} nm")
    print(f"wall {time.perf_counter() - started:.0f} s, CPU {time.process_time() - cpu:.0f} s")


if __name__ == "__main__":
    main()
