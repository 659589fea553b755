import { PageConfig, Time } from '@jupyterlab/coreutils';

import { IDeploymentInfo, IModelVersionInfo } from '../../api';

/** Most metric columns in the versions table. */
export const MAX_VERSION_METRICS = 3;

/** Metrics shown first when a model has them; the rest follow by name. */
const PREFERRED_METRICS = [
  'roc_auc',
  'auc',
  'accuracy',
  'f1',
  'rmse',
  'mae',
  'r2',
  'log_loss'
];

/** The metric columns of a versions table: the well-known ones first, at most a few. */
export function keyMetrics(
  versions: ReadonlyArray<IModelVersionInfo>
): string[] {
  const names = new Set<string>();
  versions.forEach(v => Object.keys(v.metrics).forEach(n => names.add(n)));
  const rank = (name: string) => {
    const index = PREFERRED_METRICS.indexOf(name);
    return index < 0 ? PREFERRED_METRICS.length : index;
  };
  return Array.from(names)
    .sort((a, b) => rank(a) - rank(b) || a.localeCompare(b))
    .slice(0, MAX_VERSION_METRICS);
}

/** "3 minutes ago", with the full date for a tooltip. */
export function when(ms: number): { human: string; full: string } {
  if (!ms) {
    return { human: '—', full: '' };
  }
  const date = new Date(ms);
  return { human: Time.formatHuman(date), full: Time.format(date) };
}

/**
 * A notebook path relative to the Jupyter server's root, to open it in JupyterLab; null when it
 * lies outside (then it is only shown).
 */
export function serverPath(path: string): string | null {
  if (!path.startsWith('/')) {
    return path;
  }
  const root = PageConfig.getOption('serverRoot').replace(/\/+$/, '');
  if (root && !root.startsWith('~') && path.startsWith(`${root}/`)) {
    return path.slice(root.length + 1);
  }
  return null;
}

/**
 * `churn v2`, or `churn v2 90% · churn v3 10%` for a split. Weights are relative (an A/B test's
 * are percentages, a plain split's may be fractions): each is shown as its share of the sum.
 */
export function servedVersions(deployment: IDeploymentInfo): string {
  const split = deployment.serving.length > 1;
  const total = deployment.serving.reduce((sum, s) => sum + s.weight, 0);
  return deployment.serving
    .map(
      s =>
        `${s.name} v${s.version}` +
        (split && total > 0 ? ` ${Math.round((s.weight / total) * 100)}%` : '')
    )
    .join(' · ');
}

/** A rate with a unit that stays short: `0`, `0.4`, `12.3`, `1,520`. */
export function formatRate(value: number | null | undefined): string {
  if (value === null || value === undefined) {
    return '—';
  }
  if (value >= 100) {
    return Math.round(value).toLocaleString();
  }
  return String(Number(value.toFixed(1)));
}

/** Milliseconds, short: `0.42`, `3.1`, `120`. */
export function formatMs(value: number | null | undefined): string {
  if (value === null || value === undefined) {
    return '—';
  }
  if (value >= 100) {
    return String(Math.round(value));
  }
  return String(Number(value.toPrecision(2)));
}
