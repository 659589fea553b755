"""Fixtures of the feature tests: a feature store, a customer entity, a view, and Redis.

``redis_server`` starts the Debian package's ``redis-server`` once per session on a free port of
127.0.0.1, with persistence off (``--save '' --appendonly no``), and stops it at the end;
``redis_url`` empties its database for one test. They live here, not in ``online/``, because the
materialization and lookup tests use them too.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from jupyter_mlops import Workspace
from jupyter_mlops.features import Entity, FeatureStore, FeatureView, Field
from tests.helpers import RedisServer, free_port, redis_answers, stop_process_group, wait_for

REDIS_INSTALL_HINT = "apt-get install -y redis-server"


@pytest.fixture
def store(workspace: Workspace) -> FeatureStore:
    return workspace.features


@pytest.fixture
def customer() -> Entity:
    return Entity("customer", ["customer_id"], description="a paying customer")


@pytest.fixture
def spend_view(customer: Entity) -> FeatureView:
    """Ingested; 30-day TTL; an int, a float, a bool and a string feature."""
    return FeatureView(
        name="customer_spend",
        entities=[customer],
        timestamp_field="event_timestamp",
        features=[
            Field("orders", "int64"),
            Field("avg_spend", "float64"),
            Field("is_vip", "bool"),
            Field("segment", "string"),
        ],
        ttl="30d",
        owner="growth",
    )


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
            lambda: redis_answers(server.url),
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
