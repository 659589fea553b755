"""A slot of the local executor: one detached process that runs queued jobs one at a time.

It imports papermill and MLflow once and keeps one kernel started ahead of the next job (a warm
kernel), so a short job pays neither a Python start nor a kernel start. A kernel serves exactly
one job and is shut down after it. The process holds ``workers/slot-N.lock`` for its life (so a
second worker for the same slot does not start) and each job's ``run.lock`` while running it.
It exits after ``idle_exit`` seconds without work, and on SIGTERM after the job it is running.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import signal
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from jupyter_mlops.jobs.cells import SETUP_TAG, is_users
from jupyter_mlops.jobs.schemas import CellError, JobRecord, JobStatus
from jupyter_mlops.jobs.store import JobLock, JobStore
from jupyter_mlops.lineage.tags import (
    FEATURES_AS_OF_ENV,
    FEATURES_PIN_ENV,
    JOB_ID_ENV,
    JOB_INTERRUPTED_TAG,
    JOB_OUTPUT_ARTIFACT,
    JOB_RUN_ENV,
    JOB_TAG,
    NOTEBOOK_TAG,
    ORIGIN_TAG,
    SOURCE_NAME_TAG,
    SOURCE_TYPE_TAG,
    SWEEP_TAG,
)
from jupyter_mlops.process import hold_lock, write_json
from jupyter_mlops.timestamps import Timestamp, utc_now

POLL_SECONDS = 0.02
RECOVER_SECONDS = 2.0
CANCELLED = "cancelled: its kernel was stopped"
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
#: Variables a job's kernel never inherits from the worker: they belong to one job (its run, or
#: a replay's pinned feature versions) and are set by that job's first cell only.
PER_JOB_ENV = frozenset({"JPY_SESSION_NAME", JOB_RUN_ENV, FEATURES_PIN_ENV, FEATURES_AS_OF_ENV})


class SlotStatus(BaseModel):
    """``workers/slot-N.json``: the worker of one slot."""

    slot: str
    pid: int
    started: Timestamp
    heartbeat: Timestamp
    job: str | None = None
    jobs_run: int = 0
    error: str | None = None
    ready: bool = Field(
        default=False, description="idle with a warm kernel: the next job starts at once"
    )


def slot_lock(folder: Path, slot: str) -> int | None:
    """Lock a slot for this process; None when another worker holds it."""
    return hold_lock(folder / f"{slot}.lock")


def slot_alive(folder: Path, slot: str) -> bool:
    """Whether some worker holds the slot's lock."""
    path = folder / f"{slot}.lock"
    if not path.exists():
        return False
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


class WarmKernel:
    """A Python kernel started before it is needed, in the workspace folder."""

    def __init__(self, cwd: Path) -> None:
        from jupyter_client.manager import KernelManager

        env = {k: v for k, v in os.environ.items() if k not in PER_JOB_ENV}
        # nbclient drives the kernel through km.client(): an asynchronous client, so that its
        # liveness poll runs while a cell executes (a blocking one would wait on a dead kernel
        # for ever after a cancel).
        self.km = KernelManager(
            kernel_name="python3",
            client_class="jupyter_client.asynchronous.AsyncKernelClient",
            **kernel_encryption(KernelManager),
        )
        self.km.start_kernel(cwd=str(cwd), env=env)
        kc = self.km.blocking_client()
        kc.start_channels()
        try:
            kc.wait_for_ready(timeout=60)
        finally:
            kc.stop_channels()

    @property
    def pid(self) -> int | None:
        provisioner = getattr(self.km, "provisioner", None)
        pid = getattr(provisioner, "pid", None)
        return int(pid) if pid else None

    def kill(self) -> None:
        with contextlib.suppress(Exception):
            self.km.shutdown_kernel(now=True)


def kernel_encryption(manager_class: type) -> dict[str, str]:
    """CurveZMQ keys for the kernels we start, when jupyter_client can provision them.

    ipykernel >= 7 logs "Kernel is running over TCP without encryption" at every start over
    plain TCP: true, and the first thing a user read in a job's log and the demo's output.
    ``auto`` provisions keys when the kernelspec declares ``curve`` (ipykernel's does) and starts
    the kernel unencrypted otherwise; jupyter_client < 8.10 has no such setting, and refuses
    ``auto`` without libzmq's curve support.
    """
    import zmq

    if not zmq.has("curve") or not hasattr(manager_class, "transport_encryption"):
        return {}
    return {"transport_encryption": "auto"}


def setup_cell(
    notebook: Path,
    job_id: str,
    run_id: str,
    *,
    workdir: Path | None = None,
    environment: Mapping[str, str] | None = None,
) -> Any:
    """The first cell of a job: the notebook's folder (or ``workdir``) as the working directory
    (as when a user runs it in JupyterLab), the job's run for ``%%mlops run`` cells to log into,
    and the job's own ``environment``."""
    import nbformat

    lines = [
        "# Added by jupyter-mlops: this job's working directory, MLflow run and environment.",
        "import os as _mlops_os",
        f"_mlops_os.chdir({str(workdir or notebook.parent)!r})",
    ]
    variables = {
        **(environment or {}),
        JOB_RUN_ENV: run_id,
        JOB_ID_ENV: job_id,
        "JPY_SESSION_NAME": str(notebook),
    }
    lines += [f"_mlops_os.environ[{name!r}] = {value!r}" for name, value in variables.items()]
    source = "\n".join([*lines, "del _mlops_os"])
    return nbformat.v4.new_code_cell(source, metadata={"tags": [SETUP_TAG]})


def _cell_error(exc: Any, nb: Any | None) -> CellError:
    """The failing cell, numbered as in the user's notebook: the cells papermill and we add
    (parameters, our setup cell, the error banner) are not counted."""
    index, position = 0, 0
    if nb is not None:
        for cell in nb.cells:
            if not is_users(cell):
                continue
            outputs = cell.get("outputs", []) if cell.cell_type == "code" else []
            if any(out.get("output_type") == "error" for out in outputs):
                index = position
            position += 1
    return CellError(
        index=index,
        execution_count=getattr(exc, "exec_count", None),
        source=str(getattr(exc, "source", "")),
        ename=str(getattr(exc, "ename", type(exc).__name__)),
        evalue=str(getattr(exc, "evalue", exc)),
        traceback=[_ANSI.sub("", str(t)) for t in getattr(exc, "traceback", [])],
    )


class JobRunner:
    """Runs one claimed job on a warm kernel and records everything about it."""

    def __init__(
        self, store: JobStore, root: Path, tracking: Any, worker: str, output_dir: str
    ) -> None:
        self.store = store
        self.root = root
        self.tracking = tracking
        self.worker = worker
        self.output_dir = output_dir

    def published(self, record: JobRecord) -> Path:
        """Where the executed notebook is kept in the workspace, for a user to open."""
        return self.root / self.output_dir / f"{Path(record.notebook).stem}-{record.id}.ipynb"

    def begin(self, job_id: str, *, kernel_pid: int | None = None) -> StartedJob | JobStatus:
        """Mark a claimed job running and start its MLflow run (tags, parameters). Returns the
        job's final status instead when it ends before running: job.json unreadable, a cancel
        already asked for, or a tracking store that refuses the run."""
        record = self.store.record(job_id)
        status = self.store.status(job_id)
        if record is None:
            status.state, status.message = "failed", "job.json is missing or unreadable"
            self.store.write_status(job_id, status)
            return status
        status.state = "running"
        status.attempt += 1
        status.started = utc_now()
        status.finished = None
        status.error = None
        status.worker, status.worker_pid, status.kernel_pid = self.worker, os.getpid(), kernel_pid
        if self.store.cancel_requested(job_id):
            return self._final(job_id, status, "cancelled", "cancelled before it started")
        self.store.write_status(job_id, status)
        notebook = self.root / record.notebook
        try:
            rec = self._start_run(record, notebook, job_id)
        except Exception as exc:
            return self._final(job_id, status, "failed", f"could not start its run: {exc}")
        status.run_id = rec.run_id
        self.store.write_status(job_id, status)
        output = self.store.job_dir(job_id) / "output.ipynb"
        return StartedJob(job_id, record, status, rec, notebook, output)

    def complete(
        self, job: StartedJob, state: str, run_status: str, message: str | None
    ) -> JobStatus:
        """Publish the executed notebook (when there is one), log it with the run, end the run
        with ``run_status`` and write the job's final ``state``."""
        if job.output.is_file():
            try:
                target = self.published(job.record)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(job.output, target)
            except OSError as exc:
                message = f"{message + '; ' if message else ''}executed notebook not copied: {exc}"
        self._finish_run(job.run, job.output, run_status)
        return self._final(job.job_id, job.status, state, message)

    def run(self, job_id: str, kernel: WarmKernel) -> JobStatus:
        import papermill
        from papermill.exceptions import PapermillExecutionError

        from jupyter_mlops.jobs.engine import ENGINE_NAME

        started = self.begin(job_id, kernel_pid=kernel.pid)
        if isinstance(started, JobStatus):
            return started
        status, notebook, output = started.status, started.notebook, started.output

        def on_progress(done: int, total: int, current: int | None) -> None:
            # one small atomic write per cell start and end: cheap next to any cell's work
            status.cells_done, status.cells_total, status.current_cell = done, total, current
            self.store.write_status(job_id, status)

        watcher = _CancelWatcher(self.store, job_id, kernel)
        watcher.start()
        state, message, run_status = "succeeded", None, "FINISHED"
        try:
            import nbformat

            from jupyter_mlops.jobs.params import assume_python

            nb = nbformat.read(str(notebook), as_version=4)
            assume_python(nb)
            record = started.record
            workdir = self.root / record.workdir if record.workdir else None
            nb.cells.insert(
                0,
                setup_cell(
                    notebook,
                    job_id,
                    started.run.run_id,
                    workdir=workdir,
                    environment=record.environment,
                ),
            )
            papermill.execute_notebook(
                nb,
                str(output),
                parameters=started.record.parameters,
                engine_name=ENGINE_NAME,
                km=kernel.km,
                progress_bar=False,
                request_save_on_cell_execute=True,
                on_progress=on_progress,
            )
        except PapermillExecutionError as exc:
            state, run_status = "failed", "FAILED"
            status.error = failed_cell(exc, output)
            message = f"cell {status.error.index + 1} raised {exc.ename}: {exc.evalue}"
        except BaseException as exc:  # a dead kernel (cancel, OOM), a broken notebook
            if watcher.cancelled:
                state, run_status, message = (
                    "cancelled",
                    "KILLED",
                    "cancelled: its kernel was stopped",
                )
            else:
                state, run_status = "failed", "FAILED"
                message = f"{type(exc).__name__}: {exc}"
                (output.parent / "worker-error.txt").write_text(traceback.format_exc())
        finally:
            watcher.stop()
        if watcher.cancelled and state != "cancelled":
            state, run_status, message = "cancelled", "KILLED", CANCELLED
        return self.complete(started, state, run_status, message)

    def _start_run(self, record: JobRecord, notebook: Path, job_id: str) -> Any:
        from jupyter_mlops.tracking.environment import environment_tags, git_state

        rec = self.tracking.start_run(record.experiment, record.run_name)
        tags = {
            ORIGIN_TAG: "job",
            NOTEBOOK_TAG: record.notebook,
            SOURCE_NAME_TAG: str(notebook),
            SOURCE_TYPE_TAG: "NOTEBOOK",
            **environment_tags(),
        }
        if record.sweep:
            tags[SWEEP_TAG] = record.sweep
        if self.tracking.run_config.record_git:
            # The notebook's own state too: a run of an uncommitted notebook is not clean.
            tags.update(git_state(notebook.parent, notebook))
        # The submitter's tags (a pipeline's, a replay's) may say more about the run's origin;
        # the job's own tag names the run back to the job, whatever they say.
        tags.update(record.tags)
        tags[JOB_TAG] = job_id
        rec.set_tags(tags)
        rec.log_params(record.parameters)
        rec.flush()
        return rec

    def _finish_run(self, rec: Any, output: Path, run_status: str) -> None:
        with contextlib.suppress(Exception):
            if output.is_file():
                rec.log_artifact(output, JOB_OUTPUT_ARTIFACT.rsplit("/", 1)[0])
        with contextlib.suppress(Exception):
            rec.backend.client.set_terminated(rec.run_id, status=run_status)

    def _final(self, job_id: str, status: JobStatus, state: str, message: str | None) -> JobStatus:
        status.state = state  # type: ignore[assignment]
        status.message = message
        status.finished = utc_now()
        status.current_cell = None
        status.kernel_pid = None
        self.store.write_status(job_id, status)
        return status


@dataclass
class StartedJob:
    """A job whose run has started: what :meth:`JobRunner.complete` needs to finish it."""

    job_id: str
    record: JobRecord
    status: JobStatus
    run: Any = field(repr=False)
    notebook: Path
    output: Path


def failed_cell(exc: Any, output: Path) -> CellError:
    """The cell a papermill execution stopped at, from the executed notebook it saved."""
    return _cell_error(exc, _read(output))


def _read(path: Path) -> Any | None:
    import nbformat

    try:
        return nbformat.read(str(path), as_version=4)
    except Exception:
        return None


class _CancelWatcher:
    """Stops the job's kernel once a cancel is asked for (the ``cancel`` file appears)."""

    def __init__(self, store: JobStore, job_id: str, kernel: WarmKernel) -> None:
        self.store, self.job_id, self.kernel = store, job_id, kernel
        self.cancelled = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)

    def _watch(self) -> None:
        while not self._stop.wait(0.1):
            if self.store.cancel_requested(self.job_id):
                self.cancelled = True
                pid = self.kernel.pid
                if pid:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                return


def _warm_imports(tracking: Any) -> None:
    """Pay for imports and the tracking store's connection before the first job, not in it."""
    import papermill  # noqa: F401
    from papermill.exceptions import PapermillExecutionError  # noqa: F401

    import jupyter_mlops.jobs.engine  # noqa: F401
    from jupyter_mlops.tracking.environment import environment_tags

    environment_tags()
    with contextlib.suppress(Exception):
        tracking.list_experiments()


def recover(store: JobStore, tracking: Any, requeue: int) -> list[str]:
    """Requeue or fail the jobs whose worker died (see :meth:`JobStore.recover`), and mark the
    runs of their interrupted attempts KILLED so no run stays RUNNING for ever."""
    touched = store.recover(requeue)
    for _, run_id in touched:
        if run_id is not None:
            with contextlib.suppress(Exception):
                tracking.client.set_tag(run_id, JOB_INTERRUPTED_TAG, "true")
                tracking.client.set_terminated(run_id, status="KILLED")
    return [job_id for job_id, _ in touched]


def serve_slot(
    store: JobStore,
    root: Path,
    slot: str,
    *,
    tracking_factory: Callable[[], Any],
    requeue: int,
    idle_exit: float,
    output_dir: str,
    lock_fd: int | None = None,
) -> int:
    """The worker loop of one slot (in its own process); ``lock_fd``: the slot's lock when the
    caller took it already (see :func:`slot_lock`)."""
    store.ensure()
    workers = store.workers_dir()
    fd = lock_fd if lock_fd is not None else slot_lock(workers, slot)
    if fd is None:
        return 0  # another worker serves this slot
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    status = SlotStatus(slot=slot, pid=os.getpid(), started=utc_now(), heartbeat=utc_now())
    write_json(workers / f"{slot}.json", status)
    tracking = tracking_factory()
    _warm_imports(tracking)
    runner = JobRunner(store, root, tracking, slot, output_dir)
    kernel: WarmKernel | None = None
    idle_since = time.monotonic()
    next_recover = 0.0
    try:
        while not stop.is_set():
            if kernel is None:
                kernel = WarmKernel(root)
                status.ready = True
                write_json(workers / f"{slot}.json", status)
            now = time.monotonic()
            if now >= next_recover:
                recover(store, tracking, requeue)
                next_recover = now + RECOVER_SECONDS
                status.heartbeat = utc_now()
                write_json(workers / f"{slot}.json", status)
            claimed: tuple[str, JobLock] | None = None
            for entry in store.queued():
                claimed = store.claim(entry)
                if claimed is not None:
                    break
            if claimed is None:
                if time.monotonic() - idle_since > idle_exit:
                    break
                stop.wait(POLL_SECONDS)
                continue
            job_id, lock = claimed
            status.job, status.ready = job_id, False
            write_json(workers / f"{slot}.json", status)
            try:
                runner.run(job_id, kernel)
            except Exception as exc:
                status.error = f"{job_id}: {type(exc).__name__}: {exc}"
            finally:
                kernel.kill()
                kernel = None
                store.release(job_id, lock)
            status.job = None
            status.jobs_run += 1
            idle_since = time.monotonic()
            write_json(workers / f"{slot}.json", status)
    finally:
        if kernel is not None:
            kernel.kill()
        with contextlib.suppress(OSError):
            os.close(fd)
    return 0
