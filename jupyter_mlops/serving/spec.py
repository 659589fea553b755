"""What a model server serves: the deployment spec a supervisor hands to its replicas.

The same spec drives a local deployment (written to ``.mlops/deployments/<name>/spec-<N>.json``)
and a packaged image (baked in as ``/opt/mlops/spec.json``), so both run the same server. A
replica needs nothing but its spec: each version's model folder and, for models trained on
features, the resolved online lookup (:class:`~jupyter_mlops.features.online.plan.LookupPlan`),
so it opens the online store and no other part of the workspace.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from jupyter_mlops.features.online.plan import LookupPlan
from jupyter_mlops.process import write_json
from jupyter_mlops.serving.schemas import ServedVersion

DEFAULT_MAX_BODY = 16 * 1024 * 1024


class ServedVersionSpec(ServedVersion):
    """A served version with what a replica needs to load it and fill its inputs."""

    model_config = ConfigDict(extra="forbid")

    path: str = Field(description="local folder of the MLflow model (MLmodel inside)")
    features: list[str] = Field(
        default_factory=list,
        description="pinned feature references the model was trained on (from its lineage)",
    )
    lookup: LookupPlan | None = Field(
        default=None,
        description="the online lookup of the features that feed the model's inputs",
    )


class ServerSpec(BaseModel):
    """Everything a replica needs to start serving."""

    model_config = ConfigDict(extra="forbid")

    deployment: str = Field(min_length=1)
    models: list[ServedVersionSpec] = Field(min_length=1)
    workspace: str | None = Field(
        default=None,
        description="only in specs written before lookups were resolved at deploy time: the "
        "workspace whose feature store resolves the versions' features when the replica starts",
    )
    prediction_log: str | None = Field(default=None, description="folder of the prediction log")
    metrics_dir: str | None = Field(
        default=None, description="prometheus multiprocess folder shared by the replicas"
    )
    max_body_bytes: int = Field(default=DEFAULT_MAX_BODY, ge=1024)
    log_predictions: bool = True
    fsync_interval: float = Field(
        default=1.0, ge=0, description="seconds between fsyncs of the prediction log (0: never)"
    )
    segment_seconds: float | None = Field(
        default=60.0,
        gt=0,
        description="a replica closes its live log segment after this long (None: when full)",
    )
    compact_seconds: float | None = Field(
        default=30.0,
        gt=0,
        description="how often the supervisor compacts closed segments to Parquet (None: never)",
    )
    max_age_days: float | None = Field(
        default=30.0, gt=0, description="compacted log files older than this are dropped"
    )
    max_size_mb: float | None = Field(
        default=2048.0, gt=0, description="oldest log files are dropped while the log is larger"
    )

    def write(self, path: Path) -> None:
        """Write atomically (readers never see half a spec)."""
        write_json(path, self)

    @classmethod
    def read(cls, path: Path) -> ServerSpec:
        return cls.model_validate_json(path.read_text(encoding="utf-8"))
