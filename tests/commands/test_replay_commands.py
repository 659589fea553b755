"""``replay REF`` as a user types it: the error in a terminal, and a replay queued and reported
through the command tree (its job cancelled at once: tests/pipelines runs a whole replay)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jupyter_mlops import Workspace
from jupyter_mlops.commands.context import Context
from jupyter_mlops.commands.handlers import execute
from jupyter_mlops.commands.parser import parse
from jupyter_mlops.commands.results import Result
from jupyter_mlops.lineage.tags import JOB_OUTPUT_ARTIFACT
from tests.helpers import jupyter_mlops, parameterised_notebook

pytestmark = pytest.mark.slow


def run(ws: Workspace, *argv: str) -> Result:
    """A command through the one parser and handler, in this process."""
    return execute(parse([*argv, "--workspace", str(ws.root)]), Context())


def test_a_version_without_a_stored_notebook_is_an_error_that_says_what_to_do(
    models_workspace: Workspace,
) -> None:
    done = jupyter_mlops("replay", "churn/1", cwd=models_workspace.root)
    assert done.returncode == 1
    assert "error: churn:1 has no stored notebook to replay" in done.stderr
    assert "hint: A version gets a stored notebook when a job trains it" in done.stderr


def test_a_replay_is_queued_and_reported_side_by_side(
    models_workspace: Workspace, tmp_path: Path
) -> None:
    ws = models_workspace
    stored = parameterised_notebook(tmp_path / "output.ipynb", "print(C)", parameters="C = 1.0")
    run_id = ws.registry.get_version("churn:2").run_id or ""
    ws.tracking.client.log_artifact(run_id, str(stored), JOB_OUTPUT_ARTIFACT.split("/")[0])
    try:
        started = run(ws, "replay", "churn:2", "--no-wait", "--json")
        job_id = started.to_json()["job_id"]
        ws.jobs.cancel(job_id)
    finally:
        ws.jobs.stop_workers()
    assert started.exit_code == 0
    assert "Replay of churn:2 queued" in started.to_text()
    assert f"jupyter mlops replay --report {job_id}" in started.to_text()
    report = run(ws, "replay", "--report", job_id[:10])
    assert report.exit_code == 1  # the job did not run to the end
    text = report.to_text()
    assert "metric original replay same?" in " ".join(text.split())
    assert "roc_auc 0.85 - NO" in " ".join(text.split())
    assert "The replay cancelled" in text
    data = json.loads(report.dumps())
    assert data["state"] == "cancelled" and data["original_run_id"] == run_id
