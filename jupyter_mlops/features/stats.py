"""Size, freshness and per-feature statistics of a view's data, computed by DuckDB in SQL.

Freshness compares the newest event time with the view's TTL: a view whose newest row is older
than its TTL (or that has no row at all) is *stale*. A view without a TTL is never stale once it
has rows. Naive event times are taken as UTC when their age is computed.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from jupyter_mlops.features.offline import OfflineStore, duckdb_errors, quote
from jupyter_mlops.features.schemas import FeatureStats, ViewStats

if TYPE_CHECKING:
    import duckdb

    from jupyter_mlops.features.schemas import ViewVersion

TOP_VALUES = 5
_NUMERIC = {"int64", "float64", "bool"}


def view_stats(
    offline: OfflineStore, view: ViewVersion, *, now: datetime | None = None
) -> ViewStats:
    """Row count, first and last event time, freshness and per-feature statistics of ``view``.

    Args:
        offline: the store that reads the view's rows.
        view: the view version whose fields are described.
        now: the time freshness is measured against (default: the current time, UTC).
    """
    now = now or datetime.now(UTC)
    con = offline.connect()
    try:
        return _stats(offline, con, view, now)
    finally:
        con.close()


def _stats(
    offline: OfflineStore, con: duckdb.DuckDBPyConnection, view: ViewVersion, now: datetime
) -> ViewStats:
    definition = view.definition
    ttl = definition.ttl
    ttl_seconds = ttl.total_seconds() if ttl is not None else None
    sql = offline.view_sql(view, con)
    if sql is None:
        return ViewStats(
            name=view.name,
            version=view.version,
            row_count=0,
            first_event=None,
            last_event=None,
            age_seconds=None,
            ttl_seconds=ttl_seconds,
            stale=True,
            features=[
                FeatureStats(name=f.name, dtype=f.dtype, null_rate=None)
                for f in definition.features
            ],
        )
    ts = quote(definition.timestamp_field)
    parts = ["count(*)", f"min({ts})", f"max({ts})"]
    for f in definition.features:
        col = quote(f.name)
        parts.append(f"count({col})")
        if f.dtype in _NUMERIC:
            num = f"{col}::DOUBLE"
            parts += [f"min({num})", f"max({num})", f"avg({num})", f"stddev_samp({num})"]
        elif f.dtype == "timestamp":
            parts += [f"min({col})::VARCHAR", f"max({col})::VARCHAR"]
    with duckdb_errors(f"Statistics of {view.label} failed"):
        con.execute(f"CREATE TEMP VIEW rows AS {sql}")
        row = list(con.execute(f"SELECT {', '.join(parts)} FROM rows").fetchall()[0])
        tops: dict[str, list[tuple[str, int]]] = {}
        for f in definition.features:
            if f.dtype == "string":
                col = quote(f.name)
                found = con.execute(
                    f"SELECT {col}, count(*) AS n FROM rows WHERE {col} IS NOT NULL "
                    f"GROUP BY {col} ORDER BY n DESC, {col} LIMIT {TOP_VALUES}"
                ).fetchall()
                tops[f.name] = [(str(v), int(n)) for v, n in found]
    count, first, last = int(row[0]), _utc(row[1]), _utc(row[2])
    values = row[3:]
    features: list[FeatureStats] = []
    for f in definition.features:
        non_null = int(values.pop(0))
        stats = FeatureStats(
            name=f.name, dtype=f.dtype, null_rate=(1 - non_null / count) if count else None
        )
        if f.dtype in _NUMERIC:
            stats.min, stats.max, stats.mean, stats.std = (_finite(values.pop(0)) for _ in range(4))
        elif f.dtype == "timestamp":
            stats.min, stats.max = values.pop(0), values.pop(0)
        elif f.dtype == "string":
            stats.top_values = tops[f.name]
        features.append(stats)
    age = (now - last).total_seconds() if last is not None else None
    stale = age is None or (ttl_seconds is not None and age > ttl_seconds)
    return ViewStats(
        name=view.name,
        version=view.version,
        row_count=count,
        first_event=first,
        last_event=last,
        age_seconds=age,
        ttl_seconds=ttl_seconds,
        stale=stale,
        features=features,
    )


def _utc(value: Any) -> datetime | None:
    if isinstance(value, date) and not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if not isinstance(value, datetime):
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _finite(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None
