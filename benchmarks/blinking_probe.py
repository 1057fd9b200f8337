"""Can the data tell whether the localisations blink? Two tests, on every row of the quality table.

The thirty-eighth session looked for a test that tells multiple blinking (several
localisations per molecule) from data without it and found none; the fortieth wanted
one to choose a pretrained start trained on blinking data (``benchmarks/README.md``,
fortieth session). This prints, per scenario:

* **with labels** (the training FOVs): the *background clumping*, the median distance
  from a labelled background localisation to its nearest background neighbour over the
  median that distance has for points spread uniformly at random at the same density
  (``sqrt(ln 2 / (pi rho))``, ``rho`` = background localisations over the FOV's
  bounding-box area), median over FOVs. About 1 for a uniform background, well under 1
  when every unclustered molecule gives a few localisations within the localisation
  precision. The background is used because its layout without blinking is known:
  cluster shapes (elongated ones above all) mimic blinking in any statistic of the
  clusters themselves;
* **without labels** (the first ``--n-test`` test FOVs, default 20): the share of FOVs
  where the pair-correlation fit the zero-shot units use
  (``sklearn_miro.parameters.pair_correlation_fit``) keeps its narrow "repeats" term,
  and the median repeats per localisation.

    OMP_NUM_THREADS=1 python benchmarks/blinking_probe.py [SCENARIO ...] [--n-test N]
    OMP_NUM_THREADS=1 python benchmarks/blinking_probe.py --fgfr1

``--fgfr1``: instead, the pair-correlation fit of each real FGFR1 FOV in
``../shared/data/fgfr1`` (no labels): extra localisations per molecule (0: no repeats
term) and the cluster radius. ``--nn-ratios``: instead, a third label-free test, the median
over localisations of ``log(d_k / d_j)`` (``d_k``: distance to the k-th nearest neighbour,
all localisations; first 5 test FOVs). ``--groups``: instead, the labelled background's
blink groups on the training FOVs (single linkage at 25 nm, DBSCAN with ``min_samples=1``):
mean, median and 90th percentile of their sizes and the median RMS spread of those of 3 or
more. Needs ../shared for the benchmark rows and FGFR1.
"""

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
from scipy.spatial import cKDTree

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(1, str(Path(__file__).resolve().parent))
import quality  # noqa: E402

from sklearn_miro.augmentation import prepare_training_set  # noqa: E402
from sklearn_miro.parameters import pair_correlation_fit  # noqa: E402

#: FOVs with fewer labelled background localisations are not measured.
MIN_BACKGROUND = 20


def background_clumping(X, y, groups, min_background=MIN_BACKGROUND):
    """Median over FOVs of the background's median nearest-neighbour distance over a uniform
    background's (see the module docstring); NaN when no FOV has enough background."""
    training_set = prepare_training_set(X, y, groups)
    ratios = []
    for fov, background in enumerate(training_set.backgrounds):
        if len(background) < max(min_background, 2):
            continue
        area = float(np.prod(training_set.fov_extent[fov]))
        nearest = cKDTree(background).query(background, k=2)[0][:, 1]
        uniform_median = np.sqrt(np.log(2.0) * area / (np.pi * len(background)))
        ratios.append(np.median(nearest) / uniform_median)
    return float(np.median(ratios)) if ratios else float("nan")


def label_free_repeats(X, groups):
    """(share of FOVs whose pair-correlation fit keeps a repeats term, median repeats)."""
    repeats = np.array([pair_correlation_fit(X[groups == f]).repeat_neighbours for f in np.unique(groups)])
    return float(np.mean(repeats > 0)), float(np.median(repeats))


def fgfr1_repeats():
    """The pair-correlation fit of every FGFR1 FOV: a markdown table on stdout."""
    from sklearn_miro.io import read_localizations

    print("| FOV | localisations | extra localisations per molecule (repeats) | cluster radius (nm) |")
    print("| --- | --- | --- | --- |")
    for path in sorted((quality.SHARED / "data" / "fgfr1").glob("*.csv"),
                       key=lambda p: int(p.stem.rsplit("_", 1)[-1])):
        X = read_localizations(path)[["x", "y"]].to_numpy()
        fit = pair_correlation_fit(X)
        print(f"| {path.stem} | {len(X)} | {fit.repeat_neighbours:.2f} | {fit.radius:.1f} |", flush=True)


def nn_ratios(name):
    """Median log(d4/d1), log(d8/d1), log(d16/d4) of all localisations, mean over 5 test FOVs."""
    X, _, g = quality.load_scenario(name, n_test=5)["test"]
    values = []
    for f in np.unique(g):
        d = cKDTree(X[g == f]).query(X[g == f], k=17)[0]
        values.append([np.median(np.log(d[:, a] / d[:, b])) for a, b in ((4, 1), (8, 1), (16, 4))])
    return np.mean(values, axis=0)


def background_groups(name, linkage=25.0):
    """(mean, median, 90th percentile) of the labelled background's group sizes, median spread."""
    from sklearn.cluster import DBSCAN

    X, y, g = quality.load_scenario(name)["train"]
    sizes, spreads = [], []
    for f in np.unique(g):
        B = X[(g == f) & (y < 0)]
        groups = DBSCAN(eps=linkage, min_samples=1).fit_predict(B)
        ids, counts = np.unique(groups, return_counts=True)
        sizes.extend(counts)
        for k in ids[counts >= 3]:
            pts = B[groups == k]
            spreads.append(np.sqrt(((pts - pts.mean(axis=0)) ** 2).sum(axis=1).mean()))
    sizes = np.asarray(sizes)
    return sizes.mean(), np.median(sizes), np.percentile(sizes, 90), np.median(spreads)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    rows = quality.BENCHMARK + quality.SIMULATED + quality.SINGLE_SHOT + quality.SHAPES + list(quality.HELD_OUT)
    parser.add_argument("scenarios", nargs="*", default=rows)
    parser.add_argument("--n-test", type=int, default=20)
    parser.add_argument("--fgfr1", action="store_true", help="the real FGFR1 FOVs' pair-correlation fits only")
    parser.add_argument("--nn-ratios", action="store_true", help="nearest-neighbour distance ratios only")
    parser.add_argument("--groups", action="store_true", help="the labelled background's blink groups only")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=RuntimeWarning)
    if args.fgfr1:
        fgfr1_repeats()
        return
    if args.nn_ratios:
        print("| scenario | log d4/d1 | log d8/d1 | log d16/d4 |")
        print("| --- | --- | --- | --- |")
        for name in args.scenarios:
            r = nn_ratios(name)
            print(f"| {name} | {r[0]:.2f} | {r[1]:.2f} | {r[2]:.2f} |", flush=True)
        return
    if args.groups:
        print("| scenario | mean size | median | 90th percentile | median RMS spread (nm) |")
        print("| --- | --- | --- | --- | --- |")
        for name in args.scenarios:
            mean, median, p90, spread = background_groups(name)
            print(f"| {name} | {mean:.2f} | {median:.0f} | {p90:.0f} | {spread:.1f} |", flush=True)
        return
    print("| scenario | blinking | background clumping (labels) | pair correlation: FOVs with repeats | median repeats |")
    print("| --- | --- | --- | --- | --- |")
    for name in args.scenarios:
        data = quality.load_scenario(name, n_test=args.n_test)
        blinking = name.startswith("MB-") or name.endswith("b") or name.endswith("-blink")
        clumping = background_clumping(*data["train"])
        share, repeats = label_free_repeats(data["test"][0], data["test"][2])
        print(f"| {name} | {'yes' if blinking else 'no'} | {clumping:.3f} | {share:.2f} | {repeats:.2f} |", flush=True)


if __name__ == "__main__":
    main()
