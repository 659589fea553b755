"""The README's main job: the demo workspace builds with real runs and a notebook execution."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from mlflow.tracking import MlflowClient

from jupyter_mlops.demo import (
    DEFINITIONS,
    EXPERIMENT,
    FEATURE_REFS,
    PIPELINE,
    SEEDS,
    SWEEP,
    VIEWS,
    build_demo,
)
from jupyter_mlops.lineage.tags import FEATURES_TAG, JOB_OUTPUT_ARTIFACT, JOB_TAG, PIPELINE_TAG


@pytest.mark.slow
def test_demo_builds_runs_and_executes_the_notebook(tmp_path: Path) -> None:
    ws, summary = build_demo(tmp_path / "demo")
    assert (ws.root / "data" / "churn_labels.parquet").is_file()
    assert (ws.root / "features" / DEFINITIONS).is_file()
    assert (ws.root / "notebooks" / "train_churn.ipynb").is_file()
    runs = ws.tracking.list_runs([EXPERIMENT], max_results=100).runs
    assert len(runs) == len(SWEEP) * len(SEEDS) + 1
    assert all(r.status == "FINISHED" for r in runs)
    assert all(0.6 < (r.metrics["roc_auc"] or 0) < 1 for r in runs)
    # The notebook ran as a job of the demo's pipeline, started by the drift alert.
    (from_notebook,) = [r for r in runs if r.tags.get(PIPELINE_TAG) == PIPELINE]
    assert from_notebook.params["n_estimators"] == "60"
    client = MlflowClient(ws.tracking_uri)
    artifacts = client.list_artifacts(from_notebook.run_id, "notebook")
    assert any(a.path.endswith(".ipynb") for a in artifacts)
    # ...run as a job: the run names its job, and keeps the executed notebook
    job = ws.jobs.get(from_notebook.tags[JOB_TAG])
    assert job.state == "succeeded" and job.run_id == from_notebook.run_id
    assert [a.path for a in client.list_artifacts(from_notebook.run_id, "job")] == [
        JOB_OUTPUT_ARTIFACT
    ]
    grouped = ws.tracking.compare(
        [r.run_id for r in runs if r.params.get("model") == "gbm"], group_by_seed=True
    )
    assert grouped.seed_param == "seed" and grouped.groups is not None
    assert len(grouped.groups) == 2  # the two swept gbm settings, three seeds each
    assert "runs in experiment 'churn'" in summary

    # The data is served through feature views with event timestamps...
    store = ws.features
    views = {v.name: v for v in store.list_views()}
    assert sorted(views) == ["customer_activity", "customer_profile"]
    assert all(v.version == 1 and v.definition.ttl is not None for v in views.values())
    # ...materialized: the online store answers with fresh values for every feature...
    online = store.get_online_features_dict(FEATURE_REFS, [{"customer_id": 100_000}])
    assert all(values[0] is not None for values in online.values()), online
    store.close()
    # ...and every run was trained on a training frame that recorded the versions it used.
    pinned = {f"{ref.split(':')[0]}:v1:{ref.split(':')[1]}" for ref in FEATURE_REFS}
    for run in runs:
        tags = client.get_run(run.run_id).data.tags
        assert set(json.loads(tags[FEATURES_TAG])["features"]) == pinned, run.run_name
    usage = ws.feature_usage("customer_activity")
    assert len(usage.versions[0].runs) == len(runs)

    # The best run is registered with its lineage and profile, and deployed: called with a
    # customer id only, the server looks the features up in the online store.
    try:
        champion = ws.registry.get_version("churn@champion")
        best = max(runs, key=lambda r: r.metrics["roc_auc"] or 0)
        assert champion.run_id == best.run_id and champion.has_profile
        assert champion.lineage is not None and set(champion.lineage.features) == pinned
        # ...made by running the sweep notebook, whose executed copy the run keeps
        assert champion.lineage.notebook == "notebooks/sweep_churn.ipynb"
        snapshot = champion.lineage.notebook_snapshot or ""
        executed = json.loads(
            Path(client.download_artifacts(champion.run_id or "", snapshot)).read_text()
        )
        assert all(c.get("outputs") for c in executed["cells"] if c["cell_type"] == "code")
        [deployment] = ws.deployments.list()
        assert deployment.state == "running" and deployment.serving[0].version == 1
        assert ws.deployments.stats("churn").requests_total >= 200
        answer = httpx.post(
            f"{deployment.url}/invocations",
            json={"dataframe_records": [{"customer_id": 100_000}, {"customer_id": 100_001}]},
        )
        assert answer.status_code == 200, answer.text
        probabilities = answer.json()["predictions"]
        assert len(probabilities) == 2 and all(abs(sum(p) - 1) < 1e-9 for p in probabilities)
        assert "is deployed at" in summary
        # features usage now lists the model version and its deployment per view version
        used = ws.feature_usage("customer_profile").versions[0]
        assert {"name": "churn", "version": "1", "aliases": "champion"} in used.models
        # (the deployment serves the champion and, in the demo's A/B test, a challenger)
        assert {d["name"] for d in used.deployments} == {"churn"}
        # The demo's drifted traffic and feedback: its check found the injected drift, quality
        # on the labelled half, and the feature views' freshness; the scheduler runs.
        status = ws.monitoring.status("churn")
        assert status.scheduler.running
        # the newest: the scheduler, started by deploying, may have checked the traffic too
        ab = ws.abtests.current("churn")
        checks = ws.monitoring.checks("churn").checks
        check = [c for c in checks if c.rows >= 300 and c.time <= ab.started][-1]
        assert {"monthly_spend", "support_calls"} <= set(check.drifted)
        assert check.quality.get("roc_auc") is not None
        report = ws.monitoring.check_report("churn", check.id)
        assert sorted(v.view for v in report.freshness) == sorted(VIEWS)
        assert "feature_drift:monthly_spend" in status.deployments[0].firing
        # The demo's A/B test: champion against a challenger, 50/50, with simulated outcomes
        # of a known true effect (10% against 16%).
        assert "A/B test ab-" in summary
        ab_status = ws.abtests.status("churn")
        assert ab_status.experiment.state == "running"
        # ...started by the pipeline: alert -> job -> gate -> churn:2 @challenger -> A/B test.
        [run] = ws.pipelines.runs(PIPELINE).runs
        assert run.trigger.kind == "alert", run.trigger
        assert run.run_id == from_notebook.run_id and run.model_version == 2
        assert [s.state for s in run.steps] == ["succeeded"] * 5 + ["skipped"]
        assert ab_status.experiment.challenger == 2 and ab_status.experiment.id == run.abtest_id
        assert ws.registry.get_version("churn@challenger").version == 2
        chain = ws.pipelines.lineage("churn@challenger")
        kinds = [link.kind for link in chain.links]
        assert kinds[:3] == ["deployment", "abtest", "version"]
        trigger = chain.links[kinds.index("trigger")]
        assert trigger.refs["report_id"] in {c.id for c in checks}
        # Replayed from its lineage (the executed notebook, parameters, pinned feature
        # versions), the challenger's training gives exactly the same metrics.
        started = ws.replays.start("churn/2")
        assert started.notebook_source == "job output" and started.pins == {
            "customer_activity": 1,
            "customer_profile": 1,
        }
        replay = ws.replays.report(started.job_id, wait=True, timeout=600)
        assert replay.state == "succeeded", replay.message
        assert replay.matches and replay.differ == [], replay.metrics
        assert {m.metric for m in replay.metrics} >= {"roc_auc", "accuracy", "val_roc_auc"}
        assert min(ab_status.assigned.values()) > 300
        assert ab_status.analysis is not None
        effect = ab_status.analysis.comparison.effect
        # 400 a variant: the estimate's standard error is 0.024, so this holds but in 1 run of 1,500
        assert abs(effect.absolute - 0.06) < 0.08
    finally:
        ws.monitoring.stop_scheduler()
        for d in ws.deployments.list():
            ws.deployments.stop(d.name)
