"""The checks of CI gates, pure: the convergence rule on worked examples, check parsing, gates."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest

from jupyter_mlops.errors import InvalidInput
from jupyter_mlops.jobs.gates import (
    ConvergenceCheck,
    check_convergence,
    evaluate_checks,
    least_squares_slope,
    parse_check,
    parse_checks,
    relative_range,
    trend_window,
)
from jupyter_mlops.registry.gates import Gate

# -- the convergence rule --------------------------------------------------------------------------


def test_too_short() -> None:
    result = check_convergence("loss", [1.0, 0.5])
    assert (result.passed, result.rule, result.points) == (False, "too-short", 2)
    assert result.message == ("loss has 2 logged value(s); the convergence rule needs at least 3")
    assert check_convergence("loss", []).rule == "too-short"


@pytest.mark.parametrize(
    "bad", [math.nan, None, math.inf, -math.inf, sys.float_info.max, -sys.float_info.max]
)
def test_nan_or_infinite_fails_wherever_it_is(bad: float | None) -> None:
    """None is how the tracking service hands back NaN/inf; MLflow stores inf as max float."""
    result = check_convergence("loss", [1.0, bad, 0.5, 0.4, 0.3], steps=[0, 10, 20, 30, 40])
    assert (result.passed, result.rule) == (False, "not-finite")
    assert result.message == "loss has 1 NaN or infinite value(s) of 5 (at step 10)"
    last = check_convergence("loss", [1.0, 0.5, bad])
    assert last.rule == "not-finite" and last.last is None and "at point 2" in last.message


def test_decreasing() -> None:
    # The window is the last 3 values (0.3, 0.25, 0.24): slope (0.24 - 0.3) / 2 = -0.03.
    result = check_convergence("loss", [1.0, 0.5, 0.3, 0.25, 0.24])
    assert (result.passed, result.rule, result.window) == (True, "decreasing", 3)
    assert result.slope == pytest.approx(-0.03)
    assert result.last == pytest.approx(0.24)
    assert result.message == (
        "loss converged: over the last 3 of 5 values the slope is -0.03 per point (<= 0)"
    )


def test_plateau_with_a_small_rise() -> None:
    # Rising by 0.001 per point at the end, but within 0.4% of the window's mean.
    result = check_convergence("loss", [2.0, 1.0, 0.6, 0.500, 0.501, 0.502])
    assert (result.passed, result.rule) == (True, "plateau")
    assert result.slope == pytest.approx(0.001)
    assert result.relative_range == pytest.approx(0.002 / 0.501)
    assert "relative range is 0.40% (<= 1%), a plateau" in result.message


def test_rising() -> None:
    # Last 3: 0.4, 0.6, 0.9 -> slope 0.25, range 0.5 / mean 0.6333 = 78.95%.
    result = check_convergence("loss", [1.0, 0.5, 0.4, 0.6, 0.9])
    assert (result.passed, result.rule) == (False, "rising")
    assert result.slope == pytest.approx(0.25)
    assert result.relative_range == pytest.approx(0.5 / (1.9 / 3))
    assert result.message == (
        "loss did not converge: over the last 3 of 5 values the slope is +0.25 per point (> 0) "
        "and the relative range is 78.95% (> 1%)"
    )


def test_a_flat_history_at_zero_is_a_plateau() -> None:
    """The mean's floor (1e-12) keeps a history at 0 from dividing by 0."""
    result = check_convergence("loss", [0.0, 0.0, 0.0, 0.0])
    assert result.passed and result.relative_range == 0.0
    tiny = check_convergence("loss", [0.0, 0.0, 1e-15])
    assert tiny.rule == "plateau" and tiny.relative_range == pytest.approx(1e-3)  # 1e-15 / 1e-12


def test_only_the_tail_counts() -> None:
    """A loss that went up early and comes down at the end converged; the reverse did not."""
    down_late = [0.5] + [1.0 + 0.1 * i for i in range(30)] + [4.0, 3.0, 2.0, 1.0]
    assert trend_window(len(down_late)) == 4
    assert check_convergence("loss", down_late).rule == "decreasing"
    up_late = [1.0 / (i + 1) for i in range(30)] + [0.2, 0.3, 0.4]
    assert check_convergence("loss", up_late).rule == "rising"


@pytest.mark.parametrize(("points", "window"), [(3, 3), (20, 3), (30, 3), (31, 4), (100, 10)])
def test_trend_window(points: int, window: int) -> None:
    assert trend_window(points) == window


def test_slope_and_range_agree_with_numpy() -> None:
    rng = np.random.default_rng(0)
    values = list(rng.normal(1.0, 0.1, 12))
    assert least_squares_slope(values) == pytest.approx(np.polyfit(np.arange(12), values, 1)[0])
    expected = (max(values) - min(values)) / abs(np.mean(values))
    assert relative_range(values) == pytest.approx(expected)


# -- parsing checks --------------------------------------------------------------------------------


def test_parse_checks() -> None:
    assert parse_check("converged loss") == ConvergenceCheck("loss")
    assert ConvergenceCheck("loss").text == "converged loss"
    gate = parse_check("val_auc >= champion-0.01")
    assert isinstance(gate, Gate)
    assert (gate.alias, gate.offset) == ("champion", pytest.approx(-0.01))
    cell = """
    # what this model must do
    val_auc >= 0.85
    val_auc >= champion-0.01   # at most 0.01 below the champion

    converged loss
    """
    checks = parse_checks(cell)
    assert [c.text for c in checks] == [
        "val_auc >= 0.85",
        "val_auc >= champion-0.01",
        "converged loss",
    ]


@pytest.mark.parametrize("text", ["converged", "converged loss val_loss", "val_auc ~ 0.8"])
def test_not_a_check(text: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_check(text)
    assert info.value.hint is not None and "converged loss" in info.value.hint


def test_an_empty_cell_is_an_error() -> None:
    with pytest.raises(InvalidInput, match="no check"):
        parse_checks("# nothing\n\n")


# -- evaluating checks -----------------------------------------------------------------------------

METRICS: dict[str, float | None] = {"val_auc": 0.86, "loss": 0.2, "broken": None}
HISTORIES: dict[str, list[float | None]] = {"loss": [0.9, 0.5, 0.3, 0.2]}
HOLDERS = {"champion": (4, {"val_auc": 0.865}), "challenger": None}


def evaluate(*lines: str, model: str | None = "churn", problem: str | None = None) -> list:
    checks = [parse_check(line) for line in lines]
    return evaluate_checks(checks, METRICS, HISTORIES, HOLDERS, model=model, model_problem=problem)


def test_gates_and_convergence_together() -> None:
    results = evaluate("val_auc>=0.85", "val_auc>=champion-0.01", "converged loss")
    assert [(r.kind, r.passed) for r in results] == [
        ("gate", True),
        ("gate", True),
        ("convergence", True),
    ]
    assert results[1].message == (
        "passed: val_auc 0.86 >= 0.855 (churn@champion version 4: 0.865 - 0.01)"
    )
    assert results[1].gate is not None and results[1].gate.reference == pytest.approx(0.855)
    assert results[2].convergence is not None and results[2].convergence.rule == "decreasing"
    strict = evaluate("val_auc>=champion")[0]
    assert not strict.passed and "off by 0.005" in strict.message


def test_a_metric_the_run_did_not_log() -> None:
    gate, conv = evaluate("f1>=0.5", "converged val_loss")
    assert not gate.passed
    assert gate.message == "failed: the run did not log 'f1' (its metrics: broken, loss, val_auc)"
    assert not conv.passed
    assert conv.message == "the run did not log 'val_loss' (its metrics: broken, loss, val_auc)"


def test_a_nan_metric_fails_its_gate() -> None:
    [result] = evaluate("broken<=1")
    assert not result.passed and "NaN or infinite" in result.message


def test_an_alias_without_a_model() -> None:
    problem = "the workspace has 2 registered models (churn, fraud)"
    alias, number = evaluate("val_auc>=champion", "val_auc>=0.5", model=None, problem=problem)
    assert not alias.passed
    assert alias.message == f"failed: the gate compares with @champion, but {problem}"
    assert number.passed  # a threshold gate needs no model


def test_an_alias_nobody_holds_passes_and_says_so() -> None:
    [result] = evaluate("val_auc>=challenger-0.01")
    assert result.passed and "nothing to beat" in result.message
    assert "churn@challenger" in result.message
