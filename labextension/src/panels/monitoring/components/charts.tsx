/*
 * Small charts drawn as SVG by React. The server sends the numbers (shares per bin, a time
 * series), not figures, and these charts live in a narrow sidebar: a few rectangles and a line
 * need no charting library, render offline, and take their colours from the theme's CSS
 * variables (see style/monitoring.css).
 */
import * as React from 'react';

import { IDriftChart } from '../../../api';
import { formatShare } from './format';

const WIDTH = 360;
const BARS_HEIGHT = 110;
const LABELS_HEIGHT = 18;
const AXIS_WIDTH = 34;
/** Category labels longer than this are cut (the full label is in the tooltip). */
const LABEL_CHARS = 8;
/** At most this many labels under the bars, so that they never overlap. */
const MAX_LABELS = 5;

function shortLabel(label: string): string {
  return label.length > LABEL_CHARS
    ? `${label.slice(0, LABEL_CHARS - 1)}…`
    : label;
}

/** An edge of a numeric bin, short: `12`, `0.35`, `1.2e+4`. */
function edgeLabel(value: number): string {
  if (!Number.isFinite(value)) {
    return String(value);
  }
  const abs = Math.abs(value);
  if (abs !== 0 && (abs < 1e-2 || abs >= 1e4)) {
    return value.toExponential(1);
  }
  return String(Number(value.toPrecision(3)));
}

/** Every `step`-th of `count` items, so that at most MAX_LABELS are picked. */
function picked(count: number): (i: number) => boolean {
  const step = Math.max(1, Math.ceil(count / MAX_LABELS));
  return i => i % step === 0;
}

/**
 * The labels under the bars: the inner edges between numeric bins (the outer bins are open), or
 * the categories; bins after the numeric ones (missing values, infinities) by their names.
 */
function axisLabels(
  chart: IDriftChart,
  x: (boundary: number) => number
): { x: number; text: string }[] {
  const edges = chart.edges ?? [];
  // edges[i] is where numeric bin i starts: edges.length - 1 numeric bins.
  const numeric = Math.max(0, edges.length - 1);
  const labels: { x: number; text: string }[] = [];
  const inner = edges.slice(1, -1);
  const showEdge = picked(inner.length);
  inner.forEach((edge, i) => {
    if (showEdge(i)) {
      labels.push({ x: x(i + 1), text: edgeLabel(edge) });
    }
  });
  const named = chart.bins.slice(numeric);
  const showBin = picked(named.length);
  named.forEach((bin, i) => {
    if (showBin(i)) {
      labels.push({ x: x(numeric + i + 0.5), text: shortLabel(bin) });
    }
  });
  return labels;
}

/**
 * Reference vs current: for each bin of a feature, two bars, the share of the reference's rows
 * and the share of the window's rows that fall in it.
 */
export function ShareBars(props: {
  feature: string;
  chart: IDriftChart;
  drifted: boolean;
}): JSX.Element {
  const { feature, chart, drifted } = props;
  const n = chart.bins.length;
  const top = Math.max(0.01, ...chart.reference, ...chart.current);
  const plotWidth = WIDTH - AXIS_WIDTH;
  const group = plotWidth / Math.max(n, 1);
  const bar = Math.max(1, (group * 0.8) / 2);
  const y = (share: number) => BARS_HEIGHT - (share / top) * (BARS_HEIGHT - 6);
  const boundary = (i: number) => AXIS_WIDTH + i * group;
  return (
    <figure className="jp-mlops-ShareBars" data-chart={feature}>
      <svg
        className="jp-mlops-ShareBars-svg"
        viewBox={`0 0 ${WIDTH} ${BARS_HEIGHT + LABELS_HEIGHT}`}
        role="img"
        aria-label={`Reference vs current shares of ${feature}`}
        preserveAspectRatio="xMidYMid meet"
      >
        <line
          className="jp-mlops-Chart-gridline"
          x1={AXIS_WIDTH}
          x2={WIDTH}
          y1={y(top)}
          y2={y(top)}
        />
        <text
          className="jp-mlops-Chart-tick"
          x={AXIS_WIDTH - 4}
          y={y(top) + 4}
          textAnchor="end"
        >
          {formatShare(top)}
        </text>
        <text
          className="jp-mlops-Chart-tick"
          x={AXIS_WIDTH - 4}
          y={BARS_HEIGHT}
          textAnchor="end"
        >
          0%
        </text>
        {chart.bins.map((bin, i) => {
          const left = AXIS_WIDTH + i * group + group * 0.1;
          const reference = chart.reference[i] ?? 0;
          const current = chart.current[i] ?? 0;
          return (
            <g key={i} data-bin={bin}>
              <title>
                {`${bin}: reference ${formatShare(reference)}, current ${formatShare(current)}`}
              </title>
              <rect
                className="jp-mlops-ShareBars-reference"
                x={left}
                y={y(reference)}
                width={bar}
                height={BARS_HEIGHT - y(reference)}
              />
              <rect
                className={
                  'jp-mlops-ShareBars-current' +
                  (drifted ? ' jp-mod-drifted' : '')
                }
                x={left + bar}
                y={y(current)}
                width={bar}
                height={BARS_HEIGHT - y(current)}
              />
            </g>
          );
        })}
        <line
          className="jp-mlops-Chart-axis"
          x1={AXIS_WIDTH}
          x2={WIDTH}
          y1={BARS_HEIGHT}
          y2={BARS_HEIGHT}
        />
        {axisLabels(chart, boundary).map(label => (
          <text
            key={label.x}
            className="jp-mlops-Chart-tick"
            x={label.x}
            y={BARS_HEIGHT + 12}
            textAnchor={label.x > WIDTH - 16 ? 'end' : 'middle'}
          >
            {label.text}
          </text>
        ))}
      </svg>
      <figcaption className="jp-mlops-Legend">
        <span className="jp-mlops-Legend-item">
          <span className="jp-mlops-Legend-swatch jp-mlops-ShareBars-reference" />
          reference
        </span>
        <span className="jp-mlops-Legend-item">
          <span
            className={
              'jp-mlops-Legend-swatch jp-mlops-ShareBars-current' +
              (drifted ? ' jp-mod-drifted' : '')
            }
          />
          current
        </span>
      </figcaption>
    </figure>
  );
}

const SPARK_HEIGHT = 40;

/**
 * A line over a time series (oldest first); gaps where a value is missing, a dot on the latest.
 * Its scale starts at 0 and ends at the largest value (at least `floor`).
 */
export function Sparkline(props: {
  name: string;
  label: string;
  values: ReadonlyArray<number | null | undefined>;
  format: (value: number | null | undefined) => string;
  floor?: number;
}): JSX.Element {
  const { name, label, values, format } = props;
  const known = values.filter((v): v is number => typeof v === 'number');
  const top = Math.max(props.floor ?? 0, ...known) || 1;
  const n = values.length;
  const x = (i: number) =>
    n <= 1 ? WIDTH / 2 : (i / (n - 1)) * (WIDTH - 8) + 4;
  const y = (v: number) => SPARK_HEIGHT - 4 - (v / top) * (SPARK_HEIGHT - 8);
  // One path; a missing value starts a new segment.
  let path = '';
  let pen = false;
  values.forEach((v, i) => {
    if (typeof v !== 'number') {
      pen = false;
      return;
    }
    path += `${pen ? 'L' : 'M'}${x(i).toFixed(1)},${y(v).toFixed(1)} `;
    pen = true;
  });
  let lastIndex = -1;
  values.forEach((v, i) => {
    if (typeof v === 'number') {
      lastIndex = i;
    }
  });
  const last = lastIndex >= 0 ? (values[lastIndex] as number) : null;
  return (
    <div className="jp-mlops-Sparkline" data-trend={name}>
      <div className="jp-mlops-Sparkline-header">
        <span className="jp-mlops-Sparkline-label">{label}</span>
        <span
          className="jp-mlops-Sparkline-value"
          title={`max ${format(known.length ? Math.max(...known) : null)}`}
        >
          {format(last)}
        </span>
      </div>
      <svg
        className="jp-mlops-Sparkline-svg"
        viewBox={`0 0 ${WIDTH} ${SPARK_HEIGHT}`}
        preserveAspectRatio="none"
        role="img"
        aria-label={`${label} over the last ${n} checks`}
      >
        <line
          className="jp-mlops-Chart-axis"
          x1={0}
          x2={WIDTH}
          y1={SPARK_HEIGHT - 4}
          y2={SPARK_HEIGHT - 4}
        />
        {path && <path className="jp-mlops-Sparkline-line" d={path} />}
        {last !== null && (
          // A zero-length stroke with round caps: a dot that stays round when stretched.
          <path
            className="jp-mlops-Sparkline-dot"
            d={`M${x(lastIndex).toFixed(1)},${y(last).toFixed(1)} l0,0`}
          />
        )}
      </svg>
    </div>
  );
}
