"""Benchmark: training jobs on the local executor.

Run from the repository root::

    python benchmarks/bench_jobs.py                 # writes benchmarks/results/jobs.json
    python benchmarks/bench_jobs.py --quick --out /tmp/jobs.json

Figure 1, a trivial 3-cell notebook (a parameters cell, one computation, one print), submit to
succeeded (target: median <= 0.7 s), measured in the same run side by side with:

- ``jobs``: ``ws.jobs.submit`` then ``ws.jobs.wait`` on the 2-slot local executor, the workers
  idle and their kernels warm (what a user gets who submits a job now and then); the JSON splits
  each sample into queue wait (created -> started) and run (started -> finished);
- ``jobs back-to-back``: the next job submitted as soon as the previous one ends, so a slot is
  often still starting its next kernel;
- ``papermill CLI``: ``papermill in.ipynb out.ipynb -p a N`` as a subprocess;
- ``papermill in-process``: ``papermill.execute_notebook`` in this process (a kernel per call);
- ``bare kernel``: start a kernel, execute the 3 cells, shut it down (jupyter_client).

Figure 2, 20 jobs (each ~1.5 s of sleep) on 2 slots, submitted through the REST API of a real
``jupyter server``: while jobs are queued and running, the server is killed with kill -9 and
started again, and then one worker (with its kernel) is killed with kill -9 as a reboot would.
Counted: jobs lost (not succeeded at the end), jobs run to completion twice (more than one
FINISHED run with the job's id), and the interrupted ones (requeued by the documented rule).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import nbformat

from jupyter_mlops import Workspace
from jupyter_mlops.lineage.tags import JOB_TAG

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "results" / "jobs.json"
TARGET_MS = 700.0


def write_notebook(path: Path, cells: list[str], parameters: str) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    first = nbformat.v4.new_code_cell(parameters)
    first.metadata["tags"] = ["parameters"]
    nb.cells = [first, *[nbformat.v4.new_code_cell(c) for c in cells]]
    nbformat.write(nb, str(path))


def summary(samples: list[float]) -> dict[str, Any]:
    ordered = sorted(samples)
    return {
        "n": len(samples),
        "median_ms": round(statistics.median(samples), 1),
        "p95_ms": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 1),
        "min_ms": round(ordered[0], 1),
        "samples_ms": [round(s, 1) for s in samples],
    }


def workers_idle(ws: Workspace, settle: float) -> None:
    """Wait until every slot is idle with a warm kernel (and a moment more for the load of
    starting it to pass)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        state = ws.jobs.executor_state()
        if len(state.ready) == state.slots and not state.busy and not state.queued:
            break
        time.sleep(0.05)
    time.sleep(settle)


def bench_jobs(ws: Workspace, repeats: int, back_to_back: bool) -> dict[str, Any]:
    samples, queue, run = [], [], []
    ws.jobs.ensure_workers()
    for i in range(repeats):
        if not back_to_back:
            workers_idle(ws, settle=0.2)
        start = time.perf_counter()
        job = ws.jobs.submit("trivial.ipynb", {"a": i})
        job = ws.jobs.wait(job.id, timeout=120, poll=0.005)
        samples.append((time.perf_counter() - start) * 1000)
        if job.state != "succeeded":
            raise SystemExit(f"job {job.id} {job.state}: {job.message}")
        assert job.started and job.finished
        queue.append((job.started - job.created).total_seconds() * 1000)
        run.append((job.finished - job.started).total_seconds() * 1000)
    out = summary(samples)
    out["queue_wait_median_ms"] = round(statistics.median(queue), 1)
    out["run_median_ms"] = round(statistics.median(run), 1)
    return out


def timed(fn: Callable[[int], Any], repeats: int) -> dict[str, Any]:
    samples = []
    for i in range(repeats):
        start = time.perf_counter()
        fn(i)
        samples.append((time.perf_counter() - start) * 1000)
    return summary(samples)


def bench_references(root: Path, repeats: int) -> dict[str, dict[str, Any]]:
    import papermill
    from jupyter_client.manager import start_new_kernel

    notebook = root / "trivial.ipynb"
    papermill_cli = str(Path(sys.executable).parent / "papermill")

    def cli(i: int) -> None:
        subprocess.run(
            [papermill_cli, str(notebook), str(root / "cli-out.ipynb"), "-p", "a", str(i),
             "--no-progress-bar", "--log-level", "WARNING"],
            check=True, capture_output=True, cwd=root,
        )  # fmt: skip

    def in_process(i: int) -> None:
        papermill.execute_notebook(
            str(notebook), str(root / "pm-out.ipynb"), parameters={"a": i}, progress_bar=False
        )

    def bare(i: int) -> None:
        km, kc = start_new_kernel(kernel_name="python3", cwd=str(root))
        try:
            for code in (f"a = {i}", "b = a * 2", "print(b)"):
                reply = kc.execute_interactive(code, timeout=60, output_hook=lambda msg: None)
                assert reply["content"]["status"] == "ok"
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=True)

    return {
        "papermill CLI": timed(cli, repeats),
        "papermill in-process": timed(in_process, repeats),
        "bare kernel start-execute-shutdown": timed(bare, repeats),
    }


# -- figure 2: kill -9 of the Jupyter server and of a worker --------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """A real ``jupyter server`` with the extension, on loopback, with token auth."""

    def __init__(self, root: Path, log: Path) -> None:
        self.root, self.log = root, log
        self.token = uuid.uuid4().hex
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""

    def start(self) -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}/mlops/api"
        with self.log.open("a") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "jupyter", "server", "--allow-root", "--no-browser",
                 f"--ServerApp.token={self.token}", "--ServerApp.ip=127.0.0.1", f"--port={port}"],
                cwd=self.root, env={**os.environ, "MLOPS_WORKSPACE": str(self.root)},
                stdout=log, stderr=log, start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if self.client().get("/jobs/executor").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise SystemExit(f"jupyter server did not answer; see {self.log}")

    def client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"token {self.token}"}, timeout=30
        )

    def kill9(self) -> None:
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)


def bench_kill(root: Path, jobs: int) -> dict[str, Any]:
    ws = Workspace.open(root)
    write_notebook(root / "sleepy.ipynb", ["import time\ntime.sleep(seconds)", "print('done', n)"],
                   "seconds = 1.5\nn = 0")  # fmt: skip
    server = Server(root, root / "jupyter-server.log")
    server.start()
    ids = []
    with server.client() as http:
        for n in range(jobs):
            answer = http.post("/jobs", json={"notebook": "sleepy.ipynb", "parameters": {"n": n}})
            assert answer.status_code == 201, answer.text
            ids.append(answer.json()["id"])
    # kill -9 the server while 2 jobs run and the others wait
    while sum(ws.jobs.store.status(i).state == "running" for i in ids) < 2:
        time.sleep(0.05)
    server.kill9()
    killed_server_at = {i: ws.jobs.store.status(i).state for i in ids}
    time.sleep(1.0)
    server.start()
    # then kill -9 one worker and its kernel in the middle of a job, as a reboot would
    victim = None
    while victim is None:
        for i in ids:
            st = ws.jobs.store.status(i)
            if st.state == "running" and st.worker_pid and st.kernel_pid:
                victim = (i, st.worker_pid, st.kernel_pid)
                break
        time.sleep(0.05)
    os.kill(victim[1], signal.SIGKILL)
    os.kill(victim[2], signal.SIGKILL)
    started = time.monotonic()
    with server.client() as http:
        while time.monotonic() - started < 600:
            states = [http.get(f"/jobs/{i}").json()["state"] for i in ids]
            if all(s in ("succeeded", "failed", "cancelled") for s in states):
                break
            time.sleep(0.5)
    server.stop()
    jobs_now = [ws.jobs.get(i) for i in ids]
    runs = ws.tracking.client.search_runs(
        [ws.tracking.get_experiment(jobs_now[0].experiment).experiment_id], max_results=1000
    )
    finished: dict[str, int] = {}
    for run in runs:
        if run.info.status == "FINISHED":
            job_id = run.data.tags.get(JOB_TAG, "")
            finished[job_id] = finished.get(job_id, 0) + 1
    ws.jobs.stop_workers()
    return {
        "jobs": jobs,
        "slots": ws.config.jobs.slots,
        "states_when_server_killed": {
            s: sum(v == s for v in killed_server_at.values())
            for s in set(killed_server_at.values())
        },
        "worker_killed_during_job": victim[0],
        "lost": sum(j.state != "succeeded" for j in jobs_now),
        "run_twice": sum(finished.get(j.id, 0) > 1 for j in jobs_now),
        "interrupted": {j.id: j.interrupted for j in jobs_now if j.interrupted},
        "runs_total": len(runs),
        "runs_finished": sum(finished.values()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--reference-repeats", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="5 repeats, 6 jobs")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    if args.quick:
        args.repeats, args.reference_repeats, args.jobs = 5, 2, 6
    result: dict[str, Any] = {
        "machine": {
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "python": sys.version.split()[0],
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
        },
        "target_median_ms": TARGET_MS,
    }
    with tempfile.TemporaryDirectory(prefix="bench-jobs-") as tmp:
        root = Path(tmp) / "ws"
        ws = Workspace.init(root)
        write_notebook(root / "trivial.ipynb", ["b = a * 2", "print(b)"], "a = 1")
        try:
            figures = {
                "jobs (warm slots)": bench_jobs(ws, args.repeats, back_to_back=False),
                "jobs back-to-back": bench_jobs(ws, args.repeats, back_to_back=True),
                **bench_references(root, args.reference_repeats),
            }
        finally:
            ws.jobs.stop_workers()
        result["submit_to_succeeded"] = figures
        result["kill9"] = bench_kill(root, args.jobs)
    result["machine"]["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    print(f"{'trivial 3-cell notebook':40} {'median ms':>10} {'p95 ms':>10}")
    for name, fig in figures.items():
        print(f"{name:40} {fig['median_ms']:>10} {fig['p95_ms']:>10}")
    warm = figures["jobs (warm slots)"]
    print(
        f"jobs: queue wait {warm['queue_wait_median_ms']} ms + run {warm['run_median_ms']} ms "
        f"(median); target median <= {TARGET_MS:.0f} ms: "
        f"{'met' if warm['median_ms'] <= TARGET_MS else 'NOT met'}"
    )
    k = result["kill9"]
    print(
        f"kill -9: {k['jobs']} jobs on {k['slots']} slots, server killed with "
        f"{k['states_when_server_killed']}, a worker killed during {k['worker_killed_during_job']}:"
        f" lost {k['lost']}, run twice {k['run_twice']}, interrupted {k['interrupted']}"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
