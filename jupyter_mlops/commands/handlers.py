"""Command handlers: parse nothing, call a service, return a :class:`Result`.

Each handler takes the parsed arguments and a :class:`Context`; the CLI and the magic supply the
context and render the result their own way.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_mlops.commands.context import Context
from jupyter_mlops.commands.features import HANDLERS as FEATURE_HANDLERS
from jupyter_mlops.commands.models import HANDLERS as MODEL_HANDLERS
from jupyter_mlops.commands.results import ComparisonResult, Message, Result, Table
from jupyter_mlops.errors import InvalidInput
from jupyter_mlops.workspace import Workspace

if TYPE_CHECKING:
    from jupyter_mlops.tracking.schemas import RunSummary


def cmd_init(args: argparse.Namespace, ctx: Context) -> Result:
    base = Path(args.workspace) if args.workspace else (ctx.cwd or Path.cwd())
    target = Path(args.dir) if Path(args.dir).is_absolute() else base / args.dir
    ws = Workspace.init(target)
    ws.tracking.list_experiments()  # creates the embedded database now, not on first use
    return Message(
        f"Workspace ready in {ws.root}\n  config:   {ws.root / 'mlops.toml'}\n"
        f"  tracking: {ws.tracking_uri}",
        {"root": str(ws.root), "tracking_uri": ws.tracking_uri},
    )


def cmd_experiments(args: argparse.Namespace, ctx: Context) -> Result:
    import pandas as pd

    exps = ctx.workspace(args).tracking.list_experiments(include_deleted=args.all)
    frame = pd.DataFrame(
        [
            {
                "experiment_id": e.experiment_id,
                "name": e.name,
                "stage": e.lifecycle_stage,
                "created": _time(e.creation_time),
            }
            for e in exps
        ],
        columns=["experiment_id", "name", "stage", "created"],
    )
    return Table(frame, title=f"{len(exps)} experiment(s)")


def cmd_runs(args: argparse.Namespace, ctx: Context) -> Result:
    page = ctx.workspace(args).tracking.list_runs(
        args.experiment or None,
        filter=args.filter,
        order_by=args.sort,
        max_results=args.limit,
        page_token=args.page_token,
    )
    frame = runs_frame(page.runs)
    footer = ""
    if page.next_page_token:
        footer = f"More runs: add --page-token {page.next_page_token}"
    return Table(
        frame, title=f"{len(page.runs)} run(s)", footer=footer,
        data={"next_page_token": page.next_page_token},
    )  # fmt: skip


def runs_frame(runs: list[RunSummary]) -> Any:
    """Runs as a DataFrame shaped like ``mlflow.search_runs``: params.* and metrics.* columns."""
    import pandas as pd

    rows = []
    for r in runs:
        row: dict[str, Any] = {
            "run_id": r.run_id,
            "run_name": r.run_name,
            "status": r.status,
            "start_time": _time(r.start_time),
        }
        row.update({f"metrics.{k}": v for k, v in sorted(r.metrics.items())})
        row.update({f"params.{k}": v for k, v in sorted(r.params.items())})
        rows.append(row)
    return pd.DataFrame(rows, columns=None if rows else ["run_id", "run_name", "status"])


def cmd_compare(args: argparse.Namespace, ctx: Context) -> Result:
    charts = ctx.rich if args.charts is None else args.charts
    comparison = ctx.workspace(args).tracking.compare(
        args.run_ids,
        diff_only=args.diff_only,
        group_by_seed=args.group_by_seed,
        seed_param=args.seed_param,
        figures=charts,
    )
    return ComparisonResult(comparison)


def cmd_run(args: argparse.Namespace, ctx: Context) -> Result:
    raise InvalidInput(
        "`run` is a cell magic: put `%%mlops run` on the first line of a notebook cell.",
        hint="From a terminal, run notebooks as jobs with papermill.",
    )


def cmd_ui(args: argparse.Namespace, ctx: Context) -> Result:
    from jupyter_mlops.tracking.ui import start_ui

    ws = ctx.workspace(args)
    ui = start_ui(ws.tracking, ws.root, host=args.host, port=args.port, wait=not ctx.rich)
    return Message(f"MLflow UI on {ui.url} (pid {ui.pid})", {"url": ui.url, "pid": ui.pid})


def cmd_demo(args: argparse.Namespace, ctx: Context) -> Result:
    from jupyter_mlops.demo import build_demo, start_lab

    base = ctx.cwd or Path.cwd()
    target = Path(args.dir) if Path(args.dir).is_absolute() else base / args.dir
    ws, summary = build_demo(target, deploy=not args.no_deploy)
    if args.no_lab or ctx.rich:
        return Message(summary, {"root": str(ws.root)})
    start_lab(ws, port=args.port)
    return Message(summary)


def _time(ms: int | None) -> Any:
    import pandas as pd

    return pd.to_datetime(ms, unit="ms", utc=True) if ms else None


HANDLERS: dict[str, Callable[[argparse.Namespace, Context], Result]] = {
    "init": cmd_init,
    "experiments": cmd_experiments,
    "runs": cmd_runs,
    "compare": cmd_compare,
    "run": cmd_run,
    "ui": cmd_ui,
    "demo": cmd_demo,
    **FEATURE_HANDLERS,
    **MODEL_HANDLERS,
}


def execute(args: argparse.Namespace, ctx: Context) -> Result:
    """Run the handler that ``args`` names."""
    return HANDLERS[args.handler](args, ctx)
