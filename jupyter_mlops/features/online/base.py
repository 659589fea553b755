"""The online store interface: latest feature values per entity key, for serving.

An online store holds, for each feature view version and entity key, the feature values with the
newest event time. Materialization writes to it; the model server reads from it at inference time.
Backends (:class:`~jupyter_mlops.features.online.sqlite.SqliteOnlineStore`,
:class:`~jupyter_mlops.features.online.redis.RedisOnlineStore`) implement a handful of storage
primitives; everything users see (input checks, encodings, newest-wins, errors) lives here, so
the backends behave the same.

Rules every backend keeps:

- **Newest wins.** A write keeps, per entity key, the row with the newest event time; a row older
  than the stored one is ignored (equal times: the later write wins). Writing the same batch twice,
  or batches out of order, gives the same result, which is what incremental materialization needs.
- **A version's features are fixed.** The first write of a ``(view, version)`` records its feature
  names; later writes must bring the same set (in any column order). A new feature set is a new
  version.
- **Types round trip**: see :mod:`jupyter_mlops.features.online.codec`.

Example:
    >>> store = SqliteOnlineStore(ws.state_dir / "online.db")               # doctest: +SKIP
    >>> store.write("customer_stats", 1, [(1001,), (1002,)], frame,       # doctest: +SKIP
    ...             event_time=frame_times)
    >>> store.read_one("customer_stats", 1, ["avg_spend"], 1001)            # doctest: +SKIP
    {'avg_spend': 42.5}
"""

from __future__ import annotations

import difflib
import gc
import marshal
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence, Sized
from contextlib import contextmanager
from datetime import datetime
from types import TracebackType
from typing import Any, ClassVar, Self

from jupyter_mlops.errors import InvalidInput, NotFound
from jupyter_mlops.features.online import codec

# Reads of at least this many keys pause the garbage collector (see _collector_paused).
_PAUSE_GC_FROM = 64


@contextmanager
def _collector_paused(keys: int) -> Iterator[None]:
    """Pause Python's cyclic garbage collector during a read of many keys.

    A 1,000-key read allocates about 2,000 short-lived containers (a row tuple from the driver
    and a decoded list per key). With the collector on, they set off about two young
    collections per read, and the ones alive at that moment are promoted, which every few
    dozen reads makes a full collection of the whole heap land inside a read: measured here,
    that was the 1,000-key p99 (tens of ms, against ~3 ms for the read). Paused, the
    temporaries are freed by reference counting before the collector runs again, so the read
    sets off no collection at all. The switch is process-wide, like every ``gc`` switch, for the
    few milliseconds of the read; a collector that was already off stays off.
    """
    if keys < _PAUSE_GC_FROM or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


class _Schema:
    """A view version's feature names and where each sits in a stored row."""

    __slots__ = ("names", "positions")

    def __init__(self, names: list[str]) -> None:
        self.names = names
        self.positions = {name: i for i, name in enumerate(names)}

    def select(
        self, view: str, version: int, feature_names: Sequence[str] | None
    ) -> list[tuple[str, int]]:
        positions = self.positions
        if feature_names is None:
            return list(positions.items())
        if isinstance(feature_names, str):
            raise InvalidInput(
                f"Feature names must be a list of names, not the string {feature_names!r}.",
                hint=f"Pass [{feature_names!r}].",
                field="feature_names",
            )
        try:
            return [(name, positions[name]) for name in feature_names]
        except KeyError:
            pass
        unknown = [n for n in feature_names if n not in positions]
        close = sorted({c for n in unknown for c in difflib.get_close_matches(n, self.names)})
        hint = f"Did you mean {', '.join(close)}? " if close else ""
        raise InvalidInput(
            f"Feature view {view!r} v{version} has no feature {', '.join(map(repr, unknown))}.",
            hint=f"{hint}Its features: {', '.join(self.names)}.",
            field="feature_names",
        )


class OnlineStore(ABC):
    """Latest feature values per (view, version, entity key), read by key at inference time.

    Entity keys are tuples of join-key values in the entity's join-key order; a view with one
    join key also takes bare values (``1001`` is ``(1001,)``). See
    :func:`~jupyter_mlops.features.online.codec.encode_keys` for the accepted shapes.

    Stores are thread-safe and hold connections: :meth:`close` them (or use ``with``).
    """

    #: The name used for this backend in ``mlops.toml``.
    backend: ClassVar[str]

    def __init__(self) -> None:
        self._schemas: dict[str | bytes, _Schema] = {}

    # -- the interface ----------------------------------------------------------------------------

    def write(self, view: str, version: int, keys: Any, values: Any, event_time: Any) -> int:
        """Store feature rows, keeping per entity key only the row with the newest event time.

        Args:
            view: the feature view's name.
            version: the view's version (1, 2, ...).
            keys: one entity key per row: a list of tuples (or of bare values for one join key),
                or a DataFrame / pyarrow Table / mapping of join-key columns, in join-key order.
            values: a pandas DataFrame (or pyarrow Table) with one column per feature.
            event_time: one timestamp per row (list, Series, array), or one for all rows. Naive
                timestamps are taken as UTC.

        Returns:
            How many entity keys took a new value (rows older than the stored one do not count).

        Raises:
            InvalidInput: a bad name, a row count mismatch, a value type online stores do not
                hold, or a feature set different from the one this version already has.
        """
        codec.check_target(view, version)
        names, columns = codec.feature_columns(values)
        encoded = codec.encode_keys(keys)
        count = len(encoded)
        if len(columns[0]) != count:
            raise InvalidInput(
                f"There are {count} entity keys for {len(columns[0])} rows of feature values.",
                field="keys",
            )
        times = codec.event_times_us(event_time, count)
        stored = self._stored_features(view, version)
        if stored is not None:
            stored_names = self._schema(stored).names
            if set(stored_names) != set(names):
                raise schema_conflict(view, version, stored_names, names)
            if stored_names != names:
                by_name = dict(zip(names, columns, strict=True))
                names, columns = stored_names, [by_name[n] for n in stored_names]
        rows = codec.encode_rows(columns)
        return self._write(view, version, codec.encode_names(names), encoded, times, rows)

    def read(
        self,
        view: str,
        version: int,
        feature_names: Sequence[str] | None,
        keys: Any,
        *,
        event_time_column: str | None = None,
    ) -> dict[str, list[Any]]:
        """Feature values of many entities in one call.

        Args:
            view: the feature view's name.
            version: the view's version.
            feature_names: the features to return, or ``None`` for all of them.
            keys: the entity keys, in any shape :meth:`write` takes.
            event_time_column: also return each row's event time (UTC) under this name, e.g.
                to drop values older than the view's TTL.

        Returns:
            One list per feature, aligned with ``keys``; ``None`` where a key has no row.

        Raises:
            NotFound: this view version has nothing in the online store.
            InvalidInput: an unknown feature name (the message lists close and valid names).

        Example:
            >>> store.read("customer_stats", 1, ["avg_spend"], [1001, 1002, 9999])  # doctest: +SKIP
            {'avg_spend': [42.5, 17.0, None]}
        """
        codec.check_target(view, version)
        with _collector_paused(len(keys) if isinstance(keys, Sized) else _PAUSE_GC_FROM):
            encoded = codec.encode_keys(keys)
            with_times = event_time_column is not None
            features, texts, times = self._read_many(view, version, encoded, with_times)
            schema = self._found_schema(view, version, features)
            selected = schema.select(view, version, feature_names)
            result: dict[str, list[Any]]
            if texts:
                loads = marshal.loads
                missing = [None] * len(schema.names)
                rows = [missing if t is None else loads(t) for t in texts]
                columns = list(zip(*rows, strict=True))
                del rows
                result = {name: codec.decode_column(columns[i]) for name, i in selected}
            else:
                result = {name: [] for name, _ in selected}
            if event_time_column is not None:
                _check_time_column(event_time_column, result)
                to_datetime = codec.us_to_datetime
                result[event_time_column] = [None if t is None else to_datetime(t) for t in times]
        return result

    def read_one(
        self,
        view: str,
        version: int,
        feature_names: Sequence[str] | None,
        key: Any,
        *,
        event_time_column: str | None = None,
    ) -> dict[str, Any] | None:
        """Feature values of one entity: ``{feature: value}``, or ``None`` if it has no row.

        The fastest path for a model server answering one request. ``event_time_column`` is as
        for :meth:`read`.

        Raises:
            NotFound: this view version has nothing in the online store.
            InvalidInput: an unknown feature name.

        Example:
            >>> store.read_one("customer_stats", 1, ["avg_spend", "orders"], 1001)  # doctest: +SKIP
            {'avg_spend': 42.5, 'orders': 7}
        """
        codec.check_target(view, version)
        with_time = event_time_column is not None
        features, text, micros = self._read_one(view, version, codec.encode_key(key), with_time)
        selected = self._found_schema(view, version, features).select(view, version, feature_names)
        if text is None:
            return None
        row = codec.decode_row(text)
        result = {name: row[i] for name, i in selected}
        if event_time_column is not None:
            _check_time_column(event_time_column, result)
            result[event_time_column] = None if micros is None else codec.us_to_datetime(micros)
        return result

    def features(self, view: str, version: int) -> list[str] | None:
        """The feature names this view version holds, or ``None`` if it has never been written."""
        codec.check_target(view, version)
        stored = self._stored_features(view, version)
        return None if stored is None else list(self._schema(stored).names)

    def watermark(self, view: str, version: int) -> datetime | None:
        """Up to when this view version has been materialized (UTC), or ``None`` if never."""
        codec.check_target(view, version)
        micros = self._get_watermark(view, version)
        return None if micros is None else codec.us_to_datetime(micros)

    def set_watermark(self, view: str, version: int, end: datetime) -> datetime:
        """Record that this view version is materialized up to ``end`` (naive = UTC).

        The watermark only moves forward: an ``end`` before the stored one leaves it as it is.
        Set it after the rows up to ``end`` are written; if a run dies in between, the next one
        starts from the old watermark and rewrites rows, which newest-wins makes harmless.

        Returns:
            The watermark now stored.
        """
        codec.check_target(view, version)
        return codec.us_to_datetime(self._set_watermark(view, version, codec.timestamp_us(end)))

    def delete_view(self, view: str, version: int) -> None:
        """Remove this view version's rows, features and watermark. Deleting nothing is fine."""
        codec.check_target(view, version)
        self._delete(view, version)

    @abstractmethod
    def close(self) -> None:
        """Release connections. Closing twice is harmless."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- what a backend implements ----------------------------------------------------------------

    @abstractmethod
    def _stored_features(self, view: str, version: int) -> str | bytes | None:
        """The stored feature names of this version (``codec.encode_names``), or None."""

    @abstractmethod
    def _write(
        self,
        view: str,
        version: int,
        features: str,
        keys: list[str],
        times: list[int],
        rows: list[bytes],
    ) -> int:
        """Atomically record ``features`` (or check they equal the stored ones, else raise
        :func:`schema_conflict`) and upsert the rows newest-wins; return how many took effect."""

    @abstractmethod
    def _read_many(
        self, view: str, version: int, keys: list[str], with_times: bool
    ) -> tuple[str | bytes | None, list[bytes | None], list[int | None]]:
        """The stored feature names, one stored row (or None) per key, and when ``with_times``
        one event time (or None) per key (else an empty list)."""

    @abstractmethod
    def _read_one(
        self, view: str, version: int, key: str, with_time: bool
    ) -> tuple[str | bytes | None, bytes | None, int | None]:
        """The stored feature names, the key's stored row (or None) and, when ``with_time``, its
        event time (else None)."""

    @abstractmethod
    def _get_watermark(self, view: str, version: int) -> int | None: ...

    @abstractmethod
    def _set_watermark(self, view: str, version: int, micros: int) -> int:
        """Store ``max(stored, micros)`` and return it."""

    @abstractmethod
    def _delete(self, view: str, version: int) -> None: ...

    # -- helpers ----------------------------------------------------------------------------------

    def _schema(self, features: str | bytes) -> _Schema:
        schema = self._schemas.get(features)
        if schema is None:
            if len(self._schemas) > 4096:
                self._schemas.clear()
            schema = self._schemas[features] = _Schema(codec.decode_names(features))
        return schema

    def _found_schema(self, view: str, version: int, features: str | bytes | None) -> _Schema:
        if features is None:
            raise NotFound(
                f"Feature view {view!r} v{version} has nothing in the online store.",
                hint=f"Materialize it first (`features materialize {view}`).",
                field="view",
            )
        return self._schema(features)


def _check_time_column(name: str, result: dict[str, Any]) -> None:
    if name in result:
        raise InvalidInput(
            f"event_time_column {name!r} is also a feature name.",
            hint="Name the event-time column differently.",
            field="event_time_column",
        )


def schema_conflict(
    view: str, version: int, stored: Sequence[str], given: Sequence[str]
) -> InvalidInput:
    extra = sorted(set(given) - set(stored))
    lacking = sorted(set(stored) - set(given))
    parts = []
    if extra:
        parts.append(f"new: {', '.join(extra)}")
    if lacking:
        parts.append(f"missing: {', '.join(lacking)}")
    return InvalidInput(
        f"Feature view {view!r} v{version} holds features {', '.join(stored)} in the online "
        f"store; these values differ ({'; '.join(parts)}).",
        hint="Write the same features the version has; a new feature set is a new version.",
        field="values",
    )
