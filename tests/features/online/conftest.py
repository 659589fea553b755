"""Online stores to test: SQLite on a temporary file, Redis on a real ``redis-server``.

The Redis server is the session's ``redis_server`` (``tests/features/conftest.py``); each Redis
test starts from an empty database. A contract test takes ``online_store`` (or
``open_store``, to open a second store on the same data) and runs once per backend; the Redis
runs are marked ``service``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from jupyter_mlops.features.online import OnlineStore, SqliteOnlineStore


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
