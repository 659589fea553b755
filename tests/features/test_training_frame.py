"""Point-in-time correct training frames, on real DuckDB over Parquet in a tmp workspace."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from jupyter_mlops.errors import InvalidInput, NotFound
from jupyter_mlops.features import (
    CsvSource,
    Entity,
    FeatureStore,
    FeatureView,
    Field,
    ParquetSource,
    offline,
)
from tests.helpers import spend_rows, ts


@pytest.fixture(autouse=True, params=["late", "one_query"])
def join_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test runs on both ways a view is joined: late-materialized (the view read into
    Arrow, the ASOF JOIN on keys and positions, features gathered after) and, as for views
    too large for memory, in one DuckDB query."""
    if request.param == "one_query":
        monkeypatch.setattr(offline, "_late_budget", lambda: 0)
    return str(request.param)


@pytest.fixture
def spend_store(store: FeatureStore, customer: Entity, spend_view: FeatureView) -> FeatureStore:
    store.apply([customer, spend_view])
    store.ingest("customer_spend", spend_rows())
    return store


def test_no_value_from_after_the_entity_time_leaks(spend_store: FeatureStore) -> None:
    entities = pd.DataFrame(
        {
            "customer_id": [1, 1, 1, 1, 2],
            # Just before, exactly at, and just after the Jan 10 change; before any row at all.
            "event_timestamp": ts(
                "2026-01-09 23:59:59",
                "2026-01-10",
                "2026-01-10 00:00:01",
                "2025-12-31",
                "2026-01-06",
            ),
        }
    )
    out = spend_store.get_training_frame(
        entities, ["customer_spend:orders", "customer_spend:avg_spend"]
    )
    assert out["orders"].tolist() == [1, 2, 2, pd.NA, 7]
    assert out["avg_spend"].iloc[:3].tolist() == [10.0, 20.0, 20.0]
    assert np.isnan(out["avg_spend"].iloc[3])
    # The Mar 1 row (orders=3) exists but lies after every entity time: it never shows up.
    assert 3 not in out["orders"].dropna().tolist()


def test_ttl_expires_old_values(spend_store: FeatureStore) -> None:
    entities = pd.DataFrame(
        {
            "customer_id": [1, 1, 2, 2],
            "event_timestamp": ts("2026-02-09", "2026-02-09 00:00:01", "2026-02-04", "2026-02-05"),
        }
    )
    out = spend_store.get_training_frame(entities, ["customer_spend:orders"])
    # Jan 10 + 30 days = Feb 9: still valid at that instant, expired one second later.
    assert out["orders"].tolist() == [2, pd.NA, 7, pd.NA]


def test_rows_order_index_and_dtypes_are_kept(spend_store: FeatureStore) -> None:
    entities = pd.DataFrame(
        {
            "label": [0, 1, 0, 1],
            "customer_id": [2, 9, 1, 1],
            "event_timestamp": ts("2026-01-06", "2026-01-06", "2026-03-02", "2026-01-02"),
        },
        index=[40, 10, 30, 20],
    )
    out = spend_store.get_training_frame(entities, ["customer_spend:*"])
    assert list(out.index) == [40, 10, 30, 20]
    assert list(out.columns) == [
        "label",
        "customer_id",
        "event_timestamp",
        "orders",
        "avg_spend",
        "is_vip",
        "segment",
    ]
    pd.testing.assert_frame_equal(out[entities.columns], entities)
    assert str(out["orders"].dtype) == "Int64"
    assert str(out["is_vip"].dtype) == "boolean"
    assert out["avg_spend"].dtype == np.float64
    assert out["orders"].tolist() == [7, pd.NA, 3, 1]
    assert out["is_vip"].tolist() == [False, pd.NA, True, False]
    assert out["segment"].tolist()[0] == "lapsed"
    assert pd.isna(out["segment"].iloc[1])


def test_missing_values_never_turn_integers_into_floats(spend_store: FeatureStore) -> None:
    entities = pd.DataFrame({"customer_id": [5], "event_timestamp": ts("2026-01-06")})
    out = spend_store.get_training_frame(entities, ["customer_spend:orders"])
    assert str(out["orders"].dtype) == "Int64"
    assert out["orders"].isna().all()


def test_several_views_and_two_entities(
    store: FeatureStore, customer: Entity, spend_view: FeatureView
) -> None:
    product = Entity("product", ["product_id"])
    price = FeatureView(
        name="product_price",
        entities=[product],
        features=[Field("price", "float64")],
        timestamp_field="valid_from",
    )
    affinity = FeatureView(
        name="customer_product",
        entities=[customer, product],
        features=[Field("clicks", "int64")],
        ttl="7d",
    )
    store.apply([customer, product, spend_view, price, affinity])
    store.ingest("customer_spend", spend_rows())
    store.ingest(
        "product_price",
        pd.DataFrame(
            {
                "product_id": [10, 10, 20],
                "valid_from": ts("2026-01-01", "2026-01-08", "2026-01-01"),
                "price": [5.0, 6.0, 50.0],
            }
        ),
    )
    store.ingest(
        "customer_product",
        pd.DataFrame(
            {
                "customer_id": [1, 1, 2],
                "product_id": [10, 20, 10],
                "event_timestamp": ts("2026-01-07", "2026-01-07", "2026-01-01"),
                "clicks": [3, 4, 9],
            }
        ),
    )
    entities = pd.DataFrame(
        {
            "customer_id": [1, 1, 2, 2],
            "product_id": [10, 20, 10, 20],
            "event_timestamp": ts("2026-01-09", "2026-01-09", "2026-01-09", "2026-01-09"),
        }
    )
    out = store.get_training_frame(
        entities,
        ["customer_spend:orders", "product_price:price", "customer_product:clicks"],
    )
    assert out["orders"].tolist() == [1, 1, 7, 7]
    assert out["price"].tolist() == [6.0, 50.0, 6.0, 50.0]
    # (2, 10) clicked on Jan 1: more than 7 days before Jan 9, so expired; (2, 20) never.
    assert out["clicks"].tolist() == [3, 4, pd.NA, pd.NA]


def test_arrow_output(spend_store: FeatureStore) -> None:
    entities = pd.DataFrame(
        {"customer_id": [1, 3], "event_timestamp": ts("2026-01-02", "2026-01-02")}
    )
    table = spend_store.get_training_frame(entities, ["customer_spend:orders"], as_arrow=True)
    assert table.column_names == ["customer_id", "event_timestamp", "orders"]
    assert str(table.schema.field("orders").type) == "int64"
    assert table.column("orders").to_pylist() == [1, None]


def test_parquet_folder_and_csv_sources(store: FeatureStore, customer: Entity) -> None:
    root = store.root
    (root / "data" / "parts").mkdir(parents=True)
    rows = spend_rows()[["customer_id", "event_timestamp", "avg_spend"]]
    rows.iloc[:2].to_parquet(root / "data" / "parts" / "a.parquet")
    rows.iloc[2:].to_parquet(root / "data" / "parts" / "b.parquet")
    rows.to_csv(root / "data" / "spend.csv", index=False)
    from_parquet = FeatureView(
        name="pq",
        entities=[customer],
        source=ParquetSource(path="data/parts"),
        features=[Field("avg_spend", "float64")],
    )
    from_csv = FeatureView(
        name="csv",
        entities=[customer],
        source=CsvSource(path=str(root / "data" / "spend.csv")),
        features=[Field("avg_spend", "float64")],
        transform_sql="SELECT customer_id, event_timestamp, avg_spend * 2 AS avg_spend FROM source",
    )
    store.apply([from_parquet, from_csv])
    assert store.get_view("csv").definition.source.path == "data/spend.csv"  # type: ignore[union-attr]
    entities = pd.DataFrame(
        {"customer_id": [1, 2], "event_timestamp": ts("2026-03-05", "2026-01-05")}
    )
    out = store.get_training_frame(entities, ["pq:avg_spend", "csv:avg_spend"], full_names=True)
    assert out["pq__avg_spend"].tolist() == [30.0, 70.0]
    assert out["csv__avg_spend"].tolist() == [60.0, 140.0]


def test_source_outside_the_workspace_is_refused(store: FeatureStore, customer: Entity) -> None:
    view = FeatureView(
        name="outside",
        entities=[customer],
        source=ParquetSource(path="../elsewhere.parquet"),
        features=[Field("x", "float64")],
    )
    with pytest.raises(InvalidInput, match="outside the workspace"):
        store.plan([view])


def test_an_ingested_view_without_rows_gives_nulls(
    store: FeatureStore, customer: Entity, spend_view: FeatureView
) -> None:
    store.apply([spend_view])
    entities = pd.DataFrame({"customer_id": [1], "event_timestamp": ts("2026-01-02")})
    out = store.get_training_frame(entities, ["customer_spend:orders", "customer_spend:segment"])
    assert str(out["orders"].dtype) == "Int64"
    assert out["orders"].isna().all() and out["segment"].isna().all()


def test_entity_frame_errors(spend_store: FeatureStore) -> None:
    good = pd.DataFrame({"customer_id": [1], "event_timestamp": ts("2026-01-02")})
    with pytest.raises(InvalidInput, match="join key 'customer_id'"):
        spend_store.get_training_frame(good.drop(columns="customer_id"), ["customer_spend:orders"])
    with pytest.raises(InvalidInput, match="timestamp column 'event_timestamp'"):
        spend_store.get_training_frame(
            good.rename(columns={"event_timestamp": "t"}), ["customer_spend:orders"]
        )
    with pytest.raises(InvalidInput, match="not a datetime"):
        spend_store.get_training_frame(
            good.assign(event_timestamp="2026-01-02"), ["customer_spend:orders"]
        )
    with pytest.raises(InvalidInput, match="full_names=True"):
        spend_store.get_training_frame(good.assign(orders=1), ["customer_spend:orders"])
    with pytest.raises(InvalidInput, match="Join key 'customer_id' is VARCHAR"):
        spend_store.get_training_frame(good.assign(customer_id="1"), ["customer_spend:orders"])
    with pytest.raises(NotFound, match="Did you mean customer_spend"):
        spend_store.get_training_frame(good, ["customer_spent:orders"])


def test_naive_and_aware_timestamps_are_never_mixed(spend_store: FeatureStore) -> None:
    aware = pd.DataFrame(
        {"customer_id": [1], "event_timestamp": ts("2026-01-02").tz_localize("UTC")}
    )
    with pytest.raises(
        InvalidInput,
        match="'event_timestamp' is aware but customer_spend:v1's 'event_timestamp' is naive",
    ) as err:
        spend_store.get_training_frame(aware, ["customer_spend:orders"])
    assert "tz_convert" in (err.value.hint or "")


def test_aware_timestamps_compare_as_instants(
    store: FeatureStore, customer: Entity, spend_view: FeatureView
) -> None:
    store.apply([spend_view])
    rows = spend_rows()
    rows["event_timestamp"] = rows["event_timestamp"].dt.tz_localize("UTC")
    store.ingest("customer_spend", rows)
    # 2026-01-10 00:30 in Paris is 2026-01-09 23:30 UTC: still before the Jan 10 change.
    entities = pd.DataFrame(
        {
            "customer_id": [1, 1],
            "event_timestamp": pd.DatetimeIndex(
                pd.to_datetime(["2026-01-10 00:30", "2026-01-10 01:30"])
            ).tz_localize("Europe/Paris"),
        }
    )
    out = store.get_training_frame(entities, ["customer_spend:orders"])
    assert out["orders"].tolist() == [1, 2]
    assert str(out["event_timestamp"].dt.tz) == "Europe/Paris"
    with pytest.raises(InvalidInput, match="is naive but"):
        naive = entities.assign(event_timestamp=entities["event_timestamp"].dt.tz_localize(None))
        store.get_training_frame(naive, ["customer_spend:orders"])


def test_matches_a_brute_force_as_of_lookup(store: FeatureStore, customer: Entity) -> None:
    """Thousands of shuffled rows: each value is the latest one at or before the row's time."""
    rng = np.random.default_rng(7)
    n_view, n_entity, keys = 3000, 4000, 150
    base = pd.Timestamp("2026-01-01")
    view_rows = pd.DataFrame(
        {
            "customer_id": rng.integers(0, keys, n_view),
            # Distinct event times, so that the latest row is always well defined.
            "event_timestamp": base + pd.to_timedelta(rng.permutation(n_view * 60)[:n_view], "s"),
            "score": rng.integers(-1000, 1000, n_view),
        }
    )
    view = FeatureView(
        name="scores", entities=[customer], features=[Field("score", "int64")], ttl="20h"
    )
    store.apply([view])
    store.ingest("scores", view_rows.iloc[: n_view // 2])
    store.ingest("scores", view_rows.iloc[n_view // 2 :])
    entities = pd.DataFrame(
        {
            "customer_id": rng.integers(0, keys + 10, n_entity),
            "event_timestamp": base + pd.to_timedelta(rng.integers(0, n_view * 60, n_entity), "s"),
        }
    )
    out = store.get_training_frame(entities, ["scores:score"])
    ttl = pd.Timedelta(hours=20)
    expected: list[object] = []
    by_key = {k: g.sort_values("event_timestamp") for k, g in view_rows.groupby("customer_id")}
    for key, when in zip(entities["customer_id"], entities["event_timestamp"], strict=True):
        rows = by_key.get(key)
        value: object = pd.NA
        if rows is not None:
            before = rows[rows["event_timestamp"] <= when]
            if len(before) and before["event_timestamp"].iloc[-1] >= when - ttl:
                value = int(before["score"].iloc[-1])
        expected.append(value)
    assert out["score"].tolist() == expected
    assert out["score"].notna().sum() > n_entity // 10  # the test checks real matches


def test_a_transform_cannot_read_outside_the_workspace(
    store: FeatureStore, customer: Entity, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.csv"
    secret.write_text("customer_id,event_timestamp,x\n1,2026-01-01,42\n")
    (store.root / "data").mkdir()
    spend_rows().to_parquet(store.root / "data" / "spend.parquet")
    view = FeatureView(
        name="sneaky",
        entities=[customer],
        source=ParquetSource(path="data/spend.parquet"),
        features=[Field("x", "int64")],
        transform_sql=f"SELECT * FROM read_csv('{secret}')",
    )
    store.apply([view])
    entities = pd.DataFrame({"customer_id": [1], "event_timestamp": ts("2026-01-02")})
    with pytest.raises(InvalidInput, match="Permission") as err:
        store.get_training_frame(entities, ["sneaky:x"])
    assert err.value.hint == "Files outside the workspace cannot be read."


def test_string_join_keys(store: FeatureStore) -> None:
    shop = Entity("shop", ["shop_code"])
    view = FeatureView(name="shop_sales", entities=[shop], features=[Field("sales", "float64")])
    store.apply([view])
    store.ingest(
        "shop_sales",
        pd.DataFrame(
            {
                "shop_code": ["PAR-1", "LYO-2", "PAR-1"],
                "event_timestamp": ts("2026-01-01", "2026-01-01", "2026-01-05"),
                "sales": [1.0, 2.0, 3.0],
            }
        ),
    )
    entities = pd.DataFrame(
        {
            "shop_code": pd.array(["PAR-1", "LYO-2", "NCE-3"], dtype="string"),
            "event_timestamp": ts("2026-01-04", "2026-01-04", "2026-01-04"),
        }
    )
    out = store.get_training_frame(entities, ["shop_sales:sales"])
    assert out["sales"].tolist()[:2] == [1.0, 2.0]
    assert np.isnan(out["sales"].iloc[2])
