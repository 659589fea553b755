"""Handlers of monitoring: status, drift, API metrics, quality, checks, events and feedback."""

from __future__ import annotations

from jupyter_mlops.monitoring.drift import DriftReport
from jupyter_mlops.monitoring.schemas import (
    ApiMetrics,
    CheckList,
    CheckReport,
    ChecksQuery,
    DriftQuery,
    EventList,
    EventsQuery,
    FeedbackRequest,
    FeedbackResult,
    LogInfo,
    MonitorStatusList,
    QualityReport,
    SchedulerState,
    WindowQuery,
)
from jupyter_mlops.monitoring.windows import Window
from jupyter_mlops.server.base import STORE_ERRORS, MlopsHandler, Operation, api, in_thread

TAGS = ["monitoring"]


def _window(q: WindowQuery, default: str) -> Window:
    window = q.window
    if window is None and q.start is None and q.last is None:
        window = default
    return Window.parse(window, start=q.start, end=q.end, last=q.last)


class MonitoringHandler(MlopsHandler):
    """``/mlops/api/monitoring``: every deployment at a glance, and the scheduler."""

    openapi_path = "/monitoring"
    operations = {
        "get": Operation(
            "Every deployment at a glance", MonitorStatusList, errors=STORE_ERRORS, tags=TAGS
        )
    }

    @api
    async def get(self) -> None:
        self.send(await in_thread(self.workspace.monitoring.status))


class SchedulerHandler(MlopsHandler):
    """``/mlops/api/monitoring/scheduler``: the process that runs the scheduled checks."""

    openapi_path = "/monitoring/scheduler"
    operations = {
        "get": Operation("The scheduler's state", SchedulerState, tags=TAGS),
        "post": Operation("Start the scheduler unless it runs", SchedulerState, tags=TAGS),
    }

    @api
    async def get(self) -> None:
        self.send(await in_thread(self.workspace.monitoring.scheduler_state))

    @api
    async def post(self) -> None:
        self.send(await in_thread(self.workspace.monitoring.ensure_scheduler))


class EventsHandler(MlopsHandler):
    """``/mlops/api/monitoring/events``: alert events of every deployment."""

    openapi_path = "/monitoring/events"
    operations = {
        "get": Operation(
            "Alert events of every deployment", EventList, query=EventsQuery, tags=TAGS
        )
    }

    @api
    async def get(self) -> None:
        q = self.query_model(EventsQuery)
        self.send(await in_thread(self.workspace.monitoring.events, None, q.since))


class DeploymentStatusHandler(MlopsHandler):
    """``/mlops/api/monitoring/deployments/{name}``: one deployment at a glance."""

    openapi_path = "/monitoring/deployments/{name}"
    operations = {
        "get": Operation(
            "One deployment at a glance", MonitorStatusList, errors=STORE_ERRORS, tags=TAGS
        )
    }

    @api
    async def get(self, name: str) -> None:
        self.send(await in_thread(self.workspace.monitoring.status, name))


class DriftHandler(MlopsHandler):
    """``.../monitoring/deployments/{name}/drift``: drift of a window against the reference."""

    openapi_path = "/monitoring/deployments/{name}/drift"
    operations = {
        "get": Operation(
            "Drift report over a window",
            DriftReport,
            query=DriftQuery,
            errors=STORE_ERRORS,
            tags=TAGS,
        )
    }

    @api
    async def get(self, name: str) -> None:
        q = self.query_model(DriftQuery)
        monitoring = self.workspace.monitoring
        window = _window(q, monitoring.window_for(name))
        reference = window.before(q.against) if q.against else None
        report = await in_thread(
            monitoring.drift, name, window, version=q.version, tests=q.test, reference=reference
        )
        self.send(report)


class MetricsHandler(MlopsHandler):
    """``/mlops/api/monitoring/deployments/{name}/metrics``: request rate, errors, latency."""

    openapi_path = "/monitoring/deployments/{name}/metrics"
    operations = {
        "get": Operation("API metrics over a window", ApiMetrics, query=WindowQuery, tags=TAGS)
    }

    @api
    async def get(self, name: str) -> None:
        q = self.query_model(WindowQuery)
        monitoring = self.workspace.monitoring
        window = _window(q, monitoring.window_for(name))
        self.send(await in_thread(monitoring.metrics, name, window))


class QualityHandler(MlopsHandler):
    """``.../monitoring/deployments/{name}/quality``: quality on predictions with feedback."""

    openapi_path = "/monitoring/deployments/{name}/quality"
    operations = {
        "get": Operation("Model quality over a window", QualityReport, query=WindowQuery, tags=TAGS)
    }

    @api
    async def get(self, name: str) -> None:
        q = self.query_model(WindowQuery)
        monitoring = self.workspace.monitoring
        window = _window(q, monitoring.window_for(name))
        self.send(await in_thread(monitoring.quality, name, window))


class ChecksHandler(MlopsHandler):
    """``.../monitoring/deployments/{name}/checks``: the time series; POST runs a check now."""

    openapi_path = "/monitoring/deployments/{name}/checks"
    operations = {
        "get": Operation("Stored checks, oldest first", CheckList, query=ChecksQuery, tags=TAGS),
        "post": Operation(
            "Run a check now: store it, raise or resolve alerts",
            CheckReport,
            query=WindowQuery,
            errors=STORE_ERRORS,
            status=201,
            tags=TAGS,
        ),
    }

    @api
    async def get(self, name: str) -> None:
        q = self.query_model(ChecksQuery)
        self.send(await in_thread(self.workspace.monitoring.checks, name, q.limit))

    @api
    async def post(self, name: str) -> None:
        q = self.query_model(WindowQuery)
        monitoring = self.workspace.monitoring
        window = _window(q, monitoring.window_for(name))
        self.send(await in_thread(monitoring.check, name, window), 201)


class CheckHandler(MlopsHandler):
    """``.../monitoring/deployments/{name}/checks/{check_id}``: one check and its evidence."""

    openapi_path = "/monitoring/deployments/{name}/checks/{check_id}"
    operations = {"get": Operation("One stored check", CheckReport, tags=TAGS)}

    @api
    async def get(self, name: str, check_id: str) -> None:
        self.send(await in_thread(self.workspace.monitoring.check_report, name, check_id))


class DeploymentEventsHandler(MlopsHandler):
    """``/mlops/api/monitoring/deployments/{name}/events``: one deployment's alert events."""

    openapi_path = "/monitoring/deployments/{name}/events"
    operations = {
        "get": Operation("A deployment's alert events", EventList, query=EventsQuery, tags=TAGS)
    }

    @api
    async def get(self, name: str) -> None:
        q = self.query_model(EventsQuery)
        self.send(await in_thread(self.workspace.monitoring.events, name, q.since))


class LogHandler(MlopsHandler):
    """``.../monitoring/deployments/{name}/log``: the prediction log's files and retention."""

    openapi_path = "/monitoring/deployments/{name}/log"
    operations = {
        "get": Operation(
            "What the prediction log holds; what retention dropped", LogInfo, tags=TAGS
        )
    }

    @api
    async def get(self, name: str) -> None:
        self.send(await in_thread(self.workspace.monitoring.log_info, name))


class FeedbackHandler(MlopsHandler):
    """``/mlops/api/monitoring/deployments/{name}/feedback``: ground truth by request id."""

    openapi_path = "/monitoring/deployments/{name}/feedback"
    operations = {
        "post": Operation(
            "Record ground truth by request id (the same feedback twice counts once)",
            FeedbackResult,
            body=FeedbackRequest,
            tags=TAGS,
        )
    }

    @api
    async def post(self, name: str) -> None:
        body = self.body_model(FeedbackRequest)
        self.send(await in_thread(self.workspace.monitoring.feedback, name, body.feedback))


HANDLERS: list[type[MlopsHandler]] = [
    MonitoringHandler,
    SchedulerHandler,
    EventsHandler,
    DeploymentStatusHandler,
    DriftHandler,
    MetricsHandler,
    QualityHandler,
    ChecksHandler,
    CheckHandler,
    DeploymentEventsHandler,
    LogHandler,
    FeedbackHandler,
]
