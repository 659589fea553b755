"""One replica of a model server: load the models, smoke-test them, then serve.

Started by the deployment supervisor with the listening socket it owns (``--fd``), so that all
replicas answer on one port and a replacement replica can start before an old one stops. In a
packaged image it runs alone and binds ``--host``/``--port`` itself.

A replica tells the supervisor it is ready (models loaded and their input examples predicted) by
writing ``ready`` to ``--ready-fd``; a replica that cannot load writes ``failed: <reason>`` and
exits with status 3.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from types import FrameType

    import uvicorn

if TYPE_CHECKING:
    from jupyter_mlops.serving.app import ModelServer
    from jupyter_mlops.serving.predlog import PredictionLog
    from jupyter_mlops.serving.spec import ServerSpec


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jupyter_mlops.serving.worker")
    parser.add_argument("--spec", help="the server spec (JSON)")
    parser.add_argument(
        "--spec-fd",
        type=int,
        help="a warm spare: import everything, then read the spec's path from this pipe",
    )
    parser.add_argument("--fd", type=int, help="an inherited listening socket")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument(
        "--grpc-port",
        type=int,
        help="also answer the Open Inference Protocol over gRPC on this port (default: the "
        "spec's grpc_port; 0: no gRPC)",
    )
    parser.add_argument("--ready-fd", type=int, help="where to write 'ready' or 'failed: ...'")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s replica %(process)d %(levelname)s %(message)s"
    )
    log = logging.getLogger("jupyter_mlops.serving")
    spec_path = args.spec
    if args.spec_fd is not None:
        spec_path = _wait_for_spec(args.spec_fd)
        if spec_path is None:
            return 0  # the supervisor stopped without needing this spare
    if spec_path is None:
        parser.error("--spec or --spec-fd is required")
    try:
        server, prediction_log = _load(Path(spec_path))
    except Exception as exc:  # any load failure is reported to the supervisor, not raised
        log.exception("The replica could not start")
        _tell(args.ready_fd, f"failed: {type(exc).__name__}: {exc}")
        return 3
    import uvicorn

    from jupyter_mlops.serving.guard import GuardedHttp, connection_cap, raise_descriptor_limit

    GuardedHttp.cap = connection_cap(raise_descriptor_limit())
    GuardedHttp.header_seconds = server.spec.header_seconds
    sock = socket.socket(fileno=args.fd) if args.fd is not None else None
    config = uvicorn.Config(
        server.app,
        host=args.host,
        port=args.port,
        loop="uvloop",
        http=GuardedHttp,  # httptools, with bounds on slow clients
        lifespan="off",
        access_log=False,
        log_level="warning",
        timeout_graceful_shutdown=10,
        backlog=2048,
    )
    grpc_port = args.grpc_port if args.grpc_port is not None else server.spec.grpc_port
    uv = _draining_server(config, server, args.host, grpc_port or None, args.ready_fd)
    log.info(
        "serving %s on %s%s",
        ", ".join(f"{m.name} v{m.version}" for m in server.models),
        "the supervisor's socket" if sock else f"{args.host}:{args.port}",
        f", gRPC on {args.host}:{grpc_port}" if grpc_port else "",
    )
    try:
        uv.run(sockets=[sock] if sock is not None else None)
    finally:
        if prediction_log is not None:
            prediction_log.close()
        log.info("stopped")
    return 3 if getattr(uv, "failed", False) else 0


DRAIN_SECONDS = 2.0


def _wait_for_spec(fd: int) -> str | None:
    """As a warm spare: import what loading a spec imports, then wait for the spec's path (None:
    the pipe closed, nothing to serve)."""
    import importlib

    import jupyter_mlops.serving.app
    import jupyter_mlops.serving.grpc_api
    import jupyter_mlops.serving.guard
    import jupyter_mlops.serving.predlog
    import jupyter_mlops.serving.spec  # noqa: F401

    for module in ("uvicorn", "mlflow.pyfunc", "mlflow.sklearn", "skops.io"):
        with contextlib.suppress(ImportError):
            importlib.import_module(module)
    data = b""
    with os.fdopen(fd, "rb") as pipe:
        data = pipe.readline()
    path = data.decode().strip()
    return path or None


def _draining_server(
    config: uvicorn.Config,
    app: ModelServer,
    host: str,
    grpc_port: int | None,
    ready_fd: int | None,
) -> uvicorn.Server:
    """A uvicorn server that drains before it stops, for zero-downtime updates, and answers
    gRPC (:mod:`.grpc_api`) on ``grpc_port`` in the same event loop; it tells ``ready_fd``
    once both listen (or that gRPC could not, and stops).

    On SIGTERM a plain uvicorn server closes its idle keep-alive connections at once; a client
    that sends on one of them in that instant gets a connection reset. This one first stops
    accepting (the supervisor's socket stays open in the other replicas), then for
    ``DRAIN_SECONDS`` answers every request with ``Connection: close`` so that clients reconnect
    to the replicas that stay, and only then shuts down as uvicorn does.
    """
    import time

    import uvicorn

    class DrainingServer(uvicorn.Server):
        drain_until: float | None = None
        failed = False
        grpc: Any = None

        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            if self.should_exit:
                _tell(ready_fd, "failed: the HTTP server did not start")
                self.failed = True
                return
            if grpc_port:
                from jupyter_mlops.serving.grpc_api import make_server

                try:
                    self.grpc = make_server(app, host, grpc_port)
                    await self.grpc.start()
                except OSError as exc:
                    _tell(ready_fd, f"failed: {exc}")
                    self.failed = self.should_exit = True
                    return
            _tell(ready_fd, "ready")

        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            if self.grpc is not None:
                # Calls under way finish (in the drain they had); new ones go to other replicas.
                await self.grpc.stop(1.0)
            await super().shutdown(sockets)

        def stop_accepting(self) -> None:
            for listener in getattr(self, "servers", []):
                listener.close()  # no new connections here

        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            if self.drain_until is None and not self.should_exit:
                self.drain_until = time.monotonic() + DRAIN_SECONDS
                app.draining = True
                # At once, not at the next tick (0.1 s): an update's caller is told it is done
                # right after this signal, and its next request must reach the new replicas.
                asyncio.get_event_loop().call_soon_threadsafe(self.stop_accepting)
                if self.grpc is not None:
                    # No new gRPC calls here: clients reconnect to the replicas that stay.
                    asyncio.get_event_loop().create_task(self.grpc.stop(DRAIN_SECONDS))
                return
            super().handle_exit(sig, frame)  # a second signal: stop now

        async def on_tick(self, counter: int) -> bool:
            if self.drain_until is not None:
                self.stop_accepting()
                if time.monotonic() >= self.drain_until:
                    return True
            return await super().on_tick(counter)

    return DrainingServer(config)


def _load(spec_path: Path) -> tuple[ModelServer, PredictionLog | None]:
    from jupyter_mlops.serving.app import ModelServer
    from jupyter_mlops.serving.predlog import PredictionLog
    from jupyter_mlops.serving.spec import ServerSpec

    spec = ServerSpec.read(spec_path)
    if spec.workspace and any(m.features and m.lookup is None for m in spec.models):
        spec = _resolve_lookups(spec, spec.workspace)
    # Every version of a deployment reads the one online store of its workspace.
    settings = next((m.lookup.store for m in spec.models if m.lookup and m.lookup.store), None)
    store = settings.open() if settings is not None else None
    prediction_log = None
    if spec.prediction_log and spec.log_predictions:
        prediction_log = PredictionLog(
            Path(spec.prediction_log),
            fsync_interval=spec.fsync_interval,
            segment_seconds=spec.segment_seconds,
        )
    server = ModelServer(spec, store=store, prediction_log=prediction_log)
    server.smoke()
    return server, prediction_log


def _resolve_lookups(spec: ServerSpec, workspace: str) -> ServerSpec:
    """A spec written before lookups were resolved at deploy time (jupyter-mlops 0.1.0) names
    its workspace instead: resolve each version's lookup from that workspace's feature store,
    once, as a deployment made now would have."""
    from jupyter_mlops.serving.lookup import lookup_for, model_inputs
    from jupyter_mlops.workspace import Workspace

    store = Workspace.open(workspace).features
    models = [
        m.model_copy(update={"lookup": lookup_for(store, m.features, model_inputs(Path(m.path)))})
        for m in spec.models
    ]
    return spec.model_copy(update={"models": models})


def _tell(fd: int | None, message: str) -> None:
    if fd is None:
        return
    try:
        os.write(fd, (message.replace("\n", " ") + "\n").encode())
        os.close(fd)
    except OSError:
        pass


if __name__ == "__main__":
    sys.exit(main())
