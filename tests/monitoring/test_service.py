"""The monitoring service against a real deployment: real HTTP traffic, its prediction log,
feedback, checks, alerts (POSTed to a real local webhook) and the scheduler process."""

from __future__ import annotations

import json
import os
import signal
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, roc_auc_score

from jupyter_mlops import Workspace
from jupyter_mlops.config import load_config
from jupyter_mlops.errors import ConfigError, InvalidInput, NotFound
from jupyter_mlops.monitoring.schemas import FeedbackItem
from jupyter_mlops.monitoring.windows import Window
from tests.conftest import log_model_run
from tests.helpers import wait_for

COLUMNS = ["tenure", "spend", "calls"]


def training_frame(n: int = 3000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "tenure": rng.integers(1, 72, n).astype("int64"),
            "spend": rng.normal(50, 10, n),
            "calls": rng.poisson(2, n).astype("float64"),
        }
    )


class Webhook:
    """A local HTTP server that keeps what is POSTed to it."""

    def __init__(self) -> None:
        received: list[dict[str, Any]] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                received.append(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.received = received
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    yield hook
    hook.close()


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory, webhook: Webhook) -> Iterator[Workspace]:
    """Model ``churn`` v1 registered with its training frame's profile and deployed."""
    root = tmp_path_factory.mktemp("monitoring") / "ws"
    ws = Workspace.init(root)
    config = (root / "mlops.toml").read_text()
    config = config.replace('webhook_url = ""', f'webhook_url = "{webhook.url}"')
    config = config.replace("latency_p95_ms = 1000", "latency_p95_ms = 5000")
    (root / "mlops.toml").write_text(config)
    ws = Workspace.open(root)
    frame = training_frame()
    run = log_model_run(ws, frame=frame)
    ws.registry.register(run, "churn", aliases=["champion"], training_data=frame)
    ws.deployments.deploy("churn@champion", name="churn")
    yield ws
    ws.monitoring.stop_scheduler()
    for d in ws.deployments.list():
        if d.state not in {"stopped", "failed"}:
            ws.deployments.stop(d.name)
    engine = ws.tracking.sql_engine
    if engine is not None:
        engine.dispose()


def send(ws: Workspace, frame: pd.DataFrame, *, batch: int = 50) -> list[str]:
    """POST the frame in batches with our own request ids; returns them."""
    url = ws.deployments.get("churn").url
    ids = []
    with httpx.Client(base_url=url, timeout=30) as client:
        for start in range(0, len(frame), batch):
            part = frame.iloc[start : start + batch]
            rid = uuid.uuid4().hex
            body = {"dataframe_split": {"columns": COLUMNS, "data": part.to_numpy().tolist()}}
            r = client.post("/invocations", json=body, headers={"x-request-id": rid})
            assert r.status_code == 200, r.text
            ids.append(rid)
    return ids


def test_metrics_count_what_was_sent_with_errors_by_status(deployed: Workspace) -> None:
    ws = deployed
    before = ws.monitoring.metrics("churn", Window()).overall.requests
    send(ws, training_frame(500, seed=1), batch=50)
    url = ws.deployments.get("churn").url
    bad = httpx.post(f"{url}/invocations", content=b"{not json", timeout=10)
    assert bad.status_code == 400
    m = ws.monitoring.metrics("churn", Window())
    assert m.overall.requests == before + 11
    assert m.overall.errors >= 1
    assert m.overall.errors_by_status.get("400", 0) >= 1
    assert m.overall.latency_p50_ms is not None and m.overall.latency_p50_ms > 0
    assert m.overall.latency_p99_ms >= m.overall.latency_p50_ms
    assert any(v.version == 1 and v.rows >= 500 for v in m.versions)

    # the same counts as the server's Prometheus counters (the replica has not restarted)
    from prometheus_client.parser import text_string_to_metric_families

    text = httpx.get(f"{url}/metrics", timeout=10).text
    totals = {
        family.name: sum(s.value for s in family.samples if s.name.endswith("_total"))
        for family in text_string_to_metric_families(text)
    }
    assert totals["mlops_requests"] == m.overall.requests
    assert totals["mlops_request_errors"] == m.overall.errors
    assert totals["mlops_predicted_rows"] == m.overall.rows


def test_drift_flags_a_shifted_window_and_not_an_unshifted_one(deployed: Workspace) -> None:
    ws = deployed
    send(ws, training_frame(2000, seed=2), batch=200)
    calm = ws.monitoring.drift("churn", Window.parse(last=2000))
    calm_frame = calm.to_frame()
    assert set(COLUMNS) <= set(calm_frame["feature"])
    assert not calm_frame.loc[calm_frame["feature"].isin(COLUMNS), "drifted"].any()
    shifted = training_frame(2000, seed=3)
    shifted["spend"] = shifted["spend"] + 15
    send(ws, shifted, batch=200)
    report = ws.monitoring.drift("churn", Window.parse(last=2000))
    rows = report.to_frame().set_index("feature")
    assert bool(rows.loc["spend", "drifted"])
    assert not bool(rows.loc["tenure", "drifted"])
    assert report.drift_share > 0


def test_feedback_gives_quality_equal_to_sklearn_and_counts_duplicates_once(
    deployed: Workspace,
) -> None:
    ws = deployed
    frame = training_frame(300, seed=4)
    ids = send(ws, frame, batch=1)
    truth = (frame["tenure"] > 36).astype(int).to_numpy()
    items = [FeedbackItem(request_id=rid, label=int(y)) for rid, y in zip(ids, truth, strict=True)]
    first = ws.monitoring.feedback("churn", items)
    assert (first.accepted, first.duplicates) == (300, 0)
    again = ws.monitoring.feedback("churn", items[:10])
    assert (again.accepted, again.duplicates) == (0, 10)
    with pytest.raises(NotFound, match="no-such-request"):
        ws.monitoring.feedback("churn", [FeedbackItem(request_id="no-such-request", label=1)])

    quality = ws.monitoring.quality("churn", Window.parse(last=300))
    assert quality.labelled == 300 and quality.overall is not None
    assert quality.overall.kind == "classifier"
    log = ws.monitoring.predictions("churn", Window.parse(last=300))
    proba = log.set_index("request_id").loc[ids, "output.1"].to_numpy()
    assert quality.overall.metrics["roc_auc"] == pytest.approx(roc_auc_score(truth, proba))
    assert quality.overall.metrics["accuracy"] == pytest.approx(
        accuracy_score(truth, (proba > 0.5).astype(int))
    )


def test_feedback_from_a_frame_names_missing_columns(deployed: Workspace) -> None:
    frame = pd.DataFrame({"id": ["x"], "label": [1]})
    with pytest.raises(InvalidInput, match="request_id"):
        deployed.monitoring.feedback_frame("churn", frame)


def test_a_check_is_stored_and_alerts_fire_once_then_resolve(
    deployed: Workspace, webhook: Webhook
) -> None:
    ws = deployed
    shifted = training_frame(1000, seed=5)
    shifted["spend"] = shifted["spend"] * 3
    shifted["calls"] = shifted["calls"] + 5
    send(ws, shifted, batch=100)
    report = ws.monitoring.check("churn", Window.parse(last=1000))
    assert report.drift is not None and "spend" in report.summary.drifted
    firing = {(e.kind, e.subject) for e in report.events if e.state == "firing"}
    assert ("feature_drift", "spend") in firing
    assert all(e.delivered for e in report.events)
    wait_for(lambda: len(webhook.received) >= len(report.events), "the webhook POSTs")
    assert any("spend" in body["text"] for body in webhook.received)

    again = ws.monitoring.check("churn", Window.parse(last=1000))
    assert not [e for e in again.events if e.subject == "spend"]  # still firing: no new event

    send(ws, training_frame(1000, seed=6), batch=100)
    calm = ws.monitoring.check("churn", Window.parse(last=1000))
    resolved = {(e.kind, e.subject) for e in calm.events if e.state == "resolved"}
    assert ("feature_drift", "spend") in resolved

    checks = ws.monitoring.checks("churn").checks
    assert [c.id for c in checks[-3:]] == [report.summary.id, again.summary.id, calm.summary.id]
    stored = ws.monitoring.check_report("churn", report.summary.id)
    assert stored.summary.drifted == report.summary.drifted
    kinds = [(e.state, e.subject) for e in ws.monitoring.events("churn").events]
    assert ("firing", "spend") in kinds and ("resolved", "spend") in kinds
    status = ws.monitoring.status("churn").deployments[0]
    assert status.last_check == calm.summary.time


def test_an_empty_window_gives_a_report_that_says_so(deployed: Workspace) -> None:
    ws = deployed
    far = Window.parse(
        start=pd.Timestamp("2001-01-01", tz="UTC"), end=pd.Timestamp("2001-01-02", tz="UTC")
    )
    report = ws.monitoring.check("churn", far)
    assert report.summary.rows == 0 and report.drift is None
    assert report.message and "min_rows" in report.message
    assert ws.monitoring.metrics("churn", far).overall.requests == 0


def test_unknown_names_and_bad_windows_are_clear_errors(deployed: Workspace) -> None:
    ws = deployed
    with pytest.raises(NotFound, match="chrun"):
        ws.monitoring.metrics("chrun", Window())
    with pytest.raises(NotFound, match="no check"):
        ws.monitoring.check_report("churn", "ffff")
    with pytest.raises(InvalidInput, match="duration"):
        Window.parse("an hour")
    with pytest.raises(InvalidInput, match="cannot be combined"):
        Window.parse("1h", last=5)


def test_a_malformed_threshold_names_the_key(tmp_path: Path) -> None:
    path = tmp_path / "mlops.toml"
    path.write_text('[monitoring]\ndrift_share = "high"\n')
    with pytest.raises(ConfigError, match=r"monitoring\.drift_share"):
        load_config(path)
    path.write_text("[monitoring.deployment.churn]\nerror_rate = 2\n")
    with pytest.raises(ConfigError, match=r"monitoring\.deployment\.churn\.error_rate"):
        load_config(path)


def test_the_scheduler_checks_running_deployments_on_its_interval(deployed: Workspace) -> None:
    root = deployed.root
    config = (root / "mlops.toml").read_text()
    (root / "mlops.toml").write_text(
        config.replace("interval_seconds = 300", "interval_seconds = 1")
    )
    ws = Workspace.open(root)
    try:
        before = len(ws.monitoring.checks("churn").checks)
        state = ws.monitoring.ensure_scheduler()
        assert state.running and state.pid
        assert ws.monitoring.ensure_scheduler().pid == state.pid  # a second start finds it
        wait_for(
            lambda: len(ws.monitoring.checks("churn").checks) >= before + 2,
            "two scheduled checks",
            timeout=60,
        )

        # It is the deployments' watchdog too: a supervisor killed with kill -9 is restarted
        # on its port at the scheduler's next look, with no face looking (status.json is read
        # directly: a face's look would restart it itself).
        folder = ws.deployments.root / "churn"
        killed = json.loads((folder / "status.json").read_text())["pid"]
        os.kill(killed, signal.SIGKILL)

        def revived() -> bool:
            status = json.loads((folder / "status.json").read_text())
            return bool(status["pid"] != killed and status["state"] == "running")

        wait_for(revived, "the scheduler to restart the killed deployment", timeout=60)
        assert httpx.get(f"{ws.deployments.get('churn').url}/ping").status_code == 200
    finally:
        stopped = ws.monitoring.stop_scheduler()
        (root / "mlops.toml").write_text(config)
    assert not stopped.running


def test_log_info_reports_what_retention_dropped(deployed: Workspace) -> None:
    """Last in the module: it stops the deployment and empties its log."""
    from jupyter_mlops.serving.predictions import apply_retention, compact

    ws = deployed
    ws.deployments.stop("churn")  # replicas close their segments
    folder = ws.deployments.predictions / "churn"
    compact(folder)
    before = ws.monitoring.log_info("churn")
    assert before.parquet_files >= 1 and before.pending_segments == 0
    assert (before.max_age_days, before.max_size_mb) == (30, 2048)
    rows = len(ws.monitoring.predictions("churn"))
    dropped = apply_retention(folder, max_age_days=None, max_size_mb=1e-6)
    after = ws.monitoring.log_info("churn")
    assert after.parquet_files == 0 and len(after.dropped) == len(dropped) >= 1
    assert {d.reason for d in after.dropped} == {"max_size_mb"}
    assert sum(d.rows for d in after.dropped) == rows
    assert ws.monitoring.metrics("churn", Window()).overall.requests == 0
