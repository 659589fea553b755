"""A/B tests on deployments: start one, feed it outcomes, read where it stands, decide.

An experiment is a deployment serving its current version (the champion) and a challenger with
traffic weights, through :meth:`~jupyter_mlops.serving.deployments.Deployments.route` (random or
sticky assignment, or shadow). Its record is ``.mlops/abtests/<id>.json``. Which variant answered
each request is in the prediction log (``variant``, ``experiment_id``, ``sticky_key``, ``shadow``);
outcomes come back by request id through the monitoring feedback path, or by sticky key into
``<id>.outcomes.jsonl``. The analysis is :func:`jupyter_mlops.abtest.analyze`: the sequential test
(valid however often anyone looks) is the verdict. Stopping moves ``@champion`` to the winner,
serves the winner alone, and records who decided what, with the figures, on both versions.
"""

from __future__ import annotations

import builtins
import contextlib
import getpass
import json
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_mlops.abtest.schemas import (
    AbDecision,
    AbExperiment,
    AbList,
    AbStartRequest,
    AbStatus,
    OutcomeItem,
    OutcomesResult,
    VariantGuardrail,
    Winner,
)
from jupyter_mlops.errors import Conflict, InvalidInput, NotFound
from jupyter_mlops.process import file_lock, read_json, write_json
from jupyter_mlops.timestamps import utc_now

if TYPE_CHECKING:
    import pandas as pd

    from jupyter_mlops.monitoring.service import Monitoring
    from jupyter_mlops.registry.service import ModelRegistry
    from jupyter_mlops.serving.deployments import Deployments

#: Tag on both versions of a test: its id; and on each, the decision (JSON) once stopped.
ABTEST_TAG_PREFIX = "mlops.abtest."


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


class ABTests:
    """The A/B tests of one workspace."""

    def __init__(
        self,
        folder: Path,
        *,
        deployments: Deployments,
        registry: ModelRegistry,
        monitoring: Monitoring,
        alpha: float = 0.05,
    ) -> None:
        self.folder = folder
        self.deployments = deployments
        self.registry = registry
        self.monitoring = monitoring
        self.alpha = alpha

    # -- records ----------------------------------------------------------------------------------

    def list(self, deployment: str | None = None) -> AbList:
        """Every experiment, newest first (of one deployment when named)."""
        out = []
        if self.folder.is_dir():
            for path in self.folder.glob("*.json"):
                exp = read_json(path, AbExperiment)
                if isinstance(exp, AbExperiment) and deployment in (None, exp.deployment):
                    out.append(exp)
        return AbList(experiments=sorted(out, key=lambda e: e.started, reverse=True))

    def current(self, deployment: str) -> AbExperiment:
        """The running experiment of a deployment, else its latest one."""
        found = self.list(deployment).experiments
        running = [e for e in found if e.state == "running"]
        if running:
            return running[0]
        if found:
            return found[0]
        self.deployments.get(deployment)  # an unknown deployment is a 404 naming it
        raise NotFound(
            f"Deployment {deployment} has no A/B test",
            hint=f"Start one with `jupyter mlops ab start {deployment} --challenger VERSION`.",
            field="deployment",
        )

    def _save(self, exp: AbExperiment) -> None:
        write_json(self.folder / f"{exp.id}.json", exp)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with file_lock(self.folder / ".lock"):
            yield

    # -- starting ---------------------------------------------------------------------------------

    def start(self, deployment: str, request: AbStartRequest) -> AbExperiment:
        """Serve the challenger next to the deployment's current version with ``split``.

        Raises:
            InvalidInput: a split that does not sum to 100, a challenger equal to the champion.
            NotFound: an unknown deployment or version.
            Conflict: the deployment already runs an A/B test, or is not running.
        """
        from jupyter_mlops.serving.schemas import RouteRequest, VariantRequest

        _check_split(request.split, request.shadow)
        with self._locked():
            info = self.deployments.get(deployment)
            running = [e for e in self.list(deployment).experiments if e.state == "running"]
            if running:
                raise Conflict(
                    f"Deployment {deployment} already runs A/B test {running[0].id} "
                    f"(champion v{running[0].champion}, challenger v{running[0].challenger})",
                    hint=f"Stop it first: `jupyter mlops ab stop {deployment} --winner "
                    "champion|challenger`.",
                    field="deployment",
                )
            if len(info.serving) != 1:
                raise Conflict(
                    f"Deployment {deployment} serves {len(info.serving)} versions; an A/B test "
                    "starts from one (the champion)",
                    hint=f"Update it to one version first: `jupyter mlops deployments update "
                    f"{deployment} MODEL:VERSION`.",
                    field="deployment",
                )
            served = info.serving[0]
            model, champion = served.name, int(served.version)
            challenger = self.registry.get_version(f"{model}:{request.challenger}")
            if int(challenger.version) == champion:
                raise InvalidInput(
                    f"Version {champion} is already the champion {deployment} serves",
                    hint="Name another version of the model as the challenger.",
                    field="challenger",
                )
            exp = AbExperiment(
                id=f"ab-{utc_now():%Y%m%d%H%M%S}-{secrets.token_hex(3)}",
                deployment=deployment,
                model=model,
                champion=champion,
                challenger=int(challenger.version),
                split=[0.0 + request.split[0], 0.0 + request.split[1]]
                if not request.shadow
                else [100.0, 0.0],
                sticky_key=request.sticky_key,
                metric=request.metric,
                kind=request.kind,
                shadow=request.shadow,
                planned_n=request.planned_n,
                started=utc_now(),
                started_by=_user(),
            )
            self.deployments.route(
                deployment,
                RouteRequest(
                    experiment_id=exp.id,
                    variants=[
                        VariantRequest(
                            variant="champion", model=f"{model}:{champion}", weight=exp.split[0]
                        ),
                        VariantRequest(
                            variant="challenger",
                            model=f"{model}:{exp.challenger}",
                            weight=exp.split[1],
                        ),
                    ],
                    sticky_key=request.sticky_key,
                    shadow=request.shadow,
                ),
            )
            self._save(exp)
        self._tag(exp, "started", {"by": exp.started_by, "at": exp.started.isoformat()})
        return exp

    def reweight(self, deployment: str, split: builtins.list[float]) -> AbExperiment:
        """Move traffic between the variants of the running test, without downtime."""
        from jupyter_mlops.serving.schemas import RouteRequest, VariantRequest

        _check_split(split, False)
        with self._locked():
            exp = self._running(deployment)
            if exp.shadow:
                raise InvalidInput(
                    f"A/B test {exp.id} is a shadow test: the challenger answers nothing",
                    hint="Stop it and start a test with a split.",
                    field="split",
                )
            self.deployments.route(
                deployment,
                RouteRequest(
                    experiment_id=exp.id,
                    variants=[
                        VariantRequest(
                            variant="champion", model=f"{exp.model}:{exp.champion}", weight=split[0]
                        ),
                        VariantRequest(
                            variant="challenger",
                            model=f"{exp.model}:{exp.challenger}",
                            weight=split[1],
                        ),
                    ],
                    sticky_key=exp.sticky_key,
                    shadow=False,
                ),
            )
            exp.split = [float(split[0]), float(split[1])]
            self._save(exp)
        return exp

    def _running(self, deployment: str) -> AbExperiment:
        exp = self.current(deployment)
        if exp.state != "running":
            raise Conflict(
                f"A/B test {exp.id} of {deployment} is already stopped"
                + (f" ({exp.decision.winner} won)" if exp.decision else ""),
                hint=f"Start another with `jupyter mlops ab start {deployment} --challenger V`.",
                field="deployment",
            )
        return exp

    # -- outcomes ---------------------------------------------------------------------------------

    def record_outcomes(self, deployment: str, items: builtins.list[OutcomeItem]) -> OutcomesResult:
        """Outcomes by request id (the answer's ``x-request-id``) or by sticky key.

        The same outcome twice counts once. Nothing is written when any item is wrong.

        Raises:
            InvalidInput: an outcome of the wrong kind, an item with neither or both of
                request id and key, a key outcome for a test without a sticky key.
            NotFound: a request id the deployment never answered (named).
            Conflict: the test is stopped.
        """
        from jupyter_mlops.monitoring.schemas import FeedbackItem

        exp = self._running(deployment)  # the figures of a decided test stay as decided
        by_request: builtins.list[FeedbackItem] = []
        by_key: builtins.list[tuple[str, Any]] = []
        for i, item in enumerate(items):
            value = _outcome_value(exp, item.value, i)
            if (item.request_id is None) == (item.key is None):
                raise InvalidInput(
                    f"Outcome {i} needs a request_id or a key (one of them)",
                    hint="Send {'request_id': ..., 'value': ...} with the x-request-id of the "
                    "answer, or {'key': ..., 'value': ...} with the sticky key's value.",
                    field="outcomes",
                )
            if item.key is not None:
                if exp.kind == "label":
                    raise InvalidInput(
                        f"A/B test {exp.id} compares prediction quality: a true label belongs "
                        "to a request",
                        hint="Send true labels by request_id (the answer's x-request-id).",
                        field="key",
                    )
                if exp.sticky_key is None:
                    raise InvalidInput(
                        f"A/B test {exp.id} assigns requests at random: an outcome by key "
                        "cannot be matched to a variant",
                        hint="Send outcomes by request_id (the answer's x-request-id).",
                        field="key",
                    )
                by_key.append((item.key, value))
            else:
                assert item.request_id is not None
                by_request.append(FeedbackItem(request_id=item.request_id, row=0, label=value))
        accepted = duplicates = 0
        if by_request:
            done = self.monitoring.feedback(deployment, by_request)
            accepted, duplicates = done.accepted, done.duplicates
        if by_key:
            a, d = self._record_key_outcomes(exp, by_key)
            accepted, duplicates = accepted + a, duplicates + d
        return OutcomesResult(accepted=accepted, duplicates=duplicates)

    def _outcomes_path(self, exp: AbExperiment) -> Path:
        return self.folder / f"{exp.id}.outcomes.jsonl"

    def _key_outcomes(self, exp: AbExperiment) -> dict[str, tuple[float, str]]:
        out: dict[str, tuple[float, str]] = {}
        path = self._outcomes_path(exp)
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                with contextlib.suppress(ValueError, KeyError, TypeError):
                    row = json.loads(line)
                    out.setdefault(str(row["key"]), (float(row["value"]), str(row["at"])))
        return out

    def _record_key_outcomes(
        self, exp: AbExperiment, items: builtins.list[tuple[str, Any]]
    ) -> tuple[int, int]:
        with self._locked():
            known = self._key_outcomes(exp)
            fresh: dict[str, Any] = {}
            for key, value in items:
                if key not in known and key not in fresh:
                    fresh[key] = value
            if fresh:
                at = utc_now().isoformat()
                lines = "".join(
                    json.dumps({"key": k, "value": v, "at": at}) + "\n" for k, v in fresh.items()
                )
                with open(self._outcomes_path(exp), "a", encoding="utf-8") as f:
                    f.write(lines)
                    f.flush()
                    os.fsync(f.fileno())
        return len(fresh), len(items) - len(fresh)

    # -- where it stands --------------------------------------------------------------------------

    def status(self, deployment: str) -> AbStatus:
        """Assignments, outcomes, the analysis (sequential verdict) and the guardrails; of a
        stopped test, the analysis it was decided on."""
        exp = self.current(deployment)
        status = self._status(exp)
        if exp.decision is not None:
            status.analysis = exp.decision.analysis
            status.message = (
                f"Stopped {exp.decision.decided_at:%Y-%m-%d %H:%M} by {exp.decision.decided_by}: "
                f"the {exp.decision.winner} won; the figures are those of the decision."
            )
        return status

    def _requests(self, exp: AbExperiment) -> pd.DataFrame:
        """One row per answered request of the experiment: request id, variant, time, key,
        status, latency, shadow."""
        import pandas as pd

        from jupyter_mlops.monitoring.windows import Window

        end = exp.decision.decided_at if exp.decision else None
        log = self.monitoring.predictions(
            exp.deployment, Window(start=exp.started, end=end), include_shadow=True
        )
        cols = ["request_id", "variant", "time", "sticky_key", "status", "latency_ms", "shadow"]
        if log.empty or "experiment_id" not in log.columns:
            return pd.DataFrame(columns=cols)
        log = log[(log["experiment_id"] == exp.id) & (log["row"] == 0)]
        for col in cols:
            if col not in log.columns:
                log[col] = None
        return log[cols].reset_index(drop=True)

    def _status(self, exp: AbExperiment) -> AbStatus:
        import numpy as np
        import pandas as pd

        from jupyter_mlops.abtest import analyze

        requests = self._requests(exp)
        shadow_mask = requests["shadow"].fillna(False).astype(bool)
        answered = requests[~shadow_mask]
        # In a shadow test the challenger's latency and errors are those of its copies.
        guardrails = self._guardrails(exp, requests)
        unit = "key" if exp.sticky_key else "request"
        if unit == "key":
            units = answered.dropna(subset=["sticky_key"])
            units = units.sort_values("time").drop_duplicates("sticky_key")
            units = units.rename(columns={"sticky_key": "unit"})
        else:
            units = answered.rename(columns={"request_id": "unit"})
        units = units[units["status"].fillna(0).astype(int) < 400][["unit", "variant", "time"]]
        outcomes = self._unit_outcomes(exp, answered, unit)
        frame = units.merge(outcomes, on="unit", how="left")
        assigned = {v: int((frame["variant"] == v).sum()) for v in ("champion", "challenger")}
        with_outcome = {
            v: int(((frame["variant"] == v) & frame["outcome"].notna()).sum())
            for v in ("champion", "challenger")
        }
        if exp.kind == "binary":
            # A conversion is reported when it happens: a unit without one did not convert.
            frame["outcome"] = frame["outcome"].fillna(0.0)
        message = None
        analysis = None
        counted = frame.dropna(subset=["outcome"])
        quality = None
        if exp.kind == "label":
            from jupyter_mlops.monitoring.windows import Window

            end = exp.decision.decided_at if exp.decision else None
            quality = self.monitoring.quality(exp.deployment, Window(start=exp.started, end=end))
            message = (
                "Prediction quality per variant (model version) on the requests with a true "
                "label; see quality."
            )
        elif exp.shadow:
            message = (
                "A shadow test: only the champion answers, so there are no outcomes to compare; "
                "compare latency and errors, and the predictions in the log."
            )
        elif min(assigned.values()) < 2 or len(counted) < 4:
            message = (
                f"Too few {unit}s to analyse yet: champion {assigned['champion']}, "
                f"challenger {assigned['challenger']}."
            )
        else:
            counted = counted.assign(time=pd.to_datetime(counted["time"], utc=True))
            analysis = analyze(
                counted,
                variant_col="variant",
                outcome_col="outcome",
                kind=exp.kind,
                alpha=self.alpha,
                control="champion",
                planned_n=exp.planned_n,
                expected_split={
                    "champion": exp.split[0] / 100.0,
                    "challenger": exp.split[1] / 100.0,
                },
                time_col="time",
            )
        del np
        return AbStatus(
            experiment=exp,
            unit=unit,
            assigned=assigned,
            with_outcome=with_outcome,
            analysis=analysis,
            guardrails=guardrails,
            quality=quality,
            shadow_requests=int(shadow_mask.sum()),
            message=message,
        )

    def _unit_outcomes(self, exp: AbExperiment, answered: pd.DataFrame, unit: str) -> pd.DataFrame:
        """The outcome of each unit (request or key): from feedback by request id, and for keys
        also from outcomes sent by key. A key's outcome is its first one."""
        import pandas as pd

        feedback = self.monitoring.feedback_table(exp.deployment)
        rows: builtins.list[tuple[str, float]] = []
        if len(feedback):
            fb = feedback[feedback["row"] == 0].drop_duplicates("request_id")
            labels = fb["label"].map(
                # a true label (kind label) counts as an outcome whatever its type
                (lambda v: 1.0)
                if exp.kind == "label"
                else (lambda v: float(v) if isinstance(v, (bool, int, float)) else None)
            )
            values = pd.to_numeric(labels, errors="coerce")
            by_request = dict(zip(fb["request_id"], values, strict=True))
            if unit == "request":
                rows += [(r, by_request[r]) for r in answered["request_id"] if r in by_request]
            else:
                for rid, key in zip(answered["request_id"], answered["sticky_key"], strict=True):
                    if rid in by_request and key is not None:
                        rows.append((str(key), by_request[rid]))
        if unit == "key":
            rows += [(k, v) for k, (v, _) in self._key_outcomes(exp).items()]
        # float64 even when there is no outcome yet (an empty frame would be object, and a
        # status read right after the start would call its 0-filled outcomes non-numeric).
        frame = pd.DataFrame(rows, columns=["unit", "outcome"]).astype({"outcome": "float64"})
        return frame.drop_duplicates("unit", keep="first")

    def _guardrails(
        self, exp: AbExperiment, answered: pd.DataFrame
    ) -> builtins.list[VariantGuardrail]:
        out = []
        for variant, version in (("champion", exp.champion), ("challenger", exp.challenger)):
            part = answered[answered["variant"] == variant]
            n = len(part)
            errors = int((part["status"].fillna(0).astype(int) >= 400).sum()) if n else 0
            latency = part["latency_ms"].dropna().astype(float)
            out.append(
                VariantGuardrail(
                    variant=variant,
                    version=version,
                    requests=n,
                    errors=errors,
                    error_rate=errors / n if n else None,
                    latency_p50_ms=float(latency.quantile(0.5)) if len(latency) else None,
                    latency_p95_ms=float(latency.quantile(0.95)) if len(latency) else None,
                )
            )
        return out

    # -- deciding ---------------------------------------------------------------------------------

    def stop(self, deployment: str, winner: Winner) -> AbExperiment:
        """End the running test: the winner serves alone (zero downtime); a winning challenger
        takes ``@champion``. The decision, who made it and the figures at that moment are
        recorded with the experiment and as tags on both versions."""
        # One decision per test: the check and everything it decides happen under the lock, so
        # two stops at once (the widget and the CLI) give one decision and one Conflict.
        with self._locked():
            exp = self._running(deployment)
            status = self._status(exp)
            version = exp.challenger if winner == "challenger" else exp.champion
            self.deployments.update(deployment, f"{exp.model}:{version}")
            alias_moved = False
            if winner == "challenger":
                self.registry.set_alias(exp.model, "champion", exp.challenger)
                alias_moved = True
            analysis = status.analysis
            exp.decision = AbDecision(
                winner=winner,
                version=version,
                decided_by=_user(),
                decided_at=utc_now(),
                alias_moved=alias_moved,
                verdict=analysis.verdict if analysis is not None else None,
                analysis=analysis,
            )
            exp.state = "stopped"
            self._save(exp)
        figures: dict[str, Any] = {
            "winner": winner,
            "version": version,
            "by": exp.decision.decided_by,
            "at": exp.decision.decided_at.isoformat(),
            "assigned": status.assigned,
            "verdict": exp.decision.verdict,
        }
        if analysis is not None and analysis.comparisons:
            c = analysis.comparisons[0]
            figures["effect"] = c.effect.absolute
            figures["sequential_p"] = c.sequential.p_value
        self._tag(exp, "decision", figures)
        return exp

    def _tag(self, exp: AbExperiment, what: str, payload: dict[str, Any]) -> None:
        """Record a step of the test in the lineage of both versions (model version tags)."""
        text = json.dumps({"experiment": exp.id, "deployment": exp.deployment, **payload})
        for version in (exp.champion, exp.challenger):
            with contextlib.suppress(Exception):
                self.registry.client.set_model_version_tag(
                    exp.model, str(version), f"{ABTEST_TAG_PREFIX}{exp.id}.{what}", text[:5000]
                )


def _check_split(split: list[float], shadow: bool) -> None:
    if shadow:
        return
    if len(split) != 2 or any(s < 0 for s in split) or abs(sum(split) - 100.0) > 1e-9:
        shown = "/".join(f"{s:g}" for s in split)
        raise InvalidInput(
            f"The split {shown} is not two percentages that sum to 100",
            hint="Give the champion's and the challenger's share, e.g. 90/10 or 50/50.",
            field="split",
        )
    if min(split) == 0:
        raise InvalidInput(
            "A split with a 0% variant compares nothing",
            hint="Give both variants some traffic, or use --shadow to send the challenger copies.",
            field="split",
        )


def _outcome_value(exp: AbExperiment, value: float | bool | str, index: int) -> Any:
    import math

    if exp.kind == "label":
        return value  # the true label, as the model predicts it (a class or a number)
    if isinstance(value, str):
        raise InvalidInput(
            f"Outcome {index} is the text {value!r}, but A/B test {exp.id} measures "
            f"{exp.metric!r} as {exp.kind}",
            hint="Send 1/0 for a conversion, or a number for a numeric outcome.",
            field="value",
        )
    if exp.kind == "binary":
        if isinstance(value, bool) or value in (0, 1):
            return float(value)
        raise InvalidInput(
            f"Outcome {index} is {value!r}, but A/B test {exp.id} measures {exp.metric!r} as "
            "binary",
            hint="Send 1 (or true) for converted and 0 (or false) for not.",
            field="value",
        )
    if isinstance(value, bool) or not math.isfinite(float(value)):
        raise InvalidInput(
            f"Outcome {index} is {value!r}, but A/B test {exp.id} measures {exp.metric!r} as "
            "a number",
            hint="Send a finite number, e.g. the revenue of the order.",
            field="value",
        )
    return float(value)
