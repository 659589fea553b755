"""The prediction log's segments: rotation by age, damaged bytes, recovery that cannot close."""

from __future__ import annotations

import time
from pathlib import Path

import orjson

from jupyter_mlops.serving.predlog import (
    DONE_SUFFIX,
    OPEN_SUFFIX,
    PredictionLog,
    ReadReport,
    iter_records,
    read_predictions,
)
from tests.helpers import wait_for


def record(i: int) -> dict[str, object]:
    return {"id": f"r{i}", "time": time.time(), "status": 200, "rows": 1}


def test_a_quiet_log_closes_its_segment_after_segment_seconds(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path, fsync_interval=0, segment_seconds=0.2)
    try:
        log.append(record(1))
        # Nobody appends again: the background thread closes the segment once it is old.
        wait_for(lambda: bool(list(tmp_path.glob(f"*{DONE_SUFFIX}"))), "the closed segment", 20)
        assert not list(tmp_path.glob(f"*{OPEN_SUFFIX}"))
        log.append(record(2))  # opens a new segment
        assert len(list(tmp_path.glob(f"*{OPEN_SUFFIX}"))) == 1
        wait_for(lambda: len(list(tmp_path.glob(f"*{DONE_SUFFIX}"))) == 2, "the second", 20)
    finally:
        log.close()
    assert [r["id"] for r in read_predictions(tmp_path)] == ["r1", "r2"]


def test_a_busy_log_rotates_by_age_without_losing_a_record(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path, segment_bytes=1 << 20, fsync_interval=0.05, segment_seconds=0.1)
    n = 0
    try:
        while len(list(tmp_path.glob(f"*{DONE_SUFFIX}"))) < 3:  # appends go on meanwhile
            log.append(record(n))
            n += 1
    finally:
        log.close()
    assert [r["id"] for r in read_predictions(tmp_path)] == [f"r{i}" for i in range(n)]


def test_a_nul_run_hides_no_later_record_and_damage_is_counted(tmp_path: Path) -> None:
    lines = [orjson.dumps(record(i)) + b"\n" for i in range(6)]
    data = (
        lines[0]
        + lines[1][:10]
        + b"\0" * 300  # a page the machine never wrote, in the middle of record 1
        + lines[2]
        + b"[1, 2]\n"  # valid JSON, not a record
        + b"42\n"
        + lines[3]
        + b"\0" * 64
        + b"\n"
        + lines[4]
        + b"{not json\n"
        + lines[5]
    )
    (tmp_path / f"20260101T000000-1-000001{DONE_SUFFIX}").write_bytes(data)
    report = ReadReport()
    got = [r["id"] for r in iter_records(tmp_path, report)]
    assert got == ["r0", "r2", "r3", "r4", "r5"]
    assert report.damaged == 4  # the cut record 1, the list, the number, the bad line
    assert report.records == 5


def test_a_directory_named_like_an_orphan_does_not_stop_a_replica(tmp_path: Path) -> None:
    dead = 2**22 + 777
    (tmp_path / f"20260101T000000-{dead}-000001{OPEN_SUFFIX}").mkdir()
    orphan = tmp_path / f"20260101T000000-{dead + 1}-000001{OPEN_SUFFIX}"
    orphan.write_bytes(orjson.dumps(record(1)) + b"\n" + b"\0" * 100)
    log = PredictionLog(tmp_path, fsync_interval=0)
    log.append(record(2))
    log.close()
    assert log.recovery.closed == 1
    assert list(log.recovery.skipped) == [f"20260101T000000-{dead}-000001{OPEN_SUFFIX}"]
    assert "not a regular file" in next(iter(log.recovery.skipped.values()))
    assert [r["id"] for r in read_predictions(tmp_path)] == ["r1", "r2"]
