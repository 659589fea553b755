import * as React from 'react';

import {
  IFeatureStats,
  IFeatureUsage,
  IFeatureViewDetail,
  IFeatureViewStats,
  IFeatureViewSummary
} from '../../../api';
import {
  Empty,
  ErrorMessage,
  formatNumber,
  Loading
} from '../../../components/status';
import { ILoadable } from '../../load';
import {
  featureRef,
  formatAge,
  formatEpochMs,
  formatRate,
  formatTimestamp,
  formatTtl
} from '../format';
import { FeaturesModel } from '../model';
import { FeatureViewModel } from '../viewModel';
import { InsertBar } from './InsertBar';

/** Loading and error states of one part of the page; `children` renders its value. */
function PartView<T>(props: {
  part: ILoadable<T>;
  what: string;
  onRetry: () => void;
  children: (value: T) => React.ReactNode;
}): JSX.Element {
  const { part, what, onRetry, children } = props;
  if (part.status === 'error' && part.error) {
    return (
      <ErrorMessage
        title={`Cannot load the ${what}`}
        error={part.error}
        onRetry={onRetry}
      />
    );
  }
  if (part.value === null) {
    return <Loading label={`Loading the ${what}…`} />;
  }
  return <>{children(part.value)}</>;
}

function statValue(value: number | string | null | undefined): string {
  if (typeof value === 'string') {
    return formatTimestamp(value);
  }
  return formatNumber(value);
}

function TopValues(props: { values: IFeatureStats['top_values'] }) {
  const values = props.values ?? [];
  if (values.length === 0) {
    return <span className="jp-mlops-muted">—</span>;
  }
  return (
    <span
      className="jp-mlops-TopValues"
      title={values.map(([v, n]) => `${v}: ${n}`).join('\n')}
    >
      {values.slice(0, 3).map(([value, count]) => (
        <span key={value} className="jp-mlops-TopValue">
          {value} <span className="jp-mlops-muted">{count}</span>
        </span>
      ))}
      {values.length > 3 && (
        <span className="jp-mlops-muted">+{values.length - 3}</span>
      )}
    </span>
  );
}

/** The view's features with their statistics; a checkbox per feature picks it for the code. */
function SchemaTable(props: {
  detail: IFeatureViewDetail;
  stats: IFeatureViewStats | null;
  pinned: number | null;
  features: FeaturesModel;
}): JSX.Element {
  const { detail, stats, pinned, features } = props;
  const byName = new Map((stats?.features ?? []).map(s => [s.name, s]));
  const refs = detail.features.map(f =>
    featureRef(detail.name, f.name, pinned)
  );
  const ticked = refs.filter(ref => features.isSelected(ref)).length;
  return (
    <div className="jp-mlops-TableScroll">
      <table className="jp-mlops-SchemaTable" aria-label="Schema">
        <thead>
          <tr>
            <th scope="col" className="jp-mlops-SchemaTable-check">
              <input
                type="checkbox"
                aria-label="Tick every feature of this view"
                checked={ticked === refs.length && refs.length > 0}
                ref={node => {
                  if (node) {
                    node.indeterminate = ticked > 0 && ticked < refs.length;
                  }
                }}
                onChange={event =>
                  features.setFeatures(refs, event.target.checked)
                }
              />
            </th>
            <th scope="col">Feature</th>
            <th scope="col">Type</th>
            <th scope="col" className="jp-mlops-number">
              Nulls
            </th>
            <th scope="col" className="jp-mlops-number">
              Min
            </th>
            <th scope="col" className="jp-mlops-number">
              Max
            </th>
            <th scope="col" className="jp-mlops-number">
              Mean
            </th>
            <th scope="col" className="jp-mlops-number">
              Std
            </th>
            <th scope="col">Top values</th>
          </tr>
        </thead>
        <tbody>
          {detail.features.map((feature, index) => {
            const ref = refs[index];
            const s = byName.get(feature.name);
            const selected = features.isSelected(ref);
            return (
              <tr
                key={feature.name}
                data-feature={feature.name}
                className={selected ? 'jp-mod-selected' : undefined}
              >
                <td className="jp-mlops-SchemaTable-check">
                  <input
                    type="checkbox"
                    aria-label={`Tick feature ${feature.name}`}
                    checked={selected}
                    onChange={event =>
                      features.toggleFeature(ref, event.target.checked)
                    }
                  />
                </td>
                <th scope="row" className="jp-mlops-SchemaTable-name">
                  {feature.name}
                </th>
                <td>
                  <code className="jp-mlops-Dtype">{feature.dtype}</code>
                </td>
                <td
                  className={
                    'jp-mlops-number' +
                    (s?.null_rate ? ' jp-mlops-SchemaTable-nulls' : '')
                  }
                >
                  {formatRate(s?.null_rate)}
                </td>
                <td className="jp-mlops-number">{statValue(s?.min)}</td>
                <td className="jp-mlops-number">{statValue(s?.max)}</td>
                <td className="jp-mlops-number">{formatNumber(s?.mean)}</td>
                <td className="jp-mlops-number">{formatNumber(s?.std)}</td>
                <td>
                  <TopValues values={s?.top_values} />
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

/** Row count, event times, age against the TTL and a clear STALE marker. */
function Freshness(props: { stats: IFeatureViewStats }): JSX.Element {
  const { stats } = props;
  return (
    <div
      className={
        'jp-mlops-Freshness' + (stats.stale ? ' jp-mod-stale' : ' jp-mod-fresh')
      }
      data-stale={stats.stale}
    >
      <div className="jp-mlops-Freshness-marker">
        {stats.stale ? (
          <span className="jp-mlops-Badge jp-mlops-Badge--stale jp-mlops-Badge--large">
            STALE
          </span>
        ) : (
          <span className="jp-mlops-Badge jp-mlops-Badge--fresh jp-mlops-Badge--large">
            FRESH
          </span>
        )}
        <span className="jp-mlops-Freshness-why">
          {stats.row_count === 0
            ? 'No rows yet: ingest data into this view.'
            : stats.ttl_seconds === null
              ? 'No TTL: values never expire.'
              : stats.stale
                ? `The newest row is ${formatAge(stats.age_seconds)} old, past the TTL of ${formatTtl(stats.ttl_seconds)}.`
                : `The newest row is ${formatAge(stats.age_seconds)} old, within the TTL of ${formatTtl(stats.ttl_seconds)}.`}
        </span>
      </div>
      <dl className="jp-mlops-Facts">
        <dt>Rows</dt>
        <dd>{stats.row_count.toLocaleString('en-US')}</dd>
        <dt>First event</dt>
        <dd>{formatTimestamp(stats.first_event)}</dd>
        <dt>Last event</dt>
        <dd>{formatTimestamp(stats.last_event)}</dd>
        <dt>Age</dt>
        <dd>{formatAge(stats.age_seconds)}</dd>
      </dl>
    </div>
  );
}

function Definition(props: { detail: IFeatureViewDetail }): JSX.Element {
  const { detail } = props;
  const tags = Object.entries(detail.tags);
  return (
    <dl className="jp-mlops-Facts">
      <dt>Entities</dt>
      <dd>{detail.entities.join(', ') || '—'}</dd>
      <dt>Join keys</dt>
      <dd>
        {detail.join_keys.map(key => (
          <code key={key} className="jp-mlops-Chip">
            {key}
          </code>
        ))}
      </dd>
      <dt>Event time</dt>
      <dd>
        <code className="jp-mlops-Chip">{detail.timestamp_field}</code>
      </dd>
      <dt>TTL</dt>
      <dd>{formatTtl(detail.ttl_seconds)}</dd>
      <dt>Source</dt>
      <dd className="jp-mlops-Facts-wrap">
        {detail.source ?? 'ingested into the workspace'}
      </dd>
      {detail.owner && (
        <>
          <dt>Owner</dt>
          <dd>{detail.owner}</dd>
        </>
      )}
      {tags.length > 0 && (
        <>
          <dt>Tags</dt>
          <dd>
            {tags.map(([k, v]) => (
              <span key={k} className="jp-mlops-Chip">
                {k}={v}
              </span>
            ))}
          </dd>
        </>
      )}
    </dl>
  );
}

function diffLineClass(line: string): string {
  const mark = line.trimStart().charAt(0);
  return mark === '+'
    ? 'jp-mod-added'
    : mark === '-'
      ? 'jp-mod-removed'
      : mark === '~'
        ? 'jp-mod-changed'
        : '';
}

function VersionSelect(props: {
  label: string;
  value: number | null;
  versions: IFeatureViewSummary[];
  onChange: (version: number) => void;
}): JSX.Element {
  const { label, value, versions, onChange } = props;
  return (
    <label className="jp-mlops-Field">
      {label}
      <select
        className="jp-mlops-Select"
        aria-label={`Diff ${label.toLowerCase()} version`}
        value={value ?? ''}
        onChange={event => onChange(Number(event.target.value))}
      >
        {versions.map(v => (
          <option key={v.version} value={v.version}>
            v{v.version}
          </option>
        ))}
      </select>
    </label>
  );
}

/** Every version, and what changed between two of them. */
function Versions(props: {
  model: FeatureViewModel;
  versions: IFeatureViewSummary[];
}): JSX.Element {
  const { model, versions } = props;
  const shown = model.shownVersion;
  const diff = model.diff;
  return (
    <>
      <div className="jp-mlops-TableScroll">
        <table className="jp-mlops-VersionsTable" aria-label="Versions">
          <thead>
            <tr>
              <th scope="col">Version</th>
              <th scope="col">Created</th>
              <th scope="col">Features</th>
              <th scope="col">Fingerprint</th>
            </tr>
          </thead>
          <tbody>
            {versions.map(v => (
              <tr
                key={v.version}
                className={v.version === shown ? 'jp-mod-selected' : undefined}
              >
                <th scope="row">
                  <button
                    type="button"
                    className="jp-mlops-Button jp-mlops-Button--link"
                    title={`Show v${v.version}`}
                    onClick={() =>
                      void model.setVersion(
                        v.version === versions[0].version ? null : v.version
                      )
                    }
                  >
                    v{v.version}
                  </button>
                  {v.version === versions[0].version && (
                    <span className="jp-mlops-muted"> latest</span>
                  )}
                </th>
                <td>{formatTimestamp(v.created_at)}</td>
                <td
                  title={v.features
                    .map(f => `${f.name}: ${f.dtype}`)
                    .join('\n')}
                >
                  {v.features.length}
                </td>
                <td>
                  <code title={v.fingerprint}>
                    {v.fingerprint.slice(0, 12)}
                  </code>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {versions.length < 2 ? (
        <Empty>Only one version: nothing to diff yet.</Empty>
      ) : (
        <div className="jp-mlops-Diff">
          <div className="jp-mlops-Diff-controls">
            <span>Diff</span>
            <VersionSelect
              label="From"
              value={model.diffFrom}
              versions={versions}
              onChange={from =>
                void model.setDiffRange(
                  from,
                  model.diffTo ?? versions[0].version
                )
              }
            />
            <VersionSelect
              label="To"
              value={model.diffTo}
              versions={versions}
              onChange={to =>
                void model.setDiffRange(
                  model.diffFrom ?? versions[versions.length - 1].version,
                  to
                )
              }
            />
            {diff.status === 'loading' && <Loading label="" />}
          </div>
          {diff.status === 'error' && diff.error ? (
            <ErrorMessage
              title="Cannot diff these versions"
              error={diff.error}
            />
          ) : diff.value === null ? null : diff.value.lines.length === 0 ? (
            <Empty>
              No change from v{diff.value.from_version} to v
              {diff.value.to_version}.
            </Empty>
          ) : (
            <pre
              className="jp-mlops-Diff-lines"
              aria-label={`Changes from v${diff.value.from_version} to v${diff.value.to_version}`}
            >
              {diff.value.lines.map((line, i) => (
                <div key={i} className={diffLineClass(line)}>
                  {line}
                </div>
              ))}
            </pre>
          )}
        </div>
      )}
    </>
  );
}

/** Runs (and later models and deployments) per version: an impact preview before a change. */
function Usage(props: { usage: IFeatureUsage }): JSX.Element {
  const { usage } = props;
  if (usage.versions.length === 0) {
    return <Empty>No versions.</Empty>;
  }
  return (
    <ul className="jp-mlops-Usage">
      {[...usage.versions]
        .sort((a, b) => b.version - a.version)
        .map(v => (
          <li key={v.version} className="jp-mlops-Usage-version">
            <div className="jp-mlops-Usage-heading">
              v{v.version}
              <span className="jp-mlops-muted">
                {' · '}
                {v.runs.length} run{v.runs.length === 1 ? '' : 's'}
                {v.models.length > 0 &&
                  ` · ${v.models.length} model${v.models.length === 1 ? '' : 's'}`}
                {v.deployments.length > 0 &&
                  ` · ${v.deployments.length} deployment${v.deployments.length === 1 ? '' : 's'}`}
              </span>
            </div>
            {v.runs.length === 0 ? (
              <div className="jp-mlops-Usage-none">No runs yet.</div>
            ) : (
              <ul className="jp-mlops-Usage-runs">
                {v.runs.map(run => (
                  <li key={run.run_id} title={`Run ${run.run_id}`}>
                    <span className="jp-mlops-Usage-run">
                      {run.run_name || run.run_id.slice(0, 8)}
                    </span>{' '}
                    <span
                      className={`jp-mlops-Status jp-mlops-Status--${run.status.toLowerCase()}`}
                    >
                      {run.status.toLowerCase()}
                    </span>{' '}
                    <span className="jp-mlops-muted">
                      {formatEpochMs(run.start_time)} · experiment #
                      {run.experiment_id}
                    </span>
                  </li>
                ))}
              </ul>
            )}
          </li>
        ))}
    </ul>
  );
}

function Section(props: {
  title: string;
  children: React.ReactNode;
  aside?: React.ReactNode;
}): JSX.Element {
  return (
    <section className="jp-mlops-FeatureSection" aria-label={props.title}>
      <h3 className="jp-mlops-FeatureSection-title">
        {props.title}
        {props.aside}
      </h3>
      {props.children}
    </section>
  );
}

/** The page of one feature view, in its main-area tab. */
export function FeatureViewPage(props: {
  model: FeatureViewModel;
  features: FeaturesModel;
  onInsert: () => void;
}): JSX.Element {
  const { model, features, onInsert } = props;
  const { detail, stats, versions, usage } = model;
  const retry = () => void model.load();
  const latest = model.latestVersion;
  const pinned =
    model.version !== null && model.version !== latest ? model.version : null;
  return (
    <div className="jp-mlops-FeatureView-body">
      <header className="jp-mlops-FeatureView-header">
        <h2 className="jp-mlops-FeatureView-title">
          {model.name}
          {model.shownVersion !== null && (
            <span className="jp-mlops-FeatureView-version">
              v{model.shownVersion}
            </span>
          )}
          {pinned !== null && (
            <span className="jp-mlops-Badge" title="Not the latest version">
              pinned — latest is v{latest}
            </span>
          )}
        </h2>
        {detail.value?.description && (
          <p className="jp-mlops-FeatureView-description">
            {detail.value.description}
          </p>
        )}
      </header>
      <PartView part={detail} what="view" onRetry={retry}>
        {value => (
          <>
            <div className="jp-mlops-FeatureView-cards">
              <Section title="Definition">
                <Definition detail={value} />
              </Section>
              <Section title="Freshness">
                <PartView part={stats} what="statistics" onRetry={retry}>
                  {s => <Freshness stats={s} />}
                </PartView>
              </Section>
            </div>
            <Section
              title="Schema and statistics"
              aside={
                stats.status === 'loading' ? <Loading label="" /> : undefined
              }
            >
              {stats.status === 'error' && stats.error && (
                <ErrorMessage
                  title="Statistics unavailable"
                  error={stats.error}
                  onRetry={retry}
                />
              )}
              <SchemaTable
                detail={value}
                stats={stats.value}
                pinned={pinned}
                features={features}
              />
              <InsertBar model={features} onInsert={onInsert} />
            </Section>
          </>
        )}
      </PartView>
      <Section title="Versions">
        <PartView part={versions} what="versions" onRetry={retry}>
          {value => <Versions model={model} versions={value} />}
        </PartView>
      </Section>
      <Section title="Usage">
        <PartView part={usage} what="usage" onRetry={retry}>
          {value => <Usage usage={value} />}
        </PartView>
      </Section>
      {detail.value && (
        <details className="jp-mlops-FeatureView-definition">
          <summary>Definition as JSON</summary>
          <pre>{JSON.stringify(detail.value.definition, null, 2)}</pre>
        </details>
      )}
    </div>
  );
}
