"""Replays: a registered version's training run again, from its lineage, in a new run.

``jupyter mlops replay churn/3`` finds the run version 3 was registered from and queues a job
that runs again:

- the notebook as it was executed: the copy a job stored with the run (``job/output.ipynb``),
  its injected cells and outputs removed; a run made outside a job has only the snapshot its
  ``%%mlops run`` cell saved (the notebook as last saved), which is used with a warning;
- with the same parameter values (typed, from the original job's record when it still exists,
  else the run's parameters converted to the types the notebook's ``parameters`` cell declares),
  in the same experiment and working folder;
- reading the same feature versions as of the same moment: each view the run read is pinned to
  the version it read (references without a version read it), and ingested rows written after
  the run started are left out (see :func:`jupyter_mlops.features.service.feature_pins`). A
  view read from a file (Parquet, CSV) has no history: it is read as it is now, with a warning
  when the file changed after the run started.

:meth:`Replays.report` puts every metric of the replay beside the original's and names those
that are not exactly equal. With deterministic seeds they all are.
"""

from __future__ import annotations

import ast
import contextlib
import math
import tempfile
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_mlops.errors import NotFound
from jupyter_mlops.features.service import FeaturePins
from jupyter_mlops.jobs.cells import is_users
from jupyter_mlops.jobs.schemas import FINAL_STATES
from jupyter_mlops.lineage import FeatureRef, FeaturesUsed, ModelRef
from jupyter_mlops.lineage.tags import (
    FEATURES_ARTIFACT,
    FEATURES_TAG,
    JOB_OUTPUT_ARTIFACT,
    JOB_TAG,
    NOTEBOOK_ARTIFACT_DIR,
    NOTEBOOK_TAG,
    ORIGIN_TAG,
    REPLAY_OF_TAG,
    REPLAY_VERSION_TAG,
)
from jupyter_mlops.paths import inside
from jupyter_mlops.pipelines.replay_schemas import (
    MetricComparison,
    NotebookSource,
    ReplayReport,
    ReplayStarted,
)
from jupyter_mlops.process import read_json, write_json
from jupyter_mlops.timestamps import from_epoch_millis

if TYPE_CHECKING:
    from jupyter_mlops.features.service import FeatureStore
    from jupyter_mlops.jobs.schemas import Job
    from jupyter_mlops.jobs.service import Jobs
    from jupyter_mlops.registry.service import ModelRegistry
    from jupyter_mlops.tracking.schemas import RunSummary
    from jupyter_mlops.tracking.service import TrackingService

#: Parameter types whose MLflow text (``str(value)``) is read back as a Python literal.
_LITERAL_TYPES = frozenset({"list", "dict", "tuple"})


class Replays:
    """Replays of registered versions' training runs.

    Example:
        >>> started = ws.replays.start("churn/3")                    # doctest: +SKIP
        >>> report = ws.replays.report(started.job_id, wait=True)    # doctest: +SKIP
        >>> report.differ                                            # doctest: +SKIP
        []
    """

    def __init__(
        self,
        folder: Path,
        *,
        registry: ModelRegistry,
        tracking: TrackingService,
        jobs: Jobs,
        features: FeatureStore,
    ) -> None:
        """
        Args:
            folder: where replayed notebooks and replay records are kept, inside the workspace
                (``.mlops/replays``): the jobs run the notebooks from there.
        """
        self.folder = folder
        self.registry = registry
        self.tracking = tracking
        self.jobs = jobs
        self.features = features

    # -- starting ---------------------------------------------------------------------------------

    def start(self, ref: str) -> ReplayStarted:
        """Queue a job that trains version ``ref`` (``churn/3``, ``churn:3``, ``churn@champion``)
        again from its lineage.

        Raises:
            InvalidInput: a malformed reference.
            NotFound: an unknown model or version, a version with no run, or a run that kept no
                notebook (the hint says how a version gets one).
        """
        version = self.registry.get_version(ref)
        label = str(ModelRef(version.name, version.version))
        run_id = version.run_id or (version.lineage.run_id if version.lineage else None)
        if not run_id:
            raise NotFound(
                f"{label} names no training run to replay",
                hint="Only a version registered from a tracked run can be replayed.",
                field="model",
            )
        try:
            run = self.tracking.get_run(run_id, with_history=False)
        except NotFound:
            raise NotFound(
                f"The run {label} was registered from ({run_id}) no longer exists",
                hint="A replay re-runs the original run's notebook; restore the run in MLflow.",
                field="model",
            ) from None
        warnings: list[str] = []
        text, source = self._stored_notebook(run, label, warnings)
        job = self._original_job(run)
        as_of = from_epoch_millis(run.start_time or 0)
        pins = self._pins(run, version.tags)
        warnings += self.features.as_of_warnings(list(pins), as_of)
        copy = self._write_copy(text, version.name, version.version)
        try:
            workdir = self._workdir(run, job, warnings)
            parameters, from_text = self._parameters(run, job, copy)
            experiment = self.tracking.get_experiment(run.experiment_id).name
            queued = self.jobs.submit(
                copy,
                parameters,
                experiment=experiment,
                run_name=f"replay of {label}",
                from_text=from_text,
                environment=FeaturePins(pins, as_of).environment(),
                tags={
                    ORIGIN_TAG: "replay",
                    REPLAY_OF_TAG: run.run_id,
                    REPLAY_VERSION_TAG: label,
                },
                workdir=workdir,
            )
        except BaseException:
            (self.jobs.root / copy).unlink(missing_ok=True)
            raise
        started = ReplayStarted(
            job_id=queued.id,
            model=version.name,
            version=version.version,
            original_run_id=run.run_id,
            notebook=copy,
            notebook_source=source,
            workdir=workdir,
            experiment=experiment,
            parameters=queued.parameters,
            pins=pins,
            as_of=as_of,
            warnings=[*warnings, *queued.warnings],
        )
        write_json(self.folder / f"{queued.id}.json", started)
        return started

    def _stored_notebook(
        self, run: RunSummary, label: str, warnings: list[str]
    ) -> tuple[str, NotebookSource]:
        """The notebook the run executed: the job's stored copy, else the run's snapshot."""
        stored = self._artifacts(run.run_id, JOB_OUTPUT_ARTIFACT.rsplit("/", 1)[0])
        if JOB_OUTPUT_ARTIFACT in stored:
            return self._download(run.run_id, JOB_OUTPUT_ARTIFACT), "job output"
        snapshots = [
            p for p in self._artifacts(run.run_id, NOTEBOOK_ARTIFACT_DIR) if p.endswith(".ipynb")
        ]
        if snapshots:
            named = f"{NOTEBOOK_ARTIFACT_DIR}/{Path(run.tags.get(NOTEBOOK_TAG, '')).name}"
            path = named if named in snapshots else snapshots[0]
            warnings.append(
                f"The run of {label} was not made by a job, so it kept no executed notebook: "
                f"the snapshot its %%mlops run cell saved ({path}) is replayed, which is the "
                "notebook as last saved and may differ from what ran."
            )
            return self._download(run.run_id, path), "notebook snapshot"
        raise NotFound(
            f"{label} has no stored notebook to replay: its run {run.run_id} kept neither the "
            f"executed notebook of a job ({JOB_OUTPUT_ARTIFACT}) nor a notebook snapshot "
            f"({NOTEBOOK_ARTIFACT_DIR}/*.ipynb)",
            hint="A version gets a stored notebook when a job trains it: run the training "
            "notebook with `jupyter mlops job run NOTEBOOK` (or from the Jobs panel) and "
            "register the version from that job's run.",
            field="model",
        )

    def _artifacts(self, run_id: str, folder: str) -> set[str]:
        from jupyter_mlops.tracking.backend import mlflow_errors

        with mlflow_errors("Listing the run's artifacts failed"):
            return {a.path for a in self.tracking.client.list_artifacts(run_id, folder)}

    def _download(self, run_id: str, path: str) -> str:
        from jupyter_mlops.tracking.backend import mlflow_errors

        with (
            tempfile.TemporaryDirectory(prefix="mlops-replay-") as tmp,
            mlflow_errors(f"Reading {path} of run {run_id} failed"),
        ):
            local = self.tracking.client.download_artifacts(run_id, path, tmp)
            return Path(local).read_text(encoding="utf-8")

    def _original_job(self, run: RunSummary) -> Job | None:
        """The job that made the run, if the run was a job's and the job is still kept."""
        job_id = run.tags.get(JOB_TAG)
        if not job_id:
            return None
        try:
            job = self.jobs.get(job_id)
        except NotFound:
            return None
        return job if job.run_id == run.run_id else None

    def _pins(self, run: RunSummary, version_tags: Mapping[str, str]) -> dict[str, int]:
        """The version of each view the run's training frames read. A reference without a
        version read the latest one then, which no explicit pin of the run can be newer than:
        the newest version read of each view is the one to pin."""
        used = FeaturesUsed.parse(run.tags.get(FEATURES_TAG) or version_tags.get(FEATURES_TAG))
        if used is None:
            return {}
        if used.artifact and not used.features:
            # Too long for the tag: the full payload was logged as an artifact.
            full = FeaturesUsed.parse(self._download(run.run_id, FEATURES_ARTIFACT))
            used = full or used
        pins: dict[str, int] = {}
        for text in used.features:
            ref = FeatureRef.parse(text)
            if ref.version is not None:
                pins[ref.view] = max(pins.get(ref.view, 0), ref.version)
        return pins

    def _write_copy(self, text: str, model: str, version: int) -> str:
        """The notebook without the cells a job added and without outputs, as a file in the
        replays folder; its workspace-relative path."""
        import nbformat

        nb = nbformat.reads(text, as_version=4)
        nb.cells = [cell for cell in nb.cells if is_users(cell)]
        for cell in nb.cells:
            for key in ("papermill", "execution"):
                cell.metadata.pop(key, None)
            if cell.cell_type == "code":
                cell.outputs = []
                cell.execution_count = None
        nb.metadata.pop("papermill", None)
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{model}-v{version}-{uuid.uuid4().hex[:8]}.ipynb"
        nbformat.write(nb, str(path))
        return str(path.relative_to(self.jobs.root))

    def _workdir(self, run: RunSummary, job: Job | None, warnings: list[str]) -> str:
        """The folder the original notebook ran in, so its relative paths find the same files."""
        notebook = run.tags.get(NOTEBOOK_TAG)
        if job is not None:
            record = self.jobs.record(job.id)
            if record.workdir:
                return record.workdir
            notebook = record.notebook
        if notebook:
            with contextlib.suppress(Exception):
                folder = inside(self.jobs.root, Path(notebook).parent, must_exist=True)
                if folder.is_dir():
                    return str(folder.relative_to(self.jobs.root))
        warnings.append(
            f"The folder the original notebook ran in ({notebook or 'not recorded'}) is not in "
            "the workspace: the replay runs in the workspace folder, so relative paths in the "
            "notebook may not find the same files."
        )
        return "."

    def _parameters(
        self, run: RunSummary, job: Job | None, notebook: str
    ) -> tuple[dict[str, Any], bool]:
        """The values the run was trained with, and whether they are text to convert."""
        if job is not None:
            return dict(job.parameters), False
        declared = self.jobs.parameters(notebook)
        kinds = {p.name: p.type for p in declared.parameters}
        values: dict[str, Any] = {}
        for name, text in run.params.items():
            if name not in kinds:
                continue  # logged by the notebook, not one of its parameters
            values[name] = _literal(text) if kinds[name] in _LITERAL_TYPES else text
        return values, True

    # -- reporting --------------------------------------------------------------------------------

    def report(
        self, job_id: str, *, wait: bool = False, timeout: float | None = None
    ) -> ReplayReport:
        """A replay's state and its metrics beside the original run's.

        Args:
            job_id: the replay's job (a unique prefix of its id is enough).
            wait: block until the job ends (or ``timeout`` seconds pass).

        Raises:
            NotFound: no job has that id, or the job is not a replay.
        """
        job = self.jobs.get(job_id)
        started = read_json(self.folder / f"{job.id}.json", ReplayStarted)
        if not isinstance(started, ReplayStarted):
            raise NotFound(
                f"Job {job.id} is not a replay",
                hint="Start one with `jupyter mlops replay MODEL:VERSION`.",
                field="job",
            )
        if wait:
            job = self.jobs.wait(job.id, timeout=timeout)
        original = self.tracking.get_run(started.original_run_id, with_history=False).metrics
        replayed = (
            self.tracking.get_run(job.run_id, with_history=False).metrics if job.run_id else {}
        )
        metrics = compare_metrics(original, replayed)
        succeeded = job.state == "succeeded"
        differ = [m.metric for m in metrics if not m.equal] if succeeded else []
        matches = not differ if succeeded else (False if job.state in FINAL_STATES else None)
        warnings = [*started.warnings]
        for warning in self.features.as_of_warnings(list(started.pins), started.as_of):
            if warning not in warnings:
                warnings.append(warning)
        return ReplayReport(
            job_id=job.id,
            model=started.model,
            version=started.version,
            original_run_id=started.original_run_id,
            replay_run_id=job.run_id,
            state=job.state,
            message=job.message,
            metrics=metrics,
            differ=differ,
            matches=matches,
            pins=started.pins,
            as_of=started.as_of,
            warnings=warnings,
        )


def compare_metrics(
    original: Mapping[str, float | None], replay: Mapping[str, float | None]
) -> list[MetricComparison]:
    """Every metric of either run, by name: equal only when both logged it with exactly the
    same value (two values that are not finite numbers count as equal).

    Example:
        >>> [(m.metric, m.equal) for m in compare_metrics({"auc": 0.8}, {"auc": 0.8, "f1": 0.5})]
        [('auc', True), ('f1', False)]
    """
    rows = []
    for name in sorted(set(original) | set(replay)):
        a, b = original.get(name), replay.get(name)
        both = name in original and name in replay
        equal = both and (a == b or (_not_a_number(a) and _not_a_number(b)))
        difference = b - a if a is not None and b is not None else None
        rows.append(
            MetricComparison(metric=name, original=a, replay=b, equal=equal, difference=difference)
        )
    return rows


def _not_a_number(value: float | None) -> bool:
    return value is None or not math.isfinite(value)


def _literal(text: str) -> Any:
    """A value MLflow stored as ``str(value)`` (a list, a dict), read back."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text
