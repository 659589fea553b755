"""Train and register the models the Models-panel browser test looks at, with real MLflow.

Run as a script (``python models_setup.py <workspace>``) after ``features_setup.py`` (the
training frame reads its ``customer_spend`` view), so that MLflow's global state and warnings
stay out of the pytest process. It makes, in experiment ``EXPERIMENT``:

- two runs that train a scikit-learn logistic regression on a point-in-time training frame
  (features ``customer_spend:v2:orders`` and ``avg_spend``), each logging the model with
  ``mlflow.sklearn.log_model``, the notebook it came from (snapshot artifact) and the git state
  of the workspace (a real repository: clean for the first run, dirty for the second);
  both are registered as versions 1 and 2 of ``MODEL``, v1 holding the ``champion`` alias;
- one more trained run, ``UNREGISTERED_RUN``, left for the test to register from the panel;
- one run that logged no model, ``NO_MODEL_RUN``, whose registration must fail.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from jupyter_mlops import Workspace
from jupyter_mlops.tracking.environment import git_state
from tests.browser.features_setup import SPEND_VIEW

EXPERIMENT = "churn-training"
MODEL = "churn"
NOTEBOOK = "notebooks/train_churn.ipynb"
FEATURES = ("orders", "avg_spend")
# Run name -> (C, roc_auc): v2 is better than v1, so a gate against the champion passes for v2
# and fails for v1.
REGISTERED_RUNS = {"logreg-c0.1": (0.1, 0.81), "logreg-c1": (1.0, 0.86)}
UNREGISTERED_RUN = "logreg-c10"
NO_MODEL_RUN = "baseline-no-model"
CHAMPION = "champion"


def write_notebook(root: Path, cell: str) -> Path:
    path = root / NOTEBOOK
    path.parent.mkdir(parents=True, exist_ok=True)
    notebook = {
        "cells": [
            {
                "cell_type": "code",
                "execution_count": 1,
                "id": "train",
                "metadata": {},
                "outputs": [],
                "source": cell,
            }
        ],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.write_text(json.dumps(notebook, indent=1), encoding="utf-8")
    return path


def git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=Test", "-c", "user.email=test@example.com", *args],
        cwd=root,
        check=True,
        capture_output=True,
    )


def training_frame(ws: Workspace) -> tuple[pd.DataFrame, pd.Series]:
    entities = pd.DataFrame(
        {
            "customer_id": [i % 10 + 1 for i in range(30)],
            "event_timestamp": pd.date_range("2026-01-05", periods=30, freq="13h"),
        }
    )
    frame = ws.features.get_training_frame(entities, [f"{SPEND_VIEW}:{name}" for name in FEATURES])
    X = frame[list(FEATURES)].astype("float64").fillna(0.0)
    y = ((X["orders"] + X["avg_spend"] / 20.0) > 4).astype(int)
    if y.nunique() < 2:  # both classes, whatever the data
        y.iloc[0] = 1 - y.iloc[0]
    return X, y


def train(ws: Workspace, run_name: str, c: float, roc_auc: float, notebook: Path) -> str:
    with ws.tracking.start_run(EXPERIMENT, run_name=run_name) as rec:
        rec.log_params({"C": c, "solver": "lbfgs"})
        rec.set_tags({"mlops.notebook": str(notebook), **git_state(ws.root)})
        with mlflow.start_run(run_id=rec.run_id):
            X, y = training_frame(ws)
            clf = LogisticRegression(C=c, random_state=0).fit(X, y)
            mlflow.sklearn.log_model(
                clf, name="model", input_example=X.head(3), pip_requirements=["scikit-learn"]
            )
            mlflow.log_artifact(str(notebook), "notebook")
        accuracy = float(np.mean(clf.predict(X) == y))
        rec.log_metrics({"roc_auc": roc_auc, "accuracy": accuracy})
        return rec.run_id


def main(root: Path) -> None:
    ws = Workspace.open(root)
    mlflow.set_tracking_uri(ws.tracking_uri)
    notebook = write_notebook(root, "model = LogisticRegression(C=C).fit(X, y)\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", NOTEBOOK)
    git(root, "commit", "-q", "-m", "Training notebook")

    for index, (run_name, (c, roc_auc)) in enumerate(REGISTERED_RUNS.items()):
        if index == 1:
            # An edit not committed yet: the second version's lineage says "dirty".
            write_notebook(root, "model = LogisticRegression(C=C, max_iter=200).fit(X, y)\n")
        run_id = train(ws, run_name, c, roc_auc, notebook)
        ws.registry.register(
            run_id,
            MODEL,
            description=f"Logistic regression, C={c}",
            aliases=[CHAMPION] if index == 0 else [],
        )
    train(ws, UNREGISTERED_RUN, 10.0, 0.84, notebook)
    with ws.tracking.start_run(EXPERIMENT, run_name=NO_MODEL_RUN) as rec:
        rec.log_metrics({"roc_auc": 0.5})


if __name__ == "__main__":
    main(Path(sys.argv[1]))
