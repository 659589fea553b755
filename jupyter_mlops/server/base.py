"""The base handler: authentication, pydantic in and out, and the one error-to-status mapping."""

from __future__ import annotations

import asyncio
import functools
import json
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, get_origin

import tornado.web
from jupyter_server.base.handlers import APIHandler
from pydantic import BaseModel, ValidationError

from jupyter_mlops.config import CONFIG_FILE
from jupyter_mlops.errors import MlopsError
from jupyter_mlops.tracking.backend import load_mlflow
from jupyter_mlops.workspace import ENV_VAR, Workspace

M = TypeVar("M", bound=BaseModel)


class WorkspaceRef:
    """The server's workspace, found from its root folder, re-read when ``mlops.toml`` changes."""

    def __init__(self, root_dir: str) -> None:
        self.root_dir = root_dir
        self._cached: tuple[tuple[str, float], Workspace] | None = None

    def get(self) -> Workspace:
        found = (
            Workspace.open(os.environ[ENV_VAR])
            if os.environ.get(ENV_VAR)
            else Workspace.find(self.root_dir)
        )
        config = Path(found.root) / CONFIG_FILE
        key = (str(found.root), config.stat().st_mtime)
        if self._cached is not None and self._cached[0] == key:
            return self._cached[1]
        self._cached = (key, found)
        # Handlers run services in threads; MLflow must be imported once, under its lock, before
        # two of them import it at the same time (the services themselves import it lazily).
        load_mlflow()
        return found


#: Error statuses every operation can answer: 400 for a bad query or body and for an mlops.toml
#: that cannot be read, 404 when the server's folder is not a workspace.
COMMON_ERRORS: tuple[int, ...] = (400, 404)
#: The errors of an operation that reads or writes a store that can be lost or damaged (the
#: MLflow store, the feature registry, the pipelines' state): 503 names it and the way out.
STORE_ERRORS: tuple[int, ...] = (400, 404, 503)


@dataclass
class Operation:
    """One verb of a resource, as the OpenAPI document describes it.

    ``status`` is the status of a success (201 for a verb that creates something; ``send`` uses
    it); ``errors`` the error statuses the verb answers besides :data:`COMMON_ERRORS`: 409 where
    the service raises ``Conflict``, 503 where it talks to a backend that can be unavailable (the
    MLflow store, an online store, a job executor). ``tests/server/test_openapi_statuses.py``
    checks both against what the handlers really answer.
    """

    summary: str
    response: type[BaseModel]
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    errors: tuple[int, ...] = (400, 404)
    tags: list[str] = field(default_factory=list)
    status: int = 200

    @property
    def statuses(self) -> tuple[int, ...]:
        """Every status this operation answers (403 aside: tornado's, without a token)."""
        return tuple(sorted({self.status, *COMMON_ERRORS, *self.errors}))


class MlopsHandler(APIHandler):
    """Base of every ``/mlops/api`` handler."""

    #: the OpenAPI path of the resource, e.g. ``/experiments/{experiment_id}``
    openapi_path: str = ""
    #: verb -> its description, for the OpenAPI document
    operations: dict[str, Operation] = {}

    @property
    def workspace(self) -> Workspace:
        ref: WorkspaceRef = self.settings["mlops_workspace"]
        return ref.get()

    def query_model(self, model: type[M]) -> M:
        """Validate the query string against ``model``; list-typed fields take repeated keys."""
        raw: dict[str, Any] = {}
        for name, info in model.model_fields.items():
            values = self.get_query_arguments(name)
            if not values:
                continue
            raw[name] = values if get_origin(info.annotation) is list else values[-1]
        return model.model_validate(raw)

    def body_model(self, model: type[M]) -> M:
        return model.model_validate_json(self.request.body or b"{}")

    def send(self, model: BaseModel, status: int | None = None) -> None:
        """Answer ``model`` with ``status``, by default the success status the verb declares."""
        if status is None:
            declared = self.operations.get((self.request.method or "").lower())
            status = declared.status if declared is not None else 200
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(model.model_dump_json())

    def send_error_body(self, status: int, body: dict[str, Any]) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body))

    def allowed_methods(self) -> list[str]:
        """The verbs this resource implements (what a 405 answer's ``Allow`` header lists)."""
        base = tornado.web.RequestHandler
        return [
            verb
            for verb in ("GET", "POST", "PUT", "PATCH", "DELETE")
            if getattr(type(self), verb.lower()) is not getattr(base, verb.lower())
        ]

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        # Errors that escaped the mapping below (tornado's own 403/404/405) get the same shape.
        reason = self._reason
        if status_code == 405:  # RFC 9110: a 405 names the methods the resource does support
            self.set_header("Allow", ", ".join(self.allowed_methods()))
        self.finish(json.dumps({"error": {"type": "HTTPError", "message": reason, "hint": None}}))


def api(
    method: Callable[..., Awaitable[None]],
) -> Callable[..., Awaitable[None]]:
    """Authenticate the verb and map errors to statuses, in one place.

    ``MlopsError`` -> its own status (400, 404, 409, 503); pydantic validation -> 400 naming the
    field. Anything else is a bug: 500, logged with its traceback.
    """

    @tornado.web.authenticated
    @functools.wraps(method)
    async def wrapper(self: MlopsHandler, *args: Any, **kwargs: Any) -> None:
        try:
            await method(self, *args, **kwargs)
        except MlopsError as exc:
            self.send_error_body(exc.status, exc.to_dict())
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "body"
            self.send_error_body(
                400,
                {
                    "error": {
                        "type": "InvalidInput",
                        "message": f"Invalid value for '{where}': {first['msg']}",
                        "hint": None,
                        "field": where,
                    }
                },
            )

    return wrapper  # type: ignore[return-value]


async def in_thread(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run blocking store calls off the event loop."""
    return await asyncio.to_thread(fn, *args, **kwargs)
