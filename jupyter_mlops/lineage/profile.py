"""The reference profile of training data: a few hundred numbers per feature.

Stored with a model version at registration so that monitoring can compare live inputs with what
the model was trained on, without keeping the training data itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field

if TYPE_CHECKING:
    import pandas as pd

QUANTILES = [i / 20 for i in range(21)]
TOP_CATEGORIES = 50
HISTOGRAM_BINS = 10


class FeatureProfile(BaseModel):
    """The reference distribution of one input column of the training data."""

    name: str
    kind: Literal["numeric", "categorical"]
    dtype: str
    count: int = Field(description="rows")
    null_rate: float
    mean: float | None = None
    std: float | None = None
    min: float | None = None
    max: float | None = None
    quantiles: list[float] | None = Field(
        default=None, description="values at probabilities 0, 0.05, ..., 1 (21 points)"
    )
    histogram_edges: list[float] | None = None
    histogram_counts: list[int] | None = None
    categories: dict[str, float] | None = Field(
        default=None, description="share of non-null rows per value (top 50; the rest '__other__')"
    )


class ReferenceProfile(BaseModel):
    """A compact profile of a model's training data, for drift monitoring."""

    rows: int
    source: str = Field(description="where the data came from, e.g. 'training frame of run ...'")
    features: list[FeatureProfile]


def profile_frame(
    frame: pd.DataFrame, *, columns: list[str] | None = None, source: str = ""
) -> ReferenceProfile:
    """Profile the columns of a training frame (all of them by default).

    Numbers (integers, floats) get quantiles, a decile histogram and moments; booleans, strings
    and categories get value shares. Datetime columns are skipped: they are keys, not inputs.

    Example:
        >>> profile_frame(frame[["tenure_months", "autopay"]]).features[0].quantiles[10]
        24.0                                                            # doctest: +SKIP
    """
    import numpy as np
    import pandas as pd

    out: list[FeatureProfile] = []
    rows = len(frame)
    for name in columns if columns is not None else list(frame.columns):
        series = frame[name]
        dtype = str(series.dtype)
        if pd.api.types.is_datetime64_any_dtype(series.dtype):
            continue
        nulls = int(series.isna().sum())
        null_rate = nulls / rows if rows else 0.0
        numeric = pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(
            series.dtype
        )
        if numeric:
            values = series.dropna().to_numpy(dtype="float64", na_value=np.nan)
            values = values[np.isfinite(values)]
            profile = FeatureProfile(
                name=str(name), kind="numeric", dtype=dtype, count=rows, null_rate=null_rate
            )
            if values.size:
                quantiles = np.quantile(values, QUANTILES)
                edges = np.unique(quantiles[:: 20 // HISTOGRAM_BINS])
                counts = (
                    np.histogram(values, bins=edges)[0]
                    if edges.size > 1
                    else np.array([values.size])
                )
                profile.mean = float(values.mean())
                profile.std = float(values.std())
                profile.min = float(values.min())
                profile.max = float(values.max())
                profile.quantiles = [float(q) for q in quantiles]
                profile.histogram_edges = [float(e) for e in edges]
                profile.histogram_counts = [int(c) for c in counts]
            out.append(profile)
            continue
        shares = series.dropna().astype("string").value_counts(normalize=True)
        top = {str(k): float(v) for k, v in shares.head(TOP_CATEGORIES).items()}
        rest = float(shares.iloc[TOP_CATEGORIES:].sum()) if len(shares) > TOP_CATEGORIES else 0.0
        if rest:
            top["__other__"] = rest
        out.append(
            FeatureProfile(
                name=str(name),
                kind="categorical",
                dtype=dtype,
                count=rows,
                null_rate=null_rate,
                categories=top,
            )
        )
    return ReferenceProfile(rows=rows, source=source, features=out)
