"""The Jupyter server extension: REST resources under ``/mlops/api``."""

from __future__ import annotations

from typing import Any

from jupyter_mlops.server.base import WorkspaceRef
from jupyter_mlops.server.routes import ROUTES


def setup_handlers(server_app: Any) -> None:
    """Register every handler under the server's base URL."""
    from jupyter_server.utils import url_path_join

    web_app = server_app.web_app
    base = web_app.settings["base_url"]
    web_app.settings["mlops_workspace"] = WorkspaceRef(server_app.root_dir)
    handlers = [(url_path_join(base, "mlops/api", r.pattern), r.handler) for r in ROUTES]
    web_app.add_handlers(".*$", handlers)
    server_app.log.info("jupyter-mlops: REST API at %smlops/api", base)
