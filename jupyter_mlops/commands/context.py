"""Where a command runs: the context every handler of the command tree receives."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jupyter_mlops.errors import InvalidInput
from jupyter_mlops.workspace import Workspace


@dataclass
class Context:
    """Where a command runs: in a notebook (rich output) or a terminal."""

    rich: bool = False
    cwd: Path | None = None
    # The notebook's namespace: ``--data df`` names a variable there.
    user_ns: dict[str, Any] | None = None

    def workspace(self, args: argparse.Namespace) -> Workspace:
        if getattr(args, "workspace", None):
            return Workspace.open(args.workspace)
        return Workspace.find(self.cwd)


def load_data(source: str, ctx: Context, resolve: Callable[..., Any]) -> Any:
    """``--data``: a variable of the notebook, inline JSON, or a .parquet/.csv/.json file in the
    workspace (``resolve`` keeps the path inside it)."""
    import pandas as pd

    namespace = ctx.user_ns or {}
    if source in namespace:
        return namespace[source]
    if source.lstrip().startswith(("[", "{")):
        import json

        try:
            return json.loads(source)
        except ValueError as exc:
            raise InvalidInput(f"--data is not valid JSON: {exc}", field="data") from None
    path = resolve(source)
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    if path.suffix == ".csv":
        return pd.read_csv(path)
    if path.suffix == ".json":
        return pd.read_json(path)
    raise InvalidInput(
        f"--data {source!r} is neither a variable of the notebook nor a .parquet, .csv or .json "
        "file",
        field="data",
    )
