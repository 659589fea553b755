"""What monitoring returns: pydantic models shared by the CLI's JSON, REST, the panel and the
dashboard. Times are aware UTC datetimes (:data:`jupyter_mlops.timestamps.Timestamp`)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from jupyter_mlops.monitoring.drift import DriftReport
from jupyter_mlops.timestamps import Timestamp

AlertKind = Literal[
    "drift_share", "feature_drift", "error_rate", "latency", "quality", "stale_features"
]


class WindowSpan(BaseModel):
    """The part of a prediction log a figure was computed on."""

    start: Timestamp | None = Field(default=None, description="first time included")
    end: Timestamp | None = Field(default=None, description="last time included")
    last: int | None = Field(default=None, description="the last N predicted rows, when asked")
    label: str = Field(description="how the window was asked for: '1h', '2026-...', 'last 500'")


class VersionMetrics(BaseModel):
    """API figures of one served version (or of all of them: version None) over a window."""

    model: str
    version: int | None = None
    requests: int
    rows: int
    errors: int
    error_rate: float | None = Field(description="share of requests answered with status >= 400")
    errors_by_status: dict[str, int] = Field(default_factory=dict)
    request_rate: float | None = Field(default=None, description="requests per second")
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None
    latency_p99_ms: float | None = None


class ApiMetrics(BaseModel):
    """Request rate, errors and latency from the prediction log, per version and overall."""

    deployment: str
    window: WindowSpan
    overall: VersionMetrics
    versions: list[VersionMetrics]


class QualityMetrics(BaseModel):
    """Model quality on the predictions that got ground truth, per version and overall."""

    model: str
    version: int | None = None
    kind: Literal["classifier", "regressor"]
    labelled: int = Field(description="predicted rows with feedback")
    metrics: dict[str, float | None] = Field(
        description="accuracy, precision, recall, roc_auc, log_loss (classifier); rmse, mae, r2"
    )


class QualityReport(BaseModel):
    deployment: str
    window: WindowSpan
    predicted: int = Field(description="predicted rows in the window")
    labelled: int = Field(description="of which with feedback")
    overall: QualityMetrics | None = None
    versions: list[QualityMetrics] = Field(default_factory=list)
    message: str | None = None


class FeedbackItem(BaseModel):
    """Ground truth for one predicted row."""

    request_id: str = Field(min_length=1, max_length=200)
    row: int = Field(default=0, ge=0, description="the row within the request (0 for one row)")
    label: Any = Field(description="the true value: a class label or a number")


class FeedbackRequest(BaseModel):
    feedback: list[FeedbackItem] = Field(min_length=1, max_length=100_000)


class FeedbackResult(BaseModel):
    accepted: int = Field(description="new feedback recorded")
    duplicates: int = Field(description="feedback already recorded before (counted once)")


class StaleView(BaseModel):
    view: str
    version: int | None = None
    stale: bool
    last_event: Timestamp | None = None
    ttl_seconds: float | None = None


class AlertEvent(BaseModel):
    """A threshold crossed (``firing``) or back within it (``resolved``), with its evidence."""

    id: str = Field(description="time-ordered id")
    deployment: str
    time: Timestamp
    kind: AlertKind
    state: Literal["firing", "resolved"]
    subject: str = Field(default="", description="the feature, metric or view concerned")
    value: float | None = None
    threshold: float | None = None
    message: str
    window: WindowSpan
    report_id: str = Field(description="the check whose report holds the evidence")
    delivered: bool | None = Field(
        default=None, description="POSTed to the webhook (None: no webhook configured)"
    )
    delivery_error: str | None = None


class EventList(BaseModel):
    events: list[AlertEvent]


class CheckSummary(BaseModel):
    """One point of a deployment's monitoring time series."""

    id: str
    deployment: str
    time: Timestamp
    window: WindowSpan
    rows: int
    drift_share: float | None = None
    drifted: list[str] = Field(default_factory=list)
    requests: int = 0
    error_rate: float | None = None
    latency_p95_ms: float | None = None
    quality: dict[str, float | None] = Field(default_factory=dict)
    stale_views: list[str] = Field(default_factory=list)
    firing: list[str] = Field(default_factory=list, description="alerts firing after the check")


class CheckReport(BaseModel):
    """Everything one check of a deployment found, as stored."""

    summary: CheckSummary
    metrics: ApiMetrics
    drift: DriftReport | None = None
    quality: QualityReport | None = None
    freshness: list[StaleView] = Field(default_factory=list)
    events: list[AlertEvent] = Field(default_factory=list, description="raised by this check")
    message: str | None = None


class CheckList(BaseModel):
    """A deployment's checks, oldest first: the monitoring time series."""

    deployment: str
    checks: list[CheckSummary]


class MonitorStatus(BaseModel):
    """How a deployment is doing, at a glance."""

    deployment: str
    state: str = Field(description="the deployment's state (running, stopped, ...)")
    serving: list[str] = Field(default_factory=list, description="name:version served")
    request_rate: float | None = None
    error_rate: float | None = None
    latency_p95_ms: float | None = None
    drift_share: float | None = None
    drifted: list[str] = Field(default_factory=list)
    firing: list[str] = Field(default_factory=list, description="alerts firing now")
    last_check: Timestamp | None = None
    interval_seconds: float
    window: str


class MonitorStatusList(BaseModel):
    deployments: list[MonitorStatus]
    scheduler: SchedulerState


class SchedulerState(BaseModel):
    """The workspace's scheduler process, which checks every deployment on its interval."""

    running: bool
    pid: int | None = None
    started: Timestamp | None = None
    heartbeat: Timestamp | None = None
    error: str | None = None


class DroppedFile(BaseModel):
    """A file of the prediction log that retention dropped."""

    file: str
    requests: int
    rows: int
    bytes: int
    reason: str = Field(description="max_age_days or max_size_mb")
    first: Timestamp
    last: Timestamp
    time: Timestamp = Field(description="when it was dropped")


class LogInfo(BaseModel):
    """What a deployment's prediction log holds now, and what retention dropped."""

    deployment: str
    folder: str
    parquet_files: int
    parquet_bytes: int
    pending_segments: int = Field(description="JSON-lines segments not compacted yet")
    pending_bytes: int
    first: Timestamp | None = Field(default=None, description="oldest compacted record")
    last: Timestamp | None = Field(default=None, description="newest compacted record")
    max_age_days: float
    max_size_mb: float
    dropped: list[DroppedFile] = Field(default_factory=list)


class WindowQuery(BaseModel):
    """Which window of the prediction log: a duration ending now, a time range, or the last N
    predicted rows. Nothing given: the deployment's configured window."""

    window: str | None = Field(default=None, description="a duration: 15m, 1h, 1d")
    start: Timestamp | None = None
    end: Timestamp | None = None
    last: int | None = Field(default=None, ge=1, le=100_000_000)


class DriftQuery(WindowQuery):
    version: int | None = Field(default=None, ge=1, description="served version to compare with")
    test: str | None = Field(default=None, description="one drift test for every feature")
    against: str | None = Field(
        default=None,
        description="compare with the window of this duration just before, not the profile",
    )


class ChecksQuery(BaseModel):
    limit: int | None = Field(default=None, ge=1, le=100_000)


class EventsQuery(BaseModel):
    since: Timestamp | None = None


MonitorStatusList.model_rebuild()
