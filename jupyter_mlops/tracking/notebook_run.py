"""A run that records the notebook it came from: what ``%%mlops run`` does, minus IPython."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_mlops.lineage.tags import (
    JOB_RUN_ENV,
    NOTEBOOK_ARTIFACT_DIR,
    NOTEBOOK_TAG,
    ORIGIN_TAG,
    SOURCE_NAME_TAG,
    SOURCE_TYPE_TAG,
)
from jupyter_mlops.tracking.environment import (
    environment_tags,
    find_notebook,
    git_state,
    notebook_path,
)

if TYPE_CHECKING:
    from jupyter_mlops.tracking.recorder import RunRecorder
    from jupyter_mlops.tracking.service import TrackingService


class NotebookRun:
    """Starts a tracked run for a notebook cell and closes it with a snapshot of the notebook.

    Everything MLflow's fluent API logs while the run is open (``mlflow.log_metric``, autolog)
    lands in the same run, because the run is made MLflow's active run.
    """

    def __init__(
        self,
        tracking: TrackingService,
        root: Path,
        *,
        experiment: str | None = None,
        run_name: str | None = None,
        notebook: str | None = None,
        cell_source: str = "",
        autolog: bool | None = None,
    ) -> None:
        self.tracking = tracking
        self.root = root
        self.experiment = experiment
        self.run_name = run_name
        self.notebook = notebook_path(notebook)
        #: The executed copy of the notebook being written as it runs (papermill's output).
        self.executed: Path | None = None
        if self.notebook is None:
            # Not told (nbclient, nbconvert --execute, papermill): the notebook holding this
            # cell in the kernel's folder, where nbclient starts it.
            found = find_notebook(Path.cwd(), cell_source)
            if found is not None:
                self.notebook, self.executed = found.path, found.executed
        self.cell_source = cell_source
        cfg = tracking.run_config
        self.autolog = cfg.autolog if autolog is None else autolog
        self.recorder: RunRecorder | None = None
        self._autologging = False

    def start(self) -> RunRecorder:
        """Create the run, tag it with its origin, and make it MLflow's active run."""
        import mlflow

        job_run = os.environ.get(JOB_RUN_ENV)
        if job_run:
            # The notebook runs as a job: the job owns a run, and the cell logs into it.
            rec = self.tracking.resume_run(job_run)
        else:
            rec = self.tracking.start_run(self.experiment, self.run_name)
        self.recorder = rec
        tags: dict[str, str] = dict(environment_tags())
        if not job_run:
            tags[ORIGIN_TAG] = "notebook-cell"
        tags.update(source_tags(self.root, self.notebook, git=self.tracking.run_config.record_git))
        rec.set_tags(tags)
        rec.flush()
        mlflow.set_tracking_uri(self.tracking.backend.tracking_uri)
        mlflow.set_registry_uri(self.tracking.backend.registry_uri)
        mlflow.start_run(run_id=rec.run_id)
        if self.autolog and ("sklearn" in sys.modules or "sklearn" in self.cell_source):
            import mlflow.sklearn

            mlflow.sklearn.autolog(log_input_examples=False, silent=True)
            self._autologging = True
        return rec

    def finish(self, *, failed: bool, values: dict[str, Any] | None = None) -> RunRecorder:
        """Log named values, the cell and the notebook snapshot, and end the run."""
        import mlflow

        rec = self.recorder
        if rec is None:
            raise RuntimeError("finish() before start()")
        try:
            if self._autologging:
                import mlflow.sklearn

                mlflow.sklearn.autolog(disable=True)
            rec.flush()
            if self.cell_source:
                rec.log_text(self.cell_source, f"{NOTEBOOK_ARTIFACT_DIR}/cell.py")
            if self.tracking.run_config.snapshot_notebook and self.notebook is not None:
                log_notebook(rec, self.notebook, self.executed)
        finally:
            status = "FAILED" if failed else "FINISHED"
            active = mlflow.active_run()
            if active is not None and active.info.run_id == rec.run_id:
                mlflow.end_run(status=status)
                rec.finished = True
            rec.finish(status)
        return rec


def source_tags(root: Path, notebook: Path | None, *, git: bool = True) -> dict[str, str]:
    """The tags naming a run's notebook and the git state of its code.

    The repository is the one holding the notebook (from its folder upwards), else the one
    holding the workspace; the notebook's own state in git (committed, modified, untracked,
    ignored) is recorded too, since a commit without the notebook does not reproduce the run.
    """
    tags: dict[str, str] = {}
    if notebook is not None:
        tags[SOURCE_NAME_TAG] = str(notebook)
        tags[SOURCE_TYPE_TAG] = "NOTEBOOK"
        tags[NOTEBOOK_TAG] = relative_notebook(notebook, root)
    if git:
        folder = notebook.parent if notebook is not None and notebook.parent.is_dir() else root
        tags.update(git_state(folder, notebook))
    return tags


def log_notebook(rec: RunRecorder, notebook: Path, executed: Path | None = None) -> None:
    """Keep the notebook with the run as ``notebook/<its name>``: the executed copy when one is
    being written (papermill's output, with the outputs of the cells run so far), else the file
    as it was saved when the run ended."""
    source = executed if executed is not None and executed.is_file() else notebook
    if not source.is_file():
        return
    if source.name == notebook.name:
        rec.log_artifact(source, NOTEBOOK_ARTIFACT_DIR)
        return
    # Under the notebook's own name, which the lineage names as the run's snapshot.
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / notebook.name
        shutil.copyfile(source, copy)
        rec.log_artifact(copy, NOTEBOOK_ARTIFACT_DIR)


def split_named_values(
    namespace: dict[str, Any], params: list[str], metrics: list[str]
) -> tuple[dict[str, Any], dict[str, float], list[str]]:
    """Pick the variables a user named from the cell's namespace.

    Returns the parameters, the metrics, and the names that were missing or not numbers.
    """
    found_params: dict[str, Any] = {}
    found_metrics: dict[str, float] = {}
    problems = []
    for name in params:
        if name in namespace:
            found_params[name] = namespace[name]
        else:
            problems.append(f"parameter '{name}' is not defined")
    for name in metrics:
        if name not in namespace:
            problems.append(f"metric '{name}' is not defined")
            continue
        try:
            found_metrics[name] = float(namespace[name])
        except (TypeError, ValueError):
            problems.append(f"metric '{name}' is not a number ({type(namespace[name]).__name__})")
    return found_params, found_metrics, problems


def relative_notebook(path: Path, root: Path) -> str:
    """The notebook path relative to the workspace, or absolute when it lies outside."""
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)
