"""Plotly figures for comparing runs. Returned as plain JSON so the REST API can send them and the
JupyterLab plotly renderer (or a notebook) can draw them unchanged."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from jupyter_mlops.tracking.schemas import Comparison, RunDetail

MAX_HISTORY_PANELS = 6


def _label(run: RunDetail) -> str:
    return run.run_name or run.run_id[:8]


def _as_json(fig: Any) -> dict[str, object]:
    # to_json handles numpy arrays and NaN; the round trip gives plain Python objects.
    result: dict[str, object] = json.loads(fig.to_json())
    return result


def history_figure(runs: Sequence[RunDetail]) -> dict[str, object]:
    """One panel per metric with more than one logged step, one line per run."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    names = sorted({k for r in runs for k, points in r.metric_history.items() if len(points) > 1})[
        :MAX_HISTORY_PANELS
    ]
    if not names:
        fig = go.Figure()
        fig.update_layout(
            title="Metric history",
            annotations=[
                {
                    "text": "No metric was logged at more than one step.",
                    "showarrow": False,
                    "xref": "paper",
                    "yref": "paper",
                    "x": 0.5,
                    "y": 0.5,
                }
            ],
            xaxis={"visible": False},
            yaxis={"visible": False},
            height=240,
        )
        return _as_json(fig)
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
    fig = go.Figure(go.Parcoords(dimensions=dimensions, line=line))
    fig.update_layout(title="Parameters and metrics", height=440, margin={"t": 110, "l": 60})
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
