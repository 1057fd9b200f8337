"""How many graph hops do the labelled clusters span? (No training.)

MIRO's recurrent network passes messages one edge per step, so after ``T``
steps a localisation has heard only from localisations at most ``T`` hops
away. To find its cluster's centre it must hear from the whole cluster. For
every labelled training cluster (at least 5 localisations) of ``quality.py``'s
scenarios, on the graph ``fit`` builds (Delaunay edges shorter than the
automatic connectivity radius, whole training FOV, background included), this
measures the hop distance from the cluster's most central localisation (the one
nearest its centroid) to each of its localisations, and prints the median over
clusters of the 90th percentile and of the maximum: the cluster's radius in
hops. A candidate statistic for choosing the number of recurrent steps from
the labelled clusters (``benchmarks/README.md``, fifteenth session).

    python benchmarks/hop_reach.py
    python benchmarks/hop_reach.py rings GT-S6
"""

import sys
import warnings
from pathlib import Path

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import shortest_path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(1, str(Path(__file__).resolve().parent))
import quality  # noqa: E402

from sklearn_miro.graph import default_connectivity_radius, delaunay_edges  # noqa: E402


def hop_radii(X, y, groups, radius):
    """Per cluster (>= 5 localisations): (90th percentile, max) hops from its most central localisation."""
    out = []
    for g in np.unique(groups):
        sel = groups == g
        pts, labels = X[sel], y[sel]
        u, v = delaunay_edges(pts)
        keep = np.linalg.norm(pts[u] - pts[v], axis=1) < radius
        u, v = u[keep], v[keep]
        n = len(pts)
        adjacency = coo_matrix((np.ones(len(u)), (u, v)), shape=(n, n)).tocsr()
        clusters = [k for k in np.unique(labels[labels >= 0]) if np.sum(labels == k) >= 5]
        if not clusters:
            continue
        centres = []
        for k in clusters:
            members = np.flatnonzero(labels == k)
            d = np.linalg.norm(pts[members] - pts[members].mean(axis=0), axis=1)
            centres.append(members[np.argmin(d)])
        hops = shortest_path(adjacency, directed=False, unweighted=True, indices=np.array(centres))
        for row, k in zip(hops, clusters):
            h = row[labels == k]
            h = np.where(np.isfinite(h), h, np.nan)
            out.append((np.nanpercentile(h, 90), np.nanmax(h), np.mean(~np.isfinite(row[labels == k]))))
    return np.array(out)


def main():
    names = sys.argv[1:] or [n for n in quality.ALL if n not in quality.MIXTURES and n not in quality.NPC]
    print("| scenario | radius (nm) | clusters | hops p90 (median) | hops max (median) | hops max (p90) | unreachable |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name in names:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the benchmark loader's notes on file layouts
            X, y, g = quality.load_scenario(name, 1, None)["train"]
        radius = default_connectivity_radius(X, g)
        r = hop_radii(np.asarray(X, float), np.asarray(y), np.asarray(g), radius)
        print(f"| {name} | {radius:.0f} | {len(r)} | {np.median(r[:, 0]):.1f} | {np.median(r[:, 1]):.1f} | "
              f"{np.percentile(r[:, 1], 90):.1f} | {r[:, 2].mean():.3f} |", flush=True)


if __name__ == "__main__":
    main()
