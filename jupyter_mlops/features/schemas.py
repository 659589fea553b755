"""Pydantic models of the feature domain: what the services return and the REST API sends."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from jupyter_mlops.features.definitions import CsvSource, Entity, FeatureView
from jupyter_mlops.lineage import view_label


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
        return view_label(self.name, self.version)

    @property
    def join_keys(self) -> list[str]:
        """The join keys of all the view's entities, in order, without repeats."""
        keys: list[str] = []
        for entity in self.definition.entities:
            if isinstance(entity, Entity):
                keys.extend(k for k in entity.join_keys if k not in keys)
        return keys

    def source_text(self) -> str | None:
        """A readable description of where the rows come from; None for ingested rows."""
        definition = self.definition
        source = definition.source
        if source is None:
            text = None
        elif isinstance(source, CsvSource):
            sep = "" if source.delimiter == "," else f", delimiter {source.delimiter!r}"
            text = f"CSV file {source.path}{sep}"
        else:
            text = f"Parquet {source.path}"
        if definition.transform_sql:
            text = f"{text or 'ingested rows'}, through a SQL transform"
        elif definition.transform is not None:
            text = f"{text or 'ingested rows'}, through {definition.transform.describe()}"
        return text

    def matches(self, search: str) -> bool:
        """Whether ``search`` (case-insensitive) is in the view's name, features, entities,
        description, owner or tags. An empty search matches every view."""
        needle = search.strip().lower()
        if not needle:
            return True
        d = self.definition
        haystack = [
            self.name,
            d.description,
            d.owner,
            *d.entity_names,
            *(f.name for f in d.features),
            *(f"{k}={v}" for k, v in d.tags.items()),
        ]
        return any(needle in text.lower() for text in haystack)


class FeatureColumn(Schema):
    """One feature of a view: its name and dtype."""

    name: str
    dtype: str
    description: str = ""


class ViewSummary(Schema):
    """One version of a feature view, flattened for lists and the panel."""

    name: str
    version: int = Field(description="this version (the latest in lists)")
    versions: int = Field(description="how many versions the view has")
    entities: list[str]
    join_keys: list[str]
    timestamp_field: str
    features: list[FeatureColumn]
    ttl_seconds: float | None = Field(description="null: values never expire")
    description: str
    owner: str
    tags: dict[str, str]
    source: str | None = Field(description="where rows come from; null for ingested rows")
    fingerprint: str
    created_at: datetime = Field(description="when the version was applied")

    @classmethod
    def of(cls, view: ViewVersion, versions: int) -> ViewSummary:
        d = view.definition
        return cls(
            name=view.name,
            version=view.version,
            versions=versions,
            entities=d.entity_names,
            join_keys=view.join_keys,
            timestamp_field=d.timestamp_field,
            features=[
                FeatureColumn(name=f.name, dtype=f.dtype, description=f.description)
                for f in d.features
            ],
            ttl_seconds=d.ttl.total_seconds() if d.ttl is not None else None,
            description=d.description,
            owner=d.owner,
            tags=dict(d.tags),
            source=view.source_text(),
            fingerprint=view.fingerprint,
            created_at=view.created_at,
        )


class ViewList(Schema):
    """The latest version of every view that matches the search."""

    views: list[ViewSummary]


class ViewDetail(ViewSummary):
    """One version of a view, with its full stored definition.

    What ``features show VIEW --json`` prints and ``GET /mlops/api/features/views/{name}``
    sends: both come from :meth:`FeatureStore.view_detail`.
    """

    definition: ViewVersion


class ViewVersionList(Schema):
    """Every version of a view, newest first."""

    versions: list[ViewSummary]


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


class MaterializeResult(Schema):
    """What one ``materialize`` call loaded into the online store for one view version."""

    view: str
    version: int
    rows_written: int = Field(
        description="entity keys that took a newer value (older rows never overwrite newer ones)"
    )
    start: datetime | None = Field(description="exclusive lower bound of event times; None: all")
    end: datetime = Field(description="inclusive upper bound of event times; the new watermark")


class UsageRun(Schema):
    """A tracked run that built a training frame from a view version."""

    run_id: str
    run_name: str
    experiment_id: str
    start_time: int | None = Field(description="milliseconds since the epoch")
    status: str


class VersionUsage(Schema):
    """Who uses one version of a view."""

    version: int
    fingerprint: str
    runs: list[UsageRun]
    # Filled once model versions and deployments record their features (registry issue).
    models: list[dict[str, str]] = Field(default_factory=list)
    deployments: list[dict[str, str]] = Field(default_factory=list)


class FeatureUsage(Schema):
    """Every version of a view with the runs, models and deployments that use it."""

    view: str
    versions: list[VersionUsage]


class Snippet(Schema):
    """A notebook cell that builds a training frame with the chosen features."""

    code: str
    features: list[str] = Field(description="the references, pinned to their versions")
