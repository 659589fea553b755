"""Replays of a version's training, without a server: a real job trains and registers a model
from a tiny ingested feature view, the data and the view change, and a second real job replays
it from its lineage with the same metrics. Two jobs in all; the other tests start none that runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from jupyter_mlops import Workspace
from jupyter_mlops.errors import NotFound
from jupyter_mlops.features import Entity, FeatureView, Field
from jupyter_mlops.lineage import FeatureRef, FeaturesUsed
from jupyter_mlops.lineage.tags import (
    FEATURES_TAG,
    JOB_TAG,
    ORIGIN_TAG,
    REPLAY_OF_TAG,
    REPLAY_VERSION_TAG,
)
from jupyter_mlops.pipelines.replay import Replays, compare_metrics
from jupyter_mlops.timestamps import from_epoch_millis
from tests.helpers import parameterised_notebook

pytestmark = pytest.mark.slow

JOB_TIMEOUT = 240.0
customer = Entity("customer", ["customer_id"])
SPEND_V1 = [Field("orders", "int64"), Field("avg_spend", "float64")]

#: Reads its labels by a path relative to the notebook's folder, trains with a seed, and makes
#: its metrics depend on every feature value it read.
TRAIN = (
    "%load_ext jupyter_mlops\n"
    "import pandas as pd\n"
    "from jupyter_mlops import Workspace\n"
    "ws = Workspace.find()\n"
    "labels = pd.read_csv('../data/labels.csv', parse_dates=['event_timestamp'])",
    "%%mlops run --params seed,scale --metrics score,rows\n"
    "import numpy as np\n"
    "from sklearn.linear_model import LogisticRegression\n"
    "frame = ws.features.get_training_frame(labels, ['customer_spend:*'])\n"
    "X = frame.drop(columns=['customer_id', 'event_timestamp', 'churned'])\n"
    "X = X.astype('float64').fillna(0.0)\n"
    "X = X + np.random.default_rng(seed).normal(scale=0.5, size=X.shape)\n"
    "model = LogisticRegression(random_state=seed).fit(X, frame['churned'])\n"
    "score = float(model.score(X, frame['churned'])) * scale + float(X.to_numpy().sum())\n"
    "rows = len(frame)\n"
    "print('columns', list(X.columns))",
)


def spend(orders: list[int], day: str, vip: bool | None = None) -> pd.DataFrame:
    rows = pd.DataFrame(
        {
            "customer_id": list(range(1, len(orders) + 1)),
            "event_timestamp": pd.to_datetime([day] * len(orders)),
            "orders": orders,
            "avg_spend": [10.0 * o for o in orders],
        }
    )
    if vip is not None:
        rows["is_vip"] = vip
    return rows


def replays_of(ws: Workspace) -> Replays:
    """The service under test, wired as the workspace wires it."""
    return Replays(
        ws.state_dir / "replays",
        registry=ws.registry,
        tracking=ws.tracking,
        jobs=ws.jobs,
        features=ws.features,
    )


@pytest.fixture
def trained(workspace: Workspace) -> Iterator[Workspace]:
    """``churn`` v1, trained by a job on customer_spend v1; then the view gets a v2 and rows
    that a training frame built now would read."""
    ws = workspace
    (ws.root / "data").mkdir()
    pd.DataFrame(
        {
            "customer_id": [1, 2, 3, 4, 5, 6],
            "event_timestamp": pd.to_datetime(["2026-02-01"] * 6),
            "churned": [0, 1, 0, 1, 0, 1],
        }
    ).to_csv(ws.root / "data" / "labels.csv", index=False)
    ws.features.apply(
        [customer, FeatureView(name="customer_spend", entities=[customer], features=SPEND_V1)]
    )
    ws.features.ingest("customer_spend", spend([1, 5, 2, 7, 3, 9], "2026-01-01"))
    parameterised_notebook(
        ws.root / "notebooks" / "train.ipynb", *TRAIN, parameters="seed = 0\nscale = 1.0"
    )
    job = ws.jobs.wait(
        ws.jobs.submit("notebooks/train.ipynb", {"seed": 3, "scale": 2.5}).id,
        timeout=JOB_TIMEOUT,
    )
    assert job.state == "succeeded", ws.jobs.log(job.id)
    ws.registry.register(job.run_id or "", "churn")
    changed = [*SPEND_V1, Field("is_vip", "bool")]
    ws.features.apply(
        [customer, FeatureView(name="customer_spend", entities=[customer], features=changed)]
    )
    ws.features.ingest("customer_spend", spend([4, 4, 4, 4, 4, 4], "2026-01-15", vip=True))
    yield ws
    ws.jobs.stop_workers()


def test_a_replay_trains_the_version_again_with_the_same_metrics(trained: Workspace) -> None:
    ws = trained
    replays = replays_of(ws)
    version = ws.registry.get_version("churn/1")
    original = ws.tracking.get_run(version.run_id or "", with_history=False)
    # Read now, the features are not what the version was trained on.
    labels = pd.read_csv(ws.root / "data" / "labels.csv", parse_dates=["event_timestamp"])
    now = ws.features.get_training_frame(labels, ["customer_spend:*"])
    assert "is_vip" in now.columns and set(now["orders"]) == {4}

    started = replays.start("churn/1")
    assert (started.model, started.version) == ("churn", 1)
    assert started.original_run_id == original.run_id
    assert started.notebook_source == "job output" and started.workdir == "notebooks"
    assert started.parameters == {"seed": 3, "scale": 2.5}
    assert started.pins == {"customer_spend": 1}
    assert started.as_of == from_epoch_millis(original.start_time or 0)
    assert started.warnings == []
    # The copy is the notebook as executed, without the cells the job added or any output.
    copy = nbformat.read(str(ws.root / started.notebook), as_version=4)
    assert Path(started.notebook).parent == Path(".mlops/replays")
    assert [c.source for c in copy.cells] == ["seed = 0\nscale = 1.0", *TRAIN]
    assert all(not c.outputs for c in copy.cells)

    report = replays.report(started.job_id[:10], wait=True, timeout=JOB_TIMEOUT)
    assert report.state == "succeeded", ws.jobs.log(started.job_id)
    assert report.differ == [] and report.matches is True
    names = {m.metric for m in report.metrics}
    assert {"score", "rows"} <= names
    assert all(m.equal and m.difference == 0 for m in report.metrics), report.metrics
    assert "columns ['orders', 'avg_spend']" in ws.jobs.log(started.job_id)

    replay = ws.tracking.get_run(report.replay_run_id or "", with_history=False)
    assert replay.run_name == "replay of churn:1"
    assert replay.experiment_id == original.experiment_id
    assert replay.tags[REPLAY_OF_TAG] == original.run_id
    assert replay.tags[REPLAY_VERSION_TAG] == "churn:1" and replay.tags[ORIGIN_TAG] == "replay"
    used = FeaturesUsed.parse(replay.tags[FEATURES_TAG])
    assert used is not None and list(used.views) == ["customer_spend:v1"]
    assert {FeatureRef.parse(f).version for f in used.features} == {1}
    # Only a replay's job has a replay report.
    with pytest.raises(NotFound, match="is not a replay"):
        replays.report(original.tags[JOB_TAG])


@pytest.fixture(scope="module")
def snapshot_version(models_workspace: Workspace) -> Workspace:
    """``churn`` v2 of the shared models workspace (no job, no notebook), given the snapshot a
    ``%%mlops run`` cell leaves: its run then has a notebook to replay, though not as executed.
    """
    ws = models_workspace
    run_id = ws.registry.get_version("churn/2").run_id or ""
    path = parameterised_notebook(
        ws.root / "notebooks" / "train.ipynb", "print('C is', C)", parameters="C = 1.0"
    )
    ws.tracking.client.log_artifact(run_id, str(path), "notebook")
    return ws


def test_a_version_without_a_stored_notebook_cannot_be_replayed(
    models_workspace: Workspace,
) -> None:
    replays = replays_of(models_workspace)
    with pytest.raises(NotFound) as err:
        replays.start("churn:1")
    assert "churn:1 has no stored notebook to replay" in err.value.message
    assert err.value.hint and "jupyter mlops job run" in err.value.hint
    with pytest.raises(NotFound, match="Model churn has no version 9"):
        replays.start("churn/9")
    assert not list((models_workspace.state_dir / "replays").glob("*.ipynb"))


def test_a_run_made_outside_a_job_is_replayed_from_its_snapshot_with_a_warning(
    snapshot_version: Workspace,
) -> None:
    ws = snapshot_version
    try:
        started = replays_of(ws).start("churn:2")
        # Cancelled at once: what this test is about is how the replay was set up.
        ws.jobs.cancel(started.job_id)
    finally:
        ws.jobs.stop_workers()
    assert started.notebook_source == "notebook snapshot"
    assert "not made by a job" in started.warnings[0]
    # The run's parameters are MLflow text: converted to the types the notebook declares.
    assert started.parameters == {"C": 10.0} and started.pins == {}
    # The run recorded no notebook path: the replay runs in the workspace folder, and says so.
    assert started.workdir == "." and "runs in the workspace folder" in started.warnings[1]


def test_metrics_are_compared_exactly() -> None:
    rows = compare_metrics(
        {"auc": 0.8, "loss": 0.1, "gone": 1.0, "nan": None},
        {"auc": 0.8, "loss": 0.1 + 1e-12, "new": 2.0, "nan": None},
    )
    by_name = {r.metric: r for r in rows}
    assert [r.metric for r in rows] == ["auc", "gone", "loss", "nan", "new"]
    assert by_name["auc"].equal and by_name["auc"].difference == 0
    assert not by_name["loss"].equal and by_name["loss"].difference == pytest.approx(1e-12)
    assert not by_name["gone"].equal and by_name["gone"].replay is None
    assert not by_name["new"].equal and by_name["nan"].equal
