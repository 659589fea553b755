"""The Jupyter server extension: REST resources under ``/mlops/api``."""

from __future__ import annotations

import threading
from typing import Any

from jupyter_mlops.errors import MlopsError
from jupyter_mlops.server.base import WorkspaceRef
from jupyter_mlops.server.routes import ROUTES


def setup_handlers(server_app: Any) -> None:
    """Register every handler under the server's base URL."""
    from jupyter_server.utils import url_path_join

    web_app = server_app.web_app
    base = web_app.settings["base_url"]
    ref = WorkspaceRef(server_app.root_dir)
    web_app.settings["mlops_workspace"] = ref
    handlers = [(url_path_join(base, "mlops/api", r.pattern), r.handler) for r in ROUTES]
    web_app.add_handlers(".*$", handlers)
    server_app.log.info("jupyter-mlops: REST API at %smlops/api", base)
    # Importing MLflow and opening the store takes seconds; do it now, off the event loop, so the
    # first click in the MLOps panel does not pay for it.
    threading.Thread(target=_warm_up, args=(ref, server_app.log), daemon=True).start()


def _warm_up(ref: WorkspaceRef, log: Any) -> None:
    try:
        ws = ref.get()
        ws.tracking.list_experiments()
        # Deployments keep being monitored across restarts of the machine or of Jupyter.
        # So do the triggers of enabled pipelines, and runs that were going, whose scheduler is
        # the same process.
        if (
            any(d.state in ("running", "degraded") for d in ws.deployments.list())
            or ws.pipelines.watching()
        ):
            ws.monitoring.ensure_scheduler()
        # Jobs queued before a reboot run again, and those whose worker died are requeued.
        ws.jobs.resume()
    except MlopsError as exc:
        # No workspace yet, or its store is down: the panel will say so when asked.
        log.info("jupyter-mlops: not warmed up: %s", exc.message)
    except Exception:  # a warm-up is best effort; the real request reports real errors
        log.warning("jupyter-mlops: warm-up failed", exc_info=True)
