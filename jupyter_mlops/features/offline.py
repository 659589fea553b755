"""The offline store: view data in Parquet, read and joined with DuckDB.

Ingested views keep their rows in ``.mlops/features/data/<view>/*.parquet``, one file per ingested
batch. Views with a :class:`~jupyter_mlops.features.definitions.ParquetSource` or
:class:`~jupyter_mlops.features.definitions.CsvSource` are read where they are. Either way DuckDB
reads the files directly; nothing is loaded into pandas first.

Time zones (one rule for ingest and for training frames):
    A timestamp column is either *naive* (``datetime64[ns]``, DuckDB ``TIMESTAMP``) or *aware*
    (``datetime64[ns, tz]``, DuckDB ``TIMESTAMP WITH TIME ZONE``). Naive and aware are never
    mixed: comparing an aware entity timestamp with a naive event timestamp (or the reverse), or
    ingesting an aware batch into a view stored naive, is an :class:`InvalidInput` that names
    both columns. Aware timestamps are compared as instants (in UTC), whatever their zones; naive
    ones are compared as they are. Event times are stored as given (aware ones as UTC instants).

Versions and stored rows:
    Ingested rows belong to the view, not to one version. Each version reads them with its own
    columns and types: a file written before a feature existed gives null for it, and values are
    cast to the version's dtypes. Join keys must be integers (stored as BIGINT) or strings.
    Each batch file is named after the moment it was written (UTC), so a training frame can be
    read *as of* a past moment (a replay): batches written later are left out. A file source
    has no such history and is read as it is now.

Ties:
    When rows of a view share the join keys and the event time, one rule picks the row that a
    point-in-time join and ``latest_rows`` (hence materialization and the online store) take:

    1. with a ``created_timestamp_field``, the row created last wins, and a row whose created
       time is null loses to one that has it (Feast's rule for ``created_timestamp_column``);
    2. then, and without that field, the row *read last* wins: the later row of a file, the
       later file of a folder (in path order), the later ingested batch (batches are read in
       the order they were written), the later row a Python transform returns.

    So the same data always gives the same answer. A ``transform_sql`` whose result has no
    defined order (``GROUP BY``, joins) leaves rule 2 to DuckDB: end it with ``ORDER BY`` or
    declare a ``created_timestamp_field`` when its rows can tie.
"""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from jupyter_mlops.errors import InvalidInput
from jupyter_mlops.features.definitions import (
    DUCKDB_TYPES,
    CsvSource,
    Field,
    ParquetSource,
)
from jupyter_mlops.features.schemas import Schema
from jupyter_mlops.lineage import feature_column
from jupyter_mlops.paths import inside

if TYPE_CHECKING:
    import duckdb
    import pandas as pd

    from jupyter_mlops.features.registry import ResolvedView
    from jupyter_mlops.features.schemas import ViewVersion

_ROW = "__mlops_row"
_POSITION = "__mlops_position"
_NARROW = "__mlops_narrow_view"
# The order rows are read in (1, 2, ...), the last tie-breaker, and the tie order of a row.
_READ = "__mlops_read"
_ORDER = "__mlops_order"
# Stand-ins for "no created time" (loses to any) and "any row" on the entity side of the join;
# epoch microseconds of real times are far inside them.
_NO_CREATED = -(2**62)
_ANY = 2**62
#: The name of a batch file starts with the moment it was written (UTC).
_BATCH_STAMP = "%Y%m%dT%H%M%S%f"
# Bytes per value, to estimate a view's size in Arrow (strings: a guess at a typical one).
_WIDTH = {"bool": 1, "string": 40}
_INTEGER = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER"}
_FLOAT = {"FLOAT", "DOUBLE"}
_TIMESTAMP_NAIVE = {"TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS", "DATE"}
# DuckDB 2 reads nanosecond aware timestamps (pandas' datetime64[ns, tz]) as TIMESTAMPTZ_NS.
_TIMESTAMP_AWARE = {"TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ_NS"}
# The DuckDB types a batch column may have for each declared dtype; values are cast on write.
_ACCEPTED: dict[str, set[str]] = {
    "int64": _INTEGER,
    "float64": _FLOAT | _INTEGER,
    "bool": {"BOOLEAN"},
    "string": {"VARCHAR"},
    "timestamp": _TIMESTAMP_NAIVE | _TIMESTAMP_AWARE,
}


class IngestResult(Schema):
    """What one ``ingest`` call wrote."""

    view: str
    version: int
    rows: int
    file: str | None


def connect(root: Path | None = None) -> duckdb.DuckDBPyConnection:
    """A new in-memory DuckDB connection whose session time zone is UTC.

    With UTC as the session zone, aware timestamps come back to pandas as UTC. With ``root``,
    the connection can read and write files under ``root`` only: a view's SQL transform cannot
    reach files outside the workspace (DuckDB's ``enable_external_access = false`` with
    ``allowed_directories``), and DuckDB spills to ``root/.mlops/features/tmp``.
    """
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    if root is not None:
        spill = root / ".mlops" / "features" / "tmp"
        con.execute(f"SET temp_directory = {literal(str(spill))}")
        con.execute(f"SET allowed_directories = [{literal(str(root) + os.sep)}]")
        con.execute("SET enable_external_access = false")
    return con


def quote(identifier: str) -> str:
    """A SQL identifier in double quotes."""
    return '"' + identifier.replace('"', '""') + '"'


def literal(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


@contextmanager
def duckdb_errors(subject: str) -> Iterator[None]:
    """Turn DuckDB's errors about the user's data or definitions into :class:`InvalidInput`."""
    import duckdb

    try:
        yield
    except (
        duckdb.IOException,
        duckdb.BinderException,
        duckdb.ConversionException,
        duckdb.ParserException,
        duckdb.CatalogException,
        duckdb.InvalidInputException,
        duckdb.PermissionException,
    ) as exc:
        first = str(exc).strip().splitlines()[0]
        raise InvalidInput(
            f"{subject}: {first}",
            hint="Files outside the workspace cannot be read."
            if isinstance(exc, duckdb.PermissionException)
            else "Check that the view's source, transform and fields match the data.",
        ) from None


def _kind(duck_type: str) -> str:
    """``naive``, ``aware``, ``integer`` or the type itself, for compatibility checks."""
    if duck_type in _TIMESTAMP_NAIVE:
        return "naive"
    if duck_type in _TIMESTAMP_AWARE:
        return "aware"
    if duck_type in _INTEGER or duck_type in {"UBIGINT", "HUGEINT"}:
        return "integer"
    return duck_type


def _describe(con: duckdb.DuckDBPyConnection, sql: str) -> dict[str, str]:
    rows = con.execute(f"DESCRIBE {sql}").fetchall()
    return {str(r[0]): str(r[1]) for r in rows}


class OfflineStore:
    """Feature data of a workspace, and the point-in-time joins that build training frames."""

    def __init__(self, root: Path, data_root: Path) -> None:
        """
        Args:
            root: the workspace folder: sources are read inside it only.
            data_root: where ingested rows are kept (``.mlops/features/data``).
        """
        self.root = root
        self.data_root = data_root

    def connect(self) -> duckdb.DuckDBPyConnection:
        """A DuckDB connection that reads and writes inside the workspace only."""
        return connect(self.root)

    def data_dir(self, view: str) -> Path:
        """Where ingested rows of ``view`` are kept."""
        return self.data_root / view

    # -- reading ----------------------------------------------------------------------------

    def batches(self, view: str, as_of: datetime | None = None) -> list[Path]:
        """The batch files of an ingested view, oldest first; with ``as_of`` (aware), only those
        written at or before it."""
        files = sorted(self.data_dir(view).glob("*.parquet"))
        if as_of is None:
            return files
        return [f for f in files if batch_written(f) <= as_of]

    def raw_sql(self, view: ViewVersion, *, as_of: datetime | None = None) -> str | None:
        """SQL reading the view's rows as stored (an ingested view's as of ``as_of``, when
        given), or None when an ingested view has no rows."""
        definition = view.definition
        source = definition.source
        if source is None:
            files = self.batches(view.name, as_of)
            if not files:
                return None
            folder = self.data_dir(view.name)
            where = (
                literal(str(folder / "*.parquet"))
                if as_of is None
                else "[" + ", ".join(literal(str(f)) for f in files) + "]"
            )
            stored = f"SELECT * FROM read_parquet({where}, union_by_name = true)"
            # Batches ingested before a feature was added have no column for it: they read as
            # NULL rather than failing the whole view.
            with self.connect() as con:
                present = _describe(con, f"({stored})")
            absent = [
                f"NULL::{_duck_type(f)} AS {quote(f.name)}"
                for f in definition.features
                if f.name not in present
            ]
            created = definition.created_timestamp_field
            if created is not None and created not in present:
                # Batches ingested before the view had a created time: null, so they lose ties.
                absent.append(f"NULL::TIMESTAMP AS {quote(created)}")
            if absent:
                stored = stored.replace("SELECT *", f"SELECT *, {', '.join(absent)}", 1)
            return stored
        path = inside(self.root, source.path, must_exist=False)
        if not path.exists():
            raise InvalidInput(
                f"The source of {view.label}, '{source.path}', does not exist.",
                hint="Create the file or fix the path in the view and apply again.",
                field="source",
            )
        if isinstance(source, ParquetSource):
            target = str(path / "**" / "*.parquet") if path.is_dir() else str(path)
            return f"SELECT * FROM read_parquet({literal(target)}, union_by_name = true)"
        if isinstance(source, CsvSource):
            return (
                f"SELECT * FROM read_csv({literal(str(path))}, header = true, "
                f"delim = {literal(source.delimiter)})"
            )
        raise InvalidInput(f"{view.label} has a source of unknown kind.")  # pragma: no cover

    def view_sql(
        self, view: ViewVersion, con: duckdb.DuckDBPyConnection, *, as_of: datetime | None = None
    ) -> str | None:
        """SQL returning the view's join keys, timestamp field, created timestamp field (when
        it has one) and typed features, on ``con``.

        The transform, if any, is applied: SQL is part of the query; a Python function runs
        here, on the rows read into pandas, and its result is registered on ``con``. Features
        are cast to their declared types (``timestamp`` features keep their zone awareness).
        None when there are no rows (as of ``as_of``, see :meth:`raw_sql`).
        """
        raw = self.raw_sql(view, as_of=as_of)
        if raw is None:
            return None
        definition = view.definition
        if definition.transform_sql:
            raw = f"WITH source AS ({raw}) {definition.transform_sql}"
        elif definition.transform is not None:
            frame = self.transformed_rows(view, con, raw)
            name = f"__mlops_transformed_{view.name}_v{view.version}"
            con.register(name, frame)
            raw = f"SELECT * FROM {quote(name)}"
        columns = [quote(k) for k in view.join_keys] + [quote(definition.timestamp_field)]
        if definition.created_timestamp_field is not None:
            columns.append(quote(definition.created_timestamp_field))
        columns += [_cast(f) for f in definition.features]
        return f"SELECT {', '.join(columns)} FROM ({raw})"

    def transformed_rows(
        self,
        view: ViewVersion,
        con: duckdb.DuckDBPyConnection,
        raw: str,
        *,
        limit: int | None = None,
    ) -> pd.DataFrame:
        """The rows of ``raw`` (at most ``limit``) through the view's Python transform.

        The function gets a pandas DataFrame with nullable integer and boolean columns, as a
        training frame has them.

        Raises:
            InvalidInput: the function fails, or does not return the view's columns.
        """
        from jupyter_mlops.features.transforms import apply, function_of

        transform = view.definition.transform
        assert transform is not None
        function = function_of(transform, self.root, view.label)
        query = raw if limit is None else f"SELECT * FROM ({raw}) LIMIT {int(limit)}"
        with duckdb_errors(f"Reading {view.label} failed"), _in_order(con):
            # In the order they are stored: the function's output order breaks ties.
            rows = con.sql(query).to_arrow_table().to_pandas(types_mapper=_pandas_type)
        required = [*view.join_keys, view.definition.timestamp_field]
        if view.definition.created_timestamp_field is not None:
            required.append(view.definition.created_timestamp_field)
        required += [f.name for f in view.definition.features]
        return apply(function, rows, name=transform.name, label=view.label, required=required)

    def check_transform(self, view: ViewVersion, *, sample: int = 100) -> None:
        """Run a view version's Python transform on a sample of its rows, if it has any.

        ``plan`` and ``apply`` call this, so that a function that fails or leaves out a
        column is an error before anything is registered. A source that does not exist yet,
        or an ingested view without rows, cannot be checked, and passes.

        Raises:
            InvalidInput: the function fails, or does not return the view's columns.
        """
        if view.definition.transform is None:
            return
        source = view.definition.source
        if source is not None and not inside(self.root, source.path, must_exist=False).exists():
            return
        raw = self.raw_sql(view)
        if raw is None:
            return
        with self.connect() as con:
            self.transformed_rows(view, con, raw, limit=sample)

    def check_version(self, view: ViewVersion) -> None:
        """What ``plan`` and ``apply`` check of a new view version before registering it: its
        created timestamp field is a timestamp column of the rows, and its Python transform
        runs (:meth:`check_transform`). Rows that do not exist yet cannot be checked, and pass
        (``ingest`` checks its batches).

        Raises:
            InvalidInput: naming the view and the column, or the transform's failure.
        """
        self.check_created_field(view)
        self.check_transform(view)

    def check_created_field(self, view: ViewVersion) -> None:
        """Check that a view's created timestamp field is a timestamp column of its rows.

        Raises:
            InvalidInput: the column is not in the rows (the message lists theirs) or is not a
                timestamp.
        """
        definition = view.definition
        created = definition.created_timestamp_field
        if created is None:
            return
        source = definition.source
        if source is not None and not inside(self.root, source.path, must_exist=False).exists():
            return
        raw = self.raw_sql(view)
        if raw is None:
            return
        with self.connect() as con:
            if definition.transform is not None:
                rows = self.transformed_rows(view, con, raw, limit=100)
                con.register("__mlops_sample", rows)
                raw = "SELECT * FROM __mlops_sample"
            elif definition.transform_sql:
                raw = f"WITH source AS ({raw}) {definition.transform_sql}"
            with duckdb_errors(f"Reading {view.label} failed"):
                types = _describe(con, raw)
        where = (
            "its transform's rows"
            if definition.transform or definition.transform_sql
            else ("its source" if source is not None else "its ingested rows")
        )
        if created not in types:
            raise InvalidInput(
                f"FeatureView '{view.name}': the created timestamp field '{created}' is not a "
                f"column of {where}.",
                hint=f"Its columns are: {', '.join(types)}. Name the column that holds when each "
                "row was created, or drop created_timestamp_field.",
                field="created_timestamp_field",
            )
        if _kind(types[created]) not in {"naive", "aware"}:
            raise InvalidInput(
                f"FeatureView '{view.name}': the created timestamp field '{created}' is "
                f"{types[created]} in {where}, not a timestamp.",
                hint="Store created times as timestamps (e.g. pandas.to_datetime in the source "
                "or the transform), or name another column.",
                field="created_timestamp_field",
            )

    def latest_rows(
        self,
        view: ViewVersion,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        closed: Literal["left", "right"] = "left",
        as_arrow: bool = False,
    ) -> Any:
        """Per entity key, the row with the newest event time in ``[start, end)``.

        This is what materializing a view into an online store reads. ``start``/``end`` follow
        the time-zone rule of this module: give aware datetimes for a view stored aware, naive
        ones for a view stored naive. Ties on the newest event time are broken as the module's
        docstring says (the later created, else the later read row wins). ``closed="right"``
        takes ``(start, end]`` instead: a row at exactly ``end`` is then the value as of
        ``end``, as in a point-in-time join, which is what materialization needs.

        Returns a pandas DataFrame (join keys, timestamp field, the created timestamp field when
        the view has one, features; nullable dtypes as in training frames), or a
        ``pyarrow.Table`` when ``as_arrow``.
        """
        con = self.connect()
        try:
            return self._latest_rows(con, view, start, end, closed, as_arrow)
        finally:
            con.close()

    def _latest_rows(
        self,
        con: duckdb.DuckDBPyConnection,
        view: ViewVersion,
        start: datetime | None,
        end: datetime | None,
        closed: Literal["left", "right"],
        as_arrow: bool,
    ) -> Any:
        definition = view.definition
        ts = quote(definition.timestamp_field)
        sql = self.view_sql(view, con)
        created = definition.created_timestamp_field
        if sql is None:
            keys = ", ".join(f"NULL::BIGINT AS {quote(k)}" for k in view.join_keys)
            feats = ", ".join(
                f"NULL::{_duck_type(f)} AS {quote(f.name)}" for f in definition.features
            )
            stamp = "" if created is None else f"NULL::TIMESTAMP AS {quote(created)}, "
            sql = f"SELECT {keys}, NULL::TIMESTAMP AS {ts}, {stamp}{feats} WHERE false"
        where: list[str] = []
        params: list[datetime] = []
        ops = (">=", "<") if closed == "left" else (">", "<=")
        for value, op in zip((start, end), ops, strict=True):
            if value is not None:
                where.append(f"{ts} {op} ?")
                params.append(value)
        keys = ", ".join(quote(k) for k in view.join_keys)
        order = [f"{ts} DESC"]
        if created is not None:
            order.append(f"{quote(created)} DESC NULLS LAST")
        order.append(f"{_READ} DESC")
        # The connection keeps insertion order (connect() does not turn it off), so the row
        # numbers follow the order the rows are read in.
        query = (
            f"SELECT * EXCLUDE ({_READ}) FROM ({_numbered(sql)}) "
            f"{'WHERE ' + ' AND '.join(where) if where else ''} "
            f"QUALIFY row_number() OVER (PARTITION BY {keys} ORDER BY {', '.join(order)}) = 1"
        )
        with duckdb_errors(f"Reading {view.label} failed"):
            table = con.sql(query, params=params).to_arrow_table()
        return table if as_arrow else table.to_pandas(types_mapper=_pandas_type)

    def timestamp_kind(self, view: ViewVersion) -> Literal["naive", "aware"] | None:
        """Whether the view's event times are naive or aware; None when it has no rows yet."""
        ts = view.definition.timestamp_field
        con = self.connect()
        try:
            sql = self.view_sql(view, con)
            if sql is None:
                return None
            with duckdb_errors(f"Reading {view.label} failed"):
                duck_type = _describe(con, sql)[ts]
        finally:
            con.close()
        kind = _kind(duck_type)
        if kind == "naive":
            return "naive"
        if kind == "aware":
            return "aware"
        raise InvalidInput(
            f"{view.label}'s timestamp field '{ts}' is {duck_type}, not a timestamp.",
            hint="Store event times as timestamps in the source.",
            field="timestamp_field",
        )

    # -- ingest -----------------------------------------------------------------------------

    def ingest(
        self,
        view: ViewVersion,
        data: pd.DataFrame,
        *,
        extra_columns: Literal["reject", "drop"] = "reject",
    ) -> IngestResult:
        """Append a batch of rows to an ingested view, all or nothing.

        The batch must have the view's join keys, its timestamp field, its created timestamp
        field when it has one (null values allowed: such rows lose ties) and every feature.
        A batch is rejected whole, with nothing written, when a column is missing, when a column
        has a type its field does not accept (``int64`` takes any integer type, ``float64`` any
        integer or float, ``bool`` booleans, ``string`` strings, ``timestamp`` timestamps), when
        a join key or event time is null, or when its event times' zone awareness differs from
        the rows already stored. Columns the view does not declare are rejected too (a typo in a
        column name would otherwise lose data silently); pass ``extra_columns="drop"`` to
        drop them instead. The batch is written to a temporary file that is renamed into
        place only when complete.

        Raises:
            InvalidInput: the view is read from a file source, or the batch breaks the schema
                (the message names every offending column).
        """
        import pandas as pd

        if extra_columns not in ("reject", "drop"):
            raise InvalidInput(
                f"extra_columns must be 'reject' or 'drop', not {extra_columns!r}.",
                field="extra_columns",
            )
        definition = view.definition
        if definition.source is not None:
            raise InvalidInput(
                f"{view.label} reads its rows from {definition.source.path}; only views with "
                "source=None take ingested rows.",
                hint="Write to the source file instead, or define the view with source=None.",
                field="view",
            )
        if not isinstance(data, pd.DataFrame):
            raise InvalidInput(
                f"ingest takes a pandas DataFrame, not {type(data).__name__}.", field="data"
            )
        keys, ts = view.join_keys, definition.timestamp_field
        created = definition.created_timestamp_field
        stamps = [ts] if created is None else [ts, created]
        expected = [*keys, *stamps, *(f.name for f in definition.features)]
        columns = [str(c) for c in data.columns]
        missing = [c for c in expected if c not in columns]
        extra = [c for c in columns if c not in expected]
        problems: list[str] = []
        if missing:
            problems.append(f"missing columns: {', '.join(missing)}")
        if extra and extra_columns == "reject":
            problems.append(f"columns not in the view: {', '.join(extra)}")
        if len(set(columns)) != len(columns):
            problems.append("repeated column names")
        if problems:
            raise InvalidInput(
                f"Batch rejected for {view.label}, nothing written: {'; '.join(problems)}.",
                hint=f"The view's columns are: {', '.join(expected)}.",
                field="data",
            )
        if data.empty:
            return IngestResult(view=view.name, version=view.version, rows=0, file=None)
        batch = data[expected]
        con = self.connect()
        try:
            con.register("batch", batch)
            types = _describe(con, "SELECT * FROM batch")
            stored = self._stored_types(con, view)
            problems = _type_problems(view, types, stored)
            if not problems:
                required = [*keys, ts]
                nulls = ", ".join(f"count(*) FILTER (WHERE {quote(c)} IS NULL)" for c in required)
                counts = con.execute(f"SELECT {nulls} FROM batch").fetchall()[0]
                problems = [
                    f"{c} has {n} null values" for c, n in zip(required, counts, strict=True) if n
                ]
            if problems:
                raise InvalidInput(
                    f"Batch rejected for {view.label}, nothing written: {'; '.join(problems)}.",
                    hint="Fix the column types or values (see the view's fields) and ingest again.",
                    field="data",
                )
            select = [_key_cast(k, types[k]) for k in keys] + [quote(c) for c in stamps]
            select += [_cast(f) for f in definition.features]
            folder = self.data_dir(view.name)
            folder.mkdir(parents=True, exist_ok=True)
            stamp = datetime.now(UTC).strftime(_BATCH_STAMP)
            final = folder / f"{stamp}-{uuid.uuid4().hex[:8]}.parquet"
            # The temporary name does not end in .parquet, so readers never see it.
            tmp = final.with_suffix(".parquet.tmp")
            try:
                with duckdb_errors(f"Batch rejected for {view.label}, nothing written"):
                    con.execute(
                        f"COPY (SELECT {', '.join(select)} FROM batch) "
                        f"TO {literal(str(tmp))} (FORMAT parquet)"
                    )
                os.replace(tmp, final)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
        finally:
            con.close()
        return IngestResult(view=view.name, version=view.version, rows=len(batch), file=str(final))

    def _stored_types(self, con: duckdb.DuckDBPyConnection, view: ViewVersion) -> dict[str, str]:
        raw = self.raw_sql(view)
        return {} if raw is None else _describe(con, raw)

    # -- training frames --------------------------------------------------------------------

    def get_training_frame(
        self,
        entity_df: pd.DataFrame,
        views: Sequence[ResolvedView],
        *,
        timestamp_column: str = "event_timestamp",
        full_names: bool = False,
        as_arrow: bool = False,
        as_of: datetime | None = None,
    ) -> Any:
        """The entity rows with, for each feature, its value as of the row's timestamp.

        See :meth:`jupyter_mlops.features.service.FeatureStore.get_training_frame`. With
        ``as_of`` (aware), ingested batches written after it are left out.
        """
        import pandas as pd

        if not isinstance(entity_df, pd.DataFrame):
            raise InvalidInput(
                f"The entity frame must be a pandas DataFrame, not {type(entity_df).__name__}.",
                field="entity_df",
            )
        columns = [str(c) for c in entity_df.columns]
        problems = []
        if timestamp_column not in columns:
            problems.append(f"the timestamp column '{timestamp_column}'")
        needed_by: dict[str, list[str]] = {}
        for rv in views:
            for k in rv.view.join_keys:
                if k not in columns:
                    needed_by.setdefault(k, []).append(rv.view.label)
        problems += [f"join key '{k}' (of {', '.join(by)})" for k, by in needed_by.items()]
        if problems:
            raise InvalidInput(
                f"The entity frame lacks {', '.join(problems)}.",
                hint=f"Its columns are: {', '.join(columns) or '(none)'}. Pass timestamp_column= "
                "if the timestamp has another name.",
                field="entity_df",
            )
        ts_dtype = entity_df[timestamp_column].dtype
        if not pd.api.types.is_datetime64_any_dtype(ts_dtype):
            raise InvalidInput(
                f"The entity frame's timestamp column '{timestamp_column}' has dtype {ts_dtype}, "
                "not a datetime.",
                hint="Convert it with pandas.to_datetime(...).",
                field="entity_df",
            )
        names = self._output_names(views, columns, full_names)
        keys = list(dict.fromkeys(k for rv in views for k in rv.view.join_keys))
        import numpy as np

        # Only the join columns go to DuckDB, with the row number that restores the input order.
        left = entity_df[[*keys, timestamp_column]]
        left = left.set_axis(range(len(left))).assign(
            **{_ROW: np.arange(len(left), dtype=np.int64)}
        )
        pa = _pyarrow()
        # Each feature's values in entity-row order, by output column name.
        joined: dict[str, Any] = {}
        con = self.connect()
        try:
            # Row order is restored from the row numbers, so DuckDB need not keep it.
            con.execute("SET preserve_insertion_order = false")
            con.register("entity", left)
            entity_types = _describe(con, "SELECT * FROM entity")
            for rv in views:
                sql = self._joinable_sql(con, rv.view, entity_types, timestamp_column, as_of)
                with duckdb_errors(f"Building the training frame from {rv.view.label} failed"):
                    columns = self._join_view(con, rv, sql, timestamp_column, len(left))
                for f, column in zip(rv.features, columns, strict=True):
                    joined[names[(rv.view.label, f.name)]] = column
        finally:
            con.close()
        table = pa.table(joined)
        if as_arrow:
            base = pa.Table.from_pandas(entity_df, preserve_index=False)
            for name, column in zip(table.column_names, table.columns, strict=True):
                base = base.append_column(name, column)
            return base
        features = table.to_pandas(types_mapper=_pandas_type).set_axis(entity_df.index)
        # concat shares the columns' memory (copy-on-write) where assigning one by one copies.
        out = pd.concat([entity_df, features], axis=1)
        out.attrs = dict(entity_df.attrs)
        return out

    def _join_view(
        self,
        con: duckdb.DuckDBPyConnection,
        rv: ResolvedView,
        sql: str,
        timestamp_column: str,
        rows: int,
    ) -> list[Any]:
        """One view's point-in-time join: its features' values (Arrow) in entity-row order.

        When the view's rows fit comfortably in memory (see :func:`_late_budget`), the join is
        *late-materialized*: the view is read once into Arrow, the ``ASOF JOIN`` runs on its
        join keys, event time and row position only, and the features are gathered by position
        afterwards. Sorting narrow rows is much cheaper than sorting every feature along (about
        a third less CPU for ten float features), and the result is the same. Larger views are
        joined in one query, which DuckDB can spill to disk.
        """
        import numpy as np

        pa = _pyarrow()
        definition = rv.view.definition
        keys = rv.view.join_keys
        ts = definition.timestamp_field
        created = definition.created_timestamp_field
        # The inequality compares (event time, created time, read order): of rows tied on the
        # event time, the last by created time, then by read order, is the one matched (see
        # "Ties" in the module's docstring). Every entity row ranks after all of them.
        on = [f"e.{quote(k)} = v.{quote(k)}" for k in keys]
        on.append(f"e.{_ORDER} >= v.{_ORDER}")
        condition = " AND ".join(on)
        entity = f"(SELECT *, {_tie_order(quote(timestamp_column), None, None)} FROM entity)"
        fresh = None
        if definition.ttl is not None:
            seconds = int(definition.ttl.total_seconds())
            limit = f"e.{quote(timestamp_column)} - INTERVAL {seconds} SECOND"
            fresh = f"v.{quote(ts)} >= {limit}"
        names = [f.name for f in rv.features]

        def value(column: str) -> str:
            return f"v.{column}" if fresh is None else f"CASE WHEN {fresh} THEN v.{column} END"

        stamp = None if created is None else quote(created)
        if self._fits_in_memory(con, rv, sql):
            # Read in order, so that a row's position is its read order.
            with _in_order(con):
                table = con.sql(sql).to_arrow_table()
            position = pa.array(np.arange(table.num_rows, dtype=np.int64))
            narrow_columns = [*keys, ts] if created is None else [*keys, ts, created]
            narrow = table.select(narrow_columns).append_column(_POSITION, position)
            con.register(_NARROW, narrow)
            plain = " AND ".join([*on[:-1], f"e.{quote(timestamp_column)} >= v.{quote(ts)}"])
            try:
                # The ASOF JOIN on the event time alone (cheaper to sort than the tie order),
                # then the matched rows that have ties are moved to their tie's winner.
                found = con.sql(
                    f"SELECT {value(_POSITION)} AS {_POSITION}, e.{_ROW} "
                    f"FROM entity e ASOF LEFT JOIN {_NARROW} v ON {plain}"
                ).to_arrow_table()
                found = _tie_winners(con, found, narrow, keys, ts, stamp)
            finally:
                con.unregister(_NARROW)
            # A null position (no row, or one older than the TTL) gathers a null.
            return _gather([table.column(n) for n in names], _in_input_order(found, rows))
        selects = [f"{value(quote(n))} AS {quote(n)}" for n in names]
        ordered = f"SELECT *, {_tie_order(quote(ts), stamp, _READ)} FROM ({_numbered(sql)})"
        with _in_order(con):
            found = con.sql(
                f"SELECT {', '.join(selects)}, e.{_ROW} "
                f"FROM {entity} e ASOF LEFT JOIN ({ordered}) v ON {condition}"
            ).to_arrow_table()
        return list(_in_input_order(found, rows).columns)

    def _fits_in_memory(self, con: duckdb.DuckDBPyConnection, rv: ResolvedView, sql: str) -> bool:
        """Whether the view's rows, read into Arrow, stay under :func:`_late_budget`."""
        (count,) = con.sql(f"SELECT count(*) FROM ({sql})").fetchall()[0]
        definition = rv.view.definition
        # Keys (strings count more below), time, position, and the created time if any.
        width = 8 * (len(rv.view.join_keys) + 2 + (definition.created_timestamp_field is not None))
        width += sum(_WIDTH.get(f.dtype, 8) for f in definition.features)
        return int(count) * width <= _late_budget()

    def _output_names(
        self, views: Sequence[ResolvedView], columns: list[str], full_names: bool
    ) -> dict[tuple[str, str], str]:
        names: dict[tuple[str, str], str] = {}
        taken = set(columns)
        for rv in views:
            for f in rv.features:
                name = feature_column(rv.view.name, f.name, full_names=full_names)
                if name in taken:
                    raise InvalidInput(
                        f"Feature {rv.view.label}:{f.name} would be column '{name}', which the "
                        "entity frame or another requested feature already has.",
                        hint="Pass full_names=True to name columns '<view>__<feature>'.",
                        field="features",
                    )
                taken.add(name)
                names[(rv.view.label, f.name)] = name
        return names

    def _joinable_sql(
        self,
        con: duckdb.DuckDBPyConnection,
        view: ViewVersion,
        entity_types: dict[str, str],
        timestamp_column: str,
        as_of: datetime | None = None,
    ) -> str:
        """The view's SQL, after checking its key and timestamp types against the entity's."""
        definition = view.definition
        ts = definition.timestamp_field
        sql = self.view_sql(view, con, as_of=as_of)
        if sql is None:
            # No rows yet: an empty relation with the entity's key and timestamp types.
            cols = [f"{quote(k)}" for k in view.join_keys]
            cols.append(f"{quote(timestamp_column)} AS {quote(ts)}")
            cols += [f"NULL::{_duck_type(f)} AS {quote(f.name)}" for f in definition.features]
            return f"SELECT {', '.join(cols)} FROM entity WHERE false"
        with duckdb_errors(f"Reading {view.label} failed"):
            types = _describe(con, sql)
        theirs, ours = _kind(types[ts]), _kind(entity_types[timestamp_column])
        if {theirs, ours} == {"naive", "aware"}:
            raise InvalidInput(
                f"Time zones do not match: the entity frame's '{timestamp_column}' is {ours} "
                f"but {view.label}'s '{ts}' is {theirs}; naive and aware timestamps are never "
                "compared.",
                hint=f"Make '{timestamp_column}' {theirs}: "
                + (
                    "df[col] = df[col].dt.tz_localize('UTC') (or your zone)."
                    if theirs == "aware"
                    else "df[col] = df[col].dt.tz_convert('UTC').dt.tz_localize(None)."
                ),
                field="entity_df",
            )
        for key in view.join_keys:
            a, b = _kind(entity_types[key]), _kind(types[key])
            if a != b:
                raise InvalidInput(
                    f"Join key '{key}' is {entity_types[key]} in the entity frame but {types[key]} "
                    f"in {view.label}.",
                    hint=f"Convert the entity frame's '{key}' to the view's type.",
                    field="entity_df",
                )
        return sql


_MATCHED = "__mlops_matched"


def _tie_winners(
    con: duckdb.DuckDBPyConnection,
    found: Any,
    narrow: Any,
    keys: Sequence[str],
    ts: str,
    created: str | None,
) -> Any:
    """``found`` (a matched position and the entity row number per entity row) with each
    position moved to the winner of its tie (see "Ties" in the module's docstring).

    Only the (keys, event time) pairs some entity row matched are looked for among the view's
    rows (``narrow``, registered as ``__mlops_narrow_view``): a semi join of the view's narrow
    rows against those pairs. For 1M entity rows and a 10M-row view that is about 1 s of CPU,
    half of what an ASOF JOIN sorting every row by the full tie order added.
    """
    pa = _pyarrow()
    positions = found.column(_POSITION)
    picked = narrow.select([*keys, ts]).take(positions)  # null where nothing matched
    columns = {_ROW: found.column(_ROW), _POSITION: positions}
    columns.update({c: picked.column(c) for c in [*keys, ts]})
    con.register(_MATCHED, pa.table(columns))
    pair = [*keys, ts]
    cols = ", ".join(f"n.{quote(c)}" for c in pair)
    if created is None:
        best = f"max(n.{_POSITION})"
    else:
        stamp = f"coalesce(epoch_us(CAST(n.{created} AS TIMESTAMP)), {_NO_CREATED})"
        best = f"struct_extract(max({{'c': {stamp}, 'r': n.{_POSITION}}}), 'r')"
    # A semi join (the view's rows of a matched pair), cheaper than a join on the distinct pairs.
    same = " AND ".join(f"n.{quote(c)} = m.{quote(c)}" for c in pair)
    back = " AND ".join(f"m.{quote(c)} = w.{quote(c)}" for c in pair)
    try:
        return con.sql(
            f"WITH w AS (SELECT {cols}, {best} AS {_POSITION} FROM {_NARROW} n "
            f"SEMI JOIN {_MATCHED} m ON {same} GROUP BY ALL HAVING count(*) > 1) "
            f"SELECT coalesce(w.{_POSITION}, m.{_POSITION}) AS {_POSITION}, m.{_ROW} "
            f"FROM {_MATCHED} m LEFT JOIN w ON {back}"
        ).to_arrow_table()
    finally:
        con.unregister(_MATCHED)


@contextmanager
def _in_order(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Keep insertion order on ``con`` for a while (a training frame's connection drops it)."""
    row = con.execute("SELECT current_setting('preserve_insertion_order')").fetchone()
    before = True if row is None else bool(row[0])
    con.execute("SET preserve_insertion_order = true")
    try:
        yield
    finally:
        con.execute(f"SET preserve_insertion_order = {'true' if before else 'false'}")


def _numbered(sql: str) -> str:
    """``sql`` with each row's read order (1, 2, ...) in column ``__mlops_read``.

    ``row_number() OVER ()`` numbers rows as they arrive, which is their read order when the
    connection preserves insertion order.
    """
    return f"SELECT *, row_number() OVER () AS {_READ} FROM ({sql})"


def _tie_order(ts: str, created: str | None, read: str | None) -> str:
    """The ``__mlops_order`` column: (event time, created time, read order) as one struct,
    which DuckDB compares field by field, so that an ASOF JOIN's inequality on it breaks ties
    on the event time. ``read=None`` is the entity side: after every row of its event time.
    A null created time ranks first (it loses); without a created field every row's is equal.
    """
    if read is None:
        order = f"{{'t': {ts}, 'c': {_ANY}::BIGINT, 'r': {_ANY}::BIGINT}}"
    else:
        stamp = (
            "0::BIGINT"
            if created is None
            else f"coalesce(epoch_us(CAST({created} AS TIMESTAMP)), {_NO_CREATED})::BIGINT"
        )
        order = f"{{'t': {ts}, 'c': {stamp}, 'r': {read}::BIGINT}}"
    # A missing time never matches, as in a comparison of the times themselves.
    return f"CASE WHEN {ts} IS NOT NULL THEN {order} END AS {_ORDER}"


def batch_written(path: Path) -> datetime:
    """When an ingested batch file was written (UTC): the stamp its name starts with, or its
    modification time for a file named otherwise."""
    try:
        return datetime.strptime(path.name.split("-", 1)[0], _BATCH_STAMP).replace(tzinfo=UTC)
    except ValueError:
        return datetime.fromtimestamp(path.stat().st_mtime, UTC)


def _duck_type(f: Field) -> str:
    return DUCKDB_TYPES[f.dtype]


def _cast(f: Field) -> str:
    if f.dtype == "timestamp":
        return quote(f.name)
    return f"CAST({quote(f.name)} AS {_duck_type(f)}) AS {quote(f.name)}"


def _key_cast(key: str, duck_type: str) -> str:
    # Integer keys are stored as BIGINT, so batches of int32 and int64 keys read back alike.
    return f"CAST({quote(key)} AS BIGINT) AS {quote(key)}" if duck_type in _INTEGER else quote(key)


def _type_problems(view: ViewVersion, types: dict[str, str], stored: dict[str, str]) -> list[str]:
    definition = view.definition
    ts = definition.timestamp_field
    problems = []
    for f in definition.features:
        if types[f.name] not in _ACCEPTED[f.dtype]:
            problems.append(f"{f.name} is {types[f.name]}, the view says {f.dtype}")
    if _kind(types[ts]) not in {"naive", "aware"}:
        problems.append(f"{ts} (the timestamp field) is {types[ts]}, not a timestamp")
    elif ts in stored and _kind(stored[ts]) in {"naive", "aware"} - {_kind(types[ts])}:
        problems.append(
            f"{ts} is {_kind(types[ts])} but the stored rows' {ts} is {_kind(stored[ts])} "
            "(naive and aware timestamps are never mixed)"
        )
    created = definition.created_timestamp_field
    if created is not None:
        kind = _kind(types[created])
        if kind not in {"naive", "aware"}:
            problems.append(
                f"{created} (the created timestamp field) is {types[created]}, not a timestamp"
            )
        elif created in stored and _kind(stored[created]) in {"naive", "aware"} - {kind}:
            problems.append(
                f"{created} is {kind} but the stored rows' {created} is "
                f"{_kind(stored[created])} (naive and aware timestamps are never mixed)"
            )
    for k in view.join_keys:
        if _kind(types[k]) not in {"integer", "VARCHAR"}:
            problems.append(f"join key {k} is {types[k]}; join keys are integers or strings")
        elif k in stored and _kind(stored[k]) != _kind(types[k]):
            problems.append(f"join key {k} is {types[k]} but stored as {stored[k]}")
    return problems


def _in_input_order(table: Any, rows: int) -> Any:
    """The join's rows put back in input order, and the row-number column dropped.

    An ASOF LEFT JOIN yields each entity row exactly once, so the row numbers are a permutation:
    inverting it is O(n) and a gather, cheaper than sorting in SQL.
    """
    import numpy as np

    numbers = table.column(_ROW).to_numpy()
    if len(numbers) != rows:  # pragma: no cover - would be a DuckDB bug
        raise RuntimeError(f"The join returned {len(numbers)} rows for {rows} entity rows.")
    position = np.empty(rows, dtype=np.int64)
    position[numbers] = np.arange(rows, dtype=np.int64)
    return table.drop_columns([_ROW]).take(position)


@functools.cache
def _late_budget() -> int:
    """The largest view (estimated bytes in Arrow) a training frame reads into memory whole:
    an eighth of the machine's memory, so that several joins at once still fit."""
    try:
        total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):  # pragma: no cover - not POSIX
        total = 8 << 30
    return int(total) // 8


def _gather(columns: list[Any], positions: Any) -> list[Any]:
    """``column.take(positions)`` for each column, on several threads for large gathers.

    Gathering a million values from anywhere in a large column is bound by memory latency, not
    by computation; pyarrow releases the GIL, so columns gathered side by side take less time.
    """
    index = positions.column(0)
    if len(columns) < 2 or len(index) * len(columns) < 1_000_000:
        return [c.take(index) for c in columns]
    from concurrent.futures import ThreadPoolExecutor

    workers = min(len(columns), os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mlops-gather") as pool:
        return list(pool.map(lambda c: c.take(index), columns))


def _pandas_type(arrow_type: Any) -> Any:
    """Nullable pandas dtypes for integers and booleans, so missing values never change them."""
    import pandas as pd

    pa = _pyarrow()
    if pa.types.is_integer(arrow_type):
        return pd.Int64Dtype()
    if pa.types.is_boolean(arrow_type):
        return pd.BooleanDtype()
    return None


def _pyarrow() -> Any:
    # pyarrow ships no type information; importing it this way keeps mypy strict elsewhere.
    import importlib

    return importlib.import_module("pyarrow")
