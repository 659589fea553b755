"""A training frame built inside an MLflow run records the features it used on the run."""

from __future__ import annotations

import json
from collections.abc import Iterator

import mlflow
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from jupyter_mlops import Workspace
from jupyter_mlops.features import FeatureStore, FeatureView
from jupyter_mlops.features.service import entity_fingerprint, record_usage
from jupyter_mlops.lineage.tags import ENTITY_FINGERPRINT_TAG, FEATURES_TAG
from tests.helpers import spend_rows, ts


@pytest.fixture
def tracked(workspace: Workspace) -> Iterator[str]:
    """MLflow's fluent API pointed at the workspace's store; restored after the test."""
    from mlflow.tracking._tracking_service import utils

    previous = utils._tracking_uri
    mlflow.set_tracking_uri(workspace.tracking_uri)
    workspace.tracking.ensure_experiment("Default")
    yield workspace.tracking_uri
    if mlflow.active_run() is not None:
        mlflow.end_run()
    mlflow.set_tracking_uri(previous)


def test_the_active_run_gets_pinned_references_and_fingerprints(
    tracked: str, store: FeatureStore, spend_view: FeatureView
) -> None:
    store.apply([spend_view])
    store.ingest("customer_spend", spend_rows())
    entities = pd.DataFrame(
        {"customer_id": [1, 2], "event_timestamp": ts("2026-01-02", "2026-01-06")}
    )
    with mlflow.start_run() as run:
        store.get_training_frame(entities, ["customer_spend:orders", "customer_spend:avg_spend"])
    got = MlflowClient(tracked).get_run(run.info.run_id)
    usage = json.loads(got.data.tags[FEATURES_TAG])
    assert usage["features"] == ["customer_spend:v1:orders", "customer_spend:v1:avg_spend"]
    assert usage["views"] == {"customer_spend:v1": store.get_view("customer_spend").fingerprint}
    assert got.data.tags[ENTITY_FINGERPRINT_TAG] == entity_fingerprint(entities)
    inputs = got.inputs.dataset_inputs
    assert len(inputs) == 1
    assert inputs[0].dataset.name == "entity_df[customer_spend:v1]"


def test_two_frames_in_one_run_add_up(
    tracked: str, store: FeatureStore, spend_view: FeatureView
) -> None:
    store.apply([spend_view])
    store.ingest("customer_spend", spend_rows())
    train = pd.DataFrame({"customer_id": [1], "event_timestamp": ts("2026-01-02")})
    valid = pd.DataFrame({"customer_id": [2], "event_timestamp": ts("2026-01-06")})
    with mlflow.start_run() as run:
        store.get_training_frame(train, ["customer_spend:orders"])
        store.get_training_frame(valid, ["customer_spend:orders", "customer_spend:segment"])
    tags = MlflowClient(tracked).get_run(run.info.run_id).data.tags
    assert json.loads(tags[FEATURES_TAG])["features"] == [
        "customer_spend:v1:orders",
        "customer_spend:v1:segment",
    ]
    assert tags[ENTITY_FINGERPRINT_TAG].split(",") == [
        entity_fingerprint(train),
        entity_fingerprint(valid),
    ]


def test_a_failure_to_record_does_not_fail_the_frame(
    tracked: str,
    store: FeatureStore,
    spend_view: FeatureView,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    store.apply([spend_view])
    entities = pd.DataFrame({"customer_id": [1], "event_timestamp": ts("2026-01-02")})

    def broken(tags: object) -> None:
        raise RuntimeError("tracking database is locked")

    monkeypatch.setattr(mlflow, "set_tags", broken)
    with mlflow.start_run():
        out = store.get_training_frame(entities, ["customer_spend:orders"])
    assert len(out) == 1
    assert "tracking database is locked" in caplog.text


def test_no_active_run_records_nothing(store: FeatureStore, spend_view: FeatureView) -> None:
    store.apply([spend_view])
    assert mlflow.active_run() is None
    assert record_usage(store.resolve(["customer_spend:orders"]), pd.DataFrame()) is False


def test_entity_fingerprint_follows_content_not_index() -> None:
    a = pd.DataFrame({"id": [1, 2], "t": ts("2026-01-01", "2026-01-02")})
    assert entity_fingerprint(a) == entity_fingerprint(a.set_axis([5, 6]))
    assert entity_fingerprint(a) != entity_fingerprint(a.assign(id=[1, 3]))
    assert entity_fingerprint(a) != entity_fingerprint(a.astype({"id": "int32"}))
