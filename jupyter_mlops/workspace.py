"""The workspace: the one object a user opens.

A workspace is a folder with an ``mlops.toml`` file and a ``.mlops/`` state folder. It is found from
the current folder upward (like git finds ``.git``), or from the ``MLOPS_WORKSPACE`` environment
variable. It reads the configuration and wires the services.

Example:
    >>> ws = Workspace.init("/tmp/churn")            # doctest: +SKIP
    >>> ws.tracking.list_experiments()                # doctest: +SKIP
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_mlops.config import CONFIG_FILE, DEFAULT_TOML, STATE_DIR, MlopsConfig, load_config
from jupyter_mlops.errors import InvalidInput, WorkspaceNotFound
from jupyter_mlops.paths import inside

if TYPE_CHECKING:
    from jupyter_mlops.abtest.service import ABTests
    from jupyter_mlops.features.schemas import FeatureUsage
    from jupyter_mlops.features.service import FeatureStore
    from jupyter_mlops.jobs.service import Jobs
    from jupyter_mlops.monitoring.service import Monitoring
    from jupyter_mlops.pipelines.replay import Replays
    from jupyter_mlops.pipelines.service import Pipelines
    from jupyter_mlops.registry.service import ModelRegistry
    from jupyter_mlops.serving.deployments import Deployments
    from jupyter_mlops.serving.schemas import DeploymentInfo
    from jupyter_mlops.tracking.backend import MlflowBackend
    from jupyter_mlops.tracking.service import TrackingService

ENV_VAR = "MLOPS_WORKSPACE"
#: The module that runs the workspace's scheduler process (a face: it opens the workspace).
SCHEDULER_MODULE = "jupyter_mlops.commands.scheduler"
#: The module that runs one slot of the local job executor (a face: it opens the workspace).
JOB_WORKER_MODULE = "jupyter_mlops.commands.jobworker"


class Workspace:
    """A jupyter-mlops workspace rooted at ``root``."""

    def __init__(self, root: Path, config: MlopsConfig) -> None:
        self.root = root.resolve()
        self.config = config

    # -- finding and creating -------------------------------------------------------------------

    @classmethod
    def open(cls, root: str | os.PathLike[str]) -> Workspace:
        """Open the workspace whose ``mlops.toml`` is in ``root``."""
        path = Path(root).expanduser().resolve()
        config_file = path / CONFIG_FILE
        if not config_file.is_file():
            raise WorkspaceNotFound(
                f"No {CONFIG_FILE} in {path}.",
                hint=f"Run `jupyter mlops init {path}` to make it a workspace.",
            )
        return cls(path, load_config(config_file))

    @classmethod
    def find(cls, start: str | os.PathLike[str] | None = None) -> Workspace:
        """Find the workspace for ``start`` (default: the current folder).

        ``MLOPS_WORKSPACE`` wins when set; otherwise the nearest folder at or above ``start`` that
        holds an ``mlops.toml``.

        Raises:
            WorkspaceNotFound: no workspace there; the message says to run ``jupyter mlops init``.
        """
        env = os.environ.get(ENV_VAR)
        if env and start is None:
            return cls.open(env)
        here = Path(start if start is not None else Path.cwd()).expanduser().resolve()
        for folder in (here, *here.parents):
            if (folder / CONFIG_FILE).is_file():
                return cls(folder, load_config(folder / CONFIG_FILE))
        raise WorkspaceNotFound(
            f"No jupyter-mlops workspace in {here} or any folder above it.",
            hint="Run `jupyter mlops init` in your project folder (or set MLOPS_WORKSPACE).",
        )

    @classmethod
    def init(cls, root: str | os.PathLike[str] = ".") -> Workspace:
        """Make ``root`` a workspace: write ``mlops.toml`` (unless present) and ``.mlops/``.

        Initialising an existing workspace is harmless: the config is validated, nothing is
        overwritten.
        """
        path = Path(root).expanduser().resolve()
        if path.exists() and not path.is_dir():
            raise InvalidInput(f"{path} is a file, not a folder.", hint="Pass a folder path.")
        path.mkdir(parents=True, exist_ok=True)
        config_file = path / CONFIG_FILE
        if not config_file.exists():
            config_file.write_text(DEFAULT_TOML, encoding="utf-8")
        ws = cls(path, load_config(config_file))
        ws.state_dir.mkdir(exist_ok=True)
        ws.artifact_root.mkdir(parents=True, exist_ok=True)
        gitignore = ws.state_dir / ".gitignore"
        if not gitignore.exists():
            gitignore.write_text("# jupyter-mlops state: databases and artifacts\n*\n")
        return ws

    # -- locations ------------------------------------------------------------------------------

    @property
    def state_dir(self) -> Path:
        return self.root / STATE_DIR

    @property
    def artifact_root(self) -> Path:
        configured = self.config.tracking.artifact_location
        if configured and "://" not in configured:
            return self.resolve_path(configured, must_exist=False)
        return self.state_dir / "artifacts"

    @property
    def artifact_location(self) -> str:
        """Artifact root for new experiments, as MLflow wants it."""
        configured = self.config.tracking.artifact_location
        if configured and "://" in configured:
            return configured
        return str(self.artifact_root)

    @property
    def tracking_uri(self) -> str:
        uri = self.config.tracking.uri
        if not uri:
            return f"sqlite:///{self.state_dir / 'mlflow.db'}"
        if uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):
            # A relative sqlite path is relative to the workspace, not the current folder.
            return f"sqlite:///{self.root / uri.removeprefix('sqlite:///')}"
        return uri

    @property
    def registry_uri(self) -> str:
        return self.config.tracking.registry_uri or self.tracking_uri

    def resolve_path(self, path: str | os.PathLike[str], *, must_exist: bool = True) -> Path:
        """Resolve a user-given path and refuse one that leaves the workspace.

        Raises:
            InvalidInput: the path escapes the workspace (``..``, an absolute path elsewhere, a
                symlink pointing out) or does not exist when ``must_exist``.
        """
        return inside(self.root, path, must_exist=must_exist)

    # -- services: built and wired here only ----------------------------------------------------

    @cached_property
    def mlflow(self) -> MlflowBackend:
        """The MLflow tracking and registry stores every MLflow-backed service shares."""
        from jupyter_mlops.tracking.backend import MlflowBackend

        return MlflowBackend(
            self.tracking_uri,
            self.registry_uri,
            self.artifact_root,
            self.artifact_location,
            state_dir=self.state_dir,
        )

    @cached_property
    def tracking(self) -> TrackingService:
        """Experiments and runs."""
        from jupyter_mlops.tracking.service import TrackingService

        return TrackingService(self.mlflow, self.config.tracking, self.config.run)

    @cached_property
    def features(self) -> FeatureStore:
        """Feature views, their versions, the offline store and statistics."""
        from jupyter_mlops.features.service import FeatureStore

        return FeatureStore(self.root, self.state_dir, self.config.features)

    @cached_property
    def registry(self) -> ModelRegistry:
        """Registered models, versions, aliases, lineage and promotion gates."""
        from jupyter_mlops.registry.service import ModelRegistry

        return ModelRegistry(self.mlflow, self.state_dir / "models")

    @cached_property
    def deployments(self) -> Deployments:
        """Local model-server deployments of registered models."""
        from jupyter_mlops.serving.deployments import Deployments

        return Deployments(
            self.state_dir,
            registry=self.registry,
            features=self.features,
            config=self.config.serving,
            predictions=self.config.predictions,
        )

    @cached_property
    def monitoring(self) -> Monitoring:
        """Drift, API metrics, quality, freshness and alerts of the deployments."""
        from jupyter_mlops.monitoring.service import Monitoring

        return Monitoring(
            self.state_dir,
            deployments=self.deployments,
            registry=self.registry,
            features=self.features,
            config=self.config.monitoring,
            scheduler_command=(SCHEDULER_MODULE, [str(self.root)]),
            retention=self._retention,
        )

    @cached_property
    def jobs(self) -> Jobs:
        """Notebooks run as jobs by papermill."""
        from jupyter_mlops.jobs.service import Jobs

        return Jobs(
            self.root,
            self.state_dir / "jobs",
            self.tracking,
            self.config.jobs,
            default_experiment=self.config.tracking.default_experiment,
            worker_command=(JOB_WORKER_MODULE, [str(self.root)]),
        )

    @cached_property
    def abtests(self) -> ABTests:
        """A/B tests between model versions on deployments."""
        from jupyter_mlops.abtest.service import ABTests

        return ABTests(
            self.state_dir / "abtests",
            deployments=self.deployments,
            registry=self.registry,
            monitoring=self.monitoring,
        )

    @cached_property
    def pipelines(self) -> Pipelines:
        """Continuous training: pipelines that retrain, gate, register and A/B-test a model on
        their triggers."""
        from jupyter_mlops.jobs.ci import Gates
        from jupyter_mlops.pipelines.service import Pipelines

        return Pipelines(
            self.root,
            self.state_dir / "pipelines",
            self.config.pipelines,
            # Read afresh each time: declarations change while a Jupyter server keeps this object.
            lambda: load_config(self.root / CONFIG_FILE).pipeline,
            jobs=self.jobs,
            gates=Gates(self.tracking, self.registry),
            registry=self.registry,
            features=self.features,
            deployments=self.deployments,
            monitoring=self.monitoring,
            abtests=self.abtests,
            scheduler=self.monitoring.scheduler,
        )

    @cached_property
    def replays(self) -> Replays:
        """Re-runs of a model version's training from its lineage, compared metric by metric."""
        from jupyter_mlops.pipelines.replay import Replays

        return Replays(
            self.state_dir / "replays",
            registry=self.registry,
            tracking=self.tracking,
            jobs=self.jobs,
            features=self.features,
        )

    def _retention(self, deployment: str) -> tuple[float, float]:
        kept = self.config.predictions.retention(deployment)
        return kept.max_age_days, kept.max_size_mb

    def deploy(self, model: str, **options: Any) -> DeploymentInfo:
        """Deploy a model version (see :meth:`Deployments.deploy`) and make sure the scheduler
        that monitors deployments runs, so checks happen whether or not JupyterLab is open."""
        info = self.deployments.deploy(model, **options)
        self.monitoring.ensure_scheduler()
        return info

    def feature_usage(self, view: str) -> FeatureUsage:
        """Which runs, registered models and deployments use each version of a feature view:
        an impact preview before changing it (see :func:`jupyter_mlops.usage.feature_usage`).

        Raises:
            NotFound: an unknown view; the message lists close names.
        """
        from jupyter_mlops.usage import feature_usage

        return feature_usage(
            self.features.versions(view),
            tracking=self.tracking,
            registry=self.registry,
            deployments=self.deployments,
        )

    def __repr__(self) -> str:
        return f"Workspace({str(self.root)!r})"
