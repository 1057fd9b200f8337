"""How far can a label-free DBSCAN rule take the zero-shot collapse? (issue 13)

Issue 13 asks zero-shot MIRO to beat the benchmark's hand-tuned DBSCAN on ARI-dagger and
JI_c in at least 8 of the 10 scenarios. The zero-shot rule sets DBSCAN's ``eps`` and
``min_samples`` per FOV without labels. This asks what any such rule could reach on the
zero-shot model's collapse, by giving it the labels: the first ``--n-test`` test FOVs of each
benchmark scenario are collapsed as ``MIROClusterer(MIROTransformer.pretrained())`` does
without labels (the pair-correlation radius R, the card's number of passes), then clustered
at every ``eps`` of ``EPS_IN_RADII`` x R and every ``min_samples`` of ``MIN_SAMPLES``.
Per scenario it prints:

- the label-free rule's scores (the package's default, as the zero-shot benchmark gives them);
- the best fixed ``(eps / R, min_samples)`` of the scenario (by the mean of ARI-dagger and
  JI_c over its FOVs), how many grid cells beat the hand-tuned DBSCAN on both metrics, and
  the first of them;
- the oracle: each FOV at its own best cell, averaged. Since the target is "better on both
  metrics", not the best mean, every FOV's cell is chosen by ``w x ARI-dagger + (1 - w) x
  JI_c`` for weights ``w`` from 0 to 1 (step 0.01): the table gives the weight whose averages
  beat the hand-tuned DBSCAN on both by the widest margin (the smaller of the two), or, if
  none does, the averages at ``w = 0.5``.

A scenario with no winning cell and no winning weight is out of reach of this grid of DBSCAN
choices (a finer grid or a per-FOV mix of weights could still do better, so this is a lower
bound on the ceiling, not the ceiling itself): there the collapse itself must improve.

    OMP_NUM_THREADS=1 python benchmarks/zero_shot_ceiling.py --n-test 20 --output benchmarks/results/zero_shot_ceiling.md

Needs ../shared (the benchmark). The hand-tuned DBSCAN uses the benchmark's own parameters, as
``benchmarks/zero_shot.py`` does.
"""

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.cluster import DBSCAN

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(1, str(Path(__file__).resolve().parent))
import quality  # noqa: E402
from zero_shot import scores  # noqa: E402

from sklearn_miro.pretrained import ZERO_SHOT_MODEL, PretrainedMIRO  # noqa: E402

SCENARIOS = ["GT-S2", "GT-S4", "GT-S5", "GT-S6", "GT-S8", "MB-S2", "MB-S4", "MB-S5", "MB-S6", "MB-S8"]
EPS_IN_RADII = np.array([0.25, 0.35, 0.5125, 0.7, 1.0, 1.4, 2.0, 2.8])
MIN_SAMPLES = np.array([2, 3, 4, 5, 6, 7, 8, 10, 12, 15, 18, 20, 25, 30, 35, 40, 50, 60, 80, 100])


def scenario_grid(name, model, n_test):
    """Per test FOV: the label-free rule's (ARI-dagger, JI_c), the grid's, and the hand-tuned DBSCAN's."""
    data = quality.load_scenario(name, n_test=n_test)
    X, y, g = data["test"]
    hand_tuned = DBSCAN(**data["dbscan"])
    eps_in_radii, _ = model.dbscan_rule
    rule, grid, hand = [], [], []
    for fov in np.unique(g):
        Xf, yf = X[g == fov], y[g == fov]
        fit = model.pair_correlation_fit(Xf)
        moved, radius = model.collapse_fov(Xf, None, fit=fit, crop_features=True, passes=model.collapse_passes)
        m = model.dbscan_min_samples(Xf, fit=fit)
        rule.append(scores(Xf, yf, DBSCAN(eps=eps_in_radii * radius, min_samples=m).fit_predict(moved)))
        grid.append([[scores(Xf, yf, DBSCAN(eps=e * radius, min_samples=int(k)).fit_predict(moved))
                      for k in MIN_SAMPLES] for e in EPS_IN_RADII])
        hand.append(scores(Xf, yf, hand_tuned.fit_predict(Xf)))
    return np.array(rule), np.array(grid), np.array(hand)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenarios", nargs="*", default=SCENARIOS)
    parser.add_argument("--n-test", type=int, default=20)
    parser.add_argument("--model", default=ZERO_SHOT_MODEL)
    parser.add_argument("--output", default=None, help="also write the table to this markdown file")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    model = PretrainedMIRO.load(args.model)
    start_wall, start_cpu = time.perf_counter(), time.process_time()
    lines = [
        f"Zero-shot `{args.model}` ({model.collapse_passes} pass(es) of the network), the first "
        f"{args.n_test} test FOVs per scenario; ARI† / JI_c (the authors' definitions), mean over the "
        f"FOVs. Grid: eps in {', '.join(f'{e:g}' for e in EPS_IN_RADII)} x R, min_samples in "
        f"{', '.join(str(k) for k in MIN_SAMPLES)}. Command: "
        f"`OMP_NUM_THREADS=1 python benchmarks/zero_shot_ceiling.py --n-test {args.n_test}"
        + (f" --output {args.output}" if args.output else "") + "`.",
        "",
        "| scenario | label-free rule | hand-tuned DBSCAN | best fixed cell (eps / R, min_samples) | "
        "cells beating hand-tuned on both (first) | oracle per FOV (weight w) | oracle beats hand-tuned on both |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    print("\n".join(lines), flush=True)
    reachable = 0
    for name in args.scenarios:
        rule, grid, hand = scenario_grid(name, model, args.n_test)
        mean_grid, h = grid.mean(axis=0), hand.mean(axis=0)  # (eps, min_samples, 2), (2,)
        combined = mean_grid.mean(axis=2)
        i, j = np.unravel_index(np.argmax(combined), combined.shape)
        winning = np.argwhere((mean_grid[..., 0] > h[0]) & (mean_grid[..., 1] > h[1]))
        first = (f" ({EPS_IN_RADII[winning[0][0]]:g}, {MIN_SAMPLES[winning[0][1]]})" if len(winning) else "")
        per_fov = grid.reshape(len(grid), -1, 2)
        # One weighted choice per FOV for every weight; the best margin over both metrics.
        oracles = {}
        for w in np.round(np.linspace(0.0, 1.0, 101), 2):
            pick = (w * per_fov[..., 0] + (1 - w) * per_fov[..., 1]).argmax(axis=1)
            oracles[w] = per_fov[np.arange(len(grid)), pick].mean(axis=0)
        margins = {w: min(o[0] - h[0], o[1] - h[1]) for w, o in oracles.items()}
        best_w = max(margins, key=margins.get)
        oracle_wins = margins[best_w] > 0
        if not oracle_wins:
            best_w = 0.5
        oracle = oracles[best_w]
        reachable += len(winning) > 0 or oracle_wins
        r = rule.mean(axis=0)
        line = (f"| {name} | {r[0]:.3f} / {r[1]:.3f} | {h[0]:.3f} / {h[1]:.3f} | {EPS_IN_RADII[i]:g}, "
                f"{MIN_SAMPLES[j]}: {mean_grid[i, j, 0]:.3f} / {mean_grid[i, j, 1]:.3f} | {len(winning)} of "
                f"{combined.size}{first} | {oracle[0]:.3f} / {oracle[1]:.3f} (w = {best_w:g}) | "
                f"{'yes' if oracle_wins else 'no'} |")
        lines.append(line)
        print(line, flush=True)
    tail = [
        "",
        f"Scenarios where some fixed cell or the per-FOV oracle beats the hand-tuned DBSCAN on both "
        f"metrics: {reachable} of {len(args.scenarios)}. "
        f"{time.perf_counter() - start_wall:.0f} s wall, {time.process_time() - start_cpu:.0f} CPU-s.",
    ]
    lines += tail
    print("\n".join(tail))
    if args.output:
        Path(args.output).write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
