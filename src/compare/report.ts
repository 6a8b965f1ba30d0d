import { renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { si } from '../cli/format.js';
import { plotCurvesOverlay, plotScatter, type PlotFiles } from '../report/plots.js';
import type { CompareState, RunSummary } from './compare.js';

/** Mean and sample standard deviation (n - 1; 0 for one value) of the non-null values; null when there are none. */
export interface Stat {
  mean: number;
  std: number;
  n: number;
}

export function stat(values: ReadonlyArray<number | null>): Stat | null {
  const v = values.filter((x): x is number => x !== null && Number.isFinite(x));
  if (v.length === 0) return null;
  const mean = v.reduce((s, x) => s + x, 0) / v.length;
  const std = v.length > 1 ? Math.sqrt(v.reduce((s, x) => s + (x - mean) ** 2, 0) / (v.length - 1)) : 0;
  return { mean, std, n: v.length };
}

/** One architecture over its seeds. */
export interface ArchSummary {
  arch: string;
  seeds: number[];
  epochs: number;
  params: number;
  macs: number;
  imgPerS: Stat;
  wallSeconds: Stat;
  bestValAcc: Stat | null;
  testAcc: Stat | null;
  finalTrainAcc: Stat;
  gap: Stat | null;
}

export function summarizeArchs(runs: ReadonlyArray<RunSummary>): ArchSummary[] {
  const archs = [...new Set(runs.map((r) => r.arch))];
  return archs.map((arch) => {
    const rs = runs.filter((r) => r.arch === arch);
    return {
      arch,
      seeds: rs.map((r) => r.seed),
      epochs: Math.max(...rs.map((r) => r.epochs)),
      params: rs[0]!.params,
      macs: rs[0]!.macs,
      imgPerS: stat(rs.map((r) => r.imgPerS))!,
      wallSeconds: stat(rs.map((r) => r.wallSeconds))!,
      bestValAcc: stat(rs.map((r) => r.bestValAcc)),
      testAcc: stat(rs.map((r) => r.testAcc)),
      finalTrainAcc: stat(rs.map((r) => r.finalTrainAcc))!,
      gap: stat(rs.map((r) => r.gap)),
    };
  });
}

const pctPm = (s: Stat | null): string => (s === null ? '-' : s.n > 1 ? `${(100 * s.mean).toFixed(2)} ± ${(100 * s.std).toFixed(2)}` : (100 * s.mean).toFixed(2));
const numPm = (s: Stat, digits: number): string => (s.n > 1 ? `${s.mean.toFixed(digits)} ± ${s.std.toFixed(digits)}` : s.mean.toFixed(digits));


function wall(s: Stat): string {
  const fmt = (x: number) => (x >= 3600 ? `${(x / 3600).toFixed(2)} h` : x >= 120 ? `${(x / 60).toFixed(1)} min` : `${x.toFixed(1)} s`);
  return s.n > 1 ? `${fmt(s.mean)} ± ${fmt(s.std)}` : fmt(s.mean);
}

export const TABLE_HEADER = ['arch', 'params', 'MACs', 'epochs', 'seeds', 'train img/s', 'wall time', 'best val acc %', 'test acc %',
  'train acc %', 'train-test gap %'];

/** Table rows (strings), one per architecture. */
export function tableRows(summary: ReadonlyArray<ArchSummary>): string[][] {
  return summary.map((s) => [
    s.arch, s.params.toLocaleString('en-US'), si(s.macs, '', ''), String(s.epochs), String(s.seeds.length), numPm(s.imgPerS, 1), wall(s.wallSeconds),
    pctPm(s.bestValAcc), pctPm(s.testAcc), pctPm(s.finalTrainAcc), pctPm(s.gap),
  ]);
}

function recipeLine(state: CompareState): string {
  const r = state.recipe;
  return `data ${state.data}; ${state.minutes !== null ? `${state.minutes} min per run` : `${state.epochs} epochs`}; batch ${r.batch}, ` +
    `lr ${r.lr} (${r.schedule}${r.warmup ? `, warm-up ${r.warmup}` : ''}), momentum ${r.momentum}${r.nesterov ? ' Nesterov' : ''}, ` +
    `wd ${r.wd}, WRN dropout ${r.dropout ?? 0.3}, val-size ${r.valSize}${r.limit ? `, limit ${r.limit}` : ''}` +
    `${r.evalLimit ? `, eval-limit ${r.evalLimit}` : ''}, ${r.precision}, backend ${r.backend}`;
}

export function markdown(
  state: CompareState, summary: ReadonlyArray<ArchSummary>, runs: ReadonlyArray<RunSummary>, plots: Record<string, PlotFiles>,
  plotErrors: ReadonlyArray<string>, out: string,
): string {
  const head = `| ${TABLE_HEADER.join(' | ')} |`;
  const sep = `|${TABLE_HEADER.map((h, i) => (i === 0 ? ' --- ' : ' ---: ')).join('|')}|`;
  const rows = tableRows(summary).map((r) => `| ${r.join(' | ')} |`);
  const lines = [
    '# Width or depth? Comparison', '',
    `Recipe: ${recipeLine(state)}.`, '',
    head, sep, ...rows, '',
    'Values are mean ± sample standard deviation over the seeds (one value when there is one seed). ' +
      'Test accuracy uses the weights with the best validation accuracy; train acc is the running training accuracy of the last ' +
      'epoch (with augmentation and dropout), and the train-test gap (train acc minus test acc) is the overfitting figure. ' +
      'Wall time covers training, evaluation and checkpoints, summed over resumed sessions; img/s is the mean training throughput.',
  ];
  if (state.minutes !== null) {
    lines.push('', `Epoch counts were chosen for ${state.minutes} min per run from a short timing of each architecture ` +
      '(seconds per epoch = training images / timed training img/s + validation images / timed inference img/s, +10%); ' +
      'runs were not cut at the budget, so that the learning-rate schedule completes.');
  }
  const names = Object.entries(plots);
  if (names.length) {
    lines.push('', '## Plots', '');
    for (const [title, f] of names) lines.push(`![${title}](${path.relative(out, f.svg).split(path.sep).join('/')})`, '');
  }
  if (plotErrors.length) lines.push(`Plots not drawn: ${plotErrors.join('; ')}`, '');
  const fmtWall = (x: number) => (x >= 120 ? `${(x / 60).toFixed(1)} min` : `${x.toFixed(1)} s`);
  const p = (x: number | null) => (x === null ? '-' : (100 * x).toFixed(2));
  lines.push('## Runs', '', '| arch | seed | epochs | best epoch | best val acc % | test acc % | wall time | directory |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
    ...runs.map((r) => `| ${r.arch} | ${r.seed} | ${r.epochs} | ${r.bestEpoch ?? '-'} | ${p(r.bestValAcc)} | ${p(r.testAcc)} | ` +
      `${fmtWall(r.wallSeconds)} | ${path.relative(out, r.dir).split(path.sep).join('/')} |`), '');
  return lines.join('\n');
}

function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

export interface CompareReport {
  summary: ArchSummary[];
  plots: Record<string, PlotFiles>;
  plotErrors: string[];
  files: { markdown: string; json: string };
}

/** Writes DIR/compare.md, DIR/compare.json and the plots (accuracy vs params and vs wall time, overlaid curves). */
export async function writeReport(out: string, state: CompareState, runs: ReadonlyArray<RunSummary>): Promise<CompareReport> {
  const summary = summarizeArchs(runs);
  const plots: Record<string, PlotFiles> = {};
  const plotErrors: string[] = [];
  const haveTest = summary.every((s) => s.testAcc !== null);
  const acc = (s: ArchSummary) => (haveTest ? s.testAcc : s.bestValAcc);
  const accName = haveTest ? 'test accuracy' : 'best validation accuracy';
  const tryPlot = async (title: string, fn: () => Promise<PlotFiles>) => {
    try {
      plots[title] = await fn();
    } catch (e) {
      plotErrors.push(`${title}: ${(e as Error).message}`);
    }
  };
  const pts = summary.filter((s) => acc(s) !== null);
  if (pts.length) {
    const nSeeds = [...new Set(summary.map((s) => s.seeds.length))];
    const seedsNote = `mean ± std over ${nSeeds.join('/')} seed${nSeeds.length === 1 && nSeeds[0] === 1 ? '' : 's'}`;
    await tryPlot(`${accName} vs parameters`, () => plotScatter(
      pts.map((s) => ({ x: s.params, y: 100 * acc(s)!.mean, yErr: acc(s)!.std > 0 ? 100 * acc(s)!.std : undefined, label: s.arch })),
      path.join(out, 'acc-vs-params'),
      { xTitle: 'parameters', yTitle: `${accName} (%)`, logX: true, title: `${accName} vs parameters (${seedsNote})`, yFormat: '.1f' },
    ));
    const secs = pts.map((s) => s.wallSeconds.mean);
    const maxS = Math.max(...secs);
    const [unit, div] = maxS >= 7200 ? ['hours', 3600] : maxS >= 120 ? ['minutes', 60] : ['seconds', 1];
    await tryPlot(`${accName} vs wall time`, () => plotScatter(
      pts.map((s) => ({ x: s.wallSeconds.mean / div, y: 100 * acc(s)!.mean, yErr: acc(s)!.std > 0 ? 100 * acc(s)!.std : undefined, label: s.arch })),
      path.join(out, 'acc-vs-time'),
      { xTitle: `wall time per run (${unit})`, yTitle: `${accName} (%)`, logX: maxS / Math.min(...secs) > 20, title: `${accName} vs wall time (${seedsNote})`, yFormat: '.1f' },
    ));
  }
  const curves = runs.map((r) => ({ name: `${r.arch} seed ${r.seed}`, rows: r.metrics }));
  const hasVal = runs.some((r) => r.metrics.some((m) => m.val_acc !== null && m.val_acc !== undefined));
  await tryPlot(hasVal ? 'validation accuracy by epoch' : 'training accuracy by epoch',
    () => plotCurvesOverlay(curves, path.join(out, hasVal ? 'curves-val-acc' : 'curves-train-acc'), hasVal ? 'val_acc' : 'train_acc'));
  await tryPlot('training loss by epoch', () => plotCurvesOverlay(curves, path.join(out, 'curves-train-loss'), 'train_loss'));

  const md = markdown(state, summary, runs, plots, plotErrors, out);
  const files = { markdown: path.join(out, 'compare.md'), json: path.join(out, 'compare.json') };
  writeAtomic(files.markdown, md);
  const json = {
    data: state.data,
    recipe: state.recipe,
    epochs: state.epochs,
    minutes: state.minutes,
    epochs_by_arch: state.epochsByArch,
    timing: state.timing,
    summary: summary.map((s) => ({
      arch: s.arch, seeds: s.seeds, epochs: s.epochs, params: s.params, macs: s.macs, img_per_s: s.imgPerS, wall_s: s.wallSeconds,
      best_val_acc: s.bestValAcc, test_acc: s.testAcc, final_train_acc: s.finalTrainAcc, train_test_gap: s.gap,
    })),
    runs: runs.map((r) => ({
      arch: r.arch, seed: r.seed, dir: r.dir, epochs: r.epochs, params: r.params, macs: r.macs, img_per_s: r.imgPerS, wall_s: r.wallSeconds,
      best_val_acc: r.bestValAcc, best_epoch: r.bestEpoch, test_acc: r.testAcc, final_train_acc: r.finalTrainAcc, train_test_gap: r.gap,
    })),
    plots,
    plot_errors: plotErrors,
  };
  writeAtomic(files.json, `${JSON.stringify(json, null, 2)}\n`);
  return { summary, plots, plotErrors, files };
}
