"""Label-free counts of a FOV's extra neighbours, the candidates for the zero-shot ``min_samples``.

Shared by ``min_samples_predictors.py`` (which compares them on simulations) and
``quality.py``'s ``EXCESS_PREDICTOR`` experiments; the one adopted lives in the package as
:func:`sklearn_miro.parameters.tiled_excess_neighbours`. In a module of their own so that
neither script imports the other.
"""

import numpy as np

from sklearn_miro.parameters import tiled_excess_neighbours


def extra_neighbours(X, reach_length):
    """Per localisation, its neighbours within ``reach_length``; and what a uniform scatter of
    the FOV's (bounding-box) density would give each: ``(counts, expected)``."""
    from scipy.spatial import cKDTree

    counts = cKDTree(X).query_ball_point(X, r=reach_length, return_length=True) - 1
    expected = (len(X) - 1) / float(np.prod(np.ptp(X, axis=0))) * np.pi * reach_length**2
    return counts, expected


def local_excess(X, radius, weighted=False):
    """The typical clustered localisation's extra neighbours within ``radius`` (label-free).

    Per localisation: its neighbours within ``radius`` minus those a uniform scatter of the
    FOV's density would give; over the localisations whose excess is above twice the Poisson
    standard deviation, the median, or with ``weighted`` the median weighted by 1 / (1 +
    neighbours), so that every cluster counts about once whatever its size (0 when no
    localisation qualifies).
    """
    counts, expected = extra_neighbours(X, radius)
    excess = counts - expected
    keep = excess > 2.0 * np.sqrt(max(expected, 1e-12))
    if not keep.any():
        return 0.0
    values = excess[keep]
    if not weighted:
        return float(np.median(values))
    weights = 1.0 / (1.0 + counts[keep])
    order = np.argsort(values)
    cumulative = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cumulative, 0.5 * cumulative[-1])])


def capped_pair_count(X, radius, cap, reach=3.0):
    """``--predictor pair-capped``: the pair count (mean over localisations of their extra
    neighbours within ``reach x radius``), each localisation's count capped at ``cap`` times
    the typical cluster's: the median over the localisations more than two Poisson standard
    deviations above a uniform scatter, weighted by 1 / (1 + neighbours) so that each cluster
    counts about once. A blob then counts like a cluster of ``cap`` times the typical size,
    and sparse clusters keep their pair-count weight (no median over background tiles)."""
    counts, expected = extra_neighbours(X, reach * radius)
    excess = counts - expected
    clustered = excess > 2.0 * np.sqrt(max(expected, 1e-12))
    if not clustered.any():
        return float(np.mean(excess))
    values, weights = excess[clustered], 1.0 / (1.0 + counts[clustered])
    order = np.argsort(values)
    cumulative = np.cumsum(weights[order])
    typical = values[order][np.searchsorted(cumulative, 0.5 * cumulative[-1])]
    return float(np.mean(np.minimum(excess, cap * typical)))


def tile_count(X, radius, predictor, tile_radii):
    """``--predictor tile-weighted``: :func:`sklearn_miro.parameters.tiled_excess_neighbours`
    (median over localisations of their tile's mean); ``tile-weighted-edge``: the same with
    each localisation's expected count taken over the part of its disc inside the bounding
    box; ``tile``: the median over the non-empty tiles instead, each tile counting once."""
    if predictor == "tile-weighted":
        return tiled_excess_neighbours(X, radius, tile_radii=tile_radii)
    low, span = X.min(axis=0), np.ptp(X, axis=0)
    counts, expected = extra_neighbours(X, 3.0 * radius)
    inside = 1.0
    if predictor == "tile-weighted-edge":
        # Edge correction: the fraction of each localisation's disc inside the bounding box,
        # from 256 points spread evenly over the unit disc (a sunflower pattern).
        k = np.arange(256) + 0.5
        disc = np.sqrt(k / 256)[:, None] * np.c_[np.cos(2.39996323 * k), np.sin(2.39996323 * k)]
        inside = np.empty(len(X))
        for start in range(0, len(X), 4096):
            points = X[start:start + 4096, None, :] + 3.0 * radius * disc[None]
            inside[start:start + 4096] = np.all((points >= low) & (points <= low + span), axis=2).mean(axis=1)
    excess = counts - expected * inside
    n_tiles = np.maximum(1.0, np.round(span / (tile_radii * radius)))
    cell = np.minimum(np.floor((X - low) / span * n_tiles), n_tiles - 1)
    _, tile = np.unique(cell, axis=0, return_inverse=True)
    tile = tile.ravel()
    means = np.bincount(tile, excess) / np.bincount(tile)
    return float(np.median(means[tile] if predictor == "tile-weighted-edge" else means))
