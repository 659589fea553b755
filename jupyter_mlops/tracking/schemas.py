"""Pydantic models of the tracking domain: what services return and the REST API sends."""

from __future__ import annotations

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
        default_factory=dict, description="plotly figures as JSON: 'history' and 'parallel'"
    )
