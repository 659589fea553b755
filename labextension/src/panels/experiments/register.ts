import { VDomModel } from '@jupyterlab/ui-components';

import { IModelVersionDetail, MlopsApiError, MlopsClient } from '../../api';

/** A default model name from an experiment's name: characters a registry name can hold. */
export function defaultModelName(experimentName: string): string {
  return experimentName
    .trim()
    .replace(/[^A-Za-z0-9_.-]+/g, '-')
    .replace(/^-+|-+$/g, '');
}

/**
 * The Experiments panel's "Register" of one run: the form is open for a run, a registration is
 * under way, or it ended with a version or an error.
 */
export class RunRegistration extends VDomModel {
  constructor(client: MlopsClient) {
    super();
    this._client = client;
  }

  /** The run the form is open for. */
  get runId(): string | null {
    return this._runId;
  }
  get status(): 'idle' | 'busy' | 'done' | 'error' {
    return this._status;
  }
  get error(): MlopsApiError | null {
    return this._error;
  }
  get result(): IModelVersionDetail | null {
    return this._result;
  }

  /** Open the form for a run (an earlier outcome is cleared). */
  open(runId: string): void {
    this._runId = runId;
    this._status = 'idle';
    this._error = null;
    this._result = null;
    this.stateChanged.emit();
  }

  close(): void {
    if (this._status === 'busy') {
      return;
    }
    this._runId = null;
    this._status = 'idle';
    this._error = null;
    this._result = null;
    this.stateChanged.emit();
  }

  /** Register the run's logged model as a new version of `name`. */
  async register(name: string): Promise<IModelVersionDetail | null> {
    const runId = this._runId;
    if (runId === null || this._status === 'busy') {
      return null;
    }
    this._status = 'busy';
    this._error = null;
    this._result = null;
    this.stateChanged.emit();
    try {
      const version = await this._client.registerModel({
        run_id: runId,
        name: name.trim()
      });
      if (this._runId === runId && !this.isDisposed) {
        this._status = 'done';
        this._result = version;
        this.stateChanged.emit();
      }
      return version;
    } catch (reason) {
      if (this._runId === runId && !this.isDisposed) {
        this._status = 'error';
        this._error = MlopsApiError.from(reason);
        this.stateChanged.emit();
      }
      return null;
    }
  }

  private _client: MlopsClient;
  private _runId: string | null = null;
  private _status: 'idle' | 'busy' | 'done' | 'error' = 'idle';
  private _error: MlopsApiError | null = null;
  private _result: IModelVersionDetail | null = null;
}
