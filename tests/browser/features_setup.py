"""Build the feature views the browser tests look at, in a workspace, with the Python API.

Run as a script (``python features_setup.py <workspace>``) so that MLflow's global state and
warnings stay out of the pytest process. It makes:

- ``customer_spend`` (entity ``customer``, 30-day TTL): v1 with three features, then a changed
  definition (one feature added, the TTL changed) applied as v2; rows ingested from January 2026,
  so it is stale. One tracked run builds a training frame from v2.
- ``product_popularity`` (entity ``product``, 7-day TTL): one version, rows up to an hour ago,
  so it is fresh.

The run goes to MLflow's "Default" experiment, which the Experiments panel does not open by
default: the experiments tests see only their own runs.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import mlflow
import pandas as pd

from jupyter_mlops import Workspace
from jupyter_mlops.features import Entity, FeatureView, Field

SPEND_VIEW = "customer_spend"
PRODUCT_VIEW = "product_popularity"
USAGE_RUN = "train-with-features"
# Features ticked by the test, and the view versions their pinned references name.
TICKED = ("orders", "avg_spend")
SPEND_VERSIONS = 2

customer = Entity("customer", ["customer_id"], description="a paying customer")
product = Entity("product", ["product_id"], description="an item in the catalogue")


def spend_view(version: int) -> FeatureView:
    """v1: orders, avg_spend, segment (30d TTL); v2 adds is_vip and keeps values 45 days."""
    features = [
        Field("orders", "int64", description="orders in the last 90 days"),
        Field("avg_spend", "float64", description="mean order value"),
        Field("segment", "string"),
    ]
    if version >= 2:
        features.append(Field("is_vip", "bool"))
    return FeatureView(
        name=SPEND_VIEW,
        entities=[customer],
        timestamp_field="event_timestamp",
        features=features,
        ttl="30d" if version == 1 else "45d",
        description="Spending of each customer, refreshed by the nightly batch.",
        owner="growth",
        tags={"team": "growth", "pii": "no"},
    )


def product_view() -> FeatureView:
    return FeatureView(
        name=PRODUCT_VIEW,
        entities=[product],
        timestamp_field="event_timestamp",
        features=[
            Field("views_7d", "int64"),
            Field("conversion_rate", "float64"),
            Field("category", "string"),
        ],
        ttl="7d",
        description="How often each product is seen and bought.",
        owner="catalogue",
    )


def spend_rows() -> pd.DataFrame:
    n = 40
    return pd.DataFrame(
        {
            "customer_id": [i % 10 + 1 for i in range(n)],
            "event_timestamp": pd.date_range("2026-01-01", periods=n, freq="12h"),
            "orders": [i % 7 for i in range(n)],
            # Every tenth value is missing: the panel shows a null rate.
            "avg_spend": [None if i % 10 == 0 else 10.0 + 2.5 * i for i in range(n)],
            "segment": [("new", "active", "active", "lapsed")[i % 4] for i in range(n)],
            "is_vip": [i % 5 == 0 for i in range(n)],
        }
    )


def product_rows() -> pd.DataFrame:
    # Naive UTC event times, the last one an hour ago: within the 7-day TTL.
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    n = 24
    return pd.DataFrame(
        {
            "product_id": [i % 6 + 100 for i in range(n)],
            "event_timestamp": [now - timedelta(hours=n - i) for i in range(n)],
            "views_7d": [50 + 10 * i for i in range(n)],
            "conversion_rate": [0.01 * (i % 9) for i in range(n)],
            "category": [("books", "games", "garden")[i % 3] for i in range(n)],
        }
    )


def main(root: Path) -> None:
    ws = Workspace.open(root)
    store = ws.features
    store.apply([customer, product, spend_view(1), product_view()])
    store.apply([customer, product, spend_view(2), product_view()])
    store.ingest(SPEND_VIEW, spend_rows())
    store.ingest(PRODUCT_VIEW, product_rows())

    mlflow.set_tracking_uri(ws.tracking_uri)
    entities = pd.DataFrame(
        {
            "customer_id": [1, 2, 3],
            "event_timestamp": pd.to_datetime(["2026-01-10", "2026-01-15", "2026-01-20"]),
        }
    )
    with mlflow.start_run(run_name=USAGE_RUN):
        store.get_training_frame(entities, [f"{SPEND_VIEW}:{name}" for name in TICKED])


if __name__ == "__main__":
    main(Path(sys.argv[1]))
