"""``%mlops`` and ``%%mlops``: the notebook face of the command tree.

``%load_ext jupyter_mlops`` registers them. The line magic runs any command of the CLI and renders
the result richly; the cell magic ``%%mlops run`` runs its cell inside a tracked run.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from IPython.core.magic import Magics, line_cell_magic, magics_class
from IPython.display import Markdown, display

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
    """The ``%mlops`` line magic and the ``%%mlops run`` cell magic."""

    @line_cell_magic  # type: ignore[untyped-decorator]
    def mlops(self, line: str, cell: str | None = None) -> Any:
        """Run a jupyter-mlops command; ``%mlops --help`` lists them."""
        try:
            args = parse(shlex.split(line), prog="%mlops")
            if cell is not None:
                if args.handler is not cmd_run:
                    display(Markdown("Only `run` is a cell command: `%%mlops run [options]`."))
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
            outcome = shell.run_cell(cell, store_history=False)
            failed = not outcome.success
            params, metrics, problems = split_named_values(ns, args.params, args.metrics)
            recorder.log_params(params)
            recorder.log_metrics(metrics)
        finally:
            run.finish(failed=failed)
            if previous is None:
                ns.pop("mlops_run", None)
            else:
                ns["mlops_run"] = previous
        status = "failed" if failed else "finished"
        note = f"Run **{recorder.run_name}** `{recorder.run_id}` {status}"
        if run.notebook is None:
            note += " (notebook path unknown: pass `--notebook PATH` to snapshot it)"
        if problems:
            note += "\n\nNot logged: " + "; ".join(problems)
        display(Markdown(note))


def load_ipython_extension(ipython: Any) -> None:
    """Called by ``%load_ext jupyter_mlops``."""
    ipython.register_magics(MlopsMagics)
