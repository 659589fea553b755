import { JupyterFrontEnd } from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import {
  refreshIcon,
  Toolbar,
  ToolbarButton,
  VDomModel,
  VDomRenderer
} from '@jupyterlab/ui-components';
import { Message } from '@lumino/messaging';
import { AccordionPanel } from '@lumino/widgets';

import { IMlopsSidebar, PALETTE_CATEGORY } from '../tokens';

/** A model a sidebar section can (re)load. */
export interface IRefreshable extends VDomModel {
  refresh(): Promise<void>;
}

/**
 * One capability's section of the MLOps sidebar: a React view of a model, a refresh button in
 * the section header, and a first load when the section is first shown, so a sidebar that is
 * never opened costs no request. Capabilities subclass it and render their view.
 */
export abstract class SidebarSection<
  M extends IRefreshable
> extends VDomRenderer<M> {
  constructor(model: M, options: SidebarSection.IOptions) {
    super(model);
    this.id = options.id;
    this.addClass(options.className);
    this.title.label = options.label;
    this.title.caption = options.caption;
    this.refreshLabel = options.refreshTooltip;
    // Shown in the section's header by the sidebar's accordion.
    this.toolbar = new Toolbar();
    this.toolbar.addItem(
      'refresh',
      new ToolbarButton({
        icon: refreshIcon,
        tooltip: this.refreshLabel,
        onClick: () => void this.model.refresh()
      })
    );
  }

  readonly toolbar: Toolbar;

  /** What the refresh button in the header says; the section's refresh command says it too. */
  readonly refreshLabel: string;

  /** Open the MLOps sidebar with this section expanded. */
  reveal(shell: JupyterFrontEnd.IShell, sidebar: IMlopsSidebar): void {
    shell.activateById(sidebar.id);
    // The sidebar is an accordion: expand this section in it if it is collapsed.
    const accordion = this.parent;
    if (accordion instanceof AccordionPanel) {
      const index = accordion.widgets.indexOf(this);
      if (index >= 0 && !this.isVisible) {
        accordion.expand(index);
      }
    }
  }

  /** Whether the model has not loaded anything yet. */
  protected abstract isUnloaded(): boolean;

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this._loadOnce();
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    this._loadOnce();
  }

  private _loadOnce(): void {
    if (this.isVisible && this.isUnloaded()) {
      void this.model.refresh();
    }
  }
}

export namespace SidebarSection {
  export interface IOptions {
    id: string;
    className: string;
    label: string;
    caption: string;
    refreshTooltip: string;
  }
}

/**
 * Put the keyboard focus on an element of a section once the command that asked for it is over.
 * The command palette that ran a command hands the focus back to the main area's current widget
 * after the command returns (a launcher or a notebook takes it a few frames later), so focusing
 * at once does not last: keep focusing until the element has held the focus for some frames.
 * Gives up when the user clicks elsewhere first, and after about two seconds.
 */
export function focusWhenSettled(find: () => HTMLElement | null): void {
  let held = 0;
  let frames = 120;
  let userMoved = false;
  const onPointerDown = (event: Event) => {
    if (!find()?.contains(event.target as Node)) {
      userMoved = true;
    }
  };
  document.addEventListener('pointerdown', onPointerDown, true);
  const step = () => {
    const target = find();
    if (target && document.activeElement === target) {
      held += 1;
    } else {
      held = 0;
      target?.focus({ preventScroll: true });
    }
    frames -= 1;
    if (userMoved || held >= 8 || frames <= 0) {
      document.removeEventListener('pointerdown', onPointerDown, true);
      return;
    }
    requestAnimationFrame(step);
  };
  step();
}

/** Add the command that reloads a section, as the refresh button in its header does. */
export function addRefreshCommand(
  commands: JupyterFrontEnd['commands'],
  id: string,
  section: SidebarSection<IRefreshable>,
  caption: string
): void {
  commands.addCommand(id, {
    label: section.refreshLabel,
    caption,
    execute: () => section.model.refresh()
  });
}

/** Put a section's commands in the command palette, under "MLOps". */
export function addToPalette(
  palette: ICommandPalette | null,
  commands: readonly string[]
): void {
  for (const command of commands) {
    palette?.addItem({ command, category: PALETTE_CATEGORY });
  }
}
