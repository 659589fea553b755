"""The monitoring dashboard's plotly figures, built from monitoring's stored results.

Pure functions of pydantic models: no widgets, no workspace. Each figure is small JSON; the page
draws it with the plotly.js that JupyterLab's plotly extension bundles, so nothing is fetched
from the internet.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from jupyter_mlops.monitoring.drift import FeatureDrift
    from jupyter_mlops.monitoring.schemas import CheckSummary

PLOTLY_MIME = "application/vnd.plotly.v1+json"
REFERENCE_COLOUR = "#7f8c8d"
CURRENT_COLOUR = "#e67e22"
LINE_COLOUR = "#2980b9"
ALERT_COLOUR = "#c0392b"
#: Quality metrics drawn over time, in this order when present.
QUALITY_METRICS = ("roc_auc", "accuracy", "precision", "recall", "log_loss", "rmse", "mae", "r2")
# No "responsive": on a window resize plotly then sized the charts from their container, whose
# height is their own, and they collapsed to 0 px in Voila.
_CONFIG = {"displaylogo": False}
_MARGIN = {"l": 60, "r": 20, "t": 50, "b": 40}


def mime_output(fig: go.Figure) -> dict[str, Any]:
    """A ``display_data`` output of the figure as plotly's mime type only (no HTML that would
    load plotly.js from a CDN), in plain JSON types, ready for an Output widget's ``outputs``."""
    import plotly.io as pio

    spec = json.loads(pio.to_json(fig, validate=False))
    spec["config"] = _CONFIG
    title = fig.layout.title.text or "plotly figure"
    return {
        "output_type": "display_data",
        "data": {PLOTLY_MIME: spec, "text/plain": f"<{title}>"},
        "metadata": {},
    }


def health_figure(checks: list[CheckSummary]) -> go.Figure:
    """Requests, error rate and p95 latency at each check, one panel each, sharing the time."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    times = [c.time for c in checks]
    fig = make_subplots(
        rows=3,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.08,
        subplot_titles=["Requests per check", "Error rate", "Latency p95 (ms)"],
    )
    series = [
        ([c.requests for c in checks], LINE_COLOUR),
        ([c.error_rate for c in checks], ALERT_COLOUR),
        ([c.latency_p95_ms for c in checks], "#8e44ad"),
    ]
    for row, (values, colour) in enumerate(series, start=1):
        fig.add_trace(
            go.Scatter(
                x=times, y=values, mode="lines+markers", line={"color": colour}, showlegend=False
            ),
            row=row,
            col=1,
        )
    fig.update_yaxes(tickformat=".1%", rangemode="tozero", row=2, col=1)
    fig.update_yaxes(rangemode="tozero", row=1, col=1)
    fig.update_yaxes(rangemode="tozero", row=3, col=1)
    fig.update_layout(
        title={"text": "API over time"}, height=520, margin=_MARGIN, template="plotly_white"
    )
    return fig


def drift_share_figure(checks: list[CheckSummary], threshold: float | None) -> go.Figure:
    """The share of drifted features at each check, with the alert threshold."""
    import plotly.graph_objects as go

    fig = go.Figure(
        go.Scatter(
            x=[c.time for c in checks],
            y=[c.drift_share for c in checks],
            mode="lines+markers",
            name="drift share",
            line={"color": CURRENT_COLOUR},
            customdata=[", ".join(c.drifted) or "none" for c in checks],
            hovertemplate="%{y:.0%} drifted: %{customdata}<extra></extra>",
        )
    )
    if threshold is not None:
        fig.add_hline(
            y=threshold,
            line={"dash": "dash", "color": ALERT_COLOUR},
            annotation_text=f"alert at {threshold:.0%}",
        )
    fig.update_yaxes(tickformat=".0%", range=[0, 1.05])
    fig.update_layout(
        title={"text": "Share of features drifting"},
        height=280,
        margin=_MARGIN,
        template="plotly_white",
    )
    return fig


def feature_figure(feature: FeatureDrift) -> go.Figure:
    """Reference vs current share of rows per bin of one feature."""
    import plotly.graph_objects as go

    fig = go.Figure()
    chart = feature.chart
    if chart is not None:
        for label, shares, colour in (
            ("reference (training data)", chart.reference, REFERENCE_COLOUR),
            ("current window", chart.current, CURRENT_COLOUR),
        ):
            fig.add_trace(go.Bar(x=chart.bins, y=shares, name=label, marker_color=colour))
    verdict = "drifted" if feature.drifted else "no drift"
    detail = ""
    if feature.test:
        detail = f" - {feature.test}"
        if feature.p_value is not None:
            detail += f", p = {feature.p_value:.2g}"
        elif feature.statistic is not None:
            detail += f" = {feature.statistic:.3g}"
    fig.update_yaxes(tickformat=".0%", title={"text": "share of rows"})
    fig.update_layout(
        title={"text": f"{feature.feature}: {verdict}{detail}"},
        barmode="group",
        height=340,
        margin=_MARGIN,
        template="plotly_white",
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 1, "xanchor": "right"},
    )
    return fig


def quality_figure(checks: list[CheckSummary]) -> go.Figure:
    """Each quality metric at each check that had feedback."""
    import plotly.graph_objects as go

    fig = go.Figure()
    present = {name for c in checks for name, v in c.quality.items() if v is not None}
    names = [m for m in QUALITY_METRICS if m in present] + sorted(present - set(QUALITY_METRICS))
    for name in names:
        fig.add_trace(
            go.Scatter(
                x=[c.time for c in checks],
                y=[c.quality.get(name) for c in checks],
                mode="lines+markers",
                name=name,
                connectgaps=False,
            )
        )
    fig.update_layout(
        title={"text": "Prediction quality over time"},
        height=320,
        margin=_MARGIN,
        template="plotly_white",
    )
    return fig
