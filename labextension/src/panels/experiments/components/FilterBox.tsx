import * as React from 'react';

import { ExperimentsModel } from '../model';

const PLACEHOLDER =
  "Filter, e.g. metrics.accuracy > 0.8 and params.max_depth = '5'";

/**
 * The MLflow filter box: applied on Enter, Escape restores the applied filter. A filter the server
 * rejects is explained right under the box.
 */
export function FilterBox(props: { model: ExperimentsModel }): JSX.Element {
  const { model } = props;
  const [text, setText] = React.useState(model.filter);
  const error = model.filterError;
  const dirty = text.trim() !== model.filter;
  return (
    <div className="jp-mlops-FilterBox">
      <div className="jp-mlops-FilterBox-row">
        <input
          type="search"
          className={
            'jp-mlops-FilterBox-input' + (error ? ' jp-mod-invalid' : '')
          }
          placeholder={PLACEHOLDER}
          aria-label="Filter runs (MLflow search syntax, Enter to apply)"
          aria-invalid={error !== null}
          aria-describedby={error ? 'jp-mlops-filter-error' : undefined}
          spellCheck={false}
          value={text}
          onChange={event => setText(event.target.value)}
          onKeyDown={event => {
            if (event.key === 'Enter') {
              event.preventDefault();
              void model.applyFilter(text);
            } else if (event.key === 'Escape') {
              setText(model.filter);
            }
          }}
        />
      </div>
      {error ? (
        <div
          id="jp-mlops-filter-error"
          className="jp-mlops-FilterBox-error"
          role="alert"
        >
          {error.message}
          {error.hint && (
            <div className="jp-mlops-FilterBox-hint">{error.hint}</div>
          )}
        </div>
      ) : dirty ? (
        <div className="jp-mlops-FilterBox-help">Press Enter to apply.</div>
      ) : null}
    </div>
  );
}
