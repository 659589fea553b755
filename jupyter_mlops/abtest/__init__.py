"""A/B tests between model versions: the statistics of their outcomes.

::

    from jupyter_mlops.abtest import analyze
    result = analyze(outcomes, variant_col="variant", outcome_col="converted", kind="binary")
    result             # in a notebook: a table per variant and the verdict
    result.verdict     # "challenger_better", "challenger_worse" or "no_difference_yet"

The verdict is the sequential test's (mSPRT), which stays valid however often you look; the
fixed-horizon p-value is there too, with a warning about peeking. Plan an experiment's size with
:func:`jupyter_mlops.abtest.stats.sample_size`. Each test is a function registered by name in
:data:`jupyter_mlops.abtest.stats.AB_TESTS`; the formulas are in ``docs/abtest-statistics.md``.

Importing this package loads neither scipy nor pandas: they load on the first analysis.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from jupyter_mlops.abtest import stats
from jupyter_mlops.abtest.schemas import (
    AbAnalysis,
    BayesResult,
    BootstrapResult,
    Comparison,
    Effect,
    OutcomeKind,
    SampleSize,
    SequentialResult,
    SrmCheck,
    TestResult,
    VariantSummary,
    Verdict,
)
from jupyter_mlops.abtest.stats import (
    AB_TESTS,
    Looks,
    Moments,
    Proportion,
    UnknownAbTest,
    get_test,
    mixing_variance,
    sample_size,
    srm,
)
from jupyter_mlops.errors import InvalidInput, did_you_mean

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = [
    "AB_TESTS",
    "AbAnalysis",
    "BayesResult",
    "BootstrapResult",
    "Comparison",
    "Effect",
    "Looks",
    "Moments",
    "Proportion",
    "SampleSize",
    "SequentialResult",
    "SrmCheck",
    "TestResult",
    "UnknownAbTest",
    "VariantSummary",
    "Verdict",
    "analyze",
    "get_test",
    "mixing_variance",
    "sample_size",
    "srm",
]

DEFAULT_PLANNED_N = 10_000
"""Rows per variant the mSPRT's mixture is tuned for when ``analyze`` is not told the plan."""
PEEKING_WARNING = (
    "The fixed-horizon p-value holds only for a single look at a sample size fixed in advance. "
    "Looking after every batch and stopping at the first p < alpha makes a false positive "
    "several times likelier (with alpha 0.05 and 20 looks, about 1 A/A test in 4 instead of "
    "1 in 20: docs/abtest-statistics.md). The verdict uses the sequential test, which stays "
    "valid however often you look."
)


def analyze(
    outcomes: pd.DataFrame,
    *,
    variant_col: str = "variant",
    outcome_col: str = "outcome",
    kind: OutcomeKind = "binary",
    alpha: float = 0.05,
    control: str | None = None,
    higher_is_better: bool = True,
    planned_n: int | None = None,
    expected_split: Mapping[str, float] | None = None,
    time_col: str | None = None,
    bootstrap_resamples: int = 2000,
    seed: int = 0,
) -> AbAnalysis:
    """Analyse an A/B test's outcomes: one row per request (or per sticky key).

    Args:
        outcomes: a DataFrame with the variant each row was assigned and its outcome.
        variant_col: the column naming the variant (model version) of each row.
        outcome_col: the outcome: 0/1 or True/False for ``kind="binary"`` (converted, or the
            prediction was right), a number for ``kind="numeric"`` (revenue).
        alpha: the error rate of the verdict; with several challengers each comparison gets
            ``alpha / challengers`` (Bonferroni).
        control: the baseline variant. With two variants it defaults to one called
            ``control`` (or ``A``, any case), else the first in sorted order; with more than
            two it is required, and every other variant is compared with it.
        higher_is_better: whether a higher rate or mean is an improvement.
        planned_n: the rows per variant the experiment plans (see ``stats.sample_size``): the
            mSPRT's mixing variance is tuned for it; 10,000 when not given. Keep it the same
            at every look.
        expected_split: the intended share of each variant for the sample-ratio check (even by
            default).
        time_col: a datetime column; when given, the sequential test looks after every hour of
            outcomes (its p-value is the running minimum over those looks) instead of once.
        bootstrap_resamples: resamples of the numeric bootstrap interval (0 skips it: it costs
            about 12 ns per row and resample, 25 s for a million rows and 2,000 resamples).
        seed: the bootstrap's seed.

    Rows whose variant is missing are dropped; rows whose outcome is missing count as
    assigned (in the sample-ratio check) but not in the tests. Both are counted in
    ``dropped_rows``.

    Raises:
        InvalidInput: a missing column, a wrong number of variants, an outcome of the wrong
            kind (text, values other than 0/1 for binary, infinities), or an unknown kind.

    Example:
        >>> result = analyze(frame, variant_col="model", outcome_col="converted")  # doctest: +SKIP
        >>> result.comparison.sequential.p_value                                 # doctest: +SKIP
    """
    import numpy as np
    import pandas as pd

    if kind not in ("binary", "numeric"):
        raise stats._bad_kind(kind)
    stats._check_alpha(alpha)
    if not isinstance(outcomes, pd.DataFrame):
        raise InvalidInput(
            f"analyze needs a pandas DataFrame of outcomes, not {type(outcomes).__name__}",
            hint="Build one with pd.DataFrame({'variant': [...], 'outcome': [...]}).",
            field="outcomes",
        )
    for col, field in ((variant_col, "variant_col"), (outcome_col, "outcome_col")) + (
        ((time_col, "time_col"),) if time_col is not None else ()
    ):
        if col not in outcomes.columns:
            columns = [str(c) for c in outcomes.columns]
            close = did_you_mean(col, columns, listing="Columns")
            raise InvalidInput(
                f"The outcomes have no column {col!r} ({field})",
                hint=(close + " " if close else "") + f"Pass {field}= naming the column.",
                field=field,
            )
    if planned_n is not None and planned_n < 2:
        raise InvalidInput(
            f"planned_n must be at least 2 rows per variant, not {planned_n}", field="planned_n"
        )

    frame = outcomes[[variant_col, outcome_col] + ([time_col] if time_col else [])]
    with_variant = frame[frame[variant_col].notna()]
    values = _outcome_values(with_variant[outcome_col], outcome_col, kind)
    codes, uniques = pd.factorize(with_variant[variant_col])
    # Variants are named by their text: model versions logged as 1 and 2 become "1" and "2".
    names = sorted({str(u) for u in uniques})
    position = {name: i for i, name in enumerate(names)}
    variant_keys = np.asarray([position[str(u)] for u in uniques], dtype="int64")[codes]
    control = _pick_control(names, control, variant_col)
    challengers = [n for n in names if n != control]

    has_outcome = ~np.isnan(values)
    assigned = dict(
        zip(names, np.bincount(variant_keys, minlength=len(names)).tolist(), strict=True)
    )
    dropped = len(frame) - int(has_outcome.sum())
    split = _expected_split(names, expected_split)
    srm_check = stats.srm([assigned[n] for n in names], [split[n] for n in names], variants=names)

    by_variant: dict[str, np.ndarray] = {
        n: values[(variant_keys == position[n]) & has_outcome] for n in names
    }
    summaries = []
    for n in names:
        v = by_variant[n]
        if v.size == 0:
            raise InvalidInput(
                f"Variant {n!r} has no outcomes yet ({assigned[n]} rows, every outcome missing)",
                hint="Wait for outcomes in every variant, or leave the variant out.",
                field=outcome_col,
            )
        summaries.append(
            VariantSummary(
                name=n,
                assigned=assigned[n],
                n=int(v.size),
                mean=float(v.mean()),
                sd=float(v.std(ddof=1)) if v.size > 1 else 0.0,
                successes=int(v.sum()) if kind == "binary" else None,
            )
        )

    per_alpha = alpha / len(challengers)
    plan = planned_n or DEFAULT_PLANNED_N
    times = None
    if time_col is not None:
        times = _hours(with_variant[time_col], time_col)
    comparisons = [
        _compare(
            kind,
            control,
            challenger,
            by_variant[control],
            by_variant[challenger],
            alpha=per_alpha,
            planned_n=plan,
            higher_is_better=higher_is_better,
            looks=(
                None
                if times is None
                else _looks(
                    times,
                    variant_keys,
                    values,
                    has_outcome,
                    position[control],
                    position[challenger],
                    kind,
                )
            ),
            resamples=bootstrap_resamples,
            seed=seed,
        )
        for challenger in challengers
    ]
    return AbAnalysis(
        kind=kind,
        variant_col=variant_col,
        outcome_col=outcome_col,
        alpha=alpha,
        higher_is_better=higher_is_better,
        control=control,
        variants=summaries,
        comparisons=comparisons,
        srm=srm_check,
        dropped_rows=dropped,
        planned_n=plan,
        peeking_warning=PEEKING_WARNING,
    )


# -- the pieces of analyze ------------------------------------------------------------------------


def _outcome_values(column: pd.Series, name: str, kind: OutcomeKind) -> np.ndarray:
    """The outcomes as float64 with NaN for missing ones, or an error naming what is wrong."""
    import numpy as np
    import pandas as pd

    dtype = column.dtype
    is_bool = pd.api.types.is_bool_dtype(dtype)
    is_number = pd.api.types.is_numeric_dtype(dtype) and not is_bool
    present = column.dropna()
    if not (is_bool or is_number):
        sample = ", ".join(repr(v) for v in present.unique()[:3])
        hint = (
            f"Map it to True/False first, e.g. outcomes[{name!r}] = outcomes[{name!r}].eq(...)."
            if kind == "binary"
            else f"Convert it with pd.to_numeric(outcomes[{name!r}]) if it holds numbers as text."
        )
        raise InvalidInput(
            f"The {kind} outcome column {name!r} holds {dtype} values ({sample}), not "
            + ("0/1 or True/False" if kind == "binary" else "numbers"),
            hint=hint,
            field="outcome_col",
        )
    if kind == "numeric" and is_bool:
        raise InvalidInput(
            f"The outcome column {name!r} holds True/False: that is a binary outcome",
            hint='Use kind="binary".',
            field="kind",
        )
    values: np.ndarray = np.asarray(column.to_numpy(dtype="float64", na_value=np.nan))
    finite_or_nan = np.isfinite(values) | np.isnan(values)
    if not finite_or_nan.all():
        raise InvalidInput(
            f"The outcome column {name!r} holds infinite values "
            f"({int((~finite_or_nan).sum())} rows)",
            hint="Replace them (or drop those rows) before analysing.",
            field="outcome_col",
        )
    if kind == "binary":
        others = values[~np.isnan(values) & (values != 0) & (values != 1)]
        if others.size:
            raise InvalidInput(
                f"The binary outcome column {name!r} holds values other than 0 and 1 "
                f"(e.g. {others[0]:g}; {others.size} rows)",
                hint='Use kind="numeric" for amounts such as revenue, or map the column to 0/1.',
                field="outcome_col",
            )
    return values


def _pick_control(names: list[str], control: str | None, variant_col: str) -> str:
    if control is not None:
        if control not in names:
            raise InvalidInput(
                f"There is no variant {control!r} in column {variant_col!r}",
                hint=did_you_mean(control, names, listing="Variants") or None,
                field="control",
            )
        if len(names) < 2:
            raise _too_few(names, variant_col)
        return control
    if len(names) < 2:
        raise _too_few(names, variant_col)
    if len(names) > 2:
        raise InvalidInput(
            f"Column {variant_col!r} has {len(names)} variants ({', '.join(names)}); "
            "which one is the baseline?",
            hint="Pass control=... and every other variant is compared with it.",
            field="control",
        )
    for name in names:
        if name.lower() in ("control", "a"):
            return name
    return names[0]


def _too_few(names: list[str], variant_col: str) -> InvalidInput:
    found = f"only {names[0]!r}" if names else "no variant at all"
    return InvalidInput(
        f"An A/B test needs two or more variants; column {variant_col!r} has {found}",
        hint="Check variant_col and that outcomes of the challenger were logged.",
        field="variant_col",
    )


def _expected_split(names: list[str], split: Mapping[str, float] | None) -> dict[str, float]:
    if split is None:
        return dict.fromkeys(names, 1.0)
    missing = [n for n in names if n not in split]
    if missing or any(not split[n] > 0 for n in names):
        raise InvalidInput(
            "expected_split needs a positive share for every variant"
            + (f"; missing: {', '.join(missing)}" if missing else ""),
            hint="E.g. expected_split={'control': 0.9, 'challenger': 0.1}.",
            field="expected_split",
        )
    return {n: float(split[n]) for n in names}


def _hours(column: pd.Series, name: str) -> np.ndarray:
    import pandas as pd

    if not pd.api.types.is_datetime64_any_dtype(column.dtype):
        raise InvalidInput(
            f"time_col {name!r} holds {column.dtype} values, not datetimes",
            hint=f"Convert it with pd.to_datetime(outcomes[{name!r}]).",
            field="time_col",
        )
    if column.isna().any():
        raise InvalidInput(
            f"time_col {name!r} has missing times ({int(column.isna().sum())} rows)",
            field="time_col",
        )
    hours: np.ndarray = column.dt.floor("h").to_numpy()
    return hours


def _looks(
    hours: np.ndarray,
    keys: np.ndarray,
    values: np.ndarray,
    has_outcome: np.ndarray,
    control: int,
    treatment: int,
    kind: OutcomeKind,
) -> tuple[stats.Looks, stats.Looks]:
    """Both arms' cumulative summaries at the end of every hour that has outcomes."""
    import numpy as np

    slots, index = np.unique(hours[has_outcome], return_inverse=True)
    v, k = values[has_outcome], keys[has_outcome]
    arms = []
    for arm in (control, treatment):
        mine = k == arm
        n = np.cumsum(np.bincount(index[mine], minlength=slots.size))
        total = np.cumsum(np.bincount(index[mine], v[mine], minlength=slots.size))
        if kind == "binary":
            arms.append(stats.Looks.of_counts(total, n))
        else:
            squares = np.cumsum(np.bincount(index[mine], v[mine] ** 2, minlength=slots.size))
            arms.append(stats.Looks.of_sums(n, total, squares))
    return arms[0], arms[1]


def _compare(
    kind: OutcomeKind,
    control: str,
    treatment: str,
    c: np.ndarray,
    t: np.ndarray,
    *,
    alpha: float,
    planned_n: int,
    higher_is_better: bool,
    looks: tuple[stats.Looks, stats.Looks] | None,
    resamples: int,
    seed: int,
) -> Comparison:
    import numpy as np

    bayes = bootstrap = None
    if kind == "binary":
        pc = stats.Proportion(int(c.sum()), int(c.size))
        pt = stats.Proportion(int(t.sum()), int(t.size))
        fixed = stats.two_proportion_z(pc, pt, alpha=alpha)
        bayes = stats.beta_binomial(pc, pt, alpha=alpha)
        if not higher_is_better:
            bayes = bayes.model_copy(update={"probability_better": 1 - bayes.probability_better})
        pooled = (pc.successes + pt.successes) / (pc.trials + pt.trials)
        pooled_variance = pooled * (1 - pooled)
        if looks is None:
            looks = (
                stats.Looks.of_counts([pc.successes], [pc.trials]),
                stats.Looks.of_counts([pt.successes], [pt.trials]),
            )
    else:
        mc, mt = stats.Moments.of(c), stats.Moments.of(t)
        fixed = stats.welch_t(mc, mt, alpha=alpha)
        if resamples:
            bootstrap = stats.bootstrap_diff(c, t, alpha=alpha, resamples=resamples, seed=seed)
        pooled_variance = float(np.concatenate([c, t]).var(ddof=1))
        if looks is None:
            looks = (
                stats.Looks(np.array([mc.n]), np.array([mc.mean]), np.array([mc.variance])),
                stats.Looks(np.array([mt.n]), np.array([mt.mean]), np.array([mt.variance])),
            )
    # Under "no difference" both arms share one variance: the pooled one tunes the mixture.
    tau2 = stats.mixing_variance(2 * max(pooled_variance, 1e-12) / planned_n, alpha)
    sequential = stats.msprt(looks[0], looks[1], mixing_variance=tau2, alpha=alpha)
    base = float(c.mean())
    # Relative to the control's mean, taken as known; a negative mean swaps the ends.
    ends = sorted((sequential.ci_low / base, sequential.ci_high / base)) if base else [None, None]
    effect = Effect(
        absolute=sequential.effect,
        absolute_low=sequential.ci_low,
        absolute_high=sequential.ci_high,
        relative=sequential.effect / base if base else None,
        relative_low=ends[0],
        relative_high=ends[1],
    )
    verdict, text = _verdict(kind, control, treatment, sequential, effect, higher_is_better)
    return Comparison(
        control=control,
        treatment=treatment,
        alpha=alpha,
        effect=effect,
        sequential=sequential,
        fixed_horizon=fixed,
        bayes=bayes,
        bootstrap=bootstrap,
        verdict=verdict,
        verdict_text=text,
    )


def _verdict(
    kind: OutcomeKind,
    control: str,
    treatment: str,
    sequential: SequentialResult,
    effect: Effect,
    higher_is_better: bool,
) -> tuple[Verdict, str]:
    def amount(x: float) -> str:
        return f"{x * 100:+.2f} pp" if kind == "binary" else f"{x:+.4g}"

    what = "rate" if kind == "binary" else "mean"
    interval = (
        f"always-valid {1 - sequential.alpha:.0%} interval "
        f"[{amount(effect.absolute_low)}, {amount(effect.absolute_high)}]"
    )
    rel = f" ({effect.relative:+.1%})" if effect.relative is not None else ""
    if sequential.p_value < sequential.alpha and effect.absolute != 0:
        better = (effect.absolute > 0) == higher_is_better
        verdict: Verdict = "challenger_better" if better else "challenger_worse"
        word = "better" if better else "worse"
        return verdict, (
            f"{treatment} is {word} than {control}: {what} {amount(effect.absolute)}{rel}, "
            f"{interval}, sequential p = {sequential.p_value:.3g}."
        )
    return "no_difference_yet", (
        f"No difference between {treatment} and {control} yet: {what} "
        f"{amount(effect.absolute)}{rel}, {interval}, sequential p = "
        f"{sequential.p_value:.3g}. Keep collecting, or stop if the interval rules out every "
        "effect worth having."
    )
