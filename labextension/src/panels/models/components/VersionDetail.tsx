import * as React from 'react';

import {
  IChainLink,
  ILineage,
  ILineageChain,
  IModelVersionDetail,
  IPromotion,
  LinkKind
} from '../../../api';
import {
  ErrorMessage,
  formatNumber,
  Loading
} from '../../../components/status';
import { serverPath, when } from '../format';
import { ModelsModel } from '../model';

/** One step of the lineage chain: a label, what it is, and details under it. */
function Step(props: {
  kind: string;
  label: string;
  children: React.ReactNode;
}): JSX.Element {
  return (
    <li className="jp-mlops-Lineage-step" data-step={props.kind}>
      <span className="jp-mlops-Lineage-label">{props.label}</span>
      <div className="jp-mlops-Lineage-body">{props.children}</div>
    </li>
  );
}

function LineageChain(props: {
  version: IModelVersionDetail;
  lineage: ILineage | null;
  onOpenNotebook: (path: string) => void;
}): JSX.Element {
  const { version, lineage, onOpenNotebook } = props;
  const notebookPath = lineage?.notebook ? serverPath(lineage.notebook) : null;
  const notebookOutsideGit =
    lineage?.notebook_git === 'untracked' ||
    lineage?.notebook_git === 'ignored';
  return (
    <ol className="jp-mlops-Lineage" aria-label="Lineage">
      <Step kind="version" label="Version">
        <span className="jp-mlops-Lineage-main">
          {version.name} v{version.version}
        </span>
        <code className="jp-mlops-Lineage-sub">{version.model_uri}</code>
      </Step>
      <Step kind="run" label="Run">
        {lineage ? (
          <>
            <button
              type="button"
              className="jp-mlops-Lineage-main jp-mlops-Button jp-mlops-Button--link"
              title="Open the run's page"
              data-mlops-run-link={lineage.run_id}
            >
              {lineage.run_name || lineage.run_id.slice(0, 8)}
            </button>
            <code className="jp-mlops-Lineage-sub" title="Run id">
              {lineage.run_id}
            </code>
            {lineage.experiment_name && (
              <span className="jp-mlops-Lineage-sub">
                in experiment {lineage.experiment_name}
              </span>
            )}
          </>
        ) : (
          <span className="jp-mlops-muted">not recorded</span>
        )}
      </Step>
      <Step kind="notebook" label="Notebook">
        {lineage?.notebook ? (
          <>
            {notebookPath !== null ? (
              <button
                type="button"
                className="jp-mlops-Button jp-mlops-Button--link jp-mlops-Lineage-path"
                title={`Open ${lineage.notebook}`}
                onClick={() => onOpenNotebook(notebookPath)}
              >
                {notebookPath}
              </button>
            ) : (
              <code className="jp-mlops-Lineage-path">{lineage.notebook}</code>
            )}
            {lineage.notebook_snapshot && (
              <span
                className="jp-mlops-Lineage-sub"
                title="The notebook as it ran, saved with the run's artifacts"
              >
                snapshot: <code>{lineage.notebook_snapshot}</code>
              </span>
            )}
          </>
        ) : (
          <span className="jp-mlops-muted">not recorded</span>
        )}
      </Step>
      <Step kind="features" label="Features">
        {lineage && lineage.features.length > 0 ? (
          <ul className="jp-mlops-Lineage-features">
            {lineage.features.map(ref => (
              <li key={ref}>
                <code
                  className="jp-mlops-FeatureRef"
                  title={(() => {
                    const view = ref.split(':').slice(0, 2).join(':');
                    const fp = lineage.feature_views[view];
                    return fp ? `${view} fingerprint ${fp}` : undefined;
                  })()}
                >
                  {ref}
                </code>
              </li>
            ))}
          </ul>
        ) : (
          <span className="jp-mlops-muted">no feature store features</span>
        )}
      </Step>
      <Step kind="commit" label="Commit">
        {lineage?.git_commit ? (
          <>
            <code className="jp-mlops-Lineage-main" title={lineage.git_commit}>
              {lineage.git_commit.slice(0, 10)}
            </code>
            {lineage.git_branch && (
              <span className="jp-mlops-Lineage-sub">
                on {lineage.git_branch}
              </span>
            )}
            {notebookOutsideGit ? (
              // Not in the commit at all: the commit alone does not reproduce the run.
              <span
                className="jp-mlops-Badge jp-mlops-Badge--dirty"
                title={lineage.git_standing}
              >
                notebook not in git
              </span>
            ) : (
              <>
                {lineage.git_dirty === true && (
                  <span
                    className="jp-mlops-Badge jp-mlops-Badge--dirty"
                    title={
                      lineage.git_standing ||
                      'The working tree had uncommitted changes when the run started'
                    }
                  >
                    dirty
                  </span>
                )}
                {lineage.git_dirty === false && (
                  <span className="jp-mlops-Badge jp-mlops-Badge--fresh">
                    clean
                  </span>
                )}
              </>
            )}
            {notebookOutsideGit && (
              <span className="jp-mlops-Lineage-sub">
                {lineage.git_standing}
              </span>
            )}
          </>
        ) : (
          <span className="jp-mlops-muted">not in a git repository</span>
        )}
      </Step>
    </ol>
  );
}

/** Each kind of chain link: its label, and the group that colours its dot. */
const LINK_KINDS: Record<LinkKind, { label: string; group: string }> = {
  deployment: { label: 'Deployment', group: 'serving' },
  abtest: { label: 'A/B test', group: 'serving' },
  version: { label: 'Version', group: 'version' },
  pipeline_run: { label: 'Pipeline run', group: 'event' },
  trigger: { label: 'Trigger', group: 'event' },
  job: { label: 'Job', group: 'training' },
  run: { label: 'Run', group: 'training' },
  gates: { label: 'Gates', group: 'training' },
  notebook: { label: 'Notebook', group: 'source' },
  features: { label: 'Features', group: 'source' },
  commit: { label: 'Commit', group: 'source' }
};

/** Links the lineage list above does not show: the chain is drawn only when it has some. */
const CHAIN_ONLY: ReadonlySet<LinkKind> = new Set<LinkKind>([
  'deployment',
  'abtest',
  'pipeline_run',
  'trigger',
  'job',
  'gates'
]);

/** The artifact folder of a run's notebook snapshot (not a file JupyterLab can open). */
const SNAPSHOT_DIR = 'notebook/';

/** The path to open for a notebook link, when it is a file of the workspace. */
function openablePath(link: IChainLink, chain: ILineageChain): string | null {
  const path = link.refs.notebook;
  // The executed notebook of the version's job is a workspace file; without a job the link
  // names the snapshot saved with the run.
  if (!path || !chain.links.some(l => l.kind === 'job' && l.refs.job)) {
    return null;
  }
  if (path.startsWith(SNAPSHOT_DIR) || !path.endsWith('.ipynb')) {
    return null;
  }
  return serverPath(path);
}

/**
 * Why the version exists and what serves it, as one chain: from the deployments and A/B tests
 * back to the version, the pipeline run and the event that started it, then on to the job, the
 * run, the gates, the executed notebook, the features and the commit.
 */
function LineageChainLinks(props: {
  chain: ILineageChain;
  onOpenNotebook: (path: string) => void;
}): JSX.Element | null {
  const { chain, onOpenNotebook } = props;
  if (!chain.links.some(link => CHAIN_ONLY.has(link.kind))) {
    return null;
  }
  return (
    <section className="jp-mlops-Chain" aria-label="Lineage chain">
      <div className="jp-mlops-Chain-title">
        Lineage chain
        <span className="jp-mlops-muted">
          {' '}
          from what serves it back to what started it
        </span>
      </div>
      <ol className="jp-mlops-Chain-links" aria-label="Chain links">
        {chain.links.map((link, index) => {
          const kind = LINK_KINDS[link.kind] ?? {
            label: link.kind,
            group: 'source'
          };
          const time = link.time ? when(new Date(link.time).getTime()) : null;
          const path =
            link.kind === 'notebook' ? openablePath(link, chain) : null;
          return (
            <li
              key={`${link.kind}-${index}`}
              className={`jp-mlops-ChainLink jp-mlops-ChainLink--${kind.group}`}
              data-link={link.kind}
            >
              <span className="jp-mlops-ChainLink-kind">{kind.label}</span>
              <div className="jp-mlops-ChainLink-body">
                <div className="jp-mlops-ChainLink-head">
                  {path !== null ? (
                    <button
                      type="button"
                      className="jp-mlops-Button jp-mlops-Button--link jp-mlops-ChainLink-title"
                      title={`Open ${path}`}
                      onClick={() => onOpenNotebook(path)}
                    >
                      {link.title}
                    </button>
                  ) : (
                    <span className="jp-mlops-ChainLink-title">
                      {link.title}
                    </span>
                  )}
                  {time && (
                    <span className="jp-mlops-ChainLink-time" title={time.full}>
                      {time.human}
                    </span>
                  )}
                </div>
                {link.detail && (
                  <div
                    className="jp-mlops-ChainLink-detail"
                    title={link.detail}
                  >
                    {link.detail}
                  </div>
                )}
              </div>
            </li>
          );
        })}
      </ol>
    </section>
  );
}

function KeyValues(props: {
  label: string;
  values: Record<string, string | number>;
}): JSX.Element | null {
  const entries = Object.entries(props.values).sort(([a], [b]) =>
    a.localeCompare(b)
  );
  if (entries.length === 0) {
    return null;
  }
  return (
    <table className="jp-mlops-KeyValues" aria-label={props.label}>
      <caption>{props.label}</caption>
      <tbody>
        {entries.map(([key, value]) => (
          <tr key={key}>
            <th scope="row">{key}</th>
            <td title={String(value)}>
              {typeof value === 'number' ? formatNumber(value) : value}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function DeployAction(props: { model: ModelsModel }): JSX.Element {
  const { model } = props;
  const action = model.deployAction;
  const busy = action?.status === 'busy';
  return (
    <div className="jp-mlops-Action">
      <button
        type="button"
        className="jp-mlops-Button jp-mlops-Button--accept"
        disabled={busy}
        title="Start a local deployment of this version on 127.0.0.1 (deployment named after the model)"
        onClick={() => void model.deployVersion()}
      >
        Deploy
      </button>
      {busy && <Loading label={`${action.label} starting the model server`} />}
      {action?.status === 'done' && (
        <div className="jp-mlops-Action-done" role="status">
          {action.label}
        </div>
      )}
      {action?.status === 'error' && action.error && (
        <ErrorMessage title={action.label} error={action.error} />
      )}
    </div>
  );
}

function GateList(props: { promotion: IPromotion }): JSX.Element | null {
  const { gates } = props.promotion;
  if (gates.length === 0) {
    return null;
  }
  return (
    <ul className="jp-mlops-Gates" aria-label="Gates">
      {gates.map(gate => (
        <li
          key={gate.gate}
          className={
            'jp-mlops-Gate ' +
            (gate.passed ? 'jp-mlops-Gate--passed' : 'jp-mlops-Gate--failed')
          }
        >
          <span className="jp-mlops-Gate-mark" aria-hidden="true">
            {gate.passed ? '✓' : '✗'}
          </span>
          <span className="jp-mlops-Gate-text">
            <code>{gate.gate}</code> {gate.message}
          </span>
        </li>
      ))}
    </ul>
  );
}

/** Split the gates box into gates: commas, semicolons or new lines between them. */
function parseGates(text: string): string[] {
  return text
    .split(/[,;\n]/)
    .map(g => g.trim())
    .filter(g => g.length > 0);
}

function PromoteAction(props: { model: ModelsModel }): JSX.Element {
  const { model } = props;
  const [alias, setAlias] = React.useState('champion');
  const [gates, setGates] = React.useState('');
  const action = model.promoteAction;
  const busy = action?.status === 'busy';
  const submit = () => {
    if (alias.trim()) {
      void model.promoteVersion(alias.trim(), parseGates(gates));
    }
  };
  return (
    <div className="jp-mlops-Action">
      <form
        className="jp-mlops-Promote"
        onSubmit={event => {
          event.preventDefault();
          submit();
        }}
      >
        <label className="jp-mlops-Field">
          <span>Alias</span>
          <input
            type="text"
            className="jp-mlops-FilterBox-input"
            aria-label="Alias"
            spellCheck={false}
            value={alias}
            onChange={event => setAlias(event.target.value)}
          />
        </label>
        <label className="jp-mlops-Field jp-mlops-Field--grow">
          <span>Gates (optional)</span>
          <input
            type="text"
            className="jp-mlops-FilterBox-input"
            aria-label="Gates"
            placeholder="roc_auc>=champion, accuracy>0.8"
            spellCheck={false}
            value={gates}
            onChange={event => setGates(event.target.value)}
          />
        </label>
        <button
          type="submit"
          className="jp-mlops-Button"
          disabled={busy || !alias.trim()}
          title="Move the alias to this version if every gate passes"
        >
          Promote
        </button>
      </form>
      {busy && <Loading label={action.label} />}
      {action?.status === 'done' && action.result && (
        <div
          className={
            'jp-mlops-Promotion ' +
            (action.result.promoted
              ? 'jp-mlops-Promotion--promoted'
              : 'jp-mlops-Promotion--refused')
          }
          role="status"
        >
          <div className="jp-mlops-Promotion-title">{action.label}</div>
          <GateList promotion={action.result} />
        </div>
      )}
      {action?.status === 'error' && action.error && (
        <ErrorMessage title={action.label} error={action.error} />
      )}
    </div>
  );
}

/** The chosen version: lineage chain, Deploy and Promote, params and metrics. */
export function VersionDetail(props: {
  model: ModelsModel;
  onOpenNotebook: (path: string) => void;
}): JSX.Element | null {
  const { model, onOpenNotebook } = props;
  if (model.selectedVersion === null) {
    return null;
  }
  const detail = model.versionDetail;
  if (model.versionStatus === 'error' && model.versionError) {
    return (
      <ErrorMessage
        title={`Cannot load version ${model.selectedVersion}`}
        error={model.versionError}
        onRetry={() => void model.refresh()}
      />
    );
  }
  if (!detail) {
    return <Loading label="Loading lineage…" />;
  }
  const lineage = detail.lineage ?? null;
  const created = when(detail.created);
  return (
    <section
      className="jp-mlops-VersionDetail"
      aria-label={`${detail.name} version ${detail.version}`}
    >
      <div className="jp-mlops-Models-heading">
        <span>
          {detail.name} v{detail.version}
          {detail.aliases.map(alias => (
            <span key={alias} className="jp-mlops-Badge jp-mlops-Badge--alias">
              @{alias}
            </span>
          ))}
        </span>
        <span className="jp-mlops-muted" title={created.full}>
          {created.human}
        </span>
      </div>
      {detail.description && (
        <div className="jp-mlops-muted">{detail.description}</div>
      )}
      <LineageChain
        version={detail}
        lineage={lineage}
        onOpenNotebook={onOpenNotebook}
      />
      {model.lineageChain &&
        model.lineageChain.model === detail.name &&
        model.lineageChain.version === detail.version && (
          <LineageChainLinks
            chain={model.lineageChain}
            onOpenNotebook={onOpenNotebook}
          />
        )}
      <DeployAction model={model} />
      <PromoteAction key={`${detail.name}:${detail.version}`} model={model} />
      <div className="jp-mlops-KeyValues-pair">
        <KeyValues
          label="Metrics"
          values={lineage?.metrics ?? detail.metrics}
        />
        <KeyValues label="Params" values={lineage?.params ?? {}} />
      </div>
    </section>
  );
}
