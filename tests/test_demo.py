"""The README's main job: the demo workspace builds with real runs and a notebook execution."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from jupyter_mlops.demo import EXPERIMENT, SEEDS, SWEEP, build_demo


@pytest.mark.slow
def test_demo_builds_runs_and_executes_the_notebook(tmp_path: Path) -> None:
    ws, summary = build_demo(tmp_path / "demo")
    assert (ws.root / "data" / "customers.parquet").is_file()
    assert (ws.root / "notebooks" / "train_churn.ipynb").is_file()
    runs = ws.tracking.list_runs([EXPERIMENT], max_results=100).runs
    assert len(runs) == len(SWEEP) * len(SEEDS) + 1
    assert all(r.status == "FINISHED" for r in runs)
    assert all(0.6 < (r.metrics["roc_auc"] or 0) < 1 for r in runs)
    (from_notebook,) = [r for r in runs if r.run_name == "notebook-gbm"]
    assert from_notebook.params["n_estimators"] == "80"
    artifacts = MlflowClient(ws.tracking_uri).list_artifacts(from_notebook.run_id, "notebook")
    assert any(a.path.endswith(".ipynb") for a in artifacts)
    grouped = ws.tracking.compare(
        [r.run_id for r in runs if r.params.get("model") == "gbm"], group_by_seed=True
    )
    assert grouped.seed_param == "seed" and grouped.groups is not None
    assert len(grouped.groups) == 2  # the two swept gbm settings, three seeds each
    assert "runs in experiment 'churn'" in summary
