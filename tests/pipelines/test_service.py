"""Pipelines on a real workspace: declarations checked at plan, triggers read by the scheduler
process, a run from a monitoring alert to an A/B test and its promotion, events absorbed while a
run goes, a failing gate, and ticks missed while the scheduler was down."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

from jupyter_mlops import Workspace
from jupyter_mlops.abtest.schemas import OutcomeItem
from jupyter_mlops.errors import Conflict, InvalidInput, NotFound
from jupyter_mlops.lineage.tags import PIPELINE_RUN_TAG, PIPELINE_TAG, TRIGGER_TAG
from jupyter_mlops.pipelines.schemas import PipelineRun
from tests.conftest import log_model_run
from tests.helpers import (
    build_feature_workspace,
    parameterised_notebook,
    wait_for,
    workspace_spend_rows,
)

pytestmark = pytest.mark.slow

ROW = {"tenure": 12, "spend": 50.0, "calls": 2.0}

TRAIN = """\
%%mlops run --experiment churn --params c,seed --metrics roc_auc
import mlflow
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

rng = np.random.default_rng(seed)
x = pd.DataFrame({
    "tenure": rng.integers(1, 72, 300).astype("int64"),
    "spend": rng.normal(50, 10, 300),
    "calls": rng.poisson(2, 300).astype("float64"),
})
y = (x["tenure"] > x["tenure"].median()).astype(int)
clf = LogisticRegression(C=c, max_iter=500).fit(x, y)
mlflow.sklearn.log_model(
    clf, name="model", input_example=x.head(3), pyfunc_predict_fn="predict_proba",
    pip_requirements=["scikit-learn"],
)
roc_auc = quality
"""


def write_toml(ws: Workspace, pipelines: str, extra: str = "") -> None:
    base = (
        "[run]\nautolog = false\n\n[pipelines]\npoll_seconds = 0.5\nab_check_seconds = 0.2\n\n"
        "[monitoring.deployment.churn-ct]\nlatency_p95_ms = 0.001\n"
    )
    (ws.root / "mlops.toml").write_text(base + extra + "\n" + pipelines, encoding="utf-8")


PIPELINE = """
[pipeline.retrain]
notebook = "notebooks/train.ipynb"
model = "churn"
parameters = {{ c = 2.0 }}
gates = [{gates}]
triggers = [{{ kind = "alert", deployment = "churn-ct", alerts = ["latency"] }}]
debounce_seconds = 0
{abtest}
"""


@pytest.fixture(scope="module")
def ct(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """Model churn v1 @champion deployed as churn-ct, a training notebook, MLflow autolog off."""
    root = tmp_path_factory.mktemp("ct") / "ws"
    ws = Workspace.init(root)
    write_toml(ws, "")
    ws = Workspace.open(root)
    run = log_model_run(ws, c=0.1, metrics={"roc_auc": 0.80})
    ws.registry.register(run, "churn", aliases=["champion"])
    parameterised_notebook(
        root / "notebooks" / "train.ipynb",
        "%load_ext jupyter_mlops",
        TRAIN,
        parameters="c = 1.0\nseed = 0\nquality = 0.9",
    )
    ws.deploy("churn@champion", name="churn-ct")
    yield ws
    ws.monitoring.stop_scheduler()
    ws.jobs.stop_workers()
    for d in ws.deployments.list():
        if d.state not in {"stopped", "failed"}:
            ws.deployments.stop(d.name)


def run_when(
    ws: Workspace, run_id: str, ok: Callable[[PipelineRun], bool], what: str, timeout: float
) -> PipelineRun:
    """The pipeline run once ``ok`` holds for it (the scheduler process moves it along)."""
    wait_for(lambda: ok(ws.pipelines.get_run(run_id)), what, timeout=timeout)
    return ws.pipelines.get_run(run_id)


def reopen(ws: Workspace) -> Workspace:
    return Workspace.open(ws.root)


def ask(ws: Workspace, n: int) -> list[tuple[str, str]]:
    url = ws.deployments.get("churn-ct").url
    out = []
    with httpx.Client(base_url=url, timeout=30) as client:
        for _ in range(n):
            rid = uuid.uuid4().hex
            r = client.post(
                "/invocations", json={"dataframe_records": [ROW]}, headers={"x-request-id": rid}
            )
            assert r.status_code == 200, r.text
            out.append((rid, r.headers.get("x-variant", "champion")))
    return out


def test_plan_refuses_what_the_workspace_does_not_have(ct: Workspace) -> None:
    cases = {
        'triggers = [{ kind = "schedule", cron = "61 * * * *" }]': "not a cron schedule",
        'triggers = [{ kind = "cron", cron = "0 3 * * *" }]': "unknown trigger kind 'cron'",
        'triggers = [{ kind = "ingest", view = "nope" }]': "nope",
        'triggers = [{ kind = "alert", deployment = "chrun-ct" }]': "Did you mean churn-ct",
        'gates = ["roc_auc >> 3"]': "gate",
        "parameters = { epochs = 3 }": "epochs",
    }
    for line, message in cases.items():
        write_toml(
            ct, f'[pipeline.p]\nnotebook = "notebooks/train.ipynb"\nmodel = "churn"\n{line}\n'
        )
        with pytest.raises(InvalidInput, match=message):
            reopen(ct).pipelines.plan()
    write_toml(ct, '[pipeline.p]\nnotebook = "notebooks/missing.ipynb"\nmodel = "fraud"\n')
    with pytest.raises(InvalidInput) as err:
        reopen(ct).pipelines.plan()
    assert "missing.ipynb" in err.value.message and "fraud" in err.value.message
    assert reopen(ct).pipelines.list().pipelines == []

    # A valid declaration in pipelines/*.py: create, then unchanged, then an update with a diff.
    folder = ct.root / "pipelines"
    folder.mkdir()
    source = (
        "from jupyter_mlops.pipelines import Pipeline, Schedule\n"
        "nightly = Pipeline(name='nightly', notebook='notebooks/train.ipynb', model='churn',\n"
        "                   gates={gates}, triggers=[Schedule('0 3 * * *')])\n"
    )
    (folder / "nightly.py").write_text(source.format(gates="['roc_auc>=0.5']"))
    write_toml(ct, "")
    ws = reopen(ct)
    plan = ws.pipelines.plan()
    assert [(c.name, c.action, c.version) for c in plan.changes] == [("nightly", "create", 1)]
    ws.pipelines.apply()
    ws.monitoring.stop_scheduler()
    info = ws.pipelines.get("nightly")
    assert info.enabled and info.source == "pipelines/nightly.py"
    assert info.triggers[0].next_fire is not None and info.triggers[0].next_fire.hour == 3
    assert not ws.pipelines.plan().has_changes
    (folder / "nightly.py").write_text(source.format(gates="['roc_auc>=0.6']"))
    [change] = ws.pipelines.plan().changes
    assert change.action == "update" and change.version == 2
    assert change.diff == ["gates: ['roc_auc>=0.5'] -> ['roc_auc>=0.6']"]
    (folder / "nightly.py").unlink()
    ws.pipelines.apply()
    with pytest.raises(NotFound, match="no pipeline 'nightly'"):
        ws.pipelines.get("nightly")
    ws.monitoring.stop_scheduler()


def test_ticks_missed_while_the_scheduler_was_down_give_one_run(ct: Workspace) -> None:
    write_toml(
        ct,
        '[pipeline.hourly]\nnotebook = "notebooks/train.ipynb"\nmodel = "churn"\n'
        'gates = ["roc_auc>=0.99"]\ntriggers = [{ kind = "schedule", cron = "0 * * * *" }]\n',
    )
    ws = reopen(ct)
    ws.pipelines.apply()
    ws.monitoring.stop_scheduler()
    start = datetime.now(UTC)
    ws.pipelines.tick(start)  # the first look only notes where the schedule stands
    assert ws.pipelines.events("hourly").events == []
    # The scheduler was down for 3 h 10 min: three or four hourly ticks passed.
    end = start + timedelta(hours=3, minutes=10)
    ws.pipelines.tick(end)
    events = ws.pipelines.events("hourly").events
    assert [e.outcome for e in events] == ["started", "missed"]
    latest = end.replace(minute=0, second=0, microsecond=0)
    assert events[0].evidence["tick"] == latest.isoformat()
    assert events[1].evidence["missed"] == (2 if start.minute < 50 else 3)
    [run] = ws.pipelines.runs("hourly").runs
    assert run.trigger.id == events[0].id and run.job_id
    # Run now while that run goes: the request joins it. Disabled: refused.
    joined = ws.pipelines.run_now("hourly", reason="a test")
    assert joined.event.outcome == "absorbed" and joined.run is not None
    assert joined.run.id == run.id
    assert ws.pipelines.cancel_run(run.id).state == "cancelled"
    ws.pipelines.set_enabled("hourly", False)
    with pytest.raises(Conflict, match="disabled"):
        ws.pipelines.run_now("hourly")
    ws.pipelines.set_enabled("hourly", True)
    ws.monitoring.stop_scheduler()


def test_a_hundred_events_at_once_make_one_run(ct: Workspace) -> None:
    write_toml(
        ct,
        '[pipeline.burst]\nnotebook = "notebooks/train.ipynb"\nmodel = "churn"\n'
        'gates = ["roc_auc>=0.99"]\n',
    )
    ws = reopen(ct)
    ws.pipelines.apply()
    results = []
    lock = threading.Lock()

    def press() -> None:
        result = Workspace.open(ct.root).pipelines.run_now("burst")
        with lock:
            results.append(result)

    threads = [threading.Thread(target=press) for _ in range(100)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    outcomes = [r.event.outcome for r in results]
    assert outcomes.count("started") == 1 and outcomes.count("absorbed") == 99
    [run] = ws.pipelines.runs("burst").runs
    assert run.absorbed == 99
    assert {r.run.id for r in results if r.run} == {run.id}
    # The gate fails: the MLflow run is kept, nothing is registered, the step says why.
    ended = run_when(
        ws, run.id[-8:], lambda r: r.state in ("succeeded", "failed"), "the run's end", 180
    )
    assert ended.state == "failed", ended.model_dump()
    assert ended.step("gates").state == "failed"
    assert "roc_auc>=0.99" in ended.step("gates").detail
    assert ended.step("register").state == "skipped"
    assert ended.run_id and ws.tracking.get_run(ended.run_id, with_history=False)
    assert ws.registry.get_model("churn").versions == 1


def test_an_alert_retrains_registers_ab_tests_and_promotes(ct: Workspace) -> None:
    abtest = (
        '[pipeline.retrain.abtest]\ndeployment = "churn-ct"\nsplit = [50, 50]\npromote = true\n'
    )
    write_toml(ct, PIPELINE.format(gates='"roc_auc>=champion"', abtest=abtest))
    ws = reopen(ct)
    ws.pipelines.apply()
    assert ws.monitoring.scheduler_state().running
    # Traffic breaches the deployment's (tiny) latency threshold: the check fires an alert,
    # which the scheduler process turns into a pipeline run.
    ask(ws, 20)
    report = ws.monitoring.check("churn-ct")
    assert any(e.kind == "latency" and e.state == "firing" for e in report.events)
    wait_for(lambda: bool(ws.pipelines.runs("retrain").runs), "a run from the alert", 30)
    [run] = ws.pipelines.runs("retrain").runs
    assert run.trigger.kind == "alert" and run.trigger.evidence["alert"] == "latency"
    assert run.trigger.evidence["report_id"] == report.summary.id
    run = run_when(
        ws,
        run.id,
        lambda r: r.step("abtest").state != "pending" or r.state == "failed",
        "the A/B test step",
        180,
    )
    assert run.step("abtest").state == "succeeded", run.model_dump_json(indent=1)
    assert [s.state for s in run.steps[:4]] == ["succeeded"] * 4
    version = run.model_version
    assert version == 2
    assert ws.registry.get_version("churn@challenger").version == 2
    tags = ws.registry.version_tags("churn")[2]
    assert tags[PIPELINE_TAG] == "retrain" and tags[PIPELINE_RUN_TAG] == run.id
    assert '"kind": "alert"' in tags[TRIGGER_TAG]
    assert ws.pipelines.run_for_version("churn", 2) == ws.pipelines.get_run(run.id)
    # The challenger receives traffic; outcomes favour it; the pipeline promotes it.
    answers = ask(ws, 300)
    assert {v for _, v in answers} == {"champion", "challenger"}
    rng = np.random.default_rng(1)
    wins = [
        OutcomeItem(request_id=rid, value=1)
        for rid, v in answers
        if rng.random() < (0.6 if v == "challenger" else 0.1)
    ]
    ws.abtests.record_outcomes("churn-ct", wins)
    done = run_when(ws, run.id, lambda r: r.state != "waiting", "the promotion", 60)
    assert done.state == "succeeded", done.model_dump_json(indent=1)
    assert done.step("promote").data["winner"] == "challenger"
    assert ws.registry.get_version("churn@champion").version == 2
    events = ws.pipelines.events("retrain").events
    assert events[-1].outcome == "started"
    # The chain from what serves the version back to the alert, then on to job, run, notebook.
    chain = ws.pipelines.lineage("churn@champion")
    kinds = [link.kind for link in chain.links]
    assert kinds[:2] == ["deployment", "abtest"] and "version" in kinds
    assert kinds.index("pipeline_run") < kinds.index("trigger") < kinds.index("job")
    assert {"run", "gates", "notebook", "features", "commit"} <= set(kinds)
    trigger = chain.links[kinds.index("trigger")]
    assert trigger.refs["report_id"] == report.summary.id
    notebook = chain.links[kinds.index("notebook")]
    assert notebook.refs["notebook"].endswith(".ipynb")
    assert (ws.root / notebook.refs["notebook"]).is_file()


def test_declarations_in_python_name_their_file_when_they_break(tmp_path: Path) -> None:
    ws = Workspace.init(tmp_path / "ws")
    (ws.root / "pipelines").mkdir()
    (ws.root / "pipelines" / "bad.py").write_text(
        "from jupyter_mlops.pipelines import Pipeline\n"
        "p = Pipeline(name='x', notebook='n.ipynb', model='m', triggers=[{'kind': 'sometimes'}])\n"
    )
    with pytest.raises(InvalidInput, match=r"pipelines/bad\.py"):
        ws.pipelines.plan()


def test_ingested_batches_and_a_changed_source_file_are_events(ct: Workspace) -> None:
    ws = build_feature_workspace(reopen(ct))
    write_toml(
        ct,
        '[pipeline.fresh]\nnotebook = "notebooks/train.ipynb"\nmodel = "churn"\n'
        "debounce_seconds = 0\n"
        'triggers = [{ kind = "ingest", view = "customer_spend" },\n'
        '            { kind = "ingest", view = "customer_profile" }]\n',
    )
    ws = reopen(ct)
    ws.pipelines.apply()
    ws.monitoring.stop_scheduler()
    ws.pipelines.tick()
    assert ws.pipelines.events("fresh").events == []  # the batch before apply starts nothing
    ws.features.ingest("customer_spend", workspace_spend_rows())
    ws.features.ingest("customer_spend", workspace_spend_rows())
    ws.pipelines.tick()
    events = ws.pipelines.events("fresh").events
    assert [e.outcome for e in events] == ["absorbed", "started"]
    assert all(e.kind == "ingest" and e.evidence["view"] == "customer_spend" for e in events)
    assert events[0].evidence["batch"] != events[1].evidence["batch"]
    ws.pipelines.cancel_run(events[1].run_id or "")
    # A file source rewritten: one event naming the file.
    profile = ct.root / "data" / "profile.parquet"
    profile.write_bytes(profile.read_bytes())
    os.utime(profile, (time.time() + 5, time.time() + 5))
    ws.pipelines.tick()
    newest = ws.pipelines.events("fresh").events[0]
    assert newest.outcome == "started" and newest.evidence["file"] == "profile.parquet"
    ws.pipelines.cancel_run(newest.run_id or "")
    assert ws.pipelines.events("fresh").events[0] == newest  # nothing new without a change
    ws.pipelines.tick()
    assert ws.pipelines.events("fresh").events[0] == newest


HOT_VIEW = """
from jupyter_mlops.features import Entity, FeatureView, Field

account = Entity("account", ["account_id"])
hot_spend = FeatureView(
    name="hot_spend", entities=[account], features=[Field("spend", "float64")], ttl="3s"
)
"""


def test_a_view_getting_older_than_its_ttl_is_an_event_once(ct: Workspace) -> None:
    (ct.root / "features").mkdir(exist_ok=True)
    (ct.root / "features" / "hot.py").write_text(HOT_VIEW)
    ws = reopen(ct)
    ws.features.apply()
    now = pd.Timestamp.now(tz="UTC").tz_localize(None)
    rows = pd.DataFrame({"account_id": [1], "event_timestamp": [now], "spend": [1.0]})
    ws.features.ingest("hot_spend", rows)
    write_toml(
        ct,
        '[pipeline.hot]\nnotebook = "notebooks/train.ipynb"\nmodel = "churn"\n'
        'triggers = [{ kind = "freshness", view = "hot_spend" }]\n',
    )
    ws = reopen(ct)
    ws.pipelines.apply()  # seen fresh at apply
    ws.pipelines.set_enabled("hot", False)  # its events are recorded, no run is started
    ws.monitoring.stop_scheduler()
    clock = [datetime.now(UTC)]

    def seen() -> bool:
        clock[0] += timedelta(seconds=61)  # staleness is read once a minute at most
        ws.pipelines.tick(clock[0])
        return bool(ws.pipelines.events("hot").events)

    wait_for(seen, "the view going stale", timeout=30)
    [event] = ws.pipelines.events("hot").events
    assert (event.kind, event.outcome) == ("freshness", "disabled")
    assert event.evidence["view"] == "hot_spend" and event.evidence["ttl_seconds"] == 3
    seen()
    assert len(ws.pipelines.events("hot").events) == 1  # once per crossing
    assert ws.pipelines.runs("hot").runs == []
