import { ILayoutRestorer, JupyterFrontEnd } from '@jupyterlab/application';
import { MainAreaWidget, WidgetTracker } from '@jupyterlab/apputils';
import { LabIcon } from '@jupyterlab/ui-components';
import { ReadonlyPartialJSONObject } from '@lumino/coreutils';
import { Widget } from '@lumino/widgets';

/** One kind of main-area tab, and how a reload brings its open tabs back. */
export interface ITabKind<T extends Widget> {
  /** The tracker's namespace, under which the layout records the open tabs. */
  namespace: string;
  /** The command that opens a tab; a reload runs it with each open tab's `args`. */
  command: string;
  args: (content: T) => ReadonlyPartialJSONObject;
  /** What a tab shows, unique among the tabs of its kind. */
  name: (content: T) => string;
}

/**
 * The tracker of one kind of tab. With a layout restorer, the tabs open at a reload come back:
 * the restorer runs the kind's command for each of them.
 */
export function trackTabs<T extends Widget>(
  restorer: ILayoutRestorer | null,
  kind: ITabKind<T>
): WidgetTracker<MainAreaWidget<T>> {
  const tracker = new WidgetTracker<MainAreaWidget<T>>({
    namespace: kind.namespace
  });
  void restorer?.restore(tracker, {
    command: kind.command,
    args: tab => kind.args(tab.content),
    name: tab => kind.name(tab.content)
  });
  return tracker;
}

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
