import * as React from 'react';

import { IFeatureViewSummary } from '../../../api';
import { Empty, ErrorMessage, Loading } from '../../../components/status';
import { FeaturesModel, Freshness, SEARCH_DELAY_MS } from '../model';
import { InsertBar } from './InsertBar';

/** Search as you type (after a short pause); Escape clears. */
function SearchBox(props: { model: FeaturesModel }): JSX.Element {
  const { model } = props;
  const [text, setText] = React.useState(model.search);
  React.useEffect(() => {
    if (text.trim() === model.search) {
      return;
    }
    const timer = window.setTimeout(
      () => void model.setSearch(text),
      SEARCH_DELAY_MS
    );
    return () => window.clearTimeout(timer);
  }, [text]);
  // A text box in a search landmark: the sidebar's one `searchbox` stays the runs filter.
  return (
    <div role="search" className="jp-mlops-FeatureSearch">
      <input
        type="text"
        className="jp-mlops-FilterBox-input"
        placeholder="Search views, features, entities, tags"
        aria-label="Search feature views"
        spellCheck={false}
        value={text}
        onChange={event => setText(event.target.value)}
        onKeyDown={event => {
          if (event.key === 'Escape') {
            setText('');
          }
        }}
      />
    </div>
  );
}

/** The freshness badge of a view in the list. */
export function FreshnessBadge(props: {
  freshness: Freshness;
}): JSX.Element | null {
  switch (props.freshness) {
    case 'stale':
      return (
        <span
          className="jp-mlops-Badge jp-mlops-Badge--stale"
          title="The newest row is older than the view's TTL, or there is no row"
        >
          STALE
        </span>
      );
    case 'fresh':
      return (
        <span
          className="jp-mlops-Badge jp-mlops-Badge--fresh"
          title="The newest row is within the view's TTL"
        >
          fresh
        </span>
      );
    case 'error':
      return (
        <span
          className="jp-mlops-Badge"
          title="The view's statistics could not be read"
        >
          ?
        </span>
      );
    default:
      return null;
  }
}

function ViewItem(props: {
  view: IFeatureViewSummary;
  model: FeaturesModel;
  onOpen: (name: string) => void;
}): JSX.Element {
  const { view, model, onOpen } = props;
  const ticked = view.features.filter(f =>
    model.selection.some(
      ref => ref.startsWith(`${view.name}:`) && ref.endsWith(`:${f.name}`)
    )
  ).length;
  const features = view.features.map(f => f.name).join(', ');
  return (
    <li
      role="option"
      aria-selected={false}
      className="jp-mlops-FeatureViewList-item"
      data-view={view.name}
      tabIndex={0}
      title={`${view.description ? `${view.description}\n` : ''}Features: ${features}`}
      onClick={() => onOpen(view.name)}
      onKeyDown={event => {
        if (event.key === 'Enter' || event.key === ' ') {
          event.preventDefault();
          onOpen(view.name);
        }
      }}
    >
      <div className="jp-mlops-FeatureViewList-row">
        <span className="jp-mlops-FeatureViewList-name">{view.name}</span>
        <span
          className="jp-mlops-FeatureViewList-version"
          title={`${view.versions} version${view.versions === 1 ? '' : 's'}`}
        >
          v{view.version}
        </span>
        <FreshnessBadge freshness={model.freshness(view.name)} />
      </div>
      <div className="jp-mlops-FeatureViewList-meta">
        {view.features.length} feature{view.features.length === 1 ? '' : 's'}
        {' · '}
        {view.entities.join(', ')}
        {ticked > 0 && (
          <span className="jp-mlops-FeatureViewList-ticked">
            {' · '}
            {ticked} ticked
          </span>
        )}
      </div>
    </li>
  );
}

function ViewList(props: {
  model: FeaturesModel;
  onOpen: (name: string) => void;
}): JSX.Element {
  const { model, onOpen } = props;
  if (model.status === 'error' && model.error) {
    return (
      <ErrorMessage
        title="Cannot list feature views"
        error={model.error}
        onRetry={() => void model.refresh()}
      />
    );
  }
  if (model.status !== 'ready' && model.views.length === 0) {
    return <Loading label="Loading feature views…" />;
  }
  if (model.views.length === 0) {
    return model.search ? (
      <Empty>
        No feature view matches <code>{model.search}</code>.
      </Empty>
    ) : (
      <Empty>
        No feature views yet. Define them in <code>features/*.py</code> and run{' '}
        <code>%mlops features apply</code>.
      </Empty>
    );
  }
  return (
    <ul
      className={
        'jp-mlops-FeatureViewList' +
        (model.status === 'loading' ? ' jp-mod-loading' : '')
      }
      role="listbox"
      aria-label="Feature views"
      aria-busy={model.status === 'loading'}
    >
      {model.views.map(view => (
        <ViewItem key={view.name} view={view} model={model} onOpen={onOpen} />
      ))}
    </ul>
  );
}

/** The Features section of the MLOps sidebar. */
export function FeaturesView(props: {
  model: FeaturesModel;
  onOpen: (name: string) => void;
  onInsert: () => void;
}): JSX.Element {
  const { model, onOpen, onInsert } = props;
  return (
    <div className="jp-mlops-Features">
      <SearchBox model={model} />
      <ViewList model={model} onOpen={onOpen} />
      <InsertBar model={model} onInsert={onInsert} />
    </div>
  );
}
