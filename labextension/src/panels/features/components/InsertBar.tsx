import * as React from 'react';

import { FeaturesModel } from '../model';

/**
 * The ticked features and the "Insert code" button, with what the last insert did (inserted,
 * or copied to the clipboard because no notebook is open).
 */
export function InsertBar(props: {
  model: FeaturesModel;
  onInsert: () => void;
}): JSX.Element {
  const { model, onInsert } = props;
  const count = model.selection.length;
  const outcome = model.insertOutcome;
  return (
    <div className="jp-mlops-InsertBar">
      <div className="jp-mlops-InsertBar-row">
        <span
          className="jp-mlops-InsertBar-count"
          title={model.selection.join('\n')}
        >
          {count === 0
            ? 'Tick features to build a training frame'
            : `${count} feature${count === 1 ? '' : 's'} ticked`}
        </span>
        {count > 0 && (
          <span
            className="jp-mlops-InsertBar-refs"
            title={model.selection.join('\n')}
          >
            {model.selection.join(', ')}
          </span>
        )}
        {count > 0 && (
          <button
            type="button"
            className="jp-mlops-Button jp-mlops-Button--link"
            onClick={() => model.clearSelection()}
          >
            Clear
          </button>
        )}
        <button
          type="button"
          className="jp-mlops-Button jp-mlops-Button--accept"
          disabled={count === 0}
          title={
            count === 0
              ? 'Tick features first'
              : 'Insert get_training_frame code for the ticked features below the active cell of the current notebook'
          }
          onClick={onInsert}
        >
          Insert code
        </button>
      </div>
      {outcome && (
        <div
          className={`jp-mlops-InsertBar-outcome jp-mod-${outcome.kind}`}
          role={outcome.kind === 'inserted' ? 'status' : 'alert'}
        >
          {outcome.message}
          {outcome.code && (
            <pre className="jp-mlops-InsertBar-code">{outcome.code}</pre>
          )}
        </div>
      )}
    </div>
  );
}
