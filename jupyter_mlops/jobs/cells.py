"""Which cells of an executed job notebook are the user's.

A job's notebook gets cells the user did not write: our setup cell (working directory, the
job's run), papermill's injected parameters and, on failure, papermill's error banner. Cell
numbers in errors and progress count the user's cells only.
"""

from __future__ import annotations

from typing import Any

SETUP_TAG = "injected-by-jupyter-mlops"
INJECTED_TAGS = frozenset({SETUP_TAG, "injected-parameters", "papermill-error-cell-tag"})


def is_users(cell: Any) -> bool:
    """Whether a notebook cell is one the user wrote."""
    return not INJECTED_TAGS & set(cell.get("metadata", {}).get("tags", []))
