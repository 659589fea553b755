"""The demo workspace: churn data served through feature views, a training notebook, real runs.

``jupyter mlops demo DIR`` builds it, then starts JupyterLab on it. Everything is generated here;
nothing is downloaded. What it holds:

- ``data/customer_profile.parquet`` (a snapshot per customer each time the contract, products or
  autopay change) and ``data/customer_activity.parquet`` (a monthly snapshot of spend, support
  calls and days since the last login), with event timestamps, over the last year;
- ``features/churn_features.py``, the ``customer`` entity and the ``customer_profile`` and
  ``customer_activity`` views over those files, applied and materialized to the online store;
- ``data/churn_labels.parquet``: one labelled moment per customer (``customer_id``,
  ``label_time``, ``churned``). Churn depends on the features' values *at* ``label_time``, so the
  training set must be point-in-time correct: every run builds it with ``get_training_frame``;
- a sweep of runs, made by running ``notebooks/sweep_churn.ipynb`` (each run tagged with the
  feature versions it used, with its logged model, the notebook's executed copy and the commit);
- the best run registered as model ``churn`` (@champion) and deployed on 127.0.0.1 as deployment
  ``churn``, which has answered a few hundred requests sent with customer ids only;
- ``pipelines/churn_retrain.py``, the pipeline of continuous training: drifted traffic sent to the
  deployment raises a monitoring alert, and the pipeline runs ``notebooks/train_churn.ipynb`` as a
  job (papermill), gates the run, registers it as ``churn`` v2 @challenger and starts a 50/50 A/B
  test against the champion, whose outcomes are then simulated with a known effect.

Without a deployment (``deploy=False``) the notebook runs once as a plain job instead.

Times are relative to the day the demo is built (the data ends then), so the online store serves
fresh values; the values themselves are the same on every build.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_mlops.lineage.tags import NOTEBOOK_ARTIFACT_DIR, NOTEBOOK_TAG, ORIGIN_TAG
from jupyter_mlops.timestamps import utc_now
from jupyter_mlops.tracking.environment import environment_tags, notebook_path
from jupyter_mlops.tracking.notebook_run import log_notebook, source_tags
from jupyter_mlops.workspace import Workspace

if TYPE_CHECKING:
    import pandas as pd

    from jupyter_mlops.pipelines.schemas import PipelineRun

EXPERIMENT = "churn"
NOTEBOOK = "train_churn.ipynb"
#: The notebook that makes the sweep's runs (see ``SWEEP``).
SWEEP_NOTEBOOK = "sweep_churn.ipynb"
DEFINITIONS = "churn_features.py"
LABELS = "data/churn_labels.parquet"
# The model's inputs, as feature references; the training frame names its columns by feature.
FEATURE_REFS = [
    "customer_profile:tenure_months",
    "customer_activity:monthly_spend",
    "customer_activity:support_calls",
    "customer_profile:num_products",
    "customer_activity:days_since_login",
    "customer_profile:contract_months",
    "customer_profile:autopay",
]
FEATURES = [ref.split(":")[-1] for ref in FEATURE_REFS]
VIEWS = ["customer_profile", "customer_activity"]
MODEL = "churn"
# (model, parameters) settings of the sweep; each runs with three seeds.
SWEEP: list[tuple[str, dict[str, Any]]] = [
    ("gbm", {"n_estimators": 60, "learning_rate": 0.1, "max_depth": 2}),
    ("gbm", {"n_estimators": 60, "learning_rate": 0.3, "max_depth": 3}),
    ("logreg", {"C": 0.1}),
    ("logreg", {"C": 10.0}),
]
SEEDS = (0, 1, 2)
#: The training notebook's parameters when the demo's pipeline runs it as a job.
NOTEBOOK_PARAMETERS: dict[str, Any] = {
    "n_estimators": 60,
    "learning_rate": 0.1,
    "max_depth": 2,
    "seed": 0,
}
PIPELINE = "churn-retrain"
PIPELINE_FILE = "churn_retrain.py"
DAYS = 360  # how far back the data goes
MONTHS = 12  # activity snapshots per customer, 30 days apart

DEFINITIONS_SOURCE = '''"""Feature definitions of the churn demo.

Change a view and run `%mlops features plan` / `apply` (or `ws.features.apply()`): a change of
its features, source or TTL makes a new version; runs keep the versions they were trained on.
"""

from jupyter_mlops.features import Entity, FeatureView, Field, ParquetSource

customer = Entity("customer", ["customer_id"], description="A subscriber.")

customer_profile = FeatureView(
    name="customer_profile",
    entities=[customer],
    source=ParquetSource(path="data/customer_profile.parquet"),
    timestamp_field="event_timestamp",
    features=[
        Field("tenure_months", "int64", "Months since the customer signed up."),
        Field("contract_months", "int64", "Contract length: 1, 12 or 24 months."),
        Field("num_products", "int64", "Products subscribed."),
        Field("autopay", "bool", "Pays by automatic debit."),
    ],
    ttl="365d",
    description="The customer's contract, one snapshot each time it changes.",
    owner="crm",
)

customer_activity = FeatureView(
    name="customer_activity",
    entities=[customer],
    source=ParquetSource(path="data/customer_activity.parquet"),
    timestamp_field="event_timestamp",
    features=[
        Field("monthly_spend", "float64", "Spend over the last month."),
        Field("support_calls", "int64", "Support calls over the last month."),
        Field("days_since_login", "int64", "Days since the last login."),
    ],
    ttl="45d",
    description="Monthly activity snapshot.",
    owner="analytics",
)
'''


PIPELINE_SOURCE = '''"""Continuous training of the churn model.

When monitoring sees the deployment's inputs drift (or its quality drop), and every Monday at
03:00 UTC, the training notebook runs as a job; a model that passes the gate is registered as a
new version of `churn`, aliased @challenger, and A/B-tested against the champion, 50/50.
Change it, then `%mlops pipelines plan` / `apply`; `%mlops pipelines show churn-retrain` lists
its runs, and `%mlops lineage churn@challenger` shows why a version exists.
"""

from jupyter_mlops.pipelines import ABTest, OnAlert, Pipeline, Schedule

churn_retrain = Pipeline(
    name="churn-retrain",
    notebook="notebooks/train_churn.ipynb",
    model="churn",
    parameters={"n_estimators": 60, "learning_rate": 0.1, "max_depth": 2, "seed": 0},
    # No worse than the champion by more than 0.03 of AUC, and never below 0.8.
    gates=["roc_auc>=champion-0.03", "roc_auc>=0.8"],
    triggers=[
        OnAlert("churn", alerts=["drift_share", "feature_drift", "quality"]),
        Schedule("0 3 * * 1"),
    ],
    abtest=ABTest("churn", split=[50, 50], metric="offer_accepted"),
    description="Retrain the churn model when its inputs drift; A/B-test what passes.",
)
'''


def churn_data(n: int = 6000, seed: int = 7) -> dict[str, pd.DataFrame]:
    """Synthetic profile and activity snapshots and churn labels (``profile``, ``activity``,
    ``labels``), ending today (UTC midnight).

    Churn at ``label_time`` is driven by plausible effects of the features' values at that time;
    values change over time, so features taken from after ``label_time`` would mislead a model.
    """
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    end = pd.Timestamp.now("UTC").floor("D")
    start = end - pd.Timedelta(days=DAYS)
    ids = np.arange(100_000, 100_000 + n, dtype="int64")

    # Profile: signed up before the window; changes twice, 60-150 days apart.
    tenure0 = rng.gamma(2.0, 14.0, n).round().astype("int64") + 1
    contract = rng.choice([1, 12, 24], size=n, p=[0.55, 0.3, 0.15]).astype("int64")
    products = (rng.poisson(1.2, n) + 1).astype("int64")
    autopay = rng.random(n) < 0.45
    offset = rng.uniform(0, 20, n)
    profile_parts = []
    for k in range(3):
        if k:
            offset = offset + rng.uniform(60, 150, n)
            upgrade = rng.random(n) < 0.25
            contract = np.where(upgrade & (contract == 12), 24, contract)
            contract = np.where(upgrade & (contract == 1), 12, contract)
            products = np.clip(products + rng.choice([-1, 0, 0, 1], size=n), 1, None)
            autopay = np.where(rng.random(n) < 0.15, ~autopay, autopay)
        profile_parts.append(
            pd.DataFrame(
                {
                    "customer_id": ids,
                    "event_timestamp": start + pd.to_timedelta(offset, unit="D").round("s"),
                    "tenure_months": tenure0 + (offset // 30).astype("int64"),
                    "contract_months": contract,
                    "num_products": products,
                    "autopay": autopay,
                }
            )
        )
    profile = pd.concat(profile_parts, ignore_index=True)

    # Activity: a snapshot every 30 days; some customers drift towards churn, others away.
    level = rng.normal(45, 15, n) + 12 * profile_parts[0]["num_products"].to_numpy()
    calls_rate = 1.0 + 1.5 * (profile_parts[0]["contract_months"].to_numpy() == 1)
    drift = rng.normal(0, 0.08, n)
    first = rng.uniform(0, 30, n)
    activity = pd.concat(
        [
            pd.DataFrame(
                {
                    "customer_id": ids,
                    "event_timestamp": start + pd.to_timedelta(first + 30 * k, unit="D").round("s"),
                    "monthly_spend": (level + rng.normal(0, 6, n)).clip(10, None).round(2),
                    "support_calls": rng.poisson(calls_rate * np.exp(drift * k)).astype("int64"),
                    "days_since_login": rng.exponential(12 * np.exp(drift * k))
                    .round()
                    .astype("int64"),
                }
            )
            for k in range(MONTHS)
        ],
        ignore_index=True,
    )

    # One labelled moment per customer, after its first snapshots.
    labels = pd.DataFrame(
        {
            "customer_id": ids,
            "label_time": start
            + pd.to_timedelta(rng.uniform(60, DAYS - 5, n), unit="D").round("s"),
        }
    )
    asof = labels.sort_values("label_time")
    for table in (profile, activity):
        asof = pd.merge_asof(
            asof,
            table.sort_values("event_timestamp"),
            left_on="label_time",
            right_on="event_timestamp",
            by="customer_id",
        ).drop(columns="event_timestamp")
    asof = asof.set_index("customer_id").loc[ids]
    logit = (
        -1.2
        - 0.045 * asof["tenure_months"]
        + 0.55 * asof["support_calls"]
        + 0.02 * (asof["monthly_spend"] - 60)
        + 0.035 * asof["days_since_login"]
        - 0.08 * asof["contract_months"]
        - 0.6 * asof["autopay"].astype("float64")
        - 0.25 * (asof["num_products"] - 1)
    ).to_numpy(dtype="float64")
    labels["churned"] = rng.random(n) < 1 / (1 + np.exp(-logit))
    return {"profile": profile, "activity": activity, "labels": labels}


@contextmanager
def tracked_by_mlflow(ws: Workspace, run_id: str) -> Iterator[None]:
    """Make ``run_id`` MLflow's active run, as ``%%mlops run`` does, so that training frames
    built meanwhile record their feature versions on it."""
    import mlflow
    from mlflow.tracking._tracking_service import utils

    # Restored after: the calling process's MLflow set-up is its own (None: MLflow's default).
    previous = getattr(utils, "_tracking_uri", None)
    mlflow.set_tracking_uri(ws.tracking_uri)
    try:
        with mlflow.start_run(run_id=run_id):
            yield
    finally:
        if hasattr(utils, "_tracking_uri"):
            utils._tracking_uri = previous


def train_and_log(
    ws: Workspace, labels: pd.DataFrame, model: str, params: dict[str, Any], seed: int
) -> str:
    """Build the training set from the feature store, train one model and log it as a run.

    Called from a notebook (``notebooks/sweep_churn.ipynb``), the run records it (as Jupyter
    Server names it to the kernel), its state in git and the commit, and a snapshot as saved.
    """
    import sklearn
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, log_loss, roc_auc_score
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    short = {"n_estimators": "n", "learning_rate": "lr", "max_depth": "depth"}
    name = "-".join([model, *(f"{short.get(k, k)}{v}" for k, v in params.items()), f"seed{seed}"])
    with ws.tracking.start_run(EXPERIMENT, run_name=name) as rec:
        with tracked_by_mlflow(ws, rec.run_id):
            frame = ws.features.get_training_frame(
                labels, FEATURE_REFS, timestamp_column="label_time"
            )
        x = frame[FEATURES].astype("float64")
        y = frame["churned"].astype("int64")
        x_train, x_val, y_train, y_val = train_test_split(
            x, y, test_size=0.25, random_state=seed, stratify=y
        )
        rec.log_params({"model": model, **params, "seed": seed})
        notebook = notebook_path()
        record_git = ws.tracking.run_config.record_git
        rec.set_tags(
            {
                ORIGIN_TAG: "demo",
                **environment_tags(),
                **source_tags(ws.root, notebook, git=record_git),
            }
        )
        if model == "gbm":
            clf: Any = GradientBoostingClassifier(random_state=seed, subsample=0.8, **params)
            clf.fit(x_train, y_train)
            # 120 metric calls per run: scikit-learn's argument checks were most of their time
            # (1.3 s of a 3.5 s run); the inputs are ours and known to be valid.
            with sklearn.config_context(skip_parameter_validation=True):
                for step, proba in enumerate(clf.staged_predict_proba(x_val)):
                    rec.log_metric("val_log_loss", log_loss(y_val, proba[:, 1]), step=step)
                    rec.log_metric("val_roc_auc", roc_auc_score(y_val, proba[:, 1]), step=step)
        else:
            clf = make_pipeline(StandardScaler(), LogisticRegression(C=params["C"], max_iter=500))
            clf.fit(x_train, y_train)
        with tracked_by_mlflow(ws, rec.run_id):
            log_sklearn_model(clf, x_train)
        proba = clf.predict_proba(x_val)[:, 1]
        rec.log_metrics(
            {
                "roc_auc": roc_auc_score(y_val, proba),
                "accuracy": accuracy_score(y_val, proba > 0.5),
                "log_loss": log_loss(y_val, proba),
            }
        )
        if notebook is not None and ws.tracking.run_config.snapshot_notebook:
            log_notebook(rec, notebook)
        return rec.run_id


def run_sweep(ws: Workspace, timeout: float = 900) -> list[str]:
    """Run ``notebooks/sweep_churn.ipynb`` with nbclient, as ``jupyter nbconvert --execute``
    does (a kernel in the notebook's folder), and keep its executed copy with each of its runs.

    The kernel is told its notebook as Jupyter Server tells one (``JPY_SESSION_NAME``), so its
    runs record the notebook and its commit. Returns the ids of the runs it made.
    """
    import nbformat
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError
    from traitlets.config import Config

    from jupyter_mlops.errors import MlopsError
    from jupyter_mlops.jobs.worker import kernel_encryption

    path = ws.root / "notebooks" / SWEEP_NOTEBOOK
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        config=Config({"KernelManager": kernel_encryption(KernelManager)}),
    )
    since = int(time.time() * 1000)
    try:
        client.execute(env={**os.environ, "JPY_SESSION_NAME": str(path)})
    except CellExecutionError as exc:
        raise MlopsError(
            f"The demo's sweep notebook notebooks/{SWEEP_NOTEBOOK} failed: {exc.ename}: "
            f"{exc.evalue}",
            hint="Open the notebook in JupyterLab and run it to see the failing cell.",
        ) from None
    quoted = f"notebooks/{SWEEP_NOTEBOOK}"
    page = ws.tracking.list_runs(
        [EXPERIMENT], filter=f"tags.`{NOTEBOOK_TAG}` = '{quoted}'", max_results=200
    )
    run_ids = [r.run_id for r in page.runs if (r.start_time or 0) >= since]
    with tempfile.TemporaryDirectory() as tmp:
        executed = Path(tmp) / SWEEP_NOTEBOOK
        nbformat.write(nb, executed)
        for run_id in run_ids:
            ws.tracking.client.log_artifact(run_id, str(executed), NOTEBOOK_ARTIFACT_DIR)
    return run_ids


def log_sklearn_model(clf: Any, x_train: pd.DataFrame) -> None:
    """Log the fitted model on the active run, predicting churn probabilities.

    The requirements are given rather than inferred (inference imports the model in a fresh
    process, seconds per run); the input example gives the signature and the server's smoke
    request.
    """
    import warnings

    import mlflow.sklearn

    with warnings.catch_warnings():
        # MLflow's advice on integer columns does not apply: the inputs are float64.
        warnings.simplefilter("ignore", UserWarning)
        mlflow.sklearn.log_model(
            clf,
            name="model",
            input_example=x_train.head(3),
            pyfunc_predict_fn="predict_proba",
            pip_requirements=_requirements(),
            # We trained the trees ourselves; skops asks before it stores tree node arrays.
            skops_trusted_types=["sklearn.tree._tree.Tree"]
            if hasattr(clf, "estimators_")
            else None,
        )


def _requirements() -> list[str]:
    from importlib.metadata import version

    return [f"{name}=={version(name)}" for name in ("scikit-learn", "numpy", "pandas", "scipy")]


def register_and_deploy(ws: Workspace, traffic: int = 200, *, deploy: bool = True) -> str | None:
    """Register the best run as ``churn`` (@champion), deploy it and send it traffic.

    The deployment is called as a backend would: with customer ids only; the server looks the
    features up in the online store. Returns the deployment's URL (None with ``deploy=False``).
    """
    import httpx

    page = ws.tracking.list_runs([EXPERIMENT], order_by=["metrics.roc_auc DESC"], max_results=1)
    best = page.runs[0]
    version = ws.registry.register(
        best.run_id, MODEL, description=f"best roc_auc of the demo sweep ({best.run_name})"
    )
    ws.registry.promote(MODEL, version.version, "champion", require=["roc_auc>=champion"])
    if not deploy:
        return None
    existing = {d.name: d for d in ws.deployments.list()}
    current = existing.get(MODEL)
    if current is not None and current.state in {"running", "degraded"}:
        running = [e for e in ws.abtests.list(MODEL).experiments if e.state == "running"]
        if running:  # a rebuild: the previous demo's A/B test ends with its champion
            ws.abtests.stop(MODEL, "champion")
        deployment = ws.deployments.update(MODEL, f"{MODEL}@champion")
    else:
        deployment = ws.deploy(f"{MODEL}@champion", name=MODEL)
    ids = customer_ids(ws)
    with httpx.Client(timeout=10) as client:
        for i in range(traffic):
            body = {"dataframe_records": [{"customer_id": ids[i % len(ids)]}]}
            client.post(f"{deployment.url}/invocations", json=body)
    return deployment.url


def send_drifted_traffic(ws: Workspace, url: str, requests: int = 300) -> None:
    """Traffic whose spend and support calls drifted (the caller sends them at request time,
    and values sent win over the online store's), ground truth for some of it, then a check, so
    the Monitoring panel and dashboard have drift, alerts and quality to show."""
    import httpx
    import numpy as np
    import pandas as pd

    labels = pd.read_parquet(ws.root / LABELS, columns=["customer_id", "churned"])
    labels = labels.head(requests)
    rng = np.random.default_rng(11)
    spend = rng.normal(95, 15, len(labels)).round(2)  # the training data centres near 60
    calls = rng.poisson(6, len(labels))  # and near 2
    sent: list[tuple[str, bool]] = []
    with httpx.Client(timeout=10) as client:
        for i, row in enumerate(labels.itertuples(index=False)):
            request_id = f"demo-drift-{i:04d}"
            record = {
                "customer_id": int(row.customer_id),
                "monthly_spend": float(spend[i]),
                "support_calls": int(calls[i]),
            }
            response = client.post(
                f"{url}/invocations",
                json={"dataframe_records": [record]},
                headers={"x-request-id": request_id},
            )
            if response.status_code == 200:
                sent.append((request_id, bool(row.churned)))
    from jupyter_mlops.monitoring.schemas import FeedbackItem

    feedback = [FeedbackItem(request_id=rid, label=int(y)) for rid, y in sent[: len(sent) // 2]]
    if feedback:
        ws.monitoring.feedback(MODEL, feedback)
    ws.monitoring.check(MODEL)


#: The demo's A/B test: the challenger's true conversion rate against the champion's.
AB_TRUE_RATES = {"champion": 0.10, "challenger": 0.16}


def run_pipeline(ws: Workspace, url: str, timeout: float = 900) -> PipelineRun:
    """Declare and apply the demo's pipeline, send drifted traffic, and wait until the drift
    alert it raises has retrained, gated, registered and A/B-tested a challenger (the
    workspace's scheduler process does all of it). Returns the pipeline run.

    A rebuild of the demo finds the drift alert still firing from the previous build (an alert
    fires once per breach): when no run starts from it, the demo starts one by hand, saying so.
    """
    from jupyter_mlops.errors import MlopsError
    from jupyter_mlops.pipelines.schemas import FINAL_RUN_STATES

    definitions = ws.root / "pipelines" / PIPELINE_FILE
    definitions.parent.mkdir(exist_ok=True)
    if not definitions.exists():
        definitions.write_text(PIPELINE_SOURCE, encoding="utf-8")
    ws.pipelines.apply()
    # Job workers (and their warm kernels) start while the traffic is sent: the first job of a
    # workspace otherwise waits for them (~30 s on a busy 2-core machine).
    ws.jobs.ensure_workers(1)  # the pipeline runs one job
    since = utc_now()
    send_drifted_traffic(ws, url)
    deadline = time.monotonic() + timeout
    by_hand_at = time.monotonic() + 20
    while True:
        runs = [r for r in ws.pipelines.runs(PIPELINE).runs if r.created >= since]
        run = runs[-1] if runs else None
        if run is not None and (
            run.state in FINAL_RUN_STATES or run.step("abtest").state in ("succeeded", "failed")
        ):
            break
        if run is None and time.monotonic() > by_hand_at:
            ws.pipelines.run_now(
                PIPELINE, reason="the demo's drift alert was already firing from an earlier build"
            )
            by_hand_at = float("inf")
        if time.monotonic() > deadline:
            raise MlopsError(
                f"The demo's pipeline {PIPELINE} did not reach its A/B test in {timeout:.0f} s",
                hint="See `jupyter mlops pipelines show churn-retrain` and the scheduler's log "
                "in .mlops/monitoring/scheduler/scheduler.log.",
            )
        time.sleep(0.5)
    if run.step("abtest").state != "succeeded":
        raise MlopsError(
            f"The demo's pipeline run {run.id} ended {run.state}: {run.message}",
            hint=f"See `jupyter mlops pipelines status {run.id}`.",
        )
    return run


#: The demo's A/B test: the challenger's true conversion rate against the champion's.
AB_TRUE_RATES = {"champion": 0.10, "challenger": 0.16}


def simulate_outcomes(ws: Workspace, url: str, requests: int = 800) -> None:
    """Send traffic to the A/B test the pipeline started and report outcomes with a known true
    effect (``AB_TRUE_RATES``): a retention offer accepted after the model's answer, reported
    by request id."""
    import httpx
    import numpy as np

    from jupyter_mlops.abtest.schemas import OutcomeItem

    rng = np.random.default_rng(5)
    ids = customer_ids(ws)
    outcomes = []
    with httpx.Client(timeout=10) as client:
        for i in range(requests):
            rid = f"demo-ab-{i:04d}"
            r = client.post(
                f"{url}/invocations",
                json={"dataframe_records": [{"customer_id": ids[(i * 7) % len(ids)]}]},
                headers={"x-request-id": rid},
            )
            if r.status_code == 200 and rng.random() < AB_TRUE_RATES[r.headers["x-variant"]]:
                outcomes.append(OutcomeItem(request_id=rid, value=1))
    if outcomes:
        ws.abtests.record_outcomes(MODEL, outcomes)


def customer_ids(ws: Workspace) -> list[int]:
    import pandas as pd

    labels = pd.read_parquet(ws.root / LABELS, columns=["customer_id"])
    return [int(v) for v in labels["customer_id"].head(500)]


def write_features(ws: Workspace) -> pd.DataFrame:
    """Write the data and definitions, apply them and load the online store; returns the labels.

    A rebuild regenerates the data (dated from today), so each view's online rows are reloaded
    from scratch rather than incrementally.
    """
    data = ws.root / "data"
    data.mkdir(exist_ok=True)
    tables = churn_data()
    tables["profile"].to_parquet(data / "customer_profile.parquet", index=False)
    tables["activity"].to_parquet(data / "customer_activity.parquet", index=False)
    tables["labels"].to_parquet(ws.root / LABELS, index=False)
    definitions = ws.root / "features" / DEFINITIONS
    definitions.parent.mkdir(exist_ok=True)
    if not definitions.exists():
        definitions.write_text(DEFINITIONS_SOURCE, encoding="utf-8")
    store = ws.features
    store.apply()
    for name in VIEWS:
        view = store.get_view(name)
        store.online.delete_view(view.name, view.version)
    store.materialize(VIEWS)
    return tables["labels"]


def execute_notebook(ws: Workspace, parameters: dict[str, Any]) -> Path:
    """Run the training notebook as a job (papermill on a job worker), as a user would with
    `jupyter mlops job run`: its run gets the notebook's parameters, the executed notebook and
    the commit."""
    from jupyter_mlops.errors import MlopsError

    job = ws.jobs.submit(f"notebooks/{NOTEBOOK}", parameters, run_name="notebook-gbm")
    job = ws.jobs.wait(job.id, timeout=600)
    if job.state != "succeeded" or job.output is None:
        detail = job.error.evalue if job.error else job.message
        raise MlopsError(
            f"The demo's training notebook ended {job.state}: {detail}",
            hint=f"See `jupyter mlops job logs {job.id}`.",
        )
    return ws.root / job.output


def build_demo(
    root: Path, *, notebook_run: bool = True, deploy: bool = True
) -> tuple[Workspace, str]:
    """Build (or rebuild the data and runs of) the demo workspace in ``root``."""
    started = time.perf_counter()
    ws = Workspace.init(root)
    labels = write_features(ws)
    notebooks = ws.root / "notebooks"
    notebooks.mkdir(exist_ok=True)
    for name in (NOTEBOOK, SWEEP_NOTEBOOK):
        if not (notebooks / name).exists():
            with resources.as_file(resources.files("jupyter_mlops.demo").joinpath(name)) as path:
                shutil.copyfile(path, notebooks / name)
    count = len(run_sweep(ws))
    if notebook_run and not deploy:
        execute_notebook(ws, NOTEBOOK_PARAMETERS)
        count += 1
    url = register_and_deploy(ws, deploy=deploy)
    run = None
    if url and notebook_run:
        # The loop: drifted traffic raises an alert; the pipeline retrains (the notebook runs
        # as a job), gates, registers @challenger and A/B-tests it against the champion.
        run = run_pipeline(ws, url)
        count += 1
        simulate_outcomes(ws, url)
    elif url:
        send_drifted_traffic(ws, url)
    ws.features.close()
    elapsed = time.perf_counter() - started
    summary = (
        f"Demo workspace in {ws.root}: {len(labels):,} customers served through feature views "
        f"{', '.join(VIEWS)} (features/{DEFINITIONS}), "
        f"{count} runs in experiment '{EXPERIMENT}' ({elapsed:.0f} s).\n"
        f"Open notebooks/{NOTEBOOK}, or the MLOps sidebar in JupyterLab."
    )
    if url:
        summary += (
            f"\nModel '{MODEL}' @champion is deployed at {url} (`jupyter mlops deployments "
            f"stop {MODEL}` stops it); try:\n  curl -s {url}/invocations -H 'Content-Type: "
            'application/json\' -d \'{"dataframe_records": [{"customer_id": 100000}]}\''
        )
    if run is not None:
        rates = AB_TRUE_RATES
        summary += (
            f"\nPipeline {PIPELINE} (pipelines/{PIPELINE_FILE}): {run.trigger.summary[:90]} "
            f"-> job {run.job_id} -> gate passed -> {MODEL}:{run.model_version} @challenger "
            f"-> A/B test {run.abtest_id}, 50/50, with simulated outcomes (true rates "
            f"{rates['champion']:.0%} and {rates['challenger']:.0%}); see `jupyter mlops "
            f"lineage {MODEL}@challenger` and `jupyter mlops ab status {MODEL}`."
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
        *_lab_kernel_encryption(),
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        argv.append("--allow-root")
    os.chdir(ws.root)
    os.execve(sys.executable, argv, env)


def _lab_kernel_encryption() -> list[str]:
    """JupyterLab's kernels get CurveZMQ keys where they can (see ``kernel_encryption``): over
    plain TCP, ipykernel >= 7 starts every kernel by warning that its traffic is unencrypted."""
    from jupyter_server.services.kernels.kernelmanager import MappingKernelManager

    from jupyter_mlops.jobs.worker import kernel_encryption

    return [
        f"--MappingKernelManager.{k}={v}"
        for k, v in kernel_encryption(MappingKernelManager).items()
    ]
