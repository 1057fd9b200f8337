"""Cluster and classify shapes at once with MIROShapeClassifier (spots + ellipses).

Like the paper's Fig. 3a-c: simulated FOVs mixing spots and ellipses
(:func:`sklearn_miro.datasets.make_multishape`), with the shape class of
every localisation (``"background"`` for the unclustered ones). The network
collapses every cluster onto its centre and, at the same time, predicts the
class of every localisation (cross-entropy weighted by ``beta``, paper Eq. 7);
DBSCAN on the collapsed points gives the clusters. A cluster's shape is the
mode of its localisations' predicted classes (the paper's vote) or, when it
classifies the training clusters better, a small model of the cluster's
geometry and of that vote (``cluster_classes="auto"``; the script says which).
The script

1. trains a :class:`~sklearn_miro.MIROShapeClassifier` on 4 simulated FOVs
   (a short CPU training by default; ``--epochs`` for a longer one), or loads
   a model saved by ``benchmarks/multiscale_and_shapes.py`` (``--model``) or the
   authors' multishape checkpoint (``--authors``, needs ``../shared``);
2. classifies the localisations of a held-out FOV (``predict``,
   ``predict_proba``), clusters them and classifies the clusters
   (``predict_clusters``);
3. prints the per-localisation F1 score and the clustering scores and saves
   ``shape_classification.png`` (classes, clusters per shape, confusion matrix).

    python examples/shape_classification.py [--output-dir DIR] [--epochs 4] [--model M.joblib] [--authors]

The default training takes about a minute on an idle 2-core CPU and gives a
rough model; the benchmark trains for longer (see doc/multiscale_and_shapes.md).
"""

import argparse
import os
import sys
import time
from pathlib import Path

import joblib
import numpy as np
from sklearn.metrics import confusion_matrix, f1_score

from sklearn_miro import MIROShapeClassifier
from sklearn_miro.datasets import make_multishape
from sklearn_miro.metrics import clustering_report

# The paper's data: ../shared beside the project, or $SKLEARN_MIRO_SHARED.
SHARED = Path(os.environ.get("SKLEARN_MIRO_SHARED", Path(__file__).resolve().parents[1].parent / "shared"))


def get_model(args, X, shape, y, fov):
    if args.model:
        return joblib.load(args.model), "model loaded from " + args.model
    if args.authors:
        from sklearn_miro import load_reference_checkpoint

        path = SHARED / "reference" / "checkpoints" / "multishape.pt"
        if not path.is_file():
            sys.exit(f"--authors needs the authors' checkpoint, not found at {path}.")
        model = load_reference_checkpoint(path, n_steps=20, connectivity_radius=0.2)
        return model, "the authors' multishape checkpoint"
    started = time.perf_counter()
    model = MIROShapeClassifier(
        beta=0.1,                        # weight of the cross-entropy (Table S7)
        eps=25.0, min_samples=8,         # DBSCAN on the collapsed points (nm)
        random_state=0,
        # a short CPU recipe: small network, few steps, small synthetic FOVs
        hidden_size=32,
        n_steps=12,
        connectivity_radius=200.0,
        n_augmented=400,
        max_epochs=args.epochs,
        augmentation={"fov_size": 700.0},
        verbose=1,
    ).fit(X, shape, clusters=y, groups=fov)
    return model, f"trained here in {time.perf_counter() - started:.0f} s"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output-dir", type=Path, default=Path("."))
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--model", help="a MIROShapeClassifier saved with joblib (a pickle: load only files you trust)")
    parser.add_argument("--authors", action="store_true", help="use the authors' multishape checkpoint")
    args = parser.parse_args()
    args.output_dir.mkdir(parents=True, exist_ok=True)

    X, y, fov, shape = make_multishape(("spot", "ellipse"), n_fovs=4, random_state=0)
    X_new, y_new, _, shape_new = make_multishape(("spot", "ellipse"), n_fovs=1, random_state=1)
    clf, origin = get_model(args, X, shape, y, fov)
    per_localization = clf.predict(X_new)                    # a class per localisation
    proba = clf.predict_proba(X_new)                         # columns: clf.classes_
    labels, cluster_class = clf.predict_clusters(X_new)      # DBSCAN clusters, one class per cluster

    rule = "DBSCAN*" if clf.border_points_ == "background" else "DBSCAN"
    how = ("a model of the cluster's geometry and vote" if clf.cluster_classes_ == "descriptors"
           else "the mode of its localisations' classes")
    print(f"model: {origin}; classes {[str(c) for c in clf.classes_]}; {rule} eps {clf.eps_:.1f}, "
          f"min_samples {clf.min_samples_}; a cluster's class: {how}")
    if clf.cluster_class_scores_ is not None:
        print("  training-cluster accuracy: "
              + ", ".join(f"{k} {v:.3f}" for k, v in clf.cluster_class_scores_.items())
              + " (descriptors: leave-one-FOV-out)")
    print(f"held-out FOV: mean probability of the predicted class {proba.max(axis=1).mean():.3f}")
    print(f"  per-localisation macro F1 {f1_score(shape_new, cluster_class, average='macro'):.3f} "
          f"(class of its cluster), {f1_score(shape_new, per_localization, average='macro'):.3f} "
          f"(its own class; accuracy {clf.score(X_new, shape_new):.3f})")
    report = clustering_report(X_new, y_new, labels).iloc[0]
    print(f"  clusters: ARI† {report['ari_dagger']:.3f}, JI_c {report['ji_c']:.3f}, "
          f"RMSRE_N {report['rmsre_n']:.3f} ({report['n_pred_clusters']:.0f} found, "
          f"{report['n_true_clusters']:.0f} true)")

    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no figure.")
        return
    from sklearn_miro.plotting import plot_clusters

    shapes = [c for c in clf.classes_ if c != "background"]
    fig, axes = plt.subplots(2, len(shapes) + 2, figsize=(4.3 * (len(shapes) + 2), 8.4),
                             layout="constrained")
    plot_clusters(X_new, cluster_class, ax=axes[0, 0], title="MIRO: classes")
    plot_clusters(X_new, shape_new, ax=axes[1, 0], title="ground truth: classes")
    for k, c in enumerate(shapes, start=1):
        plot_clusters(X_new, np.where(cluster_class == c, labels, -1), ax=axes[0, k],
                      title=f"MIRO: {c} clusters", legend=False)
        plot_clusters(X_new, np.where(shape_new == c, y_new, -1), ax=axes[1, k],
                      title=f"ground truth: {c} clusters", legend=False)
    cm = confusion_matrix(shape_new, cluster_class, labels=clf.classes_, normalize="true")
    ax = axes[0, -1]
    ax.imshow(cm, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(cm)):
        for j in range(len(cm)):
            ax.text(j, i, f"{cm[i, j]:.2f}", ha="center", va="center",
                    color="white" if cm[i, j] > 0.6 else "black")
    ax.set_xticks(range(len(cm)), clf.classes_, rotation=30)
    ax.set_yticks(range(len(cm)), clf.classes_)
    ax.set_xlabel("predicted (class of the cluster)")
    ax.set_ylabel("true")
    ax.set_title(f"F1 = {f1_score(shape_new, cluster_class, average='macro'):.3f}")
    ax = axes[1, -1]
    ax.hist(proba.max(axis=1), bins=20, color="grey")
    ax.set_xlabel("max class probability")
    ax.set_ylabel("localisations")
    fig.suptitle(f"Clustering and shape classification on a held-out FOV ({origin})")
    path = args.output_dir / "shape_classification.png"
    fig.savefig(path, dpi=110)
    print(f"\nfigure: {path}")


if __name__ == "__main__":
    main()
