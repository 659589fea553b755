"""The job commands as a user types them: ``jupyter mlops job ...`` in a terminal and
``%mlops job ...`` in a real kernel, on real workers."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator

import pytest

from jupyter_mlops import Workspace
from tests.helpers import Cli, jupyter_mlops, outputs_text, parameterised_notebook, run_notebook

pytestmark = pytest.mark.slow

TRAIN = (
    "%load_ext jupyter_mlops",
    "%%mlops run --experiment churn --params lr --metrics final\n"
    "final = 1.0\n"
    "for i in range(epochs):\n"
    "    final *= 1 - lr\n"
    "    mlops_run.log_metric('loss', final, step=i)",
    "print('final', round(final, 4))",
)


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """One workspace for the module, so its job workers start once (they take seconds)."""
    workspace = Workspace.init(tmp_path_factory.mktemp("jobs-cli") / "ws")
    parameterised_notebook(workspace.root / "notebooks" / "train.ipynb", *TRAIN)
    yield workspace
    workspace.jobs.stop_workers()


@pytest.fixture
def cli(
    ws: Workspace, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Commands through the CLI's entry point in this process, run from the workspace folder
    (the job runs themselves go through a terminal)."""
    monkeypatch.chdir(ws.root)
    return Cli(ws.root, capsys).completed


def test_job_run_waits_prints_the_job_and_lands_in_the_notebooks_experiment(
    ws: Workspace, cli: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    done = jupyter_mlops("job", "run", "notebooks/train.ipynb", "-p", "lr", "0.5", cwd=ws.root)
    assert done.returncode == 0, done.stderr
    assert "state:             succeeded" in done.stdout
    assert "experiment:        churn" in done.stdout  # from the %%mlops run cell
    assert "executed notebook: executed/train-" in done.stdout
    as_json = cli("job", "list", "--json")
    [job] = json.loads(as_json.stdout)["jobs"]
    assert job["parameters"] == {"lr": 0.5} and job["state"] == "succeeded"
    logs = cli("job", "logs", job["id"][:8])
    assert "final 0.125" in logs.stdout
    run = ws.tracking.get_run(job["run_id"])
    assert run.params == {"lr": "0.5"} and run.metrics["final"] == pytest.approx(0.125)


def test_mistakes_are_errors_that_say_what_to_do(
    cli: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    unknown = cli("job", "run", "notebooks/train.ipynb", "-p", "rate", "1")
    assert unknown.returncode != 0
    assert "has no parameter 'rate'" in unknown.stderr
    assert "lr (float), epochs (int)" in unknown.stderr
    wrong = cli("job", "run", "notebooks/train.ipynb", "-p", "epochs", "2.5")
    assert "'epochs' is int but '2.5' is not" in wrong.stderr
    outside = cli("job", "run", "../elsewhere.ipynb")
    assert "outside the workspace" in outside.stderr
    assert cli("job", "status", "nope").returncode != 0
    assert "Traceback" not in unknown.stderr + wrong.stderr + outside.stderr


def test_a_failed_job_exits_1_and_shows_the_cell(ws: Workspace) -> None:
    parameterised_notebook(ws.root / "bad.ipynb", "x = [1, 2][epochs]")
    done = jupyter_mlops("job", "run", "bad.ipynb", cwd=ws.root)
    assert done.returncode == 1
    assert "Cell 2 failed: IndexError: list index out of range" in done.stdout
    assert "x = [1, 2][epochs]" in done.stdout


def test_a_sweep_runs_its_grid_and_compares_its_runs(
    ws: Workspace, cli: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    before = len(ws.jobs.list().jobs)
    done = cli(
        "job", "sweep", "notebooks/train.ipynb", "--grid", "lr=0.1,0.2", "--grid", "seed=1,2",
        "-p", "epochs", "2", "--name", "lr-sweep",
    )  # fmt: skip
    # seed is not a parameter of the notebook: refused before anything runs
    assert done.returncode != 0 and "has no parameter 'seed'" in done.stderr
    assert len(ws.jobs.list().jobs) == before
    done = cli(
        "job", "sweep", "notebooks/train.ipynb", "--grid", "lr=0.1,0.2,0.3", "-p", "epochs", "2",
        "--name", "lr-sweep",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Sweep lr-sweep: 3 jobs" in done.stdout
    compared = cli("job", "compare", "lr-sweep", "--json")
    assert compared.returncode == 0, compared.stderr
    data = json.loads(compared.stdout)
    assert len(data["runs"]) == 3


def test_the_magic_runs_a_job_from_a_notebook(ws: Workspace) -> None:
    nb = run_notebook(
        ws.root / "driver.ipynb",
        [
            "%load_ext jupyter_mlops",
            "job = %mlops job run notebooks/train.ipynb -p epochs 1 --json\n"
            "print(job['state'], job['parameters'])",
        ],
    )
    assert "succeeded {'epochs': 1}" in outputs_text(nb.cells[1])
