"""Who uses a feature view: the runs (later models and deployments) per version.

A training frame built inside a tracked run tags the run with ``mlops.features``: JSON whose
``views`` object maps each pinned view version (``"customer_stats:v2"``) to its fingerprint (see
:func:`jupyter_mlops.features.service.record_usage`). The usage of a view is found by one MLflow
search over all active experiments for runs whose tag mentions the view, then each run's tag is
parsed and the run is listed under exactly the versions its ``views`` object names, so ``v1`` never
matches ``v12`` and ``a_b`` never matches ``axb`` (``_`` is a wildcard in SQL ``LIKE``).

Model versions record the same JSON as a version tag when they are registered (copied from their
run), so the models of a view version are found by reading the registry's versions; deployments
by the model versions they serve (see :func:`add_models_and_deployments`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from jupyter_mlops.features.schemas import FeatureUsage, UsageRun, VersionUsage
from jupyter_mlops.features.service import FEATURES_TAG

if TYPE_CHECKING:
    from jupyter_mlops.features.schemas import ViewVersion
    from jupyter_mlops.tracking.service import TrackingService
    from jupyter_mlops.workspace import Workspace

_PAGE = 1000


def usage_filter(view: str) -> str:
    """The MLflow filter for runs whose usage tag may name a version of ``view``.

    It may match more (``_`` is a ``LIKE`` wildcard); :func:`versions_used` decides.
    """
    return f'tags."{FEATURES_TAG}" LIKE \'%"{view}:v%\''


def versions_used(tag: str | None, view: str) -> set[int]:
    """The versions of ``view`` a run's ``mlops.features`` tag names."""
    if not tag:
        return set()
    try:
        payload = json.loads(tag)
    except ValueError:
        return set()
    views = payload.get("views") if isinstance(payload, dict) else None
    if not isinstance(views, dict):
        return set()
    prefix = f"{view}:v"
    return {
        int(label[len(prefix) :])
        for label in views
        if isinstance(label, str) and label.startswith(prefix) and label[len(prefix) :].isdigit()
    }


def view_usage(tracking: TrackingService, versions: Sequence[ViewVersion]) -> FeatureUsage:
    """Every version of one view with the runs that built a training frame from it."""
    from jupyter_mlops.tracking.service import mlflow_errors

    name = versions[0].name
    runs: dict[int, list[UsageRun]] = {v.version: [] for v in versions}
    experiment_ids = [e.experiment_id for e in tracking.list_experiments()]
    token: str | None = None
    while experiment_ids:
        with mlflow_errors("Searching the runs that use the view failed"):
            page: Any = tracking.client.search_runs(
                experiment_ids,
                filter_string=usage_filter(name),
                max_results=_PAGE,
                order_by=["attributes.start_time DESC"],
                page_token=token,
            )
        for run in page:
            for version in versions_used(run.data.tags.get(FEATURES_TAG), name):
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


def _usage_run(run: Any) -> UsageRun:
    info = run.info
    return UsageRun(
        run_id=info.run_id,
        run_name=info.run_name or "",
        experiment_id=str(info.experiment_id),
        start_time=info.start_time,
        status=info.status,
    )


def add_models_and_deployments(workspace: Workspace, usage: FeatureUsage) -> FeatureUsage:
    """Fill each version's ``models`` (registered versions trained on it) and ``deployments``
    (those serving such a model version now)."""
    from jupyter_mlops.registry.service import FEATURES_TAG as VERSION_TAG

    registry = workspace.registry
    by_version = {v.version: v for v in usage.versions}
    serving: dict[tuple[str, int], list[dict[str, str]]] = {}
    for deployment in workspace.deployments.list():
        if deployment.state in {"stopped", "failed"}:
            continue
        for served in deployment.serving:
            serving.setdefault((served.name, served.version), []).append(
                {
                    "name": deployment.name,
                    "state": deployment.state,
                    "url": deployment.url,
                    "model": f"{served.name}:{served.version}",
                }
            )
    for model in registry.list_models():
        aliases: dict[int, list[str]] = {}
        for alias, number in model.aliases.items():
            aliases.setdefault(number, []).append(alias)
        for version in registry._versions(model.name):  # raw versions: tags are all we need
            mv = int(version.version)
            for number in versions_used((version.tags or {}).get(VERSION_TAG), usage.view):
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
    return usage
