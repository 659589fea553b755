"""The feature store of a workspace: definitions, versions, offline data, statistics and usage.

``FeatureStore(ws)`` holds the registry (``.mlops/features/registry.json``) and the offline store
(``.mlops/features/data/``) together. DuckDB, pandas and MLflow load when first used.

Example:
    >>> from jupyter_mlops.features import Entity, FeatureStore, FeatureView, Field
    >>> customer = Entity("customer", ["customer_id"])
    >>> stats = FeatureView(name="customer_stats", entities=[customer], ttl="30d",
    ...                     features=[Field("avg_spend", "float64"), Field("orders", "int64")])
    >>> store = FeatureStore(ws)                                          # doctest: +SKIP
    >>> print(store.plan([customer, stats]))                              # doctest: +SKIP
    >>> store.apply([customer, stats])                                    # doctest: +SKIP
    >>> store.ingest("customer_stats", df)                                # doctest: +SKIP
    >>> train = store.get_training_frame(                                 # doctest: +SKIP
    ...     entity_df, ["customer_stats:avg_spend", "customer_stats:v1:orders"])
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Literal

from jupyter_mlops.features.definitions import Definition
from jupyter_mlops.features.offline import IngestResult, OfflineStore
from jupyter_mlops.features.registry import (
    DEFINITIONS_DIR,
    FeatureRegistry,
    ResolvedView,
    load_definitions,
    version_number,
)
from jupyter_mlops.features.schemas import Plan, ViewStats, ViewVersion

if TYPE_CHECKING:
    import pandas as pd

    from jupyter_mlops.workspace import Workspace

logger = logging.getLogger(__name__)

# MLflow run tags the usage hook writes.
FEATURES_TAG = "mlops.features"
ENTITY_FINGERPRINT_TAG = "mlops.features.entity_fingerprint"
_MAX_TAG = 8000
# Entity frames up to this many rows are also logged as an MLflow dataset input.
DATASET_INPUT_MAX_ROWS = 100_000


class FeatureStore:
    """Feature views, their versions and data, for one workspace."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.registry = FeatureRegistry(workspace)
        self.offline = OfflineStore(workspace)

    # -- definitions ----------------------------------------------------------------------------

    def load_definitions(self, folder: str | None = None) -> list[Definition]:
        """Entities and views defined in ``features/*.py`` (or ``folder``) in the workspace."""
        path = self.workspace.resolve_path(folder or DEFINITIONS_DIR, must_exist=False)
        return load_definitions(path)

    def plan(self, definitions: Iterable[Definition] | None = None) -> Plan:
        """What :meth:`apply` would change; nothing is written.

        Args:
            definitions: entities and views declared in a notebook; when None, those in the
                workspace's ``features/*.py`` files.
        """
        defs = self.load_definitions() if definitions is None else definitions
        return self.registry.plan(defs)

    def apply(self, definitions: Iterable[Definition] | None = None) -> Plan:
        """Register definitions (``features/*.py`` when None); changed views get a new version.

        Returns the plan that was applied; print it for a readable summary.
        """
        defs = self.load_definitions() if definitions is None else definitions
        return self.registry.apply(defs)

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

    def diff(self, name: str, v1: int | str, v2: int | str) -> list[str]:
        """Readable lines of what changed in a view between two versions."""
        return self.registry.diff(name, v1, v2)

    def resolve(self, features: Sequence[str]) -> list[ResolvedView]:
        """Resolve feature references (``view:feature``, ``view:v2:feature``, ``view:*``)."""
        return self.registry.resolve(features)

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
        :class:`InvalidInput` naming both columns. When two rows of a view have the same keys and
        the same event time, which one is taken is not defined.

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
        resolved = self.registry.resolve(features)
        frame = self.offline.get_training_frame(
            entity_df,
            resolved,
            timestamp_column=timestamp_column,
            full_names=full_names,
            as_arrow=as_arrow,
        )
        record_usage(resolved, entity_df)
        return frame

    def stats(self, view: str, version: int | str | None = None) -> ViewStats:
        """Row count, last event time, freshness against the TTL and per-feature statistics."""
        from jupyter_mlops.features.stats import view_stats

        return view_stats(self.offline, self.get_view(view, version))

    def __repr__(self) -> str:
        return f"FeatureStore({str(self.workspace.root)!r})"


# -- usage --------------------------------------------------------------------------------------


def entity_fingerprint(entity_df: pd.DataFrame) -> str:
    """sha256 over the entity frame's column names, dtypes and row hashes (index excluded)."""
    import pandas as pd

    digest = hashlib.sha256()
    digest.update(json.dumps([[str(c), str(t)] for c, t in entity_df.dtypes.items()]).encode())
    digest.update(pd.util.hash_pandas_object(entity_df, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def usage_payload(resolved: Sequence[ResolvedView]) -> dict[str, Any]:
    """What the ``mlops.features`` tag holds: pinned references and each version's fingerprint."""
    return {
        "features": [ref for rv in resolved for ref in rv.refs()],
        "views": {rv.view.label: rv.view.fingerprint for rv in resolved},
    }


def record_usage(resolved: Sequence[ResolvedView], entity_df: pd.DataFrame) -> bool:
    """Record the features used on the active MLflow run, if there is one.

    MLflow is not imported for this: when no code has imported it, no run can be active.
    Several training frames in one run (train, validation) add up: the tag lists the union of
    their references, and the fingerprint tag their distinct entity fingerprints, comma-separated.
    A failure to record is logged as a warning and does not fail the training frame.

    Returns:
        Whether a run was tagged.
    """
    mlflow = sys.modules.get("mlflow")
    if mlflow is None or mlflow.active_run() is None:
        return False
    try:
        _record(mlflow, resolved, entity_df)
    except Exception as exc:  # the frame is built; losing lineage must not lose the work
        logger.warning("Could not record feature usage on the MLflow run: %s", exc)
        return False
    return True


def _record(mlflow: Any, resolved: Sequence[ResolvedView], entity_df: pd.DataFrame) -> None:
    run_id = mlflow.active_run().info.run_id
    tags = mlflow.get_run(run_id).data.tags
    payload = usage_payload(resolved)
    previous = _parse_usage(tags.get(FEATURES_TAG))
    if previous is not None:
        payload = {
            "features": list(dict.fromkeys([*previous.get("features", []), *payload["features"]])),
            "views": {**previous.get("views", {}), **payload["views"]},
        }
    text = json.dumps(payload, separators=(",", ":"), sort_keys=True)
    if len(text) > _MAX_TAG:
        # Too long for a tag: the full list goes to an artifact, the tag keeps the views.
        mlflow.log_dict(payload, "mlops/features.json")
        text = json.dumps({"views": payload["views"], "artifact": "mlops/features.json"})
    fingerprint = entity_fingerprint(entity_df)
    known = [f for f in tags.get(ENTITY_FINGERPRINT_TAG, "").split(",") if f]
    fingerprints = ",".join(dict.fromkeys([*known, fingerprint]))
    mlflow.set_tags({FEATURES_TAG: text, ENTITY_FINGERPRINT_TAG: fingerprints})
    _log_dataset(mlflow, entity_df, fingerprint, payload)


def _parse_usage(text: str | None) -> dict[str, Any] | None:
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _log_dataset(
    mlflow: Any, entity_df: pd.DataFrame, fingerprint: str, payload: dict[str, Any]
) -> None:
    """Log the entity frame as the run's training dataset input, when that is cheap.

    MLflow infers a schema and profile from every row (~3 s for a million rows), so larger
    frames are recorded by the tags alone.
    """
    if len(entity_df) > DATASET_INPUT_MAX_ROWS:
        return
    import warnings

    from mlflow.data import from_pandas

    views = ",".join(payload["views"])
    with warnings.catch_warnings():
        # MLflow's advice about integer columns in model signatures does not apply here.
        warnings.filterwarnings("ignore", message=".*Integer columns in Python cannot represent")
        dataset = from_pandas(entity_df, name=f"entity_df[{views}]"[:250], digest=fingerprint[:36])
        mlflow.log_input(dataset, context="training")
