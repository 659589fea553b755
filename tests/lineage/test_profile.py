"""The reference profile: exact sketches for numbers, every level for categories, old files."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from jupyter_mlops.lineage import ReferenceProfile, profile_frame
from jupyter_mlops.lineage import profile as profile_module
from jupyter_mlops.lineage.profile import OutdatedProfile, require_current_format


def test_few_distinct_values_are_kept_exactly() -> None:
    frame = pd.DataFrame({"x": [3, 1, 2, 2, 3, 3, None, 1.0]})
    (x,) = profile_frame(frame).features
    assert x.exact and x.edges == [1, 2, 3] and x.cumulative == [2, 4, 7]
    assert (x.count, x.null_count, x.finite_count) == (8, 1, 7)
    assert x.null_rate == pytest.approx(1 / 8)


def test_continuous_sketch_has_exact_counts_at_its_edges() -> None:
    values = np.random.default_rng(0).normal(size=50_000)
    (x,) = profile_frame(pd.DataFrame({"x": values})).features
    edges, cumulative = np.array(x.edges), np.array(x.cumulative)
    assert not x.exact and len(edges) == 1001
    assert edges[0] == values.min() and edges[-1] == values.max()
    assert np.all(np.diff(edges) > 0)
    assert np.array_equal(cumulative, np.searchsorted(np.sort(values), edges, side="right"))
    assert cumulative[-1] == 50_000
    # The 21 quantiles stay, for whoever reads them.
    assert x.quantiles == pytest.approx(np.quantile(values, [i / 20 for i in range(21)]).tolist())


def test_a_point_mass_gets_a_cell_of_its_own() -> None:
    rng = np.random.default_rng(1)
    values = rng.uniform(0, 10, 20_000)
    values[rng.random(20_000) < 0.2] = 5.0  # a frequent exact value inside the range
    (x,) = profile_frame(pd.DataFrame({"x": values})).features
    edges, cumulative = np.array(x.edges), np.array(x.cumulative)
    at = int(np.flatnonzero(edges == 5.0)[0])
    assert edges[at - 1] == np.nextafter(5.0, -np.inf)
    assert cumulative[at] - cumulative[at - 1] == int((values == 5.0).sum())


def test_missing_and_infinite_values_are_counted_apart() -> None:
    values = [1.0, 2.0, np.inf, -np.inf, np.inf, np.nan, 3.0]
    (x,) = profile_frame(pd.DataFrame({"x": values})).features
    assert (x.null_count, x.posinf_count, x.neginf_count, x.finite_count) == (1, 2, 1, 3)
    assert (x.min, x.max, x.mean) == (1.0, 3.0, 2.0)
    assert x.edges == [1.0, 2.0, 3.0]


def test_categories_keep_every_level_with_counts() -> None:
    frame = pd.DataFrame({"plan": ["a"] * 5 + ["b"] * 3 + ["c"] + [None], "flag": [True] * 10})
    plan, flag = profile_frame(frame).features
    assert plan.kind == "categorical" and plan.level_count == 9 and plan.null_count == 1
    assert plan.category_counts() == {"a": 5, "b": 3, "c": 1}
    assert flag.category_counts() == {"True": 10}


def test_categories_beyond_the_cap_are_counted_together(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(profile_module, "MAX_CATEGORIES", 2)
    (plan,) = profile_frame(pd.DataFrame({"plan": list("aaabbcd")})).features
    assert plan.category_counts() == {"a": 3, "b": 2, "__other__": 2}


def test_datetime_columns_are_skipped_and_json_round_trips() -> None:
    frame = pd.DataFrame(
        {"t": pd.date_range("2026-01-01", periods=4), "x": [1.5, 2.5, np.nan, np.inf]}
    )
    profile = profile_frame(frame, source="test")
    assert [f.name for f in profile.features] == ["x"] and profile.format == 2
    assert ReferenceProfile.model_validate_json(profile.model_dump_json()) == profile


def test_a_profile_written_before_the_sketches_is_refused_with_the_fix() -> None:
    old = {
        "rows": 100,
        "source": "training_data given at registration",
        "features": [
            {
                "name": "tenure",
                "kind": "numeric",
                "dtype": "int64",
                "count": 100,
                "null_rate": 0.0,
                "quantiles": [1.0] * 21,
                "histogram_edges": [1.0, 2.0],
                "histogram_counts": [100],
            }
        ],
    }
    profile = ReferenceProfile.model_validate_json(json.dumps(old))
    assert profile.format == 1  # it still loads, for pages that show it
    with pytest.raises(OutdatedProfile) as caught:
        require_current_format(profile, label="churn:3")
    assert caught.value.status == 400
    assert "jupyter mlops models profile churn:3 --data" in str(caught.value.hint)
    assert "training_data" in str(caught.value.hint)
