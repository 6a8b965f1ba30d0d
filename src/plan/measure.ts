import type { Precision } from '../backend/backend.js';
import { selectBackend, type BackendChoice } from '../backend/select.js';
import { withBackend } from '../core/engine.js';
import { Rng } from '../core/random.js';
import { createModel } from '../models/registry.js';
import { SGD } from '../optim/sgd.js';
import { predictLogits, type Batch } from '../inference/predict.js';
import { trainStep } from '../train/step.js';

export interface MeasureOptions {
  inputSize: number;
  inChannels: number;
  classes: number;
  /** Images per step (default 32). */
  batch?: number;
  backend?: BackendChoice;
  precision?: Precision;
  /** Time budget of each timed phase (training, inference), seconds; at least one timed step runs (default 2). */
  seconds?: number;
  /** Most timed steps per phase (default 20). */
  maxSteps?: number;
}

export interface Throughput {
  /** Training images per second (forward + backward + SGD update, train mode). */
  trainImgPerS: number;
  /** Inference images per second (forward, eval mode). */
  inferImgPerS: number;
  batch: number;
  trainSteps: number;
  inferSteps: number;
  /** The backend's one-line description. */
  backend: string;
  /** Which timer produced the numbers: runBench (src/bench) or this module's fallback. */
  via: 'runBench' | 'plan';
}

export type Measurer = (arch: string, o: MeasureOptions) => Throughput;

function randomBatch(n: number, c: number, s: number, classes: number, rng: Rng): Batch {
  const x = new Float32Array(n * c * s * s);
  for (let i = 0; i < x.length; i++) x[i] = rng.next() * 2 - 1;
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) labels[i] = Math.floor(rng.next() * classes) % classes;
  return { x, labels, shape: [n, c, s, s] };
}

/** Runs `step` once untimed (warm-up: allocation, kernel selection), then repeatedly until the time budget. */
function timeSteps(step: () => void, seconds: number, maxSteps: number): { steps: number; secs: number } {
  step();
  const start = performance.now();
  let steps = 0;
  while (steps < maxSteps) {
    step();
    steps++;
    if ((performance.now() - start) / 1000 >= seconds) break;
  }
  return { steps, secs: (performance.now() - start) / 1000 };
}

/**
 * Short synthetic throughput run of one architecture on a real backend: random images and labels, one warm-up
 * step, then timed steps for about `seconds` each for training (SGD step as the trainer does it) and inference.
 * The numbers are indicative (no data loading or augmentation); compare architectures on the same machine.
 */
export function measureThroughput(arch: string, o: MeasureOptions): Throughput {
  const batch = o.batch ?? 32;
  const seconds = o.seconds ?? 2;
  const maxSteps = o.maxSteps ?? 20;
  const { backend } = selectBackend(o.backend ?? 'auto', o.precision ?? 'fp32');
  return withBackend(backend, () => {
    const rng = new Rng(1);
    const model = createModel(arch, { classes: o.classes, inChannels: o.inChannels, rng });
    const opt = new SGD(model.namedParameters(), { lr: 0.01, momentum: 0.9, nesterov: true, weightDecay: 5e-4 });
    try {
      const b = randomBatch(batch, o.inChannels, o.inputSize, o.classes, rng);
      const tr = timeSteps(() => void trainStep(model, opt, b), seconds, maxSteps);
      const inf = timeSteps(() => void predictLogits(model, b.x, b.shape), seconds, maxSteps);
      return {
        trainImgPerS: (tr.steps * batch) / tr.secs,
        inferImgPerS: (inf.steps * batch) / inf.secs,
        batch,
        trainSteps: tr.steps,
        inferSteps: inf.steps,
        backend: backend.describe(),
        via: 'plan',
      };
    } finally {
      opt.dispose();
      model.dispose();
    }
  });
}

/** The subset of src/bench's runBench that the measurer uses (imported at run time, so plan builds without it). */
interface BenchLike {
  runBench(o: {
    arch: string; batch: number; mode: 'train' | 'infer'; precision: Precision; backend: BackendChoice; steps: number; warmup: number;
    inChannels: number; size: number; classes: number; seed: number;
  }): { img_per_s: number; step_ms_median: number; steps: number; backend: string };
}

/**
 * runBench-based measurer: one warm-up and one timed step, then, when a step is short, a second run with as many
 * steps as fit the time budget (at most `maxSteps`); img/s = batch / median step time.
 */
export function benchMeasurer(bench: BenchLike): Measurer {
  return (arch, o) => {
    const batch = o.batch ?? 32;
    const seconds = o.seconds ?? 2;
    const maxSteps = o.maxSteps ?? 20;
    const phase = (mode: 'train' | 'infer') => {
      const base = {
        arch, batch, mode, precision: o.precision ?? 'fp32', backend: o.backend ?? 'auto', warmup: 1,
        inChannels: o.inChannels, size: o.inputSize, classes: o.classes, seed: 1,
      } as const;
      const probe = bench.runBench({ ...base, steps: 1 });
      const steps = Math.min(maxSteps, Math.floor((seconds * 1000) / Math.max(probe.step_ms_median, 1e-3)));
      return steps >= 3 ? bench.runBench({ ...base, steps }) : probe;
    };
    const tr = phase('train');
    const inf = phase('infer');
    return { trainImgPerS: tr.img_per_s, inferImgPerS: inf.img_per_s, batch, trainSteps: tr.steps, inferSteps: inf.steps, backend: tr.backend, via: 'runBench' };
  };
}

/** runBench from src/bench when that module is there, else measureThroughput. */
export async function loadMeasurer(): Promise<Measurer> {
  const spec = '../bench/bench.js';
  try {
    const mod = (await import(spec)) as Partial<BenchLike>;
    if (typeof mod.runBench === 'function') return benchMeasurer(mod as BenchLike);
  } catch {
    // No bench module in this build: fall back.
  }
  return measureThroughput;
}
