"""Multiscale clustering of NPC-like structures and shape classification, on simulated FOVs.

Four tasks, each trained on simulated training FOVs and scored on held-out
simulated FOVs (a different seed), like the paper's Figs. 5a-b and 3:

``npc``
    :func:`~sklearn_miro.datasets.make_npc` (the paper's NPC recipe: 8 corners
    per pore, 1250 nm FOVs). A :class:`~sklearn_miro.MultiscaleMIROClusterer`
    learns corners (steps 0..k*-1) and whole pores (steps k*..K-1); DBSCAN
    parameters of each scale are chosen on the training FOVs. Plain DBSCAN
    with parameters chosen by the same grid search on the same training FOVs
    is the baseline. Scores per scale: ARI-dagger, JI_c, RMSRE_N (and the
    other metrics of the paper).
``spots_ellipses``, ``spots_rings``, ``cshapes_rings``
    :func:`~sklearn_miro.datasets.make_multishape` mixtures. A
    :class:`~sklearn_miro.MIROShapeClassifier` is trained with its defaults
    (``--recipe hand``: beta from the paper's Table S7 and hand-set lengths); scores: per-localisation macro F1 of the classes, raw
    (argmax per localisation) and after taking the mode per DBSCAN cluster;
    the confusion matrix; clustering metrics of the DBSCAN clusters vs the
    ground truth, and of plain DBSCAN (same grid search on the training FOVs).

Writes to ``--output-dir`` (default ``benchmarks/results``):
``multiscale_and_shapes.md`` (tables, settings, training times, machine
load), ``multiscale_and_shapes_per_fov.csv``, one figure per task
(``multiscale_npc.png``, ``shapes_<task>.png``) and the fitted models
(``model_<task>.joblib``).

    python benchmarks/multiscale_and_shapes.py                       # all four tasks
    python benchmarks/multiscale_and_shapes.py --tasks npc --n-test 10
    python benchmarks/multiscale_and_shapes.py --quick   # smoke test, into results/quick/

Training is the slow part: on a 2-core CPU each task takes from about ten
minutes to an hour depending on the load (the times are in the report). Run
it with ``OMP_NUM_THREADS=1 nice`` on a shared machine. Works without
``../shared``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import torch
from sklearn.metrics import confusion_matrix, f1_score

from sklearn_miro import MIROShapeClassifier, MultiscaleMIROClusterer
from sklearn_miro.datasets import make_multishape, make_npc
from sklearn_miro.estimators import MultiscaleMIROTransformer
from sklearn_miro.clustering import choose_dbscan_parameters, dbscan_per_fov
from sklearn_miro.metrics import clustering_report

RESULTS = Path(__file__).resolve().parent / "results"

# Every task runs with the estimators' defaults (issue 11: no hand-set lengths;
# the connectivity radius, length unit, crop size, k* and the DBSCAN search are
# derived from the labelled training FOVs). ``--recipe hand`` reproduces the
# earlier hand-set recipes for comparison: hidden 64, K = 20, synthetic FOVs
# cropped to about a third of the FOV side, 1500 graphs, batch 8, Adam 1e-3
# with a cosine schedule, a connectivity radius of about 4 x the mean
# localisation spacing, k* / beta from the paper's Table S7.
HAND_COMMON = dict(
    hidden_size=64,
    n_steps=20,
    learning_rate=1e-3,
    lr_schedule="cosine",
    n_augmented=1500,
    batch_size=8,
    max_epochs=16,
    validation_fraction=0.1,
)
TASKS = {
    "npc": dict(
        title="NPC-like structures: corners and pores",
        hand=dict(k_star=10, connectivity_radius=100.0, augmentation={"fov_size": 450.0}),
    ),
    "spots_ellipses": dict(
        title="spots + ellipses",
        shapes=("spot", "ellipse"),
        hand=dict(beta=0.1, connectivity_radius=200.0, augmentation={"fov_size": 700.0}),
    ),
    "spots_rings": dict(
        title="spots + rings",
        shapes=("spot", "ring"),
        hand=dict(beta=0.05, connectivity_radius=600.0, length_scale=60.0,
                  augmentation={"fov_size": 2200.0}),
    ),
    "cshapes_rings": dict(
        title="C-shapes + rings",
        shapes=("c_shape", "ring"),
        hand=dict(beta=0.05, connectivity_radius=600.0, augmentation={"fov_size": 2200.0}),
    ),
}
SCALES = ("corners", "rings")
FIGURE_METRICS = ("ari_dagger", "iou", "ji_c", "rmsre_n")
TABLE_METRICS = ("ari_dagger", "iou", "ji_c", "rmsre_n", "rmse_xy", "ami", "ari_c", "ari")
TITLES = {"ari_dagger": "ARI†", "iou": "IoU", "ji_c": "JI_c", "rmsre_n": "RMSRE_N",
          "rmse_xy": "RMSE_xy", "ami": "AMI", "ari_c": "ARI_c", "ari": "ARI"}


def _load():
    return os.getloadavg()[0]


def _fmt(values):
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return "—"
    return f"{values.mean():.3f} ± {values.std():.3f}"


def _fovs(groups, n):
    from sklearn_miro._validation import split_by_group

    return [idx for _, idx in split_by_group(groups, n)]


def tuned_dbscan(X_train, labels_train, groups_train, radius):
    """Plain DBSCAN parameters from the grid search MIRO's clusterers use, on raw coordinates."""
    idx = _fovs(groups_train, len(X_train))
    eps, ms, _, _, _ = choose_dbscan_parameters(
        [X_train[i] for i in idx], [X_train[i] for i in idx], [labels_train[i] for i in idx],
        radius, "auto", "auto",
    )  # fmt: skip
    return eps, ms


def fit_or_reuse(estimator, path, reuse, fit):
    """``fit(estimator)``, or the model saved at ``path`` when ``reuse`` and its
    parameters (but ``verbose``) are exactly ``estimator``'s. Returns (model, seconds or nan)."""
    if reuse and path.is_file():
        saved = joblib.load(path)
        ours = {k: v for k, v in estimator.get_params().items() if k != "verbose"}
        theirs = {k: v for k, v in saved.get_params().items() if k != "verbose"}
        if type(saved) is type(estimator) and ours == theirs:
            print(f"reusing {path}", flush=True)
            return saved, float("nan")
        print(f"not reusing {path}: its parameters differ", flush=True)
    started = time.perf_counter()
    model = fit(estimator)
    return model, time.perf_counter() - started


def plain_dbscan(X, groups, eps, min_samples):
    idx = _fovs(groups, len(X))
    return dbscan_per_fov(idx, [X[i] for i in idx], eps, min_samples, len(X))


# ------------------------------------------------------------------ NPC


def run_npc(args, params):
    X, Y, fov = make_npc(n_fovs=args.n_train, random_state=args.seed)
    Xt, Yt, ft = make_npc(n_fovs=args.n_test, random_state=args.seed + 1000)
    load_before = _load()
    model, fit_seconds = fit_or_reuse(
        MultiscaleMIROClusterer(MultiscaleMIROTransformer(
            scale_names=SCALES, random_state=args.seed, verbose=args.verbose, **params)),
        args.output_dir / "model_npc.joblib", args.reuse, lambda est: est.fit(X, Y, groups=fov),
    )  # fmt: skip
    load_after = _load()
    transformer = model.transformer_
    started = time.perf_counter()
    labels_miro = model.predict(Xt, groups=ft)
    predict_seconds = time.perf_counter() - started
    rows, summary = [], {}
    dbscan_params = []
    for s, scale in enumerate(SCALES):
        eps, ms = tuned_dbscan(X, Y[:, s], fov, transformer.connectivity_radius_)
        dbscan_params.append((eps, ms))
        labels_db = plain_dbscan(Xt, ft, eps, ms)
        for method, labels in (("MIRO", labels_miro[:, s]), ("DBSCAN", labels_db)):
            report = clustering_report(Xt, Yt[:, s], labels, groups=ft, variant=args.variant)
            report = report.assign(task="npc", scale=scale, method=method)
            rows.append(report)
            summary[(scale, method)] = report
    nesting = model.nesting_report(labels_miro)
    truth_nesting = pd.Series(Yt[:, 1]).groupby(Yt[:, 0]).first()
    info = dict(
        task="npc",
        title=TASKS["npc"]["title"],
        n_train_fovs=args.n_train,
        n_test_fovs=args.n_test,
        n_train_localizations=len(X),
        params={**params, "random_state": args.seed},
        fit_seconds=fit_seconds,
        training_seconds=transformer.training_time_,
        predict_seconds=predict_seconds,
        load=(load_before, load_after),
        connectivity_radius=transformer.connectivity_radius_,
        length_scale=transformer.length_scale_,
        k_star=transformer.k_star_,
        miro_dbscan=list(zip(model.eps_, model.min_samples_)),
        plain_dbscan=dbscan_params,
        best_epoch=transformer.best_epoch_,
        validation_loss=transformer.validation_loss_curve_,
        nesting_fraction=float(nesting["fraction"].mean()) if len(nesting) else float("nan"),
        n_true_corners_per_pore=float(truth_nesting.value_counts().mean()),
    )
    figure_npc(Xt, Yt, ft, labels_miro, plain_dbscan_labels(Xt, ft, dbscan_params), summary,
               args.output_dir / "multiscale_npc.png", info)
    joblib.dump(model, args.output_dir / "model_npc.joblib")
    return pd.concat(rows), info, summary


def plain_dbscan_labels(Xt, ft, dbscan_params):
    return np.column_stack([plain_dbscan(Xt, ft, e, m) for e, m in dbscan_params])


def _boxes(ax, values_by_method, title):
    names = list(values_by_method)
    data = [np.asarray(v, dtype=float)[np.isfinite(v)] for v in values_by_method.values()]
    ax.boxplot(data, widths=0.55, medianprops=dict(color="black"), showfliers=False)
    rng = np.random.default_rng(0)
    for k, v in enumerate(data):
        ax.scatter(k + 1 + rng.uniform(-0.15, 0.15, v.size), v, s=8, alpha=0.7, zorder=3)
    ax.set_xticks(range(1, len(names) + 1), names, fontsize=8)
    ax.set_title(title, fontsize=9)


def figure_npc(Xt, Yt, ft, labels_miro, labels_db, summary, path, info):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sklearn_miro.plotting import plot_clusters

    fig = plt.figure(figsize=(16, 9.5), layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=[1.15, 1])
    axes = top.subplots(1, 4)
    first = ft == np.unique(ft)[0]
    X0 = Xt[first]
    plot_clusters(X0, Yt[first, 1], ax=axes[0], title="ground truth: pores", legend=False)
    plot_clusters(X0, labels_db[first, 1], ax=axes[1], title="DBSCAN: pores", legend=False)
    plot_clusters(X0, labels_miro[first, 1], ax=axes[2], title="MIRO: pores", legend=False)
    # Zoom on the pore with the most localisations: MIRO's corners.
    pores = Yt[first, 1]
    centre = X0[pores == np.bincount(pores[pores >= 0]).argmax()].mean(axis=0)
    window = np.all(np.abs(X0 - centre) < 110, axis=1)
    plot_clusters(X0[window], labels_miro[first, 0][window], ax=axes[3],
                  title="MIRO: corners (zoom)", legend=False, marker_size=14)
    top.suptitle(f"Multiscale MIRO on a held-out simulated FOV ({info['n_test_fovs']} test FOVs)")
    boxes = bottom.subplots(1, 8)
    for s, scale in enumerate(SCALES):
        for m, metric in enumerate(FIGURE_METRICS):
            ax = boxes[s * 4 + m]
            _boxes(ax, {meth: summary[(scale, meth)][metric].to_numpy() for meth in ("DBSCAN", "MIRO")},
                   f"{scale}: {TITLES[metric]}")
    fig.savefig(path, dpi=120)
    plt.close(fig)


# --------------------------------------------------------------- shapes


def run_shapes(task, args, params):
    shapes = TASKS[task]["shapes"]
    X, y, fov, cls = make_multishape(shapes, n_fovs=args.n_train, random_state=args.seed)
    Xt, yt, ft, clst = make_multishape(shapes, n_fovs=args.n_test, random_state=args.seed + 1000)
    load_before = _load()
    model, fit_seconds = fit_or_reuse(
        MIROShapeClassifier(random_state=args.seed, verbose=args.verbose, **params),
        args.output_dir / f"model_{task}.joblib", args.reuse,
        lambda est: est.fit(X, cls, clusters=y, groups=fov),
    )  # fmt: skip
    load_after = _load()
    started = time.perf_counter()
    pred = model.predict(Xt, groups=ft)
    labels, cluster_class = model.predict_clusters(Xt, groups=ft)
    predict_seconds = time.perf_counter() - started
    eps_db, ms_db = tuned_dbscan(X, y, fov, model.connectivity_radius_)
    labels_db = plain_dbscan(Xt, ft, eps_db, ms_db)
    rows, summary = [], {}
    for method, lab in (("MIRO", labels), ("DBSCAN", labels_db)):
        report = clustering_report(Xt, yt, lab, groups=ft, variant=args.variant)
        report = report.assign(task=task, scale="clusters", method=method)
        rows.append(report)
        summary[method] = report
    per_fov_f1 = [f1_score(clst[ft == g], cluster_class[ft == g], average="macro") for g in np.unique(ft)]
    info = dict(
        task=task,
        title=TASKS[task]["title"],
        n_train_fovs=args.n_train,
        n_test_fovs=args.n_test,
        n_train_localizations=len(X),
        params={**params, "random_state": args.seed},
        fit_seconds=fit_seconds,
        training_seconds=model.training_time_,
        predict_seconds=predict_seconds,
        load=(load_before, load_after),
        connectivity_radius=model.connectivity_radius_,
        length_scale=model.length_scale_,
        classes=[str(c) for c in model.classes_],
        miro_dbscan=(model.eps_, model.min_samples_),
        plain_dbscan=(eps_db, ms_db),
        f1_localizations=f1_score(clst, pred, average="macro"),
        f1_clusters=f1_score(clst, cluster_class, average="macro"),
        f1_per_class=dict(zip(map(str, model.classes_),
                              f1_score(clst, cluster_class, average=None, labels=model.classes_))),
        f1_per_fov=per_fov_f1,
        accuracy_localizations=float(np.mean(pred == clst)),
        confusion=confusion_matrix(clst, cluster_class, labels=model.classes_).tolist(),
        best_epoch=model.best_epoch_,
        validation_loss=model.validation_loss_curve_,
    )
    figure_shapes(Xt, yt, ft, clst, labels, cluster_class, model.classes_, summary, info,
                  args.output_dir / f"shapes_{task}.png")
    joblib.dump(model, args.output_dir / f"model_{task}.joblib")
    return pd.concat(rows), info, summary


def figure_shapes(Xt, yt, ft, clst, labels, cluster_class, classes, summary, info, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sklearn_miro.plotting import plot_clusters

    shape_classes = [c for c in classes if c != "background"]
    fig = plt.figure(figsize=(4.2 * (len(shape_classes) + 2), 9), layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=[1.2, 1])
    axes = top.subplots(2, len(shape_classes) + 1, squeeze=False)
    first = ft == np.unique(ft)[0]
    X0 = Xt[first]
    plot_clusters(X0, cluster_class[first], ax=axes[0, 0], title="MIRO: classes", legend=True)
    plot_clusters(X0, clst[first], ax=axes[1, 0], title="ground truth: classes", legend=True)
    for k, c in enumerate(shape_classes, start=1):
        mine = np.where(cluster_class[first] == c, labels[first], -1)
        truth = np.where(clst[first] == c, yt[first], -1)
        plot_clusters(X0, mine, ax=axes[0, k], title=f"MIRO: {c} clusters", legend=False)
        plot_clusters(X0, truth, ax=axes[1, k], title=f"ground truth: {c} clusters", legend=False)
    top.suptitle(f"{info['title']}: a held-out simulated FOV")
    ax_bottom = bottom.subplots(1, 1 + len(FIGURE_METRICS))
    cm = np.asarray(info["confusion"], dtype=float)
    cm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    ax = ax_bottom[0]
    ax.imshow(cm, cmap="Blues", vmin=0, vmax=1)
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            ax.text(j, i, f"{cm[i, j]:.2f}", ha="center", va="center",
                    color="white" if cm[i, j] > 0.6 else "black", fontsize=8)
    ax.set_xticks(range(len(classes)), classes, rotation=30, fontsize=8)
    ax.set_yticks(range(len(classes)), classes, fontsize=8)
    ax.set_xlabel("predicted (mode per cluster)")
    ax.set_ylabel("true")
    ax.set_title(f"F1 = {info['f1_clusters']:.3f}", fontsize=9)
    for ax, metric in zip(ax_bottom[1:], FIGURE_METRICS):
        _boxes(ax, {m: summary[m][metric].to_numpy() for m in ("DBSCAN", "MIRO")}, TITLES[metric])
    fig.savefig(path, dpi=120)
    plt.close(fig)


# --------------------------------------------------------------- report


def write_report(infos, summaries, args, path):
    lines = [
        "# Multiscale clustering and shape classification on simulated FOVs",
        "",
        f"`python benchmarks/multiscale_and_shapes.py {' '.join(args.argv)}`".replace(" `", "`"),
        "",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"torch {torch.__version__} ({torch.get_num_threads()} threads). Training FOVs: seed "
        f"{args.seed}; held-out test FOVs: seed {args.seed + 1000}. Metrics: `clustering_report`, "
        f"variant `{args.variant}`; mean ± std over the test FOVs. Plain DBSCAN: eps and "
        "min_samples chosen on the training FOVs by the same grid search as MIRO's "
        "(mean of ARI-dagger and JI_c; eps 1-100 % of the connectivity radius, min_samples up to "
        "the median cluster size).",
        "",
    ]
    for task, info in infos.items():
        lines += [f"## {info['title']} (`{task}`)", ""]
        load = ", ".join(f"{v:.2f}" for v in info["load"])
        lines += [
            f"- training: {info['n_train_fovs']} FOVs ({info['n_train_localizations']} localizations); "
            f"test: {info['n_test_fovs']} FOVs",
            f"- settings: `{json.dumps(info['params'])}` (other parameters: package defaults)",
            f"- connectivity radius {info['connectivity_radius']:.1f} nm, length scale "
            f"{info['length_scale']:.1f} nm; best epoch {info['best_epoch'] + 1}",
            ("- fit: reused a saved model; " if not np.isfinite(info["fit_seconds"]) else
             f"- fit: {info['fit_seconds']:.0f} s wall; ")
            + f"training graphs + optimisation "
            f"{info['training_seconds']:.0f} s (the rest is the DBSCAN grid search); inference + "
            f"clustering of the test FOVs: {info['predict_seconds']:.1f} s; 1-min load average "
            f"before/after fit: {load} (2 cores, shared)",
        ]
        if task == "npc":
            lines += [
                f"- k* = {info['k_star']}; MIRO DBSCAN (eps, min_samples) per scale: "
                + ", ".join(f"{s} ({e:.1f}, {m})" for s, (e, m) in zip(SCALES, info["miro_dbscan"]))
                + "; plain DBSCAN: "
                + ", ".join(f"{s} ({e:.1f}, {m})" for s, (e, m) in zip(SCALES, info["plain_dbscan"])),
                f"- nesting: a predicted corner shares its majority pore with "
                f"{100 * info['nesting_fraction']:.1f} % of its localizations on average",
                "",
                "| scale | method | " + " | ".join(TITLES[m] for m in TABLE_METRICS) + " |",
                "| --- | --- | " + " | ".join("---" for _ in TABLE_METRICS) + " |",
            ]
            for scale in SCALES:
                for method in ("MIRO", "DBSCAN"):
                    report = summaries[task][(scale, method)]
                    lines.append(f"| {scale} | {method} | "
                                 + " | ".join(_fmt(report[m]) for m in TABLE_METRICS) + " |")
        else:
            f1c = ", ".join(f"{k} {v:.3f}" for k, v in info["f1_per_class"].items())
            lines += [
                f"- MIRO DBSCAN: eps {info['miro_dbscan'][0]:.1f}, min_samples "
                f"{info['miro_dbscan'][1]}; plain DBSCAN: eps {info['plain_dbscan'][0]:.1f}, "
                f"min_samples {info['plain_dbscan'][1]}",
                f"- **per-localization macro F1: {info['f1_clusters']:.3f}** with the mode per "
                f"cluster (per FOV {_fmt(info['f1_per_fov'])}); {info['f1_localizations']:.3f} "
                f"from the raw per-localization argmax (accuracy {info['accuracy_localizations']:.3f}); "
                f"per class: {f1c}",
                f"- confusion matrix (rows true, columns predicted, {info['classes']}): "
                f"`{info['confusion']}`",
                "",
                "| method | " + " | ".join(TITLES[m] for m in TABLE_METRICS) + " |",
                "| --- | " + " | ".join("---" for _ in TABLE_METRICS) + " |",
            ]
            for method in ("MIRO", "DBSCAN"):
                report = summaries[task][method]
                lines.append(f"| {method} | " + " | ".join(_fmt(report[m]) for m in TABLE_METRICS) + " |")
        lines.append("")
    path.write_text("\n".join(lines))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", nargs="+", choices=list(TASKS), default=list(TASKS))
    parser.add_argument("--n-train", type=int, default=4, help="simulated training FOVs")
    parser.add_argument("--n-test", type=int, default=20, help="held-out simulated test FOVs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--variant", choices=("paper", "reference"), default="paper")
    parser.add_argument("--recipe", choices=("defaults", "hand"), default="defaults",
                        help="the estimators' defaults (default) or the earlier hand-set recipes")
    parser.add_argument("--params", type=json.loads, default={},
                        help="JSON overrides of the training parameters of every task")
    parser.add_argument("--quick", action="store_true",
                        help="smoke test: tiny training (the scores are meaningless)")
    parser.add_argument("--output-dir", type=Path, default=RESULTS)
    parser.add_argument("--verbose", type=int, default=1)
    parser.add_argument("--reuse", action="store_true",
                        help="load model_<task>.joblib from the output directory instead of "
                             "training when its parameters are exactly the requested ones")
    args = parser.parse_args(argv)
    args.argv = list(argv) if argv is not None else __import__("sys").argv[1:]
    if args.quick:
        args.n_test = min(args.n_test, 3)
        args.output_dir = args.output_dir / "quick"
    args.output_dir.mkdir(parents=True, exist_ok=True)
    frames, infos, summaries = [], {}, {}
    for task in args.tasks:
        recipe = {**HAND_COMMON, **TASKS[task]["hand"]} if args.recipe == "hand" else {}
        params = {**recipe, **args.params}
        if args.quick:
            params.update(hidden_size=16, n_augmented=40, max_epochs=2, n_steps=6)
            if task == "npc":
                params["k_star"] = 3
        print(f"== {task}: {json.dumps(params)}", flush=True)
        runner = run_npc if task == "npc" else (lambda a, p, t=task: run_shapes(t, a, p))
        frame, info, summary = runner(args, params)
        frames.append(frame)
        infos[task], summaries[task] = info, summary
        print(json.dumps({k: v for k, v in info.items() if k not in ("validation_loss",)}, default=str),
              flush=True)
        # Written after every task, so that a long run leaves its results as it goes.
        pd.concat(frames).to_csv(args.output_dir / "multiscale_and_shapes_per_fov.csv")
        write_report(infos, summaries, args, args.output_dir / "multiscale_and_shapes.md")
    print((args.output_dir / "multiscale_and_shapes.md").read_text())


if __name__ == "__main__":
    main()
