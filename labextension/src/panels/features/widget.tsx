import {
  refreshIcon,
  Toolbar,
  ToolbarButton,
  VDomRenderer
} from '@jupyterlab/ui-components';
import { Message } from '@lumino/messaging';
import * as React from 'react';

import { FeaturesView } from './components/FeaturesView';
import { FeaturesModel } from './model';

/** The Features section of the sidebar: search, the views, and the ticked features. */
export class FeaturesPanel extends VDomRenderer<FeaturesModel> {
  constructor(options: FeaturesPanel.IOptions) {
    super(options.model);
    this.id = 'jp-mlops-features';
    this.addClass('jp-mlops-FeaturesPanel');
    this.title.label = 'Features';
    this.title.caption = 'Feature views of this workspace';
    this._onOpen = options.onOpen;
    this._onInsert = options.onInsert;
    this.toolbar = new Toolbar();
    this.toolbar.addItem(
      'refresh',
      new ToolbarButton({
        icon: refreshIcon,
        tooltip: 'Refresh feature views',
        onClick: () => void this.model.refresh()
      })
    );
  }

  readonly toolbar: Toolbar;

  /** Put the keyboard in the search box. */
  focusSearch(): void {
    this.node
      .querySelector<HTMLInputElement>('.jp-mlops-FeatureSearch input')
      ?.focus({ preventScroll: true });
  }

  // Load on first show: a section that is never opened costs no request.
  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this._loadOnce();
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    this._loadOnce();
  }

  protected render(): JSX.Element {
    return (
      <FeaturesView
        model={this.model}
        onOpen={this._onOpen}
        onInsert={this._onInsert}
      />
    );
  }

  private _loadOnce(): void {
    if (this.isVisible && this.model.status === 'idle') {
      void this.model.refresh();
    }
  }

  private _onOpen: (name: string) => void;
  private _onInsert: () => void;
}

export namespace FeaturesPanel {
  export interface IOptions {
    model: FeaturesModel;
    /** Open a view's tab. */
    onOpen: (name: string) => void;
    /** Insert code for the ticked features into the current notebook. */
    onInsert: () => void;
  }
}
