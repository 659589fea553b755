"""The Monitoring section, in a real JupyterLab: a real deployment of a real MLflow model gets a
few hundred real HTTP requests (some of them shifted, some failing), a check runs, and the
section shows the deployment's figures and flags, its drift report with reference-vs-current
charts, the checks' trend and the alert events."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx
import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import LabServer, wait_until
from tests.browser.models_setup import MODEL
from tests.browser.test_experiments_panel import open_lab, open_sidebar, set_theme

pytestmark = [pytest.mark.browser, pytest.mark.slow]

HERE = Path(__file__).parent
REPO = HERE.parent.parent
DOCS_SCREENSHOT = REPO / "docs" / "monitoring-panel.png"
DEPLOYMENT = "churn-monitored"
VERSION = 2
# Starting a model server loads MLflow and the model in a fresh process: seconds on 2 cores.
DEPLOY_TIMEOUT = 180.0
# Requests sent: most shifted away from the training data (drift), some refused (errors).
SHIFTED, FAILING = 300, 20
REFERENCE_ROWS = 500


def api(lab: LabServer) -> httpx.Client:
    """The REST API of the lab's server, with its token."""
    return httpx.Client(
        base_url=f"{lab.url}/mlops/api/",
        headers={"Authorization": f"token {lab.token}"},
        timeout=DEPLOY_TIMEOUT,
    )


def ensure_model(lab: LabServer) -> None:
    """The registered model of `models_setup.py`, trained unless an earlier module did."""
    with api(lab) as client:
        if client.get(f"models/{MODEL}").status_code == 200:
            return
    subprocess.run(
        [sys.executable, str(HERE / "models_setup.py"), str(lab.workspace)],
        check=True,
        capture_output=True,
        text=True,
        cwd=lab.workspace,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), *sys.path])},
    )


def store_reference_profile(workspace: Path) -> None:
    """A known training distribution as the version's reference profile: orders 0-6 and
    avg_spend 10-108, so the requests below drift on both."""
    data = workspace / "monitoring-reference.csv"
    rows = ["orders,avg_spend"] + [
        f"{i % 7},{10.0 + 2.0 * (i % 50)}" for i in range(REFERENCE_ROWS)
    ]
    data.write_text("\n".join(rows) + "\n", encoding="utf-8")
    cli = shutil.which("jupyter-mlops")
    assert cli is not None, "the jupyter-mlops command is not installed (pip install -e .)"
    subprocess.run(
        [cli, "models", "profile", f"{MODEL}:{VERSION}", "--data", str(data)],
        check=True,
        capture_output=True,
        text=True,
        cwd=workspace,
    )


def send_traffic(url: str) -> None:
    """Real prediction requests: shifted rows, and rows the model refuses."""
    with httpx.Client(base_url=url, timeout=10) as client:
        for i in range(SHIFTED):
            row = {"orders": float(8 + i % 7), "avg_spend": 200.0 + 3.0 * (i % 60)}
            response = client.post("/invocations", json={"dataframe_records": [row]})
            assert response.status_code == 200, response.text
        for _ in range(FAILING):
            response = client.post("/invocations", json={"dataframe_records": [{"nope": 1}]})
            assert response.status_code >= 400, response.text


@pytest.fixture(scope="module")
def monitored(browser_features: Path, lab_server: LabServer) -> Iterator[dict[str, Any]]:
    """A running deployment with logged traffic and one stored check; stopped at the end.
    Yields the check's report."""
    ensure_model(lab_server)
    store_reference_profile(lab_server.workspace)
    with api(lab_server) as client:
        response = client.post(
            "deployments", json={"model": f"{MODEL}:{VERSION}", "name": DEPLOYMENT}
        )
        assert response.status_code in (200, 201), response.text
        try:
            info = response.json()
            assert info["state"] == "running", info
            send_traffic(info["url"])

            # The replicas' log reaches the reader within a flush interval or two.
            def logged() -> bool:
                metrics = client.get(f"monitoring/deployments/{DEPLOYMENT}/metrics").json()
                return bool(metrics["overall"]["requests"] >= SHIFTED + FAILING)

            wait_until(logged, 60, "the requests in the prediction log", interval=0.5)
            response = client.post(f"monitoring/deployments/{DEPLOYMENT}/checks")
            assert response.status_code == 201, response.text
            yield response.json()
        finally:
            # DELETE removes only a stopped deployment (409 while it runs): stop it first.
            stopped = client.post(f"deployments/{DEPLOYMENT}/stop")
            assert stopped.status_code == 200, stopped.text
            assert client.delete(f"deployments/{DEPLOYMENT}").status_code == 200


def monitoring_section(page: Page) -> Locator:
    """The Monitoring section, the other sections folded so it has the room."""
    sidebar = open_sidebar(page, width=600)
    for label in ("Experiments", "Features", "Models"):
        title = sidebar.locator(".jp-AccordionPanel-title", has_text=label)
        if title.get_attribute("aria-expanded") == "true":
            title.click()
    section = page.locator("#jp-mlops-monitoring")
    expect(section).to_be_visible()
    return section


def figure(card: Locator, name: str) -> Locator:
    return card.locator(f'[data-figure="{name}"] .jp-mlops-Figure-value')


def test_deployment_figures_drift_report_and_events(
    page: Page,
    monitored: dict[str, Any],
    lab_server: LabServer,
    artifacts_dir: Path,
    request: pytest.FixtureRequest,
) -> None:
    # What the check found, as the server stored it: the panel must show the same.
    summary = monitored["summary"]
    assert summary["requests"] == SHIFTED + FAILING
    assert monitored["drift"] is not None, monitored.get("message")
    assert {"orders", "avg_spend"} <= set(summary["drifted"]), summary
    assert summary["error_rate"] == pytest.approx(FAILING / (SHIFTED + FAILING))
    # Both inputs drifted; the model's output is compared with its first window (itself here).
    drift_share = f"{round(summary['drift_share'] * 100)}%"

    # Tall enough for the card, the drift report and the events in one picture.
    page.set_viewport_size({"width": 1440, "height": 1500})
    open_lab(page, lab_server, request)
    section = monitoring_section(page)

    # The deployment at a glance: traffic, errors, p95 and drift from the check, and its flags.
    card = section.locator(f'.jp-mlops-MonitorCard[data-deployment="{DEPLOYMENT}"]')
    expect(card).to_be_visible()
    expect(card.locator(".jp-mlops-DeploymentState")).to_have_text("running")
    expect(card).to_contain_text(f"{MODEL}:{VERSION}")
    expect(figure(card, "request-rate")).not_to_have_text("—")
    expect(figure(card, "error-rate")).to_have_text("6.3%")
    expect(figure(card, "p95")).not_to_have_text("—")
    expect(figure(card, "drift-share")).to_have_text(drift_share)
    expect(card.locator('[data-flag="drift"]')).to_contain_text("drift")
    expect(card.locator('[data-flag="alert"]')).to_contain_text("alert")
    expect(card.locator('[data-figure="last-check"]')).to_contain_text("checked")

    # Check now: a second point of the time series, its outcome in the card.
    card.get_by_role("button", name="Check now").click()
    expect(card.locator(".jp-mlops-Action-done")).to_contain_text(
        f"Checked {SHIFTED:,} rows", timeout=60_000
    )
    expect(card.locator(".jp-mlops-Action-done")).to_contain_text("features drifted")

    # The drift report: one row per feature with its test, and reference-vs-current bars.
    card.get_by_role("button", name="Drift report").click()
    detail = section.get_by_role("region", name=f"Drift report of {DEPLOYMENT}")
    expect(detail).to_be_visible()
    table = detail.get_by_role("table", name="Drift by feature")
    orders = table.locator('tr[data-feature="orders"]')
    spend = table.locator('tr[data-feature="avg_spend"]')
    expect(orders).to_have_attribute("data-status", "drifted", timeout=60_000)
    expect(spend).to_have_attribute("data-status", "drifted")
    expect(orders.locator("td").nth(1)).not_to_have_text("—")
    expect(detail.locator(".jp-mlops-DriftSummary")).to_contain_text("features drifted")
    chart = detail.locator(".jp-mlops-ShareBars")
    expect(chart).to_have_count(1)
    bins = chart.locator("g[data-bin]")
    assert bins.count() >= 2
    expect(chart.locator("rect.jp-mlops-ShareBars-reference")).to_have_count(bins.count())
    expect(chart.locator("rect.jp-mlops-ShareBars-current")).to_have_count(bins.count())
    spend.click()
    expect(spend).to_have_attribute("aria-selected", "true")
    expect(chart).to_have_attribute("data-chart", "avg_spend")

    # The trend over the checks: two points at least, so a line.
    trend = detail.get_by_label("Trend over", exact=False)
    expect(trend).to_be_visible()
    for name in ("drift-share", "error-rate", "p95"):
        expect(trend.locator(f'[data-trend="{name}"] .jp-mlops-Sparkline-line')).to_have_count(1)
    expect(trend.locator('[data-trend="drift-share"] .jp-mlops-Sparkline-value')).to_have_text(
        drift_share
    )

    # The events: the alerts the first check raised, newest first.
    events = section.get_by_role("list", name="Alert events")
    firing = events.locator(
        f'.jp-mlops-Event[data-event-state="firing"][data-deployment="{DEPLOYMENT}"]'
    )
    expect(firing.first).to_be_visible()
    expect(events.locator('[data-event-kind="error_rate"]')).to_have_count(1)
    expect(events.locator('[data-event-kind="drift_share"]')).to_have_count(1)

    card.scroll_into_view_if_needed()
    page.screenshot(path=artifacts_dir / "monitoring-light.png")
    if os.environ.get("MLOPS_UPDATE_DOCS"):  # refresh the README's picture on request only
        page.screenshot(path=DOCS_SCREENSHOT)

    set_theme(page, "JupyterLab Dark", light=False)
    expect(card.locator(".jp-mlops-DeploymentState")).to_have_text("running")
    page.screenshot(path=artifacts_dir / "monitoring-dark.png")
    set_theme(page, "JupyterLab Light", light=True)


def test_open_dashboard_goes_to_voila_on_this_server(
    page: Page, monitored: dict[str, Any], lab_server: LabServer, request: pytest.FixtureRequest
) -> None:
    open_lab(page, lab_server, request)
    section = monitoring_section(page)
    card = section.locator(f'.jp-mlops-MonitorCard[data-deployment="{DEPLOYMENT}"]')
    with page.context.expect_page() as opened:
        card.get_by_role("button", name="Open dashboard").click()
    dashboard = opened.value
    # The tab opens in the click, then goes where the server says Voila renders the dashboard.
    dashboard.wait_for_url(re.compile(r"/voila/render/"))
    url = urlsplit(dashboard.url)
    assert url.netloc == urlsplit(lab_server.url).netloc
    assert url.path.endswith(".ipynb"), dashboard.url
    assert f"deployment={DEPLOYMENT}" in url.query, dashboard.url
    # The server put the dashboard notebook in the workspace, under its root, for Voila.
    notebook = lab_server.workspace / unquote(url.path.removeprefix("/voila/render/"))
    assert notebook.is_file(), notebook
    expect(card.locator(".jp-mlops-Error")).to_have_count(0)
    dashboard.close()
