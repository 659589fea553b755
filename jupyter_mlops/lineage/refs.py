"""How users name the things lineage links: model versions and features.

- A model version: ``churn`` (latest), ``churn@champion``, ``churn:3``, ``churn:v3`` or ``churn/3``.
- A feature: ``view:feature`` (latest version), ``view:vN:feature`` (pinned) or ``view:*``.

Each has one parser here; nothing else splits these strings by hand. :func:`feature_column` is the
one rule for naming a feature's column in training frames, online lookups and model inputs.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from jupyter_mlops.errors import InvalidInput

_NAME = r"[A-Za-z0-9][A-Za-z0-9_.\-]*"
_MODEL_REF = re.compile(rf"^(?P<name>{_NAME})(?:@(?P<alias>{_NAME})|[:/]v?(?P<version>\d+))?$")
ALIAS_PATTERN = re.compile(rf"^{_NAME}$")
_FEATURE_REF = re.compile(r"^(?P<view>[^:\s]+)(?::v(?P<version>\d+))?:(?P<feature>[^:\s]+)$")
#: The separator of ``<view>__<feature>`` column names.
FULL_NAME_SEPARATOR = "__"


@dataclass(frozen=True)
class ModelRef:
    """A reference to one registered model version; neither alias nor version means the latest.

    Example:
        >>> ModelRef.parse("churn@champion")
        ModelRef(name='churn', version=None, alias='champion')
        >>> str(ModelRef.parse("churn/3"))
        'churn:3'
    """

    name: str
    version: int | None = None
    alias: str | None = None

    @classmethod
    def parse(cls, text: str) -> ModelRef:
        """Parse ``churn``, ``churn@champion``, ``churn:3``, ``churn:v3`` or ``churn/3``.

        Raises:
            InvalidInput: the text is none of these.
        """
        match = _MODEL_REF.match(text.strip()) if isinstance(text, str) else None
        if match is None:
            raise InvalidInput(
                f"{text!r} is not a model reference",
                hint="Write NAME (latest version), NAME@ALIAS (e.g. churn@champion) or "
                "NAME:VERSION (e.g. churn:3).",
                field="model",
            )
        version = match.group("version")
        return cls(
            name=match.group("name"),
            version=int(version) if version is not None else None,
            alias=match.group("alias"),
        )

    @property
    def is_plain_name(self) -> bool:
        """Whether the reference is a bare model name (no alias, no version)."""
        return self.alias is None and self.version is None

    def __str__(self) -> str:
        if self.alias:
            return f"{self.name}@{self.alias}"
        if self.version is not None:
            return f"{self.name}:{self.version}"
        return self.name


def parse_model_ref(text: str) -> ModelRef:
    """Same as :meth:`ModelRef.parse`."""
    return ModelRef.parse(text)


def check_alias(alias: str) -> str:
    """An alias must be a name, and not one that reads as a version number."""
    if not ALIAS_PATTERN.match(alias) or re.fullmatch(r"v?\d+", alias):
        raise InvalidInput(
            f"{alias!r} cannot be an alias",
            hint="Use letters, digits, '_', '-' or '.', not a version number: e.g. champion.",
            field="alias",
        )
    return alias


@dataclass(frozen=True)
class FeatureRef:
    """A parsed feature reference: view, optional pinned version, feature (or ``*``).

    Example:
        >>> FeatureRef.parse("customer_stats:v2:avg_spend").version
        2
        >>> FeatureRef.parse("customer_stats:avg_spend").column(full_names=True)
        'customer_stats__avg_spend'
    """

    view: str
    feature: str
    version: int | None = None

    @classmethod
    def parse(cls, text: str) -> FeatureRef:
        """Parse ``"view:feature"``, ``"view:vN:feature"`` or ``"view:*"``.

        Raises:
            InvalidInput: the text has another shape.
        """
        match = _FEATURE_REF.match(text.strip()) if isinstance(text, str) else None
        if match is None:
            raise InvalidInput(
                f"Feature reference {text!r} is malformed.",
                hint="Write 'view:feature' for the latest version or 'view:v2:feature' to pin "
                "version 2 ('view:*' takes every feature).",
                field="features",
            )
        version = match.group("version")
        return cls(match.group("view"), match.group("feature"), int(version) if version else None)

    @classmethod
    def pinned(cls, view: str, version: int, feature: str) -> FeatureRef:
        """The reference ``view:vN:feature``."""
        return cls(view, feature, version)

    @property
    def view_label(self) -> str:
        """``view:vN`` for a pinned reference, else the view name."""
        return self.view if self.version is None else view_label(self.view, self.version)

    def column(self, *, full_names: bool = False) -> str:
        """The column this feature gets (see :func:`feature_column`)."""
        return feature_column(self.view, self.feature, full_names=full_names)

    def __str__(self) -> str:
        pin = f":v{self.version}" if self.version is not None else ""
        return f"{self.view}{pin}:{self.feature}"


def view_label(view: str, version: int) -> str:
    """How one view version is named in lineage: ``customer_stats:v2``."""
    return f"{view}:v{version}"


def feature_column(view: str, feature: str, *, full_names: bool = False) -> str:
    """The column a feature gets in a training frame, an online lookup and a model's inputs.

    ``feature`` by default; ``<view>__<feature>`` with ``full_names`` (for names that collide).
    """
    return f"{view}{FULL_NAME_SEPARATOR}{feature}" if full_names else feature


def features_for_inputs(
    refs: Sequence[str], inputs: Sequence[str]
) -> tuple[dict[str, FeatureRef], bool]:
    """Which of the pinned references a model was trained on feed which of its input columns.

    A reference feeds an input named like its feature, or like ``<view>__<feature>`` when the
    training frame used full names. Returns ``{input column: reference}`` in input order, and
    whether any input is matched by its full name only.

    Example:
        >>> used, full = features_for_inputs(["stats:v2:spend"], ["spend", "tenure"])
        >>> {column: str(ref) for column, ref in used.items()}, full
        ({'spend': 'stats:v2:spend'}, False)
    """
    parsed = [FeatureRef.parse(text) for text in refs]
    by_name = {r.column(): r for r in parsed}
    by_full = {r.column(full_names=True): r for r in parsed}
    matched = {c: by_name.get(c) or by_full[c] for c in inputs if c in by_name or c in by_full}
    full_names = any(c in by_full and c not in by_name for c in matched)
    return matched, full_names
