"""The feature registry: applied definitions, their versions, and references to features.

The registry is one JSON file, ``.mlops/features/registry.json``, rewritten atomically (a temporary
file in the same folder, then ``os.replace``): a reader sees the old file or the new one, never half
of one. ``apply`` holds an exclusive lock (``registry.lock``, POSIX ``flock``) while it reads,
plans and writes, so two processes applying at once get consecutive versions.

What makes a new version: a change of the view's *versioned content*, which is its entities' join
keys, the timestamp field, the created timestamp field (when set), the features' names and dtypes,
the source, the SQL transform or the normalised source code of the Python transform, and the TTL
(a pinned reference must rebuild the same training frame, and the TTL decides which values are
null). Changing only the description, owner or tags updates the latest version in place. Each
version carries the sha256 of the canonical JSON of its versioned content; old versions stay
readable. ``apply`` never deletes a view.

A registry file that cannot be read (cut short, not JSON, wrong types) is a
:class:`~jupyter_mlops.errors.BackendUnavailable` naming the file and how to recover (a 503 over
REST: the request is not at fault); ``apply`` then writes nothing, so the file stays for repair.

References name one feature: ``"customer_stats:avg_spend"`` takes the latest version,
``"customer_stats:v2:avg_spend"`` pins version 2, and ``"customer_stats:*"`` takes every feature.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import runpy
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from jupyter_mlops.errors import (
    BackendUnavailable,
    InvalidInput,
    MlopsError,
    NotFound,
    did_you_mean,
)
from jupyter_mlops.features.definitions import (
    CsvSource,
    Definition,
    Entity,
    FeatureView,
    Field,
    ParquetSource,
)
from jupyter_mlops.features.schemas import Change, Plan, RegistryData, ViewVersion
from jupyter_mlops.features.transforms import PythonTransform
from jupyter_mlops.lineage import FeatureRef
from jupyter_mlops.paths import inside
from jupyter_mlops.process import file_lock

# Checks a new view version before it is registered (the feature store runs its transform).
VersionCheck = Callable[[ViewVersion], None]

DEFINITIONS_DIR = "features"
_METADATA = ("description", "owner", "tags")


# -- references ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResolvedView:
    """One view version and the features asked of it, in the order they were asked."""

    view: ViewVersion
    features: tuple[Field, ...]

    def refs(self) -> list[str]:
        """Pinned references (``view:vN:feature``) of the resolved features."""
        return [
            str(FeatureRef.pinned(self.view.name, self.view.version, f.name)) for f in self.features
        ]


def _close(word: str, candidates: Iterable[str]) -> str:
    return did_you_mean(word, candidates, listing="Known", empty="Known: (none yet).")


# -- fingerprints and diffs ---------------------------------------------------------------------


def versioned_content(view: FeatureView, entities: dict[str, Entity]) -> dict[str, Any]:
    """The part of a view whose change makes a new version, as plain JSON data."""
    data = view.model_dump(mode="json")
    content: dict[str, Any] = {
        "name": view.name,
        "entities": [
            {"name": n, "join_keys": list(entities[n].join_keys)} for n in view.entity_names
        ],
        "timestamp_field": view.timestamp_field,
        "features": [{"name": f.name, "dtype": f.dtype} for f in view.features],
        "source": data["source"],
        "transform_sql": view.transform_sql,
        "ttl": data["ttl"],
    }
    if view.transform is not None:
        # Only when set, so that views without one keep the fingerprints they always had.
        content["transform"] = view.transform.versioned()
    if view.created_timestamp_field is not None:
        # Likewise: it decides which of two tied rows a training frame takes.
        content["created_timestamp_field"] = view.created_timestamp_field
    return content


def fingerprint(content: dict[str, Any]) -> str:
    """sha256 of the canonical JSON (sorted keys, no spaces) of ``content``."""
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _show(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return "none" if value is None else str(value)


def diff_views(old: FeatureView, new: FeatureView, *, metadata: bool = True) -> list[str]:
    """Readable lines of what changed from ``old`` to ``new``.

    ``+`` added, ``-`` removed, ``~`` changed. Entities must be resolved (Entity objects).
    """
    lines: list[str] = []
    old_f = {f.name: f for f in old.features}
    new_f = {f.name: f for f in new.features}
    for name, f in new_f.items():
        if name not in old_f:
            lines.append(f"+ feature {name}: {f.dtype}")
        elif old_f[name].dtype != f.dtype:
            lines.append(f"~ feature {name}: {old_f[name].dtype} -> {f.dtype}")
    lines.extend(f"- feature {name}: {f.dtype}" for name, f in old_f.items() if name not in new_f)
    if [f.name for f in old.features if f.name in new_f] != [
        f.name for f in new.features if f.name in old_f
    ]:
        lines.append("~ feature order changed")

    def entities(view: FeatureView) -> str:
        return ", ".join(
            f"{e.name}({', '.join(e.join_keys)})" if isinstance(e, Entity) else e
            for e in view.entities
        )

    if entities(old) != entities(new):
        lines.append(f"~ entities: {entities(old)} -> {entities(new)}")
    before, after = old.model_dump(mode="json"), new.model_dump(mode="json")
    keys = ["timestamp_field", "created_timestamp_field", "source", "transform_sql", "ttl"]
    keys += list(_METADATA) if metadata else []
    for key in keys:
        if before[key] != after[key]:
            lines.append(f"~ {key}: {_show(before[key])} -> {_show(after[key])}")
    lines.extend(diff_transforms(old.transform, new.transform))
    return lines


def diff_transforms(old: PythonTransform | None, new: PythonTransform | None) -> list[str]:
    """Readable lines of what changed in a Python transform, with its source as a diff."""
    if old == new:
        return []
    if old is None or new is None:
        mark, which = ("+", new) if old is None else ("-", old)
        assert which is not None
        return [f"{mark} transform: {which.describe()}"]
    if old.versioned() == new.versioned():
        return [f"~ transform location: {old.file or old.module} -> {new.file or new.module}"]
    lines = [f"~ transform: {old.describe()} -> {new.describe()}, source changed:"]
    changed = difflib.unified_diff(
        old.source.splitlines(), new.source.splitlines(), lineterm="", n=1
    )
    lines.extend(f"  {line}" for line in changed if not line.startswith(("---", "+++")))
    return lines


# -- loading definitions from files -------------------------------------------------------------


def load_definitions(folder: Path) -> list[Definition]:
    """Run every ``*.py`` file in ``folder`` (sorted by name) and collect its definitions.

    Each file is run as a module of its own; module-level :class:`Entity` and :class:`FeatureView`
    objects (also inside top-level lists or tuples) are collected. Files starting with ``_`` are
    skipped, so helpers can live beside the definitions.

    Raises:
        InvalidInput: a file fails to run (the message names the file and the error), or two
            different definitions share a name.
    """
    found: list[Definition] = []
    if not folder.is_dir():
        return found
    for path in sorted(folder.glob("*.py")):
        if path.name.startswith("_"):
            continue
        try:
            namespace = runpy.run_path(str(path), run_name=f"mlops_features_{path.stem}")
        except MlopsError as exc:
            raise InvalidInput(
                f"{path.name}: {exc.message}", hint=exc.hint, field=exc.field
            ) from None
        except Exception as exc:
            raise InvalidInput(
                f"{path.name} failed to run: {type(exc).__name__}: {exc}",
                hint="Fix the error in the definitions file.",
                field=path.name,
            ) from None
        for value in namespace.values():
            items = value if isinstance(value, list | tuple) else [value]
            found.extend(v for v in items if isinstance(v, Entity | FeatureView))
    return found


# -- the registry -------------------------------------------------------------------------------


class FeatureRegistry:
    """Applied entities and feature views, with every version, for one workspace.

    Example:
        >>> reg = FeatureRegistry(ws)                                   # doctest: +SKIP
        >>> print(reg.plan([customer, customer_stats]))                 # doctest: +SKIP
        + entity customer: create
        + view customer_stats: create -> v1
    """

    def __init__(self, root: Path, path: Path) -> None:
        """
        Args:
            root: the workspace folder; source paths are kept relative to it and stay inside.
            path: the registry file (``.mlops/features/registry.json``).
        """
        self.root = root
        self.path = path

    # -- storage ----------------------------------------------------------------------------

    def load(self) -> RegistryData:
        """The registry as stored (empty when nothing was applied yet)."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return RegistryData()
        except OSError as exc:
            raise self._damaged(f"cannot be read ({exc.strerror or exc})") from None
        try:
            return RegistryData.model_validate_json(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise self._damaged(
                f"is not a valid registry: {first['msg']}" + (f" at '{where}'" if where else "")
            ) from None
        except MlopsError as exc:  # a definition's own check (an unknown dtype, say)
            raise self._damaged(f"holds an invalid definition: {exc.message}") from None

    def _damaged(self, problem: str) -> BackendUnavailable:
        """The error for a registry file that cannot be used: it names the file and the way out.

        A 503 over REST: the fault is in the workspace's stored state, not in the request.
        """
        return BackendUnavailable(
            f"The feature registry {self.path} {problem}.",
            hint="Restore the file from a backup or version control. Or move it aside and run "
            "`jupyter mlops features apply` to register the definitions in features/*.py again "
            "(their versions start again at v1; ingested rows are kept).",
            field="registry",
        )

    def _save(self, data: RegistryData) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".registry-", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(data.model_dump_json(indent=1))
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    # -- reading ----------------------------------------------------------------------------

    def entities(self) -> dict[str, Entity]:
        """Registered entities by name."""
        return self.load().entities

    def view_names(self) -> list[str]:
        """Names of the registered views, sorted."""
        return sorted(self.load().views)

    def versions(self, name: str) -> list[ViewVersion]:
        """Every version of view ``name``, oldest first.

        Raises:
            NotFound: no view has that name; the message lists close names.
        """
        return _history(self.load(), name)

    def get_view(self, name: str, version: int | None = None) -> ViewVersion:
        """A view's latest version, or the given one.

        Raises:
            NotFound: unknown view or version; the message lists close names or the versions.
        """
        return _pick(self.versions(name), version)

    def diff(self, name: str, v1: int | str, v2: int | str) -> list[str]:
        """What changed in view ``name`` from version ``v1`` to ``v2`` (``2`` or ``"v2"``)."""
        old = self.get_view(name, version_number(v1))
        new = self.get_view(name, version_number(v2))
        return diff_views(old.definition, new.definition)

    def resolve(
        self, refs: Sequence[str], *, pins: Mapping[str, int] | None = None
    ) -> list[ResolvedView]:
        """Resolve feature references, grouped per view version in first-seen order.

        Args:
            pins: the version a reference without one reads, by view (a replay's); the latest
                version for a view not named.

        Raises:
            InvalidInput: a malformed reference, none at all, or one feature asked twice.
            NotFound: an unknown view, version or feature; the message lists close names.
        """
        if isinstance(refs, str) or not refs:
            raise InvalidInput(
                "Give a list of feature references, e.g. ['customer_stats:avg_spend'].",
                field="features",
            )
        data = self.load()
        groups: dict[tuple[str, int], list[Field]] = {}
        chosen: dict[tuple[str, int], ViewVersion] = {}
        for text in refs:
            ref = FeatureRef.parse(text)
            if ref.view not in data.views:
                raise NotFound(
                    f"Feature view '{ref.view}' (in {text!r}) does not exist.",
                    hint=_close(ref.view, data.views),
                    field="features",
                )
            version = ref.version if ref.version is not None else (pins or {}).get(ref.view)
            view = _pick(data.views[ref.view], version)
            if ref.feature == "*":
                fields = list(view.definition.features)
            else:
                try:
                    fields = [view.definition.feature(ref.feature)]
                except KeyError:
                    names = [f.name for f in view.definition.features]
                    raise NotFound(
                        f"Feature '{ref.feature}' is not in {view.label} (in {text!r}).",
                        hint=_close(ref.feature, names),
                        field="features",
                    ) from None
            key = (view.name, view.version)
            chosen[key] = view
            group = groups.setdefault(key, [])
            for f in fields:
                if f in group:
                    raise InvalidInput(
                        f"Feature {view.label}:{f.name} is asked for twice.", field="features"
                    )
                group.append(f)
        return [ResolvedView(chosen[k], tuple(fs)) for k, fs in groups.items()]

    # -- plan and apply ---------------------------------------------------------------------

    def plan(self, definitions: Iterable[Definition], *, check: VersionCheck | None = None) -> Plan:
        """What :meth:`apply` would do with ``definitions``; nothing is written.

        Args:
            definitions: the entities and views.
            check: called with every view version the plan would create, before anything is
                written; it raises to refuse the plan.

        Raises:
            InvalidInput: a view names an unknown entity, two definitions share a name, a
                feature has the name of a join key, or a source path leaves the workspace.
        """
        plan, _ = self._plan(definitions, check)
        return plan

    def apply(
        self, definitions: Iterable[Definition], *, check: VersionCheck | None = None
    ) -> Plan:
        """Register ``definitions``: new views get v1, changed views a new version.

        Returns the plan that was applied. Nothing is written when nothing changed, or when
        ``check`` (as in :meth:`plan`) raises.
        """
        definitions = list(definitions)
        with self._locked():
            plan, data = self._plan(definitions, check)
            if plan.has_changes:
                self._save(data)
        return plan

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold an exclusive lock on the registry, so concurrent applies number versions right."""
        with file_lock(self.path.with_suffix(".lock")):
            yield

    def _plan(
        self, definitions: Iterable[Definition], check: VersionCheck | None = None
    ) -> tuple[Plan, RegistryData]:
        data = self.load()
        entities, views = self._collect(definitions)
        known = {**data.entities, **entities}
        changes: list[Change] = []
        for name, entity in entities.items():
            old = data.entities.get(name)
            if old is None:
                changes.append(Change(kind="entity", name=name, action="create"))
            elif old != entity:
                diff = []
                if old.join_keys != entity.join_keys:
                    diff.append(
                        f"~ join_keys: {', '.join(old.join_keys)} -> {', '.join(entity.join_keys)}"
                    )
                if old.description != entity.description:
                    diff.append(f"~ description: {old.description} -> {entity.description}")
                # New join keys change the views of the entity (new versions below).
                action = "update" if old.join_keys != entity.join_keys else "update_metadata"
                changes.append(Change(kind="entity", name=name, action=action, diff=diff))
            else:
                changes.append(Change(kind="entity", name=name, action="unchanged"))
            data.entities[name] = entity
        now = datetime.now(UTC)
        for name, view in views.items():
            missing = [e for e in view.entity_names if e not in known]
            if missing:
                raise InvalidInput(
                    f"FeatureView '{name}' uses entity '{missing[0]}', which is not defined.",
                    hint=_close(missing[0], known),
                    field="entities",
                )
            resolved = self._resolve_view(view, known)
            content = versioned_content(resolved, known)
            digest = fingerprint(content)
            history = data.views.setdefault(name, [])
            if not history:
                history.append(
                    ViewVersion(
                        name=name,
                        version=1,
                        fingerprint=digest,
                        created_at=now,
                        definition=resolved,
                    )
                )
                diff = [f"+ feature {f.name}: {f.dtype}" for f in resolved.features]
                if resolved.created_timestamp_field:
                    diff.append(f"+ created_timestamp_field: {resolved.created_timestamp_field}")
                if resolved.transform_sql:
                    diff.append(f"+ transform_sql: {resolved.transform_sql}")
                diff += diff_transforms(None, resolved.transform)
                if check is not None:
                    check(history[-1])
                changes.append(
                    Change(kind="view", name=name, action="create", version=1, diff=diff)
                )
                continue
            latest = history[-1]
            if latest.fingerprint != digest:
                diff = diff_views(latest.definition, resolved)
                version = latest.version + 1
                history.append(
                    ViewVersion(
                        name=name,
                        version=version,
                        fingerprint=digest,
                        created_at=now,
                        definition=resolved,
                    )
                )
                action = "new_version"
                if check is not None:
                    check(history[-1])
            elif latest.definition != resolved:
                diff = diff_views(latest.definition, resolved)
                version = latest.version
                history[-1] = latest.model_copy(update={"definition": resolved})
                action = "update_metadata"
            else:
                diff, version, action = [], latest.version, "unchanged"
            changes.append(
                Change(kind="view", name=name, action=action, version=version, diff=diff)
            )
        others = sorted(set(data.views) - set(views))
        return Plan(changes=changes, not_in_definitions=others), data

    def _collect(
        self, definitions: Iterable[Definition]
    ) -> tuple[dict[str, Entity], dict[str, FeatureView]]:
        entities: dict[str, Entity] = {}
        views: dict[str, FeatureView] = {}

        def add(store: dict[str, Any], item: Entity | FeatureView) -> None:
            if item.name in store and store[item.name] != item:
                kind = type(item).__name__
                raise InvalidInput(
                    f"Two different {kind} definitions are called '{item.name}'.",
                    hint="Rename one of them or remove the duplicate.",
                    field="name",
                )
            store[item.name] = item

        for item in definitions:
            if isinstance(item, Entity):
                add(entities, item)
            elif isinstance(item, FeatureView):
                add(views, item)
                for e in item.entities:
                    if isinstance(e, Entity):
                        add(entities, e)
            else:
                raise InvalidInput(
                    f"{item!r} is not an Entity or a FeatureView.", field="definitions"
                )
        return entities, views

    def _resolve_view(self, view: FeatureView, entities: dict[str, Entity]) -> FeatureView:
        """The view with entity objects in place of names and its source path made relative."""
        resolved_entities = [entities[n] for n in view.entity_names]
        keys = [k for e in resolved_entities for k in e.join_keys]
        clash = sorted({f.name for f in view.features} & {*keys, view.timestamp_field})
        if clash:
            raise InvalidInput(
                f"FeatureView '{view.name}': feature '{clash[0]}' has the name of a join key "
                "or the timestamp field.",
                field="features",
            )
        if view.timestamp_field in keys:
            raise InvalidInput(
                f"FeatureView '{view.name}': the timestamp field '{view.timestamp_field}' is "
                "also a join key.",
                field="timestamp_field",
            )
        if view.created_timestamp_field in keys:
            raise InvalidInput(
                f"FeatureView '{view.name}': the created timestamp field "
                f"'{view.created_timestamp_field}' is also a join key.",
                field="created_timestamp_field",
            )
        update: dict[str, Any] = {"entities": resolved_entities}
        if isinstance(view.source, ParquetSource | CsvSource):
            full = inside(self.root, view.source.path, must_exist=False)
            relative = full.relative_to(self.root.resolve()).as_posix() or "."
            update["source"] = view.source.model_copy(update={"path": relative})
        if view.transform is not None and view.transform.file:
            # Kept only inside the workspace, relative: where to find the function's globals.
            # A file outside the workspace (an installed module, say) is not kept: it would
            # never be run (see transforms.confined_file).
            root = self.root.resolve()
            try:
                full = inside(root, view.transform.file, must_exist=False)
            except InvalidInput:
                relative_file = None
            else:
                relative_file = full.relative_to(root).as_posix()
            update["transform"] = view.transform.model_copy(update={"file": relative_file})
        return view.model_copy(update=update)


def _history(data: RegistryData, name: str) -> list[ViewVersion]:
    if name not in data.views:
        raise NotFound(
            f"Feature view '{name}' does not exist.", hint=_close(name, data.views), field="view"
        )
    return data.views[name]


def _pick(versions: list[ViewVersion], version: int | None) -> ViewVersion:
    if version is None:
        return versions[-1]
    for v in versions:
        if v.version == version:
            return v
    name = versions[-1].name
    known = ", ".join(f"v{v.version}" for v in versions)
    raise NotFound(
        f"Feature view '{name}' has no version v{version}.",
        hint=f"Versions of {name}: {known}.",
        field="version",
    )


def version_number(value: int | str) -> int:
    """``2``, ``"2"`` or ``"v2"`` as the number 2."""
    text = str(value).strip().lower().removeprefix("v")
    if not text.isdigit():
        raise InvalidInput(
            f"Version {value!r} is not a version number.",
            hint="Write 2 or 'v2'.",
            field="version",
        )
    return int(text)
