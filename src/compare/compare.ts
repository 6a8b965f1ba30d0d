import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { openSafetensors } from '../io/safetensors.js';
import { canonicalArch, parseArch } from '../models/registry.js';
import { countArch } from '../plan/candidates.js';
import { measureThroughput, type Measurer } from '../plan/measure.js';
import type { EpochMetrics } from '../report/metrics.js';
import { loadSplits } from '../train/batches.js';
import { PAPER_DEFAULTS, train, writeJsonAtomic, type TrainConfig, type TrainEvents } from '../train/trainer.js';

/** The training recipe shared by every run of a comparison (everything of TrainConfig but arch, seed, out, epochs). */
export type Recipe = Omit<TrainConfig, 'arch' | 'seed' | 'out' | 'epochs' | 'dropout' | 'data'> & {
  /** Dropout for the WRNs; undefined: the paper's 0.3. Other families have none (always 0). */
  dropout?: number;
};

export interface CompareOptions {
  archs: string[];
  data: string;
  seeds: number[];
  /** Fixed epoch count for every run; or `minutes`. */
  epochs?: number;
  /** Wall-time budget per run in minutes: the epoch count of each architecture is chosen from a quick timing. */
  minutes?: number;
  out: string;
  recipe?: Partial<Recipe>;
  events?: CompareEvents;
  /** The throughput measurement used by `minutes` (default measureThroughput: src/bench's timer). */
  measureFn?: Measurer;
}

export interface CompareEvents {
  info?(line: string): void;
  runStart?(r: { arch: string; seed: number; index: number; total: number; resumed: boolean; epochs: number; dir: string }): void;
  runSkip?(r: { arch: string; seed: number; index: number; total: number; dir: string }): void;
  epochEnd?(r: { arch: string; seed: number; epochs: number }, m: EpochMetrics): void;
  runEnd?(r: RunSummary): void;
  /** Forwarded to train() (batch progress). */
  train?: Pick<TrainEvents, 'batchEnd' | 'epochStart'>;
}

/** One finished run, as read back from its run directory. */
export interface RunSummary {
  arch: string;
  seed: number;
  dir: string;
  epochs: number;
  params: number;
  macs: number;
  /** Mean training throughput over the epochs. */
  imgPerS: number;
  /** Wall time of the run (training, evaluation, checkpoints), seconds; summed over resumed sessions. */
  wallSeconds: number;
  bestValAcc: number | null;
  bestEpoch: number | null;
  testAcc: number | null;
  /** Training accuracy of the last epoch (running, with augmentation and dropout). */
  finalTrainAcc: number;
  /** finalTrainAcc - testAcc: the overfitting figure. */
  gap: number | null;
  metrics: EpochMetrics[];
}

/** What DIR/compare-config.json records so that a later invocation continues the same comparison. */
export interface CompareState {
  version: 1;
  data: string;
  recipe: Recipe;
  epochs: number | null;
  minutes: number | null;
  /** Epoch count of each architecture (fixed, or chosen from the timing under --minutes). */
  epochsByArch: Record<string, number>;
  /** How each --minutes epoch count was chosen. */
  timing: Record<string, { secondsPerEpoch: number; trainImgPerS: number; inferImgPerS: number }>;
  archs: string[];
  seeds: number[];
}

const STATE_FILE = 'compare-config.json';
const RUN_FILE = 'compare-run.json';

interface RunFile {
  wall_s: number;
  finished: boolean;
  params: number;
  macs: number;
}

export function runDir(out: string, arch: string, seed: number): string {
  return path.join(out, canonicalArch(arch), `seed-${seed}`);
}

/** The recipe with every default filled in (the paper's), so that two invocations compare equal. */
export function fullRecipe(r: Partial<Recipe> = {}): Recipe {
  const { dropout: _d, seed: _s, epochs: _e, ...base } = PAPER_DEFAULTS;
  const out: Recipe = { ...base, ...r, augment: { ...base.augment, ...(r.augment ?? {}) } };
  if (r.dropout === undefined) delete out.dropout;
  return out;
}

function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v).filter((k) => (v as Record<string, unknown>)[k] !== undefined).sort()
      .map((k) => `${JSON.stringify(k)}:${stableJson((v as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

/** Which recipe settings changed between the saved comparison and this invocation (empty: none). */
function recipeDiff(a: CompareState, b: Pick<CompareState, 'data' | 'recipe' | 'epochs' | 'minutes'>): string[] {
  const diffs: string[] = [];
  if (a.data !== b.data) diffs.push(`data: ${a.data} -> ${b.data}`);
  if (a.epochs !== b.epochs) diffs.push(`epochs: ${a.epochs ?? '-'} -> ${b.epochs ?? '-'}`);
  if (a.minutes !== b.minutes) diffs.push(`minutes: ${a.minutes ?? '-'} -> ${b.minutes ?? '-'}`);
  // How a run executes (backend, workers) may change between sessions; what it computes may not.
  const ignore = new Set(['backend', 'workers']);
  const keys = new Set([...Object.keys(a.recipe), ...Object.keys(b.recipe)]);
  for (const k of [...keys].sort()) {
    if (ignore.has(k)) continue;
    const x = stableJson((a.recipe as unknown as Record<string, unknown>)[k]);
    const y = stableJson((b.recipe as unknown as Record<string, unknown>)[k]);
    if (x !== y) diffs.push(`${k}: ${x ?? 'default'} -> ${y ?? 'default'}`);
  }
  return diffs;
}

/** The TrainConfig of one run. */
export function runConfig(state: CompareState, arch: string, seed: number, out: string): TrainConfig {
  const isWrn = parseArch(arch).family === 'wrn';
  const { dropout, ...rest } = state.recipe;
  return {
    ...rest,
    arch,
    data: state.data,
    seed,
    epochs: state.epochsByArch[canonicalArch(arch)]!,
    dropout: isWrn ? (dropout ?? PAPER_DEFAULTS.dropout) : 0,
    out: runDir(out, arch, seed),
  };
}

function readJson<T>(file: string): T | null {
  if (!existsSync(file)) return null;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch {
    return null;
  }
}

function readMetricsFile(dir: string): EpochMetrics[] {
  const file = path.join(dir, 'metrics.jsonl');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as EpochMetrics);
}

/** A run is finished when the trainer wrote test.json, or (data without a test split) compare marked it finished. */
export function isFinished(dir: string): boolean {
  return existsSync(path.join(dir, 'test.json')) || readJson<RunFile>(path.join(dir, RUN_FILE))?.finished === true;
}

/** Parameters and MACs of the trained network (its shapes from the run's weights metadata). */
function countsOf(dir: string, arch: string): { params: number; macs: number } {
  const saved = readJson<RunFile>(path.join(dir, RUN_FILE));
  if (saved && saved.params > 0) return { params: saved.params, macs: saved.macs };
  const weights = path.join(dir, 'last.safetensors');
  let shape = { classes: 10, inChannels: 3, inputSize: 32 };
  if (existsSync(weights)) {
    const f = openSafetensors(weights);
    try {
      const m = f.metadata;
      shape = { classes: Number(m.classes) || 10, inChannels: Number(m.in_channels) || 3, inputSize: Number(m.input_size) || 32 };
    } finally {
      f.close();
    }
  }
  const c = countArch(arch, shape);
  return { params: c.params, macs: c.macs };
}

/** Reads a run's results back from its directory (metrics.jsonl, test.json, compare-run.json). */
export function summarizeRun(out: string, arch: string, seed: number): RunSummary {
  const dir = runDir(out, arch, seed);
  const metrics = readMetricsFile(dir);
  if (metrics.length === 0) throw new Error(`${dir}: no metrics.jsonl rows (the run has not finished an epoch)`);
  const test = readJson<{ best_epoch: number | null; test_acc: number }>(path.join(dir, 'test.json'));
  const run = readJson<RunFile>(path.join(dir, RUN_FILE));
  const vals = metrics.filter((m) => m.val_acc !== null && m.val_acc !== undefined);
  let best: EpochMetrics | null = null;
  for (const m of vals) if (!best || (m.val_acc as number) > (best.val_acc as number)) best = m;
  const last = metrics[metrics.length - 1]!;
  const testAcc = test ? test.test_acc : null;
  return {
    arch: canonicalArch(arch),
    seed,
    dir,
    epochs: metrics.length,
    ...countsOf(dir, arch),
    imgPerS: metrics.reduce((s, m) => s + m.img_per_s, 0) / metrics.length,
    wallSeconds: run?.wall_s ?? metrics.reduce((s, m) => s + m.seconds, 0),
    bestValAcc: best ? (best.val_acc as number) : null,
    bestEpoch: test?.best_epoch ?? best?.epoch ?? null,
    testAcc,
    finalTrainAcc: last.train_acc,
    gap: testAcc === null ? null : last.train_acc - testAcc,
    metrics,
  };
}

/**
 * The epoch count that fits `minutes` of wall time per run: a few synthetic training and inference steps of the
 * architecture at the run's batch size and backend give seconds per image; one epoch costs the training images at the
 * training rate plus the validation images at the inference rate (+10% for data loading, checkpoints and plots), the
 * final test evaluation is subtracted once. At least 1 epoch. The learning-rate schedule then completes.
 */
export async function epochsForMinutes(
  arch: string, minutes: number, data: string, recipe: Recipe,
  measureFn: Measurer = measureThroughput,
): Promise<{ epochs: number; secondsPerEpoch: number; trainImgPerS: number; inferImgPerS: number }> {
  const splits = await loadSplits({ ...recipe, data, seed: 0 });
  const [nTrain, c, h] = splits.train.shape;
  const nVal = splits.val?.shape[0] ?? 0;
  const nTest = splits.test?.shape[0] ?? 0;
  const t = measureFn(arch, {
    inputSize: h, inChannels: c, classes: splits.classes.length, batch: Math.min(recipe.batch, nTrain),
    backend: recipe.backend, precision: recipe.precision, seconds: 1, maxSteps: 10,
  });
  const secondsPerEpoch = 1.1 * (nTrain / t.trainImgPerS + nVal / t.inferImgPerS);
  const testSeconds = (2 * nTest) / t.inferImgPerS;
  const epochs = Math.max(1, Math.floor((minutes * 60 - testSeconds) / secondsPerEpoch));
  return { epochs, secondsPerEpoch, trainImgPerS: t.trainImgPerS, inferImgPerS: t.inferImgPerS };
}

/** Loads DIR/compare-config.json or starts it; refuses a changed recipe for an existing comparison. */
async function prepareState(o: CompareOptions, recipe: Recipe): Promise<CompareState> {
  const file = path.join(o.out, STATE_FILE);
  const archs = o.archs.map(canonicalArch);
  const want = { data: o.data, recipe, epochs: o.epochs ?? null, minutes: o.minutes ?? null };
  let state = readJson<CompareState>(file);
  if (existsSync(file) && !state) throw new Error(`${file}: not valid JSON (delete it or choose another --out)`);
  if (state) {
    const diffs = recipeDiff(state, want);
    if (diffs.length) {
      throw new Error(`${o.out}: this comparison was started with another recipe (${diffs.join('; ')}); ` +
        'pass the same settings to continue it, or choose another --out');
    }
  } else {
    state = { version: 1, ...want, epochsByArch: {}, timing: {}, archs: [], seeds: [] };
  }
  for (const a of archs) {
    if (state.epochsByArch[a] !== undefined) continue;
    if (o.epochs !== undefined) {
      state.epochsByArch[a] = o.epochs;
    } else {
      const t = await epochsForMinutes(a, o.minutes!, o.data, recipe, o.measureFn ?? measureThroughput);
      state.epochsByArch[a] = t.epochs;
      state.timing[a] = { secondsPerEpoch: t.secondsPerEpoch, trainImgPerS: t.trainImgPerS, inferImgPerS: t.inferImgPerS };
      o.events?.info?.(`${a}: about ${t.secondsPerEpoch.toFixed(1)} s per epoch (timed ${t.trainImgPerS.toFixed(1)} train img/s, ` +
        `${t.inferImgPerS.toFixed(1)} inference img/s) -> ${t.epochs} epoch${t.epochs === 1 ? '' : 's'} in ${o.minutes} min`);
    }
  }
  state.archs = [...new Set([...state.archs, ...archs])];
  state.seeds = [...new Set([...state.seeds, ...o.seeds])];
  mkdirSync(o.out, { recursive: true });
  writeJsonAtomic(file, state);
  return state;
}

/**
 * Trains every architecture x seed with one recipe (same data split: the validation hold-out is seeded
 * independently of the run seed) into DIR/<arch>/seed-<s>/, skipping finished runs and resuming interrupted ones
 * from their checkpoint. Returns the summaries of the requested runs, in order (arch-major).
 */
export async function runCompare(o: CompareOptions): Promise<{ state: CompareState; runs: RunSummary[] }> {
  if (o.archs.length === 0) throw new Error('--archs: give at least one architecture');
  if (o.seeds.length === 0) throw new Error('--seeds: give at least one seed');
  if ((o.epochs === undefined) === (o.minutes === undefined)) throw new Error('give exactly one of --epochs N and --minutes M');
  for (const a of o.archs) {
    if (parseArch(a).family === 'imagenet') throw new Error(`--archs: ${a} is an ImageNet network; compare trains CIFAR-style nets`);
    try {
      countArch(a);
    } catch (e) {
      throw new Error(`--archs: ${(e as Error).message}`);
    }
  }
  const dup = o.archs.map(canonicalArch).find((a, i, all) => all.indexOf(a) !== i);
  if (dup) throw new Error(`--archs: ${dup} is listed twice`);
  const recipe = fullRecipe(o.recipe);
  const state = await prepareState(o, recipe);
  const ev = o.events ?? {};
  const jobs = o.archs.flatMap((arch) => o.seeds.map((seed) => ({ arch: canonicalArch(arch), seed })));
  const runs: RunSummary[] = [];
  let backendShown = false;
  for (const [i, { arch, seed }] of jobs.entries()) {
    const cfg = runConfig(state, arch, seed, o.out);
    const dir = cfg.out;
    if (isFinished(dir)) {
      ev.runSkip?.({ arch, seed, index: i + 1, total: jobs.length, dir });
    } else {
      const resume = existsSync(path.join(dir, 'checkpoint.safetensors'));
      ev.runStart?.({ arch, seed, index: i + 1, total: jobs.length, resumed: resume, epochs: cfg.epochs, dir });
      mkdirSync(dir, { recursive: true });
      const runFile = path.join(dir, RUN_FILE);
      const prevWall = resume ? (readJson<RunFile>(runFile)?.wall_s ?? 0) : 0;
      const start = performance.now();
      let counts = { params: 0, macs: 0 };
      const save = (finished: boolean) => writeJsonAtomic(runFile, {
        wall_s: prevWall + (performance.now() - start) / 1000, finished, ...counts,
      } satisfies RunFile);
      const result = await train(cfg, {
        ...ev.train,
        info: (line) => {
          if (line.startsWith('backend:')) {
            if (backendShown) return;
            backendShown = true;
          }
          ev.info?.(line);
        },
        epochEnd: (m) => {
          save(false);
          ev.epochEnd?.({ arch, seed, epochs: cfg.epochs }, m);
        },
      }, resume);
      const c = countArch(arch, { classes: result.meta.classes, inChannels: result.meta.inChannels, inputSize: result.meta.inputSize });
      counts = { params: c.params, macs: c.macs };
      save(true);
    }
    const s = summarizeRun(o.out, arch, seed);
    runs.push(s);
    ev.runEnd?.(s);
  }
  return { state, runs };
}
