"""Single-shot training: MIRO from one labelled cluster (paper Table S5).

MIRO's training data are synthetic FOVs assembled from labelled clusters, so
one hand-labelled cluster is enough to start from: :func:`single_shot_training_fovs`
lays out copies of it, randomly rotated and mirrored, over square FOVs with
uniform background, and returns labelled FOVs that
:meth:`sklearn_miro.MIROTransformer.fit` (or :class:`~sklearn_miro.MIROClusterer`)
trains on like any other. Every copy is then augmented again during training
(rotation, reflection, localisation dropout and addition, jitter).

Choose ``n_clusters`` and ``n_background`` as the counts of one of your own
FOVs of side ``fov_size`` (the localisation density sets the connectivity
radius and the crop size of the training graphs, so it should match the data
the model will be applied to).

    >>> import numpy as np
    >>> from sklearn_miro.single_shot import single_shot_training_fovs
    >>> cluster = np.random.default_rng(0).normal(scale=25.0, size=(15, 2))   # nm
    >>> X, y, fov = single_shot_training_fovs(cluster, n_clusters=20, n_background=300,
    ...                                       fov_size=2000.0, random_state=0)
    >>> X.shape, int(y.max()) + 1, len(np.unique(fov))
    ((6000, 2), 20, 10)
"""

from __future__ import annotations

import json
import numbers
from pathlib import Path

import numpy as np

from ._validation import check_coordinates, check_positive, check_random_state

__all__ = ["load_reference_single_shot", "single_shot_training_fovs"]


def single_shot_training_fovs(cluster, *, n_clusters, n_background, fov_size, n_fovs=10,
                              resample=False, size_spread=0.0, random_state=None):
    """Labelled training FOVs built from one labelled cluster.

    Parameters
    ----------
    cluster : array-like of shape (m, 2) or DataFrame
        Coordinates of the localisations of one cluster (any position: it is
        centred on its mean), in the units of the data to cluster (nm).
    n_clusters : int
        Copies of the cluster per FOV (the cluster count of a typical FOV of
        your data).
    n_background : int
        Uniform background localisations per FOV.
    fov_size : float
        Side of the square FOVs, in the units of ``cluster``.
    n_fovs : int, default=10
        Number of FOVs. They are synthetic, so more cost only time: what
        :class:`~sklearn_miro.MIROClusterer` chooses after the network (DBSCAN's
        eps and min_samples, the passes, the trimming radius) is chosen on
        them, and with 3 that choice jumped between distant eps values with
        near-equal scores from one seed, or one small change of layout, to the
        next; with 10 it was the same on every seed.
    resample : bool, default=False
        Draw each copy afresh from a Gaussian kernel density estimate of the
        cluster (as many localisations as the cluster, drawn with
        replacement, each moved by Gaussian noise with the cluster's own
        covariance times Scott's factor ``m ** (-1/6)`` squared) instead of
        copying it exactly.
    size_spread : float or "auto", default=0.0
        Standard deviation of the log of a random factor that scales each copy
        about its centre (0: every copy the cluster's size). ``"auto"``:
        ``1 / (2 sqrt(m))`` for a cluster of ``m`` localisations, the relative
        standard error of the root-mean-square radius of ``m`` points drawn
        from a round Gaussian, i.e. how far the one labelled cluster's size
        may be from its population's typical size.
    random_state : int, RandomState, Generator or None, default=None

    Returns
    -------
    X : ndarray of shape (n_fovs * (n_clusters * m + n_background), 2)
    y : ndarray of shape (n,)
        Cluster label (0 .. n_clusters - 1 within each FOV), -1 for background.
    groups : ndarray of shape (n,)
        FOV id (0 .. n_fovs - 1).

    Notes
    -----
    Each copy is rotated by a uniform angle and mirrored with probability 1/2
    about its centre; centres are uniform in the FOV, at least the copy's
    radius (its farthest localisation from the centre) from the edges, so
    every copy lies inside the FOV. Copies may overlap when the FOV is
    crowded, as clusters of real data do.

    ``resample=True`` gives the network copies that vary as clusters of one
    kind do, so it overfits the one cluster less (the training clusters
    compress to about 0.28 of their size instead of 0.15 on the paper's
    single-shot scenario 5), but on the paper's single-shot scenarios it
    trades cluster counting for membership: over 3 seeds (3 training FOVs,
    before they defaulted to 10), ARI-dagger 0.545 -> 0.561 and JI_c
    0.882 -> 0.855 on scenario 5, and a little worse on all three metrics on
    scenario 6 (whose cluster is elongated). It is off by default.

    ``size_spread`` varies the copies' size and nothing else. On the paper's
    single-shot scenarios ``"auto"`` (0.13 for scenario 5's 15 localisations,
    0.07 for scenario 6's 50) traded one metric for another, over 3 seeds:
    ARI-dagger / JI_c 0.535 / 0.887 -> 0.539 / 0.862 on scenario 5 and
    0.689 / 0.922 -> 0.702 / 0.919 on scenario 6 (RMSRE_N 0.297 -> 0.368);
    the test clusters still compress to 0.38 and 0.27 of their size against
    0.16-0.20 for the training copies, so it is the one cluster's layout the
    network learns, not its size. It is off by default.
    """
    points = check_coordinates(cluster, name="cluster", min_points=2)
    check_positive(n_clusters, "n_clusters", integer=True)
    check_positive(n_background, "n_background", integer=True, allow_zero=True)
    check_positive(fov_size, "fov_size")
    check_positive(n_fovs, "n_fovs", integer=True)
    if not isinstance(resample, (bool, np.bool_)):
        raise ValueError(f"resample must be True or False; got {resample!r}.")
    if not (isinstance(size_spread, str) and size_spread == "auto"):
        try:
            check_positive(size_spread, "size_spread", allow_zero=True)
        except ValueError:
            raise ValueError(f"size_spread must be a finite number >= 0 or 'auto'; got {size_spread!r}.") from None
    if isinstance(random_state, np.random.Generator):
        # Ints keep their recorded RandomState streams; a Generator seeds one from its own.
        random_state = np.random.RandomState(random_state.integers(2**32, dtype=np.uint64))
    rng = check_random_state(random_state, legacy=True)
    points = points - points.mean(axis=0)
    # Copies are rotated, so the margin a copy needs is its radius (the farthest
    # localisation from the centre), not its largest coordinate.
    radius = float(np.max(np.linalg.norm(points, axis=1)))
    if 2 * radius >= fov_size:
        raise ValueError(
            f"The cluster ({2 * radius:.3g} across) does not fit in a FOV of side "
            f"fov_size={fov_size!r}; give fov_size in the units of the cluster."
        )
    m = len(points)
    n_copies = n_fovs * n_clusters
    if resample:
        # A KDE with the cluster's covariance keeps an elongated cluster
        # elongated, where isotropic noise of the same size would round it.
        bandwidth = np.cov(points, rowvar=False) * float(m) ** (-1.0 / 3.0)
        picks = rng.randint(0, m, size=(n_copies, m))
        noise = rng.multivariate_normal(np.zeros(2), bandwidth, size=(n_copies, m))
        drawn = points[picks] + noise
        drawn -= drawn.mean(axis=1, keepdims=True)
        copy_radius = np.linalg.norm(drawn, axis=2).max(axis=1)  # (copies,)
    else:
        drawn = np.broadcast_to(points, (n_copies, m, 2))
        copy_radius = np.full(n_copies, radius)
    spread = 0.5 / np.sqrt(m) if isinstance(size_spread, str) else float(size_spread)
    factor = np.exp(rng.normal(0.0, spread, n_copies)) if spread > 0 else np.ones(n_copies)
    # Kernel noise or a scale factor can make a copy too wide for the FOV:
    # such a copy is shrunk to fit (it then touches both edges at most).
    fits = np.divide(0.5 * fov_size, copy_radius, out=np.full(n_copies, np.inf), where=copy_radius > 0)
    factor = np.minimum(factor, fits)
    if np.any(factor != 1.0):
        drawn = drawn * factor[:, None, None]
    copy_extent = (copy_radius * factor)[:, None, None]
    angles = rng.uniform(0.0, 2.0 * np.pi, n_copies)
    mirror = np.where(rng.random_sample(n_copies) < 0.5, -1.0, 1.0)
    cos, sin = np.cos(angles)[:, None], np.sin(angles)[:, None]
    px, py = drawn[:, :, 0], drawn[:, :, 1] * mirror[:, None]
    copies = np.stack([cos * px - sin * py, sin * px + cos * py], axis=-1)  # (copies, m, 2)
    centres = rng.uniform(copy_extent, fov_size - copy_extent, (n_copies, 1, 2))
    clustered = (copies + centres).reshape(n_fovs, n_clusters * m, 2)
    background = rng.uniform(0.0, fov_size, (n_fovs, int(n_background), 2))
    X = np.concatenate([clustered, background], axis=1).reshape(-1, 2)
    labels = np.concatenate([np.repeat(np.arange(n_clusters), m), np.full(int(n_background), -1)])
    y = np.tile(labels, n_fovs)
    groups = np.repeat(np.arange(n_fovs), n_clusters * m + int(n_background))
    return X, y, groups


def load_reference_single_shot(reference_dir, scenario, *, fov_size=2000.0):
    """The single labelled cluster and FOV recipe of the paper's single-shot runs.

    Reads ``single_shot_training_cluster_scenario_{scenario}.csv`` (one
    cluster, coordinates normalised to the FOV and centred) and
    ``single_shot_metadata.json`` from ``reference_dir``.

    Parameters
    ----------
    reference_dir : str or Path
    scenario : {5, 6}
        Ground-truth benchmark scenario.
    fov_size : float, default=2000.0
        Side of the benchmark FOVs in nm: the normalised coordinates are
        multiplied by it.

    Returns
    -------
    cluster : ndarray of shape (m, 2)
        In nm, centred.
    spec : dict
        ``n_clusters`` and ``n_background`` per FOV (the middle of the
        authors' ranges), ``fov_size``, and ``dbscan`` (the plain DBSCAN
        parameters of the benchmark), ready for :func:`single_shot_training_fovs`
        after removing ``dbscan``.
    """
    import pandas as pd

    if not isinstance(scenario, numbers.Integral) or isinstance(scenario, bool):
        raise ValueError(f"scenario must be an integer (5 or 6); got {scenario!r}.")
    folder = Path(reference_dir)
    path = folder / f"single_shot_training_cluster_scenario_{scenario}.csv"
    meta_path = folder / "single_shot_metadata.json"
    for p in (path, meta_path):
        if not p.is_file():
            raise FileNotFoundError(f"{p} not found: reference_dir must hold the single-shot files.")
    meta = json.loads(meta_path.read_text()).get(f"Ground Truth - Scenario {scenario}")
    if meta is None:
        raise ValueError(f"{meta_path} has no entry for ground-truth scenario {scenario}.")
    cluster = pd.read_csv(path)[["x", "y"]].to_numpy(dtype=np.float64) * float(fov_size)
    kwargs = meta["builder_kwargs"]
    spec = {
        "n_clusters": int(round(np.mean(kwargs["cluster_count_range"]))),
        "n_background": int(round(np.mean(kwargs["noise_point_range"]))),
        "fov_size": float(fov_size),
        "dbscan": dict(meta["DBSCAN_params"]),
    }
    return cluster - cluster.mean(axis=0), spec
