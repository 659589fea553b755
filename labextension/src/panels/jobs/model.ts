import { VDomModel } from '@jupyterlab/ui-components';
import { JSONObject } from '@lumino/coreutils';
import { Signal } from '@lumino/signaling';

import {
  IJob,
  IJobLog,
  INotebookParameter,
  INotebookParameters,
  JobState,
  MlopsApiError,
  MlopsClient
} from '../../api';
import { ILoadable, Loader, LoadStatus } from '../load';
import { defaultValue, FieldValue, jobValue, parseField } from './form';
import { PipelinesModel } from './pipelines';

/** How often the job list is re-read while a job is queued or running and the section shown. */
export const POLL_INTERVAL_MS = 1000;

/**
 * How often it is re-read otherwise while the section is shown: jobs queued elsewhere (the CLI,
 * a notebook, another tab) appear within this time.
 */
export const IDLE_POLL_INTERVAL_MS = 5000;

/** The most jobs listed (the newest). */
export const JOB_LIMIT = 50;

const ACTIVE: ReadonlySet<JobState> = new Set(['queued', 'running']);

export function isActive(job: IJob): boolean {
  return ACTIVE.has(job.state);
}

/** A user action in flight, done or failed; `label` says what it is doing or did. */
export interface IJobAction {
  status: 'busy' | 'done' | 'error';
  label: string;
  error?: MlopsApiError;
}

/** The views of the Jobs section: the form and the jobs, or the pipelines. */
export type JobsView = 'jobs' | 'pipelines';

/** What the form runs: a notebook, or a job's notebook again (`rerun`). */
export interface IJobTarget {
  notebook: string;
  rerun: IJob | null;
}

/**
 * State of the Jobs section: the form that runs a notebook as a job (one field per parameter
 * of its `parameters` cell), the jobs, newest first, and the logs opened on them. While the
 * section is shown the jobs are re-read every second when one is queued or running, else every
 * five seconds; an open log is re-read with its job until the job has finished. The section's
 * other view, the pipelines, has its own model and polls only while it is the one shown.
 */
export class JobsModel extends VDomModel {
  constructor(client: MlopsClient, options: JobsModel.IOptions = {}) {
    super();
    this.client = client;
    this._beforeSubmit = options.beforeSubmit ?? null;
    this.pipelines = new PipelinesModel(client);
    this.pipelines.stateChanged.connect(this._pipelinesChanged, this);
  }

  readonly client: MlopsClient;

  /** The Pipelines view's state. */
  readonly pipelines: PipelinesModel;

  // -- the view ---------------------------------------------------------------------------------

  /** Which view of the section is shown. */
  get view(): JobsView {
    return this._view;
  }

  /** Show the jobs or the pipelines; only the one shown is polled. */
  setView(view: JobsView): void {
    if (view === this._view) {
      return;
    }
    this._view = view;
    this._applyVisibility();
    if (view === 'pipelines' && this.pipelines.status === 'idle') {
      void this.pipelines.refresh();
    }
    if (view === 'jobs') {
      void this._loadJobs();
    }
    this.stateChanged.emit();
  }

  /**
   * How many times a link asked to show this job (0: never): its card scrolls into view each
   * time this changes.
   */
  shownCount(id: string): number {
    return this._shown?.id === id ? this._shown.count : 0;
  }

  /** Show a job in the jobs list with its log open (e.g. a pipeline run's job). */
  async showJob(id: string): Promise<void> {
    this._shown = {
      id,
      count: this._shown?.id === id ? this._shown.count + 1 : 1
    };
    if (!this._logs.has(id)) {
      this.toggleLog(id);
    }
    if (this._view !== 'jobs') {
      this.setView('jobs');
      return;
    }
    this.stateChanged.emit();
    await this._loadJobs();
  }

  // -- the form ---------------------------------------------------------------------------------

  /** The notebook active in the main area (path under the server root), if any. */
  get notebook(): string | null {
    return this._notebook;
  }

  /** What the form runs: the active notebook, or a job's notebook to run again. */
  get target(): IJobTarget | null {
    if (this._rerun) {
      return { notebook: this._rerun.notebook, rerun: this._rerun };
    }
    return this._notebook ? { notebook: this._notebook, rerun: null } : null;
  }

  get parameters(): INotebookParameters | null {
    return this._parameters.value;
  }
  get parametersStatus(): LoadStatus {
    return this._parameters.status;
  }
  get parametersError(): MlopsApiError | null {
    return this._parameters.error;
  }

  /** A field's value: what was typed, else the job's value (a re-run), else the default. */
  value(parameter: INotebookParameter): FieldValue {
    return this._values.get(parameter.name) ?? defaultValue(parameter);
  }

  /** Whether a field is sent: typed in, or a value of the job run again. */
  isSet(name: string): boolean {
    return this._values.has(name);
  }

  setValue(name: string, value: FieldValue): void {
    this._values.set(name, value);
    this._fieldErrors.delete(name);
    this.stateChanged.emit();
  }

  /** Why a field's value cannot be sent, from the form or from the server. */
  fieldError(name: string): string | null {
    return this._fieldErrors.get(name) ?? null;
  }

  get submitAction(): IJobAction | null {
    return this._submit;
  }

  /** Follow the notebook active in the main area (null: none is). */
  setNotebook(path: string | null): void {
    if (path === this._notebook) {
      return;
    }
    this._notebook = path;
    if (this._rerun) {
      this.stateChanged.emit();
      return;
    }
    this._resetForm();
    void this._loadParameters();
  }

  /** Re-read the parameters of the form's notebook (after it was saved). */
  async reloadParameters(path?: string): Promise<void> {
    if (path === undefined || path === this.target?.notebook) {
      await this._loadParameters();
    }
  }

  /** Fill the form with a job's notebook and parameters, to run it again. */
  async rerunForm(job: IJob): Promise<void> {
    this._rerun = job;
    this._resetForm();
    await this._loadParameters(parameters => {
      for (const p of parameters.parameters) {
        if (p.name in job.parameters) {
          this._values.set(p.name, jobValue(p, job.parameters[p.name]));
        }
      }
    });
  }

  /** Back to the active notebook's form. */
  closeRerun(): void {
    if (!this._rerun) {
      return;
    }
    this._rerun = null;
    this._resetForm();
    void this._loadParameters();
  }

  /** Queue the form's notebook with the fields set: a new job, or a re-run. */
  async submit(): Promise<IJob | null> {
    const target = this.target;
    const declared = this.parameters;
    if (!target || this._submit?.status === 'busy') {
      return null;
    }
    const parameters: JSONObject = {};
    this._fieldErrors.clear();
    for (const p of declared?.parameters ?? []) {
      const value = this._values.get(p.name);
      if (value === undefined) {
        continue;
      }
      const parsed = parseField(p, value);
      if ('error' in parsed) {
        this._fieldErrors.set(p.name, `Give ${parsed.error}.`);
      } else {
        parameters[p.name] = parsed.value;
      }
    }
    if (this._fieldErrors.size > 0) {
      this._submit = null;
      this.stateChanged.emit();
      return null;
    }
    const name = target.notebook.split('/').pop() ?? target.notebook;
    this._submit = { status: 'busy', label: `Submitting ${name}…` };
    this.stateChanged.emit();
    let job: IJob | null = null;
    try {
      if (target.rerun) {
        job = await this.client.rerunJob(target.rerun.id, parameters);
      } else {
        await this._beforeSubmit?.(target.notebook);
        job = await this.client.submitJob({
          notebook: target.notebook,
          parameters
        });
      }
      this._submit = {
        status: 'done',
        label: `Queued job ${shortId(job.id)}`
      };
    } catch (reason) {
      const error = MlopsApiError.from(reason);
      if (
        error.field &&
        declared?.parameters.some(p => p.name === error.field)
      ) {
        this._fieldErrors.set(error.field, error.message);
      }
      this._submit = { status: 'error', label: 'Cannot submit', error };
    }
    if (this.isDisposed) {
      return job;
    }
    if (job) {
      const submitted = job;
      const others = (this._jobs.value ?? []).filter(
        j => j.id !== submitted.id
      );
      this._jobs.set([submitted, ...others]);
      if (this._rerun) {
        this._rerun = null;
        this._resetForm(false);
        void this._loadParameters();
      }
      // Follow it every second from now, not after the idle interval.
      this._reschedule();
    }
    this.stateChanged.emit();
    return job;
  }

  // -- the jobs ---------------------------------------------------------------------------------

  get jobs(): ReadonlyArray<IJob> {
    return this._jobs.value ?? [];
  }
  get jobsStatus(): LoadStatus {
    return this._jobs.status;
  }
  get jobsError(): MlopsApiError | null {
    return this._jobs.error;
  }

  /** The last cancel of a job, while it runs or if it failed. */
  jobAction(id: string): IJobAction | null {
    return this._jobActions.get(id) ?? null;
  }

  /** Cancel a queued job, or stop a running one's kernel. */
  async cancel(id: string): Promise<void> {
    if (this._jobActions.get(id)?.status === 'busy') {
      return;
    }
    this._jobActions.set(id, { status: 'busy', label: 'Cancelling…' });
    this.stateChanged.emit();
    let action: IJobAction | null = null;
    let job: IJob | null = null;
    try {
      job = await this.client.cancelJob(id);
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
      this._jobActions.set(id, action);
    } else {
      this._jobActions.delete(id);
    }
    if (job) {
      const cancelled = job;
      this._jobs.set(
        this.jobs.map(j => (j.id === cancelled.id ? cancelled : j))
      );
    }
    this.stateChanged.emit();
    await this._loadJobs();
  }

  /** Whether a sweep's jobs are folded under its header. */
  isSweepFolded(name: string): boolean {
    return this._foldedSweeps.has(name);
  }

  toggleSweep(name: string): void {
    if (!this._foldedSweeps.delete(name)) {
      this._foldedSweeps.add(name);
    }
    this.stateChanged.emit();
  }

  // -- the logs ---------------------------------------------------------------------------------

  /** Whether the log of a job is shown. */
  isLogOpen(id: string): boolean {
    return this._logs.has(id);
  }

  /** What a job's cells printed, as last read; null before the first answer. */
  log(id: string): JobLog | null {
    return this._logs.get(id) ?? null;
  }

  /** Show a job's log (read it now and with the job while it runs), or hide it. */
  toggleLog(id: string): void {
    const open = this._logs.get(id);
    if (open) {
      open.reset();
      this._logs.delete(id);
      this.stateChanged.emit();
      return;
    }
    const log = new Loader<IJobLog>(this, { background: true });
    this._logs.set(id, log);
    void this._loadLog(id, log);
  }

  /** Reload the jobs and the form's parameters, and the pipelines when they are shown. */
  async refresh(): Promise<void> {
    await Promise.all([
      this._loadJobs(),
      this.target ? this._loadParameters() : Promise.resolve(),
      this._view === 'pipelines' ? this.pipelines.refresh() : Promise.resolve()
    ]);
  }

  /**
   * Poll while `visible` (the section is shown), the view shown only: the jobs every second
   * while a job is active.
   */
  setVisible(visible: boolean): void {
    this._visible = visible && !this.isDisposed;
    this._applyVisibility();
  }

  get isPolling(): boolean {
    return this._timer !== null;
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._unschedule();
    this.pipelines.dispose();
    Signal.clearData(this);
    super.dispose();
  }

  private _pipelinesChanged(): void {
    if (!this.isDisposed) {
      this.stateChanged.emit();
    }
  }

  private _applyVisibility(): void {
    if (this._visible && this._view === 'jobs') {
      this._schedule();
    } else {
      this._unschedule();
    }
    this.pipelines.setVisible(this._visible && this._view === 'pipelines');
  }

  private _schedule(): void {
    if (
      this._timer !== null ||
      !this._visible ||
      this._view !== 'jobs' ||
      this.isDisposed
    ) {
      return;
    }
    const interval = this.jobs.some(isActive)
      ? POLL_INTERVAL_MS
      : IDLE_POLL_INTERVAL_MS;
    this._timer = window.setTimeout(() => {
      this._timer = null;
      if (document.hidden) {
        this._schedule();
        return;
      }
      void this._loadJobs();
    }, interval);
  }

  /** Wait the interval that fits the jobs now (a job may have started or finished). */
  private _reschedule(): void {
    this._unschedule();
    this._schedule();
  }

  private _unschedule(): void {
    if (this._timer !== null) {
      window.clearTimeout(this._timer);
      this._timer = null;
    }
  }

  private async _loadJobs(): Promise<void> {
    const jobs = await this._jobs.load(() =>
      this.client.listJobs({ limit: JOB_LIMIT })
    );
    this._reschedule();
    if (jobs) {
      this._reloadLogs(jobs);
    }
  }

  /**
   * Re-read the open logs of jobs that run, or that finished since their log was read (its
   * last lines). A log that failed is tried again only while its job runs.
   */
  private _reloadLogs(jobs: ReadonlyArray<IJob>): void {
    for (const job of jobs) {
      const log = this._logs.get(job.id);
      if (
        log &&
        log.status !== 'loading' &&
        (isActive(job) ||
          (log.status === 'ready' && log.value?.state !== job.state))
      ) {
        void this._loadLog(job.id, log);
      }
    }
  }

  private async _loadLog(id: string, log: Loader<IJobLog>): Promise<void> {
    await log.load(() => this.client.getJobLog(id));
  }

  private async _loadParameters(
    onValue?: (parameters: INotebookParameters) => void
  ): Promise<void> {
    const target = this.target;
    if (!target) {
      this._parameters.reset();
      return;
    }
    await this._parameters.load(
      () => this.client.getNotebookParameters(target.notebook),
      onValue
    );
  }

  private _resetForm(clearSubmit = true): void {
    this._values.clear();
    this._fieldErrors.clear();
    if (clearSubmit) {
      this._submit = null;
    }
    this._parameters.reset();
  }

  private _beforeSubmit: ((notebook: string) => Promise<void>) | null;
  private _notebook: string | null = null;
  private _rerun: IJob | null = null;
  private _parameters = new Loader<INotebookParameters>(this);
  private _values = new Map<string, FieldValue>();
  private _fieldErrors = new Map<string, string>();
  private _submit: IJobAction | null = null;
  // Polled: a reload keeps what is shown until the answer.
  private _jobs = new Loader<IJob[]>(this, {
    keepValueOnError: true,
    background: true
  });
  private _jobActions = new Map<string, IJobAction>();
  private _logs = new Map<string, Loader<IJobLog>>();
  private _foldedSweeps = new Set<string>();
  private _visible = false;
  private _view: JobsView = 'jobs';
  private _shown: { id: string; count: number } | null = null;
  private _timer: number | null = null;
}

export namespace JobsModel {
  export interface IOptions {
    /** Called before a notebook is submitted, e.g. to save its unsaved changes. */
    beforeSubmit?: (notebook: string) => Promise<void>;
  }
}

/** A job's log as last read, and whether it is being read. */
export type JobLog = ILoadable<IJobLog>;

/** A job id's last 8 characters, its random part: enough to tell jobs apart (and to ask for one). */
export function shortId(id: string): string {
  return id.slice(-8);
}
