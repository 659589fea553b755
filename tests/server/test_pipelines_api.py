"""Pipelines REST resources, through a real Jupyter server on a real workspace.

The runs started here are cancelled at once rather than waited for: what the steps do is the
service's business (tests/pipelines/test_service.py); here it is the resources, their statuses
and what they send.
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Iterator
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError

from jupyter_mlops import Workspace
from jupyter_mlops.workspace import ENV_VAR
from tests.conftest import log_model_run
from tests.helpers import Fetch, get_error, get_json, parameterised_notebook, wait_for

pytestmark = pytest.mark.slow

BASE = "[run]\nautolog = false\n\n[jobs]\nslots = 1\n\n[pipelines]\npoll_seconds = 2\n"
RETRAIN = """
[pipeline.retrain]
notebook = "notebooks/train.ipynb"
model = "churn"
parameters = {{ lr = 0.5 }}
triggers = [{{ kind = "schedule", cron = "{cron}" }}]
"""

# The job holds until a file that never comes appears: a run is always going when the test
# cancels it, however fast the machine.
HOLD = "import pathlib, time\nwhile not pathlib.Path('release').exists():\n    time.sleep(0.05)"


def declare(ws: Workspace, cron: str) -> None:
    (ws.root / "mlops.toml").write_text(BASE + RETRAIN.format(cron=cron), encoding="utf-8")


@pytest.fixture(scope="module")
def module_ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """Model churn v1 @champion and a small parameterised notebook; one for the module, as
    logging a model takes seconds. The scheduler and job workers the tests start are stopped."""
    ws = Workspace.init(tmp_path_factory.mktemp("pipelines-api") / "ws")
    (ws.root / "mlops.toml").write_text(BASE, encoding="utf-8")
    ws = Workspace.open(ws.root)
    ws.registry.register(log_model_run(ws, c=0.1), "churn", aliases=["champion"])
    parameterised_notebook(ws.root / "notebooks" / "train.ipynb", "x = lr * epochs", HOLD)
    yield ws
    ws.monitoring.stop_scheduler()
    ws.jobs.stop_workers()


@pytest.fixture
def ws(module_ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    """The server's workspace: the module's (the server's root folder has none of its own)."""
    monkeypatch.setenv(ENV_VAR, str(module_ws.root))
    return module_ws


async def send(fetch: Fetch, method: str, *parts: str, body: Any = None) -> tuple[int, Any]:
    """A POST or PATCH: the status and the decoded body (the ``error`` object of a failure)."""
    try:
        response = await fetch(
            "mlops", "api", *parts, method=method, body=json.dumps(body if body else {})
        )
    except HTTPClientError as exc:
        return exc.code, json.loads(exc.response.body)["error"]  # type: ignore[union-attr]
    return response.code, json.loads(response.body)


async def test_plan_apply_read_and_enable(ws: Workspace, jp_fetch: Fetch) -> None:
    declare(ws, "61 * * * *")
    code, error = await send(jp_fetch, "POST", "pipelines", "plan")
    assert code == 400 and "not a cron schedule" in error["message"], error
    assert "retrain" in error["message"]

    declare(ws, "0 3 * * 1")
    code, plan = await send(jp_fetch, "POST", "pipelines", "plan")
    assert code == 200 and plan["applied"] is False
    assert [(c["name"], c["action"], c["version"]) for c in plan["changes"]] == [
        ("retrain", "create", 1)
    ]
    assert (await get_json(jp_fetch, "pipelines"))["pipelines"] == []  # plan writes nothing
    code, applied = await send(jp_fetch, "POST", "pipelines", "apply")
    assert code == 200 and applied["applied"] is True

    listed = await get_json(jp_fetch, "pipelines")
    [info] = listed["pipelines"]
    assert info["name"] == "retrain" and info["version"] == 1 and info["enabled"] is True
    assert info["spec"]["parameters"] == {"lr": 0.5} and info["source"] == "mlops.toml"
    assert set(listed["scheduler"]) >= {"running", "pid"}
    one = await get_json(jp_fetch, "pipelines", "retrain")
    assert one["triggers"][0]["kind"] == "schedule"
    assert one["triggers"][0]["next_fire"].endswith("03:00:00Z")
    assert one["last_run"] is None and one["active_run"] is None

    code, error = await get_error(jp_fetch, "pipelines", "retrian")
    assert code == 404 and "retrian" in error["message"] and "retrain" in error["hint"]
    code, error = await get_error(jp_fetch, "pipelines", "retrian", "runs")
    assert code == 404

    code, off = await send(jp_fetch, "PATCH", "pipelines", "retrain", body={"enabled": False})
    assert code == 200 and off["enabled"] is False and off["triggers"][0]["next_fire"] is None
    code, error = await send(jp_fetch, "POST", "pipelines", "retrain", "runs")
    assert code == 409 and "enable" in error["hint"]
    code, error = await send(jp_fetch, "PATCH", "pipelines", "retrain", body={"enabled": "maybe"})
    assert code == 400 and error["field"] == "enabled"
    code, on = await send(jp_fetch, "PATCH", "pipelines", "retrain", body={"enabled": True})
    assert code == 200 and on["enabled"] is True


async def test_run_now_absorb_follow_and_cancel(ws: Workspace, jp_fetch: Fetch) -> None:
    if not ws.pipelines.list().pipelines:  # the test above applies it; alone, apply it here
        declare(ws, "0 3 * * 1")
        Workspace.open(ws.root).pipelines.apply()

    code, started = await send(
        jp_fetch, "POST", "pipelines", "retrain", "runs", body={"reason": "new data"}
    )
    assert code == 201, started
    run = started["run"]
    assert started["event"]["outcome"] == "started" and started["event"]["run_id"] == run["id"]
    # A token-only server knows no user by name: the OS user asked.
    assert started["event"]["evidence"] == {"user": getpass.getuser(), "reason": "new data"}
    assert run["state"] == "running" and run["job_id"]
    assert [s["name"] for s in run["steps"]] == [
        "job",
        "gates",
        "register",
        "alias",
        "abtest",
        "promote",
    ]

    code, again = await send(jp_fetch, "POST", "pipelines", "retrain", "runs")
    assert code == 201 and again["event"]["outcome"] == "absorbed"
    assert again["run"]["id"] == run["id"] and again["run"]["absorbed"] == 1
    code, error = await send(
        jp_fetch, "POST", "pipelines", "retrain", "runs", body={"reason": "x" * 501}
    )
    assert code == 400 and error["field"] == "reason"

    got = await get_json(jp_fetch, "pipeline-runs", run["id"][:14])
    assert got["id"] == run["id"] and got["trigger"]["summary"].endswith("new data")
    assert (await get_json(jp_fetch, "pipelines", "retrain"))["active_run"] == run["id"]

    code, cancelled = await send(jp_fetch, "POST", "pipeline-runs", run["id"], "cancel")
    assert code == 200 and cancelled["state"] == "cancelled"
    assert cancelled["message"].startswith("cancelled by")
    assert all(s["state"] not in ("pending", "running") for s in cancelled["steps"])
    code, error = await send(jp_fetch, "POST", "pipeline-runs", run["id"], "cancel")
    assert code == 409 and "has ended" in error["message"]
    code, error = await get_error(jp_fetch, "pipeline-runs", "f" * 18)
    assert code == 404

    runs = await get_json(jp_fetch, "pipelines", "retrain", "runs", limit="5")
    assert [r["id"] for r in runs["runs"]] == [run["id"]]
    assert (await get_error(jp_fetch, "pipelines", "retrain", "runs", limit="0"))[0] == 400
    events = (await get_json(jp_fetch, "pipelines", "retrain", "events"))["events"]
    assert [(e["kind"], e["outcome"], e["run_id"]) for e in events] == [
        ("manual", "absorbed", run["id"]),
        ("manual", "started", run["id"]),
    ]
    [last] = (await get_json(jp_fetch, "pipelines", "retrain", "events", limit="1"))["events"]
    assert last["outcome"] == "absorbed" and last["note"]


async def test_lineage_chain_of_a_version(ws: Workspace, jp_fetch: Fetch) -> None:
    chain = await get_json(jp_fetch, "models", "churn", "versions", "1", "lineage-chain")
    assert chain["model"] == "churn" and chain["version"] == 1
    assert chain["aliases"] == ["champion"] and chain["pipeline_run"] is None
    kinds = [link["kind"] for link in chain["links"]]
    assert kinds[0] == "version" and "run" in kinds and "commit" in kinds
    assert chain["links"][0]["refs"] == {"model": "churn", "version": "1"}
    code, error = await get_error(jp_fetch, "models", "churn", "versions", "one", "lineage-chain")
    assert code == 400 and error["field"] == "version"
    code, error = await get_error(jp_fetch, "models", "chrun", "versions", "1", "lineage-chain")
    assert code == 404


@pytest.fixture
def scheduler_stopped(ws: Workspace) -> Workspace:
    """The workspace's scheduler stopped before the server starts (as after a reboot)."""
    if not ws.pipelines.list().pipelines:
        declare(ws, "0 3 * * 1")
        Workspace.open(ws.root).pipelines.apply()
    assert not ws.monitoring.stop_scheduler().running
    return ws


async def test_the_server_starts_the_scheduler_when_pipelines_watch(
    scheduler_stopped: Workspace, jp_fetch: Fetch
) -> None:
    await jp_fetch("api", "status")  # the server has started, and its warm-up with it
    wait_for(
        lambda: scheduler_stopped.monitoring.scheduler_state().running,
        "the scheduler started by the Jupyter server's warm-up",
        timeout=60,
    )
