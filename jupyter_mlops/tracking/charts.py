"""Plotly figures for comparing runs. Returned as plain JSON so the REST API can send them and the
JupyterLab plotly renderer (or a notebook) can draw them unchanged."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from jupyter_mlops.tracking.schemas import Comparison, MetricSummary, RunDetail, SeedGroup

MAX_HISTORY_PANELS = 6
MAX_BAR_PANELS = 9


def _label(run: RunDetail) -> str:
    return run.run_name or run.run_id[:8]


def _as_json(fig: Any) -> dict[str, object]:
    # to_json handles numpy arrays and NaN; the round trip gives plain Python objects.
    result: dict[str, object] = json.loads(fig.to_json())
    return result


def history_figure(runs: Sequence[RunDetail]) -> dict[str, object] | None:
    """One panel per metric with more than one logged step, one line per run; None when no
    metric has a history (an empty "Metric history" box says nothing)."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    names = sorted({k for r in runs for k, points in r.metric_history.items() if len(points) > 1})[
        :MAX_HISTORY_PANELS
    ]
    if not names:
        return None
    fig = make_subplots(rows=len(names), cols=1, subplot_titles=names, shared_xaxes=False)
    palette = [
        "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
        "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
    ]  # fmt: skip
    for i, run in enumerate(runs):
        color = palette[i % len(palette)]
        for row, name in enumerate(names, start=1):
            points = run.metric_history.get(name, [])
            if not points:
                continue
            fig.add_trace(
                go.Scatter(
                    x=[p.step for p in points],
                    y=[p.value for p in points],
                    mode="lines",
                    name=_label(run),
                    legendgroup=run.run_id,
                    showlegend=row == 1,
                    line={"color": color},
                ),
                row=row,
                col=1,
            )
        for row in range(1, len(names) + 1):
            fig.update_xaxes(title_text="step", row=row, col=1)
    fig.update_layout(
        title="Metric history", height=220 + 220 * len(names), margin={"t": 60, "l": 50, "r": 20}
    )
    return _as_json(fig)


def parallel_figure(runs: Sequence[RunDetail], comparison: Comparison) -> dict[str, object]:
    """Parallel coordinates: the parameters that differ, then every metric; coloured by the first
    metric."""
    import plotly.graph_objects as go

    dimensions: list[dict[str, object]] = []
    for row in comparison.params:
        if not row.differs:
            continue
        numbers = _numbers(row.values)
        if numbers is not None:
            dimensions.append({"label": row.name, "values": numbers})
        else:
            labels = sorted({v if v is not None else "(none)" for v in row.values})
            codes = [labels.index(v if v is not None else "(none)") for v in row.values]
            dimensions.append(
                {
                    "label": row.name,
                    "values": codes,
                    "tickvals": list(range(len(labels))),
                    "ticktext": labels,
                }
            )
    metric_rows = [m for m in comparison.metrics if any(v is not None for v in m.values)]
    for m in metric_rows:
        dimensions.append({"label": m.name, "values": m.values})
    line: dict[str, object] = {}
    if metric_rows:
        line = {
            "color": metric_rows[0].values,
            # Blue to orange: both ends stay visible on light and dark backgrounds.
            "colorscale": [[0.0, "#4c78a8"], [0.5, "#9d7bb0"], [1.0, "#f58518"]],
            "showscale": True,
            "colorbar": {"title": {"text": metric_rows[0].name}},
        }
    for dim in dimensions:
        dim["label"] = _short(str(dim["label"]))
    # Slanted labels: side by side, long names ran into each other.
    fig = go.Figure(go.Parcoords(dimensions=dimensions, line=line, labelangle=-20))
    fig.update_layout(
        title="Parameters and metrics", height=460, margin={"t": 130, "l": 70, "r": 40}
    )
    return _as_json(fig)


def _interval(summary: MetricSummary | None) -> tuple[float | None, float | None]:
    """The distances from the mean up and down to the 95% interval's ends (None when unknown)."""
    if summary is None or summary.mean is None:
        return None, None
    if summary.ci_high is None or summary.ci_low is None:
        return None, None
    return summary.ci_high - summary.mean, summary.mean - summary.ci_low


def _group_label(group: SeedGroup, groups: Sequence[SeedGroup]) -> str:
    """The group's params that differ between groups (the others say nothing), shortened."""
    varying = [k for k in group.key if len({g.key.get(k) for g in groups}) > 1]
    text = ", ".join(f"{k}={group.key[k]}" for k in varying)
    return _short(text or "all runs", 24)


def _short(label: str, limit: int = 18) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "\N{HORIZONTAL ELLIPSIS}"


def bars_figure(
    runs: Sequence[RunDetail], comparison: Comparison, groups: Sequence[SeedGroup] | None
) -> dict[str, object] | None:
    """One bar chart per metric: a bar per seed group with its 95% interval when runs group by
    seed, else a bar per run. None when no metric has a value."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    names = [m.name for m in comparison.metrics if any(v is not None for v in m.values)][
        :MAX_BAR_PANELS
    ]
    if not names:
        return None
    cols = min(3, len(names))
    rows = (len(names) + cols - 1) // cols
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=names)
    grouped = groups is not None and any(len(g.run_ids) > 1 for g in groups)
    for index, name in enumerate(names):
        row, col = index // cols + 1, index % cols + 1
        if grouped and groups is not None:
            labels: list[str] = []
            means: list[float | None] = []
            plus: list[float | None] = []
            minus: list[float | None] = []
            for g in groups:
                summary = next((m for m in g.metrics if m.name == name), None)
                labels.append(_group_label(g, groups))
                mean = summary.mean if summary else None
                means.append(mean)
                high, low = _interval(summary)
                plus.append(high)
                minus.append(low)
            bar = go.Bar(
                x=labels,
                y=means,
                error_y={"type": "data", "array": plus, "arrayminus": minus, "visible": True},
                marker={"color": "#4c78a8"},
                name=name,
                showlegend=False,
                hovertemplate="%{x}<br>mean %{y:.4g}<extra></extra>",
            )
        else:
            row_values = next(m.values for m in comparison.metrics if m.name == name)
            bar = go.Bar(
                x=[_short(_label(r), 24) for r in runs],
                y=row_values,
                marker={"color": "#4c78a8"},
                name=name,
                showlegend=False,
            )
        fig.add_trace(bar, row=row, col=col)
    title = "Metrics by seed group (mean, 95% interval)" if grouped else "Metrics by run"
    fig.update_layout(
        title=title, height=120 + 280 * rows, margin={"t": 80, "l": 50, "r": 20, "b": 90}
    )
    return _as_json(fig)


def _numbers(values: Sequence[str | None]) -> list[float] | None:
    out = []
    for v in values:
        if v is None:
            return None
        try:
            out.append(float(v))
        except ValueError:
            return None
    return out
