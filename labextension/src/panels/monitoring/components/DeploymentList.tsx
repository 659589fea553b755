import * as React from 'react';

import { IMonitorStatus } from '../../../api';
import { Empty, ErrorMessage, Loading } from '../../../components/status';
import { isLive, MonitoringModel } from '../model';
import {
  formatInterval,
  formatMs,
  formatRate,
  formatShare,
  when
} from './format';

/** Green running, grey stopped, red failed; amber while it changes. */
function StateBadge(props: { state: string }): JSX.Element {
  const { state } = props;
  const tone =
    state === 'running'
      ? 'running'
      : state === 'failed'
        ? 'failed'
        : state === 'stopped'
          ? 'stopped'
          : 'changing';
  return (
    <span
      className={`jp-mlops-Badge jp-mlops-DeploymentState jp-mlops-DeploymentState--${tone}`}
      data-state={state}
    >
      {state}
    </span>
  );
}

/** The flags of a deployment: drifted features and alerts firing. */
function Flags(props: { status: IMonitorStatus }): JSX.Element {
  const { drifted, firing } = props.status;
  return (
    <span className="jp-mlops-MonitorCard-flags">
      {drifted.length > 0 && (
        <span
          className="jp-mlops-Badge jp-mlops-Flag jp-mlops-Flag--drift"
          data-flag="drift"
          title={`Drifted at the last check: ${drifted.join(', ')}`}
        >
          drift {drifted.length}
        </span>
      )}
      {firing.length > 0 && (
        <span
          className="jp-mlops-Badge jp-mlops-Flag jp-mlops-Flag--alert"
          data-flag="alert"
          title={`Alerts firing: ${firing.join(', ')}`}
        >
          {firing.length} alert{firing.length === 1 ? '' : 's'}
        </span>
      )}
    </span>
  );
}

function Figure(props: {
  name: string;
  label: string;
  value: string;
  unit?: string;
  title: string;
  warn?: boolean;
}): JSX.Element {
  return (
    <div
      className={'jp-mlops-Figure' + (props.warn ? ' jp-mod-warn' : '')}
      data-figure={props.name}
      title={props.title}
    >
      <span className="jp-mlops-Figure-value">
        {props.value}
        {props.unit && (
          <span className="jp-mlops-Figure-unit"> {props.unit}</span>
        )}
      </span>
      <span className="jp-mlops-Figure-label">{props.label}</span>
    </div>
  );
}

function MonitorCard(props: {
  model: MonitoringModel;
  status: IMonitorStatus;
}): JSX.Element {
  const { model, status } = props;
  const name = status.deployment;
  const selected = model.selected === name;
  const action = model.checkAction(name);
  const dashboard = model.dashboardAction(name);
  const lastCheck = when(status.last_check);
  const window = `over ${status.window}`;
  return (
    <li
      className={
        'jp-mlops-MonitorCard' +
        (selected ? ' jp-mod-selected' : '') +
        (status.firing.length > 0 ? ' jp-mod-alerting' : '')
      }
      data-deployment={name}
      aria-label={`Monitoring of ${name}`}
    >
      <div className="jp-mlops-MonitorCard-header">
        <span className="jp-mlops-MonitorCard-name">{name}</span>
        <StateBadge state={status.state} />
        <Flags status={status} />
      </div>
      <div className="jp-mlops-Figures jp-mlops-MonitorCard-figures">
        <Figure
          name="request-rate"
          label="requests/s"
          value={formatRate(status.request_rate)}
          title={`Requests per second ${window}, at the last check`}
        />
        <Figure
          name="error-rate"
          label="errors"
          value={formatShare(status.error_rate)}
          title={`Share of requests answered with an error ${window}`}
          warn={status.firing.some(f => f.startsWith('error_rate'))}
        />
        <Figure
          name="p95"
          label="p95 latency"
          value={formatMs(status.latency_p95_ms)}
          unit="ms"
          title={`95th percentile of the latency ${window}`}
          warn={status.firing.some(f => f.startsWith('latency'))}
        />
        <Figure
          name="drift-share"
          label="drifted"
          value={formatShare(status.drift_share)}
          title={`Share of the tested features that drifted ${window}`}
          warn={status.drifted.length > 0}
        />
      </div>
      <div className="jp-mlops-MonitorCard-meta">
        {status.serving.length > 0 && (
          <span title="Model versions served">
            {status.serving.join(' · ')}
          </span>
        )}
        <span title={lastCheck.full} data-figure="last-check">
          {status.last_check ? `checked ${lastCheck.human}` : 'not checked yet'}
        </span>
        <span
          title={`The scheduler checks it every ${formatInterval(status.interval_seconds)}, over the last ${status.window}`}
        >
          every {formatInterval(status.interval_seconds)}
        </span>
      </div>
      <div className="jp-mlops-MonitorCard-actions">
        <button
          type="button"
          className={
            'jp-mlops-Button' + (selected ? ' jp-mlops-Button--accept' : '')
          }
          aria-pressed={selected}
          title={`Show the drift report and checks of ${name}`}
          onClick={() => void model.select(selected ? null : name)}
        >
          Drift report
        </button>
        <button
          type="button"
          className="jp-mlops-Button"
          disabled={action?.status === 'busy'}
          title={`Check ${name} now over its window (${status.window}): drift, errors, latency, quality, alerts`}
          onClick={() => void model.runCheck(name)}
        >
          Check now
        </button>
        <button
          type="button"
          className="jp-mlops-Button jp-mlops-Button--link"
          disabled={dashboard?.status === 'busy'}
          title={`Open the monitoring dashboard of ${name} (Voila) in a new browser tab`}
          onClick={() => void model.openDashboard(name)}
        >
          Open dashboard
        </button>
      </div>
      {action?.status === 'busy' && <Loading label={action.label} />}
      {action?.status === 'done' && (
        <div className="jp-mlops-Action-done" role="status">
          {action.label}
        </div>
      )}
      {action?.status === 'error' && action.error && (
        <ErrorMessage title={action.label} error={action.error} />
      )}
      {dashboard?.status === 'error' && dashboard.error && (
        <ErrorMessage title={dashboard.label} error={dashboard.error} />
      )}
      {!isLive(status) && status.state !== 'stopped' && (
        <div className="jp-mlops-muted">Not serving: no new traffic.</div>
      )}
    </li>
  );
}

/** The scheduler's state, with Start when it does not run. */
function SchedulerLine(props: { model: MonitoringModel }): JSX.Element | null {
  const { model } = props;
  const scheduler = model.scheduler;
  if (scheduler === null) {
    return null;
  }
  const action = model.schedulerAction;
  const heartbeat = when(scheduler.heartbeat);
  return (
    <div
      className="jp-mlops-Scheduler"
      data-running={scheduler.running}
      aria-label="Scheduler"
    >
      <span
        className={
          'jp-mlops-Scheduler-dot' +
          (scheduler.running ? ' jp-mod-running' : '')
        }
        aria-hidden="true"
      />
      {scheduler.running ? (
        <span title={heartbeat.full && `Last heartbeat ${heartbeat.full}`}>
          Scheduled checks running
          {scheduler.pid ? ` (pid ${scheduler.pid})` : ''}
        </span>
      ) : (
        <>
          <span>Scheduled checks are off.</span>
          <button
            type="button"
            className="jp-mlops-Button jp-mlops-Button--link"
            disabled={action?.status === 'busy'}
            title="Start the workspace's scheduler: it checks every running deployment on its interval"
            onClick={() => void model.startScheduler()}
          >
            Start
          </button>
        </>
      )}
      {scheduler.error && (
        <span className="jp-mlops-Scheduler-error" title={scheduler.error}>
          {scheduler.error}
        </span>
      )}
      {action?.status === 'error' && action.error && (
        <ErrorMessage title={action.label} error={action.error} />
      )}
    </div>
  );
}

/** Every deployment at a glance, from its latest check. */
export function DeploymentList(props: { model: MonitoringModel }): JSX.Element {
  const { model } = props;
  const list = model.deployments;
  let body: JSX.Element;
  if (
    model.statusStatus === 'error' &&
    model.statusError &&
    list.length === 0
  ) {
    body = (
      <ErrorMessage
        title="Cannot read the monitoring status"
        error={model.statusError}
        onRetry={() => void model.refresh()}
      />
    );
  } else if (list.length === 0) {
    body =
      model.statusStatus === 'ready' ? (
        <Empty>
          No deployments to monitor. Deploy a model version from the Models
          section.
        </Empty>
      ) : (
        <Loading label="Loading monitoring status…" />
      );
  } else {
    // Alerting ones first, then live ones, then by name.
    const sorted = [...list].sort(
      (a, b) =>
        Number(b.firing.length > 0) - Number(a.firing.length > 0) ||
        Number(isLive(b)) - Number(isLive(a)) ||
        a.deployment.localeCompare(b.deployment)
    );
    body = (
      <ul className="jp-mlops-MonitorList" aria-label="Monitored deployments">
        {sorted.map(s => (
          <MonitorCard key={s.deployment} model={model} status={s} />
        ))}
      </ul>
    );
  }
  return (
    <section className="jp-mlops-MonitorDeployments" aria-label="Deployments">
      <div className="jp-mlops-Models-heading">
        <span>Deployments</span>
      </div>
      <SchedulerLine model={model} />
      {body}
    </section>
  );
}
