import { Message } from '@lumino/messaging';
import * as React from 'react';

import { SidebarSection } from '../section';
import { MonitoringView } from './components/MonitoringView';
import { MonitoringModel } from './model';

/**
 * The Monitoring section of the sidebar: each deployment's traffic, errors, latency, drift and
 * alerts, one deployment's drift report, and the alert events. Polled only while shown.
 */
export class MonitoringPanel extends SidebarSection<MonitoringModel> {
  constructor(model: MonitoringModel) {
    super(model, {
      id: 'jp-mlops-monitoring',
      className: 'jp-mlops-MonitoringPanel',
      label: 'Monitoring',
      caption: 'Deployments: traffic, errors, latency, drift and alerts',
      refreshTooltip: 'Refresh monitoring'
    });
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this.model.setVisible(false);
    super.dispose();
  }

  /** Show a deployment's drift report, and bring it into view once drawn. */
  async showDeployment(name: string): Promise<void> {
    const shown = this.model.select(name);
    requestAnimationFrame(() => {
      this.node
        .querySelector('.jp-mlops-MonitorDetail')
        ?.scrollIntoView({ block: 'nearest' });
    });
    await shown;
  }

  protected isUnloaded(): boolean {
    return this.model.statusStatus === 'idle';
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
    return <MonitoringView model={this.model} />;
  }
}
