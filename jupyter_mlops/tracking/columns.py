"""Which params and metrics the runs table of an experiment shows, remembered per experiment.

The JupyterLab runs tab and ``jupyter mlops runs`` read the same choice. Until a user chooses,
the columns are the ones the runs declared (``%%mlops run --params a,b --metrics c``, recorded as
run tags), else a pick from what the runs logged: parameters whose values vary first, then the
metrics most runs have. The choice lives in ``.mlops/run_columns.json``, written atomically.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from jupyter_mlops.errors import InvalidInput, did_you_mean
from jupyter_mlops.lineage.tags import DECLARED_METRICS_TAG, DECLARED_PARAMS_TAG
from jupyter_mlops.process import write_json
from jupyter_mlops.tracking.schemas import ColumnChoice, RunSummary

if TYPE_CHECKING:
    from jupyter_mlops.tracking.service import TrackingService

#: The file, in the workspace's state folder, that keeps every experiment's choice.
COLUMNS_FILE = "run_columns.json"
#: The runs looked at to learn an experiment's columns: the most recent ones.
SAMPLE_RUNS = 200
#: At most this many params and this many metrics in a picked (not declared) default.
PICK_PARAMS = 6
PICK_METRICS = 6
#: A user's choice may hold at most this many columns.
MAX_COLUMNS = 60

_KINDS = ("params", "metrics")


def declared_tags(params: Sequence[str], metrics: Sequence[str]) -> dict[str, str]:
    """The run tags recording what a ``%%mlops run`` cell named (empty ones left out)."""
    tags = {}
    if params:
        tags[DECLARED_PARAMS_TAG] = ",".join(params)
    if metrics:
        tags[DECLARED_METRICS_TAG] = ",".join(metrics)
    return tags


def declared_names(tags: dict[str, str], kind: str) -> list[str]:
    """The params (``kind="params"``) or metrics a run's tags say its cell declared."""
    tag = DECLARED_PARAMS_TAG if kind == "params" else DECLARED_METRICS_TAG
    return [n.strip() for n in tags.get(tag, "").split(",") if n.strip()]


def available_columns(runs: Iterable[RunSummary]) -> list[str]:
    """Every ``params.<name>`` and ``metrics.<name>`` the runs have: params, then metrics, each
    sorted by name."""
    params: set[str] = set()
    metrics: set[str] = set()
    for run in runs:
        params.update(run.params)
        metrics.update(run.metrics)
    return [f"params.{n}" for n in sorted(params)] + [f"metrics.{n}" for n in sorted(metrics)]


def default_columns(runs: Sequence[RunSummary]) -> tuple[list[str], str]:
    """The columns to show before a user chooses, and where they come from.

    Returns ``(columns, "declared")`` when runs declared params or metrics: the declared ones (in
    the order the newest run declared them, then the others' additions), followed by the pick
    below over the runs that declared nothing (runs logged by other means, such as plain MLflow
    or a script, keep their own columns). Else ``(columns, "auto")``: params whose values differ
    between runs before constant ones, those most runs have first, then metrics most runs have;
    :data:`PICK_PARAMS` and :data:`PICK_METRICS` at most.
    """
    declared: dict[str, None] = {}
    silent: list[RunSummary] = []
    for run in runs:
        names = [f"{kind}.{n}" for kind in _KINDS for n in declared_names(run.tags, kind)]
        if not names:
            silent.append(run)
        declared.update(dict.fromkeys(names))
    if not declared:
        return _pick(runs), "auto"
    columns = list(declared) + [c for c in _pick(silent) if c not in declared]
    # Params first, then metrics, each in the order above.
    ordered = [c for c in columns if c.startswith("params.")]
    ordered += [c for c in columns if c.startswith("metrics.")]
    return ordered, "declared"


def _pick(runs: Sequence[RunSummary]) -> list[str]:
    if not runs:
        return []
    param_count: Counter[str] = Counter()
    values: dict[str, set[str]] = {}
    metric_count: Counter[str] = Counter()
    for run in runs:
        for name, value in run.params.items():
            param_count[name] += 1
            values.setdefault(name, set()).add(value)
        metric_count.update(run.metrics)

    def varies(name: str) -> bool:
        # A param some runs lack also varies.
        return len(values[name]) > 1 or param_count[name] < len(runs)

    params = sorted(param_count, key=lambda n: (not varies(n), -param_count[n], n))
    metrics = sorted(metric_count, key=lambda n: (-metric_count[n], n))
    return [f"params.{n}" for n in params[:PICK_PARAMS]] + [
        f"metrics.{n}" for n in metrics[:PICK_METRICS]
    ]


class RunColumns:
    """The runs table's columns of each experiment, remembered in the workspace.

    Example:
        >>> cols = RunColumns(ws.tracking, ws.state_dir)                      # doctest: +SKIP
        >>> cols.get("churn").columns                                        # doctest: +SKIP
        ['params.n_estimators', 'params.seed', 'metrics.roc_auc']
        >>> cols.choose("churn", ["metrics.roc_auc", "params.seed"], pinned=["metrics.roc_auc"])
        ... # doctest: +SKIP
    """

    def __init__(self, tracking: TrackingService, state_dir: Path) -> None:
        self.tracking = tracking
        self.path = state_dir / COLUMNS_FILE

    def get(self, experiment: str) -> ColumnChoice:
        """The columns of ``experiment`` (id or name): the saved choice, else the default.

        Raises:
            NotFound: no experiment has that id or name.
        """
        exp_id = self.tracking.get_experiment(experiment).experiment_id
        runs = self._sample(exp_id)
        available = available_columns(runs)
        saved = self._read().get(exp_id)
        if saved is not None:
            return ColumnChoice(
                experiment_id=exp_id,
                columns=saved["columns"],
                pinned=saved["pinned"],
                source="saved",
                available=available,
            )
        columns, source = default_columns(runs)
        return ColumnChoice(
            experiment_id=exp_id,
            columns=columns,
            pinned=[],
            source="declared" if source == "declared" else "auto",
            available=available,
        )

    def choose(
        self, experiment: str, columns: Sequence[str], pinned: Sequence[str] = ()
    ) -> ColumnChoice:
        """Remember ``columns`` (in order) for ``experiment``; ``pinned`` ones move to the left.

        Names are ``params.<name>`` or ``metrics.<name>``; a bare name is accepted when only one
        kind has it.

        Raises:
            InvalidInput: a name none of the experiment's runs has (the message lists the valid
                ones), a pinned column that is not among the columns, or too many columns.
        """
        exp_id = self.tracking.get_experiment(experiment).experiment_id
        available = available_columns(self._sample(exp_id))
        chosen = resolve_columns(columns, available)
        pins = resolve_columns(pinned, available, field="pinned")
        stray = [p for p in pins if p not in chosen]
        if stray:
            raise InvalidInput(
                f"Pinned column(s) {', '.join(stray)} are not among the chosen columns.",
                hint="Pin only columns you also show.",
                field="pinned",
            )
        if len(chosen) > MAX_COLUMNS:
            raise InvalidInput(
                f"{len(chosen)} columns is too many for a table; choose at most {MAX_COLUMNS}.",
                field="columns",
            )
        ordered = pins + [c for c in chosen if c not in pins]
        data = self._read()
        data[exp_id] = {"columns": ordered, "pinned": pins}
        write_json(self.path, {"experiments": data})
        return ColumnChoice(
            experiment_id=exp_id,
            columns=ordered,
            pinned=pins,
            source="saved",
            available=available,
        )

    def forget(self, experiment: str) -> ColumnChoice:
        """Drop the saved choice of ``experiment``: back to the declared or picked default."""
        exp_id = self.tracking.get_experiment(experiment).experiment_id
        data = self._read()
        if data.pop(exp_id, None) is not None:
            write_json(self.path, {"experiments": data})
        return self.get(exp_id)

    def _sample(self, exp_id: str) -> list[RunSummary]:
        return self.tracking.list_runs([exp_id], max_results=SAMPLE_RUNS).runs

    def _read(self) -> dict[str, dict[str, list[str]]]:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            # Missing, or cut short by something other than us: no choice saved.
            return {}
        out: dict[str, dict[str, list[str]]] = {}
        for exp_id, entry in dict(raw.get("experiments", {})).items():
            if isinstance(entry, dict):
                out[str(exp_id)] = {
                    "columns": [str(c) for c in entry.get("columns", [])],
                    "pinned": [str(c) for c in entry.get("pinned", [])],
                }
        return out


def resolve_columns(
    names: Iterable[str], available: Sequence[str], *, field: str = "columns"
) -> list[str]:
    """``names`` as ``params.<name>``/``metrics.<name>``, duplicates dropped, in order.

    A bare name is accepted when exactly one kind has it.

    Raises:
        InvalidInput: an unknown or ambiguous name; the message lists the valid columns.
    """
    out: list[str] = []
    unknown: list[str] = []
    for raw in names:
        name = raw.strip()
        if not name:
            continue
        if name in available:
            out.append(name)
            continue
        matches = [c for c in available if c.split(".", 1)[1] == name]
        if len(matches) == 1:
            out.append(matches[0])
        elif len(matches) > 1:
            raise InvalidInput(
                f"Column '{name}' is both a parameter and a metric.",
                hint=f"Write {' or '.join(matches)}.",
                field=field,
            )
        else:
            unknown.append(name)
    if unknown:
        bare = [c.split(".", 1)[1] for c in available]
        hint = did_you_mean(unknown, [*available, *bare], listing=None)
        listing = ", ".join(available) or "none (no run has params or metrics)"
        raise InvalidInput(
            f"Unknown column(s) {', '.join(unknown)}: no run of this experiment has them.",
            hint=(f"{hint} " if hint else "") + f"Valid columns: {listing}.",
            field=field,
        )
    return list(dict.fromkeys(out))
