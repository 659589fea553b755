"""A Python transform's stored file runs only inside the workspace (issue 9).

In another process than the one that applied it (the Jupyter server answering a stats GET, the
CLI) a transform's stored source runs with the globals of the file it was defined in, and that
file is run first. The registry stores a path inside the workspace; one written there by hand (or
by anything else) that leaves the workspace, through ``..``, as an absolute path or through a
symlink, is refused with an error naming the view and the path, and nothing is run.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from jupyter_mlops.errors import InvalidInput
from jupyter_mlops.features import FeatureStore, transforms
from tests.helpers import ts

DEFINITIONS = """
from jupyter_mlops.features import Entity, FeatureView, Field, ParquetSource

customer = Entity("customer", ["customer_id"])


def per_order(df):
    return df.assign(avg_spend=df["spend"] / df["n"])


spend = FeatureView(
    name="spend",
    entities=[customer],
    source=ParquetSource(path="data/raw.parquet"),
    features=[Field("avg_spend", "float64")],
    transform=per_order,
)
"""

# Run, it leaves a mark next to itself: the test checks that it never runs.
OUTSIDE = """
from pathlib import Path

Path(__file__).with_suffix(".ran").write_text("ran")
"""


@pytest.fixture
def applied(store: FeatureStore) -> FeatureStore:
    root = store.root
    (root / "data").mkdir()
    pd.DataFrame(
        {
            "customer_id": [1, 2],
            "event_timestamp": ts("2026-01-01", "2026-01-02"),
            "spend": [10.0, 30.0],
            "n": [1, 3],
        }
    ).to_parquet(root / "data" / "raw.parquet")
    (root / "features").mkdir()
    (root / "features" / "spend.py").write_text(textwrap.dedent(DEFINITIONS))
    store.apply()
    transform = store.get_view("spend").definition.transform
    assert transform is not None and transform.file == "features/spend.py"
    return store


def point_transform_at(store: FeatureStore, file: str) -> None:
    """Edit the registry file as something other than ``apply`` could; forget the functions
    seen in this process, as another process would not have them."""
    path = store.registry.path
    data = json.loads(path.read_text())
    data["views"]["spend"][-1]["definition"]["transform"]["file"] = file
    path.write_text(json.dumps(data))
    transforms._FUNCTIONS.clear()


def outside_file(tmp_path: Path) -> Path:
    path = tmp_path / "outside.py"
    path.write_text(textwrap.dedent(OUTSIDE))
    return path


@pytest.mark.parametrize("how", ["dotdot", "absolute", "symlink"])
def test_a_stored_path_out_of_the_workspace_is_refused_and_not_run(
    applied: FeatureStore, tmp_path: Path, how: str
) -> None:
    outside = outside_file(tmp_path)
    root = applied.root
    if how == "dotdot":
        stored = "../outside.py"
        assert (root / stored).resolve() == outside.resolve()
    elif how == "absolute":
        stored = str(outside)
    else:
        (root / "features" / "link.py").symlink_to(outside)
        stored = "features/link.py"
    point_transform_at(applied, stored)
    with pytest.raises(InvalidInput) as err:
        applied.stats("spend")  # what GET .../views/spend/stats runs in the Jupyter server
    assert "spend:v1" in err.value.message
    assert f"'{stored}'" in err.value.message
    assert "outside the workspace" in err.value.message
    assert err.value.field == "transform"
    assert not outside.with_suffix(".ran").exists()


def test_a_stored_path_inside_the_workspace_still_runs(applied: FeatureStore) -> None:
    point_transform_at(applied, "features/spend.py")
    assert applied.stats("spend").row_count == 2


def test_apply_keeps_no_path_that_leaves_the_workspace(
    applied: FeatureStore, tmp_path: Path
) -> None:
    outside = outside_file(tmp_path)
    view = applied.get_view("spend").definition
    assert view.transform is not None
    for given in (str(outside), "../outside.py"):
        moved = view.transform.model_copy(update={"file": given})
        resolved = applied.registry._resolve_view(
            view.model_copy(update={"transform": moved}), applied.registry.entities()
        )
        assert resolved.transform is not None and resolved.transform.file is None
