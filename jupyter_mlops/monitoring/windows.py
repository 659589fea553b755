"""Which part of a prediction log a figure is computed on: ``1h``, a time range, or the last N.

Example:
    >>> Window.parse("90m").label
    '90m'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from jupyter_mlops.errors import InvalidInput
from jupyter_mlops.monitoring.schemas import WindowSpan
from jupyter_mlops.timestamps import utc_now

_DURATION = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(s|m|h|d|w)\s*$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(text: str, *, field: str = "window") -> timedelta:
    """``30s``, ``15m``, ``1h``, ``7d``, ``2w`` as a timedelta.

    Raises:
        InvalidInput: anything else, naming the field.
    """
    match = _DURATION.match(text or "")
    if not match or float(match.group(1)) <= 0:
        raise InvalidInput(
            f"{field} {text!r} is not a duration",
            hint="Write a number and a unit: 30s, 15m, 1h, 7d or 2w.",
            field=field,
        )
    return timedelta(seconds=float(match.group(1)) * _UNIT[match.group(2)])


@dataclass(frozen=True)
class Window:
    """A window of the log: ``[start, end]`` (either open), or the last ``last`` predicted rows."""

    start: datetime | None = None
    end: datetime | None = None
    last: int | None = None
    label: str = "all"

    @classmethod
    def parse(
        cls,
        window: str | None = None,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        last: int | None = None,
        now: datetime | None = None,
    ) -> Window:
        """One window from what a face received: a duration ending now (or at ``end``), a range,
        or the last N rows. Giving a duration and a start, or ``last`` with either, is an error."""
        for name, value in (("start", start), ("end", end)):
            if value is not None and (value.tzinfo is None or value.utcoffset() is None):
                raise InvalidInput(
                    f"{name} {value.isoformat()} has no time zone",
                    hint="Add one, e.g. 2026-01-31T12:00:00Z.",
                    field=name,
                )
        if last is not None:
            if last < 1:
                raise InvalidInput("last must be at least 1", field="last")
            if window or start or end:
                raise InvalidInput(
                    "last cannot be combined with window, start or end",
                    hint="Ask for the last N predictions, or for a time window, not both.",
                    field="last",
                )
            return cls(last=last, label=f"last {last}")
        if window and start is not None:
            raise InvalidInput(
                "window and start cannot both be given",
                hint="Give a duration (it ends now, or at end) or a start and an end.",
                field="window",
            )
        if window:
            stop = end or now or utc_now()
            return cls(start=stop - parse_duration(window), end=stop, label=window)
        if start is not None and end is not None and end < start:
            raise InvalidInput("end is before start", field="end")
        if start is None and end is None:
            return cls(label="all")
        label = f"{start.isoformat() if start else '...'} to {end.isoformat() if end else 'now'}"
        return cls(start=start, end=end, label=label)

    def before(self, duration: str) -> Window:
        """The window of ``duration`` that ends where this one starts (to compare the two).

        Raises:
            InvalidInput: this window has no start (``last`` N rows, or everything).
        """
        if self.start is None:
            raise InvalidInput(
                f"Cannot compare {self.label!r} with the {duration} before it: it has no start",
                hint="Give the current window as a duration (--window 1h) or a time range.",
                field="against",
            )
        return Window.parse(duration, end=self.start)

    def span(self) -> WindowSpan:
        return WindowSpan(start=self.start, end=self.end, last=self.last, label=self.label)

    def seconds(self) -> float | None:
        if self.start is None or self.end is None:
            return None
        return (self.end - self.start).total_seconds()
