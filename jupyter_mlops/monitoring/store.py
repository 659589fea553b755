"""Where monitoring keeps what it found: ``.mlops/monitoring/<deployment>/``.

- ``checks.jsonl``: one :class:`CheckSummary` per check (the time series);
- ``checks/<id>.json``: the full :class:`CheckReport` of each check (the evidence);
- ``events.jsonl``: alert events, oldest first;
- ``firing.json``: the alerts firing now, by key.

Appends take a lock, so the scheduler and a check asked for by hand never interleave lines. A line
that cannot be read (a crash mid-write) is skipped, never fatal.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TypeVar

import orjson
from pydantic import BaseModel, ValidationError

from jupyter_mlops.monitoring.schemas import AlertEvent, CheckReport, CheckSummary
from jupyter_mlops.process import file_lock, write_json

M = TypeVar("M", bound=BaseModel)


def new_id() -> str:
    """A time-ordered id: milliseconds since the epoch in hex, then randomness."""
    return f"{int(time.time() * 1000):012x}{secrets.token_hex(4)}"


class MonitorStore:
    """The monitoring folder of one deployment."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @contextmanager
    def locked(self) -> Iterator[None]:
        with file_lock(self.folder / ".lock"):
            yield

    def _append(self, name: str, lines: list[bytes]) -> None:
        if not lines:
            return
        with open(self.folder / name, "ab") as f:
            f.write(b"".join(line + b"\n" for line in lines))
            f.flush()
            os.fsync(f.fileno())

    def save_check(self, report: CheckReport) -> None:
        """Store the full report, then its summary line (a summary never points at nothing)."""
        write_json(self.folder / "checks" / f"{report.summary.id}.json", report)
        self._append("checks.jsonl", [report.summary.model_dump_json().encode()])

    def save_events(self, events: list[AlertEvent]) -> None:
        self._append("events.jsonl", [e.model_dump_json().encode() for e in events])

    def checks(self, limit: int | None = None) -> list[CheckSummary]:
        """The stored check summaries, oldest first (only the newest ``limit``, read from the
        end of the file, when given)."""
        path = self.folder / "checks.jsonl"
        if not limit:
            return sorted(_lines(path, CheckSummary), key=_check_time)
        # Lines are appended as checks finish; overlapping checks can finish out of order, so
        # read a few more than asked and order them by the time each one started.
        out = sorted(_parse(_tail(path, limit + _REORDER_SLACK), CheckSummary), key=_check_time)
        return out[-limit:]

    def check(self, check_id: str) -> CheckReport | None:
        path = self.folder / "checks" / f"{check_id}.json"
        if not check_id.isalnum() or not path.is_file():
            return None
        try:
            return CheckReport.model_validate_json(path.read_bytes())
        except ValidationError:
            return None

    def events(self) -> list[AlertEvent]:
        return list(_lines(self.folder / "events.jsonl", AlertEvent))

    def firing(self) -> dict[str, AlertEvent]:
        path = self.folder / "firing.json"
        try:
            data = orjson.loads(path.read_bytes())
            return {k: AlertEvent.model_validate(v) for k, v in data.items()}
        except (OSError, orjson.JSONDecodeError, ValidationError, AttributeError):
            return {}

    def set_firing(self, firing: dict[str, AlertEvent]) -> None:
        write_json(
            self.folder / "firing.json", {k: v.model_dump(mode="json") for k, v in firing.items()}
        )


_REORDER_SLACK = 16


def _check_time(summary: CheckSummary) -> datetime:
    return summary.time


def _tail(path: Path, count: int, chunk: int = 65536) -> bytes:
    """The last ``count`` whole lines of a file (or all of it), reading backwards."""
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        return b""
    with f:
        end = f.seek(0, os.SEEK_END)
        start = end
        data = b""
        while start > 0 and data.count(b"\n") <= count:
            start = max(0, start - chunk)
            f.seek(start)
            data = f.read(end - start)
        if start > 0:
            data = data.split(b"\n", 1)[-1]  # a partial first line
        return data


def _lines(path: Path, model: type[M]) -> Iterator[M]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return
    yield from _parse(data, model)


def _parse(data: bytes, model: type[M]) -> Iterator[M]:
    for line in data.splitlines():
        if not line.strip():
            continue
        try:
            yield model.model_validate_json(line)
        except ValidationError:
            continue
