import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import type { Precision } from '../../backend/backend.js';
import type { BackendChoice } from '../../backend/select.js';
import { BLOCK_TYPES } from '../../models/wideResNet.js';
import { fmtBudget, planToJson, plotPlan, runPlan, type Budget, type PlanResult } from '../../plan/plan.js';
import { loadMeasurer } from '../../plan/measure.js';
import { PAPER_REFERENCE_ONLY } from '../../plan/paperResults.js';
import type { PlotFiles } from '../../report/plots.js';
import { bytes, si, table, thousands } from '../format.js';
import { intFlag, UserError } from '../userError.js';

interface PlanFlags {
  params?: string;
  macs?: string;
  imgPerS?: string;
  inputSize?: string;
  inChannels?: string;
  classes?: string;
  blocks?: string;
  maxWidth?: string;
  maxN?: string;
  measure?: boolean;
  maxMeasure?: string;
  batch?: string;
  backend?: string;
  precision?: string;
  measureSeconds?: string;
  out?: string;
  plot?: boolean;
  json?: boolean;
}

const SUFFIX: Record<string, number> = { '': 1, k: 1e3, m: 1e6, g: 1e9, t: 1e12 };

/** "3000000", "3e6", "3M", "2.7m", "1,000,000", "500k" -> a number; anything else is a UserError naming the flag. */
export function parseAmount(flag: string, v: string): number {
  const m = /^\s*([0-9][0-9,_]*(?:\.[0-9]+)?(?:e[+-]?[0-9]+)?)\s*([kmgt]?)\s*$/i.exec(v);
  const n = m ? Number(m[1]!.replace(/[,_]/g, '')) * SUFFIX[m[2]!.toLowerCase()]! : NaN;
  if (!Number.isFinite(n) || n <= 0) throw new UserError(`${flag}: expected a positive number such as 3000000, 3e6 or 3M, got '${v}'`);
  return n;
}

function budgetOf(f: PlanFlags): Budget {
  const given = ([['params', f.params], ['macs', f.macs], ['img-per-s', f.imgPerS]] as const).filter(([, v]) => v !== undefined);
  if (given.length !== 1) throw new UserError('give exactly one budget: --params N, --macs N or --img-per-s N');
  const [kind, v] = given[0]!;
  return { kind, value: parseAmount(`--${kind}`, v!) };
}

/** --out: a path prefix (plan -> plan.svg, plan.png), a file name ending .svg/.png, or an existing folder (DIR/plan). */
function plotBase(out: string | undefined): string {
  const o = out ?? 'plan';
  if (existsSync(o) && statSync(o).isDirectory()) return path.join(o, 'plan');
  return o.replace(/\.(svg|png)$/i, '');
}

const pct = (v: number | null | undefined) => (v === null || v === undefined ? '-' : v.toFixed(2));

function printTable(r: PlanResult, plot: PlotFiles | null, plotError: string | null): void {
  const measured = r.measurement !== null;
  const header = ['', 'arch', 'depth', 'k', 'block', 'params', 'MACs', 'act/img', ...(measured ? ['train img/s', 'infer img/s'] : []),
    'C10 err', 'C100 err', 'source', 'front'];
  const rows = r.candidates.map((c) => [
    c.recommended ? '=>' : '',
    c.arch, String(c.depth), String(c.widen), c.block, thousands(c.params), si(c.macs), bytes(c.activationBytes),
    ...(measured ? [c.trainImgPerS === null ? '-' : c.trainImgPerS.toFixed(1), c.inferImgPerS === null ? '-' : c.inferImgPerS.toFixed(1)] : []),
    pct(c.paper?.cifar10), pct(c.paper?.cifar100), c.paper ? `${c.paper.table}${c.paper.dropout ? ' +dropout' : ''}` : '',
    c.pareto ? (c.paretoBasis === 'paper-error' ? '* err' : '* d/w') : '',
  ]);
  const right = header.map((h) => ['depth', 'k', 'params', 'MACs', 'act/img', 'train img/s', 'infer img/s', 'C10 err', 'C100 err'].includes(h));
  console.log(`wrn plan: ${fmtBudget(r.budget)}; input ${r.input.channels}x${r.input.size}x${r.input.size}, ${r.input.classes} classes; ` +
    `blocks ${r.blocks.join(', ')}; ${r.candidates.length} of ${r.considered} configurations fit`);
  console.log('');
  if (rows.length) console.log(table(header, rows, right));
  else console.log('(no configuration fits the budget)');
  console.log('');
  console.log('act/img: training activation memory per image (fp32 layer outputs kept for backward). C10/C100 err: published test error, %;');
  console.log('source: T4 = WRN paper Table 4 (ZCA), T5 = Table 5 (mean/std), T6 = Table 6 (mean/std), README = authors\' single run.');
  console.log(`front: * err = on the Pareto front of ${r.budget.kind === 'img-per-s' ? 'training img/s' : r.budget.kind} vs published error; ` +
    '* d/w = on the depth-width front (no wider-and-deeper net of its family fits).');
  console.log(`Pareto rule: ${r.pareto.rule}`);
  console.log(`For reference (not built here): ${PAPER_REFERENCE_ONLY.map((p) => `${p.name} ${p.cifar10}%/${p.cifar100}%`).join('; ')} (Table 5).`);
  if (r.measurement) console.log(`Throughput (${r.measurement.backend ?? 'no backend'}, batch ${r.measurement.batch}, synthetic data, ${r.measurement.via ?? '-'}): ${r.measurement.note}`);
  for (const n of r.notes) console.log(`note: ${n}`);
  console.log('');
  if (r.recommendation) {
    const rec = r.recommendation;
    console.log(`recommendation: ${rec.arch} (${thousands(rec.params)} params, ${si(rec.macs)} MACs/image)`);
    console.log(`  rule: ${rec.rule}`);
    console.log(`  why:  ${rec.why}`);
  }
  if (plot) console.log(`plot: ${plot.svg}, ${plot.png}`);
  else if (plotError) console.log(`plot: not written (${plotError})`);
}

export function register(program: Command): void {
  program
    .command('plan')
    .description('width or depth? list the WRN-d-k and pre-activation ResNet configurations inside a parameter, MAC or throughput budget, ' +
      'with exact counts, activation memory, published CIFAR errors, Pareto fronts and a recommended width')
    .option('--params <N>', 'parameter budget: params <= N (3000000, 3e6 or 3M)')
    .option('--macs <N>', 'compute budget: MACs per image <= N')
    .option('--img-per-s <N>', 'throughput budget: measured training images/s >= N (implies --measure, on the cheapest candidates only)')
    .option('--input-size <S>', 'input height = width', '32')
    .option('--in-channels <C>', 'input channels', '3')
    .option('--classes <K>', 'number of classes (100 uses the CIFAR-100 errors for the front)', '10')
    .option('--blocks <list>', `WRN block types, comma-separated: ${Object.keys(BLOCK_TYPES).join(', ')}`, 'b33')
    .option('--max-width <K>', 'largest widening factor k', '12')
    .option('--max-n <N>', 'largest N in depth 6N+4', '20')
    .option('--measure', 'measure training and inference img/s with short synthetic runs')
    .option('--max-measure <N>', 'most configurations measured', '12')
    .option('--batch <N>', 'batch size of the measurements', '32')
    .option('--backend <b>', 'auto | js | native (measurements)', 'auto')
    .option('--precision <p>', 'fp32 | bf16 (measurements)', 'fp32')
    .option('--measure-seconds <s>', 'time per measured phase (training, inference) and configuration', '2')
    .option('--out <path>', 'plot path prefix or folder (default ./plan -> plan.svg, plan.png)')
    .option('--no-plot', 'do not draw the plot')
    .option('--json', 'print one JSON object')
    .action(async (f: PlanFlags) => {
      const budget = budgetOf(f);
      const blocks = (f.blocks ?? 'b33').split(',').map((b) => b.trim().toLowerCase()).filter(Boolean);
      const bad = blocks.filter((b) => !(b in BLOCK_TYPES));
      if (bad.length || blocks.length === 0) throw new UserError(`--blocks: unknown block type '${bad[0] ?? ''}', expected some of ${Object.keys(BLOCK_TYPES).join(', ')}`);
      const backend = f.backend as BackendChoice;
      if (!['auto', 'js', 'native'].includes(backend)) throw new UserError(`--backend: expected one of auto, js, native, got '${f.backend}'`);
      const precision = f.precision as Precision;
      if (!['fp32', 'bf16'].includes(precision)) throw new UserError(`--precision: expected one of fp32, bf16, got '${f.precision}'`);
      const measureSeconds = Number(f.measureSeconds);
      if (!(measureSeconds > 0)) throw new UserError(`--measure-seconds: expected a positive number, got '${f.measureSeconds}'`);
      const r = runPlan({
        budget, blocks,
        inputSize: intFlag('--input-size', f.inputSize), inChannels: intFlag('--in-channels', f.inChannels), classes: intFlag('--classes', f.classes),
        maxWidth: intFlag('--max-width', f.maxWidth), maxN: intFlag('--max-n', f.maxN),
        measure: Boolean(f.measure), maxMeasure: intFlag('--max-measure', f.maxMeasure, 0), batch: intFlag('--batch', f.batch),
        backend, precision, measureSeconds,
        measureFn: f.measure || budget.kind === 'img-per-s' ? await loadMeasurer() : undefined,
        onProgress: (line) => (f.json ? console.error(line) : console.log(line)),
      });
      let plot: PlotFiles | null = null;
      let plotError: string | null = f.plot === false ? 'disabled by --no-plot' : null;
      if (f.plot !== false) {
        try {
          plot = await plotPlan(r, plotBase(f.out));
          if (!plot) plotError = 'nothing to plot';
        } catch (e) {
          plotError = (e as Error).message;
        }
      }
      if (f.json) console.log(JSON.stringify({ ...planToJson(r, plot), ...(plotError ? { plot_error: plotError } : {}) }));
      else printTable(r, plot, plotError);
    });
}
