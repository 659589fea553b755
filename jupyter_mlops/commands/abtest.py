"""Handlers of the A/B test commands: ``ab start|status|outcomes|split|stop|list|plan``.

The verdict shown is the sequential test's (valid however often anyone looks); the fixed-horizon
p-value is shown with the warning about peeking. ``--json`` prints the service's pydantic models.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from jupyter_mlops.commands.args import CommandParser, Subcommands, add_group
from jupyter_mlops.commands.context import load_data
from jupyter_mlops.commands.results import Detail, Result, Table
from jupyter_mlops.errors import InvalidInput

if TYPE_CHECKING:
    from jupyter_mlops.abtest.schemas import AbExperiment, AbStatus
    from jupyter_mlops.commands.context import Context


def _split(text: str) -> list[float]:
    parts = text.replace(":", "/").split("/")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) != 2:
        raise InvalidInput(
            f"--split {text!r} is not CHAMPION/CHALLENGER",
            hint="Give two percentages, e.g. --split 90/10.",
            field="split",
        )
    return values


def _experiment_facts(exp: AbExperiment) -> list[tuple[str, str]]:
    facts = [
        ("experiment", exp.id),
        ("model", f"{exp.model}: champion v{exp.champion}, challenger v{exp.challenger}"),
        (
            "split",
            "shadow (the challenger gets copies)"
            if exp.shadow
            else f"{exp.split[0]:g}/{exp.split[1]:g}",
        ),
        ("assignment", f"sticky by {exp.sticky_key}" if exp.sticky_key else "random"),
        ("outcome", f"{exp.metric} ({exp.kind})"),
        ("started", f"{exp.started:%Y-%m-%d %H:%M} by {exp.started_by}"),
        ("state", exp.state),
    ]
    if exp.decision is not None:
        d = exp.decision
        facts.append(
            (
                "decision",
                f"{d.winner} (v{d.version}) by {d.decided_by} at {d.decided_at:%Y-%m-%d %H:%M}"
                + ("; @champion moved" if d.alias_moved else ""),
            )
        )
    return facts


def _status_result(status: AbStatus) -> Detail:
    import pandas as pd

    exp = status.experiment
    facts = _experiment_facts(exp)
    facts.append(
        (
            f"{status.unit}s",
            ", ".join(
                f"{v} {status.assigned[v]} ({status.with_outcome[v]} with an outcome)"
                for v in ("champion", "challenger")
            ),
        )
    )
    lines: list[str] = []
    if status.message:
        lines.append(status.message)
    a = status.analysis
    if a is not None:
        c = a.comparison
        rel = f" ({c.effect.relative:+.1%})" if c.effect.relative is not None else ""
        lines.append(f"Verdict: {c.verdict_text}")
        lines.append(
            f"Effect of the challenger: {c.effect.absolute:+.4g}{rel}, always-valid "
            f"{1 - c.alpha:.0%} interval [{c.effect.absolute_low:.4g}, "
            f"{c.effect.absolute_high:.4g}]; sequential p = {c.sequential.p_value:.4g}"
        )
        if c.bayes is not None:
            lines.append(f"P(challenger better) = {c.bayes.probability_better:.3f}")
        if c.bootstrap is not None:
            b = c.bootstrap
            lines.append(f"Bootstrap {b.confidence:.0%} interval [{b.ci_low:.4g}, {b.ci_high:.4g}]")
        lines.append(f"Fixed-horizon p = {c.fixed_horizon.p_value:.4g} ({a.peeking_warning})")
        if a.srm.mismatch:
            lines.append(f"SAMPLE-RATIO MISMATCH: {a.srm.message}")
    guard = pd.DataFrame(
        [
            {
                "variant": g.variant,
                "version": g.version,
                "requests": g.requests,
                "errors": "-" if g.error_rate is None else f"{g.error_rate:.1%}",
                "p50 ms": "-" if g.latency_p50_ms is None else f"{g.latency_p50_ms:.2f}",
                "p95 ms": "-" if g.latency_p95_ms is None else f"{g.latency_p95_ms:.2f}",
            }
            for g in status.guardrails
        ]
    )
    result = Detail(
        title=f"A/B test of {exp.deployment}",
        facts=facts,
        text="\n".join(lines),
        tables=[("Guardrails", guard)],
        data=status.model_dump(mode="json"),
    )
    result.value = None
    return result


def cmd_start(args: argparse.Namespace, ctx: Context) -> Result:
    from jupyter_mlops.abtest.schemas import AbStartRequest

    ws = ctx.workspace(args)
    exp = ws.abtests.start(
        args.deployment,
        AbStartRequest(
            challenger=args.challenger,
            split=_split(args.split),
            sticky_key=args.sticky_key,
            metric=args.metric,
            kind=args.kind,
            shadow=args.shadow,
            planned_n=args.planned_n,
        ),
    )
    return Detail(
        title=f"A/B test {exp.id} started on {exp.deployment}",
        facts=_experiment_facts(exp),
        text=f"Send outcomes with `jupyter mlops ab outcomes {exp.deployment} --data FILE` "
        "(columns request_id or key, and value); follow it with "
        f"`jupyter mlops ab status {exp.deployment}`.",
        data=exp.model_dump(mode="json"),
    )


def cmd_status(args: argparse.Namespace, ctx: Context) -> Result:
    return _status_result(ctx.workspace(args).abtests.status(args.deployment))


def cmd_outcomes(args: argparse.Namespace, ctx: Context) -> Result:
    from jupyter_mlops.abtest.schemas import OutcomeItem

    ws = ctx.workspace(args)
    frame = load_data(args.data, ctx, ws.resolve_path)
    columns = set(map(str, frame.columns))
    if "value" not in columns or not ({"request_id", "key"} & columns):
        raise InvalidInput(
            f"The outcomes need a value column and a request_id or key column; they have "
            f"{', '.join(sorted(columns)) or 'none'}",
            hint="e.g. a CSV with columns request_id,value (1/0 for converted).",
            field="data",
        )
    items = []
    for row in frame.to_dict(orient="records"):
        rid = row.get("request_id")
        key = row.get("key")
        items.append(
            OutcomeItem(
                request_id=None if rid is None or rid != rid else str(rid),
                key=None if key is None or key != key else str(key),
                value=row["value"],
            )
        )
    done = ws.abtests.record_outcomes(args.deployment, items)
    return Detail(
        title=f"Outcomes for {args.deployment}",
        facts=[("accepted", str(done.accepted)), ("already recorded", str(done.duplicates))],
        data=done.model_dump(mode="json"),
    )


def cmd_split(args: argparse.Namespace, ctx: Context) -> Result:
    exp = ctx.workspace(args).abtests.reweight(args.deployment, _split(args.split))
    return Detail(
        title=f"A/B test {exp.id}: traffic moved",
        facts=_experiment_facts(exp),
        data=exp.model_dump(mode="json"),
    )


def cmd_stop(args: argparse.Namespace, ctx: Context) -> Result:
    exp = ctx.workspace(args).abtests.stop(args.deployment, args.winner)
    return Detail(
        title=f"A/B test {exp.id} stopped: the {args.winner} serves {exp.deployment}",
        facts=_experiment_facts(exp),
        data=exp.model_dump(mode="json"),
    )


def cmd_list(args: argparse.Namespace, ctx: Context) -> Result:
    import pandas as pd

    found = ctx.workspace(args).abtests.list(args.deployment)
    rows: list[dict[str, Any]] = [
        {
            "experiment": e.id,
            "deployment": e.deployment,
            "champion": e.champion,
            "challenger": e.challenger,
            "split": "shadow" if e.shadow else f"{e.split[0]:g}/{e.split[1]:g}",
            "state": e.state,
            "winner": e.decision.winner if e.decision else "-",
            "started": f"{e.started:%Y-%m-%d %H:%M}",
        }
        for e in found.experiments
    ]
    return Table(pd.DataFrame(rows), title="A/B tests", data=found.model_dump(mode="json"))


def cmd_plan(args: argparse.Namespace, ctx: Context) -> Result:
    from jupyter_mlops.abtest.stats import sample_size

    traffic = args.traffic
    if traffic is None and args.deployment:
        from jupyter_mlops.monitoring.windows import Window

        ws = ctx.workspace(args)
        metrics = ws.monitoring.metrics(args.deployment, Window.parse("1h"))
        traffic = float(metrics.overall.requests)
    plan = sample_size(
        args.kind,
        args.baseline,
        args.mde,
        relative=args.relative,
        sd=args.sd,
        alpha=args.alpha,
        power=args.power,
        ratio=args.share / (100.0 - args.share) if args.share < 100 else 1.0,
        traffic_per_hour=traffic,
        share=1.0,
    )
    facts = [
        ("champion needs", f"{plan.control_n:,}"),
        ("challenger needs", f"{plan.treatment_n:,}"),
        ("in all", f"{plan.total_n:,}"),
        ("detects", f"{plan.mde_absolute:+.4g} absolute (alpha {plan.alpha}, power {plan.power})"),
    ]
    if plan.hours is not None:
        facts.append(("takes", f"{plan.hours:.1f} h ({plan.days:.1f} days) at {traffic:g}/h"))
    return Detail(title="A/B test plan", facts=facts, data=plan.model_dump(mode="json"))


def cmd_watch(args: argparse.Namespace, ctx: Context) -> Result:
    """``ab watch DEPLOYMENT``: the live widget, in a notebook only."""
    from jupyter_mlops.commands.results import Message

    if not ctx.rich:
        raise InvalidInput(
            "ab watch needs a notebook: it shows a live widget",
            hint=f"Run `%mlops ab watch {args.deployment}` in a notebook; in a terminal, "
            f"`jupyter mlops ab status {args.deployment}` prints where the test stands.",
            field="deployment",
        )
    from jupyter_mlops.commands.abtest_widget import ab_widget

    ws = ctx.workspace(args)
    if args.json:  # the figures only: no widget (and no thread) nobody would see
        status = ws.abtests.status(args.deployment)
        return Message(f"The A/B test of {args.deployment}", status.model_dump(mode="json"))
    widget = ab_widget(args.deployment, workspace=ws, refresh_seconds=args.refresh)
    assert widget.status is not None
    result = Message(
        f"Watching the A/B test of {args.deployment}",
        widget.status.model_dump(mode="json"),
    )
    result.value = widget
    return result


def add_commands(sub: Subcommands, common: CommandParser) -> None:
    asub = add_group(sub, "ab", "A/B tests between model versions on a deployment")
    p = asub.add_parser("start", parents=[common], help="start a test against the champion")
    p.add_argument("deployment")
    p.add_argument("--challenger", type=int, required=True, help="the version to test")
    p.add_argument("--split", default="90/10", help="champion/challenger percent (90/10)")
    p.add_argument(
        "--sticky-key", help="input column or x-sticky-key header keeping a user's variant"
    )
    p.add_argument("--metric", default="converted", help="the outcome's name")
    p.add_argument(
        "--kind",
        choices=["binary", "numeric", "label"],
        default="binary",
        help="binary (converted), numeric (revenue), label (true labels: quality per variant)",
    )
    p.add_argument("--shadow", action="store_true", help="challenger gets copies, answers nothing")
    p.add_argument("--planned-n", type=int, help="units per variant the test plans")
    p.set_defaults(handler=cmd_start)
    for verb, handler, text in (
        ("status", cmd_status, "assignments, outcomes, the verdict and the guardrails"),
    ):
        p = asub.add_parser(verb, parents=[common], help=text)
        p.add_argument("deployment")
        p.set_defaults(handler=handler)
    p = asub.add_parser(
        "outcomes", parents=[common], help="record outcomes (request_id|key, value)"
    )
    p.add_argument("deployment")
    p.add_argument("--data", required=True, help="a CSV/Parquet file, or a DataFrame in a notebook")
    p.set_defaults(handler=cmd_outcomes)
    p = asub.add_parser("split", parents=[common], help="move traffic, no downtime")
    p.add_argument("deployment")
    p.add_argument("split", help="champion/challenger percent, e.g. 50/50")
    p.set_defaults(handler=cmd_split)
    p = asub.add_parser("stop", parents=[common], help="decide: the winner serves alone")
    p.add_argument("deployment")
    p.add_argument("--winner", choices=["champion", "challenger"], required=True)
    p.set_defaults(handler=cmd_stop)
    p = asub.add_parser("list", parents=[common], help="A/B tests, newest first")
    p.add_argument("deployment", nargs="?")
    p.set_defaults(handler=cmd_list)
    p = asub.add_parser("plan", parents=[common], help="sample size and duration")
    p.add_argument("--kind", choices=["binary", "numeric"], default="binary")
    p.add_argument("--baseline", type=float, required=True, help="the champion's rate or mean")
    p.add_argument("--mde", type=float, required=True, help="minimum detectable effect")
    p.add_argument("--relative", action="store_true", help="--mde is relative to the baseline")
    p.add_argument("--sd", type=float, help="the outcome's standard deviation (numeric)")
    p.add_argument("--alpha", type=float, default=0.05)
    p.add_argument("--power", type=float, default=0.8)
    p.add_argument("--share", type=float, default=50.0, help="challenger's percent of traffic")
    p.add_argument("--traffic", type=float, help="requests per hour")
    p.add_argument("--deployment", help="take the traffic of the last hour of this deployment")
    p.set_defaults(handler=cmd_plan)
    p = asub.add_parser("watch", parents=[common], help="a live widget with Promote (notebook)")
    p.add_argument("deployment")
    p.add_argument("--refresh", type=float, default=5.0, help="seconds between updates")
    p.set_defaults(handler=cmd_watch)
