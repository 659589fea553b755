"""A real Jupyter server with the extension enabled, rooted in the test's workspace."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def jp_server_config() -> dict[str, Any]:
    return {"ServerApp": {"jpserver_extensions": {"jupyter_mlops": True}}}


@pytest.fixture
def workspace_dir(jp_root_dir: Path) -> Path:
    """The server's root folder is the workspace."""
    return jp_root_dir
