"""Where pipelines keep their state: ``.mlops/pipelines/``.

- ``applied.json``: every applied version of each pipeline, and whether it is enabled;
- ``cursors.json``: per pipeline and trigger, how far the trigger has been read (the last alert,
  batch, tick, staleness seen), so a restart neither loses nor repeats an event;
- ``events.jsonl``: every trigger event and what came of it (started, absorbed, missed);
- ``runs/<pipeline>/<id>.json``: one file per run, rewritten atomically at each step;
- ``lock``: held (flock) by whoever decides what an event does, so two processes (the scheduler
  and a "run now") never both start a run.
"""

from __future__ import annotations

import builtins
import hashlib
import json
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from jupyter_mlops.errors import BackendUnavailable
from jupyter_mlops.pipelines.schemas import (
    FINAL_RUN_STATES,
    PipelineRun,
    PipelineSpec,
    TriggerEvent,
)
from jupyter_mlops.process import Unreadable, file_lock, read_json, write_json
from jupyter_mlops.timestamps import Timestamp


def new_run_id() -> str:
    """A time-ordered id: milliseconds since the epoch in hex, then randomness."""
    return f"{int(time.time() * 1000):012x}{secrets.token_hex(3)}"


def fingerprint(spec: PipelineSpec) -> str:
    text = json.dumps(spec.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class AppliedVersion(BaseModel):
    version: int
    spec: PipelineSpec
    source: str
    applied: Timestamp
    fingerprint: str


class AppliedPipeline(BaseModel):
    versions: list[AppliedVersion]
    enabled: bool = True
    removed: bool = Field(default=False, description="no longer declared: kept for its history")

    @property
    def latest(self) -> AppliedVersion:
        return self.versions[-1]


class Applied(BaseModel):
    pipelines: dict[str, AppliedPipeline] = Field(default_factory=dict)


class Cursors(BaseModel):
    """``{pipeline: {trigger key: state}}``; a trigger key is the trigger's kind and target."""

    pipelines: dict[str, dict[str, Any]] = Field(default_factory=dict)


class PipelineStore:
    """The files of ``.mlops/pipelines/``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @contextmanager
    def locked(self) -> Iterator[None]:
        with file_lock(self.folder / "lock"):
            yield

    def _read(self, name: str, model: type[Any]) -> Any:
        value = read_json(self.folder / name, model)
        if isinstance(value, Unreadable):
            raise BackendUnavailable(
                f"The pipelines' state is unreadable: {value}",
                hint=f"Restore or delete {self.folder / name} (deleting it forgets what it held).",
            )
        return value if value is not None else model()

    # -- applied pipelines ------------------------------------------------------------------------

    def applied(self) -> Applied:
        result: Applied = self._read("applied.json", Applied)
        return result

    def save_applied(self, applied: Applied) -> None:
        write_json(self.folder / "applied.json", applied)

    # -- cursors ----------------------------------------------------------------------------------

    def cursors(self) -> Cursors:
        result: Cursors = self._read("cursors.json", Cursors)
        return result

    def save_cursors(self, cursors: Cursors) -> None:
        write_json(self.folder / "cursors.json", cursors)

    # -- events -----------------------------------------------------------------------------------

    def add_events(self, events: builtins.list[TriggerEvent]) -> None:
        if not events:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        lines = "".join(e.model_dump_json() + "\n" for e in events)
        with open(self.folder / "events.jsonl", "a", encoding="utf-8") as f:
            f.write(lines)

    def events(self) -> builtins.list[TriggerEvent]:
        path = self.folder / "events.jsonl"
        out: builtins.list[TriggerEvent] = []
        try:
            with open(path, encoding="utf-8") as f:
                for line in f:
                    if line.strip():
                        try:
                            out.append(TriggerEvent.model_validate_json(line))
                        except ValueError:
                            continue  # a line torn by a crash mid-write
        except FileNotFoundError:
            pass
        return out

    # -- runs -------------------------------------------------------------------------------------

    def _run_path(self, pipeline: str, run_id: str) -> Path:
        return self.folder / "runs" / pipeline / f"{run_id}.json"

    def save_run(self, run: PipelineRun) -> None:
        write_json(self._run_path(run.pipeline, run.id), run)

    def run(self, run_id: str) -> PipelineRun | None:
        for path in (self.folder / "runs").glob(f"*/{run_id}.json"):
            value = read_json(path, PipelineRun)
            if isinstance(value, PipelineRun):
                return value
        return None

    def run_ids(self, pipeline: str | None = None) -> builtins.list[str]:
        pattern = f"{pipeline}/*.json" if pipeline else "*/*.json"
        return sorted(p.stem for p in (self.folder / "runs").glob(pattern))

    def runs(self, pipeline: str | None = None) -> builtins.list[PipelineRun]:
        """Runs, newest first."""
        pattern = f"{pipeline}/*.json" if pipeline else "*/*.json"
        out: builtins.list[PipelineRun] = []
        for path in (self.folder / "runs").glob(pattern):
            value = read_json(path, PipelineRun)
            if isinstance(value, PipelineRun):
                out.append(value)
        return sorted(out, key=lambda r: r.id, reverse=True)

    def active_runs(self) -> builtins.list[PipelineRun]:
        return [r for r in self.runs() if r.state not in FINAL_RUN_STATES]
