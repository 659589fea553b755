"""The monitoring dashboard in Debian chromium: standalone (``jupyter mlops dashboard``) and
through the running Jupyter server (Voila's ``/voila/render``).

The setup (a deployed model, traffic with a drifted feature, two stored checks) runs in a
subprocess: ``python -m tests.browser.test_dashboard WORKSPACE``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import LabServer, wait_until
from tests.helpers import free_port, stop_process_group

pytestmark = pytest.mark.browser

DEPLOYMENT = "dash-churn"
MODEL = "dash-churn"
COLUMNS = ["tenure", "spend", "calls"]
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "monitoring-dashboard.png"
# What the page shows first: the verdict in plain words, drawn from the newest stored check.
# The verdict of the first-paint HTML or of the live summary, whichever shows first.
FIRST_CONTENT = ".jp-mlops-Verdict >> visible=true"
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def setup(root: Path) -> None:
    """Deploy a model in the workspace, send calm then drifted traffic, check after each."""
    import httpx
    import numpy as np
    import pandas as pd

    from jupyter_mlops import Workspace
    from jupyter_mlops.monitoring.windows import Window
    from tests.conftest import log_model_run

    def frame(n: int, seed: int, spend_scale: float = 1.0) -> pd.DataFrame:
        rng = np.random.default_rng(seed)
        return pd.DataFrame(
            {
                "tenure": rng.integers(1, 72, n).astype("int64"),
                "spend": rng.normal(50, 10, n) * spend_scale,
                "calls": rng.poisson(2, n).astype("float64"),
            }
        )

    ws = Workspace.open(root)
    training = frame(3000, 0)
    run = log_model_run(ws, experiment="dashboard", frame=training)
    ws.registry.register(run, MODEL, aliases=["champion"], training_data=training)
    ws.deployments.deploy(f"{MODEL}@champion", name=DEPLOYMENT)
    url = ws.deployments.get(DEPLOYMENT).url
    for seed, scale in ((1, 1.0), (2, 2.0)):
        rows = frame(500, seed, scale)
        with httpx.Client(base_url=url, timeout=30) as client:
            for start in range(0, len(rows), 50):
                part = rows.iloc[start : start + 50]
                body = {"dataframe_split": {"columns": COLUMNS, "data": part.to_numpy().tolist()}}
                headers = {"x-request-id": uuid.uuid4().hex}
                client.post("/invocations", json=body, headers=headers).raise_for_status()
        ws.monitoring.check(DEPLOYMENT, Window.parse(last=500))


@pytest.fixture(scope="module")
def monitored(browser_runs: Path) -> Iterator[Path]:
    """The browser workspace with ``dash-churn`` deployed and checked twice."""
    subprocess.run(
        [sys.executable, "-m", "tests.browser.test_dashboard", str(browser_runs)],
        check=True,
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    yield browser_runs
    cli = shutil.which("jupyter-mlops")
    assert cli is not None
    subprocess.run(
        [cli, "deployments", "stop", DEPLOYMENT, "--workspace", str(browser_runs)],
        capture_output=True,
        check=False,
    )


@pytest.fixture(scope="module")
def standalone(monitored: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``jupyter mlops dashboard dash-churn --port P --no-browser``, until the module ends."""
    cli = shutil.which("jupyter-mlops")
    assert cli is not None
    port = free_port()
    log = tmp_path_factory.mktemp("dashboard") / "command.log"
    env = {k: v for k, v in os.environ.items() if k != "MLOPS_WORKSPACE"}
    with log.open("w") as out:
        process = subprocess.Popen(
            [cli, "dashboard", DEPLOYMENT, "--port", str(port), "--no-browser"],
            cwd=monitored,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        # The command prints the URL once Voila answers and its kernel is pre-heated.
        wait_until(
            lambda: process.poll() is not None or "Ctrl-C" in log.read_text(),
            120,
            "the dashboard command to print its URL",
        )
        assert process.poll() is None, log.read_text()
        url = next(w for w in log.read_text().split() if w.startswith("http://127.0.0.1:"))
        yield url
    finally:
        stop_process_group(process)


def first_content_seconds(page: Page, url: str) -> float:
    """Open ``url`` and return the seconds until the health verdict shows."""
    start = time.monotonic()
    page.goto(url, wait_until="commit")
    page.locator(FIRST_CONTENT).first.wait_for(state="visible", timeout=60_000)
    return time.monotonic() - start


def expect_dashboard(page: Page) -> None:
    summary = page.locator(".jp-mlops-dash-summary")
    expect(summary).to_contain_text(f"Monitoring: {DEPLOYMENT}")
    expect(page.locator(".jp-mlops-dash-static")).to_be_hidden()  # the live summary replaced it
    expect(summary).to_contain_text("Needs attention")
    expect(summary.locator(".jp-mlops-Alerts")).to_contain_text("spend")
    expect(page.locator(".jp-mlops-dash-drift-table")).to_contain_text("drifted")
    # Health over time, drift share, the chosen feature and quality: four plotly charts.
    expect(page.locator(".js-plotly-plot")).to_have_count(4, timeout=30_000)
    expect(page.locator(".js-plotly-plot .gtitle", has_text="spend: drifted")).to_be_visible()
    expect(page.locator(".js-plotly-plot .gtitle", has_text="API over time")).to_be_visible()
    expect(page.locator(".jp-InputArea:visible")).to_have_count(0)  # no code shown


def test_the_standalone_dashboard_shows_health_drift_and_alerts(
    page: Page, standalone: str
) -> None:
    seconds = first_content_seconds(page, standalone)
    print(f"\nstandalone (pre-heated kernel): first content after {seconds:.2f} s")
    expect_dashboard(page)
    # Another feature's distributions, drawn on demand.
    page.locator(".widget-dropdown select").select_option("tenure")
    tenure = page.locator(".js-plotly-plot .gtitle", has_text="tenure: no drift")
    expect(tenure.first).to_be_visible()
    page.locator(".widget-dropdown select").select_option("spend")
    expect(tenure).to_have_count(0)
    expect(page.locator(".js-plotly-plot .gtitle", has_text="spend: drifted")).to_have_count(1)
    # Voila scrolls inside its own container: a tall window shows the whole page at once.
    page.set_viewport_size({"width": 1280, "height": 2300})
    expect(page.locator(".js-plotly-plot")).to_have_count(4)
    page.wait_for_timeout(1000)  # plotly redraws at the new size
    page.screenshot(path=str(SCREENSHOT), full_page=True)


def test_the_dashboard_opens_through_the_jupyter_server(
    page: Page, lab_server: LabServer, monitored: Path
) -> None:
    request = urllib.request.Request(
        f"{lab_server.url}/mlops/api/monitoring/deployments/{DEPLOYMENT}/dashboard",
        headers={"Authorization": f"token {lab_server.token}"},
    )
    with _OPENER.open(request, timeout=60) as response:
        link = json.loads(response.read())
    assert (monitored / link["path"]).exists()
    seconds = first_content_seconds(page, f"{lab_server.url}{link['url']}&token={lab_server.token}")
    print(f"\nthrough the Jupyter server (no pre-heating): first content after {seconds:.2f} s")
    expect_dashboard(page)


if __name__ == "__main__":
    setup(Path(sys.argv[1]))
