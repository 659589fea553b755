"""The %mlops magics, executed in a real IPython kernel."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from mlflow.tracking import MlflowClient

from jupyter_mlops import Workspace
from tests.helpers import outputs_text, run_notebook

pytestmark = pytest.mark.slow


TRAIN = """%%mlops run -e churn --name gbm-small --params n_estimators,max_depth --metrics acc
from sklearn.datasets import make_classification
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.metrics import accuracy_score
X, y = make_classification(n_samples=300, random_state=0)
n_estimators, max_depth = 15, 2
model = GradientBoostingClassifier(n_estimators=n_estimators, max_depth=max_depth, random_state=0)
model.fit(X, y)
for i, pred in enumerate(model.staged_predict(X)):
    mlops_run.log_metric("train_acc", accuracy_score(y, pred), step=i)
acc = accuracy_score(y, model.predict(X))
print("trained", round(acc, 3))
"""


def test_cell_magic_records_a_run_with_notebook_snapshot(workspace: Workspace) -> None:
    nb_path = workspace.root / "train.ipynb"
    nb = run_notebook(
        nb_path,
        [
            "%load_ext jupyter_mlops",
            TRAIN,
            "import json\nrows = %mlops runs --experiment churn --json\nprint(json.dumps(rows))",
        ],
        env={"JPY_SESSION_NAME": str(nb_path)},
    )
    train_out = outputs_text(nb.cells[1])
    assert "trained" in train_out and "finished" in train_out, train_out
    # MLflow's autolog passes y_pred= to log_loss, which scikit-learn 1.9 deprecated: the
    # warning is about MLflow's code, not the user's, and is not shown (the metric still is).
    assert "y_proba" not in train_out and "FutureWarning" not in train_out, train_out
    listed = json.loads(nb.cells[2].outputs[0]["text"])
    assert len(listed["rows"]) == 1
    run_id = listed["rows"][0]["run_id"]

    client = MlflowClient(workspace.tracking_uri)
    run = client.get_run(run_id)
    assert run.info.run_name == "gbm-small" and run.info.status == "FINISHED"
    assert run.data.params["n_estimators"] == "15" and run.data.params["max_depth"] == "2"
    assert 0.5 < run.data.metrics["acc"] <= 1.0
    assert len(client.get_metric_history(run_id, "train_acc")) == 15
    tags = run.data.tags
    assert tags["mlflow.source.name"] == str(nb_path)
    assert tags["mlops.notebook"] == "train.ipynb"
    assert tags["mlops.python"].count(".") == 2
    assert "mlops.package.scikit-learn" in tags
    artifacts = {a.path for a in client.list_artifacts(run_id, "notebook")}
    assert artifacts == {"notebook/cell.py", "notebook/train.ipynb"}
    snapshot = Path(client.download_artifacts(run_id, "notebook/train.ipynb"))
    assert "%%mlops run" in snapshot.read_text()
    # sklearn autolog attached the fitted model's parameters to the same run.
    assert run.data.params.get("learning_rate") == "0.1"
    assert run.data.metrics["training_log_loss"] > 0


def test_git_commit_and_dirty_flag(workspace: Workspace) -> None:
    import subprocess

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=workspace.root, check=True, capture_output=True, text=True
        ).stdout.strip()

    git("init", "-q")
    git(
        "-c",
        "user.email=t@example.com",
        "-c",
        "user.name=t",
        "commit",
        "-q",
        "--allow-empty",
        "-m",
        "x",
    )
    (workspace.root / "tracked.txt").write_text("1")
    git("add", "tracked.txt")
    head = git("rev-parse", "HEAD")
    nb_path = workspace.root / "git.ipynb"
    run_notebook(
        nb_path,
        ["%load_ext jupyter_mlops", "%%mlops run --name g --no-autolog\nx = 1"],
        env={"JPY_SESSION_NAME": str(nb_path)},
    )
    runs = workspace.tracking.list_runs(["Default"]).runs
    assert runs[0].tags["mlflow.source.git.commit"] == head
    assert runs[0].tags["mlops.git.dirty"] == "true"


def test_failing_cell_marks_run_failed_and_shows_traceback(workspace: Workspace) -> None:
    nb = run_notebook(
        workspace.root / "fail.ipynb",
        [
            "%load_ext jupyter_mlops",
            "%%mlops run --name boom --metrics missing\nraise ValueError('bad data')",
        ],
    )
    text = outputs_text(nb.cells[1])
    assert "ValueError" in text and "failed" in text
    assert "metric 'missing' is not defined" in text
    # nbclient did not tell the kernel its notebook: the run found it by the cell it runs
    assert "notebook path unknown" not in text
    run = workspace.tracking.list_runs(["Default"]).runs[0]
    assert run.run_name == "boom" and run.status == "FAILED"


def test_line_magic_errors_are_messages_not_tracebacks(tmp_path: Path) -> None:
    nb = run_notebook(
        tmp_path / "nows.ipynb",
        [
            "%load_ext jupyter_mlops",
            "%mlops runs",
            "%mlops runs --limit zero",
            "%mlops deplyo",
            "%%mlops run\nx = 1",
        ],
    )
    texts = [outputs_text(c) for c in nb.cells[1:]]
    assert all("ERROR" not in t and "Traceback" not in t for t in texts), texts
    assert "jupyter mlops init" in texts[0]
    assert "expected a whole number" in texts[1]
    assert "unknown command 'deplyo'" in texts[2] and "Did you mean deploy?" in texts[2]
    assert "jupyter mlops init" in texts[3]


def test_line_magic_renders_dataframe_and_figures(workspace: Workspace, sweep: list[str]) -> None:
    nb = run_notebook(
        workspace.root / "cmp.ipynb",
        [
            "%load_ext jupyter_mlops",
            "%mlops runs --experiment churn --sort 'metrics.accuracy DESC' --limit 2",
            # Runs named by an id prefix and by name, as well as by id.
            f"%mlops compare {sweep[0][:8]} lr0.1-seed1 {' '.join(sweep[2:])} --group-by-seed "
            "--diff-only",
        ],
    )
    runs_out = nb.cells[1].outputs
    assert any("text/html" in o.get("data", {}) for o in runs_out)  # a DataFrame
    cmp_out = nb.cells[2].outputs
    mimes = [m for o in cmp_out for m in o.get("data", {})]
    assert mimes.count("application/vnd.plotly.v1+json") == 3
    html = "".join(o["data"].get("text/html", "") for o in cmp_out if "data" in o)
    assert "random_state" in html and "ci95_low" in html


def test_runs_json_matches_cli(workspace: Workspace, sweep: list[str]) -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "jupyter_mlops.commands.cli", "runs", "-e", "churn", "--json",
         "--workspace", str(workspace.root)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert {r["run_id"] for r in json.loads(done.stdout)["rows"]} == set(sweep)


def test_tour_notebook_runs_clean(workspace: Workspace) -> None:
    tour = Path(__file__).parents[2] / "notebooks" / "experiments_tour.ipynb"
    nb = nbformat.read(tour, as_version=4)
    run_notebook(
        workspace.root / "tour.ipynb", [c.source for c in nb.cells if c.cell_type == "code"]
    )
    executed = nbformat.read(workspace.root / "tour.ipynb", as_version=4)
    errors = [o for c in executed.cells for o in c.outputs if o.output_type == "error"]
    assert errors == []
    (run,) = workspace.tracking.list_runs(["tour"]).runs
    assert run.run_name == "ridge" and 0.3 < (run.metrics["r2"] or 0) < 1
