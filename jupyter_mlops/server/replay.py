"""Handlers of replays: train a model version again from its lineage, and compare metrics."""

from __future__ import annotations

from jupyter_mlops.errors import InvalidInput
from jupyter_mlops.pipelines.replay_schemas import ReplayReport, ReplayStarted
from jupyter_mlops.server.base import STORE_ERRORS, MlopsHandler, Operation, api, in_thread

TAGS = ["replays"]


class VersionReplayHandler(MlopsHandler):
    """``/mlops/api/models/{name}/versions/{version}/replay``: POST re-runs its training."""

    openapi_path = "/models/{name}/versions/{version}/replay"
    operations = {
        "post": Operation(
            "Queue a job that trains the version again from its lineage (same notebook, "
            "parameters, feature versions read as of the original run's start)",
            ReplayStarted,
            errors=STORE_ERRORS,
            status=201,
            tags=TAGS,
        )
    }

    @api
    async def post(self, name: str, version: str) -> None:
        if not version.isdigit() or int(version) < 1:
            raise InvalidInput(f"{version!r} is not a version number", field="version")
        started = await in_thread(self.workspace.replays.start, f"{name}:{int(version)}")
        self.send(started, 201)


class ReplayHandler(MlopsHandler):
    """``/mlops/api/replays/{job}``: a replay's state and its metrics beside the original's."""

    openapi_path = "/replays/{job}"
    operations = {
        "get": Operation(
            "A replay's state, and each metric beside the original run's",
            ReplayReport,
            errors=(*STORE_ERRORS, 409),
            tags=TAGS,
        )
    }

    @api
    async def get(self, job: str) -> None:
        self.send(await in_thread(self.workspace.replays.report, job))


HANDLERS: list[type[MlopsHandler]] = [VersionReplayHandler, ReplayHandler]
