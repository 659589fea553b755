"""What CI gates take and return, for ``jupyter mlops ci``, ``%%mlops gate`` and ``--json``."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from jupyter_mlops.jobs.schemas import Job
from jupyter_mlops.registry.schemas import GateResult

CheckKind = Literal["job", "convergence", "gate"]
ConvergenceRule = Literal["too-short", "not-finite", "decreasing", "plateau", "rising"]
ModelSource = Literal["given", "registered-from-run", "logged-by-run", "only-model"]


class Convergence(BaseModel):
    """Whether a metric's history (a loss) converged, by the rule of
    :mod:`jupyter_mlops.jobs.gates`."""

    metric: str
    passed: bool
    rule: ConvergenceRule = Field(description="the rule that decided")
    points: int = Field(description="values in the history")
    window: int = Field(default=0, description="the last points the trend was measured over")
    slope: float | None = Field(default=None, description="least-squares slope per point")
    relative_range: float | None = Field(
        default=None, description="(max - min) / max(|mean|, 1e-12) over the window"
    )
    last: float | None = Field(default=None, description="the last value")
    message: str


class CheckResult(BaseModel):
    """One check of a CI run: the job itself, a convergence, or a gate."""

    name: str = Field(description="e.g. 'job succeeded', 'converged loss', 'val_auc>=0.85'")
    kind: CheckKind
    passed: bool
    message: str
    convergence: Convergence | None = None
    gate: GateResult | None = None


class GateModel(BaseModel):
    """The registered model whose aliases (``champion``) the gates compare with, and why it."""

    name: str | None = None
    source: ModelSource | None = None
    aliases: dict[str, int] = Field(default_factory=dict, description="alias -> version held")
    problem: str | None = Field(default=None, description="why no model could be used")


class RunChecks(BaseModel):
    """The checks evaluated against one run (what ``%%mlops gate`` shows and records)."""

    run_id: str
    model: GateModel
    checks: list[CheckResult]
    passed: bool


class CiRequest(BaseModel):
    """Run a notebook as a job, then check it: convergence and gates."""

    notebook: str
    parameters: dict[str, str] = Field(
        default_factory=dict, description="command-line text, converted to each parameter's type"
    )
    gates: list[str] = Field(default_factory=list, description="e.g. 'val_auc>=champion-0.01'")
    converged: list[str] = Field(default_factory=list, description="metrics that must converge")
    model: str | None = Field(default=None, description="the model whose aliases gates name")
    experiment: str | None = None
    timeout: float | None = Field(default=None, gt=0, description="seconds to wait for the job")


class CiResult(BaseModel):
    """What ``jupyter mlops ci`` found: the job, each check, and where the reports went."""

    notebook: str
    parameters: dict[str, str]
    job: Job
    run_id: str | None
    model: GateModel
    checks: list[CheckResult]
    passed: bool
    duration_seconds: float
    junit: str | None = Field(default=None, description="path of the JUnit XML file written")
    summary: str | None = Field(default=None, description="path of the markdown summary written")


class CiWorkflow(BaseModel):
    """The GitHub Actions workflow ``ci --init`` wrote."""

    path: str
    notebook: str
    command: str = Field(description="the `jupyter mlops ci` line the workflow runs")
    install: str = Field(description="how the workflow installs jupyter-mlops")
    overwritten: bool = False
