/**
 * `mpirun -np N wrn bench --mode train`: data-parallel training steps on random data. The global
 * batch is split over the ranks (each rank its own random images); img/s is the global batch over the
 * median step time, and each step reports the seconds the communication thread spent in
 * MPI_Allreduce and the part the training thread waited for after backward (not overlapped).
 */
import type { Precision } from '../backend/backend.js';
import { median, resolveBackend, type BenchOptions, type BenchResult } from '../bench/bench.js';
import { setBackend } from '../core/engine.js';
import { Rng } from '../core/random.js';
import { createModel, defaultInputSize } from '../models/registry.js';
import { SGD } from '../optim/sgd.js';
import { DEFAULT_BUCKET_BYTES, GradientSync } from './gradientSync.js';
import { broadcastModel } from './replicate.js';
import { trainStepDistributed } from './step.js';
import { AgreedError, checkGlobalBatch, type World } from './world.js';

export interface DistributedBenchResult extends BenchResult {
  world_size: number;
  local_batch: number;
  buckets: number;
  gradient_mb: number;
  /** Median per step: seconds inside MPI_Allreduce (all buckets) and seconds waited after backward. */
  allreduce_ms_median: number;
  allreduce_wait_ms_median: number;
}

export async function runBenchDistributed(world: World, o: BenchOptions & { bucketBytes?: number }): Promise<DistributedBenchResult> {
  const batch = o.batch ?? 128;
  const requested = o.precision ?? 'fp32';
  if (requested === 'int8') throw new AgreedError('bench under mpirun measures data-parallel training, which int8 (an inference path) does not do');
  const precision: Precision = requested;
  const steps = o.steps ?? 10;
  const warmup = o.warmup ?? 2;
  if ((o.mode ?? 'train') !== 'train') throw new AgreedError('bench under mpirun measures data-parallel training: use --mode train');
  checkGlobalBatch(world, batch);
  const local = batch / world.size;
  const backend = resolveBackend(o.backend, precision);
  setBackend(backend);
  const inChannels = o.inChannels ?? 3;
  const size = o.size ?? defaultInputSize(o.arch);
  const classes = o.classes ?? 10;
  const r = new Rng((o.seed ?? 0) + 7919 * world.rank);
  const shape = [local, inChannels, size, size];
  const x = Float32Array.from({ length: local * inChannels * size * size }, () => r.normal());
  const labels = Int32Array.from({ length: local }, () => r.int(classes));
  const model = createModel(o.arch, { classes, inChannels, dropout: 0, seed: o.seed ?? 0 });
  const params = model.namedParameters();
  const opt = new SGD(params, { lr: 0.01, momentum: 0.9, nesterov: true, weightDecay: 5e-4 });
  const grads = new GradientSync(world, params, o.bucketBytes ?? DEFAULT_BUCKET_BYTES);
  broadcastModel(world, model);
  const times: number[] = [];
  const comm: number[] = [];
  const wait: number[] = [];
  try {
    world.barrier();
    for (let i = 0; i < warmup + steps; i++) {
      const t0 = performance.now();
      const s = await trainStepDistributed(model, opt, { x, labels, shape }, { world, grads, syncBn: null });
      const ms = performance.now() - t0;
      if (i >= warmup) {
        times.push(ms);
        comm.push((s.comm?.allreduceSeconds ?? 0) * 1000);
        wait.push((s.comm?.waitSeconds ?? 0) * 1000);
      }
      o.onStep?.(i, ms);
    }
  } finally {
    opt.dispose();
    model.dispose();
  }
  // Every rank reports rank 0's view of the slowest step time (steps are synchronised by the allreduces).
  const med = world.allreduce(new Float64Array([median(times)]), 'max')[0];
  return {
    arch: o.arch, mode: 'train', precision, batch, backend: backend.describe(),
    img_per_s: (batch * 1000) / med, step_ms_median: med, step_ms_min: Math.min(...times), step_ms_max: Math.max(...times),
    steps, warmup, peak_rss_mb: process.resourceUsage().maxRSS / 1024, rss_mb: process.memoryUsage().rss / (1024 * 1024),
    params: params.reduce((n, [, p]) => n + p.size, 0), input: [batch, inChannels, size, size],
    world_size: world.size, local_batch: local, buckets: grads.bucketCount, gradient_mb: grads.bytes / 1048576,
    allreduce_ms_median: median(comm), allreduce_wait_ms_median: median(wait),
  };
}
