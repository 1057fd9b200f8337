"""A pretrained model with labels but no training: DBSCAN chosen on the labelled FOVs.

Between zero-shot use (no labels: the model card's label-free DBSCAN rule) and
fine-tuning (``fit``'s default, about a minute), a user with labelled FOVs can
keep the pretrained network as it is and let ``MIROClusterer`` choose
everything after it on the labels (passes, DBSCAN or DBSCAN*, eps and
min_samples, trimming radius):

    MIROClusterer(MIROTransformer.pretrained(name)).fit(X, y, groups=fov)

For each scenario this prints the test scores (mean over the test FOVs,
ARI-dagger / JI_c / RMSRE_N, the authors' definitions) of that clusterer, of
the label-free zero-shot clusterer, and the CPU seconds of the choice; the
fine-tuned rows and plain DBSCAN are in ``results/quality/summary.md``.

    OMP_NUM_THREADS=1 python benchmarks/pretrained_labelled_choice.py GT-S2 MB-S6 --output out.json

``--model NAME`` takes another shipped model than the zero-shot default;
``--label-free-only yes`` skips the choice on labels (the label-free column alone).
"""

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(1, str(Path(__file__).resolve().parent))
import quality  # noqa: E402

from sklearn_miro import MIROClusterer, MIROTransformer  # noqa: E402
from sklearn_miro.pretrained import ZERO_SHOT_MODEL  # noqa: E402

MODEL = quality.pop_option("--model", ZERO_SHOT_MODEL)
LABEL_FREE_ONLY = quality.pop_option("--label-free-only", "no") == "yes"


def run(name, seed, n_test):
    data = quality.load_scenario(name, n_test, None)
    Xtr, ytr, gtr = data["train"]
    Xte, yte, gte = data["test"]
    out = dict(scenario=name, model=MODEL, n_test=len(np.unique(gte)))
    for mode in ("label_free",) if LABEL_FREE_ONLY else ("label_free", "labels"):
        clusterer = MIROClusterer(MIROTransformer.pretrained(MODEL))
        cpu = time.process_time()
        if mode == "labels":
            clusterer.fit(Xtr, ytr, groups=gtr)
        else:
            clusterer.fit(Xtr, groups=gtr)
        fit_cpu = time.process_time() - cpu
        scores, seconds = quality.probe_test_scores(clusterer, Xte, yte, gte)
        out[mode] = dict(scores=scores, fit_cpu_s=fit_cpu, seconds_per_test_fov=seconds,
                         collapse_passes=clusterer.collapse_passes_, border_points=clusterer.border_points_,
                         eps=float(clusterer.eps_), min_samples=int(clusterer.min_samples_),
                         outlier_radius=clusterer.outlier_radius_)
    return out


def fmt(s):
    return f"{s['ari_dagger']:.3f} / {s['ji_c']:.3f} / {s['rmsre_n']:.3f}"


def report(r):
    lf, lab = r["label_free"], r.get("labels")
    if lab is None:
        print(f"| {r['scenario']} | {fmt(lf['scores'])} (min_samples {lf['min_samples']}, eps {lf['eps']:.1f}) | "
              f"{lf['fit_cpu_s']:.0f} |", flush=True)
        return
    print(f"| {r['scenario']} | {fmt(lf['scores'])} | {fmt(lab['scores'])} ({lab['collapse_passes']} pass(es), "
          f"{lab['border_points']}, eps {lab['eps']:.1f}, min_samples {lab['min_samples']}, "
          f"radius {lab['outlier_radius']}) | {lab['fit_cpu_s']:.0f} |", flush=True)


if __name__ == "__main__":
    quality.run_probe(__doc__, run, report)
