"""Gates name their run the way every command does: by id, unique id prefix or run name."""

from __future__ import annotations

from jupyter_mlops import Workspace
from jupyter_mlops.jobs.ci import Gates


def test_gates_check_a_run_named_by_name_or_prefix(workspace: Workspace, sweep: list[str]) -> None:
    gates = Gates(workspace.tracking, workspace.registry)
    by_name = gates.check("lr0.1-seed0", ["accuracy >= 0.5", "converged loss"])
    # The outcome (and what is recorded on the run) carries the run's full id.
    assert by_name.run_id == sweep[0]
    assert by_name.passed and [c.passed for c in by_name.checks] == [True, True]
    assert gates.check(sweep[1][:6], ["accuracy >= 0.5"]).run_id == sweep[1]
