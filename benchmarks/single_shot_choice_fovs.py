"""Single-shot rows: choose what follows the network on copies the network was not trained on?

With one labelled cluster, ``MIROClusterer`` trains the network on synthetic crops made from
the copies of that cluster in the single-shot training FOVs, and then chooses DBSCAN's eps
and min_samples, the passes and the trimming radius on those same FOVs. The network
collapses its training copies to 0.15 of their size but the test clusters of single-shot 5
only to 0.38 (twenty-fifth session): the choice is made where the collapse is at its best,
and it picks an eps too small for the test clusters.

This probe keeps the quality table's network (fitted as ``quality.py`` fits it, or the
authors' single-shot checkpoint with ``--authors``) and refits only the choice
(``MIROClusterer(FrozenEstimator(transformer))``) on other single-shot FOVs built from the
same labelled cluster:

* ``same FOVs``: the training FOVs (the quality table's choice);
* ``fresh layout``: exact copies again, another ``random_state`` (placement only);
* ``resampled``: ``single_shot_training_fovs(resample=True)``, every copy drawn afresh from
  a Gaussian kernel density estimate of the cluster, so the network has not seen its layout;
* ``resampled, size spread``: the same with ``size_spread="auto"``.

Scored on every test FOV.

    OMP_NUM_THREADS=1 python benchmarks/single_shot_choice_fovs.py SS-5 SS-6 --seeds 0 1 2
    OMP_NUM_THREADS=1 python benchmarks/single_shot_choice_fovs.py SS-5 SS-6 --authors
"""

import json
import sys
import time
import warnings
from pathlib import Path

from sklearn.frozen import FrozenEstimator

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))
import quality  # noqa: E402
import reference_network_choice  # noqa: E402

from sklearn_miro import MIROClusterer, load_reference_checkpoint  # noqa: E402
from sklearn_miro.single_shot import load_reference_single_shot, single_shot_training_fovs  # noqa: E402

CHOICE_FOVS = {
    "same FOVs": None,
    "fresh layout": {"random_state": 1},
    "resampled": {"resample": True, "random_state": 1},
    "resampled, size spread": {"resample": True, "size_spread": "auto", "random_state": 1},
}


def choice_fovs(name, keywords):
    cluster, spec = load_reference_single_shot(quality.SHARED / "reference", int(name.split("-")[1]))
    spec.pop("dbscan")
    return single_shot_training_fovs(cluster, **spec, **keywords)


def run(name, seed, n_test, authors=False):
    if name not in quality.SINGLE_SHOT:
        raise SystemExit(f"{name}: single-shot rows only ({quality.SINGLE_SHOT})")
    if authors:
        path, _, settings = reference_network_choice.checkpoint_settings(name)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            data = quality.load_scenario(name, n_test, None)
        transformer = load_reference_checkpoint(path, output="nm", **settings)
        fit_cpu = 0.0
    else:
        data, fitted, fit_cpu = quality.fit_default_clusterer(name, seed, n_test)
        transformer = fitted.transformer_
    Xte, yte, gte = data["test"]
    out = {"scenario": name, "seed": None if authors else seed, "network": "authors" if authors else "ours",
           "fit_cpu_s": fit_cpu, "variants": {}}
    for label, keywords in CHOICE_FOVS.items():
        Xc, yc, gc = data["train"] if keywords is None else choice_fovs(name, keywords)
        cpu = time.process_time()
        clusterer = MIROClusterer(FrozenEstimator(transformer)).fit(Xc, yc, groups=gc)
        scores, _ = quality.probe_test_scores(clusterer, Xte, yte, gte)
        # choice_cpu_s: the choice's fit, the test prediction and its scoring.
        out["variants"][label] = quality.choice_record(clusterer, scores, choice_cpu_s=time.process_time() - cpu)
    return out


def report(result):
    print(f"{result['scenario']} {result['network']} network, seed {result['seed']} "
          f"(fit {result['fit_cpu_s'] / 60:.2f} CPU-min)")
    for label, v in result["variants"].items():
        print(quality.choice_line(label, v, width=24), flush=True)


def main():
    parser = quality.probe_parser(__doc__)
    parser.add_argument("--authors", action="store_true", help="the authors' single-shot checkpoint as the network")
    parser.add_argument("--output", default=None, help="JSON file for the results")
    args = parser.parse_args()
    results = []
    for name in args.scenarios:
        for seed in ([None] if args.authors else args.seeds):
            results.append(run(name, seed, args.n_test, authors=args.authors))
            report(results[-1])
            if args.output:
                Path(args.output).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
