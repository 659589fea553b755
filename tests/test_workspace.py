"""Finding, creating and configuring a workspace."""

from __future__ import annotations

from pathlib import Path

import pytest

from jupyter_mlops import Workspace
from jupyter_mlops.errors import ConfigError, InvalidInput, WorkspaceNotFound


def test_found_from_a_subfolder_and_from_env(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    sub = workspace.root / "notebooks" / "deep"
    sub.mkdir(parents=True)
    assert Workspace.find(sub).root == workspace.root
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLOPS_WORKSPACE", str(workspace.root))
    assert Workspace.find().root == workspace.root


def test_no_workspace_says_to_run_init(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceNotFound) as info:
        Workspace.find(tmp_path)
    assert "jupyter mlops init" in str(info.value)


def test_init_is_idempotent_and_keeps_config(workspace: Workspace) -> None:
    config = workspace.root / "mlops.toml"
    config.write_text('[tracking]\ndefault_experiment = "mine"\n')
    again = Workspace.init(workspace.root)
    assert again.config.tracking.default_experiment == "mine"


@pytest.mark.parametrize(
    ("text", "named", "hint"),
    [
        (
            "[tracking]\nurl = 'x'\n",
            "unknown key 'url' in [tracking] (did you mean 'uri'?)",
            "Keys of [tracking]: uri, registry_uri,",
        ),
        ("[trackin]\n", "unknown section 'trackin' (did you mean 'tracking'?)", "Sections: "),
        # A table of sections: the key is checked against the section a name stands for.
        (
            "[monitoring.deployment.feature]\nwindw = '1h'\n",
            "unknown key 'windw' in [monitoring.deployment.feature] (did you mean 'window'?)",
            "interval_seconds, window",
        ),
        # Nothing close: no guess, the section's keys.
        ("[serving]\nqqqq = 1\n", "unknown key 'qqqq' in [serving]", "Keys of [serving]: "),
        ("[run]\nautolog = 'maybe'\n", "'run.autolog'", "Correct the value"),
        ("[tracking\n", "not valid TOML", "Fix the syntax"),
    ],
)
def test_bad_config_names_key_and_file(tmp_path: Path, text: str, named: str, hint: str) -> None:
    (tmp_path / "mlops.toml").write_text(text)
    with pytest.raises(ConfigError) as info:
        Workspace.find(tmp_path)
    assert named in info.value.message
    assert ("did you mean" in info.value.message) == ("did you mean" in named)
    assert str(tmp_path / "mlops.toml") in info.value.message
    assert hint in (info.value.hint or "")


def test_a_config_not_in_utf8_names_the_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "mlops.toml").write_bytes("[tracking]\nuri = 'caf\u00e9'\n".encode("latin-1"))
    with pytest.raises(ConfigError) as info:
        Workspace.find(tmp_path)
    assert info.value.message == f"{tmp_path / 'mlops.toml'}: not UTF-8 text (byte 0xe9 on line 2)"
    assert "UTF-8" in (info.value.hint or "")


def test_paths_stay_inside_workspace(workspace: Workspace, tmp_path: Path) -> None:
    (workspace.root / "data.csv").write_text("a\n1\n")
    assert workspace.resolve_path("data.csv") == workspace.root / "data.csv"
    for bad in ("../outside.csv", "/etc/passwd", str(tmp_path)):
        with pytest.raises(InvalidInput, match="outside the workspace"):
            workspace.resolve_path(bad)
    (workspace.root / "link").symlink_to(tmp_path)
    with pytest.raises(InvalidInput, match="outside the workspace"):
        workspace.resolve_path("link")


def test_relative_sqlite_uri_is_relative_to_workspace(tmp_path: Path) -> None:
    (tmp_path / "mlops.toml").write_text('[tracking]\nuri = "sqlite:///db/mlflow.db"\n')
    ws = Workspace.find(tmp_path)
    assert ws.tracking_uri == f"sqlite:///{tmp_path}/db/mlflow.db"
