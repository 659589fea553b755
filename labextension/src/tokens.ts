import { Token } from '@lumino/coreutils';
import { Toolbar } from '@jupyterlab/ui-components';

import { MlopsClient } from './api';

/** The ids of the commands this extension adds; all are in the palette under "MLOps". */
export namespace CommandIDs {
  export const openSidebar = 'mlops:open-sidebar';
  export const refreshExperiments = 'mlops:refresh-experiments';
  export const compareSelectedRuns = 'mlops:compare-selected-runs';
  /**
   * Open a comparison of the runs given as `runIds` (used to restore tabs after a reload);
   * `groupBySeed: true` opens it with "Group by seed" on (a restored tab starts with it off).
   */
  export const openComparison = 'mlops:open-comparison';
  /** Open the runs table of the experiment chosen in the sidebar in a main-area tab. */
  export const openRuns = 'mlops:open-runs';
  /** Open the page of the run given as `runId` (from the runs table, a comparison, lineage). */
  export const openRun = 'mlops:open-run';
  export const openFeatureViews = 'mlops:open-feature-views';
  export const refreshFeatureViews = 'mlops:refresh-feature-views';
  /** Open the tab of the feature view given as `name` (also restores tabs after a reload). */
  export const openFeatureView = 'mlops:open-feature-view';
  export const insertTrainingFrameCode = 'mlops:insert-training-frame-code';
  export const openModels = 'mlops:open-models';
  export const refreshModels = 'mlops:refresh-models';
  /** Show the version given as `name` and `version` in the Models section (e.g. once registered). */
  export const showModelVersion = 'mlops:show-model-version';
}

/** The palette category of the commands. */
export const PALETTE_CATEGORY = 'MLOps';

/** The typed client of the jupyter-mlops REST API. */
export const IMlopsClient = new Token<MlopsClient>(
  'jupyter-mlops:IMlopsClient',
  'The typed client of the jupyter-mlops REST API (mlops/api/...).'
);

/**
 * The MLOps area of the left sidebar: one section per capability (Experiments now; Features,
 * Models, Deployments, Monitoring, Jobs later).
 */
export interface IMlopsSidebar {
  /** The sidebar widget's id, to activate it with `shell.activateById`. */
  readonly id: string;
  /**
   * Add a capability's section. Sections are ordered by `rank` (lower first, default 100);
   * the widget's `title.label` is the section's header, and its `toolbar`, if it has one, is
   * shown in that header.
   */
  addSection(
    widget: Toolbar.IWidgetToolbar,
    options?: IMlopsSidebar.ISectionOptions
  ): void;
}

export namespace IMlopsSidebar {
  export interface ISectionOptions {
    rank?: number;
  }
}

export const IMlopsSidebar = new Token<IMlopsSidebar>(
  'jupyter-mlops:IMlopsSidebar',
  'The MLOps area of the left sidebar, to which each capability adds a section.'
);
