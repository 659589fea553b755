"""Prometheus metrics of a model server: requests, errors and latency per model version.

Replicas of one deployment share a folder (``PROMETHEUS_MULTIPROC_DIR``, set by the supervisor
before ``prometheus_client`` is imported), so a scrape of ``/metrics`` on the deployment's port
reports the sum over all replicas, whichever replica answers it.
"""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

# The *_created series double the exposition and nothing here reads them.
disable_created_metrics()  # type: ignore[no-untyped-call]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Sub-millisecond buckets: a fast model answers in a fraction of a millisecond.
LATENCY_BUCKETS = (
    0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
)  # fmt: skip


class ServerMetrics:
    """The server's counters and histogram, in a registry of its own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.multiprocess = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        labels = ["model", "version", "protocol", "status"]
        self.requests = Counter(
            "mlops_requests", "Prediction requests", labels, registry=self.registry
        )
        self.errors = Counter(
            "mlops_request_errors", "Prediction requests answered with an error", labels,
            registry=self.registry,
        )  # fmt: skip
        self.rows = Counter(
            "mlops_predicted_rows", "Rows predicted", ["model", "version"], registry=self.registry
        )
        self.latency = Histogram(
            "mlops_request_latency_seconds",
            "Time from request received to response ready",
            ["model", "version"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._children: dict[tuple[str, str, str, int], tuple[Any, Any, Any, Any]] = {}

    def observe(
        self, model: str, version: str, protocol: str, status: int, seconds: float, rows: int
    ) -> None:
        key = (model, version, protocol, status)
        children = self._children.get(key)
        if children is None:
            labels = (model, version, protocol, str(status))
            children = (
                self.requests.labels(*labels),
                self.errors.labels(*labels) if status >= 400 else None,
                self.latency.labels(model, version),
                self.rows.labels(model, version),
            )
            self._children[key] = children
        requests, errors, latency, predicted = children
        requests.inc()
        if errors is not None:
            errors.inc()
        latency.observe(seconds)
        if rows:
            predicted.inc(rows)

    def exposition(self) -> bytes:
        if self.multiprocess:
            registry = CollectorRegistry()
            MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return generate_latest(registry)
        return generate_latest(self.registry)
