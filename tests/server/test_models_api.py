"""Registry and deployment REST resources, through a real Jupyter server."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from tornado.httpclient import HTTPClientError

from jupyter_mlops import Workspace
from tests.conftest import log_model_run
from tests.helpers import Fetch, get_error, get_json


async def send(fetch: Fetch, method: str, *parts: str, body: Any) -> Any:
    response = await fetch("mlops", "api", *parts, method=method, body=json.dumps(body))
    return response.code, json.loads(response.body)


async def send_error(fetch: Fetch, method: str, *parts: str, body: Any) -> tuple[int, Any]:
    with pytest.raises(HTTPClientError) as info:
        await fetch("mlops", "api", *parts, method=method, body=json.dumps(body))
    return info.value.code, json.loads(info.value.response.body)["error"]  # type: ignore[union-attr]


async def test_register_list_lineage_and_promote(jp_fetch: Fetch, workspace: Workspace) -> None:
    first = log_model_run(workspace, metrics={"roc_auc": 0.80})
    second = log_model_run(workspace, metrics={"roc_auc": 0.75})
    code, version = await send(
        jp_fetch, "POST", "models", body={"run_id": first, "name": "churn", "aliases": ["champion"]}
    )
    assert code == 201 and version["version"] == 1 and version["aliases"] == ["champion"]
    assert version["lineage"]["run_id"] == first
    await send(jp_fetch, "POST", "models", body={"run_id": second, "name": "churn"})

    models = (await get_json(jp_fetch, "models"))["models"]
    assert [(m["name"], m["latest_version"], m["aliases"]) for m in models] == [
        ("churn", 2, {"champion": 1})
    ]
    detail = await get_json(jp_fetch, "models", "churn")
    assert [v["version"] for v in detail["version_list"]] == [2, 1]
    assert detail["version_list"][0]["metrics"]["roc_auc"] == 0.75
    one = await get_json(jp_fetch, "models", "churn", "versions", "1")
    assert one["lineage"]["params"] == {"C": "1.0"} and one["signature"]["inputs"][0]["name"]

    # a failing gate is a 200 with promoted=false and the reason; the alias stays
    code, result = await send(
        jp_fetch,
        "POST",
        "models",
        "churn",
        "versions",
        "2",
        "promotions",
        body={"alias": "champion", "require": ["roc_auc>=champion"]},
    )
    assert code == 200 and result["promoted"] is False
    assert "off by 0.05" in result["gates"][0]["message"]
    code, set_alias = await send(
        jp_fetch, "PUT", "models", "churn", "aliases", "challenger", body={"version": 2}
    )
    assert set_alias["aliases"] == ["challenger"]
    response = await jp_fetch(
        "mlops", "api", "models", "churn", "aliases", "challenger", method="DELETE"
    )
    assert json.loads(response.body) == {"name": "churn", "alias": "challenger"}


async def test_registry_mistakes_are_4xx(jp_fetch: Fetch, workspace: Workspace) -> None:
    with workspace.tracking.start_run("churn") as rec:
        rec.log_metric("roc_auc", 0.5)
    code, error = await send_error(
        jp_fetch, "POST", "models", body={"run_id": rec.run_id, "name": "churn"}
    )
    assert code == 400 and "logged no model" in error["message"] and error["hint"]
    code, error = await send_error(jp_fetch, "POST", "models", body={"name": "churn"})
    assert code == 400 and error["field"] == "run_id"
    code, error = await get_error(jp_fetch, "models", "nope")
    assert code == 404 and "No registered model named 'nope'" in error["message"]
    code, error = await get_error(jp_fetch, "models", "nope", "versions", "x")
    assert code == 400 and error["field"] == "version"
    code, error = await send_error(jp_fetch, "POST", "deployments", body={"model": "nope@champion"})
    assert code == 404
    code, error = await get_error(jp_fetch, "deployments", "ghost")
    assert code == 404 and "No deployment named 'ghost'" in error["message"]


async def test_deploy_stats_logs_and_stop(jp_fetch: Fetch, workspace: Workspace) -> None:
    workspace.registry.register(log_model_run(workspace), "churn")
    code, deployment = await send(
        jp_fetch, "POST", "deployments", body={"model": "churn:1", "name": "churn-api"}
    )
    try:
        assert code == 201 and deployment["state"] == "running"
        url = deployment["url"]
        listed = (await get_json(jp_fetch, "deployments"))["deployments"]
        assert [d["name"] for d in listed] == ["churn-api"]
        await get_json(jp_fetch, "deployments", "churn-api", "stats")
        row = {"tenure": 3, "spend": 10.0, "calls": 1.0}
        for _ in range(20):
            httpx.post(f"{url}/invocations", json={"dataframe_records": [row]})
        stats = await get_json(jp_fetch, "deployments", "churn-api", "stats")
        assert stats["requests_total"] == 20 and stats["request_rate"] > 0
        assert stats["latency_p95_ms"] is not None
        logs = await get_json(jp_fetch, "deployments", "churn-api", "logs", lines="5")
        assert "replica-0.log" in logs["text"]
        code, error = await send_error(
            jp_fetch, "PATCH", "deployments", "churn-api", body={"model": "churn:7"}
        )
        assert code == 404 and "no version 7" in error["message"]
    finally:
        response = await jp_fetch(
            "mlops", "api", "deployments", "churn-api", "stop", method="POST", body=b""
        )
    assert json.loads(response.body)["state"] == "stopped"
