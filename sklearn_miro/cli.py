"""The ``sklearn-miro`` command line.

``sklearn-miro demo``
    Simulate a few labelled fields of view, train a small MIRO model on the
    CPU, cluster a new FOV with MIRO and with plain DBSCAN, print the scores
    and save a PNG of both clusterings.
``sklearn-miro train``
    Labelled localisation files (one FOV each) -> a fitted MIROClusterer saved
    with joblib.
``sklearn-miro cluster``
    A saved model + localisation files -> CSV files with a cluster column;
    ``--pretrained nanoclusters`` uses the model shipped with the package
    instead (no labels, no training).

Run ``sklearn-miro <command> --help`` for the options.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

__all__ = ["main"]

# A model small enough to train in about a minute on a laptop CPU. One graph
# per optimisation step: with so few steps (3,000), small batches are what
# gets the network past the "move nothing" solution (measured on the demo's
# FOVs: batch 8 x 400 graphs x 6 epochs stays there, ARI-dagger 0.674 like
# DBSCAN; batch 1 x 600 x 5 reaches 0.716, JI_c 0.90 vs 0.85, in the same time).
DEMO_MODEL = dict(
    hidden_size=32,
    n_steps=10,
    n_augmented=600,
    max_epochs=5,
    batch_size=1,
    learning_rate=1e-3,
)


class CommandError(Exception):
    """An error to report to the user in one line, without a traceback."""


# ------------------------------------------------------------------- demo


def _demo(args):
    from sklearn.cluster import DBSCAN

    from .datasets import make_benchmark_scenario
    from .estimators import MIROClusterer, MIROTransformer, tune_dbscan
    from .clustering import EPS_FRACTIONS, MIN_SAMPLES_GRID
    from .metrics import clustering_report

    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    n_train = 3
    print(
        f"Simulating {n_train + 1} fields of view like scenario {args.scenario} of the SMLM "
        "clustering benchmark (2000 x 2000 nm, Nieves et al. 2023) ..."
    )
    X, y, fov = make_benchmark_scenario(args.scenario, n_fovs=n_train + 1, random_state=args.seed)
    train, test = fov < n_train, fov == n_train

    params = dict(DEMO_MODEL, random_state=args.seed, device=args.device, verbose=1)
    if args.max_epochs is not None:
        params["max_epochs"] = args.max_epochs
    if args.n_augmented is not None:
        params["n_augmented"] = args.n_augmented
    print(f"Training MIRO on the {n_train} labelled FOVs ({int(train.sum())} localisations) ...")
    clusterer = MIROClusterer(MIROTransformer(**params)).fit(X[train], y[train], groups=fov[train])
    miro = clusterer.transformer_
    print(
        f"  trained in {miro.training_time_:.0f} s on {miro.device_}; DBSCAN on the collapsed "
        f"points: eps = {clusterer.eps_:.1f} nm, min_samples = {clusterer.min_samples_} "
        "(chosen on the training FOVs)"
    )

    # Plain DBSCAN gets the same treatment: parameters chosen on the training FOVs.
    train_fovs = [(X[fov == k], X[fov == k], y[fov == k]) for k in range(n_train)]
    (eps, min_samples, _), _ = tune_dbscan(
        train_fovs, EPS_FRACTIONS * miro.connectivity_radius_, MIN_SAMPLES_GRID[:12]
    )
    X_test, y_test = X[test], y[test]
    labels_dbscan = DBSCAN(eps=eps, min_samples=min_samples).fit_predict(X_test)
    labels_miro = clusterer.predict(X_test)
    X_collapsed = miro.transform(X_test)

    rows = {
        f"DBSCAN (eps={eps:.0f}, min_samples={min_samples})": clustering_report(
            X_test, y_test, labels_dbscan
        ),
        "MIRO + DBSCAN": clustering_report(X_test, y_test, labels_miro, X_collapsed=X_collapsed),
    }
    columns = ["ari_dagger", "iou", "ji_c", "rmsre_n", "ami", "ari_c", "ari"]
    header = ["ARI-dagger", "IoU", "JI_c", "RMSRE_N", "AMI", "ARI_c", "ARI"]
    print(f"\nScores on a new FOV ({len(X_test)} localisations, {len(set(y_test[y_test >= 0]))} clusters):")
    width = max(len(k) for k in rows)
    print(" " * width + "  " + "  ".join(f"{h:>10}" for h in header))
    for name, report in rows.items():
        values = report.iloc[0]
        print(f"{name:<{width}}  " + "  ".join(f"{values[c]:>10.3f}" for c in columns))
    print("(higher is better except RMSRE_N)")

    png = out / "sklearn_miro_demo.png"
    try:
        from .plotting import plot_clusters

        fig = plot_clusters(
            X_test,
            {"DBSCAN": labels_dbscan, "MIRO + DBSCAN": labels_miro, "ground truth": y_test},
        )
        fig.savefig(png, dpi=120, bbox_inches="tight")
        print(f"\nSaved the three clusterings to {png}")
    except ImportError as exc:
        print(f"\nNo figure: {exc}")
    print(f"Done in {time.perf_counter() - started:.0f} s.")
    return 0


# ------------------------------------------------------------------ train


def _read_labelled(paths, label_column, background):
    from .io import read_localizations

    Xs, ys, groups = [], [], []
    for k, path in enumerate(paths):
        df = read_localizations(path)
        column = label_column or "label"
        # read_localizations renames label-like columns ("index", "cluster") to
        # "label": accept the name the user sees in the file too.
        renamed = {v: k for k, v in df.attrs.get("original_columns", {}).items()}
        column = renamed.get(column, column)
        if column not in df.columns:
            raise CommandError(
                f"{path}: no label column {column!r} (columns: {list(df.columns)}). Pass "
                "--label-column with the name of the column that holds the cluster ids."
            )
        Xs.append(df[["x", "y"]].to_numpy())
        ys.append(df[column].to_numpy())
        groups.append(np.full(len(df), k))
    labels = np.concatenate(ys)
    if background == "auto":
        background = -1 if np.any(labels == -1) else 0
        print(f"Treating label {background} as background (use --background to change).")
    else:
        background = int(background)
    labels = np.where(labels == background, -1, labels)
    # Cluster ids restart in every file: make them unique across files.
    labels = np.where(labels >= 0, labels + np.concatenate(groups) * (labels.max() + 1), -1)
    return np.concatenate(Xs), labels, np.concatenate(groups)


def _train(args):
    import joblib

    from .estimators import MIROClusterer, MIROTransformer

    X, y, groups = _read_labelled(args.files, args.label_column, args.background)
    params = dict(
        random_state=args.seed,
        device=args.device,
        verbose=0 if args.quiet else 1,
    )
    for name in ("hidden_size", "n_steps", "max_epochs", "n_augmented", "learning_rate"):
        value = getattr(args, name)
        if value is not None:
            params[name] = value
    if args.radius is not None:
        params["connectivity_radius"] = args.radius
    clusterer = MIROClusterer(
        MIROTransformer(**params),
        eps="auto" if args.eps is None else args.eps,
        min_samples="auto" if args.min_samples is None else args.min_samples,
    )
    print(f"Training on {len(args.files)} FOV(s), {len(X)} localisations, {int((np.unique(y) >= 0).sum())} clusters ...")
    clusterer.fit(X, y, groups=groups)
    joblib.dump(clusterer, args.output)
    miro = clusterer.transformer_
    print(
        f"Saved {args.output} (trained in {miro.training_time_:.0f} s; connectivity radius "
        f"{miro.connectivity_radius_:.1f}, DBSCAN eps {clusterer.eps_:.2f}, min_samples "
        f"{clusterer.min_samples_})."
    )
    return 0


# ---------------------------------------------------------------- cluster


def _cluster(args):
    import joblib

    from .estimators import MIROClusterer
    from .io import read_localizations, write_labels

    if args.pretrained is not None:
        from .estimators import MIROTransformer

        if args.model is not None:
            # With --pretrained every positional argument is an input file.
            args.files = [args.model, *args.files]
        if not args.files:
            raise CommandError("no localisation file given.")
        transformer = MIROTransformer.pretrained(
            args.pretrained, cluster_radius=args.cluster_radius, device=args.device
        )
        model = MIROClusterer(transformer)
    else:
        if args.cluster_radius is not None:
            raise CommandError("--cluster-radius applies to --pretrained models only.")
        if args.model is None or not args.files:
            raise CommandError(
                "give a model file written by 'sklearn-miro train' and at least one "
                "localisation file, or --pretrained NAME and the files."
            )
        model_path = Path(args.model)
        if not model_path.is_file():
            raise CommandError(f"Model file not found: {model_path}")
        try:
            model = joblib.load(model_path)
        except Exception as exc:
            raise CommandError(f"Could not load a model from {model_path}: {exc}") from exc
        if not hasattr(model, "predict") or not isinstance(model, MIROClusterer):
            raise CommandError(
                f"{model_path} holds a {type(model).__name__}, not a MIROClusterer saved by "
                "'sklearn-miro train'."
            )
    if args.output and len(args.files) > 1:
        raise CommandError("--output names one file; use --output-dir with several inputs.")
    out_dir = Path(args.output_dir) if args.output_dir else None
    if out_dir:
        out_dir.mkdir(parents=True, exist_ok=True)
    for path in args.files:
        df = read_localizations(path)
        if args.pretrained is not None:
            labels = model.fit_predict(df[["x", "y"]].to_numpy())
            scale = f" (cluster radius {model.cluster_radius_:.1f}, eps {model.eps_:.1f})"
        else:
            labels = model.predict(df[["x", "y"]].to_numpy())
            scale = ""
        extra = df.drop(columns=["x", "y"])
        if args.output:
            target = Path(args.output)
        else:
            folder = out_dir or Path(path).parent
            target = folder / f"{Path(path).stem}_clusters.csv"
        write_labels(target, df[["x", "y"]], labels, extra_columns=extra if len(extra.columns) else None)
        n_clusters = len(np.unique(labels[labels >= 0]))
        print(f"{path}: {len(df)} localisations, {n_clusters} clusters{scale} -> {target}")
    return 0


# ------------------------------------------------------------------ parser


def _parser():
    parser = argparse.ArgumentParser(
        prog="sklearn-miro",
        description="MIRO clustering of single-molecule localisation microscopy data.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="train on simulated FOVs and compare MIRO with DBSCAN")
    demo.add_argument("--output-dir", default=".", help="where to save the PNG (default: .)")
    demo.add_argument("--scenario", type=int, default=6, choices=range(2, 11), metavar="2-10",
                      help="benchmark scenario to simulate (default: 6, elliptical clusters)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    demo.add_argument("--device", default="cpu", help="auto, cpu or cuda (default: cpu)")
    demo.add_argument("--max-epochs", type=int, default=None, help="override the training length")
    demo.add_argument("--n-augmented", type=int, default=None,
                      help="override the number of synthetic training FOVs")
    demo.set_defaults(func=_demo)

    train = sub.add_parser("train", help="labelled localisation files -> model file")
    train.add_argument("files", nargs="+", help="labelled CSV/TSV files, one field of view each")
    train.add_argument("-o", "--output", default="miro_model.joblib",
                       help="model file to write (default: miro_model.joblib)")
    train.add_argument("--label-column", default=None,
                       help="column with the cluster ids (default: index/label/cluster)")
    train.add_argument("--background", default="auto",
                       help="label of non-clustered localisations (default: -1 if present, else 0)")
    train.add_argument("--radius", type=float, default=None, help="connectivity radius in nm")
    train.add_argument("--hidden-size", dest="hidden_size", type=int, default=None)
    train.add_argument("--n-steps", dest="n_steps", type=int, default=None)
    train.add_argument("--max-epochs", dest="max_epochs", type=int, default=None)
    train.add_argument("--n-augmented", dest="n_augmented", type=int, default=None)
    train.add_argument("--learning-rate", dest="learning_rate", type=float, default=None)
    train.add_argument("--eps", type=float, default=None, help="DBSCAN eps (default: chosen on the files)")
    train.add_argument("--min-samples", dest="min_samples", type=int, default=None)
    train.add_argument("--device", default="auto", help="auto, cpu or cuda (default: auto)")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    train.set_defaults(func=_train)

    cluster = sub.add_parser("cluster", help="model + localisation files -> labelled CSV files")
    cluster.add_argument("model", nargs="?", default=None,
                         help="model file written by 'sklearn-miro train' (omit with --pretrained)")
    cluster.add_argument("files", nargs="*", help="localisation files, one field of view each")
    cluster.add_argument("--pretrained", default=None, metavar="NAME",
                         help="use a pretrained model shipped with the package instead of a model "
                              "file (e.g. nanoclusters); no labels, no training")
    cluster.add_argument("--cluster-radius", dest="cluster_radius", type=float, default=None,
                         help="with --pretrained: typical RMS radius of a cluster in nm "
                              "(default: estimated on every file)")
    cluster.add_argument("--device", default="auto", help="auto, cpu or cuda (default: auto)")
    cluster.add_argument("-o", "--output", default=None, help="output CSV (one input file only)")
    cluster.add_argument("--output-dir", default=None,
                         help="folder for <name>_clusters.csv (default: beside each input)")
    cluster.set_defaults(func=_cluster)
    return parser


def main(argv=None):
    """Entry point of the ``sklearn-miro`` command."""
    args = _parser().parse_args(argv)
    try:
        return args.func(args)
    except (CommandError, ValueError, FileNotFoundError, ImportError) as exc:
        print(f"sklearn-miro {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
