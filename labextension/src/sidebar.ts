import { SidePanel, Toolbar } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

import { mlopsIcon } from './icons';
import { IMlopsSidebar } from './tokens';

const DEFAULT_RANK = 100;

/**
 * The MLOps area of the left sidebar: an accordion with one section per capability.
 */
export class MlopsSidebar extends SidePanel implements IMlopsSidebar {
  constructor() {
    super();
    this.id = 'jp-mlops-sidebar';
    this.addClass('jp-mlops-Sidebar');
    this.title.icon = mlopsIcon;
    this.title.caption = 'MLOps';
    const heading = new Widget();
    heading.addClass('jp-mlops-Sidebar-title');
    heading.node.textContent = 'MLOps';
    this.header.addWidget(heading);
  }

  addSection(
    widget: Toolbar.IWidgetToolbar,
    options: IMlopsSidebar.ISectionOptions = {}
  ): void {
    const rank = options.rank ?? DEFAULT_RANK;
    this._ranks.set(widget, rank);
    const index = this.widgets.findIndex(
      w => (this._ranks.get(w) ?? DEFAULT_RANK) > rank
    );
    this.insertWidget(index < 0 ? this.widgets.length : index, widget);
  }

  private _ranks = new WeakMap<Widget, number>();
}
