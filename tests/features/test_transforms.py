"""Python transforms of feature views: applied on read, versioned by source, checked at plan."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from jupyter_mlops.errors import InvalidInput
from jupyter_mlops.features import (
    Entity,
    FeatureStore,
    FeatureView,
    Field,
    ParquetSource,
    transforms,
)
from tests.helpers import spend_rows, ts


def doubled(df: pd.DataFrame) -> pd.DataFrame:
    return df.assign(avg_spend=df["avg_spend"] * 2)


def per_order(df: pd.DataFrame) -> pd.DataFrame:
    # Computes a feature from two source columns that are not features themselves.
    out = df.assign(avg_spend=df["spend"] / df["n"])
    return out[["customer_id", "event_timestamp", "avg_spend"]]


def not_a_frame(df: pd.DataFrame) -> object:
    return df.to_dict()


def forgets_the_feature(df: pd.DataFrame) -> pd.DataFrame:
    return df.assign(total=df["spend"])


def keys_in_index(df: pd.DataFrame) -> pd.DataFrame:
    return df.set_index("customer_id")


def fails(df: pd.DataFrame) -> pd.DataFrame:
    raise ValueError("no spend column today")


@pytest.fixture(autouse=True)
def forget_functions() -> Iterator[None]:
    """Each test starts as a new process would: no function objects remembered."""
    saved = dict(transforms._FUNCTIONS)
    transforms._FUNCTIONS.clear()
    yield
    transforms._FUNCTIONS.clear()
    transforms._FUNCTIONS.update(saved)


@pytest.fixture
def source(store: FeatureStore) -> str:
    """A Parquet source with raw columns: spend and n (orders); avg_spend = spend / n."""
    raw = pd.DataFrame(
        {
            "customer_id": [1, 1, 2],
            "event_timestamp": ts("2026-01-01", "2026-01-10", "2026-01-05"),
            "spend": [10.0, 60.0, 70.0],
            "n": [1, 3, 7],
        }
    )
    path = store.root / "data" / "raw.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    raw.to_parquet(path)
    return "data/raw.parquet"


def view_with(customer: Entity, source: str | None, transform: object) -> FeatureView:
    return FeatureView(
        name="spend",
        entities=[customer],
        source=ParquetSource(path=source) if source else None,
        features=[Field("avg_spend", "float64")],
        transform=transform,
    )


def entities() -> pd.DataFrame:
    return pd.DataFrame(
        {"customer_id": [1, 1, 2], "event_timestamp": ts("2026-01-05", "2026-01-12", "2026-01-06")}
    )


def test_a_python_transform_computes_features_from_source_columns(
    store: FeatureStore, customer: Entity, source: str
) -> None:
    view = view_with(customer, source, per_order)
    plan = store.plan([customer, view])
    assert "+ transform: Python function per_order" in str(plan)
    store.apply([customer, view])
    stored = store.get_view("spend")
    assert stored.definition.transform is not None
    assert stored.definition.transform.source.startswith("def per_order(df")
    assert "# Computes" not in stored.definition.transform.source  # normalised: no comments
    assert stored.source_text() == "Parquet data/raw.parquet, through Python function per_order"
    out = store.get_training_frame(entities(), ["spend:avg_spend"])
    assert out["avg_spend"].tolist() == [10.0, 20.0, 10.0]
    # The same through materialization and statistics, which read the view the same way.
    store.materialize(["spend"], end=pd.Timestamp("2026-02-01").to_pydatetime())
    online = store.get_online_features_dict(["spend:avg_spend"], [{"customer_id": 1}])
    assert online["avg_spend"] == [20.0]
    assert store.stats("spend").features[0].max == 20.0


def test_both_transforms_or_a_non_function_are_refused(customer: Entity) -> None:
    with pytest.raises(InvalidInput, match="both transform_sql and a Python transform") as err:
        FeatureView(
            name="v",
            entities=[customer],
            features=[Field("avg_spend", "float64")],
            transform=doubled,
            transform_sql="SELECT * FROM source",
        )
    assert err.value.field == "transform"
    with pytest.raises(InvalidInput, match="cannot be a lambda"):
        view_with(customer, None, lambda df: df)
    with pytest.raises(InvalidInput, match="must be a Python function, not str"):
        view_with(customer, None, "SELECT 1")

    def outer(factor: float) -> object:
        def scaled(df: pd.DataFrame) -> pd.DataFrame:
            return df * factor

        return scaled

    with pytest.raises(InvalidInput, match=r"enclosing function \(factor\)"):
        view_with(customer, None, outer(2.0))

    def two_args(df: pd.DataFrame, other: pd.DataFrame) -> pd.DataFrame:
        return df

    with pytest.raises(InvalidInput, match="cannot be called with one DataFrame"):
        view_with(customer, None, two_args)


@pytest.mark.parametrize(
    ("function", "message", "hint"),
    [
        (not_a_frame, "returned dict, not a pandas DataFrame", "Return the transformed frame"),
        (forgets_the_feature, r"without the column\(s\) avg_spend", "customer_id, event_timestamp"),
        (keys_in_index, r"without the column\(s\) customer_id", r"\.reset_index\(\)"),
        (fails, "failed: ValueError: no spend column today", "Fix the function"),
    ],
)
def test_a_bad_transform_fails_at_plan_and_nothing_is_written(
    store: FeatureStore,
    customer: Entity,
    source: str,
    function: object,
    message: str,
    hint: str,
) -> None:
    view = view_with(customer, source, function)
    for step in (store.plan, store.apply):
        with pytest.raises(InvalidInput, match=message) as err:
            step([customer, view])
        assert err.value.field == "transform"
        assert "spend:v1" in err.value.message
        assert err.value.hint is not None
        assert re.search(hint, err.value.hint)
    assert not store.registry.path.exists()


def test_an_ingested_view_reads_its_rows_through_the_transform(
    store: FeatureStore, customer: Entity
) -> None:
    view = view_with(customer, None, doubled)
    # Without rows the function cannot be checked yet, so plan passes.
    store.apply([customer, view])
    store.ingest("spend", spend_rows()[["customer_id", "event_timestamp", "avg_spend"]])
    out = store.get_training_frame(entities(), ["spend:avg_spend"])
    assert out["avg_spend"].tolist() == [20.0, 40.0, 140.0]


DEFINITIONS = """
import numpy as np
from jupyter_mlops.features import Entity, FeatureView, Field, ParquetSource

customer = Entity("customer", ["customer_id"])


def spend_per_order(df):
    return df.assign(avg_spend=np.round(df["spend"] / df["n"], 2))


spend = FeatureView(
    name="spend",
    entities=[customer],
    source=ParquetSource(path="data/raw.parquet"),
    features=[Field("avg_spend", "float64")],
    transform=spend_per_order,
)
"""


def write_definitions(root: Path, body: str) -> None:
    folder = root / "features"
    folder.mkdir(exist_ok=True)
    (folder / "spend.py").write_text(textwrap.dedent(body))


def test_changing_the_function_makes_a_version_and_old_versions_keep_their_code(
    store: FeatureStore, source: str
) -> None:
    root = store.root
    write_definitions(root, DEFINITIONS)
    assert [c.action for c in store.apply().changes] == ["create", "create"]
    v1 = store.get_view("spend", 1)
    assert v1.definition.transform is not None
    assert v1.definition.transform.file == "features/spend.py"

    # Formatting and comments are not code: no new version.
    reformatted = DEFINITIONS.replace(
        "    return df.assign(", "    # per order\n\n    return df.assign(  "
    )
    write_definitions(root, reformatted)
    assert [c.action for c in store.plan().changes] == ["unchanged", "unchanged"]

    changed = DEFINITIONS.replace('df["spend"] / df["n"]', '(df["spend"] / df["n"]) * 100')
    write_definitions(root, changed)
    plan = store.plan()
    view_change = plan.changes[1]
    assert (view_change.action, view_change.version) == ("new_version", 2)
    assert any("source changed" in line for line in view_change.diff)
    assert any(line.strip().startswith("+") and "* 100" in line for line in view_change.diff)
    store.apply()
    v2 = store.get_view("spend")
    assert v2.version == 2 and v2.fingerprint != v1.fingerprint
    assert "* 100" in "\n".join(store.diff("spend", 1, 2))

    # As in another process (the server, the CLI): no function objects, only stored source.
    # v1 is compiled from its stored code with the globals of the file (numpy as np).
    transforms._FUNCTIONS.clear()
    out = store.get_training_frame(entities(), ["spend:v1:avg_spend"])
    assert out["avg_spend"].tolist() == [10.0, 20.0, 10.0]
    out2 = store.get_training_frame(entities(), ["spend:v2:avg_spend"])
    assert out2["avg_spend"].tolist() == [1000.0, 2000.0, 1000.0]


def test_a_name_the_function_cannot_find_elsewhere_is_explained(
    store: FeatureStore, customer: Entity, source: str
) -> None:
    store.apply([customer, view_with(customer, source, per_order)])
    stored = store.get_view("spend")
    assert stored.definition.transform is not None
    # Lose both the function object and the module it came from, as in a process where the
    # notebook that defined it never ran.
    broken = stored.definition.transform.model_copy(update={"module": None, "file": None})
    source_code = broken.source.replace("df.assign(", "missing_helper(df).assign(")
    broken = broken.model_copy(update={"source": source_code})
    view = stored.model_copy(
        update={"definition": stored.definition.model_copy(update={"transform": broken})}
    )
    with pytest.raises(InvalidInput, match="NameError") as err:
        store.offline.latest_rows(view)
    assert err.value.hint is not None and "inside the function" in err.value.hint
