/**
 * Throughput benchmark on random data: whole training steps (train-mode forward, cross-entropy,
 * backward, Nesterov SGD, everything freed) or inference forwards, on any backend and precision.
 * img/s is the batch size over the median step time after the warm-up steps.
 */
import type { Backend, Precision } from '../backend/backend.js';
import { selectBackend } from '../backend/select.js';
import { getBackend, setBackend, engine } from '../core/engine.js';
import { Rng } from '../core/random.js';
import { createModel, defaultInputSize } from '../models/registry.js';
import { SGD } from '../optim/sgd.js';
import { predictLogits } from '../inference/predict.js';
import { trainStep } from '../train/step.js';
import { buildInt8Model, defaultWeightBits, quantizeNetworkSync } from '../quant/index.js';
import type { Predictor } from '../inference/predictor.js';

export type BenchMode = 'train' | 'infer';
/** fp32/bf16 on the backend; int8: the model quantized (calibrated on random data) and run by the int8 path. */
export type BenchPrecision = Precision | 'int8';

export interface BenchOptions {
  arch: string;
  batch?: number;
  mode?: BenchMode;
  precision?: BenchPrecision;
  steps?: number;
  warmup?: number;
  /** 'js', 'native', 'auto' or a backend instance. */
  backend?: 'js' | 'native' | 'auto' | Backend;
  /** Input channels, spatial size and classes (defaults: 3, the architecture's size, 10). */
  inChannels?: number;
  size?: number;
  classes?: number;
  seed?: number;
  /** Called after every step with its index (warm-up included) and duration. */
  onStep?: (i: number, ms: number) => void;
}

export interface BenchResult {
  arch: string;
  mode: BenchMode;
  precision: BenchPrecision;
  batch: number;
  backend: string;
  /** Images per second: batch / median step time after warm-up. */
  img_per_s: number;
  step_ms_median: number;
  step_ms_min: number;
  step_ms_max: number;
  steps: number;
  warmup: number;
  /** Peak resident set size of the process so far (MiB). */
  peak_rss_mb: number;
  /** Resident set size after the last step (MiB). */
  rss_mb: number;
  params: number;
  input: number[];
}

export function median(a: number[]): number {
  const s = [...a].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function resolveBackend(b: BenchOptions['backend'], precision: Precision): Backend {
  if (b && typeof b === 'object') {
    if (b.precision !== precision) b.setPrecision(precision);
    return b;
  }
  return selectBackend(b ?? 'auto', precision).backend;
}

/** The model as the int8 path runs it: minmax-calibrated on two random batches (speed only, not accuracy). */
function int8Of(model: ReturnType<typeof createModel>, arch: string, inChannels: number, size: number, seed: number): Predictor {
  const r = new Rng(seed + 1);
  const shape = [16, inChannels, size, size];
  const calib = Array.from({ length: 2 }, () => ({ x: Float32Array.from({ length: 16 * inChannels * size * size }, () => r.normal()), labels: new Int32Array(16), shape }));
  const w = quantizeNetworkSync(model, arch, () => calib, {
    method: 'minmax', weightBits: defaultWeightBits(), calibration: { data: 'random', split: 'random', seed },
  });
  return buildInt8Model(w, { arch, classes: model.config.classes, inChannels, activation: model.config.activation }, arch);
}

export function runBench(o: BenchOptions): BenchResult {
  const batch = o.batch ?? 128;
  const mode = o.mode ?? 'train';
  const precision = o.precision ?? 'fp32';
  if (precision === 'int8' && mode !== 'infer') throw new Error('bench: --precision int8 runs inference only (--mode infer)');
  if (precision === 'int8' && o.backend !== undefined && o.backend !== 'native' && o.backend !== 'auto' && (typeof o.backend !== 'object' || o.backend.name !== 'native')) {
    throw new Error('bench: --precision int8 runs on the oneDNN (native) backend only');
  }
  const steps = o.steps ?? 10;
  const warmup = o.warmup ?? 2;
  if (!Number.isInteger(batch) || batch < 1) throw new Error(`bench: batch must be a positive integer, got ${batch}`);
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`bench: steps must be a positive integer, got ${steps}`);
  if (!Number.isInteger(warmup) || warmup < 0) throw new Error(`bench: warmup must be a non-negative integer, got ${warmup}`);
  const backend = resolveBackend(precision === 'int8' ? 'native' : o.backend, precision === 'int8' ? 'fp32' : precision);
  const previous = engine.hasBackend() ? getBackend() : null;
  setBackend(backend);
  try {
    const inChannels = o.inChannels ?? 3;
    const size = o.size ?? defaultInputSize(o.arch);
    const classes = o.classes ?? 10;
    const r = new Rng(o.seed ?? 0);
    const shape = [batch, inChannels, size, size];
    const x = new Float32Array(batch * inChannels * size * size);
    for (let i = 0; i < x.length; i++) x[i] = r.normal();
    const labels = Int32Array.from({ length: batch }, () => r.int(classes));
    const model = createModel(o.arch, { classes, inChannels, dropout: 0, seed: o.seed ?? 0 });
    const params = model.parameters().reduce((n, p) => n + p.size, 0);
    const opt = new SGD(model.namedParameters(), { lr: 0.01, momentum: 0.9, nesterov: true, weightDecay: 5e-4 });
    const times: number[] = [];
    const int8 = precision === 'int8' ? int8Of(model, o.arch, inChannels, size, o.seed ?? 0) : null;
    let describe = backend.describe();
    if (int8 && 'describe' in int8 && typeof int8.describe === 'function') describe = String(int8.describe());
    try {
      for (let i = 0; i < warmup + steps; i++) {
        const t0 = performance.now();
        if (mode === 'train') trainStep(model, opt, { x, labels, shape });
        else predictLogits(int8 ?? model, x, shape);
        const ms = performance.now() - t0;
        if (i >= warmup) times.push(ms);
        o.onStep?.(i, ms);
      }
    } finally {
      opt.dispose();
      model.dispose();
      int8?.dispose();
    }
    const med = median(times);
    return {
      arch: o.arch,
      mode,
      precision,
      batch,
      backend: describe,
      img_per_s: (batch * 1000) / med,
      step_ms_median: med,
      step_ms_min: Math.min(...times),
      step_ms_max: Math.max(...times),
      steps,
      warmup,
      peak_rss_mb: process.resourceUsage().maxRSS / 1024,
      rss_mb: process.memoryUsage().rss / (1024 * 1024),
      params,
      input: shape,
    };
  } finally {
    if (previous) setBackend(previous);
  }
}
