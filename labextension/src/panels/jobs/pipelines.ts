import { VDomModel } from '@jupyterlab/ui-components';
import { Signal } from '@lumino/signaling';

import {
  IPipelineInfo,
  IPipelineList,
  IPipelineRun,
  IRunNowResult,
  ISchedulerState,
  MlopsApiError,
  MlopsClient,
  RunState
} from '../../api';
import { Loader, LoadStatus } from '../load';

/** How often the pipelines are re-read while a run goes and the view is shown. */
export const PIPELINE_POLL_INTERVAL_MS = 1000;

/** How often otherwise while the view is shown: runs started by a trigger appear within this. */
export const PIPELINE_IDLE_POLL_INTERVAL_MS = 5000;

/** The runs shown under each pipeline (the newest). */
export const PIPELINE_RUN_LIMIT = 5;

const FINAL_RUN_STATES: ReadonlySet<RunState> = new Set([
  'succeeded',
  'failed',
  'cancelled'
]);

/** Whether a run has not ended (its job runs, or it waits on an A/B test). */
export function isRunActive(run: IPipelineRun): boolean {
  return !FINAL_RUN_STATES.has(run.state);
}

/** A pipeline run id's random tail: enough to tell runs apart on screen. */
export function shortRunId(id: string): string {
  return id.slice(-6);
}

/** A user action on a pipeline (Run now, enable/disable, cancel), in flight, done or failed. */
export interface IPipelineAction {
  status: 'busy' | 'done' | 'error';
  label: string;
  /** The run that Run now started or joined. */
  runId?: string;
  /** More on what happened (why an event was absorbed), for a tooltip. */
  note?: string;
  error?: MlopsApiError;
}

/** The last runs of one pipeline, as last read. */
interface IRuns {
  loader: Loader<IPipelineRun[]>;
  /** What the list said of the pipeline when its runs were read: they are re-read on a change. */
  seen: string;
}

/**
 * State of the Pipelines view of the Jobs section: the applied pipelines with their triggers,
 * the last runs of each with their steps, the run opened in each, and the actions (enable,
 * disable, Run now, cancel). While the view is shown it is re-read every second when a run
 * goes, else every five seconds; the runs of a pipeline are re-read when its last run moved.
 */
export class PipelinesModel extends VDomModel {
  constructor(client: MlopsClient) {
    super();
    this.client = client;
  }

  readonly client: MlopsClient;

  get pipelines(): ReadonlyArray<IPipelineInfo> {
    return this._list.value?.pipelines ?? [];
  }
  get status(): LoadStatus {
    return this._list.status;
  }
  get error(): MlopsApiError | null {
    return this._list.error;
  }
  /** The workspace's scheduler, which watches the triggers and moves runs along. */
  get scheduler(): ISchedulerState | null {
    return this._list.value?.scheduler ?? null;
  }

  /** The newest runs of a pipeline, newest first. */
  runs(name: string): ReadonlyArray<IPipelineRun> {
    return this._runs.get(name)?.loader.value ?? [];
  }
  runsStatus(name: string): LoadStatus {
    return this._runs.get(name)?.loader.status ?? 'idle';
  }
  runsError(name: string): MlopsApiError | null {
    return this._runs.get(name)?.loader.error ?? null;
  }

  /** The run whose trigger and steps are shown under a pipeline, if one is. */
  openRun(name: string): IPipelineRun | null {
    const id = this._open.get(name);
    return id ? (this.runs(name).find(r => r.id === id) ?? null) : null;
  }

  /** Show a run's trigger and steps, or hide them. */
  toggleRun(name: string, id: string): void {
    if (this._open.get(name) === id) {
      this._open.delete(name);
    } else {
      this._open.set(name, id);
    }
    this.stateChanged.emit();
  }

  /** The last Run now or enable/disable of a pipeline. */
  action(name: string): IPipelineAction | null {
    return this._actions.get(name) ?? null;
  }

  /** The last cancel of a run, while it goes or if it failed. */
  runAction(id: string): IPipelineAction | null {
    return this._runActions.get(id) ?? null;
  }

  /** Whether some run of a shown pipeline has not ended. */
  get hasActiveRun(): boolean {
    return this.pipelines.some(
      p =>
        !!p.active_run ||
        (p.last_run !== null && p.last_run !== undefined
          ? isRunActive(p.last_run)
          : false)
    );
  }

  /** Enable or disable a pipeline (a disabled one records its events and runs nothing). */
  async setEnabled(name: string, enabled: boolean): Promise<void> {
    if (this._actions.get(name)?.status === 'busy') {
      return;
    }
    this._actions.set(name, {
      status: 'busy',
      label: enabled ? 'Enabling…' : 'Disabling…'
    });
    this.stateChanged.emit();
    let action: IPipelineAction | null = null;
    try {
      const info = await this.client.setPipelineEnabled(name, enabled);
      this._replace(info);
    } catch (reason) {
      action = {
        status: 'error',
        label: enabled ? `Cannot enable ${name}` : `Cannot disable ${name}`,
        error: MlopsApiError.from(reason)
      };
    }
    if (this.isDisposed) {
      return;
    }
    if (action) {
      this._actions.set(name, action);
    } else {
      this._actions.delete(name);
    }
    this.stateChanged.emit();
  }

  /** Run a pipeline now: a new run, or the request joins the run going. */
  async runNow(name: string): Promise<IRunNowResult | null> {
    if (this._actions.get(name)?.status === 'busy') {
      return null;
    }
    this._actions.set(name, { status: 'busy', label: 'Starting…' });
    this.stateChanged.emit();
    let result: IRunNowResult | null = null;
    let action: IPipelineAction;
    try {
      result = await this.client.runPipeline(name);
      action = runNowAction(result);
    } catch (reason) {
      action = {
        status: 'error',
        label: `Cannot run ${name}`,
        error: MlopsApiError.from(reason)
      };
    }
    if (this.isDisposed) {
      return result;
    }
    this._actions.set(name, action);
    const run = result?.run;
    if (run) {
      const runs = this._runsOf(name);
      const others = (runs.loader.value ?? []).filter(r => r.id !== run.id);
      runs.loader.set([run, ...others].slice(0, PIPELINE_RUN_LIMIT));
      this._open.set(name, run.id);
    }
    this.stateChanged.emit();
    // Follow the run every second from now.
    await this._load();
    return result;
  }

  /** Stop a run: its job is cancelled, the steps not done are skipped. */
  async cancelRun(run: IPipelineRun): Promise<void> {
    if (this._runActions.get(run.id)?.status === 'busy') {
      return;
    }
    this._runActions.set(run.id, { status: 'busy', label: 'Cancelling…' });
    this.stateChanged.emit();
    let action: IPipelineAction | null = null;
    try {
      const cancelled = await this.client.cancelPipelineRun(run.id);
      const runs = this._runsOf(run.pipeline);
      runs.loader.set(
        (runs.loader.value ?? []).map(r =>
          r.id === cancelled.id ? cancelled : r
        )
      );
    } catch (reason) {
      action = {
        status: 'error',
        label: 'Cannot cancel',
        error: MlopsApiError.from(reason)
      };
    }
    if (this.isDisposed) {
      return;
    }
    if (action) {
      this._runActions.set(run.id, action);
    } else {
      this._runActions.delete(run.id);
    }
    this.stateChanged.emit();
    await this._load();
  }

  /** Reload the pipelines and the runs of each. */
  async refresh(): Promise<void> {
    await this._load(true);
  }

  /** Poll while `visible` (the view is shown in a shown section). */
  setVisible(visible: boolean): void {
    const was = this._visible;
    this._visible = visible && !this.isDisposed;
    if (!this._visible) {
      this._unschedule();
    } else if (!was && this._list.status !== 'idle') {
      // Shown again: what changed while hidden, now.
      this._unschedule();
      void this._load();
    } else {
      this._schedule();
    }
  }

  get isPolling(): boolean {
    return this._timer !== null;
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._unschedule();
    Signal.clearData(this);
    super.dispose();
  }

  /** Read the list, then the runs of the pipelines whose last run moved (all with `all`). */
  private async _load(all = false): Promise<void> {
    this._unschedule();
    const list = await this._list.load(() => this.client.getPipelines());
    if (list) {
      await this._loadRuns(list, all);
    }
    this._schedule();
  }

  private async _loadRuns(list: IPipelineList, all: boolean): Promise<void> {
    const names = new Set(list.pipelines.map(p => p.name));
    for (const name of Array.from(this._runs.keys())) {
      if (!names.has(name)) {
        this._runs.delete(name);
        this._open.delete(name);
      }
    }
    await Promise.all(
      list.pipelines.map(info => {
        const runs = this._runsOf(info.name);
        const seen = lastRunSignature(info);
        if (!all && runs.loader.status !== 'idle' && runs.seen === seen) {
          return Promise.resolve();
        }
        runs.seen = seen;
        return runs.loader.load(() =>
          this.client.listPipelineRuns(info.name, {
            limit: PIPELINE_RUN_LIMIT
          })
        );
      })
    );
  }

  private _runsOf(name: string): IRuns {
    let runs = this._runs.get(name);
    if (!runs) {
      // Polled: a reload keeps the runs shown until the answer.
      runs = {
        loader: new Loader<IPipelineRun[]>(this, {
          keepValueOnError: true,
          background: true
        }),
        seen: ''
      };
      this._runs.set(name, runs);
    }
    return runs;
  }

  private _replace(info: IPipelineInfo): void {
    const list = this._list.value;
    if (list) {
      this._list.set({
        ...list,
        pipelines: list.pipelines.map(p => (p.name === info.name ? info : p))
      });
    }
  }

  private _schedule(): void {
    if (this._timer !== null || !this._visible || this.isDisposed) {
      return;
    }
    const interval = this.hasActiveRun
      ? PIPELINE_POLL_INTERVAL_MS
      : PIPELINE_IDLE_POLL_INTERVAL_MS;
    this._timer = window.setTimeout(() => {
      this._timer = null;
      if (document.hidden) {
        this._schedule();
        return;
      }
      void this._load();
    }, interval);
  }

  private _unschedule(): void {
    if (this._timer !== null) {
      window.clearTimeout(this._timer);
      this._timer = null;
    }
  }

  private _list = new Loader<IPipelineList>(this, {
    keepValueOnError: true,
    background: true
  });
  private _runs = new Map<string, IRuns>();
  private _open = new Map<string, string>();
  private _actions = new Map<string, IPipelineAction>();
  private _runActions = new Map<string, IPipelineAction>();
  private _visible = false;
  private _timer: number | null = null;
}

/** What Run now did, in words: `Started run 3f9a1c`, `Absorbed by run 3f9a1c`. */
export function runNowAction(result: IRunNowResult): IPipelineAction {
  const { event } = result;
  const runId = result.run?.id ?? event.run_id ?? undefined;
  const run = runId ? `run ${shortRunId(runId)}` : 'a run';
  switch (event.outcome) {
    case 'started':
      return { status: 'done', label: `Started ${run}`, runId };
    case 'absorbed':
      return {
        status: 'done',
        label: `Absorbed by ${run}`,
        runId,
        note: event.note ?? undefined
      };
    case 'disabled':
      return { status: 'done', label: 'Not run: the pipeline is disabled' };
    default:
      return {
        status: 'done',
        label:
          `Not run (${event.outcome})` + (event.note ? `: ${event.note}` : '')
      };
  }
}

/** The last run of a pipeline as the list shows it: its runs are re-read when this changes. */
function lastRunSignature(info: IPipelineInfo): string {
  const run = info.last_run;
  if (!run) {
    return `${info.runs}`;
  }
  const steps = run.steps.map(s => `${s.state}:${s.detail}`).join('|');
  return `${info.runs}/${run.id}/${run.state}/${run.absorbed}/${steps}`;
}
