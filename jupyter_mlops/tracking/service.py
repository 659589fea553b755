"""Experiments, runs and their comparison, on the workspace's MLflow store.

Everything is stored in MLflow, so runs made here show up unchanged in the MLflow UI and runs made
with plain ``mlflow`` show up here. MLflow is imported lazily: importing this module is cheap.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from jupyter_mlops.errors import Conflict, InvalidInput, NotFound, did_you_mean
from jupyter_mlops.tracking.backend import MlflowBackend, load_mlflow, mlflow_errors
from jupyter_mlops.tracking.schemas import (
    Comparison,
    Experiment,
    MetricPoint,
    RunDetail,
    RunPage,
    RunSummary,
)

if TYPE_CHECKING:
    from mlflow.entities import Run
    from mlflow.tracking import MlflowClient

    from jupyter_mlops.config import RunConfig, TrackingConfig
    from jupyter_mlops.tracking.recorder import RunRecorder

MAX_PAGE_SIZE = 1000
# Below this many runs every plan is fast; statistics start to matter above it.
_ANALYZE_FROM = 50
# Tags MLflow writes that are large and of no use in a runs table.
_HIDDEN_TAGS = frozenset({"mlflow.log-model.history"})
#: The shortest run-id prefix that names a run: shorter ones match too many runs to be useful.
MIN_RUN_PREFIX = 4
# How many ambiguous candidates an error lists, and how many recent runs "did you mean" looks at.
_SHOWN_CANDIDATES = 8
_SUGGEST_FROM = 1000
# How many recent runs tell which keys are metrics, params or tags when a filter names a bare key.
_KEYS_FROM = 200
_RUN_REF_HINT = (
    "Name a run by its full id, a unique id prefix (4 characters or more) or its run name; "
    "`jupyter mlops runs` lists them."
)


class TrackingService:
    """Experiments and runs of one workspace.

    Example:
        >>> page = ws.tracking.list_runs("churn", filter="metrics.auc > 0.8")  # doctest: +SKIP
        >>> [r.run_name for r in page.runs]                                     # doctest: +SKIP
    """

    def __init__(self, backend: MlflowBackend, config: TrackingConfig, run: RunConfig) -> None:
        self.backend = backend
        self.config = config
        self.run_config = run
        load_mlflow()

    @property
    def client(self) -> MlflowClient:
        """The MLflow client on this workspace's store (created on first use)."""
        return self.backend.client

    @property
    def sql_engine(self) -> Any:
        """The SQLAlchemy engine of MLflow's store when it is a database, else None."""
        return self.backend.sql_engine

    def _refresh_sqlite_statistics(self) -> None:
        """Keep SQLite's planner statistics in step with the number of runs.

        MLflow never runs ANALYZE. Without statistics SQLite 3.40 plans MLflow's sort-by-metric
        page query as a scan of latest_metrics per run: ~8 s for one page of 10,000 runs, ~70 ms
        with statistics. ANALYZE costs ~30 ms at 10,000 runs, so it runs when the run count has
        doubled since the last one.
        """
        engine = self.sql_engine
        if engine is None or engine.dialect.name != "sqlite":
            return
        with engine.begin() as conn:
            count = conn.exec_driver_sql("SELECT COUNT(*) FROM runs").scalar_one()
            has_stats = conn.exec_driver_sql(
                "SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'"
            ).first()
            analyzed = 0
            if has_stats:
                stat = conn.exec_driver_sql(
                    "SELECT stat FROM sqlite_stat1 WHERE tbl = 'runs' LIMIT 1"
                ).scalar()
                analyzed = int(str(stat).split()[0]) if stat else 0
            if count >= _ANALYZE_FROM and count > 2 * analyzed:
                conn.exec_driver_sql("ANALYZE")

    # -- experiments ----------------------------------------------------------------------------

    def list_experiments(self, include_deleted: bool = False) -> list[Experiment]:
        """All experiments, newest first."""
        from mlflow.entities import ViewType

        view = ViewType.ALL if include_deleted else ViewType.ACTIVE_ONLY
        with mlflow_errors():
            found = self.client.search_experiments(
                view_type=view, max_results=50000, order_by=["creation_time DESC"]
            )
        return [_experiment(e) for e in found]

    def get_experiment(self, ref: str) -> Experiment:
        """An experiment by id or by name.

        Raises:
            NotFound: no experiment has that id or name; the message lists the known names.
        """
        exp = self._find_experiment(ref)
        if exp is None:
            names = [e.name for e in self.list_experiments()]
            raise NotFound(
                f"Experiment '{ref}' does not exist.",
                hint=f"Known experiments: {', '.join(names) or '(none yet)'}.",
                field="experiment",
            )
        return _experiment(exp)

    def _find_experiment(self, ref: str) -> Any:
        from mlflow.exceptions import MlflowException

        with mlflow_errors():
            exp = self.client.get_experiment_by_name(ref)
            # Ids are 64-bit integers in SQL stores: a longer one names no experiment (SQLite
            # raised "int too large", which read as the store failing).
            if exp is None and ref.isdigit() and int(ref) < 2**63:
                try:
                    exp = self.client.get_experiment(ref)
                except MlflowException as exc:
                    if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
                        raise
        return exp

    def ensure_experiment(self, name: str) -> str:
        """The id of the experiment called ``name``, creating it if needed."""
        if not name.strip():
            raise InvalidInput("An experiment name cannot be empty.", field="experiment")
        exp = self._find_experiment(name)
        if exp is not None:
            if exp.lifecycle_stage == "deleted":
                raise InvalidInput(
                    f"Experiment '{name}' is deleted.",
                    hint="Restore it in the MLflow UI or pick another name.",
                    field="experiment",
                )
            return str(exp.experiment_id)
        location = None
        if not self.backend.tracking_uri.startswith(("http://", "https://", "databricks")):
            slug = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "experiment"
            location = f"{self.backend.artifact_location.rstrip('/')}/{slug}"
        try:
            with mlflow_errors():
                return str(self.client.create_experiment(name, artifact_location=location))
        except Conflict:
            # Another process created it between our look and our create (several jobs or
            # kernels starting runs in a new experiment at once): theirs is ours.
            exp = self._find_experiment(name)
            if exp is None:
                raise
            return str(exp.experiment_id)

    # -- runs -----------------------------------------------------------------------------------

    def list_runs(
        self,
        experiments: Sequence[str] | None = None,
        *,
        filter: str = "",
        order_by: Sequence[str] = (),
        max_results: int = 50,
        page_token: str | None = None,
    ) -> RunPage:
        """One page of runs, filtered and sorted by MLflow.

        Args:
            experiments: experiment ids or names; all active experiments when empty.
            filter: an MLflow filter string, e.g. ``"metrics.auc > 0.8 and params.depth = '5'"``.
            order_by: clauses like ``"metrics.auc DESC"``; newest first when empty.
            max_results: page size, 1 to 1000.
            page_token: ``next_page_token`` of the previous page.

        Raises:
            InvalidInput: malformed filter or order clause (the message quotes MLflow's parse
                error), or a page size out of range.
            NotFound: an unknown experiment.
        """
        if not 1 <= max_results <= MAX_PAGE_SIZE:
            raise InvalidInput(
                f"max_results must be between 1 and {MAX_PAGE_SIZE}, got {max_results}.",
                field="max_results",
            )
        if experiments:
            ids = [self.get_experiment(ref).experiment_id for ref in experiments]
        else:
            ids = [e.experiment_id for e in self.list_experiments()]
        if page_token and not page_token.isascii():
            raise InvalidInput(
                "Invalid page token: it is not one this server gave",
                hint="Pass the next_page_token of the previous page as it came.",
                field="page_token",
            )
        order = list(order_by) or ["attributes.start_time DESC"]
        _check_order(order)
        self._refresh_sqlite_statistics()
        try:
            with mlflow_errors():
                paged = self.client.search_runs(
                    ids,
                    filter_string=filter,
                    max_results=max_results,
                    order_by=order,
                    page_token=page_token or None,
                )
        except InvalidInput as exc:
            if not filter:
                raise
            # The order clauses were checked above, so what MLflow refused is the filter.
            raise self._filter_error(filter, exc.message, ids) from None
        return RunPage(runs=[run_summary(r) for r in paged], next_page_token=paged.token or None)

    def resolve_run(self, ref: str, experiment: str | None = None) -> RunSummary:
        """The run that ``ref`` names: its full id, a unique id prefix (4 characters or more), or
        its run name, unique within ``experiment`` (an id or name; all active experiments when
        None).

        Raises:
            InvalidInput: ``ref`` names several runs (the message lists them: name, id prefix,
                start time) or is empty.
            NotFound: no run matches; the hint names close run names.

        Example:
            >>> ws.tracking.resolve_run("lr0.1-seed0").run_id          # doctest: +SKIP
            '3f2a9c1b...'
            >>> ws.tracking.resolve_run("3f2a").run_name               # doctest: +SKIP
            'lr0.1-seed0'
        """
        if not experiment:
            return run_summary(find_run(self.client, ref))
        exp = self.get_experiment(experiment)
        try:
            return run_summary(find_run(self.client, ref, [exp.experiment_id]))
        except NotFound as exc:
            exc.message = f"{exc.message.rstrip('.')} in experiment {exp.name}."
            exc.args = (exc.message,)
            raise

    def _filter_error(self, text: str, message: str, experiment_ids: list[str]) -> InvalidInput:
        """The error for a filter MLflow refused; for a bare key (``roc_auc > 0.8``) it names
        the key and the whole filter as meant (see :mod:`jupyter_mlops.tracking.filters`)."""
        from jupyter_mlops.tracking.filters import bare_key, known_keys, qualify_bare_keys

        hint = "Use MLflow filter syntax, e.g. metrics.auc > 0.8 and params.depth = '5'."
        key = bare_key(message)
        if key is not None and experiment_ids:
            with mlflow_errors():
                recent = self.client.search_runs(
                    experiment_ids, max_results=_KEYS_FROM, order_by=["attributes.start_time DESC"]
                )
            fix = qualify_bare_keys(text, known_keys(recent))
            if fix is not None:
                bare = ", ".join(f"'{k}'" for k, _ in fix.keys)
                named = ", ".join(qualified for _, qualified in fix.keys)
                what = "is not a run attribute" if len(fix.keys) == 1 else "are not run attributes"
                return InvalidInput(
                    f"Invalid filter {text!r}: {bare} {what}; did you mean {named}?",
                    hint=f"MLflow filters name metrics.NAME, params.NAME and tags.NAME. "
                    f"The filter with them: {fix.filter}",
                    field="filter",
                )
        return InvalidInput(f"Invalid filter {text!r}: {message}", hint=hint, field="filter")

    def get_run(self, run_id: str, *, with_history: bool = True) -> RunDetail:
        """One run and, by default, the full history of each metric.

        ``run_id`` may also be a unique id prefix or a run name (see :meth:`resolve_run`).

        Raises:
            NotFound: no run matches.
            InvalidInput: the reference names several runs.
        """
        run = find_run(self.client, run_id)
        detail = RunDetail(**run_summary(run).model_dump())
        if with_history:
            detail.metric_history = self.metric_histories(run.info.run_id, list(run.data.metrics))
        return detail

    def metric_histories(self, run_id: str, keys: Sequence[str]) -> dict[str, list[MetricPoint]]:
        """Every logged value of each metric in ``keys``, in step order."""
        out: dict[str, list[MetricPoint]] = {}
        with mlflow_errors():
            for key in keys:
                points = self.client.get_metric_history(run_id, key)
                out[key] = sorted(
                    (
                        MetricPoint(step=m.step, value=_finite(m.value), timestamp=m.timestamp)
                        for m in points
                    ),
                    key=lambda p: (p.step, p.timestamp),
                )
        return out

    def compare(
        self,
        run_ids: Sequence[str],
        *,
        diff_only: bool = False,
        group_by_seed: bool = False,
        seed_param: str | None = None,
        figures: bool = True,
    ) -> Comparison:
        """Compare runs side by side; see :func:`jupyter_mlops.tracking.compare.compare_runs`.

        Each run is named by its id, a unique id prefix or its name (see :meth:`resolve_run`).
        """
        from jupyter_mlops.tracking.compare import compare_runs

        runs = list({r.run_id: r for r in (self.get_run(ref) for ref in run_ids)}.values())
        if len(runs) < 2:
            raise InvalidInput(
                "Compare needs at least two different runs.",
                hint="Pass two or more run ids, id prefixes or run names.",
            )
        return compare_runs(
            runs,
            diff_only=diff_only,
            group_by_seed=group_by_seed,
            seed_param=seed_param,
            seed_candidates=self.run_config.seed_params,
            figures=figures,
        )

    def start_run(self, experiment: str | None = None, run_name: str | None = None) -> RunRecorder:
        """Start a run and return a recorder that logs to it in batches."""
        from jupyter_mlops.tracking.recorder import RunRecorder

        exp_id = self.ensure_experiment(experiment or self.config.default_experiment)
        with mlflow_errors():
            run = self.client.create_run(exp_id, run_name=run_name)
        return RunRecorder(self.backend, run.info.run_id, exp_id, run.info.run_name)

    def resume_run(self, run_id: str) -> RunRecorder:
        """A recorder that logs to an existing run (the run a job owns)."""
        from jupyter_mlops.tracking.recorder import RunRecorder

        with mlflow_errors():
            run = self.client.get_run(run_id)
        return RunRecorder(self.backend, run_id, run.info.experiment_id, run.info.run_name)


def find_run(client: MlflowClient, ref: str, experiment_ids: Sequence[str] | None = None) -> Run:
    """The MLflow run that ``ref`` names: a full id, a unique id prefix or a unique run name.

    The one resolver behind every place a user names a run (compare, a run's page, registering a
    run's model, gates): a full id costs one lookup as before; a prefix or a name one search.

    Args:
        client: the MLflow client of the workspace's store.
        ref: what the user wrote.
        experiment_ids: where prefixes and names are looked up; all active experiments when None.
            A full id is found wherever its run is.

    Raises:
        InvalidInput: an empty reference, or one that names several runs (listed).
        NotFound: no run matches ("did you mean" close run names).
    """
    from mlflow.entities import ViewType
    from mlflow.exceptions import MlflowException

    text = ref.strip()
    if not text:
        raise InvalidInput("A run reference cannot be empty.", hint=_RUN_REF_HINT, field="run_id")
    lowered = text.lower()
    if re.fullmatch(r"[0-9a-f]{32}", lowered):
        try:
            return client.get_run(lowered)
        except MlflowException as exc:
            if exc.error_code not in {"RESOURCE_DOES_NOT_EXIST", "NOT_FOUND"}:
                with mlflow_errors():
                    raise
            # No run has this id; a run may still be named like one: look names up below.
    if experiment_ids is None:
        with mlflow_errors():
            found = client.search_experiments(view_type=ViewType.ACTIVE_ONLY, max_results=50000)
        experiment_ids = [str(e.experiment_id) for e in found]
    experiment_ids = list(experiment_ids)
    matches: dict[str, Run] = {}
    truncated = False
    if experiment_ids:
        queries = [f"attributes.run_name = {_filter_string(text)}"]
        if len(lowered) >= MIN_RUN_PREFIX and re.fullmatch(r"[0-9a-f]+", lowered):
            queries.append(f"attributes.run_id LIKE '{lowered}%'")
        for query in queries:
            with mlflow_errors():
                page = client.search_runs(
                    experiment_ids, filter_string=query, max_results=_SHOWN_CANDIDATES + 1
                )
            matches.update((r.info.run_id, r) for r in page)
            truncated |= len(page) > _SHOWN_CANDIDATES
    if len(matches) == 1:
        return next(iter(matches.values()))
    if matches:
        listed = sorted(matches.values(), key=lambda r: -(r.info.start_time or 0))
        shown = "; ".join(_run_label(r) for r in listed[:_SHOWN_CANDIDATES])
        count = f"{len(listed)} or more" if truncated else str(len(listed))
        more = "; ..." if len(listed) > _SHOWN_CANDIDATES else ""
        raise InvalidInput(
            f"'{text}' names {count} runs: {shown}{more}.",
            hint="Name one by a longer id prefix or its full id.",
            field="run_id",
        )
    raise NotFound(
        f"Run '{text}' does not exist.",
        hint=_unknown_run_hint(client, text, experiment_ids),
        field="run_id",
    )


def _filter_string(value: str) -> str:
    """``value`` quoted for an MLflow filter."""
    if "'" in value and '"' not in value:
        return f'"{value}"'
    return "'" + value.replace("'", "\\'") + "'"


def _run_label(run: Run) -> str:
    started = run.info.start_time
    when = (
        datetime.fromtimestamp(started / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        if started
        else "not started"
    )
    return f"{run.info.run_name or '(no name)'} ({run.info.run_id[:8]}, started {when})"


def _unknown_run_hint(client: MlflowClient, text: str, experiment_ids: Sequence[str]) -> str:
    names: list[str] = []
    if experiment_ids:
        with mlflow_errors():
            recent = client.search_runs(
                list(experiment_ids),
                max_results=_SUGGEST_FROM,
                order_by=["attributes.start_time DESC"],
            )
        names = [r.info.run_name for r in recent if r.info.run_name]
    close = did_you_mean(text, names)
    if re.fullmatch(r"[0-9a-fA-F]{1,3}", text):
        close = f"{close} An id prefix needs at least {MIN_RUN_PREFIX} characters.".strip()
    return f"{close} `jupyter mlops runs` lists the runs." if close else _RUN_REF_HINT


def _check_order(clauses: Sequence[str]) -> None:
    from mlflow.exceptions import MlflowException
    from mlflow.utils.search_utils import SearchUtils

    for clause in clauses:
        try:
            SearchUtils.parse_order_by_for_search_runs(clause)
        except MlflowException as exc:
            raise InvalidInput(
                f"Invalid order clause {clause!r}: {exc.message}",
                hint="Use e.g. 'metrics.auc DESC', 'params.depth ASC' or 'attributes.start_time'.",
                field="order_by",
            ) from None


def _finite(value: float) -> float | None:
    # JSON has no NaN or infinity; MLflow stores them, so map them to null.
    return value if value == value and abs(value) != float("inf") else None


def _experiment(exp: Any) -> Experiment:
    return Experiment(
        experiment_id=str(exp.experiment_id),
        name=exp.name,
        lifecycle_stage=exp.lifecycle_stage,
        artifact_location=exp.artifact_location,
        creation_time=exp.creation_time,
        last_update_time=exp.last_update_time,
        tags=dict(exp.tags),
    )


def run_summary(run: Run) -> RunSummary:
    """The summary of an MLflow run."""
    info, data = run.info, run.data
    return RunSummary(
        run_id=info.run_id,
        run_name=info.run_name,
        experiment_id=str(info.experiment_id),
        status=info.status,
        start_time=info.start_time,
        end_time=info.end_time,
        params=dict(data.params),
        metrics={k: _finite(v) for k, v in data.metrics.items()},
        tags={k: v for k, v in data.tags.items() if k not in _HIDDEN_TAGS},
    )
