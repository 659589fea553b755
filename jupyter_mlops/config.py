"""The ``mlops.toml`` schema, with the embedded defaults.

A workspace is configured by one TOML file. Every key has a default, so an empty file is a valid
configuration: MLflow tracking and registry on ``sqlite:///<workspace>/.mlops/mlflow.db`` and
artifacts under ``.mlops/artifacts``. An unknown or mistyped key is an error that names the key and
the file, never silently ignored.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from jupyter_mlops.errors import ConfigError, close_names

CONFIG_FILE = "mlops.toml"
STATE_DIR = ".mlops"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class TrackingConfig(_Section):
    """Where experiments, runs and registered models are stored.

    ``uri`` takes any MLflow tracking URI: empty means the embedded SQLite database in ``.mlops/``;
    ``postgresql://user:pw@host/db`` a shared database; ``http://host:5000`` a remote MLflow server.
    """

    uri: str = Field(default="", description="MLflow tracking URI; empty = embedded SQLite")
    registry_uri: str = Field(default="", description="MLflow registry URI; empty = same as uri")
    artifact_location: str = Field(
        default="", description="Artifact root for new experiments; empty = .mlops/artifacts"
    )
    default_experiment: str = Field(default="Default", min_length=1)


class RunConfig(_Section):
    """What ``%%mlops run`` records on its own."""

    autolog: bool = True
    snapshot_notebook: bool = True
    record_git: bool = True
    seed_params: list[str] = Field(
        default_factory=lambda: ["seed", "random_state", "random_seed"],
        description="parameter names treated as seeds when runs are grouped by seed",
    )


class FeaturesConfig(_Section):
    """Where features are served from."""

    online_store: str = Field(
        default="sqlite",
        description='"sqlite" (embedded, .mlops/online.db) or a Redis URL redis://host:6379/0',
    )
    online_namespace: str = Field(
        default="mlops",
        pattern=r"^[A-Za-z0-9_.-]+$",
        description="Redis key prefix: one per workspace sharing a Redis",
    )


class ServingConfig(_Section):
    """How deployments serve: request limits and the prediction log."""

    max_body_mb: float = Field(
        default=16.0, gt=0, le=1024, description="largest request body; larger ones get a 413"
    )
    log_predictions: bool = Field(default=True, description="append every answer to the log")
    fsync_seconds: float = Field(
        default=1.0, ge=0, description="how often the prediction log is synced to disk (0: never)"
    )
    warm_spare: bool = Field(
        default=True,
        description="a one-replica deployment keeps a warm spare replica (imported, waiting), "
        "so that a replica that dies is replaced in about half a second instead of seconds; "
        "it costs the memory of one more replica",
    )
    spare_after_seconds: float = Field(
        default=30.0,
        ge=0,
        le=86400,
        description="how long a one-replica deployment runs before its warm spare starts (a "
        "short-lived deployment never pays for one)",
    )


class RetentionConfig(_Section):
    """How long a deployment's prediction log is kept."""

    max_age_days: float = Field(
        default=30.0, gt=0, description="records older than this are dropped (whole files)"
    )
    max_size_mb: float = Field(
        default=2048.0, gt=0, description="oldest files are dropped while the log is larger"
    )


class PredictionsConfig(RetentionConfig):
    """The prediction log of deployments: compaction to Parquet and retention.

    ``[predictions.deployment.<name>]`` overrides the retention of one deployment.
    """

    compact_seconds: float = Field(
        default=30.0,
        gt=0,
        description="how often closed log segments are compacted into Parquet files",
    )
    segment_seconds: float = Field(
        default=60.0,
        gt=0,
        description="a replica closes its live segment after this long, so it can be compacted",
    )
    deployment: dict[str, RetentionConfig] = Field(
        default_factory=dict, description="per-deployment retention overrides"
    )

    def retention(self, deployment: str) -> RetentionConfig:
        """The retention that applies to one deployment."""
        return self.deployment.get(deployment) or RetentionConfig(
            max_age_days=self.max_age_days, max_size_mb=self.max_size_mb
        )


class FeatureDriftConfig(_Section):
    """The drift test and threshold of one feature (``[monitoring.feature.<name>]``)."""

    test: str | None = Field(default=None, description="a registered drift test; empty = by type")
    threshold: float | None = Field(
        default=None, gt=0, description="the test's threshold (p-value or distance)"
    )


class AlertThresholds(_Section):
    """When a scheduled check raises an alert. A key left empty never alerts."""

    drift_share: float | None = Field(
        default=0.3, ge=0, le=1, description="share of drifted features at or above which to alert"
    )
    feature_drift: bool = Field(default=True, description="alert on any single drifted feature")
    error_rate: float | None = Field(
        default=0.05, ge=0, le=1, description="share of requests answered with an error"
    )
    latency_p95_ms: float | None = Field(default=1000.0, gt=0, description="p95 latency in ms")
    quality: dict[str, float] = Field(
        default_factory=dict,
        description="lowest acceptable value of a quality metric, e.g. {accuracy = 0.8}; for "
        "error metrics (rmse, mae, log_loss) the highest",
    )
    stale_features: bool = Field(default=True, description="alert when a feature view is stale")


class DeploymentMonitoring(AlertThresholds):
    """Per-deployment overrides (``[monitoring.deployment.<name>]``)."""

    interval_seconds: float | None = Field(default=None, gt=0)
    window: str | None = None
    feature: dict[str, FeatureDriftConfig] = Field(default_factory=dict)


class MonitoringConfig(AlertThresholds):
    """Scheduled checks of deployments: drift, API metrics, quality, alerts."""

    interval_seconds: float = Field(
        default=300.0, gt=0, description="how often each deployment is checked"
    )
    window: str = Field(
        default="1h",
        pattern=r"^[0-9]+(\.[0-9]+)?(s|m|h|d)$",
        description="the window of the prediction log a scheduled check looks at, e.g. 1h, 1d",
    )
    min_rows: int = Field(
        default=100, ge=1, description="fewer logged rows than this in a window: no drift verdict"
    )
    webhook_url: str = Field(
        default="", description="alerts are POSTed here as JSON (Slack-compatible); empty = off"
    )
    feature: dict[str, FeatureDriftConfig] = Field(
        default_factory=dict, description="per-feature test and threshold"
    )
    deployment: dict[str, DeploymentMonitoring] = Field(
        default_factory=dict, description="per-deployment overrides"
    )


class JobsConfig(_Section):
    """Notebooks run as jobs by papermill."""

    executor: str = Field(
        default="local",
        description='"local" (worker processes on this machine) or "dask://host:8786"',
    )
    slots: int = Field(default=2, ge=1, le=64, description="jobs the local executor runs at once")
    experiment: str | None = Field(
        default=None, description="experiment of job runs; empty: [tracking] default_experiment"
    )
    requeue_interrupted: int = Field(
        default=1,
        ge=0,
        description="times a job whose worker died (kill, reboot) is queued again before it fails",
    )
    idle_exit_seconds: float = Field(
        default=600.0, gt=0, description="a local worker with nothing to run exits after this long"
    )
    output_dir: str = Field(
        default="executed",
        description="workspace folder of executed notebooks (<notebook>-<job id>.ipynb)",
    )

    @field_validator("executor")
    @classmethod
    def _executor(cls, value: str) -> str:
        if value != "local" and not value.startswith(("dask://", "tcp://")):
            raise ValueError('executor is "local" or a Dask scheduler address "dask://host:8786"')
        return value


class PipelinesConfig(_Section):
    """Continuous training: how often the scheduler looks at the pipelines' triggers."""

    folder: str = Field(
        default="pipelines", description="workspace folder of pipelines/*.py declarations"
    )
    poll_seconds: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description="how often triggers (alerts, ingested data, staleness) are looked at",
    )
    ab_check_seconds: float = Field(
        default=30.0,
        gt=0,
        description="how often a pipeline waiting on its A/B test reads the test's figures",
    )


class MlopsConfig(_Section):
    """The whole ``mlops.toml``."""

    tracking: TrackingConfig = Field(default_factory=TrackingConfig)
    run: RunConfig = Field(default_factory=RunConfig)
    features: FeaturesConfig = Field(default_factory=FeaturesConfig)
    serving: ServingConfig = Field(default_factory=ServingConfig)
    predictions: PredictionsConfig = Field(default_factory=PredictionsConfig)
    monitoring: MonitoringConfig = Field(default_factory=MonitoringConfig)
    jobs: JobsConfig = Field(default_factory=JobsConfig)
    pipelines: PipelinesConfig = Field(default_factory=PipelinesConfig)
    pipeline: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="pipelines declared here, [pipeline.NAME]; checked by `pipelines plan`",
    )


DEFAULT_TOML = """\
# jupyter-mlops workspace configuration. Every key is optional; these are the defaults.

[tracking]
# MLflow tracking URI. Empty: embedded SQLite database in .mlops/mlflow.db.
# Shared database:  uri = "postgresql://user:password@db-host:5432/mlflow"
# Remote server:    uri = "http://mlflow.internal:5000"
uri = ""
default_experiment = "Default"

[run]
autolog = true
snapshot_notebook = true
record_git = true

[features]
# Online store: "sqlite" (embedded, .mlops/online.db) or "redis://127.0.0.1:6379/0"
online_store = "sqlite"

[serving]
max_body_mb = 16         # larger request bodies are refused with 413
log_predictions = true   # every answer goes to .mlops/predictions/<deployment>/
fsync_seconds = 1.0      # what a machine crash can lose; a process crash loses nothing

[predictions]
max_age_days = 30        # older prediction-log files are dropped
max_size_mb = 2048       # per deployment; the oldest files go first
compact_seconds = 30     # closed JSON-lines segments become Parquet this often
# [predictions.deployment.churn]
# max_age_days = 7

[monitoring]
interval_seconds = 300   # each deployment is checked this often, JupyterLab open or not
window = "1h"            # the window of predictions a check looks at
webhook_url = ""         # alerts are POSTed here as JSON (Slack-compatible)
drift_share = 0.3        # alert when this share of features drifted
error_rate = 0.05        # alert when this share of requests failed
latency_p95_ms = 1000
# quality = { accuracy = 0.8 }
# [monitoring.feature.tenure_months]
# test = "wasserstein"
# threshold = 0.1
# [monitoring.deployment.churn]
# window = "1d"

[jobs]
executor = "local"       # or a Dask scheduler: "dask://scheduler:8786"
slots = 2                # jobs run at once by the local executor
requeue_interrupted = 1  # a job whose worker died is queued again this many times, then fails

[pipelines]
poll_seconds = 1.0       # how often the scheduler looks at the pipelines' triggers
# Pipelines are declared here or in pipelines/*.py, then `jupyter mlops pipelines plan/apply`:
# [pipeline.churn-retrain]
# notebook = "notebooks/train_churn.ipynb"
# model = "churn"
# parameters = { n_estimators = 80 }
# gates = ["roc_auc>=champion-0.01", "converged val_log_loss"]
# triggers = [{ kind = "alert", deployment = "churn" }, { kind = "schedule", cron = "0 3 * * 1" }]
# abtest = { deployment = "churn", split = [90, 10], promote = true }
"""


def load_config(path: Path) -> MlopsConfig:
    """Read and validate ``mlops.toml``.

    Raises:
        ConfigError: the file is not valid TOML, has an unknown key, or a value of the wrong type.
    """
    try:
        data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        line = exc.object[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"{path}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} on line {line})",
            hint="TOML files are UTF-8: save mlops.toml with that encoding.",
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"{path}: not valid TOML ({exc})", hint="Fix the syntax at the position given."
        ) from exc
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror})") from exc
    try:
        return MlopsConfig.model_validate(data)
    except ValidationError as exc:
        problems = []
        hints = []
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"])
            if err["type"] == "extra_forbidden":
                problem, hint = _unknown_key(err["loc"], data)
                problems.append(problem)
                hints.append(hint)
            else:
                problems.append(f"'{key}': {err['msg']}")
        if not hints:
            hints.append("Correct the value named above; every key is optional.")
        raise ConfigError(
            f"{path}: " + "; ".join(problems),
            hint=" ".join(dict.fromkeys(hints)),
            field=".".join(str(p) for p in exc.errors()[0]["loc"]),
        ) from None


def _unknown_key(loc: tuple[int | str, ...], data: dict[str, Any]) -> tuple[str, str]:
    """The problem and the hint for an unknown key at ``loc``: its section, the closest valid
    key and the section's keys.

    Example:
        >>> _unknown_key(("tracking", "uir"), {})[0]
        "unknown key 'uir' in [tracking] (did you mean 'uri'?)"
    """
    *parents, last = (str(p) for p in loc)
    valid = list(_section_model(parents).model_fields)
    value: Any = data
    for part in [*parents, last]:
        value = value.get(part) if isinstance(value, dict) else None
    kind = "section" if not parents and isinstance(value, dict) else "key"
    problem = f"unknown {kind} '{last}'"
    if parents:
        problem += f" in [{'.'.join(parents)}]"
    close = close_names(last, valid, n=1)
    if close:
        problem += f" (did you mean '{close[0]}'?)"
    label = f"Keys of [{'.'.join(parents)}]" if parents else "Sections"
    return problem, f"{label}: {', '.join(valid)}."


def _section_model(parents: list[str]) -> type[BaseModel]:
    """The model of the section at ``parents`` (``monitoring.deployment.churn`` is a
    ``DeploymentMonitoring``)."""
    model: type[BaseModel] = MlopsConfig
    named = False  # the part is a name in a table of sections ([monitoring.deployment.<name>])
    for part in parents:
        if named:
            named = False
            continue
        field = model.model_fields.get(part)
        inner = _model_of(field.annotation) if field is not None else None
        if inner is None:
            break
        named = getattr(field.annotation, "__origin__", None) is dict if field else False
        model = inner
    return model


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The section model an annotation holds: ``X`` or the values of ``dict[str, X]``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    args: tuple[Any, ...] = tuple(getattr(annotation, "__args__", ()))
    if getattr(annotation, "__origin__", None) is dict and len(args) == 2:
        return _model_of(args[-1])
    return None
