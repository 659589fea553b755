"""Continuous training: pipelines that retrain, gate, register and A/B-test a model on triggers,
and replays of a version's training from its lineage.

Declare a pipeline in ``mlops.toml`` (``[pipeline.NAME]``) or in ``pipelines/*.py``:

    from jupyter_mlops.pipelines import ABTest, OnAlert, Pipeline, Schedule

    retrain = Pipeline(
        name="churn-retrain",
        notebook="notebooks/train_churn.ipynb",
        model="churn",
        gates=["roc_auc>=champion-0.01"],
        triggers=[OnAlert("churn", alerts=["drift_share"]), Schedule("0 3 * * 1")],
        abtest=ABTest("churn", split=[90, 10], promote=True),
    )

then ``jupyter mlops pipelines plan`` and ``apply``. The workspace's scheduler process watches the
triggers whether or not JupyterLab is open.
"""

from __future__ import annotations

from typing import Any

from jupyter_mlops.pipelines.schemas import (
    AbTestStep,
    AlertTrigger,
    FreshnessTrigger,
    IngestTrigger,
    PipelineSpec,
    ScheduleTrigger,
)

__all__ = ["ABTest", "OnAlert", "OnIngest", "OnStale", "Pipeline", "Schedule"]

#: A pipeline declaration (keyword arguments, see :class:`PipelineSpec`).
Pipeline = PipelineSpec


class Schedule(ScheduleTrigger):
    """Run on a cron schedule: ``Schedule("0 3 * * 1")`` (Mondays at 03:00 UTC)."""

    def __init__(self, cron: str, **kw: Any) -> None:
        super().__init__(cron=cron, **kw)


class OnIngest(IngestTrigger):
    """Run when rows are ingested into a feature view: ``OnIngest("customer_activity")``."""

    def __init__(self, view: str, **kw: Any) -> None:
        super().__init__(view=view, **kw)


class OnStale(FreshnessTrigger):
    """Run when a view's newest row gets older than its TTL: ``OnStale("customer_activity")``."""

    def __init__(self, view: str, **kw: Any) -> None:
        super().__init__(view=view, **kw)


class OnAlert(AlertTrigger):
    """Run when a monitoring alert starts firing on a deployment: ``OnAlert("churn")``."""

    def __init__(self, deployment: str, **kw: Any) -> None:
        super().__init__(deployment=deployment, **kw)


class ABTest(AbTestStep):
    """A/B-test a passing version against the deployment's champion: ``ABTest("churn")``."""

    def __init__(self, deployment: str, **kw: Any) -> None:
        super().__init__(deployment=deployment, **kw)
