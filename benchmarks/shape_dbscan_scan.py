"""Does the shape classifier's DBSCAN choice cost F1? A scan of (eps, min_samples).

Trains ``MIROShapeClassifier`` with its defaults on the spots + ellipses
mixture of ``benchmarks/quality.py`` (3 training FOVs, ``random_state=0``;
the model's seed from the command line), then scores every other eps of the
estimator's own grid and every min_samples of it on the training FOVs and on
the 10 test FOVs (``random_state=1``): ARI-dagger, JI_c
(``variant="reference"``) and the macro F1 of the cluster classes (mode per
cluster, background outside clusters), means over FOVs. Prints the candidate
the estimator's rule picks on the training FOVs (mean of ARI-dagger and JI_c)
beside the one a rule with F1 in the score would pick, and writes every
candidate to ``results/shape_dbscan_scan_seed<seed>.json``.

    OMP_NUM_THREADS=1 python benchmarks/shape_dbscan_scan.py 1
"""

import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.cluster import DBSCAN
from sklearn.metrics import f1_score

from sklearn_miro import MIROShapeClassifier
from sklearn_miro.datasets import make_multishape
from sklearn_miro.estimators import mode_per_cluster
from sklearn_miro.metrics import clustering_report

SHAPES = ("spot", "ellipse")


def per_fov_outputs(model, X, groups):
    """(coordinates, collapsed points, argmax class codes) of every FOV, computed once."""
    out = []
    for f in np.unique(groups):
        idx = groups == f
        out.append((idx, model.collapse(X[idx]), model.predict_proba(X[idx]).argmax(axis=1)))
    return out


def cluster_classes(model, labels, codes):
    """Mode of the class codes in every DBSCAN cluster; background outside clusters."""
    classes = model.classes_[mode_per_cluster(labels, codes, len(model.classes_))]
    return np.where(labels >= 0, classes, model.background_class_).astype(str)


def score(model, X, y, classes, fovs, eps, min_samples):
    """Mean over FOVs of (ARI-dagger, JI_c, F1) for one DBSCAN candidate."""
    rows = []
    for idx, collapsed, codes in fovs:
        labels = DBSCAN(eps=eps, min_samples=min_samples).fit_predict(collapsed)
        report = clustering_report(X[idx], y[idx], labels, variant="reference")
        f1 = f1_score(classes[idx], cluster_classes(model, labels, codes), average="macro")
        rows.append((float(report["ari_dagger"].iloc[0]), float(report["ji_c"].iloc[0]), f1))
    return np.mean(rows, axis=0).tolist()


def main():
    seed = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    torch.set_num_threads(1)
    X, y, g, cls = make_multishape(SHAPES, n_fovs=3, random_state=0)
    Xt, yt, gt, clst = make_multishape(SHAPES, n_fovs=10, random_state=1)
    started = time.process_time()
    model = MIROShapeClassifier(random_state=seed, verbose=0).fit(X, cls, clusters=y, groups=g)
    print(f"fit {(time.process_time() - started) / 60:.1f} CPU-min; the estimator chose "
          f"eps {model.eps_:.1f}, min_samples {model.min_samples_}", flush=True)
    train, test = per_fov_outputs(model, X, g), per_fov_outputs(model, Xt, gt)
    rows = [
        dict(eps=float(eps), ms=int(ms), train=score(model, X, y, cls, train, eps, ms),
             test=score(model, Xt, yt, clst, test, eps, ms))
        for eps in model.eps_grid_[::2] for ms in model.min_samples_grid_
    ]
    out = Path(__file__).resolve().parent / "results" / f"shape_dbscan_scan_seed{seed}.json"
    out.write_text(json.dumps(rows, indent=1))
    by_clusters = max(rows, key=lambda r: r["train"][0] + r["train"][1])
    with_f1 = max(rows, key=lambda r: sum(r["train"]))
    print("picked by mean(ARI-dagger, JI_c) on the training FOVs:", by_clusters)
    print("picked by mean(ARI-dagger, JI_c, F1) on the training FOVs:", with_f1)


if __name__ == "__main__":
    main()
