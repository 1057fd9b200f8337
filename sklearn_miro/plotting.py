"""Pictures of localisations, MIRO displacements and per-FOV metrics.

matplotlib is an optional dependency (``pip install sklearn-miro[plot]``); it
is imported only when a function here is called. Every function builds a
:class:`matplotlib.figure.Figure` directly (no pyplot state, safe with the
non-interactive Agg backend and in scripts), returns it and never calls
``plt.show()``: save it with ``fig.savefig(...)``, or let Jupyter display it.
"""

from __future__ import annotations

import numbers

import numpy as np

from ._validation import check_coordinates, check_label_vector, warn_if_zero_is_background

__all__ = [
    "cluster_colors",
    "plot_cluster_statistics",
    "plot_clusters",
    "plot_density_map",
    "plot_displacements",
    "plot_k_distance",
    "plot_metrics",
    "plot_nena",
]

BACKGROUND_COLOR = "#bdbdbd"


def _matplotlib():
    try:
        import matplotlib  # noqa: F401
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError(
            "sklearn_miro.plotting needs matplotlib, which is not installed. "
            "Install it with `pip install sklearn-miro[plot]` (or `pip install matplotlib`)."
        ) from exc
    return Figure


def _palette():
    """Qualitative colours without greys (grey means background)."""
    from matplotlib import colormaps

    colors = []
    for name in ("tab10", "Dark2", "Set1", "tab20b", "tab20c"):
        cmap = colormaps[name]
        for rgba in cmap(np.arange(cmap.N)):
            r, g, b = rgba[:3]
            if max(r, g, b) - min(r, g, b) < 0.08:  # drop greys
                continue
            colors.append(rgba)
    return np.array(colors)


def cluster_colors(labels, *, background_label=-1, background_color=BACKGROUND_COLOR):
    """RGBA colour of every localisation, cycling a qualitative palette.

    Clusters are coloured by the rank of their label among the distinct
    labels, so any integer labels work; with more clusters than colours (about
    60) colours repeat, but rarely for neighbouring clusters because labels are
    usually assigned in no spatial order. Background is grey.
    """
    _matplotlib()
    from matplotlib.colors import to_rgba

    labels = np.asarray(labels)
    colors = np.empty((labels.shape[0], 4))
    is_background = labels == background_label
    colors[is_background] = to_rgba(background_color)
    if np.any(~is_background):
        _, rank = np.unique(labels[~is_background], return_inverse=True)
        palette = _palette()
        colors[~is_background] = palette[rank % len(palette)]
    return colors


def _check_labels(labels, n, name):
    return check_label_vector(
        labels, n, name=name, entry="label", integer_floats=True
    )


def _is_categorical(labels):
    return labels.dtype.kind in "OUSb"


def _default_marker_size(n):
    # Small markers for dense clouds, larger for sparse ones (points^2).
    return float(np.clip(3000.0 / max(n, 1), 0.5, 12.0))


def _class_order(panels, background_label, classes):
    """The classes of the string panels, in colour order: ``classes`` (minus the
    background) when given, else the sorted union over every panel, so that one
    class keeps its colour in every panel of a figure (and, with ``classes``,
    across figures) even where a panel lacks some class."""
    background = {"background", str(background_label)}
    present = set()
    for _, labels in panels:
        if labels is not None and _is_categorical(labels):
            present |= set(labels.astype(str).tolist()) - background
    if classes is None:
        return sorted(present)
    order = [str(c) for c in classes if str(c) not in background]
    unknown = sorted(present - set(order))
    if unknown:
        raise ValueError(f"labels hold class(es) {unknown[:5]} that classes={list(classes)!r} does not list.")
    return order


def _draw_labels(ax, X, labels, *, marker_size, background_label, background_color, legend, class_order=None):
    """Scatter one panel: background first and underneath, then the clusters."""
    if labels is None:
        ax.scatter(X[:, 0], X[:, 1], s=marker_size, c="#3b6ea5", linewidths=0)
        return
    if _is_categorical(labels):
        text = labels.astype(str)
        background = np.isin(text, ["background", str(background_label)])
        ax.scatter(
            X[background, 0], X[background, 1], s=marker_size, c=background_color,
            linewidths=0, zorder=1, label="background" if background.any() else None,
        )  # fmt: skip
        palette = _palette()
        order = sorted(set(text[~background])) if class_order is None else class_order
        colour_of = {name: k for k, name in enumerate(order)}
        for name in sorted(set(text[~background]), key=colour_of.__getitem__):
            k = colour_of[name]
            members = text == name
            ax.scatter(
                X[members, 0], X[members, 1], s=marker_size, color=palette[k % len(palette)],
                linewidths=0, zorder=2, label=name,
            )  # fmt: skip
        if legend:
            scale = max(1.0, 6 / np.sqrt(marker_size))
            ax.legend(loc="upper right", fontsize="small", markerscale=scale)
        return
    background = labels == background_label
    colors = cluster_colors(labels, background_label=background_label, background_color=background_color)
    for members, zorder in ((background, 1), (~background, 2)):
        ax.scatter(
            X[members, 0], X[members, 1], s=marker_size, c=colors[members], linewidths=0, zorder=zorder
        )


def _panels(labels, n):
    """Normalise ``labels`` to a list of (title, labels or None)."""
    if labels is None:
        return [(None, None)]
    if isinstance(labels, dict):
        if not labels:
            raise ValueError("labels is an empty dict: give at least one {title: labels} panel.")
        return [
            (str(title), _check_labels(value, n, f"labels[{title!r}]"))
            for title, value in labels.items()
        ]
    if isinstance(labels, (list, tuple)) and labels and all(np.ndim(value) == 1 for value in labels) \
            and len(labels) != n:
        # Checked one by one: arrays of different lengths would fail in np.asarray.
        return [(None, _check_labels(value, n, f"labels[{k}]")) for k, value in enumerate(labels)]
    array = np.asarray(labels)
    if isinstance(labels, np.ndarray) and array.ndim == 2 and array.shape[0] == n and array.shape[1] > 1:
        # Labels per scale (MultiscaleMIROClusterer.predict): one panel per column.
        return [(f"scale {k}", _check_labels(array[:, k], n, f"labels[:, {k}]")) for k in range(array.shape[1])]
    return [(None, _check_labels(labels, n, "labels"))]


def _warn_if_zero_looks_like_background(X, panels, units):
    """Warn, once, about the first integer panel whose label 0 looks like background
    (:func:`~sklearn_miro._validation.zero_background_evidence`)."""
    for title, labels in panels:
        if labels is None or labels.dtype.kind not in "iu":
            continue
        panel = "" if title is None else f" (panel {title!r})"
        if warn_if_zero_is_background(
            labels, f"labels{panel}", X=X, units=units,
            advice="Label 0 is drawn as one cluster. If it marks background (as in the benchmark's "
                   "files), pass background_label=0 or np.where(labels == 0, -1, labels).",
        ):
            return


def _new_figure(n_panels, panel_size, ncols=None):
    if ncols is not None and (isinstance(ncols, bool) or not isinstance(ncols, numbers.Integral) or ncols < 1):
        raise ValueError(f"ncols must be a positive integer (panels per row); got {ncols!r}.")
    Figure = _matplotlib()
    ncols = n_panels if ncols is None else min(ncols, n_panels)
    nrows = int(np.ceil(n_panels / ncols))
    fig = Figure(figsize=(panel_size * ncols, panel_size * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax in axes[n_panels:]:
        fig.delaxes(ax)
    return fig, list(axes[:n_panels])


def _check_axes(ax, n_panels):
    axes = list(np.ravel(ax)) if isinstance(ax, (list, tuple, np.ndarray)) else [ax]
    if len(axes) != n_panels:
        raise ValueError(f"ax holds {len(axes)} Axes but {n_panels} panel(s) are to be drawn.")
    return axes[0].figure, axes


def plot_clusters(
    X,
    labels=None,
    *,
    ax=None,
    title=None,
    marker_size=None,
    background_label=-1,
    background_color=BACKGROUND_COLOR,
    panel_size=4.0,
    legend=True,
    units="nm",
    classes=None,
):
    """Scatter plot of localisations coloured by cluster (or by shape class).

    Parameters
    ----------
    X : array-like of shape (n, 2) or DataFrame
        Coordinates.
    labels : array-like of shape (n,), dict or list, default=None
        - integer cluster labels: one colour per cluster (a qualitative
          palette, cycled), background (``background_label``) in grey, drawn
          first and underneath;
        - strings (e.g. shape classes from
          :func:`~sklearn_miro.datasets.make_multishape`): one colour per
          class with a legend, ``"background"`` in grey;
        - a dict ``{title: labels}`` or a list of label arrays: side-by-side
          panels sharing the axes, e.g.
          ``{"DBSCAN": l1, "MIRO": l2, "ground truth": y}`` as in the paper's
          Fig. 2;
        - an array of shape (n, k), labels per scale (e.g.
          ``MultiscaleMIROClusterer.predict``): one panel per column;
        - None: all points in one colour.
    ax : Axes or sequence of Axes, default=None
        Where to draw (one per panel); a new figure is made when None.
    title : str, default=None
        Title of a single panel (dict keys title multiple panels).
    marker_size : float, default=None
        Marker area in points^2; by default smaller for bigger clouds.
    background_label : int, default=-1
        Label drawn as background. With the default -1, integer labels that have no
        -1 but whose label 0 is spread like background (over the whole plot, several
        times more than the other labels: the benchmark files' 0 = background) get a
        warning, once per figure; labels that simply have no background (e.g.
        :func:`~sklearn_miro.datasets.make_cluster_pairs`) do not.
    background_color : color, default light grey
    panel_size : float, default=4.0
        Size of each panel in inches (new figures only).
    legend : bool, default=True
        Legend for class (string) labels.
    units : str, default="nm"
        Unit in the axis labels (and in the warning above).
    classes : sequence of str, default=None
        For class (string) labels: every class, in colour order (e.g. a
        fitted :class:`~sklearn_miro.MIROShapeClassifier`'s ``classes_``), so
        that separate figures colour a class alike. By default the classes of
        all panels of this figure, sorted: one class has one colour in every
        panel, also where a panel lacks some class.

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    X = check_coordinates(X, name="X")
    panels = _panels(labels, X.shape[0])
    if background_label == -1:
        # Benchmark-style labels (0 = background) would be drawn as one big cluster: said
        # once, when label 0 is spread like background (labels without background are fine).
        _warn_if_zero_looks_like_background(X, panels, units)
    class_order = _class_order(panels, background_label, classes)
    if ax is None:
        fig, axes = _new_figure(len(panels), panel_size)
        for other in axes[1:]:
            other.sharex(axes[0])
            other.sharey(axes[0])
    else:
        fig, axes = _check_axes(ax, len(panels))
    size = _default_marker_size(X.shape[0]) if marker_size is None else marker_size
    for axis, (panel_title, panel_labels) in zip(axes, panels):
        _draw_labels(
            axis, X, panel_labels, marker_size=size, background_label=background_label,
            background_color=background_color, legend=legend, class_order=class_order,
        )  # fmt: skip
        axis.set_aspect("equal", adjustable="box")
        axis.set_xlabel(f"x ({units})")
        axis.set_ylabel(f"y ({units})")
        if panel_title is not None:
            axis.set_title(panel_title)
    if title is not None:
        if len(panels) == 1:
            axes[0].set_title(title)
        else:
            fig.suptitle(title)
    return fig


def plot_displacements(
    X,
    X_collapsed,
    labels=None,
    *,
    ax=None,
    max_arrows=1500,
    min_displacement=0.0,
    marker_size=None,
    background_label=-1,
    random_state=0,
    title=None,
    panel_size=6.0,
    units="nm",
):
    """Original and collapsed localisations, joined by displacement arrows.

    Shows what MIRO does: localisations of a cluster move towards its centre,
    background stays put. Original points are drawn faint (coloured by
    ``labels`` when given), collapsed points solid and small, and arrows go
    from each original point to its collapsed position.

    Parameters
    ----------
    X : array-like of shape (n, 2)
        Original coordinates.
    X_collapsed : array-like of shape (n, 2)
        Coordinates after MIRO's displacements.
    labels : array-like of shape (n,), default=None
        Cluster labels used to colour both clouds.
    ax : Axes, default=None
    max_arrows : int, default=1500
        At most this many arrows, a random subset of the points that move,
        so that big clouds stay readable.
    min_displacement : float, default=0.0
        Points that move less than this (same units) get no arrow.
    marker_size : float, default=None
    background_label : int, default=-1
    random_state : int or None, default=0
        Seed of the arrow subsample.
    title : str, default=None
    panel_size : float, default=6.0
    units : str, default="nm"

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    X = check_coordinates(X, name="X")
    X_collapsed = check_coordinates(X_collapsed, name="X_collapsed")
    if X_collapsed.shape != X.shape:
        raise ValueError(
            f"X_collapsed must have the shape of X {X.shape}, one moved point per "
            f"localisation; got {X_collapsed.shape}."
        )
    if not isinstance(max_arrows, numbers.Integral) or max_arrows < 0:
        raise ValueError(f"max_arrows must be a non-negative integer; got {max_arrows!r}.")
    n = X.shape[0]
    if labels is not None:
        labels = _check_labels(labels, n, "labels")
        if _is_categorical(labels):
            raise ValueError("labels must be integer cluster labels for plot_displacements.")
        colors = cluster_colors(labels, background_label=background_label)
    else:
        colors = np.tile(np.array([[0.23, 0.43, 0.65, 1.0]]), (n, 1))
    if ax is None:
        fig, (ax,) = _new_figure(1, panel_size)
    else:
        fig, (ax,) = _check_axes(ax, 1)
    size = _default_marker_size(n) if marker_size is None else marker_size
    faint = colors.copy()
    faint[:, 3] = 0.35
    ax.scatter(X[:, 0], X[:, 1], s=size, c=faint, linewidths=0, zorder=1)
    displacement = X_collapsed - X
    moving = np.flatnonzero(np.hypot(displacement[:, 0], displacement[:, 1]) > min_displacement)
    if moving.size > max_arrows:
        moving = np.sort(np.random.default_rng(random_state).choice(moving, max_arrows, replace=False))
    if moving.size:
        ax.quiver(
            X[moving, 0], X[moving, 1], displacement[moving, 0], displacement[moving, 1],
            angles="xy", scale_units="xy", scale=1, color=colors[moving], alpha=0.6,
            width=0.002, headwidth=4, headlength=5, zorder=2,
        )  # fmt: skip
    ax.scatter(
        X_collapsed[:, 0], X_collapsed[:, 1], s=max(size / 3, 0.3), c=colors, linewidths=0, zorder=3
    )
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_xlabel(f"x ({units})")
    ax.set_ylabel(f"y ({units})")
    from matplotlib.lines import Line2D

    # Neutral legend entries: the scatter colours vary by cluster.
    handles = [
        Line2D([], [], ls="", marker="o", color="0.4", alpha=0.35, label="original"),
        Line2D([], [], ls="", marker="o", markersize=3, color="0.1", label="collapsed"),
    ]
    ax.legend(handles=handles, loc="upper right", fontsize="small")
    if title is not None:
        ax.set_title(title)
    return fig


# Display names of the paper's metrics (columns of a per-FOV clustering report).
_METRIC_TITLES = {
    "ari_dagger": "ARI$^\\dagger$",
    "iou": "IoU",
    "ji_c": "JI$_c$",
    "rmsre_n": "RMSRE$_N$",
    "rmse_xy": "RMSE$_{x,y}$",
    "ami": "AMI",
    "ari_c": "ARI$_c$",
    "ari": "ARI",
    "compression_index": "compression index",
}
# The four metrics of the paper's Figs. 2, 3 and 5.
_FIGURE_METRICS = ("ari_dagger", "iou", "ji_c", "rmsre_n")


def _metric_tables(table):
    """Normalise ``table`` to {method: DataFrame}."""
    import pandas as pd

    if isinstance(table, pd.DataFrame):
        if "method" not in table.columns:
            raise ValueError(
                "A single DataFrame needs a 'method' column naming the method of each "
                "row; otherwise pass a dict {method: DataFrame}."
            )
        return {str(m): group.drop(columns="method") for m, group in table.groupby("method", sort=False)}
    if not isinstance(table, dict) or not table:
        raise ValueError(
            "table must be a non-empty dict {method: DataFrame with one row per FOV and "
            f"one column per metric}} or a DataFrame with a 'method' column; got {type(table).__name__}."
        )
    tables = {}
    for method, frame in table.items():
        if not isinstance(frame, pd.DataFrame):
            frame = pd.DataFrame(frame)
        tables[str(method)] = frame
    return tables


def plot_metrics(
    table,
    *,
    metrics=None,
    show_points=True,
    ncols=4,
    panel_size=3.0,
    random_state=0,
    title=None,
):
    """Box plots of per-FOV metrics, one panel per metric, one box per method.

    Like the bottom rows of the paper's Figs. 2, 3 and 5: every FOV is a
    point (with a little horizontal jitter), over a box-and-whisker plot
    (median, quartiles, whiskers at 1.5 IQR, outliers as empty circles).

    Parameters
    ----------
    table : dict or DataFrame
        ``{method: DataFrame}`` with one row per FOV and one column per metric
        (e.g. the per-FOV table of a clustering report), or one long
        DataFrame with a ``method`` column.
    metrics : sequence of str, default=None
        Metrics to show, in order. By default the four metrics of the
        paper's figures (``ari_dagger``, ``iou``, ``ji_c``, ``rmsre_n``) when
        all are present, as in a per-FOV clustering report; otherwise every
        numeric column present for all methods except counts named ``n_*``.
        Known metric names get the paper's symbols as panel titles.
    show_points : bool, default=True
        Overlay the per-FOV values.
    ncols : int, default=4
        Panels per row.
    panel_size : float, default=3.0
    random_state : int or None, default=0
        Seed of the jitter.
    title : str, default=None

    Returns
    -------
    fig : matplotlib.figure.Figure
        One Axes per metric.
    """
    tables = _metric_tables(table)
    methods = list(tables)
    if metrics is None:
        first = tables[methods[0]]
        shared = [
            c
            for c in first.columns
            if all(c in t.columns and t[c].dtype.kind in "iuf" for t in tables.values())
        ]
        if all(m in shared for m in _FIGURE_METRICS):
            metrics = list(_FIGURE_METRICS)
        else:
            metrics = [c for c in shared if not str(c).startswith("n_")]
        if not metrics:
            raise ValueError(
                "No numeric metric column is shared by all methods; columns: "
                f"{ {m: list(t.columns) for m, t in tables.items()} }."
            )
    else:
        metrics = [metrics] if isinstance(metrics, str) else list(metrics)
        if not metrics:
            raise ValueError("metrics is empty: name at least one metric column.")
        for method, frame in tables.items():
            missing = [m for m in metrics if m not in frame.columns]
            if missing:
                raise ValueError(
                    f"Method {method!r} has no column(s) {missing}; its columns: {list(frame.columns)}."
                )
            non_numeric = [m for m in metrics if frame[m].dtype.kind not in "iufb"]
            if non_numeric:
                raise ValueError(f"Column(s) {non_numeric} of method {method!r} are not numeric.")
    fig, axes = _new_figure(len(metrics), panel_size, ncols=ncols)
    rng = np.random.default_rng(random_state)
    palette = _palette()
    positions = np.arange(1, len(methods) + 1)
    for ax, metric in zip(axes, metrics):
        values = [tables[m][metric].to_numpy(dtype=float) for m in methods]
        values = [v[np.isfinite(v)] for v in values]
        ax.boxplot(
            values, positions=positions, widths=0.55, showfliers=not show_points,
            medianprops=dict(color="black"), flierprops=dict(marker="o", markerfacecolor="none"),
        )  # fmt: skip
        if show_points:
            for k, v in enumerate(values):
                jitter = rng.uniform(-0.15, 0.15, size=v.size)
                color = palette[k % len(palette)]
                ax.scatter(positions[k] + jitter, v, s=10, color=color, alpha=0.7, zorder=3)
        ax.set_xticks(positions, methods, rotation=30 if len(methods) > 3 else 0)
        ax.set_title(_METRIC_TITLES.get(metric, str(metric)))
    if title is not None:
        fig.suptitle(title)
    return fig


# --------------------------------------------------------------------------- #
# Cluster statistics (tables of sklearn_miro.analysis.cluster_table)
# --------------------------------------------------------------------------- #
_STAT_LABELS = {
    "radius_of_gyration": "radius of gyration (nm)",
    "n_localizations": "localisations per cluster",
    "nn_distance": "nearest-neighbour cluster distance (nm)",
    "hull_area": "convex hull area (nm²)",
    "density_per_um2": "localisations per µm²",
    "major_std": "major-axis std (nm)",
    "minor_std": "minor-axis std (nm)",
    "eccentricity": "eccentricity",
}


def _numeric_column(table, column, name):
    try:
        return np.asarray(table[column], dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(
            f"column {column!r} of table {name!r} is not numeric (e.g. {table[column].iloc[0]!r}); "
            "histograms need numbers."
        ) from None


def plot_cluster_statistics(
    tables,
    columns=("radius_of_gyration", "n_localizations", "nn_distance"),
    *,
    bins=30,
    density=True,
    upper_quantile=0.99,
    ax=None,
    panel_size=3.5,
):
    """Histograms of per-cluster statistics, several clusterings overlaid.

    The paper's Fig. 4c-e: cluster radius, localisations per cluster and
    nearest-neighbour distance, MIRO against DBSCAN.

    Parameters
    ----------
    tables : DataFrame or dict of {name: DataFrame}
        Tables from :func:`sklearn_miro.analysis.cluster_table`, e.g.
        ``{"MIRO": t1, "DBSCAN": t2}``; each is drawn as an outlined
        histogram with its median in the legend.
    columns : sequence of str
        Table columns to draw, one panel each.
    bins : int, default=30
        Number of bins, shared by all tables of a panel.
    density : bool, default=True
        Normalise each histogram to unit area (clusterings with different
        numbers of clusters stay comparable); counts otherwise.
    upper_quantile : float, default=0.99
        The bins span from the smallest value to this quantile of the pooled
        values (long tails would otherwise squeeze the histograms); values
        beyond it are counted in the last bin.
    ax : sequence of Axes, default=None
        One per column; a new figure when None.
    panel_size : float, default=3.5

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    import pandas as pd

    if isinstance(tables, pd.DataFrame):
        tables = {None: tables}
    if not isinstance(tables, dict) or not tables:
        raise ValueError("tables must be a DataFrame or a non-empty dict {name: DataFrame}.")
    columns = [columns] if isinstance(columns, str) else list(columns)
    if isinstance(bins, bool) or not isinstance(bins, numbers.Integral) or bins < 1:
        raise ValueError(f"bins must be a positive integer; got {bins!r}.")
    for name, table in tables.items():
        missing = [c for c in columns if c not in table.columns]
        if missing:
            raise ValueError(
                f"table {name!r} has no column(s) {missing}; columns: {list(table.columns)}."
            )
    if not 0 < upper_quantile <= 1:
        raise ValueError(f"upper_quantile must be in (0, 1]; got {upper_quantile}.")
    if ax is None:
        fig, axes = _new_figure(len(columns), panel_size)
    else:
        fig, axes = _check_axes(ax, len(columns))
    colors = _palette()
    for axis, column in zip(axes, columns):
        values = {
            name: _numeric_column(table, column, name) for name, table in tables.items()
        }
        values = {name: v[np.isfinite(v)] for name, v in values.items()}
        pooled = np.concatenate(list(values.values()))
        if pooled.size == 0:
            axis.text(0.5, 0.5, "no finite values", ha="center", transform=axis.transAxes)
        else:
            low, high = pooled.min(), np.quantile(pooled, upper_quantile)
            high = high if high > low else low + 1.0
            edges = np.linspace(low, high, bins + 1)
            for k, (name, v) in enumerate(values.items()):
                if v.size == 0:
                    continue
                label = f"median {np.median(v):.3g} (n={v.size})"
                if name is not None:
                    label = f"{name}: {label}"
                axis.hist(
                    np.clip(v, low, high), bins=edges, density=density, histtype="step",
                    linewidth=1.5, color=colors[k % len(colors)], label=label,
                )  # fmt: skip
            axis.legend(fontsize="small")
        axis.set_xlabel(_STAT_LABELS.get(column, column))
        axis.set_ylabel("density" if density else "clusters")
    return fig


def plot_density_map(
    X,
    groups=None,
    *,
    fov=None,
    pixel_size=20.0,
    ax=None,
    cmap="magma",
    max_quantile=0.99,
    title=None,
    panel_size=5.0,
    units="nm",
    max_image_size=2048,
):
    """Binned rendering of one field of view: a 2-D histogram shown as an image.

    For large FOVs (10^6 localisations render in well under a second) where a
    scatter plot is slow and saturates: localisations are counted in square
    pixels of ``pixel_size``.

    Parameters
    ----------
    X : array-like of shape (n, 2) or DataFrame
    groups : array-like of shape (n,), default=None
        FOV ids; with ``fov`` selects the FOV to draw.
    fov : FOV id, default=None
        The FOV to draw (the first FOV in ``groups`` when None).
    pixel_size : float, default=20.0
        Side of a pixel in the units of ``X``. When the FOV would need more
        than ``max_image_size`` pixels a side, the pixel is coarsened to the
        smallest integer multiple of ``pixel_size`` that fits (e.g. 60 nm for a
        120 um FOV at the default 20 nm); the colour-bar label gives the pixel
        size used. This bounds the memory and time of the rendering (a full
        20 nm image of a 120 um FOV would take ~2.5 GB), whatever the FOV's size.
    ax : Axes, default=None
    cmap : str, default="magma"
    max_quantile : float, default=0.99
        The colour scale saturates at this quantile of the non-empty pixels'
        counts, so a few dense spots do not hide the rest.
    title : str, default=None
    panel_size : float, default=5.0
    units : str, default="nm"
    max_image_size : int, default=2048
        Most pixels per side of the image (a saved panel is a few hundred
        pixels wide, so finer images only cost memory).

    Returns
    -------
    fig : matplotlib.figure.Figure
        The image is ``fig.axes[0].images[0]``; its array holds the counts per
        pixel (rows: y, columns: x; they sum to the FOV's number of
        localisations). The pixel size used is ``(extent[1] - extent[0]) /
        n_columns`` of the image (``image.get_extent()``).
    """
    X = check_coordinates(X, name="X")
    if (isinstance(pixel_size, bool) or not isinstance(pixel_size, numbers.Real) or not np.isfinite(pixel_size)
            or pixel_size <= 0):
        raise ValueError(f"pixel_size must be a positive number; got {pixel_size!r}.")
    if isinstance(max_image_size, bool) or not isinstance(max_image_size, numbers.Integral) or max_image_size < 1:
        raise ValueError(f"max_image_size must be a positive integer; got {max_image_size!r}.")
    max_image_size = int(max_image_size)
    if groups is not None:
        groups = np.asarray(groups)
        if groups.shape != (X.shape[0],):
            raise ValueError(f"groups must have shape ({X.shape[0]},); got {groups.shape}.")
        fov = groups[0] if fov is None else fov
        selected = groups == fov
        if not selected.any():
            raise ValueError(f"No localisation has FOV id {fov!r}.")
        X = X[selected]
    elif fov is not None:
        raise ValueError("fov is given but groups is None: pass the FOV id of every localisation.")
    low = X.min(axis=0)
    span = X.max(axis=0) - low
    # Coarsen the pixel to an integer multiple of pixel_size when the image
    # would exceed max_image_size pixels a side (computed in floats: a tiny
    # pixel_size must not overflow an integer).
    with np.errstate(over="ignore"):
        fine = float(np.max(np.ceil(span / pixel_size)))
    if not np.isfinite(fine):
        raise ValueError(f"pixel_size={pixel_size!r} is too small for a FOV {float(span.max()):g} {units} wide.")
    factor = max(1, int(np.ceil(fine / max_image_size)))
    pixel = pixel_size * factor
    n_pixels = np.clip(np.ceil(span / pixel).astype(np.int64), 1, max_image_size)
    if np.prod(n_pixels) > 64_000_000:
        raise ValueError(
            f"max_image_size={max_image_size} gives an image of {n_pixels[0]} x {n_pixels[1]} pixels; "
            "use a smaller max_image_size or a larger pixel_size."
        )
    index = np.minimum(((X - low) / pixel).astype(np.int64), n_pixels - 1)
    counts = np.bincount(
        index[:, 1] * n_pixels[0] + index[:, 0], minlength=int(np.prod(n_pixels))
    ).reshape(n_pixels[1], n_pixels[0])
    if X.shape[0] < np.iinfo(np.int32).max:
        counts = counts.astype(np.int32)
    if ax is None:
        fig, (axis,) = _new_figure(1, panel_size)
    else:
        fig, (axis,) = _check_axes(ax, 1)
    nonzero = counts[counts > 0]
    vmax = max(float(np.quantile(nonzero, max_quantile)), 1.0) if nonzero.size else 1.0
    extent = (low[0], low[0] + n_pixels[0] * pixel, low[1], low[1] + n_pixels[1] * pixel)
    image = axis.imshow(
        counts, origin="lower", extent=extent, cmap=cmap, vmin=0, vmax=vmax,
        interpolation="nearest",
    )  # fmt: skip
    label = f"localisations per {pixel:g} {units} pixel"
    if factor > 1:
        label += f"\n(pixel_size {pixel_size:g} {units} coarsened: at most {max_image_size} pixels a side)"
    fig.colorbar(image, ax=axis, label=label, shrink=0.8)
    axis.set_xlabel(f"x ({units})")
    axis.set_ylabel(f"y ({units})")
    if title is not None:
        axis.set_title(title)
    return fig


def plot_k_distance(result, *, ax=None, panel_size=4.0):
    """The sorted k-distance curve and the chosen eps.

    Parameters
    ----------
    result : Bunch
        From :func:`sklearn_miro.parameters.suggest_eps`.
    """
    if ax is None:
        fig, (axis,) = _new_figure(1, panel_size)
    else:
        fig, (axis,) = _check_axes(ax, 1)
    distances = np.asarray(result.distances)
    axis.plot(np.arange(distances.size), distances, color="k", linewidth=1)
    axis.axhline(result.eps, color="C3", linestyle="--", label=f"eps = {result.eps:.3g} ({result.method})")
    axis.set_xlabel("localisations, sorted")
    axis.set_ylabel(f"distance to neighbour {result.k}")
    axis.legend()
    return fig


def plot_nena(result, *, ax=None, panel_size=4.0):
    """Histogram of next-frame nearest-neighbour distances and the NeNA fit.

    Parameters
    ----------
    result : Bunch
        From :func:`sklearn_miro.parameters.nena`.
    """
    from .parameters import nena_model

    if ax is None:
        fig, (axis,) = _new_figure(1, panel_size)
    else:
        fig, (axis,) = _check_axes(ax, 1)
    centers = np.asarray(result.bin_centers)
    width = centers[1] - centers[0] if centers.size > 1 else 1.0
    axis.bar(centers, result.density, width=width, color=BACKGROUND_COLOR, label="pairs in frames f, f+1")
    axis.plot(
        centers, nena_model(centers, **result.params), color="C3",
        label=f"fit: precision {result.precision:.3g} nm",
    )  # fmt: skip
    axis.set_xlabel("distance (nm)")
    axis.set_ylabel("density")
    axis.legend()
    return fig
