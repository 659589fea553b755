"""Point-in-time join benchmark: ``FeatureStore.get_training_frame`` against the alternatives.

One command::

    python benchmarks/bench_features.py            # 1M entity rows x 10M-row view (10 floats)
    python benchmarks/bench_features.py --quick    # 100k x 1M, for a smoke run

Variants, each run in its own child process so its peak memory can be measured (DuckDB allocates
outside Python, so tracemalloc would miss it; ``os.wait4`` gives each child's max RSS):

* ``store``: ``FeatureStore.get_training_frame`` over a view with a ``ParquetSource`` (pandas out);
* ``store_ttl``: the same with a 30-day TTL on the view;
* ``store_one_query``: ``store`` forced onto the one-query join that views too large for memory
  take (the ASOF JOIN carries every feature); not in the default set;
* ``duckdb``: a hand-written ``ASOF LEFT JOIN`` over the same Parquet file (pandas out, no order);
* ``pandas``: ``pandas.merge_asof`` including the sorts it needs (reading the Parquet file into
  pandas is timed separately and not counted).

Targets (issue 3): ``store`` within 1.25x of ``duckdb``, at least 2x faster than ``pandas``, peak
memory under 4 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FEATURES = [f"f{i}" for i in range(10)]
SIZES = {
    "full": {"view_rows": 10_000_000, "entity_rows": 1_000_000, "entities": 100_000},
    "quick": {"view_rows": 1_000_000, "entity_rows": 100_000, "entities": 10_000},
}
VARIANTS = ["store", "store_ttl", "duckdb", "pandas"]


def generate(root: Path, view_rows: int, entity_rows: int, entities: int) -> None:
    """Write the view's Parquet file and the entity rows, with DuckDB, into a new workspace."""
    import duckdb

    from jupyter_mlops import Workspace

    ws = Workspace.init(root / "ws")
    (ws.root / "data").mkdir(exist_ok=True)
    year = 365 * 86400 * 1_000_000
    feats = ", ".join(f"random() AS {f}" for f in FEATURES)
    con = duckdb.connect()
    con.execute("SELECT setseed(0.42)")
    con.execute(
        f"COPY (SELECT (random() * {entities})::BIGINT AS customer_id, "
        f"TIMESTAMP '2025-01-01' + to_microseconds((random() * {year})::BIGINT) AS ts, {feats} "
        f"FROM range({view_rows})) TO '{ws.root / 'data' / 'view.parquet'}' (FORMAT parquet)"
    )
    con.execute(
        f"COPY (SELECT (random() * {entities})::BIGINT AS customer_id, "
        f"TIMESTAMP '2025-01-01' + to_microseconds((random() * {year})::BIGINT) "
        f"AS event_timestamp FROM range({entity_rows})) "
        f"TO '{root / 'entities.parquet'}' (FORMAT parquet)"
    )
    con.close()


def _cpu() -> float:
    # User + system time of every thread of this process (DuckDB's threads included).
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_variant(root: Path, variant: str) -> dict[str, float]:
    """Run one variant once in this process; return its wall and CPU times in seconds."""
    import pandas as pd

    entity_df = pd.read_parquet(root / "entities.parquet")
    view_file = root / "ws" / "data" / "view.parquet"
    if variant in {"store", "store_ttl", "store_one_query"}:
        from jupyter_mlops import Workspace
        from jupyter_mlops.features import (
            Entity,
            FeatureView,
            Field,
            ParquetSource,
            offline,
        )

        if variant == "store_one_query":
            offline._late_budget = lambda: 0  # every view counts as too large for memory

        store = Workspace.open(root / "ws").features
        customer = Entity("customer", ["customer_id"])
        name = "bench_ttl" if variant == "store_ttl" else "bench"
        view = FeatureView(
            name=name,
            entities=[customer],
            source=ParquetSource(path="data/view.parquet"),
            timestamp_field="ts",
            features=[Field(f, "float64") for f in FEATURES],
            ttl="30d" if variant == "store_ttl" else None,
        )
        store.apply([customer, view])
        cpu, start = _cpu(), time.perf_counter()
        out = store.get_training_frame(entity_df, [f"{name}:*"])
        seconds = time.perf_counter() - start
    elif variant == "duckdb":
        import duckdb

        cpu, start = _cpu(), time.perf_counter()
        con = duckdb.connect()
        con.register("entity", entity_df)
        feats = ", ".join(f"v.{f}" for f in FEATURES)
        out = con.sql(
            f"SELECT e.*, {feats} FROM entity e ASOF LEFT JOIN read_parquet('{view_file}') v "
            "ON e.customer_id = v.customer_id AND e.event_timestamp >= v.ts"
        ).df()
        seconds = time.perf_counter() - start
    elif variant == "pandas":
        start = time.perf_counter()
        view = pd.read_parquet(view_file)
        read = time.perf_counter() - start
        cpu, start = _cpu(), time.perf_counter()
        out = pd.merge_asof(
            entity_df.sort_values("event_timestamp"),
            view.sort_values("ts"),
            left_on="event_timestamp",
            right_on="ts",
            by="customer_id",
            direction="backward",
        )
        seconds = time.perf_counter() - start
        return {
            "seconds": seconds,
            "cpu_seconds": _cpu() - cpu,
            "read_seconds": read,
            "rows": float(len(out)),
        }
    else:
        raise SystemExit(f"unknown variant {variant!r}; known: {', '.join(VARIANTS)}")
    return {"seconds": seconds, "cpu_seconds": _cpu() - cpu, "rows": float(len(out))}


def measure(root: Path, variant: str) -> dict[str, float]:
    """Run a variant in a child process; add its peak RSS (from os.wait4) to its timings."""
    child = subprocess.Popen(
        [sys.executable, __file__, "--child", variant, "--dir", str(root)],
        stdout=subprocess.PIPE,
    )
    assert child.stdout is not None
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"variant {variant} failed with exit code {child.returncode}")
    result: dict[str, float] = json.loads(output)
    result["peak_rss_mb"] = usage.ru_maxrss / 1024  # ru_maxrss is in KiB on Linux
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100k x 1M rows instead of 1M x 10M")
    parser.add_argument("--repeat", type=int, default=3, help="runs per variant (median shown)")
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated")
    parser.add_argument("--dir", help="reuse or keep the generated data in this folder")
    parser.add_argument("--out", help="also write the results as JSON to this file")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_variant(Path(args.dir), args.child)))
        return
    size = SIZES["quick" if args.quick else "full"]
    root = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="bench-features-"))
    if not (root / "entities.parquet").exists():
        start = time.perf_counter()
        generate(root, **size)
        print(f"generated data in {time.perf_counter() - start:.1f} s under {root}")
    load_start = os.getloadavg()
    print(
        f"{size['entity_rows']:,} entity rows x {size['view_rows']:,}-row view "
        f"({len(FEATURES)} float features, {size['entities']:,} entities), "
        f"{args.repeat} runs each, median:"
    )
    variants = args.variants.split(",")
    runs: dict[str, list[dict[str, float]]] = {v: [] for v in variants}
    # Round-robin, so that a burst of load on the machine hits every variant alike.
    for _ in range(args.repeat):
        for variant in variants:
            runs[variant].append(measure(root, variant))
    results: dict[str, dict[str, float]] = {}
    for variant in variants:
        done = runs[variant]
        results[variant] = {
            key: statistics.median(r[key] for r in done) for key in done[0] if key != "rows"
        }
        extra = ""
        if "read_seconds" in results[variant]:
            extra = f"  (+ {results[variant]['read_seconds']:.2f} s reading Parquet, not counted)"
        each = ", ".join(f"{r['seconds']:.2f}" for r in done)
        print(
            f"  {variant:10s} {results[variant]['seconds']:6.2f} s wall "
            f"{results[variant]['cpu_seconds']:6.2f} s CPU   "
            f"peak RSS {results[variant]['peak_rss_mb']:7.0f} MB   (runs: {each}){extra}"
        )
    load_end = os.getloadavg()
    print(
        f"load average (1, 5, 15 min): {', '.join(f'{x:.2f}' for x in load_start)} at start, "
        f"{', '.join(f'{x:.2f}' for x in load_end)} at end, on {os.cpu_count()} CPUs"
    )
    summary: dict[str, float] = {}
    if {"store", "duckdb"} <= results.keys():
        summary["store_vs_duckdb"] = results["store"]["seconds"] / results["duckdb"]["seconds"]
        print(f"store / hand-written DuckDB: {summary['store_vs_duckdb']:.2f}x (target <= 1.25x)")
    if {"store", "pandas"} <= results.keys():
        summary["pandas_vs_store"] = results["pandas"]["seconds"] / results["store"]["seconds"]
        print(f"pandas.merge_asof / store:   {summary['pandas_vs_store']:.2f}x (target >= 2x)")
    if args.out:
        report = {
            "size": size,
            "repeat": args.repeat,
            "load_average_start": load_start,
            "load_average_end": load_end,
            "cpus": os.cpu_count(),
            "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "median": results,
            "runs": runs,
            "ratios": summary,
        }
        Path(args.out).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
