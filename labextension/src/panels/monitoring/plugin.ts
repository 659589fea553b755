import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';

import { MlopsClient } from '../../api';
import { IMlopsClient, IMlopsSidebar } from '../../tokens';
import { addRefreshCommand, addToPalette } from '../section';
import { MonitoringModel } from './model';
import { MonitoringPanel } from './widget';

/** The ids of the Monitoring section's commands (in the palette under "MLOps"). */
export namespace MonitoringCommandIDs {
  export const openMonitoring = 'mlops:open-monitoring';
  export const refreshMonitoring = 'mlops:refresh-monitoring';
  /** Show the drift report of the deployment given as `name`. */
  export const showDriftReport = 'mlops:show-drift-report';
  /** Run a check of the deployment given as `name` now. */
  export const checkDeployment = 'mlops:check-deployment';
}

/** The Monitoring section: deployments at a glance, a drift report, alert events. */
export const monitoringPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-mlops:monitoring',
  description:
    'Monitoring of deployments: request rate, errors, latency, drift and alerts, a drift report with reference-vs-current charts, and alert events.',
  autoStart: true,
  requires: [IMlopsClient, IMlopsSidebar],
  optional: [ICommandPalette],
  activate: (
    app: JupyterFrontEnd,
    client: MlopsClient,
    sidebar: IMlopsSidebar,
    palette: ICommandPalette | null
  ): void => {
    const { commands, shell } = app;
    const model = new MonitoringModel(client);
    const panel = new MonitoringPanel(model);
    // After Experiments (10), Features (20) and Models (30).
    sidebar.addSection(panel, { rank: 40 });

    commands.addCommand(MonitoringCommandIDs.openMonitoring, {
      label: 'Open monitoring',
      caption:
        'Show the deployments’ traffic, errors, latency, drift and alerts in the MLOps sidebar',
      execute: () => panel.reveal(shell, sidebar)
    });

    addRefreshCommand(
      commands,
      MonitoringCommandIDs.refreshMonitoring,
      panel,
      'Reload the monitoring status, the events and the drift report shown'
    );

    const nameArgs = {
      args: {
        type: 'object' as const,
        properties: { name: { type: 'string' as const } },
        required: ['name']
      }
    };
    const nameOf = (args: { name?: unknown }): string => {
      if (typeof args.name !== 'string' || !args.name) {
        throw new Error('Give a deployment name.');
      }
      return args.name;
    };

    commands.addCommand(MonitoringCommandIDs.showDriftReport, {
      label: args =>
        typeof args.name === 'string'
          ? `Show the drift report of ${args.name}`
          : 'Show drift report',
      describedBy: nameArgs,
      execute: args => {
        const name = nameOf(args);
        panel.reveal(shell, sidebar);
        return panel.showDeployment(name);
      }
    });

    commands.addCommand(MonitoringCommandIDs.checkDeployment, {
      label: args =>
        typeof args.name === 'string' ? `Check ${args.name} now` : 'Check now',
      describedBy: nameArgs,
      execute: args => model.runCheck(nameOf(args))
    });

    addToPalette(palette, [
      MonitoringCommandIDs.openMonitoring,
      MonitoringCommandIDs.refreshMonitoring
    ]);
  }
};
