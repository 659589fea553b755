"""Who uses a feature view: the runs, registered models and deployments of each version.

A question across domains, so it lives above them: it reads the tracking store (runs), the model
registry (versions) and the deployments, and none of those reads the others for it.

A training frame built inside a tracked run tags the run with its
:class:`~jupyter_mlops.lineage.FeaturesUsed`. The usage of a view is found by one MLflow search over
all active experiments for runs whose tag mentions the view; each run's payload is then parsed and
the run listed under exactly the versions it names, so ``v1`` never matches ``v12`` and ``a_b``
never matches ``axb`` (``_`` is a wildcard in SQL ``LIKE``). Model versions carry the same payload
as a version tag (copied from their run at registration); deployments are found by the model
versions they serve.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from jupyter_mlops.features.schemas import FeatureUsage, UsageRun, VersionUsage
from jupyter_mlops.lineage import FeaturesUsed, ModelRef, features_used_filter
from jupyter_mlops.lineage.tags import FEATURES_TAG
from jupyter_mlops.tracking.backend import mlflow_errors

if TYPE_CHECKING:
    from jupyter_mlops.features.schemas import ViewVersion
    from jupyter_mlops.registry.service import ModelRegistry
    from jupyter_mlops.serving.deployments import Deployments
    from jupyter_mlops.tracking.service import TrackingService

_PAGE = 1000


def feature_usage(
    versions: Sequence[ViewVersion],
    *,
    tracking: TrackingService,
    registry: ModelRegistry,
    deployments: Deployments,
) -> FeatureUsage:
    """Every version of one view (oldest first) with the runs that built a training frame from it
    (newest first), the model versions trained on it and the deployments serving those now.

    Example:
        >>> usage = ws.feature_usage("customer_stats")                  # doctest: +SKIP
        >>> [(v.version, len(v.runs)) for v in usage.versions]          # doctest: +SKIP
        [(1, 12), (2, 1)]
    """
    usage = runs_using(tracking, versions)
    add_models_and_deployments(usage, registry, deployments)
    return usage


def runs_using(tracking: TrackingService, versions: Sequence[ViewVersion]) -> FeatureUsage:
    """Every version of one view with the runs that built a training frame from it."""
    name = versions[0].name
    runs: dict[int, list[UsageRun]] = {v.version: [] for v in versions}
    experiment_ids = [e.experiment_id for e in tracking.list_experiments()]
    token: str | None = None
    while experiment_ids:
        with mlflow_errors("Searching the runs that use the view failed"):
            page: Any = tracking.client.search_runs(
                experiment_ids,
                filter_string=features_used_filter(name),
                max_results=_PAGE,
                order_by=["attributes.start_time DESC"],
                page_token=token,
            )
        for run in page:
            for version in _versions_used(run.data.tags.get(FEATURES_TAG), name):
                if version in runs:
                    runs[version].append(_usage_run(run))
        token = page.token
        if not token:
            break
    return FeatureUsage(
        view=name,
        versions=[
            VersionUsage(version=v.version, fingerprint=v.fingerprint, runs=runs[v.version])
            for v in versions
        ],
    )


def add_models_and_deployments(
    usage: FeatureUsage, registry: ModelRegistry, deployments: Deployments
) -> None:
    """Fill each version's ``models`` (registered versions trained on it) and ``deployments``
    (those serving such a model version now)."""
    by_version = {v.version: v for v in usage.versions}
    serving: dict[tuple[str, int], list[dict[str, str]]] = {}
    for deployment in deployments.list():
        if deployment.state in {"stopped", "failed"}:
            continue
        for served in deployment.serving:
            serving.setdefault((served.name, served.version), []).append(
                {
                    "name": deployment.name,
                    "state": deployment.state,
                    "url": deployment.url,
                    "model": str(ModelRef(served.name, version=served.version)),
                }
            )
    for model in registry.list_models():
        aliases: dict[int, list[str]] = {}
        for alias, number in model.aliases.items():
            aliases.setdefault(number, []).append(alias)
        for mv, tags in registry.version_tags(model.name).items():
            for number in _versions_used(tags.get(FEATURES_TAG), usage.view):
                entry = by_version.get(number)
                if entry is None:
                    continue
                entry.models.append(
                    {
                        "name": model.name,
                        "version": str(mv),
                        "aliases": ",".join(sorted(aliases.get(mv, []))),
                    }
                )
                entry.deployments.extend(serving.get((model.name, mv), []))


def _versions_used(tag: str | None, view: str) -> set[int]:
    used = FeaturesUsed.parse(tag)
    return used.versions_of(view) if used is not None else set()


def _usage_run(run: Any) -> UsageRun:
    info = run.info
    return UsageRun(
        run_id=info.run_id,
        run_name=info.run_name or "",
        experiment_id=str(info.experiment_id),
        start_time=info.start_time,
        status=info.status,
    )
