"""The Jobs section, in a real JupyterLab: the form made from the active notebook's
``parameters`` cell submits it with a changed parameter, real detached workers run it with
papermill, the card follows it to ``succeeded`` with its progress bar, the executed notebook
opens, and a failed job shows the cell it stopped at."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import nbformat
import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import LabServer
from tests.browser.test_experiments_panel import open_lab, open_sidebar, set_theme

pytestmark = [pytest.mark.browser, pytest.mark.slow]

HERE = Path(__file__).parent
REPO = HERE.parent.parent
DOCS_SCREENSHOT = REPO / "docs" / "jobs-panel.png"
FOLDER = "jobs-demo"
TRAIN = f"{FOLDER}/train.ipynb"
BROKEN = f"{FOLDER}/broken.ipynb"
# A first job waits for a worker to import papermill and MLflow and start a kernel.
JOB_TIMEOUT_MS = 180_000


def write_notebook(path: Path, parameters: str, *cells: str) -> None:
    """A notebook whose first cell, tagged ``parameters``, is ``parameters``."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [
        nbformat.v4.new_code_cell(parameters, metadata={"tags": ["parameters"]}),
        *(nbformat.v4.new_code_cell(c) for c in cells),
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


def stop_job_workers(workspace: Path) -> None:
    """Stop the workspace's job workers (detached processes the lab's server started), in a
    subprocess so that the workspace's services stay out of pytest."""
    code = (
        "import sys\n"
        "from jupyter_mlops import Workspace\n"
        "state = Workspace.open(sys.argv[1]).jobs.stop_workers()\n"
        "print(','.join(state.alive))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(workspace)],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert not done.stdout.strip(), f"job workers still running: {done.stdout}"


@pytest.fixture(scope="module")
def notebooks(lab_server: LabServer) -> Iterator[LabServer]:
    """Two notebooks in the shared workspace: one that trains, one that fails in its third
    cell. The job workers are stopped at the end."""
    root = lab_server.workspace
    write_notebook(
        root / TRAIN,
        "alpha = 0.5\nepochs = 3\nname = 'base'\nverbose = False",
        "import math",
        "loss = [math.exp(-alpha * e) for e in range(epochs)]",
        "print(f'alpha={alpha} epochs={epochs} name={name} verbose={verbose}')",
        "loss[-1]",
    )
    write_notebook(root / BROKEN, "divisor = 0", "x = 1", "ratio = x / divisor", "print(ratio)")
    try:
        yield lab_server
    finally:
        stop_job_workers(root)


def jobs_section(page: Page, width: int) -> Locator:
    """The Jobs section, the other sections folded so it has the room."""
    sidebar = open_sidebar(page, width=width)
    for label in ("Experiments", "Features", "Models", "Monitoring"):
        title = sidebar.locator(".jp-AccordionPanel-title", has_text=label)
        if title.get_attribute("aria-expanded") == "true":
            title.click()
    title = sidebar.locator(".jp-AccordionPanel-title", has_text="Jobs")
    if title.get_attribute("aria-expanded") != "true":
        title.click()
    section = page.locator("#jp-mlops-jobs")
    expect(section).to_be_visible()
    return section


def open_notebook(page: Page, path: str) -> None:
    page.evaluate("path => window.jupyterapp.commands.execute('docmanager:open', { path })", path)
    name = path.rsplit("/", 1)[-1]
    expect(page.locator("#jp-main-dock-panel .lm-TabBar-tab.lm-mod-current")).to_contain_text(name)


def test_submit_follow_open_and_see_a_failure(
    page: Page,
    notebooks: LabServer,
    artifacts_dir: Path,
    request: pytest.FixtureRequest,
) -> None:
    lab = notebooks
    # A job that fails, submitted through the REST API while the other is set up in the page.
    with httpx.Client(
        base_url=f"{lab.url}/mlops/api/", headers={"Authorization": f"token {lab.token}"}
    ) as client:
        response = client.post("jobs", json={"notebook": BROKEN}, timeout=60)
        assert response.status_code == 201, response.text
        broken_id = response.json()["id"]

    page.set_viewport_size({"width": 1200, "height": 900})
    open_lab(page, lab, request)
    open_notebook(page, TRAIN)
    section = jobs_section(page, width=300)

    # The form of the active notebook: one input per parameter, typed, with its default.
    form = section.get_by_role("form", name="Run a notebook as a job")
    expect(form.locator(".jp-mlops-JobForm-notebook")).to_have_text("train.ipynb")
    field = form.locator(".jp-mlops-JobField")
    expect(field).to_have_count(4)
    alpha = form.locator('[data-parameter="alpha"] input')
    epochs = form.locator('[data-parameter="epochs"] input')
    name = form.locator('[data-parameter="name"] input')
    verbose = form.locator('[data-parameter="verbose"] input')
    expect(alpha).to_have_attribute("type", "number")
    expect(alpha).to_have_value("0.5")
    expect(epochs).to_have_attribute("type", "number")
    expect(epochs).to_have_value("3")
    expect(name).to_have_attribute("type", "text")
    expect(name).to_have_value("base")
    expect(verbose).to_have_attribute("type", "checkbox")
    expect(verbose).not_to_be_checked()

    # A value of the wrong type is caught in the form.
    epochs.fill("2.5")
    form.get_by_role("button", name="Submit").click()
    expect(form.locator('[data-parameter="epochs"] .jp-mlops-JobField-error')).to_contain_text(
        "whole number"
    )

    epochs.fill("5")
    name.fill("browser")
    verbose.check()
    form.get_by_role("button", name="Submit").click()
    expect(form.locator(".jp-mlops-JobForm-status")).to_contain_text("Queued job")

    cards = section.locator(".jp-mlops-JobCard")
    card = cards.filter(has_text="train.ipynb").first
    expect(card).to_be_visible()
    expect(card.locator(".jp-mlops-JobCard-params")).to_contain_text("epochs=5")
    expect(card.locator(".jp-mlops-JobCard-params")).to_contain_text("name=browser")
    expect(card).to_have_attribute("data-state", "succeeded", timeout=JOB_TIMEOUT_MS)
    progress = card.get_by_role("progressbar")
    total = progress.get_attribute("aria-valuemax")
    assert total == "5", total  # the notebook's own cells: not the ones papermill and we add
    expect(progress).to_have_attribute("aria-valuenow", total)
    expect(card.locator('[data-figure="cells"]')).to_have_text(f"{total}/{total} cells")
    expect(card.get_by_role("button", name="Cancel")).to_have_count(0)

    # The failed job: the cell it stopped at, its exception and its source.
    failed = section.locator(f'.jp-mlops-JobCard[data-job="{broken_id}"]')
    expect(failed).to_have_attribute("data-state", "failed", timeout=JOB_TIMEOUT_MS)
    error = failed.locator(".jp-mlops-JobError")
    expect(error.locator(".jp-mlops-JobError-ename")).to_have_text("ZeroDivisionError")
    expect(error).to_contain_text("division by zero")
    expect(error.locator(".jp-mlops-JobError-source")).to_have_text("ratio = x / divisor")

    card.scroll_into_view_if_needed()
    page.screenshot(path=artifacts_dir / "jobs-light.png")
    if os.environ.get("MLOPS_UPDATE_DOCS"):  # refresh the docs' picture on request only
        page.screenshot(path=DOCS_SCREENSHOT)
    set_theme(page, "JupyterLab Dark", light=False)
    expect(card).to_have_attribute("data-state", "succeeded")
    page.screenshot(path=artifacts_dir / "jobs-dark.png")
    set_theme(page, "JupyterLab Light", light=True)

    # Re-run fills the form with the job's parameters.
    card.get_by_role("button", name="Re-run").click()
    expect(form.locator(".jp-mlops-JobForm-title")).to_contain_text("Re-run")
    expect(epochs).to_have_value("5")
    expect(name).to_have_value("browser")
    expect(verbose).to_be_checked()
    form.get_by_role("button", name="Close").click()
    expect(form.locator(".jp-mlops-JobForm-title")).to_have_text("Submit current notebook")
    expect(epochs).to_have_value("3")

    # The executed notebook opens in JupyterLab, with what the job printed.
    card.get_by_role("button", name="Open").click()
    current = page.locator("#jp-main-dock-panel .lm-TabBar-tab.lm-mod-current")
    expect(current).to_contain_text("train-")
    executed = page.locator(".jp-NotebookPanel:visible")
    expect(executed.locator(".jp-OutputArea-output").filter(has_text="epochs=5")).to_contain_text(
        "alpha=0.5 epochs=5 name=browser verbose=True"
    )
