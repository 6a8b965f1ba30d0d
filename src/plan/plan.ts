import type { Precision } from '../backend/backend.js';
import type { BackendChoice } from '../backend/select.js';
import { paretoFront, plotPareto, type ParetoPoint, type PlotFiles } from '../report/plots.js';
import { enumerateCandidates, type Candidate } from './candidates.js';
import { measureThroughput, type MeasureOptions, type Measurer, type Throughput } from './measure.js';
import { paperResultsFor, primaryPaperResult, shortSource, type PaperResult } from './paperResults.js';

export type BudgetKind = 'params' | 'macs' | 'img-per-s';

export interface Budget {
  kind: BudgetKind;
  /** params <= value, MACs <= value, or measured training img/s >= value. */
  value: number;
}

export interface PlanOptions {
  budget: Budget;
  /** WRN block types to enumerate (default ['b33']). */
  blocks?: string[];
  inputSize?: number;
  inChannels?: number;
  classes?: number;
  /** Largest N in depth 6N+4 (default 20) and largest k (default 12). */
  maxN?: number;
  maxWidth?: number;
  /** Measure training / inference img/s (always on for an img/s budget). */
  measure?: boolean;
  /** Most candidates measured (default 12). */
  maxMeasure?: number;
  batch?: number;
  backend?: BackendChoice;
  precision?: Precision;
  /** Time budget of each timed phase per candidate, seconds (default 2). */
  measureSeconds?: number;
  /** Progress lines (measurements). */
  onProgress?(line: string): void;
  /** The throughput measurement (default measureThroughput: src/bench's timer; tests pass fakes). */
  measureFn?: Measurer;
}

export interface PaperError {
  name: string;
  cifar10: number | null;
  cifar100: number | null;
  dropout: boolean;
  source: string;
  /** "T4", "T5", "T6" or "README". */
  table: string;
}

export interface PlanCandidate extends Candidate {
  trainImgPerS: number | null;
  inferImgPerS: number | null;
  /** The published row that stands for this architecture (no dropout, mean/std first), if any. */
  paper: PaperError | null;
  /** Every published row for this architecture. */
  paperAll: PaperError[];
  /** On the Pareto front (see PlanResult.pareto.rule). */
  pareto: boolean;
  /** Which front the flag refers to. */
  paretoBasis: 'paper-error' | 'depth-width';
  recommended: boolean;
}

export interface PlanResult {
  budget: Budget;
  input: { size: number; channels: number; classes: number };
  blocks: string[];
  /** How many configurations were enumerated. */
  considered: number;
  /** Configurations inside the budget, cheapest first. */
  candidates: PlanCandidate[];
  pareto: {
    /** Error column used for the paper front: CIFAR-100 when --classes 100, else CIFAR-10. */
    dataset: 'cifar10' | 'cifar100';
    paperError: string[];
    depthWidth: string[];
    rule: string;
  };
  recommendation: { arch: string; params: number; macs: number; rule: string; why: string } | null;
  measurement: { measured: number; cap: number; backend: string | null; batch: number; note: string } | null;
  notes: string[];
}

const MODERATE_DEPTHS = [16, 22, 28];

function toPaperError(r: PaperResult): PaperError {
  return { name: r.name, cifar10: r.cifar10, cifar100: r.cifar100, dropout: r.dropout, source: r.source, table: shortSource(r) };
}

/** The cost axis of the budget: params, MACs (lower is better) or training img/s (higher is better). */
function costOf(c: Candidate & { trainImgPerS?: number | null }, kind: BudgetKind): number {
  if (kind === 'params') return c.params;
  if (kind === 'macs') return c.macs;
  return c.trainImgPerS ?? 0;
}

function blockLabel(block: string): string {
  return `B(${block.slice(1).split('').join(',')})`;
}

/** The recommendation among in-budget candidates: widest WRN of `block` at a moderate depth; ties go deeper. */
function pickRecommendation(cands: ReadonlyArray<Candidate>, block: string): Candidate | null {
  const wrns = cands.filter((c) => c.family === 'wrn' && c.block === block);
  const best = (pool: Candidate[]) => pool.slice().sort((a, b) => b.widen - a.widen || b.depth - a.depth)[0] ?? null;
  return best(wrns.filter((c) => MODERATE_DEPTHS.includes(c.depth))) ?? best(wrns.filter((c) => c.depth < 16));
}

/** Configurations not dominated in (depth, width) by another in-budget configuration of the same family and block. */
function depthWidthFront(cands: ReadonlyArray<Candidate>): Set<string> {
  const front = new Set<string>();
  for (const c of cands) {
    const dominated = cands.some((o) => o !== c && o.family === c.family && o.block === c.block &&
      o.depth >= c.depth && o.widen >= c.widen && (o.depth > c.depth || o.widen > c.widen));
    if (!dominated) front.add(c.arch);
  }
  return front;
}

function fmtBudget(b: Budget): string {
  const v = b.value.toLocaleString('en-US');
  return b.kind === 'params' ? `params <= ${v}` : b.kind === 'macs' ? `MACs/image <= ${v}` : `training img/s >= ${v}`;
}

/**
 * `wrn plan`: every WRN-d-k (d = 6N+4, k = 1..12, the given block types) and the thin pre-activation ResNets
 * inside a budget of parameters, MACs or measured training throughput; exact counts (shapes-only models),
 * activation memory, optional measured img/s, the paper's errors where published, Pareto fronts and a recommended k.
 */
export function runPlan(o: PlanOptions): PlanResult {
  const blocks = o.blocks ?? ['b33'];
  const input = { size: o.inputSize ?? 32, channels: o.inChannels ?? 3, classes: o.classes ?? 10 };
  const { kind, value } = o.budget;
  if (!Number.isFinite(value) || value <= 0) throw new Error(`budget: expected a positive number, got ${value}`);
  const all = enumerateCandidates({ blocks, maxN: o.maxN, maxWidth: o.maxWidth, inputSize: input.size, inChannels: input.channels, classes: input.classes });
  const recBlock = blocks.includes('b33') ? 'b33' : blocks[0]!;
  const notes: string[] = [];
  const measure = o.measure || kind === 'img-per-s';
  const cap = o.maxMeasure ?? 12;
  const mopts: MeasureOptions = {
    inputSize: input.size, inChannels: input.channels, classes: input.classes, batch: o.batch ?? 32,
    backend: o.backend, precision: o.precision, seconds: o.measureSeconds ?? 2,
  };
  const measureFn = o.measureFn ?? measureThroughput;
  const measured = new Map<string, Throughput>();
  let backendName: string | null = null;
  const doMeasure = (c: Candidate): Throughput => {
    const hit = measured.get(c.arch);
    if (hit) return hit;
    o.onProgress?.(`measuring ${c.arch} (${measured.size + 1}/${cap}) ...`);
    const t = measureFn(c.arch, mopts);
    backendName = t.backend;
    measured.set(c.arch, t);
    o.onProgress?.(`  ${c.arch}: train ${t.trainImgPerS.toFixed(1)} img/s, inference ${t.inferImgPerS.toFixed(1)} img/s`);
    return t;
  };

  let inBudget: Candidate[];
  let measureNote = '';
  if (kind === 'img-per-s') {
    if (cap < 1) throw new Error('--max-measure: an img/s budget needs at least one measured candidate');
    // Throughput falls as MACs grow: find the boundary on the MAC-sorted list by bisection (monotone assumption),
    // then spend the rest of the cap on the configurations just inside it, the recommendation's pool first.
    const sorted = all.slice().sort((a, b) => a.macs - b.macs || a.params - b.params);
    const passes = (i: number) => doMeasure(sorted[i]!).trainImgPerS >= value;
    let boundary = -1;
    if (passes(0)) {
      let lo = 0;
      let hi = sorted.length;
      // Bracket with a pessimistic MAC-rate estimate from the cheapest net: skip nets predicted 8x too slow.
      const rate = measured.get(sorted[0]!.arch)!.trainImgPerS * sorted[0]!.macs;
      const predictedHi = sorted.findIndex((c) => rate / c.macs < value / 8);
      if (predictedHi > 0) hi = predictedHi;
      while (hi - lo > 1 && measured.size < cap) {
        const mid = (lo + hi) >> 1;
        if (passes(mid)) lo = mid;
        else hi = mid;
      }
      boundary = lo;
    }
    if (boundary >= 0) {
      const limitMacs = sorted[boundary]!.macs;
      const pool = sorted.slice(0, boundary + 1);
      const rec = pool.filter((c) => c.family === 'wrn' && c.block === recBlock && MODERATE_DEPTHS.includes(c.depth))
        .sort((a, b) => b.widen - a.widen || b.depth - a.depth);
      const withPaper = pool.filter((c) => primaryPaperResult(c.arch) !== null);
      const rest = pool.slice().reverse();
      for (const c of [...rec, ...withPaper, ...rest]) {
        if (measured.size >= cap) break;
        if (!measured.has(c.arch) && c.macs <= limitMacs) doMeasure(c);
      }
      const unmeasured = pool.filter((c) => !measured.has(c.arch)).length;
      measureNote = `measured ${measured.size} of ${all.length} configurations (cap --max-measure ${cap}); ` +
        `the budget boundary was found by bisection over MACs (throughput assumed to fall as MACs grow). ` +
        (unmeasured ? `${unmeasured} configurations with fewer MACs than ${sorted[boundary]!.arch} were not measured and are not listed; ` +
          'they very likely meet the budget too (raise --max-measure to measure them).' : 'every configuration below the boundary was measured.');
    } else {
      measureNote = `even the cheapest configuration (${sorted[0]!.arch}) trains at ${measured.get(sorted[0]!.arch)!.trainImgPerS.toFixed(1)} img/s, below the budget.`;
    }
    inBudget = all.filter((c) => (measured.get(c.arch)?.trainImgPerS ?? -1) >= value);
  } else {
    inBudget = all.filter((c) => (kind === 'params' ? c.params : c.macs) <= value);
  }

  // Pareto fronts.
  const dataset: 'cifar10' | 'cifar100' = input.classes === 100 ? 'cifar100' : 'cifar10';
  const paperOf = new Map(inBudget.map((c) => [c.arch, primaryPaperResult(c.arch, dataset)] as const));
  const dw = depthWidthFront(inBudget);
  const recPre = pickRecommendation(inBudget, recBlock);

  // Measure (params / MACs budgets with --measure): the recommendation and the fronts first, then the cheapest.
  if (measure && kind !== 'img-per-s') {
    const paperPts = inBudget.filter((c) => paperOf.get(c.arch));
    const byCost = (a: Candidate, b: Candidate) => costOf(a, kind) - costOf(b, kind);
    const order = [
      ...(recPre ? [recPre] : []),
      ...paperPts.slice().sort(byCost),
      ...inBudget.filter((c) => dw.has(c.arch)).sort(byCost),
      ...inBudget.slice().sort(byCost),
    ];
    for (const c of order) {
      if (measured.size >= cap) break;
      if (!measured.has(c.arch)) doMeasure(c);
    }
    const left = inBudget.filter((c) => !measured.has(c.arch)).length;
    measureNote = `measured ${measured.size} of ${inBudget.length} configurations in the budget (cap --max-measure ${cap}): ` +
      'the recommendation, the configurations with published errors and the depth-width front first, then the cheapest' +
      (left ? `; ${left} not measured (img/s shown as -).` : '.');
  }

  const withThroughput = inBudget.map((c) => ({ ...c, trainImgPerS: measured.get(c.arch)?.trainImgPerS ?? null, inferImgPerS: measured.get(c.arch)?.inferImgPerS ?? null }));
  const paperPts = withThroughput.filter((c) => paperOf.get(c.arch));
  const paperFlags = paretoFront(
    paperPts.map((c) => ({ x: costOf(c, kind), y: paperOf.get(c.arch)![dataset]! })),
    { lowerXIsBetter: kind !== 'img-per-s', higherYIsBetter: false },
  );
  const paperFront = new Set(paperPts.filter((_, i) => paperFlags[i]).map((c) => c.arch));

  const candidates: PlanCandidate[] = withThroughput.map((c) => {
    const p = paperOf.get(c.arch) ?? null;
    return {
      ...c,
      paper: p ? toPaperError(p) : null,
      paperAll: paperResultsFor(c.arch).map(toPaperError),
      pareto: p ? paperFront.has(c.arch) : dw.has(c.arch),
      paretoBasis: p ? 'paper-error' : 'depth-width',
      recommended: recPre?.arch === c.arch,
    };
  });
  candidates.sort((a, b) => kind === 'img-per-s' ? (b.trainImgPerS ?? 0) - (a.trainImgPerS ?? 0) : costOf(a, kind) - costOf(b, kind) || a.arch.localeCompare(b.arch));

  const costName = kind === 'params' ? 'parameters' : kind === 'macs' ? 'MACs per image' : 'measured training img/s (higher is better)';
  const errName = dataset === 'cifar100' ? 'CIFAR-100' : 'CIFAR-10';
  const rule = `Configurations with a published ${errName} error are on the front when no other such configuration in the budget ` +
    `has at most the ${costName} and at most the error (one strictly better); the others when no configuration of the same family ` +
    'and block type in the budget is at least as deep and at least as wide (one strictly more): the deepest for each width and the widest for each depth.';
  if (paperPts.length > 0 && new Set(paperPts.map((c) => paperOf.get(c.arch)!.preprocessing)).size > 1) {
    notes.push('Published errors mix mean/std (Tables 5, 6) and ZCA preprocessing (Table 4); the table column says which. ' +
      'Within one table, ZCA numbers are higher than mean/std ones (e.g. WRN-28-10: 4.17% ZCA, 4.00% mean/std).');
  }
  if (input.size !== 32 || input.channels !== 3 || (input.classes !== 10 && input.classes !== 100)) {
    notes.push(`Published errors are for CIFAR (3x32x32, 10/100 classes); your input is ${input.channels}x${input.size}x${input.size} with ${input.classes} classes, so they only indicate the ranking.`);
  }
  if (inBudget.some((c) => c.family === 'wrn' && c.widen === (o.maxWidth ?? 12))) {
    notes.push(`Widths stop at k = ${o.maxWidth ?? 12} (--max-width); wider nets may fit the budget too.`);
  }

  let recommendation: PlanResult['recommendation'] = null;
  if (recPre) {
    recommendation = {
      arch: recPre.arch,
      params: recPre.params,
      macs: recPre.macs,
      rule: `the widest WRN-d-k with ${blockLabel(recBlock)} blocks at a moderate depth (${MODERATE_DEPTHS.join(', ')}) inside the budget; ` +
        'on equal k the deeper one (more of the budget used); depth 10 only when no moderate depth fits.',
      why: 'The paper finds width the better use of parameters than depth: WRN-16-8 (11.0M parameters) reaches 4.27% CIFAR-10 error ' +
        'against 4.92% for the 1001-layer pre-activation ResNet (10.2M) and 4.53% for WRN-40-4 (8.9M) (Table 5), and wide, shallow ' +
        'nets train several times faster on parallel hardware; depth 16-28 keeps enough layers for the representation.',
    };
  } else {
    notes.push(`No WRN with ${blockLabel(recBlock)} blocks fits the budget, so there is no recommendation.`);
  }
  return {
    budget: o.budget,
    input,
    blocks,
    considered: all.length,
    candidates,
    pareto: {
      dataset,
      paperError: candidates.filter((c) => c.pareto && c.paretoBasis === 'paper-error').map((c) => c.arch),
      depthWidth: candidates.filter((c) => c.pareto && c.paretoBasis === 'depth-width').map((c) => c.arch),
      rule,
    },
    recommendation,
    measurement: measure ? { measured: measured.size, cap, backend: backendName, batch: mopts.batch!, note: measureNote } : null,
    notes,
  };
}

/** The plan as one JSON-ready object (snake_case, as `wrn summary --json`). */
export function planToJson(r: PlanResult, plot: PlotFiles | null = null): Record<string, unknown> {
  return {
    budget: { kind: r.budget.kind, value: r.budget.value, text: fmtBudget(r.budget) },
    input: r.input,
    blocks: r.blocks,
    considered: r.considered,
    candidates: r.candidates.map((c) => ({
      arch: c.arch, family: c.family, depth: c.depth, widen: c.widen, block: c.block,
      params: c.params, macs: c.macs, activation_bytes_per_image: c.activationBytes,
      train_img_per_s: c.trainImgPerS, infer_img_per_s: c.inferImgPerS,
      paper: c.paper, paper_all: c.paperAll, pareto: c.pareto, pareto_basis: c.paretoBasis, recommended: c.recommended,
    })),
    pareto: { dataset: r.pareto.dataset, paper_error: r.pareto.paperError, depth_width: r.pareto.depthWidth, rule: r.pareto.rule },
    recommendation: r.recommendation,
    measurement: r.measurement,
    notes: r.notes,
    plot,
  };
}

/**
 * The plan's plot: with at least two published errors in the budget, cost vs published error with the Pareto front;
 * otherwise cost vs width for the depth-width front (the deepest net of each width that fits).
 */
export async function plotPlan(r: PlanResult, base: string): Promise<PlotFiles | null> {
  const kind = r.budget.kind;
  const xTitle = kind === 'params' ? 'parameters' : kind === 'macs' ? 'MACs per image' : 'training images / s (measured)';
  const cost = (c: PlanCandidate) => costOf(c, kind);
  const errName = r.pareto.dataset === 'cifar100' ? 'CIFAR-100' : 'CIFAR-10';
  const withPaper = r.candidates.filter((c) => c.paper && c.paper[r.pareto.dataset] !== null && cost(c) > 0);
  let points: ParetoPoint[];
  let yTitle: string;
  let subtitle: string;
  if (withPaper.length >= 2) {
    points = withPaper.map((c) => ({ x: cost(c), y: c.paper![r.pareto.dataset]!, label: `${c.arch} (${c.paper!.table})`, front: c.pareto }));
    yTitle = `${errName} test error, % (published)`;
    subtitle = `${withPaper.filter((c) => c.pareto).length} of ${withPaper.length} published configurations on the front; ${fmtBudget(r.budget)}`;
  } else {
    const pts = r.candidates.filter((c) => c.pareto && c.paretoBasis === 'depth-width' && c.family === 'wrn' && cost(c) > 0);
    if (pts.length === 0) return null;
    points = pts.map((c) => ({ x: cost(c), y: c.widen, label: c.arch, front: true }));
    yTitle = 'width k';
    subtitle = `deepest WRN of each width that fits; ${fmtBudget(r.budget)}`;
  }
  const rec = r.recommendation ? `recommended: ${r.recommendation.arch}` : 'no recommendation';
  return plotPareto(points, base, { xTitle, yTitle, logX: true, title: `Width or depth? ${rec}`, subtitle });
}

export { fmtBudget };
