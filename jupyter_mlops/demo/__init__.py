"""The demo workspace: a churn dataset, a training notebook and a sweep of real runs.

``jupyter mlops demo DIR`` builds it, then starts JupyterLab on it. Everything is generated here;
nothing is downloaded.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_mlops.workspace import Workspace

if TYPE_CHECKING:
    import pandas as pd

EXPERIMENT = "churn"
NOTEBOOK = "train_churn.ipynb"
FEATURES = [
    "tenure_months",
    "monthly_spend",
    "support_calls",
    "num_products",
    "days_since_login",
    "contract_months",
    "autopay",
]
# (model, parameters) settings of the sweep; each runs with three seeds.
SWEEP: list[tuple[str, dict[str, Any]]] = [
    ("gbm", {"n_estimators": 60, "learning_rate": 0.1, "max_depth": 2}),
    ("gbm", {"n_estimators": 60, "learning_rate": 0.3, "max_depth": 3}),
    ("logreg", {"C": 0.1}),
    ("logreg", {"C": 10.0}),
]
SEEDS = (0, 1, 2)


def customers(n: int = 6000, seed: int = 7) -> pd.DataFrame:
    """A synthetic customer table with a churn label driven by plausible effects."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    tenure = rng.gamma(2.0, 14.0, n).round().astype("int64") + 1
    contract = rng.choice([1, 12, 24], size=n, p=[0.55, 0.3, 0.15])
    products = rng.poisson(1.2, n) + 1
    spend = (rng.normal(45, 15, n) + 12 * products).clip(10, None).round(2)
    calls = rng.poisson(1.0 + 1.5 * (contract == 1), n)
    login = rng.exponential(12, n).round().astype("int64")
    autopay = rng.random(n) < 0.45
    logit = (
        -1.2
        - 0.045 * tenure
        + 0.55 * calls
        + 0.02 * (spend - 60)
        + 0.035 * login
        - 0.08 * contract
        - 0.6 * autopay
        - 0.25 * (products - 1)
    )
    churned = rng.random(n) < 1 / (1 + np.exp(-logit))
    start = pd.Timestamp("2026-01-01", tz="UTC")
    return pd.DataFrame(
        {
            "customer_id": np.arange(100_000, 100_000 + n, dtype="int64"),
            "snapshot_time": start + pd.to_timedelta(rng.integers(0, 300, n), unit="D"),
            "tenure_months": tenure,
            "monthly_spend": spend,
            "support_calls": calls.astype("int64"),
            "num_products": products.astype("int64"),
            "days_since_login": login,
            "contract_months": contract.astype("int64"),
            "autopay": autopay,
            "churned": churned,
        }
    )


def train_and_log(
    ws: Workspace, frame: pd.DataFrame, model: str, params: dict[str, Any], seed: int
) -> str:
    """Train one model on ``frame`` and log it as a run; returns the run id."""
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, log_loss, roc_auc_score
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x = frame[FEATURES].astype("float64")
    y = frame["churned"].astype("int64")
    x_train, x_val, y_train, y_val = train_test_split(
        x, y, test_size=0.25, random_state=seed, stratify=y
    )
    short = {"n_estimators": "n", "learning_rate": "lr", "max_depth": "depth"}
    name = "-".join([model, *(f"{short.get(k, k)}{v}" for k, v in params.items()), f"seed{seed}"])
    with ws.tracking.start_run(EXPERIMENT, run_name=name) as rec:
        rec.log_params({"model": model, **params, "seed": seed})
        rec.set_tags({"mlops.origin": "demo"})
        if model == "gbm":
            clf: Any = GradientBoostingClassifier(random_state=seed, subsample=0.8, **params)
            clf.fit(x_train, y_train)
            for step, proba in enumerate(clf.staged_predict_proba(x_val)):
                rec.log_metric("val_log_loss", log_loss(y_val, proba[:, 1]), step=step)
                rec.log_metric("val_roc_auc", roc_auc_score(y_val, proba[:, 1]), step=step)
        else:
            clf = make_pipeline(StandardScaler(), LogisticRegression(C=params["C"], max_iter=500))
            clf.fit(x_train, y_train)
        proba = clf.predict_proba(x_val)[:, 1]
        rec.log_metrics(
            {
                "roc_auc": roc_auc_score(y_val, proba),
                "accuracy": accuracy_score(y_val, proba > 0.5),
                "log_loss": log_loss(y_val, proba),
            }
        )
        return rec.run_id


def execute_notebook(ws: Workspace, parameters: dict[str, Any]) -> Path:
    """Run the training notebook with papermill, as a scheduled job would."""
    import papermill

    notebook = ws.root / "notebooks" / NOTEBOOK
    out_dir = ws.state_dir / "executions"
    out_dir.mkdir(parents=True, exist_ok=True)
    output = out_dir / f"{notebook.stem}-{time.strftime('%Y%m%d-%H%M%S')}.ipynb"
    previous = os.environ.get("JPY_SESSION_NAME")
    # The kernel learns its notebook from this variable, as under Jupyter Server.
    os.environ["JPY_SESSION_NAME"] = str(output)
    try:
        papermill.execute_notebook(
            str(notebook),
            str(output),
            parameters=parameters,
            cwd=str(notebook.parent),
            kernel_name="python3",
            progress_bar=False,
        )
    finally:
        if previous is None:
            os.environ.pop("JPY_SESSION_NAME", None)
        else:
            os.environ["JPY_SESSION_NAME"] = previous
    return output


def build_demo(root: Path, *, notebook_run: bool = True) -> tuple[Workspace, str]:
    """Build (or rebuild the runs of) the demo workspace in ``root``."""
    started = time.perf_counter()
    ws = Workspace.init(root)
    data = ws.root / "data"
    data.mkdir(exist_ok=True)
    frame = customers()
    frame.to_parquet(data / "customers.parquet", index=False)
    notebooks = ws.root / "notebooks"
    notebooks.mkdir(exist_ok=True)
    source = resources.files("jupyter_mlops.demo").joinpath(NOTEBOOK)
    target = notebooks / NOTEBOOK
    if not target.exists():
        with resources.as_file(source) as path:
            shutil.copyfile(path, target)
    count = 0
    for model, params in SWEEP:
        for seed in SEEDS:
            train_and_log(ws, frame, model, params, seed)
            count += 1
    if notebook_run:
        execute_notebook(ws, {"n_estimators": 80, "learning_rate": 0.2, "max_depth": 3, "seed": 0})
        count += 1
    elapsed = time.perf_counter() - started
    summary = (
        f"Demo workspace in {ws.root}: {len(frame):,} customers in data/customers.parquet, "
        f"{count} runs in experiment '{EXPERIMENT}' ({elapsed:.0f} s).\n"
        f"Open notebooks/{NOTEBOOK}, or the MLOps sidebar in JupyterLab."
    )
    return ws, summary


def start_lab(ws: Workspace, port: int = 8888) -> None:
    """Replace this process with JupyterLab on the workspace (loopback only)."""
    env = {**os.environ, "MLOPS_WORKSPACE": str(ws.root)}
    argv = [
        sys.executable,
        "-m",
        "jupyterlab",
        f"--ServerApp.root_dir={ws.root}",
        f"--port={port}",
        "--ip=127.0.0.1",
        # The company network may have no internet: no news feed, no update check.
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        f"notebooks/{NOTEBOOK}",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        argv.append("--allow-root")
    os.chdir(ws.root)
    os.execve(sys.executable, argv, env)
