"""Open the online store that ``mlops.toml`` names.

``online_store`` takes ``"sqlite"`` (the default: ``<workspace>/.mlops/online.db``) or a Redis URL
(``redis://host:6379/0``, ``rediss://`` for TLS, ``unix:///path/redis.sock``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from jupyter_mlops.errors import BackendUnavailable, InvalidInput
from jupyter_mlops.features.online.base import OnlineStore

DEFAULT_BACKEND = "sqlite"
SQLITE_FILE = "online.db"
CONFIG_KEY = "online_store"
NAMESPACE_KEY = "online_namespace"


def _open_sqlite(setting: str, state_dir: Path, options: Mapping[str, Any]) -> OnlineStore:
    from jupyter_mlops.features.online.sqlite import SqliteOnlineStore

    return SqliteOnlineStore(state_dir / SQLITE_FILE)


def _open_redis(setting: str, state_dir: Path, options: Mapping[str, Any]) -> OnlineStore:
    try:
        from jupyter_mlops.features.online.redis import RedisOnlineStore
    except ImportError as exc:
        raise BackendUnavailable(
            f"The Redis online store needs the 'redis' package ({exc}).",
            hint="pip install 'jupyter-mlops[redis]'",
        ) from exc
    namespace = options.get(NAMESPACE_KEY) or "mlops"
    return RedisOnlineStore(setting, namespace=str(namespace))


#: What an ``online_store`` setting may start with, and how each opens.
BACKENDS: dict[str, Callable[[str, Path, Mapping[str, Any]], OnlineStore]] = {
    "sqlite": _open_sqlite,
    "redis://": _open_redis,
    "rediss://": _open_redis,
    "unix://": _open_redis,
}


def open_online_store(
    config: str | Mapping[str, Any] | None, state_dir: str | os.PathLike[str]
) -> OnlineStore:
    """Open the online store a setting names.

    Args:
        config: the ``online_store`` setting (``"sqlite"``, ``"redis://127.0.0.1:6379/0"``), a
            mapping holding it under ``"online_store"`` (a config section, which may also hold
            ``"online_namespace"``, the Redis key prefix, default ``"mlops"``), or ``None`` /
            ``""`` for the default, SQLite.
        state_dir: the workspace's ``.mlops`` folder, where the SQLite file lives.

    Raises:
        InvalidInput: the setting names no known backend (the message lists the valid ones).
        BackendUnavailable: the backend cannot be reached or its client is not installed.

    Example:
        >>> store = open_online_store("redis://127.0.0.1:6379/0", ws.state_dir)  # doctest: +SKIP
    """
    options: Mapping[str, Any] = config if isinstance(config, Mapping) else {}
    setting = options.get(CONFIG_KEY) if isinstance(config, Mapping) else config
    if setting is None or (isinstance(setting, str) and not setting.strip()):
        setting = DEFAULT_BACKEND
    if not isinstance(setting, str):
        raise InvalidInput(
            f"online_store must be a string, not {type(setting).__name__}.", field=CONFIG_KEY
        )
    setting = setting.strip()
    for prefix, opener in BACKENDS.items():
        if setting == prefix or (prefix.endswith("://") and setting.startswith(prefix)):
            return opener(setting, Path(state_dir), options)
    raise InvalidInput(
        f"Unknown online store {setting!r}.",
        hint='Valid: "sqlite" (embedded, the default) or a Redis URL '
        '("redis://host:6379/0", "rediss://...", "unix:///path/redis.sock").',
        field=CONFIG_KEY,
    )
