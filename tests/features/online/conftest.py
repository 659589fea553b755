"""Online stores to test: SQLite on a temporary file, Redis on a real ``redis-server``.

``redis_server`` starts the Debian package's ``redis-server`` once per session on a free port of
127.0.0.1, with persistence off (``--save '' --appendonly no``), and stops it at the end. Each
Redis test starts from an empty database. A contract test takes ``online_store`` (or
``open_store``, to open a second store on the same data) and runs once per backend; the Redis
runs are marked ``service``.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from jupyter_mlops.features.online import OnlineStore, SqliteOnlineStore
from tests.services.conftest import free_port, stop_process_group, wait_for

REDIS_INSTALL_HINT = "apt-get install -y redis-server"


@dataclass
class RedisServer:
    """A running ``redis-server`` on loopback."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path
    binary: str


def _redis_answers(url: str) -> bool:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """``redis-server`` on 127.0.0.1 (free port), no persistence; stopped after the session."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail(
            f"redis-server is not installed; the Redis online store tests need it. "
            f"Install it: {REDIS_INSTALL_HINT}",
            pytrace=False,
        )
    base = Path(tempfile.mkdtemp(prefix="mlops-redis-"))
    port = free_port()
    log = base / "redis.log"
    command = [
        binary,
        "--bind", "127.0.0.1",
        "--port", str(port),
        "--save", "",
        "--appendonly", "no",
        "--dir", str(base),
    ]  # fmt: skip
    with log.open("ab") as out:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = RedisServer(f"redis://127.0.0.1:{port}/0", process, log, binary)
    try:
        wait_for(
            lambda: _redis_answers(server.url),
            "redis-server",
            alive=lambda: process.poll() is None,
            log=log,
        )
        yield server
    finally:
        stop_process_group(process)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The URL of an empty Redis database on the session's server."""
    import redis

    client = redis.Redis.from_url(redis_server.url)
    try:
        client.flushdb()
    finally:
        client.close()
    return redis_server.url


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.service)])
def backend(request: pytest.FixtureRequest) -> str:
    """The backend a contract test runs on."""
    return str(request.param)


@pytest.fixture
def open_store(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Callable[[], OnlineStore]]:
    """Open a store of ``backend`` on the test's data; every call opens another one on it."""
    opened: list[OnlineStore] = []
    if backend == "redis":
        url = request.getfixturevalue("redis_url")

        def make() -> OnlineStore:
            from jupyter_mlops.features.online.redis import RedisOnlineStore

            opened.append(RedisOnlineStore(url))
            return opened[-1]
    else:

        def make() -> OnlineStore:
            opened.append(SqliteOnlineStore(tmp_path / ".mlops" / "online.db"))
            return opened[-1]

    yield make
    for store in opened:
        store.close()


@pytest.fixture
def online_store(open_store: Callable[[], OnlineStore]) -> OnlineStore:
    """An empty online store of the backend under test."""
    return open_store()
