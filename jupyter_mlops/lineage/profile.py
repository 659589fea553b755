"""The reference profile of training data: enough of each column's distribution to test drift.

Stored with a model version at registration so that monitoring can compare live inputs with what
the model was trained on, without keeping the training data itself.

Format 2 (this one) keeps, per numeric column, an exact cumulative-count sketch: about 1,000
cut points (the order statistics at probabilities 0, 0.001, ..., 1, or every distinct value when
there are fewer) with the exact number of finite values at or below each, so every drift test can
bin live values into the same cells and know the reference's counts in them exactly. A frequent
exact value (a point mass, such as the 0 of a zero-inflated column) gets a cell of its own. Missing
values and +/-inf are counted apart; every other number is computed on finite values only. Per
categorical column it keeps the count of every level up to :data:`MAX_CATEGORIES`. A column of
50,000 distinct floats takes about 40 KB of JSON.

Format 1 (versions registered before) kept 21 quantiles and the top 50 categories: too coarse for
the drift tests, which refuse it (:func:`require_current_format`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field

from jupyter_mlops.errors import InvalidInput

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

PROFILE_FORMAT = 2
SKETCH_POINTS = 1001
"""Cut points of a numeric sketch: probabilities 0, 0.001, ..., 1."""
QUANTILES = [i / 20 for i in range(21)]
MAX_CATEGORIES = 10_000
"""Levels kept per categorical column; rarer ones are counted together as :data:`OTHER`."""
OTHER = "__other__"
POINT_MASS_SHARE = 1 / 2000
"""An exact value holding at least this share of finite values gets a sketch cell of its own."""


class FeatureProfile(BaseModel):
    """The reference distribution of one input column of the training data.

    Numeric columns: ``edges`` (increasing cut points, each a value of the data) and
    ``cumulative`` (how many finite values are <= each edge; the last is ``finite_count``).
    Categorical columns: ``categories`` (share of non-null rows per level) and ``level_count``
    (the non-null rows those shares are of).
    """

    name: str
    kind: Literal["numeric", "categorical"]
    dtype: str
    count: int = Field(description="rows, missing values included")
    null_count: int = 0
    null_rate: float
    posinf_count: int = Field(default=0, description="numeric: rows holding +inf")
    neginf_count: int = Field(default=0, description="numeric: rows holding -inf")
    finite_count: int = Field(default=0, description="numeric: rows holding a finite number")
    mean: float | None = Field(default=None, description="of finite values")
    std: float | None = None
    min: float | None = None
    max: float | None = None
    quantiles: list[float] | None = Field(
        default=None, description="finite values at probabilities 0, 0.05, ..., 1 (21 points)"
    )
    edges: list[float] | None = Field(
        default=None, description="numeric sketch: increasing cut points (values of the data)"
    )
    cumulative: list[int] | None = Field(
        default=None, description="numeric sketch: finite values <= each edge"
    )
    exact: bool = Field(
        default=False, description="numeric sketch: the edges are every distinct finite value"
    )
    categories: dict[str, float] | None = Field(
        default=None,
        description=f"share of non-null rows per level, most frequent first (at most "
        f"{MAX_CATEGORIES:,} levels; the rest counted together as '{OTHER}')",
    )
    level_count: int = Field(default=0, description="categorical: non-null rows")

    def category_counts(self) -> dict[str, int]:
        """The rows per level (``categories`` times ``level_count``, exact)."""
        return {k: round(v * self.level_count) for k, v in (self.categories or {}).items()}


class ReferenceProfile(BaseModel):
    """A profile of a model's training data, for drift monitoring.

    Example:
        >>> profile = profile_frame(train)                                  # doctest: +SKIP
        >>> profile.format, len(profile.model_dump_json())                  # doctest: +SKIP
        (2, 40213)
    """

    format: int = Field(
        default=1,
        description=f"{PROFILE_FORMAT}: sketches for drift tests (profile_frame writes it); 1: 21 "
        "quantiles and top-50 categories, the files written before this field existed",
    )
    rows: int
    source: str = Field(description="where the data came from, e.g. 'training frame of run ...'")
    features: list[FeatureProfile]

    def feature(self, name: str) -> FeatureProfile | None:
        """The profile of one column, or None."""
        for f in self.features:
            if f.name == name:
                return f
        return None


class OutdatedProfile(InvalidInput):
    """A reference profile written in a format too coarse for drift tests."""

    kind = "OutdatedProfile"


def require_current_format(profile: ReferenceProfile, *, label: str = "") -> None:
    """Raise :class:`OutdatedProfile` unless ``profile`` is in the current format.

    Args:
        label: what the profile belongs to (``"churn:3"``), for the message and the hint.
    """
    if profile.format >= PROFILE_FORMAT:
        return
    what = f"The reference profile of {label}" if label else "This reference profile"
    target = label or "NAME:VERSION"
    raise OutdatedProfile(
        f"{what} is in format {profile.format}, written before drift monitoring: it keeps 21 "
        "quantiles and the top 50 categories, too little to test drift",
        hint=f"Profile the version again from its training data: `jupyter mlops models profile "
        f"{target} --data PATH` (Parquet or CSV), or register it again with "
        "training_data=DataFrame.",
        field="reference",
    )


def profile_frame(
    frame: pd.DataFrame, *, columns: list[str] | None = None, source: str = ""
) -> ReferenceProfile:
    """Profile the columns of a training frame (all of them by default).

    Numbers (integers, floats) get a cumulative-count sketch, 21 quantiles and moments; booleans,
    strings and categories get level counts. Datetime columns are skipped: they are keys, not
    inputs.

    Example:
        >>> profile_frame(frame[["tenure_months", "autopay"]]).features[0].quantiles[10]
        24.0                                                            # doctest: +SKIP
    """
    import pandas as pd

    out: list[FeatureProfile] = []
    rows = len(frame)
    for name in columns if columns is not None else list(frame.columns):
        series = frame[name]
        if pd.api.types.is_datetime64_any_dtype(series.dtype):
            continue
        if is_numeric(series):
            out.append(_numeric_profile(str(name), series))
        else:
            out.append(_categorical_profile(str(name), series))
    return ReferenceProfile(format=PROFILE_FORMAT, rows=rows, source=source, features=out)


def is_numeric(series: pd.Series) -> bool:
    """Whether a column is profiled as numbers (integers and floats; not booleans)."""
    import pandas as pd

    return bool(
        pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype)
    )


def as_float_array(series: pd.Series) -> np.ndarray:
    """A numeric column as float64, missing values as NaN (text that is no number too)."""
    import numpy as np
    import pandas as pd

    if not is_numeric(series):
        series = pd.to_numeric(series, errors="coerce")
    return np.asarray(series.to_numpy(dtype="float64", na_value=np.nan), dtype="float64")


def numeric_sketch(ordered: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
    """The cut points and cumulative counts of sorted finite values, and whether the cut points
    are every distinct value.

    Every distinct value when there are at most :data:`SKETCH_POINTS`; else the order statistics
    at probabilities 0, 0.001, ..., 1, plus, before each point mass, the largest float below it,
    so that the point mass has a cell of its own.
    """
    import numpy as np

    n = ordered.size
    if n == 0:
        return np.empty(0), np.empty(0, dtype="int64"), True
    distinct = np.flatnonzero(np.diff(ordered)) + 1
    if distinct.size < SKETCH_POINTS:
        edges = ordered[np.append(distinct - 1, n - 1)]
        return edges, np.searchsorted(ordered, edges, side="right"), True
    positions = np.round(np.arange(SKETCH_POINTS) / (SKETCH_POINTS - 1) * (n - 1)).astype("int64")
    edges = np.unique(ordered[positions])
    below = np.searchsorted(ordered, edges, side="left")
    upto = np.searchsorted(ordered, edges, side="right")
    # A point mass with other values between it and the previous edge: cut just below it.
    heavy = (upto - below) >= max(2, int(np.ceil(POINT_MASS_SHARE * n)))
    gap = below > np.concatenate([[0], upto[:-1]])
    cut = heavy & gap
    if cut.any():
        extra = np.nextafter(edges[cut], -np.inf)
        edges = np.concatenate([edges, extra])
        counts = np.concatenate([upto, below[cut]])
        order = np.argsort(edges, kind="stable")
        return edges[order], counts[order], False
    return edges, upto, False


def _numeric_profile(name: str, series: pd.Series) -> FeatureProfile:
    import numpy as np

    values = as_float_array(series)
    rows = values.size
    nan = np.isnan(values)
    nulls = int(nan.sum())
    posinf = int(np.isposinf(values).sum())
    neginf = int(np.isneginf(values).sum())
    finite = np.sort(values[np.isfinite(values)])
    profile = FeatureProfile(
        name=name,
        kind="numeric",
        dtype=str(series.dtype),
        count=rows,
        null_count=nulls,
        null_rate=nulls / rows if rows else 0.0,
        posinf_count=posinf,
        neginf_count=neginf,
        finite_count=int(finite.size),
    )
    if finite.size:
        edges, cumulative, exact = numeric_sketch(finite)
        profile.mean = float(finite.mean())
        profile.std = float(finite.std())
        profile.min = float(finite[0])
        profile.max = float(finite[-1])
        profile.quantiles = [float(q) for q in np.quantile(finite, QUANTILES)]
        profile.edges = edges.tolist()
        profile.cumulative = cumulative.tolist()
        profile.exact = exact
    return profile


def _categorical_profile(name: str, series: pd.Series) -> FeatureProfile:
    rows = len(series)
    present = series.dropna()
    counts = present.astype("string").value_counts()
    levels = {str(k): int(v) for k, v in counts.head(MAX_CATEGORIES).items()}
    rest = int(counts.iloc[MAX_CATEGORIES:].sum()) if len(counts) > MAX_CATEGORIES else 0
    if rest:
        levels[OTHER] = levels.get(OTHER, 0) + rest
    total = len(present)
    nulls = rows - total
    return FeatureProfile(
        name=name,
        kind="categorical",
        dtype=str(series.dtype),
        count=rows,
        null_count=nulls,
        null_rate=nulls / rows if rows else 0.0,
        categories={k: v / total for k, v in levels.items()},
        level_count=total,
    )
