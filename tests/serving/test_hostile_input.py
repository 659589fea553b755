"""Hostile or malformed requests to the model server (issue 9): each is a 4xx naming the problem,
never a 500, and the prediction log records the status the client was sent.

The server runs in this process (ASGI), serving ``churn`` v1 of the shared models workspace:
``tenure`` is a long, ``spend`` and ``calls`` are doubles.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from jupyter_mlops import Workspace
from jupyter_mlops.serving.app import ModelServer
from jupyter_mlops.serving.predlog import PredictionLog, read_predictions
from jupyter_mlops.serving.spec import ServerSpec
from tests.serving.conftest import served

pytestmark = pytest.mark.filterwarnings("ignore:X does not have valid feature names")

COLUMNS = ["tenure", "spend", "calls"]
ROW = [3, 20.5, 0.0]


@pytest.fixture(scope="module")
def server(
    models_workspace: Workspace, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ModelServer, Path]]:
    folder = tmp_path_factory.mktemp("hostile") / "predictions"
    spec = ServerSpec(
        deployment="hostile",
        models=[served(models_workspace, "churn:1")],
        prediction_log=str(folder),
    )
    log = PredictionLog(folder, fsync_interval=0)
    yield ModelServer(spec, prediction_log=log), folder
    log.close()


def send(
    server: tuple[ModelServer, Path], path: str, body: Any, headers: dict[str, str] | None = None
) -> httpx.Response:
    """POST a JSON body (written by the stdlib: it keeps integers beyond 64 bits exact)."""

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=server[0].app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            return await http.post(
                path,
                content=json.dumps(body).encode(),
                headers={"content-type": "application/json", **(headers or {})},
            )

    return asyncio.run(go())


def message(response: httpx.Response) -> str:
    payload = response.json()
    return str(payload.get("message") or payload.get("error"))


def v2(*tensors: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"inputs": list(tensors), **fields}


def column(name: str, data: list[Any], datatype: str = "FP64", shape: Any = None) -> dict[str, Any]:
    return {"name": name, "shape": shape or [len(data)], "datatype": datatype, "data": data}


def good_columns(**replace: dict[str, Any]) -> dict[str, Any]:
    tensors = {
        "tenure": column("tenure", [3], "INT64"),
        "spend": column("spend", [20.5]),
        "calls": column("calls", [0.0]),
    }
    tensors.update(replace)
    return v2(*tensors.values())


INFER = "/v2/models/churn/infer"

# Each: (path, body, words the 400's message must hold).
CASES: list[tuple[str, Any, str]] = [
    # nested arrays and list/object cells in the MLflow formats
    (
        "/invocations",
        {"dataframe_split": {"columns": COLUMNS, "data": [[3, [20.5, 1.0], 0.0]]}},
        "'spend' is double but row 0 has a list [20.5,1.0]",
    ),
    (
        "/invocations",
        {"dataframe_split": {"columns": COLUMNS, "data": [[[3], [20.5], [0.0]]]}},
        "'tenure' is long but row 0 has a list [3]",
    ),
    (
        "/invocations",
        {"dataframe_records": [{"tenure": 3, "spend": [20.5], "calls": 0.0}]},
        "'spend' is double but row 0 has a list [20.5]",
    ),
    (
        "/invocations",
        {"dataframe_records": [{"tenure": 3, "spend": 20.5, "calls": {"n": 1}}]},
        "'calls' is double but row 0 has an object",
    ),
    ("/invocations", {"instances": [[3, 20.5, [0.0, 1.0]]]}, "'calls' is double but row 0"),
    (
        "/invocations",
        {"inputs": {"tenure": [[3]], "spend": [20.5], "calls": [0.0]}},
        "'tenure' is long but row 0 has a list [3]",
    ),
    # strict types: booleans and strings are not numbers, integers must fit in 64 bits
    (
        "/invocations",
        {"dataframe_split": {"columns": COLUMNS, "data": [ROW, [1, True, 1.0]]}},
        "'spend' is double but row 1 has the boolean true",
    ),
    (
        "/invocations",
        {"dataframe_records": [{"tenure": 3, "spend": 20.5, "calls": False}]},
        "'calls' is double but row 0 has the boolean false",
    ),
    (
        "/invocations",
        {"dataframe_records": [{"tenure": 3, "spend": "20.5", "calls": 0.0}]},
        "'spend' is double but row 0 has the string \"20.5\"",
    ),
    (
        "/invocations",
        {"dataframe_split": {"columns": COLUMNS, "data": [[3, 2**70, 0.0]]}},
        "integer 1180591620717411303424, beyond 64 bits",
    ),
    (
        "/invocations",
        {"dataframe_records": [{"tenure": -(2**63) - 1, "spend": 1.0, "calls": 0.0}]},
        "beyond 64 bits",
    ),
    (
        "/invocations",
        {"dataframe_records": [{"tenure": 2**63, "spend": 1.0, "calls": 0.0}]},
        "'tenure' is long but row 0 has 9.223372036854776e+18; send an integer from",
    ),
    # Open Inference Protocol: datatypes, nesting against shape, the signature's types
    (INFER, good_columns(spend=column("spend", [True], "BOOL")), "'spend' is double but the"),
    (INFER, good_columns(spend=column("spend", [True])), "'spend' is FP64: its data must be"),
    (
        INFER,
        v2(column("x", [[True, True, False]], "BOOL", [1, 3])),
        "'tenure' is long but the request sends booleans",
    ),
    (INFER, good_columns(spend=column("spend", [[20.5, 1.0]])), "does not match the shape [1]"),
    (INFER, good_columns(tenure=column("tenure", [[3, 4]], "INT64")), "does not match the shape"),
    (INFER, v2(column("x", [[3, 20.5], [0.0]], shape=[1, 3])), "data is nested unevenly"),
    (INFER, v2(column("x", [[3, 20.5, 0.0, 4, 1.0, 1.0]], shape=[2, 3])), "nested as [1, 6]"),
    (INFER, good_columns(tenure=column("tenure", [1.5], "INT64")), "must be integers from"),
    (INFER, good_columns(spend=column("spend", [2**70])), "beyond 64 bits"),
    (INFER, good_columns(spend=column("spend", ["20.5"])), 'it has the string "20.5"'),
    (INFER, good_columns(calls=column("calls", ["0"], "BYTES")), "'calls' is double but row 0"),
    (INFER, v2(column("", [], "BOOL", [0])), "no rows"),  # found by schemathesis: was a 500
]


@pytest.mark.parametrize(("path", "body", "needle"), CASES)
def test_a_malformed_value_is_a_400_naming_it(
    server: tuple[ModelServer, Path], path: str, body: Any, needle: str
) -> None:
    response = send(server, path, body)
    assert response.status_code == 400, response.text
    assert needle in message(response)


# Every hostile cell in every format: nothing may reach the model (a 500) or pass as a number.
HOSTILE = [[1.0], [[1.0]], [], {"a": 1}, True, False, "1.5", 2**70, -(2**64)]


def bodies(cell: Any) -> dict[str, tuple[str, Any]]:
    row = [3, cell, 0.0]
    return {
        "split": ("/invocations", {"dataframe_split": {"columns": COLUMNS, "data": [row]}}),
        "records": ("/invocations", {"dataframe_records": [dict(zip(COLUMNS, row, strict=True))]}),
        "instances": ("/invocations", {"instances": [row]}),
        "inputs": ("/invocations", {"inputs": {c: [v] for c, v in zip(COLUMNS, row, strict=True)}}),
        "v2-columns": (INFER, good_columns(spend=column("spend", [cell]))),
        "v2-matrix": (INFER, v2(column("x", [row], shape=[1, 3]))),
    }


def test_no_hostile_cell_in_any_format_passes_or_fails_the_server(
    server: tuple[ModelServer, Path],
) -> None:
    wrong = []
    for cell in HOSTILE:
        for form, (path, body) in bodies(cell).items():
            if form == "v2-columns" and cell == [1.0]:
                continue  # [[1.0]]: a [1] tensor's data nested as [1, 1], which is allowed
            response = send(server, path, body)
            if response.status_code != 400:
                wrong.append(f"{form} {cell!r}: {response.status_code} {response.text[:120]}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize(
    "body",
    [
        {"dataframe_split": {"columns": COLUMNS, "data": [[3, 20, 0], [40, 70, 5]]}},
        {"dataframe_records": [{"tenure": 3.0, "spend": 2**63, "calls": 1}]},
        {"instances": [[3, 20.5, 0.0], [1, 1.0, 0.0]]},
    ],
    ids=["integers-for-doubles", "integral-float-for-long", "ones-and-zeros"],
)
def test_integers_are_numbers(server: tuple[ModelServer, Path], body: Any) -> None:
    assert send(server, "/invocations", body).status_code == 200


def test_oip_data_flat_or_nested_as_the_shape(server: tuple[ModelServer, Path]) -> None:
    nested = good_columns(spend=column("spend", [[20.5]], shape=[1, 1]))
    assert send(server, INFER, nested).status_code == 200
    matrix = v2(column("x", [[3, 20.5, 0.0], [4, 1.0, 1.0]], shape=[2, 3]))
    assert send(server, INFER, matrix).status_code == 200
    flat = v2(column("x", [3, 20.5, 0.0, 4, 1.0, 1.0], "INT64", [2, 3]))
    assert "INT64: its data must be integers" in message(send(server, INFER, flat))
    ints = good_columns(spend=column("spend", [20], "INT32"))
    assert send(server, INFER, ints).status_code == 200


@pytest.mark.parametrize(
    ("given", "needle"),
    [
        ("réquest-1", "visible ASCII"),
        ("req-€", "visible ASCII"),
        ("req-1\r\nx-injected: yes", "visible ASCII"),
        ("req 1", "must not contain spaces"),
        ("r" * 129, "1 to 128"),
        ("", "1 to 128"),
        (42, "must be a string; got the number 42"),
    ],
    ids=["latin-1", "not-latin-1", "crlf", "space", "too-long", "empty", "number"],
)
def test_a_v2_id_that_cannot_be_echoed_is_a_400_and_logged_as_one(
    server: tuple[ModelServer, Path], given: Any, needle: str
) -> None:
    response = send(server, INFER, good_columns() | {"id": given})
    assert response.status_code == 400, response.text
    assert needle in message(response) and "The request's id" in message(response)
    # The answer carries an id of the server's; the log has the 400 under it, nothing under
    # the id the client gave.
    echoed = response.headers["x-request-id"]
    records = read_predictions(server[1])
    assert [r["status"] for r in records if r["id"] == echoed] == [400]
    assert not [r for r in records if r["id"] == given]


def test_a_valid_v2_id_is_echoed_and_logged(server: tuple[ModelServer, Path]) -> None:
    response = send(server, INFER, good_columns() | {"id": "req-7_a.b:c/d"})
    assert response.status_code == 200, response.text
    assert response.headers["x-request-id"] == "req-7_a.b:c/d"
    assert response.json()["id"] == "req-7_a.b:c/d"
    records = [r for r in read_predictions(server[1]) if r["id"] == "req-7_a.b:c/d"]
    assert [r["status"] for r in records] == [200]


def test_every_logged_status_is_the_one_the_client_got(server: tuple[ModelServer, Path]) -> None:
    """What the log says of a request is what its client got: no 200 for an answer that failed
    on the way out (an id its header could not carry)."""
    requests = [(path, body) for path, body, _ in CASES]
    requests += [
        (INFER, good_columns() | {"id": i}) for i in ("req-€", "réquest-1", "a\r\nx-b: 1", "ok-1")
    ]
    got = {}
    for i, (path, body) in enumerate(requests):
        try:
            got[f"case-{i}"] = send(server, path, body, headers={"x-request-id": f"case-{i}"})
        except Exception:  # the app failed while answering: the client got nothing
            got[f"case-{i}"] = None
    logged = {r["id"]: r["status"] for r in read_predictions(server[1])}
    for i, (_, body) in enumerate(requests):
        response = got[f"case-{i}"]
        status = None if response is None else response.status_code
        given = body.get("id") if isinstance(body, dict) else None
        ids = {f"case-{i}", given} if given else {f"case-{i}"}
        assert [logged[r] for r in ids if r in logged] == [status], (i, body)
