import { Time } from '@jupyterlab/coreutils';
import { JSONValue } from '@lumino/coreutils';
import * as React from 'react';

import {
  IPipelineInfo,
  IPipelineRun,
  IRunStep,
  ITriggerEvent,
  ITriggerInfo,
  StepState
} from '../../../api';
import { Empty, ErrorMessage, Loading } from '../../../components/status';
import { isRunActive, PipelinesModel, shortRunId } from '../pipelines';
import { formatDuration } from './JobList';

/** What the Pipelines view can open elsewhere. */
export interface IPipelineLinks {
  /** Show a job in the Jobs list, its log open. */
  onShowJob: (id: string) => void;
  /** Open a notebook (an executed one) by its path under the server root. */
  onOpenNotebook: (path: string) => void;
  /** Reveal a model version in the Models section; null when that section is not there. */
  onShowModelVersion: ((name: string, version: number) => void) | null;
}

/** One glyph per step state, so a run's steps read at a glance (the state is in the title). */
const STEP_GLYPHS: Record<StepState, string> = {
  pending: '○',
  running: '●',
  waiting: '◔',
  succeeded: '✓',
  failed: '✗',
  skipped: '–'
};

/** "3 minutes ago" with the full date and time for a tooltip; '' for no time. */
function when(iso: string | null | undefined): { human: string; full: string } {
  if (!iso) {
    return { human: '', full: '' };
  }
  const date = new Date(iso);
  return { human: Time.formatHuman(date), full: Time.format(date) };
}

const UNITS: ReadonlyArray<[Intl.RelativeTimeFormatUnit, number]> = [
  ['day', 86_400_000],
  ['hour', 3_600_000],
  ['minute', 60_000],
  ['second', 1000]
];

/**
 * A time to come, as people say it: "in 3 days", "in 5 hours", "tomorrow" (JupyterLab's
 * `Time.formatHuman` rounds a time to come up to the largest unit: "next year" for next Monday).
 */
function until(iso: string | null | undefined): {
  human: string;
  full: string;
} {
  if (!iso) {
    return { human: '', full: '' };
  }
  const date = new Date(iso);
  const delta = date.getTime() - Date.now();
  const lang = document.documentElement.lang || 'en';
  const formatter = new Intl.RelativeTimeFormat(lang, { numeric: 'auto' });
  const [unit, ms] = UNITS.find(([, size]) => Math.abs(delta) >= size) ?? [
    'second',
    1000
  ];
  return {
    human: formatter.format(Math.round(delta / ms), unit),
    full: Time.format(date)
  };
}

/** Seconds between two times, as people say them; '' unless both are known. */
function between(
  start: string | null | undefined,
  end: string | null | undefined
): string {
  if (!start || !end) {
    return '';
  }
  const seconds = (new Date(end).getTime() - new Date(start).getTime()) / 1000;
  return seconds >= 0 ? formatDuration(seconds) : '';
}

function showValue(value: JSONValue): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** A step's state as a small badge: its glyph, its name and state for tooltips and readers. */
function StepBadge(props: { step: IRunStep }): JSX.Element {
  const { step } = props;
  const state = step.state;
  const label =
    `${step.name}: ${state}` + (step.detail ? ` — ${step.detail}` : '');
  return (
    <span
      className={`jp-mlops-StepBadge jp-mlops-StepBadge--${state}`}
      data-step={step.name}
      data-state={state}
      title={label}
      aria-label={label}
      role="img"
    >
      {STEP_GLYPHS[state]}
    </span>
  );
}

function RunStateLabel(props: { run: IPipelineRun }): JSX.Element {
  const state = props.run.state;
  return (
    <span
      className={`jp-mlops-JobState jp-mlops-JobState--${state === 'waiting' ? 'running' : state}`}
      data-state={state}
    >
      {state}
    </span>
  );
}

/** The event that started a run: what happened, when, and the evidence. */
function TriggerView(props: { run: IPipelineRun }): JSX.Element {
  const { run } = props;
  const event: ITriggerEvent = run.trigger;
  const time = when(event.time);
  const evidence = Object.entries(event.evidence).filter(
    ([, value]) => value !== null && value !== ''
  );
  const absorbed = run.absorbed;
  return (
    <div className="jp-mlops-PipelineTrigger" aria-label="Trigger event">
      <div className="jp-mlops-PipelineTrigger-summary">
        <span className="jp-mlops-TriggerKind" data-kind={event.kind}>
          {event.kind}
        </span>{' '}
        {event.summary}
      </div>
      <div className="jp-mlops-PipelineTrigger-meta">
        <span title={time.full}>{time.human}</span>
        {absorbed > 0 && (
          <span
            data-figure="absorbed"
            title="Events that came while this run went, and joined it"
          >
            absorbed {absorbed} later event{absorbed === 1 ? '' : 's'}
          </span>
        )}
      </div>
      {evidence.length > 0 && (
        <dl className="jp-mlops-Evidence" aria-label="Evidence">
          {evidence.map(([key, value]) => (
            <React.Fragment key={key}>
              <dt>{key}</dt>
              <dd title={showValue(value)}>{showValue(value)}</dd>
            </React.Fragment>
          ))}
        </dl>
      )}
    </div>
  );
}

/** The links a step offers: its job, the executed notebook, the registered version. */
function StepLinks(props: {
  run: IPipelineRun;
  step: IRunStep;
  links: IPipelineLinks;
}): JSX.Element | null {
  const { run, step, links } = props;
  const items: JSX.Element[] = [];
  const output = step.data.output;
  if (step.name === 'job' && run.job_id) {
    const job = run.job_id;
    items.push(
      <button
        key="job"
        type="button"
        className="jp-mlops-Button jp-mlops-Button--link"
        title={`Show job ${job} and its log in the Jobs list`}
        onClick={() => links.onShowJob(job)}
      >
        Show job
      </button>
    );
  }
  if (step.name === 'job' && typeof output === 'string') {
    items.push(
      <button
        key="output"
        type="button"
        className="jp-mlops-Button jp-mlops-Button--link"
        title={`Open the executed notebook ${output}`}
        onClick={() => links.onOpenNotebook(output)}
      >
        Open notebook
      </button>
    );
  }
  const version = run.model_version;
  const show = links.onShowModelVersion;
  if (
    step.name === 'register' &&
    step.state === 'succeeded' &&
    typeof version === 'number' &&
    show
  ) {
    items.push(
      <button
        key="version"
        type="button"
        className="jp-mlops-Button jp-mlops-Button--link"
        title={`Show ${run.model} v${version} and its lineage in the Models section`}
        onClick={() => show(run.model, version)}
      >
        Show {run.model} v{version}
      </button>
    );
  }
  return items.length > 0 ? (
    <div className="jp-mlops-PipelineStep-links">{items}</div>
  ) : null;
}

/** A run opened: its trigger event, each step with its times and detail, and Cancel. */
function RunDetail(props: {
  model: PipelinesModel;
  run: IPipelineRun;
  links: IPipelineLinks;
}): JSX.Element {
  const { model, run, links } = props;
  const action = model.runAction(run.id);
  const active = isRunActive(run);
  return (
    <div
      className="jp-mlops-PipelineRun-detail"
      id={runDetailId(run)}
      role="region"
      aria-label={`Run ${shortRunId(run.id)} of ${run.pipeline}`}
    >
      <TriggerView run={run} />
      <ol className="jp-mlops-PipelineSteps" aria-label="Steps">
        {run.steps.map(step => {
          const state = step.state;
          const started = when(step.started);
          const took = between(step.started, step.ended);
          return (
            <li
              key={step.name}
              className={`jp-mlops-PipelineStep jp-mlops-PipelineStep--${state}`}
              data-step={step.name}
              data-state={state}
            >
              <div className="jp-mlops-PipelineStep-header">
                <StepBadge step={step} />
                <span className="jp-mlops-PipelineStep-name">{step.name}</span>
                <span className="jp-mlops-PipelineStep-state">{state}</span>
                {started.human && (
                  <span
                    className="jp-mlops-PipelineStep-time"
                    title={
                      `started ${started.full}` +
                      (step.ended ? `, ended ${when(step.ended).full}` : '')
                    }
                  >
                    {took || started.human}
                  </span>
                )}
              </div>
              {step.detail && (
                <div className="jp-mlops-PipelineStep-detail">
                  {step.detail}
                </div>
              )}
              <StepLinks run={run} step={step} links={links} />
            </li>
          );
        })}
      </ol>
      {run.message && (
        <div className="jp-mlops-PipelineRun-message">{run.message}</div>
      )}
      <div className="jp-mlops-PipelineRun-meta">
        <span title={run.id}>run {run.id}</span>
        <span>pipeline v{run.pipeline_version}</span>
        {run.run_id && (
          <span title="The MLflow run of the job">
            MLflow run {run.run_id.slice(0, 8)}
          </span>
        )}
      </div>
      {active && (
        <div className="jp-mlops-JobCard-actions">
          <button
            type="button"
            className="jp-mlops-Button jp-mlops-Button--link"
            disabled={action?.status === 'busy'}
            title="Stop this run: its job is cancelled and the steps not done are skipped"
            onClick={() => void model.cancelRun(run)}
          >
            {action?.status === 'busy' ? 'Cancelling…' : 'Cancel run'}
          </button>
        </div>
      )}
      {action?.status === 'error' && action.error && (
        <ErrorMessage error={action.error} title={action.label} />
      )}
    </div>
  );
}

function runDetailId(run: IPipelineRun): string {
  return `jp-mlops-pipeline-run-${run.id}`;
}

/** A pipeline's last runs, newest first: one row each with a badge per step. */
function RunList(props: {
  model: PipelinesModel;
  pipeline: IPipelineInfo;
  links: IPipelineLinks;
}): JSX.Element {
  const { model, pipeline, links } = props;
  const runs = model.runs(pipeline.name);
  const status = model.runsStatus(pipeline.name);
  const error = model.runsError(pipeline.name);
  const open = model.openRun(pipeline.name);
  const total = pipeline.runs;
  return (
    <div className="jp-mlops-PipelineRuns">
      <div className="jp-mlops-PipelineRuns-heading">
        Last runs
        {total > runs.length && (
          <span className="jp-mlops-muted"> ({total} in all)</span>
        )}
      </div>
      {error && <ErrorMessage error={error} title="Cannot list the runs" />}
      {status === 'loading' && runs.length === 0 ? (
        <Loading label="Loading runs…" />
      ) : runs.length === 0 ? (
        <div className="jp-mlops-muted">No runs yet.</div>
      ) : (
        <ol
          className="jp-mlops-PipelineRunList"
          aria-label={`Runs of ${pipeline.name}`}
        >
          {runs.map(run => {
            const created = when(run.created);
            const isOpen = open?.id === run.id;
            return (
              <li
                key={run.id}
                className="jp-mlops-PipelineRun"
                data-run={run.id}
                data-state={run.state}
              >
                <button
                  type="button"
                  className="jp-mlops-PipelineRun-row"
                  aria-expanded={isOpen}
                  aria-controls={isOpen ? runDetailId(run) : undefined}
                  title={
                    isOpen
                      ? 'Hide this run'
                      : 'Show the event that started this run and each step'
                  }
                  onClick={() => model.toggleRun(pipeline.name, run.id)}
                >
                  <span
                    className="jp-mlops-SweepGroup-caret"
                    aria-hidden="true"
                  >
                    {isOpen ? '▾' : '▸'}
                  </span>
                  <span className="jp-mlops-StepBadges">
                    {run.steps.map(step => (
                      <StepBadge key={step.name} step={step} />
                    ))}
                  </span>
                  <RunStateLabel run={run} />
                  <span className="jp-mlops-PipelineRun-id" title={run.id}>
                    {shortRunId(run.id)}
                  </span>
                  <span
                    className="jp-mlops-PipelineRun-when"
                    title={`${created.full}, ${run.trigger.kind}: ${run.trigger.summary}`}
                  >
                    {created.human} · {run.trigger.kind}
                  </span>
                </button>
                {isOpen && <RunDetail model={model} run={run} links={links} />}
              </li>
            );
          })}
        </ol>
      )}
    </div>
  );
}

/** A trigger in words, with its next firing for a schedule. */
function TriggerLine(props: { trigger: ITriggerInfo }): JSX.Element {
  const { trigger } = props;
  const next = until(trigger.next_fire);
  return (
    <li className="jp-mlops-PipelineTriggerLine" data-kind={trigger.kind}>
      <span className="jp-mlops-PipelineTriggerLine-text">{trigger.text}</span>
      {next.human && (
        <span
          className="jp-mlops-PipelineTriggerLine-next"
          data-figure="next-fire"
          title={`Next at ${next.full}`}
        >
          next run {next.human}
        </span>
      )}
    </li>
  );
}

function PipelineCard(props: {
  model: PipelinesModel;
  pipeline: IPipelineInfo;
  links: IPipelineLinks;
}): JSX.Element {
  const { model, pipeline, links } = props;
  const { spec } = pipeline;
  const action = model.action(pipeline.name);
  const busy = action?.status === 'busy';
  const applied = when(pipeline.applied);
  const switchId = `jp-mlops-pipeline-enabled-${pipeline.name}`;
  return (
    <li
      className={
        'jp-mlops-PipelineCard' +
        (pipeline.enabled ? '' : ' jp-mlops-PipelineCard--disabled')
      }
      data-pipeline={pipeline.name}
      data-enabled={pipeline.enabled}
      aria-label={`Pipeline ${pipeline.name}`}
    >
      <div className="jp-mlops-PipelineCard-header">
        <span className="jp-mlops-PipelineCard-name" title={pipeline.name}>
          {pipeline.name}
        </span>
        <span
          className="jp-mlops-PipelineCard-version"
          title={`Version ${pipeline.version}, applied ${applied.full} from ${pipeline.source}`}
        >
          v{pipeline.version}
        </span>
        <label className="jp-mlops-Switch" htmlFor={switchId}>
          <input
            id={switchId}
            type="checkbox"
            role="switch"
            aria-label={`Enable pipeline ${pipeline.name}`}
            checked={pipeline.enabled}
            disabled={busy}
            onChange={event =>
              void model.setEnabled(pipeline.name, event.target.checked)
            }
          />
          <span className="jp-mlops-Switch-label">
            {pipeline.enabled ? 'enabled' : 'disabled'}
          </span>
        </label>
      </div>
      {spec.description && (
        <div className="jp-mlops-muted">{spec.description}</div>
      )}
      <div className="jp-mlops-PipelineCard-meta">
        <span title={spec.notebook}>
          {spec.notebook.split('/').pop() ?? spec.notebook}
        </span>
        <span aria-hidden="true">→</span>
        <span title={`Passing versions are registered as ${spec.model}`}>
          {spec.model}
          {spec.alias ? `@${spec.alias}` : ''}
        </span>
        {spec.gates.length > 0 && (
          <span
            className="jp-mlops-PipelineCard-gates"
            title={`Gates: ${spec.gates.join(', ')}`}
          >
            gates {spec.gates.join(', ')}
          </span>
        )}
      </div>
      <ul className="jp-mlops-PipelineTriggers" aria-label="Triggers">
        {pipeline.triggers.map((trigger, index) => (
          <TriggerLine key={index} trigger={trigger} />
        ))}
        {pipeline.triggers.length === 0 && (
          <li className="jp-mlops-PipelineTriggerLine jp-mlops-muted">
            no triggers: runs when run by hand
          </li>
        )}
      </ul>
      <div className="jp-mlops-PipelineCard-actions">
        {/* A disabled button gets no pointer events in some browsers: the span holds the tooltip. */}
        <span
          title={
            pipeline.enabled
              ? 'Run the pipeline now (or join the run going)'
              : 'Enable the pipeline to run it'
          }
        >
          <button
            type="button"
            className="jp-mlops-Button jp-mlops-Button--accept"
            disabled={busy || !pipeline.enabled}
            onClick={() => void model.runNow(pipeline.name)}
          >
            Run now
          </button>
        </span>
        {action && action.status !== 'error' && (
          <span
            className="jp-mlops-PipelineCard-status"
            role="status"
            title={action.note ?? action.label}
          >
            {action.label}
          </span>
        )}
      </div>
      {action?.status === 'error' && action.error && (
        <ErrorMessage error={action.error} title={action.label} />
      )}
      <RunList model={model} pipeline={pipeline} links={links} />
    </li>
  );
}

/** The pipelines of the workspace, each with its triggers, Run now, and last runs. */
export function PipelinesView(props: {
  model: PipelinesModel;
  links: IPipelineLinks;
}): JSX.Element {
  const { model, links } = props;
  const pipelines = model.pipelines;
  const scheduler = model.scheduler;
  let body: JSX.Element;
  if (model.status !== 'ready' && pipelines.length === 0 && !model.error) {
    body = <Loading label="Loading pipelines…" />;
  } else if (pipelines.length === 0 && model.status === 'ready') {
    body = (
      <Empty>
        No pipelines applied. Declare one in <code>mlops.toml</code> (
        <code>[pipeline.NAME]</code>) or <code>pipelines/*.py</code>, then run{' '}
        <code>jupyter mlops pipelines apply</code>.
      </Empty>
    );
  } else {
    body = (
      <ul className="jp-mlops-PipelineList">
        {pipelines.map(pipeline => (
          <PipelineCard
            key={pipeline.name}
            model={model}
            pipeline={pipeline}
            links={links}
          />
        ))}
      </ul>
    );
  }
  return (
    <section className="jp-mlops-Pipelines" aria-label="Pipelines">
      {model.status === 'error' && model.error && (
        <ErrorMessage
          error={model.error}
          title="Cannot list pipelines"
          onRetry={() => void model.refresh()}
        />
      )}
      {scheduler && !scheduler.running && pipelines.some(p => p.enabled) && (
        <div className="jp-mlops-PipelinesScheduler" role="status">
          The workspace's scheduler is not running: triggers are not watched and
          runs do not move on.
          {scheduler.error && (
            <div className="jp-mlops-Error-hint">{scheduler.error}</div>
          )}
        </div>
      )}
      {body}
    </section>
  );
}
