"""What a run filter with a bare key was meant to say.

MLflow's filter language names every metric, parameter and tag with its kind: ``metrics.roc_auc >
0.8``. A bare ``roc_auc > 0.8`` is refused by MLflow (it reads ``roc_auc`` as a run attribute such
as ``status``). We refuse it too, with the filter the user meant, rather than rewrite it silently:
a filter accepted here is then also accepted by ``mlflow.search_runs`` and the MLflow UI, and a
name logged both as a metric and as a parameter is never guessed without saying so.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from jupyter_mlops.errors import close_names

#: The kinds of keys a filter names, as MLflow spells their prefixes.
KINDS = ("metrics", "params", "tags")

# MLflow's message for an identifier without a kind prefix (MLflow 2 and 3).
_BARE_KEY = re.compile(r"Invalid attribute key '([^']+)'")
# Quoted values of a filter, where a key name is only text.
_QUOTED = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")
_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# The most bare keys one filter is checked for (each costs one parse).
_MAX_KEYS = 20


@dataclass
class KnownKeys:
    """The metric, parameter and tag names the runs in question logged."""

    metrics: set[str] = field(default_factory=set)
    params: set[str] = field(default_factory=set)
    tags: set[str] = field(default_factory=set)


@dataclass
class FilterFix:
    """A filter with its bare keys named by kind."""

    filter: str
    #: Each bare key and what it became, e.g. ``("roc_auc", "metrics.roc_auc")``.
    keys: list[tuple[str, str]]


def bare_key(message: str) -> str | None:
    """The bare key MLflow's parse error complains about, if that is the complaint."""
    match = _BARE_KEY.search(message)
    return match.group(1) if match else None


def qualify_bare_keys(text: str, known: KnownKeys) -> FilterFix | None:
    """``text`` with every bare key prefixed by its kind, or None when the filter has another
    problem (or no bare key).

    A key's kind is the one the runs logged it as; a name logged as several kinds or as none
    goes by its value (a number is compared with a metric, a quoted string with a parameter);
    a name close to a logged one (``roc_acu``) becomes that one.

    Example:
        >>> qualify_bare_keys("roc_auc > 0.8", KnownKeys(metrics={"roc_auc"})).filter
        'metrics.roc_auc > 0.8'
    """
    from mlflow.exceptions import MlflowException
    from mlflow.utils.search_utils import SearchUtils

    fixed = text
    keys: list[tuple[str, str]] = []
    for _ in range(_MAX_KEYS):
        try:
            SearchUtils.parse_search_filter(fixed)
        except MlflowException as exc:
            key = bare_key(exc.message)
            if key is None or any(key == k for k, _ in keys):
                return None
            qualified = _qualify(key, fixed, known)
            replaced = _replace_key(fixed, key, qualified)
            if replaced == fixed:
                return None
            keys.append((key, qualified))
            fixed = replaced
            continue
        return FilterFix(fixed, keys) if keys else None
    return None


def _qualify(key: str, text: str, known: KnownKeys) -> str:
    name = key
    kinds = [kind for kind in KINDS if name in getattr(known, kind)]
    if not kinds:
        close = close_names(key, [n for kind in KINDS for n in getattr(known, kind)], n=1)
        if close:
            name = close[0]
            kinds = [kind for kind in KINDS if name in getattr(known, kind)]
    if len(kinds) != 1:
        kinds = ["params" if _compared_with_text(text, key) else "metrics"]
    return f"{kinds[0]}.{_identifier(name)}"


def _identifier(name: str) -> str:
    return name if _PLAIN_NAME.fullmatch(name) else f"`{name}`"


def _compared_with_text(text: str, key: str) -> bool:
    """Whether ``key`` is compared with a quoted value (else a number)."""
    comparison = r"\s*(?:!=|=|LIKE|ILIKE|IN|NOT\s+IN)\s*\(?\s*['\"]"
    pattern = re.compile(_key_pattern(key) + comparison, re.IGNORECASE)
    return pattern.search(text) is not None


def _key_pattern(key: str) -> str:
    # The key as written: bare, or in backticks; never the tail of a prefixed name (x.key).
    return rf"(?<![\w.`])(?:{re.escape(key)}(?![\w`])|`{re.escape(key)}`)"


def _replace_key(text: str, key: str, qualified: str) -> str:
    """``text`` with the bare ``key`` replaced outside quoted values."""
    pattern = re.compile(_key_pattern(key))
    out: list[str] = []
    last = 0
    for quoted in _QUOTED.finditer(text):
        out.append(pattern.sub(lambda _: qualified, text[last : quoted.start()]))
        out.append(quoted.group(0))
        last = quoted.end()
    out.append(pattern.sub(lambda _: qualified, text[last:]))
    return "".join(out)


def known_keys(runs: Iterable[object]) -> KnownKeys:
    """The keys MLflow runs (``mlflow.entities.Run``) logged."""
    known = KnownKeys()
    for run in runs:
        data = run.data  # type: ignore[attr-defined]
        known.metrics.update(data.metrics)
        known.params.update(data.params)
        known.tags.update(data.tags)
    return known
