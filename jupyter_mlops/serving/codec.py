"""Request and response bodies of the two protocols the server speaks.

- MLflow's scoring protocol (``POST /invocations``): ``dataframe_split``, ``dataframe_records``,
  ``instances`` or ``inputs``; answers ``{"predictions": ...}``.
- The Open Inference Protocol v2 (KServe, Triton, MLServer): named tensors with ``shape``,
  ``datatype`` and flat ``data``. One tensor per input column, or one ``[rows, columns]`` tensor
  whose columns are the model's inputs in signature order.

Bodies are parsed with orjson; numbers become one float64 matrix with a single numpy call when the
rows allow it, so no pandas object is built on the hot path.

What a body may hold (anything else is a 400 naming it):

- a request id (OIP ``id``) is 1 to :data:`MAX_ID_LENGTH` visible ASCII characters (``!`` to
  ``~``): it is echoed in the ``x-request-id`` header and written to the prediction log;
- a JSON integer fits in 64 bits (-2**63 to 2**64 - 1, what INT64 and UINT64 hold); a larger number
  is written with a fraction or an exponent;
- an OIP tensor's data agree with its datatype (BOOL: true/false; INT/UINT: integers in the
  type's range; FP: numbers, null for a value to look up; BYTES: strings) and are flat or nested
  as its shape.

Cells of the MLflow formats are kept as sent when they are not all numbers: the model's signature
judges them (:meth:`LoadedVersion.prepare`), so a list is refused for a ``double`` and kept for
an ``array`` column.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import orjson

from jupyter_mlops.serving.errors import RequestError
from jupyter_mlops.serving.model import Batch, describe_value
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


#: The longest request id; ids are echoed in a header and logged, so they are kept short.
MAX_ID_LENGTH = 128
_INT_RANGE = (-(2**63), 2**64 - 1)  # what orjson keeps as an int; beyond, it makes a float
# Every digit to "0", every other byte to " ": a run of 19 zeros is where an integer may not fit
# in 64 bits (one C pass; shortest-form floats never have 19 digits in a row).
_DIGITS = bytes(48 if 48 <= b <= 57 else 32 for b in range(256))
_LONG_RUN = b"0" * 19


def parse_json(body: bytes) -> Any:
    """The body as JSON; a 400 for invalid JSON or an integer beyond 64 bits (orjson would make it
    a float silently, and MLflow refuses it: see the module doc)."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise RequestError(f"The body is not valid JSON: {exc}") from None
    if _LONG_RUN in body.translate(_DIGITS):
        try:
            json.loads(body, parse_int=_int64)  # exact integers, only for these rare bodies
        except RecursionError:
            raise RequestError("The body is nested too deeply") from None
    return doc


def _int64(text: str) -> int:
    value = int(text)
    if not _INT_RANGE[0] <= value <= _INT_RANGE[1]:
        raise RequestError(
            f"The body has the integer {text[:40]}{'...' if len(text) > 40 else ''}, beyond 64 "
            "bits (-2**63 to 2**64 - 1); send a number that fits, or write it with an exponent "
            "(e.g. 1.5e21) if a float is meant"
        )
    return value


def request_id(value: Any, where: str) -> str | None:
    """A client's request id as given (None when absent), or a 400 naming ``where`` it came from.

    The id is echoed in the ``x-request-id`` answer header and logged, so it must be 1 to
    :data:`MAX_ID_LENGTH` visible ASCII characters: a CR/LF would split the header, a non-ASCII
    character cannot be encoded in it (the answer would be lost after the log said 200).

    Example:
        >>> request_id("req-42", "id")
        'req-42'
    """
    if value is None:
        return None
    if not isinstance(value, str):
        raise RequestError(f"{where} must be a string; got {describe_value(value)}")
    if not value or len(value) > MAX_ID_LENGTH or not (value.isascii() and value.isprintable()):
        shown = value[:40] + ("..." if len(value) > 40 else "")
        raise RequestError(
            f"{where} must be 1 to {MAX_ID_LENGTH} visible ASCII characters (letters, digits, "
            f"punctuation; no spaces, control characters or non-ASCII); got {shown!r} "
            f"({len(value)} characters)"
        )
    if " " in value:
        raise RequestError(f"{where} must not contain spaces; got {value!r}")
    return value


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
        return _rows(value["data"], names, kind, body)
    if kind == "dataframe_records":
        return _records(value, kind)
    # instances / inputs: records, rows, one column, or (inputs) named columns
    if isinstance(value, dict):
        return _named_columns(value, kind)
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return _records(value, kind)
    if isinstance(value, list) and value and not isinstance(value[0], list):
        value = [[v] for v in value]
    return _rows(value, list(columns), kind, body)


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


def _rows(data: Any, names: list[str], kind: str, body: bytes) -> Batch:
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
    matrix = _numbers_only(data, 2, body) if data and width else None
    if matrix is None:  # not all numbers: the signature judges each column
        columns = {n: [row[j] for row in data] for j, n in enumerate(names)}
        return Batch(columns=names, rows=len(data), data=columns)
    return Batch(columns=names, rows=len(data), matrix=matrix)


def _numbers_only(values: list[Any], ndim: int, body: bytes) -> np.ndarray | None:
    """``values`` (``ndim`` levels of lists) as float64 if they are all JSON numbers, else None
    (a boolean, string, null, list or object among them, or rows of uneven length)."""
    try:
        array = np.array(values)
    except (TypeError, ValueError):  # ragged: a list among the numbers
        return None
    if array.ndim != ndim or array.dtype.kind not in "iuf":
        return None  # nested lists, or strings, nulls, objects, only booleans
    if _may_hide_booleans(array, body) and bool in set(map(type, _flat(values, ndim))):
        return None
    return array.astype(np.float64, copy=False)


def _may_hide_booleans(array: np.ndarray, body: bytes) -> bool:
    """NumPy turns true and false among numbers into 1.0 and 0.0: only then, and if the body
    has those words at all, are the values looked at one by one."""
    return bool(((array == 0) | (array == 1)).any()) and (b"true" in body or b"false" in body)


def _flat(values: list[Any], ndim: int) -> Any:
    for _ in range(ndim - 1):
        values = itertools.chain.from_iterable(values)  # type: ignore[assignment]
    return values


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
    rid = request_id(doc.get("id"), "The request's id")
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
    if len(tensors) == 1 and len(tensors[0]["shape"]) == 2 and tensors[0]["name"] not in columns:
        t = tensors[0]
        count, width = t["shape"]
        if width != len(columns):
            raise RequestError(
                f"Input {t['name']!r} has {width} columns; the model takes {len(columns)} "
                f"({', '.join(columns)})"
            )
        matrix = _tensor_data(t, (count, width), body)
        if isinstance(matrix, list):
            raise RequestError(f"Input {t['name']!r} must hold numbers, not {t['datatype']}")
        return Batch(columns=list(columns), rows=count, matrix=matrix), rid
    data: dict[str, Any] = {}
    rows: int | None = None
    for t in tensors:
        shape = t["shape"]
        n = shape[0] if shape else 1
        if any(d != 1 for d in shape[1:]):
            raise RequestError(
                f"Input {t['name']!r} must have shape [rows] or [rows, 1]; got {shape}"
            )
        if rows is not None and n != rows:
            raise RequestError(f"Input {t['name']!r} has {n} rows; others have {rows}")
        if t["name"] in data:
            raise RequestError(f"Input {t['name']!r} is given twice")
        rows = n
        data[t["name"]] = _tensor_data(t, (n,), body)
    return Batch(columns=list(data), rows=rows or 0, data=data), rid


#: The integers each OIP integer datatype holds.
_INT_LIMITS = {
    f"{kind}{bits}": (0, 2**bits - 1)
    if kind == "UINT"
    else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    for kind in ("INT", "UINT")
    for bits in (8, 16, 32, 64)
}


def _tensor_data(t: dict[str, Any], shape: tuple[int, ...], body: bytes) -> Any:
    """Tensor ``t``'s data as an array of ``shape``: float64 for numbers (NaN for a null, a value
    to look up), bool for BOOL, a list of strings for BYTES; a 400 naming the tensor when the data
    disagree with its datatype, or are neither flat nor nested as its shape (a ``[rows]``
    tensor's data may also be nested as ``[rows, 1]``: ``[[1], [2]]``)."""
    name, datatype, values = t["name"], t["datatype"], t["data"]
    size = math.prod(shape)
    try:
        array = np.array(values)
    except (TypeError, ValueError):
        raise RequestError(
            f"Input {name!r}: data is nested unevenly; send {size} values, flat or nested as "
            f"the shape {list(t['shape'])}"
        ) from None
    given = tuple(t["shape"])
    nestings = (given, (*given, 1)) if len(given) == 1 else (given,)
    if array.ndim > 1 and array.shape not in nestings:
        raise RequestError(
            f"Input {name!r}: data nested as {list(array.shape)} does not match the shape "
            f"{list(t['shape'])}; send {size} values, flat or nested as the shape"
        )
    if array.size != size:
        raise RequestError(
            f"Input {name!r}: shape {list(t['shape'])} needs {size} values; data has {array.size}"
        )
    if not size:  # no values: nothing to check, and NumPy makes [] a float array
        return (
            []
            if datatype == "BYTES"
            else np.zeros(shape, dtype=np.bool_ if datatype == "BOOL" else np.float64)
        )

    def first(ok: Any) -> str:
        bad = [v for v in _flat(values, array.ndim) if not ok(v)][:1]
        return describe_value(bad[0]) if bad else f"values NumPy reads as {array.dtype}"

    if datatype == "BYTES":
        flat = list(_flat(values, array.ndim))
        if not {str, type(None)}.issuperset(map(type, flat)):
            bad = first(lambda v: v is None or isinstance(v, str))
            raise RequestError(f"Input {name!r} is BYTES: its data must be strings; it has {bad}")
        return flat
    if datatype == "BOOL":
        if array.dtype != np.bool_:
            bad = first(lambda v: isinstance(v, bool))
            raise RequestError(
                f"Input {name!r} is BOOL: its data must be true or false; it has {bad}"
            )
        return array.reshape(shape)
    if array.dtype.kind == "O":  # nulls among the numbers (or something worse)
        flat = list(_flat(values, array.ndim))
        if not {int, float, type(None)}.issuperset(map(type, flat)):
            bad = first(lambda v: v is None or type(v) in (int, float))
            raise RequestError(
                f"Input {name!r} is {datatype}: its data must be numbers; it has {bad}"
            )
        array = np.array([math.nan if v is None else v for v in flat], dtype=np.float64)
    elif array.dtype.kind not in "iuf" or (
        _may_hide_booleans(array, body) and bool in set(map(type, _flat(values, array.ndim)))
    ):
        bad = first(lambda v: type(v) in (int, float))
        raise RequestError(f"Input {name!r} is {datatype}: its data must be numbers; it has {bad}")
    array = array.astype(np.float64, copy=False)
    limits = _INT_LIMITS.get(datatype)
    if limits is not None:
        known = array[~np.isnan(array)]
        wrong = (known != np.floor(known)) | (known < limits[0]) | (known > limits[1])
        if wrong.any():
            raise RequestError(
                f"Input {name!r} is {datatype}: its data must be integers from {limits[0]} to "
                f"{limits[1]}; it has {float(known[wrong][0])!r}"
            )
    return array.reshape(shape)


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
