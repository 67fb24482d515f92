"""A safe file format for the fitted scikit-learn objects dmrun saves.

An object is written as two files: ``NAME.json`` describes it (class names, parameters and
fitted attributes) and ``NAME.npz`` holds its numeric arrays, saved without pickle. Loading
builds objects only from the classes in ``ALLOWED`` and reads arrays with
``allow_pickle=False``, so a tampered file can fail to load but cannot run code.

skops offers the same guarantee, but importing it imports every scikit-learn module (and torch
through scikit-learn's array-API shims), which took 9 s on a 2-core machine on every tree and
k-means run. This format covers only what dmrun writes: pipelines of its preprocessing steps, decision
trees and k-means.
"""

from __future__ import annotations

import importlib
import io
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from dmrun.errors import RunDirError

FORMAT = "dmrun-sklearn"
VERSION = 1

# Public import paths of the classes that may appear in a file.
ALLOWED = {
    "sklearn.pipeline.Pipeline",
    "sklearn.compose.ColumnTransformer",
    "sklearn.preprocessing.StandardScaler",
    "sklearn.preprocessing.MinMaxScaler",
    "sklearn.preprocessing.RobustScaler",
    "sklearn.preprocessing.OneHotEncoder",
    "sklearn.preprocessing.OrdinalEncoder",
    "sklearn.preprocessing.KBinsDiscretizer",
    "sklearn.preprocessing.FunctionTransformer",
    "sklearn.impute.SimpleImputer",
    "sklearn.decomposition.PCA",
    "sklearn.feature_selection.VarianceThreshold",
    "sklearn.tree.DecisionTreeClassifier",
    "sklearn.tree.DecisionTreeRegressor",
    "sklearn.cluster.KMeans",
    "dmrun.preprocess.steps.Log1pTransform",
    "dmrun.preprocess.steps.ClipOutliers",
}
# NumPy functions a FunctionTransformer may name.
ALLOWED_FUNCTIONS = {"log1p", "expm1", "log", "exp", "sqrt", "square", "clip", "arcsinh", "sinh"}


class _Writer:
    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}

    def array(self, value: np.ndarray) -> dict[str, Any]:
        key = f"a{len(self.arrays)}"
        self.arrays[key] = value
        return {"__ndarray__": key}

    def encode(self, value: Any) -> Any:
        from sklearn.tree._tree import Tree

        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float):
            return value if math.isfinite(value) else {"__float__": repr(value)}
        if isinstance(value, np.generic):
            return {"__scalar__": value.dtype.str, "value": self.encode(value.item())}
        if isinstance(value, np.ndarray):
            if value.dtype == object:
                return {"__objects__": [self.encode(item) for item in value.tolist()], "shape": list(value.shape)}
            return self.array(value)
        if isinstance(value, np.dtype):
            return {"__dtype__": value.str}
        if isinstance(value, type) and issubclass(value, np.generic):
            return {"__numpy_type__": value.__name__}
        if isinstance(value, list):
            return [self.encode(item) for item in value]
        if isinstance(value, tuple):
            return {"__tuple__": [self.encode(item) for item in value]}
        if isinstance(value, slice):
            return {"__slice__": [value.start, value.stop, value.step]}
        if isinstance(value, dict):
            if all(isinstance(key, str) for key in value):
                return {"__dict__": {key: self.encode(item) for key, item in value.items()}}
            return {"__pairs__": [[self.encode(key), self.encode(item)] for key, item in value.items()]}
        if isinstance(value, np.ufunc) or (callable(value) and getattr(value, "__module__", None) == "numpy"):
            if value.__name__ not in ALLOWED_FUNCTIONS:
                raise TypeError(f"function numpy.{value.__name__} cannot be saved")
            return {"__function__": value.__name__}
        if isinstance(value, Tree):
            _, args, state = value.__reduce__()
            return {"__tree__": self.encode(list(args)), "state": self.encode(state)}
        name = _public_name(type(value))
        return {"__object__": name, "attributes": {key: self.encode(item) for key, item in vars(value).items()}}


def _public_name(cls: type) -> str:
    for name in ALLOWED:
        module, _, attribute = name.rpartition(".")
        if cls.__name__ == attribute and getattr(importlib.import_module(module), attribute) is cls:
            return name
    raise TypeError(f"{cls.__module__}.{cls.__qualname__} is not a type dmrun saves")


class _Reader:
    def __init__(self, arrays, path: Path) -> None:
        self.arrays = arrays
        self.path = path

    def fail(self, reason: str) -> RunDirError:
        return RunDirError(
            f"cannot load model file {self.path}: {reason}",
            hint="the model files were changed or damaged after the run; they are not loaded because loading could run code",
        )

    def dtype(self, text: Any) -> np.dtype:
        """Parse a dtype description; the plain object dtype is allowed, structured ones holding objects are not.

        A dtype is only a description: transformers fitted on text columns record ``object`` as
        the input dtype. Arrays themselves are always read with ``allow_pickle=False``.
        """
        try:
            dtype = np.dtype(text)
        except (TypeError, ValueError):
            raise self.fail(f"invalid dtype {text!r}") from None
        if dtype.hasobject and dtype != np.dtype(object):
            raise self.fail("structured dtypes with object fields are not allowed")
        return dtype

    def decode(self, value: Any) -> Any:
        if value is None or isinstance(value, (bool, str, int, float)):
            return value
        if isinstance(value, list):
            return [self.decode(item) for item in value]
        if not isinstance(value, dict):
            raise self.fail(f"unexpected value {value!r}")
        if "__ndarray__" in value:
            key = value["__ndarray__"]
            if key not in self.arrays:
                raise self.fail(f"array {key!r} is missing")
            return self.arrays[key]
        if "__float__" in value:
            text = value["__float__"]
            if text not in ("nan", "inf", "-inf"):
                raise self.fail(f"invalid float {text!r}")
            return float(text)
        if "__scalar__" in value:
            return np.dtype(value["__scalar__"]).type(self.decode(value["value"]))
        if "__objects__" in value:
            items = [self.decode(item) for item in value["__objects__"]]
            array = np.empty(len(items), dtype=object)
            array[:] = items
            return array.reshape(value["shape"])
        if "__dtype__" in value:
            return self.dtype(value["__dtype__"])
        if "__numpy_type__" in value:
            return self.dtype(value["__numpy_type__"]).type
        if "__tuple__" in value:
            return tuple(self.decode(item) for item in value["__tuple__"])
        if "__slice__" in value:
            start, stop, step = value["__slice__"]
            return slice(start, stop, step)
        if "__dict__" in value:
            return {key: self.decode(item) for key, item in value["__dict__"].items()}
        if "__pairs__" in value:
            pairs = [(self.decode(key), self.decode(item)) for key, item in value["__pairs__"]]
            if not all(isinstance(key, (str, int, float, tuple)) for key, _ in pairs):
                raise self.fail("dictionary keys must be plain values")
            return dict(pairs)
        if "__function__" in value:
            name = value["__function__"]
            if name not in ALLOWED_FUNCTIONS:
                raise self.fail(f"function {name!r} is not allowed")
            return getattr(np, name)
        if "__tree__" in value:
            from sklearn.tree._tree import Tree

            tree = Tree(*self.decode(value["__tree__"]))
            tree.__setstate__(self.decode(value["state"]))
            return tree
        if "__object__" in value:
            name = value["__object__"]
            if name not in ALLOWED:
                raise self.fail(f"type {name!r} is not one dmrun saves")
            module, _, attribute = name.rpartition(".")
            cls = getattr(importlib.import_module(module), attribute)
            instance = cls.__new__(cls)
            instance.__dict__.update({key: self.decode(item) for key, item in value["attributes"].items()})
            return instance
        raise self.fail(f"unexpected object with keys {sorted(value)[:5]}")


def dumps(obj: Any) -> tuple[str, bytes]:
    """Return the JSON description and the ``.npz`` bytes of a fitted object."""
    import sklearn

    writer = _Writer()
    document = {"format": FORMAT, "version": VERSION, "sklearn": sklearn.__version__, "object": writer.encode(obj)}
    buffer = io.BytesIO()
    np.savez(buffer, **writer.arrays)
    return json.dumps(document, ensure_ascii=False, allow_nan=False) + "\n", buffer.getvalue()


def load(json_path: Path) -> Any:
    """Load an object written by ``dumps`` from ``NAME.json`` and ``NAME.npz`` beside it.

    Raises:
        RunDirError: when a file is missing, damaged, or names a type or function outside the
            allowed set.
    """
    import sklearn

    reader = _Reader({}, json_path)
    if not json_path.is_file():
        raise RunDirError(f"model file not found: {json_path}")
    try:
        document = json.loads(json_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise reader.fail(f"cannot read the model description ({err})") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise reader.fail("not a dmrun scikit-learn model file")
    if document.get("sklearn") != sklearn.__version__:
        import logging

        logging.getLogger(__name__).warning(
            "%s was saved with scikit-learn %s and is loaded with %s; predictions may differ",
            json_path.name, document.get("sklearn"), sklearn.__version__,
        )
    try:
        with np.load(json_path.with_suffix(".npz"), allow_pickle=False) as archive:
            reader.arrays = {key: archive[key] for key in archive.files}
    except (OSError, ValueError) as err:
        raise reader.fail(f"cannot read the model arrays ({err})") from None
    return reader.decode(document["object"])
