import { LabIcon } from '@jupyterlab/ui-components';

/** A table with a highlighted key column: the icon of a "Feature view" tab. */
const FEATURE_VIEW_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <path d="M3 4h18v16H3V4zm2 2v3h4V6H5zm6 0v3h8V6h-8zM5 11v3h4v-3H5zm6 0v3h8v-3h-8zM5 16v2h4v-2H5zm6 0v2h8v-2h-8z"/>
  </g>
</svg>`;

export const featureViewIcon = new LabIcon({
  name: 'jupyter-mlops:feature-view',
  svgstr: FEATURE_VIEW_SVG
});
