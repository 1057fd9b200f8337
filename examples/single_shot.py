"""Train MIRO from ONE labelled cluster (single-shot, paper Table S5).

You have hand-labelled a single cluster of your own data. Build labelled
training FOVs from it with ``single_shot_training_fovs`` (copies of the
cluster, randomly rotated and mirrored, over uniform background at the
density of your data), train ``MIROClusterer`` on them as usual, and cluster
your real FOVs.

Without ``../shared`` (or ``$SKLEARN_MIRO_SHARED``) the example simulates the
"user data" (ground-truth scenario 6 recipe: elongated clusters) and labels
one cluster of it; with ``../shared`` it uses the single cluster the paper's
authors trained on and scores the benchmark's test FOVs.

    python examples/single_shot.py [--n-test 5] [--quick]

``--quick`` trains a tiny network in seconds, a smoke test of the workflow:
that network learns nothing (a ``MoveNothingWarning`` says so) and MIRO
then clusters like plain DBSCAN.

The cluster here is elongated (axis ratio about 7 for the paper's cluster,
about 4.6 for the simulated one), so the defaults train a wider network
(hidden size 96) from random weights instead of fine-tuning the shipped one:
about 10 CPU-minutes on a CPU with native bfloat16 (AVX-512 BF16 or AMX),
about 25 on one without, where it trains in float32, instead of one or two
(this example with the paper's cluster: 25 CPU-minutes, the C++ compiler's
included, and 36 minutes wall on one thread of a loaded 2-core AVX2-only
AMD EPYC; ``--quick`` about 40 CPU-seconds). On the
paper's single-shot scenario 6 that gave ARI-dagger / JI_c / RMSRE_N 0.718 /
0.950 / 0.226 against 0.677 / 0.921 / 0.271 for fine-tuning, over 3 seeds;
on round clusters fine-tuning did better and stays the default there
(``doc/method.md``, "Single-shot training").
"""

import argparse
import os
from pathlib import Path

import numpy as np
from sklearn.cluster import DBSCAN

from sklearn_miro import MIROClusterer, MIROTransformer
from sklearn_miro.datasets import make_benchmark_scenario
from sklearn_miro.io import load_benchmark
from sklearn_miro.metrics import clustering_report
from sklearn_miro.single_shot import load_reference_single_shot, single_shot_training_fovs

# The paper's data: ../shared beside the project, or $SKLEARN_MIRO_SHARED.
SHARED = Path(os.environ.get("SKLEARN_MIRO_SHARED", Path(__file__).resolve().parents[1].parent / "shared"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-test", type=int, default=5)
    parser.add_argument("--quick", action="store_true",
                        help="a tiny network that trains in seconds and learns nothing (smoke test)")
    args = parser.parse_args()

    folder = SHARED / "data" / "nieves2023" / "ground_truth" / "scenario_6"
    if folder.is_dir():
        # The single cluster of the authors' single-shot run, in nm.
        cluster, spec = load_reference_single_shot(SHARED / "reference", 6)
        dbscan = spec.pop("dbscan")
        bench = load_benchmark(folder)
        fovs = list(bench.test_fov_numbers)[: args.n_test]
        test = np.isin(bench.groups, fovs)
        X_test, y_test, g_test = bench.X[test], bench.y[test], bench.groups[test]
    else:
        # "Your data": simulated FOVs; you labelled one cluster of the first one.
        X_test, y_test, g_test = make_benchmark_scenario(6, n_fovs=args.n_test, random_state=1)
        first = (g_test == 0) & (y_test == 0)
        cluster = X_test[first]
        # What you know about your FOVs: side, about how many clusters and background points.
        n_bg = int(np.sum((g_test == 0) & (y_test < 0)))
        spec = {"n_clusters": 20, "n_background": n_bg, "fov_size": 2000.0}
        dbscan = {"eps": 30, "min_samples": 6}

    print(f"one labelled cluster of {len(cluster)} localisations; training FOVs: {spec}")
    X, y, fov = single_shot_training_fovs(cluster, **spec, random_state=0)
    params = {"random_state": 0}
    if args.quick:
        params.update(hidden_size=16, n_steps=5, n_augmented=100, max_epochs=2, batch_size=2)
    clusterer = MIROClusterer(MIROTransformer(**params)).fit(X, y, groups=fov)
    miro = clusterer.transformer_
    start = miro.started_from_ or "random weights"
    print(f"trained from {start} (hidden size {miro.hidden_size_}) in {miro.training_time_:.0f} s; "
          f"training clusters compressed to "
          f"{miro.training_compression_:.2f} of their size; DBSCAN eps {clusterer.eps_:.1f}, "
          f"min_samples {clusterer.min_samples_}")

    labels = clusterer.predict(X_test, groups=g_test)
    plain = np.empty_like(labels)
    for f in np.unique(g_test):
        plain[g_test == f] = DBSCAN(**dbscan).fit_predict(X_test[g_test == f])
    for name, pred in (("MIRO (single shot)", labels), ("plain DBSCAN", plain)):
        report = clustering_report(X_test, y_test, pred, groups=g_test, variant="reference")
        print(f"{name:20s} ARI-dagger {report['ari_dagger'].mean():.3f}  JI_c "
              f"{report['ji_c'].mean():.3f}  RMSRE_N {report['rmsre_n'].mean():.3f}")


if __name__ == "__main__":
    main()
