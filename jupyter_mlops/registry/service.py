"""The model registry of a workspace, on MLflow's registry.

A version is registered from a run's logged model and carries its lineage as version tags
(``mlops.*``), so the MLflow UI and any MLflow client see it too. The reference profile of the
training data is a JSON file in ``.mlops/models/<name>/v<N>/profile.json``.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_mlops.errors import InvalidInput, NotFound, close_names, did_you_mean
from jupyter_mlops.lineage import FeaturesUsed, ModelRef, ReferenceProfile, check_alias
from jupyter_mlops.lineage.git import git_standing, notebook_in_git
from jupyter_mlops.lineage.tags import (
    ENTITY_FINGERPRINT_TAG,
    FEATURES_TAG,
    FINGERPRINT_TAG,
    GIT_BRANCH_TAG,
    GIT_COMMIT_TAG,
    GIT_DIRTY_TAG,
    JOB_OUTPUT_ARTIFACT,
    JOB_TAG,
    NOTEBOOK_ARTIFACT_DIR,
    NOTEBOOK_GIT_TAG,
    NOTEBOOK_IGNORED_BY_TAG,
    NOTEBOOK_TAG,
    PROFILE_ARTIFACT,
    RUN_TAG,
    VERSION_TAGS_FROM_RUN,
)
from jupyter_mlops.process import write_json
from jupyter_mlops.registry.gates import evaluate, parse_gate
from jupyter_mlops.registry.schemas import (
    Lineage,
    ModelVersionDetail,
    ModelVersionInfo,
    Promotion,
    RegisteredModelDetail,
    RegisteredModelInfo,
)
from jupyter_mlops.tracking.backend import mlflow_errors
from jupyter_mlops.tracking.service import find_run

if TYPE_CHECKING:
    import pandas as pd

    from jupyter_mlops.tracking.backend import MlflowBackend

logger = logging.getLogger(__name__)


class ModelRegistry:
    """Registered models, their versions, aliases, lineage and promotion gates.

    Example:
        >>> v = ws.registry.register(run_id, "churn")                    # doctest: +SKIP
        >>> ws.registry.promote("churn", v.version, "champion",          # doctest: +SKIP
        ...                     require=["roc_auc>=champion"]).promoted
        True
    """

    def __init__(self, backend: MlflowBackend, models_dir: Path) -> None:
        """
        Args:
            backend: the MLflow store whose registry holds the models.
            models_dir: the state folder of reference profiles and downloaded model files
                (``.mlops/models``).
        """
        self.backend = backend
        self.models_dir = models_dir

    @property
    def client(self) -> Any:
        return self.backend.client

    # -- reading ----------------------------------------------------------------------------------

    def list_models(self) -> list[RegisteredModelInfo]:
        """Every registered model, by name."""
        out: list[RegisteredModelInfo] = []
        token: str | None = None
        while True:
            with mlflow_errors("Listing registered models failed"):
                page = self.client.search_registered_models(max_results=1000, page_token=token)
            out.extend(_model_info(m) for m in page)
            token = page.token
            if not token:
                break
        return sorted(out, key=lambda m: m.name)

    def get_model(self, name: str) -> RegisteredModelDetail:
        """One model with every version, newest first."""
        model = self._registered(name)
        versions = self._versions(name)
        info = _model_info(model, versions)
        by_version: dict[int, list[str]] = {}
        for alias, number in info.aliases.items():
            by_version.setdefault(number, []).append(alias)
        listed = [self._version_info(v, with_metrics=True) for v in versions]
        for item in listed:
            item.aliases = sorted(by_version.get(item.version, []))
        return RegisteredModelDetail(**info.model_dump(), version_list=listed)

    def get_version(self, ref: str | ModelRef, version: int | None = None) -> ModelVersionDetail:
        """One version with its lineage: ``get_version("churn@champion")`` or
        ``get_version("churn", 3)``."""
        return self._detail(self._resolve(ref, version))

    def _detail(self, mv: Any) -> ModelVersionDetail:
        info = self._version_info(mv, with_metrics=False)
        lineage = self._lineage(mv)
        info.metrics = lineage.metrics if lineage else {}
        return ModelVersionDetail(**info.model_dump(), lineage=lineage)

    def resolve(self, ref: str | ModelRef, version: int | None = None) -> ModelVersionInfo:
        """The version a reference points at (an alias or ``latest`` resolved now)."""
        return self._version_info(self._resolve(ref, version), with_metrics=False)

    def model_path(self, ref: str | ModelRef, version: int | None = None) -> Path:
        """A local folder holding the version's MLflow model (``MLmodel`` inside)."""
        return self._model_path(self._resolve(ref, version))

    def locate(self, ref: str | ModelRef) -> tuple[ModelVersionDetail, Path]:
        """The version a reference points at now, with its lineage, and a local folder holding
        its MLflow model: what a deployment or a package needs, resolved once."""
        mv = self._resolve(ref)
        return self._detail(mv), self._model_path(mv)

    def version_tags(self, name: str) -> dict[int, dict[str, str]]:
        """Every version's tags, by version number (one registry search, no runs read)."""
        return {int(v.version): dict(v.tags or {}) for v in self._versions(name)}

    def _model_path(self, mv: Any) -> Path:
        with mlflow_errors(f"Locating model {mv.name} version {mv.version} failed"):
            uri = self.client.get_model_version_download_uri(mv.name, mv.version)
        local = _local_path(str(uri))
        if local is not None and (local / "MLmodel").is_file():
            return local
        from mlflow.artifacts import download_artifacts

        target: Path = self.models_dir / str(mv.name) / f"v{mv.version}" / "model"
        if not (target / "MLmodel").is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            with mlflow_errors("Downloading the model failed"):
                download_artifacts(artifact_uri=uri, dst_path=str(target))
        return target

    def profile(self, ref: str | ModelRef, version: int | None = None) -> ReferenceProfile:
        """The reference profile stored with a version.

        Raises:
            NotFound: the version was registered without one.
        """
        mv = self._resolve(ref, version)
        path = self._profile_path(mv.name, int(mv.version))
        if not path.is_file():
            raise NotFound(
                f"Model {mv.name} version {mv.version} has no reference profile",
                hint="Build the training set with get_training_frame inside the tracked run, or "
                "register with training_data=DataFrame.",
            )
        return ReferenceProfile.model_validate_json(path.read_text(encoding="utf-8"))

    def set_profile(
        self, ref: str | ModelRef, training_data: pd.DataFrame, version: int | None = None
    ) -> ReferenceProfile:
        """Profile ``training_data`` and store it as the version's reference profile, replacing
        one it has: for versions registered without a profile, or with an older format.

        Raises:
            NotFound: no such version.
            InvalidInput: the frame has none of the version's input columns.
        """
        from jupyter_mlops.lineage import profile_frame

        mv = self._resolve(ref, version)
        detail = self._detail(mv)
        inputs = [c["name"] for c in (detail.signature or {}).get("inputs", []) if "name" in c]
        columns = [c for c in inputs if c in training_data.columns] if inputs else None
        if inputs and not columns:
            raise InvalidInput(
                f"The data has none of {mv.name} v{mv.version}'s inputs ({', '.join(inputs)})",
                hint="Pass the frame the version was trained on.",
                field="data",
            )
        profile = profile_frame(
            training_data, columns=columns, source=f"set for {mv.name} v{mv.version}"
        )
        self._write_profile(str(mv.name), int(mv.version), profile)
        return profile

    def compare(self, name: str, versions: Sequence[int]) -> dict[int, dict[str, float]]:
        """Metrics of several versions of one model, by version."""
        return {v: self._run_metrics(self._resolve(name, v).run_id) for v in versions}

    # -- writing ----------------------------------------------------------------------------------

    def register(
        self,
        run_id: str,
        name: str,
        *,
        description: str = "",
        aliases: Iterable[str] = (),
        training_data: pd.DataFrame | None = None,
    ) -> ModelVersionDetail:
        """Register the model a run logged as a new version of ``name``, with its lineage.

        ``run_id`` may be a full id, a unique id prefix or a unique run name.

        The version's tags record the run, notebook, git commit, feature references with their
        versions and the training-data fingerprint, copied from the run. A reference profile of
        the training data is stored with it: from ``training_data`` if given, else from the
        profile the run's training frame left.

        Raises:
            NotFound: no such run.
            InvalidInput: the run logged no model; a bad model name or alias; a run reference
                that names several runs.
        """
        if not ModelRef.parse(name).is_plain_name:
            raise InvalidInput(
                f"{name!r} is not a model name",
                hint="Use a plain name such as churn.",
                field="name",
            )
        aliases = [check_alias(a) for a in aliases]
        from mlflow.exceptions import MlflowException

        run = find_run(self.client, run_id)
        run_id = run.info.run_id
        model_uri, model_id = self._logged_model(run)
        tags = _lineage_tags(run)
        with mlflow_errors("Creating the registered model failed"):
            try:
                self.client.create_registered_model(name)
            except MlflowException as exc:
                if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                    raise
            mv = self.client.create_model_version(
                name,
                source=model_uri,
                run_id=run_id,
                tags=tags,
                description=description or None,
                model_id=model_id,
            )
        version = int(mv.version)
        profile = self._training_profile(run, training_data)
        if profile is not None:
            self._write_profile(name, version, profile)
        for alias in aliases:
            self.set_alias(name, alias, version)
        return self.get_version(name, version)

    def set_alias(self, name: str, alias: str, version: int) -> ModelVersionInfo:
        """Point ``alias`` at ``version`` (no gates)."""
        check_alias(alias)
        mv = self._resolve(name, version)
        with mlflow_errors(f"Setting @{alias} failed"):
            self.client.set_registered_model_alias(name, alias, str(mv.version))
        return self.resolve(name, version)

    def delete_alias(self, name: str, alias: str) -> None:
        """Remove an alias from the model."""
        self._resolve(f"{name}@{alias}")
        with mlflow_errors(f"Removing @{alias} failed"):
            self.client.delete_registered_model_alias(name, alias)

    def promote(
        self, name: str, version: int, alias: str, *, require: Sequence[str] = ()
    ) -> Promotion:
        """Move ``alias`` to ``version`` if every gate in ``require`` passes.

        A gate is ``METRIC OP NUMBER`` or ``METRIC OP ALIAS`` (the version holding that alias
        now). Nothing changes when a gate fails; the result says which metric failed by how much.
        """
        check_alias(alias)
        gates = [parse_gate(g) for g in require]  # all parsed before anything is read
        candidate = self._resolve(name, version)
        metrics = self._run_metrics(candidate.run_id)
        holders: dict[str, tuple[int, dict[str, float]] | None] = {}
        for gate in gates:
            if gate.alias is not None and gate.alias not in holders:
                holder = self._alias_holder(name, gate.alias)
                holders[gate.alias] = (
                    None
                    if holder is None
                    else (int(holder.version), self._run_metrics(holder.run_id))
                )
        unheld = [a for a, h in holders.items() if h is None]
        if unheld:
            self._check_gate_aliases(name, unheld)
        results = [evaluate(g, metrics, holders) for g in gates]
        previous = self._alias_holder(name, alias)
        promoted = all(r.passed for r in results)
        if promoted:
            with mlflow_errors(f"Setting @{alias} failed"):
                self.client.set_registered_model_alias(name, alias, str(candidate.version))
        return Promotion(
            name=name,
            version=int(candidate.version),
            alias=alias,
            promoted=promoted,
            previous_version=None if previous is None else int(previous.version),
            gates=results,
        )

    # -- internals --------------------------------------------------------------------------------

    def _registered(self, name: str) -> Any:
        from mlflow.exceptions import MlflowException

        try:
            return self.client.get_registered_model(name)
        except MlflowException as exc:
            if exc.error_code in {"RESOURCE_DOES_NOT_EXIST", "NOT_FOUND"}:
                raise self._unknown_model(name) from None
            with mlflow_errors():
                raise

    def _unknown_model(self, name: str) -> NotFound:
        hint = did_you_mean(
            name,
            [m.name for m in self.list_models()],
            listing="Registered models",
            empty="No model is registered yet: `jupyter mlops register RUN_ID --name NAME`.",
        )
        return NotFound(f"No registered model named {name!r}", hint=hint, field="model")

    def _check_gate_aliases(self, name: str, unheld: Sequence[str]) -> None:
        """A gate against an alias no version holds passes (nothing to beat yet), so a typo of a
        held alias (``>=champoin``) would pass unseen: refuse it instead."""
        held = _aliases(self._registered(name))
        for alias in unheld:
            # Only a near-certain typo: a gate against a new alias (@challenger beside
            # @champion) is legitimate and passes.
            if close_names(alias, held, cutoff=0.8):
                raise InvalidInput(
                    f"A gate compares with @{alias}, which no version of {name} holds",
                    hint=self._unknown_alias(name, alias, held).hint,
                    field="require",
                )

    @staticmethod
    def _unknown_alias(name: str, alias: str, aliases: Iterable[str]) -> NotFound:
        """A mistyped alias gets the one it resembles; only a new one is offered to be set."""
        held = sorted(aliases)
        listed = ", ".join(f"@{a}" for a in held) or "none"
        close = did_you_mean(alias, held)
        if close:
            hint = f"{close.replace('mean ', 'mean @')} Aliases of {name}: {listed}."
        else:
            hint = (
                f"Aliases of {name}: {listed}. Set @{alias} with "
                f"`jupyter mlops promote {name} VERSION --to {alias}`."
            )
        return NotFound(f"Model {name} has no alias @{alias}", hint=hint, field="model")

    def _versions(self, name: str) -> list[Any]:
        out: list[Any] = []
        token: str | None = None
        while True:
            with mlflow_errors(f"Listing versions of {name} failed"):
                page = self.client.search_model_versions(
                    f"name = '{_quote(name)}'", max_results=1000, page_token=token
                )
            out.extend(page)
            token = page.token
            if not token:
                break
        return sorted(out, key=lambda v: int(v.version), reverse=True)

    def _resolve(self, ref: str | ModelRef, version: int | None = None) -> Any:
        if isinstance(ref, str):
            ref = ModelRef.parse(ref)
        if version is not None:
            ref = ModelRef(ref.name, version=version)
        from mlflow.exceptions import MlflowException

        if ref.alias is not None:
            try:
                return self.client.get_model_version_by_alias(ref.name, ref.alias)
            except MlflowException:
                model = self._registered(ref.name)  # unknown model -> its own message
                raise self._unknown_alias(ref.name, ref.alias, _aliases(model)) from None
        if ref.version is not None:
            try:
                return self.client.get_model_version(ref.name, str(ref.version))
            except MlflowException:
                model = self._registered(ref.name)
                latest = _latest(model)
                raise NotFound(
                    f"Model {ref.name} has no version {ref.version}",
                    hint=f"Its latest version is {latest}." if latest else "It has no versions.",
                    field="model",
                ) from None
        self._registered(ref.name)
        versions = self._versions(ref.name)
        if not versions:
            raise NotFound(
                f"Model {ref.name} has no versions",
                hint=f"Register one: `jupyter mlops register RUN_ID --name {ref.name}`.",
                field="model",
            )
        return versions[0]

    def _alias_holder(self, name: str, alias: str) -> Any | None:
        from mlflow.exceptions import MlflowException

        try:
            return self.client.get_model_version_by_alias(name, alias)
        except MlflowException:
            self._registered(name)
            return None

    def _logged_model(self, run: Any) -> tuple[str, str | None]:
        """The URI (and MLflow 3 model id) of the model a run logged."""
        with mlflow_errors("Looking up the run's logged models failed"):
            models = list(
                self.client.search_logged_models(
                    [run.info.experiment_id],
                    filter_string=f"source_run_id = '{run.info.run_id}'",
                )
            )
        if models:
            models.sort(key=lambda m: (m.name != "model", -(m.creation_timestamp or 0)))
            chosen = models[0]
            # The artifact location, not models:/<id>: MLflow resolves a models:/ source through
            # the process's global tracking URI, which in a Jupyter server is not this store.
            return str(chosen.artifact_location), chosen.model_id
        # MLflow 2 style: a model folder among the run's artifacts.
        with mlflow_errors("Listing the run's artifacts failed"):
            artifacts = self.client.list_artifacts(run.info.run_id)
        for item in artifacts:
            if item.is_dir:
                children = self.client.list_artifacts(run.info.run_id, item.path)
                if any(c.path.endswith("MLmodel") for c in children):
                    return f"runs:/{run.info.run_id}/{item.path}", None
        raise InvalidInput(
            f"Run {run.info.run_id} ({run.info.run_name}) logged no model",
            hint="Log one inside the run, e.g. mlflow.sklearn.log_model(model, name='model', "
            "input_example=X.head()), then register again.",
            field="run_id",
        )

    def _lineage(self, mv: Any) -> Lineage | None:
        run_id = mv.run_id or mv.tags.get(RUN_TAG)
        if not run_id:
            return None
        from mlflow.exceptions import MlflowException

        try:
            run = self.client.get_run(run_id)
        except MlflowException:
            return Lineage(run_id=run_id)
        tags = run.data.tags
        try:
            experiment = self.client.get_experiment(run.info.experiment_id)
            experiment_name = experiment.name
        except MlflowException:
            experiment_name = ""
        used = FeaturesUsed.parse(mv.tags.get(FEATURES_TAG) or tags.get(FEATURES_TAG))
        snapshot = None
        notebook = tags.get(NOTEBOOK_TAG)
        if tags.get(JOB_TAG):  # a job keeps the executed notebook, whole, when it ends
            snapshot = JOB_OUTPUT_ARTIFACT
        elif notebook:
            snapshot = f"{NOTEBOOK_ARTIFACT_DIR}/{Path(notebook).name}"
        dirty_tag = tags.get(GIT_DIRTY_TAG)
        dirty = None if dirty_tag is None else dirty_tag == "true"
        in_git = notebook_in_git(tags.get(NOTEBOOK_GIT_TAG))
        ignored_by = tags.get(NOTEBOOK_IGNORED_BY_TAG)
        return Lineage(
            run_id=run_id,
            run_name=run.info.run_name or "",
            experiment_id=str(run.info.experiment_id),
            experiment_name=experiment_name,
            notebook=notebook,
            notebook_snapshot=snapshot,
            git_commit=tags.get(GIT_COMMIT_TAG),
            git_branch=tags.get(GIT_BRANCH_TAG),
            git_dirty=dirty,
            notebook_git=in_git,
            notebook_ignored_by=ignored_by,
            git_standing=git_standing(dirty, in_git, ignored_by),
            params=dict(run.data.params),
            metrics={k: float(v) for k, v in run.data.metrics.items()},
            features=list(used.features) if used else [],
            feature_views=dict(used.views) if used else {},
            training_fingerprint=mv.tags.get(FINGERPRINT_TAG) or tags.get(ENTITY_FINGERPRINT_TAG),
        )

    def _version_info(self, mv: Any, *, with_metrics: bool) -> ModelVersionInfo:
        name, version = mv.name, int(mv.version)
        signature = None
        try:
            signature = self._signature(mv)
        except Exception as exc:  # a model whose files are gone still lists
            logger.debug("No signature for %s v%s: %s", name, version, exc)
        return ModelVersionInfo(
            name=name,
            version=version,
            aliases=sorted(getattr(mv, "aliases", []) or []),
            model_uri=f"models:/{name}/{version}",
            created=int(mv.creation_timestamp or 0),
            description=mv.description or "",
            tags=dict(mv.tags or {}),
            metrics=self._run_metrics(mv.run_id) if with_metrics and mv.run_id else {},
            run_id=mv.run_id or None,
            has_profile=self._profile_path(name, version).is_file(),
            signature=signature,
        )

    def _signature(self, mv: Any) -> dict[str, list[dict[str, str]]] | None:
        from mlflow.models import Model

        uri = self.client.get_model_version_download_uri(mv.name, mv.version)
        local = _local_path(uri)
        if local is None or not (local / "MLmodel").is_file():
            return None
        model = Model.load(str(local / "MLmodel"))
        if model.signature is None:
            return None
        sig = model.signature.to_dict()
        out: dict[str, list[dict[str, str]]] = {}
        for part in ("inputs", "outputs"):
            text = sig.get(part)
            cols = json.loads(text) if text else []
            out[part] = [
                {"name": str(c.get("name", "")), "type": str(c.get("type", ""))} for c in cols
            ]
        return out

    def _run_metrics(self, run_id: str | None) -> dict[str, float]:
        if not run_id:
            return {}
        from mlflow.exceptions import MlflowException

        try:
            run = self.client.get_run(run_id)
        except MlflowException:
            return {}
        return {k: float(v) for k, v in run.data.metrics.items()}

    def _profile_path(self, name: str, version: int) -> Path:
        return self.models_dir / name / f"v{version}" / "profile.json"

    def _write_profile(self, name: str, version: int, profile: ReferenceProfile) -> None:
        write_json(self._profile_path(name, version), profile)

    def _training_profile(
        self, run: Any, training_data: pd.DataFrame | None
    ) -> ReferenceProfile | None:
        from jupyter_mlops.lineage import profile_frame

        if training_data is not None:
            return profile_frame(training_data, source="training_data given at registration")
        from mlflow.exceptions import MlflowException

        local = _local_path(str(run.info.artifact_uri or ""))
        if local is not None:
            path = local / PROFILE_ARTIFACT
            if not path.is_file():
                return None
            return ReferenceProfile.model_validate_json(path.read_text(encoding="utf-8"))
        try:
            listed = self.client.list_artifacts(run.info.run_id, PROFILE_ARTIFACT.split("/")[0])
            if not any(a.path == PROFILE_ARTIFACT for a in listed):
                return None
            text = self.client.download_artifacts(
                run.info.run_id, PROFILE_ARTIFACT, dst_path=tempfile.mkdtemp()
            )
            return ReferenceProfile.model_validate_json(Path(text).read_text(encoding="utf-8"))
        except (MlflowException, OSError, ValueError):
            return None


def _lineage_tags(run: Any) -> dict[str, str]:
    tags = run.data.tags
    out = {RUN_TAG: run.info.run_id}
    for source, target in VERSION_TAGS_FROM_RUN:
        if tags.get(source):
            out[target] = tags[source]
    return out


def _model_info(model: Any, versions: list[Any] | None = None) -> RegisteredModelInfo:
    latest = _latest(model)
    if versions:
        latest = max(int(v.version) for v in versions)
    return RegisteredModelInfo(
        name=model.name,
        description=model.description or "",
        created=int(model.creation_timestamp or 0),
        updated=int(model.last_updated_timestamp or 0),
        latest_version=latest,
        aliases={a: int(v) for a, v in _aliases(model).items()},
        versions=len(versions) if versions is not None else (latest or 0),
    )


def _aliases(model: Any) -> dict[str, str]:
    aliases = getattr(model, "aliases", None) or {}
    if isinstance(aliases, dict):
        return {str(k): str(v) for k, v in aliases.items()}
    return {str(a.alias): str(a.version) for a in aliases}


def _latest(model: Any) -> int | None:
    latest = getattr(model, "latest_versions", None) or []
    return max((int(v.version) for v in latest), default=None)


def _quote(name: str) -> str:
    return name.replace("'", "''")


def _local_path(uri: str) -> Path | None:
    if uri.startswith("file://"):
        from urllib.parse import unquote, urlparse

        return Path(unquote(urlparse(uri).path))
    if "://" not in uri and uri.startswith("/"):
        return Path(uri)
    return None
