import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  ICommandPalette,
  IThemeManager,
  MainAreaWidget,
  Notification,
  WidgetTracker
} from '@jupyterlab/apputils';
import { INotebookTracker } from '@jupyterlab/notebook';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { ReadonlyPartialJSONObject } from '@lumino/coreutils';

import { MlopsApiError, MlopsClient } from './api';
import { compareIcon } from './icons';
import {
  CompareModel,
  CompareWidget,
  ExperimentsModel,
  ExperimentsPanel
} from './panels/experiments';
import {
  featureViewIcon,
  FeatureViewModel,
  FeatureViewWidget,
  FeaturesModel,
  FeaturesPanel,
  insertCode
} from './panels/features';
import { ModelsModel, ModelsPanel } from './panels/models';
import { openTab } from './panels/tab';
import { MlopsSidebar } from './sidebar';
import {
  CommandIDs,
  IMlopsClient,
  IMlopsSidebar,
  PALETTE_CATEGORY
} from './tokens';

export * from './api';
export * from './tokens';

/** The typed REST client, shared by every panel. */
const clientPlugin: JupyterFrontEndPlugin<MlopsClient> = {
  id: 'jupyter-mlops:client',
  description: 'The typed client of the jupyter-mlops REST API.',
  autoStart: true,
  provides: IMlopsClient,
  activate: (app: JupyterFrontEnd): MlopsClient =>
    new MlopsClient({ serverSettings: app.serviceManager.serverSettings })
};

/** The MLOps area of the left sidebar. */
const sidebarPlugin: JupyterFrontEndPlugin<IMlopsSidebar> = {
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

/** The Experiments section, the Compare tabs and their commands. */
const experimentsPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-mlops:experiments',
  description:
    'Experiments and runs of the workspace, and comparisons of runs.',
  autoStart: true,
  requires: [IMlopsClient, IMlopsSidebar, IRenderMimeRegistry],
  optional: [ICommandPalette, ILayoutRestorer, IThemeManager],
  activate: (
    app: JupyterFrontEnd,
    client: MlopsClient,
    sidebar: IMlopsSidebar,
    rendermime: IRenderMimeRegistry,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null,
    themeManager: IThemeManager | null
  ): void => {
    const { commands, shell } = app;
    const model = new ExperimentsModel(client);
    const panel = new ExperimentsPanel({
      model,
      onCompare: () => void commands.execute(CommandIDs.compareSelectedRuns),
      onRegistered: (name, version) => {
        // The Models section shows it, if that plugin is on.
        if (commands.hasCommand(CommandIDs.showModelVersion)) {
          void commands.execute(CommandIDs.showModelVersion, {
            name,
            version
          });
        }
      }
    });
    sidebar.addSection(panel, { rank: 10 });

    const tracker = new WidgetTracker<MainAreaWidget<CompareWidget>>({
      namespace: 'mlops-compare'
    });
    themeManager?.themeChanged.connect(() => {
      tracker.forEach(widget => widget.content.refreshTheme());
    });

    const openComparison = (runIds: string[], runNames: string[] = []) => {
      const key = [...runIds].sort().join(',');
      return openTab(shell, {
        tracker,
        find: tab => [...tab.content.model.runIds].sort().join(',') === key,
        content: () =>
          new CompareWidget({
            model: new CompareModel({ client, runIds, runNames }),
            rendermime
          }),
        idPrefix: 'jp-mlops-compare-',
        className: 'jp-mlops-CompareTab',
        label: `Compare ${runIds.length} runs`,
        caption: runNames.length > 0 ? runNames.join(', ') : runIds.join(', '),
        icon: compareIcon
      });
    };

    commands.addCommand(CommandIDs.refreshExperiments, {
      label: 'Refresh experiments',
      caption: 'Reload the experiments and runs of the workspace',
      execute: () => model.refresh()
    });

    commands.addCommand(CommandIDs.compareSelectedRuns, {
      label: () => {
        const n = model.selection.length;
        return n >= 2
          ? `Compare selected runs (${n})`
          : 'Compare selected runs';
      },
      caption:
        'Open a tab comparing the runs selected in the MLOps sidebar (two or more)',
      icon: args => (args.isPalette ? undefined : compareIcon),
      isEnabled: () => model.selection.length >= 2,
      execute: () => {
        const selection = model.selection;
        if (selection.length < 2) {
          return;
        }
        return openComparison(
          selection.map(run => run.runId),
          selection.map(run => run.runName)
        );
      }
    });
    model.selectionChanged.connect(() =>
      commands.notifyCommandChanged(CommandIDs.compareSelectedRuns)
    );

    commands.addCommand(CommandIDs.openComparison, {
      label: 'Compare runs',
      describedBy: {
        args: {
          type: 'object',
          properties: {
            runIds: { type: 'array', items: { type: 'string' }, minItems: 2 },
            runNames: { type: 'array', items: { type: 'string' } }
          },
          required: ['runIds']
        }
      },
      execute: args => {
        const runIds = Private.strings(args, 'runIds');
        if (runIds.length < 2) {
          throw new Error('Give at least two run ids to compare.');
        }
        return openComparison(runIds, Private.strings(args, 'runNames'));
      }
    });

    if (palette) {
      for (const command of [
        CommandIDs.refreshExperiments,
        CommandIDs.compareSelectedRuns
      ]) {
        palette.addItem({ command, category: PALETTE_CATEGORY });
      }
    }

    if (restorer) {
      void restorer.restore(tracker, {
        command: CommandIDs.openComparison,
        args: widget => ({
          runIds: [...widget.content.model.runIds],
          runNames: [...widget.content.model.runNames]
        }),
        name: widget => [...widget.content.model.runIds].sort().join(',')
      });
    }
  }
};

/** The Features section, the "Feature view" tabs and "Insert code". */
const featuresPlugin: JupyterFrontEndPlugin<void> = {
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

    const tracker = new WidgetTracker<MainAreaWidget<FeatureViewWidget>>({
      namespace: 'mlops-feature-view'
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

    commands.addCommand(CommandIDs.refreshFeatureViews, {
      label: 'Refresh feature views',
      caption: 'Reload the feature views of the workspace',
      execute: () => model.refresh()
    });

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

    if (palette) {
      for (const command of [
        CommandIDs.openFeatureViews,
        CommandIDs.refreshFeatureViews,
        CommandIDs.insertTrainingFrameCode
      ]) {
        palette.addItem({ command, category: PALETTE_CATEGORY });
      }
    }

    if (restorer) {
      void restorer.restore(tracker, {
        command: CommandIDs.openFeatureView,
        args: widget => ({ name: widget.content.model.name }),
        name: widget => widget.content.model.name
      });
    }
  }
};

/** The Models section: registered models, lineage, Deploy/Promote and deployment cards. */
const modelsPlugin: JupyterFrontEndPlugin<void> = {
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

    commands.addCommand(CommandIDs.refreshModels, {
      label: 'Refresh models and deployments',
      caption: 'Reload the registered models and the deployments',
      execute: () => model.refresh()
    });

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

    if (palette) {
      for (const command of [CommandIDs.openModels, CommandIDs.refreshModels]) {
        palette.addItem({ command, category: PALETTE_CATEGORY });
      }
    }
  }
};

namespace Private {
  export function strings(
    args: ReadonlyPartialJSONObject,
    key: string
  ): string[] {
    const value = args[key];
    return Array.isArray(value)
      ? value.filter((v): v is string => typeof v === 'string')
      : [];
  }
}

const plugins: JupyterFrontEndPlugin<unknown>[] = [
  clientPlugin,
  sidebarPlugin,
  experimentsPlugin,
  featuresPlugin,
  modelsPlugin
];
export default plugins;
