"""The runs table's columns: declared, picked, chosen and remembered per experiment."""

from __future__ import annotations

import pytest

from jupyter_mlops import Workspace
from jupyter_mlops.errors import InvalidInput, NotFound
from jupyter_mlops.tracking.columns import RunColumns, declared_tags


def test_default_is_a_pick_not_the_alphabet(workspace: Workspace, sweep: list[str]) -> None:
    choice = RunColumns(workspace.tracking, workspace.state_dir).get("churn")
    assert choice.source == "auto" and choice.pinned == []
    # Varying params before the constant one ('model' is 'gbm' everywhere), then metrics.
    assert choice.columns == [
        "params.lr", "params.random_state", "params.model", "metrics.accuracy", "metrics.loss",
    ]  # fmt: skip
    assert set(choice.available) == set(choice.columns)


def test_declared_columns_come_first(workspace: Workspace, sweep: list[str]) -> None:
    with workspace.tracking.start_run("churn", run_name="declared") as rec:
        rec.log_params({"model": "gbm", "lr": 0.2})
        rec.log_metric("accuracy", 0.9)
        rec.set_tags(declared_tags(["model"], ["accuracy"]))
    choice = RunColumns(workspace.tracking, workspace.state_dir).get("churn")
    assert choice.source == "declared"
    # Declared first; the runs that declared nothing (the sweep) add their own picks.
    assert choice.columns == [
        "params.model", "params.lr", "params.random_state", "metrics.accuracy", "metrics.loss",
    ]  # fmt: skip
    # Once every run declares, only the declared columns show.
    for run_id in sweep:
        for key, value in declared_tags(["lr"], ["accuracy"]).items():
            workspace.tracking.client.set_tag(run_id, key, value)
    choice = RunColumns(workspace.tracking, workspace.state_dir).get("churn")
    assert choice.columns == ["params.model", "params.lr", "metrics.accuracy"]


def test_choice_is_remembered_per_experiment(workspace: Workspace, sweep: list[str]) -> None:
    with workspace.tracking.start_run("other", run_name="x") as rec:
        rec.log_params({"depth": 3})
        rec.log_metric("auc", 0.7)
    columns = RunColumns(workspace.tracking, workspace.state_dir)
    saved = columns.choose("churn", ["lr", "metrics.accuracy", "random_state"], pinned=["accuracy"])
    # Pinned first, the rest in the order given; bare names resolved to their kind.
    assert saved.columns == ["metrics.accuracy", "params.lr", "params.random_state"]
    assert saved.pinned == ["metrics.accuracy"] and saved.source == "saved"
    # A new service on the same workspace (another process) reads the same choice.
    again = RunColumns(Workspace.open(workspace.root).tracking, workspace.state_dir)
    assert again.get("churn").columns == saved.columns
    assert again.get("other").source == "auto"
    assert again.get("other").columns == ["params.depth", "metrics.auc"]
    assert not list(workspace.state_dir.glob(".run_columns.json.*.tmp"))
    assert again.forget("churn").source == "auto"
    assert again.get("churn").source == "auto"


def test_bad_columns_are_refused_with_the_valid_names(
    workspace: Workspace, sweep: list[str]
) -> None:
    columns = RunColumns(workspace.tracking, workspace.state_dir)
    with pytest.raises(InvalidInput) as bad:
        columns.choose("churn", ["accuracy", "acuracy"])
    assert bad.value.field == "columns" and "acuracy" in bad.value.message
    assert "Did you mean" in (bad.value.hint or "") and "metrics.accuracy" in (bad.value.hint or "")
    assert "params.random_state" in (bad.value.hint or "")
    with pytest.raises(InvalidInput) as stray:
        columns.choose("churn", ["accuracy"], pinned=["lr"])
    assert stray.value.field == "pinned"
    with pytest.raises(NotFound):
        columns.get("nope")
    assert columns.get("churn").source == "auto"
