"""Benchmark of monitoring over a large prediction log: a window of 1M logged predictions read
and reported (issue target: <= 2 s).

Run from the repository root::

    python benchmarks/bench_monitoring.py                  # 1M rows, 5 repeats
    python benchmarks/bench_monitoring.py --rows 100000 --repeats 3 --out /tmp/m.json

Set-up (not timed): a workspace with model ``churn`` (a logistic regression on 10 float
features, ``predict_proba``: 2 outputs) registered with the profile of its 100k-row training
frame and deployed, then stopped (monitoring reads a stopped deployment's log the same way). Its
prediction log gets ``--rows`` predicted rows written through the server's own
``PredictionLog`` (requests of ``--batch`` rows, inputs drawn like the training frame with 3 of
the 10 features shifted, outputs from the model), closed and compacted into Parquet by the
supervisor's ``compact``; 10% of rows get feedback.

Timed, each ``--repeats`` times in one process (median and max printed), every call through
``ws.monitoring`` as the faces make it:

- ``metrics``: request rate, errors by status, latency p50/p95/p99 per version (DuckDB);
- ``drift``: read the window's inputs and outputs, drift report against the stored profile;
- ``quality``: join with the feedback, classifier metrics;
- ``check``: all of the above plus freshness, stored with its events: what the scheduler runs.

The first call of each is reported apart (imports and the first DuckDB/scipy use).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

DEFAULT_OUT = Path(__file__).parent / "results" / "monitoring.json"
FEATURES = [f"f{i}" for i in range(10)]


def build(root: Path, rows: int, batch: int, log: Any) -> tuple[Any, str]:
    import mlflow
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    from jupyter_mlops import Workspace
    from jupyter_mlops.serving.predictions import compact
    from jupyter_mlops.serving.predlog import PredictionLog

    ws = Workspace.init(root)
    rng = np.random.default_rng(0)
    train = pd.DataFrame(rng.normal(0, 1, (100_000, 10)), columns=FEATURES)
    y = (train["f0"] + train["f1"] > 0).astype(int)
    clf = LogisticRegression(max_iter=200).fit(train, y)
    with ws.tracking.start_run("bench", run_name="logreg") as rec:
        mlflow.set_tracking_uri(ws.tracking_uri)
        with mlflow.start_run(run_id=rec.run_id):
            mlflow.sklearn.log_model(
                clf,
                name="model",
                input_example=train.head(3),
                pyfunc_predict_fn="predict_proba",
                pip_requirements=["scikit-learn"],
            )
    ws.registry.register(rec.run_id, "churn", training_data=train)
    ws.deployments.deploy("churn:1", name="churn")
    ws.deployments.stop("churn")
    log("model registered, deployed and stopped")

    folder = ws.deployments.predictions / "churn"
    plog = PredictionLog(folder, fsync_interval=0)
    start = time.time() - rows / batch  # one request a second, ending now
    ids = []
    for i in range(rows // batch):
        x = rng.normal(0, 1, (batch, 10))
        x[:, 2] += 0.3
        x[:, 5] *= 1.5
        x[:, 8] = np.where(rng.random(batch) < 0.2, np.nan, x[:, 8])
        frame = pd.DataFrame(x, columns=FEATURES)
        proba = clf.predict_proba(frame.fillna(0))
        rid = f"bench-{i:07d}"
        plog.append(
            {
                "id": rid,
                "time": start + i,
                "deployment": "churn",
                "model": "churn",
                "version": 1,
                "protocol": "v2",
                "status": 200 if i % 100 else 400,
                "latency_ms": float(rng.gamma(2.0, 2.0)),
                "rows": batch,
                "inputs": {f: np.ascontiguousarray(x[:, j]) for j, f in enumerate(FEATURES)},
                "outputs": proba,
            }
        )
        ids.append(rid)
    plog.close()
    report = compact(folder)
    log(f"{rows:,} rows logged and compacted ({report})")
    from jupyter_mlops.monitoring.schemas import FeedbackItem

    items = [
        FeedbackItem(request_id=rid, row=r, label=int(rng.random() < 0.5))
        for rid in ids[::10]
        for r in range(0, batch, 10)
    ]
    ws.monitoring.feedback("churn", items)
    log(f"{len(items):,} feedback rows recorded")
    return ws, "churn"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=1000, help="rows per logged request")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    started = time.time()

    def log(msg: str) -> None:
        print(f"[{time.time() - started:6.1f}s] {msg}", flush=True)

    from jupyter_mlops.monitoring.windows import Window

    with tempfile.TemporaryDirectory(prefix="mlops-bench-monitoring-") as tmp:
        ws, name = build(Path(tmp) / "ws", args.rows, args.batch, log)
        window = Window.parse("30d")
        calls = {
            "metrics": lambda: ws.monitoring.metrics(name, window),
            "drift": lambda: ws.monitoring.drift(name, window),
            "quality": lambda: ws.monitoring.quality(name, window),
            "check": lambda: ws.monitoring.check(name, window),
        }
        figures: dict[str, Any] = {}
        for label, call in calls.items():
            t0 = time.perf_counter()
            result = call()
            first = time.perf_counter() - t0
            samples = []
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                result = call()
                samples.append(time.perf_counter() - t0)
            figures[label] = {
                "first_s": round(first, 3),
                "median_s": round(statistics.median(samples), 3),
                "max_s": round(max(samples), 3),
                "samples_s": [round(s, 3) for s in samples],
            }
            log(
                f"{label:8s} first {first:.3f} s, median {statistics.median(samples):.3f} s, "
                f"max {max(samples):.3f} s"
            )
        check = result
        summary = check.summary  # type: ignore[attr-defined]
        log(
            f"check: {summary.rows:,} rows, drift share {summary.drift_share}, drifted "
            f"{summary.drifted}, requests {summary.requests}, error rate {summary.error_rate}, "
            f"quality {summary.quality}"
        )
        ws.features.close()
    out = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "command": " ".join([sys.executable, *sys.argv]),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "loadavg": os.getloadavg(),
        },
        "rows": args.rows,
        "batch": args.batch,
        "target_s": 2.0,
        "figures": figures,
        "check": {
            "rows": summary.rows,
            "drifted": summary.drifted,
            "drift_share": summary.drift_share,
            "error_rate": summary.error_rate,
            "quality": summary.quality,
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    log(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
