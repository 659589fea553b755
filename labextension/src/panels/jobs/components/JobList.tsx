import { Time } from '@jupyterlab/coreutils';
import { JSONValue } from '@lumino/coreutils';
import * as React from 'react';

import { IJob } from '../../../api';
import { Empty, ErrorMessage, Loading } from '../../../components/status';
import { isActive, JobsModel, shortId } from '../model';
import { groupJobs, ISweepGroup } from '../sweeps';

/** Seconds as people say them: `0.8 s`, `42 s`, `3 min 5 s`, `2 h 10 min`. */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) {
    return '';
  }
  if (seconds < 10) {
    return `${Number(seconds.toFixed(1))} s`;
  }
  if (seconds < 60) {
    return `${Math.round(seconds)} s`;
  }
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) {
    return `${minutes} min ${Math.round(seconds % 60)} s`;
  }
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

function showValue(value: JSONValue): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** `alpha=2 · name=api`, or '' for a job run with the defaults. */
export function parametersLine(job: IJob): string {
  return Object.entries(job.parameters)
    .map(([name, value]) => `${name}=${showValue(value)}`)
    .join(' · ');
}

/** Cells done out of the cells to run. */
function Progress(props: { job: IJob }): JSX.Element {
  const { job } = props;
  const total = job.cells_total;
  const done = Math.min(job.cells_done, total);
  const share = total > 0 ? done / total : job.state === 'succeeded' ? 1 : 0;
  return (
    <div
      className={`jp-mlops-JobProgress jp-mlops-JobProgress--${job.state}`}
      role="progressbar"
      aria-label={`Cells run by job ${shortId(job.id)}`}
      aria-valuemin={0}
      aria-valuemax={total}
      aria-valuenow={done}
      title={total > 0 ? `${done} of ${total} cells run` : 'Not started'}
    >
      <div
        className="jp-mlops-JobProgress-bar"
        style={{ width: `${Math.round(share * 100)}%` }}
      />
    </div>
  );
}

/** Where a failed job stopped: the cell, its exception, and its source. */
function CellErrorView(props: { job: IJob }): JSX.Element | null {
  const error = props.job.error;
  if (!error) {
    return null;
  }
  return (
    <div className="jp-mlops-JobError" role="alert">
      <div className="jp-mlops-JobError-summary">
        <span className="jp-mlops-JobError-cell">cell {error.index + 1}</span>{' '}
        <span className="jp-mlops-JobError-ename">{error.ename}</span>
        {error.evalue && (
          <span className="jp-mlops-JobError-evalue">: {error.evalue}</span>
        )}
      </div>
      {error.source && (
        <pre className="jp-mlops-JobError-source">{error.source}</pre>
      )}
    </div>
  );
}

/** What a job's cells printed, re-read with the job while it runs. */
function JobLogView(props: { model: JobsModel; job: IJob }): JSX.Element {
  const { model, job } = props;
  const log = model.log(job.id);
  let body: JSX.Element;
  if (!log || (log.status === 'loading' && !log.value)) {
    body = <Loading label="Reading the log…" />;
  } else if (log.status === 'error' && log.error) {
    body = <ErrorMessage error={log.error} title="Cannot read the log" />;
  } else {
    body = <pre className="jp-mlops-JobLog-text">{log.value?.text ?? ''}</pre>;
  }
  return (
    <div
      className="jp-mlops-JobLog"
      id={logId(job)}
      role="region"
      aria-label={`Log of job ${shortId(job.id)}`}
    >
      {body}
    </div>
  );
}

function logId(job: IJob): string {
  return `jp-mlops-job-log-${job.id}`;
}

function JobCard(props: {
  model: JobsModel;
  job: IJob;
  onOpenNotebook: (path: string) => void;
}): JSX.Element {
  const { model, job, onOpenNotebook } = props;
  const active = isActive(job);
  const action = model.jobAction(job.id);
  const params = parametersLine(job);
  const created = new Date(job.created);
  const duration = formatDuration(job.duration_seconds);
  const notebook = job.notebook.split('/').pop() ?? job.notebook;
  const logOpen = model.isLogOpen(job.id);
  // Asked to be shown from elsewhere (a pipeline run's job): bring the card into view.
  const shown = model.shownCount(job.id);
  const node = React.useRef<HTMLLIElement>(null);
  React.useEffect(() => {
    if (shown > 0) {
      node.current?.scrollIntoView({ block: 'start' });
    }
  }, [shown]);
  return (
    <li
      ref={node}
      className={`jp-mlops-JobCard jp-mlops-JobCard--${job.state}`}
      data-job={job.id}
      data-state={job.state}
      aria-label={`Job ${shortId(job.id)} of ${notebook}`}
    >
      <div className="jp-mlops-JobCard-header">
        <span className="jp-mlops-JobCard-name" title={job.notebook}>
          {notebook}
        </span>
        <span
          className={`jp-mlops-JobState jp-mlops-JobState--${job.state}`}
          data-state={job.state}
        >
          {job.state}
        </span>
      </div>
      <Progress job={job} />
      <div className="jp-mlops-JobCard-meta">
        <span title={`Job ${job.id}`}>{shortId(job.id)}</span>
        <span title={Time.format(created)}>{Time.formatHuman(created)}</span>
        {job.cells_total > 0 && (
          <span data-figure="cells">
            {Math.min(job.cells_done, job.cells_total)}/{job.cells_total} cells
          </span>
        )}
        {duration && <span data-figure="duration">{duration}</span>}
      </div>
      {params && (
        <div className="jp-mlops-JobCard-params" title={params}>
          {params}
        </div>
      )}
      {job.state === 'failed' && <CellErrorView job={job} />}
      {job.message && !(job.state === 'failed' && job.error) && (
        <div className="jp-mlops-JobCard-message">{job.message}</div>
      )}
      <div className="jp-mlops-JobCard-actions">
        {job.output && (
          <button
            type="button"
            className="jp-mlops-Button jp-mlops-Button--link"
            title={`Open the executed notebook ${job.output}`}
            onClick={() => job.output && onOpenNotebook(job.output)}
          >
            Open
          </button>
        )}
        {active && (
          <button
            type="button"
            className="jp-mlops-Button jp-mlops-Button--link"
            disabled={action?.status === 'busy'}
            onClick={() => void model.cancel(job.id)}
          >
            {action?.status === 'busy' ? 'Cancelling…' : 'Cancel'}
          </button>
        )}
        <button
          type="button"
          className="jp-mlops-Button jp-mlops-Button--link"
          title="Run this notebook again: the form is filled with this job's parameters"
          onClick={() => void model.rerunForm(job)}
        >
          Re-run
        </button>
        <button
          type="button"
          className="jp-mlops-Button jp-mlops-Button--link"
          title={
            logOpen
              ? 'Hide what the cells printed'
              : "Show what the job's cells printed"
          }
          aria-expanded={logOpen}
          aria-controls={logOpen ? logId(job) : undefined}
          onClick={() => model.toggleLog(job.id)}
        >
          {logOpen ? 'Hide log' : 'Log'}
        </button>
      </div>
      {action?.status === 'error' && action.error && (
        <ErrorMessage error={action.error} title={action.label} />
      )}
      {logOpen && <JobLogView model={model} job={job} />}
    </li>
  );
}

/** Jobs finished out of the sweep's jobs; the cells run of the others count in part. */
function SweepProgress(props: { sweep: ISweepGroup }): JSX.Element {
  const { sweep } = props;
  const { counts } = sweep;
  const total = sweep.jobs.length;
  const finished = counts.succeeded + counts.failed + counts.cancelled;
  const state =
    finished < total
      ? 'running'
      : counts.succeeded === total
        ? 'succeeded'
        : counts.failed > 0
          ? 'failed'
          : 'cancelled';
  return (
    <div
      className={`jp-mlops-JobProgress jp-mlops-JobProgress--${state}`}
      role="progressbar"
      aria-label={`Jobs finished in sweep ${sweep.name}`}
      aria-valuemin={0}
      aria-valuemax={total}
      aria-valuenow={finished}
      title={`${finished} of ${total} jobs finished`}
    >
      <div
        className="jp-mlops-JobProgress-bar"
        style={{ width: `${Math.round(sweep.progress * 100)}%` }}
      />
    </div>
  );
}

/** `1 running · 1 failed`: the states other than succeeded that some jobs are in. */
function sweepStates(sweep: ISweepGroup): string {
  const { counts } = sweep;
  return (['running', 'queued', 'failed', 'cancelled'] as const)
    .filter(state => counts[state] > 0)
    .map(state => `${counts[state]} ${state}`)
    .join(' · ');
}

/** A sweep: its header (name, succeeded out of all, progress, Compare) over its job cards. */
function SweepGroupView(props: {
  model: JobsModel;
  sweep: ISweepGroup;
  onOpenNotebook: (path: string) => void;
  onCompare: (sweep: ISweepGroup) => void;
}): JSX.Element {
  const { model, sweep, onOpenNotebook, onCompare } = props;
  const total = sweep.jobs.length;
  const succeeded = sweep.counts.succeeded;
  const runs = sweep.succeededRunIds.length;
  const folded = model.isSweepFolded(sweep.name);
  const notebooks = Array.from(new Set(sweep.jobs.map(job => job.notebook)));
  const states = sweepStates(sweep);
  const jobsId = `jp-mlops-sweep-jobs-${sweep.name.replace(/[^\w-]/g, '_')}`;
  const compareTitle =
    runs >= 2
      ? `Compare the runs of the ${runs} succeeded jobs in the Experiments compare view` +
        (sweep.seedParam ? `, grouped by ${sweep.seedParam}` : '')
      : `Compare needs two succeeded jobs; ${runs === 0 ? 'none has' : 'one has'} succeeded so far`;
  return (
    <li
      className="jp-mlops-SweepGroup"
      data-sweep={sweep.name}
      aria-label={`Sweep ${sweep.name}`}
    >
      <div className="jp-mlops-SweepGroup-header">
        <button
          type="button"
          className="jp-mlops-SweepGroup-fold"
          aria-expanded={!folded}
          aria-controls={jobsId}
          title={folded ? "Show the sweep's jobs" : "Hide the sweep's jobs"}
          onClick={() => model.toggleSweep(sweep.name)}
        >
          <span className="jp-mlops-SweepGroup-caret" aria-hidden="true">
            {folded ? '▸' : '▾'}
          </span>
          <span className="jp-mlops-SweepGroup-name" title={sweep.name}>
            {sweep.name}
          </span>
        </button>
        <span
          className="jp-mlops-SweepGroup-count"
          data-figure="succeeded"
          title={`${succeeded} of ${total} jobs succeeded`}
        >
          {succeeded}/{total}
        </span>
        {/* A disabled button gets no pointer events in some browsers: the span holds the tooltip. */}
        <span title={compareTitle}>
          <button
            type="button"
            className="jp-mlops-Button"
            disabled={runs < 2}
            title={compareTitle}
            onClick={() => onCompare(sweep)}
          >
            Compare
          </button>
        </span>
      </div>
      <SweepProgress sweep={sweep} />
      <div className="jp-mlops-SweepGroup-meta">
        <span title={notebooks.join(', ')}>
          {notebooks.map(path => path.split('/').pop() ?? path).join(', ')}
        </span>
        {states && <span data-figure="states">{states}</span>}
      </div>
      {!folded && (
        <ul className="jp-mlops-JobList jp-mlops-SweepGroup-jobs" id={jobsId}>
          {sweep.jobs.map(job => (
            <JobCard
              key={job.id}
              model={model}
              job={job}
              onOpenNotebook={onOpenNotebook}
            />
          ))}
        </ul>
      )}
    </li>
  );
}

/** The jobs, newest first; the jobs of a sweep together under its header. */
export function JobList(props: {
  model: JobsModel;
  onOpenNotebook: (path: string) => void;
  onCompare: (sweep: ISweepGroup) => void;
}): JSX.Element {
  const { model, onOpenNotebook, onCompare } = props;
  const jobs = model.jobs;
  let body: JSX.Element;
  if (model.jobsStatus === 'loading' && jobs.length === 0) {
    body = <Loading label="Loading jobs…" />;
  } else if (jobs.length === 0 && model.jobsStatus === 'ready') {
    body = <Empty>No jobs yet.</Empty>;
  } else {
    body = (
      <ul className="jp-mlops-JobList">
        {groupJobs(jobs).map(item =>
          item.kind === 'sweep' ? (
            <SweepGroupView
              key={`sweep:${item.sweep.name}`}
              model={model}
              sweep={item.sweep}
              onOpenNotebook={onOpenNotebook}
              onCompare={onCompare}
            />
          ) : (
            <JobCard
              key={item.job.id}
              model={model}
              job={item.job}
              onOpenNotebook={onOpenNotebook}
            />
          )
        )}
      </ul>
    );
  }
  return (
    <section className="jp-mlops-JobsList" aria-label="Jobs">
      <div className="jp-mlops-Jobs-heading">Jobs</div>
      {model.jobsStatus === 'error' && model.jobsError && (
        <ErrorMessage
          error={model.jobsError}
          title="Cannot list jobs"
          onRetry={() => void model.refresh()}
        />
      )}
      {body}
    </section>
  );
}
