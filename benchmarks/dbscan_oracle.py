"""How much could a better DBSCAN choice after MIRO gain? An upper bound on the test FOVs.

For each scenario and seed, fits ``MIROClusterer`` with its defaults (the fit is
deterministic, so this is the quality table's model), then scores every
candidate of the estimator's own DBSCAN grid, after 1 and 2 passes of the
network, on the test FOVs themselves, and prints:

* the estimator's pick (chosen on the training FOVs) and its test scores;
* the best candidate on the test FOVs by the estimator's own score (mean of
  ARI-dagger, JI_c and AMI): what a perfect choice of DBSCAN could reach with
  the same network;
* the best test ARI-dagger among candidates whose test JI_c is at least the
  pick's: whether the ARI-dagger misses are a matter of the DBSCAN choice;
* plain DBSCAN on the same test FOVs (the benchmark's parameters, or tuned on
  the training FOVs for the simulated scenarios, as ``quality.py`` does);
* the training and test compression (median distance of clustered
  localisations to their cluster's centre after / before the collapse): how
  optimistic the training FOVs, which the network was fine-tuned on, are as
  the judge of the choice.

Choosing on the test FOVs is not a method, only a bound.

    OMP_NUM_THREADS=1 python benchmarks/dbscan_oracle.py MB-S6 sim7b SS-5 --seeds 0 --n-test 20
    OMP_NUM_THREADS=1 python benchmarks/dbscan_oracle.py SS-5 --params '{"augmentation": {"jitter": 0.3}}'

``--params`` changes the network's training, so the bound compares networks
without the noise of the DBSCAN choice.
"""

import json
import sys
from pathlib import Path

import numpy as np
from sklearn.cluster import DBSCAN

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(1, str(Path(__file__).resolve().parent))
import quality  # noqa: E402
from dbscan_rule_scan import fov_metrics  # noqa: E402

from sklearn_miro.diagnostics import cluster_compression  # noqa: E402
from sklearn_miro.estimators import collapse_repeatedly  # noqa: E402


def plain_dbscan_scores(data, X, y, g, radius):
    """Plain DBSCAN on the same test FOVs, as ``quality.py`` runs it.

    The benchmark's parameters, or (simulated scenarios) parameters tuned on the
    training FOVs over MIRO's grid for the connectivity radius ``radius``.
    """
    params = data["dbscan"]
    if params == "tuned":
        params = quality.tuned_dbscan(data["train"], radius)
    labels = np.empty(len(X), dtype=np.int64)
    for f in np.unique(g):
        labels[g == f] = DBSCAN(**params).fit_predict(X[g == f])
    return quality.mean_scores(X, y, g, labels)


def fmt(s):
    return f"{s['ari_dagger']:.3f} / {s['ji_c']:.3f} / {s['rmsre_n']:.3f}"


def run(name, seed, n_test, params=None):
    data, miro, fit_cpu = quality.fit_default_clusterer(name, seed, n_test, params)
    Xte, yte, gte = data["test"]
    t = miro.transformer_
    fov_masks = [gte == f for f in np.unique(gte)]
    test = {passes: [(Xte[m], collapse_repeatedly(t, Xte[m], passes), yte[m]) for m in fov_masks]
            for passes in (1, 2)}
    moved_test = np.empty_like(Xte, dtype=float)
    for m, (_, moved, _) in zip(fov_masks, test[1]):
        moved_test[m] = moved
    compression = {"train": float(t.training_compression_),
                   "test": float(cluster_compression(Xte, moved_test, yte, gte)["compression"])}
    # fov_metrics: mean over the test FOVs of ARI-dagger, JI_c, RMSRE_N, IoU, AMI and ARI.
    pick = fov_metrics(test[miro.collapse_passes_], miro.eps_, miro.min_samples_)
    dbscan = plain_dbscan_scores(data, Xte, yte, gte, t.connectivity_radius_)
    rows = []
    for passes in (1, 2):
        for eps in miro.eps_grid_:
            for ms in miro.min_samples_grid_:
                s = fov_metrics(test[passes], float(eps), int(ms))
                rows.append(dict(passes=passes, eps=float(eps), min_samples=int(ms), **s))
    by_rule = max(rows, key=lambda r: (r["ari_dagger"] + r["ji_c"] + r["ami"]) / 3)
    ok = [r for r in rows if r["ji_c"] >= pick["ji_c"]]
    best_ari = max(ok, key=lambda r: r["ari_dagger"]) if ok else None
    out = dict(scenario=name, seed=seed, params=params, n_test=len(np.unique(gte)), fit_cpu_min=fit_cpu / 60,
               pick=dict(passes=miro.collapse_passes_, eps=float(miro.eps_), min_samples=int(miro.min_samples_),
                         **pick),
               dbscan=dbscan, best_by_rule=by_rule, best_ari_at_pick_ji=best_ari, compression=compression, grid=rows)
    print(f"| {name} | {seed} | pick {miro.collapse_passes_}p eps {miro.eps_:.1f} ms {miro.min_samples_}: {fmt(pick)} "
          f"| rule on test {by_rule['passes']}p eps {by_rule['eps']:.1f} ms {by_rule['min_samples']}: {fmt(by_rule)} "
          f"| best ARI† at JI_c >= pick: {best_ari['passes']}p eps {best_ari['eps']:.1f} ms "
          f"{best_ari['min_samples']}: {fmt(best_ari)} | {fmt(dbscan)} | {compression['train']:.3f} / {compression['test']:.3f} |",
          flush=True)
    return out


def main():
    parser = quality.probe_parser(__doc__)
    parser.add_argument("--output", default=None, help="JSON file for every candidate's test scores")
    parser.add_argument("--params", default="{}", help="MIROTransformer parameters, as JSON")
    args = parser.parse_args()
    results = [run(name, seed, args.n_test, json.loads(args.params)) for name in args.scenarios for seed in args.seeds]
    if args.output:
        Path(args.output).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
