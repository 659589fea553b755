import { JupyterFrontEnd } from '@jupyterlab/application';
import { MainAreaWidget, WidgetTracker } from '@jupyterlab/apputils';
import { LabIcon } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

/** What a main-area tab shows and how to find one that already shows it. */
export interface ITabOptions<T extends Widget> {
  /** The tabs of this kind; a new tab is added to it (so the layout restorer sees it). */
  tracker: WidgetTracker<MainAreaWidget<T>>;
  /** Whether an open tab already shows what is asked for. */
  find: (tab: MainAreaWidget<T>) => boolean;
  /** The content of a new tab. */
  content: () => T;
  /** The new tab's id is this prefix and a number. */
  idPrefix: string;
  className: string;
  label: string;
  caption: string;
  icon: LabIcon;
}

let lastId = 0;

/**
 * Show a tab in the main area: the open one `find` picks, or else a new closable one, added to
 * its tracker and the main area.
 */
export function openTab<T extends Widget>(
  shell: JupyterFrontEnd.IShell,
  options: ITabOptions<T>
): MainAreaWidget<T> {
  const existing = options.tracker.find(options.find);
  if (existing) {
    shell.activateById(existing.id);
    return existing;
  }
  const tab = new MainAreaWidget({ content: options.content() });
  tab.id = `${options.idPrefix}${++lastId}`;
  tab.addClass(options.className);
  tab.title.label = options.label;
  tab.title.caption = options.caption;
  tab.title.icon = options.icon;
  tab.title.closable = true;
  void options.tracker.add(tab);
  shell.add(tab, 'main');
  shell.activateById(tab.id);
  return tab;
}
