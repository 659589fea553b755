"""The model server over real HTTP: both protocols, validation, metrics, the prediction log."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import mlflow.sklearn
import numpy as np
import pandas as pd
import pytest

from jupyter_mlops import Workspace
from jupyter_mlops.serving.predlog import DONE_SUFFIX, OPEN_SUFFIX, PredictionLog, read_predictions
from jupyter_mlops.serving.spec import ServerSpec
from tests.serving.conftest import Replica, served, start_replica

ROWS = pd.DataFrame({"tenure": [3, 40], "spend": [20.5, 70.0], "calls": [0.0, 5.0]})


def expected(ws: Workspace, ref: str = "churn:1") -> list[list[float]]:
    model = mlflow.sklearn.load_model(str(ws.registry.model_path(ref)))
    return model.predict_proba(ROWS).tolist()  # type: ignore[no-any-return]


def close(got: object, want: object) -> None:
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-9, atol=1e-12)


def post(replica: Replica, path: str, body: object) -> httpx.Response:
    return httpx.post(f"{replica.url}{path}", json=body, timeout=10)


@pytest.mark.parametrize(
    "body",
    [
        {"dataframe_split": json.loads(ROWS.to_json(orient="split", index=False))},
        {
            "dataframe_split": {
                "columns": ["calls", "tenure", "spend"],
                "data": ROWS[["calls", "tenure", "spend"]].values.tolist(),
            }
        },
        {"dataframe_records": ROWS.to_dict(orient="records")},
        {"instances": ROWS.to_dict(orient="records")},
        {"instances": ROWS.values.tolist()},
        {"inputs": {c: ROWS[c].tolist() for c in ROWS}},
    ],
    ids=["split", "split-reordered", "records", "instances", "instances-rows", "inputs-columns"],
)
def test_mlflow_scoring_formats(
    replica: Replica, models_workspace: Workspace, body: object
) -> None:
    response = post(replica, "/invocations", body)
    assert response.status_code == 200, response.text
    assert response.headers["x-model-version"] == "churn:1"
    close(response.json()["predictions"], expected(models_workspace))


def test_open_inference_protocol(replica: Replica, models_workspace: Workspace) -> None:
    assert httpx.get(f"{replica.url}/v2/health/live").json() == {"live": True}
    assert httpx.get(f"{replica.url}/v2/health/ready").json() == {"ready": True}
    meta = httpx.get(f"{replica.url}/v2/models/churn").json()
    assert meta["name"] == "churn" and meta["versions"] == ["1", "2"]
    assert [(i["name"], i["datatype"]) for i in meta["inputs"]] == [
        ("tenure", "INT64"),
        ("spend", "FP64"),
        ("calls", "FP64"),
    ]
    assert httpx.get(f"{replica.url}/v2/models/churn/ready").status_code == 200
    columns = {
        "inputs": [
            {"name": c, "shape": [2], "datatype": "FP64", "data": ROWS[c].tolist()} for c in ROWS
        ],
        "id": "req-1",
    }
    answer = post(replica, "/v2/models/churn/infer", columns).json()
    assert answer["id"] == "req-1" and answer["model_version"] == "1"
    [out] = answer["outputs"]
    assert out["shape"] == [2, 2] and out["datatype"] == "FP64"
    close(np.reshape(out["data"], (2, 2)), expected(models_workspace))
    matrix = {
        "inputs": [
            {
                "name": "input-0",
                "shape": [2, 3],
                "datatype": "FP64",
                "data": ROWS.values.ravel().tolist(),
            }
        ]
    }
    answer = post(replica, "/v2/models/churn/versions/2/infer", matrix).json()
    assert answer["model_version"] == "2"
    close(np.reshape(answer["outputs"][0]["data"], (2, 2)), expected(models_workspace, "churn:2"))


def test_mlflow_scoring_accepts_csv(replica: Replica, models_workspace: Workspace) -> None:
    """``mlflow models serve`` answers ``text/csv`` bodies; so does this server, with the same
    predictions as the JSON formats."""
    body = ROWS[["calls", "tenure", "spend"]].to_csv(index=False).encode()
    response = httpx.post(
        f"{replica.url}/invocations",
        content=body,
        headers={"content-type": "text/csv; charset=utf-8"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    close(response.json()["predictions"], expected(models_workspace))


@pytest.mark.parametrize(
    ("content_type", "body", "status", "needle"),
    [
        ("text/csv", b"", 400, "CSV body is empty"),
        ("text/csv", b"tenure,spend,calls\n1,2.0\n1,2,3,4,5\n", 400, "not valid CSV"),
        ("text/csv", b"tenure,spend,calls\n1,high,0\n", 400, "'spend' is double"),
        ("text/csv", b"tenure,,calls\n1,2.0,0\n", 400, "empty column name"),
        ("text/plain", b"tenure=1", 415, "'text/plain' is not supported"),
        ("application/x-www-form-urlencoded", b"tenure=1", 415, "send application/json"),
    ],
)
def test_csv_errors_and_unsupported_content_types(
    replica: Replica, content_type: str, body: bytes, status: int, needle: str
) -> None:
    response = httpx.post(
        f"{replica.url}/invocations", content=body, headers={"content-type": content_type}
    )
    assert response.status_code == status, response.text
    payload = response.json()
    assert needle in payload["message"], payload
    if status == 415:
        assert payload["error_code"] == "UNSUPPORTED_MEDIA_TYPE"


@pytest.mark.parametrize(
    ("path", "body", "status", "needle"),
    [
        ("/invocations", b"{not json", 400, "not valid JSON"),
        ("/invocations", [1, 2], 400, "JSON object"),
        ("/invocations", {"rows": []}, 400, "exactly one of the keys"),
        (
            "/invocations",
            {"dataframe_records": [{"tenure": 1, "spend": 2.0, "calls": 0.0, "x": 1}]},
            400,
            "Unknown input column(s) 'x'",
        ),
        (
            "/invocations",
            {"dataframe_records": [{"tenure": 1, "spend": 2.0}]},
            400,
            "Missing input column(s) 'calls'",
        ),
        (
            "/invocations",
            {"dataframe_records": [{"tenure": 1, "spend": "high", "calls": 0.0}]},
            400,
            "'spend' is double but row 0 has the string \"high\"; send a number",
        ),
        (
            "/invocations",
            {"dataframe_records": [{"tenure": 1.5, "spend": 2.0, "calls": 0.0}]},
            400,
            "'tenure' is long but row 0 has 1.5",
        ),
        (
            "/invocations",
            {"dataframe_records": [{"tenure": 1, "spend": None, "calls": 0.0}]},
            400,
            "'spend' is required but row 0 has null",
        ),
        (
            "/invocations",
            {"dataframe_split": {"columns": ["tenure"], "data": [[1, 2]]}},
            400,
            "row 0 has 2 values",
        ),
        ("/invocations", {"dataframe_records": []}, 400, "no rows"),
        (
            "/invocations",
            {"inputs": {"tenure": [1] * 2000}},
            413,
            "larger than this server's limit",
        ),
        ("/v2/models/nope/infer", {"inputs": []}, 404, "not served here"),
        ("/v2/models/churn/versions/7/infer", {"inputs": []}, 404, "versions: 1, 2"),
        (
            "/v2/models/churn/infer",
            {"inputs": [{"name": "tenure", "shape": [1], "datatype": "FP99", "data": [1]}]},
            400,
            "unknown datatype",
        ),
        (
            "/v2/models/churn/infer",
            {"inputs": [{"name": "tenure", "shape": [2], "datatype": "FP64", "data": [1]}]},
            400,
            "needs 2 values",
        ),
    ],
)
def test_bad_requests_are_4xx_naming_the_problem(
    replica: Replica, path: str, body: object, status: int, needle: str
) -> None:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = httpx.post(
        f"{replica.url}{path}", content=content, headers={"content-type": "application/json"}
    )
    assert response.status_code == status, response.text
    payload = response.json()
    message = payload.get("message") or payload.get("error")
    assert needle in message


def test_metrics_count_requests_errors_and_latency(replica: Replica) -> None:
    before = httpx.get(f"{replica.url}/metrics").text
    post(replica, "/invocations", {"dataframe_records": ROWS.to_dict(orient="records")})
    post(replica, "/invocations", {"dataframe_records": [{"nope": 1}]})
    text = httpx.get(f"{replica.url}/metrics").text
    assert text != before
    line = 'mlops_requests_total{model="churn",protocol="mlflow",status="400",version="1"}'
    assert line in text
    assert 'mlops_request_latency_seconds_bucket{le="0.001",model="churn",version="1"}' in text
    assert "mlops_predicted_rows_total" in text


def test_every_answer_is_in_the_prediction_log(replica: Replica) -> None:
    response = post(replica, "/invocations", {"dataframe_records": ROWS.to_dict(orient="records")})
    rid = response.headers["x-request-id"]
    records = {r["id"]: r for r in read_predictions(replica.log_dir)}
    record = records[rid]
    assert record["status"] == 200 and record["rows"] == 2 and record["version"] == 1
    assert record["inputs"]["columns"] == ["tenure", "spend", "calls"]
    assert record["inputs"]["data"] == ROWS.values.tolist()
    close(record["outputs"], response.json()["predictions"])
    bad = post(replica, "/invocations", {"dataframe_records": [{"nope": 1}]})
    record = {r["id"]: r for r in read_predictions(replica.log_dir)}[bad.headers["x-request-id"]]
    assert record["status"] == 400 and "Unknown input column" in record["error"]


def test_acknowledged_predictions_survive_kill_9(
    models_workspace: Workspace, tmp_path: Path
) -> None:
    spec = ServerSpec(
        deployment="crash",
        models=[served(models_workspace, "churn:1")],
        prediction_log=str(tmp_path / "predictions"),
        fsync_interval=3600,  # no msync before the kill: the page cache must be enough
    )
    replica = start_replica(spec, tmp_path)
    ids = []
    with httpx.Client() as client:
        for i in range(200):
            body = {"dataframe_records": [{"tenure": i, "spend": 1.0, "calls": 0.0}]}
            r = client.post(f"{replica.url}/invocations", json=body)
            assert r.status_code == 200
            ids.append(r.headers["x-request-id"])
    replica.stop(signal.SIGKILL)
    folder = tmp_path / "predictions"
    assert list(folder.glob(f"*{OPEN_SUFFIX}")), "the killed replica left its segment open"
    logged = [r["id"] for r in read_predictions(folder)]
    assert logged == ids
    # The next replica to open the folder closes the orphan, keeping every record.
    PredictionLog(folder, fsync_interval=0).close()
    assert not list(folder.glob(f"*{OPEN_SUFFIX}"))
    assert [r["id"] for r in read_predictions(folder)] == ids
    assert all(p.read_bytes().endswith(b"\n") for p in folder.glob(f"*{DONE_SUFFIX}"))


def test_prediction_log_rotates_and_closes_cleanly(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path, segment_bytes=4096, fsync_interval=0.05)
    for i in range(100):
        log.append({"id": i, "inputs": {"data": np.arange(20.0).reshape(2, 10)}})
    big = {"id": "big", "blob": "x" * 10000}  # larger than a segment: a segment of its own
    log.append(big)
    log.close()
    records = read_predictions(tmp_path)
    assert [r["id"] for r in records] == [*range(100), "big"]
    assert len(list(tmp_path.glob(f"*{DONE_SUFFIX}"))) >= 4
    assert not list(tmp_path.glob(f"*{OPEN_SUFFIX}"))


def test_the_server_survives_a_fuzzing_run(replica: Replica, tmp_path: Path) -> None:
    """schemathesis drives every operation of the OpenAPI document; no answer may be a 5xx."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "run",
            f"{replica.url}/openapi.json",
            "--checks",
            "not_a_server_error",
            "--max-examples",
            "60",
            "--no-color",
            "--phases",
            "examples,coverage,fuzzing",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "SCHEMATHESIS_HOOKS": ""},
        cwd=tmp_path,  # it writes a .schemathesis folder where it runs
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def test_replicas_starting_together_recover_an_orphan_once(tmp_path: Path) -> None:
    """Every replica recovers the folder at start; two racing for one orphan must both start."""
    import threading

    from jupyter_mlops.serving.predlog import recover

    dead = 2**22 + 12345  # above pid_max's default: no such process
    for i in range(20):
        orphan = tmp_path / f"20260101T000000-{dead + i}-000001{OPEN_SUFFIX}"
        orphan.write_bytes(b'{"id": 1}\n{"id": 2}\n{"id"' + b"\0" * 64)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            recover(tmp_path)
        except BaseException as exc:  # any failure fails the test
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert not list(tmp_path.glob(f"*{OPEN_SUFFIX}"))
    assert [r["id"] for r in read_predictions(tmp_path)] == [1, 2] * 20


# -- the Open Inference Protocol over gRPC, with tritonclient (an independent strict client) ---


def triton_inputs(grpcclient: Any, frame: pd.DataFrame, types: dict[str, str]) -> list[Any]:
    inputs = []
    for c in frame:
        tensor = grpcclient.InferInput(c, [len(frame)], types[c])
        dtype = np.int64 if types[c] == "INT64" else np.bool_ if types[c] == "BOOL" else np.float64
        tensor.set_data_from_numpy(frame[c].to_numpy().astype(dtype))
        inputs.append(tensor)
    return inputs


def test_grpc_open_inference_protocol_with_tritonclient(
    replica: Replica, models_workspace: Workspace
) -> None:
    import tritonclient.grpc as grpcclient  # in the test extras
    from tritonclient.utils import InferenceServerException

    assert replica.grpc is not None
    triton = grpcclient.InferenceServerClient(url=replica.grpc)
    try:
        assert triton.is_server_live() and triton.is_server_ready()
        assert triton.is_model_ready("churn") and triton.is_model_ready("churn", "2")
        assert not triton.is_model_ready("nope")
        assert triton.get_server_metadata(as_json=True)["name"] == "jupyter-mlops"
        # The metadata is REST's, and the answers are what it declares.
        meta = triton.get_model_metadata("churn", as_json=True)
        rest = httpx.get(f"{replica.url}/v2/models/churn").json()
        assert meta["versions"] == rest["versions"] == ["1", "2"]
        assert meta["inputs"] == [
            {"name": i["name"], "datatype": i["datatype"], "shape": ["-1"]} for i in rest["inputs"]
        ]
        [declared] = rest["outputs"]
        types = {"tenure": "INT64", "spend": "FP64", "calls": "FP64"}
        result = triton.infer("churn", triton_inputs(grpcclient, ROWS, types), request_id="g-1")
        values = result.as_numpy(declared["name"])
        assert values.dtype == np.float64 and values.shape == (2, 2)
        close(values, expected(models_workspace))
        response = result.get_response(as_json=True)
        assert response["id"] == "g-1" and response["model_version"] == "1"
        assert (
            json.loads(response["outputs"][0]["parameters"]["output_names"]["string_param"])
            == rest["parameters"]["output_names"]
        )
        # one version by number, and one [rows, columns] tensor in signature order
        matrix = grpcclient.InferInput("input-0", [2, 3], "FP64")
        matrix.set_data_from_numpy(ROWS.to_numpy(dtype=np.float64))
        result = triton.infer("churn", [matrix], model_version="2")
        close(result.as_numpy("predict"), expected(models_workspace, "churn:2"))

        # As strict as the signature, with REST's message; what the client got is logged.
        wrong = dict(types, spend="BOOL")
        frame = ROWS.assign(spend=[True, False])
        with pytest.raises(InferenceServerException) as refused:
            triton.infer("churn", triton_inputs(grpcclient, frame, wrong), request_id="g-bad")
        assert refused.value.status() == "StatusCode.INVALID_ARGUMENT"
        assert "'spend' is a double column; BOOL cannot fill it" in refused.value.message()
        with pytest.raises(InferenceServerException) as unknown:
            triton.infer("nope", triton_inputs(grpcclient, ROWS, types))
        assert unknown.value.status() == "StatusCode.NOT_FOUND"
        assert "'nope' is not served here" in unknown.value.message()
    finally:
        triton.close()
    records = {r["id"]: r for r in read_predictions(replica.log_dir)}
    assert records["g-1"]["protocol"] == "grpc" and records["g-1"]["status"] == 200
    close(records["g-1"]["outputs"], expected(models_workspace))
    assert records["g-bad"]["status"] == 400 and "outputs" not in records["g-bad"]
    metrics = httpx.get(f"{replica.url}/metrics").text
    assert 'mlops_requests_total{model="churn",protocol="grpc",status="200",version="1"}' in metrics
    assert 'mlops_requests_total{model="churn",protocol="grpc",status="400",version="1"}' in metrics


def test_grpc_typed_contents_and_bad_tensors(replica: Replica, models_workspace: Workspace) -> None:
    """Tensors in typed `contents` (clients other than Triton's send them) and malformed ones."""
    import grpc
    from tritonclient.grpc import service_pb2, service_pb2_grpc

    with grpc.insecure_channel(replica.grpc or "") as channel:
        stub = service_pb2_grpc.GRPCInferenceServiceStub(channel)
        request = service_pb2.ModelInferRequest(model_name="churn")
        for c in ROWS:
            tensor = request.inputs.add(name=c, datatype="FP64", shape=[2])
            tensor.contents.fp64_contents.extend(ROWS[c].tolist())
        answer = stub.ModelInfer(request)
        assert answer.outputs[0].datatype == "FP64" and list(answer.outputs[0].shape) == [2, 2]
        values = np.frombuffer(answer.raw_output_contents[0], dtype="<f8").reshape(2, 2)
        close(values, expected(models_workspace))

        def refused(request: Any) -> str:
            with pytest.raises(grpc.RpcError) as error:
                stub.ModelInfer(request)
            assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            return str(error.value.details())

        short = service_pb2.ModelInferRequest(model_name="churn")
        short.CopyFrom(request)
        del short.inputs[0].contents.fp64_contents[1:]
        assert refused(short) == "Input 'tenure': shape [2] needs 2 values; it has 1"
        raw = service_pb2.ModelInferRequest(model_name="churn")
        for c in ROWS:
            raw.inputs.add(name=c, datatype="FP64", shape=[2])
        raw.raw_input_contents.extend([ROWS[c].to_numpy().tobytes() for c in ROWS][:2])
        assert "raw_input_contents has 2 entries for 3 inputs" in refused(raw)
        text = service_pb2.ModelInferRequest(model_name="churn")
        text.CopyFrom(request)
        text.inputs[1].datatype = "BYTES"
        text.inputs[1].contents.Clear()
        text.inputs[1].contents.bytes_contents.extend([b"a", b"b"])
        assert "'spend' is a double column; BYTES cannot fill it" in refused(text)
        odd = service_pb2.ModelInferRequest(model_name="churn")
        odd.CopyFrom(request)
        odd.inputs[0].datatype = "COMPLEX"
        assert refused(odd) == "Input 'tenure': unknown datatype 'COMPLEX'"


def test_slow_clients_are_cut_off_and_others_answered(replica: Replica) -> None:
    """A connection that never completes its headers is closed after the spec's header_seconds
    (1 s here), a body that does not arrive in body_seconds is a 408, and meanwhile other
    clients are answered."""
    import http.client
    import socket
    import time

    host, port = replica.url.removeprefix("http://").split(":")
    slow = [socket.create_connection((host, int(port))) for _ in range(20)]
    for s in slow:
        s.sendall(b"POST /invocations HTTP/1.1\r\nHost: x\r\n")  # and never the rest
    body = socket.create_connection((host, int(port)))
    body.sendall(
        b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 100\r\n\r\n{"
    )
    started = time.monotonic()
    answer = post(replica, "/invocations", {"dataframe_records": ROWS.to_dict(orient="records")})
    assert answer.status_code == 200
    for s in slow:
        s.settimeout(10)
        assert s.recv(100) == b""  # closed by the server, with no answer
        s.close()
    assert time.monotonic() - started < 8
    body.settimeout(10)
    reply = http.client.HTTPResponse(body)  # headers and body may come in separate segments
    reply.begin()
    text = reply.read()
    body.close()
    assert reply.status == 408, text
    assert b"The body did not arrive within 1 s (1 bytes came)" in text
