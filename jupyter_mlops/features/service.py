"""The feature store of a workspace: definitions, versions, offline data and statistics.

``ws.features`` (a ``FeatureStore``) holds the registry (``.mlops/features/registry.json``), the
offline store (``.mlops/features/data/``) and the online store (``[features].online_store``)
together. DuckDB, pandas and MLflow load when first used.

Example:
    >>> from jupyter_mlops.features import Entity, FeatureStore, FeatureView, Field
    >>> customer = Entity("customer", ["customer_id"])
    >>> stats = FeatureView(name="customer_stats", entities=[customer], ttl="30d",
    ...                     features=[Field("avg_spend", "float64"), Field("orders", "int64")])
    >>> store = ws.features                                               # doctest: +SKIP
    >>> print(store.plan([customer, stats]))                              # doctest: +SKIP
    >>> store.apply([customer, stats])                                    # doctest: +SKIP
    >>> store.ingest("customer_stats", df)                                # doctest: +SKIP
    >>> train = store.get_training_frame(                                 # doctest: +SKIP
    ...     entity_df, ["customer_stats:avg_spend", "customer_stats:v1:orders"])
    >>> store.materialize()                                               # doctest: +SKIP
    >>> store.get_online_features(                                        # doctest: +SKIP
    ...     ["customer_stats:avg_spend"], [{"customer_id": 1}])
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from jupyter_mlops.errors import InvalidInput
from jupyter_mlops.features.definitions import Definition
from jupyter_mlops.features.offline import IngestResult, OfflineStore
from jupyter_mlops.features.online.plan import (
    LookupPlan,
    OnlineStoreSettings,
    ViewLookup,
    read_online,
)
from jupyter_mlops.features.registry import (
    DEFINITIONS_DIR,
    FeatureRegistry,
    ResolvedView,
    load_definitions,
    version_number,
)
from jupyter_mlops.features.schemas import (
    MaterializeResult,
    Plan,
    Snippet,
    ViewDetail,
    ViewList,
    ViewStats,
    ViewSummary,
    ViewVersion,
    ViewVersionList,
)
from jupyter_mlops.lineage import FeaturesUsed, feature_column
from jupyter_mlops.lineage.tags import (
    ENTITY_FINGERPRINT_TAG,
    FEATURES_ARTIFACT,
    FEATURES_AS_OF_ENV,
    FEATURES_PIN_ENV,
    FEATURES_TAG,
    PROFILE_ARTIFACT,
    PROFILED_TAG,
)
from jupyter_mlops.paths import inside

if TYPE_CHECKING:
    import pandas as pd

    from jupyter_mlops.config import FeaturesConfig
    from jupyter_mlops.features.online.base import OnlineStore

logger = logging.getLogger(__name__)

# Entity frames up to this many rows are also logged as an MLflow dataset input.
DATASET_INPUT_MAX_ROWS = 100_000
_PLAN_CACHE_SIZE = 256


class FeatureStore:
    """Feature views, their versions and data, for one workspace."""

    def __init__(self, root: Path, state_dir: Path, config: FeaturesConfig) -> None:
        """
        Args:
            root: the workspace folder: definitions and sources are read inside it only.
            state_dir: the workspace's ``.mlops`` folder (registry, ingested rows, SQLite store).
            config: the ``[features]`` section of ``mlops.toml``.
        """
        self.root = root
        self.registry = FeatureRegistry(root, state_dir / "features" / "registry.json")
        self.offline = OfflineStore(root, state_dir / "features" / "data")
        self.online_settings = OnlineStoreSettings(
            online_store=config.online_store,
            online_namespace=config.online_namespace,
            state_dir=str(state_dir),
        )
        self._online: OnlineStore | None = None
        self._online_lock = threading.Lock()
        self._plans: dict[tuple[tuple[str, ...], bool], LookupPlan] = {}
        self._plans_stamp: tuple[int, int] | None = None

    # -- definitions ----------------------------------------------------------------------------

    def load_definitions(self, folder: str | None = None) -> list[Definition]:
        """Entities and views defined in ``features/*.py`` (or ``folder``) in the workspace."""
        path = inside(self.root, folder or DEFINITIONS_DIR, must_exist=False)
        return load_definitions(path)

    def plan(self, definitions: Iterable[Definition] | None = None) -> Plan:
        """What :meth:`apply` would change; nothing is written.

        A new version's Python transform is run on up to 100 rows of its source, so a function
        that fails or leaves out a column is an error here, and its created timestamp field must
        be a timestamp column of its rows (a source without rows yet cannot be checked).

        Args:
            definitions: entities and views declared in a notebook; when None, those in the
                workspace's ``features/*.py`` files.
        """
        defs = self.load_definitions() if definitions is None else definitions
        return self.registry.plan(defs, check=self.offline.check_version)

    def apply(self, definitions: Iterable[Definition] | None = None) -> Plan:
        """Register definitions (``features/*.py`` when None); changed views get a new version.

        Returns the plan that was applied; print it for a readable summary.
        """
        defs = self.load_definitions() if definitions is None else definitions
        return self.registry.apply(defs, check=self.offline.check_version)

    # -- reading the registry ------------------------------------------------------------------

    def list_views(self) -> list[ViewVersion]:
        """The latest version of every view, by name."""
        data = self.registry.load()
        return [data.views[name][-1] for name in sorted(data.views)]

    def get_view(self, name: str, version: int | str | None = None) -> ViewVersion:
        """A view's latest version, or version ``version`` (``2`` or ``"v2"``).

        Raises:
            NotFound: unknown view or version; the message lists close names.
        """
        return self.registry.get_view(name, None if version is None else version_number(version))

    def versions(self, name: str) -> list[ViewVersion]:
        """Every version of a view, oldest first."""
        return self.registry.versions(name)

    def view_list(self, search: str = "") -> ViewList:
        """The latest version of every view whose name, features, entities, description,
        owner or tags contain ``search`` (all views when it is empty), by name."""
        data = self.registry.load()
        return ViewList(
            views=[
                ViewSummary.of(history[-1], len(history))
                for _, history in sorted(data.views.items())
                if history[-1].matches(search)
            ]
        )

    def view_detail(self, name: str, version: int | str | None = None) -> ViewDetail:
        """One version of a view (the latest by default), with its stored definition.

        The one description of a view that ``features show --json`` prints and the REST API
        sends.

        Raises:
            NotFound: unknown view or version; the message lists close names or the versions.

        Example:
            >>> store.view_detail("customer_stats", "v1").fingerprint     # doctest: +SKIP
            '3f1c...'
        """
        history = self.registry.versions(name)
        view = self.get_view(name, version)
        return ViewDetail(**vars(ViewSummary.of(view, len(history))), definition=view)

    def view_versions(self, name: str) -> ViewVersionList:
        """Every version of a view, newest first, each summarised."""
        history = self.registry.versions(name)
        return ViewVersionList(
            versions=[ViewSummary.of(v, len(history)) for v in reversed(history)]
        )

    def diff(self, name: str, v1: int | str, v2: int | str) -> list[str]:
        """Readable lines of what changed in a view between two versions."""
        return self.registry.diff(name, v1, v2)

    def resolve(self, features: Sequence[str]) -> list[ResolvedView]:
        """Resolve feature references (``view:feature``, ``view:v2:feature``, ``view:*``)."""
        return self.registry.resolve(features)

    def training_snippet(self, features: Sequence[str]) -> Snippet:
        """A notebook cell that builds a training frame with these features, pinned.

        Raises:
            InvalidInput: a malformed reference.
            NotFound: an unknown view, version or feature.
        """
        from jupyter_mlops.features.snippet import training_snippet

        return training_snippet(self.registry.resolve(features))

    # -- data ------------------------------------------------------------------------------------

    def ingest(
        self,
        view: str,
        data: pd.DataFrame,
        *,
        extra_columns: Literal["reject", "drop"] = "reject",
    ) -> IngestResult:
        """Append rows to a view's storage, checked against its latest version; all or nothing.

        See :meth:`jupyter_mlops.features.offline.OfflineStore.ingest` for the rules.

        Example:
            >>> store.ingest("customer_stats", df)                      # doctest: +SKIP
            IngestResult(view='customer_stats', version=1, rows=1000, file='...')
        """
        return self.offline.ingest(self.registry.get_view(view), data, extra_columns=extra_columns)

    def get_training_frame(
        self,
        entity_df: pd.DataFrame,
        features: Sequence[str],
        *,
        timestamp_column: str = "event_timestamp",
        full_names: bool = False,
        as_arrow: bool = False,
    ) -> Any:
        """A training set: each entity row with its features' values as of the row's time.

        For each view, a DuckDB ``ASOF LEFT JOIN`` on the view's join keys picks the latest row
        whose event time is ``<=`` the entity row's timestamp, so no value from after that time
        can leak in. A value older than the view's TTL is null. Every entity row is kept, in the
        input order and with the input index; a row with no match gets null. Feature dtypes are
        kept: ``int64`` becomes pandas ``Int64`` and ``bool`` becomes ``boolean`` (nullable, so
        integers never turn into floats), ``float64`` stays ``float64`` with NaN for missing.

        Time zones: the entity timestamps and each view's event times must both be naive or
        both be aware; aware ones are compared in UTC. Mixing naive and aware raises
        :class:`InvalidInput` naming both columns.

        Ties: when rows of a view have the same keys and the same event time, the one created
        last (the view's ``created_timestamp_field``; a null created time loses) is taken, and
        then, or without that field, the one read last (the later row of a file, the later
        ingested batch): the same data always gives the same frame. Materialization takes the
        same row, so the online store serves what a training frame at that time would hold.

        In a replay's kernel (see :func:`feature_pins`), a reference without a version reads the
        version the replayed run read, and ingested rows written after the replayed run started
        are left out.

        When an MLflow run is active, the run gets the pinned references
        (``view:vN:feature``) with the views' fingerprints as tag ``mlops.features`` (JSON),
        the entity frame's fingerprint as tag ``mlops.features.entity_fingerprint``, and, up to
        100,000 rows, the entity frame as a dataset input (MLflow profiles every row).

        Args:
            entity_df: the rows to build: join keys of every view asked for and a timestamp.
            features: references like ``"customer_stats:avg_spend"`` (latest version),
                ``"customer_stats:v2:avg_spend"`` (pinned) or ``"customer_stats:*"``.
            timestamp_column: the entity frame's timestamp column.
            full_names: name columns ``<view>__<feature>`` (needed when names collide).
            as_arrow: return a ``pyarrow.Table`` (without the pandas index) instead.

        Raises:
            InvalidInput: the entity frame lacks a join key or the timestamp column, mixes
                naive and aware timestamps with a view, or a column name would repeat.
            NotFound: an unknown view, version or feature; the message lists close names.

        Example:
            >>> entities = pd.DataFrame({"customer_id": [1, 2],            # doctest: +SKIP
            ...     "event_timestamp": pd.to_datetime(["2026-01-05", "2026-02-01"])})
            >>> store.get_training_frame(entities, ["customer_stats:avg_spend"])  # doctest: +SKIP
        """
        pins = feature_pins()
        resolved = self.registry.resolve(features, pins=pins.versions)
        if pins.as_of is not None:
            for warning in self.as_of_warnings([rv.view.label for rv in resolved], pins.as_of):
                logger.warning("%s", warning)
        frame = self.offline.get_training_frame(
            entity_df,
            resolved,
            timestamp_column=timestamp_column,
            full_names=full_names,
            as_arrow=as_arrow,
            as_of=pins.as_of,
        )
        record_usage(resolved, entity_df, frame)
        return frame

    def as_of_warnings(self, views: Iterable[str], as_of: datetime) -> list[str]:
        """What reading these views as of ``as_of`` cannot honour: a file source (Parquet, CSV)
        has no history, so one changed after ``as_of`` is read as it is now.

        Args:
            views: view names or labels (``customer_profile`` or ``customer_profile:v2``);
                unknown ones are skipped.
            as_of: the moment of the replayed reading (naive means UTC).
        """
        from jupyter_mlops.errors import NotFound
        from jupyter_mlops.lineage import FeatureRef

        moment = as_of if as_of.tzinfo is not None else as_of.replace(tzinfo=UTC)
        out: list[str] = []
        for label in dict.fromkeys(views):
            ref = FeatureRef.parse(f"{label}:*")
            try:
                view = self.registry.get_view(ref.view, ref.version)
            except NotFound:
                continue
            source = view.definition.source
            if source is None:
                continue
            changed = _changed_at(inside(self.root, source.path, must_exist=False))
            if changed is not None and changed > moment:
                out.append(
                    f"{view.label} reads {source.path}, which changed at "
                    f"{changed:%Y-%m-%d %H:%M:%S} UTC, after {moment:%Y-%m-%d %H:%M:%S} UTC: "
                    "a file source cannot be read as of a past moment, so its rows are read as "
                    "they are now."
                )
        return out

    # -- online store ----------------------------------------------------------------------------

    @property
    def online(self) -> OnlineStore:
        """The workspace's online store (``[features].online_store``), opened on first use."""
        store = self._online
        if store is None:
            with self._online_lock:
                if self._online is None:
                    self._online = self.online_settings.open()
                store = self._online
        return store

    def close(self) -> None:
        """Close the online store's connections, if it was opened. Closing twice is harmless."""
        with self._online_lock:
            if self._online is not None:
                self._online.close()
                self._online = None

    def materialize(
        self,
        views: Sequence[str] | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> list[MaterializeResult]:
        """Load the newest row per entity key into the online store, for serving.

        For the latest version of each view, the row with the newest event time in
        ``(start, end]`` per entity key is written to the online store (an older row never
        replaces a newer one), then the version's watermark moves to ``end``. See
        :mod:`jupyter_mlops.features.materialize` for windows and time zones.

        Args:
            views: view names; all registered views when None.
            start: exclusive lower bound of event times; None continues from the version's
                watermark (from the beginning the first time): incremental materialization.
            end: inclusive upper bound; None is now (UTC). Naive for views whose event times
                are naive, aware for aware ones.

        Raises:
            NotFound: an unknown view; the message lists close names.
            InvalidInput: naive and aware timestamps mixed, ``end`` before ``start``, or an
                ``end`` before a view's watermark without a ``start``; nothing is written then.

        Example:
            >>> store.materialize()                                     # doctest: +SKIP
            [MaterializeResult(view='customer_stats', version=2, rows_written=1000, ...)]
            >>> store.materialize(["customer_stats"])                   # doctest: +SKIP
        """
        from jupyter_mlops.features.materialize import load_window, window

        if isinstance(views, str):
            views = [views]
        names = self.registry.view_names() if views is None else list(dict.fromkeys(views))
        latest = [self.registry.get_view(name) for name in names]
        # Every view's window is checked before any is written.
        windows = [window(self.offline, self.online, v, start, end) for v in latest]
        return [load_window(self.offline, self.online, w) for w in windows]

    def get_online_features(
        self,
        features: Sequence[str],
        entity_rows: Sequence[Mapping[str, Any]] | pd.DataFrame,
        *,
        full_names: bool = False,
    ) -> pd.DataFrame:
        """Feature values for serving: one row per entity row, from the online store.

        Columns: the join keys of the views asked for (first-seen order), then one column per
        feature, named as :meth:`get_training_frame` names them (``feature``, or
        ``<view>__<feature>`` with ``full_names``), with the same dtypes (``Int64``,
        ``boolean``, ``float64``, strings, datetimes). A value older than its view's TTL (now
        minus the event time) is null, as is every value of an entity the store does not have.
        A DataFrame's index is kept; other columns of the entity rows are ignored.

        Args:
            features: references like ``"customer_stats:avg_spend"`` (latest version) or
                ``"customer_stats:v2:avg_spend"``, or ``"customer_stats:*"``.
            entity_rows: a list of ``{join_key: value}`` mappings, or a DataFrame.
            full_names: name columns ``<view>__<feature>`` (needed when names collide).

        Raises:
            InvalidInput: an entity row lacks a join key (named), or a key value is null.
            NotFound: an unknown view, version or feature, or a view version that was never
                materialized.

        Example:
            >>> store.get_online_features(["customer_stats:avg_spend"],   # doctest: +SKIP
            ...                           [{"customer_id": 1001}])
               customer_id  avg_spend
            0         1001       42.5
        """
        import pandas as pd

        plan = self.online_plan(features, full_names=full_names)
        columns = read_online(self.online, plan, entity_rows)
        index = entity_rows.index if isinstance(entity_rows, pd.DataFrame) else None
        data: dict[str, Any] = {}
        for name, values in columns.items():
            if name in plan.keys and isinstance(entity_rows, pd.DataFrame):
                data[name] = entity_rows[name].array
            else:
                data[name] = _typed(values, plan.dtypes.get(name))
        return pd.DataFrame(data, index=index, columns=list(columns))

    def get_online_features_dict(
        self,
        features: Sequence[str],
        entity_rows: Sequence[Mapping[str, Any]] | pd.DataFrame,
        *,
        full_names: bool = False,
    ) -> dict[str, list[Any]]:
        """The fast path of :meth:`get_online_features`: plain lists, no pandas.

        Returns ``{column: values}`` with the join keys first, then the features, each list
        aligned with ``entity_rows``; missing and expired values are ``None``. One entity is one
        key lookup per view. The references are resolved once and cached until the registry
        changes.

        Example:
            >>> store.get_online_features_dict(["customer_stats:avg_spend"],  # doctest: +SKIP
            ...                                [{"customer_id": 1001}])
            {'customer_id': [1001], 'avg_spend': [42.5]}
        """
        plan = self.online_plan(features, full_names=full_names)
        return read_online(self.online, plan, entity_rows)

    def online_plan(self, features: Sequence[str], *, full_names: bool = False) -> LookupPlan:
        """The resolved online lookup of these references, with where the online store is.

        Cached until the registry file changes. A model server receives it in its spec and
        reads the online store with it, without the feature registry.

        Raises:
            InvalidInput: a malformed reference, or two features that would get one column.
            NotFound: an unknown view, version or feature.
        """
        try:
            stat = os.stat(self.registry.path)
            stamp: tuple[int, int] | None = (stat.st_mtime_ns, stat.st_size)
        except FileNotFoundError:
            stamp = None
        if stamp != self._plans_stamp:
            self._plans = {}
            self._plans_stamp = stamp
        cache_key = (tuple(features) if not isinstance(features, str) else (features,), full_names)
        plan = self._plans.get(cache_key)
        if plan is None:
            plan = _plan_lookup(self.registry.resolve(features), full_names, self.online_settings)
            if len(self._plans) >= _PLAN_CACHE_SIZE:
                self._plans.clear()
            self._plans[cache_key] = plan
        return plan

    # -- statistics and usage ---------------------------------------------------------------------

    def stats(self, view: str, version: int | str | None = None) -> ViewStats:
        """Row count, last event time, freshness against the TTL and per-feature statistics."""
        from jupyter_mlops.features.stats import view_stats

        return view_stats(self.offline, self.get_view(view, version))

    def __repr__(self) -> str:
        return f"FeatureStore({str(self.root)!r})"


# -- replays: pinned versions, reading as of a moment -------------------------------------------


@dataclass(frozen=True)
class FeaturePins:
    """How training frames read features in a replay's kernel: the version of each view a
    reference without a version reads, and the moment ingested rows are read as of.

    Example:
        >>> pins = FeaturePins({"customer_stats": 2})
        >>> pins.environment()
        {'MLOPS_FEATURES_PIN': '{"customer_stats": 2}'}
        >>> feature_pins(pins.environment()).versions
        {'customer_stats': 2}
    """

    versions: dict[str, int] = field(default_factory=dict)
    as_of: datetime | None = None

    def environment(self) -> dict[str, str]:
        """The environment variables that carry these pins to a job's kernel."""
        env = {}
        if self.versions:
            env[FEATURES_PIN_ENV] = json.dumps(self.versions, sort_keys=True)
        if self.as_of is not None:
            env[FEATURES_AS_OF_ENV] = self.as_of.isoformat()
        return env


def feature_pins(environ: Mapping[str, str] | None = None) -> FeaturePins:
    """The pins of this process: ``MLOPS_FEATURES_PIN`` (JSON ``{view: version}``) and
    ``MLOPS_FEATURES_AS_OF`` (ISO 8601; naive means UTC), as a replay job's first cell sets them.
    None set (the usual case): no pins.

    Raises:
        InvalidInput: a variable that does not hold what it should.
    """
    env = os.environ if environ is None else environ
    versions: dict[str, int] = {}
    text = env.get(FEATURES_PIN_ENV, "").strip()
    if text:
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if not isinstance(data, dict) or not all(
            isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool)
            for k, v in data.items()
        ):
            raise InvalidInput(
                f"{FEATURES_PIN_ENV} is not a JSON object of view versions: {text[:80]!r}",
                hint=f'Write e.g. {{"customer_stats": 2}}, or unset {FEATURES_PIN_ENV}.',
                field=FEATURES_PIN_ENV,
            )
        versions = dict(data)
    as_of = None
    text = env.get(FEATURES_AS_OF_ENV, "").strip()
    if text:
        try:
            as_of = datetime.fromisoformat(text)
        except ValueError:
            raise InvalidInput(
                f"{FEATURES_AS_OF_ENV} is not an ISO 8601 time: {text[:80]!r}",
                hint=f"Write e.g. 2026-01-31T12:00:00+00:00, or unset {FEATURES_AS_OF_ENV}.",
                field=FEATURES_AS_OF_ENV,
            ) from None
        if as_of.tzinfo is None:
            as_of = as_of.replace(tzinfo=UTC)
    return FeaturePins(versions, as_of)


def _changed_at(path: Path) -> datetime | None:
    """When a source file (or the newest file of a source folder) last changed, in UTC."""
    try:
        files = [f for f in path.rglob("*") if f.is_file()] if path.is_dir() else [path]
        newest = max((f.stat().st_mtime for f in files), default=None)
    except OSError:
        return None
    return None if newest is None else datetime.fromtimestamp(newest, UTC)


# -- online lookups -----------------------------------------------------------------------------


def _plan_lookup(
    resolved: Sequence[ResolvedView], full_names: bool, store: OnlineStoreSettings
) -> LookupPlan:
    keys = list(dict.fromkeys(k for rv in resolved for k in rv.view.join_keys))
    taken = set(keys)
    views: list[ViewLookup] = []
    dtypes: dict[str, str] = {}
    for rv in resolved:
        columns = []
        for f in rv.features:
            name = feature_column(rv.view.name, f.name, full_names=full_names)
            if name in taken:
                raise InvalidInput(
                    f"Feature {rv.view.label}:{f.name} would be column '{name}', which a join "
                    "key or another requested feature already has.",
                    hint="Pass full_names=True to name columns '<view>__<feature>'.",
                    field="features",
                )
            taken.add(name)
            columns.append(name)
            dtypes[name] = f.dtype
        views.append(
            ViewLookup(
                name=rv.view.name,
                version=rv.view.version,
                join_keys=tuple(rv.view.join_keys),
                features=tuple(f.name for f in rv.features),
                columns=tuple(columns),
                ttl=rv.view.definition.ttl,
            )
        )
    return LookupPlan(keys=tuple(keys), views=tuple(views), dtypes=dtypes, store=store)


_PANDAS_DTYPES: dict[str, Any] = {}


def _typed(values: list[Any], dtype: str | None) -> Any:
    """A feature's values as a pandas array of the dtype a training frame gives it."""
    import numpy as np
    import pandas as pd

    if dtype == "float64":  # the common case, and the cheapest: NumPy, NaN for missing
        return np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    if dtype == "timestamp":
        return pd.to_datetime(pd.Series(values, dtype="object")).array
    if dtype is None:  # a join key: inferred as a DataFrame column would be
        return pd.Series(values).array
    if not _PANDAS_DTYPES:
        # Dtype objects, looked up once: resolving names costs more than building the array.
        names = {"int64": "Int64", "bool": "boolean", "string": "str"}
        _PANDAS_DTYPES.update({k: pd.api.types.pandas_dtype(v) for k, v in names.items()})
    return pd.array(values, dtype=_PANDAS_DTYPES[dtype])


# -- usage --------------------------------------------------------------------------------------


def entity_fingerprint(entity_df: pd.DataFrame) -> str:
    """sha256 over the entity frame's column names, dtypes and row hashes (index excluded)."""
    import pandas as pd

    digest = hashlib.sha256()
    digest.update(json.dumps([[str(c), str(t)] for c, t in entity_df.dtypes.items()]).encode())
    digest.update(pd.util.hash_pandas_object(entity_df, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def usage_payload(resolved: Sequence[ResolvedView]) -> FeaturesUsed:
    """What the ``mlops.features`` tag holds: pinned references and each version's fingerprint."""
    return FeaturesUsed(
        features=[ref for rv in resolved for ref in rv.refs()],
        views={rv.view.label: rv.view.fingerprint for rv in resolved},
    )


def record_usage(
    resolved: Sequence[ResolvedView], entity_df: pd.DataFrame, frame: Any = None
) -> bool:
    """Record the features used on the active MLflow run, if there is one.

    MLflow is not imported for this: when no code has imported it, no run can be active.
    Several training frames in one run (train, validation) add up: the tag lists the union of
    their references, and the fingerprint tag their distinct entity fingerprints, comma-separated.
    The first pandas training frame of a run also leaves a reference profile of its feature
    columns (``mlops/training_profile.json``), which model registration stores with the version.
    A failure to record is logged as a warning and does not fail the training frame.

    Returns:
        Whether a run was tagged.
    """
    mlflow = sys.modules.get("mlflow")
    if mlflow is None or mlflow.active_run() is None:
        return False
    try:
        _record(mlflow, resolved, entity_df, frame)
    except Exception as exc:  # the frame is built; losing lineage must not lose the work
        logger.warning("Could not record feature usage on the MLflow run: %s", exc)
        return False
    return True


def _record(
    mlflow: Any, resolved: Sequence[ResolvedView], entity_df: pd.DataFrame, frame: Any = None
) -> None:
    run_id = mlflow.active_run().info.run_id
    tags = mlflow.get_run(run_id).data.tags
    payload = usage_payload(resolved)
    previous = FeaturesUsed.parse(tags.get(FEATURES_TAG))
    if previous is not None:
        payload = previous.merged(payload)
    if payload.needs_artifact():
        # Too long for a tag: the full list goes to an artifact, the tag keeps the views.
        mlflow.log_dict(payload.payload(), FEATURES_ARTIFACT)
    text = payload.to_tag()
    fingerprint = entity_fingerprint(entity_df)
    known = [f for f in tags.get(ENTITY_FINGERPRINT_TAG, "").split(",") if f]
    fingerprints = ",".join(dict.fromkeys([*known, fingerprint]))
    mlflow.set_tags({FEATURES_TAG: text, ENTITY_FINGERPRINT_TAG: fingerprints})
    _log_dataset(mlflow, entity_df, fingerprint, payload)
    import pandas as pd

    if isinstance(frame, pd.DataFrame) and not tags.get(PROFILED_TAG):
        from jupyter_mlops.lineage import profile_frame

        columns = [c for c in frame.columns if c not in entity_df.columns]
        profile = profile_frame(frame, columns=columns, source=f"training frame of run {run_id}")
        mlflow.log_text(profile.model_dump_json(), PROFILE_ARTIFACT)
        mlflow.set_tag(PROFILED_TAG, "true")


def _log_dataset(
    mlflow: Any, entity_df: pd.DataFrame, fingerprint: str, payload: FeaturesUsed
) -> None:
    """Log the entity frame as the run's training dataset input, when that is cheap.

    MLflow infers a schema and profile from every row (~3 s for a million rows), so larger
    frames are recorded by the tags alone.
    """
    if len(entity_df) > DATASET_INPUT_MAX_ROWS:
        return
    import warnings

    from mlflow.data import from_pandas

    views = ",".join(payload.views)
    with warnings.catch_warnings():
        # MLflow's advice about integer columns in model signatures does not apply here.
        warnings.filterwarnings("ignore", message=".*Integer columns in Python cannot represent")
        dataset = from_pandas(entity_df, name=f"entity_df[{views}]"[:250], digest=fingerprint[:36])
        mlflow.log_input(dataset, context="training")
