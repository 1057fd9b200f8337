"""Where does the collapse fail: clusters that touch a neighbour, or all of them?

Fits ``MIROClusterer`` with the defaults (``quality.py``'s table model for the
seed; ``--params`` adds ``MIROTransformer`` parameters) and, for every true
cluster of the test FOVs, measures

* its *gap*: the smallest distance from one of its localisations to a
  localisation of another cluster, in units of the median RMS radius of the
  test clusters (0: the clusters touch or interpenetrate);
* its *collapse*: the RMS distance of its collapsed localisations
  (``transform``) to its centroid before the collapse, over its RMS radius
  (1: not collapsed, 0: onto one point);
* whether its largest share of localisations went to a predicted cluster that
  also holds at least 20 % of another true cluster's localisations (*merged*).

Printed per gap bin, mean over clusters. The twenty-seventh session's question
(``benchmarks/README.md``): on the C-shapes the isolated clusters collapse to
0.14 of their size and the touching ones to 0.6, so JI_c is lost where two
C-shapes touch.

    OMP_NUM_THREADS=1 python benchmarks/touching_clusters.py cshapes --seeds 0
    OMP_NUM_THREADS=1 python benchmarks/touching_clusters.py MB-S5 --params '{"n_steps": 25}'
"""

import json
import sys
from pathlib import Path

import numpy as np
from scipy.spatial import cKDTree

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))
import quality  # noqa: E402

GAP_BINS = [(0.0, 0.05), (0.05, 0.25), (0.25, 1.0), (1.0, np.inf)]
MERGE_SHARE = 0.2
NEIGHBOURS = 60  # nearest clustered neighbours searched for another cluster's localisation


def cluster_table(X, y, groups, moved, predicted):
    """One row per true cluster: (size, rms radius, gap, collapse, merged); vectorised per FOV."""
    rows = []
    for fov in np.unique(groups):
        clustered = (groups == fov) & (y >= 0)
        points, labels = X[clustered], y[clustered]
        if not len(points):
            continue
        ids, inverse, sizes = np.unique(labels, return_inverse=True, return_counts=True)
        to_other = np.full(len(points), np.inf)
        if len(ids) > 1:
            dist, idx = cKDTree(points).query(points, k=min(NEIGHBOURS, len(points)))
            to_other = np.where(labels[idx] != labels[:, None], dist, np.inf).min(axis=1)
        gap = np.full(len(ids), np.inf)
        np.minimum.at(gap, inverse, to_other)
        # A cluster none of whose points has another cluster among its nearest
        # neighbours (a large cluster): its gap from a tree of the other clusters.
        for c in np.flatnonzero(np.isinf(gap) & (len(ids) > 1)):
            gap[c] = cKDTree(points[inverse != c]).query(points[inverse == c])[0].min()
        centroids = np.stack([np.bincount(inverse, weights=points[:, k]) / sizes for k in range(2)], axis=1)
        rms = np.sqrt(np.bincount(inverse, weights=((points - centroids[inverse]) ** 2).sum(1)) / sizes)
        after = np.sqrt(np.bincount(inverse, weights=((moved[clustered] - centroids[inverse]) ** 2).sum(1)) / sizes)
        # Contingency of true clusters x predicted labels (noise included as its own column).
        pred = predicted[clustered]
        pred_ids, pred_inverse = np.unique(pred, return_inverse=True)
        table = np.zeros((len(ids), len(pred_ids)))
        np.add.at(table, (inverse, pred_inverse), 1.0)
        share = table / sizes[:, None]
        best = share.argmax(axis=1)
        holds = (share >= MERGE_SHARE) & (pred_ids != -1)[None, :]  # true cluster i holds a real share of j
        # Merged: the main predicted cluster of i (not noise) holds a share of another true cluster.
        others = holds[:, best].sum(axis=0) - holds[np.arange(len(ids)), best]
        merged = (others >= 1) & (pred_ids[best] != -1)
        rows.append(np.column_stack([sizes, rms, gap, after / np.where(rms > 0, rms, np.nan), merged]))
    return np.concatenate(rows)


def run(name, seed, n_test, params):
    data, clusterer, fit_cpu = quality.fit_default_clusterer(name, seed, n_test, params)
    X, y, groups = data["test"]
    moved = clusterer.transformer_.transform(X, groups=groups)
    predicted = clusterer.predict(X, groups=groups)
    rows = cluster_table(X, y, groups, moved, predicted)
    unit = float(np.median(rows[:, 1]))
    bins = []
    for low, high in GAP_BINS:
        inside = (rows[:, 2] >= low * unit) & ((rows[:, 2] < high * unit) | np.isinf(high))  # isolated: gap inf
        bins.append({
            "gap": [low, high], "clusters": int(inside.sum()),
            "collapse": float(np.nanmean(rows[inside, 3])) if inside.any() else None,
            "merged": float(rows[inside, 4].mean()) if inside.any() else None,
        })
    return {"scenario": name, "seed": seed, "params": params, "fit_cpu_min": fit_cpu / 60,
            "median_rms": unit, "scores": quality.mean_scores(X, y, groups, predicted), "bins": bins}


def report(result):
    scores = result["scores"]
    print(f"{result['scenario']} seed {result['seed']} {result['params'] or ''}: fit {result['fit_cpu_min']:.1f} "
          f"CPU-min; ARI† / JI_c / RMSRE_N {scores['ari_dagger']:.3f} / {scores['ji_c']:.3f} / "
          f"{scores['rmsre_n']:.3f}; median RMS radius {result['median_rms']:.1f}")
    print("| gap / RMS radius | clusters | collapse (RMS after / before) | merged |")
    print("| --- | --- | --- | --- |")
    for b in result["bins"]:
        if b["clusters"]:
            print(f"| [{b['gap'][0]:g}, {b['gap'][1]:g}) | {b['clusters']} | {b['collapse']:.3f} | {b['merged']:.3f} |")
    sys.stdout.flush()


def main():
    parser = quality.probe_parser(__doc__)
    parser.add_argument("--params", default="{}", help="JSON dict of extra MIROTransformer parameters")
    parser.add_argument("--output", default=None, help="JSON file for the results")
    parser.add_argument("--experiment", choices=sorted(quality.EXPERIMENTS), default=None,
                        help="an experimental change patched in before fitting (quality.py)")
    args = parser.parse_args()
    params = json.loads(args.params)
    if args.experiment:
        quality.apply_experiment(args.experiment)
    results = []
    for name in args.scenarios:
        for seed in args.seeds:
            results.append(run(name, seed, args.n_test, params))
            results[-1]["experiment"] = args.experiment
            report(results[-1])
    if args.output:
        Path(args.output).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
