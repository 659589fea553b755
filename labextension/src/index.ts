import { JupyterFrontEndPlugin } from '@jupyterlab/application';

import { experimentsPlugin } from './panels/experiments/plugin';
import { featuresPlugin } from './panels/features/plugin';
import { modelsPlugin } from './panels/models/plugin';
import { monitoringPlugin } from './panels/monitoring/plugin';
import { clientPlugin, sidebarPlugin } from './plugin';

export * from './api';
export * from './tokens';

const plugins: JupyterFrontEndPlugin<unknown>[] = [
  clientPlugin,
  sidebarPlugin,
  experimentsPlugin,
  featuresPlugin,
  modelsPlugin,
  monitoringPlugin
];
export default plugins;
