"""The workspace's scheduler: one detached process that checks every running deployment on its
interval, whether or not JupyterLab is open.

It follows the process protocol of :mod:`jupyter_mlops.process`: ``.mlops/monitoring/scheduler/``
holds ``status.json`` (pid, start, heartbeat, last error) written atomically; the pid counts only
while ``/proc`` shows the scheduler's module on this workspace. Any face may start it
(:meth:`Scheduler.ensure`); a second start finds it running and does nothing. It exits on
SIGTERM and when no deployment has been running for ``idle_exit`` seconds (a minute); deploying
starts it again. The module that runs it is given by the workspace's wiring (a domain never
imports the faces).
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel

from jupyter_mlops.errors import InvalidInput
from jupyter_mlops.monitoring.schemas import SchedulerState
from jupyter_mlops.process import Unreadable, is_running, read_json, start_detached, write_json
from jupyter_mlops.timestamps import Timestamp, utc_now

STATUS_FILE = "status.json"


class SchedulerStatus(BaseModel):
    pid: int
    started: Timestamp
    heartbeat: Timestamp
    root: str
    error: str | None = None
    checks: int = 0


class Scheduler:
    """Start, find and stop the scheduler process of one workspace."""

    def __init__(self, folder: Path, command: tuple[str, list[str]] | None) -> None:
        self.folder = folder
        self.command = command

    def _status(self) -> SchedulerStatus | None:
        status = read_json(self.folder / STATUS_FILE, SchedulerStatus)
        return None if status is None or isinstance(status, Unreadable) else status

    def _alive(self, status: SchedulerStatus | None) -> bool:
        if status is None or self.command is None:
            return False
        module, args = self.command
        return is_running(status.pid, module, *args)

    def state(self) -> SchedulerState:
        status = self._status()
        running = self._alive(status)
        return SchedulerState(
            running=running,
            pid=status.pid if status and running else None,
            started=status.started if status else None,
            heartbeat=status.heartbeat if status else None,
            error=status.error if status else None,
        )

    def ensure(self, timeout: float = 20.0) -> SchedulerState:
        """Start the scheduler unless it runs; return once it has written its status."""
        if self.command is None:
            raise InvalidInput("This process cannot start the monitoring scheduler")
        if self._alive(self._status()):
            return self.state()
        module, args = self.command
        self.folder.mkdir(parents=True, exist_ok=True)
        start_detached(
            module, args, cwd=self.folder, log=self.folder / "scheduler.log", env=os.environ
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._alive(self._status()):
                break
            time.sleep(0.05)
        return self.state()

    def stop(self, timeout: float = 10.0) -> SchedulerState:
        """SIGTERM the scheduler and wait for it to exit."""
        status = self._status()
        if self._alive(status) and status is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(status.pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and self._alive(status):
                time.sleep(0.05)
        return self.state()


def run(
    folder: Path,
    root: str,
    *,
    due: Callable[[datetime], list[str]],
    check: Callable[[str], object],
    any_running: Callable[[], bool],
    tick: float = 2.0,
    idle_exit: float = 60.0,
    also: Callable[[], float] | None = None,
) -> int:
    """The scheduler's loop (in its own process): every ``tick`` seconds, check the deployments
    that are due, one after another; a failing check is recorded, never fatal.

    ``also`` is another task of the same process (the pipelines' triggers): it runs after each
    round of checks and returns how soon it wants to run again, which may be sooner than
    ``tick``; deployments are still checked every ``tick`` seconds at most.
    """
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    status = SchedulerStatus(pid=os.getpid(), started=utc_now(), heartbeat=utc_now(), root=root)
    write_json(folder / STATUS_FILE, status)
    idle_since = time.monotonic()
    next_round = 0.0
    while not stop.is_set():
        wait = tick
        if time.monotonic() >= next_round:
            next_round = time.monotonic() + tick
            try:
                if any_running():
                    idle_since = time.monotonic()
                elif time.monotonic() - idle_since > idle_exit:
                    break
                for name in due(utc_now()):
                    if stop.is_set():
                        break
                    try:
                        check(name)
                        status.checks += 1
                        status.error = None
                    except Exception as exc:  # one deployment's failure must not stop the others
                        status.error = f"{name}: {type(exc).__name__}: {exc}"
            except Exception as exc:
                status.error = f"{type(exc).__name__}: {exc}"
            status.heartbeat = utc_now()
            write_json(folder / STATUS_FILE, status)
        if also is not None:
            try:
                wait = min(wait, also())
            except Exception as exc:  # a failing task must not stop the checks
                status.error = f"{type(exc).__name__}: {exc}"
                write_json(folder / STATUS_FILE, status)
        stop.wait(max(0.05, min(wait, next_round - time.monotonic())))
    return 0
