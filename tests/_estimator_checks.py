"""Shared setup of scikit-learn's estimator checks for every MIRO estimator.

MIRO clusters two-dimensional localisation coordinates: an input with a number
of columns other than 2 is rejected with a clear error. scikit-learn's generic
checks feed data with 3 to 10 features, so the checks that fail only for that
reason are listed here once, with their reason; each test module adds the
failures specific to its estimators. Most of the same properties (pickling,
dtype handling, NaN/inf rejection, pipelines, not modifying inputs, and
sample-order invariance to 1e-3) are tested on 2-D data in the test modules.
Two of these checks would fail on 2-D data too, for reasons of their own
recorded with them (``NEEDS_2D_AND``): subset invariance (by design) and sample
order (float32 rounding and cluster ids). The object-dtype check passes on 2-D
data since non-numeric coordinates raise a TypeError (that is also a
ValueError), as the check expects.

Expected failures are strict in both directions (:func:`run_check`): a listed
check that starts passing fails, and so does a listed check that fails for
another reason than the one recorded (another exception type or message), so a
new failure cannot hide under a listed name.
"""

import re
from dataclasses import dataclass
from functools import partial
from unittest import SkipTest

import pytest

# The smallest network that trains: the checks test the API, not the model.
CHECK_TINY = dict(
    hidden_size=4, n_steps=2, n_augmented=2, max_epochs=1, batch_size=2,
    validation_fraction=0.0, verbose=0, random_state=0,
)


@dataclass(frozen=True)
class ExpectedFailure:
    """Why a check fails, and the exception (type and message) it must fail with.

    The failure matches when the raised exception, or one it was raised from
    (scikit-learn wraps some errors in an AssertionError), is an instance of
    ``exception`` whose message matches the regular expression ``pattern``.
    """

    reason: str
    exception: type
    pattern: str

    def matches(self, exc):
        seen = set()
        while exc is not None and id(exc) not in seen:
            seen.add(id(exc))
            if isinstance(exc, self.exception) and re.search(self.pattern, str(exc), re.DOTALL):
                return True
            exc = exc.__cause__ or exc.__context__
        return False


NEEDS_2D = ExpectedFailure(
    "feeds data with n_features != 2; MIRO works on (x, y) coordinates only",
    ValueError,
    r"X must have shape \(n_localizations, 2\).*got n_features = (?!2\b)\d+",
)



def needs_2d_and(also):
    """NEEDS_2D for a check that would fail on 2-D data as well, for the reason ``also``."""
    return ExpectedFailure(f"{NEEDS_2D.reason}; on 2-D data it would fail too: {also}",
                           NEEDS_2D.exception, NEEDS_2D.pattern)


#: Measured by running the checks on 2-column data (forty-third session's review).
NEEDS_2D_AND = {
    "check_methods_subset_invariance": needs_2d_and(
        "a localisation's output depends on the other localisations of its FOV (the graph), so "
        "a subset of a FOV gets other outputs; MIRO is not a sample-wise transform, by design"),
    "check_methods_sample_order_invariance": needs_2d_and(
        "float32 inference rounds differently in another order (equal to 1e-3, tested in "
        "test_estimators.py), and clusterers number their clusters in the order met (the "
        "partition is the same)"),
}

# Checks that fail for every MIRO estimator because they feed n_features != 2.
CHECKS_NEEDING_2D = (
    "check_dtype_object",
    "check_pipeline_consistency",
    "check_estimators_nan_inf",
    "check_estimators_pickle",
    "check_f_contiguous_array_estimator",
    "check_methods_sample_order_invariance",
    "check_methods_subset_invariance",
    "check_dict_unchanged",
    "check_fit2d_predict1d",
    "check_estimators_dtypes",
    "check_fit_score_takes_y",
    "check_dont_overwrite_parameters",
    "check_n_features_in_after_fitting",
    "check_positive_only_tag_during_fit",
)

# The same, for the checks scikit-learn runs on transformers only.
TRANSFORMER_CHECKS_NEEDING_2D = (
    "check_transformer_data_not_an_array",
    "check_transformer_general",
    "check_transformer_preserve_dtypes",
)


def expected_failures(failures_by_check=None, *extra_2d_checks):
    """``{check name: ExpectedFailure}``: the 2-D failures plus ``failures_by_check``."""
    failures = {name: NEEDS_2D_AND.get(name, NEEDS_2D) for name in (*CHECKS_NEEDING_2D, *extra_2d_checks)}
    failures.update(failures_by_check or {})
    return failures


def check_name(check):
    """Name of a check yielded by ``parametrize_with_checks``."""
    return (check.func if isinstance(check, partial) else check).__name__


def run_check(estimator, check, expected):
    """Run one estimator check; a listed check must fail exactly as recorded.

    Unlisted checks must pass. A listed check is reported as xfail only when it
    fails with its recorded exception; it fails the test when it passes (the
    list is out of date) or fails in another way (a new bug under a known name).
    """
    name = check_name(check)
    failure = expected.get(name)
    if failure is None:
        check(estimator)
        return
    try:
        check(estimator)
    except SkipTest:
        raise
    except Exception as exc:
        if not failure.matches(exc):
            raise AssertionError(
                f"{name} is an expected failure ({failure.reason}), recorded as "
                f"{failure.exception.__name__} matching {failure.pattern!r}, but it failed "
                f"differently: {type(exc).__name__}: {exc}"
            ) from exc
        pytest.xfail(f"{name}: {failure.reason}")
    pytest.fail(f"{name} passes now: remove it from the expected failures ({failure.reason}).")
