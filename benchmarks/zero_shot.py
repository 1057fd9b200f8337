"""The pretrained model on the benchmark: zero-shot, fine-tuned, and DBSCAN baselines.

For each of the 10 shared benchmark scenarios (ground truth and multiple blinking, scenarios
2, 4, 5, 6, 8 of Nieves et al. 2023) this script scores, on the same test FOVs
(as in ``paper_table.py``: the reference's 47 test FOVs, 44 for scenario 2; ``--n-test``
keeps the first N):

1. **zero-shot MIRO**: ``MIROTransformer.pretrained("nanoclusters")`` with
   ``MIROClusterer`` and no labels at all (cluster length scale estimated on every FOV, DBSCAN
   parameters from the model's label-free rule); and the same with the true cluster RMS radius
   of the FOV given as ``cluster_radius`` (what a user who knows the cluster size would pass);
2. **DBSCAN, label-free**: the k-distance knee rule (``kdistance_eps``, k = 4,
   ``min_samples = 5``) on every FOV;
3. **DBSCAN, hand-tuned**: the benchmark's own parameters (``DBSCAN_params`` of the metadata);
4. with ``--fine-tune``, **fine-tuned MIRO**: the pretrained network trained further on the
   reference's 3 training FOVs (``init="nanoclusters"``, settings in ``FINE_TUNE``), DBSCAN
   parameters chosen on those FOVs like ``paper_table.py``; its training time (wall and CPU)
   is reported.

It also measures the error of the label-free length scales against the truth of each FOV:
the mean localisation spacing used to scale the FOV, and the cluster radius
``MIROClusterer`` reports from the collapsed points (``cluster_radius_``) against the
true median RMS radius of the clusters.

Metrics: ARI-dagger and JI_c as the authors' code computes them (``variant="reference"``).

    OMP_NUM_THREADS=1 python benchmarks/zero_shot.py --n-test 10
    OMP_NUM_THREADS=1 python benchmarks/zero_shot.py --n-test 10 --fine-tune

Writes ``results/zero_shot.md``, ``results/zero_shot_per_fov.csv`` (and ``zero_shot.json``).
Needs ../shared.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.cluster import DBSCAN

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's package
sys.path.insert(1, str(Path(__file__).resolve().parent))

from paper_values import paper_row  # noqa: E402
from quality import EXPERIMENTS, apply_experiment  # noqa: E402

from sklearn_miro import MIROClusterer, MIROTransformer  # noqa: E402
from sklearn_miro.io import load_benchmark  # noqa: E402
from sklearn_miro.metrics import ari_dagger, jaccard_cluster_index  # noqa: E402
from sklearn_miro.pretrained import fov_spacing, kdistance_eps  # noqa: E402

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
DATA = SHARED / "data" / "nieves2023"
RESULTS = Path(__file__).resolve().parent / "results"
ALL = [f"{kind}/scenario_{n}" for kind in ("ground_truth", "blinking") for n in (2, 4, 5, 6, 8)]
SHORT = {"ground_truth": "GT", "blinking": "MB"}
FINE_TUNE = dict(n_augmented=400, max_epochs=3, batch_size=2, learning_rate=3e-4,
                 lr_schedule="cosine", validation_fraction=0.0)


def short(name):
    kind, scenario = name.split("/")
    return f"{SHORT[kind]}-S{scenario.rsplit('_', 1)[1]}"


def scores(X, y, labels):
    return (ari_dagger(y, labels, variant="reference"),
            jaccard_cluster_index(X, y, labels, variant="reference"))


def true_cluster_radius(X, y):
    """Median root-mean-square radius of the ground-truth clusters (>= 2 localisations)."""
    radii = []
    for k in np.unique(y[y >= 0]):
        pts = X[y == k]
        if len(pts) >= 2:
            radii.append(np.sqrt(((pts - pts.mean(axis=0)) ** 2).sum(axis=1).mean()))
    return float(np.median(radii)) if radii else np.nan


def run_scenario(name, n_test, fine_tune, seed, fine_tune_only=False, model="nanoclusters"):
    bench = load_benchmark(DATA / name)
    test_mask = bench.strict_test_mask if "strict_test_mask" in bench else bench.test_mask
    test_fovs = [f for f in bench.test_fov_numbers if np.any(test_mask & (bench.groups == f))]
    if n_test:
        test_fovs = test_fovs[:n_test]
    zero_shot = MIROClusterer(MIROTransformer.pretrained(model, verbose=0))
    fitted = None
    fit_wall = fit_cpu = None
    if fine_tune:
        train = bench.train_mask
        wall, cpu = time.perf_counter(), time.process_time()
        fitted = MIROClusterer(
            MIROTransformer(init=model, random_state=seed, verbose=0, **FINE_TUNE)
        ).fit(bench.X[train], bench.y[train], groups=bench.groups[train])
        fit_wall, fit_cpu = time.perf_counter() - wall, time.process_time() - cpu
    rows = []
    for f in test_fovs:
        sel = bench.groups == f
        X, y = bench.X[sel], bench.y[sel]
        row = dict(scenario=short(name), fov=int(f), n=len(X))
        if fine_tune_only:
            row["ari_fine_tuned"], row["ji_fine_tuned"] = scores(X, y, fitted.predict(X))
            rows.append(row)
            continue
        started = time.perf_counter()
        labels = zero_shot.fit_predict(X)
        row["zero_shot_s"] = time.perf_counter() - started
        row["ari_zero_shot"], row["ji_zero_shot"] = scores(X, y, labels)
        row["cluster_radius_estimate"] = zero_shot.cluster_radius_
        row["cluster_radius_true"] = true_cluster_radius(X, y)
        row["spacing"] = float(fov_spacing(X)[0])
        row["eps_zero_shot"] = float(zero_shot.eps_)
        # The same model given the true cluster radius (a length the user may know): separates
        # the model's quality from the error of the label-free length-scale estimate.
        given = MIROClusterer(MIROTransformer.pretrained(model, cluster_radius=row["cluster_radius_true"]))
        row["ari_radius_given"], row["ji_radius_given"] = scores(X, y, given.fit_predict(X))
        eps = kdistance_eps(X, 4)
        row["eps_knee"] = eps
        row["ari_knee"], row["ji_knee"] = scores(X, y, DBSCAN(eps=eps, min_samples=5).fit_predict(X))
        row["ari_hand"], row["ji_hand"] = scores(
            X, y, DBSCAN(**bench.metadata["DBSCAN_params"]).fit_predict(X)
        )
        if fitted is not None:
            row["ari_fine_tuned"], row["ji_fine_tuned"] = scores(X, y, fitted.predict(X))
        rows.append(row)
    extra = dict(dbscan_params=bench.metadata["DBSCAN_params"], n_test=len(test_fovs))
    if fitted is not None:
        extra.update(fine_tune_wall_s=fit_wall, fine_tune_cpu_s=fit_cpu,
                     fine_tune_network_s=fitted.transformer_.training_time_,
                     fine_tune_eps=fitted.eps_, fine_tune_min_samples=fitted.min_samples_)
    return pd.DataFrame(rows), extra


def _fmt(values):
    return f"{np.mean(values):.3f} ± {np.std(values):.3f}"


def write_table(df, extras, output_dir, settings):
    methods = [("zero_shot", "zero-shot MIRO"), ("radius_given", "zero-shot MIRO, true R given"),
               ("knee", "DBSCAN knee rule"), ("hand", "DBSCAN hand-tuned")]
    if "ari_fine_tuned" in df:
        methods.insert(1, ("fine_tuned", "fine-tuned MIRO"))
    lines = [
        "# Pretrained MIRO on the benchmark: zero-shot, fine-tuned, DBSCAN",
        "",
        f"Written by `{settings['command']}`. Mean ± std over the test FOVs of each scenario; "
        "ARI† and JI_c as the authors' code computes them. Zero-shot MIRO uses no label of the "
        "benchmark. The paper's MIRO row (trained per scenario on its 3 training FOVs, "
        "Tables S3/S4) is given for reference.",
        "",
    ]
    for metric, label in (("ari", "ARI†"), ("ji", "JI_c")):
        header = ["scenario", "FOVs"] + [m[1] for m in methods] + ["paper MIRO"]
        lines += [f"## {label}", "", "| " + " | ".join(header) + " |",
                  "| " + " | ".join("---" for _ in header) + " |"]
        for scenario, part in df.groupby("scenario", sort=False):
            paper = paper_row_for(scenario)
            cells = [scenario, str(len(part))]
            cells += [_fmt(part[f"{metric}_{key}"]) for key, _ in methods]
            cells.append(paper.get({"ari": "ari_dagger", "ji": "ji_c"}[metric], "n/a"))
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    # Who wins, per scenario, on the means.
    lines += ["## Targets", "", "| scenario | zero-shot > knee (ARI†, JI_c) | zero-shot > hand-tuned (ARI†, JI_c) |",
              "| --- | --- | --- |"]
    beats_knee = beats_hand = 0
    for scenario, part in df.groupby("scenario", sort=False):
        zk = [part[f"{m}_zero_shot"].mean() > part[f"{m}_knee"].mean() for m in ("ari", "ji")]
        zh = [part[f"{m}_zero_shot"].mean() > part[f"{m}_hand"].mean() for m in ("ari", "ji")]
        beats_knee += all(zk)
        beats_hand += all(zh)
        lines.append(f"| {scenario} | {'/'.join('yes' if v else 'no' for v in zk)} | "
                     f"{'/'.join('yes' if v else 'no' for v in zh)} |")
    lines += ["", f"Zero-shot better on both metrics than the knee rule in {beats_knee} of "
              f"{df.scenario.nunique()} scenarios (target: all), than the hand-tuned DBSCAN in "
              f"{beats_hand} (target: >= 8).", ""]
    # Length scales.
    rel_s = df.cluster_radius_estimate / df.cluster_radius_true - 1
    lines += ["## Label-free length scales", "",
              "| scenario | spacing s (nm) | true cluster RMS radius (nm) | estimated (nm) | relative error |",
              "| --- | --- | --- | --- | --- |"]
    for scenario, part in df.groupby("scenario", sort=False):
        rel = part.cluster_radius_estimate / part.cluster_radius_true - 1
        lines.append(f"| {scenario} | {part.spacing.mean():.1f} | {part.cluster_radius_true.mean():.1f} | "
                     f"{part.cluster_radius_estimate.mean():.1f} | {rel.mean():+.2f} ± {rel.std():.2f} |")
    lines += ["", f"Median absolute relative error of the cluster radius estimate over all FOVs: "
              f"{np.nanmedian(np.abs(rel_s)):.2f}.", ""]
    if "ari_fine_tuned" in df:
        lines += ["## Fine-tuning cost", "", "| scenario | wall (s) | CPU (s) | network training (s) | eps | min_samples |",
                  "| --- | --- | --- | --- | --- | --- |"]
        for scenario, extra in extras.items():
            lines.append(f"| {scenario} | {extra['fine_tune_wall_s']:.0f} | {extra['fine_tune_cpu_s']:.0f} | "
                         f"{extra['fine_tune_network_s']:.0f} | {extra['fine_tune_eps']:.1f} | "
                         f"{extra['fine_tune_min_samples']} |")
        lines.append("")
    lines += [f"Zero-shot inference: {df.zero_shot_s.mean():.2f} s per FOV on average (collapse + DBSCAN, "
              "one thread, shared CPU).", "",
              f"Settings: `{json.dumps(settings['settings'])}`; torch {torch.__version__}, "
              f"{platform.platform()}, {torch.get_num_threads()} torch thread(s).", ""]
    (output_dir / settings["stem"]).with_suffix(".md").write_text("\n".join(lines))


def write_fine_tune_table(df, extras, output_dir, settings):
    """Fine-tuned MIRO only, next to the paper's MIRO row."""
    lines = ["# Fine-tuned from the pretrained model on the 3 training FOVs", "",
             f"Written by `{settings['command']}`; settings `{json.dumps(FINE_TUNE)}`. Mean ± std over "
             "the test FOVs; times on the shared 2-core machine, one torch thread.", "",
             "| scenario | FOVs | ARI† | paper MIRO ARI† | JI_c | paper MIRO JI_c | fit wall (s) | fit CPU (s) | "
             "network training (s) |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for scenario, part in df.groupby("scenario", sort=False):
        paper, extra = paper_row_for(scenario), extras[scenario]
        lines.append(f"| {scenario} | {len(part)} | {_fmt(part.ari_fine_tuned)} | {paper.get('ari_dagger', 'n/a')} | "
                     f"{_fmt(part.ji_fine_tuned)} | {paper.get('ji_c', 'n/a')} | {extra['fine_tune_wall_s']:.0f} | "
                     f"{extra['fine_tune_cpu_s']:.0f} | {extra['fine_tune_network_s']:.0f} |")
    lines.append("")
    (output_dir / settings["stem"]).with_suffix(".md").write_text("\n".join(lines))


def paper_row_for(scenario):
    """The paper's MIRO row of a scenario ("GT-S6"), formatted; {} when not published."""
    row = paper_row(scenario.startswith("MB"), int(scenario.rsplit("S", 1)[1]), "MIRO") or {}
    return {k: f"{v[0]} ± {v[1]}" for k, v in row.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scenarios", nargs="*", default=ALL)
    parser.add_argument("--n-test", type=int, default=None, help="first N test FOVs per scenario")
    parser.add_argument("--fine-tune", action="store_true")
    parser.add_argument("--fine-tune-only", action="store_true",
                        help="only fine-tune and score the fine-tuned model (a short table)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output-dir", type=Path, default=RESULTS)
    parser.add_argument("--stem", default="zero_shot")
    parser.add_argument("--model", default="nanoclusters",
                        help="name of a pretrained model in sklearn_miro/pretrained/ (a candidate "
                             "installed there beside the shipped one, for comparison)")
    parser.add_argument("--experiment", choices=sorted(EXPERIMENTS), default=None,
                        help="patch in an experimental change, as quality.py --experiment")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    if args.experiment:
        apply_experiment(args.experiment)
    args.output_dir.mkdir(parents=True, exist_ok=True)
    frames, extras = [], {}
    command = "OMP_NUM_THREADS=1 python benchmarks/zero_shot.py " + " ".join(sys.argv[1:] if argv is None else argv)
    settings = dict(command=command.strip(), stem=args.stem,
                    settings=dict(n_test=args.n_test,
                                  fine_tune=FINE_TUNE if (args.fine_tune or args.fine_tune_only) else None,
                                  seed=args.seed, model=args.model, experiment=args.experiment))
    for name in args.scenarios:
        started = time.perf_counter()
        df, extra = run_scenario(name, args.n_test, args.fine_tune or args.fine_tune_only, args.seed,
                                 args.fine_tune_only, args.model)
        frames.append(df)
        extras[short(name)] = extra
        print(f"{short(name)}: {time.perf_counter() - started:.0f} s\n"
              f"{df.drop(columns=['fov']).mean(numeric_only=True).round(3).to_string()}", flush=True)
        all_rows = pd.concat(frames, ignore_index=True)
        all_rows.to_csv(args.output_dir / f"{args.stem}_per_fov.csv", index=False)
        if args.fine_tune_only:
            write_fine_tune_table(all_rows, extras, args.output_dir, settings)
        else:
            write_table(all_rows, extras, args.output_dir, settings)
        (args.output_dir / f"{args.stem}.json").write_text(json.dumps(extras, indent=1, default=float) + "\n")


if __name__ == "__main__":
    main()
