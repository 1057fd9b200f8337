"""Before/after timing of the IoU's convex hulls (sklearn_miro.metrics).

Usage::

    OMP_NUM_THREADS=1 python benchmarks/iou_hull_speed.py [label]

Times (CPU = time.process_time, wall = time.perf_counter; min and median of
``REPEATS`` runs), "before" and "after" interleaved per FOV in one process so
that both see the same machine load:

* cluster hulls of the ground truth: before = ``scipy_loop_hulls`` (copy of
  the former scipy loop), after = ``core.cluster_hulls`` of the working tree;
* ``sklearn_miro.metrics.iou`` and ``sklearn_miro.metrics.clustering_report``:
  before = with ``core.hull_union_iou`` patched to ``reference_hull_union_iou``
  (copies of the former hull_union_iou / hull_row_intervals / cluster_hulls),
  after = the working tree;

on three FOVs of 100,000 localisations. It also checks that IoU, the report's
IoU and the pixel counts are bit-identical before/after, and writes
``benchmarks/results/iou_hull_speed_<label>.json``. The "before" code is
imported from ``tests/test_hull_vectorised.py``, which keeps it as the reference
the vectorised hulls are checked against (so this script needs ``hypothesis``,
a test dependency).
"""

import contextlib
import json
import sys
import time
import warnings

import numpy as np
from pathlib import Path

from sklearn_miro.metrics import clustering_report, iou
from sklearn_miro.metrics import core

REPEATS = 5
N_TOTAL = 100_000


# The former scipy loop, kept once, in the test that checks the vectorised hulls against it.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from test_hull_vectorised import (  # noqa: E402
    reference_cluster_hulls as scipy_loop_hulls,
    reference_hull_union_iou,
)


def _cluster_points(rng, sizes, centres):
    """Gaussian blobs (60 %), elongated blobs (25 %) and noisy rings (15 %)."""
    kind = rng.choice(3, size=len(sizes), p=[0.6, 0.25, 0.15])
    n = int(sizes.sum())
    cid = np.repeat(np.arange(len(sizes)), sizes)
    sigma = rng.uniform(8, 30, len(sizes))
    ratio = np.where(kind == 1, rng.uniform(3, 8, len(sizes)), 1.0)
    angle = rng.uniform(0, np.pi, len(sizes))
    z = rng.normal(size=(n, 2))
    local = np.stack([z[:, 0] * sigma[cid] * ratio[cid], z[:, 1] * sigma[cid]], axis=1)
    ring = kind[cid] == 2
    phi = rng.uniform(0, 2 * np.pi, n)
    radius = 2.5 * sigma[cid] + rng.normal(0, 3, n)
    local[ring] = np.stack([radius * np.cos(phi), radius * np.sin(phi)], axis=1)[ring]
    c, s = np.cos(angle[cid]), np.sin(angle[cid])
    rotated = np.stack([c * local[:, 0] - s * local[:, 1], s * local[:, 0] + c * local[:, 1]], axis=1)
    return centres[cid] + rotated, cid


def _predicted(rng, X, y, centres, sigma=20.0):
    """A plausible prediction (what DBSCAN-like methods do): 8 % of the clustered
    points lost to noise, background points within 2 sigma of a cluster centre
    picked up by that cluster, and clusters whose centres are closer than 150 nm
    merged (neighbours only, so no hull spans the FOV)."""
    from scipy.spatial import cKDTree

    pred = y.copy()
    clustered = y >= 0
    pred[clustered & (rng.random(y.size) < 0.08)] = -1
    tree = cKDTree(centres)
    noise = np.flatnonzero(y < 0)
    dist, nearest = tree.query(X[noise])
    near = dist < 2 * sigma
    pred[noise[near]] = nearest[near]
    pairs = tree.query_pairs(150.0, output_type="ndarray")
    target = np.arange(len(centres))
    target[pairs[:, 1]] = np.minimum(target[pairs[:, 1]], pairs[:, 0])
    pred[pred >= 0] = target[pred[pred >= 0]]
    return pred


def fov_many_small(seed=0, side=20_000.0):
    """~3,000 clusters of 10-100 localisations, about 10 % background."""
    rng = np.random.default_rng(seed)
    n_clustered = int(0.9 * N_TOTAL)
    # 3,000 clusters of 10-100 localisations (mean about 30), the rest background
    sizes = np.clip(np.round(rng.lognormal(np.log(25), 0.5, 3000)), 10, 100).astype(int)
    sizes = sizes[np.cumsum(sizes) <= n_clustered]
    centres = rng.uniform(300, side - 300, (len(sizes), 2))
    Xc, yc = _cluster_points(rng, sizes, centres)
    Xb = rng.uniform(0, side, (N_TOTAL - len(Xc), 2))
    X = np.concatenate([Xc, Xb])
    y = np.r_[yc, -np.ones(len(Xb), dtype=int)]
    return X, y, _predicted(rng, X, y, centres)


def fov_with_huge_clusters(seed=1, side=20_000.0):
    """2,000 small clusters plus 8 clusters of 5,000-6,000 localisations
    (Gaussian, elongated and two dense rings)."""
    rng = np.random.default_rng(seed)
    small = np.clip(np.round(rng.lognormal(np.log(20), 0.5, 2000)), 10, 100).astype(int)
    huge = rng.integers(5000, 6001, 8)
    sizes = np.r_[small, huge]
    centres = rng.uniform(1000, side - 1000, (len(sizes), 2))
    Xc, yc = _cluster_points(rng, sizes, centres)
    # make two of the huge ones exact-radius rings: every point is a hull vertex
    for k in (len(sizes) - 1, len(sizes) - 2):
        members = yc == k
        phi = rng.uniform(0, 2 * np.pi, members.sum())
        Xc[members] = centres[k] + 400 * np.stack([np.cos(phi), np.sin(phi)], axis=1)
    n_bg = max(N_TOTAL - len(Xc), 0)
    Xb = rng.uniform(0, side, (n_bg, 2))
    X = np.concatenate([Xc, Xb])
    y = np.r_[yc, -np.ones(n_bg, dtype=int)]
    return X, y, _predicted(rng, X, y, centres)


def fov_small_benchmark_like(seed=2, side=20_000.0):
    """Same size, but many tiny clusters (3-15 localisations): the loop's worst case."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(3, 16, 8000)
    centres = rng.uniform(100, side - 100, (len(sizes), 2))
    Xc, yc = _cluster_points(rng, sizes, centres)
    n_bg = N_TOTAL - len(Xc)
    Xb = rng.uniform(0, side, (n_bg, 2))
    X = np.concatenate([Xc, Xb])
    y = np.r_[yc, -np.ones(n_bg, dtype=int)]
    return X, y, _predicted(rng, X, y, centres)


def timed(function, *args, **kwargs):
    cpu, wall = [], []
    for _ in range(REPEATS):
        c0, w0 = time.process_time(), time.perf_counter()
        result = function(*args, **kwargs)
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    return result, (min(cpu), float(np.median(cpu)), min(wall), float(np.median(wall)))


class _Before:
    """Context: ``core.hull_union_iou`` replaced by the pre-vectorisation copy
    (which is what ``iou`` and ``clustering_report`` call), in this process only."""

    def __enter__(self):
        self.saved = core.hull_union_iou
        core.hull_union_iou = reference_hull_union_iou

    def __exit__(self, *exc):
        core.hull_union_iou = self.saved


def _line(what, t):
    return (f"  {what:34s} cpu min {t[0]*1e3:8.1f} ms  med {t[1]*1e3:8.1f} ms | "
            f"wall min {t[2]*1e3:8.1f} ms  med {t[3]*1e3:8.1f} ms")


def main(label):
    """Before (pre-vectorisation copies, patched in) and after (working tree),
    interleaved per FOV so that both see the same machine load."""
    warnings.simplefilter("ignore")
    results = {}
    for name, make in [("many_small", fov_many_small),
                       ("huge_clusters", fov_with_huge_clusters),
                       ("tiny_clusters", fov_small_benchmark_like)]:
        X, y, pred = make()
        shifted = X - X.min(axis=0)
        enc_true = core.encode_labels(y, -1)
        enc_pred = core.encode_labels(pred, -1)
        sizes = np.bincount(enc_true.codes)[1:]
        print(f"\n== {name}: {len(X)} localisations, {enc_true.n_classes - 1} true clusters "
              f"(sizes {sizes.min()}-{sizes.max()}), {enc_pred.n_classes - 1} predicted")
        times, values = {}, {}
        for variant in ("before", "after"):
            if variant == "before":
                ctx, hull_fn = _Before(), scipy_loop_hulls
            else:
                ctx, hull_fn = contextlib.nullcontext(), core.cluster_hulls
            with ctx:
                _, times[variant, "hulls"] = timed(hull_fn, shifted, enc_true)
                values[variant, "iou"], times[variant, "iou"] = timed(iou, X, y, pred)
                report, times[variant, "report"] = timed(clustering_report, X, y, pred)
                values[variant, "report_iou"] = float(report["iou"].iloc[0])
                values[variant, "pixels"] = core.hull_union_iou(X, enc_true, enc_pred)[1:]
        for what, key in [("cluster_hulls (ground truth)", "hulls"), ("metrics.iou", "iou"),
                          ("clustering_report", "report")]:
            for variant in ("before", "after"):
                print(_line(f"{what} {variant}", times[variant, key]))
            b, a = times["before", key], times["after", key]
            print(f"  {'':34s} ratio before/after: cpu min {b[0]/a[0]:5.1f}x, wall min {b[2]/a[2]:5.1f}x")
        same = all(repr(values["before", k]) == repr(values["after", k])
                   for k in ("iou", "report_iou", "pixels"))
        print(f"  iou = {values['after', 'iou']!r}; pixels true/pred/union = "
              f"{tuple(int(p) for p in values['after', 'pixels'])}; identical before/after: {same}")
        results[name] = {
            "iou": repr(values["after", "iou"]),
            "pixels": [int(p) for p in values["after", "pixels"]],
            "identical": same,
            "times": {f"{v}_{k}": times[v, k] for (v, k) in times},
        }
    out = Path(__file__).resolve().parent / "results" / f"iou_hull_speed_{label}.json"
    with open(out, "w") as fh:
        json.dump(results, fh, indent=1)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "run")
