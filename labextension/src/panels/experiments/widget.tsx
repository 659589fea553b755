import * as React from 'react';

import { SidebarSection } from '../section';
import { ExperimentsView } from './components/ExperimentsView';
import { ExperimentsModel } from './model';

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
  }

  protected isUnloaded(): boolean {
    return this.model.experimentsStatus === 'idle';
  }

  protected render(): JSX.Element {
    return <ExperimentsView model={this.model} onCompare={this._onCompare} />;
  }

  private _onCompare: () => void;
}

export namespace ExperimentsPanel {
  export interface IOptions {
    model: ExperimentsModel;
    /** Open a comparison of the selected runs. */
    onCompare: () => void;
  }
}
