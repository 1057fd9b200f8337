"""Multiscale MIRO on nuclear-pore-complex-like structures: corners and whole pores at once.

Like the paper's Fig. 5a-b: simulated NPC-like structures (8 corners per
pore, :func:`sklearn_miro.datasets.make_npc`) are labelled at two scales,
corners (fine) and pores (coarse). One network learns both: its recurrent
steps ``0..k*-1`` collapse the corners (a model trained here is read at the
one of them where the training corners are most collapsed; the authors'
checkpoint at ``k*-1``), steps ``k*..K-1`` the whole pores, and
one DBSCAN per scale clusters the collapsed points. The script

1. trains a :class:`~sklearn_miro.MultiscaleMIROClusterer` on 4 simulated FOVs
   (a short CPU training by default; ``--epochs`` for a longer one), or
   loads a model saved by ``benchmarks/multiscale_and_shapes.py``
   (``--model``) or the authors' NPC checkpoint (``--authors``, needs
   ``../shared``);
2. clusters a held-out simulated FOV at both scales and reports which corner
   lies in which pore (``nesting_report``);
3. scores both scales against the ground truth, next to plain DBSCAN, and
   saves ``multiscale_npc.png``.

    python examples/multiscale_npc.py [--output-dir DIR] [--epochs 3] [--model M.joblib] [--authors]

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
from sklearn.cluster import DBSCAN
from sklearn.frozen import FrozenEstimator

from sklearn_miro import MultiscaleMIROClusterer
from sklearn_miro.clustering import inner_transformer
from sklearn_miro.datasets import make_npc
from sklearn_miro.estimators import MultiscaleMIROTransformer
from sklearn_miro.metrics import clustering_report

# The paper's data: ../shared beside the project, or $SKLEARN_MIRO_SHARED.
SHARED = Path(os.environ.get("SKLEARN_MIRO_SHARED", Path(__file__).resolve().parents[1].parent / "shared"))
SCALES = ("corners", "rings")
# DBSCAN on the raw coordinates, per scale (eps nm, min_samples): what the
# grid search of benchmarks/multiscale_and_shapes.py (the one MIRO's
# clusterers use, candidates up to the 100-nm connectivity radius) chose on
# these 4 training FOVs.
PLAIN_DBSCAN = {"corners": (6.7, 6), "rings": (58.2, 50)}


def get_model(args, X, Y, fov):
    if args.model:
        return joblib.load(args.model), "model loaded from " + args.model
    if args.authors:
        from sklearn_miro import load_reference_checkpoint

        path = SHARED / "reference" / "checkpoints" / "multiscale_npc.pt"
        if not path.is_file():
            sys.exit(f"--authors needs the authors' checkpoint, not found at {path}.")
        transformer = load_reference_checkpoint(path, kind="multiscale", n_steps=20, connectivity_radius=0.2)
        # The authors' DBSCAN parameters for experimental NPC data (Table S2).
        model = MultiscaleMIROClusterer(transformer=FrozenEstimator(transformer), eps=(4.0, 30.0),
                                        min_samples=(4, 16)).fit(X, groups=fov)
        return model, "the authors' NPC checkpoint (T = 20, k* = 10)"
    started = time.perf_counter()
    transformer = MultiscaleMIROTransformer(
        scale_names=SCALES,
        random_state=0,
        # a short CPU recipe: small network, few steps, small synthetic FOVs
        hidden_size=32,
        n_steps=12,
        k_star=6,
        connectivity_radius=100.0,
        n_augmented=400,
        batch_size=4,                    # more optimisation steps in the same time
        max_epochs=args.epochs,
        augmentation={"fov_size": 450.0},
        verbose=1,
    )
    model = MultiscaleMIROClusterer(
        transformer,
        eps=(8.0, 30.0),                 # DBSCAN eps per scale (nm), finest first
        min_samples=(6, 30),
    ).fit(X, Y, groups=fov)
    return model, f"trained here in {time.perf_counter() - started:.0f} s"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output-dir", type=Path, default=Path("."))
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--model", help="a MultiscaleMIROClusterer saved with joblib (a pickle: load only files you trust)")
    parser.add_argument("--authors", action="store_true", help="use the authors' NPC checkpoint")
    args = parser.parse_args()
    args.output_dir.mkdir(parents=True, exist_ok=True)

    X, Y, fov = make_npc(n_fovs=4, random_state=0)          # Y[:, 0] corners, Y[:, 1] pores
    X_new, Y_new, _ = make_npc(n_fovs=1, random_state=1)     # a held-out FOV
    model, origin = get_model(args, X, Y, fov)
    labels = model.predict(X_new)                            # (n, 2): corner and pore labels
    corners, rings = model.predict(X_new, scale="corners"), model.predict(X_new, scale="rings")
    collapsed = model.transformer_.transform(X_new)          # (n, 4): x, y per scale
    # The (1-based) step the corners were read from (FrozenEstimator wraps the authors' checkpoint).
    corner_step = int(inner_transformer(model.transformer_).scale_steps_[0]) + 1
    nesting = model.nesting_report(labels)                   # corner -> pore, with counts

    print(f"model: {origin}; DBSCAN per scale: eps {model.eps_}, min_samples {model.min_samples_}")
    print(f"{len(np.unique(rings[rings >= 0]))} pores and {len(np.unique(corners[corners >= 0]))} "
          f"corners found; true: {len(np.unique(Y_new[Y_new[:, 1] >= 0, 1]))} and "
          f"{len(np.unique(Y_new[Y_new[:, 0] >= 0, 0]))}")
    print(f"corners per pore: {nesting.groupby('coarse').size().drop(-1, errors='ignore').mean():.1f} "
          f"(8 per simulated pore); mean fraction of a corner in its pore: {nesting['fraction'].mean():.3f}")
    print("\n            ARI†    JI_c    RMSRE_N")
    for s, scale in enumerate(SCALES):
        eps, ms = PLAIN_DBSCAN[scale]
        for name, lab in (("MIRO", labels[:, s]), ("DBSCAN", DBSCAN(eps=eps, min_samples=ms).fit_predict(X_new))):
            r = clustering_report(X_new, Y_new[:, s], lab).iloc[0]
            print(f"{scale:>8} {name:<7}{r['ari_dagger']:.3f}   {r['ji_c']:.3f}   {r['rmsre_n']:.3f}")

    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no figure.")
        return
    from sklearn_miro.plotting import plot_clusters

    fig, axes = plt.subplots(2, 3, figsize=(13, 8.6), layout="constrained")
    plot_clusters(X_new, Y_new[:, 1], ax=axes[0, 0], title="ground truth: pores", legend=False)
    plot_clusters(X_new, labels[:, 1], ax=axes[0, 1], title="MIRO: pores", legend=False)
    plot_clusters(collapsed[:, 2:], labels[:, 1], ax=axes[0, 2], title="collapsed at step K (pores)",
                  legend=False)
    # Zoom on the pore with the most localisations: its corners.
    biggest = np.bincount(Y_new[Y_new[:, 1] >= 0, 1]).argmax()
    centre = X_new[Y_new[:, 1] == biggest].mean(axis=0)
    window = np.all(np.abs(X_new - centre) < 110, axis=1)
    plot_clusters(X_new[window], Y_new[window, 0], ax=axes[1, 0], title="ground truth: corners (zoom)",
                  legend=False, marker_size=14)
    plot_clusters(X_new[window], labels[window, 0], ax=axes[1, 1], title="MIRO: corners (zoom)",
                  legend=False, marker_size=14)
    plot_clusters(collapsed[window, :2], labels[window, 0], ax=axes[1, 2],
                  title=f"collapsed at step {corner_step} (corners)", legend=False, marker_size=14)
    fig.suptitle(f"Multiscale MIRO on a held-out simulated FOV ({origin})")
    path = args.output_dir / "multiscale_npc.png"
    fig.savefig(path, dpi=110)
    print(f"\nfigure: {path}")


if __name__ == "__main__":
    main()
