"""The live A/B widget (``%mlops ab watch``) on a real deployment with a running test: what it
says, that it keeps up, that its buttons decide (after a confirmation), and that its thread ends."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import httpx
import pytest

from jupyter_mlops import Workspace
from jupyter_mlops.abtest.schemas import AbStartRequest, OutcomeItem
from jupyter_mlops.commands.abtest_widget import AbWatch, ab_widget
from jupyter_mlops.commands.context import Context
from jupyter_mlops.commands.handlers import execute
from jupyter_mlops.commands.parser import parse
from jupyter_mlops.errors import InvalidInput
from tests.helpers import wait_for

pytestmark = pytest.mark.slow  # deploys a model

NAME = "churn-watch"
ROW = {"tenure": 12, "spend": 50.0, "calls": 2.0}


@pytest.fixture(scope="module")
def running(models_workspace: Workspace) -> Iterator[Workspace]:
    """``churn@champion`` (v1) deployed with an A/B test against v2 (50/50, 100 planned per
    variant), 120 requests answered and their outcomes: the challenger converts far better."""
    ws = models_workspace
    ws.deployments.deploy("churn@champion", name=NAME)
    ws.abtests.start(NAME, AbStartRequest(challenger=2, split=[50, 50], planned_n=100))
    send(ws, 120)
    yield ws
    ws.deployments.stop(NAME)


def send(ws: Workspace, n: int) -> None:
    """Answer ``n`` requests; most challenger requests convert, one in ten champion ones."""
    url = ws.deployments.get(NAME).url
    outcomes = []
    with httpx.Client(base_url=url, timeout=30) as client:
        for i in range(n):
            rid = uuid.uuid4().hex
            r = client.post(
                "/invocations", json={"dataframe_records": [ROW]}, headers={"x-request-id": rid}
            )
            assert r.status_code == 200, r.text
            challenger = r.headers["x-variant"] == "challenger"
            if (challenger and i % 5 != 0) or i % 10 == 0:
                outcomes.append(OutcomeItem(request_id=rid, value=1.0))
    ws.abtests.record_outcomes(NAME, outcomes)


def watch_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("mlops-ab-watch-")]


def test_the_widget_shows_counts_p_value_and_size_and_keeps_up(running: Workspace) -> None:
    ws = running
    status = ws.abtests.status(NAME)
    assert status.analysis is not None
    widget = ab_widget(NAME, workspace=ws, refresh_seconds=0.2)
    try:
        assert widget.running
        text = widget.report.value
        champion, challenger = status.assigned["champion"], status.assigned["challenger"]
        assert f"<td>champion (v1)</td><td>{champion:,}</td>" in text
        assert f"<td>challenger (v2)</td><td>{challenger:,}</td>" in text
        assert f"{champion:,} of 100" in text and f"{challenger:,} of 100" in text
        p = status.analysis.comparison.sequential.p_value
        assert f"Sequential p-value (always valid, the verdict's): <b>{p:.4g}</b>" in text
        assert "Fixed-horizon p-value" in text and "single look" in text
        assert "this is conclusive: the challenger is better." in text
        assert "always-valid 95% interval" in text
        assert "latency p95" in text  # the guardrails
        assert widget.promote_button.description == "Promote challenger (v2)"
        # live: new requests show without touching the widget
        send(ws, 10)
        total = sum(ws.abtests.status(NAME).assigned.values())
        assert total == champion + challenger + 10

        def shown_total() -> bool:
            s = widget.status
            return s is not None and sum(s.assigned.values()) == total

        wait_for(shown_total, "the widget's refresh")
    finally:
        widget.close()
    assert not widget.running and watch_threads() == []


def test_promote_asks_first_then_stops_the_test_and_moves_champion(running: Workspace) -> None:
    ws = running
    widget = ab_widget(NAME, workspace=ws, refresh_seconds=30)
    try:
        assert widget.confirm_row.layout.display == "none"
        widget.promote_button.click()
        assert widget.confirm_row.layout.display is None  # shown: nothing decided yet
        assert "takes @champion" in widget.confirm_text.value
        assert ws.abtests.current(NAME).state == "running"
        widget.cancel_button.click()
        assert widget.confirm_row.layout.display == "none"
        assert ws.abtests.current(NAME).state == "running"

        widget.promote_button.click()
        widget.confirm_button.click()
        exp = ws.abtests.current(NAME)
        assert exp.state == "stopped" and exp.decision is not None
        assert exp.decision.winner == "challenger" and exp.decision.alias_moved
        assert ws.registry.get_version("churn@champion").version == 2
        assert [s.version for s in ws.deployments.get(NAME).serving] == [2]
        assert "Decided:" in widget.report.value and "@champion moved to v2" in widget.report.value
        assert widget.buttons.layout.display == "none"
        wait_for(lambda: not widget.running, "the refresh thread to end once decided", 10)
    finally:
        widget.close()
    assert watch_threads() == []
    # A stopped test opens without a thread, its decision shown.
    again = ab_widget(NAME, workspace=ws)
    try:
        assert not again.running and "Decided:" in again.report.value
    finally:
        again.close()


def test_ab_watch_is_a_widget_in_a_notebook_and_a_sentence_in_a_terminal(
    running: Workspace,
) -> None:
    ws = running
    args = parse(["ab", "watch", NAME])
    with pytest.raises(InvalidInput, match="needs a notebook") as raised:
        execute(args, Context(rich=False, cwd=ws.root))
    assert f"ab status {NAME}" in (raised.value.hint or "")
    result = execute(parse(["ab", "watch", NAME, "--refresh", "60"]), Context(True, ws.root))
    try:
        assert isinstance(result.value, AbWatch)
        assert result.value.deployment == NAME
        assert "A/B test of churn-watch" in result.value.report.value
    finally:
        result.value.close()
    as_json = execute(parse(["ab", "watch", NAME, "--json"]), Context(True, ws.root))
    assert as_json.value is None and as_json.to_json()["experiment"]["deployment"] == NAME
    assert watch_threads() == []
    with pytest.raises(InvalidInput, match="positive"):
        AbWatch(ws.abtests, NAME, refresh_seconds=0)
