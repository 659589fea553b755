"""Definitions, plan/apply, versions, diffs and feature references."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from jupyter_mlops import Workspace
from jupyter_mlops.errors import InvalidInput, NotFound
from jupyter_mlops.features import (
    CsvSource,
    Entity,
    FeatureStore,
    FeatureView,
    Field,
    ParquetSource,
)
from jupyter_mlops.features.definitions import format_ttl, parse_ttl
from jupyter_mlops.features.registry import fingerprint, versioned_content
from jupyter_mlops.lineage import FeatureRef


def test_ttl_forms() -> None:
    assert parse_ttl("30d") == timedelta(days=30)
    assert parse_ttl("12h") == timedelta(hours=12)
    assert parse_ttl("90m") == timedelta(minutes=90)
    assert parse_ttl(" 2W ") == timedelta(weeks=2)
    assert parse_ttl(timedelta(seconds=5)) == timedelta(seconds=5)
    assert parse_ttl(None) is None
    assert format_ttl(timedelta(minutes=90)) == "90m"
    assert format_ttl(timedelta(days=14)) == "14d"


@pytest.mark.parametrize("bad", ["30 days", "d30", "1.5h", "-3d", "0h", 7])
def test_unparseable_ttl_names_the_view_and_field(bad: object, customer: Entity) -> None:
    with pytest.raises(InvalidInput, match="FeatureView 'v'") as err:
        FeatureView(name="v", entities=[customer], features=[Field("x", "int64")], ttl=bad)
    assert err.value.field == "ttl"


def test_unknown_dtype_names_the_field() -> None:
    with pytest.raises(InvalidInput, match="Field 'spend': Unknown dtype 'int32'") as err:
        Field("spend", "int32")
    assert err.value.field == "spend.dtype"
    assert "int64, float64, bool, string, timestamp" in (err.value.hint or "")


def test_bad_definitions(customer: Entity) -> None:
    with pytest.raises(InvalidInput, match="unknown argument 'ttl_days'"):
        FeatureView(name="v", entities=[customer], features=[Field("x")], ttl_days=3)
    with pytest.raises(InvalidInput, match="feature names repeat: x"):
        FeatureView(name="v", entities=[customer], features=[Field("x"), Field("x")])
    with pytest.raises(InvalidInput, match="'name'"):
        FeatureView(name="has space", entities=[customer], features=[Field("x")])


def test_plan_writes_nothing_and_apply_writes_v1(
    store: FeatureStore, customer: Entity, spend_view: FeatureView
) -> None:
    plan = store.plan([customer, spend_view])
    assert [(c.kind, c.name, c.action, c.version) for c in plan.changes] == [
        ("entity", "customer", "create", None),
        ("view", "customer_spend", "create", 1),
    ]
    assert "+ feature orders: int64" in str(plan)
    assert not store.registry.path.exists()
    applied = store.apply([spend_view])  # the entity comes with the view
    assert applied.has_changes
    v1 = store.get_view("customer_spend")
    assert v1.version == 1 and v1.label == "customer_spend:v1"
    assert v1.join_keys == ["customer_id"]
    assert v1.fingerprint == fingerprint(versioned_content(spend_view, {"customer": customer}))
    again = store.plan([customer, spend_view])
    assert not again.has_changes
    assert "No changes." in str(again)


def test_changes_make_versions_and_old_ones_stay_readable(
    store: FeatureStore, customer: Entity, spend_view: FeatureView
) -> None:
    store.apply([spend_view])
    v1_print = store.get_view("customer_spend").fingerprint
    # Metadata only: same version, updated in place.
    relabelled = spend_view.model_copy(update={"description": "spend", "tags": {"team": "x"}})
    plan = store.apply([relabelled])
    assert [(c.action, c.version) for c in plan.changes if c.kind == "view"] == [
        ("update_metadata", 1)
    ]
    assert store.get_view("customer_spend").definition.description == "spend"
    # A schema change: v2.
    features = [Field("orders", "float64"), *spend_view.features[1:3], Field("refunds", "float64")]
    changed = relabelled.model_copy(update={"features": features, "ttl": timedelta(days=7)})
    plan = store.plan([changed])
    view_change = next(c for c in plan.changes if c.kind == "view")
    assert view_change.action == "new_version" and view_change.version == 2
    store.apply([changed])
    assert [v.version for v in store.versions("customer_spend")] == [1, 2]
    v1 = store.get_view("customer_spend", "v1")
    assert v1.fingerprint == v1_print
    assert v1.definition.feature("orders").dtype == "int64"
    assert store.get_view("customer_spend").definition.feature("orders").dtype == "float64"
    diff = store.diff("customer_spend", 1, "v2")
    assert "~ feature orders: int64 -> float64" in diff
    assert "+ feature refunds: float64" in diff
    assert "- feature segment: string" in diff
    assert "~ ttl: 30d -> 7d" in diff
    # A source change: v3. Applying the same thing twice does nothing.
    moved = changed.model_copy(update={"source": ParquetSource(path="data/spend.parquet")})
    store.apply([moved])
    assert store.apply([moved]).has_changes is False
    assert store.get_view("customer_spend").version == 3
    assert store.diff("customer_spend", 2, 3) == [
        '~ source: none -> {"kind": "parquet", "path": "data/spend.parquet"}'
    ]


def test_entity_join_key_change_versions_its_views(
    store: FeatureStore, customer: Entity, spend_view: FeatureView
) -> None:
    store.apply([spend_view])
    renamed = Entity("customer", ["cust_id"])
    plan = store.apply([renamed, spend_view.model_copy(update={"entities": ["customer"]})])
    assert [(c.kind, c.action) for c in plan.changes] == [
        ("entity", "update"),
        ("view", "new_version"),
    ]
    assert store.get_view("customer_spend").join_keys == ["cust_id"]
    assert store.get_view("customer_spend", 1).join_keys == ["customer_id"]
    assert any("entities" in line for line in store.diff("customer_spend", 1, 2))


def test_registry_file_is_json_and_replaced_atomically(
    store: FeatureStore, spend_view: FeatureView
) -> None:
    store.apply([spend_view])
    data = json.loads(store.registry.path.read_text())
    assert data["format"] == 1
    assert list(data["views"]) == ["customer_spend"]
    names = sorted(p.name for p in store.registry.path.parent.iterdir())
    assert names == ["registry.json", "registry.lock"]  # no temporary file left behind


def test_plan_errors(store: FeatureStore, customer: Entity, spend_view: FeatureView) -> None:
    orphan = FeatureView(name="orphan", entities=["custmer"], features=[Field("x")])
    with pytest.raises(InvalidInput, match="entity 'custmer'") as err:
        store.plan([customer, orphan])
    assert "customer" in (err.value.hint or "")
    clash = FeatureView(name="clash", entities=[customer], features=[Field("customer_id")])
    with pytest.raises(InvalidInput, match="name of a join key"):
        store.plan([clash])
    other = spend_view.model_copy(update={"owner": "someone else"})
    with pytest.raises(InvalidInput, match="Two different FeatureView definitions"):
        store.plan([spend_view, other])
    with pytest.raises(InvalidInput, match="not an Entity or a FeatureView"):
        store.plan(["customer"])  # type: ignore[list-item]


def test_references(store: FeatureStore, spend_view: FeatureView) -> None:
    assert FeatureRef.parse("v:x") == FeatureRef("v", "x")
    assert FeatureRef.parse("v:v2:x") == FeatureRef("v", "x", 2)
    assert str(FeatureRef.parse("v:v2:x")) == "v:v2:x"
    for bad in ["v", "v:x:y:z", "v::x", ""]:
        with pytest.raises(InvalidInput, match="malformed"):
            FeatureRef.parse(bad)
    store.apply([spend_view])
    store.apply([spend_view.model_copy(update={"features": [Field("orders", "int64")]})])
    resolved = store.resolve(["customer_spend:v1:segment", "customer_spend:orders"])
    assert [(r.view.label, [f.name for f in r.features]) for r in resolved] == [
        ("customer_spend:v1", ["segment"]),
        ("customer_spend:v2", ["orders"]),
    ]
    assert resolved[0].refs() == ["customer_spend:v1:segment"]
    star = store.resolve(["customer_spend:v1:*"])
    assert [f.name for f in star[0].features] == ["orders", "avg_spend", "is_vip", "segment"]


def test_unknown_names_list_close_ones(store: FeatureStore, spend_view: FeatureView) -> None:
    store.apply([spend_view])
    with pytest.raises(NotFound, match="'customer_spnd'") as err:
        store.resolve(["customer_spnd:orders"])
    assert err.value.hint == "Did you mean customer_spend?"
    with pytest.raises(NotFound, match="Feature 'order' is not in customer_spend:v1") as err:
        store.resolve(["customer_spend:order"])
    assert "orders" in (err.value.hint or "")
    with pytest.raises(NotFound, match="no version v7") as err:
        store.resolve(["customer_spend:v7:orders"])
    assert err.value.hint == "Versions of customer_spend: v1."
    with pytest.raises(NotFound):
        store.get_view("nope")
    with pytest.raises(InvalidInput, match="asked for twice"):
        store.resolve(["customer_spend:orders", "customer_spend:v1:orders"])
    with pytest.raises(InvalidInput, match="not a version number"):
        store.diff("customer_spend", "latest", 1)


def test_definitions_from_workspace_files(store: FeatureStore) -> None:
    folder = store.root / "features"
    folder.mkdir()
    (folder / "customers.py").write_text(
        "from jupyter_mlops.features import Entity, FeatureView, Field\n"
        "customer = Entity('customer', ['customer_id'])\n"
        "views = [FeatureView(name='a', entities=[customer], features=[Field('x', 'int64')])]\n"
    )
    (folder / "_helpers.py").write_text("raise RuntimeError('never run')\n")
    plan = store.apply()
    assert [c.name for c in plan.changes] == ["customer", "a"]
    assert [v.name for v in store.list_views()] == ["a"]
    (folder / "broken.py").write_text(
        "from jupyter_mlops.features import FeatureView, Field\n"
        "v = FeatureView(name='b', entities=['customer'], features=[Field('x')], ttl='soon')\n"
    )
    with pytest.raises(InvalidInput, match=r"broken.py: FeatureView 'b': TTL 'soon'"):
        store.plan()
    (folder / "broken.py").write_text("1 / 0\n")
    with pytest.raises(InvalidInput, match=r"broken\.py failed to run: ZeroDivisionError"):
        store.plan()


def test_a_bare_source_path_picks_the_format(customer: Entity) -> None:
    def view(source: object) -> FeatureView:
        return FeatureView(name="v", entities=[customer], features=[Field("x")], source=source)

    assert view("data/x.CSV").source == CsvSource(path="data/x.CSV")
    assert view("data/parts").source == ParquetSource(path="data/parts")
    with pytest.raises(InvalidInput, match="'source'"):
        view(3)


def test_concurrent_applies_get_consecutive_versions(
    store: FeatureStore, spend_view: FeatureView
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    views = [spend_view.model_copy(update={"ttl": timedelta(days=d)}) for d in range(1, 9)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda v: Workspace.open(store.root).features.apply([v]), views))
    versions = store.versions("customer_spend")
    assert [v.version for v in versions] == list(range(1, 9))
    assert len({v.fingerprint for v in versions}) == 8
