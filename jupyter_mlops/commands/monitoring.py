"""Handlers of the monitoring commands.

``monitor status|drift|metrics|quality|check|checks|events|feedback|scheduler`` and ``drift`` (the
short form of ``monitor drift``). Like every handler they call the workspace's monitoring service
and return a Result whose ``--json`` is the service's own pydantic model, as REST returns it.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from jupyter_mlops.commands.args import CommandParser, Subcommands, add_group, iso_time, positive
from jupyter_mlops.commands.context import load_data
from jupyter_mlops.commands.results import Detail, Result, Table
from jupyter_mlops.errors import InvalidInput

if TYPE_CHECKING:
    import pandas as pd

    from jupyter_mlops.commands.context import Context
    from jupyter_mlops.monitoring.drift import DriftReport
    from jupyter_mlops.monitoring.schemas import AlertEvent, ApiMetrics, QualityReport
    from jupyter_mlops.monitoring.windows import Window


def _window(args: argparse.Namespace, default: str | None = None) -> Window:
    from jupyter_mlops.monitoring.windows import Window

    window = args.window
    if window is None and args.start is None and args.last is None:
        window = default
    return Window.parse(window, start=args.start, end=args.end, last=args.last)


def _fmt(value: float | None, spec: str = ".3g", suffix: str = "") -> str:
    return "-" if value is None else f"{value:{spec}}{suffix}"


def _firing(keys: list[str], shown: int = 3) -> str:
    """``3 firing: drift_share, feature_drift:spend, ...``, short enough for a table cell."""
    if not keys:
        return "-"
    more = f", +{len(keys) - shown}" if len(keys) > shown else ""
    return f"{len(keys)}: " + ", ".join(keys[:shown]) + more


def _frame(rows: list[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame(rows, columns=columns)


class DriftResult(Result):
    """A drift report: a table in the terminal, the report itself in a notebook."""

    def __init__(self, report: DriftReport, title: str) -> None:
        self.report = report
        self.title = title
        self.value = report

    def to_text(self) -> str:
        frame = self.report.to_frame()
        cols = [
            c
            for c in ("feature", "kind", "test", "statistic", "p_value", "threshold", "drifted")
            if c in frame.columns
        ]
        share = self.report.drift_share
        head = f"{self.title}: drift share {_fmt(share, '.0%')}"
        message = getattr(self.report, "message", None)
        if message:
            head += f"\n{message}"
        body = frame[cols].to_string(index=False) if len(frame) else "(no features)"
        return f"{head}\n{body}"

    def to_json(self) -> Any:
        return self.report.model_dump(mode="json")

    def display(self) -> None:
        from IPython.display import display

        display(self.report)


# -- handlers --------------------------------------------------------------------------------------


def cmd_status(args: argparse.Namespace, ctx: Context) -> Result:
    ws = ctx.workspace(args)
    status = ws.monitoring.status(args.name)
    rows = [
        {
            "deployment": s.deployment,
            "state": s.state,
            "serving": ", ".join(s.serving),
            "req/s": _fmt(s.request_rate),
            "errors": _fmt(s.error_rate, ".1%"),
            "p95 ms": _fmt(s.latency_p95_ms, ".1f"),
            "drift": _fmt(s.drift_share, ".0%"),
            "alerts": _firing(s.firing),
            "last check": s.last_check.strftime("%Y-%m-%d %H:%M:%S") if s.last_check else "never",
        }
        for s in status.deployments
    ]
    columns = [
        "deployment",
        "state",
        "serving",
        "req/s",
        "errors",
        "p95 ms",
        "drift",
        "alerts",
        "last check",
    ]
    sched = status.scheduler
    footer = (
        f"Scheduler running (pid {sched.pid})"
        if sched.running
        else "Scheduler not running: start it with `jupyter mlops monitor scheduler start`"
    )
    return Table(
        _frame(rows, columns),
        title="Monitoring",
        footer=footer,
        data=status.model_dump(mode="json"),
    )


def cmd_drift(args: argparse.Namespace, ctx: Context) -> Result:
    ws = ctx.workspace(args)
    window = _window(args, ws.monitoring.window_for(args.name))
    reference = None
    if args.against:
        reference = window.before(args.against)
    report = ws.monitoring.drift(
        args.name, window, version=args.version, tests=args.test, reference=reference
    )
    return DriftResult(report, f"Drift of {args.name} over {window.label}")


def _metrics_table(m: ApiMetrics) -> Table:
    rows = [
        {
            "model": v.model,
            "version": "all" if v.version is None else v.version,
            "requests": v.requests,
            "rows": v.rows,
            "req/s": _fmt(v.request_rate),
            "errors": _fmt(v.error_rate, ".2%"),
            "by status": ", ".join(f"{k}: {n}" for k, n in sorted(v.errors_by_status.items()))
            or "-",
            "p50 ms": _fmt(v.latency_p50_ms, ".2f"),
            "p95 ms": _fmt(v.latency_p95_ms, ".2f"),
            "p99 ms": _fmt(v.latency_p99_ms, ".2f"),
        }
        for v in [*m.versions, m.overall]
    ]
    columns = list(rows[0]) if rows else []
    return Table(
        _frame(rows, columns),
        title=f"API metrics of {m.deployment} over {m.window.label}",
        data=m.model_dump(mode="json"),
    )


def cmd_metrics(args: argparse.Namespace, ctx: Context) -> Result:
    ws = ctx.workspace(args)
    window = _window(args, ws.monitoring.window_for(args.name))
    return _metrics_table(ws.monitoring.metrics(args.name, window))


def _quality_result(q: QualityReport) -> Result:
    rows = [
        {"model": v.model, "version": "all" if v.version is None else v.version, "kind": v.kind}
        | {"labelled": v.labelled}
        | {k: _fmt(val, ".4g") for k, val in v.metrics.items()}
        for v in ([*q.versions, q.overall] if q.overall else [])
    ]
    columns = list(rows[0]) if rows else ["model", "version", "kind", "labelled"]
    footer = q.message or f"{q.labelled} of {q.predicted} predicted rows have feedback"
    return Table(
        _frame(rows, columns),
        title=f"Quality of {q.deployment} over {q.window.label}",
        footer=footer,
        data=q.model_dump(mode="json"),
    )


def cmd_quality(args: argparse.Namespace, ctx: Context) -> Result:
    ws = ctx.workspace(args)
    window = _window(args, ws.monitoring.window_for(args.name))
    return _quality_result(ws.monitoring.quality(args.name, window))


def _events_table(events: list[AlertEvent], title: str) -> Table:
    rows = [
        {
            "time": e.time.strftime("%Y-%m-%d %H:%M:%S"),
            "deployment": e.deployment,
            "state": e.state,
            "kind": e.kind,
            "subject": e.subject or "-",
            "message": e.message,
        }
        for e in events
    ]
    columns = ["time", "deployment", "state", "kind", "subject", "message"]
    return Table(
        _frame(rows, columns),
        title=title,
        data={"events": [e.model_dump(mode="json") for e in events]},
    )


def cmd_check(args: argparse.Namespace, ctx: Context) -> Result:
    ws = ctx.workspace(args)
    window = _window(args, ws.monitoring.window_for(args.name))
    report = ws.monitoring.check(args.name, window)
    s = report.summary
    facts = [
        ("window", s.window.label),
        ("predicted rows", str(s.rows)),
        ("requests", str(s.requests)),
        ("error rate", _fmt(s.error_rate, ".2%")),
        ("p95 latency", _fmt(s.latency_p95_ms, ".1f", " ms")),
        ("drift share", _fmt(s.drift_share, ".0%")),
        ("drifted", ", ".join(s.drifted) or "-"),
        ("quality", ", ".join(f"{k}={_fmt(v, '.4g')}" for k, v in s.quality.items()) or "-"),
        ("stale views", ", ".join(s.stale_views) or "-"),
        ("alerts firing", ", ".join(s.firing) or "-"),
    ]
    tables = []
    if report.events:
        tables.append(("New events", _events_table(report.events, "").frame))
    return Detail(
        title=f"Check {s.id} of {args.name}",
        facts=facts,
        text=report.message or "",
        tables=tables,
        data=report.model_dump(mode="json"),
    )


def cmd_checks(args: argparse.Namespace, ctx: Context) -> Result:
    ws = ctx.workspace(args)
    checks = ws.monitoring.checks(args.name, args.limit)
    rows = [
        {
            "id": c.id,
            "time": c.time.strftime("%Y-%m-%d %H:%M:%S"),
            "window": c.window.label,
            "rows": c.rows,
            "drift": _fmt(c.drift_share, ".0%"),
            "errors": _fmt(c.error_rate, ".2%"),
            "p95 ms": _fmt(c.latency_p95_ms, ".1f"),
            "firing": _firing(c.firing),
        }
        for c in checks.checks
    ]
    columns = ["id", "time", "window", "rows", "drift", "errors", "p95 ms", "firing"]
    return Table(
        _frame(rows, columns),
        title=f"Checks of {args.name}",
        data=checks.model_dump(mode="json"),
    )


def cmd_events(args: argparse.Namespace, ctx: Context) -> Result:
    ws = ctx.workspace(args)
    events = ws.monitoring.events(args.name, since=args.since).events
    return _events_table(events, "Alert events" + (f" of {args.name}" if args.name else ""))


def cmd_feedback(args: argparse.Namespace, ctx: Context) -> Result:
    from jupyter_mlops.commands.results import Message
    from jupyter_mlops.monitoring.schemas import FeedbackItem

    ws = ctx.workspace(args)
    if args.data is not None:
        import pandas as pd

        data = load_data(args.data, ctx, ws.resolve_path)
        frame = data if isinstance(data, pd.DataFrame) else pd.DataFrame(data)
        result = ws.monitoring.feedback_frame(
            args.name, frame, id_col=args.id_col, label_col=args.label_col, row_col=args.row_col
        )
    elif args.request_id is not None and args.label is not None:
        result = ws.monitoring.feedback(
            args.name,
            [FeedbackItem(request_id=args.request_id, row=args.row, label=_label(args.label))],
        )
    else:
        raise InvalidInput(
            "Give --data FILE_OR_VARIABLE, or --request-id ID and --label VALUE",
            field="data",
        )
    return Message(
        f"Recorded {result.accepted} feedback row(s) for {args.name}"
        + (f"; {result.duplicates} already recorded" if result.duplicates else ""),
        result.model_dump(mode="json"),
    )


def _label(text: str) -> Any:
    import json

    try:
        return json.loads(text)
    except ValueError:
        return text


def cmd_log(args: argparse.Namespace, ctx: Context) -> Result:
    info = ctx.workspace(args).monitoring.log_info(args.name)

    def when(t: Any) -> str:
        return t.strftime("%Y-%m-%d %H:%M:%S") if t else "-"

    facts = [
        ("folder", info.folder),
        ("parquet", f"{info.parquet_files} file(s), {info.parquet_bytes / 1e6:.1f} MB"),
        ("pending", f"{info.pending_segments} segment(s), {info.pending_bytes / 1e6:.1f} MB"),
        ("records", f"{when(info.first)} to {when(info.last)}"),
        ("retention", f"{info.max_age_days:g} days, {info.max_size_mb:g} MB"),
    ]
    rows = [
        {
            "dropped": when(d.time),
            "file": d.file,
            "reason": d.reason,
            "requests": d.requests,
            "rows": d.rows,
            "MB": round(d.bytes / 1e6, 2),
            "records from": when(d.first),
            "to": when(d.last),
        }
        for d in info.dropped
    ]
    columns = ["dropped", "file", "reason", "requests", "rows", "MB", "records from", "to"]
    return Detail(
        title=f"Prediction log of {args.name}",
        facts=facts,
        tables=[("Dropped by retention", _frame(rows, columns))],
        data=info.model_dump(mode="json"),
    )


def cmd_predictions(args: argparse.Namespace, ctx: Context) -> Result:
    """``monitor predictions NAME``: the prediction log as a DataFrame (the last 100 rows unless
    a window is given), live segment included."""
    from jupyter_mlops.monitoring.windows import Window

    ws = ctx.workspace(args)
    given = args.window or args.start or args.end or args.last
    window = _window(args) if given else Window(last=100, label="last 100")
    frame = ws.monitoring.predictions(args.name, window)
    # Shown without the columns no row fills (the A/B columns outside a test, error when all
    # answered); the DataFrame returned keeps them all.
    shown = frame.dropna(axis=1, how="all") if len(frame) else frame
    table = Table(shown, title=f"{len(frame)} predicted row(s) of {args.name}, {window.label}")
    table.value = frame
    return table


def cmd_scheduler(args: argparse.Namespace, ctx: Context) -> Result:
    from jupyter_mlops.commands.results import Message

    ws = ctx.workspace(args)
    if args.action == "start":
        state = ws.monitoring.ensure_scheduler()
    elif args.action == "stop":
        state = ws.monitoring.stop_scheduler()
    else:
        state = ws.monitoring.scheduler_state()
    text = f"Scheduler running (pid {state.pid})" if state.running else "Scheduler not running"
    if state.error:
        text += f"; last error: {state.error}"
    return Message(text, state.model_dump(mode="json"))


# -- the parser subtree ----------------------------------------------------------------------------


def _window_args(p: CommandParser) -> None:
    p.add_argument("--window", help="a duration ending now: 15m, 1h, 1d (default: [monitoring])")
    p.add_argument("--start", type=iso_time, help="start of a time range (ISO, with time zone)")
    p.add_argument("--end", type=iso_time, help="end of a time range (ISO, with time zone)")
    p.add_argument("--last", type=positive, help="the last N predicted rows")


def _add_drift(sub: Subcommands, common: CommandParser, name: str, help: str) -> None:
    p = sub.add_parser(name, parents=[common], help=help)
    p.add_argument("name", help="deployment")
    _window_args(p)
    p.add_argument("--version", type=positive, help="the served version whose profile to use")
    p.add_argument("--test", help="one drift test for every feature (default: by type)")
    p.add_argument(
        "--against",
        help="compare with the window of this duration before the current one instead of the "
        "training profile",
    )
    p.set_defaults(handler=cmd_drift)


def add_commands(sub: Subcommands, common: CommandParser) -> None:
    _add_drift(sub, common, "drift", "drift of a deployment's recent inputs and outputs")
    msub = add_group(sub, "monitor", "monitoring of deployments: drift, metrics, alerts")
    p = msub.add_parser("status", parents=[common], help="every deployment at a glance")
    p.add_argument("name", nargs="?", help="one deployment")
    p.set_defaults(handler=cmd_status)
    _add_drift(msub, common, "drift", "drift report over a window")
    for verb, handler, text in (
        ("metrics", cmd_metrics, "request rate, errors and latency over a window"),
        ("quality", cmd_quality, "model quality on predictions with feedback"),
        ("check", cmd_check, "run a check now: store it and raise alerts"),
    ):
        p = msub.add_parser(verb, parents=[common], help=text)
        p.add_argument("name", help="deployment")
        _window_args(p)
        p.set_defaults(handler=handler)
    p = msub.add_parser("checks", parents=[common], help="stored checks (the time series)")
    p.add_argument("name", help="deployment")
    p.add_argument("--limit", type=positive, help="only the newest N")
    p.set_defaults(handler=cmd_checks)
    p = msub.add_parser("events", parents=[common], help="alert events, firing and resolved")
    p.add_argument("name", nargs="?", help="one deployment")
    p.add_argument("--since", type=iso_time, help="only events from this time (ISO, with zone)")
    p.set_defaults(handler=cmd_events)
    p = msub.add_parser("feedback", parents=[common], help="record ground truth by request id")
    p.add_argument("name", help="deployment")
    p.add_argument("--data", help="a DataFrame variable or a .csv/.parquet/.json file")
    p.add_argument("--id-col", default="request_id", help="request id column of --data")
    p.add_argument("--label-col", default="label", help="label column of --data")
    p.add_argument("--row-col", default="row", help="row-within-request column of --data")
    p.add_argument("--request-id", help="one request id")
    p.add_argument("--row", type=int, default=0, help="the row within that request")
    p.add_argument("--label", help="its true value (JSON or text)")
    p.set_defaults(handler=cmd_feedback)
    p = msub.add_parser("log", parents=[common], help="the prediction log: size, what was dropped")
    p.add_argument("name", help="deployment")
    p.set_defaults(handler=cmd_log)
    p = msub.add_parser(
        "predictions", parents=[common], help="the prediction log as a table (default: last 100)"
    )
    p.add_argument("name", help="deployment")
    _window_args(p)
    p.set_defaults(handler=cmd_predictions)
    p = msub.add_parser("scheduler", parents=[common], help="the process that runs checks")
    p.add_argument("action", choices=["status", "start", "stop"], nargs="?", default="status")
    p.set_defaults(handler=cmd_scheduler)
