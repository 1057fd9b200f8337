"""Gaussian (and elliptical) nanocluster FOVs: the benchmark scenarios of
Nieves et al. (2023) used in the MIRO paper, and the adjacent-cluster pairs of
the paper's Fig. 4a."""

from __future__ import annotations

import numbers

import numpy as np

from .._validation import check_positive, check_random_state
from ._base import (
    assemble,
    check_blinking,
    check_count_spec,
    check_float_spec,
    check_fraction,
    check_n_fovs,
    draw_background,
    draw_centers,
    draw_counts,
    draw_floats,
    n_background_for,
    rotate,
    with_background,
)

_POPULATION_KEYS = ("n_clusters", "n_localizations", "cluster_std", "aspect_ratio")

# Benchmark cluster shapes measured on the shipped files (nieves2023, ground
# truth, all 50 FOVs): pooled within-cluster std per axis is 25.0 nm in
# scenarios 2, 4, 5 and 8; scenario 6 ellipses have a std of 77 nm along the
# major and 14 nm along the minor axis (the paper calls them "3:1").
BENCHMARK_CLUSTER_STD = 25.0
SCENARIO_6_MAJOR_STD = 77.0
SCENARIO_6_ASPECT_RATIO = 5.5

_SCENARIOS = {
    2: dict(n_clusters=20, n_localizations=15, background_fraction=0.5),
    3: dict(n_clusters=20, n_localizations=15, background_fraction=0.8),
    4: dict(n_clusters=20, n_localizations=5, background_fraction=0.75),
    5: dict(n_clusters=100, n_localizations=15, background_fraction=0.5),
    6: dict(
        n_clusters=20,
        n_localizations=50,
        cluster_std=SCENARIO_6_MAJOR_STD,
        aspect_ratio=SCENARIO_6_ASPECT_RATIO,
        background_fraction=0.5,
    ),
    7: dict(
        populations=[
            dict(n_clusters=10, cluster_std=25.0),
            dict(n_clusters=10, cluster_std=75.0),
        ],
        n_localizations=15,
        background_fraction=0.5,
    ),
    8: dict(
        populations=[dict(n_clusters=10, n_localizations=5), dict(n_clusters=10, n_localizations=15)],
        background_fraction=0.5,
    ),
    9: dict(
        populations=[
            dict(n_clusters=10, n_localizations=15, cluster_std=25.0),
            dict(n_clusters=10, n_localizations=135, cluster_std=75.0),
        ],
        background_fraction=0.5,
    ),
    10: dict(n_clusters=20, n_localizations=15, background_fraction=0.5, background_gradient=1.0),
}


def _check_populations(populations, defaults):
    if populations is None:
        populations = [{}]
    if isinstance(populations, dict) or not len(populations):
        raise ValueError(
            "populations must be a non-empty list of dicts with keys among "
            f"{_POPULATION_KEYS}; got {populations!r}."
        )
    checked = []
    for i, population in enumerate(populations):
        unknown = set(population) - set(_POPULATION_KEYS)
        if unknown:
            raise ValueError(
                f"populations[{i}] has unknown key(s) {sorted(unknown)}; accepted: "
                f"{_POPULATION_KEYS}."
            )
        merged = {**defaults, **population}
        aspect = check_float_spec(merged["aspect_ratio"], f"populations[{i}] aspect_ratio")
        if min(np.atleast_1d(aspect)) < 1:
            raise ValueError(
                "aspect_ratio is the ratio of the major to the minor standard "
                f"deviation and must be >= 1; got {merged['aspect_ratio']!r}."
            )
        checked.append(
            dict(
                n_clusters=check_count_spec(merged["n_clusters"], "n_clusters", allow_zero=True),
                n_localizations=check_count_spec(merged["n_localizations"], "n_localizations"),
                cluster_std=check_float_spec(merged["cluster_std"], "cluster_std"),
                aspect_ratio=aspect,
            )
        )
    return checked


def _gaussian_fov(rng, populations, fov_size, margin, min_center_distance):
    """Clustered molecules of one FOV: Gaussian blobs, possibly elongated."""
    n_per_population = [int(draw_counts(rng, p["n_clusters"], 1, "n_clusters")[0]) for p in populations]
    centers = draw_centers(
        rng, sum(n_per_population), fov_size, margin=margin, min_distance=min_center_distance
    )
    sizes, major, aspect = [], [], []
    for population, n in zip(populations, n_per_population):
        sizes.append(draw_counts(rng, population["n_localizations"], n, "n_localizations"))
        major.append(draw_floats(rng, population["cluster_std"], n))
        aspect.append(draw_floats(rng, population["aspect_ratio"], n))
    sizes, major, aspect = np.concatenate(sizes), np.concatenate(major), np.concatenate(aspect)
    orientation = rng.uniform(0.0, np.pi, size=len(sizes))
    owner = np.repeat(np.arange(len(sizes)), sizes)
    stds = np.column_stack((major, major / aspect))[owner]
    offsets = rotate(rng.standard_normal((owner.size, 2)) * stds, orientation[owner])
    return centers[owner] + offsets, owner


def make_gaussian_clusters(
    n_fovs=1,
    *,
    n_clusters=20,
    n_localizations=15,
    cluster_std=BENCHMARK_CLUSTER_STD,
    aspect_ratio=1.0,
    populations=None,
    background_fraction=0.5,
    n_background=None,
    background_gradient=0.0,
    fov_size=2000.0,
    margin=0.0,
    min_center_distance=0.0,
    blinking=False,
    crop=False,
    random_state=None,
):
    """FOVs of Gaussian nanoclusters over a uniform background.

    The generic simulator behind benchmark scenarios 2-10 of Nieves et al.
    (2023) used throughout the MIRO paper ("Simulated data"; Fig. 2a-d,
    Tables S3/S4): cluster centres uniform over the FOV, the molecules of a
    cluster drawn from a 2-D normal law around its centre, the other molecules
    uniform over the FOV. See :func:`make_benchmark_scenario` for the
    scenarios' settings.

    Parameters
    ----------
    n_fovs : int, default=1
        Number of fields of view.
    n_clusters : int or (low, high), default=20
        Clusters per FOV (a pair draws uniformly from ``low..high`` inclusive).
    n_localizations : int, (low, high) or callable, default=15
        Molecules per cluster. A callable ``f(rng, size)`` returns the counts,
        e.g. ``lambda rng, n: rng.geometric(1 / 25, n)`` for the paper's
        integrin training clusters (geometric, mean 25).
    cluster_std : float or (low, high), default=25.0
        Standard deviation (nm) of a cluster along its major axis; a pair
        draws one value per cluster uniformly. 25 nm is the width measured on
        the benchmark files (the paper does not state it).
    aspect_ratio : float or (low, high), default=1.0
        Ratio of major to minor standard deviation (>= 1); clusters get a
        uniformly random orientation.
    populations : list of dict, default=None
        Sub-populations of clusters (scenarios 7, 8 and 9), each a dict with
        any of ``n_clusters``, ``n_localizations``, ``cluster_std`` and
        ``aspect_ratio``; missing keys take the values of the arguments above.
    background_fraction : float in [0, 1), default=0.5
        Fraction of all molecules of a FOV that are background
        (1 - "clustered fraction").
    n_background : int, default=None
        Fixed number of background molecules per FOV, overriding
        ``background_fraction`` (handy for tiny test configurations).
    background_gradient : float in [0, 1], default=0.0
        Share of the background drawn from a density rising linearly from the
        left edge to the right edge (scenario 10); 0 is uniform.
    fov_size : float, default=2000.0
        Side of the square FOV in nm; coordinates start at 0.
    margin : float, default=0.0
        Cluster centres are uniform in ``[margin, fov_size - margin]``. With
        0 (default, like the benchmark) clusters near an edge spill over it by
        a few standard deviations; the background always stays inside.
    min_center_distance : float, default=0.0
        Minimum distance between cluster centres in nm (0: clusters may
        overlap, as in the benchmark).
    blinking : bool or dict, default=False
        Replace every molecule by several localisations (see
        :func:`add_blinking`); a dict passes options to it.
    crop : bool, default=False
        Drop localisations outside ``[0, fov_size]^2``. The benchmark's
        blinking files are cropped this way; its ground-truth files are not.
    random_state : int, Generator, RandomState or None, default=None
        Seed for reproducible output.

    Returns
    -------
    X : ndarray of shape (n_localizations, 2)
        Coordinates in nm (float64), each FOV in its own frame ``[0, fov_size]``.
    y : ndarray of shape (n_localizations,)
        Cluster labels, -1 for background, clusters numbered 0..n_clusters-1
        uniquely across FOVs (in FOV order).
    fov : ndarray of shape (n_localizations,)
        FOV id 0..n_fovs-1; localisations are shuffled within a FOV.
    """
    n_fovs = check_n_fovs(n_fovs)
    populations = _check_populations(
        populations,
        dict(
            n_clusters=n_clusters,
            n_localizations=n_localizations,
            cluster_std=cluster_std,
            aspect_ratio=aspect_ratio,
        ),
    )
    background_fraction = check_fraction(background_fraction, "background_fraction")
    check_positive(n_background, "n_background", allow_zero=True, integer=True, allow_none=True)
    if (isinstance(background_gradient, bool) or not isinstance(background_gradient, numbers.Real)
            or not 0 <= background_gradient <= 1):
        raise ValueError(f"background_gradient must be a number in [0, 1]; got {background_gradient!r}.")
    fov_size = float(check_positive(fov_size, "fov_size"))
    check_positive(margin, "margin", allow_zero=True)
    check_positive(min_center_distance, "min_center_distance", allow_zero=True)
    blinking = check_blinking(blinking)
    rng = check_random_state(random_state)

    parts = []
    for _ in range(n_fovs):
        X_clusters, owner = _gaussian_fov(rng, populations, fov_size, margin, min_center_distance)
        n_bg = n_background_for(owner.size, background_fraction, n_background)
        parts.append(
            with_background(X_clusters, owner, draw_background(rng, n_bg, fov_size, background_gradient))
        )
    X, y, fov, _ = assemble(parts, rng, blinking=blinking, crop_size=fov_size if crop else None)
    return X, y, fov


def make_ellipses(
    n_fovs=1,
    *,
    n_clusters=20,
    n_localizations=50,
    major_std=SCENARIO_6_MAJOR_STD,
    aspect_ratio=SCENARIO_6_ASPECT_RATIO,
    background_fraction=0.5,
    n_background=None,
    fov_size=2000.0,
    margin=0.0,
    min_center_distance=0.0,
    blinking=False,
    crop=False,
    random_state=None,
):
    """FOVs of elliptical Gaussian clusters (benchmark scenario 6).

    Scenario 6 of the paper (Fig. 2d, Table 1): "20 elliptically shaped
    clusters with aspect ratio 3:1 and each having 50 molecules, with 50 % of
    the total molecules being clustered", in 2000 x 2000 nm FOVs. The paper
    gives no widths; the defaults are measured on the benchmark files, whose
    clusters have a standard deviation of about 77 nm along the major axis
    and 14 nm along the minor one (a ratio of 5.5 between standard deviations;
    the "3:1" of the paper matches 75 nm against the 25 nm width of the other
    scenarios). Pass ``aspect_ratio=3`` for a literal 3:1 ratio.

    Parameters
    ----------
    major_std : float or (low, high), default=77.0
        Standard deviation along the major axis, nm.
    aspect_ratio : float or (low, high), default=5.5
        Major over minor standard deviation.

    All other parameters and the return values are those of
    :func:`make_gaussian_clusters`.
    """
    return make_gaussian_clusters(
        n_fovs,
        n_clusters=n_clusters,
        n_localizations=n_localizations,
        cluster_std=major_std,
        aspect_ratio=aspect_ratio,
        background_fraction=background_fraction,
        n_background=n_background,
        fov_size=fov_size,
        margin=margin,
        min_center_distance=min_center_distance,
        blinking=blinking,
        crop=crop,
        random_state=random_state,
    )


def make_benchmark_scenario(scenario, *, blinking=False, n_fovs=1, random_state=None, **params):
    """FOVs simulated like scenario 2-10 of the benchmark (Nieves et al. 2023).

    Recipes of the paper's "Simulated data" section, all in 2000 x 2000 nm
    FOVs with clusters of standard deviation 25 nm (measured on the files; the
    paper does not give it) unless stated:

    ====  ===========================================================  =====
    sc.   clusters                                                     bg
    ====  ===========================================================  =====
    2     20 x 15 molecules                                             50 %
    3     20 x 15 molecules                                             80 %
    4     20 x 5 molecules                                              75 %
    5     100 x 15 molecules                                            50 %
    6     20 ellipses x 50 molecules (std 77 x 14 nm, see make_ellipses)  50 %
    7     10 of width 25 nm + 10 of width 75 nm, 15 molecules each (*)  50 %
    8     10 x 5 + 10 x 15 molecules                                    50 %
    9     10 x 15 molecules (25 nm) + 10 x 135 molecules (75 nm)        50 %
    10    20 x 15 molecules, background denser to the right (**)        50 %
    ====  ===========================================================  =====

    (*) The paper does not give the number of molecules of scenario 7; 15 is
    the count of the reference scenario 2 (scenario 9 keeps the density of the
    25 nm clusters with 135 = 15 x 3^2 molecules, which implies that scenario 7
    does not). (**) The paper does not quantify the gradient; the default is
    ``background_gradient=1``: the background density rises linearly from 0 at
    the left edge to twice its mean at the right edge.

    With ``blinking=True`` every molecule gives a geometric number of
    localisations (mean 4) scattered by the localisation precision, and
    localisations outside the FOV are dropped, as in the benchmark's
    "Multiple Blinking" files.

    Parameters
    ----------
    scenario : int in 2..10
    blinking : bool or dict, default=False
    n_fovs : int, default=1
    random_state : int, Generator, RandomState or None, default=None
    **params
        Any other parameter of :func:`make_gaussian_clusters` (e.g.
        ``fov_size``, ``n_background``), overriding the scenario's value.
        In the two-population scenarios 7-9 the per-population counts and
        widths come from ``populations``; pass your own to change them.

    Returns
    -------
    X, y, fov : see :func:`make_gaussian_clusters`.
    """
    if scenario not in _SCENARIOS:
        raise ValueError(
            f"scenario must be one of {sorted(_SCENARIOS)} (the paper's benchmark "
            f"scenarios; scenario 1 is not simulated); got {scenario!r}."
        )
    scenario_populations = _SCENARIOS[scenario].get("populations")
    if scenario_populations is not None and "populations" not in params:
        # The populations set these: an override of the top-level value would do nothing.
        ignored = sorted(set(params) & {key for population in scenario_populations for key in population})
        if ignored:
            raise ValueError(
                f"Scenario {scenario} sets {ignored} per population, so {ignored[0]}=... would be "
                "ignored; pass populations=[{...}, {...}] with your values instead."
            )
    settings = {**_SCENARIOS[scenario], "crop": check_blinking(blinking) is not None, **params}
    return make_gaussian_clusters(
        n_fovs, blinking=blinking, random_state=random_state, **settings
    )


def make_cluster_pairs(
    n_fovs=1,
    *,
    distance=2.0,
    n_pairs=10,
    cluster_std=25.0,
    mean_localizations=90.0,
    background_fraction=0.0,
    n_background=None,
    fov_size=2000.0,
    pair_separation=None,
    blinking=False,
    return_pairs=False,
    random_state=None,
):
    """Pairs of adjacent Gaussian clusters at a chosen distance (paper Fig. 4a).

    Paper, "Detecting heterogeneous and dense clusters" and "Simulated data":
    pairs of clusters "with similar sizes but containing different numbers of
    localizations", each localisation drawn from a 2-D normal law of standard
    deviation 25 nm, the number of localisations per cluster from a geometric
    law with mean 90, the two centres ``distance * cluster_std`` apart.

    Parameters
    ----------
    n_fovs : int, default=1
    distance : float, default=2.0
        Centre-to-centre distance in units of ``cluster_std`` (the x-axis of
        Fig. 4a).
    n_pairs : int or (low, high), default=10
        Pairs per FOV.
    cluster_std : float, default=25.0
        Standard deviation (nm) of each cluster.
    mean_localizations : float, default=90.0
        Mean of the geometric law (support 1, 2, ...) of localisations per
        cluster; the two clusters of a pair are drawn independently.
    background_fraction : float in [0, 1), default=0.0
        The paper mentions no background for this test.
    n_background : int, default=None
        Fixed number of background localisations per FOV.
    fov_size : float, default=2000.0
    pair_separation : float, default=None
        Minimum distance between the midpoints of two pairs, in nm; default
        ``(distance + 8) * cluster_std``, so that pairs do not interact. Pairs
        are kept 3 standard deviations inside the FOV.
    blinking : bool or dict, default=False
    return_pairs : bool, default=False
        Also return the pair id of every localisation (-1 for background).
    random_state : int, Generator, RandomState or None, default=None

    Returns
    -------
    X, y, fov : see :func:`make_gaussian_clusters`.
    pair : ndarray of shape (n_localizations,)
        Only with ``return_pairs=True``: pair ids, unique across FOVs.
    """
    n_fovs = check_n_fovs(n_fovs)
    check_positive(distance, "distance", allow_zero=True)
    n_pairs = check_count_spec(n_pairs, "n_pairs")
    cluster_std = float(check_positive(cluster_std, "cluster_std"))
    mean_localizations = check_positive(mean_localizations, "mean_localizations")
    if mean_localizations < 1:
        raise ValueError(f"mean_localizations must be >= 1; got {mean_localizations!r}.")
    background_fraction = check_fraction(background_fraction, "background_fraction")
    check_positive(n_background, "n_background", allow_zero=True, integer=True, allow_none=True)
    fov_size = float(check_positive(fov_size, "fov_size"))
    if pair_separation is None:
        pair_separation = (distance + 8.0) * cluster_std
    check_positive(pair_separation, "pair_separation", allow_zero=True)
    blinking = check_blinking(blinking)
    rng = check_random_state(random_state)

    half = 0.5 * distance * cluster_std
    parts = []
    for _ in range(n_fovs):
        n = int(draw_counts(rng, n_pairs, 1, "n_pairs")[0])
        midpoints = draw_centers(
            rng, n, fov_size, margin=half + 3 * cluster_std, min_distance=pair_separation
        )
        direction = rng.uniform(0.0, 2 * np.pi, size=n)
        step = half * np.column_stack((np.cos(direction), np.sin(direction)))
        centers = np.empty((2 * n, 2))
        centers[0::2], centers[1::2] = midpoints - step, midpoints + step
        sizes = rng.geometric(1.0 / mean_localizations, size=2 * n)
        owner = np.repeat(np.arange(2 * n), sizes)
        X_clusters = centers[owner] + cluster_std * rng.standard_normal((owner.size, 2))
        # Two label levels: the cluster, and the pair it belongs to.
        labels = np.column_stack((owner, owner // 2))
        n_bg = n_background_for(owner.size, background_fraction, n_background)
        parts.append(with_background(X_clusters, labels, draw_background(rng, n_bg, fov_size)))
    X, labels, fov, _ = assemble(parts, rng, blinking=blinking)
    if return_pairs:
        return X, labels[:, 0], fov, labels[:, 1]
    return X, labels[:, 0], fov


__all__ = [
    "make_benchmark_scenario",
    "make_cluster_pairs",
    "make_ellipses",
    "make_gaussian_clusters",
]
