import { VDomModel } from '@jupyterlab/ui-components';
import { ISignal, Signal } from '@lumino/signaling';

import {
  IDeploymentInfo,
  IDeploymentStats,
  ILineageChain,
  IModelVersionDetail,
  IPromotion,
  IRegisteredModelDetail,
  IRegisteredModelInfo,
  MlopsApiError,
  MlopsClient
} from '../../api';
import { Loader, LoadStatus } from '../load';
import { AbTests } from './abtest';

/** How often the deployment cards refresh their traffic figures while the section is shown. */
export const POLL_INTERVAL_MS = 2000;

/** With no deployment live, the list itself is re-read only every this many polls. */
const IDLE_LIST_EVERY = 5;

/** Lines of log shown by "Logs". */
export const LOG_LINES = 200;

/** States in which a deployment has a server process to ask for figures. */
const LIVE_STATES = new Set([
  'starting',
  'running',
  'updating',
  'degraded',
  'stopping'
]);

/** Whether a deployment has a server process (so figures, Stop and Update make sense). */
export function isLive(deployment: IDeploymentInfo): boolean {
  return LIVE_STATES.has(deployment.state);
}

/** A user action in flight, done or failed; `label` says what it is doing. */
export interface IAction<T> {
  status: 'busy' | 'done' | 'error';
  label: string;
  result?: T;
  error?: MlopsApiError;
}

/** The tail of a deployment's logs, when asked for. */
export interface ILogsState {
  status: LoadStatus;
  text: string;
  error: MlopsApiError | null;
}

/**
 * State of the Models section: registered models, the chosen model's versions, the chosen
 * version's lineage with its Deploy and Promote actions, and the deployments with live traffic
 * figures (polled every 2 s while the section is visible).
 */
export class ModelsModel extends VDomModel {
  constructor(client: MlopsClient) {
    super();
    this.client = client;
    this.abtests = new AbTests({
      client,
      changed: () => {
        if (!this.isDisposed) {
          this.stateChanged.emit();
        }
      },
      // A test started or ended: served versions and aliases moved.
      decided: () => this.refresh()
    });
  }

  readonly client: MlopsClient;

  /** The A/B tests of the deployments, polled every 5 s while the section is shown. */
  readonly abtests: AbTests;

  get models(): ReadonlyArray<IRegisteredModelInfo> {
    return this._models.value ?? [];
  }
  get modelsStatus(): LoadStatus {
    return this._models.status;
  }
  get modelsError(): MlopsApiError | null {
    return this._models.error;
  }

  get selectedModel(): string | null {
    return this._selectedModel;
  }
  get modelDetail(): IRegisteredModelDetail | null {
    return this._model.value;
  }
  get modelStatus(): LoadStatus {
    return this._model.status;
  }
  get modelError(): MlopsApiError | null {
    return this._model.error;
  }

  get selectedVersion(): number | null {
    return this._selectedVersion;
  }
  get versionDetail(): IModelVersionDetail | null {
    return this._version.value;
  }
  get versionStatus(): LoadStatus {
    return this._version.status;
  }
  get versionError(): MlopsApiError | null {
    return this._version.error;
  }

  /**
   * The chosen version's lineage as a chain: the deployments and A/B tests serving it, back to
   * the pipeline run and the event that started it, then its job, run, notebook, features and
   * commit. Null until read, or when it cannot be (the version detail still shows).
   */
  get lineageChain(): ILineageChain | null {
    return this._chain.value;
  }
  get lineageChainStatus(): LoadStatus {
    return this._chain.status;
  }

  /** The last Deploy of the chosen version. */
  get deployAction(): IAction<IDeploymentInfo> | null {
    return this._deployAction;
  }
  /** The last Promote of the chosen version. */
  get promoteAction(): IAction<IPromotion> | null {
    return this._promoteAction;
  }

  get deployments(): ReadonlyArray<IDeploymentInfo> {
    return this._deployments.value ?? [];
  }
  get deploymentsStatus(): LoadStatus {
    return this._deployments.status;
  }
  get deploymentsError(): MlopsApiError | null {
    return this._deployments.error;
  }
  /** The latest traffic figures of a live deployment. */
  stats(name: string): IDeploymentStats | null {
    return this._stats.get(name) ?? null;
  }
  /** The last Stop or Update of a deployment card. */
  cardAction(name: string): IAction<IDeploymentInfo> | null {
    return this._cardActions.get(name) ?? null;
  }
  logs(name: string): ILogsState | null {
    return this._logs.get(name) ?? null;
  }

  /** Whether the live figures are being polled. */
  get isPolling(): boolean {
    return this._timer !== null;
  }

  /** Emitted when a version is registered from elsewhere and revealed here. */
  get revealed(): ISignal<this, { name: string; version: number }> {
    return this._revealed;
  }

  /** Reload the models, the chosen model and version, and the deployments. */
  async refresh(): Promise<void> {
    await Promise.all([
      this._loadModels().then(() => {
        // With nothing chosen yet, show the first model's versions.
        const first = this.models[0];
        if (this._selectedModel === null && first) {
          return this.selectModel(first.name);
        }
      }),
      this._loadDeployments(),
      this._selectedModel !== null
        ? this._loadModel(this._selectedModel)
        : Promise.resolve(),
      this._selectedModel !== null && this._selectedVersion !== null
        ? this._loadVersion(this._selectedModel, this._selectedVersion)
        : Promise.resolve()
    ]);
  }

  /** Show a model's versions (the newest one is chosen). */
  async selectModel(name: string): Promise<void> {
    if (name === this._selectedModel && this._model.status !== 'error') {
      return;
    }
    this._selectedModel = name;
    this._model.reset();
    this._clearVersion();
    this.stateChanged.emit();
    const detail = await this._loadModel(name);
    const newest = detail?.version_list[0]?.version;
    if (
      newest !== undefined &&
      this._selectedModel === name &&
      this._selectedVersion === null
    ) {
      await this.selectVersion(newest);
    }
  }

  /** Show a version's lineage, with its Deploy and Promote actions. */
  async selectVersion(version: number): Promise<void> {
    const name = this._selectedModel;
    if (name === null) {
      return;
    }
    if (version === this._selectedVersion && this._version.status !== 'error') {
      return;
    }
    this._clearVersion();
    this._selectedVersion = version;
    this.stateChanged.emit();
    await this._loadVersion(name, version);
  }

  /** Show a version that was just registered (the Experiments panel's Register). */
  async reveal(name: string, version: number): Promise<void> {
    this._selectedModel = name;
    this._clearVersion();
    this._selectedVersion = version;
    this.stateChanged.emit();
    await Promise.all([
      this._loadModels(),
      this._loadModel(name),
      this._loadVersion(name, version)
    ]);
    this._revealed.emit({ name, version });
  }

  /** Deploy the chosen version with the defaults (deployment named after the model). */
  async deployVersion(): Promise<void> {
    const name = this._selectedModel;
    const version = this._selectedVersion;
    if (
      name === null ||
      version === null ||
      this._deployAction?.status === 'busy'
    ) {
      return;
    }
    const ref = `${name}:${version}`;
    this._deployAction = { status: 'busy', label: `Deploying ${ref}…` };
    this.stateChanged.emit();
    try {
      const info = await this.client.deploy({ model: ref });
      this._setDeployAction(name, version, {
        status: 'done',
        label: `${ref} is ${info.state} at ${info.url}`,
        result: info
      });
    } catch (reason) {
      this._setDeployAction(name, version, {
        status: 'error',
        label: `Cannot deploy ${ref}`,
        error: MlopsApiError.from(reason)
      });
    }
    await this._loadDeployments();
    this._tick(true);
    // The chain names the deployments that serve the version.
    if (this._selectedModel === name && this._selectedVersion === version) {
      await this._chain.load(() => this.client.getLineageChain(name, version));
    }
  }

  /**
   * Move `alias` to the chosen version if it passes `require` (e.g. `roc_auc>=champion`).
   * The gates' messages are kept whether it moved or not.
   */
  async promoteVersion(alias: string, require: string[]): Promise<void> {
    const name = this._selectedModel;
    const version = this._selectedVersion;
    if (name === null || version === null) {
      return;
    }
    this._promoteAction = {
      status: 'busy',
      label: `Promoting ${name} v${version} to @${alias}…`
    };
    this.stateChanged.emit();
    let action: IAction<IPromotion>;
    try {
      const result = await this.client.promoteModelVersion(name, version, {
        alias,
        require
      });
      action = {
        status: 'done',
        label: result.promoted
          ? `${name} v${version} is now @${alias}` +
            (result.previous_version !== null &&
            result.previous_version !== undefined &&
            result.previous_version !== version
              ? ` (was v${result.previous_version})`
              : '')
          : `Not promoted: ${result.gates.filter(g => !g.passed).length} gate(s) failed`,
        result
      };
    } catch (reason) {
      action = {
        status: 'error',
        label: `Cannot promote ${name} v${version}`,
        error: MlopsApiError.from(reason)
      };
    }
    if (this._selectedModel !== name || this._selectedVersion !== version) {
      return;
    }
    this._promoteAction = action;
    this.stateChanged.emit();
    if (action.result?.promoted) {
      // Aliases moved: the versions list and the model list show them.
      await Promise.all([
        this._loadModels(),
        this._loadModel(name),
        this._loadVersion(name, version)
      ]);
    }
  }

  /** Stop a deployment (its replicas finish the requests they hold). */
  stopDeployment(name: string): Promise<void> {
    return this._cardCall(name, `Stopping ${name}…`, () =>
      this.client.stopDeployment(name)
    );
  }

  /** Start a stopped (or failed) deployment again, on its ports. */
  startDeployment(name: string): Promise<void> {
    return this._cardCall(name, `Starting ${name}…`, () =>
      this.client.startDeployment(name)
    );
  }

  /** Remove a stopped deployment (its prediction log stays on disk). */
  removeDeployment(name: string): Promise<void> {
    return this._cardCall(
      name,
      `Removing ${name}…`,
      () => this.client.removeDeployment(name),
      true
    );
  }

  /** Move a deployment to `model` (`churn:3`) with zero downtime. */
  updateDeployment(name: string, model: string): Promise<void> {
    return this._cardCall(name, `Updating ${name} to ${model}…`, () =>
      this.client.updateDeployment(name, { model })
    );
  }

  /** Show (or refresh) the tail of a deployment's logs. */
  async loadLogs(name: string): Promise<void> {
    const previous = this._logs.get(name);
    this._logs.set(name, {
      status: 'loading',
      text: previous?.text ?? '',
      error: null
    });
    this.stateChanged.emit();
    let state: ILogsState;
    try {
      const text = await this.client.getDeploymentLogs(name, LOG_LINES);
      state = { status: 'ready', text, error: null };
    } catch (reason) {
      state = { status: 'error', text: '', error: MlopsApiError.from(reason) };
    }
    if (this.isDisposed || !this._logs.has(name)) {
      return;
    }
    this._logs.set(name, state);
    this.stateChanged.emit();
  }

  hideLogs(name: string): void {
    this._logs.delete(name);
    this.stateChanged.emit();
  }

  /**
   * Poll the deployments' figures while `visible` (the section is shown); stop otherwise.
   * The server computes rates over the time between two calls, so polling must be steady.
   */
  setVisible(visible: boolean): void {
    if (visible && this._timer === null && !this.isDisposed) {
      this._timer = window.setInterval(() => this._tick(), POLL_INTERVAL_MS);
      this._tick(true);
    } else if (!visible && this._timer !== null) {
      window.clearInterval(this._timer);
      this._timer = null;
    }
    this.abtests.setVisible(visible && !this.isDisposed);
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this.setVisible(false);
    this.abtests.dispose();
    Signal.clearData(this);
    super.dispose();
  }

  private _clearVersion(): void {
    this._selectedVersion = null;
    this._version.reset();
    this._chain.reset();
    this._deployAction = null;
    this._promoteAction = null;
  }

  private _setDeployAction(
    name: string,
    version: number,
    action: IAction<IDeploymentInfo>
  ): void {
    if (this._selectedModel === name && this._selectedVersion === version) {
      this._deployAction = action;
      this.stateChanged.emit();
    }
  }

  private async _cardCall(
    name: string,
    label: string,
    call: () => Promise<IDeploymentInfo>,
    removes = false
  ): Promise<void> {
    if (this._cardActions.get(name)?.status === 'busy') {
      return;
    }
    this._cardActions.set(name, { status: 'busy', label });
    this.stateChanged.emit();
    let action: IAction<IDeploymentInfo>;
    try {
      const info = await call();
      action = { status: 'done', label: '', result: info };
      if (removes) {
        const list = this._deployments.value ?? [];
        this._deployments.set(list.filter(d => d.name !== name));
      } else {
        this._replaceDeployment(info);
      }
    } catch (reason) {
      action = {
        status: 'error',
        label: label.replace(/…$/, ' failed'),
        error: MlopsApiError.from(reason)
      };
    }
    if (this.isDisposed) {
      return;
    }
    if (action.status === 'done') {
      this._cardActions.delete(name);
    } else {
      this._cardActions.set(name, action);
    }
    this.stateChanged.emit();
    await this._loadDeployments();
  }

  private _replaceDeployment(info: IDeploymentInfo): void {
    const list = this._deployments.value ?? [];
    const index = list.findIndex(d => d.name === info.name);
    const next = [...list];
    if (index < 0) {
      next.push(info);
    } else {
      next[index] = info;
    }
    this._deployments.set(next);
    if (!isLive(info)) {
      this._stats.delete(info.name);
    }
  }

  /** One poll: the list now and then, and the figures of each live deployment. */
  private _tick(force = false): void {
    if (this.isDisposed || (!force && document.hidden)) {
      return;
    }
    this._ticks++;
    const anyLive = this.deployments.some(isLive);
    const listFirst =
      force || anyLive || this._ticks % IDLE_LIST_EVERY === 0
        ? this._loadDeployments()
        : Promise.resolve();
    void listFirst.then(() => this._loadStats());
  }

  private async _loadStats(): Promise<void> {
    if (this._statsInFlight) {
      return;
    }
    const live = this.deployments.filter(isLive).map(d => d.name);
    if (live.length === 0) {
      return;
    }
    this._statsInFlight = true;
    try {
      const results = await Promise.all(
        live.map(name =>
          this.client.getDeploymentStats(name).then(
            stats => [name, stats] as const,
            () => [name, null] as const
          )
        )
      );
      if (this.isDisposed) {
        return;
      }
      for (const [name, stats] of results) {
        if (stats) {
          this._stats.set(name, stats);
        }
      }
      this.stateChanged.emit();
    } finally {
      this._statsInFlight = false;
    }
  }

  private async _loadModels(): Promise<void> {
    await this._models.load(() => this.client.listModels());
  }

  private _loadModel(name: string): Promise<IRegisteredModelDetail | null> {
    return this._model.load(() => this.client.getModel(name));
  }

  private async _loadVersion(name: string, version: number): Promise<void> {
    await Promise.all([
      this._version.load(() => this.client.getModelVersion(name, version)),
      this._chain.load(() => this.client.getLineageChain(name, version))
    ]);
  }

  private async _loadDeployments(): Promise<void> {
    await this._deployments.load(
      () => this.client.listDeployments(),
      list => {
        for (const d of list) {
          if (!isLive(d)) {
            this._stats.delete(d.name);
          }
        }
      }
    );
  }

  private _models = new Loader<IRegisteredModelInfo[]>(this, {
    keepValueOnError: true
  });
  private _selectedModel: string | null = null;
  private _model = new Loader<IRegisteredModelDetail>(this);
  private _selectedVersion: number | null = null;
  private _version = new Loader<IModelVersionDetail>(this);
  private _chain = new Loader<ILineageChain>(this);
  private _deployAction: IAction<IDeploymentInfo> | null = null;
  private _promoteAction: IAction<IPromotion> | null = null;
  // Polled: a reload keeps the cards as they are until the answer.
  private _deployments = new Loader<IDeploymentInfo[]>(this, {
    keepValueOnError: true,
    background: true
  });
  private _stats = new Map<string, IDeploymentStats>();
  private _statsInFlight = false;
  private _cardActions = new Map<string, IAction<IDeploymentInfo>>();
  private _logs = new Map<string, ILogsState>();
  private _timer: number | null = null;
  private _ticks = 0;
  private _revealed = new Signal<this, { name: string; version: number }>(this);
}
