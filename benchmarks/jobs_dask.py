"""Benchmark: a sweep of 8 jobs on a local Dask cluster (a scheduler and 2 workers, 1 thread each).

Run from the repository root::

    python benchmarks/jobs_dask.py                 # writes benchmarks/results/jobs_dask.json
    python benchmarks/jobs_dask.py --repeats 1 --no-local --out /tmp/jobs_dask.json

It starts ``dask scheduler`` and two ``dask worker`` processes on loopback, makes a temporary
workspace (embedded SQLite store) with ``[jobs] executor = "dask://127.0.0.1:PORT"``, and times
``ws.jobs.sweep`` of a tiny notebook over 8 parameter sets until all 8 jobs succeeded:

- *cold*: the first sweep, which starts the dispatcher, connects it and checks both workers
  (imports of papermill and MLflow on each) before the first job;
- *warm*: later sweeps, dispatcher connected and workers checked. Each job still starts a kernel
  on its worker (no warm kernels on Dask).

For reference, the same sweep on the local executor (2 warm-kernel slots) of the same machine.
The JSON records the machine, its load average before and after, and every sample.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import nbformat

from jupyter_mlops import Workspace

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "results" / "jobs_dask.json"
DASK = str(Path(sys.executable).parent / "dask")
GRID = {"lr": [0.1, 0.2, 0.3, 0.4], "seed": [0, 1]}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_text(log: Path, text: str, timeout: float = 120.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        content = log.read_text(errors="replace") if log.exists() else ""
        if text in content:
            return content
        time.sleep(0.1)
    raise SystemExit(f"{log.name}: no {text!r} within {timeout:.0f} s")


def start_cluster(folder: Path) -> tuple[str, list[subprocess.Popen[bytes]]]:
    port = free_port()
    procs = []

    def start(args: list[str], log: Path) -> None:
        with open(log, "wb") as out:
            procs.append(
                subprocess.Popen(
                    [DASK, *args], stdout=out, stderr=subprocess.STDOUT, start_new_session=True
                )
            )

    start(
        ["scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
        folder / "scheduler.log",
    )
    wait_for_text(folder / "scheduler.log", "Scheduler at:")
    for name in ("w1", "w2"):
        start(
            [
                "worker", f"tcp://127.0.0.1:{port}", "--name", name, "--nthreads", "1",
                "--host", "127.0.0.1", "--no-dashboard", "--local-directory", str(folder / name),
            ],
            folder / f"{name}.log",
        )  # fmt: skip
    for name in ("w1", "w2"):
        wait_for_text(folder / f"{name}.log", "Registered to:")
    return f"dask://127.0.0.1:{port}", procs


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    import signal

    for proc in reversed(procs):
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def workspace(folder: Path, executor: str) -> Workspace:
    ws = Workspace.init(folder)
    toml = ws.root / "mlops.toml"
    toml.write_text(toml.read_text().replace('executor = "local"', f'executor = "{executor}"'))
    ws = Workspace.open(ws.root)
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python", "language": "python"}
    params = nbformat.v4.new_code_cell("lr = 0.1\nseed = 0")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell("score = lr * 10 + seed\nprint(score)")]
    nbformat.write(nb, str(ws.root / "tiny.ipynb"))
    return ws


def sweep_seconds(ws: Workspace) -> tuple[float, list[str]]:
    started = time.perf_counter()
    sweep = ws.jobs.sweep("tiny.ipynb", grid=GRID)
    jobs = [ws.jobs.wait(job.id, timeout=600) for job in sweep.jobs]
    seconds = time.perf_counter() - started
    bad = [f"{j.id}: {j.state} {j.message}" for j in jobs if j.state != "succeeded"]
    if bad:
        raise SystemExit("jobs did not succeed:\n" + "\n".join(bad))
    return seconds, sorted({j.worker or "?" for j in jobs})


def measure(ws: Workspace, repeats: int) -> dict[str, Any]:
    try:
        cold, workers = sweep_seconds(ws)
        warm = [sweep_seconds(ws)[0] for _ in range(repeats)]
    finally:
        ws.jobs.stop_workers()
    return {
        "cold_seconds": round(cold, 3),
        "warm_seconds": [round(s, 3) for s in warm],
        "warm_median_seconds": round(statistics.median(warm), 3) if warm else None,
        "workers": workers,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="warm sweeps after the cold one")
    parser.add_argument("--no-local", action="store_true", help="skip the local reference")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    load_before = os.getloadavg()
    results: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "python": platform.python_version(),
        "jobs": 8,
        "grid": GRID,
    }
    with tempfile.TemporaryDirectory(prefix="bench-jobs-dask-") as tmp:
        folder = Path(tmp)
        executor, procs = start_cluster(folder)
        try:
            results["dask"] = measure(workspace(folder / "ws-dask", executor), args.repeats)
        finally:
            stop(procs)
        if not args.no_local:
            results["local"] = measure(workspace(folder / "ws-local", "local"), args.repeats)
    results["load_average"] = {"before": load_before, "after": os.getloadavg()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"sweep of 8 jobs, Dask (2 workers x 1 thread), {executor}:")
    print(f"  cold (dispatcher start + worker checks): {results['dask']['cold_seconds']:.2f} s")
    print(f"  warm, median of {args.repeats}: {results['dask']['warm_median_seconds']} s")
    if "local" in results:
        print(f"local executor (2 slots), warm median: {results['local']['warm_median_seconds']} s")
    print(f"load average before/after: {load_before} / {results['load_average']['after']}")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
