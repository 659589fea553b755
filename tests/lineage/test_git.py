"""The words every lineage view uses for how a run's code stood in git."""

from __future__ import annotations

import pytest

from jupyter_mlops.lineage.git import git_standing, is_clean, notebook_in_git


@pytest.mark.parametrize(
    ("dirty", "in_git", "rule", "clean", "words"),
    [
        (False, "committed", None, True, "clean work tree"),
        (False, None, None, True, "clean work tree"),  # no notebook: a script's run
        (True, "committed", None, False, "dirty: uncommitted changes"),
        (True, "modified", None, False, "dirty: notebook modified since the commit"),
        # A clean work tree does not hold a notebook git ignores or never added.
        (
            False,
            "ignored",
            ".gitignore:3",
            False,
            "notebook not tracked by git (ignored by .gitignore:3)",
        ),
        (False, "untracked", None, False, "notebook not tracked by git (untracked)"),
        (
            True,
            "untracked",
            None,
            False,
            "notebook not tracked by git (untracked), and other uncommitted changes",
        ),
        (None, None, None, None, ""),  # not in a git repository
    ],
)
def test_a_run_is_clean_only_when_its_commit_holds_its_notebook(
    dirty: bool | None, in_git: str | None, rule: str | None, clean: bool | None, words: str
) -> None:
    assert is_clean(dirty, in_git) is clean
    assert git_standing(dirty, in_git, rule) == words


def test_an_unknown_recorded_state_is_not_trusted() -> None:
    assert notebook_in_git("ignored") == "ignored"
    assert notebook_in_git("clean") is None and notebook_in_git(None) is None
