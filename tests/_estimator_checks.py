"""Shared setup of scikit-learn's estimator checks for every MIRO estimator.

MIRO clusters two-dimensional localisation coordinates: an input with a number
of columns other than 2 is rejected with a clear error. scikit-learn's generic
checks feed data with 3 to 10 features, so the checks that fail only for that
reason are listed here once, with their reason; each test module adds the
failures specific to its estimators. The same properties (pickling,
sample-order and subset invariance, dtype handling, NaN/inf rejection,
pipelines, not modifying inputs) are tested on 2-D data in the test modules.
"""

# The smallest network that trains: the checks test the API, not the model.
CHECK_TINY = dict(
    hidden_size=4, n_steps=2, n_augmented=2, max_epochs=1, batch_size=2,
    validation_fraction=0.0, verbose=0, random_state=0,
)

NEEDS_2D = "feeds data with n_features != 2; MIRO works on (x, y) coordinates only"

# Checks that fail for every MIRO estimator only because they feed n_features != 2.
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


def expected_failures(reasons_by_check=None, *extra_2d_checks):
    """``{check name: reason}``: the 2-D failures plus ``reasons_by_check``."""
    failures = {name: NEEDS_2D for name in (*CHECKS_NEEDING_2D, *extra_2d_checks)}
    failures.update(reasons_by_check or {})
    return failures
