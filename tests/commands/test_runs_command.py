"""``jupyter mlops runs``: narrow by default, the experiment's chosen columns, --columns."""

from __future__ import annotations

import pytest

from jupyter_mlops import Workspace
from jupyter_mlops.tracking.columns import RunColumns
from tests.helpers import Cli


def test_runs_columns(
    workspace: Workspace, sweep: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    cli = Cli(workspace.root, capsys)
    code, out, err = cli("runs", "-e", "churn")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "6 run(s)"
    # One short row per run: names, 8-character ids, the picked params and metrics.
    assert max(len(line) for line in lines) < 120
    assert lines[1].split() == [
        "run", "id", "status", "started", "lr", "random_state", "model", "accuracy", "loss",
    ]  # fmt: skip
    assert sweep[-1][:8] in lines[2] and sweep[-1] not in out

    code, out, err = cli("runs", "-e", "churn", "--columns", "accuracy,params.lr")
    assert code == 0, err
    assert out.splitlines()[1].split() == ["run", "id", "status", "started", "accuracy", "lr"]

    # The choice made in JupyterLab is the terminal's default too.
    RunColumns(workspace.tracking, workspace.state_dir).choose("churn", ["loss", "random_state"])
    code, out, err = cli("runs", "-e", "churn")
    assert out.splitlines()[1].split()[4:] == ["loss", "random_state"]

    code, out, err = cli("runs", "-e", "churn", "--columns", "acuracy")
    assert code == 1 and "acuracy" in err and "metrics.accuracy" in err

    # --json keeps every param and metric, and says which columns were chosen.
    body = cli.json("runs", "-e", "churn")
    assert body["columns"] == ["metrics.loss", "params.random_state"]
    assert {r["run_id"] for r in body["rows"]} == set(sweep)
    assert "params.lr" in body["rows"][0] and "metrics.accuracy" in body["rows"][0]
    code, out, err = cli("runs", "-e", "churn", "--all-columns")
    assert "params.lr" in out and sweep[0] in out


def test_a_narrow_terminal_keeps_the_first_metrics_and_names_the_columns_left_out(
    workspace: Workspace,
    sweep: list[str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cli = Cli(workspace.root, capsys)
    monkeypatch.setenv("COLUMNS", "75")
    code, out, err = cli("runs", "-e", "churn")
    assert code == 0, err
    lines = out.splitlines()
    assert max(len(line) for line in lines[:8]) <= 75
    # params go first, from the last; the first two metrics stay
    assert lines[1].split() == ["run", "id", "status", "started", "lr", "accuracy", "loss"]
    assert lines[8] == (
        "2 more column(s) did not fit the terminal: random_state, model "
        "(--columns to choose, --all-columns for all)"
    )
    # Asked-for columns are shown whatever the width.
    code, out, err = cli("runs", "-e", "churn", "--columns", "lr,random_state,model,accuracy,loss")
    assert out.splitlines()[1].split()[4:] == ["lr", "random_state", "model", "accuracy", "loss"]
