"""The supervisor of one local deployment: owns the port, runs and restarts its replicas.

Runs detached from JupyterLab (its own session), so a deployment outlives the Jupyter server
that started it; everything about it lives in its folder ``.mlops/deployments/<name>/`` (see
:mod:`.records`): it reads ``deployment.json`` and the specs, and writes ``status.json``.

Signals: SIGTERM/SIGINT stop the deployment (replicas get SIGTERM and finish their requests);
SIGHUP re-reads ``deployment.json`` and moves to its spec with zero downtime: the new generation
of replicas starts on the same socket and must load and answer its smoke request before the old
generation is told to stop. If the new generation fails, it is stopped and the old one keeps
serving; ``status.json`` says why.

SIGUSR1 asks for a **warm spare** replica: a worker process that imports MLflow and the model
server (seconds of a replica's start) and then waits for a spec to load. The next replica to
start (an update such as an A/B test's new generation, or a restart after a crash) takes it, so
it only loads its models. A pipeline asks for one when its job starts, so that the A/B test it
ends with starts in about a second; a spare nobody takes within ``SPARE_TTL`` is stopped.

A deployment with one replica keeps a spare of its own (``spare_after`` in ``deployment.json``):
the first once it has run that long (a deployment that lives a few seconds never pays for one),
the next as soon as one is taken. A killed replica is then replaced in about half a second
instead of the several seconds a new interpreter takes, for the memory of one more process.
With two or more replicas the others answer meanwhile, and no spare is kept.

A thread of the supervisor compacts the prediction log (:mod:`.predictions`): every
``compact_seconds`` of the spec serving now, closed segments become Parquet files typed by the
served versions' signatures, then retention drops the oldest files. It runs at the lowest CPU
priority, so it takes what the replicas leave, and it never stops the supervisor.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jupyter_mlops.process import detach, write_json
from jupyter_mlops.serving.records import (
    RECORD_FILE,
    STATUS_FILE,
    DeploymentRecord,
    DeploymentStatus,
    replica_pids,
    spec_file,
)
from jupyter_mlops.serving.schemas import ReplicaInfo, State
from jupyter_mlops.serving.spec import ServerSpec

log = logging.getLogger("jupyter_mlops.serving.supervisor")

READY_TIMEOUT = 180.0
STOP_TIMEOUT = 15.0
# A replica that dies this many times within CRASH_WINDOW seconds is restarted more slowly.
CRASH_LIMIT = 5
CRASH_WINDOW = 60.0
#: A degraded deployment whose replicas are all up and have not crashed for this long is running
#: again (a crash loop that ended must not read "degraded" until the next crash).
RECOVERED_AFTER = 5.0
#: How long a supervisor that takes over waits for the replicas its killed predecessor left (they
#: got SIGTERM when it died and drain) before it kills them and binds the port.
TAKEOVER_TIMEOUT = STOP_TIMEOUT + 5.0
#: The lock a supervisor holds for its whole life: two supervisors never run one deployment.
LOCK_FILE = "supervisor.lock"


@dataclass
class Replica:
    slot: int
    generation: int
    process: subprocess.Popen[bytes]
    started: float = field(default_factory=time.time)


@dataclass
class Spare:
    """A worker that imported everything and waits for the path of a spec on ``spec_fd``."""

    process: subprocess.Popen[bytes]
    ready_fd: int
    spec_fd: int

    def close(self) -> None:
        for fd in (self.ready_fd, self.spec_fd):
            with contextlib.suppress(OSError):
                os.close(fd)


#: A spare that died is replaced no sooner than this (a spare that cannot start must not loop).
SPARE_BACKOFF = 30.0
#: A spare nobody took within this long is stopped (it holds the memory of a replica).
SPARE_TTL = 1800.0


class Compactor:
    """The supervisor's thread that compacts the prediction log and applies its retention."""

    def __init__(self) -> None:
        self.spec: ServerSpec | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_error: str | None = None

    def use(self, spec: ServerSpec) -> None:
        """Compact with this spec from now on (the generation serving), starting at once."""
        from jupyter_mlops.serving.logtable import LogSchema, schema_from_model, update_schema

        if not spec.prediction_log or not spec.compact_seconds:
            self.spec = None
            return
        schema = LogSchema()
        for version in spec.models:
            schema.merge(schema_from_model(Path(version.path)))
        try:
            update_schema(Path(spec.prediction_log), schema)
        except OSError as exc:
            log.warning("cannot write the prediction log's schema: %s", exc)
        self.spec = spec
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="log-compactor", daemon=True)
            self._thread.start()
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _loop(self) -> None:
        with contextlib.suppress(OSError):  # Linux: a thread's own nice value
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
        while not self._stop.is_set():
            spec = self.spec
            if spec is not None:
                self.run_once(spec)
            interval = spec.compact_seconds if spec and spec.compact_seconds else 30.0
            self._wake.wait(interval)
            self._wake.clear()

    def run_once(self, spec: ServerSpec) -> None:
        from jupyter_mlops.serving.predictions import apply_retention, compact

        folder = Path(spec.prediction_log or "")
        try:
            report = compact(folder)
            if report.files or report.errors or report.set_aside:
                log.info(
                    "compacted %s segment(s) into %s file(s): %s rows, %s damaged line(s), "
                    "%s value(s) nulled%s",
                    report.segments,
                    len(report.files),
                    report.rows,
                    report.damaged,
                    report.nulled,
                    f"; left: {report.errors}" if report.errors else "",
                )
            for drop in apply_retention(
                folder, max_age_days=spec.max_age_days, max_size_mb=spec.max_size_mb
            ):
                log.info("retention dropped %s (%s rows, %s)", drop.file, drop.rows, drop.reason)
            self.last_error = None
        except Exception as exc:  # the compactor never takes the deployment down
            log.exception("compaction failed")
            self.last_error = f"{type(exc).__name__}: {exc}"


class Supervisor:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.record = self.read_record()
        self.generation = self.record.generation
        self.replicas: list[Replica] = []
        self.spare: Spare | None = None
        self.spare_died = 0.0
        self.spare_wanted = 0.0  # when a spare was last asked for (0: not wanted)
        self.running_since = 0.0  # when the deployment first ran (0: not yet)
        self.sock: socket.socket | None = None
        self.stopping = False
        self.reload = False
        self.restarts = 0
        self.crashes: list[float] = []
        self.last_crash = 0.0
        self.last_error: str | None = None
        self.state: State = "starting"
        self.compactor = Compactor()

    def use_spec(self, generation: int) -> None:
        """Point the compactor at the spec of the generation serving."""
        try:
            spec = ServerSpec.read(self.folder / spec_file(generation))
        except (OSError, ValueError) as exc:
            log.warning("no compaction: cannot read the spec of generation %s: %s", generation, exc)
            return
        self.compactor.use(spec)

    # -- status -----------------------------------------------------------------------------------

    def read_record(self) -> DeploymentRecord:
        return DeploymentRecord.model_validate_json(
            (self.folder / RECORD_FILE).read_text(encoding="utf-8")
        )

    def write_status(self, **extra: Any) -> None:
        status = DeploymentStatus(
            state=self.state,
            pid=os.getpid(),
            host=self.record.host,
            port=self.record.port,
            generation=self.generation,
            models=self.record.serving,
            replicas=[
                ReplicaInfo(
                    slot=r.slot, pid=r.process.pid, generation=r.generation, started=r.started
                )
                for r in self.replicas
            ],
            restarts=self.restarts,
            spare_pid=self.spare.process.pid if self.spare is not None else None,
            error=self.last_error,
            updated=time.time(),
            **extra,
        )
        write_json(self.folder / STATUS_FILE, status)

    # -- replicas ---------------------------------------------------------------------------------

    def _command(self, *extra: str) -> tuple[list[str], dict[str, str]]:
        assert self.sock is not None
        env = dict(os.environ)
        metrics = self.folder / "metrics"
        metrics.mkdir(exist_ok=True)
        env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics)
        env["MLFLOW_LOGGING_LEVEL"] = "WARNING"
        cmd = [
            sys.executable,
            "-m",
            "jupyter_mlops.serving.worker",
            *extra,
            "--fd",
            str(self.sock.fileno()),
        ]
        return cmd, env

    def _popen(self, cmd: list[str], env: dict[str, str], log_name: str, *fds: int) -> Any:
        assert self.sock is not None
        logs = self.folder / "logs"
        logs.mkdir(exist_ok=True)
        out = open(logs / log_name, "ab")  # noqa: SIM115 - handed to the child
        try:
            return subprocess.Popen(
                cmd,
                pass_fds=(self.sock.fileno(), *fds),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=str(self.folder),
                preexec_fn=_die_with_parent,
            )
        finally:
            out.close()

    def spawn(self, slot: int, generation: int) -> tuple[Replica, int]:
        spec = str(self.folder / spec_file(generation))
        spare, self.spare = self.spare, None
        if spare is not None and spare.process.poll() is None:
            try:
                os.write(spare.spec_fd, (spec + "\n").encode())
                os.close(spare.spec_fd)
                log.info("replica %s: the warm spare (pid %s) takes it", slot, spare.process.pid)
                self.spare_wanted = 0.0  # one spare per request
                return Replica(slot, generation, spare.process), spare.ready_fd
            except OSError:  # it died meanwhile: start one the usual way
                spare.process.terminate()
        if spare is not None:
            spare.close()
        read_end, write_end = os.pipe()
        cmd, env = self._command("--spec", spec, "--ready-fd", str(write_end))
        try:
            process = self._popen(cmd, env, f"replica-{slot}.log", write_end)
        finally:
            os.close(write_end)
        return Replica(slot, generation, process), read_end

    def standing_spare(self) -> bool:
        """Whether this deployment keeps a spare of its own: one replica, ``spare_after`` set
        and run that long."""
        after = self.record.spare_after
        return (
            after is not None
            and self.record.replicas == 1
            and bool(self.running_since)
            and time.monotonic() - self.running_since >= after
        )

    def keep_spare(self) -> None:
        """While a spare is wanted (asked for, or kept by a one-replica deployment), have one
        waiting (after a spare died, not sooner than the backoff); stop one nobody wants any
        more, such as one asked for and not taken within ``SPARE_TTL``."""
        if self.spare_wanted and time.monotonic() - self.spare_wanted > SPARE_TTL:
            self.spare_wanted = 0.0
        if not self.spare_wanted and not self.standing_spare():
            if self.spare is not None:
                self.stop_spare()
                self.write_status()
            return
        if self.spare is not None and self.spare.process.poll() is None:
            return
        if self.spare is not None:  # it died waiting
            log.warning("the warm spare exited with %s", self.spare.process.returncode)
            self.spare.close()
            self.spare = None
            self.spare_died = time.monotonic()
            self.write_status()
        if self.spare_died and time.monotonic() - self.spare_died < SPARE_BACKOFF:
            return
        self.start_spare()
        self.write_status()

    def start_spare(self) -> None:
        """Start a warm spare (no more than a warning if it cannot start)."""
        ready_read, ready_write = os.pipe()
        spec_read, spec_write = os.pipe()
        cmd, env = self._command("--spec-fd", str(spec_read), "--ready-fd", str(ready_write))
        try:
            process = self._popen(cmd, env, "replica-spare.log", ready_write, spec_read)
        except OSError as exc:
            log.warning("no warm spare: %s", exc)
            for fd in (ready_read, spec_write):
                os.close(fd)
            return
        finally:
            os.close(ready_write)
            os.close(spec_read)
        self.spare = Spare(process, ready_read, spec_write)

    def stop_spare(self) -> None:
        spare, self.spare = self.spare, None
        if spare is None:
            return
        spare.close()
        spare.process.terminate()  # it serves nothing: no need to drain
        try:
            spare.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            spare.process.kill()
            spare.process.wait()

    def start_generation(self, generation: int, slots: list[int]) -> list[Replica] | str:
        """Start replicas of a generation in these slots: all ready -> them, else an error."""
        started = [self.spawn(slot, generation) for slot in slots]
        pending = {fd: replica for replica, fd in started}
        buffers: dict[int, bytes] = {fd: b"" for fd in pending}
        error: str | None = None
        deadline = time.monotonic() + READY_TIMEOUT
        while pending and error is None:
            left = deadline - time.monotonic()
            if left <= 0:
                error = f"a replica was not ready within {READY_TIMEOUT:.0f} s"
                break
            ready, _, _ = select.select(list(pending), [], [], min(left, 0.5))
            for fd in ready:
                chunk = os.read(fd, 4096)
                buffers[fd] += chunk
                if chunk and not buffers[fd].endswith(b"\n"):
                    continue
                message = buffers[fd].decode(errors="replace").strip()
                os.close(fd)
                replica = pending.pop(fd)
                if message != "ready":
                    error = message.removeprefix("failed: ") or (
                        f"replica {replica.slot} exited (status {replica.process.wait()}) "
                        "before it was ready"
                    )
                    break
        for fd in pending:
            os.close(fd)
        replicas = [r for r, _ in started]
        if error is not None:
            self.terminate(replicas)
            return error
        return replicas

    def ask_to_stop(self, replicas: list[Replica]) -> None:
        """SIGTERM: they stop accepting at once and drain (a second SIGTERM skips the drain)."""
        for r in replicas:
            if r.process.poll() is None:
                r.process.send_signal(signal.SIGTERM)

    def terminate(self, replicas: list[Replica], *, signalled: bool = False) -> None:
        """Stop replicas (already asked to, when ``signalled``) and wait for them to finish
        their requests."""
        if not signalled:
            self.ask_to_stop(replicas)
        deadline = time.monotonic() + STOP_TIMEOUT
        for r in replicas:
            try:
                r.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                r.process.kill()
                r.process.wait()

    # -- main loop --------------------------------------------------------------------------------

    def make_socket(self) -> None:
        """The deployment's listening socket, not bound yet: replicas started before
        :meth:`bind` share it and answer on it once it listens."""
        family = socket.AF_INET6 if ":" in self.record.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.set_inheritable(True)
        self.sock = sock

    def bind(self) -> str | None:
        assert self.sock is not None
        host, port = self.record.host, self.record.port
        try:
            self.sock.bind((host, port))
            self.sock.listen(2048)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return (
                    f"port {port} on {host} is in use by another process; free it and run "
                    f"`jupyter mlops deployments start {self.folder.name}`, or deploy again "
                    "with another --port"
                )
            return f"cannot listen on {host}:{port}: {exc}"
        return None

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._on_stop)
        signal.signal(signal.SIGINT, self._on_stop)
        signal.signal(signal.SIGHUP, self._on_reload)
        signal.signal(signal.SIGUSR1, self._on_want_spare)
        self.make_socket()
        if replica_pids(self.folder):
            # Restarted while its predecessor's replicas drain: a spare does a replica's
            # imports meanwhile, and the first replica is started from it once the port is free.
            self.start_spare()
        self.take_over()
        error = self.bind()
        if error is None:
            self.write_status()
            started = self.start_generation(self.generation, list(range(self.record.replicas)))
            if isinstance(started, str):
                error = started
            else:
                self.replicas = started
        if error is not None:
            self.state, self.last_error = "failed", error
            log.error("deployment failed to start: %s", error)
            self.write_status()
            return 1
        self.state = "running"
        self.running_since = time.monotonic()
        self.write_status()
        self.use_spec(self.generation)
        log.info("running on %s:%s", self.record.host, self.record.port)
        while not self.stopping:
            if self.reload:
                self.reload = False
                self.update()
            self.watch()
            self.settle()
            if not self.stopping:
                self.keep_spare()
            time.sleep(0.2)
        self.state = "stopping"
        self.write_status()
        self.compactor.stop()
        self.stop_spare()
        self.terminate(self.replicas)
        if self.sock is not None:
            self.sock.close()
        self.state = "stopped"
        self.replicas = []
        self.write_status()
        log.info("stopped")
        return 0

    def take_over(self) -> None:
        """Wait for the replicas of a predecessor that was killed (kill -9, OOM): they got
        SIGTERM when it died and finish their requests, holding its listening socket until they
        exit; the port is free once they have. Those still there after ``TAKEOVER_TIMEOUT``
        are killed."""
        from jupyter_mlops.process import read_json

        previous = read_json(self.folder / STATUS_FILE, DeploymentStatus)
        if isinstance(previous, DeploymentStatus) and previous.state == "starting":
            # Restarted because its predecessor was gone: the status keeps saying so.
            self.last_error = previous.error if not previous.pid else None

        def orphans_left() -> list[int]:
            mine = {self.spare.process.pid} if self.spare is not None else set()
            return [pid for pid in replica_pids(self.folder) if pid not in mine]

        orphans = orphans_left()
        if not orphans:
            return
        log.info("waiting for the replicas of the previous supervisor to exit: %s", orphans)
        deadline = time.monotonic() + TAKEOVER_TIMEOUT
        while orphans and time.monotonic() < deadline:
            time.sleep(0.1)
            orphans = orphans_left()
        for pid in orphans:
            log.warning("replica pid %s of the previous supervisor did not exit; killing it", pid)
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)

    def settle(self) -> None:
        """A degraded deployment whose replicas are all up again, with no crash for
        ``RECOVERED_AFTER`` seconds, is running again."""
        if self.state != "degraded" or self.stopping or not self.replicas:
            return
        if time.time() - self.last_crash < RECOVERED_AFTER:
            return
        if any(r.process.poll() is not None for r in self.replicas):
            return
        log.info("all %s replica(s) up again: running", len(self.replicas))
        self.state = "running"
        self.last_error = None
        self.write_status()

    def watch(self) -> None:
        """Restart replicas that died (not ones we stopped)."""
        for i, r in enumerate(self.replicas):
            code = r.process.poll()
            if code is None or self.stopping:
                continue
            now = time.time()
            self.last_crash = now
            self.crashes = [t for t in self.crashes if now - t < CRASH_WINDOW] + [now]
            log.warning(
                "replica %s (pid %s) exited with %s; restarting", r.slot, r.process.pid, code
            )
            if len(self.crashes) > CRASH_LIMIT:
                self.state = "degraded"
                self.last_error = (
                    f"replicas crashed {len(self.crashes)} times in {CRASH_WINDOW:.0f} s"
                )
                self.write_status()
                time.sleep(5)
            started = self.start_generation(r.generation, [r.slot])
            if isinstance(started, str):
                self.last_error = f"restart of replica {r.slot} failed: {started}"
                self.state = "degraded"
                self.write_status()
                continue
            self.replicas[i] = started[0]
            self.restarts += 1
            if self.state == "degraded" and len(self.crashes) <= CRASH_LIMIT:
                self.state = "running"
            self.write_status()

    def update(self) -> None:
        """Move to the spec in deployment.json: new replicas ready before the old stop."""
        record = self.read_record()
        generation = record.generation
        if generation == self.generation:
            return
        log.info("updating to generation %s", generation)
        self.state = "updating"
        self.write_status(update_to=generation)
        started = self.start_generation(generation, list(range(record.replicas)))
        if isinstance(started, str):
            self.last_error = (
                f"update to generation {generation} failed: {started}; "
                f"generation {self.generation} keeps serving"
            )
            log.error(self.last_error)
            # deployment.json says what is wanted; the failed version is not, any more. Its
            # generation number stays used, so a status naming it is never mistaken for the next.
            write_json(
                self.folder / RECORD_FILE, self.record.model_copy(update={"generation": generation})
            )
            (self.folder / spec_file(generation)).unlink(missing_ok=True)
            self.state = "running"
            self.write_status(update_failed=generation)
            return
        old = self.replicas
        # The old generation stops accepting before the faces read that the update is done,
        # so a request sent after `update` returns is not answered by the old version.
        self.ask_to_stop(old)
        self.replicas = started
        self.record = record
        self.generation = generation
        self.last_error = None
        self.state = "running"
        self.write_status()
        self.terminate(old, signalled=True)
        self.use_spec(generation)
        log.info("generation %s serving", generation)

    def _on_stop(self, signum: int, frame: object) -> None:
        self.stopping = True

    def _on_want_spare(self, signum: int, frame: object) -> None:
        self.spare_wanted = time.monotonic()

    def _on_reload(self, signum: int, frame: object) -> None:
        self.reload = True


def _die_with_parent() -> None:
    """Linux: a replica gets SIGTERM when its supervisor dies, even by kill -9, so no orphan
    keeps serving on a port nobody manages."""
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def main(argv: list[str] | None = None) -> int:
    # With --detach it forks once more so that it is nobody's child: the process that started
    # it (JupyterLab, a CLI) neither has to reap it nor keeps a handle on it.
    args = detach(sys.argv[1:] if argv is None else argv)
    folder = Path(args[0]).resolve()
    (folder / "logs").mkdir(parents=True, exist_ok=True)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s supervisor %(levelname)s %(message)s",
        handlers=[logging.FileHandler(folder / "logs" / "supervisor.log")],
    )
    from jupyter_mlops.process import hold_lock

    lock = hold_lock(folder / LOCK_FILE)
    if lock is None:
        # A deployment started twice at once (two faces reviving it): the first one runs it.
        log.info("another supervisor runs this deployment; exiting")
        return 0
    return Supervisor(folder).run()


if __name__ == "__main__":
    sys.exit(main())
