import { Time } from '@jupyterlab/coreutils';
import * as React from 'react';

import { IRunSummary } from '../../../api';
import {
  Empty,
  ErrorMessage,
  formatNumber,
  Loading
} from '../../../components/status';
import { ExperimentsModel, searchKey } from '../model';

/** A column of the runs table. */
interface IColumn {
  id: string;
  label: string;
  /** The `order_by` key that sorts by this column. */
  sortKey: string;
  kind: 'attribute' | 'metric' | 'param';
  pinned?: boolean;
  render: (run: IRunSummary) => React.ReactNode;
  title?: (run: IRunSummary) => string | undefined;
}

function columns(model: ExperimentsModel, compact: boolean): IColumn[] {
  const fixed: IColumn[] = [
    {
      id: 'run_name',
      label: 'Run',
      sortKey: 'attributes.run_name',
      kind: 'attribute',
      render: run =>
        run.run_name || (
          <span className="jp-mlops-muted">{run.run_id.slice(0, 8)}</span>
        ),
      title: run => `Run ${run.run_id}`
    },
    {
      id: 'status',
      label: 'Status',
      sortKey: 'attributes.status',
      kind: 'attribute',
      render: run => (
        <span
          className={`jp-mlops-Status jp-mlops-Status--${run.status.toLowerCase()}`}
        >
          {run.status.toLowerCase()}
        </span>
      )
    },
    {
      id: 'start_time',
      label: 'Started',
      sortKey: 'attributes.start_time',
      kind: 'attribute',
      render: run =>
        run.start_time ? Time.formatHuman(new Date(run.start_time)) : '—',
      title: run =>
        run.start_time ? Time.format(new Date(run.start_time)) : undefined
    }
  ];
  const keys: IColumn[] = model.keyColumns.map(column =>
    column.kind === 'metrics'
      ? {
          id: column.id,
          label: column.name,
          sortKey: searchKey('metrics', column.name),
          kind: 'metric',
          pinned: column.pinned,
          render: run => formatNumber(run.metrics[column.name]),
          title: run =>
            run.metrics[column.name] === undefined
              ? undefined
              : String(run.metrics[column.name])
        }
      : {
          id: column.id,
          label: column.name,
          sortKey: searchKey('params', column.name),
          kind: 'param',
          pinned: column.pinned,
          render: run => run.params[column.name] ?? '—',
          title: run => run.params[column.name]
        }
  );
  // The sidebar is narrow: the name and the first two chosen columns.
  return compact ? [fixed[0], ...keys.slice(0, 2)] : [...fixed, ...keys];
}

function SortHeader(props: {
  model: ExperimentsModel;
  column: IColumn;
}): JSX.Element {
  const { model, column } = props;
  const active = model.sort.key === column.sortKey;
  const direction = active ? model.sort.direction : null;
  return (
    <th
      className={
        `jp-mlops-RunsTable-th jp-mlops-RunsTable-th--${column.kind}` +
        (column.id === 'run_name' ? ' jp-mlops-RunsTable-name' : '') +
        (column.pinned ? ' jp-mod-pinned' : '')
      }
      data-column={column.id}
      aria-sort={
        direction === 'ASC'
          ? 'ascending'
          : direction === 'DESC'
            ? 'descending'
            : 'none'
      }
      scope="col"
    >
      <button
        type="button"
        className="jp-mlops-RunsTable-sort"
        title={`Sort by ${column.sortKey}`}
        onClick={() => void model.sortBy(column.sortKey)}
      >
        {column.kind !== 'attribute' && (
          <span className="jp-mlops-RunsTable-kind">
            {column.kind === 'metric' ? 'm' : 'p'}
          </span>
        )}
        <span className="jp-mlops-RunsTable-label">{column.label}</span>
        {column.pinned && (
          <span className="jp-mlops-RunsTable-pin" title="Pinned">
            pin
          </span>
        )}
        <span className="jp-mlops-RunsTable-arrow" aria-hidden="true">
          {direction === 'ASC' ? '▲' : direction === 'DESC' ? '▼' : ''}
        </span>
      </button>
    </th>
  );
}

/**
 * The runs of the chosen experiment: sortable headers, row checkboxes, one page at a time.
 * A click on a row opens the run's page; its checkbox selects it for comparison.
 */
export function RunsTable(props: {
  model: ExperimentsModel;
  /** Only the run name and two chosen columns (the sidebar). */
  compact?: boolean;
  onOpenRun?: (run: IRunSummary) => void;
}): JSX.Element {
  const { model, onOpenRun } = props;
  const compact = props.compact ?? false;
  if (model.experimentId === null) {
    return <Empty>Choose an experiment to see its runs.</Empty>;
  }
  if (model.runsStatus === 'error' && model.runsError) {
    return (
      <ErrorMessage
        title="Cannot load runs"
        error={model.runsError}
        onRetry={() => void model.refresh()}
      />
    );
  }
  const loading = model.runsStatus === 'loading' || model.runsStatus === 'idle';
  if (model.runs.length === 0) {
    if (loading) {
      return <Loading label="Loading runs…" />;
    }
    return (
      <Empty>
        {model.filter
          ? 'No runs match this filter.'
          : 'This experiment has no runs yet.'}
      </Empty>
    );
  }
  const cols = columns(model, compact);
  const pageSelected = model.runs.every(run => model.isSelected(run.run_id));
  const someSelected = model.runs.some(run => model.isSelected(run.run_id));
  return (
    <div
      className={
        'jp-mlops-RunsTable-scroll' + (loading ? ' jp-mod-loading' : '')
      }
      aria-busy={loading}
    >
      <table
        className={'jp-mlops-RunsTable' + (compact ? ' jp-mod-compact' : '')}
        aria-label="Runs"
      >
        <thead>
          <tr>
            <th className="jp-mlops-RunsTable-check" scope="col">
              <input
                type="checkbox"
                aria-label="Select all runs on this page"
                checked={pageSelected}
                ref={input => {
                  if (input) {
                    input.indeterminate = someSelected && !pageSelected;
                  }
                }}
                onChange={event => model.setPageSelected(event.target.checked)}
              />
            </th>
            {cols.map(column => (
              <SortHeader key={column.id} model={model} column={column} />
            ))}
          </tr>
        </thead>
        <tbody>
          {model.runs.map(run => {
            const selected = model.isSelected(run.run_id);
            return (
              <tr
                key={run.run_id}
                className={
                  'jp-mlops-RunsTable-row' +
                  (selected ? ' jp-mod-selected' : '')
                }
                data-run-id={run.run_id}
                title={
                  onOpenRun
                    ? 'Open this run (the checkbox selects it)'
                    : undefined
                }
                onClick={event => {
                  // A click on the row opens the run; the checkbox cell only selects.
                  const target = event.target as HTMLElement;
                  if (target.closest('.jp-mlops-RunsTable-check')) {
                    return;
                  }
                  if (onOpenRun) {
                    onOpenRun(run);
                  } else {
                    model.toggleRun(run);
                  }
                }}
              >
                <td
                  className="jp-mlops-RunsTable-check"
                  onClick={event => {
                    // A click beside the small box ticks it too.
                    if ((event.target as HTMLElement).tagName !== 'INPUT') {
                      model.toggleRun(run);
                    }
                  }}
                >
                  <input
                    type="checkbox"
                    aria-label={`Select run ${run.run_name || run.run_id}`}
                    checked={selected}
                    onChange={event =>
                      model.toggleRun(run, event.target.checked)
                    }
                  />
                </td>
                {cols.map(column => (
                  <td
                    key={column.id}
                    className={
                      `jp-mlops-RunsTable-td jp-mlops-RunsTable-td--${column.kind}` +
                      (column.id === 'run_name'
                        ? ' jp-mlops-RunsTable-name'
                        : '') +
                      (column.pinned ? ' jp-mod-pinned' : '')
                    }
                    title={column.title?.(run)}
                  >
                    {column.render(run)}
                  </td>
                ))}
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
