"""What the jobs service takes and returns: one set of pydantic models for Python, REST, --json."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from jupyter_mlops.timestamps import Timestamp

JobState = Literal["queued", "running", "succeeded", "failed", "cancelled"]
FINAL_STATES: frozenset[str] = frozenset({"succeeded", "failed", "cancelled"})


class NotebookParameter(BaseModel):
    """One variable of a notebook's ``parameters`` cell."""

    name: str
    type: str = Field(description="int, float, bool, str, list, dict or None, from the default")
    default: str = Field(description="the default as written in the cell")
    help: str = ""


class NotebookParameters(BaseModel):
    """The parameters a notebook declares (papermill's ``parameters`` cell)."""

    notebook: str
    has_parameters_cell: bool
    parameters: list[NotebookParameter]
    experiment: str | None = Field(
        default=None,
        description="the experiment the notebook's first `%%mlops run` cell names: a job of it "
        "runs there unless told otherwise",
    )


class JobRequest(BaseModel):
    """Run a notebook as a job."""

    notebook: str = Field(description="path of the notebook, inside the workspace")
    parameters: dict[str, Any] = Field(default_factory=dict)
    experiment: str | None = Field(default=None, description="MLflow experiment of the job's run")
    run_name: str | None = None
    sweep: str | None = Field(default=None, description="the sweep the job belongs to")


class SweepRequest(BaseModel):
    """Run a notebook once per parameter set: a grid (every combination) or a list."""

    notebook: str
    grid: dict[str, list[Any]] = Field(default_factory=dict)
    sets: list[dict[str, Any]] = Field(default_factory=list)
    parameters: dict[str, Any] = Field(default_factory=dict, description="common to every job")
    experiment: str | None = None
    name: str | None = None


class CellError(BaseModel):
    """The cell a failed job stopped at."""

    index: int = Field(
        description="position of the cell among the notebook's own cells, 0-based (messages say "
        "cell index + 1, as JupyterLab numbers cells)"
    )
    execution_count: int | None = None
    source: str
    ename: str
    evalue: str
    traceback: list[str] = Field(default_factory=list)


class JobRecord(BaseModel):
    """What was asked (``job.json``, written once)."""

    id: str
    notebook: str = Field(description="workspace-relative path")
    parameters: dict[str, Any]
    experiment: str
    run_name: str | None = None
    sweep: str | None = None
    created: Timestamp
    parameters_cell: bool = True
    environment: dict[str, str] = Field(
        default_factory=dict,
        description="environment variables the job's first cell sets in its kernel",
    )
    tags: dict[str, str] = Field(
        default_factory=dict, description="tags set on the job's MLflow run when it is created"
    )
    workdir: str | None = Field(
        default=None,
        description="workspace-relative folder the notebook runs in (default: the notebook's "
        "own folder, as in JupyterLab)",
    )


class JobStatus(BaseModel):
    """What happened (``status.json``, rewritten atomically as the job goes)."""

    state: JobState = "queued"
    attempt: int = 0
    cells_done: int = 0
    cells_total: int = 0
    current_cell: int | None = None
    started: Timestamp | None = None
    finished: Timestamp | None = None
    run_id: str | None = None
    worker: str | None = Field(default=None, description="the slot or Dask worker that ran it")
    worker_pid: int | None = None
    kernel_pid: int | None = None
    error: CellError | None = None
    message: str | None = None
    interrupted: int = Field(default=0, description="times a worker died under it")
    cancel_requested: bool = False


class Job(BaseModel):
    """A job: what was asked and where it stands."""

    id: str
    notebook: str
    parameters: dict[str, Any]
    experiment: str
    run_name: str | None = None
    sweep: str | None = None
    created: Timestamp
    state: JobState
    cells_done: int = 0
    cells_total: int = 0
    current_cell: int | None = None
    started: Timestamp | None = None
    finished: Timestamp | None = None
    duration_seconds: float | None = None
    run_id: str | None = None
    output: str | None = Field(
        default=None, description="workspace-relative path of the executed notebook"
    )
    worker: str | None = None
    error: CellError | None = None
    message: str | None = None
    interrupted: int = 0
    warnings: list[str] = Field(default_factory=list)


class JobList(BaseModel):
    jobs: list[Job]


class Sweep(BaseModel):
    """A group of jobs over parameter sets."""

    id: str
    notebook: str
    experiment: str
    jobs: list[Job]


class WorkerCheck(BaseModel):
    """What one Dask worker lacks to run jobs of this workspace (nothing when ``ok``)."""

    address: str
    name: str | None = None
    host: str | None = None
    nthreads: int = 0
    ok: bool
    problems: list[str] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list, description="fine, but worth knowing")


class ExecutorCheck(BaseModel):
    """The up-front checks of the job executor: can jobs run, and where."""

    executor: str
    scheduler: str | None = Field(default=None, description="the Dask scheduler's address")
    ok: bool
    problems: list[str] = Field(default_factory=list)
    workers: list[WorkerCheck] = Field(default_factory=list)


class ExecutorState(BaseModel):
    """The local executor: its slots and whether a worker holds each."""

    executor: str
    slots: int
    busy: list[str] = Field(default_factory=list)
    alive: list[str] = Field(default_factory=list)
    ready: list[str] = Field(
        default_factory=list, description="slots idle with a warm kernel, ready for a job"
    )
    queued: int = 0


class JobsQuery(BaseModel):
    """``GET /jobs``: which jobs, newest first."""

    state: JobState | None = None
    sweep: str | None = None
    limit: int | None = Field(default=None, ge=1, le=10000)


class ParametersQuery(BaseModel):
    """``GET /jobs/parameters``: the notebook to read."""

    notebook: str = Field(description="path of the notebook, inside the workspace")


class RerunRequest(BaseModel):
    """Run a job's notebook again; ``parameters`` override the job's."""

    parameters: dict[str, Any] = Field(default_factory=dict)


class JobLog(BaseModel):
    """What a job's cells printed, cell by cell."""

    id: str
    state: JobState
    text: str
