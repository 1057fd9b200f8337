"""Are the single-shot rows held back by the choices made after the network?

With one labelled cluster, ``MIROClusterer`` chooses everything after the
network (DBSCAN's eps / min_samples, one or two passes, the trimming radius)
on training FOVs made of exact copies of that cluster
(``single_shot_training_fovs``). On the ground-truth scenario 5 the three
labelled FOVs lead to two passes and trimming at 3.0 (ARI-dagger 0.560); the
single-shot copies lead to one pass and no trimming (0.545, under plain
DBSCAN's 0.548). This probe refits the clusterer on the same network with the
passes and the radius forced, the rest still chosen on the single-shot FOVs,
and scores every variant on the test FOVs: a diagnosis (the forced values are
what three labelled FOVs would choose, which a single-shot user does not
have), not a method.

    OMP_NUM_THREADS=1 python benchmarks/single_shot_choices.py SS-5 SS-6 --seeds 0
"""

import sys
import time
from pathlib import Path

from sklearn.frozen import FrozenEstimator

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(1, str(Path(__file__).resolve().parent))
import quality  # noqa: E402

from sklearn_miro import MIROClusterer  # noqa: E402

VARIANTS = {"as fitted": {}, "2 passes": {"collapse_passes": 2}, "trim 3.0": {"outlier_radius": 3.0},
            "2 passes, trim 3.0": {"collapse_passes": 2, "outlier_radius": 3.0},
            "2 passes, trim 2.5": {"collapse_passes": 2, "outlier_radius": 2.5}}


def run(name, seed, n_test):
    data, fitted, fit_cpu = quality.fit_default_clusterer(name, seed, n_test)
    Xtr, ytr, gtr = data["train"]
    Xte, yte, gte = data["test"]
    out = {"scenario": name, "seed": seed, "fit_cpu_s": fit_cpu, "variants": {}}
    for label, forced in VARIANTS.items():
        cpu = time.process_time()
        clusterer = (fitted if not forced else
                     MIROClusterer(FrozenEstimator(fitted.transformer_), **forced).fit(Xtr, ytr, groups=gtr))
        scores, _ = quality.probe_test_scores(clusterer, Xte, yte, gte)
        out["variants"][label] = quality.choice_record(clusterer, scores, cpu_s=time.process_time() - cpu)
    return out


def report(result):
    print(f"{result['scenario']} seed {result['seed']} (fit {result['fit_cpu_s'] / 60:.2f} CPU-min)")
    for label, v in result["variants"].items():
        print(quality.choice_line(label, v), flush=True)


if __name__ == "__main__":
    quality.run_probe(__doc__, run, report)
