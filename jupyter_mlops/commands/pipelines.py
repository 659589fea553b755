"""Handlers of the pipeline commands: ``pipelines plan|apply|list|show|run|runs|status|events|
enable|disable|cancel``, and ``lineage REF``.

``pipelines run NAME`` asks for a run by hand: it starts one, or joins the run going (the event
is *absorbed*). With ``--wait`` it follows the run, printing each step as it ends, until the run
ends or waits on its A/B test; it exits non-zero when the run failed, was cancelled or is still
going at ``--timeout``. ``--json`` prints the service's pydantic models, as REST returns them.
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any, TextIO

from jupyter_mlops.commands.args import CommandParser, Subcommands, add_group, positive
from jupyter_mlops.commands.results import Detail, Result

if TYPE_CHECKING:
    import pandas as pd

    from jupyter_mlops.commands.context import Context
    from jupyter_mlops.pipelines.schemas import (
        LineageChain,
        PipelineInfo,
        PipelineRun,
        RunStep,
        TriggerEvent,
    )
    from jupyter_mlops.workspace import Workspace

#: Lines are wrapped to fit a terminal this wide.
WIDTH = 100
#: How often ``run --wait`` reads the run (the scheduler process moves it along).
POLL_SECONDS = 0.25
#: A step's state in a table cell, short enough for one column per step.
_SHORT = {
    "pending": ".",
    "running": "run",
    "waiting": "wait",
    "succeeded": "ok",
    "failed": "FAIL",
    "skipped": "-",
}


def _when(t: datetime | None, seconds: bool = True) -> str:
    if t is None:
        return "-"
    return t.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def _wrap(text: str, indent: int) -> str:
    """``text`` wrapped to :data:`WIDTH`, continuation lines indented by ``indent``."""
    return textwrap.fill(
        text,
        width=WIDTH,
        subsequent_indent=" " * indent,
        break_long_words=True,
        break_on_hyphens=False,
    )


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def _frame(rows: list[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame(rows, columns=columns)


def _version(run: PipelineRun) -> str:
    return f"{run.model}:{run.model_version}" if run.model_version else "-"


def _short_time(t: datetime | None) -> str:
    return "-" if t is None else t.strftime("%m-%d %H:%M")


def _reached(run: PipelineRun) -> str:
    """The last step the run got to, with its state (``register failed``)."""
    done = [s for s in run.steps if s.state not in ("pending", "skipped")]
    return f"{done[-1].name} {done[-1].state}" if done else "-"


def _runs_frame(runs: list[PipelineRun], *, steps: bool) -> pd.DataFrame:
    """Runs, one row each: state, what started it, and each step's state in its own column
    (``steps``) or the step the run got to (so that the pipeline's name fits in 100 columns)."""
    from jupyter_mlops.pipelines.service import STEPS

    rows = []
    for r in runs:
        row: dict[str, Any] = {"run": r.id}
        if not steps:
            row["pipeline"] = r.pipeline
        row.update(
            {
                "state": r.state,
                "trigger": r.trigger.kind,
                "created": _short_time(r.created),
                "version": _version(r),
            }
        )
        if steps:
            row.update({s.name: _SHORT.get(s.state, s.state) for s in r.steps})
        else:
            row["step"] = _reached(r)
        rows.append(row)
    if steps:
        return _frame(rows, ["run", "state", "trigger", "created", "version", *STEPS])
    return _frame(rows, ["run", "pipeline", "state", "trigger", "created", "version", "step"])


def _steps_text(run: PipelineRun) -> str:
    """Each step on its own line: name, state, times, then what it did (wrapped)."""
    lines = []
    for s in run.steps:
        times = ""
        if s.started is not None:
            times = f"{s.started:%H:%M:%S}-" + (f"{s.ended:%H:%M:%S}" if s.ended else "")
        head = f"  {s.name:<9} {s.state:<9} {times:<17} "
        lines.append(_wrap(head + (s.detail or ""), len(head)))
    return "\n".join(lines)


def _evidence(event: TriggerEvent) -> str:
    parts = []
    for key, value in event.evidence.items():
        if value in (None, ""):
            continue
        shown = value if isinstance(value, str) else json.dumps(value, default=str)
        parts.append(f"{key}={shown}")
    return ", ".join(parts) or "-"


def _run_detail(run: PipelineRun, title: str | None = None) -> Detail:
    event = run.trigger
    took = ""
    if run.ended is not None:
        took = f" ({(run.ended - run.created).total_seconds():.1f} s)"
    facts = [
        ("pipeline", f"{run.pipeline} (v{run.pipeline_version})"),
        ("state", run.state + (f": {run.message}" if run.message else "")),
        ("created", _when(run.created)),
        ("ended", _when(run.ended) + took),
        ("trigger", f"{event.kind} at {_when(event.time)}: {event.summary}"),
        ("evidence", _evidence(event)),
        ("event", event.id),
        ("absorbed", f"{run.absorbed} later event(s)"),
        ("job", run.job_id or "-"),
        ("MLflow run", run.run_id or "-"),
        ("version", _version(run)),
    ]
    if run.abtest_id:
        facts.append(("A/B test", run.abtest_id))
    result = Detail(
        title=title or f"Pipeline run {run.id}",
        facts=[(label, _clip(value, WIDTH - 16)) for label, value in facts],
        text="Steps:\n" + _steps_text(run),
        data=run.model_dump(mode="json"),
    )
    result.exit_code = 1 if run.state in ("failed", "cancelled") else 0
    return result


def _info_facts(info: PipelineInfo) -> list[tuple[str, str]]:
    spec = info.spec
    facts = [
        ("version", f"v{info.version}, applied {_when(info.applied)} from {info.source}"),
        ("enabled", "yes" if info.enabled else "no (its events are recorded, no run starts)"),
        ("notebook", spec.notebook),
        ("parameters", json.dumps(spec.parameters) if spec.parameters else "(defaults)"),
        ("model", f"{spec.model}, a passing version becomes @{spec.alias}"),
        ("gates", ", ".join(spec.gates) or "none"),
    ]
    if spec.experiment:
        facts.insert(3, ("experiment", spec.experiment))
    if spec.abtest is not None:
        ab = spec.abtest
        facts.append(
            (
                "A/B test",
                f"on {ab.deployment}, split {ab.split[0]:g}/{ab.split[1]:g}, metric {ab.metric}"
                + (", promotes the winner" if ab.promote else ", no promotion"),
            )
        )
    facts += [
        ("debounce", f"{spec.debounce_seconds:g} s"),
        ("timeout", f"{spec.timeout_seconds:g} s"),
        ("runs", f"{info.runs}" + (f", {info.active_run} going" if info.active_run else "")),
    ]
    if spec.description:
        facts.insert(0, ("description", spec.description))
    return facts


def _triggers_frame(info: PipelineInfo) -> pd.DataFrame:
    rows = [{"kind": "manual", "trigger": "by hand (pipelines run)", "next": "-"}]
    rows[:0] = [
        {"kind": t.kind, "trigger": t.text, "next": _when(t.next_fire, seconds=False)}
        for t in info.triggers
    ]
    return _frame(rows, ["kind", "trigger", "next"])


# -- handlers --------------------------------------------------------------------------------------


def cmd_plan(args: argparse.Namespace, ctx: Context) -> Result:
    """``pipelines plan``: what ``apply`` would change; nothing is written."""
    plan = ctx.workspace(args).pipelines.plan()
    return Detail("Pipelines plan", text=str(plan), data=plan.model_dump(mode="json"))


def cmd_apply(args: argparse.Namespace, ctx: Context) -> Result:
    """``pipelines apply``: changed pipelines get a new version; the scheduler watches them."""
    plan = ctx.workspace(args).pipelines.apply()
    title = "Pipelines applied" if plan.has_changes else "Pipelines: up to date"
    return Detail(title, text=str(plan), data=plan.model_dump(mode="json"))


def cmd_list(args: argparse.Namespace, ctx: Context) -> Result:
    found = ctx.workspace(args).pipelines.list()
    rows = [
        {
            "pipeline": p.name,
            "version": f"v{p.version}",
            "enabled": "yes" if p.enabled else "no",
            "model": p.spec.model,
            "triggers": ", ".join(t.kind for t in p.triggers) or "manual",
            "last run": p.last_run.state if p.last_run else "-",
            "at": _short_time(p.last_run.created) if p.last_run else "-",
            "going": p.active_run or "-",
            "runs": p.runs,
        }
        for p in found.pipelines
    ]
    s = found.scheduler
    scheduler = f"running (pid {s.pid})" if s.running else "not running"
    if s.error:
        scheduler += f"; last error: {s.error}"
    columns = ["pipeline", "version", "enabled", "model", "triggers", "last run", "at", "going"]
    return Detail(
        "Pipelines",
        facts=[("scheduler", scheduler)],
        text=""
        if rows
        else "No pipeline is applied: declare one in mlops.toml ([pipeline.NAME]) or "
        "pipelines/*.py, then `jupyter mlops pipelines plan` and `apply`.",
        tables=[("Applied", _frame(rows, [*columns, "runs"]))] if rows else [],
        data=found.model_dump(mode="json"),
    )


def cmd_show(args: argparse.Namespace, ctx: Context) -> Result:
    ws = ctx.workspace(args)
    info = ws.pipelines.get(args.name)
    runs = ws.pipelines.runs(info.name, limit=args.limit).runs
    return Detail(
        f"Pipeline {info.name}",
        facts=_info_facts(info),
        tables=[
            ("Triggers", _triggers_frame(info)),
            (f"Last {len(runs)} run(s)", _runs_frame(runs, steps=True)),
        ],
        data=info.model_dump(mode="json"),
    )


def _follow(
    ws: Workspace, run: PipelineRun, timeout: float | None, out: TextIO | None
) -> PipelineRun:
    """Read the run until it ends or waits on its A/B test; print each step as it ends."""
    from jupyter_mlops.pipelines.schemas import FINAL_RUN_STATES

    deadline = None if timeout is None else time.monotonic() + timeout
    told: set[str] = set()

    def tell(step: RunStep) -> None:
        if out is None or step.name in told or step.state in ("pending", "running"):
            return
        told.add(step.name)
        head = f"  {step.name:<9} {step.state:<9} "
        out.write(_wrap(head + (step.detail or ""), len(head)) + "\n")
        out.flush()

    while True:
        for step in run.steps:
            if step.state in ("pending", "running"):
                break  # later steps are told once this one is done
            tell(step)
        if run.state in FINAL_RUN_STATES or run.state == "waiting":
            return run
        if deadline is not None and time.monotonic() > deadline:
            return run
        time.sleep(POLL_SECONDS)
        run = ws.pipelines.get_run(run.id)


def cmd_run(args: argparse.Namespace, ctx: Context) -> Result:
    ws = ctx.workspace(args)
    result = ws.pipelines.run_now(args.name, reason=args.reason or "")
    event, run = result.event, result.run
    if run is None:
        # Only a disabled pipeline takes an event without a run, and run_now refuses those.
        return Detail(
            f"Pipeline {args.name}: the request was {event.outcome}",
            facts=[("event", event.id), ("note", event.note or "-")],
            data=result.model_dump(mode="json"),
        )
    if event.outcome == "started":
        said = f"Started run {run.id} of pipeline {run.pipeline}"
    else:
        said = f"Run {run.id} of pipeline {run.pipeline} is going: the request joined it"
    if args.wait:
        out: TextIO | None = None
        if not args.json:
            # Steps as they end: beside the final answer in a notebook, on stderr in a terminal
            # so that stdout holds the answer alone.
            out = sys.stdout if ctx.rich else sys.stderr
            out.write(said + "\n")
            out.flush()
        run = _follow(ws, run, args.timeout, out)
        result.run = run
    if not args.wait:
        detail = _run_detail(run, title=said)
        detail.text += f"\n\nFollow it with `jupyter mlops pipelines status {run.id}`."
    else:
        detail = _run_detail(run, title=f"Pipeline run {run.id}: {run.state}")
        if run.state == "running":
            detail.text += (
                f"\n\nStill running after {args.timeout:g} s: follow it with "
                f"`jupyter mlops pipelines status {run.id}`."
            )
            detail.exit_code = 1
        elif run.state == "waiting":
            detail.text += (
                "\n\nThe run waits on its A/B test's verdict; follow it with "
                f"`jupyter mlops pipelines status {run.id}`."
            )
    detail.data = result.model_dump(mode="json")
    return detail


def cmd_runs(args: argparse.Namespace, ctx: Context) -> Result:
    found = ctx.workspace(args).pipelines.runs(args.name, limit=args.limit)
    return Detail(
        "Pipeline runs" + (f" of {args.name}" if args.name else "") + ", newest first",
        tables=[("Runs", _runs_frame(found.runs, steps=False))],
        data=found.model_dump(mode="json"),
    )


def cmd_status(args: argparse.Namespace, ctx: Context) -> Result:
    return _run_detail(ctx.workspace(args).pipelines.get_run(args.run))


def cmd_events(args: argparse.Namespace, ctx: Context) -> Result:
    found = ctx.workspace(args).pipelines.events(args.name, limit=args.limit)
    rows = [
        {
            "time": _when(e.time),
            "pipeline": e.pipeline,
            "kind": e.kind,
            "outcome": e.outcome,
            "run": e.run_id or "-",
            "summary": _clip(e.summary, 40),
        }
        for e in found.events
    ]
    columns = ["time", "pipeline", "kind", "outcome", "run", "summary"]
    if args.name:
        columns.remove("pipeline")
    return Detail(
        "Trigger events" + (f" of {args.name}" if args.name else "") + ", newest first",
        tables=[("Events", _frame(rows, columns))],
        data=found.model_dump(mode="json"),
    )


def _set_enabled(args: argparse.Namespace, ctx: Context, enabled: bool) -> Result:
    info = ctx.workspace(args).pipelines.set_enabled(args.name, enabled)
    said = "enabled: its triggers start runs" if enabled else "disabled: no run starts"
    return Detail(
        f"Pipeline {info.name} {said}",
        facts=_info_facts(info),
        data=info.model_dump(mode="json"),
    )


def cmd_enable(args: argparse.Namespace, ctx: Context) -> Result:
    return _set_enabled(args, ctx, True)


def cmd_disable(args: argparse.Namespace, ctx: Context) -> Result:
    return _set_enabled(args, ctx, False)


def cmd_cancel(args: argparse.Namespace, ctx: Context) -> Result:
    run = ctx.workspace(args).pipelines.cancel_run(args.run)
    result = _run_detail(run, title=f"Pipeline run {run.id} cancelled")
    result.exit_code = 0
    return result


def chain_text(chain: LineageChain) -> str:
    """The links of a lineage chain, one per line: time, kind, title and detail (wrapped)."""
    lines = []
    for link in chain.links:
        head = f"{_when(link.time, seconds=False):<16}  {link.kind:<12}  "
        body = link.title + (f": {link.detail}" if link.detail else "")
        lines.append(_wrap(head + body, len(head)))
    return "\n".join(lines)


def cmd_lineage(args: argparse.Namespace, ctx: Context) -> Result:
    chain = ctx.workspace(args).pipelines.lineage(args.ref)
    aliases = ", ".join(f"@{a}" for a in chain.aliases)
    facts = [("aliases", aliases or "none")]
    run = chain.pipeline_run
    facts.append(("pipeline run", f"{run.id} of {run.pipeline}" if run else "none"))
    return Detail(
        f"Lineage of {chain.model}:{chain.version}, from what serves it back to its commit",
        facts=facts,
        text=chain_text(chain),
        data=chain.model_dump(mode="json"),
    )


# -- the parser subtree ----------------------------------------------------------------------------


def add_commands(sub: Subcommands, common: CommandParser) -> None:
    """``pipelines ...`` and ``lineage REF``."""
    psub = add_group(sub, "pipelines", "continuous training: retrain, gate, register on triggers")
    p = psub.add_parser("plan", parents=[common], help="what apply would change (checked)")
    p.set_defaults(handler=cmd_plan)
    p = psub.add_parser("apply", parents=[common], help="apply the declared pipelines")
    p.set_defaults(handler=cmd_apply)
    p = psub.add_parser("list", parents=[common], help="applied pipelines and their last run")
    p.set_defaults(handler=cmd_list)
    p = psub.add_parser("show", parents=[common], help="a pipeline: spec, triggers, last runs")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--limit", type=positive, default=5, help="runs to show (default 5)")
    p.set_defaults(handler=cmd_show)
    p = psub.add_parser("run", parents=[common], help="run a pipeline now (or join its run)")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--reason", help="why, recorded with the event")
    p.add_argument(
        "--wait", action="store_true", help="follow the run until it ends or waits on its A/B test"
    )
    p.add_argument("--timeout", type=float, help="with --wait: stop following after S seconds")
    p.set_defaults(handler=cmd_run)
    p = psub.add_parser("runs", parents=[common], help="runs, newest first")
    p.add_argument("name", metavar="NAME", nargs="?", help="one pipeline's (default: all)")
    p.add_argument("--limit", type=positive, default=50)
    p.set_defaults(handler=cmd_runs)
    p = psub.add_parser("status", parents=[common], help="one run: its trigger and each step")
    p.add_argument("run", metavar="RUN_ID", help="run id (a unique prefix is enough)")
    p.set_defaults(handler=cmd_status)
    p = psub.add_parser("events", parents=[common], help="trigger events and what came of each")
    p.add_argument("name", metavar="NAME", nargs="?", help="one pipeline's (default: all)")
    p.add_argument("--limit", type=positive, default=200)
    p.set_defaults(handler=cmd_events)
    for verb, handler, text in (
        ("enable", cmd_enable, "let a pipeline's triggers start runs"),
        ("disable", cmd_disable, "stop a pipeline starting runs (events are still recorded)"),
    ):
        p = psub.add_parser(verb, parents=[common], help=text)
        p.add_argument("name", metavar="NAME")
        p.set_defaults(handler=handler)
    p = psub.add_parser("cancel", parents=[common], help="stop a run and cancel its job")
    p.add_argument("run", metavar="RUN_ID", help="run id (a unique prefix is enough)")
    p.set_defaults(handler=cmd_cancel)

    p = sub.add_parser(
        "lineage",
        parents=[common],
        help="why a model version exists: deployments, pipeline run, trigger, job, run, commit",
    )
    p.add_argument("ref", metavar="REF", help="NAME@ALIAS, NAME:VERSION or NAME/VERSION")
    p.set_defaults(handler=cmd_lineage)
