"""`jupyter mlops features ...` run as a user runs it, and `%mlops features` in a real kernel."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from jupyter_mlops import Workspace
from tests.helpers import (
    build_feature_workspace,
    feature_definitions,
    jupyter_mlops,
    outputs_text,
    record_training_run,
    run_notebook,
    workspace_spend_rows,
    write_feature_definitions,
)


@pytest.fixture
def feature_ws(workspace: Workspace) -> Workspace:
    return build_feature_workspace(workspace)


def features(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``jupyter mlops features ARGS`` run from ``cwd`` through the CLI's entry point, in this
    process (a terminal's interpreter costs ~7 s of CPU importing MLflow: 47 of them were 5 min
    of CI); test_the_terminal_answers_as_the_entry_point_does runs one in a real terminal."""
    from jupyter_mlops.commands.cli import main

    out, err = io.StringIO(), io.StringIO()
    previous = Path.cwd()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["features", *args])
    finally:
        os.chdir(previous)
    return subprocess.CompletedProcess(["features", *args], code, out.getvalue(), err.getvalue())


def ok(*args: str, cwd: Path) -> str:
    done = features(*args, cwd=cwd)
    assert done.returncode == 0, done.stderr
    assert done.stderr == "", done.stderr
    return done.stdout


def ok_json(*args: str, cwd: Path) -> Any:
    return json.loads(ok(*args, "--json", cwd=cwd))


def fails(*args: str, cwd: Path, code: int = 1) -> str:
    done = features(*args, cwd=cwd)
    assert done.returncode == code, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("error: ")
    return done.stderr


# -- plan and apply ----------------------------------------------------------------------------


def test_the_terminal_answers_as_the_entry_point_does(workspace: Workspace) -> None:
    write_feature_definitions(workspace, feature_definitions())
    terminal = jupyter_mlops("features", "plan", cwd=workspace.root)
    assert terminal.returncode == 0 and terminal.stderr == "", terminal.stderr
    assert terminal.stdout == ok("plan", cwd=workspace.root)
    wrong = jupyter_mlops("features", "show", "nope", cwd=workspace.root)
    assert wrong.returncode == 1 and wrong.stderr.startswith("error: ")
    assert wrong.stderr == fails("show", "nope", cwd=workspace.root)


def test_plan_writes_nothing_then_apply_versions(workspace: Workspace) -> None:
    root = workspace.root
    write_feature_definitions(workspace, feature_definitions())
    out = ok("plan", cwd=root)
    assert "+ view customer_spend: create -> v1" in out and "+ entity customer: create" in out
    assert ok_json("list", cwd=root)["rows"] == []  # plan wrote nothing
    plan = ok_json("apply", cwd=root)
    assert {c["name"]: c["action"] for c in plan["changes"]} == {
        "customer": "create",
        "customer_spend": "create",
        "customer_profile": "create",
    }
    assert "No changes." in ok("apply", cwd=root)

    write_feature_definitions(workspace, feature_definitions(ttl="7d"))
    out = ok("plan", cwd=root)
    assert "~ view customer_spend: new_version -> v2" in out and "~ ttl: 30d -> 7d" in out
    ok("apply", cwd=root)
    assert workspace.features.get_view("customer_spend").version == 2


def test_plan_and_apply_bad_definitions(workspace: Workspace) -> None:
    root = workspace.root
    err = fails("plan", cwd=root)
    assert "No definitions folder 'features'" in err and "hint:" in err
    write_feature_definitions(workspace, feature_definitions(ttl="soon"))
    err = fails("apply", cwd=root)
    assert "TTL 'soon' cannot be parsed" in err and "defs.py" in err
    assert workspace.features.list_views() == []  # nothing written
    write_feature_definitions(workspace, feature_definitions(extra='Field("segment", "text")'))
    assert "Unknown dtype 'text'" in fails("plan", cwd=root)
    (root / "other").mkdir()
    assert "No Entity or FeatureView definitions" in fails("plan", "--dir", "other", cwd=root)
    assert "outside the workspace" in fails("plan", "--dir", "..", cwd=root)


# -- reading views ----------------------------------------------------------------------------


def test_list_and_search(feature_ws: Workspace) -> None:
    root = feature_ws.root
    out = ok("list", cwd=root)
    assert out.startswith("2 feature view(s)")
    assert "customer_profile" in out and "Parquet data/profile.parquet" in out
    rows = ok_json("list", "--search", "GROWTH", cwd=root)["rows"]
    assert [(r["name"], r["version"], r["versions"]) for r in rows] == [("customer_spend", 2, 2)]
    assert [r["name"] for r in ok_json("list", "-s", "country", cwd=root)["rows"]] == [
        "customer_profile"
    ]
    assert ok("list", "--search", "nothing-like-this", cwd=root).startswith("0 feature view(s)")


def test_show_schema_and_versions(feature_ws: Workspace) -> None:
    root = feature_ws.root
    out = ok("show", "customer_spend", cwd=root)
    expected = ["v2 (of 2)", "customer (customer_id)", "30d", "growth", "team=growth"]
    expected += ["ingested into the workspace", "is_vip", "bool", "+ feature is_vip: bool"]
    for text in expected:
        assert text in out, text
    shown = ok_json("show", "customer_spend", "--version", "v1", cwd=root)
    assert shown["version"] == 1
    assert [f["name"] for f in shown["features"]] == ["orders", "avg_spend", "segment"]
    assert shown["definition"]["definition"]["features"][0] == {
        "name": "orders",
        "dtype": "int64",
        "description": "",
    }
    assert shown["versions"] == 2 and shown["definition"]["version"] == 1
    assert shown["fingerprint"] == feature_ws.features.get_view("customer_spend", 1).fingerprint
    profile = ok_json("show", "customer_profile", cwd=root)
    assert profile["source"] == "Parquet data/profile.parquet"
    assert profile["definition"]["definition"]["source"] == {
        "kind": "parquet",
        "path": "data/profile.parquet",
    }


def test_diff_between_versions(feature_ws: Workspace) -> None:
    root = feature_ws.root
    assert "+ feature is_vip: bool" in ok("diff", "customer_spend", "v1", "2", cwd=root)
    body = ok_json("diff", "customer_spend", "2", "v1", cwd=root)
    assert body == {
        "view": "customer_spend",
        "from_version": 2,
        "to_version": 1,
        "lines": ["- feature is_vip: bool"],
    }
    assert "No differences." in ok("diff", "customer_spend", "v1", "v1", cwd=root)


def test_stats(feature_ws: Workspace) -> None:
    root = feature_ws.root
    out = ok("stats", "customer_spend", cwd=root)
    assert "rows:" in out and "STALE" in out and "lapsed (1)" in out
    stats = ok_json("stats", "customer_spend", cwd=root)
    assert stats["row_count"] == 3 and stats["stale"] is True and stats["ttl_seconds"] == 30 * 86400
    assert {f["name"]: f["null_rate"] for f in stats["features"]}["orders"] == 0.0
    profile = ok_json("stats", "customer_profile", cwd=root)
    assert profile["row_count"] == 2 and profile["stale"] is False  # no TTL: never stale


def test_usage_lists_runs_per_version(feature_ws: Workspace) -> None:
    run_v2 = record_training_run(feature_ws, ["customer_spend:orders"], "uses-v2")
    run_v1 = record_training_run(feature_ws, ["customer_spend:v1:avg_spend"], "uses-v1")
    root = feature_ws.root
    out = ok("usage", "customer_spend", cwd=root)
    assert "2 runs" in out and "v1: 1 runs" in out and "uses-v2" in out
    usage = ok_json("usage", "customer_spend", cwd=root)
    by_version = {v["version"]: [r["run_id"] for r in v["runs"]] for v in usage["versions"]}
    assert by_version == {1: [run_v1], 2: [run_v2]}
    assert "0 runs" in ok("usage", "customer_profile", cwd=root)


# -- data --------------------------------------------------------------------------------------


def test_ingest_parquet_and_csv(feature_ws: Workspace) -> None:
    root = feature_ws.root
    more = workspace_spend_rows().assign(customer_id=[3, 3, 4])
    more.to_parquet(root / "data" / "more.parquet")
    out = ok("ingest", "customer_spend", "data/more.parquet", cwd=root)
    assert "Ingested 3 row(s) from data/more.parquet into customer_spend:v2." in out
    # CSV has no types: the view's dtypes are applied (a missing int stays an integer column).
    csv = root / "data" / "more.csv"
    csv.write_text(
        "customer_id,event_timestamp,orders,avg_spend,segment,is_vip\n"
        "5,2026-01-03T00:00:00,4,12.5,new,true\n"
        "6,2026-01-04,,13.5,,false\n"
    )
    # A relative path is taken from the current folder, as in any shell command.
    body = ok_json("ingest", "customer_spend", "more.csv", cwd=root / "data")
    assert body["rows"] == 2 and body["view"] == "customer_spend" and body["version"] == 2
    assert feature_ws.features.stats("customer_spend").row_count == 8


def test_ingest_bad_input_is_a_message(feature_ws: Workspace) -> None:
    root = feature_ws.root
    workspace_spend_rows().drop(columns=["orders"]).to_csv(root / "data" / "bad.csv", index=False)
    err = fails("ingest", "customer_spend", "data/bad.csv", cwd=root)
    assert "Batch rejected for customer_spend:v2, nothing written: missing columns: orders" in err
    workspace_spend_rows().assign(orders=["a", "b", "c"]).to_parquet(
        root / "data" / "typed.parquet"
    )
    err = fails("ingest", "customer_spend", "data/typed.parquet", cwd=root)
    assert "Batch rejected" in err and "orders" in err
    (root / "data" / "times.csv").write_text(
        "customer_id,event_timestamp,orders,avg_spend,segment,is_vip\n1,yesterday,1,1.0,a,true\n"
    )
    err = fails("ingest", "customer_spend", "data/times.csv", cwd=root)
    assert "Column 'event_timestamp'" in err and "ISO 8601" in err
    (root / "data" / "ints.csv").write_text(
        "customer_id,event_timestamp,orders,avg_spend,segment,is_vip\n1,2026-01-01,1.5,1,a,true\n"
    )
    err = fails("ingest", "customer_spend", "data/ints.csv", cwd=root)
    assert "Column 'orders' of data/ints.csv has values that are not int64" in err
    (root / "data" / "broken.parquet").write_text("not parquet")
    err = fails("ingest", "customer_spend", "data/broken.parquet", cwd=root)
    assert "could not be read as Parquet" in err
    assert "does not exist" in fails("ingest", "customer_spend", "data/none.csv", cwd=root)
    assert "outside the workspace" in fails("ingest", "customer_spend", "/etc/hosts", cwd=root)
    assert "not a Parquet or CSV" in fails("ingest", "customer_spend", "features", cwd=root)
    err = fails("ingest", "customer_profile", "data/profile.parquet", cwd=root)
    assert "only views with source=None take ingested rows" in err
    err = fails("ingest", "customer_spnd", "data/profile.parquet", cwd=root)
    assert "Did you mean customer_spend" in err
    assert feature_ws.features.stats("customer_spend").row_count == 3  # nothing written


def test_materialize_then_serve_online(feature_ws: Workspace) -> None:
    root = feature_ws.root
    body = ok_json("materialize", "customer_profile", "--end", "2025-12-01T12:00", cwd=root)
    assert [(r["view"], r["version"], r["rows_written"]) for r in body["rows"]] == [
        ("customer_profile", 1, 1)
    ]
    online = feature_ws.features.get_online_features(
        ["customer_profile:age"], [{"customer_id": 1}, {"customer_id": 2}]
    )
    assert online["age"].tolist() == [34, pd.NA]  # customer 2 changed after --end
    out = ok("materialize", cwd=root)  # every view, from each one's watermark up to now
    assert "Materialized 2 view(s), 3 row(s) written" in out and "customer_spend" in out
    online = feature_ws.features.get_online_features(
        ["customer_profile:age"], [{"customer_id": 1}, {"customer_id": 2}]
    )
    assert online["age"].tolist() == [34, 51]


def test_materialize_bad_input(feature_ws: Workspace) -> None:
    root = feature_ws.root
    err = fails("materialize", "--start", "last week", cwd=root, code=2)
    assert "expected an ISO date or time" in err
    err = fails("materialize", "--start", "2026-02-01", "--end", "2026-01-01", cwd=root)
    assert "is before 'start'" in err
    assert "Did you mean customer_spend" in fails("materialize", "customer_spnd", cwd=root)
    ok("materialize", "customer_spend", "--end", "2026-02-01", cwd=root)
    err = fails("materialize", "customer_spend", "--end", "2026-01-05", cwd=root)
    assert "before the watermark of customer_spend:v2" in err
    assert "2026-01-05" in err and "2026-02-01" in err and "--start" in err


# -- bad input common to every subcommand --------------------------------------------------------


def test_unknown_view_and_version_name_close_names(feature_ws: Workspace) -> None:
    root = feature_ws.root
    for sub in ("show", "stats", "usage"):
        err = fails(sub, "customer_spnd", cwd=root)
        assert "'customer_spnd' does not exist" in err and "customer_spend" in err, sub
    err = fails("show", "customer_spend", "--version", "7", cwd=root)
    assert "has no version v7" in err and "v1, v2" in err
    assert "has no version v9" in fails("diff", "customer_spend", "v1", "v9", cwd=root)
    assert "is not a version number" in fails("diff", "customer_spend", "one", "v2", cwd=root)
    assert "is not a version number" in fails("stats", "customer_spend", "-v", "x", cwd=root)
    assert "required" in fails(cwd=root, code=2)
    assert "unknown subcommand 'bogus'" in fails("bogus", cwd=root, code=2)
    assert "required: V1, V2" in fails("diff", "customer_spend", cwd=root, code=2)


def test_no_workspace(tmp_path: Path) -> None:
    assert "jupyter mlops init" in fails("list", cwd=tmp_path)


# -- the magic -----------------------------------------------------------------------------------


@pytest.mark.slow
def test_magic_renders_frames_and_json(feature_ws: Workspace) -> None:
    nb = run_notebook(
        feature_ws.root / "features.ipynb",
        [
            "%load_ext jupyter_mlops",
            "%mlops features show customer_spend",
            "%mlops features stats customer_spend",
            "import json\nviews = %mlops features list --json\nprint(json.dumps(views))",
            "%mlops features plan",
            "%mlops features show customer_spnd",
            "%mlops features diff customer_spend v1",
        ],
    )
    texts = [outputs_text(c) for c in nb.cells[1:]]
    assert all("ERROR" not in t and "Traceback" not in t for t in texts), texts
    for cell in nb.cells[1:3]:  # show and stats render DataFrames
        html = [o["data"]["text/html"] for o in cell.outputs if "text/html" in o.get("data", {})]
        assert len(html) >= 1 and "<table" in html[0]
    assert "is_vip" in texts[0] and "avg_spend" in texts[1]
    listed = json.loads(nb.cells[3].outputs[0]["text"])
    assert [r["name"] for r in listed["rows"]] == ["customer_profile", "customer_spend"]
    assert "No changes." in texts[3]
    assert "Did you mean customer_spend" in texts[4]
    assert "required: V2" in texts[5]
