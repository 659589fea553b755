import * as React from 'react';

import { IRunSummary } from '../../api';

import { SidebarSection } from '../section';
import { ExperimentsView } from './components/ExperimentsView';
import { ExperimentsModel } from './model';
import { RunRegistration } from './register';

/** The Experiments section of the sidebar: a React view of an `ExperimentsModel`. */
export class ExperimentsPanel extends SidebarSection<ExperimentsModel> {
  constructor(options: ExperimentsPanel.IOptions) {
    super(options.model, {
      id: 'jp-mlops-experiments',
      className: 'jp-mlops-ExperimentsPanel',
      label: 'Experiments',
      caption: 'MLflow experiments and runs of this workspace',
      refreshTooltip: 'Refresh experiments'
    });
    this._onCompare = options.onCompare;
    this._onRegistered = options.onRegistered;
    this._onOpenRuns = options.onOpenRuns;
    this._onOpenRun = options.onOpenRun;
    this._registration = new RunRegistration(options.model.client);
    this._registration.stateChanged.connect(this.update, this);
  }

  /** The Register form of a run. */
  get registration(): RunRegistration {
    return this._registration;
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._registration.dispose();
    super.dispose();
  }

  protected isUnloaded(): boolean {
    return this.model.experimentsStatus === 'idle';
  }

  protected render(): JSX.Element {
    return (
      <ExperimentsView
        model={this.model}
        registration={this._registration}
        onCompare={this._onCompare}
        onRegistered={this._onRegistered}
        onOpenRuns={this._onOpenRuns}
        onOpenRun={this._onOpenRun}
      />
    );
  }

  private _onCompare: () => void;
  private _onRegistered: (name: string, version: number) => void;
  private _onOpenRuns: () => void;
  private _onOpenRun: (run: IRunSummary) => void;
  private _registration: RunRegistration;
}

export namespace ExperimentsPanel {
  export interface IOptions {
    model: ExperimentsModel;
    /** Open a comparison of the selected runs. */
    onCompare: () => void;
    /** Show a version just registered from a run. */
    onRegistered: (name: string, version: number) => void;
    /** Open the runs table in a main-area tab. */
    onOpenRuns: () => void;
    /** Open a run's page. */
    onOpenRun: (run: IRunSummary) => void;
  }
}
