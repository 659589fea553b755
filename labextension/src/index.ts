import { JupyterFrontEndPlugin } from '@jupyterlab/application';

import { experimentsPlugin } from './panels/experiments/plugin';
import { featuresPlugin } from './panels/features/plugin';
import { jobsPlugin } from './panels/jobs/plugin';
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
  monitoringPlugin,
  jobsPlugin
];
export default plugins;
