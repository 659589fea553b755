"""Where a deployment's monitoring dashboard opens through the running Jupyter server."""

from __future__ import annotations

from pydantic import BaseModel, Field


class DashboardLink(BaseModel):
    """The dashboard's URL on the Jupyter server (Voila's server extension), and the notebook
    it renders."""

    url: str = Field(
        description="absolute path on the server, with the deployment in the query, e.g. "
        "/voila/render/dashboards/monitoring.ipynb?deployment=churn"
    )
    path: str = Field(
        description="the dashboard notebook, relative to the server's root, e.g. "
        "dashboards/monitoring.ipynb"
    )
