"""Errors that users can act on.

Every error raised by the core is an :class:`MlopsError`. Each subclass knows the HTTP status that
the REST layer answers with, and carries a ``hint`` that tells the user what to do next. The CLI,
the magic and the server render these without a traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any, ClassVar


class MlopsError(Exception):
    """Base class of every error a user can cause or fix.

    Args:
        message: what went wrong, naming the offending thing.
        hint: what to do about it.
        field: the input field at fault, when there is one.
    """

    status: ClassVar[int] = 400
    kind: ClassVar[str] = "MlopsError"

    def __init__(self, message: str, *, hint: str | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.field = field

    def to_dict(self) -> dict[str, Any]:
        """The JSON body the REST API answers with."""
        body: dict[str, Any] = {"type": self.kind, "message": self.message, "hint": self.hint}
        if self.field is not None:
            body["field"] = self.field
        return {"error": body}

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  hint: {self.hint}"


class InvalidInput(MlopsError):
    """A value the user passed is malformed or out of range."""

    status = 400
    kind = "InvalidInput"


class NotFound(MlopsError):
    """A named thing (experiment, run, model, ...) does not exist."""

    status = 404
    kind = "NotFound"


class Conflict(MlopsError):
    """The request clashes with the current state (a name taken, a port in use)."""

    status = 409
    kind = "Conflict"


class ConfigError(MlopsError):
    """``mlops.toml`` is malformed or has an unknown key."""

    status = 400
    kind = "ConfigError"


class WorkspaceNotFound(MlopsError):
    """No ``mlops.toml`` in the current folder or above it."""

    status = 404
    kind = "WorkspaceNotFound"


class BackendUnavailable(MlopsError):
    """A configured backend (database, tracking server) cannot be reached."""

    status = 503
    kind = "BackendUnavailable"


def close_names(
    words: str | Iterable[str], candidates: Iterable[str], *, n: int = 3, cutoff: float = 0.5
) -> list[str]:
    """The candidates that look like ``words`` (a name, or several), best first, each once."""
    names = sorted({str(c) for c in candidates})
    out: dict[str, None] = {}
    for word in [words] if isinstance(words, str) else words:
        out.update(dict.fromkeys(difflib.get_close_matches(word, names, n=n, cutoff=cutoff)))
    return list(out)


def did_you_mean(
    words: str | Iterable[str],
    candidates: Iterable[str],
    *,
    listing: str | None = None,
    empty: str = "",
    n: int = 3,
    cutoff: float = 0.5,
    shown: int = 20,
) -> str:
    """The one "did you mean" hint: close names when there are some, else what there is.

    Args:
        words: what the user wrote (a name, or several).
        candidates: the names that exist.
        listing: without close names, list the candidates after this label (``"Known"`` gives
            ``"Known: a, b, c."``), at most ``shown`` of them; None lists nothing.
        empty: the hint when there are no candidates at all.

    Example:
        >>> did_you_mean("chrun", ["churn", "fraud"])
        'Did you mean churn?'
        >>> did_you_mean("x", ["churn"], listing="Registered models")
        'Registered models: churn.'
    """
    names = sorted({str(c) for c in candidates})
    close = close_names(words, names, n=n, cutoff=cutoff)
    if close:
        return f"Did you mean {', '.join(close)}?"
    if not names:
        return empty
    if listing is None:
        return ""
    more = " ..." if len(names) > shown else "."
    return f"{listing}: {', '.join(names[:shown])}{more}"
