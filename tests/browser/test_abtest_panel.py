"""The A/B view of a deployment in the Models section, in a real JupyterLab: a real deployment
runs an A/B test started through the Python API, with outcomes that favour the challenger; the
card shows the verdict and both variants, and "Challenger wins" ends the test and moves
@champion.

The module keeps out of the other browser tests' way in their shared workspace: its own model
(``MODEL``, not ``churn``), experiment and deployment, all removed at the end.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import LabServer
from tests.browser.test_experiments_panel import open_lab, open_sidebar, set_theme

pytestmark = [pytest.mark.browser, pytest.mark.slow]

HERE = Path(__file__).parent
REPO = HERE.parent.parent
DOCS_SCREENSHOT = REPO / "docs" / "abtest-panel.png"
MODEL = "upsell"
EXPERIMENT = "upsell-training"
DEPLOYMENT = "upsell-ab"
REQUESTS = 400
ROW = {"tenure": 12, "spend": 50.0, "calls": 2.0}


def setup(root: Path) -> None:
    """Register v1 (@champion) and v2 of ``MODEL``, deploy v1, start an A/B test against v2,
    answer ``REQUESTS`` requests and record conversions: 40% of the challenger's requests, 10%
    of the champion's (every 5th pair and every 10th, so the effect does not depend on luck)."""
    import httpx

    from jupyter_mlops import Workspace
    from jupyter_mlops.abtest.schemas import AbStartRequest, OutcomeItem
    from tests.conftest import log_model_run

    ws = Workspace.open(root)
    for c, aliases in ((0.1, ["champion"]), (10.0, [])):
        run = log_model_run(ws, experiment=EXPERIMENT, c=c)
        ws.registry.register(run, MODEL, aliases=aliases)
    ws.deployments.deploy(f"{MODEL}@champion", name=DEPLOYMENT)
    ws.abtests.start(DEPLOYMENT, AbStartRequest(challenger=2, split=[50, 50], planned_n=200))
    url = ws.deployments.get(DEPLOYMENT).url
    seen = {"champion": 0, "challenger": 0}
    converted = []
    with httpx.Client(base_url=url, timeout=30) as client:
        for _ in range(REQUESTS):
            rid = uuid.uuid4().hex
            answer = client.post(
                "/invocations", json={"dataframe_records": [ROW]}, headers={"x-request-id": rid}
            )
            answer.raise_for_status()
            variant = answer.headers["x-variant"]
            n = seen[variant]
            seen[variant] += 1
            if (variant == "challenger" and n % 5 < 2) or (variant == "champion" and n % 10 == 0):
                converted.append(OutcomeItem(request_id=rid, value=1))
    ws.abtests.record_outcomes(DEPLOYMENT, converted)


def cleanup(root: Path) -> None:
    """Remove what `setup` made: the deployment (stopped, its folder deleted), the model and
    its experiment (deleted in MLflow), so the other tests see the workspace as before."""
    from jupyter_mlops import Workspace
    from jupyter_mlops.errors import NotFound

    ws = Workspace.open(root)
    with contextlib.suppress(NotFound):
        ws.deployments.stop(DEPLOYMENT)
        ws.deployments.remove(DEPLOYMENT)
    client = ws.registry.client
    if any(m.name == MODEL for m in client.search_registered_models()):
        client.delete_registered_model(MODEL)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    if experiment is not None:
        client.delete_experiment(experiment.experiment_id)


def run_script(root: Path, step: str) -> None:
    """`setup` or `cleanup` in a subprocess: MLflow's global state and warnings stay out."""
    done = subprocess.run(
        [sys.executable, "-m", "tests.browser.test_abtest_panel", step, str(root)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), *sys.path])},
    )
    assert done.returncode == 0, f"{step} failed:\n{done.stdout}\n{done.stderr}"


@pytest.fixture(scope="module")
def ab_lab(browser_runs: Path, lab_server: LabServer) -> Iterator[LabServer]:
    """The lab, with `setup` done in its workspace; `cleanup` at the end, whatever happened."""
    try:
        run_script(browser_runs, "setup")
        yield lab_server
    finally:
        run_script(browser_runs, "cleanup")


def models_section(page: Page) -> Locator:
    sidebar = open_sidebar(page, width=620)
    for label in ("Experiments", "Features", "Monitoring", "Jobs"):
        sidebar.locator(".jp-AccordionPanel-title", has_text=label).click()
    section = page.locator("#jp-mlops-models")
    expect(section).to_be_visible()
    return section


def test_ab_view_shows_the_verdict_and_challenger_wins(
    page: Page, ab_lab: LabServer, artifacts_dir: Path, request: pytest.FixtureRequest
) -> None:
    open_lab(page, ab_lab, request)
    section = models_section(page)
    section.get_by_role("option", name=MODEL).click()
    card = section.locator(f'.jp-mlops-DeploymentCard[data-deployment="{DEPLOYMENT}"]')
    expect(card.locator(".jp-mlops-DeploymentState")).to_have_text("running")
    view = card.get_by_role("region", name=f"A/B test of {DEPLOYMENT}")
    expect(view).to_be_visible()

    # Who plays, the split, and the sequential verdict for the challenger.
    served = card.locator(".jp-mlops-DeploymentCard-meta span").first
    expect(served).to_have_text(f"{MODEL} v1 50% · {MODEL} v2 50%")
    expect(view).to_contain_text("champion v1 vs challenger v2")
    expect(view.locator('[data-figure="split"]')).to_contain_text("50% / 50%")
    verdict = view.locator(".jp-mlops-AbTest-verdict")
    expect(verdict).to_have_attribute("data-verdict", "challenger_better")
    expect(verdict).to_contain_text("challenger is better than champion")

    # Both variants: units assigned (400 in all), conversions, the rates and the guardrails.
    champion = view.locator('tr[data-variant="champion"]')
    challenger = view.locator('tr[data-variant="challenger"]')
    expect(champion).to_contain_text("v1")
    expect(challenger).to_contain_text("v2")
    assigned = [
        int(row.locator('[data-figure="assigned"]').inner_text().replace(",", ""))
        for row in (champion, challenger)
    ]
    assert sum(assigned) == REQUESTS and min(assigned) > 0, assigned
    for row in (champion, challenger):
        expect(row.locator('[data-figure="error-rate"]')).to_have_text("0.0%")
        expect(row.locator('[data-figure="p95"]')).not_to_have_text("—")
    expect(challenger.locator('[data-figure="mean"]')).to_contain_text("40")
    expect(champion.locator('[data-figure="mean"]')).to_contain_text("10")

    # The effect with its always-valid interval; both p-values, the peeking warning; no SRM.
    expect(view.locator('[data-figure="effect"]')).to_contain_text("always-valid 95% interval")
    expect(view.locator('[data-figure="sequential-p"]')).to_contain_text("(the verdict)")
    expect(view.locator('[data-figure="fixed-p"]')).to_contain_text("*")
    expect(view.locator(".jp-mlops-AbTest-peeking")).not_to_be_empty()
    expect(view.locator(".jp-mlops-AbTest-srm")).to_have_count(0)
    view.scroll_into_view_if_needed()
    page.screenshot(path=artifacts_dir / "abtest-panel.png")
    if os.environ.get("MLOPS_UPDATE_DOCS"):  # refresh the docs' picture on request only
        page.screenshot(path=DOCS_SCREENSHOT)
    set_theme(page, "JupyterLab Dark", light=False)
    expect(verdict).to_be_visible()
    view.scroll_into_view_if_needed()
    page.screenshot(path=artifacts_dir / "abtest-panel-dark.png")
    set_theme(page, "JupyterLab Light", light=True)

    # "Challenger wins", confirmed: the test ends, v2 serves alone and holds @champion.
    view.get_by_role("button", name="Challenger wins").click()
    dialog = page.locator(".jp-Dialog")
    expect(dialog).to_contain_text(f"End the A/B test of {DEPLOYMENT}?")
    dialog.locator(".jp-Dialog-button.jp-mod-warn").click()
    decided = card.locator(".jp-mlops-AbTest-decided")
    expect(decided).to_contain_text("The challenger (v2) now serves", timeout=60_000)
    expect(decided).to_contain_text("@champion is v2")
    expect(view).to_have_count(0)
    expect(section.get_by_role("option", name=MODEL)).to_contain_text("@champion v2")
    expect(section.locator('.jp-mlops-VersionsTable tr[data-version="2"]')).to_contain_text(
        "@champion"
    )
    expect(served).to_have_text(f"{MODEL} v2")
    page.screenshot(path=artifacts_dir / "abtest-decided.png")

    # The card offers a new test; its form names the other version as the challenger.
    card.get_by_role("button", name="Start A/B test").click()
    form = card.get_by_role("region", name=f"Start an A/B test on {DEPLOYMENT}")
    expect(form.get_by_label("Challenger version")).to_have_value("1")
    form.get_by_role("button", name="Cancel").click()
    expect(form).to_have_count(0)


if __name__ == "__main__":
    {"setup": setup, "cleanup": cleanup}[sys.argv[1]](Path(sys.argv[2]))
