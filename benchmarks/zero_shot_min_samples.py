"""Zero-shot clustering with the model's label-free rule against a fixed ``min_samples``.

Tells a shipped model's network from its DBSCAN rule: each pretrained model is run zero-shot
(``MIROClusterer(MIROTransformer.pretrained(model))``, radius and eps per FOV as usual) with
``min_samples="auto"`` (the card's rule, raised with blinking) and with the given fixed
values, on the first ``--n-test`` test FOVs of quality-table rows (each FOV on its own).
Prints ARI-dagger / JI_c / RMSRE_N (the authors' definitions, mean over FOVs) and the median
``min_samples`` used.

    OMP_NUM_THREADS=1 python benchmarks/zero_shot_min_samples.py MB-S2 MB-S5 --models nanoclusters-long blinking --min-samples auto 20

Written for the fortieth session's `blinking` model. Needs ../shared for the benchmark rows.
"""

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(1, str(Path(__file__).resolve().parent))
import quality  # noqa: E402

from sklearn_miro import MIROClusterer, MIROTransformer  # noqa: E402


def run(name, model, min_samples, n_test):
    X, y, g = quality.load_scenario(name, n_test=n_test)["test"]
    # Without labels every FOV is clustered on its own, with its own radius and min_samples.
    clusterer = MIROClusterer(MIROTransformer.pretrained(model, verbose=0), min_samples=min_samples)
    clusterer.fit(X, groups=g)
    used = clusterer.min_samples_per_fov_
    return quality.mean_scores(X, y, g, clusterer.labels_), int(np.median(used)), len(np.unique(g))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenarios", nargs="+")
    parser.add_argument("--models", nargs="+", default=["nanoclusters-long", "blinking"])
    parser.add_argument("--min-samples", nargs="+", default=["auto", "20"])
    parser.add_argument("--n-test", type=int, default=20)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    print("| scenario | model | min_samples | median used | FOVs | ARI† / JI_c / RMSRE_N |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name in args.scenarios:
        for model in args.models:
            for value in args.min_samples:
                min_samples = value if value == "auto" else int(value)
                s, used, n = run(name, model, min_samples, args.n_test)
                print(f"| {name} | {model} | {value} | {used} | {n} | "
                      f"{s['ari_dagger']:.3f} / {s['ji_c']:.3f} / {s['rmsre_n']:.3f} |", flush=True)


if __name__ == "__main__":
    main()
