"""Benchmark of the model server's gRPC service (Open Inference Protocol v2) next to its REST one.

Run from the repository root::

    python benchmarks/bench_grpc.py                  # 2 rounds, 10 s per throughput figure
    python benchmarks/bench_grpc.py --duration 3 --rounds 1 --out /tmp/grpc.json

One deployment of the model of ``bench_serving.py`` (``GradientBoostingClassifier``, 100 trees, 10
float features, registered as ``churn``): ``ws.deployments.deploy("churn:1", replicas=2)``, the
prediction log on. Before timing, the gRPC answers for 1 row and 1,000 rows must equal the REST
answers and ``clf.predict`` in this process.

Figures per round, one protocol at a time:

a. single row, 1 connection, sequential calls for ``--calls`` requests after 200 warm-up calls:
   p50 and p99. gRPC: a blocking stub on one channel, one ``[1, 10]`` FP64 tensor in raw
   contents (what ``tritonclient.grpc`` sends); REST: ``http.client`` on one keep-alive
   connection, the same tensor as an OIP JSON body. Both clients are thin, so the figures are
   comparable; wrk's single-connection p50 (``bench_serving.py``) is also taken for REST.
b. single row, 16 requests in flight, ``--duration`` seconds: requests/s. gRPC: ``grpc.aio``, 4
   channels (4 HTTP/2 connections, spread over the replicas by ``SO_REUSEPORT``) with 4 calls in
   flight on each; REST: ``wrk -t2 -c16``. The gRPC load comes from Python in this process: its
   CPU is recorded, as wrk's is, since on 2 cores the client competes with the server.

Server CPU per request comes from /proc (supervisor and replicas). Results go to
``benchmarks/results/grpc.json`` with the machine, versions and command; a table is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import http.client
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_serving import (  # a sibling script
    TICK,
    build_workspace,
    cpu_ticks,
    machine,
    process_tree,
    run_wrk,
    v2_body,
    versions,
)

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "results" / "grpc.json"
METHOD = "/inference.GRPCInferenceService/ModelInfer"


def infer_request(x: np.ndarray) -> bytes:
    from jupyter_mlops.serving import oip

    request = oip.ModelInferRequest(model_name="churn")
    request.inputs.add(name="input-0", datatype="FP64", shape=list(x.shape))
    request.raw_input_contents.append(np.ascontiguousarray(x, dtype="<f8").tobytes())
    return bytes(request.SerializeToString())


def answer_values(data: bytes) -> np.ndarray:
    from jupyter_mlops.serving import oip

    response = oip.ModelInferResponse.FromString(data)
    return np.frombuffer(response.raw_output_contents[0], dtype=np.int64)


def percentiles(times: list[float]) -> dict[str, float]:
    times = sorted(times)
    return {
        "p50_ms": round(1000 * statistics.median(times), 3),
        "p99_ms": round(1000 * times[int(0.99 * (len(times) - 1))], 3),
        "mean_ms": round(1000 * statistics.fmean(times), 3),
    }


def grpc_sequential(target: str, body: bytes, calls: int) -> dict[str, Any]:
    import grpc

    with grpc.insecure_channel(target) as channel:
        call = channel.unary_unary(METHOD)  # bytes in, bytes out: no client-side messages
        for _ in range(200):
            call(body)
        times = []
        for _ in range(calls):
            t = time.perf_counter()
            call(body)
            times.append(time.perf_counter() - t)
    return {"calls": calls, **percentiles(times)}


def rest_sequential(url: str, body: bytes, calls: int) -> dict[str, Any]:
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port))
    headers = {"Content-Type": "application/json"}
    path = "/v2/models/churn/infer"

    def once() -> None:
        conn.request("POST", path, body, headers)
        response = conn.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"REST answered {response.status}")

    for _ in range(200):
        once()
    times = []
    for _ in range(calls):
        t = time.perf_counter()
        once()
        times.append(time.perf_counter() - t)
    conn.close()
    return {"calls": calls, **percentiles(times)}


async def _grpc_load(
    target: str, body: bytes, duration: float, channels: int, inflight: int
) -> int:
    import grpc

    opened = [grpc.aio.insecure_channel(target) for _ in range(channels)]
    done = 0
    stop_at = time.monotonic() + duration

    async def worker(channel: Any) -> None:
        nonlocal done
        call = channel.unary_unary(METHOD)
        while time.monotonic() < stop_at:
            await call(body)
            done += 1

    try:
        await asyncio.gather(*(worker(c) for c in opened for _ in range(inflight)))
    finally:
        for c in opened:
            await c.close()
    return done


def grpc_throughput(target: str, body: bytes, duration: float, pids: list[int]) -> dict[str, Any]:
    asyncio.run(_grpc_load(target, body, 2.0, 4, 4))  # warm-up
    before_server = cpu_ticks(pids)
    before_self = resource.getrusage(resource.RUSAGE_SELF)
    t = time.perf_counter()
    requests = asyncio.run(_grpc_load(target, body, duration, 4, 4))
    seconds = time.perf_counter() - t
    after_self = resource.getrusage(resource.RUSAGE_SELF)
    server_cpu = (cpu_ticks(pids) - before_server) / TICK
    client_cpu = (after_self.ru_utime + after_self.ru_stime) - (
        before_self.ru_utime + before_self.ru_stime
    )
    return {
        "requests": requests,
        "seconds": round(seconds, 3),
        "rps": round(requests / seconds, 1),
        "server_cpu_ms_per_request": round(1000 * server_cpu / max(requests, 1), 3),
        "client_cpu_s": round(client_cpu, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per load figure")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--calls", type=int, default=3000, help="sequential calls of figure a")
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)

    def log(message: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)

    with tempfile.TemporaryDirectory(prefix="bench-grpc-") as tmp:
        built = build_workspace(Path(tmp) / "ws", log)
        ws, clf, test = built["ws"], built["clf"], built["test"]
        info = ws.deployments.deploy("churn:1", name="churn", replicas=args.replicas)
        try:
            assert info.grpc_url is not None
            status = json.loads((Path(info.folder) / "status.json").read_text())
            pids = process_tree([int(status["pid"])])
            # The same answers through both protocols, and clf's own.
            import grpc

            with grpc.insecure_channel(info.grpc_url) as channel:
                call = channel.unary_unary(METHOD)
                for rows in (test[:1], test[:1000]):
                    got = answer_values(call(infer_request(rows)))
                    rest = json.loads(_post(info.url, v2_body(rows)).decode())["outputs"][0]["data"]
                    if not (np.array_equal(got, clf.predict(rows)) and got.tolist() == rest):
                        raise RuntimeError("gRPC, REST and clf.predict disagree")
            log(f"answers agree; deployment at {info.url}, gRPC at {info.grpc_url}")
            single = test[:1]
            grpc_body, rest_body = infer_request(single), v2_body(single)
            rounds = []
            work = Path(tmp)
            for r in range(args.rounds):
                figures: dict[str, Any] = {"load_1min": round(os.getloadavg()[0], 2)}
                figures["grpc_1conn"] = grpc_sequential(info.grpc_url, grpc_body, args.calls)
                figures["rest_1conn"] = rest_sequential(info.url, rest_body, args.calls)
                url = f"{info.url}/v2/models/churn/infer"
                figures["rest_1conn_wrk"] = run_wrk(
                    url, [rest_body], threads=1, connections=1, duration=args.duration,
                    work=work, pids=pids,
                )  # fmt: skip
                figures["grpc_16"] = grpc_throughput(info.grpc_url, grpc_body, args.duration, pids)
                figures["rest_16_wrk"] = run_wrk(
                    url, [rest_body], threads=2, connections=16, duration=args.duration,
                    work=work, pids=pids,
                )  # fmt: skip
                rounds.append(figures)
                log(
                    f"round {r + 1}: gRPC p50 {figures['grpc_1conn']['p50_ms']} ms, REST p50 "
                    f"{figures['rest_1conn']['p50_ms']} ms (wrk "
                    f"{figures['rest_1conn_wrk']['p50_ms']}); 16 in flight: gRPC "
                    f"{figures['grpc_16']['rps']} req/s, REST {figures['rest_16_wrk']['rps']}"
                )
        finally:
            ws.deployments.stop("churn")
    result = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": " ".join(["python", "benchmarks/bench_grpc.py", *(argv or sys.argv[1:])]),
        "machine": machine(),
        "versions": versions(),
        "replicas": args.replicas,
        "rounds": rounds,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\n{'figure':46} " + " ".join(f"round {i + 1:<6}" for i in range(len(rounds))))
    for label, key, field in (
        ("gRPC single row, 1 conn, p50 ms", "grpc_1conn", "p50_ms"),
        ("REST (OIP JSON) single row, 1 conn, p50 ms", "rest_1conn", "p50_ms"),
        ("REST single row, 1 conn, p50 ms (wrk)", "rest_1conn_wrk", "p50_ms"),
        ("gRPC single row, 16 in flight, req/s", "grpc_16", "rps"),
        ("REST single row, 16 conns, req/s (wrk)", "rest_16_wrk", "rps"),
        ("gRPC server CPU ms/request", "grpc_16", "server_cpu_ms_per_request"),
        ("REST server CPU ms/request", "rest_16_wrk", "server_cpu_ms_per_request"),
    ):
        print(f"{label:46} " + " ".join(f"{r[key][field]:<12}" for r in rounds))
    print(f"\nwritten to {args.out}")
    return 0


def _post(url: str, body: bytes) -> bytes:
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port))
    conn.request("POST", "/v2/models/churn/infer", body, {"Content-Type": "application/json"})
    data = conn.getresponse().read()
    conn.close()
    return data


if __name__ == "__main__":
    sys.exit(main())
