/** Formatting of feature-store values for the panel. */

/** A feature reference: `view:feature` for the latest version, `view:vN:feature` pinned. */
export function featureRef(
  view: string,
  feature: string,
  version: number | null = null
): string {
  return version === null
    ? `${view}:${feature}`
    : `${view}:v${version}:${feature}`;
}

/** Split a reference made by `featureRef` into its view and feature names. */
export function parseRef(ref: string): { view: string; feature: string } {
  const parts = ref.split(':');
  return { view: parts[0], feature: parts[parts.length - 1] };
}

/** A TTL in the shortest `30d` form the Python side uses; null means no expiry. */
export function formatTtl(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) {
    return 'none (never expires)';
  }
  const whole = Math.round(seconds);
  for (const [unit, size] of [
    ['d', 86400],
    ['h', 3600],
    ['m', 60]
  ] as const) {
    if (whole % size === 0) {
      return `${whole / size}${unit}`;
    }
  }
  return `${whole}s`;
}

/** A duration readable at a glance: `45 s`, `12 min`, `5 h`, `3 days`. */
export function formatAge(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) {
    return '—';
  }
  const abs = Math.abs(seconds);
  const sign = seconds < 0 ? '-' : '';
  if (abs < 90) {
    return `${sign}${Math.round(abs)} s`;
  }
  if (abs < 90 * 60) {
    return `${sign}${Math.round(abs / 60)} min`;
  }
  if (abs < 48 * 3600) {
    return `${sign}${Math.round(abs / 3600)} h`;
  }
  return `${sign}${Math.round(abs / 86400)} days`;
}

/**
 * An ISO timestamp as the server sent it, shortened: `2026-03-01 12:00:00` (+ its offset when it
 * has one). The server's time zone rule applies, so the text is never converted to local time.
 */
export function formatTimestamp(iso: string | null | undefined): string {
  if (!iso) {
    return '—';
  }
  const match =
    /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.\d+)?(Z|[+-]\d{2}:?\d{2})?$/.exec(
      iso
    );
  if (!match) {
    return iso;
  }
  const zone =
    match[3] === undefined
      ? ''
      : match[3] === 'Z' || match[3] === '+00:00'
        ? ' UTC'
        : ` ${match[3]}`;
  return `${match[1]} ${match[2]}${zone}`;
}

/** Milliseconds since the epoch as a short local date and time. */
export function formatEpochMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) {
    return '—';
  }
  const date = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

/** A null rate as a percentage. */
export function formatRate(rate: number | null | undefined): string {
  if (rate === null || rate === undefined) {
    return '—';
  }
  if (rate === 0) {
    return '0%';
  }
  const percent = rate * 100;
  return percent < 0.1 ? '<0.1%' : `${Number(percent.toPrecision(3))}%`;
}
