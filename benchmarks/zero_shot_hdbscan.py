"""Zero-shot MIRO: HDBSCAN, or DBSCAN*, instead of DBSCAN on the collapsed points?

Zero-shot use (no labels) clusters each collapsed FOV with DBSCAN at ``eps =
k x R`` (``R`` the FOV's cluster length scale from the pair-correlation fit,
``k`` the model card's constant) and the blink-aware ``min_samples`` of
``PretrainedMIRO.dbscan_min_samples``. ``eps`` is the one length a zero-shot
user cannot check. HDBSCAN (scikit-learn's) needs no ``eps``: it keeps the
clusters that persist over all density levels, with ``min_cluster_size`` and
``min_samples`` set here from the same blink-aware ``min_samples`` ``m``.

Variants: ``min_cluster_size`` ``m`` or ``2 m``, ``cluster_selection_method``
``"eom"`` or ``"leaf"``; ``min_samples = m`` in all. They are chosen on simulated FOVs of
the pretraining family (``--simulated N``, never the benchmark), then the chosen
variant is scored on the benchmark (``--benchmark``, the first ``--n-test`` test FOVs of the
10 shared scenarios) beside the deployed DBSCAN rule, the k-distance knee rule
and the benchmark's hand-tuned DBSCAN. Metrics: ARI-dagger and JI_c, the
authors' definitions; mean over FOVs.

``dbscan_star_rule`` is the deployed rule's eps and min_samples with DBSCAN*
(``grid_dbscan.DBSCANStar``: border points left as background), which
``MIROClusterer(border_points="background")`` applies without labels
(twenty-first session).

    OMP_NUM_THREADS=1 python benchmarks/zero_shot_hdbscan.py --simulated 40
    OMP_NUM_THREADS=1 python benchmarks/zero_shot_hdbscan.py --benchmark --n-test 20
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.cluster import DBSCAN, HDBSCAN

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(1, str(Path(__file__).resolve().parent))
import train_pretrained as tp  # noqa: E402
from zero_shot import ALL as SCENARIOS  # noqa: E402
from zero_shot import DATA, scores  # noqa: E402

from sklearn_miro.grid_dbscan import DBSCANStar  # noqa: E402
from sklearn_miro.io import load_benchmark  # noqa: E402
from sklearn_miro.pretrained import PretrainedMIRO, cluster_fov, kdistance_eps  # noqa: E402

VARIANTS = {f"hdbscan_{method}_{factor}m": (method, factor) for method in ("eom", "leaf") for factor in (1, 2)}
RULES = ["dbscan_rule", "dbscan_star_rule"]


def hdbscan_labels(moved, min_samples, method, factor):
    m = max(2, int(min_samples))
    return HDBSCAN(min_cluster_size=factor * m, min_samples=m, cluster_selection_method=method,
                   copy=True).fit_predict(moved)


def score_fov(model, X, y, extra=None):
    """Every method's (ARI-dagger, JI_c) on one FOV, and the CPU seconds of each step."""
    k, _ = model.dbscan_rule
    fit = model.pair_correlation_fit(X)
    moved, radius = model.collapse_fov(X, fit=fit)
    m = model.dbscan_min_samples(X, fit=fit)
    row = dict(n=len(X), min_samples=int(m), radius=float(radius))
    row["dbscan_rule"] = scores(X, y, cluster_fov(moved, radius, k, m))
    row["dbscan_star_rule"] = (scores(X, y, DBSCANStar(eps=k * radius, min_samples=int(m)).fit_predict(moved))
                               if np.isfinite(radius) else row["dbscan_rule"])
    for name, (method, factor) in VARIANTS.items():
        cpu = time.process_time()
        row[name] = scores(X, y, hdbscan_labels(moved, m, method, factor))
        row[name + "_cpu_s"] = time.process_time() - cpu
    for name, make in (extra or {}).items():
        row[name] = scores(X, y, make(X))
    return row


def summarise(rows, methods, label):
    print(f"\n{label}: {len(rows)} FOVs; ARI-dagger / JI_c / their mean")
    for name in methods:
        a = np.mean([r[name][0] for r in rows])
        j = np.mean([r[name][1] for r in rows])
        print(f"| {name} | {a:.3f} | {j:.3f} | {(a + j) / 2:.3f} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--simulated", type=int, default=0, help="number of simulated FOVs of the training family")
    parser.add_argument("--benchmark", action="store_true")
    parser.add_argument("--n-test", type=int, default=20)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--model", default="nanoclusters-long")
    parser.add_argument("--output", default=None, help="JSON file of the per-FOV scores")
    args = parser.parse_args()
    model = PretrainedMIRO.load(args.model)
    out = {}
    methods = [*RULES, *VARIANTS]
    if args.simulated:
        # The same simulated family and seed offset as label_free_eps_probe.py.
        rng = np.random.default_rng(args.seed + 3_000_017)
        rows = []
        for X, y, _, settings in tp.full_size_fovs(args.simulated, rng):
            row = score_fov(model, X, y)
            row["blinking"] = settings["blinking"] is not None
            rows.append(row)
        out["simulated"] = rows
        summarise(rows, methods, "simulated, all")
        summarise([r for r in rows if r["blinking"]], methods, "simulated, blinking")
        summarise([r for r in rows if not r["blinking"]], methods, "simulated, no blinking")
    if args.benchmark:
        out["benchmark"] = {}
        for scenario in SCENARIOS:
            bench = load_benchmark(DATA / scenario)
            test_mask = bench.strict_test_mask if "strict_test_mask" in bench else bench.test_mask
            fovs = [f for f in bench.test_fov_numbers if np.any(test_mask & (bench.groups == f))][: args.n_test]
            extra = {
                "knee": lambda X: DBSCAN(eps=kdistance_eps(X, 4), min_samples=5).fit_predict(X),
                "hand_tuned": lambda X, p=dict(bench.metadata["DBSCAN_params"]): DBSCAN(**p).fit_predict(X),
            }
            rows = [score_fov(model, bench.X[bench.groups == f], bench.y[bench.groups == f], extra) for f in fovs]
            out["benchmark"][scenario] = rows
            summarise(rows, methods + ["knee", "hand_tuned"], scenario)
            if args.output:
                Path(args.output).write_text(json.dumps(out, indent=1))
    if args.output:
        Path(args.output).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
