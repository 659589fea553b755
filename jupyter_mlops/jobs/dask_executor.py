"""The Dask executor: the jobs of the disk queue run on a Dask cluster.

``[jobs] executor = "dask://scheduler:8786"`` in ``mlops.toml`` is all it takes. The queue under
``.mlops/jobs/`` stays the one source of truth: one detached *dispatcher* process per workspace
(``python -m jupyter_mlops.commands.jobworker ROOT dask``) claims queued jobs exactly as a local
slot does (the job's ``run.lock``, then the rename into ``claimed/``), starts each job's MLflow
run, and hands the notebook to the cluster. A Dask worker executes it with papermill on a kernel
it starts for the job (a cold kernel: a cluster has no warm one to spare) and sends back the
executed notebook; the dispatcher writes ``output.ipynb`` and the status, publishes the notebook,
logs it with the run and ends the run. A dispatcher killed mid-job leaves its claimed jobs
unlocked, and :meth:`JobStore.recover` queues them again, as for a local worker.

Before running anything the dispatcher checks every worker once (and each worker that joins
later): can it import papermill and jupyter-mlops, start a ``python3`` kernel, read the
workspace's tracking store and write to its artifact location. Jobs run only on the workers that
pass; the job's status message names the ones left out and why, and when none pass, jobs fail
with what is missing. An embedded SQLite store is a file on the workspace's machine: it serves a
cluster on that machine only; a cluster of several machines needs PostgreSQL or an MLflow server.

Progress on Dask: a worker reports cells as they finish through a Dask event topic, so
``cells_done`` moves as on a local slot when the scheduler forwards events; when it does not
(a lost event), a job shows 0 cells done until it finishes with all of them.

Cancelling a running job cancels its Dask future and sets a Dask ``Event`` the worker watches:
the worker kills the job's kernel, so nothing keeps computing for a cancelled job.

Everything here imports ``distributed`` on first use only: a workspace on the local executor
never pays for it, and a workspace without the ``dask`` extra gets an error saying what to
install.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_mlops.errors import BackendUnavailable
from jupyter_mlops.jobs.dask_cluster import check_cluster, connect
from jupyter_mlops.jobs.schemas import CellError, JobStatus, WorkerCheck
from jupyter_mlops.jobs.store import JobLock, JobStore
from jupyter_mlops.jobs.worker import (
    PER_JOB_ENV,
    JobRunner,
    SlotStatus,
    StartedJob,
    recover,
    slot_lock,
)
from jupyter_mlops.process import write_json
from jupyter_mlops.timestamps import utc_now

if TYPE_CHECKING:
    from distributed import Client, Future

#: The slot name of the dispatcher (``workers/dask.lock``, ``dask.json``, ``dask.log``).
DISPATCHER = "dask"
PROGRESS_TOPIC = "jupyter-mlops-job-progress"
CANCEL_EVENT = "jupyter-mlops-cancel-{job_id}"
POLL_SECONDS = 0.05
REFRESH_SECONDS = 2.0
RETRY_CONNECT_SECONDS = 5.0


def _left_out(checks: dict[str, WorkerCheck]) -> str:
    return "; ".join(f"{w.address}: {', '.join(w.problems)}" for w in checks.values() if not w.ok)


# -- on a Dask worker ------------------------------------------------------------------------------


def execute_on_worker(
    notebook_json: str,
    notebook_path: str,
    parameters: dict[str, Any],
    job_id: str,
    run_id: str,
    env: dict[str, str],
    *,
    workdir: str | None = None,
    environment: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The Dask task of a job: run the notebook with papermill on a new kernel and return the
    executed notebook (JSON text) and how it ended. The working directory is ``workdir`` (else
    the notebook's folder) when the worker has it, else a temporary folder. ``environment`` is
    the job's own, set by its first cell as on a local slot."""
    import nbformat
    import papermill
    from papermill.exceptions import PapermillExecutionError

    from jupyter_mlops.jobs.engine import ENGINE_NAME
    from jupyter_mlops.jobs.worker import failed_cell, setup_cell

    worker = _current_worker()
    address = worker.address if worker is not None else socket.gethostname()
    scratch = Path(tempfile.mkdtemp(prefix=f"mlops-job-{job_id}-"))
    notebook = Path(notebook_path)
    wanted = Path(workdir) if workdir else notebook.parent
    cwd = wanted if wanted.is_dir() else scratch
    output = scratch / "output.ipynb"
    result: dict[str, Any] = {"worker": address, "state": "succeeded", "message": None}

    def on_progress(done: int, total: int, current: int | None) -> None:
        # Every call is sent: two small events a cell, and a throttle would drop the one that
        # says which long cell is running.
        if worker is not None:
            with contextlib.suppress(Exception):
                worker.log_event(
                    PROGRESS_TOPIC,
                    {
                        "job": job_id,
                        "done": done,
                        "total": total,
                        "current": current,
                        "worker": address,
                    },
                )

    on_progress(0, 0, None)
    kernel = None
    watcher: _CancelWatch | None = None
    try:
        kernel = _JobKernel(cwd, env)
        watcher = _CancelWatch(job_id, kernel.pid)
        from jupyter_mlops.jobs.params import assume_python

        nb = nbformat.reads(notebook_json, as_version=4)
        assume_python(nb)
        shown = notebook if notebook.parent.is_dir() else cwd / notebook.name
        nb.cells.insert(0, setup_cell(shown, job_id, run_id, workdir=cwd, environment=environment))
        papermill.execute_notebook(
            nb,
            str(output),
            parameters=parameters,
            engine_name=ENGINE_NAME,
            km=kernel.km,
            progress_bar=False,
            on_progress=on_progress,
        )
    except PapermillExecutionError as exc:
        error = failed_cell(exc, output)
        result.update(
            state="failed",
            error=error.model_dump(mode="json"),
            message=f"cell {error.index + 1} raised {exc.ename}: {exc.evalue}",
        )
    except Exception as exc:  # a dead kernel (cancel, OOM), a broken notebook
        if watcher is not None and watcher.cancelled:
            result.update(state="cancelled", message="cancelled: its kernel was stopped")
        else:
            result.update(
                state="failed",
                message=f"{type(exc).__name__} on Dask worker {address}: {exc}",
                traceback=traceback.format_exc(),
            )
    finally:
        if watcher is not None:
            watcher.stop()
        if kernel is not None:
            kernel.kill()
        if output.is_file():
            result["notebook"] = output.read_text(encoding="utf-8")
        shutil.rmtree(scratch, ignore_errors=True)
    return result


class _JobKernel:
    """The kernel of one job on a worker, started in the job's folder with the job's
    environment. An asynchronous kernel manager, so that nbclient notices a kernel killed by a
    cancel (with a blocking client it would wait for the dead kernel's output for ever)."""

    def __init__(self, cwd: Path, extra_env: dict[str, str]) -> None:
        from jupyter_client.manager import AsyncKernelManager
        from jupyter_core.utils import run_sync

        env = {k: v for k, v in os.environ.items() if k not in PER_JOB_ENV}
        env.update(extra_env)
        self.km = AsyncKernelManager(kernel_name="python3")
        run_sync(self.km.start_kernel)(cwd=str(cwd), env=env)

    @property
    def pid(self) -> int | None:
        pid = getattr(getattr(self.km, "provisioner", None), "pid", None)
        return int(pid) if pid else None

    def kill(self) -> None:
        from jupyter_core.utils import run_sync

        with contextlib.suppress(Exception):
            run_sync(self.km.shutdown_kernel)(now=True)


def _current_worker() -> Any:
    try:
        from distributed import get_worker

        return get_worker()
    except (ImportError, ValueError):
        return None


class _CancelWatch:
    """On a worker: kill the job's kernel once the dispatcher sets the job's cancel event."""

    def __init__(self, job_id: str, kernel_pid: int | None) -> None:
        self.cancelled = False
        self._stop = threading.Event()
        self._pid = kernel_pid
        self._event: Any = None
        with contextlib.suppress(Exception):
            from distributed import Event, get_client

            # get_client works in the task's thread only; the event then waits in ours.
            self._event = Event(CANCEL_EVENT.format(job_id=job_id), client=get_client())
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        if self._event is None:
            return
        while not self._stop.is_set():
            try:
                if not self._event.wait(timeout=0.5):
                    continue
            except Exception:
                return
            if self._stop.is_set():
                return
            self.cancelled = True
            if self._pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self._pid, signal.SIGKILL)
            return

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)


# -- the dispatcher --------------------------------------------------------------------------------


@dataclass
class _InFlight:
    started: StartedJob
    lock: JobLock
    future: Future
    progress: tuple[int, int, int | None, str] | None = field(default=None)


class DaskDispatcher:
    """Claims queued jobs and runs them on the cluster, as many at once as it has threads."""

    def __init__(
        self,
        store: JobStore,
        root: Path,
        executor: str,
        runner: JobRunner,
        *,
        tracking_uri: str,
        artifact_location: str,
        experiment: str,
        requeue: int,
        env: dict[str, str],
    ) -> None:
        self.store = store
        self.root = root
        self.executor = executor
        self.runner = runner
        self.tracking_uri = tracking_uri
        self.artifact_location = artifact_location
        self.experiment = experiment
        self.requeue = requeue
        self.env = env
        self.client: Client | None = None
        self.checks: dict[str, WorkerCheck] = {}
        self.inflight: dict[str, _InFlight] = {}
        self.progress: dict[str, dict[str, Any]] = {}
        self.jobs_run = 0

    # the cluster

    def connect(self) -> None:
        self.client = connect(self.executor)
        self.client.subscribe_topic(PROGRESS_TOPIC, self._on_progress)
        self.checks = {}

    def close(self) -> None:
        if self.client is not None:
            with contextlib.suppress(Exception):
                self.client.close(timeout=5)
            self.client = None

    def _on_progress(self, event: tuple[float, dict[str, Any]]) -> None:
        msg = event[1]
        if isinstance(msg, dict) and msg.get("job") in self.inflight:
            self.progress[str(msg["job"])] = msg

    def refresh_workers(self) -> None:
        """Check workers that joined since the last look; forget those that left."""
        assert self.client is not None
        present = set(self.client.scheduler_info(n_workers=-1)["workers"])
        for gone in set(self.checks) - present:
            del self.checks[gone]
        new = sorted(present - set(self.checks))
        if new:
            report = check_cluster(
                self.client,
                self.executor,
                tracking_uri=self.tracking_uri,
                artifact_location=self.artifact_location,
                experiment=self.experiment,
                root=str(self.root),
                workers=new,
            )
            for check in report.workers:
                self.checks[check.address] = check

    def qualified(self) -> list[WorkerCheck]:
        return [w for w in self.checks.values() if w.ok]

    def capacity(self) -> int:
        return sum(max(w.nthreads, 1) for w in self.qualified()) - len(self.inflight)

    # jobs

    def claim(self) -> tuple[str, JobLock] | None:
        for entry in self.store.queued():
            claimed = self.store.claim(entry)
            if claimed is not None:
                return claimed
        return None

    def dispatch(self, job_id: str, lock: JobLock) -> None:
        """Start a claimed job's run and submit it to the qualified workers."""
        assert self.client is not None
        qualified = self.qualified()
        if not qualified:
            status = self.store.status(job_id)
            status.state, status.finished = "failed", utc_now()
            status.message = (
                f"no worker of the Dask cluster at {self.executor} can run it: "
                f"{_left_out(self.checks) or 'the cluster has no workers'}"
            )
            self.store.write_status(job_id, status)
            self.store.release(job_id, lock)
            return
        begun = self.runner.begin(job_id)
        if isinstance(begun, JobStatus):
            self.store.release(job_id, lock)
            return
        try:
            text = begun.notebook.read_text(encoding="utf-8")
        except OSError as exc:
            self._end(job_id, begun, lock, "failed", "FAILED", f"cannot read the notebook: {exc}")
            return
        future = self.client.submit(
            execute_on_worker,
            text,
            str(begun.notebook),
            begun.record.parameters,
            job_id,
            begun.run.run_id,
            self.env,
            workdir=str(self.root / begun.record.workdir) if begun.record.workdir else None,
            environment=begun.record.environment,
            key=f"mlops-job-{job_id}-{begun.status.attempt}",
            pure=False,
            workers=[w.address for w in qualified],
            allow_other_workers=False,
        )
        self.inflight[job_id] = _InFlight(begun, lock, future)

    def poll(self) -> None:
        """Record progress, pass on cancels, and finish the jobs whose futures are done."""
        for job_id, job in list(self.inflight.items()):
            msg = self.progress.get(job_id)
            if msg is not None:
                key = (int(msg["done"]), int(msg["total"]), msg.get("current"), str(msg["worker"]))
                if key != job.progress:
                    job.progress = key
                    status = job.started.status
                    status.cells_done, status.cells_total, status.current_cell = key[:3]
                    status.worker = key[3]
                    self.store.write_status(job_id, status)
            if self.store.cancel_requested(job_id) and not job.future.done():
                self._cancel(job_id, job)
            elif job.future.done():
                self._collect(job_id, job)

    def _cancel(self, job_id: str, job: _InFlight) -> None:
        assert self.client is not None
        from distributed import Event

        with contextlib.suppress(Exception):
            Event(CANCEL_EVENT.format(job_id=job_id), client=self.client).set()
        with contextlib.suppress(Exception):
            job.future.cancel()
        self._end(job_id, job.started, job.lock, "cancelled", "KILLED", "cancelled on Dask")

    def _collect(self, job_id: str, job: _InFlight) -> None:
        status = job.started.status
        try:
            result: dict[str, Any] = job.future.result(timeout=30)
        except Exception as exc:  # the worker died (KilledWorker), the scheduler went away
            self._end(
                job_id,
                job.started,
                job.lock,
                "failed",
                "FAILED",
                f"{type(exc).__name__} on the Dask cluster at {self.executor}: {exc}",
            )
            return
        if result.get("notebook"):
            job.started.output.write_text(result["notebook"], encoding="utf-8")
        status.worker = str(result.get("worker") or status.worker)
        if status.cells_total == 0 or result["state"] == "succeeded":
            total = _cells(job.started.output)
            if total:
                status.cells_total = total
                if result["state"] == "succeeded":
                    status.cells_done = total
        if result.get("error"):
            status.error = CellError.model_validate(result["error"])
        if result.get("traceback"):
            (job.started.output.parent / "worker-error.txt").write_text(result["traceback"])
        state = str(result["state"])
        run_status = {"succeeded": "FINISHED", "cancelled": "KILLED"}.get(state, "FAILED")
        self._end(job_id, job.started, job.lock, state, run_status, result.get("message"))

    def _end(
        self,
        job_id: str,
        started: StartedJob,
        lock: JobLock,
        state: str,
        run_status: str,
        message: str | None,
    ) -> None:
        left_out = _left_out(self.checks)
        if left_out:
            note = f"Dask workers left out: {left_out}"
            message = f"{message}; {note}" if message else note
        try:
            self.runner.complete(started, state, run_status, message)
        finally:
            self.inflight.pop(job_id, None)
            self.progress.pop(job_id, None)
            self.store.release(job_id, lock)
            self.jobs_run += 1

    def release_all(self) -> None:
        """Let go of every in-flight job (the dispatcher stops): they stay claimed and unlocked,
        so :meth:`JobStore.recover` queues them again."""
        for job in self.inflight.values():
            with contextlib.suppress(Exception):
                job.future.cancel()
            job.lock.release()
        self.inflight.clear()


def _cells(path: Path) -> int:
    import nbformat

    try:
        return len(nbformat.read(str(path), as_version=4).cells)
    except Exception:
        return 0


def serve_dask(
    store: JobStore,
    root: Path,
    *,
    executor: str,
    tracking_factory: Callable[[], Any],
    tracking_uri: str,
    artifact_location: str,
    experiment: str,
    requeue: int,
    idle_exit: float,
    output_dir: str,
    drain_seconds: float = 3600.0,
    lock_fd: int | None = None,
) -> int:
    """The dispatcher loop (in its own process): queue → Dask cluster → job files and runs.

    It exits after ``idle_exit`` seconds with nothing queued or running, and on SIGTERM once
    the jobs it has on the cluster finish (at most ``drain_seconds``; those still running then
    are queued again by the next worker that recovers the queue). ``lock_fd``: the
    dispatcher's lock when the caller took it already.
    """
    store.ensure()
    workers = store.workers_dir()
    fd = lock_fd if lock_fd is not None else slot_lock(workers, DISPATCHER)
    if fd is None:
        return 0  # another dispatcher serves this workspace
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    status = SlotStatus(slot=DISPATCHER, pid=os.getpid(), started=utc_now(), heartbeat=utc_now())
    write_json(workers / f"{DISPATCHER}.json", status)
    tracking = tracking_factory()
    runner = JobRunner(store, root, tracking, f"dask {executor}", output_dir)
    # Workers read the experiment of job runs: it exists (and so does an embedded store) first.
    try:
        tracking.ensure_experiment(experiment)
    except Exception as exc:
        status.error = f"the tracking store: {exc}"
        write_json(workers / f"{DISPATCHER}.json", status)
    env = {"MLFLOW_TRACKING_URI": tracking_uri}
    if root.is_dir():
        env["MLOPS_WORKSPACE"] = str(root)
    dispatcher = DaskDispatcher(
        store,
        root,
        executor,
        runner,
        tracking_uri=tracking_uri,
        artifact_location=artifact_location,
        experiment=experiment,
        requeue=requeue,
        env=env,
    )
    idle_since = time.monotonic()
    next_refresh = 0.0
    drain_deadline: float | None = None
    try:
        while True:
            if stop.is_set():
                if not dispatcher.inflight:
                    break
                drain_deadline = drain_deadline or time.monotonic() + drain_seconds
                if time.monotonic() > drain_deadline:
                    break
            if dispatcher.client is None:
                try:
                    dispatcher.connect()
                    status.error = None
                except BackendUnavailable as exc:
                    status.error = str(exc)
                    write_json(workers / f"{DISPATCHER}.json", status)
                    if time.monotonic() - idle_since > idle_exit:
                        break
                    stop.wait(RETRY_CONNECT_SECONDS)
                    continue
            now = time.monotonic()
            if now >= next_refresh:
                next_refresh = now + REFRESH_SECONDS
                recover(store, tracking, requeue)
                try:
                    dispatcher.refresh_workers()
                except Exception as exc:
                    status.error = f"checking the Dask workers: {type(exc).__name__}: {exc}"
                else:
                    status.error = _left_out(dispatcher.checks) or None
                    if not dispatcher.checks:
                        status.error = f"the Dask cluster at {executor} has no workers yet"
                status.heartbeat = utc_now()
                status.job = ", ".join(dispatcher.inflight) or None
                status.jobs_run = dispatcher.jobs_run
                write_json(workers / f"{DISPATCHER}.json", status)
            dispatcher.poll()
            busy = bool(dispatcher.inflight)
            if not stop.is_set() and dispatcher.checks:
                while dispatcher.capacity() > 0 or not dispatcher.qualified():
                    claimed = dispatcher.claim()
                    if claimed is None:
                        break
                    busy = True
                    dispatcher.dispatch(*claimed)
            if busy or store.queued():
                idle_since = time.monotonic()
            elif time.monotonic() - idle_since > idle_exit:
                break
            stop.wait(POLL_SECONDS)
    finally:
        dispatcher.release_all()
        dispatcher.close()
        with contextlib.suppress(OSError):
            os.close(fd)
    return 0
