"""Which side of ARI-dagger MIRO + DBSCAN loses, and what trimming the clusters does to it.

ARI-dagger is the harmonic mean of two means of adjusted Wallace indices:
over the true clusters (``A``: is each kept together?) and over the
predicted clusters (``V``: is each pure?); the background is a cluster on
both sides. For each scenario and seed this fits ``MIROClusterer`` with the
defaults (deterministic: the quality table's network and DBSCAN choice, which
trimming comes after) and prints, on the test FOVs (means over FOVs, the authors'
definition of the means):

* ``A`` and ``V`` for MIRO + DBSCAN untrimmed and for plain DBSCAN (as ``quality.py``
  runs it), with the number of predicted clusters;
* ARI-dagger / JI_c / RMSRE_N after trimming every predicted cluster to each
  Mahalanobis radius of ``--radii`` (``sklearn_miro.clustering.trim_clusters``),
  and the radius the training FOVs choose by the estimator's score (what
  ``outlier_radius="auto"`` does when its candidates are ``--radii``).

    OMP_NUM_THREADS=1 python benchmarks/ari_dagger_sides.py MB-S6 sim7b --seeds 0 --n-test 10
"""

import sys
from pathlib import Path

import numpy as np
from sklearn.cluster import DBSCAN

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(1, str(Path(__file__).resolve().parent))
import quality  # noqa: E402

from sklearn_miro.clustering import cluster_fov, stack_fov_labels, trim_clusters  # noqa: E402
from sklearn_miro.estimators import collapse_repeatedly  # noqa: E402
from sklearn_miro.metrics import ari_dagger_ji_c_ami  # noqa: E402
from sklearn_miro.metrics.core import adjusted_wallace_terms, contingency, encode_labels  # noqa: E402


def sides(y, pred):
    """(A, V) of one FOV as the authors' code averages them (non-zero terms only)."""
    t, p = encode_labels(y, -1), encode_labels(pred, -1)
    rows, cols = adjusted_wallace_terms(contingency(t.codes, t.n_classes, p.codes, p.n_classes))
    return rows[rows != 0].mean(), cols[cols != 0].mean()


def per_fov_labels(miro, X, g):
    fovs = [np.flatnonzero(g == f) for f in np.unique(g)]
    labels = [cluster_fov(miro.clusterer_, collapse_repeatedly(miro.transformer_, X[idx], miro.collapse_passes_))
              for idx in fovs]
    return fovs, labels


def main():
    parser = quality.probe_parser(__doc__)
    parser.add_argument("--radii", type=float, nargs="+", default=[3.5, 3.0, 2.5, 2.0])
    args = parser.parse_args()
    for name in args.scenarios:
        for seed in args.seeds:
            data, miro, _ = quality.fit_default_clusterer(name, seed, args.n_test)
            Xte, yte, gte = data["test"]
            params = data["dbscan"]
            if params == "tuned":
                params = quality.tuned_dbscan(data["train"], miro.transformer_.connectivity_radius_)
            fovs, mir = per_fov_labels(miro, Xte, gte)
            plain = [DBSCAN(**params).fit_predict(Xte[idx]) for idx in fovs]
            for method, labs in (("MIRO", mir), ("DBSCAN", plain)):
                av = np.array([sides(yte[idx], lab) for idx, lab in zip(fovs, labs)])
                n_pred = np.mean([len(np.unique(lab[lab >= 0])) for lab in labs])
                print(f"{name} seed {seed} {method:6s}: A {av[:, 0].mean():.3f} V {av[:, 1].mean():.3f} "
                      f"predicted clusters per FOV {n_pred:.1f}", flush=True)
            Xtr, ytr, gtr = data["train"]
            train_fovs, train_labels = per_fov_labels(miro, Xtr, gtr)
            radii = [None, *args.radii]
            train = {r: np.mean([ari_dagger_ji_c_ami(Xtr[idx], ytr[idx], trim_clusters(Xtr[idx], lab, r))
                                 for idx, lab in zip(train_fovs, train_labels)]) for r in radii}
            pick = max(train, key=train.get)
            cells = []
            for r in radii:
                labels = stack_fov_labels(fovs, [trim_clusters(Xte[idx], lab, r) for idx, lab in zip(fovs, mir)],
                                          len(Xte))
                s = quality.mean_scores(Xte, yte, gte, labels)
                cells.append(f"{r}: {s['ari_dagger']:.3f} / {s['ji_c']:.3f} / {s['rmsre_n']:.3f}")
            print(f"{name} seed {seed} trimmed (radius: ARI† / JI_c / RMSRE_N): " + " | ".join(cells), flush=True)
            print(f"{name} seed {seed} training scores: "
                  + ", ".join(f"{r}: {v:.4f}" for r, v in train.items()) + f"; chosen {pick}", flush=True)


if __name__ == "__main__":
    main()
