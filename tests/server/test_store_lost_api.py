"""A tracking store deleted while the Jupyter server runs (and other stores damaged): every
route answers a status its OpenAPI document lists, MLflow-backed ones a 503 naming the file and
what to do (not SQL, not an answer from the deleted file), until the file is put back."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from tornado.httpclient import HTTPClientError

from jupyter_mlops import Workspace
from jupyter_mlops.server.routes import RESOURCES, rest_openapi
from tests.helpers import Fetch, get_error, get_json

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


async def test_lost_stores_are_documented_503s_naming_the_file_until_put_back(
    jp_fetch: Fetch, workspace: Workspace, tmp_path: Path
) -> None:
    """The MLflow store deleted under the running server, the feature registry and the
    pipelines' state damaged: every operation's answer is one its OpenAPI document lists (503
    where it reads one of them), the 503 names the file and the way out, and the store put back
    is used again."""
    with workspace.tracking.start_run("churn", run_name="r"):
        pass
    assert "churn" in [e["name"] for e in (await get_json(jp_fetch, "experiments"))["experiments"]]
    db = workspace.state_dir / "mlflow.db"
    backup = tmp_path / "backup.db"
    shutil.copyfile(db, backup)
    db.unlink()
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

    for route in (("experiments",), ("experiments", "churn", "runs"), ("models",)):
        code, err = await get_error(jp_fetch, *route)
        assert code == 503, route
        assert err["message"].startswith(f"The tracking store {db} is missing"), err
        assert "SELECT" not in err["message"] and "backup" in err["hint"]
    assert not db.exists()  # no connection made an empty file in its place

    shutil.copyfile(backup, db)
    assert "churn" in [e["name"] for e in (await get_json(jp_fetch, "experiments"))["experiments"]]
