"""A/B test REST resources, through a real Jupyter server and a real deployment."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from tornado.httpclient import HTTPClientError

from jupyter_mlops import Workspace
from tests.conftest import log_model_run
from tests.helpers import Fetch, get_error, get_json

ROW = {"tenure": 12, "spend": 50.0, "calls": 2.0}


async def send(fetch: Fetch, method: str, *parts: str, body: Any) -> tuple[int, Any]:
    """A request with a JSON body: the status and the decoded body (its ``error`` when 4xx)."""
    try:
        response = await fetch("mlops", "api", *parts, method=method, body=json.dumps(body))
    except HTTPClientError as exc:
        return exc.code, json.loads(exc.response.body)["error"]  # type: ignore[union-attr]
    return response.code, json.loads(response.body)


def ask(url: str, n: int) -> list[tuple[str, str]]:
    """Send n single-row requests; the (request id, variant) of each answer."""
    out = []
    with httpx.Client(base_url=url, timeout=30) as client:
        for _ in range(n):
            rid = uuid.uuid4().hex
            r = client.post(
                "/invocations", json={"dataframe_records": [ROW]}, headers={"x-request-id": rid}
            )
            assert r.status_code == 200, r.text
            out.append((rid, r.headers["x-variant"]))
    return out


async def test_plan_answers_a_sample_size_and_refuses_bad_input(jp_fetch: Fetch) -> None:
    plan = await get_json(
        jp_fetch, "abtests", "plan", baseline="0.1", mde="0.1", relative="true", traffic="2000"
    )
    assert plan["kind"] == "binary" and plan["control_n"] == plan["treatment_n"] > 1000
    assert plan["days"] == pytest.approx(plan["total_n"] / 2000 / 24)
    uneven = await get_json(jp_fetch, "abtests", "plan", baseline="0.1", mde="0.02", share="20")
    assert uneven["ratio"] == pytest.approx(0.25)
    code, error = await get_error(jp_fetch, "abtests", "plan", baseline="0.1")
    assert code == 400 and error["field"] == "mde"
    code, error = await get_error(
        jp_fetch, "abtests", "plan", kind="numeric", baseline="5", mde="1"
    )
    assert code == 400 and error["field"] == "sd"
    code, error = await get_error(jp_fetch, "abtests", "plan", baseline="0.1", mde="0.1", share="0")
    assert code == 400 and error["field"] == "share"


@pytest.mark.slow
async def test_an_ab_test_from_start_to_decision(jp_fetch: Fetch, workspace: Workspace) -> None:
    workspace.registry.register(log_model_run(workspace, c=0.1), "churn", aliases=["champion"])
    workspace.registry.register(log_model_run(workspace, c=10.0), "churn")
    code, deployment = await send(
        jp_fetch,
        "POST",
        "deployments",
        body={"model": "churn@champion", "name": "churn-ab", "spare": False},
    )
    assert code == 201
    record = Path(deployment["folder"]) / "deployment.json"
    assert json.loads(record.read_text())["spare_after"] is None and not deployment["spare_pid"]
    try:
        code, error = await get_error(jp_fetch, "deployments", "churn-ab", "abtest")
        assert code == 404 and "has no A/B test" in error["message"] and error["hint"]
        code, error = await get_error(jp_fetch, "deployments", "ghost", "abtest")
        assert code == 404 and "ghost" in error["message"]
        code, error = await send(
            jp_fetch, "POST", "deployments", "ghost", "abtest", body={"challenger": 2}
        )
        assert code == 404
        code, error = await send(
            jp_fetch, "POST", "deployments", "churn-ab", "abtest", body={"challenger": 9}
        )
        assert code == 404 and "9" in error["message"]
        bad_split = {"challenger": 2, "split": [80, 10]}
        code, error = await send(
            jp_fetch, "POST", "deployments", "churn-ab", "abtest", body=bad_split
        )
        assert code == 400 and error["field"] == "split"
        code, error = await send(
            jp_fetch, "POST", "deployments", "churn-ab", "abtest", body={"challenger": 0}
        )
        assert code == 400 and error["field"] == "challenger"
        assert (await get_json(jp_fetch, "abtests"))["experiments"] == []

        start = {"challenger": 2, "split": [50, 50], "planned_n": 200}
        code, exp = await send(jp_fetch, "POST", "deployments", "churn-ab", "abtest", body=start)
        assert code == 201
        assert (exp["champion"], exp["challenger"], exp["state"]) == (1, 2, "running")
        code, error = await send(jp_fetch, "POST", "deployments", "churn-ab", "abtest", body=start)
        assert code == 409 and "already runs A/B test" in error["message"]

        code, error = await send(
            jp_fetch, "PATCH", "deployments", "churn-ab", "abtest", body={"split": [60, 30]}
        )
        assert code == 400 and error["field"] == "split"
        code, moved = await send(
            jp_fetch, "PATCH", "deployments", "churn-ab", "abtest", body={"split": [40, 60]}
        )
        assert code == 200 and moved["split"] == [40.0, 60.0]
        code, moved = await send(
            jp_fetch, "PATCH", "deployments", "churn-ab", "abtest", body={"split": [50, 50]}
        )
        assert code == 200

        answers = ask(deployment["url"], 300)
        variants = [v for _, v in answers]
        assert set(variants) == {"champion", "challenger"}
        # a clear effect: the challenger converts 40%, the champion 10%
        rng = np.random.default_rng(3)
        converted = [
            {"request_id": rid, "value": 1}
            for rid, v in answers
            if rng.random() < (0.4 if v == "challenger" else 0.1)
        ]
        outcomes = ("deployments", "churn-ab", "abtest", "outcomes")
        code, done = await send(jp_fetch, "POST", *outcomes, body={"outcomes": converted})
        assert code == 200 and done == {"accepted": len(converted), "duplicates": 0}
        code, again = await send(jp_fetch, "POST", *outcomes, body={"outcomes": converted[:3]})
        assert again == {"accepted": 0, "duplicates": 3}
        code, error = await send(
            jp_fetch, "POST", *outcomes, body={"outcomes": [{"request_id": "nosuch", "value": 1}]}
        )
        assert code == 404 and "nosuch" in error["message"]
        code, error = await send(jp_fetch, "POST", *outcomes, body={"outcomes": []})
        assert code == 400 and error["field"] == "outcomes"
        wrong_kind = {"outcomes": [{"request_id": answers[0][0], "value": 3}]}
        code, error = await send(jp_fetch, "POST", *outcomes, body=wrong_kind)
        assert code == 400 and error["field"] == "value"

        status = await get_json(jp_fetch, "deployments", "churn-ab", "abtest")
        assert status["unit"] == "request" and sum(status["assigned"].values()) == 300
        assert status["assigned"]["challenger"] == variants.count("challenger")
        comparison = status["analysis"]["comparisons"][0]
        assert comparison["verdict"] == "challenger_better" and comparison["verdict_text"]
        assert comparison["effect"]["absolute_low"] > 0
        assert comparison["fixed_horizon"]["p_value"] < 0.05
        assert status["analysis"]["peeking_warning"]
        assert status["analysis"]["srm"]["mismatch"] is False
        assert {g["variant"] for g in status["guardrails"]} == {"champion", "challenger"}
        listed = await get_json(jp_fetch, "abtests", deployment="churn-ab")
        assert [e["id"] for e in listed["experiments"]] == [exp["id"]]
        assert (await get_json(jp_fetch, "abtests", deployment="other"))["experiments"] == []

        stop = ("deployments", "churn-ab", "abtest", "stop")
        code, error = await send(jp_fetch, "POST", *stop, body={"winner": "both"})
        assert code == 400 and error["field"] == "winner"
        code, error = await send(
            jp_fetch, "POST", "deployments", "ghost", "abtest", "stop", body={"winner": "champion"}
        )
        assert code == 404
        code, stopped = await send(jp_fetch, "POST", *stop, body={"winner": "challenger"})
        assert code == 200 and stopped["state"] == "stopped"
        assert stopped["decision"]["alias_moved"] is True
        assert stopped["decision"]["verdict"] == "challenger_better"
        model = await get_json(jp_fetch, "models", "churn")
        assert model["aliases"]["champion"] == 2
        served = await get_json(jp_fetch, "deployments", "churn-ab")
        assert [s["version"] for s in served["serving"]] == [2]
        code, error = await send(jp_fetch, "POST", *stop, body={"winner": "champion"})
        assert code == 409 and "already stopped" in error["message"]
        code, error = await send(
            jp_fetch, "PATCH", "deployments", "churn-ab", "abtest", body={"split": [50, 50]}
        )
        assert code == 409
        # the stopped test still reads, with its decision
        after = await get_json(jp_fetch, "deployments", "churn-ab", "abtest")
        assert after["experiment"]["decision"]["winner"] == "challenger"
    finally:
        await jp_fetch("mlops", "api", "deployments", "churn-ab", "stop", method="POST", body=b"")
