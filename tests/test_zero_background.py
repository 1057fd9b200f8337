"""The one rule for labels that use 0 for background (the benchmark's files) instead of -1.

``sklearn_miro._validation.zero_background_evidence``: label 0 is taken for background
only where it is spread like background (RMS spread about its centre >= 2x the median
other label's and >= 0.3x all localisations', FOV by FOV when FOV ids are known).
cluster_table, fov_summary, MIROTransformer.fit, MIROClusterer.fit and plot_clusters
warn by it: labellings without background (make_cluster_pairs, clusters without their
background) pass in silence, benchmark-style labels are named.
"""

import warnings

import numpy as np
import pytest
from _estimator_checks import CHECK_TINY
from sklearn.frozen import FrozenEstimator

from sklearn_miro import MIROClusterer, MIROTransformer
from sklearn_miro._validation import (
    ZERO_BACKGROUND_FOV_FRACTION,
    ZERO_BACKGROUND_SPREAD_RATIO,
    warn_if_zero_is_background,
    zero_background_evidence,
)
from sklearn_miro.analysis import cluster_table, fov_summary
from sklearn_miro.datasets import make_cluster_pairs, make_gaussian_clusters

FRAGMENT = "uses label 0 for"
# Only the zero-as-background warning is an error (a tiny fit may say "move nothing").
ZERO_IS_ERROR = dict(action="error", message=r".*has no -1 \(background\) label", category=UserWarning)


def benchmark_style(y):
    """The benchmark files' convention: 0 = background, clusters from 1."""
    return np.where(y == -1, 0, y + 1)


def restarting(y, groups):
    """Benchmark-style labels numbered from 1 again in every FOV (one file per FOV)."""
    out = np.zeros_like(y)
    for g in np.unique(groups):
        inside = (groups == g) & (y >= 0)
        out[inside] = np.unique(y[inside], return_inverse=True)[1] + 1
    return out


@pytest.fixture(scope="module")
def data():
    """Two FOVs of 4 clusters over as many background localisations, both in [0, 500]^2."""
    return make_gaussian_clusters(n_fovs=2, n_clusters=4, n_localizations=15, fov_size=500, random_state=0)


@pytest.fixture(scope="module")
def pairs():
    return make_cluster_pairs(2, n_pairs=2, mean_localizations=15, fov_size=500, random_state=0)


@pytest.fixture(scope="module")
def far_apart(data):
    """The FOVs 10^6 nm apart, labels restarting at 1 in each, background 0."""
    X, y, fov = data
    return X + 1e6 * fov[:, None], restarting(y, fov), fov


@pytest.fixture(scope="module")
def fitted(data):
    X, y, fov = data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return MIROTransformer(**CHECK_TINY).fit(X, y, groups=fov)


def zero_warnings(record):
    return [w for w in record if issubclass(w.category, UserWarning) and FRAGMENT in str(w.message)]


# ------------------------------------------------------------------ the rule itself


def reference_evidence(X, labels, groups):
    """The rule FOV by FOV with Python loops: (FOVs where label 0 looks like background, checked)."""
    seen, checked = [], 0
    for g in np.unique(groups):
        Xg, lg = X[groups == g], labels[groups == g]
        zero = lg == 0
        if zero.sum() < 2 or zero.all():
            continue
        checked += 1

        def rms(P):
            return np.sqrt(np.mean(np.sum((P - P.mean(axis=0)) ** 2, axis=1)))

        spreads = [rms(Xg[lg == k]) for k in np.unique(lg) if k != 0 and (lg == k).sum() >= 2]
        typical = np.median(spreads) if spreads else 0.0
        s0 = rms(Xg[zero])
        if s0 > 0 and s0 >= ZERO_BACKGROUND_FOV_FRACTION * rms(Xg) and s0 >= ZERO_BACKGROUND_SPREAD_RATIO * typical:
            seen.append((g, s0, typical, rms(Xg)))
    return seen, checked


def test_the_vectorised_rule_matches_a_loop_over_fovs_and_labels():
    rng = np.random.default_rng(0)
    n_fovs = 12
    X, y, fov = make_gaussian_clusters(n_fovs=n_fovs, n_clusters=5, n_localizations=(2, 20), fov_size=800,
                                       random_state=1)
    labels = restarting(y, fov)
    # Some FOVs without background (label 0 is a cluster there), one without label 0.
    for g in (1, 4, 7):
        inside = fov == g
        labels[inside] = np.where(labels[inside] == 0, -5, labels[inside] - 1)
    keep = labels != -5
    X, labels, fov = X[keep] + rng.uniform(-1e5, 1e5, n_fovs)[fov[keep], None], labels[keep], fov[keep]
    labels[fov == 9] += 1
    groups = np.array([f"cell {g}" for g in range(n_fovs)], dtype=object)[fov]
    seen = zero_background_evidence(X, labels, groups)
    want, checked = reference_evidence(X, labels, groups)
    assert len(want) == n_fovs - 4 and seen["n_fovs_seen"] == len(want) and seen["n_fovs_checked"] == checked
    g, s0, typical, overall = min(want)  # the first FOV (in sorted ids) is reported
    assert seen["fov"] == g
    np.testing.assert_allclose([seen["spread"], seen["typical"], seen["overall"]], [s0, typical, overall], rtol=1e-9)
    assert seen["n_zero"] == (labels == 0).sum() and seen["n"] == labels.size
    # One FOV (no groups): the same numbers as that FOV alone.
    alone = groups == g
    one = zero_background_evidence(X[alone], labels[alone])
    assert one["fov"] is None
    np.testing.assert_allclose([one["spread"], one["typical"], one["overall"]], [s0, typical, overall], rtol=1e-9)


def test_fovs_are_looked_at_one_by_one(data, far_apart):
    X, y, fov = data
    # Labels restarting in every FOV: pooled, each label spans both FOVs and is as spread
    # as the background, so pooling would miss it; FOV by FOV it is plain.
    labels = restarting(y, fov)
    assert zero_background_evidence(X, labels) is None
    seen = zero_background_evidence(X, labels, fov)
    assert seen["n_fovs_seen"] == 2 and seen["spread"] > 5 * seen["typical"]
    # FOVs 10^6 nm apart, background in one FOV only: pooled, all localisations'
    # spread is the FOVs' distance and dwarfs the background's.
    Xf, labels_f, fov_f = far_apart
    only_first = (fov_f == 0) | (labels_f > 0)
    assert zero_background_evidence(Xf[only_first], labels_f[only_first]) is None
    seen = zero_background_evidence(Xf[only_first], labels_f[only_first], fov_f[only_first])
    assert seen["fov"] == 0 and seen["n_fovs_seen"] == 1
    # Clusters only, labels restarting in every FOV (cluster 0 in each): nothing.
    clusters = y >= 0
    assert zero_background_evidence(Xf[clusters], labels_f[clusters] - 1, fov_f[clusters]) is None


def test_without_coordinates_any_zero_next_to_other_labels_is_named(pairs):
    # Callers that have no coordinates keep the old rule.
    _, y, _ = pairs
    with pytest.warns(UserWarning, match=r"y has no -1 .*label 0 for \d+ of 208 localisations; 0 is treated"):
        assert warn_if_zero_is_background(y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not warn_if_zero_is_background(np.where(y == 0, -1, y))
        assert not warn_if_zero_is_background(np.zeros(5, dtype=int))


# ------------------------------------------------------------------ the callers


def test_analysis_is_silent_on_labels_without_background(data, pairs):
    X, y, fov = data
    clusters = y >= 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for X_, y_, g_ in (pairs, (X[clusters], y[clusters], fov[clusters])):
            assert (y_ == 0).any() and not (y_ == -1).any()
            cluster_table(X_, y_, g_)
            cluster_table(X_, y_)
            fov_summary(X_, y_, g_)


def test_analysis_names_benchmark_style_labels(data, far_apart):
    X, y, fov = data
    with pytest.warns(UserWarning, match=r"labels has no -1 .*label 0 for 120 of 240 localisations, spread like "
                      r"background in 2 of the 2 fields of view .*FOV 0.* nm.*pass background=0 or np\.where"):
        cluster_table(X, benchmark_style(y), fov)
    with pytest.warns(UserWarning, match=r"label 0 for 120 of 240 localisations, spread like background: .* nm"):
        cluster_table(X, benchmark_style(y))
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        fov_summary(X, benchmark_style(y), fov)
    assert len(zero_warnings(record)) == 1 and record[0].filename == __file__
    Xf, labels_f, fov_f = far_apart
    with pytest.warns(UserWarning, match="in 2 of the 2 fields of view"):
        cluster_table(Xf, labels_f, fov_f)


@pytest.mark.filterwarnings("ignore::sklearn_miro.diagnostics.MoveNothingWarning")
def test_transformer_fit_warns_only_on_background_like_zero(data, pairs, far_apart):
    X, y, fov = data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a tiny fit may say "move nothing"
        warnings.filterwarnings(**ZERO_IS_ERROR)  # added last, so matched first
        MIROTransformer(**CHECK_TINY).fit(*pairs[:2], groups=pairs[2])
    with pytest.warns(UserWarning, match=r"y has no -1 .*label 0 for 120 of 240 .*spread like background in 2 of"
                      r" the 2 fields of view.*np\.where\(y == 0, -1, y\)") as record:
        MIROTransformer(**CHECK_TINY).fit(X, benchmark_style(y), groups=fov)
    assert zero_warnings(record)[0].filename == __file__
    with pytest.warns(UserWarning, match=FRAGMENT):
        MIROTransformer(**CHECK_TINY).fit(*far_apart[:2], groups=far_apart[2])


@pytest.mark.filterwarnings("ignore::sklearn_miro.diagnostics.MoveNothingWarning")
def test_clusterer_fit_warns_only_on_background_like_zero(fitted, data, pairs, far_apart):
    X, y, fov = data

    def clusterer():
        return MIROClusterer(FrozenEstimator(fitted), eps=20.0, min_samples=3)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        warnings.filterwarnings(**ZERO_IS_ERROR)
        clusterer().fit(*pairs[:2], groups=pairs[2])
        clusters = y >= 0
        clusterer().fit(X[clusters], y[clusters], groups=fov[clusters])
    with pytest.warns(UserWarning, match=r"y has no -1 .*spread like background in 2 of the 2") as record:
        clusterer().fit(X, benchmark_style(y), groups=fov)
    assert zero_warnings(record)[0].filename == __file__
    with pytest.warns(UserWarning, match=FRAGMENT):
        clusterer().fit(*far_apart[:2], groups=far_apart[2])
