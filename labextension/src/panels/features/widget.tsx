import * as React from 'react';

import { focusWhenSettled, SidebarSection } from '../section';
import { FeaturesView } from './components/FeaturesView';
import { FeaturesModel } from './model';

/** The Features section of the sidebar: search, the views, and the ticked features. */
export class FeaturesPanel extends SidebarSection<FeaturesModel> {
  constructor(options: FeaturesPanel.IOptions) {
    super(options.model, {
      id: 'jp-mlops-features',
      className: 'jp-mlops-FeaturesPanel',
      label: 'Features',
      caption: 'Feature views of this workspace',
      refreshTooltip: 'Refresh feature views'
    });
    this._onOpen = options.onOpen;
    this._onInsert = options.onInsert;
  }

  /** Put the keyboard in the search box (rendered on the section's first show). */
  focusSearch(): void {
    focusWhenSettled(() =>
      this.node.querySelector<HTMLInputElement>('.jp-mlops-FeatureSearch input')
    );
  }

  protected isUnloaded(): boolean {
    return this.model.status === 'idle';
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
