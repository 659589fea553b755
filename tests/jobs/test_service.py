"""Jobs without a server: real papermill on real kernels, real detached workers, a real MLflow
store. Each test stops the workers it started."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator

import nbformat
import pytest

from jupyter_mlops import Workspace
from jupyter_mlops.errors import Conflict, InvalidInput, NotFound
from jupyter_mlops.jobs.worker import SlotStatus
from jupyter_mlops.lineage.tags import (
    GIT_DIRTY_TAG,
    JOB_OUTPUT_ARTIFACT,
    JOB_TAG,
    NOTEBOOK_GIT_TAG,
    NOTEBOOK_TAG,
    SWEEP_TAG,
)
from jupyter_mlops.process import read_json
from tests.helpers import parameterised_notebook as notebook
from tests.helpers import wait_for

pytestmark = pytest.mark.slow


TRAIN = (
    "%load_ext jupyter_mlops",
    "%%mlops run --params lr --metrics final\n"
    "loss = 1.0\n"
    "for i in range(epochs):\n"
    "    loss *= 1 - lr\n"
    "    mlops_run.log_metric('loss', loss, step=i)\n"
    "final = loss",
    "print('done', final)",
)


@pytest.fixture
def jobs_ws(workspace: Workspace) -> Iterator[Workspace]:
    yield workspace
    workspace.jobs.stop_workers()


def test_a_job_runs_with_parameters_and_owns_the_run_its_cells_log_into(
    jobs_ws: Workspace,
) -> None:
    ws = jobs_ws
    notebook(ws.root / "notebooks" / "train.ipynb", *TRAIN)
    # The notebook committed in the checkout holding the workspace: the run is clean at it.
    git = ("git", "-c", "user.email=t@example.com", "-c", "user.name=t")
    for args in (("init", "-q"), ("add", "notebooks"), ("commit", "-q", "-m", "train")):
        subprocess.run([*git, *args], cwd=ws.root, check=True, capture_output=True)
    job = ws.jobs.submit("notebooks/train.ipynb", {"lr": "0.5", "epochs": "2"}, from_text=True)
    assert job.state == "queued" and job.parameters == {"lr": 0.5, "epochs": 2}
    job = ws.jobs.wait(job.id, timeout=120)
    assert job.state == "succeeded", job.message
    assert job.cells_done == job.cells_total > 0
    # one job started one worker (and one warm kernel), not one per slot
    state = ws.jobs.executor_state()
    assert state.slots == 2 and state.alive == ["slot-1"]
    run = ws.tracking.get_run(job.run_id or "")
    assert run.params == {"lr": "0.5", "epochs": "2"}
    assert run.tags[JOB_TAG] == job.id and run.status == "FINISHED"
    assert run.tags[NOTEBOOK_TAG] == "notebooks/train.ipynb"
    assert run.tags[NOTEBOOK_GIT_TAG] == "committed" and run.tags[GIT_DIRTY_TAG] == "false"
    # the %%mlops run cell logged into the job's run, not a new one
    assert [p.value for p in run.metric_history["loss"]] == pytest.approx([0.5, 0.25])
    assert run.metrics["final"] == pytest.approx(0.25)
    assert len(ws.tracking.list_runs([job.experiment]).runs) == 1
    # the executed notebook: in the workspace, and with the run
    assert job.output is not None and (ws.root / job.output).is_file()
    executed = nbformat.read(str(ws.root / job.output), as_version=4)
    assert "done 0.25" in str(executed.cells[-1].outputs)
    names = [a.path for a in ws.tracking.client.list_artifacts(job.run_id, "job")]
    assert names == [JOB_OUTPUT_ARTIFACT]
    assert "done 0.25" in ws.jobs.log(job.id)
    # a unique prefix names the job
    assert ws.jobs.get(job.id[:-3]).id == job.id


def test_a_failing_cell_is_reported_as_the_user_numbers_it(jobs_ws: Workspace) -> None:
    ws = jobs_ws
    notebook(ws.root / "bad.ipynb", "x = 1", "raise ValueError(f'lr {lr} is too big')", "y = 2")
    job = ws.jobs.wait(ws.jobs.submit("bad.ipynb", {"lr": 3.0}).id, timeout=120)
    assert job.state == "failed"
    assert job.error is not None
    assert job.error.index == 2  # parameters cell 0, x = 1 cell 1
    assert job.error.ename == "ValueError" and job.error.evalue == "lr 3.0 is too big"
    assert "raise ValueError" in job.error.source
    assert not any("\x1b[" in line for line in job.error.traceback)
    assert ws.tracking.get_run(job.run_id or "").status == "FAILED"
    assert job.message is not None and "ValueError" in job.message


def test_bad_input_is_refused_before_anything_is_queued(jobs_ws: Workspace) -> None:
    ws = jobs_ws
    notebook(ws.root / "train.ipynb", "pass")
    with pytest.raises(InvalidInput) as err:
        ws.jobs.submit("train.ipynb", {"n_estimator": 3})
    assert "n_estimator" in err.value.message and "lr (float), epochs (int)" in (
        err.value.hint or ""
    )
    with pytest.raises(InvalidInput, match="'epochs' is int but 'many' is not"):
        ws.jobs.submit("train.ipynb", {"epochs": "many"}, from_text=True)
    with pytest.raises(InvalidInput, match="'lr' is float but the value given is str"):
        ws.jobs.submit("train.ipynb", {"lr": "0.1"})
    with pytest.raises(InvalidInput, match="outside the workspace"):
        ws.jobs.submit("../train.ipynb")
    (ws.root / "data.csv").write_text("a\n1\n")
    with pytest.raises(InvalidInput, match="not a notebook"):
        ws.jobs.submit("data.csv")
    with pytest.raises(NotFound):
        ws.jobs.get("nosuchjob")
    assert ws.jobs.list().jobs == []


def test_a_notebook_without_a_parameters_cell_gets_them_injected_with_a_warning(
    jobs_ws: Workspace,
) -> None:
    ws = jobs_ws
    notebook(ws.root / "plain.ipynb", "print('alpha is', alpha)", parameters=None)
    job = ws.jobs.submit("plain.ipynb", {"alpha": "0.3"}, from_text=True)
    assert job.warnings and "no cell tagged 'parameters'" in job.warnings[0]
    job = ws.jobs.wait(job.id, timeout=120)
    assert job.state == "succeeded"
    assert "alpha is 0.3" in ws.jobs.log(job.id)


def test_cancel_stops_a_running_kernel_and_unqueues_a_queued_job(
    jobs_ws: Workspace,
) -> None:
    ws = jobs_ws
    ws.jobs.config.slots = 1
    notebook(ws.root / "slow.ipynb", "import time\ntime.sleep(120)")
    running = ws.jobs.submit("slow.ipynb")
    queued = ws.jobs.submit("slow.ipynb")
    wait_for(lambda: ws.jobs.get(running.id).state == "running", "the first job to start", 120)
    status = ws.jobs.store.status(running.id)
    wait_for(lambda: at_last_cell(ws, running.id), "the sleep cell", 60)
    kernel = status.kernel_pid
    assert kernel is not None
    assert ws.jobs.cancel(queued.id).state == "cancelled"
    started = time.monotonic()
    cancelled = ws.jobs.cancel(running.id)
    assert cancelled.state == "cancelled", cancelled.message
    assert time.monotonic() - started < 5
    assert ws.tracking.get_run(cancelled.run_id or "").status == "KILLED"
    with pytest.raises(ProcessLookupError):
        os.kill(kernel, 0)
    with pytest.raises(Conflict, match="already cancelled"):
        ws.jobs.cancel(running.id)
    assert ws.jobs.get(queued.id).run_id is None  # it never ran


def test_a_sweep_runs_one_job_per_combination(jobs_ws: Workspace) -> None:
    ws = jobs_ws
    notebook(ws.root / "train.ipynb", *TRAIN)
    sweep = ws.jobs.sweep(
        "train.ipynb", grid={"lr": ["0.1", "0.2"], "epochs": ["1", "2"]}, from_text=True
    )
    assert len(sweep.jobs) == 4
    done = [ws.jobs.wait(j.id, timeout=180) for j in sweep.jobs]
    assert {j.state for j in done} == {"succeeded"}
    runs = ws.tracking.list_runs([sweep.experiment]).runs
    assert sorted((r.params["lr"], r.params["epochs"]) for r in runs) == [
        ("0.1", "1"),
        ("0.1", "2"),
        ("0.2", "1"),
        ("0.2", "2"),
    ]
    assert {r.tags[SWEEP_TAG] for r in runs} == {sweep.id}
    assert {j.id for j in ws.jobs.list(sweep=sweep.id).jobs} == {j.id for j in sweep.jobs}
    with pytest.raises(InvalidInput, match="grid or a list"):
        ws.jobs.sweep("train.ipynb")


def at_last_cell(ws: Workspace, job_id: str) -> bool:
    status = ws.jobs.store.status(job_id)
    return status.state == "running" and status.current_cell == status.cells_total - 1 > 0


def _kill_worker_of(ws: Workspace, job_id: str) -> None:
    status = ws.jobs.store.status(job_id)
    assert status.worker is not None and status.worker_pid is not None
    slot = read_json(ws.jobs.store.workers_dir() / f"{status.worker}.json", SlotStatus)
    assert isinstance(slot, SlotStatus) and slot.pid == status.worker_pid
    os.kill(status.worker_pid, signal.SIGKILL)
    if status.kernel_pid:
        os.kill(status.kernel_pid, signal.SIGKILL)


def test_a_job_whose_worker_is_killed_is_requeued_once_then_failed(jobs_ws: Workspace) -> None:
    ws = jobs_ws
    notebook(ws.root / "slow.ipynb", "import time\ntime.sleep(float(lr))")
    job = ws.jobs.submit("slow.ipynb", {"lr": 60.0})
    for attempt in (1, 2):
        wait_for(lambda: at_last_cell(ws, job.id), f"attempt {attempt} to reach its sleep", 120)
        first_run = ws.jobs.store.status(job.id).run_id
        _kill_worker_of(ws, job.id)
        # any face that looks at the job finds it orphaned
        wait_for(
            lambda n=attempt: ws.jobs.get(job.id).interrupted == n,  # type: ignore[misc]
            "the interruption",
            30,
        )
        assert ws.tracking.get_run(first_run or "").status == "KILLED"
    final = ws.jobs.get(job.id)
    assert final.state == "failed"
    assert final.message is not None and "interrupted 2 time(s)" in final.message
    assert (
        len(ws.tracking.list_runs([final.experiment]).runs) == 2
    )  # one per attempt, none finished


def test_an_interrupted_job_runs_again_and_succeeds(jobs_ws: Workspace) -> None:
    ws = jobs_ws
    notebook(
        ws.root / "once.ipynb",
        "import os, time\n"
        "marker = 'attempted.txt'\n"
        "first = not os.path.exists(marker)\n"
        "open(marker, 'a').write('x')\n"
        "time.sleep(60 if first else 0)",
    )
    job = ws.jobs.submit("once.ipynb")
    wait_for(lambda: (ws.root / "attempted.txt").exists(), "the first attempt", 120)
    _kill_worker_of(ws, job.id)
    wait_for(lambda: ws.jobs.get(job.id).state == "succeeded", "the second attempt", 120)
    final = ws.jobs.get(job.id)
    assert final.interrupted == 1
    assert (ws.root / "attempted.txt").read_text() == "xx"  # ran twice, finished once
    runs = ws.tracking.list_runs([final.experiment]).runs
    assert sorted(r.status for r in runs) == ["FINISHED", "KILLED"]
