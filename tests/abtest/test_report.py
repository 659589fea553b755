"""The Voila A/B report: the packaged notebook run in a real kernel against a real deployment with
a running test, then after the decision; served on its own by Voila, and through a Jupyter
server."""

from __future__ import annotations

import os
import re
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import nbformat
import pytest
from nbclient import NotebookClient

from jupyter_mlops import Workspace
from jupyter_mlops.abtest.schemas import AbStartRequest, OutcomeItem
from jupyter_mlops.dashboards import DEPLOYMENT_ENV
from jupyter_mlops.dashboards.abtest import (
    AB_NOTEBOOK,
    WORKSPACE_AB_NOTEBOOK,
    required_sample,
    verdict_sentence,
)
from jupyter_mlops.dashboards.figures import PLOTLY_MIME
from tests.helpers import Fetch, get_error, get_json, jupyter_mlops

pytestmark = pytest.mark.slow  # deploys a model and runs real kernels

NAME = "churn-report"
ROW = {"tenure": 12, "spend": 50.0, "calls": 2.0}


@pytest.fixture(scope="module")
def tested(models_workspace: Workspace) -> Iterator[Workspace]:
    """``churn@champion`` (v1) deployed, an A/B test against v2 (50/50, no planned size) with 200
    answered requests: the challenger converts at 40%, the champion at 10%. Without a planned
    size the sequential test is tuned for 10,000 per variant: at 100 it is not conclusive yet."""
    ws = models_workspace
    ws.deployments.deploy("churn@champion", name=NAME)
    ws.abtests.start(NAME, AbStartRequest(challenger=2, split=[50, 50]))
    url = ws.deployments.get(NAME).url
    outcomes = []
    with httpx.Client(base_url=url, timeout=30) as client:
        for i in range(200):
            rid = uuid.uuid4().hex
            r = client.post(
                "/invocations", json={"dataframe_records": [ROW]}, headers={"x-request-id": rid}
            )
            assert r.status_code == 200, r.text
            challenger = r.headers["x-variant"] == "challenger"
            if i % 10 == 0 or (challenger and i % 10 < 4):
                outcomes.append(OutcomeItem(request_id=rid, value=1.0))
    ws.abtests.record_outcomes(NAME, outcomes)
    yield ws
    ws.deployments.stop(NAME)


def run_report(ws: Workspace, env: dict[str, str]) -> Any:
    """Execute the packaged report in a real kernel, as Voila does, with ``env`` set."""
    nb = nbformat.read(AB_NOTEBOOK, as_version=4)
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


def html_and_figures(nb: Any) -> tuple[str, list[dict[str, Any]]]:
    (cell,) = nb.cells
    assert all(o.output_type == "display_data" for o in cell.outputs), cell.outputs
    text = "\n".join(o.data.get("text/html", "") for o in cell.outputs)
    figures = [o.data[PLOTLY_MIME] for o in cell.outputs if PLOTLY_MIME in o.data]
    return text, figures


def test_the_report_says_the_verdict_first_then_counts_figures_and_guardrails(
    tested: Workspace,
) -> None:
    status = tested.abtests.status(NAME)
    assert status.analysis is not None
    css, sentence = verdict_sentence(status)
    assert css == "open"
    assert re.fullmatch(
        r"The challenger's converted rate is \d+\.\d points higher than the champion's "
        r"\(-\d+\.\d to \+\d+\.\d points\); this is not yet conclusive\.",
        sentence,
    ), sentence
    nb = run_report(tested, {DEPLOYMENT_ENV: NAME})
    text, figures = html_and_figures(nb)
    assert "A/B test of churn-report" in text
    verdict = text.index(sentence.replace("'", "&#x27;"))
    assert verdict < text.index("Who saw what") < text.index("Guardrails")
    assert f"<td>champion (v1)</td><td>{status.assigned['champion']:,}</td>" in text
    assert "Sequential p-value" in text and "Fixed-horizon p-value" in text
    # no planned size: estimated for a 10% relative change of the champion's rate
    need = required_sample(status)
    assert need is not None and not need.planned and need.needed["champion"] > 1000
    assert f"of {need.needed['champion']:,}" in text
    assert "10% relative change of the champion&#x27;s rate" in text
    [effect] = figures  # one look (all outcomes in this hour): no p-value chart
    assert effect["layout"]["title"]["text"].startswith("Effect of the challenger")
    assert [t["y"] for t in effect["data"]] == [
        ["always-valid (verdict)"],
        ["fixed horizon (no peeking)"],
    ]
    assert "Decided" not in text


def test_the_query_string_names_the_deployment_and_a_typo_is_a_sentence(
    tested: Workspace,
) -> None:
    text, _ = html_and_figures(run_report(tested, {"QUERY_STRING": f"deployment={NAME}"}))
    assert "A/B test of churn-report" in text
    text, figures = html_and_figures(run_report(tested, {DEPLOYMENT_ENV: "churn-reprot"}))
    assert "No deployment named" in text and "churn-report" in text and figures == []


def test_voila_serves_the_report_on_its_own_and_never_the_code(tested: Workspace) -> None:
    from jupyter_mlops.dashboards.abtest import start_report
    from jupyter_mlops.process import free_port

    server = start_report(tested.root, NAME, port=free_port())
    try:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(server.url, timeout=120) as response:
            page = response.read().decode()
    finally:
        server.stop()
    assert "this is not yet conclusive." in page
    assert "from jupyter_mlops.dashboards" not in page
    unknown = jupyter_mlops("dashboard", "churn-reprot", "--ab", "--no-browser", cwd=tested.root)
    assert unknown.returncode == 1 and "churn-reprot" in unknown.stderr


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
    """The environment's real data path: Voila's templates are there."""
    return Path(sys.prefix) / "share" / "jupyter"


@pytest.fixture
def jp_root_dir(tested: Workspace) -> Path:
    return tested.root


async def test_the_server_installs_the_report_and_voila_renders_it(
    jp_fetch: Fetch, tested: Workspace
) -> None:
    link = await get_json(jp_fetch, "deployments", NAME, "abtest", "report")
    assert link["path"] == str(WORKSPACE_AB_NOTEBOOK)
    assert link["url"].endswith(f"voila/render/dashboards/abtest.ipynb?deployment={NAME}")
    assert (tested.root / WORKSPACE_AB_NOTEBOOK).read_bytes() == AB_NOTEBOOK.read_bytes()
    response = await jp_fetch(
        "voila", "render", "dashboards", "abtest.ipynb", params={"deployment": NAME}, method="GET"
    )
    page = response.body.decode()
    assert "this is not yet conclusive." in page
    code, error = await get_error(jp_fetch, "deployments", "churn-reprot", "abtest", "report")
    assert code == 404 and "churn-reprot" in error["message"]


def test_after_the_decision_the_report_shows_it(tested: Workspace) -> None:
    tested.abtests.stop(NAME, "challenger")
    text, _ = html_and_figures(run_report(tested, {DEPLOYMENT_ENV: NAME}))
    assert "Decided:" in text and "the challenger (v2) serves churn-report alone" in text
    assert "@champion moved to v2" in text
    assert "this is not yet conclusive." in text  # the figures at the decision
