"""sklearn_miro: MIRO clustering of single-molecule localisation microscopy data.

MIRO (Pineda et al., Nat. Commun. 16, 9693, 2025) is a recurrent graph neural
network that moves every localisation of a cluster towards the cluster centre
and leaves background localisations in place, so that DBSCAN on the moved
points separates clusters far better.

Public estimators
-----------------
MIROTransformer
    Learns the displacements from a few labelled fields of view; ``transform``
    returns collapsed coordinates.
MIROClusterer
    MIROTransformer followed by DBSCAN, clustering every field of view on its own.

Submodules: :mod:`sklearn_miro.metrics` (the paper's metrics and scorers),
:mod:`sklearn_miro.datasets` (simulators of the paper's scenarios),
:mod:`sklearn_miro.io` (localisation files, the benchmark layout),
:mod:`sklearn_miro.analysis` (per-cluster and per-FOV statistics),
:mod:`sklearn_miro.parameters` (NeNA precision, Ripley's H, DBSCAN's eps),
:mod:`sklearn_miro.plotting` (figures, needs matplotlib),
:mod:`sklearn_miro.provenance` (``provenance_record`` and ``methods_text``: how fitted
clusters were obtained, as a record and as a Methods paragraph).
"""

import importlib

__version__ = "0.1.0"

# The estimators pull in torch, which takes a second to import: load them on
# first use so that `import sklearn_miro.metrics` or `.io` stays light.
_LAZY = {
    "MIROTransformer": "sklearn_miro.estimators",
    "load_reference_checkpoint": "sklearn_miro.reference",
    "MIROClusterer": "sklearn_miro.estimators",
    "MultiscaleMIROTransformer": "sklearn_miro.estimators",
    "MultiscaleMIROClusterer": "sklearn_miro.estimators",
    "MIROShapeClassifier": "sklearn_miro.estimators",
    "save_model": "sklearn_miro.persistence",
    "load_model": "sklearn_miro.persistence",
    "provenance_record": "sklearn_miro.provenance",
    "methods_text": "sklearn_miro.provenance",
}

__all__ = sorted(_LAZY) + ["__version__"]


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'sklearn_miro' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
