"""The ``sklearn-miro`` command line.

``sklearn-miro demo``
    Simulate a few labelled fields of view, train a small MIRO model on the
    CPU, cluster a new FOV with MIRO and with plain DBSCAN, print the scores
    and save a PNG of both clusterings.
``sklearn-miro train``
    Labelled localisation files (one FOV each) -> a fitted MIROClusterer saved
    in the safe ``.miro`` format (:func:`sklearn_miro.persistence.save_model`;
    a ``.joblib`` name writes a pickle instead, with a warning).
``sklearn-miro cluster``
    A saved model + localisation files -> a copy of every file in its own
    format (CSV keeping every column, or Picasso HDF5 + YAML) with a cluster
    column, and a table of per-cluster statistics; ``--pretrained
    nanoclusters-long`` uses a model shipped with the package instead (no
    labels, no training; ``nanoclusters-long`` is the better one zero-shot).
``sklearn-miro stats``
    Labelled localisation files -> per-cluster table, per-FOV summary and
    (optionally) histograms.

Run ``sklearn-miro <command> --help`` for the options. Every input and output
path is checked before any work, the inputs first (a bad file or column is
reported before an output that exists); errors are one line on stderr with
exit status 2 (``--debug`` shows the traceback). Warnings of the library are
shown with the command-line options to pass instead of Python's keywords
(:data:`_CLI_ADVICE`).
"""

from __future__ import annotations

import argparse
import re
import sys
import time
import warnings
from pathlib import Path

import numpy as np

__all__ = ["main"]

# The demo trains with the estimator's defaults: fine-tuning the shipped
# pretrained network (600 Adam steps, about a minute on a laptop CPU). Its
# earlier model, trained from random weights (hidden 32, 10 steps, 3,000
# one-graph steps), stayed at "move nothing" on scenario 9 (two cluster sizes).


class CommandError(Exception):
    """An error to report to the user in one line, without a traceback."""


def _border_rule(clusterer):
    """How a fitted MIROClusterer treats DBSCAN's border points, in words."""
    if clusterer.border_points_ == "background":
        return "border points left as background (DBSCAN*)"
    return "border points in their clusters (DBSCAN)"


def _trim_rule(clusterer):
    """Whether a fitted MIROClusterer trims its clusters, in words."""
    radius = clusterer.outlier_radius_
    if radius is None:
        return "clusters not trimmed"
    return f"localisations beyond {radius:g} Mahalanobis radii of their cluster left as background"


# ------------------------------------------------------------------- demo


def _demo(args):
    from sklearn.cluster import DBSCAN

    from .datasets import make_benchmark_scenario
    from .estimators import MIROClusterer, MIROTransformer, tune_dbscan
    from .clustering import EPS_FRACTIONS, MIN_SAMPLES_GRID
    from .metrics import clustering_report

    out = Path(args.output_dir)
    # Checked before the training: an earlier run's figure is kept unless --force.
    png = _output_file(out / "sklearn_miro_demo.png", args.force, "Figure")
    started = time.perf_counter()
    n_train = 3
    print(
        f"Simulating {n_train + 1} fields of view like scenario {args.scenario} of the SMLM "
        "clustering benchmark (2000 x 2000 nm, Nieves et al. 2023) ..."
    )
    X, y, fov = make_benchmark_scenario(args.scenario, n_fovs=n_train + 1, random_state=args.seed)
    train, test = fov < n_train, fov == n_train

    params = dict(random_state=args.seed, device=args.device, verbose=1)
    if args.max_epochs is not None:
        params["max_epochs"] = args.max_epochs
    if args.n_augmented is not None:
        params["n_augmented"] = args.n_augmented
    print(f"Training MIRO on the {n_train} labelled FOVs ({int(train.sum())} localisations) ...")
    clusterer = MIROClusterer(MIROTransformer(**params)).fit(X[train], y[train], groups=fov[train])
    miro = clusterer.transformer_
    print(
        f"  trained in {miro.training_time_:.0f} s on {miro.device_}; DBSCAN on the collapsed "
        f"points: eps = {clusterer.eps_:.1f} nm, min_samples = {clusterer.min_samples_}, "
        f"{clusterer.collapse_passes_} collapse pass(es), {_border_rule(clusterer)}, "
        f"{_trim_rule(clusterer)} (chosen on the training FOVs)"
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

# Defaults of the training options, shown by `train --help` (those of
# MIROTransformer).
TRAIN_DEFAULTS = dict(hidden_size="auto", n_steps="auto", max_epochs="auto", n_augmented="auto",
                      learning_rate="auto", init="auto", precision="auto",
                      compile="auto")
# `stats` prints at most this many FOVs of its summary (the first and last half).
STATS_FOVS_SHOWN = 20
JOBLIB_SUFFIXES = (".joblib", ".pkl", ".pickle")
TRUST_WARNING = (
    "joblib/pickle files can run arbitrary code when they are loaded: load only files "
    "you made yourself or got from someone you trust. The .miro format (the default of "
    "'sklearn-miro train') is safe to share."
)


def _auto_or(kind):
    """argparse type: 'auto' or a number of ``kind``."""

    def parse(value):
        if value == "auto":
            return value
        try:
            return kind(value)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected 'auto' or {'an integer' if kind is int else 'a number'}; got {value!r}"
            ) from None

    parse.__name__ = f"auto or {kind.__name__}"
    return parse


def _parse_background(value):
    if value == "auto":
        return value
    try:
        return int(str(value).strip())
    except ValueError:
        raise CommandError(
            f"--background must be 'auto' or an integer cluster id such as 0 or -1; got {value!r}."
        ) from None


def _integer_labels(values, path, column):
    """The label column as int64, or a CommandError naming the first bad value."""
    import pandas as pd

    series = pd.Series(values)
    numeric = pd.to_numeric(series, errors="coerce")
    bad = numeric.isna() | (numeric != numeric.round())
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        value = series.iloc[row]
        what = "a missing value" if pd.isna(value) else f"the value {value!r}"
        raise CommandError(
            f"{path}: label column {column!r} has {what} at data row {row + 1}; cluster ids "
            "must be integers (one of them, set with --background, marks the background)."
        )
    return numeric.to_numpy().astype(np.int64)


# The reader's keyword -> the command-line option that sets it, for its messages.
_READER_OPTIONS = {"pixel_size": "--pixel-size", "coordinate_unit": "--coordinate-unit",
                   "label_name": "--label-name"}


def _cli_message(exc):
    """An error of the Python API with its keyword names replaced by the CLI options."""
    message = str(exc)
    for keyword, option in _READER_OPTIONS.items():
        message = re.sub(rf"(?<![\w-]){keyword}(?!\w)", option, message)
    return message


def _read_table(path, args):
    """read_localizations with the units given on the command line."""
    from .io import read_localizations

    try:
        return read_localizations(path, pixel_size=getattr(args, "pixel_size", None),
                                  coordinate_unit=getattr(args, "coordinate_unit", None))
    except ValueError as exc:
        raise CommandError(_cli_message(exc)) from None


def _warn_if_z(df, path):
    """Say that a file's z coordinate column is ignored (the Python API's warning, as one line)."""
    from ._validation import z_column_message
    from .io import z_coordinate_column

    column = z_coordinate_column(df.columns)
    if column is not None:
        _warn(z_column_message(path, _original_name(df, column)))


def _auto_background_choice(labels, column_names):
    """``--background auto``'s label and what to say about it: -1 if present; none for
    Picasso's ``group`` columns (returned as -1, which is absent); else 0.

    Picasso's clustered files keep only the clustered localisations, numbered
    from group 0: reading 0 as background there would drop a real cluster.
    """
    if np.any(labels == -1):
        background = -1
    elif column_names and all(str(name).strip().lower() == "group" for name in column_names):
        return -1, ("Picasso's 'group' column: every localisation is in a cluster (Picasso's clustered "
                    "files keep no background; use --background to change).")
    else:
        background = 0
    return background, f"Treating label {background} as background (use --background to change)."


def _auto_background(labels, column_names):
    """:func:`_auto_background_choice`, said on stdout."""
    background, message = _auto_background_choice(labels, column_names)
    print(message)
    return background


# --background auto takes label 0 for background (files without -1); a label 0
# of at least this many localisations that is not spread like background
# (zero_background_evidence) is pointed out: it may be a cluster.
COMPACT_ZERO_MIN_LOCALIZATIONS = 8


def _note_compact_zero(paths, Xs, labels, groups):
    """Warn when ``--background auto`` took label 0 for background in files where it is as
    compact as their other clusters (:func:`~sklearn_miro._validation.zero_background_evidence`
    finds no sign of background). The decision is not changed: the benchmark's files number
    background 0, and a background of a few localisations close together can look compact.

    ``paths``, ``Xs``, ``labels``, ``groups``: one entry per file whose label 0 was taken
    for background (its coordinates, labels and FOV ids).
    """
    from ._validation import zero_background_evidence

    compact = [
        str(path) for path, X, y, g in zip(paths, Xs, labels, groups)
        if np.count_nonzero(y == 0) >= COMPACT_ZERO_MIN_LOCALIZATIONS and np.any(y > 0)
        and zero_background_evidence(X, y, g) is None
    ]
    if compact:
        named = ", ".join(compact[:3]) + (f" and {len(compact) - 3} more" if len(compact) > 3 else "")
        _warn(f"label 0 is taken for background, but in {named} it is as compact as the other clusters "
              "(not spread over the field of view like background): if it is a cluster, pass "
              "--background -1.")


def _read_labelled(paths, label_column, background, args=None):
    import pandas as pd

    background = _parse_background(background)
    Xs, ys, groups, names, n_fovs = [], [], [], [], 0
    for path in paths:
        df = _read_table(path, args)
        _warn_if_z(df, path)
        column = _canonical_name(df, label_column or "label")
        if column not in df.columns:
            raise CommandError(
                f"{path}: no label column {label_column or 'label/index/cluster'!r} (columns: "
                f"{_original_names(df)}). Pass --label-column with the name of the column that "
                "holds the cluster ids."
            )
        Xs.append(df[["x", "y"]].to_numpy())
        ys.append(_integer_labels(df[column].to_numpy(), path, _original_name(df, column)))
        names.append(_original_name(df, column))
        ids, _ = _fov_ids(df, path, getattr(args, "fov_column", None))
        # One integer per FOV (file, and FOV id within it), in order of
        # appearance, numbered file by file: not through one "file:id" string
        # per localisation of all files at once, which took several times the
        # memory of the coordinates. Ids are still compared as their text.
        if ids is None:
            codes = np.zeros(len(df), dtype=np.intp)
        else:
            codes = pd.factorize(np.array([f"{v}" for v in ids]))[0]
        groups.append(codes + n_fovs)
        n_fovs += int(codes.max()) + 1 if len(codes) else 0
        del df
    labels = np.concatenate(ys)
    if background == "auto":
        background = _auto_background(labels, names)
        if background == 0:
            _note_compact_zero(paths, Xs, ys, groups)
    groups = np.concatenate(groups)
    labels = np.where(labels == background, -1, labels)
    if not np.any(labels >= 0):
        raise CommandError(
            f"No cluster to train on: every label is the background label {background} "
            "(or negative). Check --background and --label-column."
        )
    # Cluster ids restart in every file: make them unique across files.
    labels = np.where(labels >= 0, labels + groups * (labels.max() + 1), -1)
    return np.concatenate(Xs), labels, groups


def _original_name(df, column):
    return df.attrs.get("original_columns", {}).get(column, column)


def _original_names(df):
    return [_original_name(df, c) for c in df.columns]


def _canonical_name(df, name):
    """The column of ``df`` for a name as the file spells it.

    read_localizations renames known columns (``index`` or ``cluster`` to
    ``label``); the user may give either name.
    """
    renamed = {original: canonical for canonical, original in df.attrs.get("original_columns", {}).items()}
    return renamed.get(name, name)


def _fov_ids(df, path, fov_column):
    """The FOV id of every row of ``df`` (None: the file is one FOV), and the column read.

    ``--fov-column`` names the column; without it, a column named ``fov``
    (what ``write_labels`` writes; :data:`~sklearn_miro._validation.FOV_COLUMN_NAMES`)
    is used when it holds more than one id, and said.
    """
    from ._validation import fov_column as find_fov_column

    if fov_column:
        return df[_named_fov_column(df, path, fov_column)].to_numpy(), fov_column
    column = find_fov_column(df)
    n_fovs = 0 if column is None else df[column].nunique()
    if n_fovs < 2:
        return None, None
    if df[column].isna().any():
        print(f"{path}: the column {column!r} has missing values, so it is not read as FOV ids "
              "and the file is one field of view (--fov-column to read it anyway).")
        return None, None
    print(f"{path}: {n_fovs} fields of view, from the column {column!r} "
          "(--fov-column to choose another); each is treated on its own.")
    return df[column].to_numpy(), str(column)


def _named_fov_column(df, path, fov_column):
    """The column of ``df`` that ``--fov-column`` names, or a CommandError."""
    column = _canonical_name(df, fov_column)
    if column not in df.columns:
        raise CommandError(f"{path}: no FOV column {fov_column!r} (columns: {_original_names(df)}).")
    return column


def _fov_names(paths):
    """The name of every file's FOV in the tables of ``cluster`` and ``stats``.

    The file name without its suffix, made unique with its folder where two
    files share a name (day1/cell.csv and day2/cell.csv are two FOVs), and
    with its suffix where two files of one folder differ only by it (cell.csv
    and cell.tsv). A file holding several FOVs names each ``name:id``
    (:func:`_fov_name`).
    """
    stems = [Path(p).stem for p in paths]
    names = [stem if stems.count(stem) == 1 else str(Path(p).with_suffix("")) for stem, p in zip(stems, paths)]
    return [name if names.count(name) == 1 else str(p) for name, p in zip(names, paths)]


def _fov_name(name, fov_id=None):
    """A FOV's name in the tables: the file's (:func:`_fov_names`), with the FOV id of a
    file holding several FOVs, as ``name:id``."""
    return name if fov_id is None else f"{name}:{fov_id}"


def _written_label_name(path):
    """The label column ``sklearn-miro cluster`` adds to ``path`` without --label-name."""
    return "group" if Path(path).suffix.lower() in (".h5", ".hdf5") else "cluster"


def _output_file(path, force, what):
    """Check an output path before any work: a file, not a directory, not clobbered."""
    from .io import check_output_path

    try:
        return check_output_path(path, overwrite=force, create_folder=True)
    except FileExistsError:
        raise CommandError(f"{what} {path} already exists; pass --force to overwrite it.") from None
    except OSError as exc:
        raise CommandError(str(exc)) from None


def _train(args):
    from .estimators import MIROClusterer, MIROTransformer, resolve_device

    params = dict(
        random_state=args.seed,
        device=args.device,
        verbose=0 if args.quiet else 1,
    )
    for name in ("hidden_size", "n_steps", "max_epochs", "n_augmented", "learning_rate", "precision"):
        params[name] = getattr(args, name)
    params["init"] = None if args.init == "none" else args.init
    params["compile"] = {"auto": "auto", "yes": True, "no": False}[args.compile]
    if args.radius is not None:
        params["connectivity_radius"] = args.radius
    clusterer = MIROClusterer(
        MIROTransformer(**params),
        eps="auto" if args.eps is None else args.eps,
        min_samples="auto" if args.min_samples is None else args.min_samples,
    )
    # Bad option values fail now, before any file is read or written.
    clusterer.transformer._validate_params()
    clusterer._validate_params()
    resolve_device(args.device)
    # The inputs before the output: a bad file or column is reported rather
    # than hidden behind a model file that exists.
    X, y, groups = _read_labelled(args.files, args.label_column, args.background, args)
    output = _output_file(args.output, args.force, "Model file")
    print(
        f"Training on {len(np.unique(groups))} FOV(s), {len(X)} localisations, "
        f"{int((np.unique(y) >= 0).sum())} clusters ..."
    )
    clusterer.fit(X, y, groups=groups)
    if output.suffix.lower() in JOBLIB_SUFFIXES:
        import joblib

        joblib.dump(clusterer, output)
        _warn(f"{output} is a joblib file. {TRUST_WARNING}")
    else:
        from .persistence import save_model

        save_model(clusterer, output)
    miro = clusterer.transformer_
    print(
        f"Saved {output} (trained {_start(miro)} in {miro.training_time_:.0f} s, {_depth(miro)}; "
        f"connectivity radius "
        f"{miro.connectivity_radius_:.1f}, DBSCAN eps {clusterer.eps_:.2f}, min_samples "
        f"{clusterer.min_samples_} after {clusterer.collapse_passes_} collapse pass(es), "
        f"{_border_rule(clusterer)}, {_trim_rule(clusterer)}; "
        "training clusters compressed to "
        f"{miro.training_compression_:.2f} of their size, loss "
        f"{miro.training_relative_loss_:.2f} x that of moving nothing{_retry_note(miro)})."
    )
    return 0


def _start(miro):
    """What the fit started from, with the width of a network trained from random weights."""
    if miro.started_from_ is None:
        return f"from random weights (hidden size {miro.hidden_size_})"
    if miro.started_from_ == "warm_start":
        return "on from the model's own network"
    return f"from the pretrained model {miro.started_from_!r}"


def _depth(miro):
    """The recurrent steps used, and why when the hollow-cluster rule chose them."""
    from .model import is_hollow

    fraction = getattr(miro, "central_fraction_", float("nan"))
    if is_hollow(fraction):
        return (f"{miro.n_steps_} recurrent steps: hollow clusters, {fraction:.0%} of their "
                "localisations near their centres")
    return f"{miro.n_steps_} recurrent steps"


def _retry_note(miro):
    """Whether the fit was trained again on thinned background, and what came of it."""
    retry = getattr(miro, "retry_relative_loss_", float("nan"))
    if np.isnan(retry):
        return ""
    kept = getattr(miro, "thinned_background_", None)
    if np.isinf(retry):
        return "; a second training on thinned background diverged and was not kept"
    if kept is not None:
        return f"; the first training moved nothing, this network was trained again on background thinned to {kept:.2f}"
    return (f"; a second training on thinned background did no better (loss {retry:.2f} x that "
            "of moving nothing) and was not kept")


# ---------------------------------------------------------------- cluster


def _load_model(path):
    """A MIROClusterer from a .miro file (safe) or a joblib file (with a trust warning)."""
    from .estimators import MIROClusterer
    from .persistence import is_model_file, load_model

    path = Path(path)
    if not path.exists():
        raise CommandError(f"Model file not found: {path}")
    if path.is_dir():
        raise CommandError(f"{path} is a directory, not a model file.")
    if is_model_file(path):
        model = load_model(path)
    else:
        with open(path, "rb") as handle:
            head = handle.read(2)
        pickled = head[:1] == b"\x80" or (
            len(head) == 2 and head[0] == 0x78 and (head[0] * 256 + head[1]) % 31 == 0
        )
        if not pickled:
            # load_model's message says what the file looks like (e.g. a CSV
            # given where the model belongs).
            try:
                load_model(path)
            except ValueError as exc:
                raise CommandError(f"{exc} Usage: sklearn-miro cluster MODEL FILE [FILE ...]") from None
        import joblib

        _warn(f"{path} is a joblib/pickle file. {TRUST_WARNING}")
        try:
            model = joblib.load(path)
        except Exception as exc:
            raise CommandError(f"Could not load a model from {path}: {exc}") from exc
    if not isinstance(model, MIROClusterer):
        raise CommandError(
            f"{path} holds a {type(model).__name__}, not a MIROClusterer saved by "
            "'sklearn-miro train'."
        )
    return model


def _cluster_model(args):
    """The clusterer of ``sklearn-miro cluster``: a shipped pretrained model or a saved one."""
    if args.pretrained is not None:
        from .estimators import MIROClusterer, MIROTransformer

        if args.model is not None:
            # With --pretrained every positional argument is an input file.
            args.files = [args.model, *args.files]
        if not args.files:
            raise CommandError("no localisation file given.")
        transformer = MIROTransformer.pretrained(
            args.pretrained, cluster_radius=args.cluster_radius, device=args.device,
            verbose=0 if args.quiet else 1,
        )
        return MIROClusterer(transformer)
    if args.cluster_radius is not None:
        raise CommandError("--cluster-radius applies to --pretrained models only.")
    if args.model is None or not args.files:
        raise CommandError(
            "give a model file written by 'sklearn-miro train' and at least one "
            "localisation file, or --pretrained NAME and the files."
        )
    model = _load_model(args.model)
    # The saved transformer keeps the device it was trained on ("cuda" after
    # 'train --device cuda'); clustering runs where --device says, so a model
    # trained on a GPU clusters on a laptop.
    from .clustering import inner_transformer

    inner_transformer(model.transformer_).set_params(device=args.device)
    return model


def _cluster(args):
    from .analysis import cluster_table
    from .io import ShadowedLabelsWarning, write_labels_as_source

    model = _cluster_model(args)
    if args.output and len(args.files) > 1:
        raise CommandError("--output names one file; use --output-dir with several inputs.")
    # Every input read and every output checked before any clustering, so that
    # a bad file or an output clash fails at once, not after hours spent on the
    # files before it; the inputs first, so that a bad input is reported
    # rather than hidden behind an output that exists. The tables are not
    # kept: users pass hundreds of FOV files, and holding them all made memory
    # grow with their sum. Each file is read again when its turn comes
    # (reading is a small fraction of clustering it).
    for path in args.files:
        df = _read_table(path, args)
        _warn_if_z(df, path)
        if args.pretrained is not None and len(df) < 2:
            # Zero-shot reads its length scales off the file itself.
            raise CommandError(
                f"{path} has {len(df)} localisation(s); zero-shot clustering needs at least 2."
            )
        if args.fov_column:
            _named_fov_column(df, path, args.fov_column)
        new_name = args.label_name or _written_label_name(path)
        clash = [c for c in _original_names(df) if str(c).casefold() == new_name.casefold()]
        del df
        if clash:
            raise CommandError(
                f"{path} already has a column named {clash[0]!r}; pass --label-name with another "
                "name for the new label column."
            )
    out_dir = Path(args.output_dir) if args.output_dir else None
    if out_dir is not None and out_dir.exists() and not out_dir.is_dir():
        raise CommandError(f"--output-dir {out_dir} is a file, not a folder.")
    targets, resolved_targets = [], set()
    inputs = {Path(p).resolve() for p in args.files}
    for path in args.files:
        if args.output:
            target = Path(args.output)
        else:
            folder = out_dir or Path(path).parent
            target = folder / f"{Path(path).stem}_clusters{Path(path).suffix or '.csv'}"
        table_path = target.with_name(f"{target.stem}_table.csv")
        if target.resolve() in inputs:
            raise CommandError(f"The output {target} is one of the input files.")
        if target.resolve() in resolved_targets:
            raise CommandError(
                f"Two inputs would both be written to {target}; use different file names or "
                "one --output-dir per input."
            )
        targets.append((_output_file(target, args.force, "Output file"),
                        _output_file(table_path, args.force, "Cluster table")))
        resolved_targets.add(targets[-1][0].resolve())
    # The tables name every FOV as stats does (the file name; "name:id" for the
    # FOVs of a file with a FOV column), so that tables of several runs can be
    # concatenated.
    fov_names = _fov_names(args.files)
    # Then one file at a time: read, cluster, write, let go. Peak memory is that
    # of the largest file and its clustering, whatever the number of files.
    for path, fov_name, (target, table_path) in zip(args.files, fov_names, targets):
        df = _read_table(path, args)
        X = df[["x", "y"]].to_numpy()
        n_localizations = len(df)
        groups, _ = _fov_ids(df, path, args.fov_column)
        del df
        if args.pretrained is not None:
            # Zero-shot works in any unit, but the table beside it is in nm: coordinates
            # whose typical neighbour is under 1 apart are not nm (um, most likely).
            from ._validation import split_by_group
            from .domain import localization_spacing

            fov_rows = [idx for _, idx in split_by_group(groups, len(X))]
            spacing = localization_spacing(X, fov_rows)  # NaN without two distinct points
            if spacing < 1.0:
                _warn(f"{path}: the median distance to the nearest localisation is {spacing:.3g}, "
                      "far below a nanometre: the coordinates look like um (or pixels), while the "
                      "cluster table is written in nm. Pass --coordinate-unit um (or --pixel-size) "
                      "or convert the file.")
            # Zero-shot: every file gets its own cluster length scale, eps and min_samples.
            labels = model.fit_predict(X, groups=groups)
            table = model.cluster_table_  # the fit tabulated these very labels
            median = "" if groups is None else "median "
            scale = (f" ({median}cluster radius {model.cluster_radius_:.4g}, {median}eps {model.eps_:.4g}, "
                     f"{median}min_samples {model.min_samples_}, {model.collapse_passes_} pass(es) of the network)")
            source = f"pretrained:{args.pretrained}"
        else:
            labels = model.predict(X, groups=groups)
            table = None
            scale, source = "", str(args.model)
        # The labels go into a copy of the input in its own format (every
        # column kept under its own name); the per-cluster statistics into
        # <name>_clusters_table.csv.
        try:
            with warnings.catch_warnings():
                # stats reads the column written here even when the input has
                # its own labels (e.g. a benchmark file's 'index'): the
                # warning's advice is for Python callers.
                warnings.simplefilter("ignore", ShadowedLabelsWarning)
                write_labels_as_source(
                    target, path, labels, label_name=args.label_name,
                    description={"Model": source, "eps (nm)": model.eps_, "min_samples": model.min_samples_,
                                 "collapse_passes": getattr(model, "collapse_passes_", None)},
                )  # fmt: skip
        except ValueError as exc:
            raise CommandError(_cli_message(exc)) from None
        if table is None:
            table = cluster_table(X, labels, groups, check_units=False)
        if groups is None:
            table["fov"] = _fov_name(fov_name)
        else:
            # One name per FOV, not per cluster.
            table["fov"] = table["fov"].map({v: _fov_name(fov_name, v) for v in table["fov"].unique()})
        table.to_csv(table_path, index=False)
        n_clusters = len(np.unique(labels[labels >= 0]))
        print(f"{path}: {n_localizations} localisations, {n_clusters} clusters{scale} -> {target}, {table_path}")
        del X, groups, labels, table  # before the next file is read, not after
    return 0


# ------------------------------------------------------------------ stats


def _stats_label_column(df, path, label_column):
    """The column of ``df`` holding the cluster ids, and its name in the file.

    Without ``--label-column``: the only label-like column, or, when the file
    has several (a benchmark file clustered by ``sklearn-miro cluster`` keeps
    its ``index`` and gains ``cluster``), the column ``cluster`` writes.
    Anything else is ambiguous and an error.
    """
    from .io import LABEL_SPELLINGS

    if label_column:
        column = _canonical_name(df, label_column)
        if column not in df.columns:
            raise CommandError(
                f"{path}: no label column {label_column!r} (columns: {_original_names(df)})."
            )
        return column, label_column
    candidates = [c for c in df.columns if c == "label" or str(c).casefold() in LABEL_SPELLINGS]
    if not candidates:
        raise CommandError(
            f"{path}: no label column (label/cluster/index/group; columns: {_original_names(df)}). "
            "Pass --label-column with the name of the column that holds the cluster ids."
        )
    if len(candidates) > 1:
        written = [c for c in candidates if c != "label" and _original_name(df, c) == _written_label_name(path)]
        if len(written) != 1:
            raise CommandError(
                f"{path} has several label columns ({[_original_name(df, c) for c in candidates]}); "
                "pass --label-column to say which one holds the cluster ids."
            )
        candidates = written
    return candidates[0], _original_name(df, candidates[0])


def _stats(args):
    import pandas as pd

    from .analysis import cluster_table, fov_summary

    # Everything is checked before any work: the options and the inputs first
    # (a bad file or column is reported rather than hidden behind an output
    # that exists), then every output path.
    background = _parse_background(args.background)
    resolved = [Path(p).resolve() for p in args.files]
    if len(set(resolved)) < len(resolved):
        raise CommandError("The same file is given twice; each file is one FOV.")
    names = _fov_names(args.files)
    # FOVs are numbered (file by file, each file's ids in their sorted order) and
    # named only in the output tables: one integer per localisation, not a
    # string, which keeps large files' memory and time down.
    Xs, labels, fovs, fov_names, used, shown_per_file = [], [], [], [], {}, []
    for path, fov in zip(args.files, names):
        df = _read_table(path, args)
        column, shown = _stats_label_column(df, path, args.label_column)
        used.setdefault(shown, []).append(path)
        shown_per_file.append(shown)
        values = _integer_column(df[column], path, shown)
        Xs.append(df[["x", "y"]].to_numpy())
        labels.append(values)
        ids, _ = _fov_ids(df, path, args.fov_column)
        if ids is not None:
            codes, uniques = pd.factorize(ids, sort=True, use_na_sentinel=False)  # NaN: a FOV too
            fovs.append(codes + len(fov_names))
            fov_names.extend(_fov_name(fov, v) for v in uniques)
        else:
            fovs.append(np.full(len(df), len(fov_names)))
            fov_names.append(_fov_name(fov))
        del df, values, ids  # only the arrays kept above stay: one table in memory at a time
    first = Path(args.files[0])
    out_dir = Path(args.output_dir) if args.output_dir else first.parent
    if out_dir.exists() and not out_dir.is_dir():
        raise CommandError(f"--output-dir {out_dir} is a file, not a folder.")
    prefix = args.prefix or first.stem
    table_path = _output_file(out_dir / f"{prefix}_cluster_table.csv", args.force, "Cluster table")
    summary_path = _output_file(out_dir / f"{prefix}_fov_summary.csv", args.force, "FOV summary")
    histogram = _output_file(Path(args.histogram), args.force, "Histogram") if args.histogram else None
    for output in (table_path, summary_path, histogram):
        if output is not None and Path(output).resolve() in resolved:
            raise CommandError(f"The output {output} is one of the input files.")
    for shown, paths in used.items():
        where = "every file" if len(paths) == len(args.files) else f"{len(paths)} file(s)"
        print(f"Cluster ids from the column {shown!r} ({where}; --label-column to choose another).")
    if background == "auto":
        # Decided file by file: one file's -1 must not turn another file's
        # background 0 into a cluster. Files that disagree are brought to -1.
        choices = [_auto_background_choice(values, [shown])[0] for values, shown in zip(labels, shown_per_file)]
        zero = [k for k, (choice, values) in enumerate(zip(choices, labels)) if choice == 0 and np.any(values == 0)]
        if zero and len(zero) < len(labels):
            _note_compact_zero([args.files[k] for k in zero], [Xs[k] for k in zero], [labels[k] for k in zero],
                               [fovs[k] for k in zero])
            for k in zero:
                labels[k] = np.where(labels[k] == 0, -1, labels[k])
            print(f"Treating label 0 as background in {len(zero)} file(s) without -1 "
                  f"({', '.join(str(args.files[k]) for k in zero[:3])}{', ...' if len(zero) > 3 else ''}) "
                  "and -1 in the others (use --background to change).")
            background = -1
        else:
            background = _auto_background(np.concatenate(labels), list(used))
            if background == 0:
                _note_compact_zero(args.files, Xs, labels, fovs)
    X, y, groups = np.concatenate(Xs), np.concatenate(labels), np.concatenate(fovs)
    table = cluster_table(X, y, groups, background=background)
    summary = fov_summary(X, y, groups, area=args.area, table=table, background=background)
    fov_names = np.asarray(fov_names, dtype=object)
    table["fov"] = fov_names[table["fov"].to_numpy(dtype=np.int64)]
    summary["fov"] = fov_names[summary["fov"].to_numpy(dtype=np.int64)]
    table.to_csv(table_path, index=False)
    summary.to_csv(summary_path, index=False)
    print(
        f"{len(args.files)} file(s), {len(X)} localisations, {len(table)} clusters "
        f"({summary['fraction_clustered'].mul(summary['n_localizations']).sum() / len(X):.1%} "
        "of localisations clustered)"
    )
    columns = ["fov", "n_localizations", "n_clusters", "fraction_clustered", "area_um2",
               "cluster_density_per_um2", "median_radius_of_gyration", "median_nn_distance"]
    lines = summary[columns].to_string(index=False, float_format=lambda v: f"{v:.3g}").splitlines()
    if len(summary) > STATS_FOVS_SHOWN:
        # Hundreds of FOVs would scroll the totals away: the first and last few
        # rows here (formatted together, so the columns line up), all in the file.
        half = STATS_FOVS_SHOWN // 2
        lines = (lines[: 1 + half] + [f"... {len(summary) - 2 * half} more FOVs (all {len(summary)} in "
                                      f"{summary_path}) ..."] + lines[-half:])
    print("\n".join(lines))
    print(f"Wrote {table_path} and {summary_path}")
    if histogram is not None:
        try:
            from .plotting import plot_cluster_statistics
        except ImportError as exc:  # pragma: no cover - matplotlib is an extra
            raise CommandError(str(exc)) from exc
        fig = plot_cluster_statistics(table)
        fig.savefig(histogram, dpi=120)
        print(f"Saved the histograms to {histogram}")
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

TRAIN_EPILOG = """\
Rough time with the defaults (fine-tuning the pretrained model: 800 synthetic FOVs x 3
epochs, fewer when the crops hold more than 300 localisations; hidden size 64, 15 steps):
0.8-1.5 CPU-minutes on one thread for 3 FOVs of the benchmark of Nieves et al. (2000 x 2000
nm, 1,000-8,000 localisations each), the densest scenarios included; up to 2.1 when a fit
that moved nothing is trained a second time on thinned background (the project's simulated
scenario 3 with blinking; benchmarks/results/quality/summary.md); 8-9 minutes on rings,
whose hollow clusters get 25 steps and twice the FOVs (--n-steps auto); about 10 on
elongated clusters (median axis ratio at least 3) with crops of at most 250 localisations,
which train a network of hidden size 96 from random weights (--hidden-size auto), on a CPU
with native bfloat16, about 25 in float32 on one without. From random weights
(--init none: 2,000 FOVs x 12 epochs) 12-14 minutes for shape mixtures (compiled where a
C++ compiler is found, --compile); 6-39 on the benchmark scenarios before compiled
training. Time grows about linearly with --n-augmented x --max-epochs and with --n-steps;
a CUDA GPU (--device cuda) is several times faster.

The model is written in the safe .miro format unless the output name ends in
.joblib/.pkl (a pickle: it can run code when loaded; share .miro files instead).
"""


def _parser():
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show the full traceback of an error")
    units = argparse.ArgumentParser(add_help=False)
    units.add_argument("--pixel-size", dest="pixel_size", type=float, default=None, metavar="NM",
                       help="camera pixel size in nm, for coordinates in pixels (headers such as "
                            "'x [px]', Picasso files without their YAML, or --coordinate-unit px)")
    units.add_argument("--coordinate-unit", dest="coordinate_unit", choices=("nm", "um", "px"),
                       default=None,
                       help="unit of coordinate columns whose header names none (default: nm)")
    parser = argparse.ArgumentParser(
        prog="sklearn-miro",
        description="MIRO clustering of single-molecule localisation microscopy data.",
        parents=[common],
    )
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="train on simulated FOVs and compare MIRO with DBSCAN",
                          parents=[common])
    demo.add_argument("--output-dir", default=".", help="where to save the PNG (default: .)")
    demo.add_argument("-f", "--force", action="store_true", help="overwrite the PNG if it exists")
    demo.add_argument("--scenario", type=int, default=6, choices=range(2, 11), metavar="2-10",
                      help="benchmark scenario to simulate (default: 6, elliptical clusters)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    demo.add_argument("--device", default="cpu", help="auto, cpu or cuda (default: cpu)")
    demo.add_argument("--max-epochs", type=int, default=None, help="override the training length")
    demo.add_argument("--n-augmented", type=int, default=None,
                      help="override the number of synthetic training FOVs")
    demo.set_defaults(func=_demo)

    train = sub.add_parser(
        "train", help="labelled localisation files -> model file", parents=[common, units],
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=TRAIN_EPILOG,
        description="Train MIRO + DBSCAN on labelled localisation files (one FOV each).",
    )
    train.add_argument("files", nargs="+", help="labelled CSV/TSV files, one field of view each, or "
                                                "several with a FOV column (--fov-column)")
    train.add_argument("--fov-column", default=None,
                       help="column with FOV ids when a file holds several FOVs (default: a column "
                            "named 'fov', as 'write_labels' writes, if any)")
    train.add_argument("-o", "--output", default="miro_model.miro",
                       help="model file to write (default: miro_model.miro)")
    train.add_argument("-f", "--force", action="store_true",
                       help="overwrite the model file if it exists")
    train.add_argument("--label-column", default=None,
                       help="column with the cluster ids (default: index/label/cluster)")
    train.add_argument("--background", default="auto",
                       help="label of non-clustered localisations (default: auto = -1 if present, "
                            "else 0)")
    train.add_argument("--radius", type=float, default=None,
                       help="connectivity radius in nm (default: 3.5 x the mean localisation "
                            "spacing of the files)")
    d = TRAIN_DEFAULTS
    train.add_argument("--hidden-size", dest="hidden_size", type=_auto_or(int), default=d["hidden_size"],
                       help="network width (default: auto = 64, or 96 trained from random weights "
                            "for elongated clusters with --init auto)")
    train.add_argument("--n-steps", dest="n_steps", type=_auto_or(int), default=d["n_steps"],
                       help="recurrent steps (default: auto = 15, or 25 when fine-tuning on hollow "
                            "clusters such as rings)")
    train.add_argument("--init", default=d["init"],
                       help="weights to start from: auto (the pretrained 'nanoclusters' model when "
                            "the network settings are its own, else random; elongated clusters: "
                            "random weights at hidden size 96 with small crops, the pretrained "
                            "'elongated' model with larger ones), none (random), or the name of a "
                            "pretrained model (default: auto)")
    train.add_argument("--max-epochs", dest="max_epochs", type=_auto_or(int), default=d["max_epochs"],
                       help="passes over the synthetic FOVs (default: auto = 3 when starting from "
                            "pretrained weights, else 12)")
    train.add_argument("--n-augmented", dest="n_augmented", type=_auto_or(int), default=d["n_augmented"],
                       help="synthetic training FOVs (default: auto = 800 when starting from "
                            "pretrained weights, fewer for crops of more than 300 localisations; "
                            "else 2000)")
    train.add_argument("--learning-rate", dest="learning_rate", type=_auto_or(float),
                       default=d["learning_rate"],
                       help="Adam learning rate (default: auto = 3e-4 when starting from pretrained "
                            "weights, else 1e-3)")
    train.add_argument("--precision", choices=("auto", "float32", "bfloat16"), default=d["precision"],
                       help="arithmetic of the training passes: auto = bfloat16 when training from "
                            "random weights on a CPU with native bfloat16 (0.6-0.75 of the CPU "
                            "time per step, measured), else float32; float32 for fits identical "
                            "on machines with the same CPU model (default: auto)")
    train.add_argument("--compile", choices=("auto", "yes", "no"), default=d["compile"],
                       help="run the training passes through torch.compile: auto = yes when "
                            "training from random weights for at least 2,000 scheduled steps on a "
                            "CPU with a C++ compiler (40-60 CPU-seconds to compile; 0.68 times "
                            "the CPU time per bfloat16 step, 0.87 in float32, measured), else no; "
                            "a failed compile warns and trains uncompiled (default: auto)")
    train.add_argument("--eps", type=float, default=None,
                       help="DBSCAN eps in nm (default: chosen on the files)")
    train.add_argument("--min-samples", dest="min_samples", type=int, default=None,
                       help="DBSCAN min_samples (default: chosen on the files)")
    train.add_argument("--device", default="auto", help="auto, cpu or cuda (default: auto)")
    train.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    train.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    train.set_defaults(func=_train)

    cluster = sub.add_parser("cluster", help="model + localisation files -> labelled copies + cluster tables",
                             parents=[common, units])
    cluster.add_argument("model", nargs="?", default=None,
                         help="model file written by 'sklearn-miro train' (.miro; .joblib files are "
                              "accepted with a warning); omit with --pretrained")
    cluster.add_argument("files", nargs="*", help="localisation files, one field of view each, or "
                                                  "several with a FOV column (--fov-column)")
    cluster.add_argument("--pretrained", default=None, metavar="NAME",
                         help="use a pretrained model shipped with the package instead of a model "
                              "file (nanoclusters-long, the better one zero-shot; nanoclusters; "
                              "elongated, for elongated clusters; blinking, for data with multiple "
                              "blinking only); no labels, no training")
    cluster.add_argument("--cluster-radius", dest="cluster_radius", type=float, default=None,
                         help="with --pretrained: typical RMS radius of a cluster in nm "
                              "(default: estimated on every file)")
    cluster.add_argument("--fov-column", default=None,
                         help="column with FOV ids when a file holds several FOVs, each clustered on "
                              "its own (default: a column named 'fov', as 'write_labels' writes, if any)")
    cluster.add_argument("--device", default="auto", help="auto, cpu or cuda (default: auto)")
    cluster.add_argument("-q", "--quiet", action="store_true",
                         help="no progress bar on large files (with --pretrained; a saved model "
                              "keeps the verbose setting it was trained with)")
    cluster.add_argument("-o", "--output", default=None, help="output file (one input file only)")
    cluster.add_argument("--output-dir", default=None,
                         help="folder for <name>_clusters.<ext> and <name>_clusters_table.csv "
                              "(default: beside each input)")
    cluster.add_argument("--label-name", default=None,
                         help="name of the new label column (default: cluster; Picasso HDF5: group)")
    cluster.add_argument("-f", "--force", action="store_true",
                         help="overwrite output files that exist")
    cluster.set_defaults(func=_cluster)

    stats = sub.add_parser("stats", help="labelled localisation files -> cluster table and FOV summary",
                           parents=[common, units])
    stats.add_argument("files", nargs="+", help="labelled localisation files, one FOV each, or "
                                                "several with a FOV column (--fov-column)")
    stats.add_argument("--label-column", default=None,
                       help="column with the cluster ids (default: the file's one label-like column; "
                            "with several, the 'cluster' column that 'sklearn-miro cluster' writes)")
    stats.add_argument("--background", default="auto",
                       help="label of non-clustered localisations (default, file by file: -1 if the "
                            "file has it, else 0)")
    stats.add_argument("--fov-column", default=None,
                       help="column with FOV ids when a file holds several FOVs (default: a column "
                            "named 'fov', as 'write_labels' writes, if any)")
    stats.add_argument("--area", choices=("hull", "bbox"), default="hull",
                       help="FOV area: convex hull or bounding box of its localisations (default: hull)")
    stats.add_argument("--output-dir", default=None, help="default: beside the first file")
    stats.add_argument("--prefix", default=None,
                       help="output names <prefix>_cluster_table.csv, <prefix>_fov_summary.csv "
                            "(default: the first file's name)")
    stats.add_argument("--histogram", default=None, metavar="PNG",
                       help="also save histograms of radius, size and nearest-neighbour distance")
    stats.add_argument("-f", "--force", action="store_true", help="overwrite output files that exist")
    stats.set_defaults(func=_stats)
    return parser


_COMMAND = ["sklearn-miro"]


def _warn(message):
    print(f"{_COMMAND[0]}: warning: {' '.join(str(message).split())}", file=sys.stderr)


# The library's advice in Python keywords -> what a command-line user can do,
# applied in this order to every library warning a command shows
# (_show_warning): literal texts, or compiled patterns for texts that name a
# variable. Advice no option can follow is dropped or left as it is.
_CLI_ADVICE = (
    ("init='auto' with the default network settings, or init='nanoclusters'",
     "--init auto with the default network settings, or --init nanoclusters"),
    ("(a smaller batch_size or a larger n_augmented / max_epochs)", "(a larger --n-augmented or --max-epochs)"),
    ("), more labelled clusters, or a smaller length_scale (about 0.4 x the RMS radius of the smallest "
     "clusters)", ") or more labelled clusters"),
    ("multiply them by 1000", "pass --coordinate-unit um, or multiply them by 1000"),
    ("(read_localizations(..., pixel_size=...) does it)", "(--pixel-size NM does it)"),
    ("Convert them to nm first (x 1000 for um, x the pixel size for pixels).",
     "Pass --coordinate-unit um (or --pixel-size NM for pixels), or convert them to nm first."),
    # Several FOVs in one file: the CLI's groups are the FOV column.
    ("pass their ids as groups=:", "name the column of their ids with --fov-column NAME:"),
    ("pass groups= (the FOV id of every localisation)", "pass --fov-column NAME (the column with the FOV id "
                                                        "of every localisation)"),
    ("pass groups=", "pass --fov-column NAME"),
    ("without groups=", "without --fov-column"),
    # Background numbered 0 (the benchmark's files).
    ("pass background=0 or np.where(labels == 0, -1, labels)", "pass --background 0"),
    (re.compile(r"pass np\.where\((\w+) == 0, -1, \1\)"), "pass --background 0"),
    ("Pass compile=False to skip the attempt.", "Pass --compile no to skip the attempt."),
    ("use 'nanoclusters-long' for such data", "use --pretrained nanoclusters-long for such data"),
    # The estimators' "X" is the file the command works on; "y" / "labels" its label column.
    (re.compile(r"^X (has|looks|does) "), r"The file \1 "),
    (re.compile(r"^(?:y|labels) has no -1 \(background\) label and uses"),
     "The labels have no -1 (background) and use"),
)


def _cli_advice(text):
    """A library warning's text with its Python advice given in command-line options (:data:`_CLI_ADVICE`)."""
    for python, command_line in _CLI_ADVICE:
        if isinstance(python, str):
            text = text.replace(python, command_line)
        else:
            text = python.sub(command_line, text)
    return text


def _show_warning(message, category, filename, lineno, file=None, line=None):
    _warn(_cli_advice(str(message)))


def main(argv=None):
    """Entry point of the ``sklearn-miro`` command.

    Errors are reported as one line on stderr with exit status 2 (``--debug``
    shows the traceback); warnings as one line each.
    """
    import warnings

    args = _parser().parse_args(argv)
    _COMMAND[0] = f"sklearn-miro {args.command}"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("default")
            warnings.showwarning = _show_warning
            return args.func(args)
    except KeyboardInterrupt:
        print(f"{_COMMAND[0]}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # one line for the user; --debug for the traceback
        if getattr(args, "debug", False):
            raise
        message = " ".join(str(exc).split()) or type(exc).__name__
        if not isinstance(exc, (CommandError, ValueError, OSError, ImportError, TypeError)):
            message = f"{type(exc).__name__}: {message} (run with --debug for the traceback)"
        print(f"{_COMMAND[0]}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
