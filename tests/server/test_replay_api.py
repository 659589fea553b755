"""Replay REST resources, through a real Jupyter server: start a replay of a version, read its
report, and the errors. The replay's job is cancelled at once (the service test runs one)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError

from jupyter_mlops import Workspace
from jupyter_mlops.lineage.tags import JOB_OUTPUT_ARTIFACT
from tests.helpers import Fetch, get_error, get_json, parameterised_notebook

pytestmark = pytest.mark.slow


async def post(fetch: Fetch, *parts: str) -> tuple[int, Any]:
    try:
        response = await fetch("mlops", "api", *parts, method="POST", body="{}")
    except HTTPClientError as exc:
        return exc.code, json.loads(exc.response.body)["error"]  # type: ignore[union-attr]
    return response.code, json.loads(response.body)


def model_run(ws: Workspace, c: float, stored: Path | None = None) -> str:
    """A run with a logged logistic regression, parameter C and, when given, ``stored`` as the
    executed notebook a job keeps."""
    import mlflow
    import numpy as np
    from mlflow.tracking._tracking_service import utils
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 2))
    clf = LogisticRegression(C=c).fit(x, (x[:, 0] > 0).astype(int))
    previous = getattr(utils, "_tracking_uri", None)
    with ws.tracking.start_run("churn", run_name=f"C{c}") as rec:
        mlflow.set_tracking_uri(ws.tracking_uri)
        try:
            with mlflow.start_run(run_id=rec.run_id):
                mlflow.sklearn.log_model(clf, name="model", pip_requirements=["scikit-learn"])
        finally:
            utils._tracking_uri = previous
        rec.log_params({"C": c})
        rec.log_metrics({"roc_auc": 0.8})
    if stored is not None:
        ws.tracking.client.log_artifact(rec.run_id, str(stored), JOB_OUTPUT_ARTIFACT.split("/")[0])
    return str(rec.run_id)


@pytest.fixture
def replay_workspace(workspace: Workspace, tmp_path: Path) -> Iterator[Workspace]:
    """``churn`` v1 with a stored executed notebook, v2 without one."""
    stored = parameterised_notebook(tmp_path / "output.ipynb", "print(C)", parameters="C = 1.0")
    workspace.registry.register(model_run(workspace, 0.5, stored), "churn")
    workspace.registry.register(model_run(workspace, 2.0), "churn")
    yield workspace
    workspace.jobs.stop_workers()


async def test_start_a_replay_and_read_its_report(
    jp_fetch: Fetch, replay_workspace: Workspace
) -> None:
    code, started = await post(jp_fetch, "models", "churn", "versions", "1", "replay")
    assert code == 201, started
    replay_workspace.jobs.cancel(started["job_id"])
    assert started["model"] == "churn" and started["version"] == 1
    assert started["parameters"] == {"C": 0.5} and started["notebook_source"] == "job output"
    report = await get_json(jp_fetch, "replays", started["job_id"])
    assert report["state"] == "cancelled" and report["matches"] is False
    assert report["original_run_id"] == started["original_run_id"]
    assert report["metrics"][0]["metric"] == "roc_auc"
    assert report["metrics"][0]["original"] == 0.8 and report["metrics"][0]["replay"] is None

    code, error = await post(jp_fetch, "models", "churn", "versions", "2", "replay")
    assert code == 404 and "churn:2 has no stored notebook" in error["message"]
    assert "jupyter mlops job run" in error["hint"]
    code, error = await post(jp_fetch, "models", "churn", "versions", "7", "replay")
    assert code == 404 and "no version 7" in error["message"]
    code, error = await post(jp_fetch, "models", "churn", "versions", "v1x", "replay")
    assert code == 400 and error["field"] == "version"
    code, error = await get_error(jp_fetch, "replays", "nosuchjob")
    assert code == 404
