"""The Models section: versions, lineage, Deploy with live traffic, Promote, and Register from the
Experiments panel, in a real JupyterLab with real MLflow models and a real model server."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import LabServer
from tests.browser.models_setup import (
    CHAMPION,
    EXPERIMENT,
    MODEL,
    NO_MODEL_RUN,
    NOTEBOOK,
    REGISTERED_RUNS,
    UNREGISTERED_RUN,
)
from tests.browser.test_experiments_panel import open_lab, open_sidebar, run_rows, set_theme

pytestmark = [pytest.mark.browser, pytest.mark.slow]

HERE = Path(__file__).parent
REPO = HERE.parent.parent
DOCS_SCREENSHOT = REPO / "docs" / "models-panel.png"
# Starting a model server loads MLflow and the model in a fresh process: seconds on 2 cores.
DEPLOY_TIMEOUT = 120_000
V1_RUN, V2_RUN = REGISTERED_RUNS


@pytest.fixture(scope="module")
def browser_models(browser_features: Path) -> Iterator[Path]:
    """Train and register the models of `models_setup.py` in the workspace (after the feature
    views it reads); at the end stop every deployment a test started."""
    subprocess.run(
        [sys.executable, str(HERE / "models_setup.py"), str(browser_features)],
        check=True,
        capture_output=True,
        text=True,
        cwd=browser_features,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), *sys.path])},
    )
    yield browser_features
    from jupyter_mlops import Workspace

    deployments = Workspace.open(browser_features).deployments
    for info in deployments.list():
        deployments.stop(info.name)
    assert all(d.state == "stopped" for d in deployments.list())


@pytest.fixture
def models_lab(browser_models: Path, lab_server: LabServer) -> LabServer:
    return lab_server


def toggle_section(sidebar: Locator, label: str) -> None:
    sidebar.locator(".jp-AccordionPanel-title", has_text=label).click()


def models_section(page: Page, *, only: bool = True) -> Locator:
    """The Models section; with `only`, the other sections are folded so it has the room."""
    sidebar = open_sidebar(page, width=600)
    if only:
        for label in ("Experiments", "Features"):
            toggle_section(sidebar, label)
    section = page.locator("#jp-mlops-models")
    expect(section).to_be_visible()
    return section


def version_row(section: Locator, version: int) -> Locator:
    return section.locator(f'.jp-mlops-VersionsTable tr[data-version="{version}"]')


def lineage(section: Locator) -> Locator:
    return section.get_by_role("list", name="Lineage")


def choose_version(section: Locator, version: int) -> None:
    version_row(section, version).click()
    expect(version_row(section, version)).to_have_attribute("aria-selected", "true")
    expect(section.locator(".jp-mlops-VersionDetail")).to_contain_text(f"{MODEL} v{version}")


def test_versions_lineage_deploy_traffic_and_stop(
    page: Page, models_lab: LabServer, artifacts_dir: Path, request: pytest.FixtureRequest
) -> None:
    open_lab(page, models_lab, request)
    section = models_section(page)

    # The model, its alias, and its versions newest first.
    model = section.get_by_role("option", name=re.compile(MODEL))
    expect(model).to_have_attribute("aria-selected", "true")
    expect(model).to_contain_text(f"@{CHAMPION} v1")
    expect(model).to_contain_text("2 versions")
    rows = section.locator(".jp-mlops-VersionsTable tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("v2")
    expect(version_row(section, 1)).to_contain_text(f"@{CHAMPION}")
    expect(section.locator(".jp-mlops-VersionsTable thead")).to_contain_text("roc_auc")
    expect(version_row(section, 2)).to_contain_text("0.86")

    # The newest version is chosen: its lineage back to the run, notebook, features and commit.
    expect(version_row(section, 2)).to_have_attribute("aria-selected", "true")
    chain = lineage(section)
    expect(chain.locator('[data-step="run"]')).to_contain_text(V2_RUN)
    expect(chain.locator('[data-step="run"]')).to_contain_text(EXPERIMENT)
    expect(chain.locator('[data-step="notebook"]')).to_contain_text(NOTEBOOK)
    expect(chain.locator('[data-step="notebook"]')).to_contain_text("snapshot")
    expect(chain.locator('[data-step="features"]')).to_contain_text("customer_spend:v2:orders")
    expect(chain.locator('[data-step="features"]')).to_contain_text("customer_spend:v2:avg_spend")
    expect(chain.locator('[data-step="commit"] .jp-mlops-Badge--dirty')).to_have_text("dirty")
    expect(section.get_by_role("table", name="Params")).to_contain_text("C")
    choose_version(section, 1)
    expect(chain.locator('[data-step="run"]')).to_contain_text(V1_RUN)
    expect(chain.locator('[data-step="commit"]')).to_contain_text("clean")
    page.screenshot(path=artifacts_dir / "models-lineage-light.png")

    # The notebook of the lineage opens in JupyterLab.
    chain.locator('[data-step="notebook"]').get_by_role("button", name=NOTEBOOK).click()
    expect(page.get_by_role("tab", name="train_churn.ipynb")).to_have_attribute(
        "aria-selected", "true"
    )

    # Deploy v2 with one click; the card goes running with its URL.
    choose_version(section, 2)
    section.get_by_role("button", name="Deploy", exact=True).click()
    expect(section.locator(".jp-mlops-Action .jp-mlops-Loading")).to_contain_text(
        f"Deploying {MODEL}:2"
    )
    card = section.locator(f'.jp-mlops-DeploymentCard[data-deployment="{MODEL}"]')
    state = card.locator(".jp-mlops-DeploymentState")
    expect(state).to_have_text("running", timeout=DEPLOY_TIMEOUT)
    expect(section.locator(".jp-mlops-Action-done")).to_contain_text("running at http://127.0.0.1:")
    url = card.locator(".jp-mlops-Endpoint-url").inner_text()
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url), url
    expect(card).to_contain_text(f"{MODEL} v2")
    expect(card.locator('[data-figure="replicas"]')).to_have_text("replicas 1/1")

    # Real requests, as the backend team sends them; the card shows the rate within a poll or two.
    rate = card.locator('[data-figure="rate"] .jp-mlops-Figure-value')
    payload = {"dataframe_records": [{"orders": 3.0, "avg_spend": 20.0}]}
    deadline = time.monotonic() + 30
    with httpx.Client(base_url=url, timeout=10) as client:
        while True:
            for _ in range(10):
                response = client.post("/invocations", json=payload)
                assert response.status_code == 200, response.text
            shown = rate.inner_text()
            if shown not in ("—", "0") and float(shown.replace(",", "")) > 0:
                break
            assert time.monotonic() < deadline, f"the request rate stayed at {shown!r}"
            time.sleep(0.2)
    expect(card.locator('[data-figure="p95"] .jp-mlops-Figure-value')).not_to_have_text("—")
    expect(card.locator('[data-figure="total"] .jp-mlops-Figure-value')).not_to_have_text("0")
    card.scroll_into_view_if_needed()
    page.screenshot(path=artifacts_dir / "models-deployment-light.png")
    if os.environ.get("MLOPS_UPDATE_DOCS"):  # refresh the README's picture on request only
        page.screenshot(path=DOCS_SCREENSHOT)

    # Logs: the tail of the supervisor's and the replica's logs.
    card.get_by_role("button", name="Logs", exact=True).click()
    logs = card.get_by_label(f"Logs of {MODEL}")
    expect(logs).to_contain_text("==>")

    set_theme(page, "JupyterLab Dark", light=False)
    expect(state).to_have_text("running")
    card.scroll_into_view_if_needed()
    page.screenshot(path=artifacts_dir / "models-deployment-dark.png")
    set_theme(page, "JupyterLab Light", light=True)

    # Stop: the card stays, grey, with no figures.
    card.get_by_role("button", name="Stop").click()
    expect(state).to_have_text("stopped", timeout=60_000)
    expect(card.locator(".jp-mlops-Figures")).to_have_count(0)
    expect(card.get_by_role("button", name="Stop")).to_have_count(0)

    # Start: the stopped deployment comes back as it was, on its port.
    card.get_by_role("button", name="Start", exact=True).click()
    expect(state).to_have_text("running", timeout=120_000)
    with httpx.Client(base_url=url, timeout=10) as client:
        assert client.post("/invocations", json=payload).status_code == 200
    # Remove is offered once it is stopped again; the card goes.
    expect(card.get_by_role("button", name="Remove")).to_have_count(0)
    card.get_by_role("button", name="Stop").click()
    expect(state).to_have_text("stopped", timeout=60_000)
    card.get_by_role("button", name="Remove").click()
    expect(card).to_have_count(0)


def test_promote_with_gates(
    page: Page, models_lab: LabServer, artifacts_dir: Path, request: pytest.FixtureRequest
) -> None:
    open_lab(page, models_lab, request)
    section = models_section(page)
    expect(version_row(section, 2)).to_have_attribute("aria-selected", "true")

    # A bad gate is the server's 400, shown inline.
    section.get_by_label("Gates").fill("roc_auc >> 1")
    section.get_by_role("button", name="Promote").click()
    expect(section.locator(".jp-mlops-Action .jp-mlops-Error")).to_be_visible()

    # v2 beats the champion (v1): promoted, and the badge moves.
    section.get_by_label("Alias").fill(CHAMPION)
    section.get_by_label("Gates").fill(f"roc_auc>={CHAMPION}")
    section.get_by_role("button", name="Promote").click()
    promotion = section.locator(".jp-mlops-Promotion")
    expect(promotion).to_have_class(re.compile("jp-mlops-Promotion--promoted"))
    expect(promotion).to_contain_text(f"{MODEL} v2 is now @{CHAMPION} (was v1)")
    expect(version_row(section, 2)).to_contain_text(f"@{CHAMPION}")
    expect(version_row(section, 1)).not_to_contain_text(f"@{CHAMPION}")

    # v1 no longer does: refused, with the failing gate's message.
    choose_version(section, 1)
    section.get_by_label("Gates").fill(f"roc_auc>={CHAMPION}, accuracy>0")
    section.get_by_role("button", name="Promote").click()
    expect(promotion).to_have_class(re.compile("jp-mlops-Promotion--refused"))
    expect(promotion).to_contain_text("Not promoted: 1 gate(s) failed")
    failed = promotion.locator(".jp-mlops-Gate--failed")
    expect(failed).to_have_count(1)
    expect(failed).to_contain_text(f"roc_auc>={CHAMPION}")
    expect(failed).to_contain_text("0.81")
    expect(promotion.locator(".jp-mlops-Gate--passed")).to_have_count(1)
    expect(version_row(section, 2)).to_contain_text(f"@{CHAMPION}")
    promotion.scroll_into_view_if_needed()
    page.screenshot(path=artifacts_dir / "models-promote-refused.png")


def test_register_from_the_experiments_panel(
    page: Page, models_lab: LabServer, artifacts_dir: Path, request: pytest.FixtureRequest
) -> None:
    open_lab(page, models_lab, request)
    sidebar = open_sidebar(page, width=600)
    toggle_section(sidebar, "Features")
    sidebar.get_by_role("option", name=EXPERIMENT).click()
    expect(run_rows(sidebar)).to_have_count(4)

    # A run that logged no model: the server's message and hint, inline.
    sidebar.get_by_role("checkbox", name=f"Select run {NO_MODEL_RUN}").check()
    sidebar.get_by_role("button", name=f"Register {NO_MODEL_RUN}").click()
    name = sidebar.get_by_label("Model name")
    expect(name).to_have_value(EXPERIMENT)
    name.fill(MODEL)
    sidebar.get_by_role("button", name="Register", exact=True).click()
    error = sidebar.locator(".jp-mlops-RegisterBar .jp-mlops-Error")
    expect(error).to_contain_text("logged no model")
    expect(error.locator(".jp-mlops-Error-hint")).to_contain_text("log_model")
    error.scroll_into_view_if_needed()
    page.screenshot(path=artifacts_dir / "register-error.png")

    # A trained run: registered as the next version, shown in the Models section.
    sidebar.get_by_role("checkbox", name=f"Select run {NO_MODEL_RUN}").uncheck()
    sidebar.get_by_role("checkbox", name=f"Select run {UNREGISTERED_RUN}").check()
    sidebar.get_by_role("button", name=f"Register {UNREGISTERED_RUN}").click()
    sidebar.get_by_label("Model name").fill(MODEL)
    sidebar.get_by_role("button", name="Register", exact=True).click()
    outcome = sidebar.locator(
        ".jp-mlops-RegisterBar [role=status], .jp-mlops-RegisterBar .jp-mlops-Error"
    )
    expect(outcome).to_have_count(1)
    expect(outcome).to_contain_text(f"Registered as {MODEL} v3")
    section = page.locator("#jp-mlops-models")
    expect(version_row(section, 3)).to_have_attribute("aria-selected", "true")
    expect(lineage(section).locator('[data-step="run"]')).to_contain_text(UNREGISTERED_RUN)
    expect(section.get_by_role("option", name=re.compile(MODEL))).to_contain_text("3 versions")
    page.screenshot(path=artifacts_dir / "register-revealed.png")
