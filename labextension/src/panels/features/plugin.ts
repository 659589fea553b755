import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, Notification } from '@jupyterlab/apputils';
import { INotebookTracker } from '@jupyterlab/notebook';

import { MlopsApiError, MlopsClient } from '../../api';
import { CommandIDs, IMlopsClient, IMlopsSidebar } from '../../tokens';
import { addRefreshCommand, addToPalette } from '../section';
import { openTab, trackTabs } from '../tab';
import { featureViewIcon } from './icon';
import { insertCode } from './insert';
import { FeaturesModel } from './model';
import { FeatureViewWidget } from './view';
import { FeatureViewModel } from './viewModel';
import { FeaturesPanel } from './widget';

/** The Features section, the "Feature view" tabs and "Insert code". */
export const featuresPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-mlops:features',
  description:
    'Feature views of the workspace: schema, statistics, freshness, versions, usage, and code for a training frame.',
  autoStart: true,
  requires: [IMlopsClient, IMlopsSidebar],
  optional: [INotebookTracker, ICommandPalette, ILayoutRestorer],
  activate: (
    app: JupyterFrontEnd,
    client: MlopsClient,
    sidebar: IMlopsSidebar,
    notebooks: INotebookTracker | null,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null
  ): void => {
    const { commands, shell } = app;
    const model = new FeaturesModel(client);
    const insert = () =>
      void commands.execute(CommandIDs.insertTrainingFrameCode);
    const panel = new FeaturesPanel({
      model,
      onOpen: name =>
        void commands.execute(CommandIDs.openFeatureView, { name }),
      onInsert: insert
    });
    // After Experiments (rank 10).
    sidebar.addSection(panel, { rank: 20 });

    const tracker = trackTabs<FeatureViewWidget>(restorer, {
      namespace: 'mlops-feature-view',
      command: CommandIDs.openFeatureView,
      args: widget => ({ name: widget.model.name }),
      name: widget => widget.model.name
    });

    const openView = (name: string) =>
      openTab(shell, {
        tracker,
        find: tab => tab.content.model.name === name,
        content: () =>
          new FeatureViewWidget({
            model: new FeatureViewModel({ client, name }),
            features: model,
            onInsert: insert
          }),
        idPrefix: 'jp-mlops-feature-view-',
        className: 'jp-mlops-FeatureViewTab',
        label: name,
        caption: `Feature view ${name}`,
        icon: featureViewIcon
      });

    commands.addCommand(CommandIDs.openFeatureViews, {
      label: 'Open feature views',
      caption: 'Show the feature views in the MLOps sidebar',
      execute: () => {
        panel.reveal(shell, sidebar);
        panel.focusSearch();
      }
    });

    addRefreshCommand(
      commands,
      CommandIDs.refreshFeatureViews,
      panel,
      'Reload the feature views of the workspace'
    );

    commands.addCommand(CommandIDs.openFeatureView, {
      label: args =>
        typeof args.name === 'string'
          ? `Open feature view ${args.name}`
          : 'Open feature view',
      describedBy: {
        args: {
          type: 'object',
          properties: { name: { type: 'string' } },
          required: ['name']
        }
      },
      execute: args => {
        const name = args.name;
        if (typeof name !== 'string' || !name) {
          throw new Error('Give the name of a feature view.');
        }
        return openView(name);
      }
    });

    // The last "copied to the clipboard" notice, taken down once an insert succeeds.
    let notice: string | null = null;
    commands.addCommand(CommandIDs.insertTrainingFrameCode, {
      label: () => {
        const n = model.selection.length;
        return n > 0
          ? `Insert training-frame code (${n} feature${n === 1 ? '' : 's'})`
          : 'Insert training-frame code';
      },
      caption:
        'Insert get_training_frame code for the features ticked in the MLOps sidebar below the active cell',
      isEnabled: () => model.selection.length > 0,
      execute: async () => {
        const refs = [...model.selection];
        if (refs.length === 0) {
          Notification.warning(
            'Tick features of a feature view first (MLOps sidebar → Features).',
            { autoClose: 5000 }
          );
          return;
        }
        let code: string;
        try {
          code = await client.getTrainingFrameSnippet(refs);
        } catch (reason) {
          const error = MlopsApiError.from(reason);
          model.insertOutcome = {
            kind: 'error',
            message: `Cannot make the code: ${error.message}${error.hint ? ` ${error.hint}` : ''}`
          };
          Notification.error(`Cannot make the code: ${error.message}`, {
            autoClose: 8000
          });
          return;
        }
        const result = insertCode(code, notebooks);
        if (notice !== null) {
          Notification.dismiss(notice);
          notice = null;
        }
        if (result.kind === 'inserted') {
          const path = result.notebook.context.path;
          model.insertOutcome = {
            kind: 'inserted',
            message: `Inserted as cell ${result.index + 1} of ${path}.`
          };
          shell.activateById(result.notebook.id);
        } else {
          const message =
            'No notebook is open: the code was copied to the clipboard. Paste it into a notebook, or open one and insert again.';
          model.insertOutcome = { kind: 'copied', message, code };
          notice = Notification.warning(message, { autoClose: 6000 });
        }
      }
    });
    model.selectionChanged.connect(() =>
      commands.notifyCommandChanged(CommandIDs.insertTrainingFrameCode)
    );

    addToPalette(palette, [
      CommandIDs.openFeatureViews,
      CommandIDs.refreshFeatureViews,
      CommandIDs.insertTrainingFrameCode
    ]);
  }
};
