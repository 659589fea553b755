import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, IThemeManager } from '@jupyterlab/apputils';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { ReadonlyPartialJSONObject } from '@lumino/coreutils';

import { IRunSummary, MlopsClient } from '../../api';
import { compareIcon } from '../../icons';
import { CommandIDs, IMlopsClient, IMlopsSidebar } from '../../tokens';
import { addRefreshCommand, addToPalette } from '../section';
import { openTab, trackTabs } from '../tab';
import { CompareModel } from './compare/model';
import { CompareWidget } from './compare/widget';
import { ExperimentsModel } from './model';
import { RunModel } from './run/model';
import { RunWidget } from './run/widget';
import { RunsTabWidget } from './runs/widget';
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
    const openRunPage = (run: IRunSummary) =>
      void commands.execute(CommandIDs.openRun, {
        runId: run.run_id,
        runName: run.run_name ?? ''
      });
    const panel = new ExperimentsPanel({
      model,
      onOpenRuns: () => void commands.execute(CommandIDs.openRuns),
      onOpenRun: openRunPage,
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
    const runsTabs = trackTabs<RunsTabWidget>(restorer, {
      namespace: 'mlops-runs',
      command: CommandIDs.openRuns,
      args: () => ({}),
      name: () => 'runs'
    });
    commands.addCommand(CommandIDs.openRuns, {
      label: 'Open runs table',
      caption:
        'Open the runs of the experiment chosen in the MLOps sidebar in a tab, with all chosen columns',
      execute: () => {
        if (model.experimentsStatus === 'idle') {
          void model.refresh();
        }
        const tab = openTab(shell, {
          tracker: runsTabs,
          find: () => true,
          content: () =>
            new RunsTabWidget({
              model,
              onCompare: () =>
                void commands.execute(CommandIDs.compareSelectedRuns),
              onOpenRun: openRunPage
            }),
          idPrefix: 'jp-mlops-runs-',
          className: 'jp-mlops-RunsTabPanel',
          label: 'Runs',
          caption: 'Runs of the experiment chosen in the MLOps sidebar',
          icon: compareIcon
        });
        const label = () => {
          tab.title.label = model.experiment
            ? `Runs: ${model.experiment.name}`
            : 'Runs';
        };
        label();
        model.stateChanged.connect(label, tab);
        return tab;
      }
    });

    const runTabs = trackTabs<RunWidget>(restorer, {
      namespace: 'mlops-run',
      command: CommandIDs.openRun,
      args: widget => ({ runId: widget.model.runId }),
      name: widget => widget.model.runId
    });
    commands.addCommand(CommandIDs.openRun, {
      label: 'Open run',
      describedBy: {
        args: {
          type: 'object',
          properties: {
            runId: { type: 'string' },
            runName: { type: 'string' }
          },
          required: ['runId']
        }
      },
      execute: args => {
        const runId = typeof args.runId === 'string' ? args.runId : '';
        if (!runId) {
          throw new Error('Give the run id to open as runId.');
        }
        const runName =
          typeof args.runName === 'string' && args.runName
            ? args.runName
            : runId.slice(0, 8);
        const tab = openTab(shell, {
          tracker: runTabs,
          find: tab => tab.content.model.runId === runId,
          content: () =>
            new RunWidget(new RunModel(client, runId), {
              openNotebook: path =>
                void commands.execute('docmanager:open', { path }),
              openModelVersion: (name, version) => {
                if (commands.hasCommand(CommandIDs.showModelVersion)) {
                  void commands.execute(CommandIDs.showModelVersion, {
                    name,
                    version
                  });
                }
              },
              openFeatureView: name => {
                if (commands.hasCommand(CommandIDs.openFeatureView)) {
                  void commands.execute(CommandIDs.openFeatureView, { name });
                }
              }
            }),
          idPrefix: 'jp-mlops-run-',
          className: 'jp-mlops-RunTab',
          label: `Run ${runName}`,
          caption: `Run ${runId}`,
          icon: compareIcon
        });
        // A restored tab learns its name once the run is loaded.
        tab.content.model.stateChanged.connect(() => {
          const run = tab.content.model.run;
          if (run?.run_name) {
            tab.title.label = `Run ${run.run_name}`;
          }
        }, tab);
        return tab;
      }
    });

    // Any panel links a run with a `data-mlops-run-link` button (the Models lineage does).
    app.shell.node.addEventListener('click', event => {
      const target = event.target as HTMLElement | null;
      const link = target?.closest<HTMLElement>('[data-mlops-run-link]');
      const runId = link?.dataset.mlopsRunLink;
      if (runId) {
        event.preventDefault();
        void commands.execute(CommandIDs.openRun, {
          runId,
          runName: link?.textContent?.trim() ?? ''
        });
      }
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
            rendermime,
            onOpenRun: (runId, runName) =>
              void commands.execute(CommandIDs.openRun, { runId, runName })
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
      CommandIDs.openRuns,
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
