"""Experiment (issue 11): the multiscale clusterer's DBSCAN rule on the NPC, with and without AMI.

``MIROClusterer`` chooses DBSCAN's parameters by mean(ARI-dagger, JI_c, AMI)
on the training FOVs (sixth session); ``MultiscaleMIROClusterer`` still uses
mean(ARI-dagger, JI_c). This scores both rules, per scale, on the 10 test FOVs
of the quality table's NPC, from transformers saved by

    OMP_NUM_THREADS=1 python benchmarks/quality.py npc --seeds 0 1 --save-models DIR

and then

    python benchmarks/npc_dbscan_rules.py DIR --seeds 0 1

Result (seventh session): AMI does not lift the corners' JI_c; see benchmarks/README.md.
"""

import argparse
import json
import warnings
from pathlib import Path

import joblib
import numpy as np
from quality import NPC_SCALES
from sklearn.frozen import FrozenEstimator

from sklearn_miro import MultiscaleMIROClusterer
from sklearn_miro.clustering import ami_score, choose_dbscan_parameters, transformer_radius
from sklearn_miro.datasets import make_npc
from sklearn_miro.metrics import clustering_report

RULES = ("mean(ARI+, JI_c)", "mean(ARI+, JI_c, AMI)")


def chosen_parameters(miro, X, Y, g, rule):
    """Per scale, the (eps, min_samples) the rule picks on the training FOVs, as the estimator does."""
    fovs = [g == fov for fov in np.unique(g)]
    eps, min_samples = [], []
    for k, scale in enumerate(NPC_SCALES):
        moved = miro.transform(X, groups=g, scale=scale)
        labels = [Y[idx, k] for idx in fovs]
        extra = [ami_score(fov_labels) for fov_labels in labels] if "AMI" in rule else None
        e, m, *_ = choose_dbscan_parameters([X[idx] for idx in fovs], [moved[idx] for idx in fovs], labels,
                                            transformer_radius(miro), "auto", "auto", extra_scores=extra)
        eps.append(float(e))
        min_samples.append(int(m))
    return eps, min_samples


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", type=Path, help="the --save-models directory of quality.py")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    X, Y, g = make_npc(n_fovs=3, random_state=0)
    Xt, Yt, gt = make_npc(n_fovs=10, random_state=1)
    for seed in args.seeds:
        miro = joblib.load(args.models / f"npc_seed{seed}_default.joblib")
        for rule in RULES:
            eps, min_samples = chosen_parameters(miro, X, Y, g, rule)
            model = MultiscaleMIROClusterer(FrozenEstimator(miro), eps=eps, min_samples=min_samples).fit(X, Y, groups=g)
            result = {"seed": seed, "rule": rule, "eps": [round(e, 2) for e in eps], "min_samples": min_samples}
            predicted = {fov: model.predict(Xt[gt == fov]) for fov in np.unique(gt)}
            for k, scale in enumerate(NPC_SCALES):
                rows = []
                for fov, labels in predicted.items():
                    idx = gt == fov
                    report = clustering_report(Xt[idx], Yt[idx, k], labels[:, k], variant="reference")
                    rows.append([float(report[m].iloc[0]) for m in ("ari_dagger", "ji_c", "rmsre_n")])
                result[scale] = np.mean(rows, axis=0).round(3).tolist()
            print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
