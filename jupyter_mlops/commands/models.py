"""Handlers of the registry and deployment commands.

``register``, ``models list|show|compare``, ``promote``, ``alias``, ``deploy``, ``deployments
list|status|logs|stop|start|remove|update``, ``predict`` and ``package``. Like every handler they
parse nothing: they call the workspace's registry or deployments and return a Result whose
``--json`` is the service's own pydantic model, as the REST API returns it.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_mlops.commands.args import CommandParser, Subcommands, add_group, csv_list, positive
from jupyter_mlops.commands.context import load_data
from jupyter_mlops.commands.results import Detail, Message, Result, Table
from jupyter_mlops.errors import BackendUnavailable, InvalidInput

if TYPE_CHECKING:
    import pandas as pd

    from jupyter_mlops.commands.context import Context
    from jupyter_mlops.registry.schemas import ModelVersionDetail
    from jupyter_mlops.serving.schemas import DeploymentInfo


def _when(ms_or_s: float, *, seconds: bool = False) -> str:
    if not ms_or_s:
        return "-"
    value = ms_or_s if seconds else ms_or_s / 1000
    return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _frame(rows: list[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame(rows, columns=columns)


def _metrics(metrics: dict[str, float], limit: int = 4) -> str:
    return ", ".join(f"{k}={v:.4g}" for k, v in sorted(metrics.items())[:limit])


# -- registry -------------------------------------------------------------------------------------


def cmd_register(args: argparse.Namespace, ctx: Context) -> Result:
    """``register RUN_ID --name NAME``: a new model version with its lineage."""
    ws = ctx.workspace(args)
    version = ws.registry.register(
        args.run_id, args.name, description=args.description, aliases=args.alias or []
    )
    result = _version_detail(version)
    result.title = f"Registered {version.name} version {version.version}"
    return result


def cmd_models_list(args: argparse.Namespace, ctx: Context) -> Result:
    models = ctx.workspace(args).registry.list_models()
    rows = [
        {
            "name": m.name,
            "latest": m.latest_version,
            "aliases": ", ".join(f"@{a}=v{v}" for a, v in sorted(m.aliases.items())),
            "updated": _when(m.updated),
        }
        for m in models
    ]
    table = Table(
        _frame(rows, ["name", "latest", "aliases", "updated"]),
        title=f"{len(models)} registered model(s)",
        data={"models": [m.model_dump() for m in models]},
    )
    return table


def cmd_models_show(args: argparse.Namespace, ctx: Context) -> Result:
    """``models show NAME`` lists versions; ``models show NAME@ALIAS|NAME:V`` one version."""
    ws = ctx.workspace(args)
    if any(ch in args.model for ch in "@:/"):
        return _version_detail(ws.registry.get_version(args.model))
    model = ws.registry.get_model(args.model)
    rows = [
        {
            "version": v.version,
            "aliases": ", ".join(f"@{a}" for a in v.aliases),
            "run_id": (v.run_id or "")[:12],
            "metrics": _metrics(v.metrics),
            "created": _when(v.created),
        }
        for v in model.version_list
    ]
    return Detail(
        title=f"Model {model.name}",
        facts=[
            ("latest version", str(model.latest_version)),
            (
                "aliases",
                ", ".join(f"@{a} -> v{v}" for a, v in sorted(model.aliases.items())) or "-",
            ),
        ],
        tables=[("versions", _frame(rows, ["version", "aliases", "run_id", "metrics", "created"]))],
        data=model.model_dump(),
    )


def _version_detail(v: ModelVersionDetail) -> Detail:
    facts = [
        ("aliases", ", ".join(f"@{a}" for a in v.aliases) or "-"),
        ("model uri", v.model_uri),
        ("created", _when(v.created)),
        ("reference profile", "stored" if v.has_profile else "none"),
    ]
    tables: list[tuple[str, pd.DataFrame]] = []
    lineage = v.lineage
    if lineage is not None:
        facts += [
            ("run", f"{lineage.run_name} ({lineage.run_id})"),
            ("experiment", lineage.experiment_name or lineage.experiment_id),
            ("notebook", lineage.notebook or "-"),
            (
                "git commit",
                (lineage.git_commit or "-")
                + (f" ({lineage.git_standing})" if lineage.git_standing else ""),
            ),
            ("training data", (lineage.training_fingerprint or "-")[:16]),
        ]
        tables.append(("features", _frame([{"feature": f} for f in lineage.features], ["feature"])))
        tables.append(
            (
                "parameters",
                _frame(
                    [{"param": k, "value": val} for k, val in sorted(lineage.params.items())],
                    ["param", "value"],
                ),
            )
        )
        tables.append(
            (
                "metrics",
                _frame(
                    [{"metric": k, "value": val} for k, val in sorted(lineage.metrics.items())],
                    ["metric", "value"],
                ),
            )
        )
    return Detail(
        title=f"{v.name} version {v.version}",
        facts=facts,
        tables=tables,
        data=v.model_dump(),
    )


def cmd_models_profile(args: argparse.Namespace, ctx: Context) -> Result:
    """``models profile NAME:VERSION --data PATH``: store the reference profile drift uses."""
    import pandas as pd

    ws = ctx.workspace(args)
    data = load_data(args.data, ctx, ws.resolve_path)
    frame = data if isinstance(data, pd.DataFrame) else pd.DataFrame(data)
    profile = ws.registry.set_profile(args.model, frame)
    return Message(
        f"Stored the reference profile of {args.model}: {len(profile.features)} feature(s) "
        f"from {profile.rows:,} rows",
        {"profile": profile.model_dump(mode="json")},
    )


def cmd_models_compare(args: argparse.Namespace, ctx: Context) -> Result:
    ws = ctx.workspace(args)
    metrics = ws.registry.compare(args.name, args.versions)
    names = sorted({k for m in metrics.values() for k in m})
    rows = [{"metric": k, **{f"v{v}": metrics[v].get(k) for v in args.versions}} for k in names]
    table = Table(
        _frame(rows, ["metric", *(f"v{v}" for v in args.versions)]),
        title=f"{args.name}: metrics by version",
    )
    return table


def cmd_promote(args: argparse.Namespace, ctx: Context) -> Result:
    """``promote NAME VERSION --to ALIAS [--require GATE]``: gated alias move."""
    ws = ctx.workspace(args)
    require = [g for group in args.require or [] for g in group]
    result = ws.registry.promote(args.name, args.version, args.to, require=require)
    lines = [g.message for g in result.gates]
    if result.promoted:
        before = f" (was v{result.previous_version})" if result.previous_version else ""
        head = f"{result.name} version {result.version} is now @{result.alias}{before}"
    else:
        failed = sum(not g.passed for g in result.gates)
        head = (
            f"Not promoted: {failed} of {len(result.gates)} gate(s) failed; "
            f"@{result.alias} stays on "
            + (f"v{result.previous_version}" if result.previous_version else "no version")
        )
    message = Message("\n".join([head, *(f"  {line}" for line in lines)]), result.model_dump())
    message.exit_code = 0 if result.promoted else 1
    return message


def cmd_alias(args: argparse.Namespace, ctx: Context) -> Result:
    ws = ctx.workspace(args)
    if args.delete:
        ws.registry.delete_alias(args.name, args.alias)
        return Message(f"Removed @{args.alias} from {args.name}")
    if args.version is None:
        raise InvalidInput("Give a VERSION to point the alias at, or --delete", field="version")
    version = ws.registry.set_alias(args.name, args.alias, args.version)
    return Message(f"{args.name}@{args.alias} -> version {version.version}", version.model_dump())


# -- deployments ----------------------------------------------------------------------------------


def _deployment_detail(d: DeploymentInfo, title: str | None = None) -> Detail:
    serving = ", ".join(
        f"{s.name} v{s.version}" + (f" ({s.weight:g})" if len(d.serving) > 1 else "")
        for s in d.serving
    )
    facts = [
        ("state", d.state),
        ("endpoint", d.url),
        *([("gRPC", d.grpc_url)] if d.grpc_url else []),
        ("serving", serving),
        (
            "replicas",
            f"{len(d.replica_processes)}/{d.replicas} up"
            + (f", {d.restarts} restart(s)" if d.restarts else "")
            + (f", a warm spare (pid {d.spare_pid})" if d.spare_pid else ""),
        ),
        ("generation", str(d.generation)),
        ("updated", _when(d.updated, seconds=True)),
    ]
    if d.error:
        facts.append(("last error", d.error))
    return Detail(title=title or f"Deployment {d.name}", facts=facts, data=d.model_dump())


def cmd_deploy(args: argparse.Namespace, ctx: Context) -> Result:
    """``deploy MODEL [--name N] [--replicas R] [--port P] [--grpc-port G] [--no-spare]``."""
    ws = ctx.workspace(args)
    d = ws.deploy(
        args.model,
        name=args.name,
        replicas=args.replicas,
        port=args.port,
        grpc_port=args.grpc_port,
        spare=False if args.no_spare else None,
    )
    result = _deployment_detail(d, f"Deployed {args.model} as {d.name}")
    body, keys = _example_body(d.url)
    result.text = (
        f"Try it:\n  curl -s {d.url}/invocations -H 'Content-Type: application/json' "
        f"-d '{body}'\n  or in a notebook: %mlops predict {d.name} --data df"
    )
    if d.grpc_url:
        result.text += (
            f"\n  gRPC (Open Inference Protocol v2) on {d.grpc_url}, e.g. with "
            f"tritonclient.grpc.InferenceServerClient({d.grpc_url!r})"
        )
    if keys:
        result.text += (
            f"\n  Rows may carry only {', '.join(keys)}: the server looks the features up "
            "in the online store (values you send win)."
        )
    return result


def _example_body(url: str) -> tuple[str, list[str]]:
    """A request body for the deployment (the first row of the model's input example) and the
    entity keys it accepts instead of features."""
    import json

    import httpx

    placeholder = '{"dataframe_records": [{"<column>": <value>}]}'
    try:
        served = httpx.get(f"{url}/deployment", timeout=5).json()["models"][0]
    except (httpx.HTTPError, ValueError, KeyError, IndexError):
        return placeholder, []
    keys = [str(k) for k in served.get("entity_keys") or []]
    if served.get("example"):
        return json.dumps({"dataframe_records": [served["example"]]}), keys
    return placeholder, keys


def cmd_deployments_list(args: argparse.Namespace, ctx: Context) -> Result:
    items = ctx.workspace(args).deployments.list()
    rows = [
        {
            "name": d.name,
            "state": d.state,
            "endpoint": d.url,
            "serving": ", ".join(f"{s.name} v{s.version}" for s in d.serving),
            "replicas": f"{len(d.replica_processes)}/{d.replicas}",
        }
        for d in items
    ]
    table = Table(
        _frame(rows, ["name", "state", "endpoint", "serving", "replicas"]),
        title=f"{len(items)} deployment(s)",
        data={"deployments": [d.model_dump() for d in items]},
    )
    return table


def cmd_deployments_status(args: argparse.Namespace, ctx: Context) -> Result:
    ws = ctx.workspace(args)
    d = ws.deployments.get(args.name)
    detail = _deployment_detail(d)
    if d.state in {"running", "degraded", "updating"}:
        try:
            stats = ws.deployments.stats(args.name)
        except BackendUnavailable as exc:  # no replica up: the state and error say why
            detail.facts.append(("traffic", f"unavailable ({exc.message})"))
            return detail
        detail.facts += [
            ("requests", f"{stats.requests_total} ({stats.errors_total} errors)"),
            ("rows predicted", str(stats.rows_total)),
        ]
        detail.data = {**d.model_dump(), "stats": stats.model_dump()}
    return detail


def cmd_deployments_logs(args: argparse.Namespace, ctx: Context) -> Result:
    text = ctx.workspace(args).deployments.logs(args.name, lines=args.lines)
    return Message(text, {"logs": text})


def cmd_deployments_stop(args: argparse.Namespace, ctx: Context) -> Result:
    ws = ctx.workspace(args)
    d = ws.deployments.stop(args.name)
    return _deployment_detail(d, f"Deployment {d.name} {d.state}")


def cmd_deployments_start(args: argparse.Namespace, ctx: Context) -> Result:
    ws = ctx.workspace(args)
    d = ws.deployments.start(args.name)
    return _deployment_detail(d, f"Deployment {d.name} {d.state} again at {d.url}")


def cmd_deployments_remove(args: argparse.Namespace, ctx: Context) -> Result:
    ws = ctx.workspace(args)
    d = ws.deployments.remove(args.name, purge_log=args.purge_log)
    log = "deleted" if args.purge_log else "kept (remove it with --purge-log)"
    return Message(
        f"Removed deployment {d.name}; its prediction log is {log}",
        d.model_dump(),
    )


def cmd_deployments_update(args: argparse.Namespace, ctx: Context) -> Result:
    ws = ctx.workspace(args)
    d = ws.deployments.update(args.name, args.model, replicas=args.replicas)
    return _deployment_detail(d, f"Deployment {d.name} now serves {args.model}")


def cmd_predict(args: argparse.Namespace, ctx: Context) -> Result:
    """``predict DEPLOYMENT --data X``: X is a DataFrame variable (magic) or a file (CLI)."""
    ws = ctx.workspace(args)
    data = load_data(args.data, ctx, ws.resolve_path)
    frame = ws.deployments.predict(args.name, data)
    table = Table(frame, title=f"{len(frame)} prediction(s) from {args.name}")
    table.value = frame
    return table


def cmd_package(args: argparse.Namespace, ctx: Context) -> Result:
    from jupyter_mlops.serving.package import package_model

    ws = ctx.workspace(args)
    # A folder the user typed is theirs to choose (~/builds/churn, /srv/builds): the write is one
    # they asked for, so it may leave the workspace. A relative path stays relative to the
    # workspace, as it always was. Only paths from REST callers are confined to the workspace.
    out = Path(args.out).expanduser()
    if not out.is_absolute():
        out = ws.root / out
    built = package_model(ws.registry, args.model, out, name=args.name, replicas=args.replicas)
    lines = [f"Packaged {built.model} into {built.folder}:"]
    lines += [f"  {f}" for f in built.files]
    lines.append(f"Build it: docker build -t {built.image} {built.folder}")
    return Message("\n".join(lines), built.model_dump())


# -- the command tree ------------------------------------------------------------------------------


def add_commands(sub: Subcommands, common: CommandParser) -> None:
    """``register``, ``models list|show|compare``, ``promote``, ``alias``, ``deploy``,
    ``deployments list|status|logs|stop|start|remove|update``, ``predict`` and ``package``."""
    p = sub.add_parser("register", parents=[common], help="register a run's model as a version")
    p.add_argument("run_id", metavar="RUN_ID")
    p.add_argument("--name", "-n", required=True, help="registered model name, e.g. churn")
    p.add_argument("--alias", action="append", help="also set this alias (repeatable)")
    p.add_argument("--description", default="", help="a note on the version")
    p.set_defaults(handler=cmd_register)

    msub = add_group(sub, "models", "registered models, versions, lineage")
    p = msub.add_parser("list", parents=[common], help="list registered models")
    p.set_defaults(handler=cmd_models_list)
    p = msub.add_parser(
        "show",
        parents=[common],
        help="a model's versions, or one version's lineage (NAME@ALIAS, NAME:VERSION)",
    )
    p.add_argument("model", metavar="MODEL")
    p.set_defaults(handler=cmd_models_show)
    p = msub.add_parser(
        "profile", parents=[common], help="store a version's training-data profile (for drift)"
    )
    p.add_argument("model", metavar="NAME:VERSION", help="NAME, NAME@ALIAS or NAME:VERSION")
    p.add_argument("--data", required=True, help="the training frame: a variable or a file")
    p.set_defaults(handler=cmd_models_profile)
    p = msub.add_parser("compare", parents=[common], help="metrics of versions side by side")
    p.add_argument("name", metavar="NAME")
    p.add_argument("versions", nargs="+", type=positive, metavar="VERSION")
    p.set_defaults(handler=cmd_models_compare)

    p = sub.add_parser(
        "promote",
        parents=[common],
        help="move an alias to a version, if its metrics pass the gates",
    )
    p.add_argument("name", metavar="NAME")
    p.add_argument("version", type=positive, metavar="VERSION")
    p.add_argument("--to", required=True, metavar="ALIAS", help="e.g. champion")
    p.add_argument(
        "--require",
        action="append",
        type=csv_list,
        metavar="GATE",
        help="METRIC OP NUMBER|ALIAS, e.g. 'roc_auc>=champion' (repeatable)",
    )
    p.set_defaults(handler=cmd_promote)

    p = sub.add_parser("alias", parents=[common], help="set or remove an alias without gates")
    p.add_argument("name", metavar="NAME")
    p.add_argument("alias", metavar="ALIAS")
    p.add_argument("version", nargs="?", type=positive, metavar="VERSION")
    p.add_argument("--delete", action="store_true", help="remove the alias")
    p.set_defaults(handler=cmd_alias)

    p = sub.add_parser("deploy", parents=[common], help="serve a model version on 127.0.0.1")
    p.add_argument("model", metavar="MODEL", help="NAME, NAME@ALIAS or NAME:VERSION")
    p.add_argument("--name", help="deployment name (default: the model name)")
    p.add_argument("--replicas", type=positive, default=1, help="server processes (default 1)")
    p.add_argument("--port", type=positive, help="port (default: a free one)")
    p.add_argument(
        "--grpc-port",
        type=int,
        help="port of the gRPC inference service (Open Inference Protocol v2; default: a free "
        "one; 0: no gRPC)",
    )
    p.add_argument(
        "--no-spare",
        action="store_true",
        help="with one replica, keep no warm spare (saves a replica's memory; a replica that "
        "dies then takes seconds to replace)",
    )
    p.set_defaults(handler=cmd_deploy)

    dsub = add_group(
        sub, "deployments", "local deployments: list, status, logs, stop, start, remove"
    )
    p = dsub.add_parser("list", parents=[common], help="list deployments")
    p.set_defaults(handler=cmd_deployments_list)
    for name, text, handler in (
        ("status", "state, endpoint, replicas, traffic", cmd_deployments_status),
        ("stop", "stop a deployment (it stays stopped)", cmd_deployments_stop),
        ("start", "start a stopped deployment again, on its ports", cmd_deployments_start),
    ):
        p = dsub.add_parser(name, parents=[common], help=text)
        p.add_argument("name", metavar="NAME")
        p.set_defaults(handler=handler)
    p = dsub.add_parser(
        "remove", parents=[common], help="delete a stopped deployment (keeps its prediction log)"
    )
    p.add_argument("name", metavar="NAME")
    p.add_argument("--purge-log", action="store_true", help="also delete its prediction log")
    p.set_defaults(handler=cmd_deployments_remove)
    p = dsub.add_parser("logs", parents=[common], help="the supervisor's and replicas' logs")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--lines", "-n", type=positive, default=50, help="lines per log (default 50)")
    p.set_defaults(handler=cmd_deployments_logs)
    p = dsub.add_parser("update", parents=[common], help="move to another version, no downtime")
    p.add_argument("name", metavar="NAME")
    p.add_argument("model", metavar="MODEL", help="NAME@ALIAS or NAME:VERSION")
    p.add_argument("--replicas", type=positive, help="change the replica count too")
    p.set_defaults(handler=cmd_deployments_update)

    p = sub.add_parser("predict", parents=[common], help="send rows to a deployment")
    p.add_argument("name", metavar="DEPLOYMENT")
    p.add_argument(
        "--data",
        required=True,
        help="a DataFrame variable (in a notebook), a .parquet/.csv/.json file, or JSON rows",
    )
    p.set_defaults(handler=cmd_predict)

    p = sub.add_parser(
        "package",
        parents=[common],
        help="Docker context and Kubernetes manifests for a model version",
    )
    p.add_argument("model", metavar="MODEL", help="NAME@ALIAS or NAME:VERSION")
    p.add_argument(
        "--out",
        required=True,
        help="a new or empty folder, anywhere (~ allowed); relative: in the workspace",
    )
    p.add_argument("--name", help="service name (default: the model name)")
    p.add_argument("--replicas", type=positive, default=2, help="Kubernetes replicas")
    p.set_defaults(handler=cmd_package)
