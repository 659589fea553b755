import { VDomRenderer } from '@jupyterlab/ui-components';
import * as React from 'react';

import { IRunSummary } from '../../../api';
import { Loading } from '../../../components/status';
import { ColumnChooser } from '../components/ColumnChooser';
import { Footer } from '../components/ExperimentsView';
import { FilterBox } from '../components/FilterBox';
import { RunsTable } from '../components/RunsTable';
import { ExperimentsModel } from '../model';

/** The runs table in a main-area tab: every chosen column, the column chooser, paging. */
function RunsTabView(props: {
  model: ExperimentsModel;
  choosing: boolean;
  setChoosing: (value: boolean) => void;
  onCompare: () => void;
  onOpenRun: (run: IRunSummary) => void;
}): JSX.Element {
  const { model, choosing, setChoosing, onCompare, onOpenRun } = props;
  return (
    <div className="jp-mlops-RunsTab-body">
      <div className="jp-mlops-RunsTab-toolbar">
        <label className="jp-mlops-RunsTab-experiment">
          Experiment{' '}
          <select
            aria-label="Experiment"
            value={model.experimentId ?? ''}
            onChange={event => void model.selectExperiment(event.target.value)}
          >
            {model.experiments.map(e => (
              <option key={e.experiment_id} value={e.experiment_id}>
                {e.name}
              </option>
            ))}
          </select>
        </label>
        <button
          type="button"
          className={'jp-mlops-Button' + (choosing ? ' jp-mod-active' : '')}
          aria-expanded={choosing}
          disabled={model.columnChoice === null}
          onClick={() => setChoosing(!choosing)}
        >
          Columns…
        </button>
        {model.runsStatus === 'loading' && model.runs.length > 0 && (
          <Loading label="Loading…" />
        )}
      </div>
      {choosing && (
        <ColumnChooser
          key={`columns-${model.experimentId ?? ''}`}
          model={model}
          onClose={() => setChoosing(false)}
        />
      )}
      {model.columnsError && (
        <div className="jp-mlops-FilterBox-error" role="alert">
          Columns not saved: {model.columnsError.message}
          {model.columnsError.hint ? ` ${model.columnsError.hint}` : ''}
        </div>
      )}
      <FilterBox key={model.experimentId} model={model} />
      <RunsTable model={model} onOpenRun={onOpenRun} />
      <Footer model={model} onCompare={onCompare} />
    </div>
  );
}

/**
 * The content of the Runs tab; it shows the experiment chosen in the sidebar (same model, which
 * the sidebar owns: closing the tab leaves it alone).
 */
export class RunsTabWidget extends VDomRenderer<ExperimentsModel> {
  constructor(options: RunsTabWidget.IOptions) {
    super(options.model);
    this.addClass('jp-mlops-RunsTab');
    this._onCompare = options.onCompare;
    this._onOpenRun = options.onOpenRun;
  }

  protected render(): JSX.Element {
    return (
      <RunsTabView
        model={this.model}
        choosing={this._choosing}
        setChoosing={value => {
          this._choosing = value;
          this.update();
        }}
        onCompare={this._onCompare}
        onOpenRun={this._onOpenRun}
      />
    );
  }

  private _choosing = false;
  private _onCompare: () => void;
  private _onOpenRun: (run: IRunSummary) => void;
}

export namespace RunsTabWidget {
  export interface IOptions {
    model: ExperimentsModel;
    onCompare: () => void;
    onOpenRun: (run: IRunSummary) => void;
  }
}
