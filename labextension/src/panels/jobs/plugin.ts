import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';

import { MlopsClient } from '../../api';
import { CommandIDs, IMlopsClient, IMlopsSidebar } from '../../tokens';
import { addRefreshCommand, addToPalette } from '../section';
import { JobsModel } from './model';
import { JobsPanel } from './widget';

/** The ids of the Jobs section's commands (in the palette under "MLOps"). */
export namespace JobsCommandIDs {
  export const openJobs = 'mlops:open-jobs';
  export const refreshJobs = 'mlops:refresh-jobs';
  /** Show the Jobs section's Pipelines view. */
  export const openPipelines = 'mlops:open-pipelines';
  /** Show the form that runs the current notebook as a job. */
  export const runNotebookAsJob = 'mlops:run-notebook-as-job';
}

/** The Jobs section: run the current notebook as a job with parameters, follow the jobs. */
export const jobsPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-mlops:jobs',
  description:
    'Run a notebook as a job with the parameters of its parameters cell, follow its progress and log, open the executed notebook, cancel and re-run jobs, compare the runs of a sweep; follow pipelines, their triggers and runs step by step, run them now, enable or disable them.',
  autoStart: true,
  requires: [IMlopsClient, IMlopsSidebar],
  optional: [INotebookTracker, ICommandPalette],
  activate: (
    app: JupyterFrontEnd,
    client: MlopsClient,
    sidebar: IMlopsSidebar,
    notebooks: INotebookTracker | null,
    palette: ICommandPalette | null
  ): void => {
    const { commands, shell } = app;
    const contents = app.serviceManager.contents;
    // A path the REST API knows: under the server root, without a drive prefix.
    const pathOf = (notebook: NotebookPanel | null): string | null =>
      notebook ? contents.localPath(notebook.context.path) : null;

    const model = new JobsModel(client, {
      // A job runs the notebook's file: save the editor's changes first.
      beforeSubmit: async path => {
        const open = notebooks?.find(n => pathOf(n) === path);
        if (open && open.context.model.dirty) {
          await open.context.save();
        }
      }
    });
    const panel = new JobsPanel({
      model,
      onOpenNotebook: path =>
        void commands.execute('docmanager:open', { path }),
      // The Experiments compare view, if that plugin is on; grouped by seed when the sweep's
      // parameters include a seed (the server finds which).
      onCompare: sweep => {
        if (commands.hasCommand(CommandIDs.openComparison)) {
          void commands.execute(CommandIDs.openComparison, {
            runIds: sweep.succeededRunIds,
            groupBySeed: sweep.seedParam !== null
          });
        }
      },
      // The Models section, if that plugin is on (it is activated before this one's first use).
      onShowModelVersion: (name, version) => {
        if (commands.hasCommand(CommandIDs.showModelVersion)) {
          void commands.execute(CommandIDs.showModelVersion, { name, version });
        }
      }
    });
    // After Experiments (10), Features (20), Models (30) and Monitoring (40).
    sidebar.addSection(panel, { rank: 50 });

    if (notebooks) {
      const follow = (): void =>
        model.setNotebook(pathOf(notebooks.currentWidget));
      notebooks.currentChanged.connect(follow);
      notebooks.widgetAdded.connect((_, notebook) => {
        notebook.context.pathChanged.connect(follow);
        // A saved parameters cell may declare other parameters.
        notebook.context.saveState.connect((_context, state) => {
          if (state === 'completed') {
            void model.reloadParameters(pathOf(notebook) ?? undefined);
          }
        });
      });
      follow();
    }

    commands.addCommand(JobsCommandIDs.openJobs, {
      label: 'Open jobs',
      caption: 'Show the notebook jobs in the MLOps sidebar',
      execute: () => {
        model.setView('jobs');
        panel.reveal(shell, sidebar);
      }
    });

    commands.addCommand(JobsCommandIDs.openPipelines, {
      label: 'Open pipelines',
      caption:
        'Show the pipelines, their triggers and last runs in the MLOps sidebar',
      execute: () => {
        model.setView('pipelines');
        panel.reveal(shell, sidebar);
      }
    });

    commands.addCommand(JobsCommandIDs.runNotebookAsJob, {
      label: 'Run notebook as a job…',
      caption:
        'Show the form that runs the current notebook as a job with its parameters',
      isEnabled: () => model.notebook !== null,
      execute: () => {
        model.closeRerun();
        model.setView('jobs');
        panel.reveal(shell, sidebar);
      }
    });

    addRefreshCommand(
      commands,
      JobsCommandIDs.refreshJobs,
      panel,
      'Reload the jobs and the parameters of the current notebook'
    );

    addToPalette(palette, [
      JobsCommandIDs.openJobs,
      JobsCommandIDs.openPipelines,
      JobsCommandIDs.runNotebookAsJob,
      JobsCommandIDs.refreshJobs
    ]);
  }
};
