"""Shared fixtures: a fresh workspace on a temporary SQLite MLflow store, and runs in it."""

from __future__ import annotations

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
