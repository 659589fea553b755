"""The Pipelines view of the Jobs section, in a real JupyterLab: a pipeline applied in the
workspace (a schedule trigger, one gate) shows its trigger in words with its next firing; Run now
starts a run that the workspace's scheduler takes through a real papermill job, the gate and the
registration while the view follows each step's badge; a second Run now is absorbed by the run
going; the run opens on its trigger event and steps; disable and enable switch; the registered
version opens in the Models section with its lineage chain back to the run and its trigger.

The module keeps out of the other browser tests' way in their shared workspace: its own model,
experiment, notebook and pipeline, all removed at the end (and the scheduler stopped if it was not
running before).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import LabServer
from tests.browser.pipelines_setup import CRON, GATE, MODEL, NOTEBOOK, PIPELINE
from tests.browser.test_experiments_panel import open_lab, set_theme
from tests.browser.test_jobs_panel import JOB_TIMEOUT_MS, jobs_section

pytestmark = [pytest.mark.browser, pytest.mark.slow]

HERE = Path(__file__).parent
REPO = HERE.parent.parent
DOCS_SCREENSHOT = REPO / "docs" / "pipelines-panel.png"


def run_script(root: Path, step: str) -> None:
    """`setup` or `cleanup` in a subprocess: MLflow's global state and warnings stay out."""
    done = subprocess.run(
        [sys.executable, str(HERE / "pipelines_setup.py"), step, str(root)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), *sys.path])},
        timeout=180,
    )
    assert done.returncode == 0, f"{step} failed:\n{done.stdout}\n{done.stderr}"


@pytest.fixture(scope="module")
def pipeline_lab(browser_runs: Path, lab_server: LabServer) -> Iterator[LabServer]:
    """The lab, with `setup` done in its workspace; `cleanup` at the end, whatever happened."""
    try:
        run_script(browser_runs, "setup")
        yield lab_server
    finally:
        run_script(browser_runs, "cleanup")


def pipelines_view(page: Page) -> Locator:
    section = jobs_section(page, width=420)
    section.get_by_role("tab", name="Pipelines").click()
    expect(section.get_by_role("tab", name="Pipelines")).to_have_attribute("aria-selected", "true")
    return section


def test_pipeline_runs_now_step_by_step(
    page: Page, pipeline_lab: LabServer, artifacts_dir: Path, request: pytest.FixtureRequest
) -> None:
    page.set_viewport_size({"width": 1280, "height": 1000})
    open_lab(page, pipeline_lab, request)
    section = pipelines_view(page)

    # The pipeline: its version, enabled, where it trains, its trigger in words and next firing.
    card = section.locator(f'.jp-mlops-PipelineCard[data-pipeline="{PIPELINE}"]')
    expect(card.locator(".jp-mlops-PipelineCard-version")).to_have_text("v1")
    switch = card.get_by_role("switch", name=f"Enable pipeline {PIPELINE}")
    expect(switch).to_be_checked()
    expect(card.locator(".jp-mlops-PipelineCard-meta")).to_contain_text(f"{MODEL}@challenger")
    expect(card.locator(".jp-mlops-PipelineCard-gates")).to_contain_text(GATE)
    trigger = card.get_by_role("list", name="Triggers").locator('[data-kind="schedule"]')
    expect(trigger).to_contain_text(f"on schedule {CRON}")
    expect(trigger.locator('[data-figure="next-fire"]')).to_have_text(
        re.compile(r"next run (in \d+ (days?|hours?|minutes?)|tomorrow)")
    )
    expect(card).to_contain_text("No runs yet.")

    # Run now: a run starts; Run now again while it goes is absorbed by it.
    run_now = card.get_by_role("button", name="Run now")
    run_now.click()
    status = card.locator(".jp-mlops-PipelineCard-status")
    expect(status).to_contain_text("Started run ")
    run_id = status.inner_text().removeprefix("Started run ").strip()
    run = card.locator(".jp-mlops-PipelineRun").first
    expect(run.locator(".jp-mlops-PipelineRun-id")).to_have_text(run_id)
    full_id = run.get_attribute("data-run")
    assert full_id and full_id.endswith(run_id), full_id
    run_now.click()
    expect(status).to_contain_text(f"Absorbed by run {run_id}")

    # The run, opened by Run now, follows its steps to the end: job, gate, register, alias;
    # no A/B test and no promotion are declared.
    detail = card.get_by_role("region", name=f"Run {run_id} of {PIPELINE}")
    expect(detail).to_be_visible()
    expect(run).to_have_attribute("data-state", "succeeded", timeout=JOB_TIMEOUT_MS)
    badges = run.locator(".jp-mlops-PipelineRun-row .jp-mlops-StepBadge")
    states = dict(badges.evaluate_all("items => items.map(i => [i.dataset.step, i.dataset.state])"))
    assert states == {
        "job": "succeeded",
        "gates": "succeeded",
        "register": "succeeded",
        "alias": "succeeded",
        "abtest": "skipped",
        "promote": "skipped",
    }, states

    # The run's trigger event (by hand, with its evidence) and each step's detail.
    trigger_event = detail.get_by_label("Trigger event")
    expect(trigger_event.locator(".jp-mlops-TriggerKind")).to_have_text("manual")
    expect(trigger_event).to_contain_text("run by hand by")
    expect(trigger_event.locator('[data-figure="absorbed"]')).to_have_text("absorbed 1 later event")
    expect(trigger_event.get_by_label("Evidence")).to_contain_text("user")
    steps = detail.get_by_role("list", name="Steps")
    step = steps.locator(".jp-mlops-PipelineStep")
    expect(step.and_(page.locator('[data-step="gates"]'))).to_contain_text("1 check(s) passed")
    expect(step.and_(page.locator('[data-step="register"]'))).to_contain_text(
        f"registered as {MODEL}:2"
    )
    expect(step.and_(page.locator('[data-step="abtest"]'))).to_contain_text("skipped")
    detail.scroll_into_view_if_needed()
    page.screenshot(path=artifacts_dir / "pipelines-light.png")
    if os.environ.get("MLOPS_UPDATE_DOCS"):  # refresh the docs' picture on request only
        page.screenshot(path=DOCS_SCREENSHOT)
    set_theme(page, "JupyterLab Dark", light=False)
    expect(run).to_have_attribute("data-state", "succeeded")
    page.screenshot(path=artifacts_dir / "pipelines-dark.png")
    set_theme(page, "JupyterLab Light", light=True)

    # Disable: Run now is off; enable again.
    switch.click()
    expect(card).to_have_attribute("data-enabled", "false")
    expect(switch).not_to_be_checked()
    expect(run_now).to_be_disabled()
    switch.click()
    expect(card).to_have_attribute("data-enabled", "true")
    expect(run_now).to_be_enabled()

    # The run's job in the Jobs list, its log open.
    show_job = steps.get_by_role("button", name="Show job")
    found = re.search(r"Show job (\S+) ", show_job.get_attribute("title") or "")
    assert found, show_job.get_attribute("title")
    job_id = found[1]
    show_job.click()
    expect(section.get_by_role("tab", name="Jobs")).to_have_attribute("aria-selected", "true")
    job = section.locator(f'.jp-mlops-JobCard[data-job="{job_id}"]')
    expect(job).to_have_attribute("data-state", "succeeded")
    expect(job.get_by_role("region", name="Log of job")).to_be_visible()

    # The registered version in the Models section: its lineage chain goes back to this run
    # and the event that started it, then on to the job.
    section.get_by_role("tab", name="Pipelines").click()
    steps.get_by_role("button", name=f"Show {MODEL} v2").click()
    models = page.locator("#jp-mlops-models")
    expect(models.locator(".jp-mlops-VersionDetail")).to_contain_text(f"{MODEL} v2")
    chain = models.get_by_role("list", name="Chain links")
    expect(chain.locator('[data-link="pipeline_run"]')).to_contain_text(run_id)
    expect(chain.locator('[data-link="trigger"]')).to_contain_text("run by hand")
    expect(chain.locator('[data-link="job"]')).to_contain_text(NOTEBOOK)
    kinds = chain.locator(".jp-mlops-ChainLink").evaluate_all(
        "items => items.map(i => i.dataset.link)"
    )
    assert kinds.index("version") < kinds.index("pipeline_run") < kinds.index("job"), kinds
    # Room for the chain: the Jobs section folded.
    page.locator("#jp-mlops-sidebar .jp-AccordionPanel-title", has_text="Jobs").click()
    chain.scroll_into_view_if_needed()
    page.screenshot(path=artifacts_dir / "pipelines-lineage-chain.png")
