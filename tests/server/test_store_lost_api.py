"""A tracking store deleted while the Jupyter server runs: every MLflow-backed route answers 503
naming the file and what to do (not SQL, not an answer from the deleted file), until it is put
back."""

from __future__ import annotations

import shutil
from pathlib import Path

from jupyter_mlops import Workspace
from tests.helpers import Fetch, get_error, get_json


async def test_a_deleted_store_is_a_503_naming_the_file_until_put_back(
    jp_fetch: Fetch, workspace: Workspace, tmp_path: Path
) -> None:
    with workspace.tracking.start_run("churn", run_name="r"):
        pass
    assert "churn" in [e["name"] for e in (await get_json(jp_fetch, "experiments"))["experiments"]]
    db = workspace.state_dir / "mlflow.db"
    backup = tmp_path / "backup.db"
    shutil.copyfile(db, backup)

    db.unlink()
    for route in (("experiments",), ("experiments", "churn", "runs"), ("models",)):
        code, err = await get_error(jp_fetch, *route)
        assert code == 503, route
        assert err["message"].startswith(f"The tracking store {db} is missing"), err
        assert "SELECT" not in err["message"] and "backup" in err["hint"]
    assert not db.exists()

    shutil.copyfile(backup, db)
    assert "churn" in [e["name"] for e in (await get_json(jp_fetch, "experiments"))["experiments"]]
