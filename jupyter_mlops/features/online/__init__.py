"""Online stores: the latest feature values per entity, read by key when a model serves.

Two backends behind one small interface (:class:`OnlineStore`), chosen in ``mlops.toml``:
:class:`SqliteOnlineStore` (embedded, the default) and
:class:`~jupyter_mlops.features.online.redis.RedisOnlineStore` (for scale; needs the ``redis``
extra). :func:`open_online_store` opens the configured one.
"""

from __future__ import annotations

from jupyter_mlops.features.online.base import OnlineStore
from jupyter_mlops.features.online.factory import BACKENDS, open_online_store
from jupyter_mlops.features.online.sqlite import SqliteOnlineStore

__all__ = ["BACKENDS", "OnlineStore", "SqliteOnlineStore", "open_online_store"]
