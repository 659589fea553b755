"""Shared fixtures: a fresh workspace on a temporary SQLite MLflow store, and runs in it."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from jupyter_mlops import Workspace

pytest_plugins = ["pytest_jupyter.jupyter_server"]


@pytest.fixture(autouse=True)
def _no_workspace_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # A developer's MLOPS_WORKSPACE must not leak into tests.
    monkeypatch.delenv("MLOPS_WORKSPACE", raising=False)
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    logging.getLogger("mlflow").setLevel(logging.WARNING)


@pytest.fixture(autouse=True, scope="session")
def _stop_schedulers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Deploying through a face starts the workspace's monitoring scheduler (it exits a minute
    after its last deployment stops), and submitting a job starts job workers (they exit when
    idle); at the end of the session stop any a test left running."""
    yield
    import os
    import signal

    base = str(tmp_path_factory.getbasetemp())
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            args = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        ours = (
            b"jupyter_mlops.commands.scheduler" in args
            or b"jupyter_mlops.commands.jobworker" in args
        )
        if ours and any(a.decode(errors="replace").startswith(base) for a in args):
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(proc.name), signal.SIGTERM)


@pytest.fixture
def workspace_dir(tmp_path: Path) -> Path:
    """The folder of the test's workspace; override to put it elsewhere."""
    return tmp_path / "ws"


@pytest.fixture
def workspace(workspace_dir: Path) -> Iterator[Workspace]:
    """A new workspace with the embedded defaults (SQLite MLflow store in .mlops/)."""
    ws = Workspace.init(workspace_dir)
    yield ws
    if "client" in ws.tracking.__dict__:
        # Release the SQLite engine so the temporary folder can go.

        engine = ws.tracking.sql_engine
        if engine is not None:
            engine.dispose()


def log_sweep(
    ws: Workspace,
    experiment: str = "churn",
    settings: tuple[float, ...] = (0.1, 0.3),
    seeds: tuple[int, ...] = (0, 1, 2),
    steps: int = 20,
) -> list[str]:
    """Log one run per (setting, seed) with a loss history and an accuracy; return run ids."""
    ids = []
    for lr in settings:
        for seed in seeds:
            with ws.tracking.start_run(experiment, run_name=f"lr{lr}-seed{seed}") as rec:
                rec.log_params({"lr": lr, "random_state": seed, "model": "gbm"})
                for step in range(steps):
                    rec.log_metric("loss", 1.0 / (step + 1) + lr + seed * 0.01, step=step)
                rec.log_metric("accuracy", 0.8 + lr / 10 + seed * 0.01)
                ids.append(rec.run_id)
    return ids


@pytest.fixture
def sweep(workspace: Workspace) -> list[str]:
    """Six runs in experiment 'churn': lr in (0.1, 0.3) x random_state in (0, 1, 2)."""
    return log_sweep(workspace)


def log_model_run(
    ws: Workspace,
    *,
    experiment: str = "churn",
    c: float = 1.0,
    metrics: dict[str, float] | None = None,
    frame: object | None = None,
) -> str:
    """Train a logistic regression on three numeric columns (``tenure`` is an integer), log it
    as the run's model with a signature and input example, and return the run id."""
    import mlflow
    import numpy as np
    import pandas as pd
    from mlflow.tracking._tracking_service import utils
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    x = (
        frame
        if isinstance(frame, pd.DataFrame)
        else pd.DataFrame(
            {
                "tenure": rng.integers(1, 72, 300).astype("int64"),
                "spend": rng.normal(50, 10, 300),
                "calls": rng.poisson(2, 300).astype("float64"),
            }
        )
    )
    y = (x.iloc[:, 0] > x.iloc[:, 0].median()).astype(int)
    clf = LogisticRegression(C=c, max_iter=500).fit(x, y)
    previous = getattr(utils, "_tracking_uri", None)
    with ws.tracking.start_run(experiment, run_name=f"logreg-C{c}") as rec:
        mlflow.set_tracking_uri(ws.tracking_uri)
        try:
            with mlflow.start_run(run_id=rec.run_id):
                mlflow.sklearn.log_model(
                    clf,
                    name="model",
                    input_example=x.head(3),
                    pyfunc_predict_fn="predict_proba",
                    pip_requirements=["scikit-learn"],
                )
        finally:
            utils._tracking_uri = previous
        rec.log_params({"C": c})
        rec.log_metrics(metrics or {"roc_auc": 0.8, "log_loss": 0.4})
    return rec.run_id


@pytest.fixture(scope="module")
def models_workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """A workspace (shared by a test module) with model ``churn`` v1 (roc_auc 0.80, @champion)
    and v2 (roc_auc 0.85) registered from real logged sklearn models."""
    ws = Workspace.init(tmp_path_factory.mktemp("models") / "ws")
    first = log_model_run(ws, c=0.1, metrics={"roc_auc": 0.80, "log_loss": 0.45})
    second = log_model_run(ws, c=10.0, metrics={"roc_auc": 0.85, "log_loss": 0.40})
    ws.registry.register(first, "churn", aliases=["champion"])
    ws.registry.register(second, "churn")
    yield ws
    for d in ws.deployments.list():
        if d.state not in {"stopped", "failed"}:
            ws.deployments.stop(d.name)
    engine = ws.tracking.sql_engine
    if engine is not None:
        engine.dispose()
