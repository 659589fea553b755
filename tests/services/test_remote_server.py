"""The same tracking code against a real ``mlflow server`` (``[tracking] uri = "http://..."``),
and ``start_ui``, which serves a workspace's own store with MLflow's UI."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path

import mlflow
import pytest

from jupyter_mlops import Workspace
from jupyter_mlops.errors import BackendUnavailable, Conflict, InvalidInput
from jupyter_mlops.tracking.recorder import REST_BATCH
from jupyter_mlops.tracking.ui import UiProcess, start_ui
from tests.conftest import log_sweep
from tests.helpers import free_port, tail, wait_for
from tests.services.conftest import (
    _OPENER,
    MlflowServer,
    http_json,
    http_ok,
    write_tracking_uri,
)

pytestmark = pytest.mark.service


def _cli() -> list[str]:
    script = Path(sys.executable).parent / "jupyter-mlops"
    found = str(script) if script.exists() else shutil.which("jupyter-mlops")
    assert found, "the jupyter-mlops script is not installed"
    return [found]


def _cli_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "MLOPS_WORKSPACE"}


# -- the workspace on a remote tracking server ----------------------------------------------------


def test_round_trip_through_the_server(remote_workspace: Workspace, experiment_name: str) -> None:
    tracking = remote_workspace.tracking
    ids = log_sweep(remote_workspace, experiment=experiment_name, steps=5)
    # No database here: the recorder falls back to MLflow's REST log_batch.
    assert tracking.sql_engine is None

    page = tracking.list_runs([experiment_name], max_results=4)
    assert len(page.runs) == 4 and page.next_page_token
    rest = tracking.list_runs([experiment_name], max_results=4, page_token=page.next_page_token)
    assert len(rest.runs) == 2 and rest.next_page_token is None
    assert {r.run_id for r in page.runs + rest.runs} == set(ids)
    best = tracking.list_runs(
        [experiment_name], filter="params.lr = '0.3'", order_by=["metrics.accuracy DESC"]
    )
    accs = [r.metrics["accuracy"] for r in best.runs]
    assert len(accs) == 3 and accs == sorted(accs, reverse=True)

    detail = tracking.get_run(ids[0])
    assert detail.run_name == "lr0.1-seed0"
    assert [p.step for p in detail.metric_history["loss"]] == list(range(5))

    comparison = tracking.compare(ids, group_by_seed=True, figures=False)
    assert comparison.seed_param == "random_state"
    assert comparison.groups is not None
    assert {g.key["lr"]: len(g.run_ids) for g in comparison.groups} == {"0.1": 3, "0.3": 3}


def test_recorder_sends_long_histories_in_rest_sized_batches(
    remote_workspace: Workspace, experiment_name: str
) -> None:
    steps = REST_BATCH * 2 + 500
    with remote_workspace.tracking.start_run(experiment_name, run_name="long") as rec:
        for step in range(steps):
            rec.log_metric("loss", 1.0 / (step + 1), step=step)
        rec.log_metric("nan_metric", float("nan"))
    detail = remote_workspace.tracking.get_run(rec.run_id)
    assert [p.step for p in detail.metric_history["loss"]] == list(range(steps))
    assert detail.metrics["loss"] == pytest.approx(1.0 / steps)
    assert detail.metrics["nan_metric"] is None  # NaN is stored by MLflow, shown as null


def test_runs_made_here_show_up_unchanged_in_mlflows_api(
    remote_workspace: Workspace, mlflow_server: MlflowServer, experiment_name: str
) -> None:
    with remote_workspace.tracking.start_run(experiment_name, run_name="gbm-1") as rec:
        rec.log_params({"lr": 0.1, "depth": 5})
        rec.set_tag("team", "risk")
        for step, loss in enumerate([0.9, 0.5, 0.3]):
            rec.log_metric("loss", loss, step=step)
        rec.log_text("hello", "notes/readme.txt")

    # What the MLflow UI reads: the server's own REST API.
    run = http_json(f"{mlflow_server.url}/api/2.0/mlflow/runs/get?run_id={rec.run_id}")["run"]
    assert run["info"]["run_name"] == "gbm-1"
    assert run["info"]["status"] == "FINISHED"
    assert run["info"]["experiment_id"] == rec.experiment_id
    assert {p["key"]: p["value"] for p in run["data"]["params"]} == {"lr": "0.1", "depth": "5"}
    assert {m["key"]: (m["value"], m["step"]) for m in run["data"]["metrics"]} == {"loss": (0.3, 2)}
    tags = {t["key"]: t["value"] for t in run["data"]["tags"]}
    assert tags["mlflow.runName"] == "gbm-1"
    assert tags["team"] == "risk"
    query = urllib.parse.urlencode({"run_id": rec.run_id, "metric_key": "loss"})
    history = http_json(f"{mlflow_server.url}/api/2.0/mlflow/metrics/get-history?{query}")
    assert sorted((m["step"], m["value"]) for m in history["metrics"]) == [
        (0, 0.9),
        (1, 0.5),
        (2, 0.3),
    ]
    # The run table of the UI searches the experiment.
    found = http_json(
        f"{mlflow_server.url}/ajax-api/2.0/mlflow/runs/search",
        {"experiment_ids": [rec.experiment_id]},
    )
    assert [r["info"]["run_id"] for r in found["runs"]] == [rec.run_id]
    # The artifact went through the server's artifact proxy into its artifact store.
    listed = http_json(
        f"{mlflow_server.url}/ajax-api/2.0/mlflow/artifacts/list?run_id={rec.run_id}&path=notes"
    )
    assert [f["path"] for f in listed["files"]] == ["notes/readme.txt"]
    assert next(mlflow_server.artifacts.rglob("readme.txt")).read_text() == "hello"


def test_plain_mlflow_runs_show_up_through_the_server(
    remote_workspace: Workspace,
    mlflow_server: MlflowServer,
    experiment_name: str,
    plain_mlflow: Callable[[str], None],
) -> None:
    plain_mlflow(mlflow_server.url)
    exp_id = mlflow.create_experiment(experiment_name)
    with mlflow.start_run(experiment_id=exp_id, run_name="made-by-mlflow") as run:
        mlflow.log_param("alpha", 2)
        mlflow.log_metrics({"rmse": 1.5, "mae": 1.0})
    page = remote_workspace.tracking.list_runs([experiment_name])
    assert [(r.run_id, r.run_name, r.params, r.metrics) for r in page.runs] == [
        (run.info.run_id, "made-by-mlflow", {"alpha": "2"}, {"rmse": 1.5, "mae": 1.0})
    ]


def test_cli_lists_runs_of_a_remote_workspace(
    remote_workspace: Workspace, experiment_name: str
) -> None:
    ids = log_sweep(remote_workspace, experiment=experiment_name, seeds=(0,), steps=2)
    done = subprocess.run(
        [*_cli(), "runs", "--json", "--workspace", str(remote_workspace.root),
         "-e", experiment_name, "-s", "metrics.accuracy DESC"],
        capture_output=True, text=True, timeout=120, env=_cli_env(),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)["rows"]
    assert [r["run_id"] for r in rows] == ids[::-1]  # lr 0.3 has the higher accuracy


def test_ui_refuses_a_workspace_that_already_uses_a_server(remote_workspace: Workspace) -> None:
    with pytest.raises(InvalidInput, match="already there") as info:
        start_ui(remote_workspace.tracking, remote_workspace.root, port=free_port(), wait=False)
    assert remote_workspace.tracking_uri in info.value.message


# -- start_ui on the workspace's own store -------------------------------------------------------


@pytest.fixture
def ui(workspace: Workspace) -> Iterator[Callable[..., UiProcess]]:
    """Start the UI of ``workspace`` in the background; every UI started is stopped after."""
    started: list[UiProcess] = []

    def start(port: int | None = None) -> UiProcess:
        server = start_ui(workspace.tracking, workspace.root, port=port or free_port(), wait=False)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def test_ui_serves_the_workspace_store(
    workspace: Workspace, sweep: list[str], ui: Callable[..., UiProcess]
) -> None:
    with workspace.tracking.start_run("churn", run_name="with-artifact") as rec:
        rec.log_text("hello", "notes/readme.txt")
    server = ui()
    assert server.url.startswith("http://127.0.0.1:")
    assert server.running() and server.pid == server.process.pid
    assert server.log_path == workspace.root / ".mlops" / "logs" / "mlflow-ui.log"

    exp_id = workspace.tracking.get_experiment("churn").experiment_id
    found = http_json(
        f"{server.url}/api/2.0/mlflow/runs/search",
        {"experiment_ids": [exp_id], "max_results": 100},
    )
    runs = {r["info"]["run_id"]: r for r in found["runs"]}
    assert set(runs) == {*sweep, rec.run_id}
    first = runs[sweep[0]]
    assert first["info"]["run_name"] == "lr0.1-seed0"
    assert {p["key"]: p["value"] for p in first["data"]["params"]} == {
        "lr": "0.1",
        "random_state": "0",
        "model": "gbm",
    }
    # Artifacts stored under the workspace's local artifact root can be browsed and downloaded.
    listed = http_json(
        f"{server.url}/ajax-api/2.0/mlflow/artifacts/list?run_id={rec.run_id}&path=notes"
    )
    assert [f["path"] for f in listed["files"]] == ["notes/readme.txt"]
    query = urllib.parse.urlencode({"run_uuid": rec.run_id, "path": "notes/readme.txt"})
    with _OPENER.open(f"{server.url}/get-artifact?{query}", timeout=30) as response:
        assert response.read() == b"hello"
    # The page itself is MLflow's UI.
    with _OPENER.open(f"{server.url}/", timeout=30) as response:
        assert b"<html" in response.read().lower()

    with pytest.raises(Conflict, match=f"Port {server.url.rsplit(':', 1)[1]}") as info:
        start_ui(
            workspace.tracking, workspace.root, port=int(server.url.rsplit(":", 1)[1]), wait=False
        )
    assert info.value.hint is not None and "--port" in info.value.hint

    server.stop()
    assert not server.running()
    assert not http_ok(f"{server.url}/health")


def test_ui_that_cannot_start_reports_its_log(workspace: Workspace) -> None:
    broken = write_tracking_uri(workspace, "nosuchscheme://nowhere")
    try:
        leaked = start_ui(broken.tracking, broken.root, port=free_port(), wait=False)
    except BackendUnavailable as exc:
        error = exc
    else:
        leaked.stop()
        pytest.fail("the UI started on a store MLflow does not know")
    assert "exited" in error.message
    assert "nosuchscheme" in error.message  # the tail of the server's log
    assert error.hint is not None and "mlflow-ui.log" in error.hint


def test_ui_command_runs_until_ctrl_c(
    workspace: Workspace, sweep: list[str], tmp_path: Path
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = workspace.root / ".mlops" / "logs" / "mlflow-ui.log"
    stderr = tmp_path / "ui.stderr"
    with stderr.open("wb") as err_file:
        cli = subprocess.Popen(
            [*_cli(), "ui", "--workspace", str(workspace.root), "--port", str(port)],
            stdout=subprocess.PIPE, stderr=err_file, env=_cli_env(),
        )  # fmt: skip
    try:
        # The command says when the UI answers; Ctrl-C before that aborts the start instead.
        wait_for(
            lambda: "Press Ctrl-C" in stderr.read_text(),
            "jupyter-mlops ui",
            alive=lambda: cli.poll() is None,
            log=log,
        )
        exp_id = workspace.tracking.get_experiment("churn").experiment_id
        found = http_json(f"{url}/api/2.0/mlflow/runs/search", {"experiment_ids": [exp_id]})
        assert {r["info"]["run_id"] for r in found["runs"]} == set(sweep)
        cli.send_signal(signal.SIGINT)  # Ctrl-C
        out, _ = cli.communicate(timeout=60)
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.communicate()
    err = stderr.read_text()
    assert cli.returncode == 0, err + tail(log)
    assert f"MLflow UI on {url}" in out.decode()
    match = re.search(r"\(pid (\d+)", err)
    assert match, err
    # The server and its web workers are gone with it.
    deadline = time.monotonic() + 30
    while True:
        try:
            os.killpg(int(match.group(1)), 0)
        except ProcessLookupError:
            break
        assert time.monotonic() < deadline, "the UI server outlived the command"
        time.sleep(0.1)
    assert not http_ok(f"{url}/health")
