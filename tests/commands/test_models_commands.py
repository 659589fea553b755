"""register, models, promote, deploy, deployments, predict: in a terminal and a notebook."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from jupyter_mlops import Workspace
from tests.conftest import log_model_run
from tests.helpers import jupyter_mlops, outputs_text, run_notebook


def test_registry_commands(workspace: Workspace, tmp_path: Path) -> None:
    root = workspace.root
    first = log_model_run(workspace, metrics={"roc_auc": 0.80})
    second = log_model_run(workspace, metrics={"roc_auc": 0.70})
    done = jupyter_mlops("register", first, "--name", "churn", "--alias", "champion", cwd=root)
    assert done.returncode == 0, done.stderr
    assert "Registered churn version 1" in done.stdout and "@champion" in done.stdout
    jupyter_mlops("register", second, "--name", "churn", cwd=root)

    listed = jupyter_mlops("models", "list", "--json", cwd=root)
    assert json.loads(listed.stdout)["models"][0]["name"] == "churn"
    shown = jupyter_mlops("models", "show", "churn", cwd=root)
    assert "latest version: 2" in shown.stdout and "roc_auc=0.8" in shown.stdout
    lineage = json.loads(
        jupyter_mlops("models", "show", "churn@champion", "--json", cwd=root).stdout
    )
    assert lineage["lineage"]["run_id"] == first
    compared = jupyter_mlops("models", "compare", "churn", "1", "2", cwd=root)
    assert "roc_auc" in compared.stdout and "v2" in compared.stdout

    # a failed gate: exit code 1, the reason, and the alias stays
    refused = jupyter_mlops(
        "promote", "churn", "2", "--to", "champion", "--require", "roc_auc>=champion", cwd=root
    )
    assert refused.returncode == 1
    assert "Not promoted" in refused.stdout and "off by 0.1" in refused.stdout
    accepted = jupyter_mlops(
        "promote", "churn", "2", "--to", "challenger", "--require", "roc_auc>0.5", cwd=root
    )
    assert accepted.returncode == 0 and "now @challenger" in accepted.stdout

    missing = jupyter_mlops("models", "show", "chrun", cwd=root)
    assert missing.returncode == 1 and "Did you mean churn?" in missing.stderr
    bad = jupyter_mlops("deploy", "churn@prod", cwd=root)
    assert bad.returncode == 1 and "no alias @prod" in bad.stderr


def test_deploy_predict_and_stop_from_terminal_and_notebook(
    workspace: Workspace, tmp_path: Path
) -> None:
    root = workspace.root
    workspace.registry.register(log_model_run(workspace), "churn")
    rows = pd.DataFrame({"tenure": [3, 40], "spend": [20.0, 70.0], "calls": [0.0, 5.0]})
    rows.to_parquet(root / "rows.parquet")
    deployed = jupyter_mlops("deploy", "churn:1", "--name", "churn-api", cwd=root)
    try:
        assert deployed.returncode == 0, deployed.stderr
        assert "state:" in deployed.stdout and "running" in deployed.stdout
        listed = jupyter_mlops("deployments", "list", cwd=root)
        assert "churn-api" in listed.stdout and "running" in listed.stdout
        predicted = jupyter_mlops(
            "predict", "churn-api", "--data", "rows.parquet", "--json", cwd=root
        )
        assert predicted.returncode == 0, predicted.stderr
        assert len(json.loads(predicted.stdout)["rows"]) == 2
        outside = jupyter_mlops("predict", "churn-api", "--data", "/etc/passwd", cwd=root)
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
        assert "prediction_1" in outputs_text(nb.cells[2])
        assert "requests" in outputs_text(nb.cells[3])
    finally:
        stopped = jupyter_mlops("deployments", "stop", "churn-api", cwd=root)
    assert stopped.returncode == 0 and "stopped" in stopped.stdout
