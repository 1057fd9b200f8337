"""Shaped clusters: rings and C-shapes (paper Fig. 2e-f) and mixtures of
shapes with per-localisation shape classes (paper Fig. 3)."""

from __future__ import annotations

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
from ._nanoclusters import SCENARIO_6_ASPECT_RATIO, SCENARIO_6_MAJOR_STD

SHAPES = ("spot", "ellipse", "ring", "c_shape")
"""Shape classes known to :func:`make_multishape`."""

# Per-shape recipes. Rings and C-shapes follow the paper's "Simulated data"
# section; spots and ellipses the benchmark clusters (25 nm; scenario 6's
# 77 x 14 nm ellipses). The paper gives no recipe for its mixtures (Fig. 3), so
# spots and ellipses get the C-shapes' 30-60 localisations: counts alone then
# do not give the class away.
SHAPE_DEFAULTS = {
    "spot": dict(n_localizations=(30, 60), cluster_std=25.0),
    "ellipse": dict(
        n_localizations=(30, 60), major_std=SCENARIO_6_MAJOR_STD, aspect_ratio=SCENARIO_6_ASPECT_RATIO
    ),
    "ring": dict(n_localizations=(60, 80), radius=250.0, radial_std=50.0),
    "c_shape": dict(n_localizations=(30, 60), radius=250.0, radial_std=50.0, arc=np.pi),
}

_ALIASES = {
    "spots": "spot",
    "gaussian": "spot",
    "circle": "spot",
    "ellipses": "ellipse",
    "elliptical": "ellipse",
    "rings": "ring",
    "c": "c_shape",
    "cshape": "c_shape",
    "c_shapes": "c_shape",
    "c_shaped": "c_shape",
}


def _canonical_shape(name):
    if not isinstance(name, str):
        raise ValueError(f"Shape names must be strings among {SHAPES}; got {name!r}.")
    key = name.strip().lower().replace("-", "_").replace(" ", "_")
    key = _ALIASES.get(key, key)
    if key not in SHAPES:
        raise ValueError(f"Unknown shape {name!r}; known shapes: {SHAPES}.")
    return key


def _check_shape_params(shape, overrides):
    params = {**SHAPE_DEFAULTS[shape], **(overrides or {})}
    unknown = set(params) - set(SHAPE_DEFAULTS[shape])
    if unknown:
        raise ValueError(
            f"Unknown parameter(s) {sorted(unknown)} for shape {shape!r}; accepted: "
            f"{sorted(SHAPE_DEFAULTS[shape])}."
        )
    checked = {
        "n_localizations": check_count_spec(params["n_localizations"], f"{shape} n_localizations")
    }
    for key, value in params.items():
        if key == "n_localizations":
            continue
        allow_zero = key == "radial_std"
        checked[key] = check_float_spec(value, f"{shape} {key}", allow_zero=allow_zero)
    if shape == "ellipse" and min(np.atleast_1d(checked["aspect_ratio"])) < 1:
        raise ValueError(f"ellipse aspect_ratio must be >= 1; got {params['aspect_ratio']!r}.")
    return checked


def _shape_points(rng, shape, params, centers, sizes):
    """Localisations of clusters of one shape around ``centers``."""
    n = len(sizes)
    owner = np.repeat(np.arange(n), sizes)
    m = owner.size
    if shape == "spot":
        std = draw_floats(rng, params["cluster_std"], n)
        return centers[owner] + rng.standard_normal((m, 2)) * std[owner, None], owner
    if shape == "ellipse":
        major = draw_floats(rng, params["major_std"], n)
        minor = major / draw_floats(rng, params["aspect_ratio"], n)
        orientation = rng.uniform(0.0, np.pi, size=n)
        offsets = rng.standard_normal((m, 2)) * np.column_stack((major, minor))[owner]
        return centers[owner] + rotate(offsets, orientation[owner]), owner
    # Rings and C-shapes: angles uniform along the arc (a full circle for
    # rings), distances from the centre normal around the radius.
    radius = draw_floats(rng, params["radius"], n)
    arc = 2 * np.pi if shape == "ring" else draw_floats(rng, params["arc"], n)[owner]
    phase = rng.uniform(0.0, 2 * np.pi, size=n)
    theta = phase[owner] + arc * rng.random(m)
    r = radius[owner] + draw_floats(rng, params["radial_std"], n)[owner] * rng.standard_normal(m)
    return centers[owner] + r[:, None] * np.column_stack((np.cos(theta), np.sin(theta))), owner


def _simulate_shapes(
    shapes,
    n_fovs,
    n_clusters,
    shape_params,
    background_fraction,
    n_background,
    fov_size,
    margin,
    min_center_distance,
    blinking,
    crop,
    random_state,
):
    n_fovs = check_n_fovs(n_fovs)
    background_fraction = check_fraction(background_fraction, "background_fraction")
    check_positive(n_background, "n_background", allow_zero=True, integer=True, allow_none=True)
    fov_size = float(check_positive(fov_size, "fov_size"))
    check_positive(margin, "margin", allow_zero=True)
    check_positive(min_center_distance, "min_center_distance", allow_zero=True)
    blinking = check_blinking(blinking)
    if isinstance(n_clusters, dict):
        n_clusters = {_canonical_shape(k): v for k, v in n_clusters.items()}
        missing = [s for s in shapes if s not in n_clusters]
        if missing:
            raise ValueError(f"n_clusters has no entry for shape(s) {missing}.")
        unused = [s for s in n_clusters if s not in shapes]
        if unused:
            raise ValueError(
                f"n_clusters has entries for shape(s) {unused} that are not in shapes {list(shapes)}; "
                "add them to shapes or remove them."
            )
    else:
        n_clusters = {s: n_clusters for s in shapes}
    counts_spec = {
        s: check_count_spec(n_clusters[s], f"n_clusters[{s!r}]", allow_zero=True) for s in shapes
    }
    shape_params = shape_params or {}
    shape_params = {_canonical_shape(k): v for k, v in shape_params.items()}
    for s in shape_params:
        if s not in shapes:
            raise ValueError(f"shape_params given for {s!r}, which is not among the shapes {shapes}.")
    params = {s: _check_shape_params(s, shape_params.get(s)) for s in shapes}
    rng = check_random_state(random_state)

    parts = []
    for _ in range(n_fovs):
        n_per_shape = [int(draw_counts(rng, counts_spec[s], 1, "n_clusters")[0]) for s in shapes]
        # One draw for all shapes, so min_center_distance applies across shapes.
        centers = draw_centers(
            rng, sum(n_per_shape), fov_size, margin=margin, min_distance=min_center_distance
        )
        points, owners, classes = [], [], []
        start = 0
        for shape, n in zip(shapes, n_per_shape):
            sizes = draw_counts(rng, params[shape]["n_localizations"], n, f"{shape} n_localizations")
            X_shape, owner = _shape_points(rng, shape, params[shape], centers[start : start + n], sizes)
            points.append(X_shape)
            owners.append(owner + start)
            classes.append(np.full(owner.size, shape))
            start += n
        owner = np.concatenate(owners)
        n_bg = n_background_for(owner.size, background_fraction, n_background)
        parts.append(
            with_background(
                np.concatenate(points),
                owner,
                draw_background(rng, n_bg, fov_size),
                np.concatenate(classes),
            )
        )
    return assemble(parts, rng, blinking=blinking, crop_size=fov_size if crop else None)


def make_rings(
    n_fovs=1,
    *,
    n_clusters=(60, 70),
    n_localizations=(60, 80),
    radius=250.0,
    radial_std=50.0,
    background_fraction=0.07,
    n_background=None,
    fov_size=6400.0,
    margin=0.0,
    min_center_distance=0.0,
    blinking=False,
    crop=False,
    random_state=None,
):
    """FOVs of ring-shaped clusters (paper Fig. 2f, Table 1 "Rings").

    Paper recipe ("Simulated data"): 6400 x 6400 nm images with 60-70 clusters
    per image, localisations placed on circles of radius 250 nm with a radial
    standard deviation of 50 nm, 60-80 localisations per cluster (uniform), and
    non-clustered localisations making up 7 % of all localisations. Angles are
    uniform around the circle. The paper states no rule against overlaps, so
    by default rings may overlap and spill over the FOV edge (see
    ``min_center_distance`` and ``margin``). Its data look like rings that do
    not overlap: with ``min_center_distance=500`` (one diameter), plain DBSCAN
    tuned on 3 FOVs scores ARI-dagger / JI_c / RMSRE_N 0.71 / 0.54 / 1.20 on
    10 others, against the paper's DBSCAN row of 0.69 / 0.55 / 1.2; with
    overlaps allowed, 0.77 / 0.41 / 2.35
    (``benchmarks/results/shape_spacing_calibration.md``).

    Parameters
    ----------
    n_fovs : int, default=1
    n_clusters : int or (low, high), default=(60, 70)
        Rings per FOV, uniform and inclusive for a pair.
    n_localizations : int, (low, high) or callable, default=(60, 80)
        Localisations per ring.
    radius : float or (low, high), default=250.0
        Ring radius in nm.
    radial_std : float or (low, high), default=50.0
        Standard deviation of the distance to the ring centre, nm.
    background_fraction : float in [0, 1), default=0.07
        Fraction of all localisations that are background.
    n_background : int, default=None
        Fixed background count per FOV, overriding ``background_fraction``.
    fov_size : float, default=6400.0
        Side of the square FOV, nm.
    margin, min_center_distance, blinking, crop, random_state
        See :func:`make_gaussian_clusters`.

    Returns
    -------
    X : ndarray of shape (n_localizations, 2)
        Coordinates, nm.
    y : ndarray of shape (n_localizations,)
        Ring labels (-1 background), unique across FOVs.
    fov : ndarray of shape (n_localizations,)
        FOV ids.
    """
    params = dict(n_localizations=n_localizations, radius=radius, radial_std=radial_std)
    X, y, fov, _ = _simulate_shapes(
        ("ring",), n_fovs, n_clusters, {"ring": params}, background_fraction, n_background,
        fov_size, margin, min_center_distance, blinking, crop, random_state,
    )  # fmt: skip
    return X, y, fov


def make_c_shapes(
    n_fovs=1,
    *,
    n_clusters=(30, 60),
    n_localizations=(30, 60),
    radius=250.0,
    radial_std=50.0,
    arc=np.pi,
    background_fraction=0.06,
    n_background=None,
    fov_size=6400.0,
    margin=0.0,
    min_center_distance=0.0,
    blinking=False,
    crop=False,
    random_state=None,
):
    """FOVs of C-shaped clusters (paper Fig. 2e, Table 1 "C-shaped").

    Paper recipe ("Simulated data"): 6400 x 6400 nm images with 30-60 clusters
    per image, localisations placed on semicircles of radius 250 nm with a
    radial standard deviation of 50 nm, 30-60 localisations per cluster
    (uniform), and non-clustered localisations making up 6 % of all
    localisations. Each C has a uniformly random orientation; angles are
    uniform along the arc. By default C-shapes may overlap; with
    ``min_center_distance=500`` (one diameter of the circle) plain DBSCAN
    tuned on 3 FOVs scores ARI-dagger / JI_c / RMSRE_N 0.90 / 0.73 / 0.55 on
    10 others, close to the paper's DBSCAN row (0.88 / 0.67 / 0.6); with
    overlaps, 0.83 / 0.59 / 0.96
    (``benchmarks/results/shape_spacing_calibration.md``).

    Parameters
    ----------
    arc : float or (low, high), default=pi
        Angular extent of the C in radians (pi: a semicircle).

    Other parameters and the return values are those of :func:`make_rings`
    (with the C-shape defaults above).
    """
    params = dict(n_localizations=n_localizations, radius=radius, radial_std=radial_std, arc=arc)
    X, y, fov, _ = _simulate_shapes(
        ("c_shape",), n_fovs, n_clusters, {"c_shape": params}, background_fraction, n_background,
        fov_size, margin, min_center_distance, blinking, crop, random_state,
    )  # fmt: skip
    return X, y, fov


def make_multishape(
    shapes=("spot", "ellipse"),
    n_fovs=1,
    *,
    n_clusters=(10, 20),
    shape_params=None,
    background_fraction=0.05,
    n_background=None,
    fov_size=None,
    margin=0.0,
    min_center_distance=0.0,
    blinking=False,
    crop=False,
    random_state=None,
):
    """FOVs mixing clusters of several shapes, with per-localisation classes.

    Reproduces the mixtures of the paper's Fig. 3 (spots + ellipses, spots +
    rings, C-shapes + rings) used to train MIRO for simultaneous clustering
    and shape classification. The paper gives no recipe for the mixtures; each
    shape follows its own recipe (:data:`SHAPE_DEFAULTS`):

    - ``"spot"``: isotropic Gaussian, std 25 nm, 30-60 localisations;
    - ``"ellipse"``: Gaussian, std 77 nm x 14 nm (benchmark scenario 6),
      random orientation, 30-60 localisations;
    - ``"ring"``: radius 250 nm, radial std 50 nm, 60-80 localisations
      (paper's ring recipe);
    - ``"c_shape"``: semicircle, radius 250 nm, radial std 50 nm, 30-60
      localisations (paper's C-shape recipe).

    As in the paper, nothing prevents clusters of different shapes from
    overlapping unless ``min_center_distance`` is set.

    Parameters
    ----------
    shapes : sequence of str, default=("spot", "ellipse")
        Shapes to mix, among ``"spot"``, ``"ellipse"``, ``"ring"``,
        ``"c_shape"`` (``"c-shape"``, ``"rings"`` etc. are accepted).
    n_fovs : int, default=1
    n_clusters : int, (low, high) or dict, default=(10, 20)
        Clusters *of each shape* per FOV; a dict gives one specification per
        shape.
    shape_params : dict of dict, default=None
        Per-shape overrides of :data:`SHAPE_DEFAULTS`, e.g.
        ``{"ring": {"radius": 100.0}}``.
    background_fraction : float in [0, 1), default=0.05
        Fraction of all localisations that are background (the paper's other
        simulations use 1.5-7 %).
    n_background : int, default=None
        Fixed background count per FOV.
    fov_size : float, default=None
        Side of the FOV in nm; by default 2000 nm when all shapes are spots or
        ellipses (the benchmark's size) and 6400 nm otherwise (the rings' and
        C-shapes' size).
    margin, min_center_distance, blinking, crop, random_state
        See :func:`make_gaussian_clusters`.

    Returns
    -------
    X : ndarray of shape (n_localizations, 2)
    y : ndarray of shape (n_localizations,)
        Cluster labels (-1 background), unique across FOVs and shapes.
    fov : ndarray of shape (n_localizations,)
    shape : ndarray of str, shape (n_localizations,)
        Shape class of each localisation (``"background"`` for background);
        all localisations of a cluster share one class.
    """
    if isinstance(shapes, str):
        shapes = (shapes,)
    shapes = tuple(_canonical_shape(s) for s in shapes)
    if not shapes:
        raise ValueError(f"shapes must name at least one shape among {SHAPES}.")
    if len(set(shapes)) != len(shapes):
        raise ValueError(f"shapes contains duplicates: {shapes}.")
    if fov_size is None:
        fov_size = 2000.0 if set(shapes) <= {"spot", "ellipse"} else 6400.0
    return _simulate_shapes(
        shapes, n_fovs, n_clusters, shape_params, background_fraction, n_background,
        fov_size, margin, min_center_distance, blinking, crop, random_state,
    )  # fmt: skip


__all__ = ["SHAPES", "SHAPE_DEFAULTS", "make_c_shapes", "make_multishape", "make_rings"]
