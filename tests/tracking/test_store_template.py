"""A new embedded store is a copy of the empty one this MLflow version made before: same tables,
its own default experiment's artifact location, and a broken template is no obstacle."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import mlflow
import pytest

from jupyter_mlops import Workspace


def default_location(ws: Workspace) -> str:
    con = sqlite3.connect(ws.state_dir / "mlflow.db")
    try:
        [(location,)] = con.execute(
            "SELECT artifact_location FROM experiments WHERE experiment_id = 0"
        ).fetchall()
        return str(location)
    finally:
        con.close()


def test_a_second_store_is_copied_from_the_first_and_is_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    template = tmp_path / "cache" / "jupyter-mlops" / f"mlflow-{mlflow.__version__}-empty.db"
    first = Workspace.init(tmp_path / "one")
    first.tracking.list_experiments()
    assert template.is_file()
    second = Workspace.init(tmp_path / "two")
    second.tracking.list_experiments()
    assert default_location(second) == str(second.artifact_root / "0")
    assert default_location(first) == str(first.artifact_root / "0")
    with second.tracking.start_run("churn", run_name="r") as rec:
        rec.log_metrics({"auc": 0.8})
    assert second.tracking.list_runs(["churn"]).runs[0].metrics == {"auc": 0.8}
    assert [e.name for e in first.tracking.list_experiments()] == ["Default"]  # not shared
    # A template that is not a database: the store is created the usual way.
    template.write_bytes(b"not a database")
    third = Workspace.init(tmp_path / "three")
    third.tracking.list_experiments()
    assert default_location(third) == str(third.artifact_root / "0")
    assert not list((tmp_path / "three" / ".mlops").glob(".mlflow.db.*.tmp"))


def test_new_stores_opened_at_once_in_one_process_are_each_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no template yet (a fresh machine), MLflow creates each store's tables with alembic,
    whose migration context is a module global: two threads creating two stores at once ran
    each other's steps ("table alembic_version already exists", KeyError: 'config')."""
    import threading

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    spaces = [Workspace.init(tmp_path / f"ws{i}") for i in range(3)]
    barrier = threading.Barrier(len(spaces))
    errors: list[str] = []

    def open_store(ws: Workspace) -> None:
        barrier.wait()
        try:
            ws.tracking.list_experiments()
        except Exception as exc:  # each failure is the finding
            errors.append(f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=open_store, args=(ws,)) for ws in spaces]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    for ws in spaces:
        assert default_location(ws) == str(ws.artifact_root / "0")
        assert [e.name for e in ws.tracking.list_experiments()] == ["Default"]
