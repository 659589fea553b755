import {
  AbWinner,
  IAbExperiment,
  IAbStartRequest,
  IAbStatus,
  IModelVersionInfo,
  MlopsApiError,
  MlopsClient
} from '../../api';
import { LoadStatus } from '../load';

/** How often the A/B figures are re-read while the Models section is shown. */
export const AB_POLL_INTERVAL_MS = 5000;

/** A user action in flight, done or failed (Start, Stop). */
export interface IAbAction {
  status: 'busy' | 'done' | 'error';
  label: string;
  result?: IAbExperiment;
  error?: MlopsApiError;
}

/** What the A/B view of one deployment shows. */
export interface IAbView {
  /** The A/B test's status (running, or the last one once stopped); null before it is read. */
  status: IAbStatus | null;
  loadStatus: LoadStatus;
  error: MlopsApiError | null;
}

/**
 * The A/B tests of the deployments in the Models section: which deployment runs one (read with
 * every poll), the status of each test shown (assignments, the analysis, the guardrails), and the
 * Start and Stop actions. A deployment with a running test shows its view; one without shows it
 * when the user opens the "Start A/B test" form. Figures are re-read every 5 s while shown.
 */
export class AbTests {
  constructor(options: AbTests.IOptions) {
    this._client = options.client;
    this._changed = options.changed;
    this._decided = options.decided;
  }

  /** The running test of a deployment, as last listed. */
  running(deployment: string): IAbExperiment | null {
    return this._running.get(deployment) ?? null;
  }

  /** The last test of a deployment, running or not, as last listed. */
  latest(deployment: string): IAbExperiment | null {
    return this._latest.get(deployment) ?? null;
  }

  /** Whether the deployment's A/B view is shown (always, while a test runs). */
  isOpen(deployment: string): boolean {
    return this._running.has(deployment) || this._opened.has(deployment);
  }

  view(deployment: string): IAbView | null {
    return this._views.get(deployment) ?? null;
  }

  action(deployment: string): IAbAction | null {
    return this._actions.get(deployment) ?? null;
  }

  /** The versions of a model a challenger can be chosen from, newest first; null until read. */
  versions(model: string): IModelVersionInfo[] | null {
    return this._versions.get(model) ?? null;
  }

  /** Show the "Start A/B test" form of a deployment serving `model`. */
  open(deployment: string, model: string): void {
    this._opened.add(deployment);
    this._actions.delete(deployment);
    this._changed();
    void this._loadVersions(model);
  }

  /** Hide the form (a running test's view stays). */
  close(deployment: string): void {
    this._opened.delete(deployment);
    this._actions.delete(deployment);
    this._changed();
  }

  /** Start a test: the deployment's version (the champion) against `request.challenger`. */
  async start(deployment: string, request: IAbStartRequest): Promise<void> {
    if (this._actions.get(deployment)?.status === 'busy') {
      return;
    }
    this._setAction(deployment, {
      status: 'busy',
      label: `Starting the A/B test of v${request.challenger}…`
    });
    try {
      const exp = await this._client.startAbTest(deployment, request);
      this._running.set(deployment, exp);
      this._latest.set(deployment, exp);
      this._opened.delete(deployment);
      this._actions.delete(deployment);
      this._changed();
      await this._decided();
      await this._loadStatus(deployment);
    } catch (reason) {
      this._setAction(deployment, {
        status: 'error',
        label: 'Cannot start the A/B test',
        error: MlopsApiError.from(reason)
      });
    }
  }

  /** End the running test: the winner serves alone; a winning challenger takes @champion. */
  async stop(deployment: string, winner: AbWinner): Promise<void> {
    if (this._actions.get(deployment)?.status === 'busy') {
      return;
    }
    this._setAction(deployment, {
      status: 'busy',
      label: `Ending the test: the ${winner} wins…`
    });
    try {
      const exp = await this._client.stopAbTest(deployment, winner);
      this._running.delete(deployment);
      this._latest.set(deployment, exp);
      this._views.delete(deployment);
      const version = exp.decision?.version ?? '?';
      this._setAction(deployment, {
        status: 'done',
        label:
          `The ${winner} (v${version}) now serves ${deployment} alone` +
          (exp.decision?.alias_moved ? `; @champion is v${version}` : ''),
        result: exp
      });
      // Aliases and the served versions changed: the rest of the section shows them.
      await this._decided();
    } catch (reason) {
      this._setAction(deployment, {
        status: 'error',
        label: `Cannot end the test of ${deployment}`,
        error: MlopsApiError.from(reason)
      });
      await this.poll();
    }
  }

  /** Poll every 5 s while `visible`; stop otherwise. */
  setVisible(visible: boolean): void {
    if (visible && this._timer === null && !this._disposed) {
      this._timer = window.setInterval(
        () => void this.poll(),
        AB_POLL_INTERVAL_MS
      );
      void this.poll();
    } else if (!visible && this._timer !== null) {
      window.clearInterval(this._timer);
      this._timer = null;
    }
  }

  /** Which deployments run a test, then the status of each view shown. */
  async poll(): Promise<void> {
    if (this._disposed || this._polling || document.hidden) {
      return;
    }
    this._polling = true;
    try {
      let list: IAbExperiment[];
      try {
        list = await this._client.listAbTests();
      } catch {
        return; // the next poll tries again; the cards keep what they show
      }
      if (this._disposed) {
        return;
      }
      this._running.clear();
      this._latest.clear();
      for (const exp of list) {
        // Newest first: the first of a deployment is its latest.
        if (!this._latest.has(exp.deployment)) {
          this._latest.set(exp.deployment, exp);
        }
        if (exp.state === 'running' && !this._running.has(exp.deployment)) {
          this._running.set(exp.deployment, exp);
        }
      }
      for (const name of [...this._views.keys()]) {
        if (!this._running.has(name)) {
          this._views.delete(name);
        }
      }
      this._changed();
      await Promise.all(
        [...this._running.keys()].map(name => this._loadStatus(name))
      );
    } finally {
      this._polling = false;
    }
  }

  dispose(): void {
    this.setVisible(false);
    this._disposed = true;
  }

  private async _loadStatus(deployment: string): Promise<void> {
    const previous = this._views.get(deployment);
    if (!previous) {
      this._views.set(deployment, {
        status: null,
        loadStatus: 'loading',
        error: null
      });
      this._changed();
    }
    let next: IAbView;
    try {
      const status = await this._client.getAbTest(deployment);
      next = { status, loadStatus: 'ready', error: null };
    } catch (reason) {
      next = {
        status: previous?.status ?? null,
        loadStatus: 'error',
        error: MlopsApiError.from(reason)
      };
    }
    if (this._disposed || !this._running.has(deployment)) {
      return;
    }
    this._views.set(deployment, next);
    this._changed();
  }

  private async _loadVersions(model: string): Promise<void> {
    try {
      const detail = await this._client.getModel(model);
      this._versions.set(model, detail.version_list);
    } catch {
      this._versions.set(model, []);
    }
    if (!this._disposed) {
      this._changed();
    }
  }

  private _setAction(deployment: string, action: IAbAction): void {
    this._actions.set(deployment, action);
    this._changed();
  }

  private _client: MlopsClient;
  private _changed: () => void;
  private _decided: () => Promise<void>;
  private _running = new Map<string, IAbExperiment>();
  private _latest = new Map<string, IAbExperiment>();
  private _views = new Map<string, IAbView>();
  private _actions = new Map<string, IAbAction>();
  private _versions = new Map<string, IModelVersionInfo[]>();
  private _opened = new Set<string>();
  private _timer: number | null = null;
  private _polling = false;
  private _disposed = false;
}

export namespace AbTests {
  export interface IOptions {
    client: MlopsClient;
    /** Called on every change of what the views show. */
    changed: () => void;
    /** Called once a test started or ended: re-read the models and the deployments. */
    decided: () => Promise<void>;
  }
}
