"""Log the runs the browser tests look at, with plain MLflow, into a workspace's database.

Run as a script (``python log_runs.py <workspace>``) so that MLflow's global state and warnings
stay out of the pytest process. Experiment "churn": two ``max_depth`` settings x three seeds
(``random_state``), a final ``accuracy`` and a 20-step ``loss`` history per run, declaring
``max_depth`` and ``accuracy`` as ``%%mlops run --params/--metrics`` does; the last run logs a
model (``MODEL_RUN``). Experiment
"paging": ``PAGING_RUNS`` small runs, more than two pages of the panel.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import mlflow
from mlflow.entities import Metric, Param
from mlflow.tracking import MlflowClient

from jupyter_mlops.tracking.columns import declared_tags

SETTINGS = (3, 8)
SEEDS = (0, 1, 2)
STEPS = 20
PAGING_RUNS = 120
#: What the churn runs declare, as the ``%%mlops run`` cell's tags record it.
DECLARED_PARAMS = ("max_depth",)
DECLARED_METRICS = ("accuracy",)


def run_name(max_depth: int, seed: int) -> str:
    return f"depth{max_depth}-seed{seed}"


MODEL_RUN = run_name(SETTINGS[-1], SEEDS[-1])


def log_model() -> None:
    """A small fitted model on the active run (its page shows it)."""
    import mlflow.sklearn
    import numpy as np
    from sklearn.dummy import DummyClassifier

    x = np.arange(20, dtype="float64").reshape(10, 2)
    clf = DummyClassifier(strategy="prior").fit(x, [0, 1] * 5)
    mlflow.sklearn.log_model(clf, name="model", pip_requirements=["scikit-learn"])


def paging_run_name(index: int) -> str:
    return f"run-{index:03d}"


def log_paging_runs(workspace: Path) -> None:
    client = MlflowClient()
    experiment_id = client.create_experiment(
        "paging", artifact_location=(workspace / ".mlops" / "artifacts").as_uri()
    )
    for index in range(PAGING_RUNS):
        run = client.create_run(experiment_id, run_name=paging_run_name(index))
        client.log_batch(
            run.info.run_id,
            metrics=[Metric("score", index / PAGING_RUNS, 0, 0)],
            params=[Param("index", str(index))],
        )
        client.set_terminated(run.info.run_id)


def main(workspace: Path) -> None:
    mlflow.set_tracking_uri(f"sqlite:///{workspace / '.mlops' / 'mlflow.db'}")
    log_paging_runs(workspace)
    if mlflow.get_experiment_by_name("churn") is None:
        # Keep artifacts inside the workspace, not in a ./mlruns beside the caller.
        mlflow.create_experiment(
            "churn", artifact_location=(workspace / ".mlops" / "artifacts").as_uri()
        )
    mlflow.set_experiment("churn")
    for max_depth in SETTINGS:
        for seed in SEEDS:
            with mlflow.start_run(run_name=run_name(max_depth, seed)):
                mlflow.log_params(
                    {"max_depth": max_depth, "random_state": seed, "n_estimators": 100}
                )
                base = 0.80 if max_depth == 3 else 0.88
                for step in range(STEPS):
                    loss = (1.0 - base / 2) * math.exp(-step / (4 + max_depth)) + 0.01 * seed
                    mlflow.log_metric("loss", loss, step=step)
                mlflow.log_metric("accuracy", base + 0.01 * seed)
                mlflow.set_tags(declared_tags(DECLARED_PARAMS, DECLARED_METRICS))
                if run_name(max_depth, seed) == MODEL_RUN:
                    log_model()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
