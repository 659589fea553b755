import { LabIcon } from '@jupyterlab/ui-components';

/** A flask over a line chart; `jp-icon3` makes it follow the theme. */
const MLOPS_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <path d="M9 2h6v2h-1v5.2l5.6 9.3A2.3 2.3 0 0 1 17.6 22H6.4a2.3 2.3 0 0 1-2-3.5L10 9.2V4H9V2zm3 8.3-2.5 4.2h5L12 10.3z"/>
  </g>
</svg>`;

/** The three-column icon of a comparison tab. */
const COMPARE_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <path d="M3 4h5v16H3V4zm6.5 4h5v12h-5V8zM16 12h5v8h-5v-8z"/>
  </g>
</svg>`;

export const mlopsIcon = new LabIcon({
  name: 'jupyter-mlops:mlops',
  svgstr: MLOPS_SVG
});

export const compareIcon = new LabIcon({
  name: 'jupyter-mlops:compare',
  svgstr: COMPARE_SVG
});
