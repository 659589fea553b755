"""Ingest (schema check, all or nothing) and view statistics."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from jupyter_mlops.errors import InvalidInput
from jupyter_mlops.features import Entity, FeatureStore, FeatureView, Field, ParquetSource
from tests.helpers import spend_rows, ts


@pytest.fixture
def applied(store: FeatureStore, spend_view: FeatureView) -> FeatureStore:
    store.apply([spend_view])
    return store


def _files(store: FeatureStore) -> list[Path]:
    folder = store.offline.data_dir("customer_spend")
    return sorted(folder.iterdir()) if folder.exists() else []


def test_batches_append(applied: FeatureStore) -> None:
    first = applied.ingest("customer_spend", spend_rows())
    assert first.rows == 4 and first.version == 1
    assert first.file is not None and first.file.endswith(".parquet")
    more = spend_rows().assign(customer_id=np.int32(3))  # any integer type is taken
    applied.ingest("customer_spend", more)
    assert len(_files(applied)) == 2
    assert applied.stats("customer_spend").row_count == 8


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda df: df.drop(columns=["orders", "segment"]), "missing columns: orders, segment"),
        (lambda df: df.assign(oders=1), "columns not in the view: oders"),
        (lambda df: df.assign(orders=df["orders"] * 1.5), "orders is DOUBLE, the view says int64"),
        (lambda df: df.assign(is_vip=1), "is_vip is BIGINT, the view says bool"),
        (lambda df: df.assign(segment=3.0), "segment is DOUBLE, the view says string"),
        (lambda df: df.assign(event_timestamp="2026-01-01"), "event_timestamp .* not a timestamp"),
        (lambda df: df.assign(customer_id=1.0), "join key customer_id is DOUBLE"),
        (
            lambda df: df.assign(customer_id=pd.array([1, None, 2, 2], dtype="Int64")),
            "customer_id has 1 null values",
        ),
    ],
)
def test_a_bad_batch_writes_nothing(applied: FeatureStore, change: object, message: str) -> None:
    applied.ingest("customer_spend", spend_rows())
    before = _files(applied)
    bad = change(spend_rows())  # type: ignore[operator]
    with pytest.raises(InvalidInput, match=message) as err:
        applied.ingest("customer_spend", bad)
    assert "nothing written" in err.value.message
    assert _files(applied) == before


def test_several_problems_are_named_together(applied: FeatureStore) -> None:
    bad = spend_rows().assign(orders=0.5, avg_spend="x")
    with pytest.raises(InvalidInput, match=r"orders is DOUBLE.*avg_spend is VARCHAR"):
        applied.ingest("customer_spend", bad)
    assert _files(applied) == []


def test_extra_columns_can_be_dropped(applied: FeatureStore) -> None:
    applied.ingest("customer_spend", spend_rows().assign(note="x"), extra_columns="drop")
    assert applied.stats("customer_spend").row_count == 4


def test_a_failing_write_leaves_no_file(
    applied: FeatureStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The batch is complete in its temporary file; the rename into place fails.
    def fail(src: object, dst: object) -> None:
        assert Path(str(src)).exists() and str(src).endswith(".parquet.tmp")
        raise OSError("disk full")

    monkeypatch.setattr("jupyter_mlops.features.offline.os.replace", fail)
    with pytest.raises(OSError, match="disk full"):
        applied.ingest("customer_spend", spend_rows())
    assert _files(applied) == []


def test_an_unsigned_64_bit_column_is_refused(applied: FeatureStore) -> None:
    rows = spend_rows().assign(orders=np.array([1, 2, 3, 2**63 + 5], dtype=np.uint64))
    with pytest.raises(InvalidInput, match="orders is UBIGINT"):
        applied.ingest("customer_spend", rows)
    assert _files(applied) == []


def test_time_zone_awareness_must_match_the_stored_rows(applied: FeatureStore) -> None:
    applied.ingest("customer_spend", spend_rows())
    aware = spend_rows()
    aware["event_timestamp"] = aware["event_timestamp"].dt.tz_localize("UTC")
    with pytest.raises(InvalidInput, match="event_timestamp is aware but the stored rows'"):
        applied.ingest("customer_spend", aware)


def test_views_with_a_file_source_take_no_ingest(store: FeatureStore, customer: Entity) -> None:
    view = FeatureView(
        name="filed",
        entities=[customer],
        source=ParquetSource(path="data/x.parquet"),
        features=[Field("x")],
    )
    store.apply([view])
    with pytest.raises(InvalidInput, match="only views with source=None"):
        store.ingest("filed", spend_rows())
    with pytest.raises(InvalidInput, match="does not exist"):
        store.stats("filed")


def test_stats(applied: FeatureStore) -> None:
    rows = spend_rows()
    rows.loc[3, "avg_spend"] = np.nan
    rows.loc[0, "segment"] = None
    applied.ingest("customer_spend", rows)
    now = datetime(2026, 3, 11, tzinfo=UTC)
    from jupyter_mlops.features.stats import view_stats

    stats = view_stats(applied.offline, applied.get_view("customer_spend"), now=now)
    assert stats.row_count == 4
    assert stats.first_event == datetime(2026, 1, 1, tzinfo=UTC)
    assert stats.last_event == datetime(2026, 3, 1, tzinfo=UTC)
    assert stats.age_seconds == 10 * 86400
    assert stats.ttl_seconds == 30 * 86400
    assert stats.stale is False
    by_name = {f.name: f for f in stats.features}
    assert by_name["orders"].min == 1 and by_name["orders"].max == 7
    assert by_name["orders"].mean == pytest.approx(3.25)
    assert by_name["avg_spend"].null_rate == pytest.approx(0.25)
    assert by_name["avg_spend"].mean == pytest.approx(20.0)
    assert by_name["is_vip"].mean == pytest.approx(0.5)
    assert by_name["segment"].null_rate == pytest.approx(0.25)
    assert by_name["segment"].top_values == [("active", 2), ("lapsed", 1)]
    later = view_stats(
        applied.offline, applied.get_view("customer_spend"), now=datetime(2026, 5, 1, tzinfo=UTC)
    )
    assert later.stale is True


def test_stats_of_an_empty_view(applied: FeatureStore) -> None:
    stats = applied.stats("customer_spend")
    assert stats.row_count == 0 and stats.stale is True and stats.last_event is None
    assert [f.null_rate for f in stats.features] == [None, None, None, None]


def test_timestamp_features(store: FeatureStore, customer: Entity) -> None:
    view = FeatureView(
        name="signup",
        entities=[customer],
        features=[Field("signed_up_at", "timestamp")],
    )
    store.apply([view])
    store.ingest(
        "signup",
        pd.DataFrame(
            {
                "customer_id": [1],
                "event_timestamp": ts("2026-01-02"),
                "signed_up_at": ts("2025-06-01"),
            }
        ),
    )
    entities = pd.DataFrame(
        {"customer_id": [1, 2], "event_timestamp": ts("2026-01-03", "2026-01-03")}
    )
    out = store.get_training_frame(entities, ["signup:signed_up_at"])
    assert out["signed_up_at"].iloc[0] == pd.Timestamp("2025-06-01")
    assert pd.isna(out["signed_up_at"].iloc[1])
    assert str(store.stats("signup").features[0].min).startswith("2025-06-01")


def test_latest_rows_per_key_for_materialization(applied: FeatureStore) -> None:
    view = applied.get_view("customer_spend")
    assert applied.offline.latest_rows(view).empty
    applied.ingest("customer_spend", spend_rows())
    latest = applied.offline.latest_rows(view).sort_values("customer_id")
    assert latest["orders"].tolist() == [3, 7]
    assert str(latest["orders"].dtype) == "Int64"
    window = applied.offline.latest_rows(
        view, start=datetime(2026, 1, 2), end=datetime(2026, 3, 1), as_arrow=True
    )
    pairs = window.select(["customer_id", "orders"]).to_pydict()
    assert sorted(zip(pairs["customer_id"], pairs["orders"], strict=True)) == [(1, 2), (2, 7)]


def test_a_feature_added_to_an_ingested_view_reads_null_for_older_batches(
    applied: FeatureStore, spend_view: FeatureView
) -> None:
    applied.ingest("customer_spend", spend_rows())
    grown = spend_view.model_copy(
        update={"features": [*spend_view.features, Field("refunds", "int64")]}
    )
    assert applied.apply([grown]).changes[-1].version == 2
    entities = pd.DataFrame({"customer_id": [1], "event_timestamp": ts("2026-01-11")})
    frame = applied.get_training_frame(
        entities, ["customer_spend:orders", "customer_spend:refunds"]
    )
    assert frame["orders"].tolist() == [2]
    assert frame["refunds"].isna().all() and str(frame["refunds"].dtype) == "Int64"
    newer = spend_rows().iloc[[0]].assign(event_timestamp=ts("2026-01-12"), refunds=[4])
    applied.ingest("customer_spend", newer)
    entities = pd.DataFrame({"customer_id": [1], "event_timestamp": ts("2026-01-13")})
    frame = applied.get_training_frame(entities, ["customer_spend:refunds"])
    assert frame["refunds"].tolist() == [4]
