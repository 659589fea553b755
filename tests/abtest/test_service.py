"""A/B tests on a real deployment: routing, outcomes by request id and by key, the analysis,
the guardrails and the decision, with real HTTP clients."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import numpy as np
import pytest

from jupyter_mlops import Workspace
from jupyter_mlops.abtest.schemas import AbStartRequest, OutcomeItem
from jupyter_mlops.abtest.stats import SRM_THRESHOLD
from jupyter_mlops.errors import Conflict, InvalidInput, NotFound
from tests.helpers import wait_for

pytestmark = pytest.mark.slow

ROW = {"tenure": 12, "spend": 50.0, "calls": 2.0}


@pytest.fixture(scope="module")
def ab(models_workspace: Workspace) -> Iterator[Workspace]:
    ws = models_workspace
    ws.deployments.deploy("churn@champion", name="churn-ab")
    yield ws
    ws.deployments.stop("churn-ab")


def ask(ws: Workspace, n: int, *, key: str | None = None) -> list[tuple[str, str]]:
    """Send n single-row requests; return (request id, variant) of each."""
    url = ws.deployments.get("churn-ab").url
    out = []
    with httpx.Client(base_url=url, timeout=30) as client:
        for i in range(n):
            rid = uuid.uuid4().hex
            row = dict(ROW)
            headers = {"x-request-id": rid}
            if key is not None:
                headers["x-sticky-key"] = f"{key}-{i}"
            r = client.post("/invocations", json={"dataframe_records": [row]}, headers=headers)
            assert r.status_code == 200, r.text
            out.append((rid, r.headers["x-variant"]))
    return out


def test_bad_starts_are_refused_and_change_nothing(ab: Workspace) -> None:
    ws = ab
    with pytest.raises(InvalidInput, match="sum to 100"):
        ws.abtests.start("churn-ab", AbStartRequest(challenger=2, split=[80, 10]))
    with pytest.raises(InvalidInput, match="already the champion"):
        ws.abtests.start("churn-ab", AbStartRequest(challenger=1))
    with pytest.raises(NotFound):
        ws.abtests.start("churn-ab", AbStartRequest(challenger=9))
    with pytest.raises(NotFound):
        ws.abtests.start("nope", AbStartRequest(challenger=2))
    assert ws.abtests.list("churn-ab").experiments == []
    assert ws.deployments.routing("churn-ab") is None


def test_an_ab_test_from_start_to_decision(ab: Workspace) -> None:
    ws = ab
    exp = ws.abtests.start("churn-ab", AbStartRequest(challenger=2, split=[50, 50], planned_n=200))
    assert (exp.champion, exp.challenger, exp.state) == (1, 2, "running")
    with pytest.raises(Conflict, match="already runs A/B test"):
        ws.abtests.start("churn-ab", AbStartRequest(challenger=2))
    answers = ask(ws, 400)
    variants = [v for _, v in answers]
    assert set(variants) == {"champion", "challenger"}
    assert 0.4 < variants.count("challenger") / len(variants) < 0.6
    # read before any outcome (a pipeline waiting on the test does): no outcome, no verdict yet
    early = ws.abtests.status("churn-ab")
    assert early.with_outcome == {"champion": 0, "challenger": 0}
    assert early.analysis is not None
    assert early.analysis.comparisons[0].verdict == "no_difference_yet"
    # outcomes with a known effect: the challenger converts 40%, the champion 10%
    rng = np.random.default_rng(3)
    items = [
        OutcomeItem(request_id=rid, value=float(rng.random() < (0.4 if v == "challenger" else 0.1)))
        for rid, v in answers
    ]
    converted = [i for i in items if i.value == 1.0]
    done = ws.abtests.record_outcomes("churn-ab", converted)
    assert done.accepted == len(converted) and done.duplicates == 0
    again = ws.abtests.record_outcomes("churn-ab", converted[:5])
    assert (again.accepted, again.duplicates) == (0, 5)
    with pytest.raises(InvalidInput, match="binary"):
        ws.abtests.record_outcomes("churn-ab", [OutcomeItem(request_id=answers[0][0], value=3)])
    with pytest.raises(NotFound):
        ws.abtests.record_outcomes("churn-ab", [OutcomeItem(request_id="nosuch", value=1)])
    with pytest.raises(InvalidInput, match="at random"):
        ws.abtests.record_outcomes("churn-ab", [OutcomeItem(key="u1", value=1)])

    status = ws.abtests.status("churn-ab")
    assert status.unit == "request"
    assert sum(status.assigned.values()) == 400
    assert status.assigned["challenger"] == variants.count("challenger")
    assert status.analysis is not None
    [comparison] = status.analysis.comparisons
    assert comparison.treatment == "challenger" and comparison.control == "champion"
    assert comparison.verdict == "challenger_better"
    assert 0.15 < comparison.effect.absolute < 0.45
    srm = status.analysis.srm
    assert srm.counts == [status.assigned[v] for v in srm.variants]
    # A fair split is flagged once in 1/SRM_THRESHOLD tests: the flag follows the p-value
    # (CI saw 234/166 once); a broken split is flagged in test_stats.
    assert srm.mismatch == (srm.p_value < SRM_THRESHOLD)
    assert {g.variant for g in status.guardrails} == {"champion", "challenger"}
    assert all(g.errors == 0 and g.latency_p50_ms for g in status.guardrails)

    stopped = ws.abtests.stop("churn-ab", "challenger")
    assert stopped.state == "stopped" and stopped.decision is not None
    assert stopped.decision.alias_moved and stopped.decision.verdict == "challenger_better"
    assert ws.registry.get_version("churn@champion").version == 2
    info = ws.deployments.get("churn-ab")
    assert [s.version for s in info.serving] == [2]
    assert ws.deployments.routing("churn-ab") is None
    tags = ws.registry.version_tags("churn")[2]
    assert any(k.endswith(".decision") and '"winner": "challenger"' in v for k, v in tags.items())
    with pytest.raises(Conflict, match="already stopped"):
        ws.abtests.stop("churn-ab", "champion")
    # the stopped test still reads, with its figures at the decision; late outcomes are refused
    after = ws.abtests.status("churn-ab")
    assert after.analysis == stopped.decision.analysis
    with pytest.raises(Conflict, match="already stopped"):
        ws.abtests.record_outcomes("churn-ab", [OutcomeItem(request_id=answers[1][0], value=1)])


def test_sticky_keys_and_outcomes_by_key(ab: Workspace) -> None:
    ws = ab
    # churn-ab now serves v2 alone (the previous test's winner): test v1 as the challenger
    exp = ws.abtests.start(
        "churn-ab", AbStartRequest(challenger=1, split=[70, 30], sticky_key="user")
    )
    first = ask(ws, 60, key="user")
    second = ask(ws, 60, key="user")
    assert [v for _, v in first] == [v for _, v in second]  # a key keeps its variant
    items = [OutcomeItem(key=f"user-{i}", value=1.0) for i in range(0, 60, 3)]
    assert ws.abtests.record_outcomes("churn-ab", items).accepted == len(items)
    status = ws.abtests.status("churn-ab")
    assert status.unit == "key"
    assert sum(status.assigned.values()) == 60
    assert sum(status.with_outcome.values()) == len(items)
    ws.abtests.stop("churn-ab", "champion")
    assert ws.registry.get_version("churn@champion").version == 2
    assert ws.abtests.current("churn-ab").id == exp.id


def test_a_shadow_test_answers_with_the_champion_and_monitoring_counts_no_copies(
    ab: Workspace,
) -> None:
    from jupyter_mlops.monitoring.windows import Window

    ws = ab
    exp = ws.abtests.start("churn-ab", AbStartRequest(challenger=1, shadow=True))
    answers = ask(ws, 30)
    assert {v for _, v in answers} == {"champion"}

    def copies() -> int:
        return ws.abtests.status("churn-ab").shadow_requests

    wait_for(lambda: copies() == 30, "the challenger's 30 shadow copies", 60)
    status = ws.abtests.status("churn-ab")
    assert status.analysis is None and "shadow" in (status.message or "")
    guard = {g.variant: g for g in status.guardrails}
    assert guard["champion"].requests == guard["challenger"].requests == 30
    # monitoring counts the 30 answers, not the copies
    since = ws.monitoring.metrics("churn-ab", Window(start=exp.started))
    assert since.overall.requests == 30
    ws.abtests.stop("churn-ab", "champion")


def test_true_labels_give_quality_per_variant(ab: Workspace) -> None:
    ws = ab
    ws.abtests.start("churn-ab", AbStartRequest(challenger=1, split=[50, 50], kind="label"))
    answers = ask(ws, 40)
    labels = [OutcomeItem(request_id=rid, value=i % 2) for i, (rid, _) in enumerate(answers)]
    assert ws.abtests.record_outcomes("churn-ab", labels).accepted == 40
    with pytest.raises(InvalidInput, match="true label belongs to a request"):
        ws.abtests.record_outcomes("churn-ab", [OutcomeItem(key="u", value=1)])
    status = ws.abtests.status("churn-ab")
    assert status.analysis is None and status.quality is not None
    assert status.quality.labelled == 40
    assert sorted(int(v.version or 0) for v in status.quality.versions) == [1, 2]
    assert sum(status.with_outcome.values()) == 40
    ws.abtests.stop("churn-ab", "champion")
