"""Handlers of the experiments capability: experiments, runs, one run, comparisons."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from jupyter_mlops.server.base import STORE_ERRORS, MlopsHandler, Operation, api, in_thread
from jupyter_mlops.tracking.columns import RunColumns
from jupyter_mlops.tracking.run_record import run_record
from jupyter_mlops.tracking.schemas import (
    ColumnChoice,
    ColumnChoiceRequest,
    Comparison,
    Experiment,
    ExperimentList,
    RunPage,
    RunRecord,
)

TAGS = ["experiments"]


class ExperimentsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    include_deleted: bool = False


class RunsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    filter: str = Field(default="", description="MLflow filter, e.g. metrics.auc > 0.8")
    order_by: list[str] = Field(default_factory=list, description="e.g. metrics.auc DESC")
    max_results: int = Field(default=50, ge=1, le=1000)
    page_token: str | None = None


class CompareQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    run_id: list[str] = Field(min_length=2, description="two or more run ids (repeat the key)")
    diff_only: bool = False
    group_by_seed: bool = False
    seed_param: str | None = None
    figures: bool = Field(
        default=True,
        description="build the plotly figures (false: only the tables, answered faster)",
    )


class ExperimentsHandler(MlopsHandler):
    """``/mlops/api/experiments``: the workspace's experiments."""

    openapi_path = "/experiments"
    operations = {
        "get": Operation(
            "List experiments",
            ExperimentList,
            query=ExperimentsQuery,
            errors=STORE_ERRORS,
            tags=TAGS,
        )
    }

    @api
    async def get(self) -> None:
        q = self.query_model(ExperimentsQuery)
        found = await in_thread(self.workspace.tracking.list_experiments, q.include_deleted)
        self.send(ExperimentList(experiments=found))


class ExperimentHandler(MlopsHandler):
    """``/mlops/api/experiments/{experiment_id}``: one experiment."""

    openapi_path = "/experiments/{experiment_id}"
    operations = {
        "get": Operation(
            "Get one experiment by id or name", Experiment, errors=STORE_ERRORS, tags=TAGS
        )
    }

    @api
    async def get(self, experiment_id: str) -> None:
        self.send(await in_thread(self.workspace.tracking.get_experiment, experiment_id))


class ExperimentRunsHandler(MlopsHandler):
    """``/mlops/api/experiments/{experiment_id}/runs``: a page of an experiment's runs."""

    openapi_path = "/experiments/{experiment_id}/runs"
    operations = {
        "get": Operation(
            "List runs: filter, sort, page",
            RunPage,
            query=RunsQuery,
            errors=STORE_ERRORS,
            tags=TAGS,
        )
    }

    @api
    async def get(self, experiment_id: str) -> None:
        q = self.query_model(RunsQuery)
        page = await in_thread(
            self.workspace.tracking.list_runs,
            [experiment_id],
            filter=q.filter,
            order_by=q.order_by,
            max_results=q.max_results,
            page_token=q.page_token,
        )
        self.send(page)


class ExperimentColumnsHandler(MlopsHandler):
    """``/mlops/api/experiments/{experiment_id}/columns``: the runs table's remembered columns."""

    openapi_path = "/experiments/{experiment_id}/columns"
    operations = {
        "get": Operation(
            "The columns of the runs table: saved, else declared by the runs, else picked",
            ColumnChoice,
            errors=STORE_ERRORS,
            tags=TAGS,
        ),
        "put": Operation(
            "Remember the columns (and pinned ones) of the runs table",
            ColumnChoice,
            body=ColumnChoiceRequest,
            errors=STORE_ERRORS,
            tags=TAGS,
        ),
        "delete": Operation(
            "Forget the saved columns: back to the default",
            ColumnChoice,
            errors=STORE_ERRORS,
            tags=TAGS,
        ),
    }

    def _columns(self) -> RunColumns:
        ws = self.workspace
        return RunColumns(ws.tracking, ws.state_dir)

    @api
    async def get(self, experiment_id: str) -> None:
        self.send(await in_thread(self._columns().get, experiment_id))

    @api
    async def put(self, experiment_id: str) -> None:
        body = self.body_model(ColumnChoiceRequest)
        self.send(await in_thread(self._columns().choose, experiment_id, body.columns, body.pinned))

    @api
    async def delete(self, experiment_id: str) -> None:
        self.send(await in_thread(self._columns().forget, experiment_id))


class RunHandler(MlopsHandler):
    """``/mlops/api/runs/{run_id}``: one run's page (values, origin, models, artifacts)."""

    openapi_path = "/runs/{run_id}"
    operations = {
        "get": Operation(
            "Get one run: metric histories, notebook, logged models and their versions, "
            "features used, artifacts",
            RunRecord,
            errors=STORE_ERRORS,
            tags=TAGS,
        )
    }

    @api
    async def get(self, run_id: str) -> None:
        self.send(await in_thread(run_record, self.workspace.tracking, run_id))


class ComparisonsHandler(MlopsHandler):
    """``/mlops/api/comparisons``: several runs side by side, with charts."""

    openapi_path = "/comparisons"
    operations = {
        "get": Operation(
            "Compare runs", Comparison, query=CompareQuery, errors=STORE_ERRORS, tags=TAGS
        ),
    }

    @api
    async def get(self) -> None:
        q = self.query_model(CompareQuery)
        comparison = await in_thread(
            self.workspace.tracking.compare,
            q.run_id,
            diff_only=q.diff_only,
            group_by_seed=q.group_by_seed,
            seed_param=q.seed_param,
            figures=q.figures,
        )
        self.send(comparison)


HANDLERS: list[type[MlopsHandler]] = [
    ExperimentsHandler,
    ExperimentHandler,
    ExperimentRunsHandler,
    ExperimentColumnsHandler,
    RunHandler,
    ComparisonsHandler,
]
