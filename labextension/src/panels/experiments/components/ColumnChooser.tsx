import * as React from 'react';

import { ExperimentsModel, keyColumn } from '../model';

/** A column of the draft: shown or not, pinned or not. */
interface IDraftColumn {
  id: string;
  shown: boolean;
  pinned: boolean;
}

function draftOf(model: ExperimentsModel): IDraftColumn[] {
  const choice = model.columnChoice;
  if (!choice) {
    return [];
  }
  const pinned = new Set(choice.pinned);
  const shown = choice.columns.map(id => ({
    id,
    shown: true,
    pinned: pinned.has(id)
  }));
  const rest = choice.available
    .filter(id => !choice.columns.includes(id))
    .map(id => ({ id, shown: false, pinned: false }));
  return [...shown, ...rest];
}

const SOURCE_LABEL = {
  saved: 'your saved choice',
  declared: 'the params and metrics the runs declared',
  auto: 'picked from what the runs logged'
};

/**
 * Choose, pin and reorder the runs table's params and metrics. Applied, the choice is saved in
 * the workspace for this experiment (and `jupyter mlops runs` uses it too).
 */
export function ColumnChooser(props: {
  model: ExperimentsModel;
  onClose: () => void;
}): JSX.Element {
  const { model, onClose } = props;
  const [draft, setDraft] = React.useState<IDraftColumn[]>(() =>
    draftOf(model)
  );
  const [filter, setFilter] = React.useState('');
  const choice = model.columnChoice;

  const update = (id: string, change: Partial<IDraftColumn>) =>
    setDraft(items =>
      items.map(item => {
        if (item.id !== id) {
          return item;
        }
        const next = { ...item, ...change };
        // A pinned column is shown; a hidden one is not pinned.
        if (change.pinned) {
          next.shown = true;
        }
        if (change.shown === false) {
          next.pinned = false;
        }
        return next;
      })
    );
  const move = (id: string, by: number) =>
    setDraft(items => {
      const index = items.findIndex(item => item.id === id);
      const target = index + by;
      if (index < 0 || target < 0 || target >= items.length) {
        return items;
      }
      const copy = [...items];
      [copy[index], copy[target]] = [copy[target], copy[index]];
      return copy;
    });

  const apply = () => {
    const shown = draft.filter(item => item.shown);
    const pinned = shown.filter(item => item.pinned).map(item => item.id);
    // Closed at once: the table shows the choice when the server has it; a refusal is shown
    // above the table (model.columnsError).
    void model.saveColumns(
      shown.map(item => item.id),
      pinned
    );
    onClose();
  };

  const needle = filter.trim().toLowerCase();
  const visible = draft.filter(
    item => needle === '' || item.id.toLowerCase().includes(needle)
  );
  return (
    <div
      className="jp-mlops-ColumnChooser"
      role="dialog"
      aria-label="Choose columns"
    >
      <div className="jp-mlops-ColumnChooser-head">
        <strong>Columns</strong>
        {choice && (
          <span className="jp-mlops-muted">
            now: {SOURCE_LABEL[choice.source]}
          </span>
        )}
      </div>
      <input
        type="search"
        className="jp-mlops-ColumnChooser-filter"
        placeholder="Find a param or metric"
        aria-label="Find a column"
        value={filter}
        onChange={event => setFilter(event.target.value)}
      />
      <ul className="jp-mlops-ColumnChooser-list">
        {visible.map(item => {
          const column = keyColumn(item.id);
          const label = column ? column.name : item.id;
          return (
            <li
              key={item.id}
              className={
                'jp-mlops-ColumnChooser-item' +
                (item.shown ? ' jp-mod-shown' : '')
              }
              data-column={item.id}
            >
              <label>
                <input
                  type="checkbox"
                  checked={item.shown}
                  aria-label={`Show ${item.id}`}
                  onChange={event =>
                    update(item.id, { shown: event.target.checked })
                  }
                />
                <span className="jp-mlops-RunsTable-kind">
                  {column?.kind === 'metrics' ? 'm' : 'p'}
                </span>
                {label}
              </label>
              <span className="jp-mlops-ColumnChooser-actions">
                <button
                  type="button"
                  className={
                    'jp-mlops-Button jp-mlops-Button--small' +
                    (item.pinned ? ' jp-mod-active' : '')
                  }
                  aria-pressed={item.pinned}
                  aria-label={`Pin ${item.id}`}
                  title="Keep at the left"
                  onClick={() => update(item.id, { pinned: !item.pinned })}
                >
                  Pin
                </button>
                <button
                  type="button"
                  className="jp-mlops-Button jp-mlops-Button--small"
                  aria-label={`Move ${item.id} up`}
                  onClick={() => move(item.id, -1)}
                >
                  ↑
                </button>
                <button
                  type="button"
                  className="jp-mlops-Button jp-mlops-Button--small"
                  aria-label={`Move ${item.id} down`}
                  onClick={() => move(item.id, 1)}
                >
                  ↓
                </button>
              </span>
            </li>
          );
        })}
      </ul>
      <div className="jp-mlops-ColumnChooser-foot">
        <button
          type="button"
          className="jp-mlops-Button jp-mlops-Button--link"
          onClick={() => {
            void model.resetColumns().then(() => setDraft(draftOf(model)));
          }}
        >
          Reset to default
        </button>
        <button type="button" className="jp-mlops-Button" onClick={onClose}>
          Cancel
        </button>
        <button
          type="button"
          className="jp-mlops-Button jp-mlops-Button--accept"
          onClick={apply}
        >
          Apply
        </button>
      </div>
    </div>
  );
}
