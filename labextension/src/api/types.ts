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

/** The columns of an experiment's runs table, pinned first (schema `ColumnChoice`). */
export interface IColumnChoice {
  experiment_id: string;
  /** `params.<name>` or `metrics.<name>`, in display order. */
  columns: string[];
  pinned: string[];
  /** `saved` (chosen by a user), `declared` (by the runs' cells) or `auto` (picked). */
  source: 'saved' | 'declared' | 'auto';
  /** Every column the experiment's recent runs have. */
  available: string[];
}

/** The columns to remember (schema `ColumnChoiceRequest`). */
export interface IColumnChoiceRequest {
  columns: string[];
  pinned?: string[];
}

/** A file or folder among a run's artifacts (schema `ArtifactFile`). */
export interface IArtifactFile {
  path: string;
  is_dir: boolean;
  file_size?: number | null;
}

/** A registered version made from a run's model (schema `RegisteredVersionRef`). */
export interface IRegisteredVersionRef {
  name: string;
  version: number;
  aliases: string[];
}

/** A model a run logged, with its registered versions (schema `LoggedModel`). */
export interface ILoggedModel {
  name: string;
  model_id?: string | null;
  artifact_location?: string | null;
  flavors: string[];
  versions: IRegisteredVersionRef[];
}

/** Everything a run's page shows, with the full history of each metric (schema `RunRecord`). */
export interface IRunRecord extends IRunSummary {
  metric_history: Record<string, IMetricPoint[]>;
  notebook?: string | null;
  notebook_snapshot?: string | null;
  git_commit?: string | null;
  declared_params: string[];
  declared_metrics: string[];
  features: string[];
  feature_views: Record<string, string>;
  models: ILoggedModel[];
  artifacts: IArtifactFile[];
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
  /** `history` (metric history, only with steps), `bars` and `parallel` (parallel coordinates). */
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
  /** Build the plotly figures (default true); without them the server answers faster. */
  figures?: boolean;
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
  /** The notebook as git saw it when the run started. */
  notebook_git?: 'committed' | 'modified' | 'untracked' | 'ignored' | null;
  /** The rule that ignores the notebook, e.g. `.gitignore:3`. */
  notebook_ignored_by?: string | null;
  /** How the run's code stood against its commit, in words. */
  git_standing?: string;
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
  /** `host:port` of the Open Inference Protocol gRPC service (null: no gRPC). */
  grpc_url?: string | null;
  state: DeploymentState;
  replicas: number;
  generation: number;
  serving: IServedVersion[];
  replica_processes: IReplicaInfo[];
  /** The warm spare replica waiting to replace one that dies (null: none). */
  spare_pid?: number | null;
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
  /** Port of the gRPC inference service; default: a free one; 0: no gRPC. */
  grpc_port?: number | null;
  /** With one replica, keep a warm spare replica; default: `[serving] warm_spare`. */
  spare?: boolean | null;
}

/** Schema `UpdateRequest`. */
export interface IUpdateRequest {
  model: string;
  replicas?: number;
}

// ---- Monitoring (jupyter_mlops/monitoring/schemas.py, monitoring/drift/report.py) ------------
// Times are ISO 8601 strings in UTC.

/** The part of a prediction log a figure was computed on (schema `WindowSpan`). */
export interface IWindowSpan {
  start?: string | null;
  end?: string | null;
  /** The last N predicted rows, when asked that way. */
  last?: number | null;
  /** How the window was asked for: `1h`, a time range, `last 500`. */
  label: string;
}

/** API figures of one served version, or of all (`version` null) (schema `VersionMetrics`). */
export interface IVersionMetrics {
  model: string;
  version?: number | null;
  requests: number;
  rows: number;
  errors: number;
  /** Share of requests answered with a status >= 400. */
  error_rate: number | null;
  errors_by_status: Record<string, number>;
  /** Requests per second. */
  request_rate?: number | null;
  latency_p50_ms?: number | null;
  latency_p95_ms?: number | null;
  latency_p99_ms?: number | null;
}

/** Schema `ApiMetrics`. */
export interface IApiMetrics {
  deployment: string;
  window: IWindowSpan;
  overall: IVersionMetrics;
  versions: IVersionMetrics[];
}

/** Schema `QualityMetrics`. */
export interface IQualityMetrics {
  model: string;
  version?: number | null;
  kind: 'classifier' | 'regressor';
  labelled: number;
  metrics: Record<string, number | null>;
}

/** Model quality on the predictions that got ground truth (schema `QualityReport`). */
export interface IQualityReport {
  deployment: string;
  window: IWindowSpan;
  predicted: number;
  labelled: number;
  overall?: IQualityMetrics | null;
  versions: IQualityMetrics[];
  message?: string | null;
}

/** Ground truth for one predicted row (schema `FeedbackItem`). */
export interface IFeedbackItem {
  request_id: string;
  row?: number;
  label: string | number | boolean;
}

/** Schema `FeedbackRequest`. */
export interface IFeedbackRequest {
  feedback: IFeedbackItem[];
}

/** Schema `FeedbackResult`. */
export interface IFeedbackResult {
  accepted: number;
  duplicates: number;
}

/** Schema `StaleView`. */
export interface IStaleView {
  view: string;
  version?: number | null;
  stale: boolean;
  last_event?: string | null;
  ttl_seconds?: number | null;
}

/** What an alert is about (schema `AlertKind`). */
export type AlertKind =
  | 'drift_share'
  | 'feature_drift'
  | 'error_rate'
  | 'latency'
  | 'quality'
  | 'stale_features';

/** A threshold crossed (`firing`) or back within it (`resolved`) (schema `AlertEvent`). */
export interface IAlertEvent {
  id: string;
  deployment: string;
  time: string;
  kind: AlertKind;
  state: 'firing' | 'resolved';
  /** The feature, metric or view concerned. */
  subject: string;
  value?: number | null;
  threshold?: number | null;
  message: string;
  window: IWindowSpan;
  /** The check whose report holds the evidence. */
  report_id: string;
  /** POSTed to the webhook (null: no webhook configured). */
  delivered?: boolean | null;
  delivery_error?: string | null;
}

/** Schema `EventList`. */
export interface IEventList {
  events: IAlertEvent[];
}

/** One point of a deployment's monitoring time series (schema `CheckSummary`). */
export interface ICheckSummary {
  id: string;
  deployment: string;
  time: string;
  window: IWindowSpan;
  rows: number;
  drift_share?: number | null;
  drifted: string[];
  requests: number;
  error_rate?: number | null;
  latency_p95_ms?: number | null;
  quality: Record<string, number | null>;
  stale_views: string[];
  /** Alerts firing after the check. */
  firing: string[];
}

/** Everything one check found (schema `CheckReport`). */
export interface ICheckReport {
  summary: ICheckSummary;
  metrics: IApiMetrics;
  drift?: IDriftReport | null;
  quality?: IQualityReport | null;
  freshness: IStaleView[];
  /** The events this check raised or resolved. */
  events: IAlertEvent[];
  message?: string | null;
}

/** A deployment's checks, oldest first (schema `CheckList`). */
export interface ICheckList {
  deployment: string;
  checks: ICheckSummary[];
}

/** How a deployment is doing, from its latest check (schema `MonitorStatus`). */
export interface IMonitorStatus {
  deployment: string;
  /** The deployment's state (running, stopped, ...). */
  state: string;
  /** `name:version` served. */
  serving: string[];
  request_rate?: number | null;
  error_rate?: number | null;
  latency_p95_ms?: number | null;
  drift_share?: number | null;
  drifted: string[];
  /** Alerts firing now. */
  firing: string[];
  last_check?: string | null;
  interval_seconds: number;
  window: string;
}

/** Schema `MonitorStatusList`. */
export interface IMonitorStatusList {
  deployments: IMonitorStatus[];
  scheduler: ISchedulerState;
}

/** The workspace's process that runs the scheduled checks (schema `SchedulerState`). */
export interface ISchedulerState {
  running: boolean;
  pid?: number | null;
  started?: string | null;
  heartbeat?: string | null;
  error?: string | null;
}

/** One test of one feature (schema `DriftCheck`). */
export interface IDriftCheck {
  test: string;
  statistic: number | null;
  p_value?: number | null;
  threshold: number;
  drifted: boolean;
}

/** Reference vs current: the share of all rows in each bin (schema `DriftChart`). */
export interface IDriftChart {
  bins: string[];
  reference: number[];
  current: number[];
  /** Numeric features: the bins' edges (the first and last bins are open). */
  edges?: number[] | null;
}

/** Schema `FeatureStatus`. */
export type FeatureDriftStatus =
  'ok' | 'drifted' | 'missing_in_current' | 'missing_in_reference' | 'no_data';

/** The drift of one feature: its main test, other checks and verdict (schema `FeatureDrift`). */
export interface IFeatureDrift {
  feature: string;
  kind?: 'numeric' | 'categorical' | null;
  status: FeatureDriftStatus;
  test?: string | null;
  statistic?: number | null;
  p_value?: number | null;
  threshold?: number | null;
  drifted: boolean;
  /** The checks that fired. */
  drifted_by: string[];
  reference_rows: number;
  current_rows: number;
  missing_rate_reference?: number | null;
  missing_rate_current?: number | null;
  infinite_count: number;
  infinite_count_reference: number;
  checks: IDriftCheck[];
  chart?: IDriftChart | null;
  message?: string | null;
}

/** Drift of a window against a reference, feature by feature (schema `DriftReport`). */
export interface IDriftReport {
  status: 'ok' | 'drifted' | 'no_data';
  message?: string | null;
  reference_source: string;
  reference_rows: number;
  current_rows: number;
  /** Family-wise alpha of the p-value checks. */
  alpha: number;
  /** The threshold of each p-value check (alpha / k). */
  check_alpha: number;
  /** Share of tested features that drifted; null if none was tested. */
  drift_share?: number | null;
  drifted: string[];
  features: IFeatureDrift[];
}

/** A file of the prediction log that retention dropped (schema `DroppedFile`). */
export interface IDroppedFile {
  file: string;
  requests: number;
  rows: number;
  bytes: number;
  /** `max_age_days` or `max_size_mb`. */
  reason: string;
  first: string;
  last: string;
  /** When it was dropped. */
  time: string;
}

/** What a deployment's prediction log holds, and what retention dropped (schema `LogInfo`). */
export interface ILogInfo {
  deployment: string;
  folder: string;
  parquet_files: number;
  parquet_bytes: number;
  /** JSON-lines segments not compacted yet. */
  pending_segments: number;
  pending_bytes: number;
  first?: string | null;
  last?: string | null;
  max_age_days: number;
  max_size_mb: number;
  dropped: IDroppedFile[];
}

/** Where a deployment's monitoring dashboard opens on this server (schema `DashboardLink`). */
export interface IDashboardLink {
  /** A path on the server with the deployment in the query: `/voila/render/...?deployment=churn`. */
  url: string;
  /** The dashboard notebook, relative to the server's root. */
  path: string;
}

/**
 * Which window of the prediction log: a duration ending now (`1h`), a time range, or the last N
 * predicted rows; nothing: the deployment's configured window.
 */
export interface IMonitorWindow {
  window?: string;
  start?: string;
  end?: string;
  last?: number;
}

/** A drift report's options: the window, and what to compare it with. */
export interface IDriftOptions extends IMonitorWindow {
  /** The served version whose reference to use (default: the main one). */
  version?: number;
  /** One drift test for every feature. */
  test?: string;
  /** Compare with the window of this duration just before, not the training profile. */
  against?: string;
}

/** Where a job stands. */
export type JobState =
  'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';

/** One variable of a notebook's `parameters` cell (schema `NotebookParameter`). */
export interface INotebookParameter {
  name: string;
  /** `int`, `float`, `bool`, `str`, `list`, `dict`, `tuple`, `None` or `any`, from the default. */
  type: string;
  /** The default as written in the cell (Python: `'base'`, `True`, `[1, 2]`). */
  default: string;
  help: string;
}

/** The parameters a notebook declares (schema `NotebookParameters`). */
export interface INotebookParameters {
  notebook: string;
  has_parameters_cell: boolean;
  parameters: INotebookParameter[];
  /** The experiment the notebook's first `%%mlops run` cell names: its jobs run there. */
  experiment?: string | null;
}

/** Run a notebook as a job (schema `JobRequest`). */
export interface IJobRequest {
  /** Path of the notebook, inside the workspace. */
  notebook: string;
  parameters?: JSONObject;
  experiment?: string | null;
  run_name?: string | null;
  sweep?: string | null;
}

/** Run a notebook once per parameter set: a grid or a list (schema `SweepRequest`). */
export interface ISweepRequest {
  notebook: string;
  grid?: Record<string, unknown[]>;
  sets?: JSONObject[];
  parameters?: JSONObject;
  experiment?: string | null;
  name?: string | null;
}

/** Run a job's notebook again; these parameters override the job's (schema `RerunRequest`). */
export interface IRerunRequest {
  parameters?: JSONObject;
}

/** The cell a failed job stopped at (schema `CellError`). */
export interface ICellError {
  /** Position of the cell in the user's notebook (0-based). */
  index: number;
  execution_count?: number | null;
  source: string;
  ename: string;
  evalue: string;
  traceback: string[];
}

/** A job: what was asked and where it stands (schema `Job`). */
export interface IJob {
  id: string;
  notebook: string;
  parameters: JSONObject;
  experiment: string;
  run_name?: string | null;
  sweep?: string | null;
  created: string;
  state: JobState;
  cells_done: number;
  cells_total: number;
  current_cell?: number | null;
  started?: string | null;
  finished?: string | null;
  duration_seconds?: number | null;
  /** The job's MLflow run. */
  run_id?: string | null;
  /** Workspace-relative path of the executed notebook. */
  output?: string | null;
  worker?: string | null;
  error?: ICellError | null;
  message?: string | null;
  /** Times a worker died under it. */
  interrupted: number;
  warnings: string[];
}

/** Schema `JobList`: newest first. */
export interface IJobList {
  jobs: IJob[];
}

/** A group of jobs over parameter sets (schema `Sweep`). */
export interface ISweep {
  id: string;
  notebook: string;
  experiment: string;
  jobs: IJob[];
}

/** What a job's cells printed, cell by cell (schema `JobLog`). */
export interface IJobLog {
  id: string;
  state: JobState;
  text: string;
}

/** The job executor: its slots and whether a worker holds each (schema `ExecutorState`). */
export interface IExecutorState {
  executor: string;
  slots: number;
  busy: string[];
  alive: string[];
  /** Slots idle with a warm kernel, ready for a job. */
  ready: string[];
  queued: number;
}

// ---- A/B tests (jupyter_mlops/abtest/schemas.py) ----------------------------------------------
// Times are ISO 8601 strings in UTC. The variants are always `champion` and `challenger`.

export type AbOutcomeKind = 'binary' | 'numeric' | 'label';
export type AbVerdict =
  'challenger_better' | 'challenger_worse' | 'no_difference_yet';
export type AbWinner = 'champion' | 'challenger';

/** A frequentist test of the difference treatment − control (schema `TestResult`). */
export interface ITestResult {
  test: string;
  statistic: number;
  p_value: number;
  effect: number;
  ci_low: number;
  ci_high: number;
  alpha: number;
  df?: number | null;
}

/** Beta-binomial posteriors of both rates (schema `BayesResult`). */
export interface IBayesResult {
  probability_better: number;
  ci_low: number;
  ci_high: number;
  credibility: number;
  prior_alpha: number;
  prior_beta: number;
  method: 'exact' | 'integrated';
}

/** A bootstrap interval of the difference of means (schema `BootstrapResult`). */
export interface IBootstrapResult {
  effect: number;
  ci_low: number;
  ci_high: number;
  confidence: number;
  resamples: number;
  seed: number;
  method: string;
  resampling: string;
}

/** The mixture sequential test at the last look: valid however often one looks (schema `SequentialResult`). */
export interface ISequentialResult {
  /** Always-valid p-value. */
  p_value: number;
  effect: number;
  ci_low: number;
  ci_high: number;
  likelihood_ratio: number;
  mixing_variance: number;
  alpha: number;
  looks: number;
  p_values: number[];
}

/** Rows needed per variant to detect an effect, and how long that takes (schema `SampleSize`). */
export interface ISampleSize {
  kind: AbOutcomeKind;
  control_n: number;
  treatment_n: number;
  total_n: number;
  baseline: number;
  mde_absolute: number;
  mde_relative: number | null;
  effect_size: number;
  alpha: number;
  power: number;
  ratio: number;
  two_sided: boolean;
  traffic_per_hour?: number | null;
  share?: number | null;
  hours?: number | null;
  days?: number | null;
}

/** Sample-ratio mismatch: do the assignments fit the split? (schema `SrmCheck`). */
export interface ISrmCheck {
  variants: string[];
  counts: number[];
  expected_shares: number[];
  statistic: number;
  p_value: number;
  threshold: number;
  mismatch: boolean;
  message: string;
}

/** One variant's rows and outcome (schema `VariantSummary`). */
export interface IVariantSummary {
  name: string;
  assigned: number;
  /** Rows with an outcome: what the tests use. */
  n: number;
  /** The conversion rate (binary) or the mean outcome (numeric). */
  mean: number;
  sd: number;
  successes?: number | null;
}

/** The challenger's effect with its always-valid interval (schema `Effect`). */
export interface IEffect {
  absolute: number;
  absolute_low: number;
  absolute_high: number;
  relative: number | null;
  relative_low: number | null;
  relative_high: number | null;
}

/** One challenger against the control (schema `AbComparison`). */
export interface IAbComparison {
  control: string;
  treatment: string;
  alpha: number;
  effect: IEffect;
  sequential: ISequentialResult;
  fixed_horizon: ITestResult;
  bayes?: IBayesResult | null;
  bootstrap?: IBootstrapResult | null;
  /** The sequential test's verdict. */
  verdict: AbVerdict;
  verdict_text: string;
}

/** An A/B test's outcomes analysed (schema `AbAnalysis`). */
export interface IAbAnalysis {
  kind: AbOutcomeKind;
  variant_col: string;
  outcome_col: string;
  alpha: number;
  higher_is_better: boolean;
  control: string;
  variants: IVariantSummary[];
  comparisons: IAbComparison[];
  srm: ISrmCheck;
  dropped_rows: number;
  planned_n: number;
  peeking_warning: string;
}

/** How an A/B test ended (schema `AbDecision`). */
export interface IAbDecision {
  winner: AbWinner;
  version: number;
  decided_by: string;
  decided_at: string;
  alias_moved: boolean;
  verdict?: AbVerdict | null;
  analysis?: IAbAnalysis | null;
}

/** An A/B test of a deployment (schema `AbExperiment`). */
export interface IAbExperiment {
  id: string;
  deployment: string;
  model: string;
  champion: number;
  challenger: number;
  /** Percent of requests to the champion and the challenger. */
  split: number[];
  sticky_key?: string | null;
  metric: string;
  kind: AbOutcomeKind;
  shadow: boolean;
  planned_n?: number | null;
  started: string;
  started_by: string;
  state: 'running' | 'stopped';
  decision?: IAbDecision | null;
}

/** Schema `AbList`: newest first. */
export interface IAbList {
  experiments: IAbExperiment[];
}

/** Start an A/B test against the deployment's current version (schema `AbStartRequest`). */
export interface IAbStartRequest {
  challenger: number;
  split?: number[];
  sticky_key?: string | null;
  metric?: string;
  kind?: AbOutcomeKind;
  shadow?: boolean;
  planned_n?: number | null;
}

/** Schema `AbSplitRequest`. */
export interface IAbSplitRequest {
  split: number[];
}

/** Schema `AbStopRequest`. */
export interface IAbStopRequest {
  winner: AbWinner;
}

/** One outcome, by request id or by sticky key (schema `OutcomeItem`). */
export interface IOutcomeItem {
  request_id?: string | null;
  key?: string | null;
  value: number | boolean | string;
}

/** Schema `OutcomesRequest`. */
export interface IOutcomesRequest {
  outcomes: IOutcomeItem[];
}

/** Schema `OutcomesResult`. */
export interface IOutcomesResult {
  accepted: number;
  /** Outcomes already recorded, not counted again. */
  duplicates: number;
}

/** Latency and errors of one variant over the test (schema `VariantGuardrail`). */
export interface IVariantGuardrail {
  variant: AbWinner;
  version: number;
  requests: number;
  errors: number;
  error_rate: number | null;
  latency_p50_ms: number | null;
  latency_p95_ms: number | null;
}

/** Where an A/B test stands (schema `AbStatus`). */
export interface IAbStatus {
  experiment: IAbExperiment;
  /** What a row of the analysis is: a request, or a sticky key's user. */
  unit: 'request' | 'key';
  assigned: Record<string, number>;
  with_outcome: Record<string, number>;
  analysis?: IAbAnalysis | null;
  guardrails: IVariantGuardrail[];
  /** Kind `label`: prediction quality per version (variant). */
  quality?: IQualityReport | null;
  shadow_requests: number;
  message?: string | null;
}

// ---- Pipelines (jupyter_mlops/pipelines/schemas.py) -------------------------------------------
// Continuous training: declared pipelines, their runs and the events that asked for them, and a
// model version's lineage as a chain. Times are ISO 8601 strings in UTC.

/** What can ask a pipeline to run (`manual` needs no declaration). */
export type TriggerKind =
  'schedule' | 'ingest' | 'freshness' | 'alert' | 'manual';
/** What came of a trigger event. */
export type EventOutcome = 'started' | 'absorbed' | 'missed' | 'disabled';
/** The steps of a run, in order. */
export type StepName =
  'job' | 'gates' | 'register' | 'alias' | 'abtest' | 'promote';
export type StepState =
  'pending' | 'running' | 'waiting' | 'succeeded' | 'failed' | 'skipped';
/** `waiting`: the run waits on its A/B test's verdict. */
export type RunState =
  'running' | 'waiting' | 'succeeded' | 'failed' | 'cancelled';
/** What one link of a lineage chain is. */
export type LinkKind =
  | 'deployment'
  | 'abtest'
  | 'version'
  | 'pipeline_run'
  | 'trigger'
  | 'job'
  | 'run'
  | 'gates'
  | 'notebook'
  | 'features'
  | 'commit';

/** A cron schedule (schema `ScheduleTrigger`). */
export interface IScheduleTrigger {
  kind: 'schedule';
  /** Five fields (minute hour day month weekday), or `@daily`-style. */
  cron: string;
  /** IANA zone the schedule is read in. */
  timezone: string;
}

/** New rows ingested into a feature view (schema `IngestTrigger`). */
export interface IIngestTrigger {
  kind: 'ingest';
  view: string;
}

/** A feature view's newest row gets older than its TTL (schema `FreshnessTrigger`). */
export interface IFreshnessTrigger {
  kind: 'freshness';
  view: string;
}

/** A monitoring alert that starts firing on a deployment (schema `AlertTrigger`). */
export interface IAlertTrigger {
  kind: 'alert';
  deployment: string;
  /** Alert kinds that count; empty: any alert. */
  alerts: AlertKind[];
}

/** A declared trigger, told apart by its `kind`. */
export type PipelineTrigger =
  IScheduleTrigger | IIngestTrigger | IFreshnessTrigger | IAlertTrigger;

/** An A/B test of the challenger against the deployment's champion (schema `AbTestStep`). */
export interface IAbTestStep {
  deployment: string;
  /** Champion/challenger percent. */
  split: number[];
  sticky_key?: string | null;
  metric: string;
  kind: 'binary' | 'numeric';
  /** Promote the winner once the test concludes with guardrails met. */
  promote: boolean;
  max_error_rate_increase: number;
  max_latency_ratio: number;
}

/** One pipeline as declared (schema `PipelineSpec`). */
export interface IPipelineSpec {
  name: string;
  /** Workspace-relative path of the training notebook. */
  notebook: string;
  /** The registered model a passing run is registered as. */
  model: string;
  parameters: JSONObject;
  experiment?: string | null;
  /** Checks in the `ci` language, e.g. `auc>=champion`. */
  gates: string[];
  triggers: PipelineTrigger[];
  /** Alias given to a passing version. */
  alias: string;
  abtest?: IAbTestStep | null;
  /** Events within this long of a run's start are absorbed by it. */
  debounce_seconds: number;
  /** The job's longest run. */
  timeout_seconds: number;
  description: string;
}

/** A declared trigger in words, with its next firing for a schedule (schema `TriggerInfo`). */
export interface ITriggerInfo {
  kind: TriggerKind;
  text: string;
  next_fire?: string | null;
}

/** Something that asked a pipeline to run, and what came of it (schema `TriggerEvent`). */
export interface ITriggerEvent {
  /** Deterministic per source: the same event is never taken twice. */
  id: string;
  pipeline: string;
  kind: TriggerKind;
  /** When it happened (the alert, the batch, the tick). */
  time: string;
  /** When the pipeline took it. */
  received: string;
  summary: string;
  /** Alert: event id, report id, value, threshold; ingest: batch file, rows; manual: who. */
  evidence: JSONObject;
  outcome: EventOutcome;
  /** The run it started or joined. */
  run_id?: string | null;
  note?: string | null;
}

/** One step of a run (schema `RunStep`). */
export interface IRunStep {
  name: StepName;
  state: StepState;
  started?: string | null;
  ended?: string | null;
  detail: string;
  data: JSONObject;
}

/** One run of a pipeline: the event that started it and each step (schema `PipelineRun`). */
export interface IPipelineRun {
  id: string;
  pipeline: string;
  pipeline_version: number;
  state: RunState;
  created: string;
  ended?: string | null;
  trigger: ITriggerEvent;
  /** Later events this run absorbed. */
  absorbed: number;
  steps: IRunStep[];
  job_id?: string | null;
  /** The MLflow run of the job. */
  run_id?: string | null;
  model: string;
  model_version?: number | null;
  abtest_id?: string | null;
  message?: string | null;
}

/** Schema `PipelineRunList`: newest first. */
export interface IPipelineRunList {
  runs: IPipelineRun[];
}

/** Schema `TriggerEventList`: newest first. */
export interface ITriggerEventList {
  events: ITriggerEvent[];
}

/** An applied pipeline: its spec, state and last run (schema `PipelineInfo`). */
export interface IPipelineInfo {
  name: string;
  version: number;
  enabled: boolean;
  /** `mlops.toml` or `pipelines/<file>.py`. */
  source: string;
  applied: string;
  spec: IPipelineSpec;
  triggers: ITriggerInfo[];
  last_run?: IPipelineRun | null;
  /** The run going, if any. */
  active_run?: string | null;
  runs: number;
}

/** Schema `PipelineList`: the applied pipelines and the scheduler that watches them. */
export interface IPipelineList {
  pipelines: IPipelineInfo[];
  scheduler: ISchedulerState;
}

/** What applying one declaration would change (schema `PipelineChange`). */
export interface IPipelineChange {
  name: string;
  action: 'create' | 'update' | 'unchanged' | 'remove';
  /** The version applying makes or keeps. */
  version?: number | null;
  source: string;
  diff: string[];
}

/** What applying the declarations would change, or changed (schema `PipelinePlan`). */
export interface IPipelinePlan {
  changes: IPipelineChange[];
  applied: boolean;
}

/** Run a pipeline now (schema `RunNowRequest`). */
export interface IRunNowRequest {
  reason?: string;
}

/** The event a run-now made, and the run it started or joined (schema `RunNowResult`). */
export interface IRunNowResult {
  event: ITriggerEvent;
  run?: IPipelineRun | null;
}

/** Schema `EnableRequest`. */
export interface IEnableRequest {
  enabled: boolean;
}

/** One link of a version's lineage, with the ids a face needs to open it (schema `ChainLink`). */
export interface IChainLink {
  kind: LinkKind;
  title: string;
  detail: string;
  time?: string | null;
  /** Ids to open: deployment, abtest, model, version, pipeline, pipeline_run, job, run, notebook, views. */
  refs: Record<string, string>;
}

/** Why a model version exists and what serves it (schema `LineageChain`). */
export interface ILineageChain {
  model: string;
  version: number;
  aliases: string[];
  links: IChainLink[];
  pipeline_run?: IPipelineRun | null;
}
