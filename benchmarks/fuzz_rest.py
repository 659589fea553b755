"""Fuzz the Jupyter REST API (``/mlops/api``) with schemathesis, over every operation of its
OpenAPI document, and count the 5xx answers and the answers the document does not describe.

Run from the repository root (long: about 10-20 minutes at 200 examples on 2 cores; not a test)::

    nice -n 10 python benchmarks/fuzz_rest.py                  # 200 examples per operation
    nice -n 10 python benchmarks/fuzz_rest.py --examples 20    # a quick look

It builds a workspace with data to fuzz against (the demo's feature views, its sweep of runs and
its registered model ``churn``, no deployment), starts a real ``jupyter server`` on it with the
extension and a token, and runs ``schemathesis run`` with the checks

- ``not_a_server_error``: no 5xx;
- ``status_code_conformance``, ``content_type_conformance``, ``response_schema_conformance``:
  every answer's status, content type and body are in the document (schema violations).

Results go to ``benchmarks/results/rest_fuzz.json``: requests by status class, the 5xx by
operation, and each failing check with its operation and first message; schemathesis's own JUnit
and HAR reports stay in the work folder.

``--target model-server`` fuzzes the demo's deployment ``churn`` instead (its own OpenAPI
document: the MLflow scoring protocol, the Open Inference Protocol v2, feedback, metrics, with
feature lookup from the online store), with the same checks; results go to
``benchmarks/results/model_server_fuzz.json``::

    nice -n 10 python benchmarks/fuzz_rest.py --target model-server
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import uuid
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results" / "rest_fuzz.json"
MODEL_SERVER_RESULTS = Path(__file__).parent / "results" / "model_server_fuzz.json"
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# What the fuzzer's jobs run: the fuzzer finds the workspace's notebooks and queues them (POST
# /jobs, sweeps, reruns, replays), so they are made cheap, one at a time.
TINY_NOTEBOOK = {
    "cells": [
        {"cell_type": "code", "metadata": {"tags": ["parameters"]}, "source": "lr = 0.1",
         "outputs": [], "execution_count": None},
        {"cell_type": "code", "metadata": {}, "source": "x = lr * 2", "outputs": [],
         "execution_count": None},
    ],
    "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                "language": "python"}},
    "nbformat": 4,
    "nbformat_minor": 5,
}  # fmt: skip


def build_workspace(root: Path, *, deploy: bool = False) -> None:
    from jupyter_mlops.demo import build_demo

    started = time.perf_counter()
    _, summary = build_demo(root, notebook_run=False, deploy=deploy)
    print(f"workspace built in {time.perf_counter() - started:.0f} s: {summary.splitlines()[0]}")
    for notebook in (root / "notebooks").glob("*.ipynb"):
        notebook.write_text(json.dumps(TINY_NOTEBOOK))
    toml = root / "mlops.toml"
    toml.write_text(toml.read_text().replace("\nslots = 2 ", "\nslots = 1 "))


def clean_up(root: Path) -> None:
    """Stop what the fuzzer started: job workers, deployments, the monitoring scheduler."""
    from jupyter_mlops import Workspace

    ws = Workspace.open(root)
    ws.jobs.stop_workers()
    for deployment in ws.deployments.list():
        if deployment.state not in {"stopped", "failed"}:
            ws.deployments.stop(deployment.name)
    ws.monitoring.stop_scheduler()


def start_server(root: Path, log_path: Path) -> tuple[subprocess.Popen[bytes], str, str]:
    import requests

    token = uuid.uuid4().hex
    port = free_port()
    env = {**os.environ, "MLOPS_WORKSPACE": str(root)}
    cmd = [
        sys.executable, "-m", "jupyter", "server", "--allow-root", "--no-browser",
        f"--ServerApp.token={token}", "--ServerApp.ip=127.0.0.1", f"--port={port}",
        "--ServerApp.jpserver_extensions={'jupyter_mlops': True}",
    ]  # fmt: skip
    with log_path.open("w") as log:
        proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"jupyter server exited with {proc.returncode}; see {log_path}")
        try:
            answer = requests.get(
                f"{url}/mlops/api/openapi.json",
                headers={"Authorization": f"token {token}"},
                timeout=5,
            )
            if answer.status_code == 200:
                return proc, url, token
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"jupyter server did not answer; see {log_path}")


def run_schemathesis(
    schema: str, token: str | None, examples: int, workdir: Path
) -> tuple[int, float]:
    reports = workdir / "reports"
    auth = ["--header", f"Authorization: token {token}"] if token else []
    cmd = [
        sys.executable, "-m", "schemathesis.cli", "run", schema, *auth,
        "--checks", ",".join(CHECKS),
        "--max-examples", str(examples),
        "--phases", "examples,coverage,fuzzing",
        "--continue-on-failure",
        "--workers", "1",
        "--request-timeout", "120",
        "--suppress-health-check", "too_slow,filter_too_much",
        "--report", "junit,har",
        "--report-dir", str(reports),
        "--no-color",
        "--seed", "20261207",
    ]  # fmt: skip
    started = time.perf_counter()
    with (workdir / "schemathesis.out").open("w") as out:
        code = subprocess.run(cmd, cwd=workdir, stdout=out, stderr=subprocess.STDOUT).returncode
    return code, time.perf_counter() - started


def summarise(workdir: Path) -> dict[str, Any]:
    reports = workdir / "reports"
    by_class: Counter[str] = Counter()
    by_status: Counter[int] = Counter()
    server_errors: Counter[str] = Counter()
    for har in reports.glob("har-*.json"):
        for entry in json.loads(har.read_text())["log"]["entries"]:
            status = int(entry["response"]["status"])
            by_status[status] += 1
            by_class[f"{status // 100}xx"] += 1
            if status >= 500:
                request = entry["request"]
                path = urllib.parse.urlsplit(request["url"]).path.removeprefix("/mlops/api")
                server_errors[f"{request['method']} {path} -> {status}"] += 1
    failures: list[dict[str, str]] = []
    for junit in reports.glob("junit-*.xml"):
        for case in ET.parse(junit).getroot().iter("testcase"):
            for failure in [*case.iter("failure"), *case.iter("error")]:
                text = (failure.get("message") or failure.text or "").strip()
                failures.append({"operation": case.get("name", "?"), "message": text[:600]})
    kinds: Counter[str] = Counter()
    for failure in failures:
        for line in failure["message"].splitlines():
            if line.strip().startswith(("- ", "1. ", "2. ", "3. ")) or "Undocumented" in line:
                kinds[line.strip()[:120]] += 1
    return {
        "requests": sum(by_status.values()),
        "by_class": dict(sorted(by_class.items())),
        "by_status": {str(k): v for k, v in sorted(by_status.items())},
        "server_errors": dict(server_errors.most_common()),
        "failing_operations": len(failures),
        "failure_lines": dict(kinds.most_common(40)),
        "failures": failures,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=200, help="examples per operation")
    parser.add_argument("--workdir", type=Path, help="work folder (default: a new temporary one)")
    parser.add_argument("--target", choices=("rest", "model-server"), default="rest")
    parser.add_argument("--results", type=Path, help="results file (default: by target)")
    args = parser.parse_args()
    server = args.target == "model-server"
    results = args.results or (MODEL_SERVER_RESULTS if server else RESULTS)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="mlops-fuzz-"))
    workdir.mkdir(parents=True, exist_ok=True)
    root = workdir / "ws"
    if not (root / "mlops.toml").exists():
        build_workspace(root, deploy=server)
    if server:
        from jupyter_mlops import Workspace

        url = Workspace.open(root).deployments.get("churn").url
        with urllib.request.urlopen(f"{url}/openapi.json", timeout=10) as answer:
            paths = json.loads(answer.read())["paths"]
        try:
            code, seconds = run_schemathesis(f"{url}/openapi.json", None, args.examples, workdir)
        finally:
            clean_up(root)
    else:
        proc, url, token = start_server(root, workdir / "jupyter-server.log")
        try:
            code, seconds = run_schemathesis(
                f"{url}/mlops/api/openapi.json", token, args.examples, workdir
            )
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
            clean_up(root)
    summary = summarise(workdir)
    if not server:
        from jupyter_mlops.server.routes import rest_openapi

        paths = rest_openapi()["paths"]
    verbs = {"get", "put", "post", "patch", "delete"}
    operations = sum(len(verbs & set(item)) for item in paths.values())
    result = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
        "command": f"nice -n 10 python benchmarks/fuzz_rest.py --target {args.target} "
        f"--examples {args.examples}",
        "examples_per_operation": args.examples,
        "operations": operations,
        "checks": list(CHECKS),
        "schemathesis_exit_code": code,
        "seconds": round(seconds),
        "workdir": str(workdir),
        **summary,
    }
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "failures"}, indent=1))
    print(f"schemathesis output: {workdir / 'schemathesis.out'}; results: {results}")


if __name__ == "__main__":
    main()
