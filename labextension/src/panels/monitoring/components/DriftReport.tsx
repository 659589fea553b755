import * as React from 'react';

import { IDriftReport, IFeatureDrift } from '../../../api';
import { Empty, ErrorMessage, Loading } from '../../../components/status';
import { DRIFT_WINDOWS, MonitoringModel } from '../model';
import { ShareBars, Sparkline } from './charts';
import { formatMs, formatShare, formatStatistic } from './format';

/** Choose with a click, Enter or Space. */
function activate(handler: () => void) {
  return {
    onClick: handler,
    onKeyDown: (event: React.KeyboardEvent) => {
      if (event.key === 'Enter' || event.key === ' ') {
        event.preventDefault();
        handler();
      }
    }
  };
}

const STATUS_LABELS: Record<IFeatureDrift['status'], string> = {
  ok: 'ok',
  drifted: 'drifted',
  missing_in_current: 'missing now',
  missing_in_reference: 'no reference',
  no_data: 'no data'
};

/** The trend of the checks: drift share, error rate and p95 latency, oldest first. */
function Trend(props: { model: MonitoringModel }): JSX.Element {
  const { model } = props;
  const checks = model.checks;
  if (model.checksStatus === 'error' && model.checksError) {
    return (
      <ErrorMessage title="Cannot read the checks" error={model.checksError} />
    );
  }
  if (checks.length === 0) {
    return model.checksStatus === 'ready' ? (
      <Empty>No checks yet: click Check now, or start the scheduler.</Empty>
    ) : (
      <Loading label="Loading checks…" />
    );
  }
  return (
    <div
      className="jp-mlops-Trend"
      aria-label={`Trend over ${checks.length} checks`}
    >
      <Sparkline
        name="drift-share"
        label="Drift share"
        values={checks.map(c => c.drift_share)}
        format={formatShare}
        floor={1}
      />
      <Sparkline
        name="error-rate"
        label="Error rate"
        values={checks.map(c => c.error_rate)}
        format={formatShare}
        floor={0.01}
      />
      <Sparkline
        name="p95"
        label="p95 latency"
        values={checks.map(c => c.latency_p95_ms)}
        format={v =>
          v === null || v === undefined ? '—' : `${formatMs(v)} ms`
        }
      />
    </div>
  );
}

function FeatureTable(props: {
  model: MonitoringModel;
  report: IDriftReport;
}): JSX.Element {
  const { model, report } = props;
  const chosen = model.feature?.feature ?? null;
  return (
    <div className="jp-mlops-TableScroll">
      <table className="jp-mlops-DriftTable" aria-label="Drift by feature">
        <thead>
          <tr>
            <th scope="col">Feature</th>
            <th scope="col">Test</th>
            <th scope="col" className="jp-mlops-number">
              Statistic
            </th>
            <th scope="col" className="jp-mlops-number">
              p-value
            </th>
            <th scope="col" className="jp-mlops-number">
              Threshold
            </th>
            <th scope="col">Status</th>
          </tr>
        </thead>
        <tbody>
          {report.features.map(f => {
            const selected = f.feature === chosen;
            return (
              <tr
                key={f.feature}
                data-feature={f.feature}
                data-status={f.status}
                tabIndex={0}
                aria-selected={selected}
                className={
                  'jp-mlops-DriftTable-row' +
                  (f.drifted ? ' jp-mod-drifted' : '') +
                  (selected ? ' jp-mod-selected' : '')
                }
                title={
                  [
                    f.message,
                    f.drifted_by.length > 0
                      ? `Fired: ${f.drifted_by.join(', ')}`
                      : null,
                    `${f.current_rows.toLocaleString()} rows now, ${f.reference_rows.toLocaleString()} in the reference`
                  ]
                    .filter(Boolean)
                    .join('\n') || undefined
                }
                {...activate(() => model.selectFeature(f.feature))}
              >
                <td className="jp-mlops-DriftTable-feature">{f.feature}</td>
                <td>{f.test ?? '—'}</td>
                <td className="jp-mlops-number">
                  {formatStatistic(f.statistic)}
                </td>
                <td className="jp-mlops-number">
                  {formatStatistic(f.p_value)}
                </td>
                <td className="jp-mlops-number">
                  {formatStatistic(f.threshold)}
                </td>
                <td>
                  <span
                    className={`jp-mlops-Badge jp-mlops-DriftStatus jp-mlops-DriftStatus--${f.status}`}
                  >
                    {STATUS_LABELS[f.status] ?? f.status}
                  </span>
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

function FeatureChart(props: { feature: IFeatureDrift | null }): JSX.Element {
  const { feature } = props;
  if (feature === null) {
    return <Empty>No feature of this report has a chart.</Empty>;
  }
  return (
    <div className="jp-mlops-FeatureChart">
      <div className="jp-mlops-Chart-title">
        {feature.feature}
        <span className="jp-mlops-muted">
          {' '}
          {feature.kind ?? ''}
          {feature.test ? ` · ${feature.test}` : ''}
          {feature.drifted_by.length > 0
            ? ` · drifted by ${feature.drifted_by.join(', ')}`
            : ''}
        </span>
      </div>
      {feature.chart ? (
        <ShareBars
          feature={feature.feature}
          chart={feature.chart}
          drifted={feature.drifted}
        />
      ) : (
        <Empty>{feature.message ?? 'No chart for this feature.'}</Empty>
      )}
    </div>
  );
}

function ReportBody(props: { model: MonitoringModel }): JSX.Element {
  const { model } = props;
  if (model.driftStatus === 'error' && model.driftError) {
    return (
      <ErrorMessage
        title="Cannot compute the drift report"
        error={model.driftError}
        onRetry={() => void model.refresh()}
      />
    );
  }
  const report = model.drift;
  if (report === null) {
    return <Loading label="Computing the drift report…" />;
  }
  const tested = report.features.filter(
    f => f.status === 'ok' || f.status === 'drifted'
  ).length;
  return (
    <div
      className="jp-mlops-DriftReport"
      aria-busy={model.driftStatus === 'loading'}
    >
      <div className="jp-mlops-DriftSummary" data-status={report.status}>
        <span
          className={`jp-mlops-Badge jp-mlops-DriftStatus jp-mlops-DriftStatus--${report.status}`}
        >
          {report.status === 'no_data' ? 'no data' : report.status}
        </span>
        <span data-figure="report-drift-share">
          {report.drift_share === null || report.drift_share === undefined
            ? 'no feature tested'
            : `${report.drifted.length} of ${tested} features drifted (${formatShare(report.drift_share)})`}
        </span>
      </div>
      <div className="jp-mlops-muted jp-mlops-DriftSummary-rows">
        {report.current_rows.toLocaleString()} rows in the window vs{' '}
        {report.reference_rows.toLocaleString()} in the reference
        {report.reference_source ? ` (${report.reference_source})` : ''};
        p-value checks at {formatStatistic(report.check_alpha)} (α{' '}
        {formatStatistic(report.alpha)})
      </div>
      {report.message && (
        <div className="jp-mlops-DriftReport-message">{report.message}</div>
      )}
      {report.features.length > 0 && (
        <>
          <FeatureTable model={model} report={report} />
          <FeatureChart feature={model.feature} />
        </>
      )}
    </div>
  );
}

/** The chosen deployment: the trend of its checks and its drift report with charts. */
export function DriftReportView(props: {
  model: MonitoringModel;
}): JSX.Element | null {
  const { model } = props;
  const name = model.selected;
  if (name === null) {
    return null;
  }
  const status = model.selectedStatus;
  return (
    <section
      className="jp-mlops-MonitorDetail"
      aria-label={`Drift report of ${name}`}
      data-deployment={name}
    >
      <div className="jp-mlops-Models-heading">
        <span>
          {name} <span className="jp-mlops-muted">drift report and checks</span>
        </span>
        <button
          type="button"
          className="jp-mlops-Button jp-mlops-Button--link"
          title="Close the drift report"
          onClick={() => void model.select(null)}
        >
          Close
        </button>
      </div>
      <Trend model={model} />
      <div className="jp-mlops-DriftToolbar">
        <label className="jp-mlops-DriftToolbar-window">
          Window{' '}
          <select
            value={model.window}
            onChange={event => void model.setWindow(event.target.value)}
          >
            {DRIFT_WINDOWS.map(w => (
              <option key={w} value={w}>
                {w === ''
                  ? `configured${status ? ` (${status.window})` : ''}`
                  : `last ${w}`}
              </option>
            ))}
          </select>
        </label>
        <button
          type="button"
          className="jp-mlops-Button jp-mlops-Button--link"
          disabled={model.driftStatus === 'loading'}
          title="Compute the drift report again"
          onClick={() => void model.refresh()}
        >
          Recompute
        </button>
      </div>
      <ReportBody model={model} />
    </section>
  );
}
