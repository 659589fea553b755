"""The Voila dashboards shipped in the wheel, and where they go to be served.

A dashboard is a notebook of one cell that calls into a module of this package
(``monitoring.ipynb`` runs :func:`jupyter_mlops.dashboards.monitoring.show`); Voila runs it and
shows the outputs, never the code. Two ways to serve one:

- ``jupyter mlops dashboard NAME`` runs Voila on the packaged notebook itself, standalone, with
  the deployment's name in :data:`DEPLOYMENT_ENV` (:mod:`jupyter_mlops.dashboards.serve`);
- through a running Jupyter server, Voila's server extension renders notebooks under the
  server's root only: :func:`install` copies the packaged notebook into the workspace at
  :data:`WORKSPACE_NOTEBOOK`, and :func:`render_url` names it with ``?deployment=NAME``.

This module imports no widget library: the server and the commands read it.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath
from urllib.parse import quote

from jupyter_mlops.errors import InvalidInput

#: The packaged monitoring dashboard.
MONITORING_NOTEBOOK = Path(__file__).with_name("monitoring.ipynb")
#: Where :func:`install` puts it in a workspace, relative to the workspace folder.
WORKSPACE_NOTEBOOK = PurePosixPath("dashboards/monitoring.ipynb")
#: The deployment a standalone dashboard shows (a ``?deployment=`` query wins over it).
DEPLOYMENT_ENV = "MLOPS_DASHBOARD_DEPLOYMENT"
#: A file a pre-heated dashboard kernel creates once it waits for its request, ready to answer.
READY_FILE_ENV = "MLOPS_DASHBOARD_READY_FILE"


def install(
    workspace_root: Path,
    notebook: Path = MONITORING_NOTEBOOK,
    target_name: PurePosixPath = WORKSPACE_NOTEBOOK,
) -> Path:
    """Copy a packaged dashboard notebook (the monitoring one by default) into the workspace,
    unless an identical copy is there already; return the copy's path. An older copy (from an
    earlier version of the package) is replaced: the notebook is the package's, not the
    user's."""
    target = workspace_root / target_name
    content = notebook.read_bytes()
    try:
        if target.read_bytes() == content:
            return target
    except OSError:
        pass
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    partial.write_bytes(content)
    os.replace(partial, target)
    return target


def served_path(notebook: Path, server_root: Path) -> PurePosixPath:
    """The notebook's path as a Jupyter server rooted at ``server_root`` names it.

    Raises:
        InvalidInput: the notebook is outside the server's root, where Voila cannot render it.
    """
    try:
        relative = notebook.resolve().relative_to(server_root.resolve())
    except ValueError:
        raise InvalidInput(
            f"The workspace's dashboard {notebook} is outside the Jupyter server's root "
            f"{server_root}, so the server cannot render it",
            hint="Start JupyterLab in the workspace folder (or a folder above it), or run "
            "`jupyter mlops dashboard NAME` to serve the dashboard on its own.",
        ) from None
    return PurePosixPath(relative.as_posix())


def render_url(base_url: str, path: PurePosixPath, deployment: str) -> str:
    """The URL of Voila's server extension rendering ``path`` for ``deployment``, e.g.
    ``/voila/render/dashboards/monitoring.ipynb?deployment=churn``."""
    base = base_url if base_url.endswith("/") else base_url + "/"
    return f"{base}voila/render/{quote(str(path))}?deployment={quote(deployment, safe='')}"
