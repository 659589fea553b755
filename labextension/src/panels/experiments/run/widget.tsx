import { Time } from '@jupyterlab/coreutils';
import { VDomRenderer } from '@jupyterlab/ui-components';
import { Message } from '@lumino/messaging';
import * as React from 'react';

import { IMetricPoint, IRunRecord } from '../../../api';
import {
  Empty,
  ErrorMessage,
  formatNumber,
  Loading
} from '../../../components/status';
import { RunModel } from './model';

/** What a run's page can open elsewhere in JupyterLab. */
export interface IRunLinks {
  openNotebook: (path: string) => void;
  openModelVersion: (name: string, version: number) => void;
  openFeatureView: (name: string) => void;
}

/** A line of a metric's values over its steps, drawn as SVG (cheap: no plotting library). */
function Sparkline(props: { points: IMetricPoint[] }): JSX.Element {
  const values = props.points.filter(
    (p): p is IMetricPoint & { value: number } => p.value !== null
  );
  const width = 180;
  const height = 40;
  if (values.length < 2) {
    return <></>;
  }
  const steps = values.map(p => p.step);
  const ys = values.map(p => p.value);
  const [x0, x1] = [Math.min(...steps), Math.max(...steps)];
  const [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  const sx = (x: number) => (x1 === x0 ? 0 : ((x - x0) / (x1 - x0)) * width);
  const sy = (y: number) =>
    y1 === y0 ? height / 2 : height - 2 - ((y - y0) / (y1 - y0)) * (height - 4);
  const path = values.map(p => `${sx(p.step)},${sy(p.value)}`).join(' ');
  return (
    <svg
      className="jp-mlops-Sparkline"
      width={width}
      height={height}
      viewBox={`0 0 ${width} ${height}`}
      role="img"
      aria-label={`${values.length} steps, from ${formatNumber(ys[0])} to ${formatNumber(ys[ys.length - 1])}`}
    >
      <title>
        {`steps ${x0}–${x1}: min ${formatNumber(y0)}, max ${formatNumber(y1)}, last ${formatNumber(ys[ys.length - 1])}`}
      </title>
      <polyline
        points={path}
        fill="none"
        stroke="currentColor"
        strokeWidth={1.5}
      />
    </svg>
  );
}

function Section(props: {
  title: string;
  count?: number;
  name: string;
  children: React.ReactNode;
}): JSX.Element {
  return (
    <section className="jp-mlops-RunPage-section" data-section={props.name}>
      <h3 className="jp-mlops-Compare-subheading">
        {props.title}
        {props.count !== undefined && (
          <span className="jp-mlops-muted"> ({props.count})</span>
        )}
      </h3>
      {props.children}
    </section>
  );
}

function sizeLabel(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined) {
    return '';
  }
  if (bytes < 1024) {
    return `${bytes} B`;
  }
  if (bytes < 1024 * 1024) {
    return `${(bytes / 1024).toFixed(1)} KB`;
  }
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/** Declared names first (in their order), then the others by name. */
function ordered(names: string[], declared: string[]): string[] {
  const first = declared.filter(n => names.includes(n));
  const rest = names
    .filter(n => !first.includes(n))
    .sort((a, b) => a.localeCompare(b));
  return [...first, ...rest];
}

function RunView(props: { run: IRunRecord; links: IRunLinks }): JSX.Element {
  const { run, links } = props;
  const params = ordered(Object.keys(run.params), run.declared_params);
  const metrics = ordered(Object.keys(run.metrics), run.declared_metrics);
  const tags = Object.keys(run.tags).sort((a, b) => a.localeCompare(b));
  const views = Object.keys(run.feature_views);
  return (
    <div className="jp-mlops-RunPage-body">
      <header className="jp-mlops-RunPage-header">
        <h2 className="jp-mlops-RunPage-title">
          {run.run_name || run.run_id.slice(0, 8)}
        </h2>
        <span
          className={`jp-mlops-Status jp-mlops-Status--${run.status.toLowerCase()}`}
        >
          {run.status.toLowerCase()}
        </span>
        <code className="jp-mlops-muted" title="Run id">
          {run.run_id}
        </code>
        {run.start_time && (
          <span
            className="jp-mlops-muted"
            title={Time.format(new Date(run.start_time))}
          >
            started {Time.formatHuman(new Date(run.start_time))}
          </span>
        )}
      </header>
      <div className="jp-mlops-RunPage-grid">
        <Section title="Parameters" count={params.length} name="params">
          {params.length === 0 ? (
            <Empty>No parameters.</Empty>
          ) : (
            <table className="jp-mlops-CompareTable" aria-label="Parameters">
              <tbody>
                {params.map(name => (
                  <tr key={name}>
                    <th scope="row">{name}</th>
                    <td title={run.params[name]}>{run.params[name]}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </Section>
        <Section title="Metrics" count={metrics.length} name="metrics">
          {metrics.length === 0 ? (
            <Empty>No metrics.</Empty>
          ) : (
            <table className="jp-mlops-CompareTable" aria-label="Metrics">
              <tbody>
                {metrics.map(name => {
                  const history = run.metric_history[name] ?? [];
                  return (
                    <tr key={name} data-metric={name}>
                      <th scope="row">{name}</th>
                      <td
                        className="jp-mlops-CompareTable-number"
                        title={String(run.metrics[name])}
                      >
                        {formatNumber(run.metrics[name])}
                      </td>
                      <td className="jp-mlops-RunPage-history">
                        {history.length > 1 ? (
                          <Sparkline points={history} />
                        ) : null}
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          )}
        </Section>
      </div>
      <Section title="Model" count={run.models.length} name="models">
        {run.models.length === 0 ? (
          <Empty>This run logged no model.</Empty>
        ) : (
          <ul className="jp-mlops-RunPage-list">
            {run.models.map((model, index) => (
              <li key={model.model_id ?? index}>
                <strong>{model.name}</strong>{' '}
                {model.flavors.length > 0 && (
                  <span className="jp-mlops-muted">
                    ({model.flavors.join(', ')})
                  </span>
                )}{' '}
                {model.model_id && (
                  <code className="jp-mlops-muted">{model.model_id}</code>
                )}
                {model.versions.length === 0 ? (
                  <span className="jp-mlops-muted"> — not registered</span>
                ) : (
                  <span>
                    {' — registered as '}
                    {model.versions.map(v => (
                      <button
                        key={`${v.name}:${v.version}`}
                        type="button"
                        className="jp-mlops-Button jp-mlops-Button--link"
                        title="Show this version in the Models section"
                        onClick={() =>
                          links.openModelVersion(v.name, v.version)
                        }
                      >
                        {v.name} v{v.version}
                        {v.aliases.map(a => ` @${a}`).join('')}
                      </button>
                    ))}
                  </span>
                )}
              </li>
            ))}
          </ul>
        )}
      </Section>
      <Section title="Where it came from" name="origin">
        <ul className="jp-mlops-RunPage-list">
          <li>
            Notebook:{' '}
            {run.notebook ? (
              <button
                type="button"
                className="jp-mlops-Button jp-mlops-Button--link"
                title="Open the notebook in JupyterLab"
                onClick={() => links.openNotebook(run.notebook ?? '')}
              >
                {run.notebook}
              </button>
            ) : (
              <span className="jp-mlops-muted">not recorded</span>
            )}
            {run.notebook_snapshot && (
              <span className="jp-mlops-muted">
                {' '}
                (snapshot kept as artifact <code>{run.notebook_snapshot}</code>)
              </span>
            )}
          </li>
          <li>
            Commit:{' '}
            {run.git_commit ? (
              <code>{run.git_commit.slice(0, 12)}</code>
            ) : (
              <span className="jp-mlops-muted">not recorded</span>
            )}
          </li>
        </ul>
      </Section>
      <Section
        title="Feature versions used"
        count={views.length}
        name="features"
      >
        {views.length === 0 ? (
          <Empty>No training frame from the feature store was recorded.</Empty>
        ) : (
          <ul className="jp-mlops-RunPage-list">
            {views.map(label => {
              const view = label.split(':')[0];
              const used = run.features.filter(f => f.startsWith(`${label}:`));
              return (
                <li key={label}>
                  <button
                    type="button"
                    className="jp-mlops-Button jp-mlops-Button--link"
                    onClick={() => links.openFeatureView(view)}
                  >
                    {label}
                  </button>{' '}
                  <span className="jp-mlops-muted">
                    {used.map(f => f.split(':').slice(2).join(':')).join(', ')}
                  </span>
                </li>
              );
            })}
          </ul>
        )}
      </Section>
      <Section title="Artifacts" count={run.artifacts.length} name="artifacts">
        {run.artifacts.length === 0 ? (
          <Empty>No artifacts.</Empty>
        ) : (
          <ul className="jp-mlops-RunPage-list jp-mlops-RunPage-artifacts">
            {run.artifacts.map(a => (
              <li
                key={a.path}
                style={{
                  paddingLeft: `${(a.path.split('/').length - 1) * 12}px`
                }}
              >
                <code>
                  {a.path.split('/').pop()}
                  {a.is_dir ? '/' : ''}
                </code>{' '}
                <span className="jp-mlops-muted">{sizeLabel(a.file_size)}</span>
              </li>
            ))}
          </ul>
        )}
      </Section>
      <Section title="Tags" count={tags.length} name="tags">
        <details>
          <summary>Show tags</summary>
          <table className="jp-mlops-CompareTable" aria-label="Tags">
            <tbody>
              {tags.map(name => (
                <tr key={name}>
                  <th scope="row">{name}</th>
                  <td title={run.tags[name]}>{run.tags[name]}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </details>
      </Section>
    </div>
  );
}

/** The content of a run's tab. */
export class RunWidget extends VDomRenderer<RunModel> {
  constructor(model: RunModel, links: IRunLinks) {
    super(model);
    this.addClass('jp-mlops-RunPage');
    this._links = links;
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    if (this.model.status === 'idle') {
      void this.model.load();
    }
  }

  protected render(): JSX.Element {
    const { model } = this;
    if (model.run) {
      return <RunView run={model.run} links={this._links} />;
    }
    if (model.error) {
      return (
        <ErrorMessage
          title="Cannot load this run"
          error={model.error}
          onRetry={() => void model.load()}
        />
      );
    }
    return <Loading label="Loading the run…" />;
  }

  private _links: IRunLinks;
}
