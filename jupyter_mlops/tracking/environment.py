"""What a run records about where it ran: notebook, git commit, Python and package versions."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

from jupyter_mlops.lineage.tags import (
    GIT_BRANCH_TAG,
    GIT_COMMIT_TAG,
    GIT_DIRTY_TAG,
    GIT_REPO_TAG,
    PACKAGE_TAG_PREFIX,
    PYTHON_TAG,
)

# Packages whose versions decide whether a model can be reproduced.
KEY_PACKAGES = ("jupyter-mlops", "mlflow", "scikit-learn", "pandas", "numpy", "scipy", "pyarrow")


def package_versions() -> dict[str, str]:
    """Versions of the key packages that are installed."""
    found = {}
    for name in KEY_PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def environment_tags() -> dict[str, str]:
    """Tags naming the Python and the key package versions."""
    tags = {PYTHON_TAG: platform.python_version()}
    tags.update({f"{PACKAGE_TAG_PREFIX}{name}": v for name, v in package_versions().items()})
    return tags


def git_state(folder: Path) -> dict[str, str]:
    """Commit, branch and dirty flag of the git repository holding ``folder``, if any.

    Returns MLflow's own tag names where MLflow has one, so the MLflow UI shows them.
    """

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", *args],
                cwd=folder,
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if not commit:
        return {}
    tags = {GIT_COMMIT_TAG: commit}
    branch = git("rev-parse", "--abbrev-ref", "HEAD")
    if branch:
        tags[GIT_BRANCH_TAG] = branch
    status = git("status", "--porcelain", "--untracked-files=no")
    tags[GIT_DIRTY_TAG] = "true" if status else "false"
    remote = git("config", "--get", "remote.origin.url")
    if remote:
        tags[GIT_REPO_TAG] = remote
    return tags


def notebook_path(explicit: str | None = None) -> Path | None:
    """The notebook this kernel runs, if known.

    Jupyter Server tells the kernel through ``JPY_SESSION_NAME``; papermill jobs and tests can pass
    the path explicitly.
    """
    raw = explicit or os.environ.get("JPY_SESSION_NAME")
    if not raw:
        return None
    path = Path(raw).expanduser()
    if not path.is_absolute():
        path = Path.cwd() / path
    return path if path.suffix == ".ipynb" else None
