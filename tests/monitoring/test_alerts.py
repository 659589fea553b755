"""Alert rules (pure): which figures of a check cross which thresholds, with overrides."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from jupyter_mlops.config import MlopsConfig
from jupyter_mlops.errors import InvalidInput
from jupyter_mlops.monitoring.alerts import breaches, thresholds_for
from jupyter_mlops.monitoring.schemas import (
    ApiMetrics,
    CheckReport,
    CheckSummary,
    QualityMetrics,
    QualityReport,
    StaleView,
    VersionMetrics,
)
from jupyter_mlops.monitoring.windows import Window

NOW = datetime(2026, 12, 6, 12, tzinfo=UTC)


def report(
    *,
    error_rate: float = 0.0,
    p95: float = 10.0,
    quality: dict[str, float | None] | None = None,
    stale: bool = False,
) -> CheckReport:
    window = Window.parse("1h", now=NOW)
    overall = VersionMetrics(
        model="churn",
        requests=1000,
        rows=1000,
        errors=int(error_rate * 1000),
        error_rate=error_rate,
        latency_p95_ms=p95,
    )
    q = None
    if quality is not None:
        q = QualityReport(
            deployment="churn",
            window=window.span(),
            predicted=1000,
            labelled=100,
            overall=QualityMetrics(model="churn", kind="classifier", labelled=100, metrics=quality),
        )
    return CheckReport(
        summary=CheckSummary(id="x", deployment="churn", time=NOW, window=window.span(), rows=1000),
        metrics=ApiMetrics(deployment="churn", window=window.span(), overall=overall, versions=[]),
        quality=q,
        freshness=[StaleView(view="customer_activity", version=1, stale=stale)],
    )


def kinds(config: MlopsConfig, r: CheckReport) -> set[str]:
    return {b.key for b in breaches(r, thresholds_for(config.monitoring, "churn"))}


def test_defaults_alert_on_errors_latency_and_stale_views_only() -> None:
    config = MlopsConfig()
    assert kinds(config, report()) == set()
    assert kinds(config, report(error_rate=0.2)) == {"error_rate"}
    assert kinds(config, report(p95=5000)) == {"latency:p95"}
    assert kinds(config, report(stale=True)) == {"stale_features:customer_activity"}


def test_quality_minimums_and_maximums() -> None:
    config = MlopsConfig.model_validate(
        {"monitoring": {"quality": {"accuracy": 0.8, "log_loss": 0.5}}}
    )
    assert kinds(config, report(quality={"accuracy": 0.9, "log_loss": 0.3})) == set()
    assert kinds(config, report(quality={"accuracy": 0.7, "log_loss": 0.6})) == {
        "quality:accuracy",
        "quality:log_loss",
    }
    assert kinds(config, report(quality={"accuracy": None})) == set()  # not computable: silent


def test_a_deployment_overrides_only_the_keys_it_sets() -> None:
    config = MlopsConfig.model_validate(
        {
            "monitoring": {
                "error_rate": 0.01,
                "deployment": {"churn": {"latency_p95_ms": 20, "stale_features": False}},
            }
        }
    )
    limits = thresholds_for(config.monitoring, "churn")
    assert limits.error_rate == 0.01 and limits.latency_p95_ms == 20
    assert thresholds_for(config.monitoring, "fraud").latency_p95_ms == 1000
    assert kinds(config, report(p95=30, stale=True, error_rate=0.02)) == {
        "latency:p95",
        "error_rate",
    }


def test_windows() -> None:
    w = Window.parse("90m", now=NOW)
    assert w.end == NOW and w.start == NOW - timedelta(minutes=90) and w.seconds() == 5400
    assert Window.parse(last=10).last == 10
    before = w.before("1h")
    assert before.end == w.start and before.seconds() == 3600
    with pytest.raises(InvalidInput, match="no start"):
        Window.parse(last=10).before("1h")
    assert Window.parse().label == "all"
    with pytest.raises(InvalidInput, match="time zone"):
        Window.parse(start=datetime(2026, 1, 1))
    with pytest.raises(InvalidInput, match="before start"):
        Window.parse(start=NOW, end=NOW - timedelta(1))


def test_the_newest_checks_are_read_from_the_end_of_the_file(tmp_path: Path) -> None:
    from jupyter_mlops.monitoring.store import MonitorStore

    store = MonitorStore(tmp_path)
    base = report()
    for i in range(3000):  # about 1 MB of summaries: several chunks from the end
        summary = base.summary.model_copy(update={"id": f"c{i:05d}", "rows": i})
        store.save_check(base.model_copy(update={"summary": summary}))
    assert [c.id for c in store.checks(2)] == ["c02998", "c02999"]
    assert [c.rows for c in store.checks(1500)] == list(range(1500, 3000))
    assert len(store.checks()) == 3000
    assert MonitorStore(tmp_path / "none").checks(5) == []


def test_overlapping_checks_are_ordered_by_the_time_they_started(tmp_path: Path) -> None:
    """The scheduler's check can start before a check asked for by hand and finish after it:
    the newest check is the one that saw the newest data, not the last line written."""
    from jupyter_mlops.monitoring.store import MonitorStore

    store = MonitorStore(tmp_path / "churn")
    later = report(error_rate=0.063)
    later.summary.id, later.summary.time = "later", NOW
    earlier = report(error_rate=0.0)
    earlier.summary.id, earlier.summary.time = "earlier", NOW - timedelta(seconds=2)
    store.save_check(later)
    store.save_check(earlier)  # finished last
    assert [c.id for c in store.checks(1)] == ["later"]
    assert [c.id for c in store.checks()] == ["earlier", "later"]
    assert [c.id for c in store.checks(5)] == ["earlier", "later"]
