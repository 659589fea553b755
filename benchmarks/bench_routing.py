"""Benchmark of A/B routing in the model server: what an experiment costs a request.

Run from the repository root::

    python benchmarks/bench_routing.py                      # ~5 minutes
    python benchmarks/bench_routing.py --duration 5 --rounds 1 --out /tmp/routing.json

The model is the one of ``bench_serving.py`` (a ``GradientBoostingClassifier``, 100 trees, on 10
float features), registered twice as ``churn`` v1 (champion) and v2 (challenger), so both variants
do the same work. Figures:

a. **Routing decision, in-process** (``--iterations``, best of 5 blocks): on one deployment's
   two versions, the choice without an experiment (``ModelServer.choose``: weights 90/10,
   random) and with one (experiment 90/10 sticky by ``user_id``: read the key from the decoded
   first row, :func:`sticky_point`, choose, drop the key column); microseconds per request.
b. **Whole request, in-process** (the Starlette app called as ASGI, no network; prediction log
   on): single-row ``/invocations`` on the same two versions without and with the experiment,
   blocks of 1,000 interleaved, the fastest block of each (the medians are kept too); the
   difference is the experiment's whole cost
   (routing, the key column removed, the variant in the body and headers, four more fields in
   the log).
c. **100,000 assignments**: the challenger's share at 90/10, random and sticky (100,000 keys).
d. **Shadow, in-process**: per-request latency of the champion's answers (ASGI, as b) for the
   experiment without and with shadow mode (champion 100, challenger 0: the challenger predicts
   a copy of each request on the shadow thread, in micro-batches), blocks interleaved; p50, p99.
e. **End to end** (``wrk -t1 -c1``, ``--duration`` seconds per figure, ``--rounds`` rounds, a
   3 s warm-up first): three deployments of ``--replicas`` replicas on the same two versions,
   one without an experiment, one moved by ``Deployments.route`` into the experiment 90/10
   sticky (1,000 users cycling in the bodies), one into shadow mode. Each round measures the
   three in turn (the order rotating), and a change is the median over rounds of the two
   figures' ratio in the same round: on a shared machine the load moves between rounds, less
   within one.

The targets: routing overhead <= 0.05 ms per request (a, b), weights within 1 point over 100k
(c), shadow adds <= 10 % to the champion's p50 (d and e, against the experiment without it).
Results go to ``benchmarks/results/routing.json`` with the machine, versions, date and command.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import random
import shlex
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_serving as bs  # noqa: E402  (the shared helpers of the serving benchmark)

DEFAULT_OUT = HERE / "results" / "routing.json"
TARGETS = {"routing_overhead_ms": 0.05, "split_error_points": 1.0, "shadow_p50_increase": 0.10}
USERS = 1000


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def rows(test: np.ndarray, n: int, users: bool) -> list[bytes]:
    """Single-row ``dataframe_records`` bodies (with a ``user_id`` when ``users``)."""
    out = []
    for i in range(n):
        row: dict[str, Any] = {
            c: float(v) for c, v in zip(bs.COLUMNS, test[i % len(test)], strict=True)
        }
        if users:
            row["user_id"] = f"user-{i % USERS}"
        out.append(json.dumps({"dataframe_records": [row]}).encode())
    return out


# -- in-process ---------------------------------------------------------------------------------


def specs(ws: Any, folder: Path) -> tuple[Any, Any, Any]:
    """The same two versions without an experiment, with one, and in shadow mode."""
    from jupyter_mlops.serving.schemas import Routing
    from jupyter_mlops.serving.spec import ServedVersionSpec, ServerSpec

    def version(v: int, weight: float) -> ServedVersionSpec:
        _, path = ws.registry.locate(f"churn:{v}")
        return ServedVersionSpec(name="churn", version=v, path=str(path), weight=weight)

    rules = Routing(
        experiment_id="bench",
        variants={"champion": "churn:1", "challenger": "churn:2"},
        sticky_key="user_id",
    )
    base = dict(deployment="bench", segment_seconds=None)
    plain = ServerSpec(
        models=[version(1, 90), version(2, 10)], prediction_log=str(folder / "plain"), **base
    )
    routed = ServerSpec(
        models=[version(1, 90), version(2, 10)],
        prediction_log=str(folder / "routed"),
        routing=rules,
        **base,
    )
    shadow = ServerSpec(
        models=[version(1, 100), version(2, 0)],
        prediction_log=str(folder / "shadow"),
        routing=rules.model_copy(update={"shadow": True}),
        **base,
    )
    return plain, routed, shadow


def decision_cost(plain: Any, routed: Any, body: bytes, iterations: int) -> dict[str, Any]:
    """Microseconds per routing decision without and with the experiment (best of 5)."""
    from jupyter_mlops.serving import codec
    from jupyter_mlops.serving.app import sticky_point

    headers: dict[str, str] = {}

    def without() -> None:
        choose = plain.choose
        for _ in range(iterations):
            choose("", None)

    def with_experiment() -> None:
        choose = routed.choose
        experiment = routed.experiment
        first = choose("", 0.0)
        batch = codec.decode_mlflow(body, first.columns)
        for _ in range(iterations):
            decoded_by = choose("", 0.0)
            key = experiment.key(batch, headers)
            point = None if key is None else sticky_point(experiment.id, key)
            model = choose("", point)
            if model.columns != decoded_by.columns:
                raise AssertionError("the versions share their columns")
            experiment.fit(batch, model)

    out: dict[str, Any] = {"iterations": iterations}
    for label, fn in (("without_experiment", without), ("with_experiment", with_experiment)):
        best = float("inf")
        for _ in range(5):
            t0 = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - t0)
        out[f"{label}_us"] = round(best / iterations * 1e6, 3)
    out["overhead_us"] = round(out["with_experiment_us"] - out["without_experiment_us"], 3)
    return out


async def _asgi_post(app: Any, body: bytes) -> int:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/invocations",
        "raw_path": b"/invocations",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8080),
    }
    done = False
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal done
        if not done:
            done = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


def request_cost(
    servers: dict[str, Any], bodies: dict[str, list[bytes]], per_block: int, blocks: int
) -> dict[str, Any]:
    """Milliseconds per in-process request of each server; blocks interleaved, median."""

    async def block(server: Any, payload: list[bytes]) -> float:
        t0 = time.perf_counter()
        for i in range(per_block):
            status = await _asgi_post(server.app, payload[i % len(payload)])
            if status != 200:
                raise RuntimeError(f"status {status}")
        return (time.perf_counter() - t0) / per_block

    times: dict[str, list[float]] = {k: [] for k in servers}

    async def run() -> None:
        for label, server in servers.items():  # warm-up
            await block(server, bodies[label])
        for _ in range(blocks):
            for label, server in servers.items():
                times[label].append(await block(server, bodies[label]))

    asyncio.run(run())
    out: dict[str, Any] = {"requests_per_block": per_block, "blocks": blocks}
    for label, values in times.items():
        out[f"{label}_ms"] = round(min(values) * 1000, 4)
        out[f"{label}_median_ms"] = round(statistics.median(values) * 1000, 4)
    # The least disturbed block of each is its cost; the medians show how loaded the machine was.
    out["overhead_ms"] = round(out["with_experiment_ms"] - out["without_experiment_ms"], 4)
    out["overhead_median_ms"] = round(
        out["with_experiment_median_ms"] - out["without_experiment_median_ms"], 4
    )
    return out


def split(plain: Any, routed: Any, n: int = 100_000) -> dict[str, Any]:
    """The challenger's share of n assignments at 90/10, random and sticky."""
    from jupyter_mlops.serving.app import sticky_point

    random.seed(0)
    chosen = Counter(plain.choose("", None).label for _ in range(n))
    sticky = Counter(routed.choose("", sticky_point("bench", f"user-{i}")).label for i in range(n))
    random_share = chosen["churn:2"] / n * 100
    sticky_share = sticky["churn:2"] / n * 100
    return {
        "assignments": n,
        "challenger_weight_percent": 10.0,
        "random_challenger_percent": round(random_share, 3),
        "sticky_challenger_percent": round(sticky_share, 3),
        "max_error_points": round(max(abs(random_share - 10), abs(sticky_share - 10)), 3),
    }


# -- end to end ------------------------------------------------------------------------------------


def end_to_end(
    ws: Any, test: np.ndarray, work: Path, duration: float, rounds: int, replicas: int
) -> dict[str, Any]:
    """wrk p50/p99 of three deployments of the same versions, measured in turns (the order
    rotating each round) so that each round's three figures share the machine's load."""
    from jupyter_mlops.serving.schemas import RouteRequest, VariantRequest

    def route(champion: float, shadow: bool) -> RouteRequest:
        return RouteRequest(
            experiment_id="bench",
            variants=[
                VariantRequest(variant="champion", model="churn:1", weight=champion),
                VariantRequest(variant="challenger", model="churn:2", weight=100 - champion),
            ],
            sticky_key="user_id",
            shadow=shadow,
        )

    bodies = {
        "none": rows(test, USERS, users=False),
        "experiment": rows(test, USERS, users=True),
        "shadow": rows(test, USERS, users=True),
    }
    names = {mode: f"bench-{mode}" for mode in bodies}
    urls: dict[str, str] = {}
    pids: dict[str, list[int]] = {}
    results: dict[str, list[dict[str, Any]]] = {mode: [] for mode in bodies}
    try:
        for mode, name in names.items():
            info = ws.deployments.deploy("churn:1", name=name, replicas=replicas)
            if mode != "none":  # moved into its experiment as the A/B service would
                ws.deployments.route(name, route(100 if mode == "shadow" else 90, mode == "shadow"))
            urls[mode] = f"{info.url}/invocations"
            # Once the generation before the experiment has exited (it would refuse the bodies'
            # user_id column: no experiment, no sticky key), a warm-up.
            pids[mode] = settled(supervisor(info.folder), replicas)
            bs.run_wrk(urls[mode], bodies[mode], threads=1, connections=1, duration=3, work=work,
                       pids=[])  # fmt: skip
        order = list(bodies)
        for rnd in range(rounds):
            for mode in order[rnd % 3 :] + order[: rnd % 3]:
                r = bs.run_wrk(
                    urls[mode],
                    bodies[mode],
                    threads=1,
                    connections=1,
                    duration=duration,
                    work=work,
                    pids=pids[mode],
                )
                if r["errors"]:
                    raise RuntimeError(f"{mode}: {r['errors']} errors: {r['error_detail']}")
                results[mode].append(r)
                log(
                    f"round {rnd + 1} {mode:<10} p50 {r['p50_ms']:.3f} ms  p99 {r['p99_ms']:.3f} "
                    f"ms  {r['rps']:.0f} req/s  cpu {r['server_cpu_ms_per_request']:.3f} ms/req"
                )
        shadow_log = shadow_records(ws.state_dir / "predictions" / names["shadow"])
    finally:
        for name in names.values():
            with contextlib.suppress(Exception):
                ws.deployments.stop(name)
    out: dict[str, Any] = {"replicas": replicas, "duration_s": duration, "rounds": rounds}
    for mode, runs in results.items():
        out[mode] = {
            "p50_ms": round(statistics.median(r["p50_ms"] for r in runs), 3),
            "p99_ms": round(statistics.median(r["p99_ms"] for r in runs), 3),
            "rps": round(statistics.median(r["rps"] for r in runs), 1),
            "server_cpu_ms_per_request": round(
                statistics.median(r["server_cpu_ms_per_request"] for r in runs), 3
            ),
            "runs": runs,
        }

    def change(a: str, b: str) -> float:
        """The median over rounds of a's p50 against b's in the same round, minus 1."""
        ratios = [x["p50_ms"] / y["p50_ms"] for x, y in zip(results[a], results[b], strict=True)]
        return round(statistics.median(ratios) - 1, 4)

    out["experiment_p50_change"] = change("experiment", "none")
    out["shadow_p50_change"] = change("shadow", "experiment")
    out["shadow_p50_change_vs_no_experiment"] = change("shadow", "none")
    out["shadow_log"] = shadow_log
    return out


def shadow_latency(
    routed: Any, shadowed: Any, bodies: list[bytes], per_block: int, blocks: int
) -> dict[str, Any]:
    """In-process p50 of the champion's answers with the shadow thread working alongside (the
    experiment without shadow against the same in shadow mode), blocks interleaved."""

    async def block(server: Any, into: list[float]) -> None:
        for i in range(per_block):
            t0 = time.perf_counter()
            await _asgi_post(server.app, bodies[i % len(bodies)])
            into.append(time.perf_counter() - t0)
            await asyncio.sleep(0)

    times: dict[str, list[float]] = {"experiment": [], "shadow": []}

    async def run() -> None:
        await block(routed, [])
        await block(shadowed, [])
        for _ in range(blocks):
            await block(routed, times["experiment"])
            await block(shadowed, times["shadow"])
        await asyncio.sleep(0.5)  # the last copies are predicted

    asyncio.run(run())
    out: dict[str, Any] = {"requests": per_block * blocks}
    for mode, values in times.items():
        out[f"{mode}_p50_ms"] = round(float(np.percentile(values, 50)) * 1000, 4)
        out[f"{mode}_p99_ms"] = round(float(np.percentile(values, 99)) * 1000, 4)
    out["shadow_p50_change"] = round(out["shadow_p50_ms"] / out["experiment_p50_ms"] - 1, 4)
    out["shadow_copies_skipped"] = shadowed.experiment.skipped
    return out


def supervisor(folder: str) -> int:
    return int(json.loads((Path(folder) / "status.json").read_text())["pid"])


def settled(pid: int, replicas: int, timeout: float = 30.0) -> list[int]:
    """The deployment's processes once the previous generation has exited (its CPU would
    otherwise vanish from the count mid-run)."""
    deadline = time.monotonic() + timeout
    while True:
        pids = bs.process_tree([pid])
        if len(pids) <= 1 + replicas or time.monotonic() > deadline:
            return pids
        time.sleep(0.2)


def shadow_records(folder: Path) -> dict[str, Any]:
    """How many answered and shadow rows the log holds (the shadows kept up or were skipped)."""
    from jupyter_mlops.serving.predictions import query_window

    table = query_window(
        folder,
        "SELECT coalesce(shadow, false) AS shadow, count(*) AS n, "
        "count(*) FILTER (WHERE status <> 200) AS failed FROM predictions GROUP BY ALL",
    )
    return {
        ("shadow" if s else "answered"): {"rows": n, "failed": f}
        for s, n, f in zip(*(table[c].to_pylist() for c in ("shadow", "n", "failed")), strict=True)
    }


# -- main ------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="What an A/B experiment costs a request.")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per wrk figure")
    parser.add_argument("--rounds", type=int, default=6, help="rounds of the wrk figures")
    parser.add_argument("--replicas", type=int, default=1)
    parser.add_argument("--iterations", type=int, default=200_000, help="routing decisions")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="bench-routing-") as tmp:
        work = Path(tmp)
        built = bs.build_workspace(work / "ws", log)
        ws, test = built["ws"], built["test"]
        run_id = ws.registry.locate("churn:1")[0].run_id
        ws.registry.register(run_id, "churn")  # v2: the same model, so both variants cost alike
        from jupyter_mlops.serving.app import ModelServer
        from jupyter_mlops.serving.predlog import PredictionLog

        plain_spec, routed_spec, shadow_spec = specs(ws, work / "logs")
        servers: dict[str, Any] = {}
        logs = []
        for label, spec in (
            ("without_experiment", plain_spec),
            ("with_experiment", routed_spec),
            ("shadow", shadow_spec),
        ):
            plog = PredictionLog(Path(spec.prediction_log), fsync_interval=1.0)
            logs.append(plog)
            servers[label] = ModelServer(spec, prediction_log=plog)
        body = rows(test, 1, users=True)[0]
        decision = decision_cost(
            servers["without_experiment"], servers["with_experiment"], body, args.iterations
        )
        log(f"routing decision: {decision}")
        request = request_cost(
            {k: servers[k] for k in ("without_experiment", "with_experiment")},
            {
                "without_experiment": rows(test, 200, users=False),
                "with_experiment": rows(test, 200, users=True),
            },
            per_block=1000,
            blocks=20,
        )
        log(f"whole request in-process: {request}")
        shadow_in_process = shadow_latency(
            servers["with_experiment"],
            servers["shadow"],
            rows(test, 200, users=True),
            per_block=1000,
            blocks=10,
        )
        log(f"shadow in-process: {shadow_in_process}")
        assignments = split(servers["without_experiment"], servers["with_experiment"])
        log(f"100k assignments: {assignments}")
        for plog in logs:
            plog.close()
        e2e = end_to_end(ws, test, work, args.duration, args.rounds, args.replicas)
    overhead_ms = max(decision["overhead_us"] / 1000, request["overhead_ms"])
    targets = [
        {
            "figure": "routing overhead per request (ms; the larger of a and b)",
            "value": round(overhead_ms, 4),
            "target": f"<= {TARGETS['routing_overhead_ms']}",
            "met": overhead_ms <= TARGETS["routing_overhead_ms"],
        },
        {
            "figure": "weights over 100k assignments (max error, points)",
            "value": assignments["max_error_points"],
            "target": f"<= {TARGETS['split_error_points']}",
            "met": assignments["max_error_points"] <= TARGETS["split_error_points"],
        },
        {
            "figure": "shadow's change of the champion's p50 (vs the experiment without shadow; "
            "end to end, median of the rounds' ratios)",
            "value": e2e["shadow_p50_change"],
            "target": f"<= {TARGETS['shadow_p50_increase']}",
            "met": e2e["shadow_p50_change"] <= TARGETS["shadow_p50_increase"],
        },
        {
            "figure": "shadow's change of the champion's p50 (in-process, per request)",
            "value": shadow_in_process["shadow_p50_change"],
            "target": f"<= {TARGETS['shadow_p50_increase']}",
            "met": shadow_in_process["shadow_p50_change"] <= TARGETS["shadow_p50_increase"],
        },
    ]
    result = {
        "benchmark": "routing",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": " ".join(shlex.quote(a) for a in ["python", *sys.argv]),
        "seconds": round(time.time() - started, 1),
        "machine": bs.machine(),
        "load_1min_at_end": round(os.getloadavg()[0], 2),
        "versions": bs.versions(),
        "model": "GradientBoostingClassifier(100 trees, depth 3), 10 float features; churn v1 "
        "and v2 are the same model",
        "decision": decision,
        "request_in_process": request,
        "split_100k": assignments,
        "shadow_in_process": shadow_in_process,
        "end_to_end": e2e,
        "targets": targets,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    for t in targets:
        log(f"{'met ' if t['met'] else 'MISS'} {t['figure']}: {t['value']} (target {t['target']})")
    log(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
