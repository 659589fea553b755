"""The prediction log as data: compaction to Parquet, retention, and window reads with DuckDB.

A deployment's log folder ``.mlops/predictions/<deployment>/`` holds:

- ``*.jsonl.open`` / ``*.jsonl``: the segments replicas append to (:mod:`.predlog`);
- ``<first>_<last>_<segment>.parquet``: a closed segment compacted (see :mod:`.logtable` for the
  columns), its rows sorted by time; ``first`` and ``last`` are its first and last record times
  (``20260131T120000123456Z``, UTC), so a window picks its files by name without opening others;
- ``schema.json``: the column types (from the served versions' signatures, and types first seen);
- ``log.sqlite``: ``requests`` (request id -> time, rows, Parquet file), written by the compactor,
  and the ``feedback`` of :mod:`.feedback`;
- ``retention.jsonl``: one line per Parquet file retention dropped.

Compaction (:func:`compact`) runs in the deployment's supervisor every ``compact_seconds`` and
can be called by a reader. Each closed segment becomes one Parquet file: written to a temporary
name, fsynced, renamed, its requests indexed, and only then the segment deleted. A compactor
killed at any point loses nothing and duplicates nothing: the Parquet file is named after its
segment, so a re-run that finds both deletes the segment (after indexing it again), and readers
ignore a segment whose Parquet file exists.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
import sqlite3
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]

from jupyter_mlops.errors import InvalidInput
from jupyter_mlops.serving.logtable import (
    BASE_SCHEMA,
    ROUTING_COLUMNS,
    LogSchema,
    column_order,
    empty_table,
    fsync_dir,
    read_schema,
    records_to_table,
    update_schema,
)
from jupyter_mlops.serving.predlog import (
    DONE_SUFFIX,
    OPEN_SUFFIX,
    ReadReport,
    is_segment,
    parse_segment,
    read_segment,
    segment_paths,
)

if TYPE_CHECKING:
    import duckdb

logger = logging.getLogger(__name__)

INDEX_FILE = "log.sqlite"
RETENTION_FILE = "retention.jsonl"
DAMAGED_SUFFIX = ".jsonl.damaged"
_STAMP = "%Y%m%dT%H%M%S"
# A logged record from its id up to its row count (orjson writes the keys in this order, and an
# unescaped '"rows":' cannot occur inside a JSON string before it).
_RECORD_HEAD = re.compile(rb'\{"id":("(?:[^"\\\n]|\\.)*"),[^\n]*?"rows":(\d+)')
_PARQUET = re.compile(r"^(\d{8}T\d{12}Z)_(\d{8}T\d{12}Z)_(.+)\.parquet$")


# -- files ----------------------------------------------------------------------------------------


def _stamp(micros: int) -> str:
    moment = datetime.fromtimestamp(micros // 1_000_000, UTC)
    return f"{moment.strftime(_STAMP)}{micros % 1_000_000:06d}Z"


def _unstamp(text: str) -> int:
    moment = datetime.strptime(text[:15], _STAMP).replace(tzinfo=UTC)
    return int(moment.timestamp()) * 1_000_000 + int(text[15:21])


@dataclass(frozen=True)
class CompactedFile:
    """A Parquet file of the log: its path, first and last record time (us since the epoch)."""

    path: Path
    first: int
    last: int
    segment: str  # the stem of the segment it was compacted from

    @property
    def bytes(self) -> int:
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0


def compacted_files(folder: Path) -> list[CompactedFile]:
    """The folder's Parquet files, oldest (by last record) first."""
    if not folder.is_dir():
        return []
    out = []
    for path in folder.glob("*.parquet"):
        match = _PARQUET.match(path.name)
        if match:
            first, last = _unstamp(match.group(1)), _unstamp(match.group(2))
            out.append(CompactedFile(path, first, last, match.group(3)))
    return sorted(out, key=lambda f: (f.last, f.first, f.path.name))


def _stem(segment: Path) -> str:
    name = segment.name
    for suffix in (OPEN_SUFFIX, DONE_SUFFIX):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def pending_segments(folder: Path) -> list[Path]:
    """Segments whose records are not (yet) in a Parquet file: closed and open."""
    done = {f.segment for f in compacted_files(folder)}
    return [p for p in segment_paths(folder) if _stem(p) not in done]


# -- the request index ----------------------------------------------------------------------------


def open_index(folder: Path) -> sqlite3.Connection:
    """The folder's SQLite file (request index and feedback), WAL, shared by processes."""
    folder.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(folder / INDEX_FILE, timeout=30, isolation_level=None)
    con.execute("PRAGMA busy_timeout = 30000")
    con.execute("PRAGMA journal_mode = WAL")
    con.execute("PRAGMA synchronous = NORMAL")
    con.executescript(
        """
        CREATE TABLE IF NOT EXISTS requests (
            request_id TEXT PRIMARY KEY, time REAL NOT NULL, rows INTEGER NOT NULL,
            file TEXT NOT NULL
        ) WITHOUT ROWID;
        CREATE INDEX IF NOT EXISTS requests_by_file ON requests(file);
        CREATE TABLE IF NOT EXISTS feedback (
            request_id TEXT NOT NULL, row INTEGER NOT NULL, label TEXT, value REAL,
            received REAL NOT NULL, PRIMARY KEY (request_id, row)
        ) WITHOUT ROWID;
        """
    )
    return con


def _index(con: sqlite3.Connection, table: pa.Table, file: str) -> None:
    if table.num_rows == 0:
        return
    first = table.filter(pa.compute.equal(table["row"], 0))
    ids = first["request_id"].to_pylist()
    times = [t.timestamp() for t in first["time"].to_pylist()]
    rows = first["rows"].to_pylist()
    con.execute("BEGIN IMMEDIATE")
    try:
        con.executemany(
            "INSERT OR IGNORE INTO requests (request_id, time, rows, file) VALUES (?, ?, ?, ?)",
            [(i, t, max(int(r or 1), 1), file) for i, t, r in zip(ids, times, rows, strict=True)],
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def _record_heads(data: bytes) -> Iterator[tuple[bytes, int]]:
    """(JSON-encoded id, row count) of each record of a segment's bytes, without parsing them."""
    at = data.find(b'{"id":')
    while at >= 0:
        if at == 0 or data[at - 1] in (0x0A, 0x00):  # a record starts a line (or follows NULs)
            match = _RECORD_HEAD.match(data, at)
            if match is not None:
                yield match.group(1), max(int(match.group(2)), 1)
        at = data.find(b'{"id":', at + 1)


def _find_head(data: bytes, head: bytes) -> Iterator[tuple[bytes, int]]:
    """The first record of one JSON-encoded id in a segment's bytes (at most one hit)."""
    needle = b'{"id":' + head + b","
    at = data.find(needle)
    while at >= 0:
        if at == 0 or data[at - 1] in (0x0A, 0x00):
            match = _RECORD_HEAD.match(data, at)
            if match is not None:
                yield match.group(1), max(int(match.group(2)), 1)
                return
        at = data.find(needle, at + 1)


_FEW = 16


def find_requests(folder: Path, request_ids: Sequence[str]) -> dict[str, int]:
    """Which of these request ids the log holds (compacted or not), with their row counts.

    Scans the segments not yet compacted first, then asks the index for the rest: a segment
    compacted meanwhile has its requests in the index before it is deleted.
    """
    wanted = list(dict.fromkeys(request_ids))
    found: dict[str, int] = {}
    encoded = {orjson.dumps(rid): rid for rid in wanted}
    for path in pending_segments(folder):
        if len(found) == len(wanted):
            break
        try:
            data = path.read_bytes()
        except OSError:
            continue
        data = data.rstrip(b"\0")  # the unwritten tail of an open segment
        unseen = [head for head, rid in encoded.items() if rid not in found]
        if len(unseen) <= _FEW:  # a few ids: the bytes are searched for each one
            heads: Iterator[tuple[bytes, int]] = (
                hit for head in unseen for hit in _find_head(data, head)
            )
        else:  # many: each record's id is looked at once
            heads = _record_heads(data)
        for head, rows in heads:
            rid = encoded.get(head)
            if rid is not None and rid not in found:
                found[rid] = rows
    missing = [rid for rid in wanted if rid not in found]
    if missing and (folder / INDEX_FILE).exists():
        con = open_index(folder)
        try:
            for i in range(0, len(missing), 500):
                part = missing[i : i + 500]
                marks = ",".join("?" * len(part))
                for rid, rows in con.execute(
                    f"SELECT request_id, rows FROM requests WHERE request_id IN ({marks})", part
                ):
                    found[rid] = int(rows)
        finally:
            con.close()
    return found


# -- compaction -----------------------------------------------------------------------------------


@dataclass
class CompactionReport:
    """What one compaction did."""

    segments: int = 0  # segments compacted (or found compacted and removed)
    files: list[str] = field(default_factory=list)  # Parquet files written
    records: int = 0
    rows: int = 0
    damaged: int = 0  # lines of the segments that were not records
    nulled: int = 0  # values that did not fit their column's type
    nulled_columns: dict[str, int] = field(default_factory=dict)
    set_aside: list[str] = field(default_factory=list)  # segments with no record (.damaged)
    errors: dict[str, str] = field(default_factory=dict)  # segment -> why it was left


@contextlib.contextmanager
def _compaction_lock(folder: Path) -> Iterator[None]:
    with open(folder / ".compact.lock", "a+b") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        yield


def _write_parquet(table: pa.Table, folder: Path, name: str) -> Path:
    import pyarrow.parquet as pq  # type: ignore[import-untyped, unused-ignore]

    final = folder / name
    tmp = folder / f".{name}.{os.getpid()}.tmp"
    try:
        # Floats barely compress and zstd triples their read time: they are stored plain (and
        # dictionary-encoded only when few distinct); everything else zstd.
        floats = [f.name for f in table.schema if pa.types.is_floating(f.type)]
        pq.write_table(
            table,
            tmp,
            compression={f.name: "none" if f.name in floats else "zstd" for f in table.schema},
            use_dictionary=[n for n in table.column_names if n not in floats],
            row_group_size=256 * 1024,
        )
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(folder)
    return final


def compact(folder: Path, *, schema: LogSchema | None = None) -> CompactionReport:
    """Compact the folder's closed segments into Parquet files (one per segment).

    Safe to call while replicas append and while another process compacts (a file lock makes
    them take turns); never raises for a bad segment: what it could not do is in the report.

    Args:
        folder: a deployment's prediction log folder.
        schema: column types to merge into the folder's ``schema.json`` first (the supervisor
            passes the served versions'); the folder's schema is used either way.

    Example:
        >>> report = compact(ws.state_dir / "predictions" / "churn")      # doctest: +SKIP
        >>> report.rows
        120000
    """
    report = CompactionReport()
    if not folder.is_dir():
        return report
    if schema is not None and schema.columns:
        update_schema(folder, schema)
    with _compaction_lock(folder):
        known = read_schema(folder)
        done = {f.segment: f for f in compacted_files(folder)}
        segments = sorted(
            (p for p in folder.glob(f"*{DONE_SUFFIX}") if is_segment(p)), key=lambda p: p.name
        )
        con: sqlite3.Connection | None = None
        try:
            for segment in segments:
                if not segment.is_file():
                    continue
                if con is None:
                    con = open_index(folder)
                try:
                    _compact_one(folder, segment, done.get(_stem(segment)), known, con, report)
                except Exception as exc:  # one bad segment never stops the others
                    logger.exception("Compaction of %s failed", segment)
                    report.errors[segment.name] = f"{type(exc).__name__}: {exc}"
        finally:
            if con is not None:
                con.close()
    return report


def _compact_one(
    folder: Path,
    segment: Path,
    existing: CompactedFile | None,
    known: LogSchema,
    con: sqlite3.Connection,
    report: CompactionReport,
) -> None:
    import pyarrow.parquet as pq  # type: ignore[import-untyped, unused-ignore]

    if existing is not None:
        # A previous run was killed after the rename: index again (idempotent), then delete.
        _index(
            con,
            pq.read_table(existing.path, columns=["request_id", "row", "time", "rows"]),
            existing.path.name,
        )
        segment.unlink(missing_ok=True)
        fsync_dir(folder)
        report.segments += 1
        return
    read = ReadReport()
    records = read_segment(segment, read)
    report.damaged += read.damaged
    if read.unreadable:
        report.errors.update(read.unreadable)
        return
    table, conversion = records_to_table(records, known)
    if conversion.inferred.columns:
        known.merge(update_schema(folder, conversion.inferred))
    report.nulled += conversion.nulled
    for column, count in conversion.nulled_columns.items():
        report.nulled_columns[column] = report.nulled_columns.get(column, 0) + count
    if conversion.nulled:
        logger.warning(
            "Compaction of %s: %s value(s) did not fit their column's type and are null (%s)",
            segment.name,
            conversion.nulled,
            conversion.nulled_columns,
        )
    if table.num_rows == 0:
        aside = segment.with_name(_stem(segment) + DAMAGED_SUFFIX)
        os.replace(segment, aside)
        report.set_aside.append(aside.name)
        logger.warning("Compaction: %s has no record; kept as %s", segment.name, aside.name)
        return
    table = table.take(pa.compute.sort_indices(table, [("time", "ascending")]))
    times = table["time"]
    first = pa.compute.min(times).cast(pa.int64()).as_py()
    last = pa.compute.max(times).cast(pa.int64()).as_py()
    name = f"{_stamp(first)}_{_stamp(last)}_{_stem(segment)}.parquet"
    path = _write_parquet(table, folder, name)
    _index(con, table, path.name)
    segment.unlink()
    fsync_dir(folder)
    report.segments += 1
    report.files.append(path.name)
    report.records += read.records
    report.rows += table.num_rows


# -- retention ------------------------------------------------------------------------------------


@dataclass
class Dropped:
    """One Parquet file retention dropped (a line of ``retention.jsonl``)."""

    file: str
    records: int  # requests
    rows: int  # predicted rows
    bytes: int
    reason: str  # "max_age_days" or "max_size_mb"
    first: str  # first and last record time, ISO 8601
    last: str
    time: str  # when it was dropped


def apply_retention(
    folder: Path,
    *,
    max_age_days: float | None,
    max_size_mb: float | None,
    now: float | None = None,
) -> list[Dropped]:
    """Drop whole Parquet files, oldest first: those whose last record is older than
    ``max_age_days``, then while the folder's log files together exceed ``max_size_mb``.

    Segments not yet compacted count toward the size but are never dropped. Each drop is
    appended to ``retention.jsonl`` (see :func:`read_retention`).
    """
    import pyarrow.parquet as pq  # type: ignore[import-untyped, unused-ignore]

    now = time.time() if now is None else now
    files = compacted_files(folder)
    if not files:
        return []
    sizes = {f.path: f.bytes for f in files}
    total = sum(sizes.values()) + sum(_size(p) for p in pending_segments(folder))
    doomed: list[tuple[CompactedFile, str]] = []
    cutoff = None if max_age_days is None else (now - max_age_days * 86400) * 1e6
    limit = None if max_size_mb is None else max_size_mb * 1024 * 1024
    for f in files:  # oldest first
        if cutoff is not None and f.last < cutoff:
            reason = "max_age_days"
        elif limit is not None and total > limit:
            reason = "max_size_mb"
        else:
            continue
        doomed.append((f, reason))
        total -= sizes[f.path]
    dropped: list[Dropped] = []
    if not doomed:
        return dropped
    con = open_index(folder)
    try:
        with _compaction_lock(folder), open(folder / RETENTION_FILE, "ab") as out:
            for f, reason in doomed:
                try:
                    rows = pq.read_metadata(f.path).num_rows
                except OSError:
                    continue  # gone already
                (records,) = con.execute(
                    "SELECT count(*) FROM requests WHERE file = ?", (f.path.name,)
                ).fetchone()
                f.path.unlink(missing_ok=True)
                drop = Dropped(
                    file=f.path.name,
                    records=int(records),
                    rows=rows,
                    bytes=sizes[f.path],
                    reason=reason,
                    first=_iso(f.first),
                    last=_iso(f.last),
                    time=datetime.fromtimestamp(now, UTC).isoformat(),
                )
                out.write(orjson.dumps(drop.__dict__, option=orjson.OPT_APPEND_NEWLINE))
                out.flush()
                con.execute("DELETE FROM requests WHERE file = ?", (f.path.name,))
                dropped.append(drop)
                logger.info(
                    "Retention dropped %s (%s rows, %s bytes, %s)",
                    f.path.name,
                    rows,
                    drop.bytes,
                    reason,
                )
            fsync_dir(folder)
    finally:
        con.close()
    return dropped


def read_retention(folder: Path) -> list[Dropped]:
    """What retention dropped from this folder, oldest drop first."""
    try:
        data = (folder / RETENTION_FILE).read_bytes()
    except FileNotFoundError:
        return []
    out = []
    for line in data.splitlines():
        with contextlib.suppress(orjson.JSONDecodeError, TypeError):
            value = orjson.loads(line)
            if isinstance(value, dict):
                out.append(Dropped(**value))
    return out


def _size(path: Path) -> int:
    try:
        if path.name.endswith(OPEN_SUFFIX):
            return path.stat().st_blocks * 512  # the mapping is sparse past its records
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _moment(micros: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)


def _iso(micros: int) -> str:
    return datetime.fromtimestamp(micros / 1e6, UTC).isoformat()


# -- reading a window -----------------------------------------------------------------------------

Moment = datetime | float | int | str


def _micros(value: Moment, name: str) -> int:
    if isinstance(value, bool):
        raise InvalidInput(f"{name} must be a time, not {value!r}", field=name)
    if isinstance(value, (int, float)):
        return round(float(value) * 1e6)
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidInput(
                f"{name} {value!r} is not an ISO 8601 time",
                hint="e.g. 2026-01-31T12:00:00Z",
                field=name,
            ) from None
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise InvalidInput(
                f"{name} {value.isoformat()} has no time zone",
                hint="Add one, e.g. 2026-01-31T12:00:00Z.",
                field=name,
            )
        delta = value - datetime(1970, 1, 1, tzinfo=UTC)
        return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds
    raise InvalidInput(f"{name} must be a datetime, epoch seconds or ISO 8601 text", field=name)


@dataclass
class _Window:
    files: list[str]
    pending: pa.Table
    start: int | None
    end: int | None
    report: ReadReport
    schema: LogSchema


def read_pending(folder: Path, report: ReadReport) -> tuple[list[dict[str, Any]], set[str]]:
    """The records of the segments not compacted yet, and the stems of the segments read.

    A reader lists the Parquet files *after* this and skips those of the stems read: a segment
    compacted in between is then read exactly once.
    """
    records: list[dict[str, Any]] = []
    read: set[str] = set()
    for path in pending_segments(folder):
        try:
            data = path.read_bytes()
        except FileNotFoundError:  # compacted (or renamed closed) since the listing
            continue
        except OSError as exc:
            report.unreadable[path.name] = f"{type(exc).__name__}: {exc}"
            continue
        records.extend(parse_segment(data, report))
        read.add(_stem(path))
    return records, read


def _select(folder: Path, start: Moment | None, end: Moment | None, last: int | None) -> _Window:
    import pyarrow.parquet as pq  # type: ignore[import-untyped, unused-ignore]

    if last is not None and (start is not None or end is not None):
        raise InvalidInput("last cannot be combined with start or end", field="last")
    if last is not None and (isinstance(last, bool) or not isinstance(last, int) or last < 1):
        raise InvalidInput(f"last must be a whole number of at least 1, not {last!r}", field="last")
    lo = None if start is None else _micros(start, "start")
    hi = None if end is None else _micros(end, "end")
    if lo is not None and hi is not None and hi < lo:
        raise InvalidInput("end is before start", field="end")
    report = ReadReport()
    # Segments first, then the Parquet files not of a segment read (see read_pending).
    schema = read_schema(folder)
    records, read = read_pending(folder, report)
    pending = records_to_table(records, schema)[0] if records else empty_table(schema)
    files = [f for f in compacted_files(folder) if f.segment not in read]
    if last is not None:
        # Sources newest first (by their last row) until they hold `last` rows; the N-th newest
        # row is then no older than the oldest first row among them, so any file ending before
        # that cannot hold one of the last N.
        sources: list[tuple[int, int, Path | None]] = []  # (last, first, file or pending)
        if pending.num_rows:
            micros = pending["time"].cast(pa.int64())
            sources.append((pa.compute.max(micros).as_py(), pa.compute.min(micros).as_py(), None))
        sources += [(f.last, f.first, f.path) for f in files]
        have = 0
        floor: int | None = None
        for _, begin, path in sorted(sources, key=lambda s: (s[0], s[1]), reverse=True):
            if have >= last:
                break
            try:
                have += pending.num_rows if path is None else pq.read_metadata(path).num_rows
            except OSError:
                continue
            floor = begin if floor is None else min(floor, begin)
        chosen = [f for f in files if floor is None or f.last >= floor]
        return _Window([str(f.path) for f in chosen], pending, None, None, report, schema)
    chosen = [f for f in files if (lo is None or f.last >= lo) and (hi is None or f.first <= hi)]
    return _Window([str(f.path) for f in chosen], pending, lo, hi, report, schema)


def _window_sql(
    con: duckdb.DuckDBPyConnection, window: _Window, columns: Sequence[str] | None
) -> tuple[str, list[str], list[Any]]:
    """The window's rows as SQL (Parquet files and pending segments, filtered on time), the
    columns asked, and the query's parameters."""
    con.register("_pending", window.pending)
    with_pending = bool(window.pending.num_rows) or not window.files
    available = set(window.pending.schema.names) if with_pending else set()
    if window.files:
        described = con.execute(
            "DESCRIBE SELECT * FROM read_parquet(?, union_by_name = true)", [window.files]
        ).fetchall()
        available |= {str(row[0]) for row in described}
    # Files written before experiments were logged lack the routing columns: read as nulls.
    absent = [c for c in ROUTING_COLUMNS if c not in available]
    available |= set(absent)
    if columns is not None:
        unknown = [c for c in columns if c not in available]
        if unknown:
            from jupyter_mlops.errors import did_you_mean

            raise InvalidInput(
                f"No column {', '.join(map(repr, unknown))} in this prediction log",
                hint=did_you_mean(unknown[0], sorted(available), listing="Columns"),
                field="columns",
            )
        names = list(dict.fromkeys(columns))
    else:
        extra = column_order(
            available - set(BASE_SCHEMA.names) - set(ROUTING_COLUMNS), window.schema
        )
        names = [*BASE_SCHEMA.names, *ROUTING_COLUMNS, *extra]
    where: list[str] = []
    bounds: list[Any] = []
    if window.start is not None:
        where.append("time >= ?")
        bounds.append(_moment(window.start))
    if window.end is not None:
        where.append("time <= ?")
        bounds.append(_moment(window.end))
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    parts: list[str] = []
    params: list[Any] = []
    if window.files:
        parts.append(f"SELECT * FROM read_parquet(?, union_by_name = true){clause}")
        params += [window.files, *bounds]
    if with_pending:
        parts.append(f"SELECT * FROM _pending{clause}")
        params += bounds
    rows = " UNION ALL BY NAME ".join(parts)
    if absent:
        nulls = ", ".join(
            f"CAST(NULL AS {'BOOLEAN' if c == 'shadow' else 'VARCHAR'}) AS {_quote(c)}"
            for c in absent
        )
        rows = f"SELECT *, {nulls} FROM ({rows})"
    return rows, names, params


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def read_window(
    folder: Path,
    *,
    start: Moment | None = None,
    end: Moment | None = None,
    last: int | None = None,
    columns: Sequence[str] | None = None,
) -> pa.Table:
    """The predicted rows of a window of the log, oldest first, as an Arrow table.

    Reads only the Parquet files whose time range overlaps the window (DuckDB, filtering on
    ``time``), plus the segments not compacted yet (closed and open); works on a stopped
    deployment and on a folder with only segments. Columns are those of :mod:`.logtable`.

    Args:
        folder: a deployment's prediction log folder.
        start, end: the window ``[start, end]`` (either open): aware datetimes, epoch seconds or
            ISO 8601 text.
        last: instead of a time window, the last ``last`` predicted rows.
        columns: only these columns (``time`` is always used to filter, not returned unless
            asked).

    Raises:
        InvalidInput: a bad window, or a column the log does not have (naming it).

    Example:
        >>> t = read_window(folder, last=10_000, columns=["time", "output.1"])  # doctest: +SKIP
        >>> t.num_rows
        10000
    """
    import duckdb

    window = _select(folder, start, end, last)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    try:
        rows, names, params = _window_sql(con, window, columns)
        extra = [] if "time" in names else ["time"]  # to order by, dropped after
        select = ", ".join(_quote(n) for n in [*names, *extra])
        if last is not None:
            # DuckDB keeps a top-N heap rather than sorting everything.
            query = (
                f"SELECT {select} FROM ({rows}) ORDER BY time DESC, request_id DESC, row DESC "
                f"LIMIT {int(last)}"
            )
        else:
            query = f"SELECT {select} FROM ({rows})"
        table = con.sql(query, params=params).to_arrow_table()
    finally:
        con.close()
    if last is not None:
        table = table.take(pa.array(range(table.num_rows - 1, -1, -1)))
    else:
        table = _in_time_order(table)
    return table.drop_columns(extra) if extra else table


def _in_time_order(table: pa.Table) -> pa.Table:
    """The rows sorted by time, keeping the order of equal times (a request's rows). Files are
    sorted within, so this only sorts when replicas' files overlap in time."""
    import numpy as np

    if table.num_rows < 2:
        return table
    times = table["time"].to_numpy()
    if bool(np.all(times[1:] >= times[:-1])):
        return table
    order = np.argsort(times, kind="stable")
    return table.take(pa.array(order))


def query_window(
    folder: Path,
    sql: str,
    *,
    start: Moment | None = None,
    end: Moment | None = None,
    last: int | None = None,
) -> pa.Table:
    """Run ``sql`` over a window of the log, seen as the table ``predictions``, in DuckDB.

    Nothing goes through pandas and the window is not materialized first: DuckDB scans the
    selected Parquet files itself.

    Example:
        >>> query_window(folder, "SELECT model, version, avg(latency_ms) AS ms "
        ...              "FROM predictions GROUP BY ALL", start="2026-01-31T00:00:00Z")
        ...                                                               # doctest: +SKIP
    """
    import duckdb

    window = _select(folder, start, end, last)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    try:
        inner, _, params = _window_sql(con, window, None)
        if last is not None:
            inner = f"SELECT * FROM ({inner}) ORDER BY time DESC LIMIT {int(last)}"
        relation = con.sql(inner, params=params)
        relation.create_view("predictions")
        try:
            return con.sql(sql).to_arrow_table()
        except duckdb.Error as exc:
            raise InvalidInput(f"The query failed: {exc}", field="sql") from None
    finally:
        con.close()


def compacted_records(folder: Path, skip: set[str] | None = None) -> Iterator[dict[str, Any]]:
    """The compacted requests as logged records (``inputs`` as ``{"columns", "data"}``), oldest
    file first, leaving out the files of the segment stems in ``skip``. For small logs and for
    callers of :func:`.predlog.read_predictions`."""
    import pyarrow.parquet as pq  # type: ignore[import-untyped, unused-ignore]

    for f in compacted_files(folder):
        if skip and f.segment in skip:
            continue
        try:
            table = pq.read_table(f.path)
        except OSError:
            continue
        yield from _records_of(table, folder.name)


def _records_of(table: pa.Table, deployment: str) -> Iterator[dict[str, Any]]:
    names = table.column_names
    inputs = [n for n in names if n.startswith("input.")]
    keys = [n for n in names if n.startswith("key.")]
    outs = sorted(
        (n for n in names if n.startswith("output.") and n[7:].isdigit()), key=lambda n: int(n[7:])
    )
    rows = table.to_pylist()
    # A shadow's copy has the request id of the answer it shadows: kept apart by `shadow`.
    by_id: dict[tuple[str, float, bool], list[dict[str, Any]]] = {}
    for row in rows:
        key = (row["request_id"], row["time"].timestamp(), bool(row.get("shadow")))
        by_id.setdefault(key, []).append(row)
    for (rid, t, _), group in sorted(by_id.items(), key=lambda kv: kv[0][1]):
        group.sort(key=lambda r: r["row"])
        head = group[0]
        record: dict[str, Any] = {
            "id": rid,
            "time": t,
            "deployment": deployment,
            "model": head["model"],
            "version": head["version"],
            "protocol": head["protocol"],
            "status": head["status"],
            "latency_ms": head["latency_ms"],
            "rows": head["rows"],
        }
        for column in ROUTING_COLUMNS:
            if head.get(column) is not None:
                record[column] = head[column]
        present = [c for c in inputs if any(r[c] is not None for r in group)]
        if present:
            record["inputs"] = {
                "columns": [c[6:] for c in present],
                "data": [[r[c] for c in present] for r in group],
            }
        present_keys = [c for c in keys if any(r[c] is not None for r in group)]
        if present_keys:
            record["keys"] = {c[4:]: [r[c] for r in group] for c in present_keys}
        if outs and any(r[outs[0]] is not None for r in group):
            record["outputs"] = [[r[c] for c in outs] for r in group]
        elif "output" in names and any(r["output"] is not None for r in group):
            record["outputs"] = [r["output"] for r in group]
        if head["error"] is not None:
            record["error"] = head["error"]
        yield record
