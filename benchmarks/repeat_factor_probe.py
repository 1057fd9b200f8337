"""The zero-shot rule's blink factor: ``min_samples >= REPEAT_FACTOR x (1 + repeats)``, measured again.

Without labels, ``MIROClusterer`` raises DBSCAN's ``min_samples`` on a FOV whose pair
correlation shows multiple blinking to ``REPEAT_FACTOR`` times the mean number of
localisations of one molecule (``sklearn_miro.pretrained.PretrainedMIRO.dbscan_min_samples``),
so that a lone molecule's blink group is no cluster. The factor (2) was chosen on 40 simulated
FOVs, where 3 tied with it. This scores the zero-shot clusterer (``MIROTransformer.pretrained``
with every default, the factor patched) for several factors. Since the forty-first session
``nanoclusters-long``'s card sizes ``min_samples`` by its own rule and uses this one only as a
fallback, so the probe applies this rule alone
(:meth:`~sklearn_miro.pretrained.PretrainedMIRO.blink_repeat_min_samples`) to every model:

* on ``--n-fovs`` fresh simulated FOVs of the pretrained models' training family
  (``benchmarks/train_pretrained.py``: half with blinking), numpy seed ``--seed``: the
  set a factor is chosen on;
* with ``--rows``, on the first ``--n-test`` test FOVs of quality-table rows (needs
  ../shared for the benchmark ones): reported, not chosen on.

Prints the mean over FOVs of ARI-dagger, JI_c and their mean (the authors' definitions), FOVs
with and without blinking apart.

    OMP_NUM_THREADS=1 python benchmarks/repeat_factor_probe.py --n-fovs 100 --seed 2026
    OMP_NUM_THREADS=1 python benchmarks/repeat_factor_probe.py --n-fovs 0 --rows MB-S2 GT-S6 --n-test 20
"""

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(1, str(Path(__file__).resolve().parent))
import quality  # noqa: E402
import train_pretrained  # noqa: E402

import sklearn_miro.pretrained as pretrained  # noqa: E402
from sklearn_miro import MIROClusterer, MIROTransformer  # noqa: E402

FACTORS = (0.0, 1.0, 2.0, 2.5, 3.0, 4.0, 5.0)


def scores(model, fovs, factors):
    """{factor: (n, 2) array of (ARI-dagger, JI_c) per FOV}."""
    out = {}
    # The blink-repeat rule alone, whatever rule the model's card carries.
    def blink_repeat_only(self, X, *, fit=None):
        return self.blink_repeat_min_samples(self.pair_correlation_fit(X) if fit is None else fit)

    pretrained.PretrainedMIRO.dbscan_min_samples = blink_repeat_only
    for factor in factors:
        pretrained.REPEAT_FACTOR = factor  # read at call time by blink_repeat_min_samples
        rows = []
        for X, y in fovs:
            labels = MIROClusterer(MIROTransformer.pretrained(model, verbose=0)).fit_predict(X)
            s = quality.mean_scores(X, y, np.zeros(len(X), dtype=int), labels)
            rows.append((s["ari_dagger"], s["ji_c"]))
        out[factor] = np.array(rows)
    return out


def report(title, result, blinking):
    print(f"\n{title}\n")
    print("| factor | " + " | ".join(f"{kind}: ARI† / JI_c / mean" for kind in ("no blinking", "blinking")) + " |")
    print("| --- | --- | --- |")
    for factor, table in result.items():
        cells = []
        for keep in (~blinking, blinking):
            if keep.any():
                a, j = table[keep].mean(axis=0)
                cells.append(f"{a:.3f} / {j:.3f} / {(a + j) / 2:.3f} ({keep.sum()})")
            else:
                cells.append("-")
        print(f"| {factor:g} | " + " | ".join(cells) + " |", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-fovs", type=int, default=100)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--model", default=pretrained.ZERO_SHOT_MODEL)
    parser.add_argument("--factors", type=float, nargs="+", default=list(FACTORS))
    parser.add_argument("--rows", nargs="*", default=[])
    parser.add_argument("--n-test", type=int, default=20)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    if args.n_fovs:
        rng = np.random.default_rng(args.seed)
        simulated = train_pretrained.full_size_fovs(args.n_fovs, rng)
        fovs = [(X, y) for X, y, _, _ in simulated]
        blinking = np.array([settings["blinking"] is not None for _, _, _, settings in simulated])
        report(f"{args.n_fovs} simulated FOVs of the training family (seed {args.seed}), model {args.model}",
               scores(args.model, fovs, args.factors), blinking)
    for name in args.rows:
        X, y, g = quality.load_scenario(name, n_test=args.n_test)["test"]
        fovs = [(X[g == f], y[g == f]) for f in np.unique(g)]
        flag = name.startswith("MB-") or name.endswith("b") or name.endswith("-blink")
        report(f"{name}: first {len(fovs)} test FOVs, model {args.model}",
               scores(args.model, fovs, args.factors), np.full(len(fovs), flag))


if __name__ == "__main__":
    main()
