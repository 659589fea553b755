"""Pipelines: declared once, applied like feature views, run on their triggers.

A run goes through these steps, each recorded with its times and outcome:

1. **job**: the training notebook runs as a job with the pipeline's parameters; its MLflow run is
   tagged with the pipeline, the pipeline run and the event that started it;
2. **gates**: the run is checked with the ``ci`` gate language; a failing gate ends the run
   (the MLflow run is kept, nothing is registered, the step says which check failed);
3. **register**: the run's model becomes a version of the pipeline's model; the version copies
   the run's lineage tags, the pipeline's included;
4. **alias**: the version takes the pipeline's alias (``challenger``);
5. **abtest** (optional): an A/B test of the version against the deployment's champion starts;
6. **promote** (optional): once the test's sequential verdict is in, with guardrails met, the
   winner is decided (a winning challenger takes ``@champion``).

The scheduler process (:mod:`jupyter_mlops.monitoring.scheduler`) calls :meth:`Pipelines.tick`:
it reads the triggers, turns what happened into events and moves the runs along. Events and
decisions are taken under one file lock, so a run is never started twice for one event, whoever
(scheduler, command, REST) takes it.
"""

from __future__ import annotations

import builtins
import contextlib
import getpass
import json
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_mlops.config import PipelinesConfig
from jupyter_mlops.errors import Conflict, InvalidInput, MlopsError, NotFound, did_you_mean
from jupyter_mlops.jobs.gates import parse_check
from jupyter_mlops.lineage.tags import JOB_TAG, PIPELINE_RUN_TAG, PIPELINE_TAG, TRIGGER_TAG
from jupyter_mlops.paths import inside
from jupyter_mlops.pipelines.declarations import (
    check_schedule,
    from_config,
    from_folder,
    merge,
)
from jupyter_mlops.pipelines.schemas import (
    FINAL_RUN_STATES,
    AlertTrigger,
    ChainLink,
    DeclaredPipeline,
    EnableRequest,
    FreshnessTrigger,
    IngestTrigger,
    LineageChain,
    PipelineChange,
    PipelineInfo,
    PipelineList,
    PipelinePlan,
    PipelineRun,
    PipelineRunList,
    PipelineSpec,
    RunNowResult,
    RunStep,
    ScheduleTrigger,
    StepName,
    TriggerEvent,
    TriggerEventList,
    TriggerInfo,
)
from jupyter_mlops.pipelines.store import (
    Applied,
    AppliedPipeline,
    AppliedVersion,
    PipelineStore,
    fingerprint,
    new_run_id,
)
from jupyter_mlops.pipelines.triggers import (
    Happened,
    Watcher,
    describe,
    next_fire,
    trigger_key,
)
from jupyter_mlops.timestamps import from_epoch_millis, utc_now

if TYPE_CHECKING:
    from jupyter_mlops.abtest.schemas import AbStatus, Winner
    from jupyter_mlops.abtest.service import ABTests
    from jupyter_mlops.features.service import FeatureStore
    from jupyter_mlops.jobs.ci import Gates
    from jupyter_mlops.jobs.service import Jobs
    from jupyter_mlops.monitoring.scheduler import Scheduler
    from jupyter_mlops.monitoring.service import Monitoring
    from jupyter_mlops.registry.service import ModelRegistry
    from jupyter_mlops.serving.deployments import Deployments

#: Steps of a run, in order; a step a pipeline does not declare is skipped.
STEPS: tuple[StepName, ...] = ("job", "gates", "register", "alias", "abtest", "promote")
#: How soon the scheduler wants the next tick while a run's job or steps are moving.
BUSY_TICK = 0.2


class Pipelines:
    """The pipelines of one workspace."""

    def __init__(
        self,
        root: Path,
        folder: Path,
        config: PipelinesConfig,
        declarations: Callable[[], dict[str, dict[str, Any]]],
        *,
        jobs: Jobs,
        gates: Gates,
        registry: ModelRegistry,
        features: FeatureStore,
        deployments: Deployments,
        monitoring: Monitoring,
        abtests: ABTests,
        scheduler: Scheduler,
    ) -> None:
        self.root = root
        self.store = PipelineStore(folder)
        self.config = config
        self.declarations = declarations
        self.jobs = jobs
        self.gates = gates
        self.registry = registry
        self.features = features
        self.deployments = deployments
        self.monitoring = monitoring
        self.abtests = abtests
        self.scheduler = scheduler
        self.watcher = Watcher(monitoring, features)
        self._last_ab_check: dict[str, float] = {}

    # -- declarations, plan, apply ----------------------------------------------------------------

    def declared(self) -> builtins.list[DeclaredPipeline]:
        """The pipelines of ``mlops.toml`` and ``pipelines/*.py``, each checked for its shape.

        Raises:
            InvalidInput: a declaration that is malformed (unknown trigger kind, bad cron, ...).
        """
        folder = inside(self.root, self.config.folder, must_exist=False)
        found = merge([*from_config(self.declarations()), *from_folder(self.root, folder)])
        for item in found:
            for trigger in item.spec.triggers:
                if isinstance(trigger, ScheduleTrigger):
                    try:
                        check_schedule(trigger)
                    except InvalidInput as exc:
                        raise InvalidInput(
                            f"pipeline {item.spec.name} ({item.source}): {exc.message}",
                            hint=exc.hint,
                            field=exc.field,
                        ) from None
        return found

    def _problems(self, spec: PipelineSpec) -> builtins.list[str]:
        """What in the workspace the pipeline names and cannot find."""
        problems: builtins.list[str] = []
        try:
            declared = self.jobs.parameters(spec.notebook)
            known = {p.name for p in declared.parameters}
            unknown = sorted(set(spec.parameters) - known)
            if unknown and declared.has_parameters_cell:
                problems.append(
                    f"parameter(s) {', '.join(unknown)} are not in the notebook's parameters "
                    f"cell ({', '.join(sorted(known)) or 'none'})"
                )
        except MlopsError as exc:
            problems.append(f"notebook {spec.notebook}: {exc.message}")
        try:
            self.registry.get_model(spec.model)
        except MlopsError as exc:
            problems.append(
                f"model {spec.model}: {exc.message} (register a first version with "
                f"`jupyter mlops models register RUN {spec.model}`)"
            )
        for check in spec.gates:
            try:
                parse_check(check)
            except MlopsError as exc:
                problems.append(f"gate {check!r}: {exc.message}")
        deployments = {d.name for d in self.deployments.list()}
        for trigger in spec.triggers:
            if isinstance(trigger, IngestTrigger | FreshnessTrigger):
                try:
                    self.features.get_view(trigger.view)
                except MlopsError as exc:
                    problems.append(f"trigger {trigger.kind}: {exc.message}")
            if isinstance(trigger, AlertTrigger) and trigger.deployment not in deployments:
                hint = did_you_mean(trigger.deployment, deployments, listing="Deployments")
                problems.append(
                    f"trigger alert: there is no deployment {trigger.deployment!r}"
                    + (f" ({hint.rstrip('.')})" if hint else "")
                )
        if spec.abtest is not None:
            split = spec.abtest.split
            if len(split) != 2 or abs(sum(split) - 100) > 1e-6 or min(split) <= 0:
                problems.append(
                    f"abtest split {split}: two shares above 0 that sum to 100, e.g. [90, 10]"
                )
            if spec.abtest.deployment not in deployments:
                problems.append(
                    f"abtest: there is no deployment {spec.abtest.deployment!r} (deploy the "
                    f"champion first: `jupyter mlops deploy {spec.model}@champion`)"
                )
        return problems

    def plan(self) -> PipelinePlan:
        """What ``apply`` would change. Every pipeline is checked against the workspace.

        Raises:
            InvalidInput: a malformed declaration, or a pipeline naming a notebook, model,
                feature view or deployment that does not exist (every problem is listed).
        """
        declared = self.declared()
        problems = [
            f"pipeline {d.spec.name} ({d.source}): {p}"
            for d in declared
            for p in self._problems(d.spec)
        ]
        if problems:
            raise InvalidInput(
                "; ".join(problems),
                hint="Fix the declarations, then run `jupyter mlops pipelines plan` again.",
                field="pipeline",
            )
        applied = self.store.applied()
        changes: builtins.list[PipelineChange] = []
        for item in declared:
            current = applied.pipelines.get(item.spec.name)
            if current is None:
                changes.append(
                    PipelineChange(
                        name=item.spec.name, action="create", version=1, source=item.source
                    )
                )
                continue
            latest = current.latest
            if latest.fingerprint == fingerprint(item.spec) and not current.removed:
                changes.append(
                    PipelineChange(
                        name=item.spec.name,
                        action="unchanged",
                        version=latest.version,
                        source=item.source,
                    )
                )
                continue
            changes.append(
                PipelineChange(
                    name=item.spec.name,
                    action="update",
                    version=latest.version + 1,
                    source=item.source,
                    diff=_diff(latest.spec, item.spec),
                )
            )
        names = {d.spec.name for d in declared}
        for name, current in sorted(applied.pipelines.items()):
            if name not in names and not current.removed:
                changes.append(
                    PipelineChange(
                        name=name,
                        action="remove",
                        version=current.latest.version,
                        diff=["no longer declared: it stops taking events; its runs are kept"],
                    )
                )
        return PipelinePlan(changes=changes)

    def apply(self) -> PipelinePlan:
        """Apply the plan: new versions of changed pipelines; the scheduler starts watching.

        Raises:
            InvalidInput: as :meth:`plan`; nothing is applied then.
        """
        declared = {d.spec.name: d for d in self.declared()}
        plan = self.plan()
        now = utc_now()
        with self.store.locked():
            applied = self.store.applied()
            for change in plan.changes:
                if change.action == "unchanged":
                    continue
                if change.action == "remove":
                    applied.pipelines[change.name].removed = True
                    continue
                item = declared[change.name]
                version = AppliedVersion(
                    version=change.version or 1,
                    spec=item.spec,
                    source=item.source,
                    applied=now,
                    fingerprint=fingerprint(item.spec),
                )
                current = applied.pipelines.get(change.name)
                if current is None:
                    applied.pipelines[change.name] = AppliedPipeline(versions=[version])
                else:
                    current.versions.append(version)
                    current.removed = False
            self.store.save_applied(applied)
            # The triggers' first look, now: what happened before the apply starts nothing, and
            # what happens from now on does, however soon the scheduler gets to it.
            cursors = self.store.cursors()
            for name, item in declared.items():
                state = cursors.pipelines.setdefault(name, {})
                for trigger in item.spec.triggers:
                    key = trigger_key(trigger)
                    if key not in state:
                        with contextlib.suppress(MlopsError):
                            state[key] = self.watcher.read(trigger, {}, now)[1]
            self.store.save_cursors(cursors)
        plan.applied = True
        if self._watching(applied):
            self.scheduler.ensure()
        return plan

    # -- reading ----------------------------------------------------------------------------------

    def _applied(self, name: str) -> tuple[Applied, AppliedPipeline]:
        applied = self.store.applied()
        current = applied.pipelines.get(name)
        if current is None or current.removed:
            names = [n for n, p in applied.pipelines.items() if not p.removed]
            raise NotFound(
                f"There is no pipeline {name!r}",
                hint=did_you_mean(name, names, listing="Pipelines")
                or "Declare one in mlops.toml or pipelines/*.py, then `jupyter mlops pipelines "
                "apply`.",
                field="pipeline",
            )
        return applied, current

    def _info(self, name: str, current: AppliedPipeline, now: datetime) -> PipelineInfo:
        latest = current.latest
        triggers = [
            TriggerInfo(
                kind=t.kind,
                text=describe(t),
                next_fire=next_fire(t, now)
                if isinstance(t, ScheduleTrigger) and current.enabled
                else None,
            )
            for t in latest.spec.triggers
        ]
        runs = self.store.runs(name)
        active = next((r.id for r in runs if r.state not in FINAL_RUN_STATES), None)
        return PipelineInfo(
            name=name,
            version=latest.version,
            enabled=current.enabled,
            source=latest.source,
            applied=latest.applied,
            spec=latest.spec,
            triggers=triggers,
            last_run=runs[0] if runs else None,
            active_run=active,
            runs=len(runs),
        )

    def list(self) -> PipelineList:
        """Applied pipelines with their triggers and last run, and the scheduler's state."""
        applied = self.store.applied()
        now = utc_now()
        return PipelineList(
            pipelines=[
                self._info(name, p, now)
                for name, p in sorted(applied.pipelines.items())
                if not p.removed
            ],
            scheduler=self.scheduler.state(),
        )

    def get(self, name: str) -> PipelineInfo:
        """One applied pipeline.

        Raises:
            NotFound: no such pipeline (close names are suggested).
        """
        _, current = self._applied(name)
        return self._info(name, current, utc_now())

    def runs(self, name: str | None = None, limit: int = 50) -> PipelineRunList:
        """Runs, newest first, of one pipeline or all."""
        if name is not None:
            self._applied(name)
        return PipelineRunList(runs=self.store.runs(name)[:limit])

    def get_run(self, run_id: str) -> PipelineRun:
        """One run, by its id or a unique prefix of it.

        Raises:
            NotFound, Conflict: no run, or several, match.
        """
        run_id = run_id.strip()
        ids = self.store.run_ids()
        # Ids are time-ordered: runs close in time share a prefix, so a suffix names one too.
        found = [i for i in ids if i.startswith(run_id) or i.endswith(run_id)] if run_id else []
        if len(found) > 1:
            raise Conflict(
                f"{run_id!r} names {len(found)} pipeline runs",
                hint="Give more characters of the id.",
                field="run",
            )
        run = self.store.run(found[0]) if found else None
        if run is None:
            raise NotFound(
                f"There is no pipeline run {run_id!r}",
                hint="List runs with `jupyter mlops pipelines runs`.",
                field="run",
            )
        return run

    def events(self, name: str | None = None, limit: int = 200) -> TriggerEventList:
        """Trigger events, newest first, with what came of each."""
        if name is not None:
            self._applied(name)
        events = [e for e in self.store.events() if name is None or e.pipeline == name]
        return TriggerEventList(events=events[::-1][:limit])

    def run_for_version(self, model: str, version: int) -> PipelineRun | None:
        """The pipeline run that registered a model version (None: not made by a pipeline)."""
        tags = self.registry.version_tags(model).get(version, {})
        run_id = tags.get(PIPELINE_RUN_TAG)
        return self.store.run(run_id) if run_id else None

    def lineage(self, ref: str) -> LineageChain:
        """A version's lineage as a chain: the deployments and A/B tests that serve it, the
        version, the pipeline run and the event that started it, then the job, run, gates,
        executed notebook, feature versions and commit.

        Raises:
            NotFound: no such model, alias or version.
        """
        detail = self.registry.get_version(ref)
        name, number = detail.name, detail.version
        tags = detail.tags
        links: builtins.list[ChainLink] = []
        for deployment in self.deployments.list():
            served = [s for s in deployment.serving if s.name == name and s.version == number]
            if not served or deployment.state in ("stopped", "failed"):
                continue
            total = sum(s.weight for s in deployment.serving) or 1.0
            share = served[0].weight / total
            links.append(
                ChainLink(
                    kind="deployment",
                    title=f"served by deployment {deployment.name} ({share:.0%} of requests)",
                    detail=f"{deployment.state} at {deployment.url}",
                    refs={"deployment": deployment.name},
                )
            )
        for exp in self.abtests.list().experiments:
            if exp.model != name or number not in (exp.champion, exp.challenger):
                continue
            role = "challenger" if exp.challenger == number else "champion"
            decided = exp.decision
            links.append(
                ChainLink(
                    kind="abtest",
                    title=f"A/B test {exp.id} on {exp.deployment}, as the {role}",
                    detail=(
                        f"decided by {decided.decided_by}: {decided.winner} won"
                        if decided
                        else f"running, split {'/'.join(f'{w:g}' for w in exp.split)}"
                    ),
                    time=decided.decided_at if decided else exp.started,
                    refs={"abtest": exp.id, "deployment": exp.deployment},
                )
            )
        aliases = ", ".join(f"@{a}" for a in detail.aliases)
        links.append(
            ChainLink(
                kind="version",
                title=f"{name}:{number}" + (f" ({aliases})" if aliases else ""),
                detail=detail.description,
                time=from_epoch_millis(detail.created),
                refs={"model": name, "version": str(number)},
            )
        )
        run = self.run_for_version(name, number)
        if run is not None:
            links.append(
                ChainLink(
                    kind="pipeline_run",
                    title=f"pipeline {run.pipeline} (v{run.pipeline_version}), run {run.id}",
                    detail=f"{run.state}: "
                    + ", ".join(f"{s.name} {s.state}" for s in run.steps if s.state != "pending"),
                    time=run.created,
                    refs={"pipeline": run.pipeline, "pipeline_run": run.id},
                )
            )
            evidence = run.trigger.evidence
            links.append(
                ChainLink(
                    kind="trigger",
                    title=f"started by {run.trigger.kind}: {run.trigger.summary}",
                    detail=", ".join(
                        f"{k}={v}"
                        for k, v in evidence.items()
                        if v not in (None, "") and k != "message"
                    ),
                    time=run.trigger.time,
                    refs={
                        k: str(evidence[k])
                        for k in ("alert_id", "report_id", "deployment", "view", "batch")
                        if evidence.get(k)
                    },
                )
            )
        job_id = tags.get(JOB_TAG) or (run.job_id if run else None)
        output: str | None = None
        if job_id:
            try:
                job = self.jobs.get(job_id)
                output = job.output
                links.append(
                    ChainLink(
                        kind="job",
                        title=f"job {job.id}: {job.notebook}",
                        detail=f"{job.state}"
                        + (f" in {job.duration_seconds:.1f} s" if job.duration_seconds else "")
                        + (f", parameters {json.dumps(job.parameters)}" if job.parameters else ""),
                        time=job.started or job.created,
                        refs={"job": job.id},
                    )
                )
            except MlopsError:
                links.append(ChainLink(kind="job", title=f"job {job_id}", detail="no longer kept"))
        lineage = detail.lineage
        if lineage is not None:
            metrics = ", ".join(f"{k}={v:.4g}" for k, v in sorted(lineage.metrics.items())[:8])
            links.append(
                ChainLink(
                    kind="run",
                    title=f"run {lineage.run_name or lineage.run_id} in "
                    f"{lineage.experiment_name or lineage.experiment_id}",
                    detail=metrics,
                    refs={"run": lineage.run_id},
                )
            )
        if run is not None and run.step("gates").state in ("succeeded", "failed"):
            checks = run.step("gates").data.get("checks", [])
            links.append(
                ChainLink(
                    kind="gates",
                    title=f"gates {run.step('gates').state}",
                    detail="; ".join(
                        f"{c.get('name')}: {'passed' if c.get('passed') else 'failed'}"
                        for c in checks
                    ),
                    refs={"pipeline_run": run.id},
                )
            )
        if lineage is not None:
            notebook = output or lineage.notebook_snapshot
            links.append(
                ChainLink(
                    kind="notebook",
                    title=f"executed notebook {notebook}"
                    if notebook
                    else "no executed notebook was stored",
                    detail=f"from {lineage.notebook}" if lineage.notebook else "",
                    # A workspace file (the job's executed copy) or an artifact of the run.
                    refs={"notebook": output}
                    if output
                    else ({"artifact": notebook, "run": lineage.run_id} if notebook else {}),
                )
            )
            links.append(
                ChainLink(
                    kind="features",
                    title=f"{len(lineage.features)} feature(s) from "
                    f"{', '.join(sorted(lineage.feature_views)) or 'no feature view'}",
                    detail=", ".join(lineage.features),
                    refs={"views": ",".join(sorted(lineage.feature_views))},
                )
            )
            links.append(
                ChainLink(
                    kind="commit",
                    title=f"commit {lineage.git_commit[:12]}"
                    if lineage.git_commit
                    else "no git commit recorded",
                    detail=lineage.git_standing
                    + (f" on {lineage.git_branch}" if lineage.git_branch else ""),
                    refs={"commit": lineage.git_commit} if lineage.git_commit else {},
                )
            )
        return LineageChain(
            model=name, version=number, aliases=detail.aliases, links=links, pipeline_run=run
        )

    # -- changing ---------------------------------------------------------------------------------

    def set_enabled(self, name: str, request: EnableRequest | bool) -> PipelineInfo:
        """Enable or disable a pipeline: a disabled one records its events as ``disabled``."""
        enabled = request.enabled if isinstance(request, EnableRequest) else bool(request)
        with self.store.locked():
            applied, current = self._applied(name)
            current.enabled = enabled
            self.store.save_applied(applied)
        if enabled:
            self.scheduler.ensure()
        return self.get(name)

    def run_now(self, name: str, reason: str = "", user: str | None = None) -> RunNowResult:
        """Start a pipeline by hand; while a run is going, the request joins it (absorbed).

        Raises:
            NotFound: no such pipeline.
            Conflict: the pipeline is disabled.
        """
        now = utc_now()
        who = user or _user()
        with self.store.locked():
            _, current = self._applied(name)
            if not current.enabled:
                raise Conflict(
                    f"Pipeline {name} is disabled",
                    hint=f"Enable it first: `jupyter mlops pipelines enable {name}`.",
                    field="pipeline",
                )
            happened = Happened(
                id=f"manual:{now.isoformat()}",
                kind="manual",
                time=now,
                summary=f"run by hand by {who}" + (f": {reason}" if reason else ""),
                evidence={"user": who, "reason": reason},
            )
            event, run = self._take(name, current, happened, now, manual=True)
        self.scheduler.ensure()
        return RunNowResult(event=event, run=run)

    def cancel_run(self, run_id: str) -> PipelineRun:
        """Stop a run: its job is cancelled; steps not done are skipped.

        Raises:
            Conflict: the run has ended.
        """
        with self.store.locked():
            run = self.get_run(run_id)
            if run.state in FINAL_RUN_STATES:
                raise Conflict(f"Pipeline run {run.id} has ended ({run.state})", field="run")
            if run.job_id:
                with contextlib.suppress(MlopsError):
                    self.jobs.cancel(run.job_id, wait=0)
            self._end(run, "cancelled", f"cancelled by {_user()}")
        return run

    # -- events -----------------------------------------------------------------------------------

    def _take(
        self,
        name: str,
        current: AppliedPipeline,
        happened: Happened,
        now: datetime,
        *,
        manual: bool = False,
    ) -> tuple[TriggerEvent, PipelineRun | None]:
        """Decide what an event does (the caller holds the lock): start a run, or join one."""
        event = TriggerEvent(
            id=happened.id,
            pipeline=name,
            kind=happened.kind,
            time=happened.time,
            received=now,
            summary=happened.summary,
            evidence=happened.evidence,
            outcome="started",
        )
        if happened.missed:
            event.outcome = "missed"
            self.store.add_events([event])
            return event, None
        if not current.enabled:
            event.outcome = "disabled"
            self.store.add_events([event])
            return event, None
        runs = self.store.runs(name)
        active = next((r for r in runs if r.state not in FINAL_RUN_STATES), None)
        debounce = current.latest.spec.debounce_seconds
        recent = next(
            (r for r in runs if not manual and (now - r.created).total_seconds() < debounce),
            None,
        )
        joined = active or recent
        if joined is not None:
            event.outcome = "absorbed"
            event.run_id = joined.id
            event.note = (
                f"run {joined.id} is going"
                if joined is active
                else f"within {debounce:g} s of run {joined.id}"
            )
            joined.absorbed += 1
            self.store.save_run(joined)
            self.store.add_events([event])
            return event, joined
        run = self._start(name, current.latest, event, now)
        event.run_id = run.id
        self.store.add_events([event])
        self._submit(run, current.latest.spec)
        return event, run

    def _start(
        self, name: str, version: AppliedVersion, event: TriggerEvent, now: datetime
    ) -> PipelineRun:
        spec = version.spec
        steps = [RunStep(name=s) for s in STEPS]
        if not spec.gates:
            _skip(steps, "gates", "the pipeline declares no gate")
        if spec.abtest is None:
            _skip(steps, "abtest", "the pipeline starts no A/B test")
        if spec.abtest is None or not spec.abtest.promote:
            _skip(steps, "promote", "the pipeline does not promote on its own")
        run = PipelineRun(
            id=new_run_id(),
            pipeline=name,
            pipeline_version=version.version,
            created=now,
            trigger=event,
            steps=steps,
            model=spec.model,
        )
        self.store.save_run(run)
        return run

    def _submit(self, run: PipelineRun, spec: PipelineSpec) -> None:
        step = run.step("job")
        step.state, step.started = "running", utc_now()
        trigger = {
            "kind": run.trigger.kind,
            "id": run.trigger.id,
            "time": run.trigger.time.isoformat(),
            "summary": run.trigger.summary[:300],
        }
        try:
            job = self.jobs.submit(
                spec.notebook,
                spec.parameters,
                experiment=spec.experiment,
                run_name=f"{run.pipeline} {run.id[-6:]}",
                tags={
                    PIPELINE_TAG: run.pipeline,
                    PIPELINE_RUN_TAG: run.id,
                    TRIGGER_TAG: json.dumps(trigger),
                },
            )
        except MlopsError as exc:
            self._fail(run, "job", f"the job could not be queued: {exc.message}")
            return
        run.job_id = job.id
        step.data = {"job": job.id}
        step.detail = f"job {job.id} queued"
        self.store.save_run(run)
        if spec.abtest is not None:
            # While the notebook trains, the deployment readies a replica for the A/B test.
            with contextlib.suppress(MlopsError, OSError):
                self.deployments.prewarm(spec.abtest.deployment)

    # -- the scheduler's tick ---------------------------------------------------------------------

    def watching(self) -> bool:
        """Whether the scheduler has anything to do for pipelines (an enabled pipeline, a run)."""
        try:
            return self._watching(self.store.applied())
        except MlopsError:
            return False

    def _watching(self, applied: Applied) -> bool:
        if any(p.enabled and not p.removed for p in applied.pipelines.values()):
            return True
        return bool(self.store.active_runs())

    def tick(self, now: datetime | None = None) -> float:
        """Read every enabled pipeline's triggers, take the events, move the runs along.

        Returns how soon (seconds) it wants to be called again.
        """
        now = now or utc_now()
        if not self.store.folder.is_dir():
            return self.config.poll_seconds  # no pipeline was ever applied here
        with self.store.locked():
            applied = self.store.applied()
            cursors = self.store.cursors()
            before = cursors.model_dump_json()
            for name, current in sorted(applied.pipelines.items()):
                if current.removed:
                    continue
                state = cursors.pipelines.setdefault(name, {})
                for trigger in current.latest.spec.triggers:
                    key = trigger_key(trigger)
                    try:
                        happened, state[key] = self.watcher.read(trigger, state.get(key, {}), now)
                    except MlopsError:
                        continue
                    for item in happened:
                        self._take(name, current, item, now)
            if cursors.model_dump_json() != before:
                self.store.save_cursors(cursors)
            busy = False
            for run in self.store.active_runs():
                busy = self._advance(run, applied) or busy
        return BUSY_TICK if busy else self.config.poll_seconds

    # -- moving a run along -----------------------------------------------------------------------

    def _advance(self, run: PipelineRun, applied: Applied) -> bool:
        """Do the run's next steps that can be done now; True while it waits on a job."""
        pipeline = applied.pipelines.get(run.pipeline)
        if pipeline is None:
            self._end(run, "failed", "the pipeline is no longer applied")
            return False
        spec = next(
            (v.spec for v in pipeline.versions if v.version == run.pipeline_version),
            pipeline.latest.spec,
        )
        try:
            if run.step("job").state == "running":
                if run.job_id is None:
                    self._submit(run, spec)
                    return True
                if not self._job_done(run, spec):
                    return True
            if run.state in FINAL_RUN_STATES:
                return False
            for name in ("gates", "register", "alias", "abtest"):
                step = run.step(name)
                if step.state == "pending":
                    getattr(self, f"_{name}")(run, spec, step)
                    if run.state in FINAL_RUN_STATES:
                        return False
            promote = run.step("promote")
            if promote.state in ("pending", "waiting"):
                self._promote(run, spec, promote)
            elif run.state not in FINAL_RUN_STATES:
                self._end(run, "succeeded", _done_message(run))
        except MlopsError as exc:
            current = next((s for s in run.steps if s.state in ("running", "pending")), None)
            self._fail(run, current.name if current else "job", exc.message)
        return False

    def _ab_status(self, run: PipelineRun, step: RunStep, deployment: str) -> AbStatus | None:
        """The A/B test's figures; a failure to read them is noted on the step, which keeps
        waiting (outcomes may be fixed, the test stopped by hand)."""
        try:
            return self.abtests.status(deployment)
        except MlopsError as exc:
            detail = f"cannot read the A/B test yet: {exc.message}"
            if detail != step.detail:
                step.detail = detail
                self.store.save_run(run)
            return None

    def _job_done(self, run: PipelineRun, spec: PipelineSpec) -> bool:
        step = run.step("job")
        assert run.job_id is not None
        job = self.jobs.get(run.job_id)
        if job.state in ("queued", "running"):
            started = step.started or run.created
            if (utc_now() - started).total_seconds() > spec.timeout_seconds:
                with contextlib.suppress(MlopsError):
                    self.jobs.cancel(job.id, wait=0)
                self._fail(run, "job", f"the job ran past {spec.timeout_seconds:g} s")
                return True
            detail = f"job {job.id} {job.state}" + (
                f", cell {job.cells_done}/{job.cells_total}" if job.cells_total else ""
            )
            if detail != step.detail:
                step.detail = detail
                self.store.save_run(run)
            return False
        run.run_id = job.run_id
        step.data.update({"job": job.id, "run": job.run_id, "state": job.state})
        if job.started and job.finished:
            step.data["executed_seconds"] = (job.finished - job.started).total_seconds()
        if job.output:
            step.data["output"] = job.output
        if job.state != "succeeded":
            cause = job.message or job.state
            if job.error is not None:
                cause = f"cell {job.error.index + 1}: {job.error.ename}: {job.error.evalue}"
            self._fail(run, "job", f"the job {job.state}: {cause}")
            return True
        self._succeed(run, step, f"job {job.id} succeeded, run {job.run_id}")
        return True

    def _gates(self, run: PipelineRun, spec: PipelineSpec, step: RunStep) -> None:
        assert run.run_id is not None
        self._begin(run, step)
        outcome = self.gates.check(run.run_id, spec.gates, model=spec.model)
        self.gates.record(outcome)
        step.data = {"checks": [c.model_dump(mode="json") for c in outcome.checks]}
        if not outcome.passed:
            failed = [c for c in outcome.checks if not c.passed]
            reasons = "; ".join(f"{c.name}: {c.message}" for c in failed)
            self._fail(run, "gates", f"gate failed, nothing registered ({reasons})")
            return
        self._succeed(run, step, f"{len(outcome.checks)} check(s) passed")

    def _register(self, run: PipelineRun, spec: PipelineSpec, step: RunStep) -> None:
        assert run.run_id is not None
        self._begin(run, step)
        # Registered already (the scheduler died after registering, before saving): reuse it.
        existing = [
            v
            for v, tags in self.registry.version_tags(spec.model).items()
            if tags.get(PIPELINE_RUN_TAG) == run.id
        ]
        if existing:
            version = existing[0]
        else:
            version = self.registry.register(
                run.run_id,
                spec.model,
                description=f"trained by pipeline {run.pipeline} (run {run.id}): "
                f"{run.trigger.summary}"[:500],
            ).version
        run.model_version = version
        step.data = {"version": version}
        self._succeed(run, step, f"registered as {spec.model}:{version}")

    def _alias(self, run: PipelineRun, spec: PipelineSpec, step: RunStep) -> None:
        assert run.model_version is not None
        self._begin(run, step)
        self.registry.set_alias(spec.model, spec.alias, run.model_version)
        step.data = {"alias": spec.alias}
        self._succeed(run, step, f"{spec.model}@{spec.alias} is version {run.model_version}")

    def _abtest(self, run: PipelineRun, spec: PipelineSpec, step: RunStep) -> None:
        from jupyter_mlops.abtest.schemas import AbStartRequest

        ab = spec.abtest
        assert ab is not None and run.model_version is not None
        self._begin(run, step)
        exp = self.abtests.start(
            ab.deployment,
            AbStartRequest(
                challenger=run.model_version,
                split=ab.split,
                sticky_key=ab.sticky_key,
                metric=ab.metric,
                kind=ab.kind,
            ),
        )
        run.abtest_id = exp.id
        step.data = {"abtest": exp.id, "deployment": ab.deployment, "champion": exp.champion}
        self._succeed(
            run,
            step,
            f"A/B test {exp.id} on {ab.deployment}: version {exp.champion} (champion) "
            f"{ab.split[0]:g}% / version {run.model_version} (challenger) {ab.split[1]:g}%",
        )

    def _promote(self, run: PipelineRun, spec: PipelineSpec, step: RunStep) -> None:
        ab = spec.abtest
        assert ab is not None
        if step.state == "pending":
            self._begin(run, step)
            step.state = "waiting"
            step.detail = "waiting for the A/B test's verdict"
            run.state = "waiting"
            self.store.save_run(run)
            return
        last = self._last_ab_check.get(run.id, 0.0)
        if time.monotonic() - last < self.config.ab_check_seconds:
            return
        self._last_ab_check[run.id] = time.monotonic()
        exp = self.abtests.current(ab.deployment)
        if exp.id != run.abtest_id or exp.decision is not None:
            ended = next(
                (e for e in self.abtests.list(ab.deployment).experiments if e.id == run.abtest_id),
                None,
            )
            decision = ended.decision if ended else None
            text = (
                f"decided by {decision.decided_by}: {decision.winner} wins"
                if decision
                else "the A/B test ended without a decision"
            )
            step.data = {"winner": decision.winner if decision else None}
            self._succeed(run, step, text)
            self._end(run, "succeeded", _done_message(run))
            return
        status = self._ab_status(run, step, ab.deployment)
        if status is None:
            return
        analysis = status.analysis
        if analysis is None or not analysis.comparisons:
            step.detail = "waiting for outcomes"
            self.store.save_run(run)
            return
        verdict = analysis.comparisons[0].verdict
        problems = _guardrail_problems(status, ab.max_error_rate_increase, ab.max_latency_ratio)
        if analysis.srm.mismatch:
            problems.append("sample-ratio mismatch: the split is broken")
        if verdict == "no_difference_yet":
            step.detail = "no verdict yet: " + analysis.comparisons[0].verdict_text
            self.store.save_run(run)
            return
        if verdict == "challenger_better" and problems:
            step.detail = "the challenger is better, but guardrails fail: " + "; ".join(problems)
            self.store.save_run(run)
            return
        winner: Winner = "challenger" if verdict == "challenger_better" else "champion"
        decided = self.abtests.stop(ab.deployment, winner)
        step.data = {"winner": winner, "verdict": verdict}
        moved = decided.decision.alias_moved if decided.decision else False
        self._succeed(
            run,
            step,
            f"{winner} wins ({analysis.comparisons[0].verdict_text})"
            + (f"; @champion is now version {run.model_version}" if moved else ""),
        )
        self._end(run, "succeeded", _done_message(run))

    # -- step bookkeeping -------------------------------------------------------------------------

    def _begin(self, run: PipelineRun, step: RunStep) -> None:
        step.state, step.started = "running", utc_now()

    def _succeed(self, run: PipelineRun, step: RunStep, detail: str) -> None:
        step.state, step.ended, step.detail = "succeeded", utc_now(), detail
        self.store.save_run(run)

    def _fail(self, run: PipelineRun, name: StepName, detail: str) -> None:
        step = run.step(name)
        step.state, step.ended, step.detail = "failed", utc_now(), detail
        step.started = step.started or step.ended
        for later in run.steps[run.steps.index(step) + 1 :]:
            if later.state == "pending":
                later.state, later.detail = "skipped", f"{name} failed"
        self._end(run, "failed", f"{name}: {detail}")

    def _end(self, run: PipelineRun, state: str, message: str) -> None:
        for step in run.steps:
            if step.state in ("pending", "running", "waiting"):
                step.state = "skipped"
        run.state = state  # type: ignore[assignment]
        run.ended = utc_now()
        run.message = message
        self.store.save_run(run)
        self._last_ab_check.pop(run.id, None)


def _skip(steps: builtins.list[RunStep], name: StepName, why: str) -> None:
    step = next(s for s in steps if s.name == name)
    step.state, step.detail = "skipped", why


def _done_message(run: PipelineRun) -> str:
    parts = [f"{run.model}:{run.model_version}" if run.model_version else "no version"]
    if run.abtest_id:
        parts.append(f"A/B test {run.abtest_id}")
    promote = run.step("promote")
    if promote.state == "succeeded":
        parts.append(promote.detail)
    return "; ".join(parts)


def _guardrail_problems(
    status: AbStatus, max_error_increase: float, max_latency_ratio: float
) -> builtins.list[str]:
    by_variant = {g.variant: g for g in status.guardrails}
    champion, challenger = by_variant.get("champion"), by_variant.get("challenger")
    if champion is None or challenger is None:
        return []
    problems: builtins.list[str] = []
    if (
        champion.error_rate is not None
        and challenger.error_rate is not None
        and challenger.error_rate - champion.error_rate > max_error_increase
    ):
        problems.append(
            f"error rate {challenger.error_rate:.2%} against the champion's "
            f"{champion.error_rate:.2%}"
        )
    if (
        champion.latency_p95_ms
        and challenger.latency_p95_ms is not None
        and challenger.latency_p95_ms / champion.latency_p95_ms > max_latency_ratio
    ):
        problems.append(
            f"p95 latency {challenger.latency_p95_ms:.1f} ms against the champion's "
            f"{champion.latency_p95_ms:.1f} ms"
        )
    return problems


def _diff(old: PipelineSpec, new: PipelineSpec) -> builtins.list[str]:
    a, b = old.model_dump(mode="json"), new.model_dump(mode="json")
    return [f"{k}: {a.get(k)!r} -> {b.get(k)!r}" for k in b if a.get(k) != b.get(k)]


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
