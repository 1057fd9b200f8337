"""Compiled training (``compile``): the same fit as uncompiled, and a failed compile is no failure."""

import warnings

import numpy as np
import pytest
import torch

import sklearn_miro.training as training
from sklearn_miro import MIROShapeClassifier, MIROTransformer
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


@pytest.fixture(autouse=True)
def no_earlier_failure(monkeypatch):
    # A failed compile is remembered for the rest of the process; each test starts afresh.
    monkeypatch.setattr(training, "_COMPILE_FAILURE", None)


def fit(data, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MoveNothingWarning)  # a few steps need not learn
        return MIROTransformer(**{**SMALL, **params}).fit(*data)


@pytest.fixture(scope="module")
def uncompiled(data):
    return fit(data, compile=False)


@pytest.mark.skipif(not compiler_available(), reason="no C++ compiler for torch.compile on this machine")
def test_compiled_training_gives_the_uncompiled_fit(data, uncompiled):
    with warnings.catch_warnings():
        warnings.simplefilter("error", TrainingCompileWarning)  # it really compiled
        compiled = fit(data, compile=True)
    assert compiled.training_compiled_ and not uncompiled.training_compiled_
    # Fused loops sum in another order: float32 rounding, not another model.
    np.testing.assert_allclose(compiled.loss_curve_, uncompiled.loss_curve_, rtol=1e-3)
    X, _ = data
    np.testing.assert_allclose(compiled.transform(X), uncompiled.transform(X), atol=1e-2)


def failing_compiler(where):
    """A stand-in for torch.compile whose result fails in the forward or in the backward pass."""

    class FailInBackward(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x.clone()

        @staticmethod
        def backward(ctx, grad):
            raise RuntimeError("CppCompileError: the backward kernel did not build")

    def compile(module, **kwargs):
        def run(*args):
            if where == "forward":
                raise RuntimeError("InvalidCxxCompiler: no working C++ compiler found")
            return FailInBackward.apply(module(*args))

        return run

    return compile


@pytest.mark.parametrize("where, match", [("forward", "InvalidCxxCompiler"), ("backward", "CppCompileError")])
def test_a_failed_compile_warns_and_trains_uncompiled(data, uncompiled, monkeypatch, where, match):
    monkeypatch.setattr(torch, "compile", failing_compiler(where))
    with pytest.warns(TrainingCompileWarning, match=f"{match}.*training goes on uncompiled"):
        miro = fit(data, compile=True)
    assert not miro.training_compiled_
    # The failed step ran again uncompiled, from clean gradients: the uncompiled fit, bit for bit.
    assert miro.loss_curve_ == uncompiled.loss_curve_
    # Later fits in the process do not try again, and say so.
    with pytest.warns(TrainingCompileWarning, match="failed earlier in this process"):
        assert not fit(data, compile=True).training_compiled_


def test_the_loss_diverging_is_not_taken_for_a_compiler_failure(data, monkeypatch):
    monkeypatch.setattr(torch, "compile", lambda module, **kwargs: module)
    with pytest.raises(FloatingPointError, match="lower learning_rate"):
        fit(data, compile=True, learning_rate=1e30)


def test_auto_compiles_only_long_fits_from_scratch(data, monkeypatch):
    calls = []
    monkeypatch.setattr(torch, "compile", lambda module, **kwargs: calls.append(kwargs) or module)
    # 24 crops in batches of 2 for 2 epochs: 24 steps, far under the 2,000 that repay a compile.
    assert not fit(data, compile="auto").training_compiled_
    assert calls == []
    # Asked for, compiled (here the stand-in returns the network itself).
    assert fit(data, compile=True).training_compiled_
    assert calls == [{"dynamic": True}]


@pytest.mark.parametrize("compiler", [True, False])
def test_auto_resolution(monkeypatch, compiler):
    # The rule itself, on the schedules fit would use (no training).
    monkeypatch.setattr("sklearn_miro.estimators._base.compiler_available", lambda: compiler)
    cpu, gpu = torch.device("cpu"), torch.device("cuda")
    for estimator in (MIROTransformer(init=None), MIROShapeClassifier()):
        from_scratch = estimator.training_schedule(fine_tuning=False)  # 2,000 crops / 8 x 12 epochs
        assert estimator._training_compile(cpu, False, from_scratch) is compiler
        assert not estimator._training_compile(gpu, False, from_scratch)
        assert not estimator._training_compile(cpu, True, estimator.training_schedule(fine_tuning=True))
        short = dict(from_scratch, max_epochs=2)  # 500 steps
        assert not estimator._training_compile(cpu, False, short)
        assert estimator.set_params(compile=True)._training_compile(gpu, True, short)


def test_torch_compile_itself_failing_warns_and_trains_uncompiled(data, uncompiled, monkeypatch):
    # torch.compile refuses some platforms at once (e.g. a Python version dynamo does not support).
    def refuse(module, **kwargs):
        raise RuntimeError("torch.compile is not supported on Python 3.99+")

    monkeypatch.setattr(torch, "compile", refuse)
    with pytest.warns(TrainingCompileWarning, match="not supported on Python.*training goes on uncompiled"):
        miro = fit(data, compile=True)
    assert not miro.training_compiled_ and miro.loss_curve_ == uncompiled.loss_curve_


def test_an_error_of_the_step_itself_is_raised_and_not_blamed_on_the_compiler(data, monkeypatch):
    # A step that fails uncompiled as well (here the loss) is the step's error: it is
    # raised as is, and later fits in the process still compile.
    monkeypatch.setattr(torch, "compile", lambda module, **kwargs: module)

    def broken_loss(*args, **kwargs):
        raise RuntimeError("the loss is broken")

    monkeypatch.setattr(training, "miro_loss", broken_loss)
    with pytest.raises(RuntimeError, match="the loss is broken") as raised:
        fit(data, compile=True)
    assert raised.value.__context__ is None  # not shown "during handling of" a compile error
    assert training._COMPILE_FAILURE is None
