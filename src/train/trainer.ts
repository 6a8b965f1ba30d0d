import { appendFileSync, mkdirSync, writeFileSync, renameSync, existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Activation, Precision } from '../backend/backend.js';
import { selectBackend, type BackendChoice } from '../backend/select.js';
import { setBackend } from '../core/engine.js';
import { Rng } from '../core/random.js';
import { createModel, defaultInputSize } from '../models/registry.js';
import type { Network } from '../models/network.js';
import { learningRate, type ScheduleName } from '../optim/schedule.js';
import { SGD } from '../optim/sgd.js';
import { plotTrainingCurves } from '../report/plots.js';
import type { EpochMetrics } from '../report/metrics.js';
import type { DataLoader } from '../data/loader.js';
import { epochBatches, loadSplits, trainLoader, type Augment } from './batches.js';
import { CHECKPOINT_FILE, parseCheckpoint, readCheckpointBytes, saveCheckpoint, type LoadedCheckpoint, type TrainState } from './checkpoint.js';
import { evalBatches, evaluateBatches, type EvalResult } from '../inference/evaluate.js';
import type { ModelMeta } from '../inference/modelMeta.js';
import { initFromWeights } from './init.js';
import { evaluateSharded } from '../distributed/evaluate.js';
import { DEFAULT_BUCKET_BYTES, GradientSync } from '../distributed/gradientSync.js';
import { averageRunningStats, broadcastModel, checkAgreement } from '../distributed/replicate.js';
import { trainStepDistributed, type DataParallel } from '../distributed/step.js';
import { useSyncBatchNorm } from '../distributed/syncBatchNorm.js';
import { AgreedError, checkGlobalBatch, type World } from '../distributed/world.js';
import type { DatasetSplits } from '../data/dataset.js';
import { trainStep } from './step.js';
import { readWeights, saveWeights } from '../inference/weights.js';

export interface TrainConfig {
  arch: string;
  data: string;
  epochs: number;
  batch: number;
  lr: number;
  schedule: ScheduleName;
  warmup: number;
  momentum: number;
  nesterov: boolean;
  wd: number;
  dropout: number;
  labelSmoothing: number;
  activation: Activation;
  /** Train on the first N training images (0: all). */
  limit: number;
  /** Evaluate on at most the first N validation/test images (0: all). */
  evalLimit: number;
  seed: number;
  valSize: number;
  augment: Augment;
  precision: Precision;
  backend: BackendChoice;
  workers: number;
  /** Image folders: decoded size (0: 32) and channels (0: RGB). */
  imageSize: number;
  channels: number;
  /** Fine-tuning: start from these weights (safetensors or .pth); '' for a fresh init. */
  init: string;
  /** Fine-tuning: the stem and the first K stages frozen (weights, BN statistics, dropout); 0: none. */
  freezeStages: number;
  /** Fine-tuning: learning-rate multiplier of the classifier. */
  headLrMult: number;
  out: string;
  /** Data-parallel runs: batch-norm statistics over the global batch (allreduced), not each rank's. */
  syncBn: boolean;
}

/** The paper's recipe (Zagoruyko & Komodakis 2016, CIFAR): SGD Nesterov 0.9, lr 0.1 x0.2 at 30/60/80%, wd 5e-4, batch 128. */
export const PAPER_DEFAULTS: Omit<TrainConfig, 'arch' | 'data' | 'out'> = {
  epochs: 200, batch: 128, lr: 0.1, schedule: 'paper', warmup: 0, momentum: 0.9, nesterov: true, wd: 5e-4,
  dropout: 0.3, labelSmoothing: 0, activation: 'relu', limit: 0, evalLimit: 0, seed: 0, valSize: 5000,
  augment: { crop: 4, padMode: 'reflect', flip: true, cutout: 0 }, precision: 'fp32', backend: 'auto', workers: 1,
  imageSize: 0, channels: 0, init: '', freezeStages: 0, headLrMult: 1, syncBn: false,
};

export interface TrainEvents {
  /** Called at start with the backend line and data description. */
  info?(line: string): void;
  epochStart?(epoch: number, batches: number, lr: number): void;
  batchEnd?(info: { batch: number; batches: number; loss: number; acc: number; lr: number; imgPerS: number }): void;
  epochEnd?(m: EpochMetrics): void;
  /** Called after every optimizer step with the live model (callbacks: probes, custom logging, tests). */
  afterStep?(info: { epoch: number; batch: number; model: Network }): void;
}

export interface TrainResult {
  out: string;
  metrics: EpochMetrics[];
  best: TrainState['best'];
  test: EvalResult | null;
  testOfLast: EvalResult | null;
  meta: ModelMeta;
}

export class DivergedError extends Error {
  override readonly name = 'DivergedError';
}

const METRICS = 'metrics.jsonl';

/**
 * Trains a network with the paper's recipe (or the given schedule), evaluating on the validation
 * split after every epoch and on the test split at the end (with the best-by-validation weights).
 * Writes DIR/metrics.jsonl, DIR/curves.{svg,png}, DIR/best.safetensors, DIR/last.safetensors and an
 * atomic DIR/checkpoint.safetensors every epoch; `resume` continues a killed run bit-exactly.
 */
export async function train(
  cfg: TrainConfig, events: TrainEvents = {}, resume = false, world: World | null = null,
  opts: { bucketBytes?: number } = {},
): Promise<TrainResult> {
  // A data-parallel run has one writer: rank 0 owns the run directory.
  const writer = !world || world.isRoot;
  if (world) checkGlobalBatch(world, cfg.batch);
  if (writer) mkdirSync(cfg.out, { recursive: true });
  const ckpt = resume ? loadCheckpoint(cfg.out, world) : null;
  const { backend, notice } = selectBackend(cfg.backend, cfg.precision);
  setBackend(backend);
  events.info?.(notice);

  const data = await loadSplits(cfg);
  const [, c, h] = data.train.shape;
  events.info?.(`data: ${data.name} (${data.source}): ${data.train.shape[0]} train, ${data.val?.shape[0] ?? 0} val, ` +
    `${data.test?.shape[0] ?? 0} test images of ${c}x${h}x${data.train.shape[3]}, ${data.classes.length} classes`);
  const meta: ModelMeta = {
    arch: cfg.arch, classes: data.classes.length, inChannels: c, inputSize: h, mean: data.stats.mean, std: data.stats.std,
    labels: data.classes, activation: cfg.activation, dropout: cfg.dropout, dataset: data.name,
  };
  if (world) checkAgreement(world, { ...fingerprint(cfg, data, backend.name, backendIsa(backend)), bucketBytes: opts.bucketBytes ?? DEFAULT_BUCKET_BYTES });
  const rng = new Rng(cfg.seed);
  const model = createModel(cfg.arch, { classes: meta.classes, inChannels: c, dropout: cfg.dropout, activation: cfg.activation, rng });
  // Dropout masks: rank 0 continues the single-process stream, other ranks get their own (seed, rank).
  if (world && world.rank > 0) rng.restore(new Rng((cfg.seed ^ Math.imul(world.rank, 0x9e3779b9)) >>> 0).state);
  meta.arch = model.config.arch;
  if (h !== defaultInputSize(cfg.arch) && model.config.arch.startsWith('wide-resnet')) {
    events.info?.(`note: ${meta.arch} is an ImageNet network; training it on ${h}x${h} images`);
  }
  if (cfg.init && !ckpt) {
    const init = await initFromWeights(model, cfg.init, meta.labels);
    for (const line of init.notes) events.info?.(line);
    if (init.normalization) Object.assign(meta, init.normalization);
  } else if (ckpt?.meta.mean && ckpt.meta.std) {
    // A resumed run normalises as it started (the data's statistics, or the --init weights').
    Object.assign(meta, { mean: ckpt.meta.mean, std: ckpt.meta.std });
  }
  applyFreeze(model, cfg, events);
  const params = model.namedParameters();
  const heads = new Map(model.fc.namedParameters('fc').map(([k]) => [k, cfg.headLrMult]));
  const opt = new SGD(params, { lr: cfg.lr, momentum: cfg.momentum, nesterov: cfg.nesterov, weightDecay: cfg.wd, lrMultipliers: heads });
  let state: TrainState = { epoch: 0, step: 0, rng: rng.state, best: null };
  const metrics: EpochMetrics[] = [];

  if (ckpt) {
    model.loadStateDict(ckpt.model, ckpt.file);
    opt.loadState({ steps: ckpt.optimizerSteps, momentum: ckpt.momentum }, ckpt.file);
    state = ckpt.state;
    rng.restore(rankRngState(ckpt, world));
    if (writer) {
      metrics.push(...readMetrics(cfg.out).filter((m) => m.epoch <= state.epoch));
      rewriteMetrics(cfg.out, metrics);
    }
    events.info?.(`resuming ${cfg.out} after epoch ${state.epoch} (step ${state.step})`);
  } else {
    // Every rank starts from rank 0's weights (identical by construction here; cheap insurance).
    if (world) broadcastModel(world, model);
    if (writer) {
      writeJsonAtomic(path.join(cfg.out, 'config.json'), cfg);
      rewriteMetrics(cfg.out, []);
    }
  }

  const loader = trainLoader(data.train, cfg, meta, world ? { rank: world.rank, size: world.size } : undefined);
  const dp: DataParallel | null = world
    ? { world, grads: new GradientSync(world, params, opts.bucketBytes ?? DEFAULT_BUCKET_BYTES), syncBn: cfg.syncBn ? useSyncBatchNorm(model, world) : null }
    : null;
  const evaluate = (ds: NonNullable<DatasetSplits['val']>, split: string): Promise<EvalResult> =>
    (world ? Promise.resolve(evaluateSharded(world, model, ds, meta, cfg, split)) : evaluateBatches(model, evalBatches(ds, meta, cfg)));
  try {
    for (let epoch = state.epoch; epoch < cfg.epochs; epoch++) {
      const m = await runEpoch(cfg, model, opt, loader, epoch, events, dp);
      if (!Number.isFinite(m.train_loss)) {
        throw new DivergedError(`training diverged: the loss became ${m.train_loss} in epoch ${epoch + 1}; ` +
          `the last good checkpoint (after epoch ${state.epoch}) is intact in ${path.join(cfg.out, 'checkpoint.safetensors')}. ` +
          'Try a lower --lr or a --warmup.');
      }
      // Every rank and every checkpoint hold the same model: per-rank running statistics are averaged.
      if (world && !cfg.syncBn) averageRunningStats(world, model);
      state = { ...state, epoch: epoch + 1, step: state.step + m.steps, rng: rng.state };
      if (world) {
        state.worldSize = world.size;
        state.rankRngs = world.allgather(rng.state).map((r) => Array.from(r));
      }
      const row: EpochMetrics = m.row;
      if (data.val) {
        const v = await evaluate(data.val, 'val');
        row.val_loss = v.loss;
        row.val_acc = v.accuracy;
      }
      metrics.push(row);
      // Best = highest validation accuracy, ties broken by the lower validation loss.
      const improved = !data.val || !state.best || (row.val_acc ?? 0) > state.best.valAcc ||
        ((row.val_acc ?? 0) === state.best.valAcc && (row.val_loss ?? Infinity) < state.best.valLoss);
      if (improved) state.best = { epoch: epoch + 1, valAcc: row.val_acc ?? NaN, valLoss: row.val_loss ?? NaN };
      if (!writer) continue;
      appendFileSync(path.join(cfg.out, METRICS), `${JSON.stringify(row)}\n`);
      saveWeights(path.join(cfg.out, 'last.safetensors'), model, meta);
      if (improved) saveWeights(path.join(cfg.out, 'best.safetensors'), model, meta);
      saveCheckpoint(cfg.out, model, opt, meta, state, cfg);
      await plotTrainingCurves(metrics, path.join(cfg.out, 'curves'), `${meta.arch} on ${data.name}`).catch((e: unknown) => {
        events.info?.(`warning: could not draw the training curves: ${(e as Error).message}`);
      });
      events.epochEnd?.(row);
    }

    // Test accuracy of the weights chosen on validation (model selection never looks at test).
    let test: EvalResult | null = null;
    let testOfLast: EvalResult | null = null;
    if (data.test) {
      testOfLast = await evaluate(data.test, 'test');
      if (data.val && state.best && state.best.epoch !== cfg.epochs) {
        if (writer) model.loadStateDict(readWeights(path.join(cfg.out, 'best.safetensors')).tensors);
        if (world) broadcastModel(world, model);
        test = await evaluate(data.test, 'test');
      } else {
        test = testOfLast;
      }
      if (writer) writeJsonAtomic(path.join(cfg.out, 'test.json'), {
        best_epoch: state.best?.epoch ?? null, test_acc: test.accuracy, test_loss: test.loss,
        last_test_acc: testOfLast.accuracy, last_test_loss: testOfLast.loss, per_class: test.perClass, confusion: test.confusion,
      });
    }
    return { out: cfg.out, metrics, best: state.best, test, testOfLast, meta };
  } finally {
    await loader.close();
    opt.dispose();
    model.dispose();
  }
}

/** --freeze-stages K: the stem and the first K stages frozen (K = all stages: only the classifier trains). */
function applyFreeze(model: Network, cfg: TrainConfig, events: TrainEvents): void {
  if (cfg.freezeStages === 0) return;
  const stages = model.stageNames();
  if (!Number.isInteger(cfg.freezeStages) || cfg.freezeStages < 0 || cfg.freezeStages > stages.length) {
    throw new Error(`--freeze-stages ${cfg.freezeStages}: ${model.config.arch} has ${stages.length} stages (${stages.join(', ')}), expected 0..${stages.length}`);
  }
  model.freeze({ trainableStages: stages.length - cfg.freezeStages });
  const trainable = model.trainableParameters().reduce((s, [, p]) => s + p.size, 0);
  events.info?.(`frozen: the stem and ${stages.slice(0, cfg.freezeStages).join(', ')} (batch norm in eval mode); ` +
    `${trainable.toLocaleString('en-US')} of ${model.numParameters().toLocaleString('en-US')} parameters train`);
}

interface EpochOutcome {
  row: EpochMetrics;
  steps: number;
  train_loss: number;
}

async function runEpoch(
  cfg: TrainConfig, model: Network, opt: SGD, loader: DataLoader, epoch: number, events: TrainEvents, dp: DataParallel | null,
): Promise<EpochOutcome> {
  const nb = loader.batchesPerEpoch;
  const start = performance.now();
  let lossSum = 0;
  let correct = 0;
  let seen = 0;
  let b = 0;
  let commSeconds = 0;
  let waitSeconds = 0;
  events.epochStart?.(epoch, nb, learningRate(scheduleOf(cfg), epoch));
  for await (const batch of epochBatches(loader, epoch)) {
    const lr = learningRate(scheduleOf(cfg), epoch + b / nb);
    opt.lr = lr;
    let r: { loss: number; correct: number };
    let n = batch.labels.length;
    if (dp) {
      const d = await trainStepDistributed(model, opt, batch, dp, cfg.labelSmoothing);
      r = d;
      n = d.images;
      commSeconds += d.comm?.allreduceSeconds ?? 0;
      waitSeconds += d.comm?.waitSeconds ?? 0;
    } else {
      r = trainStep(model, opt, batch, cfg.labelSmoothing);
    }
    events.afterStep?.({ epoch, batch: b, model });
    if (!Number.isFinite(r.loss)) {
      return { row: emptyRow(epoch, lr), steps: b, train_loss: r.loss };
    }
    lossSum += r.loss * n;
    correct += r.correct;
    seen += n;
    b++;
    const secs = (performance.now() - start) / 1000;
    // Prefetched batches resolve as microtasks; give timers (the progress bar) and worker messages a turn.
    await new Promise<void>((resolve) => setImmediate(resolve));
    events.batchEnd?.({ batch: b, batches: nb, loss: lossSum / seen, acc: correct / seen, lr, imgPerS: seen / secs });
  }
  const seconds = (performance.now() - start) / 1000;
  const row: EpochMetrics = {
    epoch: epoch + 1, lr: learningRate(scheduleOf(cfg), epoch), train_loss: lossSum / seen, train_acc: correct / seen,
    val_loss: null, val_acc: null, seconds, img_per_s: seen / seconds,
    ...(dp ? { world_size: dp.world.size, allreduce_s_per_step: commSeconds / Math.max(1, b), allreduce_wait_s_per_step: waitSeconds / Math.max(1, b) } : {}),
  };
  return { row, steps: b, train_loss: row.train_loss };
}

function emptyRow(epoch: number, lr: number): EpochMetrics {
  return { epoch: epoch + 1, lr, train_loss: NaN, train_acc: NaN, val_loss: null, val_acc: null, seconds: 0, img_per_s: 0 };
}

function scheduleOf(cfg: TrainConfig) {
  return { name: cfg.schedule, lr: cfg.lr, epochs: cfg.epochs, warmupEpochs: cfg.warmup };
}

function readMetrics(dir: string): EpochMetrics[] {
  const file = path.join(dir, METRICS);
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as EpochMetrics);
}

function rewriteMetrics(dir: string, rows: EpochMetrics[]): void {
  const file = path.join(dir, METRICS);
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, rows.map((r) => `${JSON.stringify(r)}\n`).join(''));
  renameSync(tmp, file);
}

export function writeJsonAtomic(file: string, value: unknown): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`);
  renameSync(tmp, file);
}

/** Rank 0 reads the checkpoint and every rank parses the same bytes (other machines need not see the run directory). */
function loadCheckpoint(dir: string, world: World | null): LoadedCheckpoint {
  const file = path.join(dir, CHECKPOINT_FILE);
  if (!world) return parseCheckpoint(readCheckpointBytes(dir), file);
  const ckpt = parseCheckpoint(world.fromRoot(() => readCheckpointBytes(dir)), file);
  const wrote = ckpt.state.worldSize ?? 1;
  if (wrote !== world.size) {
    // Weights, momentum and the data order would carry over, but each rank's dropout stream cannot:
    // refuse rather than silently continue a different run.
    throw new AgreedError(`${file} was written by ${wrote} rank(s); resume it with the same number (mpirun -np ${wrote}), ` +
      `since each rank's dropout random stream is part of the checkpoint`);
  }
  return ckpt;
}

function rankRngState(ckpt: LoadedCheckpoint, world: World | null): number[] {
  if (!world) return ckpt.state.rng;
  const r = ckpt.state.rankRngs?.[world.rank];
  if (!r) throw new AgreedError(`${ckpt.file}: no dropout state for rank ${world.rank}`);
  return r;
}

/** What every rank of a data-parallel run must agree on (how it runs, not where it writes). */
function fingerprint(cfg: TrainConfig, data: DatasetSplits, backend: string, isa: string): Record<string, unknown> {
  let h = 0x811c9dc5;
  for (const l of data.train.labels) h = Math.imul(h ^ l, 0x01000193) >>> 0;
  const { out: _out, workers: _workers, backend: _choice, ...recipe } = cfg;
  return {
    ...recipe,
    data: { name: data.name, train: data.train.shape, val: data.val?.shape ?? null, test: data.test?.shape ?? null, labels: h },
    backend, isa,
  };
}

/** The native backend's CPU ISA (kernels differ by ISA, so ranks must match); the TypeScript backend runs the same everywhere. */
function backendIsa(b: object): string {
  const info = (b as { info?: () => { isa: string } }).info;
  return typeof info === 'function' ? info.call(b).isa : 'any';
}
