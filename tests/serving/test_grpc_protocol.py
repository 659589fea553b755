"""The gRPC service's description: current with its .proto, and wire-compatible with Triton's."""

from __future__ import annotations

import subprocess
import sys
from importlib import resources
from pathlib import Path
from typing import Any

from google.protobuf import descriptor_pb2

from jupyter_mlops.serving import oip

HERE = resources.files(oip)


def test_the_committed_descriptor_is_compiled_from_the_proto(tmp_path: Path) -> None:
    out = tmp_path / "compiled.desc"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            f"-I{HERE}",
            f"--descriptor_set_out={out}",
            oip.PROTO,
        ],
        check=True,
    )
    fresh = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())
    committed = descriptor_pb2.FileDescriptorSet.FromString(
        HERE.joinpath(oip.DESCRIPTOR_SET).read_bytes()
    )
    assert fresh == committed, "run scripts/gen-grpc after changing the .proto"


def fields(message: Any) -> dict[str, tuple[int, int, bool, str | None]]:
    """A message's fields as the wire sees them: number, type, repeated, message type."""
    out = {}
    for f in message.fields:
        kind = f.message_type.full_name if f.message_type is not None else None
        out[f.name] = (f.number, f.type, f.is_repeated, kind)
    return out


def walk(message: Any) -> dict[str, Any]:
    found = {message.full_name: message}
    for nested in message.nested_types:
        found.update(walk(nested))
    return found


def test_every_message_and_method_is_tritons_on_the_wire() -> None:
    from tritonclient.grpc import service_pb2  # Triton's own compiled description

    theirs_file = service_pb2.DESCRIPTOR
    ours_service = oip.POOL.FindServiceByName(oip.SERVICE)
    theirs_service = theirs_file.services_by_name["GRPCInferenceService"]
    assert ours_service.full_name == theirs_service.full_name == "inference.GRPCInferenceService"
    for method in ours_service.methods:
        theirs = theirs_service.methods_by_name[method.name]
        assert method.input_type.full_name == theirs.input_type.full_name
        assert method.output_type.full_name == theirs.output_type.full_name
    ours: dict[str, Any] = {}
    for name in oip.POOL.FindFileByName(oip.PROTO).message_types_by_name:
        ours.update(walk(oip.POOL.FindMessageTypeByName(f"{oip.PACKAGE}.{name}")))
    theirs_messages: dict[str, Any] = {}
    for message in theirs_file.message_types_by_name.values():
        theirs_messages.update(walk(message))
    assert len(ours) >= 20
    for name, message in ours.items():
        assert fields(message) == fields(theirs_messages[name]), name
