"""register, models, promote, deploy, deployments, predict: in a terminal and a notebook."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from jupyter_mlops import Workspace
from tests.conftest import log_model_run
from tests.helpers import Cli, jupyter_mlops, outputs_text, run_notebook


def test_registry_commands(
    workspace: Workspace,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cli = Cli(workspace.root, capsys).completed
    root = workspace.root
    first = log_model_run(workspace, metrics={"roc_auc": 0.80})
    second = log_model_run(workspace, metrics={"roc_auc": 0.70})
    done = jupyter_mlops("register", first, "--name", "churn", "--alias", "champion", cwd=root)
    assert done.returncode == 0, done.stderr
    assert "Registered churn version 1" in done.stdout and "@champion" in done.stdout
    cli("register", second, "--name", "churn")

    listed = cli("models", "list", "--json")
    assert json.loads(listed.stdout)["models"][0]["name"] == "churn"
    shown = cli("models", "show", "churn")
    assert "latest version: 2" in shown.stdout and "roc_auc=0.8" in shown.stdout
    lineage = json.loads(cli("models", "show", "churn@champion", "--json").stdout)
    assert lineage["lineage"]["run_id"] == first
    compared = cli("models", "compare", "churn", "1", "2")
    assert "roc_auc" in compared.stdout and "v2" in compared.stdout

    # a failed gate: exit code 1, the reason, and the alias stays
    refused = cli("promote", "churn", "2", "--to", "champion", "--require", "roc_auc>=champion")
    assert refused.returncode == 1
    assert "Not promoted" in refused.stdout and "off by 0.1" in refused.stdout
    accepted = cli("promote", "churn", "2", "--to", "challenger", "--require", "roc_auc>0.5")
    assert accepted.returncode == 0 and "now @challenger" in accepted.stdout

    # package writes where the user asks, outside the workspace too (~ expanded); a folder
    # that is not empty is still refused
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    packaged = cli("package", "churn:1", "--out", "~/builds/churn")
    assert packaged.returncode == 0, packaged.stderr
    built = tmp_path / "home" / "builds" / "churn"
    assert (built / "Dockerfile").is_file() and str(built) in packaged.stdout
    again = cli("package", "churn:1", "--out", str(built))
    assert again.returncode == 1 and "is not empty" in again.stderr

    missing = cli("models", "show", "chrun")
    assert missing.returncode == 1 and "Did you mean churn?" in missing.stderr
    bad = cli("deploy", "churn@prod")
    assert bad.returncode == 1 and "no alias @prod" in bad.stderr


def test_deploy_predict_and_stop_from_terminal_and_notebook(
    workspace: Workspace,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root = workspace.root
    monkeypatch.chdir(root)  # --data paths are relative to where the user is
    cli = Cli(root, capsys).completed
    workspace.registry.register(log_model_run(workspace), "churn")
    rows = pd.DataFrame({"tenure": [3, 40], "spend": [20.0, 70.0], "calls": [0.0, 5.0]})
    rows.to_parquet(root / "rows.parquet")
    deployed = jupyter_mlops("deploy", "churn:1", "--name", "churn-api", "--no-spare", cwd=root)
    try:
        assert deployed.returncode == 0, deployed.stderr
        record = workspace.state_dir / "deployments" / "churn-api" / "deployment.json"
        assert json.loads(record.read_text())["spare_after"] is None  # --no-spare
        assert "state:" in deployed.stdout and "running" in deployed.stdout
        listed = cli("deployments", "list")
        assert "churn-api" in listed.stdout and "running" in listed.stdout
        predicted = cli("predict", "churn-api", "--data", "rows.parquet", "--json")
        assert predicted.returncode == 0, predicted.stderr
        assert len(json.loads(predicted.stdout)["rows"]) == 2
        # the prediction log, live segment included, as a table
        logged = cli("monitor", "predictions", "churn-api", "--last", "5", "--json")
        assert logged.returncode == 0, logged.stderr
        rows = json.loads(logged.stdout)["rows"]
        assert [r["input.tenure"] for r in rows] == [3, 40]
        assert {"request_id", "row", "output.0", "output.1"} <= set(rows[0])
        log = workspace.monitoring.predictions("churn-api", last=1)
        assert len(log) == 1 and log["status"].tolist() == [200]
        outside = cli("predict", "churn-api", "--data", "/etc/passwd")
        assert outside.returncode == 1

        nb = run_notebook(
            root / "predict.ipynb",
            [
                "%load_ext jupyter_mlops",
                "import pandas as pd\n"
                "df = pd.DataFrame({'tenure': [3], 'spend': [20.0], 'calls': [0.0]})",
                "preds = %mlops predict churn-api --data df\npreds.shape, list(preds.columns)",
                "%mlops deployments status churn-api",
            ],
        )
        assert "(1, 2)" in outputs_text(nb.cells[2]), outputs_text(nb.cells[2])
        assert "['proba_0', 'proba_1']" in outputs_text(nb.cells[2])
        assert "requests" in outputs_text(nb.cells[3])
    finally:
        stopped = cli("deployments", "stop", "churn-api")
    assert stopped.returncode == 0 and "stopped" in stopped.stdout
