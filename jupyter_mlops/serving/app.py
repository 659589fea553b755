"""The model server: an ASGI app (Starlette) serving the model versions of one deployment.

Routes:

- MLflow scoring protocol: ``GET /ping``, ``GET /health``, ``GET /version``, ``POST /invocations``;
- Open Inference Protocol v2: ``GET /v2``, ``/v2/health/live``, ``/v2/health/ready``,
  ``/v2/models/{name}[/versions/{v}]``, ``.../ready``, ``POST .../infer``;
- ``GET /metrics`` (Prometheus), ``GET /openapi.json``, ``GET /deployment``;
- ``POST /feedback``: ground truth for logged predictions (see :mod:`.feedback`).

When a deployment serves several versions, ``/invocations`` and ``/v2/models/{name}/infer`` pick
one per request by the versions' traffic weights; ``/v2/models/{name}/versions/{v}/infer`` asks
for one. Every answered request is appended to the prediction log (see :mod:`.predlog`).
"""

from __future__ import annotations

import bisect
import logging
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from itertools import accumulate
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from jupyter_mlops._version import __version__
from jupyter_mlops.serving import codec
from jupyter_mlops.serving.errors import RequestError
from jupyter_mlops.serving.metrics import CONTENT_TYPE, ServerMetrics
from jupyter_mlops.serving.model import Batch, LoadedVersion, silence_feature_name_warning

if TYPE_CHECKING:
    from jupyter_mlops.features.online.base import OnlineStore
    from jupyter_mlops.serving.predlog import PredictionLog
    from jupyter_mlops.serving.spec import ServerSpec

logger = logging.getLogger(__name__)

JSON = "application/json"
CSV = "text/csv"
_V2_TYPES = {
    "double": "FP64",
    "float": "FP32",
    "long": "INT64",
    "integer": "INT32",
    "boolean": "BOOL",
    "string": "BYTES",
    "binary": "BYTES",
    "datetime": "BYTES",
}


def _json(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(payload), status_code=status, media_type=JSON, headers=headers)


class ModelServer:
    """The loaded models of a deployment, its prediction log and metrics, and the ASGI app.

    Loading happens in the constructor, so a replica is ready once this returns.
    """

    def __init__(
        self,
        spec: ServerSpec,
        *,
        store: OnlineStore | None = None,
        prediction_log: PredictionLog | None = None,
    ) -> None:
        silence_feature_name_warning()
        self.models = [LoadedVersion(v, store) for v in spec.models]
        if all(m.numeric for m in self.models):
            # Inputs reach these models as float matrices already checked to be finite
            # (LoadedVersion.prepare), so scikit-learn need not check again on every call.
            import sklearn

            sklearn.set_config(assume_finite=True, skip_parameter_validation=True)
        self.spec = spec
        self.by_name: dict[str, list[LoadedVersion]] = {}
        for m in self.models:
            self.by_name.setdefault(m.name, []).append(m)
        self.metrics = ServerMetrics()
        self.log = prediction_log
        self.max_body = spec.max_body_bytes
        self.draining = False
        self._cumulative: dict[str, tuple[list[float], list[LoadedVersion]]] = {}
        for name, models in [("", self.models), *self.by_name.items()]:
            weights = [m.spec.weight for m in models]  # >= 0 by the spec's schema
            if not sum(weights):
                weights = [1.0] * len(models)
            total = sum(weights)
            self._cumulative[name] = (list(accumulate(w / total for w in weights)), models)
        self.app = Starlette(routes=self._routes())

    # -- choosing a model -------------------------------------------------------------------------

    def choose(self, name: str = "") -> LoadedVersion:
        cum, models = self._cumulative[name]
        if len(models) == 1:
            return models[0]
        return models[min(bisect.bisect_right(cum, random.random()), len(models) - 1)]

    def _named(self, name: str, version: str | None = None) -> LoadedVersion:
        models = self.by_name.get(name)
        if models is None:
            served = ", ".join(self.by_name)
            raise RequestError(
                f"Model {name!r} is not served here; this server serves {served}", 404
            )
        if version is None:
            return self.choose(name)
        for m in models:
            if str(m.version) == version:
                return m
        versions = ", ".join(str(m.version) for m in models)
        raise RequestError(
            f"Model {name!r} version {version!r} is not served here; versions: {versions}", 404
        )

    # -- the prediction path ----------------------------------------------------------------------

    async def _body(self, request: Request) -> bytes:
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body:
            raise RequestError(self._too_large(int(length)), 413)
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > self.max_body:
                raise RequestError(self._too_large(size), 413)
            chunks.append(chunk)
        return b"".join(chunks)

    def _too_large(self, size: int) -> str:
        return (
            f"The body ({size} bytes) is larger than this server's limit of {self.max_body} "
            "bytes; send smaller batches or raise max_body_bytes in the deployment"
        )

    def _record(
        self,
        started: float,
        request_id: str,
        protocol: str,
        model: LoadedVersion | None,
        status: int,
        rows: int,
        inputs: dict[str, Any] | None = None,
        keys: dict[str, list[Any]] | None = None,
        outputs: np.ndarray | None = None,
        error: str | None = None,
    ) -> None:
        elapsed = time.perf_counter() - started
        name = model.name if model else "-"
        version = str(model.version) if model else "-"
        self.metrics.observe(name, version, protocol, status, elapsed, rows)
        if self.log is not None and self.spec.log_predictions:
            record: dict[str, Any] = {
                "id": request_id,
                "time": time.time(),
                "deployment": self.spec.deployment,
                "model": name,
                "version": model.version if model else None,
                "protocol": protocol,
                "status": status,
                "latency_ms": elapsed * 1000.0,
                "rows": rows,
            }
            if inputs is not None:
                record["inputs"] = inputs
            if keys:
                record["keys"] = keys
            if outputs is not None:
                record["outputs"] = outputs
            if error is not None:
                record["error"] = error
            self.log.append(record)

    async def _predict(
        self,
        request: Request,
        protocol: str,
        pick: Callable[[], LoadedVersion],
        decode: Callable[[bytes, LoadedVersion], tuple[Batch, str | None]],
        encode: Callable[[np.ndarray, LoadedVersion, str], bytes],
        error: Callable[[str, int], bytes],
    ) -> Response:
        started = time.perf_counter()
        request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
        model: LoadedVersion | None = None
        rows = 0
        try:
            model = pick()
            body = await self._body(request)
            batch, given_id = decode(body, model)
            if given_id:
                request_id = given_id
            rows = batch.rows
            prepared = model.prepare(batch)
            outputs = model.predict(prepared)
            content = encode(outputs, model, request_id)
        except RequestError as exc:
            self._record(started, request_id, protocol, model, exc.status, rows, error=exc.message)
            return Response(
                error(exc.message, exc.status),
                exc.status,
                media_type=JSON,
                headers={"x-request-id": request_id},
            )
        except Exception as exc:
            logger.exception("Prediction failed (request %s)", request_id)
            message = f"The model failed on this input: {type(exc).__name__}: {exc}"
            self._record(started, request_id, protocol, model, 500, rows, error=message)
            return Response(
                error(message, 500), 500, media_type=JSON, headers={"x-request-id": request_id}
            )
        self._record(
            started,
            request_id,
            protocol,
            model,
            200,
            rows,
            inputs=prepared.log_inputs(),
            keys=prepared.keys,
            outputs=outputs,
        )
        headers = {"x-request-id": request_id, "x-model-version": model.label}
        if self.draining:
            # Moves keep-alive clients to the replicas that stay (see worker.DrainingServer).
            headers["connection"] = "close"
        return Response(content, 200, media_type=JSON, headers=headers)

    # -- MLflow scoring protocol ------------------------------------------------------------------

    async def invocations(self, request: Request) -> Response:
        """POST /invocations: MLflow's scoring protocol, with a JSON or a CSV body.

        A body without a Content-Type is read as JSON; any type but JSON or CSV is a 415, as it is
        for ``mlflow models serve``.
        """
        media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        decode = _MLFLOW_DECODERS.get(media, _unsupported_media(media))
        return await self._predict(
            request,
            "mlflow",
            self.choose,
            decode,
            lambda out, m, rid: codec.encode_mlflow(out),
            _mlflow_error,
        )

    async def ping(self, request: Request) -> Response:
        """GET /ping, /health: the server is up and its models loaded."""
        return Response(b"\n", 200, media_type="application/json")

    async def version(self, request: Request) -> Response:
        """GET /version."""
        return Response(__version__.encode(), 200, media_type="text/plain")

    # -- Open Inference Protocol v2 ---------------------------------------------------------------

    async def infer(self, request: Request) -> Response:
        """POST /v2/models/{name}[/versions/{version}]/infer."""
        name = request.path_params["name"]
        version = request.path_params.get("version")
        return await self._predict(
            request,
            "v2",
            lambda: self._named(name, version),
            lambda body, m: codec.decode_v2(body, m.columns),
            lambda out, m, rid: codec.encode_v2(out, m.name, m.version, rid),
            _v2_error,
        )

    async def v2_server(self, request: Request) -> Response:
        """GET /v2: server metadata."""
        return _json({"name": "jupyter-mlops", "version": __version__, "extensions": []})

    async def v2_live(self, request: Request) -> Response:
        """GET /v2/health/live."""
        return _json({"live": True})

    async def v2_ready(self, request: Request) -> Response:
        """GET /v2/health/ready."""
        return _json({"ready": True})

    async def v2_model(self, request: Request) -> Response:
        """GET /v2/models/{name}[/versions/{version}]: inputs, outputs and versions."""
        try:
            model = self._named(request.path_params["name"], request.path_params.get("version"))
        except RequestError as exc:
            return Response(_v2_error(exc.message, exc.status), exc.status, media_type=JSON)
        return _json(self._metadata(model))

    async def v2_model_ready(self, request: Request) -> Response:
        """GET /v2/models/{name}[/versions/{version}]/ready."""
        try:
            self._named(request.path_params["name"], request.path_params.get("version"))
        except RequestError as exc:
            return Response(_v2_error(exc.message, exc.status), exc.status, media_type=JSON)
        return _json({"name": request.path_params["name"], "ready": True})

    def _metadata(self, model: LoadedVersion) -> dict[str, Any]:
        keys = model.lookup.keys if model.lookup else []
        inputs = [
            {"name": c, "datatype": _V2_TYPES.get(model.types.get(c, ""), "BYTES"), "shape": [-1]}
            for c in model.columns
        ]
        return {
            "name": model.name,
            "versions": [str(m.version) for m in self.by_name[model.name]],
            "platform": "mlflow",
            "inputs": inputs,
            "outputs": [{"name": "predict", "datatype": "FP64", "shape": [-1]}],
            "parameters": {"entity_keys": keys, "features": model.spec.features},
        }

    # -- feedback ---------------------------------------------------------------------------------

    async def feedback(self, request: Request) -> Response:
        """POST /feedback: labels or values for logged predictions, by request id and row."""
        from starlette.concurrency import run_in_threadpool

        from jupyter_mlops.errors import MlopsError
        from jupyter_mlops.serving.feedback import parse_feedback, record_feedback

        if not self.spec.prediction_log:
            return _json({"error": "This server keeps no prediction log to give feedback on"}, 404)
        try:
            body = await self._body(request)
            try:
                payload = orjson.loads(body)
            except orjson.JSONDecodeError as exc:
                raise RequestError(f"The body is not valid JSON: {exc}") from None
            items = parse_feedback(payload)
            folder = Path(self.spec.prediction_log)
            # Checking the ids may scan segments: off the event loop.
            result = await run_in_threadpool(record_feedback, folder, items)
        except RequestError as exc:
            return _json({"error": exc.message}, exc.status)
        except MlopsError as exc:
            return _json({"error": exc.message, "field": exc.field}, exc.status)
        except Exception as exc:  # the log's storage failed: not the client's fault
            logger.exception("Recording feedback failed")
            return _json(
                {"error": f"Feedback could not be stored: {type(exc).__name__}: {exc}"}, 503
            )
        return _json({"accepted": result.accepted, "duplicates": result.duplicates})

    # -- operations -------------------------------------------------------------------------------

    async def metrics_endpoint(self, request: Request) -> Response:
        """GET /metrics: Prometheus exposition."""
        return Response(self.metrics.exposition(), 200, media_type=CONTENT_TYPE)

    async def deployment(self, request: Request) -> Response:
        """GET /deployment: what this deployment serves."""
        return _json(
            {
                "deployment": self.spec.deployment,
                "models": [
                    {
                        "name": m.name,
                        "version": m.version,
                        "weight": m.spec.weight,
                        "inputs": m.columns,
                        "entity_keys": m.lookup.keys if m.lookup else [],
                        "example": m.example_row(),
                    }
                    for m in self.models
                ],
            }
        )

    async def openapi(self, request: Request) -> Response:
        """GET /openapi.json."""
        from jupyter_mlops.serving.openapi import model_server_openapi

        return _json(model_server_openapi(self.spec.deployment, self.models))

    def _routes(self) -> list[Route]:
        def r(path: str, fn: Callable[[Request], Awaitable[Response]], *methods: str) -> Route:
            return Route(path, fn, methods=list(methods) or ["GET"])

        return [
            r("/invocations", self.invocations, "POST"),
            r("/ping", self.ping),
            r("/health", self.ping),
            r("/version", self.version),
            r("/v2", self.v2_server),
            r("/v2/health/live", self.v2_live),
            r("/v2/health/ready", self.v2_ready),
            r("/v2/models/{name}", self.v2_model),
            r("/v2/models/{name}/ready", self.v2_model_ready),
            r("/v2/models/{name}/infer", self.infer, "POST"),
            r("/v2/models/{name}/versions/{version}", self.v2_model),
            r("/v2/models/{name}/versions/{version}/ready", self.v2_model_ready),
            r("/v2/models/{name}/versions/{version}/infer", self.infer, "POST"),
            r("/metrics", self.metrics_endpoint),
            r("/deployment", self.deployment),
            r("/openapi.json", self.openapi),
            r("/feedback", self.feedback, "POST"),
        ]

    # -- smoke test -------------------------------------------------------------------------------

    def smoke(self) -> None:
        """Predict each model's saved input example in-process; raises if one fails."""
        for model in self.models:
            if model.example is None:
                continue
            body = orjson.dumps(model.example)
            batch = codec.decode_mlflow(body, model.columns)
            out = model.predict(model.prepare(batch))
            if len(out) != batch.rows:
                raise RuntimeError(
                    f"{model.name} v{model.version} returned {len(out)} predictions for "
                    f"{batch.rows} rows"
                )


def _decode_json(body: bytes, model: LoadedVersion) -> tuple[Batch, str | None]:
    return codec.decode_mlflow(body, model.columns), None


def _decode_csv(body: bytes, model: LoadedVersion) -> tuple[Batch, str | None]:
    return codec.decode_csv(body), None


def _unsupported_media(
    media: str,
) -> Callable[[bytes, LoadedVersion], tuple[Batch, str | None]]:
    def refuse(body: bytes, model: LoadedVersion) -> tuple[Batch, str | None]:
        raise RequestError(
            f"Content-Type {media!r} is not supported here; send {JSON} (with dataframe_split, "
            f"dataframe_records, instances or inputs) or {CSV} (a header row, then one row per "
            "prediction)",
            415,
        )

    return refuse


#: ``/invocations`` body readers by media type; no Content-Type at all reads as JSON.
_MLFLOW_DECODERS = {"": _decode_json, JSON: _decode_json, CSV: _decode_csv}


def _mlflow_error(message: str, status: int) -> bytes:
    code = {
        400: "BAD_REQUEST",
        404: "RESOURCE_DOES_NOT_EXIST",
        413: "REQUEST_TOO_LARGE",
        415: "UNSUPPORTED_MEDIA_TYPE",
    }
    return orjson.dumps({"error_code": code.get(status, "INTERNAL_ERROR"), "message": message})


def _v2_error(message: str, status: int) -> bytes:
    return orjson.dumps({"error": message})
