"""How a run's code stood in git, in the words every lineage view uses.

A commit reproduces a run only when the notebook that ran is in it, unchanged. A work tree with
no uncommitted changes to tracked files is not enough: a notebook that git ignores (or was never
added) is in no commit at all, so such a run is never "clean".
"""

from __future__ import annotations

from typing import Literal, cast, get_args

#: The run's notebook as git saw it when the run started.
NotebookInGit = Literal["committed", "modified", "untracked", "ignored"]
NOTEBOOK_IN_GIT: tuple[str, ...] = get_args(NotebookInGit)


def notebook_in_git(value: str | None) -> NotebookInGit | None:
    """A recorded tag value as a :data:`NotebookInGit`; None for anything else."""
    return cast("NotebookInGit", value) if value in NOTEBOOK_IN_GIT else None


def is_clean(dirty: bool | None, notebook_git: str | None) -> bool | None:
    """Whether the commit holds the run's code: no uncommitted change, and the notebook (when
    one is recorded) committed as it ran. None when the run recorded no git state."""
    if dirty is None:
        return None
    return not dirty and notebook_git in (None, "committed")


def git_standing(
    dirty: bool | None, notebook_git: str | None = None, ignored_by: str | None = None
) -> str:
    """One phrase for how the run's code stood against its commit; empty when not recorded.

    Example:
        >>> git_standing(False, "ignored", ".gitignore:3")
        'notebook not tracked by git (ignored by .gitignore:3)'
    """
    if notebook_git in ("ignored", "untracked"):
        why = f"ignored by {ignored_by}" if ignored_by else notebook_git
        phrase = f"notebook not tracked by git ({why})"
        return phrase + (", and other uncommitted changes" if dirty else "")
    if notebook_git == "modified":
        return "dirty: notebook modified since the commit"
    if dirty:
        return "dirty: uncommitted changes"
    if dirty is False:
        return "clean work tree"
    return ""
