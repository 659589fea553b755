import { VDomRenderer } from '@jupyterlab/ui-components';
import { Message } from '@lumino/messaging';
import * as React from 'react';

import { FeatureViewPage } from './components/FeatureViewPage';
import { FeaturesModel } from './model';
import { FeatureViewModel } from './viewModel';

/** The content of a "Feature view" tab. */
export class FeatureViewWidget extends VDomRenderer<FeatureViewModel> {
  constructor(options: FeatureViewWidget.IOptions) {
    super(options.model);
    this.addClass('jp-mlops-FeatureView');
    this._features = options.features;
    this._onInsert = options.onInsert;
    // The checkboxes show the shared selection, which changes from the sidebar too.
    this._features.stateChanged.connect(this._onFeaturesChanged, this);
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._features.stateChanged.disconnect(this._onFeaturesChanged, this);
    const model = this.model;
    super.dispose();
    model.dispose();
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    if (this.model.detail.status === 'idle') {
      void this.model.load();
    }
  }

  protected render(): JSX.Element {
    return (
      <FeatureViewPage
        model={this.model}
        features={this._features}
        onInsert={this._onInsert}
      />
    );
  }

  private _onFeaturesChanged(): void {
    this.update();
  }

  private _features: FeaturesModel;
  private _onInsert: () => void;
}

export namespace FeatureViewWidget {
  export interface IOptions {
    model: FeatureViewModel;
    features: FeaturesModel;
    onInsert: () => void;
  }
}
