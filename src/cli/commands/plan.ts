import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { fmtBudget, planToJson, plotPlan, runPlan, type Budget, type PlanResult } from '../../plan/plan.js';
import { PAPER_REFERENCE_ONLY } from '../../plan/paperResults.js';
import type { PlotFiles } from '../../report/plots.js';
import { bytes, si, table, thousands } from '../format.js';
import { addFlags, COMPUTE, MODEL_SHAPE, OUTPUT, PLAN, readFlags, withDefault, type Values } from '../flags.js';
import { UserError } from '../userError.js';

const FLAGS = {
  ...PLAN,
  inputSize: withDefault(MODEL_SHAPE.inputSize, 32),
  inChannels: withDefault(MODEL_SHAPE.inChannels, 3),
  classes: withDefault({ ...MODEL_SHAPE.classes, help: 'number of classes (100 uses the CIFAR-100 errors for the front)' }, 10),
  blocks: withDefault(PLAN.blocks, ['b33']),
  maxWidth: withDefault(PLAN.maxWidth, 12),
  maxN: withDefault(PLAN.maxN, 20),
  maxMeasure: withDefault(PLAN.maxMeasure, 12),
  batch: withDefault(PLAN.batch, 32),
  measureSeconds: withDefault(PLAN.measureSeconds, 2),
  backend: withDefault({ ...COMPUTE.backend, help: 'auto | js | native (measurements)' }, 'auto'),
  precision: withDefault({ ...COMPUTE.precision, help: 'fp32 | bf16 (measurements)' }, 'fp32'),
  ...OUTPUT,
};

function budgetOf(f: Values<typeof FLAGS>): Budget {
  const given = ([['params', f.params], ['macs', f.macs], ['img-per-s', f.imgPerS]] as const).filter(([, v]) => v !== undefined);
  if (given.length !== 1) throw new UserError('give exactly one budget: --params N, --macs N or --img-per-s N');
  const [kind, value] = given[0]!;
  return { kind, value: value! };
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
  if (r.measurement) console.log(`Throughput (${r.measurement.backend ?? 'no backend'}, batch ${r.measurement.batch}, synthetic data, src/bench timer): ${r.measurement.note}`);
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
  const cmd = program
    .command('plan')
    .description('width or depth? list the WRN-d-k and pre-activation ResNet configurations inside a parameter, MAC or throughput budget, ' +
      'with exact counts, activation memory, published CIFAR errors, Pareto fronts and a recommended width');
  addFlags(cmd, FLAGS)
    .action(async (_opts: unknown, c: Command) => {
      const f = readFlags(FLAGS, c);
      const budget = budgetOf(f);
      const r = runPlan({
        budget, blocks: f.blocks,
        inputSize: f.inputSize, inChannels: f.inChannels, classes: f.classes, maxWidth: f.maxWidth, maxN: f.maxN,
        measure: Boolean(f.measure), maxMeasure: f.maxMeasure, batch: f.batch,
        backend: f.backend, precision: f.precision, measureSeconds: f.measureSeconds,
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
