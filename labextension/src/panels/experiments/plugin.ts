import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, IThemeManager } from '@jupyterlab/apputils';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { ReadonlyPartialJSONObject } from '@lumino/coreutils';

import { MlopsClient } from '../../api';
import { compareIcon } from '../../icons';
import { CommandIDs, IMlopsClient, IMlopsSidebar } from '../../tokens';
import { addRefreshCommand, addToPalette } from '../section';
import { openTab, trackTabs } from '../tab';
import { CompareModel } from './compare/model';
import { CompareWidget } from './compare/widget';
import { ExperimentsModel } from './model';
import { ExperimentsPanel } from './widget';

/** The Experiments section, the Compare tabs and their commands. */
export const experimentsPlugin: JupyterFrontEndPlugin<void> = {
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

    const tracker = trackTabs<CompareWidget>(restorer, {
      namespace: 'mlops-compare',
      command: CommandIDs.openComparison,
      args: widget => ({
        runIds: [...widget.model.runIds],
        runNames: [...widget.model.runNames]
      }),
      name: widget => Private.comparisonKey(widget.model.runIds)
    });
    themeManager?.themeChanged.connect(() => {
      tracker.forEach(widget => widget.content.refreshTheme());
    });

    const openComparison = (
      runIds: string[],
      runNames: string[] = [],
      groupBySeed = false
    ) => {
      const key = Private.comparisonKey(runIds);
      const opened = openTab(shell, {
        tracker,
        find: tab => Private.comparisonKey(tab.content.model.runIds) === key,
        content: () =>
          new CompareWidget({
            model: new CompareModel({ client, runIds, runNames, groupBySeed }),
            rendermime
          }),
        idPrefix: 'jp-mlops-compare-',
        className: 'jp-mlops-CompareTab',
        label: `Compare ${runIds.length} runs`,
        caption: runNames.length > 0 ? runNames.join(', ') : runIds.join(', '),
        icon: compareIcon
      });
      // A tab already open on these runs: asked for groups, it shows them too.
      if (groupBySeed && !opened.content.model.groupBySeed) {
        void opened.content.model.setGroupBySeed(true);
      }
      return opened;
    };

    addRefreshCommand(
      commands,
      CommandIDs.refreshExperiments,
      panel,
      'Reload the experiments and runs of the workspace'
    );

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
            runNames: { type: 'array', items: { type: 'string' } },
            groupBySeed: { type: 'boolean' }
          },
          required: ['runIds']
        }
      },
      execute: args => {
        const runIds = Private.strings(args, 'runIds');
        if (runIds.length < 2) {
          throw new Error('Give at least two run ids to compare.');
        }
        return openComparison(
          runIds,
          Private.strings(args, 'runNames'),
          args.groupBySeed === true
        );
      }
    });

    addToPalette(palette, [
      CommandIDs.refreshExperiments,
      CommandIDs.compareSelectedRuns
    ]);
  }
};

namespace Private {
  /** The same for the same runs in any order: one tab per set of runs. */
  export function comparisonKey(runIds: readonly string[]): string {
    return [...runIds].sort().join(',');
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
