"""``%mlops`` and ``%%mlops``: the notebook face of the command tree.

``%load_ext jupyter_mlops`` registers them. The line magic runs any command of the CLI and renders
the result richly; the cell magic ``%%mlops run`` runs its cell inside a tracked run, and
``%%mlops gate`` checks the current run against the gates in its cell (and raises if one fails).
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from IPython.core.magic import Magics, line_cell_magic, magics_class
from IPython.display import Markdown, display

from jupyter_mlops.commands.ci import cmd_gate
from jupyter_mlops.commands.context import Context
from jupyter_mlops.commands.handlers import execute
from jupyter_mlops.commands.parser import HelpShown, parse
from jupyter_mlops.commands.tracking import cmd_run
from jupyter_mlops.errors import MlopsError
from jupyter_mlops.workspace import Workspace


def _show_error(exc: MlopsError) -> None:
    text = f"**jupyter-mlops error:** {exc.message}"
    if exc.hint:
        text += f"\n\n*Hint:* {exc.hint}"
    display(Markdown(text))


@magics_class
class MlopsMagics(Magics):  # type: ignore[misc]
    """The ``%mlops`` line magic and the ``%%mlops run`` and ``%%mlops gate`` cell magics."""

    #: The run of the last ``%%mlops run`` cell: what a following ``%%mlops gate`` checks.
    last_run_id: str | None = None

    @line_cell_magic  # type: ignore[untyped-decorator]
    def mlops(self, line: str, cell: str | None = None) -> Any:
        """Run a jupyter-mlops command; ``%mlops --help`` lists them."""
        try:
            args = parse(shlex.split(line), prog="%mlops")
            if cell is not None:
                if args.handler is cmd_gate:
                    return self._gate_cell(args, cell)
                if args.handler is not cmd_run:
                    display(
                        Markdown(
                            "Only `run` and `gate` are cell commands: `%%mlops run [options]`, "
                            "`%%mlops gate [options]`."
                        )
                    )
                    return None
                return self._run_cell(args, cell)
            if args.handler is cmd_run:
                display(Markdown("`run` needs a cell: start the cell with `%%mlops run`."))
                return None
            ns = self.shell.user_ns if self.shell is not None else None
            result = execute(args, Context(rich=True, cwd=Path.cwd(), user_ns=ns))
        except HelpShown:
            return None
        except MlopsError as exc:
            _show_error(exc)
            return None
        if args.json:
            return result.to_json()
        if result.value is not None:
            return result.value
        result.display()
        return None

    def _run_cell(self, args: Any, cell: str) -> None:
        from jupyter_mlops.tracking.autolog import quiet_autolog_metrics
        from jupyter_mlops.tracking.columns import declared_tags
        from jupyter_mlops.tracking.notebook_run import NotebookRun, split_named_values

        ws = Workspace.open(args.workspace) if args.workspace else Workspace.find(Path.cwd())
        run = NotebookRun(
            ws.tracking,
            ws.root,
            experiment=args.experiment,
            run_name=args.name,
            notebook=args.notebook,
            cell_source=cell,
            autolog=False if args.no_autolog else None,
        )
        recorder = run.start()
        shell = self.shell
        assert shell is not None, "a magic always runs inside a shell"
        ns = shell.user_ns
        previous = ns.get("mlops_run")
        ns["mlops_run"] = recorder
        failed = True
        problems: list[str] = []
        try:
            with quiet_autolog_metrics():
                outcome = shell.run_cell(cell, store_history=False)
            failed = not outcome.success
            params, metrics, problems = split_named_values(ns, args.params, args.metrics)
            recorder.log_params(params)
            recorder.log_metrics(metrics)
            recorder.set_tags(declared_tags(args.params, args.metrics))
        finally:
            run.finish(failed=failed)
            if previous is None:
                ns.pop("mlops_run", None)
            else:
                ns["mlops_run"] = previous
        self.last_run_id = recorder.run_id
        status = "failed" if failed else "finished"
        note = f"Run **{recorder.run_name}** `{recorder.run_id}` {status}"
        if run.notebook is None:
            note += " (notebook path unknown: pass `--notebook PATH` to snapshot it)"
        if problems:
            note += "\n\nNot logged: " + "; ".join(problems)
        display(Markdown(note))

    def _gate_cell(self, args: Any, cell: str) -> None:
        """Check the current run; raise :class:`GateFailed` (failing a job at this cell) when a
        check fails or cannot be evaluated, unless ``--no-fail``."""
        from jupyter_mlops.commands.ci import check_gate_cell
        from jupyter_mlops.jobs.gates import GateFailed

        try:
            ws = Workspace.open(args.workspace) if args.workspace else Workspace.find(Path.cwd())
            report = check_gate_cell(args, cell, ws, self.last_run_id)
        except MlopsError as exc:
            _show_error(exc)
            if args.no_fail:
                return None
            raise GateFailed(f"the gates could not be checked: {exc.message}") from None
        if args.json:
            display(report.to_json())
        else:
            display(Markdown(report.markdown()))
        failed = [c for c in report.outcome.checks if not c.passed]
        if failed and not args.no_fail:
            lines = "; ".join(f"{c.name}: {c.message}" for c in failed)
            raise GateFailed(
                f"{len(failed)} of {len(report.outcome.checks)} check(s) failed: {lines}"
            )
        return None


def load_ipython_extension(ipython: Any) -> None:
    """Called by ``%load_ext jupyter_mlops``."""
    ipython.register_magics(MlopsMagics)
