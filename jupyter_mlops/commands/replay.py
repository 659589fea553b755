"""Handler of ``replay REF``: train a registered version again from its lineage, and compare.

It waits for the replay's job by default and prints each metric beside the original run's,
naming those that differ. It exits 0 when the replay ran, whether or not metrics differ (it is
a report), and non-zero when the job failed, was cancelled or is still running at
``--timeout``. ``--no-wait`` returns once the job is queued; ``replay --report JOB`` reports on
it later. ``--json`` prints the service's pydantic models, as REST returns them.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from jupyter_mlops.commands.args import CommandParser, Subcommands
from jupyter_mlops.commands.results import Detail, Result
from jupyter_mlops.errors import InvalidInput

if TYPE_CHECKING:
    from jupyter_mlops.commands.context import Context
    from jupyter_mlops.pipelines.replay_schemas import ReplayReport, ReplayStarted


def _value(value: float | None) -> str:
    return "-" if value is None else repr(value)


def _pins(pins: dict[str, int]) -> str:
    return ", ".join(f"{view}:v{version}" for view, version in sorted(pins.items())) or "none"


def _started(started: ReplayStarted) -> Detail:
    facts = [
        ("version", f"{started.model}:{started.version}"),
        ("original run", started.original_run_id),
        ("job", started.job_id),
        ("notebook", f"{started.notebook} (from the {started.notebook_source})"),
        ("parameters", ", ".join(f"{k}={v!r}" for k, v in started.parameters.items()) or "-"),
        ("feature versions", _pins(started.pins)),
        ("features as of", f"{started.as_of:%Y-%m-%d %H:%M:%S} UTC"),
    ]
    lines = [f"warning: {w}" for w in started.warnings]
    lines.append(f"See its report once it ends: jupyter mlops replay --report {started.job_id}")
    return Detail(
        title=f"Replay of {started.model}:{started.version} queued",
        facts=facts,
        text="\n".join(lines),
        data=started.model_dump(mode="json"),
    )


def _report(report: ReplayReport) -> Detail:
    import pandas as pd

    frame = pd.DataFrame(
        [
            {
                "metric": m.metric,
                "original": _value(m.original),
                "replay": _value(m.replay),
                "same?": "yes" if m.equal else "NO",
            }
            for m in report.metrics
        ],
        columns=["metric", "original", "replay", "same?"],
    )
    facts = [
        ("version", f"{report.model}:{report.version}"),
        ("original run", report.original_run_id),
        ("replay run", report.replay_run_id or "-"),
        ("job", f"{report.job_id} ({report.state})"),
        ("feature versions", _pins(report.pins)),
        ("features as of", f"{report.as_of:%Y-%m-%d %H:%M:%S} UTC"),
    ]
    lines = [f"warning: {w}" for w in report.warnings]
    if report.state == "succeeded":
        if report.differ:
            lines.append(
                f"{len(report.differ)} of {len(report.metrics)} metrics differ: "
                + ", ".join(report.differ)
            )
        else:
            lines.append(f"All {len(report.metrics)} metrics are exactly the same.")
    elif report.state in ("failed", "cancelled"):
        lines.append(f"The replay {report.state}: {report.message or 'no message'}")
    else:
        lines.append(
            f"The replay is still {report.state}: jupyter mlops replay --report {report.job_id}"
        )
    result = Detail(
        title=f"Replay of {report.model}:{report.version}",
        facts=facts,
        text="\n".join(lines),
        tables=[("Metrics, original beside replay", frame)],
        data=report.model_dump(mode="json"),
    )
    result.exit_code = 0 if report.state == "succeeded" else 1
    return result


def cmd_replay(args: argparse.Namespace, ctx: Context) -> Result:
    ws = ctx.workspace(args)
    if args.report:
        return _report(ws.replays.report(args.report, wait=not args.no_wait, timeout=args.timeout))
    if not args.ref:
        raise InvalidInput(
            "Name the version to replay, e.g. `jupyter mlops replay churn/3`",
            hint="Or report on a replay already started: `jupyter mlops replay --report JOB`.",
            field="ref",
        )
    started = ws.replays.start(args.ref)
    if args.no_wait:
        return _started(started)
    report = ws.replays.report(started.job_id, wait=True, timeout=args.timeout)
    return _report(report)


def add_commands(sub: Subcommands, common: CommandParser) -> None:
    p = sub.add_parser(
        "replay",
        parents=[common],
        help="train a model version again from its lineage and compare its metrics",
    )
    p.add_argument("ref", nargs="?", help="the version: NAME/VERSION, NAME:VERSION or NAME@ALIAS")
    p.add_argument("--report", metavar="JOB", help="report on a replay already started")
    p.add_argument("--no-wait", action="store_true", help="return once the replay is queued")
    p.add_argument("--timeout", type=float, help="stop waiting after this many seconds")
    p.set_defaults(handler=cmd_replay)
