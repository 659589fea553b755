"""The files of a deployment's folder, typed: what the user asked for and what is running.

``.mlops/deployments/<name>/`` follows the protocol of :mod:`jupyter_mlops.process`:

- ``deployment.json``, a :class:`DeploymentRecord`, written by :mod:`.deployments` (and by the
  supervisor when an update fails, to take the failed version back out);
- ``status.json``, a :class:`DeploymentStatus`, written by the supervisor only;
- ``spec-<generation>.json``, the :class:`~.spec.ServerSpec` each generation of replicas runs;
- ``logs/``: ``supervisor.log`` and one log per replica slot;
- ``revivals.json``, a :class:`Revivals`: when the deployment was restarted because its
  supervisor was gone (see :meth:`.deployments.Deployments.list`);
- ``supervisor.lock``, held by the running supervisor (two never run one deployment).

Times are float seconds since the epoch, as the files have always had them.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from jupyter_mlops.process import LOOPBACK, pids_of
from jupyter_mlops.serving.schemas import ReplicaInfo, ServedVersion, State

RECORD_FILE = "deployment.json"
STATUS_FILE = "status.json"
REVIVALS_FILE = "revivals.json"
SUPERVISOR_MODULE = "jupyter_mlops.serving.supervisor"
WORKER_MODULE = "jupyter_mlops.serving.worker"


def replica_pids(folder: Path) -> list[int]:
    """The live replica processes (a warm spare included) running in a deployment's folder,
    whichever supervisor started them."""
    here = folder.resolve()
    out = []
    for pid in pids_of(WORKER_MODULE):
        try:
            if Path(os.readlink(f"/proc/{pid}/cwd")) == here:
                out.append(pid)
        except OSError:  # it exited meanwhile
            continue
    return out


def spec_file(generation: int) -> str:
    """The spec file of one generation of replicas."""
    return f"spec-{generation}.json"


class DeploymentRecord(BaseModel):
    """``deployment.json``: what the user asked for."""

    model_config = ConfigDict(extra="ignore")

    name: str
    host: str = LOOPBACK
    port: int = Field(ge=0, le=65535)
    grpc_port: int | None = Field(
        default=None, ge=0, le=65535, description="the gRPC inference port (None or 0: none)"
    )
    replicas: int = Field(default=1, ge=1)
    spare_after: float | None = Field(
        default=None,
        ge=0,
        description="with one replica, keep a warm spare once the deployment has run this many "
        "seconds (None: no spare)",
    )
    generation: int = Field(default=1, ge=0, description="the spec generation wanted now")
    created: float = 0.0
    updated: float = 0.0
    serving: list[ServedVersion] = Field(default_factory=list)


class DeploymentStatus(BaseModel):
    """``status.json``: what the supervisor is doing."""

    model_config = ConfigDict(extra="ignore")

    state: State = "starting"
    pid: int = 0
    host: str = LOOPBACK
    port: int = 0
    generation: int = Field(default=0, description="the generation serving now")
    models: list[ServedVersion] = Field(default_factory=list)
    replicas: list[ReplicaInfo] = Field(default_factory=list)
    restarts: int = 0
    spare_pid: int | None = Field(default=None, description="the warm spare replica, if any")
    error: str | None = None
    updated: float = 0.0
    update_to: int | None = Field(default=None, description="the generation being started")
    update_failed: int | None = Field(default=None, description="the generation that failed")


class Revivals(BaseModel):
    """``revivals.json``: the restarts of a deployment whose supervisor was gone."""

    model_config = ConfigDict(extra="ignore")

    attempts: list[float] = Field(default_factory=list, description="when, newest last")
