import { Clipboard } from '@jupyterlab/apputils';
import * as React from 'react';

import { IDeploymentInfo } from '../../../api';
import { Empty, ErrorMessage, Loading } from '../../../components/status';
import { formatMs, formatRate, servedVersions } from '../format';
import { isLive, ModelsModel } from '../model';
import { AbTestView, canStartAbTest } from './AbTest';

/** Green running, grey stopped, red failed; amber while it changes. */
function StateBadge(props: { deployment: IDeploymentInfo }): JSX.Element {
  const { state, error } = props.deployment;
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
      title={error ?? state}
      data-state={state}
    >
      {state}
    </span>
  );
}

function CopyUrl(props: { url: string }): JSX.Element {
  const [copied, setCopied] = React.useState(false);
  React.useEffect(() => {
    if (!copied) {
      return;
    }
    const timer = window.setTimeout(() => setCopied(false), 1500);
    return () => window.clearTimeout(timer);
  }, [copied]);
  return (
    <div className="jp-mlops-Endpoint">
      <code className="jp-mlops-Endpoint-url" title="Endpoint URL">
        {props.url}
      </code>
      <button
        type="button"
        className="jp-mlops-Button jp-mlops-Button--small"
        aria-label={`Copy ${props.url}`}
        title="Copy the endpoint URL"
        onClick={() => {
          Clipboard.copyToSystem(props.url);
          setCopied(true);
        }}
      >
        {copied ? 'Copied' : 'Copy'}
      </button>
    </div>
  );
}

function Figure(props: {
  label: string;
  value: string;
  unit?: string;
  name: string;
  title?: string;
}): JSX.Element {
  return (
    <div
      className="jp-mlops-Figure"
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

function DeploymentCard(props: {
  model: ModelsModel;
  deployment: IDeploymentInfo;
}): JSX.Element {
  const { model, deployment } = props;
  const live = isLive(deployment);
  const stats = live ? model.stats(deployment.name) : null;
  const action = model.cardAction(deployment.name);
  const busy = action?.status === 'busy';
  const logs = model.logs(deployment.name);
  const up = deployment.replica_processes.length;
  const selected =
    model.selectedModel !== null && model.selectedVersion !== null
      ? `${model.selectedModel}:${model.selectedVersion}`
      : null;
  const served = deployment.serving.map(s => `${s.name}:${s.version}`);
  // An A/B test routes the traffic: it ends with its decision, not with an update.
  const abRunning = model.abtests.running(deployment.name) !== null;
  const canUpdate =
    live &&
    !abRunning &&
    selected !== null &&
    !(served.length === 1 && served[0] === selected);
  return (
    <li
      className={`jp-mlops-DeploymentCard jp-mlops-DeploymentCard--${deployment.state}`}
      data-deployment={deployment.name}
      aria-label={`Deployment ${deployment.name}`}
    >
      <div className="jp-mlops-DeploymentCard-header">
        <span className="jp-mlops-DeploymentCard-name">{deployment.name}</span>
        <StateBadge deployment={deployment} />
      </div>
      <CopyUrl url={deployment.url} />
      <div className="jp-mlops-DeploymentCard-meta">
        <span title="Model versions served">{servedVersions(deployment)}</span>
        <span
          title={`${up} of ${deployment.replicas} replica processes up${
            deployment.restarts ? `, ${deployment.restarts} restarts` : ''
          }`}
          data-figure="replicas"
        >
          replicas {live ? up : 0}/{deployment.replicas}
        </span>
      </div>
      {live && (
        <div className="jp-mlops-Figures">
          <Figure
            name="rate"
            label="requests/s"
            value={formatRate(stats?.request_rate)}
            title="Requests per second over the last poll interval"
          />
          <Figure
            name="p95"
            label="p95 latency"
            value={formatMs(stats?.latency_p95_ms)}
            unit="ms"
            title={
              stats?.latency_p50_ms !== null &&
              stats?.latency_p50_ms !== undefined
                ? `p50 ${formatMs(stats.latency_p50_ms)} ms`
                : 'No request in the last poll interval'
            }
          />
          <Figure
            name="total"
            label="requests"
            value={stats ? stats.requests_total.toLocaleString() : '—'}
            title={
              stats
                ? `${stats.errors_total} errors, ${stats.rows_total} rows since it started`
                : undefined
            }
          />
        </div>
      )}
      {deployment.state === 'failed' && deployment.error && (
        <div className="jp-mlops-Error" role="alert">
          <div className="jp-mlops-Error-message">{deployment.error}</div>
        </div>
      )}
      <div className="jp-mlops-DeploymentCard-actions">
        {live && (
          <button
            type="button"
            className="jp-mlops-Button"
            disabled={busy || !canUpdate}
            title={
              canUpdate
                ? `Move ${deployment.name} to ${selected} with zero downtime`
                : abRunning
                  ? 'An A/B test runs: end it with its decision first'
                  : 'Choose another version above to move this deployment to it'
            }
            onClick={() =>
              selected !== null &&
              void model.updateDeployment(deployment.name, selected)
            }
          >
            {canUpdate ? `Update to ${selected}` : 'Update'}
          </button>
        )}
        {live && (
          <button
            type="button"
            className="jp-mlops-Button"
            disabled={busy}
            onClick={() => void model.stopDeployment(deployment.name)}
          >
            Stop
          </button>
        )}
        {!live && (
          <button
            type="button"
            className="jp-mlops-Button"
            disabled={busy}
            title={`Start ${deployment.name} again as it was, on port ${deployment.port}`}
            onClick={() => void model.startDeployment(deployment.name)}
          >
            Start
          </button>
        )}
        {!live && (
          <button
            type="button"
            className="jp-mlops-Button"
            disabled={busy}
            title={`Delete ${deployment.name}; its prediction log is kept`}
            onClick={() => void model.removeDeployment(deployment.name)}
          >
            Remove
          </button>
        )}
        {canStartAbTest(model.abtests, deployment, live) && (
          <button
            type="button"
            className="jp-mlops-Button"
            title="Test another version of the model against the one this deployment serves"
            onClick={() =>
              model.abtests.open(deployment.name, deployment.serving[0].name)
            }
          >
            Start A/B test
          </button>
        )}
        <button
          type="button"
          className="jp-mlops-Button jp-mlops-Button--link"
          aria-expanded={logs !== null}
          onClick={() =>
            logs === null
              ? void model.loadLogs(deployment.name)
              : model.hideLogs(deployment.name)
          }
        >
          {logs === null ? 'Logs' : 'Hide logs'}
        </button>
        {logs !== null && (
          <button
            type="button"
            className="jp-mlops-Button jp-mlops-Button--link"
            disabled={logs.status === 'loading'}
            onClick={() => void model.loadLogs(deployment.name)}
          >
            Reload logs
          </button>
        )}
      </div>
      {busy && <Loading label={action.label} />}
      {action?.status === 'error' && action.error && (
        <ErrorMessage title={action.label} error={action.error} />
      )}
      <AbTestView abtests={model.abtests} deployment={deployment} live={live} />
      {logs?.status === 'error' && logs.error && (
        <ErrorMessage title="Cannot read the logs" error={logs.error} />
      )}
      {logs !== null && logs.status !== 'error' && (
        <pre
          className="jp-mlops-Logs"
          aria-label={`Logs of ${deployment.name}`}
          aria-busy={logs.status === 'loading'}
          ref={node => {
            // Show the newest lines.
            if (node) {
              node.scrollTop = node.scrollHeight;
            }
          }}
        >
          {logs.text || (logs.status === 'loading' ? 'Loading…' : '(empty)')}
        </pre>
      )}
    </li>
  );
}

/** Every deployment of the workspace, a card each, newest figures polled while shown. */
export function Deployments(props: { model: ModelsModel }): JSX.Element {
  const { model } = props;
  const list = model.deployments;
  let body: JSX.Element;
  if (model.deploymentsStatus === 'error' && model.deploymentsError) {
    body = (
      <ErrorMessage
        title="Cannot list deployments"
        error={model.deploymentsError}
        onRetry={() => void model.refresh()}
      />
    );
  } else if (list.length === 0) {
    body =
      model.deploymentsStatus === 'ready' ? (
        <Empty>No deployments yet. Choose a version and click Deploy.</Empty>
      ) : (
        <Loading label="Loading deployments…" />
      );
  } else {
    // Live ones first, then by name.
    const sorted = [...list].sort(
      (a, b) =>
        Number(isLive(b)) - Number(isLive(a)) || a.name.localeCompare(b.name)
    );
    body = (
      <ul className="jp-mlops-DeploymentList" aria-label="Deployments">
        {sorted.map(d => (
          <DeploymentCard key={d.name} model={model} deployment={d} />
        ))}
      </ul>
    );
  }
  return (
    <section className="jp-mlops-Deployments" aria-label="Deployments">
      <div className="jp-mlops-Models-heading">
        <span>Deployments</span>
      </div>
      {body}
    </section>
  );
}
