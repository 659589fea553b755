"""The model registry: versions, aliases, lineage, promotion gates and reference profiles."""

from __future__ import annotations

from jupyter_mlops.lineage.refs import ModelRef, parse_model_ref
from jupyter_mlops.registry.service import ModelRegistry

__all__ = ["ModelRef", "ModelRegistry", "parse_model_ref"]
