import * as React from 'react';

import { IRunSummary } from '../../../api';

import { Loading } from '../../../components/status';
import { ExperimentsModel, PAGE_SIZE } from '../model';
import { RunRegistration } from '../register';
import { ExperimentList } from './ExperimentList';
import { FilterBox } from './FilterBox';
import { RegisterBar } from './RegisterBar';
import { RunsTable } from './RunsTable';

/** Previous/next page, and the selection with its Compare button. */
export function Footer(props: {
  model: ExperimentsModel;
  onCompare: () => void;
}): JSX.Element {
  const { model, onCompare } = props;
  const count = model.selection.length;
  const busy = model.runsStatus === 'loading';
  const first = (model.pageNumber - 1) * PAGE_SIZE + 1;
  const last = first + model.runs.length - 1;
  return (
    <div className="jp-mlops-RunsFooter">
      <div className="jp-mlops-Pager">
        <button
          type="button"
          className="jp-mlops-Button"
          disabled={!model.hasPreviousPage || busy}
          onClick={() => void model.previousPage()}
        >
          Previous
        </button>
        <span className="jp-mlops-Pager-label" aria-live="polite">
          {model.runs.length > 0
            ? `${first}–${last}`
            : `Page ${model.pageNumber}`}
        </span>
        <button
          type="button"
          className="jp-mlops-Button"
          disabled={!model.hasNextPage || busy}
          onClick={() => void model.nextPage()}
        >
          Next
        </button>
      </div>
      <div className="jp-mlops-Selection">
        {count > 0 && (
          <button
            type="button"
            className="jp-mlops-Button jp-mlops-Button--link"
            title={model.selection.map(run => run.runName).join(', ')}
            onClick={() => model.clearSelection()}
          >
            Clear {count}
          </button>
        )}
        <button
          type="button"
          className="jp-mlops-Button jp-mlops-Button--accept"
          disabled={count < 2}
          title={
            count < 2
              ? 'Select at least two runs to compare'
              : 'Compare the selected runs'
          }
          onClick={onCompare}
        >
          Compare ({count})
        </button>
      </div>
    </div>
  );
}

/** The Experiments section of the MLOps sidebar. */
export function ExperimentsView(props: {
  model: ExperimentsModel;
  registration: RunRegistration;
  onCompare: () => void;
  onRegistered: (name: string, version: number) => void;
  onOpenRuns: () => void;
  onOpenRun: (run: IRunSummary) => void;
}): JSX.Element {
  const {
    model,
    registration,
    onCompare,
    onRegistered,
    onOpenRuns,
    onOpenRun
  } = props;
  return (
    <div className="jp-mlops-Experiments">
      <ExperimentList model={model} />
      {model.experimentId !== null && (
        <>
          <div className="jp-mlops-Experiments-runsHeading">
            <span>Runs of {model.experiment?.name ?? model.experimentId}</span>
            {model.runsStatus === 'loading' && model.runs.length > 0 && (
              <Loading label="Loading…" />
            )}
            <button
              type="button"
              className="jp-mlops-Button jp-mlops-Experiments-openTable"
              title="Open the runs of this experiment in a tab, with all chosen columns"
              onClick={onOpenRuns}
            >
              Open runs table
            </button>
          </div>
          <FilterBox key={model.experimentId} model={model} />
          <RunsTable model={model} compact={true} onOpenRun={onOpenRun} />
          <Footer model={model} onCompare={onCompare} />
          <RegisterBar
            model={model}
            registration={registration}
            onRegistered={onRegistered}
          />
        </>
      )}
    </div>
  );
}
