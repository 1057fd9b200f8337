"""Synthetic training fields of view: the augmentation of MIRO's few-shot training.

MIRO is trained on synthetic fields of view assembled from the handful of
labelled clusters the user provides (paper, "MIRO training and augmentations"):

1. the labelled clusters are cut out of the training FOVs and centred;
2. each synthetic FOV receives a random number of them, each randomly rotated,
   reflected, thinned (localisation dropout), thickened (localisation
   addition: jittered copies of its own localisations) and jittered, then
   placed at a random position;
3. background localisations are added, either drawn uniformly at the density
   of the training FOVs or taken from the training FOVs' own background
   (randomly cropped, reflected and thinned), which keeps the structure of real
   backgrounds such as the multiple blinking of unclustered molecules;
4. the target of every clustered localisation is its displacement from the
   centre of its (augmented) cluster, 0 for background.

Several label levels ("scales", finest first) are supported: a synthetic
cluster is a unit at the coarsest level. Differences from the reference code
are documented on :class:`AugmentationOptions`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import torch

from ._validation import check_positive, split_by_group
from .graph import AREA_WEIGHT_RATIO, area_weights, build_graph, weighted_median

__all__ = [
    "AugmentationOptions",
    "TrainingGraph",
    "TrainingSet",
    "CROP_LOCALIZATIONS",
    "CROP_RADIUS_PERCENTILE",
    "budgeted_n_augmented",
    "central_fraction",
    "default_fov_size",
    "median_axis_ratio",
    "default_length_scale",
    "make_training_graphs",
    "prepare_training_set",
    "synthesize_fov",
]

# --------------------------------------------------------------------------
# Augmentation options
# --------------------------------------------------------------------------


#: A synthetic crop whose Poisson cluster count comes out 0 gets this many instead
#: (when its template FOV has clusters).
MIN_CLUSTERS_PER_CROP = 1

#: When set, every cluster's centre is kept at least this many of its own RMS
#: radii from the crop's edge (besides ``margin``), so that wide clusters do not
#: stick out of the crop into space without background. None (the default):
#: centres uniform in ``[margin, 1 - margin]`` of the side. Read at call time
#: (``benchmarks/quality.py --experiment inner_clusters``).
CLUSTER_EDGE_RMS = None


@dataclass
class AugmentationOptions:
    """How synthetic training FOVs are assembled from labelled clusters.

    Parameters
    ----------
    fov_size : float, "auto" or None, default="auto"
        Side of the square synthetic FOVs, in the units of X. ``None`` uses the
        extent of a randomly chosen training FOV. ``"auto"``: a crop expected to
        hold about 200 localisations, but at least 10 times the 90th
        percentile of the training clusters' root-mean-square radii (so that
        the widest clusters fit whole) and at most the training FOVs' side
        (see :func:`default_fov_size`). Smaller FOVs are
        cheaper and give more gradient steps per second; the number of clusters
        and background localisations scales with the area.
    cluster_count_range : (float, float), default=(0.75, 1.25)
        The number of clusters of a synthetic FOV is Poisson-distributed with
        mean ``U(*range) x`` the cluster count of a training FOV of that area.
    background : {"training", "uniform"}, default="training"
        ``"training"``: background localisations are a random crop of a
        training FOV's background, randomly reflected along each axis and
        thinned; ``"uniform"``: drawn uniformly, at the background density of
        a training FOV times ``U(*background_count_range)``.
    background_count_range : (float, float), default=(0.8, 1.2)
        Density factor for uniform background; for ``"training"`` backgrounds
        a keep fraction is drawn from ``U(min(range), 1)``.
    rotate : bool, default=True
        Rotate each cluster by a uniform random angle.
    reflect : bool, default=True
        Mirror each cluster with probability 1/2 (the paper's "reflections";
        the reference code does not reflect clusters).
    dropout : float, default=0.2
        Each cluster keeps each of its localisations with a probability drawn
        from ``U(1 - dropout, 1)``.
    addition : float, default=0.2
        Each cluster duplicates each of its localisations with a probability
        drawn from ``U(0, addition)``; copies are jittered. With ``jitter=0``,
        and for clusters of one location (RMS radius 0, which the jitter is a
        fraction of), no copies are made: they would coincide with their
        originals, and inference treats exact copies as one location.
    jitter : float, default=0.1
        Standard deviation of the Gaussian jitter added to every clustered
        localisation, as a fraction of the cluster's root-mean-square radius.
        (The reference jitters by a fixed 6 nm, about 0.1-0.25 of the benchmark
        clusters' size.)
    margin : float, default=0.05
        Cluster centres are uniform in ``[margin, 1 - margin]`` times the FOV side.
    retry_thinned_background : bool, default=True
        When a fit ends near "move nothing" (the training clusters' compression,
        after / before, at or above
        :data:`~sklearn_miro.diagnostics.COMPRESSION_THRESHOLD`) and the
        training FOVs hold more background than clustered localisations,
        train once more on crops with less background: a keep fraction
        ``U(c / b, 1)`` for ``"training"`` background, a density factor
        ``U(c / b, high)`` for ``"uniform"`` (``c`` clustered, ``b`` background
        localisations; only when ``c / b`` is below ``background_count_range``'s
        lower end), and keep that network if its loss on the first fit's
        validation crops (full background) is lower
        (:func:`sklearn_miro.model.train_model`). Needs validation crops
        (``validation_fraction > 0``).

    Notes
    -----
    Targets point from the centre of the cluster *as augmented* (the mean of its
    localisations after dropout, addition and jitter) to each localisation;
    the reference uses the centre of the cluster before sub-sampling, which the
    network cannot observe.
    """

    fov_size: float | str | None = "auto"
    cluster_count_range: tuple = (0.75, 1.25)
    background: str = "training"
    background_count_range: tuple = (0.8, 1.2)
    rotate: bool = True
    reflect: bool = True
    dropout: float = 0.2
    addition: float = 0.2
    jitter: float = 0.1
    margin: float = 0.05
    retry_thinned_background: bool = True

    @classmethod
    def from_dict(cls, options):
        """Build options from a dict (``None`` gives the defaults), validating keys and values."""
        if options is None:
            options = {}
        if isinstance(options, cls):
            options = {f.name: getattr(options, f.name) for f in fields(cls)}
        if not isinstance(options, dict):
            raise ValueError(
                f"augmentation must be a dict of augmentation options or None; got {options!r}."
            )
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise ValueError(
                f"Unknown augmentation option(s) {unknown}; valid options are {sorted(known)}."
            )
        opts = cls(**options)
        opts.validate()
        return opts

    def validate(self):
        if isinstance(self.fov_size, str):
            if self.fov_size != "auto":
                raise ValueError(
                    "augmentation['fov_size'] must be a positive number, 'auto' or None; "
                    f"got {self.fov_size!r}."
                )
        elif self.fov_size is not None:
            check_positive(self.fov_size, "augmentation['fov_size']")
        for name in ("cluster_count_range", "background_count_range"):
            value = getattr(self, name)
            if (
                not isinstance(value, (tuple, list))
                or len(value) != 2
                or not all(isinstance(v, (int, float)) and v >= 0 for v in value)
                or value[0] > value[1]
            ):
                raise ValueError(
                    f"augmentation['{name}'] must be a pair (low, high) with 0 <= low <= high; "
                    f"got {value!r}."
                )
        if self.background not in ("training", "uniform"):
            raise ValueError(
                "augmentation['background'] must be 'training' or 'uniform'; "
                f"got {self.background!r}."
            )
        bounds = {"dropout": (0.0, 1.0, False), "addition": (0.0, 1.0, True), "margin": (0.0, 0.5, False)}
        for name, (low, high, closed) in bounds.items():
            value = getattr(self, name)
            ok = isinstance(value, (int, float)) and low <= value and (value <= high if closed else value < high)
            if not ok:
                interval = f"[{low}, {high}]" if closed else f"[{low}, {high})"
                raise ValueError(f"augmentation['{name}'] must be a number in {interval}; got {value!r}.")
        check_positive(self.jitter, "augmentation['jitter']", allow_zero=True)
        if not isinstance(self.retry_thinned_background, (bool, np.bool_)):
            raise ValueError(
                "augmentation['retry_thinned_background'] must be True or False; "
                f"got {self.retry_thinned_background!r}."
            )


# --------------------------------------------------------------------------
# Labelled clusters, prepared once
# --------------------------------------------------------------------------


@dataclass
class TrainingSet:
    """Labelled clusters and backgrounds cut out of the training FOVs.

    A *unit* is a cluster at the coarsest label level (or, for localisations
    without a coarse label, a cluster at a finer level): the piece that the
    augmentation moves around as a whole.
    """

    unit_points: np.ndarray  # (P, 2) each unit centred on its mean
    unit_bounds: np.ndarray  # (n_units + 1,) CSR bounds into unit_points
    unit_labels: np.ndarray  # (P, n_scales) local label inside the unit, -1 = none
    unit_classes: np.ndarray  # (P,) class code of each clustered point
    unit_rms: np.ndarray  # (n_units,) root-mean-square radius
    unit_fov: np.ndarray  # (n_units,) index of the FOV a unit comes from
    backgrounds: list  # per FOV: (m, 2) background coordinates
    background_classes: list  # per FOV: (m,) class codes of background points
    fov_low: np.ndarray  # (n_fovs, 2) lower corner of each FOV's bounding box
    fov_extent: np.ndarray  # (n_fovs, 2) bounding box sides
    units_per_fov: np.ndarray  # (n_fovs,)
    n_scales: int

    @property
    def n_units(self):
        return len(self.unit_bounds) - 1

    @property
    def n_fovs(self):
        return len(self.backgrounds)


def prepare_training_set(X, labels, groups=None, classes=None, background=-1, fov_indices=None):
    """Cut the labelled clusters and the backgrounds out of the training FOVs.

    Parameters
    ----------
    X : ndarray of shape (n, 2)
    labels : ndarray of shape (n,) or (n, n_scales)
        Cluster labels, finest scale first; ``background`` = not clustered.
    groups : ndarray of shape (n,), optional
        FOV id of every localisation.
    classes : ndarray of shape (n,), optional
        Integer class code of every localisation (shape classification).
    background : int, default=-1
    fov_indices : list of ndarray, optional
        Row indices of every FOV, ``split_by_group(groups, n)``, when the
        caller has them already (computed here otherwise).

    Returns
    -------
    TrainingSet
    """
    X = np.asarray(X, dtype=np.float64)
    labels = np.asarray(labels)
    if labels.ndim == 1:
        labels = labels[:, None]
    n, n_scales = labels.shape
    if classes is None:
        classes = np.zeros(n, dtype=np.int64)
    points_list, labels_list, classes_list, unit_sizes, unit_fov = [], [], [], [], []
    backgrounds, background_classes, lows, extents, units_per_fov = [], [], [], [], []
    if fov_indices is None:
        fov_indices = [idx for _, idx in split_by_group(groups, n)]
    for fov_index, idx in enumerate(fov_indices):
        pts, lab, cls = X[idx], labels[idx], classes[idx]
        lows.append(pts.min(axis=0))
        extents.append(np.maximum(pts.max(axis=0) - pts.min(axis=0), np.finfo(float).tiny))
        # Unit key: coarsest label that is not background; the level is part
        # of the key so that labels of different levels cannot collide.
        clustered = lab != background
        has_any = clustered.any(axis=1)
        level = n_scales - 1 - np.argmax(clustered[:, ::-1], axis=1)
        key_label = lab[np.arange(len(lab)), level]
        backgrounds.append(pts[~has_any])
        background_classes.append(cls[~has_any])
        c_idx = np.flatnonzero(has_any)
        if len(c_idx) == 0:
            units_per_fov.append(0)
            continue
        keys = np.stack([level[c_idx], key_label[c_idx]], axis=1)
        _, unit_of = np.unique(keys, axis=0, return_inverse=True)
        unit_of = unit_of.reshape(-1)
        order = np.argsort(unit_of, kind="stable")
        c_idx, unit_of = c_idx[order], unit_of[order]
        sizes = np.bincount(unit_of)
        centroids = np.stack(
            [np.bincount(unit_of, weights=pts[c_idx, d]) / sizes for d in range(2)], axis=1
        )
        points_list.append(pts[c_idx] - centroids[unit_of])
        # Local labels inside a unit (-1 stays -1): renumber per scale.
        local = np.full((len(c_idx), n_scales), -1, dtype=np.int64)
        for s in range(n_scales):
            lab_s = lab[c_idx, s]
            inside = lab_s != background
            if inside.any():
                _, codes = np.unique(
                    np.stack([unit_of[inside], lab_s[inside]], axis=1), axis=0, return_inverse=True
                )
                local[inside, s] = codes.reshape(-1)
        labels_list.append(local)
        classes_list.append(cls[c_idx])
        unit_sizes.append(sizes)
        unit_fov.append(np.full(len(sizes), fov_index))
        units_per_fov.append(len(sizes))
    if not points_list:
        raise ValueError("The training data contain no labelled cluster.")
    unit_points = np.concatenate(points_list)
    sizes = np.concatenate(unit_sizes)
    bounds = np.concatenate([[0], np.cumsum(sizes)])
    unit_index = np.repeat(np.arange(len(sizes)), sizes)
    rms = np.sqrt(np.bincount(unit_index, weights=(unit_points**2).sum(axis=1)) / sizes)
    return TrainingSet(
        unit_points=unit_points,
        unit_bounds=bounds,
        unit_labels=np.concatenate(labels_list),
        unit_classes=np.concatenate(classes_list).astype(np.int64),
        unit_rms=rms,
        unit_fov=np.concatenate(unit_fov),
        backgrounds=backgrounds,
        background_classes=background_classes,
        fov_low=np.array(lows),
        fov_extent=np.array(extents),
        units_per_fov=np.array(units_per_fov),
        n_scales=n_scales,
    )


#: Localisations a synthetic training FOV aims at (:func:`default_fov_size`).
CROP_LOCALIZATIONS = 200

#: Percentile of the training clusters' RMS radii that a crop must span ten
#: times (:func:`default_fov_size`): the large clusters, not the typical one.
CROP_RADIUS_PERCENTILE = 90.0


def default_fov_size(training_set, density, *, n_localizations=CROP_LOCALIZATIONS, min_cluster_radii=10.0,
                     radius_percentile=CROP_RADIUS_PERCENTILE):
    """Side of the synthetic training FOVs for ``fov_size="auto"``.

    The side of a square expected to hold ``n_localizations`` localisations
    at the training FOVs' median ``density``, enlarged to at least
    ``min_cluster_radii`` times the ``radius_percentile``-th percentile
    (default 90) of the training clusters' root-mean-square radii, and capped
    at the median side of the training FOVs (weighted by area where their
    areas differ by more than :data:`~sklearn_miro.graph.AREA_WEIGHT_RATIO`,
    as ``density`` is in :func:`~sklearn_miro.model.fov_statistics`).

    Why these numbers. Measured on the benchmark's ground-truth scenario 6,
    crops of about 200 localisations (600 nm instead of the full 2,000 nm
    FOV) reached the paper's quality in a fifth of the time: training cost
    grows with the localisations per graph, while what the network learns is
    local. A crop must still hold whole clusters with some context around
    them, and the clusters that a crop cut in pieces are the large ones, so
    the rule spans the 90th percentile of the radii rather than the median:
    with the median, the benchmark's blinking scenario 6 and the simulated
    two-width scenario with blinking were trained on crops that cut their
    widest clusters, and their ARI-dagger stayed under plain DBSCAN's (see
    the method notes, "Crop size").
    """
    extents = training_set.fov_extent
    full_side = weighted_median(np.mean(extents, axis=1), area_weights(np.prod(extents, axis=1)))
    if not np.isfinite(density) or density <= 0:
        return full_side
    side = float(np.sqrt(n_localizations / density))
    sizes = np.diff(training_set.unit_bounds)
    rms = training_set.unit_rms[(sizes >= 2) & (training_set.unit_rms > 0)]
    if len(rms):
        radius = np.percentile(rms, radius_percentile)
        side = max(side, min_cluster_radii * float(radius))
    return min(side, full_side)


def budgeted_n_augmented(n_augmented, localizations_per_fov, budget_per_fov, *, minimum=1):
    """Synthetic FOVs for a budget of ``n_augmented * budget_per_fov`` localisations.

    :func:`default_fov_size` aims at crops of about 200 localisations, but a
    crop must also span 10 cluster radii, so on dense data (blinking, large
    clusters) crops hold several times more (about 1,200 on the benchmark's
    blinking scenario 6) and training costs that much more per FOV. What a
    step learns grows with the localisations it sees, so fewer, larger crops
    carry about the same: measured when fine-tuning on blinking scenario 6,
    67 crops instead of 400 gave the same scores (2 seeds; ARI-dagger 0.634,
    JI_c 0.799 against 0.632, 0.808 over 3 seeds) in an eighth of the CPU
    time (0.6 instead of 4.7 minutes); training the multiscale NPC model from
    scratch on 982 crops of about 611 localisations instead of 2,000 took
    13 instead of 28 CPU-minutes at about the same scores. The estimators use
    it whenever ``n_augmented="auto"``, with a budget of 300 localisations
    per crop.

    Parameters
    ----------
    n_augmented : int
        Synthetic FOVs the schedule asks for.
    localizations_per_fov : float
        Expected localisations of one synthetic FOV.
    budget_per_fov : float
        Localisations per FOV the schedule was made for.
    minimum : int, default=1
        Never fewer FOVs than this (one batch).

    Returns
    -------
    int
        ``n_augmented`` when the FOVs are no larger than the budget, else
        ``ceil(n_augmented * budget_per_fov / localizations_per_fov)``, at
        least ``minimum``.
    """
    if not np.isfinite(localizations_per_fov) or localizations_per_fov <= budget_per_fov:
        return int(n_augmented)
    return max(int(minimum), int(np.ceil(n_augmented * budget_per_fov / localizations_per_fov)))


def default_length_scale(training_set, factor=0.4):
    """Data-driven length unit of the network's inputs and outputs.

    ``factor`` times the median root-mean-square radius of the training
    clusters (those with at least 2 localisations), so that displacement
    targets are of order 1. Measured on the benchmark, expressing lengths in
    this unit instead of the connectivity radius (the reference's choice,
    2-10 times larger) lets training leave the trivial "move nothing" solution
    several times sooner.
    """
    sizes = np.diff(training_set.unit_bounds)
    rms = training_set.unit_rms[(sizes >= 2) & (training_set.unit_rms > 0)]
    if len(rms) == 0:
        return None
    return float(factor * np.median(rms))


def central_fraction(training_set, min_size=5):
    """How much of a typical labelled cluster lies near its centre.

    For every training cluster of at least ``min_size`` localisations, the
    fraction of its localisations closer to its centroid than half its
    root-mean-square radius; returned is the median over clusters (NaN when
    no cluster is that large). 0.22 for an isotropic 2D Gaussian
    (``1 - exp(-1/4)``; more for elongated blobs: 0.3-0.4), near 0 for a hollow structure
    such as a ring, whose centroid lies in empty space. Measured on the
    labelled training FOVs of issue 11's quality table (clusters of at least
    30 localisations): 0.17-0.38 on every nanocluster scenario, with and
    without blinking, 0.42 on single-shot 6, 0.15 on C-shapes, 0.011-0.013
    on rings and 0.000 on small held-out rings
    (``benchmarks/hollow_fraction.py``). Small clusters say little: a
    Gaussian cluster of n localisations has none within half its RMS radius
    with probability 0.78^n.
    """
    sizes = np.diff(training_set.unit_bounds)
    unit = np.repeat(np.arange(len(sizes)), sizes)
    near = np.linalg.norm(training_set.unit_points, axis=1) < 0.5 * training_set.unit_rms[unit]
    fractions = np.bincount(unit, weights=near, minlength=len(sizes)) / np.maximum(sizes, 1)
    fractions = fractions[sizes >= min_size]
    return float(np.median(fractions)) if len(fractions) else float("nan")


def median_axis_ratio(training_set, min_size=5):
    """How elongated a typical labelled cluster is.

    For every training cluster of at least ``min_size`` localisations, the
    ratio of its long to its short axis: the square root of the ratio of the
    eigenvalues of its covariance (1 for a round cluster, about 7 for a
    cluster seven times as long as it is wide); returned is the median over
    clusters (NaN when no cluster is that large or every one is a line).
    Measured on the labelled training FOVs of issue 11's quality table: 1.1-1.9
    on every round-cluster scenario, with and without blinking, 2.2 on
    C-shapes, 3.1 on the held-out elongated simulation, 3.8 on blinking
    scenario 6, 5.5 on ground truth 6 and 7.0 on single-shot 6.
    """
    sizes = np.diff(training_set.unit_bounds)
    unit = np.repeat(np.arange(len(sizes)), sizes)
    x, y = training_set.unit_points[:, 0], training_set.unit_points[:, 1]
    n = np.maximum(sizes, 1)
    # Second moments about each unit's centroid (unit_points are centred).
    sxx = np.bincount(unit, weights=x * x, minlength=len(sizes)) / n
    syy = np.bincount(unit, weights=y * y, minlength=len(sizes)) / n
    sxy = np.bincount(unit, weights=x * y, minlength=len(sizes)) / n
    half_trace = 0.5 * (sxx + syy)
    spread = np.sqrt((0.5 * (sxx - syy)) ** 2 + sxy**2)
    large, small = half_trace + spread, half_trace - spread
    keep = (sizes >= min_size) & (small > 1e-12 * np.maximum(large, np.finfo(float).tiny))
    if not keep.any():
        return float("nan")
    return float(np.median(np.sqrt(large[keep] / small[keep])))


# --------------------------------------------------------------------------
# Synthetic FOVs
# --------------------------------------------------------------------------


def _group_centroid_offsets(points, group):
    """``points - mean(points of the same group)``; rows with group -1 get 0."""
    out = np.zeros_like(points)
    inside = group >= 0
    if not inside.any():
        return out
    _, codes = np.unique(group[inside], return_inverse=True)
    counts = np.bincount(codes)
    centroids = np.stack(
        [np.bincount(codes, weights=points[inside, d]) / counts for d in range(2)], axis=1
    )
    out[inside] = points[inside] - centroids[codes]
    return out


def _sample_background(training_set, template, side, options, rng):
    """Background localisations of a synthetic FOV of size ``side`` (2,)."""
    area_ratio = np.prod(side) / np.prod(training_set.fov_extent[template])
    bg = training_set.backgrounds[template]
    bg_cls = training_set.background_classes[template]
    if options.background == "uniform":
        density_factor = rng.uniform(*options.background_count_range)
        n_bg = rng.poisson(len(bg) * area_ratio * density_factor)
        points = rng.uniform(0.0, 1.0, (n_bg, 2)) * side
        cls = np.zeros(n_bg, dtype=np.int64)
        if len(bg_cls):
            cls[:] = np.bincount(bg_cls).argmax()
        return points, cls
    # A random window of the template's background, reflected and thinned.
    low = training_set.fov_low[template]
    extent = training_set.fov_extent[template]
    window = np.minimum(side, extent)
    corner = low + rng.uniform(0.0, 1.0, 2) * (extent - window)
    rel = bg - corner
    inside = np.all((rel >= 0) & (rel < window), axis=1)
    points, cls = rel[inside], bg_cls[inside]
    flips = rng.random(2) < 0.5
    points = np.where(flips, window - points, points)
    points, cls = _mirror_tiled(points, cls, window, side)
    keep = rng.random(len(points)) < rng.uniform(min(options.background_count_range[0], 1.0), 1.0)
    return points[keep], cls[keep]


# More mirrored copies of a template's background than this are not made.
_MAX_MIRRORED_TILES = 400


def _mirror_tiled(points, classes, window, side):
    """Background of a ``window`` repeated, mirrored at every seam, to fill ``side``.

    A template FOV smaller than the crop (a narrow or small training FOV)
    would otherwise leave part of the crop without background while clusters
    are still placed there, an artefact the network would learn from.
    Mirroring keeps the density continuous across the seams.
    """
    window = np.asarray(window, dtype=np.float64)
    valid = window > 0
    repeats = np.where(valid, np.ceil(np.asarray(side) / np.where(valid, window, 1.0) - 1e-9), 1)
    repeats = repeats.astype(np.int64)
    if np.all(repeats <= 1) or len(points) == 0 or np.prod(repeats) > _MAX_MIRRORED_TILES:
        # (A template almost flat on one axis would need millions of copies:
        # such a crop keeps the window's background only.)
        return points, classes
    tiles = np.stack(np.meshgrid(np.arange(repeats[0]), np.arange(repeats[1]), indexing="ij"), -1)
    tiles = tiles.reshape(-1, 2)  # (n_tiles, 2) tile index per axis
    mirrored = tiles[:, None, :] % 2 == 1
    tiled = np.where(mirrored, window - points[None], points[None]) + tiles[:, None, :] * window
    tiled = tiled.reshape(-1, 2)
    inside = np.all(tiled < side, axis=1)
    return tiled[inside], np.tile(classes, len(tiles))[inside]


# Training FOVs whose areas differ by more than this factor are drawn as crop
# templates in proportion to their area; closer areas, uniformly (the rule of
# every statistic over FOVs, graph.area_weights).
TEMPLATE_AREA_RATIO = AREA_WEIGHT_RATIO


def _draw_template(training_set, rng):
    """The training FOV a synthetic crop takes its density and background from.

    Uniformly among FOVs of similar size. A crop takes its template's
    density of clusters, so a small labelled FOV (a crop around one cluster)
    drawn as often as the whole FOVs would fill a fifth of the crops with
    about 20 times the clusters; when areas differ by more than
    ``TEMPLATE_AREA_RATIO``, FOVs are drawn in proportion to their area, as a
    localisation drawn from the pooled training data would pick them.
    """
    weights = area_weights(np.prod(training_set.fov_extent, axis=1), TEMPLATE_AREA_RATIO)
    if weights is None:
        return rng.integers(training_set.n_fovs)
    drawn = np.searchsorted(np.cumsum(weights), rng.random(), side="right")
    return int(min(drawn, training_set.n_fovs - 1))  # the cumulative sum may end 1 ulp under 1


def synthesize_fov(training_set, options, rng):
    """Assemble one synthetic FOV.

    Returns
    -------
    positions : ndarray of shape (m, 2)
    displacements : ndarray of shape (n_scales, m, 2)
        Target displacement (position minus cluster centre) at each scale; 0
        for background.
    classes : ndarray of shape (m,) int
    labels : ndarray of shape (m, n_scales)
        Cluster labels of the synthetic FOV (-1 = background), for evaluation.
    """
    ts = training_set
    if isinstance(options.fov_size, str):
        raise ValueError(
            f"options.fov_size={options.fov_size!r} must be resolved before synthesising FOVs: "
            "pass a side (e.g. default_fov_size(training_set, density), the estimators' 'auto') "
            "or None for the size of the training FOVs."
        )
    template = _draw_template(ts, rng)
    if options.fov_size is None:
        side = ts.fov_extent[template].copy()
    else:
        side = np.array([options.fov_size, options.fov_size], dtype=np.float64)
    area_ratio = np.prod(side) / np.prod(ts.fov_extent[template])
    expected = ts.units_per_fov[template] * area_ratio * rng.uniform(*options.cluster_count_range)
    n_units = rng.poisson(expected)
    if n_units == 0 and ts.units_per_fov[template] > 0:
        # Every synthetic FOV shows the network at least one cluster (read at call
        # time: benchmarks/quality.py --experiment poisson_crops sets 0, the plain
        # Poisson count, which on sparse data does not inflate the clustered fraction).
        n_units = MIN_CLUSTERS_PER_CROP
    chosen = rng.integers(ts.n_units, size=n_units)

    # Gather the localisations of the chosen units (vectorised CSR expansion).
    sizes = ts.unit_bounds[chosen + 1] - ts.unit_bounds[chosen]
    slot = np.repeat(np.arange(n_units), sizes)
    starts = np.repeat(ts.unit_bounds[chosen], sizes)
    within = np.arange(sizes.sum()) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    src = starts + within
    pts = ts.unit_points[src].copy()
    lab = ts.unit_labels[src]
    cls = ts.unit_classes[src]

    # Localisation dropout, per-cluster keep probability.
    keep_prob = rng.uniform(1.0 - options.dropout, 1.0, n_units)
    keep = rng.random(len(pts)) < keep_prob[slot]
    # Localisation addition: duplicate some of the kept localisations. Without
    # jitter a copy would sit exactly on its original: inference merges exact
    # copies (the network sees each location once), so training on them would
    # show the network zero-length edges it never meets. No copies then.
    adds = options.addition > 0 and options.jitter > 0
    add_prob = rng.uniform(0.0, options.addition, n_units) if adds else np.zeros(n_units)
    # The jitter is relative to the cluster's RMS radius: a cluster of one
    # location (radius 0) would get its copies exactly on it, jitter or not.
    add_prob = np.where(ts.unit_rms[chosen] > 0, add_prob, 0.0)
    dup = keep & (rng.random(len(pts)) < add_prob[slot])
    pts = np.concatenate([pts[keep], pts[dup]])
    lab = np.concatenate([lab[keep], lab[dup]])
    cls = np.concatenate([cls[keep], cls[dup]])
    slot = np.concatenate([slot[keep], slot[dup]])

    # Jitter relative to each cluster's size, then reflect, rotate and place.
    sigma = options.jitter * ts.unit_rms[chosen][slot]
    pts = pts + rng.normal(size=pts.shape) * sigma[:, None]
    if options.reflect:
        mirror = np.where(rng.random(n_units) < 0.5, -1.0, 1.0)
        pts[:, 1] *= mirror[slot]
    if options.rotate:
        theta = rng.uniform(0.0, 2.0 * np.pi, n_units)[slot]
        c, s = np.cos(theta), np.sin(theta)
        pts = np.column_stack([c * pts[:, 0] - s * pts[:, 1], s * pts[:, 0] + c * pts[:, 1]])
    centres = (options.margin + rng.uniform(0.0, 1.0, (n_units, 2)) * (1 - 2 * options.margin)) * side
    if CLUSTER_EDGE_RMS is not None:
        # The same draws, mapped into the square whose edges lie the cluster's own
        # CLUSTER_EDGE_RMS radii inside the crop (at most to its centre).
        inset = np.minimum(np.maximum(CLUSTER_EDGE_RMS * ts.unit_rms[chosen][:, None], options.margin * side),
                           0.5 * side)
        fraction = (centres / side - options.margin) / max(1 - 2 * options.margin, 1e-12)
        centres = inset + fraction * (side - 2 * inset)
    pts = pts + centres[slot]

    # Global labels: unit slot x local label; -1 stays -1.
    n_scales = ts.n_scales
    max_local = max(int(lab.max()) + 1, 1) if len(lab) else 1
    cluster_labels = np.where(lab >= 0, slot[:, None] * max_local + lab, -1)
    displacements = np.stack(
        [_group_centroid_offsets(pts, cluster_labels[:, s]) for s in range(n_scales)]
    )

    bg, bg_cls = _sample_background(ts, template, side, options, rng)
    positions = np.concatenate([pts, bg])
    displacements = np.concatenate([displacements, np.zeros((n_scales, len(bg), 2))], axis=1)
    classes = np.concatenate([cls, bg_cls]).astype(np.int64)
    labels = np.concatenate([cluster_labels, np.full((len(bg), n_scales), -1)])
    return positions, displacements, classes, labels


@dataclass
class TrainingGraph:
    """Tensors of one training graph; lengths in units of the length scale."""

    node_attr: torch.Tensor
    edge_index: torch.Tensor
    edge_attr: torch.Tensor
    positions: torch.Tensor  # (N, 2) / length_scale
    targets: torch.Tensor  # (n_scales, N, 2) / length_scale
    classes: torch.Tensor  # (N,) long

    @property
    def n_nodes(self):
        return self.node_attr.shape[0]


def make_training_graphs(training_set, n_graphs, connectivity_radius, options, rng,
                         *, length_scale=None, normalization="unit", progress=None):
    """Synthesise ``n_graphs`` FOVs and build their graphs.

    Positions, targets and edge features are expressed in units of
    ``length_scale`` (default: the connectivity radius). Synthetic FOVs with
    fewer than 2 localisations are redrawn.
    """
    r = float(connectivity_radius)
    unit = r if length_scale is None else float(length_scale)
    graphs = []
    attempts = 0
    while len(graphs) < n_graphs:
        attempts += 1
        if attempts > 20 * n_graphs + 100:
            raise RuntimeError(
                "Could not synthesise training FOVs with at least 2 localisations; "
                "check the training data and the augmentation options."
            )
        positions, displacements, classes, _ = synthesize_fov(training_set, options, rng)
        if len(positions) < 2:
            continue
        graph = build_graph(positions, r, length_scale=unit, normalization=normalization)
        graphs.append(
            TrainingGraph(
                node_attr=torch.from_numpy(graph.node_attr),
                edge_index=torch.from_numpy(graph.edge_index),
                edge_attr=torch.from_numpy(graph.edge_attr),
                positions=torch.from_numpy((positions / unit).astype(np.float32)),
                targets=torch.from_numpy((displacements / unit).astype(np.float32)),
                classes=torch.from_numpy(classes),
            )
        )
        if progress is not None:
            progress.update(1)
    return graphs
