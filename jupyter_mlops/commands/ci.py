"""Handlers of ``ci`` (train a notebook as a job and check its gates) and ``gate`` (the cell).

``jupyter mlops ci NOTEBOOK --gate ... --converged loss`` runs the notebook through the jobs
service, checks the run and writes JUnit XML and a markdown summary; it exits 1 when a check
fails. ``ci --init`` writes a GitHub Actions workflow that does it on every push. ``%%mlops gate``
evaluates the same checks in a notebook against the current run (see ``commands/magic.py``).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_mlops.commands.args import CommandParser, Subcommands
from jupyter_mlops.commands.results import Message, Result
from jupyter_mlops.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    from jupyter_mlops.commands.context import Context
    from jupyter_mlops.jobs.ci_schemas import CiResult, RunChecks
    from jupyter_mlops.jobs.schemas import Job
    from jupyter_mlops.workspace import Workspace


class CiReport(Result):
    """A CI run: the markdown summary in a terminal, rendered in a notebook; exit 1 on failure."""

    def __init__(self, result: CiResult) -> None:
        from jupyter_mlops.jobs.ci import markdown_summary

        self.result = result
        self.markdown = markdown_summary(result)
        self.exit_code = 0 if result.passed else 1

    def to_text(self) -> str:
        written = [p for p in (self.result.junit, self.result.summary) if p]
        tail = f"\nWrote {', '.join(written)}" if written else ""
        return self.markdown.rstrip("\n") + tail

    def to_json(self) -> Any:
        return self.result.model_dump(mode="json")

    def _repr_markdown_(self) -> str:
        return self.markdown


class GateReport(Result):
    """The checks of a ``%%mlops gate`` cell (or ``gate --run``): a table, exit 1 on failure."""

    def __init__(self, outcome: RunChecks, source: str) -> None:
        self.outcome = outcome
        self.source = source
        self.exit_code = 0 if outcome.passed else 1

    def markdown(self) -> str:
        from jupyter_mlops.jobs.ci import checks_table

        o = self.outcome
        failed = sum(not c.passed for c in o.checks)
        verdict = "passed" if o.passed else f"failed ({failed} of {len(o.checks)})"
        head = f"**Gates {verdict}** on run `{o.run_id}` ({self.source})"
        if o.model.name:
            head += f", model `{o.model.name}`"
        return f"{head}\n\n{checks_table(o.checks)}"

    def to_text(self) -> str:
        return self.markdown()

    def to_json(self) -> Any:
        return self.outcome.model_dump(mode="json")

    def _repr_markdown_(self) -> str:
        return self.markdown()


class _Progress:
    """One line per change of a job's state or cells done: readable in a CI log (not a TTY)."""

    def __init__(self, enabled: bool, stream: Any) -> None:
        self.enabled = enabled
        self.stream = stream
        self.last: tuple[str, int, int] | None = None

    def __call__(self, job: Job) -> None:
        key = (job.state, job.cells_done, job.cells_total)
        if not self.enabled or key == self.last:
            return
        self.last = key
        if job.state == "running" and job.cells_total:
            line = f"{job.notebook}: running, cell {job.cells_done}/{job.cells_total}"
        elif job.duration_seconds is not None and job.state != "running":
            line = f"{job.notebook}: {job.state} in {job.duration_seconds:.1f} s"
        else:
            line = f"{job.notebook}: {job.state} (job {job.id})"
        self.stream.write(line + "\n")
        self.stream.flush()


def _path(ctx: Context, ws: Workspace, text: str) -> Path:
    """A path as the user typed it: relative to where the command runs."""
    path = Path(text).expanduser()
    if path.is_absolute():
        return path
    return (ctx.cwd or Path.cwd()) / path


def _notebook(ctx: Context, ws: Workspace, text: str) -> str:
    """The notebook relative to where the command runs if it is there, else to the workspace."""
    here = _path(ctx, ws, text)
    return str(here) if here.exists() else text


def positive_seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {value!r}") from None
    if not seconds > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds, got {value}")
    return seconds


def _parameters(args: argparse.Namespace) -> dict[str, str]:
    return {name: value for name, value in (args.param or [])}


def cmd_ci(args: argparse.Namespace, ctx: Context) -> Result:
    from jupyter_mlops.jobs.ci import Gates, run_ci, write_reports, write_workflow
    from jupyter_mlops.jobs.ci_schemas import CiRequest

    ws = ctx.workspace(args)
    if args.init:
        notebook = args.notebook_option or args.notebook
        if notebook is not None:
            full = _path(ctx, ws, notebook)
            notebook = str(full) if full.exists() else notebook
        wf = write_workflow(
            ws.root,
            notebook,
            parameters=_parameters(args),
            gates=args.gate or [],
            converged=args.converged or [],
            model=args.model,
            force=args.force,
        )
        verb = "Replaced" if wf.overwritten else "Wrote"
        return Message(
            f"{verb} {wf.path}\n  installs: {wf.install}\n  runs:     {wf.command}\n"
            "Commit it; the gates and the job summary show on every push and pull request.",
            wf.model_dump(mode="json"),
        )
    if args.notebook is None:
        raise InvalidInput(
            "ci needs a notebook",
            hint="e.g. `jupyter mlops ci notebooks/train.ipynb --gate 'val_auc>=0.85'`, or "
            "`jupyter mlops ci --init` to write a GitHub Actions workflow.",
            field="notebook",
        )
    request = CiRequest(
        notebook=_notebook(ctx, ws, args.notebook),
        parameters=_parameters(args),
        gates=args.gate or [],
        converged=args.converged or [],
        model=args.model,
        experiment=args.experiment,
        timeout=args.timeout,
    )
    stream = sys.stdout if ctx.rich else sys.stderr
    progress = _Progress(not args.json, stream)
    result = run_ci(ws.jobs, Gates(ws.tracking, ws.registry), request, on_progress=progress)
    write_reports(
        result,
        junit=_path(ctx, ws, args.junit) if args.junit else None,
        summary=_path(ctx, ws, args.summary) if args.summary else None,
    )
    return CiReport(result)


def gate_run_id(ws: Workspace, explicit: str | None, last: str | None) -> tuple[str, str]:
    """The run a gate cell checks, and where it came from: ``--run``, the job's run
    (``MLOPS_JOB_RUN_ID``), the last ``%%mlops run`` of this kernel, or the newest run of this
    notebook.

    Raises:
        NotFound: none of these.
    """
    from jupyter_mlops.lineage.tags import JOB_RUN_ENV, NOTEBOOK_TAG
    from jupyter_mlops.tracking.environment import notebook_path
    from jupyter_mlops.tracking.notebook_run import relative_notebook

    if explicit:
        return explicit, "--run"
    job_run = os.environ.get(JOB_RUN_ENV)
    if job_run:
        return job_run, "the job's run"
    if last:
        return last, "the last %%mlops run cell"
    notebook = notebook_path()
    if notebook is not None:
        shown = relative_notebook(notebook, ws.root).replace("'", "\\'")
        page = ws.tracking.list_runs(filter=f"tags.`{NOTEBOOK_TAG}` = '{shown}'", max_results=1)
        if page.runs:
            return page.runs[0].run_id, "the newest run of this notebook"
    raise NotFound(
        "There is no run to check",
        hint="Run a `%%mlops run` cell first, or pass `--run RUN_ID`.",
        field="run",
    )


def check_gate_cell(
    args: argparse.Namespace, cell: str, ws: Workspace, last_run: str | None
) -> GateReport:
    """Evaluate a ``%%mlops gate`` cell's checks and record the outcome on the run."""
    from jupyter_mlops.jobs.ci import Gates
    from jupyter_mlops.jobs.gates import parse_checks

    checks = parse_checks(cell)  # a typo fails before anything is read
    run_id, source = gate_run_id(ws, args.run, last_run)
    gates = Gates(ws.tracking, ws.registry)
    outcome = gates.check(run_id, checks, model=args.model)
    gates.record(outcome)
    return GateReport(outcome, source)


def cmd_gate(args: argparse.Namespace, ctx: Context) -> Result:
    """``gate``: a cell command; on a line it says how to use it."""
    return Message(
        "`gate` needs a cell: start it with `%%mlops gate` and write one check per line, "
        "e.g. `val_auc >= champion-0.01` or `converged loss`."
    )


# -- the parser subtree ----------------------------------------------------------------------------


def _check_args(p: CommandParser) -> None:
    p.add_argument(
        "--gate",
        action="append",
        metavar="GATE",
        help="METRIC OP NUMBER | METRIC OP ALIAS[+-NUMBER], e.g. 'val_auc>=champion-0.01'; "
        "repeatable",
    )
    p.add_argument(
        "--converged",
        action="append",
        metavar="METRIC",
        help="the history of METRIC must converge (finite, decreasing or flat at the end); "
        "repeatable",
    )
    p.add_argument("--model", help="the model whose aliases gates name (default: from the run)")
    p.add_argument(
        "-p",
        "--param",
        nargs=2,
        action="append",
        metavar=("NAME", "VALUE"),
        help="a notebook parameter (converted to the type of its default); repeatable",
    )


def add_commands(sub: Subcommands, common: CommandParser) -> None:
    p = sub.add_parser(
        "ci",
        parents=[common],
        help="run a notebook as a job and check its gates (JUnit, markdown; exit 1 on failure)",
    )
    p.add_argument("notebook", nargs="?", help="the training notebook")
    _check_args(p)
    p.add_argument("--junit", metavar="FILE", help="write a JUnit XML report here")
    p.add_argument("--summary", metavar="FILE", help="write a markdown summary here")
    p.add_argument(
        "--timeout", type=positive_seconds, help="cancel the job after this many seconds"
    )
    p.add_argument("--experiment", help="experiment of the job's run")
    p.add_argument(
        "--init", action="store_true", help="write .github/workflows/mlops-ci.yml instead"
    )
    p.add_argument(
        "--notebook", dest="notebook_option", metavar="PATH", help="(--init) the notebook"
    )
    p.add_argument("--force", action="store_true", help="(--init) replace an existing workflow")
    p.set_defaults(handler=cmd_ci)

    p = sub.add_parser(
        "gate", parents=[common], help="(cell magic) check the current run: one check per line"
    )
    p.add_argument(
        "--run",
        help="the run to check: id, id prefix or name (default: the job's or the notebook's)",
    )
    p.add_argument("--model", help="the model whose aliases gates name (default: from the run)")
    p.add_argument("--no-fail", action="store_true", help="show failures without raising")
    p.set_defaults(handler=cmd_gate)
