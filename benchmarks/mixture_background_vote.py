"""Experiment (issue 11): F1 of a shape mixture when a localisation's own background call overrides its cluster's class.

``MIROShapeClassifier.predict_clusters`` gives every localisation of a DBSCAN
cluster the mode of the cluster's per-localisation classes. This compares, on
the quality table's 10 test FOVs and the classifiers saved by

    OMP_NUM_THREADS=1 python benchmarks/quality.py mix-SE --seeds 0 1 2 --save-models DIR

the mean F1 over FOVs of that vote, of the vote with every localisation the
network calls background set back to background (argmax, or background
probability above 0.6), and of the per-localisation argmax alone:

    python benchmarks/mixture_background_vote.py DIR mix-SE

Result (seventh session): no gain; see benchmarks/README.md.
"""

import argparse
import json
import warnings
from pathlib import Path

import joblib
import numpy as np
from quality import MIXTURES
from sklearn.metrics import f1_score

from sklearn_miro.datasets import make_multishape


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", type=Path, help="the --save-models directory of quality.py")
    parser.add_argument("mixture", choices=sorted(MIXTURES))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    X, _, g, true_class = make_multishape(MIXTURES[args.mixture], n_fovs=10, random_state=1)
    for seed in args.seeds:
        model = joblib.load(args.models / f"{args.mixture}_seed{seed}_default.joblib")
        background = model.background_class_
        column = int(np.flatnonzero(model.classes_ == background)[0])
        f1 = {"cluster mode": [], "own background overrides": [], "background probability > 0.6 overrides": [],
              "per-localisation argmax": []}
        for fov in np.unique(g):
            idx = g == fov
            _, cluster_class = model.predict_clusters(X[idx])
            proba = model.predict_proba(X[idx])
            own = model.classes_[proba.argmax(axis=1)]
            variants = {
                "cluster mode": cluster_class,
                "own background overrides": np.where(own == background, background, cluster_class),
                "background probability > 0.6 overrides": np.where(proba[:, column] > 0.6, background,
                                                                    cluster_class),
                "per-localisation argmax": own,
            }
            for name, predicted in variants.items():
                f1[name].append(f1_score(true_class[idx], predicted.astype(str), average="macro"))
        print(json.dumps({"mixture": args.mixture, "seed": seed,
                          **{name: round(float(np.mean(v)), 3) for name, v in f1.items()}}), flush=True)


if __name__ == "__main__":
    main()
