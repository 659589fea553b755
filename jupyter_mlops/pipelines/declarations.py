"""Reading pipeline declarations: ``[pipeline.NAME]`` tables of ``mlops.toml`` and ``Pipeline``
objects of ``pipelines/*.py``, each checked for its shape (the checks against the workspace, such
as whether the notebook exists, are the service's, at ``plan``).
"""

from __future__ import annotations

import runpy
import zoneinfo
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from jupyter_mlops.errors import InvalidInput, MlopsError, did_you_mean
from jupyter_mlops.pipelines.schemas import (
    DECLARED_TRIGGER_KINDS,
    DeclaredPipeline,
    PipelineSpec,
    ScheduleTrigger,
)

CONFIG_SOURCE = "mlops.toml"


def _problem(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"])
        if err["type"] == "extra_forbidden":
            parts.append(f"unknown key {key!r}")
        else:
            parts.append(f"{key}: {err['msg']}")
    return "; ".join(parts)


def _check_kinds(name: str, raw: Mapping[str, Any], source: str) -> None:
    """An unknown trigger kind, named with the valid ones (pydantic's message lists tags only)."""
    triggers = raw.get("triggers", [])
    if not isinstance(triggers, list):
        raise InvalidInput(
            f"pipeline {name} ({source}): triggers must be a list",
            hint='e.g. triggers = [{ kind = "schedule", cron = "0 3 * * 1" }]',
            field="triggers",
        )
    for trigger in triggers:
        kind = trigger.get("kind") if isinstance(trigger, Mapping) else None
        if kind not in DECLARED_TRIGGER_KINDS:
            hint = did_you_mean(str(kind), DECLARED_TRIGGER_KINDS, listing="Trigger kinds")
            raise InvalidInput(
                f"pipeline {name} ({source}): unknown trigger kind {kind!r}",
                hint=hint or f"Trigger kinds: {', '.join(DECLARED_TRIGGER_KINDS)}.",
                field="triggers",
            )


def check_schedule(trigger: ScheduleTrigger) -> None:
    """A cron expression croniter can read, in a time zone that exists.

    Raises:
        InvalidInput: the expression or the zone is not valid.
    """
    from croniter import croniter

    try:
        zone = zoneinfo.ZoneInfo(trigger.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(
            f"time zone {trigger.timezone!r} of schedule {trigger.cron!r} does not exist",
            hint="Use an IANA zone such as UTC or Europe/Paris.",
            field="timezone",
        ) from None
    fields = trigger.cron.split()
    valid = len(fields) == 5 or (len(fields) == 1 and fields[0].startswith("@"))
    if valid:
        try:
            croniter(trigger.cron, datetime.now(zone))
        except (ValueError, KeyError):
            valid = False
    if not valid:
        raise InvalidInput(
            f"{trigger.cron!r} is not a cron schedule",
            hint="Five fields: minute hour day-of-month month day-of-week, e.g. '0 3 * * 1' "
            "(Mondays at 03:00), '*/15 * * * *', or @hourly, @daily, @weekly.",
            field="cron",
        )


def from_config(tables: Mapping[str, Mapping[str, Any]]) -> list[DeclaredPipeline]:
    """The ``[pipeline.NAME]`` tables of ``mlops.toml``.

    Raises:
        InvalidInput: a table that is not a valid pipeline (the message names it and the key).
    """
    found: list[DeclaredPipeline] = []
    for name, table in tables.items():
        if not isinstance(table, Mapping):
            raise InvalidInput(
                f"[pipeline.{name}] in {CONFIG_SOURCE} is not a table", field=f"pipeline.{name}"
            )
        _check_kinds(name, table, CONFIG_SOURCE)
        try:
            spec = PipelineSpec.model_validate({"name": name, **table})
        except ValidationError as exc:
            raise InvalidInput(
                f"pipeline {name} ({CONFIG_SOURCE}): {_problem(exc)}",
                hint="See the [pipeline.NAME] example in the default mlops.toml "
                "(`jupyter mlops init` in an empty folder writes it).",
                field=f"pipeline.{name}",
            ) from None
        found.append(DeclaredPipeline(spec=spec, source=CONFIG_SOURCE))
    return found


def from_folder(root: Path, folder: Path) -> list[DeclaredPipeline]:
    """``Pipeline`` objects at module level (or in top-level lists) of ``folder/*.py``; files
    starting with ``_`` are helpers and skipped.

    Raises:
        InvalidInput: a file fails to run (named, with its error).
    """
    found: list[DeclaredPipeline] = []
    if not folder.is_dir():
        return found
    for path in sorted(folder.glob("*.py")):
        if path.name.startswith("_"):
            continue
        shown = str(path.relative_to(root))
        try:
            namespace = runpy.run_path(str(path), run_name=f"mlops_pipelines_{path.stem}")
        except MlopsError as exc:
            raise InvalidInput(f"{shown}: {exc.message}", hint=exc.hint, field=shown) from None
        except ValidationError as exc:
            raise InvalidInput(
                f"{shown}: {_problem(exc)}",
                hint="See `help(jupyter_mlops.pipelines)` for a declaration.",
                field=shown,
            ) from None
        except Exception as exc:
            raise InvalidInput(
                f"{shown} failed to run: {type(exc).__name__}: {exc}",
                hint="Fix the error in the pipelines file.",
                field=shown,
            ) from None
        for value in namespace.values():
            items = value if isinstance(value, list | tuple) else [value]
            for item in items:
                if isinstance(item, PipelineSpec):
                    # A plain spec, whatever helper classes the file used to build it.
                    spec = PipelineSpec.model_validate(item.model_dump())
                    found.append(DeclaredPipeline(spec=spec, source=shown))
    return found


#: Names the REST API uses beside pipeline names (``/pipelines/plan``, ``/pipelines/apply``).
RESERVED_NAMES = frozenset({"plan", "apply"})


def merge(declared: list[DeclaredPipeline]) -> list[DeclaredPipeline]:
    """One declaration per name; a name declared twice differently is refused.

    Raises:
        InvalidInput: two different pipelines share a name (both places are named), or a
            pipeline takes a reserved name.
    """
    by_name: dict[str, DeclaredPipeline] = {}
    for item in declared:
        if item.spec.name in RESERVED_NAMES:
            raise InvalidInput(
                f"pipeline {item.spec.name} ({item.source}): {item.spec.name!r} is a reserved name",
                hint="Give the pipeline another name, e.g. churn-retrain.",
                field="name",
            )
        other = by_name.get(item.spec.name)
        if other is not None:
            if other.spec == item.spec:
                continue
            raise InvalidInput(
                f"pipeline {item.spec.name} is declared twice, differently: in {other.source} "
                f"and in {item.source}",
                hint="Keep one declaration, or rename one of them.",
                field=item.spec.name,
            )
        by_name[item.spec.name] = item
    return [by_name[n] for n in sorted(by_name)]
