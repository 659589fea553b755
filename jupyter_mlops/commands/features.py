"""Handlers of ``features list|show|plan|apply|ingest|materialize|stats|usage|diff``.

Like every handler they parse nothing, call :class:`~jupyter_mlops.features.FeatureStore` and
return a :class:`~jupyter_mlops.commands.results.Result`; ``--json`` prints the service's own
models (``features show --json`` is :meth:`FeatureStore.view_detail`, as the REST API sends it),
so the terminal, the notebook and the REST API describe a view the same way.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_mlops.commands.args import CommandParser, Subcommands, add_group, iso_time
from jupyter_mlops.commands.results import Detail, Message, Result, Table
from jupyter_mlops.errors import InvalidInput
from jupyter_mlops.features.definitions import Entity, format_ttl
from jupyter_mlops.features.registry import diff_views

if TYPE_CHECKING:
    import pandas as pd

    from jupyter_mlops.commands.context import Context
    from jupyter_mlops.features.schemas import ViewVersion
    from jupyter_mlops.workspace import Workspace


# -- descriptions shared with the REST API ---------------------------------------------------


def _entities(view: ViewVersion) -> str:
    return ", ".join(
        f"{e.name} ({', '.join(e.join_keys)})" if isinstance(e, Entity) else e
        for e in view.definition.entities
    )


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    sign, rest = ("-" if seconds < 0 else ""), int(abs(seconds))
    parts = [(rest // 86400, "d"), (rest % 86400 // 3600, "h"), (rest % 3600 // 60, "m")]
    shown = [f"{n}{unit}" for n, unit in parts if n][:2]
    return sign + (" ".join(shown) if shown else f"{rest}s")


def _frame(rows: list[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame(rows, columns=columns)


# -- handlers ------------------------------------------------------------------------------


def cmd_list(args: argparse.Namespace, ctx: Context) -> Result:
    """``features list``: the latest version of every view, optionally searched."""
    data = ctx.workspace(args).features.registry.load()
    rows = []
    for name in sorted(data.views):
        history = data.views[name]
        view = history[-1]
        if not view.matches(args.search):
            continue
        d = view.definition
        rows.append(
            {
                "name": name,
                "version": view.version,
                "versions": len(history),
                "entities": ", ".join(d.entity_names),
                "features": len(d.features),
                "ttl": format_ttl(d.ttl) or "-",
                "source": view.source_text() or "ingested",
                "owner": d.owner,
                "description": d.description,
            }
        )
    columns = ["name", "version", "versions", "entities", "features", "ttl", "source", "owner"]
    frame = _frame(rows, [*columns, "description"])
    title = f"{len(rows)} feature view(s)" + (f" matching {args.search!r}" if args.search else "")
    footer = ""
    if not data.views:
        footer = "No views yet: define them in features/*.py, then run `features apply`."
    # --json carries the REST list (GET /features/views) under "views", beside the table rows.
    listing = ctx.workspace(args).features.view_list(args.search)
    return Table(frame, title=title, footer=footer, data=listing.model_dump(mode="json"))


def cmd_show(args: argparse.Namespace, ctx: Context) -> Result:
    """``features show VIEW``: a version's schema, entities, TTL, source and metadata."""
    store = ctx.workspace(args).features
    view = store.get_view(args.view, args.version)
    history = store.versions(args.view)
    d = view.definition
    facts = [
        ("version", f"v{view.version} (of {len(history)})"),
        ("entities", _entities(view)),
        ("timestamp", d.timestamp_field),
        ("ttl", format_ttl(d.ttl) or "none (values never expire)"),
        ("source", view.source_text() or "ingested into the workspace"),
    ]
    if d.transform_sql:
        facts.append(("transform", d.transform_sql))
    elif d.transform is not None:
        facts.append(("transform", f"{d.transform.describe()}:\n{d.transform.source}"))
    facts += [
        ("description", d.description or "-"),
        ("owner", d.owner or "-"),
        ("tags", ", ".join(f"{k}={v}" for k, v in sorted(d.tags.items())) or "-"),
        ("fingerprint", view.fingerprint[:12]),
        ("created", view.created_at.isoformat(timespec="seconds")),
    ]
    features = _frame(
        [{"name": f.name, "dtype": f.dtype, "description": f.description} for f in d.features],
        ["name", "dtype", "description"],
    )
    versions = []
    for i, v in enumerate(history):
        changes = diff_views(history[i - 1].definition, v.definition) if i else ["(first)"]
        versions.append(
            {
                "version": f"v{v.version}",
                "created": v.created_at.isoformat(timespec="seconds"),
                "fingerprint": v.fingerprint[:12],
                "changes": "; ".join(changes),
            }
        )
    # The same model the REST API sends for GET /mlops/api/features/views/{name}.
    data = store.view_detail(view.name, view.version).model_dump(mode="json")
    return Detail(
        f"Feature view {view.name}",
        facts,
        tables=[
            ("features", features),
            ("versions", _frame(versions, ["version", "created", "fingerprint", "changes"])),
        ],
        data=data,
    )


def _definitions(ws: Workspace, folder: str) -> list[Any]:
    path = ws.resolve_path(folder, must_exist=False)
    if not path.is_dir():
        raise InvalidInput(
            f"No definitions folder '{folder}' in the workspace {ws.root}.",
            hint="Write Entity and FeatureView definitions in features/*.py, or pass --dir.",
            field="dir",
        )
    found = ws.features.load_definitions(folder)
    if not found:
        raise InvalidInput(
            f"No Entity or FeatureView definitions found in {folder}/*.py.",
            hint="Define them at module level, e.g. `customer = Entity('customer', ['id'])`.",
            field="dir",
        )
    return found


def cmd_plan(args: argparse.Namespace, ctx: Context) -> Result:
    """``features plan``: what ``apply`` would change; nothing is written."""
    ws = ctx.workspace(args)
    plan = ws.features.plan(_definitions(ws, args.dir))
    return Detail(f"Plan for {args.dir}/*.py", text=str(plan), data=plan.model_dump(mode="json"))


def cmd_apply(args: argparse.Namespace, ctx: Context) -> Result:
    """``features apply``: register the definitions; changed views get a new version."""
    ws = ctx.workspace(args)
    plan = ws.features.apply(_definitions(ws, args.dir))
    title = f"Applied {args.dir}/*.py" if plan.has_changes else f"{args.dir}/*.py: up to date"
    return Detail(title, text=str(plan), data=plan.model_dump(mode="json"))


def cmd_ingest(args: argparse.Namespace, ctx: Context) -> Result:
    """``features ingest VIEW PATH``: append a Parquet or CSV file's rows to a view."""
    ws = ctx.workspace(args)
    view = ws.features.get_view(args.view)  # an unknown view fails before the file is read
    given = Path(args.path).expanduser()
    # Relative to where the user is, like any path typed in a shell; it must be in the workspace.
    path = ws.resolve_path(given if given.is_absolute() else (ctx.cwd or Path.cwd()) / given)
    frame = read_rows(path, view, shown=args.path)
    result = ws.features.ingest(view.name, frame)
    if result.rows == 0:
        text = f"{args.path} has no rows; nothing was written to {view.label}."
    else:
        target = f"{result.view}:v{result.version}"
        text = f"Ingested {result.rows} row(s) from {args.path} into {target}."
    return Message(text, {"path": args.path, **result.model_dump(mode="json")})


def read_rows(path: Path, view: ViewVersion, *, shown: str) -> pd.DataFrame:
    """Read a Parquet or CSV file of rows for ``view``.

    Raises:
        InvalidInput: not a file, another format, or a file that cannot be parsed.
    """
    import pandas as pd

    suffix = path.suffix.lower()
    if not path.is_file() or suffix not in {".parquet", ".pq", ".csv"}:
        raise InvalidInput(
            f"'{shown}' is not a Parquet or CSV file.",
            hint="Give a .parquet or .csv file inside the workspace.",
            field="path",
        )
    kind = "CSV" if suffix == ".csv" else "Parquet"
    try:
        return _read_csv(path, view, shown) if kind == "CSV" else pd.read_parquet(path)
    except InvalidInput:
        raise
    except Exception as exc:  # pandas and pyarrow raise many kinds for a malformed file
        raise InvalidInput(
            f"{shown} could not be read as {kind}: {type(exc).__name__}: {exc}",
            hint="Check the file's format and its column types.",
            field="path",
        ) from None


def _read_csv(path: Path, view: ViewVersion, shown: str) -> pd.DataFrame:
    """A CSV file with the view's dtypes: CSV has none, and guessing loses them.

    The timestamp field and ``timestamp`` features are parsed as ISO 8601; ``int64`` and
    ``bool`` features are read as nullable types, so a missing value does not turn integers
    into floats; ``string`` features stay strings even when they look like numbers.
    """
    import pandas as pd

    d = view.definition
    nullable = {"int64": "Int64", "float64": "float64", "bool": "boolean", "string": "string"}
    dtypes = {f.name: nullable[f.dtype] for f in d.features if f.dtype in nullable}
    try:
        frame = pd.read_csv(path, dtype=dtypes)
    except (ValueError, TypeError):
        column = _failing_column(path, dtypes)
        if column is None:
            raise
        raise InvalidInput(
            f"Column '{column}' of {shown} has values that are not "
            f"{d.feature(column).dtype}: batch rejected, nothing written.",
            hint=f"Fix the values of '{column}' and ingest again.",
            field=column,
        ) from None
    times = [d.timestamp_field, *(f.name for f in d.features if f.dtype == "timestamp")]
    for column in (c for c in times if c in frame.columns):
        try:
            frame[column] = pd.to_datetime(frame[column], format="ISO8601")
        except (ValueError, TypeError) as exc:
            raise InvalidInput(
                f"Column '{column}' of {shown} is not ISO 8601 time ({exc}): batch rejected, "
                "nothing written.",
                hint="Write times like 2026-01-31 or 2026-01-31T12:00:00Z, all with or all "
                "without a time zone.",
                field=column,
            ) from None
    return frame


def _failing_column(path: Path, dtypes: dict[str, str]) -> str | None:
    """The first column of a CSV file that cannot be read as its dtype (an error path only)."""
    import pandas as pd

    present = set(pd.read_csv(path, nrows=0).columns)
    for column, dtype in dtypes.items():
        if column in present:
            try:
                pd.read_csv(path, usecols=[column], dtype={column: dtype})
            except (ValueError, TypeError):
                return column
    return None


def cmd_materialize(args: argparse.Namespace, ctx: Context) -> Result:
    """``features materialize [VIEW...]``: load the views' latest values into the online store."""
    store = ctx.workspace(args).features
    results = store.materialize(args.views or None, start=args.start, end=args.end)
    rows = [r.model_dump() for r in results]
    columns = ["view", "version", "rows_written", "start", "end"]
    written = sum(r.rows_written for r in results)
    title = f"Materialized {len(results)} view(s), {written} row(s) written to the online store"
    return Table(_frame(rows, columns), title=title)


def cmd_stats(args: argparse.Namespace, ctx: Context) -> Result:
    """``features stats VIEW``: row count, freshness against the TTL, per-feature statistics."""
    stats = ctx.workspace(args).features.stats(args.view, args.version)
    state = "STALE" if stats.stale else "fresh"
    facts = [
        ("rows", f"{stats.row_count:,}"),
        ("first event", stats.first_event.isoformat() if stats.first_event else "-"),
        ("last event", stats.last_event.isoformat() if stats.last_event else "-"),
        ("age", _duration(stats.age_seconds)),
        ("ttl", _duration(stats.ttl_seconds) if stats.ttl_seconds else "none"),
        ("freshness", state),
    ]
    rows = []
    for f in stats.features:
        top = ", ".join(f"{v} ({n})" for v, n in f.top_values) if f.top_values else ""
        rows.append(
            {
                "feature": f.name,
                "dtype": f.dtype,
                "null_rate": f.null_rate,
                "min": f.min,
                "max": f.max,
                "mean": f.mean,
                "std": f.std,
                "top_values": top,
            }
        )
    columns = ["feature", "dtype", "null_rate", "min", "max", "mean", "std", "top_values"]
    return Detail(
        f"Statistics of {stats.name}:v{stats.version} ({state})",
        facts,
        tables=[("features", _frame(rows, columns))],
        data=stats.model_dump(mode="json"),
    )


def cmd_usage(args: argparse.Namespace, ctx: Context) -> Result:
    """``features usage VIEW``: runs, models and deployments per version (impact preview)."""
    usage = ctx.workspace(args).feature_usage(args.view)
    data = usage.model_dump(mode="json")
    facts: list[tuple[str, str]] = []
    found: dict[str, list[dict[str, Any]]] = {"runs": [], "models": [], "deployments": []}
    for version in data["versions"]:
        label = f"v{version['version']}"
        counts = []
        for kind, rows in found.items():
            items = version.get(kind) or []
            counts.append(f"{len(items)} {kind}")
            rows.extend(
                {"version": label, **(item if isinstance(item, dict) else {"name": item})}
                for item in items
            )
        facts.append((label, ", ".join(counts)))
    for run in found["runs"]:
        if isinstance(run.get("start_time"), int):
            run["start_time"] = datetime.fromtimestamp(run["start_time"] / 1000, UTC)
    total = ", ".join(f"{len(rows)} {kind}" for kind, rows in found.items())
    tables = [(kind, _usage_frame(rows)) for kind, rows in found.items() if rows]
    return Detail(f"Usage of {usage.view}: {total}", facts, tables=tables, data=data)


def _usage_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    columns = list(dict.fromkeys(k for row in rows for k in row))
    return _frame(rows, columns)


def cmd_diff(args: argparse.Namespace, ctx: Context) -> Result:
    """``features diff VIEW V1 V2``: what changed in a view between two versions."""
    from jupyter_mlops.features.registry import version_number

    v1, v2 = version_number(args.v1), version_number(args.v2)
    lines = ctx.workspace(args).features.diff(args.view, v1, v2)
    return Detail(
        f"{args.view}: v{v1} -> v{v2}",
        text="\n".join(lines) or "No differences.",
        data={"view": args.view, "from_version": v1, "to_version": v2, "lines": lines},
    )


# -- the command tree ------------------------------------------------------------------------------


def add_commands(sub: Subcommands, common: CommandParser) -> None:
    """``features list|show|plan|apply|ingest|materialize|stats|usage|diff``."""
    fsub = add_group(sub, "features", "feature views: define, version, ingest, serve, inspect")

    p = fsub.add_parser("list", parents=[common], help="list feature views")
    p.add_argument(
        "--search",
        "-s",
        default="",
        help="only views whose name, features, description, owner or tags contain TEXT",
    )
    p.set_defaults(handler=cmd_list)

    p = fsub.add_parser("show", parents=[common], help="a view's schema, source and versions")
    p.add_argument("view", metavar="VIEW")
    p.add_argument("--version", "-v", help="version to show, e.g. 2 or v2 (default: latest)")
    p.set_defaults(handler=cmd_show)

    for name, text, handler in (
        ("plan", "show what `apply` would change; nothing is written", cmd_plan),
        ("apply", "register the definitions: changed views get a new version", cmd_apply),
    ):
        p = fsub.add_parser(name, parents=[common], help=text)
        p.add_argument(
            "--dir", default="features", help="folder of definition files (default: features)"
        )
        p.set_defaults(handler=handler)

    p = fsub.add_parser("ingest", parents=[common], help="append a Parquet or CSV file to a view")
    p.add_argument("view", metavar="VIEW")
    p.add_argument("path", metavar="PATH", help="a .parquet or .csv file inside the workspace")
    p.set_defaults(handler=cmd_ingest)

    p = fsub.add_parser("materialize", parents=[common], help="load views into the online store")
    p.add_argument("views", nargs="*", metavar="VIEW", help="views (default: all)")
    p.add_argument("--start", type=iso_time, help="earliest event time (ISO 8601)")
    p.add_argument("--end", type=iso_time, help="latest event time (ISO 8601; default: now)")
    p.set_defaults(handler=cmd_materialize)

    p = fsub.add_parser("stats", parents=[common], help="row count, freshness, feature statistics")
    p.add_argument("view", metavar="VIEW")
    p.add_argument("--version", "-v", help="version, e.g. 2 or v2 (default: latest)")
    p.set_defaults(handler=cmd_stats)

    p = fsub.add_parser("usage", parents=[common], help="runs, models and deployments per version")
    p.add_argument("view", metavar="VIEW")
    p.set_defaults(handler=cmd_usage)

    p = fsub.add_parser("diff", parents=[common], help="what changed between two versions")
    p.add_argument("view", metavar="VIEW")
    p.add_argument("v1", metavar="V1", help="older version, e.g. v1 or 1")
    p.add_argument("v2", metavar="V2", help="newer version, e.g. v2 or 2")
    p.set_defaults(handler=cmd_diff)
