"""Compaction to Parquet, retention and window reads, on real segments, Parquet and DuckDB."""

from __future__ import annotations

import shutil
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from jupyter_mlops import Workspace
from jupyter_mlops.config import PredictionsConfig, RetentionConfig
from jupyter_mlops.errors import InvalidInput
from jupyter_mlops.serving.logtable import (
    LogSchema,
    read_schema,
    schema_from_model,
    update_schema,
)
from jupyter_mlops.serving.predictions import (
    apply_retention,
    compact,
    compacted_files,
    pending_segments,
    query_window,
    read_retention,
    read_window,
)
from jupyter_mlops.serving.predlog import DONE_SUFFIX, OPEN_SUFFIX, PredictionLog, read_predictions
from jupyter_mlops.serving.spec import ServerSpec
from tests.helpers import wait_for
from tests.serving.conftest import served, start_replica

T0 = 1_780_000_000.0  # 2026-05-28, a fixed clock for the records


def request(i: int, rows: int = 2, *, t: float | None = None, **extra: object) -> dict[str, object]:
    x = np.column_stack([np.arange(rows) + i, np.full(rows, 0.5 + i)])
    out = {
        "id": f"r{i}",
        "time": T0 + i if t is None else t,
        "deployment": "d",
        "model": "churn",
        "version": 1,
        "protocol": "mlflow",
        "status": 200,
        "latency_ms": 1.5,
        "rows": rows,
        "inputs": {"columns": ["tenure", "spend"], "data": x},
        "outputs": np.column_stack([np.full(rows, 0.25), np.full(rows, 0.75)]),
    }
    out.update(extra)
    return out


def write(folder: Path, records: list[dict[str, object]], segment_bytes: int = 4096) -> None:
    log = PredictionLog(folder, segment_bytes=segment_bytes, fsync_interval=0)
    for r in records:
        log.append(r)
    log.close()


SCHEMA = LogSchema({"input.tenure": "int64", "input.spend": "float64", "output": "float64"})


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    folder = tmp_path / "predictions" / "churn"
    update_schema(folder, SCHEMA)
    return folder


def test_compaction_gives_one_typed_row_per_predicted_row(folder: Path) -> None:
    failed = {
        "id": "bad",
        "time": T0 + 100,
        "model": "churn",
        "version": 1,
        "protocol": "v2",
        "status": 400,
        "latency_ms": 0.1,
        "rows": 0,
        "error": "Unknown input column(s) 'x'",
    }
    nobody = {**failed, "id": "nobody", "model": "-", "version": None, "status": 404}
    write(folder, [*(request(i, rows=3) for i in range(40)), failed, nobody])
    segments = list(folder.glob(f"*{DONE_SUFFIX}"))
    assert len(segments) > 1
    report = compact(folder)
    assert report.segments == len(segments) and report.records == 42
    assert report.rows == 40 * 3 + 2 and report.damaged == 0 and report.nulled == 0
    assert not list(folder.glob(f"*{DONE_SUFFIX}"))
    table = pq.read_table([f.path for f in compacted_files(folder)])
    assert table.schema.names == [
        "request_id", "row", "time", "model", "version", "protocol", "status", "latency_ms",
        "rows", "error", "input.tenure", "input.spend", "output.0", "output.1",
    ]  # fmt: skip
    types = {f.name: f.type for f in table.schema}
    assert types["row"] == pa.int32() and types["rows"] == pa.int32()
    assert types["status"] == pa.int16() and types["version"] == pa.int64()
    assert types["time"] == pa.timestamp("us", tz="UTC")
    assert types["input.tenure"] == pa.int64() and types["input.spend"] == pa.float64()
    rows = {(r["request_id"], r["row"]): r for r in table.to_pylist()}
    assert rows[("r7", 2)]["input.tenure"] == 9 and rows[("r7", 2)]["input.spend"] == 7.5
    assert rows[("r7", 2)]["output.1"] == 0.75 and rows[("r7", 2)]["rows"] == 3
    assert rows[("r7", 0)]["time"] == datetime.fromtimestamp(T0 + 7, UTC)
    bad = rows[("bad", 0)]
    assert bad["error"].startswith("Unknown input") and bad["status"] == 400
    assert bad["input.tenure"] is None and bad["rows"] == 0
    assert rows[("nobody", 0)]["version"] is None
    # Every file is sorted by time and named by its first and last record.
    for f in compacted_files(folder):
        times = pq.read_table(f.path, columns=["time"])["time"].to_pylist()
        assert times == sorted(times)
        assert datetime.fromtimestamp(f.first / 1e6, UTC) == times[0]
        assert datetime.fromtimestamp(f.last / 1e6, UTC) == times[-1]
    # The records as logged are still there for read_predictions.
    assert [r["id"] for r in read_predictions(folder)] == [f"r{i}" for i in range(40)] + [
        "bad",
        "nobody",
    ]


def test_versions_with_other_inputs_give_the_union_and_misfits_become_null(folder: Path) -> None:
    v2 = {
        **request(1),
        "version": 2,
        "inputs": {"columns": ["tenure", "region"], "data": [[1, "eu"], [2, "us"]]},
        "keys": {"customer_id": [10, 11]},
        "outputs": [0, 1],
    }
    misfit = {
        **request(2),
        "inputs": {"columns": ["tenure", "spend"], "data": [[1.5, "high"], [4, 2.0]]},
    }
    write(folder, [request(0), v2, misfit])
    report = compact(folder)
    assert report.nulled == 2 and report.nulled_columns == {"input.tenure": 1, "input.spend": 1}
    table = read_window(folder)
    names = table.schema.names
    assert (
        names.index("input.tenure") < names.index("input.region") < names.index("key.customer_id")
    )
    assert table.schema.field("input.region").type == pa.string()
    assert table.schema.field("key.customer_id").type == pa.int64()
    rows = {(r["request_id"], r["row"]): r for r in table.to_pylist()}
    assert rows[("r1", 1)]["input.region"] == "us" and rows[("r1", 1)]["input.spend"] is None
    assert rows[("r1", 1)]["output"] == 1.0 and rows[("r0", 0)]["output"] is None
    assert rows[("r2", 0)]["input.tenure"] is None and rows[("r2", 0)]["input.spend"] is None
    assert rows[("r2", 1)]["input.tenure"] == 4
    # Types first seen are kept, so later files agree.
    assert read_schema(folder).columns["key.customer_id"] == "int64"


def test_a_compactor_killed_after_the_rename_neither_loses_nor_duplicates(folder: Path) -> None:
    write(folder, [request(i) for i in range(30)])
    segments = sorted(folder.glob(f"*{DONE_SUFFIX}"))
    kept = {p.name: p.read_bytes() for p in segments}
    compact(folder)
    # As if killed after renaming the Parquet files, before deleting the segments; and a
    # temporary file of a write that never finished.
    for name, data in kept.items():
        (folder / name).write_bytes(data)
    (folder / ".x.parquet.123.tmp").write_bytes(b"half a file")
    assert pending_segments(folder) == []
    assert read_window(folder).num_rows == 60
    assert len(read_predictions(folder)) == 30
    report = compact(folder)
    assert report.segments == len(segments) and report.files == []
    assert not list(folder.glob(f"*{DONE_SUFFIX}"))
    assert read_window(folder)["request_id"].to_pylist()[::2] == [f"r{i}" for i in range(30)]


def test_a_window_opens_only_its_files(folder: Path) -> None:
    write(folder, [request(i) for i in range(10)], segment_bytes=1 << 20)
    compact(folder)
    write(folder, [request(i) for i in range(100, 110)], segment_bytes=1 << 20)
    compact(folder)
    old, _ = compacted_files(folder)
    # Break the old file: a window after it must not open it.
    old.path.write_bytes(b"not parquet")
    start = datetime.fromtimestamp(T0 + 105, UTC)
    table = read_window(folder, start=start, columns=["request_id", "row", "input.spend"])
    assert table.schema.names == ["request_id", "row", "input.spend"]
    assert table["request_id"].to_pylist() == [f"r{i}" for i in range(105, 110) for _ in (0, 1)]
    end = T0 + 107  # epoch seconds work too; the window is [start, end]
    assert read_window(folder, start="2026-05-28T20:28:25Z", end=end).num_rows == 6
    assert read_window(folder, last=3)["request_id"].to_pylist() == ["r108", "r109", "r109"]
    assert read_window(folder, last=3)["row"].to_pylist() == [1, 0, 1]


def test_read_window_includes_open_and_closed_segments_and_checks_its_arguments(
    folder: Path,
) -> None:
    write(folder, [request(i) for i in range(5)])
    compact(folder)
    write(folder, [request(i) for i in range(5, 8)])  # closed, not compacted
    log = PredictionLog(folder, fsync_interval=0)
    log.append(request(8, t=T0 + 3.5))  # open, and older than some compacted rows
    try:
        assert list(folder.glob(f"*{OPEN_SUFFIX}"))
        table = read_window(folder)
        ids = table["request_id"].to_pylist()
        assert ids == [*(f"r{i}" for i in (0, 1, 2, 3, 8, 4, 5, 6, 7) for _ in (0, 1))]
        assert table["time"].to_pylist() == sorted(table["time"].to_pylist())
        total = query_window(folder, "SELECT count(*) AS n, sum(rows) AS s FROM predictions")
        assert total.to_pylist() == [{"n": 18, "s": 36}]
        with pytest.raises(InvalidInput, match=r"No column 'input\.spnd'") as info:
            read_window(folder, columns=["input.spnd"])
        assert "input.spend" in str(info.value.hint)
        with pytest.raises(InvalidInput, match="no time zone"):
            read_window(folder, start=datetime(2026, 1, 1))
        with pytest.raises(InvalidInput, match="last cannot be combined"):
            read_window(folder, last=3, start=T0)
        with pytest.raises(InvalidInput, match="end is before start"):
            read_window(folder, start=T0 + 2, end=T0)
        with pytest.raises(InvalidInput, match="query failed"):
            query_window(folder, "SELECT nope FROM predictions")
    finally:
        log.close()


def test_a_folder_with_only_segments_or_nothing_reads(tmp_path: Path) -> None:
    write(tmp_path / "a", [request(i) for i in range(3)])
    table = read_window(tmp_path / "a", columns=["request_id", "input.tenure"])
    assert table.num_rows == 6 and table.schema.field("input.tenure").type == pa.float64()
    empty = read_window(tmp_path / "missing")
    assert empty.num_rows == 0 and "request_id" in empty.schema.names


def test_retention_drops_whole_oldest_files_and_reports_them(folder: Path) -> None:
    for day in range(4):
        write(folder, [request(i, t=T0 + day * 86400 + i) for i in range(20)], 1 << 20)
        compact(folder)
    files = compacted_files(folder)
    assert len(files) == 4
    now = T0 + 3 * 86400 + 100
    dropped = apply_retention(folder, max_age_days=2.5, max_size_mb=None, now=now)
    assert [d.file for d in dropped] == [files[0].path.name]
    assert dropped[0].reason == "max_age_days" and dropped[0].records == 20
    assert dropped[0].rows == 40 and dropped[0].bytes > 0
    size = sum(f.bytes for f in files[2:]) / 1024 / 1024
    dropped = apply_retention(folder, max_age_days=30, max_size_mb=size * 1.01, now=now)
    assert [(d.file, d.reason) for d in dropped] == [(files[1].path.name, "max_size_mb")]
    assert [f.path.name for f in compacted_files(folder)] == [f.path.name for f in files[2:]]
    assert [d.file for d in read_retention(folder)] == [f.path.name for f in files[:2]]
    assert read_window(folder).num_rows == 80


def test_the_retention_of_a_deployment_comes_from_predictions_config() -> None:
    config = PredictionsConfig(
        max_age_days=7, deployment={"churn": RetentionConfig(max_age_days=1, max_size_mb=5)}
    )
    assert config.retention("churn").max_age_days == 1
    assert config.retention("other").max_age_days == 7


def test_a_replica_logs_what_compaction_types_by_the_signature(
    models_workspace: Workspace, tmp_path: Path
) -> None:
    """A real replica with small segments closed by age; compaction typed from the MLmodel."""
    spec = ServerSpec(
        deployment="typed",
        models=[served(models_workspace, "churn:1")],
        prediction_log=str(tmp_path / "log"),
        segment_seconds=0.5,
    )
    replica = start_replica(spec, tmp_path)
    folder = tmp_path / "log"
    try:
        ids = []
        with httpx.Client() as client:
            for i in range(5):
                rows = [
                    {"tenure": i, "spend": 1.0 * i, "calls": 0.0},
                    {"tenure": 2, "spend": 2.0, "calls": 1.0},
                ]
                r = client.post(f"{replica.url}/invocations", json={"dataframe_records": rows})
                assert r.status_code == 200
                ids.append(r.headers["x-request-id"])
        wait_for(lambda: bool(list(folder.glob(f"*{DONE_SUFFIX}"))), "a segment closed by age", 30)
        schema = LogSchema()
        for m in spec.models:
            schema.merge(schema_from_model(Path(m.path)))
        assert schema.columns == {
            "input.tenure": "int64",
            "input.spend": "float64",
            "input.calls": "float64",
            "output": "float64",
        }
        compact(folder, schema=schema)
        table = read_window(folder)
        assert table.schema.field("input.tenure").type == pa.int64()
        assert table["request_id"].to_pylist() == [i for i in ids for _ in (0, 1)]
        assert table["output.1"].to_pylist()[0] is not None
    finally:
        replica.stop()


def test_a_deployment_compacts_in_its_supervisor(models_workspace: Workspace) -> None:
    ws = models_workspace
    deployments = type(ws.deployments)(
        ws.state_dir,
        registry=ws.registry,
        features=ws.features,
        config=ws.config.serving,
        predictions=PredictionsConfig(segment_seconds=0.5, compact_seconds=0.5),
    )
    folder = ws.state_dir / "predictions" / "compacting"
    shutil.rmtree(folder, ignore_errors=True)
    d = deployments.deploy("churn:1", name="compacting")
    try:
        row = {"tenure": 3, "spend": 20.5, "calls": 0.0}
        ids = [
            httpx.post(f"{d.url}/invocations", json={"dataframe_records": [row]}).headers[
                "x-request-id"
            ]
            for _ in range(5)
        ]
        wait_for(lambda: bool(compacted_files(folder)), "a Parquet file", 60)
        wait_for(lambda: read_window(folder).num_rows == 5, "every row compacted or pending", 60)
        assert read_window(folder)["request_id"].to_pylist() == ids
        assert read_schema(folder).columns["input.tenure"] == "int64"
    finally:
        deployments.stop("compacting")
    assert time.time() > 0


def test_the_last_rows_come_from_newer_files_than_a_quiet_replicas_segment(folder: Path) -> None:
    write(folder, [request(i) for i in range(100, 110)], segment_bytes=1 << 20)
    compact(folder)
    log = PredictionLog(folder, fsync_interval=0)  # a quiet replica: old records, still open
    for i in range(5):
        log.append(request(i))
    try:
        ids = read_window(folder, last=4)["request_id"].to_pylist()
        assert ids == ["r108", "r108", "r109", "r109"]
    finally:
        log.close()
