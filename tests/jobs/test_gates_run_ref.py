"""Gates against real runs and a real registry: the run named as every command names it (id,
unique id prefix or run name), and an alias typo that must not pass unseen."""

from __future__ import annotations

from jupyter_mlops import Workspace
from jupyter_mlops.jobs.ci import Gates


def test_gates_name_the_run_and_refuse_an_alias_typo(models_workspace: Workspace) -> None:
    ws = models_workspace
    gates = Gates(ws.tracking, ws.registry)
    run_id = ws.registry.resolve("churn:2").run_id
    assert run_id is not None
    name = ws.tracking.get_run(run_id, with_history=False).run_name
    assert name
    by_name = gates.check(name, ["roc_auc >= champion"])
    # The outcome (and what is recorded on the run) carries the run's full id.
    assert by_name.run_id == run_id and by_name.passed and by_name.model.name == "churn"
    assert gates.check(run_id[:6], ["roc_auc >= 0.5"]).run_id == run_id
    # Nobody holds @challenger: nothing to beat, it passes. @champoin is a typo of @champion:
    # passing it would let any run through, so it fails and says which alias was meant.
    outcome = gates.check(run_id, ["roc_auc >= challenger", "roc_auc >= champoin"])
    assert [c.passed for c in outcome.checks] == [True, False] and not outcome.passed
    assert (
        outcome.checks[1].message == "no version of churn holds @champoin: did you mean @champion?"
    )
