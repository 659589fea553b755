"""The A/B test report of one deployment, for people who never open a notebook.

``abtest.ipynb`` is one cell, ``show()``; Voila runs it and shows, in this order:

- the verdict in plain words first ("The challenger's converted rate is 3.1 points higher than
  the champion's (+1.2 to +5.0 points); this is conclusive: the challenger is better."), from the
  sequential test, which stays valid however often the page is opened;
- the units and outcomes per variant, and how many the test needs (:func:`required_sample`);
- the effect with its always-valid interval next to the fixed-horizon one (a plotly figure drawn
  by the plotly.js Voila ships: nothing from the internet), and the always-valid p-value at each
  hourly look when there are several;
- the guardrails (errors and latency per variant) and, once stopped, the decision.

The page is drawn once per visit (reload it for the newest figures). Which deployment: as the
monitoring dashboard, ``show("churn")``, else ``?deployment=churn`` in the URL, else
:data:`jupyter_mlops.dashboards.DEPLOYMENT_ENV`, else the only deployment with an A/B test.

The HTML pieces and :func:`required_sample` are shared with the notebook widget
(``%mlops ab watch``, :mod:`jupyter_mlops.commands.abtest_widget`). This module imports no widget
library, so the server can install the report (:func:`install_report`).
"""

from __future__ import annotations

import html
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from jupyter_mlops.dashboards import DEPLOYMENT_ENV
from jupyter_mlops.errors import MlopsError

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from jupyter_mlops.abtest.schemas import AbExperiment, AbStatus
    from jupyter_mlops.dashboards.serve import DashboardServer

#: The packaged A/B report.
AB_NOTEBOOK = Path(__file__).with_name("abtest.ipynb")
#: Where :func:`install_report` puts it in a workspace, relative to the workspace folder.
WORKSPACE_AB_NOTEBOOK = PurePosixPath("dashboards/abtest.ipynb")
#: Without a planned size, the test is sized to detect this change of the champion's rate or
#: mean, relative to it (10%), with :data:`POWER`.
DEFAULT_RELATIVE_MDE = 0.10
POWER = 0.8
VARIANTS = ("champion", "challenger")

STYLE = """
<style>
.jp-mlops-Ab { font-family: var(--jp-ui-font-family, sans-serif);
  color: var(--jp-ui-font-color1, #222); }
.jp-mlops-Ab h2 { margin: 0 0 4px 0; }
.jp-mlops-Ab .jp-mlops-muted { color: var(--jp-ui-font-color2, #666); }
.jp-mlops-AbVerdict { font-size: 1.25em; padding: 8px 12px; border-radius: 6px;
  border-left: 6px solid #7f8c8d; background: var(--jp-layout-color2, #f3f3f3); }
.jp-mlops-AbVerdict.jp-mlops-better { border-left-color: #27ae60; }
.jp-mlops-AbVerdict.jp-mlops-worse { border-left-color: #c0392b; }
.jp-mlops-AbVerdict.jp-mlops-open { border-left-color: #e67e22; }
.jp-mlops-AbWarning { color: #c0392b; font-weight: bold; }
.jp-mlops-Ab table { border-collapse: collapse; margin: 4px 0 10px 0; }
.jp-mlops-Ab td, .jp-mlops-Ab th { padding: 3px 10px; text-align: left;
  border-bottom: 1px solid var(--jp-border-color2, #ddd); }
</style>
"""


# -- what the figures say --------------------------------------------------------------------------


@dataclass(frozen=True)
class RequiredSample:
    """Units each variant needs, and how many it has: from the test's ``planned_n``, else
    estimated at the champion's observed rate or mean for :data:`DEFAULT_RELATIVE_MDE`."""

    needed: dict[str, int]
    so_far: dict[str, int]
    planned: bool
    """True: the test's own ``planned_n``; False: estimated here."""
    note: str

    @property
    def reached(self) -> bool:
        return all(self.so_far[v] >= self.needed[v] for v in VARIANTS)


def required_sample(status: AbStatus) -> RequiredSample | None:
    """How many units each variant needs; None when it cannot be known yet (no analysis, a
    champion rate of 0 or 1, no spread in a numeric outcome, a shadow test).

    With ``planned_n`` each variant needs that many. Otherwise it is the fixed-horizon sample
    size (:func:`jupyter_mlops.abtest.stats.sample_size`) to detect a 10% relative change of the
    champion's observed rate (or mean, with its standard deviation) at the test's alpha, power
    0.8 and its split.
    """
    exp = status.experiment
    so_far = {v: status.assigned.get(v, 0) for v in VARIANTS}
    if exp.planned_n is not None:
        return RequiredSample(
            needed=dict.fromkeys(VARIANTS, exp.planned_n),
            so_far=so_far,
            planned=True,
            note="the test's planned size",
        )
    a = status.analysis
    if a is None or exp.shadow or not exp.split[0] > 0:
        return None
    from jupyter_mlops.abtest.stats import sample_size

    champion = next((v for v in a.variants if v.name == a.control), None)
    if champion is None:
        return None
    try:
        plan = sample_size(
            a.kind,
            champion.mean,
            DEFAULT_RELATIVE_MDE,
            relative=True,
            sd=champion.sd if a.kind == "numeric" else None,
            alpha=a.alpha,
            power=POWER,
            ratio=exp.split[1] / exp.split[0],
        )
    except MlopsError:  # a rate of 0 or 1, a mean of 0, no spread: nothing to size against yet
        return None
    what = "rate" if a.kind == "binary" else "mean"
    return RequiredSample(
        needed={"champion": plan.control_n, "challenger": plan.treatment_n},
        so_far=so_far,
        planned=False,
        note=(
            f"to detect a {DEFAULT_RELATIVE_MDE:.0%} relative change of the champion's {what} "
            f"({champion.mean:.4g}) with power {POWER:.0%} at alpha {a.alpha:g}; set "
            "--planned-n when starting a test to use your own"
        ),
    )


def _amount(kind: str, x: float, signed: bool = False) -> str:
    if kind == "binary":
        return f"{x * 100:+.1f}" if signed else f"{abs(x) * 100:.1f}"
    return f"{x:+.3g}" if signed else f"{abs(x):.3g}"


def verdict_sentence(status: AbStatus) -> tuple[str, str]:
    """(css modifier, sentence): the verdict in plain words, e.g. "The challenger's converted
    rate is 3.1 points higher than the champion's (+1.2 to +5.0 points); this is conclusive: the
    challenger is better." The modifier is ``better``, ``worse``, ``open`` or ``idle``."""
    exp = status.experiment
    a = status.analysis
    if a is None:
        return "idle", status.message or "No outcomes to compare yet."
    c = a.comparison
    eff = c.effect
    if exp.kind == "binary":
        what, unit = f"The challenger's {exp.metric} rate", " points"
        theirs = "the champion's"
    else:
        what, unit = f"The challenger's mean {exp.metric}", ""
        theirs = "the champion's"
    if eff.absolute == 0:
        head = f"{what} is the same as {theirs}"
    else:
        direction = "higher" if eff.absolute > 0 else "lower"
        head = f"{what} is {_amount(exp.kind, eff.absolute)}{unit} {direction} than {theirs}"
    interval = (
        f"({_amount(exp.kind, eff.absolute_low, True)} to "
        f"{_amount(exp.kind, eff.absolute_high, True)}{unit})"
    )
    if c.verdict == "challenger_better":
        return "better", f"{head} {interval}; this is conclusive: the challenger is better."
    if c.verdict == "challenger_worse":
        return "worse", f"{head} {interval}; this is conclusive: the challenger is worse."
    return "open", f"{head} {interval}; this is not yet conclusive."


def verdict_html(status: AbStatus) -> str:
    css, sentence = verdict_sentence(status)
    return f'<p class="jp-mlops-AbVerdict jp-mlops-{css}">{html.escape(sentence)}</p>' + srm_html(
        status
    )


def srm_html(status: AbStatus) -> str:
    a = status.analysis
    if a is None or not a.srm.mismatch:
        return ""
    return (
        '<p class="jp-mlops-AbWarning jp-mlops-AbSrm">Sample-ratio mismatch: '
        f"{html.escape(a.srm.message)} Do not trust the figures until this is explained.</p>"
    )


def facts_html(exp: AbExperiment) -> str:
    split = "shadow" if exp.shadow else f"{exp.split[0]:g}/{exp.split[1]:g}"
    assignment = f"sticky by {exp.sticky_key}" if exp.sticky_key else "random"
    return (
        f'<p class="jp-mlops-muted">{html.escape(exp.model)}: champion v{exp.champion} against '
        f"challenger v{exp.challenger}, split {html.escape(split)} ({html.escape(assignment)}), "
        f"outcome {html.escape(exp.metric)}; started {exp.started:%Y-%m-%d %H:%M} UTC by "
        f"{html.escape(exp.started_by)}; {html.escape(exp.state)} &middot; test "
        f"{html.escape(exp.id)}</p>"
    )


def counts_html(status: AbStatus) -> str:
    """Units and outcomes per variant, with each one's rate or mean, and the needed size."""
    exp = status.experiment
    a = status.analysis
    summary = {v.name: v for v in a.variants} if a is not None else {}
    rate = "rate" if exp.kind == "binary" else "mean"
    need = required_sample(status)
    rows = []
    for variant, version in (("champion", exp.champion), ("challenger", exp.challenger)):
        s = summary.get(variant)
        shown = "-" if s is None else f"{s.mean:.2%}" if exp.kind == "binary" else f"{s.mean:.4g}"
        needed = "-" if need is None else f"{need.so_far[variant]:,} of {need.needed[variant]:,}"
        rows.append(
            f"<tr><td>{variant} (v{version})</td><td>{status.assigned.get(variant, 0):,}</td>"
            f"<td>{status.with_outcome.get(variant, 0):,}</td><td>{shown}</td>"
            f"<td>{needed}</td></tr>"
        )
    if need is None:
        note = "Required sample size: not known until both variants have outcomes."
    else:
        done = "reached" if need.reached else "not reached yet"
        note = f"Required sample size ({html.escape(need.note)}): {done}."
    return (
        f'<table class="jp-mlops-AbCounts"><tr><th>variant</th><th>{status.unit}s</th>'
        f"<th>with an outcome</th><th>{rate}</th><th>{status.unit}s of needed</th></tr>"
        f'{"".join(rows)}</table><p class="jp-mlops-muted">{note}</p>'
    )


def stats_html(status: AbStatus) -> str:
    """The effect with its always-valid interval, the sequential p-value (the verdict's), and
    the fixed-horizon p-value with the warning about peeking."""
    a = status.analysis
    if a is None:
        return ""
    c = a.comparison
    eff, unit = c.effect, (" pp" if a.kind == "binary" else "")
    rel = ""
    if eff.relative is not None:
        rel = f" ({eff.relative:+.1%} relative)"
    lines = [
        f"Effect of the challenger: <b>{_amount(a.kind, eff.absolute, True)}{unit}</b>{rel}, "
        f"always-valid {1 - c.alpha:.0%} interval {_amount(a.kind, eff.absolute_low, True)} to "
        f"{_amount(a.kind, eff.absolute_high, True)}{unit}.",
        f"Sequential p-value (always valid, the verdict's): <b>{c.sequential.p_value:.4g}</b> "
        f"after {c.sequential.looks} look{'s' if c.sequential.looks != 1 else ''}.",
    ]
    if c.bayes is not None:
        lines.append(f"Probability the challenger is better: {c.bayes.probability_better:.1%}.")
    lines.append(
        f'<span class="jp-mlops-muted">Fixed-horizon p-value: {c.fixed_horizon.p_value:.4g} '
        f"({html.escape(a.peeking_warning)})</span>"
    )
    return '<div class="jp-mlops-AbStats">' + "".join(f"<p>{x}</p>" for x in lines) + "</div>"


def guardrails_html(status: AbStatus) -> str:
    def ms(x: float | None) -> str:
        return "-" if x is None else f"{x:.1f} ms"

    rows = "".join(
        f"<tr><td>{html.escape(g.variant)} (v{g.version})</td><td>{g.requests:,}</td>"
        f"<td>{g.errors:,}</td><td>{'-' if g.error_rate is None else f'{g.error_rate:.1%}'}</td>"
        f"<td>{ms(g.latency_p50_ms)}</td><td>{ms(g.latency_p95_ms)}</td></tr>"
        for g in status.guardrails
    )
    shadow = (
        f'<p class="jp-mlops-muted">{status.shadow_requests:,} shadow copies answered.</p>'
        if status.shadow_requests
        else ""
    )
    return (
        '<table class="jp-mlops-AbGuardrails"><tr><th>variant</th><th>requests</th>'
        "<th>errors</th><th>error rate</th><th>latency p50</th><th>latency p95</th></tr>"
        f"{rows}</table>{shadow}"
    )


def decision_html(exp: AbExperiment) -> str:
    d = exp.decision
    if d is None:
        return ""
    moved = f" @champion moved to v{d.version}." if d.alias_moved else ""
    return (
        f'<p class="jp-mlops-AbDecision"><b>Decided:</b> the {html.escape(d.winner)} '
        f"(v{d.version}) serves {html.escape(exp.deployment)} alone, decided by "
        f"{html.escape(d.decided_by)} on {d.decided_at:%Y-%m-%d %H:%M} UTC.{moved}</p>"
    )


def report_html(status: AbStatus) -> str:
    """The whole report but its figures, verdict first."""
    exp = status.experiment
    return (
        f'{STYLE}<div class="jp-mlops-Ab jp-mlops-AbReport">'
        f"<h2>A/B test of {html.escape(exp.deployment)}</h2>{facts_html(exp)}"
        f"{decision_html(exp)}{verdict_html(status)}"
        f"<h3>Who saw what</h3>{counts_html(status)}"
        f"<h3>The figures</h3>{stats_html(status)}"
        f"<h3>Guardrails</h3>{guardrails_html(status)}</div>"
    )


# -- figures ---------------------------------------------------------------------------------------


def effect_figure(status: AbStatus) -> go.Figure | None:
    """The challenger's effect with its always-valid interval, and the fixed-horizon interval
    for comparison, around the line of no effect; None without an analysis."""
    import plotly.graph_objects as go

    a = status.analysis
    if a is None:
        return None
    c = a.comparison
    scale = 100.0 if a.kind == "binary" else 1.0
    rows = [
        (
            "always-valid (verdict)",
            c.effect.absolute,
            c.effect.absolute_low,
            c.effect.absolute_high,
        ),
        (
            "fixed horizon (no peeking)",
            c.fixed_horizon.effect,
            c.fixed_horizon.ci_low,
            c.fixed_horizon.ci_high,
        ),
    ]
    fig = go.Figure()
    for name, mid, low, high in rows:
        fig.add_trace(
            go.Scatter(
                x=[mid * scale],
                y=[name],
                mode="markers",
                name=name,
                marker={"size": 11},
                error_x={
                    "type": "data",
                    "symmetric": False,
                    "array": [(high - mid) * scale],
                    "arrayminus": [(mid - low) * scale],
                },
                showlegend=False,
            )
        )
    fig.add_vline(x=0, line_dash="dot", line_color="#7f8c8d")
    unit = "points" if a.kind == "binary" else a.outcome_col
    fig.update_layout(
        title={"text": f"Effect of the challenger ({1 - c.alpha:.0%} intervals)"},
        xaxis_title=f"challenger - champion ({unit})",
        height=260,
        margin={"l": 190, "r": 20, "t": 50, "b": 50},
        template="plotly_white",
    )
    return fig


def p_value_figure(status: AbStatus) -> go.Figure | None:
    """The always-valid p-value after each hourly look, when there were several."""
    import plotly.graph_objects as go

    a = status.analysis
    if a is None or len(a.comparison.sequential.p_values) < 2:
        return None
    c = a.comparison
    looks = list(range(1, len(c.sequential.p_values) + 1))
    fig = go.Figure(
        go.Scatter(x=looks, y=c.sequential.p_values, mode="lines+markers", showlegend=False)
    )
    fig.add_hline(y=c.alpha, line_dash="dot", line_color="#c0392b")
    fig.update_layout(
        title={"text": "Always-valid p-value at each hourly look"},
        xaxis_title="look (hour with outcomes)",
        yaxis={"type": "log", "title": "p-value"},
        height=300,
        template="plotly_white",
    )
    return fig


# -- the page --------------------------------------------------------------------------------------


def _problem(exc: MlopsError) -> str:
    hint = f"<p>{html.escape(exc.hint)}</p>" if exc.hint else ""
    return (
        f'{STYLE}<div class="jp-mlops-Ab jp-mlops-Problem"><h2>A/B test</h2>'
        f"<p><b>{html.escape(exc.message)}</b></p>{hint}</div>"
    )


def _picker(names: list[str]) -> str:
    if not names:
        return (
            f'{STYLE}<div class="jp-mlops-Ab jp-mlops-Problem"><h2>A/B tests</h2><p>No '
            "deployment of this workspace has an A/B test yet.</p><p>Start one with "
            "<code>jupyter mlops ab start DEPLOYMENT --challenger VERSION</code>.</p></div>"
        )
    links = "".join(
        f'<li><a href="?deployment={quote(n, safe="")}">{html.escape(n)}</a></li>' for n in names
    )
    return f'{STYLE}<div class="jp-mlops-Ab"><h2>A/B tests</h2><ul>{links}</ul></div>'


def _requested() -> str | None:
    from urllib.parse import parse_qs

    for value in parse_qs(os.environ.get("QUERY_STRING", "")).get("deployment", []):
        if value.strip():
            return value.strip()
    return os.environ.get(DEPLOYMENT_ENV) or None


def show(deployment: str | None = None, *, workspace: Any = None) -> AbStatus | None:
    """Display the A/B report of a deployment (its running test, else its last one).

    Args:
        deployment: its name; default: the URL's ``?deployment=``, the environment, or the only
            deployment with an A/B test.
        workspace: the :class:`~jupyter_mlops.Workspace` (default: found from here).

    Returns:
        The status shown, or None when a message was shown instead.

    Example:
        >>> from jupyter_mlops.dashboards.abtest import show
        >>> show("churn")  # doctest: +SKIP
    """
    from IPython.display import HTML, display

    from jupyter_mlops.dashboards.figures import mime_output
    from jupyter_mlops.workspace import Workspace

    try:
        ws = workspace if workspace is not None else Workspace.find()
        name = deployment or _requested()
        if name is None:
            names = sorted({e.deployment for e in ws.abtests.list().experiments})
            if len(names) != 1:
                display(HTML(_picker(names)))
                return None
            name = names[0]
        status = ws.abtests.status(name)
    except MlopsError as exc:
        display(HTML(_problem(exc)))
        return None
    display(HTML(report_html(status)))
    for fig in (effect_figure(status), p_value_figure(status)):
        if fig is not None:
            # plotly's mime type only: drawn by the plotly.js Voila ships, no CDN.
            display(mime_output(fig)["data"], raw=True)
    return status


# -- where it is served ----------------------------------------------------------------------------


def install_report(workspace_root: Path) -> Path:
    """Copy the packaged report into the workspace (for Voila's server extension, which
    renders notebooks under the server's root only), unless an identical copy is there."""
    from jupyter_mlops.dashboards import install

    return install(workspace_root, AB_NOTEBOOK, WORKSPACE_AB_NOTEBOOK)


def start_report(
    root: Path, deployment: str, *, port: int, timeout: float = 60.0
) -> DashboardServer:
    """Start Voila on the A/B report of ``deployment``, standalone on loopback, as the
    monitoring dashboard starts (minus pre-heating: the report is drawn once per visit), and
    wait until it answers.

    Raises:
        Conflict: something listens on the port already.
        BackendUnavailable: Voila exited or did not answer in time.
    """
    from jupyter_mlops.dashboards.serve import start_dashboard

    return start_dashboard(
        root, deployment, port=port, preheat=False, timeout=timeout, notebook=AB_NOTEBOOK
    )
