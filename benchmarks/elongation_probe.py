"""How elongated the clusters look, with and without labels (issue 11, thirty-ninth session).

Two measurements behind the automatic start for elongated clusters
(:func:`sklearn_miro.model.elongated_start`):

* ``--rows ROW ...``: on the labelled training FOVs of rows of ``quality.py``, what
  ``elongated_start`` measures (median axis ratio, localisations per synthetic crop) and
  decides (elongated; random weights or the pretrained ``elongated`` model);
* ``--zero-shot``: on the first ``--n-test`` test FOVs of the 10 benchmark scenarios, the
  median axis ratio of the clusters a zero-shot ``MIROClusterer(MIROTransformer.pretrained())``
  finds, against the true clusters'; how many FOVs pass a threshold. This asks whether the
  elongated model could be chosen without labels.

    OMP_NUM_THREADS=1 python benchmarks/elongation_probe.py --zero-shot --n-test 20
    OMP_NUM_THREADS=1 python benchmarks/elongation_probe.py --rows GT-S6 MB-S6 hold-wide-elongated

With ``--repeats N`` the rows' measurement is timed (CPU seconds per call, the mean of N):
the cost ``MIROTransformer.fit`` pays for the rule, which prepares the labelled training
set once more than training does.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from quality import SHARED, load_scenario  # noqa: E402

from sklearn_miro import MIROClusterer, MIROTransformer  # noqa: E402
from sklearn_miro._validation import split_by_group  # noqa: E402
from sklearn_miro.augmentation import AugmentationOptions, median_axis_ratio, prepare_training_set  # noqa: E402
from sklearn_miro.io import load_benchmark  # noqa: E402
from sklearn_miro.model import elongated_start  # noqa: E402

SCENARIOS = [f"{kind}/scenario_{n}" for kind in ("ground_truth", "blinking") for n in (2, 4, 5, 6, 8)]


def labelled_rows(rows, repeats=1):
    for row in rows:
        X, y, groups = load_scenario(row, n_test=1)["train"]
        fovs = [idx for _, idx in split_by_group(groups, len(X))]
        X, labels = np.asarray(X, dtype=float), np.asarray(y).reshape(-1, 1)
        started = time.process_time()
        for _ in range(repeats):
            choice = elongated_start(X, labels, fovs, augmentation=AugmentationOptions())
        cpu_ms = 1000 * (time.process_time() - started) / repeats
        start = ("random weights, hidden 96" if choice.random_weights
                 else "pretrained 'elongated'" if choice.elongated else "pretrained 'nanoclusters'")
        print(f"{row}: {len(X)} localisations, axis ratio {choice.axis_ratio:.2f}, "
              f"{choice.crop_localizations:.0f} localisations per crop -> {start}; {cpu_ms:.1f} CPU-ms",
              flush=True)


def zero_shot(n_test, thresholds):
    for name in SCENARIOS:
        bench = load_benchmark(SHARED / "data" / "nieves2023" / name)
        mask = bench.strict_test_mask if "strict_test_mask" in bench else bench.test_mask
        fovs = [f for f in bench.test_fov_numbers if np.any(mask & (bench.groups == f))][:n_test]
        clusterer = MIROClusterer(MIROTransformer.pretrained(verbose=0))
        found, true = [], []
        for f in fovs:
            sel = bench.groups == f
            X, y = bench.X[sel], bench.y[sel]
            labels = clusterer.fit_predict(X)
            if (labels >= 0).any():
                found.append(median_axis_ratio(prepare_training_set(X, labels[:, None])))
            true.append(median_axis_ratio(prepare_training_set(X, y[:, None])))
        found = np.asarray(found)
        counts = ", ".join(f">= {t}: {int(np.sum(found >= t))}" for t in thresholds)
        print(f"{name}: found clusters median {np.nanmedian(found):.2f} (min {np.nanmin(found):.2f}, "
              f"max {np.nanmax(found):.2f}; FOVs {counts} of {len(found)}) | true {np.nanmedian(true):.2f}",
              flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", nargs="+", default=None)
    parser.add_argument("--zero-shot", action="store_true")
    parser.add_argument("--n-test", type=int, default=20)
    parser.add_argument("--thresholds", type=float, nargs="+", default=[2.3, 3.0])
    parser.add_argument("--repeats", type=int, default=1, help="time the rows' measurement, mean of N calls")
    args = parser.parse_args(argv)
    if args.rows:
        labelled_rows(args.rows, args.repeats)
    if args.zero_shot:
        zero_shot(args.n_test, args.thresholds)


if __name__ == "__main__":
    main()
