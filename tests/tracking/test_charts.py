"""The comparison's figures, built from runs made in memory (no store needed)."""

from __future__ import annotations

from jupyter_mlops.tracking.compare import compare_runs
from jupyter_mlops.tracking.schemas import MetricPoint, RunDetail


def run(name: str, depth: int, seed: int, auc: float, steps: int = 1) -> RunDetail:
    history = [
        MetricPoint(step=s, value=auc - 0.01 * (steps - s), timestamp=s) for s in range(steps)
    ]
    return RunDetail(
        run_id=name * 4,
        run_name=name,
        experiment_id="1",
        status="FINISHED",
        params={"max_depth": str(depth), "seed": str(seed)},
        metrics={"auc": auc},
        metric_history={"auc": history},
    )


def test_no_history_figure_without_steps_and_bars_with_seed_intervals() -> None:
    runs = [run(f"d{d}s{s}", d, s, 0.7 + 0.05 * d + 0.01 * s) for d in (1, 2) for s in (0, 1, 2)]
    figures = compare_runs(runs).figures
    # No metric has more than one step: no empty "Metric history" box.
    assert set(figures) == {"bars", "parallel"}
    (bar,) = figures["bars"]["data"]  # type: ignore[misc]
    assert bar["type"] == "bar" and bar["x"] == ["max_depth=1", "max_depth=2"]
    assert [round(y, 6) for y in bar["y"]] == [0.76, 0.81]
    # Three seeds per group: t interval half-width 4.303 * 0.01 / sqrt(3).
    assert abs(bar["error_y"]["array"][0] - 4.302653 * 0.01 / 3**0.5) < 1e-6
    assert "seed group" in figures["bars"]["layout"]["title"]["text"]
    # Slanted, shortened parallel-coordinates labels.
    (parcoords,) = figures["parallel"]["data"]  # type: ignore[misc]
    assert parcoords["labelangle"] == -20


def test_history_and_bars_per_run_without_a_seed() -> None:
    runs = [run("a", 1, 0, 0.7, steps=5), run("b", 2, 0, 0.8, steps=5)]
    for r in runs:
        r.params.pop("seed")
    figures = compare_runs(runs).figures
    assert set(figures) == {"history", "bars", "parallel"}
    (bar,) = figures["bars"]["data"]  # type: ignore[misc]
    assert bar["x"] == ["a", "b"] and "error_y" not in bar
