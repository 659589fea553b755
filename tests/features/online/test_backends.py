"""What is particular to each backend: SQLite's file and locking, Redis's namespaces."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pandas as pd
import pytest

from jupyter_mlops.errors import BackendUnavailable, InvalidInput
from jupyter_mlops.features.online import SqliteOnlineStore, open_online_store

VALUES = pd.DataFrame({"x": [1.0]})
WHEN = pd.Timestamp("2026-01-01", tz="UTC")


def test_sqlite_uses_wal_and_keeps_data_across_opens(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "online.db"
    with SqliteOnlineStore(path) as store:
        store.write("spend", 1, [1], VALUES, WHEN)
        store.set_watermark("spend", 1, WHEN)
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with SqliteOnlineStore(path) as store:
        assert store.read_one("spend", 1, None, 1) == {"x": 1.0}
        assert store.watermark("spend", 1) == WHEN.to_pydatetime()


def test_sqlite_writer_locked_out_says_so_and_reads_go_on(tmp_path: Path) -> None:
    path = tmp_path / "online.db"
    with SqliteOnlineStore(path) as store:
        store.write("spend", 1, [1], VALUES, WHEN)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process is writing
    try:
        with SqliteOnlineStore(path, timeout=0.05) as store:
            with pytest.raises(BackendUnavailable, match="locked"):
                store.write("spend", 1, [2], VALUES, WHEN)
            assert store.read_one("spend", 1, None, 1) == {"x": 1.0}
    finally:
        other.execute("ROLLBACK")
        other.close()


def test_sqlite_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "online.db"
    path.write_bytes(b"not a database, just some bytes" * 100)
    with pytest.raises(BackendUnavailable, match="Cannot open the online store"):
        SqliteOnlineStore(path)


@pytest.mark.service
def test_redis_namespaces_keep_workspaces_apart(redis_url: str, tmp_path: Path) -> None:
    with (
        open_online_store({"online_store": redis_url, "online_namespace": "team_a"}, tmp_path) as a,
        open_online_store({"online_store": redis_url, "online_namespace": "team_b"}, tmp_path) as b,
    ):
        a.write("spend", 1, [1], VALUES, WHEN)
        b.write("spend", 1, [1], pd.DataFrame({"y": ["b"]}), WHEN)
        assert a.read_one("spend", 1, None, 1) == {"x": 1.0}
        b.delete_view("spend", 1)
        assert a.read_one("spend", 1, None, 1) == {"x": 1.0}
        assert b.features("spend", 1) is None


@pytest.mark.service
@pytest.mark.parametrize("namespace", ["a:b", "team*", ""])
def test_a_redis_namespace_that_could_reach_other_keys_is_refused(
    redis_url: str, namespace: str
) -> None:
    from jupyter_mlops.features.online.redis import RedisOnlineStore

    with pytest.raises(InvalidInput, match="namespace"):
        RedisOnlineStore(redis_url, namespace=namespace)
