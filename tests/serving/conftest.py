"""A real model-server replica (the worker process) on a free loopback port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from jupyter_mlops import Workspace
from jupyter_mlops.serving.lookup import lookup_for, model_inputs
from jupyter_mlops.serving.spec import ServedVersionSpec, ServerSpec
from tests.helpers import free_port


@dataclass
class Replica:
    url: str
    process: subprocess.Popen[bytes]
    log_dir: Path
    output: Path
    grpc: str | None = None  # host:port of its gRPC service, when the spec asks for one

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_replica(spec: ServerSpec, folder: Path) -> Replica:
    """Start ``python -m jupyter_mlops.serving.worker`` on the spec; wait until /ping answers."""
    folder.mkdir(parents=True, exist_ok=True)
    spec_path = folder / "spec.json"
    spec.write(spec_path)
    port = free_port()
    output = folder / "replica.log"
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    with output.open("wb") as sink:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jupyter_mlops.serving.worker",
                "--spec",
                str(spec_path),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=env,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the replica exited: {output.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/ping", timeout=1).status_code == 200 and (
                not spec.grpc_port or _accepts(spec.grpc_port)
            ):
                grpc = f"127.0.0.1:{spec.grpc_port}" if spec.grpc_port else None
                return Replica(url, process, Path(spec.prediction_log or ""), output, grpc)
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"the replica did not answer: {output.read_text()[-3000:]}")


def _accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


def served(ws: Workspace, ref: str, weight: float = 1.0) -> ServedVersionSpec:
    """The spec of one version, resolved as a deployment resolves it."""
    version, path = ws.registry.locate(ref)
    features = version.lineage.features if version.lineage else []
    return ServedVersionSpec(
        name=version.name,
        version=version.version,
        path=str(path),
        weight=weight,
        features=features,
        lookup=lookup_for(ws.features, features, model_inputs(path)),
    )


@pytest.fixture(scope="module")
def replica(
    models_workspace: Workspace, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Replica]:
    """One replica serving churn v1 and v2 (weights 1:0, so unnamed requests go to v1), with a
    prediction log, a 4 KiB body limit, gRPC, and 1 s for a request's headers and its body."""
    folder = tmp_path_factory.mktemp("replica")
    spec = ServerSpec(
        deployment="test",
        models=[served(models_workspace, "churn:1"), served(models_workspace, "churn:2", 0.0)],
        prediction_log=str(folder / "predictions"),
        max_body_bytes=4096,
        grpc_port=free_port(),
        header_seconds=1.0,
        body_seconds=1.0,
    )
    running = start_replica(spec, folder)
    yield running
    running.stop()


def customer_view(ws: Workspace, name: str) -> None:
    """Apply view ``name`` (spend, calls per customer_id, TTL 30 days), ingest customers 1-3 an
    hour ago and materialize them: the online rows a model with a feature lookup reads."""
    from datetime import UTC, datetime, timedelta

    import pandas as pd

    from jupyter_mlops.features import Entity, FeatureView, Field

    customer = Entity("customer", ["customer_id"])
    view = FeatureView(
        name=name,
        entities=[customer],
        ttl="30d",
        features=[Field("spend", "float64"), Field("calls", "float64")],
    )
    ws.features.apply([customer, view])
    now = datetime.now(UTC).replace(tzinfo=None)
    rows = {
        "customer_id": [1, 2, 3],
        "event_timestamp": [now - timedelta(hours=1)] * 3,
        "spend": [10.0, 55.5, 80.0],
        "calls": [0.0, 3.0, 1.0],
    }
    ws.features.ingest(name, pd.DataFrame(rows))
    ws.features.materialize()
