"""Checks of new data against what a model was trained on (units, graph connectivity).

A MIRO model works in the length units it was trained in: its connectivity
radius, its length scale and its DBSCAN ``eps`` are lengths. Coordinates given
in other units (micrometres or metres instead of nanometres, camera pixels)
produce graphs without edges (every localisation isolated, 100 % noise) or one
graph where everything is connected (one giant cluster), without any error.
The fitted model therefore remembers the typical **localisation spacing** of
its training data (the median distance from a localisation to its nearest
neighbour, median over the FOVs) and :func:`unit_mismatch_message` compares
new data with it: a ratio beyond :data:`UNIT_MISMATCH_FACTOR` (10) either way
is reported with the likely cause and the fix.

The nearest-neighbour distance is used rather than the bounding-box density
because it does not depend on the shape of the FOV or on outliers; stacking
several FOVs without ``groups`` changes it only by the square root of their
number (a factor 10 needs 100 stacked FOVs), so a ratio of 10 or more points to
different units, not to stacking.

A model with ``fov_normalization`` ("minmax", "reference") scales every FOV to
[0, 1] per axis before building its graph: there the spacing is the same in nm
and in µm, so the units are checked on the coordinates as given, against the
training data's spacing in the units it was given in
(``FittedMIRO.input_spacing``). Such a model's collapse follows any change of
units (it returns the same points in the new units), but the lengths fitted
with it do not (a clusterer's ``eps``). Its normalised spacing is compared as
well (:func:`normalised_spacing_message`): it depends on the number of
localisations per FOV side, not on the units.

Stacking is looked for with the localisation density instead (localisations
per area of the bounding box, against the training FOVs' median density): ``k``
FOVs stacked on one coordinate range have about ``k`` times the density of one
of them. Real FOVs of one sample differ too (the ten FGFR1 FOVs of the
shared data: 0.65 to 1.69 times their median density), so only a ratio beyond
:data:`STACKING_DENSITY_RATIO` (1.8) is reported. One FOV twice as dense as
the training data cannot be told from two stacked FOVs; it gets the warning
too, which names both causes: a FOV that much denser than the data the
network was trained on is itself a reason to check its results.
"""

from __future__ import annotations

import contextlib
import contextvars

import numpy as np
from scipy.spatial import cKDTree

__all__ = [
    "STACKING_DENSITY_RATIO",
    "UNIT_MISMATCH_FACTOR",
    "check_connectivity",
    "connected_fraction",
    "localization_spacing",
    "nearest_neighbour_distances",
    "normalised_spacing_message",
    "domain_checks_enabled",
    "skip_domain_checks",
    "unit_mismatch_message",
    "UnitMismatchWarning",
]

# New data whose localisation spacing differs from the training data's by more
# than this factor (either way) gets a "different units" warning.
UNIT_MISMATCH_FACTOR = 10.0

# New data given without groups whose localisation density exceeds the training
# FOVs' by more than this factor get a "stacked FOVs, or a denser sample?"
# warning. k stacked FOVs like the training ones have about k times their
# density, so two stacked FOVs are caught; FOVs of one sample differ by less
# (0.65 to 1.69 times their median for the ten shared FGFR1 FOVs). One FOV twice
# as dense as the training data looks like two stacked FOVs and is reported too:
# the message names both causes, and such a FOV is far enough from the training
# data for its results to deserve a check.
STACKING_DENSITY_RATIO = 1.8


class UnitMismatchWarning(UserWarning):
    """New data's localisation spacing is far from the training data's.

    Usually coordinates in other units (pixels, um) than the model was trained
    in. For a model with ``fov_normalization``, also FOVs whose spacing in the
    normalised space the network sees is far from the training FOVs' (many
    more or far fewer localisations per FOV side; the units do not change
    it). Filter it with ``warnings.filterwarnings("ignore",
    category=UnitMismatchWarning)`` where a different spacing is expected.
    ``MIROClusterer`` does not check its own output when it applies the
    network again (``collapse_passes=2``, or the extra pass that
    ``collapse_passes="auto"`` scores): those localisations were brought
    together on purpose (:func:`skip_domain_checks`).
    """


# Per thread and per asyncio task (a context variable, not a warnings filter,
# which is process-wide and not thread-safe): whether transforms check their
# input against the training data.
_DOMAIN_CHECKS = contextvars.ContextVar("sklearn_miro_domain_checks", default=True)


def domain_checks_enabled():
    """Whether MIRO transforms check their input's units and stacking (see :func:`skip_domain_checks`)."""
    return _DOMAIN_CHECKS.get()


@contextlib.contextmanager
def skip_domain_checks():
    """Within this block, in this thread only, MIRO transforms skip the domain checks.

    The checks (different units, stacked FOVs) guard the user's own
    coordinates. Code that feeds a model its own output, whose localisations
    it has just brought together, uses this to avoid false alarms.
    """
    token = _DOMAIN_CHECKS.set(False)
    try:
        yield
    finally:
        _DOMAIN_CHECKS.reset(token)


def nearest_neighbour_distances(X):
    """Distance from every localisation to its nearest other localisation.

    Parameters
    ----------
    X : ndarray of shape (n, 2)

    Returns
    -------
    distances : ndarray of shape (n,)
        ``inf`` when ``n < 2``. Computed relative to the FOV's corner, so large
        stage offsets do not cost precision.
    """
    X = np.asarray(X, dtype=np.float64)
    if X.shape[0] < 2:
        return np.full(X.shape[0], np.inf)
    relative = X - X.min(axis=0)
    distances, _ = cKDTree(relative).query(relative, k=2)
    return distances[:, 1]


def localization_spacing(X, fov_indices):
    """Typical spacing of localisations: median nearest-neighbour distance, median over FOVs.

    Parameters
    ----------
    X : ndarray of shape (n, 2)
    fov_indices : list of ndarray
        Row indices of every FOV.

    Returns
    -------
    spacing : float
        NaN when no FOV has two distinct localisations.
    """
    medians = []
    for idx in fov_indices:
        distances = nearest_neighbour_distances(X[idx])
        distances = distances[np.isfinite(distances) & (distances > 0)]
        if len(distances):
            medians.append(float(np.median(distances)))
    return float(np.median(medians)) if medians else float("nan")


def connected_fraction(X, fov_indices, radius):
    """Fraction of localisations with at least one graph edge (a neighbour closer than ``radius``).

    The nearest neighbour of a point is always one of its Delaunay neighbours,
    so this is exactly the fraction of non-isolated nodes of the MIRO graphs.
    """
    n_connected, n = 0, 0
    for idx in fov_indices:
        distances = nearest_neighbour_distances(X[idx])
        n_connected += int(np.sum(distances < radius))
        n += len(idx)
    return n_connected / n if n else 0.0


def check_connectivity(X, fov_indices, radius, *, error_below=0.01, warn_below=0.5):
    """Refuse (or warn about) a connectivity radius that leaves the graphs without edges.

    Parameters
    ----------
    X : ndarray of shape (n, 2)
        Training coordinates, in the space in which ``radius`` applies.
    fov_indices : list of ndarray
    radius : float
    error_below, warn_below : float
        Fractions of connected localisations below which a ValueError is
        raised or a UserWarning given.

    Returns
    -------
    fraction : float
        Fraction of localisations with at least one neighbour closer than ``radius``.
    """
    import warnings

    from ._validation import caller_stacklevel

    fraction = connected_fraction(X, fov_indices, radius)
    if fraction >= warn_below:
        return fraction
    spacing = localization_spacing(X, fov_indices)
    text = (
        f"connectivity_radius={radius:.4g} is short for these data: only {100 * fraction:.1f} % "
        f"of the localisations have a neighbour closer than it (median nearest-neighbour "
        f"spacing {spacing:.4g}), so the graphs have {'no' if fraction == 0 else 'few'} edges "
        "and MIRO {} learn. Use a radius of several spacings (connectivity_radius='auto' takes "
        "3.5 mean spacings) and check the units of the coordinates."
    )
    if fraction < error_below:
        raise ValueError(text.format("cannot"))
    warnings.warn(text.format("can hardly"), UserWarning, stacklevel=caller_stacklevel())
    return fraction


def _likely_cause(ratio):
    """A guess of the unit conversion that turns the new data into training units."""
    log = np.log10(ratio)
    guesses = (
        (3.0, "coordinates in µm while the model was trained in nm? multiply them by 1000"),
        (6.0, "coordinates in mm while the model was trained in nm? multiply them by 1e6"),
        (9.0, "coordinates in m while the model was trained in nm? multiply them by 1e9"),
        (-3.0, "coordinates in pm, or a model trained in µm? divide them by 1000"),
        (-6.0, "coordinates in a unit 1e6 times smaller than the training data's? divide them by 1e6"),
        (-9.0, "coordinates in a unit 1e9 times smaller than the training data's? divide them by 1e9"),
    )
    for exponent, text in guesses:
        if abs(log - exponent) < 0.5:
            return text
    if 1.5 <= log < 2.5:
        return (
            "coordinates in camera pixels while the model was trained in nm? multiply them "
            "by the pixel size in nm (read_localizations(..., pixel_size=...) does it)"
        )
    return f"coordinates in another unit? multiply them by about {ratio:.3g} to match the training data"


def _times(value):
    return f"{value:,.0f}" if value < 1e7 else f"{value:.2g}"


def _spacing_ratio(spacing, training_spacing, factor):
    """``training_spacing / spacing`` when it lies beyond ``factor`` either way, else None (also when unknown)."""
    if not (np.isfinite(spacing) and np.isfinite(training_spacing)) or spacing <= 0:
        return None
    ratio = training_spacing / spacing
    return None if 1.0 / factor <= ratio <= factor else ratio


def unit_mismatch_message(spacing, training_spacing, *, factor=UNIT_MISMATCH_FACTOR, what="X"):
    """A warning text when ``spacing`` and ``training_spacing`` differ by more than ``factor``.

    Parameters
    ----------
    spacing : float
        Localisation spacing of the new data (:func:`localization_spacing`).
    training_spacing : float
        That of the training data; NaN (unknown, e.g. a published checkpoint)
        disables the check.
    factor : float, default=10
    what : str
        Name of the data in the message.

    Returns
    -------
    message : str or None
        None when the spacings agree within ``factor`` (or either is unknown).
    """
    ratio = _spacing_ratio(spacing, training_spacing, factor)
    if ratio is None:
        return None
    return (
        f"{what} looks like it is in different units from the training data: its median "
        f"localisation spacing is {spacing:.3g} against {training_spacing:.3g} in training "
        f"({_times(max(ratio, 1 / ratio))} times {'smaller' if ratio > 1 else 'larger'}). Likely "
        f"cause and fix: {_likely_cause(ratio)}. Results in other units are meaningless (one giant "
        "cluster or only noise)."
    )


def normalised_spacing_message(spacing, training_spacing, fov_normalization, *, factor=UNIT_MISMATCH_FACTOR,
                               what="X"):
    """A warning text when the spacing a normalised model's network sees is ``factor`` times off.

    With ``fov_normalization`` "minmax" or "reference" every FOV is scaled to
    [0, 1] per axis before its graph is built: its spacing there does not
    depend on the units (those are checked on the raw coordinates, see
    :func:`unit_mismatch_message`) but on how many localisations the FOV
    holds per side. A FOV far from the training FOVs in that respect (a much
    larger field, or several FOVs stacked without ``groups``) gives the
    network graphs of another scale than it was trained on.

    Parameters
    ----------
    spacing : float
        Localisation spacing of the new data in the normalised space
        (:func:`localization_spacing` of the normalised FOVs).
    training_spacing : float
        That of the training data (``FittedMIRO.localization_spacing``); NaN
        disables the check.
    fov_normalization : {"minmax", "reference"}
        The model's normalisation, named in the message.
    factor : float, default=10
    what : str
        Name of the data in the message.

    Returns
    -------
    message : str or None
        None when the spacings agree within ``factor`` (or either is unknown).
    """
    ratio = _spacing_ratio(spacing, training_spacing, factor)
    if ratio is None:
        return None
    if ratio > 1:
        how, count, cause = "smaller", "many more", "a much larger field, or several FOVs stacked without groups="
    else:
        how, count, cause = "larger", "far fewer", "a much smaller or sparser field"
    return (
        f"{what} does not look like the training data in the space the model's network sees: "
        f"fov_normalization={fov_normalization!r} scales every FOV to [0, 1], where its median "
        f"localisation spacing is {spacing:.3g} against {training_spacing:.3g} in training "
        f"({_times(max(ratio, 1 / ratio))} times {how}). Units do not change that spacing: the FOV "
        f"holds {count} localisations per side than the training FOVs ({cause}), so the network "
        "sees graphs of another scale than it was trained on. Give it FOVs like the training ones "
        "(e.g. cut a large field into pieces of their size), or use a model fitted with "
        "fov_normalization=None."
    )
