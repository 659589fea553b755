"""A workspace's tracking store that was made and is then deleted or emptied is reported as lost,
never silently made again (empty, with its default experiment's artifacts in ./mlruns of whatever
folder the process runs in); a new workspace still makes its store on first use."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from jupyter_mlops import Workspace
from jupyter_mlops.errors import BackendUnavailable
from jupyter_mlops.tracking.backend import STORES_FILE


def default_location(db: Path) -> str:
    con = sqlite3.connect(db)
    try:
        [(location,)] = con.execute(
            "SELECT artifact_location FROM experiments WHERE experiment_id = 0"
        ).fetchall()
        return str(location)
    finally:
        con.close()


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The process runs in a folder inside the workspace, where ./mlruns would land."""
    folder = tmp_path / "ws" / "notebooks"
    folder.mkdir(parents=True)
    monkeypatch.chdir(folder)
    return folder


def test_a_deleted_or_emptied_store_is_reported_not_made_again(
    tmp_path: Path, elsewhere: Path
) -> None:
    ws = Workspace.init(tmp_path / "ws")
    db = ws.state_dir / "mlflow.db"
    assert not db.exists() and not (ws.state_dir / STORES_FILE).exists()
    with ws.tracking.start_run("churn", run_name="r"):  # first use: the store is made
        pass
    assert db.is_file() and (ws.state_dir / STORES_FILE).is_file()

    db.unlink()
    with pytest.raises(BackendUnavailable) as lost:
        Workspace.open(ws.root).tracking.list_experiments()
    assert f"The tracking store {db} is missing" in str(lost.value)
    assert "backup" in (lost.value.hint or "") and STORES_FILE in (lost.value.hint or "")
    assert not db.exists() and not (elsewhere / "mlruns").exists()

    db.touch()  # what a SQLite connection to the deleted file leaves behind
    with pytest.raises(BackendUnavailable, match="is empty"):
        Workspace.open(ws.root).registry.list_models()
    assert db.stat().st_size == 0 and not (elsewhere / "mlruns").exists()

    # Starting over is the user's decision, taken by deleting the note the hint names.
    (ws.state_dir / STORES_FILE).unlink()
    assert [e.name for e in Workspace.open(ws.root).tracking.list_experiments()] == ["Default"]
    assert default_location(db) == str(ws.artifact_root / "0")


def test_a_store_deleted_under_a_running_process_is_a_503_until_put_back(
    tmp_path: Path, elsewhere: Path
) -> None:
    ws = Workspace.init(tmp_path / "ws")
    with ws.tracking.start_run("churn", run_name="r") as rec:
        run_id = rec.run_id
    db = ws.state_dir / "mlflow.db"
    backup = tmp_path / "backup.db"
    shutil.copyfile(db, backup)

    db.unlink()
    for call in (ws.tracking.list_experiments, ws.registry.list_models):
        with pytest.raises(BackendUnavailable, match=f"{db} is missing"):
            call()
    assert not db.exists()  # no connection made an empty file in its place

    shutil.copyfile(backup, db)  # put back: the same process reads it again
    assert "churn" in [e.name for e in ws.tracking.list_experiments()]
    assert ws.tracking.client.get_run(run_id).info.run_name == "r"

    db.write_bytes(b"")  # emptied in place (same file)
    with pytest.raises(BackendUnavailable, match="is empty"):
        ws.tracking.list_experiments()
    assert not (elsewhere / "mlruns").exists()


def test_an_empty_file_of_a_workspace_without_a_note_keeps_artifacts_in_the_workspace(
    tmp_path: Path, elsewhere: Path
) -> None:
    # A workspace from before the note was kept, whose store a process left as an empty file.
    ws = Workspace.init(tmp_path / "ws")
    db = ws.state_dir / "mlflow.db"
    db.touch()
    ws.tracking.list_experiments()
    assert default_location(db) == str(ws.artifact_root / "0")
    assert not (elsewhere / "mlruns").exists()


def test_a_store_from_before_the_note_is_noted_when_opened(tmp_path: Path) -> None:
    ws = Workspace.init(tmp_path / "ws")
    ws.tracking.list_experiments()
    (ws.state_dir / STORES_FILE).unlink()
    Workspace.open(ws.root).tracking.list_experiments()
    assert (ws.state_dir / STORES_FILE).is_file()
    (ws.state_dir / "mlflow.db").unlink()
    with pytest.raises(BackendUnavailable, match="is missing"):
        Workspace.open(ws.root).tracking.list_experiments()
