"""The OpenAPI document lists the statuses the routes really answer: the 201 of a verb that
creates something, and the 503 of every route that talks to a store when the store is lost."""

from __future__ import annotations

import ast
import inspect
import json
import textwrap
from typing import Any

from pydantic import BaseModel, ValidationError
from tornado.httpclient import HTTPClientError

from jupyter_mlops import Workspace
from jupyter_mlops.server.routes import RESOURCES, rest_openapi
from tests.helpers import Fetch

# Path parameters that name things a store is asked about (none of them exists).
PATH_VALUES = {
    "experiment_id": "1",
    "run_id": "r0",
    "name": "churn",
    "version": "1",
    "alias": "champion",
    "job": "j0",
    "check_id": "c0",
    "run": "r0",
}
# Verbs that start a process whatever the store's state: not called here.
STARTS_A_PROCESS = {("post", "/monitoring/scheduler")}


def sent_statuses(method: Any) -> set[int]:
    """The literal statuses a handler method passes to ``self.send``."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(method)))
    found = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "send"
        ):
            status = node.args[1] if len(node.args) > 1 else None
            status = next((k.value for k in node.keywords if k.arg == "status"), status)
            if isinstance(status, ast.Constant):
                found.add(int(status.value))
    return found


def test_a_verb_that_creates_something_documents_its_201() -> None:
    doc = rest_openapi()["paths"]
    created = []
    for resource in RESOURCES:
        for verb, op in resource.operations.items():
            where = f"{verb.upper()} {resource.openapi_path}"
            sent = sent_statuses(getattr(resource, verb))
            assert sent <= {op.status}, f"{where} sends {sent}, declares {op.status}"
            responses = doc["/mlops/api" + resource.openapi_path][verb]["responses"]
            success = {int(code) for code in responses if int(code) < 300}
            assert success == {op.status}, f"{where} documents {success}"
            if op.status == 201:
                created.append(where)
    assert "POST /models" in created and "POST /deployments" in created and len(created) >= 8


def minimal_body(model: type[BaseModel]) -> str:
    """A body with every required field filled with a plain value (``{}`` when that is not
    valid): enough to get past validation to the store where the model allows it."""
    fill = {"string": "x", "integer": 1, "number": 0.5, "boolean": True, "array": [], "object": {}}
    schema = model.model_json_schema()
    body = {
        name: fill.get(schema["properties"][name].get("type", "string"), "x")
        for name in schema.get("required", [])
    }
    try:
        model.model_validate(body)
    except ValidationError:
        return "{}"
    return json.dumps(body)


async def test_every_route_answers_lost_stores_with_a_documented_status(
    jp_fetch: Fetch, workspace: Workspace
) -> None:
    """The MLflow store lost, the feature registry and the pipelines' state damaged: every
    operation's answer is one its document lists (503 where it reads one of them)."""
    workspace.tracking.list_experiments()  # the store is made (and noted) ...
    (workspace.state_dir / "mlflow.db").unlink()  # ... and lost
    for damaged in ("features/registry.json", "pipelines/applied.json", "pipelines/cursors.json"):
        (workspace.state_dir / damaged).parent.mkdir(parents=True, exist_ok=True)
        (workspace.state_dir / damaged).write_text("{not json")
    doc = rest_openapi()["paths"]
    undocumented, answered = [], set()
    for resource in RESOURCES:
        for verb, op in resource.operations.items():
            if (verb, resource.openapi_path) in STARTS_A_PROCESS:
                continue
            path = resource.openapi_path.format(**PATH_VALUES)
            kwargs: dict[str, Any] = {"method": verb.upper()}
            if verb in {"post", "put", "patch"}:
                kwargs["body"] = minimal_body(op.body) if op.body is not None else "{}"
            try:
                response = await jp_fetch("mlops", "api", *path.strip("/").split("/"), **kwargs)
                code = response.code
            except HTTPClientError as exc:
                code = exc.code
            answered.add(code)
            documented = doc["/mlops/api" + resource.openapi_path][verb]["responses"]
            if str(code) not in documented:
                undocumented.append(f"{verb.upper()} {path} -> {code}")
    assert not undocumented, "\n".join(undocumented)
    assert 503 in answered  # the lost store was reached, not only 400s and 404s
