"""Shared machinery of the simulators: random numbers, count specifications,
cluster centres, background, blinking and the assembly of several FOVs.

Every simulator builds one field of view (FOV) at a time as a *molecule list*
(positions, FOV-local cluster ids, optional shape classes) and hands the list of
FOVs to :func:`_assemble`, which adds multiple blinking, crops, shuffles and
numbers the clusters uniquely across FOVs. Within a FOV everything is
vectorised over localisations; the only Python loops run over FOVs (and, when
a minimum centre distance is asked for, over candidate cluster centres).
"""

from __future__ import annotations

import numbers
import warnings
from dataclasses import dataclass

import numpy as np

from .._validation import caller_stacklevel, check_coordinates, check_positive, check_random_state

BACKGROUND = "background"
"""Shape class of localisations that belong to no cluster."""

# Multiple blinking as measured on the benchmark of Nieves et al. (2023): pairing
# every localisation of the "blinking" FOVs with the molecule of the matching
# "ground truth" FOV (isolated molecules only) gives 3.9-4.1 localisations per
# molecule with variance ~20 and 19-21 % of molecules never detected, which is a
# geometric law on {0, 1, 2, ...} with mean 4; the scatter around the molecule
# is 14-15 nm rms per axis with excess kurtosis ~1, i.e. a Gaussian whose
# standard deviation varies between localisations (gamma, mean 13.5, sd 4 nm).
DEFAULT_MEAN_BLINKS = 4.0
DEFAULT_LOCALIZATION_PRECISION = (13.5, 4.0)


# --------------------------------------------------------------------------- #
# Random state and parameter specifications
# --------------------------------------------------------------------------- #
def check_count_spec(spec, name, *, allow_zero=False):
    """Validate an integer specification: ``n``, ``(low, high)`` or a callable.

    ``(low, high)`` means integers drawn uniformly from ``low..high``
    *inclusive* (the paper's "between 30 and 60"); a callable is called as
    ``spec(rng, size)`` and must return ``size`` non-negative integers.
    """
    if callable(spec):
        return spec
    minimum = 0 if allow_zero else 1
    if isinstance(spec, (numbers.Integral, np.integer)) and not isinstance(spec, bool):
        if spec < minimum:
            raise ValueError(f"{name} must be >= {minimum}; got {spec!r}.")
        return int(spec)
    if isinstance(spec, (tuple, list)) and len(spec) == 2:
        low, high = spec
        if all(isinstance(v, (numbers.Integral, np.integer)) and not isinstance(v, bool) for v in spec):
            if low < minimum or high < low:
                raise ValueError(
                    f"{name}=(low, high) needs {minimum} <= low <= high; got {tuple(spec)!r}."
                )
            return (int(low), int(high))
    raise ValueError(
        f"{name} must be an integer, a (low, high) pair of integers (uniform, "
        f"inclusive) or a callable f(rng, size); got {spec!r}."
    )


def draw_counts(rng, spec, size, name):
    """Draw ``size`` integers following a validated count specification."""
    if callable(spec):
        counts = np.asarray(spec(rng, size))
        if counts.shape != (size,) or counts.dtype.kind not in "iu" or np.any(counts < 0):
            raise ValueError(
                f"The callable given as {name} must return {size} non-negative "
                f"integers; got {counts!r}."
            )
        return counts.astype(np.int64)
    if isinstance(spec, tuple):
        return rng.integers(spec[0], spec[1] + 1, size=size)
    return np.full(size, spec, dtype=np.int64)


def check_float_spec(spec, name, *, allow_zero=False):
    """Validate a length specification: a number or a ``(low, high)`` range."""
    if isinstance(spec, (tuple, list)) and len(spec) == 2:
        low, high = (check_positive(v, name, allow_zero=allow_zero) for v in spec)
        if high < low:
            raise ValueError(f"{name}=(low, high) needs low <= high; got {tuple(spec)!r}.")
        return (float(low), float(high))
    return float(check_positive(spec, name, allow_zero=allow_zero))


def draw_floats(rng, spec, size):
    """Draw ``size`` numbers: constant, or uniform within ``(low, high)``."""
    if isinstance(spec, tuple):
        return rng.uniform(spec[0], spec[1], size=size)
    return np.full(size, spec, dtype=np.float64)


def check_fraction(value, name):
    """A fraction in [0, 1) (a background fraction of 1 would leave no cluster)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value < 1:
        raise ValueError(f"{name} must be a number in [0, 1); got {value!r}.")
    return float(value)


def check_n_fovs(n_fovs):
    return check_positive(n_fovs, "n_fovs", integer=True)


# --------------------------------------------------------------------------- #
# Geometry
# --------------------------------------------------------------------------- #
def draw_centers(rng, n_centers, fov_size, *, margin=0.0, min_distance=0.0):
    """Cluster centres uniform in ``[margin, fov_size - margin]^2``.

    With ``margin=0`` clusters centred near an edge spill over it, as in the
    benchmark of Nieves et al.; a positive margin keeps them inside. With
    ``min_distance > 0`` candidates closer than that to an accepted centre are
    rejected (dart throwing), so structures do not overlap.
    """
    low, high = margin, fov_size - margin
    if high < low:
        raise ValueError(
            f"margin={margin} leaves no room for cluster centres in a FOV of "
            f"size {fov_size} nm (need 2 * margin <= fov_size)."
        )
    if n_centers == 0:
        return np.empty((0, 2))
    if min_distance <= 0:
        return rng.uniform(low, high, size=(n_centers, 2))
    # Discs of diameter min_distance around the centres lie in the square widened by
    # min_distance/2 on every side, and cannot cover more than the densest packing
    # (pi / sqrt(12)) of it: beyond that, fail at once instead of after the tries.
    if n_centers * np.pi * min_distance**2 / 4 > np.pi / np.sqrt(12) * (high - low + min_distance) ** 2:
        raise ValueError(
            f"{n_centers} centres at least {min_distance} nm apart cannot fit in a "
            f"{fov_size} nm FOV (not even packed as tightly as discs can be); lower "
            "min_center_distance or the number of clusters, or enlarge fov_size."
        )
    min_d2 = min_distance**2
    accepted = np.empty((n_centers, 2))
    n_accepted, n_tried = 0, 0
    max_tries = 2000 * n_centers
    while n_accepted < n_centers:
        if n_tried > max_tries:
            raise ValueError(
                f"Could not place {n_centers} centres at least {min_distance} nm "
                f"apart in a {fov_size} nm FOV (placed {n_accepted}); lower "
                "min_center_distance or the number of clusters, or enlarge fov_size."
            )
        candidates = rng.uniform(low, high, size=(max(4 * (n_centers - n_accepted), 16), 2))
        n_tried += len(candidates)
        # Loop over candidate *centres* (tens to hundreds), never over localisations.
        for candidate in candidates:
            if n_accepted == 0 or np.min(
                np.sum((accepted[:n_accepted] - candidate) ** 2, axis=1)
            ) >= min_d2:
                accepted[n_accepted] = candidate
                n_accepted += 1
                if n_accepted == n_centers:
                    break
    return accepted


def rotate(points, angles):
    """Rotate each row of ``points`` by its own angle (radians)."""
    cos, sin = np.cos(angles), np.sin(angles)
    return np.column_stack(
        (cos * points[:, 0] - sin * points[:, 1], sin * points[:, 0] + cos * points[:, 1])
    )


def n_background_for(n_clustered, background_fraction, n_background):
    """Number of background localisations so that they make up the fraction.

    The fraction is of *all* localisations of the FOV (clustered + background),
    which is how the paper states every recipe (e.g. "6 % of the total number of
    localizations"); the benchmark's "50 % of molecules clustered" is
    ``background_fraction=0.5``. ``n_background`` overrides it when given.
    """
    if n_background is not None:
        return int(n_background)
    if n_clustered == 0 and background_fraction > 0:
        warnings.warn(
            "A FOV drew no cluster, so it gets no background either (background_fraction is a "
            "share of the FOV's localisations) and is empty; pass n_background= for FOVs of "
            "background only.",
            UserWarning,
            stacklevel=caller_stacklevel(),
        )
    return int(round(n_clustered * background_fraction / (1.0 - background_fraction)))


def draw_background(rng, n_points, fov_size, gradient=0.0):
    """Background uniform in ``[0, fov_size]^2``, optionally denser to the right.

    ``gradient`` in [0, 1] is the share of background drawn from a density that
    rises linearly from 0 at the left edge (``x = 0``) to its maximum at the
    right edge; the rest is uniform. The density at the left and right edges is
    then proportional to ``1 - gradient`` and ``1 + gradient``.
    """
    points = rng.uniform(0.0, fov_size, size=(n_points, 2))
    if gradient > 0:
        on_ramp = rng.random(n_points) < gradient
        # Inverse CDF of p(x) proportional to x on [0, L] is L * sqrt(u).
        points[on_ramp, 0] = fov_size * np.sqrt(rng.random(int(on_ramp.sum())))
    return points


# --------------------------------------------------------------------------- #
# Multiple blinking
# --------------------------------------------------------------------------- #
def check_blinking(blinking):
    """``False`` -> None; ``True`` -> default options; dict -> validated options."""
    if blinking is False or blinking is None:
        return None
    if blinking is True:
        return {}
    if isinstance(blinking, dict):
        unknown = set(blinking) - {"mean_blinks", "distribution", "localization_precision"}
        if unknown:
            raise ValueError(
                f"Unknown blinking option(s) {sorted(unknown)}; accepted: "
                "'mean_blinks', 'distribution', 'localization_precision'."
            )
        return dict(blinking)
    raise ValueError(
        "blinking must be False, True or a dict of add_blinking options "
        f"(mean_blinks, distribution, localization_precision); got {blinking!r}."
    )


def _check_precision(localization_precision):
    if isinstance(localization_precision, (tuple, list)):
        if len(localization_precision) != 2:
            raise ValueError(
                "localization_precision must be a number (nm) or a (mean, std) "
                f"pair; got {localization_precision!r}."
            )
        mean = check_positive(localization_precision[0], "localization_precision mean")
        std = check_positive(localization_precision[1], "localization_precision std", allow_zero=True)
        return float(mean), float(std)
    return float(check_positive(localization_precision, "localization_precision", allow_zero=True)), 0.0


def _blink(rng, X, mean_blinks, distribution, localization_precision):
    """Repeat every molecule and scatter the copies; returns (positions, molecule index)."""
    check_positive(mean_blinks, "mean_blinks")
    mean_precision, std_precision = _check_precision(localization_precision)
    n_molecules = X.shape[0]
    if distribution == "geometric":
        # numpy's geometric counts trials (support 1, 2, ...): shift to 0, 1, ...
        counts = rng.geometric(1.0 / (1.0 + mean_blinks), size=n_molecules) - 1
    elif distribution == "poisson":
        counts = rng.poisson(mean_blinks, size=n_molecules)
    else:
        raise ValueError(
            f"distribution must be 'geometric' or 'poisson'; got {distribution!r}."
        )
    molecule = np.repeat(np.arange(n_molecules), counts)
    n_locs = molecule.size
    if std_precision > 0:
        shape = (mean_precision / std_precision) ** 2
        sigma = rng.gamma(shape, mean_precision / shape, size=n_locs)
    else:
        sigma = np.full(n_locs, mean_precision)
    positions = X[molecule] + rng.standard_normal((n_locs, 2)) * sigma[:, None]
    return positions, molecule


def add_blinking(
    X,
    *per_molecule,
    mean_blinks=DEFAULT_MEAN_BLINKS,
    distribution="geometric",
    localization_precision=DEFAULT_LOCALIZATION_PRECISION,
    random_state=None,
):
    """Simulate multiple blinking: each molecule emits several localisations.

    Reproduces the "Multiple Blinking" variants of the benchmark scenarios
    (paper, "Simulated data": "for each molecule ... 4-5 localizations on
    average were generated and distributed according to a 2-dimensional normal
    distribution centered at the molecule position, with a standard deviation
    corresponding to the localization precision").

    Parameters
    ----------
    X : array-like of shape (n_molecules, 2)
        Molecule positions in nm.
    *per_molecule : array-like of length n_molecules
        Any per-molecule arrays (cluster labels, 2-D label levels, FOV ids,
        shape classes ...); each is repeated so that every localisation
        inherits the values of its molecule.
    mean_blinks : float, default=4.0
        Mean number of localisations per molecule. The default is the value
        measured on the benchmark files (3.9-4.1; the paper says "4-5").
    distribution : {"geometric", "poisson"}, default="geometric"
        Law of the number of localisations per molecule, on {0, 1, 2, ...}.
        The geometric law matches the benchmark (about 20 % of molecules are
        never detected, variance about 20 for mean 4). Molecules with no
        localisation disappear, and so does a cluster none of whose molecules
        is detected.
    localization_precision : float or (mean, std), default=(13.5, 4.0)
        Standard deviation (nm) of the scatter of each localisation around its
        molecule, per axis. A pair draws one standard deviation per
        localisation from a gamma law with that mean and std, which reproduces
        the heavier-than-Gaussian tails measured on the benchmark (14-15 nm rms,
        excess kurtosis about 1).
    random_state : int, Generator, RandomState or None, default=None
        Seed or generator for reproducible output.

    Returns
    -------
    X_blinked : ndarray of shape (n_localizations, 2)
        The localisations, grouped by molecule (molecule order kept).
    *per_localization : ndarray
        The ``per_molecule`` arrays repeated to match ``X_blinked``. When no
        such array is passed, ``X_blinked`` alone is returned (like
        :func:`sklearn.utils.shuffle`).
    """
    X = check_coordinates(X, name="X")
    arrays = [np.asarray(a) for a in per_molecule]
    for i, array in enumerate(arrays):
        if array.ndim == 0 or array.shape[0] != X.shape[0]:
            raise ValueError(
                f"Per-molecule array #{i + 1} has {0 if array.ndim == 0 else array.shape[0]} "
                f"entries but X has {X.shape[0]} molecules; they must match."
            )
    rng = check_random_state(random_state)
    positions, molecule = _blink(rng, X, mean_blinks, distribution, localization_precision)
    if not arrays:
        return positions
    return (positions, *(array[molecule] for array in arrays))


def blink_frames(molecule, *, n_frames=10000, random_state=None):
    """Frame numbers for blinked localisations: each molecule is on in consecutive frames.

    The simplest photophysics that gives localisation files a ``frame``
    column: every molecule switches on once, at a frame drawn uniformly, and
    stays on for as many consecutive frames as it has localisations. This is
    what NeNA (:func:`sklearn_miro.parameters.nena`) relies on: a molecule
    seen in frame ``f`` is seen again, at a new random offset, in ``f + 1``.

    Parameters
    ----------
    molecule : array-like of int, shape (n_localizations,)
        Molecule of every localisation, e.g. ``np.arange(n)`` passed through
        :func:`add_blinking` as a per-molecule array.
    n_frames : int, default=10000
        Frames of the acquisition; a molecule with ``k`` localisations starts
        in ``0 .. n_frames - k`` so that it ends inside the acquisition.
    random_state : int, Generator, RandomState or None, default=None

    Returns
    -------
    frames : ndarray of shape (n_localizations,), int64

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_miro.datasets import add_blinking, blink_frames
    >>> molecules = np.random.default_rng(0).uniform(0, 5000, (100, 2))
    >>> X, molecule = add_blinking(molecules, np.arange(100), random_state=0)
    >>> frames = blink_frames(molecule, random_state=0)
    """
    molecule = np.asarray(molecule)
    if molecule.ndim != 1 or molecule.dtype.kind not in "iu":
        raise ValueError(
            "molecule must be a 1-D array of integer molecule ids, one per "
            f"localisation; got shape {molecule.shape} and dtype {molecule.dtype}."
        )
    check_positive(n_frames, "n_frames", integer=True)
    rng = check_random_state(random_state)
    ids, inverse, counts = np.unique(molecule, return_inverse=True, return_counts=True)
    inverse = inverse.ravel()
    if counts.size and counts.max() > n_frames:
        raise ValueError(
            f"A molecule has {counts.max()} localisations, more than n_frames={n_frames}."
        )
    start = rng.integers(0, n_frames - counts + 1)
    # Rank of every localisation among those of its molecule (stable order).
    order = np.argsort(inverse, kind="stable")
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.empty(molecule.size, dtype=np.int64)
    rank[order] = np.arange(molecule.size) - np.repeat(first, counts)
    return (start[inverse] + rank).astype(np.int64)


# --------------------------------------------------------------------------- #
# Assembly of several FOVs
# --------------------------------------------------------------------------- #
@dataclass
class FOVPart:
    """One simulated FOV before assembly (labels are FOV-local, -1 = background)."""

    X: np.ndarray
    labels: np.ndarray  # (n,) or (n, n_levels)
    shapes: np.ndarray | None = None


def compact_labels(labels):
    """Renumber the non-negative labels of one column to 0..k-1, keeping their order."""
    out = np.full(labels.shape, -1, dtype=np.int64)
    clustered = labels >= 0
    _, out[clustered] = np.unique(labels[clustered], return_inverse=True)
    return out


def with_background(X_clusters, labels, X_background, shapes=None, shape_background=BACKGROUND):
    """Append background localisations (label -1 at every level) to a FOV."""
    n_bg = X_background.shape[0]
    bg_labels = np.full((n_bg,) + labels.shape[1:], -1, dtype=np.int64)
    X = np.concatenate([X_clusters, X_background])
    y = np.concatenate([labels.astype(np.int64), bg_labels])
    if shapes is None:
        return FOVPart(X, y)
    return FOVPart(X, y, np.concatenate([shapes, np.full(n_bg, shape_background)]))


def assemble(parts, rng, *, blinking=None, crop_size=None):
    """Blink, crop and shuffle every FOV, then number clusters across FOVs.

    Returns ``X`` (n, 2) float64, ``labels`` (n,) or (n, k) int64 numbered
    0..n_clusters-1 in FOV order with no gaps (clusters emptied by blinking or
    cropping are dropped from the numbering), ``fov`` (n,) int64 and
    ``shapes`` (n,) str or None.
    """
    Xs, labels, fovs, shapes = [], [], [], []
    offset = None
    for fov_id, part in enumerate(parts):
        X, y, shape = part.X, part.labels, part.shapes
        if blinking is not None:
            X, molecule = _blink(
                rng,
                X,
                blinking.get("mean_blinks", DEFAULT_MEAN_BLINKS),
                blinking.get("distribution", "geometric"),
                blinking.get("localization_precision", DEFAULT_LOCALIZATION_PRECISION),
            )
            y = y[molecule]
            shape = None if shape is None else shape[molecule]
        if crop_size is not None:
            inside = np.all((X >= 0) & (X <= crop_size), axis=1)
            X, y = X[inside], y[inside]
            shape = None if shape is None else shape[inside]
        order = rng.permutation(X.shape[0])
        X, y = X[order], y[order]
        y2 = y[:, None] if y.ndim == 1 else y
        if offset is None:
            offset = np.zeros(y2.shape[1], dtype=np.int64)
        # Make FOV-local ids globally unique; gaps are removed by compact_labels.
        y2 = np.where(y2 >= 0, y2 + offset, -1)
        if y2.shape[0]:
            offset = np.maximum(offset, y2.max(axis=0) + 1)
        Xs.append(X)
        labels.append(y2.reshape(y.shape))
        fovs.append(np.full(X.shape[0], fov_id, dtype=np.int64))
        if shape is not None:
            shapes.append(shape[order])
    X = np.concatenate(Xs).astype(np.float64, copy=False)
    y = np.concatenate(labels)
    if y.ndim == 1:
        y = compact_labels(y)
    else:
        y = np.column_stack([compact_labels(y[:, k]) for k in range(y.shape[1])])
    fov = np.concatenate(fovs)
    shape = np.concatenate(shapes) if shapes else None
    return X, y, fov, shape
