"""Fitted test transformers with a replaced ``transform``, shared by the estimator test modules."""

import numpy as np

from sklearn_miro import MIROTransformer


def fitted_as(cls, fitted):
    """The fitted test transformer as an instance of ``cls`` (a subclass changing ``transform``)."""
    changed = cls(**fitted.get_params())
    changed.__dict__.update(fitted.__dict__)
    return changed


class MovesNothing(MIROTransformer):
    """A fitted transformer moving nothing: its output is a copy of its input, so DBSCAN runs on the
    localisations themselves."""

    def transform(self, X, groups=None, step=None, passes=1):
        return np.array(X, dtype=np.float64, copy=True)
