"""Monitoring REST resources, through a real Jupyter server and a real deployment."""

from __future__ import annotations

import json
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from tornado.httpclient import HTTPClientError

from jupyter_mlops import Workspace
from tests.conftest import log_model_run
from tests.helpers import Fetch, get_error, get_json


async def post(fetch: Fetch, *parts: str, body: Any = None, **params: Any) -> tuple[int, Any]:
    try:
        response = await fetch(
            "mlops",
            "api",
            *parts,
            method="POST",
            body=json.dumps(body if body is not None else {}),
            params=params,
        )
    except HTTPClientError as exc:
        return exc.code, json.loads(exc.response.body)["error"]  # type: ignore[union-attr]
    return response.code, json.loads(response.body)


def frame(n: int, seed: int, spend_shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "tenure": rng.integers(1, 72, n).astype("int64"),
            "spend": rng.normal(50, 10, n) + spend_shift,
            "calls": rng.poisson(2, n).astype("float64"),
        }
    )


async def test_monitoring_resources_answer_from_a_live_deployment(
    jp_fetch: Fetch, workspace: Workspace
) -> None:
    training = frame(2000, 0)
    run = log_model_run(workspace, frame=training)
    workspace.registry.register(run, "churn", training_data=training)
    code, info = await post(jp_fetch, "deployments", body={"model": "churn:1"})
    assert code == 201
    try:
        sent = frame(400, 1, spend_shift=20.0)
        ids = []
        with httpx.Client(base_url=info["url"], timeout=30) as client:
            for i in range(0, 400, 4):
                rid = f"req-{i}"
                part = sent.iloc[i : i + 4]
                body = {"dataframe_split": {"columns": list(part), "data": part.values.tolist()}}
                r = client.post("/invocations", json=body, headers={"x-request-id": rid})
                assert r.status_code == 200
                ids.append(rid)

        metrics = await get_json(jp_fetch, "monitoring", "deployments", "churn", "metrics")
        assert metrics["overall"]["requests"] == 100 and metrics["overall"]["rows"] == 400

        drift = await get_json(jp_fetch, "monitoring", "deployments", "churn", "drift", last="400")
        by_feature = {f["feature"]: f for f in drift["features"]}
        assert by_feature["spend"]["drifted"] is True
        assert by_feature["tenure"]["drifted"] is False

        code, result = await post(
            jp_fetch,
            "monitoring",
            "deployments",
            "churn",
            "feedback",
            body={"feedback": [{"request_id": rid, "row": 0, "label": 1} for rid in ids]},
        )
        assert code == 200 and result == {"accepted": 100, "duplicates": 0}
        code, error = await post(
            jp_fetch,
            "monitoring",
            "deployments",
            "churn",
            "feedback",
            body={"feedback": [{"request_id": "nope", "label": 1}]},
        )
        assert code == 404 and "nope" in error["message"]

        quality = await get_json(jp_fetch, "monitoring", "deployments", "churn", "quality")
        assert quality["labelled"] == 100 and quality["overall"]["kind"] == "classifier"

        code, check = await post(jp_fetch, "monitoring", "deployments", "churn", "checks")
        assert code == 201 and "spend" in check["summary"]["drifted"]
        checks = await get_json(jp_fetch, "monitoring", "deployments", "churn", "checks")
        # the scheduler that deploying started may have run a check of its own
        assert check["summary"]["id"] in [c["id"] for c in checks["checks"]]
        stored = await get_json(
            jp_fetch, "monitoring", "deployments", "churn", "checks", check["summary"]["id"]
        )
        assert stored["summary"] == check["summary"]
        events = await get_json(jp_fetch, "monitoring", "events")
        assert any(e["subject"] == "spend" for e in events["events"])
        status = await get_json(jp_fetch, "monitoring")
        row = status["deployments"][0]
        assert row["deployment"] == "churn" and "feature_drift:spend" in row["firing"]
        assert status["scheduler"]["running"] is True  # deploying started it

        code, error = await get_error(jp_fetch, "monitoring", "deployments", "chrun", "metrics")
        assert code == 404 and "chrun" in error["message"]
        code, error = await get_error(
            jp_fetch, "monitoring", "deployments", "churn", "drift", window="soon"
        )
        assert code == 400 and error["field"] == "window"
        code, error = await get_error(
            jp_fetch, "monitoring", "deployments", "churn", "drift", test="kolmogorov"
        )
        assert code == 400 and "ks" in (error["message"] + (error["hint"] or ""))
        code, error = await get_error(
            jp_fetch, "monitoring", "deployments", "churn", "checks", "0000"
        )
        assert code == 404
    finally:
        workspace.monitoring.stop_scheduler()
        workspace.deployments.stop("churn")


@pytest.mark.parametrize("path", [("monitoring",), ("monitoring", "events")])
async def test_monitoring_lists_are_empty_without_deployments(
    jp_fetch: Fetch, workspace: Workspace, path: tuple[str, ...]
) -> None:
    body = await get_json(jp_fetch, *path)
    assert body in ({"deployments": [], "scheduler": body.get("scheduler")}, {"events": []})
