"""Jobs REST resources, through a real Jupyter server and real detached workers."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from tornado.httpclient import HTTPClientError

from jupyter_mlops import Workspace
from tests.helpers import Fetch, get_error, get_json, wait_for

JOB_TIMEOUT = 120.0


def write_notebook(path: Path, parameters: str, *cells: str) -> str:
    """A notebook whose first cell (tagged ``parameters``) is ``parameters``."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(parameters, metadata={"tags": ["parameters"]}),
        *(nbformat.v4.new_code_cell(c) for c in cells),
    ]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path.name


@pytest.fixture
def jobs_workspace(workspace: Workspace) -> Iterator[Workspace]:
    """The server's workspace, its job workers (detached processes) stopped at the end.

    Its tracking store is made first, as the server's warm-up makes it: a fresh store costs
    seconds (more than a request's timeout on a loaded machine), and two workers that both found
    no store have each tried to create it (one job failed with "duplicate column name")."""
    workspace.tracking.list_experiments()
    yield workspace
    stop_job_workers(workspace)


def stop_job_workers(ws: Workspace) -> None:
    """Stop the workspace's job workers; kill any that does not stop (a hung one)."""
    from jupyter_mlops.jobs.worker import SlotStatus, slot_alive
    from jupyter_mlops.process import read_json

    state = ws.jobs.stop_workers()
    workers = ws.jobs.store.workers_dir()
    for slot in state.alive:
        found = read_json(workers / f"{slot}.json", SlotStatus)
        if isinstance(found, SlotStatus) and slot_alive(workers, slot):
            with contextlib.suppress(ProcessLookupError):
                os.kill(found.pid, signal.SIGKILL)
    assert not state.alive, f"job workers that did not stop on SIGTERM: {state.alive}"


async def post(fetch: Fetch, *parts: str, body: Any = None) -> tuple[int, Any]:
    try:
        response = await fetch("mlops", "api", *parts, method="POST", body=json.dumps(body or {}))
    except HTTPClientError as exc:
        return exc.code, json.loads(exc.response.body)["error"]  # type: ignore[union-attr]
    return response.code, json.loads(response.body)


async def wait_state(fetch: Fetch, job_id: str, *states: str) -> dict[str, Any]:
    """Poll ``GET /jobs/{id}`` until the job is in one of ``states``."""
    deadline = time.monotonic() + JOB_TIMEOUT
    while True:
        job: dict[str, Any] = await get_json(fetch, "jobs", job_id)
        if job["state"] in states:
            return job
        if time.monotonic() > deadline:
            pytest.fail(f"job {job_id} is still {job['state']} after {JOB_TIMEOUT:.0f} s: {job}")
        await asyncio.sleep(0.1)


async def test_submit_follow_and_rerun_a_notebook(
    jp_fetch: Fetch, jobs_workspace: Workspace
) -> None:
    root = jobs_workspace.root
    write_notebook(
        root / "train.ipynb",
        "alpha = 0.5\nepochs = 2\nname = 'base'",
        "print(f'alpha={alpha} epochs={epochs} name={name}')",
        "result = alpha * epochs",
    )

    params = await get_json(jp_fetch, "jobs", "parameters", notebook="train.ipynb")
    assert params["has_parameters_cell"] is True
    assert [(p["name"], p["type"], p["default"]) for p in params["parameters"]] == [
        ("alpha", "float", "0.5"),
        ("epochs", "int", "2"),
        ("name", "str", "'base'"),
    ]

    code, error = await post(
        jp_fetch, "jobs", body={"notebook": "train.ipynb", "parameters": {"alhpa": 1.0}}
    )
    assert code == 400 and "alhpa" in error["message"]
    assert "alpha" in error["hint"] and "epochs" in error["hint"]
    code, error = await post(
        jp_fetch, "jobs", body={"notebook": "train.ipynb", "parameters": {"epochs": "many"}}
    )
    assert code == 400 and error["field"] == "epochs"
    code, error = await post(jp_fetch, "jobs", body={"notebook": "../x.ipynb"})
    assert code == 400 and "outside the workspace" in error["message"]
    code, error = await get_error(jp_fetch, "jobs", "parameters", notebook="../x.ipynb")
    assert code == 400
    code, error = await get_error(jp_fetch, "jobs", "zzzzzzzz")
    assert code == 404 and "zzzzzzzz" in error["message"]
    code, error = await post(jp_fetch, "jobs", "zzzzzzzz", "cancel")
    assert code == 404

    code, job = await post(
        jp_fetch,
        "jobs",
        body={"notebook": "train.ipynb", "parameters": {"alpha": 2, "name": "api"}},
    )
    assert code == 201 and job["state"] in ("queued", "running")
    assert job["parameters"] == {"alpha": 2.0, "name": "api"}

    done = await wait_state(jp_fetch, job["id"][:12], "succeeded", "failed", "cancelled")
    assert done["state"] == "succeeded", done
    assert done["cells_done"] == done["cells_total"] > 0
    assert done["run_id"] and done["output"] and done["output"].startswith("executed/")
    executed = nbformat.read(root / done["output"], as_version=4)
    printed = "".join(
        o.get("text", "") for c in executed.cells if c.cell_type == "code" for o in c.outputs
    )
    assert "alpha=2.0 epochs=2 name=api" in printed

    log = await get_json(jp_fetch, "jobs", job["id"], "log")
    assert log["id"] == job["id"] and log["state"] == "succeeded"
    assert "alpha=2.0 epochs=2 name=api" in log["text"]

    code, error = await post(jp_fetch, "jobs", job["id"], "cancel")
    assert code == 409 and "succeeded" in error["message"]

    code, again = await post(
        jp_fetch, "jobs", job["id"], "rerun", body={"parameters": {"epochs": 3}}
    )
    assert code == 201 and again["id"] != job["id"]
    assert again["parameters"] == {"alpha": 2.0, "name": "api", "epochs": 3}
    code, error = await post(jp_fetch, "jobs", job["id"], "rerun", body={"parameters": {"x": 1}})
    assert code == 400 and "x" in error["message"]
    rerun = await wait_state(jp_fetch, again["id"], "succeeded", "failed", "cancelled")
    assert rerun["state"] == "succeeded", rerun

    listed = await get_json(jp_fetch, "jobs")
    assert [j["id"] for j in listed["jobs"]] == [again["id"], job["id"]]
    limited = await get_json(jp_fetch, "jobs", limit="1")
    assert [j["id"] for j in limited["jobs"]] == [again["id"]]
    assert (await get_json(jp_fetch, "jobs", state="failed"))["jobs"] == []
    code, error = await get_error(jp_fetch, "jobs", state="done")
    assert code == 400 and error["field"] == "state"

    executor = await get_json(jp_fetch, "jobs", "executor")
    assert executor["executor"] == "local" and executor["slots"] == 2
    assert executor["queued"] == 0


async def test_a_failed_job_names_its_cell(jp_fetch: Fetch, jobs_workspace: Workspace) -> None:
    write_notebook(
        jobs_workspace.root / "nb" / "broken.ipynb",
        "divisor = 0",
        "x = 1",
        "ratio = 1 / divisor",
        "print('never')",
    )
    code, job = await post(jp_fetch, "jobs", body={"notebook": "nb/broken.ipynb"})
    assert code == 201
    done = await wait_state(jp_fetch, job["id"], "succeeded", "failed", "cancelled")
    assert done["state"] == "failed"
    error = done["error"]
    assert error["ename"] == "ZeroDivisionError" and "1 / divisor" in error["source"]
    assert done["output"] and done["output"].startswith("executed/broken-")


async def test_cancel_a_running_job(jp_fetch: Fetch, jobs_workspace: Workspace) -> None:
    root = jobs_workspace.root
    write_notebook(
        root / "slow.ipynb",
        "seconds = 30",
        "import pathlib, time",
        "pathlib.Path('sleeping').touch()\ntime.sleep(seconds)",
    )
    code, job = await post(jp_fetch, "jobs", body={"notebook": "slow.ipynb"})
    assert code == 201
    # The cell marks that it sleeps: the job's status is not precise enough to tell.
    wait_for(lambda: (root / "sleeping").exists(), "the job's sleeping cell", JOB_TIMEOUT)
    started = time.monotonic()
    code, cancelled = await post(jp_fetch, "jobs", job["id"], "cancel")
    assert code == 200
    if cancelled["state"] != "cancelled":
        cancelled = await wait_state(jp_fetch, job["id"], "succeeded", "failed", "cancelled")
    assert cancelled["state"] == "cancelled", cancelled
    assert time.monotonic() - started < 15
    code, error = await post(jp_fetch, "jobs", job["id"], "cancel")
    assert code == 409 and "cancelled" in error["message"]


async def test_a_sweep_queues_a_job_per_set(jp_fetch: Fetch, jobs_workspace: Workspace) -> None:
    write_notebook(jobs_workspace.root / "grid.ipynb", "lr = 0.1\nseed = 0", "print(lr, seed)")
    code, error = await post(
        jp_fetch, "jobs", "sweeps", body={"notebook": "grid.ipynb", "grid": {"lr": [0.1, "x"]}}
    )
    assert code == 400 and error["field"] == "lr"
    assert (await get_json(jp_fetch, "jobs"))["jobs"] == []  # nothing queued by a bad sweep

    code, sweep = await post(
        jp_fetch,
        "jobs",
        "sweeps",
        body={"notebook": "grid.ipynb", "grid": {"lr": [0.01, 0.2]}, "name": "lr-sweep"},
    )
    assert code == 201 and sweep["id"] == "lr-sweep" and len(sweep["jobs"]) == 2
    assert sorted(j["parameters"]["lr"] for j in sweep["jobs"]) == [0.01, 0.2]
    for job in sweep["jobs"]:
        done = await wait_state(jp_fetch, job["id"], "succeeded", "failed", "cancelled")
        assert done["state"] == "succeeded", done
    listed = await get_json(jp_fetch, "jobs", sweep="lr-sweep")
    assert {j["id"] for j in listed["jobs"]} == {j["id"] for j in sweep["jobs"]}
