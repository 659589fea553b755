"""What deployments return: pydantic models shared by the CLI's JSON, REST and the panel."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

State = Literal["starting", "running", "updating", "degraded", "failed", "stopping", "stopped"]


class ServedVersion(BaseModel):
    """A model version a deployment serves and its traffic weight."""

    name: str
    version: int
    weight: float = 1.0
    ref: str = Field(default="", description="what the user asked for, e.g. churn@champion")


class Routing(BaseModel):
    """How a deployment splits traffic between its versions for an A/B experiment.

    The routing section of a :class:`~jupyter_mlops.serving.spec.ServerSpec`. With it, the
    served versions' weights are percentages of the answered requests and sum to 100 (without it
    they stay relative weights). A version of weight 0 answers nothing: with ``shadow`` it gets a
    copy of every request instead, logged with ``shadow=true``, and the answer is that of the
    versions with a weight. :func:`~jupyter_mlops.serving.spec.check_routing` says what else must
    hold.

    Sticky assignment: with ``sticky_key``, a request's key is the value of that column in its
    first row, else its ``x-sticky-key`` header; the key, hashed with the experiment id, picks the
    variant, so one key gets one variant on every replica and after restarts. A batch goes to one
    variant, chosen by its first row's key (its other rows' keys are not looked at): send one
    key's rows per request when each must be assigned on its own. A request with no key is
    assigned at random. A key column the model does not take is removed before the model sees
    the rows; a deployment without an experiment refuses such a column (an unknown input), so a
    client that outlives the experiment should send the ``x-sticky-key`` header, which any
    deployment takes.

    Example:
        >>> Routing(
        ...     experiment_id="exp-7",
        ...     variants={"champion": "churn:1", "challenger": "churn:2"},
        ...     sticky_key="user_id",
        ... )  # doctest: +SKIP
    """

    model_config = ConfigDict(extra="forbid")

    experiment_id: str = Field(
        min_length=1,
        max_length=200,
        description="opaque id of the experiment, stamped in the prediction log; it also seeds "
        "the sticky hash, so a new experiment reshuffles which key gets which variant",
    )
    variants: dict[str, str] = Field(
        min_length=2,
        description="variant name (champion, challenger or free names) -> the served version it "
        "is, as NAME:VERSION (e.g. churn:2); every served version is exactly one variant",
    )
    sticky_key: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="input column whose first-row value is the request's key (else the "
        "x-sticky-key header); None: every request is assigned at random",
    )
    shadow: bool = Field(
        default=False,
        description="versions of weight 0 get a copy of each request (logged with shadow=true); "
        "only the versions with a weight answer",
    )


class VariantRequest(BaseModel):
    """One arm of an experiment as asked for: a name, a model reference and its share."""

    model_config = ConfigDict(extra="forbid")

    variant: str = Field(min_length=1, max_length=64, description="e.g. champion, challenger")
    model: str = Field(min_length=1, description="NAME, NAME@ALIAS or NAME:VERSION")
    weight: float = Field(ge=0, le=100, description="percent of the answered requests")


class RouteRequest(BaseModel):
    """Serve several versions of a deployment as the variants of an experiment (zero downtime).

    Sent again with other weights, it moves traffic without a dropped request; ending the
    experiment is an ordinary update to one version.
    """

    model_config = ConfigDict(extra="forbid")

    experiment_id: str = Field(min_length=1, max_length=200)
    variants: list[VariantRequest] = Field(min_length=2)
    sticky_key: str | None = Field(default=None, min_length=1, max_length=200)
    shadow: bool = False


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
    grpc_url: str | None = Field(
        default=None,
        description="host:port of the Open Inference Protocol gRPC service (None: no gRPC)",
    )
    state: State
    replicas: int
    generation: int
    serving: list[ServedVersion]
    replica_processes: list[ReplicaInfo] = Field(default_factory=list)
    spare_pid: int | None = Field(
        default=None,
        description="the warm spare replica, waiting to replace a replica that dies (None: none)",
    )
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
    grpc_port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        description="port of the gRPC inference service; default: a free one; 0: no gRPC",
    )
    spare: bool | None = Field(
        default=None,
        description="with one replica, keep a warm spare replica; default: [serving] warm_spare",
    )


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
