"""Side-by-side comparison of runs, with seeds grouped into mean and confidence interval."""

from __future__ import annotations

import math
from collections.abc import Sequence

from jupyter_mlops.errors import InvalidInput
from jupyter_mlops.tracking.schemas import (
    ComparedRun,
    Comparison,
    MetricRow,
    MetricSummary,
    ParamRow,
    RunDetail,
    SeedGroup,
)


def compare_runs(
    runs: Sequence[RunDetail],
    *,
    diff_only: bool = False,
    group_by_seed: bool = False,
    seed_param: str | None = None,
    seed_candidates: Sequence[str] = ("seed", "random_state", "random_seed"),
    figures: bool = True,
) -> Comparison:
    """Build the comparison of ``runs`` (in the given order).

    Args:
        runs: the runs, with metric histories when figures are wanted.
        diff_only: keep only the parameters and metrics whose values differ between runs.
        group_by_seed: group runs whose parameters are equal except the seed, and give each
            metric's mean and 95% confidence interval (Student's t) per group.
        seed_param: the seed parameter's name; found among ``seed_candidates`` when omitted.
        figures: also build the plotly figures: metric histories (only when a metric has more
            than one step), bars per metric (seed groups with intervals when there is a seed)
            and parallel coordinates.

    Raises:
        InvalidInput: grouping was asked for but no seed parameter is present.
    """
    param_names = sorted({k for r in runs for k in r.params})
    metric_names = sorted({k for r in runs for k in r.metrics})
    params = []
    for name in param_names:
        texts = [r.params.get(name) for r in runs]
        params.append(ParamRow(name=name, values=texts, differs=_differs(texts)))
    metrics = []
    for name in metric_names:
        numbers = [r.metrics.get(name) for r in runs]
        metrics.append(MetricRow(name=name, values=numbers, differs=_differs(numbers)))
    seed = seed_param or next((c for c in seed_candidates if c in param_names), None)
    groups = None
    if group_by_seed:
        if seed is None or seed not in param_names:
            wanted = seed_param or " or ".join(seed_candidates)
            raise InvalidInput(
                f"No seed parameter ({wanted}) in these runs, so they cannot be grouped by seed.",
                hint="Name the seed parameter with seed_param / --seed-param.",
                field="seed_param",
            )
        groups = group_seeds(runs, seed, metric_names)
    if diff_only:
        params = [p for p in params if p.differs]
        metrics = [m for m in metrics if m.differs]
    comparison = Comparison(
        runs=[
            ComparedRun(run_id=r.run_id, run_name=r.run_name, experiment_id=r.experiment_id)
            for r in runs
        ],
        params=params,
        metrics=metrics,
        seed_param=seed,
        groups=groups,
    )
    if figures:
        from jupyter_mlops.tracking.charts import bars_figure, history_figure, parallel_figure

        bar_groups = groups
        if bar_groups is None and seed is not None and seed in param_names:
            # The bars show seed-group intervals whenever the runs have a seed.
            bar_groups = group_seeds(runs, seed, metric_names)
        built = {
            "history": history_figure(runs),
            "bars": bars_figure(runs, comparison, bar_groups),
            "parallel": parallel_figure(runs, comparison),
        }
        comparison.figures = {k: v for k, v in built.items() if v is not None}
    return comparison


def _differs(values: Sequence[object]) -> bool:
    return len({repr(v) for v in values}) > 1


def group_seeds(
    runs: Sequence[RunDetail], seed_param: str, metric_names: Sequence[str]
) -> list[SeedGroup]:
    """Group runs that share every parameter but ``seed_param``; summarise each metric."""
    others = sorted({k for r in runs for k in r.params} - {seed_param})
    buckets: dict[tuple[str | None, ...], list[RunDetail]] = {}
    for run in runs:
        buckets.setdefault(tuple(run.params.get(k) for k in others), []).append(run)
    groups = []
    for key, members in buckets.items():
        summaries = [
            mean_interval(name, [r.metrics.get(name) for r in members]) for name in metric_names
        ]
        groups.append(
            SeedGroup(
                key=dict(zip(others, key, strict=True)),
                run_ids=[r.run_id for r in members],
                metrics=summaries,
            )
        )
    return groups


def mean_interval(name: str, values: Sequence[float | None], level: float = 0.95) -> MetricSummary:
    """Mean, sample standard deviation and two-sided t confidence interval of the known values.

    With one value the interval is unknown (None), not zero: one seed says nothing about spread.
    """
    known = [v for v in values if v is not None and math.isfinite(v)]
    n = len(known)
    if n == 0:
        return MetricSummary(name=name, n=0, mean=None, std=None, ci_low=None, ci_high=None)
    mean = sum(known) / n
    if n == 1:
        return MetricSummary(name=name, n=1, mean=mean, std=None, ci_low=None, ci_high=None)
    from scipy import stats

    std = math.sqrt(sum((v - mean) ** 2 for v in known) / (n - 1))
    half = float(stats.t.ppf(0.5 + level / 2, n - 1)) * std / math.sqrt(n)
    return MetricSummary(
        name=name, n=n, mean=mean, std=std, ci_low=mean - half, ci_high=mean + half
    )
