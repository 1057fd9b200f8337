"""Single-shot training on scenarios without a paper single-shot row: which network?

The paper's single-shot rows (``SS-5``, ``SS-6`` in ``quality.py``) are the only
single-shot data the developers measure on. This probe checks a single-shot
recipe elsewhere: for any scenario of ``quality.py`` it takes the training
cluster of median size, copies it into 10 single-shot training FOVs with the
training FOVs' median cluster count, background count and side
(``single_shot_hollow.one_ring_fovs``), fits ``MIROClusterer`` with the defaults
plus ``--params`` (extra ``MIROTransformer`` parameters, JSON), and scores it on
the scenario's test FOVs (all of them unless ``--n-test``), beside plain
DBSCAN with the benchmark's published parameters (so: benchmark rows only).

    OMP_NUM_THREADS=1 python benchmarks/single_shot_network.py GT-S8 --seeds 0
    OMP_NUM_THREADS=1 python benchmarks/single_shot_network.py GT-S8 --seeds 0 --params '{"hidden_size": 96}'
"""

import json
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(1, str(Path(__file__).resolve().parent))
import quality  # noqa: E402
from single_shot_hollow import one_ring_fovs  # noqa: E402

from sklearn_miro import MIROClusterer, MIROTransformer  # noqa: E402

PARAMS = {}


def run(name, seed, n_test):
    if name not in quality.BENCHMARK:
        raise SystemExit(f"{name}: benchmark rows only ({quality.BENCHMARK}): the baseline is DBSCAN with "
                         "the benchmark's published parameters")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = quality.load_scenario(name, n_test, None)
    (Xs, ys, gs), cluster_size = one_ring_fovs(*data["train"], seed)
    cpu, wall = time.process_time(), time.perf_counter()
    model = MIROClusterer(MIROTransformer(random_state=seed, verbose=0, **PARAMS)).fit(Xs, ys, groups=gs)
    fit_cpu, fit_wall = time.process_time() - cpu, time.perf_counter() - wall
    scores, seconds = quality.probe_test_scores(model, *data["test"])
    Xte, _, gte = data["test"]
    published = quality.plain_dbscan_labels(Xte, gte, data["dbscan"]["eps"], data["dbscan"]["min_samples"])
    dbscan = quality.mean_scores(*data["test"], published)
    miro = model.transformer_
    return {"scenario": name, "seed": seed, "params": PARAMS, "cluster_size": cluster_size,
            "started_from": miro.started_from_, "n_augmented": int(miro.n_augmented_),
            "n_epochs": len(miro.loss_curve_), "fit_cpu_min": fit_cpu / 60, "fit_wall_min": fit_wall / 60,
            "seconds_per_test_fov": seconds, "n_test_fovs": int(len(set(data["test"][2].tolist()))),
            "train_compression": float(miro.training_compression_),
            **quality.choice_record(model, scores), "dbscan_published": dbscan}


def report(r):
    print(f"{r['scenario']} seed {r['seed']} {json.dumps(r['params'])} (cluster of {r['cluster_size']}, from "
          f"{r['started_from']}, {r['n_augmented']} crops, {r['n_epochs']} epochs): test ARI† {r['ari_dagger']:.3f} "
          f"JI_c {r['ji_c']:.3f} RMSRE_N {r['rmsre_n']:.3f}; published DBSCAN {r['dbscan_published']['ari_dagger']:.3f} / "
          f"{r['dbscan_published']['ji_c']:.3f} / {r['dbscan_published']['rmsre_n']:.3f}; fit {r['fit_cpu_min']:.2f} CPU-min "
          f"({r['fit_wall_min']:.2f} wall), training compression {r['train_compression']:.3f}", flush=True)


if __name__ == "__main__":
    PARAMS = json.loads(quality.pop_option("--params", "{}"))
    quality.run_probe(__doc__, run, report)
