"""Paired CPU timing of transform: whole-FOV vs crop-square eigenvector features, same fitted model.

    OMP_NUM_THREADS=1 python benchmarks/crop_features_speed.py MB-S6 MB-S5 GT-S2 sim10b

Fits the default MIROTransformer (seed 0) on each scenario's training FOVs, then times
``transform`` of its first 10 test FOVs with ``crop_features=False`` and ``True``, alternated,
3 times each (CPU time, the minimum). Needs ../shared for the benchmark scenarios.
"""
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's package
sys.path.insert(1, str(Path(__file__).resolve().parent))
import quality  # noqa: E402

from sklearn_miro import MIROTransformer  # noqa: E402

torch.set_num_threads(1)
for name in sys.argv[1:]:
    sc = quality.load_scenario(name, n_test=10)
    Xtr, ytr, gtr = sc["train"]; Xte, yte, gte = sc["test"]
    t = MIROTransformer(random_state=0, verbose=0).fit(Xtr, ytr, groups=gtr)
    res = {False: [], True: []}
    for rep in range(3):
        for flag in (False, True):
            t.set_params(crop_features=flag)
            c0 = time.process_time(); t.transform(Xte, groups=gte); res[flag].append(time.process_time() - c0)
    n = len(np.unique(gte))
    print(f"{name}: {len(Xte)/n:.0f} loc/FOV; CPU s per FOV (min of 3) whole {min(res[False])/n:.3f}, crop {min(res[True])/n:.3f}, ratio {min(res[True])/min(res[False]):.2f}", flush=True)
