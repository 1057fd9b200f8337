"""The NPC corners read at other recurrent steps, from saved models (no training, no ``../shared``).

``MultiscaleMIROTransformer(readout_steps="auto")`` reads the corners at the
step where the training corners are most collapsed; the paper reads them at
``k* - 1``. For every saved NPC model (``quality.py npc --save-models DIR``)
and every step asked for, this sets the transformer's corner step by hand,
reruns ``MultiscaleMIROClusterer``'s DBSCAN choice on the 3 training FOVs and
scores the corners on the 10 test FOVs of ``quality.py`` (ARI†, JI_c,
RMSRE_N, the authors' definitions). The pores are not affected by the corner
step. Also printed: the step the model reads and the training compression of
the corners at each step asked for.

    OMP_NUM_THREADS=1 python benchmarks/npc_readout_steps.py DIR/npc_seed0_*.joblib --steps 9 4 5
"""

import argparse
import copy
import json
import sys
import warnings
from pathlib import Path

import joblib
import numpy as np
from sklearn.frozen import FrozenEstimator

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))
import quality  # noqa: E402

from sklearn_miro import MultiscaleMIROClusterer  # noqa: E402
from sklearn_miro.clustering import inner_transformer  # noqa: E402
from sklearn_miro.datasets import make_npc  # noqa: E402


def corner_scores(transformer, step, train, test):
    """Corners ARI† / JI_c / RMSRE_N on the test FOVs with the corners read at ``step``."""
    X, Y, g = train
    Xt, Yt, gt = test
    moved = copy.deepcopy(transformer)
    moved.scale_steps_ = np.array([step, *transformer.scale_steps_[1:]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clusterer = MultiscaleMIROClusterer(FrozenEstimator(moved)).fit(X, Y, groups=g)
        labels = clusterer.predict(Xt, groups=gt)
    scores = quality.mean_scores(Xt, Yt[:, 0], gt, labels[:, 0])
    return {**scores, "eps": float(clusterer.eps_[0]), "min_samples": int(clusterer.min_samples_[0])}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("models", nargs="+", help="joblib files of fitted MultiscaleMIROClusterer / Transformer")
    parser.add_argument("--steps", type=int, nargs="+", required=True, help="corner steps to score (0-based)")
    parser.add_argument("--output", default=None, help="JSON file for the results")
    args = parser.parse_args()
    train = make_npc(n_fovs=3, random_state=0)
    test = make_npc(n_fovs=10, random_state=1)
    results = []
    for path in args.models:
        model = joblib.load(path)
        transformer = inner_transformer(getattr(model, "transformer_", model))  # a clusterer's, unwrapped
        compression = getattr(transformer, "step_compression_", None)
        print(f"{path}: reads the corners at step {int(transformer.scale_steps_[0])}")
        for step in args.steps:
            row = {"model": str(path), "step": step, **corner_scores(transformer, step, train, test)}
            if compression is not None:
                row["train_compression"] = float(compression[0, step])
            results.append(row)
            print(f"  step {step}: corners ARI† / JI_c / RMSRE_N {row['ari_dagger']:.3f} / {row['ji_c']:.3f} / "
                  f"{row['rmsre_n']:.3f} (eps {row['eps']:.2f}, min_samples {row['min_samples']}; training "
                  f"compression {row.get('train_compression', float('nan')):.3f})", flush=True)
    if args.output:
        Path(args.output).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
