"""What the registry returns: pydantic models shared by the CLI's JSON, REST and the panel."""

from __future__ import annotations

from pydantic import BaseModel, Field

from jupyter_mlops.lineage.git import NotebookInGit


class Lineage(BaseModel):
    """Where a model version came from: run, notebook, parameters, code and features."""

    run_id: str
    run_name: str = ""
    experiment_id: str = ""
    experiment_name: str = ""
    notebook: str | None = Field(default=None, description="notebook path in the workspace")
    notebook_snapshot: str | None = Field(
        default=None, description="artifact path of the executed notebook saved with the run"
    )
    git_commit: str | None = None
    git_branch: str | None = None
    git_dirty: bool | None = None
    notebook_git: NotebookInGit | None = Field(
        default=None,
        description="the notebook as git saw it when the run started: committed, modified, "
        "untracked or ignored",
    )
    notebook_ignored_by: str | None = Field(
        default=None, description="the rule that ignores the notebook, e.g. .gitignore:3"
    )
    git_standing: str = Field(
        default="",
        description="how the run's code stood against its commit, in words: 'clean work tree', "
        "'dirty: uncommitted changes', 'notebook not tracked by git (ignored by .gitignore:3)'",
    )
    params: dict[str, str] = Field(default_factory=dict)
    metrics: dict[str, float] = Field(default_factory=dict)
    features: list[str] = Field(
        default_factory=list, description="pinned references, e.g. customer_stats:v2:avg_spend"
    )
    feature_views: dict[str, str] = Field(
        default_factory=dict, description="view:vN -> content fingerprint"
    )
    training_fingerprint: str | None = Field(
        default=None, description="sha256 of the entity frame(s) the training set was built from"
    )


class ModelVersionInfo(BaseModel):
    """One registered model version."""

    name: str
    version: int
    aliases: list[str] = Field(default_factory=list)
    model_uri: str
    created: int = Field(description="ms since the epoch")
    description: str = ""
    tags: dict[str, str] = Field(default_factory=dict)
    metrics: dict[str, float] = Field(default_factory=dict)
    run_id: str | None = None
    has_profile: bool = False
    signature: dict[str, list[dict[str, str]]] | None = Field(
        default=None, description="inputs/outputs: [{name, type}]"
    )


class ModelVersionDetail(ModelVersionInfo):
    """A version with its full lineage."""

    lineage: Lineage | None = None


class RegisteredModelInfo(BaseModel):
    """A registered model and its newest version."""

    name: str
    description: str = ""
    created: int
    updated: int
    latest_version: int | None = None
    aliases: dict[str, int] = Field(default_factory=dict)
    versions: int = 0


class RegisteredModelDetail(RegisteredModelInfo):
    """A model with all its versions, newest first."""

    version_list: list[ModelVersionInfo] = Field(default_factory=list)


class GateResult(BaseModel):
    """The outcome of one promotion gate."""

    gate: str
    passed: bool
    metric: str
    value: float | None = None
    reference: float | None = None
    difference: float | None = Field(default=None, description="candidate minus reference")
    message: str


class Promotion(BaseModel):
    """What ``promote`` did (or refused to do)."""

    name: str
    version: int
    alias: str
    promoted: bool
    previous_version: int | None = None
    gates: list[GateResult] = Field(default_factory=list)


class RegisterRequest(BaseModel):
    """Register a run's logged model as a new version of ``name``."""

    run_id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    description: str = ""
    aliases: list[str] = Field(default_factory=list)


class PromoteRequest(BaseModel):
    """Move an alias to a version, if it passes the gates."""

    alias: str = Field(min_length=1)
    require: list[str] = Field(default_factory=list)


class AliasRequest(BaseModel):
    """Set an alias without gates."""

    version: int = Field(ge=1)


class ModelList(BaseModel):
    """Every registered model."""

    models: list[RegisteredModelInfo]


class Removed(BaseModel):
    """What was removed."""

    name: str
    alias: str | None = None
