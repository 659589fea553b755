"""A notebook's parameters (papermill's ``parameters`` cell) and the checking of given values.

The type of a parameter is the type of its default as written in the cell (``n_estimators =
200`` is an int), or its annotation when it has one. Values from the command line are strings
and are converted to that type; values from REST or Python must already have it (an int is
accepted for a float).
"""

from __future__ import annotations

import ast
import json
import warnings
from pathlib import Path
from typing import Any

from jupyter_mlops.errors import InvalidInput
from jupyter_mlops.jobs.schemas import NotebookParameter, NotebookParameters

_TYPES = ("bool", "int", "float", "str", "list", "dict", "tuple")


def _type_of(default: str, annotation: str | None) -> str:
    if annotation == "None":
        annotation = None
    if annotation and annotation.split("[")[0] in _TYPES:
        return annotation.split("[")[0]
    try:
        value = ast.literal_eval(default)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return "any"
    return "None" if value is None else type(value).__name__


def assume_python(nb: Any) -> None:
    """A notebook that does not say its language (some tools write none) is taken as Python,
    the language of the kernel jobs run on; papermill would refuse it."""
    spec = nb.metadata.setdefault("kernelspec", {})
    if not spec.get("language") and not nb.metadata.get("language_info", {}).get("name"):
        spec["language"] = "python"
    spec.setdefault("name", "python3")
    spec.setdefault("display_name", "Python 3")


def inspect_parameters(path: Path, shown: str) -> NotebookParameters:
    """Read the ``parameters`` cell of a notebook.

    Raises:
        InvalidInput: the file is not a notebook papermill can read.
    """
    import nbformat
    from papermill import inspect_notebook

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            nb = nbformat.read(str(path), as_version=4)
            assume_python(nb)
            found = list(inspect_notebook(nb).values())
    except (OSError, ValueError, AttributeError, KeyError, json.JSONDecodeError) as exc:
        raise InvalidInput(
            f"{shown} is not a notebook that can be read: {exc}",
            hint="Give the path of a .ipynb file.",
            field="notebook",
        ) from exc
    has_cell = any("parameters" in c.get("metadata", {}).get("tags", []) for c in nb.cells)
    return NotebookParameters(
        notebook=shown,
        has_parameters_cell=has_cell,
        experiment=_run_cell_experiment(nb),
        parameters=[
            NotebookParameter(
                name=p["name"],
                type=_type_of(p["default"], p.get("inferred_type_name")),
                default=p["default"],
                help=p.get("help") or "",
            )
            for p in found
        ],
    )


def _run_cell_experiment(nb: Any) -> str | None:
    """The ``--experiment`` of the first ``%%mlops run`` cell, if it names one."""
    import shlex

    for cell in nb.cells:
        if cell.get("cell_type") != "code":
            continue
        first = cell.get("source", "").lstrip().split("\n", 1)[0]
        if not first.startswith("%%mlops run"):
            continue
        try:
            words = shlex.split(first)
        except ValueError:
            return None
        for i, word in enumerate(words):
            if word.startswith("--experiment="):
                return word.split("=", 1)[1] or None
            if word in ("--experiment", "-e") and i + 1 < len(words):
                return words[i + 1]
        return None
    return None


def _convert_text(name: str, kind: str, text: str) -> Any:
    try:
        if kind == "int":
            return int(text)
        if kind == "float":
            return float(text)
        if kind == "bool":
            low = text.strip().lower()
            if low in ("true", "1", "yes"):
                return True
            if low in ("false", "0", "no"):
                return False
            raise ValueError(text)
        if kind in ("list", "dict", "tuple"):
            value = json.loads(text) if text.strip()[:1] in "[{" else ast.literal_eval(text)
            if kind == "tuple":
                value = list(value)
            if not isinstance(value, list if kind in ("list", "tuple") else dict):
                raise ValueError(text)
            return value
    except (ValueError, SyntaxError, json.JSONDecodeError) as exc:
        raise InvalidInput(
            f"Parameter {name!r} is {kind} but {text!r} is not",
            hint=f"Give {name} a value of type {kind}.",
            field=name,
        ) from exc
    if kind in ("any", "None"):
        return _guess(text)
    return text


def _guess(text: str) -> Any:
    """A value typed on a command line for a parameter whose default says nothing (None)."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text


def _check_value(name: str, kind: str, value: Any) -> Any:
    ok = {
        "int": isinstance(value, int) and not isinstance(value, bool),
        "float": isinstance(value, (int, float)) and not isinstance(value, bool),
        "bool": isinstance(value, bool),
        "str": isinstance(value, str),
        "list": isinstance(value, list),
        "tuple": isinstance(value, list),
        "dict": isinstance(value, dict),
    }.get(kind, True)
    if not ok:
        raise InvalidInput(
            f"Parameter {name!r} is {kind} but the value given is {type(value).__name__} {value!r}",
            hint=f"Give {name} a value of type {kind}.",
            field=name,
        )
    return float(value) if kind == "float" else value


def check_parameters(
    declared: NotebookParameters, given: dict[str, Any], *, from_text: bool = False
) -> tuple[dict[str, Any], list[str]]:
    """Validate (and, for command-line text, convert) the values given for a notebook.

    Returns the values and warnings (a notebook without a parameters cell).

    Raises:
        InvalidInput: an unknown parameter name (the message lists the notebook's parameters) or
            a value of the wrong type.
    """
    if not declared.has_parameters_cell:
        if not given:
            return {}, []
        return (
            {k: _guess(v) if from_text and isinstance(v, str) else v for k, v in given.items()},
            [
                f"{declared.notebook} has no cell tagged 'parameters': the parameters are "
                "injected as a new first cell (papermill's behaviour). Tag the cell that sets "
                "the defaults 'parameters' to have them checked and placed after it."
            ],
        )
    kinds = {p.name: p.type for p in declared.parameters}
    out: dict[str, Any] = {}
    for name, value in given.items():
        if name not in kinds:
            from jupyter_mlops.errors import did_you_mean

            hint = did_you_mean(name, kinds)
            known = ", ".join(f"{p.name} ({p.type})" for p in declared.parameters) or "none"
            raise InvalidInput(
                f"{declared.notebook} has no parameter {name!r}",
                hint=f"{hint + ' ' if hint else ''}Its parameters: {known}.",
                field=name,
            )
        kind = kinds[name]
        if from_text and isinstance(value, str):
            out[name] = _convert_text(name, kind, value)
        else:
            out[name] = _check_value(name, kind, value)
    return out, []
