"""The route table, and the OpenAPI document generated from it and the pydantic models."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from jupyter_mlops._version import __version__
from jupyter_mlops.server.abtest import HANDLERS as ABTEST_HANDLERS
from jupyter_mlops.server.base import MlopsHandler, api
from jupyter_mlops.server.dashboard import HANDLERS as DASHBOARD_HANDLERS
from jupyter_mlops.server.experiments import HANDLERS as EXPERIMENT_HANDLERS
from jupyter_mlops.server.features import HANDLERS as FEATURE_HANDLERS
from jupyter_mlops.server.jobs import HANDLERS as JOB_HANDLERS
from jupyter_mlops.server.models import HANDLERS as MODEL_HANDLERS
from jupyter_mlops.server.monitoring import HANDLERS as MONITORING_HANDLERS
from jupyter_mlops.server.pipelines import HANDLERS as PIPELINE_HANDLERS
from jupyter_mlops.server.replay import HANDLERS as REPLAY_HANDLERS


class ErrorDetail(BaseModel):
    type: str
    message: str
    hint: str | None = None
    field: str | None = None


class ErrorBody(BaseModel):
    """Every non-2xx answer of the API."""

    error: ErrorDetail


@dataclass(frozen=True)
class Route:
    pattern: str
    handler: type[MlopsHandler]


_SEGMENT = r"(?P<{name}>[^/]+)"
_REF = "#/components/schemas/{model}"

RESOURCES: list[type[MlopsHandler]] = [
    *EXPERIMENT_HANDLERS,
    *FEATURE_HANDLERS,
    *MODEL_HANDLERS,
    *ABTEST_HANDLERS,
    *MONITORING_HANDLERS,
    *JOB_HANDLERS,
    *PIPELINE_HANDLERS,
    *REPLAY_HANDLERS,
    *DASHBOARD_HANDLERS,
]


_DESCRIPTIONS = {
    200: "OK",
    201: "Created",
    400: "Invalid input (the message names the field), or an mlops.toml that cannot be read",
    404: "Not found (the message names what), or the server's folder is not a workspace",
    409: "Conflicts with the current state (the message says which)",
    503: "A backend is unavailable or lost: the MLflow store, an online store, a job executor",
}


def _pattern(openapi_path: str) -> str:
    path = re.sub(r"\{(\w+)\}", lambda m: _SEGMENT.format(name=m.group(1)), openapi_path)
    return path.lstrip("/") + "/?"


def rest_openapi() -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``/mlops/api``, built from the handlers' declared models."""
    models: set[type[BaseModel]] = {ErrorBody}
    for resource in RESOURCES:
        for op in resource.operations.values():
            models.add(op.response)
            if op.body is not None:
                models.add(op.body)
    ordered = sorted(models, key=lambda m: m.__name__)
    refs, defs = models_json_schema([(m, "serialization") for m in ordered], ref_template=_REF)
    paths: dict[str, Any] = {}
    # Models that a query parameter refers to (an enum, say) go beside the others.
    query_defs: dict[str, Any] = {}
    for resource in RESOURCES:
        item: dict[str, Any] = {}
        path_params = re.findall(r"\{(\w+)\}", resource.openapi_path)
        for verb, op in resource.operations.items():
            params: list[dict[str, Any]] = [
                {"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
                for p in path_params
            ]
            if op.query is not None:
                schema = op.query.model_json_schema(ref_template=_REF)
                query_defs.update(schema.get("$defs", {}))
                required = set(schema.get("required", []))
                for name, prop in schema.get("properties", {}).items():
                    entry: dict[str, Any] = {
                        "name": name,
                        "in": "query",
                        "required": name in required,
                        "schema": prop,
                    }
                    if prop.get("type") == "array":
                        entry["style"], entry["explode"] = "form", True
                    params.append(entry)
            operation: dict[str, Any] = {
                "summary": op.summary,
                "operationId": f"{verb}_{resource.__name__.removesuffix('Handler')}",
                "tags": op.tags,
                "parameters": params,
                "responses": {
                    str(op.status): {
                        "description": _DESCRIPTIONS.get(op.status, "OK"),
                        "content": {
                            "application/json": {"schema": refs[(op.response, "serialization")]}
                        },
                    },
                    "403": {"description": "Missing or invalid token"},
                    **{
                        str(code): {
                            "description": _DESCRIPTIONS[code],
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/ErrorBody"}
                                }
                            },
                        }
                        for code in op.statuses
                        if code >= 400
                    },
                },
            }
            if op.body is not None:
                operation["requestBody"] = {
                    "required": True,
                    "content": {"application/json": {"schema": refs[(op.body, "serialization")]}},
                }
            item[verb] = operation
        paths["/mlops/api" + resource.openapi_path] = item
    return {
        "openapi": "3.1.0",
        "info": {"title": "jupyter-mlops REST API", "version": __version__},
        "security": [{"token": []}],
        "components": {
            "schemas": {**query_defs, **defs.get("$defs", {})},
            "securitySchemes": {
                "token": {"type": "apiKey", "in": "header", "name": "Authorization"}
            },
        },
        "paths": paths,
    }


class OpenAPIHandler(MlopsHandler):
    """``/mlops/api/openapi.json``: the OpenAPI document of this API."""

    @api
    async def get(self) -> None:
        import json

        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(rest_openapi()))


ROUTES: list[Route] = [Route(_pattern(r.openapi_path), r) for r in RESOURCES] + [
    Route("openapi.json", OpenAPIHandler)
]
