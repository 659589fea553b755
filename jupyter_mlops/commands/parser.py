"""The one argument parser behind ``jupyter mlops ...`` and ``%mlops ...``."""

from __future__ import annotations

import argparse

from jupyter_mlops.commands import (
    abtest,
    ci,
    dashboard,
    features,
    handlers,
    jobs,
    models,
    monitoring,
    pipelines,
    replay,
    tracking,
)
from jupyter_mlops.commands.args import CommandParser, HelpShown, UsageError

__all__ = ["CELL_COMMANDS", "CommandParser", "HelpShown", "UsageError", "build_parser", "parse"]

#: Commands that only make sense as cell magics, and what to use from a terminal instead.
CELL_COMMANDS: dict[str, tuple[str, str]] = {
    "run": (
        "`run` is a cell magic, not a terminal command: put `%%mlops run [options]` on the first "
        "line of a notebook cell to run that cell as a tracked run.",
        "From a terminal, run a notebook as a tracked job: "
        "`jupyter mlops job run NOTEBOOK.ipynb` (see `jupyter mlops job run --help`).",
    ),
    "gate": (
        "`gate` is a cell magic, not a terminal command: start a notebook cell with "
        "`%%mlops gate` and write one check per line.",
        "From a terminal, run a notebook and check its gates: "
        "`jupyter mlops ci NOTEBOOK.ipynb --gate 'roc_auc>=0.8'` (see `jupyter mlops ci --help`).",
    ),
}


def build_parser(prog: str = "jupyter mlops") -> CommandParser:
    """The command tree: each command module adds its subcommands, each bound to its handler."""
    parser = CommandParser(
        prog=prog, description="jupyter-mlops: the MLOps workbench inside JupyterLab."
    )
    common = CommandParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print JSON instead of a table")
    common.add_argument(
        "--workspace", metavar="DIR", help="the workspace folder (default: found from here upward)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=CommandParser)
    sub.required = True
    handlers.add_init(sub, common)
    tracking.add_commands(sub, common)
    handlers.add_demo(sub, common)
    features.add_commands(sub, common)
    models.add_commands(sub, common)
    monitoring.add_commands(sub, common)
    jobs.add_commands(sub, common)
    abtest.add_commands(sub, common)
    pipelines.add_commands(sub, common)
    replay.add_commands(sub, common)
    ci.add_commands(sub, common)
    dashboard.add_commands(sub, common)
    if not prog.startswith("%"):
        # A terminal has no cell: the cell magics are left out of its help.
        parser.hide_commands(frozenset(CELL_COMMANDS))
    return parser


def parse(argv: list[str], prog: str = "jupyter mlops") -> argparse.Namespace:
    """Parse a command line into a namespace whose ``handler`` is the function to run.

    Raises:
        UsageError: a malformed command line, a mistyped command ("did you mean"), or a cell
            magic (``run``, ``gate``) given to the terminal command.
    """
    if argv and argv[0] in CELL_COMMANDS and not prog.startswith("%"):
        message, hint = CELL_COMMANDS[argv[0]]
        raise UsageError(message, hint=hint)
    return build_parser(prog).parse_args(argv)
