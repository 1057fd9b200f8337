"""Training learns: a short fit of a tiny model collapses clusters and leaves background alone.

Margins come from measurements of this exact setting (seeds 0 and 1, 2-core
CPU, about 4 s): loss ratio last/first epoch 0.65-0.69, compression of the
test clusters 0.44-0.56, median move of clustered localisations about 21 nm
against under 1 nm for background ones. The asserted bounds leave room for
platform differences but fail for a network that does not learn
(compression about 1, loss ratio about 0.98).
"""

import numpy as np
import pytest

from sklearn_miro import MIROTransformer
from sklearn_miro.datasets import make_benchmark_scenario
import warnings

from sklearn_miro.diagnostics import MoveNothingWarning, check_move_nothing, cluster_compression

# Tiny and fast: 100 synthetic 400-nm FOVs x 4 epochs, one graph per step.
TINY = dict(hidden_size=32, n_steps=5, n_augmented=100, max_epochs=4, batch_size=1,
            learning_rate=3e-3, augmentation={"fov_size": 400.0}, verbose=0)


# Both training precisions must learn: bfloat16 is what "auto" picks for
# from-scratch fits on CPUs that have it natively (emulated elsewhere: slower,
# the same arithmetic).
@pytest.fixture(scope="module", params=["float32", "bfloat16"])
def fitted(request):
    X, y, fov = make_benchmark_scenario(2, n_fovs=2, random_state=0)
    train, test = fov == 0, fov == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error", MoveNothingWarning)  # a real short fit does not warn
        miro = MIROTransformer(**TINY, precision=request.param, random_state=0).fit(X[train], y[train])
    assert miro.training_precision_ == request.param
    return miro, X[test], y[test]


def test_fit_reports_how_far_training_got(fitted):
    miro, _, _ = fitted
    assert 0 < miro.training_compression_ < 0.75
    assert 0 < miro.training_relative_loss_ < 0.85


def test_a_fit_left_at_move_nothing_warns():
    X, y, fov = make_benchmark_scenario(2, n_fovs=1, random_state=0)
    one_step = dict(TINY, n_augmented=1, max_epochs=1, validation_fraction=0.0)
    with pytest.warns(MoveNothingWarning, match="move nothing.*compressed to") as record:
        miro = MIROTransformer(**one_step, random_state=0).fit(X, y)
    assert miro.training_compression_ >= 0.8
    assert f"{miro.training_compression_:.2f}" in str(record[0].message)
    # One FOV (no groups): the message says how to tell stacked FOVs apart.
    assert "pass their ids as groups=" in str(record[0].message)
    with pytest.warns(MoveNothingWarning) as record:
        MIROTransformer(**one_step, random_state=0).fit(X, y, groups=fov)
    assert "groups=" not in str(record[0].message)


def test_check_move_nothing_thresholds():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not check_move_nothing(0.5, 0.6)
        assert not check_move_nothing(np.nan, np.nan)
    with pytest.warns(MoveNothingWarning):
        assert check_move_nothing(0.99, 0.6)
    with pytest.warns(MoveNothingWarning):
        assert check_move_nothing(0.8, 0.6)
    with pytest.warns(MoveNothingWarning):  # the loss criterion is there on request
        assert check_move_nothing(0.5, 0.99, relative_loss_threshold=0.9)
    # The advice to start from a pretrained model only where the estimator has init.
    with pytest.warns(MoveNothingWarning, match="init='auto'"):
        check_move_nothing(0.99, 0.6)
    with pytest.warns(MoveNothingWarning) as record:
        check_move_nothing(0.99, 0.6, can_start_pretrained=False)
    assert "init=" not in str(record[0].message) and "Try more optimisation steps" in str(record[0].message)
    with pytest.warns(MoveNothingWarning, match="the clusters of scale 'rings' were compressed"):
        check_move_nothing(0.99, 0.6, scale_name="rings")


def test_a_high_relative_loss_alone_is_not_move_nothing():
    # Blinking scenario 5, the defaults, seeds 0-2 (benchmarks/results/quality):
    # compression 0.56-0.58 with relative losses 0.90-0.91, and MIRO + DBSCAN
    # better than plain DBSCAN on all three metrics. The warning, which says
    # MIRO + DBSCAN will behave like plain DBSCAN, would be false there.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not check_move_nothing(0.559, 0.907)
        assert not check_move_nothing(0.58, 0.99)


def test_short_training_lowers_the_loss(fitted):
    miro, _, _ = fitted
    assert miro.loss_curve_[-1] < 0.85 * miro.loss_curve_[0]
    assert miro.validation_loss_curve_[-1] < 0.85 * miro.validation_loss_curve_[0]


def test_short_training_moves_clustered_localisations_to_their_centre(fitted):
    miro, X, y = fitted
    moved = miro.transform(X)
    figures = cluster_compression(X, moved, y)
    # clusters (unseen FOV) shrink to well under their size ...
    assert figures["compression"] < 0.75
    # ... while background localisations barely move, compared with clustered ones
    shift = np.linalg.norm(moved - X, axis=1)
    clustered = y >= 0
    assert np.median(shift[clustered]) > 5 * np.median(shift[~clustered])
    assert np.median(shift[clustered]) > 0.3 * figures["before"]


def test_cluster_compression_figures():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 2)) * 10
    y = np.repeat([0, 1, -1, -1], 10)
    X[10:20] += 100
    centres = np.where(y[:, None] == 1, X[10:20].mean(axis=0), X[:10].mean(axis=0))
    half = np.where(y[:, None] >= 0, centres + 0.5 * (X - centres), X)
    figures = cluster_compression(X, half, y)
    assert figures["compression"] == pytest.approx(0.5)
    assert figures["background_shift"] == 0.0
    assert cluster_compression(X, X, y)["compression"] == pytest.approx(1.0)
    # a cluster is a (FOV, label) pair: the same label in two FOVs is two clusters
    groups = np.repeat([0, 1], 20)
    y2 = np.repeat([0, -1, 0, -1], 10)
    assert cluster_compression(X, X, y2, groups)["before"] == pytest.approx(
        cluster_compression(X, X, np.repeat([0, -1, 1, -1], 10))["before"])
    with pytest.raises(ValueError, match="shape"):
        cluster_compression(X, X[:5], y)


def test_cli_train_shows_the_move_nothing_warning(tmp_path, capsys):
    import pandas as pd

    from sklearn_miro.cli import main

    X, y, fov = make_benchmark_scenario(2, n_fovs=1, random_state=0)
    path = tmp_path / "fov.csv"
    pd.DataFrame({"x": X[:, 0], "y": X[:, 1], "index": np.where(y >= 0, y + 1, 0)}).to_csv(path, index=False)
    tiny = ["--hidden-size", "8", "--n-steps", "2", "--max-epochs", "1", "--n-augmented", "1", "-q"]
    assert main(["train", str(path), "-o", str(tmp_path / "m.joblib"), *tiny]) == 0
    captured = capsys.readouterr()
    assert "train: warning: MIRO training ended near the trivial 'move nothing' solution" in captured.err
    assert "of moving nothing" in captured.out


def test_the_move_nothing_advice_depends_on_the_start():
    with pytest.warns(MoveNothingWarning, match="Start from the pretrained weights"):
        check_move_nothing(0.99, 0.99, started_from=None)
    with pytest.warns(MoveNothingWarning) as record:
        check_move_nothing(0.99, 0.99, started_from="nanoclusters")
    assert "pretrained" not in str(record[0].message)


def test_the_pretrained_start_moves_two_population_clusters_where_random_weights_do_not():
    # Simulated scenario 9 (15-molecule clusters at 25 nm beside 135-molecule
    # ones at 75 nm): from random weights the network stays at "move nothing"
    # (benchmarks/README.md); the default start, the pretrained model, does not,
    # and a short fine-tuning keeps it off that solution.
    X, y, fov = make_benchmark_scenario(9, n_fovs=1, random_state=0)
    short = dict(n_augmented=16, max_epochs=1, batch_size=2, validation_fraction=0.0, verbose=0,
                 random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", MoveNothingWarning)
        tuned = MIROTransformer(**short).fit(X, y)
    assert tuned.started_from_ == "nanoclusters"
    assert tuned.training_compression_ < 0.6
    with pytest.warns(MoveNothingWarning, match="Start from the pretrained weights"):
        scratch = MIROTransformer(init=None, **short).fit(X, y)
    assert scratch.training_compression_ > 0.8


def test_auto_precision_is_bfloat16_only_from_scratch_where_native(monkeypatch):
    import sklearn_miro.estimators._base as base

    X, y, fov = make_benchmark_scenario(2, n_fovs=1, random_state=0)
    short = dict(n_augmented=4, max_epochs=1, batch_size=2, validation_fraction=0.0, verbose=0,
                 random_state=0)
    for native in (True, False):
        monkeypatch.setattr(base, "native_bfloat16", lambda device, native=native: native)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MoveNothingWarning)  # four crops learn nothing
            scratch = MIROTransformer(init=None, **short).fit(X, y)
            tuned = MIROTransformer(**short).fit(X, y)
        assert scratch.training_precision_ == ("bfloat16" if native else "float32")
        assert tuned.started_from_ == "nanoclusters"
        assert tuned.training_precision_ == "float32"  # fine-tuning keeps float32
    # an explicit choice is kept, from scratch or not
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MoveNothingWarning)
        assert MIROTransformer(precision="bfloat16", **short).fit(X, y).training_precision_ == "bfloat16"
        assert MIROTransformer(init=None, precision="float32", **short).fit(X, y).training_precision_ == "float32"


def test_precision_is_validated():
    X, y, fov = make_benchmark_scenario(2, n_fovs=1, random_state=0)
    with pytest.raises(ValueError, match="'precision' parameter"):
        MIROTransformer(precision="float16", verbose=0).fit(X, y)


def test_thinned_background_keep_is_clustered_over_background():
    from sklearn_miro.augmentation import prepare_training_set
    from sklearn_miro.model import thinned_background_keep

    rng = np.random.default_rng(0)
    X = rng.uniform(0, 1000, size=(50, 2))
    labels = np.r_[np.zeros(10, int), np.ones(10, int), -np.ones(30, int)]
    assert thinned_background_keep(prepare_training_set(X, labels)) == pytest.approx(20 / 30)
    # Clusters are the majority: nothing to thin.
    assert thinned_background_keep(prepare_training_set(X, np.r_[labels[:20], np.zeros(30, int)])) == 1.0


# A fit of ground-truth scenario 4 (100 clustered, 300 background localisations)
# short enough to end at "move nothing" (compression about 1).
STUCK = dict(TINY, n_augmented=20, max_epochs=1)


def _stuck_fit(**params):
    X, y, _ = make_benchmark_scenario(4, n_fovs=1, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MoveNothingWarning)
        return MIROTransformer(**dict(STUCK, **params), random_state=0).fit(X, y), X, y


def test_a_fit_that_moves_nothing_is_trained_again_on_thinned_background():
    off, X, y = _stuck_fit(augmentation={"fov_size": 400.0, "retry_thinned_background": False})
    assert off.training_compression_ >= 0.8  # stuck, so the default retries
    assert off.thinned_background_ is None and np.isnan(off.retry_relative_loss_)
    on, _, _ = _stuck_fit()
    retry = on.retry_relative_loss_
    assert np.isfinite(retry) and np.isfinite(on.retry_compression_)
    if retry < off.training_relative_loss_:
        assert on.thinned_background_ == pytest.approx((y >= 0).sum() / (y == -1).sum())
        assert on.training_relative_loss_ == retry
    else:  # not kept: the first network, unchanged
        assert on.thinned_background_ is None
        assert on.training_relative_loss_ == off.training_relative_loss_
        np.testing.assert_array_equal(on.transform(X), off.transform(X))


@pytest.fixture
def spied_training(monkeypatch):
    """Record the augmentation options and validation graphs of every training, and
    let each test say which relative loss the diagnostics report."""
    import sklearn_miro.model as model

    calls = {"options": [], "validation": [], "diagnostics": []}
    make_graphs, train = model.make_training_graphs, model._train_network

    def spy_graphs(training_set, n, radius, options, rng, **kwargs):
        calls["options"].append(options)
        return make_graphs(training_set, n, radius, options, rng, **kwargs)

    def spy_train(config, graphs, validation_graphs, *args, **kwargs):
        calls["validation"].append(validation_graphs)
        if calls.get("diverge") and len(calls["validation"]) == 2:
            raise FloatingPointError("diverged")
        return train(config, graphs, validation_graphs, *args, **kwargs)

    def fake_diagnostics(*args, **kwargs):
        return calls["diagnostics"].pop(0)

    monkeypatch.setattr(model, "make_training_graphs", spy_graphs)
    monkeypatch.setattr(model, "_train_network", spy_train)
    monkeypatch.setattr(model, "training_diagnostics", fake_diagnostics)
    return calls


@pytest.mark.parametrize("retry_loss", [0.9, 1.1])
def test_the_second_network_is_kept_only_if_its_loss_is_lower(spied_training, retry_loss):
    spied_training["diagnostics"] = [(1.0, 1.0), (0.5, retry_loss)]
    on, X, y = _stuck_fit()
    first, second = spied_training["options"]
    keep = (y >= 0).sum() / (y == -1).sum()
    assert first.background_count_range == (0.8, 1.2)
    assert second.background_count_range == pytest.approx((keep, 1.2))  # thinner
    # Both trainings choose their epoch on the same crops, with full background.
    assert spied_training["validation"][0] is spied_training["validation"][1]
    assert on.retry_relative_loss_ == retry_loss and on.retry_compression_ == 0.5
    spied_training["diagnostics"] = [(1.0, 1.0)]
    off, _, _ = _stuck_fit(augmentation={"fov_size": 400.0, "retry_thinned_background": False})
    if retry_loss < 1.0:
        assert on.thinned_background_ == pytest.approx(keep)
        assert (on.training_compression_, on.training_relative_loss_) == (0.5, retry_loss)
        assert not np.array_equal(on.transform(X), off.transform(X))
    else:
        assert on.thinned_background_ is None
        assert (on.training_compression_, on.training_relative_loss_) == (1.0, 1.0)
        np.testing.assert_array_equal(on.transform(X), off.transform(X))


def test_no_second_training_without_a_need_or_a_judge(spied_training):
    # Clusters and background equal in number (ground-truth scenario 2): nothing to thin.
    spied_training["diagnostics"] = [(1.0, 1.0)]
    X, y, _ = make_benchmark_scenario(2, n_fovs=1, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MoveNothingWarning)
        miro = MIROTransformer(**STUCK, random_state=0).fit(X, y)
    assert np.isnan(miro.retry_relative_loss_) and len(spied_training["validation"]) == 1
    # A fit that moves: no retry.
    spied_training["diagnostics"] = [(0.79, 1.0)]
    moving, _, _ = _stuck_fit()
    assert np.isnan(moving.retry_relative_loss_) and len(spied_training["validation"]) == 2
    # Without validation crops there is nothing to judge the retry on.
    spied_training["diagnostics"] = [(1.0, 1.0)]
    unjudged, _, _ = _stuck_fit(validation_fraction=0.0)
    assert np.isnan(unjudged.retry_relative_loss_) and len(spied_training["validation"]) == 3


def test_a_diverging_second_training_keeps_the_first_network(spied_training):
    spied_training["diagnostics"] = [(1.0, 1.0)]
    spied_training["diverge"] = True
    X, y, _ = make_benchmark_scenario(4, n_fovs=1, random_state=0)
    with pytest.warns(MoveNothingWarning, match="thinned background did not leave it either"):
        miro = MIROTransformer(**STUCK, random_state=0).fit(X, y)
    assert miro.retry_relative_loss_ == np.inf and np.isnan(miro.retry_compression_)
    assert miro.thinned_background_ is None and miro.training_relative_loss_ == 1.0
    spied_training["diagnostics"] = [(1.0, 1.0)]
    off, _, _ = _stuck_fit(augmentation={"fov_size": 400.0, "retry_thinned_background": False})
    np.testing.assert_array_equal(miro.transform(X), off.transform(X))  # the first network


def test_the_retry_runs_only_where_it_thins_and_from_the_warning_threshold(spied_training):
    from sklearn_miro.diagnostics import COMPRESSION_THRESHOLD

    # Ground-truth scenario 4 has c / b = 1/3: a lower end of 0.3 already keeps as little.
    spied_training["diagnostics"] = [(1.0, 1.0)]
    same, _, _ = _stuck_fit(augmentation={"fov_size": 400.0, "background_count_range": (0.3, 1.2)})
    assert np.isnan(same.retry_relative_loss_) and len(spied_training["validation"]) == 1
    spied_training["diagnostics"] = [(1.0, 1.0), (1.0, 1.1)]
    thinner, _, _ = _stuck_fit(augmentation={"fov_size": 400.0, "background_count_range": (0.4, 1.2)})
    assert thinner.retry_relative_loss_ == 1.1 and len(spied_training["validation"]) == 3
    # Exactly at the threshold the fit warns, so it is retried too.
    spied_training["diagnostics"] = [(COMPRESSION_THRESHOLD, 1.0), (0.5, 0.9)]
    edge, _, _ = _stuck_fit()
    assert edge.retry_relative_loss_ == 0.9 and edge.thinned_background_ is not None


def test_retry_thinned_background_is_validated():
    X, y, _ = make_benchmark_scenario(2, n_fovs=1, random_state=0)
    with pytest.raises(ValueError, match="retry_thinned_background.*True or False"):
        MIROTransformer(augmentation={"retry_thinned_background": "yes"}, verbose=0).fit(X, y)


def test_cli_train_says_whether_the_fit_was_trained_again():
    from types import SimpleNamespace

    from sklearn_miro.cli import _retry_note

    assert _retry_note(SimpleNamespace(retry_relative_loss_=np.nan, thinned_background_=None)) == ""
    kept = _retry_note(SimpleNamespace(retry_relative_loss_=0.9, thinned_background_=0.31))
    assert "trained again on background thinned to 0.31" in kept
    dropped = _retry_note(SimpleNamespace(retry_relative_loss_=1.004, thinned_background_=None))
    assert "did no better (loss 1.00" in dropped and "not kept" in dropped
    diverged = _retry_note(SimpleNamespace(retry_relative_loss_=np.inf, thinned_background_=None))
    assert "diverged" in diverged
