"""Experiment (issue 11): average MIRO's displacements over the 8 symmetries of the square.

The network sees edge offsets (dx, dy), so it is equivariant to rotations and
reflections only as far as training with random rotations taught it. Test-time
averaging over the dihedral group D4 (rotate the FOV, collapse, rotate the
displacement back, average) removes the non-equivariant part of its error. If
that part mattered, the averaged collapse would be tighter and DBSCAN after it
better.

For every scenario: the default fit of one seed (deterministic), then
``MIROClusterer`` (DBSCAN chosen on the training FOVs by the estimator's own
rule) with 1, 2, 4 and 8 views, scored on the test FOVs.

    OMP_NUM_THREADS=1 python benchmarks/symmetry_averaging.py GT-S6 GT-S5 --seed 0

Result (seventh session): no consistent gain; see benchmarks/README.md.
"""

import argparse
import json
import time
import warnings

import numpy as np
from quality import load_scenario
from sklearn.frozen import FrozenEstimator

from sklearn_miro import MIROClusterer, MIROTransformer
from sklearn_miro.metrics import clustering_report


def square_symmetries():
    """The 8 orthogonal matrices of D4: identity, a reflection, then the rotations with and without it."""
    mats = []
    for k in range(4):
        c, s = round(np.cos(k * np.pi / 2)), round(np.sin(k * np.pi / 2))
        rotation = np.array([[c, -s], [s, c]], dtype=float)
        mats += [rotation, rotation @ np.diag([1.0, -1.0])]
    return mats


class SymmetryAveraged(MIROTransformer):
    """A fitted MIROTransformer whose transform averages over the first ``n_views`` symmetries."""

    n_views = 8

    @classmethod
    def of(cls, fitted, n_views):
        averaged = cls()
        averaged.__dict__.update(fitted.__dict__)
        averaged.n_views = n_views
        return averaged

    def transform(self, X, groups=None, step=None):
        X = np.asarray(X, dtype=float)
        centre = (X.min(axis=0) + X.max(axis=0)) / 2
        total = np.zeros_like(X)
        for rotation in square_symmetries()[: self.n_views]:
            turned = (X - centre) @ rotation.T + centre
            total += (super().transform(turned, step=step) - turned) @ rotation
        return X + total / self.n_views


def test_scores(clusterer, test):
    X, y, g = test
    rows = []
    for fov in np.unique(g):
        idx = g == fov
        report = clustering_report(X[idx], y[idx], clusterer.predict(X[idx]), variant="reference")
        rows.append([float(report[m].iloc[0]) for m in ("ari_dagger", "ji_c", "rmsre_n")])
    return np.mean(rows, axis=0).round(3).tolist()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenarios", nargs="+")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--views", type=int, nargs="+", default=[1, 2, 4, 8])
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    for name in args.scenarios:
        data = load_scenario(name)
        X, y, g = data["train"]
        miro = MIROTransformer(verbose=0, random_state=args.seed).fit(X, y, groups=g)
        result = {"scenario": name, "seed": args.seed}
        for views in args.views:
            cpu = time.process_time()
            clusterer = MIROClusterer(FrozenEstimator(SymmetryAveraged.of(miro, views))).fit(X, y, groups=g)
            scores = test_scores(clusterer, data["test"])
            result[f"views_{views}"] = dict(
                ari_dagger=scores[0], ji_c=scores[1], rmsre_n=scores[2], eps=float(clusterer.eps_),
                min_samples=int(clusterer.min_samples_), cpu_s=round(time.process_time() - cpu, 1),
            )
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
