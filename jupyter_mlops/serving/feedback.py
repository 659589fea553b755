"""Ground truth that arrives after the prediction: feedback on logged predicted rows.

Feedback names a logged request and a row of it, and carries a ``label`` (a class, any JSON
scalar) or a ``value`` (a number), or both. It is kept in the log folder's ``log.sqlite``
(table ``feedback``, WAL, so replicas and notebooks write at once), keyed by
``(request_id, row)``: the same feedback twice is stored once (the first one stays) and counted as
a duplicate. Feedback for a request the log does not hold is refused, naming it.

Example:
    >>> record_feedback(folder, [{"request_id": "4f1c...", "label": 1}])  # doctest: +SKIP
    FeedbackResult(accepted=1, duplicates=0)
    >>> read_feedback(folder).num_rows                                   # doctest: +SKIP
    1
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from jupyter_mlops.errors import InvalidInput, NotFound
from jupyter_mlops.serving.predictions import INDEX_FILE, find_requests, open_index

MAX_ITEMS = 10_000


@dataclass(frozen=True)
class Feedback:
    """The ground truth of one predicted row."""

    request_id: str
    row: int = 0
    label: Any = None
    value: float | None = None


@dataclass(frozen=True)
class FeedbackResult:
    accepted: int
    duplicates: int


def parse_feedback(body: Any) -> list[Feedback]:
    """Feedback from a request body: one item ``{"request_id", "row"?, "label"|"value"}`` or
    ``{"feedback": [items]}``.

    Raises:
        InvalidInput: naming the item and the field at fault.
    """
    if isinstance(body, Mapping) and "feedback" in body:
        extra = sorted(set(body) - {"feedback"})
        if extra:
            raise InvalidInput(
                f"Unknown key(s) {', '.join(map(repr, extra))} beside 'feedback'", field=extra[0]
            )
        items = body["feedback"]
        if not isinstance(items, list) or not items:
            raise InvalidInput("'feedback' must be a non-empty list of items", field="feedback")
        if len(items) > MAX_ITEMS:
            raise InvalidInput(
                f"{len(items)} feedback items in one call; send at most {MAX_ITEMS}",
                field="feedback",
            )
        return [_item(v, f"feedback[{i}]") for i, v in enumerate(items)]
    return [_item(body, "body")]


def _item(value: Any, where: str) -> Feedback:
    if not isinstance(value, Mapping):
        raise InvalidInput(
            f"{where} must be an object with request_id and label or value", field=where
        )
    unknown = sorted(set(value) - {"request_id", "row", "label", "value"})
    if unknown:
        raise InvalidInput(
            f"{where} has unknown key(s) {', '.join(map(repr, unknown))}; an item takes "
            "request_id, row, label and value",
            field=f"{where}.{unknown[0]}",
        )
    rid = value.get("request_id")
    if not isinstance(rid, str) or not rid or len(rid) > 256:
        raise InvalidInput(
            f"{where}.request_id must be the request's id (a non-empty string, as in the "
            "x-request-id header of its answer)",
            field=f"{where}.request_id",
        )
    row = value.get("row", 0)
    if isinstance(row, bool) or not isinstance(row, int) or row < 0:
        raise InvalidInput(
            f"{where}.row must be a row index (0 or more), not {row!r}", field=f"{where}.row"
        )
    if "label" not in value and "value" not in value:
        raise InvalidInput(f"{where} needs a label or a value", field=f"{where}.label")
    label = value.get("label")
    if label is not None and not isinstance(label, (str, int, float, bool)):
        raise InvalidInput(
            f"{where}.label must be a string, number or boolean", field=f"{where}.label"
        )
    number = value.get("value")
    if number is not None and (isinstance(number, bool) or not isinstance(number, (int, float))):
        raise InvalidInput(f"{where}.value must be a number", field=f"{where}.value")
    if label is None and number is None:
        raise InvalidInput(f"{where} needs a label or a value, not nulls", field=f"{where}.label")
    return Feedback(rid, row, label, None if number is None else float(number))


def record_feedback(folder: Path, items: Sequence[Feedback | Mapping[str, Any]]) -> FeedbackResult:
    """Store feedback for the predictions logged in ``folder``.

    Raises:
        InvalidInput: a malformed item, or a row beyond its request's rows.
        NotFound: a request id the log does not hold (compacted or not), naming it.
    """
    parsed = [
        i if isinstance(i, Feedback) else _item(i, f"feedback[{n}]") for n, i in enumerate(items)
    ]
    if not parsed:
        return FeedbackResult(0, 0)
    rows = find_requests(folder, [f.request_id for f in parsed])
    missing = [f.request_id for f in parsed if f.request_id not in rows]
    if missing:
        unique = list(dict.fromkeys(missing))
        shown = ", ".join(map(repr, unique[:5])) + (
            f" and {len(unique) - 5} more" if len(unique) > 5 else ""
        )
        raise NotFound(
            f"No prediction with request id {shown} in the log of {folder.name}",
            hint="Use the x-request-id header of the prediction's answer (or the id sent with "
            "the request); predictions dropped by retention cannot get feedback.",
            field="request_id",
        )
    for f in parsed:
        if f.row >= rows[f.request_id]:
            raise InvalidInput(
                f"Row {f.row} of request {f.request_id!r} does not exist: it had "
                f"{rows[f.request_id]} row(s)",
                field="row",
            )
    now = time.time()
    con = open_index(folder)
    try:
        con.execute("BEGIN IMMEDIATE")
        try:
            before = con.total_changes
            con.executemany(
                "INSERT OR IGNORE INTO feedback (request_id, row, label, value, received) "
                "VALUES (?, ?, ?, ?, ?)",
                [
                    (
                        f.request_id,
                        f.row,
                        None if f.label is None else orjson.dumps(f.label).decode(),
                        f.value,
                        now,
                    )
                    for f in parsed
                ],
            )
            accepted = con.total_changes - before
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    finally:
        con.close()
    return FeedbackResult(accepted=accepted, duplicates=len(parsed) - accepted)


def read_feedback(folder: Path) -> Any:
    """The feedback of a log folder as a ``pyarrow.Table``: ``request_id``, ``row`` (int32),
    ``label`` (typed from the labels: bool, int64, float64 or string), ``value`` (float64),
    ``received`` (timestamp UTC), in the order received."""
    import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]

    from jupyter_mlops.serving.logtable import to_arrow

    ids: list[str] = []
    rows: list[int] = []
    labels: list[Any] = []
    values: list[float | None] = []
    received: list[int] = []
    if (folder / INDEX_FILE).exists():
        con = open_index(folder)
        try:
            for rid, row, label, value, at in con.execute(
                "SELECT request_id, row, label, value, received FROM feedback "
                "ORDER BY received, request_id, row"
            ):
                ids.append(rid)
                rows.append(row)
                labels.append(None if label is None else orjson.loads(label))
                values.append(value)
                received.append(round(at * 1e6))
        finally:
            con.close()
    kinds = {type(v) for v in labels if v is not None}
    if kinds <= {bool} and kinds:
        kind = "bool"
    elif kinds and kinds <= {int}:
        kind = "int64"
    elif kinds and kinds <= {int, float}:
        kind = "float64"
    else:
        kind = "string"
    label_array, _ = to_arrow(labels, kind)
    return pa.table(
        {
            "request_id": pa.array(ids, type=pa.string()),
            "row": pa.array(rows, type=pa.int32()),
            "label": label_array,
            "value": pa.array(values, type=pa.float64()),
            "received": pa.array(received, type=pa.timestamp("us", tz="UTC")),
        }
    )
