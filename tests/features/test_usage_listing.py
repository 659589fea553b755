"""`Workspace.feature_usage(view)` lists, per version, the tracked runs that used it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import mlflow
import pandas as pd
import pytest

from jupyter_mlops import Workspace
from jupyter_mlops.errors import NotFound
from jupyter_mlops.features import FeatureStore, FeatureView
from jupyter_mlops.lineage import FeaturesUsed
from jupyter_mlops.lineage.tags import FEATURES_TAG
from jupyter_mlops.tracking.notebook_run import NotebookRun
from tests.helpers import spend_rows, ts


@pytest.fixture
def two_versions(workspace: Workspace, spend_view: FeatureView) -> Iterator[FeatureStore]:
    """customer_spend v1 and v2 with rows; MLflow's fluent API restored after the test."""
    from mlflow.tracking._tracking_service import utils

    previous = utils._tracking_uri
    store = workspace.features
    store.apply([spend_view])
    store.ingest("customer_spend", spend_rows())
    v2 = spend_view.model_copy(update={"ttl": timedelta(days=7)})
    store.apply([v2])
    yield store
    if mlflow.active_run() is not None:
        mlflow.end_run()
    mlflow.set_tracking_uri(previous)


ENTITIES = pd.DataFrame({"customer_id": [1, 2], "event_timestamp": ts("2026-01-02", "2026-01-06")})


def tracked_frame(ws: Workspace, name: str, features: list[str], experiment: str) -> str:
    """A run that builds a training frame, made MLflow's active run as ``%%mlops run`` does."""
    rec = ws.tracking.start_run(experiment, run_name=name)
    mlflow.set_tracking_uri(ws.tracking_uri)
    with mlflow.start_run(run_id=rec.run_id):
        ws.features.get_training_frame(ENTITIES, features)
    rec.finish()
    return rec.run_id


def test_runs_are_listed_under_the_versions_they_used(
    workspace: Workspace, two_versions: FeatureStore
) -> None:
    pinned = tracked_frame(workspace, "on-v1", ["customer_spend:v1:orders"], "churn")
    latest = tracked_frame(workspace, "on-v2", ["customer_spend:orders"], "other")
    with workspace.tracking.start_run("churn", run_name="no-features") as rec:
        rec.log_metric("auc", 0.5)
    # A notebook cell run, as `%%mlops run` makes it.
    cell = NotebookRun(workspace.tracking, workspace.root, experiment="churn", run_name="cell")
    cell.start()
    workspace.features.get_training_frame(ENTITIES, ["customer_spend:v1:*"])
    from_cell = cell.finish(failed=False).run_id

    usage = workspace.feature_usage("customer_spend")
    assert usage.view == "customer_spend"
    assert [v.version for v in usage.versions] == [1, 2]
    v1, v2 = usage.versions
    assert v1.fingerprint == two_versions.get_view("customer_spend", 1).fingerprint
    assert {r.run_id for r in v1.runs} == {pinned, from_cell}
    assert [r.run_id for r in v2.runs] == [latest]
    (run,) = v2.runs
    assert run.run_name == "on-v2" and run.status == "FINISHED"
    assert run.experiment_id == workspace.tracking.get_experiment("other").experiment_id
    assert run.start_time is not None
    assert v1.models == [] and v1.deployments == []
    # The JSON the REST API sends has every field.
    assert set(json.loads(usage.model_dump_json())["versions"][0]) == {
        "version",
        "fingerprint",
        "runs",
        "models",
        "deployments",
    }


def test_every_version_is_listed_even_unused(
    workspace: Workspace, two_versions: FeatureStore
) -> None:
    usage = workspace.feature_usage("customer_spend")
    assert [(v.version, v.runs) for v in usage.versions] == [(1, []), (2, [])]


def test_versions_match_exactly_not_as_substrings(
    workspace: Workspace, two_versions: FeatureStore
) -> None:
    # Tags naming v12 of the view, or another view whose name only looks alike.
    for views in (
        {"customer_spend:v12": "f"},
        {"customer_spend_old:v1": "f"},
        {"customerXspend:v1": "f"},
    ):
        with workspace.tracking.start_run("churn") as rec:
            rec.set_tag(FEATURES_TAG, json.dumps({"features": [], "views": views}))
    usage = workspace.feature_usage("customer_spend")
    assert all(v.runs == [] for v in usage.versions)
    used = FeaturesUsed.parse('{"views": {"a_b:v1": "f", "a_b:v12": "g", "axb:v3": "h"}}')
    assert used is not None and used.versions_of("a_b") == {1, 12}
    assert FeaturesUsed.parse("not json") is None


def test_unknown_view(workspace: Workspace, two_versions: FeatureStore) -> None:
    with pytest.raises(NotFound, match="customer_spnd") as err:
        workspace.feature_usage("customer_spnd")
    assert "customer_spend" in (err.value.hint or "")
