"""scikit-learn estimators: :class:`MIROTransformer` and :class:`MIROClusterer`.

``MIROTransformer`` learns, from a few labelled fields of view (FOVs), to move
every localisation of a cluster onto the cluster's centre while leaving
background localisations in place; ``transform`` returns the moved
("collapsed") coordinates in the units of the input. ``MIROClusterer`` chains
it with DBSCAN (or any scikit-learn clusterer), clustering every FOV on its own.

FOVs of an experiment usually share one coordinate range (every image starts at
0 nm), so they must never be processed as one point cloud: pass the FOV id of
every localisation as ``groups``.
"""

from ._base import FINE_TUNING_SCHEDULE, FROM_SCRATCH_SCHEDULE, resolve_device
from ._clusterer import MIROClusterer, collapse_repeatedly, tune_dbscan
from ._multiscale import (
    MultiscaleMIROClusterer,
    MultiscaleMIROTransformer,
    nesting_report,
)
from ._shape import CLUSTER_DESCRIPTORS, MIROShapeClassifier, cluster_descriptors, mode_per_cluster
from ._transformer import MIROTransformer

__all__ = [
    "CLUSTER_DESCRIPTORS",
    "FINE_TUNING_SCHEDULE",
    "FROM_SCRATCH_SCHEDULE",
    "MIROClusterer",
    "MIROShapeClassifier",
    "MIROTransformer",
    "MultiscaleMIROClusterer",
    "MultiscaleMIROTransformer",
    "cluster_descriptors",
    "collapse_repeatedly",
    "mode_per_cluster",
    "nesting_report",
    "resolve_device",
    "tune_dbscan",
]
