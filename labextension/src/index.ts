import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  ICommandPalette,
  IThemeManager,
  MainAreaWidget,
  WidgetTracker
} from '@jupyterlab/apputils';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { ReadonlyPartialJSONObject } from '@lumino/coreutils';

import { MlopsClient } from './api';
import { compareIcon } from './icons';
import {
  CompareModel,
  CompareWidget,
  ExperimentsModel,
  ExperimentsPanel
} from './panels/experiments';
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
      onCompare: () => void commands.execute(CommandIDs.compareSelectedRuns)
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
      const existing = tracker.find(
        w => [...w.content.model.runIds].sort().join(',') === key
      );
      if (existing) {
        shell.activateById(existing.id);
        return existing;
      }
      const compareModel = new CompareModel({ client, runIds, runNames });
      const content = new CompareWidget({ model: compareModel, rendermime });
      const widget = new MainAreaWidget({ content });
      widget.id = `jp-mlops-compare-${Private.nextId()}`;
      widget.addClass('jp-mlops-CompareTab');
      widget.title.label = `Compare ${runIds.length} runs`;
      widget.title.caption =
        runNames.length > 0 ? runNames.join(', ') : runIds.join(', ');
      widget.title.icon = compareIcon;
      widget.title.closable = true;
      void tracker.add(widget);
      shell.add(widget, 'main');
      shell.activateById(widget.id);
      return widget;
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

namespace Private {
  let id = 0;
  export function nextId(): number {
    return ++id;
  }

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
  experimentsPlugin
];
export default plugins;
