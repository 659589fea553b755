"""Benchmark of the monitoring dashboard: time from opening its URL to the first useful content.

Run from the repository root (needs Debian's chromium)::

    python benchmarks/bench_dashboard.py        # writes benchmarks/results/dashboard.json
    python benchmarks/bench_dashboard.py --repeats 3 --workspace DIR --deployment churn

"First useful content" is the health verdict ("Healthy", "Needs attention", ...) visible in the
page, read from the newest stored check; also reported: when all four plotly charts are drawn.
Each repeat opens the URL in a new browser context (no cache) and measures from ``goto``.

Three ways to serve it:

- ``standalone``: ``jupyter mlops dashboard NAME --port P --no-browser`` (a pre-heated kernel);
  before each repeat the benchmark waits until the next pre-heated kernel is ready (its ready
  file), as a visitor arriving a little later would find it;
- ``standalone-cold``: the same with ``--no-preheat``: the kernel starts on request;
- ``jupyter-server``: ``/voila/render/dashboards/monitoring.ipynb?deployment=NAME`` on a running
  ``jupyter server`` (Voila's server extension cannot pre-heat).

Without ``--workspace`` a temporary one is built: a model trained on three columns, deployed,
1,000 predictions of which the last 500 have a shifted column, and two stored checks.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "results" / "dashboard.json"
TARGET_S = 3.0
# The verdict in the first-paint HTML or in the live summary, whichever shows first.
FIRST_CONTENT = ".jp-mlops-Verdict >> visible=true"
CHROMIUM = os.environ.get("MLOPS_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def build_workspace(root: Path, name: str) -> None:
    """A deployed model with 1,000 logged predictions and two stored checks."""
    import httpx
    import numpy as np
    import pandas as pd

    sys.path.insert(0, str(HERE.parent))
    from jupyter_mlops import Workspace
    from jupyter_mlops.monitoring.windows import Window
    from tests.conftest import log_model_run

    def frame(n: int, seed: int, scale: float = 1.0) -> pd.DataFrame:
        rng = np.random.default_rng(seed)
        return pd.DataFrame(
            {
                "tenure": rng.integers(1, 72, n).astype("int64"),
                "spend": rng.normal(50, 10, n) * scale,
                "calls": rng.poisson(2, n).astype("float64"),
            }
        )

    ws = Workspace.init(root)
    training = frame(3000, 0)
    run = log_model_run(ws, frame=training)
    ws.registry.register(run, name, aliases=["champion"], training_data=training)
    ws.deployments.deploy(f"{name}@champion", name=name)
    url = ws.deployments.get(name).url
    for seed, scale in ((1, 1.0), (2, 2.0)):
        rows = frame(500, seed, scale)
        with httpx.Client(base_url=url, timeout=30) as client:
            for start in range(0, len(rows), 50):
                part = rows.iloc[start : start + 50]
                body = {"dataframe_split": {"columns": list(part), "data": part.values.tolist()}}
                r = client.post(
                    "/invocations", json=body, headers={"x-request-id": uuid.uuid4().hex}
                )
                r.raise_for_status()
        ws.monitoring.check(name, Window.parse(last=500))


def wait(condition: Callable[[], bool], what: str, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} within {timeout:.0f} s")
        time.sleep(0.1)


def measure(browser: Any, url: str) -> tuple[float, float]:
    """Seconds from ``goto`` to the verdict, and to four drawn charts."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        start = time.monotonic()
        page.goto(url, wait_until="commit")
        page.locator(FIRST_CONTENT).first.wait_for(state="visible", timeout=120_000)
        first = time.monotonic() - start
        page.wait_for_function(
            "document.querySelectorAll('.js-plotly-plot .main-svg').length >= 4",
            timeout=120_000,
        )
        charts = time.monotonic() - start
    finally:
        context.close()
    return first, charts


def bench_standalone(
    browser: Any, root: Path, name: str, repeats: int, preheat: bool
) -> dict[str, Any]:
    from jupyter_mlops.dashboards.serve import ready_file
    from jupyter_mlops.process import free_port

    cli = shutil.which("jupyter-mlops") or str(Path(sys.executable).parent / "jupyter-mlops")
    port = free_port()
    log = root / ".mlops" / "logs" / f"bench-dashboard-{port}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    flags = ["--no-browser", "--port", str(port)] + ([] if preheat else ["--no-preheat"])
    started = time.monotonic()
    with log.open("w") as out:
        process = subprocess.Popen(
            [cli, "dashboard", name, *flags],
            cwd=root,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    samples: list[tuple[float, float]] = []
    try:
        wait(lambda: "Ctrl-C" in log.read_text(), "the dashboard command printed its URL")
        start_s = time.monotonic() - started
        url = next(w for w in log.read_text().split() if w.startswith("http://127.0.0.1:"))
        ready = ready_file(root, port)
        for _ in range(repeats):
            if preheat:
                wait(ready.exists, "the next pre-heated kernel")
                ready.unlink()
            samples.append(measure(browser, url))
    finally:
        import signal

        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
    return {"command_start_s": round(start_s, 2), **summary(samples)}


def bench_jupyter_server(browser: Any, root: Path, name: str, repeats: int) -> dict[str, Any]:
    from jupyter_mlops.dashboards import install, render_url, served_path
    from jupyter_mlops.process import free_port

    port = free_port()
    token = secrets.token_hex(16)
    log = root / ".mlops" / "logs" / f"bench-jupyter-{port}.log"
    env = {k: v for k, v in os.environ.items() if k != "MLOPS_WORKSPACE"}
    with log.open("w") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jupyter_server",
                "--allow-root",
                "--no-browser",
                f"--ServerApp.token={token}",
                "--ServerApp.ip=127.0.0.1",
                f"--ServerApp.port={port}",
                f"--ServerApp.root_dir={root}",
            ],
            cwd=root,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    samples: list[tuple[float, float]] = []
    try:

        def up() -> bool:
            try:
                with _OPENER.open(f"{base}/api/status?token={token}", timeout=2) as r:
                    return bool(r.status == 200)
            except OSError:
                return False

        wait(up, "jupyter server answered")
        link = _link(base, token, name)
        if link is None:  # the route is not wired in this build: what it would answer
            path = served_path(install(root), root)
            link = render_url("/", path, name)
        for _ in range(repeats):
            samples.append(measure(browser, f"{base}{link}&token={token}"))
    finally:
        import signal

        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
    return summary(samples)


def _link(base: str, token: str, name: str) -> str | None:
    request = urllib.request.Request(
        f"{base}/mlops/api/monitoring/deployments/{name}/dashboard",
        headers={"Authorization": f"token {token}"},
    )
    try:
        with _OPENER.open(request, timeout=60) as response:
            return str(json.loads(response.read())["url"])
    except OSError:
        return None


def summary(samples: list[tuple[float, float]]) -> dict[str, Any]:
    first = [s[0] for s in samples]
    charts = [s[1] for s in samples]
    return {
        "first_content_s": [round(v, 2) for v in first],
        "first_content_median_s": round(statistics.median(first), 2),
        "charts_s": [round(v, 2) for v in charts],
        "charts_median_s": round(statistics.median(charts), 2),
        "within_target": statistics.median(first) <= TARGET_S,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workspace", type=Path, help="a workspace with the deployment")
    parser.add_argument("--deployment", default="churn")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--only",
        action="append",
        choices=["standalone", "standalone-cold", "jupyter-server"],
        help="one way of serving (repeatable; default all three)",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    modes = args.only or ["standalone", "standalone-cold", "jupyter-server"]
    tmp = None
    root = args.workspace
    if root is None:
        tmp = tempfile.mkdtemp(prefix="bench-dashboard-")
        root = Path(tmp) / "ws"
        print("building a workspace with a deployment and two checks ...", flush=True)
        build_workspace(root, args.deployment)
    root = root.resolve()
    result: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "load_average_start": os.getloadavg(),
        },
        "python": platform.python_version(),
        "target_s": TARGET_S,
        "repeats": args.repeats,
        "modes": {},
    }
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                for mode in modes:
                    print(f"{mode} ...", flush=True)
                    if mode == "jupyter-server":
                        figures = bench_jupyter_server(browser, root, args.deployment, args.repeats)
                    else:
                        figures = bench_standalone(
                            browser, root, args.deployment, args.repeats, mode == "standalone"
                        )
                    result["modes"][mode] = figures
            finally:
                browser.close()
    finally:
        result["machine"]["load_average_end"] = os.getloadavg()
        if tmp is not None:
            from jupyter_mlops import Workspace

            ws = Workspace.open(root)
            ws.monitoring.stop_scheduler()
            for d in ws.deployments.list():
                if d.state not in {"stopped", "failed"}:
                    ws.deployments.stop(d.name)
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"\n{'mode':<16} {'first content (median)':>24} {'all charts (median)':>20}  samples")
    for mode, f in result["modes"].items():
        print(
            f"{mode:<16} {f['first_content_median_s']:>22.2f} s {f['charts_median_s']:>18.2f} s"
            f"  {f['first_content_s']}"
        )
    print(
        f"load average: {result['machine']['load_average_start']} -> "
        f"{result['machine']['load_average_end']}"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
