"""Helpers shared by test modules: import them from here, never from another test module.

A test module imported by another one is collected twice over and couples unrelated tests; a
``conftest.py`` is for fixtures, which pytest finds without imports. Plain functions and classes
several modules use live here.

Some of these (``free_port``, ``wait_for``, ``tail``, ``stop_process_group``, ``jupyter_mlops``,
``run_notebook``, ``outputs_text``, ``get_json``, ``get_error``) still have a twin in the test
module that first defined them (``tests/services/conftest.py``, ``tests/commands/test_cli.py``,
``tests/commands/test_magic.py``, ``tests/server/test_experiments_api.py``); those modules should
import them from here too.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from jupyter_mlops import Workspace

START_TIMEOUT = 120.0
POLL = 0.1

# -- processes ------------------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(
    condition: Callable[[], bool],
    what: str,
    timeout: float = START_TIMEOUT,
    alive: Callable[[], bool] = lambda: True,
    log: Path | None = None,
) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` (with the log's tail) otherwise."""
    deadline = time.monotonic() + timeout
    while not condition():
        if not alive():
            pytest.fail(f"{what} exited before it was ready.\n{tail(log)}", pytrace=False)
        if time.monotonic() > deadline:
            pytest.fail(f"{what} was not ready within {timeout:.0f} s.\n{tail(log)}", pytrace=False)
        time.sleep(POLL)


def tail(log: Path | None, lines: int = 40) -> str:
    """The last ``lines`` lines of a log file ("" when there is none)."""
    if log is None or not log.exists():
        return ""
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def stop_process_group(process: subprocess.Popen[bytes], timeout: float = 15) -> None:
    """Stop a child started with ``start_new_session=True`` and everything it started."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            process.poll()
            try:
                os.killpg(process.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(POLL)


# -- Redis ----------------------------------------------------------------------------------------


@dataclass
class RedisServer:
    """A running ``redis-server`` on loopback."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path
    binary: str


def redis_answers(url: str) -> bool:
    """Whether a Redis server answers PING at ``url``."""
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


# -- the CLI and real kernels ---------------------------------------------------------------------


def jupyter_mlops(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``jupyter mlops ARGS`` as a user does, in ``cwd``, without MLOPS_WORKSPACE."""
    jupyter = shutil.which("jupyter", path=str(Path(sys.executable).parent))
    assert jupyter, "the jupyter command is installed beside this Python"
    env = {k: v for k, v in os.environ.items() if k != "MLOPS_WORKSPACE"}
    return subprocess.run(
        [jupyter, "mlops", *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=120
    )


class Cli:
    """``jupyter mlops ARGS --workspace ROOT`` through the CLI's entry point, in this process:
    the same parser, handlers, output and exit codes as in a terminal, without the seconds of a
    new interpreter importing MLflow (keep one real :func:`jupyter_mlops` call per test file for
    the terminal path itself)."""

    def __init__(self, root: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.root, self.capsys = root, capsys

    def __call__(self, *args: str) -> tuple[int, str, str]:
        from jupyter_mlops.commands.cli import main

        self.capsys.readouterr()
        code = main([*args, "--workspace", str(self.root)])
        out, err = self.capsys.readouterr()
        return code, out, err

    def json(self, *args: str) -> Any:
        code, out, err = self(*args, "--json")
        assert code in (0, 1), err
        return json.loads(out)

    def completed(self, *args: str) -> subprocess.CompletedProcess[str]:
        """The command's answer shaped as :func:`jupyter_mlops` returns it."""
        code, out, err = self(*args)
        return subprocess.CompletedProcess(list(args), code, out, err)


def run_notebook(path: Path, cells: list[str], env: dict[str, str] | None = None) -> Any:
    """Write ``cells`` as a notebook at ``path`` and run it in a real kernel (errors kept)."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    nbformat.write(nb, path)
    client = NotebookClient(
        nb,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        allow_errors=True,
    )
    saved = {k: os.environ.get(k) for k in (env or {})}
    os.environ.update(env or {})
    try:
        client.execute()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    nbformat.write(nb, path)
    return nb


def parameterised_notebook(
    path: Path, *cells: str, parameters: str | None = "lr = 0.1\nepochs = 3"
) -> Path:
    """Write a notebook for papermill jobs: a cell tagged ``parameters`` (unless None), then
    ``cells``."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    if parameters is not None:
        first = nbformat.v4.new_code_cell(parameters)
        first.metadata["tags"] = ["parameters"]
        nb.cells.append(first)
    nb.cells += [nbformat.v4.new_code_cell(c) for c in cells]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


def outputs_text(cell: Any) -> str:
    """A notebook cell's outputs as text: streams, markdown or plain results, errors."""
    parts = []
    for out in cell.outputs:
        if out.output_type == "stream":
            parts.append(out.text)
        elif out.output_type in {"display_data", "execute_result"}:
            parts.append(out.data.get("text/markdown", "") or out.data.get("text/plain", ""))
        elif out.output_type == "error":
            parts.append(f"ERROR {out.ename}: {out.evalue}")
    return "\n".join(parts)


# -- the REST API ---------------------------------------------------------------------------------

Fetch = Callable[..., Awaitable[Any]]


async def get_json(fetch: Fetch, *parts: str, **params: Any) -> Any:
    """GET ``/mlops/api/PARTS`` with query ``params``; the decoded JSON body."""
    response = await fetch("mlops", "api", *parts, params=params, method="GET")
    assert response.headers["Content-Type"].startswith("application/json")
    return json.loads(response.body)


async def get_error(fetch: Fetch, *parts: str, **params: Any) -> tuple[int, dict[str, Any]]:
    """GET that must fail: the status code and the body's ``error`` object."""
    from tornado.httpclient import HTTPClientError

    with pytest.raises(HTTPClientError) as info:
        await fetch("mlops", "api", *parts, params=params, method="GET")
    body = json.loads(info.value.response.body)  # type: ignore[union-attr]
    return info.value.code, body["error"]


# -- feature store data ---------------------------------------------------------------------------


def ts(*values: str) -> pd.DatetimeIndex:
    """Naive timestamps from ISO 8601 strings."""
    return pd.DatetimeIndex(pd.to_datetime(list(values), format="ISO8601"))


def spend_rows() -> pd.DataFrame:
    """Customer 1 changes on Jan 1, Jan 10 and Mar 1; customer 2 has one row on Jan 5."""
    return pd.DataFrame(
        {
            "customer_id": [1, 1, 1, 2],
            "event_timestamp": ts("2026-01-01", "2026-01-10", "2026-03-01", "2026-01-05"),
            "orders": [1, 2, 3, 7],
            "avg_spend": [10.0, 20.0, 30.0, 70.0],
            "is_vip": [False, True, True, False],
            "segment": ["new", "active", "active", "lapsed"],
        }
    )


FEATURE_DEFINITIONS = """
from jupyter_mlops.features import Entity, FeatureView, Field, ParquetSource

customer = Entity("customer", ["customer_id"], description="a paying customer")

customer_spend = FeatureView(
    name="customer_spend",
    entities=[customer],
    features=[Field("orders", "int64"), Field("avg_spend", "float64"), {extra}],
    ttl="{ttl}",
    description="what a customer spends",
    owner="growth",
    tags={{"team": "growth"}},
)

customer_profile = FeatureView(
    name="customer_profile",
    entities=[customer],
    source=ParquetSource(path="data/profile.parquet"),
    timestamp_field="updated_at",
    features=[Field("age", "int64"), Field("country", "string")],
)
"""


def feature_definitions(extra: str = 'Field("segment", "string")', ttl: str = "30d") -> str:
    """The text of ``features/defs.py`` of :func:`build_feature_workspace`."""
    return FEATURE_DEFINITIONS.format(extra=extra, ttl=ttl)


def workspace_spend_rows() -> pd.DataFrame:
    """The rows :func:`build_feature_workspace` ingests: customer 1 on Jan 1 and Jan 10,
    customer 2 on Jan 5."""
    return pd.DataFrame(
        {
            "customer_id": [1, 1, 2],
            "event_timestamp": pd.to_datetime(["2026-01-01", "2026-01-10", "2026-01-05"]),
            "orders": [1, 2, 7],
            "avg_spend": [10.0, 20.0, 70.0],
            "segment": ["new", "active", "lapsed"],
            "is_vip": [False, True, False],
        }
    )


def write_feature_definitions(ws: Workspace, text: str) -> None:
    """Write ``text`` as the workspace's ``features/defs.py``."""
    (ws.root / "features").mkdir(exist_ok=True)
    (ws.root / "features" / "defs.py").write_text(text)


def build_feature_workspace(ws: Workspace) -> Workspace:
    """customer_spend (ingested; v1, then v2 adds is_vip) and customer_profile (Parquet)."""
    (ws.root / "data").mkdir()
    pd.DataFrame(
        {
            "customer_id": [1, 2],
            "updated_at": pd.to_datetime(["2025-12-01", "2025-12-02"]),
            "age": [34, 51],
            "country": ["FR", "DE"],
        }
    ).to_parquet(ws.root / "data" / "profile.parquet")
    write_feature_definitions(ws, feature_definitions())
    ws.features.apply()
    write_feature_definitions(
        ws, feature_definitions('Field("segment", "string"), Field("is_vip", "bool")')
    )
    ws.features.apply()
    ws.features.ingest("customer_spend", workspace_spend_rows())
    return ws


def record_training_run(ws: Workspace, features: list[str], name: str) -> str:
    """A tracked run tagged as a training frame with ``features`` tags it (see record_usage)."""
    from jupyter_mlops.features.service import usage_payload
    from jupyter_mlops.lineage.tags import FEATURES_TAG

    payload = usage_payload(ws.features.resolve(features))
    with ws.tracking.start_run("churn", run_name=name) as rec:
        rec.set_tags({FEATURES_TAG: payload.to_tag()})
    return str(rec.run_id)
