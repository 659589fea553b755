"""Runs made by plain nbclient (``jupyter nbconvert --execute``): the kernel is not told its
notebook, yet the run records it, its snapshot and how git holds it (committed, modified,
untracked, ignored), in a workspace that is a subfolder of a git checkout."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

from jupyter_mlops import Workspace
from jupyter_mlops.lineage.git import git_standing, is_clean
from jupyter_mlops.lineage.tags import (
    GIT_COMMIT_TAG,
    GIT_DIRTY_TAG,
    NOTEBOOK_GIT_TAG,
    NOTEBOOK_IGNORED_BY_TAG,
    NOTEBOOK_TAG,
)
from tests.helpers import outputs_text

pytestmark = pytest.mark.slow


@pytest.fixture
def workspace_dir(tmp_path: Path) -> Path:
    return tmp_path / "checkout" / "ws"


def git(folder: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args],
        cwd=folder,
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout.strip()


def write(path: Path, name: str, note: str = "") -> None:
    """A notebook whose ``%%mlops run`` cell is its own (the run named ``name``)."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nb.cells = [
        nbformat.v4.new_markdown_cell(f"# {name}{note}"),
        nbformat.v4.new_code_cell("%load_ext jupyter_mlops"),
        nbformat.v4.new_code_cell(f"%%mlops run --name {name} --no-autolog\nx = {name!r}"),
    ]
    nbformat.write(nb, path)


@pytest.fixture
def kernel(workspace: Workspace) -> Iterator[object]:
    """One kernel for every notebook of the test, started as nbclient starts one: in the
    notebooks' folder, and told nothing about which notebook it runs."""
    from jupyter_client.manager import AsyncKernelManager
    from jupyter_core.utils import run_sync

    folder = workspace.root / "notebooks"
    folder.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("JPY_SESSION_NAME", "MLOPS_JOB_RUN_ID")}
    km = AsyncKernelManager(kernel_name="python3")
    run_sync(km.start_kernel)(cwd=str(folder), env=env)
    yield km
    run_sync(km.shutdown_kernel)(now=True)


def execute(km: object, path: Path) -> str:
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, km=km, resources={"metadata": {"path": str(path.parent)}})
    try:
        client.execute()
    finally:
        if client.kc is not None:  # the kernel is the fixture's; its client is ours to close
            client.kc.stop_channels()
    return outputs_text(nb.cells[-1])


def test_nbclient_runs_record_their_notebook_snapshot_and_standing_in_git(
    workspace: Workspace, kernel: object
) -> None:
    checkout, folder = workspace.root.parent, workspace.root / "notebooks"
    git(checkout, "init", "-q")
    (checkout / ".gitignore").write_text(".mlops/\n*.pyc\nws/notebooks/scratch-*.ipynb\n")
    write(folder / "committed.ipynb", "committed")
    write(folder / "modified.ipynb", "modified")
    git(checkout, "add", ".gitignore", "ws/notebooks")
    git(checkout, "commit", "-q", "-m", "notebooks")
    head = git(checkout, "rev-parse", "HEAD")
    write(folder / "untracked.ipynb", "untracked")
    write(folder / "scratch-1.ipynb", "scratch")

    text = execute(kernel, folder / "committed.ipynb")
    assert "notebook path unknown" not in text, text
    write(folder / "modified.ipynb", "modified", note=" (edited)")
    for name in ("modified", "untracked", "scratch-1"):
        execute(kernel, folder / f"{name}.ipynb")

    runs = {r.run_name: r for r in workspace.tracking.list_runs(["Default"]).runs}
    assert sorted(runs) == ["committed", "modified", "scratch", "untracked"]
    client = workspace.tracking.client
    for run_name, notebook in [
        ("committed", "committed"),
        ("modified", "modified"),
        ("untracked", "untracked"),
        ("scratch", "scratch-1"),
    ]:
        tags = runs[run_name].tags
        assert tags[NOTEBOOK_TAG] == f"notebooks/{notebook}.ipynb", tags
        assert tags[GIT_COMMIT_TAG] == head
        # the notebook as it ran is kept with the run
        artifacts = {a.path for a in client.list_artifacts(runs[run_name].run_id, "notebook")}
        assert f"notebook/{notebook}.ipynb" in artifacts

    def standing(run_name: str) -> tuple[bool | None, str]:
        tags = runs[run_name].tags
        dirty = tags[GIT_DIRTY_TAG] == "true"
        in_git, rule = tags.get(NOTEBOOK_GIT_TAG), tags.get(NOTEBOOK_IGNORED_BY_TAG)
        return is_clean(dirty, in_git), git_standing(dirty, in_git, rule)

    assert runs["committed"].tags[NOTEBOOK_GIT_TAG] == "committed"
    assert standing("committed") == (True, "clean work tree")
    assert runs["modified"].tags[NOTEBOOK_GIT_TAG] == "modified"
    assert standing("modified") == (False, "dirty: notebook modified since the commit")
    # A work tree with one modified file: every later run is dirty, whatever its notebook.
    assert standing("untracked") == (
        False,
        "notebook not tracked by git (untracked), and other uncommitted changes",
    )
    assert runs["scratch"].tags[NOTEBOOK_IGNORED_BY_TAG] == ".gitignore:3"
    assert standing("scratch")[1].startswith(
        "notebook not tracked by git (ignored by .gitignore:3)"
    )
