"""The automatic start for elongated labelled clusters: random weights at hidden size 96 with
small crops, the pretrained elongated model with larger ones."""

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sklearn_miro import MIROTransformer
from sklearn_miro._validation import split_by_group
from sklearn_miro.cli import main
from sklearn_miro.augmentation import AugmentationOptions, median_axis_ratio, prepare_training_set
from sklearn_miro.datasets import make_gaussian_clusters
from sklearn_miro.estimators import FINE_TUNING_SCHEDULE, FROM_SCRATCH_SCHEDULE
from sklearn_miro.model import (
    ELONGATED_AXIS_RATIO,
    ELONGATED_HIDDEN_SIZE,
    ELONGATED_MAX_CROP_LOCALIZATIONS,
    elongated_start,
)
from sklearn_miro.pretrained import ELONGATED_FINE_TUNING_MODEL, model_info


def _clusters(aspect_ratio, random_state=0):
    return make_gaussian_clusters(2, n_clusters=8, n_localizations=30, cluster_std=20.0,
                                  aspect_ratio=aspect_ratio, fov_size=1000.0, random_state=random_state)


def _wide_clusters():
    # Wide elongated clusters: crops of about 280 localisations, over the limit.
    return make_gaussian_clusters(2, n_clusters=6, n_localizations=60, cluster_std=90.0, aspect_ratio=5.0,
                                  fov_size=1500.0, random_state=0)


def _choice(X, y, groups, max_crop_localizations=ELONGATED_MAX_CROP_LOCALIZATIONS):
    fovs = [idx for _, idx in split_by_group(groups, len(X))]
    return elongated_start(X, y[:, None], fovs, augmentation=AugmentationOptions(),
                           max_crop_localizations=max_crop_localizations)


@pytest.mark.parametrize("aspect_ratio", [1.0, 3.0, 6.0])
def test_median_axis_ratio_measures_the_clusters_elongation(aspect_ratio):
    X, y, groups = _clusters(aspect_ratio)
    ratio = median_axis_ratio(prepare_training_set(X, y, groups))
    # 30 localisations per cluster: the sample ratio scatters about the true one.
    assert aspect_ratio * 0.8 < ratio < aspect_ratio * 1.4 + 0.2


@settings(max_examples=25, deadline=None)
@given(angle=st.floats(0.0, 2 * np.pi), scale=st.floats(0.01, 100.0),
       shift=st.tuples(st.floats(-1e4, 1e4), st.floats(-1e4, 1e4)))
def test_median_axis_ratio_ignores_rotation_units_and_position(angle, scale, shift):
    X, y, groups = _clusters(4.0)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    moved = scale * X @ rotation.T + np.asarray(shift)
    before = median_axis_ratio(prepare_training_set(X, y, groups))
    after = median_axis_ratio(prepare_training_set(moved, y, groups))
    assert after == pytest.approx(before, rel=1e-6)


def test_median_axis_ratio_is_nan_without_large_enough_clusters():
    X, y, groups = _clusters(4.0)
    assert np.isnan(median_axis_ratio(prepare_training_set(X, y, groups), min_size=31))


def test_elongated_clusters_with_small_crops_start_from_random_weights():
    elongated, round_ = _choice(*_clusters(6.0)), _choice(*_clusters(1.0))
    assert elongated.elongated and elongated.random_weights and elongated.axis_ratio >= ELONGATED_AXIS_RATIO
    assert not round_.elongated and not round_.random_weights and round_.axis_ratio < ELONGATED_AXIS_RATIO
    # Crops over the limit would be cut by the budget: a fine-tuned start instead.
    large = _choice(*_clusters(6.0), max_crop_localizations=0.5 * elongated.crop_localizations)
    assert large.elongated and not large.random_weights and large.axis_ratio == elongated.axis_ratio
    wide = _choice(*_wide_clusters())
    assert wide.elongated and wide.crop_localizations > ELONGATED_MAX_CROP_LOCALIZATIONS
    assert not wide.random_weights


@pytest.fixture
def short_schedules(monkeypatch):
    """Both automatic schedules cut to one epoch of 16 crops (the rule, not the training, is tested)."""
    for schedule in (FROM_SCRATCH_SCHEDULE, FINE_TUNING_SCHEDULE):
        monkeypatch.setitem(schedule, "max_epochs", 1)
        monkeypatch.setitem(schedule, "n_augmented", 16)
        monkeypatch.setitem(schedule, "batch_size", 8)


def _fit(X, y, groups, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # one epoch of 16 crops moves nothing: not the point here
        return MIROTransformer(random_state=0, verbose=0, **params).fit(X, y, groups=groups)


def test_fit_trains_elongated_clusters_wider_from_random_weights(short_schedules):
    X, y, groups = _clusters(6.0)
    X_before = X.copy()
    miro = _fit(X, y, groups)
    assert miro.hidden_size == "auto" and miro.hidden_size_ == ELONGATED_HIDDEN_SIZE
    assert miro.started_from_ is None
    np.testing.assert_array_equal(X, X_before)
    # A warm start keeps the width of the network it continues.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        miro.set_params(warm_start=True).fit(X, y, groups=groups)
    assert miro.hidden_size_ == ELONGATED_HIDDEN_SIZE and miro.started_from_ == "warm_start"


def test_elongated_clusters_with_large_crops_fine_tune_the_elongated_model(short_schedules, capsys):
    X, y, groups = _wide_clusters()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        miro = MIROTransformer(random_state=0, verbose=1).fit(X, y, groups=groups)
    assert miro.started_from_ == ELONGATED_FINE_TUNING_MODEL == "elongated"
    assert miro.hidden_size_ == model_info("elongated")["network"]["hidden_size"]
    assert "fine-tuning 'elongated': elongated clusters, axis ratio 5." in capsys.readouterr().err
    # Its weights, not the round-cluster model's: one epoch of 16 crops moves
    # them only a little from the start it loaded.
    start = MIROTransformer.pretrained("elongated").network_.state_dict()
    fitted = miro.network_.state_dict()
    other = MIROTransformer.pretrained("nanoclusters").network_.state_dict()
    name = next(iter(start))
    assert (fitted[name] - start[name]).abs().max() < (fitted[name] - other[name]).abs().max()


@pytest.mark.parametrize("params, hidden_size, start", [
    ({}, 64, "nanoclusters"),  # round clusters: the pretrained start
    ({"hidden_size": 64}, 64, "nanoclusters"),  # a given width turns the rule off
    ({"init": None}, 64, None),
    ({"max_epochs": 1}, 64, "nanoclusters"),  # a given schedule is a fine-tuning one
])
def test_the_rule_applies_only_to_elongated_clusters_with_every_setting_automatic(
        short_schedules, params, hidden_size, start):
    data = _clusters(1.0) if not params else _clusters(6.0)
    miro = _fit(*data, **params)
    assert miro.hidden_size_ == hidden_size and miro.started_from_ == start


def test_the_training_bar_says_why_the_fit_is_longer(short_schedules, capsys):
    X, y, groups = _clusters(6.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        MIROTransformer(random_state=0, verbose=1).fit(X, y, groups=groups)
    assert f"random weights, hidden size {ELONGATED_HIDDEN_SIZE}: elongated clusters" in capsys.readouterr().err


def test_the_cli_says_what_training_started_from(short_schedules, tmp_path, capsys):
    X, y, groups = _clusters(6.0)
    first = groups == groups.min()
    path = tmp_path / "elongated.csv"
    pd.DataFrame({"x": X[first, 0], "y": X[first, 1], "index": y[first] + 1}).to_csv(path, index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["train", str(path), "-o", str(tmp_path / "m.miro"), "-q"]) == 0
        assert f"trained from random weights (hidden size {ELONGATED_HIDDEN_SIZE}) in" in capsys.readouterr().out
        assert main(["train", str(path), "-o", str(tmp_path / "m64.miro"), "--hidden-size", "64", "-q"]) == 0
        assert "trained from the pretrained model 'nanoclusters' in" in capsys.readouterr().out
