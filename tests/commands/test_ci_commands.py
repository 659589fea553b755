"""``ci``, ``ci --init`` and ``%%mlops gate``: a real workspace, real job workers, real kernels."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
import yaml  # type: ignore[import-untyped, unused-ignore]
from mlflow.tracking import MlflowClient

from jupyter_mlops import Workspace
from jupyter_mlops.commands.cli import main
from tests.conftest import log_model_run
from tests.helpers import Cli, jupyter_mlops, outputs_text, run_notebook

pytestmark = pytest.mark.slow

# Logs through MLflow into the job's run, so the test does not depend on `%%mlops run` joining it.
TRAIN = """
import os
import mlflow
from jupyter_mlops.workspace import Workspace

client = mlflow.MlflowClient(Workspace.find().tracking_uri)
run_id = os.environ["MLOPS_JOB_RUN_ID"]
for step in range(20):
    client.log_metric(run_id, "loss", 1.0 / (step + 1), step=step)
if fail:
    raise ValueError("training diverged")
client.log_metric(run_id, "val_auc", 0.80 + n_estimators / 10000)
print("trained with", n_estimators)
"""

GATE_CELL = """%%mlops gate
val_auc >= 0.815   # the floor every model must clear
converged loss
"""


def write_notebook(path: Path, cells: list[str], parameters: str) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    params = nbformat.v4.new_code_cell(parameters)
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, *(nbformat.v4.new_code_cell(c) for c in cells)]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


@pytest.fixture(scope="module")
def ci_workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """notebooks/train.ipynb, and a registered model churn whose @champion has val_auc 0.825.
    One for the module, so its job workers start once (they take seconds); the test that adds
    a second model runs after those that need churn to be the only one."""
    workspace = Workspace.init(tmp_path_factory.mktemp("ci") / "ws")
    write_notebook(
        workspace.root / "notebooks" / "train.ipynb",
        ["%load_ext jupyter_mlops", TRAIN, GATE_CELL],
        "n_estimators = 100\nfail = False",
    )
    workspace.registry.register(log_model_run(workspace, metrics={"val_auc": 0.825}), "churn")
    workspace.registry.set_alias("churn", "champion", 1)
    yield workspace
    workspace.jobs.stop_workers()


@pytest.fixture
def cli(
    ci_workspace: Workspace, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Cli:
    """The CLI in this process, run from the workspace's folder (one test keeps the terminal)."""
    monkeypatch.chdir(ci_workspace.root)
    return Cli(ci_workspace.root, capsys)


def cases(junit: Path) -> dict[str, ET.Element]:
    root = ET.parse(junit).getroot()
    assert root.tag == "testsuites"
    [suite] = root.findall("testsuite")
    found = {case.get("name", ""): case for case in suite.findall("testcase")}
    assert suite.get("tests") == str(len(found))
    failed = sum(case.find("failure") is not None for case in found.values())
    assert suite.get("failures") == root.get("failures") == str(failed)
    return found


GATES = ["--gate", "val_auc>=0.81", "--gate", "val_auc>=champion-0.01", "--converged", "loss"]


def test_ci_passes_then_fails_a_gate(ci_workspace: Workspace, cli: Cli) -> None:
    root = ci_workspace.root
    passed = jupyter_mlops(
        "ci",
        "notebooks/train.ipynb",
        "-p",
        "n_estimators",
        "200",
        *GATES,
        "--junit",
        "reports/ci-results.xml",
        "--summary",
        "reports/ci-summary.md",
        cwd=root,
    )
    assert passed.returncode == 0, passed.stdout + passed.stderr
    # Progress went to stderr, one line per change; the summary to stdout.
    assert "notebooks/train.ipynb: succeeded in" in passed.stderr
    assert "MLOps CI passed: 4 of 4 checks" in passed.stdout
    junit = cases(root / "reports" / "ci-results.xml")
    assert list(junit) == [
        "job succeeded",
        "val_auc>=0.81",
        "val_auc>=champion-0.01",
        "converged loss",
    ]
    assert all(case.find("failure") is None for case in junit.values())
    summary = (root / "reports" / "ci-summary.md").read_text()
    assert summary.startswith("## MLOps CI passed: 4 of 4 checks")
    assert "| PASS | `val_auc>=champion-0.01` | passed: val_auc 0.82 >= 0.815 (churn@champion" in (
        summary
    )
    assert "model: `churn` (the only registered model; @champion = v1)" in summary
    # The job's run records both verdicts: its own gate cell, and CI's.
    job = ci_workspace.jobs.list(limit=1).jobs[0]
    assert job.state == "succeeded" and job.parameters["n_estimators"] == 200
    client = MlflowClient(ci_workspace.tracking_uri)
    run = client.get_run(job.run_id or "")
    assert run.data.tags["mlops.gates.passed"] == "true"
    assert run.data.tags["mlops.ci.passed"] == "true"
    recorded = json.loads(
        Path(client.download_artifacts(run.info.run_id, "mlops/gates.json")).read_text()
    )
    assert [c["name"] for c in recorded["checks"]] == ["val_auc >= 0.815", "converged loss"]

    # n_estimators=100 gives val_auc 0.81: below the champion's 0.825 - 0.01, and below the
    # notebook's own gate cell, which fails the job at that cell.
    failed = cli.completed(
        "ci",
        "notebooks/train.ipynb",
        *GATES,
        "--gate",
        "f1>=0.5",
        "--junit",
        "ci-results.xml",
        "--json",
    )
    assert failed.returncode == 1, failed.stdout + failed.stderr
    result = json.loads(failed.stdout)
    assert result["passed"] is False and result["model"]["name"] == "churn"
    by_name = {c["name"]: c for c in result["checks"]}
    assert by_name["val_auc>=0.81"]["passed"] and by_name["converged loss"]["passed"]
    job_check = by_name["job succeeded"]
    assert not job_check["passed"] and "raised GateFailed" in job_check["message"]
    assert "val_auc 0.81 is not >= 0.815" in job_check["message"]
    assert "%%mlops gate" in job_check["message"]  # the cell's source
    champion = by_name["val_auc>=champion-0.01"]
    assert not champion["passed"]
    assert champion["gate"]["reference"] == pytest.approx(0.815)
    assert champion["gate"]["difference"] == pytest.approx(-0.005)
    f1 = by_name["f1>=0.5"]
    assert f1["message"] == "failed: the run did not log 'f1' (its metrics: loss, val_auc)"
    junit = cases(root / "ci-results.xml")
    failure = junit["val_auc>=champion-0.01"].find("failure")
    assert failure is not None and "off by 0.005" in failure.get("message", "")
    assert junit["val_auc>=0.81"].find("failure") is None


def test_ci_reports_the_failing_cell(
    ci_workspace: Workspace, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = ci_workspace.root
    monkeypatch.chdir(root / "notebooks")  # paths are relative to where the command runs
    checks = ["--converged", "loss", "--gate", "val_auc>0"]
    reports = ["--summary", "../ci-summary.md", "--timeout", "300"]
    code = main(["ci", "train.ipynb", "-p", "fail", "True", *checks, *reports])
    out = capsys.readouterr()
    assert code == 1, out.out + out.err
    summary = (root / "ci-summary.md").read_text()
    assert summary.startswith("## MLOps CI failed: 2 of 3 checks")
    job_line = next(line for line in summary.splitlines() if "`job succeeded`" in line)
    assert "**FAIL**" in job_line and "raised ValueError: training diverged" in job_line
    assert "if fail:" in job_line  # the failing cell's source, in the table cell
    # The loss was logged before the cell failed; val_auc never was.
    assert "| PASS | `converged loss` |" in summary
    assert "the run did not log 'val_auc' (its metrics: loss)" in summary
    assert "## MLOps CI failed: 2 of 3 checks" in out.out
    assert "train.ipynb: failed in" in out.err


def test_a_gate_naming_an_alias_needs_a_model(ci_workspace: Workspace, cli: Cli) -> None:
    ci_workspace.registry.register(log_model_run(ci_workspace, metrics={"val_auc": 0.5}), "fraud")
    result = cli.completed(
        "ci",
        "notebooks/train.ipynb",
        "-p",
        "n_estimators",
        "300",
        *GATES,
        "--json",
    )
    assert result.returncode == 1
    checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    assert checks["val_auc>=champion-0.01"]["message"] == (
        "failed: the gate compares with @champion, but no model was named (--model), the run "
        "registered none, and the workspace has 2 (churn, fraud)"
    )
    named = cli.completed(
        "ci",
        "notebooks/train.ipynb",
        "-p",
        "n_estimators",
        "300",
        *GATES,
        "--model",
        "churn",
    )
    assert named.returncode == 0, named.stdout + named.stderr
    typo = cli.completed("ci", "notebooks/train.ipynb", *GATES, "--model", "chrun", "--json")
    checks = {c["name"]: c for c in json.loads(typo.stdout)["checks"]}
    assert (
        "there is no registered model 'chrun' (Did you mean churn?)"
        in (checks["val_auc>=champion-0.01"]["message"])
    )


def test_a_job_past_its_timeout_is_cancelled(cli: Cli) -> None:
    result = cli.completed("ci", "notebooks/train.ipynb", "--timeout", "0.2", "--json")
    assert result.returncode == 1, result.stdout + result.stderr
    body = json.loads(result.stdout)
    assert body["job"]["state"] == "cancelled"
    [job_check] = body["checks"]
    assert not job_check["passed"] and "did not finish within 0.2 s" in job_check["message"]
    assert "it was cancelled" in job_check["message"]


def test_bad_input_queues_nothing(ci_workspace: Workspace, cli: Cli) -> None:
    before = len(ci_workspace.jobs.list().jobs)
    bad_gate = cli.completed("ci", "notebooks/train.ipynb", "--gate", "val_auc ~ 1")
    assert bad_gate.returncode == 1 and "not a gate" in bad_gate.stderr
    bad_param = cli.completed("ci", "notebooks/train.ipynb", "-p", "depth", "3")
    assert bad_param.returncode == 1 and "depth" in bad_param.stderr
    assert len(ci_workspace.jobs.list().jobs) == before


# -- ci --init -------------------------------------------------------------------------------------


def test_init_writes_a_workflow(workspace: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    root = workspace.root
    write_notebook(root / "notebooks" / "train.ipynb", ["pass"], "n_estimators = 100")
    args = ["ci", "--init", "--workspace", str(root), "--gate", "val_auc>=champion-0.01"]
    assert main([*args, "--converged", "loss", "-p", "n_estimators", "200"]) == 0
    assert "Wrote" in capsys.readouterr().out
    path = root / ".github" / "workflows" / "mlops-ci.yml"
    workflow = yaml.safe_load(path.read_text())
    assert set(workflow["on"]) == {"push", "pull_request", "workflow_dispatch"}
    steps = workflow["jobs"]["train-and-gate"]["steps"]
    uses = [s.get("uses", "") for s in steps]
    assert uses[0].startswith("actions/checkout@") and uses[1].startswith("actions/setup-python@")
    runs = [s.get("run", "") for s in steps]
    assert "pip install jupyter-mlops" in runs
    [command] = [r for r in runs if r.startswith("jupyter mlops ci")]
    assert command == (
        "jupyter mlops ci notebooks/train.ipynb -p n_estimators 200 "
        "--gate 'val_auc>=champion-0.01' --converged loss "
        "--junit ci-results.xml --summary ci-summary.md"
    )
    assert any("$GITHUB_STEP_SUMMARY" in r for r in runs)
    [upload] = [s for s in steps if s.get("uses", "").startswith("actions/upload-artifact@")]
    assert upload["with"]["path"].split() == ["ci-results.xml", "ci-summary.md"]
    assert upload["if"] == "always()"

    # It does not overwrite without --force.
    assert main(args) == 1
    assert "already exists" in capsys.readouterr().err
    (root / "pyproject.toml").write_text("[project]\nname = 'churn-model'\n")
    assert main([*args, "--force", "--json"]) == 0
    written = json.loads(capsys.readouterr().out)
    assert written["overwritten"] and written["install"] == "pip install -e ."
    runs = [
        s.get("run", "")
        for s in yaml.safe_load(path.read_text())["jobs"]["train-and-gate"]["steps"]
    ]
    assert "pip install -e ." in runs


def test_init_in_a_repository_subfolder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """GitHub reads workflows at the top of the repository: write there, run in the workspace."""
    (tmp_path / ".git").mkdir()
    ws = Workspace.init(tmp_path / "ml")
    write_notebook(ws.root / "train.ipynb", ["pass"], "seed = 0")
    write_notebook(ws.root / "explore.ipynb", ["pass"], "seed = 0")
    assert main(["ci", "--init", "--workspace", str(ws.root)]) == 1
    assert "2 notebooks: explore.ipynb, train.ipynb" in capsys.readouterr().err
    assert main(["ci", "--init", "--workspace", str(ws.root), "--notebook", "train.ipynb"]) == 0
    workflow = yaml.safe_load((tmp_path / ".github" / "workflows" / "mlops-ci.yml").read_text())
    job = workflow["jobs"]["train-and-gate"]
    assert job["defaults"]["run"]["working-directory"] == "ml"
    upload = next(s for s in job["steps"] if "upload-artifact" in s.get("uses", ""))
    assert upload["with"]["path"].split() == ["ml/ci-results.xml", "ml/ci-summary.md"]
    assert not (ws.root / ".github").exists()


# -- %%mlops gate in a notebook --------------------------------------------------------------------

TRAIN_CELL = """%%mlops run -e churn --metrics val_auc
for step in range(10):
    mlops_run.log_metric("loss", 1.0 / (step + 1), step=step)
val_auc = 0.83
"""


def test_gate_cell_in_a_real_kernel(workspace: Workspace) -> None:
    nb_path = workspace.root / "train.ipynb"
    nb = run_notebook(
        nb_path,
        [
            "%load_ext jupyter_mlops",
            TRAIN_CELL,
            "%%mlops gate\nval_auc >= 0.8\nconverged loss",
            "%%mlops gate --no-fail\nval_auc >= 0.9\nval_auc >= champion",
            "%%mlops gate\nval_auc >= 0.9",
            "%%mlops gate\nval_auc >>= 0.9",
            "%mlops gate",
            "print('after')",
        ],
        env={"JPY_SESSION_NAME": str(nb_path)},
    )
    passing = outputs_text(nb.cells[2])
    assert "**Gates passed** on run" in passing and "(the last %%mlops run cell)" in passing
    assert "| PASS | `val_auc >= 0.8` | passed: val_auc 0.83 >= 0.8 |" in passing
    assert "| PASS | `converged loss` | loss converged" in passing

    shown = outputs_text(nb.cells[3])
    assert "**Gates failed (2 of 2)**" in shown and "ERROR" not in shown
    assert "compares with @champion, but no model is registered in this workspace" in shown

    failing = outputs_text(nb.cells[4])
    assert "| **FAIL** | `val_auc >= 0.9` |" in failing
    assert "ERROR GateFailed: 1 of 1 check(s) failed: val_auc >= 0.9: failed: val_auc 0.83" in (
        failing
    )
    typo = outputs_text(nb.cells[5])
    assert "not a gate" in typo and "ERROR GateFailed: the gates could not be checked" in typo
    assert "needs a cell" in outputs_text(nb.cells[6])

    [run] = MlflowClient(workspace.tracking_uri).search_runs(
        [workspace.tracking.get_experiment("churn").experiment_id]
    )
    # The last gate cell that was evaluated failed; its checks are the run's artifact.
    assert run.data.tags["mlops.gates.passed"] == "false"
    client = MlflowClient(workspace.tracking_uri)
    recorded = json.loads(
        Path(client.download_artifacts(run.info.run_id, "mlops/gates.json")).read_text()
    )
    assert recorded["run_id"] == run.info.run_id and not recorded["passed"]
    assert [c["name"] for c in recorded["checks"]] == ["val_auc >= 0.9"]


def test_gate_cell_finds_the_notebooks_newest_run(workspace: Workspace) -> None:
    """In a new kernel (no %%mlops run yet) the gate checks the newest run of its notebook."""
    nb_path = workspace.root / "train.ipynb"
    run_notebook(
        nb_path, ["%load_ext jupyter_mlops", TRAIN_CELL], env={"JPY_SESSION_NAME": str(nb_path)}
    )
    nb = run_notebook(
        nb_path,
        ["%load_ext jupyter_mlops", "%%mlops gate\nconverged loss"],
        env={"JPY_SESSION_NAME": str(nb_path)},
    )
    text = outputs_text(nb.cells[1])
    assert "**Gates passed**" in text and "(the newest run of this notebook)" in text
    other = workspace.root / "other.ipynb"
    nb = run_notebook(
        other,
        ["%load_ext jupyter_mlops", "%%mlops gate\nconverged loss"],
        env={"JPY_SESSION_NAME": str(other)},
    )
    assert "There is no run to check" in outputs_text(nb.cells[1])
