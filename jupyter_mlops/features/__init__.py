"""Feature views, their versions, the offline store (DuckDB over Parquet) and usage.

Importing this package is cheap: its names load on first use (PEP 562), so a model server
replica that imports only :mod:`jupyter_mlops.features.online` loads nothing else of it; DuckDB,
pandas and MLflow load when first used.

Example:
    >>> from jupyter_mlops.features import Entity, FeatureView, Field, FeatureStore
    >>> store = ws.features                                              # doctest: +SKIP
    >>> store.apply([customer, customer_stats])                          # doctest: +SKIP
    >>> frame = store.get_training_frame(entities, ["customer_stats:avg_spend"])  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jupyter_mlops.features.definitions import (
        CsvSource,
        Entity,
        FeatureView,
        Field,
        ParquetSource,
    )
    from jupyter_mlops.features.service import FeatureStore

__all__ = ["CsvSource", "Entity", "FeatureStore", "FeatureView", "Field", "ParquetSource"]

_HOME = {
    "CsvSource": "jupyter_mlops.features.definitions",
    "Entity": "jupyter_mlops.features.definitions",
    "FeatureView": "jupyter_mlops.features.definitions",
    "Field": "jupyter_mlops.features.definitions",
    "ParquetSource": "jupyter_mlops.features.definitions",
    "FeatureStore": "jupyter_mlops.features.service",
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'jupyter_mlops.features' has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
