"""The model registry on a real MLflow store: register, lineage, aliases, gates, profiles."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from jupyter_mlops import Workspace
from jupyter_mlops.errors import InvalidInput, NotFound
from jupyter_mlops.registry import parse_model_ref
from jupyter_mlops.registry.gates import parse_gate
from tests.conftest import log_model_run


def test_register_records_lineage_and_signature(workspace: Workspace) -> None:
    run_id = log_model_run(workspace, metrics={"roc_auc": 0.9})
    MlflowClient(workspace.tracking_uri).update_run(run_id, name="logreg-small")
    # The run is named by its name: the version records its id.
    version = workspace.registry.register("logreg-small", "churn", aliases=["champion"])
    assert (version.name, version.version, version.aliases) == ("churn", 1, ["champion"])
    assert version.run_id == run_id
    assert version.tags["mlops.run_id"] == run_id
    assert version.lineage is not None
    assert version.lineage.params == {"C": "1.0"}
    assert version.lineage.metrics["roc_auc"] == pytest.approx(0.9)
    assert version.lineage.experiment_name == "churn"
    assert version.signature is not None
    assert [c["name"] for c in version.signature["inputs"]] == ["tenure", "spend", "calls"]
    assert workspace.registry.resolve("churn@champion").version == 1
    assert (workspace.registry.model_path("churn:1") / "MLmodel").is_file()


def test_a_run_without_a_model_is_refused_with_the_fix(workspace: Workspace) -> None:
    with workspace.tracking.start_run("churn") as rec:
        rec.log_metric("roc_auc", 0.5)
    with pytest.raises(InvalidInput, match="logged no model") as info:
        workspace.registry.register(rec.run_id, "churn")
    assert "log_model" in (info.value.hint or "")
    assert workspace.registry.list_models() == []


def test_unknown_run_model_alias_and_version(models_workspace: Workspace) -> None:
    registry = models_workspace.registry
    with pytest.raises(NotFound):
        registry.register("0" * 32, "churn")
    with pytest.raises(NotFound, match="No registered model named 'chrun'") as info:
        registry.resolve("chrun")
    assert "churn" in (info.value.hint or "")
    with pytest.raises(NotFound, match="no alias @prod") as info:
        registry.resolve("churn@prod")
    assert "@champion" in (info.value.hint or "")
    # A typo of a held alias is pointed at the alias, not offered to be created.
    with pytest.raises(NotFound, match="no alias @champoin") as info:
        registry.resolve("churn@champoin")
    assert (info.value.hint or "").startswith("Did you mean @champion? Aliases of churn:")
    assert "promote" not in (info.value.hint or "")
    with pytest.raises(NotFound, match="Run 'logreg-big' does not exist"):
        registry.register("logreg-big", "churn")
    with pytest.raises(NotFound, match="no version 9") as info:
        registry.resolve("churn:9")
    assert "latest version is 2" in (info.value.hint or "")
    with pytest.raises(InvalidInput):
        registry.resolve("churn@@x")


def test_model_listing_versions_metrics_and_aliases(models_workspace: Workspace) -> None:
    registry = models_workspace.registry
    [model] = registry.list_models()
    assert (model.name, model.latest_version, model.aliases) == ("churn", 2, {"champion": 1})
    detail = registry.get_model("churn")
    assert [v.version for v in detail.version_list] == [2, 1]
    assert detail.version_list[1].aliases == ["champion"]
    assert detail.version_list[0].metrics["roc_auc"] == pytest.approx(0.85)
    assert registry.compare("churn", [1, 2]) == {
        1: {"roc_auc": pytest.approx(0.80), "log_loss": pytest.approx(0.45)},
        2: {"roc_auc": pytest.approx(0.85), "log_loss": pytest.approx(0.40)},
    }


def test_promotion_gates(workspace: Workspace) -> None:
    registry = workspace.registry
    first = log_model_run(workspace, metrics={"roc_auc": 0.80, "log_loss": 0.45})
    second = log_model_run(workspace, metrics={"roc_auc": 0.78, "log_loss": 0.40})
    registry.register(first, "churn")
    registry.register(second, "churn")
    # Nobody holds @champion yet: a gate against it passes and says why.
    result = registry.promote("churn", 1, "champion", require=["roc_auc>=champion"])
    assert result.promoted and "nothing to beat" in result.gates[0].message
    # v2 is worse on roc_auc: refused, by how much, and the alias stays.
    result = registry.promote(
        "churn", 2, "champion", require=["roc_auc>=champion", "log_loss<=champion"]
    )
    assert not result.promoted
    failed = result.gates[0]
    assert not failed.passed and failed.difference == pytest.approx(-0.02)
    assert "0.78" in failed.message and "0.8" in failed.message and "off by 0.02" in failed.message
    assert result.gates[1].passed
    assert registry.resolve("churn@champion").version == 1
    # A gate against an alias nobody holds passes; against a typo of a held one it is refused
    # (it would pass unseen) and nothing moves.
    assert registry.promote("churn", 1, "champion", require=["roc_auc>=challenger"]).promoted
    with pytest.raises(InvalidInput, match="compares with @champoin") as info:
        registry.promote("churn", 2, "champion", require=["roc_auc>=champoin"])
    assert "Did you mean @champion?" in (info.value.hint or "")
    assert registry.resolve("churn@champion").version == 1
    # A threshold gate, and an unknown metric.
    assert registry.promote("churn", 2, "challenger", require=["roc_auc > 0.7"]).promoted
    result = registry.promote("churn", 2, "champion", require=["f1>=0.5"])
    assert not result.promoted and "no metric 'f1'" in result.gates[0].message
    # Gates are parsed before anything is read.
    with pytest.raises(InvalidInput, match="not a gate"):
        registry.promote("churn", 2, "champion", require=["roc_auc ~ 1"])
    with pytest.raises(InvalidInput, match="cannot be an alias"):
        registry.promote("churn", 2, "v3")


def test_reference_profile_from_training_data(workspace: Workspace) -> None:
    frame = pd.DataFrame(
        {
            "tenure": pd.array([1, 2, 3, None] * 25, dtype="Int64"),
            "plan": ["a", "b", "b", "c"] * 25,
        }
    )
    run_id = log_model_run(workspace)
    version = workspace.registry.register(run_id, "churn", training_data=frame)
    assert version.has_profile
    profile = workspace.registry.profile("churn:1")
    tenure, plan = profile.features
    assert (tenure.kind, tenure.count, tenure.null_rate) == ("numeric", 100, 0.25)
    assert tenure.quantiles is not None and tenure.quantiles[0] == 1 and tenure.quantiles[-1] == 3
    assert (tenure.edges, tenure.cumulative, tenure.exact) == ([1, 2, 3], [25, 50, 75], True)
    assert profile.format == 2
    assert plan.kind == "categorical" and plan.categories == {"b": 0.5, "a": 0.25, "c": 0.25}
    second = workspace.registry.register(log_model_run(workspace), "churn")
    assert not second.has_profile
    with pytest.raises(NotFound, match="no reference profile"):
        workspace.registry.profile("churn:2")


def test_references_and_gates_parse() -> None:
    assert str(parse_model_ref("churn@champion")) == "churn@champion"
    assert parse_model_ref("churn:v3").version == 3
    assert parse_model_ref("churn/3").version == 3
    assert parse_model_ref("churn").version is None
    gate = parse_gate("roc_auc >= champion")
    assert (gate.metric, gate.op, gate.alias, gate.threshold) == ("roc_auc", ">=", "champion", None)
    assert parse_gate("log_loss<0.4").threshold == 0.4


def test_register_does_not_depend_on_mlflows_global_tracking_uri(
    workspace: Workspace, tmp_path: Path
) -> None:
    """In a Jupyter server MLflow's global tracking URI is not the workspace's store."""
    import mlflow
    from mlflow.tracking._tracking_service import utils

    run_id = log_model_run(workspace)
    previous = getattr(utils, "_tracking_uri", None)
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'elsewhere.db'}")
    try:
        version = workspace.registry.register(run_id, "churn")
        assert version.version == 1 and version.signature is not None
        assert (workspace.registry.model_path("churn:1") / "MLmodel").is_file()
    finally:
        utils._tracking_uri = previous
