"""A model version loaded for serving: its input schema, its feature lookup and a fast predict.

The hot path avoids pandas where the model allows: when every input of the signature is a number
(``double``, ``float``, ``long``, ``integer``, ``boolean``) and the model is a scikit-learn model,
requests become one float64 matrix in signature order and go straight to the estimator's
``predict`` (or the ``predict_fn`` it was logged with, e.g. ``predict_proba``). Other models get a
typed DataFrame through MLflow's pyfunc interface.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from jupyter_mlops.errors import MlopsError
from jupyter_mlops.features.online.plan import EVENT_TIME, read_online
from jupyter_mlops.serving.errors import RequestError
from jupyter_mlops.serving.outputs import Outputs, describe

if TYPE_CHECKING:
    from jupyter_mlops.features.online.base import OnlineStore
    from jupyter_mlops.features.online.plan import LookupPlan
    from jupyter_mlops.serving.spec import ServedVersionSpec

logger = logging.getLogger(__name__)

NUMERIC_TYPES = {"double", "float", "long", "integer", "boolean"}
INTEGER_TYPES = {"long", "integer"}
#: The integers a ``long`` and an ``integer`` input hold.
INTEGER_LIMITS = {"long": (-(2**63), 2**63 - 1), "integer": (-(2**31), 2**31 - 1)}
#: The JSON values a request may send for an input of each numeric type (null aside: a missing
#: value). Integers are numbers (JSON does not tell 1 from 1.0), a boolean is not a number; a
#: ``boolean`` input takes true/false, or 0 and 1 (checked on the matrix).
_SENT_TYPES: dict[str, frozenset[type]] = {
    **{t: frozenset({int, float, type(None)}) for t in ("double", "float", "long", "integer")},
    "boolean": frozenset({bool, int, float, type(None)}),
}


def describe_value(value: Any) -> str:
    """A request value named for an error message: its JSON kind and (shortened) text.

    Example:
        >>> describe_value([1, 2])
        'a list [1,2]'
    """
    import orjson

    if value is None:
        return "null"
    if isinstance(value, (bool, np.bool_)):
        return f"the boolean {'true' if value else 'false'}"
    if isinstance(value, (int, float, np.number)):
        return f"the number {value!r}"
    kinds: dict[type, str] = {str: "the string", list: "a list", dict: "an object"}
    kind = kinds.get(type(value), "a value")
    text = orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY, default=repr).decode()
    return f"{kind} {text[:40]}{'...' if len(text) > 40 else ''}"


def check_sent(name: str, kind: str, values: Any) -> None:
    """Refuse a column a request sent for an input of type ``kind`` if a value is not of that
    type (a boolean, string, list or object for a number; a boolean array, i.e. a BOOL tensor,
    for anything but a ``boolean``). Ranges and fractions are checked on the model's matrix."""
    allowed = _SENT_TYPES.get(kind)
    if allowed is None:
        return
    if isinstance(values, np.ndarray):
        if values.dtype == np.bool_ and kind != "boolean":
            raise RequestError(
                f"Input column {name!r} is {kind} but the request sends booleans (a BOOL "
                f"tensor); send it as {'an INT64' if kind in INTEGER_TYPES else 'an FP64'} tensor"
            )
        return  # numbers (the codec made the array from numbers only)
    if allowed.issuperset(map(type, values)):
        return
    row, bad = next((i, v) for i, v in enumerate(values) if type(v) not in allowed)
    raise RequestError(
        f"Input column {name!r} is {kind} but row {row} has {describe_value(bad)}; send "
        + ("true or false" if kind == "boolean" else "a number")
    )


@dataclass
class Batch:
    """Decoded request rows: either a float matrix with its column names, or named columns."""

    columns: list[str]
    rows: int
    matrix: np.ndarray | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def column(self, name: str) -> Any:
        if self.matrix is not None:
            return self.matrix[:, self.columns.index(name)]
        return self.data[name]


@dataclass
class Prepared:
    """What is predicted on and logged: the model's inputs (after feature lookup) and keys."""

    columns: list[str]
    rows: int
    matrix: np.ndarray | None
    frame: Any = None  # a DataFrame on the general path
    keys: dict[str, list[Any]] = field(default_factory=dict)

    def log_inputs(self) -> dict[str, Any]:
        if self.matrix is not None:
            return {"columns": self.columns, "data": self.matrix}
        return {"columns": self.columns, "data": self.frame.to_numpy().tolist()}


class FeatureLookup:
    """Fills model inputs that a request leaves out from the online store, by entity keys.

    The lookup is resolved when the model is deployed (see :class:`LookupPlan`): a request only
    reads the online store.
    """

    def __init__(self, store: OnlineStore, plan: LookupPlan) -> None:
        self.store = store
        self.plan = plan
        self.columns = frozenset(plan.columns())
        self.keys: list[str] = list(plan.keys)
        self._subsets: dict[tuple[str, ...], LookupPlan] = {}
        # The Python type each key has in the store, learnt from the first entity found: a key of
        # another type is then named as a type mistake, not as a missing entity.
        self._key_types: dict[str, type] = {}

    def fill(self, batch: Batch, missing: list[str]) -> dict[str, list[Any]]:
        """Look up ``missing`` inputs for the batch's entity keys; returns ``{column: values}``."""
        lacking = [k for k in self.keys if k not in batch.columns]
        if lacking:
            raise RequestError(
                f"Missing input column(s) {', '.join(missing)}: send them, or send the entity "
                f"key(s) {', '.join(self.keys)} to look them up in the online store"
            )
        wanted = tuple(missing)
        plan = self._subsets.get(wanted)
        if plan is None:
            plan = self._subsets[wanted] = self.plan.subset(wanted)
        key_values = {k: _plain(batch.column(k)) for k in self.keys}
        for k, values in key_values.items():
            if not {str, int, float, type(None)}.issuperset(map(type, values)):
                row, bad = next(
                    (i, v) for i, v in enumerate(values) if type(v) not in (str, int, float)
                )
                raise RequestError(
                    f"Entity key {k!r} must be a string or a number; row {row} has "
                    f"{describe_value(bad)}"
                )
        entity_rows = [
            dict(zip(key_values, vals, strict=True))
            for vals in zip(*key_values.values(), strict=True)
        ]
        try:
            got = read_online(self.store, plan, entity_rows)
        except MlopsError as exc:
            raise RequestError(f"Feature lookup failed: {exc.message}") from None
        if len(self._key_types) < len(self.keys):
            self._learn_key_types(plan, key_values, got)
        return {**{k: key_values[k] for k in self.keys}, **{c: got[c] for c in missing}}

    def _learn_key_types(
        self, plan: LookupPlan, keys: dict[str, list[Any]], got: dict[str, list[Any]]
    ) -> None:
        for v in plan.views:
            for row in range(len(got[v.columns[0]])):
                if any(got[c][row] is not None for c in v.columns):
                    for k in v.join_keys:
                        self._key_types.setdefault(k, type(keys[k][row]))
                    break

    def explain(self, keys: dict[str, list[Any]], row: int, column: str) -> str:
        """Why the lookup left ``column`` empty for ``row``: the entity has no row in the view
        (or a key of the wrong type), its row is older than the view's TTL, or the stored value
        is null. Only called for a request about to be refused."""
        view = next(v for v in self.plan.views if column in v.columns)
        where = f"feature view {view.name} (v{view.version})"
        values = tuple(keys[k][row] for k in view.join_keys)
        who = " and ".join(f"{k} {v!r}" for k, v in zip(view.join_keys, values, strict=True))
        for k, v in zip(view.join_keys, values, strict=True):
            want = self._key_types.get(k)
            if want is not None and type(v) is not want:
                other = _other_type(v)
                fix = f": send {other!r}" if type(other) is want else ""
                return (
                    f"Entity key {k} must be {_kind(want)} (as stored in {where}); row {row} "
                    f"has {_kind(type(v))} {v!r}{fix}"
                )

        def read(vals: tuple[Any, ...]) -> dict[str, Any] | None:
            key = vals[0] if len(vals) == 1 else vals
            return self.store.read_one(
                view.name, view.version, view.features, key, event_time_column=EVENT_TIME
            )

        try:
            found = read(values)
            if found is None:
                for i, (k, v) in enumerate(zip(view.join_keys, values, strict=True)):
                    other = _other_type(v)
                    if other is not None and read((*values[:i], other, *values[i + 1 :])):
                        return (
                            f"Entity key {k} must be {_kind(type(other))} (as stored in "
                            f"{where}); row {row} has {_kind(type(v))} {v!r}: send {other!r}"
                        )
        except MlopsError as exc:
            return f"Feature lookup failed for {who} (row {row}): {exc.message}"
        if found is None:
            return (
                f"{who} (row {row}) has no row in {where} online; materialize it or check the key"
            )
        stamp = found.get(EVENT_TIME)
        if view.ttl is not None and isinstance(stamp, datetime):
            now = datetime.now(UTC) if stamp.tzinfo is not None else datetime.now()
            if stamp < now - view.ttl:
                return (
                    f"{who} (row {row}): its row in {where} dates from {stamp.isoformat()}, "
                    f"older than the view's TTL ({view.ttl}); materialize newer data"
                )
        feature = view.features[view.columns.index(column)]
        return (
            f"{who} (row {row}) has a null {feature!r} in {where} online; send {column!r} with "
            "the request or fill it in the feature data"
        )


def _kind(kind: type) -> str:
    names = {int: "an integer", str: "a string", float: "a number", bool: "a boolean"}
    return names.get(kind, kind.__name__)


def _other_type(value: Any) -> Any:
    """The same key in the other type a client may have sent it in: ``"42"`` <-> ``42``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            return None
    return None


def _null(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def _has_null(values: Any) -> bool:
    if isinstance(values, np.ndarray):
        return values.dtype.kind == "f" and bool(np.isnan(values).any())
    return any(_null(v) for v in values)


def _plain(values: Any) -> list[Any]:
    if isinstance(values, np.ndarray):
        out = values.tolist()
        # Keys sent as JSON integers arrive as floats in a matrix: give them back as ints.
        return [int(v) if isinstance(v, float) and v.is_integer() else v for v in out]
    return list(values)


class LoadedVersion:
    """One served model version, loaded and ready to predict.

    Raises (at load):
        ValueError: the model folder holds no MLflow model.
    """

    def __init__(self, spec: ServedVersionSpec, store: OnlineStore | None = None) -> None:
        from mlflow.models import Model

        self.spec = spec
        self.name = spec.name
        self.version = spec.version
        self.label = f"{spec.name}:{spec.version}"
        path = Path(spec.path)
        meta = Model.load(str(path / "MLmodel"))
        self.signature = meta.signature
        inputs = []
        if meta.signature is not None and meta.signature.inputs is not None:
            inputs = meta.signature.inputs.to_dict()
        self.columns: list[str] = [str(c["name"]) for c in inputs if "name" in c]
        self.types: dict[str, str] = {
            str(c["name"]): str(c.get("type")) for c in inputs if "name" in c
        }
        self.required = {str(c["name"]) for c in inputs if c.get("required", True)}
        self.numeric = bool(self.columns) and all(t in NUMERIC_TYPES for t in self.types.values())
        self._integer_idx = [
            i for i, c in enumerate(self.columns) if self.types[c] in INTEGER_TYPES
        ]
        limits = [INTEGER_LIMITS[self.types[self.columns[i]]] for i in self._integer_idx]
        self._int_low = np.array([low for low, _ in limits], dtype=np.float64)
        # The bound above is exclusive: 2**63 - 1 is 2**63 as a float.
        self._int_end = np.array([high + 1 for _, high in limits], dtype=np.float64)
        self._boolean_idx = [i for i, c in enumerate(self.columns) if self.types[c] == "boolean"]
        pyfunc_conf = meta.flavors.get("python_function", {})
        self.predict_fn_name = str(pyfunc_conf.get("predict_fn") or "predict")
        self._native: Any = None
        self._pyfunc: Any = None
        if "sklearn" in meta.flavors and self.numeric:
            import mlflow.sklearn

            self._native = mlflow.sklearn.load_model(str(path))
            self._predict = getattr(self._native, self.predict_fn_name)
        else:
            import mlflow.pyfunc

            self._pyfunc = mlflow.pyfunc.load_model(str(path))
        self.lookup: FeatureLookup | None = None
        if store is not None and spec.lookup is not None and self.columns:
            self.lookup = FeatureLookup(store, spec.lookup)
        self.example = _input_example(path, meta)
        outputs = None
        if meta.signature is not None and meta.signature.outputs is not None:
            outputs = meta.signature.outputs.to_dict()
        self.outputs: Outputs = describe(
            predict_fn=self.predict_fn_name,
            estimator=self._estimator(),
            signature_outputs=outputs,
            probe=self._probe(),
        )

    def _estimator(self) -> Any:
        if self._native is not None:
            return self._native
        try:
            return self._pyfunc.get_raw_model()
        except Exception:  # a pyfunc without a raw model: no classes to name outputs by
            return None

    def _probe(self) -> Any:
        """The model's raw answer to its saved input example (None without one, or if the
        example does not predict: the smoke test reports that)."""
        split = (self.example or {}).get("dataframe_split")
        if not isinstance(split, dict) or not isinstance(split.get("data"), list):
            return None
        data = split["data"]
        names = split.get("columns") or self.columns
        try:
            columns = {n: [row[j] for row in data] for j, n in enumerate(names)}
            batch = Batch(columns=list(names), rows=len(data), data=columns)
            return self._raw_predict(self.prepare(batch))
        except Exception as exc:
            logger.warning("%s: the input example does not predict: %s", self.label, exc)
            return None

    def example_row(self) -> dict[str, Any] | None:
        """The first row of the saved input example, as ``{column: value}``."""
        split = (self.example or {}).get("dataframe_split")
        if not isinstance(split, dict) or not split.get("data"):
            return None
        columns = split.get("columns") or self.columns
        return dict(zip(columns, split["data"][0], strict=False))

    @property
    def accepted_columns(self) -> list[str]:
        keys = self.lookup.keys if self.lookup else []
        return [*self.columns, *(k for k in keys if k not in self.columns)]

    def prepare(self, batch: Batch) -> Prepared:
        """Check the batch against the signature, look up missing features, build the inputs."""
        if batch.rows == 0:
            raise RequestError("The request has no rows")
        if not self.columns:  # no signature: pass the columns through
            return self._general(batch, batch.columns, {})
        known = set(self.columns)
        keys = set(self.lookup.keys) if self.lookup else set()
        unknown = [c for c in batch.columns if c not in known and c not in keys]
        if unknown:
            raise RequestError(
                f"Unknown input column(s) {', '.join(map(repr, unknown))}; model {self.name} "
                f"version {self.version} takes {', '.join(self.accepted_columns)}"
            )
        if batch.matrix is None or batch.matrix.dtype != np.float64:
            for c in batch.columns:  # a matrix of float64 holds numbers only (see the codec)
                if c in self.types:
                    check_sent(c, self.types[c], batch.column(c))
        present = set(batch.columns)
        missing = [c for c in self.columns if c not in present]
        # Request-time values win; nulls in a looked-up column are filled from the store.
        partial = [
            c
            for c in self.columns
            if c in present
            and self.lookup is not None
            and c in self.lookup.columns
            and _has_null(batch.column(c))
        ]
        filled: dict[str, list[Any]] = {}
        keys_sent = self.lookup is not None and all(k in present for k in self.lookup.keys)
        if partial and keys_sent and self.lookup is not None:
            looked = self.lookup.fill(batch, partial)
            filled.update(looked)
            for c in partial:
                filled[c] = [
                    stored if _null(given) else given
                    for given, stored in zip(_plain(batch.column(c)), looked[c], strict=True)
                ]
        if missing:
            if self.lookup is None or not all(c in self.lookup.columns for c in missing):
                absent = [c for c in missing if self.lookup is None or c not in self.lookup.columns]
                raise RequestError(
                    f"Missing input column(s) {', '.join(map(repr, absent))}; model {self.name} "
                    f"version {self.version} takes {', '.join(self.columns)}"
                )
            filled.update(self.lookup.fill(batch, missing))
        keys_logged = {k: filled[k] for k in (self.lookup.keys if filled and self.lookup else [])}
        if filled and self.lookup is not None:
            self._check_looked_up(filled)
        if not self.numeric:
            return self._general(batch, self.columns, filled, keys_logged)
        matrix = self._matrix(batch, filled)
        return Prepared(self.columns, batch.rows, matrix, keys=keys_logged)

    def _check_looked_up(self, filled: dict[str, list[Any]]) -> None:
        """Refuse a request whose required input the online store could not fill, saying why
        in the entity's terms (key, value, feature view) rather than the column's."""
        assert self.lookup is not None
        required = set(self.columns) if self.numeric else self.required
        for c in self.columns:
            if c in filled and c in required and c in self.lookup.columns:
                row = next((i for i, v in enumerate(filled[c]) if _null(v)), None)
                if row is not None:
                    raise RequestError(self.lookup.explain(filled, row, c))

    def _matrix(self, batch: Batch, filled: dict[str, list[Any]]) -> np.ndarray:
        if batch.matrix is not None and not filled and batch.columns == self.columns:
            matrix = batch.matrix.astype(np.float64, copy=False)  # a BOOL tensor's too
        else:
            cols = []
            for c in self.columns:
                values = filled[c] if c in filled else batch.column(c)
                cols.append(self._numbers(c, values))
            matrix = (
                np.ascontiguousarray(np.column_stack(cols)) if cols else np.empty((batch.rows, 0))
            )
        finite = np.isfinite(matrix)
        if not finite.all():
            row, col = (int(i) for i in np.argwhere(~finite)[0])
            name = self.columns[col]
            where = (
                "no online value for this entity"
                if name in filled
                else "null, NaN or an infinite number"
            )
            raise RequestError(f"Input column {name!r} is required but row {row} has {where}")
        if self._integer_idx:
            ints = matrix[:, self._integer_idx]
            bad = (ints != np.floor(ints)) | (ints < self._int_low) | (ints >= self._int_end)
            if bad.any():
                row, col = (int(i) for i in np.argwhere(bad)[0])
                name = self.columns[self._integer_idx[col]]
                low, high = INTEGER_LIMITS[self.types[name]]
                raise RequestError(
                    f"Input column {name!r} is {self.types[name]} but row {row} has "
                    f"{float(ints[row, col])!r}; send an integer from {low} to {high}"
                )
        if self._boolean_idx:
            flags = matrix[:, self._boolean_idx]
            bad = (flags != 0) & (flags != 1)
            if bad.any():
                row, col = (int(i) for i in np.argwhere(bad)[0])
                name = self.columns[self._boolean_idx[col]]
                raise RequestError(
                    f"Input column {name!r} is boolean but row {row} has "
                    f"{float(flags[row, col])!r}; send true or false"
                )
        return matrix

    def _numbers(self, name: str, values: Any) -> np.ndarray:
        if isinstance(values, np.ndarray) and values.dtype == np.float64:
            return values
        try:
            return np.asarray([np.nan if v is None else v for v in values], dtype=np.float64)
        except (TypeError, ValueError):
            bad = next(
                (i, v)
                for i, v in enumerate(values)
                if v is not None and not isinstance(v, (int, float, bool))
            )
            raise RequestError(
                f"Input column {name!r} is {self.types[name]} but row {bad[0]} has "
                f"{type(bad[1]).__name__} {bad[1]!r}"
            ) from None

    def _general(
        self,
        batch: Batch,
        columns: list[str],
        filled: dict[str, list[Any]],
        keys: dict[str, list[Any]] | None = None,
    ) -> Prepared:
        import pandas as pd

        data: dict[str, Any] = {}
        for c in columns:
            values = filled[c] if c in filled else batch.column(c)
            kind = self.types.get(c)
            series = pd.Series(values)
            try:
                if kind in {"double", "float"}:
                    series = pd.to_numeric(series, errors="raise").astype("float64")
                elif kind in INTEGER_TYPES:
                    series = pd.to_numeric(series, errors="raise").astype("int64")
                elif kind == "boolean":
                    series = series.astype("bool")
                elif kind == "string":
                    if not all(isinstance(v, str) for v in values):
                        raise ValueError("not a string")
                    series = series.astype("object")
                elif kind == "datetime":
                    series = pd.to_datetime(series, errors="raise")
            except (TypeError, ValueError):
                raise RequestError(
                    f"Input column {c!r} must be {kind}; got {list(values)[:3]!r}"
                ) from None
            if c in self.required and series.isna().any():
                raise RequestError(f"Input column {c!r} is required but has nulls")
            data[c] = series
        frame = pd.DataFrame(data)
        return Prepared(columns, batch.rows, None, frame=frame, keys=keys or {})

    def predict(self, prepared: Prepared) -> np.ndarray:
        """Predictions as an array (one row per input row)."""
        out = self._raw_predict(prepared)
        if hasattr(out, "to_numpy"):
            out = out.to_numpy()
        return np.asarray(out)

    def _raw_predict(self, prepared: Prepared) -> Any:
        if prepared.matrix is not None and self._native is not None:
            out = self._predict(prepared.matrix)
        else:
            frame = prepared.frame
            if frame is None:
                import pandas as pd

                frame = pd.DataFrame(prepared.matrix, columns=prepared.columns)
            out = self._pyfunc.predict(frame) if self._pyfunc is not None else self._predict(frame)
        return out


def _input_example(path: Path, meta: Any) -> dict[str, Any] | None:
    """The saved serving input example (MLflow scoring JSON), used as the smoke request."""
    info = getattr(meta, "saved_input_example_info", None) or {}
    name = info.get("serving_input_path")
    if not name or not (path / name).is_file():
        return None
    import json

    value = json.loads((path / name).read_text(encoding="utf-8"))
    return value if isinstance(value, dict) else None


def silence_feature_name_warning() -> None:
    """Estimators fitted on DataFrames warn when given a matrix; the matrix is in signature
    order, so the warning is noise on every request."""
    warnings.filterwarnings("ignore", message="X does not have valid feature names")
