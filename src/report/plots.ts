/**
 * Report plots: training curves, confusion matrix, scatter (e.g. accuracy vs parameters / wall time), overlaid curves
 * from several runs, and Pareto fronts. Each function writes `<base>.svg` and `<base>.png` atomically and returns their paths.
 */
import type { TopLevelSpec } from 'vega-lite';
import { type EpochMetrics, type MetricName, METRIC_NAMES, validateEpochMetrics } from './metrics.js';
import { baseConfig, findFont, renderPlot, type PlotFiles } from './render.js';

export type { PlotFiles } from './render.js';

export interface ScatterPoint {
  x: number;
  y: number;
  /** Text drawn next to the point. */
  label: string;
  /** Colour group (e.g. model family); points without one share the default colour. */
  series?: string;
  /** Half-length of a vertical error bar (e.g. the std over seeds); omitted or 0 for none. */
  yErr?: number;
}

export interface ScatterOptions {
  xTitle: string;
  yTitle: string;
  /** Logarithmic x axis (all x must be > 0). */
  logX?: boolean;
  title?: string;
  /** d3-format strings for the axis labels; by default large x values use SI prefixes (2.7M). */
  xFormat?: string;
  yFormat?: string;
}

export interface ParetoPoint {
  x: number;
  y: number;
  label: string;
  /** True for points on the Pareto front (see paretoFront()). */
  front: boolean;
}

export interface ParetoOptions {
  xTitle: string;
  yTitle: string;
  /** Logarithmic x axis (all x must be > 0). */
  logX?: boolean;
  title?: string;
  /** d3-format strings for the axis labels; by default large x values use SI prefixes (2.7M). */
  xFormat?: string;
  yFormat?: string;
  /** Subtitle; default "k of n points on the front". */
  subtitle?: string;
}

export interface RunCurves {
  name: string;
  rows: EpochMetrics[];
}

const TRAIN_COLOR = '#1f77b4';
const VAL_COLOR = '#d62728';
const PANEL_W = 380;
const PANEL_H = 260;

function fontFamily(): string {
  const f = findFont().family;
  return f === 'sans-serif' ? f : `${f}, sans-serif`;
}

function finite(v: unknown, where: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw new Error(`${where}: expected a finite number, got ${typeof v === 'number' ? String(v) : (JSON.stringify(v) ?? String(v))}`);
  }
  return v;
}

function checkBase(fn: string, base: unknown): string {
  if (typeof base !== 'string' || base === '') throw new Error(`${fn}: base must be a non-empty output path prefix`);
  return base;
}

function nonEmptyString(v: unknown, where: string): string {
  if (typeof v !== 'string' || v === '') throw new Error(`${where}: expected a non-empty string, got ${JSON.stringify(v)}`);
  return v;
}

/** Accuracies stored as fractions are shown as percentages; values above 1 are assumed to be percentages already. */
function accFormat(values: number[]): { format: string } {
  return values.every((v) => v <= 1.0000001) ? { format: '.0%' } : { format: '.1f' };
}

function fmtAcc(v: number, asFraction: boolean): string {
  return asFraction ? `${(v * 100).toFixed(2)}%` : v.toFixed(2);
}

function epochAxis(): Record<string, unknown> {
  return { title: 'epoch', tickMinStep: 1, format: 'd' };
}

/** A y scale that hugs the data, except when all values are equal (then from 0, so the axis is not degenerate). */
function valueScale(values: number[]): { zero: boolean } {
  return { zero: new Set(values).size < 2 };
}

const METRIC_TITLES: Record<MetricName, string> = {
  lr: 'learning rate',
  train_loss: 'training loss',
  train_acc: 'training accuracy',
  val_loss: 'validation loss',
  val_acc: 'validation accuracy',
  seconds: 'seconds per epoch',
  img_per_s: 'images / s',
  world_size: 'ranks',
  allreduce_s_per_step: 'allreduce s / step',
  allreduce_wait_s_per_step: 'allreduce wait s / step',
};

function checkRows(fn: string, rows: unknown, where: string): EpochMetrics[] {
  if (!Array.isArray(rows)) throw new Error(`${fn}: ${where} must be an array of EpochMetrics`);
  if (rows.length === 0) throw new Error(`${fn}: ${where} is empty; need at least one epoch of metrics`);
  return rows.map((r, i) => validateEpochMetrics(r, `${fn}: ${where}[${i}]`)).sort((a, b) => a.epoch - b.epoch);
}

/**
 * Two panels against epoch: loss (train / val) and accuracy (train / val). Validation values that are null or
 * absent are skipped. Accuracies in [0, 1] are drawn as percentages.
 */
export async function plotTrainingCurves(rows: EpochMetrics[], base: string, title?: string): Promise<PlotFiles> {
  const fn = 'plotTrainingCurves';
  checkBase(fn, base);
  const clean = checkRows(fn, rows, 'rows');
  type Pt = { epoch: number; split: string; value: number };
  const loss: Pt[] = [];
  const acc: Pt[] = [];
  for (const r of clean) {
    loss.push({ epoch: r.epoch, split: 'train', value: r.train_loss });
    acc.push({ epoch: r.epoch, split: 'train', value: r.train_acc });
    if (r.val_loss != null) loss.push({ epoch: r.epoch, split: 'val', value: r.val_loss });
    if (r.val_acc != null) acc.push({ epoch: r.epoch, split: 'val', value: r.val_acc });
  }
  const af = accFormat(acc.map((p) => p.value));
  const asFraction = af.format.endsWith('%');
  const last = clean[clean.length - 1]!;
  const summary: string[] = [`${clean.length} epoch${clean.length === 1 ? '' : 's'}`, `final train loss ${last.train_loss.toFixed(4)}`];
  const vals = clean.filter((r) => r.val_acc != null);
  if (vals.length > 0) {
    const best = vals.reduce((a, b) => ((b.val_acc as number) > (a.val_acc as number) ? b : a));
    summary.push(`best val acc ${fmtAcc(best.val_acc as number, asFraction)} (epoch ${best.epoch})`);
  } else {
    summary.push(`final train acc ${fmtAcc(last.train_acc, asFraction)}`);
  }
  const showPoints = clean.length <= 60;
  const hasVal = loss.length + acc.length > 2 * clean.length;
  const color = {
    field: 'split',
    type: 'nominal' as const,
    title: null,
    scale: hasVal ? { domain: ['train', 'val'], range: [TRAIN_COLOR, VAL_COLOR] } : { domain: ['train'], range: [TRAIN_COLOR] },
    legend: { orient: 'right' as const },
  };
  const panel = (data: Pt[], panelTitle: string, yTitle: string, yAxis: Record<string, unknown>) => ({
    title: panelTitle,
    width: PANEL_W,
    height: PANEL_H,
    data: { values: data },
    mark: { type: 'line' as const, point: showPoints, strokeWidth: 2 },
    encoding: {
      x: { field: 'epoch', type: 'quantitative' as const, axis: epochAxis(), scale: { nice: false } },
      y: { field: 'value', type: 'quantitative' as const, title: yTitle, scale: valueScale(data.map((p) => p.value)), axis: yAxis },
      color,
    },
  });
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: title ?? 'Training curves', subtitle: summary.join(' · ') },
    config: baseConfig(fontFamily()),
    hconcat: [
      panel(loss, 'Loss', 'cross-entropy loss', {}),
      panel(acc, 'Accuracy', asFraction ? 'accuracy' : 'accuracy (%)', { format: af.format }),
    ],
    spacing: 30,
  } as TopLevelSpec;
  return renderPlot(spec, base);
}

/**
 * Confusion-matrix heatmap: rows = true class, columns = predicted class, counts written in the cells
 * (omitted when there are more than 40 classes, where they would not fit).
 */
export async function plotConfusionMatrix(matrix: number[][], labels: string[], base: string, title?: string): Promise<PlotFiles> {
  const fn = 'plotConfusionMatrix';
  checkBase(fn, base);
  if (!Array.isArray(labels) || labels.length === 0) throw new Error(`${fn}: labels must be a non-empty array of class names`);
  labels.forEach((l, i) => nonEmptyString(l, `${fn}: labels[${i}]`));
  if (new Set(labels).size !== labels.length) {
    const dup = labels.find((l, i) => labels.indexOf(l) !== i);
    throw new Error(`${fn}: labels must be unique, '${dup}' appears more than once`);
  }
  const n = labels.length;
  if (!Array.isArray(matrix) || matrix.length !== n) {
    throw new Error(`${fn}: matrix has ${Array.isArray(matrix) ? matrix.length : 'no'} rows but labels has ${n} classes; expected a ${n}x${n} matrix`);
  }
  type Cell = { truth: string; pred: string; count: number; text: string };
  const cells: Cell[] = [];
  let max = 0;
  let total = 0;
  let correct = 0;
  let integral = true;
  for (let i = 0; i < n; i++) {
    const row = matrix[i];
    if (!Array.isArray(row) || row.length !== n) {
      throw new Error(`${fn}: matrix[${i}] has ${Array.isArray(row) ? row.length : 'no'} columns; expected ${n} (one per label)`);
    }
    for (let j = 0; j < n; j++) {
      const v = finite(row[j], `${fn}: matrix[${i}][${j}]`);
      if (v < 0) throw new Error(`${fn}: matrix[${i}][${j}]: expected a count >= 0, got ${v}`);
      if (!Number.isInteger(v)) integral = false;
      max = Math.max(max, v);
      total += v;
      if (i === j) correct += v;
      cells.push({ truth: labels[i]!, pred: labels[j]!, count: v, text: '' });
    }
  }
  for (const c of cells) c.text = integral ? String(c.count) : c.count.toFixed(2);
  const cell = Math.max(8, Math.min(48, Math.floor(560 / n)));
  const showText = n <= 40;
  const textSize = Math.max(7, Math.min(12, Math.floor(cell / 3.2)));
  const axisFont = Math.max(7, Math.min(11, Math.round(cell * 0.7)));
  const overlap = n > 40 ? 'parity' : false;
  const fmt = (v: number) => (integral ? String(v) : String(Number(v.toFixed(2))));
  const subtitle = total > 0 ? `accuracy ${((100 * correct) / total).toFixed(2)}% (${fmt(correct)} / ${fmt(total)})` : 'empty matrix';
  const x = {
    field: 'pred',
    type: 'ordinal' as const,
    sort: labels,
    title: 'predicted class',
    axis: { labelAngle: -45, labelLimit: 120, labelOverlap: overlap, labelFontSize: axisFont },
    scale: { domain: labels },
  };
  const y = {
    field: 'truth',
    type: 'ordinal' as const,
    sort: labels,
    title: 'true class',
    axis: { labelLimit: 120, labelOverlap: overlap, labelFontSize: axisFont },
    scale: { domain: labels },
  };
  const layers: unknown[] = [
    {
      mark: { type: 'rect', stroke: '#ffffff', strokeWidth: n <= 40 ? 1 : 0 },
      encoding: {
        x,
        y,
        color: {
          field: 'count',
          type: 'quantitative',
          title: integral ? 'count' : 'value',
          scale: { range: ['#f7fbff', '#08519c'], interpolate: 'hcl', domain: [0, max > 0 ? max : 1] },
          legend: { gradientLength: Math.min(n * cell, 240) },
        },
      },
    },
  ];
  if (showText) {
    layers.push({
      mark: { type: 'text', fontSize: textSize, baseline: 'middle' },
      encoding: {
        x,
        y,
        text: { field: 'text', type: 'nominal' },
        color: { condition: { test: `datum.count > ${max * 0.5}`, value: 'white' }, value: '#222222' },
      },
    });
  }
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: title ?? 'Confusion matrix', subtitle },
    config: baseConfig(fontFamily()),
    width: n * cell,
    height: n * cell,
    data: { values: cells },
    layer: layers,
  } as TopLevelSpec;
  return renderPlot(spec, base);
}

function checkXY(fn: string, pts: unknown, logX: boolean | undefined): void {
  if (!Array.isArray(pts) || pts.length === 0) throw new Error(`${fn}: points must be a non-empty array`);
  pts.forEach((p: unknown, i) => {
    if (typeof p !== 'object' || p === null) throw new Error(`${fn}: points[${i}]: expected an object {x, y, label}`);
    const o = p as Record<string, unknown>;
    const x = finite(o.x, `${fn}: points[${i}].x`);
    finite(o.y, `${fn}: points[${i}].y`);
    if (typeof o.label !== 'string') throw new Error(`${fn}: points[${i}].label: expected a string, got ${JSON.stringify(o.label)}`);
    if (logX && x <= 0) throw new Error(`${fn}: points[${i}].x: logX needs x > 0, got ${x}`);
  });
}

function checkAxisOpts(fn: string, opts: unknown): void {
  if (typeof opts !== 'object' || opts === null) throw new Error(`${fn}: options {xTitle, yTitle} are required`);
  const o = opts as Record<string, unknown>;
  if (typeof o.xTitle !== 'string') throw new Error(`${fn}: options.xTitle: expected a string`);
  if (typeof o.yTitle !== 'string') throw new Error(`${fn}: options.yTitle: expected a string`);
}

function xScale(logX: boolean | undefined): Record<string, unknown> {
  return logX ? { type: 'log', nice: false, padding: 20 } : { zero: false, padding: 20 };
}

/** x / y position encodings shared by the layers of scatter-like plots. */
function xyEncodings(
  pts: ReadonlyArray<{ x: number; y: number }>,
  opts: { xTitle: string; yTitle: string; logX?: boolean; xFormat?: string; yFormat?: string },
) {
  const big = (vs: number[]) => Math.max(...vs.map(Math.abs)) >= 1e4;
  const xFormat = opts.xFormat ?? (big(pts.map((p) => p.x)) ? '~s' : undefined);
  const yFormat = opts.yFormat ?? (big(pts.map((p) => p.y)) ? '~s' : undefined);
  const x = {
    field: 'x',
    type: 'quantitative' as const,
    title: opts.xTitle,
    scale: xScale(opts.logX),
    ...(xFormat ? { axis: { format: xFormat } } : {}),
  };
  const yAxis = yFormat ? { axis: { format: yFormat } } : {};
  return { x, yAxis };
}

const PLOT_W = 520;
const PLOT_H = 340;
const LABEL_CHAR_PX = 6.2; // approximate width of one 10px DejaVu Sans character

/**
 * Which side of its point each label goes, so that labels near the plot's edges stay inside it:
 * `prefer` unless the label would run past that edge (x positions estimated from the data range).
 */
function labelSides(pts: ReadonlyArray<{ x: number; label: string }>, logX: boolean | undefined, prefer: 'left' | 'right'): ('left' | 'right')[] {
  const t = (v: number) => (logX ? Math.log(v) : v);
  const xs = pts.map((p) => t(p.x));
  const lo = Math.min(...xs);
  const hi = Math.max(...xs);
  const span = hi - lo;
  return pts.map((p, i) => {
    const px = span > 0 ? ((xs[i]! - lo) / span) * PLOT_W : PLOT_W / 2;
    const w = 10 + LABEL_CHAR_PX * p.label.length;
    const fitsRight = px + w <= PLOT_W + 20;
    const fitsLeft = px - w >= -20;
    if (prefer === 'right') return fitsRight || !fitsLeft ? 'right' : 'left';
    return fitsLeft || !fitsRight ? 'left' : 'right';
  });
}

const OUTSIDE_LEGEND = { orient: 'right' as const, labelLimit: 220 };

/**
 * Labelled scatter plot with optional vertical error bars (yErr) and colour groups (series),
 * e.g. test accuracy vs parameter count (logX) or vs wall time.
 */
export async function plotScatter(points: ScatterPoint[], base: string, opts: ScatterOptions): Promise<PlotFiles> {
  const fn = 'plotScatter';
  checkBase(fn, base);
  checkAxisOpts(fn, opts);
  checkXY(fn, points, opts.logX);
  const data = points.map((p, i) => {
    const err = p.yErr === undefined ? 0 : finite(p.yErr, `${fn}: points[${i}].yErr`);
    if (err < 0) throw new Error(`${fn}: points[${i}].yErr: expected >= 0, got ${err}`);
    if (p.series !== undefined && typeof p.series !== 'string') throw new Error(`${fn}: points[${i}].series: expected a string`);
    return { x: p.x, y: p.y, label: p.label, series: p.series ?? '', lo: p.y - err, hi: p.y + err, err, side: '' };
  });
  labelSides(data, opts.logX, 'right').forEach((side, i) => (data[i]!.side = side));
  const hasSeries = data.some((d) => d.series !== '');
  const hasErr = data.some((d) => d.err > 0);
  const { x, yAxis } = xyEncodings(data, opts);
  const yScale = { zero: false, padding: 20 };
  const color = hasSeries ? { field: 'series', type: 'nominal' as const, title: null, legend: OUTSIDE_LEGEND } : { value: TRAIN_COLOR };
  const layers: unknown[] = [];
  if (hasErr) {
    layers.push({
      transform: [{ filter: 'datum.err > 0' }],
      mark: { type: 'errorbar', ticks: { size: 8 }, thickness: 1.5 },
      encoding: { x, y: { field: 'lo', type: 'quantitative', title: opts.yTitle, scale: yScale, ...yAxis }, y2: { field: 'hi' }, color },
    });
  }
  layers.push({
    mark: { type: 'point', filled: true, size: 70, opacity: 1 },
    encoding: {
      x,
      y: { field: 'y', type: 'quantitative', title: opts.yTitle, scale: yScale, ...yAxis },
      color,
      tooltip: [{ field: 'label' }, { field: 'x' }, { field: 'y' }],
    },
  });
  for (const side of ['left', 'right'] as const) {
    layers.push({
      transform: [{ filter: `datum.side === '${side}'` }],
      mark: { type: 'text', align: side === 'right' ? 'left' : 'right', baseline: 'middle', dx: side === 'right' ? 8 : -8, fontSize: 10, color: '#333333' },
      encoding: { x, y: { field: 'y', type: 'quantitative' }, text: { field: 'label' } },
    });
  }
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    ...(opts.title ? { title: opts.title } : {}),
    config: baseConfig(fontFamily()),
    width: PLOT_W,
    height: PLOT_H,
    data: { values: data },
    layer: layers,
  } as TopLevelSpec;
  return renderPlot(spec, base);
}

/** One metric against epoch for several runs, one coloured line per run (null / absent values are skipped). */
export async function plotCurvesOverlay(runs: RunCurves[], base: string, metric: MetricName, title?: string): Promise<PlotFiles> {
  const fn = 'plotCurvesOverlay';
  checkBase(fn, base);
  if (!METRIC_NAMES.includes(metric)) throw new Error(`${fn}: metric must be one of ${METRIC_NAMES.join(', ')}, got ${JSON.stringify(metric)}`);
  if (!Array.isArray(runs) || runs.length === 0) throw new Error(`${fn}: runs must be a non-empty array of {name, rows}`);
  const names = new Set<string>();
  const data: { run: string; epoch: number; value: number }[] = [];
  let maxEpochs = 0;
  runs.forEach((r, i) => {
    const name = nonEmptyString(r?.name, `${fn}: runs[${i}].name`);
    if (names.has(name)) throw new Error(`${fn}: runs[${i}].name: '${name}' is used by two runs; names must be unique`);
    names.add(name);
    const rows = checkRows(fn, r.rows, `runs[${i}].rows ('${name}')`);
    maxEpochs = Math.max(maxEpochs, rows.length);
    for (const row of rows) {
      const v = row[metric];
      if (v != null) data.push({ run: name, epoch: row.epoch, value: v });
    }
  });
  if (data.length === 0) throw new Error(`${fn}: no run has a value for '${metric}' (all null or absent)`);
  const isAcc = metric === 'train_acc' || metric === 'val_acc';
  // Step schedules span decades: a log axis for the learning rate when every value is positive.
  const logY = metric === 'lr' && data.every((d) => d.value > 0);
  const af = isAcc ? accFormat(data.map((d) => d.value)) : undefined;
  const yTitle = METRIC_TITLES[metric] + (af && !af.format.endsWith('%') ? ' (%)' : '');
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: title ?? `${METRIC_TITLES[metric]} by run`,
    config: baseConfig(fontFamily()),
    width: 520,
    height: 320,
    data: { values: data },
    mark: { type: 'line', point: maxEpochs <= 40, strokeWidth: 2 },
    encoding: {
      x: { field: 'epoch', type: 'quantitative', axis: epochAxis(), scale: { nice: false } },
      y: {
        field: 'value',
        type: 'quantitative',
        title: yTitle,
        scale: logY ? { type: 'log' } : valueScale(data.map((d) => d.value)),
        ...(af ? { axis: { format: af.format } } : metric === 'lr' ? { axis: { format: '~g' } } : {}),
      },
      color: { field: 'run', type: 'nominal', title: 'run', sort: [...names], legend: { labelLimit: 260 } },
    },
  } as TopLevelSpec;
  return renderPlot(spec, base);
}

/**
 * Flags the Pareto-optimal points: a point is on the front when no other point is at least as good on both axes and
 * strictly better on one. By default lower x is better (cost: parameters, seconds) and higher y is better (accuracy).
 */
export function paretoFront(
  points: ReadonlyArray<{ x: number; y: number }>,
  opts: { lowerXIsBetter?: boolean; higherYIsBetter?: boolean } = {},
): boolean[] {
  const sx = opts.lowerXIsBetter === false ? -1 : 1;
  const sy = opts.higherYIsBetter === false ? -1 : 1;
  return points.map((p, i) =>
    !points.some((q, j) => {
      if (j === i) return false;
      const xle = sx * q.x <= sx * p.x;
      const yge = sy * q.y >= sy * p.y;
      return xle && yge && (sx * q.x < sx * p.x || sy * q.y > sy * p.y);
    }),
  );
}

/**
 * Scatter plot with the Pareto front highlighted: front points filled and joined by a step line (sorted by x),
 * dominated points hollow and grey. Every point is labelled.
 */
export async function plotPareto(points: ParetoPoint[], base: string, opts: ParetoOptions): Promise<PlotFiles> {
  const fn = 'plotPareto';
  checkBase(fn, base);
  checkAxisOpts(fn, opts);
  checkXY(fn, points, opts.logX);
  const data = points.map((p, i) => {
    if (typeof p.front !== 'boolean') throw new Error(`${fn}: points[${i}].front: expected true or false, got ${JSON.stringify(p.front)}`);
    return { x: p.x, y: p.y, label: p.label, status: p.front ? 'Pareto front' : 'dominated', side: '' };
  });
  // The front's step line leaves each point to the right: labels go left of their point, or above-right at the left edge.
  labelSides(data, opts.logX, 'left').forEach((side, i) => (data[i]!.side = side));
  const nFront = data.filter((d) => d.status === 'Pareto front').length;
  const { x, yAxis } = xyEncodings(data, opts);
  const y = { field: 'y', type: 'quantitative' as const, title: opts.yTitle, scale: { zero: false, padding: 20 }, ...yAxis };
  const domain = ['Pareto front', 'dominated'];
  const color = {
    field: 'status',
    type: 'nominal' as const,
    title: null,
    scale: { domain, range: [VAL_COLOR, '#8c8c8c'] },
    legend: OUTSIDE_LEGEND,
  };
  const layers: unknown[] = [];
  if (nFront >= 2) {
    layers.push({
      transform: [{ filter: "datum.status === 'Pareto front'" }],
      mark: { type: 'line', interpolate: 'step-after', strokeWidth: 1.5, strokeDash: [5, 3], color: VAL_COLOR },
      encoding: { x, y, order: { field: 'x', type: 'quantitative' } },
    });
  }
  layers.push({
    mark: { type: 'point', size: 80, strokeWidth: 1.5 },
    encoding: {
      x,
      y,
      color,
      fill: { field: 'status', type: 'nominal', title: null, scale: { domain, range: [VAL_COLOR, 'transparent'] }, legend: OUTSIDE_LEGEND },
      shape: { field: 'status', type: 'nominal', title: null, scale: { domain, range: ['diamond', 'circle'] }, legend: OUTSIDE_LEGEND },
      tooltip: [{ field: 'label' }, { field: 'x' }, { field: 'y' }, { field: 'status' }],
    },
  });
  for (const side of ['left', 'right'] as const) {
    layers.push({
      transform: [{ filter: `datum.side === '${side}'` }],
      mark:
        side === 'left'
          ? { type: 'text', align: 'right', baseline: 'middle', dx: -9, fontSize: 10 }
          : { type: 'text', align: 'left', baseline: 'bottom', dx: 5, dy: -6, fontSize: 10 },
      encoding: {
        x,
        y,
        text: { field: 'label' },
        color: { condition: { test: "datum.status === 'Pareto front'", value: '#222222' }, value: '#8c8c8c' },
      },
    });
  }
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: opts.title ?? 'Pareto front', subtitle: opts.subtitle ?? `${nFront} of ${data.length} points on the front` },
    config: baseConfig(fontFamily()),
    width: PLOT_W,
    height: PLOT_H,
    data: { values: data },
    layer: layers,
  } as TopLevelSpec;
  return renderPlot(spec, base);
}
