"""The combined scorers (ARI-dagger, JI_c and AMI) recommended for grid searches."""

import pickle
import warnings

import numpy as np
import pytest
from sklearn.cluster import DBSCAN
from sklearn.exceptions import UndefinedMetricWarning

from sklearn_miro.datasets import make_benchmark_scenario
from sklearn_miro.metrics import (
    ami,
    ari_c,
    ari_dagger,
    ari_dagger_ji_c,
    ari_dagger_ji_c_ami,
    get_scorer,
    get_scorer_names,
    jaccard_cluster_index,
    miro_scorer,
    rmsre_n,
)


@pytest.fixture(scope="module")
def fovs():
    return make_benchmark_scenario(2, n_fovs=2, random_state=0)


def test_combined_metric_is_the_mean_of_ari_dagger_and_ji_c(fovs):
    X, y, fov = fovs
    X0, y0 = X[fov == 0], y[fov == 0]
    pred = DBSCAN(eps=40, min_samples=5).fit_predict(X0)
    expected = 0.5 * (ari_dagger(y0, pred) + jaccard_cluster_index(X0, y0, pred))
    assert ari_dagger_ji_c(X0, y0, pred) == pytest.approx(expected)
    ref = 0.5 * (ari_dagger(y0, pred, variant="reference")
                 + jaccard_cluster_index(X0, y0, pred, variant="reference"))
    assert ari_dagger_ji_c(X0, y0, pred, variant="reference") == pytest.approx(ref)


def test_three_term_metric_adds_ami(fovs):
    X, y, fov = fovs
    X0, y0 = X[fov == 0], y[fov == 0]
    pred = DBSCAN(eps=40, min_samples=5).fit_predict(X0)
    expected = (ari_dagger(y0, pred) + jaccard_cluster_index(X0, y0, pred) + ami(y0, pred)) / 3
    assert ari_dagger_ji_c_ami(X0, y0, pred) == pytest.approx(expected)


def test_miro_scorer_scores_per_fov_and_is_listed(fovs):
    X, y, fov = fovs
    dbscan = DBSCAN(eps=40, min_samples=5)
    per_fov = [ari_dagger_ji_c_ami(X[fov == f], y[fov == f], dbscan.fit_predict(X[fov == f]))
               for f in (0, 1)]
    assert miro_scorer(dbscan, X, y, groups=fov) == pytest.approx(np.mean(per_fov))
    assert {"ari_dagger_ji_c", "ari_dagger_ji_c_ami"} <= set(get_scorer_names())
    assert get_scorer("miro")(dbscan, X, y, groups=fov) == pytest.approx(np.mean(per_fov))
    pairs = [ari_dagger_ji_c(X[fov == f], y[fov == f], dbscan.fit_predict(X[fov == f])) for f in (0, 1)]
    assert get_scorer("ari_dagger_ji_c")(dbscan, X, y, groups=fov) == pytest.approx(np.mean(pairs))


def test_miro_scorer_does_not_reward_splitting_background(fovs):
    # Over-splitting (tiny eps, min_samples 2): many small "pure" clusters
    # keep ARI-dagger high while JI_c collapses; the combined score ranks the
    # sensible clustering first.
    X, y, fov = fovs
    good, split = DBSCAN(eps=40, min_samples=5), DBSCAN(eps=12, min_samples=2)
    jic = get_scorer("ji_c")
    assert jic(split, X, y, groups=fov) < 0.5 * jic(good, X, y, groups=fov)
    assert miro_scorer(good, X, y, groups=fov) > miro_scorer(split, X, y, groups=fov)


def test_a_fov_without_true_clusters_is_left_out_of_undefined_scores(fovs):
    # ARI_c and RMSRE_N have no value on a FOV whose ground truth has no
    # cluster; that FOV must not make every candidate's score NaN.
    X, y, fov = fovs
    y = y.copy()
    y[fov == 1] = -1
    dbscan = DBSCAN(eps=40, min_samples=5)
    pred0 = dbscan.fit_predict(X[fov == 0])
    for name, metric, sign in [("ari_c", ari_c, 1), ("neg_rmsre_n", rmsre_n, -1)]:
        args = (y[fov == 0], pred0) if name == "ari_c" else (X[fov == 0], y[fov == 0], pred0)
        expected = sign * metric(*args)
        with pytest.warns(UndefinedMetricWarning, match=r"undefined on 1 of 2 FOVs .*FOV 1\)"):
            assert get_scorer(name)(dbscan, X, y, groups=fov) == pytest.approx(expected)
    # Defined on both FOVs: averaged over both, no warning.
    with warnings.catch_warnings():
        warnings.simplefilter("error", UndefinedMetricWarning)
        assert np.isfinite(get_scorer("miro")(dbscan, X, y, groups=fov))
    # Only FOVs without clusters: NaN, said once.
    with pytest.warns(UndefinedMetricWarning, match="the score is NaN"):
        assert np.isnan(get_scorer("ari_c")(dbscan, X[fov == 1], y[fov == 1], groups=fov[fov == 1]))


def test_a_candidate_that_finds_no_cluster_still_scores_nan(fovs):
    # RMSRE_N of a clustering without any cluster is NaN and must stay NaN
    # (it ranks the candidate last in a grid search), not be averaged away.
    X, y, fov = fovs
    never = DBSCAN(eps=1e-3, min_samples=50)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UndefinedMetricWarning)
        assert np.isnan(get_scorer("neg_rmsre_n")(never, X, y, groups=fov))


@pytest.mark.parametrize("name", get_scorer_names())
def test_every_scorer_pickles_and_scores_the_same(fovs, name):
    # A fitted GridSearchCV is saved (joblib / pickle) together with its scorer.
    X, y, fov = fovs
    dbscan = DBSCAN(eps=40, min_samples=5).fit(X[fov == 0])
    scorer = get_scorer(name)
    restored = pickle.loads(pickle.dumps(scorer))
    assert repr(restored) == repr(scorer)
    if name != "compression_index":  # the compression index needs a MIRO transformer to score
        assert restored(dbscan, X, y, groups=fov) == pytest.approx(scorer(dbscan, X, y, groups=fov), nan_ok=True)
