"""Who uses a feature view: the runs (later models and deployments) per version.

A training frame built inside a tracked run tags the run with ``mlops.features``: JSON whose
``views`` object maps each pinned view version (``"customer_stats:v2"``) to its fingerprint (see
:func:`jupyter_mlops.features.service.record_usage`). The usage of a view is found by one MLflow
search over all active experiments for runs whose tag mentions the view, then each run's tag is
parsed and the run is listed under exactly the versions its ``views`` object names, so ``v1`` never
matches ``v12`` and ``a_b`` never matches ``axb`` (``_`` is a wildcard in SQL ``LIKE``).

Models and deployments are listed once the model registry and deployments record the features
they were trained on (later issues); until then their lists are empty.
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
