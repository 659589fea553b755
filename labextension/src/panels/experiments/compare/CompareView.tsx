import * as React from 'react';

import { IComparison, IMetricSummary, ISeedGroup } from '../../../api';
import {
  Empty,
  ErrorMessage,
  formatNumber,
  Loading
} from '../../../components/status';
import { CompareModel } from './model';

function runLabel(run: IComparison['runs'][number]): string {
  return run.run_name || run.run_id.slice(0, 8);
}

/** Params then metrics, one column per run; rows whose values differ are highlighted. */
function ValuesTable(props: {
  comparison: IComparison;
  onOpenRun: (runId: string, runName: string) => void;
}): JSX.Element {
  const { comparison, onOpenRun } = props;
  const { runs, params, metrics } = comparison;
  if (params.length === 0 && metrics.length === 0) {
    return <Empty>No parameters or metrics to show.</Empty>;
  }
  const section = (label: string, count: number) => (
    <tr className="jp-mlops-CompareTable-section">
      <th scope="rowgroup" colSpan={runs.length + 1}>
        {label} <span className="jp-mlops-muted">({count})</span>
      </th>
    </tr>
  );
  return (
    <div className="jp-mlops-TableScroll">
      <table
        className="jp-mlops-CompareTable"
        aria-label="Parameters and metrics"
      >
        <thead>
          <tr>
            <th scope="col" className="jp-mlops-CompareTable-corner">
              Name
            </th>
            {runs.map(run => (
              <th
                key={run.run_id}
                scope="col"
                title={`${runLabel(run)} (run ${run.run_id})`}
              >
                <button
                  type="button"
                  className="jp-mlops-Button jp-mlops-Button--link"
                  title={`Open run ${runLabel(run)}`}
                  onClick={() => onOpenRun(run.run_id, runLabel(run))}
                >
                  {runLabel(run)}
                </button>
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {params.length > 0 && section('Parameters', params.length)}
          {params.map(row => (
            <tr
              key={`p:${row.name}`}
              className={row.differs ? 'jp-mod-differs' : undefined}
              data-differs={row.differs}
            >
              <th scope="row">{row.name}</th>
              {row.values.map((value, i) => (
                <td key={i} title={value ?? undefined}>
                  {value ?? <span className="jp-mlops-muted">—</span>}
                </td>
              ))}
            </tr>
          ))}
          {metrics.length > 0 && section('Metrics', metrics.length)}
          {metrics.map(row => (
            <tr
              key={`m:${row.name}`}
              className={row.differs ? 'jp-mod-differs' : undefined}
              data-differs={row.differs}
            >
              <th scope="row">{row.name}</th>
              {row.values.map((value, i) => (
                <td
                  key={i}
                  className="jp-mlops-CompareTable-number"
                  title={value === null ? undefined : String(value)}
                >
                  {formatNumber(value)}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function formatSummary(summary: IMetricSummary | undefined): React.ReactNode {
  if (!summary || summary.mean === null) {
    return <span className="jp-mlops-muted">—</span>;
  }
  const { mean, ci_low, ci_high } = summary;
  if (ci_low === null || ci_high === null) {
    return formatNumber(mean);
  }
  const half = (ci_high - ci_low) / 2;
  return (
    <>
      {formatNumber(mean)}{' '}
      <span className="jp-mlops-muted">± {formatNumber(half)}</span>
    </>
  );
}

/** One row per seed group: mean ± half the 95% CI of each metric. */
function GroupsTable(props: {
  groups: ISeedGroup[];
  seedParam: string;
}): JSX.Element {
  const { groups, seedParam } = props;
  const metricNames = Array.from(
    new Set(groups.flatMap(group => group.metrics.map(m => m.name)))
  ).sort((a, b) => a.localeCompare(b));
  return (
    <div className="jp-mlops-TableScroll">
      <table
        className="jp-mlops-CompareTable jp-mlops-GroupsTable"
        aria-label="Seed groups"
      >
        <thead>
          <tr>
            <th scope="col">Group (all but {seedParam})</th>
            <th scope="col">Runs</th>
            {metricNames.map(name => (
              <th key={name} scope="col">
                {name} <span className="jp-mlops-muted">mean ± 95% CI</span>
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {groups.map((group, index) => {
            const key = Object.entries(group.key);
            return (
              <tr key={index}>
                <th scope="row">
                  {key.length === 0 ? (
                    <span className="jp-mlops-muted">(all runs)</span>
                  ) : (
                    key.map(([name, value]) => (
                      <span key={name} className="jp-mlops-GroupKey">
                        {name}={value ?? '—'}
                      </span>
                    ))
                  )}
                </th>
                <td className="jp-mlops-CompareTable-number">
                  {group.run_ids.length}
                </td>
                {metricNames.map(name => {
                  const summary = group.metrics.find(m => m.name === name);
                  return (
                    <td
                      key={name}
                      className="jp-mlops-CompareTable-number"
                      title={
                        summary &&
                        summary.ci_low !== null &&
                        summary.ci_high !== null
                          ? `n=${summary.n}, std=${formatNumber(summary.std)}, 95% CI [${formatNumber(
                              summary.ci_low
                            )}, ${formatNumber(summary.ci_high)}]`
                          : summary
                            ? `n=${summary.n}`
                            : undefined
                      }
                    >
                      {formatSummary(summary)}
                    </td>
                  );
                })}
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

function Toggle(props: {
  label: string;
  checked: boolean;
  disabled: boolean;
  onChange: (value: boolean) => void;
}): JSX.Element {
  return (
    <label className="jp-mlops-Toggle">
      <input
        type="checkbox"
        checked={props.checked}
        disabled={props.disabled}
        onChange={event => props.onChange(event.target.checked)}
      />
      {props.label}
    </label>
  );
}

/** The top of a Compare tab: toggles, the values table and, when grouped, the groups table. */
export function CompareView(props: {
  model: CompareModel;
  onOpenRun: (runId: string, runName: string) => void;
}): JSX.Element {
  const { model, onOpenRun } = props;
  const comparison = model.comparison;
  const loading = model.status === 'loading' || model.status === 'idle';
  return (
    <div className="jp-mlops-Compare-body">
      <div className="jp-mlops-Compare-toolbar">
        <span className="jp-mlops-Compare-heading">
          Compare {model.runIds.length} runs
        </span>
        <Toggle
          label="Differences only"
          checked={model.diffOnly}
          disabled={loading}
          onChange={value => void model.setDiffOnly(value)}
        />
        <Toggle
          label="Group by seed"
          checked={model.groupBySeed}
          disabled={loading}
          onChange={value => void model.setGroupBySeed(value)}
        />
        {loading && comparison && <Loading label="Updating…" />}
      </div>
      {model.error && (
        <ErrorMessage
          title="Cannot compare these runs"
          error={model.error}
          onRetry={() => void model.load()}
        />
      )}
      {!comparison && loading && <Loading label="Comparing runs…" />}
      {comparison && (
        <div
          className={
            'jp-mlops-Compare-tables' + (loading ? ' jp-mod-loading' : '')
          }
        >
          <h3 className="jp-mlops-Compare-subheading">
            Parameters and metrics
          </h3>
          <ValuesTable comparison={comparison} onOpenRun={onOpenRun} />
          {model.groupBySeed && (
            <>
              <h3 className="jp-mlops-Compare-subheading">
                Seed groups
                {comparison.seed_param && (
                  <span className="jp-mlops-muted">
                    {' '}
                    by {comparison.seed_param}
                  </span>
                )}
              </h3>
              {comparison.groups && comparison.seed_param ? (
                <GroupsTable
                  groups={comparison.groups}
                  seedParam={comparison.seed_param}
                />
              ) : (
                <Empty>
                  No seed parameter found among these runs (looked for params
                  such as <code>seed</code> or <code>random_state</code>), so
                  there is nothing to group.
                </Empty>
              )}
            </>
          )}
        </div>
      )}
    </div>
  );
}
