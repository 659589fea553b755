"""Fixtures of the real-browser tests: a workspace with runs, a real JupyterLab, Debian chromium.

Each piece is a small fixture a test module can override (the runs logged, the lab's extra
arguments, the browser's launch options).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from jupyter_core.paths import jupyter_path
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright

HERE = Path(__file__).parent
ARTIFACTS = HERE / "artifacts"
CHROMIUM = Path(os.environ.get("MLOPS_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SERVER_START_TIMEOUT = 90.0
# A fresh server's first MLflow query imports MLflow and opens the database: seconds on 2 cores.
expect.set_options(timeout=20_000)


@dataclass(frozen=True)
class LabServer:
    """A running JupyterLab: where it is and how to get in."""

    url: str
    token: str
    workspace: Path
    log: Path

    def lab_url(self, workspace: str | None = None) -> str:
        """The lab page; a named JupyterLab workspace starts from the default layout."""
        path = f"/lab/workspaces/{workspace}" if workspace else "/lab"
        return f"{self.url}{path}?token={self.token}"


def wait_until(
    condition: Callable[[], bool], timeout: float, what: str, interval: float = 0.2
) -> None:
    """Poll `condition` until it holds; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _labextension_installed(name: str = "jupyter-mlops") -> bool:
    return any(
        (Path(root) / name / "package.json").exists() for root in jupyter_path("labextensions")
    )


# pytest-jupyter (loaded by tests/conftest.py) adds two autouse fixtures that close the thread's
# current event loop after each test; under playwright's sync API that loop is playwright's own and
# is running, so closing it fails. Browser tests start no in-process server: give them a private
# loop and nothing to clean up.
@pytest.fixture(autouse=True)
def jp_asyncio_loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@pytest.fixture(autouse=True)
def jp_server_cleanup() -> None:
    return None


@pytest.fixture(scope="package")
def browser_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace made by `jupyter-mlops init`; override to use another."""
    workspace = tmp_path_factory.mktemp("browser") / "ws"
    cli = shutil.which("jupyter-mlops")
    assert cli is not None, "the jupyter-mlops command is not installed (pip install -e .)"
    subprocess.run([cli, "init", str(workspace)], check=True, capture_output=True, text=True)
    return workspace


@pytest.fixture(scope="package")
def browser_runs(browser_workspace: Path) -> Path:
    """Log the runs of `log_runs.py` with plain MLflow, in a subprocess (MLflow state and
    warnings stay out of pytest); return the workspace."""
    subprocess.run(
        [sys.executable, str(HERE / "log_runs.py"), str(browser_workspace)],
        check=True,
        capture_output=True,
        text=True,
        cwd=browser_workspace,
    )
    return browser_workspace


@pytest.fixture(scope="package")
def browser_features(browser_workspace: Path) -> Path:
    """Build the feature views of `features_setup.py` in the same workspace (two views, one with
    two versions, data ingested, one tracked run using them), in a subprocess; return the
    workspace. Package-scoped like the workspace it writes to; the server reads feature views on
    each request, so a test may ask for it after the lab has started."""
    subprocess.run(
        [sys.executable, str(HERE / "features_setup.py"), str(browser_workspace)],
        check=True,
        capture_output=True,
        text=True,
        cwd=browser_workspace,
    )
    return browser_workspace


@pytest.fixture(scope="package")
def lab_extra_args() -> list[str]:
    """Extra command-line arguments of the JupyterLab under test."""
    return []


@pytest.fixture(scope="package")
def lab_server(
    browser_runs: Path, lab_extra_args: list[str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LabServer]:
    """A real `jupyter lab` in the workspace, up until the session ends."""
    if not _labextension_installed():
        pytest.fail(
            "the jupyter-mlops lab extension is not installed: "
            "run `pip install -e .` (or `cd labextension && jlpm build` and link it)"
        )
    state = tmp_path_factory.mktemp("lab-state")
    settings = state / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    # Never ask about (nor fetch) the Jupyter news feed: no network, no toast over screenshots.
    (settings / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    port = free_port()
    token = secrets.token_hex(16)
    log = state / "jupyter-lab.log"
    env = {
        **os.environ,
        "MLOPS_WORKSPACE": str(browser_runs),
        # A lab of its own: no user settings, workspaces or runtime files of the developer.
        "JUPYTER_CONFIG_DIR": str(state / "config"),
        "JUPYTER_RUNTIME_DIR": str(state / "runtime"),
    }
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--allow-root",
        "--no-browser",
        "--ServerApp.open_browser=False",
        f"--ServerApp.token={token}",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--ServerApp.root_dir={browser_runs}",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        # Lets the test switch the theme through the app's command registry.
        "--LabApp.expose_app_in_browser=True",
        f"--LabApp.workspaces_dir={state / 'workspaces'}",
        f"--LabApp.user_settings_dir={state / 'settings'}",
        *lab_extra_args,
    ]
    url = f"http://127.0.0.1:{port}"
    with log.open("w") as out:
        process = subprocess.Popen(
            command, cwd=browser_runs, env=env, stdout=out, stderr=subprocess.STDOUT
        )
        try:

            def up() -> bool:
                if process.poll() is not None:
                    raise RuntimeError(
                        f"jupyter lab exited with {process.returncode}:\n{log.read_text()}"
                    )
                try:
                    with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2) as r:
                        return bool(r.status == 200)
                except (urllib.error.URLError, ConnectionError, TimeoutError):
                    return False

            wait_until(up, SERVER_START_TIMEOUT, f"jupyter lab on {url}")
            yield LabServer(url=url, token=token, workspace=browser_runs, log=log)
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=20)


@pytest.fixture(scope="package")
def playwright_instance() -> Iterator[Playwright]:
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="package")
def browser(playwright_instance: Playwright) -> Iterator[Browser]:
    """Debian's chromium, headless (playwright cannot download its own browser here)."""
    if not CHROMIUM.exists():
        pytest.fail(f"chromium not found at {CHROMIUM}: apt-get install chromium")
    browser = playwright_instance.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
    )
    yield browser
    browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Where screenshots go (git-ignored)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The dashboard tests register and deploy ``dash-churn`` in the package's shared
    workspace, which the panel tests count and name-match against: run them last."""
    last = [i for i in items if i.nodeid.startswith("tests/browser/test_dashboard.py")]
    if last:
        items[:] = [i for i in items if i not in last] + last
