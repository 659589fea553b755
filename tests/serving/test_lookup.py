"""Models trained on features: the lookup is resolved at deploy time and travels in the spec.

A replica reads the online store with the plan its spec carries and never the feature registry;
a deployment written before plans existed (its spec names the workspace instead) still starts.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from jupyter_mlops import Workspace
from jupyter_mlops.features.service import usage_payload
from jupyter_mlops.lineage.tags import FEATURES_TAG
from jupyter_mlops.process import start_detached
from jupyter_mlops.serving.records import SUPERVISOR_MODULE
from jupyter_mlops.serving.spec import ServerSpec
from tests.conftest import log_model_run
from tests.helpers import free_port, wait_for
from tests.serving.conftest import customer_view

FEATURES = ["stats:spend", "stats:calls"]


@pytest.fixture(scope="module")
def feature_model(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """Model ``churn`` v1 takes tenure, spend and calls; spend and calls come from view
    ``stats`` (materialized, fresh), as its run's lineage says."""
    ws = Workspace.init(tmp_path_factory.mktemp("lookup") / "ws")
    customer_view(ws, "stats")
    run_id = log_model_run(ws)
    # What a training frame built inside the run would have recorded.
    used = usage_payload(ws.features.resolve(FEATURES))
    ws.tracking.client.set_tag(run_id, FEATURES_TAG, used.to_tag())
    ws.registry.register(run_id, "churn")
    yield ws
    for d in ws.deployments.list():
        if d.state not in {"stopped", "failed"}:
            ws.deployments.stop(d.name)
    ws.features.close()


def predict_by_key(url: str) -> httpx.Response:
    return httpx.post(
        f"{url}/invocations",
        json={"dataframe_records": [{"tenure": 12, "customer_id": 2}]},
        timeout=30,
    )


def test_the_spec_carries_the_lookup_and_the_replica_needs_no_registry(
    feature_model: Workspace,
) -> None:
    ws = feature_model
    d = ws.deployments.deploy("churn", name="by-key")
    spec = ServerSpec.read(Path(d.folder) / "spec-1.json")
    assert spec.workspace is None
    (version,) = spec.models
    assert version.features == ["stats:v1:spend", "stats:v1:calls"]
    assert version.lookup is not None and version.lookup.keys == ("customer_id",)
    assert [c for v in version.lookup.views for c in v.columns] == ["spend", "calls"]
    assert version.lookup.store is not None
    assert version.lookup.store.state_dir == str(ws.state_dir)
    answer = predict_by_key(d.url)
    assert answer.status_code == 200, answer.text
    # predict gives each row back with the entity key it was sent with, then the outputs
    frame = ws.deployments.predict("by-key", [{"tenure": 12, "customer_id": 2}])
    assert list(frame.columns) == ["customer_id", "proba_0", "proba_1"]
    assert frame["customer_id"].tolist() == [2]

    # Without the feature registry, a replica restarted by its supervisor still serves.
    registry = ws.state_dir / "features" / "registry.json"
    hidden = registry.with_name("registry.json.hidden")
    registry.rename(hidden)
    try:
        (replica,) = ws.deployments.get("by-key").replica_processes
        os.kill(replica.pid, 9)
        wait_for(
            lambda: (
                ws.deployments.get("by-key").restarts == 1
                and ws.deployments.get("by-key").state == "running"
            ),
            "the replica's restart",
            timeout=120,
        )
        again = predict_by_key(d.url)
        assert again.status_code == 200, again.text
        assert again.json() == answer.json()
    finally:
        hidden.rename(registry)
        ws.deployments.stop("by-key")


def test_a_deployment_written_before_lookups_were_resolved_still_starts(
    feature_model: Workspace, tmp_path: Path
) -> None:
    """The folder a 0.1.0 ``deploy`` wrote: its spec names the workspace, not a lookup."""
    ws = feature_model
    model = ws.registry.model_path("churn:1")
    folder = ws.state_dir / "deployments" / "old-style"
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "logs").mkdir(parents=True)
    now = datetime.now(UTC).timestamp()
    port = free_port()
    legacy_spec = {
        "deployment": "old-style",
        "models": [
            {
                "name": "churn",
                "version": 1,
                "path": str(model),
                "weight": 1.0,
                "features": ["stats:v1:spend", "stats:v1:calls"],
            }
        ],
        "workspace": str(ws.root),
        "prediction_log": str(ws.state_dir / "predictions" / "old-style"),
        "metrics_dir": None,
        "max_body_bytes": 16777216,
        "log_predictions": True,
        "fsync_interval": 1.0,
    }
    legacy_record = {
        "name": "old-style",
        "host": "127.0.0.1",
        "port": port,
        "replicas": 1,
        "generation": 1,
        "created": now,
        "updated": now,
        "serving": [{"name": "churn", "version": 1, "weight": 1.0, "ref": "churn"}],
    }
    (folder / "spec-1.json").write_text(json.dumps(legacy_spec, indent=1))
    (folder / "deployment.json").write_text(json.dumps(legacy_record, indent=1))
    start_detached(
        SUPERVISOR_MODULE,
        [str(folder)],
        cwd=folder,
        log=folder / "logs" / "supervisor.log",
        env=dict(os.environ),
    )
    try:
        wait_for(
            lambda: ws.deployments.get("old-style").state in {"running", "failed"},
            "the old-style deployment",
            timeout=120,
        )
        info = ws.deployments.get("old-style")
        assert info.state == "running", ws.deployments.logs("old-style")
        answer = predict_by_key(info.url)
        assert answer.status_code == 200, answer.text
    finally:
        ws.deployments.stop("old-style")


def test_a_broken_deployment_file_does_not_break_the_listing(
    feature_model: Workspace,
) -> None:
    ws = feature_model
    good = ws.state_dir / "deployments" / "fine"
    bad = ws.state_dir / "deployments" / "mangled"
    for folder in (good, bad):
        folder.mkdir(parents=True, exist_ok=True)
    record = {"name": "fine", "port": 8999, "created": 1.0, "updated": 1.0}
    (good / "deployment.json").write_text(json.dumps(record))
    (bad / "deployment.json").write_text(json.dumps({**record, "name": "mangled", "port": "x"}))
    try:
        listed = {d.name: d for d in ws.deployments.list()}
        assert listed["fine"].state == "failed"  # never started: no status after the timeout
        assert listed["mangled"].state == "failed"
        assert "deployment.json" in (listed["mangled"].error or "")
        assert "port" in (listed["mangled"].error or "")
    finally:
        shutil.rmtree(good)
        shutil.rmtree(bad)


def test_a_replica_loads_the_online_store_and_nothing_else_of_the_workspace() -> None:
    """What a replica imports to serve (worker, app, spec, prediction log): no feature registry,
    offline store or workspace module is loaded, only the online store."""
    code = (
        "import sys\n"
        "import jupyter_mlops.serving.worker, jupyter_mlops.serving.app\n"
        "import jupyter_mlops.serving.spec, jupyter_mlops.serving.predlog\n"
        "print(' '.join(sorted(m for m in sys.modules if m.startswith('jupyter_mlops'))))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(done.stdout.split())
    assert "jupyter_mlops.features.online.plan" in loaded
    features = {m for m in loaded if m.startswith("jupyter_mlops.features.")}
    assert all(m.startswith("jupyter_mlops.features.online") for m in features), features
    for module in ("jupyter_mlops.workspace", "jupyter_mlops.registry", "jupyter_mlops.tracking"):
        assert not any(m == module or m.startswith(f"{module}.") for m in loaded), module
