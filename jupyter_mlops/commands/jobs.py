"""Handlers of the job commands: ``job run|sweep|list|status|logs|wait|cancel|rerun|parameters|
executor``.

``job run`` waits for the job by default and draws a progress bar (tqdm: a text bar in a
terminal, a widget in a notebook), exiting non-zero when the job fails; ``--detach`` returns as
soon as the job is queued. ``--json`` prints the service's pydantic models, as REST returns them.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from jupyter_mlops.commands.args import CommandParser, Subcommands, add_group, positive
from jupyter_mlops.commands.results import Detail, Message, Result, Table
from jupyter_mlops.errors import InvalidInput

if TYPE_CHECKING:
    import pandas as pd

    from jupyter_mlops.commands.context import Context
    from jupyter_mlops.jobs.schemas import Job
    from jupyter_mlops.workspace import Workspace


def _params(pairs: list[list[str]] | None) -> dict[str, str]:
    return {name: value for name, value in pairs or []}


def _when(t: Any) -> str:
    return t.strftime("%Y-%m-%d %H:%M:%S") if t is not None else "-"


def _progress(job: Job) -> str:
    if job.cells_total:
        return f"{job.cells_done}/{job.cells_total}"
    return "-"


def _frame(jobs: list[Job]) -> pd.DataFrame:
    import pandas as pd

    rows = [
        {
            "id": j.id,
            "notebook": j.notebook,
            "state": j.state,
            "cells": _progress(j),
            "params": ", ".join(f"{k}={v}" for k, v in j.parameters.items())[:60] or "-",
            "created": _when(j.created),
            "seconds": "-" if j.duration_seconds is None else f"{j.duration_seconds:.1f}",
            "run": (j.run_id or "-")[:8],
        }
        for j in jobs
    ]
    columns = ["id", "notebook", "state", "cells", "params", "created", "seconds", "run"]
    return pd.DataFrame(rows, columns=columns)


def _detail(job: Job) -> Detail:
    facts = [
        ("state", job.state + (f" ({job.message})" if job.message else "")),
        ("notebook", job.notebook),
        ("parameters", json.dumps(job.parameters) if job.parameters else "(defaults)"),
        ("experiment", job.experiment),
        ("cells", _progress(job)),
        ("created", _when(job.created)),
        ("started", _when(job.started)),
        ("finished", _when(job.finished)),
        ("run", job.run_id or "-"),
        ("executed notebook", job.output or "-"),
    ]
    if job.sweep:
        facts.insert(4, ("sweep", job.sweep))
    if job.interrupted:
        facts.append(("interrupted", f"{job.interrupted} time(s)"))
    text = ""
    if job.error is not None:
        e = job.error
        text = f"Cell {e.index + 1} failed: {e.ename}: {e.evalue}\n\n{e.source}"
    if job.warnings:
        text = "\n".join(f"warning: {w}" for w in job.warnings) + ("\n\n" + text if text else "")
    result = Detail(title=f"Job {job.id}", facts=facts, text=text, data=job.model_dump(mode="json"))
    result.exit_code = 1 if job.state in ("failed", "cancelled") else 0
    return result


class _Bar:
    """A progress bar over a job's cells (tqdm.auto: text in a terminal, a widget in Jupyter)."""

    def __init__(self, job: Job, enabled: bool) -> None:
        self.bar: Any = None
        if enabled:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=None, unit="cell", desc=f"{job.notebook} queued", leave=True)

    def __call__(self, job: Job) -> None:
        if self.bar is None:
            return
        if job.cells_total and self.bar.total != job.cells_total:
            self.bar.reset(total=job.cells_total)
        self.bar.n = job.cells_done
        self.bar.set_description(f"{job.notebook} {job.state}")
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _wait(ws: Workspace, job: Job, args: argparse.Namespace, ctx: Context) -> Job:
    show = not args.json and (ctx.rich or sys.stderr.isatty() or args.progress)
    bar = _Bar(job, show)
    try:
        return ws.jobs.wait(job.id, timeout=args.timeout, on_progress=bar)
    finally:
        bar.close()


def cmd_run(args: argparse.Namespace, ctx: Context) -> Result:
    ws = ctx.workspace(args)
    job = ws.jobs.submit(
        args.notebook,
        _params(args.param),
        experiment=args.experiment,
        run_name=args.name,
        from_text=True,
    )
    warnings = job.warnings
    if not args.detach:
        job = _wait(ws, job, args, ctx)
        job.warnings = warnings
    return _detail(job)


def _grid(items: list[str] | None) -> dict[str, list[str]]:
    grid: dict[str, list[str]] = {}
    for item in items or []:
        name, sep, values = item.partition("=")
        if not sep or not name or not values:
            raise InvalidInput(
                f"--grid {item!r} is not NAME=V1,V2,...",
                hint="e.g. --grid n_estimators=100,200 --grid seed=1,2,3",
                field="grid",
            )
        grid[name.strip()] = [v.strip() for v in values.split(",")]
    return grid


def _sets(path: str | None, ctx: Context, ws: Workspace) -> list[dict[str, Any]]:
    if path is None:
        return []
    source = ws.resolve_path(path)
    try:
        data = json.loads(source.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput(
            f"{path} is not a JSON list of parameter sets: {exc}",
            hint='Write e.g. [{"n_estimators": 100}, {"n_estimators": 200}].',
            field="sets",
        ) from exc
    if not isinstance(data, list) or not all(isinstance(d, dict) for d in data):
        raise InvalidInput(f"{path} must hold a JSON list of objects", field="sets")
    return data


def cmd_sweep(args: argparse.Namespace, ctx: Context) -> Result:
    ws = ctx.workspace(args)
    sets = _sets(args.sets, ctx, ws)
    sweep = ws.jobs.sweep(
        args.notebook,
        grid=_grid(args.grid) or None,
        sets=[{k: v for k, v in s.items()} for s in sets] or None,
        parameters=_params(args.param),
        experiment=args.experiment,
        name=args.name,
        from_text=bool(args.grid) or bool(args.param),
    )
    jobs = sweep.jobs
    if not args.detach:
        done = []
        for job in jobs:
            done.append(_wait(ws, job, args, ctx))
        jobs = done
        sweep.jobs = done
    failed = sum(1 for j in jobs if j.state != "succeeded")
    result = Table(
        _frame(jobs),
        title=f"Sweep {sweep.id}: {len(jobs)} jobs of {sweep.notebook}",
        footer=f"Compare them: jupyter mlops job compare {sweep.id}"
        if args.detach or not failed
        else f"{failed} of {len(jobs)} jobs did not succeed",
        data=sweep.model_dump(mode="json"),
    )
    result.exit_code = 1 if (failed and not args.detach) else 0
    return result


def cmd_compare(args: argparse.Namespace, ctx: Context) -> Result:
    """A sweep's runs side by side, seeds grouped when a seed parameter varies."""
    from jupyter_mlops.commands.results import ComparisonResult

    ws = ctx.workspace(args)
    jobs = ws.jobs.list(sweep=args.sweep).jobs
    if not jobs:
        raise InvalidInput(
            f"There is no sweep {args.sweep!r}",
            hint="Sweeps are named in `jupyter mlops job list` (column sweep) and when started.",
            field="sweep",
        )
    run_ids = [j.run_id for j in reversed(jobs) if j.state == "succeeded" and j.run_id]
    if len(run_ids) < 2:
        raise InvalidInput(
            f"Sweep {args.sweep} has {len(run_ids)} succeeded job(s); a comparison needs two",
            hint="Wait for the sweep with `jupyter mlops job list --sweep " + args.sweep + "`.",
            field="sweep",
        )
    seeds = set(ws.tracking.run_config.seed_params)
    varying = {k for j in jobs for k in j.parameters}
    charts = ctx.rich if args.charts is None else args.charts
    return ComparisonResult(
        ws.tracking.compare(
            run_ids, diff_only=True, group_by_seed=bool(seeds & varying), figures=charts
        )
    )


def cmd_list(args: argparse.Namespace, ctx: Context) -> Result:
    ws = ctx.workspace(args)
    jobs = ws.jobs.list(state=args.state, sweep=args.sweep, limit=args.limit)
    executor = ws.jobs.executor_state()
    footer = (
        f"Executor {executor.executor}: {executor.slots} slot(s), "
        f"{len(executor.alive)} worker(s) up, {executor.queued} queued"
    )
    return Table(_frame(jobs.jobs), title="Jobs", footer=footer, data=jobs.model_dump(mode="json"))


def cmd_status(args: argparse.Namespace, ctx: Context) -> Result:
    return _detail(ctx.workspace(args).jobs.get(args.job))


def cmd_wait(args: argparse.Namespace, ctx: Context) -> Result:
    ws = ctx.workspace(args)
    return _detail(_wait(ws, ws.jobs.get(args.job), args, ctx))


def cmd_logs(args: argparse.Namespace, ctx: Context) -> Result:
    ws = ctx.workspace(args)
    job = ws.jobs.get(args.job)
    return Message(ws.jobs.log(job.id).rstrip("\n"), data={"job": job.id, "state": job.state})


def cmd_cancel(args: argparse.Namespace, ctx: Context) -> Result:
    return _detail(ctx.workspace(args).jobs.cancel(args.job))


def cmd_rerun(args: argparse.Namespace, ctx: Context) -> Result:
    ws = ctx.workspace(args)
    job = ws.jobs.rerun(args.job, _params(args.param), from_text=True)
    if not args.detach:
        job = _wait(ws, job, args, ctx)
    return _detail(job)


def cmd_parameters(args: argparse.Namespace, ctx: Context) -> Result:
    import pandas as pd

    declared = ctx.workspace(args).jobs.parameters(args.notebook)
    frame = pd.DataFrame(
        [p.model_dump() for p in declared.parameters], columns=["name", "type", "default", "help"]
    )
    footer = (
        ""
        if declared.has_parameters_cell
        else "No cell is tagged 'parameters': values given are injected as a new first cell."
    )
    return Table(
        frame,
        title=f"Parameters of {declared.notebook}",
        footer=footer,
        data=declared.model_dump(mode="json"),
    )


def cmd_executor(args: argparse.Namespace, ctx: Context) -> Result:
    ws = ctx.workspace(args)
    if args.check:
        check = ws.jobs.check_executor()
        facts = [("ok", "yes" if check.ok else "no")]
        if check.scheduler:
            facts.append(("scheduler", check.scheduler))
        lines = [f"problem: {p}" for p in check.problems]
        for w in check.workers:
            verdict = "ok" if w.ok else "cannot run jobs"
            lines.append(f"worker {w.name or w.address} ({w.nthreads} threads): {verdict}")
            lines += [f"  - {p}" for p in w.problems] + [f"  note: {n}" for n in w.notes]
        result = Detail(
            title=f"Executor {check.executor}",
            facts=facts,
            text="\n".join(lines),
            data=check.model_dump(mode="json"),
        )
        result.exit_code = 0 if check.ok else 1
        return result
    state = ws.jobs.ensure_workers() if args.start else ws.jobs.executor_state()
    if args.stop:
        state = ws.jobs.stop_workers()
    return Detail(
        title=f"Executor {state.executor}",
        facts=[
            ("slots", str(state.slots)),
            ("workers up", ", ".join(state.alive) or "none (they start with the next job)"),
            ("running jobs", ", ".join(state.busy) or "none"),
            ("queued", str(state.queued)),
        ],
        data=state.model_dump(mode="json"),
    )


def _param_arg(p: CommandParser) -> None:
    p.add_argument(
        "-p",
        "--param",
        nargs=2,
        action="append",
        metavar=("NAME", "VALUE"),
        help="a notebook parameter (converted to the type of its default); repeatable",
    )


def _wait_args(p: CommandParser, detach: bool = True) -> None:
    if detach:
        p.add_argument("--detach", action="store_true", help="return once queued; do not wait")
    p.add_argument("--timeout", type=float, help="stop waiting after this many seconds")
    p.add_argument("--progress", action="store_true", help="draw the progress bar even if piped")


def add_commands(sub: Subcommands, common: CommandParser) -> None:
    jsub = add_group(sub, "job", "run notebooks as tracked jobs (papermill)")
    p = jsub.add_parser("run", parents=[common], help="run a notebook with parameters as a job")
    p.add_argument("notebook")
    _param_arg(p)
    p.add_argument("--experiment", help="experiment of the job's run")
    p.add_argument("--name", help="name of the job's run")
    _wait_args(p)
    p.set_defaults(handler=cmd_run)
    p = jsub.add_parser("sweep", parents=[common], help="one job per parameter set")
    p.add_argument("notebook")
    p.add_argument("--grid", action="append", metavar="NAME=V1,V2", help="every combination")
    p.add_argument("--sets", metavar="FILE.json", help="a JSON list of parameter sets")
    _param_arg(p)
    p.add_argument("--experiment")
    p.add_argument("--name", help="the sweep's name (default: sweep-<id>)")
    _wait_args(p)
    p.set_defaults(handler=cmd_sweep)
    p = jsub.add_parser("compare", parents=[common], help="a sweep's runs side by side")
    p.add_argument("sweep", help="the sweep's name")
    p.add_argument(
        "--charts",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="build plotly charts (default: in notebooks only)",
    )
    p.set_defaults(handler=cmd_compare)
    p = jsub.add_parser("list", parents=[common], help="jobs, newest first")
    p.add_argument("--state", choices=["queued", "running", "succeeded", "failed", "cancelled"])
    p.add_argument("--sweep")
    p.add_argument("--limit", type=positive, default=50)
    p.set_defaults(handler=cmd_list)
    for verb, handler, text in (
        ("status", cmd_status, "one job: state, progress, run, executed notebook, error"),
        ("logs", cmd_logs, "what the job's cells printed"),
        ("cancel", cmd_cancel, "cancel a queued job or stop a running one's kernel"),
    ):
        p = jsub.add_parser(verb, parents=[common], help=text)
        p.add_argument("job", help="job id (a unique prefix is enough)")
        p.set_defaults(handler=handler)
    p = jsub.add_parser("wait", parents=[common], help="wait for a job to end")
    p.add_argument("job")
    _wait_args(p, detach=False)
    p.set_defaults(handler=cmd_wait)
    p = jsub.add_parser("rerun", parents=[common], help="run a job's notebook again")
    p.add_argument("job")
    _param_arg(p)
    _wait_args(p)
    p.set_defaults(handler=cmd_rerun)
    p = jsub.add_parser("parameters", parents=[common], help="a notebook's parameters")
    p.add_argument("notebook")
    p.set_defaults(handler=cmd_parameters)
    p = jsub.add_parser("executor", parents=[common], help="the local executor's workers")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--start", action="store_true", help="start a worker for every slot")
    g.add_argument("--stop", action="store_true", help="stop the workers")
    g.add_argument(
        "--check", action="store_true", help="check that jobs can run (on Dask: every worker)"
    )
    p.set_defaults(handler=cmd_executor)
