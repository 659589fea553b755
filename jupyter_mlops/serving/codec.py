"""Request and response bodies of the two protocols the server speaks.

- MLflow's scoring protocol (``POST /invocations``): ``dataframe_split``, ``dataframe_records``,
  ``instances`` or ``inputs``; answers ``{"predictions": ...}``.
- The Open Inference Protocol v2 (KServe, Triton, MLServer): named tensors with ``shape``,
  ``datatype`` and flat ``data``. One tensor per input column, or one ``[rows, columns]`` tensor
  whose columns are the model's inputs in signature order.

Bodies are parsed with orjson; numbers become one float64 matrix with a single numpy call when the
rows allow it, so no pandas object is built on the hot path.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import orjson

from jupyter_mlops.serving.errors import RequestError
from jupyter_mlops.serving.model import Batch
from jupyter_mlops.serving.outputs import NUMPY_TYPES, TENSOR, Outputs, datatype_of

MLFLOW_FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")
_NUMERIC_DATATYPES = {
    "BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64",
    "FP16", "FP32", "FP64",
}  # fmt: skip
_DATATYPES = {np.dtype(np.float64): "FP64", np.dtype(np.float32): "FP32",
              np.dtype(np.int64): "INT64", np.dtype(np.int32): "INT32",
              np.dtype(np.bool_): "BOOL"}  # fmt: skip
_DUMP = orjson.OPT_SERIALIZE_NUMPY


def parse_json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise RequestError(f"The body is not valid JSON: {exc}") from None


def decode_mlflow(body: bytes, columns: Sequence[str]) -> Batch:
    """A ``/invocations`` body as a batch; ``columns`` name unnamed values (signature order)."""
    doc = parse_json(body)
    if not isinstance(doc, dict):
        raise RequestError(
            "The body must be a JSON object with one of the keys " + ", ".join(MLFLOW_FORMATS)
        )
    found = [k for k in MLFLOW_FORMATS if k in doc]
    if len(found) != 1:
        raise RequestError(
            "The body must have exactly one of the keys "
            + ", ".join(MLFLOW_FORMATS)
            + (
                f"; it has {', '.join(found)}"
                if found
                else f"; it has {', '.join(map(str, doc)) or 'none'}"
            )
        )
    kind = found[0]
    value = doc[kind]
    if kind == "dataframe_split":
        if not isinstance(value, dict) or not isinstance(value.get("data"), list):
            raise RequestError('dataframe_split must be {"columns": [...], "data": [[...], ...]}')
        names = value.get("columns", list(columns))
        if not isinstance(names, list) or not all(isinstance(c, str) for c in names):
            raise RequestError("dataframe_split.columns must be a list of column names")
        return _rows(value["data"], names, kind)
    if kind == "dataframe_records":
        return _records(value, kind)
    # instances / inputs: records, rows, one column, or (inputs) named columns
    if isinstance(value, dict):
        return _named_columns(value, kind)
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return _records(value, kind)
    if isinstance(value, list) and value and not isinstance(value[0], list):
        value = [[v] for v in value]
    return _rows(value, list(columns), kind)


def decode_csv(body: bytes) -> Batch:
    """A ``text/csv`` ``/invocations`` body (a header row, then one row per prediction) as a
    batch. Values are typed the way ``mlflow models serve`` types them: by pandas' CSV reader."""
    import csv
    import io

    import pandas as pd

    try:
        frame = pd.read_csv(io.BytesIO(body))
    except pd.errors.EmptyDataError:
        raise RequestError(
            "The CSV body is empty; send a header row with the column names, then one row per "
            "prediction"
        ) from None
    except (ValueError, csv.Error) as exc:  # ParserError and UnicodeDecodeError included
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RequestError(f"The body is not valid CSV: {first}") from None
    names = [str(c) for c in frame.columns]
    if any(n.startswith("Unnamed: ") for n in names):
        raise RequestError(
            "The CSV header has an empty column name; the first row must name every column"
        )
    columns = {
        n: [None if v != v else v for v in frame[c].tolist()]  # NaN (an empty cell) -> null
        for n, c in zip(names, frame.columns, strict=True)
    }
    return Batch(columns=names, rows=len(frame), data=columns)


def _rows(data: Any, names: list[str], kind: str) -> Batch:
    if not isinstance(data, list) or not all(isinstance(r, list) for r in data):
        raise RequestError(f"{kind} rows must be a list of lists")
    width = len(names)
    if len(set(names)) != width:
        raise RequestError(f"{kind} names a column twice")
    for i, row in enumerate(data):
        if len(row) != width:
            raise RequestError(
                f"{kind} row {i} has {len(row)} values; expected {width} ({', '.join(names)})"
            )
    try:
        matrix = np.array(data, dtype=np.float64)
    except (TypeError, ValueError):
        columns = {n: [row[j] for row in data] for j, n in enumerate(names)}
        return Batch(columns=names, rows=len(data), data=columns)
    if matrix.ndim != 2:
        matrix = matrix.reshape(len(data), width)
    return Batch(columns=names, rows=len(data), matrix=matrix)


def _records(data: Any, kind: str) -> Batch:
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise RequestError(f"{kind} must be a list of objects (one per row)")
    names: dict[str, None] = {}
    for record in data:
        for key in record:
            names.setdefault(key, None)
    columns = {n: [r.get(n) for r in data] for n in names}
    return Batch(columns=list(names), rows=len(data), data=columns)


def _named_columns(value: dict[str, Any], kind: str) -> Batch:
    columns: dict[str, list[Any]] = {}
    rows: int | None = None
    for name, values in value.items():
        vals = values if isinstance(values, list) else [values]
        if rows is not None and len(vals) != rows:
            raise RequestError(
                f"{kind}: column {name!r} has {len(vals)} values; others have {rows}"
            )
        rows = len(vals)
        columns[name] = vals
    return Batch(columns=list(columns), rows=rows or 0, data=columns)


def mlflow_answer(predictions: np.ndarray, outputs: Outputs) -> dict[str, Any]:
    """The ``/invocations`` answer: ``predictions`` shaped as ``mlflow models serve`` shapes
    them (a list of records when the model names its output columns, else a list of values or
    of rows), and ``output_names``, one per column (MLflow's scoring protocol allows keys next to
    ``predictions``)."""
    out = outputs.conform(predictions)
    width = 1 if out.ndim < 2 else out.shape[1]
    names = outputs.names_for(width)
    if outputs.columns_named and out.ndim == 2 and width == len(names):
        rows = out.tolist()
        return {"predictions": [dict(zip(names, r, strict=True)) for r in rows]}
    return {"predictions": out, "output_names": names}


def encode_mlflow(predictions: np.ndarray, outputs: Outputs) -> bytes:
    return orjson.dumps(mlflow_answer(predictions, outputs), option=_DUMP)


# -- Open Inference Protocol v2 ------------------------------------------------------------------


def decode_v2(body: bytes, columns: Sequence[str]) -> tuple[Batch, str | None]:
    """An inference request as a batch, and its ``id`` if it has one."""
    doc = parse_json(body)
    if not isinstance(doc, dict) or not isinstance(doc.get("inputs"), list) or not doc["inputs"]:
        raise RequestError(
            'An inference request is {"inputs": [{"name", "shape", "datatype", "data"}, ...]}'
        )
    request_id = doc.get("id")
    tensors = doc["inputs"]
    for t in tensors:
        if (
            not isinstance(t, dict)
            or not isinstance(t.get("name"), str)
            or not isinstance(t.get("data"), list)
            or not isinstance(t.get("shape"), list)
        ):
            raise RequestError("Each input tensor needs a name, a shape (list) and data (list)")
        if not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in t["shape"]):
            raise RequestError(
                f"Input {t['name']!r}: shape must be a list of non-negative integers"
            )
        datatype = t.get("datatype")
        if not isinstance(datatype, str) or (
            datatype not in _NUMERIC_DATATYPES and datatype != "BYTES"
        ):
            raise RequestError(f"Input {t['name']!r}: unknown datatype {datatype!r}")
    rid = request_id if isinstance(request_id, str) else None
    if len(tensors) == 1 and len(tensors[0]["shape"]) == 2 and tensors[0]["name"] not in columns:
        t = tensors[0]
        count, width = t["shape"]
        if width != len(columns):
            raise RequestError(
                f"Input {t['name']!r} has {width} columns; the model takes {len(columns)} "
                f"({', '.join(columns)})"
            )
        return _tensor_matrix(t, count, width, list(columns)), rid
    data: dict[str, Any] = {}
    rows: int | None = None
    for t in tensors:
        shape = t["shape"]
        n = shape[0] if shape else 1
        if any(d != 1 for d in shape[1:]):
            raise RequestError(
                f"Input {t['name']!r} must have shape [rows] or [rows, 1]; got {shape}"
            )
        values = t["data"]
        if values and isinstance(values[0], list):
            values = [v[0] if isinstance(v, list) and len(v) == 1 else v for v in values]
        if len(values) != n:
            raise RequestError(
                f"Input {t['name']!r}: shape {shape} needs {n} values; data has {len(values)}"
            )
        if rows is not None and n != rows:
            raise RequestError(f"Input {t['name']!r} has {n} rows; others have {rows}")
        if t["name"] in data:
            raise RequestError(f"Input {t['name']!r} is given twice")
        rows = n
        if t["datatype"] != "BYTES":
            try:
                data[t["name"]] = np.array(values, dtype=np.float64)
                continue
            except (TypeError, ValueError):
                pass
        data[t["name"]] = values
    return Batch(columns=list(data), rows=rows or 0, data=data), rid


def _tensor_matrix(t: dict[str, Any], rows: int, width: int, columns: list[str]) -> Batch:
    try:
        matrix = np.array(t["data"], dtype=np.float64)
    except (TypeError, ValueError):
        raise RequestError(f"Input {t['name']!r} must hold numbers ({t['datatype']})") from None
    if matrix.size != rows * width:
        raise RequestError(
            f"Input {t['name']!r}: shape [{rows}, {width}] needs {rows * width} values; "
            f"data has {matrix.size}"
        )
    return Batch(columns=columns, rows=rows, matrix=matrix.reshape(rows, width))


def _tensor(name: str, values: np.ndarray) -> dict[str, Any]:
    out = np.ascontiguousarray(values)
    datatype = _DATATYPES.get(out.dtype)
    data: Any = out.reshape(-1)
    if datatype is None:
        datatype = datatype_of(out.dtype)
        if datatype == "BYTES":
            data = [str(v) for v in out.reshape(-1).tolist()]
        else:
            data = out.reshape(-1).tolist()
    return {"name": name, "shape": list(out.shape), "datatype": datatype, "data": data}


def encode_v2(
    predictions: np.ndarray, model: str, version: int, request_id: str, outputs: Outputs
) -> bytes:
    """An inference response whose tensors are those of the model's metadata: one per output
    column the model names, else one ``predict`` tensor (``[n]``, or ``[n, k]`` whose columns
    are named in its ``parameters.output_names``)."""
    out = outputs.conform(predictions)
    width = 1 if out.ndim < 2 else out.shape[1]
    names = outputs.names_for(width)
    if outputs.columns_named and out.ndim == 2 and width == len(names):
        tensors = [_tensor(n, _typed(out[:, j], outputs.datatype)) for j, n in enumerate(names)]
    else:
        tensor = _tensor(TENSOR, out)
        if width > 1:
            tensor["parameters"] = {"output_names": names}
        tensors = [tensor]
    return orjson.dumps(
        {
            "model_name": model,
            "model_version": str(version),
            "id": request_id,
            "parameters": {},
            "outputs": tensors,
        },
        option=_DUMP,
    )


def _typed(column: np.ndarray, datatype: str) -> np.ndarray:
    """One column of an object array (a DataFrame's answer) with its declared type."""
    if column.dtype != object or datatype == "BYTES":
        return column
    try:
        return column.astype(NUMPY_TYPES.get(datatype, object))
    except (TypeError, ValueError):
        return column
