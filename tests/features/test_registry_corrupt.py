"""A damaged feature registry file names itself and the way out (issue 9).

Cut short, not JSON, not UTF-8, wrong types or an invalid definition: every read of the registry
is a ``BackendUnavailable`` (503 over REST: the request is not at fault, where pydantic's error
was answered as a 400 about the request body) naming the file, with a hint; the CLI prints it
without a traceback; ``apply`` refuses and leaves the file as it is for repair; what does not need
the registry (the monitoring's stale-view check, say) keeps working.
"""

from __future__ import annotations

import json

import pytest

from jupyter_mlops import Workspace
from jupyter_mlops.errors import BackendUnavailable
from jupyter_mlops.features import Entity, FeatureStore, FeatureView
from tests.helpers import Cli


def registry_text(store: FeatureStore, customer: Entity, spend_view: FeatureView) -> str:
    store.apply([customer, spend_view])
    return store.registry.path.read_text()


def damage(text: str, how: str) -> bytes:
    data = json.loads(text)
    if how == "truncated":
        return text[: len(text) // 2].encode()
    if how == "not_json":
        return b"<<<<<<< HEAD\n" + text.encode()
    if how == "not_utf8":
        return text.replace("customer_spend", "customer_\xe9pend").encode("latin-1")
    if how == "wrong_type":
        data["views"] = ["customer_spend"]
    elif how == "bad_definition":
        data["views"]["customer_spend"][0]["definition"]["features"][0]["dtype"] = "float128"
    return json.dumps(data).encode()


HOWS = ["truncated", "not_json", "not_utf8", "wrong_type", "bad_definition"]


@pytest.mark.parametrize("how", HOWS)
def test_a_damaged_registry_names_the_file_and_the_way_out(
    store: FeatureStore, customer: Entity, spend_view: FeatureView, how: str
) -> None:
    path = store.registry.path
    path.write_bytes(damage(registry_text(store, customer, spend_view), how))
    with pytest.raises(BackendUnavailable) as err:
        store.view_list()
    assert str(path) in err.value.message
    assert err.value.status == 503
    assert err.value.hint is not None and "features apply" in err.value.hint
    assert "backup" in err.value.hint


def test_apply_refuses_and_keeps_the_file_for_repair(
    store: FeatureStore, customer: Entity, spend_view: FeatureView
) -> None:
    path = store.registry.path
    damaged = damage(registry_text(store, customer, spend_view), "truncated")
    path.write_bytes(damaged)
    renamed = spend_view.model_copy(update={"owner": "someone else"})
    with pytest.raises(BackendUnavailable, match="is not a valid registry"):
        store.apply([customer, renamed])
    assert path.read_bytes() == damaged
    # Moved aside as the hint says, apply starts a new registry.
    path.rename(path.with_suffix(".json.damaged"))
    assert [c.action for c in store.apply([customer, spend_view]).changes] == ["create", "create"]


def test_the_cli_prints_the_error_without_a_traceback(
    workspace: Workspace,
    customer: Entity,
    spend_view: FeatureView,
    capsys: pytest.CaptureFixture[str],
) -> None:
    store = workspace.features
    path = store.registry.path
    path.write_bytes(damage(registry_text(store, customer, spend_view), "wrong_type"))
    cli = Cli(workspace.root, capsys)
    for command in (["features", "list"], ["features", "show", "customer_spend"]):
        code, out, err = cli(*command)
        assert code == 1, (out, err)
        assert "Traceback" not in err
        assert f"error: The feature registry {path} is not a valid registry" in err
        assert "hint: Restore the file" in err


def test_every_entry_point_raises_the_error_the_other_services_catch(
    store: FeatureStore, customer: Entity, spend_view: FeatureView
) -> None:
    # Monitoring's stale-view check and pipeline triggers read views inside `except MlopsError`
    # and carry on: a damaged registry is now one of those (pydantic's ValidationError was not,
    # and failed their whole check).
    path = store.registry.path
    path.write_bytes(damage(registry_text(store, customer, spend_view), "not_json"))
    calls = [
        lambda: store.stats("customer_spend"),
        lambda: store.get_view("customer_spend"),
        lambda: store.get_online_features(["customer_spend:orders"], [{"customer_id": 1}]),
        lambda: store.materialize(),
        lambda: store.training_snippet(["customer_spend:orders"]),
    ]
    for call in calls:
        with pytest.raises(BackendUnavailable, match="feature registry"):
            call()
