"""Every name under which lineage is stored: MLflow run and version tags, run artifacts.

A run records where it came from as run tags; a registered version copies the ones that matter
for its lineage into version tags (see :data:`VERSION_TAGS_FROM_RUN`). Nothing else in the package
spells these strings: read and write them through the names below.
"""

from __future__ import annotations

# -- run tags -----------------------------------------------------------------------------------

#: How the run was made: ``notebook-cell``, ``demo``, ...
ORIGIN_TAG = "mlops.origin"
#: The notebook the run came from, relative to the workspace.
NOTEBOOK_TAG = "mlops.notebook"
#: The features a run's training frames read: a :class:`~jupyter_mlops.lineage.FeaturesUsed`.
FEATURES_TAG = "mlops.features"
#: Comma-separated sha256 fingerprints of the entity frames the training frames were built from.
ENTITY_FINGERPRINT_TAG = "mlops.features.entity_fingerprint"
#: Set once the run's first training frame left its reference profile.
PROFILED_TAG = "mlops.features.profiled"
#: ``true`` or ``false``: whether the git work tree had uncommitted changes.
GIT_DIRTY_TAG = "mlops.git.dirty"
#: The run's notebook as git saw it: ``committed``, ``modified``, ``untracked`` or ``ignored``
#: (a :data:`~jupyter_mlops.lineage.git.NotebookInGit`); the commit alone does not hold a
#: notebook that is not committed.
NOTEBOOK_GIT_TAG = "mlops.git.notebook"
#: For an ignored notebook: the ignore rule's file and line, e.g. ``.gitignore:3``.
NOTEBOOK_IGNORED_BY_TAG = "mlops.git.notebook.ignored_by"
#: Python version of the run, and ``mlops.package.<name>`` for key package versions.
PYTHON_TAG = "mlops.python"
PACKAGE_TAG_PREFIX = "mlops.package."
# MLflow's own source tags, which its UI shows.
SOURCE_NAME_TAG = "mlflow.source.name"
SOURCE_TYPE_TAG = "mlflow.source.type"
GIT_COMMIT_TAG = "mlflow.source.git.commit"
GIT_BRANCH_TAG = "mlflow.source.git.branch"
GIT_REPO_TAG = "mlflow.source.git.repoURL"

# -- model version tags -------------------------------------------------------------------------

#: The run that logged the version's model.
RUN_TAG = "mlops.run_id"
#: The entity fingerprint(s) of the training data, copied from the run.
FINGERPRINT_TAG = "mlops.training_fingerprint"
#: The commit the run was made at, copied from the run.
COMMIT_TAG = "mlops.git.commit"

# -- continuous training: pipelines and replays ------------------------------------------------

#: On the run a pipeline's job made (and copied to the version it registers): the pipeline's
#: name, the pipeline run's id, and the event that started it (JSON: kind, id, time, summary).
PIPELINE_TAG = "mlops.pipeline"
PIPELINE_RUN_TAG = "mlops.pipeline.run"
TRIGGER_TAG = "mlops.pipeline.trigger"
#: On a replay's run: the run it re-ran, and the model version it replays (``churn:3``).
REPLAY_OF_TAG = "mlops.replay.of_run"
REPLAY_VERSION_TAG = "mlops.replay.of_version"
#: Environment of a replay job's kernel: the feature versions to read (JSON ``{view: version}``)
#: and the moment the data is read as of (ISO 8601): training frames built meanwhile obey them.
FEATURES_PIN_ENV = "MLOPS_FEATURES_PIN"
FEATURES_AS_OF_ENV = "MLOPS_FEATURES_AS_OF"


# -- run artifacts ------------------------------------------------------------------------------

#: The reference profile the run's first training frame left.
PROFILE_ARTIFACT = "mlops/training_profile.json"
#: The full features-used payload when it is too long for a tag.
FEATURES_ARTIFACT = "mlops/features.json"
#: The folder of the notebook snapshot a run keeps.
NOTEBOOK_ARTIFACT_DIR = "notebook"

#: On a run made by a job: the job's id, the sweep it belongs to, and the executed notebook.
JOB_TAG = "mlops.job"
SWEEP_TAG = "mlops.sweep"
JOB_OUTPUT_ARTIFACT = "job/output.ipynb"
#: Environment variables a job's kernel gets (set by the job's first, injected cell).
JOB_RUN_ENV = "MLOPS_JOB_RUN_ID"
JOB_ID_ENV = "MLOPS_JOB_ID"
#: On the run of a job attempt whose worker died (the run is marked KILLED).
JOB_INTERRUPTED_TAG = "mlops.job.interrupted"

# -- what gate checks leave on a run ---------------------------------------------------------------

#: ``true``/``false``: whether every check of the last ``%%mlops gate`` cell passed.
GATES_PASSED_TAG = "mlops.gates.passed"
#: The checks of the last ``%%mlops gate`` cell, as JSON.
GATES_ARTIFACT = "mlops/gates.json"
#: The same, for ``jupyter mlops ci`` (a notebook may have its own gate cell too).
CI_PASSED_TAG = "mlops.ci.passed"
CI_ARTIFACT = "mlops/ci.json"

# -- copied from a run to the version registered from it ---------------------------------------

#: Run tag -> version tag, copied at registration.
VERSION_TAGS_FROM_RUN: tuple[tuple[str, str], ...] = (
    (FEATURES_TAG, FEATURES_TAG),
    (ENTITY_FINGERPRINT_TAG, FINGERPRINT_TAG),
    (NOTEBOOK_TAG, NOTEBOOK_TAG),
    (GIT_COMMIT_TAG, COMMIT_TAG),
    (PIPELINE_TAG, PIPELINE_TAG),
    (PIPELINE_RUN_TAG, PIPELINE_RUN_TAG),
    (TRIGGER_TAG, TRIGGER_TAG),
    (JOB_TAG, JOB_TAG),
)

# -- what a ``%%mlops run`` cell declared ----------------------------------------------------------

#: Comma-separated names the cell's ``--params`` and ``--metrics`` named: the runs table shows
#: these columns first.
DECLARED_PARAMS_TAG = "mlops.declared.params"
DECLARED_METRICS_TAG = "mlops.declared.metrics"
