"""The Open Inference Protocol v2 over gRPC: ``inference.GRPCInferenceService`` of a replica.

ServerLive, ServerReady, ModelReady, ServerMetadata, ModelMetadata and ModelInfer, on the
deployment's gRPC port (every replica listens on it with ``SO_REUSEPORT``; the kernel spreads the
connections). Clients of Triton and KServe (``tritonclient.grpc``) work unchanged.

ModelInfer takes the path of the REST protocols (:meth:`ModelServer.answer`): the same routing,
feature lookup, validation, prediction log (protocol ``grpc``) and metrics. Tensors come as typed
``contents`` or as ``raw_input_contents`` (little-endian; BYTES elements each a 4-byte length and
the bytes); the answer's tensors are those of the model's metadata, in ``raw_output_contents``
as Triton answers. Inputs are as strict as the model's signature: a column the signature types
as a number takes any integer or floating tensor, not BOOL or BYTES; a boolean column takes BOOL;
a text column BYTES.

A request's id is its ``id`` field, else the ``x-request-id`` metadata; a sticky key of an A/B
experiment is a column of the request, else the ``x-sticky-key`` metadata. The answer's
``parameters`` carry ``variant`` (in an experiment) and, for a ``[n, k]`` tensor,
``output_names`` (a JSON list). A user mistake is ``INVALID_ARGUMENT`` or ``NOT_FOUND`` with the
message REST would give; a model failing on the input is ``INTERNAL``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import grpc
import numpy as np

from jupyter_mlops._version import __version__
from jupyter_mlops.serving import oip
from jupyter_mlops.serving.errors import RequestError
from jupyter_mlops.serving.model import Batch

if TYPE_CHECKING:
    from jupyter_mlops.serving.app import ModelServer
    from jupyter_mlops.serving.model import LoadedVersion

#: Little-endian numpy types of the numeric datatypes (raw contents are little-endian).
DTYPES = {
    "BOOL": np.dtype(np.bool_),
    "UINT8": np.dtype("<u1"),
    "UINT16": np.dtype("<u2"),
    "UINT32": np.dtype("<u4"),
    "UINT64": np.dtype("<u8"),
    "INT8": np.dtype("<i1"),
    "INT16": np.dtype("<i2"),
    "INT32": np.dtype("<i4"),
    "INT64": np.dtype("<i8"),
    "FP16": np.dtype("<f2"),
    "FP32": np.dtype("<f4"),
    "FP64": np.dtype("<f8"),
}
#: Where typed ``contents`` keep each datatype (FP16 travels only as raw contents).
CONTENTS = {
    "BOOL": "bool_contents",
    "UINT8": "uint_contents",
    "UINT16": "uint_contents",
    "UINT32": "uint_contents",
    "UINT64": "uint64_contents",
    "INT8": "int_contents",
    "INT16": "int_contents",
    "INT32": "int_contents",
    "INT64": "int64_contents",
    "FP32": "fp32_contents",
    "FP64": "fp64_contents",
    "BYTES": "bytes_contents",
}
_NUMBERS = {"double", "float", "long", "integer"}
#: Our statuses as gRPC codes.
CODES = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    404: grpc.StatusCode.NOT_FOUND,
    409: grpc.StatusCode.FAILED_PRECONDITION,
    413: grpc.StatusCode.RESOURCE_EXHAUSTED,
    415: grpc.StatusCode.INVALID_ARGUMENT,
    503: grpc.StatusCode.UNAVAILABLE,
}


# -- tensors ---------------------------------------------------------------------------------------


def _split_bytes(raw: bytes, name: str) -> list[bytes]:
    """BYTES raw contents: each element a 4-byte little-endian length, then that many bytes."""
    out: list[bytes] = []
    at = 0
    while at < len(raw):
        if at + 4 > len(raw):
            raise RequestError(f"Input {name!r}: raw BYTES contents end inside a length prefix")
        size = int.from_bytes(raw[at : at + 4], "little")
        at += 4
        if at + size > len(raw):
            raise RequestError(f"Input {name!r}: a raw BYTES element runs past the contents")
        out.append(raw[at : at + size])
        at += size
    return out


def _values(tensor: Any, raw: bytes | None, count: int) -> np.ndarray | list[bytes]:
    """A tensor's values, flat: a numpy array, or a list of bytes for BYTES."""
    name, datatype = tensor.name, tensor.datatype
    if raw is not None:
        if datatype == "BYTES":
            values: np.ndarray | list[bytes] = _split_bytes(raw, name)
        else:
            dtype = DTYPES[datatype]
            if len(raw) != count * dtype.itemsize:
                raise RequestError(
                    f"Input {name!r}: shape {list(tensor.shape)} of {datatype} needs "
                    f"{count * dtype.itemsize} bytes; raw contents have {len(raw)}"
                )
            values = np.frombuffer(raw, dtype=dtype)
    else:
        field = CONTENTS.get(datatype)
        if field is None:
            raise RequestError(f"Input {name!r}: {datatype} travels only as raw contents")
        held = getattr(tensor.contents, field)
        values = list(held) if datatype == "BYTES" else np.array(held, dtype=DTYPES[datatype])
    if len(values) != count:
        raise RequestError(
            f"Input {name!r}: shape {list(tensor.shape)} needs {count} values; it has {len(values)}"
        )
    return values


def _column(name: str, datatype: str, values: Any, declared: str | None) -> Any:
    """A column as the prediction path takes it (floats, or a list of text), checked against
    the type the signature declares for it."""
    if datatype == "BYTES":
        if declared is not None and declared not in ("string", "binary", "datetime"):
            raise RequestError(
                f"Input {name!r} is a {declared} column; BYTES cannot fill it. Send "
                f"{'BOOL' if declared == 'boolean' else 'a numeric datatype (e.g. FP64)'}."
            )
        try:
            return [v.decode() for v in values]
        except UnicodeDecodeError:
            raise RequestError(f"Input {name!r}: BYTES values must be UTF-8 text") from None
    if declared in ("string", "binary", "datetime"):
        raise RequestError(f"Input {name!r} is a {declared} column; send it as BYTES")
    if datatype == "BOOL" and declared is not None and declared != "boolean":
        raise RequestError(
            f"Input {name!r} is a {declared} column; BOOL cannot fill it (send FP64 or INT64)"
        )
    if declared == "boolean" and datatype != "BOOL":
        raise RequestError(f"Input {name!r} is a boolean column; send it as BOOL")
    return np.asarray(values, dtype=np.float64)


def decode_infer(request: Any, model: LoadedVersion) -> tuple[Batch, str | None]:
    """A ``ModelInferRequest`` as a batch, and its id: one tensor per column (``[n]`` or
    ``[n, 1]``), or one ``[n, columns]`` numeric tensor in signature order."""
    tensors = list(request.inputs)
    if not tensors:
        raise RequestError("An inference request needs inputs: one tensor per input column")
    raws = list(request.raw_input_contents)
    if raws and len(raws) != len(tensors):
        raise RequestError(
            f"raw_input_contents has {len(raws)} entries for {len(tensors)} inputs; send every "
            "input's values raw, or none"
        )
    columns = model.columns
    for t in tensors:
        if t.datatype not in DTYPES and t.datatype != "BYTES":
            raise RequestError(f"Input {t.name!r}: unknown datatype {t.datatype!r}")
        if any(d < 0 for d in t.shape):
            raise RequestError(f"Input {t.name!r}: shape must not hold negative sizes")
    request_id = request.id or None
    if len(tensors) == 1 and len(tensors[0].shape) == 2 and tensors[0].name not in columns:
        t = tensors[0]
        rows, width = t.shape
        if width != len(columns):
            raise RequestError(
                f"Input {t.name!r} has {width} columns; the model takes {len(columns)} "
                f"({', '.join(columns)})"
            )
        if t.datatype in ("BOOL", "BYTES") or not model.numeric:
            raise RequestError(
                f"Input {t.name!r}: one [rows, columns] tensor must be numeric and the model's "
                "inputs all numbers; send one tensor per column otherwise"
            )
        values = _values(t, raws[0] if raws else None, rows * width)
        matrix = np.asarray(values, dtype=np.float64).reshape(rows, width)
        return Batch(columns=list(columns), rows=rows, matrix=matrix), request_id
    data: dict[str, Any] = {}
    count: int | None = None
    for i, t in enumerate(tensors):
        shape = list(t.shape)
        n = shape[0] if shape else 1
        if any(d != 1 for d in shape[1:]):
            raise RequestError(f"Input {t.name!r} must have shape [rows] or [rows, 1]; got {shape}")
        if count is not None and n != count:
            raise RequestError(f"Input {t.name!r} has {n} rows; others have {count}")
        if t.name in data:
            raise RequestError(f"Input {t.name!r} is given twice")
        count = n
        values = _values(t, raws[i] if raws else None, math.prod(shape) if shape else 1)
        data[t.name] = _column(t.name, t.datatype, values, model.types.get(t.name))
    return Batch(columns=list(data), rows=count or 0, data=data), request_id


def _raw(values: np.ndarray, datatype: str) -> bytes:
    if datatype == "BYTES":
        parts = []
        for v in values.reshape(-1).tolist():
            item = v if isinstance(v, bytes) else str(v).encode()
            parts.append(len(item).to_bytes(4, "little") + item)
        return b"".join(parts)
    return np.ascontiguousarray(values, dtype=DTYPES[datatype]).tobytes()


def encode_infer(
    predictions: np.ndarray, model: LoadedVersion, request_id: str, variant: str | None
) -> Any:
    """The ``ModelInferResponse``: the tensors of the model's metadata, raw contents."""
    from jupyter_mlops.serving.outputs import datatype_of

    response = oip.ModelInferResponse(
        model_name=model.name, model_version=str(model.version), id=request_id
    )
    if variant is not None:
        response.parameters["variant"].string_param = variant
    for name, values, names in model.outputs.answer_tensors(predictions):
        datatype = datatype_of(values.dtype)
        if values.dtype == object and model.outputs.datatype != "BYTES":
            values = values.astype(np.float64)
            datatype = "FP64"
        tensor = response.outputs.add(name=name, datatype=datatype, shape=list(values.shape))
        if names is not None:
            tensor.parameters["output_names"].string_param = json.dumps(names)
        response.raw_output_contents.append(_raw(values, datatype))
    return response


# -- the service -----------------------------------------------------------------------------------


class InferenceService:
    """The gRPC methods of one replica, over its :class:`ModelServer`."""

    def __init__(self, server: ModelServer) -> None:
        self.server = server

    async def ServerLive(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return oip.ServerLiveResponse(live=True)

    async def ServerReady(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return oip.ServerReadyResponse(ready=not self.server.draining)

    async def ModelReady(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        # As Triton answers: a model not served here is not ready (no error).
        try:
            self.server.named(request.name, request.version or None)
        except RequestError:
            return oip.ModelReadyResponse(ready=False)
        return oip.ModelReadyResponse(ready=not self.server.draining)

    async def ServerMetadata(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return oip.ServerMetadataResponse(name="jupyter-mlops", version=__version__, extensions=[])

    async def ModelMetadata(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        try:
            model = self.server.named(request.name, request.version or None)
        except RequestError as exc:
            code = CODES.get(exc.status, grpc.StatusCode.INVALID_ARGUMENT)
            await context.abort(code, exc.message)
        meta = self.server.metadata(model)
        response = oip.ModelMetadataResponse(
            name=meta["name"], versions=meta["versions"], platform=meta["platform"]
        )
        for t in meta["inputs"]:
            response.inputs.add(name=t["name"], datatype=t["datatype"], shape=t["shape"])
        for t in meta["outputs"]:
            response.outputs.add(name=t["name"], datatype=t["datatype"], shape=t["shape"])
        return response

    async def ModelInfer(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        server = self.server
        name, version = request.model_name, request.model_version or None
        experiment = server.experiment
        headers = {k: v for k, v in context.invocation_metadata() or () if isinstance(v, str)}
        if request.id:  # known before decoding: a refused request is logged under it too
            headers["x-request-id"] = request.id

        async def read() -> Any:
            return request

        def encode(out: np.ndarray, m: LoadedVersion, rid: str) -> Any:
            return encode_infer(out, m, rid, server.variant(m))

        shadows: Sequence[LoadedVersion] = ()
        if experiment is not None and version is None:
            shadows = experiment.shadows.get(name, ())
        answer = await server.answer(
            headers,
            read,
            "grpc",
            lambda point: server.named(name, version, point),
            decode_infer,
            encode,
            shadows,
        )
        metadata = [("x-request-id", answer.request_id)]
        if answer.model is not None:
            metadata.append(("x-model-version", answer.model.label))
        context.set_trailing_metadata(metadata)
        if answer.error is not None:
            code = CODES.get(answer.status, grpc.StatusCode.INTERNAL)
            await context.abort(code, answer.error)
        return answer.content


def add_service(grpc_server: grpc.aio.Server, server: ModelServer) -> None:
    """Answer ``inference.GRPCInferenceService`` on ``grpc_server`` for ``server``'s models."""
    service = InferenceService(server)
    handlers = {
        method: grpc.unary_unary_rpc_method_handler(
            getattr(service, method),
            request_deserializer=request_type.FromString,
            response_serializer=response_type.SerializeToString,
        )
        for method, (request_type, response_type) in oip.METHODS.items()
    }
    grpc_server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(oip.SERVICE, handlers),)
    )


def make_server(server: ModelServer, host: str, port: int) -> grpc.aio.Server:
    """A gRPC server for a replica, listening on ``host:port`` alongside the other replicas
    (``SO_REUSEPORT``), with the deployment's request size limit. Call inside the event loop;
    raises OSError if the port cannot be bound."""
    grpc_server = grpc.aio.server(
        options=[
            ("grpc.so_reuseport", 1),
            ("grpc.max_receive_message_length", server.max_body),
            ("grpc.max_send_message_length", -1),
        ]
    )
    add_service(grpc_server, server)
    try:
        bound = grpc_server.add_insecure_port(f"{host}:{port}")
    except RuntimeError as exc:
        raise OSError(f"gRPC could not listen on {host}:{port}: {exc}") from None
    if bound == 0:
        raise OSError(f"gRPC could not listen on {host}:{port}")
    return grpc_server
