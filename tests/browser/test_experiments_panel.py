"""The MLOps sidebar and the Compare tab, driven in a real JupyterLab with Debian chromium."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Locator, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.browser.conftest import LabServer, wait_until
from tests.browser.log_runs import (
    MODEL_RUN,
    PAGING_RUNS,
    SEEDS,
    SETTINGS,
    paging_run_name,
    run_name,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ALL_RUNS = [run_name(depth, seed) for depth in SETTINGS for seed in SEEDS]
DOCS = Path(__file__).parents[2] / "docs"


def rows_shown(first: int, last: int) -> str:
    """The pager's label: the first and last row shown, joined by an en dash."""
    return f"{first}\N{EN DASH}{last}"


def open_lab(page: Page, lab_server: LabServer, request: pytest.FixtureRequest) -> None:
    # One JupyterLab workspace per test: no layout restored from another test.
    page.goto(lab_server.lab_url(workspace=request.node.name.replace("_", "-")))
    expect(page.locator("#jp-main-dock-panel")).to_be_visible(timeout=60_000)
    # The splash screen covers the page until the app is restored.
    expect(page.locator("#jupyterlab-splash")).to_have_count(0, timeout=60_000)


def saved_workspace(lab_server: LabServer, name: str) -> str:
    """The JupyterLab workspace ``name`` as the server has it (its layout, as JSON text)."""
    response = httpx.get(
        f"{lab_server.url}/lab/api/workspaces/{name}",
        headers={"Authorization": f"token {lab_server.token}"},
        timeout=10,
    )
    return response.text if response.status_code == 200 else ""


def open_sidebar(page: Page, width: int = 560) -> Locator:
    """Open the MLOps sidebar and drag its edge to `width` pixels, as a user would."""
    tab = page.locator('.jp-SideBar .lm-TabBar-tab[data-id="jp-mlops-sidebar"]')
    if tab.get_attribute("aria-selected") != "true":
        tab.click()
    sidebar = page.locator("#jp-mlops-sidebar")
    expect(sidebar).to_be_visible()
    box = sidebar.bounding_box()
    assert box is not None
    edge_x, middle_y = box["x"] + box["width"] + 2, box["y"] + box["height"] / 2
    page.mouse.move(edge_x, middle_y)
    page.mouse.down()
    page.mouse.move(box["x"] + width, middle_y, steps=5)
    page.mouse.up()
    return sidebar


def run_rows(sidebar: Locator) -> Locator:
    return sidebar.locator("table.jp-mlops-RunsTable tbody tr")


def apply_filter(sidebar: Locator, text: str) -> None:
    box = sidebar.get_by_role("searchbox")
    box.fill(text)
    box.press("Enter")


def set_theme(page: Page, theme: str, light: bool) -> None:
    page.evaluate(
        "theme => window.jupyterapp.commands.execute('apputils:change-theme', { theme })", theme
    )
    expect(page.locator("body")).to_have_attribute(
        "data-jp-theme-light", "true" if light else "false"
    )
    # JupyterLab shows its splash screen while the theme's CSS loads.
    expect(page.locator("#jupyterlab-splash")).to_have_count(0, timeout=30_000)


def element_shot(element: Locator, path: Path) -> None:
    """A screenshot of one element, retried while the charts are redrawn: a toggle (Group by
    seed) fetches the figures again and replaces each chart, so the element found can be gone
    by the time it is shot (CI saw "Element is not attached to the DOM")."""
    deadline = time.monotonic() + 30
    while True:
        try:
            element.screenshot(path=path, timeout=5000)
            return
        except PlaywrightError:
            if time.monotonic() > deadline:
                raise
            element.page.wait_for_timeout(300)


def test_palette_has_the_mlops_commands(
    page: Page, lab_server: LabServer, request: pytest.FixtureRequest
) -> None:
    open_lab(page, lab_server, request)
    palette = page.locator("#command-palette")
    items = palette.locator(".lm-CommandPalette-item")
    labels = ("Open MLOps sidebar", "Refresh experiments", "Compare selected runs")

    def opened_from_the_palette() -> bool:
        """Open the palette, see the MLOps commands, run "Open MLOps sidebar". Retried whole,
        as in the features test: while the lab settles the palette can close on its own (CI
        saw it close between listing the commands and the second fill)."""
        try:
            if not palette.is_visible():
                page.keyboard.press("Control+Shift+C")
                expect(palette).to_be_visible(timeout=5000)
            palette.locator("input").fill("MLOps", timeout=2000)
            if not all(items.filter(has_text=label).count() == 1 for label in labels):
                return False
            palette.locator("input").fill("Open MLOps sidebar", timeout=2000)
            palette.locator("input").press("Enter", timeout=2000)
            expect(page.locator("#jp-mlops-sidebar")).to_be_visible(timeout=5000)
        except (AssertionError, PlaywrightTimeout):
            return False
        return True

    deadline = time.monotonic() + 90
    while not opened_from_the_palette():
        assert time.monotonic() < deadline, "the palette never opened the MLOps sidebar"
        page.wait_for_timeout(500)
    expect(run_rows(page.locator("#jp-mlops-sidebar"))).to_have_count(len(ALL_RUNS))


def test_paging_keeps_the_selection(
    page: Page, lab_server: LabServer, request: pytest.FixtureRequest
) -> None:
    open_lab(page, lab_server, request)
    sidebar = open_sidebar(page)
    sidebar.get_by_role("option", name="paging").click()
    rows = run_rows(sidebar)
    pager = sidebar.locator(".jp-mlops-Pager-label")
    next_page = sidebar.get_by_role("button", name="Next")
    previous_page = sidebar.get_by_role("button", name="Previous")
    compare = sidebar.get_by_role("button", name="Compare (")

    # Newest first: the last run logged heads page one.
    expect(pager).to_have_text(rows_shown(1, 50))
    expect(rows).to_have_count(50)
    expect(rows.first).to_contain_text(paging_run_name(PAGING_RUNS - 1))
    expect(previous_page).to_be_disabled()
    sidebar.get_by_role("checkbox", name=f"Select run {paging_run_name(PAGING_RUNS - 1)}").check()

    next_page.click()
    expect(pager).to_have_text(rows_shown(51, 100))
    expect(rows.first).to_contain_text(paging_run_name(PAGING_RUNS - 51))
    sidebar.get_by_role("checkbox", name=f"Select run {paging_run_name(PAGING_RUNS - 51)}").check()
    expect(compare).to_have_text("Compare (2)")

    next_page.click()
    expect(pager).to_have_text(rows_shown(101, PAGING_RUNS))
    expect(rows).to_have_count(PAGING_RUNS - 100)
    expect(next_page).to_be_disabled()

    previous_page.click()
    expect(pager).to_have_text(rows_shown(51, 100))
    previous_page.click()
    expect(pager).to_have_text(rows_shown(1, 50))
    expect(
        sidebar.get_by_role("checkbox", name=f"Select run {paging_run_name(PAGING_RUNS - 1)}")
    ).to_be_checked()
    expect(compare).to_be_enabled()

    # A new sort starts again from page one, on the server's order.
    sidebar.get_by_role("button", name="score").click()
    expect(sidebar.locator('th[aria-sort="descending"]')).to_contain_text("score")
    expect(pager).to_have_text(rows_shown(1, 50))
    sidebar.get_by_role("button", name="score").click()
    expect(sidebar.locator('th[aria-sort="ascending"]')).to_contain_text("score")
    expect(rows.first).to_contain_text(paging_run_name(0))


def test_experiments_compare_light_and_dark(
    page: Page, lab_server: LabServer, artifacts_dir: Path, request: pytest.FixtureRequest
) -> None:
    open_lab(page, lab_server, request)
    sidebar = open_sidebar(page)

    # The experiment and every run logged by the fixture.
    sidebar.get_by_role("option", name="churn").click()
    expect(sidebar.get_by_role("option", name="churn")).to_have_attribute("aria-selected", "true")
    rows = run_rows(sidebar)
    expect(rows).to_have_count(len(ALL_RUNS))
    for name in ALL_RUNS:
        expect(rows.filter(has_text=name)).to_have_count(1)
    expect(sidebar.locator("thead")).to_contain_text("accuracy")
    expect(sidebar.locator("thead")).to_contain_text("max_depth")

    # Sorting by a metric is done by the server: best accuracy first.
    sidebar.get_by_role("button", name="accuracy").click()
    expect(rows.first).to_contain_text(run_name(SETTINGS[-1], SEEDS[-1]))
    expect(sidebar.locator('th[aria-sort="descending"]')).to_contain_text("accuracy")

    # A filter narrows the rows; a bad one is explained under the box, rows untouched.
    apply_filter(sidebar, f"params.max_depth = '{SETTINGS[0]}'")
    expect(rows).to_have_count(len(SEEDS))
    apply_filter(sidebar, "metrics.accuracy >>> 0.5")
    error = sidebar.locator(".jp-mlops-FilterBox-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("Invalid filter")
    expect(rows).to_have_count(len(SEEDS))
    apply_filter(sidebar, "")
    expect(error).to_have_count(0)
    expect(rows).to_have_count(len(ALL_RUNS))

    # Compare is enabled from two selected runs on.
    compare = sidebar.get_by_role("button", name="Compare (")
    expect(compare).to_be_disabled()
    sidebar.get_by_role("checkbox", name=f"Select run {ALL_RUNS[0]}").check()
    expect(compare).to_be_disabled()
    sidebar.get_by_role("checkbox", name="Select all runs on this page").check()
    expect(compare).to_have_text(f"Compare ({len(ALL_RUNS)})")
    expect(compare).to_be_enabled()
    page.screenshot(path=artifacts_dir / "sidebar-light.png")

    compare.click()
    # The first comparison also loads the server's statistics and plotting modules.
    first_load = 60_000
    tab = page.locator(".jp-mlops-CompareTab")
    expect(page.get_by_role("tab", name=f"Compare {len(ALL_RUNS)} runs")).to_have_attribute(
        "aria-selected", "true"
    )
    table = tab.locator("table.jp-mlops-CompareTable").first
    expect(table).to_be_visible(timeout=first_load)
    for name in ALL_RUNS:
        expect(table.locator("thead")).to_contain_text(name)
    expect(table.locator("tr.jp-mod-differs").filter(has_text="max_depth")).to_have_count(1)
    expect(table.locator("tr:not(.jp-mod-differs)").filter(has_text="n_estimators")).to_have_count(
        1
    )
    # The server-made figures are drawn by the installed plotly renderer.
    expect(tab.locator(".jp-mlops-Chart .js-plotly-plot")).to_have_count(3, timeout=first_load)
    expect(tab.locator('[data-chart="history"] .js-plotly-plot')).to_be_visible()
    expect(tab.locator('[data-chart="parallel"] .js-plotly-plot')).to_be_visible()

    # Differences only drops the rows that are equal everywhere.
    tab.get_by_label("Differences only").check()
    expect(table.locator("tbody").filter(has_text="n_estimators")).to_have_count(0)
    tab.get_by_label("Differences only").uncheck()
    expect(table.locator("tbody")).to_contain_text("n_estimators")

    # Grouped by seed: one row per max_depth, mean ± 95% CI.
    tab.get_by_label("Group by seed").check()
    groups = tab.locator("table.jp-mlops-GroupsTable")
    expect(groups).to_be_visible()
    expect(groups.locator("tbody tr")).to_have_count(len(SETTINGS))
    expect(groups).to_contain_text("±")
    expect(tab.locator(".jp-mlops-Chart .js-plotly-plot")).to_have_count(3, timeout=60_000)
    page.screenshot(path=artifacts_dir / "compare-light.png")
    element_shot(tab.locator('[data-chart="parallel"]'), artifacts_dir / "parallel-light.png")

    set_theme(page, "JupyterLab Dark", light=False)
    expect(tab.locator(".jp-mlops-Chart .js-plotly-plot")).to_have_count(3, timeout=60_000)
    tab.locator(".jp-mlops-Compare").evaluate("node => node.scrollTo(0, 0)")
    page.screenshot(path=artifacts_dir / "compare-dark.png")
    element_shot(tab.locator('[data-chart="parallel"]'), artifacts_dir / "parallel-dark.png")
    expect(sidebar).to_be_visible()
    apply_filter(sidebar, "metrics.accuracy >>> 0.5")
    expect(error).to_be_visible()
    page.screenshot(path=artifacts_dir / "sidebar-dark.png")
    set_theme(page, "JupyterLab Light", light=True)


# Marks, in the page's own clock, the next click and when each selector first matches.
WATCH_JS = """marks => {
  const seen = {};
  window.__mlopsTimes = seen;
  document.addEventListener('click', () => { seen.click ??= performance.now(); },
                            { capture: true, once: true });
  const look = () => {
    for (const [name, selector] of Object.entries(marks)) {
      if (seen[name] === undefined && document.querySelector(selector)) {
        seen[name] = performance.now();
      }
    }
    if (Object.keys(marks).every(name => seen[name] !== undefined)) {
      observer.disconnect();
    }
  };
  const observer = new MutationObserver(look);
  observer.observe(document.body, { childList: true, subtree: true, attributes: true });
}"""


def watch(page: Page, **marks: str) -> None:
    """Start timing: the next click, then the first moment each CSS selector matches."""
    page.evaluate(WATCH_JS, marks)


def since_click(page: Page) -> dict[str, float]:
    """Milliseconds from the click to each watched selector's first match."""
    seen: dict[str, float] = page.evaluate("() => window.__mlopsTimes")
    return {k: round(v - seen["click"]) for k, v in seen.items() if k != "click"}


def header_columns(table: Locator) -> list[str]:
    return [c for c in table.locator("thead th[data-column]").evaluate_all(
        "ths => ths.map(th => th.dataset.column)"
    ) if c.startswith(("params.", "metrics."))]  # fmt: skip


def test_runs_tab_run_page_and_compare(
    page: Page, lab_server: LabServer, request: pytest.FixtureRequest
) -> None:
    """The runs tab with the declared columns; a column choice that outlives a reload; a row
    opening its run's page; a comparison whose table comes before its charts."""
    page.set_viewport_size({"width": 1600, "height": 1000})
    open_lab(page, lab_server, request)
    sidebar = open_sidebar(page, width=320)
    sidebar.get_by_role("option", name="churn").click()
    # The narrow sidebar: run names and the first two chosen columns.
    expect(run_rows(sidebar)).to_have_count(len(ALL_RUNS))
    assert header_columns(sidebar.locator("table.jp-mlops-RunsTable")) == [
        "params.max_depth", "metrics.accuracy",
    ]  # fmt: skip

    watch(page, table=".jp-mlops-RunsTab table.jp-mlops-RunsTable tbody tr")
    sidebar.get_by_role("button", name="Open runs table").click()
    tab = page.locator(".jp-mlops-RunsTab")
    table = tab.locator("table.jp-mlops-RunsTable")
    expect(table.locator("tbody tr")).to_have_count(len(ALL_RUNS))
    times = {"runs tab": since_click(page)["table"]}
    # The runs declared max_depth and accuracy: those, not the alphabet's first eight.
    expect(table.locator('thead th[data-column="metrics.accuracy"]')).to_be_visible()
    assert header_columns(table) == ["params.max_depth", "metrics.accuracy"]

    # Show random_state, move it before accuracy, pin accuracy: pinned first, then the order.
    tab.get_by_role("button", name="Columns…").click()
    chooser = tab.get_by_role("dialog", name="Choose columns")
    chooser.get_by_label("Show params.random_state").check()
    chooser.get_by_role("button", name="Move params.random_state up").click()
    chooser.get_by_role("button", name="Move params.random_state up").click()
    chooser.get_by_role("button", name="Pin metrics.accuracy").click()
    chooser.get_by_role("button", name="Apply").click()
    expect(chooser).to_have_count(0)
    chosen = ["metrics.accuracy", "params.max_depth", "params.random_state"]
    expect(table.locator("thead th.jp-mod-pinned")).to_have_attribute(
        "data-column", "metrics.accuracy"
    )
    assert header_columns(table) == chosen

    # Remembered by the server: a reload (a fresh model) shows the same columns. JupyterLab
    # restores the tab from the workspace it saves on the server after a layout change: wait
    # for that save (CI once reloaded before it and found no runs tab).
    workspace = request.node.name.replace("_", "-")
    wait_until(
        lambda: "mlops-runs:" in saved_workspace(lab_server, workspace),
        30,
        "the runs tab in the saved JupyterLab workspace",
    )
    page.reload()
    expect(page.locator("#jupyterlab-splash")).to_have_count(0, timeout=60_000)
    tab = page.locator(".jp-mlops-RunsTab")
    tab.get_by_label("Experiment").select_option(label="churn")
    table = tab.locator("table.jp-mlops-RunsTable")
    expect(table.locator("tbody tr")).to_have_count(len(ALL_RUNS))
    expect(table.locator("thead th[data-column]").last).to_have_attribute(
        "data-column", "params.random_state"
    )
    assert header_columns(table) == chosen
    page.screenshot(path=DOCS / "runs-tab.png")

    # A click on a row opens its run's page; the checkbox only selects.
    tab.get_by_role("checkbox", name=f"Select run {ALL_RUNS[0]}").check()
    expect(page.locator(".jp-mlops-RunPage")).to_have_count(0)
    watch(page, run_page='.jp-mlops-RunPage [data-section="models"]')
    table.locator("tbody tr").filter(has_text=MODEL_RUN).locator("td").nth(2).click()
    run_page = page.locator(".jp-mlops-RunPage")
    expect(run_page.locator('[data-section="models"]')).to_contain_text("sklearn")
    times["run page"] = since_click(page)["run_page"]
    expect(page.get_by_role("tab", name=f"Run {MODEL_RUN}")).to_have_attribute(
        "aria-selected", "true"
    )
    expect(run_page.get_by_role("table", name="Parameters")).to_contain_text("max_depth")
    expect(run_page.get_by_role("table", name="Metrics")).to_contain_text("0.9")
    # Only a metric with steps has a history line.
    expect(run_page.locator('[data-metric="loss"] svg.jp-mlops-Sparkline')).to_be_visible()
    expect(run_page.locator('[data-metric="accuracy"] svg')).to_have_count(0)
    expect(run_page.locator('[data-section="models"]')).to_contain_text("not registered")
    page.screenshot(path=DOCS / "run-page.png")

    # Compare three runs: the table is drawn before any chart; no chart is an empty box.
    page.get_by_role("tab", name="Runs: churn").click()
    for name in (ALL_RUNS[1], ALL_RUNS[3]):
        tab.get_by_role("checkbox", name=f"Select run {name}").check()
    watch(
        page,
        table=".jp-mlops-CompareTab table.jp-mlops-CompareTable",
        chart=".jp-mlops-CompareTab .jp-mlops-Chart",
        plot=".jp-mlops-CompareTab .jp-mlops-Chart .js-plotly-plot",
    )
    tab.get_by_role("button", name="Compare (3)").click()
    compare = page.locator(".jp-mlops-CompareTab")
    expect(compare.locator("table.jp-mlops-CompareTable").first).to_be_visible(timeout=60_000)
    expect(compare.locator(".jp-mlops-Chart .js-plotly-plot")).to_have_count(3, timeout=60_000)
    compare_times = since_click(page)
    assert compare_times["table"] <= compare_times["chart"], compare_times
    expect(compare.locator('[data-chart="bars"] .js-plotly-plot')).to_be_visible()
    expect(compare.locator(".jp-mlops-Chart:not(:has(.js-plotly-plot))")).to_have_count(0)
    times["compare table"] = compare_times["table"]
    times["compare first chart"] = compare_times["plot"]
    page.screenshot(path=DOCS / "compare.png")
    # A run's name in the comparison opens its page.
    compare.get_by_role("button", name=ALL_RUNS[1]).click()
    expect(page.get_by_role("tab", name=f"Run {ALL_RUNS[1]}")).to_have_attribute(
        "aria-selected", "true"
    )
    print(f"\nclick-to-content (ms): {times}")
