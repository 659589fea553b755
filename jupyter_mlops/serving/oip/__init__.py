"""The Open Inference Protocol v2 over gRPC: its messages, built from ``grpc_predict_v2.proto``.

The messages come from the compiled descriptor next to the proto (``scripts/gen-grpc`` writes
it; a test checks it is current) and live in a descriptor pool of their own: a client library in
the same process (tritonclient registers the same ``inference.*`` names in protobuf's default
pool) cannot clash with them, and no generated code ties the package to one protobuf release.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

PROTO = "grpc_predict_v2.proto"
DESCRIPTOR_SET = "grpc_predict_v2.desc"
PACKAGE = "inference"
SERVICE = f"{PACKAGE}.GRPCInferenceService"

_files = descriptor_pb2.FileDescriptorSet.FromString(
    resources.files(__name__).joinpath(DESCRIPTOR_SET).read_bytes()
)
POOL = descriptor_pool.DescriptorPool()
for _file in _files.file:
    POOL.Add(_file)


def message(name: str) -> Any:
    """The class of the message ``inference.<name>``."""
    return message_factory.GetMessageClass(POOL.FindMessageTypeByName(f"{PACKAGE}.{name}"))


ServerLiveRequest = message("ServerLiveRequest")
ServerLiveResponse = message("ServerLiveResponse")
ServerReadyRequest = message("ServerReadyRequest")
ServerReadyResponse = message("ServerReadyResponse")
ModelReadyRequest = message("ModelReadyRequest")
ModelReadyResponse = message("ModelReadyResponse")
ServerMetadataRequest = message("ServerMetadataRequest")
ServerMetadataResponse = message("ServerMetadataResponse")
ModelMetadataRequest = message("ModelMetadataRequest")
ModelMetadataResponse = message("ModelMetadataResponse")
ModelInferRequest = message("ModelInferRequest")
ModelInferResponse = message("ModelInferResponse")

#: Each method of the service: its request and response classes.
METHODS: dict[str, tuple[Any, Any]] = {
    method.name: (message(method.input_type.name), message(method.output_type.name))
    for method in POOL.FindServiceByName(SERVICE).methods
}
