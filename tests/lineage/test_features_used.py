"""The features-used payload: what a run and a model version record of the features they read."""

from __future__ import annotations

import json

from jupyter_mlops.lineage import FeaturesUsed, features_used_filter
from jupyter_mlops.lineage.features_used import MAX_TAG_LENGTH
from jupyter_mlops.lineage.tags import FEATURES_ARTIFACT


def test_round_trip_and_tolerant_parse() -> None:
    used = FeaturesUsed(features=["stats:v2:spend"], views={"stats:v2": "abc"})
    assert FeaturesUsed.parse(used.to_tag()) == used
    # The tag is compact, sorted JSON: the same payload always gives the same text.
    assert used.to_tag() == '{"features":["stats:v2:spend"],"views":{"stats:v2":"abc"}}'
    for broken in (None, "", "not json", "[1, 2]", '{"views": [1]}'):
        assert FeaturesUsed.parse(broken) is None


def test_two_training_frames_add_up() -> None:
    train = FeaturesUsed(features=["a:v1:x"], views={"a:v1": "f1"})
    valid = FeaturesUsed(features=["a:v1:x", "b:v3:y"], views={"b:v3": "f2"})
    both = train.merged(valid)
    assert both.features == ["a:v1:x", "b:v3:y"]
    assert both.views == {"a:v1": "f1", "b:v3": "f2"}


def test_a_payload_too_long_for_a_tag_points_to_its_artifact() -> None:
    features = [f"wide:v1:feature_{i:05d}" for i in range(1000)]
    used = FeaturesUsed(features=features, views={"wide:v1": "f"})
    assert used.needs_artifact()
    tag = used.to_tag()
    assert len(tag) <= MAX_TAG_LENGTH
    assert json.loads(tag) == {"views": {"wide:v1": "f"}, "artifact": FEATURES_ARTIFACT}
    parsed = FeaturesUsed.parse(tag)
    assert parsed is not None and parsed.artifact == FEATURES_ARTIFACT
    assert parsed.versions_of("wide") == {1}


def test_versions_match_exactly() -> None:
    used = FeaturesUsed(views={"a_b:v1": "f", "a_b:v12": "g", "axb:v3": "h", "a_b_c:v4": "i"})
    assert used.versions_of("a_b") == {1, 12}
    assert used.versions_of("axb") == {3}
    assert used.versions_of("a") == set()
    assert features_used_filter("a_b") == 'tags."mlops.features" LIKE \'%"a_b:v%\''
