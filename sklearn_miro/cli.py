"""The ``sklearn-miro`` command line.

``sklearn-miro demo``
    Simulate a few labelled fields of view, train a small MIRO model on the
    CPU, cluster a new FOV with MIRO and with plain DBSCAN, print the scores
    and save a PNG of both clusterings.
``sklearn-miro train``
    Labelled localisation files (one FOV each) -> a fitted MIROClusterer saved
    with joblib.
``sklearn-miro cluster``
    A saved model + localisation files -> a copy of every file in its own
    format (CSV keeping every column, or Picasso HDF5 + YAML) with a cluster
    column, and a table of per-cluster statistics.
``sklearn-miro stats``
    Labelled localisation files -> per-cluster table, per-FOV summary and
    (optionally) histograms.

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

    from .analysis import cluster_table
    from .estimators import MIROClusterer
    from .io import read_localizations, write_labels_as_source

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
        X = df[["x", "y"]].to_numpy()
        labels = model.predict(X)
        if args.output:
            target = Path(args.output)
        else:
            folder = out_dir or Path(path).parent
            target = folder / f"{Path(path).stem}_clusters{Path(path).suffix or '.csv'}"
        # The labels go into a copy of the input in its own format (every
        # column kept); the per-cluster statistics into <name>_cluster_table.csv.
        write_labels_as_source(
            target, path, labels, label_name=args.label_name,
            description={"Model": str(model_path), "eps": model.eps_, "min_samples": model.min_samples_},
        )  # fmt: skip
        table_path = target.with_name(f"{target.stem}_table.csv")
        cluster_table(X, labels).to_csv(table_path, index=False)
        n_clusters = len(np.unique(labels[labels >= 0]))
        print(f"{path}: {len(df)} localisations, {n_clusters} clusters -> {target}, {table_path.name}")
    return 0


# ------------------------------------------------------------------ stats


def _stats(args):
    from .analysis import cluster_table, fov_summary
    from .io import read_localizations

    Xs, labels, fovs = [], [], []
    for path in args.files:
        df = read_localizations(path)
        renamed = {v: k for k, v in df.attrs.get("original_columns", {}).items()}
        column = renamed.get(args.label_column, args.label_column) if args.label_column else "label"
        if column not in df.columns:
            raise CommandError(
                f"{path}: no label column {args.label_column or 'label/cluster/index/group'!r} "
                f"(columns: {list(df.columns)}). Pass --label-column with the name of the "
                "column that holds the cluster ids."
            )
        values = _integer_column(df[column], path, column)
        Xs.append(df[["x", "y"]].to_numpy())
        labels.append(values)
        fov = Path(path).stem
        if args.fov_column:
            if args.fov_column not in df.columns:
                raise CommandError(f"{path}: no FOV column {args.fov_column!r} (columns: {list(df.columns)}).")
            fovs.append(np.array([f"{fov}:{v}" for v in df[args.fov_column].to_numpy()]))
        else:
            fovs.append(np.full(len(df), fov, dtype=object))
    X, y, groups = np.concatenate(Xs), np.concatenate(labels), np.concatenate(fovs)
    background = args.background
    if background == "auto":
        background = -1 if np.any(y == -1) else 0
        print(f"Treating label {background} as background (use --background to change).")
    else:
        try:
            background = int(background)
        except ValueError:
            raise CommandError(f"--background must be 'auto' or an integer; got {background!r}.") from None
    table = cluster_table(X, y, groups, background=background)
    summary = fov_summary(X, y, groups, area=args.area, table=table, background=background)
    first = Path(args.files[0])
    out_dir = Path(args.output_dir) if args.output_dir else first.parent
    out_dir.mkdir(parents=True, exist_ok=True)
    prefix = args.prefix or first.stem
    table_path = out_dir / f"{prefix}_cluster_table.csv"
    summary_path = out_dir / f"{prefix}_fov_summary.csv"
    table.to_csv(table_path, index=False)
    summary.to_csv(summary_path, index=False)
    print(
        f"{len(args.files)} file(s), {len(X)} localisations, {len(table)} clusters "
        f"({summary['fraction_clustered'].mul(summary['n_localizations']).sum() / len(X):.1%} "
        "of localisations clustered)"
    )
    columns = ["fov", "n_localizations", "n_clusters", "fraction_clustered", "area_um2",
               "cluster_density_per_um2", "median_radius_of_gyration", "median_nn_distance"]
    print(summary[columns].to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    print(f"Wrote {table_path} and {summary_path}")
    if args.histogram:
        try:
            from .plotting import plot_cluster_statistics
        except ImportError as exc:  # pragma: no cover - matplotlib is an extra
            raise CommandError(str(exc)) from exc
        fig = plot_cluster_statistics(table)
        fig.savefig(args.histogram, dpi=120)
        print(f"Saved the histograms to {args.histogram}")
    return 0


def _integer_column(values, path, column):
    """Integer labels from a column, or a CommandError naming the first bad row."""
    import pandas as pd

    numeric = pd.to_numeric(pd.Series(values), errors="coerce")
    bad = numeric.isna() | (numeric != numeric.round())
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise CommandError(
            f"{path}: label column {column!r} has the value {values.iloc[row]!r} at data row "
            f"{row + 1}; cluster ids must be integers."
        )
    return numeric.to_numpy().astype(np.int64)


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

    cluster = sub.add_parser("cluster", help="model + localisation files -> labelled copies + cluster tables")
    cluster.add_argument("model", help="model file written by 'sklearn-miro train'")
    cluster.add_argument("files", nargs="+", help="localisation files, one field of view each")
    cluster.add_argument("-o", "--output", default=None, help="output CSV (one input file only)")
    cluster.add_argument("--output-dir", default=None,
                         help="folder for <name>_clusters.<ext> and <name>_clusters_table.csv "
                              "(default: beside each input)")
    cluster.add_argument("--label-name", default=None,
                         help="name of the new label column (default: cluster; Picasso HDF5: group)")
    cluster.set_defaults(func=_cluster)

    stats = sub.add_parser("stats", help="labelled localisation files -> cluster table and FOV summary")
    stats.add_argument("files", nargs="+", help="labelled localisation files, one FOV each")
    stats.add_argument("--label-column", default=None,
                       help="column with the cluster ids (default: label/cluster/index/group)")
    stats.add_argument("--background", default="auto",
                       help="label of non-clustered localisations (default: -1 if present, else 0)")
    stats.add_argument("--fov-column", default=None,
                       help="column with FOV ids when a file holds several FOVs")
    stats.add_argument("--area", choices=("hull", "bbox"), default="hull",
                       help="FOV area: convex hull or bounding box of its localisations (default: hull)")
    stats.add_argument("--output-dir", default=None, help="default: beside the first file")
    stats.add_argument("--prefix", default=None,
                       help="output names <prefix>_cluster_table.csv, <prefix>_fov_summary.csv "
                            "(default: the first file's name)")
    stats.add_argument("--histogram", default=None, metavar="PNG",
                       help="also save histograms of radius, size and nearest-neighbour distance")
    stats.set_defaults(func=_stats)
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
