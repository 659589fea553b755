"""Everything a run's page shows: values and histories, origin, logged models and their
registered versions, the feature versions it read, its artifacts."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_mlops.lineage import FeaturesUsed
from jupyter_mlops.lineage.tags import (
    FEATURES_TAG,
    GIT_COMMIT_TAG,
    NOTEBOOK_ARTIFACT_DIR,
    NOTEBOOK_TAG,
    RUN_TAG,
)
from jupyter_mlops.tracking.backend import mlflow_errors
from jupyter_mlops.tracking.columns import declared_names
from jupyter_mlops.tracking.schemas import (
    ArtifactFile,
    LoggedModel,
    RegisteredVersionRef,
    RunRecord,
)

if TYPE_CHECKING:
    from jupyter_mlops.tracking.service import TrackingService

#: At most this many artifact entries are listed (folders are opened two levels deep).
MAX_ARTIFACTS = 200


def run_record(tracking: TrackingService, run_id: str) -> RunRecord:
    """The page of one run.

    Raises:
        NotFound: no run has that id.
    """
    detail = tracking.get_run(run_id)
    record = RunRecord(**detail.model_dump())
    tags = detail.tags
    record.notebook = tags.get(NOTEBOOK_TAG)
    record.git_commit = tags.get(GIT_COMMIT_TAG)
    record.declared_params = declared_names(tags, "params")
    record.declared_metrics = declared_names(tags, "metrics")
    used = FeaturesUsed.parse(tags.get(FEATURES_TAG))
    if used is not None:
        record.features = list(used.features)
        record.feature_views = dict(used.views)
    record.artifacts = _artifacts(tracking, detail.run_id)
    snapshot = next(
        (
            a.path
            for a in record.artifacts
            if a.path.startswith(f"{NOTEBOOK_ARTIFACT_DIR}/") and a.path.endswith(".ipynb")
        ),
        None,
    )
    record.notebook_snapshot = snapshot
    record.models = _models(tracking, detail.run_id, detail.experiment_id)
    return record


def _artifacts(tracking: TrackingService, run_id: str) -> list[ArtifactFile]:
    out: list[ArtifactFile] = []
    client = tracking.client

    def walk(path: str | None, depth: int) -> None:
        with mlflow_errors():
            items = client.list_artifacts(run_id, path)
        for item in items:
            if len(out) >= MAX_ARTIFACTS:
                return
            out.append(ArtifactFile(path=item.path, is_dir=item.is_dir, file_size=item.file_size))
            if item.is_dir and depth < 2:
                walk(item.path, depth + 1)

    try:
        walk(None, 1)
    except Exception:  # an artifact store that cannot be listed here: the page still shows
        return out
    return out


def _models(tracking: TrackingService, run_id: str, experiment_id: str) -> list[LoggedModel]:
    client = tracking.client
    try:
        logged = list(
            client.search_logged_models(
                experiment_ids=[experiment_id], filter_string=f"source_run_id = '{run_id}'"
            )
        )
    except Exception:  # an MLflow or store without logged models
        logged = []
    versions = _versions(client, run_id)
    models: list[LoggedModel] = []
    for m in logged:
        mine = [v for key, v in versions if key in (m.model_id, str(m.artifact_location))]
        models.append(
            LoggedModel(
                name=str(m.name),
                model_id=m.model_id,
                artifact_location=m.artifact_location,
                flavors=sorted(_flavors(m)),
                versions=mine,
            )
        )
    # Versions registered from this run whose logged model is not listed above.
    known = {m.model_id for m in logged} | {str(m.artifact_location) for m in logged}
    loose = [v for key, v in versions if key not in known]
    if loose:
        models.append(LoggedModel(name="model", versions=loose))
    return models


def _versions(client: Any, run_id: str) -> list[tuple[str, RegisteredVersionRef]]:
    found: dict[tuple[str, int], tuple[str, RegisteredVersionRef]] = {}
    for query in (f"run_id = '{run_id}'", f"tags.`{RUN_TAG}` = '{run_id}'"):
        try:
            page = client.search_model_versions(query, max_results=200)
        except Exception:  # a store that cannot search by this: the other query may
            continue
        for mv in page:
            aliases = list(mv.aliases or [])
            if not aliases:
                # Searches leave aliases out on some stores; one version read has them.
                try:
                    aliases = list(client.get_model_version(mv.name, mv.version).aliases or [])
                except Exception:  # a version deleted meanwhile: no aliases to show
                    aliases = []
            ref = RegisteredVersionRef(
                name=mv.name, version=int(mv.version), aliases=sorted(aliases)
            )
            # A version names its logged model by id, or (registered from the artifact
            # location, as the registry here does) by its source.
            key = getattr(mv, "model_id", None) or str(mv.source)
            found[(mv.name, int(mv.version))] = (key, ref)
    return sorted(found.values(), key=lambda item: (item[1].name, item[1].version))


def _flavors(model: Any) -> list[str]:
    """The flavors in the model's MLmodel file, when it is on this disk."""
    location = str(model.artifact_location or "")
    path = Path(location.removeprefix("file://")) / "MLmodel"
    try:
        import yaml  # type: ignore[import-untyped, unused-ignore]

        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except Exception:  # a remote store or an unreadable file: flavors unknown
        return []
    flavors = data.get("flavors") if isinstance(data, dict) else None
    return [str(k) for k in flavors] if isinstance(flavors, dict) else []
