"""A run's page and the runs table's columns, through a real Jupyter server."""

from __future__ import annotations

import json

from jupyter_mlops import Workspace
from tests.conftest import log_model_run
from tests.helpers import Fetch, get_error, get_json


async def test_run_page_has_model_versions_and_artifacts(
    jp_fetch: Fetch, workspace: Workspace
) -> None:
    run_id = log_model_run(workspace, metrics={"auc": 0.8})
    workspace.registry.register(run_id, "churn", aliases=["champion"])
    run = await get_json(jp_fetch, "runs", run_id)
    assert run["run_id"] == run_id and run["metrics"]["auc"] == 0.8
    (model,) = run["models"]
    assert model["name"] == "model" and "sklearn" in model["flavors"]
    assert model["versions"] == [{"name": "churn", "version": 1, "aliases": ["champion"]}]
    assert run["artifacts"] == [] or all("path" in a for a in run["artifacts"])
    assert run["features"] == [] and run["notebook"] is None


async def test_columns_resource(jp_fetch: Fetch, workspace: Workspace, sweep: list[str]) -> None:
    got = await get_json(jp_fetch, "experiments", "churn", "columns")
    assert got["source"] == "auto" and "metrics.accuracy" in got["available"]
    body = json.dumps(
        {"columns": ["params.lr", "metrics.accuracy"], "pinned": ["metrics.accuracy"]}
    )
    response = await jp_fetch(
        "mlops", "api", "experiments", "churn", "columns", method="PUT", body=body
    )
    saved = json.loads(response.body)
    assert saved["columns"] == ["metrics.accuracy", "params.lr"] and saved["source"] == "saved"
    exp_id = saved["experiment_id"]
    assert (await get_json(jp_fetch, "experiments", exp_id, "columns"))["columns"] == [
        "metrics.accuracy",
        "params.lr",
    ]
    # A wrong name is a 400 naming the valid columns.
    from tornado.httpclient import HTTPClientError

    try:
        await jp_fetch(
            "mlops", "api", "experiments", "churn", "columns", method="PUT",
            body=json.dumps({"columns": ["acc"]}),
        )  # fmt: skip
        raise AssertionError("an unknown column was accepted")
    except HTTPClientError as exc:
        assert exc.code == 400
        error = json.loads(exc.response.body)["error"]  # type: ignore[union-attr]
        assert error["field"] == "columns" and "metrics.accuracy" in error["hint"]
    response = await jp_fetch("mlops", "api", "experiments", "churn", "columns", method="DELETE")
    assert json.loads(response.body)["source"] == "auto"
    code, err = await get_error(jp_fetch, "experiments", "nope", "columns")
    assert code == 404 and "nope" in err["message"]
