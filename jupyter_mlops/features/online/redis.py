"""The Redis online store, for many model servers sharing one store.

Layout (``ns`` is the namespace, ``mlops`` unless given), one Redis string per key:

- ``ns:online:<view>:<version>:features``: the version's feature names (JSON array);
- ``ns:online:<view>:<version>:watermark``: microseconds since the epoch, UTC;
- ``ns:online:<view>:<version>:r:<entity key>``: ``<event time>|<marshalled row>``, the event time
  in decimal microseconds, the row as :mod:`~jupyter_mlops.features.online.codec` encodes it.

A lookup is one ``MGET`` of the features key and the entity keys, so one round trip answers one
entity or a thousand, and the feature names read with it are always the ones the rows were written
with. Writes run a Lua script per chunk of 1,000 rows (pipelined), which checks the feature names
and keeps the newer event time atomically, so concurrent materializations cannot put an older row
over a newer one. Unlike SQLite, a write is atomic per chunk, not per call: a call that fails half
way leaves its first chunks written, which newest-wins makes harmless to write again.

Plain (standalone) Redis only: the scripts touch many keys, which Redis Cluster refuses across
hash slots.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from jupyter_mlops.errors import BackendUnavailable, InvalidInput
from jupyter_mlops.features.online.base import OnlineStore, schema_conflict
from jupyter_mlops.features.online.codec import decode_names

_NAMESPACE = re.compile(r"^[A-Za-z0-9_.-]+$")

# Rows per script call: big enough to amortize the round trip, small enough not to block Redis.
WRITE_CHUNK = 1000

# KEYS[1]: the features key; KEYS[2..]: row keys. ARGV[1]: the feature names; then per row its
# event time and its stored value. Returns the number of rows that took effect.
_WRITE_SCRIPT = """
local stored = redis.call('GET', KEYS[1])
if stored and stored ~= ARGV[1] then
  return redis.error_reply('MLOPS_FEATURES ' .. stored)
end
if not stored then
  redis.call('SET', KEYS[1], ARGV[1])
end
local changed = 0
for i = 2, #KEYS do
  local time = tonumber(ARGV[2 * i - 2])
  local old = redis.call('GET', KEYS[i])
  if (not old) or tonumber(string.match(old, '^(%-?%d+)|')) <= time then
    redis.call('SET', KEYS[i], ARGV[2 * i - 1])
    changed = changed + 1
  end
end
return changed
"""

# KEYS[1]: the watermark key; ARGV[1]: the new watermark. Keeps the later one; returns it.
_WATERMARK_SCRIPT = """
local stored = redis.call('GET', KEYS[1])
if (not stored) or tonumber(stored) < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], ARGV[1])
  return ARGV[1]
end
return stored
"""


class RedisOnlineStore(OnlineStore):
    """The online store in a Redis server.

    Args:
        url: ``redis://[user:password@]host:port/db``, ``rediss://`` (TLS) or
            ``unix:///path/redis.sock``.
        namespace: prefix of every key, so several workspaces can share one Redis database.
        connect_timeout: seconds to wait for a connection before failing.
        timeout: seconds to wait for an answer before failing.

    Raises:
        InvalidInput: the URL is malformed.
        BackendUnavailable: the server does not answer (checked at once, with ``PING``).

    Example:
        >>> store = RedisOnlineStore("redis://127.0.0.1:6379/0")      # doctest: +SKIP
    """

    backend = "redis"

    def __init__(
        self,
        url: str,
        *,
        namespace: str = "mlops",
        connect_timeout: float = 2.0,
        timeout: float = 10.0,
    ) -> None:
        super().__init__()
        if not _NAMESPACE.match(namespace):
            raise InvalidInput(
                f"Redis namespace {namespace!r} is not valid.",
                hint="Use letters, digits, '_', '-' and '.'.",
                field="online_namespace",
            )
        self.url = url
        self.namespace = namespace
        try:
            self._client = redis.Redis.from_url(
                url,
                socket_connect_timeout=connect_timeout,
                socket_timeout=timeout,
                # Fail fast and say so, rather than retry behind the caller's back.
                retry=Retry(NoBackoff(), 0),
                # RESP2: what every Redis speaks; with hiredis it parses as fast as RESP3.
                protocol=2,
            )
        except ValueError as exc:
            raise InvalidInput(
                f"Cannot use the Redis URL {_redacted(url)} ({exc}).",
                hint="Write it as redis://host:6379/0 (rediss:// for TLS).",
                field="online_store",
            ) from exc
        self._write_script = self._client.register_script(_WRITE_SCRIPT)
        self._watermark_script = self._client.register_script(_WATERMARK_SCRIPT)
        with self._errors():
            self._client.ping()

    def __repr__(self) -> str:
        return f"RedisOnlineStore({_redacted(self.url)!r})"

    def close(self) -> None:
        self._client.close()

    # -- keys -------------------------------------------------------------------------------------

    def _prefix(self, view: str, version: int) -> bytes:
        # View names hold no ':' (checked by the base class), so one view's prefix never
        # starts another's. Keys go to redis-py as bytes: it sends those without encoding them.
        return f"{self.namespace}:online:{view}:{version}:".encode()

    # -- primitives -------------------------------------------------------------------------------

    def _stored_features(self, view: str, version: int) -> bytes | None:
        with self._errors():
            return cast(bytes | None, self._client.get(self._prefix(view, version) + b"features"))

    def _write(
        self,
        view: str,
        version: int,
        features: str,
        keys: list[str],
        times: list[int],
        rows: list[bytes],
    ) -> int:
        prefix = self._prefix(view, version)
        row_prefix = prefix + b"r:"
        features_key = prefix + b"features"
        with self._errors():
            if not keys:
                self._write_script(keys=[features_key], args=[features])
                return 0
            pipe = self._client.pipeline(transaction=False)
            for start in range(0, len(keys), WRITE_CHUNK):
                end = start + WRITE_CHUNK
                chunk_keys: list[bytes] = [features_key]
                chunk_keys.extend([row_prefix + k.encode() for k in keys[start:end]])
                args: list[Any] = [features]
                for time, row in zip(times[start:end], rows[start:end], strict=True):
                    args.append(time)
                    args.append(b"%d|%b" % (time, row))
                self._write_script(keys=chunk_keys, args=args, client=pipe)
            try:
                counts = pipe.execute()
            except redis.ResponseError as exc:
                message = str(exc)
                if "MLOPS_FEATURES " not in message:
                    raise
                stored = message.split("MLOPS_FEATURES ", 1)[1]
                raise schema_conflict(
                    view, version, decode_names(stored), decode_names(features)
                ) from None
        return sum(int(c) for c in counts)

    def _read_many(
        self, view: str, version: int, keys: list[str], with_times: bool
    ) -> tuple[bytes | None, list[bytes | None], list[int | None]]:
        prefix = self._prefix(view, version)
        row_prefix = prefix + b"r:"
        with self._errors():
            values = cast(
                list[bytes | None],
                self._client.mget([prefix + b"features", *[row_prefix + k.encode() for k in keys]]),
            )
        if not with_times:
            return values[0], [None if v is None else v.partition(b"|")[2] for v in values[1:]], []
        parts = [None if v is None else v.partition(b"|") for v in values[1:]]
        return (
            values[0],
            [None if p is None else p[2] for p in parts],
            [None if p is None else int(p[0]) for p in parts],
        )

    def _read_one(
        self, view: str, version: int, key: str, with_time: bool
    ) -> tuple[bytes | None, bytes | None, int | None]:
        prefix = self._prefix(view, version)
        with self._errors():
            features, value = cast(
                list[bytes | None],
                self._client.mget(prefix + b"features", prefix + b"r:" + key.encode()),
            )
        if value is None:
            return features, None, None
        time, _, row = value.partition(b"|")
        return features, row, int(time) if with_time else None

    def _get_watermark(self, view: str, version: int) -> int | None:
        with self._errors():
            value = cast(bytes | None, self._client.get(self._prefix(view, version) + b"watermark"))
        return None if value is None else int(value)

    def _set_watermark(self, view: str, version: int, micros: int) -> int:
        key = self._prefix(view, version) + b"watermark"
        with self._errors():
            return int(self._watermark_script(keys=[key], args=[micros]))

    def _delete(self, view: str, version: int) -> None:
        pattern = _glob_escape(self._prefix(view, version).decode()) + "*"
        with self._errors():
            batch: list[bytes] = []
            for key in self._client.scan_iter(match=pattern, count=1000):
                batch.append(key)
                if len(batch) >= 1000:
                    self._client.unlink(*batch)
                    batch = []
            if batch:
                self._client.unlink(*batch)

    # -- errors -----------------------------------------------------------------------------------

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Turn 'cannot reach Redis' into BackendUnavailable with a hint."""
        try:
            yield
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise BackendUnavailable(
                f"The Redis online store at {_redacted(self.url)} cannot be reached ({exc}).",
                hint="Start Redis, or correct online_store in mlops.toml "
                '("sqlite" uses the embedded store).',
            ) from exc


def _redacted(url: str) -> str:
    """The URL without its password."""
    scheme, sep, rest = url.partition("://")
    if "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}{sep}{user + ':***' if user else '***'}@{host}"


def _glob_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)
