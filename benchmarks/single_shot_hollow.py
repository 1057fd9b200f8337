"""Single-shot training from one labelled ring: does the depth rule help there too?

``MIROTransformer(n_steps="auto")`` fine-tunes with 25 recurrent steps (and twice
the synthetic FOVs) when the labelled clusters are hollow. A single-shot fit
sees one cluster, copied: the rule then rests on that one cluster (it must hold
at least 30 localisations to be measured). For a ring scenario of
``quality.py`` (``rings``, ``hold-small-rings``, ``hold-rings-blink``), this
probe takes the training ring of median size, builds single-shot training FOVs
from it (:func:`sklearn_miro.single_shot.single_shot_training_fovs`, with the
training FOVs' median ring count, background count and side), fits
``MIROClusterer`` with the defaults and with ``n_steps=15``, and scores both on
the scenario's test FOVs (the quality table's: 10 FOVs).

    OMP_NUM_THREADS=1 python benchmarks/single_shot_hollow.py rings --seeds 0 --steps auto
    OMP_NUM_THREADS=1 python benchmarks/single_shot_hollow.py rings --seeds 0 --steps 15
"""

import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(1, str(Path(__file__).resolve().parent))
import quality  # noqa: E402

from sklearn_miro import MIROClusterer, MIROTransformer  # noqa: E402
from sklearn_miro.single_shot import single_shot_training_fovs  # noqa: E402

STEPS = "auto"


def one_ring_fovs(X, y, groups, seed):
    """Single-shot training FOVs from the median-size training ring, sized like the training FOVs."""
    labels, sizes = np.unique(y[y >= 0], return_counts=True)
    ring = labels[np.argsort(sizes, kind="stable")[len(sizes) // 2]]
    per_fov = [(np.unique(y[(groups == g) & (y >= 0)]).size, int(np.sum((groups == g) & (y < 0))),
                float(np.ptp(X[groups == g], axis=0).max())) for g in np.unique(groups)]
    n_clusters, n_background, fov_size = (np.median([p[i] for p in per_fov]) for i in range(3))
    return single_shot_training_fovs(X[y == ring], n_clusters=int(n_clusters), n_background=int(n_background),
                                     fov_size=float(fov_size), random_state=seed), int(np.sum(y == ring))


def run(name, seed, n_test):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = quality.load_scenario(name, n_test, None)
    (Xs, ys, gs), ring_size = one_ring_fovs(*data["train"], seed)
    steps = STEPS if STEPS == "auto" else int(STEPS)
    cpu, wall = time.process_time(), time.perf_counter()
    model = MIROClusterer(MIROTransformer(n_steps=steps, random_state=seed, verbose=0)).fit(Xs, ys, groups=gs)
    fit_cpu, fit_wall = time.process_time() - cpu, time.perf_counter() - wall
    scores, _ = quality.probe_test_scores(model, *data["test"])
    miro = model.transformer_
    return {"scenario": name, "seed": seed, "n_steps": steps, "ring_size": ring_size,
            "n_steps_used": int(miro.n_steps_), "central_fraction": float(miro.central_fraction_),
            "n_augmented": int(miro.n_augmented_), "fit_cpu_min": fit_cpu / 60, "fit_wall_min": fit_wall / 60,
            "train_compression": float(miro.training_compression_), **scores}


def report(r):
    print(f"{r['scenario']} seed {r['seed']} n_steps={r['n_steps']} (used {r['n_steps_used']}, central fraction "
          f"{r['central_fraction']:.3f}, ring of {r['ring_size']}, {r['n_augmented']} crops): test ARI† "
          f"{r['ari_dagger']:.3f} JI_c {r['ji_c']:.3f} RMSRE_N {r['rmsre_n']:.3f}; fit {r['fit_cpu_min']:.2f} CPU-min "
          f"({r['fit_wall_min']:.2f} wall), training compression {r['train_compression']:.3f}", flush=True)


if __name__ == "__main__":
    STEPS = quality.pop_option("--steps", STEPS)
    quality.run_probe(__doc__, run, report)
