"""Monitoring of deployments: drift, API metrics, model quality, feature freshness and alerts.

Everything is computed from what serving already writes: the prediction log of each deployment
(compacted to Parquet, read by time window with DuckDB), the reference profile stored with each
model version at registration, feedback (ground truth by request id) and the feature views'
freshness. A *check* computes all of it for one window, stores it as one point of the deployment's
time series with its evidence, and turns threshold crossings into alert events. The workspace's
scheduler runs a check of every running deployment on its interval, whether or not JupyterLab is
open (:mod:`jupyter_mlops.monitoring.scheduler`).

Prediction (output) drift compares a window's outputs with the outputs of the first window that a
check saw for the same model version (the *baseline*, stored once in the monitoring folder): the
training data has no predictions to compare with.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_mlops.config import FeatureDriftConfig, MonitoringConfig
from jupyter_mlops.errors import InvalidInput, MlopsError, NotFound
from jupyter_mlops.lineage import FeaturesUsed, ReferenceProfile, profile_frame
from jupyter_mlops.lineage.profile import require_current_format
from jupyter_mlops.lineage.refs import ModelRef
from jupyter_mlops.lineage.tags import FEATURES_TAG
from jupyter_mlops.monitoring.alerts import breaches, thresholds_for
from jupyter_mlops.monitoring.figures import (
    api_metrics,
    input_columns,
    output_columns,
    quality_report,
)
from jupyter_mlops.monitoring.scheduler import Scheduler
from jupyter_mlops.monitoring.schemas import (
    AlertEvent,
    ApiMetrics,
    CheckList,
    CheckReport,
    CheckSummary,
    DroppedFile,
    EventList,
    FeedbackItem,
    FeedbackResult,
    LogInfo,
    MonitorStatus,
    MonitorStatusList,
    QualityReport,
    SchedulerState,
    StaleView,
)
from jupyter_mlops.monitoring.store import MonitorStore, new_id
from jupyter_mlops.monitoring.windows import Window
from jupyter_mlops.timestamps import utc_now

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]

    from jupyter_mlops.features.service import FeatureStore
    from jupyter_mlops.monitoring.drift import DriftReport
    from jupyter_mlops.registry.service import ModelRegistry
    from jupyter_mlops.serving.deployments import Deployments
    from jupyter_mlops.serving.schemas import DeploymentInfo, ServedVersion

#: Input columns in the log are ``input.<feature>``; drift reports name the feature alone.
INPUT_PREFIX = "input."


class Monitoring:
    """Monitoring of a workspace's deployments.

    Args:
        state_dir: the workspace's ``.mlops/``; monitoring keeps its files in ``monitoring/``.
        deployments: where the deployments and their prediction logs are.
        registry: the model versions' reference profiles and lineage.
        features: feature views, for freshness.
        config: ``[monitoring]``.
        scheduler_command: how to start the scheduler process (module and arguments), given by
            the workspace; None: this process cannot start one.
        retention: a deployment's log retention (days, MB), for reporting it.
    """

    def __init__(
        self,
        state_dir: Path,
        *,
        deployments: Deployments,
        registry: ModelRegistry,
        features: FeatureStore,
        config: MonitoringConfig,
        scheduler_command: tuple[str, list[str]] | None = None,
        retention: Callable[[str], tuple[float, float]] | None = None,
    ) -> None:
        self.folder = state_dir / "monitoring"
        self.deployments = deployments
        self.registry = registry
        self.features = features
        self.config = config
        self.scheduler = Scheduler(self.folder / "scheduler", scheduler_command)
        #: (max_age_days, max_size_mb) of a deployment's prediction log, from ``[predictions]``
        self.retention = retention or (lambda name: (30.0, 2048.0))
        self._last_check: dict[str, datetime | None] = {}

    # -- the prediction log ------------------------------------------------------------------------

    def _deployment(self, name: str) -> DeploymentInfo:
        return self.deployments.get(name)  # NotFound with close names

    def _log_folder(self, name: str) -> Path:
        return self.deployments.predictions / name

    def read_log(
        self,
        name: str,
        window: Window,
        columns: list[str] | None = None,
        *,
        include_shadow: bool = False,
    ) -> pa.Table:
        """A window of a deployment's prediction log as Arrow, one row per predicted row.

        Shadow copies (an A/B test's challenger answering a copy nobody sees) are left out
        unless asked for: they are not traffic, so request counts, latency, drift and quality
        never count them."""
        import pyarrow.compute as pc  # type: ignore[import-untyped, unused-ignore]

        from jupyter_mlops.serving.predictions import read_window

        self._deployment(name)
        wanted = columns
        if columns is not None and not include_shadow and "shadow" not in columns:
            wanted = [*columns, "shadow"]
        table = read_window(
            self._log_folder(name),
            start=window.start,
            end=window.end,
            last=window.last,
            columns=wanted,
        )
        if not include_shadow and "shadow" in table.column_names:
            shadow = pc.fill_null(table["shadow"], False)
            if pc.any(shadow).as_py():
                table = table.filter(pc.invert(shadow))
            if wanted is not columns:
                table = table.drop_columns(["shadow"])
        return table

    def predictions(
        self,
        name: str,
        window: Window | str | None = None,
        *,
        since: datetime | str | None = None,
        last: int | None = None,
        include_shadow: bool = False,
    ) -> pd.DataFrame:
        """A deployment's prediction log as a DataFrame, one row per predicted row, oldest first.

        The way to read the log: it covers the compacted Parquet files and the segments not
        compacted yet, including the live one each replica is writing (a memory-mapped file
        padded with NUL bytes, which ``pandas.read_json`` cannot read). Works on a stopped
        deployment too.

        Columns: ``request_id``, ``row``, ``time``, ``model``, ``version``, ``status``,
        ``latency_ms``, ``input.<feature>``, ``key.<key>``, ``output`` (or ``output.<j>``);
        during an A/B test also ``variant``, ``experiment_id``, ``sticky_key`` and ``shadow``
        (shadow copies only when asked for).

        Args:
            name: the deployment.
            window: a duration ending now (``"15m"``, ``"1h"``, ``"1d"``) or a :class:`Window`;
                default: everything.
            since: instead, everything from this moment (an aware datetime or ISO 8601 text).
            last: instead, the last N predicted rows.

        Raises:
            NotFound: no such deployment.
            InvalidInput: a bad duration, a naive datetime, or more than one of window, since
                and last.

        Example:
            >>> ws.monitoring.predictions("churn", "1h")  # doctest: +SKIP
            >>> ws.monitoring.predictions("churn", last=100)  # doctest: +SKIP
        """
        if isinstance(window, Window):
            if since is not None or last is not None:
                raise InvalidInput("Give a Window, or since/last, not both", field="window")
            chosen = window
        else:
            if isinstance(since, str):
                since = _moment(since)
            chosen = Window.parse(window, start=since, last=last)
        return self.read_log(name, chosen, include_shadow=include_shadow).to_pandas()

    def log_info(self, name: str) -> LogInfo:
        """What the deployment's prediction log holds (compacted and pending) and every file
        retention dropped, with why."""
        from jupyter_mlops.serving.predictions import (
            compacted_files,
            pending_segments,
            read_retention,
        )
        from jupyter_mlops.timestamps import from_epoch_seconds

        self._deployment(name)
        folder = self._log_folder(name)
        files = compacted_files(folder)
        pending = pending_segments(folder) if folder.is_dir() else []
        retention = self.retention(name)
        return LogInfo(
            deployment=name,
            folder=str(folder),
            parquet_files=len(files),
            parquet_bytes=sum(f.bytes for f in files),
            pending_segments=len(pending),
            pending_bytes=sum(_size(p) for p in pending),
            first=from_epoch_seconds(min(f.first for f in files) / 1e6) if files else None,
            last=from_epoch_seconds(max(f.last for f in files) / 1e6) if files else None,
            max_age_days=retention[0],
            max_size_mb=retention[1],
            dropped=[
                DroppedFile(
                    file=d.file,
                    requests=d.records,
                    rows=d.rows,
                    bytes=d.bytes,
                    reason=d.reason,
                    first=d.first,
                    last=d.last,
                    time=d.time,
                )
                for d in read_retention(folder)
            ],
        )

    # -- figures ----------------------------------------------------------------------------------

    def metrics(self, name: str, window: Window) -> ApiMetrics:
        """Request rate, errors by status, latency p50/p95/p99 per version over a window."""
        table = self.read_log(
            name, window, ["row", "time", "model", "version", "status", "latency_ms", "rows"]
        )
        return api_metrics(table, name, window)

    def drift(
        self,
        name: str,
        window: Window,
        *,
        version: int | None = None,
        tests: dict[str, str] | str | None = None,
        thresholds: dict[str, float] | None = None,
        reference: Window | None = None,
    ) -> DriftReport:
        """Drift of a window of the log against the served version's reference profile, or
        against another window of the log (``reference``, to compare two windows)."""
        from jupyter_mlops.monitoring.drift import drift_report

        info = self._deployment(name)
        table = self.read_log(name, window)
        current = self._drift_frame(self._answered(table))
        ref: pd.DataFrame | ReferenceProfile
        if reference is not None:
            ref = self._drift_frame(self._answered(self.read_log(name, reference)))
        else:
            served = self._primary(info, version)
            ref = self._reference(served, current)
            current = _align(current, ref)
        configured_tests, configured_thresholds = self._drift_settings(name)
        if isinstance(tests, str):
            configured_tests = dict.fromkeys(current.columns, tests)
        elif tests:
            configured_tests.update(tests)
        configured_thresholds.update(thresholds or {})
        return drift_report(
            ref, current, tests=configured_tests or None, thresholds=configured_thresholds or None
        )

    def quality(self, name: str, window: Window) -> QualityReport:
        """Model quality on the window's predictions that have feedback."""
        table = self.read_log(name, window)
        return self._quality(name, window, self._answered(table))

    def freshness(self, name: str) -> list[StaleView]:
        """Freshness of the feature views the served versions read."""
        info = self._deployment(name)
        out: list[StaleView] = []
        seen: set[tuple[str, int]] = set()
        for served in info.serving:
            used = FeaturesUsed.parse(
                self.registry.version_tags(served.name).get(served.version, {}).get(FEATURES_TAG)
            )
            if used is None:
                continue
            for label in sorted(used.views):
                view, _, v = label.rpartition(":v")
                if not v.isdigit() or (view, int(v)) in seen:
                    continue
                seen.add((view, int(v)))
                try:
                    stats = self.features.stats(view, int(v))
                except MlopsError:
                    continue
                out.append(
                    StaleView(
                        view=view,
                        version=int(v),
                        stale=stats.stale,
                        last_event=stats.last_event,
                        ttl_seconds=stats.ttl_seconds,
                    )
                )
        return out

    # -- feedback ---------------------------------------------------------------------------------

    def feedback(self, name: str, items: list[FeedbackItem]) -> FeedbackResult:
        """Record ground truth by request id (and row). The same feedback twice counts once.

        Raises:
            NotFound: a request id that is not in the deployment's prediction log (named).
        """
        from jupyter_mlops.serving.feedback import record_feedback

        self._deployment(name)
        done = record_feedback(self._log_folder(name), [i.model_dump() for i in items])
        return FeedbackResult(accepted=done.accepted, duplicates=done.duplicates)

    def feedback_table(self, name: str) -> pd.DataFrame:
        """Every feedback of a deployment: ``request_id``, ``row``, ``label``, ``value`` (the
        label as a number when it is one), ``received``; the same feedback once."""
        from jupyter_mlops.serving.feedback import read_feedback

        self._deployment(name)
        return read_feedback(self._log_folder(name)).to_pandas()

    def feedback_frame(
        self,
        name: str,
        frame: pd.DataFrame,
        *,
        id_col: str = "request_id",
        label_col: str = "label",
        row_col: str | None = "row",
    ) -> FeedbackResult:
        """Record ground truth from a DataFrame with a request id and a label column (and the
        row within the request, when requests carry several rows)."""
        for col in (id_col, label_col):
            if col not in frame.columns:
                raise InvalidInput(
                    f"The feedback frame has no column {col!r}",
                    hint=f"Its columns: {', '.join(map(str, frame.columns))}. Name the request "
                    "id and label columns with id_col= and label_col=.",
                    field=col,
                )
        rows = frame[row_col] if row_col and row_col in frame.columns else None
        items = [
            FeedbackItem(
                request_id=str(rid),
                row=int(rows.iloc[i]) if rows is not None else 0,
                label=_plain(label),
            )
            for i, (rid, label) in enumerate(zip(frame[id_col], frame[label_col], strict=True))
        ]
        if not items:
            raise InvalidInput("The feedback frame has no rows", field=id_col)
        return self.feedback(name, items)

    # -- checks, time series and alerts -----------------------------------------------------------

    def window_for(self, name: str) -> str:
        override = self.config.deployment.get(name)
        return (override.window if override and override.window else None) or self.config.window

    def interval_for(self, name: str) -> float:
        override = self.config.deployment.get(name)
        if override and override.interval_seconds:
            return override.interval_seconds
        return self.config.interval_seconds

    def check(self, name: str, window: Window | None = None) -> CheckReport:
        """Compute every figure over a window (the configured one by default), store it as a
        point of the time series with its evidence, and raise or resolve alerts."""
        info = self._deployment(name)
        # A check is dated when it starts reading the log, not when it ends: two checks that
        # overlap (the scheduler's and one asked for by hand) are then ordered by the data they
        # saw, whichever finishes last.
        as_of = utc_now()
        if window is None:
            window = Window.parse(self.window_for(name))
        table = self.read_log(name, window)
        metrics = api_metrics(table, name, window)
        report_id = new_id()
        messages: list[str] = []
        drift = None
        answered = self._answered(table)
        current = self._drift_frame(answered)
        if len(current) >= self.config.min_rows:
            try:
                drift = self.drift_of_table(name, info, current)
            except MlopsError as exc:
                messages.append(f"drift not computed: {exc.message}")
        else:
            messages.append(
                f"drift not computed: {len(current)} predicted rows in the window, fewer than "
                f"min_rows = {self.config.min_rows}"
            )
        quality = self._quality(name, window, answered)
        freshness = self.freshness(name)
        summary = CheckSummary(
            id=report_id,
            deployment=name,
            time=as_of,
            window=window.span(),
            rows=len(current),
            drift_share=drift.drift_share if drift is not None else None,
            drifted=[f.feature for f in drift.features if f.drifted] if drift is not None else [],
            requests=metrics.overall.requests,
            error_rate=metrics.overall.error_rate,
            latency_p95_ms=metrics.overall.latency_p95_ms,
            quality=dict(quality.overall.metrics) if quality.overall else {},
            stale_views=[v.view for v in freshness if v.stale],
        )
        report = CheckReport(
            summary=summary,
            metrics=metrics,
            drift=drift,
            quality=quality,
            freshness=freshness,
            message="; ".join(messages) or None,
        )
        store = self._store(name)
        with store.locked():
            newest = store.checks(1)
            if newest and newest[-1].time > summary.time:
                # A check that started later has already stored what it saw: this older one
                # joins the series but does not move alerts back to an earlier state.
                report.summary.firing = sorted(store.firing())
            else:
                report.events = self._alerts(store, report)
                report.summary.firing = sorted(store.firing())
                store.save_events(report.events)
            store.save_check(report)
        self._last_check[name] = max(summary.time, self._last_check.get(name) or summary.time)
        return report

    def drift_of_table(self, name: str, info: DeploymentInfo, current: pd.DataFrame) -> DriftReport:
        from jupyter_mlops.monitoring.drift import drift_report

        served = self._primary(info, None)
        reference = self._reference(served, current)
        current = _align(current, reference)
        tests, thresholds = self._drift_settings(name)
        return drift_report(reference, current, tests=tests or None, thresholds=thresholds or None)

    def checks(self, name: str, limit: int | None = None) -> CheckList:
        """The deployment's stored checks, oldest first (the time series)."""
        self._deployment(name)
        return CheckList(deployment=name, checks=self._store(name).checks(limit))

    def check_report(self, name: str, check_id: str) -> CheckReport:
        """One stored check with its evidence."""
        self._deployment(name)
        report = self._store(name).check(check_id)
        if report is None:
            raise NotFound(
                f"Deployment {name} has no check {check_id!r}",
                hint=f"List its checks with `jupyter mlops monitor checks {name}`.",
                field="check",
            )
        return report

    def events(self, name: str | None = None, since: datetime | None = None) -> EventList:
        """Alert events (firing and resolved), oldest first; of one deployment or all."""
        if since is not None and (since.tzinfo is None or since.utcoffset() is None):
            raise InvalidInput(
                f"since {since.isoformat()} has no time zone",
                hint="Add one, e.g. 2026-01-31T12:00:00Z.",
                field="since",
            )
        names = [name] if name else self._monitored()
        if name:
            self._deployment(name)
        events = [e for n in names for e in self._store(n).events()]
        if since is not None:
            events = [e for e in events if e.time >= since]
        return EventList(events=sorted(events, key=lambda e: e.time))

    def status(self, name: str | None = None) -> MonitorStatusList:
        """Each deployment at a glance: state, traffic, errors, p95, drift and firing alerts
        from its latest check."""
        infos = [self._deployment(name)] if name else self.deployments.list()
        out = []
        for info in infos:
            store = self._store(info.name)
            checks = store.checks(1)
            last = checks[-1] if checks else None
            out.append(
                MonitorStatus(
                    deployment=info.name,
                    state=info.state,
                    serving=[f"{s.name}:{s.version}" for s in info.serving],
                    request_rate=None if last is None else _rate(last),
                    error_rate=last.error_rate if last else None,
                    latency_p95_ms=last.latency_p95_ms if last else None,
                    drift_share=last.drift_share if last else None,
                    drifted=last.drifted if last else [],
                    firing=sorted(store.firing()),
                    last_check=last.time if last else None,
                    interval_seconds=self.interval_for(info.name),
                    window=self.window_for(info.name),
                )
            )
        return MonitorStatusList(deployments=out, scheduler=self.scheduler.state())

    # -- the scheduler ----------------------------------------------------------------------------

    def scheduler_state(self) -> SchedulerState:
        return self.scheduler.state()

    def ensure_scheduler(self) -> SchedulerState:
        """Start the workspace's scheduler unless it runs (it checks every deployment on its
        interval and exits when there is none left)."""
        return self.scheduler.ensure()

    def stop_scheduler(self, timeout: float = 10.0) -> SchedulerState:
        return self.scheduler.stop(timeout)

    def due(self, now: datetime) -> list[str]:
        """The running deployments whose next check is due at ``now`` (the time of each one's
        last check is read once, then kept: this runs every few seconds in the scheduler)."""
        out = []
        for info in self.deployments.list():
            if info.state not in ("running", "degraded", "updating"):
                continue
            if info.name not in self._last_check:
                checks = self._store(info.name).checks(1)
                self._last_check[info.name] = checks[-1].time if checks else None
            last = self._last_check[info.name]
            if last is None or (now - last).total_seconds() >= self.interval_for(info.name):
                out.append(info.name)
        return out

    # -- internals --------------------------------------------------------------------------------

    def _store(self, name: str) -> MonitorStore:
        return MonitorStore(self.folder / name)

    def _monitored(self) -> list[str]:
        return sorted(d.name for d in self.deployments.list())

    def _primary(self, info: DeploymentInfo, version: int | None) -> ServedVersion:
        if version is not None:
            for served in info.serving:
                if served.version == version:
                    return served
            raise NotFound(
                f"Deployment {info.name} does not serve version {version}",
                hint="It serves " + ", ".join(f"{s.name}:{s.version}" for s in info.serving) + ".",
                field="version",
            )
        return max(info.serving, key=lambda s: (s.weight, s.version))

    def _reference(self, served: ServedVersion, current: pd.DataFrame) -> ReferenceProfile:
        """The version's training profile, plus the output baseline for prediction drift."""
        profile = self.registry.profile(ModelRef(served.name, version=served.version))
        require_current_format(profile, label=f"{served.name}:{served.version}")
        outputs = [c for c in current.columns if c == "output" or c.startswith("output.")]
        if not outputs:
            return profile
        baseline = self._output_baseline(served, current[outputs])
        known = {f.name for f in profile.features}
        extra = [f for f in baseline.features if f.name not in known]
        return profile.model_copy(update={"features": [*profile.features, *extra]})

    def _output_baseline(self, served: ServedVersion, outputs: pd.DataFrame) -> ReferenceProfile:
        from jupyter_mlops.process import write_json

        path = self.folder / "baselines" / f"{served.name}-v{served.version}.json"
        try:
            return ReferenceProfile.model_validate_json(path.read_bytes())
        except (OSError, ValueError):
            pass
        baseline = profile_frame(
            outputs,
            source=f"outputs of {served.name} v{served.version} in the first monitored window",
        )
        write_json(path, baseline)
        return baseline

    def _drift_settings(self, name: str) -> tuple[dict[str, str], dict[str, float]]:
        per_feature: dict[str, FeatureDriftConfig] = dict(self.config.feature)
        override = self.config.deployment.get(name)
        if override is not None:
            per_feature.update(override.feature)
        tests = {f: c.test for f, c in per_feature.items() if c.test}
        thresholds = {f: c.threshold for f, c in per_feature.items() if c.threshold is not None}
        return tests, thresholds

    def _answered(self, table: pa.Table) -> pa.Table:
        """The rows answered without an error, with only what drift and quality read: ids,
        model, version, inputs and outputs (selected before filtering: one copy, not two)."""
        import pyarrow.compute as pc  # type: ignore[import-untyped, unused-ignore]

        names = table.column_names
        ids = [c for c in ("request_id", "row", "model", "version") if c in names]
        keep = ids + input_columns(names) + output_columns(names)
        if "status" not in names or not table.num_rows:
            return table.select(keep)
        status = table["status"]
        return table.select(keep).filter(pc.less(status, 400))

    def _drift_frame(self, answered: pa.Table) -> pd.DataFrame:
        """The answered rows' inputs (named as features) and outputs."""
        names = answered.column_names
        keep = input_columns(names) + output_columns(names)
        frame = answered.select(keep).to_pandas()
        return frame.rename(columns={c: c[len(INPUT_PREFIX) :] for c in input_columns(names)})

    def _quality(self, name: str, window: Window, answered: pa.Table) -> QualityReport:
        from jupyter_mlops.serving.feedback import read_feedback

        names = answered.column_names
        labels = read_feedback(self._log_folder(name))
        keep = ["request_id", "row", "model", "version", *output_columns(names)]
        predicted = answered.select([c for c in keep if c in names])
        if labels.num_rows and predicted.num_rows:
            joined = predicted.join(
                labels.select(["request_id", "row", "label"]),
                ["request_id", "row"],
                join_type="inner",
            )
            frame = joined.to_pandas().dropna(subset=["label"])
        else:
            import pandas as pd

            frame = pd.DataFrame(columns=[*keep, "label"])
        return quality_report(frame, name, window, predicted=predicted.num_rows)

    def _alerts(self, store: MonitorStore, report: CheckReport) -> list[AlertEvent]:
        name = report.summary.deployment
        limits = thresholds_for(self.config, name)
        found = {b.key: b for b in breaches(report, limits)}
        firing = store.firing()
        events: list[AlertEvent] = []
        now = report.summary.time
        for key, breach in found.items():
            if key in firing:
                continue
            event = AlertEvent(
                id=new_id(),
                deployment=name,
                time=now,
                kind=breach.kind,
                state="firing",
                subject=breach.subject,
                value=breach.value,
                threshold=breach.threshold,
                message=breach.message,
                window=report.summary.window,
                report_id=report.summary.id,
            )
            firing[key] = event
            events.append(event)
        for key in [k for k in firing if k not in found]:
            was = firing.pop(key)
            events.append(
                was.model_copy(
                    update={
                        "id": new_id(),
                        "time": now,
                        "state": "resolved",
                        "message": f"resolved: {was.message}",
                        "report_id": report.summary.id,
                        "delivered": None,
                        "delivery_error": None,
                    }
                )
            )
        if self.config.webhook_url:
            from jupyter_mlops.monitoring.webhook import deliver

            for event in events:
                deliver(self.config.webhook_url, event)
        store.set_firing(firing)
        return events


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _align(current: pd.DataFrame, reference: ReferenceProfile) -> pd.DataFrame:
    """Current columns in the reference's terms: a model whose signature takes a boolean as a
    number logs 0.0/1.0 where the training frame held False/True."""
    out = current
    for feature in reference.features:
        name = feature.name
        if name not in current.columns or feature.dtype not in ("bool", "boolean"):
            continue
        column = current[name]
        if column.dtype.kind in "iuf" and column.dropna().isin([0, 1]).all():
            if out is current:
                out = current.copy()
            out[name] = column.map({0: False, 1: True}).astype("boolean")
    return out


def _rate(summary: CheckSummary) -> float | None:
    span = summary.window
    if span.start is None or span.end is None:
        return None
    seconds = (span.end - span.start).total_seconds()
    return summary.requests / seconds if seconds > 0 else None


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value it holds (labels go to JSON)."""
    item = getattr(value, "item", None)
    return item() if callable(item) else value


def _moment(text: str) -> datetime:
    """An ISO 8601 moment with its time zone (``Z`` allowed)."""
    try:
        return datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(
            f"since {text!r} is not an ISO 8601 time",
            hint="e.g. 2026-01-31T12:00:00Z",
            field="since",
        ) from None
