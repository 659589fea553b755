"""One parser per reference, and the one column-naming rule."""

from __future__ import annotations

import pytest

from jupyter_mlops.errors import InvalidInput
from jupyter_mlops.lineage import (
    FeatureRef,
    ModelRef,
    check_alias,
    feature_column,
    features_for_inputs,
    view_label,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("churn", ModelRef("churn")),
        ("churn@champion", ModelRef("churn", alias="champion")),
        ("churn:3", ModelRef("churn", version=3)),
        ("churn:v3", ModelRef("churn", version=3)),
        ("churn/3", ModelRef("churn", version=3)),
        (" fraud.v2-model ", ModelRef("fraud.v2-model")),
    ],
)
def test_model_refs(text: str, expected: ModelRef) -> None:
    assert ModelRef.parse(text) == expected
    assert ModelRef.parse(str(expected)) == expected


@pytest.mark.parametrize("text", ["", "churn@", "churn:x", "@champion", "a b", "churn:3:4"])
def test_a_malformed_model_ref_names_the_forms(text: str) -> None:
    with pytest.raises(InvalidInput, match="not a model reference") as err:
        ModelRef.parse(text)
    assert err.value.field == "model" and "NAME@ALIAS" in (err.value.hint or "")


def test_plain_names_and_aliases() -> None:
    assert ModelRef.parse("churn").is_plain_name
    assert not ModelRef.parse("churn@champion").is_plain_name
    assert check_alias("champion") == "champion"
    for bad in ("3", "v3", "a b"):
        with pytest.raises(InvalidInput, match="cannot be an alias"):
            check_alias(bad)


@pytest.mark.parametrize(
    ("text", "view", "version", "feature"),
    [
        ("stats:spend", "stats", None, "spend"),
        ("stats:v2:spend", "stats", 2, "spend"),
        ("stats:*", "stats", None, "*"),
    ],
)
def test_feature_refs(text: str, view: str, version: int | None, feature: str) -> None:
    ref = FeatureRef.parse(text)
    assert (ref.view, ref.version, ref.feature) == (view, version, feature)
    assert str(ref) == text


@pytest.mark.parametrize("text", ["stats", "a:b:c:d", "stats:vx:spend", "stats:v2:", "", "a b:c"])
def test_a_malformed_feature_ref_says_how_to_write_one(text: str) -> None:
    with pytest.raises(InvalidInput, match="malformed") as err:
        FeatureRef.parse(text)
    assert "view:v2:feature" in (err.value.hint or "")


def test_columns_and_labels() -> None:
    assert feature_column("stats", "spend") == "spend"
    assert feature_column("stats", "spend", full_names=True) == "stats__spend"
    assert FeatureRef.pinned("stats", 2, "spend").column(full_names=True) == "stats__spend"
    assert view_label("stats", 2) == "stats:v2" == FeatureRef.parse("stats:v2:x").view_label


def test_features_feed_inputs_by_name_or_full_name() -> None:
    refs = ["stats:v2:spend", "stats:v2:calls", "profile:v1:age"]
    used, full = features_for_inputs(refs, ["tenure", "calls", "spend"])
    assert {c: str(r) for c, r in used.items()} == {
        "calls": "stats:v2:calls",
        "spend": "stats:v2:spend",
    }
    assert list(used) == ["calls", "spend"] and not full
    used, full = features_for_inputs(refs, ["stats__spend", "profile__age"])
    assert {c: str(r) for c, r in used.items()} == {
        "stats__spend": "stats:v2:spend",
        "profile__age": "profile:v1:age",
    }
    assert full
    assert features_for_inputs(refs, ["tenure"]) == ({}, False)
