"""Outputs are named and typed the same in both protocols and in the v2 metadata; a lookup that
finds nothing names the entity key, its value and the feature view.

The server runs in this process (ASGI for the protocol checks; uvicorn in a thread for
tritonclient, the independent strict client), on two small models logged here: ``churn``, a
``predict_proba`` classifier with string classes whose inputs ``spend`` and ``calls`` come from
feature view ``activity``, and ``labels``, a classifier answering its integer labels.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from jupyter_mlops import Workspace
from jupyter_mlops.features.service import usage_payload
from jupyter_mlops.lineage.tags import FEATURES_TAG
from jupyter_mlops.serving import codec
from jupyter_mlops.serving.app import ModelServer
from jupyter_mlops.serving.outputs import describe
from jupyter_mlops.serving.spec import ServerSpec
from tests.helpers import free_port
from tests.serving.conftest import customer_view, served

# What a replica silences at start (silence_feature_name_warning): the matrix is in signature order.
pytestmark = pytest.mark.filterwarnings("ignore:X does not have valid feature names")

ROWS = pd.DataFrame({"tenure": [3, 40], "spend": [20.5, 70.0], "calls": [0.0, 5.0]})


def _log(ws: Workspace, predict_fn: str, labels: Any) -> str:
    import mlflow
    from mlflow.tracking._tracking_service import utils
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(1)
    x = pd.DataFrame(
        {
            "tenure": rng.integers(1, 72, 200).astype("int64"),
            "spend": rng.normal(50, 10, 200),
            "calls": rng.poisson(2, 200).astype("float64"),
        }
    )
    y = np.where(x["tenure"] > 36, labels[0], labels[1])
    clf = LogisticRegression(max_iter=500).fit(x, y)
    previous = getattr(utils, "_tracking_uri", None)
    with ws.tracking.start_run("outputs", run_name=predict_fn) as rec:
        mlflow.set_tracking_uri(ws.tracking_uri)
        try:
            with mlflow.start_run(run_id=rec.run_id):
                mlflow.sklearn.log_model(
                    clf,
                    name="model",
                    input_example=x.head(3),
                    pyfunc_predict_fn=predict_fn,
                    pip_requirements=["scikit-learn"],
                )
        finally:
            utils._tracking_uri = previous
    return rec.run_id


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    ws = Workspace.init(tmp_path_factory.mktemp("outputs") / "ws")
    customer_view(ws, "activity")
    proba = _log(ws, "predict_proba", ["churned", "stayed"])
    used = usage_payload(ws.features.resolve(["activity:spend", "activity:calls"]))
    ws.tracking.client.set_tag(proba, FEATURES_TAG, used.to_tag())
    ws.registry.register(proba, "churn")
    ws.registry.register(_log(ws, "predict", [1, 0]), "labels")
    yield ws
    ws.features.close()
    engine = ws.tracking.sql_engine
    if engine is not None:
        engine.dispose()


@pytest.fixture(scope="module")
def server(ws: Workspace) -> ModelServer:
    # weights 1:0: /invocations always goes to churn
    spec = ServerSpec(deployment="t", models=[served(ws, "churn:1"), served(ws, "labels:1", 0.0)])
    settings = spec.models[0].lookup.store if spec.models[0].lookup else None
    assert settings is not None
    return ModelServer(spec, store=settings.open())


class Client:
    """The server's ASGI app called in process, one request at a time."""

    def __init__(self, server: ModelServer) -> None:
        self.app = server.app

    def _send(self, method: str, path: str, body: Any = None) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
                return await http.request(method, path, json=body)

        return asyncio.run(go())

    def get(self, path: str) -> httpx.Response:
        return self._send("GET", path)

    def post(self, path: str, json: Any) -> httpx.Response:
        return self._send("POST", path, json)


@pytest.fixture(scope="module")
def client(server: ModelServer) -> Client:
    return Client(server)


def split(frame: pd.DataFrame) -> dict[str, Any]:
    return {"dataframe_split": {"columns": list(frame.columns), "data": frame.values.tolist()}}


def v2_request(frame: pd.DataFrame) -> dict[str, Any]:
    types = {"tenure": "INT64", "spend": "FP64", "calls": "FP64"}
    return {
        "inputs": [
            {"name": c, "shape": [len(frame)], "datatype": types[c], "data": frame[c].tolist()}
            for c in frame
        ]
    }


def conforms(tensor: dict[str, Any], declared: dict[str, Any]) -> bool:
    """A response tensor is what the metadata declared (-1: any size), as strict clients check."""
    shape_ok = len(tensor["shape"]) == len(declared["shape"]) and all(
        d in (-1, s) for d, s in zip(declared["shape"], tensor["shape"], strict=True)
    )
    return bool(
        tensor["name"] == declared["name"]
        and tensor["datatype"] == declared["datatype"]
        and shape_ok
    )


def test_a_predict_proba_classifier_names_its_outputs_by_class(client: Client) -> None:
    answer = client.post("/invocations", json=split(ROWS))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    # mlflow models serve's shape (rows of probabilities), and the names next to it
    assert body["output_names"] == ["proba_churned", "proba_stayed"]
    assert np.asarray(body["predictions"]).shape == (2, 2)
    np.testing.assert_allclose(np.sum(body["predictions"], axis=1), [1.0, 1.0])

    meta = client.get("/v2/models/churn").json()
    assert meta["outputs"] == [{"name": "predict", "datatype": "FP64", "shape": [-1, 2]}]
    assert meta["parameters"]["output_names"] == ["proba_churned", "proba_stayed"]
    infer = client.post("/v2/models/churn/infer", json=v2_request(ROWS))
    assert infer.status_code == 200, infer.text
    (tensor,) = infer.json()["outputs"]
    assert conforms(tensor, meta["outputs"][0]), (tensor, meta["outputs"])
    assert tensor["parameters"] == {"output_names": ["proba_churned", "proba_stayed"]}
    np.testing.assert_allclose(np.reshape(tensor["data"], (2, 2)), body["predictions"], rtol=1e-12)
    served_models = client.get("/deployment").json()["models"]
    assert served_models[0]["outputs"] == ["proba_churned", "proba_stayed"]


def test_a_label_classifier_is_declared_and_answers_int64(client: Client) -> None:
    meta = client.get("/v2/models/labels").json()
    assert meta["outputs"] == [{"name": "predict", "datatype": "INT64", "shape": [-1]}]
    infer = client.post("/v2/models/labels/infer", json=v2_request(ROWS))
    assert infer.status_code == 200, infer.text
    (tensor,) = infer.json()["outputs"]
    assert conforms(tensor, meta["outputs"][0]), (tensor, meta["outputs"])
    assert tensor["data"] == [0, 1] and "parameters" not in tensor


def test_tritonclient_reads_metadata_and_answers_that_agree(server: ModelServer) -> None:
    import tritonclient.http as http  # in the test extras
    import uvicorn

    port = free_port()
    config = uvicorn.Config(
        server.app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"
    )
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not running.started and time.monotonic() < deadline:
            time.sleep(0.02)
        triton = http.InferenceServerClient(url=f"127.0.0.1:{port}")
        assert triton.is_server_live() and triton.is_model_ready("churn")
        types = {"tenure": "INT64", "spend": "FP64", "calls": "FP64"}
        for model, want_dtype, want_shape in (
            ("churn", np.float64, (2, 2)),
            ("labels", np.int64, (2,)),
        ):
            meta = triton.get_model_metadata(model)
            (declared,) = meta["outputs"]
            inputs = []
            for c in ROWS:
                tensor = http.InferInput(c, [len(ROWS)], types[c])
                tensor.set_data_from_numpy(
                    ROWS[c].to_numpy().astype(want_type(types[c])), binary_data=False
                )
                inputs.append(tensor)
            result = triton.infer(
                model,
                inputs,
                outputs=[http.InferRequestedOutput(declared["name"], binary_data=False)],
            )
            values = result.as_numpy(declared["name"])
            assert values is not None and values.dtype == want_dtype and values.shape == want_shape
            assert result.get_output(declared["name"])["datatype"] == declared["datatype"]
        triton.close()
    finally:
        running.should_exit = True
        thread.join(timeout=30)


def want_type(datatype: str) -> type:
    return np.int64 if datatype == "INT64" else np.float64


def test_an_unknown_entity_names_the_key_its_value_and_the_view(client: Client) -> None:
    unknown = client.post(
        "/invocations", json={"dataframe_records": [{"tenure": 12, "customer_id": 999}]}
    )
    assert unknown.status_code == 400
    message = unknown.json()["message"]
    assert message == (
        "customer_id 999 (row 0) has no row in feature view activity (v1) online; materialize "
        "it or check the key"
    )
    # The same through v2, in a batch where only the second entity is unknown.
    v2 = client.post(
        "/v2/models/churn/infer",
        json={
            "inputs": [
                {"name": "tenure", "shape": [2], "datatype": "INT64", "data": [12, 13]},
                {"name": "customer_id", "shape": [2], "datatype": "INT64", "data": [2, 404]},
            ]
        },
    )
    assert v2.status_code == 400
    assert v2.json()["error"].startswith("customer_id 404 (row 1) has no row in feature view")


def test_a_key_of_the_wrong_type_names_the_key_and_the_type(client: Client) -> None:
    text_key = client.post(
        "/invocations", json={"dataframe_records": [{"tenure": 12, "customer_id": "2"}]}
    )
    assert text_key.status_code == 400
    assert text_key.json()["message"] == (
        "Entity key customer_id must be an integer (as stored in feature view activity (v1)); "
        "row 0 has a string '2': send 2"
    )
    # Once an entity was found, the key's type is known even for a value that is no number.
    found = client.post(
        "/invocations", json={"dataframe_records": [{"tenure": 12, "customer_id": 3}]}
    )
    assert found.status_code == 200, found.text
    word = client.post(
        "/invocations", json={"dataframe_records": [{"tenure": 12, "customer_id": "abc"}]}
    )
    assert word.status_code == 400
    assert word.json()["message"].startswith(
        "Entity key customer_id must be an integer (as stored in feature view activity (v1)); "
        "row 0 has a string 'abc'"
    )


def test_a_model_answering_a_dataframe_keeps_its_column_names() -> None:
    probe = pd.DataFrame({"score": [0.25, 0.5], "risk": [1.5, 2.0]})
    outputs = describe(predict_fn="predict", estimator=None, signature_outputs=None, probe=probe)
    assert outputs.names == ("score", "risk") and outputs.columns_named
    assert outputs.tensors() == [
        {"name": "score", "datatype": "FP64", "shape": [-1]},
        {"name": "risk", "datatype": "FP64", "shape": [-1]},
    ]
    # MLflow answers records, as mlflow models serve does for a DataFrame
    answer = codec.mlflow_answer(probe.to_numpy(), outputs)
    assert answer == {"predictions": [{"score": 0.25, "risk": 1.5}, {"score": 0.5, "risk": 2.0}]}
