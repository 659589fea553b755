"""Reading triggers: what happened since a trigger's cursor, as events.

Each trigger keeps a small state in the pipeline's cursors (see :mod:`.store`). On its first read
a trigger only notes where things stand: what happened before a pipeline was applied does not
start it. The rules for what happened while nobody was watching (the scheduler process stopped,
the machine off):

- **schedule**: ticks that fell while the scheduler was down give *one* run, for the latest tick;
  the earlier ones are recorded as one ``missed`` event with their count (catch-up runs once,
  like anacron, rather than once per lost tick);
- **alert**, **ingest**: every alert or batch since the cursor is an event, so the first starts a
  run and the others are absorbed by it;
- **freshness**: a view fires when it is seen stale after being seen fresh.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_mlops.errors import MlopsError
from jupyter_mlops.pipelines.schemas import (
    AlertTrigger,
    FreshnessTrigger,
    IngestTrigger,
    ScheduleTrigger,
    TriggerKind,
)

if TYPE_CHECKING:
    from jupyter_mlops.features.service import FeatureStore
    from jupyter_mlops.monitoring.service import Monitoring
    from jupyter_mlops.pipelines.schemas import Trigger

#: Staleness is read this often at most (it scans the view's rows).
FRESHNESS_EVERY = timedelta(seconds=60)


@dataclass
class Happened:
    """One thing a trigger saw: it becomes a :class:`TriggerEvent` of the pipeline."""

    id: str
    kind: TriggerKind
    time: datetime
    summary: str
    evidence: dict[str, Any] = field(default_factory=dict)
    missed: bool = False


def trigger_key(trigger: Trigger) -> str:
    if isinstance(trigger, ScheduleTrigger):
        return f"schedule:{trigger.cron}:{trigger.timezone}"
    if isinstance(trigger, AlertTrigger):
        return f"alert:{trigger.deployment}"
    return f"{trigger.kind}:{trigger.view}"


def describe(trigger: Trigger) -> str:
    if isinstance(trigger, ScheduleTrigger):
        zone = "" if trigger.timezone == "UTC" else f" ({trigger.timezone})"
        return f"on schedule {trigger.cron}{zone}"
    if isinstance(trigger, AlertTrigger):
        kinds = ", ".join(trigger.alerts) if trigger.alerts else "any"
        return f"on a monitoring alert ({kinds}) of deployment {trigger.deployment}"
    if isinstance(trigger, IngestTrigger):
        return f"on new data ingested into {trigger.view}"
    return f"when feature view {trigger.view} gets older than its TTL"


def next_fire(trigger: ScheduleTrigger, after: datetime) -> datetime:
    from croniter import croniter

    zone = zoneinfo.ZoneInfo(trigger.timezone)
    value: datetime = croniter(trigger.cron, after.astimezone(zone)).get_next(datetime)
    return value.astimezone(after.tzinfo)


class Watcher:
    """Reads the triggers of pipelines from the services that produce their events."""

    def __init__(self, monitoring: Monitoring, features: FeatureStore) -> None:
        self.monitoring = monitoring
        self.features = features

    def read(
        self, trigger: Trigger, state: dict[str, Any], now: datetime
    ) -> tuple[list[Happened], dict[str, Any]]:
        """What happened since ``state`` (the trigger's cursor), and the new cursor."""
        if isinstance(trigger, ScheduleTrigger):
            return self._schedule(trigger, state, now)
        if isinstance(trigger, AlertTrigger):
            return self._alerts(trigger, state, now)
        if isinstance(trigger, IngestTrigger):
            return self._ingest(trigger, state)
        return self._freshness(trigger, state, now)

    # -- schedule ---------------------------------------------------------------------------------

    def _schedule(
        self, trigger: ScheduleTrigger, state: dict[str, Any], now: datetime
    ) -> tuple[list[Happened], dict[str, Any]]:
        if "after" not in state:
            return [], {"after": now.isoformat()}
        after = datetime.fromisoformat(state["after"])
        due: list[datetime] = []
        tick = next_fire(trigger, after)
        while tick <= now:
            due.append(tick)
            if len(due) > 100_000:  # an every-minute schedule down for months: stop counting
                break
            tick = next_fire(trigger, tick)
        if not due:
            return [], state
        happened: list[Happened] = []
        latest = due[-1]
        if len(due) > 1:
            happened.append(
                Happened(
                    id=f"schedule:{due[0].isoformat()}..{due[-2].isoformat()}",
                    kind="schedule",
                    time=due[-2],
                    summary=f"{len(due) - 1} tick(s) of {trigger.cron} passed while the "
                    f"scheduler was not running ({due[0]:%Y-%m-%d %H:%M} to "
                    f"{due[-2]:%Y-%m-%d %H:%M} UTC); one run is made for the latest tick",
                    evidence={"cron": trigger.cron, "missed": len(due) - 1},
                    missed=True,
                )
            )
        late = (now - latest).total_seconds()
        happened.append(
            Happened(
                id=f"schedule:{latest.isoformat()}",
                kind="schedule",
                time=latest,
                summary=f"schedule {trigger.cron}: tick of {latest:%Y-%m-%d %H:%M} UTC"
                + (f" (taken {late:.0f} s late)" if late >= 60 else ""),
                evidence={"cron": trigger.cron, "tick": latest.isoformat()},
            )
        )
        return happened, {"after": latest.isoformat()}

    # -- monitoring alerts ------------------------------------------------------------------------

    def _alerts(
        self, trigger: AlertTrigger, state: dict[str, Any], now: datetime
    ) -> tuple[list[Happened], dict[str, Any]]:
        if "since" not in state:
            return [], {"since": now.isoformat(), "last_id": ""}
        since = datetime.fromisoformat(state["since"])
        last_id = str(state.get("last_id", ""))
        try:
            events = self.monitoring.events(trigger.deployment, since=since).events
        except MlopsError:
            return [], state  # the deployment was removed: nothing to read
        happened: list[Happened] = []
        newest_time, newest_id = since, last_id
        for event in events:
            if (event.time, event.id) <= (since, last_id):
                continue
            if (event.time, event.id) > (newest_time, newest_id):
                newest_time, newest_id = event.time, event.id
            if event.state != "firing" or (trigger.alerts and event.kind not in trigger.alerts):
                continue
            happened.append(
                Happened(
                    id=f"alert:{event.id}",
                    kind="alert",
                    time=event.time,
                    summary=f"alert {event.kind}: {event.message}",
                    evidence={
                        "alert_id": event.id,
                        "deployment": event.deployment,
                        "alert": event.kind,
                        "subject": event.subject,
                        "value": event.value,
                        "threshold": event.threshold,
                        "message": event.message,
                        "report_id": event.report_id,
                    },
                )
            )
        return happened, {"since": newest_time.isoformat(), "last_id": newest_id}

    # -- ingested data ----------------------------------------------------------------------------

    def _batches(self, view: str) -> tuple[list[Path], Path | None]:
        """The view's ingested batch files (oldest first) and, for a file source, its file."""
        folder = self.features.offline.data_dir(view)
        batches = sorted(folder.glob("*.parquet")) if folder.is_dir() else []
        source: Path | None = None
        try:
            definition = self.features.get_view(view).definition
            path = getattr(definition.source, "path", None) if definition.source else None
            if path:
                source = self.features.root / str(path)
        except MlopsError:
            pass
        return batches, source

    def _ingest(
        self, trigger: IngestTrigger, state: dict[str, Any]
    ) -> tuple[list[Happened], dict[str, Any]]:
        batches, source = self._batches(trigger.view)
        mtime = source.stat().st_mtime_ns if source is not None and source.exists() else None
        current = {"last_batch": batches[-1].name if batches else "", "source_mtime": mtime}
        if "last_batch" not in state:
            return [], current
        happened: list[Happened] = []
        for batch in batches:
            if batch.name <= str(state.get("last_batch", "")):
                continue
            written = datetime.fromtimestamp(batch.stat().st_mtime, tz=_UTC)
            happened.append(
                Happened(
                    id=f"ingest:{trigger.view}:{batch.name}",
                    kind="ingest",
                    time=written,
                    summary=f"a batch was ingested into {trigger.view} ({batch.name})",
                    evidence={"view": trigger.view, "batch": batch.name},
                )
            )
        if mtime is not None and state.get("source_mtime") not in (None, mtime) and source:
            written = datetime.fromtimestamp(mtime / 1e9, tz=_UTC)
            happened.append(
                Happened(
                    id=f"ingest:{trigger.view}:source:{mtime}",
                    kind="ingest",
                    time=written,
                    summary=f"the source file of {trigger.view} changed "
                    f"({source.name}, {written:%Y-%m-%d %H:%M:%S} UTC)",
                    evidence={"view": trigger.view, "file": source.name, "mtime_ns": mtime},
                )
            )
        return happened, current

    # -- freshness --------------------------------------------------------------------------------

    def _freshness(
        self, trigger: FreshnessTrigger, state: dict[str, Any], now: datetime
    ) -> tuple[list[Happened], dict[str, Any]]:
        read = state.get("read")
        if read is not None and now - datetime.fromisoformat(read) < FRESHNESS_EVERY:
            return [], state
        try:
            stats = self.features.stats(trigger.view)
        except MlopsError:
            return [], {**state, "read": now.isoformat()}
        current = {"read": now.isoformat(), "stale": stats.stale}
        if "stale" not in state or not stats.stale or state.get("stale"):
            return [], current
        last = stats.last_event.isoformat() if stats.last_event else "none"
        return [
            Happened(
                id=f"freshness:{trigger.view}:{last}",
                kind="freshness",
                time=now,
                summary=f"feature view {trigger.view} is stale: newest row {last}, TTL "
                f"{stats.ttl_seconds:.0f} s"
                if stats.ttl_seconds
                else f"feature view {trigger.view} is stale (newest row {last})",
                evidence={
                    "view": trigger.view,
                    "version": stats.version,
                    "last_event": last,
                    "ttl_seconds": stats.ttl_seconds,
                },
            )
        ], current


_UTC = zoneinfo.ZoneInfo("UTC")
