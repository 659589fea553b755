"""Feature views, their versions, the offline store (DuckDB over Parquet) and usage.

Importing this package is cheap: DuckDB, pandas and MLflow load when first used.

Example:
    >>> from jupyter_mlops.features import Entity, FeatureView, Field, FeatureStore
    >>> store = ws.features                                              # doctest: +SKIP
    >>> store.apply([customer, customer_stats])                          # doctest: +SKIP
    >>> frame = store.get_training_frame(entities, ["customer_stats:avg_spend"])  # doctest: +SKIP
"""

from __future__ import annotations

from jupyter_mlops.features.definitions import (
    CsvSource,
    Entity,
    FeatureView,
    Field,
    ParquetSource,
)
from jupyter_mlops.features.service import FeatureStore

__all__ = ["CsvSource", "Entity", "FeatureStore", "FeatureView", "Field", "ParquetSource"]
