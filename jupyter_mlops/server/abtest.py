"""Handlers of A/B tests: the tests of every deployment, a plan, and one deployment's test."""

from __future__ import annotations

from jupyter_mlops.abtest.schemas import (
    AbExperiment,
    AbList,
    AbListQuery,
    AbPlanQuery,
    AbSplitRequest,
    AbStartRequest,
    AbStatus,
    AbStopRequest,
    OutcomesRequest,
    OutcomesResult,
    SampleSize,
)
from jupyter_mlops.server.base import STORE_ERRORS, MlopsHandler, Operation, api, in_thread

TAGS = ["abtests"]


class AbTestsHandler(MlopsHandler):
    """``/mlops/api/abtests``: every A/B test, newest first."""

    openapi_path = "/abtests"
    operations = {
        "get": Operation("A/B tests, newest first", AbList, query=AbListQuery, tags=TAGS),
    }

    @api
    async def get(self) -> None:
        q = self.query_model(AbListQuery)
        self.send(await in_thread(self.workspace.abtests.list, q.deployment))


class AbPlanHandler(MlopsHandler):
    """``/mlops/api/abtests/plan``: rows per variant to detect an effect, and how long."""

    openapi_path = "/abtests/plan"
    operations = {
        "get": Operation(
            "Sample size and duration of a planned test",
            SampleSize,
            query=AbPlanQuery,
            errors=(400,),
            tags=TAGS,
        ),
    }

    @api
    async def get(self) -> None:
        from jupyter_mlops.abtest.stats import sample_size

        q = self.query_model(AbPlanQuery)
        # As `jupyter mlops ab plan`: `share` is the challenger's percent of the traffic that
        # enters the test, so it sets the ratio of rows; all traffic enters it.
        plan = await in_thread(
            sample_size,
            q.kind,
            q.baseline,
            q.mde,
            relative=q.relative,
            sd=q.sd,
            alpha=q.alpha,
            power=q.power,
            ratio=q.share / (100.0 - q.share),
            traffic_per_hour=q.traffic,
            share=1.0,
        )
        self.send(plan)


class DeploymentAbTestHandler(MlopsHandler):
    """``/mlops/api/deployments/{name}/abtest``: a deployment's A/B test (running, else last)."""

    openapi_path = "/deployments/{name}/abtest"
    operations = {
        "get": Operation(
            "Where the test stands: assignments, outcomes, the analysis, the guardrails",
            AbStatus,
            tags=TAGS,
        ),
        "post": Operation(
            "Start a test: the deployment's version (champion) against a challenger",
            AbExperiment,
            body=AbStartRequest,
            errors=(*STORE_ERRORS, 409),
            status=201,
            tags=TAGS,
        ),
        "patch": Operation(
            "Move traffic between the variants, without downtime",
            AbExperiment,
            body=AbSplitRequest,
            errors=(400, 404, 409),
            tags=TAGS,
        ),
    }

    @api
    async def get(self, name: str) -> None:
        self.send(await in_thread(self.workspace.abtests.status, name))

    @api
    async def post(self, name: str) -> None:
        body = self.body_model(AbStartRequest)
        self.send(await in_thread(self.workspace.abtests.start, name, body), 201)

    @api
    async def patch(self, name: str) -> None:
        body = self.body_model(AbSplitRequest)
        self.send(await in_thread(self.workspace.abtests.reweight, name, body.split))


class AbOutcomesHandler(MlopsHandler):
    """``/mlops/api/deployments/{name}/abtest/outcomes``: outcomes by request id or sticky key."""

    openapi_path = "/deployments/{name}/abtest/outcomes"
    operations = {
        "post": Operation(
            "Record outcomes (the same outcome twice counts once)",
            OutcomesResult,
            body=OutcomesRequest,
            tags=TAGS,
        ),
    }

    @api
    async def post(self, name: str) -> None:
        body = self.body_model(OutcomesRequest)
        self.send(await in_thread(self.workspace.abtests.record_outcomes, name, body.outcomes))


class AbStopHandler(MlopsHandler):
    """``/mlops/api/deployments/{name}/abtest/stop``: decide; the winner serves alone."""

    openapi_path = "/deployments/{name}/abtest/stop"
    operations = {
        "post": Operation(
            "End the test: the winner serves alone; a winning challenger takes @champion",
            AbExperiment,
            body=AbStopRequest,
            errors=(*STORE_ERRORS, 409),
            tags=TAGS,
        ),
    }

    @api
    async def post(self, name: str) -> None:
        body = self.body_model(AbStopRequest)
        self.send(await in_thread(self.workspace.abtests.stop, name, body.winner))


HANDLERS: list[type[MlopsHandler]] = [
    AbTestsHandler,
    AbPlanHandler,
    DeploymentAbTestHandler,
    AbOutcomesHandler,
    AbStopHandler,
]
