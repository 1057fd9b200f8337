"""Is the network or the choice after it what keeps a row from the paper? The authors' network
with our choice.

For a benchmark or single-shot row of ``quality.py`` this probe loads the MIRO authors'
checkpoint of the same scenario (``shared/reference/checkpoints``, with the metadata's
recurrent steps and connectivity radius) and scores, on the quality table's test FOVs:

* ``authors``: their network, DBSCAN with their published MIRO parameters (the paper's row,
  as ``reference_checkpoints.py`` reproduces it; ``output="reference"``, the space those
  parameters were tuned in);
* ``authors + our choice``: their network (``output="nm"``), wrapped in ``MIROClusterer``
  and fitted on the row's labelled training FOVs (the three benchmark FOVs, or the
  single-shot FOVs built from the one labelled cluster) with the defaults: eps, min_samples,
  the passes, the border points and the trimming radius chosen exactly as for our own
  networks. No training.

Beside the quality table's row (our network, our choice), this separates the two halves of
the pipeline: if the authors' network with our choice reaches the paper's row, what our rows
lack is in the network; if it does not, the choice after the network loses too.

    OMP_NUM_THREADS=1 python benchmarks/reference_network_choice.py SS-5 SS-6 MB-S4 --output F.json
"""

import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.cluster import DBSCAN

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))
import quality  # noqa: E402

from sklearn_miro import MIROClusterer, load_reference_checkpoint  # noqa: E402

REFERENCE = quality.SHARED / "reference"


def checkpoint_settings(name):
    """(checkpoint file, metadata entry, load settings) of a quality-table row's scenario; the
    settings (recurrent steps, connectivity radius) are ``load_reference_checkpoint``'s keywords."""
    if name in quality.SINGLE_SHOT:
        number = name.split("-")[1]
        path = REFERENCE / "checkpoints" / f"single_shot_scenario_{number}.pt"
        meta = json.loads((REFERENCE / "single_shot_metadata.json").read_text())[f"Ground Truth - Scenario {number}"]
    else:
        kind, number = name.split("-S")
        key = ("Multiple Blinking" if kind == "MB" else "Ground Truth") + f" - Scenario {number}"
        suffix = "_blinking" if kind == "MB" else ""
        path = REFERENCE / "checkpoints" / f"benchmark_scenario_{number}{suffix}.pt"
        meta = json.loads((REFERENCE / "benchmark_metadata.json").read_text())[key]
    settings = {"n_steps": int(meta["recurrent_iterations"]),
                "connectivity_radius": float(meta["builder_kwargs"]["connectivity_radius"])}
    return path, meta, settings


def per_fov_labels(transformer, params, X, groups):
    """DBSCAN with fixed parameters on every FOV's collapse, on its own."""
    labels = np.full(len(X), -1)
    for fov in np.unique(groups):
        idx = np.flatnonzero(groups == fov)
        labels[idx] = DBSCAN(**params).fit_predict(transformer.transform(X[idx]))
    return labels


def run(name, n_test):
    path, meta, settings = checkpoint_settings(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = quality.load_scenario(name, n_test, None)
    Xtr, ytr, gtr = data["train"]
    X, y, groups = data["test"]
    result = {"scenario": name, "checkpoint": path.name, **settings,
              "authors_dbscan": meta["MIRO_DBSCAN_params"], "n_test_fovs": int(len(np.unique(groups)))}

    theirs = load_reference_checkpoint(path, output="reference", **settings)
    start = time.process_time()
    result["authors"] = quality.mean_scores(X, y, groups, per_fov_labels(theirs, meta["MIRO_DBSCAN_params"], X, groups))
    result["authors_cpu_s"] = time.process_time() - start

    in_nm = load_reference_checkpoint(path, output="nm", **settings)
    start = time.process_time()
    clusterer = MIROClusterer(in_nm).fit(Xtr, ytr, groups=gtr)
    result["choice_cpu_s"] = time.process_time() - start
    result["our_choice"] = {"eps": float(clusterer.eps_), "min_samples": int(clusterer.min_samples_),
                            "passes": int(clusterer.collapse_passes_),
                            "border_points": clusterer.border_points_,
                            "outlier_radius": None if clusterer.outlier_radius_ is None
                            else float(clusterer.outlier_radius_)}
    result["authors_with_our_choice"] = quality.mean_scores(X, y, groups, clusterer.predict(X, groups=groups))
    return result


def report(r):
    def fmt(s):
        return f"{s['ari_dagger']:.3f} / {s['ji_c']:.3f} / {s['rmsre_n']:.3f}"
    print(f"{r['scenario']} ({r['checkpoint']}, T {r['n_steps']}, r {r['connectivity_radius']}; "
          f"{r['n_test_fovs']} test FOVs): authors {fmt(r['authors'])} (eps {r['authors_dbscan']['eps']}, "
          f"{r['authors_dbscan']['min_samples']}); authors + our choice {fmt(r['authors_with_our_choice'])} "
          f"({r['our_choice']}); choice {r['choice_cpu_s']:.0f} CPU-s", flush=True)


def main():
    parser = quality.probe_parser(__doc__)
    parser.add_argument("--output", default=None, help="JSON file for the results")
    args = parser.parse_args()
    results = []
    for name in args.scenarios:
        if name not in quality.BENCHMARK and name not in quality.SINGLE_SHOT:
            parser.error(f"{name}: the authors' checkpoints cover the benchmark and single-shot rows only")
        results.append(run(name, args.n_test))
        report(results[-1])
        if args.output:
            Path(args.output).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
