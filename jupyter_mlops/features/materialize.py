"""Materialization: the newest offline row per entity key, loaded into the online store.

One view version at a time: :func:`materialize_view` reads, per entity key, the row with the
newest event time in ``(start, end]`` (DuckDB, :meth:`OfflineStore.latest_rows`), writes it to the
online store, where newest wins, and moves the version's watermark to ``end``.

Ties: of rows with the same key and event time, the one a training frame takes is the one
written (the later created, else the later read; see "Ties" in
:mod:`jupyter_mlops.features.offline`). All rows of one event time fall in the same window, so
each write brings the winner of its whole tie; the online store lets an equal event time replace
the stored row (the later write wins), so a reload of the window writes the winner again.

Windows and watermarks:
    ``start=None`` means "from the version's watermark" (from the beginning the first time), so
    calling it again and again loads only rows that are new since the last call. The window is
    open at ``start`` and closed at ``end``: a row at exactly ``end`` is the value as of ``end``,
    as in a point-in-time join, and consecutive windows never read a row twice. The watermark
    follows event time, so a row that arrives late (ingested with an event time before the
    watermark) is not picked up incrementally; materialize with an explicit ``start`` to load it.
    Newest-wins makes reloading harmless: an older row never overwrites a newer one.

Time zones:
    The offline rule holds: ``start`` and ``end`` must be naive for a view whose event times are
    naive and aware for one whose event times are aware. ``end=None`` is now (UTC), and the stored
    watermark (UTC) is turned into the view's kind, so naive event times are taken as UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

from jupyter_mlops.errors import InvalidInput
from jupyter_mlops.features.schemas import MaterializeResult

if TYPE_CHECKING:
    import pandas as pd

    from jupyter_mlops.features.offline import OfflineStore
    from jupyter_mlops.features.online.base import OnlineStore
    from jupyter_mlops.features.schemas import ViewVersion

TimeKind = Literal["naive", "aware"]


@dataclass(frozen=True)
class Window:
    """What one view version's materialization reads: event times in ``(start, end]``."""

    view: ViewVersion
    kind: TimeKind | None
    start: datetime | None
    end: datetime
    # True when end=None (now) is before the watermark: nothing to read, the watermark stays.
    behind: bool = False


def window(
    offline: OfflineStore,
    online: OnlineStore,
    view: ViewVersion,
    start: datetime | None = None,
    end: datetime | None = None,
) -> Window:
    """Check ``start`` and ``end`` for one view version and work out its window.

    Raises:
        InvalidInput: ``start``/``end`` are naive for a view stored aware (or the reverse),
            ``end`` is before ``start``, or an explicit ``end`` is before the watermark when
            ``start`` is None (the window would run backwards and the watermark move back).
    """
    kind = offline.timestamp_kind(view)
    for name, value in (("start", start), ("end", end)):
        if value is not None and kind is not None and _kind_of(value) != kind:
            raise InvalidInput(
                f"'{name}' is {_kind_of(value)} but {view.label}'s event times "
                f"('{view.definition.timestamp_field}') are {kind}; naive and aware timestamps "
                "are never compared.",
                hint="Give an aware datetime, e.g. datetime(2026, 1, 1, tzinfo=UTC)."
                if kind == "aware"
                else "Give a naive datetime (taken as UTC).",
                field=name,
            )
    given = end or start
    effective_kind: TimeKind = kind or (_kind_of(given) if given is not None else "aware")
    if start is not None and end is not None:
        if _kind_of(start) != _kind_of(end):
            raise InvalidInput(
                "'start' and 'end' must both be naive or both be aware.", field="start"
            )
        if end < start:
            raise InvalidInput(
                f"'end' ({end.isoformat()}) is before 'start' ({start.isoformat()}).",
                hint="Swap them: the window is (start, end], start the earlier time.",
                field="end",
            )
        return Window(view, kind, start, end)
    explicit_end = end is not None
    if end is None:
        end = _as_kind(datetime.now(UTC), effective_kind)
    if start is not None:  # and end is now
        if end < start:
            raise InvalidInput(
                f"'start' ({start.isoformat()}) is in the future: there is nothing to load yet.",
                hint="Give a start in the past, or an end after it.",
                field="start",
            )
        return Window(view, kind, start, end)
    watermark = online.watermark(view.name, view.version)
    start = None if watermark is None else _as_kind(watermark, effective_kind)
    if start is not None and end < start:
        if not explicit_end:
            # The watermark is in the future (an earlier call gave a later end): nothing is
            # due yet, and the watermark never moves back.
            return Window(view, kind, start, start, behind=True)
        raise InvalidInput(
            f"'end' ({end.isoformat()}) is before the watermark of {view.label} "
            f"({start.isoformat()}), where its last materialization ended: the window would "
            "run backwards.",
            hint="Give an end after the watermark to load newer rows, or also give a start "
            "(--start) before the end to reload an earlier window.",
            field="end",
        )
    return Window(view, kind, start, end)


def materialize_view(
    offline: OfflineStore,
    online: OnlineStore,
    view: ViewVersion,
    start: datetime | None = None,
    end: datetime | None = None,
) -> MaterializeResult:
    """Load one view version's rows with event time in ``(start, end]`` into ``online``.

    See the module's docstring for windows, watermarks and time zones, and :func:`window`
    for what is refused.
    """
    return load_window(offline, online, window(offline, online, view, start, end))


def load_window(offline: OfflineStore, online: OnlineStore, win: Window) -> MaterializeResult:
    """Write the rows of a checked :class:`Window` and move the watermark to its end."""
    view, start, end = win.view, win.start, win.end
    written = 0
    if win.kind is not None and not win.behind and (start is None or start < end):
        rows = offline.latest_rows(view, start=start, end=end, closed="right")
        written = _write(online, view, rows)
    if online.features(view.name, view.version) is None:
        # Nothing to load, but lookups should find an empty version, not an unknown one.
        _write(online, view, _empty(view))
    if not win.behind:
        online.set_watermark(view.name, view.version, end)
    return MaterializeResult(
        view=view.name, version=view.version, rows_written=written, start=start, end=end
    )


def _empty(view: ViewVersion) -> pd.DataFrame:
    import pandas as pd

    columns = [*view.join_keys, view.definition.timestamp_field]
    columns += [f.name for f in view.definition.features]
    frame = pd.DataFrame({c: pd.Series([], dtype="object") for c in columns})
    ts = view.definition.timestamp_field
    return frame.astype({ts: "datetime64[us]"})


def _write(online: OnlineStore, view: ViewVersion, rows: pd.DataFrame) -> int:
    names = [f.name for f in view.definition.features]
    return online.write(
        view.name,
        view.version,
        rows[view.join_keys],
        rows[names],
        event_time=rows[view.definition.timestamp_field],
    )


def _kind_of(value: datetime) -> TimeKind:
    return "naive" if value.tzinfo is None or value.utcoffset() is None else "aware"


def _as_kind(value: datetime, kind: TimeKind) -> datetime:
    """``value`` as a UTC datetime, naive or aware (a naive value is taken as UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    return value.replace(tzinfo=None) if kind == "naive" else value
