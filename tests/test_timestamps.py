"""The one time representation of new schemas."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import BaseModel, ValidationError

from jupyter_mlops.timestamps import Timestamp, from_epoch_millis, from_epoch_seconds, utc_now


class Event(BaseModel):
    at: Timestamp


def test_timestamps_are_aware_utc_and_iso_in_json() -> None:
    assert Event(at="2026-01-31T12:00:00+02:00").at == datetime(2026, 1, 31, 10, tzinfo=UTC)
    assert Event(at=from_epoch_millis(1_000)).model_dump_json() == '{"at":"1970-01-01T00:00:01Z"}'
    assert from_epoch_seconds(1.5) == from_epoch_millis(1500)
    assert utc_now().tzinfo is UTC


def test_a_naive_timestamp_is_refused() -> None:
    with pytest.raises(ValidationError, match="needs a time zone"):
        Event(at="2026-01-31T12:00:00")
