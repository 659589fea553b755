"""Choosing the online store from its ``mlops.toml`` setting."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from jupyter_mlops.errors import BackendUnavailable, InvalidInput
from jupyter_mlops.features.online import OnlineStore, SqliteOnlineStore, open_online_store
from tests.helpers import RedisServer, free_port, redis_answers, stop_process_group, wait_for


@pytest.mark.parametrize("setting", [None, "", "  ", "sqlite", {"online_store": "sqlite"}, {}])
def test_sqlite_is_the_default_and_lives_in_the_state_folder(
    tmp_path: Path, setting: object
) -> None:
    state_dir = tmp_path / ".mlops"
    with open_online_store(setting, state_dir) as store:  # type: ignore[arg-type]
        assert isinstance(store, SqliteOnlineStore)
        assert store.path == state_dir / "online.db"
        store.write("spend", 1, [1], pd.DataFrame({"x": [1.0]}), pd.Timestamp("2026-01-01"))
    assert (state_dir / "online.db").is_file()
    # Reopened, the data is there.
    with open_online_store("sqlite", state_dir) as store:
        assert store.read_one("spend", 1, None, 1) == {"x": 1.0}


@pytest.mark.parametrize("setting", ["postgres", "sqlite3", "redis", "http://host:6379", "SQLITE"])
def test_an_unknown_backend_lists_the_valid_ones(tmp_path: Path, setting: str) -> None:
    with pytest.raises(InvalidInput, match="Unknown online store") as caught:
        open_online_store(setting, tmp_path)
    assert caught.value.field == "online_store"
    assert '"sqlite"' in str(caught.value.hint) and "redis://" in str(caught.value.hint)


def test_a_setting_that_is_not_a_string_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="must be a string"):
        open_online_store({"online_store": 6379}, tmp_path)


@pytest.mark.service
def test_a_redis_url_opens_the_redis_store(tmp_path: Path, redis_server: RedisServer) -> None:
    from jupyter_mlops.features.online.redis import RedisOnlineStore

    with open_online_store({"online_store": redis_server.url}, tmp_path) as store:
        assert isinstance(store, RedisOnlineStore)
        assert isinstance(store, OnlineStore)
    assert not (tmp_path / "online.db").exists()


def test_an_unreachable_redis_says_so_with_a_hint(tmp_path: Path) -> None:
    url = f"redis://:s3cret@127.0.0.1:{free_port()}/0"  # nothing listens there
    with pytest.raises(BackendUnavailable, match="cannot be reached") as caught:
        open_online_store(url, tmp_path)
    error = caught.value
    assert error.status == 503
    assert "mlops.toml" in str(error.hint)
    assert "s3cret" not in str(error) and "***" in str(error)


@pytest.mark.service
def test_a_redis_that_goes_away_raises_backend_unavailable(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    # A server of its own, to stop under the store (the session's server is shared).
    import subprocess

    port = free_port()
    process = subprocess.Popen(
        [redis_server.binary, "--bind", "127.0.0.1", "--port", str(port), "--save", ""],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        wait_for(lambda: redis_answers(url), "redis-server", alive=lambda: process.poll() is None)
        store = open_online_store(url, tmp_path)
        store.write("spend", 1, [1], pd.DataFrame({"x": [1.0]}), pd.Timestamp("2026-01-01"))
    finally:
        stop_process_group(process)
    with pytest.raises(BackendUnavailable, match="cannot be reached"):
        store.read_one("spend", 1, None, 1)
    store.close()


def test_a_malformed_redis_url_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="Redis URL"):
        open_online_store("redis://127.0.0.1:notaport/0", tmp_path)
