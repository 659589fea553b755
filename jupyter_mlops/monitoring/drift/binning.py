"""Current values into the reference's cells, once per column, and the data of a chart.

A numeric column is sorted once (NaN last); the counts at or below each sketch edge are then one
``searchsorted`` of the ~1,000 edges into it, and the missing and infinite counts fall out of the
same sorted array. A categorical column is counted by level (``value_counts``) and the levels are
matched to the reference's.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING

from jupyter_mlops.lineage.profile import OTHER, FeatureProfile, as_float_array
from jupyter_mlops.monitoring.drift.stattests import Cells

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

CHART_BINS = 20
"""Equal-width bins of a numeric chart (distinct values when there are at most 30)."""
CHART_LEVELS = 20
"""Levels of a categorical chart; the rest are drawn together."""


@dataclass(frozen=True)
class Chart:
    """Shares of all rows per bin, for the reference and the current window."""

    bins: list[str]
    reference: list[float]
    current: list[float]
    edges: list[float] | None = None


def numeric_cells(profile: FeatureProfile, series: pd.Series) -> tuple[Cells, Chart]:
    """Bin a numeric column into the profile's sketch cells."""
    import numpy as np

    edges = np.asarray(profile.edges or [], dtype="float64")
    cumulative = np.asarray(profile.cumulative or [], dtype="int64")
    reference = np.append(np.diff(cumulative, prepend=0), 0)
    values = as_float_array(series)
    rows = int(values.size)
    ordered = np.sort(values)  # -inf, finite values, +inf, NaN
    start = int(np.searchsorted(ordered, -np.inf, side="right"))
    end = int(np.searchsorted(ordered, np.inf, side="left"))
    missing = int(np.isnan(ordered[end:]).sum())
    finite = ordered[start:end]
    infinite = rows - missing - finite.size
    below = above = 0.0
    if edges.size:
        upto = np.searchsorted(finite, edges, side="right")
        current = np.diff(upto, prepend=0, append=finite.size)
        low = int(np.searchsorted(finite, edges[0], side="left"))
        below = float(edges[0] * low - finite[:low].sum())
        above = float(finite[upto[-1] :].sum() - edges[-1] * (finite.size - upto[-1]))
    else:
        current = np.array([finite.size], dtype="int64")
    cells = Cells(
        kind="numeric",
        reference=reference,
        current=current,
        reference_rows=profile.count,
        current_rows=rows,
        reference_missing=profile.null_count,
        current_missing=missing,
        reference_infinite=profile.posinf_count + profile.neginf_count,
        current_infinite=infinite,
        edges=edges,
        exact=profile.exact,
        below=max(below, 0.0),
        above=max(above, 0.0),
        scale=float(profile.std or 0.0),
    )
    return cells, _numeric_chart(profile, edges, cumulative, finite, cells)


def categorical_cells(profile: FeatureProfile, series: pd.Series) -> tuple[Cells, Chart]:
    """Count a categorical column by the profile's levels (most frequent first, unseen last)."""
    import numpy as np
    import pandas as pd

    counts = profile.category_counts()
    other = counts.pop(OTHER, 0)
    names = sorted(counts, key=lambda k: -counts[k])
    reference = np.array([counts[k] for k in names] + [other], dtype="int64")
    rows = len(series)
    found = series.value_counts(dropna=True)
    found = found[found > 0]
    where = pd.Index(names).get_indexer(pd.Index([str(k) for k in found.index]))
    where[where < 0] = len(names)
    current = np.bincount(where, weights=found.to_numpy(dtype="float64"), minlength=len(names) + 1)
    current = current.astype("int64")
    cells = Cells(
        kind="categorical",
        reference=reference,
        current=current,
        reference_rows=profile.count,
        current_rows=rows,
        reference_missing=profile.null_count,
        current_missing=rows - int(current.sum()),
        edges=None,
    )
    return cells, _categorical_chart(names, cells, other > 0)


def _shares(counts: np.ndarray, rows: int) -> list[float]:
    return [float(c) / rows if rows else 0.0 for c in counts]


def _extra_bins(cells: Cells) -> tuple[list[str], list[int], list[int]]:
    """Bins for missing and infinite values, when either side has some."""
    labels: list[str] = []
    ref: list[int] = []
    cur: list[int] = []
    if cells.reference_missing or cells.current_missing:
        labels.append("(missing)")
        ref.append(cells.reference_missing)
        cur.append(cells.current_missing)
    if cells.reference_infinite or cells.current_infinite:
        labels.append("(±inf)")
        ref.append(cells.reference_infinite)
        cur.append(cells.current_infinite)
    return labels, ref, cur


def _numeric_chart(
    profile: FeatureProfile,
    edges: np.ndarray,
    cumulative: np.ndarray,
    finite: np.ndarray,
    cells: Cells,
) -> Chart:
    import numpy as np

    extra_labels, extra_ref, extra_cur = _extra_bins(cells)
    n = int(cumulative[-1]) if cumulative.size else 0
    if profile.exact and 0 < edges.size <= 30:
        # Few distinct values: one bar each, plus one for values the reference never held.
        ref_counts = list(cells.reference[:-1])
        at = np.searchsorted(finite, edges, side="right") - np.searchsorted(
            finite, edges, side="left"
        )
        cur_counts = [int(c) for c in at]
        labels = [f"{v:.4g}" for v in edges]
        if finite.size - sum(cur_counts):
            labels.append("(other values)")
            ref_counts.append(0)
            cur_counts.append(finite.size - sum(cur_counts))
        return Chart(
            bins=labels + extra_labels,
            reference=_shares(np.array(ref_counts + extra_ref), cells.reference_rows),
            current=_shares(np.array(cur_counts + extra_cur), cells.current_rows),
        )
    spans: list[float] = []
    if n:
        spans += list(np.interp([0.005 * n, 0.995 * n], cumulative, edges))
    if finite.size:
        # Already sorted: the order statistics, without np.quantile's partition.
        spans += [float(finite[int(q * (finite.size - 1))]) for q in (0.005, 0.995)]
    if not spans:
        return Chart(
            bins=extra_labels,
            reference=_shares(np.array(extra_ref), cells.reference_rows),
            current=_shares(np.array(extra_cur), cells.current_rows),
        )
    low, high = float(min(spans)), float(max(spans))
    if high <= low:
        high = low + 1.0
    cuts = np.linspace(low, high, CHART_BINS + 1)
    inner = cuts[1:-1]
    ref_upto = np.interp(inner, edges, cumulative, left=0.0) if n else np.zeros(inner.size)
    ref_binned = np.diff(np.concatenate([[0.0], ref_upto, [float(n)]]))
    cur_upto = np.searchsorted(finite, inner, side="right")
    cur_binned = np.diff(np.concatenate([[0], cur_upto, [finite.size]]))
    labels = [f"{a:.3g} to {b:.3g}" for a, b in itertools.pairwise(cuts)]
    labels[0] = f"<= {cuts[1]:.3g}"
    labels[-1] = f"> {cuts[-2]:.3g}"
    return Chart(
        bins=labels + extra_labels,
        reference=_shares(np.concatenate([ref_binned, extra_ref]), cells.reference_rows),
        current=_shares(np.concatenate([cur_binned, extra_cur]), cells.current_rows),
        edges=[float(c) for c in cuts],
    )


def _categorical_chart(names: list[str], cells: Cells, has_other: bool) -> Chart:
    import numpy as np

    n = cells.reference_rows or 1
    m = cells.current_rows or 1
    weight = np.maximum(cells.reference[:-1] / n, cells.current[:-1] / m)
    top = np.argsort(-weight, kind="stable")[:CHART_LEVELS]
    top = top[weight[top] > 0]
    ref = [int(cells.reference[i]) for i in top]
    cur = [int(cells.current[i]) for i in top]
    labels = [names[i] for i in top]
    rest_ref = int(cells.reference.sum()) - sum(ref)
    rest_cur = int(cells.current.sum()) - sum(cur)
    if rest_ref or rest_cur:
        labels.append("(other levels)" if has_other or rest_ref else "(new levels)")
        ref.append(rest_ref)
        cur.append(rest_cur)
    extra_labels, extra_ref, extra_cur = _extra_bins(cells)
    return Chart(
        bins=labels + extra_labels,
        reference=_shares(np.array(ref + extra_ref), cells.reference_rows),
        current=_shares(np.array(cur + extra_cur), cells.current_rows),
    )
