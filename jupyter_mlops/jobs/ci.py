"""CI gates: run a training notebook as a job, check the run, report as JUnit XML and markdown.

:class:`Gates` checks one run (convergence of a metric's history, gates against numbers or an
alias of a registered model) and records the outcome on it; it is what both ``jupyter mlops ci``
and the ``%%mlops gate`` cell use. :func:`run_ci` runs the notebook through the jobs service (so
the run is tracked like any job's), then checks it. :func:`write_workflow` writes a GitHub
Actions workflow that does all this on every push.

Example:
    >>> gates = Gates(ws.tracking, ws.registry)                          # doctest: +SKIP
    >>> request = CiRequest(notebook="notebooks/train.ipynb", gates=["val_auc>=0.85"],
    ...                     converged=["loss"])                          # doctest: +SKIP
    >>> result = run_ci(ws.jobs, gates, request)                         # doctest: +SKIP
    >>> result.passed                                                    # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from jupyter_mlops.errors import Conflict, InvalidInput, MlopsError, close_names, did_you_mean
from jupyter_mlops.jobs.ci_schemas import (
    CheckResult,
    CiRequest,
    CiResult,
    CiWorkflow,
    GateModel,
    RunChecks,
)
from jupyter_mlops.jobs.gates import Check, ConvergenceCheck, evaluate_checks, parse_check
from jupyter_mlops.jobs.schemas import FINAL_STATES, Job
from jupyter_mlops.lineage.tags import (
    CI_ARTIFACT,
    CI_PASSED_TAG,
    GATES_ARTIFACT,
    GATES_PASSED_TAG,
    RUN_TAG,
)
from jupyter_mlops.registry.gates import Gate

if TYPE_CHECKING:
    from jupyter_mlops.jobs.service import Jobs
    from jupyter_mlops.registry.service import ModelRegistry
    from jupyter_mlops.tracking.service import TrackingService


WORKFLOW_PATH = ".github/workflows/mlops-ci.yml"


def _fail_alias_typo(result: CheckResult, check: Check, model: GateModel) -> CheckResult:
    """A gate against an alias nobody holds passes (nothing to beat yet); against a typo of a
    held alias (``>=champoin``) it would pass unseen, so it fails naming the alias meant."""
    if not isinstance(check, Gate) or check.alias is None or check.alias in model.aliases:
        return result
    close = close_names(check.alias, model.aliases, n=1, cutoff=0.8)
    if not close or result.gate is None:
        return result
    message = f"no version of {model.name} holds @{check.alias}: did you mean @{close[0]}?"
    gate = result.gate.model_copy(update={"passed": False, "message": message})
    return result.model_copy(update={"passed": False, "message": message, "gate": gate})


class Gates:
    """Checks runs against gates: convergence, metric thresholds, a model's alias holders."""

    def __init__(self, tracking: TrackingService, registry: ModelRegistry) -> None:
        self.tracking = tracking
        self.registry = registry

    # -- which model ------------------------------------------------------------------------------

    def model_for(self, run_id: str, given: str | None = None) -> GateModel:
        """The model whose aliases gates compare with: ``given``, else the model the run
        registered (or logged under a registered model's name), else the only registered model.

        Never raises for a missing model: the returned ``problem`` says why there is none, and
        each gate that names an alias fails with it.
        """
        models = {m.name: m for m in self.registry.list_models()}
        if given:
            if given not in models:
                hint = did_you_mean(given, models, listing="Registered models", empty="")
                return GateModel(
                    problem=f"there is no registered model {given!r}"
                    + (f" ({hint.rstrip('.')})" if hint else " (the registry is empty)")
                )
            return GateModel(name=given, source="given", aliases=models[given].aliases)
        registered = [
            name
            for name in models
            if any(t.get(RUN_TAG) == run_id for t in self.registry.version_tags(name).values())
        ]
        if len(registered) == 1:
            name = registered[0]
            return GateModel(name=name, source="registered-from-run", aliases=models[name].aliases)
        if len(registered) > 1:
            return GateModel(
                problem=f"the run registered versions of {len(registered)} models "
                f"({', '.join(registered)}): name one with --model"
            )
        logged = [n for n in self._logged_model_names(run_id) if n in models]
        if len(logged) == 1:
            name = logged[0]
            return GateModel(name=name, source="logged-by-run", aliases=models[name].aliases)
        if len(models) == 1:
            [(name, info)] = models.items()
            return GateModel(name=name, source="only-model", aliases=info.aliases)
        if not models:
            return GateModel(problem="no model is registered in this workspace")
        return GateModel(
            problem=f"no model was named (--model), the run registered none, and the workspace "
            f"has {len(models)} ({', '.join(sorted(models))})"
        )

    def _logged_model_names(self, run_id: str) -> list[str]:
        """Names of the models the run logged (MLflow 3 logged models), best effort."""
        try:
            run = self.tracking.client.get_run(run_id)
            found = self.tracking.client.search_logged_models(
                experiment_ids=[run.info.experiment_id],
                filter_string=f"source_run_id = '{run_id}'",
            )
        except Exception:  # an older MLflow or a store without logged models: no guess
            return []
        return sorted({str(m.name) for m in found if getattr(m, "name", None)})

    def _holders(
        self, model: GateModel, checks: Sequence[Check]
    ) -> dict[str, tuple[int, dict[str, float]] | None]:
        holders: dict[str, tuple[int, dict[str, float]] | None] = {}
        if model.name is None:
            return holders
        for check in checks:
            if isinstance(check, Gate) and check.alias is not None and check.alias not in holders:
                version = model.aliases.get(check.alias)
                if version is None:
                    holders[check.alias] = None
                else:
                    metrics = self.registry.compare(model.name, [version])[version]
                    holders[check.alias] = (version, metrics)
        return holders

    # -- checking ---------------------------------------------------------------------------------

    def check(
        self, run_id: str, checks: Sequence[Check | str], *, model: str | None = None
    ) -> RunChecks:
        """Evaluate every check against the run ``run_id``.

        Raises:
            InvalidInput: a check that does not parse (all are parsed before anything is read).
            NotFound: no such run.
        """
        parsed = [parse_check(c) if isinstance(c, str) else c for c in checks]
        run = self.tracking.get_run(run_id, with_history=False)
        run_id = run.run_id  # the run's id when it was named by a prefix or its name
        wanted = [
            c.metric for c in parsed if isinstance(c, ConvergenceCheck) and c.metric in run.metrics
        ]
        points = self.tracking.metric_histories(run_id, list(dict.fromkeys(wanted)))
        histories = {k: [p.value for p in v] for k, v in points.items()}
        steps = {k: [p.step for p in v] for k, v in points.items()}
        gate_model = GateModel()
        if any(isinstance(c, Gate) and c.alias is not None for c in parsed):
            gate_model = self.model_for(run_id, model)
        results = evaluate_checks(
            parsed,
            run.metrics,
            histories,
            self._holders(gate_model, parsed),
            model=gate_model.name,
            model_problem=gate_model.problem,
            steps=steps,
        )
        results = [_fail_alias_typo(r, c, gate_model) for r, c in zip(results, parsed, strict=True)]
        return RunChecks(
            run_id=run_id,
            model=gate_model,
            checks=results,
            passed=all(r.passed for r in results),
        )

    def record(
        self, outcome: RunChecks, *, tag: str = GATES_PASSED_TAG, artifact: str = GATES_ARTIFACT
    ) -> None:
        """Leave the outcome on its run: ``tag`` true/false and the checks as a JSON artifact.

        Raises:
            MlopsError: the tracking store refused (through ``mlflow_errors``).
        """
        from jupyter_mlops.tracking.backend import mlflow_errors

        client = self.tracking.client
        with mlflow_errors(f"Recording the gates on run {outcome.run_id} failed"):
            client.set_tag(outcome.run_id, tag, "true" if outcome.passed else "false")
            client.log_text(outcome.run_id, outcome.model_dump_json(indent=2), artifact)


# -- the CI run ------------------------------------------------------------------------------------


def _job_check(job: Job, timed_out: float | None) -> CheckResult:
    """``job succeeded``; ``timed_out`` is the timeout the job ran past (it was cancelled)."""
    if timed_out is not None:
        return CheckResult(
            name="job succeeded",
            kind="job",
            passed=False,
            message=f"job {job.id} did not finish within {timed_out:g} s "
            f"(at cell {job.cells_done}/{job.cells_total}); it was cancelled",
        )
    if job.state == "succeeded":
        took = f" in {job.duration_seconds:.1f} s" if job.duration_seconds is not None else ""
        return CheckResult(
            name="job succeeded",
            kind="job",
            passed=True,
            message=f"job {job.id} ran {job.cells_total} cell(s){took}",
        )
    if job.error is not None:
        err = job.error
        source = err.source.strip()
        message = f"cell {err.index + 1} raised {err.ename}: {err.evalue}"
        if source:
            message += "\n\n" + source
    else:
        message = job.message or f"the job ended {job.state}"
    return CheckResult(
        name="job succeeded",
        kind="job",
        passed=False,
        message=f"job {job.id} {job.state}: {message}",
    )


def run_ci(
    jobs: Jobs,
    gates: Gates,
    request: CiRequest,
    *,
    on_progress: Callable[[Job], None] | None = None,
) -> CiResult:
    """Run ``request.notebook`` as a job and check its run.

    Every check is a :class:`CheckResult`: the job succeeded, each ``converged`` metric, each
    gate. When the job fails, the checks are still evaluated on what its run logged.

    Raises:
        InvalidInput: a gate or check that does not parse, a notebook or parameter the jobs
            service refuses (nothing is queued then).
    """
    checks: list[Check] = [parse_check(g) for g in request.gates]
    checks += [ConvergenceCheck(m) for m in request.converged]
    started = time.monotonic()
    job = jobs.submit(
        request.notebook, dict(request.parameters), experiment=request.experiment, from_text=True
    )
    job = jobs.wait(job.id, timeout=request.timeout, on_progress=on_progress)
    timed_out = None
    if job.state not in FINAL_STATES:
        timed_out = request.timeout
        try:
            job = jobs.cancel(job.id)
        except Conflict:  # it finished meanwhile
            job, timed_out = jobs.get(job.id), None
    results = [_job_check(job, timed_out)]
    model = GateModel()
    if job.run_id is not None:
        outcome = gates.check(job.run_id, checks, model=request.model)
        results += outcome.checks
        model = outcome.model
    else:
        results += [
            CheckResult(
                name=c.text,
                kind="convergence" if isinstance(c, ConvergenceCheck) else "gate",
                passed=False,
                message="not checked: the job has no run",
            )
            for c in checks
        ]
    result = CiResult(
        notebook=job.notebook,
        parameters=dict(request.parameters),
        job=job,
        run_id=job.run_id,
        model=model,
        checks=results,
        passed=all(r.passed for r in results),
        duration_seconds=time.monotonic() - started,
    )
    if job.run_id is not None:
        try:
            outcome = RunChecks(
                run_id=job.run_id, model=model, checks=results, passed=result.passed
            )
            gates.record(outcome, tag=CI_PASSED_TAG, artifact=CI_ARTIFACT)
        except MlopsError:
            pass  # the reports still say everything; a store that refuses a tag is no verdict
    return result


# -- reports ---------------------------------------------------------------------------------------


def junit_xml(result: CiResult) -> str:
    """The result as a JUnit XML document: one testsuite, one testcase per check."""
    failures = sum(not c.passed for c in result.checks)
    stem = Path(result.notebook).stem
    timestamp = (result.job.started or result.job.created).strftime("%Y-%m-%dT%H:%M:%S")
    suites = ET.Element(
        "testsuites",
        name="jupyter mlops ci",
        tests=str(len(result.checks)),
        failures=str(failures),
        errors="0",
        time=f"{result.duration_seconds:.3f}",
    )
    suite = ET.SubElement(
        suites,
        "testsuite",
        name=f"mlops-ci {result.notebook}",
        tests=str(len(result.checks)),
        failures=str(failures),
        errors="0",
        skipped="0",
        time=f"{result.duration_seconds:.3f}",
        timestamp=timestamp,
    )
    props = ET.SubElement(suite, "properties")
    facts = {
        "notebook": result.notebook,
        "job": result.job.id,
        "run_id": result.run_id or "",
        "model": result.model.name or "",
        **{f"parameter.{k}": v for k, v in result.parameters.items()},
    }
    for key, value in facts.items():
        ET.SubElement(props, "property", name=key, value=value)
    for check in result.checks:
        took = result.job.duration_seconds if check.kind == "job" else 0.0
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f"mlops.ci.{stem}.{check.kind}",
            name=check.name,
            time=f"{took or 0.0:.3f}",
        )
        if check.passed:
            ET.SubElement(case, "system-out").text = check.message
        else:
            failure = ET.SubElement(
                case, "failure", message=check.message.splitlines()[0], type=f"{check.kind}Failed"
            )
            failure.text = check.message
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", "<br>")


def checks_table(checks: Sequence[CheckResult]) -> str:
    """The checks as a markdown table."""
    lines = ["| | check | result |", "| --- | --- | --- |"]
    for c in checks:
        mark = "PASS" if c.passed else "**FAIL**"
        lines.append(f"| {mark} | `{_cell(c.name)}` | {_cell(c.message)} |")
    return "\n".join(lines)


_MODEL_SOURCES = {
    "given": "--model",
    "registered-from-run": "registered by this run",
    "logged-by-run": "logged by this run",
    "only-model": "the only registered model",
}


def markdown_summary(result: CiResult) -> str:
    """The result as markdown: a verdict, what ran, and a table of the checks."""
    failed = sum(not c.passed for c in result.checks)
    total = len(result.checks)
    verdict = (
        f"passed: {total} of {total} checks"
        if result.passed
        else f"failed: {failed} of {total} checks"
    )
    job = result.job
    params = ", ".join(f"{k}={v}" for k, v in result.parameters.items()) or "defaults"
    facts = [
        f"- notebook: `{result.notebook}` ({params})",
        f"- job: `{job.id}` {job.state}"
        + (f" in {job.duration_seconds:.1f} s" if job.duration_seconds is not None else ""),
    ]
    if result.run_id:
        facts.append(f"- run: `{result.run_id}`")
    if job.output:
        facts.append(f"- executed notebook: `{job.output}`")
    if result.model.name:
        held = ", ".join(f"@{a} = v{v}" for a, v in sorted(result.model.aliases.items()))
        why = _MODEL_SOURCES.get(result.model.source or "", "")
        facts.append(
            f"- model: `{result.model.name}` ({why}"
            + (f"; {held}" if held else "; no aliases")
            + ")"
        )
    return (
        f"## MLOps CI {verdict}\n\n"
        + "\n".join(facts)
        + "\n\n"
        + checks_table(result.checks)
        + "\n"
    )


def write_reports(
    result: CiResult, *, junit: Path | None = None, summary: Path | None = None
) -> CiResult:
    """Write the JUnit XML and markdown files asked for; the result names where they went."""
    if junit is not None:
        junit.parent.mkdir(parents=True, exist_ok=True)
        junit.write_text(junit_xml(result), encoding="utf-8")
        result.junit = str(junit)
    if summary is not None:
        summary.parent.mkdir(parents=True, exist_ok=True)
        summary.write_text(markdown_summary(result), encoding="utf-8")
        result.summary = str(summary)
    return result


# -- the GitHub Actions workflow -------------------------------------------------------------------


def _git_root(start: Path) -> Path | None:
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder
    return None


def find_notebook(root: Path) -> str:
    """The one training notebook of a workspace (``notebooks/*.ipynb``, else ``*.ipynb``).

    Raises:
        InvalidInput: none, or several (the message lists them).
    """
    for pattern in ("notebooks/*.ipynb", "*.ipynb"):
        found = sorted(
            str(p.relative_to(root))
            for p in root.glob(pattern)
            if ".ipynb_checkpoints" not in p.parts
        )
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise InvalidInput(
                f"The workspace has {len(found)} notebooks: {', '.join(found)}",
                hint="Say which one CI trains with --notebook PATH.",
                field="notebook",
            )
    raise InvalidInput(
        f"No notebook found in {root}",
        hint="Say which one CI trains with --notebook PATH.",
        field="notebook",
    )


def ci_command(
    notebook: str,
    *,
    parameters: dict[str, str] | None = None,
    gates: Sequence[str] = (),
    converged: Sequence[str] = (),
    model: str | None = None,
    junit: str = "ci-results.xml",
    summary: str = "ci-summary.md",
) -> str:
    """The ``jupyter mlops ci`` command line for these checks, quoted for a shell."""
    words = ["jupyter", "mlops", "ci", notebook]
    for key, value in (parameters or {}).items():
        words += ["-p", key, value]
    for gate in gates:
        words += ["--gate", gate]
    for metric in converged:
        words += ["--converged", metric]
    if model:
        words += ["--model", model]
    words += ["--junit", junit, "--summary", summary]
    return " ".join(shlex.quote(w) for w in words)


def workflow_yaml(command: str, *, install: str, working_directory: str | None, python: str) -> str:
    """The text of the GitHub Actions workflow that runs ``command``."""
    prefix = f"{working_directory}/" if working_directory else ""
    defaults = (
        f"    defaults:\n      run:\n        working-directory: {json.dumps(working_directory)}\n"
        if working_directory
        else ""
    )
    return f"""# Written by `jupyter mlops ci --init`: trains the notebook as a job on every push
# and pull request, checks convergence and the metric gates, and fails the build when a
# check fails. Gates: METRIC OP NUMBER | METRIC OP ALIAS | METRIC OP ALIAS+-NUMBER, e.g.
# "val_auc>=champion-0.01" (see docs/ci.md). Alias gates read the workspace's registry:
# for CI, point mlops.toml's tracking URI at a shared MLflow server.
name: MLOps CI
"on":
  push:
  pull_request:
  workflow_dispatch:
jobs:
  train-and-gate:
    runs-on: ubuntu-latest
{defaults}    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: {json.dumps(python)}
          cache: pip
      - name: Install jupyter-mlops
        run: {install}
      - name: Train and check the gates
        run: {json.dumps(command)}
      - name: Write the job summary
        if: always()
        run: cat ci-summary.md >> "$GITHUB_STEP_SUMMARY" || true
      - name: Upload the reports
        if: always()
        uses: actions/upload-artifact@v4
        with:
          name: mlops-ci
          path: |
            {prefix}ci-results.xml
            {prefix}ci-summary.md
          if-no-files-found: warn
"""


def write_workflow(
    root: Path,
    notebook: str | None = None,
    *,
    parameters: dict[str, str] | None = None,
    gates: Sequence[str] = (),
    converged: Sequence[str] = (),
    model: str | None = None,
    force: bool = False,
) -> CiWorkflow:
    """Write ``.github/workflows/mlops-ci.yml`` at the top of the git repository holding the
    workspace (the workspace itself when it is not in one).

    Raises:
        InvalidInput: no notebook given and none or several found; a gate that does not parse.
        Conflict: the file exists and ``force`` is false.
    """
    import yaml  # type: ignore[import-untyped, unused-ignore]

    root = root.resolve()
    for gate in gates:
        parse_check(gate)
    if notebook is None:
        notebook = find_notebook(root)
    path = (root / notebook).resolve() if not Path(notebook).is_absolute() else Path(notebook)
    if path.suffix != ".ipynb" or not path.is_file():
        raise InvalidInput(
            f"{notebook} is not a notebook in {root}",
            hint="Give the path of a .ipynb file inside the workspace.",
            field="notebook",
        )
    try:
        shown = str(path.relative_to(root))
    except ValueError:
        raise InvalidInput(
            f"{notebook} is outside the workspace {root}", field="notebook"
        ) from None
    repo = _git_root(root) or root
    working = None if repo == root else str(root.relative_to(repo))
    target = repo / WORKFLOW_PATH
    existed = target.exists()
    if existed and not force:
        raise Conflict(
            f"{target} already exists",
            hint="Pass --force to replace it.",
            field="init",
        )
    package = any((root / f).is_file() for f in ("pyproject.toml", "setup.py", "setup.cfg"))
    install = "pip install -e ." if package else "pip install jupyter-mlops"
    command = ci_command(
        shown,
        parameters=parameters,
        gates=gates,
        converged=converged,
        model=model,
    )
    text = workflow_yaml(
        command,
        install=install,
        working_directory=working,
        python=f"{sys.version_info.major}.{sys.version_info.minor}",
    )
    parsed = yaml.safe_load(text)
    if not isinstance(parsed, dict) or "jobs" not in parsed:  # our own template is broken
        raise RuntimeError("the workflow template does not parse as a workflow")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(target)
    return CiWorkflow(
        path=str(target),
        notebook=shown,
        command=command,
        install=install,
        overwritten=existed,
    )


__all__ = [
    "WORKFLOW_PATH",
    "Gates",
    "find_notebook",
    "junit_xml",
    "markdown_summary",
    "run_ci",
    "workflow_yaml",
    "write_reports",
    "write_workflow",
]
