"""The gate language: numbers, aliases, and aliases moved by a margin (``champion-0.01``)."""

from __future__ import annotations

import pytest

from jupyter_mlops import Workspace
from jupyter_mlops.errors import InvalidInput
from jupyter_mlops.registry.gates import Gate, describe_reference, evaluate, parse_gate
from tests.conftest import log_model_run


@pytest.mark.parametrize(
    ("text", "metric", "op", "threshold", "alias", "offset"),
    [
        ("roc_auc>=champion", "roc_auc", ">=", None, "champion", 0.0),
        ("log_loss<0.4", "log_loss", "<", 0.4, None, 0.0),
        ("accuracy > -0.5", "accuracy", ">", -0.5, None, 0.0),
        ("val_auc>=champion-0.01", "val_auc", ">=", None, "champion", -0.01),
        ("val_auc >= champion - 0.01", "val_auc", ">=", None, "champion", -0.01),
        ("log_loss<=champion+1e-3", "log_loss", "<=", None, "champion", 0.001),
        ("f1 == prod-v.2+.5", "f1", "==", None, "prod-v.2", 0.5),
        ("val auc>=challenger", "val auc", ">=", None, "challenger", 0.0),
    ],
)
def test_parse(
    text: str, metric: str, op: str, threshold: float | None, alias: str | None, offset: float
) -> None:
    gate = parse_gate(text)
    assert (gate.metric, gate.op, gate.threshold, gate.alias) == (metric, op, threshold, alias)
    assert gate.offset == pytest.approx(offset)
    assert gate.text == text.strip()


@pytest.mark.parametrize("text", ["roc_auc ~ 1", "roc_auc>=", ">=0.4", "a >= champion -", "a>=nan"])
def test_not_a_gate(text: str) -> None:
    with pytest.raises(InvalidInput, match=r"not a gate|with NaN") as info:
        parse_gate(text)
    assert info.value.hint is not None and "champion-0.01" in info.value.hint


def test_gate_made_by_position_still_works() -> None:
    """Callers that build a Gate with the five original fields get no margin."""
    gate = Gate("auc>=champion", "auc", ">=", None, "champion")
    assert gate.offset == 0.0
    assert describe_reference(gate) == "@champion"
    assert describe_reference(parse_gate("auc>=champion-0.01")) == "@champion - 0.01"
    assert describe_reference(parse_gate("auc>=0.85")) == "0.85"


def test_margin_moves_the_reference() -> None:
    holders = {"champion": (3, {"val_auc": 0.84})}
    gate = parse_gate("val_auc>=champion-0.01")
    close = evaluate(gate, {"val_auc": 0.835}, holders)
    assert close.passed and close.reference == pytest.approx(0.83)
    assert close.difference == pytest.approx(0.005)
    assert "@champion version 3: 0.84 - 0.01" in close.message
    far = evaluate(gate, {"val_auc": 0.82}, holders)
    assert not far.passed and "off by 0.01" in far.message
    # Without the margin the same candidate fails: 0.835 < 0.84.
    assert not evaluate(parse_gate("val_auc>=champion"), {"val_auc": 0.835}, holders).passed
    # A margin on a lower-is-better metric.
    loss = evaluate(
        parse_gate("loss<=champion+0.05"), {"loss": 0.44}, {"champion": (1, {"loss": 0.4})}
    )
    assert loss.passed and loss.reference == pytest.approx(0.45)


def test_no_holder_and_missing_metric() -> None:
    gate = parse_gate("val_auc>=champion-0.01")
    assert "nothing to beat" in evaluate(gate, {"val_auc": 0.5}, {"champion": None}).message
    missing = evaluate(gate, {"loss": 0.1}, {"champion": (1, {"val_auc": 0.8})}, subject="the run")
    assert not missing.passed
    assert missing.message == "failed: the run has no metric 'val_auc' (its metrics: loss)"
    held = evaluate(gate, {"val_auc": 0.9}, {"champion": (1, {"loss": 0.8})})
    assert not held.passed and "has no metric 'val_auc'" in held.message


def test_promote_with_a_margin(workspace: Workspace) -> None:
    registry = workspace.registry
    registry.register(log_model_run(workspace, metrics={"roc_auc": 0.80}), "churn")
    registry.register(log_model_run(workspace, metrics={"roc_auc": 0.795}), "churn")
    registry.register(log_model_run(workspace, metrics={"roc_auc": 0.70}), "churn")
    registry.set_alias("churn", "champion", 1)
    # v2 is 0.005 below the champion: within a 0.01 margin, not without one.
    assert not registry.promote("churn", 2, "champion", require=["roc_auc>=champion"]).promoted
    result = registry.promote("churn", 2, "champion", require=["roc_auc>=champion-0.01"])
    assert result.promoted and result.gates[0].reference == pytest.approx(0.79)
    assert registry.resolve("churn@champion").version == 2
    # v3 is 0.095 below the new champion.
    result = registry.promote("churn", 3, "champion", require=["roc_auc >= champion - 0.01"])
    assert not result.promoted and registry.resolve("churn@champion").version == 2
