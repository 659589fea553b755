import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';

import { MlopsClient } from './api';
import { MlopsSidebar } from './sidebar';
import {
  CommandIDs,
  IMlopsClient,
  IMlopsSidebar,
  PALETTE_CATEGORY
} from './tokens';

/** The typed REST client, shared by every panel. */
export const clientPlugin: JupyterFrontEndPlugin<MlopsClient> = {
  id: 'jupyter-mlops:client',
  description: 'The typed client of the jupyter-mlops REST API.',
  autoStart: true,
  provides: IMlopsClient,
  activate: (app: JupyterFrontEnd): MlopsClient =>
    new MlopsClient({ serverSettings: app.serviceManager.serverSettings })
};

/** The MLOps area of the left sidebar. */
export const sidebarPlugin: JupyterFrontEndPlugin<IMlopsSidebar> = {
  id: 'jupyter-mlops:sidebar',
  description:
    'The MLOps area of the left sidebar, one section per capability.',
  autoStart: true,
  provides: IMlopsSidebar,
  optional: [ICommandPalette, ILayoutRestorer],
  activate: (
    app: JupyterFrontEnd,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null
  ): IMlopsSidebar => {
    const sidebar = new MlopsSidebar();
    app.shell.add(sidebar, 'left', { rank: 600, type: 'MLOps' });
    restorer?.add(sidebar, sidebar.id);

    app.commands.addCommand(CommandIDs.openSidebar, {
      label: 'Open MLOps sidebar',
      caption: 'Show experiments, runs and comparisons',
      icon: args => (args.isPalette ? undefined : sidebar.title.icon),
      execute: () => app.shell.activateById(sidebar.id)
    });
    palette?.addItem({
      command: CommandIDs.openSidebar,
      category: PALETTE_CATEGORY
    });
    return sidebar;
  }
};
