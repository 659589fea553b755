import { ServerConnection } from '@jupyterlab/services';
import { JSONObject } from '@lumino/coreutils';

import { encodeQuery, requestAPI } from './request';
import {
  IComparison,
  IComparisonQuery,
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
  IRunDetail,
  IRunPage,
  IRunQuery
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

  /** `GET mlops/api/runs/{run_id}` */
  getRun(runId: string): Promise<IRunDetail> {
    return this._get<IRunDetail>(`runs/${encodeURIComponent(runId)}`);
  }

  /** `GET mlops/api/comparisons` */
  compareRuns(query: IComparisonQuery): Promise<IComparison> {
    const search = encodeQuery({
      run_id: query.runIds,
      diff_only: query.diffOnly ?? false,
      group_by_seed: query.groupBySeed ?? false,
      seed_param: query.seedParam
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

  /** `GET mlops/api/openapi.json` */
  getOpenAPI(): Promise<JSONObject> {
    return this._get<JSONObject>('openapi.json');
  }

  private _get<T>(endPoint: string): Promise<T> {
    return requestAPI<T>(endPoint, { method: 'GET' }, this.serverSettings);
  }
}

export namespace MlopsClient {
  export interface IOptions {
    serverSettings?: ServerConnection.ISettings;
  }
}
