import { ServerConnection } from '@jupyterlab/services';
import { JSONObject } from '@lumino/coreutils';

import { encodeQuery, QueryParams, requestAPI } from './request';
import {
  IAbExperiment,
  IAbList,
  IAbStartRequest,
  IAbStatus,
  AbOutcomeKind,
  AbWinner,
  IAlertEvent,
  IApiMetrics,
  ICheckList,
  ICheckReport,
  IComparison,
  IComparisonQuery,
  IDashboardLink,
  IDeploymentInfo,
  IDeploymentList,
  IDeploymentLogs,
  IDeploymentStats,
  IDeployRequest,
  IDriftOptions,
  IDriftReport,
  IEventList,
  IExecutorState,
  IExperiment,
  IExperimentList,
  IFeatureSnippet,
  IFeatureUsage,
  IFeatureViewDetail,
  IFeatureViewDiff,
  IFeatureViewList,
  IFeatureViewStats,
  IFeatureViewSummary,
  IFeatureViewVersions,
  IFeedbackRequest,
  IFeedbackResult,
  IJob,
  IJobList,
  IJobLog,
  IJobRequest,
  ILineageChain,
  IModelList,
  IModelVersionDetail,
  IModelVersionInfo,
  IMonitorStatusList,
  IOutcomeItem,
  IOutcomesResult,
  IMonitorWindow,
  INotebookParameters,
  IPipelineInfo,
  IPipelineList,
  IPipelineRun,
  IPipelineRunList,
  IPromoteRequest,
  IPromotion,
  IQualityReport,
  IRegisteredModelDetail,
  IRegisteredModelInfo,
  IRegisterRequest,
  IColumnChoice,
  IColumnChoiceRequest,
  IRunRecord,
  IRunPage,
  IRunQuery,
  IRunNowResult,
  ISampleSize,
  ISchedulerState,
  ISweep,
  ISweepRequest,
  ITriggerEvent,
  ITriggerEventList,
  IUpdateRequest,
  JobState
} from './types';

/** The typed client of the jupyter-mlops REST API: one method per endpoint. */
export class MlopsClient {
  constructor(options: MlopsClient.IOptions = {}) {
    this.serverSettings =
      options.serverSettings ?? ServerConnection.makeSettings();
  }

  readonly serverSettings: ServerConnection.ISettings;

  /** `GET mlops/api/experiments` */
  async listExperiments(
    options: { includeDeleted?: boolean } = {}
  ): Promise<IExperiment[]> {
    const search = encodeQuery({
      include_deleted: options.includeDeleted ? true : undefined
    });
    const body = await this._get<IExperimentList>(`experiments${search}`);
    return body.experiments;
  }

  /** `GET mlops/api/experiments/{experiment_id}` */
  getExperiment(experimentId: string): Promise<IExperiment> {
    return this._get<IExperiment>(
      `experiments/${encodeURIComponent(experimentId)}`
    );
  }

  /** `GET mlops/api/experiments/{experiment_id}/runs` — one page of runs. */
  listRuns(experimentId: string, query: IRunQuery = {}): Promise<IRunPage> {
    const search = encodeQuery({
      filter: query.filter?.trim(),
      order_by: query.orderBy,
      max_results: query.maxResults,
      page_token: query.pageToken
    });
    return this._get<IRunPage>(
      `experiments/${encodeURIComponent(experimentId)}/runs${search}`
    );
  }

  /** `GET mlops/api/runs/{run_id}` — a run's page: histories, origin, models, artifacts. */
  getRun(runId: string): Promise<IRunRecord> {
    return this._get<IRunRecord>(`runs/${encodeURIComponent(runId)}`);
  }

  /** `GET mlops/api/experiments/{experiment_id}/columns` — the runs table's columns. */
  getRunColumns(experimentId: string): Promise<IColumnChoice> {
    return this._get<IColumnChoice>(
      `experiments/${encodeURIComponent(experimentId)}/columns`
    );
  }

  /** `PUT mlops/api/experiments/{experiment_id}/columns` — remember the columns. */
  setRunColumns(
    experimentId: string,
    request: IColumnChoiceRequest
  ): Promise<IColumnChoice> {
    return this._send<IColumnChoice>(
      'PUT',
      `experiments/${encodeURIComponent(experimentId)}/columns`,
      request
    );
  }

  /** `DELETE mlops/api/experiments/{experiment_id}/columns` — back to the default columns. */
  resetRunColumns(experimentId: string): Promise<IColumnChoice> {
    return this._send<IColumnChoice>(
      'DELETE',
      `experiments/${encodeURIComponent(experimentId)}/columns`
    );
  }

  /** `GET mlops/api/comparisons` */
  compareRuns(query: IComparisonQuery): Promise<IComparison> {
    const search = encodeQuery({
      run_id: query.runIds,
      diff_only: query.diffOnly ?? false,
      group_by_seed: query.groupBySeed ?? false,
      seed_param: query.seedParam,
      figures: query.figures ?? true
    });
    return this._get<IComparison>(`comparisons${search}`);
  }

  /** `GET mlops/api/features/views` — the latest version of every view, optionally searched. */
  async listFeatureViews(
    options: { search?: string } = {}
  ): Promise<IFeatureViewSummary[]> {
    const search = encodeQuery({ search: options.search?.trim() });
    const body = await this._get<IFeatureViewList>(`features/views${search}`);
    return body.views;
  }

  /** `GET mlops/api/features/views/{name}` — a view's latest version, or `version`. */
  getFeatureView(
    name: string,
    options: { version?: number } = {}
  ): Promise<IFeatureViewDetail> {
    const search = encodeQuery({ version: options.version });
    return this._get<IFeatureViewDetail>(
      `features/views/${encodeURIComponent(name)}${search}`
    );
  }

  /** `GET mlops/api/features/views/{name}/versions` — newest first. */
  async listFeatureViewVersions(name: string): Promise<IFeatureViewSummary[]> {
    const body = await this._get<IFeatureViewVersions>(
      `features/views/${encodeURIComponent(name)}/versions`
    );
    return body.versions;
  }

  /** `GET mlops/api/features/views/{name}/diff` */
  diffFeatureView(
    name: string,
    fromVersion: number,
    toVersion: number
  ): Promise<IFeatureViewDiff> {
    const search = encodeQuery({
      from_version: fromVersion,
      to_version: toVersion
    });
    return this._get<IFeatureViewDiff>(
      `features/views/${encodeURIComponent(name)}/diff${search}`
    );
  }

  /** `GET mlops/api/features/views/{name}/stats` — size, freshness and per-feature statistics. */
  getFeatureViewStats(
    name: string,
    options: { version?: number } = {}
  ): Promise<IFeatureViewStats> {
    const search = encodeQuery({ version: options.version });
    return this._get<IFeatureViewStats>(
      `features/views/${encodeURIComponent(name)}/stats${search}`
    );
  }

  /** `GET mlops/api/features/views/{name}/usage` — runs, models and deployments per version. */
  getFeatureViewUsage(name: string): Promise<IFeatureUsage> {
    return this._get<IFeatureUsage>(
      `features/views/${encodeURIComponent(name)}/usage`
    );
  }

  /** `GET mlops/api/features/snippet` — Python that builds a training frame from `features`. */
  async getTrainingFrameSnippet(features: string[]): Promise<string> {
    const body = await this._get<IFeatureSnippet>(
      `features/snippet${encodeQuery({ feature: features })}`
    );
    return body.code;
  }

  /** `GET mlops/api/models` */
  async listModels(): Promise<IRegisteredModelInfo[]> {
    const body = await this._get<IModelList>('models');
    return body.models;
  }

  /** `POST mlops/api/models` — register a run's logged model as a new version. */
  registerModel(request: IRegisterRequest): Promise<IModelVersionDetail> {
    return this._send<IModelVersionDetail>('POST', 'models', request);
  }

  /** `GET mlops/api/models/{name}` — the model and its versions, newest first. */
  getModel(name: string): Promise<IRegisteredModelDetail> {
    return this._get<IRegisteredModelDetail>(
      `models/${encodeURIComponent(name)}`
    );
  }

  /** `GET mlops/api/models/{name}/versions/{version}` — a version and its lineage. */
  getModelVersion(name: string, version: number): Promise<IModelVersionDetail> {
    return this._get<IModelVersionDetail>(
      `models/${encodeURIComponent(name)}/versions/${version}`
    );
  }

  /** `POST mlops/api/models/{name}/versions/{version}/promotions` — a gated alias move. */
  promoteModelVersion(
    name: string,
    version: number,
    request: IPromoteRequest
  ): Promise<IPromotion> {
    return this._send<IPromotion>(
      'POST',
      `models/${encodeURIComponent(name)}/versions/${version}/promotions`,
      request
    );
  }

  /** `PUT mlops/api/models/{name}/aliases/{alias}` — point an alias at a version (no gates). */
  setModelAlias(
    name: string,
    alias: string,
    version: number
  ): Promise<IModelVersionInfo> {
    return this._send<IModelVersionInfo>(
      'PUT',
      `models/${encodeURIComponent(name)}/aliases/${encodeURIComponent(alias)}`,
      { version }
    );
  }

  /** `DELETE mlops/api/models/{name}/aliases/{alias}` */
  async deleteModelAlias(name: string, alias: string): Promise<void> {
    await this._send<JSONObject>(
      'DELETE',
      `models/${encodeURIComponent(name)}/aliases/${encodeURIComponent(alias)}`
    );
  }

  /** `GET mlops/api/deployments` */
  async listDeployments(): Promise<IDeploymentInfo[]> {
    const body = await this._get<IDeploymentList>('deployments');
    return body.deployments;
  }

  /** `POST mlops/api/deployments` — answers once the server answers (seconds). */
  deploy(request: IDeployRequest): Promise<IDeploymentInfo> {
    return this._send<IDeploymentInfo>('POST', 'deployments', request);
  }

  /** `GET mlops/api/deployments/{name}` */
  getDeployment(name: string): Promise<IDeploymentInfo> {
    return this._get<IDeploymentInfo>(
      `deployments/${encodeURIComponent(name)}`
    );
  }

  /** `PATCH mlops/api/deployments/{name}` — move to another version, zero downtime. */
  updateDeployment(
    name: string,
    request: IUpdateRequest
  ): Promise<IDeploymentInfo> {
    return this._send<IDeploymentInfo>(
      'PATCH',
      `deployments/${encodeURIComponent(name)}`,
      request
    );
  }

  /** `POST mlops/api/deployments/{name}/stop` — stop it (it stays stopped). */
  stopDeployment(name: string): Promise<IDeploymentInfo> {
    return this._send<IDeploymentInfo>(
      'POST',
      `deployments/${encodeURIComponent(name)}/stop`
    );
  }

  /** `POST mlops/api/deployments/{name}/start` — start a stopped one on its ports. */
  startDeployment(name: string): Promise<IDeploymentInfo> {
    return this._send<IDeploymentInfo>(
      'POST',
      `deployments/${encodeURIComponent(name)}/start`
    );
  }

  /** `DELETE mlops/api/deployments/{name}` — remove a stopped one (its log stays). */
  removeDeployment(name: string): Promise<IDeploymentInfo> {
    return this._send<IDeploymentInfo>(
      'DELETE',
      `deployments/${encodeURIComponent(name)}`
    );
  }

  /**
   * `GET mlops/api/deployments/{name}/stats` — rate and percentiles cover the time since the
   * previous call, so poll it (every ~2 s) for live figures.
   */
  getDeploymentStats(name: string): Promise<IDeploymentStats> {
    return this._get<IDeploymentStats>(
      `deployments/${encodeURIComponent(name)}/stats`
    );
  }

  /** `GET mlops/api/deployments/{name}/logs` — the last `lines` lines of each log. */
  async getDeploymentLogs(name: string, lines = 200): Promise<string> {
    const body = await this._get<IDeploymentLogs>(
      `deployments/${encodeURIComponent(name)}/logs${encodeQuery({ lines })}`
    );
    return body.text;
  }

  /** `GET mlops/api/monitoring` — every deployment at a glance, and the scheduler. */
  getMonitoring(): Promise<IMonitorStatusList> {
    return this._get<IMonitorStatusList>('monitoring');
  }

  /** `GET mlops/api/monitoring/scheduler` */
  getMonitoringScheduler(): Promise<ISchedulerState> {
    return this._get<ISchedulerState>('monitoring/scheduler');
  }

  /** `POST mlops/api/monitoring/scheduler` — start the scheduler unless it runs. */
  startMonitoringScheduler(): Promise<ISchedulerState> {
    return this._send<ISchedulerState>('POST', 'monitoring/scheduler');
  }

  /**
   * `GET mlops/api/monitoring/events` (every deployment's) or
   * `GET mlops/api/monitoring/deployments/{name}/events` — oldest first, since `since` (ISO).
   */
  async listMonitoringEvents(
    options: { deployment?: string; since?: string } = {}
  ): Promise<IAlertEvent[]> {
    const search = encodeQuery({ since: options.since });
    const path =
      options.deployment === undefined
        ? 'monitoring/events'
        : `${monitored(options.deployment)}/events`;
    const body = await this._get<IEventList>(`${path}${search}`);
    return body.events;
  }

  /** `GET mlops/api/monitoring/deployments/{name}` — one deployment at a glance. */
  getDeploymentMonitoring(name: string): Promise<IMonitorStatusList> {
    return this._get<IMonitorStatusList>(monitored(name));
  }

  /** `GET mlops/api/monitoring/deployments/{name}/drift` */
  getDriftReport(
    name: string,
    options: IDriftOptions = {}
  ): Promise<IDriftReport> {
    const search = encodeQuery({
      ...windowQuery(options),
      version: options.version,
      test: options.test,
      against: options.against
    });
    return this._get<IDriftReport>(`${monitored(name)}/drift${search}`);
  }

  /** `GET mlops/api/monitoring/deployments/{name}/metrics` — rate, errors, latency. */
  getApiMetrics(
    name: string,
    window: IMonitorWindow = {}
  ): Promise<IApiMetrics> {
    return this._get<IApiMetrics>(
      `${monitored(name)}/metrics${encodeQuery(windowQuery(window))}`
    );
  }

  /** `GET mlops/api/monitoring/deployments/{name}/quality` */
  getQualityReport(
    name: string,
    window: IMonitorWindow = {}
  ): Promise<IQualityReport> {
    return this._get<IQualityReport>(
      `${monitored(name)}/quality${encodeQuery(windowQuery(window))}`
    );
  }

  /** `GET mlops/api/monitoring/deployments/{name}/checks` — the time series, oldest first. */
  listChecks(
    name: string,
    options: { limit?: number } = {}
  ): Promise<ICheckList> {
    return this._get<ICheckList>(
      `${monitored(name)}/checks${encodeQuery({ limit: options.limit })}`
    );
  }

  /** `POST mlops/api/monitoring/deployments/{name}/checks` — run a check now and store it. */
  runCheck(name: string, window: IMonitorWindow = {}): Promise<ICheckReport> {
    return this._send<ICheckReport>(
      'POST',
      `${monitored(name)}/checks${encodeQuery(windowQuery(window))}`
    );
  }

  /** `GET mlops/api/monitoring/deployments/{name}/checks/{check_id}` */
  getCheck(name: string, checkId: string): Promise<ICheckReport> {
    return this._get<ICheckReport>(
      `${monitored(name)}/checks/${encodeURIComponent(checkId)}`
    );
  }

  /**
   * `GET mlops/api/monitoring/deployments/{name}/dashboard` — installs the monitoring dashboard
   * in the workspace if needed, and says where Voila renders it on this server.
   */
  getDashboardLink(name: string): Promise<IDashboardLink> {
    return this._get<IDashboardLink>(`${monitored(name)}/dashboard`);
  }

  /** `POST mlops/api/monitoring/deployments/{name}/feedback` — ground truth by request id. */
  sendFeedback(
    name: string,
    request: IFeedbackRequest
  ): Promise<IFeedbackResult> {
    return this._send<IFeedbackResult>(
      'POST',
      `${monitored(name)}/feedback`,
      request
    );
  }

  /** `GET mlops/api/jobs` — jobs, newest first. */
  async listJobs(
    query: { state?: JobState; sweep?: string; limit?: number } = {}
  ): Promise<IJob[]> {
    const search = encodeQuery({
      state: query.state,
      sweep: query.sweep,
      limit: query.limit
    });
    return (await this._get<IJobList>(`jobs${search}`)).jobs;
  }

  /** `POST mlops/api/jobs` — queue a notebook with parameters as a job. */
  submitJob(request: IJobRequest): Promise<IJob> {
    return this._send<IJob>('POST', 'jobs', request);
  }

  /** `GET mlops/api/jobs/parameters` — the parameters a notebook declares. */
  getNotebookParameters(notebook: string): Promise<INotebookParameters> {
    return this._get<INotebookParameters>(
      `jobs/parameters${encodeQuery({ notebook })}`
    );
  }

  /** `POST mlops/api/jobs/sweeps` — a job per parameter set. */
  submitSweep(request: ISweepRequest): Promise<ISweep> {
    return this._send<ISweep>('POST', 'jobs/sweeps', request);
  }

  /** `GET mlops/api/jobs/executor` */
  getJobExecutor(): Promise<IExecutorState> {
    return this._get<IExecutorState>('jobs/executor');
  }

  /** `GET mlops/api/jobs/{job}` (a unique prefix of the id is enough). */
  getJob(id: string): Promise<IJob> {
    return this._get<IJob>(job(id));
  }

  /** `POST mlops/api/jobs/{job}/cancel` — a 409 once the job has finished. */
  cancelJob(id: string): Promise<IJob> {
    return this._send<IJob>('POST', `${job(id)}/cancel`);
  }

  /** `POST mlops/api/jobs/{job}/rerun` — the job's notebook again, `parameters` overriding. */
  rerunJob(id: string, parameters: JSONObject = {}): Promise<IJob> {
    return this._send<IJob>('POST', `${job(id)}/rerun`, { parameters });
  }

  /** `GET mlops/api/jobs/{job}/log` — what the job's cells printed, and the job's state then. */
  getJobLog(id: string): Promise<IJobLog> {
    return this._get<IJobLog>(`${job(id)}/log`);
  }

  /** `GET mlops/api/abtests` — A/B tests, newest first (of one deployment when named). */
  async listAbTests(deployment?: string): Promise<IAbExperiment[]> {
    const body = await this._get<IAbList>(
      `abtests${encodeQuery({ deployment })}`
    );
    return body.experiments;
  }

  /** `GET mlops/api/abtests/plan` — rows per variant to detect an effect, and how long. */
  planAbTest(query: MlopsClient.IAbPlanQuery): Promise<ISampleSize> {
    const search = encodeQuery({
      kind: query.kind,
      baseline: query.baseline,
      mde: query.mde,
      relative: query.relative,
      sd: query.sd,
      alpha: query.alpha,
      power: query.power,
      share: query.share,
      traffic: query.traffic
    });
    return this._get<ISampleSize>(`abtests/plan${search}`);
  }

  /**
   * `GET mlops/api/deployments/{name}/abtest` — the running test (else the last one) with its
   * analysis and guardrails; a 404 when the deployment never had one.
   */
  getAbTest(deployment: string): Promise<IAbStatus> {
    return this._get<IAbStatus>(abtest(deployment));
  }

  /** `POST mlops/api/deployments/{name}/abtest` — the deployment's version against a challenger. */
  startAbTest(
    deployment: string,
    request: IAbStartRequest
  ): Promise<IAbExperiment> {
    return this._send<IAbExperiment>('POST', abtest(deployment), request);
  }

  /** `PATCH mlops/api/deployments/{name}/abtest` — move traffic, no downtime. */
  setAbSplit(deployment: string, split: number[]): Promise<IAbExperiment> {
    return this._send<IAbExperiment>('PATCH', abtest(deployment), { split });
  }

  /** `POST mlops/api/deployments/{name}/abtest/outcomes` — by request id or sticky key. */
  recordAbOutcomes(
    deployment: string,
    outcomes: IOutcomeItem[]
  ): Promise<IOutcomesResult> {
    return this._send<IOutcomesResult>(
      'POST',
      `${abtest(deployment)}/outcomes`,
      { outcomes }
    );
  }

  /** `POST mlops/api/deployments/{name}/abtest/stop` — the winner serves alone. */
  stopAbTest(deployment: string, winner: AbWinner): Promise<IAbExperiment> {
    return this._send<IAbExperiment>('POST', `${abtest(deployment)}/stop`, {
      winner
    });
  }

  /** `GET mlops/api/pipelines` — applied pipelines with triggers and last run, and the scheduler. */
  getPipelines(): Promise<IPipelineList> {
    return this._get<IPipelineList>('pipelines');
  }

  /** `PATCH mlops/api/pipelines/{name}` — a disabled pipeline records its events, runs none. */
  setPipelineEnabled(name: string, enabled: boolean): Promise<IPipelineInfo> {
    return this._send<IPipelineInfo>('PATCH', pipeline(name), { enabled });
  }

  /** `GET mlops/api/pipelines/{name}/runs` — runs, newest first. */
  async listPipelineRuns(
    name: string,
    query: { limit?: number } = {}
  ): Promise<IPipelineRun[]> {
    const search = encodeQuery({ limit: query.limit });
    return (
      await this._get<IPipelineRunList>(`${pipeline(name)}/runs${search}`)
    ).runs;
  }

  /**
   * `POST mlops/api/pipelines/{name}/runs` — run it now: a new run, or the event joins the run
   * going (absorbed); a 409 when the pipeline is disabled.
   */
  runPipeline(name: string, reason = ''): Promise<IRunNowResult> {
    return this._send<IRunNowResult>('POST', `${pipeline(name)}/runs`, {
      reason
    });
  }

  /** `GET mlops/api/pipelines/{name}/events` — trigger events, newest first, with their outcome. */
  async listPipelineEvents(name: string): Promise<ITriggerEvent[]> {
    return (await this._get<ITriggerEventList>(`${pipeline(name)}/events`))
      .events;
  }

  /** `GET mlops/api/pipeline-runs/{id}` (a unique prefix of the id is enough). */
  getPipelineRun(id: string): Promise<IPipelineRun> {
    return this._get<IPipelineRun>(pipelineRun(id));
  }

  /** `POST mlops/api/pipeline-runs/{id}/cancel` — its job is cancelled; a 409 once it ended. */
  cancelPipelineRun(id: string): Promise<IPipelineRun> {
    return this._send<IPipelineRun>('POST', `${pipelineRun(id)}/cancel`);
  }

  /**
   * `GET mlops/api/models/{name}/versions/{version}/lineage-chain` — from the deployments back
   * to the event that started the version's training, then its job, run, notebook, features and
   * commit.
   */
  getLineageChain(name: string, version: number): Promise<ILineageChain> {
    return this._get<ILineageChain>(
      `models/${encodeURIComponent(name)}/versions/${version}/lineage-chain`
    );
  }

  /** `GET mlops/api/openapi.json` */
  getOpenAPI(): Promise<JSONObject> {
    return this._get<JSONObject>('openapi.json');
  }

  private _get<T>(endPoint: string): Promise<T> {
    return requestAPI<T>(endPoint, { method: 'GET' }, this.serverSettings);
  }

  private _send<T>(
    method: 'POST' | 'PUT' | 'PATCH' | 'DELETE',
    endPoint: string,
    body?: object
  ): Promise<T> {
    const init: RequestInit = { method };
    if (body !== undefined) {
      init.body = JSON.stringify(body);
      init.headers = { 'Content-Type': 'application/json' };
    }
    return requestAPI<T>(endPoint, init, this.serverSettings);
  }
}

/** The monitoring resource of a deployment. */
function monitored(name: string): string {
  return `monitoring/deployments/${encodeURIComponent(name)}`;
}

/** The A/B test resource of a deployment. */
function abtest(deployment: string): string {
  return `deployments/${encodeURIComponent(deployment)}/abtest`;
}

/** The resource of a job. */
function job(id: string): string {
  return `jobs/${encodeURIComponent(id)}`;
}

/** The resource of a pipeline. */
function pipeline(name: string): string {
  return `pipelines/${encodeURIComponent(name)}`;
}

/** The resource of a pipeline run. */
function pipelineRun(id: string): string {
  return `pipeline-runs/${encodeURIComponent(id)}`;
}

/** A window as query parameters. */
function windowQuery(window: IMonitorWindow): QueryParams {
  return {
    window: window.window,
    start: window.start,
    end: window.end,
    last: window.last
  };
}

export namespace MlopsClient {
  export interface IOptions {
    serverSettings?: ServerConnection.ISettings;
  }

  /** What `planAbTest` asks (the query of `GET abtests/plan`). */
  export interface IAbPlanQuery {
    kind?: AbOutcomeKind;
    /** The champion's rate (binary) or mean (numeric). */
    baseline: number;
    /** The minimum detectable effect: absolute unless `relative`. */
    mde: number;
    relative?: boolean;
    /** The outcome's standard deviation (numeric). */
    sd?: number;
    alpha?: number;
    power?: number;
    /** The challenger's percent of the traffic (default 50). */
    share?: number;
    /** Requests per hour: gives the duration. */
    traffic?: number;
  }
}
