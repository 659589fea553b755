"""The monitoring dashboard: the packaged notebook run in a real kernel against a real deployment
with stored checks, Voila's rendering of it, its link on a Jupyter server, and the command."""

from __future__ import annotations

import json
import os
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import nbformat
import numpy as np
import pandas as pd
import pytest
from nbclient import NotebookClient

from jupyter_mlops import Workspace
from jupyter_mlops.dashboards import (
    DEPLOYMENT_ENV,
    MONITORING_NOTEBOOK,
    WORKSPACE_NOTEBOOK,
    install,
)
from jupyter_mlops.dashboards.figures import PLOTLY_MIME
from jupyter_mlops.monitoring.windows import Window
from tests.conftest import log_model_run
from tests.helpers import Fetch, get_error, get_json, jupyter_mlops

pytestmark = pytest.mark.slow  # deploys a model and runs real kernels

COLUMNS = ["tenure", "spend", "calls"]
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def frame(n: int, seed: int, spend_scale: float = 1.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "tenure": rng.integers(1, 72, n).astype("int64"),
            "spend": rng.normal(50, 10, n) * spend_scale,
            "calls": rng.poisson(2, n).astype("float64"),
        }
    )


def send(ws: Workspace, rows: pd.DataFrame, batch: int) -> None:
    url = ws.deployments.get("churn").url
    with httpx.Client(base_url=url, timeout=30) as client:
        for start in range(0, len(rows), batch):
            part = rows.iloc[start : start + batch]
            body = {"dataframe_split": {"columns": COLUMNS, "data": part.to_numpy().tolist()}}
            r = client.post("/invocations", json=body, headers={"x-request-id": uuid.uuid4().hex})
            assert r.status_code == 200, r.text


@pytest.fixture(scope="module")
def monitored(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """``churn`` deployed, with two stored checks: a calm one, then one where ``spend`` drifted
    (an alert fires)."""
    ws = Workspace.init(tmp_path_factory.mktemp("dashboard") / "ws")
    training = frame(3000, 0)
    run = log_model_run(ws, frame=training)
    ws.registry.register(run, "churn", aliases=["champion"], training_data=training)
    ws.deployments.deploy("churn@champion", name="churn")
    send(ws, frame(500, 1), batch=50)
    ws.monitoring.check("churn", Window.parse(last=500))
    send(ws, frame(500, 2, spend_scale=2.0), batch=50)
    ws.monitoring.check("churn", Window.parse(last=500))
    yield ws
    for d in ws.deployments.list():
        if d.state not in {"stopped", "failed"}:
            ws.deployments.stop(d.name)
    engine = ws.tracking.sql_engine
    if engine is not None:
        engine.dispose()


def run_dashboard(ws: Workspace, env: dict[str, str]) -> Any:
    """Execute the packaged notebook in a real kernel, as Voila does, with ``env`` set."""
    nb = nbformat.read(MONITORING_NOTEBOOK, as_version=4)
    client = NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(ws.root)}}
    )
    keys = ("MLOPS_WORKSPACE", DEPLOYMENT_ENV, "QUERY_STRING")
    saved = {k: os.environ.get(k) for k in keys}
    os.environ.update({"MLOPS_WORKSPACE": str(ws.root), **env})
    try:
        client.execute()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return nb


def widgets_of(nb: Any) -> dict[str, dict[str, Any]]:
    """The widget models the notebook left, by model id."""
    state: dict[str, dict[str, Any]] = nb.metadata["widgets"][WIDGET_STATE]["state"]
    return state


def html_of(widgets: dict[str, dict[str, Any]]) -> str:
    return "\n".join(
        w["state"].get("value", "") for w in widgets.values() if w["model_name"] == "HTMLModel"
    )


def figures_of(widgets: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        out["data"][PLOTLY_MIME]
        for w in widgets.values()
        if w["model_name"] == "OutputModel"
        for out in w["state"].get("outputs", [])
        if PLOTLY_MIME in out.get("data", {})
    ]


def test_the_notebook_draws_health_alerts_drift_api_and_quality(monitored: Workspace) -> None:
    nb = run_dashboard(monitored, {DEPLOYMENT_ENV: "churn"})
    (cell,) = nb.cells
    # no repr, no error: the first-paint HTML, then the live widgets
    assert [o.output_type for o in cell.outputs] == ["display_data", "display_data"]
    first_paint = cell.outputs[0].data["text/html"]
    assert "jp-mlops-dash-static" in first_paint and "Needs attention" in first_paint
    assert WIDGET_VIEW in cell.outputs[1].data
    widgets = widgets_of(nb)
    text = html_of(widgets)
    assert "Monitoring: churn" in text
    assert "Needs attention" in text  # the spend alert fires
    assert "Alerts firing now" in text and "spend" in text
    assert "<b>drifted</b>" in text  # the per-feature table
    assert "Per served version" in text
    titles = [f["layout"]["title"]["text"] for f in figures_of(widgets)]
    assert "Share of features drifting" in titles
    assert "API over time" in titles
    assert "Prediction quality over time" in titles
    spend = next(f for f in figures_of(widgets) if f["layout"]["title"]["text"].startswith("spend"))
    names = [trace["name"] for trace in spend["data"]]
    assert names == ["reference (training data)", "current window"]
    # Two checks: a point each over time.
    share = next(f for f in figures_of(widgets) if f["layout"]["title"]["text"].startswith("Share"))
    assert len(share["data"][0]["y"]) == 2
    dropdown = next(w for w in widgets.values() if w["model_name"] == "DropdownModel")
    assert dropdown["state"]["_options_labels"][0] == "spend"  # drifted features first


def test_the_query_string_names_the_deployment(monitored: Workspace) -> None:
    nb = run_dashboard(monitored, {"QUERY_STRING": "deployment=churn&theme=light"})
    assert "Monitoring: churn" in html_of(widgets_of(nb))


def test_an_unknown_deployment_is_a_sentence_not_a_traceback(monitored: Workspace) -> None:
    nb = run_dashboard(monitored, {DEPLOYMENT_ENV: "chrun"})
    (cell,) = nb.cells
    assert all(o.output_type != "error" for o in cell.outputs)
    text = html_of(widgets_of(nb))
    assert "No deployment named" in text and "chrun" in text and "churn" in text


def test_before_any_check_the_figures_are_computed_without_storing(
    monitored: Workspace,
) -> None:
    from jupyter_mlops.dashboards.monitoring import compute_live, load

    before = len(monitored.monitoring.checks("churn").checks)
    live = compute_live(monitored.monitoring, load(monitored.monitoring, "churn"))
    assert live.live and live.latest is not None
    assert live.latest.metrics.overall.requests > 0
    assert live.latest.drift is not None and "spend" in live.latest.drift.drifted
    assert len(monitored.monitoring.checks("churn").checks) == before


def test_voila_shows_the_outputs_and_never_the_code(monitored: Workspace) -> None:
    from jupyter_mlops.dashboards.serve import start_dashboard
    from jupyter_mlops.process import free_port

    server = start_dashboard(monitored.root, "churn", port=free_port(), preheat=False)
    try:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(server.url, timeout=120) as response:
            page = response.read().decode()
    finally:
        server.stop()
    assert "model_id" in page  # the dashboard's widget view
    source = "".join(nbformat.read(MONITORING_NOTEBOOK, as_version=4).cells[0].source)
    for line in source.splitlines():
        if line.strip():
            assert line not in page


def test_install_copies_the_notebook_once_and_refreshes_a_stale_copy(tmp_path: Path) -> None:
    path = install(tmp_path)
    assert path == tmp_path / WORKSPACE_NOTEBOOK
    assert path.read_bytes() == MONITORING_NOTEBOOK.read_bytes()
    mtime = path.stat().st_mtime_ns
    assert install(tmp_path).stat().st_mtime_ns == mtime  # identical: left alone
    path.write_text("{}")
    assert install(tmp_path).read_bytes() == MONITORING_NOTEBOOK.read_bytes()


def test_the_command_names_an_unknown_deployment(monitored: Workspace) -> None:
    result = jupyter_mlops("dashboard", "chrun", "--no-browser", cwd=monitored.root)
    assert result.returncode == 1
    assert "chrun" in result.stderr and "churn" in result.stderr


# -- through a Jupyter server ----------------------------------------------------------------------


@pytest.fixture
def jp_server_config() -> dict[str, Any]:
    return {
        "ServerApp": {
            "jpserver_extensions": {"jupyter_mlops": True, "voila.server_extension": True}
        }
    }


@pytest.fixture
def jp_env_jupyter_path() -> Path:
    """The environment's real data path: Voila's templates are there (pytest-jupyter's
    temporary one would leave Voila rendering the bare notebook)."""
    return Path(sys.prefix) / "share" / "jupyter"


@pytest.fixture
def jp_root_dir(monitored: Workspace) -> Path:
    """The server's root folder is the workspace."""
    return monitored.root


@pytest.fixture
def dashboard_route(jp_serverapp: Any) -> None:
    """The dashboard resource on the server under test (routes.py lists it once wired)."""
    from jupyter_server.utils import url_path_join

    from jupyter_mlops.server.dashboard import HANDLERS
    from jupyter_mlops.server.routes import RESOURCES

    missing = [h for h in HANDLERS if h not in RESOURCES]
    if missing:
        from jupyter_mlops.server.routes import _pattern

        base = jp_serverapp.web_app.settings["base_url"]
        jp_serverapp.web_app.add_handlers(
            ".*$",
            [(url_path_join(base, "mlops/api", _pattern(h.openapi_path)), h) for h in missing],
        )


@pytest.mark.usefixtures("dashboard_route")
async def test_the_server_installs_the_notebook_and_voila_renders_it(
    jp_fetch: Fetch, monitored: Workspace
) -> None:
    link = await get_json(jp_fetch, "monitoring", "deployments", "churn", "dashboard")
    assert link["path"] == str(WORKSPACE_NOTEBOOK)
    assert link["url"].endswith("voila/render/dashboards/monitoring.ipynb?deployment=churn")
    assert (monitored.root / WORKSPACE_NOTEBOOK).exists()
    path = link["url"].partition("?")[0]
    parts = path.split("/voila/render/", 1)[1].split("/")
    response = await jp_fetch(
        "voila", "render", *parts, params={"deployment": "churn"}, method="GET"
    )
    page = response.body.decode()
    assert "model_id" in page
    assert "from jupyter_mlops.dashboards" not in page
    code, error = await get_error(jp_fetch, "monitoring", "deployments", "chrun", "dashboard")
    assert code == 404 and "chrun" in error["message"]
    assert json.dumps(error).count("churn") >= 1
