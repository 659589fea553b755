"""A resolved online lookup: which view versions, keys and columns to read, and from which store.

The feature store resolves feature references against its registry into a :class:`LookupPlan`
once; :func:`read_online` then only reads the online store. A model server replica receives the
plan in its spec, so it opens the online store and nothing else of the feature store.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from jupyter_mlops.errors import InvalidInput, close_names
from jupyter_mlops.features.online.factory import open_online_store

if TYPE_CHECKING:
    import pandas as pd

    from jupyter_mlops.features.online.base import OnlineStore

# The column an online read returns each row's event time in (for the TTL); never a feature
# name, which cannot start with two underscores and "mlops".
EVENT_TIME = "__mlops_event_time"


class ViewLookup(BaseModel):
    """One view version of an online lookup: its keys, the features asked and their columns."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    version: int = Field(ge=1)
    join_keys: tuple[str, ...]
    features: tuple[str, ...]
    columns: tuple[str, ...] = Field(description="the column each feature is returned in")
    ttl: timedelta | None = Field(default=None, description="values older than this are null")


class OnlineStoreSettings(BaseModel):
    """Where the online store is: the ``[features]`` settings and the workspace's state folder."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    online_store: str = "sqlite"
    online_namespace: str = "mlops"
    state_dir: str = Field(description="the workspace's .mlops folder (the SQLite file is there)")

    def open(self) -> OnlineStore:
        """Open the online store these settings name."""
        return open_online_store(self.model_dump(exclude={"state_dir"}), self.state_dir)


class LookupPlan(BaseModel):
    """Everything an online lookup reads, resolved: built by the feature store, run anywhere."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    keys: tuple[str, ...] = Field(description="entity keys, first-seen order")
    views: tuple[ViewLookup, ...]
    dtypes: dict[str, str] = Field(description="feature column -> feature dtype")
    store: OnlineStoreSettings | None = Field(
        default=None, description="where to read; None: the caller's open store"
    )

    def columns(self) -> list[str]:
        """The feature columns, in order."""
        return [c for v in self.views for c in v.columns]

    def renamed(self, names: Mapping[str, str]) -> LookupPlan:
        """The same lookup returning feature column ``c`` as ``names[c]`` (others unchanged)."""
        views = tuple(
            v.model_copy(update={"columns": tuple(names.get(c, c) for c in v.columns)})
            for v in self.views
        )
        dtypes = {names.get(c, c): t for c, t in self.dtypes.items()}
        return self.model_copy(update={"views": views, "dtypes": dtypes})

    def subset(self, columns: Sequence[str]) -> LookupPlan:
        """The plan for some of its feature columns only (views with none of them left out)."""
        wanted = set(columns)
        views = []
        for v in self.views:
            pairs = [(f, c) for f, c in zip(v.features, v.columns, strict=True) if c in wanted]
            if pairs:
                features, cols = zip(*pairs, strict=True)
                views.append(v.model_copy(update={"features": features, "columns": cols}))
        keys = tuple(dict.fromkeys(k for v in views for k in v.join_keys))
        dtypes = {c: t for c, t in self.dtypes.items() if c in wanted}
        return LookupPlan(keys=keys, views=tuple(views), dtypes=dtypes, store=self.store)


def read_online(
    store: OnlineStore,
    plan: LookupPlan,
    entity_rows: Sequence[Mapping[str, Any]] | pd.DataFrame,
) -> dict[str, list[Any]]:
    """Feature values for the entity rows, as plain lists: the join keys first, then the features.

    Each list is aligned with ``entity_rows``; missing values and values older than their view's
    TTL are ``None``. One entity is one key lookup per view.

    Raises:
        InvalidInput: an entity row lacks a join key (named), or entity_rows has the wrong shape.
    """
    out = key_columns(plan.keys, entity_rows)
    count = len(out[plan.keys[0]])
    now = datetime.now(UTC)
    for v in plan.views:
        # Values whose event time is before this have outlived the view's TTL.
        limit = None if v.ttl is None else now - v.ttl
        time_column = None if limit is None else EVENT_TIME
        if count == 1:
            key = (
                out[v.join_keys[0]][0]
                if len(v.join_keys) == 1
                else tuple(out[k][0] for k in v.join_keys)
            )
            row = store.read_one(v.name, v.version, v.features, key, event_time_column=time_column)
            if row is not None and limit is not None and row[EVENT_TIME] < limit:
                row = None
            for feature, column in zip(v.features, v.columns, strict=True):
                out[column] = [None if row is None else row[feature]]
            continue
        keys: Any = (
            out[v.join_keys[0]]
            if len(v.join_keys) == 1
            else list(zip(*(out[k] for k in v.join_keys), strict=True))
        )
        got = store.read(v.name, v.version, v.features, keys, event_time_column=time_column)
        if limit is not None:
            expired = [t is not None and t < limit for t in got[EVENT_TIME]]
            if any(expired):
                for feature in v.features:
                    got[feature] = [
                        None if gone else value
                        for value, gone in zip(got[feature], expired, strict=True)
                    ]
        for feature, column in zip(v.features, v.columns, strict=True):
            out[column] = got[feature]
    return out


def key_columns(
    keys: Sequence[str], entity_rows: Sequence[Mapping[str, Any]] | pd.DataFrame
) -> dict[str, list[Any]]:
    """The join-key values of the entity rows as lists, one per key, checked present."""
    import pandas as pd

    if isinstance(entity_rows, pd.DataFrame):
        columns = [str(c) for c in entity_rows.columns]
        missing = [k for k in keys if k not in columns]
        if missing:
            raise InvalidInput(
                f"The entity rows lack the join key {', '.join(map(repr, missing))}.",
                hint=f"Their columns are: {', '.join(columns) or '(none)'}.",
                field="entity_rows",
            )
        out: dict[str, list[Any]] = {}
        for k in keys:
            series = entity_rows[k]
            values = series.tolist()
            if series.hasnans:
                values = [None if m else v for v, m in zip(values, series.isna(), strict=True)]
            out[k] = values
        return out
    if isinstance(entity_rows, Mapping | str | bytes):
        raise InvalidInput(
            "entity_rows must be a list of {join_key: value} mappings or a DataFrame, "
            f"not a {type(entity_rows).__name__}.",
            hint="Wrap one entity in a list: [{'customer_id': 1001}].",
            field="entity_rows",
        )
    out = {k: [] for k in keys}
    for i, row in enumerate(entity_rows):
        if not isinstance(row, Mapping):
            raise InvalidInput(
                f"Entity row {i} is a {type(row).__name__}, not a mapping of join keys.",
                field="entity_rows",
            )
        for k in keys:
            try:
                out[k].append(row[k])
            except KeyError:
                close = close_names(k, [str(c) for c in row], n=1, cutoff=0.6)
                raise InvalidInput(
                    f"Entity row {i} lacks the join key '{k}'.",
                    hint=(f"Did you mean '{close[0]}'? " if close else "")
                    + f"Every row needs: {', '.join(keys)}.",
                    field="entity_rows",
                ) from None
    return out
