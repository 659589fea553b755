"""Experiments, runs and their comparison, on the workspace's MLflow store.

Everything is stored in MLflow, so runs made here show up unchanged in the MLflow UI and runs made
with plain ``mlflow`` show up here. MLflow is imported lazily: importing this module is cheap.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from jupyter_mlops.errors import InvalidInput, NotFound
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
            if exp is None and ref.isdigit():
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
        with mlflow_errors():
            return str(self.client.create_experiment(name, artifact_location=location))

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
            raise InvalidInput(
                f"Invalid filter {filter!r}: {exc.message}",
                hint="Use MLflow filter syntax, e.g. metrics.auc > 0.8 and params.depth = '5'.",
                field="filter",
            ) from None
        return RunPage(runs=[run_summary(r) for r in paged], next_page_token=paged.token or None)

    def get_run(self, run_id: str, *, with_history: bool = True) -> RunDetail:
        """One run and, by default, the full history of each metric.

        Raises:
            NotFound: no run has that id.
        """
        from mlflow.exceptions import MlflowException

        if not re.fullmatch(r"[0-9a-fA-F]{32}", run_id):
            raise NotFound(
                f"Run '{run_id}' does not exist (run ids are 32 hex characters).", field="run_id"
            )
        try:
            with mlflow_errors():
                run = self.client.get_run(run_id)
        except (NotFound, MlflowException):
            raise NotFound(f"Run '{run_id}' does not exist.", field="run_id") from None
        detail = RunDetail(**run_summary(run).model_dump())
        if with_history:
            detail.metric_history = self.metric_histories(run_id, list(run.data.metrics))
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
        """Compare runs side by side; see :func:`jupyter_mlops.tracking.compare.compare_runs`."""
        from jupyter_mlops.tracking.compare import compare_runs

        unique = list(dict.fromkeys(run_ids))
        if len(unique) < 2:
            raise InvalidInput(
                "Compare needs at least two different runs.", hint="Pass two or more run ids."
            )
        runs = [self.get_run(r) for r in unique]
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
