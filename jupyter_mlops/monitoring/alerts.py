"""Alert rules: which figures of a check cross the thresholds of ``[monitoring]``.

A breach becomes an event when it starts (``firing``) and again when it ends (``resolved``), not at
every check while it lasts, so a webhook hears about each problem once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from jupyter_mlops.config import AlertThresholds, DeploymentMonitoring, MonitoringConfig

if TYPE_CHECKING:
    from jupyter_mlops.monitoring.schemas import AlertKind, CheckReport

#: Quality metrics where lower is better: their threshold is a maximum.
LOWER_IS_BETTER = frozenset({"rmse", "mae", "log_loss"})


@dataclass(frozen=True)
class Breach:
    kind: AlertKind
    subject: str
    value: float | None
    threshold: float | None
    message: str

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.subject}" if self.subject else self.kind


def thresholds_for(config: MonitoringConfig, deployment: str) -> AlertThresholds:
    """The workspace's thresholds with the deployment's overrides applied (keys it sets)."""
    override: DeploymentMonitoring | None = config.deployment.get(deployment)
    base = AlertThresholds.model_validate(
        {k: getattr(config, k) for k in AlertThresholds.model_fields}
    )
    if override is None:
        return base
    changes = {
        k: getattr(override, k)
        for k in AlertThresholds.model_fields
        if k in override.model_fields_set
    }
    return base.model_copy(update=changes)


def breaches(report: CheckReport, limits: AlertThresholds) -> list[Breach]:
    """Every threshold the check's figures cross."""
    found: list[Breach] = []
    name = report.summary.deployment
    drift = report.drift
    if drift is not None and report.summary.drift_share is not None:
        share = report.summary.drift_share
        if limits.drift_share is not None and share >= limits.drift_share:
            found.append(
                Breach(
                    "drift_share",
                    "",
                    share,
                    limits.drift_share,
                    f"{name}: {share:.0%} of features drifted "
                    f"({', '.join(report.summary.drifted) or '-'}), threshold "
                    f"{limits.drift_share:.0%}",
                )
            )
        if limits.feature_drift:
            for feature in report.summary.drifted:
                found.append(
                    Breach(
                        "feature_drift",
                        feature,
                        None,
                        None,
                        f"{name}: feature {feature} drifted over {report.summary.window.label}",
                    )
                )
    overall = report.metrics.overall
    if (
        limits.error_rate is not None
        and overall.error_rate is not None
        and overall.error_rate > limits.error_rate
    ):
        found.append(
            Breach(
                "error_rate",
                "",
                overall.error_rate,
                limits.error_rate,
                f"{name}: {overall.error_rate:.1%} of {overall.requests} requests failed "
                f"(threshold {limits.error_rate:.1%})",
            )
        )
    if (
        limits.latency_p95_ms is not None
        and overall.latency_p95_ms is not None
        and overall.latency_p95_ms > limits.latency_p95_ms
    ):
        found.append(
            Breach(
                "latency",
                "p95",
                overall.latency_p95_ms,
                limits.latency_p95_ms,
                f"{name}: p95 latency {overall.latency_p95_ms:.1f} ms "
                f"(threshold {limits.latency_p95_ms:.0f} ms)",
            )
        )
    quality = report.quality.overall if report.quality is not None else None
    if quality is not None:
        for metric, limit in sorted(limits.quality.items()):
            value = quality.metrics.get(metric)
            if value is None:
                continue
            worse = value > limit if metric in LOWER_IS_BETTER else value < limit
            if worse:
                side = "above the maximum" if metric in LOWER_IS_BETTER else "below the minimum"
                found.append(
                    Breach(
                        "quality",
                        metric,
                        value,
                        limit,
                        f"{name}: {metric} {value:.4g} on {quality.labelled} labelled rows is "
                        f"{side} {limit:g}",
                    )
                )
    if limits.stale_features:
        for view in report.freshness:
            if view.stale:
                found.append(
                    Breach(
                        "stale_features",
                        view.view,
                        None,
                        view.ttl_seconds,
                        f"{name}: feature view {view.view} is stale (newest row "
                        f"{view.last_event.isoformat() if view.last_event else 'none'})",
                    )
                )
    return found
