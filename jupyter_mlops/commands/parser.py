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

__all__ = ["CommandParser", "HelpShown", "UsageError", "build_parser", "parse"]


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
    return parser


def parse(argv: list[str], prog: str = "jupyter mlops") -> argparse.Namespace:
    """Parse a command line into a namespace whose ``handler`` is the function to run."""
    return build_parser(prog).parse_args(argv)
