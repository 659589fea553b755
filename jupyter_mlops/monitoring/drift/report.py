"""The drift report: every feature's tests against a reference, with one verdict each.

The rule, by default:

- **Which test.** Numbers: ``ks`` (Kolmogorov-Smirnov); numbers with at most 20 distinct values
  in the reference (flags, small counts) and categories: ``chi2``, whose cells are pooled until
  each expects 5 rows in the smaller sample - so the sample size decides how finely a column is
  tested: a 5,000-row window tests a 500-level column on the levels it can see, a 100,000-row
  window on all of them. Categories with more than 20 levels tested by ``chi2`` also get
  ``rank_ks``, a KS test over the levels ordered from the most frequent to the rarest: a
  chi-square over hundreds of sparse cells cannot see rows moving between a long tail and the
  head, which this sees as one gap. Every column also gets ``missing_rate`` (dropping NaNs
  before a test would hide a rise in them) and numbers ``infinite_rate``; a feature drifted
  when any of its checks did.
- **Thresholds.** The p-value checks share a family-wise alpha of 0.01 (Bonferroni): each is
  drifted below ``0.01 / k``, k the number of p-value checks in the report that could reject (a
  rate check counts only when either sample has such values). With 55 columns that is about
  1e-4 a check, and a false alarm anywhere in the report about 1 in 100. A p-value check also
  needs a minimal effect (``min_effect``: a KS gap of 0.01, for ``ks`` and ``rank_ks``, a
  change in a missing or infinite rate of 0.005 and 0.001): with windows of millions of rows a
  p-value flags differences nobody would act on. Distance tests use fixed thresholds: ``psi``
  0.2, ``jensen_shannon`` 0.1, ``wasserstein`` 0.1 (in reference standard deviations).
- **Per feature** ``tests`` picks another test and ``thresholds`` another threshold (a p-value
  for a p-value test, used as is, or a distance).

Statuses: ``ok``, ``drifted``, ``missing_in_current`` (a profiled column the window lacks),
``missing_in_reference`` (a column with no profile, e.g. a model output the reference never
saw), ``no_data`` (no values to test on either side). Only ``ok`` and ``drifted`` features count
in ``drift_share``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from jupyter_mlops.errors import InvalidInput
from jupyter_mlops.lineage.profile import (
    FeatureProfile,
    ReferenceProfile,
    profile_frame,
    require_current_format,
)
from jupyter_mlops.monitoring.drift.stattests import DriftTest, TestResult, get_test

if TYPE_CHECKING:
    import pandas as pd

    from jupyter_mlops.monitoring.drift.binning import Chart
    from jupyter_mlops.monitoring.drift.stattests import Cells

FeatureStatus = Literal["ok", "drifted", "missing_in_current", "missing_in_reference", "no_data"]
DISCRETE_LEVELS = 20
"""Numbers with at most this many distinct reference values are tested as categories."""
MANY_LEVELS = 20
"""Categories with more reference levels than this get ``rank_ks`` besides ``chi2``."""
FRAME_COLUMNS = [
    "feature",
    "kind",
    "status",
    "test",
    "statistic",
    "p_value",
    "threshold",
    "drifted",
    "drifted_by",
    "reference_rows",
    "current_rows",
    "missing_rate_reference",
    "missing_rate_current",
    "infinite_count",
    "message",
]


class DriftThresholds(BaseModel):
    """The thresholds of a report: defaults, overridden per feature."""

    alpha: float = Field(
        default=0.01,
        gt=0,
        lt=1,
        description="family-wise false-alarm rate of the report's p-value checks (Bonferroni)",
    )
    distance: dict[str, float] = Field(
        default_factory=lambda: {"psi": 0.2, "jensen_shannon": 0.1, "wasserstein": 0.1},
        description="threshold of each distance test",
    )
    min_effect: dict[str, float] = Field(
        default_factory=lambda: {
            "ks": 0.01,
            "rank_ks": 0.01,
            "missing_rate": 0.005,
            "infinite_rate": 0.001,
        },
        description="a p-value check also needs |statistic| at least this large",
    )
    features: dict[str, float] = Field(
        default_factory=dict, description="per-feature threshold of its main test"
    )


class DriftCheck(BaseModel):
    """One test of one feature."""

    test: str
    statistic: float | None
    p_value: float | None = None
    threshold: float
    drifted: bool


class DriftChart(BaseModel):
    """A reference-vs-current chart of one feature: the share of all rows in each bin."""

    bins: list[str]
    reference: list[float]
    current: list[float]
    edges: list[float] | None = Field(
        default=None, description="numeric: the bins' edges (the first and last bins are open)"
    )


class FeatureDrift(BaseModel):
    """The drift of one feature: its main test, its other checks and the verdict."""

    feature: str
    kind: Literal["numeric", "categorical"] | None = None
    status: FeatureStatus
    test: str | None = Field(default=None, description="the main test")
    statistic: float | None = None
    p_value: float | None = None
    threshold: float | None = None
    drifted: bool = False
    drifted_by: list[str] = Field(default_factory=list, description="the checks that fired")
    reference_rows: int = 0
    current_rows: int = 0
    missing_rate_reference: float | None = None
    missing_rate_current: float | None = None
    infinite_count: int = Field(default=0, description="+/-inf values in the current window")
    infinite_count_reference: int = 0
    checks: list[DriftCheck] = Field(default_factory=list)
    chart: DriftChart | None = None
    message: str | None = None


class DriftReport(BaseModel):
    """Drift of a window against a reference, feature by feature.

    Example:
        >>> report = drift_report(train, last_hour)                         # doctest: +SKIP
        >>> report.drift_share, report.to_frame().query("drifted")          # doctest: +SKIP
    """

    status: Literal["ok", "drifted", "no_data"]
    message: str | None = None
    reference_source: str = ""
    reference_rows: int
    current_rows: int
    alpha: float = Field(description="family-wise alpha of the p-value checks")
    check_alpha: float = Field(description="the threshold of each p-value check (alpha / k)")
    drift_share: float | None = Field(
        default=None, description="share of tested features that drifted; None if none tested"
    )
    drifted: list[str] = Field(default_factory=list)
    features: list[FeatureDrift] = Field(default_factory=list)

    def feature(self, name: str) -> FeatureDrift:
        """The result of one feature."""
        for f in self.features:
            if f.feature == name:
                return f
        from jupyter_mlops.errors import NotFound, did_you_mean

        raise NotFound(
            f"The drift report has no feature {name!r}",
            hint=did_you_mean(name, [f.feature for f in self.features], listing="Features"),
            field="feature",
        )

    def to_frame(self) -> pd.DataFrame:
        """One row per feature: the main test, its statistic, p-value, threshold and verdict."""
        import pandas as pd

        rows = []
        for f in self.features:
            row: dict[str, Any] = f.model_dump(include=set(FRAME_COLUMNS))
            row["drifted_by"] = ", ".join(f.drifted_by)
            rows.append(row)
        return pd.DataFrame(rows, columns=FRAME_COLUMNS)

    def figure(self, features: Sequence[str] | None = None) -> Any:
        """A plotly figure: reference vs current shares, one panel per feature (the drifted
        ones by default, at most 12)."""
        from jupyter_mlops.monitoring.drift.render import figure

        return figure(self, features)

    def _repr_html_(self) -> str:
        from jupyter_mlops.monitoring.drift.render import report_html

        return report_html(self)


def drift_report(
    reference: pd.DataFrame | ReferenceProfile,
    current: pd.DataFrame,
    *,
    tests: Mapping[str, str] | str | None = None,
    thresholds: Mapping[str, float] | DriftThresholds | None = None,
    columns: Sequence[str] | None = None,
) -> DriftReport:
    """Test every feature of ``current`` for drift from ``reference``.

    Args:
        reference: the training data, as a DataFrame or its stored :class:`ReferenceProfile`.
        current: the window to test (say, an hour of logged inputs and outputs).
        tests: a test name per feature, or one name for every feature it applies to (others keep
            the default); see :data:`DRIFT_TESTS`.
        thresholds: a threshold per feature (a p-value or a distance, after the feature's test),
            or a :class:`DriftThresholds`.
        columns: the features to test; by default the reference's, then the window's others.

    Raises:
        UnknownDriftTest: a test name is not registered.
        OutdatedProfile: ``reference`` is a profile written before drift monitoring.

    Example:
        >>> report = drift_report(train, window, tests={"tenure": "wasserstein"})  # doctest: +SKIP
        >>> report.to_frame()[["feature", "test", "p_value", "drifted"]]         # doctest: +SKIP
    """
    import pandas as pd

    settings = _settings(thresholds)
    by_feature, for_all = _tests(tests)
    if isinstance(reference, pd.DataFrame):
        reference = profile_frame(reference, source="DataFrame")
    elif not isinstance(reference, ReferenceProfile):
        raise InvalidInput(
            f"A drift reference is a DataFrame or a ReferenceProfile, not "
            f"{type(reference).__name__}",
            field="reference",
        )
    require_current_format(reference)
    profiles = {f.name: f for f in reference.features}
    names = list(columns) if columns is not None else _default_columns(reference, current)
    base = dict(
        reference_source=reference.source,
        reference_rows=reference.rows,
        current_rows=len(current),
        alpha=settings.alpha,
    )
    if len(current) == 0:
        return DriftReport(
            status="no_data",
            message="The window has no rows: nothing to test.",
            check_alpha=settings.alpha,
            **base,
        )

    planned: list[_Planned] = []
    results: list[FeatureDrift] = []
    for name in names:
        profile = profiles.get(name)
        if profile is None:
            results.append(_absent(name, "missing_in_reference", current, None))
            continue
        if name not in current.columns:
            results.append(_absent(name, "missing_in_current", current, profile))
            continue
        plan = _plan(
            profile, current[name], by_feature.get(name), for_all, settings.features.get(name)
        )
        planned.append(plan)
        results.append(plan.result)

    # Bonferroni over the p-value checks that could reject.
    k = sum(p.p_value_checks() for p in planned)
    check_alpha = settings.alpha / max(k, 1)
    for plan in planned:
        plan.decide(settings, check_alpha)

    tested = [f for f in results if f.status in ("ok", "drifted")]
    drifted = [f.feature for f in tested if f.drifted]
    if not tested:
        status: Literal["ok", "drifted", "no_data"] = "no_data"
        message = (
            "No feature could be tested: "
            + ", ".join(sorted({f.status for f in results}) or ["no features"])
            + "."
        )
    else:
        status = "drifted" if drifted else "ok"
        message = None
    return DriftReport(
        status=status,
        message=message,
        check_alpha=check_alpha,
        drift_share=len(drifted) / len(tested) if tested else None,
        drifted=drifted,
        features=results,
        **base,
    )


def default_test(profile: FeatureProfile) -> str:
    """The test a feature gets by default (see the module's docstring)."""
    if profile.kind == "categorical":
        return "chi2"
    if profile.exact and len(profile.edges or []) <= DISCRETE_LEVELS:
        return "chi2"
    return "ks"


class _Planned:
    """One feature's cells and check results, waiting for the report's per-check alpha."""

    def __init__(
        self,
        result: FeatureDrift,
        test: DriftTest,
        cells: Cells,
        outcomes: dict[str, TestResult],
        threshold: float | None,
    ) -> None:
        self.result = result
        self.test = test
        self.cells = cells
        self.outcomes = outcomes
        self.threshold = threshold

    def _can_reject(self, name: str) -> bool:
        if name not in self.outcomes:
            return False
        cells = self.cells
        if name == "missing_rate":
            return bool(cells.reference_missing or cells.current_missing)
        if name == "infinite_rate":
            return bool(cells.reference_infinite or cells.current_infinite)
        if name == self.test.name and self.threshold is not None:
            return False  # the feature's own threshold, outside the family
        return get_test(name).measures == "p_value"

    def p_value_checks(self) -> int:
        return sum(self._can_reject(name) for name in self.outcomes)

    def decide(self, settings: DriftThresholds, check_alpha: float) -> None:
        result = self.result
        for name, outcome in self.outcomes.items():
            test = get_test(name)
            if name == self.test.name and self.threshold is not None:
                threshold = self.threshold
            elif test.measures == "p_value":
                threshold = check_alpha
            else:
                threshold = settings.distance.get(name, test.threshold or 0.1)
            drifted = test.drifted(outcome, threshold) and abs(outcome.statistic) >= (
                settings.min_effect.get(name, 0.0)
            )
            result.checks.append(
                DriftCheck(
                    test=name,
                    statistic=_finite(outcome.statistic),
                    p_value=_finite(outcome.p_value),
                    threshold=threshold,
                    drifted=drifted,
                )
            )
            if name == self.test.name:
                result.statistic = _finite(outcome.statistic)
                result.p_value = _finite(outcome.p_value)
                result.threshold = threshold
            if drifted:
                result.drifted_by.append(name)
        result.drifted = bool(result.drifted_by)
        if result.drifted:
            result.status = "drifted"


def _plan(
    profile: FeatureProfile,
    series: pd.Series,
    chosen: str | None,
    for_all: str | None,
    threshold: float | None,
) -> _Planned:
    from jupyter_mlops.monitoring.drift.binning import categorical_cells, numeric_cells

    kind = profile.kind
    cells, chart = (numeric_cells if kind == "numeric" else categorical_cells)(profile, series)
    message = None
    name = chosen or for_all or default_test(profile)
    test = get_test(name)
    if kind not in test.kinds:
        fallback = default_test(profile)
        if chosen:
            message = f"{name} does not apply to {kind} values; {fallback} used instead"
        test = get_test(fallback)
    result = FeatureDrift(
        feature=profile.name,
        kind=kind,
        status="ok",
        test=test.name,
        reference_rows=cells.reference_rows,
        current_rows=cells.current_rows,
        missing_rate_reference=_rate(cells.reference_missing, cells.reference_rows),
        missing_rate_current=_rate(cells.current_missing, cells.current_rows),
        infinite_count=cells.current_infinite,
        infinite_count_reference=cells.reference_infinite,
        chart=_chart(chart),
        message=message,
    )
    outcomes: dict[str, TestResult] = {}
    has_values = bool(cells.reference.sum()) and bool(cells.current.sum())
    if has_values:
        outcomes[test.name] = test(cells)
    else:
        result.status = "no_data"
        side = "reference" if not cells.reference.sum() else "window"
        result.message = f"no {'finite ' if kind == 'numeric' else ''}values in the {side}"
    extras = ["missing_rate", "infinite_rate"]
    levels = cells.reference.size - 1  # the last cell: levels the reference never saw
    if has_values and test.name == "chi2" and kind == "categorical" and levels > MANY_LEVELS:
        extras.insert(0, "rank_ks")
    for extra in extras:
        if extra != test.name and kind in get_test(extra).kinds:
            outcomes[extra] = get_test(extra)(cells)
    return _Planned(result, test, cells, outcomes, threshold)


def _absent(
    name: str, status: FeatureStatus, current: pd.DataFrame, profile: FeatureProfile | None
) -> FeatureDrift:
    if status == "missing_in_current":
        message = "profiled in the reference, absent from the window"
    else:
        message = "in the window, absent from the reference profile"
    return FeatureDrift(
        feature=name,
        kind=profile.kind if profile is not None else None,
        status=status,
        reference_rows=profile.count if profile is not None else 0,
        current_rows=len(current) if name in current.columns else 0,
        missing_rate_reference=profile.null_rate if profile is not None else None,
        message=message,
    )


def _settings(thresholds: Mapping[str, float] | DriftThresholds | None) -> DriftThresholds:
    if isinstance(thresholds, DriftThresholds):
        settings = thresholds
    else:
        settings = DriftThresholds(features=dict(thresholds or {}))
    for feature, value in settings.features.items():
        if not (isinstance(value, int | float) and value > 0):
            raise InvalidInput(
                f"The drift threshold of {feature!r} must be a positive number, not {value!r}",
                field="thresholds",
            )
    return settings


def _tests(tests: Mapping[str, str] | str | None) -> tuple[dict[str, str], str | None]:
    if tests is None:
        return {}, None
    if isinstance(tests, str):
        get_test(tests)
        return {}, tests
    for name in tests.values():
        get_test(name)
    return dict(tests), None


def _default_columns(reference: ReferenceProfile, current: pd.DataFrame) -> list[str]:
    import pandas as pd

    names = [f.name for f in reference.features]
    known = set(names)
    for column in current.columns:
        if str(column) not in known and not pd.api.types.is_datetime64_any_dtype(
            current[column].dtype
        ):
            names.append(str(column))
    return names


def _chart(chart: Chart) -> DriftChart:
    return DriftChart(
        bins=chart.bins, reference=chart.reference, current=chart.current, edges=chart.edges
    )


def _rate(events: int, rows: int) -> float | None:
    return events / rows if rows else None


def _finite(value: float | None) -> float | None:
    import math

    return value if value is None or math.isfinite(value) else None
