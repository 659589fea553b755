"""Notebooks run as jobs: submit, sweep, follow, cancel, re-run.

A job is papermill running a notebook with parameters, on a slot of the local executor (see
:mod:`jupyter_mlops.jobs.worker`) or on a Dask cluster. The job owns one MLflow run: its
parameters are the notebook's, ``%%mlops run`` cells in the notebook log into it, the executed
notebook is stored with it, and it is tagged with the job's id (the job names the run back).
"""

from __future__ import annotations

import builtins
import contextlib
import itertools
import os
import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_mlops.config import JobsConfig
from jupyter_mlops.errors import (
    BackendUnavailable,
    Conflict,
    InvalidInput,
    NotFound,
    did_you_mean,
)
from jupyter_mlops.jobs.params import check_parameters, inspect_parameters
from jupyter_mlops.jobs.schemas import (
    FINAL_STATES,
    ExecutorState,
    Job,
    JobList,
    JobRecord,
    JobStatus,
    NotebookParameters,
    Sweep,
)
from jupyter_mlops.jobs.store import ID_LENGTH, JobStore, new_job_id
from jupyter_mlops.jobs.worker import recover, slot_alive
from jupyter_mlops.paths import inside
from jupyter_mlops.process import start_detached
from jupyter_mlops.timestamps import utc_now

if TYPE_CHECKING:
    from jupyter_mlops.jobs.schemas import ExecutorCheck
    from jupyter_mlops.tracking.service import TrackingService

MAX_SWEEP = 1000


class Jobs:
    """The jobs of one workspace."""

    def __init__(
        self,
        root: Path,
        folder: Path,
        tracking: TrackingService,
        config: JobsConfig,
        *,
        default_experiment: str,
        worker_command: tuple[str, list[str]] | None,
    ) -> None:
        self.root = root.resolve()
        self.store = JobStore(folder)
        self.tracking = tracking
        self.config = config
        self.default_experiment = default_experiment
        self.worker_command = worker_command

    # -- notebooks and parameters -----------------------------------------------------------------

    def _notebook(self, notebook: str | os.PathLike[str]) -> tuple[Path, str]:
        path = inside(self.root, notebook, must_exist=True)
        if path.suffix != ".ipynb" or not path.is_file():
            raise InvalidInput(
                f"{notebook} is not a notebook",
                hint="Give the path of a .ipynb file inside the workspace.",
                field="notebook",
            )
        return path, str(path.relative_to(self.root))

    def parameters(self, notebook: str | os.PathLike[str]) -> NotebookParameters:
        """The parameters a notebook declares in its ``parameters`` cell."""
        path, shown = self._notebook(notebook)
        return inspect_parameters(path, shown)

    # -- submitting -------------------------------------------------------------------------------

    def submit(
        self,
        notebook: str | os.PathLike[str],
        parameters: dict[str, Any] | None = None,
        *,
        experiment: str | None = None,
        run_name: str | None = None,
        from_text: bool = False,
        sweep: str | None = None,
        environment: dict[str, str] | None = None,
        tags: dict[str, str] | None = None,
        workdir: str | os.PathLike[str] | None = None,
    ) -> Job:
        """Queue a notebook with parameters and make sure workers run it.

        Args:
            from_text: the values are command-line text, converted to each parameter's type.
            environment: environment variables the job's first cell sets in its kernel (on
                either executor), e.g. the feature versions a replay pins.
            tags: tags of the job's MLflow run, set when the run is created (the job's own
                tag, ``mlops.job``, cannot be replaced).
            workdir: the folder the notebook runs in, inside the workspace (default: the
                notebook's folder, as in JupyterLab): a copy of a notebook kept elsewhere
                still finds the files its relative paths name.

        Raises:
            InvalidInput: a path outside the workspace, not a notebook, an unknown parameter
                (the message lists the notebook's), a value of the wrong type, an environment
                variable name that is not one.

        Example:
            >>> ws.jobs.submit("notebooks/train.ipynb", {"seed": 1},        # doctest: +SKIP
            ...                tags={"team": "growth"}, environment={"STAGE": "ci"})
        """
        record, warnings = self._record(
            notebook, parameters or {}, experiment, run_name, from_text, sweep
        )
        record.environment = _environment(environment or {})
        record.tags = _tags(tags or {})
        if workdir is not None:
            folder = inside(self.root, workdir, must_exist=True)
            if not folder.is_dir():
                raise InvalidInput(f"{workdir} is not a folder", field="workdir")
            record.workdir = str(folder.relative_to(self.root))
        self._check_reachable()
        # The tracking store and the experiment are created here, once, rather than by several
        # workers at the same moment.
        self.tracking.ensure_experiment(record.experiment)
        self.store.add(record)
        self.ensure_workers(self._needed())
        job = self._job(record, self.store.status(record.id))
        job.warnings = warnings
        return job

    def _record(
        self,
        notebook: str | os.PathLike[str],
        parameters: dict[str, Any],
        experiment: str | None,
        run_name: str | None,
        from_text: bool,
        sweep: str | None,
    ) -> tuple[JobRecord, list[str]]:
        path, shown = self._notebook(notebook)
        declared = inspect_parameters(path, shown)
        values, warnings = check_parameters(declared, parameters, from_text=from_text)
        record = JobRecord(
            id=new_job_id(),
            notebook=shown,
            parameters=values,
            experiment=experiment
            or declared.experiment
            or self.config.experiment
            or self.default_experiment,
            run_name=run_name,
            sweep=sweep,
            created=utc_now(),
            parameters_cell=declared.has_parameters_cell,
        )
        return record, warnings

    def sweep(
        self,
        notebook: str | os.PathLike[str],
        *,
        grid: dict[str, list[Any]] | None = None,
        sets: list[dict[str, Any]] | None = None,
        parameters: dict[str, Any] | None = None,
        experiment: str | None = None,
        name: str | None = None,
        from_text: bool = False,
    ) -> Sweep:
        """Queue one job per parameter set: every combination of ``grid``, or each of ``sets``,
        over the common ``parameters``. Every set is checked before any job is queued."""
        if bool(grid) == bool(sets):
            raise InvalidInput(
                "A sweep needs a grid or a list of parameter sets (one of them)",
                hint="e.g. grid={'n_estimators': [100, 200], 'seed': [1, 2, 3]}",
                field="grid",
            )
        combos: list[dict[str, Any]]
        if grid:
            for key, values in grid.items():
                if not isinstance(values, list) or not values:
                    raise InvalidInput(
                        f"The grid's {key!r} needs a non-empty list of values", field=key
                    )
            keys = list(grid)
            combos = [
                dict(zip(keys, vals, strict=True)) for vals in itertools.product(*grid.values())
            ]
        else:
            combos = [dict(s) for s in sets or []]
        if len(combos) > MAX_SWEEP:
            raise InvalidInput(
                f"The sweep has {len(combos)} parameter sets, more than {MAX_SWEEP}",
                hint="Split it into smaller sweeps.",
                field="grid",
            )
        sweep_id = name or f"sweep-{new_job_id()[-8:]}"
        records = [
            self._record(
                notebook, {**(parameters or {}), **combo}, experiment, None, from_text, sweep_id
            )
            for combo in combos
        ]
        self._check_reachable()
        self.tracking.ensure_experiment(records[0][0].experiment)
        for record, _ in records:
            self.store.add(record)
        self.ensure_workers(self._needed())
        jobs = [self._job(r, self.store.status(r.id)) for r, _ in records]
        return Sweep(
            id=sweep_id,
            notebook=records[0][0].notebook,
            experiment=records[0][0].experiment,
            jobs=jobs,
        )

    # -- reading ----------------------------------------------------------------------------------

    def _resolve(self, job_id: str) -> str:
        job_id = job_id.strip()
        if len(job_id) == ID_LENGTH and self.store.record(job_id) is not None:
            return job_id
        ids = self.store.ids()
        found = [i for i in ids if i.startswith(job_id) or i.endswith(job_id)] if job_id else []
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise Conflict(
                f"{job_id!r} names {len(found)} jobs",
                hint="Give more characters of the id.",
                field="job",
            )
        raise NotFound(
            f"There is no job {job_id!r}",
            hint=did_you_mean(job_id, ids, listing=None)
            or "List jobs with `jupyter mlops job list`.",
            field="job",
        )

    def get(self, job_id: str) -> Job:
        """One job (a unique prefix or suffix of its id is enough)."""
        self._recover()
        job_id = self._resolve(job_id)
        record = self.store.record(job_id)
        assert record is not None
        return self._job(record, self.store.status(job_id))

    def record(self, job_id: str) -> JobRecord:
        """What was asked of a job: its notebook, parameters, environment, run tags and folder
        (a unique prefix or suffix of its id is enough)."""
        job_id = self._resolve(job_id)
        return self.store.record(job_id) or _missing(job_id)

    def list(
        self, *, state: str | None = None, sweep: str | None = None, limit: int | None = None
    ) -> JobList:
        """Jobs, newest first."""
        self._recover()
        out = []
        for job_id in reversed(self.store.ids()):
            record = self.store.record(job_id)
            if record is None or (sweep and record.sweep != sweep):
                continue
            job = self._job(record, self.store.status(job_id))
            if state and job.state != state:
                continue
            out.append(job)
            if limit and len(out) >= limit:
                break
        return JobList(jobs=out)

    def output_path(self, record: JobRecord) -> Path:
        stem = Path(record.notebook).stem
        return self.root / self.config.output_dir / f"{stem}-{record.id}.ipynb"

    def _job(self, record: JobRecord, status: JobStatus) -> Job:
        output = self.store.job_dir(record.id) / "output.ipynb"
        published = self.output_path(record)
        shown = None
        if published.is_file():
            shown = str(published.relative_to(self.root))
        elif output.is_file():
            shown = str(output.relative_to(self.root))
        duration = None
        if status.started is not None:
            end = status.finished or utc_now()
            duration = (end - status.started).total_seconds()
        return Job(
            id=record.id,
            notebook=record.notebook,
            parameters=record.parameters,
            experiment=record.experiment,
            run_name=record.run_name,
            sweep=record.sweep,
            created=record.created,
            state=status.state,
            cells_done=status.cells_done,
            cells_total=status.cells_total,
            current_cell=status.current_cell,
            started=status.started,
            finished=status.finished,
            duration_seconds=duration,
            run_id=status.run_id,
            output=shown,
            worker=status.worker,
            error=status.error,
            message=status.message,
            interrupted=status.interrupted,
        )

    def log(self, job_id: str) -> str:
        """What the job's cells printed, cell by cell, from the executed notebook."""
        job = self.get(job_id)
        path = self.store.job_dir(job.id) / "output.ipynb"
        if not path.is_file():
            return f"job {job.id} is {job.state}: no output yet\n"
        import nbformat

        nb = nbformat.read(str(path), as_version=4)
        lines = []
        from jupyter_mlops.jobs.cells import is_users

        users = [c for c in nb.cells if is_users(c)]
        for i, cell in enumerate(users):
            if cell.cell_type != "code":
                continue
            first = cell.source.strip().splitlines()[0] if cell.source.strip() else ""
            lines.append(f"--- cell {i} [{cell.get('execution_count') or ' '}] {first[:70]}")
            for out in cell.get("outputs", []):
                kind = out.get("output_type")
                if kind == "stream":
                    lines.append(out.get("text", "").rstrip("\n"))
                elif kind == "error":
                    lines.append(f"{out.get('ename')}: {out.get('evalue')}")
                elif kind in ("execute_result", "display_data"):
                    text = out.get("data", {}).get("text/plain")
                    if text:
                        lines.append(str(text).rstrip("\n"))
        if job.message:
            lines.append(f"--- {job.state}: {job.message}")
        return "\n".join(lines) + "\n"

    # -- changing ---------------------------------------------------------------------------------

    def cancel(self, job_id: str, *, wait: float = 10.0) -> Job:
        """Cancel a queued job, or stop a running one's kernel. A finished job is a conflict."""
        job = self.get(job_id)
        if job.state in FINAL_STATES:
            raise Conflict(
                f"Job {job.id} already {job.state}",
                hint="Only a queued or running job can be cancelled.",
                field="job",
            )
        self.store.request_cancel(job.id)
        if self.store.unqueue(job.id):
            lock = self.store.lock(job.id)
            if lock.acquire():
                try:
                    status = self.store.status(job.id)
                    status.state = "cancelled"
                    status.finished = utc_now()
                    status.message = "cancelled while queued"
                    self.store.write_status(job.id, status)
                finally:
                    lock.release()
            return self.get(job.id)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            current = self.get(job.id)
            if current.state in FINAL_STATES:
                return current
            time.sleep(0.05)
        return self.get(job.id)

    def rerun(
        self, job_id: str, parameters: dict[str, Any] | None = None, *, from_text: bool = False
    ) -> Job:
        """Queue a job's notebook again, with its parameters updated by ``parameters`` (its
        environment, run tags and working folder kept)."""
        job = self.get(job_id)
        record = self.record(job.id)
        return self.submit(
            job.notebook,
            {**job.parameters, **(parameters or {})},
            experiment=job.experiment,
            run_name=job.run_name,
            from_text=from_text,
            sweep=job.sweep,
            environment=record.environment,
            tags=record.tags,
            workdir=record.workdir,
        )

    def wait(
        self,
        job_id: str,
        *,
        timeout: float | None = None,
        on_progress: Callable[[Job], None] | None = None,
        poll: float = 0.02,
    ) -> Job:
        """Block until the job is succeeded, failed or cancelled (or ``timeout`` passes)."""
        job = self.get(job_id)
        deadline = None if timeout is None else time.monotonic() + timeout
        last = None
        while True:
            status = self.store.status(job.id)
            key = (status.state, status.cells_done, status.cells_total)
            if key != last:
                last = key
                job = self._job(self.store.record(job.id) or _missing(job.id), status)
                if on_progress is not None:
                    on_progress(job)
            if status.state in FINAL_STATES:
                return job
            if deadline is not None and time.monotonic() > deadline:
                return job
            time.sleep(poll)

    def _recover(self) -> None:
        """Requeue (or fail) jobs whose worker died, and start workers when jobs wait with
        none to run them (after a reboot, or after workers were killed)."""
        recover(self.store, self.tracking, self.config.requeue_interrupted)
        if self.store.queued() and self.worker_command is not None:
            state = self.executor_state()
            if len(state.alive) < state.slots:
                self.ensure_workers(self._needed())

    def resume(self) -> ExecutorState:
        """What the Jupyter server does when it starts: recover interrupted jobs and start
        workers for queued ones."""
        self._recover()
        return self.executor_state()

    # -- the executor -----------------------------------------------------------------------------

    #: Until when (monotonic seconds) the Dask scheduler counts as reachable without a check.
    _reachable_until: float = 0.0

    @property
    def _on_dask(self) -> bool:
        return self.config.executor != "local"

    def _slots(self) -> builtins.list[str]:
        if self._on_dask:
            from jupyter_mlops.jobs.dask_executor import DISPATCHER

            return [DISPATCHER]
        return [f"slot-{i}" for i in range(1, self.config.slots + 1)]

    def _check_reachable(self) -> None:
        """On the Dask executor, refuse a job before queueing it when nothing answers at the
        scheduler's address (a TCP connect, at most 5 s; a success is trusted for 30 s)."""
        if not self._on_dask or time.monotonic() < self._reachable_until:
            return
        from jupyter_mlops.jobs.dask_cluster import check_reachable

        check_reachable(self.config.executor)
        self._reachable_until = time.monotonic() + 30.0

    def check_executor(self) -> ExecutorCheck:
        """The up-front checks of ``[jobs] executor``: on Dask, that the scheduler answers and
        which workers can import papermill and jupyter-mlops, start a kernel, read the tracking
        store and write to the artifact location (with what each one lacks).

        Example:
            >>> ws.jobs.check_executor().ok  # doctest: +SKIP
            True
        """
        from jupyter_mlops.jobs.dask_cluster import check_executor
        from jupyter_mlops.jobs.schemas import ExecutorCheck

        if not self._on_dask:
            return ExecutorCheck(executor=self.config.executor, ok=True)
        # Workers read the experiment of job runs: it exists (and so does an embedded store)
        # before they look.
        experiment = self.config.experiment or self.default_experiment
        self.tracking.ensure_experiment(experiment)
        backend = self.tracking.backend
        return check_executor(
            self.config.executor,
            tracking_uri=backend.tracking_uri,
            artifact_location=backend.artifact_location,
            experiment=experiment,
            root=str(self.root),
        )

    def executor_state(self) -> ExecutorState:
        workers = self.store.workers_dir()
        alive = [s for s in self._slots() if slot_alive(workers, s)]
        ready = [s for s in alive if _slot_ready(workers, s)]
        busy = [s.removeprefix("claimed/") for s in self.store.iter_claimed()]
        return ExecutorState(
            executor=self.config.executor,
            slots=len(self._slots()),
            alive=alive,
            ready=ready,
            busy=busy,
            queued=len(self.store.queued()),
        )

    def _needed(self) -> int:
        """Workers the queue needs now: one per running or queued job, at most one per slot."""
        return len(self.store.queued()) + sum(1 for _ in self.store.iter_claimed())

    def ensure_workers(self, count: int | None = None) -> ExecutorState:
        """Start workers until ``count`` slots have one (None: every slot); they exit when idle.
        On Dask, the one dispatcher that runs the queue on the cluster.

        Submitting asks for as many as there are jobs to run, so one job starts one worker and
        one warm kernel, not one per slot: an idle worker holds a Python process, MLflow and a
        kernel (about 200 MB) for ``idle_exit`` seconds."""
        if self.worker_command is None:
            raise InvalidInput("This process cannot start job workers")
        self.store.ensure()
        workers = self.store.workers_dir()
        module, args = self.worker_command
        slots = self._slots()
        want = len(slots) if count is None else min(max(count, 0), len(slots))
        alive = sum(1 for slot in slots if slot_alive(workers, slot))
        for slot in slots:
            if alive >= want:
                break
            if not slot_alive(workers, slot):
                alive += 1
                log = workers / f"{slot}.log"
                try:
                    start_detached(module, [*args, slot], cwd=self.root, log=log, env=os.environ)
                except (OSError, subprocess.SubprocessError) as exc:
                    # The queue keeps the job; say why nothing will run it yet.
                    tail = log.read_text(errors="replace")[-600:] if log.exists() else ""
                    raise BackendUnavailable(
                        f"The job worker for {slot} did not start: {exc}",
                        hint=f"The job is queued and runs once a worker starts. Its log "
                        f"({log}) ends with: {tail.strip() or '(empty)'}",
                    ) from exc
        return self.executor_state()

    def stop_workers(self, timeout: float = 15.0) -> ExecutorState:
        """SIGTERM every worker of this workspace, those still starting included (found by
        their command line); each finishes the job it runs first."""
        import signal

        from jupyter_mlops.process import pids_of

        def workers() -> list[int]:
            if self.worker_command is None:
                return []
            module, args = self.worker_command
            return pids_of(module, *args)

        for pid in workers():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and workers():
            time.sleep(0.05)
        return self.executor_state()


def _slot_ready(workers: Path, slot: str) -> bool:
    from jupyter_mlops.jobs.worker import SlotStatus
    from jupyter_mlops.process import read_json

    status = read_json(workers / f"{slot}.json", SlotStatus)
    return isinstance(status, SlotStatus) and status.ready


def _missing(job_id: str) -> JobRecord:
    raise NotFound(f"Job {job_id} lost its job.json", field="job")


_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _environment(values: dict[str, str]) -> dict[str, str]:
    bad = [name for name in values if not isinstance(name, str) or not _ENV_NAME.match(name)]
    if bad:
        raise InvalidInput(
            f"{', '.join(map(repr, bad))} cannot name an environment variable",
            hint="Use letters, digits and '_', not starting with a digit.",
            field="environment",
        )
    return {name: str(value) for name, value in values.items()}


def _tags(values: dict[str, str]) -> dict[str, str]:
    bad = [name for name in values if not isinstance(name, str) or not name.strip()]
    if bad:
        raise InvalidInput("A run tag needs a non-empty name", field="tags")
    return {name: str(value) for name, value in values.items()}
