"""``jupyter mlops ui``: the MLflow UI on the workspace's own store.

The UI is MLflow's own server (``python -m mlflow server``) pointed at the workspace's tracking and
registry stores, with the workspace's artifact root as its artifact root. Runs made here and runs
made with plain ``mlflow`` show up in it unchanged, and the artifacts of existing experiments
(stored under local paths) can be browsed. It binds to loopback unless told otherwise.

Example:
    >>> ui = start_ui(ws.tracking, ws.root, port=5001, wait=False)   # doctest: +SKIP
    >>> ui.url                                     # doctest: +SKIP
    'http://127.0.0.1:5001'
    >>> ui.stop()                                  # doctest: +SKIP
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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from jupyter_mlops.config import STATE_DIR
from jupyter_mlops.errors import BackendUnavailable, Conflict, InvalidInput
from jupyter_mlops.process import check_port

if TYPE_CHECKING:
    from jupyter_mlops.tracking.service import TrackingService

LOG_FILE = Path("logs") / "mlflow-ui.log"
# How long the server may take to answer its first request (it migrates a new database first).
START_TIMEOUT = 120.0
# How often the start-up loop looks at the server.
POLL_INTERVAL = 0.1
# The endpoints that answer once the server is up; the second one also proves the store is readable.
READY_PATHS = ("/health", "/api/2.0/mlflow/experiments/search?max_results=1")
LOG_TAIL_LINES = 30


@dataclass
class UiProcess:
    """A running MLflow UI server.

    Attributes:
        url: where the UI answers, e.g. ``http://127.0.0.1:5000``.
        pid: the process id of the ``mlflow server`` process (it leads its own process group).
        process: the child process.
        log_path: the file that receives the server's output.
    """

    url: str
    pid: int
    process: subprocess.Popen[bytes]
    log_path: Path | None = None

    def running(self) -> bool:
        """Whether the server process is still alive."""
        return self.process.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server and the web workers it started; harmless when already stopped."""
        _stop_group(self.process, timeout)


def start_ui(
    tracking: TrackingService,
    root: Path,
    host: str = "127.0.0.1",
    port: int = 5000,
    wait: bool = True,
    *,
    timeout: float = START_TIMEOUT,
    on_ready: Callable[[UiProcess], None] | None = None,
) -> UiProcess:
    """Start the MLflow UI on the workspace's store and wait until it answers.

    Args:
        tracking: the tracking service whose store, registry store and artifact root are served.
        root: the workspace folder (the server runs there and logs to ``.mlops/mlflow-ui.log``).
        host: the interface to bind; loopback by default.
        port: the port to listen on.
        wait: block until Ctrl-C and then stop the server (a terminal); when false, return at once
            with the server running in the background (a notebook).
        timeout: seconds the server may take to answer its first request.
        on_ready: called with the running server once it answers. With ``wait`` and no callback,
            a line naming the URL and how to stop it is written to standard error.

    Returns:
        The server. With ``wait`` it has been stopped by the time this returns.

    Raises:
        InvalidInput: the workspace's tracking URI is itself an MLflow server, whose UI is already
            at that URL; or the port is out of range.
        Conflict: something already listens on ``host:port``.
        BackendUnavailable: the server exited or did not answer within ``timeout``; the message
            carries the last lines of its log.
    """
    backend = tracking.backend
    tracking_uri = backend.tracking_uri
    if tracking_uri.startswith(("http://", "https://")):
        raise InvalidInput(
            f"This workspace tracks to the MLflow server {tracking_uri}; its UI is already there.",
            hint=f"Open {tracking_uri} in a browser.",
        )
    check_port(port, host, lowest=1)
    _prepare_store(tracking)

    log_path = root / STATE_DIR / LOG_FILE
    log_path.parent.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--backend-store-uri",
        tracking_uri,
        "--registry-store-uri",
        backend.registry_uri,
        # New experiments made through the UI get their artifacts in the workspace, like ours.
        "--default-artifact-root",
        backend.artifact_location,
        # Runs whose artifacts are proxied (mlflow-artifacts:/) resolve into the same root.
        "--artifacts-destination",
        backend.artifact_location,
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    env = dict(os.environ)
    # The server's background job runner (GenAI scorer jobs) is of no use for browsing runs and
    # costs eight processes and seconds of start-up; set the variable to "true" to keep it.
    env.setdefault("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            command,
            cwd=root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            # Its own process group: Ctrl-C in the terminal reaches us, not the server, and
            # stopping the group also stops the uvicorn workers the server starts.
            start_new_session=True,
        )
    ui = UiProcess(url=_url(host, port), pid=process.pid, process=process, log_path=log_path)
    try:
        _wait_until_ready(ui, host, port, timeout)
    except BaseException:
        ui.stop()
        raise
    if on_ready is not None:
        on_ready(ui)
    elif wait:
        sys.stderr.write(
            f"MLflow UI on {ui.url} (pid {ui.pid}, log {log_path}). Press Ctrl-C to stop it.\n"
        )
        sys.stderr.flush()
    if wait:
        try:
            code = process.wait()
        except KeyboardInterrupt:
            return ui
        finally:
            ui.stop()
        raise BackendUnavailable(
            f"The MLflow UI server stopped on its own (exit code {code}).\n{_log_tail(log_path)}",
            hint=f"See the whole log in {log_path}.",
        )
    return ui


def _url(host: str, port: int) -> str:
    if host in {"", "0.0.0.0"}:
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def _prepare_store(tracking: TrackingService) -> None:
    """Create the embedded database the way the workspace does, so its layout is the same."""
    tracking.backend.artifact_root.mkdir(parents=True, exist_ok=True)
    if tracking.backend.tracking_uri.startswith("sqlite:"):
        # Creates the database with the default experiment's artifacts in the workspace.
        tracking.list_experiments()


def _wait_until_ready(ui: UiProcess, host: str, port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        code = ui.process.poll()
        if code is not None:
            tail = _log_tail(ui.log_path)
            if "address already in use" in tail.lower():
                raise Conflict(
                    f"Port {port} on {host} is already in use.",
                    hint=f"Pick another port with --port {port + 1}.",
                    field="port",
                )
            raise BackendUnavailable(
                f"The MLflow UI server exited with code {code} before answering.\n{tail}",
                hint=f"See the whole log in {ui.log_path}.",
            )
        if _answers(ui.url):
            return
        if time.monotonic() > deadline:
            raise BackendUnavailable(
                f"The MLflow UI server did not answer on {ui.url} within {timeout:.0f} s.\n"
                f"{_log_tail(ui.log_path)}",
                hint=f"See the whole log in {ui.log_path}.",
            )
        with contextlib.suppress(subprocess.TimeoutExpired):
            ui.process.wait(timeout=POLL_INTERVAL)


# Loopback requests must not go through an HTTP proxy configured in the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _answers(url: str) -> bool:
    try:
        for path in READY_PATHS:
            with _OPENER.open(url + path, timeout=5) as response:
                if response.status != 200:
                    return False
    except (urllib.error.URLError, OSError):
        return False
    return True


def _log_tail(path: Path | None) -> str:
    if path is None or not path.exists():
        return "(no log)"
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return "\n".join(lines[-LOG_TAIL_LINES:]) or "(empty log)"


def _stop_group(process: subprocess.Popen[bytes], timeout: float) -> None:
    # The server leads its own process group (start_new_session); signalling the group also
    # reaches the web workers it started, even when the server itself has already exited.
    pgid = process.pid
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if not _signal_group(pgid, sig) or _wait_group_gone(process, timeout):
            break
    process.poll()


def _signal_group(pgid: int, sig: int) -> bool:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    return True


def _wait_group_gone(process: subprocess.Popen[bytes], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        process.poll()  # reap the server, so that a zombie does not keep the group alive
        if not _signal_group(process.pid, 0):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(POLL_INTERVAL)
