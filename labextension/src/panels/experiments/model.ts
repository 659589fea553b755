import { VDomModel } from '@jupyterlab/ui-components';
import { ISignal, Signal } from '@lumino/signaling';

import {
  IColumnChoice,
  IExperiment,
  IRunSummary,
  MlopsApiError,
  MlopsClient
} from '../../api';
import { Loader, LoadStatus } from '../load';

/** Runs asked for per page; the server pages, so 10,000 runs cost no more than 50. */
export const PAGE_SIZE = 50;

/** A param or metric column of the runs table. */
export interface IKeyColumn {
  /** `params.<name>` or `metrics.<name>`, as the server names columns. */
  id: string;
  kind: 'params' | 'metrics';
  name: string;
  pinned: boolean;
}

/** Split `params.x` / `metrics.y` into its kind and name. */
export function keyColumn(id: string, pinned = false): IKeyColumn | null {
  const dot = id.indexOf('.');
  const kind = id.slice(0, dot);
  if (dot < 0 || (kind !== 'params' && kind !== 'metrics')) {
    return null;
  }
  return { id, kind, name: id.slice(dot + 1), pinned };
}

export type SortDirection = 'ASC' | 'DESC';

/** A server-side sort: `key` is `attributes.start_time`, `metrics.accuracy`, `params.lr`, ... */
export interface ISort {
  key: string;
  direction: SortDirection;
}

/** A run picked for comparison; kept across pages and experiments. */
export interface ISelectedRun {
  runId: string;
  runName: string;
  experimentId: string;
}

export const DEFAULT_SORT: ISort = {
  key: 'attributes.start_time',
  direction: 'DESC'
};

/** Quote a metric or param name for MLflow's search syntax when it is not a plain identifier. */
export function searchKey(
  kind: 'metrics' | 'params' | 'attributes',
  name: string
): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name)
    ? `${kind}.${name}`
    : `${kind}.\`${name}\``;
}

/**
 * State of the Experiments panel: the experiments, the chosen one, a page of its runs under the
 * applied filter and sort, and the runs selected for comparison.
 */
export class ExperimentsModel extends VDomModel {
  constructor(client: MlopsClient) {
    super();
    this._client = client;
  }

  /** The REST client the model reads with. */
  get client(): MlopsClient {
    return this._client;
  }

  get experiments(): ReadonlyArray<IExperiment> {
    return this._experiments.value ?? [];
  }
  get experimentsStatus(): LoadStatus {
    return this._experiments.status;
  }
  get experimentsError(): MlopsApiError | null {
    return this._experiments.error;
  }
  get experimentId(): string | null {
    return this._experimentId;
  }
  get experiment(): IExperiment | null {
    return (
      this.experiments.find(e => e.experiment_id === this._experimentId) ?? null
    );
  }

  get runs(): ReadonlyArray<IRunSummary> {
    return this._runs;
  }
  get runsStatus(): LoadStatus {
    return this._runsStatus;
  }
  /** A failure to load runs other than a rejected filter. */
  get runsError(): MlopsApiError | null {
    return this._runsError;
  }

  /** The filter the shown runs match. */
  get filter(): string {
    return this._filter;
  }
  /** Why the server rejected the last filter typed (shown under the filter box). */
  get filterError(): MlopsApiError | null {
    return this._filterError;
  }
  get sort(): ISort {
    return this._sort;
  }

  /** 1-based number of the page shown. */
  get pageNumber(): number {
    return this._pageTokens.length;
  }
  get hasPreviousPage(): boolean {
    return this._pageTokens.length > 1;
  }
  get hasNextPage(): boolean {
    return this._nextPageToken !== null;
  }

  /**
   * The param and metric columns shown, in order: the experiment's column choice (saved,
   * declared by its runs, or picked by the server), and the sorted-by column when it is not one.
   */
  get keyColumns(): IKeyColumn[] {
    const choice = this._columns;
    const pinned = new Set(choice?.pinned ?? []);
    const shown = (choice?.columns ?? [])
      .map(id => keyColumn(id, pinned.has(id)))
      .filter((c): c is IKeyColumn => c !== null);
    for (const kind of ['metrics', 'params'] as const) {
      const sortName = Private.sortedName(this._sort.key, kind);
      if (
        sortName !== null &&
        !shown.some(c => c.kind === kind && c.name === sortName)
      ) {
        shown.push({
          id: `${kind}.${sortName}`,
          kind,
          name: sortName,
          pinned: false
        });
      }
    }
    return shown;
  }

  /** The experiment's column choice, as the server answered it (null until loaded). */
  get columnChoice(): IColumnChoice | null {
    return this._columns;
  }

  /** Why the last column choice was refused (shown in the chooser). */
  get columnsError(): MlopsApiError | null {
    return this._columnsError;
  }

  /** Remember `columns` (in order) and which are pinned, for this experiment, on the server. */
  async saveColumns(columns: string[], pinned: string[]): Promise<boolean> {
    const experimentId = this._experimentId;
    if (experimentId === null) {
      return false;
    }
    try {
      const choice = await this._client.setRunColumns(experimentId, {
        columns,
        pinned
      });
      if (experimentId === this._experimentId) {
        this._columns = choice;
        this._columnsError = null;
        this.stateChanged.emit();
      }
      return true;
    } catch (reason) {
      this._columnsError = MlopsApiError.from(reason);
      this.stateChanged.emit();
      return false;
    }
  }

  /** Forget the saved columns: the runs' declared (or picked) ones again. */
  async resetColumns(): Promise<void> {
    const experimentId = this._experimentId;
    if (experimentId === null) {
      return;
    }
    const choice = await this._client.resetRunColumns(experimentId);
    if (experimentId === this._experimentId) {
      this._columns = choice;
      this._columnsError = null;
      this.stateChanged.emit();
    }
  }

  get selection(): ReadonlyArray<ISelectedRun> {
    return Array.from(this._selection.values());
  }
  isSelected(runId: string): boolean {
    return this._selection.has(runId);
  }
  /** Emitted when runs are selected or deselected. */
  get selectionChanged(): ISignal<this, ReadonlyArray<ISelectedRun>> {
    return this._selectionChanged;
  }

  /** Reload the experiments, then the runs of the chosen one. */
  async refresh(): Promise<void> {
    const experiments = await this._experiments.load(
      () => this._client.listExperiments(),
      list => {
        if (!list.some(e => e.experiment_id === this._experimentId)) {
          this._experimentId =
            Private.defaultExperiment(list)?.experiment_id ?? null;
          this._resetPaging();
        }
      }
    );
    if (experiments === null) {
      return;
    }
    await Promise.all([
      this._loadRuns(this._currentToken),
      this._loadColumns()
    ]);
  }

  /** Show the runs of another experiment (filter and sort are kept; paging restarts). */
  async selectExperiment(experimentId: string): Promise<void> {
    if (experimentId === this._experimentId) {
      return;
    }
    this._experimentId = experimentId;
    this._resetPaging();
    this._filterError = null;
    this._columns = null;
    await Promise.all([this._loadRuns(null), this._loadColumns()]);
  }

  /**
   * Apply an MLflow filter (empty clears it). If the server rejects it, the error is kept in
   * `filterError` and the runs shown stay those of the previous filter.
   */
  async applyFilter(filter: string): Promise<void> {
    await this._loadRuns(null, { filter: filter.trim() });
  }

  /** Sort by a column; the same key again flips the direction. */
  async sortBy(key: string, direction?: SortDirection): Promise<void> {
    const next: SortDirection =
      direction ??
      (this._sort.key === key
        ? this._sort.direction === 'DESC'
          ? 'ASC'
          : 'DESC'
        : key.startsWith('params.') || key === 'attributes.run_name'
          ? 'ASC'
          : 'DESC');
    await this._loadRuns(null, { sort: { key, direction: next } });
  }

  async nextPage(): Promise<void> {
    if (this._nextPageToken === null) {
      return;
    }
    await this._loadRuns(this._nextPageToken, { push: true });
  }

  async previousPage(): Promise<void> {
    if (this._pageTokens.length < 2) {
      return;
    }
    await this._loadRuns(this._pageTokens[this._pageTokens.length - 2], {
      pop: true
    });
  }

  toggleRun(run: IRunSummary, selected?: boolean): void {
    const select = selected ?? !this._selection.has(run.run_id);
    if (select) {
      this._selection.set(run.run_id, {
        runId: run.run_id,
        runName: run.run_name || run.run_id.slice(0, 8),
        experimentId: run.experiment_id
      });
    } else {
      this._selection.delete(run.run_id);
    }
    this._emitSelection();
  }

  /** Select or deselect every run on the current page. */
  setPageSelected(selected: boolean): void {
    for (const run of this._runs) {
      if (selected) {
        this._selection.set(run.run_id, {
          runId: run.run_id,
          runName: run.run_name || run.run_id.slice(0, 8),
          experimentId: run.experiment_id
        });
      } else {
        this._selection.delete(run.run_id);
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

  /**
   * Load the page that starts at `pageToken`. The new filter/sort/paging state is committed only
   * when the server answers, so a rejected filter leaves the table as it was.
   */
  private async _loadRuns(
    pageToken: string | null,
    change: {
      filter?: string;
      sort?: ISort;
      push?: boolean;
      pop?: boolean;
    } = {}
  ): Promise<void> {
    const experimentId = this._experimentId;
    if (experimentId === null) {
      this._runs = [];
      this._runsStatus = 'ready';
      this.stateChanged.emit();
      return;
    }
    const filter = change.filter ?? this._filter;
    const sort = change.sort ?? this._sort;
    const request = ++this._runsRequest;
    this._runsStatus = 'loading';
    this._runsError = null;
    this.stateChanged.emit();
    try {
      const orderBy = [`${sort.key} ${sort.direction}`];
      if (sort.key !== DEFAULT_SORT.key) {
        // A stable order among ties, so paging never repeats or skips a run.
        orderBy.push(`${DEFAULT_SORT.key} ${DEFAULT_SORT.direction}`);
      }
      const page = await this._client.listRuns(experimentId, {
        filter,
        orderBy,
        maxResults: PAGE_SIZE,
        pageToken
      });
      if (request !== this._runsRequest || this.isDisposed) {
        return;
      }
      this._filter = filter;
      this._sort = sort;
      this._filterError = null;
      if (change.push) {
        this._pageTokens.push(pageToken);
      } else if (change.pop) {
        this._pageTokens.pop();
      } else if (pageToken === null) {
        this._pageTokens = [null];
      }
      this._runs = page.runs;
      this._nextPageToken = page.next_page_token ?? null;
      this._runsStatus = 'ready';
    } catch (reason) {
      if (request !== this._runsRequest || this.isDisposed) {
        return;
      }
      const error = MlopsApiError.from(reason);
      if (error.isInvalidInput && change.filter !== undefined) {
        this._filterError = error;
        this._runsStatus = 'ready';
      } else {
        this._runsError = error;
        this._runsStatus = 'error';
      }
    }
    this.stateChanged.emit();
  }

  private get _currentToken(): string | null {
    return this._pageTokens[this._pageTokens.length - 1] ?? null;
  }

  private _resetPaging(): void {
    this._pageTokens = [null];
    this._nextPageToken = null;
    this._runs = [];
  }

  private async _loadColumns(): Promise<void> {
    const experimentId = this._experimentId;
    if (experimentId === null) {
      return;
    }
    try {
      const choice = await this._client.getRunColumns(experimentId);
      if (experimentId === this._experimentId && !this.isDisposed) {
        this._columns = choice;
        this.stateChanged.emit();
      }
    } catch {
      // The table still shows the runs; the columns come with the next refresh.
    }
  }

  private _emitSelection(): void {
    this._selectionChanged.emit(this.selection);
    this.stateChanged.emit();
  }

  private _client: MlopsClient;
  private _experiments = new Loader<IExperiment[]>(this, {
    keepValueOnError: true
  });
  private _experimentId: string | null = null;
  private _columns: IColumnChoice | null = null;
  private _columnsError: MlopsApiError | null = null;
  private _runs: IRunSummary[] = [];
  private _runsStatus: LoadStatus = 'idle';
  private _runsError: MlopsApiError | null = null;
  private _runsRequest = 0;
  private _filter = '';
  private _filterError: MlopsApiError | null = null;
  private _sort: ISort = DEFAULT_SORT;
  private _pageTokens: (string | null)[] = [null];
  private _nextPageToken: string | null = null;
  private _selection = new Map<string, ISelectedRun>();
  private _selectionChanged = new Signal<this, ReadonlyArray<ISelectedRun>>(
    this
  );
}

namespace Private {
  /** The experiment shown first: the most recently updated one that is not MLflow's empty "Default". */
  export function defaultExperiment(
    experiments: IExperiment[]
  ): IExperiment | null {
    const active = experiments.filter(e => e.lifecycle_stage !== 'deleted');
    const named = active.filter(e => e.name !== 'Default');
    const pool = named.length > 0 ? named : active;
    const sorted = [...pool].sort(
      (a, b) =>
        (b.last_update_time ?? b.creation_time ?? 0) -
        (a.last_update_time ?? a.creation_time ?? 0)
    );
    return sorted[0] ?? null;
  }

  /** The metric or param name a sort key names, if it is of that kind. */
  export function sortedName(
    key: string,
    kind: 'metrics' | 'params'
  ): string | null {
    const prefix = `${kind}.`;
    if (!key.startsWith(prefix)) {
      return null;
    }
    const name = key.slice(prefix.length);
    return name.startsWith('`') && name.endsWith('`')
      ? name.slice(1, -1)
      : name;
  }
}
