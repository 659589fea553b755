"""How a drift report looks in a notebook: a summary, a table, and charts of drifted features.

The charts carry plotly.js inline (``include_plotlyjs=True``, about 4.6 MB, once per report that
has a chart), so they draw without internet - in JupyterLab, in Voila and in a saved notebook.
A report with nothing drifted draws no chart and stays small.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jupyter_mlops.monitoring.drift.report import DriftReport

MAX_PANELS = 12


def figure(report: DriftReport, features: Sequence[str] | None = None) -> Any:
    """Reference vs current shares per bin, one panel per feature."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    chosen = [report.feature(name) for name in features] if features is not None else None
    if chosen is None:
        chosen = [f for f in report.features if f.drifted]
    chosen = [f for f in chosen if f.chart is not None][:MAX_PANELS]
    if not chosen:
        return go.Figure(layout={"title": "No drifted feature to draw"})
    fig = make_subplots(
        rows=len(chosen),
        cols=1,
        subplot_titles=[_title(f) for f in chosen],
        vertical_spacing=min(0.3 / len(chosen), 0.12),
    )
    for row, f in enumerate(chosen, start=1):
        assert f.chart is not None
        for label, shares, colour in (
            ("reference", f.chart.reference, "#7f8c8d"),
            ("current", f.chart.current, "#e67e22"),
        ):
            fig.add_trace(
                go.Bar(
                    x=f.chart.bins,
                    y=shares,
                    name=label,
                    marker_color=colour,
                    legendgroup=label,
                    showlegend=row == 1,
                ),
                row=row,
                col=1,
            )
        fig.update_yaxes(tickformat=".0%", row=row, col=1)
    fig.update_layout(
        barmode="group",
        height=260 * len(chosen) + 80,
        margin={"l": 40, "r": 20, "t": 60, "b": 40},
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0},
    )
    return fig


def report_html(report: DriftReport) -> str:
    """The HTML of a report: summary line, table of features, charts of the drifted ones."""
    share = "-" if report.drift_share is None else f"{report.drift_share:.0%}"
    head = (
        f"<p><b>Drift: {html.escape(report.status)}</b> &middot; {share} of tested features "
        f"drifted &middot; {report.current_rows:,} rows against a reference of "
        f"{report.reference_rows:,} &middot; p-value checks at {report.check_alpha:.2g} "
        f"(family-wise {report.alpha:g})</p>"
    )
    if report.message:
        head += f"<p>{html.escape(report.message)}</p>"
    frame = report.to_frame()
    table = frame.to_html(index=False, na_rep="", float_format=lambda v: f"{v:.4g}")
    charts = ""
    if any(f.drifted and f.chart is not None for f in report.features):
        charts = figure(report).to_html(full_html=False, include_plotlyjs=True)
    return f'<div class="jp-mlops-DriftReport">{head}{table}{charts}</div>'


def _title(feature: Any) -> str:
    p = "" if feature.p_value is None else f", p={feature.p_value:.2g}"
    stat = "" if feature.statistic is None else f"{feature.statistic:.3g}"
    return f"{feature.feature} ({feature.test} {stat}{p})"
