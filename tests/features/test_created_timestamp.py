"""Ties on the event time (issue 9): rows sharing an entity key and an event time.

With ``created_timestamp_field`` the row created last wins and a null created time loses (Feast's
rule for ``created_timestamp_column``), in training frames (both join paths), ``latest_rows``,
materialization and so online lookups. Without it the row read last wins, every time. The
expected values are worked out by hand from the data below, and a bigger random case is checked
against a plain-pandas implementation of Feast's rule.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
import pytest

from jupyter_mlops.errors import InvalidInput
from jupyter_mlops.features import Entity, FeatureStore, FeatureView, Field, ParquetSource, offline
from tests.helpers import ts


@pytest.fixture(autouse=True, params=["late", "one_query"])
def join_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways a view is joined: read into Arrow (late-materialized) and in one query."""
    if request.param == "one_query":
        monkeypatch.setattr(offline, "_late_budget", lambda: 0)
    return str(request.param)


def tied_rows() -> pd.DataFrame:
    """Customer 1: three rows on Jan 1 (created 10:00, 12:00, null), two on Jan 10 (the later
    created read first). Customer 2: two rows on Jan 5, both created null. Customer 3: two rows
    on Jan 3, the one with a created time read first."""
    return pd.DataFrame(
        {
            "customer_id": [1, 1, 1, 1, 1, 2, 2, 3, 3],
            "event_timestamp": ts(
                "2026-01-01",
                "2026-01-01",
                "2026-01-01",
                "2026-01-10",
                "2026-01-10",
                "2026-01-05",
                "2026-01-05",
                "2026-01-03",
                "2026-01-03",
            ),
            "created": ts(
                "2026-01-01 10:00",
                "2026-01-01 12:00",
                "NaT",
                "2026-01-12",
                "2026-01-11",
                "NaT",
                "NaT",
                "2026-01-03",
                "NaT",
            ),
            "value": [10, 11, 12, 20, 21, 30, 31, 40, 41],
        }
    )


# Entity rows before, at and after the tied event times.
ENTITIES = pd.DataFrame(
    {
        "customer_id": [1, 1, 1, 1, 1, 2, 2, 3, 3],
        "event_timestamp": ts(
            "2025-12-31",
            "2026-01-01",
            "2026-01-05",
            "2026-01-10",
            "2026-02-01",
            "2026-01-04",
            "2026-01-05",
            "2026-01-02",
            "2026-01-03",
        ),
    }
)
# Later created wins, null created loses; two nulls: the row read last.
WITH_CREATED = [None, 11, 11, 20, 20, None, 31, None, 40]
# Without a created field: the row read last.
READ_ORDER = [None, 12, 12, 21, 21, None, 31, None, 41]


def view(name: str, created: str | None, **kw: object) -> FeatureView:
    return FeatureView(
        name=name,
        entities=[Entity("customer", ["customer_id"])],
        created_timestamp_field=created,
        features=[Field("value", "int64")],
        **kw,
    )


def values(frame: pd.DataFrame, column: str = "value") -> list[int | None]:
    return [None if pd.isna(v) else int(v) for v in frame[column]]


@pytest.fixture
def file_store(store: FeatureStore) -> FeatureStore:
    (store.root / "data").mkdir()
    tied_rows().to_parquet(store.root / "data" / "tied.parquet")
    source = ParquetSource(path="data/tied.parquet")
    store.apply(
        [view("with_created", "created", source=source), view("plain", None, source=source)]
    )
    return store


def test_the_later_created_row_wins_and_a_null_created_loses(file_store: FeatureStore) -> None:
    out = file_store.get_training_frame(ENTITIES, ["with_created:value"])
    assert values(out) == WITH_CREATED


def test_without_a_created_field_the_row_read_last_wins_every_time(
    file_store: FeatureStore,
) -> None:
    answers = [values(file_store.get_training_frame(ENTITIES, ["plain:value"])) for _ in range(3)]
    assert answers == [READ_ORDER] * 3


def test_latest_rows_and_online_values_follow_the_same_rule(file_store: FeatureStore) -> None:
    latest = file_store.offline.latest_rows(file_store.get_view("with_created"))
    latest = latest.sort_values("customer_id")
    assert values(latest) == [20, 31, 40]
    assert "created" in latest.columns
    file_store.materialize(end=datetime(2026, 6, 1))
    online = file_store.get_online_features(
        ["with_created:value", "plain:value"], [{"customer_id": c} for c in (1, 2, 3)],
        full_names=True,
    )  # fmt: skip
    assert values(online, "with_created__value") == [20, 31, 40]
    assert values(online, "plain__value") == [21, 31, 41]


def test_ingested_batches_the_later_batch_wins_unless_created_says_otherwise(
    store: FeatureStore,
) -> None:
    store.apply([view("ingested", "created"), view("ingested_plain", None)])
    rows = tied_rows()
    # Batch 1 holds customer 1's Jan 10 row created later; batch 2 the one created earlier.
    first, second = rows.iloc[[0, 1, 2, 3, 5, 7]], rows.iloc[[4, 6, 8]]
    for batch in (first, second):
        store.ingest("ingested", batch)
        store.ingest("ingested_plain", batch.drop(columns="created"))
    out = store.get_training_frame(ENTITIES, ["ingested:value", "ingested_plain:value"],
                                   full_names=True)  # fmt: skip
    assert values(out, "ingested__value") == WITH_CREATED
    assert values(out, "ingested_plain__value") == READ_ORDER
    store.materialize(end=datetime(2026, 6, 1))
    online = store.get_online_features(["ingested:value"], [{"customer_id": 1}])
    assert values(online) == [20]


def test_batches_from_before_the_field_existed_read_as_created_null(store: FeatureStore) -> None:
    store.apply([view("grows", None)])
    store.ingest("grows", tied_rows().iloc[[3]].drop(columns="created"))  # Jan 10, value 20
    plan = store.apply([view("grows", "created")])
    assert [(c.action, c.version) for c in plan.changes if c.kind == "view"] == [("new_version", 2)]
    assert "~ created_timestamp_field: none -> created" in plan.changes[-1].diff
    store.ingest("grows", tied_rows().iloc[[4]])  # Jan 10, value 21, created Jan 11
    entity = ENTITIES.iloc[[3]]
    assert values(store.get_training_frame(entity, ["grows:v2:value"])) == [21]
    # v1 has no created field: the later batch wins there too, by read order.
    assert values(store.get_training_frame(entity, ["grows:v1:value"])) == [21]


def feast_answer(rows: pd.DataFrame, entities: pd.DataFrame) -> list[int | None]:
    """Feast's point-in-time answer, one entity row at a time: of the rows at or before the
    entity time, the newest event time, then the latest created time (null first)."""
    out: list[int | None] = []
    for key, when in zip(entities["customer_id"], entities["event_timestamp"], strict=True):
        mine = rows[(rows["customer_id"] == key) & (rows["event_timestamp"] <= when)]
        if mine.empty:
            out.append(None)
            continue
        created = mine["created"].fillna(pd.Timestamp.min)
        best = mine.assign(_c=created).sort_values(["event_timestamp", "_c"]).iloc[-1]
        out.append(int(best["value"]))
    return out


def test_a_random_case_with_many_ties_equals_feast(store: FeatureStore) -> None:
    rng = np.random.default_rng(9)
    n = 400
    days = pd.to_datetime("2026-01-01") + pd.to_timedelta(rng.integers(0, 12, n), unit="D")
    # Created times are distinct (so Feast's answer is defined); a tenth are null.
    created = pd.to_datetime("2026-02-01") + pd.to_timedelta(rng.permutation(n), unit="s")
    created = created.where(rng.random(n) > 0.1)
    rows = pd.DataFrame(
        {
            "customer_id": rng.integers(0, 30, n),
            "event_timestamp": days,
            "created": created,
            "value": np.arange(n),
        }
    )
    # A key's rows tie on the event time only with at most one null created time among them.
    nulls = rows[rows["created"].isna()]
    rows = rows.drop(nulls[nulls.duplicated(["customer_id", "event_timestamp"])].index)
    (store.root / "data").mkdir()
    rows.to_parquet(store.root / "data" / "random.parquet")
    store.apply([view("random", "created", source=ParquetSource(path="data/random.parquet"))])
    tied = rows.duplicated(["customer_id", "event_timestamp"], keep=False)
    assert tied.mean() > 0.5  # the case is about ties
    # Entity times at, just before and just after event times.
    picks = rows.sample(200, random_state=1)
    shift = pd.to_timedelta(rng.choice([-1, 0, 1], 200), unit="s")
    entities = pd.DataFrame(
        {
            "customer_id": picks["customer_id"].to_numpy(),
            "event_timestamp": picks["event_timestamp"].to_numpy() + shift,
        }
    )
    out = store.get_training_frame(entities, ["random:value"])
    assert values(out) == feast_answer(rows, entities)
    store.materialize(end=datetime(2026, 6, 1))
    keys = sorted(rows["customer_id"].unique())
    online = store.get_online_features(["random:value"], [{"customer_id": int(k)} for k in keys])
    now = pd.DataFrame({"customer_id": keys, "event_timestamp": pd.Timestamp("2026-06-01")})
    assert values(online) == feast_answer(rows, now)


def test_the_created_field_must_be_a_timestamp_column_of_the_rows(
    store: FeatureStore, tmp_path: object
) -> None:
    (store.root / "data").mkdir()
    rows = tied_rows().assign(created_text=lambda d: d["created"].astype(str))
    rows.to_parquet(store.root / "data" / "tied.parquet")
    source = ParquetSource(path="data/tied.parquet")
    with pytest.raises(InvalidInput) as missing:
        store.plan([view("typo", "creatd", source=source)])
    assert "FeatureView 'typo'" in missing.value.message
    assert "'creatd' is not a column" in missing.value.message
    assert "created" in (missing.value.hint or "")
    with pytest.raises(InvalidInput) as text:
        store.apply([view("texty", "created_text", source=source)])
    assert "FeatureView 'texty'" in text.value.message
    assert "'created_text' is VARCHAR" in text.value.message
    assert store.list_views() == []
    # An ingested view is checked batch by batch.
    store.apply([view("ingested", "created")])
    with pytest.raises(InvalidInput, match=r"created .*is VARCHAR, not a timestamp"):
        store.ingest(
            "ingested", rows.drop(columns="created").rename(columns={"created_text": "created"})
        )


@pytest.mark.parametrize(
    ("created", "message"),
    [
        ("event_timestamp", "is also the timestamp field"),
        ("value", "is also a feature"),
        ("customer_id", "is also a join key"),
    ],
)
def test_the_created_field_is_no_other_column(
    store: FeatureStore, created: str, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        store.plan([view("clash", created)])
