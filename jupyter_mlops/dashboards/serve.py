"""Serve a dashboard with Voila, standalone, on loopback: ``jupyter mlops dashboard NAME``.

Voila runs as a child process on the packaged notebook, with the workspace and the deployment in
its environment (its kernels inherit both). By default it keeps one *pre-heated* kernel: the
notebook's imports and the workspace's opening run before anyone asks for the page, and the
kernel waits there for the request (see :func:`jupyter_mlops.dashboards.monitoring.show`), so
opening the URL costs only reading the newest stored check and drawing it. The kernel says it
waits by creating a file (:data:`jupyter_mlops.dashboards.READY_FILE_ENV`); the URL is printed
after that, so the first visitor gets the fast page too.

Everything the page loads comes from Voila itself (its JupyterLab front end, the widgets
manager, plotly's lab extension with plotly.js inside): it renders with no internet access.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from jupyter_mlops.config import STATE_DIR
from jupyter_mlops.dashboards import DEPLOYMENT_ENV, MONITORING_NOTEBOOK, READY_FILE_ENV
from jupyter_mlops.errors import BackendUnavailable, Conflict
from jupyter_mlops.process import LOOPBACK, check_port

LOG_FILE = Path("logs") / "dashboard.log"
START_TIMEOUT = 60.0
POLL_INTERVAL = 0.1
LOG_TAIL_LINES = 30
CULL_IDLE_SECONDS = 600
#: Seconds Voila waits before pre-heating the next kernel once one is used: pre-heating imports
#: for seconds of CPU, which would slow the page being opened if it started at once.
REFILL_DELAY = 10.0
#: Voila loads every installed lab extension; ours expects JupyterLab's shell and REST API.
DENIED_EXTENSIONS = ("jupyter-mlops",)
# Loopback requests must not go through an HTTP proxy configured in the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass
class DashboardServer:
    """A running Voila serving one deployment's dashboard."""

    url: str
    pid: int
    process: subprocess.Popen[bytes]
    log_path: Path

    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 20.0) -> None:
        """Stop Voila and its kernels (its process group); harmless when already stopped."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                break
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout)
                break
        self.process.poll()


def voila_command(notebook: Path, port: int, *, preheat: bool) -> list[str]:
    command = [
        sys.executable,
        "-m",
        "voila",
        str(notebook),
        "--no-browser",
        f"--port={port}",
        f"--Voila.ip={LOOPBACK}",
        "--theme=light",
        # A kernel whose page was closed without saying so goes after a while; a kernel with a
        # page open is connected and stays (its timer refreshes the page).
        f"--MappingKernelManager.cull_idle_timeout={CULL_IDLE_SECONDS}",
        "--MappingKernelManager.cull_interval=60",
    ]
    command += [f"--VoilaConfiguration.extension_denylist={name}" for name in DENIED_EXTENSIONS]
    if preheat:
        command += [
            "--preheat_kernel=True",
            "--pool_size=1",
            f"--VoilaKernelManager.fill_delay={REFILL_DELAY}",
        ]
    return command


def start_dashboard(
    root: Path,
    deployment: str,
    *,
    port: int,
    preheat: bool = True,
    timeout: float = START_TIMEOUT,
    notebook: Path = MONITORING_NOTEBOOK,
) -> DashboardServer:
    """Start Voila on a dashboard notebook of ``deployment`` (the monitoring one by default)
    and wait until it answers (and, pre-heating, until its kernel waits for the first request).

    Raises:
        Conflict: something listens on the port already.
        BackendUnavailable: Voila exited or did not get ready in time; with its log's tail.
    """
    check_port(port)
    log_path = root / STATE_DIR / LOG_FILE
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env["MLOPS_WORKSPACE"] = str(root)
    env[DEPLOYMENT_ENV] = deployment
    ready = ready_file(root, port)
    ready.unlink(missing_ok=True)
    env[READY_FILE_ENV] = str(ready)
    with log_path.open("ab") as log:
        start = log.tell()
        process = subprocess.Popen(
            voila_command(notebook, port, preheat=preheat),
            cwd=root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            # Its own process group: Ctrl-C reaches us, and stopping the group stops kernels too.
            start_new_session=True,
        )
    base = f"http://{LOOPBACK}:{port}/"
    server = DashboardServer(
        url=f"{base}?deployment={quote(deployment, safe='')}",
        pid=process.pid,
        process=process,
        log_path=log_path,
    )
    try:
        _wait_until_ready(server, base, start, ready if preheat else None, timeout)
    except BaseException:
        server.stop()
        raise
    return server


def ready_file(root: Path, port: int) -> Path:
    """The file a pre-heated kernel of the dashboard on ``port`` creates once it is ready."""
    return root / STATE_DIR / "logs" / f"dashboard-{port}.ready"


def _wait_until_ready(
    server: DashboardServer, base: str, offset: int, ready: Path | None, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    # Voila's static files answer once the server listens, without starting a kernel.
    probe = base + "voila/static/voila.js"
    while True:
        code = server.process.poll()
        if code is not None:
            tail = _log_tail(server.log_path, offset)
            if "address already in use" in tail.lower():
                raise Conflict(
                    f"Port {base} is already in use.",
                    hint="Pick another port with --port, or leave it out to get a free one.",
                    field="port",
                )
            raise BackendUnavailable(
                f"Voila exited with code {code} before answering.\n{tail}",
                hint=f"See the whole log in {server.log_path}.",
            )
        if _answers(probe) and (ready is None or ready.exists()):
            return
        if time.monotonic() > deadline:
            raise BackendUnavailable(
                f"Voila was not ready on {base} within {timeout:.0f} s.\n"
                f"{_log_tail(server.log_path, offset)}",
                hint=f"See the whole log in {server.log_path}.",
            )
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.process.wait(timeout=POLL_INTERVAL)


def _answers(url: str) -> bool:
    try:
        with _OPENER.open(url, timeout=5) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _log_text(path: Path, offset: int = 0) -> str:
    """What Voila logged since ``offset`` (the log is appended to by every start)."""
    try:
        with path.open("rb") as f:
            f.seek(offset)
            return f.read().decode("utf-8", errors="replace")
    except OSError:
        return ""


def _log_tail(path: Path, offset: int = 0) -> str:
    lines = _log_text(path, offset).splitlines()
    return "\n".join(lines[-LOG_TAIL_LINES:]) or "(empty log)"
