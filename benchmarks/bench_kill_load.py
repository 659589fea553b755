"""Benchmark: kills under load. Is every acknowledged prediction in the log, and only those?

Run from the repository root::

    python benchmarks/bench_kill_load.py                # 1 and 2 replicas, 60 s of load each
    python benchmarks/bench_kill_load.py --replicas 1 --duration 30 --settle 5 --out /tmp/k.json

One deployment of the model of ``bench_serving.py`` per replica count, left alone ``--settle``
seconds after it runs (a one-replica deployment may start a warm spare meanwhile). Then
``--connections`` client threads send single-row ``/invocations`` requests for ``--duration``
seconds, each thread on its own keep-alive connection (a new one after any connection error),
with a 30 s timeout so that no request is given up while the server could still answer it. Each
request carries its own ``x-request-id`` (never reused, also not on a retry), which the server
logs as the record's ``id``; the client notes every request's outcome (the status, or the kind of
connection error) and when it came.

During the load a replica is killed with SIGKILL (the one that has run longest) at 20 %, 40 % and
60 % of ``--duration``, and the supervisor at 80 %. From then on a face looks at the deployment
every ``--look`` seconds (``ws.deployments.list()``, as the Models panel's polling does; it
restarts a deployment whose supervisor is gone). The replicas of the killed supervisor drain and
exit, so answers right after its kill do not mean it is back: should the face not have seen the
deployment running again, and a request answered after that, when ``--duration`` is over, the load
goes on until then (at most 180 s after the kill), so that the gap is measured whole; the load's
real length is recorded.

Then the clients stop (each finishes the request it holds), the deployment is waited for until it
runs and is stopped, so that every log segment is closed, and the whole prediction log is read with
``predlog.read_predictions``: the records the supervisor's compactor has moved to Parquet files
and those still in JSON-lines segments, each once. The figures per replica count:

- requests sent, acknowledged (status 200), failed by kind (connection refused, reset, timeout,
  other) and answered with another status, by code;
- acknowledged but not logged with status 200 (the issue's target: 0);
- logged with status 200 but not acknowledged (target: 0), with what the client saw for each;
- damaged log lines, unreadable files, records logged twice;
- the longest time without an answer over the whole load and, per kill, from the kill to the first
  answer after it, and the longest time between answers from the last answer before the kill until
  the next kill (or the end of the load), with when that gap ended (seconds after the kill);
- throughput (acknowledged requests per second of load).

Results go to ``benchmarks/results/kill_load.json`` with the machine and command.
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import http.client
import itertools
import json
import os
import secrets
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_serving import build_workspace, machine, versions  # a sibling script

from jupyter_mlops.process import is_running
from jupyter_mlops.serving.records import SUPERVISOR_MODULE, WORKER_MODULE

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "results" / "kill_load.json"
#: A request is never given up sooner: the server may still answer (and log) it.
TIMEOUT = 30.0
#: When, as shares of --duration, a replica is killed; then the supervisor.
REPLICA_KILLS = (0.2, 0.4, 0.6)
SUPERVISOR_KILL = 0.8
#: How long the load may go on past --duration for a first answer after the supervisor's kill.
REVIVE_WAIT = 180.0
EXAMPLES = 20


def kind_of(exc: BaseException) -> str:
    """A connection error as ``group:detail`` (group: refused, reset, timeout or other)."""
    detail = type(exc).__name__
    errno = getattr(exc, "errno", None)
    if errno:
        detail += f"[{errno}]"
    if isinstance(exc, ConnectionRefusedError):
        return f"refused:{detail}"
    if isinstance(exc, ConnectionResetError | BrokenPipeError | ConnectionAbortedError):
        # http.client.RemoteDisconnected (closed without an answer) is a ConnectionResetError.
        return f"reset:{detail}"
    if isinstance(exc, TimeoutError):
        return f"timeout:{detail}"
    return f"other:{detail}"


class Client(threading.Thread):
    """Requests one after the other on a keep-alive connection; notes every request's fate."""

    def __init__(
        self, index: int, run: str, host: str, port: int, body: bytes, stop: threading.Event
    ) -> None:
        super().__init__(daemon=True, name=f"client-{index}")
        self.index, self.run_id, self.host, self.port, self.body = index, run, host, port, body
        self.stop = stop
        # (request id, status or error kind, sent, answered), times from time.monotonic()
        self.results: list[tuple[str, int | str, float, float]] = []
        self.last_ok = 0.0
        self.echo_mismatches = 0

    def run(self) -> None:
        conn: http.client.HTTPConnection | None = None
        for n in itertools.count(1):
            if self.stop.is_set():
                break
            rid = f"{self.run_id}-{self.index}-{n}"  # a new id for every attempt
            if conn is None:
                conn = http.client.HTTPConnection(self.host, self.port, timeout=TIMEOUT)
            sent = time.monotonic()
            outcome: int | str
            try:
                conn.request(
                    "POST",
                    "/invocations",
                    self.body,
                    {"Content-Type": "application/json", "x-request-id": rid},
                )
                response = conn.getresponse()
                response.read()
                outcome = response.status
                if outcome == 200 and response.getheader("x-request-id") != rid:
                    self.echo_mismatches += 1
            except (OSError, http.client.HTTPException) as exc:
                outcome = kind_of(exc)
                conn.close()
                conn = None
            answered = time.monotonic()
            self.results.append((rid, outcome, sent, answered))
            if outcome == 200:
                self.last_ok = answered
            else:
                time.sleep(0.01)  # no busy loop while nothing listens
        if conn is not None:
            conn.close()


def _status(folder: Path) -> dict[str, Any]:
    for _ in range(50):
        try:
            return json.loads((folder / "status.json").read_text())
        except (OSError, ValueError):  # written atomically, but be patient
            time.sleep(0.02)
    raise RuntimeError(f"cannot read {folder / 'status.json'}")


def oldest_replica(folder: Path) -> int | None:
    """The live replica of the deployment that has run longest (None: none is alive)."""
    replicas = sorted(_status(folder)["replicas"], key=lambda r: r["started"])
    return next((r["pid"] for r in replicas if is_running(r["pid"], WORKER_MODULE)), None)


def sleep_until(moment: float) -> None:
    time.sleep(max(0.0, moment - time.monotonic()))


def wait_running(ws: Any, name: str, look: float, timeout: float = REVIVE_WAIT) -> float | None:
    """Look every ``look`` seconds until the deployment runs; when it was seen running."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ws.deployments.get(name).state == "running":
            return time.monotonic()
        time.sleep(look)
    return None


def read_log(folder: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Every record of the deployment's prediction log(s), compacted or not, and what was found."""
    from jupyter_mlops.serving.predictions import compacted_files, read_retention
    from jupyter_mlops.serving.predlog import ReadReport, read_predictions, segment_paths
    from jupyter_mlops.serving.spec import ServerSpec

    # Every generation's spec names the log folder; all of a deployment's share one.
    folders = sorted(
        {
            Path(spec.prediction_log)
            for spec in (ServerSpec.read(p) for p in sorted(folder.glob("spec-*.json")))
            if spec.prediction_log
        }
    )
    report = ReadReport()
    records: list[dict[str, Any]] = []
    segments = parquet = still_open = dropped = 0
    for log_folder in folders:
        paths = segment_paths(log_folder)
        segments += len(paths)
        still_open += sum(p.name.endswith(".jsonl.open") for p in paths)
        parquet += len(compacted_files(log_folder))
        dropped += len(read_retention(log_folder))
        records.extend(read_predictions(log_folder, report))
    found = {
        "folders": [str(f) for f in folders],
        "records": len(records),
        "parquet_files": parquet,
        "segments": segments,
        "segments_still_open": still_open,
        "damaged_lines": report.damaged,
        "unreadable_files": report.unreadable,
        "retention_drops": dropped,
    }
    return records, found


def longest_gap(times: list[float], start: float, end: float) -> tuple[float, float]:
    """The longest time without an answer between ``start`` and ``end`` (``times`` sorted), and
    when it ended."""
    inside = [start, *(t for t in times if start < t < end), end]
    return max((b - a, b) for a, b in itertools.pairwise(inside))


def analyse(
    results: list[tuple[str, int | str, float, float]],
    records: list[dict[str, Any]],
    run: str,
    events: list[dict[str, Any]],
    start: float,
    end: float,
) -> dict[str, Any]:
    outcome = {rid: (o, sent, answered) for rid, o, sent, answered in results}
    ok_times = sorted(answered for _, o, _, answered in results if o == 200)
    acked = {rid for rid, (o, _, _) in outcome.items() if o == 200}
    failed = collections.Counter(o for o, _, _ in outcome.values() if isinstance(o, str))
    groups = collections.Counter()
    for kind, count in failed.items():
        groups[kind.split(":", 1)[0]] += count
    other_status = collections.Counter(
        str(o) for o, _, _ in outcome.values() if isinstance(o, int) and o != 200
    )

    ours = [r for r in records if str(r.get("id", "")).startswith(f"{run}-")]
    logged: dict[str, list[int]] = collections.defaultdict(list)
    for r in ours:
        logged[r["id"]].append(r.get("status"))
    logged_ok = {rid for rid, statuses in logged.items() if 200 in statuses}
    lost = sorted(acked - logged_ok)
    unacked = sorted(logged_ok - acked)

    def rel(t: float) -> float:
        return round(t - start, 3)

    def fate(rid: str) -> dict[str, Any]:
        if rid not in outcome:
            return {"id": rid, "client": "never sent"}
        o, sent, answered = outcome[rid]
        return {"id": rid, "client": o, "sent_s": rel(sent), "answered_s": rel(answered)}

    kills = []
    for i, event in enumerate(events):
        at = event["at"]
        until = events[i + 1]["at"] if i + 1 < len(events) else end
        before = max((t for t in ok_times if t <= at), default=start)
        after = next((t for t in ok_times if t > at), None)
        in_window = collections.Counter(
            o if isinstance(o, str) else str(o)
            for o, sent, answered in outcome.values()
            if o != 200 and at <= answered < until
        )
        gap, gap_end = longest_gap(ok_times, before, until)
        kills.append(
            {
                "what": event["what"],
                "pid": event["pid"],
                "at_s": rel(at),
                "first_answer_after_s": None if after is None else round(after - at, 3),
                "longest_gap_s": round(gap, 3),
                "longest_gap_ends_after_s": round(gap_end - at, 3),
                "failures_until_next": dict(in_window),
            }
        )
    seconds = end - start
    return {
        "load_seconds": round(seconds, 2),
        "sent": len(outcome),
        "acknowledged": len(acked),
        "throughput_rps": round(len(acked) / seconds, 1),
        "failed": dict(groups),
        "failed_detail": dict(failed),
        "other_status": dict(other_status),
        "acknowledged_not_logged": len(lost),
        "acknowledged_not_logged_ids": [fate(rid) for rid in lost[:EXAMPLES]],
        "logged_200_not_acknowledged": len(unacked),
        "logged_200_not_acknowledged_fate": dict(
            collections.Counter(str(fate(rid)["client"]) for rid in unacked)
        ),
        "logged_200_not_acknowledged_examples": [fate(rid) for rid in unacked[:EXAMPLES]],
        "logged_other_status": dict(
            collections.Counter(
                str(s) for statuses in logged.values() for s in statuses if s != 200
            )
        ),
        "logged_twice": sum(len(s) > 1 for s in logged.values()),
        "sent_not_logged": len(set(outcome) - set(logged)),
        "records_not_of_this_run": len(records) - len(ours),
        "longest_gap_s": round(longest_gap(ok_times, start, end)[0], 3),
        "kills": kills,
    }


def measure(
    ws: Any, replicas: int, body: bytes, args: argparse.Namespace, log: Any
) -> dict[str, Any]:
    name = f"load{replicas}"
    run = f"{name}-{secrets.token_hex(3)}"
    info = ws.deployments.deploy("churn:1", name=name, replicas=replicas)
    folder = Path(info.folder)
    log(f"{replicas} replica(s): running on port {info.port}; settling {args.settle:g} s")
    time.sleep(args.settle)
    stop = threading.Event()
    clients = [Client(i, run, info.host, info.port, body, stop) for i in range(args.connections)]
    events: list[dict[str, Any]] = []
    looks: list[tuple[float, str]] = []
    duration = args.duration
    try:
        start = time.monotonic()
        for client in clients:
            client.start()
        log(f"{replicas} replica(s): {args.connections} connections for {duration:g} s")
        for share in REPLICA_KILLS:
            sleep_until(start + share * duration)
            pid = oldest_replica(folder)
            at = time.monotonic()
            if pid is not None:
                os.kill(pid, signal.SIGKILL)
            events.append({"what": "replica", "pid": pid, "at": at})
            log(f"{replicas} replica(s): t={at - start:.1f} s replica {pid} killed")
        sleep_until(start + SUPERVISOR_KILL * duration)
        supervisor = _status(folder)["pid"]
        at = time.monotonic()
        if is_running(supervisor, SUPERVISOR_MODULE):
            os.kill(supervisor, signal.SIGKILL)
        else:
            supervisor = None
        events.append({"what": "supervisor", "pid": supervisor, "at": at})
        log(f"{replicas} replica(s): t={at - start:.1f} s supervisor {supervisor} killed")
        killed = at
        # A face looks every --look seconds (and restarts the deployment); the load runs for
        # --duration, longer until a request is answered after the face saw it running again
        # (answers just after the kill come from the draining replicas).
        back: float | None = None
        while True:
            now = time.monotonic()
            answered = back is not None and max(c.last_ok for c in clients) > back
            if now >= start + duration and (answered or now >= killed + REVIVE_WAIT):
                break
            time.sleep(min(args.look, max(0.05, start + duration - now)))
            if time.monotonic() - (looks[-1][0] if looks else killed) >= args.look:
                state = {d.name: d.state for d in ws.deployments.list()}[name]  # a face looks
                looks.append((time.monotonic(), state))
                if state == "running" and back is None:
                    back = looks[-1][0]
        stop.set()
        end = time.monotonic()
        for client in clients:
            client.join(timeout=TIMEOUT + 10)
        stuck = sum(c.is_alive() for c in clients)
        log(f"{replicas} replica(s): load stopped after {end - start:.1f} s")
        running = wait_running(ws, name, args.look)
        state_after = ws.deployments.get(name).state
    finally:
        stop.set()
        ws.deployments.stop(name)
    records, found = read_log(folder)
    results = [r for c in clients for r in c.results]
    out = {"replicas": replicas, "connections": args.connections, "run": run}
    out.update(analyse(results, records, run, events, start, end))
    out["supervisor_kill"] = {
        "face_looks": [[round(t - killed, 2), s] for t, s in looks],
        "first_seen_running_after_s": None if back is None else round(back - killed, 2),
    }
    out["running_after_load"] = running is not None
    out["state_after_load"] = state_after
    out["clients_still_running_at_stop"] = stuck
    out["id_echo_mismatches"] = sum(c.echo_mismatches for c in clients)
    out["log"] = found
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--replicas", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument(
        "--settle", type=float, default=35.0, help="seconds between deploy and load"
    )
    parser.add_argument("--look", type=float, default=2.0, help="seconds between a face's looks")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)

    def log(message: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)

    found_versions = versions()  # before the run: a failure here costs nothing
    with tempfile.TemporaryDirectory(prefix="bench-kill-load-") as tmp:
        built = build_workspace(Path(tmp) / "ws", log)
        ws, test = built["ws"], built["test"]
        body = json.dumps({"inputs": test[:1].tolist()}).encode()
        results = [measure(ws, n, body, args, log) for n in args.replicas]
    result = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": " ".join(["python", "benchmarks/bench_kill_load.py", *(argv or sys.argv[1:])]),
        "machine": machine(),
        "versions": found_versions,
        "load_1min": round(os.getloadavg()[0], 2),
        "timeout_seconds": TIMEOUT,
        "look_seconds": args.look,
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    for r in results:
        print(
            f"\n{r['replicas']} replica(s), {r['connections']} connections, "
            f"{r['load_seconds']:g} s: {r['sent']} sent, {r['acknowledged']} acknowledged "
            f"({r['throughput_rps']:g}/s); failed {r['failed'] or 0}, "
            f"other statuses {r['other_status'] or 0}"
        )
        print(
            f"  acknowledged not logged: {r['acknowledged_not_logged']}; logged 200 not "
            f"acknowledged: {r['logged_200_not_acknowledged']} "
            f"{r['logged_200_not_acknowledged_fate'] or ''}; damaged lines "
            f"{r['log']['damaged_lines']}; logged twice {r['logged_twice']}"
        )
        print(f"  longest gap without an answer: {r['longest_gap_s']} s")
        for k in r["kills"]:
            print(
                f"  {k['what']} killed at {k['at_s']:g} s: first answer after "
                f"{k['first_answer_after_s']} s, longest gap {k['longest_gap_s']} s "
                f"(ended {k['longest_gap_ends_after_s']} s after the kill)"
            )
    print(f"\nwritten to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
