"""Set up (and remove) what the Pipelines-view browser test looks at, with the Python API.

Run as a script (``python pipelines_setup.py setup|cleanup <workspace>``) so that MLflow's global
state and warnings stay out of the pytest process, and so that it imports no browser tooling.
``setup`` makes, beside the other browser tests' things in their shared workspace:

- version 1 of ``MODEL`` (@champion), from a run in ``EXPERIMENT``: a pipeline names an existing
  model;
- ``NOTEBOOK``, a parameterised training notebook whose ``%%mlops run`` cell fits a small
  logistic regression, logs it as the run's model and records ``roc_auc = quality``;
- ``PIPELINE``, declared in ``pipelines/``, with a schedule trigger and one gate, applied.

The job workers are started first, so that they import and warm a kernel while the rest is set
up and the browser opens the lab. ``cleanup`` removes all of it, stops the job workers, and the
scheduler if ``setup`` started it.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
from pathlib import Path

MODEL = "ct-demo"
EXPERIMENT = "ct-demo-training"
PIPELINE = "ct-demo-retrain"
NOTEBOOK = "pipelines-demo/train.ipynb"
DECLARATION = f"pipelines/{PIPELINE}.py"
CRON = "0 3 * * 1"
GATE = "roc_auc>=0.5"
# Marks that `setup` started the workspace's scheduler (so `cleanup` stops it).
STARTED_SCHEDULER = ".mlops/ct-demo-started-scheduler"

TRAIN = f"""\
%%mlops run --experiment {EXPERIMENT} --no-autolog --params c --metrics roc_auc
import mlflow
import numpy as np
from sklearn.linear_model import LogisticRegression

x = np.arange(40, dtype="float64").reshape(20, 2)
y = (x[:, 0] > 19).astype(int)
clf = LogisticRegression(C=c).fit(x, y)
mlflow.sklearn.log_model(clf, name="model", pip_requirements=["scikit-learn"])
roc_auc = quality
"""

DECLARED = f"""\
from jupyter_mlops.pipelines import Pipeline, Schedule

retrain = Pipeline(
    name={PIPELINE!r},
    notebook={NOTEBOOK!r},
    model={MODEL!r},
    experiment={EXPERIMENT!r},
    parameters={{"c": 2.0}},
    gates=[{GATE!r}],
    triggers=[Schedule({CRON!r})],
    description="Retrains the demo model every Monday at 03:00",
)
"""


def setup(root: Path) -> None:
    import nbformat

    from jupyter_mlops import Workspace
    from tests.conftest import log_model_run

    ws = Workspace.open(root)
    ws.jobs.ensure_workers()
    was_running = ws.monitoring.scheduler_state().running
    run = log_model_run(ws, experiment=EXPERIMENT, c=0.1)
    ws.registry.register(run, MODEL, aliases=["champion"])
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nb.cells = [
        nbformat.v4.new_code_cell("c = 1.0\nquality = 0.9", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("%load_ext jupyter_mlops"),
        nbformat.v4.new_code_cell(TRAIN),
    ]
    (root / NOTEBOOK).parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, root / NOTEBOOK)
    (root / DECLARATION).parent.mkdir(parents=True, exist_ok=True)
    (root / DECLARATION).write_text(DECLARED, encoding="utf-8")
    plan = ws.pipelines.apply()
    assert [c.action for c in plan.changes if c.name == PIPELINE] == ["create"], str(plan)
    if not was_running:
        (root / STARTED_SCHEDULER).write_text("1")


def cleanup(root: Path) -> None:
    from jupyter_mlops import Workspace

    ws = Workspace.open(root)
    for run in ws.pipelines.runs().runs:
        if run.pipeline == PIPELINE and run.state not in ("succeeded", "failed", "cancelled"):
            ws.pipelines.cancel_run(run.id)
    (root / DECLARATION).unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        (root / DECLARATION).parent.rmdir()  # only if no other declaration is there
    ws.pipelines.apply()
    ws.jobs.stop_workers()
    marker = root / STARTED_SCHEDULER
    if marker.exists():
        ws.monitoring.stop_scheduler()
        marker.unlink()
    client = ws.registry.client
    if any(m.name == MODEL for m in client.search_registered_models()):
        client.delete_registered_model(MODEL)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    if experiment is not None:
        client.delete_experiment(experiment.experiment_id)
    shutil.rmtree(root / Path(NOTEBOOK).parent, ignore_errors=True)


if __name__ == "__main__":
    {"setup": setup, "cleanup": cleanup}[sys.argv[1]](Path(sys.argv[2]))
