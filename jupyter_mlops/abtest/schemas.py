"""The results of the A/B statistics, as pydantic models (JSON for REST and ``--json`` alike).

:class:`AbAnalysis` is what :func:`jupyter_mlops.abtest.analyze` returns; it renders in a
notebook as a compact table and a verdict sentence. The other models are what each registered
test in :mod:`jupyter_mlops.abtest.stats` returns.
"""

from __future__ import annotations

import html
from typing import Literal

from pydantic import BaseModel, Field

from jupyter_mlops.monitoring.schemas import QualityReport
from jupyter_mlops.timestamps import Timestamp

OutcomeKind = Literal["binary", "numeric"]
Verdict = Literal["challenger_better", "challenger_worse", "no_difference_yet"]


class TestResult(BaseModel):
    """A frequentist test of the difference ``treatment - control`` and its interval."""

    __test__ = False  # not a pytest test class, despite the name

    test: str
    statistic: float
    p_value: float
    effect: float
    """The observed difference, treatment minus control (of rates or of means)."""
    ci_low: float
    ci_high: float
    alpha: float
    df: float | None = None
    """Welch's t: the Welch-Satterthwaite degrees of freedom."""


class BayesResult(BaseModel):
    """Beta-binomial posteriors of both rates: how likely the challenger's rate is higher."""

    probability_better: float
    """P(treatment rate > control rate) under the posteriors."""
    ci_low: float
    ci_high: float
    """Equal-tailed credible interval of the difference of rates, treatment minus control."""
    credibility: float
    prior_alpha: float
    prior_beta: float
    method: Literal["exact", "integrated"]
    """How ``probability_better`` was computed: a closed-form sum, or quadrature."""


class BootstrapResult(BaseModel):
    """A bootstrap interval of the difference of means, treatment minus control."""

    effect: float
    ci_low: float
    ci_high: float
    confidence: float
    resamples: int
    seed: int
    method: Literal["percentile"] = "percentile"
    resampling: Literal["rows", "distinct values", "blocks"] = "rows"
    """How resamples were drawn: rows, counts of distinct values (the same distribution), or
    blocks of sorted values (above 200,000 rows an arm; see ``stats.bootstrap_diff``)."""


class SequentialResult(BaseModel):
    """The mixture sequential probability ratio test (mSPRT) at the last of one or more looks."""

    p_value: float
    """Always-valid p-value: the running minimum of ``1 / likelihood ratio`` over the looks."""
    effect: float
    ci_low: float
    ci_high: float
    """Always-valid confidence sequence of the difference (running intersection over looks)."""
    likelihood_ratio: float
    """The mixture likelihood ratio at the last look."""
    mixing_variance: float
    """tau^2 of the normal mixing distribution N(0, tau^2) of the difference."""
    alpha: float
    looks: int
    p_values: list[float] = Field(default_factory=list)
    """The always-valid p-value after each look (non-increasing)."""


class SampleSize(BaseModel):
    """Rows needed per variant to detect an effect, and how long that takes."""

    kind: OutcomeKind
    control_n: int
    treatment_n: int
    total_n: int
    baseline: float
    """The control's rate (binary) or mean (numeric)."""
    mde_absolute: float
    mde_relative: float | None
    effect_size: float
    """Cohen's h (binary, arcsine difference) or d (numeric, difference over sd)."""
    alpha: float
    power: float
    ratio: float
    """Treatment rows per control row."""
    two_sided: bool
    traffic_per_hour: float | None = None
    share: float | None = None
    """The share of all traffic that enters the experiment."""
    hours: float | None = None
    days: float | None = None


class SrmCheck(BaseModel):
    """Sample-ratio mismatch: do the assignment counts fit the intended split?"""

    variants: list[str]
    counts: list[int]
    expected_shares: list[float]
    statistic: float
    p_value: float
    threshold: float
    mismatch: bool
    message: str


class VariantSummary(BaseModel):
    """One variant's rows and outcome."""

    name: str
    assigned: int
    """Rows with this variant, including those whose outcome is missing."""
    n: int
    """Rows with an outcome: what the tests use."""
    mean: float
    """The conversion rate (binary) or the mean outcome (numeric)."""
    sd: float
    successes: int | None = None


class Effect(BaseModel):
    """The challenger's effect with the always-valid confidence sequence around it."""

    absolute: float
    absolute_low: float
    absolute_high: float
    relative: float | None
    """``absolute / control mean``; None when the control mean is 0."""
    relative_low: float | None
    relative_high: float | None
    """The confidence sequence over the control's mean, taken as known (approximate)."""


class AbComparison(BaseModel):
    """One challenger against the control."""

    control: str
    treatment: str
    alpha: float
    """The alpha of this comparison (Bonferroni-divided when there are several challengers)."""
    effect: Effect
    sequential: SequentialResult
    fixed_horizon: TestResult
    bayes: BayesResult | None = None
    bootstrap: BootstrapResult | None = None
    verdict: Verdict
    verdict_text: str


# Named AbComparison so that the OpenAPI document, which also holds the runs' `Comparison`
# (tracking), names both plainly; `Comparison` stays for the code that imports it.
Comparison = AbComparison


class AbAnalysis(BaseModel):
    """An A/B test's outcomes analysed: the default verdict is the sequential one."""

    kind: OutcomeKind
    variant_col: str
    outcome_col: str
    alpha: float
    higher_is_better: bool
    control: str
    variants: list[VariantSummary]
    comparisons: list[Comparison]
    srm: SrmCheck
    dropped_rows: int
    """Rows left out: a missing variant or a missing outcome."""
    planned_n: int
    """Rows per variant the mSPRT's mixing variance is tuned for."""
    peeking_warning: str

    @property
    def comparison(self) -> Comparison:
        """The first (with two variants, the only) challenger's comparison."""
        return self.comparisons[0]

    @property
    def verdict(self) -> Verdict:
        """The first challenger's sequential verdict."""
        return self.comparison.verdict

    def _repr_html_(self) -> str:
        e = html.escape
        rate = "rate" if self.kind == "binary" else "mean"
        rows = []
        for v in self.variants:
            mark = " (control)" if v.name == self.control else ""
            rows.append(
                f"<tr><td>{e(v.name)}{mark}</td><td>{v.n:,}</td><td>{_num(v.mean)}</td></tr>"
            )
        head = f"<tr><th>variant</th><th>n</th><th>{rate}</th></tr>"
        parts = [f"<table>{head}{''.join(rows)}</table>"]
        for c in self.comparisons:
            s, f = c.sequential, c.fixed_horizon
            eff = c.effect
            rel = f" ({eff.relative:+.2%})" if eff.relative is not None else ""
            extra = ""
            if c.bayes is not None:
                extra = f"; P(challenger better) {c.bayes.probability_better:.3f}"
            if c.bootstrap is not None:
                b = c.bootstrap
                extra = f"; bootstrap {b.confidence:.0%} [{_num(b.ci_low)}, {_num(b.ci_high)}]"
            parts.append(
                f"<p><b>{e(c.verdict_text)}</b><br>{e(c.treatment)} - {e(c.control)}: "
                f"{_num(eff.absolute)}{rel}, always-valid {1 - c.alpha:.0%} interval "
                f"[{_num(eff.absolute_low)}, {_num(eff.absolute_high)}]; "
                f"sequential p = {s.p_value:.4g}; fixed-horizon p = {f.p_value:.4g}*{e(extra)}"
                "</p>"
            )
        parts.append(f"<p><small>* {e(self.peeking_warning)}</small></p>")
        if self.srm.mismatch:
            parts.append(f"<p><b>Sample-ratio mismatch:</b> {e(self.srm.message)}</p>")
        return "".join(parts)


def _num(value: float) -> str:
    return f"{value:.4g}"


# -- experiments on a deployment ------------------------------------------------------------------

Winner = Literal["champion", "challenger"]
#: What an A/B test's outcomes are: a conversion (0/1), a number (revenue), or the true label of
#: the model's prediction (quality metrics per variant, from the monitoring feedback path).
ExperimentKind = Literal["binary", "numeric", "label"]


class AbStartRequest(BaseModel):
    """Start an A/B test on a deployment: its current version (the champion) against another."""

    challenger: int = Field(ge=1, description="the registered version to test")
    split: list[float] = Field(
        default_factory=lambda: [90.0, 10.0],
        description="percent of requests to the champion and the challenger (sum 100)",
    )
    sticky_key: str | None = Field(
        default=None,
        description="input column (or x-sticky-key header) that keeps a user in one "
        "variant; None: each request is assigned at random",
    )
    metric: str = Field(default="converted", description="the outcome's name")
    kind: ExperimentKind = "binary"
    shadow: bool = Field(
        default=False,
        description="the challenger gets a copy of each request; only the "
        "champion answers (no outcomes: compare latency, errors and predictions)",
    )
    planned_n: int | None = Field(
        default=None, ge=10, description="units per variant the test plans (tunes the mSPRT)"
    )


class AbDecision(BaseModel):
    """How an A/B test ended: who decided what, and the figures at that moment."""

    winner: Winner
    version: int
    decided_by: str
    decided_at: Timestamp
    alias_moved: bool = Field(description="whether @champion moved to the challenger")
    verdict: Verdict | None = None
    analysis: AbAnalysis | None = None


class AbExperiment(BaseModel):
    """An A/B test of a deployment (``.mlops/abtests/<id>.json``)."""

    id: str
    deployment: str
    model: str
    champion: int
    challenger: int
    split: list[float]
    sticky_key: str | None = None
    metric: str
    kind: ExperimentKind
    shadow: bool = False
    planned_n: int | None = None
    started: Timestamp
    started_by: str
    state: Literal["running", "stopped"] = "running"
    decision: AbDecision | None = None


class AbList(BaseModel):
    experiments: list[AbExperiment]


class OutcomeItem(BaseModel):
    """One outcome: for a request (its ``x-request-id``) or for a sticky key's user."""

    request_id: str | None = None
    key: str | None = Field(default=None, description="the sticky key's value (e.g. a user id)")
    value: float | bool | str = Field(description="0/1, a number, or (kind label) the true label")


class OutcomesRequest(BaseModel):
    outcomes: list[OutcomeItem] = Field(min_length=1)


class OutcomesResult(BaseModel):
    accepted: int
    duplicates: int = Field(description="outcomes already recorded, not counted again")


class VariantGuardrail(BaseModel):
    """Latency and errors of one variant over the test."""

    variant: str
    version: int
    requests: int
    errors: int
    error_rate: float | None
    latency_p50_ms: float | None
    latency_p95_ms: float | None


class AbStatus(BaseModel):
    """Where an A/B test stands: assignments, outcomes, the analysis and the guardrails."""

    experiment: AbExperiment
    unit: Literal["request", "key"] = Field(description="what a row of the analysis is")
    assigned: dict[str, int]
    with_outcome: dict[str, int]
    analysis: AbAnalysis | None = None
    guardrails: list[VariantGuardrail] = Field(default_factory=list)
    quality: QualityReport | None = Field(
        default=None, description="kind label: quality metrics per version (variant)"
    )
    shadow_requests: int = 0
    message: str | None = None


# -- REST requests and queries --------------------------------------------------------------------


class AbListQuery(BaseModel):
    deployment: str | None = Field(default=None, description="only this deployment's tests")


class AbSplitRequest(BaseModel):
    """Move traffic between the variants of the running test."""

    split: list[float] = Field(
        description="percent of requests to the champion and the challenger (sum 100)"
    )


class AbStopRequest(BaseModel):
    """End the running test: the winner serves alone; a winning challenger takes @champion."""

    winner: Winner


class AbPlanQuery(BaseModel):
    """The sample size of a planned test, and its duration at a given traffic."""

    kind: OutcomeKind = "binary"
    baseline: float = Field(description="the champion's rate (binary) or mean (numeric)")
    mde: float = Field(description="minimum detectable effect, absolute unless relative")
    relative: bool = Field(default=False, description="mde is a fraction of the baseline")
    sd: float | None = Field(default=None, gt=0, description="the outcome's sd (numeric)")
    alpha: float = Field(default=0.05, gt=0, lt=1)
    power: float = Field(default=0.8, gt=0, lt=1)
    share: float = Field(
        default=50.0, gt=0, lt=100, description="the challenger's percent of the traffic"
    )
    traffic: float | None = Field(default=None, gt=0, description="requests per hour")
