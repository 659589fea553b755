"""What a model server serves: the deployment spec a supervisor hands to its replicas.

The same spec drives a local deployment (written to ``.mlops/deployments/<name>/spec.json``) and a
packaged image (baked in as ``/opt/mlops/spec.json``), so both run the same server.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_MAX_BODY = 16 * 1024 * 1024


class ServedVersion(BaseModel):
    """One model version a deployment serves, with its share of the traffic."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="registered model name; the Open Inference Protocol model name")
    version: int = Field(ge=1)
    path: str = Field(description="local folder of the MLflow model (MLmodel inside)")
    weight: float = Field(default=1.0, ge=0)
    features: list[str] = Field(
        default_factory=list,
        description="pinned feature references the model was trained on (from its lineage)",
    )


class ServerSpec(BaseModel):
    """Everything a replica needs to start serving."""

    model_config = ConfigDict(extra="forbid")

    deployment: str = Field(min_length=1)
    models: list[ServedVersion] = Field(min_length=1)
    workspace: str | None = Field(
        default=None, description="workspace root: its online store serves feature lookups"
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

    def write(self, path: Path) -> None:
        """Write atomically (readers never see half a spec)."""
        import os
        import tempfile

        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(self.model_dump_json(indent=1))
        os.replace(tmp, path)

    @classmethod
    def read(cls, path: Path) -> ServerSpec:
        return cls.model_validate_json(path.read_text(encoding="utf-8"))
