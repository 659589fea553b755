"""Benchmark of the A/B statistics: error rates under peeking, power, and the cost of analyze.

Run from the repository root::

    python benchmarks/bench_abtest_stats.py            # writes benchmarks/results/abtest_stats.json
    python benchmarks/bench_abtest_stats.py --quick --out /tmp/abtest.json   # smoke test

1. **A/A** (no difference, both arms convert at 10%): 2,000 experiments with fixed seeds, each
   planned with ``stats.sample_size`` to detect a 10% relative lift (alpha 0.05, power 0.8) and
   looked at after every one of 20 equal batches up to that size. The share of experiments
   declared different by: the mSPRT (``stats.msprt``, its always-valid p-value below alpha at
   any look), the fixed-horizon z-test (``stats.two_proportion_z``) peeked at every look and
   stopped at the first p < alpha, and the same z-test once at the planned size. Also the same
   A/A through ``analyze`` itself, with an hourly time column so that its sequential test looks
   once per batch.
2. **A/B** with the planned effect (10% -> 11%): the power of each at the planned size, and of
   the mSPRT when it may run on to twice the planned size (40 looks); the median look at which
   the mSPRT stopped.
3. **Speed**: ``analyze`` on 1,000,000 rows, binary, and numeric with and without the bootstrap.

Each arm's conversions per batch are binomial draws (the sum of the batch's 0/1 outcomes), so
one experiment costs 20 draws, not 30,000.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from jupyter_mlops.abtest import analyze, stats

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "results" / "abtest_stats.json"
ALPHA = 0.05
BASELINE = 0.10
LIFT = 0.10  # relative: 10% -> 11%
LOOKS = 20
SPEED_ROWS = 1_000_000


def plan() -> stats.SampleSize:
    return stats.sample_size("binary", BASELINE, LIFT, relative=True, alpha=ALPHA, power=0.8)


def simulate(
    experiments: int, looks: int, batch: int, rate_c: float, rate_t: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cumulative conversions of control and treatment, and rows per arm, after each look."""
    rng = np.random.default_rng(seed)
    sc = np.cumsum(rng.binomial(batch, rate_c, (experiments, looks)), axis=1)
    st = np.cumsum(rng.binomial(batch, rate_t, (experiments, looks)), axis=1)
    n = batch * np.arange(1, looks + 1)
    return sc, st, n


def decide(
    sc: np.ndarray, st: np.ndarray, n: np.ndarray, tau2: float, planned_looks: int
) -> dict[str, Any]:
    """Each procedure's decision per experiment, and when the mSPRT stopped."""
    experiments = sc.shape[0]
    msprt_stop = np.full(experiments, -1)
    peeked = np.zeros(experiments, dtype=bool)
    at_end = np.zeros(experiments, dtype=bool)
    for e in range(experiments):
        seq = stats.msprt(
            stats.Looks.of_counts(sc[e], n),
            stats.Looks.of_counts(st[e], n),
            mixing_variance=tau2,
            alpha=ALPHA,
        )
        below = np.flatnonzero(np.array(seq.p_values) < ALPHA)
        if below.size:
            msprt_stop[e] = below[0]
        for k in range(planned_looks):
            z = stats.two_proportion_z(
                stats.Proportion(int(sc[e, k]), int(n[k])),
                stats.Proportion(int(st[e, k]), int(n[k])),
                alpha=ALPHA,
            )
            if z.p_value < ALPHA:
                peeked[e] = True
            if k == planned_looks - 1:
                at_end[e] = z.p_value < ALPHA
    return {"msprt_stop": msprt_stop, "peeked": peeked, "at_end": at_end}


def rate(hits: np.ndarray) -> dict[str, float]:
    r = float(hits.mean())
    half = 1.96 * math.sqrt(r * (1 - r) / hits.size)
    return {"rate": r, "ci95": [max(r - half, 0.0), min(r + half, 1.0)]}


def run_aa(experiments: int, seed: int) -> dict[str, Any]:
    p = plan()
    batch = math.ceil(p.control_n / LOOKS)
    tau2 = stats.mixing_variance(2 * BASELINE * (1 - BASELINE) / p.control_n, ALPHA)
    sc, st, n = simulate(experiments, LOOKS, batch, BASELINE, BASELINE, seed)
    d = decide(sc, st, n, tau2, LOOKS)
    return {
        "experiments": experiments,
        "looks": LOOKS,
        "rows_per_arm_per_look": batch,
        "rows_per_arm_at_end": int(n[-1]),
        "mixing_variance": tau2,
        "msprt_any_look": rate(d["msprt_stop"] >= 0),
        "z_peeked_every_look": rate(d["peeked"]),
        "z_at_planned_size_only": rate(d["at_end"]),
    }


def run_aa_analyze(experiments: int, seed: int) -> dict[str, Any]:
    """The A/A through analyze(): one row per request, an hour per batch, time_col given."""
    p = plan()
    batch = math.ceil(p.control_n / LOOKS)
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2026-01-01")
    hours = np.repeat(np.arange(LOOKS), 2 * batch)
    at = start + pd.to_timedelta(hours, unit="h")
    variant = np.tile(np.repeat(["control", "challenger"], batch), LOOKS)
    rejected, seconds = [], []
    for _ in range(experiments):
        frame = pd.DataFrame(
            {"variant": variant, "converted": rng.random(variant.size) < BASELINE, "at": at}
        )
        began = time.perf_counter()
        result = analyze(frame, outcome_col="converted", time_col="at", planned_n=p.control_n)
        seconds.append(time.perf_counter() - began)
        rejected.append(result.verdict != "no_difference_yet")
    return {
        "experiments": experiments,
        "looks": LOOKS,
        "rows_per_experiment": int(variant.size),
        "analyze_verdict_any_look": rate(np.array(rejected)),
        "analyze_median_s": statistics.median(seconds),
    }


def run_ab(experiments: int, seed: int) -> dict[str, Any]:
    p = plan()
    batch = math.ceil(p.control_n / LOOKS)
    tau2 = stats.mixing_variance(2 * BASELINE * (1 - BASELINE) / p.control_n, ALPHA)
    treated = BASELINE * (1 + LIFT)
    sc, st, n = simulate(experiments, 2 * LOOKS, batch, BASELINE, treated, seed)
    d = decide(sc, st, n, tau2, LOOKS)
    stop = d["msprt_stop"]
    stopped = stop[(stop >= 0) & (stop < LOOKS)]
    return {
        "experiments": experiments,
        "effect": {"control": BASELINE, "treatment": treated},
        "planned_rows_per_arm": p.control_n,
        "power_msprt_by_planned_size": rate((stop >= 0) & (stop < LOOKS)),
        "power_msprt_by_twice_planned_size": rate(stop >= 0),
        "power_z_at_planned_size": rate(d["at_end"]),
        "msprt_median_stop_fraction_of_plan": (
            float(np.median(stopped + 1) / LOOKS) if stopped.size else None
        ),
        "wrong_sign_decisions_msprt": int(
            sum(1 for e in np.flatnonzero(stop >= 0) if st[e, stop[e]] < sc[e, stop[e]])
        ),
    }


def run_speed(repeats: int) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "variant": rng.choice(["control", "challenger"], SPEED_ROWS),
            "converted": rng.random(SPEED_ROWS) < BASELINE,
            "revenue": rng.exponential(20.0, SPEED_ROWS),
        }
    )
    analyze(frame.head(1_000), outcome_col="converted")  # imports scipy once
    cases: dict[str, dict[str, Any]] = {
        "binary": {"outcome_col": "converted"},
        "numeric_bootstrap_2000": {"outcome_col": "revenue", "kind": "numeric"},
        "numeric_no_bootstrap": {
            "outcome_col": "revenue",
            "kind": "numeric",
            "bootstrap_resamples": 0,
        },
    }
    out: dict[str, Any] = {"rows": SPEED_ROWS}
    for name, kwargs in cases.items():
        times = []
        for _ in range(1 if "bootstrap_2000" in name else repeats):
            began = time.perf_counter()
            analyze(frame, **kwargs)
            times.append(time.perf_counter() - began)
        out[name] = {"median_s": statistics.median(times), "samples": times}
        print(f"  analyze {name:<24} {statistics.median(times):7.2f} s")
    return out


def show(aa: dict[str, Any], ab: dict[str, Any], aa_analyze: dict[str, Any] | None) -> None:
    def pct(r: dict[str, Any]) -> str:
        return f"{r['rate']:6.1%}  [{r['ci95'][0]:.1%}, {r['ci95'][1]:.1%}]"

    print(f"\nA/A, {aa['experiments']} experiments, {aa['looks']} looks (alpha {ALPHA}):")
    print(f"  mSPRT, any look               {pct(aa['msprt_any_look'])}")
    print(f"  z-test peeked at every look   {pct(aa['z_peeked_every_look'])}")
    print(f"  z-test at planned size only   {pct(aa['z_at_planned_size_only'])}")
    if aa_analyze:
        print(
            f"  analyze(time_col=...), hourly {pct(aa_analyze['analyze_verdict_any_look'])}"
            f"  ({aa_analyze['experiments']} experiments)"
        )
    print(f"A/B {BASELINE:.0%} -> {BASELINE * (1 + LIFT):.0%}, {ab['experiments']} experiments:")
    print(f"  power, mSPRT by planned size  {pct(ab['power_msprt_by_planned_size'])}")
    print(f"  power, mSPRT by 2x planned    {pct(ab['power_msprt_by_twice_planned_size'])}")
    print(f"  power, z-test at planned size {pct(ab['power_z_at_planned_size'])}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="200 experiments, 1 speed repeat")
    parser.add_argument("--experiments", type=int, default=None)
    parser.add_argument(
        "--analyze-experiments",
        type=int,
        default=None,
        help="A/A experiments run through analyze() itself (default 500)",
    )
    parser.add_argument("--seed", type=int, default=20260101)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    experiments = args.experiments or (200 if args.quick else 2_000)
    through_analyze = (
        args.analyze_experiments
        if args.analyze_experiments is not None
        else (50 if args.quick else 500)
    )
    load_start = os.getloadavg()
    began = time.perf_counter()
    p = plan()
    print(f"plan: {p.control_n:,} rows per arm to detect {BASELINE:.0%} -> 11% (power 0.8)")
    aa = run_aa(experiments, args.seed)
    ab = run_ab(experiments, args.seed + 1)
    aa_analyze = run_aa_analyze(through_analyze, args.seed + 2) if through_analyze else None
    show(aa, ab, aa_analyze)
    print("speed:")
    speed = run_speed(1 if args.quick else 3)
    result: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": " ".join(
            [Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])]
        ),
        "machine": {
            "cpus": os.cpu_count(),
            "processor": platform.machine(),
            "load_average_start": list(load_start),
            "load_average_end": list(os.getloadavg()),
        },
        "versions": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "pandas": pd.__version__,
        },
        "seed": args.seed,
        "alpha": ALPHA,
        "plan": p.model_dump(),
        "aa": aa,
        "aa_through_analyze": aa_analyze,
        "ab": ab,
        "speed": speed,
        "total_s": time.perf_counter() - began,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"\ntotal {result['total_s']:.0f} s; written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
