"""Benchmark of the model server: ours against ``mlflow models serve`` and MLServer.

Run from the repository root::

    python benchmarks/bench_serving.py                     # 2 rounds, 10 s per figure
    python benchmarks/bench_serving.py --duration 5 --rounds 1 --skip-mlserver --out /tmp/s.json

Same machine, same run, same model, same load generator (``wrk`` with a Lua script for the POST
bodies), same number of worker processes (2), started one server at a time:

- **ours**: ``ws.deployments.deploy("churn:1", replicas=2)`` (supervisor + 2 replicas sharing one
  socket), prediction logging and input validation on (they cannot be turned off);
- **mlflow**: ``mlflow models serve -m <model folder> --env-manager local -w 2`` (uvicorn, 2
  workers), on the very folder ours serves;
- **mlserver**: MLServer + mlserver-sklearn in its own venv (``--mlserver-venv``, created with
  ``pip install mlserver mlserver-sklearn uvloop==0.21.0`` when missing). MLflow 3.17 saves the
  model as ``model.skops``, which MLServer's sklearn runtime cannot read (it ``joblib.load``-s a
  file), so MLServer gets the same fitted estimator object dumped with ``joblib``; its answers
  are checked equal to the others'. MLServer has
  one HTTP process; ``parallel_workers`` only adds inference processes behind it. It runs twice
  per round: ``parallel_workers=0`` (1 process: its fastest setting on 2 cores) and
  ``parallel_workers=2`` (1 HTTP process + 2 inference processes: the same worker count). Both
  with ``debug=false`` (no access log) and ``gzip_enabled=false``; metrics left on, as ours.

The model: a ``GradientBoostingClassifier`` (100 trees, depth 3) on 10 float features, logged with
``mlflow.sklearn.log_model`` (default ``pyfunc_predict_fn`` = ``predict``) and registered as
``churn``. Before any timing every server's answers are checked against ``clf.predict`` in this
process (1 row and 1,000 rows, every protocol timed).

Figures per server (wrk, ``--duration`` seconds each, after a 2 s warm-up):

a. single-row requests at 16 connections (``wrk -t2 -c16``): req/s, p50, p99;
b. single-row at 1 connection (``wrk -t1 -c1``): p50, p99;
c. 1,000-row batches (``wrk -t2 -c4``): rows/s. Ours and MLServer get an Open Inference Protocol
   v2 request with one ``[1000, 10]`` FP64 tensor; MLflow a ``dataframe_split`` body; ours is also
   timed with that ``dataframe_split`` body (and with it for a and b too);
d. ours only: a model trained on 10 features of two feature views (5 + 5 float features,
   materialized to the SQLite online store); the request carries only the entity key
   (``{"dataframe_records": [{"customer_id": K}]}``, K cycling over 1,000 random keys): p50 at 1
   connection.

``--logging off,on,compact`` measures ours three times per round instead of once: prediction
logging off (``[serving] log_predictions = false``), on with compaction idle (the default run's
setting: its figures are labelled ``ours``), and on with the supervisor compacting every 5 s
(``[predictions] segment_seconds = compact_seconds = 5``), so the cost of logging and of
compaction is read against the same run's logging-off figures.

Server CPU per request (all processes of the server, from /proc) and wrk's own CPU are recorded
with each figure: on 2 cores wrk competes with the server. Results go to
``benchmarks/results/serving.json`` with the machine, versions, date and command; a table is
printed. Every server is stopped at the end, also on error or Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import resource
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "results" / "serving.json"
DEFAULT_VENV = Path("/tmp/mlops-bench-mlserver")  # `.venv-*` is not git-ignored in the repo
WRK = shutil.which("wrk") or "/usr/bin/wrk"
N_FEATURES = 10
COLUMNS = [f"f{i}" for i in range(N_FEATURES)]
BATCH = 1000
# MLflow 3.17 saves scikit-learn models with skops; a tree ensemble needs its Tree type trusted.
TRUSTED = ["sklearn.tree._tree.Tree"]
TICK = os.sysconf("SC_CLK_TCK")
TARGETS = {
    "single16_rps": 1500.0,  # req/s, and ahead of both others
    "single1_p50_ms": 0.8,
    "batch_rows_per_s": 400_000.0,
    "lookup1_p50_ms": 1.2,
}

# -- wrk ------------------------------------------------------------------------------------------

LUA = r"""
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local bodies = {}
for line in io.lines("%(bodies)s") do bodies[#bodies + 1] = line end
if #bodies == 1 then
  wrk.body = bodies[1]
else
  local i = 0
  request = function()
    i = i %% #bodies + 1
    return wrk.format(nil, nil, nil, bodies[i])
  end
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %%d, "duration_us": %%d, "bytes": %%d, "connect": %%d, "read": %%d, ' ..
    '"write": %%d, "status": %%d, "timeout": %%d, "p50_us": %%.1f, "p90_us": %%.1f, ' ..
    '"p99_us": %%.1f, "mean_us": %%.1f, "max_us": %%.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.mean, latency.max))
end
"""


def run_wrk(
    url: str,
    bodies: list[bytes],
    *,
    threads: int,
    connections: int,
    duration: float,
    work: Path,
    pids: list[int],
) -> dict[str, Any]:
    """One wrk run; returns its figures, the server's CPU and wrk's CPU."""
    body_file = work / f"bodies-{abs(hash(tuple(bodies))) % 10**8}.txt"
    if not body_file.exists():
        body_file.write_bytes(b"\n".join(bodies) + b"\n")
    script = work / f"{body_file.stem}.lua"
    script.write_text(LUA % {"bodies": str(body_file)})
    cmd = [
        WRK,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration:g}s",
        "--latency",
        "--timeout",
        "10s",
        "-s",
        str(script),
        url,
    ]
    before_server = cpu_ticks(pids)
    before_self = resource.getrusage(resource.RUSAGE_CHILDREN)
    load_before = os.getloadavg()[0]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60)
    after_self = resource.getrusage(resource.RUSAGE_CHILDREN)
    after_server = cpu_ticks(pids)
    line = next((x for x in out.stdout.splitlines() if x.startswith("WRKJSON ")), None)
    if out.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({out.returncode}): {out.stdout}\n{out.stderr}")
    r = json.loads(line[len("WRKJSON ") :])
    seconds = r["duration_us"] / 1e6
    errors = r["connect"] + r["read"] + r["write"] + r["status"] + r["timeout"]
    server_cpu = (after_server - before_server) / TICK
    wrk_cpu = (after_self.ru_utime + after_self.ru_stime) - (
        before_self.ru_utime + before_self.ru_stime
    )
    return {
        "command": " ".join(shlex.quote(c) for c in cmd),
        "requests": r["requests"],
        "seconds": round(seconds, 3),
        "rps": round(r["requests"] / seconds, 1),
        "p50_ms": round(r["p50_us"] / 1000, 3),
        "p90_ms": round(r["p90_us"] / 1000, 3),
        "p99_ms": round(r["p99_us"] / 1000, 3),
        "mean_ms": round(r["mean_us"] / 1000, 3),
        "max_ms": round(r["max_us"] / 1000, 3),
        "errors": errors,
        "error_detail": {k: r[k] for k in ("connect", "read", "write", "status", "timeout")},
        "server_cpu_s": round(server_cpu, 2),
        "server_cpu_ms_per_request": round(1000 * server_cpu / max(r["requests"], 1), 3),
        "wrk_cpu_s": round(wrk_cpu, 2),
        "load_1min_before": round(load_before, 2),
    }


# -- processes ------------------------------------------------------------------------------------


def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        kids.setdefault(ppid, []).append(int(entry))
    return kids


def process_tree(roots: list[int]) -> list[int]:
    kids = _children()
    out: list[int] = []
    todo = list(roots)
    while todo:
        pid = todo.pop()
        if pid in out:
            continue
        out.append(pid)
        todo.extend(kids.get(pid, []))
    return out


def cpu_ticks(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http(method: str, url: str, body: bytes | None = None, timeout: float = 30.0) -> Any:
    req = urllib.request.Request(
        url, data=body, method=method, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        data = resp.read()
    return json.loads(data) if data.strip() else None


def wait_http(url: str, proc: subprocess.Popen[bytes] | None, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{url}: the server exited ({proc.returncode}); log:\n{tail(log)}")
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s; log:\n{tail(log)}")


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def stop_group(proc: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    """Stop a process this script started in its own session, with its children."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


# -- bodies ---------------------------------------------------------------------------------------


def dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def v2_body(x: np.ndarray) -> bytes:
    return dumps(
        {
            "inputs": [
                {
                    "name": "input-0",
                    "shape": [int(x.shape[0]), int(x.shape[1])],
                    "datatype": "FP64",
                    "data": x.reshape(-1).tolist(),
                }
            ]
        }
    )


def split_body(x: np.ndarray) -> bytes:
    return dumps({"dataframe_split": {"columns": COLUMNS, "data": x.tolist()}})


def predictions_of(answer: Any) -> np.ndarray:
    if isinstance(answer, dict) and "predictions" in answer:
        return np.asarray(answer["predictions"], dtype=np.float64).reshape(-1)
    if isinstance(answer, dict) and "outputs" in answer:
        return np.asarray(answer["outputs"][0]["data"], dtype=np.float64).reshape(-1)
    raise RuntimeError(f"Unexpected answer: {str(answer)[:300]}")


# -- set-up: workspace, models, features ----------------------------------------------------------


def build_workspace(root: Path, log: Any) -> dict[str, Any]:
    """The workspace, the registered model ``churn`` and the feature model ``churn_fs``."""
    import mlflow
    import pandas as pd
    from sklearn.datasets import make_classification
    from sklearn.ensemble import GradientBoostingClassifier

    from jupyter_mlops.workspace import Workspace

    ws = Workspace.init(root)
    x, y = make_classification(
        n_samples=6000, n_features=N_FEATURES, n_informative=6, random_state=0
    )
    frame = pd.DataFrame(x, columns=COLUMNS)
    clf = GradientBoostingClassifier(n_estimators=100, max_depth=3, random_state=0)
    t0 = time.perf_counter()
    clf.fit(frame.iloc[:5000], y[:5000])
    log(f"trained the model in {time.perf_counter() - t0:.1f} s")
    with ws.tracking.start_run("bench") as rec:
        mlflow.set_tracking_uri(ws.tracking_uri)
        with mlflow.start_run(run_id=rec.run_id):
            mlflow.sklearn.log_model(
                clf,
                name="model",
                input_example=frame.head(3),
                pip_requirements=["scikit-learn"],
                skops_trusted_types=TRUSTED,
            )
    ws.registry.register(rec.run_id, "churn")
    test = x[5000:]
    return {"ws": ws, "clf": clf, "test": test}


def build_feature_model(ws: Any, log: Any) -> dict[str, Any]:
    """Two views of 5 float features over generated Parquet, materialized; a model on them."""
    import mlflow
    import pandas as pd
    from sklearn.ensemble import GradientBoostingClassifier

    from jupyter_mlops.demo import tracked_by_mlflow
    from jupyter_mlops.features import Entity, FeatureView, Field, ParquetSource

    rng = np.random.default_rng(1)
    n = 10_000
    ids = np.arange(500_000, 500_000 + n, dtype="int64")
    now = pd.Timestamp.now("UTC").floor("s")
    data = ws.root / "data"
    data.mkdir(exist_ok=True)
    views = {
        "bench_profile": [f"p{i}" for i in range(5)],
        "bench_activity": [f"a{i}" for i in range(5)],
    }
    for view, feats in views.items():
        parts = []
        for k in range(3):  # three snapshots per customer over the last 90 days
            part = pd.DataFrame({"customer_id": ids})
            part["event_timestamp"] = now - pd.to_timedelta(
                rng.uniform(30 * (2 - k), 30 * (3 - k), n), unit="D"
            ).round("s")
            for f in feats:
                part[f] = rng.normal(0, 1, n)
            parts.append(part)
        pd.concat(parts, ignore_index=True).to_parquet(data / f"{view}.parquet", index=False)
    customer = Entity("customer", ["customer_id"])
    definitions: list[Any] = [customer]
    for view, feats in views.items():
        definitions.append(
            FeatureView(
                name=view,
                entities=[customer],
                source=ParquetSource(path=f"data/{view}.parquet"),
                timestamp_field="event_timestamp",
                features=[Field(f, "float64") for f in feats],
                ttl="365d",
            )
        )
    store = ws.features
    store.apply(definitions)
    store.materialize(list(views))
    refs = [f"{view}:{f}" for view, feats in views.items() for f in feats]
    names = [r.split(":")[-1] for r in refs]
    labels = pd.DataFrame(
        {
            "customer_id": rng.choice(ids, 8000),
            "label_time": now - pd.to_timedelta(rng.uniform(0, 60, 8000), unit="D").round("s"),
        }
    )
    with ws.tracking.start_run("bench-features") as rec, tracked_by_mlflow(ws, rec.run_id):
        train = store.get_training_frame(labels, refs, timestamp_column="label_time")
        xf = train[names].astype("float64")
        yf = (xf["p0"] + 0.5 * xf["a1"] - 0.3 * xf["a4"] + rng.normal(0, 0.5, len(xf))) > 0
        model = GradientBoostingClassifier(n_estimators=100, max_depth=3, random_state=0)
        model.fit(xf, yf.astype("int64"))
        mlflow.sklearn.log_model(
            model,
            name="model",
            input_example=xf.head(3),
            pip_requirements=["scikit-learn"],
            skops_trusted_types=TRUSTED,
        )
    ws.registry.register(rec.run_id, "churn_fs")
    keys = [int(k) for k in rng.choice(ids, 1000, replace=False)]
    online = store.get_online_features_dict(refs, [{"customer_id": k} for k in keys[:50]])
    expected = model.predict(np.column_stack([np.asarray(online[c], float) for c in names]))
    store.close()
    log(f"feature model: {len(refs)} features from {len(views)} views, {n:,} entities online")
    return {"keys": keys, "expected50": expected, "refs": refs}


# -- the servers ----------------------------------------------------------------------------------


LOG_MODES = {"off": "ours-log-off", "on": "ours", "compact": "ours-compact"}


def deployments_for(ws: Any, mode: str) -> Any:
    """The workspace's deployments with the prediction log off, on (compaction idle), or on and
    compacted every 5 s."""
    from jupyter_mlops.config import PredictionsConfig
    from jupyter_mlops.serving.deployments import Deployments

    serving = ws.config.serving.model_copy(update={"log_predictions": mode != "off"})
    if mode == "compact":
        predictions = PredictionsConfig(segment_seconds=5, compact_seconds=5)
    else:  # closed segments are compacted only after the run
        predictions = PredictionsConfig(segment_seconds=3600, compact_seconds=1e9)
    return Deployments(
        ws.state_dir,
        registry=ws.registry,
        features=ws.features,
        config=serving,
        predictions=predictions,
    )


class Ours:
    label = "ours"

    def __init__(
        self, ws: Any, model: str, name: str, replicas: int, deployments: Any = None
    ) -> None:
        self.ws, self.model, self.name, self.replicas = ws, model, name, replicas
        self.deployments = deployments if deployments is not None else ws.deployments
        self.url = ""
        self.started = False
        self.describe = (
            f'ws.deployments.deploy("{model}", name="{name}", replicas={replicas}): supervisor '
            f"+ {replicas} replicas (uvicorn + uvloop + httptools, one shared socket)"
        )

    def start(self) -> None:
        self.started = True
        info = self.deployments.deploy(self.model, name=self.name, replicas=self.replicas)
        self.url = info.url
        wait_http(f"{self.url}/ping", None, Path(info.folder) / "logs" / "supervisor.log", 60)

    def pids(self) -> list[int]:
        folder = Path(self.deployments.get(self.name).folder)
        status = json.loads((folder / "status.json").read_text())
        return process_tree([int(status["pid"])])

    def replica_pids(self) -> list[int]:
        info = self.deployments.get(self.name)
        return [r.pid for r in info.replica_processes]

    def stop(self) -> None:
        if self.started:
            self.started = False
            info = self.deployments.stop(self.name)
            folder = self.ws.state_dir / "predictions" / self.name
            parquet = list(folder.glob("*.parquet"))
            self.after_stop = {
                "state": info.state,
                "segments_closed": len(list(folder.glob("2*.jsonl"))),
                "segments_left_open": len(list(folder.glob("2*.jsonl.open"))),
                "log_bytes": sum(p.stat().st_size for p in folder.glob("2*.jsonl*")),
                "parquet_files": len(parquet),
                "parquet_bytes": sum(p.stat().st_size for p in parquet),
                "parquet_rows": parquet_rows(parquet),
            }

    def endpoints(self) -> dict[str, str]:
        return {
            "v2": f"{self.url}/v2/models/{self.model.split(':')[0]}/infer",
            "split": f"{self.url}/invocations",
        }


def parquet_rows(paths: list[Path]) -> int:
    import pyarrow.parquet as pq

    return sum(pq.read_metadata(p).num_rows for p in paths)


class Subprocess:
    def __init__(self, label: str, cmd: list[str], ready: str, log: Path, cwd: Path | None) -> None:
        self.label, self.cmd, self.ready, self.log, self.cwd = label, cmd, ready, log, cwd
        self.proc: subprocess.Popen[bytes] | None = None
        self.describe = " ".join(shlex.quote(c) for c in cmd)
        self.url = ""

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                self.cmd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=self.cwd,
                env=env,
            )
        wait_http(self.url + self.ready, self.proc, self.log, 180)

    def pids(self) -> list[int]:
        return process_tree([self.proc.pid]) if self.proc else []

    def stop(self) -> None:
        if self.proc is not None:
            stop_group(self.proc)
            self.proc = None


def mlflow_server(model_dir: Path, work: Path, workers: int) -> Subprocess:
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "mlflow",
        "models",
        "serve",
        "-m",
        str(model_dir),
        "--env-manager",
        "local",
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
        "-w",
        str(workers),
    ]
    server = Subprocess("mlflow", cmd, "/ping", work / "mlflow.log", None)
    server.url = f"http://127.0.0.1:{port}"
    server.endpoints = lambda: {"split": f"{server.url}/invocations"}  # type: ignore[attr-defined]
    return server


def mlserver_server(venv: Path, model_file: Path, work: Path, parallel_workers: int) -> Subprocess:
    folder = work / f"mlserver-pw{parallel_workers}"
    folder.mkdir(exist_ok=True)
    port = free_port()
    settings = {
        "host": "127.0.0.1",
        "http_port": port,
        "grpc_port": free_port(),
        "metrics_port": free_port(),
        "parallel_workers": parallel_workers,
        "debug": False,
        "gzip_enabled": False,
        "metrics_dir": str(folder / "metrics"),
    }
    model = {
        "name": "churn",
        "implementation": "mlserver_sklearn.SKLearnModel",
        "parameters": {"uri": str(model_file), "version": "1"},
    }
    (folder / "settings.json").write_text(json.dumps(settings, indent=1))
    (folder / "model-settings.json").write_text(json.dumps(model, indent=1))
    cmd = [str(venv / "bin" / "mlserver"), "start", str(folder)]
    label = f"mlserver-pw{parallel_workers}"
    server = Subprocess(label, cmd, "/v2/models/churn/ready", work / f"{label}.log", folder)
    server.url = f"http://127.0.0.1:{port}"
    server.describe = (
        f"{server.describe} (settings.json: parallel_workers={parallel_workers}, debug=false, "
        "gzip_enabled=false; model-settings.json: mlserver_sklearn.SKLearnModel, uri=a joblib "
        "dump of the fitted estimator that MLflow saved as model.skops)"
    )
    infer = f"{server.url}/v2/models/churn/infer"
    server.endpoints = lambda: {"v2": infer}  # type: ignore[attr-defined]
    return server


def ensure_mlserver_venv(venv: Path, log: Any) -> None:
    if (venv / "bin" / "mlserver").exists():
        return
    log(f"creating the MLServer venv in {venv} (pip install mlserver mlserver-sklearn uvloop)")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [
            str(venv / "bin" / "pip"),
            "install",
            "-q",
            "mlserver",
            "mlserver-sklearn",
            "uvloop==0.21.0",
        ],
        check=True,
    )


def venv_versions(venv: Path) -> dict[str, str]:
    code = (
        "import importlib.metadata as m, json; print(json.dumps({p: m.version(p) for p in "
        "['mlserver', 'mlserver-sklearn', 'uvloop', 'uvicorn', 'fastapi', 'scikit-learn', "
        "'numpy', 'orjson']}))"
    )
    out = subprocess.run([str(venv / "bin" / "python"), "-c", code], capture_output=True, text=True)
    return json.loads(out.stdout) if out.returncode == 0 else {"error": out.stderr[-300:]}


# -- the run --------------------------------------------------------------------------------------


def check_answers(
    server: Any, kinds: dict[str, dict[str, bytes]], expected: dict[str, Any]
) -> None:
    """Every body a server is timed with gives this process's predictions."""
    for kind, url in server.endpoints().items():
        for size, body in kinds[kind].items():
            got = predictions_of(http("POST", url, body))
            want = expected[size]
            if got.shape != want.shape or not np.array_equal(got, want):
                raise RuntimeError(
                    f"{server.label} {kind} {size}: wrong predictions "
                    f"({got[:10].tolist()} vs {want[:10].tolist()})"
                )


def time_server(
    server: Any,
    kinds: dict[str, dict[str, bytes]],
    args: argparse.Namespace,
    work: Path,
    log: Any,
) -> dict[str, Any]:
    pids = server.pids()
    out: dict[str, Any] = {}
    first = True
    for kind, url in server.endpoints().items():
        single, batch = [kinds[kind]["single"]], [kinds[kind]["batch"]]
        if first:  # warm-up, not recorded
            run_wrk(
                url,
                single,
                threads=2,
                connections=args.connections,
                duration=2,
                work=work,
                pids=pids,
            )
            first = False
        plans = [
            ("single16", single, 2, args.connections),
            ("single1", single, 1, 1),
            ("batch", batch, 2, args.batch_connections),
        ]
        for figure, bodies, threads, conns in plans:
            r = run_wrk(
                url,
                bodies,
                threads=threads,
                connections=conns,
                duration=args.duration,
                work=work,
                pids=pids,
            )
            if figure == "batch":
                r["rows_per_s"] = round(r["rps"] * BATCH, 0)
            out[f"{figure}_{kind}"] = r
            log(f"  {server.label:13} {figure:8} {kind:5} " + brief(r, figure))
    return out


def brief(r: dict[str, Any], figure: str) -> str:
    s = f"{r['rps']:>8,.0f} req/s  p50 {r['p50_ms']:.3f} ms  p99 {r['p99_ms']:.3f} ms"
    if figure == "batch":
        s += f"  {r['rows_per_s']:>10,.0f} rows/s"
    s += f"  cpu {r['server_cpu_ms_per_request']:.3f} ms/req  wrk cpu {r['wrk_cpu_s']:.1f}s"
    return s + (f"  ERRORS {r['errors']}" if r["errors"] else "")


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    with contextlib.suppress(OSError):
        mem = Path("/proc/meminfo").read_text().splitlines()[0].split(":", 1)[1].strip()
    return {
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "memory": mem,
        "kernel": platform.release(),
        "platform": platform.platform(),
    }


def versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for p in [
        "jupyter-mlops",
        "mlflow",
        "scikit-learn",
        "numpy",
        "pandas",
        "starlette",
        "uvicorn",
        "uvloop",
        "httptools",
        "orjson",
        "fastapi",
    ]:
        try:
            out[p] = md.version(p)
        except md.PackageNotFoundError:
            out[p] = "-"
    out["wrk"] = subprocess.run([WRK, "-v"], capture_output=True, text=True).stdout.split()[1]
    return out


def summarize(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Per server and figure: the value of each round."""
    keys = {
        "single16": ["rps", "p50_ms", "p99_ms"],
        "single1": ["p50_ms", "p99_ms"],
        "batch": ["rows_per_s", "p50_ms"],
        "lookup16": ["rps", "p50_ms", "p99_ms"],
        "lookup1": ["p50_ms", "p99_ms"],
    }
    out: dict[str, dict[str, dict[str, list[float]]]] = {}
    for rnd in rounds:
        for label, figures in rnd["servers"].items():
            for fig, r in figures.items():
                for k in keys[fig.split("_")[0]]:
                    out.setdefault(label, {}).setdefault(fig, {}).setdefault(k, []).append(r[k])
    return out


def judge(summary: dict[str, Any]) -> list[dict[str, Any]]:
    ours = summary.get("ours", {})
    others = {k: v for k, v in summary.items() if not k.startswith("ours")}
    best = ours.get("single16_v2", {}).get("rps", [])
    split = ours.get("single16_split", {}).get("rps", [])
    rows: list[dict[str, Any]] = []

    def add(figure: str, values: list[float], target: str, ok: list[bool]) -> None:
        rows.append(
            {
                "figure": figure,
                "values": values,
                "target": target,
                "met_in_rounds": f"{sum(ok)} of {len(ok)}",
            }
        )

    n = len(best)
    rival = [
        max(
            [
                v.get(f, {}).get("rps", [0] * n)[i]
                for v in others.values()
                for f in v
                if f.startswith("single16")
            ]
            or [0]
        )
        for i in range(n)
    ]
    add(
        "ours single-row req/s at 16 connections (v2)",
        best,
        ">= 1500 and ahead of both",
        [b >= TARGETS["single16_rps"] and b > r for b, r in zip(best, rival, strict=True)],
    )
    if split:
        add(
            "ours single-row req/s at 16 connections (dataframe_split)",
            split,
            ">= 1500 and ahead of both",
            [b >= TARGETS["single16_rps"] and b > r for b, r in zip(split, rival, strict=True)],
        )
    add("best other server's single-row req/s at 16 connections", rival, "-", [True] * n)
    for kind in ("v2", "split"):
        p50 = ours.get(f"single1_{kind}", {}).get("p50_ms", [])
        if p50:
            add(
                f"ours single-row p50 at 1 connection ({kind}), ms",
                p50,
                "<= 0.8",
                [v <= TARGETS["single1_p50_ms"] for v in p50],
            )
    for kind in ("v2", "split"):
        rows_s = ours.get(f"batch_{kind}", {}).get("rows_per_s", [])
        if rows_s:
            add(
                f"ours 1,000-row batches ({kind}), rows/s",
                rows_s,
                ">= 400,000",
                [v >= TARGETS["batch_rows_per_s"] for v in rows_s],
            )
    lookup = summary.get("ours-features", {}).get("lookup1_split", {}).get("p50_ms", [])
    if lookup:
        add(
            "ours single row with a 10-feature online lookup, p50 at 1 connection, ms",
            lookup,
            "<= 1.2",
            [v <= TARGETS["lookup1_p50_ms"] for v in lookup],
        )
    off = summary.get("ours-log-off", {})
    for label in ("ours", "ours-compact"):
        mine = summary.get(label, {})
        for figure, metric in (
            ("single16_v2", "rps"),
            ("single16_split", "rps"),
            ("batch_v2", "rows_per_s"),
            ("batch_split", "rows_per_s"),
        ):
            base = off.get(figure, {}).get(metric, [])
            got = mine.get(figure, {}).get(metric, [])
            if base and got:
                ratios = [round(g / b, 3) if b else 0.0 for g, b in zip(got, base, strict=True)]
                add(
                    f"{label} / logging off, {figure} {metric}",
                    ratios,
                    ">= 0.90",
                    [r >= 0.9 for r in ratios],
                )
    return rows


def print_table(summary: dict[str, Any], targets: list[dict[str, Any]]) -> None:
    print()
    print(f"{'server':15} {'figure':16} {'metric':11} values per round")
    for label, figures in summary.items():
        for fig, metrics in figures.items():
            for k, values in metrics.items():
                shown = "  ".join(
                    f"{v:>10,.0f}" if k in {"rps", "rows_per_s"} else f"{v:>10.3f}" for v in values
                )
                print(f"{label:15} {fig:16} {k:11} {shown}")
    print()
    for t in targets:
        vals = ", ".join(f"{v:,.3f}" if v < 100 else f"{v:,.0f}" for v in t["values"])
        print(f"{t['figure']}: {vals} (target {t['target']}; met in {t['met_in_rounds']})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Model server benchmark: ours vs `mlflow models serve` vs MLServer (wrk).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per wrk figure")
    parser.add_argument(
        "--rounds", type=int, default=2, help="times every server is measured (0: none)"
    )
    parser.add_argument("--connections", type=int, default=16, help="connections of figure a")
    parser.add_argument(
        "--batch-connections", type=int, default=4, help="connections of the 1,000-row batch figure"
    )
    parser.add_argument("--workers", type=int, default=2, help="worker processes per server")
    parser.add_argument("--skip-mlflow", action="store_true", help="leave out mlflow models serve")
    parser.add_argument("--skip-mlserver", action="store_true", help="leave out MLServer")
    parser.add_argument("--skip-features", action="store_true", help="leave out figure d")
    parser.add_argument(
        "--mlserver-venv",
        type=Path,
        default=DEFAULT_VENV,
        help="venv with mlserver + mlserver-sklearn (created when missing)",
    )
    parser.add_argument(
        "--mlserver-parallel-workers",
        default="0,2",
        help="MLServer parallel_workers settings to measure (comma-separated)",
    )
    parser.add_argument(
        "--logging",
        default="on",
        help="prediction-log settings ours is measured with (comma-separated): off, on "
        "(compaction idle), compact (compacted every 5 s while measured)",
    )
    parser.add_argument(
        "--window-read",
        action="store_true",
        help="also time reading 1M logged rows back (compaction, read_window); with --rounds 0 "
        "nothing else",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary workspace")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="results JSON")
    args = parser.parse_args(argv)
    unknown = {m.strip() for m in args.logging.split(",")} - set(LOG_MODES)
    if unknown:
        parser.error(f"--logging takes {', '.join(LOG_MODES)}; not {', '.join(sorted(unknown))}")

    started = time.time()

    def log(msg: str) -> None:
        print(f"[{time.time() - started:6.1f}s] {msg}", flush=True)

    if not Path(WRK).exists():
        parser.error("wrk is not installed (apt-get install -y wrk)")
    if not args.skip_mlserver:
        ensure_mlserver_venv(args.mlserver_venv, log)
    work = Path(tempfile.mkdtemp(prefix="mlops-bench-serving-"))
    load_start = os.getloadavg()
    servers: list[Any] = []
    results: dict[str, Any] = {}
    try:
        import logging
        import warnings

        logging.getLogger("mlflow").setLevel(logging.ERROR)
        warnings.filterwarnings("ignore")
        setup_t = time.perf_counter()
        built = build_workspace(work / "ws", log)
        ws, clf, test = built["ws"], built["clf"], built["test"]
        model_dir = ws.registry.model_path("churn:1")
        # MLflow's folder holds model.skops, which MLServer's sklearn runtime cannot read: it
        # gets the same fitted estimator object dumped with joblib (answers checked equal).
        import joblib

        model_file = work / "mlserver-model.joblib"
        joblib.dump(clf, model_file)
        features = None if args.skip_features else build_feature_model(ws, log)
        log(f"set-up took {time.perf_counter() - setup_t:.1f} s; model folder {model_dir}")

        single, batch = test[:1], test[:BATCH]
        expected = {
            "single": clf.predict(single).astype(np.float64),
            "batch": clf.predict(batch).astype(np.float64),
        }
        assert 0 < expected["batch"].mean() < 1, "the batch should hold both classes"
        kinds = {
            "v2": {"single": v2_body(single), "batch": v2_body(batch)},
            "split": {"single": split_body(single), "batch": split_body(batch)},
        }
        reference = in_process_reference(clf, single, batch)
        window = time_window_read(work / "window-log", log) if args.window_read else None
        log(
            f"in-process predict: 1 row p50 {reference['predict_1_row_p50_ms']:.3f} ms, "
            f"1,000 rows p50 {reference['predict_1000_rows_p50_ms']:.2f} ms"
        )

        def make_servers() -> list[Any]:
            # A new deployment name each round: a fresh prediction-log folder (see the README on
            # segments left open after a stop).
            made: list[Any] = []
            for mode in [m.strip() for m in args.logging.split(",") if m.strip()]:
                ours = Ours(
                    ws,
                    "churn:1",
                    f"bench-churn-{mode}-r{rnd}",
                    args.workers,
                    deployments_for(ws, mode),
                )
                ours.label = LOG_MODES[mode]
                made.append(ours)
            if not args.skip_mlflow:
                made.append(mlflow_server(model_dir, work, args.workers))
            if not args.skip_mlserver:
                for pw in [int(p) for p in args.mlserver_parallel_workers.split(",") if p]:
                    made.append(mlserver_server(args.mlserver_venv, model_file, work, pw))
            return made

        rounds: list[dict[str, Any]] = []
        described: dict[str, str] = {}
        for rnd in range(1, args.rounds + 1):
            log(f"round {rnd} of {args.rounds}")
            this: dict[str, Any] = {"round": rnd, "started": now_iso(), "servers": {}}
            for server in make_servers():
                servers.append(server)
                t0 = time.perf_counter()
                server.start()
                log(
                    f"{server.label} up in {time.perf_counter() - t0:.1f} s "
                    f"({len(server.pids())} processes)"
                )
                described[server.label] = server.describe
                check_answers(server, kinds, expected)
                this["servers"][server.label] = time_server(server, kinds, args, work, log)
                server.stop()
                if isinstance(server, Ours):
                    this.setdefault("ours_prediction_log", {})[server.name] = server.after_stop
                    log(f"{server.name} stopped: {server.after_stop}")
            if features is not None:
                server = Ours(ws, "churn_fs:1", f"bench-features-r{rnd}", args.workers)
                server.label = "ours-features"
                servers.append(server)
                server.start()
                described[server.label] = server.describe
                this["servers"][server.label] = time_lookup(server, features, args, work, log)
                server.stop()
                this.setdefault("ours_prediction_log", {})[server.name] = server.after_stop
                log(f"{server.name} stopped: {server.after_stop}")
            this["load_1min_end"] = round(os.getloadavg()[0], 2)
            rounds.append(this)
        summary = summarize(rounds)
        targets = judge(summary)
        predictions = ws.state_dir / "predictions"
        log_bytes = sum(p.stat().st_size for p in predictions.rglob("*") if p.is_file())
        results = {
            "date": now_iso(),
            "command": " ".join(shlex.quote(a) for a in [sys.executable, *sys.argv]),
            "machine": {
                **machine(),
                "load_average_start": list(load_start),
                "load_average_end": list(os.getloadavg()),
            },
            "versions": versions(),
            "mlserver_venv_versions": venv_versions(args.mlserver_venv)
            if not args.skip_mlserver
            else None,
            "setup": {
                "model": "GradientBoostingClassifier(n_estimators=100, max_depth=3) on 10 float "
                "features (make_classification, 5,000 training rows); mlflow.sklearn.log_model "
                "with the default pyfunc_predict_fn (predict); registered as churn:1",
                "feature_model": None
                if features is None
                else "GradientBoostingClassifier(n_estimators=100, max_depth=3) on "
                f"{', '.join(features['refs'])} (2 views x 5 float64 features, 10,000 entities, "
                "SQLite online store), trained on get_training_frame output in a tracked run, "
                "registered as churn_fs:1; requests carry only customer_id (1,000 keys cycled)",
                "servers": described,
                "wrk": {
                    "single16": f"-t2 -c{args.connections}",
                    "single1": "-t1 -c1",
                    "batch": f"-t2 -c{args.batch_connections}",
                    "lookup1": "-t1 -c1",
                    "lookup16": f"-t2 -c{args.connections}",
                    "duration_s": args.duration,
                    "warm_up_s": 2,
                },
                "bodies": {k: {s: len(b) for s, b in v.items()} for k, v in kinds.items()},
                "workers": args.workers,
                "prediction_log_bytes_written": log_bytes,
                "answers_checked": "every server/protocol: 1 row and 1,000 rows equal to "
                "clf.predict in the benchmark process (and 50 entity keys for the feature "
                "model) before timing",
            },
            "reference": reference,
            "window_read": window,
            "targets": targets,
            "summary": summary,
            "rounds": rounds,
        }
        args.out.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.out.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(results, indent=1) + "\n")
        os.replace(tmp, args.out)
        print_table(summary, targets)
        log(f"wrote {args.out}")
        return 0
    finally:
        for server in reversed(servers):
            try:
                server.stop()
            except Exception as exc:  # keep stopping the others
                print(f"stopping {server.label} failed: {exc}", file=sys.stderr)
        try:
            if "ws" in locals():
                ws.features.close()
        except Exception:
            pass
        if args.keep:
            print(f"workspace kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def time_lookup(
    server: Ours, features: dict[str, Any], args: argparse.Namespace, work: Path, log: Any
) -> dict[str, Any]:
    url = server.endpoints()["split"]
    keys = features["keys"]
    for key, want in zip(keys[:50], features["expected50"], strict=True):
        body = dumps({"dataframe_records": [{"customer_id": key}]})
        got = predictions_of(http("POST", url, body))
        if got.shape != (1,) or got[0] != float(want):
            raise RuntimeError(f"ours-features: key {key}: {got} instead of {want}")
    bodies = [dumps({"dataframe_records": [{"customer_id": k}]}) for k in keys]
    pids = server.pids()
    run_wrk(url, bodies, threads=1, connections=1, duration=2, work=work, pids=pids)
    out: dict[str, Any] = {}
    for figure, threads, conns in [("lookup1", 1, 1), ("lookup16", 2, args.connections)]:
        r = run_wrk(
            url,
            bodies,
            threads=threads,
            connections=conns,
            duration=args.duration,
            work=work,
            pids=pids,
        )
        out[f"{figure}_split"] = r
        log(f"  {server.label:13} {figure:8} keys  " + brief(r, figure))
    return out


def in_process_reference(clf: Any, single: np.ndarray, batch: np.ndarray) -> dict[str, float]:
    """``clf.predict`` in this process: the floor under any server's latency."""

    def p50(fn: Any, n: int) -> float:
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return statistics.median(times) * 1000

    return {
        "predict_1_row_p50_ms": round(p50(lambda: clf.predict(single), 2000), 4),
        "predict_1000_rows_p50_ms": round(p50(lambda: clf.predict(batch), 200), 3),
    }


def time_window_read(folder: Path, log: Any) -> dict[str, Any]:
    """The prediction log read back: 1,000 requests of 1,000 rows x 10 float inputs (1M
    predicted rows) appended through the replicas' PredictionLog, compacted, then windows read
    with read_window (best of 5 each)."""
    from jupyter_mlops.serving.logtable import LogSchema, update_schema
    from jupyter_mlops.serving.predictions import compact, query_window, read_window
    from jupyter_mlops.serving.predlog import PredictionLog

    rng = np.random.default_rng(2)
    update_schema(
        folder,
        LogSchema({**{f"input.{c}": "float64" for c in COLUMNS}, "output": "float64"}),
    )
    plog = PredictionLog(folder, fsync_interval=0)
    t0 = time.perf_counter()
    start = time.time()
    for i in range(1000):
        x = rng.normal(size=(BATCH, N_FEATURES))
        plog.append(
            {
                "id": f"req-{i:05d}",
                "time": start + i * 0.01,
                "deployment": "bench",
                "model": "churn",
                "version": 1,
                "protocol": "v2",
                "status": 200,
                "latency_ms": 2.0,
                "rows": BATCH,
                "inputs": {"columns": COLUMNS, "data": x},
                "outputs": (x[:, 0] > 0).astype(np.float64),
            }
        )
    plog.close()
    appended = time.perf_counter() - t0
    t0 = time.perf_counter()
    report = compact(folder)
    compacted = time.perf_counter() - t0

    def best(fn: Any) -> tuple[float, int]:
        times, rows = [], 0
        for _ in range(5):
            t = time.perf_counter()
            rows = fn().num_rows
            times.append(time.perf_counter() - t)
        return round(min(times), 3), rows

    figures = {
        "all_columns": best(lambda: read_window(folder)),
        "three_columns": best(lambda: read_window(folder, columns=["time", "input.f0", "output"])),
        "half_window": best(lambda: read_window(folder, start=start + 5.0)),
        "last_10000": best(lambda: read_window(folder, last=10_000)),
        "sql_aggregate": best(
            lambda: query_window(folder, "SELECT avg(output) AS a, count(*) AS n FROM predictions")
        ),
    }
    out = {
        "rows": report.rows,
        "parquet_files": len(report.files),
        "parquet_mb": round(sum(p.stat().st_size for p in folder.glob("*.parquet")) / 1e6, 1),
        "append_s": round(appended, 2),
        "compact_s": round(compacted, 2),
        "read_s": {k: v[0] for k, v in figures.items()},
        "read_rows": {k: v[1] for k, v in figures.items()},
    }
    log(f"window read of the prediction log: {out}")
    return out


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


if __name__ == "__main__":
    sys.exit(main())
