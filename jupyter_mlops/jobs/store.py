"""The job queue on disk, under ``.mlops/jobs/``, shared by every face and every worker.

Layout (the process protocol of :mod:`jupyter_mlops.process`: typed JSON written atomically)::

    <id>/job.json       what was asked (JobRecord), written once
    <id>/status.json    what happened (JobStatus)
    <id>/run.lock       flock held by the worker running the job
    <id>/cancel         present once a cancel was asked for
    <id>/output.ipynb   the executed notebook, saved after every cell
    queue/<seq>-<id>    a queued job; the oldest sequence number runs first
    claimed/<id>        a job a worker took

A worker takes a job by locking ``run.lock`` first and then renaming its queue entry into
``claimed/``: the rename succeeds for one worker only, so a job never runs twice at once. A
claimed job whose lock nobody holds lost its worker (kill -9, a reboot): it is *interrupted*,
and :meth:`JobStore.recover` puts it back in the queue once (``requeue_interrupted`` times), then
fails it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

from jupyter_mlops.jobs.schemas import FINAL_STATES, JobRecord, JobStatus
from jupyter_mlops.process import Unreadable, read_json, write_json
from jupyter_mlops.timestamps import utc_now


class JobLock:
    """An exclusive, non-blocking flock on a job's ``run.lock``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd: int | None = None

    def acquire(self) -> bool:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self.fd = fd
        return True

    def release(self) -> None:
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None


class JobStore:
    """Files of the jobs of one workspace."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.queue = folder / "queue"
        self.claimed = folder / "claimed"

    def ensure(self) -> None:
        for d in (self.queue, self.claimed, self.folder / "workers"):
            d.mkdir(parents=True, exist_ok=True)

    def job_dir(self, job_id: str) -> Path:
        return self.folder / job_id

    def record(self, job_id: str) -> JobRecord | None:
        if not _valid_id(job_id):
            return None
        rec = read_json(self.job_dir(job_id) / "job.json", JobRecord)
        return None if rec is None or isinstance(rec, Unreadable) else rec

    def status(self, job_id: str) -> JobStatus:
        st = read_json(self.job_dir(job_id) / "status.json", JobStatus)
        if st is None:
            return JobStatus()
        if isinstance(st, Unreadable):
            return JobStatus(state="failed", message=str(st))
        return st

    def write_status(self, job_id: str, status: JobStatus) -> None:
        write_json(self.job_dir(job_id) / "status.json", status)

    def ids(self) -> list[str]:
        """Every job, oldest first (ids sort by creation time)."""
        if not self.folder.is_dir():
            return []
        return sorted(p.name for p in self.folder.iterdir() if _valid_id(p.name) and p.is_dir())

    def add(self, record: JobRecord) -> None:
        """Write a job's files, then its queue entry (a queued job is always complete)."""
        self.ensure()
        folder = self.job_dir(record.id)
        folder.mkdir()
        write_json(folder / "job.json", record)
        self.write_status(record.id, JobStatus(state="queued"))
        (self.queue / f"{time.time_ns():020d}-{record.id}").touch()

    def lock(self, job_id: str) -> JobLock:
        return JobLock(self.job_dir(job_id) / "run.lock")

    def queued(self) -> list[str]:
        """Queue entries, oldest first."""
        try:
            return sorted(os.listdir(self.queue))
        except FileNotFoundError:
            return []

    def claim(self, entry: str) -> tuple[str, JobLock] | None:
        """Take a queued job: lock it, then move it to ``claimed/``. None when another worker
        was first."""
        job_id = entry.split("-", 1)[-1]
        if not _valid_id(job_id) or not self.job_dir(job_id).is_dir():
            return None
        lock = self.lock(job_id)
        if not lock.acquire():
            return None
        try:
            os.rename(self.queue / entry, self.claimed / job_id)
        except FileNotFoundError:
            lock.release()
            return None
        return job_id, lock

    def unqueue(self, job_id: str) -> bool:
        """Remove a queued job from the queue (to cancel it); False when it is not queued."""
        for entry in self.queued():
            if entry.endswith(f"-{job_id}"):
                with contextlib.suppress(FileNotFoundError):
                    (self.queue / entry).unlink()
                    return True
        return False

    def release(self, job_id: str, lock: JobLock) -> None:
        """A worker is done with a job: unclaim it, then let go of its lock."""
        with contextlib.suppress(FileNotFoundError):
            (self.claimed / job_id).unlink()
        lock.release()

    def cancel_requested(self, job_id: str) -> bool:
        return (self.job_dir(job_id) / "cancel").exists()

    def request_cancel(self, job_id: str) -> None:
        (self.job_dir(job_id) / "cancel").touch()

    def recover(self, requeue: int) -> list[tuple[str, str | None]]:
        """Find claimed jobs whose worker died; requeue each up to ``requeue`` times, then fail
        it. Returns the jobs it touched, each with the run its interrupted attempt had."""
        touched = []
        try:
            claimed = os.listdir(self.claimed)
        except FileNotFoundError:
            return []
        for job_id in claimed:
            if not _valid_id(job_id):
                continue
            lock = self.lock(job_id)
            try:
                if not lock.acquire():
                    continue  # its worker runs it
            except FileNotFoundError:
                continue
            try:
                if not (self.claimed / job_id).exists():
                    continue  # finished between the listing and the lock
                status = self.status(job_id)
                if status.state in FINAL_STATES:
                    (self.claimed / job_id).unlink(missing_ok=True)
                    continue
                status.interrupted += 1
                lost_run = status.run_id
                status.run_id = None
                cancelled = self.cancel_requested(job_id)
                if cancelled:
                    status.state = "cancelled"
                    status.finished = utc_now()
                    status.message = "cancelled while its worker was gone"
                elif status.interrupted <= requeue:
                    status.state = "queued"
                    status.cells_done = 0
                    status.current_cell = None
                    status.message = (
                        f"interrupted {status.interrupted} time(s): its worker died "
                        f"(pid {status.worker_pid}); queued again"
                    )
                else:
                    status.state = "failed"
                    status.finished = utc_now()
                    status.message = (
                        f"interrupted {status.interrupted} time(s): its worker died each time "
                        "(killed, or the machine restarted); not run again. Run it with "
                        "`jupyter mlops job rerun`."
                    )
                self.write_status(job_id, status)
                if status.state == "queued":
                    record = self.record(job_id)
                    seq = int(record.created.timestamp() * 1e9) if record else time.time_ns()
                    os.rename(self.claimed / job_id, self.queue / f"{seq:020d}-{job_id}")
                else:
                    (self.claimed / job_id).unlink(missing_ok=True)
                touched.append((job_id, lost_run))
            finally:
                lock.release()
        return touched

    def workers_dir(self) -> Path:
        return self.folder / "workers"

    def iter_claimed(self) -> Iterator[str]:
        with contextlib.suppress(FileNotFoundError):
            yield from sorted(os.listdir(self.claimed))


_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
ID_LENGTH = 21


def _valid_id(job_id: str) -> bool:
    return len(job_id) == ID_LENGTH and all(c in _ALPHABET for c in job_id)


def new_job_id() -> str:
    """A 21-character id that sorts by creation time: the time in nanoseconds in base 36
    (13 characters), then 8 random ones."""
    import secrets

    t, digits = time.time_ns(), []
    while t:
        t, r = divmod(t, 36)
        digits.append(_ALPHABET[r])
    stamp = "".join(reversed(digits)).rjust(13, "0")
    return stamp + "".join(secrets.choice(_ALPHABET) for _ in range(8))
