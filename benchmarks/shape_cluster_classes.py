"""Experiment (issue 11): how a shape mixture's clusters get their class, on saved classifiers.

``MIROShapeClassifier`` fits are deterministic, and what follows training
(DBSCAN's parameters and border-point rule, then how each cluster gets its
class) does not change the network. This reruns that stage on the classifiers
saved by

    OMP_NUM_THREADS=1 python benchmarks/quality.py mix-SE --seeds 0 1 2 --save-models DIR

under ``border_points`` in {"cluster", "auto"} x ``cluster_classes`` in
{"vote", "auto"}, and scores the quality table's 10 test FOVs (ARI-dagger,
JI_c and RMSRE_N as the table computes them, the mean macro F1 over FOVs).
``oracle class`` gives every cluster of the default rule the most frequent
true class of its localisations: the F1 that no way of classifying those
clusters can beat.

    python benchmarks/shape_cluster_classes.py DIR mix-SE --seeds 0 1 2 [--tag default]

Result (twenty-second session): benchmarks/README.md.
"""

import argparse
import json
import warnings
from pathlib import Path

import joblib
import numpy as np
from quality import MIXTURES, _report_rows
from sklearn.metrics import f1_score

from sklearn_miro.datasets import make_multishape
from sklearn_miro.estimators._shape import shape_targets


def majority(values, labels):
    """The most frequent value of each cluster, for every clustered localisation."""
    out = np.asarray(values, dtype=object).copy()
    inside = labels >= 0
    if inside.any():
        ids, rows = np.unique(labels[inside], return_inverse=True)
        classes, codes = np.unique(np.asarray(values)[inside], return_inverse=True)
        counts = np.zeros((len(ids), len(classes)), dtype=np.int64)
        np.add.at(counts, (rows, codes), 1)
        out[inside] = classes[counts.argmax(axis=1)][rows]
    return out


def score(model, Xt, yt, gt, clst, oracle=False):
    labels, classes = np.full(len(Xt), -1), np.empty(len(Xt), dtype=object)
    offset = 0
    for f in np.unique(gt):
        idx = np.flatnonzero(gt == f)
        lab, c = model.predict_clusters(Xt[idx])
        if oracle:
            c = np.where(lab >= 0, majority(clst[idx], lab), str(model.background_class_))
        labels[idx] = np.where(lab >= 0, lab + offset, -1)
        offset += max(int(lab.max()) + 1, 0)
        classes[idx] = c
    table = _report_rows(Xt, yt, gt, {"MIRO": labels})
    f1 = np.mean([f1_score(clst[gt == f], classes[gt == f].astype(str), average="macro") for f in np.unique(gt)])
    return {**{k: round(float(table[k].mean()), 3) for k in ("ari_dagger", "ji_c", "rmsre_n")}, "f1": round(float(f1), 3)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", type=Path, help="the --save-models directory of quality.py")
    parser.add_argument("mixture", choices=sorted(MIXTURES))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--tag", default="default", help="the quality.py tag the models were saved under")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    X, y, g, cls = make_multishape(MIXTURES[args.mixture], n_fovs=3, random_state=0)
    Xt, yt, gt, clst = make_multishape(MIXTURES[args.mixture], n_fovs=10, random_state=1)
    fov_indices = [np.flatnonzero(g == f) for f in np.unique(g)]
    for seed in args.seeds:
        path = args.models / f"{args.mixture}_seed{seed}_{args.tag}.joblib"
        for border_points, cluster_classes in (("cluster", "vote"), ("cluster", "descriptors"), ("auto", "vote"),
                                               ("auto", "auto")):
            model = joblib.load(path)
            model.set_params(border_points=border_points, cluster_classes=cluster_classes)
            clusters, codes, *_ = shape_targets(y, cls, len(X))
            model._fit_clustering(X, clusters, codes, fov_indices)  # the post-training stage of fit
            row = {"mixture": args.mixture, "seed": seed, "border_points": border_points,
                   "cluster_class_scores": model.cluster_class_scores_,
                   "cluster_classes": cluster_classes, "chosen": [model.border_points_, model.cluster_classes_],
                   "eps": round(model.eps_, 2), "min_samples": model.min_samples_,
                   **score(model, Xt, yt, gt, clst)}
            if (border_points, cluster_classes) == ("cluster", "vote"):
                row["oracle class f1"] = score(model, Xt, yt, gt, clst, oracle=True)["f1"]
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
