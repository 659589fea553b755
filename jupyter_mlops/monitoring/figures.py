"""API metrics and model quality computed from a window of the prediction log.

The window arrives as an Arrow table with one row per predicted row (see
:mod:`jupyter_mlops.serving.predictions`); request-level figures count each request once (its row
0). DuckDB runs the aggregates on the Arrow table in place, without a copy into pandas.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jupyter_mlops.monitoring.schemas import (
    ApiMetrics,
    QualityMetrics,
    QualityReport,
    VersionMetrics,
)

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]

    from jupyter_mlops.monitoring.windows import Window

_REQUESTS_SQL = """
SELECT {group}
       count(*) AS requests,
       coalesce(sum(rows), 0) AS rows,
       coalesce(sum(CASE WHEN status >= 400 THEN 1 ELSE 0 END), 0) AS errors,
       quantile_cont(latency_ms, 0.5) AS p50,
       quantile_cont(latency_ms, 0.95) AS p95,
       quantile_cont(latency_ms, 0.99) AS p99,
       epoch(min(time)) AS first, epoch(max(time)) AS last
FROM log WHERE "row" = 0
{group_by}
"""


def api_metrics(log: pa.Table, deployment: str, window: Window) -> ApiMetrics:
    """Requests, rows, errors (by status), request rate and latency percentiles, per version
    and overall, over the window."""
    import duckdb

    con = duckdb.connect()
    try:
        con.register("log", log)
        overall = con.execute(_REQUESTS_SQL.format(group="", group_by="")).fetchone()
        per_version = con.execute(
            _REQUESTS_SQL.format(group="model, version,", group_by="GROUP BY model, version")
            + " ORDER BY model, version"
        ).fetchall()
        statuses = con.execute(
            'SELECT model, version, status, count(*) FROM log WHERE "row" = 0 AND status >= 400 '
            "GROUP BY ALL"
        ).fetchall()
    finally:
        con.close()
    by_status: dict[tuple[str, int | None], dict[str, int]] = {}
    total_status: dict[str, int] = {}
    for model, version, status, n in statuses:
        by_status.setdefault((model, version), {})[str(status)] = int(n)
        total_status[str(status)] = total_status.get(str(status), 0) + int(n)
    seconds = window.seconds()

    def figures(
        model: str, version: int | None, row: Any, errors: dict[str, int]
    ) -> VersionMetrics:
        requests, rows, n_errors, p50, p95, p99, first, last = row
        span = seconds if seconds is not None else (last - first if requests > 1 else None)
        return VersionMetrics(
            model=model,
            version=version,
            requests=int(requests),
            rows=int(rows),
            errors=int(n_errors),
            error_rate=n_errors / requests if requests else None,
            errors_by_status=errors,
            request_rate=requests / span if span else None,
            latency_p50_ms=_num(p50),
            latency_p95_ms=_num(p95),
            latency_p99_ms=_num(p99),
        )

    versions = [
        figures(
            str(r[0]), None if r[1] is None else int(r[1]), r[2:], by_status.get((r[0], r[1]), {})
        )
        for r in per_version
    ]
    return ApiMetrics(
        deployment=deployment,
        window=window.span(),
        overall=figures(deployment, None, overall, total_status),
        versions=versions,
    )


def _num(value: Any) -> float | None:
    return None if value is None else float(value)


def output_columns(columns: list[str]) -> list[str]:
    """The output columns of a log table, in order (``output`` or ``output.0``, ``output.1``...)."""
    outs = [c for c in columns if c == "output" or c.startswith("output.")]
    return sorted(outs, key=lambda c: (len(c), c))


def input_columns(columns: list[str]) -> list[str]:
    return [c for c in columns if c.startswith("input.")]


def quality_report(
    labelled: pd.DataFrame, deployment: str, window: Window, predicted: int
) -> QualityReport:
    """Quality of the predictions that have ground truth.

    ``labelled`` holds the window's predicted rows joined with their feedback: ``model``,
    ``version``, the output column(s) and ``label``. A model whose output is a probability per
    class (several output columns) or whose labels and predictions are classes is a classifier
    (accuracy, precision, recall, ROC AUC, log loss); otherwise a regressor (RMSE, MAE, R²).
    """
    report = QualityReport(
        deployment=deployment, window=window.span(), predicted=predicted, labelled=len(labelled)
    )
    if labelled.empty:
        report.message = (
            "No feedback for the predictions in this window; send ground truth with "
            "POST /feedback on the deployment or `jupyter mlops monitor feedback`."
        )
        return report
    outputs = output_columns(list(labelled.columns))
    report.overall = _quality(labelled, outputs, deployment, None)
    for (model, version), part in labelled.groupby(["model", "version"], dropna=False):
        v = None if version is None or version != version else int(version)
        report.versions.append(_quality(part, outputs, str(model), v))
    return report


def _is_classes(values: pd.Series) -> bool:
    import pandas as pd

    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_object_dtype(values):
        return True
    if pd.api.types.is_string_dtype(values):
        return True
    if pd.api.types.is_integer_dtype(values):
        return True
    numbers = pd.to_numeric(values, errors="coerce")
    return bool(
        numbers.notna().all() and (numbers == numbers.round()).all() and numbers.nunique() <= 50
    )


def _quality(
    frame: pd.DataFrame, outputs: list[str], model: str, version: int | None
) -> QualityMetrics:
    import numpy as np
    from sklearn import metrics as skm

    labels = frame["label"]
    metrics: dict[str, float | None] = {}
    if len(outputs) > 1:  # one probability per class, classes 0..k-1 in order
        proba = frame[outputs].to_numpy(dtype="float64")
        y = labels.astype("int64").to_numpy()
        predicted = proba.argmax(axis=1)
        metrics.update(_class_figures(y, predicted))
        classes = list(range(len(outputs)))
        metrics["log_loss"] = float(skm.log_loss(y, np.clip(proba, 1e-15, 1), labels=classes))
        if len(set(y.tolist())) > 1:
            if len(outputs) == 2:
                metrics["roc_auc"] = float(skm.roc_auc_score(y, proba[:, 1]))
            else:
                metrics["roc_auc"] = float(
                    skm.roc_auc_score(y, proba, multi_class="ovr", labels=classes)
                )
        else:
            metrics["roc_auc"] = None
        return QualityMetrics(
            model=model, version=version, kind="classifier", labelled=len(frame), metrics=metrics
        )
    predicted_col = frame[outputs[0]]
    if _is_classes(labels) and _is_classes(predicted_col):
        y = labels.astype("string").to_numpy()
        p = predicted_col.astype("string").to_numpy()
        metrics.update(_class_figures(y, p))
        return QualityMetrics(
            model=model, version=version, kind="classifier", labelled=len(frame), metrics=metrics
        )
    y_true = labels.astype("float64").to_numpy()
    y_pred = predicted_col.astype("float64").to_numpy()
    err = y_pred - y_true
    metrics["rmse"] = float(np.sqrt(np.mean(err**2)))
    metrics["mae"] = float(np.mean(np.abs(err)))
    metrics["r2"] = float(skm.r2_score(y_true, y_pred)) if len(frame) > 1 else None
    return QualityMetrics(
        model=model, version=version, kind="regressor", labelled=len(frame), metrics=metrics
    )


def _class_figures(y: Any, predicted: Any) -> dict[str, float | None]:
    from sklearn import metrics as skm

    classes = sorted(set(list(y)) | set(list(predicted)), key=str)
    binary = len(classes) <= 2
    average = "binary" if binary and len(classes) == 2 else "macro"
    pos = classes[-1] if average == "binary" else 1
    kwargs: dict[str, Any] = {"average": average, "zero_division": 0}
    if average == "binary":
        kwargs["pos_label"] = pos
    return {
        "accuracy": float(skm.accuracy_score(y, predicted)),
        "precision": float(skm.precision_score(y, predicted, **kwargs)),
        "recall": float(skm.recall_score(y, predicted, **kwargs)),
    }
