"""scikit-learn's estimator checks for the core estimators.

Every expected failure is justified: the ones shared by all MIRO estimators
(n_features != 2) in ``tests/_estimator_checks.py``, the rest below.
"""

from _estimator_checks import CHECK_TINY as TINY
from _estimator_checks import TRANSFORMER_CHECKS_NEEDING_2D, expected_failures
from sklearn.frozen import FrozenEstimator
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_miro import MIROClusterer, MIROTransformer
from sklearn_miro.datasets import make_gaussian_clusters

SHARED_FAILURES = expected_failures(None, *TRANSFORMER_CHECKS_NEEDING_2D)


def _frozen_clusterer():
    X, y, fov = make_gaussian_clusters(
        n_fovs=2, n_clusters=3, n_localizations=10, fov_size=20, cluster_std=0.5,
        random_state=0,
    )
    miro = MIROTransformer(**TINY).fit(X, y, groups=fov)
    return MIROClusterer(FrozenEstimator(miro), eps=0.5, min_samples=2)


def _expected_failures(estimator):
    failures = dict(SHARED_FAILURES)
    if isinstance(estimator, MIROClusterer) and not isinstance(
        estimator.transformer, FrozenEstimator
    ):
        failures["check_clustering"] = (
            "fits without y: an untrained MIRO transformer needs labelled clusters (the "
            "instance with a fitted, frozen transformer passes this check)"
        )
    return failures


@parametrize_with_checks(
    [
        MIROTransformer(**TINY),
        MIROClusterer(MIROTransformer(**TINY), eps=0.5, min_samples=2),
        _frozen_clusterer(),
    ],
    expected_failed_checks=_expected_failures,
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
