/**
 * Types of the jupyter-mlops REST API (`mlops/api/...`).
 *
 * They mirror the pydantic models in `jupyter_mlops/tracking/schemas.py`, which the server's
 * OpenAPI document (`GET mlops/api/openapi.json`) is generated from. Keep the two in step.
 */

import { JSONObject } from '@lumino/coreutils';

/** An MLflow experiment (schema `Experiment`). */
export interface IExperiment {
  experiment_id: string;
  name: string;
  lifecycle_stage: string;
  artifact_location?: string | null;
  /** Milliseconds since the epoch. */
  creation_time?: number | null;
  last_update_time?: number | null;
  tags: Record<string, string>;
}

/** Schema `ExperimentList`. */
export interface IExperimentList {
  experiments: IExperiment[];
}

/** One run with its latest metric values (schema `RunSummary`). */
export interface IRunSummary {
  run_id: string;
  run_name?: string | null;
  experiment_id: string;
  status: string;
  start_time?: number | null;
  end_time?: number | null;
  params: Record<string, string>;
  metrics: Record<string, number | null>;
  tags: Record<string, string>;
}

/** A page of runs (schema `RunPage`). */
export interface IRunPage {
  runs: IRunSummary[];
  next_page_token?: string | null;
}

/** Schema `MetricPoint`. */
export interface IMetricPoint {
  step: number;
  value: number | null;
  timestamp: number;
}

/** A run with the full history of each metric (schema `RunDetail`). */
export interface IRunDetail extends IRunSummary {
  metric_history: Record<string, IMetricPoint[]>;
}

/** Schema `ComparedRun`. */
export interface IComparedRun {
  run_id: string;
  run_name?: string | null;
  experiment_id: string;
}

/** One parameter across the compared runs, values aligned with `IComparison.runs` (schema `ParamRow`). */
export interface IParamRow {
  name: string;
  values: (string | null)[];
  differs: boolean;
}

/** One metric across the compared runs (schema `MetricRow`). */
export interface IMetricRow {
  name: string;
  values: (number | null)[];
  differs: boolean;
}

/** Mean and 95% confidence interval of a metric over a seed group (schema `MetricSummary`). */
export interface IMetricSummary {
  name: string;
  n: number;
  mean: number | null;
  std: number | null;
  ci_low: number | null;
  ci_high: number | null;
}

/** Runs that differ only by their seed (schema `SeedGroup`). */
export interface ISeedGroup {
  key: Record<string, string | null>;
  run_ids: string[];
  metrics: IMetricSummary[];
}

/** A plotly figure as JSON (`{data, layout}`), ready for the plotly mime renderer. */
export type PlotlyFigure = JSONObject;

/** Side-by-side view of several runs (schema `Comparison`). */
export interface IComparison {
  runs: IComparedRun[];
  params: IParamRow[];
  metrics: IMetricRow[];
  seed_param?: string | null;
  groups?: ISeedGroup[] | null;
  /** `history` (metric history) and `parallel` (parallel coordinates). */
  figures: Record<string, PlotlyFigure>;
}

/** The body of every non-2xx answer. */
export interface IErrorBody {
  error: {
    type: string;
    message: string;
    hint?: string | null;
    field?: string | null;
  };
}

/** Query of `GET mlops/api/experiments/{id}/runs`. */
export interface IRunQuery {
  /** MLflow filter string, e.g. `metrics.accuracy > 0.8 and params.max_depth = '5'`. */
  filter?: string;
  /** Clauses like `metrics.accuracy DESC`; applied in order. */
  orderBy?: string[];
  maxResults?: number;
  pageToken?: string | null;
}

/** Query of `GET mlops/api/comparisons`. */
export interface IComparisonQuery {
  runIds: string[];
  diffOnly?: boolean;
  groupBySeed?: boolean;
  /** The param that holds the seed; the server guesses it (`seed`, `random_state`, ...) if unset. */
  seedParam?: string | null;
}
