/**
 * Memory check: many training steps of a small model on one backend, sampling the process RSS and
 * (native) the addon's allocator. A backend that frees everything deterministically reaches a steady
 * state after the first steps: no new OS allocations, constant live handles, flat RSS.
 *
 * Run: node dist/src/bench/memcheck.js [steps=1000] [arch=wrn-10-1] [batch=8] [size=16] [precision=fp32]
 * (prints one JSON line; test/backend/native-memory.test.ts runs it with OMP_NUM_THREADS=1).
 */
import { fileURLToPath } from 'node:url';
import type { Precision } from '../backend/backend.js';
import { selectBackend } from '../backend/select.js';
import { NativeBackend, type NativeMemoryStats } from '../backend/native/index.js';
import { setBackend } from '../core/engine.js';
import { Rng } from '../core/random.js';
import { createModel } from '../models/registry.js';
import { SGD } from '../optim/sgd.js';
import { trainStep } from '../train/step.js';

export interface MemSample {
  step: number;
  rss_mb: number;
  heap_mb: number;
  native: NativeMemoryStats | null;
}

export interface MemCheckResult {
  backend: string;
  steps: number;
  samples: MemSample[];
  /** RSS after the last step minus RSS after the warm-up steps (MiB). */
  rss_growth_mb: number;
  /** OS allocations made by the addon's pool after warm-up (0 in a steady state). */
  native_os_allocs_after_warmup: number | null;
  /** Live native handles after the last step minus after warm-up. */
  native_live_objects_growth: number | null;
}

const gc = (globalThis as { gc?: () => void }).gc;

export function runMemoryCheck(o: { steps?: number; arch?: string; batch?: number; size?: number; precision?: Precision; backend?: 'native' | 'js' | 'auto'; warmup?: number } = {}): MemCheckResult {
  const steps = o.steps ?? 1000;
  const warmup = o.warmup ?? Math.min(200, Math.floor(steps / 5));
  const batch = o.batch ?? 8;
  const size = o.size ?? 16;
  const { backend } = selectBackend(o.backend ?? 'native', o.precision ?? 'fp32');
  setBackend(backend);
  const native = backend instanceof NativeBackend ? backend : null;
  const r = new Rng(1);
  const shape = [batch, 3, size, size];
  const x = Float32Array.from({ length: batch * 3 * size * size }, () => r.normal());
  const labels = Int32Array.from({ length: batch }, () => r.int(10));
  const model = createModel(o.arch ?? 'wrn-10-1', { classes: 10, dropout: 0.3, seed: 1 });
  const opt = new SGD(model.namedParameters(), { lr: 0.01, momentum: 0.9, nesterov: true, weightDecay: 5e-4 });
  const samples: MemSample[] = [];
  const sample = (step: number) => {
    gc?.();
    samples.push({
      step,
      rss_mb: process.memoryUsage().rss / 2 ** 20,
      heap_mb: process.memoryUsage().heapUsed / 2 ** 20,
      native: native ? native.memoryStats() : null,
    });
  };
  sample(0);
  for (let i = 1; i <= steps; i++) {
    trainStep(model, opt, { x, labels, shape });
    if (i === warmup || i % Math.max(1, Math.floor(steps / 10)) === 0 || i === steps) sample(i);
  }
  opt.dispose();
  model.dispose();
  const warm = samples.find((s) => s.step === warmup) ?? samples[0];
  const last = samples[samples.length - 1];
  return {
    backend: backend.describe(),
    steps,
    samples,
    rss_growth_mb: last.rss_mb - warm.rss_mb,
    native_os_allocs_after_warmup: warm.native && last.native ? last.native.osAllocs - warm.native.osAllocs : null,
    native_live_objects_growth: warm.native && last.native ? last.native.liveObjects - warm.native.liveObjects : null,
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const [steps, arch, batch, size, precision] = process.argv.slice(2);
  const res = runMemoryCheck({
    steps: steps ? Number(steps) : undefined,
    arch: arch || undefined,
    batch: batch ? Number(batch) : undefined,
    size: size ? Number(size) : undefined,
    precision: (precision as Precision | undefined) || undefined,
  });
  console.log(JSON.stringify(res));
}
