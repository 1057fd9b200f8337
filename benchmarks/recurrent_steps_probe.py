"""Experiment: more recurrent steps on blinking data, at inference and in fine-tuning.

The shipped model and every default fit run T = 15 recurrent steps; the
authors used T = 25 on blinking scenarios 2, 4 and 6, and their Fig. S2 shows
the compression of blinking scenario 6 improving with the number of steps.
From random weights T = 25 learned too slowly on a CPU budget
(``benchmarks/README.md``, "more recurrent steps"), but the weights are shared
across steps, so a network fine-tuned at T = 15 can be run for more steps, or
fine-tuned again at T = 25 starting from its T = 15 weights (``warm_start``).

For each scenario and seed: the default fit, then ``MIROClusterer`` (its own
DBSCAN choice and passes on the training FOVs) on

* the default network run for each T of ``--infer-steps``;
* for each T of ``--finetune-steps``, the default network fine-tuned again
  with ``n_steps=T`` (the same schedule, ``warm_start=True``); T = 15 is the
  control (twice the fine-tuning at the same depth).

Training compression (``diagnostics.cluster_compression``) and the test
metrics as in ``quality.py``.

    OMP_NUM_THREADS=1 python benchmarks/recurrent_steps_probe.py MB-S6 --seeds 0 --infer-steps 15 20 25 --finetune-steps 15 25
"""

import copy
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import quality  # noqa: E402

from sklearn_miro import MIROClusterer, MIROTransformer  # noqa: E402
from sklearn_miro.diagnostics import cluster_compression  # noqa: E402


def with_steps(miro, n_steps):
    """A copy of a fitted transformer whose network runs ``n_steps`` recurrent steps."""
    other = copy.copy(miro)
    other.model_ = dataclasses.replace(miro.model_, n_steps=int(n_steps),
                                       step_scales=np.zeros(int(n_steps), dtype=np.int64))
    return other


def evaluate(miro, label, name, seed, train, test, **extra):
    Xtr, ytr, gtr = train
    Xte, yte, gte = test
    compression = cluster_compression(Xtr, miro.transform(Xtr, groups=gtr), ytr, gtr)["compression"]
    clusterer = MIROClusterer(miro).fit(Xtr, ytr, groups=gtr)
    means, seconds = quality.probe_test_scores(clusterer, Xte, yte, gte)
    record = dict(scenario=name, seed=seed, model=label, train_compression=round(float(compression), 3),
                  passes=int(clusterer.collapse_passes_), eps=float(clusterer.eps_),
                  min_samples=int(clusterer.min_samples_), s_per_fov=round(seconds, 3),
                  **{m: round(v, 4) for m, v in means.items()}, **extra)
    print(json.dumps(record), flush=True)


def main():
    parser = quality.probe_parser(__doc__)
    parser.add_argument("--infer-steps", type=int, nargs="+", default=[15, 20, 25])
    parser.add_argument("--finetune-steps", type=int, nargs="*", default=[],
                        help="fine-tune the default network again with each of these T (15: the control)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    for name, train, test in quality.probe_scenarios(args.scenarios, args.n_test):
        Xtr, ytr, gtr = train
        for seed in args.seeds:
            cpu = time.process_time()
            miro = MIROTransformer(verbose=0, random_state=seed).fit(Xtr, ytr, groups=gtr)
            fit_cpu = (time.process_time() - cpu) / 60
            for n_steps in args.infer_steps:
                evaluate(with_steps(miro, n_steps), f"fine-tuned at T=15, run at T={n_steps}", name, seed,
                         train, test, fit_cpu_min=round(fit_cpu, 2))
            for n_steps in args.finetune_steps:
                cpu = time.process_time()
                deeper = copy.deepcopy(miro).set_params(n_steps=n_steps, warm_start=True)
                deeper.fit(Xtr, ytr, groups=gtr)
                more_cpu = (time.process_time() - cpu) / 60
                evaluate(deeper, f"fine-tuned again at T={n_steps}", name, seed, train, test,
                         fit_cpu_min=round(fit_cpu + more_cpu, 2))


if __name__ == "__main__":
    main()
