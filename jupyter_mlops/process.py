"""The on-disk protocol of long-running processes: deployments now, jobs and scheduled checks next.

A long-running process lives in a folder of the workspace's ``.mlops/`` and outlives whoever
started it (JupyterLab, a terminal). Its folder holds:

- a *record* (what the user asked for), written by the service that starts or changes it;
- a *status* (what the process is doing: state, pid, last error), written by the process itself;
- ``logs/``.

Both are JSON written atomically (a reader never sees half a file) and read as typed pydantic
models; a file that is missing, unreadable or of the wrong shape reads as an error value for that
one process, never as an exception that breaks a listing of all of them. A pid is trusted only
while ``/proc`` shows the same program working on the same folder (pids are reused).
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from jupyter_mlops.errors import Conflict, InvalidInput

M = TypeVar("M", bound=BaseModel)

LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class Unreadable:
    """A record or status file that exists but cannot be read as its model."""

    path: Path
    reason: str

    def __str__(self) -> str:
        return f"{self.path.name} is unreadable: {self.reason}"


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if missing) while the block runs: the one way
    processes of a workspace take turns on shared files (flock; released if the holder dies)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def hold_lock(path: Path) -> int | None:
    """Take an exclusive lock on ``path`` (created if missing) for the life of this process, or
    None at once when another process holds it: how a process claims a role (a job slot, a
    deployment's supervisor). The kernel releases it when the process dies, kill -9 included."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def write_json(path: Path, value: BaseModel | Mapping[str, Any]) -> None:
    """Write ``value`` to ``path`` atomically: a temporary file in the same folder, renamed."""
    text = (
        value.model_dump_json(indent=1)
        if isinstance(value, BaseModel)
        else json.dumps(dict(value), indent=1)
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_json(path: Path, model: type[M]) -> M | Unreadable | None:
    """``path`` as ``model``; None when there is no such file, :class:`Unreadable` when it is
    not valid JSON of that shape."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        return Unreadable(path, str(exc))
    try:
        return model.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        return Unreadable(path, f"{where}: {first['msg']}")
    except ValueError as exc:
        return Unreadable(path, str(exc))


def is_running(pid: int, *markers: str) -> bool:
    """Whether ``pid`` is alive (not a zombie) and every marker is one of its arguments.

    The markers name the program and its folder, so a pid reused by another process after a
    reboot or a kill is not mistaken for ours.
    """
    if pid <= 0:
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            return False
    except (OSError, IndexError):
        pass
    return all(m.encode() in cmdline for m in markers)


def pids_of(*markers: str) -> list[int]:
    """The live processes whose arguments include every marker (program and folder)."""
    out = []
    for entry in Path("/proc").iterdir():
        pid = int(entry.name) if entry.name.isdigit() else 0
        if pid and pid != os.getpid() and is_running(pid, *markers):
            out.append(pid)
    return out


def check_port(port: int, host: str = LOOPBACK, *, lowest: int = 1024) -> int:
    """``port`` if a server may listen on ``host:port`` now (IPv4 or IPv6).

    A port whose connections are in TIME_WAIT counts as free, as it does for a server that sets
    ``SO_REUSEADDR`` (uvicorn, ``socket.create_server``).

    Raises:
        InvalidInput: outside ``lowest``-65535, or not bindable for another reason.
        Conflict: something listens there already.
    """
    if not lowest <= port <= 65535:
        raise InvalidInput(f"Port {port} is outside {lowest}-65535", field="port")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise Conflict(
                    f"Port {port} on {host} is in use",
                    hint="Choose another --port, or leave it out to get a free one.",
                    field="port",
                ) from None
            raise InvalidInput(
                f"Cannot listen on {host}:{port}: {exc.strerror or exc}",
                hint="Use --host 127.0.0.1 or another --port.",
                field="port",
            ) from None
    return port


def free_port(host: str = LOOPBACK) -> int:
    """A port nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def start_detached(
    module: str, args: Sequence[str], *, cwd: Path, log: Path, env: Mapping[str, str]
) -> None:
    """Run ``python -m module --detach ARGS``; the module calls :func:`detach` first thing.

    Returns once the first fork has exited, so the caller never owns (or has to reap) the
    long-running process. Its stderr goes to ``log``.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as err:
        subprocess.run(
            [os.path.abspath(sys.executable), "-m", module, "--detach", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
            close_fds=True,
            cwd=str(cwd),
            env=dict(env),
            check=True,
            timeout=60,
        )


def detach(argv: list[str]) -> list[str]:
    """In a module started by :func:`start_detached`: fork once more and start a new session,
    so the process is nobody's child. Returns the arguments after ``--detach`` (or ``argv``
    unchanged when it was started without it)."""
    if not argv or argv[0] != "--detach":
        return argv
    if os.fork() > 0:
        os._exit(0)
    os.setsid()
    return argv[1:]
