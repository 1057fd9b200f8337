"""How hollow are the training clusters of each quality scenario? (No training.)

For every labelled training cluster of ``quality.py``'s scenarios, the
fraction of its localisations closer to its centroid than half its RMS radius
(:func:`sklearn_miro.augmentation.central_fraction`, clusters cut out per FOV
as training does); printed is the median over clusters of at least 5 and of
at least 30 localisations (the depth rule of ``MIROTransformer(n_steps="auto")``
uses the latter), with the counts of such clusters. 0.22 for an isotropic 2D
Gaussian, near 0 for a ring.

Until the twenty-sixth session this script grouped localisations by label over
all FOVs together, which merges clusters of different FOVs that share a label
(the single-shot scenarios' synthetic FOVs restart their labels in every FOV):
it printed 0.100 and 0.120 for single-shot 5 and 6, where the clusters measured
one by one give 0.000 and 0.420.

    python benchmarks/hollow_fraction.py
    python benchmarks/hollow_fraction.py rings GT-S6
"""

import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))
import quality  # noqa: E402

from sklearn_miro.augmentation import central_fraction, prepare_training_set  # noqa: E402
from sklearn_miro.model import HOLLOW_MIN_LOCALIZATIONS  # noqa: E402


def main():
    names = sys.argv[1:] or [n for n in quality.ALL if n not in quality.MIXTURES and n not in quality.NPC]
    print(f"| scenario | median fraction, clusters of >= 5 | clusters | median fraction, clusters of >= "
          f"{HOLLOW_MIN_LOCALIZATIONS} | clusters |")
    print("| --- | --- | --- | --- | --- |")
    for name in names:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the benchmark loader's notes on file layouts
            X, y, groups = quality.load_scenario(name, 1, None)["train"]
        training_set = prepare_training_set(X, y, groups)
        sizes = np.diff(training_set.unit_bounds)
        print(f"| {name} | {central_fraction(training_set):.3f} | {int((sizes >= 5).sum())} | "
              f"{central_fraction(training_set, min_size=HOLLOW_MIN_LOCALIZATIONS):.3f} | "
              f"{int((sizes >= HOLLOW_MIN_LOCALIZATIONS).sum())} |", flush=True)


if __name__ == "__main__":
    main()
