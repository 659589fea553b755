"""Handlers of the feature store: views, a view's versions, diff, statistics, usage, snippets."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from jupyter_mlops.errors import MlopsError
from jupyter_mlops.features.schemas import (
    FeatureUsage,
    Schema,
    Snippet,
    ViewDetail,
    ViewList,
    ViewStats,
    ViewVersionList,
)
from jupyter_mlops.features.service import FeatureStore
from jupyter_mlops.server.base import STORE_ERRORS, MlopsHandler, Operation, api, in_thread

TAGS = ["features"]


# -- response models ---------------------------------------------------------------------------


class ViewDiff(Schema):
    """What changed in a view between two versions: ``+`` added, ``-`` removed, ``~`` changed."""

    view: str
    from_version: int
    to_version: int
    lines: list[str]


# -- query models ------------------------------------------------------------------------------


class SearchQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    search: str = Field(default="", description="text in a name, feature, owner, tag, ...")


class VersionQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int | None = Field(default=None, ge=1, description="default: the latest")


class DiffQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    from_version: int = Field(ge=1)
    to_version: int = Field(ge=1)


class SnippetQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    feature: list[str] = Field(
        min_length=1, description="references like view:feature (repeat the key)"
    )


# -- what the handlers compute, off the event loop -----------------------------------------------


def training_snippet(store: FeatureStore, refs: list[str]) -> Snippet:
    """The store's training-frame cell; errors name the query key ``feature``."""
    try:
        return store.training_snippet(refs)
    except MlopsError as exc:
        # The service names its argument `features`; here the query key is `feature`.
        exc.field = "feature" if exc.field == "features" else exc.field
        raise


# -- handlers ----------------------------------------------------------------------------------


class FeatureViewsHandler(MlopsHandler):
    """``/mlops/api/features/views``: the latest version of every view, searchable."""

    openapi_path = "/features/views"
    operations = {
        "get": Operation(
            "List feature views", ViewList, query=SearchQuery, errors=STORE_ERRORS, tags=TAGS
        )
    }

    @api
    async def get(self) -> None:
        q = self.query_model(SearchQuery)
        self.send(await in_thread(self.workspace.features.view_list, q.search))


class FeatureViewHandler(MlopsHandler):
    """``/mlops/api/features/views/{name}``: one version of a view with its definition."""

    openapi_path = "/features/views/{name}"
    operations = {
        "get": Operation(
            "Get a view (a version of it)",
            ViewDetail,
            query=VersionQuery,
            errors=STORE_ERRORS,
            tags=TAGS,
        )
    }

    @api
    async def get(self, name: str) -> None:
        q = self.query_model(VersionQuery)
        self.send(await in_thread(self.workspace.features.view_detail, name, q.version))


class FeatureViewVersionsHandler(MlopsHandler):
    """``/mlops/api/features/views/{name}/versions``: every version of a view, newest first."""

    openapi_path = "/features/views/{name}/versions"
    operations = {
        "get": Operation("List a view's versions", ViewVersionList, errors=STORE_ERRORS, tags=TAGS)
    }

    @api
    async def get(self, name: str) -> None:
        self.send(await in_thread(self.workspace.features.view_versions, name))


class FeatureViewDiffHandler(MlopsHandler):
    """``/mlops/api/features/views/{name}/diff``: what changed between two versions."""

    openapi_path = "/features/views/{name}/diff"
    operations = {
        "get": Operation(
            "Diff two versions of a view", ViewDiff, query=DiffQuery, errors=STORE_ERRORS, tags=TAGS
        )
    }

    @api
    async def get(self, name: str) -> None:
        q = self.query_model(DiffQuery)
        lines = await in_thread(self.workspace.features.diff, name, q.from_version, q.to_version)
        self.send(
            ViewDiff(view=name, from_version=q.from_version, to_version=q.to_version, lines=lines)
        )


class FeatureViewStatsHandler(MlopsHandler):
    """``/mlops/api/features/views/{name}/stats``: size, freshness and feature statistics."""

    openapi_path = "/features/views/{name}/stats"
    operations = {
        "get": Operation(
            "Statistics and freshness",
            ViewStats,
            query=VersionQuery,
            errors=STORE_ERRORS,
            tags=TAGS,
        )
    }

    @api
    async def get(self, name: str) -> None:
        q = self.query_model(VersionQuery)
        self.send(await in_thread(self.workspace.features.stats, name, q.version))


class FeatureViewUsageHandler(MlopsHandler):
    """``/mlops/api/features/views/{name}/usage``: runs, models and deployments per version."""

    openapi_path = "/features/views/{name}/usage"
    operations = {
        "get": Operation("Who uses each version", FeatureUsage, errors=STORE_ERRORS, tags=TAGS)
    }

    @api
    async def get(self, name: str) -> None:
        self.send(await in_thread(self.workspace.feature_usage, name))


class FeatureSnippetHandler(MlopsHandler):
    """``/mlops/api/features/snippet``: a ``get_training_frame`` cell for chosen features."""

    openapi_path = "/features/snippet"
    operations = {
        "get": Operation(
            "Code for a training frame", Snippet, query=SnippetQuery, errors=STORE_ERRORS, tags=TAGS
        )
    }

    @api
    async def get(self) -> None:
        q = self.query_model(SnippetQuery)
        self.send(await in_thread(training_snippet, self.workspace.features, q.feature))


HANDLERS: list[type[MlopsHandler]] = [
    FeatureViewsHandler,
    FeatureViewHandler,
    FeatureViewVersionsHandler,
    FeatureViewDiffHandler,
    FeatureViewStatsHandler,
    FeatureViewUsageHandler,
    FeatureSnippetHandler,
]
