"""The model server's OpenAPI document, generated from pydantic models of its bodies.

The hot path parses bodies with orjson, not with these models; they exist so that the document
is never written by hand (and so that a fuzzer such as schemathesis can drive the server).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from jupyter_mlops._version import __version__

if TYPE_CHECKING:
    from collections.abc import Sequence

    from jupyter_mlops.serving.model import LoadedVersion

Scalar = float | int | str | bool | None


class DataframeSplit(BaseModel):
    columns: list[str] | None = None
    data: list[list[Scalar]]


class SplitRequest(BaseModel):
    """Rows with their column names (pandas ``orient='split'``)."""

    dataframe_split: DataframeSplit


class RecordsRequest(BaseModel):
    """One object per row (pandas ``orient='records'``)."""

    dataframe_records: list[dict[str, Scalar]]


class InstancesRequest(BaseModel):
    """TensorFlow-serving style rows."""

    instances: list[dict[str, Scalar]] | list[list[Scalar]]


class InputsRequest(BaseModel):
    """Named columns, or rows."""

    inputs: dict[str, list[Scalar]] | list[dict[str, Scalar]] | list[list[Scalar]]


class Predictions(BaseModel):
    predictions: list[Any]
    output_names: list[str] | None = Field(
        default=None,
        description="one name per output column (absent when predictions are named records)",
    )


class RoutedPredictions(BaseModel):
    """The answer of a deployment running an A/B experiment: MLflow's, plus who answered."""

    predictions: list[Any]
    output_names: list[str] | None = Field(
        default=None,
        description="one name per output column (absent when predictions are named records)",
    )
    variant: str = Field(description="the experiment's variant that answered (x-variant)")
    request_id: str = Field(description="the request's id (x-request-id), for feedback")


class MlflowError(BaseModel):
    error_code: str
    message: str


class Tensor(BaseModel):
    name: str
    shape: list[int]
    datatype: Literal[
        "BOOL",
        "UINT8",
        "UINT16",
        "UINT32",
        "UINT64",
        "INT8",
        "INT16",
        "INT32",
        "INT64",
        "FP16",
        "FP32",
        "FP64",
        "BYTES",
    ]
    data: list[Scalar] | list[list[Scalar]]
    parameters: dict[str, Any] | None = None


class InferenceRequest(BaseModel):
    id: str | None = None
    parameters: dict[str, Any] | None = None
    inputs: list[Tensor] = Field(min_length=1)


class OutputTensor(BaseModel):
    name: str
    shape: list[int]
    datatype: str
    data: list[Any]
    parameters: dict[str, Any] | None = None


class InferenceResponse(BaseModel):
    model_name: str
    model_version: str | None = None
    id: str
    parameters: dict[str, Any] = Field(default_factory=dict)
    outputs: list[OutputTensor]


class V2Error(BaseModel):
    error: str


class FeedbackItem(BaseModel):
    """The ground truth of one predicted row: a label (a class) or a value (a number)."""

    request_id: str = Field(min_length=1, max_length=256, description="x-request-id of the answer")
    row: int = Field(default=0, ge=0, description="the row within the request")
    label: str | int | float | bool | None = None
    value: float | None = None


class FeedbackBatch(BaseModel):
    feedback: list[FeedbackItem] = Field(min_length=1, max_length=10_000)


class FeedbackAccepted(BaseModel):
    accepted: int = Field(description="items stored")
    duplicates: int = Field(description="items already stored for the same request and row")


class FeedbackError(BaseModel):
    error: str
    field: str | None = None


class Live(BaseModel):
    live: bool


class Ready(BaseModel):
    ready: bool


def model_server_openapi(
    deployment: str, served: Sequence[LoadedVersion], *, experiment: bool = False
) -> dict[str, Any]:
    """OpenAPI 3.1 for the server's routes, with the served model names as path enums.

    With ``experiment`` (the deployment runs an A/B experiment) the answers are described as
    they are then: ``/invocations`` gives :class:`RoutedPredictions`, every prediction answers
    ``x-variant``, and the ``x-sticky-key`` request header is documented.
    """
    bodies: list[type[BaseModel]] = [
        SplitRequest,
        RecordsRequest,
        InstancesRequest,
        InputsRequest,
        RoutedPredictions if experiment else Predictions,
        MlflowError,
        InferenceRequest,
        InferenceResponse,
        V2Error,
        FeedbackItem,
        FeedbackBatch,
        FeedbackAccepted,
        FeedbackError,
        Live,
        Ready,
    ]
    schemas: dict[str, Any] = {}
    for model in bodies:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, definition in schema.pop("$defs", {}).items():
            schemas[name] = definition
        schemas[model.__name__] = schema

    def ref(name: str) -> dict[str, Any]:
        return {"$ref": f"#/components/schemas/{name}"}

    def body(schema: dict[str, Any]) -> dict[str, Any]:
        return {"required": True, "content": {"application/json": {"schema": schema}}}

    def header(description: str) -> dict[str, Any]:
        return {"description": description, "schema": {"type": "string"}}

    answer_headers = {
        "x-request-id": header("the request's id: the one sent, else a new one"),
        "x-model-version": header("the version that answered, NAME:VERSION"),
    }
    if experiment:
        answer_headers["x-variant"] = header("the experiment's variant that answered")
    request_headers = [
        {
            "name": "x-request-id",
            "in": "header",
            "required": False,
            "schema": {"type": "string"},
            "description": "an id for the request (logged; ground truth is sent by it)",
        }
    ]
    if experiment:
        request_headers.append(
            {
                "name": "x-sticky-key",
                "in": "header",
                "required": False,
                "schema": {"type": "string"},
                "description": "the key that keeps a caller in one variant, when the rows do "
                "not carry the experiment's sticky-key column",
            }
        )

    def answers(ok: str | None, error: str, *codes: str, predicted: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "200": {
                "description": "OK",
                **({"content": {"application/json": {"schema": ref(ok)}}} if ok else {}),
                **({"headers": answer_headers} if predicted else {}),
            }
        }
        for code in codes:
            out[code] = {
                "description": "Error",
                "content": {"application/json": {"schema": ref(error)}},
            }
        return out

    names = {
        "name": "name",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "enum": sorted({m.name for m in served})},
    }
    version = {
        "name": "version",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "enum": sorted({str(m.version) for m in served})},
    }
    invocation = {
        "oneOf": [
            ref("SplitRequest"),
            ref("RecordsRequest"),
            ref("InstancesRequest"),
            ref("InputsRequest"),
        ]
    }
    paths: dict[str, Any] = {
        "/invocations": {
            "post": {
                "operationId": "invocations",
                "summary": "MLflow scoring protocol",
                "parameters": request_headers,
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": invocation},
                        "text/csv": {"schema": {"type": "string"}},
                    },
                },
                "responses": answers(
                    "RoutedPredictions" if experiment else "Predictions",
                    "MlflowError",
                    "400",
                    "408",
                    "413",
                    "415",
                    predicted=True,
                ),
            }
        },
        "/ping": {"get": {"operationId": "ping", "responses": {"200": {"description": "up"}}}},
        "/health": {"get": {"operationId": "health", "responses": {"200": {"description": "up"}}}},
        "/v2/health/live": {
            "get": {"operationId": "live", "responses": answers("Live", "V2Error")}
        },
        "/v2/health/ready": {
            "get": {"operationId": "ready", "responses": answers("Ready", "V2Error")}
        },
        "/v2/models/{name}": {
            "get": {
                "operationId": "modelMetadata",
                "parameters": [names],
                "responses": answers(None, "V2Error", "404"),
            }
        },
        "/v2/models/{name}/ready": {
            "get": {
                "operationId": "modelReady",
                "parameters": [names],
                "responses": answers(None, "V2Error", "404"),
            }
        },
        "/v2/models/{name}/infer": {
            "post": {
                "operationId": "infer",
                "parameters": [names, *request_headers],
                "requestBody": body(ref("InferenceRequest")),
                "responses": answers(
                    "InferenceResponse", "V2Error", "400", "404", "408", "413", predicted=True
                ),
            }
        },
        "/v2/models/{name}/versions/{version}/infer": {
            "post": {
                "operationId": "inferVersion",
                "parameters": [names, version, *request_headers],
                "requestBody": body(ref("InferenceRequest")),
                "responses": answers(
                    "InferenceResponse", "V2Error", "400", "404", "408", "413", predicted=True
                ),
            }
        },
        "/feedback": {
            "post": {
                "operationId": "feedback",
                "summary": "Ground truth for logged predictions (unknown request id: 404)",
                "requestBody": body({"oneOf": [ref("FeedbackItem"), ref("FeedbackBatch")]}),
                "responses": answers(
                    "FeedbackAccepted", "FeedbackError", "400", "404", "408", "413"
                ),
            }
        },
        "/metrics": {
            "get": {
                "operationId": "metrics",
                "responses": {"200": {"description": "Prometheus text"}},
            }
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": f"jupyter-mlops model server: {deployment}",
            "version": __version__,
        },
        "paths": paths,
        "components": {"schemas": schemas},
    }
