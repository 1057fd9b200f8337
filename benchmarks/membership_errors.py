"""Where MIRO + DBSCAN loses membership (ARI-dagger) against plain DBSCAN: a breakdown.

Fits ``MIROClusterer`` with its defaults (deterministic: the quality table's
model for that seed) and labels the test FOVs, then counts, for MIRO and for
plain DBSCAN (the benchmark's parameters, or tuned on the training FOVs for
the simulated scenarios, as ``quality.py`` runs it), over all test FOVs:

* **missed**: clustered localisations left as DBSCAN noise (share of the
  clustered ones), with where they sit in their true cluster (median distance
  to its centroid over the cluster's RMS radius; 1 is a typical member) and,
  for MIRO, how far the network moved them towards the centre (median of
  distance after / before);
* **absorbed**: background localisations put into a cluster (share of the
  background);
* **merged**: clustered localisations in a predicted cluster whose majority
  belongs to another true cluster or to the background (share of the
  clustered ones that were clustered);
* **split**: predicted clusters per true cluster, counting those whose
  majority is that cluster (mean over true clusters that have one);
* ARI-dagger, JI_c and RMSRE_N (the authors' definitions), mean over FOVs.

    OMP_NUM_THREADS=1 python benchmarks/membership_errors.py MB-S6 sim7b --seeds 0 --n-test 10
"""

import sys
from pathlib import Path

import numpy as np
from sklearn.cluster import DBSCAN

sys.path.insert(0, str(Path(__file__).resolve().parent))
import quality  # noqa: E402

from sklearn_miro.clustering import cluster_fov  # noqa: E402
from sklearn_miro.estimators import collapse_repeatedly  # noqa: E402


def _majority(true, pred):
    """Predicted cluster ids (>= 0, sorted) and, for each, the true label most of its members carry."""
    keep = pred >= 0
    pairs, counts = np.unique(np.stack([pred[keep], true[keep]]), axis=1, return_counts=True)
    order = np.lexsort((-counts, pairs[0]))  # per predicted id, the largest count first
    pairs = pairs[:, order]
    first = np.r_[True, pairs[0, 1:] != pairs[0, :-1]]
    return pairs[0, first], pairs[1, first]


def breakdown(X, y, pred, moved=None):
    """The counts of the module docstring for one FOV (sums, so FOVs add up)."""
    clustered, background = y >= 0, y < 0
    labels, inverse = np.unique(y[clustered], return_inverse=True)
    centres = np.stack([np.bincount(inverse, weights=X[clustered, d]) for d in (0, 1)], axis=1)
    centres /= np.bincount(inverse)[:, None]
    dist = np.linalg.norm(X[clustered] - centres[inverse], axis=1)
    rms = np.sqrt(np.bincount(inverse, weights=dist ** 2) / np.bincount(inverse))
    missed = pred[clustered] < 0
    out = {
        "n_clustered": int(clustered.sum()), "n_background": int(background.sum()),
        "missed": int(missed.sum()), "absorbed": int((pred[background] >= 0).sum()),
        "missed_radius": (dist / np.maximum(rms[inverse], 1e-12))[missed].tolist(),
    }
    if moved is not None:
        after = np.linalg.norm(moved[clustered] - centres[inverse], axis=1)
        out["missed_shrink"] = (after / np.maximum(dist, 1e-12))[missed].tolist()
        out["kept_shrink"] = (after / np.maximum(dist, 1e-12))[~missed].tolist()
    ids, owners = _majority(y, pred)
    in_cluster = clustered & (pred >= 0)
    owner = owners[np.searchsorted(ids, pred[in_cluster])]
    out["merged"] = int((owner != y[in_cluster]).sum())
    out["in_cluster"] = int(in_cluster.sum())
    per_true = np.bincount(np.searchsorted(labels, owners[owners >= 0]), minlength=len(labels))
    out["split_counts"] = per_true[per_true > 0].tolist()
    return out


def summarise(parts):
    total = {k: sum(p[k] for p in parts) for k in ("n_clustered", "n_background", "missed", "absorbed", "merged",
                                                 "in_cluster")}
    radius = np.concatenate([p["missed_radius"] for p in parts]) if parts else np.array([])
    s = {
        "missed": total["missed"] / total["n_clustered"],
        "absorbed": total["absorbed"] / max(total["n_background"], 1),
        "merged": total["merged"] / max(total["in_cluster"], 1),
        "split": float(np.mean(np.concatenate([p["split_counts"] for p in parts]))),
        "missed_radius_median": float(np.median(radius)) if len(radius) else float("nan"),
    }
    if "missed_shrink" in parts[0]:
        s["missed_shrink_median"] = float(np.median(np.concatenate([p["missed_shrink"] for p in parts])))
        s["kept_shrink_median"] = float(np.median(np.concatenate([p["kept_shrink"] for p in parts])))
    return s


def run(name, seed, n_test):
    data, miro, fit_cpu = quality.fit_default_clusterer(name, seed, n_test)
    fit_cpu /= 60
    Xte, yte, gte = data["test"]
    params = data["dbscan"]
    if params == "tuned":
        params = quality.tuned_dbscan(data["train"], miro.transformer_.connectivity_radius_)
    parts = {"MIRO": [], "DBSCAN": []}
    labels = {"MIRO": np.empty(len(Xte), np.int64), "DBSCAN": np.empty(len(Xte), np.int64)}
    for f in np.unique(gte):
        m = gte == f
        X, y = Xte[m], yte[m]
        moved = collapse_repeatedly(miro.transformer_, X, miro.collapse_passes_)
        pred = cluster_fov(miro.clusterer_, moved)  # what miro.predict(X) does, without collapsing again
        plain = DBSCAN(**params).fit_predict(X)
        labels["MIRO"][m], labels["DBSCAN"][m] = pred, plain
        parts["MIRO"].append(breakdown(X, y, pred, moved))
        parts["DBSCAN"].append(breakdown(X, y, plain))
    result = {"scenario": name, "seed": seed, "n_test": int(len(np.unique(gte))), "fit_cpu_min": fit_cpu,
              "miro_dbscan": {"passes": int(miro.collapse_passes_), "eps": float(miro.eps_),
                              "min_samples": int(miro.min_samples_)},
              "plain_dbscan": params}
    for method in parts:
        result[method] = {**summarise(parts[method]), **quality.mean_scores(Xte, yte, gte, labels[method])}
    return result


def report(r):
    for method in ("MIRO", "DBSCAN"):
        s = r[method]
        extra = (f", shrink missed / kept {s['missed_shrink_median']:.2f} / {s['kept_shrink_median']:.2f}"
                 if "missed_shrink_median" in s else "")
        print(f"{r['scenario']} seed {r['seed']} {method:6s}: ARI† {s['ari_dagger']:.3f} JI_c {s['ji_c']:.3f} "
              f"RMSRE_N {s['rmsre_n']:.3f} | missed {s['missed']:.3f} (radius {s['missed_radius_median']:.2f}"
              f"{extra}) absorbed {s['absorbed']:.3f} merged {s['merged']:.3f} split {s['split']:.2f}",
              flush=True)


def main():
    quality.run_probe(__doc__, run, report)


if __name__ == "__main__":
    main()
