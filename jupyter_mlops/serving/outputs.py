"""What a served model answers: the names, datatype and shape of its outputs.

Decided once, when the version is loaded, so that the Open Inference Protocol metadata
(``GET /v2/models/{name}``) describes what ``/infer`` really returns and every client gets the
output names:

1. A ``predict_proba`` model whose estimator has ``classes_`` answers one probability per class:
   ``proba_<class>`` (``proba_0``, ``proba_1``; ``proba_churned``), FP64, ``[-1, n_classes]``.
   (MLflow's signature cannot be trusted here: it is inferred from ``predict``, so it says
   "one label" for a model logged with ``pyfunc_predict_fn="predict_proba"``.)
2. A model answering a DataFrame names its columns itself (as ``mlflow models serve`` answers
   records for it); a signature with named output columns names them too.
3. Otherwise one output is ``prediction`` and several are ``prediction_<j>``.

The datatype and width come from predicting the saved input example at load (the same request the
smoke test sends), else from the signature; a model with neither is declared FP64 ``[-1]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

#: MLflow column types as Open Inference Protocol datatypes.
V2_TYPES = {
    "double": "FP64",
    "float": "FP32",
    "long": "INT64",
    "integer": "INT32",
    "boolean": "BOOL",
    "string": "BYTES",
    "binary": "BYTES",
    "datetime": "BYTES",
}
NUMPY_TYPES = {
    "FP64": np.float64,
    "FP32": np.float32,
    "INT64": np.int64,
    "INT32": np.int32,
    "BOOL": np.bool_,
}
#: The v2 tensor name of an answer whose columns are not named by the model (kept from before
#: outputs were named, so clients reading ``outputs[0]`` or the name ``predict`` keep working).
TENSOR = "predict"


@dataclass(frozen=True)
class Outputs:
    """A served version's outputs.

    Attributes:
        names: one per output column (``["prediction"]`` for a single output).
        datatype: the Open Inference Protocol datatype of every value.
        columns_named: the model names its output columns (a DataFrame or a signature with
            column names): MLflow answers records, v2 one tensor per column.
        source: where the names came from: ``classes``, ``model``, ``signature`` or ``default``.
    """

    names: tuple[str, ...]
    datatype: str = "FP64"
    columns_named: bool = False
    source: str = "default"

    @property
    def width(self) -> int:
        return len(self.names)

    def tensors(self) -> list[dict[str, Any]]:
        """The v2 metadata of the output tensors."""
        if self.columns_named:
            return [{"name": n, "datatype": self.datatype, "shape": [-1]} for n in self.names]
        shape = [-1] if self.width == 1 else [-1, self.width]
        return [{"name": TENSOR, "datatype": self.datatype, "shape": shape}]

    def conform(self, predictions: np.ndarray) -> np.ndarray:
        """The predictions as the metadata declares them: the declared dtype, ``[n]`` for one
        output, ``[n, width]`` for several (a model answering another width keeps its own)."""
        out = np.asarray(predictions)
        if out.ndim == 2 and out.shape[1] == 1 and self.width == 1:
            out = out.reshape(-1)
        dtype = NUMPY_TYPES.get(self.datatype)
        if dtype is not None and out.dtype != dtype:
            try:
                converted: np.ndarray = out.astype(dtype)
            except (TypeError, ValueError):
                return out
            if np.array_equal(converted, out):  # only a lossless change (int32 -> INT64)
                out = converted
        return out

    def answer_tensors(
        self, predictions: np.ndarray
    ) -> list[tuple[str, np.ndarray, list[str] | None]]:
        """An answer's v2 tensors as the metadata declares them: one per output column the model
        names, else one ``predict`` tensor (``[n]``, or ``[n, k]`` whose column names come
        third, for the tensor's ``output_names`` parameter)."""
        out = self.conform(predictions)
        width = 1 if out.ndim < 2 else out.shape[1]
        names = self.names_for(width)
        if self.columns_named and out.ndim == 2 and width == len(names):
            return [(n, _typed(out[:, j], self.datatype), None) for j, n in enumerate(names)]
        return [(TENSOR, out, names if width > 1 else None)]

    def names_for(self, width: int) -> list[str]:
        """Column names for an answer ``width`` columns wide."""
        if width == self.width:
            return list(self.names)
        return default_names(width)


def _typed(column: np.ndarray, datatype: str) -> np.ndarray:
    """One column of an object array (a DataFrame's answer) with its declared type."""
    if column.dtype != object or datatype == "BYTES":
        return column
    try:
        return column.astype(NUMPY_TYPES.get(datatype, object))
    except (TypeError, ValueError):
        return column


def default_names(width: int) -> list[str]:
    return ["prediction"] if width == 1 else [f"prediction_{j}" for j in range(width)]


def datatype_of(dtype: np.dtype[Any]) -> str:
    """The v2 datatype of a numpy dtype (BYTES for text and objects)."""
    for name, kind in NUMPY_TYPES.items():
        if dtype == np.dtype(kind):
            return name
    if dtype.kind == "i":
        return "INT64"
    if dtype.kind == "u":
        return "UINT64"
    if dtype.kind == "f":
        return "FP64"
    return "BYTES"


def describe(
    *,
    predict_fn: str,
    estimator: Any,
    signature_outputs: list[dict[str, Any]] | None,
    probe: Any,
) -> Outputs:
    """The outputs of a model, from its estimator, signature and one prediction (see the module
    doc). ``probe`` is the model's raw answer to its input example, or None."""
    width: int | None = None
    datatype: str | None = None
    probe_names: list[str] | None = None
    if probe is not None:
        columns = getattr(probe, "columns", None)
        if columns is not None:  # a DataFrame: its columns are its names
            probe_names = [str(c) for c in columns]
            dtypes = {datatype_of(np.dtype(t)) for t in getattr(probe, "dtypes", [])}
            datatype = dtypes.pop() if len(dtypes) == 1 else "BYTES"
            width = len(probe_names)
        else:
            array = np.asarray(probe.to_numpy() if hasattr(probe, "to_numpy") else probe)
            width = 1 if array.ndim < 2 else int(np.prod(array.shape[1:]))
            datatype = datatype_of(array.dtype)
    classes = getattr(estimator, "classes_", None)
    if predict_fn == "predict_proba" and classes is not None and probe_names is None:
        labels = [str(c.item() if hasattr(c, "item") else c) for c in classes]
        if width is None or width == len(labels):
            return Outputs(tuple(f"proba_{c}" for c in labels), "FP64", False, "classes")
    if probe_names:
        return Outputs(tuple(probe_names), datatype or "BYTES", True, "model")
    named = [c for c in signature_outputs or [] if "name" in c]
    if named and len(named) == len(signature_outputs or []):
        types = {V2_TYPES.get(str(c.get("type")), "BYTES") for c in named}
        if width is None or width == len(named):
            kind = datatype or (types.pop() if len(types) == 1 else "BYTES")
            return Outputs(tuple(str(c["name"]) for c in named), kind, True, "signature")
    if datatype is None and signature_outputs and predict_fn == "predict":
        first = signature_outputs[0]
        if first.get("type") == "tensor":
            tensor = first.get("tensor-spec") or {}
            datatype = datatype_of(np.dtype(str(tensor.get("dtype", "float64"))))
            shape = tensor.get("shape") or [-1]
            width = int(np.prod(shape[1:])) if len(shape) > 1 and min(shape[1:]) > 0 else 1
        else:
            datatype = V2_TYPES.get(str(first.get("type")), "BYTES")
            width = len(signature_outputs)
    return Outputs(tuple(default_names(width or 1)), datatype or "FP64", False, "default")
