"""The checks of CI gates, pure: did a loss converge, does a run pass its gates.

A check is one line, as in a ``%%mlops gate`` cell or a ``--gate`` / ``--converged`` option:

- ``converged loss``: the history of ``loss`` converged (the rule below);
- ``val_auc >= 0.85``, ``val_auc >= champion``, ``val_auc >= champion-0.01``: a gate, in the
  language of ``promote`` (:mod:`jupyter_mlops.registry.gates`).

The convergence rule, applied to a metric's history in step order:

1. at least :data:`MIN_POINTS` (3) values;
2. every value finite (no NaN, no infinity);
3. over the last ``max(3, ceil(10% of the points))`` values, the least-squares slope against the
   point's position is <= 0 (still decreasing), **or** the relative range
   ``(max - min) / max(|mean|, 1e-12)`` is <= 1% (a plateau).

Nothing here reads MLflow or the registry: :mod:`jupyter_mlops.jobs.ci` gathers the run's
metrics, histories and alias holders and passes them in.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from jupyter_mlops.errors import InvalidInput
from jupyter_mlops.jobs.ci_schemas import CheckResult, Convergence
from jupyter_mlops.registry.gates import Gate, evaluate, parse_gate
from jupyter_mlops.registry.schemas import GateResult

#: Fewest values a history needs before it can be said to converge.
MIN_POINTS = 3
#: The trend is measured over this share of the history (at least MIN_POINTS values).
TAIL_SHARE = 0.10
#: A window whose relative range is at most this is a plateau.
PLATEAU_TOLERANCE = 0.01
#: The floor of the mean in the relative range, so a history at 0 does not divide by 0.
MEAN_FLOOR = 1e-12
# MLflow stores +-infinity as +-max float, and gives that back: both count as infinite.
_FLOAT_MAX = sys.float_info.max


class GateFailed(Exception):
    """A ``%%mlops gate`` cell's checks did not pass: raised so a job stops at that cell.

    Not an :class:`~jupyter_mlops.errors.MlopsError`: nothing is wrong with the input, the run
    just does not pass, and the cell must fail like a failed assertion.
    """


@dataclass(frozen=True)
class ConvergenceCheck:
    """``converged METRIC``."""

    metric: str

    @property
    def text(self) -> str:
        return f"converged {self.metric}"


Check = ConvergenceCheck | Gate

_CHECK_HINT = (
    "One check per line: 'converged loss', 'val_auc >= 0.85', 'val_auc >= champion' or "
    "'val_auc >= champion-0.01'."
)


def parse_check(text: str) -> Check:
    """Parse one check line.

    Example:
        >>> parse_check("converged loss")
        ConvergenceCheck(metric='loss')
        >>> parse_check("val_auc >= champion-0.01").offset
        -0.01

    Raises:
        InvalidInput: neither ``converged METRIC`` nor a gate.
    """
    words = text.split()
    if words and words[0] == "converged":
        if len(words) != 2:
            raise InvalidInput(
                f"{text.strip()!r} is not a check", hint=_CHECK_HINT, field="converged"
            )
        return ConvergenceCheck(words[1])
    try:
        return parse_gate(text)
    except InvalidInput as exc:
        raise InvalidInput(exc.message, hint=_CHECK_HINT, field="gate") from None


def parse_checks(body: str) -> list[Check]:
    """The checks of a ``%%mlops gate`` cell: one per line; blank lines and ``#`` comments skip.

    Raises:
        InvalidInput: a line is not a check (every line is parsed before anything is read), or
            there is no check at all.
    """
    lines = [line.split("#", 1)[0].strip() for line in body.splitlines()]
    checks = [parse_check(line) for line in lines if line]
    if not checks:
        raise InvalidInput("The cell has no check", hint=_CHECK_HINT, field="gate")
    return checks


def is_finite(value: float | None) -> bool:
    """Not None (MLflow's NaN/inf read back as JSON), not NaN, not +-infinity or +-max float."""
    return value is not None and not math.isnan(value) and abs(value) < _FLOAT_MAX


def trend_window(points: int) -> int:
    """How many of the last points the trend is measured over: max(3, ceil(10%))."""
    return min(points, max(MIN_POINTS, math.ceil(points * TAIL_SHARE)))


def least_squares_slope(values: Sequence[float]) -> float:
    """The slope of the least-squares line through ``(i, values[i])``."""
    n = len(values)
    mean_x = (n - 1) / 2
    mean_y = sum(values) / n
    sxx = sum((i - mean_x) ** 2 for i in range(n))
    sxy = sum((i - mean_x) * (y - mean_y) for i, y in enumerate(values))
    return sxy / sxx if sxx else 0.0


def relative_range(values: Sequence[float]) -> float:
    """``(max - min) / max(|mean|, 1e-12)``."""
    mean = sum(values) / len(values)
    return (max(values) - min(values)) / max(abs(mean), MEAN_FLOOR)


def check_convergence(
    metric: str, values: Sequence[float | None], steps: Sequence[int] | None = None
) -> Convergence:
    """Whether ``values`` (a metric's history in step order) converged, and by which rule.

    Example:
        >>> check_convergence("loss", [1.0, 0.5, 0.3, 0.25, 0.24]).rule
        'decreasing'

    Args:
        steps: the step of each value, only to name where a NaN is.
    """
    n = len(values)
    last = values[-1] if n and is_finite(values[-1]) else None
    if n < MIN_POINTS:
        return Convergence(
            metric=metric,
            passed=False,
            rule="too-short",
            points=n,
            last=last,
            message=f"{metric} has {n} logged value(s); the convergence rule needs at least "
            f"{MIN_POINTS}",
        )
    bad = [i for i, v in enumerate(values) if not is_finite(v)]
    if bad:
        where = [steps[i] for i in bad] if steps is not None else bad
        label = "step" if steps is not None else "point"
        shown = ", ".join(str(w) for w in where[:5]) + (", ..." if len(where) > 5 else "")
        return Convergence(
            metric=metric,
            passed=False,
            rule="not-finite",
            points=n,
            last=last,
            message=f"{metric} has {len(bad)} NaN or infinite value(s) of {n} (at {label} {shown})",
        )
    finite = [float(v) for v in values if v is not None]
    window = trend_window(n)
    tail = finite[-window:]
    slope = least_squares_slope(tail)
    spread = relative_range(tail)
    over = f"over the last {window} of {n} values"
    slope_text = f"slope is {slope:+.3g} per point"
    range_text = f"relative range is {spread:.2%}"
    if slope <= 0:
        rule, passed = "decreasing", True
        message = f"{metric} converged: {over} the {slope_text} (<= 0)"
    elif spread <= PLATEAU_TOLERANCE:
        rule, passed = "plateau", True
        message = (
            f"{metric} converged: {over} the {range_text} (<= {PLATEAU_TOLERANCE:.0%}), "
            f"a plateau (the {slope_text})"
        )
    else:
        rule, passed = "rising", False
        message = (
            f"{metric} did not converge: {over} the {slope_text} (> 0) and the {range_text} "
            f"(> {PLATEAU_TOLERANCE:.0%})"
        )
    return Convergence(
        metric=metric,
        passed=passed,
        rule=rule,
        points=n,
        window=window,
        slope=slope,
        relative_range=spread,
        last=last,
        message=message,
    )


def _known(metrics: Mapping[str, object]) -> str:
    return ", ".join(sorted(metrics)) or "none"


def evaluate_gate(
    gate: Gate,
    metrics: Mapping[str, float | None],
    holders: Mapping[str, tuple[int, Mapping[str, float]] | None],
    *,
    model: str | None,
    model_problem: str | None = None,
) -> GateResult:
    """One gate against a run's metrics (latest values).

    Args:
        holders: alias -> (version, its metrics) of ``model``; None for an alias nobody holds.
        model: the model whose aliases the gate names; None when it could not be determined.
        model_problem: why there is no model, said by a gate that names an alias.
    """
    value = metrics.get(gate.metric)
    if gate.metric in metrics and not is_finite(value):
        return GateResult(
            gate=gate.text,
            passed=False,
            metric=gate.metric,
            message=f"failed: the run's last {gate.metric} is NaN or infinite",
        )
    if gate.alias is not None and model is None:
        why = model_problem or "no model could be determined"
        return GateResult(
            gate=gate.text,
            passed=False,
            metric=gate.metric,
            value=value,
            message=f"failed: the gate compares with @{gate.alias}, but {why}",
        )
    finite = {k: float(v) for k, v in metrics.items() if v is not None and is_finite(v)}
    result = evaluate(gate, finite, holders, subject="the run")
    if gate.metric not in metrics:
        result.message = (
            f"failed: the run did not log {gate.metric!r} (its metrics: {_known(metrics)})"
        )
    elif model is not None and gate.alias is not None:
        result.message = result.message.replace(f"@{gate.alias}", f"{model}@{gate.alias}", 1)
    return result


def evaluate_checks(
    checks: Sequence[Check],
    metrics: Mapping[str, float | None],
    histories: Mapping[str, Sequence[float | None]],
    holders: Mapping[str, tuple[int, Mapping[str, float]] | None],
    *,
    model: str | None,
    model_problem: str | None = None,
    steps: Mapping[str, Sequence[int]] | None = None,
) -> list[CheckResult]:
    """Every check against one run, in order.

    Args:
        metrics: the run's metrics, latest values (None for NaN/inf).
        histories: the full history of each metric a convergence check names.
        holders: alias -> (version, metrics) for every alias the gates name.
        steps: the step of each history value, to say where a NaN is.
    """
    out: list[CheckResult] = []
    for check in checks:
        if isinstance(check, ConvergenceCheck):
            history = histories.get(check.metric)
            if history is None or (not history and check.metric not in metrics):
                conv = Convergence(
                    metric=check.metric,
                    passed=False,
                    rule="too-short",
                    points=0,
                    message=f"the run did not log {check.metric!r} "
                    f"(its metrics: {_known(metrics)})",
                )
            else:
                conv = check_convergence(check.metric, history, (steps or {}).get(check.metric))
            out.append(
                CheckResult(
                    name=check.text,
                    kind="convergence",
                    passed=conv.passed,
                    message=conv.message,
                    convergence=conv,
                )
            )
        else:
            gate = evaluate_gate(check, metrics, holders, model=model, model_problem=model_problem)
            out.append(
                CheckResult(
                    name=check.text,
                    kind="gate",
                    passed=gate.passed,
                    message=gate.message,
                    gate=gate,
                )
            )
    return out
