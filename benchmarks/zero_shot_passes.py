"""Zero-shot: would a second pass of the pretrained network help, on the family it was made for?

Fine-tuned clusterers may apply the network twice before DBSCAN (``collapse_passes``), which
tightens the clusters the first pass left loose. Zero-shot use applies it once, with a
label-free DBSCAN rule (``eps = k x R``, fixed ``min_samples``) calibrated on simulated FOVs
of the pretraining family. Zero-shot's main loss on the benchmark is over-splitting on
blinking data (a collapse that is not tight enough), so this probe asks, on simulated FOVs
only (never the benchmark):

* calibrate the rule as ``train_pretrained.py --calibrate`` does (the same 20 FOVs, grid and
  score: mean of ARI-dagger and JI_c, the authors' definitions) after one pass and after two
  (the second pass runs on the first pass's output with the same radius and spacing);
* score each calibrated rule on 40 fresh FOVs of the family (another seed), with and without
  blinking separately.

Usage (one torch thread)::

    OMP_NUM_THREADS=1 python benchmarks/zero_shot_passes.py [--model nanoclusters-long]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import train_pretrained as tp  # noqa: E402
from sklearn.cluster import DBSCAN  # noqa: E402

from sklearn_miro.metrics import ari_dagger, jaccard_cluster_index  # noqa: E402
from sklearn_miro.network import MIRONetwork  # noqa: E402
from sklearn_miro.pretrained import collapse_fov, fov_spacing  # noqa: E402


def collapsed(network, n_steps, X, radius, passes):
    spacing = float(fov_spacing(X)[0])
    moved = X
    for _ in range(passes):
        moved = collapse_fov(network, moved, n_steps, radius, spacing=spacing, crop_features=True)
    return moved


def score(X, y, moved, eps, min_samples):
    labels = DBSCAN(eps=eps, min_samples=int(min_samples)).fit_predict(moved)
    return 0.5 * (ari_dagger(y, labels, variant="reference")
                  + jaccard_cluster_index(X, y, labels, variant="reference"))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="nanoclusters-long")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-calibration", type=int, default=20)
    parser.add_argument("--n-test", type=int, default=40)
    parser.add_argument("--output", default=None)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    info = json.loads((tp.OUT / f"{args.model}.json").read_text())
    network = MIRONetwork(**info["network"])
    network.load_state_dict(torch.load(tp.OUT / f"{args.model}.pt", weights_only=True))
    network.eval()
    n_steps = info["n_steps"]
    # The calibration FOVs of train_pretrained.calibrate_dbscan, and fresh test FOVs.
    calibration = tp.full_size_fovs(args.n_calibration, np.random.default_rng(args.seed + 2_000_003))
    test = tp.full_size_fovs(args.n_test, np.random.default_rng(args.seed + 3_000_017))
    results = {"model": args.model, "passes": {}}
    for passes in (1, 2):
        cpu = time.process_time()
        cal = [(X, y, collapsed(network, n_steps, X, r, passes), r) for X, y, r, _ in calibration]
        grid = np.array([[np.mean([score(X, y, m, k * r, ms) for X, y, m, r in cal])
                          for ms in tp.MIN_SAMPLES_GRID] for k in tp.EPS_GRID])
        i, j = np.unravel_index(np.argmax(grid), grid.shape)
        k, ms = float(tp.EPS_GRID[i]), int(tp.MIN_SAMPLES_GRID[j])
        per_fov = []
        for X, y, r, settings in test:
            m = collapsed(network, n_steps, X, r, passes)
            blinking = bool(settings.get("blinking", False))
            per_fov.append((blinking, score(X, y, m, k * r, ms)))
        blink = [s for b, s in per_fov if b]
        plain = [s for b, s in per_fov if not b]
        results["passes"][passes] = {
            "eps_in_radii": k, "min_samples": ms, "calibration_score": float(grid[i, j]),
            "test_score": float(np.mean([s for _, s in per_fov])),
            "test_score_blinking": float(np.mean(blink)) if blink else None, "n_blinking": len(blink),
            "test_score_no_blinking": float(np.mean(plain)) if plain else None, "n_no_blinking": len(plain),
            "cpu_s": time.process_time() - cpu,
        }
        print(passes, "pass(es):", json.dumps(results["passes"][passes]), flush=True)
    if args.output:
        Path(args.output).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
