"""The A/B commands as a user types them, on a real deployment."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import httpx
import pytest

from jupyter_mlops import Workspace
from tests.helpers import Cli, jupyter_mlops

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ab(models_workspace: Workspace) -> Iterator[Workspace]:
    ws = models_workspace
    ws.deployments.deploy("churn@champion", name="churn-cli")
    yield ws
    ws.deployments.stop("churn-cli")


def test_plan_start_outcomes_status_stop(
    ab: Workspace, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ab.root)  # --data paths are relative to where the user is
    cli = Cli(ab.root, capsys).completed  # in process; the plan goes through a terminal
    ws = ab
    plan = jupyter_mlops(
        "ab", "plan", "--baseline", "0.1", "--mde", "0.1", "--relative", "--traffic", "1000",
        cwd=ws.root,
    )  # fmt: skip
    assert plan.returncode == 0, plan.stderr
    assert "champion needs:   14,745" in plan.stdout and "takes:" in plan.stdout
    bad = cli("ab", "start", "churn-cli", "--challenger", "2", "--split", "90")
    assert bad.returncode != 0 and "CHAMPION/CHALLENGER" in bad.stderr
    started = cli(
        "ab", "start", "churn-cli", "--challenger", "2", "--split", "50/50", "--planned-n", "100",
        "--json"
    )  # fmt: skip
    assert started.returncode == 0, started.stderr
    exp = json.loads(started.stdout)
    assert (exp["champion"], exp["challenger"], exp["state"]) == (1, 2, "running")

    url = ws.deployments.get("churn-cli").url
    rows = []
    with httpx.Client(base_url=url, timeout=30) as client:
        for i in range(120):
            rid = uuid.uuid4().hex
            body = {"dataframe_records": [{"tenure": 12, "spend": 50.0, "calls": 2.0}]}
            r = client.post("/invocations", json=body, headers={"x-request-id": rid})
            # Every answer after `ab start` returned is routed: the old generation stopped
            # accepting before the supervisor said the experiment was serving.
            assert r.status_code == 200 and "variant" in r.json(), (i, r.text)
            assert r.json()["variant"] == r.headers["x-variant"]
            converted = r.headers["x-variant"] == "challenger" or i % 10 == 0
            rows.append(f"{rid},{int(converted)}")
    (ws.root / "outcomes.csv").write_text("request_id,value\n" + "\n".join(rows) + "\n")
    done = cli("ab", "outcomes", "churn-cli", "--data", "outcomes.csv")
    assert done.returncode == 0, done.stderr
    assert "accepted:         120" in done.stdout
    status = cli("ab", "status", "churn-cli")
    assert status.returncode == 0, status.stderr
    assert "Verdict:" in status.stdout and "Fixed-horizon p" in status.stdout
    assert "Guardrails:" in status.stdout
    stopped = cli("ab", "stop", "churn-cli", "--winner", "champion")
    assert stopped.returncode == 0, stopped.stderr
    assert "the champion serves churn-cli" in stopped.stdout
    listed = cli("ab", "list", "--json")
    [one] = [e for e in json.loads(listed.stdout)["experiments"] if e["deployment"] == "churn-cli"]
    assert one["state"] == "stopped" and one["decision"]["winner"] == "champion"
