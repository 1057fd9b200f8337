"""Accuracy of the parameter helpers of sklearn_miro.parameters on simulations.

* NeNA: localisation precision recovered from blinked simulations
  (``add_blinking`` + ``blink_frames``) for several true precisions.
* DBSCAN eps: adjusted Rand index of DBSCAN with the eps of
  ``suggest_eps(method="csr")`` and ``suggest_eps(method="knee")``, against the
  best eps of a grid (10-200 nm, 20 values), on the simulated benchmark
  scenarios 2-10 (2 FOVs each) for min_samples 4, 5, 8 and 12.

    OMP_NUM_THREADS=1 python benchmarks/parameter_helpers.py
"""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from sklearn.cluster import DBSCAN  # noqa: E402
from sklearn.metrics import adjusted_rand_score  # noqa: E402

from sklearn_miro.datasets import (  # noqa: E402
    add_blinking,
    blink_frames,
    make_benchmark_scenario,
    make_gaussian_clusters,
)
from sklearn_miro.parameters import nena, suggest_eps  # noqa: E402


def main():
    print("NeNA: true precision -> estimate (relative error), pairs")
    for precision in (5.0, 8.0, 12.0, 20.0, 30.0):
        errors = []
        for seed in range(3):
            molecules, _, fov = make_gaussian_clusters(
                3, n_clusters=30, n_localizations=20, cluster_std=40, random_state=seed
            )
            X, molecule, fov = add_blinking(
                molecules, np.arange(len(molecules)), fov,
                localization_precision=precision, random_state=seed,
            )
            frames = blink_frames(molecule, n_frames=5000, random_state=seed)
            result = nena(X, frames, fov)
            errors.append(result.precision / precision - 1)
        print(
            f"  {precision:5.1f} nm: relative errors {np.round(errors, 3).tolist()} "
            f"(max |error| {np.max(np.abs(errors)):.3f}), {result.n_pairs} pairs"
        )

    scores = {"csr": [], "knee": [], "best grid eps": []}
    for scenario in range(2, 11):
        for seed in range(2):
            X, labels, _ = make_benchmark_scenario(scenario, random_state=seed)
            for min_samples in (4, 5, 8, 12):
                for method in ("csr", "knee"):
                    eps = suggest_eps(X, min_samples, method=method).eps
                    pred = DBSCAN(eps=eps, min_samples=min_samples).fit_predict(X)
                    scores[method].append(adjusted_rand_score(labels, pred))
                scores["best grid eps"].append(
                    max(
                        adjusted_rand_score(
                            labels, DBSCAN(eps=eps, min_samples=min_samples).fit_predict(X)
                        )
                        for eps in np.linspace(10, 200, 20)
                    )
                )
    print("DBSCAN eps on benchmark scenarios 2-10 (ARI mean / min over 72 runs)")
    for name, values in scores.items():
        print(f"  {name:14s}: {np.mean(values):.3f} / {np.min(values):.3f}")


if __name__ == "__main__":
    main()
