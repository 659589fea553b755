"""The durable prediction log: one JSON line per request, written by each replica.

Flush policy
------------
Each replica appends to its own segment file, which is memory-mapped: the mapping is the bounded
buffer (``segment_bytes``, 64 MB by default). Appending a record is a memory copy into the mapping
and happens *before* the response is sent, so no system call and no disk wait sit on the
response's path. Because the mapping is a shared file mapping, the bytes belong to the kernel's
page cache the moment they are copied: a replica killed with ``kill -9`` loses nothing it has
acknowledged. A background thread ``msync``s the mapping every ``fsync_interval`` seconds (1 s by
default), which bounds what a crash of the *machine* can lose to that interval. A full segment is
closed (trimmed to its records, ``msync``ed, renamed from ``.jsonl.open`` to ``.jsonl``) and a new
one mapped. A segment is also closed once it is ``segment_seconds`` old, by the background
thread (so the request path only ever checks the free space), so that a quiet log still reaches
the compactor (:mod:`.predictions`). On a clean shutdown the open
segment is closed the same way; after a crash the next replica that starts in the folder closes
the orphan (the bytes after the last record are zeros).

Records never contain a NUL byte (JSON escapes it), so NULs in a segment are never data: the
tail of an open segment, or pages a crashed machine never wrote. A reader skips NUL runs, keeps
every line that parses as a JSON object and counts the others as damaged (:class:`ReadReport`).
"""

from __future__ import annotations

import logging
import mmap
import os
import re
import secrets
import stat
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

logger = logging.getLogger(__name__)

OPEN_SUFFIX = ".jsonl.open"
DONE_SUFFIX = ".jsonl"
DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024
_DUMP = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_APPEND_NEWLINE


class PredictionLog:
    """An append-only log of prediction records in ``folder`` for one replica process."""

    def __init__(
        self,
        folder: Path,
        *,
        segment_bytes: int = DEFAULT_SEGMENT_BYTES,
        fsync_interval: float = 1.0,
        segment_seconds: float | None = None,
    ) -> None:
        """
        Args:
            folder: the deployment's log folder (shared by its replicas).
            segment_bytes: the size of a segment's mapping.
            fsync_interval: seconds between ``msync``s (0: only when a segment closes).
            segment_seconds: close the live segment once it is this old, even if not full
                (None: only when full).
        """
        self.folder = folder
        self.segment_bytes = segment_bytes
        self.fsync_interval = fsync_interval
        self.segment_seconds = segment_seconds if segment_seconds and segment_seconds > 0 else None
        folder.mkdir(parents=True, exist_ok=True)
        self.recovery = recover_folder(folder)
        # _lock: the mapping against msync/close; _append_lock: appends against a rotation by
        # the background thread (uncontended on the request path: a few tens of ns).
        self._lock = threading.Lock()
        self._append_lock = threading.Lock()
        self._deadline = float("inf")
        self._seq = 0
        self._mm: mmap.mmap | None = None
        self._fd = -1
        self._path: Path | None = None
        self._pos = 0
        self._size = 0
        self._dirty = False
        self._closed = False
        self.records = 0
        self._open_segment(segment_bytes)
        self._stop = threading.Event()
        self._flusher: threading.Thread | None = None
        ticks = [t for t in (fsync_interval, self.segment_seconds) if t and t > 0]
        if ticks:
            self._tick = min(ticks)
            self._flusher = threading.Thread(
                target=self._flush_loop, name="prediction-log-msync", daemon=True
            )
            self._flusher.start()

    def append(self, record: dict[str, Any]) -> None:
        """Copy one record into the log (a memory copy; see the module's flush policy)."""
        line = orjson.dumps(record, option=_DUMP)
        n = len(line)
        with self._append_lock:
            if self._mm is None or self._pos + n > self._size:
                with self._lock:
                    self._close_segment()
                    self._open_segment(max(self.segment_bytes, n))
            assert self._mm is not None
            pos = self._pos
            self._mm[pos : pos + n] = line
            self._pos = pos + n
            self._dirty = True
            self.records += 1

    def flush(self) -> None:
        """msync the mapping now."""
        with self._lock:
            if self._mm is not None and self._dirty:
                self._dirty = False
                self._mm.flush()

    def close(self) -> None:
        """Close the open segment (trim, msync, rename); further appends open a new one."""
        self._stop.set()
        if self._flusher is not None:
            self._flusher.join(timeout=5)
        with self._lock:
            self._close_segment()
            self._closed = True

    def rotate_if_due(self) -> bool:
        """Close the live segment if it is older than ``segment_seconds``; True if it did.

        The background thread calls this, not ``append``: the mapping is msynced first, while
        appends go on, so the close that holds them back has almost nothing left to write. The
        next append opens a new segment.
        """
        if self._mm is None or time.monotonic() < self._deadline:
            return False
        self.flush()
        with self._append_lock, self._lock:
            if self._mm is None or time.monotonic() < self._deadline:
                return False
            self._close_segment()
            return True

    def _flush_loop(self) -> None:
        while not self._stop.wait(self._tick):
            try:
                if self.fsync_interval > 0:
                    self.flush()
                if self.segment_seconds is not None:
                    self.rotate_if_due()
            except (OSError, ValueError):  # closed under us at shutdown
                return

    def _open_segment(self, size: int) -> None:
        self._seq += 1
        # The random part keeps names unique across logs of one process and a reused pid: a
        # compacted segment's Parquet file is found by this name.
        stamp = time.strftime("%Y%m%dT%H%M%S")
        unique = secrets.token_hex(3)
        name = f"{stamp}-{os.getpid()}-{self._seq:06d}-{unique}{OPEN_SUFFIX}"
        path = self.folder / name
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
        os.ftruncate(fd, size)
        self._mm = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        self._fd, self._path, self._pos = fd, path, 0
        self._size = size
        if self.segment_seconds is not None:
            self._deadline = time.monotonic() + self.segment_seconds

    def _close_segment(self) -> None:
        if self._mm is None or self._path is None:
            return
        self._mm.flush()
        self._mm.close()
        os.ftruncate(self._fd, self._pos)
        os.fsync(self._fd)
        os.close(self._fd)
        if self._pos:
            os.replace(
                self._path, self._path.with_name(self._path.name[: -len(OPEN_SUFFIX)] + DONE_SUFFIX)
            )
        else:
            self._path.unlink()
        self._mm, self._path, self._fd, self._pos = None, None, -1, 0
        self._size, self._deadline = 0, float("inf")


def _pid_of(path: Path) -> int | None:
    parts = path.name.split("-")
    try:
        return int(parts[1])
    except (IndexError, ValueError):
        return None


def _alive(pid: int | None) -> bool:
    if pid is None:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class Recovery:
    """What a replica's start did to the segments crashed replicas left open."""

    closed: int = 0
    skipped: dict[str, str] = field(default_factory=dict)  # name -> why it was left alone


def recover(folder: Path) -> int:
    """Close segments left open by replicas that died; returns how many were closed."""
    return recover_folder(folder).closed


def recover_folder(folder: Path) -> Recovery:
    """Close segments left open by replicas that died; what cannot be closed (not a regular
    file, unreadable) is left alone, logged and named in the result, never raised."""
    done = Recovery()
    for path in sorted(folder.glob(f"*{OPEN_SUFFIX}")):
        if not is_segment(path) or _alive(_pid_of(path)):
            continue
        try:
            mode = path.lstat().st_mode
        except FileNotFoundError:
            continue
        if not stat.S_ISREG(mode):
            done.skipped[path.name] = "not a regular file"
            logger.warning("Prediction log: %s is not a segment file; left alone", path)
            continue
        try:
            _close_orphan(path)
        except FileNotFoundError:
            continue  # another replica starting at the same moment closed it first
        except OSError as exc:
            done.skipped[path.name] = f"{type(exc).__name__}: {exc}"
            logger.warning("Prediction log: cannot close the orphan segment %s: %s", path, exc)
            continue
        done.closed += 1
    return done


def _close_orphan(path: Path) -> None:
    """Trim an orphan segment to its whole records and rename it closed (or drop it if empty).

    Replicas of a deployment start together and each recovers the folder, so two may race for
    one orphan: the exclusive lock makes one of them do it; the other finds the file gone.
    """
    import fcntl

    with open(path, "r+b") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        if not path.exists():
            raise FileNotFoundError(path)
        data = f.read()
        end = len(data.rstrip(b"\0"))  # the never-written tail of the mapping
        end = data.rfind(b"\n", 0, end) + 1  # drop a half-copied last line
        f.truncate(end)
        f.flush()
        os.fsync(f.fileno())
        if end:
            os.replace(path, path.with_name(path.name[: -len(OPEN_SUFFIX)] + DONE_SUFFIX))
        else:
            path.unlink()


@dataclass
class ReadReport:
    """What a read of segments could not use: damaged lines and unreadable files."""

    records: int = 0
    damaged: int = 0  # lines that were not a whole JSON object (NUL-damaged, cut, not an object)
    unreadable: dict[str, str] = field(default_factory=dict)  # file name -> why

    def add(self, other: ReadReport) -> None:
        self.records += other.records
        self.damaged += other.damaged
        self.unreadable.update(other.unreadable)


_NULS = re.compile(rb"\x00+")


def parse_segment(data: bytes, report: ReadReport | None = None) -> list[dict[str, Any]]:
    """The records of one segment's bytes: every line that is a JSON object, NUL runs skipped.

    A NUL run is never data (JSON escapes NUL): bytes before one on the same line are a record
    the run cut, counted as damaged; a record after it on the same line is kept.
    """
    report = report if report is not None else ReadReport()
    data = data.rstrip(b"\0")
    out: list[dict[str, Any]] = []
    has_nul = b"\0" in data
    lines = data.split(b"\n")
    if lines and lines[-1] and not has_nul:
        # A last line without its newline is being copied right now (open segment) or was cut.
        report.damaged += 1
        lines.pop()
    for line in lines:
        if not line:
            continue
        pieces = _NULS.split(line) if has_nul and b"\0" in line else [line]
        for piece in pieces:
            if not piece:
                continue
            try:
                value = orjson.loads(piece)
            except orjson.JSONDecodeError:
                report.damaged += 1
                continue
            if isinstance(value, dict):
                out.append(value)
            else:
                report.damaged += 1
    report.records += len(out)
    return out


def segment_paths(folder: Path) -> list[Path]:
    """The folder's segment files (closed and open), oldest first by name."""
    if not folder.is_dir():
        return []
    paths = [*folder.glob(f"*{DONE_SUFFIX}"), *folder.glob(f"*{OPEN_SUFFIX}")]
    return sorted((p for p in paths if is_segment(p) and p.is_file()), key=lambda p: p.name)


_SEGMENT = re.compile(r"^\d{8}T\d{6}-\d+-")


def is_segment(path: Path) -> bool:
    """Whether a file of the folder is a segment by its name (not ``retention.jsonl``)."""
    return bool(_SEGMENT.match(path.name))


def read_segment(path: Path, report: ReadReport | None = None) -> list[dict[str, Any]]:
    """The records of one segment file ([] when it went away while listing)."""
    report = report if report is not None else ReadReport()
    try:
        data = path.read_bytes()
    except FileNotFoundError:  # renamed or compacted while listing
        return []
    except OSError as exc:
        report.unreadable[path.name] = f"{type(exc).__name__}: {exc}"
        return []
    return parse_segment(data, report)


def iter_records(folder: Path, report: ReadReport | None = None) -> Iterator[dict[str, Any]]:
    """Every record in the folder's segments, oldest segment first (open ones included).

    Only the JSON-lines segments: records already compacted to Parquet are read with
    :func:`jupyter_mlops.serving.predictions.read_window`. Damaged lines are skipped and counted
    in ``report``.
    """
    for path in segment_paths(folder):
        yield from read_segment(path, report)


def read_predictions(folder: Path, report: ReadReport | None = None) -> list[dict[str, Any]]:
    """All records of a prediction log folder, as logged: the compacted ones (rebuilt from the
    Parquet files), then those still in segments; each exactly once while a compactor runs."""
    if not folder.is_dir():
        return []
    from jupyter_mlops.serving.predictions import compacted_records, read_pending

    pending, read = read_pending(folder, report if report is not None else ReadReport())
    return [*compacted_records(folder, skip=read), *pending]
