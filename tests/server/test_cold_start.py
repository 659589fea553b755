"""A real `jupyter server` process answers the first panel request right after it starts."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from jupyter_mlops import Workspace

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_first_request_while_warming_up(
    workspace: Workspace, sweep: list[str], tmp_path: Path
) -> None:
    # The server imports MLflow in a warm-up thread while the first request imports it too; MLflow's
    # import cycles made one of them fail with ImportError (a 500) before imports were serialised.
    port, token = free_port(), "cold-start"
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter_server", "--allow-root", "--no-browser",
         f"--port={port}", "--ServerApp.ip=127.0.0.1", f"--ServerApp.token={token}"],
        cwd=workspace.root, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=5)
                break
            except (urllib.error.URLError, ConnectionError):
                assert server.poll() is None, (tmp_path / "server.log").read_text()
                assert time.monotonic() < deadline, "jupyter server did not start"
                time.sleep(0.05)
        exp = workspace.tracking.get_experiment("churn").experiment_id
        url = f"{base}/mlops/api/experiments/{exp}/runs?token={token}"
        with urllib.request.urlopen(url, timeout=60) as response:
            assert response.status == 200
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
    assert "Traceback" not in (tmp_path / "server.log").read_text()
