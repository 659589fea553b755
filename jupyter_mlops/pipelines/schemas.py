"""What the pipelines service takes and returns: one set of pydantic models for Python, REST and
``--json``.

A pipeline is declared (:class:`PipelineSpec`, in ``mlops.toml`` or ``pipelines/*.py``), planned
and applied (:class:`PipelinePlan`), and then runs on its triggers: each trigger event
(:class:`TriggerEvent`) either starts a :class:`PipelineRun` or is absorbed by the one going.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from jupyter_mlops.monitoring.schemas import AlertKind, SchedulerState
from jupyter_mlops.timestamps import Timestamp

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$"

TriggerKind = Literal["schedule", "ingest", "freshness", "alert", "manual"]
#: The kinds a pipeline may declare (``manual`` needs no declaration: every pipeline has it).
DECLARED_TRIGGER_KINDS: tuple[str, ...] = ("schedule", "ingest", "freshness", "alert")


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ScheduleTrigger(_Spec):
    """A cron schedule: five fields (minute hour day month weekday), or ``@daily``-style."""

    kind: Literal["schedule"] = "schedule"
    cron: str = Field(description="e.g. '0 3 * * 1' (Mondays at 03:00)")
    timezone: str = Field(default="UTC", description="IANA zone the schedule is read in")


class IngestTrigger(_Spec):
    """New rows ingested into a feature view (each batch is one event)."""

    kind: Literal["ingest"] = "ingest"
    view: str


class FreshnessTrigger(_Spec):
    """A feature view's newest row gets older than its TTL (fires once per crossing)."""

    kind: Literal["freshness"] = "freshness"
    view: str


class AlertTrigger(_Spec):
    """A monitoring alert that starts firing on a deployment."""

    kind: Literal["alert"] = "alert"
    deployment: str
    alerts: list[AlertKind] = Field(
        default_factory=list, description="alert kinds that count; empty: any alert"
    )


Trigger = Annotated[
    ScheduleTrigger | IngestTrigger | FreshnessTrigger | AlertTrigger,
    Field(discriminator="kind"),
]


class AbTestStep(_Spec):
    """After registration: an A/B test of the challenger against the deployment's champion."""

    deployment: str
    split: list[float] = Field(
        default_factory=lambda: [90.0, 10.0], description="champion/challenger percent"
    )
    sticky_key: str | None = None
    metric: str = "converted"
    kind: Literal["binary", "numeric"] = "binary"
    promote: bool = Field(
        default=False,
        description="promote the challenger when the test concludes in its favour with "
        "guardrails met (and keep the champion when it concludes against)",
    )
    max_error_rate_increase: float = Field(
        default=0.01, ge=0, description="guardrail: challenger error rate minus champion's"
    )
    max_latency_ratio: float = Field(
        default=1.5, gt=0, description="guardrail: challenger p95 latency over the champion's"
    )


class PipelineSpec(_Spec):
    """One pipeline: a training notebook, its gates, and what happens to a model that passes.

    Example (``pipelines/churn.py``):
        >>> Pipeline(
        ...     name="churn-retrain",
        ...     notebook="notebooks/train_churn.ipynb",
        ...     model="churn",
        ...     parameters={"n_estimators": 80},
        ...     gates=["roc_auc>=champion-0.01"],
        ...     triggers=[OnAlert("churn", alerts=["drift_share"]), Schedule("0 3 * * 1")],
        ...     abtest=ABTest("churn", split=[90, 10], promote=True),
        ... )                                                     # doctest: +SKIP
    """

    name: str = Field(pattern=NAME_PATTERN)
    notebook: str = Field(description="workspace-relative path of the training notebook")
    model: str = Field(description="the registered model a passing run is registered as")
    parameters: dict[str, Any] = Field(default_factory=dict)
    experiment: str | None = None
    gates: list[str] = Field(
        default_factory=list, description="checks in the `ci` language, e.g. 'auc>=champion'"
    )
    triggers: list[Trigger] = Field(default_factory=list)
    alias: str = Field(default="challenger", description="alias given to a passing version")
    abtest: AbTestStep | None = None
    debounce_seconds: float = Field(
        default=60.0,
        ge=0,
        description="events within this long of a run's start are absorbed by it",
    )
    timeout_seconds: float = Field(default=3600.0, gt=0, description="the job's longest run")
    description: str = ""


class DeclaredPipeline(BaseModel):
    """A spec and where it was declared (``mlops.toml`` or ``pipelines/<file>.py``)."""

    spec: PipelineSpec
    source: str


# -- plan and apply --------------------------------------------------------------------------------


class PipelineChange(BaseModel):
    name: str
    action: Literal["create", "update", "unchanged", "remove"]
    version: int | None = Field(default=None, description="the version applying makes or keeps")
    source: str = ""
    diff: list[str] = Field(default_factory=list)


class PipelinePlan(BaseModel):
    """What applying the declarations would change, like ``features plan``."""

    changes: list[PipelineChange]
    applied: bool = False

    @property
    def has_changes(self) -> bool:
        return any(c.action != "unchanged" for c in self.changes)

    def __str__(self) -> str:
        marks = {"create": "+", "unchanged": "=", "remove": "-"}
        lines: list[str] = []
        for c in self.changes:
            after = f" -> v{c.version}" if c.version and c.action in ("create", "update") else ""
            where = f" ({c.source})" if c.source else ""
            lines.append(f"{marks.get(c.action, '~')} pipeline {c.name}: {c.action}{after}{where}")
            lines.extend(f"    {d}" for d in c.diff)
        if not self.changes:
            lines.append("No pipelines declared (mlops.toml [pipeline.NAME] or pipelines/*.py).")
        elif not self.has_changes:
            lines.append("No changes.")
        if self.applied and self.has_changes:
            lines.append("Applied.")
        return "\n".join(lines)


# -- events and runs -------------------------------------------------------------------------------

EventOutcome = Literal["started", "absorbed", "missed", "disabled"]


class TriggerEvent(BaseModel):
    """Something that asked a pipeline to run, and what came of it."""

    id: str = Field(description="deterministic per source: the same event is never taken twice")
    pipeline: str
    kind: TriggerKind
    time: Timestamp = Field(description="when it happened (the alert, the batch, the tick)")
    received: Timestamp = Field(description="when the pipeline took it")
    summary: str
    evidence: dict[str, Any] = Field(
        default_factory=dict,
        description="alert: event id, report id, value, threshold; ingest: batch file, rows; "
        "schedule: the tick; manual: who",
    )
    outcome: EventOutcome
    run_id: str | None = Field(default=None, description="the run it started or joined")
    note: str | None = None


StepName = Literal["job", "gates", "register", "alias", "abtest", "promote"]
StepState = Literal["pending", "running", "waiting", "succeeded", "failed", "skipped"]
RunState = Literal["running", "waiting", "succeeded", "failed", "cancelled"]
FINAL_RUN_STATES: frozenset[str] = frozenset({"succeeded", "failed", "cancelled"})


class RunStep(BaseModel):
    name: StepName
    state: StepState = "pending"
    started: Timestamp | None = None
    ended: Timestamp | None = None
    detail: str = ""
    data: dict[str, Any] = Field(default_factory=dict)


class PipelineRun(BaseModel):
    """One run of a pipeline: the event that started it and each step's outcome
    (``.mlops/pipelines/runs/<id>.json``)."""

    id: str
    pipeline: str
    pipeline_version: int
    state: RunState = "running"
    created: Timestamp
    ended: Timestamp | None = None
    trigger: TriggerEvent
    absorbed: int = Field(default=0, description="later events this run absorbed")
    steps: list[RunStep]
    job_id: str | None = None
    run_id: str | None = Field(default=None, description="the MLflow run of the job")
    model: str
    model_version: int | None = None
    abtest_id: str | None = None
    message: str | None = None

    def step(self, name: StepName) -> RunStep:
        return next(s for s in self.steps if s.name == name)


class PipelineRunList(BaseModel):
    runs: list[PipelineRun]


class TriggerEventList(BaseModel):
    events: list[TriggerEvent]


class TriggerInfo(BaseModel):
    """A declared trigger, in words, with its next firing for a schedule."""

    kind: TriggerKind
    text: str
    next_fire: Timestamp | None = None


class PipelineInfo(BaseModel):
    """An applied pipeline: its spec, state and last run."""

    name: str
    version: int
    enabled: bool
    source: str
    applied: Timestamp
    spec: PipelineSpec
    triggers: list[TriggerInfo]
    last_run: PipelineRun | None = None
    active_run: str | None = Field(default=None, description="the run going, if any")
    runs: int = 0


class PipelineList(BaseModel):
    pipelines: list[PipelineInfo]
    scheduler: SchedulerState


class RunNowRequest(BaseModel):
    """Start a pipeline by hand (or join the run going)."""

    reason: str = Field(default="", max_length=500)


class RunNowResult(BaseModel):
    event: TriggerEvent
    run: PipelineRun | None = None


class EnableRequest(BaseModel):
    enabled: bool


# -- lineage as a chain ----------------------------------------------------------------------------

LinkKind = Literal[
    "deployment",
    "abtest",
    "version",
    "pipeline_run",
    "trigger",
    "job",
    "run",
    "gates",
    "notebook",
    "features",
    "commit",
]


class ChainLink(BaseModel):
    """One link of a version's lineage, with the ids a face needs to open it."""

    kind: LinkKind
    title: str
    detail: str = ""
    time: Timestamp | None = None
    refs: dict[str, str] = Field(
        default_factory=dict,
        description="ids to open: deployment, abtest, model, version, pipeline, pipeline_run, "
        "job, run, notebook (workspace path or run artifact), view",
    )


class LineageChain(BaseModel):
    """Why a model version exists and what serves it: from the deployments back to the event
    that started its training, then on to the job, run, executed notebook, features and commit.
    """

    model: str
    version: int
    aliases: list[str]
    links: list[ChainLink]
    pipeline_run: PipelineRun | None = None
