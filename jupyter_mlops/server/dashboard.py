"""Handler of a deployment's monitoring dashboard link, opened through Voila's server extension."""

from __future__ import annotations

from pathlib import Path

from jupyter_mlops.dashboards import install, render_url, served_path
from jupyter_mlops.errors import BackendUnavailable
from jupyter_mlops.monitoring.dashboard_link import DashboardLink
from jupyter_mlops.server.base import MlopsHandler, Operation, api, in_thread

TAGS = ["monitoring"]


class DashboardHandler(MlopsHandler):
    """``.../monitoring/deployments/{name}/dashboard``: the dashboard's URL on this server.

    Voila renders only notebooks under the server's root, so the packaged notebook is copied
    into the workspace (``dashboards/monitoring.ipynb``, refreshed when the package changes).
    """

    openapi_path = "/monitoring/deployments/{name}/dashboard"
    operations = {
        "get": Operation(
            "Install the monitoring dashboard in the workspace; its Voila URL",
            DashboardLink,
            errors=(400, 404, 503),
            tags=TAGS,
        )
    }

    @api
    async def get(self, name: str) -> None:
        if "voila_jinja2_env" not in self.settings:
            raise BackendUnavailable(
                "Voila's server extension is not enabled on this Jupyter server",
                hint="Run `jupyter server extension enable voila` and restart JupyterLab, or "
                f"serve the dashboard on its own with `jupyter mlops dashboard {name}`.",
            )
        ws = self.workspace
        info = await in_thread(ws.deployments.get, name)  # 404 naming it, with close names
        root = Path(self.settings["server_root_dir"]).expanduser()
        notebook = await in_thread(install, ws.root)
        path = served_path(notebook, root)
        self.send(DashboardLink(url=render_url(self.base_url, path, info.name), path=str(path)))


class AbReportHandler(MlopsHandler):
    """``.../deployments/{name}/abtest/report``: the A/B test report's URL on this server.

    As the monitoring dashboard: the packaged report is copied into the workspace
    (``dashboards/abtest.ipynb``) for Voila's server extension to render.
    """

    openapi_path = "/deployments/{name}/abtest/report"
    operations = {
        "get": Operation(
            "Install the A/B test report in the workspace; its Voila URL",
            DashboardLink,
            errors=(400, 404, 503),
            tags=["abtests"],
        )
    }

    @api
    async def get(self, name: str) -> None:
        from jupyter_mlops.dashboards.abtest import install_report

        if "voila_jinja2_env" not in self.settings:
            raise BackendUnavailable(
                "Voila's server extension is not enabled on this Jupyter server",
                hint="Run `jupyter server extension enable voila` and restart JupyterLab, or "
                f"serve the report on its own with `jupyter mlops dashboard {name} --ab`.",
            )
        ws = self.workspace
        exp = await in_thread(ws.abtests.current, name)  # 404: no such deployment, or no test
        root = Path(self.settings["server_root_dir"]).expanduser()
        notebook = await in_thread(install_report, ws.root)
        path = served_path(notebook, root)
        self.send(
            DashboardLink(url=render_url(self.base_url, path, exp.deployment), path=str(path))
        )


HANDLERS: list[type[MlopsHandler]] = [DashboardHandler, AbReportHandler]
