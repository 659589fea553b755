import { VDomModel } from '@jupyterlab/ui-components';
import { ISignal, Signal } from '@lumino/signaling';

import { IComparison, MlopsApiError, MlopsClient } from '../../../api';
import { Loader, LoadStatus } from '../../load';

/** State of one Compare tab: which runs, the two toggles, and the server's comparison. */
export class CompareModel extends VDomModel {
  constructor(options: CompareModel.IOptions) {
    super();
    this._client = options.client;
    this.runIds = [...options.runIds];
    this.runNames = options.runNames ? [...options.runNames] : [];
    this._groupBySeed = options.groupBySeed ?? false;
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
    return this._comparison.status;
  }
  get error(): MlopsApiError | null {
    return this._comparison.error;
  }
  get comparison(): IComparison | null {
    return this._comparison.value;
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
    await this._comparison.load(
      () =>
        this._client.compareRuns({
          runIds: [...this.runIds],
          diffOnly: this._diffOnly,
          groupBySeed: this._groupBySeed
        }),
      comparison => this._comparisonChanged.emit(comparison)
    );
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
  private _comparison = new Loader<IComparison>(this, {
    keepValueOnError: true
  });
  private _comparisonChanged = new Signal<this, IComparison | null>(this);
}

export namespace CompareModel {
  export interface IOptions {
    client: MlopsClient;
    runIds: ReadonlyArray<string>;
    runNames?: ReadonlyArray<string>;
    /** Start with "Group by seed" on (default off). */
    groupBySeed?: boolean;
  }
}
