"""Lineage: how runs, feature versions, model versions and deployments name each other.

Every domain reads and writes lineage through this package only: the tag and artifact names
(:mod:`.tags`), the references users write (:class:`ModelRef`, :class:`FeatureRef`) with one parser
each, the column naming rule (:func:`feature_column`), the features-used payload
(:class:`FeaturesUsed`) and the reference profile of training data (:class:`ReferenceProfile`).
It imports no domain package, so any of them can depend on it.
"""

from __future__ import annotations

from jupyter_mlops.lineage.features_used import FeaturesUsed, features_used_filter
from jupyter_mlops.lineage.profile import FeatureProfile, ReferenceProfile, profile_frame
from jupyter_mlops.lineage.refs import (
    FeatureRef,
    ModelRef,
    check_alias,
    feature_column,
    features_for_inputs,
    parse_model_ref,
    view_label,
)

__all__ = [
    "FeatureProfile",
    "FeatureRef",
    "FeaturesUsed",
    "ModelRef",
    "ReferenceProfile",
    "check_alias",
    "feature_column",
    "features_for_inputs",
    "features_used_filter",
    "parse_model_ref",
    "profile_frame",
    "view_label",
]
