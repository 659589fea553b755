import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { VDomRenderer } from '@jupyterlab/ui-components';
import { Message } from '@lumino/messaging';
import { Panel } from '@lumino/widgets';
import * as React from 'react';

import { ChartsPanel } from './charts';
import { CompareView } from './CompareView';
import { CompareModel } from './model';

/** The toggles and tables of a Compare tab (React). */
class CompareTables extends VDomRenderer<CompareModel> {
  constructor(model: CompareModel) {
    super(model);
    this.addClass('jp-mlops-CompareTables');
  }

  protected render(): JSX.Element {
    return <CompareView model={this.model} />;
  }
}

/**
 * The content of a Compare tab: the tables, then the charts (Lumino widgets from the rendermime
 * registry, so they get resize and show messages).
 */
export class CompareWidget extends Panel {
  constructor(options: CompareWidget.IOptions) {
    super();
    this.addClass('jp-mlops-Compare');
    this.model = options.model;
    this._tables = new CompareTables(this.model);
    this._charts = new ChartsPanel(options.rendermime);
    this.addWidget(this._tables);
    this.addWidget(this._charts);
    this.model.comparisonChanged.connect((_, comparison) =>
      this._charts.render(comparison)
    );
  }

  readonly model: CompareModel;

  /** Redraw the charts in the current theme's colours. */
  refreshTheme(): void {
    this._charts.refreshTheme();
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    super.dispose();
    this.model.dispose();
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    if (this.model.status === 'idle') {
      void this.model.load();
    }
  }

  private _tables: CompareTables;
  private _charts: ChartsPanel;
}

export namespace CompareWidget {
  export interface IOptions {
    model: CompareModel;
    rendermime: IRenderMimeRegistry;
  }
}
