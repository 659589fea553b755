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
  /**
   * Emitted when the comparison's figures arrive (the charts redraw on it, not on every change):
   * the tables come first, from an answer without figures; the figures follow.
   */
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

  /**
   * Fetch the comparison with the current toggles; the previous one stays shown meanwhile. The
   * tables come from a first answer without figures (plotly figures take the server most of
   * its time); the figures from a second one.
   */
  async load(): Promise<void> {
    const query = {
      runIds: [...this.runIds],
      diffOnly: this._diffOnly,
      groupBySeed: this._groupBySeed
    };
    const ticket = ++this._loads;
    const tables = await this._comparison.load(() =>
      this._client.compareRuns({ ...query, figures: false })
    );
    if (tables === null || ticket !== this._loads) {
      return;
    }
    try {
      const full = await this._client.compareRuns(query);
      if (ticket === this._loads && !this.isDisposed) {
        this._comparisonChanged.emit(full);
      }
    } catch {
      // The tables are shown; without figures there are no charts.
      if (ticket === this._loads && !this.isDisposed) {
        this._comparisonChanged.emit(null);
      }
    }
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
  private _loads = 0;
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
