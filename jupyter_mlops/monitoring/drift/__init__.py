"""Drift of a window of data from a reference: the tests, their registry and the report.

::

    from jupyter_mlops.monitoring.drift import drift_report
    report = drift_report(train_frame_or_profile, window_frame)
    report.to_frame()          # one row per feature: test, statistic, p-value, verdict
    report.drift_share         # share of tested features that drifted

The default test per feature, the thresholds and the statuses are described in
:mod:`jupyter_mlops.monitoring.drift.report`; the tests in
:mod:`jupyter_mlops.monitoring.drift.stattests`.
"""

from __future__ import annotations

from jupyter_mlops.lineage.profile import OutdatedProfile
from jupyter_mlops.monitoring.drift.report import (
    DriftChart,
    DriftCheck,
    DriftReport,
    DriftThresholds,
    FeatureDrift,
    default_test,
    drift_report,
)
from jupyter_mlops.monitoring.drift.stattests import (
    DRIFT_TESTS,
    Cells,
    DriftTest,
    TestResult,
    UnknownDriftTest,
    get_test,
)

__all__ = [
    "DRIFT_TESTS",
    "Cells",
    "DriftChart",
    "DriftCheck",
    "DriftReport",
    "DriftTest",
    "DriftThresholds",
    "FeatureDrift",
    "OutdatedProfile",
    "TestResult",
    "UnknownDriftTest",
    "default_test",
    "drift_report",
    "get_test",
]
