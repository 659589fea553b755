"""One representation of time in new schemas: aware UTC datetimes, ISO 8601 in JSON.

The registry's schemas carry MLflow's milliseconds since the epoch and the deployment files float
seconds; both stay as they are, for the clients that read them. Schemas added from now on (jobs,
monitoring, A/B tests) use :data:`Timestamp`, and convert at the edge with the helpers below.

Example:
    >>> from pydantic import BaseModel
    >>> class Event(BaseModel):
    ...     at: Timestamp
    >>> Event(at=from_epoch_millis(0)).model_dump_json()
    '{"at":"1970-01-01T00:00:00Z"}'
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("a timestamp needs a time zone, e.g. 2026-01-31T12:00:00Z")
    try:
        return value.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 is before the first UTC datetime
        raise ValueError(f"{value.isoformat()} is out of range in UTC") from None


#: A point in time with its time zone, kept in UTC; a naive datetime is refused.
Timestamp = Annotated[datetime, AfterValidator(_utc)]


def utc_now() -> datetime:
    """Now, in UTC."""
    return datetime.now(UTC)


def from_epoch_millis(millis: int | float) -> datetime:
    """MLflow's milliseconds since the epoch as a UTC datetime."""
    return datetime.fromtimestamp(millis / 1000, UTC)


def from_epoch_seconds(seconds: float) -> datetime:
    """Seconds since the epoch (``time.time()``) as a UTC datetime."""
    return datetime.fromtimestamp(seconds, UTC)
