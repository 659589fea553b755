import { MimeModel, IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { JSONObject, JSONValue } from '@lumino/coreutils';
import { Panel, Widget } from '@lumino/widgets';

import { IComparison, PlotlyFigure } from '../../../api';

/** The mimetype of plotly figures, drawn by the renderer of the `jupyterlab-plotly` extension. */
export const PLOTLY_MIMETYPE = 'application/vnd.plotly.v1+json';

/** The figures of a comparison, in display order, with their headings. */
const FIGURES: ReadonlyArray<{ key: string; title: string }> = [
  { key: 'bars', title: 'Metrics' },
  { key: 'history', title: 'Metric history' },
  { key: 'parallel', title: 'Parallel coordinates' }
];

/** Trace types drawn on x/y axes (the others, like parcoords, have none). */
const CARTESIAN = new Set([
  'scatter',
  'scattergl',
  'bar',
  'box',
  'violin',
  'histogram',
  'heatmap'
]);

/**
 * The comparison's plotly figures, drawn by JupyterLab's rendermime registry so that the installed
 * plotly renderer is used (plotly.js is not bundled here).
 */
export class ChartsPanel extends Panel {
  constructor(rendermime: IRenderMimeRegistry) {
    super();
    this.addClass('jp-mlops-Charts');
    this._rendermime = rendermime;
  }

  /** Draw the figures of `comparison` (or clear them when it is null). */
  render(comparison: IComparison | null): void {
    this._comparison = comparison;
    this._draw();
  }

  /** Redraw with the colours of the current theme. */
  refreshTheme(): void {
    this._draw();
  }

  private _draw(): void {
    // The plotly renderer draws a model once, so every redraw uses new renderers.
    const ticket = ++this._ticket;
    while (this.widgets.length > 0) {
      this.widgets[0].dispose();
    }
    const comparison = this._comparison;
    if (!comparison) {
      return;
    }
    const present = FIGURES.filter(
      f => comparison.figures[f.key] !== undefined
    );
    if (present.length === 0) {
      this.addWidget(
        Private.message('The server sent no charts for these runs.')
      );
      return;
    }
    if (!this._rendermime.getFactory(PLOTLY_MIMETYPE)) {
      this.addWidget(
        Private.message(
          'Charts need the plotly renderer for JupyterLab (the jupyterlab-plotly ' +
            'extension, shipped by the "plotly" Python package), which is not installed ' +
            'or is disabled. Install or enable it and reload JupyterLab.',
          true
        )
      );
      return;
    }
    const colors = Private.themeColors(this.node);
    // One chart per task: the page stays responsive while plotly draws.
    const next = (index: number) => {
      if (
        ticket !== this._ticket ||
        this.isDisposed ||
        index >= present.length
      ) {
        return;
      }
      const { key, title } = present[index];
      this.addWidget(
        new ChartWidget({
          rendermime: this._rendermime,
          figure: themedFigure(comparison.figures[key], colors),
          title,
          name: key
        })
      );
      setTimeout(() => next(index + 1), 0);
    };
    next(0);
  }

  private _rendermime: IRenderMimeRegistry;
  private _comparison: IComparison | null = null;
  private _ticket = 0;
}

/** One chart: a heading and the plotly renderer. */
class ChartWidget extends Panel {
  constructor(options: {
    rendermime: IRenderMimeRegistry;
    figure: PlotlyFigure;
    title: string;
    name: string;
  }) {
    super();
    this.addClass('jp-mlops-Chart');
    this.node.dataset.chart = options.name;
    this.node.setAttribute('aria-label', options.title);
    if (!Private.hasTitle(options.figure)) {
      const heading = new Widget({ node: document.createElement('h3') });
      heading.addClass('jp-mlops-Chart-title');
      heading.node.textContent = options.title;
      this.addWidget(heading);
    }

    let renderer: IRenderMime.IRenderer;
    try {
      renderer = options.rendermime.createRenderer(PLOTLY_MIMETYPE);
    } catch (reason) {
      this.addWidget(
        Private.message(`Cannot draw this chart: ${String(reason)}`, true)
      );
      return;
    }
    renderer.addClass('jp-mlops-Chart-plot');
    this.addWidget(renderer);
    const model = new MimeModel({
      data: { [PLOTLY_MIMETYPE]: options.figure },
      trusted: true
    });
    renderer.renderModel(model).catch(reason => {
      renderer.dispose();
      this.addWidget(
        Private.message(`Cannot draw this chart: ${String(reason)}`, true)
      );
    });
  }
}

/** Theme colours, resolved from JupyterLab's CSS variables (plotly cannot read variables). */
export interface IThemeColors {
  background: string;
  font: string;
  grid: string;
  line: string;
}

/**
 * A copy of `figure` whose backgrounds, fonts and grid lines use the theme's colours, so a figure
 * made with plotly's default (light) template reads well in the dark theme too.
 */
export function themedFigure(
  figure: PlotlyFigure,
  colors: IThemeColors
): PlotlyFigure {
  const copy = JSON.parse(JSON.stringify(figure)) as JSONObject;
  const layout = Private.object(copy.layout);
  copy.layout = layout;
  layout.paper_bgcolor = colors.background;
  layout.plot_bgcolor = colors.background;
  layout.font = { ...Private.object(layout.font), color: colors.font };
  const legend = Private.object(layout.legend);
  layout.legend = { ...legend, bgcolor: 'rgba(0,0,0,0)' };

  const traces = Array.isArray(copy.data) ? copy.data : [];
  const cartesian = traces.some(trace => {
    const type = Private.object(trace).type;
    return (
      type === undefined || (typeof type === 'string' && CARTESIAN.has(type))
    );
  });
  const axisKeys = Object.keys(layout).filter(key => /^[xy]axis\d*$/.test(key));
  if (cartesian) {
    axisKeys.push('xaxis', 'yaxis');
  }
  for (const key of new Set(axisKeys)) {
    layout[key] = {
      ...Private.object(layout[key]),
      gridcolor: colors.grid,
      linecolor: colors.line,
      zerolinecolor: colors.line
    };
  }
  return copy;
}

namespace Private {
  export function object(value: JSONValue | undefined): JSONObject {
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? { ...value }
      : {};
  }

  /** Whether the figure's layout has a title of its own. */
  export function hasTitle(figure: PlotlyFigure): boolean {
    const title = object(figure.layout).title;
    if (typeof title === 'string') {
      return title.length > 0;
    }
    const text = object(title).text;
    return typeof text === 'string' && text.length > 0;
  }

  export function themeColors(node: HTMLElement): IThemeColors {
    const style = getComputedStyle(node.isConnected ? node : document.body);
    const read = (name: string, fallback: string) =>
      style.getPropertyValue(name).trim() || fallback;
    return {
      background: read('--jp-layout-color0', '#ffffff'),
      font: read('--jp-ui-font-color1', '#212121'),
      grid: read('--jp-border-color2', '#e0e0e0'),
      line: read('--jp-border-color1', '#bdbdbd')
    };
  }

  export function message(text: string, warn = false): Widget {
    const widget = new Widget();
    widget.addClass('jp-mlops-Empty');
    if (warn) {
      widget.addClass('jp-mlops-Chart-unavailable');
      widget.node.setAttribute('role', 'alert');
    }
    widget.node.textContent = text;
    return widget;
  }
}
