"""Benchmark: normal clients of a deployment while slow clients hold 20,000 connections to it.

Run from the repository root::

    python benchmarks/bench_slow_clients.py                       # 20,000 slow connections
    python benchmarks/bench_slow_clients.py --slow 2000 --duration 10 --out /tmp/slow.json

One deployment of the model of ``bench_serving.py`` (``churn:1``, ``--replicas`` 2). The attack
runs in ``--attackers`` processes (each keeps its share of ``--slow`` connections open): every
connection sends the first line and one header of a POST, then one more header line every
``--trickle`` seconds and never ends the headers (a slowloris); a connection the server closes is
opened again at once. Meanwhile, and before the attack for a baseline, a normal client sends
single-row ``/invocations`` requests one after the other for ``--duration`` seconds, each on a
new connection (a new client, as a load balancer's health check or a browser would be), with a
5 s timeout. Figures: the normal client's p50, p99, success rate and requests answered; the
slow connections open at the end and how many the server closed.

Results go to ``benchmarks/results/slow_clients.json`` with the machine and command.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import errno
import http.client
import json
import multiprocessing
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_serving import build_workspace, machine, versions  # a sibling script

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "results" / "slow_clients.json"


def attacker(host: str, port: int, count: int, trickle: float, stop: Any, report: Any) -> None:
    """Keep ``count`` slow connections open until ``stop`` is set; report opens and closes."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    counts = {"opened": 0, "closed_by_server": 0, "refused": 0, "open": 0}

    async def one() -> None:
        while not stop.is_set():
            try:
                reader, writer = await asyncio.open_connection(host, port)
            except OSError:
                counts["refused"] += 1
                await asyncio.sleep(0.5)
                continue
            counts["opened"] += 1
            counts["open"] += 1
            try:
                writer.write(b"POST /invocations HTTP/1.1\r\nHost: bench\r\n")
                while not stop.is_set():
                    await writer.drain()
                    try:
                        data = await asyncio.wait_for(reader.read(1), trickle)
                    except TimeoutError:
                        writer.write(b"X-Slow: 1\r\n")  # one more header, never the end
                        continue
                    if not data:  # closed by the server
                        counts["closed_by_server"] += 1
                        break
            except OSError:
                counts["closed_by_server"] += 1
            finally:
                counts["open"] -= 1
                writer.close()

    async def run() -> None:
        tasks = []
        for i in range(count):
            tasks.append(asyncio.create_task(one()))
            if i % 500 == 499:
                await asyncio.sleep(0.05)  # ramp up: the listen backlog is finite
        while not stop.is_set():
            await asyncio.sleep(0.2)
        report.put(dict(counts))
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    asyncio.run(run())


def normal_client(host: str, port: int, body: bytes, duration: float) -> dict[str, Any]:
    """Sequential requests on new connections for ``duration`` seconds."""
    latencies: list[float] = []
    failures: dict[str, int] = {}
    end = time.monotonic() + duration
    sent = 0
    while time.monotonic() < end:
        sent += 1
        t0 = time.perf_counter()
        try:
            conn = http.client.HTTPConnection(host, port, timeout=5)
            conn.request("POST", "/invocations", body, {"Content-Type": "application/json"})
            response = conn.getresponse()
            response.read()
            conn.close()
            if response.status != 200:
                failures[str(response.status)] = failures.get(str(response.status), 0) + 1
                continue
        except OSError as exc:
            kind = errno.errorcode.get(exc.errno or 0, type(exc).__name__)
            failures[kind] = failures.get(kind, 0) + 1
            continue
        latencies.append((time.perf_counter() - t0) * 1000)
    latencies.sort()
    return {
        "sent": sent,
        "answered": len(latencies),
        "success_rate": round(len(latencies) / sent, 4) if sent else None,
        "p50_ms": round(statistics.median(latencies), 2) if latencies else None,
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1], 2) if latencies else None,
        "max_ms": round(latencies[-1], 1) if latencies else None,
        "failures": failures,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--slow", type=int, default=20000, help="slow connections in all")
    parser.add_argument("--attackers", type=int, default=2, help="processes holding them")
    parser.add_argument("--trickle", type=float, default=5.0, help="seconds between headers")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds per figure")
    parser.add_argument("--ramp", type=float, default=15.0, help="seconds to open them first")
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)

    def log(message: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)

    with tempfile.TemporaryDirectory(prefix="bench-slow-") as tmp:
        built = build_workspace(Path(tmp) / "ws", log)
        ws, test = built["ws"], built["test"]
        info = ws.deployments.deploy("churn:1", name="churn", replicas=args.replicas)
        host, port = info.host, info.port
        body = json.dumps({"inputs": test[:1].tolist()}).encode()
        try:
            normal_client(host, port, body, 2.0)  # warm-up
            log("baseline: no slow client")
            baseline = normal_client(host, port, body, args.duration)
            log(f"baseline: {baseline}")
            stop = multiprocessing.Event()
            report: Any = multiprocessing.Queue()
            share = args.slow // args.attackers
            procs = [
                multiprocessing.Process(
                    target=attacker, args=(host, port, share, args.trickle, stop, report)
                )
                for _ in range(args.attackers)
            ]
            for p in procs:
                p.start()
            log(f"{share * args.attackers} slow connections opening over {args.ramp:g} s")
            time.sleep(args.ramp)
            attacked = normal_client(host, port, body, args.duration)
            log(f"under attack: {attacked}")
            stop.set()
            counts = [report.get(timeout=60) for _ in procs]
            for p in procs:
                p.join(timeout=30)
            slow = {k: sum(c[k] for c in counts) for k in counts[0]}
            log(f"slow connections: {slow}")
            after = ws.deployments.get("churn")
        finally:
            ws.deployments.stop("churn")
    result = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": " ".join(
            ["python", "benchmarks/bench_slow_clients.py", *(argv or sys.argv[1:])]
        ),
        "machine": machine(),
        "versions": versions(),
        "replicas": args.replicas,
        "slow_connections": args.slow,
        "trickle_seconds": args.trickle,
        "header_seconds": 10.0,
        "baseline": baseline,
        "under_attack": attacked,
        "slow": slow,
        "deployment_after": {"state": after.state, "restarts": after.restarts},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\n{'figure':40} {'baseline':>12} {'under attack':>14}")
    for key in ("p50_ms", "p99_ms", "max_ms", "success_rate", "answered"):
        print(f"{key:40} {baseline[key]!s:>12} {attacked[key]!s:>14}")
    print(f"\nwritten to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
