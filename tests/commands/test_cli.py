"""The `jupyter mlops` CLI, run as a user runs it: a subprocess of the `jupyter` command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jupyter_mlops import Workspace
from jupyter_mlops.commands.cli import main
from tests.helpers import jupyter_mlops


def test_init_then_runs_from_a_subfolder(tmp_path: Path) -> None:
    done = jupyter_mlops("init", "proj", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "proj" / "mlops.toml").is_file()
    assert (tmp_path / "proj" / ".mlops" / "mlflow.db").is_file()
    sub = tmp_path / "proj" / "notebooks"
    sub.mkdir()
    done = jupyter_mlops("experiments", "--json", cwd=sub)
    assert done.returncode == 0, done.stderr
    assert [row["name"] for row in json.loads(done.stdout)["rows"]] == ["Default"]


def test_no_workspace_is_a_message_not_a_traceback(tmp_path: Path) -> None:
    done = jupyter_mlops("runs", cwd=tmp_path)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "jupyter mlops init" in done.stderr


def test_unknown_config_key_names_key_and_file(tmp_path: Path) -> None:
    (tmp_path / "mlops.toml").write_text("[tracking]\nuir = 'sqlite:///x.db'\n")
    done = jupyter_mlops("experiments", cwd=tmp_path)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "unknown key 'tracking.uir'" in done.stderr
    assert str(tmp_path / "mlops.toml") in done.stderr


def test_bad_arguments_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runs", "--limit", "0"]) == 2
    assert "must be at least 1" in capsys.readouterr().err
    assert main(["bogus"]) == 2
    assert main(["--help"]) == 0
    assert "compare" in capsys.readouterr().out


def test_runs_text_and_compare(workspace: Workspace, sweep: list[str]) -> None:
    done = jupyter_mlops("runs", "-e", "churn", "--sort", "metrics.accuracy DESC", "-n", "2",
                         cwd=workspace.root)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "2 run(s)" in done.stdout and "More runs: add --page-token" in done.stdout
    done = jupyter_mlops("compare", *sweep, "--group-by-seed", "--json", cwd=workspace.root)
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    assert len(body["groups"]) == 2 and body["figures"] == {}
    done = jupyter_mlops("runs", "-e", "churn", "-f", "metrics.accuracy >>> 1", cwd=workspace.root)
    assert done.returncode == 1 and "Invalid filter" in done.stderr
