"""Handlers of training jobs: submit, sweep, follow, cancel, re-run, and the executor."""

from __future__ import annotations

from jupyter_mlops.jobs.schemas import (
    ExecutorState,
    Job,
    JobList,
    JobLog,
    JobRequest,
    JobsQuery,
    NotebookParameters,
    ParametersQuery,
    RerunRequest,
    Sweep,
    SweepRequest,
)
from jupyter_mlops.server.base import STORE_ERRORS, MlopsHandler, Operation, api, in_thread

TAGS = ["jobs"]


class JobsHandler(MlopsHandler):
    """``/mlops/api/jobs``: jobs, newest first; POST queues a notebook as a job."""

    openapi_path = "/jobs"
    operations = {
        "get": Operation("List jobs, newest first", JobList, query=JobsQuery, tags=TAGS),
        "post": Operation(
            "Queue a notebook with parameters as a job",
            Job,
            body=JobRequest,
            errors=STORE_ERRORS,
            status=201,
            tags=TAGS,
        ),
    }

    @api
    async def get(self) -> None:
        q = self.query_model(JobsQuery)
        jobs = self.workspace.jobs
        self.send(await in_thread(jobs.list, state=q.state, sweep=q.sweep, limit=q.limit))

    @api
    async def post(self) -> None:
        body = self.body_model(JobRequest)
        job = await in_thread(
            self.workspace.jobs.submit,
            body.notebook,
            body.parameters,
            experiment=body.experiment,
            run_name=body.run_name,
            sweep=body.sweep,
        )
        self.send(job, 201)


class ParametersHandler(MlopsHandler):
    """``/mlops/api/jobs/parameters``: the parameters a notebook declares."""

    openapi_path = "/jobs/parameters"
    operations = {
        "get": Operation(
            "The parameters of a notebook's 'parameters' cell",
            NotebookParameters,
            query=ParametersQuery,
            tags=TAGS,
        )
    }

    @api
    async def get(self) -> None:
        q = self.query_model(ParametersQuery)
        self.send(await in_thread(self.workspace.jobs.parameters, q.notebook))


class SweepsHandler(MlopsHandler):
    """``/mlops/api/jobs/sweeps``: POST queues one job per parameter set."""

    openapi_path = "/jobs/sweeps"
    operations = {
        "post": Operation(
            "Queue a job per parameter set (a grid or a list); all are checked first",
            Sweep,
            body=SweepRequest,
            errors=STORE_ERRORS,
            status=201,
            tags=TAGS,
        )
    }

    @api
    async def post(self) -> None:
        body = self.body_model(SweepRequest)
        sweep = await in_thread(
            self.workspace.jobs.sweep,
            body.notebook,
            grid=body.grid,
            sets=body.sets,
            parameters=body.parameters,
            experiment=body.experiment,
            name=body.name,
        )
        self.send(sweep, 201)


class ExecutorHandler(MlopsHandler):
    """``/mlops/api/jobs/executor``: the executor's slots and their workers."""

    openapi_path = "/jobs/executor"
    operations = {
        "get": Operation(
            "The executor's slots and workers", ExecutorState, errors=STORE_ERRORS, tags=TAGS
        )
    }

    @api
    async def get(self) -> None:
        self.send(await in_thread(self.workspace.jobs.executor_state))


class JobHandler(MlopsHandler):
    """``/mlops/api/jobs/{job}``: one job (a unique prefix of its id is enough)."""

    openapi_path = "/jobs/{job}"
    operations = {
        "get": Operation("Get a job and where it stands", Job, errors=(400, 404, 409), tags=TAGS)
    }

    @api
    async def get(self, job: str) -> None:
        self.send(await in_thread(self.workspace.jobs.get, job))


class CancelHandler(MlopsHandler):
    """``/mlops/api/jobs/{job}/cancel``: POST cancels a queued or running job."""

    openapi_path = "/jobs/{job}/cancel"
    operations = {
        "post": Operation(
            "Cancel a queued job or stop a running one (409 once it has finished)",
            Job,
            errors=(400, 404, 409),
            tags=TAGS,
        )
    }

    @api
    async def post(self, job: str) -> None:
        self.send(await in_thread(self.workspace.jobs.cancel, job))


class RerunHandler(MlopsHandler):
    """``/mlops/api/jobs/{job}/rerun``: POST queues the job's notebook again."""

    openapi_path = "/jobs/{job}/rerun"
    operations = {
        "post": Operation(
            "Queue the job's notebook again, its parameters updated by the body's",
            Job,
            body=RerunRequest,
            errors=(*STORE_ERRORS, 409),
            status=201,
            tags=TAGS,
        )
    }

    @api
    async def post(self, job: str) -> None:
        body = self.body_model(RerunRequest)
        self.send(await in_thread(self.workspace.jobs.rerun, job, body.parameters), 201)


class JobLogHandler(MlopsHandler):
    """``/mlops/api/jobs/{job}/log``: what the job's cells printed."""

    openapi_path = "/jobs/{job}/log"
    operations = {
        "get": Operation("What the job's cells printed", JobLog, errors=(400, 404, 409), tags=TAGS)
    }

    @api
    async def get(self, job: str) -> None:
        jobs = self.workspace.jobs
        found = await in_thread(jobs.get, job)
        text = await in_thread(jobs.log, found.id)
        self.send(JobLog(id=found.id, state=found.state, text=text))


# The fixed paths come before /jobs/{job}, which would otherwise take "parameters" as a job id.
HANDLERS: list[type[MlopsHandler]] = [
    JobsHandler,
    ParametersHandler,
    SweepsHandler,
    ExecutorHandler,
    JobHandler,
    CancelHandler,
    RerunHandler,
    JobLogHandler,
]
