import { VDomModel } from '@jupyterlab/ui-components';
import { ISignal, Signal } from '@lumino/signaling';

import { IComparison, MlopsApiError, MlopsClient } from '../../../api';
import { LoadStatus } from '../model';

/** State of one Compare tab: which runs, the two toggles, and the server's comparison. */
export class CompareModel extends VDomModel {
  constructor(options: CompareModel.IOptions) {
    super();
    this._client = options.client;
    this.runIds = [...options.runIds];
    this.runNames = options.runNames ? [...options.runNames] : [];
  }

  /** The compared runs, in column order. */
  readonly runIds: ReadonlyArray<string>;
  /** Names known before the comparison loads (for the tab title); may be empty. */
  readonly runNames: ReadonlyArray<string>;

  get diffOnly(): boolean {
    return this._diffOnly;
  }
  get groupBySeed(): boolean {
    return this._groupBySeed;
  }
  get status(): LoadStatus {
    return this._status;
  }
  get error(): MlopsApiError | null {
    return this._error;
  }
  get comparison(): IComparison | null {
    return this._comparison;
  }
  /** Emitted when a new comparison arrives (the charts redraw on it, not on every change). */
  get comparisonChanged(): ISignal<this, IComparison | null> {
    return this._comparisonChanged;
  }

  async setDiffOnly(value: boolean): Promise<void> {
    this._diffOnly = value;
    await this.load();
  }

  async setGroupBySeed(value: boolean): Promise<void> {
    this._groupBySeed = value;
    await this.load();
  }

  /** Fetch the comparison with the current toggles; the previous one stays shown meanwhile. */
  async load(): Promise<void> {
    const request = ++this._request;
    this._status = 'loading';
    this._error = null;
    this.stateChanged.emit();
    try {
      const comparison = await this._client.compareRuns({
        runIds: [...this.runIds],
        diffOnly: this._diffOnly,
        groupBySeed: this._groupBySeed
      });
      if (request !== this._request || this.isDisposed) {
        return;
      }
      this._comparison = comparison;
      this._status = 'ready';
      this._comparisonChanged.emit(comparison);
    } catch (reason) {
      if (request !== this._request || this.isDisposed) {
        return;
      }
      this._error = MlopsApiError.from(reason);
      this._status = 'error';
    }
    this.stateChanged.emit();
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    Signal.clearData(this);
    super.dispose();
  }

  private _client: MlopsClient;
  private _diffOnly = false;
  private _groupBySeed = false;
  private _status: LoadStatus = 'idle';
  private _error: MlopsApiError | null = null;
  private _comparison: IComparison | null = null;
  private _request = 0;
  private _comparisonChanged = new Signal<this, IComparison | null>(this);
}

export namespace CompareModel {
  export interface IOptions {
    client: MlopsClient;
    runIds: ReadonlyArray<string>;
    runNames?: ReadonlyArray<string>;
  }
}
