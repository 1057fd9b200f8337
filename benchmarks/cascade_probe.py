"""Experiment: a second MIRO network trained on the first one's output (a cascade).

A fitted network collapses the training clusters to 0.15-0.6 of their RMS
size; applying the same network again helps only where the half-collapsed
clusters still look like its training data. Here a second transformer is
fitted, with the default recipe, on the training FOVs as the first one left
them (same labels), and new FOVs go through both. DBSCAN is chosen on the
training FOVs by ``MIROClusterer``'s own rule (collapse passes of the second
network "auto"); test FOVs are scored as in ``quality.py``.

    OMP_NUM_THREADS=1 python benchmarks/cascade_probe.py rings cshapes --seeds 0
"""

import json
import sys
import time
from pathlib import Path

import torch
from sklearn.frozen import FrozenEstimator

sys.path.insert(0, str(Path(__file__).resolve().parent))
import quality  # noqa: E402

from sklearn_miro import MIROClusterer, MIROTransformer  # noqa: E402


def main():
    parser = quality.probe_parser(__doc__)
    parser.add_argument("--stages", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(1)
    for name, (Xtr, ytr, gtr), (Xte, yte, gte) in quality.probe_scenarios(args.scenarios, args.n_test):
        for seed in args.seeds:
            stage_in_tr, stage_in_te = Xtr, Xte
            fit_cpu = 0.0
            for stage in range(1, args.stages + 1):
                cpu = time.process_time()
                miro = MIROTransformer(verbose=0, random_state=seed).fit(stage_in_tr, ytr, groups=gtr)
                fit_cpu += time.process_time() - cpu
                clusterer = MIROClusterer(FrozenEstimator(miro)).fit(stage_in_tr, ytr, groups=gtr)
                record = dict(scenario=name, seed=seed, stage=stage, fit_cpu_min=round(fit_cpu / 60, 2),
                              length_scale=float(miro.length_scale_),
                              connectivity_radius=float(miro.connectivity_radius_),
                              passes=int(clusterer.collapse_passes_), eps=float(clusterer.eps_),
                              min_samples=int(clusterer.min_samples_),
                              **quality.probe_test_scores(clusterer, Xte, yte, gte, X_in=stage_in_te)[0])
                print(json.dumps(record), flush=True)
                # The next stage's input: each FOV collapsed on its own.
                stage_in_tr = miro.transform(stage_in_tr, groups=gtr)
                stage_in_te = miro.transform(stage_in_te, groups=gte)


if __name__ == "__main__":
    main()
