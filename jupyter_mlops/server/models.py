"""Handlers of the model registry and of deployments."""

from __future__ import annotations

from pydantic import BaseModel, Field

from jupyter_mlops.lineage import ReferenceProfile
from jupyter_mlops.registry.schemas import (
    AliasRequest,
    ModelList,
    ModelVersionDetail,
    ModelVersionInfo,
    PromoteRequest,
    Promotion,
    RegisteredModelDetail,
    RegisterRequest,
    Removed,
)
from jupyter_mlops.server.base import STORE_ERRORS, MlopsHandler, Operation, api, in_thread
from jupyter_mlops.serving.schemas import (
    DeploymentInfo,
    DeploymentList,
    DeploymentLogs,
    DeploymentStats,
    DeployRequest,
    UpdateRequest,
)

MODELS = ["models"]
DEPLOYMENTS = ["deployments"]


class LogsQuery(BaseModel):
    lines: int = Field(default=100, ge=1, le=10000)


class RemoveQuery(BaseModel):
    purge_log: bool = Field(default=False, description="also delete its prediction log")


def _version(value: str) -> int:
    from jupyter_mlops.errors import InvalidInput

    # isdigit() alone takes "¹" and "٣", which int() does not.
    if not (value.isascii() and value.isdigit()) or int(value) < 1:
        raise InvalidInput(f"{value!r} is not a version number", field="version")
    return int(value)


class ModelsHandler(MlopsHandler):
    """``/mlops/api/models``: registered models; POST registers a run's model."""

    openapi_path = "/models"
    operations = {
        "get": Operation("List registered models", ModelList, errors=STORE_ERRORS, tags=MODELS),
        "post": Operation(
            "Register a run's model as a new version",
            ModelVersionDetail,
            body=RegisterRequest,
            errors=STORE_ERRORS,
            status=201,
            tags=MODELS,
        ),
    }

    @api
    async def get(self) -> None:
        models = await in_thread(self.workspace.registry.list_models)
        self.send(ModelList(models=models))

    @api
    async def post(self) -> None:
        body = self.body_model(RegisterRequest)
        version = await in_thread(
            self.workspace.registry.register,
            body.run_id,
            body.name,
            description=body.description,
            aliases=body.aliases,
        )
        self.send(version, 201)


class ModelHandler(MlopsHandler):
    """``/mlops/api/models/{name}``: a model with its versions, metrics and aliases."""

    openapi_path = "/models/{name}"
    operations = {
        "get": Operation(
            "Get a model and its versions", RegisteredModelDetail, errors=STORE_ERRORS, tags=MODELS
        )
    }

    @api
    async def get(self, name: str) -> None:
        self.send(await in_thread(self.workspace.registry.get_model, name))


class ModelVersionHandler(MlopsHandler):
    """``/mlops/api/models/{name}/versions/{version}``: one version with its lineage."""

    openapi_path = "/models/{name}/versions/{version}"
    operations = {
        "get": Operation(
            "Get a version and its lineage", ModelVersionDetail, errors=STORE_ERRORS, tags=MODELS
        )
    }

    @api
    async def get(self, name: str, version: str) -> None:
        self.send(await in_thread(self.workspace.registry.get_version, name, _version(version)))


class ModelVersionProfileHandler(MlopsHandler):
    """``/mlops/api/models/{name}/versions/{version}/profile``: the training data profile."""

    openapi_path = "/models/{name}/versions/{version}/profile"
    operations = {
        "get": Operation(
            "Get the version's reference profile",
            ReferenceProfile,
            errors=STORE_ERRORS,
            tags=MODELS,
        )
    }

    @api
    async def get(self, name: str, version: str) -> None:
        self.send(await in_thread(self.workspace.registry.profile, name, _version(version)))


class PromotionsHandler(MlopsHandler):
    """``/mlops/api/models/{name}/versions/{version}/promotions``: gated alias moves."""

    openapi_path = "/models/{name}/versions/{version}/promotions"
    operations = {
        "post": Operation(
            "Move an alias to this version if it passes the gates (promoted=false otherwise)",
            Promotion,
            body=PromoteRequest,
            errors=STORE_ERRORS,
            tags=MODELS,
        )
    }

    @api
    async def post(self, name: str, version: str) -> None:
        body = self.body_model(PromoteRequest)
        result = await in_thread(
            self.workspace.registry.promote,
            name,
            _version(version),
            body.alias,
            require=body.require,
        )
        self.send(result)


class AliasHandler(MlopsHandler):
    """``/mlops/api/models/{name}/aliases/{alias}``: set (PUT) or remove (DELETE) an alias."""

    openapi_path = "/models/{name}/aliases/{alias}"
    operations = {
        "put": Operation(
            "Point an alias at a version (no gates)",
            ModelVersionInfo,
            body=AliasRequest,
            errors=STORE_ERRORS,
            tags=MODELS,
        ),
        "delete": Operation("Remove an alias", Removed, errors=STORE_ERRORS, tags=MODELS),
    }

    @api
    async def put(self, name: str, alias: str) -> None:
        body = self.body_model(AliasRequest)
        self.send(await in_thread(self.workspace.registry.set_alias, name, alias, body.version))

    @api
    async def delete(self, name: str, alias: str) -> None:
        await in_thread(self.workspace.registry.delete_alias, name, alias)
        self.send(Removed(name=name, alias=alias))


class DeploymentsHandler(MlopsHandler):
    """``/mlops/api/deployments``: local deployments; POST deploys a model version."""

    openapi_path = "/deployments"
    operations = {
        "get": Operation("List deployments", DeploymentList, tags=DEPLOYMENTS),
        "post": Operation(
            "Deploy a model version (returns once it answers)",
            DeploymentInfo,
            body=DeployRequest,
            errors=(400, 404, 409, 503),
            status=201,
            tags=DEPLOYMENTS,
        ),
    }

    @api
    async def get(self) -> None:
        items = await in_thread(self.workspace.deployments.list)
        self.send(DeploymentList(deployments=items))

    @api
    async def post(self) -> None:
        body = self.body_model(DeployRequest)
        info = await in_thread(
            self.workspace.deploy,
            body.model,
            name=body.name,
            replicas=body.replicas,
            port=body.port,
            grpc_port=body.grpc_port,
            spare=body.spare,
        )
        self.send(info, 201)


class DeploymentHandler(MlopsHandler):
    """``/mlops/api/deployments/{name}``: state; PATCH updates the version; DELETE removes a
    stopped deployment (its prediction log stays unless ``purge_log=true``)."""

    openapi_path = "/deployments/{name}"
    operations = {
        "get": Operation("Get a deployment", DeploymentInfo, tags=DEPLOYMENTS),
        "patch": Operation(
            "Move to another model version with zero downtime",
            DeploymentInfo,
            body=UpdateRequest,
            errors=(400, 404, 409, 503),
            tags=DEPLOYMENTS,
        ),
        "delete": Operation(
            "Remove a stopped deployment (409 while it runs: stop it first)",
            DeploymentInfo,
            query=RemoveQuery,
            errors=(400, 404, 409),
            tags=DEPLOYMENTS,
        ),
    }

    @api
    async def get(self, name: str) -> None:
        self.send(await in_thread(self.workspace.deployments.get, name))

    @api
    async def patch(self, name: str) -> None:
        body = self.body_model(UpdateRequest)
        info = await in_thread(
            self.workspace.deployments.update, name, body.model, replicas=body.replicas
        )
        self.send(info)

    @api
    async def delete(self, name: str) -> None:
        q = self.query_model(RemoveQuery)
        self.send(await in_thread(self.workspace.deployments.remove, name, purge_log=q.purge_log))


class DeploymentStopHandler(MlopsHandler):
    """``/mlops/api/deployments/{name}/stop``: stop it (it stays stopped until started)."""

    openapi_path = "/deployments/{name}/stop"
    operations = {"post": Operation("Stop a deployment", DeploymentInfo, tags=DEPLOYMENTS)}

    @api
    async def post(self, name: str) -> None:
        self.send(await in_thread(self.workspace.deployments.stop, name))


class DeploymentStartHandler(MlopsHandler):
    """``/mlops/api/deployments/{name}/start``: start a stopped deployment on its ports."""

    openapi_path = "/deployments/{name}/start"
    operations = {
        "post": Operation(
            "Start a stopped deployment again, on its ports (returns once it answers)",
            DeploymentInfo,
            errors=(400, 404, 409, 503),
            tags=DEPLOYMENTS,
        )
    }

    @api
    async def post(self, name: str) -> None:
        self.send(await in_thread(self.workspace.deployments.start, name))


class DeploymentStatsHandler(MlopsHandler):
    """``/mlops/api/deployments/{name}/stats``: request rate, errors and latency (live)."""

    openapi_path = "/deployments/{name}/stats"
    operations = {
        "get": Operation(
            "Traffic since the previous call and in total",
            DeploymentStats,
            errors=STORE_ERRORS,
            tags=DEPLOYMENTS,
        )
    }

    @api
    async def get(self, name: str) -> None:
        self.send(await in_thread(self.workspace.deployments.stats, name))


class DeploymentLogsHandler(MlopsHandler):
    """``/mlops/api/deployments/{name}/logs``: the last lines of its logs."""

    openapi_path = "/deployments/{name}/logs"
    operations = {
        "get": Operation("Tail the logs", DeploymentLogs, query=LogsQuery, tags=DEPLOYMENTS)
    }

    @api
    async def get(self, name: str) -> None:
        q = self.query_model(LogsQuery)
        text = await in_thread(self.workspace.deployments.logs, name, q.lines)
        self.send(DeploymentLogs(name=name, text=text))


HANDLERS: list[type[MlopsHandler]] = [
    ModelsHandler,
    ModelHandler,
    ModelVersionHandler,
    ModelVersionProfileHandler,
    PromotionsHandler,
    AliasHandler,
    DeploymentsHandler,
    DeploymentHandler,
    DeploymentStopHandler,
    DeploymentStartHandler,
    DeploymentStatsHandler,
    DeploymentLogsHandler,
]
