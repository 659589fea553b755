"""Handlers of the experiments capability: experiments, runs, one run, comparisons."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from jupyter_mlops.server.base import MlopsHandler, Operation, api, in_thread
from jupyter_mlops.tracking.schemas import (
    Comparison,
    Experiment,
    ExperimentList,
    RunDetail,
    RunPage,
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


class ExperimentsHandler(MlopsHandler):
    """``/mlops/api/experiments``: the workspace's experiments."""

    openapi_path = "/experiments"
    operations = {
        "get": Operation("List experiments", ExperimentList, query=ExperimentsQuery, tags=TAGS)
    }

    @api
    async def get(self) -> None:
        q = self.query_model(ExperimentsQuery)
        found = await in_thread(self.workspace.tracking.list_experiments, q.include_deleted)
        self.send(ExperimentList(experiments=found))


class ExperimentHandler(MlopsHandler):
    """``/mlops/api/experiments/{experiment_id}``: one experiment."""

    openapi_path = "/experiments/{experiment_id}"
    operations = {"get": Operation("Get one experiment by id or name", Experiment, tags=TAGS)}

    @api
    async def get(self, experiment_id: str) -> None:
        self.send(await in_thread(self.workspace.tracking.get_experiment, experiment_id))


class ExperimentRunsHandler(MlopsHandler):
    """``/mlops/api/experiments/{experiment_id}/runs``: a page of an experiment's runs."""

    openapi_path = "/experiments/{experiment_id}/runs"
    operations = {
        "get": Operation("List runs: filter, sort, page", RunPage, query=RunsQuery, tags=TAGS)
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


class RunHandler(MlopsHandler):
    """``/mlops/api/runs/{run_id}``: one run with its metric histories."""

    openapi_path = "/runs/{run_id}"
    operations = {"get": Operation("Get one run with metric histories", RunDetail, tags=TAGS)}

    @api
    async def get(self, run_id: str) -> None:
        self.send(await in_thread(self.workspace.tracking.get_run, run_id))


class ComparisonsHandler(MlopsHandler):
    """``/mlops/api/comparisons``: several runs side by side, with charts."""

    openapi_path = "/comparisons"
    operations = {
        "get": Operation("Compare runs", Comparison, query=CompareQuery, tags=TAGS),
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
        )
        self.send(comparison)
