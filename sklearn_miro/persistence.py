"""A safe file format for sharing fitted models: ``save_model`` / ``load_model``.

``joblib.dump`` / ``joblib.load`` (pickle) can run arbitrary code when a file
is loaded: a model file received from a colleague or downloaded is a program.
:func:`save_model` writes a fitted sklearn_miro estimator as a ``.miro`` file
that :func:`load_model` reads **without ever unpickling**:

* the file is a zip archive with two members: ``model.json`` (the estimator's
  class, its parameters and its fitted attributes, as plain JSON) and
  ``arrays.npz`` (every numeric array, among them the network's weights, read
  with ``numpy.load(allow_pickle=False)``, which refuses Python objects);
* only classes from a fixed list can be named in ``model.json``: the
  sklearn_miro estimators and their fitted-model objects (also a shipped
  pretrained model's), the network, and a
  few clusterers and wrappers (``DBSCAN``, ``DBSCANStar``, ``FrozenEstimator``,
  ...), and the scaler, logistic regression and pipeline of a shape
  classifier's cluster-class model. Anything else is refused on loading, and
  on saving an estimator that holds objects outside that list raises a
  ``TypeError`` (save it with joblib only if you will load it yourself).

Weights are stored as ``.npz`` rather than safetensors: both refuse code on
loading, and ``.npz`` needs nothing beyond numpy.
"""

from __future__ import annotations

import io
import json
import math
import numbers
import zipfile
from pathlib import Path

import numpy as np

__all__ = ["MODEL_SUFFIX", "is_model_file", "load_model", "save_model"]

MODEL_SUFFIX = ".miro"
_FORMAT = "sklearn_miro.model"
_FORMAT_VERSION = 1
_JSON_NAME = "model.json"
_ARRAYS_NAME = "arrays.npz"


def _allowed_classes():
    """Name -> class of everything a model file may contain."""
    from sklearn.base import BaseEstimator
    from sklearn.cluster import DBSCAN, HDBSCAN, OPTICS, AgglomerativeClustering, KMeans, MeanShift

    from . import estimators
    from .network import MIRONetwork

    classes = {
        name: getattr(estimators, name)
        for name in estimators.__all__
        if isinstance(getattr(estimators, name), type)
        and issubclass(getattr(estimators, name), BaseEstimator)
    }
    classes.update(
        {c.__name__: c for c in (DBSCAN, HDBSCAN, OPTICS, AgglomerativeClustering, KMeans, MeanShift)}
    )
    classes["MIRONetwork"] = MIRONetwork
    from .grid_dbscan import DBSCANStar, GridDBSCAN

    classes.update({c.__name__: c for c in (DBSCANStar, GridDBSCAN)})  # clusterer_ after MIRO
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    # MIROShapeClassifier.cluster_classifier_: scaler + logistic regression.
    classes.update({c.__name__: c for c in (Pipeline, StandardScaler, LogisticRegression)})
    try:
        from sklearn.frozen import FrozenEstimator

        classes["FrozenEstimator"] = FrozenEstimator
    except ImportError:  # pragma: no cover - scikit-learn < 1.6
        pass
    from .model import FittedMIRO

    classes["FittedMIRO"] = FittedMIRO  # the estimators' model_
    from .pretrained import PretrainedMIRO

    classes["PretrainedMIRO"] = PretrainedMIRO  # model_ of MIROTransformer.pretrained()
    from .augmentation import AugmentationOptions

    classes["AugmentationOptions"] = AugmentationOptions
    return classes


# ----------------------------------------------------------------- encoding


def _is_dataframe(value):
    import sys

    pandas = sys.modules.get("pandas")
    return pandas is not None and isinstance(value, pandas.DataFrame)


class _Encoder:
    def __init__(self):
        self.arrays = {}
        self.classes = _allowed_classes()
        self.names = {cls: name for name, cls in self.classes.items()}

    def array(self, value):
        key = f"a{len(self.arrays)}"
        self.arrays[key] = value
        return {"__array__": key}

    def __call__(self, value, where="model"):
        import torch

        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, np.bool_):
            return bool(value)
        if isinstance(value, numbers.Integral):
            return int(value)
        if isinstance(value, numbers.Real):
            value = float(value)
            return value if math.isfinite(value) else {"__float__": repr(value)}
        if isinstance(value, np.ndarray):
            if value.dtype.kind in "biuf" or (value.dtype.kind == "V" and value.dtype.names
                                               and not value.dtype.hasobject):
                # Structured arrays of plain fields (a fitted HDBSCAN's
                # single-linkage tree) go into the .npz like any other array.
                return self.array(np.ascontiguousarray(value))
            items = value.ravel().tolist()
            if all(isinstance(v, (str, int, float, bool)) or v is None for v in items):
                return {"__objarray__": items, "shape": list(value.shape), "kind": value.dtype.kind}
            raise TypeError(f"{where}: an array of {value.dtype} objects cannot be saved safely.")
        if isinstance(value, torch.Tensor):
            return {"__tensor__": self.array(value.detach().cpu().numpy())["__array__"]}
        if isinstance(value, torch.device):
            return {"__device__": str(value)}
        if isinstance(value, tuple):
            return {"__tuple__": [self(v, f"{where}[{k}]") for k, v in enumerate(value)]}
        if isinstance(value, list):
            return [self(v, f"{where}[{k}]") for k, v in enumerate(value)]
        if isinstance(value, dict):
            if all(isinstance(k, str) for k in value):
                return {"__dict__": {k: self(v, f"{where}.{k}") for k, v in value.items()}}
            return {"__pairs__": [[self(k, where), self(v, f"{where}[{k!r}]")] for k, v in value.items()]}
        if isinstance(value, np.random.RandomState):
            return {"__randomstate__": self(value.get_state(), where)}
        if _is_dataframe(value):
            # Tables such as MIROClusterer.cluster_table_: one array per column
            # (numbers in the npz, strings as JSON lists), never a pickle.
            return {
                "__dataframe__": {
                    "columns": [str(c) for c in value.columns],
                    "data": [self(value[c].to_numpy(), f"{where}[{c!r}]") for c in value.columns],
                    "attrs": self(dict(value.attrs), f"{where}.attrs"),
                }
            }
        cls = type(value)
        name = self.names.get(cls)
        if name is None:
            raise TypeError(
                f"{where} is a {cls.__module__}.{cls.__qualname__}, which the safe model "
                f"format cannot store (it stores sklearn_miro estimators, their networks and "
                f"the clusterers {sorted(n for n in self.classes if n[0].isupper())}). Save "
                "this estimator with joblib if you will only load it yourself."
            )
        if name == "MIRONetwork":
            return {
                "__network__": {
                    "config": self(value.config(), where),
                    "weights": {
                        k: self.array(v.detach().cpu().numpy())
                        for k, v in value.state_dict().items()
                    },
                }
            }
        state = value.__getstate__() if hasattr(value, "__getstate__") else vars(value)
        if state is None:
            state = vars(value)
        return {"__object__": name, "state": self(dict(state), f"{where}<{name}>")}


class _Decoder:
    def __init__(self, arrays):
        self.arrays = arrays
        self.classes = _allowed_classes()

    def __call__(self, value):
        import torch

        if value is None or isinstance(value, (bool, str, int, float)):
            return value
        if isinstance(value, list):
            return [self(v) for v in value]
        if not isinstance(value, dict) or len(value) == 0:
            raise ValueError(f"unexpected entry {value!r}")
        if "__array__" in value:
            return self.arrays[value["__array__"]].copy()
        if "__float__" in value:
            return float(value["__float__"])
        if "__objarray__" in value:
            dtype = object if value["kind"] == "O" else None
            return np.array(value["__objarray__"], dtype=dtype).reshape(value["shape"])
        if "__tensor__" in value:
            return torch.from_numpy(self.arrays[value["__tensor__"]].copy())
        if "__device__" in value:
            return torch.device(value["__device__"])
        if "__tuple__" in value:
            return tuple(self(v) for v in value["__tuple__"])
        if "__dict__" in value:
            return {k: self(v) for k, v in value["__dict__"].items()}
        if "__pairs__" in value:
            return {self(k): self(v) for k, v in value["__pairs__"]}
        if "__randomstate__" in value:
            state = np.random.RandomState()
            state.set_state(self(value["__randomstate__"]))
            return state
        if "__dataframe__" in value:
            import pandas as pd

            table = value["__dataframe__"]
            frame = pd.DataFrame(dict(zip(table["columns"], (self(v) for v in table["data"]))),
                                 columns=table["columns"])
            frame.attrs.update(self(table["attrs"]))
            return frame
        if "__network__" in value:
            network = self.classes["MIRONetwork"](**self(value["__network__"]["config"]))
            weights = {
                k: torch.from_numpy(self.arrays[v["__array__"]].copy())
                for k, v in value["__network__"]["weights"].items()
            }
            network.load_state_dict(weights)
            return network.eval()
        if "__object__" in value:
            name = value["__object__"]
            cls = self.classes.get(name)
            if cls is None:
                raise ValueError(
                    f"it names the class {name!r}, which is not one a sklearn_miro model "
                    "file may contain; refusing to load it."
                )
            obj = cls.__new__(cls)
            state = self(value["state"])
            if hasattr(obj, "__setstate__"):
                obj.__setstate__(state)
            else:  # pragma: no cover - every allowed class has __setstate__
                obj.__dict__.update(state)
            return obj
        raise ValueError(f"unexpected entry with keys {sorted(value)}")


# -------------------------------------------------------------------- API


def save_model(estimator, path, *, overwrite=True):
    """Save a fitted sklearn_miro estimator in the safe ``.miro`` format.

    Parameters
    ----------
    estimator : estimator
        A :class:`~sklearn_miro.MIROTransformer`, :class:`~sklearn_miro.MIROClusterer`
        or another sklearn_miro estimator, fitted or not.
    path : str or path-like
        The file to write (``.miro`` is the conventional suffix).
    overwrite : bool, default=True
        When False, an existing file is an error. An existing file that is
        not a model file (a localisation table passed by mistake) is never
        overwritten.

    Returns
    -------
    path : pathlib.Path

    Raises
    ------
    TypeError
        If the estimator holds an object the format cannot store (for example
        a custom clusterer class); the message names it.
    FileExistsError
        If the file exists and ``overwrite`` is False, or it is not a model file.
    """
    from .io import check_output_path

    path = check_output_path(path, overwrite=overwrite)
    if path.is_file() and path.stat().st_size > 0 and not is_model_file(path):
        raise FileExistsError(
            f"{path} exists and is not a sklearn_miro model file ({_describe(path)}); it is not "
            "overwritten. Remove it or save the model under another name (.miro)."
        )
    encoder = _Encoder()
    document = {
        "format": _FORMAT,
        "format_version": _FORMAT_VERSION,
        "sklearn_miro_version": _version(),
        "estimator": encoder(estimator, "estimator"),
    }
    buffer = io.BytesIO()
    np.savez(buffer, **encoder.arrays)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(_JSON_NAME, json.dumps(document))
        archive.writestr(_ARRAYS_NAME, buffer.getvalue())
    return path


def is_model_file(path):
    """True when ``path`` is a zip archive holding a sklearn_miro model (no loading)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return _JSON_NAME in archive.namelist() and _ARRAYS_NAME in archive.namelist()
    except (OSError, zipfile.BadZipFile):
        return False


def load_model(path):
    """Load an estimator written by :func:`save_model`, without unpickling anything.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    estimator
        The estimator as it was saved (fitted models predict the same).

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If the file is not a sklearn_miro model file (the message says what it
        looks like), or names a class outside the allowed list.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"Model file not found: {path}")
    if path.is_dir():
        raise ValueError(f"{path} is a directory, not a model file.")
    if not is_model_file(path):
        raise ValueError(f"{path} is not a sklearn_miro model file: {_describe(path)}")
    try:
        with zipfile.ZipFile(path) as archive:
            document = json.loads(archive.read(_JSON_NAME).decode("utf-8"))
            raw = archive.read(_ARRAYS_NAME)
        with np.load(io.BytesIO(raw), allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (ValueError, KeyError, zipfile.BadZipFile, UnicodeDecodeError, OSError, RecursionError) as exc:
        reason = str(exc)
        if "allow_pickle" in reason or "pickled" in reason:
            # numpy's own advice (load it with pickling allowed) is what the format exists to avoid.
            reason = "its arrays hold Python objects, which the format never stores"
        elif isinstance(exc, RecursionError):
            reason = "its model.json is nested too deeply"
        raise ValueError(f"{path} is a damaged sklearn_miro model file: {reason}.") from exc
    if not isinstance(document, dict) or document.get("format") != _FORMAT:
        raise ValueError(f"{path} is not a sklearn_miro model file (no format marker).")
    version = document.get("format_version", 0)
    if not isinstance(version, int) or isinstance(version, bool):
        raise ValueError(
            f"{path} is a damaged sklearn_miro model file: its format_version is {version!r}, "
            "not an integer."
        )
    if version > _FORMAT_VERSION:
        raise ValueError(
            f"{path} was written by a newer sklearn_miro (format version "
            f"{document['format_version']}, version {document.get('sklearn_miro_version')}); "
            "upgrade sklearn_miro to read it."
        )
    try:
        return _Decoder(arrays)(document["estimator"])
    except (ValueError, KeyError, TypeError, IndexError, AttributeError, RuntimeError) as exc:
        # RuntimeError: torch refusing weights whose shapes do not match the
        # stored network configuration (an edited or damaged file).
        raise ValueError(
            f"{path} cannot be loaded: it is a damaged or incompatible sklearn_miro model file "
            f"({type(exc).__name__}: {exc})"
        ) from exc


def _version():
    import importlib

    # The package's own version (imported lazily: the package imports this module).
    return importlib.import_module(__package__).__version__


def _describe(path):
    """What a file that is not a model file looks like, for error messages."""
    with open(path, "rb") as handle:
        head = handle.read(4096)
    if head[:1] == b"\x80" or (len(head) > 1 and head[0] == 0x78 and (head[0] * 256 + head[1]) % 31 == 0):
        return (
            "it looks like a pickle/joblib file. Those can run code when loaded: load it with "
            "joblib.load only if you trust its source."
        )
    if head[:4] == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(path) as archive:
                archive.namelist()
        except (zipfile.BadZipFile, OSError):
            return "it is a damaged or truncated zip archive (a model file cut short, perhaps)."
        return "it is a zip archive without a sklearn_miro model in it."
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return "it holds binary data of an unknown kind."
    first = text.splitlines()[0] if text.strip() else ""
    return (
        f"it is a text file (first line {first[:60]!r}), perhaps a localisation table: "
        "check the order of the arguments."
    )
