"""Materialization loads the newest offline row per entity into the online store, incrementally.

Each test runs on the SQLite online store and on Redis (a real ``redis-server``, marked
``service``), chosen through ``[features].online_store`` as a user would.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from jupyter_mlops import Workspace
from jupyter_mlops.errors import InvalidInput, NotFound
from jupyter_mlops.features import Entity, FeatureStore, FeatureView, Field, ParquetSource
from tests.helpers import spend_rows, ts


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.service)])
def features(request: pytest.FixtureRequest, workspace: Workspace) -> Iterator[FeatureStore]:
    """The workspace's feature store on the online backend under test."""
    if request.param == "redis":
        server = request.getfixturevalue("redis_server")
        workspace.config.features.online_store = server.url
        # A namespace of its own keeps the test's keys apart on the shared server.
        workspace.config.features.online_namespace = f"test-{uuid.uuid4().hex[:12]}"
    store = workspace.features
    yield store
    store.close()


def online_orders(store: FeatureStore, version: int = 1) -> dict[int, int | None]:
    got = store.online.read("customer_spend", version, ["orders"], [1, 2])
    return dict(zip([1, 2], got["orders"], strict=True))


def test_full_then_incremental_writes_only_new_rows(
    features: FeatureStore, spend_view: FeatureView
) -> None:
    features.apply([spend_view])
    features.ingest("customer_spend", spend_rows())

    (first,) = features.materialize(["customer_spend"], end=datetime(2026, 1, 10))
    assert (first.view, first.version, first.rows_written) == ("customer_spend", 1, 2)
    assert first.start is None and first.end == datetime(2026, 1, 10)
    # The row at exactly `end` is the value as of `end` (as in a point-in-time join).
    assert online_orders(features) == {1: 2, 2: 7}
    assert features.online.watermark("customer_spend", 1) == datetime(2026, 1, 10, tzinfo=UTC)

    (second,) = features.materialize(["customer_spend"], end=datetime(2026, 4, 1))
    assert second.start == datetime(2026, 1, 10)  # from the watermark
    assert second.rows_written == 1  # customer 1's March row; customer 2 has nothing new
    assert online_orders(features) == {1: 3, 2: 7}

    (again,) = features.materialize(["customer_spend"], end=datetime(2026, 4, 1))
    assert again.rows_written == 0


def test_an_older_row_never_overwrites_a_newer_one(
    features: FeatureStore, spend_view: FeatureView
) -> None:
    features.apply([spend_view])
    features.ingest("customer_spend", spend_rows())
    features.materialize(end=datetime(2026, 4, 1))
    (old,) = features.materialize(start=datetime(2025, 12, 1), end=datetime(2026, 1, 2))
    assert old.rows_written == 0  # customer 1's January row is older than the stored one
    assert online_orders(features) == {1: 3, 2: 7}
    # The watermark only moves forward.
    assert features.online.watermark("customer_spend", 1) == datetime(2026, 4, 1, tzinfo=UTC)


def test_a_late_row_needs_an_explicit_start(
    features: FeatureStore, spend_view: FeatureView
) -> None:
    features.apply([spend_view])
    features.ingest("customer_spend", spend_rows())
    features.materialize(end=datetime(2026, 4, 1))
    late = spend_rows().iloc[[3]].assign(event_timestamp=ts("2026-02-01"), orders=8)
    features.ingest("customer_spend", late)
    (incremental,) = features.materialize(end=datetime(2026, 5, 1))
    assert incremental.rows_written == 0
    (backfill,) = features.materialize(start=datetime(2026, 1, 31), end=datetime(2026, 5, 1))
    # Customer 2's late row, and customer 1's March row again (an equal time is rewritten).
    assert backfill.rows_written == 2
    assert online_orders(features) == {1: 3, 2: 8}


def test_all_views_by_default_latest_version_and_end_now(
    features: FeatureStore, spend_view: FeatureView, customer: Entity
) -> None:
    features.apply([spend_view])
    v2 = spend_view.model_copy(
        update={"features": [*spend_view.features, Field("churn_risk", "float64")]}
    )
    empty = FeatureView(name="empty_view", entities=[customer], features=[Field("x", "int64")])
    features.apply([v2, empty])
    features.ingest("customer_spend", spend_rows().assign(churn_risk=[0.1, 0.2, None, 0.4]))
    before = datetime.now(UTC).replace(tzinfo=None)
    results = {r.view: r for r in features.materialize()}
    assert sorted(results) == ["customer_spend", "empty_view"]
    spend = results["customer_spend"]
    assert spend.version == 2 and spend.rows_written == 2
    assert spend.end.tzinfo is None and spend.end >= before  # now, naive like the view
    assert features.online.features("customer_spend", 1) is None  # only the latest version
    got = features.online.read("customer_spend", 2, ["orders", "churn_risk"], [1])
    assert got == {"orders": [3], "churn_risk": [None]}
    # A view with no rows is materialized empty: lookups find nothing rather than fail.
    assert results["empty_view"].rows_written == 0
    assert features.online.read("empty_view", 1, ["x"], [1]) == {"x": [None]}


def test_aware_views_take_aware_bounds(features: FeatureStore, spend_view: FeatureView) -> None:
    features.apply([spend_view])
    rows = spend_rows()
    rows["event_timestamp"] = rows["event_timestamp"].dt.tz_localize("Europe/Berlin")
    features.ingest("customer_spend", rows)
    with pytest.raises(InvalidInput, match="'end' is naive but customer_spend:v1") as err:
        features.materialize(end=datetime(2026, 1, 10))
    assert err.value.field == "end"
    # Midnight in Berlin on Jan 10 is 23:00 UTC on Jan 9.
    (result,) = features.materialize(end=datetime(2026, 1, 9, 23, tzinfo=UTC))
    assert result.rows_written == 2 and online_orders(features) == {1: 2, 2: 7}
    (rest,) = features.materialize()
    assert rest.start == datetime(2026, 1, 9, 23, tzinfo=UTC)
    assert rest.end.tzinfo is not None and rest.rows_written == 1


def test_bad_input(features: FeatureStore, spend_view: FeatureView) -> None:
    features.apply([spend_view])
    with pytest.raises(NotFound, match="customer_spnd") as err:
        features.materialize(["customer_spnd"])
    assert "customer_spend" in (err.value.hint or "")
    features.ingest("customer_spend", spend_rows())
    with pytest.raises(InvalidInput, match="before 'start'"):
        features.materialize(start=datetime(2026, 2, 1), end=datetime(2026, 1, 1))
    with pytest.raises(InvalidInput, match="'start' is aware but customer_spend:v1"):
        features.materialize(start=datetime(2026, 1, 1, tzinfo=UTC), end=None)
    # Nothing was written by the failed calls.
    assert features.online.watermark("customer_spend", 1) is None


def test_event_times_are_loaded_with_each_value(
    features: FeatureStore, spend_view: FeatureView
) -> None:
    features.apply([spend_view])
    features.ingest("customer_spend", spend_rows())
    features.materialize(end=datetime(2026, 4, 1))
    got = features.online.read(
        "customer_spend",
        1,
        ["segment"],
        pd.DataFrame({"customer_id": [2, 1]}),
        event_time_column="t",
    )
    assert got["segment"] == ["lapsed", "active"]
    assert got["t"] == [
        datetime(2026, 1, 5, tzinfo=UTC),
        datetime(2026, 3, 1, tzinfo=UTC),
    ]
    assert got["t"][0] - got["t"][1] == -timedelta(days=55)


def test_a_parquet_file_with_nanosecond_aware_times(
    features: FeatureStore, customer: Entity, workspace: Workspace
) -> None:
    # pandas writes datetime64[ns, UTC] columns, which DuckDB 2 reads as TIMESTAMPTZ_NS.
    rows = spend_rows()
    rows["event_timestamp"] = rows["event_timestamp"].dt.tz_localize("UTC").dt.as_unit("ns")
    (workspace.root / "data").mkdir()
    rows.to_parquet(workspace.root / "data" / "spend.parquet", index=False)
    view = FeatureView(
        name="spend_file",
        entities=[customer],
        source=ParquetSource(path="data/spend.parquet"),
        features=[Field("orders", "int64")],
    )
    features.apply([view])
    with pytest.raises(InvalidInput, match="'end' is naive"):
        features.materialize(end=datetime(2026, 4, 1))
    (result,) = features.materialize(end=datetime(2026, 4, 1, tzinfo=UTC))
    assert result.rows_written == 2
    assert features.online.read("spend_file", 1, ["orders"], [1, 2]) == {"orders": [3, 7]}
    naive = pd.DataFrame({"customer_id": [1], "event_timestamp": ts("2026-01-02")})
    with pytest.raises(InvalidInput, match="Time zones do not match"):
        features.get_training_frame(naive, ["spend_file:orders"])


def test_an_end_before_the_watermark_is_refused_and_changes_nothing(
    features: FeatureStore, spend_view: FeatureView
) -> None:
    features.apply([spend_view])
    features.ingest("customer_spend", spend_rows())
    features.materialize(end=datetime(2026, 2, 1))
    with pytest.raises(InvalidInput) as err:
        features.materialize(end=datetime(2026, 1, 5))
    error = err.value
    assert error.field == "end"
    assert "2026-01-05T00:00:00" in error.message and "2026-02-01T00:00:00" in error.message
    assert "watermark of customer_spend:v1" in error.message
    assert error.hint is not None and "start" in error.hint
    assert features.online.watermark("customer_spend", 1) == datetime(2026, 2, 1, tzinfo=UTC)
    # With a start, an earlier window is a reload, and allowed.
    (reload,) = features.materialize(start=datetime(2026, 1, 1), end=datetime(2026, 1, 5))
    assert (reload.start, reload.end) == (datetime(2026, 1, 1), datetime(2026, 1, 5))


def test_end_before_start_names_both_and_the_fix(
    features: FeatureStore, spend_view: FeatureView
) -> None:
    features.apply([spend_view])
    features.ingest("customer_spend", spend_rows())
    with pytest.raises(InvalidInput) as err:
        features.materialize(start=datetime(2026, 2, 1), end=datetime(2026, 1, 1))
    assert "'end' (2026-01-01T00:00:00) is before 'start' (2026-02-01T00:00:00)" in str(err.value)
    assert err.value.hint is not None and "Swap" in err.value.hint
    with pytest.raises(InvalidInput, match=r"'start' .* is in the future"):
        features.materialize(start=datetime(2999, 1, 1))
    assert features.online.watermark("customer_spend", 1) is None


def test_now_before_a_future_watermark_loads_nothing_and_keeps_it(
    features: FeatureStore, spend_view: FeatureView
) -> None:
    features.apply([spend_view])
    features.ingest("customer_spend", spend_rows())
    future = datetime(2999, 1, 1)
    features.materialize(end=future)
    (result,) = features.materialize()
    assert result.rows_written == 0 and result.end == future
    assert features.online.watermark("customer_spend", 1) == datetime(2999, 1, 1, tzinfo=UTC)


def test_one_bad_view_stops_every_view_before_anything_is_written(
    features: FeatureStore, customer: Entity, spend_view: FeatureView
) -> None:
    other = spend_view.model_copy(update={"name": "other_spend"})
    features.apply([spend_view, other])
    features.ingest("customer_spend", spend_rows())
    features.ingest("other_spend", spend_rows())
    features.materialize(["other_spend"], end=datetime(2026, 2, 1))
    with pytest.raises(InvalidInput, match="watermark of other_spend:v1"):
        features.materialize(["customer_spend", "other_spend"], end=datetime(2026, 1, 5))
    assert features.online.watermark("customer_spend", 1) is None
