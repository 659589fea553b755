"""Prediction records as a typed table: one row per predicted row.

A logged record (see ``ModelServer._record``) holds one request; its table has one row per row
of the request (a request without rows, e.g. a 400 before decoding, gives one row with null
inputs). Columns, in order:

``request_id`` string, ``row`` int32 (index within the request), ``time`` timestamp[us, UTC],
``model`` string, ``version`` int64 (null when no model was chosen), ``protocol`` string,
``status`` int16, ``latency_ms`` float64, ``rows`` int32 (the request's row count), ``error``
string; for a deployment running an A/B experiment ``variant`` string, ``experiment_id``
string, ``sticky_key`` string (the key the request was assigned by; null when assigned at
random) and ``shadow`` bool (a shadow version's copy of the request, under the same request id:
leave these rows out when counting what clients were answered), written for segments with such
requests and read as nulls for the others and for logs older than experiments; then
``input.<name>`` per model input, ``key.<name>`` per entity key, and ``output`` (one value per
row) or ``output.<j>`` (``k`` values per row).

Input columns are typed from the served versions' MLflow signatures (:class:`LogSchema`):
double -> float64, float -> float32, long -> int64, integer -> int32, boolean -> bool, string
(and binary, datetime, as logged) -> string. Versions that differ take the union of columns; a
column two versions type differently gets the wider type (int32 + int64 -> int64, any two
numbers -> float64, anything else -> string). Numeric outputs are float64 (a signature's output
type describes ``predict``, not always the function served), string outputs string. A column no
signature describes (entity keys, models without one) is typed from the first values seen, and
the type is kept in ``schema.json`` so later files agree. A value that does not fit its column's
type is stored as null and counted, never raised.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]

SCHEMA_FILE = "schema.json"
INPUT = "input."
KEY = "key."
OUTPUT = "output"

_MLFLOW_TYPES = {
    "double": "float64",
    "float": "float32",
    "long": "int64",
    "integer": "int32",
    "boolean": "bool",
    "string": "string",
    "binary": "string",
    "datetime": "string",
}
_NUMERIC_OUTPUT = {"double", "float", "long", "integer", "float64", "float32", "int64", "int32"}
_INTS = {"int32", "int64"}
_NUMBERS = {"int32", "int64", "float32", "float64"}
# The Python types pyarrow takes as-is for a column type (it would truncate 1.5 into an int
# column and take 1.5 as true: other values go through _fit).
_EXACT: dict[str, type | tuple[type, ...]] = {
    "int32": int,
    "int64": int,
    "bool": bool,
    "float32": (int, float),
    "float64": (int, float),
    "string": str,
}

BASE_SCHEMA = pa.schema(
    [
        ("request_id", pa.string()),
        ("row", pa.int32()),
        ("time", pa.timestamp("us", tz="UTC")),
        ("model", pa.string()),
        ("version", pa.int64()),
        ("protocol", pa.string()),
        ("status", pa.int16()),
        ("latency_ms", pa.float64()),
        ("rows", pa.int32()),
        ("error", pa.string()),
    ]
)
#: Columns of the requests of an A/B experiment. Written only for segments that have such
#: requests; a reader gives them (as nulls) for every log, also one older than experiments.
ROUTING_SCHEMA = pa.schema(
    [
        ("variant", pa.string()),
        ("experiment_id", pa.string()),
        ("sticky_key", pa.string()),
        ("shadow", pa.bool_()),
    ]
)
ROUTING_COLUMNS: tuple[str, ...] = tuple(ROUTING_SCHEMA.names)


def wider(a: str, b: str) -> str:
    """The type that holds values of both column types."""
    if a == b:
        return a
    if {a, b} <= _INTS:
        return "int64"
    if {a, b} <= _NUMBERS | {"bool"}:
        return "float64"
    return "string"


@dataclass
class LogSchema:
    """The column types of one deployment's log (type names: float64, int32, bool, string...).

    ``columns`` maps a column name (``input.x``, ``key.k``, ``output``, ``output.0``) to its type.
    """

    columns: dict[str, str] = field(default_factory=dict)

    def merge(self, other: LogSchema) -> bool:
        """Add the other schema's columns (widening types that differ); True if this changed."""
        changed = False
        for name, kind in other.columns.items():
            mine = self.columns.get(name)
            new = kind if mine is None else wider(mine, kind)
            if new != mine:
                self.columns[name] = new
                changed = True
        return changed

    def arrow(self, name: str) -> pa.DataType | None:
        kind = self.columns.get(name)
        return pa.type_for_alias(kind) if kind else None

    def to_json(self) -> dict[str, Any]:
        return {"columns": self.columns}

    @classmethod
    def from_json(cls, value: Any) -> LogSchema:
        columns = value.get("columns") if isinstance(value, dict) else None
        if not isinstance(columns, dict):
            return cls()
        known = {"float64", "float32", "int64", "int32", "bool", "string"}
        return cls({str(k): str(v) for k, v in columns.items() if v in known})


def schema_from_signature(inputs: Sequence[dict[str, Any]], outputs: Sequence[Any]) -> LogSchema:
    """The log columns of one model version, from its MLflow signature (as ``to_dict``/JSON)."""
    schema = LogSchema()
    for spec in inputs:
        name = spec.get("name")
        if name is None:
            continue
        kind = _MLFLOW_TYPES.get(str(spec.get("type")), "string")
        schema.merge(LogSchema({f"{INPUT}{name}": kind}))
    for spec in outputs:
        if not isinstance(spec, dict):
            continue
        kind = str(spec.get("type"))
        if kind == "tensor":
            kind = str((spec.get("tensor-spec") or {}).get("dtype", ""))
        if kind in _NUMERIC_OUTPUT:
            schema.columns.setdefault(OUTPUT, "float64")
        elif kind in {"string", "str", "object", "binary"}:
            schema.columns[OUTPUT] = "string"
    return schema


def schema_from_model(model_folder: Path) -> LogSchema:
    """The log columns of the MLflow model in ``model_folder`` (its ``MLmodel`` signature).

    Reads the YAML, not the model: the compactor runs in the supervisor, which loads no model.
    """
    import yaml  # type: ignore[import-untyped, unused-ignore]

    try:
        meta = yaml.safe_load((model_folder / "MLmodel").read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return LogSchema()
    signature = meta.get("signature") if isinstance(meta, dict) else None
    if not isinstance(signature, dict):
        return LogSchema()

    def part(key: str) -> list[Any]:
        try:
            value = json.loads(signature.get(key) or "[]")
        except (TypeError, ValueError):
            return []
        return value if isinstance(value, list) else []

    return schema_from_signature(part("inputs"), part("outputs"))


def read_schema(folder: Path) -> LogSchema:
    """The column types kept in a log folder (empty when there are none)."""
    try:
        return LogSchema.from_json(json.loads((folder / SCHEMA_FILE).read_bytes()))
    except (OSError, ValueError):
        return LogSchema()


def update_schema(folder: Path, schema: LogSchema) -> LogSchema:
    """Merge ``schema`` into the folder's ``schema.json`` (atomically); the merged schema."""
    import fcntl

    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".schema.lock", "a+b") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        current = read_schema(folder)
        if current.merge(schema) or not (folder / SCHEMA_FILE).exists():
            tmp = folder / f".{SCHEMA_FILE}.{os.getpid()}.tmp"
            tmp.write_text(json.dumps(current.to_json(), indent=1), encoding="utf-8")
            os.replace(tmp, folder / SCHEMA_FILE)
    return current


# -- records -> table -------------------------------------------------------------------------


@dataclass
class Conversion:
    """What converting records to a table could not keep."""

    nulled: int = 0  # values that did not fit their column's type
    nulled_columns: dict[str, int] = field(default_factory=dict)
    inferred: LogSchema = field(default_factory=LogSchema)  # types first seen in these records

    def null(self, column: str, count: int) -> None:
        if count:
            self.nulled += count
            self.nulled_columns[column] = self.nulled_columns.get(column, 0) + count


def _rows_of(data: Any) -> tuple[list[str], Any, int] | None:
    """(columns, row-major data or column dict, row count) of a record's ``inputs``."""
    if not isinstance(data, dict):
        return None
    if "columns" in data and "data" in data:
        columns, rows = data["columns"], data["data"]
        if isinstance(columns, list) and isinstance(rows, list):
            return [str(c) for c in columns], rows, len(rows)
        return None
    lengths = [len(v) for v in data.values() if isinstance(v, list)]
    if not lengths:
        return None
    return [str(c) for c in data], data, max(lengths)


def _infer(values: Any) -> str:
    if isinstance(values, np.ndarray):
        return "float64"
    kinds = {type(v) for v in values if v is not None}
    if not kinds:
        return ""
    if kinds <= {bool}:
        return "bool"
    if kinds <= {int}:
        return "int64"
    if kinds <= {int, float}:
        return "float64"
    return "string"


def _from_floats(values: np.ndarray, kind: str) -> tuple[pa.Array, int]:
    """A float64 array as ``kind``, values that do not fit nulled."""
    if kind == "float64":
        return pa.array(values, type=pa.float64()), 0
    if kind == "float32":
        return pa.array(values.astype(np.float32), type=pa.float32()), 0
    if kind in _INTS:
        limit = 2.0**31 if kind == "int32" else 2.0**63
        with np.errstate(invalid="ignore"):
            ok = np.isfinite(values) & (values == np.floor(values)) & (np.abs(values) < limit)
        ints = np.where(ok, values, 0).astype(np.int64 if kind == "int64" else np.int32)
        return pa.array(ints, mask=~ok), int((~ok).sum())
    if kind == "bool":
        ok = (values == 0) | (values == 1)
        return pa.array(values == 1, mask=~ok), int((~ok).sum())
    # string: a number kept as its text
    return pa.array([repr(float(v)) for v in values], type=pa.string()), 0


def _fit(value: Any, kind: str) -> Any:
    """One value as ``kind``, or raise ValueError/TypeError."""
    if value is None:
        return None
    if kind == "string":
        return value if isinstance(value, str) else json.dumps(value)
    if kind == "bool":
        if isinstance(value, bool) or value in (0, 1):
            return bool(value)
        raise ValueError(value)
    if isinstance(value, (bool, str)) or not isinstance(value, (int, float)):
        raise TypeError(value)
    if kind in _INTS:
        if isinstance(value, float) and not value.is_integer():
            raise ValueError(value)
        return int(value)
    return float(value)


def to_arrow(values: Any, kind: str) -> tuple[pa.Array, int]:
    """Values (a float64 array or a list) as an Arrow array of ``kind``; (array, nulled)."""
    typ = pa.type_for_alias(kind)
    if isinstance(values, np.ndarray):
        return _from_floats(values, kind)
    exact = _EXACT[kind]
    try:
        if any(
            v is not None and (not isinstance(v, exact) or (kind != "bool" and isinstance(v, bool)))
            for v in values
        ):
            raise TypeError("values of another type")
        return pa.array(values, type=typ), 0
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError):
        pass
    kept: list[Any] = []
    bad = 0
    for v in values:
        try:
            kept.append(_fit(v, kind))
        except (TypeError, ValueError, OverflowError):
            kept.append(None)
            bad += 1
    try:
        return pa.array(kept, type=typ), bad
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):  # out of range for the type
        return pa.nulls(len(kept), typ), len(kept)


class _Columns:
    """Per column, the chunks of values of the records that have it, at their row offsets."""

    def __init__(self) -> None:
        self.chunks: dict[str, list[tuple[int, Any]]] = {}

    def add(self, name: str, offset: int, values: Any) -> None:
        self.chunks.setdefault(name, []).append((offset, values))


def _numeric_rows(rows: list[Any], width: int) -> np.ndarray | None:
    """Row-major data as a float64 matrix when every value is a number (the common case)."""
    try:
        matrix = np.asarray(rows, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    if matrix.ndim != 2 or matrix.shape[1] != width:
        return None
    return matrix


def _add_inputs(cols: _Columns, offset: int, inputs: Any, n: int) -> None:
    shaped = _rows_of(inputs)
    if shaped is None:
        return
    columns, data, _ = shaped
    if isinstance(data, dict):
        for c in columns:
            values = data[c]
            if isinstance(values, list) and len(values) == n:
                cols.add(f"{INPUT}{c}", offset, values)
        return
    matrix = _numeric_rows(data, len(columns)) if data else None
    if matrix is not None:
        for j, c in enumerate(columns):
            cols.add(f"{INPUT}{c}", offset, matrix[:, j])
        return
    width = len(columns)
    if not all(isinstance(r, list) and len(r) == width for r in data):
        return
    for j, c in enumerate(columns):
        cols.add(f"{INPUT}{c}", offset, [r[j] for r in data])


def _add_outputs(cols: _Columns, offset: int, outputs: Any, n: int) -> None:
    if not isinstance(outputs, list) or len(outputs) != n or n == 0:
        return
    if isinstance(outputs[0], list):
        width = len(outputs[0])
        matrix = _numeric_rows(outputs, width)
        if matrix is not None:
            for j in range(width):
                cols.add(f"{OUTPUT}.{j}", offset, matrix[:, j])
            return
        if all(isinstance(r, list) and len(r) == width for r in outputs):
            for j in range(width):
                cols.add(f"{OUTPUT}.{j}", offset, [r[j] for r in outputs])
        return
    try:
        cols.add(OUTPUT, offset, np.asarray(outputs, dtype=np.float64))
    except (TypeError, ValueError):
        cols.add(OUTPUT, offset, outputs)


def _row_count(record: dict[str, Any]) -> int:
    shaped = _rows_of(record.get("inputs"))
    if shaped is not None and shaped[2] > 0:
        return int(shaped[2])
    outputs = record.get("outputs")
    if isinstance(outputs, list) and outputs:
        return len(outputs)
    return 1


def _scalar(value: Any, kind: type) -> Any:
    return value if isinstance(value, kind) and not isinstance(value, bool) else None


def column_order(names: Iterable[str], schema: LogSchema) -> list[str]:
    """Inputs (signature order first), keys, then outputs."""
    known = [c for c in schema.columns if c in set(names)]
    rest = [c for c in names if c not in schema.columns]
    ordered = known + rest

    def rank(c: str) -> tuple[int, int]:
        if c.startswith(INPUT):
            group = 0
        elif c.startswith(KEY):
            group = 1
        else:
            group = 2
        index = int(c[len(OUTPUT) + 1 :]) if c.startswith(f"{OUTPUT}.") and c[7:].isdigit() else 0
        return group, index

    return sorted(ordered, key=rank)


def records_to_table(
    records: Sequence[dict[str, Any]], schema: LogSchema | None = None
) -> tuple[pa.Table, Conversion]:
    """One row per predicted row of ``records``, typed by ``schema`` (see the module doc).

    Records without an ``id`` string or a numeric ``time`` are skipped (callers count them as
    damaged before); values that do not fit are nulled and counted in the returned
    :class:`Conversion`.
    """
    schema = schema or LogSchema()
    report = Conversion()
    ids: list[str] = []
    times: list[float] = []
    models: list[str | None] = []
    versions: list[int | None] = []
    protocols: list[str | None] = []
    statuses: list[int] = []
    latencies: list[float] = []
    rows: list[int] = []
    errors: list[str | None] = []
    variants: list[str | None] = []
    experiments: list[str | None] = []
    sticky: list[str | None] = []
    shadows: list[bool | None] = []
    counts: list[int] = []
    cols = _Columns()
    offset = 0
    for r in records:
        rid, t = r.get("id"), r.get("time")
        if not isinstance(rid, str) or not isinstance(t, (int, float)) or isinstance(t, bool):
            continue
        n = _row_count(r)
        ids.append(rid)
        times.append(float(t))
        models.append(_scalar(r.get("model"), str))
        versions.append(_scalar(r.get("version"), int))
        protocols.append(_scalar(r.get("protocol"), str))
        status = _scalar(r.get("status"), int)
        statuses.append(status if status is not None and 0 <= status < 1000 else 0)
        latency = r.get("latency_ms")
        latencies.append(float(latency) if isinstance(latency, (int, float)) else float("nan"))
        declared = _scalar(r.get("rows"), int)
        rows.append(declared if declared is not None and 0 <= declared < 2**31 else n)
        errors.append(_scalar(r.get("error"), str))
        variants.append(_scalar(r.get("variant"), str))
        experiments.append(_scalar(r.get("experiment_id"), str))
        sticky.append(_scalar(r.get("sticky_key"), str))
        shadow = r.get("shadow")
        shadows.append(shadow if isinstance(shadow, bool) else None)
        counts.append(n)
        if "inputs" in r:
            _add_inputs(cols, offset, r["inputs"], n)
        keys = r.get("keys")
        if isinstance(keys, dict):
            for k, values in keys.items():
                if isinstance(values, list) and len(values) == n:
                    cols.add(f"{KEY}{k}", offset, values)
        if "outputs" in r:
            _add_outputs(cols, offset, r["outputs"], n)
        offset += n
    total = offset
    repeat = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    starts = np.cumsum([0, *counts[:-1]]) if counts else np.zeros(0, np.int64)
    row_index = (np.arange(total, dtype=np.int64) - np.repeat(starts, counts)).astype(np.int32)
    micros = (np.asarray(times, dtype=np.float64) * 1e6).round().astype(np.int64)
    base: dict[str, pa.Array] = {
        "request_id": pa.array(ids, type=pa.string()).take(repeat),
        "row": pa.array(row_index, type=pa.int32()),
        "time": pa.array(micros, type=pa.timestamp("us", tz="UTC")).take(repeat),
        "model": pa.array(models, type=pa.string()).take(repeat),
        "version": pa.array(versions, type=pa.int64()).take(repeat),
        "protocol": pa.array(protocols, type=pa.string()).take(repeat),
        "status": pa.array(statuses, type=pa.int16()).take(repeat),
        "latency_ms": pa.array(latencies, type=pa.float64()).take(repeat),
        "rows": pa.array(rows, type=pa.int32()).take(repeat),
        "error": pa.array(errors, type=pa.string()).take(repeat),
    }
    if any(v is not None for v in (*variants, *experiments, *shadows)):
        base["variant"] = pa.array(variants, type=pa.string()).take(repeat)
        base["experiment_id"] = pa.array(experiments, type=pa.string()).take(repeat)
        base["sticky_key"] = pa.array(sticky, type=pa.string()).take(repeat)
        base["shadow"] = pa.array(shadows, type=pa.bool_()).take(repeat)
    arrays = dict(base)
    for name in column_order(cols.chunks, schema):
        chunks = cols.chunks[name]
        kind = schema.columns.get(name) or next(
            (k for k in (_infer(v) for _, v in chunks) if k), "string"
        )
        if name not in schema.columns:
            report.inferred.columns[name] = kind
        typ = pa.type_for_alias(kind)
        parts: list[pa.Array] = []
        at = 0
        for start, values in chunks:
            if start > at:
                parts.append(pa.nulls(start - at, typ))
            array, bad = to_arrow(values, kind)
            report.null(name, bad)
            parts.append(array)
            at = start + len(array)
        if total > at:
            parts.append(pa.nulls(total - at, typ))
        arrays[name] = pa.concat_arrays(parts) if parts else pa.nulls(total, typ)
    return pa.table(arrays), report


def empty_table(schema: LogSchema | None = None) -> pa.Table:
    """A table with no rows and the columns of ``schema``."""
    fields = [*BASE_SCHEMA, *ROUTING_SCHEMA]
    schema = schema or LogSchema()
    for name in column_order(schema.columns, schema):
        fields.append(pa.field(name, pa.type_for_alias(schema.columns[name])))
    return pa.schema(fields).empty_table()


def fsync_dir(folder: Path) -> None:
    """Make a rename or unlink in ``folder`` durable."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
