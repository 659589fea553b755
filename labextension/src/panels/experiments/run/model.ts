import { VDomModel } from '@jupyterlab/ui-components';

import { IRunRecord, MlopsApiError, MlopsClient } from '../../../api';
import { Loader, LoadStatus } from '../../load';

/** State of one run's page: the run's record as the server answered it. */
export class RunModel extends VDomModel {
  constructor(client: MlopsClient, runId: string) {
    super();
    this._client = client;
    this.runId = runId;
  }

  readonly runId: string;

  get status(): LoadStatus {
    return this._run.status;
  }
  get error(): MlopsApiError | null {
    return this._run.error;
  }
  get run(): IRunRecord | null {
    return this._run.value;
  }

  async load(): Promise<void> {
    await this._run.load(() => this._client.getRun(this.runId));
  }

  private _client: MlopsClient;
  private _run = new Loader<IRunRecord>(this, { keepValueOnError: true });
}
