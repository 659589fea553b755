import * as React from 'react';

import { MlopsApiError } from '../api';

/** An error with the server's message and hint, and an optional retry. */
export function ErrorMessage(props: {
  error: MlopsApiError;
  title?: string;
  onRetry?: () => void;
}): JSX.Element {
  const { error, title, onRetry } = props;
  return (
    <div className="jp-mlops-Error" role="alert">
      {title && <div className="jp-mlops-Error-title">{title}</div>}
      <div className="jp-mlops-Error-message">{error.message}</div>
      {error.hint && <div className="jp-mlops-Error-hint">{error.hint}</div>}
      {onRetry && (
        <button
          type="button"
          className="jp-mlops-Button jp-mlops-Button--link"
          onClick={onRetry}
        >
          Retry
        </button>
      )}
    </div>
  );
}

/** A loading line; `aria-busy` lets tests and screen readers wait on it. */
export function Loading(props: { label?: string }): JSX.Element {
  return (
    <div className="jp-mlops-Loading" aria-busy="true">
      <span className="jp-mlops-Spinner" aria-hidden="true" />
      {props.label ?? 'Loading…'}
    </div>
  );
}

/** A message where there is nothing to show yet. */
export function Empty(props: { children: React.ReactNode }): JSX.Element {
  return <div className="jp-mlops-Empty">{props.children}</div>;
}

/** Format a metric value compactly: at most 4 significant decimals, full value in `title`. */
export function formatNumber(value: number | null | undefined): string {
  if (value === null || value === undefined) {
    return '—';
  }
  if (!Number.isFinite(value)) {
    return String(value);
  }
  if (Number.isInteger(value)) {
    return String(value);
  }
  const abs = Math.abs(value);
  if (abs !== 0 && (abs < 1e-3 || abs >= 1e6)) {
    return value.toExponential(3);
  }
  return String(Number(value.toPrecision(4)));
}
