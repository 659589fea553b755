"""Paths a user passes in stay inside the workspace."""

from __future__ import annotations

import os
from pathlib import Path

from jupyter_mlops.errors import InvalidInput


def inside(root: Path, path: str | os.PathLike[str], *, must_exist: bool = True) -> Path:
    """Resolve a user-given path against ``root`` and refuse one that leaves it.

    Raises:
        InvalidInput: the path escapes ``root`` (``..``, an absolute path elsewhere, a symlink
            pointing out) or does not exist when ``must_exist``.

    Example:
        >>> inside(Path("/work/churn"), "data/activity.parquet", must_exist=False)
        PosixPath('/work/churn/data/activity.parquet')
    """
    root = root.resolve()
    candidate = Path(path).expanduser()
    full = (candidate if candidate.is_absolute() else root / candidate).resolve()
    if full != root and root not in full.parents:
        raise InvalidInput(
            f"Path '{path}' is outside the workspace {root}.",
            hint="Use a path inside the workspace folder.",
            field="path",
        )
    if must_exist and not full.exists():
        raise InvalidInput(f"Path '{path}' does not exist in the workspace.", field="path")
    return full
