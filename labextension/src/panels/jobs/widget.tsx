import { Message } from '@lumino/messaging';
import * as React from 'react';

import { SidebarSection } from '../section';
import { JobsView } from './components/JobsView';
import { JobsModel } from './model';
import { ISweepGroup } from './sweeps';

/**
 * The Jobs section of the sidebar: run the active notebook as a job with its parameters, and
 * follow the jobs; or, in its Pipelines view, the pipelines and their runs. The view shown is
 * polled only while the section is shown.
 */
export class JobsPanel extends SidebarSection<JobsModel> {
  constructor(options: JobsPanel.IOptions) {
    super(options.model, {
      id: 'jp-mlops-jobs',
      className: 'jp-mlops-JobsPanel',
      label: 'Jobs',
      caption:
        'Run notebooks as jobs with parameters, and follow them; pipelines and their runs',
      refreshTooltip: 'Refresh jobs and pipelines'
    });
    this._onOpenNotebook = options.onOpenNotebook;
    this._onCompare = options.onCompare;
    this._onShowModelVersion = options.onShowModelVersion ?? null;
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this.model.setVisible(false);
    super.dispose();
  }

  protected isUnloaded(): boolean {
    return this.model.jobsStatus === 'idle';
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
      <JobsView
        model={this.model}
        onOpenNotebook={this._onOpenNotebook}
        onCompare={this._onCompare}
        onShowModelVersion={this._onShowModelVersion}
      />
    );
  }

  private _onOpenNotebook: (path: string) => void;
  private _onCompare: (sweep: ISweepGroup) => void;
  private _onShowModelVersion: ((name: string, version: number) => void) | null;
}

export namespace JobsPanel {
  export interface IOptions {
    model: JobsModel;
    /** Open a notebook (an executed one) by its path under the server root. */
    onOpenNotebook: (path: string) => void;
    /** Compare the runs of a sweep's succeeded jobs. */
    onCompare: (sweep: ISweepGroup) => void;
    /** Reveal a model version in the Models section (null: that section is not there). */
    onShowModelVersion?: ((name: string, version: number) => void) | null;
  }
}
