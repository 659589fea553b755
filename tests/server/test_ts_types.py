"""The lab extension's REST types (``labextension/src/api/types.ts``) against the OpenAPI document.

The pydantic schemas are the truth: the server generates ``/mlops/api/openapi.json`` from them, and
each ``export interface`` of ``types.ts`` must have exactly the properties of the schema it mirrors.
An interface mirrors the schema its doc comment names (``(schema `ViewSummary`)``), or else the one
named like it without the ``I`` (``IExperiment`` -> ``Experiment``).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import Fetch, get_json

# Interfaces with no schema of their own on the server: the client turns them into query strings.
CLIENT_ONLY = frozenset({"IRunQuery", "IComparisonQuery", "IMonitorWindow", "IDriftOptions"})

_INTERFACE = re.compile(
    r"(?:/\*\*(?P<doc>(?:(?!\*/).)*)\*/\s*)?"
    r"export\s+interface\s+(?P<name>\w+)(?:<[^>{]*>)?"
    r"(?:\s+extends\s+(?P<extends>[\w\s,]+?))?\s*\{",
    re.S,
)
_SCHEMA_NAME = re.compile(r"\bschema `(\w+)`", re.I)
_COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)
_PROPERTY = re.compile(
    r"(?:readonly\s+)?(?P<name>[A-Za-z_$][\w$]*|'[^']+'|\"[^\"]+\")\s*(?P<optional>\?)?\s*:", re.S
)
_OPEN, _CLOSE = "{[(<", "}])>"


@dataclass(frozen=True)
class TsInterface:
    """One ``export interface`` of a TypeScript file, as far as this test needs it."""

    name: str
    schema: str
    extends: tuple[str, ...]
    own: frozenset[str]


def read_interfaces(source: str) -> dict[str, TsInterface]:
    """The exported interfaces of a TypeScript source, by name.

    A small reader for flat interfaces: members are ``name: type;``, ``name?: type;`` or
    ``readonly name: type;``; anything else (index signatures, methods) is an error here.
    """
    # Comments blanked out, same length, so positions in `source` hold in `code`.
    code = _COMMENT.sub(lambda m: re.sub(r"[^\n]", " ", m.group()), source)
    interfaces: dict[str, TsInterface] = {}
    for match in _INTERFACE.finditer(source):
        name = match["name"]
        named = _SCHEMA_NAME.search(match["doc"] or "")
        extends = tuple(e.strip() for e in (match["extends"] or "").split(",") if e.strip())
        body = _body(code, match.end() - 1)
        interfaces[name] = TsInterface(
            name=name,
            schema=named[1] if named else name.removeprefix("I"),
            extends=extends,
            own=frozenset(_member_name(name, member) for member in _members(body)),
        )
    return interfaces


def _body(code: str, brace: int) -> str:
    """The text between the `{` at `brace` and its matching `}`."""
    depth = 0
    for i in range(brace, len(code)):
        if code[i] == "{":
            depth += 1
        elif code[i] == "}":
            depth -= 1
            if depth == 0:
                return code[brace + 1 : i]
    raise ValueError(f"unclosed interface body at offset {brace}")


def _members(body: str) -> list[str]:
    """The body split at the `;` and `,` that are not nested in a type."""
    members, depth, start = [], 0, 0
    for i, char in enumerate(body):
        if char in _OPEN:
            depth += 1
        elif char in _CLOSE and not (char == ">" and body[i - 1] == "="):
            depth -= 1
        elif char in ";," and depth == 0:
            members.append(body[start:i])
            start = i + 1
    members.append(body[start:])
    return [m.strip() for m in members if m.strip()]


def _member_name(interface: str, member: str) -> str:
    match = _PROPERTY.match(member)
    if match is None:
        raise ValueError(f"{interface}: cannot read the member {member!r} (not `name?: type`)")
    return match["name"].strip("'\"")


def properties(interfaces: dict[str, TsInterface], name: str) -> set[str]:
    """An interface's properties, its own and those of the interfaces it extends."""
    interface = interfaces[name]
    found = set(interface.own)
    for parent in interface.extends:
        if parent not in interfaces:
            raise ValueError(f"{name} extends {parent}, which is not exported from types.ts")
        found |= properties(interfaces, parent)
    return found


@pytest.fixture
def types_ts() -> Path:
    """The TypeScript file of the REST types; override to check another."""
    return Path(__file__).resolve().parents[2] / "labextension" / "src" / "api" / "types.ts"


@pytest.fixture
def ts_interfaces(types_ts: Path) -> dict[str, TsInterface]:
    return read_interfaces(types_ts.read_text(encoding="utf-8"))


async def openapi_schemas(fetch: Fetch) -> dict[str, Any]:
    doc = await get_json(fetch, "openapi.json")
    schemas: dict[str, Any] = doc["components"]["schemas"]
    return schemas


def test_reader_handles_optional_readonly_and_extends() -> None:
    source = """
    /** A thing (schema `Thing`). */
    export interface IThing {
      id: string;
      readonly label?: string | null;
      /** Nested types do not count: { no: braces } */
      shape: Record<string, { x: number; y: number }[]>;
      callback?: (a: number, b: number) => void;
    }
    export interface IBigThing extends IThing {
      'quoted-name': number;
    }
    """
    interfaces = read_interfaces(source)
    assert interfaces["IThing"].schema == "Thing"
    assert interfaces["IThing"].own == {"id", "label", "shape", "callback"}
    assert interfaces["IBigThing"].schema == "BigThing"
    assert properties(interfaces, "IBigThing") == {
        "id",
        "label",
        "shape",
        "callback",
        "quoted-name",
    }
    with pytest.raises(ValueError, match="cannot read the member"):
        read_interfaces("export interface IMap { [key: string]: number; }")


async def test_every_interface_mirrors_a_schema_of_the_server(
    jp_fetch: Fetch, ts_interfaces: dict[str, TsInterface]
) -> None:
    schemas = await openapi_schemas(jp_fetch)
    unknown = []
    for interface in ts_interfaces.values():
        if interface.name in CLIENT_ONLY or interface.schema in schemas:
            continue
        close = difflib.get_close_matches(interface.schema, schemas)
        unknown.append(
            f"{interface.name} mirrors schema {interface.schema!r}, which the OpenAPI document "
            f"does not have" + (f" (close: {', '.join(close)})" if close else "")
        )
    assert not unknown, "\n".join(unknown)


async def test_interfaces_have_the_properties_of_their_schema(
    jp_fetch: Fetch, ts_interfaces: dict[str, TsInterface]
) -> None:
    schemas = await openapi_schemas(jp_fetch)
    checked = [i for i in ts_interfaces.values() if i.schema in schemas]
    assert checked, "no interface of types.ts matches a schema of the OpenAPI document"
    mismatches = []
    for interface in checked:
        schema = schemas[interface.schema]
        expected = set(schema.get("properties", {}))
        actual = properties(ts_interfaces, interface.name)
        if expected != actual:
            mismatches.append(
                f"{interface.name} (schema {interface.schema}): missing "
                f"{sorted(expected - actual)}, not in the schema {sorted(actual - expected)}"
            )
    assert not mismatches, "\n".join(mismatches)


def _referenced(schemas: dict[str, Any], node: Any, found: set[str]) -> None:
    """Collect the names of the schemas `node` refers to, and theirs in turn."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            name = ref.rsplit("/", 1)[1]
            if name not in found:
                found.add(name)
                _referenced(schemas, schemas.get(name, {}), found)
        for value in node.values():
            _referenced(schemas, value, found)
    elif isinstance(node, list):
        for value in node:
            _referenced(schemas, value, found)


async def test_every_monitoring_schema_has_an_interface(
    jp_fetch: Fetch, ts_interfaces: dict[str, TsInterface]
) -> None:
    """The Monitoring section reads every monitoring resource: each schema its paths send or
    take, and the schemas those contain, is mirrored by an interface of types.ts."""
    doc = await get_json(jp_fetch, "openapi.json")
    schemas: dict[str, Any] = doc["components"]["schemas"]
    monitoring = {
        path: item
        for path, item in doc["paths"].items()
        if "/monitoring" in path.split("api", 1)[-1]
    }
    assert monitoring, "the OpenAPI document has no monitoring path"
    used: set[str] = set()
    _referenced(schemas, monitoring, used)
    mirrored = {i.schema for i in ts_interfaces.values()}
    missing = sorted(used - mirrored - {"ErrorBody", "ErrorDetail"})
    assert not missing, f"monitoring schemas with no interface in types.ts: {missing}"


async def test_every_pipelines_schema_has_an_interface(
    jp_fetch: Fetch, ts_interfaces: dict[str, TsInterface]
) -> None:
    """The pipelines panel reads the pipeline, pipeline-run and lineage-chain resources: each
    schema they send or take, and those these contain, is mirrored by an interface."""
    doc = await get_json(jp_fetch, "openapi.json")
    schemas: dict[str, Any] = doc["components"]["schemas"]
    pipelines = {
        path: item
        for path, item in doc["paths"].items()
        if path.startswith(("/mlops/api/pipelines", "/mlops/api/pipeline-runs"))
        or path.endswith("/lineage-chain")
    }
    assert len(pipelines) >= 9, "the OpenAPI document lacks pipeline paths"
    used: set[str] = set()
    _referenced(schemas, pipelines, used)
    mirrored = {i.schema for i in ts_interfaces.values()}
    missing = sorted(used - mirrored - {"ErrorBody", "ErrorDetail"})
    assert not missing, f"pipeline schemas with no interface in types.ts: {missing}"
