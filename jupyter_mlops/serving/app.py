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

A/B experiments (the spec's :class:`~jupyter_mlops.serving.schemas.Routing`): each served version
is a variant. A request is assigned at random by the weights, or, with a sticky key, by
:func:`sticky_point` of its key, the same on every replica and after restarts. Raising a later
variant's weight only moves keys to it from the variants before it (the points of a variant stay
in its growing band of the cumulative weights), so a ramp-up never sends a challenger's users
back. Answers carry ``x-variant``; ``/invocations`` bodies get ``variant`` and ``request_id`` next
to ``predictions``, Open Inference Protocol answers ``parameters.variant`` (bodies of a deployment
without an experiment are MLflow's and OIP's, unchanged). In shadow mode the versions of weight 0
predict a copy of each answered request on a thread of their own, after the answer is made, in
micro-batches (``SHADOW_LINGER``): their predictions are logged with ``shadow=true`` under the
same request id (so ground truth sent later scores them too), never counted in ``/metrics``, and
their errors never reach the client. When shadows fall behind by ``SHADOW_BACKLOG`` requests,
further copies are skipped (counted in ``_Experiment.skipped``). Copies are best effort: those
still queued when a replica stops are not predicted.
"""

from __future__ import annotations

import asyncio
import bisect
import hashlib
import logging
import queue
import random
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
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
from jupyter_mlops.serving.model import (
    Batch,
    LoadedVersion,
    Prepared,
    silence_feature_name_warning,
)
from jupyter_mlops.serving.outputs import V2_TYPES

if TYPE_CHECKING:
    from jupyter_mlops.features.online.base import OnlineStore
    from jupyter_mlops.serving.predlog import PredictionLog
    from jupyter_mlops.serving.schemas import Routing
    from jupyter_mlops.serving.spec import ServerSpec

logger = logging.getLogger(__name__)

JSON = "application/json"
CSV = "text/csv"


#: Shadow copies waiting before further ones are skipped (see the module doc).
SHADOW_BACKLOG = 1024
#: Seconds the shadow thread lets copies gather before it predicts them together, and at most
#: how many: one prediction of many rows costs about what one row costs, so the shadows take
#: little CPU and hold Python's lock rarely (each copy predicted alone doubled the answers' p50).
SHADOW_LINGER = 0.02
SHADOW_BATCH = 256
STICKY_HEADER = "x-sticky-key"

#: A protocol's decoder: the request's body (bytes, or a gRPC message) as a batch, with the
#: columns of a version naming unnamed values; and the request id the body gives, if any.
Decode = Callable[[Any, "LoadedVersion"], tuple[Batch, "str | None"]]


@dataclass
class Answer:
    """What the prediction path made of one request, before a protocol sends it."""

    status: int
    request_id: str
    model: LoadedVersion | None
    content: Any = None  # the encoded answer, when status is 200
    error: str | None = None  # what went wrong, otherwise


def _json(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(payload), status_code=status, media_type=JSON, headers=headers)


# -- assignment ------------------------------------------------------------------------------------


def sticky_point(experiment_id: str, key: str) -> float:
    """A sticky key's place in [0, 1) within an experiment.

    BLAKE2b of the experiment id and the key, its first 53 bits as a fraction: uniform, and the
    same in every process, on every machine and Python version (Python's ``hash()`` of a string
    changes with each process). The experiment id is part of the hash, so each experiment
    splits the keys afresh.

    Example:
        >>> sticky_point("exp-7", "user-42") == sticky_point("exp-7", "user-42")
        True
    """
    digest = hashlib.blake2b(experiment_id.encode() + b"\0" + key.encode(), digest_size=8).digest()
    return (int.from_bytes(digest, "big") >> 11) / 9007199254740992.0  # 2**53


def assign(cumulative: Sequence[float], point: float) -> int:
    """The index of the variant whose band of the cumulative weights holds ``point``."""
    return min(bisect.bisect_right(cumulative, point), len(cumulative) - 1)


def key_text(value: Any) -> str | None:
    """A sticky key's value as text, the same whichever way it was sent: 42, 42.0 and "42" are
    one key (a numeric column arrives as floats in a matrix); None and NaN are no key."""
    if value is None or isinstance(value, str):
        return value or None
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        number = float(value)
        if number != number:
            return None
        return str(int(number)) if number.is_integer() else repr(number)
    return orjson.dumps(value).decode()


@dataclass
class _Copy:
    """A shadow copy of an answered request, waiting for the shadow thread."""

    model: LoadedVersion
    body: Any  # as the protocol read it
    batch: Batch  # as decoded for the answer, with the columns below
    decoded_with: list[str]
    decode: Decode
    request_id: str
    protocol: str
    key: str | None


def _predict_together(model: LoadedVersion, prepared: list[Prepared]) -> list[np.ndarray] | None:
    """One prediction for several requests' inputs, split back per request; None when they do
    not stack or the prediction fails."""
    columns = prepared[0].columns
    if any(p.columns != columns for p in prepared):
        return None
    rows = [p.rows for p in prepared]
    if all(p.matrix is not None for p in prepared):
        joined = Prepared(
            columns, sum(rows), np.vstack([p.matrix for p in prepared if p.matrix is not None])
        )
    elif all(p.frame is not None for p in prepared):
        import pandas as pd

        frame = pd.concat([p.frame for p in prepared], ignore_index=True)
        joined = Prepared(columns, sum(rows), None, frame=frame)
    else:
        return None
    try:
        outputs = model.predict(joined)
    except Exception:
        return None
    if len(outputs) != sum(rows):
        return None
    return np.split(outputs, np.cumsum(rows)[:-1])


def _without(batch: Batch, column: str) -> Batch:
    """The batch without one column (a sticky key the model does not take)."""
    at = batch.columns.index(column)
    columns = batch.columns[:at] + batch.columns[at + 1 :]
    if batch.matrix is not None:
        return Batch(columns, batch.rows, matrix=np.delete(batch.matrix, at, axis=1))
    return Batch(columns, batch.rows, data={c: v for c, v in batch.data.items() if c != column})


class _Experiment:
    """What a request of an experiment needs to know: each version's variant, the sticky key,
    the shadows and the thread they run on."""

    def __init__(self, routing: Routing, models: Sequence[LoadedVersion]) -> None:
        self.id = routing.experiment_id
        self.sticky_key = routing.sticky_key
        self.variant = {label: variant for variant, label in routing.variants.items()}
        # Versions that take the sticky column as an input keep it; others get it removed.
        self.takes_key = {
            m.label: routing.sticky_key in m.accepted_columns for m in models if routing.sticky_key
        }
        self.shadows: dict[str, list[LoadedVersion]] = {}
        if routing.shadow:
            for m in models:
                if m.spec.weight == 0:
                    self.shadows.setdefault("", []).append(m)
                    self.shadows.setdefault(m.name, []).append(m)
        self.copies: queue.Queue[_Copy] = queue.Queue(SHADOW_BACKLOG)
        self.skipped = 0  # copies not queued: the shadows were SHADOW_BACKLOG behind

    def key(self, batch: Batch, headers: Mapping[str, str]) -> str | None:
        column = self.sticky_key
        if column is None:
            return None
        if column in batch.columns and batch.rows:
            values = batch.column(column)
            text = key_text(values[0])
            if text is not None:
                return text
        return headers.get(STICKY_HEADER) or None

    def fit(self, batch: Batch, model: LoadedVersion) -> Batch:
        column = self.sticky_key
        if column is None or column not in batch.columns or self.takes_key[model.label]:
            return batch
        return _without(batch, column)


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
        self.experiment = (
            _Experiment(spec.routing, self.models) if spec.routing is not None else None
        )
        if self.experiment is not None and self.experiment.shadows:
            # A daemon: copies still queued when the replica exits are not predicted.
            threading.Thread(target=self._shadow_loop, name="shadow", daemon=True).start()
        self.app = Starlette(routes=self._routes())

    # -- choosing a model -------------------------------------------------------------------------

    def choose(self, name: str = "", point: float | None = None) -> LoadedVersion:
        """The version that answers a request: by the weights, at ``point`` in [0, 1) (a sticky
        key's :func:`sticky_point`) or at random."""
        cum, models = self._cumulative[name]
        if len(models) == 1:
            return models[0]
        return models[assign(cum, random.random() if point is None else point)]

    def variant(self, model: LoadedVersion) -> str | None:
        """The variant a version is in the deployment's experiment (None: no experiment)."""
        return self.experiment.variant.get(model.label) if self.experiment else None

    def named(
        self, name: str, version: str | None = None, point: float | None = None
    ) -> LoadedVersion:
        models = self.by_name.get(name)
        if models is None:
            served = ", ".join(self.by_name)
            raise RequestError(
                f"Model {name!r} is not served here; this server serves {served}", 404
            )
        if version is None:
            return self.choose(name, point)
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
        try:
            # A slow client holds a descriptor (see .guard for the headers' deadline).
            async with asyncio.timeout(self.spec.body_seconds):
                async for chunk in request.stream():
                    size += len(chunk)
                    if size > self.max_body:
                        raise RequestError(self._too_large(size), 413)
                    chunks.append(chunk)
        except TimeoutError:
            raise RequestError(
                f"The body did not arrive within {self.spec.body_seconds:g} s ({size} bytes "
                "came); send it at once",
                408,
            ) from None
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
        key: str | None = None,
        shadow: bool = False,
        elapsed: float | None = None,
    ) -> None:
        if elapsed is None:
            elapsed = time.perf_counter() - started
        name = model.name if model else "-"
        version = str(model.version) if model else "-"
        if not shadow:  # /metrics counts what clients were answered
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
            experiment = self.experiment
            if experiment is not None:  # after "rows": the compactor's index reads up to it
                record["variant"] = experiment.variant.get(model.label) if model else None
                record["experiment_id"] = experiment.id
                if key is not None:
                    record["sticky_key"] = key
                record["shadow"] = shadow
            if inputs is not None:
                record["inputs"] = inputs
            if keys:
                record["keys"] = keys
            if outputs is not None:
                record["outputs"] = outputs
            if error is not None:
                record["error"] = error
            self.log.append(record)

    async def answer(
        self,
        headers: Mapping[str, str],
        read: Callable[[], Awaitable[Any]],
        protocol: str,
        pick: Callable[[float | None], LoadedVersion],
        decode: Decode,
        encode: Callable[[np.ndarray, LoadedVersion, str], Any],
        shadows: Sequence[LoadedVersion] = (),
    ) -> Answer:
        """The prediction path every protocol shares: read, decode (a version's columns name
        unnamed values), route, predict, encode, log and count; shadows get a copy.

        ``read`` gives the request's body (bytes over HTTP, a message over gRPC) and may raise
        RequestError (too large); ``decode`` and ``encode`` are the protocol's. A user mistake
        is an Answer with a 4xx status and the error, a model that fails one with 500: what the
        client is sent is what the prediction log records.
        """
        started = time.perf_counter()
        request_id = headers.get("x-request-id") or uuid.uuid4().hex
        model: LoadedVersion | None = None
        rows = 0
        key: str | None = None
        experiment = self.experiment
        try:
            if experiment is None:
                model = pick(None)
                body = await read()
                batch, given_id = decode(body, model)
            else:
                # The sticky key may be in the rows: decode first (with a version's columns,
                # for bodies of unnamed values), then choose.
                body = await read()
                decoded_by = pick(0.0)
                batch, given_id = decode(body, decoded_by)
                key = experiment.key(batch, headers)
                point = None if key is None else sticky_point(experiment.id, key)
                model = pick(point)
                if model.columns != decoded_by.columns:
                    batch, given_id = decode(body, model)
                raw = batch
                batch = experiment.fit(batch, model)
            if given_id:
                request_id = given_id
            rows = batch.rows
            prepared = model.prepare(batch)
            outputs = model.predict(prepared)
            content = encode(outputs, model, request_id)
        except RequestError as exc:
            self._record(
                started, request_id, protocol, model, exc.status, rows, error=exc.message, key=key
            )
            return Answer(exc.status, request_id, model, error=exc.message)
        except Exception as exc:
            logger.exception("Prediction failed (request %s)", request_id)
            message = f"The model failed on this input: {type(exc).__name__}: {exc}"
            self._record(started, request_id, protocol, model, 500, rows, error=message, key=key)
            return Answer(500, request_id, model, error=message)
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
            key=key,
        )
        if experiment is not None and shadows and not self.draining:
            self._shadow(shadows, model, body, raw, decode, request_id, protocol, key)
        return Answer(200, request_id, model, content=content)

    async def _predict(
        self,
        request: Request,
        protocol: str,
        pick: Callable[[float | None], LoadedVersion],
        decode: Decode,
        encode: Callable[[np.ndarray, LoadedVersion, str], bytes],
        error: Callable[[str, int], bytes],
        shadows: Sequence[LoadedVersion] = (),
    ) -> Response:
        answer = await self.answer(
            request.headers, lambda: self._body(request), protocol, pick, decode, encode, shadows
        )
        if answer.error is not None:
            return Response(
                error(answer.error, answer.status),
                answer.status,
                media_type=JSON,
                headers=self._error_headers(answer.request_id, answer.model),
            )
        assert answer.model is not None
        headers = {"x-request-id": answer.request_id, "x-model-version": answer.model.label}
        if self.experiment is not None:
            headers["x-variant"] = self.experiment.variant.get(answer.model.label, "")
        if self.draining:
            # Moves keep-alive clients to the replicas that stay (see worker.DrainingServer).
            headers["connection"] = "close"
        return Response(answer.content, 200, media_type=JSON, headers=headers)

    def _error_headers(self, request_id: str, model: LoadedVersion | None) -> dict[str, str]:
        headers = {"x-request-id": request_id}
        if self.experiment is not None and model is not None:
            headers["x-model-version"] = model.label
            headers["x-variant"] = self.experiment.variant.get(model.label, "")
        return headers

    # -- shadow traffic ---------------------------------------------------------------------------

    def _shadow(
        self,
        shadows: Sequence[LoadedVersion],
        answered: LoadedVersion,
        body: Any,
        batch: Batch,
        decode: Decode,
        request_id: str,
        protocol: str,
        key: str | None,
    ) -> None:
        """Queue a copy of an answered request for the shadow versions (never blocks)."""
        experiment = self.experiment
        assert experiment is not None
        for model in shadows:
            if model is answered:
                continue
            copy = _Copy(model, body, batch, answered.columns, decode, request_id, protocol, key)
            try:
                experiment.copies.put_nowait(copy)
            except queue.Full:
                experiment.skipped += 1

    def _shadow_loop(self) -> None:
        """The shadow thread: every ``SHADOW_LINGER`` s, predict the copies queued meanwhile."""
        experiment = self.experiment
        assert experiment is not None
        while True:
            copies = [experiment.copies.get()]
            time.sleep(SHADOW_LINGER)  # let copies gather: one prediction serves many
            while len(copies) < SHADOW_BATCH:
                try:
                    copies.append(experiment.copies.get_nowait())
                except queue.Empty:
                    break
            for model in {c.model.label: c.model for c in copies}.values():
                try:
                    self._run_shadows(model, [c for c in copies if c.model is model])
                except Exception:  # the shadow thread outlives anything a shadow does
                    logger.exception("Shadow %s failed", model.label)

    def _run_shadows(self, model: LoadedVersion, copies: list[_Copy]) -> None:
        """Predict copies for one shadow version, together when their inputs stack (one
        prediction, its time logged as each one's latency), one by one otherwise or when the
        joint prediction fails (so a bad request fails alone); log each."""
        experiment = self.experiment
        assert experiment is not None
        ready: list[tuple[_Copy, Prepared]] = []
        for c in copies:
            started = time.perf_counter()
            try:
                batch = c.batch if model.columns == c.decoded_with else c.decode(c.body, model)[0]
                ready.append((c, model.prepare(experiment.fit(batch, model))))
            except Exception as exc:
                self._shadow_failed(c, started, exc)
        started = time.perf_counter()
        together = _predict_together(model, [p for _, p in ready]) if len(ready) > 1 else None
        elapsed = time.perf_counter() - started
        for i, (c, prepared) in enumerate(ready):
            if together is None:
                started = time.perf_counter()
                try:
                    outputs = model.predict(prepared)
                except Exception as exc:
                    self._shadow_failed(c, started, exc)
                    continue
                elapsed = time.perf_counter() - started
            else:
                outputs = together[i]
            self._record(
                0.0,
                c.request_id,
                c.protocol,
                model,
                200,
                prepared.rows,
                inputs=prepared.log_inputs(),
                keys=prepared.keys,
                outputs=outputs,
                key=c.key,
                shadow=True,
                elapsed=elapsed,
            )

    def _shadow_failed(self, c: _Copy, started: float, exc: Exception) -> None:
        if isinstance(exc, RequestError):
            status, message = exc.status, exc.message
        else:
            status, message = 500, f"{type(exc).__name__}: {exc}"
            logger.warning("Shadow %s failed (request %s): %s", c.model.label, c.request_id, exc)
        self._record(
            started, c.request_id, c.protocol, c.model, status, c.batch.rows, error=message,
            key=c.key, shadow=True,
        )  # fmt: skip

    # -- MLflow scoring protocol ------------------------------------------------------------------

    async def invocations(self, request: Request) -> Response:
        """POST /invocations: MLflow's scoring protocol, with a JSON or a CSV body.

        A body without a Content-Type is read as JSON; any type but JSON or CSV is a 415, as it is
        for ``mlflow models serve``.
        """
        media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        decode = _MLFLOW_DECODERS.get(media, _unsupported_media(media))
        experiment = self.experiment
        if experiment is None:
            return await self._predict(
                request,
                "mlflow",
                lambda point: self.choose("", point),
                decode,
                lambda out, m, rid: codec.encode_mlflow(out, m.outputs),
                _mlflow_error,
            )
        variant = experiment.variant
        return await self._predict(
            request,
            "mlflow",
            lambda point: self.choose("", point),
            decode,
            lambda out, m, rid: orjson.dumps(
                {
                    **codec.mlflow_answer(out, m.outputs),
                    "variant": variant.get(m.label),
                    "request_id": rid,
                },
                option=orjson.OPT_SERIALIZE_NUMPY,
            ),
            _mlflow_error,
            experiment.shadows.get("", ()),
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
        experiment = self.experiment
        if experiment is None:
            return await self._predict(
                request,
                "v2",
                lambda point: self.named(name, version, point),
                lambda body, m: codec.decode_v2(body, m.columns),
                lambda out, m, rid: codec.encode_v2(out, m.name, m.version, rid, m.outputs),
                _v2_error,
            )
        variant = experiment.variant

        def encode(out: np.ndarray, m: LoadedVersion, rid: str) -> bytes:
            # OIP's parameters extension; the empty object is the first key of that name (no
            # string before it can hold an unescaped quote).
            parameters = b'"parameters":' + orjson.dumps({"variant": variant.get(m.label)})
            return codec.encode_v2(out, m.name, m.version, rid, m.outputs).replace(
                b'"parameters":{}', parameters, 1
            )

        return await self._predict(
            request,
            "v2",
            lambda point: self.named(name, version, point),
            lambda body, m: codec.decode_v2(body, m.columns),
            encode,
            _v2_error,
            # A request for one version by number asked for it: no copies.
            experiment.shadows.get(name, ()) if version is None else (),
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
            model = self.named(request.path_params["name"], request.path_params.get("version"))
        except RequestError as exc:
            return Response(_v2_error(exc.message, exc.status), exc.status, media_type=JSON)
        return _json(self.metadata(model))

    async def v2_model_ready(self, request: Request) -> Response:
        """GET /v2/models/{name}[/versions/{version}]/ready."""
        try:
            self.named(request.path_params["name"], request.path_params.get("version"))
        except RequestError as exc:
            return Response(_v2_error(exc.message, exc.status), exc.status, media_type=JSON)
        return _json({"name": request.path_params["name"], "ready": True})

    def metadata(self, model: LoadedVersion) -> dict[str, Any]:
        keys = model.lookup.keys if model.lookup else []
        inputs = [
            {"name": c, "datatype": V2_TYPES.get(model.types.get(c, ""), "BYTES"), "shape": [-1]}
            for c in model.columns
        ]
        return {
            "name": model.name,
            "versions": [str(m.version) for m in self.by_name[model.name]],
            "platform": "mlflow",
            "inputs": inputs,
            "outputs": model.outputs.tensors(),
            "parameters": {
                "entity_keys": keys,
                "features": model.spec.features,
                "output_names": list(model.outputs.names),
            },
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
                "routing": (
                    self.spec.routing.model_dump() if self.spec.routing is not None else None
                ),
                "models": [
                    {
                        "name": m.name,
                        "version": m.version,
                        "weight": m.spec.weight,
                        "variant": self.variant(m),
                        "inputs": m.columns,
                        "entity_keys": m.lookup.keys if m.lookup else [],
                        "outputs": list(m.outputs.names),
                        "example": m.example_row(),
                    }
                    for m in self.models
                ],
            }
        )

    async def openapi(self, request: Request) -> Response:
        """GET /openapi.json."""
        from jupyter_mlops.serving.openapi import model_server_openapi

        return _json(
            model_server_openapi(
                self.spec.deployment, self.models, experiment=self.experiment is not None
            )
        )

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
        408: "BAD_REQUEST",
        413: "REQUEST_TOO_LARGE",
        415: "UNSUPPORTED_MEDIA_TYPE",
    }
    return orjson.dumps({"error_code": code.get(status, "INTERNAL_ERROR"), "message": message})


def _v2_error(message: str, status: int) -> bytes:
    return orjson.dumps({"error": message})
