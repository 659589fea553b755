"""Feedback on logged predictions: stored once per (request, row), checked against the log."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from jupyter_mlops import Workspace
from jupyter_mlops.errors import InvalidInput, NotFound
from jupyter_mlops.serving.feedback import parse_feedback, read_feedback, record_feedback
from jupyter_mlops.serving.predictions import compact, find_requests
from jupyter_mlops.serving.predlog import PredictionLog
from jupyter_mlops.serving.spec import ServerSpec
from tests.serving.conftest import Replica, served, start_replica


def log_requests(folder: Path, ids: list[str], rows: int = 2) -> None:
    log = PredictionLog(folder, segment_bytes=2048, fsync_interval=0)
    for rid in ids:
        log.append(
            {"id": rid, "time": time.time(), "model": "m", "version": 1, "protocol": "mlflow",
             "status": 200, "latency_ms": 1.0, "rows": rows,
             "inputs": {"columns": ["a"], "data": [[float(i)] for i in range(rows)]}}
        )  # fmt: skip
    log.close()


def test_feedback_is_stored_once_and_read_back(tmp_path: Path) -> None:
    log_requests(tmp_path, [f"r{i}" for i in range(20)])
    compact(tmp_path)
    log_requests(tmp_path, ["late"])  # still in a segment
    got = record_feedback(
        tmp_path,
        parse_feedback(
            {
                "feedback": [
                    {"request_id": "r3", "label": 1},
                    {"request_id": "r3", "row": 1, "label": 0},
                    {"request_id": "late", "row": 1, "value": 2.5, "label": 1},
                ]
            }
        ),
    )
    assert (got.accepted, got.duplicates) == (3, 0)
    again = record_feedback(tmp_path, [{"request_id": "r3", "label": 0}])
    assert (again.accepted, again.duplicates) == (0, 1)
    table = read_feedback(tmp_path)
    assert table.column_names == ["request_id", "row", "label", "value", "received"]
    rows = sorted(table.to_pylist(), key=lambda r: (r["request_id"], r["row"]))
    assert [(r["request_id"], r["row"], r["label"], r["value"]) for r in rows] == [
        ("late", 1, 1, 2.5),
        ("r3", 0, 1, None),  # the first feedback stays
        ("r3", 1, 0, None),
    ]


def test_unknown_requests_and_bad_rows_are_refused_naming_them(tmp_path: Path) -> None:
    log_requests(tmp_path, ["known"])
    with pytest.raises(NotFound, match="'nope'"):
        record_feedback(
            tmp_path, [{"request_id": "known", "label": 1}, {"request_id": "nope", "label": 1}]
        )
    with pytest.raises(InvalidInput, match="Row 2 of request 'known' does not exist"):
        record_feedback(tmp_path, [{"request_id": "known", "row": 2, "label": 1}])
    assert read_feedback(tmp_path).num_rows == 0  # nothing of a refused call is stored


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ([1, 2], "body must be an object"),
        ({"label": 1}, "body.request_id"),
        ({"request_id": "x"}, "needs a label or a value"),
        ({"request_id": "x", "row": -1, "label": 1}, "body.row"),
        ({"request_id": "x", "label": [1]}, "body.label must be"),
        ({"request_id": "x", "value": "high"}, "body.value must be a number"),
        ({"request_id": "x", "label": 1, "extra": 2}, "unknown key(s) 'extra'"),
        ({"feedback": []}, "non-empty list"),
        ({"feedback": [{"request_id": "x", "label": 1}, 3]}, "feedback[1] must be an object"),
    ],
)
def test_malformed_feedback_names_the_problem(body: object, needle: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_feedback(body)
    assert needle in info.value.message


def test_replicas_writing_at_once_store_each_feedback_once(tmp_path: Path) -> None:
    ids = [f"r{i}" for i in range(50)]
    log_requests(tmp_path, ids)
    compact(tmp_path)
    results = []
    errors: list[BaseException] = []

    def send() -> None:
        try:
            results.append(record_feedback(tmp_path, [{"request_id": r, "label": 1} for r in ids]))
        except BaseException as exc:  # any failure fails the test
            errors.append(exc)

    threads = [threading.Thread(target=send) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sum(r.accepted for r in results) == 50
    assert sum(r.duplicates for r in results) == 150
    assert read_feedback(tmp_path).num_rows == 50


@pytest.fixture(scope="module")
def logging_replica(
    models_workspace: Workspace, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Replica]:
    folder = tmp_path_factory.mktemp("feedback")
    spec = ServerSpec(
        deployment="feedback",
        models=[served(models_workspace, "churn:1")],
        prediction_log=str(folder / "predictions"),
    )
    running = start_replica(spec, folder)
    yield running
    running.stop()


def test_post_feedback_on_the_model_server(logging_replica: Replica) -> None:
    url = logging_replica.url
    rows = [{"tenure": 3, "spend": 20.5, "calls": 0.0}, {"tenure": 40, "spend": 70.0, "calls": 5.0}]
    answer = httpx.post(f"{url}/invocations", json={"dataframe_records": rows})
    rid = answer.headers["x-request-id"]
    # Right after the answer: the request is in the replica's open segment.
    r = httpx.post(f"{url}/feedback", json={"request_id": rid, "label": 1})
    assert r.status_code == 200 and r.json() == {"accepted": 1, "duplicates": 0}
    batch = {
        "feedback": [{"request_id": rid, "label": 1}, {"request_id": rid, "row": 1, "label": 0}]
    }
    assert httpx.post(f"{url}/feedback", json=batch).json() == {"accepted": 1, "duplicates": 1}
    missing = httpx.post(f"{url}/feedback", json={"request_id": "no-such-id", "label": 1})
    assert missing.status_code == 404 and "'no-such-id'" in missing.json()["error"]
    for body, needle in [
        (b"{nope", "not valid JSON"),
        (b'{"request_id": "x"}', "needs a label or a value"),
        (f'{{"request_id": "{rid}", "row": 5, "label": 1}}'.encode(), "Row 5"),
    ]:
        bad = httpx.post(
            f"{url}/feedback", content=body, headers={"content-type": "application/json"}
        )
        assert bad.status_code == 400 and needle in bad.json()["error"], bad.text
    folder = logging_replica.log_dir
    assert find_requests(folder, [rid]) == {rid: 2}
    assert sorted(read_feedback(folder)["row"].to_pylist()) == [0, 1]
    doc = httpx.get(f"{url}/openapi.json").json()
    assert "/feedback" in doc["paths"] and "FeedbackItem" in doc["components"]["schemas"]
