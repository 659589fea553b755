import { Dialog, showDialog } from '@jupyterlab/apputils';
import * as React from 'react';

import {
  AbWinner,
  IAbAnalysis,
  IAbExperiment,
  IAbStatus,
  IDeploymentInfo,
  IVariantGuardrail
} from '../../../api';
import {
  ErrorMessage,
  formatNumber,
  Loading
} from '../../../components/status';
import { AbTests } from '../abtest';
import { formatMs } from '../format';

const VARIANTS: AbWinner[] = ['champion', 'challenger'];

/** A p-value, short: `0.032`, `4.1e-5`, `< 1e-10`. */
export function formatP(p: number): string {
  if (p < 1e-10) {
    return '< 1e-10';
  }
  if (p < 1e-3) {
    return p.toExponential(1);
  }
  return String(Number(p.toPrecision(2)));
}

/** A rate as a percent (`12.5%`), or a mean as a number. */
function formatMean(value: number, kind: IAbAnalysis['kind']): string {
  return kind === 'binary'
    ? `${(value * 100).toFixed(1)}%`
    : formatNumber(value);
}

/** A difference: percentage points for rates, the outcome's unit for means; signed. */
function formatDiff(value: number, kind: IAbAnalysis['kind']): string {
  const sign = value > 0 ? '+' : value < 0 ? '−' : '';
  const abs = Math.abs(value);
  return kind === 'binary'
    ? `${sign}${(abs * 100).toFixed(1)} pp`
    : `${sign}${formatNumber(abs)}`;
}

function formatShare(value: number | null | undefined): string {
  if (value === null || value === undefined) {
    return '—';
  }
  return `${(value * 100).toFixed(1)}%`;
}

function splitText(exp: IAbExperiment): string {
  return exp.shadow
    ? 'shadow: the challenger gets copies, the champion answers'
    : `${exp.split[0]}% / ${exp.split[1]}%`;
}

/** Ask, then end the test with `winner`. */
async function decide(
  abtests: AbTests,
  exp: IAbExperiment,
  winner: AbWinner
): Promise<void> {
  const version = winner === 'challenger' ? exp.challenger : exp.champion;
  const label = winner === 'challenger' ? 'Challenger wins' : 'Champion wins';
  const result = await showDialog({
    title: `End the A/B test of ${exp.deployment}?`,
    body:
      winner === 'challenger'
        ? `${exp.model} v${exp.challenger} will serve ${exp.deployment} alone and ` +
          `become @champion (now v${exp.champion}). The decision and the figures are ` +
          'recorded on both versions.'
        : `${exp.model} v${exp.champion} keeps serving ${exp.deployment} alone; ` +
          `v${exp.challenger} stops. The decision and the figures are recorded on both ` +
          'versions.',
    buttons: [
      Dialog.cancelButton(),
      Dialog.warnButton({ label, ariaLabel: `${label}: v${version}` })
    ]
  });
  if (result.button.accept) {
    await abtests.stop(exp.deployment, winner);
  }
}

function Verdict(props: { analysis: IAbAnalysis }): JSX.Element {
  const c = props.analysis.comparisons[0];
  const tone =
    c.verdict === 'challenger_better'
      ? 'better'
      : c.verdict === 'challenger_worse'
        ? 'worse'
        : 'open';
  return (
    <div
      className={`jp-mlops-AbTest-verdict jp-mlops-AbTest-verdict--${tone}`}
      data-verdict={c.verdict}
      role="status"
      title="The sequential test's verdict: valid however often the figures are looked at"
    >
      {c.verdict_text}
    </div>
  );
}

function Statistics(props: { analysis: IAbAnalysis }): JSX.Element {
  const { analysis } = props;
  const c = analysis.comparisons[0];
  const e = c.effect;
  const level = `${Math.round((1 - c.alpha) * 100)}%`;
  const relative =
    e.relative !== null
      ? ` (${e.relative > 0 ? '+' : ''}${(e.relative * 100).toFixed(1)}%)`
      : '';
  return (
    <dl className="jp-mlops-AbTest-stats">
      <dt>Effect of the challenger</dt>
      <dd data-figure="effect">
        {formatDiff(e.absolute, analysis.kind)}
        {relative}
        <span className="jp-mlops-AbTest-interval">
          {' '}
          always-valid {level} interval [
          {formatDiff(e.absolute_low, analysis.kind)},{' '}
          {formatDiff(e.absolute_high, analysis.kind)}]
        </span>
      </dd>
      <dt>Sequential p</dt>
      <dd data-figure="sequential-p">
        {formatP(c.sequential.p_value)}
        <span className="jp-mlops-AbTest-note"> (the verdict)</span>
      </dd>
      <dt>Fixed-horizon p</dt>
      <dd data-figure="fixed-p">{formatP(c.fixed_horizon.p_value)}*</dd>
      {c.bayes && (
        <>
          <dt>P(challenger better)</dt>
          <dd data-figure="bayes">{c.bayes.probability_better.toFixed(3)}</dd>
        </>
      )}
    </dl>
  );
}

function VariantsTable(props: {
  status: IAbStatus;
  analysis: IAbAnalysis | null;
}): JSX.Element {
  const { status, analysis } = props;
  const exp = status.experiment;
  const guard = new Map<string, IVariantGuardrail>(
    status.guardrails.map(g => [g.variant, g])
  );
  const summary = new Map(analysis?.variants.map(v => [v.name, v]) ?? []);
  const unit = status.unit === 'key' ? 'users' : 'requests';
  return (
    <div className="jp-mlops-TableScroll">
      <table
        className="jp-mlops-AbTest-variants"
        aria-label={`Variants of ${exp.deployment}`}
      >
        <thead>
          <tr>
            <th scope="col">Variant</th>
            <th
              scope="col"
              className="jp-mlops-number"
              title={`Assigned ${unit}`}
            >
              {unit}
            </th>
            <th
              scope="col"
              className="jp-mlops-number"
              title={`With an outcome (${exp.metric})`}
            >
              outcomes
            </th>
            <th scope="col" className="jp-mlops-number">
              {exp.kind === 'binary' ? 'rate' : 'mean'}
            </th>
            <th
              scope="col"
              className="jp-mlops-number"
              title="Guardrail: share of requests that failed"
            >
              errors
            </th>
            <th
              scope="col"
              className="jp-mlops-number"
              title="Guardrail: 95th percentile latency"
            >
              p95 ms
            </th>
          </tr>
        </thead>
        <tbody>
          {VARIANTS.map(variant => {
            const g = guard.get(variant);
            const s = summary.get(variant);
            const version =
              variant === 'champion' ? exp.champion : exp.challenger;
            return (
              <tr key={variant} data-variant={variant}>
                <th scope="row">
                  {variant}{' '}
                  <span className="jp-mlops-AbTest-version">v{version}</span>
                </th>
                <td className="jp-mlops-number" data-figure="assigned">
                  {(status.assigned[variant] ?? 0).toLocaleString()}
                </td>
                <td className="jp-mlops-number" data-figure="with-outcome">
                  {(status.with_outcome[variant] ?? 0).toLocaleString()}
                </td>
                <td className="jp-mlops-number" data-figure="mean">
                  {s ? formatMean(s.mean, exp.kind) : '—'}
                </td>
                <td
                  className="jp-mlops-number"
                  data-figure="error-rate"
                  title={
                    g ? `${g.errors} of ${g.requests} requests` : undefined
                  }
                >
                  {formatShare(g?.error_rate)}
                </td>
                <td
                  className="jp-mlops-number"
                  data-figure="p95"
                  title={
                    g?.latency_p50_ms !== null &&
                    g?.latency_p50_ms !== undefined
                      ? `p50 ${formatMs(g.latency_p50_ms)} ms`
                      : undefined
                  }
                >
                  {formatMs(g?.latency_p95_ms)}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

/** A running test: who plays, the verdict, the figures, and the decision buttons. */
function RunningTest(props: {
  abtests: AbTests;
  exp: IAbExperiment;
}): JSX.Element {
  const { abtests, exp } = props;
  const view = abtests.view(exp.deployment);
  const action = abtests.action(exp.deployment);
  const busy = action?.status === 'busy';
  const status = view?.status ?? null;
  const analysis = status?.analysis ?? null;
  return (
    <section
      className="jp-mlops-AbTest"
      aria-label={`A/B test of ${exp.deployment}`}
      data-abtest={exp.id}
    >
      <div className="jp-mlops-AbTest-header">
        <span className="jp-mlops-Badge jp-mlops-Badge--abtest">A/B test</span>
        <span className="jp-mlops-AbTest-players">
          champion <b>v{exp.champion}</b> vs challenger <b>v{exp.challenger}</b>
        </span>
      </div>
      <div className="jp-mlops-AbTest-meta">
        <span
          data-figure="split"
          title="Champion / challenger share of requests"
        >
          split {splitText(exp)}
        </span>
        <span>
          {exp.sticky_key ? `sticky by ${exp.sticky_key}` : 'random assignment'}
        </span>
        <span title="The outcome the test compares">
          {exp.metric} ({exp.kind})
        </span>
      </div>
      {status === null && view?.loadStatus !== 'error' && (
        <Loading label="Reading the test…" />
      )}
      {view?.loadStatus === 'error' && view.error && (
        <ErrorMessage title="Cannot read the A/B test" error={view.error} />
      )}
      {analysis && <Verdict analysis={analysis} />}
      {status?.message && (
        <div className="jp-mlops-AbTest-message">{status.message}</div>
      )}
      {status && <VariantsTable status={status} analysis={analysis} />}
      {analysis && <Statistics analysis={analysis} />}
      {analysis?.srm.mismatch && (
        <div className="jp-mlops-AbTest-srm" role="alert">
          <b>Sample-ratio mismatch:</b> {analysis.srm.message}
        </div>
      )}
      {analysis && (
        <div className="jp-mlops-AbTest-peeking">
          * {analysis.peeking_warning}
        </div>
      )}
      <div className="jp-mlops-AbTest-actions">
        <button
          type="button"
          className="jp-mlops-Button jp-mlops-Button--accept"
          disabled={busy}
          title={`v${exp.challenger} serves alone and becomes @champion`}
          onClick={() => void decide(abtests, exp, 'challenger')}
        >
          Challenger wins
        </button>
        <button
          type="button"
          className="jp-mlops-Button"
          disabled={busy}
          title={`v${exp.champion} keeps serving alone`}
          onClick={() => void decide(abtests, exp, 'champion')}
        >
          Champion wins
        </button>
      </div>
      {busy && <Loading label={action.label} />}
      {action?.status === 'error' && action.error && (
        <ErrorMessage title={action.label} error={action.error} />
      )}
    </section>
  );
}

/** The compact form that starts a test against the deployment's one served version. */
function StartForm(props: {
  abtests: AbTests;
  deployment: IDeploymentInfo;
}): JSX.Element {
  const { abtests, deployment } = props;
  const served = deployment.serving[0];
  const versions = abtests.versions(served.name);
  const choices = (versions ?? []).filter(v => v.version !== served.version);
  const [challenger, setChallenger] = React.useState<number | null>(null);
  const [share, setShare] = React.useState('10');
  const [stickyKey, setStickyKey] = React.useState('');
  const [shadow, setShadow] = React.useState(false);
  const action = abtests.action(deployment.name);
  const busy = action?.status === 'busy';
  const chosen = challenger ?? choices[0]?.version ?? null;
  const percent = Number(share);
  const shareValid =
    shadow || (share.trim() !== '' && percent > 0 && percent < 100);
  const submit = () => {
    if (chosen === null || !shareValid) {
      return;
    }
    void abtests.start(deployment.name, {
      challenger: chosen,
      split: shadow ? [100, 0] : [100 - percent, percent],
      sticky_key: stickyKey.trim() || null,
      shadow
    });
  };
  return (
    <section
      className="jp-mlops-AbTest jp-mlops-AbTest--form"
      aria-label={`Start an A/B test on ${deployment.name}`}
    >
      <div className="jp-mlops-AbTest-header">
        <span className="jp-mlops-AbTest-players">
          Start an A/B test: champion <b>v{served.version}</b> against
        </span>
      </div>
      {versions === null ? (
        <Loading label={`Loading the versions of ${served.name}…`} />
      ) : choices.length === 0 ? (
        <div className="jp-mlops-AbTest-message">
          {served.name} has no other version to test. Register one first.
        </div>
      ) : (
        <form
          className="jp-mlops-AbTest-form"
          onSubmit={event => {
            event.preventDefault();
            submit();
          }}
        >
          <label className="jp-mlops-Field">
            <span>Challenger</span>
            <select
              className="jp-mlops-Select"
              aria-label="Challenger version"
              value={chosen ?? ''}
              onChange={event => setChallenger(Number(event.target.value))}
            >
              {choices.map(v => (
                <option key={v.version} value={v.version}>
                  v{v.version}
                  {v.aliases.length ? ` @${v.aliases.join(' @')}` : ''}
                </option>
              ))}
            </select>
          </label>
          <label className="jp-mlops-Field">
            <span>Challenger %</span>
            <input
              type="number"
              min={1}
              max={99}
              step="any"
              className={
                'jp-mlops-FilterBox-input' +
                (shareValid ? '' : ' jp-mod-invalid')
              }
              aria-label="Challenger percent"
              title="The challenger's share of the requests; the champion gets the rest"
              disabled={shadow}
              value={share}
              onChange={event => setShare(event.target.value)}
            />
          </label>
          <label className="jp-mlops-Field">
            <span>Sticky key (optional)</span>
            <input
              type="text"
              className="jp-mlops-FilterBox-input"
              aria-label="Sticky key"
              placeholder="user_id"
              title="An input column (or the x-sticky-key header) that keeps a user in one variant"
              spellCheck={false}
              value={stickyKey}
              onChange={event => setStickyKey(event.target.value)}
            />
          </label>
          <label
            className="jp-mlops-AbTest-check"
            title="The challenger gets a copy of each request; only the champion answers"
          >
            <input
              type="checkbox"
              aria-label="Shadow"
              checked={shadow}
              onChange={event => setShadow(event.target.checked)}
            />
            Shadow
          </label>
          <div className="jp-mlops-AbTest-actions">
            <button
              type="submit"
              className="jp-mlops-Button jp-mlops-Button--accept"
              disabled={busy || chosen === null || !shareValid}
            >
              Start
            </button>
            <button
              type="button"
              className="jp-mlops-Button jp-mlops-Button--link"
              onClick={() => abtests.close(deployment.name)}
            >
              Cancel
            </button>
          </div>
        </form>
      )}
      {busy && <Loading label={action.label} />}
      {action?.status === 'error' && action.error && (
        <ErrorMessage title={action.label} error={action.error} />
      )}
    </section>
  );
}

/**
 * The A/B part of a deployment card: the running test's view, or the "Start A/B test" form when
 * opened, or what the last decision did.
 */
export function AbTestView(props: {
  abtests: AbTests;
  deployment: IDeploymentInfo;
  live: boolean;
}): JSX.Element | null {
  const { abtests, deployment, live } = props;
  const running = abtests.running(deployment.name);
  const action = abtests.action(deployment.name);
  if (running) {
    return <RunningTest abtests={abtests} exp={running} />;
  }
  if (
    live &&
    abtests.isOpen(deployment.name) &&
    deployment.serving.length === 1
  ) {
    return <StartForm abtests={abtests} deployment={deployment} />;
  }
  if (action?.status === 'done') {
    return (
      <div className="jp-mlops-AbTest-decided" role="status">
        {action.label}
      </div>
    );
  }
  if (action?.status === 'error' && action.error) {
    return <ErrorMessage title={action.label} error={action.error} />;
  }
  return null;
}

/** The card's "Start A/B test" button: only on a live deployment serving one version. */
export function canStartAbTest(
  abtests: AbTests,
  deployment: IDeploymentInfo,
  live: boolean
): boolean {
  return (
    live &&
    deployment.serving.length === 1 &&
    abtests.running(deployment.name) === null &&
    !abtests.isOpen(deployment.name)
  );
}
