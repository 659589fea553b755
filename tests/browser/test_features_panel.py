"""The Features section, a "Feature view" tab and "Insert code", in a real JupyterLab."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.browser.conftest import LabServer
from tests.browser.features_setup import (
    PRODUCT_VIEW,
    SPEND_VERSIONS,
    SPEND_VIEW,
    TICKED,
    USAGE_RUN,
)
from tests.browser.test_experiments_panel import open_lab, open_sidebar, set_theme

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def features_lab(browser_features: Path, lab_server: LabServer) -> LabServer:
    """The lab, with the feature views built in its workspace."""
    return lab_server


def features_section(page: Page) -> Locator:
    section = page.locator("#jp-mlops-features")
    expect(section).to_be_visible()
    return section


def view_items(section: Locator) -> Locator:
    return section.get_by_role("listbox", name="Feature views").get_by_role("option")


def open_view(page: Page, section: Locator, name: str) -> Locator:
    view_items(section).filter(has_text=name).click()
    tab = page.locator(".jp-mlops-FeatureViewTab:visible")
    expect(page.get_by_role("tab", name=name)).to_have_attribute("aria-selected", "true")
    return tab


def new_notebook(page: Page) -> Locator:
    # Awaited inside the page: the command resolves to the panel, which cannot be serialised.
    page.evaluate(
        "async () => { await window.jupyterapp.commands.execute("
        "'notebook:create-new', {kernelName: 'python3'}); }"
    )
    notebook = page.locator(".jp-NotebookPanel:visible")
    expect(notebook.locator(".jp-CodeCell")).to_have_count(1)
    return notebook


def test_palette_has_the_feature_commands(
    page: Page, features_lab: LabServer, artifacts_dir: Path, request: pytest.FixtureRequest
) -> None:
    open_lab(page, features_lab, request)
    palette = page.locator("#command-palette")
    items = palette.locator(".lm-CommandPalette-item")
    labels = ("Open feature views", "Insert training-frame code")

    search = page.locator("#jp-mlops-features").get_by_role("textbox", name="Search feature views")

    # The launcher is the main area's current widget: the palette hands it the focus back once
    # a command returns, and the search box must keep the keyboard all the same.
    expect(page.locator(".jp-Launcher")).to_be_visible()

    def ran_from_the_palette() -> bool:
        """Open the palette, filter it on MLOps, see both commands and click "Open feature views".
        Retried whole: right after start-up the palette can open before every plugin added its
        commands (it re-filters only when its input changes), and while the lab settles it can
        close on its own."""
        try:
            if not palette.is_visible():
                page.keyboard.press("Control+Shift+C")
                expect(palette).to_be_visible(timeout=5000)
            palette.locator("input").fill("", timeout=2000)
            palette.locator("input").fill("MLOps", timeout=2000)
            if not all(items.filter(has_text=label).count() == 1 for label in labels):
                return False
            page.screenshot(path=artifacts_dir / "palette-features.png")
            items.filter(has_text="Open feature views").click(timeout=2000)
        except (AssertionError, PlaywrightTimeout):
            return False
        return True

    deadline = time.monotonic() + 90
    while not ran_from_the_palette():
        assert time.monotonic() < deadline, "the palette never ran 'Open feature views'"
        page.wait_for_timeout(500)
    expect(search).to_be_focused()
    page.wait_for_timeout(1000)
    expect(search).to_be_focused(timeout=1)
    section = features_section(page)
    expect(view_items(section)).to_have_count(2)
    # At the sidebar's default width, badges and names stay readable.
    expect(section.locator(".jp-mlops-Badge--stale")).to_be_visible()
    page.screenshot(path=artifacts_dir / "features-sidebar-narrow-light.png")


def test_feature_view_and_insert_code_light_and_dark(
    page: Page,
    features_lab: LabServer,
    artifacts_dir: Path,
    request: pytest.FixtureRequest,
) -> None:
    open_lab(page, features_lab, request)
    open_sidebar(page)
    section = features_section(page)

    # Both views, newest version and freshness; the search narrows them (server side).
    items = view_items(section)
    expect(items).to_have_count(2)
    spend = items.filter(has_text=SPEND_VIEW)
    expect(spend).to_contain_text(f"v{SPEND_VERSIONS}")
    expect(spend.locator(".jp-mlops-Badge--stale")).to_have_text("STALE")
    expect(items.filter(has_text=PRODUCT_VIEW).locator(".jp-mlops-Badge--fresh")).to_be_visible()
    search = section.get_by_role("textbox", name="Search feature views")
    search.fill("popularity")
    expect(items).to_have_count(1)
    expect(items.first).to_contain_text(PRODUCT_VIEW)
    search.fill("no-such-view")
    expect(section.locator(".jp-mlops-Empty")).to_contain_text("No feature view matches")
    search.fill("")
    expect(items).to_have_count(2)

    # Without a notebook, Insert code says so and copies the code.
    tab = open_view(page, section, SPEND_VIEW)
    schema = tab.get_by_role("table", name="Schema")
    rows = schema.locator("tbody tr")
    expect(rows).to_have_count(4)
    for name in ("orders", "avg_spend", "segment", "is_vip"):
        expect(rows.filter(has_text=name)).to_have_count(1)
    # Statistics: a tenth of avg_spend is missing; segment's most frequent values.
    expect(rows.filter(has_text="avg_spend")).to_contain_text("10%")
    expect(rows.filter(has_text="segment")).to_contain_text("active")
    expect(rows.filter(has_text="orders").locator("td").nth(4)).to_have_text("6")  # max
    # Definition and freshness: entity, join key, TTL, a clear STALE marker.
    definition = tab.get_by_role("region", name="Definition")
    expect(definition).to_contain_text("customer_id")
    expect(definition).to_contain_text("45d")
    freshness = tab.get_by_role("region", name="Freshness")
    expect(freshness.locator(".jp-mlops-Badge--stale")).to_have_text("STALE")
    expect(freshness).to_contain_text("past the TTL of 45d")
    expect(freshness).to_contain_text("2026-01-20")  # the last event
    # Versions, and the diff of the latest against the one before.
    versions = tab.get_by_role("table", name="Versions")
    expect(versions.locator("tbody tr")).to_have_count(SPEND_VERSIONS)
    diff = tab.get_by_label("Changes from v1 to v2")
    expect(diff).to_contain_text("+ feature is_vip: bool")
    expect(diff).to_contain_text("~ ttl: 30d -> 45d")
    # Usage per version: the run that built a training frame from v2; none for v1.
    usage = tab.get_by_role("region", name="Usage")
    expect(usage.locator(".jp-mlops-Usage-version").first).to_contain_text(USAGE_RUN)
    expect(usage.locator(".jp-mlops-Usage-version").last).to_contain_text("No runs yet")

    tab.get_by_label(f"Tick feature {TICKED[0]}").check()
    insert_bar = tab.locator(".jp-mlops-InsertBar")
    insert_bar.get_by_role("button", name="Insert code").click()
    expect(insert_bar.locator(".jp-mlops-InsertBar-outcome")).to_contain_text("No notebook is open")
    expect(insert_bar.locator(".jp-mlops-InsertBar-code")).to_contain_text("get_training_frame")
    page.screenshot(path=artifacts_dir / "feature-view-light.png")

    # With a notebook: tick a second feature, insert below the active cell.
    notebook = new_notebook(page)
    page.get_by_role("tab", name=SPEND_VIEW).click()
    tab.get_by_label(f"Tick feature {TICKED[1]}").check()
    expect(section.locator(".jp-mlops-InsertBar-count")).to_have_text("2 features ticked")
    insert_bar.get_by_role("button", name="Insert code").click()
    cells = notebook.locator(".jp-CodeCell")
    expect(cells).to_have_count(2)
    expect(notebook).to_be_visible()
    inserted = cells.nth(1)
    expect(inserted).to_contain_text("get_training_frame")
    for name in TICKED:
        expect(inserted).to_contain_text(f"{SPEND_VIEW}:v{SPEND_VERSIONS}:{name}")
    expect(inserted).to_have_class(re.compile(r"\bjp-mod-active\b"))
    page.screenshot(path=artifacts_dir / "insert-code-light.png")

    # An older version: its page, and its features pinned to it.
    page.get_by_role("tab", name=SPEND_VIEW).click()
    versions.get_by_role("button", name="v1").click()
    expect(tab.locator(".jp-mlops-FeatureView-version")).to_have_text("v1")
    expect(rows).to_have_count(3)
    expect(tab.get_by_role("region", name="Definition")).to_contain_text("30d")
    tab.get_by_label("Diff from version").select_option("2")
    tab.get_by_label("Diff to version").select_option("1")
    expect(tab.get_by_label("Changes from v2 to v1")).to_contain_text("- feature is_vip: bool")
    versions.get_by_role("button", name=f"v{SPEND_VERSIONS}").click()
    expect(rows).to_have_count(4)

    set_theme(page, "JupyterLab Dark", light=False)
    expect(tab.get_by_role("table", name="Schema")).to_be_visible()
    page.screenshot(path=artifacts_dir / "feature-view-dark.png")
    open_view(page, section, PRODUCT_VIEW)
    fresh = page.locator(".jp-mlops-FeatureViewTab:visible").get_by_role("region", name="Freshness")
    expect(fresh.locator(".jp-mlops-Badge--fresh")).to_have_text("FRESH")
    page.screenshot(path=artifacts_dir / "feature-view-fresh-dark.png")
    set_theme(page, "JupyterLab Light", light=True)
