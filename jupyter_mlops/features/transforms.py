"""Python transforms of feature views: a function from a pandas DataFrame to a DataFrame.

A view's ``transform`` runs where its ``transform_sql`` would: when the view's rows are read (for
a training frame, materialization or statistics), on the rows as stored, before the features are
cast to their dtypes and joined. Stored rows stay as they were ingested, so every version reads
them through its own transform.

What is stored, and what makes a version:
    The registry is JSON, so it keeps the function's *source*, not the function: the source from
    :func:`inspect.getsource`, without decorators, normalised by parsing and unparsing it
    (``ast.unparse``). Reformatting or editing a comment therefore makes no new version; changing
    the code does. Values the function reads from outside its body (module constants, imported
    helpers) are not part of the fingerprint: put what decides the output inside the function.

Where the function comes from when a view is read:
    In the process that built the definition (a notebook, a ``features/*.py`` file being applied)
    the function object itself is used. Elsewhere (the Jupyter server, the CLI) the stored source
    is compiled again, with the globals of the module it was defined in: an importable module is
    imported, a workspace definitions file is run. That file must be inside the workspace
    (resolved, symlinks followed): a stored path that leaves it is an error, and nothing is run.
    A function defined in a notebook gets no such globals in another process, so it should
    import what it uses inside its body.

Example:
    >>> def spend_per_order(df):
    ...     return df.assign(avg_spend=df["spend"] / df["orders"])
    >>> FeatureView(name="customer_stats", entities=[customer],       # doctest: +SKIP
    ...             features=[Field("avg_spend", "float64")], transform=spend_per_order)
"""

from __future__ import annotations

import ast
import builtins
import hashlib
import importlib
import inspect
import runpy
import sys
import textwrap
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict

from jupyter_mlops.errors import InvalidInput

if TYPE_CHECKING:
    import pandas as pd

Transform = Callable[["pd.DataFrame"], "pd.DataFrame"]

# Functions by the sha256 of their normalised source: the original objects seen when definitions
# were built, and functions compiled again from stored source.
_FUNCTIONS: dict[str, Transform] = {}
_LOCK = threading.Lock()
_HINT = (
    "Give a function defined with `def` at the top level of a module, a definitions file or a "
    "notebook cell, that takes the source rows as a pandas DataFrame and returns a DataFrame."
)


class PythonTransform(BaseModel):
    """A view's Python transform as the registry stores it: the function's name and source."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["python"] = "python"
    name: str
    source: str
    module: str | None = None
    file: str | None = None

    @property
    def digest(self) -> str:
        """sha256 of the normalised source."""
        return hashlib.sha256(self.source.encode("utf-8")).hexdigest()

    def versioned(self) -> dict[str, str]:
        """What a change of makes a new version: the name and the normalised source."""
        return {"name": self.name, "source": self.source}

    def describe(self) -> str:
        """``"Python function spend_per_order"``."""
        return f"Python function {self.name}"


def from_function(value: object) -> object:
    """A :class:`PythonTransform` for a function (other values are left to validation).

    Raises:
        InvalidInput: ``value`` is callable but not a function whose source can be stored: a
            lambda, a closure, a builtin or class, an ``async`` function, or one without source.
    """
    if value is None or isinstance(value, PythonTransform | dict):
        return value
    if not callable(value):
        raise InvalidInput(
            f"transform must be a Python function, not {type(value).__name__}.",
            hint=_HINT + " For SQL, use transform_sql=.",
            field="transform",
        )
    if not inspect.isfunction(value):
        raise InvalidInput(
            f"transform must be a plain function, not {type(value).__name__} {value!r}.",
            hint=_HINT,
            field="transform",
        )
    if value.__name__ == "<lambda>":
        raise InvalidInput(
            "transform cannot be a lambda: its source cannot be stored on its own.",
            hint="Define it with `def`, e.g. `def add_ratio(df): return df.assign(...)`.",
            field="transform",
        )
    if value.__closure__:
        names = ", ".join(value.__code__.co_freevars)
        raise InvalidInput(
            f"transform {value.__name__} reads variables of an enclosing function ({names}); "
            "their values would not be part of the view's version.",
            hint="Define the function at the top level and put those values inside it.",
            field="transform",
        )
    if inspect.iscoroutinefunction(value):
        raise InvalidInput(
            f"transform {value.__name__} is async; it must be a plain function.", field="transform"
        )
    try:
        inspect.signature(value).bind(None)
    except TypeError:
        raise InvalidInput(
            f"transform {value.__name__}{inspect.signature(value)} cannot be called with one "
            "DataFrame.",
            hint=f"Give it exactly one required argument: `def {value.__name__}(df): ...`.",
            field="transform",
        ) from None
    source = normalised_source(value)
    module = value.__module__
    spec = getattr(sys.modules.get(module), "__spec__", None)
    transform = PythonTransform(
        name=value.__name__,
        source=source,
        module=module if spec is not None and module != "__main__" else None,
        file=None if module == "__main__" else value.__code__.co_filename,
    )
    with _LOCK:
        _FUNCTIONS[transform.digest] = value
    return transform


def normalised_source(function: Callable[..., Any]) -> str:
    """The function's source without decorators, comments or formatting (``ast.unparse``).

    Raises:
        InvalidInput: the source cannot be found (a function built with ``exec``, say).
    """
    try:
        text = inspect.getsource(function)
    except (OSError, TypeError):
        raise InvalidInput(
            f"The source of transform {function.__name__} cannot be found.",
            hint="Define it in a .py file or a notebook cell, not with exec().",
            field="transform",
        ) from None
    tree = ast.parse(textwrap.dedent(text))
    node = tree.body[0]
    if not isinstance(node, ast.FunctionDef):  # pragma: no cover - getsource of a function
        raise InvalidInput(f"transform {function.__name__} is not a `def`.", field="transform")
    node.decorator_list = []
    return ast.unparse(node)


def function_of(transform: PythonTransform, root: Path, label: str = "the view") -> Transform:
    """The function to run for a stored transform; see the module's docstring for where from.

    Raises:
        InvalidInput: the stored file the function's globals come from is outside the
            workspace (an absolute path elsewhere, ``..``, or a symlink pointing out): it is
            not run.
    """
    key = transform.digest
    function = _FUNCTIONS.get(key)
    if function is not None:
        return function
    namespace = _globals(transform, root, label)
    function = _FUNCTIONS.get(key)  # running its definitions file may have registered it
    if function is None:
        try:
            code = compile(transform.source, f"<transform {transform.name}>", "exec")
            exec(code, namespace)
            function = namespace[transform.name]
        except Exception as exc:  # pragma: no cover - the source parsed when it was stored
            raise InvalidInput(
                f"The stored transform {transform.name} cannot be compiled: {exc}"
            ) from None
    with _LOCK:
        _FUNCTIONS[key] = function
    return function


def _globals(transform: PythonTransform, root: Path, label: str) -> dict[str, Any]:
    """The globals the stored source runs with: those of its module when it can be found.

    A stored file is run only when it is inside the workspace (see :func:`confined_file`).
    """
    fresh: dict[str, Any] = {"__name__": f"mlops_transform_{transform.name}"}
    fresh["__builtins__"] = builtins
    if transform.module:
        try:
            return dict(vars(importlib.import_module(transform.module)))
        except Exception:  # the module moved or broke: the source may still run on its own
            return fresh
    if transform.file:
        path = confined_file(transform, root, label)
        if path.is_file():
            try:
                return dict(runpy.run_path(str(path), run_name=f"mlops_features_{path.stem}"))
            except Exception:  # a definitions file broken since: the source may still run alone
                return fresh
    return fresh


def confined_file(transform: PythonTransform, root: Path, label: str = "the view") -> Path:
    """The stored file of a transform, resolved inside the workspace ``root``.

    Raises:
        InvalidInput: the path leaves the workspace: absolute elsewhere, through ``..``, or a
            symlink pointing out. The registry only stores paths inside the workspace, so such
            a path was written into it by hand (or by something else); it is never run.
    """
    from jupyter_mlops.paths import inside

    assert transform.file is not None
    try:
        return inside(root, transform.file, must_exist=False)
    except InvalidInput:
        raise InvalidInput(
            f"The Python transform {transform.name} of {label} names the file "
            f"'{transform.file}' for its globals, which is outside the workspace {root}; it is "
            "not run.",
            hint="Apply the view again from its definitions file inside the workspace (that "
            "stores a path inside it), or fix 'file' in the registry.",
            field="transform",
        ) from None


def apply(
    function: Transform,
    rows: pd.DataFrame,
    *,
    name: str,
    label: str,
    required: Sequence[str],
) -> pd.DataFrame:
    """Run a transform on ``rows`` and check that it returned the view's columns.

    Raises:
        InvalidInput: the function raised, returned something other than a DataFrame, or
            returned a DataFrame without a join key, the timestamp field or a feature.
    """
    import pandas as pd

    try:
        out = function(rows)
    except NameError as exc:
        raise InvalidInput(
            f"The Python transform {name} of {label} failed: NameError: {exc}",
            hint="Import or define what it uses inside the function: the view may be read in "
            "another process (the Jupyter server, the CLI) than the one it was defined in.",
            field="transform",
        ) from None
    except Exception as exc:
        raise InvalidInput(
            f"The Python transform {name} of {label} failed: {type(exc).__name__}: {exc}",
            hint="Fix the function; it receives the source rows as a pandas DataFrame.",
            field="transform",
        ) from None
    if not isinstance(out, pd.DataFrame):
        raise InvalidInput(
            f"The Python transform {name} of {label} returned {type(out).__name__}, not a "
            "pandas DataFrame.",
            hint="Return the transformed frame, e.g. `return df.assign(ratio=df.a / df.b)`.",
            field="transform",
        )
    columns = {str(c) for c in out.columns}
    missing = [c for c in required if c not in columns]
    if missing:
        in_index = [c for c in missing if c in {str(n) for n in out.index.names}]
        raise InvalidInput(
            f"The Python transform {name} of {label} returned a DataFrame without the "
            f"column(s) {', '.join(missing)}.",
            hint=(
                f"It must return the join keys, the timestamp field and every feature: "
                f"{', '.join(required)}."
            )
            + (
                f" {', '.join(in_index)} is in the index: end with .reset_index()."
                if in_index
                else ""
            ),
            field="transform",
        )
    return out
