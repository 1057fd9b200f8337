"""Experiment: average the collapse of several independently fine-tuned networks.

Every default fit costs under one CPU-minute, far under issue 11's 15, and two
fits with different ``random_state`` see different synthetic crops and end in
different networks. Averaging their displacements (a bagged ensemble) lowers
the variance of each localisation's predicted centre. This probe fits one
``MIROTransformer`` per seed with the defaults, then scores on the test FOVs:
each network alone, and the mean of the moved coordinates of all of them,
every time with ``MIROClusterer``'s own DBSCAN choice (passes "auto") on the
training FOVs. Scored as in ``quality.py``.

    OMP_NUM_THREADS=1 python benchmarks/ensemble_probe.py MB-S6 sim7b --seeds 0 1 2
"""

import copy
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import quality  # noqa: E402

from sklearn_miro import MIROClusterer, MIROTransformer  # noqa: E402


def averaged(members):
    """A fitted transformer whose ``transform`` is the mean of the members' outputs.

    The members share the connectivity radius and length unit (both derived
    from the training data, not from the seed), so the copy of the first one
    carries the right fitted attributes for the clusterer.
    """
    radii = {float(m.connectivity_radius_) for m in members}
    if len(radii) != 1:
        raise ValueError(f"members differ in connectivity radius: {sorted(radii)}")
    ensemble = copy.copy(members[0])

    def transform(X, groups=None):
        return np.mean([m.transform(X, groups=groups) for m in members], axis=0)

    ensemble.transform = transform
    return ensemble


def score(clusterer, X, y, groups):
    means, seconds = quality.probe_test_scores(clusterer, X, y, groups)
    return {**{m: round(v, 4) for m, v in means.items()}, "s_per_fov": round(seconds, 3)}


def main():
    args = quality.probe_parser(__doc__, default_seeds=(0, 1, 2)).parse_args()
    torch.set_num_threads(1)
    for name, (Xtr, ytr, gtr), (Xte, yte, gte) in quality.probe_scenarios(args.scenarios, args.n_test):
        members, cpu_total = [], 0.0
        for seed in args.seeds:
            cpu = time.process_time()
            miro = MIROTransformer(verbose=0, random_state=seed).fit(Xtr, ytr, groups=gtr)
            cpu_total += time.process_time() - cpu
            members.append(miro)
            clusterer = MIROClusterer(miro).fit(Xtr, ytr, groups=gtr)
            print(json.dumps(dict(scenario=name, model=f"seed {seed}", passes=int(clusterer.collapse_passes_),
                                  eps=float(clusterer.eps_), min_samples=int(clusterer.min_samples_),
                                  **score(clusterer, Xte, yte, gte))), flush=True)
        clusterer = MIROClusterer(averaged(members)).fit(Xtr, ytr, groups=gtr)
        print(json.dumps(dict(scenario=name, model=f"mean of seeds {args.seeds}",
                              fit_cpu_min=round(cpu_total / 60, 2), passes=int(clusterer.collapse_passes_),
                              eps=float(clusterer.eps_), min_samples=int(clusterer.min_samples_),
                              **score(clusterer, Xte, yte, gte))), flush=True)


if __name__ == "__main__":
    main()
