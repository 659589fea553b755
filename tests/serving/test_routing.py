"""A/B routing in the model server: weights, sticky keys, shadow copies, variant in every answer.

Real replica processes over real HTTP (``start_replica``), the chooser in-process for the
100,000-assignment figures, and a real supervised deployment for a weight change under load.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import mlflow.sklearn
import numpy as np
import pandas as pd
import pytest

from jupyter_mlops import Workspace
from jupyter_mlops.errors import InvalidInput, NotFound
from jupyter_mlops.serving.app import ModelServer, assign, key_text, sticky_point
from jupyter_mlops.serving.predictions import compact, read_window
from jupyter_mlops.serving.predlog import read_predictions
from jupyter_mlops.serving.schemas import RouteRequest, Routing, ServedVersion, VariantRequest
from jupyter_mlops.serving.spec import (
    ServerSpec,
    check_route_request,
    check_routing,
    check_weights,
)
from tests.helpers import wait_for
from tests.serving.conftest import Replica, served, start_replica

ROW = {"tenure": 12, "spend": 40.0, "calls": 1.0}
N = 100_000


def routing(
    *,
    experiment: str = "exp-1",
    challenger: str = "churn:2",
    sticky: str | None = "user_id",
    shadow: bool = False,
) -> Routing:
    return Routing(
        experiment_id=experiment,
        variants={"champion": "churn:1", "challenger": challenger},
        sticky_key=sticky,
        shadow=shadow,
    )


def ab_spec(
    ws: Workspace,
    folder: Path,
    weights: tuple[float, float] = (90.0, 10.0),
    **kwargs: object,
) -> ServerSpec:
    rules = routing(**kwargs)  # type: ignore[arg-type]
    challenger = rules.variants["challenger"]
    return ServerSpec(
        deployment="ab",
        models=[served(ws, "churn:1", weights[0]), served(ws, challenger, weights[1])],
        prediction_log=str(folder / "predictions"),
        segment_seconds=None,
        routing=rules,
    )


def predict_proba(ws: Workspace, ref: str, rows: list[dict[str, float]]) -> list[list[float]]:
    model = mlflow.sklearn.load_model(str(ws.registry.model_path(ref)))
    return model.predict_proba(pd.DataFrame(rows)[["tenure", "spend", "calls"]]).tolist()  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def ab(models_workspace: Workspace, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replica]:
    """A replica of experiment exp-1: churn:1 champion 90, churn:2 challenger 10, sticky by
    ``user_id``."""
    folder = tmp_path_factory.mktemp("ab")
    running = start_replica(ab_spec(models_workspace, folder), folder)
    yield running
    running.stop()


def invoke(replica: Replica, body: object, **headers: str) -> httpx.Response:
    return httpx.post(f"{replica.url}/invocations", json=body, headers=headers, timeout=10)


# -- the chooser -----------------------------------------------------------------------------------


def test_the_weights_hold_within_one_point_over_100k_assignments(
    models_workspace: Workspace, tmp_path: Path
) -> None:
    server = ModelServer(
        ab_spec(models_workspace, tmp_path).model_copy(update={"prediction_log": None})
    )
    random_share = Counter(server.choose().label for _ in range(N))
    sticky_share = Counter(
        server.choose("", sticky_point("exp-1", f"user-{i}")).label for i in range(N)
    )
    for share in (random_share, sticky_share):
        assert abs(share["churn:2"] / N - 0.10) <= 0.01, share
        assert share["churn:1"] + share["churn:2"] == N
    # By name (the OIP route) the same split holds.
    named = Counter(server.choose("churn", sticky_point("exp-1", str(i))).label for i in range(N))
    assert abs(named["churn:2"] / N - 0.10) <= 0.01, named


def test_sticky_points_are_uniform_and_the_same_in_every_process() -> None:
    keys = [f"user-{i}" for i in range(2000)]
    here = [sticky_point("exp-1", k) for k in keys]
    assert all(0.0 <= p < 1.0 for p in here)
    # Deciles of 100k points are even (uniform), and another experiment reshuffles the keys.
    points = np.array([sticky_point("exp-1", str(i)) for i in range(N)])
    counts = np.histogram(points, bins=10, range=(0, 1))[0]
    assert np.all(np.abs(counts / N - 0.1) <= 0.01), counts
    other = [sticky_point("exp-2", k) for k in keys]
    assert np.corrcoef(here, other)[0, 1] < 0.1
    # Another interpreter, with another string-hash seed, places every key at the same point.
    code = (
        "import sys, json\n"
        "from jupyter_mlops.serving.app import sticky_point\n"
        "print(json.dumps([sticky_point('exp-1', f'user-{i}') for i in range(2000)]))\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    import json

    assert json.loads(out.stdout) == here


def test_a_key_is_the_same_key_however_it_is_sent() -> None:
    assert key_text(42) == key_text(42.0) == key_text("42") == key_text(np.float64(42)) == "42"
    assert key_text(4.5) == "4.5" and key_text(True) == "true"
    assert key_text(None) is None and key_text(float("nan")) is None and key_text("") is None
    # A ramp-up (challenger 10 -> 20, champion first) only moves keys to the challenger.
    points = [sticky_point("exp-1", str(i)) for i in range(10_000)]
    before = [assign([0.9, 1.0], p) for p in points]
    after = [assign([0.8, 1.0], p) for p in points]
    assert all(a == 1 for b, a in zip(before, after, strict=True) if b == 1)


# -- validation ------------------------------------------------------------------------------------


def versions(*weights: float) -> list[ServedVersion]:
    return [ServedVersion(name="churn", version=i + 1, weight=w) for i, w in enumerate(weights)]


@pytest.mark.parametrize(
    ("rules", "weights", "needle", "field"),
    [
        (routing(), (90, 20), "add up to 110", "weight"),
        (routing(), (0.9, 0.1), "add up to 1", "weight"),
        (routing(challenger="churn:7"), (90, 10), "'churn:7', which this deployment", None),
        (routing(challenger="churn:1"), (90, 10), "are both churn:1", None),
        (routing(shadow=True), (90, 10), "needs a variant of weight 0", "weight"),
    ],
    ids=["sum-110", "fractions", "unknown-version", "challenger-is-champion", "shadow-no-zero"],
)
def test_routing_that_cannot_work_is_refused_with_a_hint(
    rules: Routing, weights: tuple[float, float], needle: str, field: str | None
) -> None:
    with pytest.raises(InvalidInput, match=needle) as info:
        check_routing(rules, versions(*weights))
    assert info.value.hint
    if field is not None:
        assert info.value.field == field
    if "churn:7" in needle:
        assert info.value.field == "variants.challenger"
        assert "churn:2" in (info.value.hint or "")


def test_every_served_version_is_a_variant_and_the_spec_checks_it(
    models_workspace: Workspace, tmp_path: Path
) -> None:
    with pytest.raises(InvalidInput, match="churn:3 are no variant"):
        check_routing(routing(), [*versions(90, 10), ServedVersion(name="churn", version=3)])
    with pytest.raises(InvalidInput, match="add up to 101"):
        ab_spec(models_workspace, tmp_path, weights=(90.0, 11.0))
    # Percentages that float arithmetic does not add up exactly still pass.
    check_weights([("a", 33.3), ("b", 33.3), ("c", 33.4)], shadow=False)
    with pytest.raises(InvalidInput, match="cannot name a variant"):
        check_routing(
            Routing(experiment_id="e", variants={"bad name": "churn:1", "b": "churn:2"}),
            versions(50, 50),
        )


def test_a_route_request_is_checked_before_its_models_are_resolved() -> None:
    def request(*variants: tuple[str, str, float], shadow: bool = False) -> RouteRequest:
        return RouteRequest(
            experiment_id="e",
            variants=[VariantRequest(variant=v, model=m, weight=w) for v, m, w in variants],
            shadow=shadow,
        )

    check_route_request(request(("champion", "churn@champion", 90), ("challenger", "churn:3", 10)))
    with pytest.raises(InvalidInput, match="named twice"):
        check_route_request(request(("a", "churn:1", 50), ("a", "churn:2", 50)))
    with pytest.raises(InvalidInput, match="are both churn:1"):
        check_route_request(request(("a", "churn:1", 50), ("b", "churn:1", 50)))
    with pytest.raises(InvalidInput, match="add up to 60"):
        check_route_request(request(("a", "churn:1", 50), ("b", "churn:2", 10)))
    check_route_request(request(("a", "churn:1", 100), ("b", "churn:2", 0), shadow=True))


# -- answers ---------------------------------------------------------------------------------------


def test_answers_carry_variant_and_request_id_in_headers_and_body(
    ab: Replica, replica: Replica
) -> None:
    r = invoke(ab, {"dataframe_records": [{**ROW, "user_id": "u-1"}]}, **{"x-request-id": "q-1"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"predictions", "output_names", "variant", "request_id"}
    assert body["request_id"] == "q-1" == r.headers["x-request-id"]
    assert body["variant"] == r.headers["x-variant"] in {"champion", "challenger"}
    version = {"champion": "churn:1", "challenger": "churn:2"}[body["variant"]]
    assert r.headers["x-model-version"] == version
    # OIP: parameters.variant, next to id and model_version.
    v2 = httpx.post(
        f"{ab.url}/v2/models/churn/infer",
        json={
            "id": "q-2",
            "inputs": [
                {"name": c, "shape": [1], "datatype": "FP64", "data": [float(v)]}
                for c, v in ROW.items()
            ],
        },
        headers={"x-sticky-key": "u-1"},
        timeout=10,
    ).json()
    assert v2["id"] == "q-2" and v2["parameters"] == {"variant": body["variant"]}
    assert v2["model_version"] == version[-1]
    # A bad request during an experiment still says which variant refused it.
    bad = invoke(ab, {"dataframe_records": [{"tenure": "x", "user_id": "u-1"}]})
    assert bad.status_code == 400 and bad.headers["x-variant"] == body["variant"]
    # Without an experiment the MLflow body is MLflow's, and there is no variant.
    plain = invoke(replica, {"dataframe_records": [ROW]})
    assert set(plain.json()) == {"predictions", "output_names"}
    assert "x-variant" not in plain.headers
    plain_v2 = httpx.post(
        f"{replica.url}/v2/models/churn/infer",
        json={
            "inputs": [{"name": c, "shape": [1], "datatype": "FP64", "data": [1.0]} for c in ROW]
        },
        timeout=10,
    ).json()
    assert plain_v2["parameters"] == {}
    # The OpenAPI document describes the answers each server gives.
    doc = httpx.get(f"{ab.url}/openapi.json").json()["paths"]["/invocations"]["post"]
    assert doc["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/RoutedPredictions"
    )
    assert {"x-request-id", "x-model-version", "x-variant"} <= set(
        doc["responses"]["200"]["headers"]
    )
    assert "x-sticky-key" in {p["name"] for p in doc["parameters"]}
    plain_doc = httpx.get(f"{replica.url}/openapi.json").json()["paths"]["/invocations"]["post"]
    assert "x-variant" not in plain_doc["responses"]["200"]["headers"]


def test_real_requests_split_by_the_weights(ab: Replica) -> None:
    """A few hundred requests end to end, unkeyed (random) and keyed by distinct users."""
    seen: Counter[str] = Counter()
    keyed: Counter[str] = Counter()
    with httpx.Client(timeout=10) as client:
        for i in range(600):
            r = client.post(f"{ab.url}/invocations", json={"dataframe_records": [ROW]})
            seen[r.headers["x-variant"]] += 1
            r = client.post(
                f"{ab.url}/invocations", json={"dataframe_records": [{**ROW, "user_id": i}]}
            )
            keyed[r.headers["x-variant"]] += 1
    for counts in (seen, keyed):
        # 600 draws of p = 0.10: the standard deviation is 1.2 points; 4 of them is 4.9.
        assert abs(counts["challenger"] / 600 - 0.10) < 0.049, counts
    # The keyed ones went exactly where the chooser puts them.
    expected = Counter(
        "challenger" if assign([0.9, 1.0], sticky_point("exp-1", str(i))) else "champion"
        for i in range(600)
    )
    assert keyed == expected


def test_one_key_one_variant_across_replicas_formats_and_a_restart(
    models_workspace: Workspace, ab: Replica, tmp_path: Path
) -> None:
    users = [f"user-{i}" for i in range(40)] + list(range(1000, 1040))

    def variants(replica: Replica) -> dict[object, str]:
        out: dict[object, str] = {}
        with httpx.Client(timeout=10) as client:
            for u in users:
                r = client.post(
                    f"{replica.url}/invocations",
                    json={"dataframe_records": [{**ROW, "user_id": u}]},
                )
                assert r.status_code == 200, r.text
                out[u] = r.headers["x-variant"]
        return out

    first = variants(ab)
    assert set(first.values()) == {"champion", "challenger"}
    other = start_replica(ab_spec(models_workspace, tmp_path), tmp_path / "other")
    try:
        assert variants(other) == first
        other.stop()
        other = start_replica(ab_spec(models_workspace, tmp_path), tmp_path / "again")
        assert variants(other) == first
    finally:
        other.stop()
    # A numeric key sent in a numeric matrix (dataframe_split), as a record or in the header:
    # one key; the model never sees the user_id column.
    user = next(u for u in users if isinstance(u, int) and first[u] == "challenger")
    split = invoke(
        ab,
        {
            "dataframe_split": {
                "columns": ["user_id", "tenure", "spend", "calls"],
                "data": [[user, 12, 40.0, 1.0], [5, 13, 41.0, 0.0]],
            }
        },
    )
    header = invoke(ab, {"dataframe_records": [ROW]}, **{"x-sticky-key": str(user)})
    assert split.status_code == 200 and header.status_code == 200, split.text
    assert split.headers["x-variant"] == header.headers["x-variant"] == "challenger"
    np.testing.assert_allclose(
        split.json()["predictions"],
        predict_proba(
            models_workspace, "churn:2", [ROW, {"tenure": 13, "spend": 41.0, "calls": 0.0}]
        ),
    )


def test_the_log_records_variant_experiment_key_and_shadow(ab: Replica) -> None:
    r = invoke(
        ab, {"dataframe_records": [{**ROW, "user_id": "u-log"}]}, **{"x-request-id": "log-1"}
    )
    assert r.status_code == 200
    unkeyed = invoke(ab, {"dataframe_records": [ROW]}, **{"x-request-id": "log-2"})
    folder = ab.log_dir

    def logged() -> dict[str, dict[str, object]]:
        return {rec["id"]: rec for rec in read_predictions(folder)}

    wait_for(lambda: {"log-1", "log-2"} <= set(logged()), "the two records in the log", 30)
    rec = logged()["log-1"]
    assert rec["variant"] == r.headers["x-variant"] and rec["experiment_id"] == "exp-1"
    assert rec["sticky_key"] == "u-log" and rec["shadow"] is False
    assert "sticky_key" not in logged()["log-2"]
    assert logged()["log-2"]["variant"] == unkeyed.headers["x-variant"]
    # Read as a window (what ws.monitoring.predictions returns), pending and compacted alike.
    for _ in range(2):
        table = read_window(folder).to_pandas().set_index("request_id")
        assert table.loc["log-1", "variant"] == r.headers["x-variant"]
        assert table.loc["log-1", "experiment_id"] == "exp-1"
        assert table.loc["log-1", "sticky_key"] == "u-log"
        assert not table.loc["log-1", "shadow"]
        assert pd.isna(table.loc["log-2", "sticky_key"])
        assert "input.user_id" not in table.columns


def test_logs_without_experiments_still_read_with_empty_routing_columns(
    replica: Replica, tmp_path: Path
) -> None:
    from jupyter_mlops.serving.predlog import PredictionLog

    folder = tmp_path / "old"
    log = PredictionLog(folder, fsync_interval=0)
    log.append({"id": "old-1", "time": 1.7e9, "model": "churn", "version": 1, "status": 200,
                "rows": 1, "protocol": "mlflow", "latency_ms": 0.5,
                "inputs": {"columns": ["tenure"], "data": [[3]]}, "outputs": [0.5]})  # fmt: skip
    log.close()
    compact(folder)
    import pyarrow.parquet as pq  # type: ignore[import-untyped, unused-ignore]

    [written] = list(folder.glob("*.parquet"))
    assert "variant" not in pq.read_schema(written).names  # nothing written for them
    table = read_window(folder)
    assert table["variant"].to_pylist() == [None] and table["shadow"].to_pylist() == [None]
    assert read_window(folder, columns=["request_id", "experiment_id"]).num_rows == 1


# -- shadow ----------------------------------------------------------------------------------------


def broken_challenger(ws: Workspace) -> str:
    """A pyfunc version that answers its input example but raises for a tenure above 500."""
    import mlflow
    from mlflow.tracking._tracking_service import utils

    class Fragile(mlflow.pyfunc.PythonModel):  # type: ignore[misc, unused-ignore]
        def predict(
            self, context: object, model_input: pd.DataFrame, params: object = None
        ) -> object:
            if (model_input["tenure"] > 500).any():
                raise RuntimeError("the challenger broke")
            return np.full(len(model_input), 7.0)

    # All doubles: the server gives a numeric pyfunc model float columns.
    example = pd.DataFrame([ROW]).astype("float64")
    previous = getattr(utils, "_tracking_uri", None)
    with ws.tracking.start_run("churn", run_name="fragile") as rec:
        mlflow.set_tracking_uri(ws.tracking_uri)
        try:
            with mlflow.start_run(run_id=rec.run_id):
                mlflow.pyfunc.log_model(name="model", python_model=Fragile(), input_example=example)
        finally:
            utils._tracking_uri = previous
        rec.log_metrics({"roc_auc": 0.5})
    version = ws.registry.register(rec.run_id, "churn")
    return f"churn:{version.version}"


def test_shadow_answers_with_the_champion_and_logs_the_challenger(
    models_workspace: Workspace, tmp_path: Path
) -> None:
    ws = models_workspace
    challenger = broken_challenger(ws)
    spec = ab_spec(ws, tmp_path, weights=(100.0, 0.0), challenger=challenger, shadow=True)
    shadowed = start_replica(spec, tmp_path)
    try:
        ok = invoke(shadowed, {"dataframe_records": [{**ROW, "user_id": "s-1"}]},
                    **{"x-request-id": "sh-1"})  # fmt: skip
        boom = {"tenure": 900, "spend": 40.0, "calls": 1.0}
        failing = invoke(shadowed, {"dataframe_records": [boom]}, **{"x-request-id": "sh-2"})
        for r, row in ((ok, ROW), (failing, boom)):
            assert r.status_code == 200, r.text
            assert r.headers["x-model-version"] == "churn:1"
            assert r.headers["x-variant"] == r.json()["variant"] == "champion"
            np.testing.assert_allclose(r.json()["predictions"], predict_proba(ws, "churn:1", [row]))
        # The explicit-version route asks for one version: no copy.
        direct = httpx.post(
            f"{shadowed.url}/v2/models/churn/versions/1/infer",
            json={"id": "sh-3", "inputs": [
                {"name": c, "shape": [1], "datatype": "FP64", "data": [float(v)]}
                for c, v in ROW.items()
            ]},
            timeout=10,
        )  # fmt: skip
        assert direct.status_code == 200

        def records() -> list[dict[str, object]]:
            return read_predictions(shadowed.log_dir)

        wait_for(
            lambda: sum(1 for r in records() if r.get("shadow")) == 2, "two shadow records", 30
        )
        by = {(r["id"], r["shadow"]): r for r in records()}
        copy = by[("sh-1", True)]
        assert copy["variant"] == "challenger" and copy["status"] == 200
        assert copy["version"] == int(challenger.split(":")[1]) and copy["outputs"] == [7.0]
        assert copy["sticky_key"] == "s-1" and copy["experiment_id"] == "exp-1"
        assert by[("sh-1", False)]["variant"] == "champion"
        broke = by[("sh-2", True)]
        assert broke["status"] == 500 and "the challenger broke" in str(broke["error"])
        assert ("sh-3", True) not in by
        # The shadow is not counted as a request answered.
        metrics = httpx.get(f"{shadowed.url}/metrics").text
        assert f'version="{challenger.split(":")[1]}"' not in metrics
    finally:
        shadowed.stop()


def test_shadow_copies_predicted_together_are_split_back_per_request(
    models_workspace: Workspace, tmp_path: Path
) -> None:
    """Copies that gather while the shadow thread waits are predicted in one call; each
    request's record gets its own rows back."""
    import asyncio

    from jupyter_mlops.serving.predlog import PredictionLog

    ws = models_workspace
    spec = ab_spec(ws, tmp_path, weights=(100.0, 0.0), shadow=True)
    log = PredictionLog(tmp_path / "predictions", fsync_interval=0)
    server = ModelServer(spec, prediction_log=log)
    batches = [
        [{**ROW, "tenure": t} for t in range(1, 4)],
        [ROW],
        [{**ROW, "spend": 10.0 * s} for s in range(1, 3)],
    ]

    async def send() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=server.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ab") as client:
            return [
                await client.post(
                    "/invocations",
                    json={"dataframe_records": rows},
                    headers={"x-request-id": f"t-{i}"},
                )
                for i, rows in enumerate(batches)
            ]

    answers = asyncio.run(send())
    assert [r.headers["x-variant"] for r in answers] == ["champion"] * 3

    def copies() -> dict[str, dict[str, object]]:
        return {r["id"]: r for r in read_predictions(tmp_path / "predictions") if r.get("shadow")}

    wait_for(lambda: len(copies()) == 3, "three shadow records", 30)
    for i, rows in enumerate(batches):
        record = copies()[f"t-{i}"]
        assert record["rows"] == len(rows) and record["variant"] == "challenger"
        np.testing.assert_allclose(record["outputs"], predict_proba(ws, "churn:2", rows))
    log.close()


# -- weights change without downtime ---------------------------------------------------------------


@pytest.mark.slow
def test_weights_change_under_load_without_a_dropped_request(models_workspace: Workspace) -> None:
    ws = models_workspace
    d = ws.deployments.deploy("churn:1", name="ab-live")
    seen: Counter[tuple[str, str]] = Counter()
    failures: list[str] = []
    stop = threading.Event()

    def load() -> None:
        with httpx.Client(timeout=10) as client:
            i = 0
            while not stop.is_set():
                i += 1
                try:
                    # The header, not a column: a deployment without an experiment takes
                    # it too (a user_id column would be an unknown input there).
                    r = client.post(
                        f"{d.url}/invocations",
                        json={"dataframe_records": [ROW]},
                        headers={"x-sticky-key": f"u{i % 50}"},
                    )
                    if r.status_code != 200:
                        failures.append(f"{r.status_code} {r.text}")
                    else:
                        seen[(r.headers.get("x-variant", "-"), r.headers["x-model-version"])] += 1
                except httpx.HTTPError as exc:
                    failures.append(repr(exc))

    def split(champion: float) -> RouteRequest:
        return RouteRequest(
            experiment_id="exp-live",
            variants=[
                VariantRequest(variant="champion", model="churn:1", weight=champion),
                VariantRequest(variant="challenger", model="churn:2", weight=100 - champion),
            ],
            sticky_key="user_id",
        )

    threads = [threading.Thread(target=load) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        time.sleep(0.3)
        started = ws.deployments.route("ab-live", split(90))
        assert [(s.version, s.weight) for s in started.serving] == [(1, 90.0), (2, 10.0)]
        time.sleep(0.5)
        moved = ws.deployments.route("ab-live", split(50))
        assert moved.generation == 3
        rules = ws.deployments.routing("ab-live")
        assert rules is not None and rules.variants == {
            "champion": "churn:1",
            "challenger": "churn:2",
        }
        time.sleep(0.5)
        ended = ws.deployments.update("ab-live", "churn:2")
        time.sleep(0.3)
    finally:
        stop.set()
        for t in threads:
            t.join()
    try:
        assert failures == []
        assert seen[("-", "churn:1")] > 0 and seen[("champion", "churn:1")] > 0
        assert seen[("challenger", "churn:2")] > 0 and seen[("-", "churn:2")] > 0
        assert ended.generation == 4 and ws.deployments.routing("ab-live") is None
        # Mistakes are refused before anything changes.
        with pytest.raises(InvalidInput, match="add up to 110"):
            ws.deployments.route(
                "ab-live",
                RouteRequest(
                    experiment_id="x",
                    variants=[
                        VariantRequest(variant="champion", model="churn:1", weight=100),
                        VariantRequest(variant="challenger", model="churn:2", weight=10),
                    ],
                ),
            )
        with pytest.raises(NotFound):
            ws.deployments.route(
                "ab-live",
                RouteRequest(
                    experiment_id="x",
                    variants=[
                        VariantRequest(variant="champion", model="churn:1", weight=90),
                        VariantRequest(variant="challenger", model="churn:99", weight=10),
                    ],
                ),
            )
        assert ws.deployments.get("ab-live").generation == 4
    finally:
        ws.deployments.stop("ab-live")
