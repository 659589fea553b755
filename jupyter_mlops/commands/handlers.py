"""Command handlers: parse nothing, call a service, return a :class:`Result`.

Each handler takes the parsed arguments and a :class:`Context`; the CLI and the magic supply the
context and render the result their own way.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from jupyter_mlops.commands.args import CommandParser, Subcommands, positive
from jupyter_mlops.commands.context import Context
from jupyter_mlops.commands.results import Message, Result
from jupyter_mlops.workspace import Workspace

if TYPE_CHECKING:
    pass


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


def cmd_demo(args: argparse.Namespace, ctx: Context) -> Result:
    from jupyter_mlops.demo import build_demo, start_lab

    base = ctx.cwd or Path.cwd()
    target = Path(args.dir) if Path(args.dir).is_absolute() else base / args.dir
    ws, summary = build_demo(target, deploy=not args.no_deploy)
    if args.no_lab or ctx.rich:
        return Message(summary, {"root": str(ws.root)})
    start_lab(ws, port=args.port)
    return Message(summary)


def execute(args: argparse.Namespace, ctx: Context) -> Result:
    """Run the handler the parsed command bound (``args.handler``)."""
    handler: Callable[[argparse.Namespace, Context], Result] = args.handler
    return handler(args, ctx)


# -- the command tree ------------------------------------------------------------------------------


def add_init(sub: Subcommands, common: CommandParser) -> None:
    """``init``: first in the command list."""
    p = sub.add_parser("init", parents=[common], help="make a folder a workspace")
    p.add_argument("dir", nargs="?", default=".", help="folder (default: the current one)")
    p.set_defaults(handler=cmd_init)


def add_demo(sub: Subcommands, common: CommandParser) -> None:
    """``demo``."""
    p = sub.add_parser("demo", parents=[common], help="build a demo workspace and open JupyterLab")
    p.add_argument("dir", nargs="?", default="mlops-demo", help="folder (default: ./mlops-demo)")
    p.add_argument("--no-lab", action="store_true", help="build the workspace, do not start lab")
    p.add_argument(
        "--no-deploy",
        action="store_true",
        help="register the best model but do not start its deployment",
    )
    p.add_argument("--port", type=positive, default=8888, help="JupyterLab port")
    p.set_defaults(handler=cmd_demo)
