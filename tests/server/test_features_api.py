"""The feature store's REST resources, through a real Jupyter server."""

from __future__ import annotations

import ast
import json
from typing import Any

import pandas as pd
import pytest

from jupyter_mlops import Workspace
from tests.helpers import (
    Fetch,
    build_feature_workspace,
    get_error,
    get_json,
    jupyter_mlops,
    record_training_run,
)


@pytest.fixture
def feature_ws(workspace: Workspace) -> Workspace:
    return build_feature_workspace(workspace)


async def test_list_views_with_search(jp_fetch: Fetch, feature_ws: Workspace) -> None:
    views = (await get_json(jp_fetch, "features", "views"))["views"]
    assert [v["name"] for v in views] == ["customer_profile", "customer_spend"]
    profile, spend = views
    assert spend["version"] == 2 and spend["versions"] == 2
    assert spend["entities"] == ["customer"] and spend["join_keys"] == ["customer_id"]
    assert spend["features"][-1] == {"name": "is_vip", "dtype": "bool", "description": ""}
    assert spend["ttl_seconds"] == 30 * 86400 and spend["source"] is None
    assert spend["owner"] == "growth" and spend["tags"] == {"team": "growth"}
    assert spend["fingerprint"] == feature_ws.features.get_view("customer_spend").fingerprint
    assert pd.Timestamp(spend["created_at"]).tzinfo is not None
    assert profile["ttl_seconds"] is None and profile["source"] == "Parquet data/profile.parquet"
    assert profile["timestamp_field"] == "updated_at"
    found = (await get_json(jp_fetch, "features", "views", search="Country"))["views"]
    assert [v["name"] for v in found] == ["customer_profile"]
    assert (await get_json(jp_fetch, "features", "views", search="zzz"))["views"] == []


async def test_empty_registry_lists_nothing(jp_fetch: Fetch, workspace: Workspace) -> None:
    assert (await get_json(jp_fetch, "features", "views")) == {"views": []}


async def test_one_view_and_its_versions(jp_fetch: Fetch, feature_ws: Workspace) -> None:
    latest = await get_json(jp_fetch, "features", "views", "customer_spend")
    assert latest["version"] == 2 and latest["versions"] == 2
    assert latest["definition"]["version"] == 2
    assert latest["definition"]["definition"]["ttl"] == "30d"
    v1 = await get_json(jp_fetch, "features", "views", "customer_spend", version="1")
    assert v1["version"] == 1 and [f["name"] for f in v1["features"]] == [
        "orders",
        "avg_spend",
        "segment",
    ]
    assert v1["fingerprint"] != latest["fingerprint"]
    history = (await get_json(jp_fetch, "features", "views", "customer_spend", "versions"))[
        "versions"
    ]
    assert [v["version"] for v in history] == [2, 1]  # newest first
    assert all(v["versions"] == 2 for v in history)


@pytest.mark.parametrize(
    ("view", "version"),
    [("customer_spend", None), ("customer_spend", "1"), ("customer_profile", None)],
)
async def test_cli_show_json_is_the_rest_view_detail(
    jp_fetch: Fetch, feature_ws: Workspace, view: str, version: str | None
) -> None:
    params = {} if version is None else {"version": version}
    rest = await get_json(jp_fetch, "features", "views", view, **params)
    pin = [] if version is None else ["--version", version]
    done = jupyter_mlops("features", "show", view, *pin, "--json", cwd=feature_ws.root)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == rest
    assert rest == feature_ws.features.view_detail(view, version).model_dump(mode="json")


async def test_cli_list_json_carries_the_rest_list(jp_fetch: Fetch, feature_ws: Workspace) -> None:
    rest = await get_json(jp_fetch, "features", "views", search="spend")
    done = jupyter_mlops("features", "list", "--search", "spend", "--json", cwd=feature_ws.root)
    assert done.returncode == 0, done.stderr
    cli = json.loads(done.stdout)
    assert cli["views"] == rest["views"] and [v["name"] for v in rest["views"]] == [
        "customer_spend"
    ]
    assert [r["name"] for r in cli["rows"]] == ["customer_spend"]


async def test_diff(jp_fetch: Fetch, feature_ws: Workspace) -> None:
    body = await get_json(
        jp_fetch, "features", "views", "customer_spend", "diff", from_version="1", to_version="2"
    )
    assert body == {
        "view": "customer_spend",
        "from_version": 1,
        "to_version": 2,
        "lines": ["+ feature is_vip: bool"],
    }


async def test_stats(jp_fetch: Fetch, feature_ws: Workspace) -> None:
    stats = await get_json(jp_fetch, "features", "views", "customer_spend", "stats")
    assert stats["name"] == "customer_spend" and stats["version"] == 2
    assert stats["row_count"] == 3 and stats["stale"] is True
    by_name = {f["name"]: f for f in stats["features"]}
    assert by_name["avg_spend"]["max"] == 70.0 and by_name["is_vip"]["null_rate"] == 0.0
    v1 = await get_json(jp_fetch, "features", "views", "customer_spend", "stats", version="1")
    assert v1["version"] == 1 and "is_vip" not in {f["name"] for f in v1["features"]}
    profile = await get_json(jp_fetch, "features", "views", "customer_profile", "stats")
    assert profile["row_count"] == 2 and profile["ttl_seconds"] is None


async def test_usage(jp_fetch: Fetch, feature_ws: Workspace) -> None:
    run_id = record_training_run(feature_ws, ["customer_spend:v1:orders"], "old-model")
    usage = await get_json(jp_fetch, "features", "views", "customer_spend", "usage")
    assert usage["view"] == "customer_spend"
    v1, v2 = usage["versions"]
    assert [r["run_id"] for r in v1["runs"]] == [run_id] and v2["runs"] == []
    assert v1["runs"][0]["run_name"] == "old-model" and v1["runs"][0]["status"] == "FINISHED"
    assert v1["models"] == [] and v1["deployments"] == []


async def test_snippet_is_ready_to_run_code(jp_fetch: Fetch, feature_ws: Workspace) -> None:
    response = await jp_fetch(
        "mlops",
        "api",
        "features",
        "snippet",
        method="GET",
        params=[("feature", "customer_spend:orders"), ("feature", "customer_profile:v1:age")],
    )
    body = json.loads(response.body)
    assert body["features"] == ["customer_spend:v2:orders", "customer_profile:v1:age"]
    code = body["code"]
    ast.parse(code)
    assert "ws = Workspace.find()" in code and "get_training_frame(" in code
    assert '"customer_spend:v2:orders"' in code and '"customer_profile:v1:age"' in code
    assert "customer_id" in code and "event_timestamp" in code  # what entity_df needs

    # The cell runs: with an entity_df in scope it builds the training frame.
    entity_df = pd.DataFrame(
        {"customer_id": [1, 2], "event_timestamp": pd.to_datetime(["2026-01-02", "2026-01-06"])}
    )
    namespace: dict[str, Any] = {"entity_df": entity_df}
    exec(code.replace("Workspace.find()", f"Workspace.open({str(feature_ws.root)!r})"), namespace)
    frame = namespace["frame"]
    assert frame["orders"].tolist() == [1, 7] and frame["age"].tolist() == [34, 51]


async def test_snippet_names_the_views_own_timestamp_and_collisions(
    jp_fetch: Fetch, feature_ws: Workspace
) -> None:
    body = await get_json(jp_fetch, "features", "snippet", feature="customer_profile:*")
    assert 'timestamp_column="updated_at"' in body["code"]
    assert "# and a timestamp column updated_at" in body["code"]
    assert "full_names" not in body["code"]
    (feature_ws.root / "features" / "more.py").write_text(
        "from jupyter_mlops.features import FeatureView, Field\n"
        "web = FeatureView(name='web_activity', entities=['customer'],"
        " features=[Field('orders', 'int64')])\n"
    )
    feature_ws.features.apply()
    response = await jp_fetch(
        "mlops",
        "api",
        "features",
        "snippet",
        method="GET",
        params=[("feature", "customer_spend:orders"), ("feature", "web_activity:orders")],
    )
    code = json.loads(response.body)["code"]
    assert "full_names=True" in code and "timestamp_column" not in code
    ast.parse(code)


async def test_user_mistakes_are_4xx_with_a_message(jp_fetch: Fetch, feature_ws: Workspace) -> None:
    code, err = await get_error(jp_fetch, "features", "views", "customer_spnd")
    assert code == 404 and "customer_spend" in err["hint"]
    for sub in ("versions", "stats", "usage"):
        code, err = await get_error(jp_fetch, "features", "views", "nope", sub)
        assert code == 404 and "'nope' does not exist" in err["message"], sub
    code, err = await get_error(jp_fetch, "features", "views", "customer_spend", version="9")
    assert code == 404 and err["field"] == "version" and "v1, v2" in err["hint"]
    code, err = await get_error(jp_fetch, "features", "views", "customer_spend", version="v2")
    assert code == 400 and err["field"] == "version"
    code, err = await get_error(
        jp_fetch, "features", "views", "customer_spend", "stats", version="0"
    )
    assert code == 400 and err["field"] == "version"
    code, err = await get_error(
        jp_fetch, "features", "views", "customer_spend", "diff", from_version="1"
    )
    assert code == 400 and err["field"] == "to_version"
    code, err = await get_error(
        jp_fetch, "features", "views", "customer_spend", "diff", from_version="1", to_version="5"
    )
    assert code == 404 and "v5" in err["message"]
    code, err = await get_error(jp_fetch, "features", "snippet")
    assert code == 400 and err["field"] == "feature"
    code, err = await get_error(jp_fetch, "features", "snippet", feature="customer_spend:ordrs")
    assert code == 404 and err["field"] == "feature" and "orders" in err["hint"]
    code, err = await get_error(jp_fetch, "features", "snippet", feature="customer_spnd:orders")
    assert code == 404 and "customer_spend" in err["hint"]
    code, err = await get_error(jp_fetch, "features", "snippet", feature="no-colon")
    assert code == 400 and err["field"] == "feature" and "malformed" in err["message"]


async def test_openapi_covers_the_feature_routes(jp_fetch: Fetch) -> None:
    doc = await get_json(jp_fetch, "openapi.json")
    paths = {p for p in doc["paths"] if p.startswith("/mlops/api/features/")}
    assert paths == {
        "/mlops/api/features/views",
        "/mlops/api/features/views/{name}",
        "/mlops/api/features/views/{name}/versions",
        "/mlops/api/features/views/{name}/diff",
        "/mlops/api/features/views/{name}/stats",
        "/mlops/api/features/views/{name}/usage",
        "/mlops/api/features/snippet",
    }
    schemas = doc["components"]["schemas"]
    assert {"ViewList", "ViewDetail", "ViewStats", "FeatureUsage", "Snippet"} <= set(schemas)
    assert "ttl_seconds" in schemas["ViewSummary"]["required"]
    diff = doc["paths"]["/mlops/api/features/views/{name}/diff"]["get"]
    assert {p["name"]: p["required"] for p in diff["parameters"]} == {
        "name": True,
        "from_version": True,
        "to_version": True,
    }
    snippet = doc["paths"]["/mlops/api/features/snippet"]["get"]["parameters"]
    assert snippet[0]["name"] == "feature" and snippet[0]["explode"] is True
