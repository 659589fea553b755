"""The experiments REST resources, through a real Jupyter server."""

from __future__ import annotations

import json

from jupyter_mlops import Workspace
from tests.helpers import Fetch, get_error, get_json


async def test_experiments_and_runs(
    jp_fetch: Fetch, workspace: Workspace, sweep: list[str]
) -> None:
    exps = (await get_json(jp_fetch, "experiments"))["experiments"]
    churn = next(e for e in exps if e["name"] == "churn")
    assert (await get_json(jp_fetch, "experiments", churn["experiment_id"]))["name"] == "churn"
    page = await get_json(jp_fetch, "experiments", churn["experiment_id"], "runs", max_results="4")
    assert len(page["runs"]) == 4 and page["next_page_token"]
    page2 = await get_json(
        jp_fetch,
        "experiments",
        churn["experiment_id"],
        "runs",
        max_results="4",
        page_token=page["next_page_token"],
    )
    assert {r["run_id"] for r in page["runs"] + page2["runs"]} == set(sweep)
    filtered = await get_json(
        jp_fetch,
        "experiments",
        "churn",
        "runs",
        filter="params.lr = '0.1'",
        order_by="metrics.accuracy ASC",
    )
    accs = [r["metrics"]["accuracy"] for r in filtered["runs"]]
    assert len(accs) == 3 and accs == sorted(accs)


async def test_one_run_with_history(jp_fetch: Fetch, sweep: list[str]) -> None:
    run = await get_json(jp_fetch, "runs", sweep[0])
    assert run["run_id"] == sweep[0]
    assert [p["step"] for p in run["metric_history"]["loss"]] == list(range(20))
    # A run is also named by its name or a unique id prefix; a typo is a 404 with a guess.
    assert (await get_json(jp_fetch, "runs", "lr0.3-seed2"))["run_id"] == sweep[5]
    assert (await get_json(jp_fetch, "runs", sweep[1][:6]))["run_id"] == sweep[1]
    code, err = await get_error(jp_fetch, "runs", "lr0.1-sede0")
    assert code == 404 and err["hint"].startswith("Did you mean lr0.1-seed0")


async def test_comparison_resource(jp_fetch: Fetch, sweep: list[str]) -> None:
    response = await jp_fetch(
        "mlops",
        "api",
        "comparisons",
        method="GET",
        params=[("run_id", r) for r in [sweep[0][:8], "lr0.1-seed1", *sweep[2:]]]
        + [("group_by_seed", "true"), ("diff_only", "true")],
    )
    body = json.loads(response.body)
    assert [r["run_id"] for r in body["runs"]] == sweep
    assert [p["name"] for p in body["params"]] == ["lr", "random_state"]
    assert len(body["groups"]) == 2
    assert body["figures"]["history"]["data"][0]["type"] == "scatter"
    assert body["figures"]["parallel"]["data"][0]["type"] == "parcoords"


async def test_user_mistakes_are_4xx_with_a_message(
    jp_fetch: Fetch, workspace: Workspace, sweep: list[str]
) -> None:
    code, err = await get_error(jp_fetch, "experiments", "nope")
    assert code == 404 and "nope" in err["message"]
    code, err = await get_error(jp_fetch, "experiments", "nope", "runs")
    assert code == 404
    code, err = await get_error(jp_fetch, "runs", "f" * 32)
    assert code == 404 and "f" * 32 in err["message"]
    code, err = await get_error(jp_fetch, "experiments", "churn", "runs", filter="metrics.x >>> 1")
    assert code == 400 and err["field"] == "filter" and ">>>" in err["message"]
    code, err = await get_error(jp_fetch, "experiments", "churn", "runs", filter="accuracy > 0.8")
    assert code == 400 and err["hint"].endswith("metrics.accuracy > 0.8")
    with workspace.tracking.start_run("churn", run_name="lr0.1-seed0"):
        pass
    code, err = await get_error(jp_fetch, "runs", "lr0.1-seed0")
    assert code == 400 and "names 2 runs" in err["message"] and err["field"] == "run_id"
    code, err = await get_error(jp_fetch, "experiments", "churn", "runs", max_results="0")
    assert code == 400 and err["field"] == "max_results"
    code, err = await get_error(jp_fetch, "experiments", "churn", "runs", max_results="many")
    assert code == 400 and err["field"] == "max_results"
    code, err = await get_error(jp_fetch, "comparisons", run_id=sweep[0])
    assert code == 400 and err["field"] == "run_id"
    code, err = await get_error(jp_fetch, "experiments", include_deleted="perhaps")
    assert code == 400


async def test_no_workspace_is_404_saying_init(jp_fetch: Fetch) -> None:
    # No `workspace` fixture here: the server root has no mlops.toml.
    code, err = await get_error(jp_fetch, "experiments")
    assert code == 404 and "jupyter mlops init" in err["hint"]


async def test_openapi_document_lists_every_route(jp_fetch: Fetch) -> None:
    doc = await get_json(jp_fetch, "openapi.json")
    assert doc["openapi"].startswith("3.")
    assert set(doc["paths"]) == {
        "/mlops/api/experiments",
        "/mlops/api/experiments/{experiment_id}",
        "/mlops/api/experiments/{experiment_id}/runs",
        "/mlops/api/experiments/{experiment_id}/columns",
        "/mlops/api/runs/{run_id}",
        "/mlops/api/comparisons",
        "/mlops/api/features/views",
        "/mlops/api/features/views/{name}",
        "/mlops/api/features/views/{name}/versions",
        "/mlops/api/features/views/{name}/diff",
        "/mlops/api/features/views/{name}/stats",
        "/mlops/api/features/views/{name}/usage",
        "/mlops/api/features/snippet",
        "/mlops/api/models",
        "/mlops/api/models/{name}",
        "/mlops/api/models/{name}/versions/{version}",
        "/mlops/api/models/{name}/versions/{version}/profile",
        "/mlops/api/models/{name}/versions/{version}/promotions",
        "/mlops/api/models/{name}/aliases/{alias}",
        "/mlops/api/deployments",
        "/mlops/api/deployments/{name}",
        "/mlops/api/deployments/{name}/stop",
        "/mlops/api/deployments/{name}/start",
        "/mlops/api/deployments/{name}/stats",
        "/mlops/api/deployments/{name}/logs",
        "/mlops/api/monitoring",
        "/mlops/api/monitoring/scheduler",
        "/mlops/api/monitoring/events",
        "/mlops/api/monitoring/deployments/{name}",
        "/mlops/api/monitoring/deployments/{name}/drift",
        "/mlops/api/monitoring/deployments/{name}/metrics",
        "/mlops/api/monitoring/deployments/{name}/quality",
        "/mlops/api/monitoring/deployments/{name}/checks",
        "/mlops/api/monitoring/deployments/{name}/checks/{check_id}",
        "/mlops/api/monitoring/deployments/{name}/events",
        "/mlops/api/monitoring/deployments/{name}/log",
        "/mlops/api/monitoring/deployments/{name}/feedback",
        "/mlops/api/monitoring/deployments/{name}/dashboard",
        "/mlops/api/jobs",
        "/mlops/api/jobs/parameters",
        "/mlops/api/jobs/sweeps",
        "/mlops/api/jobs/executor",
        "/mlops/api/jobs/{job}",
        "/mlops/api/jobs/{job}/cancel",
        "/mlops/api/jobs/{job}/rerun",
        "/mlops/api/jobs/{job}/log",
        "/mlops/api/abtests",
        "/mlops/api/abtests/plan",
        "/mlops/api/deployments/{name}/abtest",
        "/mlops/api/deployments/{name}/abtest/outcomes",
        "/mlops/api/deployments/{name}/abtest/stop",
        "/mlops/api/deployments/{name}/abtest/report",
        "/mlops/api/pipelines",
        "/mlops/api/pipelines/plan",
        "/mlops/api/pipelines/apply",
        "/mlops/api/pipelines/{name}",
        "/mlops/api/pipelines/{name}/runs",
        "/mlops/api/pipelines/{name}/events",
        "/mlops/api/pipeline-runs/{run}",
        "/mlops/api/pipeline-runs/{run}/cancel",
        "/mlops/api/models/{name}/versions/{version}/lineage-chain",
        "/mlops/api/models/{name}/versions/{version}/replay",
        "/mlops/api/replays/{job}",
    }
    assert "RunPage" in doc["components"]["schemas"]
    runs_get = doc["paths"]["/mlops/api/experiments/{experiment_id}/runs"]["get"]
    assert {p["name"] for p in runs_get["parameters"]} >= {"filter", "order_by", "page_token"}
