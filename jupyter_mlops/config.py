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

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from jupyter_mlops.errors import ConfigError

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


class MlopsConfig(_Section):
    """The whole ``mlops.toml``."""

    tracking: TrackingConfig = Field(default_factory=TrackingConfig)
    run: RunConfig = Field(default_factory=RunConfig)
    features: FeaturesConfig = Field(default_factory=FeaturesConfig)
    serving: ServingConfig = Field(default_factory=ServingConfig)


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
"""


def load_config(path: Path) -> MlopsConfig:
    """Read and validate ``mlops.toml``.

    Raises:
        ConfigError: the file is not valid TOML, has an unknown key, or a value of the wrong type.
    """
    try:
        data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
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
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"])
            if err["type"] == "extra_forbidden":
                problems.append(f"unknown key '{key}'")
            else:
                problems.append(f"'{key}': {err['msg']}")
        known = ", ".join(_known_keys())
        raise ConfigError(
            f"{path}: " + "; ".join(problems),
            hint=f"Remove or correct the key. Known keys: {known}.",
            field=".".join(str(p) for p in exc.errors()[0]["loc"]),
        ) from None


def _known_keys() -> list[str]:
    keys: list[str] = []
    for section, field in MlopsConfig.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            keys.extend(f"{section}.{name}" for name in annotation.model_fields)
    return keys
