"""Comparing runs: the diff table, seed groups with t intervals, and the figures."""

from __future__ import annotations

import pytest
from scipy import stats

from jupyter_mlops import Workspace
from jupyter_mlops.errors import InvalidInput, NotFound
from jupyter_mlops.tracking.compare import mean_interval


def test_compare_table_and_diff_only(workspace: Workspace, sweep: list[str]) -> None:
    full = workspace.tracking.compare(sweep[:2], figures=False)
    assert [r.run_id for r in full.runs] == sweep[:2]
    names = {p.name: p for p in full.params}
    assert names["model"].differs is False and names["model"].values == ["gbm", "gbm"]
    assert names["random_state"].differs is True
    diff = workspace.tracking.compare(sweep[:2], diff_only=True, figures=False)
    assert [p.name for p in diff.params] == ["random_state"]
    assert {m.name for m in diff.metrics} == {"accuracy", "loss"}


def test_group_by_seed_gives_t_interval(workspace: Workspace, sweep: list[str]) -> None:
    result = workspace.tracking.compare(sweep, group_by_seed=True, figures=False)
    assert result.seed_param == "random_state"
    assert result.groups is not None and len(result.groups) == 2
    by_lr = {g.key["lr"]: g for g in result.groups}
    group = by_lr["0.3"]
    assert group.key == {"lr": "0.3", "model": "gbm"}
    acc = next(m for m in group.metrics if m.name == "accuracy")
    values = [0.83, 0.84, 0.85]
    low, high = stats.t.interval(0.95, 2, loc=sum(values) / 3, scale=stats.sem(values))
    assert acc.n == 3
    assert acc.mean == pytest.approx(0.84)
    assert (acc.ci_low, acc.ci_high) == (pytest.approx(low), pytest.approx(high))


def test_one_seed_has_no_interval() -> None:
    single = mean_interval("acc", [0.9, None])
    assert (single.n, single.mean, single.ci_low, single.ci_high) == (1, 0.9, None, None)


def test_group_without_seed_param_is_an_error(workspace: Workspace) -> None:
    ids = []
    for depth in (3, 5):
        with workspace.tracking.start_run("noseed") as rec:
            rec.log_param("depth", depth)
            ids.append(rec.run_id)
    with pytest.raises(InvalidInput, match="No seed parameter"):
        workspace.tracking.compare(ids, group_by_seed=True, figures=False)
    grouped = workspace.tracking.compare(ids, group_by_seed=True, seed_param="depth", figures=False)
    assert grouped.groups is not None and len(grouped.groups) == 1


def test_compare_figures_are_plotly_json(workspace: Workspace, sweep: list[str]) -> None:
    result = workspace.tracking.compare(sweep)
    history, parallel = result.figures["history"], result.figures["parallel"]
    traces = history["data"]
    assert isinstance(traces, list) and len(traces) == len(sweep)
    assert all(t["type"] == "scatter" for t in traces)
    (parcoords,) = parallel["data"]  # type: ignore[misc]
    labels = [d["label"] for d in parcoords["dimensions"]]
    assert labels == ["lr", "random_state", "accuracy", "loss"]


def test_compare_needs_two_known_runs(workspace: Workspace, sweep: list[str]) -> None:
    with pytest.raises(InvalidInput, match="at least two"):
        workspace.tracking.compare([sweep[0], sweep[0]])
    with pytest.raises(NotFound):
        workspace.tracking.compare([sweep[0], "f" * 32])
