"""Handlers of ``experiments``, ``runs``, ``run`` (the cell magic), ``compare`` and ``ui``."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from datetime import UTC
from typing import TYPE_CHECKING, Any

from jupyter_mlops.commands.args import CommandParser, Subcommands, csv_list, positive
from jupyter_mlops.commands.results import ComparisonResult, Message, Result, Table
from jupyter_mlops.errors import InvalidInput

if TYPE_CHECKING:
    from jupyter_mlops.commands.context import Context
    from jupyter_mlops.tracking.schemas import RunSummary


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
    from jupyter_mlops.tracking.columns import (
        RunColumns,
        available_columns,
        default_columns,
        resolve_columns,
    )

    ws = ctx.workspace(args)
    page = ws.tracking.list_runs(
        args.experiment or None,
        filter=args.filter,
        order_by=args.sort,
        max_results=args.limit,
        page_token=args.page_token,
    )
    available = available_columns(page.runs)
    if args.experiment and len(args.experiment) == 1:
        # One experiment: the columns its runs table shows in JupyterLab (saved or declared).
        choice = RunColumns(ws.tracking, ws.state_dir).get(args.experiment[0])
        shown = choice.columns
        available = list(dict.fromkeys([*available, *choice.available]))
    else:
        shown, _ = default_columns(page.runs)
    if args.columns:
        shown = resolve_columns(args.columns, available)
    footer = ""
    if page.next_page_token:
        footer = f"More runs: add --page-token {page.next_page_token}"
    full = runs_frame(page.runs)
    return RunsTable(
        full if args.all_columns else narrow_runs_frame(page.runs, shown),
        title=f"{len(page.runs)} run(s)",
        footer=footer,
        data={"next_page_token": page.next_page_token, "columns": shown},
        full=full,
        fit=not (args.columns or args.all_columns),
    )


@dataclass
class RunsTable(Table):
    """The runs: chosen columns on screen, every param and metric in ``--json``.

    In a terminal, default columns that do not fit its width are left out and named under the
    table (``--columns`` or ``--all-columns`` show them); a notebook shows them all."""

    full: Any = None
    fit: bool = False

    def to_text(self) -> str:
        if not self.fit or not len(self.frame):
            return super().to_text()
        import shutil

        width = shutil.get_terminal_size((120, 24)).columns
        fixed = 4  # run, id, status, started
        chosen = list(self.frame.columns[fixed:])
        kinds = [str(c).split(".", 1)[0] for c in self.data.get("columns", [])]
        # The first two metrics go last: a table of params alone says little.
        metrics = [h for h, k in zip(chosen, kinds, strict=False) if k == "metrics"][:2]
        order = [c for c in reversed(chosen) if c not in metrics] + metrics[::-1]
        left_out: list[str] = []
        frame = self.frame
        while order[len(left_out) :] and len(frame.columns) > fixed + 1:
            if _text_width(frame) <= width:
                break
            left_out.append(order[len(left_out)])
            frame = self.frame.drop(columns=left_out)
        left_out = [str(c) for c in chosen if c in left_out]
        note = ""
        if left_out:
            note = (
                f"{len(left_out)} more column(s) did not fit the terminal: "
                f"{', '.join(left_out)} (--columns to choose, --all-columns for all)"
            )
        body = frame.to_string(index=False)
        return "\n".join(p for p in (self.title, body, note, self.footer) if p)

    def to_json(self) -> Any:
        rows = json.loads(self.full.to_json(orient="records", date_format="iso"))
        return {**self.data, "rows": rows}


def narrow_runs_frame(runs: list[RunSummary], columns: list[str]) -> Any:
    """Runs with only the chosen ``params.*``/``metrics.*`` columns, headed by their bare names
    (the kind is kept where a param and a metric share a name), and an 8-character id."""
    import pandas as pd

    bare = [c.split(".", 1)[1] for c in columns]
    heads = [c if bare.count(b) > 1 else b for c, b in zip(columns, bare, strict=True)]
    rows = []
    for r in runs:
        row: dict[str, Any] = {
            "run": r.run_name or "",
            "id": r.run_id[:8],
            "status": r.status.lower(),
            "started": _short_time(r.start_time),
        }
        for column, head in zip(columns, heads, strict=True):
            kind, name = column.split(".", 1)
            row[head] = r.params.get(name) if kind == "params" else _rounded(r.metrics.get(name))
        rows.append(row)
    return pd.DataFrame(rows, columns=["run", "id", "status", "started", *heads])


def _text_width(frame: Any) -> int:
    return max(len(line) for line in frame.to_string(index=False).splitlines())


def _rounded(value: float | None) -> float | None:
    return None if value is None else float(f"{value:.4g}")


def _short_time(ms: int | None) -> str:
    if not ms:
        return ""
    from datetime import datetime

    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M")


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


def _time(ms: int | None) -> Any:
    import pandas as pd

    return pd.to_datetime(ms, unit="ms", utc=True) if ms else None


# -- the command tree ------------------------------------------------------------------------------


def add_commands(sub: Subcommands, common: CommandParser) -> None:
    """``experiments``, ``runs``, ``run``, ``compare``, ``ui``."""
    p = sub.add_parser("experiments", parents=[common], help="list experiments")
    p.add_argument("--all", action="store_true", help="include deleted experiments")
    p.set_defaults(handler=cmd_experiments)

    p = sub.add_parser("runs", parents=[common], help="list runs (filter, sort, page)")
    p.add_argument("--experiment", "-e", action="append", help="experiment name or id (repeatable)")
    p.add_argument("--filter", "-f", default="", help='MLflow filter, e.g. "metrics.auc > 0.8"')
    p.add_argument(
        "--sort", "-s", action="append", default=[], help='order clause, e.g. "metrics.auc DESC"'
    )
    p.add_argument("--limit", "-n", type=positive, default=50, help="page size (default 50)")
    p.add_argument("--page-token", help="next_page_token from the previous page")
    p.add_argument(
        "--columns",
        "-c",
        type=csv_list,
        default=[],
        help="params and metrics to show: seed,roc_auc or params.seed,metrics.roc_auc "
        "(default: the experiment's chosen columns, else those its runs declared)",
    )
    p.add_argument("--all-columns", action="store_true", help="show every param and metric (wide)")
    p.set_defaults(handler=cmd_runs)

    p = sub.add_parser("run", parents=[common], help="(cell magic) run a cell as a tracked run")
    p.add_argument("--experiment", "-e", help="experiment name (default from mlops.toml)")
    p.add_argument("--name", "-n", help="run name")
    p.add_argument(
        "--params", "-p", type=csv_list, default=[], help="variables to log as parameters: a,b,c"
    )
    p.add_argument(
        "--metrics", "-m", type=csv_list, default=[], help="variables to log as metrics: x,y"
    )
    p.add_argument("--no-autolog", action="store_true", help="do not turn on MLflow autologging")
    p.add_argument("--notebook", help="notebook path to record (default: the kernel's notebook)")
    p.set_defaults(handler=cmd_run)

    p = sub.add_parser("compare", parents=[common], help="compare runs side by side")
    p.add_argument("run_ids", nargs="+", metavar="RUN", help="two or more: id, id prefix or name")
    p.add_argument("--diff-only", action="store_true", help="only what differs between runs")
    p.add_argument(
        "--group-by-seed", action="store_true", help="group seeds: mean and 95%% interval"
    )
    p.add_argument("--seed-param", help="the seed parameter (default: seed, random_state, ...)")
    p.add_argument(
        "--charts",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="build plotly charts (default: in notebooks only)",
    )
    p.set_defaults(handler=cmd_compare)

    p = sub.add_parser("ui", parents=[common], help="start the MLflow UI on the workspace store")
    p.add_argument("--port", type=positive, default=5000)
    p.add_argument("--host", default="127.0.0.1")
    p.set_defaults(handler=cmd_ui)
