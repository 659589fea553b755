"""Monitoring of deployments: drift, API metrics, model quality, freshness, alerts.

In a notebook::

    from jupyter_mlops.monitoring import drift_report
    report = drift_report("churn@champion", current_frame)   # or a DataFrame / profile reference
    report.to_frame()

Names load lazily, so ``import jupyter_mlops.monitoring`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jupyter_mlops.monitoring.drift import DRIFT_TESTS, DriftReport
    from jupyter_mlops.monitoring.service import Monitoring
    from jupyter_mlops.monitoring.windows import Window

__all__ = ["DRIFT_TESTS", "DriftReport", "Monitoring", "Window", "drift_report"]

_WHERE = {
    "DRIFT_TESTS": "jupyter_mlops.monitoring.drift",
    "DriftReport": "jupyter_mlops.monitoring.drift",
    "Monitoring": "jupyter_mlops.monitoring.service",
    "Window": "jupyter_mlops.monitoring.windows",
}


def drift_report(reference: Any, current: Any, **kwargs: Any) -> DriftReport:
    """Drift of ``current`` (a DataFrame) against ``reference``: a DataFrame, a stored
    :class:`~jupyter_mlops.lineage.ReferenceProfile`, or a model reference such as
    ``"churn@champion"`` whose stored profile is read from the current workspace.

    Keyword arguments are those of :func:`jupyter_mlops.monitoring.drift.drift_report`
    (``tests``, ``thresholds``).
    """
    from jupyter_mlops.monitoring.drift import drift_report as report

    if isinstance(reference, str):
        from jupyter_mlops.workspace import Workspace

        reference = Workspace.find().registry.profile(reference)
    return report(reference, current, **kwargs)


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
