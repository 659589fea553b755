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
one mapped. On a clean shutdown the open segment is closed the same way; after a crash the next
replica that starts in the folder closes the orphan (the bytes after the last record are zeros).

Records never contain a NUL byte (JSON escapes it), so a reader takes the bytes of a segment up to
the first NUL and keeps the lines that end in a newline.
"""

from __future__ import annotations

import mmap
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

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
    ) -> None:
        self.folder = folder
        self.segment_bytes = segment_bytes
        self.fsync_interval = fsync_interval
        folder.mkdir(parents=True, exist_ok=True)
        recover(folder)
        self._lock = threading.Lock()
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
        if fsync_interval > 0:
            self._flusher = threading.Thread(
                target=self._flush_loop, name="prediction-log-msync", daemon=True
            )
            self._flusher.start()

    def append(self, record: dict[str, Any]) -> None:
        """Copy one record into the log (a memory copy; see the module's flush policy)."""
        line = orjson.dumps(record, option=_DUMP)
        n = len(line)
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

    def _flush_loop(self) -> None:
        while not self._stop.wait(self.fsync_interval):
            try:
                self.flush()
            except (OSError, ValueError):  # closed under us at shutdown
                return

    def _open_segment(self, size: int) -> None:
        self._seq += 1
        name = f"{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}-{self._seq:06d}{OPEN_SUFFIX}"
        path = self.folder / name
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
        os.ftruncate(fd, size)
        self._mm = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        self._fd, self._path, self._pos = fd, path, 0
        self._size = size

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


def recover(folder: Path) -> int:
    """Close segments left open by replicas that died; returns how many were closed."""
    closed = 0
    for path in sorted(folder.glob(f"*{OPEN_SUFFIX}")):
        if _alive(_pid_of(path)):
            continue
        try:
            _close_orphan(path)
        except FileNotFoundError:
            continue  # another replica starting at the same moment closed it first
        closed += 1
    return closed


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
        end = data.find(b"\0")
        end = len(data) if end < 0 else end
        end = data.rfind(b"\n", 0, end) + 1  # drop a half-copied last line
        f.truncate(end)
        f.flush()
        os.fsync(f.fileno())
        if end:
            os.replace(path, path.with_name(path.name[: -len(OPEN_SUFFIX)] + DONE_SUFFIX))
        else:
            path.unlink()


def iter_records(folder: Path) -> Iterator[dict[str, Any]]:
    """Every record in the folder's segments, oldest segment first (open ones included)."""
    paths = sorted(
        [*folder.glob(f"*{DONE_SUFFIX}"), *folder.glob(f"*{OPEN_SUFFIX}")],
        key=lambda p: p.name,
    )
    for path in paths:
        try:
            data = path.read_bytes()
        except FileNotFoundError:  # renamed while listing
            continue
        end = data.find(b"\0")
        if end >= 0:
            data = data[:end]
        for line in data.split(b"\n"):
            if not line:
                continue
            try:
                yield orjson.loads(line)
            except orjson.JSONDecodeError:
                continue


def read_predictions(folder: Path) -> list[dict[str, Any]]:
    """All records of a prediction log folder."""
    return list(iter_records(folder)) if folder.is_dir() else []
