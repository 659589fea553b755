"""Fixtures of the feature tests: a feature store with a customer entity and two views."""

from __future__ import annotations

import pandas as pd
import pytest

from jupyter_mlops import Workspace
from jupyter_mlops.features import Entity, FeatureStore, FeatureView, Field


@pytest.fixture
def store(workspace: Workspace) -> FeatureStore:
    return FeatureStore(workspace)


@pytest.fixture
def customer() -> Entity:
    return Entity("customer", ["customer_id"], description="a paying customer")


@pytest.fixture
def spend_view(customer: Entity) -> FeatureView:
    """Ingested; 30-day TTL; an int, a float, a bool and a string feature."""
    return FeatureView(
        name="customer_spend",
        entities=[customer],
        timestamp_field="event_timestamp",
        features=[
            Field("orders", "int64"),
            Field("avg_spend", "float64"),
            Field("is_vip", "bool"),
            Field("segment", "string"),
        ],
        ttl="30d",
        owner="growth",
    )


def ts(*values: str) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(pd.to_datetime(list(values), format="ISO8601"))


def spend_rows() -> pd.DataFrame:
    """Customer 1 changes on Jan 1, Jan 10 and Mar 1; customer 2 has one row on Jan 5."""
    return pd.DataFrame(
        {
            "customer_id": [1, 1, 1, 2],
            "event_timestamp": ts("2026-01-01", "2026-01-10", "2026-03-01", "2026-01-05"),
            "orders": [1, 2, 3, 7],
            "avg_spend": [10.0, 20.0, 30.0, 70.0],
            "is_vip": [False, True, True, False],
            "segment": ["new", "active", "active", "lapsed"],
        }
    )
