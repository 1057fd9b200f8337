"""Zero-shot MIRO against a second label-free DBSCAN: the package's own CSR rule.

Issue 13 compares zero-shot MIRO with DBSCAN whose parameters are chosen without labels by
"a documented standard rule, e.g. the k-distance knee". ``zero_shot.py`` uses the knee
(``min_samples = 5``), which on these FOVs finds few of the true clusters (JI_c 0.01-0.32)
while scoring a high ARI†. The package's own recommendation for a label-free eps is
another rule, :func:`sklearn_miro.parameters.suggest_eps` with ``method="csr"`` (the radius
at which a localisation of a uniform scatter of the FOV's density has ``min_samples - 1``
neighbours with probability 0.05), because the knee fails on data with background. This
script scores DBSCAN with that rule, per test FOV, for ``min_samples`` 5 (scikit-learn's
default) and the scores recorded by ``zero_shot.py`` for the same FOVs, and says in how many
scenarios zero-shot MIRO is better on both metrics.

    OMP_NUM_THREADS=1 python benchmarks/zero_shot_csr_baseline.py \
        --recorded results/zero_shot_long_all_per_fov.csv --stem zero_shot_csr_all

Reads the recorded per-FOV CSV (its FOVs and its zero-shot, knee and hand-tuned columns),
writes ``results/<stem>.md`` and ``results/<stem>_per_fov.csv``. Needs ../shared.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd
from sklearn.cluster import DBSCAN

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's package
sys.path.insert(1, str(Path(__file__).resolve().parent))

from zero_shot import ALL, DATA, RESULTS, scores, short  # noqa: E402

from sklearn_miro.io import load_benchmark  # noqa: E402
from sklearn_miro.parameters import suggest_eps  # noqa: E402


def csr_rows(recorded, min_samples):
    rows = []
    for name in ALL:
        key = short(name)
        fovs = recorded.loc[recorded.scenario == key, "fov"].to_numpy()
        if fovs.size == 0:
            continue
        bench = load_benchmark(DATA / name)
        for f in fovs:
            sel = bench.groups == f
            X, y = bench.X[sel], bench.y[sel]
            eps = float(suggest_eps(X, min_samples=min_samples, method="csr").eps)
            ari, ji = scores(X, y, DBSCAN(eps=eps, min_samples=min_samples).fit_predict(X))
            rows.append(dict(scenario=key, fov=int(f), eps_csr=eps, ari_csr=ari, ji_csr=ji))
    return pd.DataFrame(rows)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recorded", type=Path, default=RESULTS / "zero_shot_long_all_per_fov.csv")
    parser.add_argument("--min-samples", type=int, default=5)
    parser.add_argument("--stem", default="zero_shot_csr_all")
    parser.add_argument("--output-dir", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    recorded = pd.read_csv(args.recorded)
    wall, cpu = time.perf_counter(), time.process_time()
    csr = csr_rows(recorded, args.min_samples)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    df = recorded.merge(csr, on=["scenario", "fov"], how="inner", validate="one_to_one")
    if len(df) != len(recorded):
        raise SystemExit(f"{len(recorded) - len(df)} recorded FOVs were not found in the benchmark.")
    columns = [("zero_shot", "zero-shot MIRO (recorded)"), ("csr", f"DBSCAN CSR rule, min_samples {args.min_samples}"),
               ("knee", "DBSCAN knee rule (recorded)"), ("hand", "DBSCAN hand-tuned (recorded)")]
    command = "OMP_NUM_THREADS=1 python benchmarks/zero_shot_csr_baseline.py " + " ".join(
        argv if argv is not None else sys.argv[1:])
    lines = ["# Zero-shot MIRO against DBSCAN with the CSR eps rule", "",
             f"Written by `{command}`; the zero-shot, knee and hand-tuned columns are read from "
             f"`{args.recorded.name}`. Mean over the test FOVs of each scenario, ARI† / JI_c "
             f"(the authors' definitions). DBSCAN with the CSR rule: {cpu:.1f} CPU-s ({wall:.1f} s "
             f"wall) for {len(df)} FOVs.", "",
             "| scenario | FOVs | " + " | ".join(label for _, label in columns) + " | median CSR eps (nm) | zero-shot > CSR rule (ARI†, JI_c) | mean of the two: zero-shot / CSR / knee |",
             "| --- | --- | " + " | ".join("---" for _ in columns) + " | --- | --- | --- |"]
    both = mean_wins = 0
    for scenario, part in df.groupby("scenario", sort=False):
        cells = [f"{part[f'ari_{k}'].mean():.3f} / {part[f'ji_{k}'].mean():.3f}" for k, _ in columns]
        wins = [part[f"{m}_zero_shot"].mean() > part[f"{m}_csr"].mean() for m in ("ari", "ji")]
        both += all(wins)
        means = {k: (part[f"ari_{k}"].mean() + part[f"ji_{k}"].mean()) / 2 for k in ("zero_shot", "csr", "knee")}
        mean_wins += means["zero_shot"] > max(means["csr"], means["knee"])
        lines.append(f"| {scenario} | {len(part)} | " + " | ".join(cells)
                     + f" | {part.eps_csr.median():.1f} | {'/'.join('yes' if w else 'no' for w in wins)} | "
                     + " / ".join(f"{means[k]:.3f}" for k in ("zero_shot", "csr", "knee")) + " |")
    lines += ["", f"Zero-shot MIRO better on both metrics than DBSCAN with the CSR rule in {both} of "
              f"{df.scenario.nunique()} scenarios; on the mean of ARI† and JI_c better than both "
              f"label-free rules in {mean_wins}.", ""]
    args.output_dir.mkdir(parents=True, exist_ok=True)
    (args.output_dir / f"{args.stem}.md").write_text("\n".join(lines))
    df.to_csv(args.output_dir / f"{args.stem}_per_fov.csv", index=False)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
