"""Metric gates for promotion: ``roc_auc>=champion``, ``log_loss<=0.4``, ``accuracy>0.8``.

A gate compares a metric of the candidate version's run with a number or with the same metric of
the version that currently holds an alias, optionally moved by a margin: ``roc_auc>=champion-0.01``
passes when the candidate is at most 0.01 below the champion. A gate against an alias nobody holds
passes (there is nothing to beat) and says so.

The right side is read as a number if it is one; else a trailing ``+NUMBER`` or ``-NUMBER`` is the
margin and what precedes it the alias (so an alias that itself ends in ``-<digits>`` cannot be
named in a gate).
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
_GATE = re.compile(
    r"^\s*(?P<metric>[A-Za-z0-9_.\-/ ]+?)\s*(?P<op>>=|<=|==|>|<)\s*(?P<rhs>\S(?:.*\S)?)\s*$"
)
_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
# An alias, then an optional margin: ``champion``, ``champion-0.01``, ``champion + 1e-3``.
_ALIAS_RHS = re.compile(
    rf"^(?P<alias>[A-Za-z0-9][A-Za-z0-9_.\-]*?)(?:\s*(?P<sign>[+-])\s*(?P<margin>{_NUMBER}))?$"
)


@dataclass(frozen=True)
class Gate:
    """One parsed gate: ``metric op threshold`` or ``metric op alias[+-margin]``.

    ``offset`` is the signed margin added to the alias holder's value (``champion-0.01`` gives
    -0.01); it is 0 for a threshold gate.
    """

    text: str
    metric: str
    op: str
    threshold: float | None
    alias: str | None
    offset: float = 0.0


_HINT = (
    "Write METRIC OP NUMBER, METRIC OP ALIAS or METRIC OP ALIAS+-NUMBER, with OP one of "
    ">= <= > < ==, e.g. 'roc_auc>=champion', 'roc_auc>=champion-0.01' or 'log_loss<=0.4'."
)


def parse_gate(text: str) -> Gate:
    """Parse one gate.

    Example:
        >>> parse_gate("val_auc >= champion-0.01").offset
        -0.01

    Raises:
        InvalidInput: the text is not ``METRIC OP NUMBER``, ``METRIC OP ALIAS`` or
            ``METRIC OP ALIAS+NUMBER`` / ``METRIC OP ALIAS-NUMBER``.
    """
    match = _GATE.match(text)
    if match is None:
        raise InvalidInput(f"{text!r} is not a gate", hint=_HINT, field="require")
    metric, op, rhs = match.group("metric"), match.group("op"), match.group("rhs")
    try:
        threshold = float(rhs)
    except ValueError:
        pass
    else:
        if math.isnan(threshold):
            raise InvalidInput(f"{text!r} compares with NaN", hint=_HINT, field="require")
        return Gate(text.strip(), metric, op, threshold, None)
    alias_match = _ALIAS_RHS.match(rhs)
    if alias_match is None:
        raise InvalidInput(f"{text!r} is not a gate", hint=_HINT, field="require")
    offset = 0.0
    if alias_match.group("margin") is not None:
        offset = float(alias_match.group("margin"))
        if alias_match.group("sign") == "-":
            offset = -offset
    return Gate(text.strip(), metric, op, None, alias_match.group("alias"), offset)


def describe_reference(gate: Gate) -> str:
    """The right side as written, normalised: ``0.85``, ``@champion``, ``@champion - 0.01``."""
    if gate.alias is None:
        return f"{gate.threshold:g}"
    if gate.offset == 0:
        return f"@{gate.alias}"
    sign = "+" if gate.offset > 0 else "-"
    return f"@{gate.alias} {sign} {abs(gate.offset):g}"


def evaluate(
    gate: Gate,
    candidate: Mapping[str, float],
    holders: Mapping[str, tuple[int, Mapping[str, float]] | None],
    *,
    subject: str = "the candidate's run",
) -> GateResult:
    """Check ``gate`` for a candidate's metrics; ``holders`` maps alias -> (version, metrics).

    ``subject`` names whose metrics ``candidate`` holds, in the message of a missing metric.
    """
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
        held = metrics.get(gate.metric)
        if held is not None and gate.offset:
            sign = "+" if gate.offset > 0 else "-"
            against = f" (@{gate.alias} version {version}: {held:.6g} {sign} {abs(gate.offset):g})"
            reference = held + gate.offset
        else:
            against = f" of @{gate.alias} (version {version})"
            reference = held
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
            message=f"failed: {subject} has no metric {gate.metric!r} (its metrics: {known})",
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
