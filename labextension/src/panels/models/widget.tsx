import { Message } from '@lumino/messaging';
import * as React from 'react';

import { SidebarSection } from '../section';
import { ModelsView } from './components/ModelsView';
import { ModelsModel } from './model';

/**
 * The Models section of the sidebar: registered models, versions, lineage, Deploy/Promote and
 * the deployment cards. The cards' live figures are polled only while the section is shown.
 */
export class ModelsPanel extends SidebarSection<ModelsModel> {
  constructor(options: ModelsPanel.IOptions) {
    super(options.model, {
      id: 'jp-mlops-models',
      className: 'jp-mlops-ModelsPanel',
      label: 'Models',
      caption: 'Registered models, their lineage, and deployments',
      refreshTooltip: 'Refresh models and deployments'
    });
    this._onOpenNotebook = options.onOpenNotebook;
    this.model.revealed.connect(this._onRevealed, this);
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this.model.setVisible(false);
    super.dispose();
  }

  protected isUnloaded(): boolean {
    return this.model.modelsStatus === 'idle';
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this.model.setVisible(this.isVisible);
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    this.model.setVisible(this.isVisible);
  }

  protected onBeforeHide(msg: Message): void {
    super.onBeforeHide(msg);
    this.model.setVisible(false);
  }

  protected onBeforeDetach(msg: Message): void {
    this.model.setVisible(false);
    super.onBeforeDetach(msg);
  }

  protected render(): JSX.Element {
    return (
      <ModelsView model={this.model} onOpenNotebook={this._onOpenNotebook} />
    );
  }

  /** Bring a revealed version's lineage into view once it is drawn. */
  private _onRevealed(): void {
    requestAnimationFrame(() => {
      this.node
        .querySelector('.jp-mlops-VersionDetail')
        ?.scrollIntoView({ block: 'nearest' });
    });
  }

  private _onOpenNotebook: (path: string) => void;
}

export namespace ModelsPanel {
  export interface IOptions {
    model: ModelsModel;
    /** Open a notebook of the lineage, by its path under the server root. */
    onOpenNotebook: (path: string) => void;
  }
}
