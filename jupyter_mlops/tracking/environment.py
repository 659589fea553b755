"""What a run records about where it ran: notebook, git commit, Python and package versions."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from jupyter_mlops.lineage.tags import (
    GIT_BRANCH_TAG,
    GIT_COMMIT_TAG,
    GIT_DIRTY_TAG,
    GIT_REPO_TAG,
    NOTEBOOK_GIT_TAG,
    NOTEBOOK_IGNORED_BY_TAG,
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


def git_state(folder: Path, notebook: Path | None = None) -> dict[str, str]:
    """Commit, branch and dirty flag of the git repository holding ``folder``, if any, and how
    git sees ``notebook``: committed, modified, untracked or ignored (with the rule that ignores
    it).

    The repository is looked for from ``folder`` upwards, as git does: a workspace may be a
    subfolder of a checkout. Returns MLflow's own tag names where MLflow has one, so the MLflow UI
    shows them.
    """
    top = _git(folder, "rev-parse", "--show-toplevel")
    if not top:
        return {}
    root = Path(top)
    commit = _git(root, "rev-parse", "HEAD")
    if not commit:
        return {}  # a repository without a commit yet
    tags = {GIT_COMMIT_TAG: commit}
    branch = _git(root, "rev-parse", "--abbrev-ref", "HEAD")
    if branch:
        tags[GIT_BRANCH_TAG] = branch
    status = _git(root, "status", "--porcelain", "--untracked-files=no")
    tags[GIT_DIRTY_TAG] = "true" if status else "false"
    remote = _git(root, "config", "--get", "remote.origin.url")
    if remote:
        tags[GIT_REPO_TAG] = remote
    if notebook is not None and notebook.is_file():
        tags.update(_notebook_in_git(root, notebook))
    return tags


def _notebook_in_git(root: Path, notebook: Path) -> dict[str, str]:
    # One path, so untracked files are listed one by one (-uall) and ignored ones too.
    line = _git(root, "status", "--porcelain", "-uall", "--ignored=matching", "--", str(notebook))
    if line is None:
        return {}
    code = line[:2]
    if code == "!!":
        tags = {NOTEBOOK_GIT_TAG: "ignored"}
        # "sub/.gitignore:3:*.ipynb<TAB>path": the rule's file (from the top) and its line.
        rule = _git(root, "check-ignore", "--verbose", "--", str(notebook))
        parts = (rule or "").split("\t", 1)[0].split(":", 2)
        if len(parts) == 3:
            tags[NOTEBOOK_IGNORED_BY_TAG] = f"{parts[0]}:{parts[1]}"
        return tags
    if code == "??":
        return {NOTEBOOK_GIT_TAG: "untracked"}
    return {NOTEBOOK_GIT_TAG: "modified" if line else "committed"}


def _git(folder: Path, *args: str) -> str | None:
    """``git ARGS`` in ``folder``: its output, or None when git fails or is not installed."""
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


@dataclass(frozen=True)
class FoundNotebook:
    """The notebook a kernel runs, and the executed copy being written, when there is one."""

    path: Path
    executed: Path | None = None


def notebook_path(explicit: str | None = None) -> Path | None:
    """The notebook this kernel runs, if its path was given.

    Jupyter Server (>= 2) tells a kernel it starts for a notebook through ``JPY_SESSION_NAME``:
    an absolute path, or a path relative to the server's root, which is a parent of the kernel's
    working directory. Jobs set it too; a user may pass the path explicitly.
    """
    raw = explicit or os.environ.get("JPY_SESSION_NAME")
    if not raw:
        return None
    path = Path(raw).expanduser()
    if path.suffix != ".ipynb":
        return None
    if path.is_absolute():
        return path
    cwd = Path.cwd()
    for base in (cwd, *cwd.parents):
        if (base / path).is_file():
            return base / path
    return cwd / path


def find_notebook(folder: Path, cell_source: str) -> FoundNotebook | None:
    """The notebook in ``folder`` holding the ``%%mlops`` cell whose body is ``cell_source``.

    A kernel started by nbclient (``jupyter nbconvert --execute``, ``NotebookClient``) or by
    papermill is not told its notebook: nbclient only starts it in the notebook's folder. The
    cell being run is in exactly one notebook there, usually. A papermill output notebook holds
    it too: it names its input (``metadata.papermill.input_path``), and is the executed copy,
    saved by papermill as each cell starts and ends. Returns None when no notebook, or more than
    one unrelated notebook, holds the cell.
    """
    body = cell_source.strip()
    if not body:
        return None
    try:
        candidates = sorted(p for p in folder.glob("*.ipynb") if p.is_file())
    except OSError:
        return None
    plain: list[Path] = []
    for candidate in candidates:
        nb = _read_notebook(candidate)
        if nb is None or not _holds_cell(nb, body):
            continue
        papermill = nb.get("metadata", {}).get("papermill") or {}
        source = papermill.get("input_path") if isinstance(papermill, dict) else None
        if isinstance(source, str) and source.endswith(".ipynb") and "://" not in source:
            path = Path(source).expanduser()
            path = path if path.is_absolute() else folder / path
            # Relative to papermill's own folder, which is usually its kernel's: else unknown.
            if path.is_file():
                return FoundNotebook(path.resolve(), executed=candidate)
        plain.append(candidate)
    return FoundNotebook(plain[0]) if len(plain) == 1 else None


#: Notebooks larger than this are not read to find a cell (a kernel must not stall on them).
_MAX_NOTEBOOK_BYTES = 50 * 1024 * 1024


def _read_notebook(path: Path) -> dict[str, Any] | None:
    try:
        if path.stat().st_size > _MAX_NOTEBOOK_BYTES:
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _holds_cell(nb: dict[str, Any], body: str) -> bool:
    for cell in nb.get("cells", []):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        text = "".join(source) if isinstance(source, list) else str(source)
        first, _, rest = text.lstrip().partition("\n")
        if first.startswith("%%mlops") and rest.strip() == body:
            return True
    return False
