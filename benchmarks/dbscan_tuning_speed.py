"""CPU time of MIROClusterer's DBSCAN choice on the training FOVs (``MIROClusterer.fit``).

After training, ``MIROClusterer.fit`` runs DBSCAN for every candidate of its grid
(18 eps x up to 20 min_samples, after one and after two passes of the network)
on the collapsed training FOVs and scores each labelling (mean of ARI-dagger,
JI_c and AMI). On blinking data this took as long as the training itself.

The script fits ``MIROTransformer(random_state=SEED)`` with the defaults on a
scenario's 3 training FOVs once (cached with joblib in ``--cache``, so that two
versions of the package can be timed on the same network), then times
``MIROClusterer(FrozenEstimator(transformer)).fit`` ``--repeats`` times and
writes the median CPU (``time.process_time``, this process only: with
``--n-jobs`` the workers' time is not in it) and wall seconds, the choice
(eps, min_samples, passes) and the grid's scores to ``--output`` (JSON): two
versions compared on the same cache must choose the same and score the same to
the last bit when a change is meant to be exact.

Usage (one torch thread, as every benchmark here)::

    OMP_NUM_THREADS=1 python benchmarks/dbscan_tuning_speed.py MB-S6 sim7b --repeats 3 \\
        --output /tmp/tuning_new.json

Scenario names are those of ``benchmarks/quality.py``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import joblib
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import quality  # noqa: E402
from sklearn.frozen import FrozenEstimator  # noqa: E402

import sklearn_miro  # noqa: E402
from sklearn_miro import MIROClusterer, MIROTransformer  # noqa: E402


def fitted_transformer(name, seed, cache):
    path = Path(cache) / f"{name}_seed{seed}.joblib"
    if path.exists():
        return joblib.load(path)
    data = quality.load_scenario(name, None, None)
    X, y, g = data["train"]
    transformer = MIROTransformer(verbose=0, random_state=seed).fit(X, y, groups=g)
    path.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump((transformer, data["train"]), path)
    return transformer, data["train"]


def time_tuning(transformer, train, repeats, n_jobs=None):
    X, y, g = train
    cpu, wall = [], []
    for _ in range(repeats):
        c0, w0 = time.process_time(), time.perf_counter()
        clusterer = MIROClusterer(FrozenEstimator(transformer), n_jobs=n_jobs).fit(X, y, groups=g)
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    return clusterer, cpu, wall


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scenarios", nargs="+")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cache", default="/tmp/sklearn_miro_tuning_cache")
    parser.add_argument("--output", required=True)
    parser.add_argument("--n-jobs", type=int, default=None,
                        help="MIROClusterer(n_jobs=...); CPU time then counts this process only")
    args = parser.parse_args(argv)
    results = {"package": str(Path(sklearn_miro.__file__).parent), "torch_threads": torch.get_num_threads(),
               "n_jobs": args.n_jobs, "scenarios": {}}
    for name in args.scenarios:
        transformer, train = fitted_transformer(name, args.seed, args.cache)
        clusterer, cpu, wall = time_tuning(transformer, train, args.repeats, args.n_jobs)
        results["scenarios"][name] = {
            "cpu_s": cpu, "wall_s": wall,
            "median_cpu_s": statistics.median(cpu), "median_wall_s": statistics.median(wall),
            "eps": clusterer.eps_, "min_samples": clusterer.min_samples_,
            "collapse_passes": clusterer.collapse_passes_,
            "n_candidates": int(np.size(clusterer.tuning_scores_)),
            "tuning_scores": np.asarray(clusterer.tuning_scores_).tolist(),
            # Since the thirty-fourth session: the rest of the choice, so that
            # an exact change can be checked on all of it.
            "border_points": clusterer.border_points_,
            "border_point_scores": clusterer.border_point_scores_,
            "collapse_pass_scores": ({str(k): v for k, v in clusterer.collapse_pass_scores_.items()}
                                     if clusterer.collapse_pass_scores_ is not None else None),
            "outlier_radius": clusterer.outlier_radius_,
        }
        print(f"{name}: median {statistics.median(cpu):.2f} CPU-s, {statistics.median(wall):.2f} wall-s "
              f"over {args.repeats}; eps {clusterer.eps_:.2f}, min_samples {clusterer.min_samples_}, "
              f"passes {clusterer.collapse_passes_}", flush=True)
    Path(args.output).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
