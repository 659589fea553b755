"""How users name a model version: ``churn``, ``churn@champion``, ``churn:3`` or ``churn/3``."""

from __future__ import annotations

import re
from dataclasses import dataclass

from jupyter_mlops.errors import InvalidInput

_NAME = r"[A-Za-z0-9][A-Za-z0-9_.\-]*"
_REF = re.compile(rf"^(?P<name>{_NAME})(?:@(?P<alias>{_NAME})|[:/]v?(?P<version>\d+))?$")
ALIAS_PATTERN = re.compile(rf"^{_NAME}$")


@dataclass(frozen=True)
class ModelRef:
    """A reference to one registered model version; neither alias nor version means the latest."""

    name: str
    version: int | None = None
    alias: str | None = None

    def __str__(self) -> str:
        if self.alias:
            return f"{self.name}@{self.alias}"
        if self.version is not None:
            return f"{self.name}:{self.version}"
        return self.name


def parse_model_ref(text: str) -> ModelRef:
    """Parse ``churn``, ``churn@champion``, ``churn:3``, ``churn:v3`` or ``churn/3``.

    Raises:
        InvalidInput: the text is none of these.
    """
    match = _REF.match(text.strip())
    if match is None:
        raise InvalidInput(
            f"{text!r} is not a model reference",
            hint="Write NAME (latest version), NAME@ALIAS (e.g. churn@champion) or NAME:VERSION "
            "(e.g. churn:3).",
            field="model",
        )
    version = match.group("version")
    return ModelRef(
        name=match.group("name"),
        version=int(version) if version is not None else None,
        alias=match.group("alias"),
    )


def check_alias(alias: str) -> str:
    """An alias must be a name, and not one that reads as a version number."""
    if not ALIAS_PATTERN.match(alias) or re.fullmatch(r"v?\d+", alias):
        raise InvalidInput(
            f"{alias!r} cannot be an alias",
            hint="Use letters, digits, '_', '-' or '.', not a version number: e.g. champion.",
            field="alias",
        )
    return alias
