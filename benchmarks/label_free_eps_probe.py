"""Is the label-free eps right for the min_samples it is used with? (Simulations only.)

The zero-shot DBSCAN rule of a pretrained model (``eps = k x R``, the card's
``min_samples``) was calibrated with a fixed ``min_samples`` on simulated FOVs
of the training family, half of them blinking. In use, ``min_samples`` is
raised on FOVs whose pair correlation shows multiple blinking
(``PretrainedMIRO.dbscan_min_samples``), while ``k`` stays. A larger
``min_samples`` needs more neighbours within ``eps`` to make a core point, so
the best ``k`` may be larger there.

This probe simulates FOVs of the training family with and without blinking
(never the benchmark), runs the model as deployed (pair-correlation ``R``,
the deployed ``min_samples``) and scores every ``k`` of the calibration grid
(mean of ARI-dagger and JI_c, the authors' definitions), separately for the
FOVs where the rule raised ``min_samples`` and the others.

    OMP_NUM_THREADS=1 python benchmarks/label_free_eps_probe.py --n-fovs 40 --model nanoclusters-long
"""

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(1, str(Path(__file__).resolve().parent))
import train_pretrained as tp  # noqa: E402

from sklearn_miro.metrics import ari_dagger, jaccard_cluster_index  # noqa: E402
from sklearn_miro.pretrained import PretrainedMIRO, cluster_fov  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-fovs", type=int, default=40)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--model", default="nanoclusters-long")
    args = parser.parse_args()
    model = PretrainedMIRO.load(args.model)
    card_k, card_ms = model.dbscan_rule
    rng = np.random.default_rng(args.seed + 3_000_017)
    rows = []
    for X, y, true_r, settings in tp.full_size_fovs(args.n_fovs, rng):
        fit = model.pair_correlation_fit(X)
        moved, radius = model.collapse_fov(X, fit=fit)
        ms = model.dbscan_min_samples(X, fit=fit)
        scores = []
        for k in tp.EPS_GRID:
            labels = cluster_fov(moved, radius, k, ms)
            scores.append(0.5 * (ari_dagger(y, labels, variant="reference")
                                 + jaccard_cluster_index(X, y, labels, variant="reference")))
        rows.append((settings["blinking"] is not None, ms > card_ms, np.array(scores)))
    grid = list(tp.EPS_GRID)
    print(f"card rule: eps = {card_k} R, min_samples {card_ms}; eps grid (R): {grid}")
    for name, select in (("simulated with blinking", lambda r: r[0]), ("without blinking", lambda r: not r[0]),
                         ("min_samples raised", lambda r: r[1]), ("min_samples kept", lambda r: not r[1])):
        chosen = [r[2] for r in rows if select(r)]
        if not chosen:
            continue
        mean = np.mean(chosen, axis=0)
        best = int(np.argmax(mean))
        at_card = mean[int(np.argmin(np.abs(np.array(grid) - card_k)))]
        print(f"| {name} | {len(chosen)} | best k {grid[best]}: {mean[best]:.3f} | nearest the card's k: "
              f"{at_card:.3f} | {' '.join(f'{v:.3f}' for v in mean)} |", flush=True)


if __name__ == "__main__":
    main()
