"""A deployment's life through faults: no replica up, recovery, its supervisor killed -9 and
revived on its ports, stop, start, remove (issue 9). One deployment for all of it: each start
costs seconds of CPU."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import httpx
import pytest

from jupyter_mlops import Workspace
from jupyter_mlops.errors import Conflict, NotFound
from jupyter_mlops.process import is_running
from jupyter_mlops.serving.records import (
    STATUS_FILE,
    SUPERVISOR_MODULE,
    DeploymentStatus,
    spec_file,
)
from tests.helpers import Cli, wait_for

ROW = {"tenure": 12, "spend": 40.0, "calls": 1.0}
NAME = "life"


def status(folder: Path) -> DeploymentStatus:
    return DeploymentStatus.model_validate_json((folder / STATUS_FILE).read_text())


def answers(url: str, grpc_url: str | None) -> bool:
    """Whether the deployment predicts over HTTP and its gRPC service is live."""
    import tritonclient.grpc as grpcclient  # in the test extras

    r = httpx.post(f"{url}/invocations", json={"dataframe_records": [ROW]}, timeout=10)
    assert r.status_code == 200, r.text
    assert grpc_url is not None
    return bool(grpcclient.InferenceServerClient(url=grpc_url).is_server_live())


def test_lifecycle_through_faults(
    models_workspace: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = models_workspace
    cli = Cli(ws.root, capsys)
    d = ws.deployments.deploy("churn@champion", name=NAME, replicas=1)
    folder = Path(d.folder)
    assert d.state == "running" and d.grpc_url is not None
    port, grpc_url = d.port, d.grpc_url

    # No replica up (its spec broken, so restarts fail): status reports the state and the last
    # error, with no traceback (it used to scrape /metrics through a socket nobody accepts on).
    spec = folder / spec_file(d.generation)
    good = spec.read_text()
    spec.write_text("{}")
    try:
        os.kill(d.replica_processes[0].pid, signal.SIGKILL)
        wait_for(lambda: status(folder).state == "degraded", "degraded", 60)
        code, out, err = cli("deployments", "status", NAME)
        assert code == 0, err
        assert "degraded" in out and "restart of replica 0 failed" in out
        assert "Traceback" not in out + err
        # a crash loop: more crashes than the limit within its window
        wait_for(lambda: "crashed" in (status(folder).error or ""), "the crash limit", 120)
    finally:
        spec.write_text(good)
    # Recovered, it reads running again (it stayed "degraded" until the next crash).
    wait_for(lambda: ws.deployments.get(NAME).state == "running", "recovery", 60)
    assert ws.deployments.get(NAME).error is None

    # kill -9 of the supervisor: the next look (any face) restarts it on the same ports.
    supervisor = status(folder).pid
    os.kill(supervisor, signal.SIGKILL)
    wait_for(lambda: not is_running(supervisor, SUPERVISOR_MODULE), "the supervisor's death", 10)
    [listed] = [x for x in ws.deployments.list() if x.name == NAME]
    assert listed.state == "starting" and "supervisor" in (listed.error or "")
    wait_for(lambda: ws.deployments.get(NAME).state == "running", "the revival", 120)
    revived = ws.deployments.get(NAME)
    assert (revived.port, revived.grpc_url) == (port, grpc_url)
    assert "restarted at" in (revived.error or "")
    assert answers(revived.url, revived.grpc_url)
    # Found its predecessor's replicas draining, it did a replica's imports meanwhile, in a spare.
    supervisor_log = (folder / "logs" / "supervisor.log").read_text()
    _, waited, after = supervisor_log.rpartition("waiting for the replicas of the previous")
    assert not waited or "the warm spare (pid" in after

    # stopped by the user, it stays stopped: status says so without an error
    assert ws.deployments.stop(NAME).state == "stopped"
    code, out, err = cli("deployments", "status", NAME)
    assert code == 0 and "stopped" in out and "Traceback" not in out + err
    assert ws.deployments.get(NAME).state == "stopped"  # a look does not revive it

    # started again, on its ports
    code, out, err = cli("deployments", "start", NAME)
    assert code == 0, err
    started = ws.deployments.get(NAME)
    assert started.state == "running" and (started.port, started.grpc_url) == (port, grpc_url)
    assert answers(started.url, started.grpc_url)
    with pytest.raises(Conflict, match="already running"):
        ws.deployments.start(NAME)

    # a running deployment is not removed; a stopped one is, its prediction log kept
    code, out, err = cli("deployments", "remove", NAME)
    assert code != 0 and "deployments stop life" in out + err
    ws.deployments.stop(NAME)
    # deployed again under its name, a stopped deployment keeps its ports
    again = ws.deployments.deploy("churn:2", name=NAME, wait=False)
    assert (again.port, again.grpc_url) == (port, grpc_url)
    assert ws.deployments.stop(NAME).state == "stopped"
    code, out, err = cli("deployments", "remove", NAME)
    assert code == 0, err
    assert not folder.exists() and (ws.state_dir / "predictions" / NAME).is_dir()
    with pytest.raises(NotFound):
        ws.deployments.get(NAME)
