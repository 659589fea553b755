"""Training frames in a replay's kernel: pinned view versions and rows read as of a moment
(``MLOPS_FEATURES_PIN``, ``MLOPS_FEATURES_AS_OF``), on real DuckDB over Parquet."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from jupyter_mlops.errors import InvalidInput, NotFound
from jupyter_mlops.features import Entity, FeatureStore, FeatureView, Field, ParquetSource
from jupyter_mlops.features.service import FeaturePins, feature_pins
from jupyter_mlops.lineage.tags import FEATURES_AS_OF_ENV, FEATURES_PIN_ENV
from tests.helpers import ts


def _rows(orders: int, when: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": [1],
            "event_timestamp": ts(when),
            "orders": [orders],
            "avg_spend": [float(orders)],
            "is_vip": [False],
            "segment": ["new"],
        }
    )


def test_the_pins_are_read_from_the_environment() -> None:
    assert feature_pins({}) == FeaturePins()
    moment = datetime(2026, 1, 31, 12, tzinfo=UTC)
    pins = FeaturePins({"customer_spend": 1}, moment)
    assert feature_pins(pins.environment()) == pins
    # a naive moment is UTC
    naive = feature_pins({FEATURES_AS_OF_ENV: "2026-01-31T12:00:00"})
    assert naive.as_of == moment
    with pytest.raises(InvalidInput, match=FEATURES_PIN_ENV) as err:
        feature_pins({FEATURES_PIN_ENV: '{"customer_spend": "v1"}'})
    assert err.value.hint and "customer_stats" in err.value.hint
    with pytest.raises(InvalidInput, match="not an ISO 8601 time"):
        feature_pins({FEATURES_AS_OF_ENV: "yesterday"})


def test_a_replay_reads_the_pinned_version_as_of_the_original_moment(
    store: FeatureStore,
    customer: Entity,
    spend_view: FeatureView,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    v1 = FeatureView(
        name="customer_spend",
        entities=[customer],
        features=[Field("orders", "int64"), Field("avg_spend", "float64")],
        ttl="30d",
    )
    store.apply([customer, v1])
    store.apply([customer, spend_view])  # v2: is_vip and segment added
    store.ingest("customer_spend", _rows(1, "2026-01-01"))
    moment = datetime.now(UTC)
    store.ingest("customer_spend", _rows(2, "2026-01-02"))
    entities = pd.DataFrame({"customer_id": [1], "event_timestamp": ts("2026-01-05")})

    now = store.get_training_frame(entities, ["customer_spend:*"])
    assert now["orders"].tolist() == [2] and "is_vip" in now.columns

    for name, value in FeaturePins({"customer_spend": 1}, moment).environment().items():
        monkeypatch.setenv(name, value)
    then = store.get_training_frame(entities, ["customer_spend:*"])
    assert list(then.columns) == ["customer_id", "event_timestamp", "orders", "avg_spend"]
    assert then["orders"].tolist() == [1]  # the batch ingested after the moment is left out
    # a reference that names its version keeps it
    pinned = store.get_training_frame(entities, ["customer_spend:v2:segment"])
    assert pinned["segment"].tolist() == ["new"]
    # before the first batch there were no rows
    monkeypatch.setenv(FEATURES_AS_OF_ENV, (moment - timedelta(days=1)).isoformat())
    empty = store.get_training_frame(entities, ["customer_spend:orders"])
    assert empty["orders"].isna().all()
    monkeypatch.setenv(FEATURES_PIN_ENV, json.dumps({"customer_spend": 7}))
    with pytest.raises(NotFound, match="has no version v7"):
        store.get_training_frame(entities, ["customer_spend:orders"])


def test_a_file_source_changed_since_the_moment_is_named(
    store: FeatureStore,
    customer: Entity,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (store.root / "data").mkdir()
    path = store.root / "data" / "profile.parquet"
    pd.DataFrame({"customer_id": [1], "updated_at": ts("2025-12-01"), "age": [34]}).to_parquet(path)
    profile = FeatureView(
        name="customer_profile",
        entities=[customer],
        source=ParquetSource(path="data/profile.parquet"),
        timestamp_field="updated_at",
        features=[Field("age", "int64")],
    )
    store.apply([customer, profile])
    written = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    assert store.as_of_warnings(["customer_profile:v1", "nosuchview"], written) == []
    before = written - timedelta(hours=1)
    (warning,) = store.as_of_warnings(["customer_profile"], before)
    assert "customer_profile:v1 reads data/profile.parquet" in warning
    assert "read as they are now" in warning
    # in the replay's kernel, the training frame says so too
    monkeypatch.setenv(FEATURES_AS_OF_ENV, before.isoformat())
    entities = pd.DataFrame({"customer_id": [1], "updated": ts("2026-01-05")})
    out = store.get_training_frame(entities, ["customer_profile:age"], timestamp_column="updated")
    assert out["age"].tolist() == [34]
    assert "a file source cannot be read as of a past moment" in caplog.text
