"""The same tracking code on a real PostgreSQL server (``[tracking] uri = "postgresql://..."``)."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from jupyter_mlops import Workspace
from jupyter_mlops.errors import BackendUnavailable
from jupyter_mlops.tracking.ui import start_ui
from tests.conftest import log_sweep
from tests.helpers import free_port
from tests.services.conftest import dispose, http_json, write_tracking_uri

pytestmark = pytest.mark.service


def test_workspace_reads_the_postgres_uri(pg_workspace: Workspace, postgres_uri: str) -> None:
    assert pg_workspace.tracking_uri == postgres_uri
    assert pg_workspace.registry_uri == postgres_uri
    assert [e.name for e in pg_workspace.tracking.list_experiments()] == ["Default"]


def test_recorder_bulk_inserts_metrics_on_postgres(pg_workspace: Workspace) -> None:
    with pg_workspace.tracking.start_run("churn", run_name="bulk") as rec:
        rec.log_param("lr", 0.1)
        for step in range(1500):
            rec.log_metric("loss", 1.0 / (step + 1), step=step)
        rec.log_metric("nan_metric", float("nan"))
        rec.log_metric("inf_metric", float("inf"))
        rec.log_metric("acc", 0.5, step=0, timestamp=1000)
        rec.flush()
        rec.log_metric("acc", 0.5, step=0, timestamp=1000)  # the same value again: no duplicate
        rec.log_metric("acc", 0.9, step=1, timestamp=1001)
    # The bulk SQL path ran on PostgreSQL, not the per-value fallback.
    engine = pg_workspace.tracking.sql_engine
    assert engine is not None and engine.dialect.name == "postgresql"

    client = MlflowClient(pg_workspace.tracking_uri)
    run = client.get_run(rec.run_id)
    assert run.info.status == "FINISHED"
    assert run.info.run_name == "bulk"
    assert run.data.params == {"lr": "0.1"}
    history = client.get_metric_history(rec.run_id, "loss")
    assert sorted(m.step for m in history) == list(range(1500))
    assert run.data.metrics["loss"] == pytest.approx(1.0 / 1500)
    assert math.isnan(run.data.metrics["nan_metric"])
    assert run.data.metrics["inf_metric"] == pytest.approx(1.7976931348623157e308)
    acc = client.get_metric_history(rec.run_id, "acc")
    assert sorted((m.step, m.value) for m in acc) == [(0, 0.5), (1, 0.9)]
    assert run.data.metrics["acc"] == 0.9


def test_list_filter_sort_and_pages_on_postgres(pg_workspace: Workspace) -> None:
    ids = log_sweep(pg_workspace)
    tracking = pg_workspace.tracking
    page = tracking.list_runs(["churn"], max_results=4)
    assert len(page.runs) == 4 and page.next_page_token
    rest = tracking.list_runs(["churn"], max_results=4, page_token=page.next_page_token)
    assert len(rest.runs) == 2 and rest.next_page_token is None
    assert {r.run_id for r in page.runs + rest.runs} == set(ids)

    best = tracking.list_runs(
        ["churn"], filter="params.lr = '0.3'", order_by=["metrics.accuracy DESC"]
    )
    accs = [r.metrics["accuracy"] for r in best.runs]
    assert len(accs) == 3 and accs == sorted(accs, reverse=True)
    assert {r.params["random_state"] for r in best.runs} == {"0", "1", "2"}
    above = tracking.list_runs(filter="metrics.accuracy > 0.835")  # 0.8 + lr / 10 + seed / 100
    assert {r.run_name for r in above.runs} == {"lr0.3-seed1", "lr0.3-seed2"}


def test_get_run_and_compare_by_seed_on_postgres(pg_workspace: Workspace) -> None:
    ids = log_sweep(pg_workspace, steps=20)
    detail = pg_workspace.tracking.get_run(ids[0])
    assert detail.run_name == "lr0.1-seed0"
    assert [p.step for p in detail.metric_history["loss"]] == list(range(20))
    assert detail.metric_history["loss"][0].value == pytest.approx(1.1)
    assert detail.params == {"lr": "0.1", "random_state": "0", "model": "gbm"}

    comparison = pg_workspace.tracking.compare(ids, group_by_seed=True, figures=False)
    assert comparison.seed_param == "random_state"
    assert comparison.groups is not None
    groups = {g.key["lr"]: g for g in comparison.groups}
    assert set(groups) == {"0.1", "0.3"}
    assert set(groups["0.1"].run_ids) == set(ids[:3])
    accuracy = next(m for m in groups["0.3"].metrics if m.name == "accuracy")
    assert accuracy.n == 3
    assert accuracy.mean == pytest.approx(0.84)
    assert accuracy.ci_low is not None and accuracy.ci_low < 0.84 < accuracy.ci_high  # type: ignore[operator]


def test_plain_mlflow_runs_show_up_on_postgres(
    pg_workspace: Workspace, plain_mlflow: Callable[[str], None]
) -> None:
    plain_mlflow(pg_workspace.tracking_uri)
    exp_id = mlflow.create_experiment("plain")
    with mlflow.start_run(experiment_id=exp_id, run_name="made-by-mlflow") as run:
        mlflow.log_param("alpha", 2)
        for step, rmse in enumerate([3.0, 2.0, 1.5]):
            mlflow.log_metric("rmse", rmse, step=step)
    page = pg_workspace.tracking.list_runs(["plain"])
    assert [(r.run_id, r.run_name, r.params, r.metrics, r.status) for r in page.runs] == [
        (run.info.run_id, "made-by-mlflow", {"alpha": "2"}, {"rmse": 1.5}, "FINISHED")
    ]
    history = pg_workspace.tracking.get_run(run.info.run_id).metric_history["rmse"]
    assert [(p.step, p.value) for p in history] == [(0, 3.0), (1, 2.0), (2, 1.5)]


def test_runs_made_here_read_back_unchanged_by_plain_mlflow(
    pg_workspace: Workspace, plain_mlflow: Callable[[str], None]
) -> None:
    with pg_workspace.tracking.start_run("churn", run_name="ours") as rec:
        rec.log_params({"depth": 5})
        rec.set_tag("team", "risk")
        rec.log_metric("auc", 0.7)
        rec.log_metric("auc", 0.8)
    plain_mlflow(pg_workspace.tracking_uri)
    frame = mlflow.search_runs(experiment_names=["churn"])
    assert frame.loc[0, "run_id"] == rec.run_id
    assert frame.loc[0, "tags.mlflow.runName"] == "ours"
    assert frame.loc[0, "params.depth"] == "5"
    assert frame.loc[0, "tags.team"] == "risk"
    assert frame.loc[0, "metrics.auc"] == 0.8


def test_artifacts_of_postgres_runs_stay_in_the_workspace(pg_workspace: Workspace) -> None:
    with pg_workspace.tracking.start_run("churn") as rec:
        rec.log_text("hello", "notes/readme.txt")
    run = MlflowClient(pg_workspace.tracking_uri).get_run(rec.run_id)
    stored = Path(run.info.artifact_uri) / "notes" / "readme.txt"
    assert stored.read_text() == "hello"
    assert pg_workspace.artifact_root in stored.parents


def test_cli_lists_runs_of_a_postgres_workspace(pg_workspace: Workspace) -> None:
    ids = log_sweep(pg_workspace, settings=(0.1,), seeds=(0, 1), steps=3)
    cli = Path(sys.executable).parent / "jupyter-mlops"
    command = [str(cli if cli.exists() else shutil.which("jupyter-mlops"))]
    done = subprocess.run(
        [*command, "runs", "--json", "--workspace", str(pg_workspace.root), "-e", "churn"],
        capture_output=True,
        text=True,
        timeout=120,
        env={k: v for k, v in os.environ.items() if k != "MLOPS_WORKSPACE"},
    )
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)["rows"]
    assert {r["run_id"] for r in rows} == set(ids)
    assert {r["run_name"] for r in rows} == {"lr0.1-seed0", "lr0.1-seed1"}
    assert all(r["params.lr"] == "0.1" and r["metrics.loss"] is not None for r in rows)


def test_ui_serves_a_postgres_workspace(pg_workspace: Workspace) -> None:
    ids = log_sweep(pg_workspace, settings=(0.1,), seeds=(0, 1), steps=3)
    exp_id = pg_workspace.tracking.get_experiment("churn").experiment_id
    ui = start_ui(pg_workspace.tracking, pg_workspace.root, port=free_port(), wait=False)
    try:
        found = http_json(f"{ui.url}/api/2.0/mlflow/runs/search", {"experiment_ids": [exp_id]})
    finally:
        ui.stop()
    assert {r["info"]["run_id"] for r in found["runs"]} == set(ids)


def test_workspace_on_an_empty_postgres_database(
    workspace_dir: Path, empty_postgres_uri: str
) -> None:
    # The first use creates MLflow's tables, as plain MLflow would.
    ws = write_tracking_uri(Workspace.init(workspace_dir), empty_postgres_uri)
    try:
        assert [e.name for e in ws.tracking.list_experiments()] == ["Default"]
        with ws.tracking.start_run("churn", run_name="first") as rec:
            rec.log_metric("loss", 0.5)
        assert [r.run_id for r in ws.tracking.list_runs(["churn"]).runs] == [rec.run_id]
    finally:
        dispose(ws)


def test_default_experiment_of_a_new_postgres_database_keeps_artifacts_in_workspace(
    workspace_dir: Path, empty_postgres_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # a notebook or terminal anywhere, not in the workspace
    ws = write_tracking_uri(Workspace.init(workspace_dir), empty_postgres_uri)
    try:
        default = ws.tracking.get_experiment("Default")
        assert default.artifact_location == str(ws.artifact_root / "0")
        assert not (elsewhere / "mlruns").exists()
    finally:
        dispose(ws)


def test_unreachable_postgres_is_backend_unavailable(
    workspace_dir: Path, postgres_driver: None
) -> None:
    nowhere = f"postgresql://postgres@127.0.0.1:{free_port()}/nodb"  # nothing listens there
    ws = write_tracking_uri(Workspace.init(workspace_dir), nowhere)
    with pytest.raises(BackendUnavailable, match="Cannot connect") as info:
        ws.tracking.list_experiments()
    assert info.value.hint is not None and "[tracking].uri" in info.value.hint
