import {
  refreshIcon,
  Toolbar,
  ToolbarButton,
  VDomRenderer
} from '@jupyterlab/ui-components';
import { Message } from '@lumino/messaging';
import * as React from 'react';

import { ExperimentsView } from './components/ExperimentsView';
import { ExperimentsModel } from './model';

/** The Experiments section of the sidebar: a React view of an `ExperimentsModel`. */
export class ExperimentsPanel extends VDomRenderer<ExperimentsModel> {
  constructor(options: ExperimentsPanel.IOptions) {
    super(options.model);
    this.id = 'jp-mlops-experiments';
    this.addClass('jp-mlops-ExperimentsPanel');
    this.title.label = 'Experiments';
    this.title.caption = 'MLflow experiments and runs of this workspace';
    this._onCompare = options.onCompare;
    // Shown in the section's header by the sidebar's accordion.
    this.toolbar = new Toolbar();
    this.toolbar.addItem(
      'refresh',
      new ToolbarButton({
        icon: refreshIcon,
        tooltip: 'Refresh experiments',
        onClick: () => void this.model.refresh()
      })
    );
  }

  readonly toolbar: Toolbar;

  // Load on first show: a sidebar that is never opened costs no request.
  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this._loadOnce();
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    this._loadOnce();
  }

  protected render(): JSX.Element {
    return <ExperimentsView model={this.model} onCompare={this._onCompare} />;
  }

  private _loadOnce(): void {
    if (this.isVisible && this.model.experimentsStatus === 'idle') {
      void this.model.refresh();
    }
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
