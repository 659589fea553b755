"""A live run that buffers what it logs and writes it in batches.

Logging metric steps one MLflow call each costs milliseconds per value (a loop of 1,000
``mlflow.log_metric`` calls takes seconds). The recorder keeps values in memory and writes them in
one transaction when the run ends, when the buffer fills, or on :meth:`RunRecorder.flush`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_mlops.errors import InvalidInput
from jupyter_mlops.tracking.backend import mlflow_errors

if TYPE_CHECKING:
    from jupyter_mlops.tracking.backend import MlflowBackend

# Flush when this many metric values wait, so memory stays bounded in long training loops.
BUFFER_LIMIT = 20_000
# MLflow's REST API accepts at most 1,000 metrics per log_batch call.
REST_BATCH = 1000
# (key, value, timestamp ms, step)
MetricValue = tuple[str, float, int, int]


class RunRecorder:
    """Logs parameters, metrics, tags and artifacts to one MLflow run.

    Example:
        >>> rec = ws.tracking.start_run("churn", run_name="gbm-1")   # doctest: +SKIP
        >>> for step, loss in enumerate(losses):                    # doctest: +SKIP
        ...     rec.log_metric("loss", loss, step=step)
        >>> rec.finish()                                            # doctest: +SKIP
    """

    def __init__(
        self, backend: MlflowBackend, run_id: str, experiment_id: str, run_name: str | None
    ) -> None:
        self.backend = backend
        self.run_id = run_id
        self.experiment_id = experiment_id
        self.run_name = run_name
        self._metrics: list[MetricValue] = []
        self._next_step: dict[str, int] = {}
        self._params: dict[str, str] = {}
        self._tags: dict[str, str] = {}
        self.finished = False

    # -- logging --------------------------------------------------------------------------------

    def log_param(self, key: str, value: Any) -> None:
        """Record a parameter (written at the next flush)."""
        self._params[_key(key)] = str(value)

    def log_params(self, params: Mapping[str, Any]) -> None:
        for key, value in params.items():
            self.log_param(key, value)

    def set_tag(self, key: str, value: Any) -> None:
        self._tags[_key(key)] = str(value)

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        for key, value in tags.items():
            self.set_tag(key, value)

    def log_metric(
        self, key: str, value: float, step: int | None = None, timestamp: int | None = None
    ) -> None:
        """Record one metric value; ``step`` counts up from 0 per key when omitted."""
        key = _key(key)
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise InvalidInput(
                f"Metric '{key}' must be a number, got {type(value).__name__} {value!r}.",
                field=key,
            ) from None
        if step is None:
            step = self._next_step.get(key, 0)
        self._next_step[key] = int(step) + 1
        stamp = timestamp if timestamp is not None else int(time.time() * 1000)
        self._metrics.append((key, number, stamp, int(step)))
        if len(self._metrics) >= BUFFER_LIMIT:
            self.flush()

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        for key, value in metrics.items():
            self.log_metric(key, value, step=step)

    def log_artifact(self, path: Path, artifact_path: str | None = None) -> None:
        """Upload a local file now."""
        with mlflow_errors():
            self.backend.client.log_artifact(self.run_id, str(path), artifact_path)

    def log_text(self, text: str, artifact_file: str) -> None:
        with mlflow_errors():
            self.backend.client.log_text(self.run_id, text, artifact_file)

    # -- writing --------------------------------------------------------------------------------

    def flush(self) -> None:
        """Write everything buffered, in as few calls as the store allows."""
        from mlflow.entities import Param, RunTag

        params = [Param(k, v) for k, v in self._params.items()]
        tags = [RunTag(k, v) for k, v in self._tags.items()]
        metrics, self._metrics = self._metrics, []
        self._params, self._tags = {}, {}
        with mlflow_errors(f"run {self.run_id}"):
            if params or tags:
                self.backend.client.log_batch(self.run_id, params=params, tags=tags)
            if metrics:
                write_metrics(self.backend, self.run_id, metrics)

    def finish(self, status: str = "FINISHED") -> None:
        """Flush and mark the run ended with ``status`` (FINISHED, FAILED or KILLED)."""
        if self.finished:
            return
        try:
            self.flush()
        finally:
            with mlflow_errors(f"run {self.run_id}"):
                self.backend.client.set_terminated(self.run_id, status=status)
            self.finished = True

    def __enter__(self) -> RunRecorder:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self.finish("FAILED" if exc_type is not None else "FINISHED")

    def __repr__(self) -> str:
        return f"RunRecorder(run_id={self.run_id!r}, run_name={self.run_name!r})"


def _key(key: str) -> str:
    if not isinstance(key, str) or not key:
        raise InvalidInput(f"A name must be a non-empty string, got {key!r}.")
    return key


def write_metrics(backend: MlflowBackend, run_id: str, metrics: list[MetricValue]) -> None:
    """Write metric values to a run.

    On a SQL store (SQLite, PostgreSQL) the values go in as one bulk insert through MLflow's own
    table definitions; MLflow's ``log_batch`` builds one ORM object per value and costs ~65 ms per
    1,000 values here. Elsewhere (a remote tracking server) it uses ``log_batch`` in chunks of
    1,000, the most the REST API takes.
    """
    engine = backend.sql_engine
    if engine is not None:
        _insert_metrics(engine, run_id, metrics)
        return
    from mlflow.entities import Metric

    for start in range(0, len(metrics), REST_BATCH):
        chunk = metrics[start : start + REST_BATCH]
        backend.client.log_batch(run_id, metrics=[Metric(k, v, t, s) for k, v, t, s in chunk])


def _sanitize(value: float) -> tuple[float, bool]:
    # MLflow's convention: NaN is stored as 0 with is_nan set; infinities as +/- max float.
    if math.isnan(value):
        return 0.0, True
    if math.isinf(value):
        return (1.7976931348623157e308 if value > 0 else -1.7976931348623157e308), False
    return value, False


def _insert_metrics(engine: Any, run_id: str, metrics: Iterable[MetricValue]) -> None:
    import sqlalchemy as sa
    from mlflow.store.tracking.dbmodels.models import SqlLatestMetric, SqlMetric, SqlRun

    rows: dict[tuple[str, int, int, float, bool], dict[str, Any]] = {}
    latest: dict[str, dict[str, Any]] = {}
    for key, raw, stamp, step in metrics:
        value, is_nan = _sanitize(raw)
        row = {
            "key": key,
            "value": value,
            "timestamp": stamp,
            "step": step,
            "is_nan": is_nan,
            "run_uuid": run_id,
        }
        rows.setdefault((key, stamp, step, value, is_nan), row)
        best = latest.get(key)
        if best is None or (step, stamp, value) > (best["step"], best["timestamp"], best["value"]):
            latest[key] = row
    metric_table = SqlMetric.__table__
    latest_table = SqlLatestMetric.__table__
    with engine.begin() as conn:
        status = conn.execute(
            sa.select(SqlRun.__table__.c.lifecycle_stage).where(
                SqlRun.__table__.c.run_uuid == run_id
            )
        ).scalar_one_or_none()
        if status is None:
            raise InvalidInput(f"Run '{run_id}' does not exist.", field="run_id")
        if status != "active":
            raise InvalidInput(f"Run '{run_id}' is deleted; it cannot take new metrics.")
        existing = {
            (r.key, r.timestamp, r.step, r.value, r.is_nan)
            for r in conn.execute(
                sa.select(
                    metric_table.c.key,
                    metric_table.c.timestamp,
                    metric_table.c.step,
                    metric_table.c.value,
                    metric_table.c.is_nan,
                ).where(
                    metric_table.c.run_uuid == run_id,
                    metric_table.c.key.in_(sorted(latest)),
                    metric_table.c.step.between(
                        min(r["step"] for r in rows.values()), max(r["step"] for r in rows.values())
                    ),
                )
            )
        }
        fresh = [row for ident, row in rows.items() if ident not in existing]
        if fresh:
            conn.execute(metric_table.insert(), fresh)
        current = {
            r.key: r
            for r in conn.execute(
                sa.select(latest_table).where(
                    latest_table.c.run_uuid == run_id, latest_table.c.key.in_(sorted(latest))
                )
            )
        }
        for key, row in latest.items():
            old = current.get(key)
            if old is None:
                conn.execute(latest_table.insert(), [row])
            elif (row["step"], row["timestamp"], row["value"]) > (
                old.step,
                old.timestamp,
                old.value,
            ):
                conn.execute(
                    latest_table.update()
                    .where(latest_table.c.run_uuid == run_id, latest_table.c.key == key)
                    .values(
                        value=row["value"],
                        timestamp=row["timestamp"],
                        step=row["step"],
                        is_nan=row["is_nan"],
                    )
                )
