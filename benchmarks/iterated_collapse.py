"""Experiment: apply a fitted MIRO network more than once before DBSCAN.

One pass shrinks the training clusters to 0.15-0.6 of their RMS size with the
defaults (``results/quality/summary.md``). A second pass of the same network on
the moved points could shrink them further while background, which the first
pass left nearly in place, stays put. For each scenario and seed this fits
the default ``MIROTransformer`` once (as ``quality.py`` does), then for 1, 2
and 3 passes chooses DBSCAN on the training FOVs with ``MIROClusterer``'s own
rule and scores the test FOVs (ARI-dagger, JI_c, RMSRE_N, as the authors
compute them).

    OMP_NUM_THREADS=1 python benchmarks/iterated_collapse.py GT-S6 MB-S6 --seeds 0

With ``--auto 1,2 1,2,3`` it instead compares ``collapse_passes="auto"``
choosing among each set of candidates, on the same fitted network: the fit
with the best training score among fixed numbers of passes, the fewest on a
tie, which is ``"auto"``'s rule (``tests/test_estimators.py`` checks that
``"auto"`` gives the same fit as the number it chose, given explicitly).
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


def fit_clusterer(miro, X, y, groups, candidates):
    """MIROClusterer on the frozen ``miro`` with the passes among ``candidates`` that ``"auto"`` would choose."""
    best = None
    for n_passes in sorted(candidates):
        clusterer = MIROClusterer(FrozenEstimator(miro), collapse_passes=n_passes).fit(X, y, groups=groups)
        if best is None or clusterer.tuning_scores_.max() > best.tuning_scores_.max():
            best = clusterer
    return best


def main():
    parser = quality.probe_parser(__doc__)
    parser.add_argument("--passes", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--output", default=None)
    parser.add_argument("--auto", nargs="*", default=None,
                        help="candidate sets for collapse_passes='auto', e.g. 1,2 1,2,3")
    args = parser.parse_args()
    torch.set_num_threads(1)
    results = []
    for name, (Xtr, ytr, gtr), (Xte, yte, gte) in quality.probe_scenarios(args.scenarios, args.n_test):
        for seed in args.seeds:
            cpu = time.process_time()
            miro = MIROTransformer(verbose=0, random_state=seed).fit(Xtr, ytr, groups=gtr)
            fit_cpu = time.process_time() - cpu
            settings = ([tuple(int(k) for k in c.split(",")) for c in args.auto] if args.auto
                        else args.passes)
            for setting in settings:
                clusterer = fit_clusterer(miro, Xtr, ytr, gtr, setting if args.auto else (setting,))
                means, _ = quality.probe_test_scores(clusterer, Xte, yte, gte)
                record = dict(scenario=name, seed=seed, passes=setting, chosen=int(clusterer.collapse_passes_),
                              fit_cpu_min=fit_cpu / 60,
                              eps=float(clusterer.eps_), min_samples=int(clusterer.min_samples_), **means)
                print(json.dumps(record), flush=True)
                results.append(record)
    if args.output:
        Path(args.output).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
