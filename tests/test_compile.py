"""Compiled training (``compile``): the same fit as uncompiled, and a failed compile is no failure."""

import warnings

import numpy as np
import pytest
import torch

from sklearn_miro import MIROTransformer
from sklearn_miro.datasets import make_benchmark_scenario
from sklearn_miro.diagnostics import MoveNothingWarning
from sklearn_miro.training import TrainingCompileWarning, compiler_available

# A few dozen optimisation steps of a small network: fast uncompiled; compiled,
# most of the time is the compile itself (a C++ compiler run the first time).
SMALL = dict(hidden_size=16, n_steps=3, n_augmented=24, max_epochs=2, batch_size=2, learning_rate=3e-3,
             augmentation={"fov_size": 400.0}, precision="float32", init=None, verbose=0, random_state=0)


@pytest.fixture(scope="module")
def data():
    X, y, _ = make_benchmark_scenario(2, n_fovs=1, random_state=0)
    return X, y


def fit(data, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MoveNothingWarning)  # a few steps need not learn
        return MIROTransformer(**{**SMALL, **params}).fit(*data)


@pytest.fixture(scope="module")
def uncompiled(data):
    return fit(data, compile=False)


@pytest.mark.skipif(not compiler_available(), reason="no C++ compiler for torch.compile on this machine")
def test_compiled_training_gives_the_uncompiled_fit(data, uncompiled):
    compiled = fit(data, compile=True)
    assert compiled.training_compiled_ and not uncompiled.training_compiled_
    # Fused loops sum in another order: float32 rounding, not another model.
    np.testing.assert_allclose(compiled.loss_curve_, uncompiled.loss_curve_, rtol=1e-4)
    X, _ = data
    np.testing.assert_allclose(compiled.transform(X), uncompiled.transform(X), atol=1e-2)


def test_a_failed_compile_warns_and_trains_uncompiled(data, uncompiled, monkeypatch):
    def no_compiler(module, **kwargs):
        def fail(*args):
            raise RuntimeError("InvalidCxxCompiler: no working C++ compiler found")
        return fail

    monkeypatch.setattr(torch, "compile", no_compiler)
    with pytest.warns(TrainingCompileWarning, match="InvalidCxxCompiler.*training goes on uncompiled"):
        miro = fit(data, compile=True)
    assert not miro.training_compiled_
    assert miro.loss_curve_ == uncompiled.loss_curve_  # the uncompiled fit, bit for bit


def test_auto_compiles_only_long_fits_from_scratch(data, uncompiled, monkeypatch):
    calls = []
    monkeypatch.setattr(torch, "compile", lambda module, **kwargs: calls.append(kwargs) or module)
    # 24 crops in batches of 2 for 2 epochs: 24 steps, far under the 1,000 that repay a compile.
    assert not fit(data, compile="auto").training_compiled_
    assert calls == []
    # Asked for, compiled (here the stand-in returns the network itself).
    assert fit(data, compile=True).training_compiled_
    assert calls == [{"dynamic": True}]
