import { VDomModel } from '@jupyterlab/ui-components';
import { ISignal, Signal } from '@lumino/signaling';

import { IFeatureViewSummary, MlopsApiError, MlopsClient } from '../../api';
import { Loader, LoadStatus } from '../load';

/** Freshness of a view, as far as it is known: fetched after the list, one view at a time. */
export type Freshness = 'unknown' | 'fresh' | 'stale' | 'error';

/** Wait this long after the last keystroke before searching. */
export const SEARCH_DELAY_MS = 200;

/** How many views get their freshness fetched at once. */
const FRESHNESS_CONCURRENCY = 4;

/** What the last "Insert code" did, shown next to the button. */
export interface IInsertOutcome {
  kind: 'inserted' | 'copied' | 'error';
  message: string;
  /** The code, when it could not be put into a notebook. */
  code?: string;
}

/**
 * State of the Features section: the views matching the search, their freshness, and the
 * features ticked for a training frame (kept across views, searches and tabs).
 */
export class FeaturesModel extends VDomModel {
  constructor(client: MlopsClient) {
    super();
    this.client = client;
  }

  readonly client: MlopsClient;

  get views(): ReadonlyArray<IFeatureViewSummary> {
    return this._views.value ?? [];
  }
  get status(): LoadStatus {
    return this._views.status;
  }
  get error(): MlopsApiError | null {
    return this._views.error;
  }
  /** The search the shown views match. */
  get search(): string {
    return this._search;
  }
  freshness(view: string): Freshness {
    return this._freshness.get(view) ?? 'unknown';
  }

  /** The ticked feature references, in the order they were ticked. */
  get selection(): ReadonlyArray<string> {
    return Array.from(this._selection);
  }
  isSelected(ref: string): boolean {
    return this._selection.has(ref);
  }
  get selectionChanged(): ISignal<this, ReadonlyArray<string>> {
    return this._selectionChanged;
  }

  get insertOutcome(): IInsertOutcome | null {
    return this._insertOutcome;
  }
  set insertOutcome(outcome: IInsertOutcome | null) {
    this._insertOutcome = outcome;
    this.stateChanged.emit();
  }

  /** Reload the views matching the current search. */
  refresh(): Promise<void> {
    this._freshnessLoaded.clear();
    return this._load(this._search);
  }

  /** Search views by name, feature, entity, owner or tag (server side); empty lists all. */
  setSearch(search: string): Promise<void> {
    return this._load(search.trim());
  }

  toggleFeature(ref: string, selected?: boolean): void {
    const select = selected ?? !this._selection.has(ref);
    if (select === this._selection.has(ref)) {
      return;
    }
    if (select) {
      this._selection.add(ref);
    } else {
      this._selection.delete(ref);
    }
    this._emitSelection();
  }

  /** Tick or untick several references at once (e.g. every feature of a view). */
  setFeatures(refs: ReadonlyArray<string>, selected: boolean): void {
    for (const ref of refs) {
      if (selected) {
        this._selection.add(ref);
      } else {
        this._selection.delete(ref);
      }
    }
    this._emitSelection();
  }

  clearSelection(): void {
    this._selection.clear();
    this._emitSelection();
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    Signal.clearData(this);
    super.dispose();
  }

  private async _load(search: string): Promise<void> {
    // Counted here too: a newer list stops the freshness requests of an older one.
    const request = ++this._request;
    const views = await this._views.load(
      () => this.client.listFeatureViews({ search }),
      () => {
        this._search = search;
      }
    );
    if (views !== null) {
      await this._loadFreshness(views, request);
    }
  }

  /**
   * The list has no freshness: ask each view's stats, a few at a time, for the newest list only.
   * A search reuses what is known; `refresh` asks again.
   */
  private async _loadFreshness(
    views: IFeatureViewSummary[],
    request: number
  ): Promise<void> {
    const queue = views
      .map(view => view.name)
      .filter(name => !this._freshnessLoaded.has(name));
    const worker = async () => {
      for (let name = queue.shift(); name; name = queue.shift()) {
        if (request !== this._request || this.isDisposed) {
          return;
        }
        let freshness: Freshness;
        try {
          const stats = await this.client.getFeatureViewStats(name);
          freshness = stats.stale ? 'stale' : 'fresh';
        } catch {
          freshness = 'error';
        }
        if (this.isDisposed) {
          return;
        }
        this._freshness.set(name, freshness);
        if (freshness !== 'error') {
          this._freshnessLoaded.add(name);
        }
        this.stateChanged.emit();
      }
    };
    await Promise.all(
      Array.from({ length: FRESHNESS_CONCURRENCY }, () => worker())
    );
  }

  private _emitSelection(): void {
    this._selectionChanged.emit(this.selection);
    this.stateChanged.emit();
  }

  private _views = new Loader<IFeatureViewSummary[]>(this, {
    keepValueOnError: true
  });
  private _search = '';
  private _request = 0;
  private _freshness = new Map<string, Freshness>();
  private _freshnessLoaded = new Set<string>();
  private _selection = new Set<string>();
  private _selectionChanged = new Signal<this, ReadonlyArray<string>>(this);
  private _insertOutcome: IInsertOutcome | null = null;
}
