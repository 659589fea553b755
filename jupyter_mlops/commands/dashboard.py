"""Handler of ``dashboard DEPLOYMENT``: a deployment's monitoring dashboard, served by Voila.

In a terminal it runs until Ctrl-C; in a notebook (``%mlops dashboard churn``) it starts Voila in
the background and returns the URL. The dashboard itself is
:mod:`jupyter_mlops.dashboards.monitoring`; starting Voila is
:mod:`jupyter_mlops.dashboards.serve`.
"""

from __future__ import annotations

import argparse
import signal
import sys
import webbrowser
from typing import TYPE_CHECKING

from jupyter_mlops.commands.args import CommandParser, Subcommands, positive
from jupyter_mlops.commands.results import Message, Result
from jupyter_mlops.errors import BackendUnavailable

if TYPE_CHECKING:
    from jupyter_mlops.commands.context import Context
    from jupyter_mlops.dashboards.serve import DashboardServer


def cmd_dashboard(args: argparse.Namespace, ctx: Context) -> Result:
    """``dashboard DEPLOYMENT [--port P] [--no-browser] [--no-preheat] [--ab]``."""
    if args.ab:
        return cmd_ab_report(args, ctx)
    from jupyter_mlops.dashboards.serve import start_dashboard
    from jupyter_mlops.process import free_port

    ws = ctx.workspace(args)
    info = ws.deployments.get(args.deployment)  # NotFound naming it, with close names
    port = args.port or free_port()
    server = start_dashboard(ws.root, info.name, port=port, preheat=args.preheat)
    return _serve(server, info.name, "Monitoring dashboard", "the dashboard", args, ctx)


def cmd_ab_report(args: argparse.Namespace, ctx: Context) -> Result:
    """``dashboard DEPLOYMENT --ab``: the deployment's A/B test report, for stakeholders."""
    from jupyter_mlops.dashboards.abtest import start_report
    from jupyter_mlops.process import free_port

    ws = ctx.workspace(args)
    exp = ws.abtests.current(args.deployment)  # NotFound: no such deployment, or no A/B test
    server = start_report(ws.root, exp.deployment, port=args.port or free_port())
    return _serve(server, exp.deployment, "A/B test report", "the A/B test report", args, ctx)


def _serve(
    server: DashboardServer,
    deployment: str,
    title: str,
    short: str,
    args: argparse.Namespace,
    ctx: Context,
) -> Result:
    """Show where a Voila page of ``deployment`` is served; in a terminal, keep it up until
    Ctrl-C (or SIGTERM/SIGHUP), then stop it."""
    data = {"url": server.url, "pid": server.pid, "deployment": deployment}
    if args.browser and not ctx.rich:
        webbrowser.open(server.url)
    if ctx.rich:
        return Message(
            f"{title} of {deployment}: {server.url} (Voila, pid {server.pid}; "
            f"log {server.log_path})",
            data,
        )
    sys.stderr.write(
        f"{title} of {deployment} on {server.url}\n"
        f"(Voila, pid {server.pid}, log {server.log_path}). Press Ctrl-C to stop it.\n"
    )
    sys.stderr.flush()
    # Voila runs in a session of its own (Ctrl-C reaches only us): being terminated or losing
    # the terminal must stop it as Ctrl-C does, or it outlives the command.
    previous = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        code = server.process.wait()
    except KeyboardInterrupt:
        return Message(f"Stopped {short} of {deployment}.", data)
    finally:
        server.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    raise BackendUnavailable(
        f"Voila stopped on its own (exit code {code}).",
        hint=f"See its log in {server.log_path}.",
    )


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def add_commands(sub: Subcommands, common: CommandParser) -> None:
    """``dashboard``."""
    p = sub.add_parser(
        "dashboard",
        parents=[common],
        help="serve a deployment's monitoring dashboard (Voila) on 127.0.0.1",
    )
    p.add_argument("deployment", metavar="DEPLOYMENT")
    p.add_argument("--port", type=positive, help="port (default: a free one)")
    p.add_argument(
        "--no-browser",
        dest="browser",
        action="store_false",
        help="do not open the dashboard in a web browser",
    )
    p.add_argument(
        "--preheat",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="keep a kernel ready with the dashboard's imports done (default: on)",
    )
    p.add_argument(
        "--ab",
        action="store_true",
        help="serve the deployment's A/B test report (plain-language verdict) instead",
    )
    p.set_defaults(handler=cmd_dashboard)
