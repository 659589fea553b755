"""Supervised local deployments: start, predict, restart on crash, zero-downtime update, stop."""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pandas as pd
import pytest

from jupyter_mlops import Workspace
from jupyter_mlops.errors import Conflict, InvalidInput, NotFound
from jupyter_mlops.serving.deployments import Deployments
from jupyter_mlops.serving.predlog import read_predictions
from tests.conftest import log_model_run
from tests.helpers import wait_for

ROW = {"tenure": 12, "spend": 40.0, "calls": 1.0}


def test_deploy_predict_restart_update_stop(models_workspace: Workspace) -> None:
    ws = models_workspace
    d = ws.deployments.deploy("churn@champion", name="churn-api", replicas=2)
    assert d.state == "running" and d.url.startswith("http://127.0.0.1:")
    assert [(s.name, s.version) for s in d.serving] == [("churn", 1)]
    assert len(d.replica_processes) == 2
    assert httpx.get(f"{d.url}/ping").status_code == 200

    # predict returns a DataFrame aligned with the input
    frame = pd.DataFrame([ROW, {**ROW, "tenure": 60}], index=[10, 11])
    preds = ws.deployments.predict("churn-api", frame)
    assert list(preds.index) == [10, 11]
    assert list(preds.columns) == ["proba_0", "proba_1"]  # named by the classifier's classes
    assert preds.sum(axis=1).round(6).tolist() == [1.0, 1.0]

    # a replica killed -9 is restarted; the port keeps answering meanwhile
    victim = d.replica_processes[0].pid
    os.kill(victim, signal.SIGKILL)
    wait_for(lambda: ws.deployments.get("churn-api").restarts == 1, "the replica restart", 60)
    after = ws.deployments.get("churn-api")
    assert after.state == "running" and victim not in {r.pid for r in after.replica_processes}
    assert httpx.post(f"{d.url}/invocations", json={"dataframe_records": [ROW]}).status_code == 200

    # zero-downtime update under load: no failed request, versions switch 1 -> 2
    seen: Counter[str] = Counter()
    failures: list[str] = []
    stop = threading.Event()

    def load() -> None:
        with httpx.Client(timeout=10) as client:
            while not stop.is_set():
                try:
                    r = client.post(f"{d.url}/invocations", json={"dataframe_records": [ROW]})
                    if r.status_code != 200:
                        failures.append(f"{r.status_code} {r.text}")
                    else:
                        seen[r.headers["x-model-version"]] += 1
                except httpx.HTTPError as exc:
                    failures.append(repr(exc))

    # Asked for, a warm spare waits beside the replicas; the update's first new replica is it.
    folder = ws.state_dir / "deployments" / "churn-api"
    assert spares(folder) == []
    ws.deployments.prewarm("churn-api")
    wait_for(lambda: len(spares(folder)) == 1, "the warm spare", 60)
    [spare] = spares(folder)
    threads = [threading.Thread(target=load) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        time.sleep(0.5)
        updated = ws.deployments.update("churn-api", "churn:2")
        time.sleep(0.5)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert updated.generation == 2 and [s.version for s in updated.serving] == [2]
    assert spare in {r.pid for r in updated.replica_processes}
    assert spares(folder) == []  # one spare per request
    assert failures == []
    assert seen["churn:1"] > 0 and seen["churn:2"] > 0
    r = httpx.post(f"{d.url}/invocations", json={"dataframe_records": [ROW]})
    assert r.headers["x-model-version"] == "churn:2"

    # statistics come from /metrics; the prediction log has every answer
    stats = ws.deployments.stats("churn-api")
    assert stats.requests_total > 0
    log = read_predictions(ws.state_dir / "predictions" / "churn-api")
    assert {r["version"] for r in log} == {1, 2}
    assert "replica-0.log" in ws.deployments.logs("churn-api")

    stopped = ws.deployments.stop("churn-api")
    assert stopped.state == "stopped"
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{d.url}/ping", timeout=2)
    assert ws.deployments.get("churn-api").state == "stopped"
    assert spares(folder) == []


def spares(folder: Path) -> list[int]:
    """Warm spare replicas of the deployment in ``folder``: workers started to wait for a spec
    that are not (yet) among its serving replicas."""
    from jupyter_mlops.serving.records import STATUS_FILE, DeploymentStatus

    path = folder / STATUS_FILE
    status = DeploymentStatus.model_validate_json(path.read_text()) if path.exists() else None
    serving = {r.pid for r in status.replicas} if status is not None else set()
    found = []
    for proc in Path("/proc").iterdir():
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
            here = Path(os.readlink(proc / "cwd"))
        except OSError:
            continue
        spare = b"--spec-fd" in argv and b"jupyter_mlops.serving.worker" in argv
        if spare and here == folder and int(proc.name) not in serving:
            found.append(int(proc.name))
    return found


def test_one_replica_keeps_a_warm_spare_that_replaces_a_killed_replica(
    models_workspace: Workspace,
) -> None:
    ws = models_workspace
    # [serving] spare_after_seconds = 0: the spare starts as soon as the deployment runs.
    deployments = Deployments(
        ws.state_dir,
        registry=ws.registry,
        features=ws.features,
        config=ws.config.serving.model_copy(update={"spare_after_seconds": 0.0}),
        predictions=ws.config.predictions,
    )
    d = deployments.deploy("churn:1", name="spared")
    folder = Path(d.folder)
    try:
        assert json.loads((folder / "deployment.json").read_text())["spare_after"] == 0.0
        wait_for(lambda: len(spares(folder)) == 1, "the deployment's warm spare", 60)
        [spare] = spares(folder)
        wait_for(lambda: deployments.get("spared").spare_pid == spare, "the spare's pid", 10)

        # A killed replica: the spare takes its place, and a new spare is started for the next.
        os.kill(d.replica_processes[0].pid, signal.SIGKILL)
        wait_for(lambda: deployments.get("spared").restarts == 1, "the replica restart", 60)
        assert [r.pid for r in deployments.get("spared").replica_processes] == [spare]
        assert f"the warm spare (pid {spare}) takes it" in deployments.logs("spared")
        r = httpx.post(f"{d.url}/invocations", json={"dataframe_records": [ROW]})
        assert r.status_code == 200
        wait_for(lambda: len(spares(folder)) == 1, "the next warm spare", 60)
        [second] = spares(folder)
        assert second != spare

        # Two replicas cover each other: the update takes the spare and none is kept after.
        updated = deployments.update("spared", "churn:2", replicas=2)
        assert second in {r.pid for r in updated.replica_processes}
        assert status_of(folder)["spare_pid"] is None
        # (the replica the first spare became drains for a moment and exits)
        wait_for(lambda: spares(folder) == [], "no spare with 2 replicas", 30)
    finally:
        deployments.stop("spared")
    assert spares(folder) == []


def status_of(folder: Path) -> dict[str, object]:
    loaded: dict[str, object] = json.loads((folder / "status.json").read_text())
    return loaded


def test_a_failed_update_keeps_the_old_version_serving(models_workspace: Workspace) -> None:
    ws = models_workspace
    broken = ws.registry.register(log_model_run(ws, c=3.0), "churn")
    weights = next(ws.registry.model_path(f"churn:{broken.version}").glob("model.*"))
    weights.write_bytes(b"not a model")
    d = ws.deployments.deploy("churn:1", name="steady", spare=False)
    try:
        assert json.loads((Path(d.folder) / "deployment.json").read_text())["spare_after"] is None
        with pytest.raises(InvalidInput, match="update of steady failed") as info:
            ws.deployments.update("steady", f"churn:{broken.version}")
        assert "generation 1 keeps serving" in info.value.message
        now = ws.deployments.get("steady")
        assert now.state == "running" and [s.version for s in now.serving] == [1]
        # nothing of the failed update is left in the deployment's record

        record = json.loads((Path(now.folder) / "deployment.json").read_text())
        assert record["serving"][0]["version"] == 1
        assert not (Path(now.folder) / "spec-2.json").exists()
        # ... and the next update works (its generation number is a new one)
        again = ws.deployments.update("steady", "churn:2")
        assert again.generation == 3 and [s.version for s in again.serving] == [2]

        # The old generation drains for a moment after the update returns; then v2 answers.
        def answers_v2() -> bool:
            r = httpx.post(f"{d.url}/invocations", json={"dataframe_records": [ROW]})
            assert r.status_code == 200
            return r.headers["x-model-version"] == "churn:2"

        wait_for(answers_v2, "churn:2 answering after the update", timeout=30)
    finally:
        ws.deployments.stop("steady")


def test_mistakes_are_refused_before_anything_starts(models_workspace: Workspace) -> None:
    ws = models_workspace
    with pytest.raises(NotFound, match="no alias @prod"):
        ws.deployments.deploy("churn@prod", name="never")
    with pytest.raises(NotFound, match="No registered model named 'nope'"):
        ws.deployments.deploy("nope")
    assert not (ws.state_dir / "deployments" / "never").exists()
    with pytest.raises(InvalidInput, match="cannot name a deployment"):
        ws.deployments.deploy("churn:1", name="Bad_Name")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(Conflict, match=f"Port {port} on 127.0.0.1 is in use"):
            ws.deployments.deploy("churn:1", name="busy", port=port)
    assert not (ws.state_dir / "deployments" / "busy").exists()
    with pytest.raises(NotFound, match="No deployment named 'ghost'"):
        ws.deployments.get("ghost")
    # names never leave .mlops/deployments/, even where a deployment.json exists
    (ws.state_dir / "deployment.json").write_text("{}")
    for outside in ("..", "../deployments/..", "."):
        with pytest.raises(NotFound):
            ws.deployments.logs(outside)
    (ws.state_dir / "deployment.json").unlink()
    ws.deployments.deploy("churn:1", name="twice")
    try:
        with pytest.raises(Conflict, match="already running"):
            ws.deployments.deploy("churn:2", name="twice")
    finally:
        ws.deployments.stop("twice")


def test_replicas_die_with_a_killed_supervisor(models_workspace: Workspace) -> None:
    ws = models_workspace
    d = ws.deployments.deploy("churn:1", name="orphans")
    status = Path(d.folder) / "status.json"

    supervisor = json.loads(status.read_text())["pid"]
    replicas = [r.pid for r in d.replica_processes]
    os.kill(supervisor, signal.SIGKILL)

    def gone(pid: int) -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"

    wait_for(lambda: all(gone(p) for p in replicas), "the replicas to exit", 30)
    # ... and the next look restarts it (test_deployment_lifecycle follows it further)
    info = ws.deployments.get("orphans")
    assert info.state == "starting" and "supervisor" in (info.error or "")
    assert ws.deployments.stop("orphans").state == "stopped"
