"""What deployments return: pydantic models shared by the CLI's JSON, REST and the panel."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

State = Literal["starting", "running", "updating", "degraded", "failed", "stopping", "stopped"]


class ServedVersion(BaseModel):
    """A model version a deployment serves and its traffic weight."""

    name: str
    version: int
    weight: float = 1.0
    ref: str = Field(default="", description="what the user asked for, e.g. churn@champion")


class ReplicaInfo(BaseModel):
    slot: int
    pid: int
    generation: int
    started: float


class DeploymentStats(BaseModel):
    """Traffic since the previous look (live) and since the start (totals)."""

    requests_total: int = 0
    errors_total: int = 0
    rows_total: int = 0
    interval_seconds: float | None = None
    request_rate: float | None = Field(default=None, description="requests/s over the interval")
    error_rate: float | None = Field(default=None, description="share of requests that failed")
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None


class DeploymentInfo(BaseModel):
    """A local deployment: where it answers, what it serves and how it is doing."""

    name: str
    url: str
    host: str
    port: int
    state: State
    replicas: int
    generation: int
    serving: list[ServedVersion]
    replica_processes: list[ReplicaInfo] = Field(default_factory=list)
    restarts: int = 0
    error: str | None = None
    created: float
    updated: float
    folder: str


class DeployRequest(BaseModel):
    """Deploy a registered model version."""

    model: str = Field(min_length=1, description="NAME, NAME@ALIAS or NAME:VERSION")
    name: str | None = Field(default=None, description="deployment name; default: the model name")
    replicas: int = Field(default=1, ge=1, le=16)
    port: int | None = Field(default=None, ge=1, le=65535)


class UpdateRequest(BaseModel):
    """Move a deployment to another version (zero downtime)."""

    model: str = Field(min_length=1)
    replicas: int | None = Field(default=None, ge=1, le=16)


class DeploymentList(BaseModel):
    """Every deployment of the workspace, running or not."""

    deployments: list[DeploymentInfo]


class DeploymentLogs(BaseModel):
    """The tail of the supervisor's and replicas' logs."""

    name: str
    text: str
