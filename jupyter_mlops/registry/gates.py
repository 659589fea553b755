"""Metric gates for promotion: ``roc_auc>=champion``, ``log_loss<=0.4``, ``accuracy>0.8``.

A gate compares a metric of the candidate version's run with a number or with the same metric of
the version that currently holds an alias. A gate against an alias nobody holds passes (there is
nothing to beat) and says so.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from jupyter_mlops.errors import InvalidInput
from jupyter_mlops.registry.schemas import GateResult

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
    "==": operator.eq,
}
_GATE = re.compile(r"^\s*(?P<metric>[A-Za-z0-9_.\-/ ]+?)\s*(?P<op>>=|<=|==|>|<)\s*(?P<rhs>\S+)\s*$")


@dataclass(frozen=True)
class Gate:
    """One parsed gate: ``metric op threshold`` or ``metric op alias``."""

    text: str
    metric: str
    op: str
    threshold: float | None
    alias: str | None


def parse_gate(text: str) -> Gate:
    """Parse one gate.

    Raises:
        InvalidInput: the text is not ``METRIC OP NUMBER`` or ``METRIC OP ALIAS``.
    """
    match = _GATE.match(text)
    if match is None:
        raise InvalidInput(
            f"{text!r} is not a gate",
            hint="Write METRIC OP NUMBER or METRIC OP ALIAS, with OP one of >= <= > < ==, "
            "e.g. 'roc_auc>=champion' or 'log_loss<=0.4'.",
            field="require",
        )
    rhs = match.group("rhs")
    try:
        threshold: float | None = float(rhs)
        alias = None
    except ValueError:
        threshold, alias = None, rhs
    return Gate(text.strip(), match.group("metric"), match.group("op"), threshold, alias)


def evaluate(
    gate: Gate,
    candidate: Mapping[str, float],
    holders: Mapping[str, tuple[int, Mapping[str, float]] | None],
) -> GateResult:
    """Check ``gate`` for a candidate's metrics; ``holders`` maps alias -> (version, metrics)."""
    value = candidate.get(gate.metric)
    reference: float | None = gate.threshold
    against = ""
    if gate.alias is not None:
        holder = holders.get(gate.alias)
        if holder is None:
            return GateResult(
                gate=gate.text,
                passed=True,
                metric=gate.metric,
                value=value,
                message=f"passed: no version holds @{gate.alias} yet, so there is nothing to beat",
            )
        version, metrics = holder
        reference = metrics.get(gate.metric)
        against = f" of @{gate.alias} (version {version})"
        if reference is None:
            return GateResult(
                gate=gate.text,
                passed=False,
                metric=gate.metric,
                value=value,
                message=f"failed: @{gate.alias} (version {version}) has no metric {gate.metric!r}",
            )
    if value is None or (isinstance(value, float) and math.isnan(value)):
        known = ", ".join(sorted(candidate)) or "none"
        return GateResult(
            gate=gate.text,
            passed=False,
            metric=gate.metric,
            reference=reference,
            message=f"failed: the candidate's run has no metric {gate.metric!r} "
            f"(its metrics: {known})",
        )
    assert reference is not None
    passed = _OPS[gate.op](value, reference)
    gap = value - reference
    if passed:
        message = f"passed: {gate.metric} {value:.6g} {gate.op} {reference:.6g}{against}"
    else:
        message = (
            f"failed: {gate.metric} {value:.6g} is not {gate.op} {reference:.6g}{against} "
            f"(off by {abs(gap):.6g})"
        )
    return GateResult(
        gate=gate.text,
        passed=passed,
        metric=gate.metric,
        value=value,
        reference=reference,
        difference=gap,
        message=message,
    )
