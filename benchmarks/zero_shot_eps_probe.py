"""Does the zero-shot DBSCAN's best eps vary from FOV to FOV in a way the data can tell?

The label-free rule uses ``eps = eps_in_radii x R`` (the model card's factor, one for all
FOVs) and ``min_samples`` from the card's rule (:meth:`PretrainedMIRO.dbscan_min_samples`).
On ``--n-fovs`` fresh simulated FOVs of the training family (numpy seed ``--seed``), each
collapsed once by the zero-shot model as ``MIROClusterer`` does, this clusters at every
factor of a grid with the rule's ``min_samples`` and prints, FOVs with and without blinking
apart: the score (mean of ARI-dagger and JI_c) at the card's factor, at the best single factor
per group, and at the best factor per FOV (a ceiling that needs labels); and the Spearman
correlation of the best factor with label-free quantities of the FOV (the tiled extra
neighbours, the blink repeats, the localisations per spacing area). A factor that differs
between the groups, or follows one of these, would be a rule to try.

    OMP_NUM_THREADS=1 python benchmarks/zero_shot_eps_probe.py --n-fovs 100 --seed 2026
"""

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr
from sklearn.cluster import DBSCAN

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(1, str(Path(__file__).resolve().parent))
import quality  # noqa: E402
from min_samples_predictors import collapsed_simulations  # noqa: E402

from sklearn_miro.parameters import tiled_excess_neighbours  # noqa: E402
from sklearn_miro.pretrained import ZERO_SHOT_MODEL, PretrainedMIRO  # noqa: E402

FACTORS = np.array([0.25, 0.3, 0.35, 0.4, 0.45, 0.5125, 0.575, 0.65, 0.75, 0.85, 1.0, 1.2])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-fovs", type=int, default=100)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--model", default=ZERO_SHOT_MODEL)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    model = PretrainedMIRO.load(args.model)
    card_factor, _ = model.dbscan_rule
    rows = []
    for X, y, settings, fit, moved, radius in collapsed_simulations(model, args.n_fovs, args.seed):
        min_samples = model.dbscan_min_samples(X, fit=fit)
        groups = np.zeros(len(X), dtype=int)
        scores = []
        for k in FACTORS:
            s = quality.mean_scores(X, y, groups, DBSCAN(eps=k * radius, min_samples=min_samples).fit_predict(moved))
            scores.append((s["ari_dagger"] + s["ji_c"]) / 2)
        spacing = np.sqrt(np.prod(np.ptp(X, axis=0)) / len(X))
        rows.append(dict(blinking=settings["blinking"] is not None, scores=np.array(scores),
                         typical=tiled_excess_neighbours(X, fit.radius) if np.isfinite(fit.radius) else 0.0,
                         repeats=fit.repeat_neighbours, crowding=(radius / spacing) ** 2))
    scores = np.array([r["scores"] for r in rows])
    blinking = np.array([r["blinking"] for r in rows])
    card = int(np.argmin(np.abs(FACTORS - card_factor)))
    print(f"{len(rows)} simulated FOVs (seed {args.seed}), model {args.model}, min_samples from the card's rule; "
          f"eps = factor x R, card factor {card_factor}\n")
    print("| FOVs | n | score at the card's factor | best single factor: factor, score | best per FOV (ceiling) | "
          "median best factor | Spearman of the best factor with tiled count / repeats / (R/s)^2 |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name, keep in (("without blinking", ~blinking), ("with blinking", blinking), ("all", np.ones_like(blinking))):
        sub = scores[keep]
        mean = sub.mean(axis=0)
        best = FACTORS[np.argmax(sub, axis=1)]
        rho = [spearmanr([r[q] for r, k in zip(rows, keep) if k], best).statistic
               for q in ("typical", "repeats", "crowding")]
        print(f"| {name} | {keep.sum()} | {mean[card]:.3f} | {FACTORS[np.argmax(mean)]}, {mean.max():.3f} | "
              f"{sub.max(axis=1).mean():.3f} | {np.median(best):.3f} | "
              + " / ".join(f"{v:.2f}" for v in rho) + " |", flush=True)
    print("\nMean score per factor (all FOVs): " + ", ".join(f"{k}: {v:.3f}" for k, v in zip(FACTORS, scores.mean(axis=0))))


if __name__ == "__main__":
    main()
