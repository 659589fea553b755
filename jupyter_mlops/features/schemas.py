"""Pydantic models of the feature domain: what the services return and the REST API sends."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from jupyter_mlops.features.definitions import Entity, FeatureView


class Schema(BaseModel):
    """Base of every model the API sends: fields with defaults are always present in responses."""

    model_config = ConfigDict(json_schema_serialization_defaults_required=True)


class ViewVersion(Schema):
    """One applied version of a feature view. Its definition is self-contained: the entities
    are stored with their join keys as they were when the version was made."""

    name: str
    version: int = Field(ge=1)
    fingerprint: str = Field(description="sha256 of the canonical JSON of the versioned content")
    created_at: datetime
    definition: FeatureView

    @property
    def label(self) -> str:
        """``"customer_stats:v2"``."""
        return f"{self.name}:v{self.version}"

    @property
    def join_keys(self) -> list[str]:
        """The join keys of all the view's entities, in order, without repeats."""
        keys: list[str] = []
        for entity in self.definition.entities:
            if isinstance(entity, Entity):
                keys.extend(k for k in entity.join_keys if k not in keys)
        return keys


class RegistryData(Schema):
    """The whole registry file."""

    format: Literal[1] = 1
    entities: dict[str, Entity] = Field(default_factory=dict)
    views: dict[str, list[ViewVersion]] = Field(default_factory=dict)


# create: new entity or view (v1); new_version: a view's versioned content changed; update: an
# entity's join keys changed; update_metadata: description, owner or tags only; unchanged.
Action = Literal["create", "new_version", "update", "update_metadata", "unchanged"]


class Change(Schema):
    """What ``apply`` does (or did) to one entity or view."""

    kind: Literal["entity", "view"]
    name: str
    action: Action
    version: int | None = Field(default=None, description="the view's version after apply")
    diff: list[str] = Field(default_factory=list)


class Plan(Schema):
    """What applying a set of definitions would change, like ``terraform plan``."""

    changes: list[Change]
    not_in_definitions: list[str] = Field(
        default_factory=list, description="registered views the definitions do not mention"
    )

    @property
    def has_changes(self) -> bool:
        return any(c.action != "unchanged" for c in self.changes)

    def __str__(self) -> str:
        marks = {"create": "+", "unchanged": "="}
        lines: list[str] = []
        for c in self.changes:
            after = f" -> v{c.version}" if c.version and c.action != "unchanged" else ""
            lines.append(f"{marks.get(c.action, '~')} {c.kind} {c.name}: {c.action}{after}")
            lines.extend(f"    {d}" for d in c.diff)
        if self.not_in_definitions:
            names = ", ".join(self.not_in_definitions)
            lines.append(f"  (registered, not in these definitions, kept: {names})")
        if not self.has_changes:
            lines.append("No changes.")
        return "\n".join(lines)


class FeatureStats(Schema):
    """Statistics of one feature column over all of a view's rows."""

    name: str
    dtype: str
    null_rate: float | None
    min: float | str | None = None
    max: float | str | None = None
    mean: float | None = None
    std: float | None = None
    top_values: list[tuple[str, int]] | None = Field(
        default=None, description="most frequent values of a string feature, with counts"
    )


class ViewStats(Schema):
    """Size and freshness of a view's data, and per-feature statistics."""

    name: str
    version: int
    row_count: int
    first_event: datetime | None
    last_event: datetime | None
    age_seconds: float | None = Field(description="now minus the last event time")
    ttl_seconds: float | None
    stale: bool = Field(description="the newest row is older than the TTL, or there is no row")
    features: list[FeatureStats]
