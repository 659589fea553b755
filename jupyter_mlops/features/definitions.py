"""What a feature store is made of: entities, typed fields, sources and feature views.

Definitions are plain pydantic models. They are written in ``features/*.py`` files in the workspace
or declared in a notebook, and checked when built: an unknown dtype or a TTL that cannot be parsed
fails at once with :class:`~jupyter_mlops.errors.InvalidInput` naming the field, long before
``plan`` or ``apply`` write anything.

Example:
    >>> customer = Entity(name="customer", join_keys=["customer_id"])
    >>> stats = FeatureView(
    ...     name="customer_stats",
    ...     entities=[customer],
    ...     source=ParquetSource(path="data/customer_stats.parquet"),
    ...     timestamp_field="event_timestamp",
    ...     features=[Field("avg_spend", "float64"), Field("orders", "int64")],
    ...     ttl="30d",
    ... )
    >>> stats.ttl
    datetime.timedelta(days=30)

Data types (``Field.dtype``) are a closed set; every feature value may be missing (null):

=============  =================  ==========================================================
dtype          DuckDB type        pandas dtype in a training frame
=============  =================  ==========================================================
``int64``      BIGINT             ``Int64`` (nullable: integers never turn into floats)
``float64``    DOUBLE             ``float64`` (missing is NaN)
``bool``       BOOLEAN            ``boolean`` (nullable)
``string``     VARCHAR            pandas' default string dtype (missing is NaN)
``timestamp``  TIMESTAMP[TZ]      ``datetime64[us]`` or ``datetime64[us, UTC]`` (missing: NaT)
=============  =================  ==========================================================
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import PurePath
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, BeforeValidator, ConfigDict, PlainSerializer, ValidationError
from pydantic import Field as ModelField

from jupyter_mlops.errors import InvalidInput
from jupyter_mlops.features.transforms import PythonTransform, from_function

DType = Literal["int64", "float64", "bool", "string", "timestamp"]
DTYPES: tuple[str, ...] = get_args(DType)

# The DuckDB type each dtype is stored and returned as.
DUCKDB_TYPES: dict[str, str] = {
    "int64": "BIGINT",
    "float64": "DOUBLE",
    "bool": "BOOLEAN",
    "string": "VARCHAR",
    "timestamp": "TIMESTAMP",
}

_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
_TTL = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_TTL_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_ttl(value: object) -> timedelta | None:
    """A TTL from ``"30d"``, ``"12h"``, ``"90m"``, ``"45s"``, ``"2w"``, a timedelta, or None.

    None (or ``"0"``/0) means that values never expire.

    Raises:
        InvalidInput: the value is not one of those forms, or is negative.
    """
    if value is None or value == 0 or value == "0":
        return None
    if isinstance(value, timedelta):
        ttl = value
    elif isinstance(value, str) and (match := _TTL.match(value.lower())):
        ttl = timedelta(**{_TTL_UNITS[match.group(2)]: int(match.group(1))})
    else:
        raise InvalidInput(
            f"TTL {value!r} cannot be parsed.",
            hint="Write a number and a unit (s, m, h, d, w), e.g. '30d', '12h', '90m'; "
            "or a datetime.timedelta; or None for no expiry.",
            field="ttl",
        )
    if ttl <= timedelta(0):
        raise InvalidInput(f"TTL {value!r} must be positive.", field="ttl")
    return ttl


def format_ttl(ttl: timedelta | None) -> str | None:
    """The shortest ``"30d"``-style text for a TTL (None stays None)."""
    if ttl is None:
        return None
    seconds = int(ttl.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _check_dtype(value: object) -> object:
    if isinstance(value, str) and value in DTYPES:
        return value
    raise InvalidInput(
        f"Unknown dtype {value!r}.",
        hint=f"Use one of: {', '.join(DTYPES)}.",
        field="dtype",
    )


TTL = Annotated[
    timedelta | None,
    BeforeValidator(parse_ttl),
    PlainSerializer(format_ttl, return_type=str | None),
]


class _Definition(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def __init__(self, **data: Any) -> None:
        # Errors raised by validators (InvalidInput) pass through; pydantic's own errors are
        # turned into InvalidInput naming the field, so users see one kind of error.
        kind = type(self).__name__
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise _invalid(kind, data, exc) from None
        except InvalidInput as exc:
            if exc.message.startswith(kind) or exc.message.startswith("Field "):
                raise
            name = data.get("name", "?")
            raise InvalidInput(
                f"{kind} {name!r}: {exc.message}", hint=exc.hint, field=exc.field
            ) from None


def _invalid(kind: str, data: dict[str, Any], exc: ValidationError) -> InvalidInput:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "(definition)"
    name = data.get("name", "?")
    if err["type"] == "extra_forbidden":
        return InvalidInput(f"{kind} {name!r}: unknown argument '{where}'.", field=where)
    return InvalidInput(f"{kind} {name!r}: '{where}': {err['msg']}.", field=where)


class Entity(_Definition):
    """A thing features describe (a customer, a product), identified by its join keys.

    Args:
        name: the entity's name, e.g. ``"customer"``.
        join_keys: the columns that identify one entity, e.g. ``["customer_id"]``.
        description: free text.
    """

    name: str = ModelField(pattern=_NAME)
    join_keys: list[Annotated[str, ModelField(pattern=_NAME)]] = ModelField(min_length=1)
    description: str = ""

    def __init__(self, name: str, join_keys: list[str], description: str = "", **kw: Any) -> None:
        super().__init__(name=name, join_keys=join_keys, description=description, **kw)


class Field(_Definition):
    """One typed feature column. ``dtype`` is one of ``int64, float64, bool, string, timestamp``."""

    name: str = ModelField(pattern=_NAME)
    dtype: Annotated[DType, BeforeValidator(_check_dtype)]
    description: str = ""

    def __init__(self, name: str, dtype: str = "float64", description: str = "", **kw: Any) -> None:
        try:
            super().__init__(name=name, dtype=dtype, description=description, **kw)
        except InvalidInput as exc:
            raise InvalidInput(
                f"Field {name!r}: {exc.message}", hint=exc.hint, field=f"{name}.dtype"
            ) from None


class ParquetSource(_Definition):
    """A Parquet file, or a folder of them (read recursively), inside the workspace."""

    kind: Literal["parquet"] = "parquet"
    path: str = ModelField(min_length=1)


class CsvSource(_Definition):
    """A CSV file with a header row, inside the workspace."""

    kind: Literal["csv"] = "csv"
    path: str = ModelField(min_length=1)
    delimiter: str = ","


def _source_from_path(value: object) -> object:
    # A bare path is a convenience: ".csv" files are CSV sources, anything else Parquet.
    if isinstance(value, str | PurePath):
        path = str(value)
        return CsvSource(path=path) if path.lower().endswith(".csv") else ParquetSource(path=path)
    return value


Source = Annotated[
    ParquetSource | CsvSource,
    ModelField(discriminator="kind"),
    BeforeValidator(_source_from_path),
]


class FeatureView(_Definition):
    """A named, typed group of features of one or more entities, with their event time.

    Args:
        name: the view's name, used in references (``"customer_stats:avg_spend"``).
        entities: the entities (objects or names) whose join keys identify a row.
        source: where the rows are: :class:`ParquetSource`, :class:`CsvSource` (a bare path
            also works: ``.csv`` means CSV, anything else Parquet), or None when rows are
            ingested into the workspace with ``FeatureStore.ingest``.
        timestamp_field: the column with each row's event time.
        created_timestamp_field: optional column with when each row was created (written,
            ingested), Feast's ``created_timestamp_column``. It breaks ties: of the rows that
            share the join keys and the event time, the one created last is taken (in a
            training frame, by materialization, hence online); a row whose created time is
            null loses to one that has it. Without it, of tied rows the one read last wins:
            the later row of a file, the later ingested batch (see
            :mod:`jupyter_mlops.features.offline`, "Ties").
        ttl: how long a value stays valid after its event time (``"30d"``, ``"12h"``, a
            timedelta); None for forever. An older value is null in a training frame.
        transform_sql: optional SQL run on the source before the join. It reads a relation
            called ``source`` and must return the join keys, the timestamp field and the
            features, e.g. ``"SELECT customer_id, ts, amount / n AS avg_spend FROM source"``.
        transform: optional Python function instead of ``transform_sql``: it takes the rows
            of the source as a pandas DataFrame and returns a DataFrame with the join keys, the
            timestamp field and the features (other columns are dropped). Like the SQL, it runs
            whenever the rows are read; its source code is part of the version, see
            :mod:`jupyter_mlops.features.transforms`.
        description, owner, tags: metadata; changing them does not make a new version.
    """

    name: str = ModelField(pattern=_NAME)
    entities: list[Entity | str] = ModelField(min_length=1)
    source: Source | None = None
    timestamp_field: str = ModelField(default="event_timestamp", pattern=_NAME)
    created_timestamp_field: str | None = ModelField(default=None, pattern=_NAME)
    features: list[Field] = ModelField(min_length=1)
    ttl: TTL = None
    transform_sql: str | None = None
    transform: Annotated[PythonTransform | None, BeforeValidator(from_function)] = None
    description: str = ""
    owner: str = ""
    tags: dict[str, str] = ModelField(default_factory=dict)

    def __init__(self, **data: Any) -> None:
        super().__init__(**data)
        names = [f.name for f in self.features]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise InvalidInput(
                f"FeatureView {self.name!r}: feature names repeat: {', '.join(dupes)}.",
                field="features",
            )
        if self.transform is not None and self.transform_sql:
            raise InvalidInput(
                f"FeatureView {self.name!r} has both transform_sql and a Python transform "
                f"({self.transform.name}); only one can run.",
                hint="Keep one: express the SQL in the function, or drop transform=.",
                field="transform",
            )
        if self.timestamp_field in names:
            raise InvalidInput(
                f"FeatureView {self.name!r}: '{self.timestamp_field}' is the timestamp field "
                "and cannot also be a feature.",
                field="features",
            )
        created = self.created_timestamp_field
        if created is not None and created in {self.timestamp_field, *names}:
            what = "the timestamp field" if created == self.timestamp_field else "a feature"
            raise InvalidInput(
                f"FeatureView {self.name!r}: the created timestamp field '{created}' is also "
                f"{what}.",
                hint="Name the column that holds when each row was created (e.g. 'created').",
                field="created_timestamp_field",
            )

    @property
    def entity_names(self) -> list[str]:
        """The names of this view's entities."""
        return [e if isinstance(e, str) else e.name for e in self.entities]

    def feature(self, name: str) -> Field:
        """The field called ``name`` (KeyError when absent)."""
        for f in self.features:
            if f.name == name:
                return f
        raise KeyError(name)


Definition = Entity | FeatureView
