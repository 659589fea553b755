/**
 * Types of the jupyter-mlops REST API (`mlops/api/...`).
 *
 * They mirror the pydantic models in the `schemas.py` of `jupyter_mlops`'s domain packages, which the server's
 * OpenAPI document (`GET mlops/api/openapi.json`) is generated from. Keep the two in step:
 * `tests/server/test_ts_types.py` checks that each interface has exactly the properties of the schema its doc
 * comment names ("schema" and the name in backquotes), or else of the schema named like it without the `I`.
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

/* ---- Feature store (`mlops/api/features/...`) ---------------------------------------------
 * Mirrors `jupyter_mlops/features/schemas.py` and the models of `jupyter_mlops/server/features.py`.
 */

/**
 * A feature column of a view: its name and dtype (`int64`, `float64`, `bool`, `string`,
 * `timestamp`) (schema `FeatureColumn`).
 */
export interface IFeatureField {
  name: string;
  dtype: string;
  description?: string;
}

/** The latest (or a chosen) version of a feature view (schema `ViewSummary`). */
export interface IFeatureViewSummary {
  name: string;
  /** The version described (the latest one in a listing). */
  version: number;
  /** How many versions the view has. */
  versions: number;
  entities: string[];
  join_keys: string[];
  /** The column with each row's event time. */
  timestamp_field: string;
  features: IFeatureField[];
  ttl_seconds: number | null;
  description: string;
  owner: string;
  tags: Record<string, string>;
  source: string | null;
  fingerprint: string;
  /** ISO 8601. */
  created_at: string;
}

/** Schema `ViewList`. */
export interface IFeatureViewList {
  views: IFeatureViewSummary[];
}

/** A view version with its full stored definition (schema `ViewDetail`). */
export interface IFeatureViewDetail extends IFeatureViewSummary {
  /** The stored version (`name`, `version`, `fingerprint`, `created_at`, `definition`) as JSON. */
  definition: JSONObject;
}

/** Every version of a view, newest first (schema `ViewVersionList`). */
export interface IFeatureViewVersions {
  versions: IFeatureViewSummary[];
}

/** What changed in a view between two versions: `+` added, `-` removed, `~` changed (schema `ViewDiff`). */
export interface IFeatureViewDiff {
  view: string;
  from_version: number;
  to_version: number;
  lines: string[];
}

/** Statistics of one feature column over all of a view's rows (schema `FeatureStats`). */
export interface IFeatureStats {
  name: string;
  dtype: string;
  null_rate: number | null;
  min?: number | string | null;
  max?: number | string | null;
  mean?: number | null;
  std?: number | null;
  /** Most frequent values of a string feature, with counts. */
  top_values?: [string, number][] | null;
}

/** Size and freshness of a view's data (schema `ViewStats`). */
export interface IFeatureViewStats {
  name: string;
  version: number;
  row_count: number;
  /** ISO 8601, or null when the view has no rows. */
  first_event: string | null;
  last_event: string | null;
  /** Now minus the last event time. */
  age_seconds: number | null;
  ttl_seconds: number | null;
  /** The newest row is older than the TTL, or there is no row. */
  stale: boolean;
  features: IFeatureStats[];
}

/** A tracked run that built a training frame from a view version (schema `UsageRun`). */
export interface IFeatureUsageRun {
  run_id: string;
  run_name: string;
  experiment_id: string;
  /** Milliseconds since the epoch. */
  start_time: number | null;
  status: string;
}

/** Who uses one version of a view (schema `VersionUsage`). */
export interface IFeatureVersionUsage {
  version: number;
  fingerprint: string;
  runs: IFeatureUsageRun[];
  models: Record<string, string>[];
  deployments: Record<string, string>[];
}

/** Every version of a view with its users (schema `FeatureUsage`). */
export interface IFeatureUsage {
  view: string;
  versions: IFeatureVersionUsage[];
}

/** Python source that builds a training frame from chosen features (schema `Snippet`). */
export interface IFeatureSnippet {
  code: string;
  /** The references, pinned to their versions (`view:vN:feature`). */
  features: string[];
}

// ---- Model registry (jupyter_mlops/registry/schemas.py) --------------------------------------

/** Where a model version came from (schema `Lineage`). */
export interface ILineage {
  run_id: string;
  run_name: string;
  experiment_id: string;
  experiment_name: string;
  /** Notebook path in the workspace. */
  notebook?: string | null;
  /** Artifact path of the executed notebook saved with the run. */
  notebook_snapshot?: string | null;
  git_commit?: string | null;
  git_branch?: string | null;
  git_dirty?: boolean | null;
  params: Record<string, string>;
  metrics: Record<string, number>;
  /** Pinned references, e.g. `customer_stats:v2:avg_spend`. */
  features: string[];
  /** `view:vN` -> content fingerprint. */
  feature_views: Record<string, string>;
  training_fingerprint?: string | null;
}

/** One registered model version (schema `ModelVersionInfo`). */
export interface IModelVersionInfo {
  name: string;
  version: number;
  aliases: string[];
  model_uri: string;
  /** Milliseconds since the epoch. */
  created: number;
  description: string;
  tags: Record<string, string>;
  metrics: Record<string, number>;
  run_id?: string | null;
  has_profile: boolean;
  signature?: Record<string, { name: string; type: string }[]> | null;
}

/** A version with its full lineage (schema `ModelVersionDetail`). */
export interface IModelVersionDetail extends IModelVersionInfo {
  lineage?: ILineage | null;
}

/** A registered model and its newest version (schema `RegisteredModelInfo`). */
export interface IRegisteredModelInfo {
  name: string;
  description: string;
  created: number;
  updated: number;
  latest_version?: number | null;
  /** Alias -> version. */
  aliases: Record<string, number>;
  versions: number;
}

/** A model with all its versions, newest first (schema `RegisteredModelDetail`). */
export interface IRegisteredModelDetail extends IRegisteredModelInfo {
  version_list: IModelVersionInfo[];
}

/** Schema `ModelList`. */
export interface IModelList {
  models: IRegisteredModelInfo[];
}

/** The outcome of one promotion gate (schema `GateResult`). */
export interface IGateResult {
  gate: string;
  passed: boolean;
  metric: string;
  value?: number | null;
  reference?: number | null;
  /** Candidate minus reference. */
  difference?: number | null;
  message: string;
}

/** What a promotion did, or refused to do (schema `Promotion`). */
export interface IPromotion {
  name: string;
  version: number;
  alias: string;
  promoted: boolean;
  previous_version?: number | null;
  gates: IGateResult[];
}

/** Schema `RegisterRequest`. */
export interface IRegisterRequest {
  run_id: string;
  name: string;
  description?: string;
  aliases?: string[];
}

/** Schema `PromoteRequest`: gates like `roc_auc>=champion` or `accuracy>0.8`. */
export interface IPromoteRequest {
  alias: string;
  require?: string[];
}

// ---- Deployments (jupyter_mlops/serving/schemas.py) ------------------------------------------

/** Schema `State`. */
export type DeploymentState =
  | 'starting'
  | 'running'
  | 'updating'
  | 'degraded'
  | 'failed'
  | 'stopping'
  | 'stopped';

/** A model version a deployment serves and its traffic weight (schema `ServedVersion`). */
export interface IServedVersion {
  name: string;
  version: number;
  weight: number;
  /** What the user asked for, e.g. `churn@champion`. */
  ref: string;
}

/** Schema `ReplicaInfo`. */
export interface IReplicaInfo {
  slot: number;
  pid: number;
  generation: number;
  started: number;
}

/** A local deployment (schema `DeploymentInfo`). */
export interface IDeploymentInfo {
  name: string;
  url: string;
  host: string;
  port: number;
  state: DeploymentState;
  replicas: number;
  generation: number;
  serving: IServedVersion[];
  replica_processes: IReplicaInfo[];
  restarts: number;
  error?: string | null;
  /** Seconds since the epoch. */
  created: number;
  updated: number;
  folder: string;
}

/** Schema `DeploymentList`. */
export interface IDeploymentList {
  deployments: IDeploymentInfo[];
}

/** Traffic since the previous look (live) and since the start (schema `DeploymentStats`). */
export interface IDeploymentStats {
  requests_total: number;
  errors_total: number;
  rows_total: number;
  interval_seconds?: number | null;
  /** Requests per second over the interval. */
  request_rate?: number | null;
  /** Share of the interval's requests that failed. */
  error_rate?: number | null;
  latency_p50_ms?: number | null;
  latency_p95_ms?: number | null;
}

/** Schema `DeploymentLogs`. */
export interface IDeploymentLogs {
  name: string;
  text: string;
}

/** Schema `DeployRequest`: `model` is `NAME`, `NAME@ALIAS` or `NAME:VERSION`. */
export interface IDeployRequest {
  model: string;
  name?: string;
  replicas?: number;
  port?: number;
}

/** Schema `UpdateRequest`. */
export interface IUpdateRequest {
  model: string;
  replicas?: number;
}
