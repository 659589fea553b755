import { PageConfig, URLExt } from '@jupyterlab/coreutils';
import { VDomModel } from '@jupyterlab/ui-components';
import { Signal } from '@lumino/signaling';

import {
  IAlertEvent,
  ICheckReport,
  ICheckSummary,
  IDashboardLink,
  IDriftReport,
  IFeatureDrift,
  IMonitorStatus,
  IMonitorStatusList,
  ISchedulerState,
  MlopsApiError,
  MlopsClient
} from '../../api';
import { Loader, LoadStatus } from '../load';

/**
 * How often the section re-reads the deployments' status, the events and the chosen
 * deployment's checks while it is shown. Checks run on the scheduler's interval (minutes), so a
 * slow poll is enough; the drift report is computed on demand only.
 */
export const POLL_INTERVAL_MS = 10_000;

/** The most checks of the trend (the newest ones). */
export const TREND_CHECKS = 100;

/** The windows a drift report can be asked for; '' is the deployment's configured window. */
export const DRIFT_WINDOWS: ReadonlyArray<string> = [
  '',
  '15m',
  '1h',
  '6h',
  '1d',
  '7d'
];

/** The Voila monitoring dashboard's path under the server's root, when the server does not say. */
export const MONITORING_DASHBOARD = 'dashboards/monitoring.ipynb';

/**
 * Where a deployment's monitoring dashboard opens: the server's link (`GET .../dashboard`, a
 * path on this server such as `/voila/render/dashboards/monitoring.ipynb?deployment=churn`)
 * when there is one, else Voila's server extension at `MONITORING_DASHBOARD`. The one place
 * that knows it.
 */
export function dashboardUrl(
  deployment: string,
  link: IDashboardLink | null = null,
  baseUrl: string = PageConfig.getBaseUrl()
): string {
  if (link?.url) {
    return new URL(link.url, baseUrl).href;
  }
  const path = URLExt.encodeParts(MONITORING_DASHBOARD);
  const url = URLExt.join(baseUrl, 'voila', 'render', path);
  return `${url}?${new URLSearchParams({ deployment })}`;
}

/** States in which a deployment answers requests, so a check has traffic to look at. */
const LIVE_STATES = new Set(['starting', 'running', 'updating', 'degraded']);

export function isLive(status: IMonitorStatus): boolean {
  return LIVE_STATES.has(status.state);
}

/** A user action in flight, done or failed; `label` says what it is doing or did. */
export interface IMonitorAction<T> {
  status: 'busy' | 'done' | 'error';
  label: string;
  result?: T;
  error?: MlopsApiError;
}

/**
 * State of the Monitoring section: every deployment at a glance (from its latest check), the
 * scheduler, the alert events, and one chosen deployment's drift report and checks time series.
 * The status, events and checks are polled while the section is shown.
 */
export class MonitoringModel extends VDomModel {
  constructor(client: MlopsClient) {
    super();
    this.client = client;
  }

  readonly client: MlopsClient;

  get deployments(): ReadonlyArray<IMonitorStatus> {
    return this._status.value?.deployments ?? [];
  }
  get scheduler(): ISchedulerState | null {
    return this._status.value?.scheduler ?? null;
  }
  get statusStatus(): LoadStatus {
    return this._status.status;
  }
  get statusError(): MlopsApiError | null {
    return this._status.error;
  }

  /** Alert events of every deployment, newest first. */
  get events(): ReadonlyArray<IAlertEvent> {
    return this._events.value ?? [];
  }
  get eventsStatus(): LoadStatus {
    return this._events.status;
  }
  get eventsError(): MlopsApiError | null {
    return this._events.error;
  }

  /** The deployment whose drift report and checks are shown. */
  get selected(): string | null {
    return this._selected;
  }
  get selectedStatus(): IMonitorStatus | null {
    return this.deployments.find(d => d.deployment === this._selected) ?? null;
  }

  get drift(): IDriftReport | null {
    return this._drift.value;
  }
  get driftStatus(): LoadStatus {
    return this._drift.status;
  }
  get driftError(): MlopsApiError | null {
    return this._drift.error;
  }
  /** The drift report's window: '' for the deployment's configured one. */
  get window(): string {
    return this._window;
  }

  /** The chosen deployment's checks, oldest first. */
  get checks(): ReadonlyArray<ICheckSummary> {
    return this._checks.value ?? [];
  }
  get checksStatus(): LoadStatus {
    return this._checks.status;
  }
  get checksError(): MlopsApiError | null {
    return this._checks.error;
  }

  /** The feature whose reference-vs-current chart is shown. */
  get feature(): IFeatureDrift | null {
    const features = this.drift?.features ?? [];
    return (
      features.find(f => f.feature === this._feature) ??
      features.find(f => f.drifted && f.chart) ??
      features.find(f => f.chart) ??
      null
    );
  }

  /** The last "Check now" of a deployment. */
  checkAction(name: string): IMonitorAction<ICheckReport> | null {
    return this._checkActions.get(name) ?? null;
  }
  get schedulerAction(): IMonitorAction<ISchedulerState> | null {
    return this._schedulerAction;
  }
  /** The last "Open dashboard" of a deployment, while it asks the server or if it failed. */
  dashboardAction(name: string): IMonitorAction<string> | null {
    return this._dashboardActions.get(name) ?? null;
  }

  /** Reload the status and events, and the chosen deployment's drift report and checks. */
  async refresh(): Promise<void> {
    const name = this._selected;
    await Promise.all([
      this._loadStatus(),
      this._loadEvents(),
      name !== null ? this._loadDrift(name) : Promise.resolve(),
      name !== null ? this._loadChecks(name) : Promise.resolve()
    ]);
  }

  /** Show a deployment's drift report and checks (or none). */
  async select(name: string | null): Promise<void> {
    if (name === this._selected && this._drift.status !== 'error') {
      return;
    }
    this._selected = name;
    this._feature = null;
    this._drift.reset();
    this._checks.reset();
    this.stateChanged.emit();
    if (name !== null) {
      await Promise.all([this._loadDrift(name), this._loadChecks(name)]);
    }
  }

  /** Recompute the drift report over another window ('' for the configured one). */
  async setWindow(window: string): Promise<void> {
    if (window === this._window) {
      return;
    }
    this._window = window;
    this.stateChanged.emit();
    if (this._selected !== null) {
      await this._loadDrift(this._selected);
    }
  }

  /** Chart another feature of the drift report. */
  selectFeature(feature: string): void {
    this._feature = feature;
    this.stateChanged.emit();
  }

  /** Run a check of a deployment now: it is stored, and raises or resolves alerts. */
  async runCheck(name: string): Promise<void> {
    if (this._checkActions.get(name)?.status === 'busy') {
      return;
    }
    this._checkActions.set(name, {
      status: 'busy',
      label: `Checking ${name}…`
    });
    this.stateChanged.emit();
    let action: IMonitorAction<ICheckReport>;
    try {
      const report = await this.client.runCheck(name);
      action = { status: 'done', label: checkOutcome(report), result: report };
    } catch (reason) {
      action = {
        status: 'error',
        label: `Cannot check ${name}`,
        error: MlopsApiError.from(reason)
      };
    }
    if (this.isDisposed) {
      return;
    }
    this._checkActions.set(name, action);
    this.stateChanged.emit();
    if (action.status === 'done') {
      await Promise.all([
        this._loadStatus(),
        this._loadEvents(),
        this._selected === name ? this._loadChecks(name) : Promise.resolve(),
        this._selected === name ? this._loadDrift(name) : Promise.resolve()
      ]);
    }
  }

  /**
   * Open a deployment's monitoring dashboard in a new browser tab. The server installs the
   * dashboard notebook in the workspace and says where Voila renders it; the tab is opened
   * before asking (in the click, so no popup blocker stops it) and sent there once known.
   */
  async openDashboard(name: string): Promise<void> {
    const tab = window.open('', '_blank');
    if (tab) {
      // The dashboard needs no handle on JupyterLab's window.
      tab.opener = null;
    }
    this._dashboardActions.set(name, {
      status: 'busy',
      label: `Opening the dashboard of ${name}…`
    });
    this.stateChanged.emit();
    let action: IMonitorAction<string> | null;
    try {
      const link = await this.client.getDashboardLink(name);
      const url = dashboardUrl(name, link);
      if (tab) {
        tab.location.href = url;
      } else {
        window.open(url, '_blank', 'noopener');
      }
      action = null;
    } catch (reason) {
      tab?.close();
      action = {
        status: 'error',
        label: `Cannot open the dashboard of ${name}`,
        error: MlopsApiError.from(reason)
      };
    }
    if (this.isDisposed) {
      return;
    }
    if (action === null) {
      this._dashboardActions.delete(name);
    } else {
      this._dashboardActions.set(name, action);
    }
    this.stateChanged.emit();
  }

  /** Start the workspace's scheduler, which checks every deployment on its interval. */
  async startScheduler(): Promise<void> {
    if (this._schedulerAction?.status === 'busy') {
      return;
    }
    this._schedulerAction = {
      status: 'busy',
      label: 'Starting the scheduler…'
    };
    this.stateChanged.emit();
    let action: IMonitorAction<ISchedulerState>;
    try {
      const state = await this.client.startMonitoringScheduler();
      action = { status: 'done', label: '', result: state };
      const list = this._status.value;
      if (list) {
        this._status.set({ ...list, scheduler: state });
      }
    } catch (reason) {
      action = {
        status: 'error',
        label: 'Cannot start the scheduler',
        error: MlopsApiError.from(reason)
      };
    }
    if (this.isDisposed) {
      return;
    }
    this._schedulerAction = action.status === 'done' ? null : action;
    this.stateChanged.emit();
  }

  /** Poll while `visible` (the section is shown); stop otherwise. */
  setVisible(visible: boolean): void {
    if (visible && this._timer === null && !this.isDisposed) {
      this._timer = window.setInterval(() => this._tick(), POLL_INTERVAL_MS);
    } else if (!visible && this._timer !== null) {
      window.clearInterval(this._timer);
      this._timer = null;
    }
  }

  get isPolling(): boolean {
    return this._timer !== null;
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this.setVisible(false);
    Signal.clearData(this);
    super.dispose();
  }

  /** One poll: what changes with each check; the drift report only on demand. */
  private _tick(): void {
    if (this.isDisposed || document.hidden) {
      return;
    }
    const name = this._selected;
    void Promise.all([
      this._loadStatus(),
      this._loadEvents(),
      name !== null ? this._loadChecks(name) : Promise.resolve()
    ]);
  }

  private async _loadStatus(): Promise<void> {
    await this._status.load(() => this.client.getMonitoring());
  }

  private async _loadEvents(): Promise<void> {
    await this._events.load(async () =>
      (await this.client.listMonitoringEvents()).reverse()
    );
  }

  private async _loadDrift(name: string): Promise<void> {
    const window = this._window;
    await this._drift.load(() =>
      this.client.getDriftReport(name, { window: window || undefined })
    );
  }

  private async _loadChecks(name: string): Promise<void> {
    await this._checks.load(
      async () =>
        (await this.client.listChecks(name, { limit: TREND_CHECKS })).checks
    );
  }

  // Polled: a reload keeps what is shown until the answer.
  private _status = new Loader<IMonitorStatusList>(this, {
    keepValueOnError: true,
    background: true
  });
  private _events = new Loader<IAlertEvent[]>(this, {
    keepValueOnError: true,
    background: true
  });
  private _selected: string | null = null;
  private _window = '';
  private _feature: string | null = null;
  private _drift = new Loader<IDriftReport>(this);
  private _checks = new Loader<ICheckSummary[]>(this, {
    keepValueOnError: true,
    background: true
  });
  private _checkActions = new Map<string, IMonitorAction<ICheckReport>>();
  private _schedulerAction: IMonitorAction<ISchedulerState> | null = null;
  private _dashboardActions = new Map<string, IMonitorAction<string>>();
  private _timer: number | null = null;
}

/** What a check found, in a line: `Checked 1,200 rows: 2 of 5 features drifted, 1 alert firing`. */
export function checkOutcome(report: ICheckReport): string {
  const { summary } = report;
  const found: string[] = [];
  const drift = report.drift;
  if (drift && drift.status !== 'no_data') {
    const tested = drift.features.filter(
      f => f.status === 'ok' || f.status === 'drifted'
    ).length;
    found.push(`${drift.drifted.length} of ${tested} features drifted`);
  } else if (report.message) {
    found.push(report.message);
  }
  if (summary.firing.length > 0) {
    found.push(
      `${summary.firing.length} alert${summary.firing.length === 1 ? '' : 's'} firing`
    );
  }
  const head = `Checked ${summary.rows.toLocaleString()} rows`;
  return found.length > 0 ? `${head}: ${found.join(', ')}` : head;
}
