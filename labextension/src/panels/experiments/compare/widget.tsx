import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { VDomRenderer } from '@jupyterlab/ui-components';
import { Message } from '@lumino/messaging';
import { Panel } from '@lumino/widgets';
import * as React from 'react';

import { IComparison } from '../../../api';
import { ChartsPanel } from './charts';
import { CompareView } from './CompareView';
import { CompareModel } from './model';

/** The toggles and tables of a Compare tab (React). */
class CompareTables extends VDomRenderer<CompareModel> {
  constructor(
    model: CompareModel,
    onOpenRun: (runId: string, runName: string) => void
  ) {
    super(model);
    this.addClass('jp-mlops-CompareTables');
    this._onOpenRun = onOpenRun;
  }

  protected render(): JSX.Element {
    return <CompareView model={this.model} onOpenRun={this._onOpenRun} />;
  }

  private _onOpenRun: (runId: string, runName: string) => void;
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
    this._tables = new CompareTables(
      this.model,
      options.onOpenRun ?? (() => undefined)
    );
    this._charts = new ChartsPanel(options.rendermime);
    this.addWidget(this._tables);
    this.addWidget(this._charts);
    this.model.comparisonChanged.connect((_, comparison) =>
      this._drawChartsAfterTables(comparison)
    );
  }

  /**
   * The tables first, the charts after: plotly (loaded and run by its renderer) takes seconds
   * to draw three figures, and drawn in the same task it held the tables back that long. The
   * charts start once the frame with the tables has been painted.
   */
  private _drawChartsAfterTables(comparison: IComparison | null): void {
    const ticket = ++this._chartsTicket;
    this._charts.render(null);
    requestAnimationFrame(() => {
      setTimeout(() => {
        if (ticket === this._chartsTicket && !this.isDisposed) {
          this._charts.render(comparison);
        }
      }, 0);
    });
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
  private _chartsTicket = 0;
}

export namespace CompareWidget {
  export interface IOptions {
    model: CompareModel;
    rendermime: IRenderMimeRegistry;
    /** Open a compared run's page. */
    onOpenRun?: (runId: string, runName: string) => void;
  }
}
