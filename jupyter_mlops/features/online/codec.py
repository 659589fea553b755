"""How online stores turn entity keys, feature rows and event times into bytes, and back.

Both backends store the same encodings, so they behave the same:

- An **entity key** is the tuple of its join-key values, in the entity's join-key order, encoded as
  a compact JSON array: ``(42,)`` -> ``[42]``, ``("eu", 7)`` -> ``["eu",7]``. NumPy scalars become
  Python values first, so ``numpy.int64(42)`` and ``42`` are the same key; ``42`` and ``"42"`` are
  not (a key's type is part of it). A missing (null) join-key value is an error.
- A **feature row** is the list of its values in the view version's feature order, serialized
  with :mod:`marshal` (format 4). marshal keeps ``int``, ``float``, ``bool``, ``str`` and ``None``
  apart, so types round trip. A timestamp is stored as a 1-tuple of its ISO 8601 text and comes
  back as a :class:`datetime.datetime`, naive or aware as it was written. Every missing value
  (``None``, ``NaN``, ``pd.NA``, ``NaT``) is stored as ``None`` and read back as ``None``.

  Why marshal: measured on 1,000 rows of 10 floats, it decodes in 0.6 ms and encodes in 0.4 ms,
  against 2.6-8.5 ms and 12 ms for JSON, and takes 95 bytes a row against 205. The costs: only
  Python reads the rows, and the store must be trusted like any database the server reads
  (marshal is not meant for hostile input).
- An **event time** is an integer of microseconds since the Unix epoch, UTC. Time zones: aware
  timestamps are converted to UTC; naive ones are taken to be UTC already; one batch mixing the two
  is an error.
"""

from __future__ import annotations

import json
import marshal
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from jupyter_mlops.errors import InvalidInput

_VIEW_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ENCODER = json.JSONEncoder(separators=(",", ":"))
_quote = json.encoder.encode_basestring_ascii
# marshal's format 4 has been stable since Python 3.4 and every later Python reads it.
_MARSHAL_VERSION = 4
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def check_target(view: str, version: int) -> None:
    """Refuse a view name or version that could not be a feature view's.

    Names are checked because they become parts of storage keys: a name with ``:`` or ``*`` could
    reach into another view's keys.
    """
    if not isinstance(view, str) or not _VIEW_NAME.match(view):
        raise InvalidInput(
            f"Feature view name {view!r} is not valid.",
            hint="Use letters, digits and underscores, starting with a letter or underscore.",
            field="view",
        )
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise InvalidInput(
            f"Feature view version {version!r} is not valid.",
            hint="Versions are whole numbers starting at 1.",
            field="version",
        )


# -- entity keys ----------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """A NumPy or pandas scalar as the Python value JSON can hold."""
    item = getattr(value, "item", None)
    return item() if callable(item) else value


def encode_key(key: Any) -> str:
    """The storage form of one entity key (a tuple of join-key values, or one bare value)."""
    kind = type(key)
    if kind is int:
        return f"[{key}]"
    if kind is str:
        return f"[{_quote(key)}]"
    parts = key if kind is tuple else (key,)
    return "[" + ",".join([_key_text(p) for p in parts]) + "]"


def _key_text(part: Any) -> str:
    # Exactly what json.dumps writes for the value, without building an encoder per call.
    kind = type(part)
    if kind is int:
        return str(part)
    if kind is str:
        return _quote(part)
    return _ENCODER.encode(_key_part(part))


def _key_part(part: Any) -> Any:
    part = _plain(part)
    if part is None or (isinstance(part, float) and math.isnan(part)) or part is pd.NaT:
        raise InvalidInput(
            "An entity key has a missing (null) join-key value.",
            hint="Drop or fill rows whose join keys are null before writing or reading them.",
            field="keys",
        )
    if isinstance(part, (str, int, float)):
        return part
    raise InvalidInput(
        f"Join-key value {part!r} of type {type(part).__name__} is not supported.",
        hint="Join keys are strings, integers or floats.",
        field="keys",
    )


def encode_keys(keys: Any) -> list[str]:
    """The storage forms of many entity keys.

    ``keys`` is one of: a sequence of tuples (one value per join key), a sequence of bare values
    (a view with one join key), a pandas DataFrame or a pyarrow Table whose columns are the join
    keys, or a mapping of join-key name to a column of values. Columns are taken in their given
    order, which must be the entity's join-key order.
    """
    columns = _key_columns(keys)
    if columns is None:
        return [encode_key(k) for k in keys]
    if not columns:
        raise InvalidInput("The entity keys have no join-key columns.", field="keys")
    if len(columns) == 1:
        return [encode_key(v) for v in columns[0]]
    return [encode_key(tuple(row)) for row in zip(*columns, strict=True)]


def _key_columns(keys: Any) -> list[list[Any]] | None:
    if isinstance(keys, pd.DataFrame):
        return [_pandas_column(keys[name]) for name in keys.columns]
    if _is_arrow_table(keys):
        return [keys.column(name).to_pylist() for name in keys.column_names]
    if isinstance(keys, Mapping):
        return [list(column) for column in keys.values()]
    if isinstance(keys, (str, bytes)) or not isinstance(keys, Iterable):
        raise InvalidInput(
            f"Entity keys must be a list of key tuples or a table of join-key columns, "
            f"not {type(keys).__name__}.",
            field="keys",
        )
    return None


def _is_arrow_table(obj: Any) -> bool:
    # Duck-typed, so pyarrow is never imported here.
    return hasattr(obj, "column_names") and hasattr(obj, "to_pylist") and hasattr(obj, "column")


def _pandas_column(series: Any) -> list[Any]:
    values: list[Any] = series.tolist()
    if series.hasnans:
        mask = series.isna().tolist()
        return [None if missing else v for v, missing in zip(values, mask, strict=True)]
    return values


# -- feature rows ---------------------------------------------------------------------------------


def feature_columns(values: Any) -> tuple[list[str], list[list[Any]]]:
    """The feature names and their values as Python lists (missing values as ``None``)."""
    if isinstance(values, pd.DataFrame):
        names = [str(n) for n in values.columns]
        columns = [_feature_column(name, values[name]) for name in values.columns]
    elif _is_arrow_table(values):
        names = list(values.column_names)
        columns = [
            _clean_column(name, _nan_to_none(values.column(name).to_pylist())) for name in names
        ]
    else:
        raise InvalidInput(
            f"Feature values must be a pandas DataFrame or a pyarrow Table, "
            f"not {type(values).__name__}.",
            field="values",
        )
    if len(set(names)) != len(names):
        dupes = sorted({n for n in names if names.count(n) > 1})
        raise InvalidInput(f"Feature columns repeat: {', '.join(dupes)}.", field="values")
    if not names:
        raise InvalidInput("The feature values have no columns.", field="values")
    return names, columns


def _feature_column(name: Any, series: Any) -> list[Any]:
    kind = series.dtype.kind
    if kind == "m":
        raise InvalidInput(
            f"Feature column '{name}' holds time differences, which online stores do not hold.",
            hint="Store them as a number of seconds (float64) or as an int64.",
            field=str(name),
        )
    values = _pandas_column(series)
    if kind == "M" or isinstance(series.dtype, pd.DatetimeTZDtype):
        return [None if v is None else _time_value(v) for v in values]
    if kind in "iufb" and isinstance(series.dtype, np.dtype):
        return values  # NumPy's tolist() gives Python ints, floats and bools
    return _clean_column(str(name), values)


def _nan_to_none(values: list[Any]) -> list[Any]:
    return [None if v != v else v for v in values]  # only NaN is unequal to itself


def _time_value(value: Any) -> tuple[str]:
    text: str = value.isoformat(timespec="microseconds")
    return (text,)


def _row_value(value: Any) -> Any:
    """A value as one of the few types a stored row holds (or TypeError)."""
    if isinstance(value, datetime):
        return _time_value(value)
    plain = _plain(value)
    for kind in (bool, str, int, float):  # bool first: it is an int too
        if isinstance(plain, kind):
            return kind(plain)
    raise TypeError(type(value).__name__)


_PLAIN = frozenset((str, int, float, bool, type(None)))


def _clean_column(name: str, values: list[Any]) -> list[Any]:
    """Values of a column of any type, checked: timestamps tagged, anything else refused."""
    if set(map(type, values)) <= _PLAIN:
        return values
    clean = []
    for value in values:
        try:
            clean.append(value if type(value) in _PLAIN else _row_value(value))
        except TypeError:
            raise InvalidInput(
                f"Feature column '{name}' holds {value!r} of type {type(value).__name__}, "
                "which online stores do not hold.",
                hint="Online features are int, float, bool, str or timestamp values.",
                field=name,
            ) from None
    return clean


def encode_rows(columns: Sequence[list[Any]]) -> list[bytes]:
    """One stored row per entity: its values in the order of ``columns``, marshalled."""
    dumps = marshal.dumps
    return [dumps(row, _MARSHAL_VERSION) for row in map(list, zip(*columns, strict=True))]


def decode_row(blob: bytes) -> list[Any]:
    """One stored row, with timestamps restored."""
    row: list[Any] = marshal.loads(blob)
    for i, value in enumerate(row):
        if type(value) is tuple:
            row[i] = datetime.fromisoformat(value[0])
    return row


def decode_column(column: Sequence[Any]) -> list[Any]:
    """One feature's values from many decoded rows, with timestamps restored."""
    if tuple in set(map(type, column)):
        return [datetime.fromisoformat(v[0]) if type(v) is tuple else v for v in column]
    return list(column)


def encode_names(names: Sequence[str]) -> str:
    """The stored form of a view version's feature names (compared byte for byte)."""
    return _ENCODER.encode(list(names))


def decode_names(text: str | bytes) -> list[str]:
    names: list[str] = json.loads(text)
    return names


# -- event times ----------------------------------------------------------------------------------


def event_times_us(event_time: Any, count: int) -> list[int]:
    """Microseconds since the epoch (UTC) per row; one timestamp applies to every row."""
    if isinstance(event_time, (datetime, pd.Timestamp, np.datetime64, str)):
        return [timestamp_us(event_time)] * count
    if hasattr(event_time, "to_pandas"):  # a pyarrow Array or ChunkedArray
        event_time = event_time.to_pandas()
    try:
        index = pd.DatetimeIndex(event_time)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(
            f"Event times cannot be read as timestamps ({exc}).",
            hint="Pass datetimes, all naive (taken as UTC) or all time-zone aware.",
            field="event_time",
        ) from None
    if len(index) != count:
        raise InvalidInput(
            f"There are {len(index)} event times for {count} rows.",
            hint="Pass one event time per row, or one for all rows.",
            field="event_time",
        )
    if index.hasnans:
        raise InvalidInput("An event time is missing (NaT).", field="event_time")
    index = index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")
    micros: list[int] = index.as_unit("us").asi8.tolist()
    return micros


def timestamp_us(value: Any) -> int:
    """One timestamp as microseconds since the epoch, UTC (naive is taken as UTC)."""
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"{value!r} is not a timestamp ({exc}).", field="event_time") from None
    if stamp is pd.NaT:
        raise InvalidInput("The timestamp is missing (NaT).", field="event_time")
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    # Through microseconds: nanoseconds (Timestamp.value) overflow after the year 2262.
    return int(stamp.as_unit("us").asm8.astype("datetime64[us]").astype("int64"))


def us_to_datetime(micros: int) -> datetime:
    """The UTC-aware datetime of microseconds since the epoch."""
    return EPOCH + timedelta(microseconds=micros)
