"""Real servers for the tests of this folder: PostgreSQL and an ``mlflow server``, on loopback.

Each server is started once per test session on a free port of 127.0.0.1 and stopped at the end.
Nothing waits with a fixed sleep: start-up is polled for with a timeout.

- ``postgres_server``: a PostgreSQL cluster of the Debian package (``apt-get install postgresql``),
  run as the ``postgres`` OS user when the tests run as root, trust authentication on loopback.
- ``postgres_uri``: a fresh database on it for one test, already holding MLflow's tables (copied
  from a template database that MLflow migrated once); ``empty_postgres_uri``: a fresh database
  without them.
- ``mlflow_server``: ``python -m mlflow server`` on a temporary SQLite store that serves (proxies)
  artifacts from a temporary folder, like a shared team server.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from jupyter_mlops import Workspace
from tests.helpers import free_port, stop_process_group, wait_for

START_TIMEOUT = 120.0
POLL = 0.1
PG_INSTALL_HINT = "apt-get install -y postgresql"


# -- helpers --------------------------------------------------------------------------------------


# Loopback requests must not go through an HTTP proxy configured in the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_json(url: str, body: dict[str, Any] | None = None, timeout: float = 30) -> Any:
    """GET ``url`` (or POST ``body`` as JSON) and decode the JSON answer."""
    import json

    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url, data=data, headers={"Content-Type": "application/json"} if data else {}
    )
    with _OPENER.open(request, timeout=timeout) as response:
        return json.loads(response.read())


def http_ok(url: str) -> bool:
    try:
        with _OPENER.open(url, timeout=5) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def write_tracking_uri(ws: Workspace, uri: str) -> Workspace:
    """Point the workspace's ``[tracking] uri`` at ``uri`` and reopen it."""
    config = ws.root / "mlops.toml"
    text = config.read_text(encoding="utf-8")
    assert 'uri = ""' in text, "the default mlops.toml has an empty [tracking] uri"
    config.write_text(text.replace('uri = ""', f'uri = "{uri}"', 1), encoding="utf-8")
    return Workspace.open(ws.root)


def dispose(ws: Workspace) -> None:
    """Release the workspace's database connections (so its database can be dropped)."""
    if "client" in ws.tracking.__dict__:
        engine = ws.tracking.sql_engine
        if engine is not None:
            engine.dispose()


# -- PostgreSQL -----------------------------------------------------------------------------------


@dataclass
class PostgresServer:
    """A running PostgreSQL cluster with trust authentication on 127.0.0.1."""

    host: str
    port: int
    user: str
    data_dir: Path
    log: Path

    def uri(self, database: str) -> str:
        return f"postgresql://{self.user}@{self.host}:{self.port}/{database}"

    def admin(self, *statements: str) -> None:
        """Run statements outside a transaction (CREATE/DROP DATABASE) on the ``postgres`` db."""
        import psycopg2

        conn = psycopg2.connect(
            host=self.host, port=self.port, user=self.user, dbname="postgres", connect_timeout=10
        )
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                for statement in statements:
                    cur.execute(statement)
        finally:
            conn.close()

    def create_database(self, template: str | None = None) -> str:
        name = f"t_{uuid.uuid4().hex[:12]}"
        self.admin(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        return name

    def drop_database(self, name: str) -> None:
        self.admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _postgres_bin() -> Path:
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if found:
        return found[-1].parent
    on_path = shutil.which("pg_ctl")
    if on_path:
        return Path(on_path).parent
    pytest.fail(
        "The PostgreSQL server is not installed (no /usr/lib/postgresql/*/bin/pg_ctl). "
        f"These tests run a real one: `{PG_INSTALL_HINT}` (Debian package), then run them again.",
        pytrace=False,
    )


def _as_postgres(command: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root: as root, run its tools as the `postgres` OS user.
    if os.geteuid() != 0:
        return command
    runuser = shutil.which("runuser")
    if runuser:
        return [runuser, "-u", "postgres", "--", *command]
    return ["su", "postgres", "-s", "/bin/sh", "-c", " ".join(map(_quote, command))]


def _quote(arg: str) -> str:
    import shlex

    return shlex.quote(arg)


def _run(command: list[str], what: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True, timeout=START_TIMEOUT)
    if done.returncode != 0:
        pytest.fail(
            f"{what} failed ({done.returncode}): {' '.join(command)}\n{done.stdout}\n{done.stderr}",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server of the Debian package, on a free port of 127.0.0.1."""
    bin_dir = _postgres_bin()
    try:
        import psycopg2  # noqa: F401
    except ImportError:
        pytest.fail("psycopg2 is missing: pip install -e '.[test]'", pytrace=False)
    # Not under pytest's tmp folder: the postgres user cannot enter root's 0700 folders.
    base = Path(tempfile.mkdtemp(prefix="mlops-pg-"))
    if os.geteuid() == 0:
        shutil.chown(base, user="postgres", group="postgres")
    data, log = base / "data", base / "server.log"
    port = free_port()
    _run(
        _as_postgres(
            [
                str(bin_dir / "initdb"),
                "-D", str(data),
                "-U", "postgres",
                "-A", "trust",
                "-E", "UTF8",
                "--locale=C",
                "--no-sync",
            ]
        ),
        "initdb",
    )  # fmt: skip
    with (data / "postgresql.conf").open("a") as conf:
        conf.write(
            "\n# jupyter-mlops tests: loopback only, no unix socket, no durability needed\n"
            f"listen_addresses = '127.0.0.1'\nport = {port}\n"
            "unix_socket_directories = ''\nfsync = off\nsynchronous_commit = off\n"
            "full_page_writes = off\n"
        )
    server = PostgresServer("127.0.0.1", port, "postgres", data, log)
    pg_ctl = str(bin_dir / "pg_ctl")
    try:
        # `-w` makes pg_ctl itself poll until the server accepts connections.
        _run(
            _as_postgres([pg_ctl, "-D", str(data), "-l", str(log), "-w", "-t", "120", "start"]),
            f"starting PostgreSQL (log: {log})",
        )
        wait_for(lambda: _pg_accepts(server), "PostgreSQL", log=log)
        yield server
    finally:
        subprocess.run(
            _as_postgres([pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"]),
            capture_output=True,
            timeout=START_TIMEOUT,
        )
        shutil.rmtree(base, ignore_errors=True)


def _pg_accepts(server: PostgresServer) -> bool:
    try:
        server.admin("SELECT 1")
    except Exception:
        return False
    return True


@pytest.fixture(scope="session")
def postgres_driver() -> None:
    """``postgresql://`` URIs open with SQLAlchemy's default PostgreSQL driver; it must be there."""
    import sqlalchemy

    dialect = sqlalchemy.engine.make_url("postgresql://h/db").get_dialect()
    try:
        dialect.import_dbapi()
        missing = None
    except ImportError as exc:
        missing = exc
    if missing is not None:
        exc = missing
        pytest.fail(
            f"SQLAlchemy {sqlalchemy.__version__} opens postgresql:// URIs with the "
            f"'{dialect.driver}' driver, which is not installed ({exc}). "
            "Install it: pip install 'psycopg[binary]' (it belongs in the test extra).",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def postgres_template(postgres_server: PostgresServer, postgres_driver: None) -> Iterator[str]:
    """A database holding MLflow's tables, migrated once by MLflow, to copy for each test."""
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    name = postgres_server.create_database()
    artifacts = Path(tempfile.mkdtemp(prefix="mlops-pg-template-artifacts-"))
    store = SqlAlchemyStore(postgres_server.uri(name), str(artifacts))
    store.engine.dispose()
    yield name
    postgres_server.drop_database(name)
    shutil.rmtree(artifacts, ignore_errors=True)


@pytest.fixture
def postgres_uri(postgres_server: PostgresServer, postgres_template: str) -> Iterator[str]:
    """``postgresql://...`` of a fresh database with MLflow's tables, dropped after the test."""
    name = postgres_server.create_database(template=postgres_template)
    yield postgres_server.uri(name)
    postgres_server.drop_database(name)


@pytest.fixture
def empty_postgres_uri(postgres_server: PostgresServer, postgres_driver: None) -> Iterator[str]:
    """``postgresql://...`` of a fresh, empty database (MLflow creates its tables on first use)."""
    name = postgres_server.create_database()
    yield postgres_server.uri(name)
    postgres_server.drop_database(name)


@pytest.fixture
def pg_workspace(workspace_dir: Path, postgres_uri: str) -> Iterator[Workspace]:
    """A workspace whose mlops.toml points MLflow at a fresh PostgreSQL database."""
    ws = write_tracking_uri(Workspace.init(workspace_dir), postgres_uri)
    yield ws
    dispose(ws)


# -- mlflow server -------------------------------------------------------------------------------


@dataclass
class MlflowServer:
    """A running ``mlflow server``."""

    url: str
    process: subprocess.Popen[bytes]
    backend_uri: str
    artifacts: Path
    log: Path


@pytest.fixture(scope="session")
def mlflow_server() -> Iterator[MlflowServer]:
    """``mlflow server`` on 127.0.0.1 (free port), SQLite store, proxied local artifacts."""
    base = Path(tempfile.mkdtemp(prefix="mlops-mlflow-server-"))
    port = free_port()
    backend = f"sqlite:///{base / 'mlflow.db'}"
    artifacts = base / "artifacts"
    log = base / "server.log"
    command = [
        sys.executable, "-m", "mlflow", "server",
        "--backend-store-uri", backend,
        "--serve-artifacts",
        "--artifacts-destination", str(artifacts),
        "--host", "127.0.0.1",
        "--port", str(port),
        "--workers", "1",
    ]  # fmt: skip
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    with log.open("ab") as out:
        process = subprocess.Popen(
            command,
            cwd=base,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    server = MlflowServer(url, process, backend, artifacts, log)
    try:
        wait_for(
            lambda: http_ok(f"{url}/health"),
            "mlflow server",
            alive=lambda: process.poll() is None,
            log=log,
        )
        yield server
    finally:
        stop_process_group(process)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def remote_workspace(workspace_dir: Path, mlflow_server: MlflowServer) -> Workspace:
    """A workspace whose mlops.toml points at the running ``mlflow server``."""
    return write_tracking_uri(Workspace.init(workspace_dir), mlflow_server.url)


@pytest.fixture
def experiment_name() -> str:
    """An experiment name no other test uses (the mlflow server is shared by the session)."""
    return f"churn-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def plain_mlflow() -> Iterator[Callable[[str], None]]:
    """Point the ``mlflow`` module at a tracking URI for one test, and restore it after."""
    import mlflow
    from mlflow.tracking._tracking_service import utils

    previous = utils._tracking_uri  # None: unset, MLflow falls back to env and defaults

    def use(uri: str) -> None:
        mlflow.set_tracking_uri(uri)

    yield use
    with contextlib.suppress(Exception):
        mlflow.end_run()
    mlflow.set_tracking_uri(previous)
