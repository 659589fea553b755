"""The A/B statistics checked against scipy and statsmodels on worked examples, the mSPRT's
properties, and analyze()'s answers to bad input."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    proportion_effectsize,
    proportions_ztest,
)

from jupyter_mlops.abtest import AbAnalysis, analyze, stats
from jupyter_mlops.abtest.stats import (
    AB_TESTS,
    Looks,
    Moments,
    Proportion,
    UnknownAbTest,
    get_test,
)
from jupyter_mlops.errors import InvalidInput

# Welch's t-test, example 1 of the Wikipedia article: t = -2.46, df = 24.99, p = 0.021.
WELCH_A1 = [
    27.5,
    21.0,
    19.0,
    23.6,
    17.0,
    17.9,
    16.9,
    20.1,
    21.9,
    22.6,
    23.1,
    19.6,
    19.0,
    21.7,
    21.4,
]
WELCH_A2 = [
    27.1,
    22.0,
    20.8,
    23.4,
    23.4,
    23.5,
    25.8,
    22.0,
    24.8,
    20.2,
    21.9,
    22.1,
    22.9,
    20.5,
    24.4,
]


# -- the registry ---------------------------------------------------------------------------------


def test_every_statistic_is_registered_by_name() -> None:
    assert set(AB_TESTS) == {
        "two_proportion_z",
        "beta_binomial",
        "welch_t",
        "bootstrap_diff",
        "msprt",
        "sample_size",
        "srm",
    }
    assert get_test("welch_t").function is stats.welch_t
    assert get_test("srm")([100, 100]).p_value == 1.0  # type: ignore[attr-defined]


def test_an_unknown_name_lists_the_valid_ones() -> None:
    with pytest.raises(UnknownAbTest) as info:
        get_test("welch")
    assert "welch_t" in str(info.value.hint)
    assert "two_proportion_z" in info.value.message and "msprt" in info.value.message
    assert isinstance(info.value, InvalidInput) and info.value.status == 400


# -- fixed-horizon tests --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("control", "treatment"),
    [((120, 1000), (150, 1000)), ((1_890, 20_000), (2_010, 20_100)), ((7, 60), (3, 55))],
)
def test_two_proportion_z_matches_statsmodels(
    control: tuple[int, int], treatment: tuple[int, int]
) -> None:
    result = stats.two_proportion_z(Proportion(*control), Proportion(*treatment), alpha=0.05)
    z, p = proportions_ztest([treatment[0], control[0]], [treatment[1], control[1]])
    assert result.statistic == pytest.approx(z, rel=1e-10)
    assert result.p_value == pytest.approx(p, rel=1e-10)
    low, high = confint_proportions_2indep(
        treatment[0], treatment[1], control[0], control[1], method="wald", compare="diff"
    )
    assert (result.ci_low, result.ci_high) == pytest.approx((low, high), rel=1e-10)
    assert result.effect == pytest.approx(treatment[0] / treatment[1] - control[0] / control[1])


def test_welch_t_matches_scipy_on_the_textbook_example() -> None:
    result = stats.welch_t(Moments.of(WELCH_A2), Moments.of(WELCH_A1))  # control = A2
    reference = sps.ttest_ind(WELCH_A1, WELCH_A2, equal_var=False)
    assert result.statistic == pytest.approx(reference.statistic, rel=1e-10)
    assert result.p_value == pytest.approx(reference.pvalue, rel=1e-10)
    assert result.df == pytest.approx(reference.df, rel=1e-10)
    interval = reference.confidence_interval(0.95)
    assert (result.ci_low, result.ci_high) == pytest.approx((interval.low, interval.high))
    # The published figures.
    assert round(result.statistic, 2) == -2.46 and round(result.p_value, 3) == 0.021


def test_welch_t_matches_scipy_on_skewed_unequal_samples() -> None:
    rng = np.random.default_rng(3)
    c, t = rng.exponential(10, 4_000), rng.exponential(10.6, 2_500)
    result = stats.welch_t(Moments.of(c), Moments.of(t), alpha=0.1)
    reference = sps.ttest_ind(t, c, equal_var=False)
    assert result.p_value == pytest.approx(reference.pvalue, rel=1e-9)
    interval = reference.confidence_interval(0.9)
    assert (result.ci_low, result.ci_high) == pytest.approx((interval.low, interval.high))


# -- Bayesian -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("control", "treatment", "prior"),
    [
        ((120, 1000), (150, 1000), 1.0),
        ((40, 400), (38, 410), 1.0),
        ((3, 20), (9, 25), 1.0),
        ((120, 1000), (150, 1000), 0.5),  # Jeffreys: no integer parameter, integrated
        ((500, 5000), (560, 5000), 0.5),
    ],
)
def test_beta_binomial_matches_monte_carlo(
    control: tuple[int, int], treatment: tuple[int, int], prior: float
) -> None:
    result = stats.beta_binomial(
        Proportion(*control), Proportion(*treatment), prior_alpha=prior, prior_beta=prior
    )
    assert result.method == ("exact" if prior == 1.0 else "integrated")
    rng = np.random.default_rng(7)
    draws = 2_000_000
    pc = rng.beta(prior + control[0], prior + control[1] - control[0], draws)
    pt = rng.beta(prior + treatment[0], prior + treatment[1] - treatment[0], draws)
    # Monte Carlo's standard error is at most 0.00035 at 2M draws: 0.002 is ~6 of them.
    assert result.probability_better == pytest.approx((pt > pc).mean(), abs=2e-3)
    low, high = np.quantile(pt - pc, [0.025, 0.975])
    width = high - low
    assert result.ci_low == pytest.approx(low, abs=0.01 * width)
    assert result.ci_high == pytest.approx(high, abs=0.01 * width)


def test_beta_binomial_exact_and_integrated_agree() -> None:
    # The closed-form sum (integer parameters) against the quadrature at the same posteriors.
    for (sc, nc), (st, nt) in [((120, 1000), (150, 1000)), ((9_800, 100_000), (10_100, 100_000))]:
        exact = stats.beta_binomial(Proportion(sc, nc), Proportion(st, nt)).probability_better
        cdf = stats._difference_cdf(1 + st, 1 + nt - st, 1 + sc, 1 + nc - sc)
        assert exact == pytest.approx(1 - cdf(0.0), abs=1e-6)


def test_beta_binomial_is_symmetric_and_deterministic() -> None:
    a, b = Proportion(40, 400), Proportion(52, 410)
    forward = stats.beta_binomial(a, b)
    backward = stats.beta_binomial(b, a)
    assert forward.probability_better + backward.probability_better == pytest.approx(1, abs=1e-9)
    assert forward == stats.beta_binomial(a, b)


# -- resampling -----------------------------------------------------------------------------------


@pytest.mark.parametrize("rounded", [False, True])
def test_bootstrap_diff_matches_scipy_percentile(rounded: bool) -> None:
    rng = np.random.default_rng(11)
    c = rng.lognormal(2.0, 1.0, 800)
    t = rng.lognormal(2.1, 1.0, 700)
    if rounded:  # few distinct values: resampled as multinomial counts
        c, t = np.round(c, -1), np.round(t, -1)
    result = stats.bootstrap_diff(c, t, resamples=9_999, seed=5)
    reference = sps.bootstrap(
        (t, c),
        lambda x, y, axis=-1: x.mean(axis=axis) - y.mean(axis=axis),
        method="percentile",
        n_resamples=9_999,
        rng=np.random.default_rng(5),
    ).confidence_interval
    width = reference.high - reference.low
    # Different random streams: the percentile ends agree within Monte Carlo error (~1% of width).
    assert result.ci_low == pytest.approx(reference.low, abs=0.03 * width)
    assert result.ci_high == pytest.approx(reference.high, abs=0.03 * width)
    assert result.effect == pytest.approx(t.mean() - c.mean())
    assert result.resampling == ("distinct values" if rounded else "rows")
    assert result == stats.bootstrap_diff(c, t, resamples=9_999, seed=5)


def test_bootstrap_by_blocks_matches_resampling_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    # Large arms are resampled by blocks of sorted values: the same interval as resampling rows,
    # within Monte Carlo error, on skewed data (lognormal, sigma 1.5).
    rng = np.random.default_rng(8)
    c, t = rng.lognormal(0, 1.5, 20_000), rng.lognormal(0.02, 1.5, 20_000)
    rows = stats.bootstrap_diff(c, t, resamples=3_000, seed=1)
    monkeypatch.setattr(stats, "BLOCK_ROWS", 10_000)
    blocks = stats.bootstrap_diff(c, t, resamples=3_000, seed=1)
    assert (rows.resampling, blocks.resampling) == ("rows", "blocks")
    width = rows.ci_high - rows.ci_low
    # Each end's Monte Carlo error is ~3% of the width at 3,000 resamples.
    assert blocks.ci_low == pytest.approx(rows.ci_low, abs=0.08 * width)
    assert blocks.ci_high == pytest.approx(rows.ci_high, abs=0.08 * width)
    # The resampled means have the bootstrap's variance: the sample's over n.
    means = stats._block_resampled_means(np.sort(c), 4_000, np.random.default_rng(2))
    standard_error = c.std() / np.sqrt(c.size)
    # Within 4 Monte Carlo standard errors (of a mean, and of an sd: 1/sqrt(2 x 4,000) = 1.1%).
    assert means.mean() == pytest.approx(c.mean(), abs=4 * standard_error / np.sqrt(4_000))
    assert means.std() == pytest.approx(standard_error, rel=0.045)


# -- sequential -----------------------------------------------------------------------------------


def _looks(rng: np.random.Generator, p_c: float, p_t: float, batches: int, batch: int) -> tuple:
    sc = np.cumsum(rng.binomial(batch, p_c, batches))
    st = np.cumsum(rng.binomial(batch, p_t, batches))
    n = np.cumsum(np.full(batches, batch))
    return Looks.of_counts(sc, n), Looks.of_counts(st, n)


def test_msprt_p_values_are_valid_and_never_go_up() -> None:
    rng = np.random.default_rng(2)
    for p_t in (0.10, 0.11, 0.13):
        control, treatment = _looks(rng, 0.10, p_t, 30, 500)
        result = stats.msprt(control, treatment, mixing_variance=1e-4)
        p = np.array(result.p_values)
        assert ((p >= 0) & (p <= 1)).all()
        assert (np.diff(p) <= 0).all()
        assert result.p_value == p[-1] and result.looks == 30
        assert result.ci_low <= result.ci_high


def test_msprt_matches_a_direct_computation() -> None:
    # Two looks, worked by hand from the formula in docs/abtest-statistics.md.
    control = Looks.of_counts([50, 110], [500, 1000])
    treatment = Looks.of_counts([70, 150], [500, 1000])
    tau2 = 0.02**2
    result = stats.msprt(control, treatment, mixing_variance=tau2, alpha=0.05)
    ratios, halves, effects = [], [], []
    for sc, st, n in ((50, 70, 500), (110, 150, 1000)):
        pc, pt = sc / n, st / n
        v = pc * (1 - pc) / n + pt * (1 - pt) / n
        d = pt - pc
        ratios.append(math.sqrt(v / (v + tau2)) * math.exp(tau2 * d**2 / (2 * v * (v + tau2))))
        halves.append(
            math.sqrt(v * (v + tau2) / tau2 * (2 * math.log(20) + math.log(1 + tau2 / v)))
        )
        effects.append(d)
    expected_p = [min(1, 1 / ratios[0]), min(1, 1 / ratios[0], 1 / ratios[1])]
    assert result.p_values == pytest.approx(expected_p, rel=1e-12)
    assert result.likelihood_ratio == pytest.approx(ratios[1], rel=1e-12)
    assert result.ci_low == pytest.approx(
        max(e - h for e, h in zip(effects, halves, strict=True)), rel=1e-12
    )
    assert result.ci_high == pytest.approx(
        min(e + h for e, h in zip(effects, halves, strict=True)), rel=1e-12
    )


def test_msprt_rejects_exactly_when_the_confidence_sequence_excludes_zero() -> None:
    rng = np.random.default_rng(4)
    for _ in range(200):
        n = int(rng.integers(200, 20_000))
        sc, st = rng.binomial(n, 0.1), rng.binomial(n, rng.uniform(0.09, 0.12))
        result = stats.msprt(
            Looks.of_counts([sc], [n]), Looks.of_counts([st], [n]), mixing_variance=5e-5
        )
        assert (result.p_value < 0.05) == (result.ci_low > 0 or result.ci_high < 0)


def test_mixing_variance_is_c_times_the_planned_variance() -> None:
    c = -2 * math.log(0.05) + math.log(1 - 2 * math.log(0.05))
    assert stats.mixing_variance(1.0, 0.05) == pytest.approx(c)
    assert c == pytest.approx(7.93, abs=0.01)


# -- planning and assignment ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("baseline", "mde", "relative", "alpha", "power", "ratio"),
    [
        (0.10, 0.10, True, 0.05, 0.8, 1.0),
        (0.10, 0.01, False, 0.05, 0.8, 1.0),
        (0.03, 0.2, True, 0.01, 0.9, 1.0),
        (0.5, -0.02, False, 0.05, 0.8, 3.0),
        (0.2, 0.05, True, 0.1, 0.95, 0.25),
    ],
)
def test_binary_sample_size_matches_statsmodels(
    baseline: float, mde: float, relative: bool, alpha: float, power: float, ratio: float
) -> None:
    plan = stats.sample_size(
        "binary", baseline, mde, relative=relative, alpha=alpha, power=power, ratio=ratio
    )
    target = baseline * (1 + mde) if relative else baseline + mde
    h = proportion_effectsize(target, baseline)
    n1 = NormalIndPower().solve_power(h, alpha=alpha, power=power, ratio=ratio)
    assert plan.effect_size == pytest.approx(h, rel=1e-12)
    assert plan.control_n == math.ceil(n1 - 1e-6)
    assert plan.treatment_n == math.ceil(plan.control_n * ratio - 1e-9)
    assert plan.mde_absolute == pytest.approx(target - baseline)


@pytest.mark.parametrize(("mde", "sd", "power", "ratio"), [(0.5, 12.0, 0.8, 1.0), (2, 30, 0.9, 2)])
def test_numeric_sample_size_matches_statsmodels(
    mde: float, sd: float, power: float, ratio: float
) -> None:
    plan = stats.sample_size("numeric", 40.0, mde, sd=sd, power=power, ratio=ratio)
    n1 = NormalIndPower().solve_power(mde / sd, alpha=0.05, power=power, ratio=ratio)
    assert plan.control_n == math.ceil(n1 - 1e-6)
    assert plan.effect_size == pytest.approx(mde / sd)


def test_sample_size_gives_the_duration() -> None:
    plan = stats.sample_size("binary", 0.10, 0.10, relative=True, traffic_per_hour=1_000, share=0.5)
    assert plan.hours == pytest.approx(plan.total_n / 500)
    assert plan.days == pytest.approx(plan.hours / 24)
    assert plan.mde_relative == pytest.approx(0.10)
    # A relative effect that leaves (0, 1), or a numeric plan without an sd, is refused.
    with pytest.raises(InvalidInput, match="between 0 and 1"):
        stats.sample_size("binary", 0.9, 0.2, relative=True)
    with pytest.raises(InvalidInput, match="standard deviation"):
        stats.sample_size("numeric", 10.0, 1.0)


@pytest.mark.parametrize(
    ("counts", "shares"),
    [
        ([50_000, 49_000], None),
        ([10_120, 9_880], [1, 1]),
        ([9_000, 1_150], [0.9, 0.1]),
        ([3, 4, 5], None),
    ],
)
def test_srm_matches_scipy_chisquare(counts: list[int], shares: list[float] | None) -> None:
    result = stats.srm(counts, shares)
    weights = np.array(shares if shares is not None else [1] * len(counts), dtype=float)
    expected = sum(counts) * weights / weights.sum()
    reference = sps.chisquare(counts, expected)
    assert result.statistic == pytest.approx(reference.statistic, rel=1e-12)
    assert result.p_value == pytest.approx(reference.pvalue, rel=1e-9)
    assert result.mismatch == (reference.pvalue < 0.001)


def test_srm_flags_a_broken_split() -> None:
    # 1.5% fewer rows in one arm of 100,000: p ~ 2e-6.
    broken = stats.srm([50_000, 48_500], variants=["a", "b"])
    assert broken.mismatch and "do not fit" in broken.message
    # 50,000 vs 49,000 is p = 0.0015: suspicious, not flagged at 0.001.
    assert not stats.srm([50_000, 49_000]).mismatch
    fine = stats.srm([10_120, 9_880])
    assert not fine.mismatch and "fit" in fine.message


# -- analyze --------------------------------------------------------------------------------------


def _binary_frame(n: int = 20_000, lift: float = 0.0, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    variant = rng.choice(["control", "challenger"], n)
    rate = np.where(variant == "control", 0.10, 0.10 + lift)
    return pd.DataFrame({"variant": variant, "converted": rng.random(n) < rate})


def test_analyze_binary_uses_the_registered_tests() -> None:
    frame = _binary_frame(lift=0.02)
    result = analyze(frame, outcome_col="converted")
    assert isinstance(result, AbAnalysis) and result.control == "control"
    c = frame.loc[frame.variant == "control", "converted"]
    t = frame.loc[frame.variant == "challenger", "converted"]
    comparison = result.comparison
    z = stats.two_proportion_z(Proportion(int(c.sum()), len(c)), Proportion(int(t.sum()), len(t)))
    assert comparison.fixed_horizon == z
    assert comparison.bayes is not None and comparison.bayes.probability_better > 0.99
    assert comparison.bootstrap is None
    assert comparison.verdict == "challenger_better" == result.verdict
    assert comparison.effect.absolute == pytest.approx(t.mean() - c.mean())
    assert comparison.effect.relative == pytest.approx((t.mean() - c.mean()) / c.mean())
    assert [v.n for v in result.variants] == [len(t), len(c)]
    assert not result.srm.mismatch
    html = result._repr_html_()
    assert "challenger is better than control" in html
    assert "single look" in html and "<table>" in html


def test_analyze_numeric_with_welch_and_bootstrap() -> None:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(
        {
            "model": ["v1"] * 3_000 + ["v2"] * 3_000,
            "revenue": np.r_[rng.exponential(10, 3_000), rng.exponential(10, 3_000)],
        }
    )
    result = analyze(frame, variant_col="model", outcome_col="revenue", kind="numeric")
    assert result.control == "v1"
    comparison = result.comparison
    assert comparison.fixed_horizon.test == "welch_t"
    assert comparison.bootstrap is not None and comparison.bayes is None
    assert comparison.verdict == "no_difference_yet"
    assert comparison.effect.absolute_low < 0 < comparison.effect.absolute_high
    # The always-valid interval is wider than the fixed-horizon one: the price of peeking.
    fixed = comparison.fixed_horizon
    assert (
        comparison.effect.absolute_high - comparison.effect.absolute_low
        > fixed.ci_high - fixed.ci_low
    )


def test_analyze_lower_is_better_and_several_challengers() -> None:
    rng = np.random.default_rng(5)
    frame = pd.DataFrame(
        {
            "variant": np.repeat(["base", "fast", "slow"], 2_000),
            "latency": np.r_[
                rng.normal(100, 10, 2_000), rng.normal(90, 10, 2_000), rng.normal(100, 10, 2_000)
            ],
        }
    )
    result = analyze(
        frame, outcome_col="latency", kind="numeric", control="base", higher_is_better=False
    )
    verdicts = {c.treatment: c.verdict for c in result.comparisons}
    assert verdicts == {"fast": "challenger_better", "slow": "no_difference_yet"}
    assert all(c.alpha == pytest.approx(0.025) for c in result.comparisons)
    # Lower is better, and a relative interval keeps its ends in order.
    effect = result.comparisons[0].effect
    assert effect.relative_low is not None and effect.relative_high is not None
    assert effect.relative_low <= effect.relative <= effect.relative_high  # type: ignore[operator]
    negative = frame.assign(latency=-frame.latency)
    flipped = analyze(negative, outcome_col="latency", kind="numeric", control="base")
    e = flipped.comparisons[0].effect
    assert e.relative_low <= e.relative <= e.relative_high  # type: ignore[operator]


def test_analyze_looks_every_hour_with_a_time_column() -> None:
    frame = _binary_frame(n=24_000, lift=0.0, seed=3)
    frame["at"] = pd.Timestamp("2026-01-01") + pd.to_timedelta(np.arange(24_000) * 9, unit="s")
    result = analyze(frame, outcome_col="converted", time_col="at")
    sequential = result.comparison.sequential
    assert sequential.looks == 60  # 24,000 rows 9 s apart: 60 hours
    assert sequential.p_values == sorted(sequential.p_values, reverse=True)
    single = analyze(frame, outcome_col="converted").comparison.sequential
    assert sequential.p_value <= single.p_value


def test_analyze_flags_a_sample_ratio_mismatch() -> None:
    frame = _binary_frame()
    frame = frame.drop(frame[frame.variant == "challenger"].index[:600])
    result = analyze(frame, outcome_col="converted")
    assert result.srm.mismatch
    assert "Sample-ratio mismatch" in result._repr_html_()


def test_analyze_counts_missing_outcomes_and_variants() -> None:
    frame = _binary_frame(n=2_000).astype({"converted": "float64"})
    frame.loc[:9, "converted"] = np.nan
    frame.loc[10:14, "variant"] = None
    result = analyze(frame, outcome_col="converted")
    assert result.dropped_rows == 15
    assert sum(v.assigned for v in result.variants) == 1_995
    assert sum(v.n for v in result.variants) == 1_985


@pytest.mark.parametrize(
    ("frame", "kwargs", "message", "field"),
    [
        (
            pd.DataFrame({"variant": ["a", "b"], "y": [0, 1]}),
            {},
            "no column 'outcome'",
            "outcome_col",
        ),
        (
            pd.DataFrame({"varaint": ["a", "b"], "outcome": [0, 1]}),
            {},
            "no column 'variant'",
            "variant_col",
        ),
        (pd.DataFrame({"variant": ["a", "a"], "outcome": [0, 1]}), {}, "only 'a'", "variant_col"),
        (
            pd.DataFrame({"variant": ["a", "b", "c"], "outcome": [0, 1, 0]}),
            {},
            "3 variants",
            "control",
        ),
        (
            pd.DataFrame({"variant": ["a", "b"], "outcome": [0, 1]}),
            {"control": "x"},
            "no variant 'x'",
            "control",
        ),
        (
            pd.DataFrame({"variant": ["a", "b"], "outcome": ["yes", "no"]}),
            {},
            "not 0/1",
            "outcome_col",
        ),
        (
            pd.DataFrame({"variant": ["a", "b"], "outcome": [0, 2.5]}),
            {},
            "other than 0 and 1",
            "outcome_col",
        ),
        (
            pd.DataFrame({"variant": ["a", "b"], "outcome": ["1.5", "2"]}),
            {"kind": "numeric"},
            "not numbers",
            "outcome_col",
        ),
        (
            pd.DataFrame({"variant": ["a", "b"], "outcome": [True, False]}),
            {"kind": "numeric"},
            "binary outcome",
            "kind",
        ),
        (
            pd.DataFrame({"variant": ["a", "b"], "outcome": [1.0, np.inf]}),
            {"kind": "numeric"},
            "infinite",
            "outcome_col",
        ),
        (
            pd.DataFrame({"variant": ["a", "b"], "outcome": [0, 1]}),
            {"kind": "binay"},
            "Unknown outcome kind",
            "kind",
        ),
        (pd.DataFrame({"variant": ["a", "b"], "outcome": [0, 1]}), {"alpha": 5}, "alpha", "alpha"),
    ],
)
def test_analyze_names_the_problem_and_the_fix(
    frame: pd.DataFrame, kwargs: dict, message: str, field: str
) -> None:
    with pytest.raises(InvalidInput, match=message) as info:
        analyze(frame, **kwargs)
    assert info.value.field == field
    assert info.value.hint


def test_a_misspelt_kind_suggests_the_right_one() -> None:
    with pytest.raises(InvalidInput) as info:
        analyze(pd.DataFrame({"variant": ["a", "b"], "outcome": [0, 1]}), kind="binay")  # type: ignore[arg-type]
    assert "Did you mean binary?" in str(info.value.hint)


def test_importing_abtest_loads_neither_scipy_nor_pandas() -> None:
    code = (
        "import sys, jupyter_mlops.abtest; "
        "print(sorted(m for m in ('scipy', 'pandas', 'statsmodels') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
