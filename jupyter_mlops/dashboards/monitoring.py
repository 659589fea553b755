"""The monitoring dashboard of one deployment: health, drift, alerts, API and quality.

``monitoring.ipynb`` is one cell, ``show()``; Voila runs it and shows this module's widgets:

- a health line in plain words (healthy, needs attention, down) with request rate, error rate,
  p95 latency and drift share, and the alerts firing now;
- drift: its share over time, one row per feature, and the chosen feature's reference
  (training data) vs current distribution;
- the API over time (requests, error rate, p95 latency) and per served version;
- prediction quality over time, where ground truth was sent.

The first paint reads what the scheduler already stored (the newest check and the series), which
takes milliseconds. When no check is stored yet, the figures are computed from the prediction
log after the first paint, in a thread, without storing anything (no alert is raised by looking).
Then the dashboard re-reads every ``refresh_seconds`` (60 by default) and updates in place: no
page reload, no code shown.

Which deployment: ``show("churn")``, else ``?deployment=churn`` in the page's URL (Voila hands
the query string to the kernel), else :data:`jupyter_mlops.dashboards.DEPLOYMENT_ENV`, else the
workspace's only deployment; with several, the page lists them as links.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote

import ipywidgets as widgets  # type: ignore[import-untyped]
from IPython.display import HTML, display

from jupyter_mlops.dashboards import DEPLOYMENT_ENV, READY_FILE_ENV
from jupyter_mlops.dashboards.figures import (
    drift_share_figure,
    feature_figure,
    health_figure,
    mime_output,
    quality_figure,
)
from jupyter_mlops.errors import MlopsError
from jupyter_mlops.timestamps import utc_now

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from jupyter_mlops.monitoring.schemas import (
        AlertEvent,
        CheckReport,
        CheckSummary,
        MonitorStatus,
    )
    from jupyter_mlops.monitoring.service import Monitoring

REFRESH_SECONDS = 60.0
#: Checks drawn over time (the newest ones).
SERIES_LIMIT = 500
RECENT_EVENTS = 10
DRIFT_HEADING = "<h3>Data drift</h3>"
#: The first-paint copy of the summary, hidden by the live one.
_STATIC = "jp-mlops-dash-static"

_STYLE = """
<style>
.jp-mlops-Dash { font-family: var(--jp-ui-font-family); color: var(--jp-ui-font-color1); }
.jp-mlops-Dash h2 { margin: 0 0 4px 0; }
.jp-mlops-Dash .jp-mlops-muted { color: var(--jp-ui-font-color2); }
.jp-mlops-Cards { display: flex; flex-wrap: wrap; gap: 12px; margin: 12px 0; }
.jp-mlops-Card { border: 1px solid var(--jp-border-color2); border-radius: 6px;
  padding: 8px 14px; min-width: 120px; background: var(--jp-layout-color1); }
.jp-mlops-Card b { display: block; font-size: 1.5em; }
.jp-mlops-Verdict { font-size: 1.3em; font-weight: bold; padding: 6px 12px; border-radius: 6px;
  display: inline-block; color: white; }
.jp-mlops-ok { background: #27ae60; } .jp-mlops-warn { background: #e67e22; }
.jp-mlops-bad { background: #c0392b; } .jp-mlops-idle { background: #7f8c8d; }
.jp-mlops-Dash table { border-collapse: collapse; }
.jp-mlops-Dash td, .jp-mlops-Dash th { padding: 3px 10px; border-bottom:
  1px solid var(--jp-border-color2); text-align: left; }
</style>
"""


@dataclass
class Snapshot:
    """What the dashboard shows at one moment."""

    status: MonitorStatus
    checks: list[CheckSummary]
    latest: CheckReport | None
    events: list[AlertEvent]
    drift_threshold: float | None
    live: bool = False
    notes: list[str] = field(default_factory=list)


def load(monitoring: Monitoring, name: str) -> Snapshot:
    """The stored state: status, the series of checks, the newest check and the alerts."""
    from jupyter_mlops.monitoring.alerts import thresholds_for

    status = monitoring.status(name).deployments[0]
    checks = monitoring.checks(name, SERIES_LIMIT).checks
    latest = monitoring.check_report(name, checks[-1].id) if checks else None
    return Snapshot(
        status=status,
        checks=checks,
        latest=latest,
        events=monitoring.events(name).events,
        drift_threshold=thresholds_for(monitoring.config, name).drift_share,
    )


def compute_live(monitoring: Monitoring, snapshot: Snapshot) -> Snapshot:
    """The figures of the configured window computed now from the prediction log, when no
    check is stored yet. Nothing is stored and no alert is raised."""
    from jupyter_mlops.monitoring.schemas import CheckReport, CheckSummary
    from jupyter_mlops.monitoring.windows import Window

    name = snapshot.status.deployment
    window = Window.parse(monitoring.window_for(name))
    metrics = monitoring.metrics(name, window)
    notes = [f"No scheduled check yet: figures computed now over the last {window.span().label}."]
    drift = None
    try:
        drift = monitoring.drift(name, window)
    except MlopsError as exc:
        notes.append(f"Drift not computed: {exc.message}")
    quality = None
    try:
        quality = monitoring.quality(name, window)
    except MlopsError as exc:
        notes.append(f"Quality not computed: {exc.message}")
    summary = CheckSummary(
        id="live",
        deployment=name,
        time=utc_now(),
        window=window.span(),
        rows=drift.current_rows if drift is not None else 0,
        drift_share=drift.drift_share if drift is not None else None,
        drifted=list(drift.drifted) if drift is not None else [],
        requests=metrics.overall.requests,
        error_rate=metrics.overall.error_rate,
        latency_p95_ms=metrics.overall.latency_p95_ms,
        quality=dict(quality.overall.metrics) if quality and quality.overall else {},
    )
    latest = CheckReport(summary=summary, metrics=metrics, drift=drift, quality=quality)
    return Snapshot(
        status=snapshot.status,
        checks=[summary],
        latest=latest,
        events=snapshot.events,
        drift_threshold=snapshot.drift_threshold,
        live=True,
        notes=notes,
    )


def firing_alerts(events: list[AlertEvent]) -> list[AlertEvent]:
    """The alerts firing now: each (kind, subject) whose last event fired."""
    last: dict[tuple[str, str], AlertEvent] = {}
    for event in events:
        last[(event.kind, event.subject)] = event
    return [e for e in last.values() if e.state == "firing"]


# -- what the page says ----------------------------------------------------------------------------


def _ago(when: datetime | None, now: datetime) -> str:
    if when is None:
        return "never"
    seconds = max((now - when).total_seconds(), 0)
    if seconds < 90:
        return f"{seconds:.0f} s ago"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min ago"
    if seconds < 36 * 3600:
        return f"{seconds / 3600:.0f} h ago"
    return f"{seconds / 86400:.0f} days ago"


def _pct(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}%}"


def _num(value: float | None, unit: str = "", fmt: str = ".3g") -> str:
    return "-" if value is None else f"{value:{fmt}}{unit}"


def verdict(snapshot: Snapshot) -> tuple[str, str, str]:
    """(css class, headline, explanation) in plain words."""
    s = snapshot.status
    firing = firing_alerts(snapshot.events)
    if s.state in ("stopped", "failed"):
        return "jp-mlops-bad", "Not serving", f"The deployment is {s.state}."
    if s.state == "degraded":
        return "jp-mlops-bad", "Degraded", "Some of its server processes are down."
    if firing:
        return (
            "jp-mlops-warn",
            "Needs attention",
            f"{len(firing)} alert{'s' if len(firing) != 1 else ''} firing.",
        )
    if snapshot.latest is None:
        return "jp-mlops-idle", "Not checked yet", "No check of this deployment has run yet."
    return "jp-mlops-ok", "Healthy", "Every figure is within its threshold."


def header_html(snapshot: Snapshot, refresh_seconds: float) -> str:
    s = snapshot.status
    now = utc_now()
    css, headline, why = verdict(snapshot)
    latest = snapshot.latest
    request_rate = s.request_rate
    if latest is not None and (snapshot.live or request_rate is None):
        request_rate = latest.metrics.overall.request_rate
    summary = latest.summary if latest is not None else None
    cards = [
        ("Requests / s", _num(request_rate, fmt=".2f")),
        ("Error rate", _pct(summary.error_rate if summary else s.error_rate)),
        ("Latency p95", _num(summary.latency_p95_ms if summary else s.latency_p95_ms, " ms")),
        ("Drifting features", _pct(summary.drift_share if summary else s.drift_share, 0)),
        ("Rows checked", f"{summary.rows:,}" if summary else "-"),
    ]
    card_html = "".join(
        f'<div class="jp-mlops-Card"><span class="jp-mlops-muted">{html.escape(label)}</span>'
        f"<b>{html.escape(value)}</b></div>"
        for label, value in cards
    )
    checked = "computed now" if snapshot.live else f"last checked {_ago(s.last_check, now)}"
    serving = ", ".join(s.serving) or "nothing"
    notes = "".join(f'<p class="jp-mlops-muted">{html.escape(n)}</p>' for n in snapshot.notes)
    return (
        f'{_STYLE}<div class="jp-mlops-Dash jp-mlops-Health">'
        f"<h2>Monitoring: {html.escape(s.deployment)}</h2>"
        f'<p class="jp-mlops-muted">Serving {html.escape(serving)} &middot; {checked} '
        f"(window {html.escape(s.window)}) &middot; this page updates every "
        f"{refresh_seconds:.0f} s</p>"
        f'<span class="jp-mlops-Verdict {css}">{html.escape(headline)}</span> '
        f"<span>{html.escape(why)}</span>"
        f'<div class="jp-mlops-Cards">{card_html}</div>{notes}</div>'
    )


def alerts_html(snapshot: Snapshot) -> str:
    firing = firing_alerts(snapshot.events)
    if firing:
        items = "".join(
            f"<li><b>{html.escape(e.kind.replace('_', ' '))}</b>"
            f"{' (' + html.escape(e.subject) + ')' if e.subject else ''}: "
            f"{html.escape(e.message)} <span class='jp-mlops-muted'>since "
            f"{e.time:%Y-%m-%d %H:%M} UTC</span></li>"
            for e in firing
        )
        now = f"<h3>Alerts firing now</h3><ul class='jp-mlops-Alerts'>{items}</ul>"
    else:
        now = "<h3>Alerts</h3><p class='jp-mlops-Alerts'>No alert is firing.</p>"
    recent = snapshot.events[-RECENT_EVENTS:][::-1]
    rows = "".join(
        f"<tr><td>{e.time:%Y-%m-%d %H:%M}</td><td>{html.escape(e.state)}</td>"
        f"<td>{html.escape(e.message)}</td></tr>"
        for e in recent
    )
    history = (
        f"<details><summary>Recent alert events ({len(recent)})</summary><table>"
        f"<tr><th>time (UTC)</th><th>state</th><th>what</th></tr>{rows}</table></details>"
        if recent
        else ""
    )
    return f'<div class="jp-mlops-Dash">{now}{history}</div>'


def drift_table_html(snapshot: Snapshot) -> str:
    latest = snapshot.latest
    drift = latest.drift if latest is not None else None
    if drift is None:
        why = (latest.message if latest is not None else None) or "No drift report yet."
        return f'<div class="jp-mlops-Dash">{DRIFT_HEADING}<p>{html.escape(why)}</p></div>'
    rows = "".join(
        f"<tr><td>{html.escape(f.feature)}</td>"
        f"<td>{'<b>drifted</b>' if f.drifted else html.escape(f.status.replace('_', ' '))}</td>"
        f"<td>{html.escape(f.test or '-')}</td><td>{_num(f.statistic)}</td>"
        f"<td>{_num(f.p_value, fmt='.2g')}</td></tr>"
        for f in sorted(drift.features, key=lambda f: (not f.drifted, f.feature))
    )
    head = (
        f"<p>{_pct(drift.drift_share, 0)} of tested features drifted, "
        f"{drift.current_rows:,} rows compared with {drift.reference_rows:,} of training data.</p>"
    )
    return (
        f'<div class="jp-mlops-Dash">{DRIFT_HEADING}{head}<table class="jp-mlops-DriftTable">'
        "<tr><th>feature</th><th>verdict</th><th>test</th><th>statistic</th><th>p-value</th></tr>"
        f"{rows}</table><p>Pick a feature to compare its distribution in the training data "
        "with the current window:</p></div>"
    )


def api_table_html(snapshot: Snapshot) -> str:
    latest = snapshot.latest
    if latest is None:
        return '<div class="jp-mlops-Dash"><h3>API</h3></div>'
    rows = "".join(
        f"<tr><td>{html.escape(v.model)}:{v.version}</td><td>{v.requests:,}</td>"
        f"<td>{_pct(v.error_rate)}</td><td>{_num(v.latency_p50_ms, ' ms')}</td>"
        f"<td>{_num(v.latency_p95_ms, ' ms')}</td><td>{_num(v.latency_p99_ms, ' ms')}</td></tr>"
        for v in latest.metrics.versions
    )
    return (
        f'<div class="jp-mlops-Dash"><h3>API</h3><p>Per served version, window '
        f"{html.escape(latest.metrics.window.label)}:</p><table><tr><th>version</th>"
        "<th>requests</th><th>error rate</th><th>p50</th><th>p95</th><th>p99</th></tr>"
        f"{rows}</table></div>"
    )


def quality_note(snapshot: Snapshot) -> str:
    latest = snapshot.latest
    quality = latest.quality if latest is not None else None
    if quality is not None and quality.overall is not None:
        shown = ", ".join(
            f"{k} {_num(v)}" for k, v in quality.overall.metrics.items() if v is not None
        )
        return (
            f'<div class="jp-mlops-Dash"><h3>Prediction quality</h3><p>Latest: '
            f"{html.escape(shown)} on "
            f"{quality.labelled:,} predictions with ground truth.</p></div>"
        )
    why = (quality.message if quality is not None else None) or "No ground truth received yet."
    return (
        '<div class="jp-mlops-Dash"><h3>Prediction quality</h3>'
        f'<p class="jp-mlops-muted">{html.escape(why)}</p></div>'
    )


# -- the widgets -----------------------------------------------------------------------------------


class MonitoringDashboard:
    """The widgets of one deployment's dashboard, refreshed in place.

    Example:
        >>> dash = MonitoringDashboard(Workspace.find().monitoring, "churn")  # doctest: +SKIP
        >>> display(dash.widget); dash.start()                                # doctest: +SKIP
    """

    def __init__(
        self, monitoring: Monitoring, name: str, refresh_seconds: float = REFRESH_SECONDS
    ) -> None:
        self.monitoring = monitoring
        self.name = name
        self.refresh_seconds = refresh_seconds
        self.snapshot: Snapshot | None = None
        self._task: asyncio.Task[None] | None = None
        self._chosen: str | None = None
        self._updating = False
        self._problem = ""

        def html_widget(css: str) -> widgets.HTML:
            w = widgets.HTML()
            w.add_class(css)
            return w

        # Few widgets: each costs a round of state in the page's first paint.
        self.summary = html_widget("jp-mlops-dash-summary")  # health, alerts, problems
        self.drift_table = html_widget("jp-mlops-dash-drift-table")
        self.drift_share = widgets.Output()
        self.feature = widgets.Dropdown(description="Feature", options=[])
        self.feature_chart = widgets.Output()
        self.api_table = html_widget("jp-mlops-dash-api-table")
        self.api_chart = widgets.Output()
        self.quality = html_widget("jp-mlops-dash-quality")
        self.quality_chart = widgets.Output()
        self.feature.observe(self._on_feature, names="value")
        self.widget = widgets.VBox(
            [
                self.summary,
                self.drift_table,
                self.feature,
                self.feature_chart,
                self.drift_share,
                self.api_table,
                self.api_chart,
                self.quality,
                self.quality_chart,
            ]
        )
        self.widget.add_class("jp-mlops-MonitoringDashboard")

    # -- data -------------------------------------------------------------------------------------

    def refresh(self) -> Snapshot:
        """Read the stored state and show it."""
        snapshot = load(self.monitoring, self.name)
        self.show(snapshot)
        return snapshot

    def show(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self._problem = ""
        self._summarise()
        self.drift_table.value = drift_table_html(snapshot)
        self.api_table.value = api_table_html(snapshot)
        self.quality.value = quality_note(snapshot)
        checks = snapshot.checks
        _draw(self.drift_share, drift_share_figure(checks, snapshot.drift_threshold))
        _draw(self.api_chart, health_figure(checks))
        _draw(self.quality_chart, quality_figure(checks))
        drift = snapshot.latest.drift if snapshot.latest is not None else None
        charted = [f for f in (drift.features if drift else []) if f.chart is not None]
        charted.sort(key=lambda f: (not f.drifted, f.feature))
        names = [f.feature for f in charted]
        chosen = self._chosen if self._chosen in names else (names[0] if names else None)
        self._updating = True
        try:
            self.feature.options = names
            self.feature.value = chosen
        finally:
            self._updating = False
        self._draw_feature(chosen)

    def summary_html(self) -> str:
        assert self.snapshot is not None
        return header_html(self.snapshot, self.refresh_seconds) + alerts_html(self.snapshot)

    def _summarise(self) -> None:
        assert self.snapshot is not None
        self.summary.value = (
            f"<style>.{_STATIC} {{ display: none; }}</style>"
            + header_html(self.snapshot, self.refresh_seconds)
            + self._problem
            + alerts_html(self.snapshot)
            + f'<p class="jp-mlops-Dash jp-mlops-muted">Updated '
            f"{utc_now():%Y-%m-%d %H:%M:%S} UTC.</p>"
        )

    def _on_feature(self, change: dict[str, Any]) -> None:
        if self._updating:
            return
        self._chosen = change["new"]
        self._draw_feature(change["new"])

    def _draw_feature(self, name: str | None) -> None:
        snapshot = self.snapshot
        drift = snapshot.latest.drift if snapshot and snapshot.latest else None
        if drift is None or name is None:
            self.feature_chart.outputs = ()
            return
        _draw(self.feature_chart, feature_figure(drift.feature(name)))

    # -- the timer --------------------------------------------------------------------------------

    def start(self) -> None:
        """Refresh now when nothing is stored yet, then every ``refresh_seconds``, on the
        kernel's event loop; reading and computing happen in a thread."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_event_loop().create_task(self._run())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _run(self) -> None:
        if self.snapshot is not None and self.snapshot.latest is None:
            await self._tick()
        while True:
            await asyncio.sleep(self.refresh_seconds)
            await self._tick()

    async def _tick(self) -> None:
        try:
            snapshot = await asyncio.to_thread(load, self.monitoring, self.name)
            if snapshot.latest is None:
                snapshot = await asyncio.to_thread(compute_live, self.monitoring, snapshot)
        except Exception as exc:  # a refresh that fails must not stop the next one
            self._problem = "<p>The last update failed:</p>" + _problem(exc)
            if self.snapshot is not None:
                self._summarise()
            return
        self.show(snapshot)


def _draw(out: widgets.Output, fig: go.Figure) -> None:
    # Setting the outputs (rather than printing into the widget) works from a timer too, where
    # no cell is executing to route output by.
    out.outputs = (mime_output(fig),)


def _problem(exc: Exception) -> str:
    message = exc.message if isinstance(exc, MlopsError) else f"{type(exc).__name__}: {exc}"
    hint = exc.hint if isinstance(exc, MlopsError) else None
    extra = f"<p>{html.escape(hint)}</p>" if hint else ""
    return (
        f'<div class="jp-mlops-Dash jp-mlops-Problem"><p><b>{html.escape(message)}</b></p>'
        f"{extra}</div>"
    )


def requested_deployment() -> str | None:
    """The deployment named by the page's URL (``?deployment=``) or by the environment."""
    query = parse_qs(os.environ.get("QUERY_STRING", ""))
    for value in query.get("deployment", []):
        if value.strip():
            return value.strip()
    return os.environ.get(DEPLOYMENT_ENV) or None


def _wait_for_voila_request() -> None:
    # A pre-heated Voila kernel runs the notebook before anyone asks for the page; pause here
    # (imports done, workspace open, plotly's figure classes loaded by drawing empty figures)
    # until the request arrives with its query string.
    if os.environ.get("VOILA_PREHEAT") == "True":
        from voila.utils import wait_for_request  # type: ignore[import-untyped]

        for fig in (health_figure([]), drift_share_figure([], 0.5), quality_figure([])):
            mime_output(fig)
        ready = os.environ.get(READY_FILE_ENV)
        if ready:
            with contextlib.suppress(OSError):
                Path(ready).touch()
        wait_for_request()


def _picker(names: list[str]) -> str:
    links = "".join(
        f'<li><a href="?deployment={quote(n, safe="")}">{html.escape(n)}</a></li>' for n in names
    )
    return (
        f'{_STYLE}<div class="jp-mlops-Dash"><h2>Monitoring</h2><p>Pick a deployment:</p>'
        f"<ul>{links}</ul></div>"
    )


def show(
    deployment: str | None = None,
    *,
    refresh_seconds: float = REFRESH_SECONDS,
    workspace: Any = None,
) -> MonitoringDashboard | None:
    """Display the monitoring dashboard of a deployment and keep it up to date.

    Args:
        deployment: its name; default: from the URL's ``?deployment=``, the environment, or
            the workspace's only deployment.
        refresh_seconds: how often it re-reads the stored checks.
        workspace: the :class:`~jupyter_mlops.Workspace` (default: found from here).

    Returns:
        The dashboard, or None when there was nothing to show (a message was shown instead).

    Example:
        >>> from jupyter_mlops.dashboards.monitoring import show
        >>> show("churn")  # doctest: +SKIP
    """
    from jupyter_mlops.workspace import Workspace

    try:
        ws = workspace if workspace is not None else Workspace.find()
        monitoring = ws.monitoring
        _wait_for_voila_request()
        name = deployment or requested_deployment()
        if name is None:
            names = sorted(d.name for d in ws.deployments.list())
            if len(names) != 1:
                display(widgets.HTML(_picker(names) if names else _problem_no_deployments()))
                return None
            name = names[0]
        dash = MonitoringDashboard(monitoring, name, refresh_seconds)
        dash.refresh()
    except MlopsError as exc:
        display(widgets.HTML(_STYLE + _problem(exc)))
        return None
    # First paint: the stored state as plain HTML, which the page shows without loading the
    # widget manager or plotly; the live summary (first in the widgets) hides it once drawn.
    display(HTML(f'<div class="{_STATIC}">{dash.summary_html()}</div>'))
    display(dash.widget)
    with contextlib.suppress(RuntimeError):  # no event loop: a plain script, no timer
        dash.start()
    return dash


def _problem_no_deployments() -> str:
    return (
        f'{_STYLE}<div class="jp-mlops-Dash jp-mlops-Problem"><h2>Monitoring</h2>'
        "<p>This workspace has no deployment yet.</p><p>Deploy a model with "
        "<code>jupyter mlops deploy NAME@ALIAS</code>, then open this page again.</p></div>"
    )
