"""The features a run's training frames read: the payload of the ``mlops.features`` tag.

A training frame built inside a tracked run writes it as the run tag; registration copies it to
the model version. It names every pinned reference (``customer_stats:v2:avg_spend``) and each view
version's content fingerprint, so a model can be traced to the exact feature definitions it was
trained on, and a view version to every run and model that read it.
"""

from __future__ import annotations

import json

from pydantic import BaseModel, Field, ValidationError

from jupyter_mlops.lineage.tags import FEATURES_ARTIFACT, FEATURES_TAG

#: MLflow keeps tag values up to 8,000 characters; a longer payload goes to an artifact.
MAX_TAG_LENGTH = 8000


class FeaturesUsed(BaseModel):
    """Pinned feature references and the fingerprint of each view version they come from.

    Example:
        >>> used = FeaturesUsed(features=["stats:v2:spend"], views={"stats:v2": "3f1c"})
        >>> used.versions_of("stats")
        {2}
    """

    features: list[str] = Field(
        default_factory=list, description="pinned references, e.g. customer_stats:v2:avg_spend"
    )
    views: dict[str, str] = Field(
        default_factory=dict, description="view:vN -> content fingerprint"
    )
    artifact: str | None = Field(
        default=None, description="run artifact holding the full payload when the tag is short"
    )

    @classmethod
    def parse(cls, text: str | None) -> FeaturesUsed | None:
        """The payload of a tag value; None when there is none or it is not one (never raises)."""
        if not text:
            return None
        try:
            return cls.model_validate_json(text)
        except (ValidationError, ValueError):
            return None

    def merged(self, other: FeaturesUsed) -> FeaturesUsed:
        """This payload and another (a run's second training frame): the union of both."""
        return FeaturesUsed(
            features=list(dict.fromkeys([*self.features, *other.features])),
            views={**self.views, **other.views},
        )

    def to_tag(self) -> str:
        """The tag value: compact JSON, or the views and :data:`FEATURES_ARTIFACT` when the full
        payload is too long (log :meth:`payload` as that artifact then)."""
        if self.needs_artifact():
            return json.dumps({"views": self.views, "artifact": FEATURES_ARTIFACT})
        return self._compact()

    def needs_artifact(self) -> bool:
        """Whether the full payload is too long for a tag."""
        return len(self._compact()) > MAX_TAG_LENGTH

    def _compact(self) -> str:
        return json.dumps(self.payload(), separators=(",", ":"), sort_keys=True)

    def payload(self) -> dict[str, object]:
        """The full payload as plain JSON data."""
        return {"features": list(self.features), "views": dict(self.views)}

    def versions_of(self, view: str) -> set[int]:
        """The versions of ``view`` this payload names (``v1`` never matches ``v12``)."""
        prefix = f"{view}:v"
        return {
            int(label[len(prefix) :])
            for label in self.views
            if label.startswith(prefix) and label[len(prefix) :].isdigit()
        }


def features_used_filter(view: str) -> str:
    """An MLflow search filter for runs whose features tag may name a version of ``view``.

    It may match more (``_`` is a ``LIKE`` wildcard): :meth:`FeaturesUsed.versions_of` decides.
    """
    return f'tags."{FEATURES_TAG}" LIKE \'%"{view}:v%\''
