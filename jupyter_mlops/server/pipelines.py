"""Handlers of pipelines: plan and apply the declarations, run, follow and cancel runs, read the
trigger events, and a model version's lineage as a chain."""

from __future__ import annotations

import re

from pydantic import BaseModel, Field

from jupyter_mlops.lineage import ModelRef
from jupyter_mlops.pipelines.schemas import (
    EnableRequest,
    LineageChain,
    PipelineInfo,
    PipelineList,
    PipelinePlan,
    PipelineRun,
    PipelineRunList,
    RunNowRequest,
    RunNowResult,
    TriggerEventList,
)
from jupyter_mlops.server.base import STORE_ERRORS, MlopsHandler, Operation, api, in_thread

TAGS = ["pipelines"]


class PipelineRunsQuery(BaseModel):
    """``GET /pipelines/{name}/runs``: how many, newest first."""

    limit: int = Field(default=50, ge=1, le=10000)


class PipelineEventsQuery(BaseModel):
    """``GET /pipelines/{name}/events``: how many, newest first."""

    limit: int = Field(default=200, ge=1, le=10000)


_ANONYMOUS = re.compile(r"^[0-9a-f]{32}$")


def _jupyter_user(handler: MlopsHandler) -> str | None:
    """The name of the server's user, or None when it knows none (a single shared token makes
    each browser an anonymous user with a random id: the OS user is more telling then)."""
    user = handler.current_user
    username = getattr(user, "username", None) if user is not None else None
    if not isinstance(username, str) or not username:
        return None
    name = getattr(user, "name", "") or ""
    if _ANONYMOUS.match(username) and name.startswith("Anonymous "):
        return None
    return username


class PipelinesHandler(MlopsHandler):
    """``/mlops/api/pipelines``: applied pipelines with their triggers, last run and the
    scheduler's state."""

    openapi_path = "/pipelines"
    operations = {
        "get": Operation(
            "Applied pipelines, their triggers and last run, and the scheduler",
            PipelineList,
            errors=STORE_ERRORS,
            tags=TAGS,
        )
    }

    @api
    async def get(self) -> None:
        self.send(await in_thread(self.workspace.pipelines.list))


class PipelinePlanHandler(MlopsHandler):
    """``/mlops/api/pipelines/plan``: POST checks the declarations and says what apply would
    change (nothing is written)."""

    openapi_path = "/pipelines/plan"
    operations = {
        "post": Operation(
            "Check the declared pipelines against the workspace; what applying would change",
            PipelinePlan,
            errors=STORE_ERRORS,
            tags=TAGS,
        )
    }

    @api
    async def post(self) -> None:
        self.send(await in_thread(self.workspace.pipelines.plan))


class PipelineApplyHandler(MlopsHandler):
    """``/mlops/api/pipelines/apply``: POST applies the declarations (changed pipelines get a new
    version; the scheduler starts watching their triggers)."""

    openapi_path = "/pipelines/apply"
    operations = {
        "post": Operation(
            "Apply the declared pipelines; nothing is applied if one is wrong",
            PipelinePlan,
            errors=STORE_ERRORS,
            tags=TAGS,
        )
    }

    @api
    async def post(self) -> None:
        self.send(await in_thread(self.workspace.pipelines.apply))


class PipelineHandler(MlopsHandler):
    """``/mlops/api/pipelines/{name}``: one applied pipeline; PATCH enables or disables it."""

    openapi_path = "/pipelines/{name}"
    operations = {
        "get": Operation(
            "An applied pipeline, its triggers and last run",
            PipelineInfo,
            errors=STORE_ERRORS,
            tags=TAGS,
        ),
        "patch": Operation(
            "Enable or disable a pipeline (a disabled one records its events, starts no run)",
            PipelineInfo,
            body=EnableRequest,
            errors=STORE_ERRORS,
            tags=TAGS,
        ),
    }

    @api
    async def get(self, name: str) -> None:
        self.send(await in_thread(self.workspace.pipelines.get, name))

    @api
    async def patch(self, name: str) -> None:
        body = self.body_model(EnableRequest)
        self.send(await in_thread(self.workspace.pipelines.set_enabled, name, body))


class PipelineRunsHandler(MlopsHandler):
    """``/mlops/api/pipelines/{name}/runs``: a pipeline's runs, newest first; POST runs it now."""

    openapi_path = "/pipelines/{name}/runs"
    operations = {
        "get": Operation(
            "A pipeline's runs, newest first",
            PipelineRunList,
            query=PipelineRunsQuery,
            errors=STORE_ERRORS,
            tags=TAGS,
        ),
        "post": Operation(
            "Run the pipeline now: starts a run, or joins the run going (outcome 'absorbed')",
            RunNowResult,
            body=RunNowRequest,
            errors=(*STORE_ERRORS, 409),
            status=201,
            tags=TAGS,
        ),
    }

    @api
    async def get(self, name: str) -> None:
        q = self.query_model(PipelineRunsQuery)
        self.send(await in_thread(self.workspace.pipelines.runs, name, limit=q.limit))

    @api
    async def post(self, name: str) -> None:
        body = self.body_model(RunNowRequest)
        result = await in_thread(
            self.workspace.pipelines.run_now, name, body.reason, _jupyter_user(self)
        )
        self.send(result, 201)


class PipelineEventsHandler(MlopsHandler):
    """``/mlops/api/pipelines/{name}/events``: the pipeline's trigger events, newest first."""

    openapi_path = "/pipelines/{name}/events"
    operations = {
        "get": Operation(
            "Trigger events of a pipeline, newest first, with what came of each",
            TriggerEventList,
            query=PipelineEventsQuery,
            errors=STORE_ERRORS,
            tags=TAGS,
        )
    }

    @api
    async def get(self, name: str) -> None:
        q = self.query_model(PipelineEventsQuery)
        self.send(await in_thread(self.workspace.pipelines.events, name, limit=q.limit))


class PipelineRunHandler(MlopsHandler):
    """``/mlops/api/pipeline-runs/{run}``: one run (a unique prefix of its id is enough)."""

    openapi_path = "/pipeline-runs/{run}"
    operations = {
        "get": Operation(
            "A pipeline run: the event that started it and each step",
            PipelineRun,
            errors=(*STORE_ERRORS, 409),
            tags=TAGS,
        )
    }

    @api
    async def get(self, run: str) -> None:
        self.send(await in_thread(self.workspace.pipelines.get_run, run))


class PipelineRunCancelHandler(MlopsHandler):
    """``/mlops/api/pipeline-runs/{run}/cancel``: POST stops the run and cancels its job."""

    openapi_path = "/pipeline-runs/{run}/cancel"
    operations = {
        "post": Operation(
            "Cancel a run: its job is cancelled, the steps not done are skipped (409 once ended)",
            PipelineRun,
            errors=(*STORE_ERRORS, 409),
            tags=TAGS,
        )
    }

    @api
    async def post(self, run: str) -> None:
        self.send(await in_thread(self.workspace.pipelines.cancel_run, run))


class LineageChainHandler(MlopsHandler):
    """``/mlops/api/models/{name}/versions/{version}/lineage-chain``: why the version exists and
    what serves it, as a chain of links."""

    openapi_path = "/models/{name}/versions/{version}/lineage-chain"
    operations = {
        "get": Operation(
            "A version's lineage as a chain: deployments and A/B tests, the version, the "
            "pipeline run and its trigger, job, run, gates, notebook, features, commit",
            LineageChain,
            errors=STORE_ERRORS,
            tags=TAGS,
        )
    }

    @api
    async def get(self, name: str, version: str) -> None:
        from jupyter_mlops.errors import InvalidInput

        if not version.isdigit() or int(version) < 1:
            raise InvalidInput(f"{version!r} is not a version number", field="version")
        ref = str(ModelRef(name=name, version=int(version)))
        self.send(await in_thread(self.workspace.pipelines.lineage, ref))


# The fixed paths come before /pipelines/{name}, which would otherwise take "plan" as a name.
HANDLERS: list[type[MlopsHandler]] = [
    PipelinesHandler,
    PipelinePlanHandler,
    PipelineApplyHandler,
    PipelineHandler,
    PipelineRunsHandler,
    PipelineEventsHandler,
    PipelineRunHandler,
    PipelineRunCancelHandler,
    LineageChainHandler,
]
