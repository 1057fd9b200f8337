"""Two-scale structures: rings of spots and nuclear-pore-complex-like
structures (paper Fig. 5), labelled at both scales."""

from __future__ import annotations

import numpy as np

from .._validation import check_positive, check_random_state
from ._base import (
    assemble,
    check_blinking,
    check_count_spec,
    check_fraction,
    check_n_fovs,
    draw_background,
    draw_centers,
    draw_counts,
    n_background_for,
    rotate,
    with_background,
)


def _check_common(
    n_fovs, background_fraction, n_background, fov_size, margin, min_center_distance, blinking
):
    check_positive(n_background, "n_background", allow_zero=True, integer=True, allow_none=True)
    check_positive(margin, "margin", allow_zero=True)
    check_positive(min_center_distance, "min_center_distance", allow_zero=True)
    return (
        check_n_fovs(n_fovs),
        check_fraction(background_fraction, "background_fraction"),
        float(check_positive(fov_size, "fov_size")),
        check_blinking(blinking),
    )


def _triangle_reach(radius, apex_half_angle, direction):
    """Distance from the corner centre to the edge of its triangle.

    The corner's triangle has its apex at the structure centre (origin),
    half-angle ``apex_half_angle`` and base at ``x = 2 * radius`` (the paper's
    height h = 2 r); the corner centre is ``(radius, 0)``, the middle of the
    height. ``direction`` holds the angles (radians) of the rays from it.
    """
    cos = np.cos(direction)
    far = np.inf
    with np.errstate(divide="ignore", invalid="ignore"):
        # Base x = 2 r, reached when moving outwards.
        to_base = np.where(cos > 0, radius / cos, far)
        # Upper edge y = x tan(a): reached when sin(phi - a) > 0.
        s_up = np.sin(direction - apex_half_angle)
        to_upper = np.where(s_up > 0, radius * np.sin(apex_half_angle) / s_up, far)
        # Lower edge y = -x tan(a): reached when sin(phi + a) < 0.
        s_low = np.sin(direction + apex_half_angle)
        to_lower = np.where(s_low < 0, -radius * np.sin(apex_half_angle) / s_low, far)
    return np.minimum(np.minimum(to_base, to_upper), to_lower)


def make_npc(
    n_fovs=1,
    *,
    n_structures=(5, 9),
    n_corners=8,
    radius=50.0,
    n_localizations=(0, 80),
    spread_factor=1.8,
    background_fraction=0.03,
    n_background=None,
    fov_size=1250.0,
    margin=0.0,
    min_center_distance=0.0,
    blinking=False,
    crop=False,
    random_state=None,
):
    """FOVs of nuclear-pore-complex-like structures, labelled as corners and rings.

    The paper's NPC training recipe ("Simulated data"; used for Fig. 5c-f):
    1250 x 1250 nm images with 5-9 structures, each made of 8 corners with a
    common vertex. Each corner is an isosceles triangle with its apex at the
    structure centre and height h = 2 r = 100 nm; its localisations (uniform
    count 0-80) follow a normal law centred on the corner centre at radius
    r = 50 nm whose standard deviation in each direction is the distance from
    the centre to the triangle's edge in that direction divided by 1.8. This
    gives the paper's "effective inner and outer radius of 20 and 80 nm"
    (50 - 50/1.8 = 22 and 50 + 50/1.8 = 78 nm) and corners elongated
    radially (std 28 nm radially, 11.5 nm tangentially). Background makes up
    3 % of all localisations.

    The paper calls the corner centre the triangle's "centroid" but puts it at
    r = h/2; the centroid proper (2h/3) would not give 20/80 nm, so the corner
    centre is at h/2 here. Each structure has a random rotation.

    Parameters
    ----------
    n_fovs : int, default=1
    n_structures : int or (low, high), default=(5, 9)
        NPC-like structures per FOV.
    n_corners : int, default=8
        Corners per structure (the 8-fold symmetry of the NPC).
    radius : float, default=50.0
        Distance of the corner centres from the structure centre, nm.
    n_localizations : int, (low, high) or callable, default=(0, 80)
        Localisations per corner; empty corners get no label.
    spread_factor : float, default=1.8
        The centre-to-edge distance is divided by this to give the standard
        deviation.
    background_fraction : float in [0, 1), default=0.03
    n_background : int, default=None
    fov_size : float, default=1250.0
    margin, min_center_distance, blinking, crop, random_state
        See :func:`make_gaussian_clusters`.

    Returns
    -------
    X : ndarray of shape (n_localizations, 2)
        Coordinates, nm.
    y_scales : ndarray of shape (n_localizations, 2)
        ``y_scales[:, 0]``: corner labels (the fine scale); ``y_scales[:, 1]``:
        structure (ring) labels (the coarse scale). -1 is background in both;
        each column is numbered 0..k-1 uniquely across FOVs. This is the
        order of MIRO's multiscale training: the fine scale supervises the
        early recurrent steps, the coarse scale the late ones.
    fov : ndarray of shape (n_localizations,)
    """
    n_fovs, background_fraction, fov_size, blinking = _check_common(
        n_fovs, background_fraction, n_background, fov_size, margin, min_center_distance, blinking
    )
    n_structures = check_count_spec(n_structures, "n_structures", allow_zero=True)
    n_corners = check_positive(n_corners, "n_corners", integer=True)
    radius = float(check_positive(radius, "radius"))
    n_localizations = check_count_spec(n_localizations, "n_localizations", allow_zero=True)
    spread_factor = float(check_positive(spread_factor, "spread_factor"))
    rng = check_random_state(random_state)
    half_angle = np.pi / n_corners

    parts = []
    for _ in range(n_fovs):
        n = int(draw_counts(rng, n_structures, 1, "n_structures")[0])
        centers = draw_centers(rng, n, fov_size, margin=margin, min_distance=min_center_distance)
        rotation = rng.uniform(0.0, 2 * half_angle, size=n)
        corner_angle = (rotation[:, None] + 2 * half_angle * np.arange(n_corners)).ravel()
        structure_of_corner = np.repeat(np.arange(n), n_corners)
        sizes = draw_counts(rng, n_localizations, n * n_corners, "n_localizations")
        corner = np.repeat(np.arange(n * n_corners), sizes)
        # A 2-D normal whose standard deviation depends on the direction: draw
        # a standard normal vector and scale it by the reach in its direction.
        z = rng.standard_normal((corner.size, 2))
        scale = _triangle_reach(radius, half_angle, np.arctan2(z[:, 1], z[:, 0])) / spread_factor
        local = np.column_stack((radius + z[:, 0] * scale, z[:, 1] * scale))
        X_corners = centers[structure_of_corner[corner]] + rotate(local, corner_angle[corner])
        labels = np.column_stack((corner, structure_of_corner[corner]))
        n_bg = n_background_for(corner.size, background_fraction, n_background)
        parts.append(with_background(X_corners, labels, draw_background(rng, n_bg, fov_size)))
    X, y_scales, fov, _ = assemble(parts, rng, blinking=blinking, crop_size=fov_size if crop else None)
    return X, y_scales, fov


def make_multiscale_rings(
    n_fovs=1,
    *,
    n_rings=(40, 60),
    symmetry=(5, 9),
    radius=40.0,
    spot_std=15.0,
    n_localizations=(6, 30),
    background_fraction=0.015,
    n_background=None,
    fov_size=1250.0,
    margin=0.0,
    min_center_distance=0.0,
    blinking=False,
    crop=False,
    random_state=None,
):
    """FOVs of rings of spots, labelled as spots and rings (paper Fig. 5a-b).

    The paper's multiscale proof of principle ("Simulated data"): symmetric
    clusters of 6-30 localisations (uniform), Gaussian with standard
    deviation 15 nm, arranged with a 5- to 9-fold symmetry (evenly spaced,
    random rotation) on a circle of radius 40 nm to form 40-60 rings in
    1250 x 1250 nm images; background is 1.5 % of all localisations.

    Parameters
    ----------
    n_fovs : int, default=1
    n_rings : int or (low, high), default=(40, 60)
    symmetry : int or (low, high), default=(5, 9)
        Spots per ring.
    radius : float, default=40.0
        Ring radius, nm.
    spot_std : float, default=15.0
        Standard deviation of a spot, nm.
    n_localizations : int, (low, high) or callable, default=(6, 30)
        Localisations per spot.
    background_fraction : float in [0, 1), default=0.015
    n_background : int, default=None
    fov_size : float, default=1250.0
    margin, min_center_distance, blinking, crop, random_state
        See :func:`make_gaussian_clusters`. Note that 40-60 rings of
        diameter ~110 nm in 1250 nm overlap often unless
        ``min_center_distance`` is set.

    Returns
    -------
    X : ndarray of shape (n_localizations, 2)
    y_scales : ndarray of shape (n_localizations, 2)
        ``[:, 0]`` spot labels (fine scale), ``[:, 1]`` ring labels (coarse
        scale); -1 background.
    fov : ndarray of shape (n_localizations,)
    """
    n_fovs, background_fraction, fov_size, blinking = _check_common(
        n_fovs, background_fraction, n_background, fov_size, margin, min_center_distance, blinking
    )
    n_rings = check_count_spec(n_rings, "n_rings", allow_zero=True)
    symmetry = check_count_spec(symmetry, "symmetry")
    radius = float(check_positive(radius, "radius", allow_zero=True))
    spot_std = float(check_positive(spot_std, "spot_std"))
    n_localizations = check_count_spec(n_localizations, "n_localizations", allow_zero=True)
    rng = check_random_state(random_state)

    parts = []
    for _ in range(n_fovs):
        n = int(draw_counts(rng, n_rings, 1, "n_rings")[0])
        centers = draw_centers(rng, n, fov_size, margin=margin, min_distance=min_center_distance)
        folds = draw_counts(rng, symmetry, n, "symmetry")
        ring_of_spot = np.repeat(np.arange(n), folds)
        # Position of each spot within its ring: 0..fold-1.
        rank = np.arange(ring_of_spot.size) - np.repeat(np.cumsum(folds) - folds, folds)
        phase = rng.uniform(0.0, 2 * np.pi, size=n)[ring_of_spot]
        angle = phase + 2 * np.pi * rank / folds[ring_of_spot]
        spot_centers = centers[ring_of_spot] + radius * np.column_stack((np.cos(angle), np.sin(angle)))
        sizes = draw_counts(rng, n_localizations, ring_of_spot.size, "n_localizations")
        spot = np.repeat(np.arange(ring_of_spot.size), sizes)
        X_spots = spot_centers[spot] + spot_std * rng.standard_normal((spot.size, 2))
        labels = np.column_stack((spot, ring_of_spot[spot]))
        n_bg = n_background_for(spot.size, background_fraction, n_background)
        parts.append(with_background(X_spots, labels, draw_background(rng, n_bg, fov_size)))
    X, y_scales, fov, _ = assemble(parts, rng, blinking=blinking, crop_size=fov_size if crop else None)
    return X, y_scales, fov


__all__ = ["make_multiscale_rings", "make_npc"]
