import * as React from 'react';

import { JobsModel, JobsView as View } from '../model';
import { ISweepGroup } from '../sweeps';
import { JobList } from './JobList';
import { PipelinesView } from './PipelinesView';
import { SubmitForm } from './SubmitForm';

const VIEWS: ReadonlyArray<{ view: View; label: string; caption: string }> = [
  {
    view: 'jobs',
    label: 'Jobs',
    caption: 'Run the current notebook as a job, and follow the jobs'
  },
  {
    view: 'pipelines',
    label: 'Pipelines',
    caption:
      'The pipelines of the workspace: their triggers and last runs, Run now, enable and disable'
  }
];

function tabId(view: View): string {
  return `jp-mlops-jobs-tab-${view}`;
}

function panelId(view: View): string {
  return `jp-mlops-jobs-tabpanel-${view}`;
}

/** The two views of the section, as tabs (arrow keys move between them). */
function ViewTabs(props: { model: JobsModel }): JSX.Element {
  const { model } = props;
  const refs = React.useRef(new Map<View, HTMLButtonElement | null>());
  const move = (step: number) => {
    const index = VIEWS.findIndex(v => v.view === model.view);
    const next = VIEWS[(index + step + VIEWS.length) % VIEWS.length].view;
    model.setView(next);
    refs.current.get(next)?.focus();
  };
  return (
    <div
      className="jp-mlops-ViewTabs"
      role="tablist"
      aria-label="Views of the Jobs section"
      onKeyDown={event => {
        if (event.key === 'ArrowRight' || event.key === 'ArrowLeft') {
          event.preventDefault();
          move(event.key === 'ArrowRight' ? 1 : -1);
        }
      }}
    >
      {VIEWS.map(({ view, label, caption }) => {
        const selected = model.view === view;
        return (
          <button
            key={view}
            ref={node => {
              refs.current.set(view, node);
            }}
            type="button"
            role="tab"
            id={tabId(view)}
            className={
              'jp-mlops-ViewTabs-tab' + (selected ? ' jp-mod-selected' : '')
            }
            aria-selected={selected}
            aria-controls={panelId(view)}
            tabIndex={selected ? 0 : -1}
            title={caption}
            onClick={() => model.setView(view)}
          >
            {label}
          </button>
        );
      })}
    </div>
  );
}

/** The Jobs section of the MLOps sidebar: the jobs, or the pipelines. */
export function JobsView(props: {
  model: JobsModel;
  onOpenNotebook: (path: string) => void;
  onCompare: (sweep: ISweepGroup) => void;
  onShowModelVersion: ((name: string, version: number) => void) | null;
}): JSX.Element {
  const { model, onOpenNotebook, onCompare, onShowModelVersion } = props;
  const view = model.view;
  return (
    <div className="jp-mlops-Jobs">
      <ViewTabs model={model} />
      <div
        className="jp-mlops-Jobs-tabpanel"
        role="tabpanel"
        id={panelId(view)}
        aria-labelledby={tabId(view)}
      >
        {view === 'jobs' ? (
          <>
            <SubmitForm model={model} />
            <JobList
              model={model}
              onOpenNotebook={onOpenNotebook}
              onCompare={onCompare}
            />
          </>
        ) : (
          <PipelinesView
            model={model.pipelines}
            links={{
              onShowJob: id => void model.showJob(id),
              onOpenNotebook,
              onShowModelVersion
            }}
          />
        )}
      </div>
    </div>
  );
}
