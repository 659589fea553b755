"""The online store contract, run on each backend: SQLite on a tmp file, Redis on a real server."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from jupyter_mlops.errors import InvalidInput, NotFound
from jupyter_mlops.features.online import OnlineStore

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def frame(**columns: list[object]) -> pd.DataFrame:
    return pd.DataFrame(columns)


# -- newest wins ----------------------------------------------------------------------------------


def test_a_newer_write_replaces_and_an_older_one_does_not(online_store: OnlineStore) -> None:
    store = online_store
    assert store.write("spend", 1, [1, 2], frame(x=[10.0, 20.0]), at(2)) == 2
    assert store.write("spend", 1, [1, 2], frame(x=[11.0, 21.0]), [at(1), at(3)]) == 1
    assert store.read("spend", 1, ["x"], [1, 2]) == {"x": [10.0, 21.0]}
    assert store.write("spend", 1, [1], frame(x=[12.0]), at(5)) == 1
    assert store.read_one("spend", 1, ["x"], 1) == {"x": 12.0}


def test_an_equal_event_time_takes_the_later_write(online_store: OnlineStore) -> None:
    online_store.write("spend", 1, [1], frame(x=[1.0]), at(1))
    assert online_store.write("spend", 1, [1], frame(x=[2.0]), at(1)) == 1
    assert online_store.read_one("spend", 1, None, 1) == {"x": 2.0}


def test_within_one_batch_the_newest_row_of_a_key_wins_in_any_order(
    online_store: OnlineStore,
) -> None:
    online_store.write(
        "spend", 1, [7, 7, 7, 8], frame(x=[2.0, 3.0, 1.0, 9.0]), [at(2), at(3), at(1), at(0)]
    )
    assert online_store.read("spend", 1, ["x"], [7, 8]) == {"x": [3.0, 9.0]}


def test_rewriting_the_same_batch_changes_nothing(online_store: OnlineStore) -> None:
    values = frame(x=[1.0, 2.0])
    online_store.write("spend", 1, [1, 2], values, [at(1), at(2)])
    online_store.write("spend", 1, [1, 2], values, [at(1), at(2)])
    assert online_store.read("spend", 1, ["x"], [1, 2]) == {"x": [1.0, 2.0]}


# -- values and their types -----------------------------------------------------------------------


def test_types_round_trip(online_store: OnlineStore) -> None:
    seen = datetime(2025, 6, 1, 12, 30, 15, 123456, tzinfo=UTC)
    naive = datetime(2025, 6, 1, 8, 0)
    values = pd.DataFrame(
        {
            "orders": pd.array([3, None], dtype="Int64"),
            "count": np.array([2**40, -1], dtype=np.int64),
            "spend": [12.5, float("nan")],
            "vip": pd.array([True, None], dtype="boolean"),
            "plain_bool": [False, True],
            "tier": pd.array(["gold", None], dtype="string"),
            "note": ["é ünïcode ✓", None],
            "seen": pd.to_datetime([seen, None], utc=True),
            "local": pd.to_datetime([naive, None]),
        }
    )
    online_store.write("customer", 1, [1, 2], values, at(1))

    one = online_store.read_one("customer", 1, None, 1)
    assert one == {
        "orders": 3,
        "count": 2**40,
        "spend": 12.5,
        "vip": True,
        "plain_bool": False,
        "tier": "gold",
        "note": "é ünïcode ✓",
        "seen": seen,
        "local": naive,
    }
    assert one is not None
    assert [type(one[k]) for k in ("orders", "count", "spend", "vip", "tier")] == [
        int,
        int,
        float,
        bool,
        str,
    ]
    assert one["seen"].tzinfo is not None and one["local"].tzinfo is None

    many = online_store.read("customer", 1, None, [2, 1])
    assert many["orders"] == [None, 3]
    assert many["spend"] == [None, 12.5]
    assert many["vip"] == [None, True]
    assert many["plain_bool"] == [True, False]
    assert many["tier"] == [None, "gold"]
    assert many["seen"] == [None, seen]
    assert many["local"] == [None, naive]
    assert type(many["count"][0]) is int


def test_an_integral_float_stays_a_float(online_store: OnlineStore) -> None:
    online_store.write("v", 1, [1], frame(x=[2.0], n=[2]), at(0))
    value = online_store.read_one("v", 1, None, 1)
    assert value == {"x": 2.0, "n": 2}
    assert value is not None and type(value["x"]) is float and type(value["n"]) is int


def test_a_pyarrow_table_of_values_and_keys(online_store: OnlineStore) -> None:
    keys = pa.table({"region": ["eu", "us"], "shop": [1, 2]})
    values = pa.table({"x": [1.5, None], "tier": ["a", "b"]})
    online_store.write("shops", 1, keys, values, pa.array([at(1), at(2)]))
    assert online_store.read("shops", 1, ["x", "tier"], [("us", 2), ("eu", 1)]) == {
        "x": [None, 1.5],
        "tier": ["b", "a"],
    }


# -- keys -----------------------------------------------------------------------------------------


def test_missing_keys_read_as_none(online_store: OnlineStore) -> None:
    online_store.write("spend", 1, [1], frame(x=[1.0], y=[2]), at(0))
    assert online_store.read_one("spend", 1, ["x"], 99) is None
    assert online_store.read("spend", 1, ["y", "x"], [99, 1, 98]) == {
        "y": [None, 2, None],
        "x": [None, 1.0, None],
    }
    assert online_store.read("spend", 1, ["x"], []) == {"x": []}


def test_many_keys_in_one_call_keep_their_order(online_store: OnlineStore) -> None:
    count = 2500  # more than one write chunk on Redis
    ids = np.arange(count, dtype=np.int64)
    online_store.write(
        "spend", 1, pd.DataFrame({"id": ids}), pd.DataFrame({"x": ids * 0.5, "n": ids}), at(0)
    )
    wanted = [*range(count - 1, -1, -3), count + 5, 0, 0]
    result = online_store.read("spend", 1, ["n", "x"], wanted)
    assert result["n"] == [k if k < count else None for k in wanted]
    assert result["x"] == [k * 0.5 if k < count else None for k in wanted]


def test_composite_keys_in_every_shape(online_store: OnlineStore) -> None:
    keys = pd.DataFrame({"region": ["eu", "eu", "us"], "shop": [1, 2, 1]})
    online_store.write("shops", 1, keys, frame(x=[1.0, 2.0, 3.0]), at(0))
    expected = {"x": [3.0, 1.0, None, None]}
    wanted = [("us", 1), ("eu", 1), ("us", 2), (1, "eu")]
    assert online_store.read("shops", 1, ["x"], wanted) == expected
    as_mapping = {"region": ["us", "eu", "us", 1], "shop": [1, 1, 2, "eu"]}
    assert online_store.read("shops", 1, ["x"], as_mapping) == expected
    as_numpy = [("us", np.int64(1)), ("eu", np.int32(1)), ("us", np.int64(2)), (1, "eu")]
    assert online_store.read("shops", 1, ["x"], as_numpy) == expected
    assert online_store.read_one("shops", 1, ["x"], ("eu", np.int64(2))) == {"x": 2.0}


def test_a_key_type_is_part_of_the_key(online_store: OnlineStore) -> None:
    online_store.write("spend", 1, [42, "42"], frame(x=[1.0, 2.0]), at(0))
    assert online_store.read("spend", 1, ["x"], [42, "42", (42,)]) == {"x": [1.0, 2.0, 1.0]}


def test_a_null_join_key_is_refused(online_store: OnlineStore) -> None:
    with pytest.raises(InvalidInput, match="missing"):
        online_store.write("spend", 1, [1, None], frame(x=[1.0, 2.0]), at(0))
    keys = pd.DataFrame({"id": pd.array([1, None], dtype="Int64")})
    with pytest.raises(InvalidInput, match="missing"):
        online_store.write("spend", 1, keys, frame(x=[1.0, 2.0]), at(0))


# -- versions, features, deleting -----------------------------------------------------------------


def test_versions_are_isolated(online_store: OnlineStore) -> None:
    online_store.write("spend", 1, [1], frame(x=[1.0]), at(0))
    online_store.write("spend", 2, [1], frame(x=[2.0], y=["new"]), at(0))
    online_store.write("spend_daily", 1, [1], frame(z=[3]), at(0))
    assert online_store.read_one("spend", 1, None, 1) == {"x": 1.0}
    assert online_store.read_one("spend", 2, None, 1) == {"x": 2.0, "y": "new"}
    online_store.delete_view("spend", 1)
    with pytest.raises(NotFound):
        online_store.read_one("spend", 1, None, 1)
    assert online_store.read_one("spend", 2, ["y"], 1) == {"y": "new"}
    assert online_store.read_one("spend_daily", 1, None, 1) == {"z": 3}


def test_a_version_keeps_its_feature_set(online_store: OnlineStore) -> None:
    online_store.write("spend", 1, [1], frame(x=[1.0], y=[1]), at(0))
    assert online_store.features("spend", 1) == ["x", "y"]
    # The same features in another column order are fine.
    online_store.write("spend", 1, [2], frame(y=[2], x=[2.0]), at(0))
    assert online_store.read_one("spend", 1, None, 2) == {"x": 2.0, "y": 2}
    with pytest.raises(InvalidInput, match=r"new: z; missing: y") as caught:
        online_store.write("spend", 1, [3], frame(x=[3.0], z=[3]), at(0))
    assert "new version" in str(caught.value.hint)
    assert online_store.read_one("spend", 1, None, 3) is None


def test_an_unknown_feature_is_named_with_close_ones(online_store: OnlineStore) -> None:
    online_store.write("spend", 1, [1], frame(avg_spend=[1.0], orders=[1]), at(0))
    with pytest.raises(InvalidInput, match="avg_spnd") as caught:
        online_store.read_one("spend", 1, ["avg_spnd"], 1)
    assert "Did you mean avg_spend?" in str(caught.value.hint)
    assert "orders" in str(caught.value.hint)
    with pytest.raises(InvalidInput, match="avg_spnd"):
        online_store.read("spend", 1, ["orders", "avg_spnd"], [1])


def test_a_view_never_written_is_not_found(online_store: OnlineStore) -> None:
    with pytest.raises(NotFound, match="materialize"):
        online_store.read("nothing", 1, ["x"], [1])
    with pytest.raises(NotFound):
        online_store.read_one("nothing", 1, None, 1)
    assert online_store.features("nothing", 1) is None


def test_delete_removes_rows_features_and_watermark(online_store: OnlineStore) -> None:
    online_store.write("spend", 1, [1, 2], frame(x=[1.0, 2.0]), at(0))
    online_store.set_watermark("spend", 1, at(1))
    online_store.delete_view("spend", 1)
    online_store.delete_view("spend", 1)  # deleting nothing is fine
    assert online_store.features("spend", 1) is None
    assert online_store.watermark("spend", 1) is None
    # The version can be written again, even with other features, and old rows are gone.
    online_store.write("spend", 1, [1], frame(y=["b"]), at(0))
    assert online_store.read("spend", 1, None, [1, 2]) == {"y": ["b", None]}


def test_another_store_on_the_same_data_sees_changes(
    open_store: Callable[[], OnlineStore],
) -> None:
    server, job = open_store(), open_store()
    job.write("spend", 1, [1], frame(x=[1.0]), at(0))
    assert server.read_one("spend", 1, None, 1) == {"x": 1.0}
    # The server has seen the old features; another process rebuilds the version differently.
    job.delete_view("spend", 1)
    job.write("spend", 1, [1], frame(a=["new"], x=[5.0]), at(0))
    assert server.read_one("spend", 1, None, 1) == {"a": "new", "x": 5.0}
    assert server.read("spend", 1, ["x"], [1]) == {"x": [5.0]}


# -- watermark ------------------------------------------------------------------------------------


def test_the_watermark_only_moves_forward(online_store: OnlineStore) -> None:
    assert online_store.watermark("spend", 1) is None
    assert online_store.set_watermark("spend", 1, at(5)) == at(5)
    assert online_store.set_watermark("spend", 1, at(2)) == at(5)
    assert online_store.watermark("spend", 1) == at(5)
    assert online_store.watermark("spend", 2) is None
    online_store.set_watermark("spend", 1, at(6))
    assert online_store.watermark("spend", 1) == at(6)


def test_the_watermark_is_utc_and_naive_means_utc(online_store: OnlineStore) -> None:
    paris = timezone(timedelta(hours=1))
    online_store.set_watermark("spend", 1, datetime(2026, 1, 1, 13, 0, tzinfo=paris))
    stored = online_store.watermark("spend", 1)
    assert stored == datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert stored is not None and stored.utcoffset() == timedelta(0)
    online_store.set_watermark("spend", 1, datetime(2026, 1, 1, 12, 30))
    assert online_store.watermark("spend", 1) == datetime(2026, 1, 1, 12, 30, tzinfo=UTC)


def test_a_watermark_before_any_write_leaves_the_view_unreadable(
    online_store: OnlineStore,
) -> None:
    # An incremental run over an empty window records how far it got, and writes no rows.
    online_store.set_watermark("spend", 1, at(1))
    with pytest.raises(NotFound):
        online_store.read_one("spend", 1, None, 1)
    online_store.write("spend", 1, [1], frame(x=[1.0]), at(0))
    assert online_store.read_one("spend", 1, None, 1) == {"x": 1.0}
    assert online_store.watermark("spend", 1) == at(1)


# -- event times ----------------------------------------------------------------------------------


def test_event_times_compare_in_utc(online_store: OnlineStore) -> None:
    tokyo = timezone(timedelta(hours=9))
    online_store.write("spend", 1, [1], frame(x=[1.0]), datetime(2026, 1, 1, 10, tzinfo=UTC))
    # 18:00 in Tokyo is 09:00 UTC: older, so ignored.
    online_store.write("spend", 1, [1], frame(x=[2.0]), datetime(2026, 1, 1, 18, tzinfo=tokyo))
    assert online_store.read_one("spend", 1, None, 1) == {"x": 1.0}
    # Naive 11:00 is taken as UTC: newer.
    online_store.write("spend", 1, [1], frame(x=[3.0]), [datetime(2026, 1, 1, 11)])
    assert online_store.read_one("spend", 1, None, 1) == {"x": 3.0}


def test_bad_event_times_are_refused(online_store: OnlineStore) -> None:
    values = frame(x=[1.0, 2.0])
    with pytest.raises(InvalidInput, match="naive"):
        online_store.write("spend", 1, [1, 2], values, [datetime(2026, 1, 1), at(1)])
    with pytest.raises(InvalidInput, match="NaT"):
        online_store.write("spend", 1, [1, 2], values, [at(1), None])
    with pytest.raises(InvalidInput, match="1 event times for 2 rows"):
        online_store.write("spend", 1, [1, 2], values, [at(1)])


# -- bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize("view", ["", "a:b", "spend*", "1spend", "a b"])
def test_a_bad_view_name_is_refused(online_store: OnlineStore, view: str) -> None:
    with pytest.raises(InvalidInput, match="not valid"):
        online_store.write(view, 1, [1], frame(x=[1.0]), at(0))
    with pytest.raises(InvalidInput, match="not valid"):
        online_store.read_one(view, 1, None, 1)


@pytest.mark.parametrize("version", [0, -1, True, "1"])
def test_a_bad_version_is_refused(online_store: OnlineStore, version: object) -> None:
    with pytest.raises(InvalidInput, match="version"):
        online_store.read_one("spend", version, None, 1)  # type: ignore[arg-type]


def test_keys_and_rows_must_match(online_store: OnlineStore) -> None:
    with pytest.raises(InvalidInput, match="3 entity keys for 2 rows"):
        online_store.write("spend", 1, [1, 2, 3], frame(x=[1.0, 2.0]), at(0))


def test_a_value_online_stores_cannot_hold_is_named(online_store: OnlineStore) -> None:
    with pytest.raises(InvalidInput, match="'items' holds"):
        online_store.write("spend", 1, [1], frame(x=[1.0], items=[[1, 2]]), at(0))
    durations = pd.DataFrame({"wait": pd.to_timedelta([1], unit="s")})
    with pytest.raises(InvalidInput, match="'wait' holds time differences"):
        online_store.write("spend", 1, [1], durations, at(0))
    assert online_store.features("spend", 1) is None  # nothing was written


def test_values_must_be_a_table_and_names_a_list(online_store: OnlineStore) -> None:
    with pytest.raises(InvalidInput, match="DataFrame"):
        online_store.write("spend", 1, [1], {"x": [1.0]}, at(0))
    online_store.write("spend", 1, [1], frame(x=[1.0]), at(0))
    with pytest.raises(InvalidInput, match="list of names"):
        online_store.read_one("spend", 1, "x", 1)  # type: ignore[arg-type]


def test_deleting_a_version_leaves_versions_and_views_that_share_its_prefix(
    online_store: OnlineStore,
) -> None:
    for view, version in [("spend", 1), ("spend", 11), ("spend_1", 1)]:
        online_store.write(view, version, [1], frame(x=[float(version)]), at(0))
        online_store.set_watermark(view, version, at(version))
    online_store.delete_view("spend", 1)
    assert online_store.read_one("spend", 11, None, 1) == {"x": 11.0}
    assert online_store.read_one("spend_1", 1, None, 1) == {"x": 1.0}
    assert online_store.watermark("spend", 11) == at(11)


def test_event_times_come_back_on_request(online_store: OnlineStore) -> None:
    online_store.write("spend", 1, [1, 2], frame(x=[1.0, 2.0]), [at(1), at(2)])
    assert online_store.read("spend", 1, ["x"], [2, 3, 1], event_time_column="ts") == {
        "x": [2.0, None, 1.0],
        "ts": [at(2), None, at(1)],
    }
    assert online_store.read_one("spend", 1, None, 1, event_time_column="ts") == {
        "x": 1.0,
        "ts": at(1),
    }
    assert online_store.read_one("spend", 1, None, 3, event_time_column="ts") is None
    assert online_store.read("spend", 1, None, [], event_time_column="ts") == {"x": [], "ts": []}
    with pytest.raises(InvalidInput, match="also a feature"):
        online_store.read("spend", 1, None, [1], event_time_column="x")


def test_an_empty_write_records_the_features(online_store: OnlineStore) -> None:
    empty = pd.DataFrame({"x": pd.Series([], dtype="float64"), "n": pd.Series([], dtype="int64")})
    assert online_store.write("spend", 1, [], empty, []) == 0
    assert online_store.features("spend", 1) == ["x", "n"]
    assert online_store.read("spend", 1, None, [1]) == {"x": [None], "n": [None]}


def test_threads_can_share_a_store(online_store: OnlineStore) -> None:
    from concurrent.futures import ThreadPoolExecutor

    online_store.write("spend", 1, list(range(100)), frame(x=[float(i) for i in range(100)]), at(0))

    def serve(worker: int) -> None:
        for i in range(200):
            key = (worker * 7 + i) % 100
            assert online_store.read_one("spend", 1, ["x"], key) == {"x": float(key)}

    def materialize() -> None:
        for hour in range(1, 20):
            online_store.write("other", 1, list(range(50)), frame(y=[hour] * 50), at(hour))

    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = [pool.submit(serve, w) for w in range(3)] + [pool.submit(materialize)]
        for future in futures:
            future.result()
    assert online_store.read_one("other", 1, None, 49) == {"y": 19}


def test_a_large_read_sets_off_no_garbage_collection(online_store: OnlineStore) -> None:
    """The 1,000-key read's temporaries are freed before the collector runs (see base.py)."""
    import gc

    keys = list(range(1000))
    values = pd.DataFrame({f"f{i}": [float(k) for k in keys] for i in range(10)})
    online_store.write("big", 1, keys, values, pd.Timestamp("2026-01-01", tz="UTC"))
    collections: list[int] = []

    def count(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            collections.append(info["generation"])

    for _ in range(2):  # first-call caches (statements, connections)
        online_store.read("big", 1, ["f3"], keys)
    gc.callbacks.append(count)
    try:
        for _ in range(20):
            got = online_store.read("big", 1, ["f3"], keys)
    finally:
        gc.callbacks.remove(count)
    # With the collector running, each read sets off about two; a few objects the loop itself
    # keeps may set off one.
    assert len(collections) <= 1, collections
    assert got["f3"] == [float(k) for k in keys]
    assert gc.isenabled()
    gc.disable()
    try:
        online_store.read("big", 1, ["f3"], keys)
        assert not gc.isenabled()  # a collector switched off by the caller stays off
    finally:
        gc.enable()
