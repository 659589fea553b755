"""Resolving, at deploy time, how a served version fills inputs from the online store.

A model trained on features records their pinned references in its lineage. When it is
deployed, the references that feed its input columns are resolved by the feature store into a
:class:`LookupPlan` that goes into the replica's spec, so a replica never reads the feature
registry. The feature store is reached through :class:`FeaturePlanner`, the one question serving
asks of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from jupyter_mlops.features.online.plan import LookupPlan
from jupyter_mlops.lineage import features_for_inputs


class FeaturePlanner(Protocol):
    """What serving needs of the feature store: a resolved online lookup."""

    def online_plan(self, features: Sequence[str], *, full_names: bool = False) -> LookupPlan: ...


def model_inputs(model_folder: Path) -> list[str]:
    """The named input columns of the MLflow model in ``model_folder`` (its signature's)."""
    from mlflow.models import Model

    meta = Model.load(str(model_folder / "MLmodel"))
    if meta.signature is None or meta.signature.inputs is None:
        return []
    return [str(c["name"]) for c in meta.signature.inputs.to_dict() if "name" in c]


def lookup_for(
    planner: FeaturePlanner, features: Sequence[str], inputs: Sequence[str]
) -> LookupPlan | None:
    """The online lookup of the features (pinned references) that feed these input columns,
    returning each under its input column's name; None when no input comes from a feature.

    Raises:
        NotFound: a view version of the lineage is no longer registered.
    """
    if not features or not inputs:
        return None
    matched, full_names = features_for_inputs(features, inputs)
    if not matched:
        return None
    plan = planner.online_plan([str(r) for r in matched.values()], full_names=full_names)
    return plan.renamed(
        {ref.column(full_names=full_names): column for column, ref in matched.items()}
    )
