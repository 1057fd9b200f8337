"""Input validation shared by every stage of sklearn_miro.

Every public function and estimator funnels user input through these helpers
so that bad input fails early, with a message that says what was wrong and what
was expected, instead of as a torch or scipy traceback from deep inside.
None of the helpers modifies its argument: they return new arrays.
"""

from __future__ import annotations

import numbers
import re
import warnings

import numpy as np
from sklearn.utils import check_random_state as sklearn_check_random_state
from sklearn.utils.validation import check_array, validate_data

from ._columns import z_coordinate_column

__all__ = [
    "FOV_COLUMN_NAMES",
    "CoordinateTypeError",
    "caller_stacklevel",
    "fov_column",
    "warn_if_zero_is_background",
    "dense_codes",
    "zero_background_evidence",
    "ZERO_BACKGROUND_FOV_FRACTION",
    "ZERO_BACKGROUND_SPREAD_RATIO",
    "check_training_fovs",
    "check_cluster_labels",
    "check_label_vector",
    "integer_labels",
    "check_coordinates",
    "check_groups",
    "check_pass_count",
    "check_positive",
    "check_random_state",
    "select_xy",
    "split_by_group",
    "z_column_message",
]

# Column names that mean "x coordinate" / "y coordinate" in common SMLM files:
# the benchmark's `x`, ThunderSTORM's `x [nm]`, Picasso's `x`, SMAP's `xnm`, ...
_X_NAMES = re.compile(r"^\s*x(\s*[\[(]?\s*nm\s*[\])]?|_nm|nm|_?position)?\s*$", re.IGNORECASE)
_Y_NAMES = re.compile(r"^\s*y(\s*[\[(]?\s*nm\s*[\])]?|_nm|nm|_?position)?\s*$", re.IGNORECASE)

# "x [um]", "y (px)", ...: a coordinate column named with a unit that is not nm.
_UNIT_NAMES = re.compile(r"^\s*[xy]\s*[\[(]\s*([^\])]+?)\s*[\])]\s*$", re.IGNORECASE)


class CoordinateTypeError(TypeError, ValueError):
    """Coordinates of a type that cannot be read as numbers (text, objects, sparse matrices).

    A :class:`TypeError`, as scikit-learn raises for non-numeric input (and
    as its ``check_dtype_object`` expects), and a :class:`ValueError`, as
    this package raised before, so that both ``except`` clauses catch it
    (scikit-learn's :class:`~sklearn.exceptions.NotFittedError` combines two
    base classes in the same way).
    """


def _find_column(columns, pattern):
    matches = [c for c in columns if isinstance(c, str) and pattern.match(c)]
    return matches[0] if matches else None


def select_xy(X):
    """Return the two coordinate columns of a DataFrame, or ``X`` unchanged.

    A pandas DataFrame may carry extra columns (frame, uncertainty, photons,
    labels ...). The x and y columns are recognised case-insensitively, with or
    without a unit suffix (``x``, ``X``, ``x [nm]``, ``x_nm``, ``xnm``) and
    returned as a new DataFrame with columns named ``x`` and ``y``. A DataFrame
    with exactly two other columns is taken as (x, y), unless their names give
    a unit other than nm (``x [um]``) or name only one of x and y.
    Anything that is not a DataFrame is returned unchanged.

    Raises
    ------
    ValueError
        If ``X`` is a DataFrame with more than two columns and no recognisable
        x and y columns, or two columns named in a unit other than nm or only
        one of them a coordinate.
    """
    columns = getattr(X, "columns", None)
    if columns is None or not hasattr(X, "iloc"):
        return X
    xcol = _find_column(columns, _X_NAMES)
    ycol = _find_column(columns, _Y_NAMES)
    if xcol is not None and ycol is not None:
        # Canonical names, so that a model fitted on a ThunderSTORM table
        # ("x [nm]") accepts a benchmark table ("x") and vice versa.
        return X[[xcol, ycol]].set_axis(["x", "y"], axis=1)
    if len(columns) == 2:
        # Two columns of other names are (x, y), unless the names say otherwise:
        # a coordinate in another unit (nm would have matched above), or one of
        # x / y beside some other quantity (e.g. x and frame).
        units = [m[1].strip() for c in columns if isinstance(c, str) and (m := _UNIT_NAMES.match(c))]
        if units:
            raise ValueError(
                f"The coordinate columns {list(columns)} are in {units[0]!r}; sklearn_miro works in nm. "
                "Convert them to nm first (sklearn_miro.io.read_localizations converts the units "
                "of ThunderSTORM and Picasso files)."
            )
        if (xcol is None) != (ycol is None):
            found, other = (xcol, "y") if xcol is not None else (ycol, "x")
            raise ValueError(
                f"The DataFrame has the coordinate column {found!r} but no {other} column among "
                f"{list(columns)}; name the coordinate columns 'x' and 'y'."
            )
        return X
    raise ValueError(
        "Could not find the coordinate columns in the DataFrame: expected columns "
        f"named 'x' and 'y' (any case, optionally with a unit such as 'x [nm]'), "
        f"got columns {list(columns)}."
    )


def z_column_message(name, column):
    """What a z coordinate column beside x and y means for MIRO, in words.

    The one message of the warning that :func:`check_coordinates` gives for a
    DataFrame with a z column and of the command line's (``name`` is then the
    file).
    """
    return (
        f"{name} has a z coordinate column {column!r}: MIRO clusters in 2-D, on the x and y "
        "coordinates only, so z is ignored and localisations at different depths that overlap in "
        "x and y are clustered together. For 3-D data, choose deliberately: slice in z first (keep "
        "the localisations of one z range) and cluster each slice, or drop the z column to project "
        "on purpose."
    )


def _z_column(X):
    """The z coordinate column of a DataFrame that :func:`select_xy` leaves out, or None.

    Names are recognised as :func:`sklearn_miro.io.read_localizations` does
    (``z``, ``Z``, ``z [nm]``, ``z (nm)``, ``z_nm``, ``znm``, ``z_position``,
    ...). A DataFrame of two columns is not asked: its two columns are the
    coordinates (or it is refused).
    """
    columns = getattr(X, "columns", None)
    if columns is None or not hasattr(X, "iloc") or len(columns) <= 2:
        return None
    return z_coordinate_column(columns)


def _check_finite(X, name):
    """Our own message for NaN or infinite coordinates, naming the first bad row."""
    try:
        values = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError):
        return  # non-numeric: reported by check_array
    if values.ndim != 2 or np.all(np.isfinite(values)):
        return
    row = int(np.flatnonzero(~np.all(np.isfinite(values), axis=1))[0])
    kind = "NaN" if np.isnan(values[row]).any() else "infinite (±infinity)"
    n_bad = int(np.sum(~np.all(np.isfinite(values), axis=1)))
    raise ValueError(
        f"{name} contains {kind} coordinates ({n_bad} localisation(s), the first at row "
        f"{row}: {values[row].tolist()}). Remove those localisations (e.g. "
        "X[np.isfinite(X).all(axis=1)]) or fix the file they came from."
    )


def _match_feature_names(X, estimator):
    """Make X agree with how the estimator was fitted as to having feature names.

    Coordinates are recognised by :func:`select_xy` and renamed to ``x``/``y``,
    so a DataFrame and an array with the same two columns are the same input:
    a DataFrame given to a model fitted on an array (or the reverse) must not
    warn. Different column names are still an error (scikit-learn's check).
    """
    fitted_names = getattr(estimator, "feature_names_in_", None)
    is_frame = hasattr(X, "columns") and hasattr(X, "iloc")
    if fitted_names is None and is_frame:
        return X.to_numpy()
    if fitted_names is not None and not is_frame:
        arr = np.asarray(X)
        if arr.ndim == 2 and arr.shape[1] == len(fitted_names):
            import pandas as pd

            return pd.DataFrame(arr, columns=list(fitted_names))
    return X


def caller_stacklevel():
    """The ``stacklevel`` of the first frame outside sklearn_miro, scikit-learn and joblib.

    For warnings raised below several layers of the package (an estimator's
    fit, scikit-learn's fit wrapper, a Pipeline, joblib's sequential loop):
    they point at the user's line. Frames without a file (``<stdin>``,
    ``<string>``) are the user's. In a worker thread (joblib's threading
    backend, ``n_jobs > 1``) no frame of the user's is on the stack, and the
    warning points at the first frame outside these libraries, in the
    thread pool; in worker processes warnings are the worker's own.
    """
    import os
    import sys

    import joblib
    import sklearn

    folders = tuple(os.path.dirname(os.path.abspath(module.__file__)) + os.sep
                    for module in (sys.modules[__package__], sklearn, joblib))
    frame, level = sys._getframe(1), 1  # level 1: the function that calls warnings.warn
    while frame is not None:
        filename = frame.f_code.co_filename
        if filename.startswith("<") or not os.path.abspath(filename).startswith(folders):
            break
        frame, level = frame.f_back, level + 1
    return level


#: Column names (compared case-insensitively) that hold field-of-view ids in a
#: DataFrame of localisations (``fov`` is what :func:`sklearn_miro.io.write_labels` writes).
FOV_COLUMN_NAMES = ("fov", "fov_id", "field_of_view")

_NOT_GIVEN = object()


def fov_column(X):
    """The name of ``X``'s field-of-view column (:data:`FOV_COLUMN_NAMES`), or None."""
    columns = getattr(X, "columns", None)
    if columns is None:
        return None
    for column in columns:
        if str(column).strip().casefold() in FOV_COLUMN_NAMES:
            return column
    return None


def check_coordinates(
    X,
    *,
    estimator=None,
    reset=True,
    min_points=1,
    name="X",
    groups=_NOT_GIVEN,
):
    """Validate localisation coordinates and return them as a new float64 array.

    Parameters
    ----------
    X : array-like of shape (n_localizations, 2) or pandas.DataFrame
        Coordinates (x, y), usually in nm. DataFrames are reduced to their x
        and y columns first (see :func:`select_xy`).
    estimator : BaseEstimator, optional
        When given, scikit-learn's ``validate_data`` is used so that
        ``n_features_in_`` and ``feature_names_in_`` are set (``reset=True``)
        or checked (``reset=False``).
    reset : bool, default=True
        Passed to ``validate_data``.
    min_points : int, default=1
        Smallest acceptable number of localisations.
    name : str, default="X"
        Name used in error messages.
    groups : array-like or None, optional
        The FOV ids the caller was given with ``X``. When it is None and
        ``X`` is a DataFrame with a FOV column (:data:`FOV_COLUMN_NAMES`), a
        warning says that the column is not used: every localisation is then
        treated as one FOV, and FOVs stacked on one coordinate range merge.

    A DataFrame with a z coordinate column beside x and y (``z``, ``z [nm]``,
    ``z_nm``, ...) gets a warning (:func:`z_column_message`): MIRO clusters in
    2-D and z is ignored.

    Returns
    -------
    coordinates : ndarray of shape (n_localizations, 2), dtype float64
        Always a fresh array: the caller's data is never modified.

    Raises
    ------
    CoordinateTypeError
        A :class:`TypeError` and a :class:`ValueError`: ``X`` holds values
        that are not numbers (text that does not read as a number, objects
        such as dicts) or is a sparse matrix.
    ValueError
        ``X`` has NaN or infinite values, another number of columns than 2,
        or fewer than ``min_points`` rows (also with an estimator: these
        messages say what MIRO expects, rather than scikit-learn's "X has 3
        features, but ... is expecting 2" or "Found array with 0 sample(s)").
    """
    if groups is None:
        column = fov_column(X)
        n_fovs = 0 if column is None else X[column].nunique()
        if n_fovs > 1:
            warnings.warn(
                f"{name} has a column {column!r} with {n_fovs} field-of-view ids, but groups "
                f"was not given: only x and y are read, and all localisations are treated as one "
                f"field of view, so FOVs that share a coordinate range merge. Pass "
                f"groups={name}[{column!r}].",
                UserWarning,
                stacklevel=caller_stacklevel(),
            )
    z_column = _z_column(X)
    X = select_xy(X)
    if z_column is not None:
        warnings.warn(z_column_message(name, z_column), UserWarning, stacklevel=caller_stacklevel())
    _check_finite(X, name)
    if estimator is not None and not reset:
        X = _match_feature_names(X, estimator)
    kwargs = dict(
        dtype=np.float64,
        ensure_all_finite=True,
        # Too few rows and another number of columns than 2 get this module's
        # messages below (what MIRO expects), not scikit-learn's generic ones.
        ensure_min_samples=0,
        copy=True,
    )
    try:
        arr = check_array(X, input_name=name, estimator=estimator, **kwargs)
    except ValueError as exc:
        msg = str(exc)
        if "could not convert" in msg or "convert string" in msg:
            # A TypeError by scikit-learn's convention for non-numeric input.
            raise CoordinateTypeError(
                f"{name} must hold numeric (x, y) coordinates; found non-numeric "
                f"values ({msg})."
            ) from exc
        if "Expected 2D array" in msg or "Found array with dim" in msg:
            # scikit-learn's advice (reshape(-1, 1)) would give an (n, 1) array, refused too.
            shape = np.shape(X) if not hasattr(X, "shape") else X.shape
            raise ValueError(
                f"{name} must have shape (n_localizations, 2): the x and y coordinates (usually "
                f"in nm) of one localisation per row; got an array of shape {tuple(shape)}."
            ) from exc
        raise
    except TypeError as exc:
        # Objects that are not numbers (e.g. a dict in an object array: the
        # message keeps numpy's "argument must be a string or a real number"),
        # or a sparse matrix.
        raise CoordinateTypeError(
            f"{name} must be an array-like of shape (n_localizations, 2) with numeric "
            f"coordinates; got {type(X).__name__} ({exc})."
        ) from exc
    if arr.shape[0] < min_points:
        # "N sample(s)": scikit-learn's wording for too-few-samples errors.
        raise ValueError(
            f"{name} has {arr.shape[0]} localisation(s) ({arr.shape[0]} sample(s)); at least "
            f"{min_points} are needed: MIRO expects an array of shape (n_localizations, 2) with the "
            "x and y coordinates (usually in nm) of one localisation per row."
        )
    if arr.ndim != 2 or arr.shape[1] != 2:
        hint = ""
        if arr.ndim == 2 and arr.shape[1] == 3:
            hint = (" MIRO clusters in 2-D: for 3-D localisations (x, y, z), slice in z first (or "
                    "project on purpose) and pass the x and y columns only, e.g. X[:, :2].")
        raise ValueError(
            f"{name} must have shape (n_localizations, 2): one (x, y) coordinate pair per "
            f"localisation, usually in nm; got n_features = {arr.shape[1]} (an array of shape "
            f"{arr.shape}).{hint}"
        )
    if estimator is not None:
        # Feature names and n_features_in_ set (reset=True) or checked; the
        # array itself was converted above.
        validate_data(estimator, X, reset=reset, skip_check_array=True)
    return arr


def check_label_vector(labels, n_samples=None, *, name="labels", entry="cluster label",
                       against="X", integer=False, integer_floats=False, background=-1):
    """Validate a vector with one label per localisation; return a fresh 1-D array.

    The one place where the shape, length and missing values of per-localisation
    labels are checked (cluster labels, class names, labels to plot or score).

    Parameters
    ----------
    labels : array-like of shape (n_localizations,) or (n_localizations, 1)
        Integers, strings or other comparable values (only integers with
        ``integer=True``).
    n_samples : int or None, default=None
        Expected length; None accepts any non-zero length.
    name : str, default="labels"
        Name used in error messages.
    entry : str, default="cluster label"
        What one entry is, for error messages.
    against : str, default="X"
        What holds the ``n_samples`` localisations, for error messages.
    integer : bool, default=False
        Require integer labels (:func:`integer_labels`); the result is int64.
    integer_floats : bool, default=False
        Reject floats that are not whole numbers.
    background : int, default=-1
        Background label, named in messages when ``integer=True``.

    Returns
    -------
    labels : ndarray of shape (n_localizations,)
    """
    if labels is None:
        raise ValueError(f"{name} is required: pass one {entry} per localisation.")
    arr = np.asarray(labels)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ValueError(
            f"{name} must be a 1-D array with the {entry} of every localisation; got shape {arr.shape}."
        )
    if arr.shape[0] == 0:
        raise ValueError(f"{name} is empty: at least one localisation is needed.")
    if n_samples is not None and arr.shape[0] != n_samples:
        entries = entry[:-2] + "sses" if entry.endswith("ss") else entry + "s"
        raise ValueError(
            f"{name} has {arr.shape[0]} {entries} but {against} has {n_samples} localisations; "
            f"they must have the same length, one {entry} per localisation."
        )
    if integer:
        return integer_labels(arr, name=name, background=background)
    if arr.dtype.kind in "fc":
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} contains NaN or infinite labels.")
        if integer_floats and not np.all(arr == np.round(arr)):
            raise ValueError(
                f"{name} must hold integer cluster labels or names; got non-integer floats."
            )
    elif arr.dtype.kind == "O":
        _check_no_missing(arr, name, f"every localisation needs a {entry}")
    elif arr.dtype.kind not in "iubUS":
        raise ValueError(
            f"{name} must hold integer or string labels; got dtype {arr.dtype}."
        )
    return arr.copy()


def _check_no_missing(arr, name, need):
    missing = np.array([v is None or (isinstance(v, float) and not np.isfinite(v)) for v in arr.ravel()])
    if missing.any():
        row = int(np.flatnonzero(missing)[0])
        raise ValueError(f"{name} contains None or NaN (a missing label) at position {row}; {need}.")


def check_cluster_labels(y, n_samples, *, name="y", background=-1, require_cluster=True,
                         per_scale=False):
    """Validate per-localisation cluster labels, for one scale or for several.

    Parameters
    ----------
    y : array-like of shape (n_localizations,) or (n_localizations, n_scales)
        Integer cluster labels; ``background`` marks localisations that belong
        to no cluster (scikit-learn's noise convention is -1). Cluster ids must
        be unique across FOVs: a cluster never spans two FOVs.
    n_samples : int
        Expected length.
    name : str, default="y"
        Name used in error messages.
    background : int, default=-1
        Label of non-clustered localisations.
    require_cluster : bool, default=True
        Raise if no localisation (at some scale) belongs to a cluster.
    per_scale : bool, default=False
        Expect one column per scale, finest scale first (``n_scales >= 2``).

    Returns
    -------
    labels : ndarray of shape (n_localizations,) or (n_localizations, n_scales), dtype int64
        A fresh array.
    """
    if y is None:
        what = (
            f"the cluster labels of every localisation at every scale as {name}, an array of "
            f"shape (n_localizations, n_scales), finest scale first ({background} = background)"
            if per_scale
            else f"the cluster label of every localisation ({background} for background) as {name}"
        )
        raise ValueError(
            f"This estimator requires y to be passed, but the target y is None: pass {what}."
        )
    if not per_scale:
        arr = check_label_vector(y, n_samples, name=name, integer=True, background=background)
        if require_cluster and not np.any(arr != background):
            raise ValueError(
                f"{name} contains no cluster: every label is the background label "
                f"{background}. Label at least one cluster to train on."
            )
        return arr
    arr = np.asarray(y)
    if arr.ndim != 2 or arr.shape[1] < 2:
        raise ValueError(
            f"{name} must be a 2-D array of shape (n_localizations, n_scales) with n_scales >= 2: "
            f"the cluster label of every localisation at every scale, finest scale first "
            f"(e.g. the corners and rings of make_npc); got shape {arr.shape}. For a single "
            "scale use MIROTransformer or MIROClusterer."
        )
    if arr.shape[0] != n_samples:
        raise ValueError(
            f"{name} has {arr.shape[0]} rows but X has {n_samples} localisations; "
            "they must have the same length."
        )
    arr = integer_labels(arr, name=name, background=background)
    empty = [s for s in range(arr.shape[1]) if not np.any(arr[:, s] != background)]
    if require_cluster and empty:
        raise ValueError(
            f"{name} has no cluster at scale(s) {empty}: every label there is the "
            f"background label {background}. Every scale needs labelled clusters."
        )
    return arr


def integer_labels(arr, *, name="y", background=-1):
    """A fresh int64 copy of an array of cluster labels of any shape.

    Integer and boolean arrays are accepted; float arrays only when every value
    is a finite integer; anything else, and values that do not fit in int64,
    raise a ValueError naming ``name``.
    """
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} contains NaN or infinite labels.")
        if not np.all(arr == np.round(arr)):
            raise ValueError(
                f"{name} must hold integer cluster labels; got non-integer values "
                "(did you pass coordinates or a continuous target?)."
            )
        # float64(2**63) is the first value past int64's largest; the cast
        # would give a wrong label without any error.
        too_large = (arr >= 2.0**63) | (arr < -(2.0**63))
        if too_large.any():
            _raise_int64_overflow(arr[too_large].ravel()[0].item(), name)
    elif arr.dtype.kind == "O":
        _check_no_missing(
            arr, name, f"every localisation needs an integer cluster label ({background} = background)"
        )
        bad = [v for v in arr.ravel() if isinstance(v, bool) or not isinstance(v, (numbers.Integral, np.integer))]
        if bad:
            raise ValueError(
                f"{name} must hold integer cluster labels ({background} = background); got "
                f"{type(bad[0]).__name__} values such as {bad[0]!r}."
            )
        try:
            return arr.astype(np.int64, copy=True)
        except OverflowError:  # Python ints past int64's range
            limits = np.iinfo(np.int64)
            outside = [v for v in arr.ravel() if not limits.min <= int(v) <= limits.max]
            _raise_int64_overflow(int(outside[0]), name)
    elif arr.dtype.kind == "u" and arr.size and arr.max() > np.iinfo(np.int64).max:
        # uint64 labels past int64's largest value would wrap to negative
        # numbers, 2**64 - 1 becoming -1, the background.
        _raise_int64_overflow(int(arr.max()), name)
    elif arr.dtype.kind not in "iub":
        example = arr.ravel()[0].item() if arr.size else None
        raise ValueError(
            f"{name} must hold integer cluster labels ({background} = background); "
            f"got dtype {arr.dtype} (values such as {example!r})."
        )
    return arr.astype(np.int64, copy=True)


def _raise_int64_overflow(value, name):
    limits = np.iinfo(np.int64)
    raise ValueError(
        f"{name} holds the label {value}, which does not fit in a 64-bit signed integer "
        f"({limits.min}..{limits.max}); renumber the clusters (e.g. with "
        "np.unique(labels, return_inverse=True))."
    )


def check_groups(groups, n_samples, *, name="groups"):
    """Validate FOV ids; ``None`` means that all localisations form one FOV.

    Returns
    -------
    groups : ndarray of shape (n_localizations,) or None
    """
    if groups is None:
        return None
    arr = np.asarray(groups)
    if arr.ndim != 1:
        raise ValueError(
            f"{name} must be a 1-D array with the field-of-view id of every "
            f"localisation; got shape {arr.shape}."
        )
    if arr.shape[0] != n_samples:
        raise ValueError(
            f"{name} has {arr.shape[0]} entries but X has {n_samples} localisations; "
            "they must have the same length."
        )
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        row = int(np.flatnonzero(~np.isfinite(arr))[0])
        raise ValueError(f"{name} contains NaN or infinite FOV ids (the first at position {row}).")
    if arr.dtype.kind == "O":
        # set(map(type, ...)) runs in C (~0.03 s per 10^6); the per-element
        # test for missing ids is only needed when None or floats are present.
        kinds = set(map(type, arr))
        if type(None) in kinds or any(issubclass(k, float) for k in kinds):
            missing = np.array([v is None or (isinstance(v, float) and not np.isfinite(v)) for v in arr])
            if missing.any():
                row = int(np.flatnonzero(missing)[0])
                raise ValueError(
                    f"{name} contains None or NaN (a missing FOV id) at position {row}; every "
                    "localisation needs the id of its field of view."
                )
        if len(kinds) > 1:
            raise ValueError(
                f"{name} mixes FOV ids of different types ({sorted(k.__name__ for k in kinds)}); "
                "use one type (integers or strings)."
            )
    return arr.copy()


def split_by_group(groups, n_samples):
    """Indices of each FOV, in order of first appearance.

    Parameters
    ----------
    groups : ndarray of shape (n_samples,) or None
    n_samples : int

    Returns
    -------
    list of (group_id, indices)
        ``indices`` are sorted int64 arrays. With ``groups=None`` a single entry
        ``(None, arange(n_samples))`` is returned.
    """
    if groups is None:
        return [(None, np.arange(n_samples))]
    uniques, first, inverse = np.unique(groups, return_index=True, return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    counts = np.bincount(inverse, minlength=len(uniques))
    bounds = np.concatenate([[0], np.cumsum(counts)])
    by_label = [order[bounds[k] : bounds[k + 1]] for k in range(len(uniques))]
    return [(uniques[k], by_label[k]) for k in np.argsort(first, kind="stable")]


def is_integer_scalar(value):
    """Whether ``value`` is a Python or NumPy integer (bools excluded: True is not a count or a label)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_positive(value, name, *, allow_zero=False, integer=False, allow_none=False):
    """Check a scalar hyper-parameter and return it; raise a clear error otherwise."""
    if value is None and allow_none:
        return value
    of_kind = is_integer_scalar(value) if integer else isinstance(value, numbers.Real) and not isinstance(value, bool)
    if not of_kind:
        kind = "an integer" if integer else "a number"
        raise ValueError(f"{name} must be {kind}; got {value!r}.")
    if not np.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be {bound}; got {value!r}.")
    return value


def check_pass_count(value, name, minimum, meaning):
    """Check a number of passes of the network (an int, not a bool, at least ``minimum``).

    ``meaning`` says in the message what the count is, e.g. "runs of the network".
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum} ({meaning}); got {value!r}.")
    return int(value)


def check_random_state(random_state, *, legacy=False):
    """The one random-state helper of sklearn_miro.

    Parameters
    ----------
    random_state : None, int, numpy.random.Generator or numpy.random.RandomState
        ``None`` gives fresh OS entropy, an int seeds a new generator.
    legacy : bool, default=False
        False (data generators): return a :class:`numpy.random.Generator`; a
        Generator is used as is (and advanced), a legacy ``RandomState`` seeds a
        new Generator from its own stream, so results still follow that state.
        True (estimators, whose seeds must stay as before): return a
        :class:`numpy.random.RandomState` exactly as
        :func:`sklearn.utils.check_random_state` does.

    Returns
    -------
    numpy.random.Generator or numpy.random.RandomState
    """
    if isinstance(random_state, bool):
        raise ValueError(f"random_state must be None, an int or a Generator; got {random_state!r}.")
    if legacy:
        return sklearn_check_random_state(random_state)
    if random_state is None or isinstance(random_state, (numbers.Integral, np.integer)):
        if random_state is not None and random_state < 0:
            raise ValueError(f"random_state must be a non-negative int; got {random_state!r}.")
        return np.random.default_rng(random_state)
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(0, 2**31 - 1, size=4))
    raise ValueError(
        "random_state must be None, an int, a numpy.random.Generator or a "
        f"numpy.random.RandomState; got {type(random_state).__name__}."
    )


def check_training_fovs(X, groups, fovs=None):
    """Raise when a training FOV has fewer than 2 localisations or a zero-area bounding box.

    Such a FOV has no density, no spacing and no room to place synthetic
    clusters in; the message names it and says what to do. ``fovs`` is
    ``split_by_group(groups, len(X))`` when the caller has it already.
    """
    for group, idx in split_by_group(groups, X.shape[0]) if fovs is None else fovs:
        label = "data (one field of view, no groups)" if group is None else f"field of view {group!r}"
        if len(idx) < 2:
            raise ValueError(
                f"Training {label} has {len(idx)} localisation(s); every training field of "
                "view needs at least 2 localisations spread over an area. Check groups (a "
                "FOV id per localisation) or drop that FOV."
            )
        extent = X[idx].max(axis=0) - X[idx].min(axis=0)
        if not np.all(extent > 0):
            raise ValueError(
                f"Training {label} has zero area: its {len(idx)} localisations lie on a "
                f"line (extent {extent.tolist()}). Every training field of view needs "
                "localisations spread in x and y; check the coordinate columns and groups."
            )


#: Label 0 reads as background when its localisations spread at least this many times
#: more than the median other label's (RMS distance to the label's centre) ...
ZERO_BACKGROUND_SPREAD_RATIO = 2.0
#: ... and at least this fraction of the spread of all localisations (of its FOV).
ZERO_BACKGROUND_FOV_FRACTION = 0.3

# Rows per block of the second (centred) pass of :func:`zero_background_evidence`.
_BLOCK_ROWS = 65_536


def dense_codes(values):
    """(sorted distinct values, code 0..k-1 of every entry): equal values, equal codes.

    Integer values over a range not much longer than the data are numbered
    through a table of the values present, in place, without
    :func:`numpy.unique`'s sorted copy, permutation and inverse, or a hash table
    the size of the data (either about 40 bytes per entry at once). Strings
    (and other objects) are hashed by :func:`pandas.factorize`, which sorts
    only the few distinct values (``np.unique`` sorts the Python objects:
    about 1 s per 10^6 against 0.1 s). Anything else goes through
    ``np.unique``. Codes are int64.
    """
    values = np.asarray(values)
    if values.dtype.kind in "iu" and values.size:
        low, high = int(values.min()), int(values.max())
        if high <= np.iinfo(np.int64).max and high - low <= 4 * values.size + 1024:
            codes = values.astype(np.int64)
            codes -= low
            present = np.zeros(high - low + 1, dtype=bool)
            present[codes] = True
            number = np.cumsum(present) - 1
            np.take(number, codes, out=codes)
            return (np.flatnonzero(present) + low).astype(values.dtype), codes
    if values.dtype.kind in "OUS":
        import pandas as pd

        codes, uniques = pd.factorize(values, sort=True)
        uniques = np.asarray(uniques)
        if uniques.dtype != values.dtype:
            uniques = uniques.astype(values.dtype)
        return uniques, codes.astype(np.int64, copy=False)
    uniques, codes = np.unique(values, return_inverse=True)
    return uniques, codes.astype(np.int64, copy=False).ravel()


def _rms_spreads(X, codes, n_groups):
    """(count, RMS distance to the group's centre) of every group of rows of ``X``.

    Two passes of :func:`numpy.bincount`: the centres, then the squared
    distances to them (no cancellation of ``E[x^2] - E[x]^2`` far from the
    origin), the second in blocks of rows, so that no (n, 2) temporary is made.
    """
    counts = np.bincount(codes, minlength=n_groups)
    safe = np.maximum(counts, 1)
    centres = np.column_stack([np.bincount(codes, X[:, j], n_groups) for j in range(2)]) / safe[:, None]
    squares = np.zeros(n_groups)
    for start in range(0, codes.size, _BLOCK_ROWS):
        rows = slice(start, start + _BLOCK_ROWS)
        d = X[rows] - centres[codes[rows]]
        squares += np.bincount(codes[rows], np.einsum("ij,ij->i", d, d), n_groups)
    return counts, np.sqrt(squares / safe)


def zero_background_evidence(X, labels, groups=None):
    """What makes label 0 look like background (0 = background), or None.

    Only labels without -1 that use 0 next to other labels are candidates. Background
    is spread over the whole field of view, clusters are compact: label 0 is taken for
    background when the RMS distance of its localisations to their centre is at least
    ``ZERO_BACKGROUND_SPREAD_RATIO`` times the median of the other labels' (those with 2
    localisations or more) and at least ``ZERO_BACKGROUND_FOV_FRACTION`` of all the
    localisations' own. Measured on every simulator of ``sklearn_miro.datasets``
    (benchmark scenarios 2-10 with and without blinking, and a sweep of few large or
    small clusters in small or large FOVs): background of 8 localisations or more
    relabelled 0 scores a ratio of 2.1 to 160 (8 to 30 at the simulators' defaults; the
    low end where a few rings fill a small FOV) and a fraction of 0.7 to 2.5; any
    cluster numbered 0 once the background is dropped scores a fraction of at most 0.16
    where its ratio is 1.5 or more (an elongated or large cluster), and a ratio of at
    most 1.3 where its fraction is 0.3 or more (one or two pairs of clusters). A
    background of a few localisations close together can go unnoticed. Counts are not
    used: background can be fewer localisations than one cluster (NPC-like rings), and
    a real cluster can be the largest.

    With ``groups`` (FOV ids), the rule is applied in every FOV on its own, as a
    cluster is a (FOV, label) pair: label 0's spread in the FOV against the median of
    the FOV's other labels and the spread of the FOV's localisations. Label 0 looks
    like background when it does so in at least one FOV. Pooling the FOVs would take
    clusters numbered 0 in several FOVs (labels that restart in every FOV) for one
    label spread over all of them, and FOVs far apart in coordinates would make the
    spread of all localisations so large that background confined to some FOVs
    falls below the fraction. Without ``groups`` all localisations form one FOV.

    Parameters
    ----------
    X : ndarray of shape (n, 2)
        Coordinates, validated (finite floats).
    labels : ndarray of shape (n,)
        Integer labels.
    groups : ndarray of shape (n,), default=None
        FOV ids, validated (:func:`check_groups`).

    Returns
    -------
    None or dict
        ``n_zero`` and ``n``: localisations labelled 0 and in all; ``spread``,
        ``typical`` and ``overall``: label 0's RMS spread, the median other label's
        (0 when there is none of 2 localisations) and all localisations', in the
        first FOV where label 0 looks like background; ``fov``: that FOV's id (None
        without ``groups``), ``fov_n_zero`` and ``fov_n``: its counts;
        ``n_fovs_seen`` and ``n_fovs_checked``: FOVs where label 0 looks like
        background, and where it could (2 localisations or more labelled 0, and
        not all of them).

    Cost: linear in ``n`` (one :func:`numpy.bincount` pass per moment over
    combined (FOV, label) codes; a sort only for labels or FOV ids spread over a
    range much longer than the data).
    """
    X = np.asarray(X, dtype=np.float64)
    labels = np.asarray(labels)
    n = labels.size
    if n == 0 or np.any(labels == -1):
        return None
    zero = labels == 0
    n_zero = int(np.count_nonzero(zero))
    if n_zero < 2 or n_zero == n:
        return None
    if groups is None:
        fov, n_fovs = np.zeros(n, dtype=np.intp), 1
    else:
        fov_ids, fov = dense_codes(groups)
        n_fovs = fov_ids.size
    label_ids, label_code = dense_codes(labels)
    n_labels = label_ids.size
    combined = fov * np.intp(n_labels)
    combined += label_code
    del label_code
    pair_ids, pair = dense_codes(combined)
    n_pairs = pair_ids.size
    del pair_ids
    del combined
    pair_fov = np.zeros(n_pairs, dtype=np.intp)
    pair_fov[pair] = fov
    pair_zero = np.zeros(n_pairs, dtype=bool)
    pair_zero[pair] = zero
    del zero
    counts, spread = _rms_spreads(X, pair, n_pairs)
    del pair
    fov_counts, overall = _rms_spreads(X, fov, n_fovs)
    # The median spread of every FOV's other labels of 2 localisations or more (0 if none).
    others = ~pair_zero & (counts >= 2)
    other_fov, other_spread = pair_fov[others], spread[others]
    order = np.lexsort((other_spread, other_fov))
    sorted_spread = other_spread[order]
    per_fov = np.bincount(other_fov, minlength=n_fovs)
    starts = np.cumsum(per_fov) - per_fov
    typical = np.zeros(n_fovs)
    has = per_fov > 0
    if has.any():
        low = starts[has] + (per_fov[has] - 1) // 2
        high = starts[has] + per_fov[has] // 2
        typical[has] = 0.5 * (sorted_spread[low] + sorted_spread[high])
    # Label 0 in every FOV that has it (one (FOV, 0) pair per FOV at most).
    zero_pairs = np.flatnonzero(pair_zero)
    zero_fov = pair_fov[zero_pairs]
    fov_n_zero = counts[zero_pairs]
    spread_zero = spread[zero_pairs]
    checked = (fov_n_zero >= 2) & (fov_n_zero < fov_counts[zero_fov])
    seen = (checked & (spread_zero > 0)
            & (spread_zero >= ZERO_BACKGROUND_FOV_FRACTION * overall[zero_fov])
            & (spread_zero >= ZERO_BACKGROUND_SPREAD_RATIO * typical[zero_fov]))
    if not seen.any():
        return None
    first = np.flatnonzero(seen)
    first = first[np.argmin(zero_fov[first])]
    f = int(zero_fov[first])
    fov_id = None
    if groups is not None:
        fov_id = fov_ids[f]
        fov_id = fov_id.item() if isinstance(fov_id, np.generic) else fov_id
    return dict(n_zero=n_zero, n=n, spread=float(spread_zero[first]), typical=float(typical[f]),
                overall=float(overall[f]), fov=fov_id, fov_n_zero=int(fov_n_zero[first]),
                fov_n=int(fov_counts[f]), n_fovs_seen=int(seen.sum()), n_fovs_checked=int(checked.sum()))


def warn_if_zero_is_background(labels, name="y", stacklevel=None, *, X=None, units=None, groups=None,
                               advice=None):
    """Warn when labels look like the benchmark's convention (0 = background) instead of -1.

    sklearn_miro follows scikit-learn: -1 marks localisations outside any
    cluster. Label files such as the benchmark's use 0 for them; passed as
    they are, the background would be learnt as one huge cluster.

    With the coordinates ``X`` (and ``groups``, the FOV ids, when known), the
    warning comes only when label 0 is spread like background
    (:func:`zero_background_evidence`), and says what was seen; labels that
    simply have no background (e.g. :func:`~sklearn_miro.datasets.make_cluster_pairs`,
    or simulated clusters without their background) pass in silence. Without
    ``X``, any label 0 next to other labels and no -1 is named (the command
    line treats 0 as background in that case, and says so too).

    ``units``: of ``X``, in the message (none shown when None). ``advice``: the
    message's last sentences, what the label 0 becomes and what to pass; by
    default that 0 is treated as an ordinary cluster, and
    ``np.where(name == 0, -1, name)``.

    ``stacklevel``: passed to :func:`warnings.warn` as is; None (the default)
    points the warning at the first line outside sklearn_miro, scikit-learn
    and joblib (:func:`caller_stacklevel`), the user's.

    Returns
    -------
    bool
        Whether a warning was given.
    """
    if advice is None:
        advice = (f"0 is treated as an ordinary cluster. If label 0 marks background (as in the "
                  f"benchmark's files), pass np.where({name} == 0, -1, {name}).")
    labels = np.asarray(labels)
    if X is None:
        if labels.size == 0 or np.any(labels == -1):
            return False
        zero = labels == 0
        if not zero.any() or zero.all():
            return False
        message = (f"{name} has no -1 (background) label and uses label 0 for {int(zero.sum())} of "
                   f"{labels.size} localisations; {advice}")
    else:
        seen = zero_background_evidence(X, labels, groups)
        if seen is None:
            return False
        message = (f"{name} has no -1 (background) label and uses label 0 for {seen['n_zero']} of "
                   f"{seen['n']} localisations, {_describe_zero_background(seen, units)} {advice}")
    warnings.warn(message, UserWarning, stacklevel=caller_stacklevel() if stacklevel is None else stacklevel)
    return True


def _describe_zero_background(seen, units):
    """The evidence of :func:`zero_background_evidence`, in words."""
    unit = f" {units}" if units else ""
    ratio = f"{seen['spread'] / seen['typical']:.1f} times" if seen["typical"] > 0 else "far more than"
    if seen["fov"] is None:
        where, other, everyone = "", "the median other label's", "all localisations'"
    else:
        where = (f" in {seen['n_fovs_seen']} of the {seen['n_fovs_checked']} fields of view with label "
                 f"0 (in FOV {seen['fov']!r}, {seen['fov_n_zero']} of {seen['fov_n']} localisations)")
        other, everyone = "the median other label's there", "all that FOV's localisations'"
    return (f"spread like background{where}: their RMS distance to their centre, {seen['spread']:.3g}{unit}, "
            f"is {ratio} {other} ({seen['typical']:.3g}{unit}) and {seen['spread'] / seen['overall']:.2f} of "
            f"{everyone} ({seen['overall']:.3g}{unit}).")
