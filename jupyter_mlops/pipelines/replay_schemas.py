"""What a replay takes and returns: one set of pydantic models for Python, REST and --json."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from jupyter_mlops.jobs.schemas import JobState
from jupyter_mlops.timestamps import Timestamp

#: Where the replayed notebook came from: the executed notebook a job stored with the run, or
#: the snapshot a ``%%mlops run`` cell saved (the notebook as last saved, not as executed).
NotebookSource = Literal["job output", "notebook snapshot"]


class ReplayStarted(BaseModel):
    """A replay queued: the version's training run again, as a job, from its lineage."""

    job_id: str = Field(description="the job re-running the training")
    model: str
    version: int
    original_run_id: str
    notebook: str = Field(description="workspace-relative path of the replayed notebook's copy")
    notebook_source: NotebookSource
    workdir: str = Field(description="workspace-relative folder the notebook runs in")
    experiment: str
    parameters: dict[str, Any] = Field(description="the original run's parameter values")
    pins: dict[str, int] = Field(
        default_factory=dict, description="feature view -> the version its references read"
    )
    as_of: Timestamp = Field(description="ingested feature rows are read as of this moment")
    warnings: list[str] = Field(default_factory=list)


class MetricComparison(BaseModel):
    """One metric of the original run beside the replay's (the last value logged of each)."""

    metric: str
    original: float | None = Field(description="None: not logged, or not a finite number")
    replay: float | None
    equal: bool = Field(description="exactly the same value (no tolerance)")
    difference: float | None = Field(default=None, description="replay - original")


class ReplayReport(BaseModel):
    """Where a replay stands, and its metrics beside the original run's."""

    job_id: str
    model: str
    version: int
    original_run_id: str
    replay_run_id: str | None = None
    state: JobState
    message: str | None = Field(default=None, description="why the job failed, when it did")
    metrics: list[MetricComparison] = Field(default_factory=list)
    differ: list[str] = Field(
        default_factory=list, description="metrics whose values are not exactly equal"
    )
    matches: bool | None = Field(
        default=None,
        description="the replay succeeded and every metric is exactly equal (None until it ends)",
    )
    pins: dict[str, int] = Field(default_factory=dict)
    as_of: Timestamp
    warnings: list[str] = Field(default_factory=list)
