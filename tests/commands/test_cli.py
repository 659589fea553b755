"""The `jupyter mlops` CLI, run as a user runs it: a subprocess of the `jupyter` command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jupyter_mlops import Workspace
from jupyter_mlops.commands.cli import main
from tests.helpers import Cli, jupyter_mlops


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
    assert "unknown key 'uir' in [tracking] (did you mean 'uri'?)" in done.stderr
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


def test_help_leaves_out_the_cell_magics_and_says_what_to_use(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["--help"]) == 0
    commands = {
        line.split()[0]
        for line in capsys.readouterr().out.splitlines()
        if line[:4] == "    " and line[4] != " "
    }
    assert {"runs", "compare", "job", "ci"} <= commands
    assert not {"run", "gate"} & commands
    assert main(["run", "-e", "churn", "--name", "x"]) == 2
    err = capsys.readouterr().err
    assert "`run` is a cell magic" in err and "%%mlops run" in err
    assert "jupyter mlops job run NOTEBOOK.ipynb" in err
    assert main(["gate"]) == 2
    assert "jupyter mlops ci NOTEBOOK.ipynb --gate" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["deplyo"], "unknown command 'deplyo'\nhint: Did you mean deploy? "),
        (["models", "lsit"], "unknown subcommand 'lsit'\nhint: Did you mean list? "),
        (
            ["job", "list", "--state", "runing"],
            "invalid choice 'runing'\nhint: Did you mean running?",
        ),
        # A cell magic is never the guess in a terminal, and nothing close lists the commands.
        (["rum"], "Did you mean runs?"),
        (["xyzzy"], "hint: Commands: ab, alias, ci, compare,"),
    ],
)
def test_a_mistyped_command_gets_the_one_it_resembles(
    capsys: pytest.CaptureFixture[str], argv: list[str], said: str
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert said in err and "Traceback" not in err
    assert "'run'" not in err and " gate," not in err


def test_compare_names_runs_by_prefix_or_name(
    workspace: Workspace, sweep: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    cli = Cli(workspace.root, capsys)
    body = cli.json("compare", sweep[0][:6], "lr0.1-seed1", "--no-charts")
    assert [r["run_id"] for r in body["runs"]] == sweep[:2]
    code, _, err = cli("compare", sweep[0], "lr0.1-sede1")
    assert code == 1
    assert "Run 'lr0.1-sede1' does not exist" in err and "Did you mean lr0.1-seed1" in err
    code, _, err = cli("runs", "-e", "churn", "-f", "accuracy > 0.8")
    assert code == 1 and "did you mean metrics.accuracy?" in err
