"""The one argument parser behind ``jupyter mlops ...`` and ``%mlops ...``."""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import NoReturn

from jupyter_mlops.errors import InvalidInput


class UsageError(InvalidInput):
    """The command line could not be parsed."""

    kind = "UsageError"


class HelpShown(Exception):
    """``--help`` was printed; there is nothing else to do."""


class CommandParser(argparse.ArgumentParser):
    """An argparse parser that raises instead of exiting, so a magic never kills its kernel."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}", hint=f"See `{self.prog} --help`.")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            raise UsageError(message.strip())
        raise HelpShown()


def _csv(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {number}")
    return number


def _iso_time(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an ISO date or time like 2026-01-31 or 2026-01-31T12:00:00Z, got {value!r}"
        ) from None


def build_parser(prog: str = "jupyter mlops") -> CommandParser:
    """The command tree. Each subcommand sets ``handler`` to the name of its handler function."""
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

    p = sub.add_parser("init", parents=[common], help="make a folder a workspace")
    p.add_argument("dir", nargs="?", default=".", help="folder (default: the current one)")
    p.set_defaults(handler="init")

    p = sub.add_parser("experiments", parents=[common], help="list experiments")
    p.add_argument("--all", action="store_true", help="include deleted experiments")
    p.set_defaults(handler="experiments")

    p = sub.add_parser("runs", parents=[common], help="list runs (filter, sort, page)")
    p.add_argument("--experiment", "-e", action="append", help="experiment name or id (repeatable)")
    p.add_argument("--filter", "-f", default="", help='MLflow filter, e.g. "metrics.auc > 0.8"')
    p.add_argument(
        "--sort", "-s", action="append", default=[], help='order clause, e.g. "metrics.auc DESC"'
    )
    p.add_argument("--limit", "-n", type=_positive, default=50, help="page size (default 50)")
    p.add_argument("--page-token", help="next_page_token from the previous page")
    p.set_defaults(handler="runs")

    p = sub.add_parser("run", parents=[common], help="(cell magic) run a cell as a tracked run")
    p.add_argument("--experiment", "-e", help="experiment name (default from mlops.toml)")
    p.add_argument("--name", "-n", help="run name")
    p.add_argument(
        "--params", "-p", type=_csv, default=[], help="variables to log as parameters: a,b,c"
    )
    p.add_argument(
        "--metrics", "-m", type=_csv, default=[], help="variables to log as metrics: x,y"
    )
    p.add_argument("--no-autolog", action="store_true", help="do not turn on MLflow autologging")
    p.add_argument("--notebook", help="notebook path to record (default: the kernel's notebook)")
    p.set_defaults(handler="run")

    p = sub.add_parser("compare", parents=[common], help="compare runs side by side")
    p.add_argument("run_ids", nargs="+", metavar="RUN", help="run ids (two or more)")
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
    p.set_defaults(handler="compare")

    p = sub.add_parser("ui", parents=[common], help="start the MLflow UI on the workspace store")
    p.add_argument("--port", type=_positive, default=5000)
    p.add_argument("--host", default="127.0.0.1")
    p.set_defaults(handler="ui")

    p = sub.add_parser("demo", parents=[common], help="build a demo workspace and open JupyterLab")
    p.add_argument("dir", nargs="?", default="mlops-demo", help="folder (default: ./mlops-demo)")
    p.add_argument("--no-lab", action="store_true", help="build the workspace, do not start lab")
    p.add_argument(
        "--no-deploy",
        action="store_true",
        help="register the best model but do not start its deployment",
    )
    p.add_argument("--port", type=_positive, default=8888, help="JupyterLab port")
    p.set_defaults(handler="demo")

    _add_features(sub, common)
    _add_models(sub, common)
    _add_deployments(sub, common)
    return parser


def _add_models(sub: argparse._SubParsersAction[CommandParser], common: CommandParser) -> None:
    """``register``, ``models list|show|compare``, ``promote``, ``alias``."""
    p = sub.add_parser("register", parents=[common], help="register a run's model as a version")
    p.add_argument("run_id", metavar="RUN_ID")
    p.add_argument("--name", "-n", required=True, help="registered model name, e.g. churn")
    p.add_argument("--alias", action="append", help="also set this alias (repeatable)")
    p.add_argument("--description", default="", help="a note on the version")
    p.set_defaults(handler="register")

    models = sub.add_parser("models", help="registered models, versions, lineage")
    msub = models.add_subparsers(
        dest="models_command", metavar="SUBCOMMAND", parser_class=CommandParser
    )
    msub.required = True
    p = msub.add_parser("list", parents=[common], help="list registered models")
    p.set_defaults(handler="models.list")
    p = msub.add_parser(
        "show",
        parents=[common],
        help="a model's versions, or one version's lineage (NAME@ALIAS, NAME:VERSION)",
    )
    p.add_argument("model", metavar="MODEL")
    p.set_defaults(handler="models.show")
    p = msub.add_parser("compare", parents=[common], help="metrics of versions side by side")
    p.add_argument("name", metavar="NAME")
    p.add_argument("versions", nargs="+", type=_positive, metavar="VERSION")
    p.set_defaults(handler="models.compare")

    p = sub.add_parser(
        "promote",
        parents=[common],
        help="move an alias to a version, if its metrics pass the gates",
    )
    p.add_argument("name", metavar="NAME")
    p.add_argument("version", type=_positive, metavar="VERSION")
    p.add_argument("--to", required=True, metavar="ALIAS", help="e.g. champion")
    p.add_argument(
        "--require",
        action="append",
        type=_csv,
        metavar="GATE",
        help="METRIC OP NUMBER|ALIAS, e.g. 'roc_auc>=champion' (repeatable)",
    )
    p.set_defaults(handler="promote")

    p = sub.add_parser("alias", parents=[common], help="set or remove an alias without gates")
    p.add_argument("name", metavar="NAME")
    p.add_argument("alias", metavar="ALIAS")
    p.add_argument("version", nargs="?", type=_positive, metavar="VERSION")
    p.add_argument("--delete", action="store_true", help="remove the alias")
    p.set_defaults(handler="alias")


def _add_deployments(sub: argparse._SubParsersAction[CommandParser], common: CommandParser) -> None:
    """``deploy``, ``deployments list|status|logs|stop|update``, ``predict``, ``package``."""
    p = sub.add_parser("deploy", parents=[common], help="serve a model version on 127.0.0.1")
    p.add_argument("model", metavar="MODEL", help="NAME, NAME@ALIAS or NAME:VERSION")
    p.add_argument("--name", help="deployment name (default: the model name)")
    p.add_argument("--replicas", type=_positive, default=1, help="server processes (default 1)")
    p.add_argument("--port", type=_positive, help="port (default: a free one)")
    p.set_defaults(handler="deploy")

    deployments = sub.add_parser("deployments", help="local deployments: list, status, logs")
    dsub = deployments.add_subparsers(
        dest="deployments_command", metavar="SUBCOMMAND", parser_class=CommandParser
    )
    dsub.required = True
    p = dsub.add_parser("list", parents=[common], help="list deployments")
    p.set_defaults(handler="deployments.list")
    for name, text in (
        ("status", "state, endpoint, replicas, traffic"),
        ("stop", "stop a deployment"),
    ):
        p = dsub.add_parser(name, parents=[common], help=text)
        p.add_argument("name", metavar="NAME")
        p.set_defaults(handler=f"deployments.{name}")
    p = dsub.add_parser("logs", parents=[common], help="the supervisor's and replicas' logs")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--lines", "-n", type=_positive, default=50, help="lines per log (default 50)")
    p.set_defaults(handler="deployments.logs")
    p = dsub.add_parser("update", parents=[common], help="move to another version, no downtime")
    p.add_argument("name", metavar="NAME")
    p.add_argument("model", metavar="MODEL", help="NAME@ALIAS or NAME:VERSION")
    p.add_argument("--replicas", type=_positive, help="change the replica count too")
    p.set_defaults(handler="deployments.update")

    p = sub.add_parser("predict", parents=[common], help="send rows to a deployment")
    p.add_argument("name", metavar="DEPLOYMENT")
    p.add_argument(
        "--data",
        required=True,
        help="a DataFrame variable (in a notebook), a .parquet/.csv/.json file, or JSON rows",
    )
    p.set_defaults(handler="predict")

    p = sub.add_parser(
        "package",
        parents=[common],
        help="Docker context and Kubernetes manifests for a model version",
    )
    p.add_argument("model", metavar="MODEL", help="NAME@ALIAS or NAME:VERSION")
    p.add_argument("--out", required=True, help="output folder (inside the workspace)")
    p.add_argument("--name", help="service name (default: the model name)")
    p.add_argument("--replicas", type=_positive, default=2, help="Kubernetes replicas")
    p.set_defaults(handler="package")


def _add_features(sub: argparse._SubParsersAction[CommandParser], common: CommandParser) -> None:
    """``features list|show|plan|apply|ingest|materialize|stats|usage|diff``."""
    features = sub.add_parser(
        "features", help="feature views: define, version, ingest, serve, inspect"
    )
    fsub = features.add_subparsers(
        dest="features_command", metavar="SUBCOMMAND", parser_class=CommandParser
    )
    fsub.required = True

    p = fsub.add_parser("list", parents=[common], help="list feature views")
    p.add_argument(
        "--search",
        "-s",
        default="",
        help="only views whose name, features, description, owner or tags contain TEXT",
    )
    p.set_defaults(handler="features.list")

    p = fsub.add_parser("show", parents=[common], help="a view's schema, source and versions")
    p.add_argument("view", metavar="VIEW")
    p.add_argument("--version", "-v", help="version to show, e.g. 2 or v2 (default: latest)")
    p.set_defaults(handler="features.show")

    for name, text in (
        ("plan", "show what `apply` would change; nothing is written"),
        ("apply", "register the definitions: changed views get a new version"),
    ):
        p = fsub.add_parser(name, parents=[common], help=text)
        p.add_argument(
            "--dir", default="features", help="folder of definition files (default: features)"
        )
        p.set_defaults(handler=f"features.{name}")

    p = fsub.add_parser("ingest", parents=[common], help="append a Parquet or CSV file to a view")
    p.add_argument("view", metavar="VIEW")
    p.add_argument("path", metavar="PATH", help="a .parquet or .csv file inside the workspace")
    p.set_defaults(handler="features.ingest")

    p = fsub.add_parser("materialize", parents=[common], help="load views into the online store")
    p.add_argument("views", nargs="*", metavar="VIEW", help="views (default: all)")
    p.add_argument("--start", type=_iso_time, help="earliest event time (ISO 8601)")
    p.add_argument("--end", type=_iso_time, help="latest event time (ISO 8601; default: now)")
    p.set_defaults(handler="features.materialize")

    p = fsub.add_parser("stats", parents=[common], help="row count, freshness, feature statistics")
    p.add_argument("view", metavar="VIEW")
    p.add_argument("--version", "-v", help="version, e.g. 2 or v2 (default: latest)")
    p.set_defaults(handler="features.stats")

    p = fsub.add_parser("usage", parents=[common], help="runs, models and deployments per version")
    p.add_argument("view", metavar="VIEW")
    p.set_defaults(handler="features.usage")

    p = fsub.add_parser("diff", parents=[common], help="what changed between two versions")
    p.add_argument("view", metavar="VIEW")
    p.add_argument("v1", metavar="V1", help="older version, e.g. v1 or 1")
    p.add_argument("v2", metavar="V2", help="newer version, e.g. v2 or 2")
    p.set_defaults(handler="features.diff")


def parse(argv: list[str], prog: str = "jupyter mlops") -> argparse.Namespace:
    """Parse a command line into a namespace with ``handler`` set."""
    return build_parser(prog).parse_args(argv)
