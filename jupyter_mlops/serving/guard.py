"""Bounds on slow clients of a replica: uvicorn's httptools protocol with a header deadline and a
connection cap.

A client that opens connections and sends a request's headers slowly (or never) holds a file
descriptor each; uvicorn sets no deadline on headers, so 20,000 such connections exhausted a
replica's descriptors and no other client was answered. Here:

- **Header deadline.** A request's headers must be complete within the spec's
  ``header_seconds`` (10) of the connection being accepted (or of the request's first byte on
  a kept-alive connection); otherwise the connection is closed. Idle kept-alive connections
  are closed by uvicorn after ``timeout_keep_alive`` as before; bodies have their own deadline
  in the app (the spec's ``body_seconds``, 30: a 408).
- **Connection cap.** At most :func:`connection_cap` connections per replica (the descriptor
  limit, raised to its hard maximum at start, less a margin for the replica's own files). A
  connection accepted over the cap closes the *oldest connection still waiting for its headers*:
  a slow client's, since a normal client sends its headers at once. Requests under way and idle
  kept-alive connections are never closed for room.
"""

from __future__ import annotations

import asyncio
import resource
from typing import ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

#: Descriptors kept free for the replica's own use (log segments, the model, gRPC, imports).
MARGIN = 256


def raise_descriptor_limit() -> int:
    """Raise this process's soft limit of open files to the hard one; return the soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        want = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 16)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
            soft = want
        except (ValueError, OSError):
            pass
    return soft


def connection_cap(soft_limit: int) -> int:
    return max(64, soft_limit - MARGIN)


class GuardedHttp(HttpToolsProtocol):
    """uvicorn's httptools protocol with the header deadline and the connection cap."""

    #: The most connections this process keeps open (set by the worker at start).
    cap: ClassVar[int] = 1 << 30
    #: Seconds a connection has to send a request's headers (set by the worker at start).
    header_seconds: ClassVar[float] = 10.0
    #: Connections waiting for a request's headers, oldest first (a dict keeps insertion order).
    waiting: ClassVar[dict[GuardedHttp, None]] = {}

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._deadline: asyncio.TimerHandle | None = None
        self._await_headers()
        waiting = GuardedHttp.waiting
        if len(self.connections) > GuardedHttp.cap and waiting:
            # One out for one in (a closed connection leaves `connections` a moment later).
            next(iter(waiting))._drop()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._await_headers()

    def on_headers_complete(self) -> None:
        self._headers_done()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._headers_done()
        super().connection_lost(exc)

    def _await_headers(self) -> None:
        if self._deadline is None:
            self._deadline = self.loop.call_later(GuardedHttp.header_seconds, self._drop)
            GuardedHttp.waiting[self] = None

    def _headers_done(self) -> None:
        deadline = getattr(self, "_deadline", None)
        if deadline is not None:
            deadline.cancel()
            self._deadline = None
        GuardedHttp.waiting.pop(self, None)

    def _drop(self) -> None:
        self._headers_done()
        if not self.transport.is_closing():
            self.transport.close()
