"""Benchmark: how long a deployment gives no answer when a replica or its supervisor is killed.

Run from the repository root::

    python benchmarks/bench_kill_gap.py       # 1 replica with and without its spare; 2 replicas
    python benchmarks/bench_kill_gap.py --setups 1 --kills 1 --out /tmp/gap.json

One deployment of the model of ``bench_serving.py`` per setup: ``1`` (one replica and its warm
spare, the default), ``1-nospare`` (one replica, ``deploy(spare=False)``), ``2`` (two replicas).
The spare is asked for at once (``[serving] spare_after_seconds = 0``; by default a deployment
starts it after 30 s) and each kill waits until a spare has had ``--spare-wait`` seconds to
import. A client sends single-row
``/invocations`` requests one after the other, each on a new connection with a 2 s timeout, and
notes when each answer came. ``--kills`` times, a replica is killed with SIGKILL (the one that
has run longest) and the client runs on for ``--after`` seconds; the figure per kill is the
longest time between two answers around it. Then the supervisor is killed with SIGKILL and the
client goes on while a face looks at the deployment every ``--look`` seconds (as the Models
panel's polling does: ``ws.deployments.list()``, which restarts a deployment whose supervisor is
gone); the figure is the longest time without an answer until it runs again.

Results go to ``benchmarks/results/kill_gap.json`` with the machine and command.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import itertools
import json
import os
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_serving import build_workspace, machine, versions  # a sibling script

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "results" / "kill_gap.json"


class Client(threading.Thread):
    """Sequential requests on new connections; keeps the time of every answer."""

    def __init__(self, host: str, port: int, body: bytes) -> None:
        super().__init__(daemon=True)
        self.host, self.port, self.body = host, port, body
        self.answers: list[float] = []
        self.failures = 0
        self.running = True

    def run(self) -> None:
        while self.running:
            try:
                conn = http.client.HTTPConnection(self.host, self.port, timeout=2)
                conn.request(
                    "POST", "/invocations", self.body, {"Content-Type": "application/json"}
                )
                response = conn.getresponse()
                response.read()
                conn.close()
                if response.status == 200:
                    self.answers.append(time.monotonic())
                    continue
            except OSError:
                pass
            self.failures += 1
            time.sleep(0.01)

    def gap(self, start: float, end: float) -> float:
        """The longest time without an answer between ``start`` and ``end``."""
        times = [start, *(t for t in self.answers if start < t < end), end]
        return max(b - a for a, b in itertools.pairwise(times))

    def first_after(self, moment: float) -> float | None:
        return next((t for t in self.answers if t > moment), None)


def replica_pids(folder: Path) -> list[int]:
    status = json.loads((folder / "status.json").read_text())
    return [r["pid"] for r in sorted(status["replicas"], key=lambda r: r["started"])]


def process_age(pid: int) -> float:
    """Seconds since a process started (Linux: /proc/<pid>/stat's start time, in ticks)."""
    ticks = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    uptime = float(Path("/proc/uptime").read_text().split()[0])
    return uptime - ticks / os.sysconf("SC_CLK_TCK")


def wait_for_spare(folder: Path, seconds: float) -> None:
    """Until a warm spare has run ``seconds`` (its imports take a few)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        spare = json.loads((folder / "status.json").read_text()).get("spare_pid")
        if spare:
            left = seconds - process_age(spare)
            if left > 0:
                time.sleep(left)
            return
        time.sleep(0.2)
    raise RuntimeError("no warm spare within 120 s")


def measure(ws: Any, setup: str, body: bytes, args: argparse.Namespace, log: Any) -> dict[str, Any]:
    replicas = int(setup.split("-")[0])
    spare = replicas == 1 and not setup.endswith("nospare")
    name = f"gap-{setup}"
    info = ws.deployments.deploy("churn:1", name=name, replicas=replicas, spare=spare)
    folder = Path(info.folder)
    client = Client(info.host, info.port, body)
    client.start()
    result: dict[str, Any] = {
        "setup": setup,
        "replicas": replicas,
        "warm_spare": spare,
        "replica_kills_gap_s": [],
    }
    try:
        time.sleep(3)  # steady
        for _ in range(args.kills):
            if spare:
                wait_for_spare(folder, args.spare_wait)
            pid = replica_pids(folder)[0]
            killed = time.monotonic()
            os.kill(pid, signal.SIGKILL)
            time.sleep(args.after)
            gap = client.gap(killed - 0.5, time.monotonic())
            result["replica_kills_gap_s"].append(round(gap, 3))
            log(f"{setup}: replica {pid} killed, longest gap {gap:.3f} s")
        supervisor = json.loads((folder / "status.json").read_text())["pid"]
        killed = time.monotonic()
        os.kill(supervisor, signal.SIGKILL)
        # Its replicas drain and exit (they die with it); a face looks every --look seconds and
        # restarts it; the figure is the longest time without an answer until it runs again.
        deadline = killed + 180
        while time.monotonic() < deadline:
            time.sleep(args.look)
            looked = {d.name: d.state for d in ws.deployments.list()}  # a face looks
            if looked[name] == "running":
                break
        time.sleep(2)  # answers again
        result["supervisor_kill_gap_s"] = round(client.gap(killed, time.monotonic()), 3)
        log(f"{setup}: supervisor killed, longest gap {result['supervisor_kill_gap_s']} s")
        result["state_after"] = ws.deployments.get(name).state
        result["failed_requests"] = client.failures
        result["answers"] = len(client.answers)
    finally:
        client.running = False
        client.join(timeout=5)
        ws.deployments.stop(name)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--setups",
        nargs="+",
        choices=["1", "1-nospare", "2"],
        default=["1", "1-nospare", "2"],
        help="1: one replica and its warm spare; 1-nospare: one replica alone; 2: two replicas",
    )
    parser.add_argument(
        "--spare-wait", type=float, default=6.0, help="seconds a spare runs before a kill"
    )
    parser.add_argument("--kills", type=int, default=3, help="replica kills per deployment")
    parser.add_argument("--after", type=float, default=8.0, help="seconds watched after a kill")
    parser.add_argument("--look", type=float, default=2.0, help="seconds between a face's looks")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)

    def log(message: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)

    with tempfile.TemporaryDirectory(prefix="bench-gap-") as tmp:
        built = build_workspace(Path(tmp) / "ws", log)
        ws, test = built["ws"], built["test"]
        ws.deployments.config = ws.config.serving.model_copy(update={"spare_after_seconds": 0.0})
        body = json.dumps({"inputs": test[:1].tolist()}).encode()
        results = [measure(ws, setup, body, args, log) for setup in args.setups]
    result = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": " ".join(["python", "benchmarks/bench_kill_gap.py", *(argv or sys.argv[1:])]),
        "machine": machine(),
        "versions": versions(),
        "load_1min": round(os.getloadavg()[0], 2),
        "look_seconds": args.look,
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    for r in results:
        print(
            f"{r['setup']}: longest gap per replica kill "
            f"{r['replica_kills_gap_s']} s; around the supervisor's kill "
            f"{r['supervisor_kill_gap_s']} s (a face looking every {args.look:g} s)"
        )
    print(f"\nwritten to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
