"""Benchmarks of the tracking figures: the runs list, metric logging through the magic, import time.

Run from the repository root::

    python benchmarks/bench_tracking.py                      # 10,000 runs, results to results/
    python benchmarks/bench_tracking.py --quick              # smoke test: 1,000 runs, few repeats

Figures (targets from the issue):

1. Runs list, first page (50 runs) with N runs in the store: <= 150 ms server time. Measured
   in-process (``ws.tracking.list_runs``), through the real REST endpoint of a ``jupyter server``
   subprocess (client wall time and the server's own request time from its log), and, for
   reference, ``mlflow.search_runs(max_results=1000)`` as pandas.
2. Logging 1,000 metric steps through ``%%mlops run`` in a real kernel: <= 60 ms, compared with
   the time from the loop's start until the values are durable (loop + flush).
3. ``import jupyter_mlops`` in a fresh interpreter and ``%load_ext jupyter_mlops`` in a fresh
   kernel: <= 1 s each.

Every figure reports the median and p95 over its repeats; the JSON file also records the machine,
the Python and MLflow versions, the date and the setup time.
"""

from __future__ import annotations

import argparse
import ast
import cProfile
import datetime as dt
import gc
import io
import json
import logging
import os
import platform
import pstats
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from jupyter_mlops import Workspace

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "results" / "tracking.json"
RUNS_EXPERIMENT = "bench-runs"
PAGE = 50
ORDER_BY = "metrics.accuracy DESC"
FILTER = "metrics.accuracy > 0.9 and params.model = 'gbm'"
STEPS = 1000
# A runs-list call slower than SLOW_MS is repeated only SLOW_REPEATS times.
SLOW_MS = 1000
SLOW_REPEATS = 5
# Runs created through the real path (client.create_run + RunRecorder); the rest are bulk copies.
REAL_RUNS = 100


# -- results ----------------------------------------------------------------------------------


@dataclass
class Figure:
    """One measured number: its samples (ms), its target and what it means."""

    figure: int
    name: str
    samples_ms: list[float]
    target_ms: float | None = None
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def median_ms(self) -> float:
        return statistics.median(self.samples_ms)

    @property
    def p95_ms(self) -> float:
        if len(self.samples_ms) < 2:
            return self.samples_ms[0]
        return statistics.quantiles(self.samples_ms, n=20, method="inclusive")[18]

    @property
    def meets_target(self) -> bool | None:
        return None if self.target_ms is None else self.p95_ms <= self.target_ms

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out.update(
            median_ms=round(self.median_ms, 2),
            p95_ms=round(self.p95_ms, 2),
            min_ms=round(min(self.samples_ms), 2),
            repeats=len(self.samples_ms),
            meets_target=self.meets_target,
            samples_ms=[round(s, 2) for s in self.samples_ms],
        )
        return out


def ms_since(start: float) -> float:
    return (time.perf_counter() - start) * 1000


def timed(fn: Callable[[], Any], repeats: int) -> list[float]:
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append(ms_since(start))
    return samples


def machine_info() -> dict[str, Any]:
    import sqlite3

    import mlflow
    import sqlalchemy

    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gb = None
    try:
        total = Path("/proc/meminfo").read_text().splitlines()[0].split()[1]
        memory_gb = round(int(total) / 1024 / 1024, 1)
    except (OSError, IndexError, ValueError):
        pass
    return {
        "platform": platform.platform(),
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "memory_gb": memory_gb,
        "python": sys.version.split()[0],
        "mlflow": mlflow.__version__,
        "sqlite": sqlite3.sqlite_version,
        "sqlalchemy": sqlalchemy.__version__,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "loadavg_1_5_15_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def profile_top(fn: Callable[[], Any], limit: int = 25) -> str:
    """The ``limit`` functions with the most cumulative time in one call of ``fn``."""
    prof = cProfile.Profile()
    prof.enable()
    fn()
    prof.disable()
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(limit)
    return buf.getvalue()


# -- the store: N real MLflow runs --------------------------------------------------------------


def run_values(i: int, rng: random.Random) -> tuple[dict[str, str], dict[str, float]]:
    """The ~5 params and 3 metrics of run ``i``."""
    params = {
        "lr": str(rng.choice([0.01, 0.03, 0.1, 0.3])),
        "depth": str(rng.randint(2, 12)),
        "model": rng.choice(["gbm", "rf", "logreg"]),
        "random_state": str(i % 5),
        "n_estimators": str(rng.choice([100, 200, 500])),
    }
    accuracy = rng.uniform(0.6, 0.99)
    metrics = {
        "accuracy": accuracy,
        "loss": 1 - accuracy + rng.uniform(0, 0.1),
        "f1": accuracy - 0.05,
    }
    return params, metrics


def build_store(root: Path, n_runs: int, mode: str) -> tuple[Workspace, str, dict[str, Any]]:
    """A workspace whose experiment ``bench-runs`` holds ``n_runs`` finished runs.

    ``mode="client"`` makes every run through ``client.create_run`` + ``RunRecorder`` (what a user's
    runs go through; ~25 ms a run here). ``mode="bulk"`` makes the first ``REAL_RUNS`` that way and
    the rest as row-for-row copies of a real run, written with MLflow's own table definitions in
    one transaction: the same rows ``create_run``/``log_batch``/``set_terminated`` write, with a new
    id, name, start time, params and metrics each. Either way MLflow reads them back (checked).
    """
    rng = random.Random(42)
    start = time.perf_counter()
    ws = Workspace.init(root)
    exp_id = ws.tracking.ensure_experiment(RUNS_EXPERIMENT)
    t_init = ms_since(start)

    real = n_runs if mode == "client" else min(REAL_RUNS, n_runs)
    t0 = time.perf_counter()
    ids = []
    for i in range(real):
        params, metrics = run_values(i, rng)
        with ws.tracking.start_run(RUNS_EXPERIMENT, run_name=f"run-{i:05d}") as rec:
            rec.log_params(params)
            rec.log_metrics(metrics)
        ids.append(rec.run_id)
    t_real = ms_since(t0)

    t0 = time.perf_counter()
    if n_runs > real:
        bulk_copy_runs(ws, ids[0], range(real, n_runs), rng)
    t_bulk = ms_since(t0)

    t0 = time.perf_counter()
    read_back = verify_store(ws, exp_id, n_runs)
    t_verify = ms_since(t0)
    setup = {
        "mode": mode,
        "runs": n_runs,
        "runs_via_client_and_recorder": real,
        "runs_via_bulk_copy": n_runs - real,
        "init_ms": round(t_init, 1),
        "client_runs_ms": round(t_real, 1),
        "client_ms_per_run": round(t_real / max(real, 1), 2),
        "bulk_copy_ms": round(t_bulk, 1),
        "verify_ms": round(t_verify, 1),
        "total_s": round(ms_since(start) / 1000, 2),
        **read_back,
    }
    return ws, exp_id, setup


def bulk_copy_runs(ws: Workspace, template_id: str, numbers: range, rng: random.Random) -> None:
    """Copy every row of run ``template_id`` once per number, with that run's own values."""
    import sqlalchemy as sa
    from mlflow.store.tracking.dbmodels.models import (
        SqlLatestMetric,
        SqlMetric,
        SqlParam,
        SqlRun,
        SqlTag,
    )

    engine = ws.tracking.sql_engine
    if engine is None:
        raise SystemExit("bulk setup needs a SQL store; use --setup client")
    tables = {m.__tablename__: m.__table__ for m in (SqlRun, SqlTag, SqlParam, SqlMetric)}
    tables["latest_metrics"] = SqlLatestMetric.__table__
    with engine.begin() as conn:
        template = {
            name: [
                dict(r._mapping)
                for r in conn.execute(sa.select(t).where(t.c.run_uuid == template_id))
            ]
            for name, t in tables.items()
        }
        (run_row,) = template["runs"]
        rows: dict[str, list[dict[str, Any]]] = {name: [] for name in tables}
        base_time = run_row["start_time"]
        for i in numbers:
            run_id = uuid.uuid4().hex
            name = f"run-{i:05d}"
            params, metrics = run_values(i, rng)
            started = base_time + i * 1000
            rows["runs"].append(
                {
                    **run_row,
                    "run_uuid": run_id,
                    "name": name,
                    "start_time": started,
                    "end_time": started + 500,
                    "artifact_uri": run_row["artifact_uri"].replace(template_id, run_id),
                }
            )
            for tag in template["tags"]:
                value = name if tag["key"] == "mlflow.runName" else tag["value"]
                rows["tags"].append({**tag, "run_uuid": run_id, "value": value})
            for param in template["params"]:
                rows["params"].append({**param, "run_uuid": run_id, "value": params[param["key"]]})
            for table in ("metrics", "latest_metrics"):
                for metric in template[table]:
                    rows[table].append(
                        {
                            **metric,
                            "run_uuid": run_id,
                            "value": metrics[metric["key"]],
                            "timestamp": started + 400,
                        }
                    )
        for name, table in tables.items():
            conn.execute(table.insert(), rows[name])


def verify_store(ws: Workspace, exp_id: str, n_runs: int) -> dict[str, Any]:
    """Check that MLflow itself reads back all runs, with their params and metrics."""
    client = ws.tracking.client
    start = time.perf_counter()
    found = client.search_runs([exp_id], max_results=50000)
    read_all_ms = ms_since(start)
    if len(found) != n_runs:
        raise SystemExit(f"MLflow reads back {len(found)} runs, expected {n_runs}")
    sample = client.get_run(found[len(found) // 2].info.run_id)
    if len(sample.data.params) != 5 or len(sample.data.metrics) != 3:
        raise SystemExit(f"run {sample.info.run_id} does not have 5 params and 3 metrics")
    if sample.info.status != "FINISHED":
        raise SystemExit(f"run {sample.info.run_id} is {sample.info.status}")
    return {"mlflow_reads_back": len(found), "mlflow_search_runs_all_ms": round(read_all_ms, 1)}


# -- figure 1: the runs list ------------------------------------------------------------------


def runs_list_variants() -> dict[str, dict[str, Any]]:
    return {
        "default order": {},
        f"order_by {ORDER_BY}": {"order_by": [ORDER_BY]},
        "filter": {"filter": FILTER},
    }


def capped(repeats: int, first_ms: float) -> int:
    """Fewer repeats for a call that takes seconds: its miss is clear without 30 of them."""
    return min(repeats, SLOW_REPEATS) if first_ms > SLOW_MS else repeats


def bench_runs_in_process(ws: Workspace, exp_id: str, repeats: int, profile: bool) -> list[Figure]:
    """Figure 1a: ``ws.tracking.list_runs`` in this process, first page of 50."""
    figures = []
    service = ws.tracking
    client = service.client
    service.list_runs([exp_id], max_results=PAGE)  # warm: imports, engine, caches
    for label, kwargs in runs_list_variants().items():

        def call(kwargs: dict[str, Any] = kwargs) -> Any:
            return service.list_runs([exp_id], max_results=PAGE, **kwargs)

        start = time.perf_counter()
        page = call()
        n = capped(repeats, ms_since(start))
        samples = timed(call, n)
        store_kwargs = {
            "filter_string": kwargs.get("filter", ""),
            "order_by": kwargs.get("order_by") or ["attributes.start_time DESC"],
        }
        raw = timed(lambda sk=store_kwargs: client.search_runs([exp_id], max_results=PAGE, **sk), n)
        fig = Figure(
            1,
            f"list_runs in-process, {label}",
            samples,
            150,
            note=f"page of {len(page.runs)} runs",
            extra={"mlflow_client_search_runs_median_ms": round(statistics.median(raw), 2)},
        )
        if profile or not fig.meets_target:
            fig.extra["profile"] = profile_top(call)
        figures.append(fig)
    return figures


def diagnose_metric_order(ws: Workspace, exp_id: str, repeats: int) -> Figure | None:
    """Why ordering by a metric is slow on SQLite: MLflow's query, its plans, and ANALYZE.

    MLflow sorts by a metric with ``runs LEFT JOIN (SELECT ... FROM latest_metrics WHERE key = ?)``
    and binds ``LIMIT ?``. Without table statistics SQLite then scans the materialised subquery
    once per run (quadratic); with a literal LIMIT or after ``ANALYZE`` it builds an automatic
    index on it. This measures the same call after ``ANALYZE``, then drops the statistics again
    so the store is as MLflow left it. A diagnostic, not a product path.
    """
    import sqlalchemy as sa

    engine = ws.tracking.sql_engine
    if engine is None or engine.dialect.name != "sqlite":
        return None
    captured: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, params: Any, *rest: Any) -> None:
        if statement.lstrip().startswith("SELECT DISTINCT runs."):
            captured.append((statement, params))

    def call() -> Any:
        return ws.tracking.list_runs([exp_id], max_results=PAGE, order_by=[ORDER_BY])

    sa.event.listen(engine, "before_cursor_execute", capture)
    try:
        call()
    finally:
        sa.event.remove(engine, "before_cursor_execute", capture)
    if not captured:
        return None
    statement, params = captured[0]

    def plan(sql: str, values: Any) -> list[str]:
        with engine.connect() as conn:
            return [row[3] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, values)]

    limit, offset = params[-2:]
    literal_limit = re.sub(r"LIMIT \? OFFSET \?\s*$", f"LIMIT {limit} OFFSET {offset}", statement)
    extra = {
        "statement": " ".join(statement.split()),
        "params": list(params),
        "plan_as_mlflow_runs_it": plan(statement, params),
        "plan_with_literal_limit": plan(literal_limit, tuple(params[:-2])),
    }
    with engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
    engine.dispose()  # new connections load the statistics
    try:
        extra["plan_after_analyze"] = plan(statement, params)
        call()
        samples = timed(call, repeats)
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE IF EXISTS sqlite_stat1")
            conn.exec_driver_sql("DROP TABLE IF EXISTS sqlite_stat4")
        engine.dispose()
    return Figure(
        1,
        f"diagnostic: list_runs {ORDER_BY} after ANALYZE",
        samples,
        None,
        note="diagnostic only: list_runs refreshes statistics itself when runs have doubled",
        extra=extra,
    )


def bench_search_runs_reference(ws: Workspace, exp_id: str, repeats: int) -> Figure:
    """Figure 1c: ``mlflow.search_runs(max_results=1000)`` as pandas, for reference."""
    import mlflow

    mlflow.set_tracking_uri(ws.tracking_uri)

    def call() -> Any:
        return mlflow.search_runs(experiment_ids=[exp_id], max_results=1000)

    frame = call()
    return Figure(
        1,
        "reference: mlflow.search_runs 1,000 runs as pandas",
        timed(call, repeats),
        None,
        note=f"{len(frame)} rows x {len(frame.columns)} columns (issue: ~960 ms)",
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def jupyter_server(ws_root: Path, log_path: Path) -> Iterator[tuple[str, Any]]:
    """A real ``jupyter server`` on the workspace and a keep-alive session holding its token."""
    import requests

    token = uuid.uuid4().hex
    env = {**os.environ, "MLOPS_WORKSPACE": str(ws_root)}
    base_cmd = [
        sys.executable, "-m", "jupyter", "server", "--allow-root", "--no-browser",
        f"--ServerApp.token={token}", "--ServerApp.ip=127.0.0.1", "--ServerApp.log_level=DEBUG",
    ]  # fmt: skip
    session = requests.Session()
    session.headers["Authorization"] = f"token {token}"
    for extra in ([], ["--ServerApp.jpserver_extensions={'jupyter_mlops': True}"]):
        port = free_port()
        with log_path.open("w") as log:
            proc = subprocess.Popen(
                [*base_cmd, f"--port={port}", *extra], cwd=ws_root, env=env, stdout=log, stderr=log
            )
        url = f"http://127.0.0.1:{port}"
        try:
            status = wait_for_api(session, url, proc)
            if status == 200:
                yield url, session
                return
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    raise SystemExit(f"/mlops/api is not served; see {log_path}")


def wait_for_api(session: Any, url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> int:
    """Poll until the server answers, then return the status of ``/mlops/api/openapi.json``."""
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"jupyter server exited with {proc.returncode}")
        try:
            if session.get(f"{url}/api/status", timeout=2).status_code == 200:
                return int(session.get(f"{url}/mlops/api/openapi.json", timeout=10).status_code)
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"jupyter server did not answer within {timeout} s")


_LOG_LINE = re.compile(r"\b200 GET (?P<uri>/mlops/api/\S+) \(.*?\) (?P<ms>[\d.]+)ms")


def server_times(log_path: Path) -> dict[str, list[float]]:
    """The server's own request times (ms) by URI, from its access log lines."""
    times: dict[str, list[float]] = {}
    for match in _LOG_LINE.finditer(log_path.read_text(errors="replace")):
        times.setdefault(match["uri"], []).append(float(match["ms"]))
    return times


def bench_runs_rest(ws: Workspace, exp_id: str, repeats: int, workdir: Path) -> list[Figure]:
    """Figure 1b: ``GET /mlops/api/experiments/{id}/runs`` of a real ``jupyter server``."""
    log_path = workdir / "jupyter-server.log"
    figures = []
    with jupyter_server(ws.root, log_path) as (url, session):
        uris = {}
        for label, kwargs in runs_list_variants().items():
            query: list[tuple[str, str]] = [("max_results", str(PAGE))]
            query += [("order_by", o) for o in kwargs.get("order_by", [])]
            if "filter" in kwargs:
                query.append(("filter", kwargs["filter"]))
            uris[label] = f"/mlops/api/experiments/{exp_id}/runs?{urllib.parse.urlencode(query)}"

        def fetch(uri: str) -> int:
            response = session.get(url + uri, timeout=60)
            response.raise_for_status()
            return len(response.json()["runs"])

        start = time.perf_counter()
        fetch(uris["default order"])
        cold = ms_since(start)
        client_ms: dict[str, list[float]] = {}
        for label, uri in uris.items():
            start = time.perf_counter()
            fetch(uri)  # warm this query once
            n = capped(repeats, ms_since(start))
            client_ms[label] = timed(lambda uri=uri: fetch(uri), n)
        rows = fetch(uris["default order"])
    # The server is stopped: its log is complete.
    logged = server_times(log_path)
    figures.append(
        Figure(
            1,
            "REST first request after server start (cold), client wall",
            [cold],
            None,
            note="includes importing MLflow and opening the store in the server",
        )
    )
    for label, uri in uris.items():
        server = logged.get(uri, [])
        # Drop the warm-up request(s) of this URI; keep the timed ones.
        n = len(client_ms[label])
        server = server[-n - (1 if label == "default order" else 0) :][:n]
        if server:
            figures.append(
                Figure(1, f"REST runs page, {label}, server time", server, 150, note="from log")
            )
        figures.append(
            Figure(
                1,
                f"REST runs page, {label}, client wall",
                client_ms[label],
                150,
                note=f"requests.Session keep-alive, {rows} runs/page",
            )
        )
    return figures


# -- kernels (figures 2 and 3) ------------------------------------------------------------------


@contextmanager
def kernel(ws_root: Path) -> Iterator[Any]:
    """A real IPython kernel (the default ``python3`` spec) in the workspace folder."""
    from jupyter_client.manager import KernelManager

    env = {**os.environ, "MLOPS_WORKSPACE": str(ws_root)}
    km = KernelManager(kernel_name="python3")
    km.start_kernel(cwd=str(ws_root), env=env)
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        yield kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=False)


def execute(kc: Any, code: str, **expressions: str) -> tuple[float, dict[str, Any], list[str]]:
    """Run ``code``; return the round trip (ms, request to idle), user expressions, and output."""
    output: list[str] = []

    def hook(msg: dict[str, Any]) -> None:
        content = msg["content"]
        if msg["msg_type"] == "stream":
            output.append(content["text"])
        elif msg["msg_type"] in {"display_data", "execute_result"}:
            data = content["data"]
            output.append(data.get("text/markdown") or data.get("text/plain", ""))
        elif msg["msg_type"] == "error":
            output.append("\n".join(content["traceback"]))

    start = time.perf_counter()
    reply = kc.execute_interactive(
        code, user_expressions=expressions, output_hook=hook, timeout=300
    )
    elapsed = ms_since(start)
    content = reply["content"]
    if content["status"] != "ok":
        raise SystemExit(f"kernel error in {code[:60]!r}: {''.join(output)}")
    values = {}
    for name, result in content.get("user_expressions", {}).items():
        if result["status"] != "ok":
            raise SystemExit(f"user expression {name} failed: {result}; output: {''.join(output)}")
        values[name] = ast.literal_eval(result["data"]["text/plain"])
    return elapsed, values, output


MAGIC_CELL = f"""%%mlops run --experiment bench --name steps
_bench_run_id = mlops_run.run_id
_bench_t0 = _bench_clock()
for _i in range({STEPS}):
    mlops_run.log_metric("loss", 1.0 / (_i + 1), step=_i)
_bench_loop = _bench_clock() - _bench_t0
mlops_run.flush()
_bench_durable = _bench_clock() - _bench_t0
"""

FLUENT_CELL = f"""%%mlops run --experiment bench --name fluent-steps
import mlflow
_bench_t0 = _bench_clock()
for _i in range({STEPS}):
    mlflow.log_metric("loss", 1.0 / (_i + 1), step=_i)
_bench_fluent = _bench_clock() - _bench_t0
"""


def bench_magic_logging(ws: Workspace, repeats: int, fluent_repeats: int) -> list[Figure]:
    """Figure 2: 1,000 metric steps through ``%%mlops run`` in a real kernel."""
    loop, durable, cell, run_ids = [], [], [], []
    with kernel(ws.root) as kc:
        execute(kc, "%load_ext jupyter_mlops\nfrom time import perf_counter as _bench_clock")
        cold = None
        for i in range(repeats + 1):
            elapsed, got, output = execute(
                kc,
                MAGIC_CELL,
                loop="_bench_loop",
                durable="_bench_durable",
                run_id="_bench_run_id",
            )
            if "finished" not in "".join(output):
                raise SystemExit(f"the %%mlops run cell did not finish: {''.join(output)}")
            if i == 0:
                cold = elapsed  # the first cell imports MLflow in the kernel
                continue
            cell.append(elapsed)
            loop.append(got["loop"] * 1000)
            durable.append(got["durable"] * 1000)
            run_ids.append(got["run_id"])
        fluent = []
        for _ in range(fluent_repeats):
            _, got, _ = execute(kc, FLUENT_CELL, fluent="_bench_fluent")
            fluent.append(got["fluent"] * 1000)
    history = ws.tracking.client.get_metric_history(run_ids[-1], "loss")
    if len(history) != STEPS:
        raise SystemExit(f"run {run_ids[-1]} has {len(history)} loss values, expected {STEPS}")
    return [
        Figure(
            2,
            "magic: 1,000 log_metric + flush (loop start to durable)",
            durable,
            60,
            note="the compared number: like mlflow.log_metric, it ends with the data written",
        ),
        Figure(2, "magic: 1,000 mlops_run.log_metric loop only (buffered)", loop, None),
        Figure(
            2,
            "magic: whole %%mlops run cell, client round trip",
            cell,
            None,
            note="run start (tags, git) + loop + flush + cell snapshot + finish",
            extra={"cold_first_cell_ms": round(cold or 0, 1)},
        ),
        Figure(
            2,
            "reference: 1,000 mlflow.log_metric in %%mlops run",
            fluent,
            None,
            note="issue: ~3 s",
        ),
    ]


def bench_import(ws: Workspace, repeats: int, kernel_repeats: int) -> list[Figure]:
    """Figure 3: ``import jupyter_mlops`` in fresh interpreters, ``%load_ext`` in fresh kernels."""
    code = (
        "import time; t = time.perf_counter(); import jupyter_mlops; "
        "print((time.perf_counter() - t) * 1000)"
    )
    imports = []
    for _ in range(repeats):
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ws.root
        )
        imports.append(float(out.stdout.strip()))
    check = subprocess.run(
        [sys.executable, "-c", "import sys, jupyter_mlops; print('mlflow' in sys.modules)"],
        capture_output=True,
        text=True,
        check=True,
    )
    load_ext = []
    for _ in range(kernel_repeats):
        with kernel(ws.root) as kc:
            execute(kc, "pass")  # the kernel's own first-execute work is not ours
            elapsed, got, _ = execute(
                kc, "%load_ext jupyter_mlops", mlflow="'mlflow' in __import__('sys').modules"
            )
            load_ext.append(elapsed)
    figures = [
        Figure(
            3,
            "import jupyter_mlops (fresh interpreter)",
            imports,
            1000,
            extra={"imports_mlflow": check.stdout.strip() == "True"},
        ),
        Figure(
            3,
            "%load_ext jupyter_mlops (fresh kernel, execute round trip)",
            load_ext,
            1000,
            extra={"imports_mlflow": bool(got["mlflow"])},
        ),
    ]
    for fig, module in zip(figures, ["jupyter_mlops", "jupyter_mlops.commands.magic"], strict=True):
        if not fig.meets_target:
            fig.extra["importtime_top"] = importtime_top(module)
    return figures


def importtime_top(module: str, limit: int = 15) -> list[str]:
    """The modules with the largest cumulative import time (``python -X importtime``)."""
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        capture_output=True,
        text=True,
        check=True,
    )
    rows = []
    for line in out.stderr.splitlines():
        parts = line.removeprefix("import time:").split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            rows.append((int(parts[1]), parts[2].rstrip()))
    rows.sort(reverse=True)
    return [f"{us / 1000:8.1f} ms  {name}" for us, name in rows[:limit]]


# -- the command ----------------------------------------------------------------------------------


def print_table(setup: dict[str, Any], figures: list[Figure]) -> None:
    print(
        f"\nstore: {setup['runs']} runs ({setup['mode']} setup: "
        f"{setup['runs_via_client_and_recorder']} via client+recorder at "
        f"{setup['client_ms_per_run']} ms/run, {setup['runs_via_bulk_copy']} bulk-copied) "
        f"in {setup['total_s']} s"
    )
    width = max(len(f.name) for f in figures)
    print(f"{'#':<2} {'figure':<{width}} {'median':>9} {'p95':>9} {'n':>3} {'target':>7}  ok")
    for f in figures:
        target = f"{f.target_ms:.0f}" if f.target_ms is not None else "-"
        ok = {True: "yes", False: "NO", None: ""}[f.meets_target]
        print(
            f"{f.figure:<2} {f.name:<{width}} {f.median_ms:9.1f} {f.p95_ms:9.1f} "
            f"{len(f.samples_ms):>3} {target:>7}  {ok}"
        )
    for f in figures:
        for key in (
            "profile",
            "importtime_top",
            "plan_as_mlflow_runs_it",
            "plan_with_literal_limit",
            "plan_after_analyze",
        ):
            if key in f.extra:
                print(f"\n--- {key} of '{f.name}' ---")
                text = f.extra[key]
                print(text if isinstance(text, str) else "\n".join(text))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10_000, help="runs in the store (10000)")
    parser.add_argument("--repeats", type=int, default=30, help="repeats per runs-list figure")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON results file")
    parser.add_argument(
        "--setup",
        choices=["bulk", "client"],
        default="bulk",
        help="bulk (default): 100 runs via the client, the rest bulk-copied; client: all of them",
    )
    parser.add_argument("--quick", action="store_true", help="smoke test: 1,000 runs, few repeats")
    parser.add_argument(
        "--profile", action="store_true", help="profile list_runs even if on target"
    )
    parser.add_argument(
        "--only", choices=["runs", "magic", "import"], action="append", help="run only these"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.runs = min(args.runs, 1000)
        args.repeats = 5
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    only = set(args.only or ["runs", "magic", "import"])
    info = machine_info()  # imports MLflow, which sets its own log level
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="mlops-bench-") as tmp:
        workdir = Path(tmp)
        n_runs = args.runs if "runs" in only else 1
        print(f"building a store of {n_runs} runs ...", flush=True)
        ws, exp_id, setup = build_store(workdir / "ws", n_runs, args.setup)
        gc.collect()  # the read-back check made 10,000 Run objects; do not time their collection
        if "runs" in only:
            print("figure 1: runs list ...", flush=True)
            figures += bench_runs_in_process(ws, exp_id, args.repeats, args.profile)
            figures += bench_runs_rest(ws, exp_id, args.repeats, workdir)
            figures.append(bench_search_runs_reference(ws, exp_id, 3 if args.quick else 5))
            slow = [f for f in figures if f.meets_target is False and "order_by" in f.name]
            if slow:
                diagnostic = diagnose_metric_order(ws, exp_id, args.repeats)
                figures += [diagnostic] if diagnostic is not None else []
        if "magic" in only:
            print("figure 2: metric steps through the magic ...", flush=True)
            figures += bench_magic_logging(
                ws, repeats=3 if args.quick else 10, fluent_repeats=1 if args.quick else 3
            )
        if "import" in only:
            print("figure 3: import and %load_ext ...", flush=True)
            figures += bench_import(
                ws, repeats=3 if args.quick else 7, kernel_repeats=2 if args.quick else 5
            )

        engine = ws.tracking.sql_engine
        if engine is not None:
            engine.dispose()
    info["loadavg_1_5_15_at_end"] = [round(x, 2) for x in os.getloadavg()]
    print_table(setup, figures)
    busy = max(info["loadavg_1_5_15_at_start"][0], info["loadavg_1_5_15_at_end"][0])
    if busy > (os.cpu_count() or 1) * 0.5:
        print(f"\nwarning: load average {busy} on {os.cpu_count()} CPUs: other work skews these")
    result = {
        "benchmark": "tracking",
        "command": "python benchmarks/bench_tracking.py " + " ".join(sys.argv[1:]),
        "machine": info,
        "setup": setup,
        "figures": [f.to_json() for f in figures],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nresults written to {args.out}")
    missed = [f.name for f in figures if f.meets_target is False]
    if missed:
        print("missed targets: " + "; ".join(missed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
