"""Drift tests checked against scipy on worked examples, and the report's edge cases."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from jupyter_mlops.errors import MlopsError
from jupyter_mlops.lineage import ReferenceProfile, profile_frame
from jupyter_mlops.monitoring.drift import (
    DRIFT_TESTS,
    DriftReport,
    DriftThresholds,
    OutdatedProfile,
    UnknownDriftTest,
    drift_report,
)

LEVELS = ["web", "store", "phone", "partner", "mail"]


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(42)


@pytest.fixture
def train(rng: np.random.Generator) -> pd.DataFrame:
    n = 20_000
    return pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "z": np.where(rng.random(n) < 0.3, 0.0, rng.exponential(5.0, n)),
            "k": rng.poisson(3.0, n),
            "plan": rng.choice(LEVELS, n, p=[0.3, 0.25, 0.2, 0.15, 0.1]),
        }
    )


def window(rng: np.random.Generator, m: int = 15_000, shift: float = 0.0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "x": rng.normal(shift, 1.0, m),
            "z": np.where(rng.random(m) < 0.3, 0.0, rng.exponential(5.0, m)),
            "k": rng.poisson(3.0, m),
            "plan": rng.choice(LEVELS, m, p=[0.3, 0.25, 0.2, 0.15, 0.1]),
        }
    )


@pytest.mark.parametrize("as_profile", [False, True])
def test_ks_matches_scipy_within_the_sketch(
    train: pd.DataFrame, rng: np.random.Generator, as_profile: bool
) -> None:
    current = window(rng, shift=0.04)
    reference = profile_frame(train) if as_profile else train
    report = drift_report(reference, current, tests="ks")
    for name in ("x", "z"):
        expected = stats.ks_2samp(train[name], current[name], method="asymp")
        got = report.feature(name)
        assert got.test == "ks"
        assert got.statistic == pytest.approx(expected.statistic, abs=1e-3)
        assert got.p_value == pytest.approx(expected.pvalue, rel=0.25, abs=1e-3)


def test_ks_is_exact_when_the_reference_has_few_values(
    train: pd.DataFrame, rng: np.random.Generator
) -> None:
    current = pd.DataFrame({"k": rng.poisson(3.3, 15_000)})
    got = drift_report(train[["k"]], current, tests="ks").feature("k")
    expected = stats.ks_2samp(train["k"], current["k"], method="asymp")
    assert got.statistic == pytest.approx(expected.statistic, abs=1e-12)
    assert got.p_value == pytest.approx(expected.pvalue, rel=0.05)


def test_chi2_matches_scipy_contingency(train: pd.DataFrame, rng: np.random.Generator) -> None:
    current = pd.DataFrame({"plan": rng.choice(LEVELS, 8_000, p=[0.28, 0.27, 0.2, 0.15, 0.1])})
    got = drift_report(train[["plan"]], current).feature("plan")
    table = pd.crosstab(
        np.r_[np.zeros(len(train)), np.ones(len(current))],
        np.r_[train["plan"].to_numpy(), current["plan"].to_numpy()],
    ).to_numpy()
    statistic, p_value, _, _ = stats.chi2_contingency(table, correction=False)
    assert got.test == "chi2"
    assert got.statistic == pytest.approx(statistic, rel=1e-9)
    assert got.p_value == pytest.approx(p_value, rel=1e-9)
    # One sample against known shares, as scipy.stats.chisquare: the same when the reference is
    # far larger than the window.
    shares = train["plan"].value_counts(normalize=True)
    observed = current["plan"].value_counts().reindex(shares.index)
    one_sample = stats.chisquare(observed, shares * len(current))
    assert got.statistic == pytest.approx(one_sample.statistic, rel=0.5)


def test_wasserstein_matches_scipy(train: pd.DataFrame, rng: np.random.Generator) -> None:
    current = window(rng, shift=0.3)
    current.loc[:10, "x"] = 9.0  # beyond the reference's maximum
    report = drift_report(profile_frame(train), current, tests="wasserstein")
    for name, rel in (("x", 0.02), ("z", 0.05), ("k", 1e-9)):
        expected = stats.wasserstein_distance(train[name], current[name]) / train[name].std(ddof=0)
        assert report.feature(name).statistic == pytest.approx(expected, rel=rel, abs=1e-4)


def test_jensen_shannon_and_psi_on_levels(train: pd.DataFrame, rng: np.random.Generator) -> None:
    current = pd.DataFrame({"plan": rng.choice(LEVELS, 5_000, p=[0.2, 0.25, 0.2, 0.15, 0.2])})
    r = train["plan"].value_counts(normalize=True).reindex(LEVELS).to_numpy()
    c = current["plan"].value_counts(normalize=True).reindex(LEVELS).to_numpy()
    js = drift_report(train[["plan"]], current, tests="jensen_shannon").feature("plan")
    assert js.statistic == pytest.approx(jensenshannon(r, c), rel=1e-9)
    assert js.p_value is None and js.drifted == (js.statistic >= 0.1)
    psi = drift_report(train[["plan"]], current, tests="psi").feature("plan")
    assert psi.statistic == pytest.approx(float(((c - r) * np.log(c / r)).sum()), rel=1e-9)


def test_jensen_shannon_on_numbers_uses_reference_deciles(
    train: pd.DataFrame, rng: np.random.Generator
) -> None:
    current = window(rng, shift=0.5)
    edges = np.quantile(train["x"], np.linspace(0, 1, 11))[1:-1]
    r = np.bincount(np.searchsorted(edges, train["x"]), minlength=10) / len(train)
    c = np.bincount(np.searchsorted(edges, current["x"]), minlength=10) / len(current)
    got = drift_report(train[["x"]], current[["x"]], tests="jensen_shannon").feature("x")
    assert got.statistic == pytest.approx(jensenshannon(r, c), rel=0.02)


def test_missing_rate_is_fishers_exact_test(train: pd.DataFrame, rng: np.random.Generator) -> None:
    reference = train[["x"]].copy()
    reference.loc[: len(reference) // 20, "x"] = np.nan  # 5%
    current = window(rng)[["x"]]
    current.loc[: len(current) // 15, "x"] = np.nan  # 6.7%
    got = drift_report(reference, current, tests="missing_rate").feature("x")
    a, b = int(reference["x"].isna().sum()), int(current["x"].isna().sum())
    table = [[a, len(reference) - a], [b, len(current) - b]]
    one_sided = min(
        stats.fisher_exact(table, alternative="less").pvalue,
        stats.fisher_exact(table, alternative="greater").pvalue,
    )
    assert got.statistic == pytest.approx(b / len(current) - a / len(reference))
    assert got.p_value == pytest.approx(min(1.0, 2 * one_sided), rel=1e-6)


def test_default_tests_by_type(train: pd.DataFrame, rng: np.random.Generator) -> None:
    report = drift_report(train, window(rng))
    assert {f.feature: f.test for f in report.features} == {
        "x": "ks",
        "z": "ks",
        "k": "chi2",  # few distinct values: tested as levels
        "plan": "chi2",
    }
    assert report.status == "ok" and report.drift_share == 0.0
    # Bonferroni over the four main tests (no missing or infinite values anywhere).
    assert report.check_alpha == pytest.approx(0.01 / 4)
    assert all(f.threshold == report.check_alpha for f in report.features)


def test_a_dataframe_and_a_profile_give_the_same_verdicts(
    train: pd.DataFrame, rng: np.random.Generator
) -> None:
    current = window(rng, shift=0.2)
    current["plan"] = rng.choice(LEVELS, len(current), p=[0.2, 0.25, 0.2, 0.15, 0.2])
    stored = ReferenceProfile.model_validate_json(profile_frame(train).model_dump_json())
    from_frame = drift_report(train, current).to_frame()
    from_profile = drift_report(stored, current).to_frame()
    assert from_frame["drifted"].tolist() == from_profile["drifted"].tolist()
    assert from_frame.set_index("feature")["drifted"].to_dict() == {
        "x": True,
        "z": False,
        "k": False,
        "plan": True,
    }
    pd.testing.assert_series_equal(from_frame["statistic"], from_profile["statistic"])


def test_unknown_test_names_are_a_400_listing_the_valid_ones(train: pd.DataFrame) -> None:
    with pytest.raises(UnknownDriftTest) as caught:
        drift_report(train, train, tests={"x": "kss"})
    error = caught.value
    assert isinstance(error, MlopsError) and error.status == 400 and error.field == "tests"
    assert all(name in error.message for name in DRIFT_TESTS)
    assert "Did you mean ks?" in str(error.hint)
    with pytest.raises(UnknownDriftTest, match="jensen_shannon"):
        drift_report(train, train, tests="energy")


def test_a_test_that_does_not_fit_the_type_falls_back(train: pd.DataFrame) -> None:
    report = drift_report(train, train, tests={"plan": "wasserstein"})
    plan = report.feature("plan")
    assert plan.test == "chi2" and "wasserstein does not apply" in str(plan.message)
    # One name for all: used where it applies, the default elsewhere, without a message.
    report = drift_report(train, train, tests="wasserstein")
    assert [f.test for f in report.features] == [
        "wasserstein",
        "wasserstein",
        "wasserstein",
        "chi2",
    ]


def test_thresholds_per_feature(train: pd.DataFrame, rng: np.random.Generator) -> None:
    current = window(rng, shift=0.05)
    report = drift_report(train, current, tests={"x": "wasserstein"}, thresholds={"x": 0.01})
    x = report.feature("x")
    assert x.threshold == 0.01 and x.drifted and x.drifted_by == ["wasserstein"]
    strict = drift_report(train, current, thresholds=DriftThresholds(alpha=1e-12))
    assert not strict.drifted
    with pytest.raises(MlopsError, match="positive number"):
        drift_report(train, current, thresholds={"x": -1})


def test_an_empty_window_is_an_empty_report(train: pd.DataFrame) -> None:
    report = drift_report(train, train.iloc[:0])
    assert report.status == "no_data" and "no rows" in str(report.message)
    assert report.features == [] and report.drift_share is None
    assert report.to_frame().empty and "feature" in report.to_frame().columns
    assert "no rows" in report._repr_html_()


def test_missing_columns_are_reported_not_skipped(
    train: pd.DataFrame, rng: np.random.Generator
) -> None:
    current = window(rng).drop(columns=["z"]).assign(prediction=rng.random(15_000))
    report = drift_report(profile_frame(train), current)
    assert report.feature("z").status == "missing_in_current"
    assert report.feature("prediction").status == "missing_in_reference"
    assert not report.feature("z").drifted and report.drift_share == 0.0
    assert [f.feature for f in report.features] == ["x", "z", "k", "plan", "prediction"]


def test_nan_and_infinite_values_are_counted_and_tested(
    train: pd.DataFrame, rng: np.random.Generator
) -> None:
    reference = train.copy()
    reference.loc[reference.index[::50], "x"] = np.inf  # 2% +inf
    reference.loc[reference.index[1::20], "z"] = np.nan  # 5% NaN
    stable = window(rng)
    stable.loc[stable.index[::50], "x"] = np.inf  # same share of inf: no alarm
    stable.loc[stable.index[1::20], "z"] = np.nan
    report = drift_report(reference, stable)
    x, z = report.feature("x"), report.feature("z")
    assert x.infinite_count == 300 and x.infinite_count_reference == 400
    assert not x.drifted and not z.drifted
    assert z.missing_rate_current == pytest.approx(0.05) and z.missing_rate_reference == 0.05
    assert {c.test for c in x.checks} == {"ks", "missing_rate", "infinite_rate"}

    risen = stable.copy()
    risen.loc[risen.index[::10], "x"] = -np.inf  # 10% -inf
    risen.loc[risen.index[1::5], "z"] = np.nan  # 20% NaN
    risen["k"] = np.nan  # all missing: no values to test, still drifted
    report = drift_report(reference, risen)
    assert "infinite_rate" in report.feature("x").drifted_by
    assert report.feature("z").drifted_by == ["missing_rate"]
    k = report.feature("k")
    assert k.status == "drifted" and k.drifted_by == ["missing_rate"] and k.statistic is None
    json.loads(report.model_dump_json())  # no NaN or inf in the JSON


def test_an_old_profile_is_refused_with_the_fix(train: pd.DataFrame) -> None:
    old = profile_frame(train).model_dump()
    del old["format"]
    profile = ReferenceProfile.model_validate(old)
    with pytest.raises(OutdatedProfile) as caught:
        drift_report(profile, train)
    assert caught.value.status == 400 and "models profile" in str(caught.value.hint)


def test_report_frame_json_charts_and_html(train: pd.DataFrame, rng: np.random.Generator) -> None:
    current = window(rng, shift=1.0)
    report = drift_report(train, current)
    frame = report.to_frame()
    for column in ("feature", "kind", "test", "statistic", "p_value", "threshold", "drifted"):
        assert column in frame.columns
    for column in ("reference_rows", "current_rows", "missing_rate_reference", "status"):
        assert column in frame.columns
    assert frame["drifted"].dtype == bool and report.drifted == ["x"]
    again = DriftReport.model_validate_json(report.model_dump_json())
    assert again == report
    for f in report.features:
        assert f.chart is not None
        assert 0 < len(f.chart.bins) <= 50
        assert len(f.chart.reference) == len(f.chart.current) == len(f.chart.bins)
        assert sum(f.chart.reference) == pytest.approx(1.0, abs=1e-6)
        assert sum(f.chart.current) == pytest.approx(1.0, abs=1e-6)
    html = report._repr_html_()
    assert "<table" in html and "Plotly.newPlot" in html
    assert 'src="http' not in html  # plotly.js is inline, not from a CDN: works offline
    quiet = drift_report(train, window(rng))._repr_html_()
    assert "<table" in quiet and "Plotly" not in quiet


def test_rank_ks_orders_levels_by_pooled_rows_head_to_tail() -> None:
    # Worked example. Rows per level, reference / window: a 40/10, b 30/10, c 20/15, d 10/15, so
    # the pooled rows are 50, 40, 35, 25 and the order a, b, c, d. Cumulative shares: reference
    # .4 .7 .9 1, window .2 .4 .7 1; the largest gap is .3, after b.
    reference = pd.DataFrame({"level": list("a" * 40 + "b" * 30 + "c" * 20 + "d" * 10)})
    current = pd.DataFrame({"level": list("a" * 10 + "b" * 10 + "c" * 15 + "d" * 15)})
    got = drift_report(reference, current, tests="rank_ks").feature("level")
    assert got.test == "rank_ks" and got.statistic == pytest.approx(0.3, abs=1e-12)
    root = np.sqrt(100 * 50 / 150)
    assert got.p_value == pytest.approx(stats.kstwobign.sf(0.3 * (root + 0.12 + 0.11 / root)))


def test_rank_ks_is_a_two_sample_ks_on_the_levels_ranks(rng: np.random.Generator) -> None:
    levels = np.array([f"L{i:02d}" for i in range(60)])
    shares = 1 / np.arange(1, 61)
    train = rng.choice(levels, 30_000, p=shares / shares.sum())
    tilted = shares * np.linspace(0.8, 1.25, 60)
    current = rng.choice(levels, 4_000, p=tilted / tilted.sum())
    got = drift_report(
        pd.DataFrame({"c": train}), pd.DataFrame({"c": current}), tests="rank_ks"
    ).feature("c")
    # The same test by hand: each row's level replaced by its rank in the pooled rows, levels
    # with equal pooled rows sharing a rank (scipy's KS handles the ties).
    pooled = pd.Series(np.r_[train, current]).value_counts()
    rank = pooled.rank(method="min", ascending=False)
    expected = stats.ks_2samp(rank[train].to_numpy(), rank[current].to_numpy(), method="asymp")
    assert got.statistic == pytest.approx(expected.statistic, abs=1e-12)
    assert got.p_value == pytest.approx(expected.pvalue, rel=0.25)


def test_many_levels_get_rank_ks_which_sees_a_fatter_tail(rng: np.random.Generator) -> None:
    levels = np.array([f"item{i:03d}" for i in range(500)])
    zipf = 1 / np.arange(1, 501)
    fatter = np.arange(1, 501) ** -0.95
    train = pd.DataFrame(
        {
            "item": rng.choice(levels, 100_000, p=zipf / zipf.sum()),
            "plan": rng.choice(LEVELS, 100_000),
        }
    )
    window = pd.DataFrame(
        {
            "item": rng.choice(levels, 5_000, p=fatter / fatter.sum()),
            "plan": rng.choice(LEVELS, 5_000),
        }
    )
    report = drift_report(profile_frame(train), window)
    item, plan = report.feature("item"), report.feature("plan")
    assert item.test == "chi2" and [c.test for c in item.checks] == [
        "chi2",
        "rank_ks",
        "missing_rate",
    ]
    assert [c.test for c in plan.checks] == ["chi2", "missing_rate"]  # 5 levels: chi2 alone
    assert report.check_alpha == pytest.approx(0.01 / 3)  # chi2, rank_ks, chi2
    assert item.drifted_by == ["rank_ks"]


def test_rank_ks_has_no_false_alarms_on_equally_likely_levels(rng: np.random.Generator) -> None:
    # Ordered by the reference's rows alone, the levels that drew more reference rows come first
    # and the reference's cumulative share runs ahead of any window's: a gap of ~0.03 at 100,000
    # rows, every window drifted. Ordered by the pooled rows, there is no such gap.
    levels = np.array([f"item{i:03d}" for i in range(500)])
    profile = profile_frame(pd.DataFrame({"item": rng.choice(levels, 100_000)}))
    for size in (5_000, 100_000):
        window = pd.DataFrame({"item": rng.choice(levels, size)})
        check = {c.test: c for c in drift_report(profile, window).feature("item").checks}
        assert not check["rank_ks"].drifted and check["rank_ks"].p_value > 0.01
