"""Seeded simulators of SMLM point clouds: every scenario of the MIRO paper.

All simulators share the same conventions:

* coordinates ``X`` in nm, float64, shape (n, 2); each field of view (FOV) has
  its own frame ``[0, fov_size]^2`` (clusters may spill over the edge unless
  ``margin`` keeps them inside);
* cluster labels: -1 for background, clusters numbered 0..n_clusters-1
  uniquely across all FOVs returned (in FOV order, no gaps);
* ``fov``: the FOV id 0..n_fovs-1 of every localisation (localisations are
  shuffled within their FOV; a FOV left with no localisation has no rows, so
  its id is missing);
* two-scale simulators return labels of shape (n, 2): column 0 the fine scale
  (corners, spots), column 1 the coarse scale (rings, NPCs);
* :func:`make_multishape` also returns the shape class of every localisation
  (``"spot"``, ``"ellipse"``, ``"ring"``, ``"c_shape"`` or ``"background"``);
* ``random_state`` (None, int, :class:`numpy.random.Generator` or
  ``RandomState``): the same seed gives identical data;
* every count, size and fraction is a parameter, so tiny configurations for
  tests are cheap (e.g. ``n_clusters=3, n_background=20, fov_size=500``).

================================  =========================================
simulator                         paper
================================  =========================================
:func:`make_benchmark_scenario`   benchmark scenarios 2-10 (Fig. 2a-d)
:func:`make_gaussian_clusters`    generic Gaussian nanocluster FOVs
:func:`make_ellipses`             scenario 6 elliptical clusters
:func:`make_rings`                ring-shaped clusters (Fig. 2f)
:func:`make_c_shapes`             C-shaped clusters (Fig. 2e)
:func:`make_multishape`           shape mixtures (Fig. 3)
:func:`make_npc`                  NPC-like structures (Fig. 5c-f training)
:func:`make_multiscale_rings`     rings of spots (Fig. 5a-b)
:func:`make_cluster_pairs`        adjacent cluster pairs (Fig. 4a)
:func:`add_blinking`              multiple blinking (Table S4 scenarios)
:func:`blink_frames`              frame numbers of blinked localisations
================================  =========================================
"""

from ._base import BACKGROUND, add_blinking, blink_frames
from ._multiscale import make_multiscale_rings, make_npc
from ._nanoclusters import (
    make_benchmark_scenario,
    make_cluster_pairs,
    make_ellipses,
    make_gaussian_clusters,
)
from ._shapes import SHAPE_DEFAULTS, SHAPES, make_c_shapes, make_multishape, make_rings

__all__ = [
    "BACKGROUND",
    "SHAPES",
    "SHAPE_DEFAULTS",
    "add_blinking",
    "blink_frames",
    "make_benchmark_scenario",
    "make_c_shapes",
    "make_cluster_pairs",
    "make_ellipses",
    "make_gaussian_clusters",
    "make_multiscale_rings",
    "make_multishape",
    "make_npc",
    "make_rings",
]
