"""The OpenAPI document lists the success status each verb really sends: the 201 of a verb that
creates something (the error statuses are checked against real answers in test_store_lost_api)."""

from __future__ import annotations

import ast
import inspect
import textwrap
from typing import Any

from jupyter_mlops.server.routes import RESOURCES, rest_openapi


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
