"""jupyter-mlops: a notebook-first MLOps workbench inside JupyterLab.

Importing this package is cheap: ``Workspace`` loads on first use, MLflow, pandas and plotly
when first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jupyter_mlops._version import __version__
from jupyter_mlops.errors import MlopsError

if TYPE_CHECKING:
    from jupyter_mlops.workspace import Workspace

__all__ = ["MlopsError", "Workspace", "__version__", "load_ipython_extension"]


def __getattr__(name: str) -> Any:
    # Workspace loads on first use, so a process that imports one submodule (a model server
    # replica) does not load the workspace and the services it wires.
    if name == "Workspace":
        from jupyter_mlops.workspace import Workspace

        return Workspace
    raise AttributeError(f"module 'jupyter_mlops' has no attribute {name!r}")


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "jupyter-mlops"}]


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "jupyter_mlops"}]


def _load_jupyter_server_extension(server_app: Any) -> None:
    from jupyter_mlops.server import setup_handlers

    setup_handlers(server_app)


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext jupyter_mlops`` registers the ``%mlops`` magics."""
    from jupyter_mlops.commands.magic import load_ipython_extension as load

    load(ipython)
