import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';

import { MlopsClient } from '../../api';
import { CommandIDs, IMlopsClient, IMlopsSidebar } from '../../tokens';
import { addRefreshCommand, addToPalette } from '../section';
import { ModelsModel } from './model';
import { ModelsPanel } from './widget';

/** The Models section: registered models, lineage, Deploy/Promote and deployment cards. */
export const modelsPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-mlops:models',
  description:
    'Registered models with their versions and lineage, promotion, and local deployments with live traffic figures.',
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
    const model = new ModelsModel(client);
    const panel = new ModelsPanel({
      model,
      onOpenNotebook: path => void commands.execute('docmanager:open', { path })
    });
    // After Experiments (10) and Features (20).
    sidebar.addSection(panel, { rank: 30 });

    commands.addCommand(CommandIDs.openModels, {
      label: 'Open models',
      caption:
        'Show the registered models and deployments in the MLOps sidebar',
      execute: () => panel.reveal(shell, sidebar)
    });

    addRefreshCommand(
      commands,
      CommandIDs.refreshModels,
      panel,
      'Reload the registered models and the deployments'
    );

    commands.addCommand(CommandIDs.showModelVersion, {
      label: args =>
        typeof args.name === 'string' && typeof args.version === 'number'
          ? `Show ${args.name} v${args.version}`
          : 'Show model version',
      describedBy: {
        args: {
          type: 'object',
          properties: {
            name: { type: 'string' },
            version: { type: 'integer', minimum: 1 }
          },
          required: ['name', 'version']
        }
      },
      execute: args => {
        const { name, version } = args;
        if (typeof name !== 'string' || typeof version !== 'number') {
          throw new Error('Give a model name and a version number.');
        }
        panel.reveal(shell, sidebar);
        return model.reveal(name, version);
      }
    });

    addToPalette(palette, [CommandIDs.openModels, CommandIDs.refreshModels]);
  }
};
