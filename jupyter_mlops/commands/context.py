"""Where a command runs: the context every handler of the command tree receives."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
