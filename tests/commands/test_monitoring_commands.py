"""monitor status|drift|metrics|quality|check|checks|events|feedback|scheduler and drift: in a
terminal and in a notebook (real kernel), against a real deployment."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

from jupyter_mlops import Workspace
from tests.conftest import log_model_run
from tests.helpers import Cli, jupyter_mlops, outputs_text, run_notebook


def frame(n: int, seed: int, spend_shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "tenure": rng.integers(1, 72, n).astype("int64"),
            "spend": rng.normal(50, 10, n) + spend_shift,
            "calls": rng.poisson(2, n).astype("float64"),
        }
    )


def test_monitor_commands_in_a_terminal_and_a_notebook(
    workspace: Workspace, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = workspace.root
    monkeypatch.chdir(root)  # paths given to commands are relative to where the user is
    cli = Cli(root, capsys).completed  # in process; the deploy goes through a terminal

    training = frame(2000, 0)
    workspace.registry.register(
        log_model_run(workspace, frame=training), "churn", training_data=training
    )
    deployed = jupyter_mlops("deploy", "churn:1", cwd=root)
    assert deployed.returncode == 0, deployed.stderr
    try:
        url = workspace.deployments.get("churn").url
        sent = frame(300, 1, spend_shift=25.0)
        ids = []
        with httpx.Client(base_url=url, timeout=30) as client:
            for i in range(0, 300, 3):
                rid = uuid.uuid4().hex
                part = sent.iloc[i : i + 3]
                body = {"dataframe_split": {"columns": list(part), "data": part.values.tolist()}}
                assert client.post("/invocations", json=body, headers={"x-request-id": rid})
                ids.append(rid)
        labels = pd.DataFrame({"request_id": ids, "row": 0, "label": 1})
        labels.to_csv(root / "labels.csv", index=False)

        fed = cli("monitor", "feedback", "churn", "--data", "labels.csv")
        assert fed.returncode == 0, fed.stderr
        assert "Recorded 100 feedback" in fed.stdout
        again = cli("monitor", "feedback", "churn", "--request-id", ids[0], "--label", "1")
        assert "Recorded 0" in again.stdout and "1 already recorded" in again.stdout
        unknown = cli("monitor", "feedback", "churn", "--request-id", "nope", "--label", "1")
        assert unknown.returncode == 1 and "nope" in unknown.stderr

        drift = cli("drift", "churn", "--last", "300")
        assert drift.returncode == 0, drift.stderr
        line = next(x for x in drift.stdout.splitlines() if x.strip().startswith("spend"))
        assert "True" in line
        as_json = json.loads(cli("drift", "churn", "--json").stdout)
        assert {f["feature"] for f in as_json["features"]} >= {"tenure", "spend", "calls"}

        metrics = cli("monitor", "metrics", "churn", "--window", "1h")
        assert metrics.returncode == 0 and "p95 ms" in metrics.stdout
        assert (
            json.loads(cli("monitor", "metrics", "churn", "--json").stdout)["overall"]["requests"]
            == 100
        )
        quality = cli("monitor", "quality", "churn")
        assert "100 of 300 predicted rows have feedback" in quality.stdout
        check = cli("monitor", "check", "churn")
        assert check.returncode == 0 and "spend" in check.stdout
        assert "feature_drift:spend" in cli("monitor", "status").stdout
        assert "spend" in cli("monitor", "events", "churn").stdout
        assert len(cli("monitor", "checks", "churn", "--json").stdout) > 10

        bad = cli("monitor", "drift", "churn", "--window", "soon")
        assert bad.returncode == 1 and "duration" in bad.stderr
        bad_test = cli("drift", "churn", "--test", "kolmogorov")
        assert bad_test.returncode == 1 and "ks" in bad_test.stderr
        missing = cli("monitor", "metrics", "chrun")
        assert missing.returncode == 1 and "churn" in missing.stderr

        nb = run_notebook(
            root / "monitor.ipynb",
            [
                "%load_ext jupyter_mlops",
                "report = %mlops drift churn --last 300\n"
                "type(report).__name__, report.drift_share > 0",
                "report.to_frame().set_index('feature').loc['spend', 'drifted']",
                "%mlops monitor status",
            ],
        )
        assert "('DriftReport', True)" in outputs_text(nb.cells[1]), outputs_text(nb.cells[1])
        assert "True" in outputs_text(nb.cells[2])
        assert "churn" in outputs_text(nb.cells[3])
    finally:
        jupyter_mlops("monitor", "scheduler", "stop", cwd=root)
        cli("deployments", "stop", "churn")
    assert "not running" in cli("monitor", "scheduler").stdout


def test_monitor_needs_a_deployment(workspace: Workspace, tmp_path: Path) -> None:
    shown = jupyter_mlops("monitor", "status", cwd=workspace.root)
    assert shown.returncode == 0 and "(no rows)" in shown.stdout
