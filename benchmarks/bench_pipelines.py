"""Benchmark of continuous training: from a trigger event to the challenger receiving traffic.

Run from the repository root::

    python benchmarks/bench_pipelines.py                # ~5 minutes: the demo, then 3 runs
    python benchmarks/bench_pipelines.py --runs 1 --out /tmp/pipelines.json

It builds the demo workspace (``build_demo``): its drifted traffic raises a drift alert, and the
demo's pipeline ``churn-retrain`` retrains from it, with the demo's notebook, through the
workspace's scheduler process. That first run is measured from the **alert event** (the
monitoring check that fired it). Then ``--runs`` more runs are started by hand ("run now"), each
after the previous A/B test was stopped, to measure the same steps warm.

Each run is timed from its event to the first answer from the challenger (requests are sent
once the A/B step has started, until one is answered by the challenger), step by step:

- **event -> taken**: until the scheduler turned the event into a run (alert polling);
- **taken -> job started**: the job queued and a worker's kernel took it;
- **notebook cells**: the sum of the executed notebook's cell durations (papermill records
  each) — the notebook's own execution, which is not ours;
- **job rest**: the job's other time (papermill, parameters, storing the executed notebook);
- **job ended -> gates, register, alias, A/B test**: each step's own time, and the waits between
  them (the scheduler noticing the job's end);
- **A/B started -> first challenger answer**.

"Our overhead" is everything but the notebook's cells. Target: <= 2 s. Results go to
``benchmarks/results/pipelines.json`` with the machine, versions, date and command.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shlex
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def cell_seconds(path: Path) -> float:
    """The sum of the executed notebook's cell durations, as papermill recorded them."""
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    return sum(
        float(c.metadata.get("papermill", {}).get("duration") or 0.0)
        for c in nb.cells
        if c.cell_type == "code"
    )


def first_challenger_answer(url: str, customer: int, timeout: float = 60) -> float:
    """Send requests until the challenger answers one; the time it did (epoch seconds)."""
    import httpx

    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=10) as client:
        i = 0
        while time.monotonic() < deadline:
            r = client.post(
                f"{url}/invocations",
                json={"dataframe_records": [{"customer_id": customer}]},
                headers={"x-sticky-key": f"bench-{i}"},
            )
            if r.status_code == 200 and r.headers.get("x-variant") == "challenger":
                return time.time()
            i += 1
    raise RuntimeError("the challenger did not answer within the timeout")


def measure(ws: Any, run_id: str, url: str, event_time: dt.datetime) -> dict[str, Any]:
    """Wait for the run's A/B step, then time each step of it."""
    from jupyter_mlops.demo import customer_ids

    while True:
        run = ws.pipelines.get_run(run_id)
        if run.state in ("failed", "cancelled"):
            raise RuntimeError(f"pipeline run {run.id} ended {run.state}: {run.message}")
        if run.step("abtest").state == "succeeded":
            break
        time.sleep(0.02)
    answered = first_challenger_answer(url, customer_ids(ws)[0])
    job = ws.jobs.get(run.job_id)
    cells = cell_seconds(ws.root / job.output)
    steps = {s.name: s for s in run.steps}

    def t(x: dt.datetime | None) -> float:
        assert x is not None
        return x.timestamp()

    points = {
        "event": event_time.timestamp(),
        "taken": t(run.created),
        "job_started": t(job.started),
        "job_finished": t(job.finished),
        "job_step_ended": t(steps["job"].ended),
        "gates_ended": t(steps["gates"].ended),
        "register_ended": t(steps["register"].ended),
        "alias_ended": t(steps["alias"].ended),
        "abtest_started": t(steps["abtest"].started),
        "abtest_ended": t(steps["abtest"].ended),
        "first_challenger_answer": answered,
    }
    total = answered - points["event"]
    job_total = points["job_finished"] - points["job_started"]
    seconds = {
        "event_to_taken": points["taken"] - points["event"],
        "taken_to_job_started": points["job_started"] - points["taken"],
        "notebook_cells": cells,
        "job_rest": job_total - cells,
        "job_end_noticed": points["job_step_ended"] - points["job_finished"],
        "gates": points["gates_ended"] - points["job_step_ended"],
        "register": points["register_ended"] - points["gates_ended"],
        "alias": points["alias_ended"] - points["register_ended"],
        "abtest_start": points["abtest_ended"] - points["alias_ended"],
        "to_first_challenger_answer": answered - points["abtest_ended"],
    }
    return {
        "run": run.id,
        "trigger": run.trigger.kind,
        "version": run.model_version,
        "total_seconds": round(total, 3),
        "overhead_seconds": round(total - cells, 3),
        "steps_seconds": {k: round(v, 3) for k, v in seconds.items()},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="warm runs started by hand")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "pipelines.json"))
    args = parser.parse_args()

    from importlib.metadata import version

    from jupyter_mlops.demo import MODEL, PIPELINE, build_demo

    started = time.time()
    result: dict[str, Any] = {
        "benchmark": "pipelines",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": "python benchmarks/" + " ".join(shlex.quote(a) for a in sys.argv),
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpu_count": os.cpu_count(),
            "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
        },
        "versions": {p: version(p) for p in ("jupyter-mlops", "mlflow", "papermill")},
    }
    with tempfile.TemporaryDirectory(prefix="bench-pipelines-") as tmp:
        ws, _ = build_demo(Path(tmp) / "demo")
        try:
            url = ws.deployments.get(MODEL).url
            [first] = ws.pipelines.runs(PIPELINE).runs
            report_id = first.trigger.evidence.get("report_id")
            alert_time = first.trigger.time
            cold = measure(ws, first.id, url, alert_time)
            cold["alert_report"] = report_id
            runs = []
            for _ in range(args.runs):
                ws.abtests.stop(MODEL, "champion")
                pressed = dt.datetime.now(dt.UTC)
                started_run = ws.pipelines.run_now(PIPELINE, reason="benchmark").run
                assert started_run is not None, "the run was absorbed: debounce_seconds?"
                runs.append(measure(ws, started_run.id, url, pressed))
        finally:
            ws.monitoring.stop_scheduler()
            ws.jobs.stop_workers()
            for d in ws.deployments.list():
                if d.state not in ("stopped", "failed"):
                    ws.deployments.stop(d.name)
    result["from_alert_cold"] = cold
    result["run_now_warm"] = runs
    if runs:
        result["run_now_warm_median"] = {
            "total_seconds": statistics.median(r["total_seconds"] for r in runs),
            "overhead_seconds": statistics.median(r["overhead_seconds"] for r in runs),
            "steps_seconds": {
                k: round(statistics.median(r["steps_seconds"][k] for r in runs), 3)
                for k in runs[0]["steps_seconds"]
            },
        }
    result["machine"]["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    result["wall_seconds"] = round(time.time() - started, 1)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in result if k != "versions"}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
