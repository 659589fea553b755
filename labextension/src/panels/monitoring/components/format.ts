import { Time } from '@jupyterlab/coreutils';

import { formatNumber } from '../../../components/status';

/** A share as a percentage, short: `0%`, `0.4%`, `12%`, `100%`. */
export function formatShare(value: number | null | undefined): string {
  if (value === null || value === undefined) {
    return '—';
  }
  const percent = value * 100;
  if (percent === 0 || percent >= 10) {
    return `${Math.round(percent)}%`;
  }
  return `${Number(percent.toPrecision(2))}%`;
}

/** Requests per second, short: `0`, `0.4`, `12.3`, `1,520`. */
export function formatRate(value: number | null | undefined): string {
  if (value === null || value === undefined) {
    return '—';
  }
  if (value >= 100) {
    return Math.round(value).toLocaleString();
  }
  return String(Number(value.toFixed(value >= 1 ? 1 : 2)));
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

/** A test statistic or p-value: compact, tiny p-values in exponent form. */
export function formatStatistic(value: number | null | undefined): string {
  return formatNumber(value);
}

/** "3 minutes ago" for an ISO time, with the full date for a tooltip. */
export function when(iso: string | null | undefined): {
  human: string;
  full: string;
} {
  if (!iso) {
    return { human: '—', full: '' };
  }
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) {
    return { human: iso, full: iso };
  }
  return { human: Time.formatHuman(date), full: Time.format(date) };
}

/** A duration in seconds as people say it: `30 s`, `5 min`, `2 h`, `1 d`. */
export function formatInterval(seconds: number): string {
  if (seconds < 60) {
    return `${Math.round(seconds)} s`;
  }
  if (seconds < 3600) {
    return `${Number((seconds / 60).toFixed(1))} min`;
  }
  if (seconds < 86400) {
    return `${Number((seconds / 3600).toFixed(1))} h`;
  }
  return `${Number((seconds / 86400).toFixed(1))} d`;
}
