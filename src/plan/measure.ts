import type { Precision } from '../backend/backend.js';
import type { BackendChoice } from '../backend/select.js';
import { runBench, type BenchMode } from '../bench/bench.js';

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
}

export type Measurer = (arch: string, o: MeasureOptions) => Throughput;

/**
 * Short synthetic throughput run of one architecture with src/bench's timer (random images and labels,
 * img/s = batch / median step time): one warm-up and one timed step per phase (training, inference), then,
 * when a step is short, a second run with as many steps as fit the time budget (at most `maxSteps`).
 * The numbers are indicative (no data loading or augmentation); compare architectures on the same machine.
 */
export function measureThroughput(arch: string, o: MeasureOptions): Throughput {
  const batch = o.batch ?? 32;
  const seconds = o.seconds ?? 2;
  const maxSteps = o.maxSteps ?? 20;
  const phase = (mode: BenchMode) => {
    const base = {
      arch, batch, mode, precision: o.precision ?? 'fp32', backend: o.backend ?? 'auto', warmup: 1,
      inChannels: o.inChannels, size: o.inputSize, classes: o.classes, seed: 1,
    } as const;
    const probe = runBench({ ...base, steps: 1 });
    const steps = Math.min(maxSteps, Math.floor((seconds * 1000) / Math.max(probe.step_ms_median, 1e-3)));
    return steps >= 3 ? runBench({ ...base, steps }) : probe;
  };
  const tr = phase('train');
  const inf = phase('infer');
  return { trainImgPerS: tr.img_per_s, inferImgPerS: inf.img_per_s, batch, trainSteps: tr.steps, inferSteps: inf.steps, backend: tr.backend };
}
