"""The tracking service on a real MLflow SQLite store."""

from __future__ import annotations

import math
from pathlib import Path

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from jupyter_mlops import Workspace
from jupyter_mlops.errors import InvalidInput, NotFound


def test_init_puts_store_and_artifacts_in_workspace(workspace: Workspace) -> None:
    assert workspace.tracking_uri == f"sqlite:///{workspace.root}/.mlops/mlflow.db"
    exps = workspace.tracking.list_experiments()
    assert [e.name for e in exps] == ["Default"]
    # The default experiment's artifacts live in the workspace, not in ./mlruns of the cwd.
    assert exps[0].artifact_location == str(workspace.root / ".mlops" / "artifacts" / "0")
    exp_id = workspace.tracking.ensure_experiment("churn")
    assert workspace.tracking.get_experiment("churn").experiment_id == exp_id
    assert workspace.tracking.get_experiment(exp_id).name == "churn"
    assert workspace.tracking.get_experiment("churn").artifact_location == str(
        workspace.root / ".mlops" / "artifacts" / "churn"
    )


def test_recorder_batches_metrics_into_mlflow(workspace: Workspace) -> None:
    with workspace.tracking.start_run("churn", run_name="batch") as rec:
        rec.log_param("lr", 0.1)
        for step in range(1500):
            rec.log_metric("loss", 1.0 / (step + 1), step=step)
        rec.log_metric("acc", 0.9)
        rec.log_metric("nan_metric", float("nan"))
        rec.log_metric("loss2", 3.0)  # auto step 0
        rec.log_metric("loss2", 2.0)  # auto step 1
    client = MlflowClient(workspace.tracking_uri)
    run = client.get_run(rec.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params == {"lr": "0.1"}
    history = client.get_metric_history(rec.run_id, "loss")
    assert len(history) == 1500
    assert sorted(m.step for m in history) == list(range(1500))
    # The latest value is the one at the highest step, as MLflow itself would record it.
    assert run.data.metrics["loss"] == pytest.approx(1.0 / 1500)
    assert math.isnan(run.data.metrics["nan_metric"])
    assert [m.step for m in client.get_metric_history(rec.run_id, "loss2")] == [0, 1]
    assert run.data.metrics["loss2"] == 2.0


def test_recorder_flush_twice_does_not_duplicate(workspace: Workspace) -> None:
    rec = workspace.tracking.start_run("churn")
    rec.log_metric("loss", 1.0, step=0, timestamp=1000)
    rec.flush()
    rec.log_metric("loss", 1.0, step=0, timestamp=1000)  # identical value: MLflow dedupes too
    rec.log_metric("loss", 0.5, step=1, timestamp=1001)
    rec.finish()
    history = MlflowClient(workspace.tracking_uri).get_metric_history(rec.run_id, "loss")
    assert [(m.step, m.value) for m in history] == [(0, 1.0), (1, 0.5)]


def test_recorder_rejects_non_numeric_metric(workspace: Workspace) -> None:
    rec = workspace.tracking.start_run("churn")
    with pytest.raises(InvalidInput, match="Metric 'acc' must be a number"):
        rec.log_metric("acc", "high")  # type: ignore[arg-type]
    rec.finish()


def test_failed_block_marks_run_failed(workspace: Workspace) -> None:
    with pytest.raises(ZeroDivisionError), workspace.tracking.start_run("churn") as rec:
        rec.log_metric("loss", 1.0)
        _ = 1 / 0
    run = MlflowClient(workspace.tracking_uri).get_run(rec.run_id)
    assert run.info.status == "FAILED"
    assert run.data.metrics == {"loss": 1.0}


def test_list_runs_filter_sort_and_pages(workspace: Workspace, sweep: list[str]) -> None:
    page = workspace.tracking.list_runs(["churn"], max_results=4)
    assert len(page.runs) == 4 and page.next_page_token
    rest = workspace.tracking.list_runs(["churn"], max_results=4, page_token=page.next_page_token)
    assert len(rest.runs) == 2 and rest.next_page_token is None
    assert {r.run_id for r in page.runs + rest.runs} == set(sweep)

    best = workspace.tracking.list_runs(
        ["churn"], filter="params.lr = '0.3'", order_by=["metrics.accuracy DESC"]
    )
    accs = [r.metrics["accuracy"] for r in best.runs]
    assert len(accs) == 3 and accs == sorted(accs, reverse=True)
    assert all(r.params["lr"] == "0.3" for r in best.runs)


def test_plain_mlflow_runs_show_up(workspace: Workspace) -> None:
    mlflow.set_tracking_uri(workspace.tracking_uri)
    exp_id = workspace.tracking.ensure_experiment("plain")
    with mlflow.start_run(experiment_id=exp_id, run_name="made-by-mlflow") as run:
        mlflow.log_param("alpha", 2)
        mlflow.log_metric("rmse", 1.5)
    page = workspace.tracking.list_runs(["plain"])
    assert [(r.run_id, r.run_name, r.params, r.metrics) for r in page.runs] == [
        (run.info.run_id, "made-by-mlflow", {"alpha": "2"}, {"rmse": 1.5})
    ]


@pytest.mark.parametrize(
    "bad_filter",
    ["metrics.accuracy >>> 3", "params.lr = 0.1 and", "nonsense here", "metrics.acc > 'x'"],
)
def test_bad_filter_is_invalid_input_quoting_the_parse_error(
    workspace: Workspace, sweep: list[str], bad_filter: str
) -> None:
    with pytest.raises(InvalidInput) as info:
        workspace.tracking.list_runs(["churn"], filter=bad_filter)
    assert info.value.status == 400
    assert info.value.field == "filter"
    assert bad_filter in info.value.message


def test_unknown_experiment_and_run_are_not_found(workspace: Workspace) -> None:
    with pytest.raises(NotFound, match="Experiment 'nope' does not exist") as info:
        workspace.tracking.list_runs(["nope"])
    assert "Default" in (info.value.hint or "")
    with pytest.raises(NotFound, match=r"Run '0+' does not exist"):
        workspace.tracking.get_run("0" * 32)
    with pytest.raises(NotFound, match="Run 'zz' does not exist"):
        workspace.tracking.get_run("zz")
    # an id too large for the store is no experiment, not a failing store (it was a 503)
    too_large = "9" * 23
    with pytest.raises(NotFound, match=f"Experiment '{too_large}' does not exist"):
        workspace.tracking.list_runs([too_large])
    with pytest.raises(NotFound, match=f"Experiment '{too_large}' does not exist"):
        workspace.tracking.get_experiment(too_large)


def test_page_size_is_checked(workspace: Workspace) -> None:
    with pytest.raises(InvalidInput, match="max_results"):
        workspace.tracking.list_runs(max_results=0)


def test_get_run_has_sorted_histories(workspace: Workspace, sweep: list[str]) -> None:
    run = workspace.tracking.get_run(sweep[0])
    assert [p.step for p in run.metric_history["loss"]] == list(range(20))
    assert run.params["random_state"] == "0"


def test_bad_order_clause_is_invalid_input(workspace: Workspace, sweep: list[str]) -> None:
    with pytest.raises(InvalidInput, match="Invalid order clause") as info:
        workspace.tracking.list_runs(["churn"], order_by=["metrics.accuracy SIDEWAYS"])
    assert info.value.field == "order_by"


def test_sqlite_planner_statistics_follow_the_run_count(workspace: Workspace) -> None:
    # Without statistics SQLite sorts by metric with a scan per run (seconds at 10,000 runs).
    for i in range(60):
        with workspace.tracking.start_run("many") as rec:
            rec.log_metric("accuracy", i / 60)
    page = workspace.tracking.list_runs(["many"], order_by=["metrics.accuracy DESC"])
    assert page.runs[0].metrics["accuracy"] == pytest.approx(59 / 60)
    with workspace.tracking.sql_engine.connect() as conn:
        stat = conn.exec_driver_sql("SELECT stat FROM sqlite_stat1 WHERE tbl = 'runs'").scalar()
    assert int(stat.split()[0]) == 60


def test_processes_opening_a_new_workspace_at_once_all_get_a_working_store(tmp_path: Path) -> None:
    """A job's workers, the Jupyter server and a command can all open a new workspace's
    embedded store in the same second; MLflow's table creation alone lets them collide
    ("duplicate column name")."""
    import subprocess
    import sys
    import time

    Workspace.init(tmp_path / "ws")
    # Then, at one agreed moment, each starts a run in the same new experiment: creating it
    # is idempotent (one of four got a 409 "already exists").
    code = (
        "import sys, time\n"
        "from jupyter_mlops import Workspace\n"
        "ws = Workspace.open(sys.argv[1])\n"
        "print(len(ws.tracking.list_experiments()))\n"
        "time.sleep(max(0.0, float(sys.argv[2]) - time.time()))\n"
        "with ws.tracking.start_run('race') as run:\n"
        "    print(run.experiment_id)\n"
    )
    at = str(time.time() + 12)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(tmp_path / "ws"), at],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    results = [p.communicate(timeout=180) for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, [err[-500:] for _, err in results]
    # Default, and "race" when another process got there first
    assert all(out.split()[0] in {"1", "2"} for out, _ in results), results
    assert len({out.split()[1] for out, _ in results}) == 1  # one experiment for the four


def test_runs_are_named_by_id_prefix_or_name(workspace: Workspace, sweep: list[str]) -> None:
    tracking = workspace.tracking
    first = sweep[0]
    assert tracking.resolve_run(first).run_name == "lr0.1-seed0"
    assert tracking.resolve_run(first.upper()).run_id == first
    assert tracking.resolve_run(first[:6]).run_id == first
    assert tracking.resolve_run("lr0.3-seed2").run_id == sweep[5]
    assert tracking.resolve_run(" lr0.3-seed2 ", experiment="churn").run_id == sweep[5]
    assert tracking.get_run(first[:8]).metric_history["loss"][0].step == 0
    # A name taken twice, and a run named like another run's id prefix: both are listed.
    with tracking.start_run("other", run_name="lr0.3-seed2"):
        pass
    with tracking.start_run("other", run_name=first[:4]) as named_like_prefix:
        pass
    with pytest.raises(InvalidInput, match=r"'lr0\.3-seed2' names 2 runs") as info:
        tracking.resolve_run("lr0.3-seed2")
    assert f"lr0.3-seed2 ({sweep[5][:8]}, started 20" in info.value.message
    assert info.value.status == 400 and info.value.field == "run_id"
    assert tracking.resolve_run("lr0.3-seed2", experiment="churn").run_id == sweep[5]
    with pytest.raises(InvalidInput, match=f"'{first[:4]}' names 2 runs") as info:
        tracking.resolve_run(first[:4])
    assert named_like_prefix.run_id[:8] in info.value.message
    # Unknown: the closest names, and why a short prefix is not looked up.
    with pytest.raises(NotFound, match=r"Run 'lr0\.1-sede0' does not exist") as info:
        tracking.resolve_run("lr0.1-sede0")
    assert (info.value.hint or "").startswith("Did you mean lr0.1-seed0")
    with pytest.raises(NotFound, match="in experiment other") as info:
        tracking.resolve_run("lr0.1-seed0", experiment="other")
    with pytest.raises(NotFound) as info:
        tracking.resolve_run(first[:3])
    assert "at least 4 characters" in (info.value.hint or "")
    with pytest.raises(InvalidInput, match="cannot be empty"):
        tracking.resolve_run("  ")


def test_compare_takes_prefixes_and_names(workspace: Workspace, sweep: list[str]) -> None:
    comparison = workspace.tracking.compare(
        [sweep[0][:8], "lr0.1-seed1", *sweep[2:]], group_by_seed=True, figures=False
    )
    assert [r.run_id for r in comparison.runs] == sweep
    # The same run twice (by name and by id) is one run.
    with pytest.raises(InvalidInput, match="at least two different runs"):
        workspace.tracking.compare([sweep[0], "lr0.1-seed0"], figures=False)


@pytest.mark.parametrize(
    ("bad_filter", "named", "meant"),
    [
        ("roc_auc > 0.8", "'roc_auc' is not", "metrics.roc_auc > 0.8"),
        # The kind each key was logged as, a typo of a logged name, values in quotes untouched.
        (
            "accuracy >= 0.8 and lr = '0.1' and tags.note != 'accuracy'",
            "'accuracy', 'lr' are not",
            "metrics.accuracy >= 0.8 and params.lr = '0.1' and tags.note != 'accuracy'",
        ),
        ("acuracy > 0.8", "did you mean metrics.accuracy?", "metrics.accuracy > 0.8"),
        ("`val auc` > 0.8", "'val auc' is not", "metrics.`val auc` > 0.8"),
    ],
)
def test_a_filter_on_a_bare_name_is_refused_with_the_filter_meant(
    workspace: Workspace, sweep: list[str], bad_filter: str, named: str, meant: str
) -> None:
    with pytest.raises(InvalidInput) as info:
        workspace.tracking.list_runs(["churn"], filter=bad_filter)
    assert info.value.field == "filter" and named in info.value.message
    assert (info.value.hint or "").endswith(f"The filter with them: {meant}")
    # What we suggest is a filter MLflow accepts.
    workspace.tracking.list_runs(["churn"], filter=meant)
