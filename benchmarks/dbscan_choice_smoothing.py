"""Does a smoothed score grid choose DBSCAN's parameters after MIRO more reliably than its argmax?

``MIROClusterer.fit`` scores every DBSCAN candidate (18 eps x its min_samples
range, after 1 and 2 passes of the network) on the 3 collapsed training FOVs
and keeps the best one. With 3 FOVs the score surface is noisy: the quality
table's three seeds of blinking 6 picked eps 46 / 27 / 16 nm with min_samples
100 / 130 / 60. Averaging each candidate's score with its grid neighbours (a
3 x 3 mean in (eps, min_samples) index space; both grids are close to
geometric) prefers the middle of a broad plateau to a lone peak.

For each scenario and seed the script fits ``MIROClusterer`` with its defaults
(deterministic: the quality table's model; cached with joblib in ``--cache``),
computes the training score grids for 1 and 2 passes (the estimator's own
search, ``collapse_passes`` fixed), lets each rule pick, and scores every pick on
all the scenario's test FOVs (``quality.mean_scores``, the table's metrics).
Rules:

* ``argmax``: the estimator's rule (must reproduce the quality table's row);
* ``smooth3``: argmax of the 3 x 3 neighbourhood mean (``scipy.ndimage.uniform_filter``,
  edges repeated);
* ``smooth5``: the same over 5 x 5.

The number of passes is chosen by each rule's best (smoothed) training score,
ties to fewer passes, as the estimator does.

    OMP_NUM_THREADS=1 python benchmarks/dbscan_choice_smoothing.py MB-S6 sim7b --seeds 0 1 2 \\
        --output /tmp/smoothing_a.json
    python benchmarks/dbscan_choice_smoothing.py all --output unused --merge /tmp/smoothing_*.json
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import joblib
import numpy as np
from scipy.ndimage import uniform_filter
from sklearn.frozen import FrozenEstimator

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(1, str(Path(__file__).resolve().parent))
import quality  # noqa: E402
from dbscan_oracle import fmt, plain_dbscan_scores  # noqa: E402
from dbscan_rule_scan import meets_target  # noqa: E402

from sklearn_miro import MIROClusterer  # noqa: E402

RULES = {"argmax": 1, "smooth3": 3, "smooth5": 5}
PASSES = (1, 2)


def cached_fit(name, seed, cache):
    path = Path(cache) / f"{name}_seed{seed}_clusterer.joblib"
    if path.exists():
        data, miro, fit_cpu = joblib.load(path)
        return data, miro, fit_cpu
    data, miro, fit_cpu = quality.fit_default_clusterer(name, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump((data, miro, fit_cpu), path)
    return data, miro, fit_cpu


def training_grids(miro, train):
    """The estimator's training score grid for each number of passes."""
    X, y, g = train
    grids = {}
    for passes in PASSES:
        c = MIROClusterer(FrozenEstimator(miro.transformer_), collapse_passes=passes).fit(X, y, groups=g)
        grids[passes] = (np.asarray(c.tuning_scores_, dtype=float), np.asarray(c.eps_grid_, dtype=float),
                         np.asarray(c.min_samples_grid_, dtype=int))
    return grids


def pick(grids, size):
    best = {}
    for passes, (scores, eps_grid, ms_grid) in grids.items():
        smoothed = scores if size == 1 else uniform_filter(scores, size=size, mode="nearest")
        i, j = np.unravel_index(np.argmax(smoothed), smoothed.shape)
        best[passes] = (float(smoothed[i, j]), float(eps_grid[i]), int(ms_grid[j]))
    passes = max(best, key=lambda k: (best[k][0], -k))
    return passes, best[passes][1], best[passes][2]


def test_scores(miro, train, test, passes, eps, min_samples):
    c = MIROClusterer(FrozenEstimator(miro.transformer_), collapse_passes=passes, eps=eps,
                      min_samples=min_samples)
    c.fit(train[0], train[1], groups=train[2])  # one candidate: nothing is chosen
    X, y, g = test
    return quality.mean_scores(X, y, g, c.predict(X, groups=g))


def run(name, seed, cache):
    cpu0, wall0 = time.process_time(), time.perf_counter()
    data, miro, fit_cpu = cached_fit(name, seed, cache)
    grids = training_grids(miro, data["train"])
    picks = {rule: pick(grids, size) for rule, size in RULES.items()}
    scored = {}
    for rule, p in picks.items():
        if p not in scored:
            scored[p] = test_scores(miro, data["train"], data["test"], *p)
    Xte, yte, gte = data["test"]
    dbscan = plain_dbscan_scores(data, Xte, yte, gte, miro.transformer_.connectivity_radius_)
    default = (miro.collapse_passes_, float(miro.eps_), int(miro.min_samples_))
    out = dict(scenario=name, seed=seed, fit_cpu_min=fit_cpu / 60, dbscan=dbscan,
               estimator_pick=list(default), argmax_reproduces_estimator=picks["argmax"] == default,
               rules={rule: dict(passes=p[0], eps=p[1], min_samples=p[2], **scored[p]) for rule, p in picks.items()},
               cpu_s=time.process_time() - cpu0, wall_s=time.perf_counter() - wall0)
    cells = " | ".join(f"{rule} {p[0]}p {p[1]:.1f}/{p[2]}: {fmt(scored[p])}" for rule, p in picks.items())
    print(f"| {name} | {seed} | {cells} | DBSCAN {fmt(dbscan)} | argmax = estimator: "
          f"{out['argmax_reproduces_estimator']} |", flush=True)
    return out


def summarise(results, rules=tuple(RULES), note=None):
    """Mean ± std over seeds per scenario and rule, and how many scenarios meet issue 11's target.

    ``note(runs, rule)``, optional, adds a text to a cell.
    """
    names = sorted({r["scenario"] for r in results})
    met = dict.fromkeys(rules, 0)
    print("\n| scenario | seeds | " + " | ".join(rules) + " | DBSCAN |")
    print("| --- | --- | " + " | ".join("---" for _ in rules) + " | --- |")
    for name in names:
        rs = [r for r in results if r["scenario"] == name]
        cells = []
        for rule in rules:
            mean = {m: float(np.mean([r["rules"][rule][m] for r in rs])) for m in quality.TARGET_METRICS}
            std = {m: float(np.std([r["rules"][rule][m] for r in rs])) for m in quality.TARGET_METRICS}
            misses = meets_target(name, mean, rs[0]["dbscan"])
            met[rule] += not misses
            cells.append(" / ".join(f"{mean[m]:.3f} ± {std[m]:.3f}" for m in quality.TARGET_METRICS)
                         + (f" ({note(rs, rule)})" if note else "") + (" (target)" if not misses else ""))
        print(f"| {name} | {len(rs)} | " + " | ".join(cells) + f" | {fmt(rs[0]['dbscan'])} |")
    print("\nscenarios meeting the target: " + ", ".join(f"{rule} {n}" for rule, n in met.items()))


def probe_main(doc, run, summarise):
    """Command line shared with ``dbscan_core_only.py``: run rows into a JSON file, or ``--merge`` files."""
    parser = quality.probe_parser(doc)
    parser.add_argument("--cache", default="/tmp/sklearn_miro_smoothing_cache")
    parser.add_argument("--output", required=True, help="JSON file; results are appended per run")
    parser.add_argument("--merge", nargs="+", default=None,
                        help="only print the summary of these JSON files together (scenarios are ignored)")
    args = parser.parse_args()
    if args.merge:
        summarise([r for f in args.merge for r in json.loads(Path(f).read_text())])
        return
    path = Path(args.output)
    results = json.loads(path.read_text()) if path.exists() else []
    for name in args.scenarios:
        for seed in args.seeds:
            results = [r for r in results if (r["scenario"], r["seed"]) != (name, seed)]
            results.append(run(name, seed, args.cache))
            path.write_text(json.dumps(results, indent=1))
    summarise(results)


if __name__ == "__main__":
    probe_main(__doc__, run, summarise)
