"""Parameters from the data: localisation precision, clustering scale, DBSCAN's eps.

* :func:`nena` estimates the localisation precision from the distances between
  localisations of the same molecule in consecutive frames (NeNA, Endesfelder
  et al., Histochem. Cell Biol. 141, 629-638, 2014).
* :func:`ripley_k` and :func:`ripley_h` give Ripley's K function and its
  variance-stabilised form ``H(r) = sqrt(K(r) / pi) - r`` (0 for complete
  spatial randomness, > 0 for clustering), with border edge correction.
* :func:`pair_correlation` gives the pair-correlation function ``g(r)`` with
  the exact edge correction of the bounding box; :func:`pair_correlation_fit`
  fits it with Gaussian terms (clusters, and blinking; pair-correlation PALM,
  Sengupta et al., Nat. Methods 8, 969-975, 2011) and gives, without labels,
  the clusters' RMS radius (also :func:`pair_correlation_radius`) and the
  repeated localisations of one molecule.
* :func:`tiled_excess_neighbours` counts a localisation's extra neighbours as
  the pair-correlation fit does, in a way one large cluster cannot dominate
  (the zero-shot DBSCAN ``min_samples`` of ``nanoclusters-long``).
* :func:`k_distance` and :func:`suggest_eps` give the sorted k-nearest-
  neighbour distance curve and its knee, the usual way to choose DBSCAN's eps
  (Ester et al., KDD 1996).

Coordinates are in nm (any unit works, results are in the unit of ``X``).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import curve_fit, least_squares
from scipy.spatial import cKDTree
from sklearn.utils import Bunch

from ._validation import check_coordinates, check_groups, check_positive, check_random_state

__all__ = [
    "k_distance",
    "nena",
    "nena_model",
    "pair_correlation",
    "pair_correlation_fit",
    "pair_correlation_radius",
    "ripley_h",
    "ripley_k",
    "suggest_eps",
    "tiled_excess_neighbours",
]

#: Below this many extra neighbours per localisation (pair-correlation fit),
#: :func:`pair_correlation_radius` reports no clustering.
MIN_EXCESS_NEIGHBOURS = 0.25


def _no_clustering():
    return Bunch(radius=float("nan"), repeat_neighbours=0.0, excess_neighbours=0.0)


# --------------------------------------------------------------------------- #
# NeNA
# --------------------------------------------------------------------------- #
def nena_model(d, sigma, a_pair, a_neighbour, d_neighbour, w_neighbour, a_linear):
    """Probability density of next-frame nearest-neighbour distances (NeNA).

    ``a_pair * d / (2 sigma^2) * exp(-d^2 / (4 sigma^2))`` is the law of the
    distance between two independent localisations of the same molecule, each
    scattered with standard deviation ``sigma`` per axis (a Rayleigh law of
    scale ``sigma * sqrt(2)``); ``a_neighbour * N(d; d_neighbour, w_neighbour)``
    accounts for nearby molecules and ``a_linear * d`` for random pairs
    (uniform density).
    """
    d = np.asarray(d, dtype=np.float64)
    pair = d / (2 * sigma**2) * np.exp(-(d**2) / (4 * sigma**2))
    neighbour = np.exp(-0.5 * ((d - d_neighbour) / w_neighbour) ** 2) / (
        np.sqrt(2 * np.pi) * w_neighbour
    )
    return a_pair * pair + a_neighbour * neighbour + a_linear * d


def _check_frames(frames, n):
    if frames is None:
        raise ValueError(
            "NeNA needs the frame number of every localisation (pass frames=..., e.g. "
            "the 'frame' column of read_localizations). Without frames there is no way "
            "to pair localisations of the same molecule; use the per-localisation "
            "uncertainty column of your localisation software instead."
        )
    frames = np.asarray(frames)
    if frames.ndim != 1 or frames.shape[0] != n:
        raise ValueError(
            f"frames must have shape ({n},), one frame number per localisation; "
            f"got shape {frames.shape}."
        )
    if frames.dtype.kind == "f":
        if not np.all(np.isfinite(frames)) or not np.all(frames == np.round(frames)):
            raise ValueError("frames must hold integer frame numbers.")
    elif frames.dtype.kind not in "iu":
        raise ValueError(f"frames must hold integer frame numbers; got dtype {frames.dtype}.")
    return frames.astype(np.int64)


def nena(X, frames, groups=None, *, max_distance=200.0, bin_width=None):
    """Localisation precision by nearest-neighbour analysis (NeNA).

    For every localisation in frame ``f`` the nearest localisation in frame
    ``f + 1`` of the same FOV is found (within ``max_distance``). Most such
    pairs are two localisations of the same molecule, whose distance follows
    the law of the difference of two Gaussian scatters of standard deviation
    ``sigma`` per axis; :func:`nena_model` (that law plus a Gaussian term for
    neighbouring molecules and a linear term for random pairs, the model of
    Endesfelder et al. 2014) is fitted by least squares to the histogram of
    the distances (density), and ``sigma`` is the precision.

    Parameters
    ----------
    X : array-like of shape (n_localizations, 2) or DataFrame
        Coordinates (nm).
    frames : array-like of int, shape (n_localizations,)
        Frame number of every localisation. NeNA cannot work without frames:
        ``None`` raises a ValueError saying so.
    groups : array-like of shape (n_localizations,), default=None
        FOV ids (pairs are only formed within a FOV).
    max_distance : float, default=200.0
        Largest pair distance considered (nm); must comfortably exceed the
        precision (the fit uses the distances up to it).
    bin_width : float, default=None
        Histogram bin width; by default a quarter of a first guess of the
        precision (median pair distance / 1.665, the median of the pair law
        being ``2 sqrt(ln 2) sigma``), at least ``max_distance / 400``.

    Returns
    -------
    result : sklearn.utils.Bunch
        ``precision`` (float, nm), ``precision_error`` (standard error of the
        fit), ``n_pairs``, ``distances`` (the pair distances),
        ``bin_centers`` and ``density`` (the fitted histogram), ``params``
        (all fitted :func:`nena_model` parameters, by name).

    Raises
    ------
    ValueError
        Without frames, with fewer than 50 pairs within ``max_distance``, or
        when the fit does not converge.
    """
    X = check_coordinates(X, name="X")
    n = X.shape[0]
    frames = _check_frames(frames, n)
    groups = check_groups(groups, n)
    max_distance = float(check_positive(max_distance, "max_distance"))
    if bin_width is not None:
        bin_width = float(check_positive(bin_width, "bin_width"))
    fov = np.zeros(n) if groups is None else np.unique(groups, return_inverse=True)[1].ravel()
    # Frames and FOVs as extra coordinates, spaced farther apart than
    # max_distance: a query with distance_upper_bound=max_distance from frame
    # f + 1 can then only find points of frame f in the same FOV.
    step = 4.0 * max_distance
    frame_offset = (frames - frames.min()).astype(np.float64) * step
    fov_offset = fov.astype(np.float64) * step
    tree = cKDTree(np.column_stack([X, frame_offset, fov_offset]))
    query = np.column_stack([X, frame_offset + step, fov_offset])
    distance, _ = tree.query(query, k=1, distance_upper_bound=max_distance)
    distances = distance[np.isfinite(distance)]
    if distances.size < 50:
        raise ValueError(
            f"NeNA found only {distances.size} localisation pairs in consecutive frames "
            f"closer than max_distance={max_distance:g}; at least 50 are needed. Check "
            "that frames are the acquisition frames and that max_distance exceeds the "
            "expected precision."
        )
    guess = max(np.median(distances) / (2 * np.sqrt(np.log(2))), max_distance / 1000)
    if bin_width is None:
        bin_width = max(guess / 4, max_distance / 400)
    edges = np.arange(0.0, max_distance + bin_width, bin_width)
    counts, edges = np.histogram(distances, bins=edges)
    centers = 0.5 * (edges[1:] + edges[:-1])
    density = counts / (distances.size * bin_width)
    p0 = [guess, 0.8, 0.1, 3 * guess, guess, 0.1 / max_distance**2]
    lower = [1e-6 * max_distance, 0, 0, 0, 1e-3 * max_distance, 0]
    upper = [max_distance, 1.5, 1.5, max_distance, max_distance, 10 / max_distance**2]
    try:
        params, covariance = curve_fit(
            nena_model, centers, density, p0=p0, bounds=(lower, upper), maxfev=20000
        )
    except RuntimeError as exc:
        raise ValueError(f"The NeNA fit did not converge ({exc}).") from exc
    names = ["sigma", "a_pair", "a_neighbour", "d_neighbour", "w_neighbour", "a_linear"]
    error = float(np.sqrt(covariance[0, 0])) if np.isfinite(covariance[0, 0]) else np.nan
    return Bunch(
        precision=float(params[0]),
        precision_error=error,
        n_pairs=int(distances.size),
        distances=distances,
        bin_centers=centers,
        density=density,
        params=dict(zip(names, params.tolist())),
    )


# --------------------------------------------------------------------------- #
# Ripley's K and H
# --------------------------------------------------------------------------- #
def _check_window(window, X):
    if window is None:
        low, high = X.min(axis=0), X.max(axis=0)
        return float(low[0]), float(high[0]), float(low[1]), float(high[1])
    try:
        xmin, xmax, ymin, ymax = (float(v) for v in window)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"window must be (xmin, xmax, ymin, ymax); got {window!r}."
        ) from exc
    if not (xmax > xmin and ymax > ymin):
        raise ValueError(f"window must have xmax > xmin and ymax > ymin; got {window!r}.")
    outside = (X[:, 0] < xmin) | (X[:, 0] > xmax) | (X[:, 1] < ymin) | (X[:, 1] > ymax)
    if outside.any():
        raise ValueError(
            f"{int(outside.sum())} localisation(s) lie outside window {window!r}."
        )
    return xmin, xmax, ymin, ymax


def _check_radii(radii):
    radii = np.asarray(radii, dtype=np.float64)
    if radii.ndim == 0:
        radii = radii[None]
    if radii.ndim != 1 or radii.size == 0 or not np.all(np.isfinite(radii)) or np.any(radii <= 0):
        raise ValueError(f"radii must be a 1-D array of positive distances; got {radii!r}.")
    return radii


def ripley_k(X, radii, *, window=None, edge_correction="border"):
    """Ripley's K function of one field of view.

    ``K(r) = E[number of other points within r of a point] / lambda`` with
    ``lambda = n / area``; ``K(r) = pi r^2`` for complete spatial randomness.

    Parameters
    ----------
    X : array-like of shape (n_localizations, 2) or DataFrame
        Coordinates of one FOV (nm).
    radii : array-like of float
        Radii at which K is evaluated.
    window : (xmin, xmax, ymin, ymax), default=None
        The observation window (rectangle); the bounding box of ``X`` when
        None.
    edge_correction : {"border", "none"}, default="border"
        ``"border"`` (minus sampling): at radius ``r`` only points at least
        ``r`` from the window's edge serve as centres, so no neighbour is
        missed; unbiased, at the cost of fewer centres at large ``r`` (NaN
        where no point is that far inside). ``"none"``: all points are
        centres; K is then underestimated near the edges.

    Returns
    -------
    K : ndarray of shape (n_radii,)

    Notes
    -----
    All pairs closer than the largest radius are listed once (``cKDTree.query_pairs``),
    so time and memory grow with their number, about ``n^2 pi r_max^2 / area``.
    """
    X = check_coordinates(X, name="X", min_points=2)
    radii = _check_radii(radii)
    if edge_correction not in ("border", "none"):
        raise ValueError(f"edge_correction must be 'border' or 'none'; got {edge_correction!r}.")
    xmin, xmax, ymin, ymax = _check_window(window, X)
    n = X.shape[0]
    intensity = n / ((xmax - xmin) * (ymax - ymin))
    order = np.argsort(radii)
    sorted_radii = radii[order]
    pairs = cKDTree(X).query_pairs(sorted_radii[-1], output_type="ndarray")
    d = np.linalg.norm(X[pairs[:, 0]] - X[pairs[:, 1]], axis=1)
    centres = np.concatenate([pairs[:, 0], pairs[:, 1]])  # both directions
    d = np.concatenate([d, d])
    if edge_correction == "border":
        border = np.minimum.reduce([X[:, 0] - xmin, xmax - X[:, 0], X[:, 1] - ymin, ymax - X[:, 1]])
    else:
        border = np.full(n, np.inf)
    # A pair (i, j) counts for every radius r with d_ij <= r <= border_i.
    m = sorted_radii.size
    first = np.searchsorted(sorted_radii, d, side="left")
    last = np.searchsorted(sorted_radii, border[centres], side="right")
    valid = first < last
    change = np.bincount(first[valid], minlength=m + 1) - np.bincount(last[valid], minlength=m + 1)
    counts = np.cumsum(change)[:m]
    n_centres = n - np.searchsorted(np.sort(border), sorted_radii, side="left")
    with np.errstate(invalid="ignore", divide="ignore"):
        K_sorted = np.where(n_centres > 0, counts / (n_centres * intensity), np.nan)
    K = np.empty(m)
    K[order] = K_sorted
    return K


def ripley_h(X, radii, *, window=None, edge_correction="border"):
    """Ripley's H function ``H(r) = sqrt(K(r) / pi) - r`` of one field of view.

    ``H`` is 0 for complete spatial randomness, positive for clustering at
    scale ``r`` (its maximum is often read as a cluster scale) and negative
    for dispersion. Parameters as :func:`ripley_k`.

    Returns
    -------
    H : ndarray of shape (n_radii,)
    """
    radii_array = _check_radii(radii)
    K = ripley_k(X, radii_array, window=window, edge_correction=edge_correction)
    return np.sqrt(K / np.pi) - radii_array


# --------------------------------------------------------------------------- #
# k-distance curve and DBSCAN's eps
# --------------------------------------------------------------------------- #
def k_distance(X, k=4, groups=None):
    """Distance of every localisation to its k-th nearest neighbour, sorted.

    Parameters
    ----------
    X : array-like of shape (n_localizations, 2) or DataFrame
    k : int, default=4
        Neighbour rank (the point itself not counted). DBSCAN with
        ``min_samples = k + 1`` calls a point core when its k-distance is at
        most ``eps`` (scikit-learn counts the point itself in min_samples).
    groups : array-like, default=None
        FOV ids: neighbours are looked for within the FOV.

    Returns
    -------
    distances : ndarray of shape (n_localizations,)
        Ascending; ``inf`` for points of FOVs with at most ``k`` points.
    """
    X = check_coordinates(X, name="X")
    k = int(check_positive(k, "k", integer=True))
    groups = check_groups(groups, X.shape[0])
    if groups is None:
        fov = np.zeros(X.shape[0])
    else:
        fov = np.unique(groups, return_inverse=True)[1].ravel().astype(np.float64)
    # FOVs side by side, farther apart than any distance inside a FOV.
    spread = float(np.ptp(X, axis=0).max()) + 1.0
    points = np.column_stack([X, fov * 10 * spread])
    distance, _ = cKDTree(points).query(points, k=k + 1, distance_upper_bound=5 * spread)
    return np.sort(distance[:, k])


def _csr_eps(X, groups, k, alpha):
    """Per-FOV radius at which a random point has >= k neighbours with probability alpha."""
    from scipy.optimize import brentq
    from scipy.spatial import ConvexHull
    from scipy.stats import poisson

    mean_neighbours = brentq(lambda m: poisson.sf(k - 1, m) - alpha, 1e-9, 10.0 * k + 100.0)
    fov_ids = [None] if groups is None else np.unique(groups)
    eps = []
    for fov in fov_ids:  # one iteration per FOV
        points = X if fov is None else X[groups == fov]
        try:
            area = ConvexHull(points).volume
        except Exception:  # fewer than 3 points, or collinear: NaN keeps the FOV's slot
            eps.append(np.nan)
            continue
        eps.append(np.sqrt(mean_neighbours / (np.pi * points.shape[0] / area)))
    eps = np.asarray(eps, dtype=np.float64)
    if not np.isfinite(eps).any():
        raise ValueError("No FOV has 3 localisations that are not collinear: no area to compute a density.")
    return eps


def suggest_eps(X, min_samples=5, groups=None, *, method="csr", alpha=0.05):
    """A value of DBSCAN's eps for a given ``min_samples``, from the data.

    Two documented rules (``k = min_samples - 1`` neighbours, as scikit-learn
    counts the point itself in ``min_samples``):

    - ``method="csr"`` (default): the radius at which a localisation of a
      completely random (Poisson) pattern of the FOV's density has at least
      ``k`` neighbours with probability ``alpha``, i.e. ``eps =
      sqrt(m / (pi * lambda))`` where ``P(Poisson(m) >= k) = alpha`` and
      ``lambda`` is the number of localisations over the area of their convex
      hull. Background localisations then rarely become core points, while
      clusters, denser than the average, do. With groups, one value per FOV
      (``eps_per_fov``, in the order of ``numpy.unique(groups)``; NaN for a
      FOV of fewer than 3 localisations or collinear ones, which has no area)
      and the median of the others as ``eps``.
    - ``method="knee"``: the knee of the sorted k-distance curve
      (:func:`k_distance`), with both axes scaled to [0, 1]: the point farthest
      below the chord joining the first and last points (the "Kneedle" rule of
      Satopaa et al. 2011 for a convex increasing curve; Ester et al. 1996
      read eps at this "valley" by eye).

    On the simulated benchmark scenarios 2-10 (2 FOVs each, min_samples 4, 5,
    8 and 12), DBSCAN with the ``"csr"`` eps (alpha 0.05) reaches a mean
    adjusted Rand index of 0.59 where the best eps of a grid reaches 0.66,
    while the knee gives 0.05 (``benchmarks/parameter_helpers.py``): uniform background makes the k-distance curve
    rise steadily, so the farthest point from the chord lies inside the
    background part (see ``doc/analysis.md``). Use the knee for data with
    little background.

    Parameters
    ----------
    X : array-like of shape (n_localizations, 2) or DataFrame
    min_samples : int, default=5
        DBSCAN's ``min_samples``.
    groups : array-like, default=None
        FOV ids.
    method : {"csr", "knee"}, default="csr"
    alpha : float in (0, 1), default=0.05
        For ``"csr"``: accepted probability that a random localisation is a
        core point.

    Returns
    -------
    result : sklearn.utils.Bunch
        ``eps``, ``method``, ``k``, ``distances`` (the sorted finite
        k-distance curve), ``knee_index`` (the knee's position in
        ``distances``, or where ``eps`` falls in it for ``"csr"``) and, for
        ``"csr"``, ``eps_per_fov``.
    """
    if method not in ("csr", "knee"):
        raise ValueError(f"method must be 'csr' or 'knee'; got {method!r}.")
    min_samples = int(check_positive(min_samples, "min_samples", integer=True))
    if min_samples < 2:
        raise ValueError(f"min_samples must be >= 2; got {min_samples}.")
    alpha = float(check_positive(alpha, "alpha"))
    if alpha >= 1:
        raise ValueError(f"alpha must be in (0, 1); got {alpha}.")
    X = check_coordinates(X, name="X")
    groups = check_groups(groups, X.shape[0])
    k = min_samples - 1
    distances = k_distance(X, k, groups)
    distances = distances[np.isfinite(distances)]
    if distances.size < 3:
        raise ValueError(
            f"Only {distances.size} localisation(s) have {k} neighbours in their FOV; "
            "at least 3 are needed."
        )
    result = Bunch(method=method, k=k, distances=distances)
    if method == "csr":
        result.eps_per_fov = _csr_eps(X, groups, k, alpha)
        result.eps = float(np.nanmedian(result.eps_per_fov))
        result.knee_index = int(np.searchsorted(distances, result.eps))
        return result
    x = np.linspace(0.0, 1.0, distances.size)
    span = distances[-1] - distances[0]
    y = (distances - distances[0]) / span if span > 0 else np.zeros_like(distances)
    knee = int(np.argmax(x - y))  # distance below the chord y = x (up to sqrt 2)
    result.eps = float(distances[knee])
    result.knee_index = knee
    return result


def _canonical_subsample(X, size, rng):
    """Row indices of ``size`` localisations drawn by ``rng``, whatever the rows' order.

    Drawn from the localisations sorted by (x, y), not by row index: a FOV
    given in another order (shuffled, or per camera frame) must give the same
    estimate. Measured before: 52,000 localisations shuffled moved the
    pair-correlation radius from 18.82 to 19.20 nm and the zero-shot collapse
    by up to 37 nm.
    """
    order = np.lexsort((X[:, 1], X[:, 0]))
    return order[rng.choice(X.shape[0], size, replace=False)]


def pair_correlation(X, r_edges, *, max_points=50_000, random_state=0):
    """Pair-correlation function ``g(r)`` of one field of view, in rings.

    ``g(r)`` is the density of localisation pairs at distance ``r``, relative
    to uniformly scattered localisations in the same bounding box (1 for
    complete spatial randomness, above 1 at the scales where localisations
    cluster). Pairs are counted with a k-d tree (no distance matrix). The edge
    effect of the box is exact: for ``n`` uniform points in a ``W x H``
    rectangle, the expected number of ordered pairs closer than ``r`` is
    ``n (n - 1) C(r) / (W H)^2`` with
    ``C(r) = pi r^2 W H - 4/3 r^3 (W + H) + r^4 / 2`` (the integral of the
    rectangle's set covariance ``(W - |x|)(H - |y|)`` over the disc, valid for
    ``r <= min(W, H)``).

    Parameters
    ----------
    X : array-like of shape (n, 2)
        One FOV.
    r_edges : array-like of shape (n_bins + 1,)
        Increasing ring edges, in the units of X, positive and at most the
        shorter side of the bounding box.
    max_points : int, default=50,000
        Larger FOVs are thinned to this many localisations at random, which
        leaves ``g`` unchanged in expectation and bounds the cost.
    random_state : int, default=0
        Seeds the thinning.

    Returns
    -------
    g : ndarray of shape (n_bins,)
    pairs : ndarray of shape (n_bins,)
        Ordered pairs of localisations counted in every ring.
    expected : ndarray of shape (n_bins,)
        Ordered pairs expected in every ring for uniform points (``g`` is
        ``pairs / expected``; its Poisson error for uniform points is about
        ``sqrt(2 / expected)``, ordered pairs coming in twos).
    """
    X = check_coordinates(X, min_points=2)
    r_edges = np.asarray(r_edges, dtype=np.float64)
    width, height = X.max(axis=0) - X.min(axis=0)
    if (r_edges.ndim != 1 or r_edges.size < 2 or not np.all(np.isfinite(r_edges))
            or r_edges[0] <= 0 or np.any(np.diff(r_edges) <= 0)):
        raise ValueError("r_edges must be an increasing 1-D array of at least 2 positive, finite "
                         "distances.")
    if r_edges[-1] > min(width, height):
        raise ValueError(
            f"r_edges must end at most at the shorter side of the FOV's bounding box "
            f"({min(width, height):.4g}); got {r_edges[-1]:.4g}."
        )
    if X.shape[0] > max_points:
        rng = np.random.default_rng(random_state)
        X = X[_canonical_subsample(X, max_points, rng)]
    n = X.shape[0]
    tree = cKDTree(X)
    # Cumulative ordered-pair counts within each edge; self-pairs (distance 0)
    # are in every cumulative count and cancel in the differences.
    pairs = np.diff(tree.count_neighbors(tree, r_edges).astype(np.float64))
    covered = (np.pi * r_edges**2 * width * height - 4.0 / 3.0 * r_edges**3 * (width + height)
               + r_edges**4 / 2.0)
    expected = n * (n - 1.0) * np.diff(covered) / (width * height) ** 2
    return pairs / expected, pairs, expected


def pair_correlation_fit(X, *, spacing=None, n_bins=48, max_points=50_000, random_state=0):
    """Cluster RMS radius and blinking of one FOV from its pair-correlation function (label-free).

    Fits ``g(r) - 1`` with Gaussian terms ``A_i exp(-r^2 / (4 sigma_i^2))``:
    one for Gaussian clusters, and a second, narrow one when the molecules are
    localised several times (at the localisation precision), as in
    pair-correlation PALM (Sengupta et al., 2011); the second term is kept only
    when it lowers the Bayesian information criterion of the fit. The radius
    is the square root of half the mean squared distance of the clustered
    pairs in the fitted model, ``R^2 = 2 sum(w_i sigma_i^2) / sum(w_i)`` with
    ``w_i = A_i sigma_i^2`` (proportional to the excess pairs of term ``i``):
    for any cluster shape, half the mean squared distance between two
    localisations of one cluster is its squared RMS radius, so blink pairs
    count as the cluster's own pairs, as they do in a labelled cluster's RMS
    radius.

    Measured on 60 simulated FOVs of the pretrained model's training family
    (``benchmarks/radius_estimate.py``): median absolute relative error 0.11
    without blinking and 0.12 with it. On uniformly scattered points it
    returned nan for 207 of 210 FOVs (10-5,000 localisations).

    Parameters
    ----------
    X : array-like of shape (n, 2)
        One FOV.
    spacing : float, optional
        Mean localisation spacing ``s`` (default ``sqrt(bounding-box area / n)``):
        rings are log-spaced from ``0.05 s`` to ``16 s`` (at most 0.4 times the
        shorter side of the box).
    n_bins : int, default=48
    max_points, random_state
        See :func:`pair_correlation`.

    Returns
    -------
    fit : sklearn.utils.Bunch
        ``radius`` (float): the clusters' RMS radius; nan when the FOV shows no
        clustering (``g - 1`` not positive at short range, a Gaussian term not
        better than a constant by the Bayesian information criterion, or a fit
        that gives a localisation fewer than ``MIN_EXCESS_NEIGHBOURS`` extra
        neighbours) or the fit fails. ``repeat_neighbours`` (float): with two
        terms, the extra neighbours per localisation of the narrow one, i.e.
        about the mean number of other localisations of the same molecule
        (multiple blinking); 0 with one term, or when the narrow term does not
        look like blinking (more excess pairs than the wide term, or wider than
        half of it). ``excess_neighbours`` (float): the extra neighbours per
        localisation over uniform scattering of all the fitted terms, about
        (cluster size - 1) x the clustered fraction; 0 when the FOV shows no
        clustering.
    """
    X = check_coordinates(X, min_points=3)
    extent = X.max(axis=0) - X.min(axis=0)
    s = float(np.sqrt(np.prod(extent) / X.shape[0])) if spacing is None else float(spacing)
    r_max = min(16.0 * s, 0.4 * float(extent.min()))
    r_min = 0.05 * s
    if not (s > 0 and r_max > 2 * r_min):
        return _no_clustering()
    edges = np.geomspace(r_min, r_max, n_bins + 1)
    r = np.sqrt(edges[:-1] * edges[1:])
    g, _, expected = pair_correlation(X, edges, max_points=max_points, random_state=random_state)
    excess = g - 1.0
    if not np.any(excess[: max(3, excess.size // 4)] > 0.0):
        return _no_clustering()
    peak = max(float(excess[: max(3, excess.size // 3)].max()), 1e-3)
    # Poisson error of the (unordered) pair counts, from the expected counts
    # so that rings without a pair count as evidence too (with observed counts
    # a small uniform FOV's few chance pairs at short range looked like
    # clustering: finite radii for most FOVs of 10-100 uniform points), plus
    # 5 % of the short-range excess: clusters make the counts of distant rings
    # correlated, and without the floor the fit spends a wide, faint term on
    # large-scale ripples of g - 1 (a few per cent), which the r^2 weight of
    # the radius then inflates (measured: 2-2.5 times the true radius on
    # simulated FOVs without blinking).
    error = np.sqrt(2.0 * np.maximum(g, 1.0) / expected) + 0.05 * peak

    def model(params):
        # A constant plus Gaussian terms; params are the constant, then (log
        # amplitude, log sigma) pairs. The constant absorbs a long-range offset
        # of g - 1 (a FOV whose localisations keep away from the edges of their
        # bounding box is denser than n / area at every scale: measured up to
        # +0.1 on benchmark FOVs), which a wide Gaussian term would otherwise
        # take and the r^2 weight of the radius inflate ten- to fifty-fold.
        a, sig = np.exp(params[1::2]), np.exp(params[2::2])
        return params[0] + (a[None, :] * np.exp(-r[:, None] ** 2 / (4 * sig[None, :] ** 2))).sum(axis=1)

    def fit_terms(start):
        n_terms = (start.size - 1) // 2
        # A term no wider than a third of the largest ring decays inside the rings.
        low = np.r_[-1.0, np.tile(np.log([1e-6, 0.01 * s]), n_terms)]
        high = np.r_[1.0, np.tile(np.log([1e6, r[-1] / 3.0]), n_terms)]
        return least_squares(lambda p: (model(p) - excess) / error, np.clip(start, low, high),
                             bounds=(low, high))

    one = fit_terms(np.r_[0.0, np.log([peak, s])])
    two = fit_terms(np.r_[0.0, np.log([peak, 0.3 * s, 0.3 * peak, 2.0 * s])])
    # The second term must earn its two parameters (Bayesian information
    # criterion on the weighted residuals): without blinking it would only
    # follow ripples of g - 1.
    n_rings = r.size

    def bic(cost, n_params):
        return n_rings * np.log(2 * cost / n_rings) + n_params * np.log(n_rings)

    # Clustering at all: one term must beat a constant alone (measured: on
    # uniform points a faint, wide term and a negative constant otherwise
    # follow the noise and pass the excess-neighbour test).
    weights = error**-2
    constant = np.sum(weights * excess) / np.sum(weights)
    cost_constant = 0.5 * np.sum(weights * (excess - constant) ** 2)
    if not one.success or bic(one.cost, 3) >= bic(cost_constant, 1):
        return _no_clustering()
    best = two if (two.success and bic(two.cost, 5) < bic(one.cost, 3)) else one
    a, sig = np.exp(best.x[1::2]), np.exp(best.x[2::2])
    w = a * sig**2  # proportional to the excess pairs of every term
    # Mean number of extra neighbours a localisation has over uniform
    # scattering: about (cluster size - 1) x clustered fraction when there are
    # clusters, a few thousandths for uniform points (measured).
    excess_neighbours = 4 * np.pi * np.sum(w) / s**2
    if excess_neighbours < MIN_EXCESS_NEIGHBOURS:
        return _no_clustering()
    # With two terms the narrower one is the repeated localisation of single
    # molecules (blinking): its extra neighbours per localisation. Only when it
    # looks like blinking: a molecule's blink group is a part of its cluster
    # (fewer excess pairs than the wide term) and much tighter than it (at most
    # half its width). On a real FGFR1 FOV made of a few dense blobs the fit
    # gave two terms of 14 and 25 nm, the narrow one with 139 "repeats" per
    # localisation; with benchmark blinking the widths differ 2.2-3.3 times.
    narrow = np.argmin(sig)
    blinking = sig.size == 2 and w[narrow] < w[1 - narrow] and 2 * sig[narrow] <= sig[1 - narrow]
    repeats = 4 * np.pi * w[narrow] / s**2 if blinking else 0.0
    return Bunch(radius=float(np.sqrt(2.0 * np.sum(w * sig**2) / np.sum(w))),
                 repeat_neighbours=float(repeats), excess_neighbours=float(excess_neighbours))


def tiled_excess_neighbours(X, radius, *, tile_radii=10.0, reach=3.0, max_points=50_000, random_state=0):
    """Extra neighbours of the typical localisation, robust to one large cluster (label-free).

    Each localisation's neighbours within ``reach x radius``, minus those a
    uniform scatter of the FOV's density (bounding box) would give. Over all
    localisations the mean of this is about the pair-correlation fit's
    ``excess_neighbours``, about (cluster size - 1) x the clustered fraction.
    But that mean counts every pair, so one blob of a thousand localisations
    outweighs dozens of small clusters (a real FGFR1 FOV: 538 extra neighbours
    per localisation, where most of its clusters have fewer than ten
    localisations). Here the FOV is cut into square tiles of side about
    ``tile_radii x radius``, each tile takes the mean over its localisations,
    and the result is the median over localisations of their tile's mean: a
    blob sets the value only when its tile holds half of the localisations.

    The median has the opposite limit too: when fewer than half of the
    localisations lie in tiles that hold a cluster (few, sparse clusters in
    much background), it drops to about 0 while the pair correlation still
    shows clustering. Measured: 15 clusters of 40 localisations in a 6 um FOV
    gave 34.9 with 300 background localisations and 0.72 with 900 (pair
    correlation 27.4 and 16.3). Above that limit the value tends to exceed
    (cluster size - 1) x the clustered fraction (1.24 times for 20 clusters of
    60 localisations in a 3 um FOV), because the median localisation sits in a
    tile richer in clusters than the FOV as a whole.

    No edge correction: a localisation within ``reach x radius`` of the
    bounding box misses part of its neighbourhood, so on FOVs only a few times
    ``reach x radius`` wide the value is strongly negative (per-scenario
    medians on the benchmark's FOVs of the plain mean were 0-22 % below the
    pair-correlation count).

    Parameters
    ----------
    X : array-like of shape (n, 2)
        One FOV.
    radius : float
        The clusters' RMS radius, in the unit of ``X`` (e.g.
        ``pair_correlation_fit(X).radius``).
    tile_radii : float, default=10.0
        Side of a tile, in radii. 10 keeps the real FGFR1 FOVs' values at 6-12;
        with 20 the FOV with the blob gets 41, with 30 it gets 981.
    reach : float, default=3.0
        Neighbourhood radius, in radii (a Gaussian cluster's pairs lie within
        3 RMS radii of each other).
    max_points : int, default=50_000
        Larger FOVs count the neighbours of this many localisations drawn at
        random (from all localisations), so that the counting stays linear in
        ``n`` (building the k-d tree is ``n log n``).
    random_state : int, numpy.random.Generator or None, default=0
        Seed of that draw.

    Returns
    -------
    excess : float
        Extra neighbours per localisation; negative where most localisations
        see fewer neighbours than the bounding box's density predicts (small or
        unevenly filled FOVs); 0.0 for fewer than two localisations or a
        bounding box of zero area (identical or axis-aligned collinear points).

    Raises
    ------
    ValueError
        When ``X`` is not a finite (n, 2) array, or ``radius``, ``tile_radii``,
        ``reach`` or ``max_points`` is not a positive number (an integer for
        ``max_points``).
    """
    X = check_coordinates(X)
    radius = check_positive(radius, "radius")
    tile_radii = check_positive(tile_radii, "tile_radii")
    reach = check_positive(reach, "reach")
    max_points = check_positive(max_points, "max_points", integer=True)
    rng = check_random_state(random_state)
    n = X.shape[0]
    low, span = X.min(axis=0), np.ptp(X, axis=0)
    if n < 2 or np.prod(span) <= 0:
        return 0.0
    queries = X if n <= max_points else X[_canonical_subsample(X, max_points, rng)]
    reach_length = reach * radius
    counts = cKDTree(X).query_ball_point(queries, r=reach_length, return_length=True) - 1
    excess = counts - (n - 1) / float(np.prod(span)) * np.pi * reach_length**2
    n_tiles = np.maximum(1.0, np.round(span / (tile_radii * radius)))
    cell = np.minimum(np.floor((queries - low) / span * n_tiles), n_tiles - 1)
    # Only the occupied tiles get an index: a radius tiny against the FOV must not
    # allocate one counter per empty tile.
    _, tile = np.unique(cell, axis=0, return_inverse=True)
    tile = tile.ravel()
    means = np.bincount(tile, excess) / np.bincount(tile)
    return float(np.median(means[tile]))


def pair_correlation_radius(X, *, spacing=None, n_bins=48, max_points=50_000, random_state=0):
    """Cluster RMS radius of one FOV from its pair-correlation function (label-free).

    ``pair_correlation_fit(...).radius``; see :func:`pair_correlation_fit`.
    nan when the FOV shows no clustering.
    """
    return pair_correlation_fit(X, spacing=spacing, n_bins=n_bins, max_points=max_points,
                                random_state=random_state).radius
