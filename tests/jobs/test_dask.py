"""Jobs on a real Dask cluster: a scheduler and two workers started by this module on loopback,
the workspace's embedded SQLite store (the cluster shares the machine). Every process started
here is stopped at the end, the job dispatcher included."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

from jupyter_mlops import Workspace
from jupyter_mlops.errors import BackendUnavailable
from jupyter_mlops.jobs.dask_cluster import check_worker
from jupyter_mlops.lineage.tags import JOB_TAG, SWEEP_TAG
from tests.helpers import free_port, stop_process_group, tail, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.service]

DASK = str(Path(sys.executable).parent / "dask")


@dataclass
class DaskCluster:
    """A running ``dask scheduler`` and its ``dask worker`` processes."""

    executor: str
    workers: dict[str, str]  # name -> address
    processes: list[subprocess.Popen[bytes]]


def _start(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:
        return subprocess.Popen(
            [DASK, *args], stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaskCluster]:
    folder = tmp_path_factory.mktemp("dask")
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    processes: list[subprocess.Popen[bytes]] = []
    try:
        scheduler_log = folder / "scheduler.log"
        scheduler = _start(
            ["scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
            scheduler_log,
        )
        processes.append(scheduler)
        wait_for(
            lambda: "Scheduler at:" in scheduler_log.read_text(errors="replace"),
            "the Dask scheduler",
            alive=lambda: scheduler.poll() is None,
            log=scheduler_log,
        )
        logs = {}
        for name in ("w1", "w2"):
            logs[name] = folder / f"{name}.log"
            worker = _start(
                [
                    "worker", address, "--name", name, "--nthreads", "1", "--nworkers", "1",
                    "--host", "127.0.0.1", "--no-dashboard",
                    "--local-directory", str(folder / name),
                ],
                logs[name],
            )  # fmt: skip
            processes.append(worker)
        workers: dict[str, str] = {}
        for name, log in logs.items():
            wait_for(
                lambda log=log: "Registered to:" in log.read_text(errors="replace"),
                f"Dask worker {name}",
                log=log,
            )
            found = re.search(r"Start worker at:\s+(tcp://\S+)", log.read_text(errors="replace"))
            assert found, tail(log)
            workers[name] = found.group(1)
        yield DaskCluster(f"dask://127.0.0.1:{port}", workers, processes)
    finally:
        for process in reversed(processes):
            stop_process_group(process)


def _use_executor(ws: Workspace, executor: str) -> Workspace:
    toml = ws.root / "mlops.toml"
    text = toml.read_text()
    assert 'executor = "local"' in text
    toml.write_text(text.replace('executor = "local"', f'executor = "{executor}"'))
    return Workspace.open(ws.root)


@pytest.fixture
def dask_ws(workspace: Workspace, dask_cluster: DaskCluster) -> Iterator[Workspace]:
    ws = _use_executor(workspace, dask_cluster.executor)
    yield ws
    state = ws.jobs.stop_workers()
    assert not state.alive, "the dispatcher stopped"


def notebook(path: Path, parameters: str, *cells: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python", "language": "python"}
    cell = nbformat.v4.new_code_cell(parameters)
    cell.metadata["tags"] = ["parameters"]
    nb.cells = [cell, *(nbformat.v4.new_code_cell(c) for c in cells)]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


def test_a_sweep_of_4_runs_on_both_workers_and_each_run_is_in_the_store(
    dask_ws: Workspace, dask_cluster: DaskCluster
) -> None:
    ws = dask_ws
    check = ws.jobs.check_executor()
    assert check.ok, check.problems
    assert sorted(w.address for w in check.workers if w.ok) == sorted(dask_cluster.workers.values())
    notebook(
        ws.root / "notebooks" / "tiny.ipynb",
        "lr = 0.1\nseed = 0",
        # The worker's kernel reaches the store by itself: the job's run and the store's URI are
        # in its environment.
        "import os\n"
        "from mlflow.tracking import MlflowClient\n"
        "score = lr * 10 + seed\n"
        "MlflowClient().log_metric(os.environ['MLOPS_JOB_RUN_ID'], 'score', score)",
        "print('score', score)",
    )
    sweep = ws.jobs.sweep(
        "notebooks/tiny.ipynb", grid={"lr": [0.1, 0.2], "seed": [0, 1]}, name="grid"
    )
    assert len(sweep.jobs) == 4
    wait_for(lambda: ws.jobs.executor_state().alive == ["dask"], "the Dask dispatcher")
    jobs = [ws.jobs.wait(job.id, timeout=300) for job in sweep.jobs]
    for job in jobs:
        assert job.state == "succeeded", (job.message, job.error)
        assert job.cells_done == job.cells_total > 0
        run = ws.tracking.get_run(job.run_id or "")
        assert run.status == "FINISHED"
        assert run.params == {"lr": str(job.parameters["lr"]), "seed": str(job.parameters["seed"])}
        assert run.tags[JOB_TAG] == job.id and run.tags[SWEEP_TAG] == "grid"
        score = job.parameters["lr"] * 10 + job.parameters["seed"]
        assert run.metrics["score"] == pytest.approx(score)
        assert job.output is not None
        assert f"score {score}" in str(nbformat.read(str(ws.root / job.output), as_version=4))
    assert {job.worker for job in jobs} == set(dask_cluster.workers.values())
    assert len(ws.tracking.list_runs([sweep.experiment]).runs) == 4


def test_a_failing_cell_and_a_cancel_on_dask(dask_ws: Workspace) -> None:
    ws = dask_ws
    notebook(ws.root / "bad.ipynb", "n = 1", "x = n + 1", "1 / 0")
    notebook(ws.root / "slow.ipynb", "n = 1", "import time\nfor _ in range(3000): time.sleep(0.1)")
    bad = ws.jobs.submit("bad.ipynb")
    slow = ws.jobs.submit("slow.ipynb")
    bad = ws.jobs.wait(bad.id, timeout=300)
    assert bad.state == "failed"
    assert bad.error is not None and bad.error.ename == "ZeroDivisionError"
    assert bad.message is not None and "ZeroDivisionError" in bad.message
    assert ws.tracking.get_run(bad.run_id or "").status == "FAILED"
    wait_for(lambda: ws.jobs.get(slow.id).current_cell is not None, "the slow job's cell")
    cancelled = ws.jobs.cancel(slow.id, wait=30)
    assert cancelled.state == "cancelled", cancelled.message
    assert ws.tracking.get_run(cancelled.run_id or "").status == "KILLED"
    # The cancel stopped the worker's kernel: the next job does not wait 300 s behind it.
    again = ws.jobs.wait(ws.jobs.submit("bad.ipynb").id, timeout=120)
    assert again.state == "failed"


def test_an_unreachable_scheduler_is_a_clear_error_within_seconds(workspace: Workspace) -> None:
    port = free_port()  # nothing listens there
    ws = _use_executor(workspace, f"dask://127.0.0.1:{port}")
    notebook(ws.root / "tiny.ipynb", "n = 1", "print(n)")
    started = time.monotonic()
    with pytest.raises(BackendUnavailable) as raised:
        ws.jobs.submit("tiny.ipynb")
    assert time.monotonic() - started < 15  # a correctness bound (the check gives up in 5 s)
    assert raised.value.status == 503
    assert f"dask://127.0.0.1:{port}" in raised.value.message
    assert "[jobs] executor" in (raised.value.hint or "")
    assert ws.jobs.list().jobs == [], "nothing was queued"
    started = time.monotonic()
    report = ws.jobs.check_executor()
    assert time.monotonic() - started < 15
    assert not report.ok and f"127.0.0.1:{port}" in report.problems[0]


def test_a_worker_without_the_store_or_the_artifact_folder_says_what_is_missing(
    tmp_path: Path,
) -> None:
    found = check_worker(
        f"sqlite:///{tmp_path / 'elsewhere' / 'mlflow.db'}",
        str(tmp_path / "elsewhere" / "artifacts"),
        "Default",
        str(tmp_path / "elsewhere"),
    )
    problems = " | ".join(found["problems"])
    assert "SQLite file" in problems and "PostgreSQL or an MLflow server" in problems
    assert "artifact folder" in problems and "[tracking] artifact_location" in problems
    assert any("not on this worker" in note for note in found["notes"])
