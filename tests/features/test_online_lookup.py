"""Online lookups serve what a training frame built "now" would hold, from the online store.

The rows are dated relative to the test's start, since the TTL is measured against the clock.
Each test runs on SQLite and on Redis (a real ``redis-server``, marked ``service``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta

import pandas as pd
import pytest

from jupyter_mlops import Workspace
from jupyter_mlops.errors import InvalidInput, NotFound
from jupyter_mlops.features import Entity, FeatureStore, FeatureView, Field

NOW = pd.Timestamp.now("UTC").tz_localize(None).floor("s")


def ago(days: float) -> pd.Timestamp:
    return NOW - pd.Timedelta(days=days)


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.service)])
def features(request: pytest.FixtureRequest, workspace: Workspace) -> Iterator[FeatureStore]:
    """The workspace's feature store on the online backend under test."""
    if request.param == "redis":
        server = request.getfixturevalue("redis_server")
        workspace.config.features.online_store = server.url
        workspace.config.features.online_namespace = f"test-{uuid.uuid4().hex[:12]}"
    store = workspace.features
    yield store
    store.close()


@pytest.fixture
def shop() -> Entity:
    return Entity("shop", ["region", "shop_id"])


@pytest.fixture
def served(
    features: FeatureStore, spend_view: FeatureView, shop: Entity, customer: Entity
) -> FeatureStore:
    """customer_spend (30-day TTL) and shop_sales (composite key, no TTL), materialized."""
    sales = FeatureView(
        name="shop_sales",
        entities=[shop],
        features=[Field("revenue", "float64"), Field("orders", "int64")],
    )
    features.apply([customer, shop, spend_view, sales])
    features.ingest(
        "customer_spend",
        pd.DataFrame(
            {
                # 1: an old value and a newer one; 2: only a value older than the TTL;
                # 3: a value from the future (not yet true now).
                "customer_id": [1, 1, 2, 3],
                "event_timestamp": [ago(40), ago(5), ago(45), ago(-1)],
                "orders": [1, 2, 3, 4],
                "avg_spend": [10.0, 20.0, 30.0, 40.0],
                "is_vip": [False, True, True, False],
                "segment": ["new", "active", "lapsed", "new"],
            }
        ),
    )
    features.ingest(
        "shop_sales",
        pd.DataFrame(
            {
                "region": ["eu", "eu", "us"],
                "shop_id": [7, 8, 7],
                "event_timestamp": [ago(400), ago(2), ago(3)],
                "revenue": [100.0, 200.0, 300.0],
                "orders": [10, 20, 30],
            }
        ),
    )
    features.materialize()
    return features


SPEND = ["customer_spend:orders", "customer_spend:avg_spend", "customer_spend:is_vip"]


def test_matches_a_training_frame_built_now(served: FeatureStore) -> None:
    refs = [*SPEND, "customer_spend:segment"]
    ids = [1, 2, 3, 4]
    online = served.get_online_features(refs, [{"customer_id": i} for i in ids])
    entities = pd.DataFrame({"customer_id": ids, "event_timestamp": [NOW] * len(ids)})
    offline = served.get_training_frame(entities, refs)
    assert list(online.columns) == ["customer_id", "orders", "avg_spend", "is_vip", "segment"]
    pd.testing.assert_frame_equal(online, offline.drop(columns="event_timestamp"))
    # 1: the newer value; 2: expired by the TTL; 3: only a future value; 4: unknown.
    assert online["orders"].tolist() == [2, pd.NA, pd.NA, pd.NA]


def test_one_entity_and_the_dict_path(served: FeatureStore) -> None:
    one = served.get_online_features_dict(SPEND, [{"customer_id": 1}])
    assert one == {"customer_id": [1], "orders": [2], "avg_spend": [20.0], "is_vip": [True]}
    many = served.get_online_features_dict(SPEND, [{"customer_id": 1}, {"customer_id": 2}])
    assert many["orders"] == [2, None]  # 2 is older than the TTL
    assert served.get_online_features_dict(SPEND, [{"customer_id": 2}])["orders"] == [None]
    assert served.get_online_features_dict(SPEND, [{"customer_id": 99}])["is_vip"] == [None]
    assert served.get_online_features_dict(SPEND, [])["orders"] == []


def test_composite_keys_and_several_views(served: FeatureStore) -> None:
    rows = pd.DataFrame(
        {
            "customer_id": [1, 3],
            "region": ["eu", "us"],
            "shop_id": [8, 8],
            "extra": ["ignored", "ignored"],
        },
        index=[10, 20],
    )
    out = served.get_online_features(
        ["customer_spend:orders", "shop_sales:revenue", "shop_sales:orders"],
        rows,
        full_names=True,
    )
    assert list(out.columns) == [
        "customer_id",
        "region",
        "shop_id",
        "customer_spend__orders",
        "shop_sales__revenue",
        "shop_sales__orders",
    ]
    assert out.index.tolist() == [10, 20]
    assert out["shop_sales__revenue"].tolist()[0] == 200.0
    assert pd.isna(out["shop_sales__revenue"].tolist()[1])  # no shop us/8
    # No TTL: a 400-day-old value is served.
    one = served.get_online_features_dict(["shop_sales:revenue"], [{"region": "eu", "shop_id": 7}])
    assert one == {"region": ["eu"], "shop_id": [7], "revenue": [100.0]}


def test_bad_input(served: FeatureStore, customer: Entity) -> None:
    with pytest.raises(InvalidInput, match="Entity row 1 lacks the join key 'customer_id'") as err:
        served.get_online_features(SPEND, [{"customer_id": 1}, {"customer": 2}])
    assert "Did you mean 'customer'" in (err.value.hint or "")
    with pytest.raises(InvalidInput, match="lack the join key 'shop_id'"):
        served.get_online_features(["shop_sales:revenue"], pd.DataFrame({"region": ["eu"]}))
    with pytest.raises(InvalidInput, match="would be column 'orders'"):
        served.get_online_features(["customer_spend:orders", "shop_sales:orders"], [])
    with pytest.raises(InvalidInput, match="list of"):
        served.get_online_features(SPEND, {"customer_id": 1})  # type: ignore[arg-type]
    with pytest.raises(NotFound, match="customer_spnd"):
        served.get_online_features(["customer_spnd:orders"], [{"customer_id": 1}])
    fresh = FeatureView(name="fresh", entities=[customer], features=[Field("x", "int64")])
    served.apply([fresh])
    with pytest.raises(NotFound, match="nothing in the online store"):
        served.get_online_features(["fresh:x"], [{"customer_id": 1}])


def test_a_new_version_is_resolved_after_apply(
    served: FeatureStore, spend_view: FeatureView
) -> None:
    assert served.get_online_features_dict(["customer_spend:orders"], [{"customer_id": 1}])
    v2 = spend_view.model_copy(update={"ttl": timedelta(days=7)})
    served.apply([v2])
    # The cached lookup follows the registry: v2 is not materialized yet.
    with pytest.raises(NotFound, match="v2 has nothing in the online store"):
        served.get_online_features_dict(["customer_spend:orders"], [{"customer_id": 1}])
    pinned = served.get_online_features_dict(["customer_spend:v1:orders"], [{"customer_id": 1}])
    assert pinned["orders"] == [2]
    served.materialize(["customer_spend"])
    again = served.get_online_features_dict(["customer_spend:orders"], [{"customer_id": 1}])
    assert again["orders"] == [2]
