"""How hollow are the training clusters of each quality scenario? (No training.)

For every labelled training cluster (at least 5 localisations) of
``quality.py``'s scenarios, the fraction of its localisations closer to its
centroid than half its RMS radius; printed is the median over clusters. About
0.2 for an isotropic 2D Gaussian, near 0 for a ring. A candidate statistic
for a connectivity radius that spans hollow structures only
(``benchmarks/README.md``, eleventh session).

    python benchmarks/hollow_fraction.py
    python benchmarks/hollow_fraction.py rings GT-S6
"""

import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import quality  # noqa: E402


def central_fraction(X, y):
    """Median over clusters of the fraction of localisations within half the RMS radius of the centroid."""
    fractions = []
    for label in np.unique(y[y >= 0]):
        points = X[y == label]
        if len(points) < 5:
            continue
        distance = np.linalg.norm(points - points.mean(axis=0), axis=1)
        fractions.append(np.mean(distance < 0.5 * np.sqrt(np.mean(distance**2))))
    return float(np.median(fractions)), len(fractions)


def main():
    names = sys.argv[1:] or [n for n in quality.ALL if n not in quality.MIXTURES and n not in quality.NPC]
    for name in names:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the benchmark loader's notes on file layouts
            X, y, _ = quality.load_scenario(name, 1, None)["train"]
        fraction, n_clusters = central_fraction(X, y)
        print(f"| {name} | {fraction:.3f} | {n_clusters} |", flush=True)


if __name__ == "__main__":
    main()
