import { ServerConnection } from '@jupyterlab/services';
import { JSONObject } from '@lumino/coreutils';

import { encodeQuery, requestAPI } from './request';
import {
  IComparison,
  IComparisonQuery,
  IExperiment,
  IExperimentList,
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
