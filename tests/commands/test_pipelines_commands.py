"""The pipeline commands as a user types them: ``jupyter mlops pipelines ...`` and
``jupyter mlops lineage REF`` in a terminal, and ``%mlops pipelines list`` in a real kernel.

One command runs as a subprocess, as a user runs it; the others through the same entry point in
this process, as each subprocess pays seconds of imports. Runs started here are cancelled
rather than waited for (or fail at once: a job that cannot be queued).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from jupyter_mlops import Workspace
from tests.conftest import log_model_run
from tests.helpers import Cli, jupyter_mlops, outputs_text, parameterised_notebook, run_notebook

pytestmark = pytest.mark.slow

BASE = "[run]\nautolog = false\n\n[jobs]\nslots = 1\n\n[pipelines]\npoll_seconds = 2\n"
RETRAIN = """
[pipeline.retrain]
notebook = "notebooks/train.ipynb"
model = "churn"
parameters = {{ lr = 0.5 }}
gates = ["roc_auc>=champion-0.05"]
triggers = [{{ kind = "schedule", cron = "{cron}" }}]
"""

# The job holds until a file that never comes appears: a run is always going when the test
# cancels it, however fast the machine.
HOLD = "import pathlib, time\nwhile not pathlib.Path('release').exists():\n    time.sleep(0.05)"


def declare(root: Path, cron: str = "0 3 * * 1") -> None:
    (root / "mlops.toml").write_text(BASE + RETRAIN.format(cron=cron), encoding="utf-8")


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """Model churn v1 @champion and a small parameterised notebook, for the whole module."""
    workspace = Workspace.init(tmp_path_factory.mktemp("pipelines-cli") / "ws")
    (workspace.root / "mlops.toml").write_text(BASE, encoding="utf-8")
    workspace = Workspace.open(workspace.root)
    workspace.registry.register(log_model_run(workspace, c=0.1), "churn", aliases=["champion"])
    parameterised_notebook(workspace.root / "notebooks" / "train.ipynb", "x = lr * epochs", HOLD)
    yield workspace
    workspace.monitoring.stop_scheduler()
    workspace.jobs.stop_workers()


@pytest.fixture
def applied(ws: Workspace) -> Workspace:
    """The pipeline ``retrain`` applied and enabled."""
    declare(ws.root)
    Workspace.open(ws.root).pipelines.apply()
    Workspace.open(ws.root).pipelines.set_enabled("retrain", True)
    return ws


@pytest.fixture
def cli(ws: Workspace, capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(ws.root, capsys)


def test_plan_apply_list_show_enable_in_a_terminal(ws: Workspace, cli: Cli) -> None:
    declare(ws.root, cron="61 * * * *")
    bad = jupyter_mlops("pipelines", "plan", cwd=ws.root)
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert "error: pipeline retrain (mlops.toml)" in bad.stderr
    assert "not a cron schedule" in bad.stderr and "hint:" in bad.stderr

    declare(ws.root)
    code, out, _ = cli("pipelines", "plan")
    assert code == 0 and "+ pipeline retrain: create -> v1 (mlops.toml)" in out
    assert cli.json("pipelines", "plan") == {
        "changes": [
            {
                "name": "retrain",
                "action": "create",
                "version": 1,
                "source": "mlops.toml",
                "diff": [],
            }
        ],
        "applied": False,
    }
    code, out, _ = cli("pipelines", "apply")
    assert code == 0 and out.startswith("Pipelines applied") and "Applied." in out
    code, out, _ = cli("pipelines", "apply")
    assert "Pipelines: up to date" in out and "= pipeline retrain: unchanged" in out

    code, out, _ = cli("pipelines", "list")
    assert code == 0 and "scheduler:" in out
    assert re.search(r"retrain\s+v1\s+yes\s+churn\s+schedule\s+-", out), out
    listed = cli.json("pipelines", "list")
    assert set(listed) == {"pipelines", "scheduler"}

    code, out, _ = cli("pipelines", "show", "retrain")
    assert code == 0 and out.startswith("Pipeline retrain")
    assert "notebook:   notebooks/train.ipynb" in out and 'parameters: {"lr": 0.5}' in out
    assert "gates:      roc_auc>=champion-0.05" in out
    assert "on schedule 0 3 * * 1" in out and "by hand (pipelines run)" in out
    assert "Last 0 run(s):\n(none)" in out
    shown = cli.json("pipelines", "show", "retrain")
    assert shown["name"] == "retrain" and shown["version"] == 1 and "spec" in shown
    code, _, err = cli("pipelines", "show", "retrian")
    assert code == 1 and "There is no pipeline 'retrian'" in err and "retrain" in err

    code, out, _ = cli("pipelines", "disable", "retrain")
    assert code == 0 and "Pipeline retrain disabled" in out and "enabled:    no" in out
    code, _, err = cli("pipelines", "run", "retrain")
    assert code == 1 and "Pipeline retrain is disabled" in err
    assert "jupyter mlops pipelines enable retrain" in err
    assert cli.json("pipelines", "enable", "retrain")["enabled"] is True


def test_run_absorb_status_events_and_cancel(applied: Workspace, cli: Cli) -> None:
    code, out, _ = cli("pipelines", "run", "retrain", "--reason", "new data")
    assert code == 0, out
    found = re.search(r"^Started run (\w+) of pipeline retrain$", out, re.M)
    assert found, out
    run_id = found[1]
    assert "job       running" in out and "gates     pending" in out

    # A second request joins the run; --wait follows it, here for a moment only.
    code, out, err = cli("pipelines", "run", "retrain", "--wait", "--timeout", "0.2")
    assert code == 1, out + err
    assert f"Run {run_id} of pipeline retrain is going: the request joined it" in err
    assert "Still running after 0.2 s" in out
    joined = cli.json("pipelines", "run", "retrain")
    assert joined["event"]["outcome"] == "absorbed"
    assert joined["run"]["id"] == run_id and joined["run"]["absorbed"] == 2

    code, out, _ = cli("pipelines", "status", run_id[:14])
    assert code == 0 and out.startswith(f"Pipeline run {run_id}")
    assert "trigger:    manual at " in out and "run by hand by " in out
    assert "reason=new data" in out and "absorbed:   2 later event(s)" in out
    assert re.search(r"^  job\s+running\s+\S+-\s+job \w+ ", out, re.M), out
    assert re.search(r"^  abtest\s+skipped\s+the pipeline starts no A/B test$", out, re.M)

    code, out, _ = cli("pipelines", "runs")
    assert code == 0 and re.search(rf"{run_id}\s+retrain\s+running\s+manual", out), out
    assert cli.json("pipelines", "runs", "retrain", "--limit", "1")["runs"][0]["id"] == run_id
    code, out, _ = cli("pipelines", "events", "retrain")
    assert code == 0 and len(re.findall(rf"manual\s+absorbed\s+{run_id}", out)) == 2, out
    events = cli.json("pipelines", "events")["events"]
    assert [e["outcome"] for e in events] == ["absorbed", "absorbed", "started"]

    code, out, _ = cli("pipelines", "cancel", run_id)
    assert code == 0 and f"Pipeline run {run_id} cancelled" in out
    assert cli.json("pipelines", "status", run_id)["state"] == "cancelled"
    code, _, err = cli("pipelines", "cancel", run_id)
    assert code == 1 and "has ended (cancelled)" in err
    code, out, _ = cli("pipelines", "show", "retrain")
    assert re.search(rf"{run_id}\s+cancelled\s+manual .* -\s+-\s+-\s+-\s+-$", out, re.M), out


def test_run_wait_prints_each_step_until_the_run_ends(applied: Workspace, cli: Cli) -> None:
    notebook = applied.root / "notebooks" / "train.ipynb"
    moved = notebook.with_suffix(".kept")
    notebook.rename(moved)  # the job cannot be queued: the run fails at once
    try:
        code, out, err = cli("pipelines", "run", "retrain", "--wait", "--reason", "broken")
    finally:
        moved.rename(notebook)
    assert code == 1
    assert re.search(r"^Started run \w+ of pipeline retrain$", err, re.M), err
    assert re.search(r"^  job\s+failed\s+the job could not be queued: ", err, re.M), err
    steps = re.findall(r"^  (\w+)\s+(failed|skipped) ", err, re.M)
    assert steps == [
        ("job", "failed"),
        ("gates", "skipped"),
        ("register", "skipped"),
        ("alias", "skipped"),
        ("abtest", "skipped"),
        ("promote", "skipped"),
    ]
    assert re.search(r"^Pipeline run \w+: failed$", out, re.M), out
    assert "train.ipynb" in out


def test_lineage_of_a_version(ws: Workspace, cli: Cli) -> None:
    code, out, _ = cli("lineage", "churn@champion")
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0].startswith("Lineage of churn:1")
    assert all(len(line) <= 100 for line in lines), out
    assert re.search(r"^\d{4}-\d\d-\d\d \d\d:\d\d\s+version\s+churn:1 \(@champion\)", out, re.M)
    assert re.search(r"^-\s+run\s+run logreg-C0.1 in churn: .*roc_auc=0.8", out, re.M)
    chain = cli.json("lineage", "churn/1")
    assert set(chain) == {"model", "version", "aliases", "links", "pipeline_run"}
    code, _, err = cli("lineage", "churn@nope")
    assert code == 1 and "nope" in err


def test_the_magic_lists_pipelines(applied: Workspace) -> None:
    nb = run_notebook(
        applied.root / "magic.ipynb",
        ["%load_ext jupyter_mlops", "%mlops pipelines list", "%mlops pipelines show nope"],
    )
    listed = outputs_text(nb.cells[1])
    assert "**Pipelines**" in listed and "retrain" in listed, listed
    missing = outputs_text(nb.cells[2])
    assert "There is no pipeline 'nope'" in missing and "ERROR" not in missing
