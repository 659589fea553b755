"""A job's own environment, run tags and working folder: what pipelines and replays submit with.
One real job on a real worker (and its re-run alongside it)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from jupyter_mlops import Workspace
from jupyter_mlops.errors import InvalidInput
from jupyter_mlops.jobs.worker import setup_cell
from jupyter_mlops.lineage.tags import FEATURES_PIN_ENV, JOB_TAG, NOTEBOOK_TAG
from tests.helpers import parameterised_notebook as notebook

pytestmark = pytest.mark.slow


@pytest.fixture
def jobs_ws(workspace: Workspace) -> Iterator[Workspace]:
    yield workspace
    workspace.jobs.stop_workers()


def test_a_job_gets_its_environment_tags_and_folder_and_a_rerun_keeps_them(
    jobs_ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = jobs_ws
    # A pin the submitting process happens to have never reaches a job's kernel by inheritance.
    monkeypatch.setenv(FEATURES_PIN_ENV, '{"leaked": 1}')
    (ws.root / "data").mkdir()
    (ws.root / "data" / "rows.txt").write_text("42\n")
    notebook(
        ws.root / ".mlops" / "copies" / "copy.ipynb",
        "import os\n"
        "print('stage', os.environ['STAGE'], 'pin', os.environ.get('MLOPS_FEATURES_PIN'))\n"
        "print('rows', open('data/rows.txt').read().strip())",
    )
    job = ws.jobs.submit(
        ".mlops/copies/copy.ipynb",
        {"lr": 0.5},
        environment={"STAGE": "replay"},
        tags={"team": "growth", JOB_TAG: "not-this", NOTEBOOK_TAG: "notebooks/train.ipynb"},
        workdir=".",
    )
    again = ws.jobs.rerun(job.id, {"epochs": 4})
    record = ws.jobs.store.record(again.id)
    assert record is not None
    assert record.environment == {"STAGE": "replay"} and record.workdir == "."
    assert record.tags["team"] == "growth" and record.parameters == {"lr": 0.5, "epochs": 4}
    for submitted in (job, again):
        done = ws.jobs.wait(submitted.id, timeout=120)
        assert done.state == "succeeded", done.message
        log = ws.jobs.log(done.id)
        assert "stage replay pin None" in log and "rows 42" in log
        tags = ws.tracking.get_run(done.run_id or "", with_history=False).tags
        assert tags["team"] == "growth" and tags[JOB_TAG] == done.id
        assert tags[NOTEBOOK_TAG] == "notebooks/train.ipynb"


def test_bad_environment_names_are_refused_before_anything_is_queued(jobs_ws: Workspace) -> None:
    ws = jobs_ws
    notebook(ws.root / "train.ipynb", "pass")
    with pytest.raises(InvalidInput, match="'1BAD', 'A=B' cannot name an environment variable"):
        ws.jobs.submit("train.ipynb", environment={"1BAD": "x", "A=B": "y", "OK": "z"})
    with pytest.raises(InvalidInput, match="not a folder"):
        ws.jobs.submit("train.ipynb", workdir="train.ipynb")
    assert ws.jobs.list().jobs == []


def test_the_setup_cell_sets_the_environment_and_working_folder() -> None:
    cell = setup_cell(
        Path("/ws/.mlops/replays/a.ipynb"),
        "job1",
        "run1",
        workdir=Path("/ws/notebooks"),
        environment={FEATURES_PIN_ENV: '{"v": 2}'},
    )
    assert "chdir('/ws/notebooks')" in cell.source
    assert f"environ[{FEATURES_PIN_ENV!r}] = '{{\"v\": 2}}'" in cell.source
    assert "environ['JPY_SESSION_NAME'] = '/ws/.mlops/replays/a.ipynb'" in cell.source
