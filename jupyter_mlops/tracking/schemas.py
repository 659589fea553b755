"""Pydantic models of the tracking domain: what services return and the REST API sends."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Schema(BaseModel):
    """Base of every model the API sends: fields with defaults are always present in responses,
    so the generated OpenAPI document marks them required."""

    model_config = ConfigDict(json_schema_serialization_defaults_required=True)


class Experiment(Schema):
    """An MLflow experiment."""

    experiment_id: str
    name: str
    lifecycle_stage: str
    artifact_location: str | None = None
    creation_time: int | None = Field(default=None, description="milliseconds since the epoch")
    last_update_time: int | None = None
    tags: dict[str, str] = Field(default_factory=dict)


class ExperimentList(Schema):
    experiments: list[Experiment]


class RunSummary(Schema):
    """One run with its latest metric values."""

    run_id: str
    run_name: str | None = None
    experiment_id: str
    status: str
    start_time: int | None = None
    end_time: int | None = None
    params: dict[str, str] = Field(default_factory=dict)
    metrics: dict[str, float | None] = Field(default_factory=dict)
    tags: dict[str, str] = Field(default_factory=dict)


class RunPage(Schema):
    """A page of runs; pass ``next_page_token`` back to get the next page."""

    runs: list[RunSummary]
    next_page_token: str | None = None


class MetricPoint(Schema):
    step: int
    value: float | None
    timestamp: int


class RunDetail(RunSummary):
    """A run with the full history of each of its metrics."""

    metric_history: dict[str, list[MetricPoint]] = Field(default_factory=dict)


class ComparedRun(Schema):
    run_id: str
    run_name: str | None = None
    experiment_id: str


class ParamRow(Schema):
    name: str
    values: list[str | None]
    differs: bool


class MetricRow(Schema):
    name: str
    values: list[float | None]
    differs: bool


class MetricSummary(Schema):
    """Mean and 95% confidence interval of one metric over a group of seeds."""

    name: str
    n: int
    mean: float | None
    std: float | None
    ci_low: float | None
    ci_high: float | None


class SeedGroup(Schema):
    """Runs that differ only by their seed."""

    key: dict[str, str | None]
    run_ids: list[str]
    metrics: list[MetricSummary]


class Comparison(Schema):
    """Side-by-side view of several runs."""

    runs: list[ComparedRun]
    params: list[ParamRow]
    metrics: list[MetricRow]
    seed_param: str | None = None
    groups: list[SeedGroup] | None = None
    figures: dict[str, dict[str, object]] = Field(
        default_factory=dict,
        description="plotly figures as JSON: 'history' (when a metric has steps), 'bars' and "
        "'parallel'",
    )


# -- the runs table's columns ----------------------------------------------------------------------


class ColumnChoice(Schema):
    """The params and metrics the runs table of one experiment shows, in order (pinned first).

    Columns are named ``params.<name>`` or ``metrics.<name>``.
    """

    experiment_id: str
    columns: list[str] = Field(description="shown columns in order, pinned ones first")
    pinned: list[str] = Field(default_factory=list, description="columns kept at the left")
    source: Literal["saved", "declared", "auto"] = Field(
        description="saved: chosen by a user; declared: the --params/--metrics the runs' "
        "%%mlops run cells named; auto: picked from what the runs logged"
    )
    available: list[str] = Field(
        default_factory=list, description="every column the experiment's recent runs have"
    )


class ColumnChoiceRequest(BaseModel):
    """The columns to remember for an experiment's runs table."""

    model_config = ConfigDict(extra="forbid")

    columns: list[str] = Field(description="params.<name> or metrics.<name>, in order")
    pinned: list[str] = Field(
        default_factory=list, description="columns kept at the left (a subset of columns)"
    )


# -- one run's page --------------------------------------------------------------------------------


class ArtifactFile(Schema):
    """A file or folder among a run's artifacts."""

    path: str
    is_dir: bool
    file_size: int | None = None


class RegisteredVersionRef(Schema):
    """A registered model version made from a run's model."""

    name: str
    version: int
    aliases: list[str] = Field(default_factory=list)


class LoggedModel(Schema):
    """A model a run logged, with the registered versions made from it."""

    name: str
    model_id: str | None = None
    artifact_location: str | None = None
    flavors: list[str] = Field(default_factory=list)
    versions: list[RegisteredVersionRef] = Field(default_factory=list)


class RunRecord(RunDetail):
    """Everything a run's page shows: its values and histories, where it came from, what it
    logged and what was made from it."""

    notebook: str | None = Field(
        default=None, description="the notebook the run came from, relative to the workspace"
    )
    notebook_snapshot: str | None = Field(
        default=None, description="the artifact path of the notebook copy the run kept"
    )
    git_commit: str | None = None
    declared_params: list[str] = Field(default_factory=list)
    declared_metrics: list[str] = Field(default_factory=list)
    features: list[str] = Field(
        default_factory=list, description="pinned feature references the run's training read"
    )
    feature_views: dict[str, str] = Field(
        default_factory=dict, description="view:vN -> content fingerprint"
    )
    models: list[LoggedModel] = Field(default_factory=list)
    artifacts: list[ArtifactFile] = Field(default_factory=list)
